/* http.h - HTTP/1.x request head dissector, pure over (buf, len).
 *
 * Exactly as tolerant as nginx: leading empty lines skipped, extra spaces in the request line,
 * bare LF line ends, header-name case, optional whitespace (SP/HTAB) around values. */
#ifndef QG_HTTP_H
#define QG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dstatus.h"

#define HTTP_HEAD_MAX (64 * 1024) /* refuse heads larger than this (DS_LIMIT) */

struct http_req {
    struct span method;
    struct span target;        /* request-target as sent */
    struct span version;       /* "HTTP/1.1"; empty for HTTP/0.9 style lines */
    struct span abs_authority; /* authority of an absolute-form target (no userinfo), else empty */
    struct span abs_path;      /* path+query of an absolute-form target, else empty */
    struct span host;          /* value of the first Host header, trimmed */
    struct span host2;         /* value of a second Host header, if any */
    unsigned n_host;           /* Host headers seen */
    bool has_content_length;
    uint64_t content_length;
    bool chunked;     /* Transfer-Encoding: chunked */
    bool upgrade_h2c; /* Upgrade: h2c */
    bool upgrade;     /* an Upgrade header (any protocol): after a 101 the bytes that
                                * follow are another protocol */
    size_t head_len;  /* bytes up to and including the empty line ending the head;
                                * 0 when partial */
    bool partial;     /* http_req_parse_early(): the head is not complete (or is cut by
                                * a cap) but its request line and a name are; the fields above
                                * hold what the complete lines told */
};

/* Parses one request head at the start of buf.
 *  DS_OK         *out filled; the next request (if pipelined) starts at
 *                head_len + content_length (not knowable for chunked bodies).
 *  DS_NEED_MORE  valid prefix of a request head.
 *  DS_NOT_MINE   the first bytes cannot start an HTTP request (method not of A-Z, '_', '-'
 *                as nginx takes it), or the version is HTTP/2 or later ("PRI * HTTP/2.0").
 * Header lines whose name holds bytes outside [A-Za-z0-9-] are skipped, as nginx does with its
 * default ignore_invalid_headers; SP, HTAB, CTL or DEL in a name, or obs-fold, are MALFORMED.
 *  DS_MALFORMED  *err_off = offset of the offending byte.
 *  DS_LIMIT      the head is larger than HTTP_HEAD_MAX or has more than 256 headers. */
enum dstatus http_req_parse(const uint8_t *buf, size_t len, struct http_req *out, size_t *err_off);

/* As http_req_parse(), but judges from the first lines: DS_OK with out->partial when the head
 * is not complete (DS_NEED_MORE) or hits a cap (DS_LIMIT) but the request line and the complete
 * lines after it name the server (a Host line, an absolute-form target, CONNECT), so a head is
 * never buffered whole just to find its name (EVASION H9). Only the lines up to the last
 * complete Host line are parsed (and can make it MALFORMED); the rest of a head that is not
 * complete is checked once it is: a caller that passed on a partial head parses again when
 * more arrives. */
enum dstatus http_req_parse_early(const uint8_t *buf, size_t len, struct http_req *out,
                                  size_t *err_off);

/* True exactly when http_req_parse() answers DS_NOT_MINE: only the request line can make it
 * so (no header line does), so this reads the request line alone - the protocol guess made
 * before the head is parsed for its name. */
bool http_req_not_mine(const uint8_t *buf, size_t len);

/* Chunked body framing (RFC 9112 7.1), read one element at a time so that the body's data
 * never needs to be buffered, and never judged as a request (EVASION H16, H17):
 *   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk = 1*"0" [ chunk-ext ] CRLF
 *   trailer    = *( field-line CRLF ) CRLF
 * As tolerant as nginx (ngx_http_parse_chunked): hex digits of either case, SP/HTAB before and
 * inside extensions, bare LF line ends. */
enum http_chunk_state {
    HTTP_CHUNK_DONE = 0, /* the body ended: a request head comes next */
    HTTP_CHUNK_SIZE,     /* at a chunk-size line */
    HTTP_CHUNK_DATA_END, /* at the CRLF after a chunk's data */
    HTTP_CHUNK_TRAILER,  /* at a trailer line or the empty line ending the body */
};

#define HTTP_CHUNK_LINE_MAX 4096 /* chunk-size line or trailer line longer than this: LIMIT */

/* Reads the framing element at the start of buf in state *st.
 *  DS_OK         *skip = bytes to drop: the element, and for a chunk-size line the chunk's
 *                data too (so *skip may exceed len: the data need not be buffered); *st = the
 *                next state (HTTP_CHUNK_DONE after the last trailer line).
 *  DS_NEED_MORE  the element is not complete.
 *  DS_MALFORMED  broken framing (nginx answers 400 and closes the connection); *err_off.
 *  DS_LIMIT      a line longer than HTTP_CHUNK_LINE_MAX, or a size of 2^63 or more. */
enum dstatus http_chunk_step(const uint8_t *buf, size_t len, enum http_chunk_state *st,
                             uint64_t *skip, size_t *err_off);

/* True if buf starts with the HTTP/2 client connection preface (or is a non-empty prefix of it);
 * false when len is 0. */
bool http_is_h2_preface(const uint8_t *buf, size_t len);

/* Lenient reading for a head http_req_parse_early() refuses (EVASION S10's HTTP variant):
 * servers laxer than nginx take obs-folded lines, spaces before the colon, NUL or CTL bytes in
 * values. Looks at the first HTTP_HEAD_MAX bytes, line by line (LF-terminated), for the
 * authority of an absolute-form target in the first line and for every line whose name, after
 * leading SP/HTAB and before optional SP/HTAB and the colon, is "host" in any case; collects
 * their trimmed values (up to cap, non-empty, spans into buf). Returns how many. */
size_t http_scan_hosts(const uint8_t *buf, size_t len, struct span *names, size_t cap);

/* For a stream whose next request cannot be located (a head longer than the filter's buffer,
 * a request read only leniently, chunked framing that broke): every complete line of buf is
 * looked at as a request line (the authority of an absolute-form target) and as a Host line
 * (lenient syntax, as above); up to cap names are collected (spans into buf). *used = bytes of
 * the lines looked at (when cap stops it, up to the line that filled it); with no complete
 * line, 0 - or len when full (a line longer than the buffer). Returns how many names. */
size_t http_scan_stream(const uint8_t *buf, size_t len, bool full, struct span *names, size_t cap,
                        size_t *used);

#endif
