/* rd.h - bounds-checked big-endian reader over (buf, len).
 *
 * Every read checks the remaining length first; a short read sets ->err and returns 0, and
 * every later read on the same cursor fails too, so a parser can read a run of fields and test
 * ->err once. No pointer casts: fields are assembled byte by byte (UBSan alignment stays on). */
#ifndef QG_RD_H
#define QG_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/dstatus.h"

struct rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool err;
};

static inline void rd_init(struct rd *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = false;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->err ? 0 : r->len - r->off;
}

static inline bool rd_need(struct rd *r, size_t n)
{
    if (unlikely(r->err || r->len - r->off < n)) {
        r->err = true;
        return false;
    }
    return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return r->p[r->off++];
}

static inline uint16_t rd_be16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)((uint16_t)r->p[r->off] << 8 | r->p[r->off + 1]);
    r->off += 2;
    return v;
}

static inline uint32_t rd_be24(struct rd *r)
{
    if (!rd_need(r, 3))
        return 0;
    uint32_t v = (uint32_t)r->p[r->off] << 16 | (uint32_t)r->p[r->off + 1] << 8 | r->p[r->off + 2];
    r->off += 3;
    return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
                 (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
    r->off += 4;
    return v;
}

/* Takes n bytes as a span; on a short read the span is empty and ->err is set. */
static inline struct span rd_span(struct rd *r, size_t n)
{
    struct span s = { 0, 0 };
    if (!rd_need(r, n))
        return s;
    s.p = r->p + r->off;
    s.len = n;
    r->off += n;
    return s;
}

static inline void rd_skip(struct rd *r, size_t n)
{
    if (rd_need(r, n))
        r->off += n;
}

/* A sub-cursor over the next n bytes; the parent advances past them. */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
    struct rd s;
    struct span sp = rd_span(r, n);
    rd_init(&s, sp.p, sp.len);
    s.err = r->err;
    return s;
}

#endif
