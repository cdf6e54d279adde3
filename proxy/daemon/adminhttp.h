/* adminhttp.h - the node's admin HTTP API listener, on libmicrohttpd (docs/admin.md).
 *
 * Always: HTTP/1.1 over the owner-only (0600) Unix socket state_dir/admin.sock; its requests
 * are trusted (principal "local", every scope). When admin.listen is set, also over TCP: then
 * every request needs "Authorization: Bearer TOKEN" where SHA-256(TOKEN) is a line of the
 * tokens file (admin.tokens_file, mode 0600):
 *     # NAME SCOPES TOKEN_SHA256_HEX
 *     grafana metrics 9f86d0...
 *     selfcare read,parents 2c26b4...
 * (no token or an unknown one: 401; a token without the route's scope: 403). Hashes are
 * compared in constant time, against every line. With admin.tls_cert/admin.tls_key the TCP
 * listener speaks HTTPS; with admin.tls_client_ca too, a request without a token may present a
 * client certificate signed by that CA whose subject CN is a line "NAME SCOPES cn:CN".
 *
 * Routing: handlers are mounted at a prefix with the scope they need; a request goes to the
 * longest prefix that matches ("/x/" matches "/x/..." and "/x/"; "/x" matches "/x" alone) and
 * the handler sees the rest of the path (api.h). Limits: connections at once per listener
 * (the excess is refused), an idle timeout, a request body cap (413). libmicrohttpd runs each
 * listener in its internal thread on poll(); handlers run in those threads. */
#ifndef QG_ADMINHTTP_H
#define QG_ADMINHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "proxy/daemon/api.h"

#define ADMINHTTP_SOCKET_NAME "admin.sock"
#define ADMINHTTP_MOUNTS_MAX  32
#define ADMINHTTP_TOKENS_MAX  256
#define ADMINHTTP_NAME_MAX    64
/* The scope of a route served without a token (the dashboard page: it holds no data; its
 * scripts ask the API with the token, see docs/admin.md). */
#define ADMINHTTP_PUBLIC "public"

struct log;
struct adminhttp;

struct adminhttp_config {
    const char *unix_path; /* the Unix socket (replaced if present); NULL: none */
    uid_t uid;             /* owner of the socket file, (uid_t)-1: unchanged */
    gid_t gid;
    const char *listen;      /* "IPv4:port" or "[IPv6]:port" (port 0: ephemeral); NULL/"": none */
    const char *tokens_file; /* required with listen */
    unsigned max_connections;
    unsigned idle_timeout_ms;
    size_t max_body;
    const char *tls_cert; /* PEM files: TCP serves HTTPS; NULL/"": plain HTTP */
    const char *tls_key;
    const char *client_ca; /* PEM CA bundle: client certificates verified against it */
};

struct adminhttp_counters {
    uint64_t requests;     /* answered, every listener */
    uint64_t unauthorized; /* 401 */
    uint64_t forbidden;    /* 403 */
    uint64_t not_found;    /* 404 */
    uint64_t too_large;    /* 413 */
    uint64_t refused;      /* connections closed at accept: max_connections were open */
};

/* Binds the listeners (not serving yet) and loads the tokens. Returns the handle or NULL with
 * "admin: WHAT: reason" in err. */
struct adminhttp *adminhttp_new(const struct adminhttp_config *cfg, struct log *lg, char *err,
                                size_t errlen);

/* Mounts fn at prefix (copied; starts with '/') for tokens with scope (NULL: any valid token).
 * Before adminhttp_start(). Returns 0, -EEXIST or -ENOSPC. */
int adminhttp_mount(struct adminhttp *h, const char *prefix, const char *scope, api_handler_fn fn,
                    void *ctx);

/* Starts serving. Returns 0 or -errno with a message in err. */
int adminhttp_start(struct adminhttp *h, char *err, size_t errlen);

/* The TCP listener's port (host order), 0 without one. */
unsigned adminhttp_port(const struct adminhttp *h);

void adminhttp_stats(const struct adminhttp *h, struct adminhttp_counters *out);

/* Stops the listeners, removes the socket file, frees h. NULL is a no-op. */
void adminhttp_free(struct adminhttp *h);

/* ---- helpers for handlers ---- */

/* Sets resp to status with the text of f (a memstream the caller opened on *buf / *len and
 * has not closed): closes f, hands the buffer to resp. Out of memory: 500. */
void api_reply(struct api_resp *resp, int status, const char *content_type, FILE *f, char **buf,
               size_t *len);

/* resp = {"error":msg} with status. */
void api_error(struct api_resp *resp, int status, const char *msg);

/* The value of key in the raw query string q ("a=1&b=x%20y"), percent- and '+'-decoded into
 * out (NUL-terminated). Returns its length, -ENOENT when absent, -EINVAL for a bad escape,
 * a NUL byte or one that does not fit. */
int api_query_param(const char *q, const char *key, char *out, size_t outlen);

/* Client side, for the CLI: one HTTP request over the Unix socket path; the answer's body is
 * written to out and its status returned (or -errno with "admin: PATH: reason" in err). */
int adminhttp_request(const char *path, const char *method, const char *target, const void *body,
                      size_t body_len, FILE *out, char *err, size_t errlen);

#endif
