/* inspect.h - from the first bytes of a client stream to a decision, for any mode.
 *
 * The packet engine (engine.c, over reassembled bytes) and the inline proxy (over bytes read
 * from an accepted socket) share these steps so they can never judge the same bytes
 * differently:
 *   inspect_detect()  which application protocol the stream speaks;
 *   inspect_parse()   one request of it: the raw name(s), path, ALPN, ECH, request length;
 *   inspect_decide()  normalize one name candidate (rules/normalize.h) and run the verdict. */
#ifndef QG_INSPECT_H
#define QG_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dstatus.h"
#include "rules/match/normalize.h"
#include "rules/match/ruleset.h"
#include "proxy/judge/verdict.h"

/* One request as the dissector saw it; spans point into the parsed buffer or the scratch. */
struct inspect_request {
    enum verdict_app app;
    struct span name;  /* SNI, Host, request-target authority, :authority (as sent) */
    struct span name2; /* a second candidate (second Host header; Host beside an
                             * absolute-form target): the request blocks if either does */
    struct span path;  /* HTTP request-target path; empty for TLS/QUIC */
    struct span alpn;  /* first ALPN protocol */
    bool ech;          /* ECH / ESNI: the real name is hidden */
    bool has_path;     /* the path is visible (HTTP, h2c) */
    size_t head_len;   /* bytes of this request before its body (TLS: the ClientHello) */
    uint64_t body_len; /* HTTP Content-Length, else 0 */
    bool body_unknown; /* chunked body or protocol upgrade: the next request cannot be found */
    bool h2_stream;    /* an h2c stream read through inspect_stream.h2: head_len is the
                             * frame bytes that completed it */
    bool lenient;      /* the strict dissector refused the request (MALFORMED); the names
                             * come from its lenient scan (EVASION S10): a server laxer than
                             * the strict reading may accept it. Nothing after it is judged */
    bool redetect;     /* after this request the stream may speak another protocol
                             * (Upgrade, CONNECT): detect it again from the next bytes */
    bool chunked;      /* a chunked body follows the head */
    bool partial;      /* the name is complete but the ClientHello / request head is not
                             * (or was cut by a cap): a block stands; a pass is final only once
                             * no more bytes can come (buffer full), head_len is 0 */
};

/* Detects the protocol from the first bytes of a client->server TCP stream.
 * DS_OK with *app set (APP_TLS, APP_HTTP, APP_H2C), DS_NEED_MORE, or DS_NOT_MINE (none of them). */
enum dstatus inspect_detect(const uint8_t *buf, size_t len, enum verdict_app *app);

/* Parses the request at the start of buf with the dissector of app. scratch (scratch_cap bytes)
 * holds ClientHellos spread over several records and h2c header blocks. Returns the
 * dissector's status; *rq is valid on DS_OK, rq->partial when only the bytes carrying the name
 * are complete (tls_hello_parse_early, http_req_parse_early). When the strict dissector says
 * DS_MALFORMED but its lenient scan finds a name (tls_hello_scan_names, http_scan_hosts), DS_OK
 * with rq->lenient and the first two names found. */
enum dstatus inspect_parse(enum verdict_app app, const uint8_t *buf, size_t len, uint8_t *scratch,
                           size_t scratch_cap, struct inspect_request *rq);

/* ---- when to stop judging a connection ------------------------------------------------------
 *
 * One policy for every mode: the packet engine (over reassembled bytes) and the inline proxy
 * (over bytes read from the client) both walk a client stream with inspect_stream_next(), so a
 * kept-alive connection is judged request by request the same way everywhere (EVASION H11,
 * H16, H17): every request head is judged, bodies are skipped by their framing (Content-Length,
 * chunked) and never read as requests, and judging stops only where the stream stops being
 * something we can read. The state is three bytes so the engine can keep it in its flow. */
struct h2c_conn;

struct inspect_stream {
    uint8_t app;         /* enum verdict_app; APP_UNKNOWN: detect from the next bytes */
    uint8_t phase;       /* enum http_chunk_state: inside a chunked body, or 0 */
    bool judged;         /* a request of this stream was judged already */
    struct h2c_conn *h2; /* h2c decoder state of this connection (h2c.h), or NULL: then only
                             * the first h2c request is judged (no state could be had) */
};

enum inspect_step {
    INSPECT_MORE,  /* more bytes are needed (and may still come: !full) */
    INSPECT_JUDGE, /* *rq is a request: judge it, then inspect_stream_passed() */
    INSPECT_SKIP,  /* drop the first *skip bytes (may be more than are buffered) */
    INSPECT_STOP,  /* judge no more of this stream; *why says why */
};

enum inspect_stop {
    INSPECT_STOP_NOT_MINE,  /* not TLS / HTTP / h2c (any more, after an Upgrade or CONNECT) */
    INSPECT_STOP_MALFORMED, /* a request the dissector refuses (*st_out) */
    INSPECT_STOP_LIMIT,     /* a cap was hit before a name was visible */
    INSPECT_STOP_BODY,      /* chunked framing broken (nginx: 400 and close) or over a cap */
    INSPECT_STOP_CUT,       /* a head judged by its name at the cap: the next request cannot be
                             * located */
    INSPECT_STOP_DONE,      /* nothing more to judge: a ClientHello was judged, or the first
                             * h2c request without decoder state */
    INSPECT_STOP_LENIENT,   /* a request read only by the lenient scan was judged: where the
                             * next one starts is not known */
};

/* Starts a stream (app APP_UNKNOWN, nothing judged). */
void inspect_stream_init(struct inspect_stream *s);

/* Says what to do with the client bytes buf[0, len) at the stream's current position. full:
 * no more bytes can be buffered before some are dropped (a NEED_MORE then becomes a limit).
 * scratch / scratch_cap as for inspect_parse(). On INSPECT_JUDGE *rq is valid (spans into buf
 * or scratch); on INSPECT_SKIP *skip is set; on INSPECT_STOP *why, and *st_out holds the
 * dissector status behind it. Pure apart from *s and the outputs; no allocation. */
enum inspect_step inspect_stream_next(struct inspect_stream *s, const uint8_t *buf, size_t len,
                                      bool full, uint8_t *scratch, size_t scratch_cap,
                                      struct inspect_request *rq, uint64_t *skip,
                                      enum inspect_stop *why, enum dstatus *st_out);

/* After a request from INSPECT_JUDGE was judged and not blocked: INSPECT_SKIP with *skip = the
 * bytes it takes up to its body's framing (the stream moves into a chunked body, or to
 * detecting the protocol again after Upgrade / CONNECT), or INSPECT_STOP with *why
 * (INSPECT_STOP_DONE after a ClientHello or an h2c request, INSPECT_STOP_CUT after a partial
 * head). */
enum inspect_step inspect_stream_passed(struct inspect_stream *s, const struct inspect_request *rq,
                                        uint64_t *skip, enum inspect_stop *why);

/* True when the stream is h2c, or opens with the HTTP/2 preface: the mode takes a decoder state
 * for it (h2c_conn_take(), into s->h2) before inspect_stream_next(), so every stream of the
 * connection is judged. */
bool inspect_stream_wants_h2(const struct inspect_stream *s, const uint8_t *buf, size_t len);

/* For a request from INSPECT_JUDGE: true when it is partial (only the bytes carrying its name
 * are complete) and more bytes can still be buffered (!full). The mode then asks
 * inspect_blocks() (which reports nothing): a block stands at once; a pass waits for more
 * bytes, since the rest may carry another name (a second Host). false: judge it now. */
bool inspect_request_pending(const struct inspect_request *rq, bool full);

/* What every mode does once inspect_stream_next() or inspect_stream_passed() said
 * INSPECT_STOP: the one place that says what happens to the rest of a connection. */
enum inspect_rest {
    INSPECT_REST_DONE,     /* nothing more of the stream is judged: a ClientHello or h2c
                             * request was judged, the stream is not (or no longer) TLS / HTTP /
                             * h2c, or its first bytes are malformed. The engine stops inspecting
                             * the flow; the inline proxy relays the rest as it is */
    INSPECT_REST_UNFRAMED, /* HTTP whose next request cannot be located: a head cut at the cap
                             * (INSPECT_STOP_CUT), a head over the cap with no name
                             * (INSPECT_STOP_LIMIT), one read only leniently
                             * (INSPECT_STOP_LENIENT), broken chunked framing
                             * (INSPECT_STOP_BODY). The rest must not go unjudged: the engine
                             * scans it for names line by line, the inline proxy refuses it */
};

struct inspect_halt {
    bool by_address; /* no request of the stream was judged: decide on the address
                             * first (a block there ends the connection) */
    /* METHOD_NONE, or the method the connection is blocked by policy with (unless its
     * address blocks it already) - what is left of it can no longer be judged:
     * - METHOD_INCOMPLETE: a ClientHello over the cap with no name visible yet
     *   (INSPECT_STOP_LIMIT): its name is further on, where the bytes held cannot reach, and a
     *   server takes such a hello (OpenSSL: up to 128 KiB); a size cap never means pass
     *   (EVASION S7). Also an h2c header block over the decoder's arena: the connection's
     *   later streams cannot be decoded;
     * - METHOD_NO_ROOM: an h2c connection that got no decoder state (the pool taken by other
     *   connections) once its first stream passed: its later streams, each free to name
     *   another host, cannot be decoded. */
    enum verdict_method refuse;
    enum inspect_rest rest;
};

/* Says how judging of stream s ends for reason why (s as the INSPECT_STOP left it). */
void inspect_stream_halt(const struct inspect_stream *s, enum inspect_stop why,
                         struct inspect_halt *h);

/* The flow a request belongs to, as the verdict needs it. */
struct inspect_flow {
    bool udp;
    int ipver;
    const uint8_t *dst; /* server address (16 bytes, IPv4 in the first 4) */
    const uint8_t *src; /* client address (as dst), for the tariff decision; may be NULL */
    int64_t now;        /* Unix seconds (tariff schedules) */
    const struct verdict_tariff *tariff; /* NULL: regulator decisions only */
};

/* A decided request. */
struct inspect_result {
    struct verdict_decision d;
    bool have_name; /* name holds the normalized name */
    char name[NORM_HOST_MAX];
    size_t name_len;
    bool name_invalid; /* a name was sent but could not be normalized */
    char path[NORM_PATH_MAX];
    char url[8 + NORM_HOST_MAX + NORM_PATH_MAX]; /* "http://name/path" when the path is visible */
    size_t url_len;
};

/* Normalizes the candidate `name` of rq (rq->name or rq->name2) and its path, and decides it
 * against rs. Pure apart from *res; no allocation. */
void inspect_decide(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct inspect_flow *fl, const struct inspect_request *rq,
                    struct span name, struct inspect_result *res);

/* A connection decided again on what was kept of it after it passed (docs/queue.md "Connections
 * passed before an order"): the name it was passed on (len 0: none), its app and ECH flag, and
 * the flow fl; an HTTP or h2c connection as for the path "/" (its next request is judged as it
 * comes). */
void inspect_decide_kept(const struct ruleset *rs, const struct verdict_policy *pol,
                         const struct inspect_flow *fl, enum verdict_app app, bool ech,
                         const char *name, size_t len, struct inspect_result *res);

/* The same for an HTTP or h2c connection whose last request's path was kept (path[0 ..
 * path_len), as sent or normalized; NULL or not starting with '/': "/"): a URL entry listed
 * later for that path blocks it, one for another path does not. */
void inspect_decide_kept_path(const struct ruleset *rs, const struct verdict_policy *pol,
                              const struct inspect_flow *fl, enum verdict_app app, bool ech,
                              const char *name, size_t len, const char *path, size_t path_len,
                              struct inspect_result *res);

/* True if any name candidate of rq (name, name2) is blocked; *res holds the last decision.
 * Reports nothing: for a partial request whose pass is not final yet. */
bool inspect_blocks(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct inspect_flow *fl, const struct inspect_request *rq,
                    struct inspect_result *res);

#endif
