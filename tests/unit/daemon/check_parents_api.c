/* check_parents_api.c - Check suite for the parents API handler (proxy/daemon/parents_api.c),
 * called directly over a directory store: settings as a whole and field by field, the text
 * written to the store's tariff records, refusals with the field or JSON position named, the
 * day's summary summed over the nodes' counters (per category, never a site), methods and
 * paths that are not the API's. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/parents_api.h"
#include "tests/lib/tmpdir.h"

static char g_dir[512];
static struct parents_api *g_api;
static struct pseudo g_ps;
static struct api_resp g_r;

static void setup(void)
{
    char url[600], err[512];
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "parents"), 0);
    snprintf(url, sizeof(url), "dir://%s", g_dir);
    struct store *s = store_open(url, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    pseudo_set_key(&g_ps, "0123456789abcdef0123", 20);
    g_api = parents_api_new(s, &g_ps);
    memset(&g_r, 0, sizeof(g_r));
}

static void teardown(void)
{
    free(g_r.body);
    parents_api_free(g_api);
    tmpdir_remove(g_dir);
}

/* Calls the handler; returns the status, the body in g_r. */
static int call(const char *method, const char *path, const char *query, const char *body)
{
    free(g_r.body);
    memset(&g_r, 0, sizeof(g_r));
    struct api_req q = {
        method, path, query ? query : "", (const uint8_t *)body, body ? strlen(body) : 0, "selfcare"
    };
    parents_api_handle(g_api, &q, &g_r);
    if (g_r.body)
        ck_assert_uint_eq(g_r.body_len, strlen(g_r.body));
    return g_r.status;
}

/* The settings text of sub in the directory store's tariff file ("" when none). */
static const char *stored(const char *sub)
{
    static char text[STORE_TARIFF_TEXT_MAX];
    text[0] = '\0';
    FILE *f;
    char path[700];
    snprintf(path, sizeof(path), "%s/tariff", g_dir);
    if ((f = fopen(path, "r"))) {
        char line[STORE_TARIFF_TEXT_MAX + 200];
        size_t sl = strlen(sub);
        while (fgets(line, sizeof(line), f))
            if (line[0] == 's' && strncmp(line + 2, sub, sl) == 0 && line[2 + sl] == ' ') {
                line[strcspn(line, "\n")] = '\0';
                snprintf(text, sizeof(text), "%s", line + 3 + sl);
            }
        fclose(f);
    }
    return text;
}

START_TEST(settings_whole_and_fields)
{
    ck_assert_int_eq(call("GET", "77011234567", NULL, NULL), 404);
    ck_assert_int_eq(call("PUT", "77011234567", NULL,
                          "{\"profile\":\"child\",\"allow\":[\"kids.test\",\"school.test\"],"
                          "\"deny\":[\"games.test\"],\"schedules\":[\"*@sat,sun/22:00-08:00\"]}"),
                     200);
    ck_assert_str_eq(g_r.content_type, "application/json");
    ck_assert_str_eq(stored("77011234567"), "profile=child pallow=kids.test,school.test "
                                            "pdeny=games.test sched=*@sat,sun/22:00-08:00");
    ck_assert_int_eq(call("GET", "77011234567", NULL, NULL), 200);
    ck_assert_ptr_nonnull(strstr(g_r.body, "\"profile\":\"child\""));
    ck_assert_ptr_nonnull(strstr(g_r.body, "\"allow\":[\"kids.test\",\"school.test\"]"));
    ck_assert_ptr_nonnull(strstr(g_r.body, "\"schedules\":[\"*@sat,sun/22:00-08:00\"]"));
    /* one field: the others stay */
    ck_assert_int_eq(call("PUT", "77011234567/profile", NULL, "{\"profile\":\"child-allowlist\"}"),
                     200);
    ck_assert_int_eq(call("GET", "77011234567/profile", NULL, NULL), 200);
    ck_assert_str_eq(g_r.body, "{\"profile\":\"child-allowlist\"}");
    ck_assert_int_eq(call("PUT", "77011234567/deny", NULL, "{\"deny\":[]}"), 200);
    ck_assert_str_eq(stored("77011234567"), "profile=child-allowlist pallow=kids.test,school.test "
                                            "sched=*@sat,sun/22:00-08:00");
    ck_assert_int_eq(call("GET", "77011234567/deny", NULL, NULL), 200);
    ck_assert_str_eq(g_r.body, "{\"deny\":[]}");
    ck_assert_int_eq(call("DELETE", "77011234567", NULL, NULL), 204);
    ck_assert_str_eq(stored("77011234567"), "");
    ck_assert_int_eq(call("DELETE", "77011234567", NULL, NULL), 404);
}
END_TEST

START_TEST(refusals)
{
    ck_assert_int_eq(call("PUT", "7701", NULL, "{\"profile\":\"child\""), 400);
    ck_assert_ptr_nonnull(strstr(g_r.body, "line 1"));
    ck_assert_int_eq(call("PUT", "7701", NULL, "[1]"), 400);
    ck_assert_ptr_nonnull(strstr(g_r.body, "not a JSON object"));
    ck_assert_int_eq(call("PUT", "7701", NULL, "{\"colour\":\"red\"}"), 400);
    ck_assert_ptr_nonnull(strstr(g_r.body, "unexpected field 'colour'"));
    ck_assert_int_eq(call("PUT", "7701", NULL, "{\"profile\":\"Child!\"}"), 400);
    ck_assert_int_eq(call("PUT", "7701", NULL, "{\"allow\":[\"a.test,b.test\"]}"), 400);
    ck_assert_int_eq(call("PUT", "7701", NULL, "{\"deny\":[\"10.0.0.1\"]}"), 400);
    ck_assert_ptr_nonnull(strstr(g_r.body, "pdeny=10.0.0.1"));
    ck_assert_int_eq(call("PUT", "7701", NULL, "{\"schedules\":[\"games@someday/1:00-2:00\"]}"),
                     400);
    ck_assert_int_eq(call("PUT", "7701/profile", NULL, "{\"allow\":[]}"), 400);
    ck_assert_str_eq(stored("7701"), ""); /* nothing written by a refused request */
    ck_assert_int_eq(call("POST", "7701", NULL, "{}"), 405);
    ck_assert_int_eq(call("DELETE", "7701/profile", NULL, NULL), 405);
    ck_assert_int_eq(call("PUT", "7701/summary", NULL, "{}"), 405);
    ck_assert_int_eq(call("GET", "7701/history", NULL, NULL), 404);
    ck_assert_int_eq(call("GET", "", NULL, NULL), 404);
    ck_assert_int_eq(call("GET", "a b", NULL, NULL), 404);
    ck_assert_int_eq(call("GET", "7701/profile/x", NULL, NULL), 404);
}
END_TEST

START_TEST(summary_per_category)
{
    char url[600], err[512], pn[PSEUDO_TEXT_MAX], id[256];
    snprintf(url, sizeof(url), "dir://%s", g_dir);
    struct store *s = store_open(url, NULL, err, sizeof(err));
    ck_assert_int_eq(store_node_ack(s, "node-a", 1, 1, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-b", 1, 1, 60000, err, sizeof(err)), 0);
    pseudo_id(&g_ps, "77011234567", pn, sizeof(pn));
    snprintf(id, sizeof(id), "%s:2026-12-03:node-a", pn);
    const char *a = "{\"adult\":3,\"games\":1}", *b = "{\"adult\":2}";
    ck_assert_int_eq(store_doc_put(s, "tariffsum", id, a, strlen(a), err, sizeof(err)), 0);
    snprintf(id, sizeof(id), "%s:2026-12-03:node-b", pn);
    ck_assert_int_eq(store_doc_put(s, "tariffsum", id, b, strlen(b), err, sizeof(err)), 0);
    snprintf(id, sizeof(id), "%s:2026-12-02:node-b", pn);
    ck_assert_int_eq(store_doc_put(s, "tariffsum", id, b, strlen(b), err, sizeof(err)), 0);
    store_free(s);
    ck_assert_int_eq(call("GET", "77011234567/summary", "day=2026-12-03", NULL), 200);
    ck_assert_str_eq(g_r.body,
                     "{\"day\":\"2026-12-03\",\"blocked\":{\"adult\":5,\"games\":1},\"total\":6}");
    ck_assert_int_eq(call("GET", "77011234567/summary", "x=1&day=2026-12-01", NULL), 200);
    ck_assert_str_eq(g_r.body, "{\"day\":\"2026-12-01\",\"blocked\":{},\"total\":0}");
    ck_assert_int_eq(call("GET", "77019999999/summary", "day=2026-12-03", NULL), 200);
    ck_assert_ptr_nonnull(strstr(g_r.body, "\"total\":0"));
    ck_assert_int_eq(call("GET", "77011234567/summary", "day=2026-13-03", NULL), 400);
    ck_assert_int_eq(call("GET", "77011234567/summary", NULL, NULL), 400);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parents_api");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, settings_whole_and_fields);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, summary_per_category);
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
