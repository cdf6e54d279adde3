/* check_jsonw.c - the JSON string escaper: the pieces jsonw_piece() cuts a string into, the stdio
 * writer on top of it, and that every byte string comes out as one valid JSON string. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "tests/lib/guard.h"

/* jsonw_str(s) into a string (NUL-terminated, static). */
static const char *str_of(const char *s, size_t len)
{
    static char out[4096];
    FILE *f = fmemopen(out, sizeof(out), "w");
    ck_assert_ptr_nonnull(f);
    jsonw_str(f, s, len);
    ck_assert_int_eq(fclose(f), 0);
    return out;
}

static const struct {
    const char *in;
    size_t len;
    unsigned flags;
    const char *want; /* the body jsonw_piece() gives, piece by piece, quotes around */
} cases[] = {
    { "", 0, 0, "\"\"" },
    { "example.com", 11, 0, "\"example.com\"" },
    { "a\"b\\c", 5, 0, "\"a\\\"b\\\\c\"" },
    { "a\nb\tc", 5, 0, "\"a\\u000ab\\u0009c\"" },
    { "a\nb\tc", 5, JSONW_SHORT, "\"a\\nb\\tc\"" },
    { "\r\x01\x1f\x7f", 4, JSONW_SHORT, "\"\\u000d\\u0001\\u001f\\u007f\"" },
    { "caf\xc3\xa9", 5, 0, "\"caf\xc3\xa9\"" }, /* valid UTF-8 kept */
    { "\xe2\x82\xac!", 4, 0, "\"\xe2\x82\xac!\"" },
    { "\xc3", 1, 0, "\"\\u00c3\"" },                       /* cut sequence */
    { "\xc0\xaf", 2, 0, "\"\\u00c0\\u00af\"" },            /* overlong */
    { "\xed\xa0\x80", 3, 0, "\"\\u00ed\\u00a0\\u0080\"" }, /* surrogate */
    { "\xff"
      "a",
      2, 0, "\"\\u00ffa\"" },
    { "x\0y", 3, 0, "\"x\\u0000y\"" },
};

/* Joins the pieces of s under flags, quotes around, into out. */
static void pieces(const char *s, size_t len, unsigned flags, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '"';
    const char *g = (const char *)guard_copy(s, len); /* a read past len faults */
    while (len > 0) {
        char esc[JSONW_ESC_MAX];
        size_t elen = 99;
        size_t n = jsonw_piece(g, len, flags, esc, &elen);
        if (n) {
            ck_assert_uint_le(n, len);
            ck_assert_uint_eq(elen, 0);
            ck_assert_uint_lt(o + n, cap);
            memcpy(out + o, g, n);
            o += n;
        } else {
            ck_assert(elen == 2 || elen == 6);
            ck_assert_uint_lt(o + elen, cap);
            memcpy(out + o, esc, elen);
            o += elen;
            n = 1;
        }
        g += n;
        len -= n;
    }
    out[o++] = '"';
    out[o] = 0;
}

START_TEST(test_table)
{
    char got[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pieces(cases[i].in, cases[i].len, cases[i].flags, got, sizeof(got));
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got %s want %s", i, got,
                      cases[i].want);
        if (cases[i].flags == 0)
            ck_assert_str_eq(str_of(cases[i].in, cases[i].len), cases[i].want);
    }
    guard_free();
}
END_TEST

/* A plain run is one piece, however long. */
START_TEST(test_one_run)
{
    const char *s = "GET /a?b=c HTTP/1.1 \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82";
    char esc[JSONW_ESC_MAX];
    size_t elen;
    ck_assert_uint_eq(jsonw_piece(s, strlen(s), 0, esc, &elen), strlen(s));
    ck_assert_uint_eq(jsonw_piece("ab\"c", 4, 0, esc, &elen), 2);
    /* the run ends at the first byte that is not plain, wherever it is (8 bytes are read at a
     * time where they can be: every position around and across those steps) */
    static const unsigned char special[] = { '"', '\\', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xff };
    for (size_t len = 1; len <= 40; len++)
        for (size_t pos = 0; pos < len; pos++)
            for (size_t k = 0; k < sizeof special; k++) {
                char b[40];
                memset(b, 'a' + (char)(pos % 26), len);
                b[pos] = (char)special[k];
                ck_assert_uint_eq(jsonw_piece(b, len, 0, esc, &elen), pos);
            }
    char all[40];
    memset(all, '~', sizeof all);
    ck_assert_uint_eq(jsonw_piece(all, sizeof all, 0, esc, &elen), sizeof all);
}
END_TEST

/* Any bytes at all: the writer's output is one JSON string that decodes (jansson, strict). */
START_TEST(test_random_valid)
{
    srand(7);
    for (int it = 0; it < 20000; it++) {
        char s[40];
        size_t len = (size_t)(rand() % (int)sizeof(s));
        for (size_t i = 0; i < len; i++)
            s[i] = (char)(rand() % 3 == 0 ? 0x80 + rand() % 0x80 : rand() % 256);
        const char *out = str_of(s, len);
        json_error_t err;
        json_t *j = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        ck_assert_msg(j && json_is_string(j), "iteration %d: %s: %s", it, out, err.text);
        json_decref(j);
    }
}
END_TEST

static Suite *jsonw_suite(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_one_run);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, test_random_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jsonw_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
