/* check_ruleset.c - entries, dedup, attributes and the match functions of a built set. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/normalize.h"
#include "rules/match/ruleset.h"

static int add(struct ruleset_builder *b, const char *text, const char *order, const char *cat,
               char *err)
{
    struct rule_attrs a = { order, cat, NULL };
    return ruleset_builder_add(b, text, strlen(text), &a, err, 256);
}

struct ecase {
    const char *in;
    int rc;
    const char *text; /* normalized text, or the error message */
    enum rule_kind kind;
};

static const struct ecase entries[] = {
    { "Example.COM", 0, "example.com", RULE_DOMAIN },
    { "  example.com.\r\n", 0, "example.com", RULE_DOMAIN },
    { "*.example.net", 0, "example.net", RULE_DOMAIN },
    { "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd2\x9b\xd0\xb0\xd0\xb7", 0,
      "xn--e1afmkfd.xn--80ao21a", RULE_DOMAIN },
    { "HTTP://Example.ORG:80/a/./b/../c?x=1#frag", 0, "http://example.org/a/c?x=1", RULE_URL },
    { "https://example.org", 0, "https://example.org/", RULE_URL },
    { "https://example.org/dir/*", 0, "https://example.org/dir/*", RULE_URL },
    { "http://[2001:DB8::1]:8080/p", 0, "http://[2001:db8::1]/p", RULE_URL },
    { "http://exa%6Dple.org/%7efoo", 0, "http://example.org/~foo", RULE_URL },
    { "203.0.113.7", 0, "203.0.113.7", RULE_IP },
    { "203.0.113.0/24", 0, "203.0.113.0/24", RULE_IP },
    { "203.0.113.9/24", 0, "203.0.113.0/24", RULE_IP },
    { "10.0.0.1/32", 0, "10.0.0.1", RULE_IP },
    { "2001:DB8::/32", 0, "2001:db8::/32", RULE_IP },
    { "[2001:db8::5]", 0, "2001:db8::5", RULE_IP },
    { "", -EINVAL, "empty entry ''", RULE_DOMAIN },
    { "   ", -EINVAL, "empty entry ''", RULE_DOMAIN },
    { "exa mple.com", -EINVAL, "invalid hostname character 'exa mple.com'", RULE_DOMAIN },
    { "a..b", -EINVAL, "invalid hostname label 'a..b'", RULE_DOMAIN },
    { "ftp://example.com/x", -EINVAL, "unsupported URL scheme 'ftp://example.com/x'", RULE_DOMAIN },
    { "http:///path", -EINVAL, "empty hostname 'http:///path'", RULE_DOMAIN },
    { "http://a b/", -EINVAL, "invalid hostname character 'http://a b/'", RULE_DOMAIN },
    { "http://ex.com/%zz", -EINVAL, "invalid percent escape 'http://ex.com/%zz'", RULE_DOMAIN },
    { "http://ex.com:99999/", -EINVAL, "invalid port 'http://ex.com:99999/'", RULE_DOMAIN },
    { "10.0.0.0/33", -EINVAL, "invalid prefix length '10.0.0.0/33'", RULE_DOMAIN },
    { "10.0.0.0/", -EINVAL, "invalid CIDR '10.0.0.0/'", RULE_DOMAIN },
    { "10.0.0.0/x", -EINVAL, "invalid prefix length '10.0.0.0/x'", RULE_DOMAIN },
    { "10.0.0/8", -EINVAL, "invalid IP address '10.0.0/8'", RULE_DOMAIN },
    { "Example.com/path", 0, "http://example.com/path", RULE_URL },
    { "example.com/dir/*", 0, "http://example.com/dir/*", RULE_URL },
    { "exa mple.com/path", -EINVAL, "invalid URL 'exa mple.com/path'", RULE_DOMAIN },
    { "10.0.0.256/8", -EINVAL, "invalid IP address '10.0.0.256/8'", RULE_DOMAIN },
    { "dead::beef::1/64", -EINVAL, "invalid IP address 'dead::beef::1/64'", RULE_DOMAIN },
    { "a\tb\x01.com", -EINVAL, "invalid hostname character 'a?b?.com'", RULE_DOMAIN },
};

START_TEST(test_entry_table)
{
    const struct ecase *c = &entries[_i];
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256] = "x";
    int rc = add(b, c->in, "o1", "court", err);
    ck_assert_msg(rc == c->rc, "'%s': rc %d (%s)", c->in, rc, err);
    if (rc) {
        ck_assert_str_eq(err, c->text);
        ck_assert_uint_eq(ruleset_builder_count(b, c->kind), 0);
        ruleset_builder_free(b);
        return;
    }
    ck_assert_str_eq(err, "");
    ck_assert_uint_eq(ruleset_builder_count(b, c->kind), 1);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    ck_assert_uint_eq(ruleset_entry_count(rs), 1);
    ck_assert_str_eq(ruleset_entry_text(rs, 0), c->text);
    ck_assert_int_eq(ruleset_entry_kind(rs, 0), c->kind);
    ck_assert_str_eq(ruleset_entry_order(rs, 0), "o1");
    ck_assert_str_eq(ruleset_entry_category(rs, 0), "court");
    ruleset_free(rs);
}
END_TEST

START_TEST(test_long_entries)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    ck_assert_int_eq(ruleset_builder_add(b, big, 5000, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(strncmp(err, "entry too long 'aaaa", 20), 0);
    ck_assert_int_eq(strcmp(err + strlen(err) - 4, "...'"), 0);
    /* a URL with a path over NORM_PATH_MAX */
    memcpy(big, "http://h.com/", 13);
    ck_assert_int_eq(ruleset_builder_add(b, big, 4000, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(strncmp(err, "path too long 'http://h.com/aaa", 31), 0);
    /* a URL near the limit is fine */
    ck_assert_int_eq(ruleset_builder_add(b, big, 2000, NULL, err, sizeof(err)), 0);
    /* tiny err buffers and NULL are fine */
    ck_assert_int_eq(ruleset_builder_add(b, "a b", 3, NULL, err, 4), -EINVAL);
    ck_assert_str_eq(err, "inv");
    ck_assert_int_eq(ruleset_builder_add(b, "a b", 3, NULL, NULL, 0), -EINVAL);
    free(big);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_uint_eq(ruleset_entry_count(rs), 1);
    ck_assert_str_eq(ruleset_entry_order(rs, 0), "");
    ck_assert_str_eq(ruleset_entry_category(rs, 0), "");
    ruleset_free(rs);
}
END_TEST

START_TEST(test_dedup_and_attrs)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    ck_assert_int_eq(add(b, "ex.com", "A", "court", err), 0);
    ck_assert_int_eq(add(b, "EX.com.", "B", "gambling", err), 0); /* dup: first attrs win */
    ck_assert_int_eq(add(b, "http://h/p", "A", "court", err), 0);
    ck_assert_int_eq(add(b, "https://H/p#x", "B", "court", err), 0); /* same host+path: dup */
    ck_assert_int_eq(add(b, "http://h/p*", "B", "x", err), 0);       /* prefix: distinct */
    ck_assert_int_eq(add(b, "1.2.3.4", "C", NULL, err), 0);
    ck_assert_int_eq(add(b, "1.2.3.4/32", "C", NULL, err), 0); /* dup */
    ck_assert_int_eq(add(b, "1.2.3.0/24", NULL, "court", err), 0);
    ck_assert_uint_eq(ruleset_builder_dups(b), 3);
    ck_assert_uint_eq(ruleset_builder_count(b, RULE_DOMAIN), 1);
    ck_assert_uint_eq(ruleset_builder_count(b, RULE_URL), 2);
    ck_assert_uint_eq(ruleset_builder_count(b, RULE_IP), 2);
    struct ruleset *rs = ruleset_build(b);
    struct rule_match m;
    ck_assert(ruleset_match_domain(rs, "ex.com", 6, &m));
    ck_assert_str_eq(ruleset_entry_order(rs, m.entry), "A");
    ck_assert_str_eq(ruleset_entry_category(rs, m.entry), "court");
    ck_assert_str_eq(ruleset_entry_category(rs, 2), "x");
    ck_assert_str_eq(ruleset_entry_order(rs, 3), "C");
    ck_assert_str_eq(ruleset_entry_category(rs, 3), "");
    ck_assert_str_eq(ruleset_entry_order(rs, 4), "");
    ck_assert_str_eq(ruleset_entry_text(rs, 99), "");
    struct ruleset_stats st;
    ruleset_get_stats(rs, &st);
    ck_assert_uint_eq(st.domains, 1);
    ck_assert_uint_eq(st.urls, 2);
    ck_assert_uint_eq(st.ips4, 2);
    ck_assert_uint_eq(st.ips6, 0);
    ck_assert_uint_gt(st.bytes, 100);
    ck_assert_uint_eq(st.version, 0);
    ruleset_set_version(rs, 7);
    ruleset_get_stats(rs, &st);
    ck_assert_uint_eq(st.version, 7);
    ruleset_free(rs);
}
END_TEST

START_TEST(test_entry_orders)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    const char *o[4];
    ck_assert_int_eq(add(b, "ex.com", "A", "court", err), 0);
    ck_assert_int_eq(add(b, "*.EX.com", "B", "gambling", err), 0); /* dup: B also lists it */
    ck_assert_int_eq(add(b, "ex.com", "B", NULL, err), 0);         /* B again: one claim */
    ck_assert_int_eq(add(b, "ex.com", "A", NULL, err), 0);         /* the first order again */
    ck_assert_int_eq(add(b, "ex.com", NULL, NULL, err), 0);        /* no order: no claim */
    ck_assert_int_eq(add(b, "1.2.3.4", "C", NULL, err), 0);
    ck_assert_int_eq(add(b, "plain.org", NULL, NULL, err), 0);
    ck_assert_int_eq(add(b, "plain.org", "D", NULL, err), 0);
    ck_assert_int_eq(add(b, "1.2.3.4", "E", NULL, err), 0);
    ck_assert_int_eq(add(b, "1.2.3.4/32", "B", NULL, err), 0);
    ck_assert_uint_eq(ruleset_builder_dups(b), 7);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_uint_eq(ruleset_entry_count(rs), 3);
    ck_assert_uint_eq(ruleset_entry_orders(rs, 0, o, 4), 2);
    ck_assert_str_eq(o[0], "A");
    ck_assert_str_eq(o[1], "B");
    ck_assert_str_eq(ruleset_entry_category(rs, 0), "court"); /* the first order's */
    ck_assert_uint_eq(ruleset_entry_orders(rs, 1, o, 4), 3);
    ck_assert_str_eq(o[0], "C");
    ck_assert_str_eq(o[1], "B"); /* in the order the ids were first seen by the builder */
    ck_assert_str_eq(o[2], "E");
    ck_assert_uint_eq(ruleset_entry_orders(rs, 1, o, 1), 3); /* the count, even past cap */
    ck_assert_uint_eq(ruleset_entry_orders(rs, 2, o, 4), 1); /* a plain-list entry, then D */
    ck_assert_str_eq(o[0], "D");
    ck_assert_str_eq(ruleset_entry_order(rs, 2), "");
    ck_assert_uint_eq(ruleset_entry_orders(rs, 3, o, 4), 0); /* no such entry */
    ck_assert_uint_eq(ruleset_entry_orders(NULL, 0, o, 4), 0);
    ruleset_free(rs);

    char out[RULESET_TEXT_MAX];
    size_t n;
    enum rule_kind k;
    ck_assert_int_eq(ruleset_normalize_entry(" *.Ex.COM. ", 11, out, &n, &k, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "ex.com");
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(k, RULE_DOMAIN);
    ck_assert_int_eq(ruleset_normalize_entry("HTTPS://[2001:DB8::1]:443/a/../b", 32, out, &n, &k,
                                             err, sizeof(err)),
                     0);
    ck_assert_str_eq(out, "https://[2001:db8::1]/b");
    ck_assert_int_eq(k, RULE_URL);
    ck_assert_int_eq(ruleset_normalize_entry("10.1.2.3/8", 10, out, &n, &k, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "10.0.0.0/8");
    ck_assert_int_eq(k, RULE_IP);
    ck_assert_int_eq(ruleset_normalize_entry("exa mple.com", 12, out, &n, &k, err, sizeof(err)),
                     -EINVAL);
    ck_assert_str_eq(err, "invalid hostname character 'exa mple.com'");
}
END_TEST

static struct ruleset *sample(void)
{
    static const char *list[] = {
        "ex.com",                   /* 0 */
        "deep.sub.ex.com",          /* 1 */
        "http://h.kz/page",         /* 2 */
        "http://h.kz/page?id=5",    /* 3 */
        "https://h.kz/dir/*",       /* 4 */
        "https://h.kz/dir/inner/*", /* 5 */
        "http://h.kz/dir/exact",    /* 6 */
        "203.0.113.0/24",           /* 7 */
        "203.0.113.7",              /* 8 */
        "2001:db8::/32",            /* 9 */
        "http://[2001:db8::1]/x",   /* 10 */
        "http://only.url.kz/a",     /* 11 */
        "https://[2001:db8::2]/y",  /* 12 */
    };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        ck_assert_msg(add(b, list[i], "o", "c", err) == 0, "%s: %s", list[i], err);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    return rs;
}

struct dcase {
    const char *host;
    uint32_t want;
};

static const struct dcase dom_cases[] = {
    { "ex.com", 0 },
    { "a.ex.com", 0 },
    { "sub.ex.com", 0 },
    { "deep.sub.ex.com", 1 },
    { "x.deep.sub.ex.com", 1 },
    { "notex.com", RULESET_NO_ENTRY },
    { "ex.com.evil.net", RULESET_NO_ENTRY },
    { "com", RULESET_NO_ENTRY },
    { "h.kz", RULESET_NO_ENTRY }, /* a URL entry is not a domain entry */
};

START_TEST(test_match_domain)
{
    struct ruleset *rs = sample();
    const struct dcase *c = &dom_cases[_i];
    struct rule_match m;
    bool hit = ruleset_match_domain(rs, c->host, strlen(c->host), &m);
    ck_assert_int_eq(hit, c->want != RULESET_NO_ENTRY);
    ck_assert_uint_eq(m.entry, c->want);
    if (hit)
        ck_assert_int_eq(m.kind, RULE_DOMAIN);
    ruleset_free(rs);
}
END_TEST

struct ucase {
    const char *host, *path;
    uint32_t want;
};

static const struct ucase url_cases[] = {
    { "h.kz", "/page", 2 },
    { "h.kz", "/page?other=1", 2 }, /* the request's query is ignored for a query-less entry */
    { "h.kz", "/page?id=5", 3 },    /* an entry with a query wants exactly it */
    { "h.kz", "/page/", RULESET_NO_ENTRY },
    { "h.kz", "/pag", RULESET_NO_ENTRY },
    { "h.kz", "/dir/", 4 },
    { "h.kz", "/dir/a/b?c", 4 },
    { "h.kz", "/dir", RULESET_NO_ENTRY },
    { "h.kz", "/dir/inner/x", 5 }, /* longest prefix */
    { "h.kz", "/dir/exact", 6 },   /* exact before prefix */
    { "h.kz", "/dir/exact2", 4 },
    { "x.h.kz", "/page", RULESET_NO_ENTRY }, /* URL entries are exact on the host */
    { "2001:db8::1", "/x", 10 },
    { "2001:db8::1", "/y", RULESET_NO_ENTRY },
};

START_TEST(test_match_url)
{
    struct ruleset *rs = sample();
    const struct ucase *c = &url_cases[_i];
    struct rule_match m;
    bool hit = ruleset_match_url(rs, c->host, strlen(c->host), c->path, strlen(c->path), &m);
    ck_assert_msg(m.entry == c->want, "%s%s: got %u want %u", c->host, c->path, m.entry, c->want);
    ck_assert_int_eq(hit, c->want != RULESET_NO_ENTRY);
    ruleset_free(rs);
}
END_TEST

START_TEST(test_match_url_host_and_ip)
{
    struct ruleset *rs = sample();
    struct rule_match m;
    /* only https:// entries name a host whose TLS flows are blocked whole */
    ck_assert(ruleset_match_url_host(rs, "h.kz", 4, &m));
    ck_assert_int_eq(m.kind, RULE_URL);
    ck_assert(m.entry == 4 || m.entry == 5);
    ck_assert(!ruleset_match_url_host(rs, "only.url.kz", 11, &m));
    ck_assert(!ruleset_match_url_host(rs, "2001:db8::1", 11, &m));
    ck_assert(ruleset_match_url_host(rs, "2001:db8::2", 11, &m));
    ck_assert_uint_eq(m.entry, 12);
    ck_assert(!ruleset_match_url_host(rs, "h.k", 3, &m));
    ck_assert(!ruleset_match_url_host(rs, "x.h.kz", 6, &m));
    ck_assert(!ruleset_match_url_host(rs, "ex.com", 6, &m));
    ck_assert_uint_eq(m.entry, RULESET_NO_ENTRY);

    uint8_t a4[4], a6[16];
    inet_pton(AF_INET, "203.0.113.7", a4);
    ck_assert(ruleset_match_ip(rs, 4, a4, &m));
    ck_assert_uint_eq(m.entry, 8);
    ck_assert_int_eq(m.kind, RULE_IP);
    inet_pton(AF_INET, "203.0.113.8", a4);
    ck_assert(ruleset_match_ip(rs, 4, a4, &m));
    ck_assert_uint_eq(m.entry, 7);
    inet_pton(AF_INET, "203.0.114.8", a4);
    ck_assert(!ruleset_match_ip(rs, 4, a4, &m));
    inet_pton(AF_INET6, "2001:db8:ff::1", a6);
    ck_assert(ruleset_match_ip(rs, 6, a6, &m));
    ck_assert_uint_eq(m.entry, 9);
    inet_pton(AF_INET6, "2001:db9::1", a6);
    ck_assert(!ruleset_match_ip(rs, 6, a6, &m));
    ck_assert(!ruleset_match_ip(rs, 5, a6, &m));
    /* NULL set: nothing matches */
    ck_assert(!ruleset_match_domain(NULL, "ex.com", 6, &m));
    ck_assert(!ruleset_match_ip(NULL, 4, a4, NULL));
    ruleset_free(rs);
}
END_TEST

START_TEST(test_packet_path_agrees)
{
    /* A list entry and a packet host go through the same normalization: an SNI written in
     * any of these forms hits the entry written in another. */
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    ck_assert_int_eq(
        add(b, "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd2\x9b\xd0\xb0\xd0\xb7", "o",
            "c", err),
        0);
    struct ruleset *rs = ruleset_build(b);
    static const char *forms[] = {
        "XN--E1AFMKFD.xn--80ao21a.", "www.xn--e1afmkfd.xn--80ao21a:443",
        "WWW.\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.\xd2\x9a\xd0\x90\xd0\x97"
    };
    for (size_t i = 0; i < 3; i++) {
        char h[NORM_HOST_MAX];
        size_t hl;
        ck_assert_int_eq(norm_host((const uint8_t *)forms[i], strlen(forms[i]), h, &hl, NULL),
                         NORM_OK);
        ck_assert_msg(ruleset_match_domain(rs, h, hl, NULL), "%s", forms[i]);
    }
    ruleset_free(rs);
}
END_TEST

START_TEST(test_empty_set)
{
    struct ruleset *rs = ruleset_build(ruleset_builder_new());
    ck_assert_ptr_nonnull(rs);
    struct rule_match m;
    ck_assert(!ruleset_match_domain(rs, "a.com", 5, &m));
    ck_assert(!ruleset_match_url(rs, "a.com", 5, "/", 1, &m));
    ck_assert(!ruleset_match_url_host(rs, "a.com", 5, &m));
    ck_assert_uint_eq(ruleset_entry_count(rs), 0);
    ruleset_free(rs);
    ruleset_free(NULL);
    ruleset_builder_free(NULL);
    ck_assert_ptr_null(ruleset_build(NULL));
}
END_TEST

START_TEST(test_many_entries)
{
    /* Enough entries to grow every table several times; each one matches itself. */
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256], t[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(t, sizeof(t), "n%d.d%d.kz", i, i % 97);
        ck_assert_int_eq(add(b, t, i % 2 ? "odd" : "even", "c", err), 0);
        snprintf(t, sizeof(t), "http://u%d.kz/p/%d", i % 50, i);
        ck_assert_int_eq(add(b, t, "u", "c", err), 0);
    }
    struct ruleset *rs = ruleset_build(b);
    struct ruleset_stats st;
    ruleset_get_stats(rs, &st);
    ck_assert_uint_eq(st.domains, 20000);
    ck_assert_uint_eq(st.urls, 20000);
    for (int i = 0; i < 20000; i += 7) {
        struct rule_match m;
        snprintf(t, sizeof(t), "www.n%d.d%d.kz", i, i % 97);
        ck_assert(ruleset_match_domain(rs, t, strlen(t), &m));
        ck_assert_str_eq(ruleset_entry_text(rs, m.entry), t + 4);
        ck_assert_str_eq(ruleset_entry_order(rs, m.entry), i % 2 ? "odd" : "even");
        snprintf(t, sizeof(t), "/p/%d", i);
        char h[16];
        snprintf(h, sizeof(h), "u%d.kz", i % 50);
        ck_assert(ruleset_match_url(rs, h, strlen(h), t, strlen(t), &m));
        ck_assert_int_eq(m.kind, RULE_URL);
    }
    ruleset_free(rs);
}
END_TEST

static Suite *ruleset_suite(void)
{
    Suite *s = suite_create("ruleset");
    TCase *tc = tcase_create("entries");
    tcase_add_loop_test(tc, test_entry_table, 0, (int)(sizeof(entries) / sizeof(entries[0])));
    tcase_add_test(tc, test_long_entries);
    tcase_add_test(tc, test_dedup_and_attrs);
    tcase_add_test(tc, test_entry_orders);
    suite_add_tcase(s, tc);
    tc = tcase_create("match");
    tcase_add_loop_test(tc, test_match_domain, 0, (int)(sizeof(dom_cases) / sizeof(dom_cases[0])));
    tcase_add_loop_test(tc, test_match_url, 0, (int)(sizeof(url_cases) / sizeof(url_cases[0])));
    tcase_add_test(tc, test_match_url_host_and_ip);
    tcase_add_test(tc, test_packet_path_agrees);
    tcase_add_test(tc, test_empty_set);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_many_entries);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ruleset_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
