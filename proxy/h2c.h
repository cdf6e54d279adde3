/* h2c.h - HTTP/2 with prior knowledge (h2c): the first request's :authority and :path.
 *
 * buf is the client->server stream from its first byte: the 24-byte connection preface, then
 * frames. The first HEADERS frame (with its CONTINUATION frames) is HPACK-decoded with nghttp2's
 * inflater; an authority without :authority falls back to a "host" header (RFC 9113 8.3.1). */
#ifndef QG_H2C_H
#define QG_H2C_H

#include <stddef.h>
#include <stdint.h>

#include "dstatus.h"

#define H2C_MAX_FRAMES 32   /* frames before the first HEADERS we are willing to walk */

struct h2c_request {
    struct span authority;  /* into scratch */
    struct span path;       /* into scratch */
    uint32_t stream_id;
};

/* Parses the first request of an h2c connection.
 *  DS_OK         *out filled (spans point into scratch).
 *  DS_NEED_MORE  a valid prefix: the header block is not complete yet.
 *  DS_NOT_MINE   buf does not start with the HTTP/2 connection preface.
 *  DS_MALFORMED  a frame breaks RFC 9113 or HPACK decoding failed; *err_off = offset in buf.
 *  DS_LIMIT      the header block is larger than scratch_cap / 2, or more than H2C_MAX_FRAMES
 *                frames come before it.
 * Allocates only inside nghttp2's inflater, once per connection (not per packet). */
enum dstatus h2c_request_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                               struct h2c_request *out, size_t *err_off);

#endif
