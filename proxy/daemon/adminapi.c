/* adminapi.c - the admin API's endpoints (see adminapi.h). Each handler writes its answer into
 * a memstream with the same functions the CLI prints with (orders_cli.h, report_cli.h,
 * rules/report/stats.h, query.h). */
#include "proxy/daemon/adminapi.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsonw.h"
#include "common/version.h"
#include "proxy/daemon/decisions.h"
#include "proxy/daemon/follower.h"
#include "proxy/daemon/metrics.h"
#include "proxy/daemon/orders_cli.h"
#include "proxy/daemon/report_cli.h"
#include "rules/match/rsref.h"
#include "rules/match/ruleset.h"
#include "rules/report/report_render.h"
#include "rules/report/stats.h"
#include "rules/store/store.h"

#define JSON_TYPE    "application/json"
#define LIST_DEFAULT 50
#define LIST_MAX     1000
#define ALARM_LAG_MS 30000 /* a node behind the store version for this long is lagging */

/* An open memstream for an answer. */
struct out {
    FILE *f;
    char *buf;
    size_t len;
};

static bool out_open(struct out *o, struct api_resp *resp)
{
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    if (!o->f)
        api_error(resp, 500, "out of memory");
    return o->f != NULL;
}

static void out_reply(struct out *o, struct api_resp *resp, int status, const char *type)
{
    api_reply(resp, status, type, o->f, &o->buf, &o->len);
}

/* Only GET (and HEAD, which MHD answers from the GET answer). */
static bool get_only(const struct api_req *req, struct api_resp *resp)
{
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        return true;
    api_error(resp, 405, "method not allowed");
    return false;
}

static struct store *open_store(const struct adminapi_src *s, struct api_resp *resp)
{
    struct store_opts o;
    memset(&o, 0, sizeof(o));
    if (s->password_file[0])
        o.password_file = s->password_file;
    char err[1024];
    struct store *st = store_open(s->store_url, &o, err, sizeof(err));
    if (!st)
        api_error(resp, 503, err);
    return st;
}

static size_t count_param(const struct api_req *req)
{
    char v[16];
    if (api_query_param(req->query, "n", v, sizeof(v)) <= 0)
        return LIST_DEFAULT;
    unsigned long n = strtoul(v, NULL, 10);
    return n == 0 ? LIST_DEFAULT : n > LIST_MAX ? LIST_MAX : (size_t)n;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void adminapi_set_ready(struct adminapi_src *src, bool ready)
{
    atomic_store(&src->ready_ms, ready ? wall_ms() : 0);
}

/* A copy of the report settings of the moment (tz: their time zone's storage). */
static struct report_opts report_opts(struct adminapi_src *s, char *tz, size_t tzlen)
{
    pthread_mutex_lock(&s->ro_lock);
    struct report_opts ro = s->ro;
    snprintf(tz, tzlen, "%s", s->tz);
    pthread_mutex_unlock(&s->ro_lock);
    ro.tz = tz;
    return ro;
}

void adminapi_set_report(struct adminapi_src *src, unsigned deadline_days, const char *tz)
{
    pthread_mutex_lock(&src->ro_lock);
    src->ro.deadline_days = deadline_days;
    snprintf(src->tz, sizeof(src->tz), "%s", tz);
    pthread_mutex_unlock(&src->ro_lock);
}

/* ---------------------------------------------------------------- /metrics */

static void rules_metrics(struct adminapi_src *s, FILE *f)
{
    struct ruleset_stats st;
    memset(&st, 0, sizeof(st));
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(s->rules);
    if (rs)
        ruleset_get_stats(rs, &st);
    rsref_read_unlock();
    metrics_head(f, "qorgau_rules_version", "gauge", "version of the rule set enforced now");
    metrics_value(f, "qorgau_rules_version", rsref_version(s->rules));
    metrics_head(f, "qorgau_rules_entries", "gauge", "entries of the enforced rule set by kind");
    fprintf(f,
            "qorgau_rules_entries{kind=\"domain\"} %zu\nqorgau_rules_entries{kind=\"url\"} %zu\n"
            "qorgau_rules_entries{kind=\"ipv4\"} %zu\nqorgau_rules_entries{kind=\"ipv6\"} %zu\n"
            "qorgau_rules_entries{kind=\"fallback\"} %zu\n",
            st.domains, st.urls, st.ips4, st.ips6, st.fallback);
    metrics_head(f, "qorgau_rules_bytes", "gauge", "heap bytes held by the enforced rule set");
    metrics_value(f, "qorgau_rules_bytes", st.bytes);
}

/* The software versions of the fleet's live nodes, told apart (a few are enough: a fleet runs
 * one, two during an upgrade). */
#define FLEET_VERSIONS_MAX 16
struct fleet_seen {
    FILE *f;
    char v[FLEET_VERSIONS_MAX][STORE_NODE_ABOUT_MAX];
    size_t n;
};

static int fleet_node(void *ctx, const struct store_node *nd)
{
    struct fleet_seen *fs = ctx;
    fputs("qorgau_fleet_node_info{node=", fs->f);
    metrics_label(fs->f, nd->id);
    fputs(",version=", fs->f);
    metrics_label(fs->f, nd->software);
    fputs(",mode=", fs->f);
    metrics_label(fs->f, nd->mode);
    fprintf(fs->f, ",alive=\"%d\"} 1\n", nd->alive ? 1 : 0);
    size_t i = 0;
    while (nd->alive && i < fs->n && strcmp(fs->v[i], nd->software) != 0)
        i++;
    if (nd->alive && i == fs->n && fs->n < FLEET_VERSIONS_MAX)
        snprintf(fs->v[fs->n++], sizeof(fs->v[0]), "%s", nd->software);
    return 0;
}

/* Every node of the store, with the software it said it runs ("" from an older release), and
 * how many versions the live ones run (more than 1 for long: an upgrade left half-done). */
static void fleet_metrics(struct store *sto, FILE *f)
{
    struct fleet_seen fs = { .f = f, .n = 0 };
    char err[256];
    metrics_head(f, "qorgau_fleet_node_info", "gauge",
                 "each node of the store: its software version and mode, alive or not");
    if (store_nodes(sto, fleet_node, &fs, err, sizeof(err)) < 0)
        return;
    metrics_head(f, "qorgau_fleet_software_versions", "gauge",
                 "distinct software versions the live nodes of the fleet run");
    metrics_value(f, "qorgau_fleet_software_versions", fs.n);
}

static void store_metrics(struct adminapi_src *s, FILE *f)
{
    if (!s->fol)
        return;
    struct follower_stats st;
    follower_get_stats(s->fol, &st);
    metrics_head(f, "qorgau_store_up", "gauge", "1 when the order store is reachable");
    metrics_value(f, "qorgau_store_up", st.state == FOLLOWER_CONNECTED);
    metrics_head(f, "qorgau_store_enforced_version", "gauge", "store version enforced");
    metrics_value(f, "qorgau_store_enforced_version", st.version);
    metrics_head(f, "qorgau_store_failstatic", "gauge",
                 "1 when the enforced set came from the fail-static file");
    metrics_value(f, "qorgau_store_failstatic", st.from_failstatic);
    static const struct {
        const char *name, *help;
        size_t off;
    } c[] = {
        { "qorgau_store_changes_total", "store log entries applied",
          offsetof(struct follower_stats, changes) },
        { "qorgau_store_snapshots_total", "full loads of the store",
          offsetof(struct follower_stats, snapshots) },
        { "qorgau_store_publishes_total", "rule sets published from the store",
          offsetof(struct follower_stats, publishes) },
        { "qorgau_store_publish_failures_total", "publications that failed",
          offsetof(struct follower_stats, publish_failures) },
        { "qorgau_store_outages_total", "times the store became unreachable",
          offsetof(struct follower_stats, outages) },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + c[i].off, sizeof(v));
        metrics_head(f, c[i].name, "counter", c[i].help);
        metrics_value(f, c[i].name, v);
    }
    if (st.state != FOLLOWER_CONNECTED)
        return;
    /* the lag: the store's version now against the one enforced */
    struct api_resp ignore = { 0, NULL, NULL, 0 };
    struct store *sto = open_store(s, &ignore);
    free(ignore.body);
    uint64_t v = 0;
    char err[256];
    if (sto && store_version(sto, &v, err, sizeof(err)) == 0) {
        metrics_head(f, "qorgau_store_version", "gauge", "the order store's version");
        metrics_value(f, "qorgau_store_version", v);
        metrics_head(f, "qorgau_store_lag_versions", "gauge",
                     "store versions not yet enforced by this node");
        metrics_value(f, "qorgau_store_lag_versions", v > st.version ? v - st.version : 0);
        fleet_metrics(sto, f);
    }
    store_free(sto);
}

static void h_metrics(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    if (!get_only(req, resp) || !out_open(&o, resp))
        return;
    FILE *f = o.f;
    metrics_head(f, "qorgau_build_info", "gauge", "the running build");
    fputs("qorgau_build_info{version=", f);
    metrics_label(f, QORGAU_VERSION);
    fputs(",mode=", f);
    metrics_label(f, s->mode);
    fputs(",node=", f);
    metrics_label(f, s->node_id);
    fputs("} 1\n", f);
    metrics_head(f, "qorgau_start_time_seconds", "gauge", "when the node started (Unix time)");
    metrics_value(f, "qorgau_start_time_seconds", s->started_ms / 1000u);
    metrics_head(f, "qorgau_ready", "gauge", "1 while the workers judge traffic, else 0");
    metrics_value(f, "qorgau_ready", atomic_load(&s->ready_ms) != 0);
    metrics_head(f, "qorgau_workers", "gauge", "packet worker threads");
    metrics_value(f, "qorgau_workers", s->workers);
    rules_metrics(s, f);
    store_metrics(s, f);
    if (s->decisions) {
        metrics_head(f, "qorgau_decisions_total", "counter",
                     "flows and requests judged, by verdict, method, category and profile");
        decisions_metrics(s->decisions, f, "qorgau_decisions_total");
        metrics_head(f, "qorgau_blocked_names_dropped_total", "counter",
                     "blocked names not kept for /api/v1/top (its table was full)");
        metrics_value(f, "qorgau_blocked_names_dropped_total",
                      decisions_names_dropped(s->decisions));
    }
    if (s->metrics)
        s->metrics(s->ctx, f);
    if (s->http) {
        struct adminhttp_counters c;
        adminhttp_stats(s->http, &c);
        metrics_head(f, "qorgau_admin_requests_total", "counter",
                     "admin API requests answered, by outcome");
        fprintf(f,
                "qorgau_admin_requests_total{outcome=\"any\"} %" PRIu64 "\n"
                "qorgau_admin_requests_total{outcome=\"unauthorized\"} %" PRIu64 "\n"
                "qorgau_admin_requests_total{outcome=\"forbidden\"} %" PRIu64 "\n"
                "qorgau_admin_requests_total{outcome=\"not_found\"} %" PRIu64 "\n"
                "qorgau_admin_requests_total{outcome=\"too_large\"} %" PRIu64 "\n",
                c.requests, c.unauthorized, c.forbidden, c.not_found, c.too_large);
        metrics_head(f, "qorgau_admin_connections_refused_total", "counter",
                     "admin API connections closed at accept (admin.max_connections open)");
        metrics_value(f, "qorgau_admin_connections_refused_total", c.refused);
    }
    out_reply(&o, resp, 200, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---------------------------------------------------------------- status, query */

static void h_status(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    if (!get_only(req, resp) || !out_open(&o, resp))
        return;
    uint64_t now = wall_ms();
    uint64_t ready_ms = atomic_load(&s->ready_ms);
    fputs("{\"node\":{\"id\":", o.f);
    jsonw_cstr(o.f, s->node_id);
    jsonw_key(o.f, "version", false);
    jsonw_cstr(o.f, QORGAU_VERSION);
    jsonw_key(o.f, "mode", false);
    jsonw_cstr(o.f, s->mode);
    fprintf(o.f,
            ",\"workers\":%u,\"started_ms\":%" PRIu64 ",\"uptime_s\":%" PRIu64
            ",\"ready\":%s,\"ready_ms\":%" PRIu64 ",\"rules_version\":%" PRIu64,
            s->workers, s->started_ms, now > s->started_ms ? (now - s->started_ms) / 1000 : 0,
            ready_ms ? "true" : "false", ready_ms, rsref_version(s->rules));
    if (s->decisions) {
        uint64_t blocks, passes;
        decisions_totals(s->decisions, &blocks, &passes);
        fprintf(o.f, ",\"blocks\":%" PRIu64 ",\"passes\":%" PRIu64, blocks, passes);
    }
    if (s->fol) {
        struct follower_stats st;
        follower_get_stats(s->fol, &st);
        fprintf(o.f,
                ",\"store_state\":\"%s\",\"store_version\":%" PRIu64
                ",\"enforced_since_ms\":%" PRIu64 ",\"failstatic\":%s",
                follower_state_name(st.state), st.version, st.since_ms,
                st.from_failstatic ? "true" : "false");
    }
    int subs_fs = s->subs_failstatic ? s->subs_failstatic(s->ctx) : -1;
    if (subs_fs >= 0)
        fprintf(o.f, ",\"subs_failstatic\":%s", subs_fs ? "true" : "false");
    fputs("},\"fleet\":", o.f);
    struct api_resp sr = { 0, NULL, NULL, 0 };
    struct store *st = open_store(s, &sr);
    char err[1024] = "";
    char order[256];
    bool has_order = api_query_param(req->query, "order", order, sizeof(order)) > 0;
    /* the fleet into its own buffer: a store failing half-way leaves no broken JSON */
    struct out fl = { NULL, NULL, 0 };
    int rc = -EIO;
    if (st && (fl.f = open_memstream(&fl.buf, &fl.len)) != NULL) {
        struct orders_status_self self = { s->node_id, ready_ms != 0, ready_ms };
        rc = orders_status_write(st, has_order ? order : NULL, &self, true, fl.f, err, sizeof(err));
        if (fclose(fl.f) != 0 && rc == 0)
            rc = -ENOMEM, snprintf(err, sizeof(err), "out of memory");
    }
    if (rc == 0) {
        fwrite(fl.buf, 1, fl.len, o.f);
    } else {
        fputs("null,\"store_error\":", o.f);
        jsonw_cstr(o.f, st ? err : (sr.body ? "the store cannot be opened" : "out of memory"));
    }
    free(fl.buf);
    free(sr.body);
    store_free(st);
    fputs("}\n", o.f);
    out_reply(&o, resp, 200, JSON_TYPE);
}

/* For load balancers and probes: the answer is in the status code. */
static void h_ready(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    if (!get_only(req, resp) || !out_open(&o, resp))
        return;
    bool ready = atomic_load(&s->ready_ms) != 0;
    fputs(ready ? "{\"ready\":true}\n" : "{\"ready\":false}\n", o.f);
    out_reply(&o, resp, ready ? 200 : 503, JSON_TYPE);
}

static void h_query(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    bool post = strcmp(req->method, "POST") == 0;
    if (!post && !get_only(req, resp))
        return;
    if (req->path[0]) {
        api_error(resp, 404, "no such path");
        return;
    }
    char q[QUERY_LINE_MAX + 1];
    int ql = 0;
    if (!post && (ql = api_query_param(req->query, "q", q, sizeof(q))) < 0) {
        api_error(resp, 400, ql == -ENOENT ? "?q=NAME is required" : "bad ?q= value");
        return;
    }
    if (!post && memchr(q, '\n', (size_t)ql)) { /* one query: POST takes several */
        api_error(resp, 400, "?q= holds a line break");
        return;
    }
    if (!out_open(&o, resp))
        return;
    if (post)
        query_lines((const char *)req->body, req->body_len, s->query, s->ctx, o.f);
    else
        query_lines(q, (size_t)ql, s->query, s->ctx, o.f);
    out_reply(&o, resp, 200, post ? "application/x-ndjson" : JSON_TYPE);
}

/* ---------------------------------------------------------------- orders, deadlines, stats */

/* What one store-reading endpoint writes: 0 or a negative errno with a message in err. */
typedef int (*store_writer)(struct store *st, struct adminapi_src *s, const struct api_req *req,
                            FILE *f, char *err, size_t errlen);

/* Opens the store, lets w write the answer; -ENOENT is 404, other failures 503. */
static void store_answer(struct adminapi_src *s, const struct api_req *req, struct api_resp *resp,
                         store_writer w)
{
    if (!get_only(req, resp))
        return;
    struct store *st = open_store(s, resp);
    struct out o;
    if (!st)
        return;
    if (!out_open(&o, resp)) {
        store_free(st);
        return;
    }
    char err[1024];
    int rc = w(st, s, req, o.f, err, sizeof(err));
    store_free(st);
    if (rc < 0) {
        fclose(o.f);
        free(o.buf);
        api_error(resp, rc == -ENOENT ? 404 : 503, err);
        return;
    }
    out_reply(&o, resp, 200, JSON_TYPE);
}

static int w_orders(struct store *st, struct adminapi_src *s, const struct api_req *req, FILE *f,
                    char *err, size_t errlen)
{
    (void)s;
    return req->path[0] ? orders_show_write(st, req->path, f, err, errlen)
                        : orders_list_write(st, true, f, err, errlen);
}

static int w_deadlines(struct store *st, struct adminapi_src *s, const struct api_req *req, FILE *f,
                       char *err, size_t errlen)
{
    char tz[sizeof(s->tz)];
    struct report_opts ro = report_opts(s, tz, sizeof(tz));
    char all[8];
    bool want_all =
        api_query_param(req->query, "all", all, sizeof(all)) >= 0 && strcmp(all, "0") != 0;
    int rc = report_deadlines_write(st, &ro, want_all, false, f, NULL, err, errlen);
    return rc == -ENOENT ? -EIO : rc; /* a missing document is not a missing endpoint */
}

static void h_orders(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    store_answer(ctx, req, resp, w_orders);
}

static void h_deadlines(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    store_answer(ctx, req, resp, w_deadlines);
}

static void h_stats(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    if (!get_only(req, resp))
        return;
    char a[16], b[16];
    struct deadline_date from, to;
    if (api_query_param(req->query, "from", a, sizeof(a)) < 0 ||
        api_query_param(req->query, "to", b, sizeof(b)) < 0 || stats_date_parse(a, &from) ||
        stats_date_parse(b, &to)) {
        api_error(resp, 400, "?from=YYYY-MM-DD&to=YYYY-MM-DD are required");
        return;
    }
    struct store *sto = open_store(s, resp);
    if (!sto)
        return;
    char err[1024];
    struct stats st;
    char tz[sizeof(s->tz)];
    struct report_opts ro = report_opts(s, tz, sizeof(tz));
    int rc = stats_collect(sto, &from, &to, &ro, &st, err, sizeof(err));
    store_free(sto);
    if (rc) {
        api_error(resp, 503, err);
        return;
    }
    struct out o;
    if (out_open(&o, resp)) {
        if (stats_render(o.f, &st, REPORT_JSON, REPORT_EN) != 0) {
            fclose(o.f);
            free(o.buf);
            api_error(resp, 500, "out of memory");
        } else {
            out_reply(&o, resp, 200, JSON_TYPE);
        }
    }
    stats_free(&st);
}

/* ---------------------------------------------------------------- decisions, top */

static void h_decisions(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    if (!get_only(req, resp) || !out_open(&o, resp))
        return;
    decisions_json(s->decisions, o.f, count_param(req));
    out_reply(&o, resp, 200, JSON_TYPE);
}

static void h_top(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    if (!get_only(req, resp) || !out_open(&o, resp))
        return;
    decisions_top_json(s->decisions, o.f, count_param(req));
    out_reply(&o, resp, 200, JSON_TYPE);
}

/* ---------------------------------------------------------------- alarms */

struct alarms {
    FILE *f;
    size_t n;
    uint64_t version, now;
    struct store *st;
};

static void alarm(struct alarms *a, const char *kind, const char *level, const char *subject,
                  const char *text)
{
    fputs(a->n++ ? ",{\"kind\":" : "{\"kind\":", a->f);
    jsonw_cstr(a->f, kind);
    jsonw_key(a->f, "level", false);
    jsonw_cstr(a->f, level);
    jsonw_key(a->f, "subject", false);
    jsonw_cstr(a->f, subject);
    jsonw_key(a->f, "text", false);
    jsonw_cstr(a->f, text);
    fputc('}', a->f);
}

static int node_alarm(void *ctx, const struct store_node *nd)
{
    struct alarms *a = ctx;
    char text[256];
    if (!nd->alive) {
        snprintf(text, sizeof(text), "no heartbeat for %" PRIu64 " s",
                 a->now > nd->heartbeat_ms ? (a->now - nd->heartbeat_ms) / 1000 : 0);
        alarm(a, "node-down", "critical", nd->id, text);
    } else if (nd->version < a->version && a->now > nd->since_ms + ALARM_LAG_MS) {
        snprintf(text, sizeof(text),
                 "enforces version %" PRIu64 " of %" PRIu64 " for %" PRIu64 " s", nd->version,
                 a->version, (a->now - nd->since_ms) / 1000);
        alarm(a, "node-lagging", "warning", nd->id, text);
    }
    return 0;
}

static int verify_doc(void *ctx, const char *b, size_t n)
{
    json_t *j = json_loadb(b, n, 0, NULL);
    json_t *res = json_object_get(j, "results");
    size_t i, *open = ctx;
    json_t *r;
    json_array_foreach(res, i, r)
    {
        const char *how = json_string_value(json_object_get(r, "how"));
        if (json_is_false(json_object_get(r, "blocked")) && how && strcmp(how, "answered") == 0)
            (*open)++;
    }
    json_decref(j);
    return 0;
}

static int order_alarm(void *ctx, const struct store_order *o)
{
    struct alarms *a = ctx;
    if (o->state != STORE_ACTIVE)
        return 0;
    size_t open = 0;
    char err[256];
    if (store_doc_get(a->st, "verify", o->id, verify_doc, &open, err, sizeof(err)) == 0 && open) {
        char text[128];
        snprintf(text, sizeof(text), "the last verification found %zu probe(s) not blocked", open);
        alarm(a, "verify-failed", "critical", o->id, text);
    }
    return 0;
}

static void h_alarms(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct adminapi_src *s = ctx;
    struct out o;
    if (!get_only(req, resp) || !out_open(&o, resp))
        return;
    struct alarms a = { o.f, 0, 0, wall_ms(), NULL };
    fputs("{\"alarms\":[", o.f);
    if (s->fol) {
        struct follower_stats fs;
        follower_get_stats(s->fol, &fs);
        if (fs.state != FOLLOWER_CONNECTED)
            alarm(&a, "store-down", "critical", s->store_url,
                  "the order store is unreachable; the node enforces its last rule set");
        if (fs.from_failstatic)
            alarm(&a, "fail-static", "warning", s->node_id,
                  "the enforced rule set came from the fail-static file");
    }
    if (s->feed) {
        uint64_t unfed = 0, stray = 0;
        s->feed(s->ctx, &unfed, &stray);
        char text[256];
        if (unfed) {
            snprintf(text, sizeof(text),
                     "the kernel's rules hand no traffic to %" PRIu64
                     " of the workers' queues (or to the inline proxy): what they would get goes "
                     "unjudged (the log's rules finding)",
                     unfed);
            alarm(&a, "rules-unfed", "critical", s->node_id, text);
        }
        if (stray) {
            snprintf(text, sizeof(text),
                     "%" PRIu64 " of the kernel's rules send packets to queues no worker reads",
                     stray);
            alarm(&a, "rules-stray", "critical", s->node_id, text);
        }
    }
    if (s->subs_failstatic && s->subs_failstatic(s->ctx) > 0)
        alarm(&a, "subs-fail-static", "warning", s->node_id,
              "the subscriber map and tariff records came from the fail-static copy; the store "
              "has not answered since the node started");
    struct api_resp sr = { 0, NULL, NULL, 0 };
    a.st = open_store(s, &sr);
    free(sr.body);
    char err[1024];
    if (a.st && store_version(a.st, &a.version, err, sizeof(err)) == 0) {
        store_nodes(a.st, node_alarm, &a, err, sizeof(err));
        store_list(a.st, order_alarm, &a, err, sizeof(err));
        /* deadlines: the same figures as `qorgau deadlines` */
        char *dl = NULL;
        size_t dll = 0;
        FILE *m = open_memstream(&dl, &dll);
        size_t due = 0;
        if (m) {
            char tz[sizeof(s->tz)];
            struct report_opts ro = report_opts(s, tz, sizeof(tz));
            report_deadlines_write(a.st, &ro, false, false, m, &due, err, sizeof(err));
            fclose(m);
        }
        free(dl);
        if (due) {
            char text[128];
            snprintf(text, sizeof(text), "%zu order(s) overdue or due within 48 h without a report",
                     due);
            alarm(&a, "deadline", "warning", "orders", text);
        }
    } else if (!s->fol) {
        alarm(&a, "store-down", "critical", s->store_url, "the order store cannot be read");
    }
    store_free(a.st);
    fprintf(o.f, "],\"now_ms\":%" PRIu64 "}\n", a.now);
    out_reply(&o, resp, 200, JSON_TYPE);
}

/* ---------------------------------------------------------------- dashboard */

static void h_page(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    (void)ctx;
    if (!get_only(req, resp))
        return;
    if (req->path[0]) {
        api_error(resp, 404, "no such path");
        return;
    }
    size_t n = strlen(adminapi_dashboard_html);
    char *b = malloc(n);
    if (!b) {
        api_error(resp, 500, "out of memory");
        return;
    }
    memcpy(b, adminapi_dashboard_html, n);
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    resp->body = b;
    resp->body_len = n;
}

int adminapi_mount(struct adminhttp *h, struct adminapi_src *src)
{
    pthread_mutex_init(&src->ro_lock, NULL);
    src->ro.tz = src->tz;
    static const struct {
        const char *prefix, *scope;
        api_handler_fn fn;
    } t[] = {
        { "/metrics", "metrics", h_metrics },    { "/api/v1/status", "read", h_status },
        { "/api/v1/query", "read", h_query },    { "/api/v1/orders", "read", h_orders },
        { "/api/v1/orders/", "read", h_orders }, { "/api/v1/deadlines", "read", h_deadlines },
        { "/api/v1/stats", "read", h_stats },    { "/api/v1/decisions", "read", h_decisions },
        { "/api/v1/top", "read", h_top },        { "/api/v1/alarms", "read", h_alarms },
        { "/", ADMINHTTP_PUBLIC, h_page },       { "/dashboard", ADMINHTTP_PUBLIC, h_page },
        { "/api/v1/ready", "read", h_ready },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int rc = adminhttp_mount(h, t[i].prefix, t[i].scope, t[i].fn, src);
        if (rc < 0)
            return rc;
    }
    return 0;
}
