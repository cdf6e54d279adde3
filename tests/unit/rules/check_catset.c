/* check_catset.c - Check suite for category sets (rules/match/catset.c) and the UT1 / squidGuard
 * tree loader (rules/lists/catload.c): masks of names in several categories, suffix masks ORed
 * (a category entry ex.com and another a.ex.com), URL entries at '/' boundaries, bad lines
 * reported and skipped, category names, the 64-category limit; the lookup with the name's
 * suffixes hashed once (catset_lookup_query()) against the plain one on random names. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/lists/catload.h"
#include "rules/match/catset.h"
#include "rules/match/domhash.h"
#include "tests/lib/rnd.h"

static uint64_t look(const struct catset *c, const char *host, const char *path)
{
    return catset_lookup(c, host, strlen(host), path, path ? strlen(path) : 0);
}

static void add(struct catset_builder *b, const char *line, unsigned bit, bool url)
{
    char err[256];
    int rc = catset_builder_add(b, line, strlen(line), bit, url, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: %s", line, err);
}

START_TEST(masks_and_suffixes)
{
    struct catset_builder *b = catset_builder_new();
    ck_assert_int_eq(catset_builder_category(b, "adult"), 0);
    ck_assert_int_eq(catset_builder_category(b, "games"), 1);
    ck_assert_int_eq(catset_builder_category(b, "gambling"), 2);
    ck_assert_int_eq(catset_builder_category(b, "games"), 1);
    ck_assert_int_eq(catset_builder_category(b, "Bad Name"), -EINVAL);
    add(b, "ex.test", 1, false);
    add(b, "a.ex.test", 2, false);
    add(b, "*.Casino.TEST.", 2, false);
    add(b, "casino.test", 1, false); /* the same name in a second category */
    add(b, "cdn.test/adult", 0, true);
    add(b, "http://cdn.test/x/y/", 0, true);
    add(b, "whole.test", 0, true);
    char err[256];
    ck_assert_int_eq(catset_builder_add(b, "  # comment", 11, 0, false, err, sizeof(err)), 1);
    ck_assert_int_eq(catset_builder_add(b, "", 0, 0, false, err, sizeof(err)), 1);
    ck_assert_int_eq(catset_builder_add(b, "bad name.test", 13, 0, false, err, sizeof(err)),
                     -EINVAL);
    ck_assert_int_eq(catset_builder_add(b, "10.0.0.1", 8, 0, false, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "address"));
    ck_assert_int_eq(catset_builder_add(b, "x.test", 6, 9, false, err, sizeof(err)), -EINVAL);
    struct catset *c = catset_build(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(catset_domains(c), 3);
    ck_assert_uint_eq(catset_urls(c), 3);
    ck_assert_uint_eq(look(c, "ex.test", NULL), 2);
    ck_assert_uint_eq(look(c, "b.ex.test", NULL), 2);
    ck_assert_uint_eq(look(c, "a.ex.test", NULL), 2 | 4); /* its own and ex.test's */
    ck_assert_uint_eq(look(c, "z.a.ex.test", NULL), 2 | 4);
    ck_assert_uint_eq(look(c, "notex.test", NULL), 0);
    ck_assert_uint_eq(look(c, "www.casino.test", NULL), 2 | 4);
    ck_assert_uint_eq(look(c, "cdn.test", NULL), 0);
    ck_assert_uint_eq(look(c, "cdn.test", "/adult"), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/adult/p.html?q=1"), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/adultx"), 0);
    ck_assert_uint_eq(look(c, "cdn.test", "/x/y"), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/x"), 0);
    ck_assert_uint_eq(look(c, "whole.test", "/anything"), 1);
    ck_assert_uint_eq(look(c, "whole.test", NULL), 1);
    ck_assert_uint_eq(look(c, "sub.whole.test", "/"), 0);
    ck_assert_str_eq(catset_name(c, 2), "gambling");
    ck_assert_ptr_null(catset_name(c, 3));
    ck_assert_int_eq(catset_bit(c, "games"), 1);
    ck_assert_int_eq(catset_bit(c, "nope"), -1);
    ck_assert_str_eq(catset_first_name(c, 4 | 2), "games");
    ck_assert_str_eq(catset_first_name(c, 0), "");
    ck_assert_uint_eq(catset_categories(c), 3);
    ck_assert_uint_gt(catset_bytes(c), 0);
    ck_assert_uint_eq(catset_lookup(NULL, "ex.test", 7, NULL, 0), 0);
    catset_free(c);
}
END_TEST

START_TEST(limit_64)
{
    struct catset_builder *b = catset_builder_new();
    for (int i = 0; i < 64; i++) {
        char n[16];
        snprintf(n, sizeof(n), "c%d", i);
        ck_assert_int_eq(catset_builder_category(b, n), i);
        char d[32];
        snprintf(d, sizeof(d), "n%d.test", i);
        add(b, d, (unsigned)i, false);
        add(b, "all.test", (unsigned)i, false);
    }
    ck_assert_int_eq(catset_builder_category(b, "c64"), -ENOSPC);
    struct catset *c = catset_build(b);
    ck_assert_uint_eq(look(c, "all.test", NULL), UINT64_MAX);
    ck_assert_uint_eq(look(c, "n63.test", NULL), 1ull << 63);
    catset_free(c);
}
END_TEST

START_TEST(ut1_tree)
{
    struct catset_builder *b = catset_builder_new();
    char err[256];
    struct catload_stats st;
    char *buf = NULL;
    size_t blen = 0;
    FILE *errs = open_memstream(&buf, &blen);
    int rc = catload_dir(b, "tests/fixtures/categories", errs, &st, err, sizeof(err));
    fclose(errs);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(st.categories, 4);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_ptr_nonnull(strstr(buf, "categories: tests/fixtures/categories/adult/domains:4:"));
    free(buf);
    struct catset *c = catset_build(b);
    ck_assert_str_eq(catset_name(c, 0), "adult"); /* folders in name order */
    ck_assert_str_eq(catset_name(c, 1), "gambling");
    int gam = catset_bit(c, "gambling"), gm = catset_bit(c, "games");
    ck_assert_uint_eq(look(c, "www.casino.test", NULL), (1ull << gam) | (1ull << gm));
    ck_assert_uint_eq(look(c, "a.xxx-pics.test", NULL), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/adult/1.jpg"), 1);
    ck_assert_uint_eq(look(c, "kids.test", NULL), 1ull << catset_bit(c, "kids"));
    catset_free(c);

    b = catset_builder_new();
    ck_assert_int_lt(catload_dir(b, "tests/fixtures/categories/none", NULL, NULL, err, sizeof(err)),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "categories/none"));
    catset_builder_free(b);
}
END_TEST

/* Names over a small alphabet so that random queries often fall under listed names; deep
 * names (past DOMHASH_QUERY_MAX labels) now and then. */
static const char *const LABELS[] = { "q", "w", "qw", "com", "kz", "xn--p1ai", "abcdefghijk" };
static const struct rnd_alpha ALPHA = {
    .labels = LABELS, .nlabels = 7, .seps = ".", .max_parts = 4, .deep_one_in = 10, .deep_parts = 40
};

/* [a-z0-9_-], 1..31 bytes: every byte value tried in a name of one byte and at the end of a
 * longer one, and the length limits */
START_TEST(name_rules)
{
    for (unsigned c = 1; c < 256; c++) {
        bool want = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        char one[2] = { (char)c, 0 }, tail[5] = { 'k', 'i', 'd', (char)c, 0 };
        ck_assert_msg(catset_name_valid(one) == want, "byte %u", c);
        ck_assert_msg(catset_name_valid(tail) == want, "byte %u at the end", c);
    }
    char n[40];
    memset(n, 'a', sizeof(n));
    n[31] = '\0';
    ck_assert(catset_name_valid(n)); /* 31 bytes */
    n[31] = 'a';
    n[32] = '\0';
    ck_assert(!catset_name_valid(n)); /* 32 */
    ck_assert(!catset_name_valid(""));
}
END_TEST

START_TEST(query_vs_plain)
{
    static char names[200][128];
    size_t checks = 0, found = 0;
    for (int round = 0; round < 40; round++) {
        struct catset_builder *b = catset_builder_new();
        for (unsigned i = 0; i < 8; i++) {
            char n[8];
            snprintf(n, sizeof(n), "c%u", i);
            ck_assert_int_eq(catset_builder_category(b, n), (int)i);
        }
        size_t m = rnd_distinct(&ALPHA, names[0], sizeof(names[0]), 1 + rnd_below(150));
        for (size_t i = 0; i < m; i++) {
            char line[160];
            bool url = rnd_below(4) == 0;
            snprintf(line, sizeof(line), url ? "%s/d%u" : "%s", names[i], rnd_below(3));
            add(b, line, rnd_below(8), url);
        }
        struct catset *c = catset_build(b);
        ck_assert_ptr_nonnull(c);
        for (int qi = 0; qi < 150; qi++) {
            char q[300], extra[128];
            const char *pick = names[rnd_below((uint32_t)m)];
            rnd_name(&ALPHA, extra, 60);
            switch (rnd_below(3)) {
            case 0: snprintf(q, sizeof(q), "%s", pick); break;
            case 1: snprintf(q, sizeof(q), "%.120s.%.120s", extra, pick); break;
            default: snprintf(q, sizeof(q), "%s", extra); break;
            }
            static const char *const paths[] = { NULL, "/", "/d0", "/d1/x", "/d2?q=1", "/e" };
            const char *p = paths[rnd_below(6)];
            size_t ql = strlen(q), pl = p ? strlen(p) : 0;
            struct domhash_query hq;
            domhash_query_init(&hq, q, ql);
            uint64_t want = catset_lookup(c, q, ql, p, pl);
            ck_assert_msg(catset_lookup_query(c, &hq, p, pl) == want, "'%s' '%s'", q,
                          p ? p : "(no path)");
            found += want != 0;
            checks++;
        }
        catset_free(c);
    }
    ck_assert_uint_eq(checks, 6000);
    ck_assert_uint_gt(found, 1500); /* most queries fall under a listed name */
    struct domhash_query hq;
    domhash_query_init(&hq, "ex.test", 7);
    ck_assert_uint_eq(catset_lookup_query(NULL, &hq, NULL, 0), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("catset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, masks_and_suffixes);
    tcase_add_test(tc, limit_64);
    tcase_add_test(tc, ut1_tree);
    tcase_add_test(tc, query_vs_plain);
    tcase_add_test(tc, name_rules);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
