/* notice.h - the block notice page: pure response builders and the request-target reader.
 *
 * Blocked HTTP requests are answered (by the enforcement code, inline in the flow) either with
 * a 302 to the notice page (notice_build_redirect) or with a 451 carrying the page itself
 * (notice_build_451 / notice_render_451, RFC 7725). The page says in Kazakh, Russian and
 * English that access is restricted under the Law of the Republic of Kazakhstan "On
 * Communications", art. 41-1, names the blocked resource (?url=) and the order (?order=) when
 * allowed, and where to complain.
 *
 * The page itself is served by proxy/daemon/notice_server (libmicrohttpd), which turns a
 * request-target into a page with notice_parse_target() and notice_render_page(). Everything
 * declared here is pure: no allocation, no global state. */
#ifndef QG_NOTICE_H
#define QG_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/judge/verdict.h"

#define NOTICE_ORDER_MAX       64    /* order ids: [A-Za-z0-9._-]{1,64}, anything else dropped */
#define NOTICE_BLOCKED_URL_MAX 512   /* bytes of the blocked URL kept (longer: cut, with "...") */
#define NOTICE_CONTACT_MAX     512   /* bytes of contact text / contact URL kept */
#define NOTICE_URL_MAX         1024  /* bytes of the notice URL itself (302 target) */
#define NOTICE_RESPONSE_MAX    16384 /* any complete response fits in this many bytes */

#define NOTICE_CONN_MAX    65536u /* notice.max_connections: 1..65536 */
#define NOTICE_IDLE_MIN_MS 10u    /* notice.idle_timeout: 10 ms .. 1 h */
#define NOTICE_IDLE_MAX_MS 3600000u
#define NOTICE_REQUEST_MIN 512u /* notice.max_request_bytes: 512 .. 64 KiB */
#define NOTICE_REQUEST_MAX 65536u

/* Plain configuration, filled by the config table (proxy/daemon/settings.c) or by hand. Strings are
 * borrowed: whoever keeps the configuration (the page server) copies them. Zero/NULL fields take
 * the defaults shown; an empty string is the same as NULL. */
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

/* Who restricted the resource. A tariff or parental block (docs/profiles.md) is not a
 * regulator's: its page says so, names no order and no law, and its 302 carries
 * reason=tariff or reason=parental (a 403 instead of a 451 without a notice URL). */
enum notice_reason { NOTICE_REGULATOR = 0, NOTICE_TARIFF, NOTICE_PARENTAL };

/* "tariff", "parental"; NULL for NOTICE_REGULATOR. */
const char *notice_reason_name(enum notice_reason r);

/* The page for a decision's cause: parental for CAUSE_PARENTAL, tariff for the other tariff
 * causes (profile, schedule, allow list), the regulator's otherwise. */
enum notice_reason notice_reason_of(enum verdict_cause c);

/* What a request-target asks of the page (notice_parse_target). */
struct notice_request {
    bool page;                            /* the path is "/", "/blocked" or "/blocked/" */
    char url[NOTICE_BLOCKED_URL_MAX + 8]; /* ?url=, percent-decoded, cut (not terminated) */
    size_t url_len;
    char order[NOTICE_ORDER_MAX + 2]; /* ?order=, percent-decoded, cut (not terminated) */
    size_t order_len;
    bool has_order;            /* ?order= was present (shown only if valid) */
    enum notice_reason reason; /* ?reason=tariff|parental; anything else: the regulator's */
};

/* ---------------------------------------------------------------- pure builders */

/* Writes the HTML page (UTF-8, no NUL) into buf. blocked_url (url_len bytes, any bytes) is cut
 * to NOTICE_BLOCKED_URL_MAX at a character boundary, invalid UTF-8 and control bytes replaced
 * by U+FFFD, and HTML-escaped; NULL or empty: no resource line. order is shown only when
 * cfg->show_order and it is [A-Za-z0-9._-]{1,64}. cfg may be NULL (defaults).
 * Returns the body length, or 0 when it does not fit in cap (then buf holds nothing useful).
 * No allocation. */
size_t notice_render_page(char *buf, size_t cap, const struct notice_config *cfg,
                          const char *blocked_url, size_t url_len, const char *order,
                          size_t order_len);

/* notice_render_page() for a reason (a tariff or parental page has no order). */
size_t notice_render_page_for(char *buf, size_t cap, const struct notice_config *cfg,
                              const char *blocked_url, size_t url_len, const char *order,
                              size_t order_len, enum notice_reason reason);

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
/* ... for a reason: a tariff or parental block adds "reason=tariff|parental" (and no order). */
size_t notice_build_redirect_for(char *buf, size_t cap, const char *notice_url,
                                 const char *blocked_url, const char *order,
                                 enum notice_reason reason);

/* Writes a complete "HTTP/1.1 451 Unavailable For Legal Reasons" response (RFC 7725) whose
 * body is notice_render_page(cfg, blocked_url, order), with Link: <cfg->url>; rel="blocked-by"
 * when cfg->url is set and printable ASCII, Connection: close, Content-Length, Cache-Control:
 * no-store. blocked_url and order are NUL-terminated or NULL; cfg may be NULL.
 * Returns the response length or 0 when it does not fit in cap (cap >= NOTICE_RESPONSE_MAX
 * always fits). Pure; no allocation. */
size_t notice_build_451(char *buf, size_t cap, const struct notice_config *cfg,
                        const char *blocked_url, const char *order);
/* ... for a reason: a tariff or parental block is a "403 Forbidden" with its own page. */
size_t notice_build_451_for(char *buf, size_t cap, const struct notice_config *cfg,
                            const char *blocked_url, const char *order, enum notice_reason reason);

/* ---------------------------------------------------------------- request helpers */

/* Reads a request-target (t, n): any bytes, no terminator needed; origin-form or absolute-form
 * (http:// or https://, scheme case-insensitive, authority skipped). Fills *out: whether the
 * path is the page's, and the url and order query values percent-decoded ('+' is not a space;
 * a bad %XY stays as it is), each cut to its buffer. The last url=/order= pair wins. t NULL:
 * nothing (not the page). Pure; no allocation; reads t[0..n) only. */
void notice_parse_target(const char *t, size_t n, struct notice_request *out);

/* True when order (len bytes) is an order id the page shows: [A-Za-z0-9._-]{1,64}. */
bool notice_order_ok(const char *order, size_t len);

/* True when every field of cfg is in range (the limits above; zero = default) and url,
 * contact_url and contact are acceptable (url printable ASCII, contact_url http(s)/mailto/tel,
 * contact at most NOTICE_CONTACT_MAX bytes). NULL: true (the defaults). */
bool notice_config_valid(const struct notice_config *cfg);

#endif
