/* check_hits.c - hit counting on the workers and its batched flush: counts per entry for every
 * order listing it, first and last times, a rule set replaced between hit and flush (its
 * entries still resolve), several workers at once, a full table (counted as dropped, never
 * wrong), a failed write kept for the next flush, and the cost of hits_note(). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/hits.h"
#include "tests/lib/tmpdir.h"

static char g_dir[64];

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "check-hits"), 0);
}

static void teardown(void)
{
    tmpdir_remove(g_dir);
}

static struct ruleset *build(const char *const *texts, const char *const *orders, size_t n)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    for (size_t i = 0; i < n; i++) {
        struct rule_attrs a = { .order = orders[i] };
        ck_assert_int_eq(ruleset_builder_add(b, texts[i], strlen(texts[i]), &a, err, sizeof(err)),
                         0);
    }
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    return rs;
}

static uint32_t entry_of(const struct ruleset *rs, const char *host)
{
    struct rule_match m;
    ck_assert(ruleset_match_domain(rs, host, strlen(host), &m));
    return m.entry;
}

struct got {
    const char *order, *entry;
    struct store_hit h;
    bool found;
};

static int find_cb(void *ctx, const struct store_hit *h)
{
    struct got *g = ctx;
    if (strcmp(h->entry, g->entry) == 0) {
        g->h = *h;
        g->found = true;
    }
    return 0;
}

static struct store_hit get(struct store *s, const char *order, const char *entry)
{
    char err[256];
    struct got g = { order, entry, { 0 }, false };
    ck_assert_int_eq(store_hits(s, order, find_cb, &g, err, sizeof(err)), 0);
    return g.h;
}

START_TEST(counts_per_order_and_entry)
{
    char err[512];
    struct store *s = store_open(g_dir, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    static const char *const texts[] = { "casino.kz", "casino.kz", "other.kz" };
    static const char *const orders[] = { "A", "B", "A" };
    struct ruleset *rs = build(texts, orders, 3);
    struct hits *h = hits_new(2);
    uint32_t ec = entry_of(rs, "casino.kz"), eo = entry_of(rs, "other.kz");
    for (int i = 0; i < 5; i++)
        hits_note(h, 0, rs, ec, 1000 + (uint64_t)i);
    hits_note(h, 1, rs, ec, 900);
    hits_note(h, 1, rs, eo, 2000);
    hits_note(h, 1, rs, RULESET_NO_ENTRY, 2000); /* ignored */
    ck_assert_int_eq(hits_flush(h, s, err, sizeof(err)),
                     5); /* (A,B) x casino from 2 workers + A other */
    struct store_hit a = get(s, "A", "casino.kz"), b = get(s, "B", "casino.kz"),
                     o = get(s, "A", "other.kz");
    ck_assert_uint_eq(a.count, 6);
    ck_assert_uint_eq(a.first_ms, 900);
    ck_assert_uint_eq(a.last_ms, 1004);
    ck_assert_uint_eq(b.count, 6);
    ck_assert_uint_eq(o.count, 1);
    ck_assert_uint_eq(get(s, "B", "other.kz").count, 0);
    /* nothing new: nothing written */
    ck_assert_int_eq(hits_flush(h, s, err, sizeof(err)), 0);
    /* the set is replaced before the flush: its reference keeps the entry readable */
    hits_note(h, 0, rs, ec, 3000);
    ruleset_free(rs);
    static const char *const t2[] = { "new.kz" };
    static const char *const o2[] = { "C" };
    struct ruleset *rs2 = build(t2, o2, 1);
    hits_note(h, 0, rs2, entry_of(rs2, "new.kz"), 3100);
    ck_assert_int_eq(hits_flush(h, s, err, sizeof(err)), 3);
    ck_assert_uint_eq(get(s, "A", "casino.kz").count, 7);
    ck_assert_uint_eq(get(s, "A", "casino.kz").last_ms, 3000);
    ck_assert_uint_eq(get(s, "C", "new.kz").count, 1);
    ck_assert_uint_eq(hits_dropped(h), 0);
    hits_free(h);
    ruleset_free(rs2);
    store_free(s);
}
END_TEST

START_TEST(failed_write_is_kept)
{
    char err[512];
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/st", g_dir);
    struct store *s = store_open(sub, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    static const char *const texts[] = { "casino.kz" };
    static const char *const orders[] = { "A" };
    struct ruleset *rs = build(texts, orders, 1);
    struct hits *h = hits_new(1);
    hits_note(h, 0, rs, entry_of(rs, "casino.kz"), 10);
    /* the hits directory cannot be written: the batch stays */
    char hd[160];
    snprintf(hd, sizeof(hd), "%s/hits", sub);
    ck_assert_int_eq(rmdir(hd), 0);
    ck_assert_int_eq(symlink("/proc/self/nonexistent", hd), 0);
    ck_assert_int_lt(hits_flush(h, s, err, sizeof(err)), 0);
    unlink(hd);
    ck_assert_int_eq(mkdir(hd, 0750), 0);
    hits_note(h, 0, rs, entry_of(rs, "casino.kz"), 20);
    ck_assert_int_eq(hits_flush(h, s, err, sizeof(err)), 2); /* the kept one and the new one */
    ck_assert_uint_eq(get(s, "A", "casino.kz").count, 2);
    ck_assert_uint_eq(get(s, "A", "casino.kz").first_ms, 10);
    hits_free(h);
    ruleset_free(rs);
    store_free(s);
}
END_TEST

struct echdoc {
    char b[256];
};

static int echdoc_cb(void *ctx, const char *bytes, size_t len)
{
    struct echdoc *e = ctx;
    snprintf(e->b, sizeof(e->b), "%.*s", (int)len, bytes);
    return 0;
}

START_TEST(ech_flows_counted_per_node)
{
    char err[512];
    struct store *s = store_open(g_dir, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    struct hits *h = hits_new(2);
    ck_assert_int_eq(hits_flush_ech(h, s, "n1", 1000, err, sizeof(err)), 0); /* nothing yet */
    hits_note_ech(h, 0, false);
    hits_note_ech(h, 1, false);
    hits_note_ech(h, 1, true);
    ck_assert_int_eq(hits_flush_ech(h, s, "n1", 1000, err, sizeof(err)), 1);
    struct echdoc e;
    ck_assert_int_eq(store_doc_get(s, "ech", "n1", echdoc_cb, &e, err, sizeof(err)), 0);
    ck_assert_str_eq(e.b, "{\"node\":\"n1\",\"passed\":2,\"blocked\":1,\"first_ms\":1000,"
                          "\"updated_ms\":1000}");
    /* running totals: a restarted node (a new counter set) adds to what the store holds */
    hits_free(h);
    h = hits_new(1);
    hits_note_ech(h, 0, false);
    ck_assert_int_eq(hits_flush_ech(h, s, "n1", 2000, err, sizeof(err)), 1);
    ck_assert_int_eq(store_doc_get(s, "ech", "n1", echdoc_cb, &e, err, sizeof(err)), 0);
    ck_assert_str_eq(e.b, "{\"node\":\"n1\",\"passed\":3,\"blocked\":1,\"first_ms\":1000,"
                          "\"updated_ms\":2000}");
    /* a store that cannot take it: the counts are kept for the next flush */
    char dd[160];
    snprintf(dd, sizeof(dd), "%s/docs/ech", g_dir);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && ln -s /proc/self/nonexistent '%s'", dd, dd);
    ck_assert_int_eq(system(cmd), 0);
    hits_note_ech(h, 0, true);
    ck_assert_int_lt(hits_flush_ech(h, s, "n1", 3000, err, sizeof(err)), 0);
    unlink(dd);
    ck_assert_int_eq(hits_flush_ech(h, s, "n1", 3000, err, sizeof(err)), 1);
    ck_assert_int_eq(store_doc_get(s, "ech", "n1", echdoc_cb, &e, err, sizeof(err)), 0);
    ck_assert_str_eq(e.b, "{\"node\":\"n1\",\"passed\":0,\"blocked\":1,\"first_ms\":3000,"
                          "\"updated_ms\":3000}");
    hits_free(h);
    store_free(s);
}
END_TEST

START_TEST(full_table_drops_and_counts)
{
    char err[512];
    struct store *s = store_open(g_dir, NULL, err, sizeof(err));
    enum { N = HITS_SLOTS + 500 };
    char(*texts)[32] = calloc(N, 32);
    const char **tp = calloc(N, sizeof(*tp)), **op = calloc(N, sizeof(*op));
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], 32, "s%d.kz", i);
        tp[i] = texts[i];
        op[i] = "F";
    }
    struct ruleset *rs = build(tp, op, N);
    struct hits *h = hits_new(1);
    for (int i = 0; i < N; i++)
        hits_note(h, 0, rs, entry_of(rs, texts[i]), 5);
    uint64_t dropped = hits_dropped(h);
    int n = hits_flush(h, s, err, sizeof(err));
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq((uint64_t)n + dropped, N); /* every hit is written or counted as lost */
    ck_assert_uint_gt(dropped, 0);
    hits_free(h);
    ruleset_free(rs);
    free(texts);
    free(tp);
    free(op);
    store_free(s);
}
END_TEST

struct wk {
    struct hits *h;
    const struct ruleset *rs;
    uint32_t e;
    unsigned idx;
};

static void *worker(void *arg)
{
    struct wk *w = arg;
    for (int i = 0; i < 100000; i++)
        hits_note(w->h, w->idx, w->rs, w->e, 1);
    return NULL;
}

START_TEST(concurrent_workers_and_flusher)
{
    char err[512];
    struct store *s = store_open(g_dir, NULL, err, sizeof(err));
    static const char *const texts[] = { "casino.kz" };
    static const char *const orders[] = { "W" };
    struct ruleset *rs = build(texts, orders, 1);
    struct hits *h = hits_new(4);
    struct wk w[4];
    pthread_t th[4];
    for (unsigned i = 0; i < 4; i++) {
        w[i] = (struct wk){ h, rs, entry_of(rs, "casino.kz"), i };
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_ge(hits_flush(h, s, err, sizeof(err)), 0);
        usleep(2000);
    }
    for (unsigned i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_ge(hits_flush(h, s, err, sizeof(err)), 0);
    ck_assert_uint_eq(get(s, "W", "casino.kz").count, 400000);
    hits_free(h);
    ruleset_free(rs);
    store_free(s);
}
END_TEST

START_TEST(note_cost)
{
    static const char *const texts[] = { "casino.kz", "b.kz", "c.kz", "d.kz" };
    static const char *const orders[] = { "A", "A", "A", "A" };
    struct ruleset *rs = build(texts, orders, 4);
    struct hits *h = hits_new(1);
    uint32_t e[4];
    for (int i = 0; i < 4; i++)
        e[i] = entry_of(rs, texts[i]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    enum { N = 2000000 };
    for (int i = 0; i < N; i++)
        hits_note(h, 0, rs, e[i & 3], (uint64_t)i);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / N;
    fprintf(stderr, "hits_note: %.1f ns per block\n", ns);
    ck_assert(ns < 1000.0); /* a block costs microseconds elsewhere; this must stay far below */
    hits_free(h);
    ruleset_free(rs);
}
END_TEST

static Suite *hits_suite(void)
{
    Suite *s = suite_create("hits");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, counts_per_order_and_entry);
    tcase_add_test(tc, failed_write_is_kept);
    tcase_add_test(tc, ech_flows_counted_per_node);
    tcase_add_test(tc, full_table_drops_and_counts);
    tcase_add_test(tc, concurrent_workers_and_flusher);
    tcase_add_test(tc, note_cost);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hits_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
