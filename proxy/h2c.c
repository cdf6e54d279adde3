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
#include <string.h>

#include "h2c.h"
#include "http.h"
#include "rd.h"

#define H2_PREFACE_LEN 24
#define H2_HEADERS 0x1
#define H2_CONTINUATION 0x9
#define H2_F_END_HEADERS 0x4
#define H2_F_PADDED 0x8
#define H2_F_PRIORITY 0x20

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

static enum dstatus inflate_block(const uint8_t *block, size_t blen, uint8_t *area, size_t cap,
                                  struct h2c_request *out)
{
    nghttp2_hd_inflater *inf;
    struct span host = { NULL, 0 };
    size_t used = 0;
    enum dstatus st = DS_MALFORMED;

    if (nghttp2_hd_inflate_new(&inf) != 0)
        return DS_LIMIT;
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, block, blen, 1);
        if (rv < 0)
            goto done;
        block += rv;
        blen -= (size_t)rv;
        if (flags & NGHTTP2_HD_INFLATE_EMIT) {
            if (nv.namelen == 10 && memcmp(nv.name, ":authority", 10) == 0 && !out->authority.len)
                out->authority = keep(area, cap, &used, nv.value, nv.valuelen);
            else if (nv.namelen == 5 && memcmp(nv.name, ":path", 5) == 0 && !out->path.len)
                out->path = keep(area, cap, &used, nv.value, nv.valuelen);
            else if (nv.namelen == 4 && memcmp(nv.name, "host", 4) == 0 && !host.len)
                host = keep(area, cap, &used, nv.value, nv.valuelen);
        }
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            break;
        }
        if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && blen == 0)
            goto done;  /* truncated block */
    }
    if (!out->authority.len)
        out->authority = host;
    st = DS_OK;
done:
    nghttp2_hd_inflate_del(inf);
    return st;
}

enum dstatus h2c_request_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                               struct h2c_request *out, size_t *err_off)
{
    struct rd r;
    size_t block_len = 0, half = scratch_cap / 2;
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
            continue;  /* SETTINGS, WINDOW_UPDATE, PRIORITY ... before the request */
        }
        if (stream == 0) {
            size_t pad = 0;
            if (sid == 0) {
                *err_off = frame_off + 5;
                return DS_MALFORMED;
            }
            stream = sid;
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
            memcpy(scratch, pl.p + pl.off, n);
            block_len = n;
        } else {
            if (type != H2_CONTINUATION || sid != stream) {
                *err_off = frame_off;
                return DS_MALFORMED;  /* RFC 9113 6.10: nothing may interleave a field block */
            }
            size_t n = rd_left(&pl);
            if (n > half - block_len)
                return DS_LIMIT;
            memcpy(scratch + block_len, pl.p + pl.off, n);
            block_len += n;
        }
        if (flags & H2_F_END_HEADERS)
            break;
    }
    out->stream_id = stream;
    enum dstatus st = inflate_block(scratch, block_len, scratch + half, scratch_cap - half, out);
    if (st == DS_MALFORMED)
        *err_off = len;
    return st;
}
