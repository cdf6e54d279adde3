/* check_domhash.c - the label-suffix hash index: anchoring table, exact mode over URL hosts,
 * duplicates, limits, deep names, the pre-filter, and property tests against a naive matcher
 * on random names (fixed seed), of one index and of several (domhash_lookup_multi()), and the
 * lookups with the suffixes hashed once (domhash_query_init()) against the plain ones. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/domhash.h"
#include "tests/lib/rnd.h"

/* Texts packed in a pool, NUL-separated; value i is text i. */
struct texts {
    char pool[1 << 16];
    size_t len;
    uint32_t off[512];
    uint32_t val[512];
    size_t n;
};

static void tx_add(struct texts *t, const char *s)
{
    size_t l = strlen(s);
    memcpy(t->pool + t->len, s, l + 1);
    t->off[t->n] = (uint32_t)t->len;
    t->val[t->n] = (uint32_t)t->n;
    t->n++;
    t->len += l + 1;
}

static const char *doms[] = { "ex.com", "a.b.ex.com", "com.ua", "xn--e1afmkfd.xn--80ao21a", "x.y" };

struct acase {
    const char *q;
    uint32_t want; /* index in doms, or DOMHASH_NONE */
};

static const struct acase anchoring[] = {
    { "ex.com", 0 },
    { "a.ex.com", 0 },
    { "www.a.ex.com", 0 },
    { "b.ex.com", 0 },
    { "a.b.ex.com", 1 }, /* the most specific entry wins */
    { "z.a.b.ex.com", 1 },
    { "b.b.ex.com", 0 },
    { "notex.com", DOMHASH_NONE },
    { "ex.com.evil.net", DOMHASH_NONE },
    { "ex.com.", DOMHASH_NONE },
    { "x.com", DOMHASH_NONE },
    { "com", DOMHASH_NONE },
    { ".com", DOMHASH_NONE },
    { "", DOMHASH_NONE },
    { ".", DOMHASH_NONE },
    { "xex.com", DOMHASH_NONE },
    { "ex.comm", DOMHASH_NONE },
    { "e.com.ua", 2 },
    { "com.ua", 2 },
    { "m.ua", DOMHASH_NONE },
    { "www.xn--e1afmkfd.xn--80ao21a", 3 },
    { "xn--e1afmkfd.xn--80ao21a", 3 },
    { "y", DOMHASH_NONE },
    { "x.y", 4 },
    { "a.x.y", 4 },
    { "ax.y", DOMHASH_NONE },
    { ".ex.com", 0 }, /* normalization never produces it; the suffix after the '.' is a key */
};

START_TEST(test_anchoring)
{
    static struct texts t;
    memset(&t, 0, sizeof(t));
    for (size_t i = 0; i < sizeof(doms) / sizeof(doms[0]); i++)
        tx_add(&t, doms[i]);
    struct domhash *d = domhash_build(t.pool, t.off, 0, t.val, t.n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(domhash_count(d), 5);
    const struct acase *c = &anchoring[_i];
    uint32_t got = domhash_lookup(d, c->q, strlen(c->q), DOMHASH_LABEL);
    ck_assert_msg(got == c->want, "'%s': got %u want %u", c->q, got, c->want);
    if (c->want != DOMHASH_NONE)
        ck_assert(domhash_may_match(d, c->q, strlen(c->q)));
    domhash_free(d);
}
END_TEST

/* Keys that are the hosts of URL texts (skip the scheme, stop at '/'); duplicates stored once,
 * the first value wins; EXACT never matches a suffix or a longer name. */
START_TEST(test_exact_hosts)
{
    static struct texts t;
    memset(&t, 0, sizeof(t));
    tx_add(&t, "https://h.kz/a");
    tx_add(&t, "https://h.kz/b");
    tx_add(&t, "https://[2001:db8::2]/");
    tx_add(&t, "https://a.b.kz/x/y");
    struct domhash *d = domhash_build(t.pool, t.off, 8, t.val, t.n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(domhash_count(d), 3);
    ck_assert_uint_eq(domhash_lookup(d, "h.kz", 4, DOMHASH_EXACT), 0);
    ck_assert_uint_eq(domhash_lookup(d, "[2001:db8::2]", 13, DOMHASH_EXACT), 2);
    ck_assert_uint_eq(domhash_lookup(d, "a.b.kz", 6, DOMHASH_EXACT), 3);
    ck_assert_uint_eq(domhash_lookup(d, "b.kz", 4, DOMHASH_EXACT), DOMHASH_NONE);
    ck_assert_uint_eq(domhash_lookup(d, "x.h.kz", 6, DOMHASH_EXACT), DOMHASH_NONE);
    ck_assert_uint_eq(domhash_lookup(d, "x.h.kz", 6, DOMHASH_LABEL), 0);
    ck_assert_uint_eq(domhash_lookup(d, "h.k", 3, DOMHASH_EXACT), DOMHASH_NONE);
    ck_assert_uint_eq(domhash_lookup(d, "h.kz/a", 6, DOMHASH_EXACT), DOMHASH_NONE);
    ck_assert_uint_eq(domhash_lookup(d, "h.kz/", 5, DOMHASH_EXACT), DOMHASH_NONE);
    ck_assert_uint_eq(domhash_lookup(d, "h.kz\0", 5, DOMHASH_EXACT), DOMHASH_NONE);
    domhash_free(d);
}
END_TEST

START_TEST(test_empty_and_limits)
{
    static struct texts t;
    memset(&t, 0, sizeof(t));
    /* empty index, NULL index */
    struct domhash *d = domhash_build(t.pool, t.off, 0, t.val, 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(domhash_lookup(d, "a.com", 5, DOMHASH_LABEL), DOMHASH_NONE);
    ck_assert(!domhash_may_match(d, "a.com", 5));
    ck_assert_uint_eq(domhash_count(d), 0);
    domhash_free(d);
    ck_assert_uint_eq(domhash_lookup(NULL, "a.com", 5, DOMHASH_LABEL), DOMHASH_NONE);
    ck_assert(!domhash_may_match(NULL, "a", 1));
    ck_assert_uint_eq(domhash_bytes(NULL), 0);
    domhash_free(NULL);
    /* an empty key, a value over the limit, a key over the limit: refused */
    tx_add(&t, "ok.com");
    tx_add(&t, "");
    ck_assert_ptr_null(domhash_build(t.pool, t.off, 0, t.val, 2));
    uint32_t big = DOMHASH_VALUE_MAX + 1;
    ck_assert_ptr_null(domhash_build(t.pool, t.off, 0, &big, 1));
    static char longkey[DOMHASH_KEY_MAX + 2];
    memset(longkey, 'a', DOMHASH_KEY_MAX + 1);
    uint32_t lo = 0, v0 = 0;
    ck_assert_ptr_null(domhash_build(longkey, &lo, 0, &v0, 1));
    longkey[DOMHASH_KEY_MAX] = '\0'; /* exactly the limit: fine */
    d = domhash_build(longkey, &lo, 0, &v0, 1);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(domhash_lookup(d, longkey, DOMHASH_KEY_MAX, DOMHASH_EXACT), 0);
    ck_assert_uint_eq(domhash_lookup(d, longkey, DOMHASH_KEY_MAX - 1, DOMHASH_EXACT), DOMHASH_NONE);
    domhash_free(d);
}
END_TEST

/* The pre-filter never turns away a name that matches and lets few absent names through;
 * names deeper than the screen are still decided, the longest key winning. */
START_TEST(test_prefilter_and_deep)
{
    enum { N = 20000 };
    static char pool[N * 16 + 256];
    static uint32_t off[N + 2], val[N + 2];
    size_t o = 0;
    for (uint32_t i = 0; i < N; i++) {
        int l = snprintf(pool + o, 16, "n%u.com", i);
        off[i] = (uint32_t)o;
        val[i] = i;
        o += (size_t)l + 1;
    }
    /* a deep key: 39 labels "a." then n7.com */
    off[N] = (uint32_t)o;
    val[N] = N;
    for (int i = 0; i < 39; i++)
        pool[o++] = 'a', pool[o++] = '.';
    memcpy(pool + o, "n7.com", 7);
    o += 7;
    struct domhash *d = domhash_build(pool, off, 0, val, N + 1);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_gt(domhash_bytes(d), (size_t)N * 8);
    size_t pass = 0;
    for (uint32_t i = 0; i < N; i++) {
        char q[48];
        int l = snprintf(q, sizeof(q), "www.n%u.com", i);
        ck_assert(domhash_may_match(d, q, (size_t)l));
        ck_assert_uint_eq(domhash_lookup(d, q, (size_t)l, DOMHASH_LABEL), i);
        ck_assert_uint_eq(domhash_lookup(d, q + 4, (size_t)l - 4, DOMHASH_EXACT), i);
        ck_assert_uint_eq(domhash_lookup(d, q, (size_t)l, DOMHASH_EXACT), DOMHASH_NONE);
        l = snprintf(q, sizeof(q), "www.m%u.com", i); /* absent: www.m1.com, m1.com, com */
        pass += domhash_may_match(d, q, (size_t)l);
        ck_assert_uint_eq(domhash_lookup(d, q, (size_t)l, DOMHASH_LABEL), DOMHASH_NONE);
    }
    ck_assert_msg(pass < N / 20, "%zu of %d absent names passed the filter", pass, N);
    char deep[200];
    size_t dl = 0;
    for (int i = 0; i < 40; i++)
        deep[dl++] = 'a', deep[dl++] = '.';
    memcpy(deep + dl, "n7.com", 6);
    dl += 6;
    ck_assert_uint_eq(domhash_lookup(d, deep, dl, DOMHASH_LABEL), N); /* the deep key is longer */
    ck_assert_uint_eq(domhash_lookup(d, deep + 2, dl - 2, DOMHASH_LABEL), N);
    ck_assert_uint_eq(domhash_lookup(d, deep + 4, dl - 4, DOMHASH_LABEL), 7);
    deep[0] = 'b'; /* b.a.a...n7.com: 41 labels, the deep key is a suffix */
    ck_assert_uint_eq(domhash_lookup(d, deep, dl, DOMHASH_LABEL), N);
    ck_assert_uint_eq(domhash_lookup(d, deep, dl - 1, DOMHASH_LABEL), DOMHASH_NONE);
    ck_assert(domhash_may_match(d, deep, dl));
    domhash_free(d);
}
END_TEST

/* ---- property test ---- */

/* Names over a tiny alphabet so that random queries collide with keys often; up to 40 labels
 * now and then, past the screened depth. */
static const char *const LABELS[] = { "a",   "b",  "ab", "ba",    "aa",
                                      "com", "co", "m",  "xn--b", "abcdefghij" };
static const struct rnd_alpha ALPHA = {
    .labels = LABELS, .nlabels = 10, .seps = ".", .max_parts = 4, .deep_one_in = 8, .deep_parts = 40
};

/* naive: the longest key that equals q or is a suffix of q preceded by '.' */
static uint32_t naive_label(char names[][128], size_t n, const char *q, int exact)
{
    size_t ql = strlen(q), best = 0;
    uint32_t bv = DOMHASH_NONE;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(names[i]);
        if (kl > ql || memcmp(q + ql - kl, names[i], kl) != 0)
            continue;
        if (kl < ql && (exact || q[ql - kl - 1] != '.'))
            continue;
        if (kl > best) {
            best = kl;
            bv = (uint32_t)i;
        }
    }
    return bv;
}

/* A random query: one in three a listed name with a random prefix or suffix. */
static void random_query(char *q, size_t cap, char names[][128], size_t m)
{
    if (rnd_below(3) == 0) {
        char extra[128];
        rnd_name(&ALPHA, extra, 60);
        snprintf(q, cap, rnd_below(2) ? "%.120s.%.120s" : "%.120s%.120s", extra,
                 names[rnd_below((uint32_t)m)]);
    } else {
        rnd_name(&ALPHA, q, 128);
    }
}

START_TEST(test_property_vs_naive)
{
    static char names[300][128];
    static struct texts t;
    size_t checks = 0, deep = 0;
    for (int round = 0; round < 60; round++) {
        memset(&t, 0, sizeof(t));
        size_t m = rnd_distinct(&ALPHA, names[0], sizeof(names[0]), 1 + rnd_below(250));
        for (size_t i = 0; i < m; i++)
            tx_add(&t, names[i]);
        struct domhash *d = domhash_build(t.pool, t.off, 0, t.val, m);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(domhash_count(d), m);
        for (int qi = 0; qi < 100; qi++) {
            char q[300];
            random_query(q, sizeof(q), names, m);
            size_t ql = strlen(q);
            uint32_t want = naive_label(names, m, q, 0);
            uint32_t got = domhash_lookup(d, q, ql, DOMHASH_LABEL);
            ck_assert_msg(got == want, "label '%s': got %u want %u", q, got, want);
            ck_assert_uint_eq(domhash_lookup(d, q, ql, DOMHASH_EXACT), naive_label(names, m, q, 1));
            /* the suffixes hashed once (domhash_query_init()): the same answer, also with
             * values passed over as dead */
            struct domhash_query hq;
            domhash_query_init(&hq, q, ql);
            ck_assert_uint_eq(domhash_lookup_query(d, &hq, NULL), got);
            uint64_t dead[4] = { 0x5555555555555555ULL, 0x0f0f0f0f0f0f0f0fULL, 0, ~0ULL };
            ck_assert_uint_eq(domhash_lookup_query(d, &hq, dead),
                              domhash_lookup_live(d, q, ql, DOMHASH_LABEL, dead));
            ck_assert_uint_eq(domhash_lookup_query(NULL, &hq, NULL), DOMHASH_NONE);
            deep += hq.deep;
            if (want != DOMHASH_NONE)
                ck_assert(domhash_may_match(d, q, ql));
            checks++;
        }
        domhash_free(d);
    }
    ck_assert_uint_eq(checks, 6000);
    ck_assert_uint_gt(deep, 10); /* names past DOMHASH_QUERY_MAX labels took the deep path */
}
END_TEST

/* domhash_lookup_multi() over the names spread across 1 to 6 indexes (one of them left out as
 * NULL now and then), some values dead: the longest live key of all, and the index holding it,
 * as the naive matcher over the live names finds it; deep names take the one-by-one path. */
START_TEST(test_multi_vs_naive)
{
    static char names[300][128], live[300][128];
    static struct texts t;
    size_t checks = 0, found = 0;
    for (int round = 0; round < 60; round++) {
        memset(&t, 0, sizeof(t));
        size_t m = rnd_distinct(&ALPHA, names[0], sizeof(names[0]), 1 + rnd_below(250));
        for (size_t i = 0; i < m; i++)
            tx_add(&t, names[i]);
        size_t n = 1 + rnd_below(6);
        uint32_t vals[6][300], idx_of[300];
        size_t nv[6] = { 0 };
        uint64_t dead[5] = { 0 };
        uint32_t lmap[300];
        size_t nlive = 0;
        for (size_t i = 0; i < m; i++) {
            size_t k = rnd_below((uint32_t)n);
            vals[k][nv[k]++] = (uint32_t)i;
            idx_of[i] = (uint32_t)k;
            if (rnd_below(4) == 0) {
                dead[i / 64] |= 1ULL << (i % 64);
            } else {
                memcpy(live[nlive], names[i], sizeof(live[0]));
                lmap[nlive++] = (uint32_t)i;
            }
        }
        struct domhash *d[6] = { NULL };
        const struct domhash *cd[6];
        const uint64_t *dd[6];
        size_t gone = rnd_below(3) == 0 ? rnd_below((uint32_t)n) : n; /* one index left out */
        for (size_t k = 0; k < n; k++) {
            d[k] = domhash_build(t.pool, t.off, 0, vals[k], nv[k]);
            ck_assert_ptr_nonnull(d[k]);
            cd[k] = k == gone ? NULL : d[k];
            dd[k] = dead; /* the values are the texts' ids in every index */
        }
        for (int qi = 0; qi < 100; qi++) {
            char q[300];
            random_query(q, sizeof(q), names, m);
            /* the naive answer over the live names of the indexes taking part */
            size_t nl = 0;
            static char part[300][128];
            uint32_t pmap[300];
            for (size_t i = 0; i < nlive; i++)
                if (idx_of[lmap[i]] != gone) {
                    memcpy(part[nl], live[i], sizeof(part[0]));
                    pmap[nl++] = lmap[i];
                }
            uint32_t w = naive_label(part, nl, q, 0);
            uint32_t want = w == DOMHASH_NONE ? DOMHASH_NONE : pmap[w];
            size_t which = 99;
            uint32_t got = domhash_lookup_multi(cd, dd, n, q, strlen(q), DOMHASH_LABEL, &which);
            ck_assert_msg(got == want, "multi '%s' over %zu: got %u want %u", q, n, got, want);
            ck_assert_uint_eq(which, want == DOMHASH_NONE ? 0 : idx_of[want]);
            struct domhash_query hq; /* the suffixes hashed once: the same answer */
            domhash_query_init(&hq, q, strlen(q));
            which = 99;
            ck_assert_uint_eq(domhash_lookup_multi_query(cd, dd, n, &hq, &which), want);
            ck_assert_uint_eq(which, want == DOMHASH_NONE ? 0 : idx_of[want]);
            found += want != DOMHASH_NONE;
            checks++;
        }
        for (size_t k = 0; k < n; k++)
            domhash_free(d[k]);
    }
    ck_assert_uint_eq(checks, 6000);
    ck_assert_uint_gt(found, 1000);
}
END_TEST

static Suite *domhash_suite(void)
{
    Suite *s = suite_create("domhash");
    TCase *tc = tcase_create("valid");
    tcase_add_loop_test(tc, test_anchoring, 0, (int)(sizeof(anchoring) / sizeof(anchoring[0])));
    tcase_add_test(tc, test_exact_hosts);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty_and_limits);
    tcase_add_test(tc, test_prefilter_and_deep);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_property_vs_naive);
    tcase_add_test(tc, test_multi_vs_naive);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(domhash_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
