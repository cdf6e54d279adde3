/* check_tarcount.c - Check suite for the tariff block counters (proxy/daemon/tarcount.c): counts
 * per subscriber, local day and category on two workers, flushed into the node's documents
 * under the pseudonym (added to what the document held), a full table counted as dropped, and
 * only tariff blocks of known subscribers counted. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/daemon/tarcount.h"
#include "tests/lib/tmpdir.h"

static char g_doc[512];

static int doc_cb(void *ctx, const char *bytes, size_t len)
{
    (void)ctx;
    snprintf(g_doc, sizeof(g_doc), "%.*s", (int)len, bytes);
    return 0;
}

static const char *doc(struct store *s, const struct pseudo *ps, const char *sub, const char *day)
{
    char pn[PSEUDO_TEXT_MAX], id[256], err[512];
    struct pseudo keyed = *ps;
    keyed.clear = false;
    pseudo_id(&keyed, sub, pn, sizeof(pn));
    snprintf(id, sizeof(id), "%s:%s:node-a", pn, day);
    g_doc[0] = '\0';
    store_doc_get(s, "tariffsum", id, doc_cb, NULL, err, sizeof(err));
    return g_doc;
}

/* 2026-12-03 23:30 UTC = 2026-12-04 04:30 at +05:00 */
#define T0 1796340600LL

START_TEST(count_and_flush)
{
    char dir[512], url[600], err[512];
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "tarcount"), 0);
    snprintf(url, sizeof(url), "dir://%s", dir);
    struct store *s = store_open(url, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    struct pseudo ps = { .clear = true }; /* counters use the pseudonym even so */
    pseudo_set_key(&ps, "0123456789abcdef0123", 20);
    struct tarcount *c = tarcount_new(2);
    tarcount_note(c, 0, "77011234567", "adult", T0, 5 * 3600);
    tarcount_note(c, 1, "77011234567", "adult", T0, 5 * 3600);
    tarcount_note(c, 1, "77011234567", "parental", T0, 5 * 3600);
    tarcount_note(c, 0, "77011234567", "adult", T0, 0); /* UTC: the day before */
    tarcount_note(c, 0, "", "adult", T0, 0);            /* no subscriber: not counted */
    tarcount_note(c, 7, "77011234567", "adult", T0, 0); /* no such worker */
    ck_assert_int_eq(tarcount_flush(c, s, &ps, "node-a", err, sizeof(err)), 4);
    ck_assert_str_eq(doc(s, &ps, "77011234567", "2026-12-04"), "{\"adult\":2,\"parental\":1}");
    ck_assert_str_eq(doc(s, &ps, "77011234567", "2026-12-03"), "{\"adult\":1}");
    /* the next flush adds to the document */
    tarcount_note(c, 0, "77011234567", "adult", T0, 5 * 3600);
    ck_assert_int_eq(tarcount_flush(c, s, &ps, "node-a", err, sizeof(err)), 1);
    ck_assert_str_eq(doc(s, &ps, "77011234567", "2026-12-04"), "{\"adult\":3,\"parental\":1}");
    ck_assert_int_eq(tarcount_flush(c, s, &ps, "node-a", err, sizeof(err)), 0);
    /* a full table: the excess is dropped, not lost silently */
    for (int i = 0; i < (int)TARCOUNT_SLOTS * 2; i++) {
        char sub[32];
        snprintf(sub, sizeof(sub), "7701%07d", i);
        tarcount_note(c, 0, sub, "games", T0, 0);
    }
    ck_assert_uint_gt(tarcount_dropped(c), 0);
    int n = tarcount_flush(c, s, &ps, "node-a", err, sizeof(err));
    ck_assert_int_eq((uint64_t)n + tarcount_dropped(c), TARCOUNT_SLOTS * 2);
    /* decisions: only tariff blocks of a known subscriber */
    struct verdict_decision d;
    memset(&d, 0, sizeof(d));
    d.verdict = VERDICT_BLOCK;
    d.cause = CAUSE_REGULATOR;
    snprintf(d.sub, sizeof(d.sub), "77019999999");
    struct tariff *t = tariff_new(NULL);
    struct verdict_tariff vt = { NULL, t };
    tarcount_note_block(c, 0, &d, &vt);
    d.cause = CAUSE_ALLOWLIST;
    tarcount_note_block(c, 0, &d, &vt);
    tarcount_note_block(c, 0, &d, NULL);
    ck_assert_int_eq(tarcount_flush(c, s, &ps, "node-a", err, sizeof(err)), 1);
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm); /* the table was never published: its zone is UTC */
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    ck_assert_str_eq(doc(s, &ps, "77019999999", today), "{\"allowlist\":1}");
    /* the flushes left no temp file behind */
    char sub_dir[600];
    snprintf(sub_dir, sizeof(sub_dir), "%s/docs/tariffsum", dir);
    DIR *dh = opendir(sub_dir);
    ck_assert_ptr_nonnull(dh);
    int files = 0;
    for (struct dirent *de; (de = readdir(dh));) {
        ck_assert_msg(strncmp(de->d_name, ".tmp", 4) != 0, "left behind: %s", de->d_name);
        files += de->d_name[0] != '.';
    }
    closedir(dh);
    ck_assert_int_eq(files, 3 + (int)TARCOUNT_SLOTS * 2 - (int)tarcount_dropped(c));
    tariff_free(t);
    tarcount_free(c);
    store_free(s);
    tmpdir_remove(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tarcount");
    TCase *tc = tcase_create("core");
    /* about 1,030 documents flushed into the directory store (one syncfs per flush; they were
     * fsync'ed one by one: seconds on a disk shared with the sanitizer build) */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, count_and_flush);
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
