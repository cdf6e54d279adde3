/* check_namekeep.c - the table of passed connections' names (proxy/engine/namekeep.c): notes,
 * replacing an owner's own entry, the free list, a full table, names too long, the walk. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/engine/namekeep.h"

static const uint8_t C[16] = { 10, 0, 0, 1 }; /* one client for the tests without a share */

START_TEST(notes_and_walk)
{
    ck_assert_ptr_null(namekeep_new(0));
    ck_assert_ptr_null(namekeep_new(NAMEKEEP_MAX + 1));
    struct namekeep *nk = namekeep_new(3);
    ck_assert_ptr_nonnull(nk);
    int o[5];
    uint32_t a = namekeep_put(nk, 0, &o[0], 7, "a.example", 9, false, 4, C);
    uint32_t b = namekeep_put(nk, 0, &o[1], 8, "b.example", 9, true, 4, C);
    uint32_t c = namekeep_put(nk, 0, &o[2], 9, "c.example", 9, false, 4, C);
    ck_assert(a && b && c && a != b && b != c && a != c);
    ck_assert_uint_eq(namekeep_put(nk, 0, &o[3], 10, "d.example", 9, false, 4, C), 0); /* full */
    const struct namekeep_entry *x = namekeep_get(nk, b);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_eq(x->owner, &o[1]);
    ck_assert_uint_eq(x->gen, 8);
    ck_assert(x->ech);
    ck_assert_uint_eq(x->len, 9);
    ck_assert(memcmp(x->name, "b.example", 9) == 0);
    /* the owner's own entry is replaced, not another taken */
    ck_assert_uint_eq(namekeep_put(nk, b, &o[1], 8, "bb.example", 10, false, 4, C), b);
    x = namekeep_get(nk, b);
    ck_assert_uint_eq(x->len, 10);
    ck_assert(!x->ech);
    /* the walk meets every entry in use once */
    unsigned seen = 0;
    for (uint32_t at = namekeep_next(nk, 0); at; at = namekeep_next(nk, at))
        seen |= 1u << at;
    ck_assert_uint_eq(seen, (1u << a) | (1u << b) | (1u << c));
    namekeep_drop(nk, b);
    namekeep_drop(nk, b); /* twice: nothing */
    namekeep_drop(nk, 0);
    ck_assert_ptr_null(namekeep_get(nk, b));
    ck_assert_ptr_null(namekeep_get(nk, 0));
    ck_assert_ptr_null(namekeep_get(nk, 99));
    seen = 0;
    for (uint32_t at = namekeep_next(nk, 0); at; at = namekeep_next(nk, at))
        seen |= 1u << at;
    ck_assert_uint_eq(seen, (1u << a) | (1u << c));
    /* the freed entry is taken again; a stale number (freed) is not written through */
    uint32_t d = namekeep_put(nk, b, &o[3], 11, "d.example", 9, false, 4, C);
    ck_assert_uint_eq(d, b);
    ck_assert_ptr_eq(namekeep_get(nk, d)->owner, &o[3]);
    /* empty or too long: not kept */
    char longname[300];
    memset(longname, 'x', sizeof(longname));
    ck_assert_uint_eq(namekeep_put(nk, 0, &o[4], 1, longname, 254, false, 4, C), 0);
    ck_assert_uint_eq(namekeep_put(nk, 0, &o[4], 1, "", 0, false, 4, C), 0);
    namekeep_drop(nk, a);
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[4], 1, longname, 253, false, 4, C),
                      0); /* any DNS name */
    struct namekeep_stats st;
    namekeep_get_stats(nk, &st);
    ck_assert_uint_eq(st.in_use, 3);
    ck_assert_uint_eq(st.full, 1);
    ck_assert_uint_eq(st.too_long, 1);
    ck_assert_uint_eq(st.noted, 6);
    namekeep_free(nk);
    namekeep_free(NULL);
}
END_TEST

/* A full-size table: every number fits 16 bits, every entry is taken and given back. */
START_TEST(full_size)
{
    struct namekeep *nk = namekeep_new(NAMEKEEP_MAX);
    ck_assert_ptr_nonnull(nk);
    static int owner;
    for (uint32_t i = 0; i < NAMEKEEP_MAX; i++)
        ck_assert_uint_eq(namekeep_put(nk, 0, &owner, i, "n.example", 9, false, 4, C), i + 1);
    ck_assert_uint_eq(namekeep_put(nk, 0, &owner, 0, "n.example", 9, false, 4, C), 0);
    for (uint32_t at = 1; at <= NAMEKEEP_MAX; at++)
        namekeep_drop(nk, at);
    ck_assert_uint_eq(namekeep_next(nk, 0), 0);
    ck_assert_uint_ne(namekeep_put(nk, 0, &owner, 0, "n.example", 9, false, 4, C), 0);
    namekeep_free(nk);
}
END_TEST

/* One client's share (namekeep_set_share()): past it that client's names are not kept, other
 * clients' still are; a name dropped gives its client room again; replacing an entry takes no
 * more; IPv6 clients count by their prefix. */
START_TEST(client_share)
{
    struct namekeep *nk = namekeep_new(8);
    ck_assert_ptr_nonnull(nk);
    ck_assert(namekeep_set_share(nk, 2, 48));
    int o[8];
    const uint8_t a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 2 };
    const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
    uint32_t a1 = namekeep_put(nk, 0, &o[0], 1, "a.example", 9, false, 4, a);
    uint32_t a2 = namekeep_put(nk, 0, &o[1], 1, "a.example", 9, false, 4, a);
    ck_assert_uint_ne(a1, 0);
    ck_assert_uint_ne(a2, 0);
    ck_assert_uint_eq(namekeep_put(nk, a2, &o[1], 1, "aa.example", 10, false, 4, a), a2);
    ck_assert_uint_eq(namekeep_put(nk, 0, &o[2], 1, "a.example", 9, false, 4, a), 0); /* past 2 */
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[3], 1, "b.example", 9, false, 4, b), 0);
    struct namekeep_stats st;
    namekeep_get_stats(nk, &st);
    ck_assert_uint_eq(st.in_use, 3);
    ck_assert_uint_eq(st.client_full, 1);
    ck_assert_uint_eq(st.full, 0);
    namekeep_drop(nk, a1);
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[2], 1, "a.example", 9, false, 4, a), 0);
    /* two addresses of one /48 are one client */
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[4], 1, "v.example", 9, false, 6, v6a), 0);
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[5], 1, "v.example", 9, false, 6, v6b), 0);
    ck_assert_uint_eq(namekeep_put(nk, 0, &o[6], 1, "v.example", 9, false, 6, v6b), 0);
    namekeep_get_stats(nk, &st);
    ck_assert_uint_eq(st.in_use, 5);
    ck_assert_uint_eq(st.client_full, 2);
    namekeep_free(nk);
    /* no share, or one of the whole table: one client may fill it */
    nk = namekeep_new(2);
    ck_assert(namekeep_set_share(nk, 2, 64));
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[0], 1, "a.example", 9, false, 4, a), 0);
    ck_assert_uint_ne(namekeep_put(nk, 0, &o[1], 1, "a.example", 9, false, 4, a), 0);
    ck_assert_uint_eq(namekeep_put(nk, 0, &o[2], 1, "a.example", 9, false, 4, a), 0);
    namekeep_get_stats(nk, &st);
    ck_assert_uint_eq(st.full, 1);
    ck_assert_uint_eq(st.client_full, 0);
    namekeep_free(nk);
}
END_TEST

static Suite *namekeep_suite(void)
{
    Suite *s = suite_create("namekeep");
    TCase *tc = tcase_create("namekeep");
    tcase_add_test(tc, notes_and_walk);
    tcase_add_test(tc, full_size);
    tcase_add_test(tc, client_share);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(namekeep_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
