/* check_normalize.c - host and path normalization: tables of valid, malformed and limit inputs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/guard.h"
#include "rules/match/normalize.h"

struct hcase {
    const char *in;
    enum norm_status st;
    const char *out;
    enum norm_host_kind kind;
};

static const struct hcase hosts[] = {
    { "example.com", NORM_OK, "example.com", NORM_HOST_NAME },
    { "ExAmPle.COM", NORM_OK, "example.com", NORM_HOST_NAME },
    { "example.com.", NORM_OK, "example.com", NORM_HOST_NAME },
    { "example.com:443", NORM_OK, "example.com", NORM_HOST_NAME },
    { "Example.com.:8080", NORM_OK, "example.com", NORM_HOST_NAME },
    { "exa%6Dple.com", NORM_OK, "example.com", NORM_HOST_NAME },
    { "exa%6dple%2Ecom", NORM_OK, "example.com", NORM_HOST_NAME },
    { "a_b.example.com", NORM_OK, "a_b.example.com", NORM_HOST_NAME },
    { "xn--80ao21a", NORM_OK, "xn--80ao21a", NORM_HOST_NAME },
    /* an ignorable code point (U+034F) inside a dotted quad: IDNA maps it away, and what is
     * left is that address, as a browser reads it (found by fuzz_normalize: the second
     * normalization of the output called it an address, the first a name) */
    { "203.0.11\xcd\x8f"
      "3.7:80",
      NORM_OK, "203.0.113.7", NORM_HOST_IPV4 },
    { "XN--E1AFMKFD.XN--80AO21A", NORM_OK, "xn--e1afmkfd.xn--80ao21a", NORM_HOST_NAME },
    /* IDN: Cyrillic under .қаз (punycode computed independently: RFC 3492 codec) */
    { "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd2\x9b\xd0\xb0\xd0\xb7", NORM_OK,
      "xn--e1afmkfd.xn--80ao21a", NORM_HOST_NAME }, /* пример.қаз */
    { "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.\xd2\x9a\xd0\x90\xd0\x97.", NORM_OK,
      "xn--e1afmkfd.xn--80ao21a", NORM_HOST_NAME }, /* ПРИМЕР.ҚАЗ. - upper case, trailing dot */
    { "www.\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd2\x9b\xd0\xb0\xd0\xb7:443", NORM_OK,
      "www.xn--e1afmkfd.xn--80ao21a", NORM_HOST_NAME },
    { "%D0%BF%D1%80%D0%B8%D0%BC%D0%B5%D1%80.kz", NORM_OK, "xn--e1afmkfd.kz", NORM_HOST_NAME },
    { "b\xc3\xbc"
      "cher.de",
      NORM_OK, "xn--bcher-kva.de", NORM_HOST_NAME },               /* bücher.de */
    { "fa\xc3\x9f.de", NORM_OK, "xn--fa-hia.de", NORM_HOST_NAME }, /* faß.de, non-transitional */
    /* UTS#46 maps a zero-width space to nothing, as browsers do: it cannot hide a name */
    { "exa\xe2\x80\x8bmple.com", NORM_OK, "example.com", NORM_HOST_NAME },
    { "\xe2\x98\x83.com", NORM_OK, "xn--n3h.com",
      NORM_HOST_NAME }, /* IDNA2003-only: transitional fallback */
    /* IP literals */
    { "203.0.113.7", NORM_OK, "203.0.113.7", NORM_HOST_IPV4 },
    { "203.0.113.7:80", NORM_OK, "203.0.113.7", NORM_HOST_IPV4 },
    { "[2001:db8::1]:443", NORM_OK, "2001:db8::1", NORM_HOST_IPV6 },
    { "[2001:DB8:0:0:0:0:0:1]", NORM_OK, "2001:db8::1", NORM_HOST_IPV6 },
    { "2001:db8::1", NORM_OK, "2001:db8::1", NORM_HOST_IPV6 },
    { "1.2.3.999", NORM_OK, "1.2.3.999", NORM_HOST_NAME }, /* not an address: a (numeric) name */
    /* bad */
    { "", NORM_EMPTY, "", NORM_HOST_NAME },
    { ".", NORM_EMPTY, "", NORM_HOST_NAME },
    { ":443", NORM_EMPTY, "", NORM_HOST_NAME },
    { "exa mple.com", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "user@example.com", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "example.com/x", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "exa%00mple.com", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "a..b", NORM_BAD_LABEL, "", NORM_HOST_NAME },
    { ".a.b", NORM_BAD_LABEL, "", NORM_HOST_NAME },
    { "example.com..", NORM_BAD_LABEL, "", NORM_HOST_NAME },
    { "-a.com", NORM_BAD_LABEL, "", NORM_HOST_NAME },
    { "a-.com", NORM_BAD_LABEL, "", NORM_HOST_NAME },
    { "xn--.com", NORM_BAD_LABEL, "", NORM_HOST_NAME },
    { "example.com:", NORM_BAD_PORT, "", NORM_HOST_NAME },
    { "example.com:0", NORM_BAD_PORT, "", NORM_HOST_NAME },
    { "example.com:65536", NORM_BAD_PORT, "", NORM_HOST_NAME },
    { "example.com:8x", NORM_BAD_PORT, "", NORM_HOST_NAME },
    { "example.com:123456", NORM_BAD_PORT, "", NORM_HOST_NAME },
    { "exa%6mple.com", NORM_BAD_ESCAPE, "", NORM_HOST_NAME },
    { "example.com%", NORM_BAD_ESCAPE, "", NORM_HOST_NAME },
    { "[2001:db8::1", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "[2001:db8::1]x", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "[2001:db8::1]:0", NORM_BAD_PORT, "", NORM_HOST_NAME },
    { "[example.com]", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "2001:db8::zz", NORM_BAD_CHAR, "", NORM_HOST_NAME },
    { "\xff\xfe.com", NORM_BAD_IDNA, "", NORM_HOST_NAME },
    { "\xcc\x80"
      "a.com",
      NORM_BAD_IDNA, "", NORM_HOST_NAME },                       /* leading combining mark */
    { "ab\xe2\x80\xae.com", NORM_BAD_IDNA, "", NORM_HOST_NAME }, /* RTL override */
    { "\xe2\x80\xae"
      "exa mple.com",
      NORM_BAD_IDNA, "", NORM_HOST_NAME },
    { "\xd0\xbf exa mple.com", NORM_BAD_IDNA, "", NORM_HOST_NAME }, /* space on the IDNA path */
};

START_TEST(test_host_table)
{
    const struct hcase *c = &hosts[_i];
    char out[NORM_HOST_MAX];
    size_t len = 99;
    enum norm_host_kind kind = (enum norm_host_kind)77;
    enum norm_status st = norm_host((const uint8_t *)c->in, strlen(c->in), out, &len, &kind);
    ck_assert_msg(st == c->st, "'%s': status %d (%s), want %d", c->in, st, norm_strerror(st),
                  c->st);
    if (st == NORM_OK) {
        ck_assert_str_eq(out, c->out);
        ck_assert_uint_eq(len, strlen(c->out));
        ck_assert_int_eq(kind, c->kind);
        /* idempotent */
        char again[NORM_HOST_MAX];
        size_t l2;
        ck_assert_int_eq(norm_host((const uint8_t *)out, len, again, &l2, NULL), NORM_OK);
        ck_assert_str_eq(again, out);
    }
}
END_TEST

START_TEST(test_host_limits)
{
    char in[600], out[NORM_HOST_MAX];
    size_t len;
    /* 63-byte label ok, 64 not */
    memset(in, 'a', 63);
    memcpy(in + 63, ".com", 5);
    ck_assert_int_eq(norm_host((const uint8_t *)in, strlen(in), out, &len, NULL), NORM_OK);
    memset(in, 'a', 64);
    memcpy(in + 64, ".com", 5);
    ck_assert_int_eq(norm_host((const uint8_t *)in, strlen(in), out, &len, NULL), NORM_BAD_LABEL);
    /* 253 bytes ok (with or without a trailing dot), 254 too long */
    size_t o = 0;
    while (o < 253) {
        size_t n = 253 - o >= 50 ? 49 : 253 - o;
        memset(in + o, 'b', n);
        o += n;
        if (o < 253)
            in[o++] = '.';
    }
    in[o] = '\0';
    ck_assert_uint_eq(strlen(in), 253);
    ck_assert_int_eq(norm_host((const uint8_t *)in, 253, out, &len, NULL), NORM_OK);
    ck_assert_uint_eq(len, 253);
    in[253] = '.';
    ck_assert_int_eq(norm_host((const uint8_t *)in, 254, out, &len, NULL), NORM_OK);
    ck_assert_uint_eq(len, 253);
    in[253] = 'c';
    ck_assert_int_eq(norm_host((const uint8_t *)in, 254, out, &len, NULL), NORM_TOO_LONG);
    memset(in, 'a', sizeof(in));
    ck_assert_int_eq(norm_host((const uint8_t *)in, sizeof(in), out, &len, NULL), NORM_TOO_LONG);
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    ck_assert_int_eq(norm_host((const uint8_t *)big, 5000, out, &len, NULL), NORM_TOO_LONG);
    free(big);
    /* ports at the edges */
    ck_assert_int_eq(norm_host((const uint8_t *)"a.b:1", 5, out, &len, NULL), NORM_OK);
    ck_assert_int_eq(norm_host((const uint8_t *)"a.b:65535", 9, out, &len, NULL), NORM_OK);
    /* NULL out_len and kind are fine */
    ck_assert_int_eq(norm_host((const uint8_t *)"A.b", 3, out, NULL, NULL), NORM_OK);
    ck_assert_str_eq(out, "a.b");
}
END_TEST

START_TEST(test_host_truncated)
{
    /* Every prefix of a valid name is handled (valid or a clean error), never an over-read:
     * each prefix sits against a guard page, so any read past it faults. */
    const char *full =
        "www.\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd2\x9b\xd0\xb0\xd0\xb7:8443";
    size_t n = strlen(full);
    for (size_t i = 0; i <= n; i++) {
        uint8_t *p = guard_copy(full, i);
        char out[NORM_HOST_MAX];
        size_t len;
        enum norm_status st = norm_host(p, i, out, &len, NULL);
        ck_assert_int_le(st, NORM_BAD_ESCAPE);
        ck_assert(st == NORM_OK || i < 4 || st == NORM_BAD_PORT || st == NORM_BAD_IDNA);
        if (st == NORM_OK)
            ck_assert_uint_eq(strlen(out), len);
    }
}
END_TEST

struct pcase {
    const char *in;
    enum norm_status st;
    const char *out;
};

static const struct pcase paths[] = {
    { "", NORM_OK, "/" },
    { "/", NORM_OK, "/" },
    { "/a/b", NORM_OK, "/a/b" },
    { "/a/b/", NORM_OK, "/a/b/" },
    { "/a/./b", NORM_OK, "/a/b" },
    { "/a/../b", NORM_OK, "/b" },
    { "/a/b/..", NORM_OK, "/a/" },
    { "/a/b/.", NORM_OK, "/a/b/" },
    { "/../../a", NORM_OK, "/a" },
    { "/..", NORM_OK, "/" },
    { "//a///b//", NORM_OK, "/a/b/" },
    { "/a/%2E%2E/b", NORM_OK, "/b" },
    { "/%7Euser/%61bc", NORM_OK, "/~user/abc" },
    { "/a%2fb", NORM_OK, "/a%2Fb" },
    { "/a%2Fb", NORM_OK, "/a%2Fb" },
    { "/\xd0\xbf", NORM_OK, "/%D0%BF" },
    { "/a b", NORM_OK, "/a%20b" },
    { "/%d0%bf", NORM_OK, "/%D0%BF" },
    { "/page?q=1&r=%2e", NORM_OK, "/page?q=1&r=%2e" },
    { "/a/../b?x=/../y", NORM_OK, "/b?x=/../y" },
    { "/page#frag", NORM_OK, "/page" },
    { "/page?q#frag", NORM_OK, "/page?q" },
    { "/page#f?notquery", NORM_OK, "/page" },
    { "a/b", NORM_OK, "/a/b" },
    { "?q", NORM_OK, "/?q" },
    { "/dir/*", NORM_OK, "/dir/*" },
    { "/%", NORM_BAD_ESCAPE, "" },
    { "/%4", NORM_BAD_ESCAPE, "" },
    { "/%zz", NORM_BAD_ESCAPE, "" },
    { "/ok?%zz", NORM_OK, "/ok?%zz" },          /* the query is kept as sent */
    { "/ok?a b\xd0", NORM_OK, "/ok?a%20b%D0" }, /* ... but a C string, printable */
};

START_TEST(test_path_table)
{
    const struct pcase *c = &paths[_i];
    char out[NORM_PATH_MAX];
    size_t len = 99;
    enum norm_status st = norm_path((const uint8_t *)c->in, strlen(c->in), out, sizeof(out), &len);
    ck_assert_msg(st == c->st, "'%s': status %d, want %d", c->in, st, c->st);
    if (st == NORM_OK) {
        ck_assert_str_eq(out, c->out);
        ck_assert_uint_eq(len, strlen(c->out));
        char again[NORM_PATH_MAX];
        size_t l2;
        ck_assert_int_eq(norm_path((const uint8_t *)out, len, again, sizeof(again), &l2), NORM_OK);
        ck_assert_str_eq(again, out);
    }
}
END_TEST

START_TEST(test_path_limits)
{
    char out[16];
    size_t len;
    /* fits exactly: 15 bytes + NUL */
    ck_assert_int_eq(norm_path((const uint8_t *)"/abcdefghijklmn", 15, out, sizeof(out), &len),
                     NORM_OK);
    ck_assert_uint_eq(len, 15);
    ck_assert_int_eq(norm_path((const uint8_t *)"/abcdefghijklmno", 16, out, sizeof(out), &len),
                     NORM_TOO_LONG);
    ck_assert_int_eq(norm_path((const uint8_t *)"/abcdefghijklm\xff", 15, out, sizeof(out), &len),
                     NORM_TOO_LONG);
    ck_assert_int_eq(norm_path((const uint8_t *)"/a?0123456789abc", 16, out, sizeof(out), &len),
                     NORM_TOO_LONG);
    ck_assert_int_eq(norm_path((const uint8_t *)"/", 1, out, 0, &len), NORM_TOO_LONG);
    ck_assert_int_eq(norm_path((const uint8_t *)"/", 1, out, 1, &len), NORM_TOO_LONG);
    ck_assert_int_eq(norm_path((const uint8_t *)"/", 1, out, 2, &len), NORM_OK);
    guard_free();
    /* every prefix of a tricky path, at exact size */
    const char *full = "/a/%2e%2E/b//./c%7e?q=%zz#x";
    for (size_t i = 0; i <= strlen(full); i++) {
        uint8_t *p = guard_copy(full, i);
        char o2[NORM_PATH_MAX];
        enum norm_status st = norm_path(p, i, o2, sizeof(o2), &len);
        ck_assert(st == NORM_OK || st == NORM_BAD_ESCAPE);
    }
}
END_TEST

START_TEST(test_strerror)
{
    ck_assert_str_eq(norm_strerror(NORM_BAD_CHAR), "invalid hostname character");
    ck_assert_str_eq(norm_strerror(NORM_BAD_PORT), "invalid port");
    for (int s = NORM_OK; s <= NORM_BAD_ESCAPE; s++)
        ck_assert_ptr_nonnull(norm_strerror((enum norm_status)s));
}
END_TEST

static Suite *normalize_suite(void)
{
    Suite *s = suite_create("normalize");
    TCase *tc = tcase_create("host");
    tcase_add_loop_test(tc, test_host_table, 0, (int)(sizeof(hosts) / sizeof(hosts[0])));
    tcase_add_test(tc, test_host_limits);
    tcase_add_test(tc, test_host_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("path");
    tcase_add_loop_test(tc, test_path_table, 0, (int)(sizeof(paths) / sizeof(paths[0])));
    tcase_add_test(tc, test_path_limits);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(normalize_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
