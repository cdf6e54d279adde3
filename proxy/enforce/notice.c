/* notice.c - block notice page: response builders and the request-target reader.
 *
 * What it reads (for the page server, proxy/daemon/notice_server.c):
 *
 *   request-target (RFC 9112 3.2)
 *     origin-form     /blocked?url=U&order=O
 *     absolute-form   http://host/blocked?url=U&order=O     (scheme and authority skipped)
 *   path:  "/", "/blocked" or "/blocked/" is the page, anything else is not
 *   query: name=value pairs split on '&', values percent-decoded (a bad %XY stays literal,
 *          '+' stays '+'); url: any bytes, cut to NOTICE_BLOCKED_URL_MAX; order:
 *          [A-Za-z0-9._-]{1,64} or not shown.
 *
 * Everything here is a pure function over its arguments: no allocation, no global state, and
 * no read past a given length. */
#include "proxy/enforce/notice.h"
#include "common/ascii.h"
#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

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
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
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
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
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
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
           strncmp(s, "mailto:", 7) == 0 || strncmp(s, "tel:", 4) == 0;
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
    "</head>\n<body>\n<main>\n";

/* Who restricted the resource: the law (a regulator order), or the subscriber's tariff or
 * parental settings (docs/profiles.md), which are not the regulator's and say so. */
static const char PAGE_LAW[] =
    "<section lang=\"kk\">\n<h1>Бұл ресурсқа қолжетімділік шектелген</h1>\n"
    "<p>Қазақстан Республикасының «Байланыс туралы» Заңының 41-1-бабына сәйкес.</p>\n"
    "</section>\n"
    "<section lang=\"ru\">\n<h1>Доступ к ресурсу ограничен</h1>\n"
    "<p>На основании статьи 41-1 Закона Республики Казахстан «О связи».</p>\n"
    "</section>\n"
    "<section lang=\"en\">\n<h1>Access to this resource is restricted</h1>\n"
    "<p>Under Article 41-1 of the Law of the Republic of Kazakhstan “On Communications”.</p>\n"
    "</section>\n<dl>\n";

static const char PAGE_TARIFF[] =
    "<section lang=\"kk\">\n<h1>Бұл ресурсқа қолжетімділік сіздің тарифіңіздің шарттарымен "
    "шектелген</h1>\n<p>Бұл мемлекеттік бұғаттау емес. Тарифті немесе баптауларды жеке кабинетте "
    "немесе операторда өзгертуге болады.</p>\n</section>\n"
    "<section lang=\"ru\">\n<h1>Доступ к ресурсу ограничен условиями вашего тарифа</h1>\n"
    "<p>Это не блокировка по решению государственного органа. Тариф или настройки можно "
    "изменить в личном кабинете или у оператора.</p>\n</section>\n"
    "<section lang=\"en\">\n<h1>Access to this resource is restricted by your tariff</h1>\n"
    "<p>This is not a block ordered by a state authority. The tariff or its settings can be "
    "changed in your account or with the operator.</p>\n</section>\n<dl>\n";

static const char PAGE_PARENTAL[] =
    "<section lang=\"kk\">\n<h1>Бұл ресурсқа қолжетімділікті ата-ана бақылауының баптаулары "
    "шектеген</h1>\n<p>Бұл мемлекеттік бұғаттау емес. Баптауларды ата-ана жеке кабинетте "
    "өзгерте алады.</p>\n</section>\n"
    "<section lang=\"ru\">\n<h1>Доступ к ресурсу ограничен настройками родительского "
    "контроля</h1>\n<p>Это не блокировка по решению государственного органа. Настройки может "
    "изменить родитель в личном кабинете.</p>\n</section>\n"
    "<section lang=\"en\">\n<h1>Access to this resource is restricted by parental control "
    "settings</h1>\n<p>This is not a block ordered by a state authority. A parent can change the "
    "settings in their account.</p>\n</section>\n<dl>\n";

static const char PAGE_CONTACT_DEFAULT[] =
    "Байланыс операторыңыздың қолдау қызметіне хабарласыңыз. / "
    "Обратитесь в службу поддержки вашего оператора связи. / "
    "Contact your telecom operator's support service.";

static void render_page(struct wbuf *w, const struct notice_config *cfg, const char *url,
                        size_t url_len, const char *order, size_t order_len,
                        enum notice_reason reason)
{
    wb_str(w, PAGE_HEAD);
    wb_str(w, reason == NOTICE_TARIFF     ? PAGE_TARIFF
              : reason == NOTICE_PARENTAL ? PAGE_PARENTAL
                                          : PAGE_LAW);
    if (reason != NOTICE_REGULATOR)
        order = NULL; /* no order behind it */
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

size_t notice_render_page(char *buf, size_t cap, const struct notice_config *cfg,
                          const char *blocked_url, size_t url_len, const char *order,
                          size_t order_len)
{
    return notice_render_page_for(buf, cap, cfg, blocked_url, url_len, order, order_len,
                                  NOTICE_REGULATOR);
}

size_t notice_render_page_for(char *buf, size_t cap, const struct notice_config *cfg,
                              const char *blocked_url, size_t url_len, const char *order,
                              size_t order_len, enum notice_reason reason)
{
    struct wbuf w = { buf, cap, 0, false };
    if (!buf)
        return 0;
    render_page(&w, cfg, blocked_url, url_len, order, order_len, reason);
    return w.over ? 0 : w.len;
}

/* Status line, headers and the page. Returns the length or 0 when it does not fit. */
static size_t build_page_response(char *buf, size_t cap, unsigned status,
                                  const struct notice_config *cfg, const char *url, size_t url_len,
                                  const char *order, size_t order_len, enum notice_reason reason)
{
    struct wbuf count = { NULL, 0, 0, false };
    render_page(&count, cfg, url, url_len, order, order_len, reason);

    struct wbuf w = { buf, cap, 0, false };
    if (status == 451)
        wb_str(&w, "HTTP/1.1 451 Unavailable For Legal Reasons\r\n");
    else if (status == 403)
        wb_str(&w, "HTTP/1.1 403 Forbidden\r\n");
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
    wb_str(&w, "Connection: close\r\n\r\n");
    render_page(&w, cfg, url, url_len, order, order_len, reason);
    return w.over ? 0 : w.len;
}

size_t notice_build_451(char *buf, size_t cap, const struct notice_config *cfg,
                        const char *blocked_url, const char *order)
{
    return notice_build_451_for(buf, cap, cfg, blocked_url, order, NOTICE_REGULATOR);
}

size_t notice_build_451_for(char *buf, size_t cap, const struct notice_config *cfg,
                            const char *blocked_url, const char *order, enum notice_reason reason)
{
    if (!buf)
        return 0;
    return build_page_response(buf, cap, reason == NOTICE_REGULATOR ? 451 : 403, cfg, blocked_url,
                               cstrlen(blocked_url), order, cstrlen(order), reason);
}

size_t notice_build_redirect(char *buf, size_t cap, const char *notice_url, const char *blocked_url,
                             const char *order)
{
    return notice_build_redirect_for(buf, cap, notice_url, blocked_url, order, NOTICE_REGULATOR);
}

enum notice_reason notice_reason_of(enum verdict_cause c)
{
    switch (c) {
    case CAUSE_PARENTAL: return NOTICE_PARENTAL;
    case CAUSE_PROFILE:
    case CAUSE_SCHEDULE:
    case CAUSE_ALLOWLIST: return NOTICE_TARIFF;
    case CAUSE_NONE:
    case CAUSE_REGULATOR: break;
    }
    return NOTICE_REGULATOR;
}

const char *notice_reason_name(enum notice_reason r)
{
    return r == NOTICE_TARIFF ? "tariff" : r == NOTICE_PARENTAL ? "parental" : NULL;
}

size_t notice_build_redirect_for(char *buf, size_t cap, const char *notice_url,
                                 const char *blocked_url, const char *order,
                                 enum notice_reason reason)
{
    if (!buf || !notice_url || !header_safe(notice_url, NOTICE_URL_MAX))
        return 0;
    char loc[NOTICE_URL_MAX + 3 * NOTICE_BLOCKED_URL_MAX + 3 * NOTICE_ORDER_MAX + 32];
    struct wbuf l = { loc, sizeof(loc), 0, false };
    wb_str(&l, notice_url);
    char sep = strchr(notice_url, '?') ? '&' : '?';
    size_t ulen = cstrlen(blocked_url);
    if (ulen) {
        wb_put(&l, &sep, 1);
        wb_str(&l, "url=");
        wb_pct(&l, blocked_url, ulen > NOTICE_BLOCKED_URL_MAX ? NOTICE_BLOCKED_URL_MAX : ulen);
        sep = '&';
    }
    size_t olen = reason == NOTICE_REGULATOR ? cstrlen(order) : 0;
    if (olen && order_ok(order, olen)) {
        wb_put(&l, &sep, 1);
        wb_str(&l, "order=");
        wb_put(&l, order, olen);
        sep = '&';
    }
    if (notice_reason_name(reason)) {
        wb_put(&l, &sep, 1);
        wb_str(&l, "reason=");
        wb_str(&l, notice_reason_name(reason));
    }
    if (l.over)
        return 0;

    struct wbuf body = { NULL, 0, 0, false };
    for (int pass = 0; pass < 2; pass++) {
        struct wbuf *b = &body;
        struct wbuf w = { buf, cap, 0, false };
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

/* ---------------------------------------------------------------- request helpers */

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

bool notice_order_ok(const char *order, size_t len)
{
    return order && order_ok(order, len);
}

bool notice_config_valid(const struct notice_config *cfg)
{
    if (!cfg)
        return true;
    if (cfg->max_connections > NOTICE_CONN_MAX ||
        (cfg->idle_timeout_ms && cfg->idle_timeout_ms < NOTICE_IDLE_MIN_MS) ||
        cfg->idle_timeout_ms > NOTICE_IDLE_MAX_MS ||
        (cfg->max_request_bytes && cfg->max_request_bytes < NOTICE_REQUEST_MIN) ||
        cfg->max_request_bytes > NOTICE_REQUEST_MAX)
        return false;
    if (cfg->url && cfg->url[0] && !header_safe(cfg->url, NOTICE_URL_MAX))
        return false;
    if (cfg->contact_url && cfg->contact_url[0] && !contact_url_ok(cfg->contact_url))
        return false;
    if (cfg->contact && strnlen(cfg->contact, NOTICE_CONTACT_MAX + 1) > NOTICE_CONTACT_MAX)
        return false;
    return true;
}

static bool prefix_ieq(const char *t, size_t n, const char *p)
{
    size_t l = strlen(p);
    if (n < l)
        return false;
    for (size_t i = 0; i < l; i++) {
        uint8_t c = (uint8_t)t[i];
        if ((c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c) != (uint8_t)p[i])
            return false;
    }
    return true;
}

void notice_parse_target(const char *t, size_t n, struct notice_request *q)
{
    q->page = false;
    q->url_len = q->order_len = 0;
    q->has_order = false;
    q->reason = NOTICE_REGULATOR;
    if (!t)
        return;
    /* absolute-form (a proxy-style request): the path starts at the first '/' after "//" */
    size_t skip = prefix_ieq(t, n, "http://") ? 7 : prefix_ieq(t, n, "https://") ? 8 : 0;
    if (skip) {
        size_t i = skip;
        while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
            i++;
        t += i;
        n -= i;
    }
    const char *qm = memchr(t, '?', n);
    size_t pl = qm ? (size_t)(qm - t) : n;
    q->page = (pl == 1 && t[0] == '/') || (pl == 8 && memcmp(t, "/blocked", 8) == 0) ||
              (pl == 9 && memcmp(t, "/blocked/", 9) == 0);
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
            } else if (kl == 6 && memcmp(p, "reason", 6) == 0) {
                size_t vl = (size_t)(e - eq - 1);
                if (vl == 6 && memcmp(eq + 1, "tariff", 6) == 0)
                    q->reason = NOTICE_TARIFF;
                else if (vl == 8 && memcmp(eq + 1, "parental", 8) == 0)
                    q->reason = NOTICE_PARENTAL;
            }
        }
        p = amp ? amp + 1 : end;
    }
}
