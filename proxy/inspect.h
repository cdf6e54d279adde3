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

#include "dstatus.h"
#include "normalize.h"
#include "ruleset.h"
#include "verdict.h"

/* One request as the dissector saw it; spans point into the parsed buffer or the scratch. */
struct inspect_request {
    enum verdict_app app;
    struct span name;       /* SNI, Host, request-target authority, :authority (as sent) */
    struct span name2;      /* a second candidate (second Host header; Host beside an
                             * absolute-form target): the request blocks if either does */
    struct span path;       /* HTTP request-target path; empty for TLS/QUIC */
    struct span alpn;       /* first ALPN protocol */
    bool ech;               /* ECH / ESNI: the real name is hidden */
    bool has_path;          /* the path is visible (HTTP, h2c) */
    size_t head_len;        /* bytes of this request before its body (TLS: the ClientHello) */
    uint64_t body_len;      /* HTTP Content-Length, else 0 */
    bool body_unknown;      /* chunked body or protocol upgrade: the next request cannot be found */
    bool partial;           /* the name is complete but the ClientHello / request head is not
                             * (or was cut by a cap): a block stands; a pass is final only once
                             * no more bytes can come (buffer full), head_len is 0 */
};

/* Detects the protocol from the first bytes of a client->server TCP stream.
 * DS_OK with *app set (APP_TLS, APP_HTTP, APP_H2C), DS_NEED_MORE, or DS_NOT_MINE (none of them). */
enum dstatus inspect_detect(const uint8_t *buf, size_t len, enum verdict_app *app);

/* Parses the request at the start of buf with the dissector of app. scratch (scratch_cap bytes)
 * holds ClientHellos spread over several records and h2c header blocks. Returns the
 * dissector's status; *rq is valid on DS_OK, rq->partial when only the bytes carrying the name
 * are complete (tls_hello_parse_early, http_req_parse_early). */
enum dstatus inspect_parse(enum verdict_app app, const uint8_t *buf, size_t len, uint8_t *scratch,
                           size_t scratch_cap, struct inspect_request *rq);

/* The flow a request belongs to, as the verdict needs it. */
struct inspect_flow {
    bool udp;
    int ipver;
    const uint8_t *dst;     /* server address (16 bytes, IPv4 in the first 4) */
};

/* A decided request. */
struct inspect_result {
    struct verdict_decision d;
    bool have_name;                  /* name holds the normalized name */
    char name[NORM_HOST_MAX];
    size_t name_len;
    bool name_invalid;               /* a name was sent but could not be normalized */
    char path[NORM_PATH_MAX];
    char url[8 + NORM_HOST_MAX + NORM_PATH_MAX];  /* "http://name/path" when the path is visible */
    size_t url_len;
};

/* Normalizes the candidate `name` of rq (rq->name or rq->name2) and its path, and decides it
 * against rs. Pure apart from *res; no allocation. */
void inspect_decide(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct inspect_flow *fl, const struct inspect_request *rq,
                    struct span name, struct inspect_result *res);

/* True if any name candidate of rq (name, name2) is blocked; *res holds the last decision.
 * Reports nothing: for a partial request whose pass is not final yet. */
bool inspect_blocks(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct inspect_flow *fl, const struct inspect_request *rq,
                    struct inspect_result *res);

#endif
