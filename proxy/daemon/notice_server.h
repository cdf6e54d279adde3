/* notice_server.h - the notice page server (notice.listen), on libmicrohttpd.
 *
 * Serves the block notice page (proxy/enforce/notice.h) over HTTP/1.x: GET and HEAD on "/",
 * "/blocked" and "/blocked/" give 200 and the page for ?url= and ?order=, any other path 404,
 * any other method 405 (Allow: GET, HEAD). libmicrohttpd runs it in one internal thread on
 * poll() (its epoll mode stalls keep-alive connections under load, see docs/decisions.md); this
 * module adds what the daemon needs around it:
 *   - the connection cap (notice.max_connections): the excess is refused at accept and counted;
 *   - the idle deadline (notice.idle_timeout): a connection that completes no request within it
 *     of accept or of its previous request is closed, however slowly it trickles bytes;
 *   - the request head cap (notice.max_request_bytes), libmicrohttpd's per-connection memory
 *     (a larger head gets 431 or 414 from the library);
 *   - a reload that applies changed notice.* keys, the listen address included (the new
 *     listener is opened first; if it cannot be, the old one keeps serving and the reload fails);
 *   - counters and a state for the daemon's stats line, and the library's error reports
 *     counted and sampled to the log.
 * HTTP/2 is not served (see docs/decisions.md). One handle is driven by one thread (the daemon's
 * main thread); the library's thread only reads what reload publishes. */
#ifndef QG_NOTICE_SERVER_H
#define QG_NOTICE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/enforce/notice.h"

struct log;
struct notice_server;

struct notice_server_counters {
    uint64_t accepted;    /* connections taken */
    uint64_t refused;     /* connections refused at accept: max_connections open */
    uint64_t closed_idle; /* closed by the idle deadline */
    uint64_t requests;    /* requests answered by the page handler */
    uint64_t status_200;
    uint64_t status_404;
    uint64_t status_405;
    uint64_t bad_order;       /* ?order= present but not [A-Za-z0-9._-]{1,64}: not shown */
    uint64_t errors;          /* error reports of libmicrohttpd (bad requests, 431, accept and
                                 socket failures ...), sampled to the log */
    uint64_t reloads;         /* reloads applied */
    uint64_t reload_failures; /* reloads that could not apply (the old settings kept serving) */
};

enum notice_server_state {
    NOTICE_SERVER_SERVING = 0, /* serving with the configuration last given */
    NOTICE_SERVER_STALE,       /* serving, but the last reload could not apply */
    NOTICE_SERVER_DOWN, /* not serving: a reload lost the listener and could not restore it */
};

/* Starts the server on listen ("IPv4:port" or "[IPv6]:port", port 0: ephemeral, see
 * notice_server_port) with a copy of cfg (NULL: defaults). lg (borrowed, may be NULL: standard
 * error) receives the library's error samples and must outlive the server. Returns the handle
 * (the caller frees it with notice_server_free), or NULL with errno set (EINVAL: a value out of
 * range or a bad address; EADDRINUSE, EACCES ...: the listener; ENOMEM) and a message naming
 * the address in err. */
struct notice_server *notice_server_new(const struct notice_config *cfg, const char *listen,
                                        struct log *lg, char *err, size_t errlen);

/* Applies cfg and listen. The page text (url, contact, contact_url, show_order) and the idle
 * deadline change in place; a new listen address, max_connections or max_request_bytes start a
 * new listener first (the same address is handed over without closing it) and then stop the old
 * one, closing its connections. Returns 0, or -errno with a message in err when the reload could
 * not apply: then nothing changed and the state is NOTICE_SERVER_STALE (NOTICE_SERVER_DOWN if
 * the listener was lost on the way, which only an allocation failure during the hand-over does).
 * A later successful reload returns the state to NOTICE_SERVER_SERVING. */
int notice_server_reload(struct notice_server *s, const struct notice_config *cfg,
                         const char *listen, char *err, size_t errlen);

/* The local port of the listener (host order), 0 when down. */
unsigned notice_server_port(const struct notice_server *s);

enum notice_server_state notice_server_state(const struct notice_server *s);

/* "serving", "stale" or "down". */
const char *notice_server_state_name(enum notice_server_state st);

/* Copies the counters (each read atomically) and the connections open now (if not NULL). */
void notice_server_stats(const struct notice_server *s, struct notice_server_counters *out,
                         unsigned *open_now);

/* Stops the listener, closes every connection, frees s. NULL is a no-op. */
void notice_server_free(struct notice_server *s);

#endif
