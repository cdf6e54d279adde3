/* check_query.c - Check suite for proxy/daemon/query.c (one query judged against a rule set,
 * the admin API's line protocol) and `qorgau query -c`'s way to the node: POST /api/v1/query
 * over the admin socket (proxy/daemon/adminhttp.c). Lines sit against a guard page
 * (tests/lib/guard.h). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/daemon/adminhttp.h"
#include "proxy/daemon/query.h"
#include "rules/match/ruleset.h"
#include "tests/lib/guard.h"

/* s starts with the string literal lit */
#define PREFIX(s, lit) (strncmp((s), (lit), sizeof(lit) - 1) == 0)

struct linecase {
    const char *in;
    enum query_line want;
    const char *q; /* the span expected for OK */
};

static const struct linecase lines[] = {
    { "ex.com", QUERY_LINE_OK, "ex.com" },   { "  ex.com\t", QUERY_LINE_OK, "ex.com" },
    { "ex.com\r", QUERY_LINE_OK, "ex.com" }, { "http://a/b c", QUERY_LINE_OK, "http://a/b c" },
    { "", QUERY_LINE_EMPTY, NULL },          { " \t ", QUERY_LINE_EMPTY, NULL },
    { "\r", QUERY_LINE_EMPTY, NULL },        { "ex\x01.com", QUERY_LINE_BAD, NULL },
    { "ex.com\x7f", QUERY_LINE_BAD, NULL },  { "a\rb", QUERY_LINE_BAD, NULL },
};

START_TEST(test_line)
{
    const struct linecase *c = &lines[_i];
    size_t len = strlen(c->in);
    const char *g = (const char *)guard_copy(c->in, len);
    const char *q = NULL, *why = NULL;
    size_t ql = 0;
    enum query_line r = query_line_parse(g, len, &q, &ql, &why);
    ck_assert_msg(r == c->want, "case %d: %d", _i, (int)r);
    if (r == QUERY_LINE_OK) {
        ck_assert_uint_eq(ql, strlen(c->q));
        ck_assert(memcmp(q, c->q, ql) == 0);
    }
    if (r == QUERY_LINE_BAD)
        ck_assert_ptr_nonnull(why);
    guard_free();
}
END_TEST

START_TEST(test_line_limit)
{
    char *buf = malloc(QUERY_LINE_MAX + 1);
    memset(buf, 'a', QUERY_LINE_MAX + 1);
    const char *q = NULL, *why = NULL;
    size_t ql = 0;
    ck_assert_int_eq(query_line_parse(buf, QUERY_LINE_MAX, &q, &ql, &why), QUERY_LINE_OK);
    ck_assert_uint_eq(ql, QUERY_LINE_MAX);
    ck_assert_int_eq(query_line_parse(buf, QUERY_LINE_MAX + 1, &q, &ql, &why), QUERY_LINE_BAD);
    ck_assert_str_eq(why, "line too long");
    free(buf);
}
END_TEST

static struct ruleset *rs;

static void setup(void)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    struct rule_attrs a1 = { "o-1", "court", NULL }, a2 = { "o-2", NULL, NULL };
    ck_assert_int_eq(ruleset_builder_add(b, "blocked.example", 15, &a1, err, sizeof(err)), 0);
    ck_assert_int_eq(ruleset_builder_add(b, "blocked.example", 15, &a2, err, sizeof(err)), 0);
    ck_assert_int_eq(ruleset_builder_add(b, "http://web.example/dir/*", 24, &a2, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ruleset_builder_add(b, "https://tls.example/x", 21, &a2, err, sizeof(err)), 0);
    ck_assert_int_eq(ruleset_builder_add(b, "192.0.2.0/24", 12, &a1, err, sizeof(err)), 0);
    ck_assert_int_eq(ruleset_builder_add(b, "2001:db8::/32", 13, &a1, err, sizeof(err)), 0);
    rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    /* the IP fallback's resolved addresses of blocked.example (docs/fallback.md) */
    struct rule_match m;
    ck_assert(ruleset_match_domain(rs, "blocked.example", 15, &m));
    struct fbaddr_rec fr[3] = {
        { 4, FBADDR_BLOCK, { 198, 51, 100, 9 }, m.entry, 1 },
        { 4, FBADDR_REPORT, { 198, 51, 100, 10 }, m.entry, 7 },
        { 6, FBADDR_NAMELESS, { 0x20, 0x01, 0x0d, 0xb9, [15] = 1 }, m.entry, 7 },
    };
    ruleset_set_fallback(rs, fbaddr_build(fr, 3));
    ck_assert_ptr_nonnull(ruleset_fallback(rs));
}

static void teardown(void)
{
    ruleset_free(rs);
    rs = NULL;
}

struct judgecase {
    const char *q;
    int rc;
    const char *want; /* a fragment of the answer line */
    const char *want2;
};

static const struct judgecase judges[] = {
    { "blocked.example", 0,
      "\"verdict\":\"block\",\"method\":\"domain\",\"rule\":\"blocked.example\"",
      "\"orders\":[\"o-1\",\"o-2\"],\"category\":\"court\",\"judged_as\":\"tls\",\"version\":9}" },
    { "www.Blocked.Example.", 0, "\"verdict\":\"block\",\"method\":\"domain\"", NULL },
    { "notblocked.example", 0, "\"verdict\":\"pass\",\"method\":null,\"rule\":null,\"orders\":[]",
      NULL },
    { "http://web.example/dir/a?b", 0, "\"method\":\"url\",\"rule\":\"http://web.example/dir/*\"",
      "\"judged_as\":\"http\"" },
    { "http://web.example/other", 0, "\"verdict\":\"pass\"", NULL },
    { "http://web.example:8080/dir/x", 0, "\"verdict\":\"block\",\"method\":\"url\"", NULL },
    { "https://tls.example/anything", 0, "\"verdict\":\"block\",\"method\":\"url\"",
      "\"judged_as\":\"tls\"" },
    { "tls.example", 0, "\"verdict\":\"block\",\"method\":\"url\"", NULL },
    { "192.0.2.77", 0, "\"verdict\":\"block\",\"method\":\"ip-fallback\",\"rule\":\"192.0.2.0/24\"",
      "\"judged_as\":\"address\"" },
    { "[2001:db8::5]", 0, "\"verdict\":\"block\",\"method\":\"ip-fallback\"", NULL },
    { "198.51.100.1", 0, "\"verdict\":\"pass\"", NULL },
    { "http://192.0.2.1/", 0, "\"verdict\":\"block\",\"method\":\"ip-fallback\"", NULL },
    { "198.51.100.9", 0,
      "\"verdict\":\"block\",\"method\":\"ip-fallback\",\"rule\":\"blocked.example\"",
      "\"orders\":[\"o-1\",\"o-2\"]" },
    { "198.51.100.10", 0, "\"verdict\":\"pass\",\"method\":null,\"rule\":null",
      "\"held\":\"blocked.example\",\"judged_as\":\"address\"" },
    { "[2001:db9::1]", 0,
      "\"verdict\":\"block\",\"method\":\"ip-fallback\",\"rule\":\"blocked.example\"", NULL },
    { "bad name", -EINVAL, "\"error\":", NULL },
    { "name/with/path", -EINVAL, "\"error\":\"not a name", NULL },
    { "http:///x", -EINVAL, "\"error\":", NULL },
    { "q\"uote", -EINVAL, "{\"query\":\"q\\\"uote\",\"error\"", NULL },
};

START_TEST(test_judge)
{
    const struct judgecase *c = &judges[_i];
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    int rc = query_judge(rs, &pol, 9, c->q, strlen(c->q), m);
    fclose(m);
    ck_assert_msg(rc == c->rc, "case %d (%s): rc %d: %s", _i, c->q, rc, out);
    ck_assert_msg(strstr(out, c->want) != NULL, "case %d: %s lacks %s", _i, out, c->want);
    if (c->want2)
        ck_assert_msg(strstr(out, c->want2) != NULL, "case %d: %s lacks %s", _i, out, c->want2);
    ck_assert(olen > 0 && out[olen - 1] == '\n' && memchr(out, '\n', olen) == out + olen - 1);
    free(out);
}
END_TEST

/* https_url = ignore: an https URL entry does not block its name */
START_TEST(test_judge_https_ignore)
{
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_IGNORE, .notice_url = NULL };
    ck_assert_int_eq(query_judge(rs, &pol, 1, "tls.example", 11, m), 0);
    fclose(m);
    ck_assert_ptr_nonnull(strstr(out, "\"verdict\":\"pass\""));
    free(out);
}
END_TEST

/* No set yet: everything passes. */
START_TEST(test_judge_no_set)
{
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    ck_assert_int_eq(query_judge(NULL, &pol, 0, "blocked.example", 15, m), 0);
    fclose(m);
    ck_assert_ptr_nonnull(strstr(out, "\"verdict\":\"pass\""));
    free(out);
}
END_TEST

static void answer(void *ctx, const char *q, size_t len, FILE *out)
{
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    query_judge(ctx, &pol, 3, q, len, out);
}

/* The line protocol: blank lines skipped, a bad line answered with an error, an over-long line
 * answered once, a last line without its newline; one answer per query, in order. */
START_TEST(test_serve)
{
    char *in = NULL, *buf = NULL;
    size_t inlen = 0, blen = 0;
    FILE *f = open_memstream(&in, &inlen);
    fputs("blocked.example\n\nnotblocked.example\r\nex\x01x\n", f);
    for (size_t i = 0; i < QUERY_LINE_MAX + 100; i++)
        fputc('a', f);
    fputs("\n192.0.2.1", f);
    fclose(f);
    FILE *m = open_memstream(&buf, &blen);
    size_t n = query_lines(in, inlen, answer, rs, m);
    fclose(m);
    free(in);
    ck_assert_uint_eq(n, 5);
    char *l1 = buf, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1,
         *l4 = strchr(l3, '\n') + 1, *l5 = strchr(l4, '\n') + 1;
    ck_assert(PREFIX(l1, "{\"query\":\"blocked.example\",\"verdict\":\"block\""));
    ck_assert(PREFIX(l2, "{\"query\":\"notblocked.example\",\"verdict\":\"pass\""));
    ck_assert(PREFIX(l3, "{\"query\":\"ex\\u0001x\",\"error\":\"control byte"));
    ck_assert(PREFIX(l4, "{\"query\":null,\"error\":\"line too long\"}"));
    ck_assert(PREFIX(l5, "{\"query\":\"192.0.2.1\",\"verdict\":\"block\""));
    free(buf);
}
END_TEST

static void post_query(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    char *b = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&b, &n);
    query_lines((const char *)req->body, req->body_len, answer, ctx, m);
    api_reply(resp, 200, "application/x-ndjson", m, &b, &n);
}

/* The socket end to end: adminhttp_new() makes it owner-only; one POST of 20 000 queries (what
 * `qorgau query -c CONFIG -` sends) gets every answer, in order. */
START_TEST(test_socket)
{
    char dir[64], path[96], err[512];
    snprintf(dir, sizeof(dir), "/tmp/check_query.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, ADMINHTTP_SOCKET_NAME);
    struct adminhttp_config cfg = { path, (uid_t)-1, (gid_t)-1, NULL, NULL, 4,
                                    5000, 1u << 20,  NULL,      NULL, NULL };
    struct adminhttp *a = adminhttp_new(&cfg, NULL, err, sizeof(err));
    ck_assert_msg(a != NULL, "%s", err);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(adminhttp_mount(a, "/api/v1/query", "read", post_query, rs), 0);
    ck_assert_msg(adminhttp_start(a, err, sizeof(err)) == 0, "%s", err);
    enum { N = 20000 };
    char *body = NULL, *out = NULL;
    size_t blen = 0, olen = 0;
    FILE *b = open_memstream(&body, &blen);
    for (size_t i = 0; i < N; i++)
        fputs(i % 2 ? "192.0.2.9\n" : "notblocked.example\n", b);
    fclose(b);
    FILE *m = open_memstream(&out, &olen);
    int status = adminhttp_request(path, "POST", "/api/v1/query", body, blen, m, err, sizeof(err));
    fclose(m);
    ck_assert_msg(status == 200, "%d %s", status, err);
    size_t nlines = 0, blocks = 0;
    for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        nlines++;
    for (char *p = out; (p = strstr(p, "\"verdict\":\"block\"")) != NULL; p++)
        blocks++;
    ck_assert_uint_eq(nlines, N);
    ck_assert_uint_eq(blocks, N / 2);
    static const char first[] = "{\"query\":\"notblocked.example\",\"verdict\":\"pass\"";
    ck_assert(strncmp(out, first, sizeof(first) - 1) == 0);
    free(out);
    free(body);
    adminhttp_free(a);
    ck_assert_int_ne(access(path, F_OK), 0); /* removed */
    ck_assert_int_eq(rmdir(dir), 0);
    /* nobody listening: a clear error */
    ck_assert_int_lt(adminhttp_request(path, "GET", "/", NULL, 0, stdout, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
}
END_TEST

static Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("line");
    tcase_add_loop_test(tc, test_line, 0, (int)(sizeof(lines) / sizeof(lines[0])));
    tcase_add_test(tc, test_line_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("judge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_judge, 0, (int)(sizeof(judges) / sizeof(judges[0])));
    tcase_add_test(tc, test_judge_https_ignore);
    tcase_add_test(tc, test_judge_no_set);
    tcase_add_test(tc, test_serve);
    tcase_add_test(tc, test_socket);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(query_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
