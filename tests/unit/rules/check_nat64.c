/* check_nat64.c - Check suite for NAT64 address mapping (rules/match/nat64.c): the prefix list
 * parsed (blanks, duplicates, the well-known prefix listed, every kind of bad item named), and
 * the embedded IPv4 address found under the well-known prefix always, under a configured one
 * only when configured, and never one bit off a prefix. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/nat64.h"

START_TEST(parse_lists)
{
    struct nat64 n;
    char err[256];
    ck_assert_int_eq(nat64_parse("", &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n.n, 0);
    ck_assert_int_eq(nat64_parse(" 2001:db8:64::/96 , fd00:64::/96,64:ff9b::/96, 2001:db8:64::/96",
                                 &n, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(n.n, 2); /* the well-known one is always used; a duplicate once */
    static const uint8_t want[12] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x64 };
    ck_assert_int_eq(memcmp(n.pfx[0], want, 12), 0);
}
END_TEST

START_TEST(parse_errors)
{
    static const struct {
        const char *text, *err;
    } c[] = {
        { "2001:db8::/64", "'2001:db8::/64' is not a /96 prefix" },
        { "2001:db8::", "'2001:db8::' is not a /96 prefix" },
        { "10.0.0.0/96", "'10.0.0.0' is not an IPv6 address" },
        { "2001:db8::1/96", "'2001:db8::1/96' has bits set past the prefix" },
        { "2001:db8::/96,,fd00::/96", "an empty prefix between commas" },
        { "1::/96,2::/96,3::/96,4::/96,5::/96,6::/96,7::/96,8::/96,9::/96", "more than 8" },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct nat64 n;
        char err[256] = "";
        ck_assert_int_eq(nat64_parse(c[i].text, &n, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, c[i].err) != NULL, "%s: %s", c[i].text, err);
    }
}
END_TEST

START_TEST(embedded)
{
    struct nat64 n;
    char err[256];
    ck_assert_int_eq(nat64_parse("fd00:64::/96", &n, err, sizeof(err)), 0);
    uint8_t a[16] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 7 };
    uint8_t v4[4] = { 0 };
    ck_assert(nat64_embedded(NULL, a, v4));
    ck_assert_int_eq(memcmp(v4, (uint8_t[]){ 192, 0, 2, 7 }, 4), 0);
    uint8_t b[16] = { 0xfd, 0x00, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 9 };
    ck_assert(!nat64_embedded(NULL, b, v4));
    ck_assert(nat64_embedded(&n, b, v4));
    ck_assert_int_eq(memcmp(v4, (uint8_t[]){ 198, 51, 100, 9 }, 4), 0);
    /* one bit off either prefix, anywhere in its 96 bits: not embedded */
    for (int bit = 0; bit < 96; bit++) {
        uint8_t x[16], y[16];
        memcpy(x, a, 16);
        memcpy(y, b, 16);
        x[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
        y[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
        ck_assert_msg(!nat64_embedded(&n, x, v4), "bit %d", bit);
        ck_assert_msg(!nat64_embedded(&n, y, v4), "bit %d", bit);
    }
}
END_TEST

static Suite *nat64_suite(void)
{
    Suite *s = suite_create("nat64");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parse_lists);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, embedded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nat64_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
