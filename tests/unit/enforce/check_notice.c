/* check_notice.c - Check suite for the block notice page (proxy/enforce/notice.c).
 *
 * Pure builders: exact status lines and headers, escaping of hostile url/order values, UTF-8
 * validity, every truncation of the output buffer. The request-target reader: a table of
 * targets (routes, query values, absolute-form), a cut long value, every prefix against a guard
 * page. The server that uses them has its own suite (tests/unit/daemon/check_notice_server.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
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
    ck_assert_uint_eq(
        notice_build_redirect(buf, sizeof(buf), "http://a/\r\nSet-Cookie: a=b", "x", "1"), 0);
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
    struct notice_config cfg = { .url = "https://notice.example/blocked", .show_order = true };
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
    struct notice_config cfg = { .url = "http://a/\r\nX: y" };
    n = notice_build_451(buf, sizeof(buf), &cfg, NULL, NULL);
    ck_assert(!has(buf, n, "Link:"));
}
END_TEST

struct esc_case {
    const char *in;
    const char *shown; /* what must appear inside <code>...</code> */
};

static const struct esc_case esc_cases[] = {
    { "<script>alert('x')</script>\"&",
      "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;" },
    { "a\xff"
      "b",
      "a\xef\xbf\xbd"
      "b" }, /* invalid byte */
    { "a\xc0\xaf"
      "b",
      "a\xef\xbf\xbd\xef\xbf\xbd"
      "b" },                                                      /* overlong '/' */
    { "a\xed\xa0\x80", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
    { "a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd" },                 /* cut sequence */
    { "a\xe2\x80\xae"
      "gpj.exe",
      "a\xef\xbf\xbd"
      "gpj.exe" }, /* U+202E RLO */
    { "a\r\n\x1b[31m", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd[31m" },
    { "a\xc2\x85", "a\xef\xbf\xbd" }, /* C1 NEL */
    { "пример.қаз/ё", "пример.қаз/ё" },
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
    struct notice_config cfg = { .show_order = true };
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
    struct notice_config cfg = { .contact = "support@op.kz <8-800> & \"x\"",
                                 .contact_url = "https://op.kz/complain?a=1&b=\"2\"" };
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
    static char contact[NOTICE_CONTACT_MAX + 1], curl_[NOTICE_CONTACT_MAX + 1],
        url[NOTICE_URL_MAX + 1], blocked[NOTICE_BLOCKED_URL_MAX * 4];
    memset(contact, '"', NOTICE_CONTACT_MAX);
    memcpy(curl_, "https://", 8);
    memset(curl_ + 8, '"', NOTICE_CONTACT_MAX - 8);
    memset(url, '&', NOTICE_URL_MAX);
    memset(blocked, '"', sizeof(blocked) - 1);
    char order[NOTICE_ORDER_MAX + 1];
    memset(order, '9', NOTICE_ORDER_MAX);
    order[NOTICE_ORDER_MAX] = 0;
    struct notice_config cfg = {
        .url = url, .contact = contact, .contact_url = curl_, .show_order = true
    };
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
    struct notice_config cfg = { .url = "http://n/", .show_order = true };
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
        { .max_request_bytes = 100 },   { .max_request_bytes = 70000 },
        { .idle_timeout_ms = 5 },       { .max_connections = 70000 },
        { .url = "http://a/ b" },       { .contact_url = "javascript:alert(1)" },
        { .idle_timeout_ms = 3600001 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!notice_config_valid(&bad[i]), "config %zu accepted", i);
    /* empty strings (the config table's "none") are accepted as unset, and render so */
    struct notice_config empty = { .url = "", .contact = "", .contact_url = "" };
    ck_assert(notice_config_valid(&empty));
    ck_assert(notice_config_valid(NULL));
    struct notice_config edge = { .max_connections = 65536,
                                  .idle_timeout_ms = 10,
                                  .max_request_bytes = 512,
                                  .url = "http://n.example/",
                                  .contact_url = "tel:1414" };
    ck_assert(notice_config_valid(&edge));
    size_t elen = notice_build_451(buf, sizeof(buf), &empty, NULL, NULL);
    ck_assert(elen > 0 && !has(buf, elen, "Link:") && !has(buf, elen, "<a href"));
    ck_assert(has(buf, elen, "Contact your telecom operator"));
}
END_TEST

/* ---------------------------------------------------------------- request-target */

struct target_case {
    const char *target;
    bool page;
    const char *url; /* NULL: no url */
    const char *order;
    bool has_order;
    size_t url_len; /* 0: strlen(url) */
};

static const struct target_case targets[] = {
    { "/", true, NULL, NULL, false, 0 },
    { "/blocked", true, NULL, NULL, false, 0 },
    { "/blocked/", true, NULL, NULL, false, 0 },
    { "/blocked?url=http%3A%2F%2Fa.kz%2F&order=KZ-1", true, "http://a.kz/", "KZ-1", true, 0 },
    { "/?order=x&url=a+b%20c", true, "a+b c", "x", true, 0 }, /* '+' is not a space */
    { "/?url=%zz%4", true, "%zz%4", NULL, false, 0 },         /* bad escapes stay */
    { "/?url=1&url=2", true, "2", NULL, false, 0 },           /* the last one wins */
    { "/?url&order=", true, NULL, "", true, 0 },              /* no '=': ignored */
    { "/?URL=x", true, NULL, NULL, false, 0 },                /* names are exact */
    { "/blocked/x", false, NULL, NULL, false, 0 },
    { "/blockedx?url=a", false, "a", NULL, false, 0 },
    { "/%62locked", false, NULL, NULL, false, 0 }, /* the path is not decoded */
    { "", false, NULL, NULL, false, 0 },
    { "*", false, NULL, NULL, false, 0 },
    { "http://n.example/blocked?url=y", true, "y", NULL, false, 0 }, /* absolute-form */
    { "HTTPS://n.example:8443/?url=y", true, "y", NULL, false, 0 },
    { "http://n.example", false, NULL, NULL, false, 0 },
    { "http://n.example?url=z", false, "z", NULL, false, 0 },
    { "/?url=%00%0a", true, "\0\n", NULL, false, 2 },
};

START_TEST(target_table)
{
    const struct target_case *t = &targets[_i];
    struct notice_request q;
    memset(&q, 0xa5, sizeof(q));
    notice_parse_target(t->target, strlen(t->target), &q);
    ck_assert_msg(q.page == t->page, "%s: page %d", t->target, q.page);
    size_t ul = t->url_len ? t->url_len : t->url ? strlen(t->url) : 0;
    ck_assert_msg(q.url_len == ul && memcmp(q.url, t->url ? t->url : "", ul) == 0, "%s: url '%.*s'",
                  t->target, (int)q.url_len, q.url);
    ck_assert_msg(q.has_order == t->has_order, "%s: has_order", t->target);
    size_t ol = t->order ? strlen(t->order) : 0;
    ck_assert_msg(q.order_len == ol && memcmp(q.order, t->order ? t->order : "", ol) == 0,
                  "%s: order '%.*s'", t->target, (int)q.order_len, q.order);
}
END_TEST

/* A long url= is cut to the buffer; every prefix of a target is read within its length (the
 * target sits against a guard page: an over-read crashes). */
START_TEST(target_bounds)
{
    static char t[8192];
    memcpy(t, "/?url=", 6);
    memset(t + 6, 'a', sizeof(t) - 6);
    struct notice_request q;
    notice_parse_target(t, sizeof(t), &q);
    ck_assert(q.page);
    ck_assert_uint_eq(q.url_len, sizeof(q.url));
    static const char full[] = "http://n.example/blocked?url=%41%42&order=KZ.1";
    size_t n = sizeof(full) - 1;
    long pg = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    for (size_t k = 0; k <= n; k++) {
        char *at = map + pg - k;
        memcpy(at, full, k);
        notice_parse_target(at, k, &q);
    }
    ck_assert(q.page && q.url_len == 2 && memcmp(q.url, "AB", 2) == 0);
    ck_assert(q.order_len == 4 && notice_order_ok(q.order, q.order_len));
    munmap(map, (size_t)pg * 2);
    notice_parse_target(NULL, 5, &q);
    ck_assert(!q.page && q.url_len == 0 && !q.has_order);
}
END_TEST

START_TEST(order_ok)
{
    ck_assert(notice_order_ok("KZ-2024.001_a", 13));
    ck_assert(notice_order_ok("a", 1));
    ck_assert(!notice_order_ok("", 0));
    ck_assert(!notice_order_ok(NULL, 3));
    ck_assert(!notice_order_ok("a b", 3));
    ck_assert(!notice_order_ok("a\0b", 3));
    static char o[NOTICE_ORDER_MAX + 1];
    memset(o, 'x', sizeof(o));
    ck_assert(notice_order_ok(o, NOTICE_ORDER_MAX));
    ck_assert(!notice_order_ok(o, NOTICE_ORDER_MAX + 1));
}
END_TEST

/* A tariff or parental block: reason= in the 302 (no order), its own page (no law, no order),
 * a 403 without a notice URL, and the page server reading reason= back. */
START_TEST(tariff_reasons)
{
    static char rb[NOTICE_RESPONSE_MAX];
    size_t n = notice_build_redirect_for(rb, sizeof(rb), "http://notice.test/blocked",
                                         "http://games.test/", "O-1", NOTICE_TARIFF);
    ck_assert_uint_gt(n, 0);
    rb[n] = '\0';
    ck_assert_ptr_nonnull(strstr(
        rb,
        "Location: http://notice.test/blocked?url=http%3A%2F%2Fgames.test%2F&reason=tariff\r\n"));
    n = notice_build_redirect_for(rb, sizeof(rb), "http://notice.test/?x=1", NULL, NULL,
                                  NOTICE_PARENTAL);
    rb[n] = '\0';
    ck_assert_ptr_nonnull(strstr(rb, "Location: http://notice.test/?x=1&reason=parental\r\n"));
    n = notice_build_redirect_for(rb, sizeof(rb), "http://notice.test/", NULL, "O-1",
                                  NOTICE_REGULATOR);
    rb[n] = '\0';
    ck_assert_ptr_nonnull(strstr(rb, "Location: http://notice.test/?order=O-1\r\n"));
    ck_assert_ptr_null(strstr(rb, "reason="));
    struct notice_config cfg = { .show_order = true, .contact = "call 777" };
    n = notice_build_451_for(rb, sizeof(rb), &cfg, "http://games.test/", "O-1", NOTICE_TARIFF);
    rb[n] = '\0';
    ck_assert_ptr_nonnull(strstr(rb, "HTTP/1.1 403 Forbidden\r\n"));
    ck_assert_ptr_nonnull(strstr(rb, "restricted by your tariff"));
    ck_assert_ptr_nonnull(strstr(rb, "условиями вашего тарифа"));
    ck_assert_ptr_nonnull(strstr(rb, "тарифіңіздің"));
    ck_assert_ptr_nonnull(strstr(rb, "call 777"));
    ck_assert_ptr_null(strstr(rb, "41-1"));
    ck_assert_ptr_null(strstr(rb, "O-1"));
    n = notice_render_page_for(rb, sizeof(rb), &cfg, NULL, 0, NULL, 0, NOTICE_PARENTAL);
    rb[n] = '\0';
    ck_assert_ptr_nonnull(strstr(rb, "parental control"));
    ck_assert_ptr_nonnull(strstr(rb, "родительского контроля"));
    ck_assert_ptr_nonnull(strstr(rb, "ата-ана"));
    n = notice_build_451_for(rb, sizeof(rb), &cfg, NULL, "O-1", NOTICE_REGULATOR);
    rb[n] = '\0';
    ck_assert_ptr_nonnull(strstr(rb, "451 Unavailable"));
    ck_assert_ptr_nonnull(strstr(rb, "41-1"));
    struct notice_request q;
    notice_parse_target("/blocked?url=x&reason=parental", 30, &q);
    ck_assert_int_eq(q.reason, NOTICE_PARENTAL);
    notice_parse_target("/blocked?reason=tariff", 22, &q);
    ck_assert_int_eq(q.reason, NOTICE_TARIFF);
    notice_parse_target("/blocked?reason=tariffx", 23, &q);
    ck_assert_int_eq(q.reason, NOTICE_REGULATOR);
    ck_assert_int_eq(notice_reason_of(CAUSE_SCHEDULE), NOTICE_TARIFF);
    ck_assert_int_eq(notice_reason_of(CAUSE_ALLOWLIST), NOTICE_TARIFF);
    ck_assert_int_eq(notice_reason_of(CAUSE_PARENTAL), NOTICE_PARENTAL);
    ck_assert_int_eq(notice_reason_of(CAUSE_REGULATOR), NOTICE_REGULATOR);
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
    tcase_add_loop_test(tc, page_hostile_order, 0,
                        (int)(sizeof(hostile_orders) / sizeof(hostile_orders[0])));
    tcase_add_test(tc, page_long_url_cut_at_char);
    tcase_add_test(tc, page_contact);
    tcase_add_test(tc, worst_case_fits);
    tcase_add_test(tc, page_451_every_cap);
    tcase_add_test(tc, config_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("target");
    tcase_add_loop_test(tc, target_table, 0, (int)(sizeof(targets) / sizeof(targets[0])));
    tcase_add_test(tc, target_bounds);
    tcase_add_test(tc, order_ok);
    tcase_add_test(tc, tariff_reasons);
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
