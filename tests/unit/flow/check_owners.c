/* check_owners.c - Check suite for the counters per client address (proxy/flow/owners.c):
 * limits, IPv4 against IPv6 keys, and the table against a plain model through random takes
 * and gives (backward-shift deletion keeps every remaining address findable). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/flow/owners.h"
#include "tests/lib/rnd.h"

static void addr_of(uint32_t i, uint8_t a[16])
{
    memset(a, 0, 16);
    a[0] = 0xfd;
    a[12] = (uint8_t)(i >> 24);
    a[13] = (uint8_t)(i >> 16);
    a[14] = (uint8_t)(i >> 8);
    a[15] = (uint8_t)i;
}

START_TEST(limit_per_address)
{
    struct owners *o = owners_new(8, 0);
    ck_assert_ptr_nonnull(o);
    uint8_t a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 2 };
    for (int i = 0; i < 3; i++)
        ck_assert(owners_take(o, 4, a, 3));
    ck_assert(!owners_take(o, 4, a, 3)); /* its share is held */
    ck_assert_uint_eq(owners_count(o, 4, a), 3);
    ck_assert(owners_take(o, 4, b, 3)); /* another address is not affected */
    owners_give(o, 4, a);
    ck_assert(owners_take(o, 4, a, 3)); /* one given back: one more */
    ck_assert(owners_take(o, 4, a, 0)); /* no limit */
    ck_assert_uint_eq(owners_count(o, 4, a), 4);
    /* IPv4 reads 4 bytes; the same bytes as IPv6 are another address */
    uint8_t a2[16] = { 10, 0, 0, 1, 0xff, 0xff };
    ck_assert_uint_eq(owners_count(o, 4, a2), 4);
    ck_assert_uint_eq(owners_count(o, 6, a), 0);
    for (int i = 0; i < 4; i++)
        owners_give(o, 4, a);
    ck_assert_uint_eq(owners_count(o, 4, a), 0);
    owners_give(o, 4, a); /* absent: ignored */
    ck_assert_uint_eq(owners_count(o, 4, b), 1);
    owners_free(o);
    owners_free(NULL);
    ck_assert_ptr_null(owners_new(0, 0));
    ck_assert_ptr_null(owners_new(8, 129));
}
END_TEST

/* IPv6 clients are prefixes: by default a /64 (any address a subscriber takes in its prefix
 * counts against one share); other lengths cut inside a byte; 128 is the address. IPv4 keys
 * never equal an IPv6 prefix's. */
START_TEST(ipv6_prefix)
{
    uint8_t k1[16], k2[16];
    static const uint8_t p1[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                    0x9a, 0xbc, 0,    0,    0,    0,    0,    1 },
                         p2[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x7f,
                                    0x11, 0x22, 0,    0,    0,    0,    0,    2 };
    owners_client_key(6, p1, 64, k1);
    owners_client_key(6, p2, 64, k2);
    ck_assert(memcmp(k1, k2, 16) != 0); /* ...78 against ...7f: other /64s */
    ck_assert(memcmp(k1, p1, 8) == 0);
    for (int i = 8; i < 16; i++)
        ck_assert_uint_eq(k1[i], 0);
    owners_client_key(6, p1, 60, k1); /* 0x78 and 0x7f agree in their top nibble */
    owners_client_key(6, p2, 60, k2);
    ck_assert(memcmp(k1, k2, 16) == 0);
    ck_assert_uint_eq(k1[7], 0x70);
    owners_client_key(6, p1, 0, k1); /* 0: the default, 64 */
    owners_client_key(6, p1, 64, k2);
    ck_assert(memcmp(k1, k2, 16) == 0);
    owners_client_key(6, p1, 128, k1);
    ck_assert(memcmp(k1, p1, 16) == 0);
    static const uint8_t v4[16] = { 32, 1, 13, 184 };
    owners_client_key(4, v4, 64, k1);
    owners_client_key(6, p1, 32, k2); /* 2001:db8::/32, the same first four bytes */
    ck_assert(memcmp(k1, v4, 4) == 0);
    ck_assert(memcmp(k1, k2, 16) != 0);

    struct owners *o = owners_new(8, 0);
    ck_assert(owners_take(o, 6, p1, 2));
    uint8_t p1b[16];
    memcpy(p1b, p1, 16);
    p1b[15] = 0x99; /* another address of the same /64 */
    ck_assert(owners_take(o, 6, p1b, 2));
    ck_assert(!owners_take(o, 6, p1b, 2)); /* the prefix holds its share */
    ck_assert(owners_take(o, 6, p2, 2));
    ck_assert_uint_eq(owners_count(o, 6, p1), 2);
    owners_give(o, 6, p1b);
    owners_give(o, 6, p1);
    ck_assert_uint_eq(owners_count(o, 6, p1b), 0);
    ck_assert_uint_eq(owners_count(o, 6, p2), 1);
    owners_free(o);
}
END_TEST

/* Random takes and gives over a few hundred addresses in a table over half full; after
 * every step each address's count equals the model's. */
START_TEST(random_against_model)
{
    enum { N = 300, STEPS = 60000 };
    static uint32_t model[N];
    memset(model, 0, sizeof model);
    struct owners *o = owners_new(N / 2, 128); /* 512 slots for up to 300 addresses: long runs */
    ck_assert_ptr_nonnull(o);
    rnd_seed(0x0e4e55u + (uint64_t)_i);
    uint8_t a[16];
    for (int s = 0; s < STEPS; s++) {
        uint32_t i = rnd_below(N);
        addr_of(i, a);
        if (rnd_below(2)) {
            bool ok = owners_take(o, 6, a, 4);
            ck_assert(ok == (model[i] < 4));
            if (ok)
                model[i]++;
        } else {
            owners_give(o, 6, a);
            if (model[i])
                model[i]--;
        }
        if (s % 97 == 0)
            for (uint32_t k = 0; k < N; k++) {
                addr_of(k, a);
                ck_assert_uint_eq(owners_count(o, 6, a), model[k]);
            }
    }
    owners_free(o);
}
END_TEST

static Suite *owners_suite(void)
{
    Suite *s = suite_create("owners");
    TCase *tc = tcase_create("owners");
    tcase_add_test(tc, limit_per_address);
    tcase_add_test(tc, ipv6_prefix);
    tcase_add_loop_test(tc, random_against_model, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(owners_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
