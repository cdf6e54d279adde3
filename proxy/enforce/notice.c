/* notice.c - block notice page: response builders and the page server.
 *
 * What it reads (the server side):
 *
 *   HTTP/1.1 (RFC 9112)                 HTTP/2 cleartext (RFC 9113 3.3, RFC 7540 3.2)
 *   GET /blocked?url=U&order=O HTTP/1.1   "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  (24-byte preface)
 *   Host: ...                             +------------------------------+
 *   Connection: keep-alive | close        | len:24 | type:8 | flags:8    |  frames, decoded by
 *   [Upgrade: h2c                         | R:1 | stream id:31           |  nghttp2's server
 *    HTTP2-Settings: base64url(SETTINGS)] | payload ...                  |  session
 *   \r\n                                  +------------------------------+
 *
 *   query: name=value pairs split on '&', values percent-decoded (a bad %XY stays literal);
 *          url: any bytes, cut to NOTICE_BLOCKED_URL_MAX; order: [A-Za-z0-9._-]{1,64} or dropped.
 *
 * The request head goes through http_req_parse (proxy/http.h); this file only looks further for
 * the Connection and HTTP2-Settings values, within the head that parser delimited. Nothing here
 * allocates per request: connections come from a pool made by notice_new(), and responses are
 * rendered into fixed buffers. nghttp2 allocates its session once per HTTP/2 connection. */
#include "proxy/enforce/notice.h"
#include "common/ascii.h"
#include "common/utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/compiler.h"
#include "proxy/dissect/http.h"

#define NOTICE_LISTEN_MAX 4
#define NOTICE_H2_STREAMS 4     /* SETTINGS_MAX_CONCURRENT_STREAMS we announce */
#define NOTICE_PATH_MAX 2048    /* bytes of an h2 :path kept (longer: cut) */
#define NOTICE_ACCEPT_BUDGET 64 /* accepts per readiness event */
#define NOTICE_EVENTS 64

#define DEF_MAX_CONN 256u
#define DEF_IDLE_MS 10000u
#define DEF_MAX_REQ 8192u

/* ---------------------------------------------------------------- bounded writer */

/* Appends into (p, cap); p == NULL only counts. Once something does not fit, over is set and
 * nothing more is written, so callers check once at the end. */
struct wbuf {
    char *p;
    size_t cap;
    size_t len;
    bool over;
};

static void wb_put(struct wbuf *w, const void *s, size_t n)
{
    if (w->over)
        return;
    if (w->p) {
        if (n > w->cap - w->len) {
            w->over = true;
            return;
        }
        memcpy(w->p + w->len, s, n);
    }
    w->len += n;
}

static void wb_str(struct wbuf *w, const char *s)
{
    wb_put(w, s, strlen(s));
}

static void wb_uint(struct wbuf *w, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    wb_put(w, tmp + i, sizeof(tmp) - i);
}

/* ---------------------------------------------------------------- text checks and escaping */

/* Code points never echoed as they are: controls (C0, DEL, C1) and the bidirectional overrides
 * and isolates that would let a hostile URL reorder the text around it. */
static bool cp_unsafe(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

/* Writes (s, n) as HTML text (also safe inside a double- or single-quoted attribute): at most
 * max input bytes, cut at a character boundary with "…" appended; invalid or unsafe sequences
 * become U+FFFD. */
static void wb_html(struct wbuf *w, const char *s, size_t n, size_t max)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t k = utf8_seq(u + i, n - i, &cp);
        size_t step = k ? k : 1;
        if (i + step > max) {
            wb_str(w, "\xe2\x80\xa6"); /* … */
            return;
        }
        if (k == 0 || cp_unsafe(cp)) {
            wb_str(w, "\xef\xbf\xbd");
        } else if (cp == '&') {
            wb_str(w, "&amp;");
        } else if (cp == '<') {
            wb_str(w, "&lt;");
        } else if (cp == '>') {
            wb_str(w, "&gt;");
        } else if (cp == '"') {
            wb_str(w, "&quot;");
        } else if (cp == '\'') {
            wb_str(w, "&#39;");
        } else {
            wb_put(w, u + i, k);
        }
        i += step;
    }
}

static bool unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Percent-encodes every byte but RFC 3986 unreserved ones. */
static void wb_pct(struct wbuf *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (unreserved(c)) {
            wb_put(w, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            wb_put(w, e, 3);
        }
    }
}

static bool order_ok(const char *o, size_t n)
{
    if (n == 0 || n > NOTICE_ORDER_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)o[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Printable ASCII without space: safe to put in a header line and in an attribute (escaped). */
static bool header_safe(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] < 0x21 || (uint8_t)s[i] > 0x7e)
            return false;
    return true;
}

static bool contact_url_ok(const char *s)
{
    if (!header_safe(s, NOTICE_CONTACT_MAX))
        return false;
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 || strncmp(s, "mailto:", 7) == 0 ||
           strncmp(s, "tel:", 4) == 0;
}

static size_t cstrlen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* ---------------------------------------------------------------- the page */

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"kk\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"robots\" content=\"noindex\">\n"
    "<title>Қолжетімділік шектелген · Доступ ограничен · Access restricted</title>\n"
    "<style>body{font-family:sans-serif;margin:0;background:#f4f4f4;color:#222}"
    "main{max-width:44em;margin:2em auto;padding:1.5em 2em;background:#fff;"
    "border-top:6px solid #b00}h1{font-size:1.35em;margin:.2em 0}"
    "section{margin-bottom:1.2em}dt{font-weight:bold;margin-top:.8em}"
    "dd{margin:0;word-break:break-all}</style>\n"
    "</head>\n<body>\n<main>\n"
    "<section lang=\"kk\">\n<h1>Бұл ресурсқа қолжетімділік шектелген</h1>\n"
    "<p>Қазақстан Республикасының «Байланыс туралы» Заңының 41-1-бабына сәйкес.</p>\n"
    "</section>\n"
    "<section lang=\"ru\">\n<h1>Доступ к ресурсу ограничен</h1>\n"
    "<p>На основании статьи 41-1 Закона Республики Казахстан «О связи».</p>\n"
    "</section>\n"
    "<section lang=\"en\">\n<h1>Access to this resource is restricted</h1>\n"
    "<p>Under Article 41-1 of the Law of the Republic of Kazakhstan “On Communications”.</p>\n"
    "</section>\n<dl>\n";

static const char PAGE_CONTACT_DEFAULT[] = "Байланыс операторыңыздың қолдау қызметіне хабарласыңыз. / "
                                           "Обратитесь в службу поддержки вашего оператора связи. / "
                                           "Contact your telecom operator's support service.";

static void render_page(struct wbuf *w, const struct notice_config *cfg, const char *url, size_t url_len,
                        const char *order, size_t order_len)
{
    wb_str(w, PAGE_HEAD);
    if (url && url_len) {
        wb_str(w, "<dt>Ресурс / Ресурс / Resource</dt>\n<dd><code>");
        wb_html(w, url, url_len, NOTICE_BLOCKED_URL_MAX);
        wb_str(w, "</code></dd>\n");
    }
    if (cfg && cfg->show_order && order && order_ok(order, order_len)) {
        wb_str(w, "<dt>Нұсқама / Предписание / Order</dt>\n<dd>");
        wb_put(w, order, order_len); /* [A-Za-z0-9._-] only: nothing to escape */
        wb_str(w, "</dd>\n");
    }
    wb_str(w, "<dt>Шағым беру / Куда обратиться / Where to complain</dt>\n<dd>");
    const char *contact = cfg && cfg->contact && cfg->contact[0] ? cfg->contact : NULL;
    if (contact)
        wb_html(w, contact, strlen(contact), NOTICE_CONTACT_MAX);
    else
        wb_str(w, PAGE_CONTACT_DEFAULT);
    if (cfg && cfg->contact_url && contact_url_ok(cfg->contact_url)) {
        wb_str(w, "<br><a href=\"");
        wb_html(w, cfg->contact_url, strlen(cfg->contact_url), NOTICE_CONTACT_MAX);
        wb_str(w, "\">");
        wb_html(w, cfg->contact_url, strlen(cfg->contact_url), NOTICE_CONTACT_MAX);
        wb_str(w, "</a>");
    }
    wb_str(w, "</dd>\n</dl>\n</main>\n</body>\n</html>\n");
}

size_t notice_render_page(char *buf, size_t cap, const struct notice_config *cfg, const char *blocked_url,
                          size_t url_len, const char *order, size_t order_len)
{
    struct wbuf w = {buf, cap, 0, false};
    if (!buf)
        return 0;
    render_page(&w, cfg, blocked_url, url_len, order, order_len);
    return w.over ? 0 : w.len;
}

/* Status line, headers and the page; head_only leaves the body out (HEAD) but keeps its
 * Content-Length. Returns the length or 0 when it does not fit. */
static size_t build_page_response(char *buf, size_t cap, unsigned status, const struct notice_config *cfg,
                                  const char *url, size_t url_len, const char *order, size_t order_len,
                                  bool keep_alive, bool head_only)
{
    struct wbuf count = {NULL, 0, 0, false};
    render_page(&count, cfg, url, url_len, order, order_len);

    struct wbuf w = {buf, cap, 0, false};
    if (status == 451)
        wb_str(&w, "HTTP/1.1 451 Unavailable For Legal Reasons\r\n");
    else
        wb_str(&w, "HTTP/1.1 200 OK\r\n");
    wb_str(&w, "Content-Type: text/html; charset=utf-8\r\nContent-Length: ");
    wb_uint(&w, count.len);
    wb_str(&w, "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    if (status == 451 && cfg && cfg->url && header_safe(cfg->url, NOTICE_URL_MAX)) {
        wb_str(&w, "Link: <");
        wb_str(&w, cfg->url);
        wb_str(&w, ">; rel=\"blocked-by\"\r\n");
    }
    wb_str(&w, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    if (!head_only)
        render_page(&w, cfg, url, url_len, order, order_len);
    return w.over ? 0 : w.len;
}

size_t notice_build_451(char *buf, size_t cap, const struct notice_config *cfg, const char *blocked_url,
                        const char *order)
{
    if (!buf)
        return 0;
    return build_page_response(buf, cap, 451, cfg, blocked_url, cstrlen(blocked_url), order, cstrlen(order),
                               false, false);
}

size_t notice_build_redirect(char *buf, size_t cap, const char *notice_url, const char *blocked_url,
                             const char *order)
{
    if (!buf || !notice_url || !header_safe(notice_url, NOTICE_URL_MAX))
        return 0;
    char loc[NOTICE_URL_MAX + 3 * NOTICE_BLOCKED_URL_MAX + 3 * NOTICE_ORDER_MAX + 32];
    struct wbuf l = {loc, sizeof(loc), 0, false};
    wb_str(&l, notice_url);
    char sep = strchr(notice_url, '?') ? '&' : '?';
    size_t ulen = cstrlen(blocked_url);
    if (ulen) {
        wb_put(&l, &sep, 1);
        wb_str(&l, "url=");
        wb_pct(&l, blocked_url, ulen > NOTICE_BLOCKED_URL_MAX ? NOTICE_BLOCKED_URL_MAX : ulen);
        sep = '&';
    }
    size_t olen = cstrlen(order);
    if (olen && order_ok(order, olen)) {
        wb_put(&l, &sep, 1);
        wb_str(&l, "order=");
        wb_put(&l, order, olen);
    }
    if (l.over)
        return 0;

    struct wbuf body = {NULL, 0, 0, false};
    for (int pass = 0; pass < 2; pass++) {
        struct wbuf *b = &body;
        struct wbuf w = {buf, cap, 0, false};
        if (pass == 1) {
            wb_str(&w, "HTTP/1.1 302 Found\r\nLocation: ");
            wb_put(&w, loc, l.len);
            wb_str(&w, "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ");
            wb_uint(&w, body.len);
            wb_str(&w, "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
            b = &w;
        }
        wb_str(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>302</title></head>"
                  "<body><a href=\"");
        wb_html(b, loc, l.len, sizeof(loc));
        wb_str(b, "\">Доступ ограничен / Access restricted</a></body></html>\n");
        if (pass == 1)
            return w.over ? 0 : w.len;
    }
    return 0;
}

/* ---------------------------------------------------------------- query and head helpers */

/* Percent-decodes (s, n) into (out, cap); returns the decoded length, at most cap (the rest is
 * dropped: callers size cap above the display cap so that the cut is still visible). */
static size_t pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = ascii_hexval((uint8_t)s[i + 1])) >= 0 &&
            (lo = ascii_hexval((uint8_t)s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

struct query {
    char url[NOTICE_BLOCKED_URL_MAX + 8];
    size_t url_len;
    char order[NOTICE_ORDER_MAX + 2];
    size_t order_len;
    bool has_order;
};

/* Splits target into path (before '?') and the url/order parameters. */
static void parse_target(const char *t, size_t n, size_t *path_len, struct query *q)
{
    q->url_len = q->order_len = 0;
    q->has_order = false;
    const char *qm = memchr(t, '?', n);
    *path_len = qm ? (size_t)(qm - t) : n;
    if (!qm)
        return;
    const char *p = qm + 1, *end = t + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq) {
            size_t kl = (size_t)(eq - p);
            if (kl == 3 && memcmp(p, "url", 3) == 0) {
                q->url_len = pct_decode(eq + 1, (size_t)(e - eq - 1), q->url, sizeof(q->url));
            } else if (kl == 5 && memcmp(p, "order", 5) == 0) {
                q->order_len = pct_decode(eq + 1, (size_t)(e - eq - 1), q->order, sizeof(q->order));
                q->has_order = true;
            }
        }
        p = amp ? amp + 1 : end;
    }
}

static bool span_ieq(const uint8_t *p, size_t n, const char *s)
{
    if (n != strlen(s))
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = p[i], b = (uint8_t)s[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (a != b)
            return false;
    }
    return true;
}

/* Finds the first header named name (lower case) in a head already accepted by http_req_parse;
 * the value is trimmed of SP/HTAB. Bounded by head_len. */
static bool head_find(const uint8_t *h, size_t len, const char *name, struct span *val)
{
    size_t i = 0;
    /* skip the request line (and any empty lines before it) */
    while (i < len && h[i] != '\n')
        i++;
    i++;
    while (i < len) {
        size_t s = i;
        while (i < len && h[i] != '\n')
            i++;
        size_t e = i; /* at '\n' or len */
        i++;
        if (e > s && h[e - 1] == '\r')
            e--;
        if (e == s)
            break; /* the empty line */
        const uint8_t *colon = memchr(h + s, ':', e - s);
        if (!colon || !span_ieq(h + s, (size_t)(colon - (h + s)), name))
            continue;
        size_t vs = (size_t)(colon - h) + 1, ve = e;
        while (vs < ve && (h[vs] == ' ' || h[vs] == '\t'))
            vs++;
        while (ve > vs && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
            ve--;
        val->p = h + vs;
        val->len = ve - vs;
        return true;
    }
    return false;
}

/* True when the comma-separated list (s) holds token (lower case), case-insensitively. */
static bool list_has(struct span s, const char *token)
{
    size_t i = 0;
    while (i < s.len) {
        while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == ','))
            i++;
        size_t b = i;
        while (i < s.len && s.p[i] != ',')
            i++;
        size_t e = i;
        while (e > b && (s.p[e - 1] == ' ' || s.p[e - 1] == '\t'))
            e--;
        if (span_ieq(s.p + b, e - b, token))
            return true;
    }
    return false;
}

/* base64url (RFC 4648 5, padding optional) into out; returns the length or -1. */
static long b64url_decode(struct span s, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.p[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else if (c == '=')
            break;
        else
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

/* ---------------------------------------------------------------- server state */

struct nstream {
    int32_t id; /* 0: free */
    bool head;  /* HEAD request: no body */
    bool bad_method;
    size_t hdr_bytes;
    size_t path_len;
    char path[NOTICE_PATH_MAX];
    unsigned status;
    size_t body_off;
};

struct nconn {
    int fd; /* -1: free */
    bool h2;
    bool close_after;  /* close once out is drained */
    uint32_t ev;       /* events registered with epoll */
    uint64_t deadline; /* CLOCK_MONOTONIC ms */
    struct notice *n;
    nghttp2_session *h2s;
    uint8_t *in;
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    struct nstream st[NOTICE_H2_STREAMS];
};

struct notice {
    struct notice_config cfg;
    char url[NOTICE_URL_MAX + 1];
    char contact[NOTICE_CONTACT_MAX + 1];
    char contact_url[NOTICE_CONTACT_MAX + 1];
    int ep;
    int lfd[NOTICE_LISTEN_MAX];
    unsigned n_listen;
    unsigned port;
    struct nconn *conns;
    unsigned n_open;
    uint8_t *inbufs;
    char *outbufs;
    char scratch[NOTICE_RESPONSE_MAX]; /* h2 bodies are rendered here */
    uint8_t rbuf[16384];               /* h2 input, fed to nghttp2 at once */
    struct notice_counters c;
};

#define TAG_LISTEN (1ull << 32)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int copy_str(char *dst, size_t cap, const char *src, const char **field)
{
    if (!src) {
        *field = NULL;
        return 0;
    }
    size_t n = strnlen(src, cap);
    if (n >= cap)
        return -EINVAL;
    memcpy(dst, src, n + 1);
    *field = dst;
    return 0;
}

struct notice *notice_new(const struct notice_config *cfg)
{
    struct notice_config def = {0};
    if (cfg)
        def = *cfg;
    /* the config table spells "none" as an empty string */
    if (def.url && !def.url[0])
        def.url = NULL;
    if (def.contact && !def.contact[0])
        def.contact = NULL;
    if (def.contact_url && !def.contact_url[0])
        def.contact_url = NULL;
    cfg = &def;
    unsigned maxc = cfg->max_connections ? cfg->max_connections : DEF_MAX_CONN;
    unsigned idle = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEF_IDLE_MS;
    unsigned maxr = cfg->max_request_bytes ? cfg->max_request_bytes : DEF_MAX_REQ;
    if (maxc > 65536 || idle < 10 || idle > 3600000 || maxr < 512 || maxr > 65536 ||
        (cfg->url && !header_safe(cfg->url, NOTICE_URL_MAX)) ||
        (cfg->contact_url && !contact_url_ok(cfg->contact_url))) {
        errno = EINVAL;
        return NULL;
    }
    struct notice *n = calloc(1, sizeof(*n));
    if (!n) {
        errno = ENOMEM;
        return NULL;
    }
    n->ep = -1;
    n->cfg = *cfg;
    n->cfg.max_connections = maxc;
    n->cfg.idle_timeout_ms = idle;
    n->cfg.max_request_bytes = maxr;
    int err = 0;
    if (copy_str(n->url, sizeof(n->url), cfg->url, &n->cfg.url) ||
        copy_str(n->contact, sizeof(n->contact), cfg->contact, &n->cfg.contact) ||
        copy_str(n->contact_url, sizeof(n->contact_url), cfg->contact_url, &n->cfg.contact_url)) {
        err = EINVAL;
        goto fail;
    }
    n->conns = calloc(maxc, sizeof(*n->conns));
    n->inbufs = malloc((size_t)maxc * maxr);
    n->outbufs = malloc((size_t)maxc * NOTICE_RESPONSE_MAX);
    if (!n->conns || !n->inbufs || !n->outbufs) {
        /* conns[] is zeroed but not set up (fd 0, no owner): notice_free() must not close it */
        free(n->conns);
        n->conns = NULL;
        err = ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < maxc; i++) {
        n->conns[i].fd = -1;
        n->conns[i].n = n;
        n->conns[i].in = n->inbufs + (size_t)i * maxr;
        n->conns[i].out = n->outbufs + (size_t)i * NOTICE_RESPONSE_MAX;
    }
    n->ep = epoll_create1(EPOLL_CLOEXEC);
    if (n->ep < 0) {
        err = errno;
        goto fail;
    }
    return n;
fail:
    notice_free(n);
    errno = err;
    return NULL;
}

int notice_listen(struct notice *n, const char *addr)
{
    if (!n || !addr || n->n_listen >= NOTICE_LISTEN_MAX)
        return -EINVAL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        goto bad;
    const char *hs = addr, *he = colon;
    if (*hs == '[') {
        if (he[-1] != ']')
            goto bad;
        hs++, he--;
    }
    if ((size_t)(he - hs) >= sizeof(host))
        goto bad;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = 0;
    char *endp;
    unsigned long port = strtoul(colon + 1, &endp, 10);
    if (*endp || colon[1] == 0 || port > 65535)
        goto bad;
    if (addr[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            goto bad;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof(*s4);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto sys;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        goto sys;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN | n->n_listen};
    if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        goto sys;
    }
    if (n->n_listen == 0) {
        struct sockaddr_storage got;
        socklen_t gl = sizeof(got);
        if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
            n->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                      : ((struct sockaddr_in *)&got)->sin_port);
    }
    n->lfd[n->n_listen++] = fd;
    return 0;
bad:
    fprintf(stderr, "notice: listen address '%s': expected IPv4:port or [IPv6]:port\n", addr);
    return -EINVAL;
sys : {
    int e = errno;
    fprintf(stderr, "notice: listen on '%s' failed: %s\n", addr, strerror(e));
    return -e;
}
}

unsigned notice_port(const struct notice *n)
{
    return n ? n->port : 0;
}

void notice_stats(const struct notice *n, struct notice_counters *out, unsigned *open_now)
{
    *out = n->c;
    if (open_now)
        *open_now = n->n_open;
}

size_t notice_render_451(const struct notice *n, char *buf, size_t cap, const char *blocked_url,
                         const char *order)
{
    return notice_build_451(buf, cap, n ? &n->cfg : NULL, blocked_url, order);
}

static void conn_close(struct nconn *k)
{
    if (k->fd < 0)
        return;
    epoll_ctl(k->n->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    k->fd = -1;
    if (k->h2s) {
        nghttp2_session_del(k->h2s);
        k->h2s = NULL;
    }
    k->n->n_open--;
}

void notice_free(struct notice *n)
{
    if (!n)
        return;
    if (n->conns)
        for (unsigned i = 0; i < n->cfg.max_connections; i++)
            conn_close(&n->conns[i]);
    for (unsigned i = 0; i < n->n_listen; i++)
        close(n->lfd[i]);
    if (n->ep >= 0)
        close(n->ep);
    free(n->conns);
    free(n->inbufs);
    free(n->outbufs);
    free(n);
}

/* ---------------------------------------------------------------- routing */

enum route { ROUTE_PAGE, ROUTE_NOT_FOUND };

static enum route route_path(const char *p, size_t n)
{
    if ((n == 1 && p[0] == '/') || (n == 8 && memcmp(p, "/blocked", 8) == 0) ||
        (n == 9 && memcmp(p, "/blocked/", 9) == 0))
        return ROUTE_PAGE;
    return ROUTE_NOT_FOUND;
}

static void count_status(struct notice *n, unsigned status)
{
    if (status == 200)
        n->c.status_200++;
    else if (status == 404)
        n->c.status_404++;
    else if (status == 405)
        n->c.status_405++;
}

/* A small plain response (errors, 101) into k->out. */
static void put_simple(struct nconn *k, unsigned status, const char *reason, bool keep_alive, bool head_only,
                       const char *extra)
{
    struct wbuf w = {k->out + k->out_len, NOTICE_RESPONSE_MAX - k->out_len, 0, false};
    char body[64];
    struct wbuf b = {body, sizeof(body), 0, false};
    wb_uint(&b, status);
    wb_str(&b, " ");
    wb_str(&b, reason);
    wb_str(&b, "\n");
    wb_str(&w, "HTTP/1.1 ");
    wb_put(&w, body, b.len - 1);
    wb_str(&w, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    wb_uint(&w, b.len);
    wb_str(&w, "\r\nCache-Control: no-store\r\n");
    if (extra)
        wb_str(&w, extra);
    wb_str(&w, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    if (!head_only)
        wb_put(&w, body, b.len);
    if (!w.over)
        k->out_len += w.len;
    if (!keep_alive)
        k->close_after = true;
}

/* ---------------------------------------------------------------- HTTP/2 */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s, (void)flags;
    struct nconn *k = ud;
    size_t room = NOTICE_RESPONSE_MAX - k->out_len;
    if (room == 0)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (len > room)
        len = room;
    memcpy(k->out + k->out_len, data, len);
    k->out_len += len;
    return (ssize_t)len;
}

static struct nstream *h2_stream_get(struct nconn *k, int32_t id)
{
    for (unsigned i = 0; i < NOTICE_H2_STREAMS; i++)
        if (k->st[i].id == id)
            return &k->st[i];
    return NULL;
}

static int h2_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct nconn *k = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct nstream *st = h2_stream_get(k, 0);
    if (!st) { /* nghttp2 refuses these itself once our SETTINGS are acked; counted when sent */
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    memset(st, 0, offsetof(struct nstream, path));
    st->id = f->hd.stream_id;
    return 0;
}

static int h2_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)s, (void)flags;
    struct nconn *k = ud;
    struct nstream *st = h2_stream_get(k, f->hd.stream_id);
    if (!st)
        return 0;
    st->hdr_bytes += namelen + valuelen + 32; /* RFC 9113 6.5.2 accounting */
    if (st->hdr_bytes > k->n->cfg.max_request_bytes) {
        k->n->c.closed_oversize++;
        st->id = 0;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    }
    if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        st->path_len = valuelen < NOTICE_PATH_MAX ? valuelen : NOTICE_PATH_MAX;
        memcpy(st->path, value, st->path_len);
    } else if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        st->head = valuelen == 4 && memcmp(value, "HEAD", 4) == 0;
        st->bad_method = !st->head && !(valuelen == 3 && memcmp(value, "GET", 3) == 0);
    }
    return 0;
}

/* Renders the stream's body into n->scratch (deterministic, so each DATA frame re-renders and
 * copies its slice: nothing is kept per stream but the path). */
static size_t h2_body(struct nconn *k, struct nstream *st)
{
    struct notice *n = k->n;
    if (st->status != 200) {
        struct wbuf w = {n->scratch, sizeof(n->scratch), 0, false};
        wb_uint(&w, st->status);
        wb_str(&w, st->status == 404 ? " Not Found\n" : " Method Not Allowed\n");
        return w.len;
    }
    struct query q;
    size_t pl;
    parse_target(st->path, st->path_len, &pl, &q);
    return notice_render_page(n->scratch, sizeof(n->scratch), &n->cfg, q.url, q.url_len, q.order,
                              q.order_len);
}

static ssize_t h2_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *dflags,
                          nghttp2_data_source *src, void *ud)
{
    (void)s, (void)src;
    struct nconn *k = ud;
    struct nstream *st = h2_stream_get(k, id);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t total = h2_body(k, st);
    size_t left = total > st->body_off ? total - st->body_off : 0;
    if (len > left)
        len = left;
    memcpy(buf, k->n->scratch + st->body_off, len);
    st->body_off += len;
    if (st->body_off >= total)
        *dflags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

static int h2_respond(struct nconn *k, struct nstream *st)
{
    struct notice *n = k->n;
    struct query q;
    size_t pl;
    parse_target(st->path, st->path_len, &pl, &q);
    if (st->bad_method)
        st->status = 405;
    else
        st->status = route_path(st->path, pl) == ROUTE_PAGE ? 200 : 404;
    if (st->status == 200 && q.has_order && !order_ok(q.order, q.order_len))
        n->c.bad_order++;
    char status[4], clen[24];
    struct wbuf ws = {status, sizeof(status), 0, false};
    wb_uint(&ws, st->status);
    size_t total = h2_body(k, st);
    struct wbuf wc = {clen, sizeof(clen), 0, false};
    wb_uint(&wc, total);
    const char *ctype = st->status == 200 ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
#define NV(a, b, bl) {(uint8_t *)(a), (uint8_t *)(b), sizeof(a) - 1, (bl), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv hdrs[] = {
        NV(":status", status, ws.len),      NV("content-type", ctype, strlen(ctype)),
        NV("content-length", clen, wc.len), NV("cache-control", "no-store", 8),
        NV("allow", "GET, HEAD", 9),
    };
#undef NV
    size_t nh = st->status == 405 ? 5 : 4;
    nghttp2_data_provider dp = {.source.ptr = NULL, .read_callback = h2_read_cb};
    st->body_off = 0;
    n->c.requests_h2++;
    count_status(n, st->status);
    k->deadline = now_ms() + n->cfg.idle_timeout_ms;
    return nghttp2_submit_response(k->h2s, st->id, hdrs, nh, st->head ? NULL : &dp);
}

static int h2_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    struct nconn *k = ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct nstream *st = h2_stream_get(k, f->hd.stream_id);
    if (!st || st->id == 0)
        return 0;
    if (h2_respond(k, st) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int h2_frame_send_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    struct nconn *k = ud;
    if (f->hd.type == NGHTTP2_RST_STREAM && f->rst_stream.error_code == NGHTTP2_REFUSED_STREAM)
        k->n->c.h2_streams_refused++;
    return 0;
}

static int h2_stream_close_cb(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s, (void)code;
    struct nconn *k = ud;
    struct nstream *st = h2_stream_get(k, id);
    if (st && id != 0)
        st->id = 0;
    return 0;
}

static int h2_start(struct nconn *k)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cb, h2_send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame_recv_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_stream_close_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2_frame_send_cb);
    int rv = nghttp2_session_server_new(&k->h2s, cb, k);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        return -ENOMEM;
    for (unsigned i = 0; i < NOTICE_H2_STREAMS; i++)
        k->st[i].id = 0;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, NOTICE_H2_STREAMS},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, k->n->cfg.max_request_bytes},
    };
    k->h2 = true;
    return nghttp2_submit_settings(k->h2s, NGHTTP2_FLAG_NONE, iv, ARRAY_LEN(iv)) == 0 ? 0 : -EIO;
}

/* Feeds buffered bytes to the session. Returns false when the connection must close. */
static bool h2_feed(struct nconn *k, const uint8_t *p, size_t len)
{
    if (len == 0)
        return true;
    ssize_t rv = nghttp2_session_mem_recv(k->h2s, p, len);
    if (rv < 0) {
        k->n->c.bad_request++;
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- HTTP/1.1 */

/* Answers one parsed request into k->out. */
static void h1_answer(struct nconn *k, const struct http_req *r)
{
    struct notice *n = k->n;
    n->c.requests_h1++;
    bool v11 = r->version.len == 8 && memcmp(r->version.p, "HTTP/1.1", 8) == 0;
    struct span conn = {NULL, 0};
    bool has_conn = head_find(k->in, r->head_len, "connection", &conn);
    bool keep = v11 ? !(has_conn && list_has(conn, "close")) : (has_conn && list_has(conn, "keep-alive"));
    if ((r->has_content_length && r->content_length > 0) || r->chunked)
        keep = false; /* bodies are not read: answer, then close */
    bool head = r->method.len == 4 && memcmp(r->method.p, "HEAD", 4) == 0;
    bool get = r->method.len == 3 && memcmp(r->method.p, "GET", 3) == 0;

    const char *tp = (const char *)r->target.p;
    size_t tl = r->target.len;
    if (r->abs_authority.len) { /* absolute-form (a proxy-style request) */
        tp = (const char *)r->abs_path.p;
        tl = r->abs_path.len;
    }
    struct query q;
    size_t pl = 0;
    if (tl)
        parse_target(tp, tl, &pl, &q);
    else
        q.url_len = q.order_len = 0, q.has_order = false;

    if (!get && !head) {
        count_status(n, 405);
        put_simple(k, 405, "Method Not Allowed", keep, false, "Allow: GET, HEAD\r\n");
        return;
    }
    if (tl == 0 || route_path(tp, pl) != ROUTE_PAGE) {
        count_status(n, 404);
        put_simple(k, 404, "Not Found", keep, head, NULL);
        return;
    }
    struct span h2set;
    if (v11 && get && r->upgrade_h2c && !r->has_content_length && !r->chunked && has_conn &&
        list_has(conn, "upgrade") && head_find(k->in, r->head_len, "http2-settings", &h2set)) {
        uint8_t settings[256];
        long sl = b64url_decode(h2set, settings, sizeof(settings));
        if (sl >= 0 && h2_start(k) == 0) {
            struct nstream *st = &k->st[0];
            memset(st, 0, offsetof(struct nstream, path));
            st->id = 1;
            st->path_len = tl < NOTICE_PATH_MAX ? tl : NOTICE_PATH_MAX;
            memcpy(st->path, tp, st->path_len);
            if (nghttp2_session_upgrade2(k->h2s, settings, (size_t)sl, 0, NULL) == 0) {
                static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                         "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
                memcpy(k->out, sw, sizeof(sw) - 1);
                k->out_len = sizeof(sw) - 1;
                n->c.upgrades_h2c++;
                n->c.requests_h1--; /* counted as an h2 stream by h2_respond */
                if (h2_respond(k, st) == 0)
                    return;
            }
            nghttp2_session_del(k->h2s);
            k->h2s = NULL;
            k->h2 = false;
        }
        /* an unusable upgrade is ignored: answer over HTTP/1.1 (RFC 9113 3.2 allows it) */
    }

    if (q.has_order && !order_ok(q.order, q.order_len))
        n->c.bad_order++;
    count_status(n, 200);
    size_t len = build_page_response(k->out + k->out_len, NOTICE_RESPONSE_MAX - k->out_len, 200, &n->cfg,
                                     q.url, q.url_len, q.order, q.order_len, keep, head);
    k->out_len += len;
    if (!keep)
        k->close_after = true;
}

/* Parses and answers what is buffered while nothing is waiting to be written.
 * Returns false when the connection must close now. */
static bool h1_process(struct nconn *k)
{
    struct notice *n = k->n;
    while (!k->h2 && k->out_len == 0 && !k->close_after && k->in_len > 0) {
        if (http_is_h2_preface(k->in, k->in_len)) {
            if (k->in_len < 24)
                return true;
            if (h2_start(k) != 0)
                return false;
            size_t len = k->in_len;
            k->in_len = 0;
            return h2_feed(k, k->in, len);
        }
        struct http_req r;
        size_t err_off = 0;
        enum dstatus st = http_req_parse(k->in, k->in_len, &r, &err_off);
        if (st == DS_NEED_MORE) {
            if (k->in_len < n->cfg.max_request_bytes)
                return true;
            st = DS_LIMIT;
        }
        if (st == DS_LIMIT) {
            n->c.closed_oversize++;
            put_simple(k, 431, "Request Header Fields Too Large", false, false, NULL);
            k->in_len = 0;
            return true;
        }
        if (st != DS_OK) {
            n->c.bad_request++;
            put_simple(k, 400, "Bad Request", false, false, NULL);
            k->in_len = 0;
            return true;
        }
        h1_answer(k, &r);
        k->deadline = now_ms() + n->cfg.idle_timeout_ms;
        size_t used = r.head_len;
        if (k->h2) {
            size_t rest = k->in_len - used;
            k->in_len = 0;
            return h2_feed(k, k->in + used, rest);
        }
        if (k->close_after) {
            k->in_len = 0;
        } else {
            memmove(k->in, k->in + used, k->in_len - used);
            k->in_len -= used;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- I/O */

static void conn_events(struct nconn *k)
{
    uint32_t ev = 0;
    bool pending = k->out_off < k->out_len;
    if (k->h2) {
        if (nghttp2_session_want_read(k->h2s) && !pending)
            ev |= EPOLLIN;
    } else if (!pending && !k->close_after && k->in_len < k->n->cfg.max_request_bytes) {
        ev |= EPOLLIN;
    }
    if (pending)
        ev |= EPOLLOUT;
    if (ev != k->ev) {
        struct epoll_event e = {.events = ev, .data.u64 = (uint64_t)(k - k->n->conns)};
        epoll_ctl(k->n->ep, EPOLL_CTL_MOD, k->fd, &e);
        k->ev = ev;
    }
}

/* Writes what is pending, lets nghttp2 queue more, and decides whether to close.
 * Returns false when the connection was closed. */
static bool conn_flush(struct nconn *k)
{
    for (int round = 0; round < 64; round++) {
        while (k->out_off < k->out_len) {
            ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    goto wait;
                if (errno == EINTR)
                    continue;
                k->n->c.io_errors++;
                conn_close(k);
                return false;
            }
            k->out_off += (size_t)w;
        }
        k->out_off = k->out_len = 0;
        if (k->close_after) {
            conn_close(k);
            return false;
        }
        if (k->h2) {
            if (nghttp2_session_send(k->h2s) != 0) {
                conn_close(k);
                return false;
            }
            if (k->out_len == 0) {
                if (!nghttp2_session_want_read(k->h2s) && !nghttp2_session_want_write(k->h2s)) {
                    conn_close(k);
                    return false;
                }
                break;
            }
        } else {
            if (!h1_process(k)) {
                conn_close(k);
                return false;
            }
            if (k->out_len == 0)
                break;
        }
    }
wait:
    conn_events(k);
    return true;
}

static void conn_readable(struct nconn *k)
{
    struct notice *n = k->n;
    for (int round = 0; round < 16; round++) {
        uint8_t *dst;
        size_t room;
        if (k->h2) {
            dst = n->rbuf;
            room = sizeof(n->rbuf);
        } else {
            dst = k->in + k->in_len;
            room = n->cfg.max_request_bytes - k->in_len;
            if (room == 0 || k->out_len || k->close_after)
                break;
        }
        ssize_t r = recv(k->fd, dst, room, 0);
        if (r == 0) {
            conn_close(k);
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            n->c.io_errors++;
            conn_close(k);
            return;
        }
        if (k->h2) {
            if (!h2_feed(k, dst, (size_t)r)) {
                conn_close(k);
                return;
            }
        } else {
            k->in_len += (size_t)r;
            if (!h1_process(k)) {
                conn_close(k);
                return;
            }
            if (k->h2 || k->out_len)
                break;
        }
    }
    conn_flush(k);
}

static void do_accept(struct notice *n, int lfd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Retry-After: 1\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < NOTICE_ACCEPT_BUDGET; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                n->c.io_errors++;
            return;
        }
        struct nconn *k = NULL;
        if (n->n_open < n->cfg.max_connections)
            for (unsigned j = 0; j < n->cfg.max_connections; j++)
                if (n->conns[j].fd < 0) {
                    k = &n->conns[j];
                    break;
                }
        if (!k) {
            n->c.refused++;
            (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        k->fd = fd;
        k->h2 = k->close_after = false;
        k->h2s = NULL;
        k->in_len = k->out_len = k->out_off = 0;
        k->deadline = now_ms() + n->cfg.idle_timeout_ms;
        k->ev = EPOLLIN;
        struct epoll_event e = {.events = k->ev, .data.u64 = (uint64_t)(k - n->conns)};
        if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
            n->c.io_errors++;
            close(fd);
            k->fd = -1;
            continue;
        }
        n->n_open++;
        n->c.accepted++;
    }
}

/* Closes connections past their deadline; returns ms until the next one (-1: none). */
static int sweep(struct notice *n)
{
    if (n->n_open == 0)
        return -1;
    uint64_t now = now_ms(), next = UINT64_MAX;
    for (unsigned i = 0; i < n->cfg.max_connections; i++) {
        struct nconn *k = &n->conns[i];
        if (k->fd < 0)
            continue;
        if (k->deadline <= now) {
            n->c.closed_idle++;
            conn_close(k);
        } else if (k->deadline < next) {
            next = k->deadline;
        }
    }
    if (next == UINT64_MAX)
        return -1;
    return next - now > 3600000u ? 3600000 : (int)(next - now);
}

int notice_run_once(struct notice *n, int timeout_ms)
{
    int until = sweep(n);
    if (until >= 0 && (timeout_ms < 0 || until < timeout_ms))
        timeout_ms = until + 1;
    struct epoll_event evs[NOTICE_EVENTS];
    int got = epoll_wait(n->ep, evs, NOTICE_EVENTS, timeout_ms);
    if (got < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < got; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag & TAG_LISTEN) {
            do_accept(n, n->lfd[tag & 0xffffffffu]);
            continue;
        }
        struct nconn *k = &n->conns[tag];
        if (k->fd < 0)
            continue;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            conn_readable(k);
        else if (evs[i].events & EPOLLOUT)
            conn_flush(k);
    }
    sweep(n);
    return got;
}

int notice_run(struct notice *n, volatile const int *stop)
{
    while (!*stop) {
        int rv = notice_run_once(n, 100);
        if (rv < 0)
            return rv;
    }
    return 0;
}
