/* check_loader.c - plain lists and JSON orders: good and bad entries, exact messages, counts. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/lists/loader.h"

/* Loads buf with errors captured into a string. */
struct run {
    int rc;
    struct loader_stats st;
    char errs[8192];
    struct ruleset *rs;
};

static void load(struct run *r, const char *name, const char *buf)
{
    char *mem = NULL;
    size_t ml = 0;
    FILE *f = open_memstream(&mem, &ml);
    struct ruleset_builder *b = ruleset_builder_new();
    r->rc = loader_load_buffer(b, name, buf, strlen(buf), f, &r->st);
    fclose(f);
    snprintf(r->errs, sizeof(r->errs), "%s", mem ? mem : "");
    free(mem);
    r->rs = ruleset_build(b);
    ck_assert_ptr_nonnull(r->rs);
}

static bool dom(const struct run *r, const char *h)
{
    return ruleset_match_domain(r->rs, h, strlen(h), NULL);
}

START_TEST(test_plain)
{
    static struct run r;
    load(&r, "list.txt",
         "\xEF\xBB\xBF# a comment\n"
         "example.com\n"
         "   \n"
         "\t Sub.Example.ORG.  # trailing comment\r\n"
         "exa mple.com\n"
         "https://h.kz/page#frag\n"
         "203.0.113.7\n"
         "2001:db8::/32\n"
         "a..b\n"
         "example.com\n"
         "ftp://x/\n"
         "http://h.kz:0/\n"
         "last.kz"); /* no final newline */
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.errs, "rules: list.txt:5: invalid hostname character 'exa mple.com'\n"
                             "rules: list.txt:9: invalid hostname label 'a..b'\n"
                             "rules: list.txt:11: unsupported URL scheme 'ftp://x/'\n"
                             "rules: list.txt:12: invalid port 'http://h.kz:0/'\n");
    ck_assert_uint_eq(r.st.lines, 11);
    ck_assert_uint_eq(r.st.added, 6);
    ck_assert_uint_eq(r.st.errors, 4);
    ck_assert_uint_eq(r.st.orders, 0);
    ck_assert(dom(&r, "www.example.com"));
    ck_assert(dom(&r, "sub.example.org"));
    ck_assert(!dom(&r, "example.org"));
    ck_assert(dom(&r, "last.kz"));
    ck_assert(ruleset_match_url(r.rs, "h.kz", 4, "/page", 5, NULL));
    struct ruleset_stats st;
    ruleset_get_stats(r.rs, &st);
    ck_assert_uint_eq(st.domains, 3);
    ck_assert_uint_eq(st.urls, 1);
    ck_assert_uint_eq(st.ips4, 1);
    ck_assert_uint_eq(st.ips6, 1);
    ruleset_free(r.rs);
}
END_TEST

START_TEST(test_plain_empty)
{
    static struct run r;
    load(&r, "e.txt", "");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.st.lines, 0);
    ck_assert_str_eq(r.errs, "");
    ruleset_free(r.rs);
    load(&r, "c.txt", "# only\n\n#comments\n");
    ck_assert_uint_eq(r.st.lines, 0);
    ruleset_free(r.rs);
}
END_TEST

static const char ORDER_OK[] =
    "{\"id\": \"2026-41-0017\", \"issuer\": \"Ministry\",\n"
    " \"legal_basis\": \"\xd0\x97\xd0\xb0\xd0\xba\xd0\xbe\xd0\xbd \xd0\xa0\xd0\x9a "
    "\xc2\xab\xd0\x9e \xd1\x81\xd0\xb2\xd1\x8f\xd0\xb7\xd0\xb8\xc2\xbb \xd1\x81\xd1\x82. 41-1\",\n"
    " \"issued\": \"2026-11-20T10:00:00+05:00\", \"received\": \"2026-11-21T09:30:00.123Z\",\n"
    " \"category\": \"court\",\n"
    " \"resources\": [\"example.com\", \"https://example.org/page\", \"203.0.113.7\", "
    "\"2001:db8::/32\",\n"
    "   \"exa mple.com\", {\"value\": \"casino.kz\", \"category\": \"gambling\"}, 42,\n"
    "   {\"value\": \"x.kz\", \"category\": 7}, {\"nope\": 1}, \"example.com\"]}\n";

START_TEST(test_json_single)
{
    static struct run r;
    load(&r, "orders/1.json", ORDER_OK);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.errs,
                     "rules: orders/1.json:6:4: order '2026-41-0017': invalid hostname "
                     "character 'exa mple.com'\n"
                     "rules: orders/1.json:6:68: order '2026-41-0017': expected a string or "
                     "{\"value\": string}: 42\n"
                     "rules: orders/1.json:7:4: order '2026-41-0017': field 'category' must "
                     "be a string: {\"value\":\"x.kz\",\"category\":7}\n"
                     "rules: orders/1.json:7:38: order '2026-41-0017': expected a string or "
                     "{\"value\": string}: {\"nope\":1}\n");
    ck_assert_uint_eq(r.st.orders, 1);
    ck_assert_uint_eq(r.st.lines, 10);
    ck_assert_uint_eq(r.st.added, 5);
    ck_assert_uint_eq(r.st.errors, 4);
    struct rule_match m;
    ck_assert(ruleset_match_domain(r.rs, "a.casino.kz", 11, &m));
    ck_assert_str_eq(ruleset_entry_category(r.rs, m.entry), "gambling");
    ck_assert_str_eq(ruleset_entry_order(r.rs, m.entry), "2026-41-0017");
    ck_assert(ruleset_match_domain(r.rs, "example.com", 11, &m));
    ck_assert_str_eq(ruleset_entry_category(r.rs, m.entry), "court");
    ruleset_free(r.rs);
}
END_TEST

START_TEST(test_json_array_and_bad_orders)
{
    static struct run r;
    load(&r, "o.json",
         "  [\n"
         "  {\"id\": \"A\", \"issuer\": \"i\", \"legal_basis\": \"l\", \"issued\": "
         "\"2026-01-01T00:00:00Z\",\n"
         "   \"received\": \"2026-01-02T00:00:00-03:30\", \"resources\": [\"a.kz\"]},\n"
         "  {\"id\": \"B\", \"issuer\": \"i\", \"legal_basis\": \"l\", \"issued\": "
         "\"2026-13-01T00:00:00Z\",\n"
         "   \"received\": \"2026-01-02T00:00:00Z\", \"resources\": [\"b.kz\"]},\n"
         "  {\"issuer\": \"i\"},\n"
         "  \"not an order\",\n"
         "  {\"id\": \"E\", \"issuer\": \"i\", \"legal_basis\": \"l\", \"issued\": "
         "\"2026-02-29T00:00:00Z\",\n"
         "   \"received\": \"2026-03-01T00:00:00Z\", \"resources\": [\"e.kz\"]},\n"
         "  {\"id\": \"F\", \"issuer\": \"i\", \"legal_basis\": \"l\", \"issued\": "
         "\"2028-02-29T23:59:60+14:00\",\n"
         "   \"received\": \"2028-03-01T00:00:00Z\", \"resources\": \"f.kz\"},\n"
         "  {\"id\": \"G\", \"issuer\": \"\", \"legal_basis\": \"l\", \"issued\": "
         "\"2028-02-29T23:59:59Z\",\n"
         "   \"received\": \"2028-03-01T00:00:00Z\", \"resources\": []},\n"
         "  {\"id\": \"H\", \"issuer\": \"i\", \"legal_basis\": \"l\", \"issued\": 5,\n"
         "   \"received\": \"2028-03-01\", \"resources\": []},\n"
         "  {\"id\": \"I\", \"issuer\": \"i\", \"legal_basis\": \"l\", \"issued\": "
         "\"2028-03-01T00:00:00Z\",\n"
         "   \"received\": \"2028-03-01T00:00:00Z\", \"category\": 1, \"resources\": []}\n"
         "]");
    /* one parser for orders (rules/orders/ordjson.c): a malformed order refuses the file, at
     * the first fault, and nothing of it is compiled (the good order A neither) */
    ck_assert_int_eq(r.rc, -EINVAL);
    ck_assert_str_eq(r.errs, "rules: o.json:4:60: order 2 ('B'): field 'issued' is not an RFC "
                             "3339 time: \"2026-13-01T00:00:00Z\"\n");
    ck_assert_uint_eq(r.st.added, 0);
    ck_assert(!dom(&r, "a.kz"));
    ruleset_free(r.rs);
}
END_TEST

START_TEST(test_json_orders_key)
{
    static struct run r;
    load(&r, "w.json",
         "{\"orders\": [{\"id\": \"A\", \"issuer\": \"i\", \"legal_basis\": \"l\",\n"
         " \"issued\": \"2026-01-01t00:00:00z\", \"received\": \"2026-01-02T00:00:00+05:00\",\n"
         " \"resources\": [\"a.kz\", \"http://b.kz/x\"]}]}");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.errs, "");
    ck_assert_uint_eq(r.st.orders, 1);
    ck_assert_uint_eq(r.st.added, 2);
    ck_assert_str_eq(ruleset_entry_category(r.rs, 0), "");
    ruleset_free(r.rs);
}
END_TEST

START_TEST(test_json_syntax_error)
{
    static struct run r;
    load(&r, "bad.json",
         "{\"id\": \"A\", \"issuer\": \"i\", \"legal_basis\": \"l\",\n"
         " \"issued\": \"2026-01-01T00:00:00Z\", \"received\": \"2026-01-02T00:00:00Z\",\n"
         " \"resources\": [\"a.kz\" \"b.kz\"]}");
    ck_assert_int_eq(r.rc, -EINVAL);
    ck_assert_str_eq(r.errs, "rules: bad.json:3:28: invalid JSON: ']' expected near '\"b.kz\"'\n");
    ck_assert_uint_eq(ruleset_entry_count(r.rs), 0); /* nothing from the file */
    ruleset_free(r.rs);
    load(&r, "t.json", "[{\"id\": 1},");
    ck_assert_int_eq(r.rc, -EINVAL);
    ck_assert_int_eq(strncmp(r.errs, "rules: t.json:1:", 16), 0);
    ruleset_free(r.rs);
    load(&r, "n.json", "[1, 2]");
    ck_assert_int_eq(r.rc, -EINVAL);
    ck_assert_uint_eq(ruleset_entry_count(r.rs), 0);
    ruleset_free(r.rs);
    load(&r, "s.json", "{\"orders\": 5}");
    ck_assert_int_eq(r.rc, -EINVAL);
    ck_assert_str_eq(r.errs, "rules: s.json:1:12: expected an order object, an array of orders or "
                             "{\"orders\": [...]}\n");
    ruleset_free(r.rs);
}
END_TEST

START_TEST(test_file)
{
    char path[] = "/tmp/check_loader_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *body = "one.kz\ntwo.kz\nbad entry\n";
    ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    struct ruleset_builder *b = ruleset_builder_new();
    struct loader_stats st;
    char *mem = NULL;
    size_t ml = 0;
    FILE *f = open_memstream(&mem, &ml);
    ck_assert_int_eq(loader_load_file(b, path, f, &st), 0);
    ck_assert_uint_eq(st.added, 2);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_int_eq(loader_load_file(b, "/nonexistent/list.txt", f, &st), -ENOENT);
    fclose(f);
    char want[512];
    snprintf(want, sizeof(want),
             "rules: %s:3: invalid hostname character 'bad entry'\n"
             "rules: /nonexistent/list.txt: cannot read: No such file or directory\n",
             path);
    ck_assert_str_eq(mem, want);
    free(mem);
    /* a second file adds to the same builder; NULL errs and stats are fine */
    ck_assert_int_eq(loader_load_file(b, path, NULL, NULL), 0);
    ck_assert_uint_eq(ruleset_builder_dups(b), 2);
    unlink(path);
    ruleset_builder_free(b);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("plain");
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_plain_empty);
    tcase_add_test(tc, test_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("json");
    tcase_add_test(tc, test_json_single);
    tcase_add_test(tc, test_json_array_and_bad_orders);
    tcase_add_test(tc, test_json_orders_key);
    tcase_add_test(tc, test_json_syntax_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loader_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
