/* check_notice.c - Check suite for the block notice page (proxy/notice.c).
 *
 * Pure builders: exact status lines and headers, escaping of hostile url/order values, UTF-8
 * validity, every truncation of the output buffer. Live: the server runs in a thread on
 * 127.0.0.1 (ephemeral port) and real clients talk to it: curl over HTTP/1.1, h2c with prior
 * knowledge and Upgrade: h2c, nghttp (Debian nghttp2-client), and raw sockets for keep-alive,
 * pipelining, oversize heads, slowloris and the connection cap. Traffic goes to 127.0.0.1
 * only. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/enforce/notice.h"

static char buf[NOTICE_RESPONSE_MAX];

/* Independent UTF-8 check (RFC 3629). */
static bool utf8_valid(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint8_t c = u[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k > n)
            return false;
        for (size_t j = 1; j < k; j++) {
            if ((u[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (u[i + j] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

/* Splits a response into head and body and checks the framing: every head line ends in CRLF,
 * holds no bare CR/LF or control byte, and Content-Length equals the body length. */
static const char *check_framing(const char *r, size_t len, size_t *body_len)
{
    const char *end = memmem(r, len, "\r\n\r\n", 4);
    ck_assert_msg(end != NULL, "no end of head");
    size_t head_len = (size_t)(end - r) + 4;
    for (size_t i = 0; i < head_len; i++) {
        uint8_t c = (uint8_t)r[i];
        if (c == '\r')
            ck_assert_msg(i + 1 < head_len && r[i + 1] == '\n', "bare CR at %zu", i);
        else if (c == '\n')
            ck_assert_msg(i > 0 && r[i - 1] == '\r', "bare LF at %zu", i);
        else
            ck_assert_msg(c >= 0x20 && c < 0x7f, "byte 0x%02x in head at %zu", c, i);
    }
    const char *cl = memmem(r, head_len, "\r\nContent-Length: ", 18);
    ck_assert_msg(cl != NULL, "no Content-Length");
    unsigned long v = strtoul(cl + 18, NULL, 10);
    ck_assert_uint_eq(v, len - head_len);
    *body_len = len - head_len;
    return r + head_len;
}

static bool has(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* ---------------------------------------------------------------- redirect */

START_TEST(redirect_exact)
{
    size_t n = notice_build_redirect(buf, sizeof(buf), "http://notice.example/blocked",
                                     "http://bad.example/a b?c=d&e=ф", "KZ-2024.001_a");
    ck_assert_uint_gt(n, 0);
    static const char head[] =
        "HTTP/1.1 302 Found\r\n"
        "Location: http://notice.example/blocked?url=http%3A%2F%2Fbad.example%2Fa%20b%3Fc%3Dd%26"
        "e%3D%D1%84&order=KZ-2024.001_a\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Length: ";
    ck_assert_msg(strncmp(buf, head, sizeof(head) - 1) == 0, "got: %.*s", (int)n, buf);
    ck_assert(has(buf, n, "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"));
    size_t bl;
    const char *body = check_framing(buf, n, &bl);
    ck_assert(utf8_valid(body, bl));
    ck_assert(has(body, bl,
                  "href=\"http://notice.example/blocked?url=http%3A%2F%2Fbad.example"
                  "%2Fa%20b%3Fc%3Dd%26e%3D%D1%84&amp;order=KZ-2024.001_a\""));
}
END_TEST

START_TEST(redirect_query_sep_and_optional)
{
    size_t n = notice_build_redirect(buf, sizeof(buf), "https://n.example/p?lang=ru", "x", NULL);
    ck_assert(has(buf, n, "\r\nLocation: https://n.example/p?lang=ru&url=x\r\n"));
    n = notice_build_redirect(buf, sizeof(buf), "https://n.example/", NULL, "A1");
    ck_assert(has(buf, n, "\r\nLocation: https://n.example/?order=A1\r\n"));
    n = notice_build_redirect(buf, sizeof(buf), "https://n.example/", "", "");
    ck_assert(has(buf, n, "\r\nLocation: https://n.example/\r\n"));
}
END_TEST

START_TEST(redirect_bad_notice_url)
{
    ck_assert_uint_eq(notice_build_redirect(buf, sizeof(buf), NULL, "x", "1"), 0);
    ck_assert_uint_eq(notice_build_redirect(buf, sizeof(buf), "", "x", "1"), 0);
    ck_assert_uint_eq(notice_build_redirect(buf, sizeof(buf), "http://a/\r\nSet-Cookie: a=b", "x", "1"), 0);
    ck_assert_uint_eq(notice_build_redirect(buf, sizeof(buf), "http://a/ b", "x", "1"), 0);
    ck_assert_uint_eq(notice_build_redirect(buf, sizeof(buf), "http://a/\xd1\x84", "x", "1"), 0);
    char longu[NOTICE_URL_MAX + 2];
    memset(longu, 'a', sizeof(longu) - 1);
    longu[sizeof(longu) - 1] = 0;
    ck_assert_uint_eq(notice_build_redirect(buf, sizeof(buf), longu, "x", "1"), 0);
    longu[NOTICE_URL_MAX] = 0; /* exactly the cap: accepted */
    ck_assert_uint_gt(notice_build_redirect(buf, sizeof(buf), longu, "x", "1"), 0);
}
END_TEST

static const char *hostile_orders[] = {
    "<script>alert(1)</script>",
    "a\r\nSet-Cookie: x=1",
    "a b",
    "a%0d%0a",
    "\xd0\xb0",                                                          /* Cyrillic a */
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
    "a\"b",
    "a&b=c",
};

START_TEST(redirect_hostile_order_dropped)
{
    const char *o = hostile_orders[_i];
    size_t n = notice_build_redirect(buf, sizeof(buf), "http://n.example/", "u", o);
    ck_assert_uint_gt(n, 0);
    ck_assert(has(buf, n, "\r\nLocation: http://n.example/?url=u\r\n"));
    ck_assert(!has(buf, n, "order="));
    size_t bl;
    (void)check_framing(buf, n, &bl);
}
END_TEST

START_TEST(redirect_hostile_url_encoded)
{
    const char *u = "http://x/\r\nSet-Cookie: a=1\r\n\r\n<script>\"'\x01\xff";
    size_t n = notice_build_redirect(buf, sizeof(buf), "http://n.example/", u, "O-1");
    size_t bl;
    const char *body = check_framing(buf, n, &bl);
    ck_assert(has(buf, n,
                  "url=http%3A%2F%2Fx%2F%0D%0ASet-Cookie%3A%20a%3D1%0D%0A%0D%0A%3Cscript"
                  "%3E%22%27%01%FF&order=O-1\r\n"));
    ck_assert(!has(buf, n, "\r\nSet-Cookie"));
    ck_assert(!has(body, bl, "<script"));
    ck_assert(utf8_valid(body, bl));
}
END_TEST

START_TEST(redirect_long_url_capped)
{
    char u[5000];
    memset(u, 'a', sizeof(u) - 1);
    u[sizeof(u) - 1] = 0;
    size_t n = notice_build_redirect(buf, sizeof(buf), "http://n.example/", u, "Z");
    ck_assert_uint_gt(n, 0);
    const char *loc = memmem(buf, n, "url=", 4);
    ck_assert_ptr_nonnull(loc);
    size_t run = strspn(loc + 4, "a");
    ck_assert_uint_eq(run, NOTICE_BLOCKED_URL_MAX);
    ck_assert(strncmp(loc + 4 + run, "&order=Z\r\n", 10) == 0);
}
END_TEST

/* Every cap below the full length gives 0; the full length gives exactly the same bytes. */
START_TEST(redirect_every_cap)
{
    static char full[NOTICE_RESPONSE_MAX], part[NOTICE_RESPONSE_MAX];
    size_t n = notice_build_redirect(full, sizeof(full), "http://n.example/b", "http://x/й", "O");
    ck_assert_uint_gt(n, 0);
    for (size_t cap = 0; cap <= n; cap++) {
        memset(part, 0x5a, sizeof(part));
        size_t m = notice_build_redirect(part, cap, "http://n.example/b", "http://x/й", "O");
        if (cap < n) {
            ck_assert_msg(m == 0, "cap %zu gave %zu", cap, m);
        } else {
            ck_assert_uint_eq(m, n);
            ck_assert(memcmp(part, full, n) == 0);
        }
        ck_assert_msg(part[cap] == 0x5a, "wrote past cap %zu", cap);
    }
}
END_TEST

/* ---------------------------------------------------------------- 451 and the page */

START_TEST(page_451_exact_head)
{
    struct notice_config cfg = {.url = "https://notice.example/blocked", .show_order = true};
    size_t n = notice_build_451(buf, sizeof(buf), &cfg, "http://bad.example/x", "ORD-7");
    static const char head[] = "HTTP/1.1 451 Unavailable For Legal Reasons\r\n"
                               "Content-Type: text/html; charset=utf-8\r\n"
                               "Content-Length: ";
    ck_assert(strncmp(buf, head, sizeof(head) - 1) == 0);
    ck_assert(has(buf, n, "\r\nCache-Control: no-store\r\n"));
    ck_assert(has(buf, n, "\r\nLink: <https://notice.example/blocked>; rel=\"blocked-by\"\r\n"));
    ck_assert(has(buf, n, "\r\nConnection: close\r\n\r\n<!DOCTYPE html>"));
    size_t bl;
    const char *body = check_framing(buf, n, &bl);
    ck_assert(utf8_valid(body, bl));
    ck_assert(has(body, bl, "Доступ к ресурсу ограничен"));
    ck_assert(has(body, bl, "Закона Республики Казахстан «О связи»"));
    ck_assert(has(body, bl, "статьи 41-1"));
    ck_assert(has(body, bl, "Бұл ресурсқа қолжетімділік шектелген"));
    ck_assert(has(body, bl, "«Байланыс туралы» Заңының 41-1-бабына"));
    ck_assert(has(body, bl, "Access to this resource is restricted"));
    ck_assert(has(body, bl, "<dd><code>http://bad.example/x</code></dd>"));
    ck_assert(has(body, bl, "<dd>ORD-7</dd>"));
    ck_assert(has(body, bl, "Contact your telecom operator"));
}
END_TEST

START_TEST(page_451_no_link_without_url)
{
    size_t n = notice_build_451(buf, sizeof(buf), NULL, NULL, "ORD-7");
    ck_assert_uint_gt(n, 0);
    ck_assert(!has(buf, n, "Link:"));
    ck_assert(!has(buf, n, "ORD-7")); /* show_order defaults to false */
    ck_assert(!has(buf, n, "Resource</dt>"));
    struct notice_config cfg = {.url = "http://a/\r\nX: y"};
    n = notice_build_451(buf, sizeof(buf), &cfg, NULL, NULL);
    ck_assert(!has(buf, n, "Link:"));
}
END_TEST

struct esc_case {
    const char *in;
    const char *shown; /* what must appear inside <code>...</code> */
};

static const struct esc_case esc_cases[] = {
    {"<script>alert('x')</script>\"&", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"},
    {"a\xff"
     "b",
     "a\xef\xbf\xbd"
     "b"}, /* invalid byte */
    {"a\xc0\xaf"
     "b",
     "a\xef\xbf\xbd\xef\xbf\xbd"
     "b"},                                                      /* overlong '/' */
    {"a\xed\xa0\x80", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
    {"a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd"},                 /* cut sequence */
    {"a\xe2\x80\xae"
     "gpj.exe",
     "a\xef\xbf\xbd"
     "gpj.exe"}, /* U+202E RLO */
    {"a\r\n\x1b[31m", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd[31m"},
    {"a\xc2\x85", "a\xef\xbf\xbd"}, /* C1 NEL */
    {"пример.қаз/ё", "пример.қаз/ё"},
};

START_TEST(page_escapes_url)
{
    const struct esc_case *c = &esc_cases[_i];
    size_t n = notice_render_page(buf, sizeof(buf), NULL, c->in, strlen(c->in), NULL, 0);
    ck_assert_uint_gt(n, 0);
    ck_assert(utf8_valid(buf, n));
    char want[256];
    snprintf(want, sizeof(want), "<code>%s</code>", c->shown);
    ck_assert_msg(has(buf, n, want), "case %d: want %s", _i, want);
    ck_assert(!has(buf, n, "<script>"));
}
END_TEST

START_TEST(page_hostile_order)
{
    struct notice_config cfg = {.show_order = true};
    const char *o = hostile_orders[_i];
    size_t n = notice_render_page(buf, sizeof(buf), &cfg, "u", 1, o, strlen(o));
    ck_assert_uint_gt(n, 0);
    ck_assert(!has(buf, n, "Order</dt>"));
    ck_assert(!has(buf, n, "<script>"));
    /* 64 characters is the limit, and is shown */
    n = notice_render_page(buf, sizeof(buf), &cfg, "u", 1, o, 64 < strlen(o) ? 64 : 0);
    if (strlen(o) > 64)
        ck_assert(has(buf, n, "Order</dt>"));
}
END_TEST

START_TEST(page_long_url_cut_at_char)
{
    char u[3001];
    for (size_t i = 0; i + 1 < sizeof(u); i += 2)
        memcpy(u + i, "\xd1\x84", 2); /* ф */
    u[sizeof(u) - 1] = 'x';
    /* offset by one byte so the cap falls inside a character */
    size_t n = notice_render_page(buf, sizeof(buf), NULL, u + 1, sizeof(u) - 1, NULL, 0);
    ck_assert_uint_gt(n, 0);
    ck_assert(utf8_valid(buf, n));
    const char *c = memmem(buf, n, "<code>", 6);
    const char *e = memmem(buf, n, "</code>", 7);
    ck_assert(c && e);
    size_t shown = (size_t)(e - c) - 6;
    ck_assert_uint_le(shown, NOTICE_BLOCKED_URL_MAX + 3 + 3);
    ck_assert(has(c, shown + 6, "\xe2\x80\xa6")); /* … marks the cut */
}
END_TEST

START_TEST(page_contact)
{
    struct notice_config cfg = {.contact = "support@op.kz <8-800> & \"x\"",
                                .contact_url = "https://op.kz/complain?a=1&b=\"2\""};
    size_t n = notice_render_page(buf, sizeof(buf), &cfg, NULL, 0, NULL, 0);
    ck_assert(has(buf, n, "support@op.kz &lt;8-800&gt; &amp; &quot;x&quot;"));
    ck_assert(has(buf, n, "<a href=\"https://op.kz/complain?a=1&amp;b=&quot;2&quot;\">"));
    ck_assert(!has(buf, n, "Contact your telecom operator"));
    cfg.contact_url = "javascript:alert(1)";
    n = notice_render_page(buf, sizeof(buf), &cfg, NULL, 0, NULL, 0);
    ck_assert(!has(buf, n, "javascript"));
    ck_assert(!has(buf, n, "<a href"));
}
END_TEST

/* The largest inputs the caps allow still fit in NOTICE_RESPONSE_MAX. */
START_TEST(worst_case_fits)
{
    static char contact[NOTICE_CONTACT_MAX + 1], curl_[NOTICE_CONTACT_MAX + 1], url[NOTICE_URL_MAX + 1],
        blocked[NOTICE_BLOCKED_URL_MAX * 4];
    memset(contact, '"', NOTICE_CONTACT_MAX);
    memcpy(curl_, "https://", 8);
    memset(curl_ + 8, '"', NOTICE_CONTACT_MAX - 8);
    memset(url, '&', NOTICE_URL_MAX);
    memset(blocked, '"', sizeof(blocked) - 1);
    char order[NOTICE_ORDER_MAX + 1];
    memset(order, '9', NOTICE_ORDER_MAX);
    order[NOTICE_ORDER_MAX] = 0;
    struct notice_config cfg = {.url = url, .contact = contact, .contact_url = curl_, .show_order = true};
    size_t n = notice_build_451(buf, sizeof(buf), &cfg, blocked, order);
    ck_assert_uint_gt(n, 0);
    memset(blocked, '\xff', sizeof(blocked) - 1);
    n = notice_build_451(buf, sizeof(buf), &cfg, blocked, order);
    ck_assert_uint_gt(n, 0);
    n = notice_build_redirect(buf, sizeof(buf), url, blocked, order);
    ck_assert_uint_gt(n, 0);
    size_t bl;
    const char *body = check_framing(buf, n, &bl);
    ck_assert(utf8_valid(body, bl));
}
END_TEST

START_TEST(page_451_every_cap)
{
    static char full[NOTICE_RESPONSE_MAX], part[NOTICE_RESPONSE_MAX];
    struct notice_config cfg = {.url = "http://n/", .show_order = true};
    size_t n = notice_build_451(full, sizeof(full), &cfg, "http://x/<ф>", "O-1");
    ck_assert_uint_gt(n, 0);
    for (size_t cap = 0; cap <= n; cap++) {
        part[cap] = 0x5a;
        size_t m = notice_build_451(part, cap, &cfg, "http://x/<ф>", "O-1");
        ck_assert_uint_eq(m, cap < n ? 0 : n);
        ck_assert_msg(part[cap] == 0x5a, "wrote past cap %zu", cap);
    }
    ck_assert(memcmp(part, full, n) == 0);
    ck_assert_uint_eq(notice_render_page(part, 10, &cfg, NULL, 0, NULL, 0), 0);
}
END_TEST

START_TEST(config_rejected)
{
    struct notice_config bad[] = {
        {.max_request_bytes = 100}, {.max_request_bytes = 70000}, {.idle_timeout_ms = 5},
        {.max_connections = 70000}, {.url = "http://a/ b"},       {.contact_url = "javascript:alert(1)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        ck_assert_msg(notice_new(&bad[i]) == NULL, "config %zu accepted", i);
        ck_assert_int_eq(errno, EINVAL);
    }
    /* empty strings (the config table's "none") are accepted as unset */
    struct notice_config empty = {.url = "", .contact = "", .contact_url = ""};
    struct notice *n = notice_new(&empty);
    ck_assert_ptr_nonnull(n);
    size_t elen = notice_render_451(n, buf, sizeof(buf), NULL, NULL);
    ck_assert(elen > 0 && !has(buf, elen, "Link:") && !has(buf, elen, "<a href"));
    ck_assert(has(buf, elen, "Contact your telecom operator"));
    notice_free(n);
    n = notice_new(NULL);
    ck_assert_ptr_nonnull(n);
    ck_assert_int_eq(notice_listen(n, "127.0.0.1"), -EINVAL);
    ck_assert_int_eq(notice_listen(n, "localhost:80"), -EINVAL);
    ck_assert_int_eq(notice_listen(n, "[::1:80"), -EINVAL);
    ck_assert_int_eq(notice_listen(n, "127.0.0.1:99999"), -EINVAL);
    ck_assert_uint_eq(notice_port(n), 0);
    /* the handle renders with its own copy of the config */
    size_t len = notice_render_451(n, buf, sizeof(buf), "u", NULL);
    ck_assert(strncmp(buf, "HTTP/1.1 451 ", 13) == 0 && len > 0);
    notice_free(n);
    notice_free(NULL);
}
END_TEST

/* ---------------------------------------------------------------- live server */

static struct notice *srv;
static pthread_t srv_thread;
static volatile int srv_stop;
static unsigned port;
static char tmpdir[64];

static void *srv_main(void *arg)
{
    (void)arg;
    notice_run(srv, &srv_stop);
    return NULL;
}

static void live_start(const struct notice_config *cfg)
{
    srv = notice_new(cfg);
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(notice_listen(srv, "127.0.0.1:0"), 0);
    port = notice_port(srv);
    ck_assert_uint_gt(port, 0);
    srv_stop = 0;
    ck_assert_int_eq(pthread_create(&srv_thread, NULL, srv_main, NULL), 0);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_notice.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Stops the thread (so the counters can be read without a race). */
static void live_stop(struct notice_counters *c, unsigned *open_now)
{
    srv_stop = 1;
    pthread_join(srv_thread, NULL);
    notice_stats(srv, c, open_now);
}

static void live_free(void)
{
    notice_free(srv);
    srv = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs a shell command, returns its stdout (static buffer). */
static const char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *run(const char *fmt, ...)
{
    static char out[65536];
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    pclose(p);
    return out;
}

static char *slurp(const char *path, size_t *len)
{
    static char data[65536];
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    *len = fread(data, 1, sizeof(data) - 1, f);
    data[*len] = 0;
    fclose(f);
    return data;
}

#define CURL "curl -sS --max-time 5 "

static size_t count_of(const char *hay, size_t n, const char *needle)
{
    size_t c = 0, l = strlen(needle);
    const char *p = hay, *end = hay + n;
    while ((p = memmem(p, (size_t)(end - p), needle, l)) != NULL) {
        c++;
        p += l;
    }
    return c;
}

START_TEST(live_curl_http11)
{
    struct notice_config cfg = {.show_order = true, .contact = "call 1414"};
    live_start(&cfg);
    const char *r = run(CURL "-o %s/body -D %s/head -w '%%{http_code} %%{http_version}' "
                             "'http://127.0.0.1:%u/blocked?url=http%%3A%%2F%%2Fbad.example%%2F%%3Cx%%3E"
                             "&order=KZ-2024.7'",
                        tmpdir, tmpdir, port);
    ck_assert_str_eq(r, "200 1.1");
    char path[128];
    size_t bl, hl;
    snprintf(path, sizeof(path), "%s/body", tmpdir);
    char *body = slurp(path, &bl);
    ck_assert(utf8_valid(body, bl));
    ck_assert(has(body, bl, "Доступ к ресурсу ограничен"));
    ck_assert(has(body, bl, "<code>http://bad.example/&lt;x&gt;</code>"));
    ck_assert(has(body, bl, "<dd>KZ-2024.7</dd>"));
    ck_assert(has(body, bl, "call 1414"));
    snprintf(path, sizeof(path), "%s/head", tmpdir);
    char *head = slurp(path, &hl);
    ck_assert(has(head, hl, "Content-Type: text/html; charset=utf-8\r\n"));
    ck_assert(has(head, hl, "Cache-Control: no-store\r\n"));
    /* keep-alive: two URLs in one curl run share one connection */
    r = run(CURL "-o /dev/null -o /dev/null -w '%%{http_code}\\n' http://127.0.0.1:%u/ "
                 "http://127.0.0.1:%u/blocked",
            port, port);
    ck_assert_str_eq(r, "200\n200\n");
    /* HEAD, 404, 405 */
    r = run(CURL "-I -o /dev/null -w '%%{http_code} %%{size_download}' http://127.0.0.1:%u/", port);
    ck_assert_str_eq(r, "200 0");
    r = run(CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/etc/passwd", port);
    ck_assert_str_eq(r, "404");
    r = run(CURL "-o /dev/null -w '%%{http_code}' -d x http://127.0.0.1:%u/blocked", port);
    ck_assert_str_eq(r, "405");
    struct notice_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.accepted, 5); /* the two-URL run reused its connection */
    ck_assert_uint_eq(c.requests_h1, 6);
    ck_assert_uint_eq(c.status_200, 4);
    ck_assert_uint_eq(c.status_404, 1);
    ck_assert_uint_eq(c.status_405, 1);
    live_free();
}
END_TEST

START_TEST(live_curl_h2c)
{
    struct notice_config cfg = {.show_order = true};
    live_start(&cfg);
    const char *r = run(CURL "--http2-prior-knowledge -o %s/body -w '%%{http_code} "
                             "%%{http_version}' 'http://127.0.0.1:%u/blocked?order=A.1&url=b.kz'",
                        tmpdir, port);
    ck_assert_str_eq(r, "200 2");
    char path[128];
    size_t bl;
    snprintf(path, sizeof(path), "%s/body", tmpdir);
    char *body = slurp(path, &bl);
    ck_assert(utf8_valid(body, bl));
    ck_assert(has(body, bl, "Бұл ресурсқа қолжетімділік шектелген"));
    ck_assert(has(body, bl, "<code>b.kz</code>"));
    ck_assert(has(body, bl, "<dd>A.1</dd>"));
    /* Upgrade: h2c from HTTP/1.1 */
    r = run(CURL "--http2 -o %s/body -w '%%{http_code} %%{http_version}' "
                 "'http://127.0.0.1:%u/blocked?order=%%3Cscript%%3E'",
            tmpdir, port);
    ck_assert_str_eq(r, "200 2");
    body = slurp(path, &bl);
    ck_assert(has(body, bl, "Access to this resource is restricted"));
    ck_assert(!has(body, bl, "<script>"));
    ck_assert(!has(body, bl, "Order</dt>"));
    /* (several requests on one prior-knowledge connection are tested with nghttp: curl 7.88.1
     * fails to reuse such a connection, curl issue #10634, fixed in curl 8.0) */
    struct notice_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.upgrades_h2c, 1);
    ck_assert_uint_eq(c.requests_h2, 2);
    ck_assert_uint_eq(c.requests_h1, 0);
    ck_assert_uint_eq(c.bad_order, 1);
    ck_assert_uint_eq(c.accepted, 2);
    live_free();
}
END_TEST

START_TEST(live_nghttp)
{
    ck_assert_msg(system("command -v nghttp >/dev/null 2>&1") == 0,
                  "nghttp missing: deploy/install-deps.sh installs nghttp2-client");
    live_start(NULL);
    const char *r = run("timeout 10 nghttp -v 'http://127.0.0.1:%u/blocked?url=x.kz' 2>&1", port);
    ck_assert_msg(strstr(r, ":status: 200") != NULL, "nghttp said: %.2000s", r);
    ck_assert(strstr(r, "content-type: text/html; charset=utf-8") != NULL);
    ck_assert(strstr(r, "Доступ к ресурсу ограничен") != NULL);
    ck_assert(strstr(r, "<code>x.kz</code>") != NULL);
    /* nghttp -u: HTTP/1.1 Upgrade */
    r = run("timeout 10 nghttp -vu 'http://127.0.0.1:%u/' 2>&1", port);
    ck_assert_msg(strstr(r, "HTTP Upgrade success") != NULL, "nghttp -u said: %.2000s", r);
    ck_assert(strstr(r, ":status: 200") != NULL);
    /* five concurrent streams on one connection, sent before our SETTINGS arrive: four are
     * answered (one a 404), the fifth is over SETTINGS_MAX_CONCURRENT_STREAMS (4) and refused
     * with RST_STREAM(REFUSED_STREAM), which RFC 9113 8.7 makes safe to retry */
    r = run("timeout 10 nghttp -n -v 'http://127.0.0.1:%u/' 'http://127.0.0.1:%u/blocked' "
            "'http://127.0.0.1:%u/nope' 'http://127.0.0.1:%u/blocked?url=a' "
            "'http://127.0.0.1:%u/blocked?url=b' 2>&1",
            port, port, port, port, port);
    ck_assert_uint_eq(count_of(r, strlen(r), ":status: 200\n"), 3);
    ck_assert_uint_eq(count_of(r, strlen(r), ":status: 404\n"), 1);
    ck_assert_uint_eq(count_of(r, strlen(r), "error_code=REFUSED_STREAM"), 1);
    ck_assert_uint_eq(count_of(r, strlen(r), "recv DATA frame"), 4);
    struct notice_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.requests_h2, 6);
    ck_assert_uint_eq(c.h2_streams_refused, 1);
    ck_assert_uint_eq(c.accepted, 3);
    ck_assert_uint_eq(c.status_404, 1);
    live_free();
}
END_TEST

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until EOF, cap, or timeout_ms without data; *eof tells which. */
static size_t read_some(int fd, char *out, size_t cap, int timeout_ms, bool *eof)
{
    size_t n = 0;
    *eof = false;
    while (n < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - n, 0);
        if (r <= 0) {
            *eof = true;
            break;
        }
        n += (size_t)r;
    }
    return n;
}

START_TEST(live_pipelined_keepalive)
{
    live_start(NULL);
    int fd = tcp_connect();
    static const char two[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                              "HEAD /blocked?url=z HTTP/1.1\r\nHost: a\r\n\r\n"
                              "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, two, sizeof(two) - 1);
    static char in[65536];
    bool eof;
    size_t n = read_some(fd, in, sizeof(in), 500, &eof);
    ck_assert(!eof); /* keep-alive: still open */
    ck_assert_uint_eq(count_of(in, n, "HTTP/1.1 200 OK\r\n"), 2);
    ck_assert_uint_eq(count_of(in, n, "HTTP/1.1 404 Not Found\r\n"), 1);
    ck_assert_uint_eq(count_of(in, n, "<!DOCTYPE html>"), 1); /* HEAD had no body */
    ck_assert(strncmp(in + n - 10, "Not Found\n", 10) == 0);
    /* HTTP/1.0 without keep-alive: answered, then closed */
    send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert(has(in, n, "Connection: close\r\n"));
    close(fd);
    /* garbage: 400 and close */
    fd = tcp_connect();
    send_all(fd, "\x01\x02\x03 garbage\r\n\r\n", 15);
    n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert(strncmp(in, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    close(fd);
    struct notice_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.requests_h1, 4);
    ck_assert_uint_eq(c.bad_request, 1);
    live_free();
}
END_TEST

START_TEST(live_oversize_head)
{
    struct notice_config cfg = {.max_request_bytes = 1024};
    live_start(&cfg);
    int fd = tcp_connect();
    static char req[4096];
    memcpy(req, "GET / HTTP/1.1\r\nX-Long: ", 24);
    memset(req + 24, 'a', sizeof(req) - 24);
    (void)send(fd, req, sizeof(req), MSG_NOSIGNAL); /* may be cut short by the close */
    static char in[4096];
    bool eof;
    size_t n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof || n == 0);
    ck_assert_msg(n == 0 || strncmp(in, "HTTP/1.1 431 ", 13) == 0, "got %.*s", (int)n, in);
    close(fd);
    /* just under the cap is fine */
    fd = tcp_connect();
    size_t len = 1024 - 4 - 24;
    memset(req + 24, 'b', len - 24);
    memcpy(req + len, "\r\n\r\n", 4);
    send_all(fd, req, len + 4);
    n = read_some(fd, in, sizeof(in), 500, &eof);
    ck_assert_msg(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0, "got %.*s", (int)n, in);
    close(fd);
    struct notice_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.closed_oversize, 1);
    ck_assert_uint_eq(c.status_200, 1);
    live_free();
}
END_TEST

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

START_TEST(live_slowloris)
{
    struct notice_config cfg = {.idle_timeout_ms = 300};
    live_start(&cfg);
    int fd = tcp_connect();
    uint64_t t0 = mono_ms();
    send_all(fd, "GET / HTTP/1.1\r\n", 16);
    bool closed = false;
    /* one header byte every 50 ms: progress does not extend the deadline */
    for (int i = 0; i < 60 && !closed; i++) {
        if (send(fd, "X", 1, MSG_NOSIGNAL) != 1)
            closed = true;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            char b[16];
            if (recv(fd, b, sizeof(b), 0) <= 0)
                closed = true;
        }
    }
    uint64_t took = mono_ms() - t0;
    ck_assert_msg(closed, "slowloris connection still open after %llu ms", (unsigned long long)took);
    ck_assert_uint_ge(took, 250);
    ck_assert_uint_lt(took, 1500);
    close(fd);
    /* an idle keep-alive connection is closed too */
    fd = tcp_connect();
    send_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
    static char in[16384];
    bool eof;
    t0 = mono_ms();
    size_t n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0 && n > 17);
    ck_assert_uint_lt(mono_ms() - t0, 1500);
    close(fd);
    struct notice_counters c;
    unsigned open_now;
    live_stop(&c, &open_now);
    ck_assert_uint_eq(c.closed_idle, 2);
    ck_assert_uint_eq(open_now, 0);
    live_free();
}
END_TEST

START_TEST(live_max_connections)
{
    struct notice_config cfg = {.max_connections = 4};
    live_start(&cfg);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = tcp_connect();
        send_all(fds[i], "GET / HTTP/1.1\r\n\r\n", 18); /* proves the server took it */
        static char in[16384];
        bool eof;
        size_t n = read_some(fds[i], in, sizeof(in), 300, &eof);
        ck_assert(n > 17 && strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0);
    }
    for (int j = 0; j < 3; j++) {
        int x = tcp_connect();
        char in[256];
        bool eof;
        size_t n = read_some(x, in, sizeof(in), 2000, &eof);
        ck_assert(eof);
        ck_assert(n == 0 || strncmp(in, "HTTP/1.1 503 ", 13) == 0);
        close(x);
    }
    close(fds[0]);
    usleep(100000);
    const char *r = run(CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/", port);
    ck_assert_str_eq(r, "200");
    for (int i = 1; i < 4; i++)
        close(fds[i]);
    struct notice_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.refused, 3);
    ck_assert_uint_eq(c.accepted, 5);
    live_free();
}
END_TEST

static Suite *notice_suite(void)
{
    Suite *s = suite_create("notice");
    TCase *tc = tcase_create("redirect");
    tcase_add_test(tc, redirect_exact);
    tcase_add_test(tc, redirect_query_sep_and_optional);
    tcase_add_test(tc, redirect_bad_notice_url);
    tcase_add_loop_test(tc, redirect_hostile_order_dropped, 0,
                        (int)(sizeof(hostile_orders) / sizeof(hostile_orders[0])));
    tcase_add_test(tc, redirect_hostile_url_encoded);
    tcase_add_test(tc, redirect_long_url_capped);
    tcase_add_test(tc, redirect_every_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("page");
    tcase_add_test(tc, page_451_exact_head);
    tcase_add_test(tc, page_451_no_link_without_url);
    tcase_add_loop_test(tc, page_escapes_url, 0, (int)(sizeof(esc_cases) / sizeof(esc_cases[0])));
    tcase_add_loop_test(tc, page_hostile_order, 0, (int)(sizeof(hostile_orders) / sizeof(hostile_orders[0])));
    tcase_add_test(tc, page_long_url_cut_at_char);
    tcase_add_test(tc, page_contact);
    tcase_add_test(tc, worst_case_fits);
    tcase_add_test(tc, page_451_every_cap);
    tcase_add_test(tc, config_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("live");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, live_curl_http11);
    tcase_add_test(tc, live_curl_h2c);
    tcase_add_test(tc, live_nghttp);
    tcase_add_test(tc, live_pipelined_keepalive);
    tcase_add_test(tc, live_oversize_head);
    tcase_add_test(tc, live_slowloris);
    tcase_add_test(tc, live_max_connections);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(notice_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
