/* orders_cli.c - `qorgau order`, `qorgau query`, `qorgau status` (see orders_cli.h). */
#include "proxy/daemon/orders_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonw.h"
#include "proxy/daemon/adminhttp.h"
#include "proxy/daemon/query.h"
#include "proxy/daemon/settings.h"
#include "rules/orders/orddump.h"
#include "rules/orders/orderset.h"
#include "common/progress.h"
#include "rules/orders/ordimport.h"
#include "rules/store/store.h"

#define CLI_USAGE 2

struct cli {
    const char *config;
    const char *store_url;
    bool urgent;
    struct settings *cfg;
};

static void usage(FILE *f)
{
    fputs("usage: qorgau order [-c CONFIG] [--store URL] import FILE... [--urgent]\n"
          "       qorgau order [-c CONFIG] [--store URL] list | show ID | revoke ID | restore ID\n"
          "       qorgau query [-c CONFIG | --store URL] NAME|URL|IP... | -\n"
          "       qorgau status [-c CONFIG] [--store URL] [ORDER_ID]\n",
          f);
}

/* Common options; leaves optind at the first operand. Returns 0 or the exit status. */
static int parse_opts(int argc, char **argv, struct cli *c)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "store", required_argument, NULL, 's' },
        { "urgent", no_argument, NULL, 'u' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(c, 0, sizeof(*c));
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': c->config = optarg; break;
        case 's': c->store_url = optarg; break;
        case 'u': c->urgent = true; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (c->config) {
        char err[1024];
        c->cfg = settings_load_file(c->config, err, sizeof(err));
        if (!c->cfg) {
            fprintf(stderr, "qorgau: %s\n", err);
            return 1;
        }
    }
    return 0;
}

struct store *orders_cli_store_open(const char *url, const struct settings *cfg)
{
    if (!url && cfg)
        url = cfg->store[0] ? cfg->store : cfg->state_dir;
    struct store_opts o;
    memset(&o, 0, sizeof(o));
    if (cfg && cfg->store_password_file[0])
        o.password_file = cfg->store_password_file;
    char err[1024];
    struct store *s = store_open(url, &o, err, sizeof(err));
    if (!s)
        fprintf(stderr, "qorgau: %s\n", err);
    return s;
}

static struct store *cli_store(const struct cli *c)
{
    return orders_cli_store_open(c->store_url, c->cfg);
}

/* ---- order import ---- */

static void print_order(const struct order *o, const char *what)
{
    printf("order %s: %s, %zu resources", o->id, what, o->nres);
    if (o->nrej)
        printf(", %zu rejected", o->nrej);
    if (o->urgent)
        fputs(", urgent", stdout);
    if (o->sig.status != ORDER_SIG_NONE)
        printf(", signature %s%s%s", order_sig_status_name(o->sig.status),
               o->sig.reason ? ": " : "", o->sig.reason ? o->sig.reason : "");
    fputc('\n', stdout);
    for (size_t i = 0; i < o->nrej; i++)
        printf("  rejected %s: '%s': %s\n", o->rej[i].pos, o->rej[i].text, o->rej[i].reason);
}

/* Publishes one change of orders[0..n) (records from o[] when rec is true). */
static int64_t publish(struct store *s, enum store_change_kind kind, bool urgent,
                       const struct order *const *o, size_t n)
{
    struct store_order *so = calloc(n ? n : 1, sizeof(*so));
    char **js = calloc(n ? n : 1, sizeof(*js));
    int64_t v = -ENOMEM;
    char err[1024] = "out of memory";
    if (!so || !js)
        goto out;
    for (size_t i = 0; i < n; i++) {
        js[i] = order_to_json(o[i]);
        if (!js[i])
            goto out;
        so[i].id = o[i]->id;
        so[i].record = js[i];
        so[i].record_len = strlen(js[i]);
    }
    struct store_change ch = { 0, kind, urgent, 0, so, n };
    v = store_publish(s, &ch, err, sizeof(err));
out:
    if (v < 0)
        fprintf(stderr, "qorgau: %s\n", err);
    else if (s->warning[0])
        fprintf(stderr, "qorgau: warning: %s\n", s->warning);
    for (size_t i = 0; js && i < n; i++)
        free(js[i]);
    free(js);
    free(so);
    return v;
}

struct get_ctx {
    struct order_list *l;
    const char *want_prefix;
    int rc;
};

static int collect_cb(void *ctx, const struct store_order *o)
{
    struct get_ctx *g = ctx;
    if (o->state != STORE_ACTIVE || !o->record)
        return 0;
    if (g->want_prefix && strncmp(o->id, g->want_prefix, strlen(g->want_prefix)) != 0)
        return 0;
    char err[ORDER_ERR_MAX];
    struct order *r = order_from_json(o->record, o->record_len, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "qorgau: store: order %s: unreadable record: %s\n", o->id, err);
        return 0;
    }
    return order_list_push(g->l, r);
}

/* The active dump contents the store holds (the previous dump). */
static int prev_dump(struct store *s, struct order_list *prev)
{
    struct get_ctx g = { prev, "dump:", 0 };
    uint64_t v;
    char err[1024];
    int rc = store_snapshot(s, &v, collect_cb, &g, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "qorgau: %s\n", err);
    return rc;
}

static bool is_dump_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    uint8_t buf[512];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n > 0 && ordimport_detect(buf, (size_t)n) == ORDIMPORT_DUMP;
}

/* A dump's records as they are parsed: the progress line (common/progress.h). */
static void import_progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    progress_set_total(total);
    progress_update(done);
}

static int import_one(struct store *s, const struct cli *c, const char *path)
{
    struct ordimport_opts io = { NULL, SIGN_ACCEPT_ANY, (int64_t)time(NULL), import_progress,
                                 NULL };
    if (c->cfg) {
        io.anchors = c->cfg->orders_trust_anchors[0] ? c->cfg->orders_trust_anchors : NULL;
        io.policy = (enum sign_policy)c->cfg->orders_signature;
    }
    struct order_list l;
    memset(&l, 0, sizeof(l));
    char err[2048];
    char label[300];
    snprintf(label, sizeof(label), "order import %s", path);
    progress_start_items(label, 0, "records");
    int rc = ordimport_file(path, &io, &l, err, sizeof(err));
    progress_end();
    if (rc < 0) {
        fprintf(stderr, "qorgau: %s (nothing imported from this file)\n", err);
        return 1;
    }
    bool urgent = c->urgent;
    for (size_t i = 0; i < l.n; i++) {
        if (c->urgent)
            l.v[i]->urgent = true;
        urgent = urgent || l.v[i]->urgent;
    }
    int ret = 0;
    if (is_dump_file(path)) {
        struct order_list prev;
        memset(&prev, 0, sizeof(prev));
        struct orddump_delta d;
        memset(&d, 0, sizeof(d));
        if (prev_dump(s, &prev) < 0 || orddump_delta(&prev, &l, &d) < 0) {
            order_list_free(&prev);
            order_list_free(&l);
            return 1;
        }
        size_t nup = d.nadded + d.nchanged;
        const struct order **up = calloc(nup ? nup : 1, sizeof(*up));
        if (!up) {
            ret = 1;
        } else {
            memcpy(up, d.added, d.nadded * sizeof(*up));
            memcpy(up + d.nadded, d.changed, d.nchanged * sizeof(*up));
            for (size_t i = 0; i < d.nadded; i++)
                print_order(d.added[i], "added");
            for (size_t i = 0; i < d.nchanged; i++)
                print_order(d.changed[i], "changed");
            for (size_t i = 0; i < d.nremoved; i++)
                printf("order %s: removed from the dump (revoked)\n", d.removed[i]->id);
            int64_t v = 0;
            if (nup)
                v = publish(s, STORE_CHANGE_IMPORT, urgent, up, nup);
            if (v >= 0 && d.nremoved)
                v = publish(s, STORE_CHANGE_REVOKE, false, d.removed, d.nremoved);
            if (v < 0)
                ret = 1;
            else
                printf("%s: dump: %zu added, %zu changed, %zu removed, %zu unchanged; store "
                       "version %" PRId64 "\n",
                       path, d.nadded, d.nchanged, d.nremoved, d.unchanged, v);
            free(up);
        }
        orddump_delta_free(&d);
        order_list_free(&prev);
    } else {
        for (size_t i = 0; i < l.n; i++)
            print_order(l.v[i], "imported");
        int64_t v = publish(s, STORE_CHANGE_IMPORT, urgent, (const struct order *const *)l.v, l.n);
        if (v < 0)
            ret = 1;
        else
            printf("%s: %zu orders imported; store version %" PRId64 "\n", path, l.n, v);
    }
    order_list_free(&l);
    return ret;
}

/* ---- list, show, revoke, restore ---- */

struct row {
    char *id;
    enum store_state st;
    uint64_t version, updated_ms;
    size_t len;
};
struct rows {
    struct row *v;
    size_t n, cap;
};

static int list_cb(void *ctx, const struct store_order *o)
{
    struct rows *r = ctx;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        struct row *t = realloc(r->v, nc * sizeof(*t));
        if (!t)
            return -ENOMEM;
        r->v = t;
        r->cap = nc;
    }
    char *id = strdup(o->id);
    if (!id)
        return -ENOMEM;
    r->v[r->n++] = (struct row){ id, o->state, o->version, o->updated_ms, o->record_len };
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->id, ((const struct row *)b)->id);
}

static void print_time_ms(FILE *out, uint64_t ms)
{
    char t[32];
    order_time_format((int64_t)(ms / 1000), t);
    fputs(t, out);
}

int orders_list_write(struct store *s, bool json, FILE *out, char *err, size_t errlen)
{
    struct rows r = { NULL, 0, 0 };
    int rc = store_list(s, list_cb, &r, err, errlen);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc >= 0)
        qsort(r.v, r.n, sizeof(*r.v), row_cmp);
    if (rc >= 0 && json)
        fputs("{\"orders\":[", out);
    for (size_t i = 0; rc >= 0 && i < r.n; i++) {
        const char *st = r.v[i].st == STORE_ACTIVE ? "active" : "revoked";
        if (json) {
            fputs(i ? ",{\"id\":" : "{\"id\":", out);
            jsonw_cstr(out, r.v[i].id);
            fprintf(out, ",\"state\":\"%s\",\"version\":%" PRIu64 ",\"updated_ms\":%" PRIu64 "}",
                    st, r.v[i].version, r.v[i].updated_ms);
            continue;
        }
        fprintf(out, "%-32s %-8s v%-6" PRIu64 " ", r.v[i].id, st, r.v[i].version);
        print_time_ms(out, r.v[i].updated_ms);
        fputc('\n', out);
    }
    if (rc >= 0 && json)
        fputs("]}\n", out);
    for (size_t i = 0; i < r.n; i++)
        free(r.v[i].id);
    free(r.v);
    return rc < 0 ? rc : 0;
}

static int cmd_list(struct store *s)
{
    char err[1024];
    int rc = orders_list_write(s, false, stdout, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "qorgau: %s\n", err);
    return rc < 0 ? 1 : 0;
}

static int show_cb(void *ctx, const struct store_order *o)
{
    FILE *out = ctx;
    fputs("{\"id\":", out);
    jsonw_cstr(out, o->id);
    fprintf(out, ",\"state\":\"%s\",\"version\":%" PRIu64 ",\"updated_ms\":%" PRIu64 ",\"record\":",
            o->state == STORE_ACTIVE ? "active" : "revoked", o->version, o->updated_ms);
    if (o->record)
        fwrite(o->record, 1, o->record_len, out);
    else
        fputs("null", out);
    fputs("}\n", out);
    return 0;
}

int orders_show_write(struct store *s, const char *id, FILE *out, char *err, size_t errlen)
{
    return store_get(s, id, show_cb, out, err, errlen);
}

static int cmd_state(struct store *s, enum store_change_kind kind, const char *id)
{
    struct store_order so = { id, STORE_ACTIVE, 0, 0, NULL, 0 };
    struct store_change ch = { 0, kind, false, 0, &so, 1 };
    char err[1024];
    int64_t v = store_publish(s, &ch, err, sizeof(err));
    if (v < 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        return 1;
    }
    if (s->warning[0])
        fprintf(stderr, "qorgau: warning: %s\n", s->warning);
    printf("order %s: %s; store version %" PRId64 "\n", id,
           kind == STORE_CHANGE_REVOKE ? "revoked" : "restored", v);
    return 0;
}

int orders_cli_order(int argc, char **argv)
{
    struct cli c;
    int rc = parse_opts(argc, argv, &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    int ret = CLI_USAGE;
    const char *sub = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    /* --urgent may also follow the files */
    int nfiles = 0;
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "--urgent") == 0)
            c.urgent = true;
        else
            args[nfiles++] = args[i];
    }
    bool known = strcmp(sub, "import") == 0 || strcmp(sub, "list") == 0 ||
                 strcmp(sub, "show") == 0 || strcmp(sub, "revoke") == 0 ||
                 strcmp(sub, "restore") == 0;
    bool arity = (strcmp(sub, "import") == 0 && nfiles >= 1) ||
                 (strcmp(sub, "list") == 0 && nfiles == 0) ||
                 (strcmp(sub, "import") != 0 && strcmp(sub, "list") != 0 && nfiles == 1);
    if (!known || !arity) {
        usage(stderr);
        settings_free(c.cfg);
        return CLI_USAGE;
    }
    struct store *s = cli_store(&c);
    if (!s) {
        settings_free(c.cfg);
        return 1;
    }
    char err[1024];
    if (strcmp(sub, "import") == 0) {
        ret = 0;
        for (int i = 0; i < nfiles; i++)
            if (import_one(s, &c, args[i]) != 0)
                ret = 1;
    } else if (strcmp(sub, "list") == 0) {
        ret = cmd_list(s);
    } else if (strcmp(sub, "show") == 0) {
        rc = orders_show_write(s, args[0], stdout, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "qorgau: %s\n", err);
        ret = rc < 0 ? 1 : 0;
    } else {
        ret = cmd_state(s, strcmp(sub, "revoke") == 0 ? STORE_CHANGE_REVOKE : STORE_CHANGE_RESTORE,
                        args[0]);
    }
    store_free(s);
    settings_free(c.cfg);
    return ret;
}

/* ---- query ---- */

/* The queries: the operands, or one per line of standard input for "-". */
static char **read_queries(int argc, char **argv, size_t *n)
{
    *n = 0;
    if (!(argc == 1 && strcmp(argv[0], "-") == 0)) {
        *n = (size_t)argc;
        return argv;
    }
    size_t cap = 0;
    char **v = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **t = realloc(v, cap * sizeof(*t));
            if (!t)
                break;
            v = t;
        }
        v[(*n)++] = strdup(line);
    }
    free(line);
    return v;
}

int orders_cli_query(int argc, char **argv)
{
    struct cli c;
    int rc = parse_opts(argc, argv, &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (optind >= argc) {
        usage(stderr);
        settings_free(c.cfg);
        return CLI_USAGE;
    }
    size_t n = 0;
    bool from_stdin = argc - optind == 1 && strcmp(argv[optind], "-") == 0;
    char **q = read_queries(argc - optind, argv + optind, &n);
    int ret = 0;
    char err[1024];
    if (c.cfg && !c.store_url) {
        char path[1100];
        snprintf(path, sizeof(path), "%s/%s", c.cfg->state_dir, ADMINHTTP_SOCKET_NAME);
        char *body = NULL;
        size_t blen = 0;
        FILE *m = open_memstream(&body, &blen);
        for (size_t i = 0; m && i < n; i++)
            fprintf(m, "%s\n", q[i]);
        if (!m || fclose(m) != 0) {
            fprintf(stderr, "qorgau: out of memory\n");
            ret = 1;
        } else if ((rc = adminhttp_request(path, "POST", "/api/v1/query", body, blen, stdout, err,
                                           sizeof(err))) < 0) {
            fprintf(stderr, "qorgau: %s\n", err);
            ret = 1;
        } else if (rc != 200) {
            fprintf(stderr, "qorgau: admin: %s: HTTP status %d\n", path, rc);
            ret = 1;
        }
        free(body);
    } else {
        struct store *s = cli_store(&c);
        struct order_list l;
        memset(&l, 0, sizeof(l));
        struct get_ctx g = { &l, NULL, 0 };
        uint64_t v = 0;
        struct ruleset *rs = NULL;
        if (!s) {
            ret = 1;
        } else if ((rc = store_snapshot(s, &v, collect_cb, &g, err, sizeof(err))) < 0) {
            fprintf(stderr, "qorgau: %s\n", err);
            ret = 1;
        } else if (!(rs = orderset_compile((const struct order *const *)l.v, l.n, NULL, err,
                                           sizeof(err)))) {
            fprintf(stderr, "qorgau: %s\n", err);
            ret = 1;
        }
        struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME };
        if (c.cfg && c.cfg->https_url == SETTINGS_HTTPS_URL_IGNORE)
            pol.https_url = VERDICT_HTTPS_URL_IGNORE;
        if (c.cfg)
            pol.nat64 = c.cfg->ip_nat64;
        for (size_t i = 0; rs && i < n; i++) {
            const char *qq = NULL, *why = NULL;
            size_t ql = 0;
            enum query_line ls = query_line_parse(q[i], strlen(q[i]), &qq, &ql, &why);
            if (ls == QUERY_LINE_OK)
                query_judge(rs, &pol, v, qq, ql, stdout);
            else if (ls == QUERY_LINE_BAD)
                query_error(stdout, q[i], strlen(q[i]), why);
        }
        ruleset_free(rs);
        order_list_free(&l);
        store_free(s);
    }
    if (from_stdin) {
        for (size_t i = 0; i < n; i++)
            free(q[i]);
        free(q);
    }
    settings_free(c.cfg);
    return ret;
}

/* ---- status ---- */

struct st_ctx {
    uint64_t version;       /* the store's */
    uint64_t order_version; /* 0: no order asked */
    uint64_t now;
    FILE *out;
    bool array; /* nodes as elements of an array, else one line each */
    size_t n;
    const struct orders_status_self *self; /* NULL: none */
};

static int node_cb(void *ctx, const struct store_node *nd)
{
    struct st_ctx *c = ctx;
    FILE *out = c->out;
    fputs(!c->array ? "{\"node\":" : c->n ? ",{\"node\":" : "{\"node\":", out);
    c->n++;
    jsonw_cstr(out, nd->id);
    fprintf(out,
            ",\"alive\":%s,\"version\":%" PRIu64 ",\"lag\":%" PRIu64 ",\"since_ms\":%" PRIu64
            ",\"heartbeat_ms\":%" PRIu64 ",\"heartbeat_age_ms\":%" PRIu64,
            nd->alive ? "true" : "false", nd->version,
            c->version > nd->version ? c->version - nd->version : 0, nd->since_ms, nd->heartbeat_ms,
            c->now > nd->heartbeat_ms ? c->now - nd->heartbeat_ms : 0);
    /* what it runs ("" from a node of a release that did not say) */
    jsonw_key(out, "software", false);
    jsonw_cstr(out, nd->software);
    jsonw_key(out, "mode", false);
    jsonw_cstr(out, nd->mode);
    if (c->self && strcmp(nd->id, c->self->node) == 0)
        fprintf(out, ",\"ready\":%s,\"ready_ms\":%" PRIu64, c->self->ready ? "true" : "false",
                c->self->ready_ms);
    if (c->order_version) {
        bool enf = nd->version >= c->order_version;
        fprintf(out, ",\"order_enforced\":%s", enf ? "true" : "false");
        /* a node acknowledges each version it reaches: when it acknowledged exactly the order's
         * version, since_ms is when the order became enforced there; later, it is an upper
         * bound */
        if (enf)
            fprintf(out, ",\"order_enforced_by_ms\":%" PRIu64 ",\"order_enforced_exact\":%s",
                    nd->since_ms, nd->version == c->order_version ? "true" : "false");
    }
    fputs(c->array ? "}" : "}\n", out);
    return 0;
}

static int ver_cb(void *ctx, const struct store_order *o)
{
    *(uint64_t *)ctx = o->version;
    return 0;
}

int orders_status_write(struct store *s, const char *order, const struct orders_status_self *self,
                        bool array, FILE *out, char *err, size_t errlen)
{
    struct st_ctx sc = { 0, 0, store_now_ms(), out, array, 0, self };
    int rc = store_version(s, &sc.version, err, errlen);
    if (rc >= 0 && order)
        rc = store_get(s, order, ver_cb, &sc.order_version, err, errlen);
    if (rc < 0)
        return rc;
    fputs("{\"store\":", out);
    jsonw_cstr(out, store_where(s));
    fprintf(out, ",\"version\":%" PRIu64, sc.version);
    if (order) {
        fputs(",\"order\":", out);
        jsonw_cstr(out, order);
        fprintf(out, ",\"order_version\":%" PRIu64, sc.order_version);
    }
    fputs(array ? ",\"nodes\":[" : "}\n", out);
    rc = store_nodes(s, node_cb, &sc, err, errlen);
    if (array)
        fputs("]}\n", out);
    return rc < 0 ? rc : 0;
}

/* The readiness of the node running with this configuration, from its admin socket
 * (GET /api/v1/status). False, and no "ready" printed, when it does not answer (not running
 * here, or a release without readiness). id is self->node's storage. */
static bool status_self(const struct settings *cfg, struct orders_status_self *self, char *id,
                        size_t idlen)
{
    char path[1100], err[1024];
    snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, ADMINHTTP_SOCKET_NAME);
    char *body = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&body, &blen);
    if (!m)
        return false;
    int rc = adminhttp_request(path, "GET", "/api/v1/status", NULL, 0, m, err, sizeof(err));
    bool ok = fclose(m) == 0 && rc == 200;
    json_t *root = ok ? json_loadb(body, blen, 0, NULL) : NULL;
    free(body);
    json_t *node = json_object_get(root, "node");
    json_t *nid = json_object_get(node, "id"), *ready = json_object_get(node, "ready"),
           *ms = json_object_get(node, "ready_ms");
    ok = json_is_string(nid) && json_is_boolean(ready) && json_is_integer(ms);
    if (ok) {
        snprintf(id, idlen, "%s", json_string_value(nid));
        *self = (struct orders_status_self){ id, json_is_true(ready),
                                             (uint64_t)json_integer_value(ms) };
    }
    json_decref(root);
    return ok;
}

int orders_cli_status(int argc, char **argv)
{
    struct cli c;
    int rc = parse_opts(argc, argv, &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (argc - optind > 1) {
        usage(stderr);
        settings_free(c.cfg);
        return CLI_USAGE;
    }
    struct store *s = cli_store(&c);
    int ret = 1;
    char err[1024], id[256];
    struct orders_status_self self;
    bool known = s && c.cfg && status_self(c.cfg, &self, id, sizeof(id));
    if (s && orders_status_write(s, optind < argc ? argv[optind] : NULL, known ? &self : NULL,
                                 false, stdout, err, sizeof(err)) < 0)
        fprintf(stderr, "qorgau: %s\n", err);
    else if (s)
        ret = 0;
    store_free(s);
    settings_free(c.cfg);
    return ret;
}
