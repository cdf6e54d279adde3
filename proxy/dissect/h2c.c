/* h2c.c - first request of an HTTP/2 prior-knowledge connection.
 *
 * RFC 9113 4.1 frame:
 *   +-----------------------------------------------+
 *   |                 Length (24)                   |
 *   +---------------+---------------+---------------+
 *   |   Type (8)    |   Flags (8)   |
 *   +-+-------------+---------------+-------------------------------+
 *   |R|                 Stream Identifier (31)                      |
 *   +=+=============================================================+
 *   |                   Frame Payload (0...)                      ...
 * HEADERS payload: [Pad Length (8)] [E + Stream Dependency (32), Weight (8)] Field Block [Padding]
 */
#include <nghttp2/nghttp2.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/dissect/h2c.h"
#include "proxy/dissect/http.h"
#include "common/rd.h"

#define H2_PREFACE_LEN   24
#define H2_HEADERS       0x1
#define H2_CONTINUATION  0x9
#define H2_F_END_HEADERS 0x4
#define H2_F_PADDED      0x8
#define H2_F_PRIORITY    0x20

/* Copies (p, n) to the output area of scratch; returns the span or an empty one if full. */
static struct span keep(uint8_t *area, size_t cap, size_t *used, const uint8_t *p, size_t n)
{
    struct span s = { NULL, 0 };
    if (n > cap - *used)
        return s;
    memcpy(area + *used, p, n);
    s.p = area + *used;
    s.len = n;
    *used += n;
    return s;
}

/* ---- every stream of a connection ------------------------------------------------------------ */

/* Arena allocator for one inflater: first fit over blocks with a header, neighbours merged as
 * the walk meets them. Allocation failure is NGHTTP2_ERR_NOMEM inside nghttp2 (-> DS_LIMIT).
 * A connection state's arena is its own; h2c_request_parse() makes one in the caller's
 * scratch, so no inflater anywhere allocates from the heap. */
struct arena {
    uint8_t *mem; /* BLK_ALIGN-aligned */
    size_t cap;   /* a multiple of BLK_ALIGN */
};

struct blk {
    size_t size; /* payload bytes */
    size_t used;
};
#define BLK_ALIGN 16
_Static_assert(_Alignof(max_align_t) >= BLK_ALIGN,
               "calloc'd connections must be BLK_ALIGN-aligned");
#define BLK_HDR ((sizeof(struct blk) + BLK_ALIGN - 1) / BLK_ALIGN * BLK_ALIGN)

struct h2c_conn {
    const void *owner;
    uint32_t id;
    uint64_t used; /* the pool's tick at its last take or find (the oldest is given away) */
    bool in_use, preface, in_block;
    uint32_t stream;
    nghttp2_hd_inflater *inf;
    nghttp2_mem mem;
    struct arena ar; /* over arena[] */
    size_t alen, plen, hlen;
    uint8_t authority[H2C_AUTHORITY_MAX], path[H2C_PATH_MAX], host[H2C_AUTHORITY_MAX];
    alignas(BLK_ALIGN) uint8_t arena[H2C_ARENA];
};

struct h2c_pool {
    struct h2c_conn *c;
    unsigned n;
    uint64_t tick;
};

/* Makes (mem, cap) one free block; false if it cannot hold a header and one unit. */
static bool arena_init(struct arena *a, uint8_t *mem, size_t cap)
{
    size_t skew = (BLK_ALIGN - (uintptr_t)mem % BLK_ALIGN) % BLK_ALIGN;
    if (cap < skew + BLK_HDR + BLK_ALIGN)
        return false;
    a->mem = mem + skew;
    a->cap = (cap - skew) / BLK_ALIGN * BLK_ALIGN;
    struct blk *b = (struct blk *)(void *)a->mem;
    b->size = a->cap - BLK_HDR;
    b->used = 0;
    return true;
}

static void *arena_malloc(size_t size, void *ud)
{
    struct arena *a = ud;
    if (size > a->cap)
        return NULL;
    size = (size + BLK_ALIGN - 1) / BLK_ALIGN * BLK_ALIGN;
    size_t off = 0;
    while (off < a->cap) {
        struct blk *b = (struct blk *)(void *)(a->mem + off);
        if (!b->used) {
            /* merge the free blocks that follow */
            size_t next = off + BLK_HDR + b->size;
            while (next < a->cap) {
                struct blk *nb = (struct blk *)(void *)(a->mem + next);
                if (nb->used)
                    break;
                b->size += BLK_HDR + nb->size;
                next = off + BLK_HDR + b->size;
            }
            if (b->size >= size) {
                if (b->size >= size + BLK_HDR + BLK_ALIGN) {
                    struct blk *rest = (struct blk *)(void *)(a->mem + off + BLK_HDR + size);
                    rest->size = b->size - size - BLK_HDR;
                    rest->used = 0;
                    b->size = size;
                }
                b->used = 1;
                return a->mem + off + BLK_HDR;
            }
        }
        off += BLK_HDR + b->size;
    }
    return NULL;
}

static void arena_free(void *ptr, void *ud)
{
    (void)ud;
    if (ptr) {
        struct blk *b = (struct blk *)(void *)((uint8_t *)ptr - BLK_HDR);
        b->used = 0;
    }
}

static void *arena_calloc(size_t nmemb, size_t size, void *ud)
{
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = arena_malloc(nmemb * size, ud);
    if (p)
        memset(p, 0, nmemb * size);
    return p;
}

static void *arena_realloc(void *ptr, size_t size, void *ud)
{
    if (!ptr)
        return arena_malloc(size, ud);
    struct blk *b = (struct blk *)(void *)((uint8_t *)ptr - BLK_HDR);
    if (b->size >= size)
        return ptr;
    void *n = arena_malloc(size, ud);
    if (n) {
        memcpy(n, ptr, b->size);
        arena_free(ptr, ud);
    }
    return n;
}

struct h2c_pool *h2c_pool_new(unsigned n)
{
    struct h2c_pool *p = calloc(1, sizeof(*p));
    if (!p || n == 0) {
        free(p);
        return NULL;
    }
    /* calloc: aligned for any type (max_align_t, static_assert below), and a large block comes
     * as zero pages not touched until a connection uses them (no start-up memset) */
    p->c = calloc(n, sizeof(struct h2c_conn));
    if (!p->c) {
        free(p);
        return NULL;
    }
    p->n = n;
    return p;
}

static void conn_end(struct h2c_conn *c)
{
    c->inf = NULL; /* its memory is the arena: nothing to free */
    c->in_use = false;
}

void h2c_pool_free(struct h2c_pool *p)
{
    if (!p)
        return;
    free(p->c);
    free(p);
}

static bool conn_start(struct h2c_conn *c, const void *owner, uint32_t id)
{
    c->owner = owner;
    c->id = id;
    c->in_use = true;
    c->preface = c->in_block = false;
    c->stream = 0;
    c->mem = (nghttp2_mem){ &c->ar, arena_malloc, arena_free, arena_calloc, arena_realloc };
    if (!arena_init(&c->ar, c->arena, sizeof(c->arena)) ||
        nghttp2_hd_inflate_new2(&c->inf, &c->mem) != 0) {
        conn_end(c);
        return false;
    }
    return true;
}

struct h2c_conn *h2c_conn_take(struct h2c_pool *p, const void *owner, uint32_t id,
                               bool (*alive)(const void *owner, uint32_t id, void *ctx), void *ctx)
{
    struct h2c_conn *free_c = NULL, *stale = NULL, *oldest = NULL;
    for (unsigned i = 0; i < p->n; i++) {
        struct h2c_conn *c = &p->c[i];
        if (c->in_use && c->owner == owner && c->id == id) {
            c->used = ++p->tick;
            return c;
        }
        if (!c->in_use && !free_c)
            free_c = c;
        if (c->in_use && (!oldest || c->used < oldest->used))
            oldest = c;
    }
    if (!free_c && alive) {
        for (unsigned i = 0; i < p->n && !stale; i++) {
            if (!alive(p->c[i].owner, p->c[i].id, ctx))
                stale = &p->c[i];
        }
        free_c = stale;
    }
    if (!free_c) /* every state held by a live connection: the one used longest ago */
        free_c = oldest;
    if (!free_c || !conn_start(free_c, owner, id))
        return NULL;
    free_c->used = ++p->tick;
    return free_c;
}

struct h2c_conn *h2c_conn_find(struct h2c_pool *p, const void *owner, uint32_t id)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct h2c_conn *c = &p->c[i];
        if (c->in_use && c->owner == owner && c->id == id) {
            c->used = ++p->tick;
            return c;
        }
    }
    return NULL;
}

void h2c_conn_release(struct h2c_pool *p, const void *owner, uint32_t id)
{
    for (unsigned i = 0; i < p->n; i++) {
        if (p->c[i].in_use && p->c[i].owner == owner && p->c[i].id == id)
            conn_end(&p->c[i]);
    }
}

static void keep_field(uint8_t *dst, size_t cap, size_t *len, const nghttp2_nv *nv)
{
    if (*len)
        return; /* the first occurrence counts */
    size_t n = nv->valuelen < cap ? nv->valuelen : cap;
    memcpy(dst, nv->value, n);
    *len = n;
}

/* Feeds one field-block fragment to the connection's inflater. */
static enum dstatus inflate_part(struct h2c_conn *c, const uint8_t *p, size_t n, bool final)
{
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(c->inf, &nv, &fl, p, n, final ? 1 : 0);
        if (rv < 0)
            return rv == NGHTTP2_ERR_NOMEM ? DS_LIMIT : DS_MALFORMED;
        p += rv;
        n -= (size_t)rv;
        if (fl & NGHTTP2_HD_INFLATE_EMIT) {
            if (nv.namelen == 10 && memcmp(nv.name, ":authority", 10) == 0)
                keep_field(c->authority, sizeof(c->authority), &c->alen, &nv);
            else if (nv.namelen == 5 && memcmp(nv.name, ":path", 5) == 0)
                keep_field(c->path, sizeof(c->path), &c->plen, &nv);
            else if (nv.namelen == 4 && memcmp(nv.name, "host", 4) == 0)
                keep_field(c->host, sizeof(c->host), &c->hlen, &nv);
        }
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(c->inf);
            return DS_OK;
        }
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
            return final ? DS_MALFORMED : DS_OK;
    }
}

enum dstatus h2c_conn_step(struct h2c_conn *c, const uint8_t *buf, size_t len,
                           struct h2c_request *out, uint64_t *skip, size_t *err_off)
{
    memset(out, 0, sizeof(*out));
    *skip = 0;
    *err_off = 0;
    if (!c->preface) {
        if (len == 0)
            return DS_NEED_MORE;
        if (!http_is_h2_preface(buf, len))
            return DS_NOT_MINE;
        if (len < H2_PREFACE_LEN)
            return DS_NEED_MORE;
        c->preface = true;
        *skip = H2_PREFACE_LEN;
        return DS_OK;
    }
    if (len < 9)
        return DS_NEED_MORE;
    struct rd r;
    rd_init(&r, buf, len);
    size_t flen = rd_be24(&r);
    uint8_t type = rd_u8(&r);
    uint8_t flags = rd_u8(&r);
    uint32_t sid = rd_be32(&r) & 0x7fffffffu;
    bool block = type == H2_HEADERS || type == H2_CONTINUATION;
    if (c->in_block && (type != H2_CONTINUATION || sid != c->stream))
        return DS_MALFORMED; /* RFC 9113 6.10: nothing may interleave a field block */
    if (!block) {
        *skip = 9 + (uint64_t)flen; /* DATA, SETTINGS, ...: skipped, read or not */
        return DS_OK;
    }
    if (type == H2_CONTINUATION && !c->in_block)
        return DS_MALFORMED;
    if (rd_left(&r) < flen)
        return DS_NEED_MORE;
    struct rd pl = rd_sub(&r, flen);
    if (type == H2_HEADERS) {
        size_t pad = 0;
        if (sid == 0) {
            *err_off = 5;
            return DS_MALFORMED;
        }
        if (flags & H2_F_PADDED)
            pad = rd_u8(&pl);
        if (flags & H2_F_PRIORITY)
            rd_skip(&pl, 5);
        if (pl.err || pad > rd_left(&pl))
            return DS_MALFORMED;
        pl.len -= pad;
        c->stream = sid;
        c->alen = c->plen = c->hlen = 0;
    }
    bool end = (flags & H2_F_END_HEADERS) != 0;
    enum dstatus st = inflate_part(c, pl.p + pl.off, pl.len - pl.off, end);
    if (st != DS_OK)
        return st;
    c->in_block = !end;
    *skip = 9 + (uint64_t)flen;
    if (end) {
        out->stream_id = c->stream;
        out->authority =
            (struct span){ c->alen ? c->authority : c->host, c->alen ? c->alen : c->hlen };
        out->path = (struct span){ c->path, c->plen };
    }
    return DS_OK;
}

/* ---- the first request, without connection state ------------------------------------------- */

/* Decodes the header block whose fragments are the payloads of the HEADERS frame at buf[hoff]
 * and the CONTINUATION frames after it (framing checked by the caller), with an inflater
 * whose memory is an arena over scratch[0, half); the fields go to scratch[half, cap). */
static enum dstatus inflate_block(const uint8_t *buf, size_t len, size_t hoff, uint8_t *scratch,
                                  size_t half, size_t cap, struct h2c_request *out)
{
    struct arena ar;
    nghttp2_mem mem = { &ar, arena_malloc, arena_free, arena_calloc, arena_realloc };
    nghttp2_hd_inflater *inf;
    struct span host = { NULL, 0 };
    uint8_t *area = scratch + half;
    size_t used = 0, area_cap = cap - half;
    struct rd r;

    if (!arena_init(&ar, scratch, half) || nghttp2_hd_inflate_new2(&inf, &mem) != 0)
        return DS_LIMIT;
    rd_init(&r, buf, len);
    rd_skip(&r, hoff);
    for (;;) {
        size_t flen = rd_be24(&r);
        uint8_t type = rd_u8(&r);
        uint8_t flags = rd_u8(&r);
        rd_skip(&r, 4);
        struct rd pl = rd_sub(&r, flen);
        size_t pad = 0;
        if (type == H2_HEADERS) {
            if (flags & H2_F_PADDED)
                pad = rd_u8(&pl);
            if (flags & H2_F_PRIORITY)
                rd_skip(&pl, 5);
        }
        const uint8_t *p = pl.p + pl.off;
        size_t n = rd_left(&pl) - pad;
        bool final = (flags & H2_F_END_HEADERS) != 0;
        for (;;) {
            nghttp2_nv nv;
            int fl = 0;
            ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, p, n, final ? 1 : 0);
            if (rv < 0)
                return rv == NGHTTP2_ERR_NOMEM ? DS_LIMIT : DS_MALFORMED;
            p += rv;
            n -= (size_t)rv;
            if (fl & NGHTTP2_HD_INFLATE_EMIT) {
                if (nv.namelen == 10 && memcmp(nv.name, ":authority", 10) == 0 &&
                    !out->authority.len)
                    out->authority = keep(area, area_cap, &used, nv.value, nv.valuelen);
                else if (nv.namelen == 5 && memcmp(nv.name, ":path", 5) == 0 && !out->path.len)
                    out->path = keep(area, area_cap, &used, nv.value, nv.valuelen);
                else if (nv.namelen == 4 && memcmp(nv.name, "host", 4) == 0 && !host.len)
                    host = keep(area, area_cap, &used, nv.value, nv.valuelen);
            }
            if (fl & NGHTTP2_HD_INFLATE_FINAL) {
                if (!out->authority.len)
                    out->authority = host;
                return DS_OK; /* the inflater's memory is the scratch: nothing to free */
            }
            if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0) {
                if (final)
                    return DS_MALFORMED; /* truncated block */
                break;                   /* on to the next CONTINUATION */
            }
        }
    }
}

enum dstatus h2c_request_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                               struct h2c_request *out, size_t *err_off)
{
    struct rd r;
    size_t block_len = 0, half = scratch_cap / 2, hoff = 0;
    uint32_t stream = 0;
    unsigned frames = 0;

    memset(out, 0, sizeof(*out));
    *err_off = 0;
    if (len == 0)
        return DS_NEED_MORE;
    if (!http_is_h2_preface(buf, len))
        return DS_NOT_MINE;
    if (len < H2_PREFACE_LEN)
        return DS_NEED_MORE;
    rd_init(&r, buf, len);
    rd_skip(&r, H2_PREFACE_LEN);
    for (;;) {
        size_t frame_off = r.off;
        if (rd_left(&r) < 9)
            return DS_NEED_MORE;
        uint32_t flen = rd_be24(&r);
        uint8_t type = rd_u8(&r);
        uint8_t flags = rd_u8(&r);
        uint32_t sid = rd_be32(&r) & 0x7fffffffu;
        if (rd_left(&r) < flen)
            return DS_NEED_MORE;
        struct rd pl = rd_sub(&r, flen);
        if (++frames > H2C_MAX_FRAMES)
            return DS_LIMIT;

        if (stream == 0 && type != H2_HEADERS) {
            if (type == H2_CONTINUATION) {
                *err_off = frame_off;
                return DS_MALFORMED;
            }
            continue; /* SETTINGS, WINDOW_UPDATE, PRIORITY ... before the request */
        }
        if (stream == 0) {
            size_t pad = 0;
            if (sid == 0) {
                *err_off = frame_off + 5;
                return DS_MALFORMED;
            }
            stream = sid;
            hoff = frame_off;
            if (flags & H2_F_PADDED)
                pad = rd_u8(&pl);
            if (flags & H2_F_PRIORITY)
                rd_skip(&pl, 5);
            if (pl.err || pad > rd_left(&pl)) {
                *err_off = frame_off;
                return DS_MALFORMED;
            }
            size_t n = rd_left(&pl) - pad;
            if (n > half)
                return DS_LIMIT;
            block_len = n;
        } else {
            if (type != H2_CONTINUATION || sid != stream) {
                *err_off = frame_off;
                return DS_MALFORMED; /* RFC 9113 6.10: nothing may interleave a field block */
            }
            size_t n = rd_left(&pl);
            if (n > half - block_len)
                return DS_LIMIT;
            block_len += n;
        }
        if (flags & H2_F_END_HEADERS)
            break;
    }
    out->stream_id = stream;
    enum dstatus st = inflate_block(buf, len, hoff, scratch, half, scratch_cap, out);
    if (st == DS_MALFORMED)
        *err_off = len;
    return st;
}
