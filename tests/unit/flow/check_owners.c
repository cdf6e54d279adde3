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
    struct owners *o = owners_new(8);
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
    ck_assert_ptr_null(owners_new(0));
}
END_TEST

/* Random takes and gives over a few hundred addresses in a table over half full; after
 * every step each address's count equals the model's. */
START_TEST(random_against_model)
{
    enum { N = 300, STEPS = 60000 };
    static uint32_t model[N];
    memset(model, 0, sizeof model);
    struct owners *o = owners_new(N / 2); /* 512 slots for up to 300 addresses: long runs */
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
