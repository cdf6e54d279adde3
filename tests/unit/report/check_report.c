/* check_report.c - the report model built from a directory store filled through the real
 * store operations (publish, node acknowledgements, hits, documents), checked field by field
 * against what was done; the renderers (HTML escaping and self-containment, CSV quoting, JSON
 * read back with jansson); stats over the same store; and a report signed with sign_detached()
 * verified by `openssl cms -verify` with a CA made here. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/orders/order.h"
#include "rules/orders/sign.h"
#include "rules/report/report.h"
#include "rules/report/report_render.h"
#include "rules/report/stats.h"
#include "rules/store/store.h"
#include "tests/lib/tmpdir.h"

static char g_dir[64];

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "check-report"), 0);
}

static void teardown(void)
{
    tmpdir_remove(g_dir);
}

static int64_t at(const char *rfc3339)
{
    int64_t ts;
    ck_assert_msg(order_time_parse(rfc3339, &ts), "%s", rfc3339);
    return ts;
}

static struct store *open_store(const char *name)
{
    char url[128], err[512];
    snprintf(url, sizeof(url), "%s/%s", g_dir, name);
    struct store *s = store_open(url, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

/* Imports an order received at received with the given resources, at time t (ms). */
static int64_t import(struct store *s, const char *id, const char *received, const char *number,
                      const char *const *res, size_t nres, uint64_t t)
{
    char err[512];
    struct order *o = order_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(order_set(&o->id, id, strlen(id)), 0);
    ck_assert_int_eq(order_set(&o->issuer, "Issuer \"Q\" & Co", 16), 0);
    ck_assert_int_eq(order_set(&o->number, number, strlen(number)), 0);
    ck_assert_int_eq(order_set(&o->legal_basis, "Art. 41-1", 9), 0);
    ck_assert_int_eq(order_set(&o->category, "gambling", 8), 0);
    ck_assert_int_eq(order_set(&o->received, received, strlen(received)), 0);
    o->received_ts = at(received);
    for (size_t i = 0; i < nres; i++)
        ck_assert_msg(
            order_add_resource(o, res[i], strlen(res[i]), NULL, false, err, sizeof(err)) == 0, "%s",
            err);
    ck_assert_int_eq(order_add_reject(o, "4", "bad,\"x\"", 7, "not a name, URL or address"), 0);
    char *js = order_to_json(o);
    ck_assert_ptr_nonnull(js);
    struct store_order so = { .id = id, .record = js, .record_len = strlen(js) };
    struct store_change c = {
        .kind = STORE_CHANGE_IMPORT, .time_ms = t, .orders = &so, .n_orders = 1
    };
    int64_t v = store_publish(s, &c, err, sizeof(err));
    ck_assert_msg(v > 0, "%s", err);
    free(js);
    order_free(o);
    return v;
}

static int64_t change(struct store *s, enum store_change_kind k, const char *id, uint64_t t)
{
    char err[512];
    struct store_order so = { .id = id };
    struct store_change c = { .kind = k, .time_ms = t, .orders = &so, .n_orders = 1 };
    int64_t v = store_publish(s, &c, err, sizeof(err));
    ck_assert_msg(v > 0, "%s", err);
    return v;
}

static void ack(struct store *s, const char *node, uint64_t v, uint64_t since, uint32_t ttl)
{
    char err[512];
    ck_assert_msg(store_node_ack(s, node, v, since, ttl, err, sizeof(err)) == 0, "%s", err);
}

static const char *const RES[] = { "casino.kz", "http://x.kz/a", "10.0.0.1" };

/* The scenario: imported on 2026-01-26, two nodes acknowledge, a third one is long dead,
 * hits are counted in two batches, verification finds one resource reachable, then revoked. */
static struct store *scenario(uint64_t *t_imp, uint64_t *t_rev)
{
    struct store *s = open_store("main");
    char err[512];
    *t_imp = (uint64_t)at("2026-01-26T04:00:00Z") * 1000;
    *t_rev = *t_imp + 86400000;
    ack(s, "n3-dead", 0, *t_imp - 100000, 1); /* expires at once, never reaches the order */
    int64_t v1 =
        import(s, "R-1", "2026-01-25T10:00:00+05:00", "<script>alert(1)</script>", RES, 3, *t_imp);
    ack(s, "n1", (uint64_t)v1, *t_imp + 1000, 600000);
    ack(s, "n1", (uint64_t)v1, *t_imp + 1000, 600000); /* a heartbeat adds nothing */
    ack(s, "n2", (uint64_t)v1, *t_imp + 5000, 600000);
    struct store_hit h1[] = { { "R-1", "casino.kz", 2, *t_imp + 10000, *t_imp + 20000 },
                              { "R-1", "10.0.0.1", 1, *t_imp + 15000, *t_imp + 15000 } };
    struct store_hit h2[] = { { "R-1", "casino.kz", 1, *t_imp + 9000, *t_imp + 30000 } };
    ck_assert_int_eq(store_hits_add(s, h1, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(store_hits_add(s, h2, 1, err, sizeof(err)), 0);
    static const char verify[] =
        "{\"order\":\"R-1\",\"time_ms\":1769400000000,\"results\":["
        "{\"resource\":\"casino.kz\",\"probe\":\"tls\",\"target\":\"10.0.0.5:443\","
        "\"blocked\":true,\"how\":\"reset\",\"time_ms\":1769400000001},"
        "{\"resource\":\"http://x.kz/a\",\"probe\":\"http\",\"target\":\"10.0.0.6:80\","
        "\"blocked\":false,\"how\":\"answered\",\"time_ms\":1769400000002}]}";
    ck_assert_int_eq(store_doc_put(s, "verify", "R-1", verify, strlen(verify), err, sizeof(err)),
                     0);
    int64_t v2 = change(s, STORE_CHANGE_REVOKE, "R-1", *t_rev);
    ack(s, "n2", (uint64_t)v2, *t_rev + 700, 600000);
    ack(s, "n1", (uint64_t)v2, *t_rev + 900, 600000);
    ack(s, "n4-late", (uint64_t)v2, *t_rev + 800, 600000); /* joined after the revoke */
    usleep(20000);                                         /* n3-dead's heartbeat has expired */
    return s;
}

START_TEST(model_from_store)
{
    uint64_t t_imp, t_rev;
    struct store *s = scenario(&t_imp, &t_rev);
    char err[512];
    struct report *r = NULL;
    struct report_opts opt = { .now_ms = t_rev + 3600000 };
    ck_assert_msg(report_build(s, NULL, "R-1", &opt, &r, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(r->o->id, "R-1");
    ck_assert_int_eq(r->state, STORE_REVOKED);
    ck_assert_uint_eq(r->deadline_days, 10);
    ck_assert_str_eq(r->tz, "Asia/Almaty");
    char date[16];
    deadline_date_format(&r->deadline_date, date);
    ck_assert_str_eq(date, "2026-02-04");
    ck_assert_int_eq(r->deadline_end, at("2026-02-05T00:00:00+05:00"));
    /* times in order: published, then each node, then every node */
    ck_assert_uint_eq(r->published_ms, t_imp);
    ck_assert_uint_eq(r->enforced_ms, t_imp + 5000);
    ck_assert_int_eq(r->met, REPORT_MET);
    ck_assert(!r->overdue);
    ck_assert_uint_eq(r->nev, 2);
    ck_assert_int_eq(r->ev[0].kind, STORE_CHANGE_IMPORT);
    ck_assert_uint_eq(r->ev[0].time_ms, t_imp);
    ck_assert_uint_eq(r->ev[0].nreach, 2); /* n3-dead and n4-late left out */
    ck_assert_str_eq(r->ev[0].reach[0].node, "n1");
    ck_assert_uint_eq(r->ev[0].reach[0].since_ms, t_imp + 1000);
    ck_assert_uint_eq(r->ev[0].reach[1].since_ms, t_imp + 5000);
    ck_assert_int_eq(r->ev[1].kind, STORE_CHANGE_REVOKE);
    ck_assert_uint_eq(r->ev[1].time_ms, t_rev);
    ck_assert_uint_eq(r->ev[1].all_ms, t_rev + 900);
    ck_assert_uint_eq(r->ev[1].nreach, 3); /* n4-late enforces the revocation */
    ck_assert_uint_lt(r->ev[0].all_ms, r->ev[1].time_ms);
    /* resources: method, hits equal to what was counted, verification */
    ck_assert_uint_eq(r->nres, 3);
    ck_assert_str_eq(r->res[0].r->norm, "casino.kz");
    ck_assert_str_eq(r->res[0].method, "domain");
    ck_assert_uint_eq(r->res[0].hits, 3);
    ck_assert_uint_eq(r->res[0].first_hit_ms, t_imp + 9000);
    ck_assert_uint_eq(r->res[0].last_hit_ms, t_imp + 30000);
    ck_assert_int_eq(r->res[0].verdict, REPORT_BLOCKED);
    ck_assert_uint_eq(r->res[0].nchecks, 1);
    ck_assert_str_eq(r->res[0].checks[0].how, "reset");
    ck_assert_str_eq(r->res[1].method, "url");
    ck_assert_uint_eq(r->res[1].hits, 0);
    ck_assert_int_eq(r->res[1].verdict, REPORT_NOT_BLOCKED);
    ck_assert_str_eq(r->res[2].method, "ip");
    ck_assert_uint_eq(r->res[2].hits, 1);
    ck_assert_int_eq(r->res[2].verdict, REPORT_NOT_VERIFIED);
    ck_assert_uint_eq(r->res[2].nfallback, 0);
    /* residual risks */
    bool reach = false, ipw = false, unass = false, unver = false;
    for (size_t i = 0; i < r->nrisks; i++) {
        reach |=
            r->risks[i].kind == RISK_NOT_BLOCKED && strcmp(r->risks[i].arg, "http://x.kz/a") == 0;
        ipw |= r->risks[i].kind == RISK_IP_WIDE && strcmp(r->risks[i].arg, "10.0.0.1") == 0;
        unass |= r->risks[i].kind == RISK_UNASSESSED;
        unver |= r->risks[i].kind == RISK_NOT_VERIFIED && r->risks[i].arg &&
                 strcmp(r->risks[i].arg, "10.0.0.1") == 0;
        ck_assert_int_ne(r->risks[i].kind, RISK_NODE_PENDING); /* revoked: nothing pending */
    }
    ck_assert(reach && ipw && unass && unver);
    report_free(r);
    ck_assert_int_eq(report_build(s, NULL, "nope", &opt, &r, err, sizeof(err)), -ENOENT);
    store_free(s);
}
END_TEST

START_TEST(model_missed_pending_and_documents)
{
    struct store *s = open_store("other");
    char err[512];
    uint64_t t = (uint64_t)at("2026-03-01T00:00:00Z") * 1000;
    /* received 2026-02-01: deadline 2026-02-11; enforced on 2026-03-01: missed */
    int64_t v = import(s, "M-1", "2026-02-01T09:00:00+05:00", "7", RES, 1, t);
    ack(s, "a", (uint64_t)v, t + 10, 600000);
    /* received now-ish, a live node that never acknowledges: pending */
    int64_t v2 = import(s, "P-1", "2026-02-27T09:00:00+05:00", "8", RES + 1, 2, t + 100);
    ack(s, "b", (uint64_t)v2 - 1, t + 50, 600000);
    ack(s, "a", (uint64_t)v2, t + 200, 600000);
    static const char risks[] = "{\"order\":\"P-1\",\"shared_held_back\":[{\"resource\":"
                                "\"10.0.0.1\",\"address\":\"10.0.0.1\"}],\"ech_connections\":12}";
    static const char fb[] = "{\"resources\":[{\"resource\":\"http://x.kz/a\",\"addresses\":"
                             "[\"192.0.2.7\",\"2001:db8::7\"]}]}";
    ck_assert_int_eq(store_doc_put(s, "risks", "P-1", risks, strlen(risks), err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_put(s, "fallback", "P-1", fb, strlen(fb), err, sizeof(err)), 0);
    struct report *r = NULL;
    struct report_opts opt = { .now_ms = t + 1000 };
    ck_assert_int_eq(report_build(s, NULL, "M-1", &opt, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r->met, REPORT_MISSED);
    ck_assert(!r->overdue);
    ck_assert_uint_eq(r->enforced_ms, t + 50); /* b enforces version 1 (M-1) since t + 50 */
    report_free(r);
    ck_assert_int_eq(report_build(s, NULL, "P-1", &opt, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r->met, REPORT_PENDING);
    ck_assert_uint_eq(r->enforced_ms, 0);
    ck_assert_uint_eq(r->res[0].nfallback, 2);
    ck_assert_str_eq(r->res[0].fallback[1], "2001:db8::7");
    bool pend = false, shared = false, ech = false, noverify = false;
    for (size_t i = 0; i < r->nrisks; i++) {
        pend |= r->risks[i].kind == RISK_NODE_PENDING && strcmp(r->risks[i].arg, "b") == 0;
        shared |= r->risks[i].kind == RISK_SHARED_HELD;
        ech |= r->risks[i].kind == RISK_ECH && strcmp(r->risks[i].arg, "12") == 0;
        noverify |= r->risks[i].kind == RISK_NOT_VERIFIED && !r->risks[i].arg;
        ck_assert_int_ne(r->risks[i].kind, RISK_UNASSESSED);
    }
    ck_assert(pend && shared && ech && noverify);
    report_free(r);
    /* past the deadline and still not everywhere: overdue */
    opt.now_ms = (uint64_t)at("2026-03-20T00:00:00Z") * 1000;
    opt.deadline_days = 5;
    opt.tz = "UTC";
    ck_assert_int_eq(report_build(s, NULL, "P-1", &opt, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r->met, REPORT_MISSED);
    ck_assert(r->overdue);
    char date[16];
    deadline_date_format(&r->deadline_date, date);
    ck_assert_str_eq(date, "2026-03-04");
    report_free(r);
    /* the nodes' ECH counts (docs "ech"): an order with no risks document of its own shows the
     * fleet's ECH flows that passed with their names hidden; one with ech_connections its own */
    static const char ech_a[] = "{\"node\":\"a\",\"passed\":5,\"blocked\":2}";
    static const char ech_b[] = "{\"node\":\"b\",\"passed\":4,\"blocked\":0}";
    ck_assert_int_eq(store_doc_put(s, "ech", "a", ech_a, strlen(ech_a), err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_put(s, "ech", "b", ech_b, strlen(ech_b), err, sizeof(err)), 0);
    opt.now_ms = t + 1000;
    ck_assert_int_eq(report_build(s, NULL, "M-1", &opt, &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r->ech_passed, 9);
    bool fleet_ech = false;
    for (size_t i = 0; i < r->nrisks; i++) {
        fleet_ech |= r->risks[i].kind == RISK_ECH && strcmp(r->risks[i].arg, "9") == 0;
        ck_assert_int_ne(r->risks[i].kind, RISK_UNASSESSED);
    }
    ck_assert(fleet_ech);
    report_free(r);
    ck_assert_int_eq(report_build(s, NULL, "P-1", &opt, &r, err, sizeof(err)), 0);
    ech = false;
    for (size_t i = 0; i < r->nrisks; i++)
        ech |= r->risks[i].kind == RISK_ECH && strcmp(r->risks[i].arg, "12") == 0;
    ck_assert(ech);
    report_free(r);
    store_free(s);
}
END_TEST

static char *render(const struct report *r, enum report_format f, enum report_lang l, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(report_render(m, r, f, l), 0);
    fclose(m);
    return buf;
}

START_TEST(renderers)
{
    uint64_t t_imp, t_rev;
    struct store *s = scenario(&t_imp, &t_rev);
    char err[512];
    struct report *r = NULL;
    struct report_opts opt = { .now_ms = t_rev + 3600000 };
    ck_assert_int_eq(report_build(s, NULL, "R-1", &opt, &r, err, sizeof(err)), 0);
    size_t len;
    /* HTML: escaped, self-contained, in each language */
    char *h = render(r, REPORT_HTML, REPORT_RU, &len);
    ck_assert_ptr_null(strstr(h, "<script"));
    ck_assert_ptr_nonnull(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    ck_assert_ptr_nonnull(strstr(h, "Issuer &quot;Q&quot; &amp; Co"));
    ck_assert_ptr_null(strstr(h, "src="));
    ck_assert_ptr_null(strstr(h, "href="));
    ck_assert_ptr_null(strstr(h, "@import"));
    ck_assert_ptr_nonnull(strstr(h, "Отчёт об исполнении предписания"));
    ck_assert_ptr_nonnull(strstr(h, "2026-02-04"));
    ck_assert_ptr_nonnull(strstr(h, "срок соблюдён"));
    ck_assert_ptr_nonnull(strstr(h, "bad,&quot;x&quot;"));
    ck_assert_ptr_nonnull(strstr(h, "@media print"));
    free(h);
    h = render(r, REPORT_HTML, REPORT_KK, &len);
    ck_assert_ptr_nonnull(strstr(h, "Нұсқаманың орындалуы туралы есеп"));
    ck_assert_ptr_nonnull(strstr(h, "lang=\"kk\""));
    free(h);
    h = render(r, REPORT_HTML, REPORT_EN, &len);
    ck_assert_ptr_nonnull(strstr(h, "Order execution report"));
    ck_assert_ptr_nonnull(strstr(h, "deadline met"));
    free(h);
    /* CSV: header, one row per resource and per rejected one, RFC 4180 quoting, CRLF */
    char *c = render(r, REPORT_CSV, REPORT_RU, &len);
    size_t rows = 0;
    for (char *p = c; (p = strstr(p, "\r\n")) != NULL; p += 2)
        rows++;
    ck_assert_uint_eq(rows, 1 + 3 + 1);
    ck_assert_ptr_nonnull(strstr(c, "R-1,accepted,casino.kz,casino.kz,domain,,"));
    ck_assert_ptr_nonnull(strstr(c, ",n1 n2,3,"));
    ck_assert_ptr_nonnull(strstr(c, "R-1,rejected,,\"bad,\"\"x\"\"\","));
    ck_assert_ptr_nonnull(strstr(c, "\"not a name, URL or address\""));
    free(c);
    /* JSON: parses, and says what happened */
    char *j = render(r, REPORT_JSON, REPORT_RU, &len);
    json_error_t je;
    json_t *root = json_loadb(j, len, 0, &je);
    ck_assert_msg(root != NULL, "%s at %d", je.text, je.position);
    ck_assert_str_eq(json_string_value(json_object_get(root, "deadline")), "2026-02-04");
    ck_assert_str_eq(json_string_value(json_object_get(root, "deadline_outcome")), "met");
    ck_assert_str_eq(json_string_value(json_object_get(root, "number")),
                     "<script>alert(1)</script>");
    ck_assert_int_eq(json_integer_value(json_object_get(root, "enforced_all_ms")),
                     (json_int_t)(t_imp + 5000));
    json_t *res = json_object_get(root, "resources");
    ck_assert_uint_eq(json_array_size(res), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 0), "hits")), 3);
    ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(res, 0), "acknowledged_by")),
                      2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 1), "verification")),
                     "not-blocked");
    ck_assert(json_is_array(json_object_get(json_array_get(res, 2), "ip_fallback_addresses")));
    ck_assert_uint_eq(json_array_size(json_object_get(root, "events")), 2);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "rejected")), 1);
    json_t *risks = json_object_get(root, "risks");
    ck_assert_uint_gt(json_array_size(risks), 0);
    for (size_t i = 0; i < json_array_size(risks); i++)
        ck_assert_ptr_null(
            strstr(json_string_value(json_object_get(json_array_get(risks, i), "text")), "%s"));
    json_decref(root);
    free(j);
    report_free(r);
    store_free(s);
}
END_TEST

START_TEST(escaping_pieces)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    report_html_text(m, "<a href='x'>&\"</a>");
    fputc('|', m);
    report_csv_field(m, "plain");
    fputc('|', m);
    report_csv_field(m, "a,b");
    fputc('|', m);
    report_csv_field(m, "say \"hi\"");
    fputc('|', m);
    report_csv_field(m, "two\r\nlines");
    fputc('|', m);
    report_csv_field(m, NULL);
    fclose(m);
    ck_assert_str_eq(buf, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;|plain|\"a,b\"|"
                          "\"say \"\"hi\"\"\"|\"two\r\nlines\"|");
    free(buf);
    enum report_lang l;
    enum report_format f;
    ck_assert(report_lang_parse("kk", &l) && l == REPORT_KK);
    ck_assert(!report_lang_parse("de", &l));
    ck_assert(report_format_parse("csv", &f) && f == REPORT_CSV);
    ck_assert(!report_format_parse("pdf", &f));
    ck_assert_str_eq(report_label("title", REPORT_EN), "Order execution report");
}
END_TEST

START_TEST(stats_over_store)
{
    uint64_t t_imp, t_rev;
    struct store *s = scenario(&t_imp, &t_rev);
    char err[512];
    import(s, "R-2", "2026-02-10T10:00:00+05:00", "9", RES, 2, t_rev + 1);
    struct deadline_date from, to;
    ck_assert_int_eq(stats_date_parse("2026-01-01", &from), 0);
    ck_assert_int_eq(stats_date_parse("2026-01-31", &to), 0);
    ck_assert_int_eq(stats_date_parse("2026-02-30", &to), -EINVAL);
    ck_assert_int_eq(stats_date_parse("2026-1-31", &to), -EINVAL);
    ck_assert_int_eq(stats_date_parse("2026-01-31", &to), 0);
    struct report_opts opt = { .now_ms = t_rev + 3600000 };
    struct stats st;
    ck_assert_msg(stats_collect(s, &from, &to, &opt, &st, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(st.orders, 1); /* R-2 was received in February */
    ck_assert_uint_eq(st.resources, 3);
    ck_assert_uint_eq(st.rejected, 1);
    ck_assert_uint_eq(st.met, 1);
    ck_assert_uint_eq(st.hits, 4);
    ck_assert_uint_eq(st.by_category.n, 1);
    ck_assert_str_eq(st.by_category.v[0].name, "gambling");
    ck_assert_uint_eq(st.by_category.v[0].n, 3);
    ck_assert_uint_eq(st.by_method.n, 3);
    size_t len;
    char *buf = NULL;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_int_eq(stats_render(m, &st, REPORT_HTML, REPORT_EN), 0);
    fclose(m);
    ck_assert_ptr_nonnull(strstr(buf, "<svg"));
    ck_assert_ptr_null(strstr(buf, "<script"));
    ck_assert_ptr_nonnull(strstr(buf, "gambling"));
    free(buf);
    m = open_memstream(&buf, &len);
    ck_assert_int_eq(stats_render(m, &st, REPORT_JSON, REPORT_EN), 0);
    fclose(m);
    json_error_t je;
    json_t *root = json_loadb(buf, len, 0, &je);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "orders")), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(root, "by_day"), "2026-01-25")), 1);
    json_decref(root);
    free(buf);
    stats_free(&st);
    ck_assert_int_eq(stats_date_parse("2026-02-01", &from), 0);
    ck_assert_int_eq(stats_date_parse("2026-02-28", &to), 0);
    ck_assert_int_eq(stats_collect(s, &from, &to, &opt, &st, err, sizeof(err)), 0);
    ck_assert_uint_eq(st.orders, 1);
    ck_assert_uint_eq(st.pending, 1);
    stats_free(&st);
    store_free(s);
}
END_TEST

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(signed_report_verifies)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
             "-days 2 -subj /CN=Test-CA >/dev/null 2>&1 && "
             "openssl req -newkey rsa:2048 -nodes -keyout op.key -out op.csr -subj /CN=Operator "
             ">/dev/null 2>&1 && "
             "openssl x509 -req -in op.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out op.pem "
             "-days 2 >/dev/null 2>&1",
             g_dir);
    ck_assert_int_eq(sh(cmd), 0);
    static const char doc[] = "<!DOCTYPE html><p>report body</p>\n";
    char key[128], cert[128], path[128];
    snprintf(key, sizeof(key), "%s/op.key", g_dir);
    snprintf(cert, sizeof(cert), "%s/op.pem", g_dir);
    uint8_t *der = NULL;
    size_t dlen = 0;
    char err[512];
    ck_assert_msg(sign_detached((const uint8_t *)doc, strlen(doc), key, cert, &der, &dlen, err,
                                sizeof(err)) == 0,
                  "%s", err);
    snprintf(path, sizeof(path), "%s/r.html", g_dir);
    FILE *f = fopen(path, "wb");
    fputs(doc, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/r.html.sig", g_dir);
    f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(der, 1, dlen, f), dlen);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl cms -verify -binary -content r.html -in r.html.sig -inform DER "
             "-CAfile ca.pem -out /dev/null 2>/dev/null",
             g_dir);
    ck_assert_int_eq(sh(cmd), 0);
    /* our own verifier agrees, and a changed report fails */
    struct order_signature os = { 0 };
    snprintf(path, sizeof(path), "%s/ca.pem", g_dir);
    ck_assert_int_eq(sign_verify((const uint8_t *)doc, strlen(doc), der, dlen, path, &os), 0);
    ck_assert_int_eq(os.status, ORDER_SIG_VALID);
    sign_clear(&os);
    snprintf(cmd, sizeof(cmd),
             "cd %s && echo tamper >> r.html && openssl cms -verify -binary -content r.html -in "
             "r.html.sig -inform DER -CAfile ca.pem -out /dev/null 2>/dev/null",
             g_dir);
    ck_assert_int_ne(sh(cmd), 0);
    free(der);
    /* a key that does not match the certificate is refused */
    snprintf(key, sizeof(key), "%s/ca.key", g_dir);
    ck_assert_int_eq(
        sign_detached((const uint8_t *)doc, strlen(doc), key, cert, &der, &dlen, err, sizeof(err)),
        -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not match"));
    snprintf(key, sizeof(key), "%s/missing.key", g_dir);
    ck_assert_int_eq(
        sign_detached((const uint8_t *)doc, strlen(doc), key, cert, &der, &dlen, err, sizeof(err)),
        -EINVAL);
}
END_TEST

/* What the kernel dropped to an IP entry (ip.kernel_drop): each node's "kdrops" document, summed
 * over the fleet for the order's IP resources only (a domain's text, or an address of no
 * resource, in a document is left out), in the model and in every rendering. */
START_TEST(kernel_drops)
{
    uint64_t t_imp, t_rev;
    struct store *s = scenario(&t_imp, &t_rev);
    char err[512], d1[512], d2[512];
    snprintf(d1, sizeof(d1),
             "{\"node\":\"n1\",\"updated_ms\":1,\"entries\":["
             "{\"entry\":\"10.0.0.1\",\"packets\":5,\"bytes\":300,\"first_ms\":%llu,"
             "\"last_ms\":%llu},{\"entry\":\"casino.kz\",\"packets\":9},"
             "{\"entry\":\"203.0.113.9\",\"packets\":4}]}",
             (unsigned long long)(t_imp + 100), (unsigned long long)(t_imp + 200));
    snprintf(d2, sizeof(d2),
             "{\"node\":\"n2\",\"updated_ms\":1,\"entries\":["
             "{\"entry\":\"10.0.0.1\",\"packets\":7,\"bytes\":420,\"first_ms\":%llu,"
             "\"last_ms\":%llu}]}",
             (unsigned long long)(t_imp + 50), (unsigned long long)(t_imp + 400));
    ck_assert_int_eq(store_doc_put(s, "kdrops", "n1", d1, strlen(d1), err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_put(s, "kdrops", "n2", d2, strlen(d2), err, sizeof(err)), 0);
    struct report *r = NULL;
    struct report_opts opt = { .now_ms = t_rev + 3600000 };
    ck_assert_int_eq(report_build(s, NULL, "R-1", &opt, &r, err, sizeof(err)), 0);
    ck_assert_str_eq(r->res[2].r->norm, "10.0.0.1");
    ck_assert_uint_eq(r->res[2].kdrop_packets, 12);
    ck_assert_uint_eq(r->res[2].kdrop_bytes, 720);
    ck_assert_uint_eq(r->res[2].first_kdrop_ms, t_imp + 50);
    ck_assert_uint_eq(r->res[2].last_kdrop_ms, t_imp + 400);
    ck_assert_uint_eq(r->res[0].kdrop_packets, 0); /* casino.kz: a domain */
    size_t len;
    char *j = render(r, REPORT_JSON, REPORT_RU, &len);
    json_t *root = json_loadb(j, len, 0, NULL);
    ck_assert_ptr_nonnull(root);
    json_t *res = json_object_get(root, "resources");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(res, 2), "kernel_dropped_packets")), 12);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(res, 0), "kernel_dropped_packets")), 0);
    json_decref(root);
    free(j);
    char *c = render(r, REPORT_CSV, REPORT_RU, &len);
    ck_assert_ptr_nonnull(strstr(c,
                                 "ip_fallback_names_seen,kernel_dropped_packets,first_kernel_drop,"
                                 "last_kernel_drop\r\n"));
    ck_assert_ptr_nonnull(strstr(c, ",12,2026-01-26"));
    free(c);
    char *h = render(r, REPORT_HTML, REPORT_EN, &len);
    ck_assert_ptr_nonnull(strstr(h, "dropped by the kernel on other ports, packets: 12"));
    free(h);
    report_free(r);
    store_free(s);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, model_from_store);
    tcase_add_test(tc, model_missed_pending_and_documents);
    tcase_add_test(tc, renderers);
    tcase_add_test(tc, kernel_drops);
    tcase_add_test(tc, stats_over_store);
    tcase_add_test(tc, signed_report_verifies);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, escaping_pieces);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(report_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
