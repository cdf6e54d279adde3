/* check_bigmem.c - Check suite for common/bigmem.c: blocks below and above the huge-page size
 * are zeroed, 64-byte aligned (2 MiB aligned on huge pages), writable to their last byte, and
 * freed with their size; sizes straddling both thresholds (an allocation, a mapping, huge
 * pages). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"

START_TEST(test_blocks)
{
    static const size_t sizes[] = { 0,
                                    1,
                                    64,
                                    1000,
                                    BIGMEM_MAP - 1,
                                    BIGMEM_MAP,
                                    BIGMEM_MAP + 1,
                                    BIGMEM_HUGE_FROM - 1,
                                    BIGMEM_HUGE_FROM,
                                    BIGMEM_HUGE_FROM + 1,
                                    BIGMEM_HUGE - 1,
                                    BIGMEM_HUGE,
                                    BIGMEM_HUGE + 1,
                                    3 * BIGMEM_HUGE + 4096 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *p = bigmem_alloc(n);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        if (n >= BIGMEM_HUGE_FROM) /* (whole huge pages from there on) */
            ck_assert_uint_eq((uintptr_t)p % BIGMEM_HUGE, 0);
        for (size_t j = 0; j < n; j += 4093)
            ck_assert_uint_eq(p[j], 0);
        if (n) {
            ck_assert_uint_eq(p[n - 1], 0);
            memset(p, 0xa5, n);
            ck_assert_uint_eq(p[n - 1], 0xa5);
        }
        bigmem_free(p, n);
    }
    bigmem_free(NULL, BIGMEM_HUGE);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_blocks);
    Suite *s = suite_create("bigmem");
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
