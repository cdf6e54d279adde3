/* check_failstatic.c - Check suite for proxy/daemon/failstatic.c: the fail-static rule file.
 * Round trips (empty, one order, several), and every corruption a disk or an operator can
 * cause is refused with a message naming the problem: a changed byte anywhere, a truncated
 * file (every prefix), a wrong magic, format version, record count or checksum field, a record
 * that is not an order. Inputs sit against a guard page (tests/lib/guard.h). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/daemon/failstatic.h"
#include "tests/lib/guard.h"

static struct order *mk(const char *id, const char *res)
{
    struct order *o = order_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(order_set(&o->id, id, strlen(id)), 0);
    ck_assert_int_eq(order_set(&o->issuer, "Court", 5), 0);
    char err[256];
    ck_assert_int_eq(order_add_resource(o, res, strlen(res), NULL, false, err, sizeof(err)), 0);
    return o;
}

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_failstatic.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, FAILSTATIC_NAME);
    unlink(p);
    rmdir(dir);
}

/* The file's bytes as saved for two orders at version 42. */
static char *saved(size_t *len)
{
    struct order *a = mk("o-1", "ex.com"), *b = mk("o-2", "http://h.example/p");
    const struct order *v[] = { a, b };
    char err[512];
    ck_assert_int_eq(failstatic_save(dir, 42, v, 2, err, sizeof(err)), 0);
    order_free(a);
    order_free(b);
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, FAILSTATIC_NAME);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static int parse(const char *buf, size_t len, uint64_t *v, struct order_list *l, char *err,
                 size_t errlen)
{
    const uint8_t *g = guard_copy(buf, len);
    int rc = failstatic_parse("f", g, len, v, l, err, errlen);
    guard_free();
    return rc;
}

START_TEST(test_round_trip)
{
    size_t len;
    char *buf = saved(&len);
    ck_assert(strncmp(buf, "qorgau-failstatic 1 42 2 ", 25) == 0);
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512];
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.v[0]->id, "o-1");
    ck_assert_str_eq(l.v[0]->res[0].norm, "ex.com");
    ck_assert_str_eq(l.v[1]->id, "o-2");
    order_list_free(&l);
    free(buf);
}
END_TEST

START_TEST(test_empty_set)
{
    char err[512];
    ck_assert_int_eq(failstatic_save(dir, 7, NULL, 0, err, sizeof(err)), 0);
    struct order_list l = { 0 };
    uint64_t v = 0;
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_uint_eq(l.n, 0);
    /* a second save replaces the first */
    struct order *a = mk("o-9", "nine.example");
    const struct order *vv[] = { a };
    ck_assert_int_eq(failstatic_save(dir, 8, vv, 1, err, sizeof(err)), 0);
    order_free(a);
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 8);
    ck_assert_uint_eq(l.n, 1);
    order_list_free(&l);
}
END_TEST

START_TEST(test_missing)
{
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512];
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, FAILSTATIC_NAME));
}
END_TEST

/* Every single byte changed anywhere is refused, the list left as it was. */
START_TEST(test_every_byte_flipped)
{
    size_t len;
    char *buf = saved(&len);
    for (size_t i = 0; i < len; i++) {
        char *c = malloc(len);
        memcpy(c, buf, len);
        c[i] ^= 0x01;
        struct order_list l = { 0 };
        uint64_t v = 0;
        char err[512] = "";
        int rc = parse(c, len, &v, &l, err, sizeof(err));
        ck_assert_msg(rc == -EINVAL, "byte %zu flipped: rc %d", i, rc);
        ck_assert_uint_eq(l.n, 0);
        ck_assert(strncmp(err, "failstatic: f", 13) == 0);
        order_list_free(&l);
        free(c);
    }
    free(buf);
}
END_TEST

START_TEST(test_every_prefix)
{
    size_t len;
    char *buf = saved(&len);
    for (size_t n = 0; n < len; n++) {
        struct order_list l = { 0 };
        uint64_t v = 0;
        char err[512] = "";
        ck_assert_msg(parse(buf, n, &v, &l, err, sizeof(err)) == -EINVAL, "prefix %zu", n);
        ck_assert_uint_eq(l.n, 0);
        order_list_free(&l);
    }
    free(buf);
}
END_TEST

struct bad {
    const char *text;
    const char *msg;
};

/* sha256 of the empty string (a checksum that skips the header prefix would accept it), and
 * an arbitrary one */
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_X     "a2e6a5a1f4b23a5e9e20b5a4b7e44f2d7b5f12f03f0b8c0b6f6d0e3ad6b8d0a1"

static const struct bad bads[] = {
    { "", "no header line" },
    { "qorgau-failstatic 1 1 0 " SHA_EMPTY, "no header line" },
    { "qorgau-failstatix 1 1 0 " SHA_EMPTY "\n", "bad header" },
    { "qorgau-failstatic 2 1 0 " SHA_EMPTY "\n", "format version '2' is not 1" },
    { "qorgau-failstatic 1 x 0 " SHA_EMPTY "\n", "bad version" },
    { "qorgau-failstatic 1 1 0 " SHA_EMPTY " \n", "bad header" },
    { "qorgau-failstatic 1 1 0 abc\n", "bad version, count or checksum" },
    { "qorgau-failstatic 1 1 0 " SHA_EMPTY "\n", "checksum mismatch" }, /* prefix not summed */
    { "qorgau-failstatic 1 99999999999999999999999 0 " SHA_EMPTY "\n", "bad version" },
    { "qorgau-failstatic 1 1 1 " SHA_X "\nx\n", "checksum mismatch" },
};

START_TEST(test_bad)
{
    const struct bad *b = &bads[_i];
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512] = "";
    ck_assert_int_eq(parse(b->text, strlen(b->text), &v, &l, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, b->msg) != NULL, "case %d: '%s' lacks '%s'", _i, err, b->msg);
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* A file with a correct checksum over "PREFIX" + body (computed here independently of the
 * module: one buffer, one SHA-256). */
static int mkfile(char *buf, size_t cap, const char *prefix, const char *body)
{
    char whole[1024];
    int wl = snprintf(whole, sizeof(whole), "%s%s", prefix, body);
    char sum[65];
    ck_assert_int_eq(order_sha256((const uint8_t *)whole, (size_t)wl, sum), 0);
    return snprintf(buf, cap, "%s%s\n%s", prefix, sum, body);
}

struct sumcase {
    const char *prefix, *body, *msg;
};

static const struct sumcase sumcases[] = {
    /* a record that is not an order: refused naming its line */
    { "qorgau-failstatic 1 3 1 ", "{\"id\":\"x\"}\n", "failstatic: f:2: " },
    { "qorgau-failstatic 1 3 1 ", "not json\n", "failstatic: f:2: " },
    /* the count disagrees with the records */
    { "qorgau-failstatic 1 1 1 ", "", "0 records, the header says 1" },
    /* the last record without its line end */
    { "qorgau-failstatic 1 1 1 ", "{}", "last record has no line end" },
};

START_TEST(test_checksummed_but_bad)
{
    const struct sumcase *c = &sumcases[_i];
    char buf[1024];
    int n = mkfile(buf, sizeof(buf), c->prefix, c->body);
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512] = "";
    ck_assert_int_eq(parse(buf, (size_t)n, &v, &l, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, c->msg) != NULL, "case %d: '%s' lacks '%s'", _i, err, c->msg);
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* The independent checksum agrees with the module's: an empty set written by hand parses. */
START_TEST(test_handmade_valid)
{
    char buf[1024];
    int n = mkfile(buf, sizeof(buf), "qorgau-failstatic 1 5 0 ", "");
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512] = "";
    ck_assert_int_eq(parse(buf, (size_t)n, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 5);
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

static Suite *failstatic_suite(void)
{
    Suite *s = suite_create("failstatic");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_set);
    tcase_add_test(tc, test_missing);
    tcase_add_test(tc, test_handmade_valid);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_byte_flipped);
    tcase_add_test(tc, test_every_prefix);
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bads) / sizeof(bads[0])));
    tcase_add_loop_test(tc, test_checksummed_but_bad, 0,
                        (int)(sizeof(sumcases) / sizeof(sumcases[0])));
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(failstatic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
