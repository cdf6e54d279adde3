/* notice.h - the block notice page: pure response builders and a small HTTP server for it.
 *
 * Blocked HTTP requests are answered (by the enforcement code, inline in the flow) either with
 * a 302 to the notice page (notice_build_redirect) or with a 451 carrying the page itself
 * (notice_build_451 / notice_render_451, RFC 7725). The page says in Kazakh, Russian and
 * English that access is restricted under the Law of the Republic of Kazakhstan "On
 * Communications", art. 41-1, names the blocked resource (?url=) and the order (?order=) when
 * allowed, and where to complain.
 *
 * The server (notice_new ... notice_free) serves that page over HTTP/1.1 (keep-alive, pipelined
 * requests answered in order) and HTTP/2 cleartext (prior knowledge, or Upgrade: h2c) from one
 * epoll loop that a worker thread drives with notice_run_once() or notice_run(). Every socket
 * is non-blocking; connections come from a pool sized at notice_new() (max_connections, the
 * excess is refused and counted); a request head larger than max_request_bytes gets 431 and
 * the connection is closed; a connection that does not complete a request within
 * idle_timeout_ms of the previous one (or of accept) is closed, however slowly it trickles
 * bytes. One notice handle belongs to one thread. */
#ifndef QG_NOTICE_H
#define QG_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTICE_ORDER_MAX 64        /* order ids: [A-Za-z0-9._-]{1,64}, anything else dropped */
#define NOTICE_BLOCKED_URL_MAX 512 /* bytes of the blocked URL kept (longer: cut, with "...") */
#define NOTICE_CONTACT_MAX 512     /* bytes of contact text / contact URL kept */
#define NOTICE_URL_MAX 1024        /* bytes of the notice URL itself (302 target) */
#define NOTICE_RESPONSE_MAX 16384  /* any complete response fits in this many bytes */

/* Plain configuration, filled by the config table (proxy/daemon/settings.c) or by hand.
 * Strings are borrowed: notice_new() copies what it keeps. Zero/NULL fields take the defaults
 * shown; an empty string is the same as NULL. */
struct notice_config {
    const char *url;            /* notice.url: public URL of this page (Link rel=blocked-by);
                                   NULL: no Link header */
    bool show_order;            /* notice.show_order: print ?order= on the page (false) */
    const char *contact;        /* notice.contact: where to complain, plain text (UTF-8);
                                   NULL: built-in text naming the operator's support line */
    const char *contact_url;    /* notice.contact_url: http(s)/mailto link; NULL: none */
    unsigned max_connections;   /* notice.max_connections: 1..65536 (256) */
    unsigned idle_timeout_ms;   /* notice.idle_timeout_ms: 10..3600000 (10000) */
    unsigned max_request_bytes; /* notice.max_request_bytes: head cap, 512..65536 (8192) */
};

struct notice;

struct notice_counters {
    uint64_t accepted;           /* connections taken into the pool */
    uint64_t refused;            /* connections refused: pool full (max_connections) */
    uint64_t closed_idle;        /* closed by the idle/header timeout */
    uint64_t closed_oversize;    /* request head over max_request_bytes (431 sent) */
    uint64_t bad_request;        /* unparseable request (400 sent), h2 protocol errors */
    uint64_t bad_order;          /* ?order= present but not [A-Za-z0-9._-]{1,64}: not shown */
    uint64_t requests_h1;        /* requests answered over HTTP/1.x */
    uint64_t requests_h2;        /* streams answered over HTTP/2 */
    uint64_t upgrades_h2c;       /* HTTP/1.1 Upgrade: h2c accepted */
    uint64_t h2_streams_refused; /* streams over SETTINGS_MAX_CONCURRENT_STREAMS (4) */
    uint64_t status_200;
    uint64_t status_404;
    uint64_t status_405;
    uint64_t io_errors; /* read/write/accept failures other than EAGAIN */
};

/* ---------------------------------------------------------------- pure builders */

/* Writes the HTML page (UTF-8, no NUL) into buf. blocked_url (url_len bytes, any bytes) is cut
 * to NOTICE_BLOCKED_URL_MAX at a character boundary, invalid UTF-8 and control bytes replaced
 * by U+FFFD, and HTML-escaped; NULL or empty: no resource line. order is shown only when
 * cfg->show_order and it is [A-Za-z0-9._-]{1,64}. cfg may be NULL (defaults).
 * Returns the body length, or 0 when it does not fit in cap (then buf holds nothing useful).
 * No allocation. */
size_t notice_render_page(char *buf, size_t cap, const struct notice_config *cfg, const char *blocked_url,
                          size_t url_len, const char *order, size_t order_len);

/* Writes a complete "HTTP/1.1 302 Found" response: Location: notice_url + "?url=...&order=..."
 * (or "&url=" when notice_url already has a query), both values percent-encoded (all but
 * RFC 3986 unreserved bytes), blocked_url cut to NOTICE_BLOCKED_URL_MAX, order dropped unless
 * [A-Za-z0-9._-]{1,64}; a short HTML body; Connection: close; Content-Length; Cache-Control:
 * no-store. blocked_url and order are NUL-terminated or NULL.
 * Returns the response length, or 0 when notice_url is NULL, longer than NOTICE_URL_MAX or
 * holds bytes outside 0x21..0x7e (header injection), or when it does not fit in cap.
 * cap >= NOTICE_RESPONSE_MAX always fits. Pure; no allocation. */
size_t notice_build_redirect(char *buf, size_t cap, const char *notice_url, const char *blocked_url,
                             const char *order);

/* Writes a complete "HTTP/1.1 451 Unavailable For Legal Reasons" response (RFC 7725) whose
 * body is notice_render_page(cfg, blocked_url, order), with Link: <cfg->url>; rel="blocked-by"
 * when cfg->url is set and printable ASCII, Connection: close, Content-Length, Cache-Control:
 * no-store. blocked_url and order are NUL-terminated or NULL; cfg may be NULL.
 * Returns the response length or 0 when it does not fit in cap (cap >= NOTICE_RESPONSE_MAX
 * always fits). Pure; no allocation. */
size_t notice_build_451(char *buf, size_t cap, const struct notice_config *cfg, const char *blocked_url,
                        const char *order);

/* ---------------------------------------------------------------- server */

/* Creates a server (not yet listening) with a copy of cfg (NULL: defaults). Allocates the
 * connection pool up front. Returns NULL with errno set (EINVAL: a value out of range,
 * ENOMEM). The caller owns the handle and frees it with notice_free(). */
struct notice *notice_new(const struct notice_config *cfg);

/* Binds and listens on "IPv4:port" or "[IPv6]:port" (port 0: an ephemeral port, see
 * notice_port). May be called more than once (up to 4 listeners). Returns 0 or -errno; on
 * error a message naming the address goes to stderr. */
int notice_listen(struct notice *n, const char *addr);

/* The local port of the first listener (host order), 0 if none. */
unsigned notice_port(const struct notice *n);

/* Handles whatever is ready, waiting at most timeout_ms (0: poll, -1: until something happens
 * or the next idle deadline). Returns the number of events handled (>= 0) or -errno. */
int notice_run_once(struct notice *n, int timeout_ms);

/* Runs notice_run_once() in 100 ms steps until *stop becomes non-zero (set from another thread
 * or a signal handler). Returns 0 or the first -errno. */
int notice_run(struct notice *n, volatile const int *stop);

/* Writes the 451 response for a blocked request using n's configuration (see
 * notice_build_451), so enforcement code holding the handle can answer inline. */
size_t notice_render_451(const struct notice *n, char *buf, size_t cap, const char *blocked_url,
                         const char *order);

/* Copies the counters. Connections open now: *open_now if not NULL. */
void notice_stats(const struct notice *n, struct notice_counters *out, unsigned *open_now);

/* Closes every socket and frees n. NULL is a no-op. */
void notice_free(struct notice *n);

#endif
