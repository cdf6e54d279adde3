/* check_fbseen.c - names seen in traffic to IP fallback addresses: the HyperLogLog sketch
 * (common/hll.h) within its error bounds at 10, 1000 and 100000 distinct names, merging
 * (register-wise maximum: the union counted once), its text form; the per-worker address tables
 * (proxy/daemon/fbseen.h) of fixed size, with replacement when full; the flush into the node's
 * "fbseen" document merged with the earlier one (a real directory store); the merge of several
 * nodes' documents (rules/report/seendoc.h); and the policy untouched: an address one resolved
 * name blocks stays blocked, for every name, after 50 other names were seen in traffic to it. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/fbseen.h"
#include "proxy/judge/verdict.h"
#include "rules/match/fbaddr.h"
#include "rules/store/store.h"
#include "tests/lib/tmpdir.h"

static char g_dir[64];

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "check-fbseen"), 0);
}

static void teardown(void)
{
    tmpdir_remove(g_dir);
}

static void add_names(uint8_t *reg, unsigned from, unsigned n)
{
    char name[64];
    for (unsigned i = from; i < from + n; i++) {
        int l = snprintf(name, sizeof(name), "site%u.example.kz", i);
        hll_add(reg, hll_hash(name, (size_t)l));
    }
}

static double rel_err(uint64_t est, unsigned n)
{
    double d = (double)est - (double)n;
    return (d < 0 ? -d : d) / n;
}

START_TEST(test_hll_bounds)
{
    uint8_t reg[HLL_REGS];
    memset(reg, 0, sizeof(reg));
    ck_assert_uint_eq(hll_estimate(reg), 0);
    add_names(reg, 0, 10);
    add_names(reg, 0, 10); /* repeats do not count */
    uint64_t e10 = hll_estimate(reg);
    ck_assert_msg(e10 >= 9 && e10 <= 11, "10 names: %llu", (unsigned long long)e10);
    memset(reg, 0, sizeof(reg));
    add_names(reg, 0, 1000);
    uint64_t e1k = hll_estimate(reg);
    ck_assert_msg(rel_err(e1k, 1000) < 0.05, "1000 names: %llu", (unsigned long long)e1k);
    memset(reg, 0, sizeof(reg));
    add_names(reg, 0, 100000);
    uint64_t e100k = hll_estimate(reg);
    /* 3 standard errors of 3.25 % */
    ck_assert_msg(rel_err(e100k, 100000) < 0.10, "100000 names: %llu", (unsigned long long)e100k);
}
END_TEST

START_TEST(test_hll_merge_and_text)
{
    uint8_t a[HLL_REGS], b[HLL_REGS], c[HLL_REGS];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    add_names(a, 0, 3000);    /* node 1 */
    add_names(b, 2000, 3000); /* node 2: 1000 names in common */
    hll_merge(a, b);
    uint64_t e = hll_estimate(a);
    ck_assert_msg(rel_err(e, 5000) < 0.10, "union of 5000: %llu", (unsigned long long)e);
    char txt[HLL_REGS + 1];
    hll_encode(a, txt);
    ck_assert_uint_eq(strlen(txt), HLL_REGS);
    memset(c, 0, sizeof(c));
    ck_assert_int_eq(hll_decode(txt, HLL_REGS, c), 0);
    ck_assert_mem_eq(a, c, HLL_REGS);
    ck_assert_int_eq(hll_decode(txt, HLL_REGS - 1, c), -EINVAL);
    txt[7] = '*';
    ck_assert_int_eq(hll_decode(txt, HLL_REGS, c), -EINVAL);
    ck_assert_mem_eq(a, c, HLL_REGS); /* untouched on error */
}
END_TEST

static int doc_cb(void *ctx, const char *bytes, size_t len)
{
    char **out = ctx;
    *out = strndup(bytes, len);
    return 0;
}

static bool keep_one(void *ctx, const char *address)
{
    (void)ctx;
    return strcmp(address, "198.51.100.7") == 0;
}

START_TEST(test_tables_fixed_and_flush)
{
    struct fbseen *fs = fbseen_new(2);
    ck_assert_ptr_nonnull(fs);
    size_t bytes = fbseen_bytes(fs);
    ck_assert_uint_gt(bytes, 0);
    const uint8_t a1[4] = { 192, 0, 2, 10 }, a2[4] = { 198, 51, 100, 7 };
    char name[64];
    for (unsigned i = 0; i < 200; i++) {
        int l = snprintf(name, sizeof(name), "n%u.example", i);
        fbseen_note(fs, i & 1, 4, a1, name, (size_t)l, 1000 + i);
    }
    fbseen_note(fs, 0, 4, a2, "only.kz", 7, 5000);
    ck_assert_uint_eq(fbseen_evicted(fs), 0);
    ck_assert_uint_eq(fbseen_bytes(fs), bytes);
    /* more addresses than a worker's table holds: replaced, counted, memory unchanged */
    struct fbseen *fl = fbseen_new(2);
    for (unsigned i = 0; i < 4 * FBSEEN_SLOTS; i++) {
        uint8_t a[4] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        fbseen_note(fl, 1, 4, a, "x.kz", 4, 6000);
    }
    ck_assert_uint_gt(fbseen_evicted(fl), 0);
    ck_assert_uint_le(fbseen_evicted(fl), 3 * FBSEEN_SLOTS);
    ck_assert_uint_eq(fbseen_bytes(fl), bytes);
    fbseen_free(fl);

    char err[256];
    struct store *s = store_open(g_dir, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(fbseen_flush(fs, s, "n1", 7000, err, sizeof(err)), 1);
    ck_assert_int_eq(fbseen_flush(fs, s, "n1", 7001, err, sizeof(err)), 0); /* nothing new */
    /* a second round merges with the document in the store */
    for (unsigned i = 150; i < 300; i++) {
        int l = snprintf(name, sizeof(name), "n%u.example", i);
        fbseen_note(fs, 0, 4, a1, name, (size_t)l, 8000);
    }
    ck_assert_int_eq(fbseen_flush(fs, s, "n1", 9000, err, sizeof(err)), 1);
    char *doc = NULL;
    ck_assert_int_eq(store_doc_get(s, "fbseen", "n1", doc_cb, &doc, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(doc);
    struct seendoc_addr *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(seendoc_merge(doc, strlen(doc), &v, &n), 0);
    const struct seendoc_addr *x = seendoc_find(v, n, "192.0.2.10");
    ck_assert_ptr_nonnull(x);
    uint64_t e = hll_estimate(x->reg);
    ck_assert_msg(e >= 285 && e <= 315, "300 names across two flushes and workers: %llu",
                  (unsigned long long)e);
    ck_assert_uint_eq(x->first_ms, 1000);
    ck_assert_uint_eq(x->last_ms, 8000);
    ck_assert_uint_ge(x->nex, FBSEEN_EXAMPLES);
    ck_assert_uint_le(x->nex, SEENDOC_EXAMPLES);
    ck_assert_str_eq(x->ex[0], "n0.example");
    x = seendoc_find(v, n, "198.51.100.7");
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(hll_estimate(x->reg), 1);
    ck_assert_str_eq(x->ex[0], "only.kz");

    /* a second node's document: the names both saw count once */
    struct fbseen *f2 = fbseen_new(1);
    for (unsigned i = 250; i < 400; i++) {
        int l = snprintf(name, sizeof(name), "n%u.example", i);
        fbseen_note(f2, 0, 4, a1, name, (size_t)l, 9500);
    }
    ck_assert_int_eq(fbseen_flush(f2, s, "n2", 9600, err, sizeof(err)), 1);
    char *doc2 = NULL;
    ck_assert_int_eq(store_doc_get(s, "fbseen", "n2", doc_cb, &doc2, err, sizeof(err)), 0);
    ck_assert_int_eq(seendoc_merge(doc2, strlen(doc2), &v, &n), 0);
    x = seendoc_find(v, n, "192.0.2.10");
    e = hll_estimate(x->reg);
    ck_assert_msg(e >= 380 && e <= 420, "400 names over two nodes: %llu", (unsigned long long)e);
    ck_assert_uint_eq(x->last_ms, 9500);
    /* a report keeps only the addresses it shows */
    struct seendoc_addr *only = NULL;
    size_t nonly = 0;
    ck_assert_int_eq(seendoc_merge_only(doc, strlen(doc), keep_one, NULL, &only, &nonly), 0);
    ck_assert_uint_eq(nonly, 1);
    ck_assert_str_eq(only[0].address, "198.51.100.7");
    free(only);
    ck_assert_int_eq(seendoc_merge("{\"x\":1}", 7, &v, &n), -EINVAL);
    ck_assert_int_eq(seendoc_merge("not json", 8, &v, &n), -EINVAL);
    free(v);
    free(doc);
    free(doc2);
    fbseen_free(f2);
    store_free(s);
    fbseen_free(fs);
}
END_TEST

static struct ruleset *one_name_set(void)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    struct rule_attrs at = { .order = "O-1" };
    ck_assert_int_eq(ruleset_builder_add(b, "x.kz", 4, &at, err, sizeof(err)), 0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    struct fbaddr_rec fr = {
        .ipver = 4, .act = FBADDR_BLOCK, .addr = { 192, 0, 2, 10 }, .entry = 0, .names = 1
    };
    ruleset_set_fallback(rs, fbaddr_build(&fr, 1));
    return rs;
}

/* The shared count comes from resolved names only: traffic names never make an address shared. */
START_TEST(test_policy_unchanged_by_traffic_names)
{
    struct ruleset *rs = one_name_set();
    struct fbseen *fs = fbseen_new(1);
    uint8_t dst[16] = { 192, 0, 2, 10 };
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    char name[64];
    for (unsigned i = 0; i < 50; i++) {
        int l = snprintf(name, sizeof(name), "front%u.example", i);
        struct verdict_facts f = {
            .app = APP_TLS, .name = name, .name_len = (size_t)l, .ipver = 4, .dst = dst
        };
        struct verdict_decision d;
        verdict_decide(rs, &pol, &f, &d);
        ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
        fbseen_note_flow(fs, 0, rs, 4, dst, name, (size_t)l, false);
    }
    const struct fbaddr_rec *r = fbaddr_lookup(ruleset_fallback(rs), 4, dst);
    ck_assert_uint_eq(r->names, 1);
    ck_assert_int_eq(r->act, FBADDR_BLOCK);
    struct verdict_facts f = {
        .app = APP_TLS, .name = "another.example", .name_len = 15, .ipver = 4, .dst = dst
    };
    struct verdict_decision d;
    verdict_decide(rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
    ck_assert_int_eq(d.method, METHOD_IP);
    /* ... and the 50 names were recorded as evidence */
    char err[256];
    struct store *s = store_open(g_dir, NULL, err, sizeof(err));
    ck_assert_int_eq(fbseen_flush(fs, s, "n1", 1, err, sizeof(err)), 1);
    char *doc = NULL;
    ck_assert_int_eq(store_doc_get(s, "fbseen", "n1", doc_cb, &doc, err, sizeof(err)), 0);
    struct seendoc_addr *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(seendoc_merge(doc, strlen(doc), &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    uint64_t e = hll_estimate(v[0].reg);
    ck_assert_msg(e >= 48 && e <= 52, "50 names: %llu", (unsigned long long)e);
    /* the node's fallback report (:fallback) gets them per address, the policy fields as they
     * were: still one resolved name, still block */
    const char *rep = "{\"format\":\"qorgau-fallback/1\",\"blocked\":[{\"address\":\"192.0.2.10\","
                      "\"action\":\"block\",\"names_count\":1}],\"held\":[{\"address\":"
                      "\"198.51.100.7\",\"action\":\"nameless\",\"names_count\":5}]}\n";
    char *ann = fbseen_annotate(fs, rep);
    ck_assert_ptr_nonnull(ann);
    ck_assert_uint_eq(ann[strlen(ann) - 1], '\n');
    json_t *j = json_loads(ann, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *b0 = json_array_get(json_object_get(j, "blocked"), 0);
    json_int_t ns = json_integer_value(json_object_get(b0, "names_seen"));
    ck_assert_msg(ns >= 48 && ns <= 52, "names_seen %lld", (long long)ns);
    ck_assert_uint_eq(json_array_size(json_object_get(b0, "names_seen_examples")), FBSEEN_EXAMPLES);
    ck_assert_int_eq(json_integer_value(json_object_get(b0, "names_count")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(b0, "action")), "block");
    json_t *h0 = json_array_get(json_object_get(j, "held"), 0);
    ck_assert_ptr_null(json_object_get(h0, "names_seen")); /* no traffic to it */
    json_decref(j);
    free(ann);
    ck_assert_ptr_null(fbseen_annotate(fs, "not json"));
    /* a flow to an address outside the table, or with its name hidden (ECH), is not noted */
    uint8_t other[16] = { 192, 0, 2, 99 };
    fbseen_note_flow(fs, 0, rs, 4, other, "a.kz", 4, false);
    fbseen_note_flow(fs, 0, rs, 4, dst, "outer.example", 13, true);
    ck_assert_int_eq(fbseen_flush(fs, s, "n1", 2, err, sizeof(err)), 0);
    free(v);
    free(doc);
    store_free(s);
    fbseen_free(fs);
    ruleset_free(rs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fbseen");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hll_bounds);
    tcase_add_test(tc, test_hll_merge_and_text);
    tcase_add_test(tc, test_tables_fixed_and_flush);
    tcase_add_test(tc, test_policy_unchanged_by_traffic_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
