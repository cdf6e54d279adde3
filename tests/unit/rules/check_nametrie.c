/* check_nametrie.c - the anchored forward trie (URL entries): exact and prefix modes, limits,
 * the widest node, the radix-sorted build, and a property test against a naive matcher on random
 * names (fixed seed). Domain (label-suffix) matching is domhash's: check_domhash, check_ruleset. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/nametrie.h"
#include "tests/lib/rnd.h"

/* Keys packed in a pool, NUL-separated. */
struct keyset {
    char pool[1 << 16];
    size_t len;
    struct nametrie_key k[512];
    size_t n;
};

static void ks_add(struct keyset *ks, const char *s, uint32_t value)
{
    size_t l = strlen(s);
    memcpy(ks->pool + ks->len, s, l + 1);
    ks->k[ks->n++] = (struct nametrie_key){ (uint32_t)ks->len, (uint32_t)l, value };
    ks->len += l + 1;
}

START_TEST(test_modes_forward)
{
    static struct keyset ks;
    memset(&ks, 0, sizeof(ks));
    ks_add(&ks, "h.com/a", 0);
    ks_add(&ks, "h.com/a/b", 1);
    ks_add(&ks, "h.com/", 2);
    ks_add(&ks, "g.org/x?y=1", 3);
    ks_add(&ks, "h.com/a", 9); /* duplicate key: stored once */
    struct nametrie *t = nametrie_build(ks.pool, ks.k, ks.n);
    ck_assert_ptr_nonnull(t);
    uint32_t v = nametrie_lookup(t, "h.com/a", 7, NAMETRIE_EXACT);
    ck_assert(v == 0 || v == 9);
    ck_assert_uint_eq(nametrie_lookup(t, "h.com/a/b", 9, NAMETRIE_EXACT), 1);
    ck_assert_uint_eq(nametrie_lookup(t, "h.com/a/", 8, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "h.com", 5, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "h.com/a/b/c", 11, NAMETRIE_PREFIX), 1);
    ck_assert_uint_eq(nametrie_lookup(t, "h.com/a/", 8, NAMETRIE_PREFIX),
                      nametrie_lookup(t, "h.com/a", 7, NAMETRIE_EXACT));
    ck_assert_uint_eq(nametrie_lookup(t, "h.com/zzz", 9, NAMETRIE_PREFIX), 2);
    ck_assert_uint_eq(nametrie_lookup(t, "h.co", 4, NAMETRIE_PREFIX), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "g.org/x?y=1", 11, NAMETRIE_EXACT), 3);
    ck_assert_uint_eq(nametrie_lookup(t, "g.org/x?y=12", 12, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "g.org/x?y=12", 12, NAMETRIE_PREFIX), 3);
    /* truncated queries: a proper prefix of a key is not that key */
    ck_assert_uint_eq(nametrie_lookup(t, "g.org/x?y=", 10, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "g.org/x?y=", 10, NAMETRIE_PREFIX), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "", 0, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "", 0, NAMETRIE_PREFIX), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_nodes(t) <= 2 * 5 + 1, 1);
    ck_assert_uint_gt(nametrie_bytes(t), 0);
    nametrie_free(t);
}
END_TEST

START_TEST(test_empty_and_limits)
{
    struct nametrie *t = nametrie_build("", NULL, 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(nametrie_lookup(t, "a.com", 5, NAMETRIE_PREFIX), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, "a.com", 5, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_nodes(t), 1);
    nametrie_free(t);
    ck_assert_uint_eq(nametrie_lookup(NULL, "a", 1, NAMETRIE_EXACT), NAMETRIE_NONE);
    nametrie_free(NULL);
    /* an empty key is refused */
    struct nametrie_key k = { 0, 0, 1 };
    ck_assert_ptr_null(nametrie_build("x", &k, 1));
    /* a key of NAMETRIE_KEY_MAX bytes works (one edge of 16383 bytes), one more is refused */
    char *big = malloc(NAMETRIE_KEY_MAX + 2);
    memset(big, 'a', NAMETRIE_KEY_MAX + 1);
    big[NAMETRIE_KEY_MAX + 1] = '\0';
    k = (struct nametrie_key){ 0, NAMETRIE_KEY_MAX, 5 };
    t = nametrie_build(big, &k, 1);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(nametrie_lookup(t, big, NAMETRIE_KEY_MAX, NAMETRIE_EXACT), 5);
    ck_assert_uint_eq(nametrie_lookup(t, big, NAMETRIE_KEY_MAX - 1, NAMETRIE_EXACT), NAMETRIE_NONE);
    ck_assert_uint_eq(nametrie_lookup(t, big, NAMETRIE_KEY_MAX + 1, NAMETRIE_PREFIX), 5);
    nametrie_free(t);
    k.len = NAMETRIE_KEY_MAX + 1;
    ck_assert_ptr_null(nametrie_build(big, &k, 1));
    free(big);
}
END_TEST

/* One node with 256 children (every byte value as the second byte), each child a key, and the
 * parent itself a key: the widest node the layout allows, searched by bisection. */
START_TEST(test_wide_node)
{
    static char pool[256 * 3 + 4];
    static struct nametrie_key k[257];
    for (unsigned c = 0; c < 256; c++) {
        pool[3 * c] = 'x';
        pool[3 * c + 1] = (char)c;
        pool[3 * c + 2] = 'y';
        k[c] = (struct nametrie_key){ 3 * c, 3, c };
    }
    memcpy(pool + 768, "xq", 2);
    k[256] = (struct nametrie_key){ 768, 1, 1000 }; /* "x" */
    struct nametrie *t = nametrie_build(pool, k, 257);
    ck_assert_ptr_nonnull(t);
    for (unsigned c = 0; c < 256; c++) {
        char q[3] = { 'x', (char)c, 'y' };
        ck_assert_uint_eq(nametrie_lookup(t, q, 3, NAMETRIE_EXACT), c);
        ck_assert_uint_eq(nametrie_lookup(t, q, 3, NAMETRIE_PREFIX), c);
        ck_assert_uint_eq(nametrie_lookup(t, q, 2, NAMETRIE_PREFIX), 1000);
        ck_assert_uint_eq(nametrie_lookup(t, q, 2, NAMETRIE_EXACT), NAMETRIE_NONE);
        q[2] = 'z';
        ck_assert_uint_eq(nametrie_lookup(t, q, 3, NAMETRIE_EXACT), NAMETRIE_NONE);
        ck_assert_uint_eq(nametrie_lookup(t, q, 3, NAMETRIE_PREFIX), 1000);
    }
    ck_assert_uint_eq(nametrie_lookup(t, "x", 1, NAMETRIE_EXACT), 1000);
    nametrie_free(t);
}
END_TEST

/* A large build (N >= 4096 keys takes the radix sort), with runs of equal 8-byte heads
 * ("n1000.co", "n10000.c" ...): the keys come back sorted, every key is found exactly and a longer
 * query by prefix. */
START_TEST(test_large_sorted)
{
    enum { N = 20000 };
    static char pool[N * 16];
    static struct nametrie_key k[N];
    size_t o = 0;
    struct nametrie *t;
    o = 0;
    for (uint32_t i = 0; i < N; i++) {
        int l = snprintf(pool + o, 16, "n%u.com", i);
        k[i] = (struct nametrie_key){ (uint32_t)o, (uint32_t)l, i };
        o += (size_t)l + 1;
    }
    t = nametrie_build(pool, k, N);
    ck_assert_ptr_nonnull(t);
    for (size_t i = 1; i < N; i++) /* keys come back sorted */
        ck_assert_int_lt(strcmp(pool + k[i - 1].off, pool + k[i].off), 0);
    for (uint32_t i = 0; i < N; i++) {
        char q[48];
        int l = snprintf(q, sizeof(q), "n%u.com/x", i);
        ck_assert_uint_eq(nametrie_lookup(t, q, (size_t)l - 2, NAMETRIE_EXACT), i);
        ck_assert_uint_eq(nametrie_lookup(t, q, (size_t)l, NAMETRIE_PREFIX), i);
        ck_assert_uint_eq(nametrie_lookup(t, q, (size_t)l, NAMETRIE_EXACT), NAMETRIE_NONE);
        l = snprintf(q, sizeof(q), "m%u.com/x", i); /* absent */
        ck_assert_uint_eq(nametrie_lookup(t, q, (size_t)l, NAMETRIE_PREFIX), NAMETRIE_NONE);
    }
    ck_assert_uint_le(nametrie_nodes(t), 2 * N + 1);
    nametrie_free(t);
}
END_TEST

/* ---- property test ---- */

/* host/path-like names over a tiny alphabet so that random queries share prefixes with keys
 * often; some labels are longer than the 5 bytes a node holds inline. */
static const char *const LABELS[] = { "a",   "b",  "ab", "ba",    "aa",
                                      "com", "co", "m",  "xn--b", "abababab" };
static const struct rnd_alpha ALPHA = {
    .labels = LABELS, .nlabels = 10, .seps = "/.", .max_parts = 4
};

static uint32_t naive_prefix(char names[][64], size_t n, const char *q, int exact)
{
    size_t ql = strlen(q), best = 0;
    uint32_t bv = NAMETRIE_NONE;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(names[i]);
        if (kl > ql || memcmp(q, names[i], kl) != 0 || (exact && kl != ql))
            continue;
        if (kl > best) {
            best = kl;
            bv = (uint32_t)i;
        }
    }
    return bv;
}

START_TEST(test_property_vs_naive)
{
    static char names[300][64];
    static struct keyset ks;
    size_t checks = 0;
    for (int round = 0; round < 60; round++) {
        memset(&ks, 0, sizeof(ks));
        size_t m = rnd_distinct(&ALPHA, names[0], sizeof(names[0]), 1 + rnd_below(250));
        for (size_t i = 0; i < m; i++)
            ks_add(&ks, names[i], (uint32_t)i);
        struct nametrie *fwd = nametrie_build(ks.pool, ks.k, m);
        ck_assert_ptr_nonnull(fwd);
        ck_assert_uint_le(nametrie_nodes(fwd), 2 * m + 1);
        for (int qi = 0; qi < 100; qi++) {
            char q[64];
            uint32_t r = rnd_below(3);
            if (r == 0 && m > 0) { /* a listed name extended, or cut short */
                char extra[64];
                const char *nm = names[rnd_below((uint32_t)m)];
                rnd_name(&ALPHA, extra, 30);
                if (rnd_below(2))
                    snprintf(q, sizeof(q), rnd_below(2) ? "%.30s/%.30s" : "%.30s%.30s", nm, extra);
                else
                    snprintf(q, sizeof(q), "%.*s", (int)rnd_below((uint32_t)strlen(nm) + 1), nm);
            } else {
                rnd_name(&ALPHA, q, sizeof(q));
            }
            size_t ql = strlen(q);
            uint32_t want = naive_prefix(names, m, q, 0);
            uint32_t got = nametrie_lookup(fwd, q, ql, NAMETRIE_PREFIX);
            ck_assert_msg(got == want, "prefix '%s': got %u want %u", q, got, want);
            want = naive_prefix(names, m, q, 1);
            got = nametrie_lookup(fwd, q, ql, NAMETRIE_EXACT);
            ck_assert_msg(got == want, "exact '%s': got %u want %u", q, got, want);
            checks++;
        }
        nametrie_free(fwd);
    }
    ck_assert_uint_eq(checks, 6000);
}
END_TEST

static Suite *nametrie_suite(void)
{
    Suite *s = suite_create("nametrie");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_modes_forward);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_empty_and_limits);
    tcase_add_test(tc, test_wide_node);
    tcase_add_test(tc, test_large_sorted);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_property_vs_naive);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nametrie_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
