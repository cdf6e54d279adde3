/* check_iplpm.c - longest-prefix match: tables for IPv4/IPv6 and a property test against a
 * naive scan over random nested prefixes (fixed seed). */
#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/iplpm.h"

static struct iplpm_prefix pfx(int ver, const char *a, unsigned plen, uint32_t value)
{
    struct iplpm_prefix p;
    memset(&p, 0, sizeof(p));
    ck_assert_int_eq(inet_pton(ver == 4 ? AF_INET : AF_INET6, a, p.addr), 1);
    p.plen = (uint8_t)plen;
    p.value = value;
    return p;
}

static uint32_t look(const struct iplpm *t, int ver, const char *a)
{
    uint8_t b[16];
    ck_assert_int_eq(inet_pton(ver == 4 ? AF_INET : AF_INET6, a, b), 1);
    return iplpm_lookup(t, b);
}

START_TEST(test_v4_table)
{
    struct iplpm_prefix p[] = {
        pfx(4, "10.0.0.0", 8, 1),         pfx(4, "10.1.0.0", 16, 2),     pfx(4, "10.1.2.3", 32, 3),
        pfx(4, "203.0.113.7", 32, 4),     pfx(4, "192.168.1.77", 24, 5), /* host bits ignored */
        pfx(4, "255.255.255.255", 32, 6), pfx(4, "10.0.0.0", 8, 7),      /* duplicate of value 1 */
        pfx(4, "10.1.0.0", 24, 8),
    };
    struct iplpm *t = iplpm_build(p, sizeof(p) / sizeof(p[0]), 4);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(look(t, 4, "10.0.0.0"), 1);
    ck_assert_uint_eq(look(t, 4, "10.255.255.255"), 1);
    ck_assert_uint_eq(look(t, 4, "10.1.0.0"), 8);
    ck_assert_uint_eq(look(t, 4, "10.1.0.255"), 8);
    ck_assert_uint_eq(look(t, 4, "10.1.1.0"), 2);
    ck_assert_uint_eq(look(t, 4, "10.1.2.3"), 3);
    ck_assert_uint_eq(look(t, 4, "10.1.2.4"), 2);
    ck_assert_uint_eq(look(t, 4, "10.2.0.0"), 1);
    ck_assert_uint_eq(look(t, 4, "11.0.0.0"), IPLPM_NONE);
    ck_assert_uint_eq(look(t, 4, "9.255.255.255"), IPLPM_NONE);
    ck_assert_uint_eq(look(t, 4, "0.0.0.0"), IPLPM_NONE);
    ck_assert_uint_eq(look(t, 4, "203.0.113.7"), 4);
    ck_assert_uint_eq(look(t, 4, "203.0.113.6"), IPLPM_NONE);
    ck_assert_uint_eq(look(t, 4, "203.0.113.8"), IPLPM_NONE);
    ck_assert_uint_eq(look(t, 4, "192.168.1.0"), 5);
    ck_assert_uint_eq(look(t, 4, "192.168.1.255"), 5);
    ck_assert_uint_eq(look(t, 4, "192.168.2.0"), IPLPM_NONE);
    ck_assert_uint_eq(look(t, 4, "255.255.255.255"), 6);
    ck_assert_uint_eq(look(t, 4, "255.255.255.254"), IPLPM_NONE);
    ck_assert_uint_gt(iplpm_bytes(t), 0);
    iplpm_free(t);
}
END_TEST

START_TEST(test_v6_table)
{
    struct iplpm_prefix p[] = {
        pfx(6, "2001:db8::", 32, 1),
        pfx(6, "2001:db8:1::", 48, 2),
        pfx(6, "2001:db8:1::1", 128, 3),
        pfx(6, "::", 0, 4), /* default route */
        pfx(6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 5),
    };
    struct iplpm *t = iplpm_build(p, 5, 6);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(look(t, 6, "2001:db8::1"), 1);
    ck_assert_uint_eq(look(t, 6, "2001:db8:1::1"), 3);
    ck_assert_uint_eq(look(t, 6, "2001:db8:1::2"), 2);
    ck_assert_uint_eq(look(t, 6, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"), 2);
    ck_assert_uint_eq(look(t, 6, "2001:db8:2::"), 1);
    ck_assert_uint_eq(look(t, 6, "2001:db9::"), 4);
    ck_assert_uint_eq(look(t, 6, "::"), 4);
    ck_assert_uint_eq(look(t, 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 5);
    ck_assert_uint_eq(look(t, 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 4);
    iplpm_free(t);
}
END_TEST

START_TEST(test_empty_and_bad)
{
    struct iplpm *t = iplpm_build(NULL, 0, 4);
    ck_assert_ptr_nonnull(t);
    uint8_t a[16] = { 1, 2, 3, 4 };
    ck_assert_uint_eq(iplpm_lookup(t, a), IPLPM_NONE);
    ck_assert_uint_eq(iplpm_intervals(t), 0);
    iplpm_free(t);
    ck_assert_uint_eq(iplpm_lookup(NULL, a), IPLPM_NONE);
    iplpm_free(NULL);
    ck_assert_ptr_null(iplpm_build(NULL, 0, 5));
    struct iplpm_prefix p = pfx(4, "1.2.3.4", 33, 1);
    ck_assert_ptr_null(iplpm_build(&p, 1, 4));
    p = pfx(4, "1.2.3.4", 32, IPLPM_NONE);
    ck_assert_ptr_null(iplpm_build(&p, 1, 4));
    /* 0.0.0.0/0 covers everything */
    p = pfx(4, "9.9.9.9", 0, 42);
    t = iplpm_build(&p, 1, 4);
    uint8_t z[4] = { 0, 0, 0, 0 }, f[4] = { 255, 255, 255, 255 };
    ck_assert_uint_eq(iplpm_lookup(t, z), 42);
    ck_assert_uint_eq(iplpm_lookup(t, f), 42);
    iplpm_free(t);
}
END_TEST

static uint64_t rng = 12345;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng >> 33) % n);
}

static int covers(const struct iplpm_prefix *p, const uint8_t *a, int bytes)
{
    for (int bit = 0; bit < p->plen && bit < bytes * 8; bit++) {
        int m = 0x80 >> (bit % 8);
        if ((p->addr[bit / 8] & m) != (a[bit / 8] & m))
            return 0;
    }
    return 1;
}

static void property(int ver)
{
    int bytes = ver == 4 ? 4 : 16, width = bytes * 8;
    for (int round = 0; round < 40; round++) {
        struct iplpm_prefix p[200], copy[200];
        size_t n = 1 + rnd(199);
        for (size_t i = 0; i < n; i++) {
            memset(&p[i], 0, sizeof(p[i]));
            /* addresses near a few bases so prefixes nest; every other round spread over
             * the whole space with short prefixes too (across the lookup's first-step
             * buckets, which the top bits pick) */
            bool spread = round % 2 == 1;
            p[i].addr[0] = (uint8_t)(spread ? rnd(256) : 10 + rnd(2));
            for (int b = 1; b < bytes; b++)
                p[i].addr[b] = (uint8_t)(rnd(4) == 0 || (spread && b == 1) ? rnd(256) : rnd(3));
            p[i].plen = (uint8_t)(spread && rnd(2) ? rnd(17) : rnd((uint32_t)width + 1));
            p[i].value = (uint32_t)i;
            for (int bit = p[i].plen; bit < width; bit++)
                p[i].addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
        }
        memcpy(copy, p, sizeof(p));
        struct iplpm *t = iplpm_build(copy, n, ver);
        ck_assert_ptr_nonnull(t);
        /* the same arrays used in place, as an image does */
        struct iplpm_parts parts;
        iplpm_parts(t, &parts);
        struct iplpm *view = iplpm_view(&parts, (uint32_t)n, NULL, 0);
        ck_assert_ptr_nonnull(view);
        for (int q = 0; q < 150; q++) {
            uint8_t a[16] = { 0 };
            if (rnd(2)) {
                memcpy(a, p[rnd((uint32_t)n)].addr, 16);
                if (rnd(2))
                    a[bytes - 1 - rnd(2)] ^= (uint8_t)(1u << rnd(8));
            } else {
                a[0] = (uint8_t)(round % 2 == 1 ? rnd(256) : 9 + rnd(4));
                for (int b = 1; b < bytes; b++)
                    a[b] = (uint8_t)(rnd(4) == 0 || (round % 2 == 1 && b == 1) ? rnd(256) : rnd(3));
            }
            /* naive: longest covering prefix; among equal prefixes the smallest value */
            uint32_t want = IPLPM_NONE;
            int best = -1;
            for (size_t i = 0; i < n; i++) {
                if (!covers(&p[i], a, bytes))
                    continue;
                if (p[i].plen > best || (p[i].plen == best && p[i].value < want)) {
                    best = p[i].plen;
                    want = p[i].value;
                }
            }
            ck_assert_uint_eq(iplpm_lookup(t, a), want);
            ck_assert_uint_eq(iplpm_lookup(view, a), want);
        }
        ck_assert_uint_le(iplpm_intervals(t), 2 * n + 1);
        iplpm_free(view);
        iplpm_free(t);
    }
}

START_TEST(test_property_v4)
{
    property(4);
}
END_TEST

START_TEST(test_property_v6)
{
    property(6);
}
END_TEST

static Suite *iplpm_suite(void)
{
    Suite *s = suite_create("iplpm");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_v4_table);
    tcase_add_test(tc, test_v6_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_empty_and_bad);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_add_test(tc, test_property_v4);
    tcase_add_test(tc, test_property_v6);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(iplpm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
