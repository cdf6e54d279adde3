/* h2c.h - HTTP/2 with prior knowledge (h2c): the first request's :authority and :path.
 *
 * buf is the client->server stream from its first byte: the 24-byte connection preface, then
 * frames. The first HEADERS frame (with its CONTINUATION frames) is HPACK-decoded with nghttp2's
 * inflater over an arena (nghttp2_mem), never the heap; an authority without :authority falls
 * back to a "host" header (RFC 9113 8.3.1). */
#ifndef QG_H2C_H
#define QG_H2C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dstatus.h"

#define H2C_MAX_FRAMES 32 /* frames before the first HEADERS we are willing to walk */

struct h2c_request {
    struct span authority; /* into scratch */
    struct span path;      /* into scratch */
    uint32_t stream_id;
};

/* Parses the first request of an h2c connection.
 *  DS_OK         *out filled (spans point into scratch).
 *  DS_NEED_MORE  a valid prefix: the header block is not complete yet.
 *  DS_NOT_MINE   buf does not start with the HTTP/2 connection preface.
 *  DS_MALFORMED  a frame breaks RFC 9113 or HPACK decoding failed; *err_off = offset in buf.
 *  DS_LIMIT      the header block is larger than scratch_cap / 2, more than H2C_MAX_FRAMES
 *                frames come before it, or the decoder does not fit its arena.
 * Allocates nothing: the header block is decoded in place, fragment by fragment, by an
 * inflater whose memory is scratch[0, scratch_cap / 2); the fields are copied to the rest of
 * scratch. So the stateless reading (a connection without a pooled state, an alternative view
 * of the bytes) costs no allocation per flow either. */
enum dstatus h2c_request_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                               struct h2c_request *out, size_t *err_off);

/* ---- every stream of a connection (EVASION H18) ----------------------------------------------
 *
 * The HPACK dynamic table lives as long as the connection, so judging the second and later
 * streams needs per-connection decoder state. It comes from a pool allocated once: each
 * h2c_conn owns an arena of H2C_ARENA bytes that nghttp2's inflater allocates from (through
 * nghttp2_mem), so nothing is allocated per packet or per connection. */
#define H2C_ARENA         (24 * 1024)
#define H2C_AUTHORITY_MAX 256
#define H2C_PATH_MAX      1024

struct h2c_pool;
struct h2c_conn;

/* Allocates n connection states (n >= 1). NULL on allocation failure. */
struct h2c_pool *h2c_pool_new(unsigned n);
void h2c_pool_free(struct h2c_pool *p);

/* The state of the connection (owner, id): the one it already has, else a free one, else one
 * whose owner alive() says is gone, else the one used longest ago (its connection loses it:
 * h2c_conn_find() no longer finds it, and its later streams cannot be decoded). NULL only when
 * a state cannot be set up. A new state expects the connection preface first: take one for a
 * connection at its start, find it for one past that. */
struct h2c_conn *h2c_conn_take(struct h2c_pool *p, const void *owner, uint32_t id,
                               bool (*alive)(const void *owner, uint32_t id, void *ctx), void *ctx);

/* The state (owner, id) has, or NULL: it never had one, or it was given to a newer connection. */
struct h2c_conn *h2c_conn_find(struct h2c_pool *p, const void *owner, uint32_t id);

/* Gives back the state of (owner, id), if it has one. */
void h2c_conn_release(struct h2c_pool *p, const void *owner, uint32_t id);

/* Reads the next element of the client->server stream at buf (the connection's current
 * position): the preface, or one frame.
 *  DS_OK         *skip = bytes it takes (a DATA frame's payload need not be buffered). When
 *                it completed a header block (HEADERS + CONTINUATION*), out->stream_id is set
 *                and out->authority / out->path point into c, valid until the next call.
 *  DS_NEED_MORE  the preface, a frame header, or a HEADERS / CONTINUATION payload is not
 *                complete (nothing was consumed).
 *  DS_NOT_MINE   not the connection preface at the start.
 *  DS_MALFORMED  broken framing or HPACK (RFC 9113 6.2, 6.10; the server closes); *err_off.
 *  DS_LIMIT      the decoder state does not fit its arena. */
enum dstatus h2c_conn_step(struct h2c_conn *c, const uint8_t *buf, size_t len,
                           struct h2c_request *out, uint64_t *skip, size_t *err_off);

#endif
