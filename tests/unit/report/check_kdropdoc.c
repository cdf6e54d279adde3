/* check_kdropdoc.c - Check suite for the "kdrops" documents (rules/report/kdropdoc.c): what the
 * kernel dropped per IP entry, summed across a node's flushes and across nodes. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/report/kdropdoc.h"

static struct kdropdoc_entry ent(const char *text, uint64_t packets, uint64_t first, uint64_t last)
{
    struct kdropdoc_entry e;
    memset(&e, 0, sizeof(e));
    snprintf(e.entry, sizeof(e.entry), "%s", text);
    e.packets = packets;
    e.bytes = packets * 60;
    e.first_ms = first;
    e.last_ms = last;
    return e;
}

static char *written(const struct kdropdoc *d, size_t *len)
{
    char *doc = NULL;
    FILE *f = open_memstream(&doc, len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(kdropdoc_write(f, "n1", 1700, d), 0);
    fclose(f);
    return doc;
}

/* Adding sums the counts, keeps the earliest first and the latest last; entries stay sorted and
 * are found by their text; a text too long is refused. */
START_TEST(add_and_find)
{
    struct kdropdoc d = { 0 };
    struct kdropdoc_entry e = ent("192.0.2.7", 5, 100, 200);
    ck_assert_int_eq(kdropdoc_add(&d, &e), 0);
    e = ent("10.0.0.0/8", 1, 50, 60);
    ck_assert_int_eq(kdropdoc_add(&d, &e), 0);
    e = ent("192.0.2.7", 7, 90, 300);
    ck_assert_int_eq(kdropdoc_add(&d, &e), 0);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_str_eq(d.v[0].entry, "10.0.0.0/8");
    const struct kdropdoc_entry *x = kdropdoc_find(&d, "192.0.2.7");
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->packets, 12);
    ck_assert_uint_eq(x->bytes, 720);
    ck_assert_uint_eq(x->first_ms, 90);
    ck_assert_uint_eq(x->last_ms, 300);
    ck_assert_ptr_null(kdropdoc_find(&d, "192.0.2.8"));
    struct kdropdoc_entry big;
    memset(&big, 'a', sizeof(big));
    ck_assert_int_eq(kdropdoc_add(&d, &big), -EINVAL); /* no terminator within the text */
    memset(&big, 0, sizeof(big));
    ck_assert_int_eq(kdropdoc_add(&d, &big), -EINVAL); /* empty */
    kdropdoc_free(&d);
}
END_TEST

/* Written and read back the same; two nodes' documents sum; a filter keeps only some entries;
 * malformed entries are skipped, a document that is not one is refused. */
START_TEST(write_merge)
{
    struct kdropdoc d = { 0 };
    struct kdropdoc_entry e = ent("198.51.100.0/24", 3, 10, 20);
    ck_assert_int_eq(kdropdoc_add(&d, &e), 0);
    e = ent("2001:db8::7", 4, 30, 40);
    ck_assert_int_eq(kdropdoc_add(&d, &e), 0);
    size_t len;
    char *doc = written(&d, &len);
    ck_assert_ptr_nonnull(strstr(doc, "\"node\":\"n1\""));
    struct kdropdoc m = { 0 };
    ck_assert_int_eq(kdropdoc_merge(doc, len, NULL, NULL, &m), 0);
    ck_assert_uint_eq(m.n, 2);
    ck_assert_uint_eq(kdropdoc_find(&m, "2001:db8::7")->packets, 4);
    ck_assert_int_eq(kdropdoc_merge(doc, len, NULL, NULL, &m), 0); /* a second node's */
    ck_assert_uint_eq(kdropdoc_find(&m, "198.51.100.0/24")->packets, 6);
    kdropdoc_free(&m);
    static const char other[] =
        "{\"node\":\"n2\",\"entries\":[{\"entry\":\"192.0.2.1\",\"packets\":2,\"bytes\":1},"
        "{\"entry\":5},{\"packets\":3},{\"entry\":\"\",\"packets\":4},"
        "{\"entry\":\"192.0.2.9\",\"packets\":-3}]}";
    ck_assert_int_eq(kdropdoc_merge(other, strlen(other), NULL, NULL, &m), 0);
    ck_assert_uint_eq(m.n, 2);
    ck_assert_uint_eq(kdropdoc_find(&m, "192.0.2.9")->packets, 0); /* negative: none */
    kdropdoc_free(&m);
    ck_assert_int_eq(kdropdoc_merge("{\"entries\":3}", 13, NULL, NULL, &m), -EINVAL);
    ck_assert_int_eq(kdropdoc_merge("not json", 8, NULL, NULL, &m), -EINVAL);
    free(doc);
    kdropdoc_free(&d);
}
END_TEST

static bool only_v4(void *ctx, const char *entry)
{
    (void)ctx;
    return strchr(entry, ':') == NULL;
}

START_TEST(merge_filtered)
{
    static const char doc[] =
        "{\"node\":\"n1\",\"entries\":[{\"entry\":\"192.0.2.1\",\"packets\":2},"
        "{\"entry\":\"2001:db8::1\",\"packets\":3}]}";
    struct kdropdoc m = { 0 };
    ck_assert_int_eq(kdropdoc_merge(doc, strlen(doc), only_v4, NULL, &m), 0);
    ck_assert_uint_eq(m.n, 1);
    ck_assert_str_eq(m.v[0].entry, "192.0.2.1");
    kdropdoc_free(&m);
}
END_TEST

static Suite *kdropdoc_suite(void)
{
    Suite *s = suite_create("kdropdoc");
    TCase *tc = tcase_create("doc");
    tcase_add_test(tc, add_and_find);
    tcase_add_test(tc, write_merge);
    tcase_add_test(tc, merge_filtered);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kdropdoc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
