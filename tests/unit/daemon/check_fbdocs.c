/* check_fbdocs.c - the IP fallback's per-order documents: built from a fallback report
 * (docs/fallback.md), written to a directory store only when they change, emptied for an order
 * the report no longer names, and read back by `qorgau report`'s model. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/fbdocs.h"
#include "rules/store/store.h"
#include "tests/lib/tmpdir.h"

/* blocked: 192.0.2.10 for x.kz (orders A and B); held: 198.51.100.7 (nameless, order A), a
 * shared address whose policy is block (order B), a protected one (order A) */
static const char REPORT1[] =
    "{\"format\":\"qorgau-fallback/1\",\"generated\":\"2026-12-03T03:11:01Z\","
    "\"shared_threshold\":5,\"shared_policy\":\"nameless\",\"names\":6,\"addresses\":4,"
    "\"blocked\":[{\"address\":\"192.0.2.10\",\"action\":\"block\",\"entry\":\"x.kz\","
    "\"orders\":[\"A\",\"B\"],\"names_count\":1,\"names\":[\"x.kz\"],\"since\":\"2026-12-03T03:11:"
    "01Z\"},"
    "{\"address\":\"2001:db8::10\",\"action\":\"block\",\"entry\":\"x.kz\",\"orders\":[\"A\"],"
    "\"names_count\":1,\"names\":[\"x.kz\"],\"since\":\"2026-12-03T03:11:01Z\"}],"
    "\"held\":[{\"address\":\"198.51.100.7\",\"action\":\"nameless\",\"entry\":\"s1.kz\","
    "\"orders\":[\"A\"],\"names_count\":5,\"names\":[\"s1.kz\"],\"since\":\"2026-12-03T03:11:01Z\"}"
    ","
    "{\"address\":\"203.0.113.9\",\"action\":\"block\",\"entry\":\"c.kz\",\"orders\":[\"B\"],"
    "\"names_count\":7,\"names\":[\"c.kz\"],\"since\":\"2026-12-03T03:11:01Z\"},"
    "{\"address\":\"10.1.1.1\",\"action\":\"report\",\"protected\":true,\"entry\":\"p.kz\","
    "\"orders\":[\"A\"],\"names_count\":1,\"names\":[\"p.kz\"],\"since\":\"2026-12-03T03:11:01Z\"}]"
    "}";

/* later: order B's address gone, A unchanged */
static const char REPORT2[] =
    "{\"format\":\"qorgau-fallback/1\",\"blocked\":[{\"address\":\"192.0.2.10\",\"action\":"
    "\"block\",\"entry\":\"x.kz\",\"orders\":[\"A\"]},{\"address\":\"2001:db8::10\",\"action\":"
    "\"block\",\"entry\":\"x.kz\",\"orders\":[\"A\"]}],"
    "\"held\":[{\"address\":\"198.51.100.7\",\"action\":\"nameless\",\"entry\":\"s1.kz\","
    "\"orders\":[\"A\"]},{\"address\":\"10.1.1.1\",\"action\":\"report\",\"protected\":true,"
    "\"entry\":\"p.kz\",\"orders\":[\"A\"]}]}";

START_TEST(build)
{
    struct fbdoc *v;
    char err[256];
    int n = fbdocs_build(REPORT1, strlen(REPORT1), &v, err, sizeof(err));
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(v[0].order, "A");
    ck_assert_str_eq(v[0].fallback,
                     "{\"resources\":[{\"addresses\":[\"192.0.2.10\",\"2001:db8::10\"],"
                     "\"resource\":\"x.kz\"}]}");
    ck_assert_str_eq(v[0].risks, "{\"order\":\"A\",\"shared_held_back\":[{\"action\":\"nameless\","
                                 "\"address\":\"198.51.100.7\",\"resource\":\"s1.kz\"},{\"action\":"
                                 "\"protected\",\"address\":\"10.1.1.1\",\"resource\":\"p.kz\"}]}");
    ck_assert_str_eq(v[1].order, "B");
    /* a shared address whose policy blocks every flow is a fallback address, not a risk */
    ck_assert_str_eq(v[1].fallback,
                     "{\"resources\":[{\"addresses\":[\"203.0.113.9\"],\"resource\":\"c.kz\"},"
                     "{\"addresses\":[\"192.0.2.10\"],\"resource\":\"x.kz\"}]}");
    ck_assert_str_eq(v[1].risks, "{\"order\":\"B\",\"shared_held_back\":[]}");
    fbdocs_free_list(v, (size_t)n);

    ck_assert_int_eq(fbdocs_build("{\"format\":\"other\"}", 18, &v, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "fallback report: not a qorgau-fallback/1 document");
    ck_assert_int_eq(fbdocs_build("{", 1, &v, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(strncmp(err, "fallback report: ", 17), 0);
    ck_assert(v == NULL);
}
END_TEST

struct got {
    char buf[1024];
    char err[256];
};

static int got_cb(void *ctx, const char *b, size_t n)
{
    struct got *g = ctx;
    snprintf(g->buf, sizeof(g->buf), "%.*s", (int)n, b);
    return 0;
}

static const char *doc(struct store *s, const char *kind, const char *id, struct got *g)
{
    g->buf[0] = '\0';
    int rc = store_doc_get(s, kind, id, got_cb, g, g->err, sizeof(g->err));
    return rc == 0 ? g->buf : rc == -ENOENT ? "(none)" : g->err;
}

START_TEST(sync_to_store)
{
    char dir[128], err[512];
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "fbdocs"), 0);
    struct store *s = store_open(dir, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    struct fbdocs *f = fbdocs_new();
    ck_assert_int_eq(fbdocs_sync(f, s, REPORT1, err, sizeof(err)), 4);
    struct got g;
    ck_assert_str_eq(doc(s, "fallback", "A", &g),
                     "{\"resources\":[{\"addresses\":[\"192.0.2.10\",\"2001:db8::10\"],"
                     "\"resource\":\"x.kz\"}]}");
    ck_assert_int_eq(strncmp(doc(s, "risks", "A", &g), "{\"order\":\"A\",\"shared_held_back\"", 31),
                     0);
    /* the same report again: nothing written */
    ck_assert_int_eq(fbdocs_sync(f, s, REPORT1, err, sizeof(err)), 0);
    /* B no longer named: its documents emptied; A unchanged: not written */
    ck_assert_int_eq(fbdocs_sync(f, s, REPORT2, err, sizeof(err)), 2);
    ck_assert_str_eq(doc(s, "fallback", "B", &g), "{\"resources\":[]}");
    ck_assert_str_eq(doc(s, "risks", "B", &g), "{\"order\":\"B\",\"shared_held_back\":[]}");
    ck_assert_str_eq(doc(s, "fallback", "A", &g),
                     "{\"resources\":[{\"addresses\":[\"192.0.2.10\",\"2001:db8::10\"],"
                     "\"resource\":\"x.kz\"}]}");
    /* a bad report changes nothing */
    ck_assert_int_eq(fbdocs_sync(f, s, "not json", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(fbdocs_sync(f, s, REPORT2, err, sizeof(err)), 0);
    fbdocs_free(f);
    store_free(s);
    tmpdir_remove(dir);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("fbdocs");
    TCase *tc = tcase_create("fbdocs");
    tcase_add_test(tc, build);
    tcase_add_test(tc, sync_to_store);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
