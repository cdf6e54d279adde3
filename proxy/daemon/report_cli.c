/* report_cli.c - `qorgau report`, `qorgau deadlines`, `qorgau stats` (report_cli.h).
 *
 * A report goes to -o FILE (written to a temporary name and renamed) or to standard output.
 * With report.sign_key and report.sign_cert configured, FILE.sig is written next to FILE: a
 * detached CMS signature in DER. Each generated report is recorded in the store as the
 * document ("report", ORDER_ID): time, format, language, file, SHA-256 — which is what
 * `qorgau deadlines` looks for. */
#include "proxy/daemon/report_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/jsonw.h"
#include "proxy/daemon/orders_cli.h"
#include "proxy/daemon/settings.h"
#include "rules/orders/sign.h"
#include "rules/report/report_render.h"
#include "rules/report/stats.h"

#define CLI_USAGE   2
#define DUE_SOON_MS (48ull * 3600 * 1000)

struct rcli {
    const char *config, *store_url, *out, *from, *to;
    enum report_format fmt;
    enum report_lang lang;
    bool table, all;
    uint64_t at_ms;
    struct settings *cfg;
    struct report_opts ro;
};

static void usage(FILE *f)
{
    fputs("usage: qorgau report ORDER_ID [-c CONFIG] [--store URL] [--format html|json|csv]\n"
          "                     [--lang ru|kk|en] [-o FILE] [--at TIME]\n"
          "       qorgau deadlines [-c CONFIG] [--store URL] [--format table|json] [--all] "
          "[--at TIME]\n"
          "       qorgau stats --from YYYY-MM-DD --to YYYY-MM-DD [-c CONFIG] [--store URL]\n"
          "                    [--format html|json] [--lang ru|kk|en] [-o FILE]\n",
          f);
}

/* Options of the three commands; leaves optind at the first operand. 0, or the exit status. */
static int parse(int argc, char **argv, struct rcli *c)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "store", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "lang", required_argument, NULL, 'l' },
        { "output", required_argument, NULL, 'o' },
        { "at", required_argument, NULL, 'a' },
        { "from", required_argument, NULL, 'F' },
        { "to", required_argument, NULL, 'T' },
        { "all", no_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': c->config = optarg; break;
        case 's': c->store_url = optarg; break;
        case 'o': c->out = optarg; break;
        case 'F': c->from = optarg; break;
        case 'T': c->to = optarg; break;
        case 'A': c->all = true; break;
        case 'f':
            if (strcmp(optarg, "table") == 0)
                c->table = true;
            else if (!report_format_parse(optarg, &c->fmt)) {
                fprintf(stderr, "qorgau: --format %s: html, json, csv or table\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'l':
            if (!report_lang_parse(optarg, &c->lang)) {
                fprintf(stderr, "qorgau: --lang %s: ru, kk or en\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'a': {
            int64_t ts;
            if (!order_time_parse(optarg, &ts) || ts <= 0) {
                fprintf(stderr, "qorgau: --at %s: not an RFC 3339 time\n", optarg);
                return CLI_USAGE;
            }
            c->at_ms = (uint64_t)ts * 1000;
            break;
        }
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
        c->ro.deadline_days = (unsigned)c->cfg->report_deadline_days;
        c->ro.tz = c->cfg->report_timezone;
    }
    c->ro.now_ms = c->at_ms;
    return 0;
}

/* Writes buf to path atomically (temporary file, fsync, rename). */
static int write_file(const char *path, const char *buf, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "qorgau: %s: %s\n", tmp, strerror(errno));
        return -errno;
    }
    int rc = fwrite(buf, 1, len, f) == len ? 0 : -EIO;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -EIO;
    if (fclose(f) != 0)
        rc = -EIO;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        fprintf(stderr, "qorgau: %s: %s\n", path, strerror(-rc));
    }
    return rc;
}

static void finish(struct rcli *c)
{
    settings_free(c->cfg);
}

/* Options, the number of operands, then the store. Returns -1 to go on (with *s), else the exit
 * status. */
static int begin(int argc, char **argv, struct rcli *c, int operands, struct store **s)
{
    int rc = parse(argc, argv, c);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (argc - optind != operands) {
        usage(stderr);
        finish(c);
        return CLI_USAGE;
    }
    *s = orders_cli_store_open(c->store_url, c->cfg);
    if (!*s) {
        finish(c);
        return 1;
    }
    return -1;
}

/* ---- report --------------------------------------------------------------------------------- */

static int record_report(struct store *s, const struct rcli *c, const char *id, const char *sha,
                         size_t len, bool signed_)
{
    static const char *const fmts[] = { "html", "json", "csv" }, *const langs[] = { "ru", "kk",
                                                                                    "en" };
    char *doc = NULL;
    size_t dl = 0;
    FILE *m = open_memstream(&doc, &dl);
    if (!m)
        return -ENOMEM;
    fputc('{', m);
    jsonw_key(m, "order", true);
    jsonw_cstr(m, id);
    jsonw_key(m, "time_ms", false);
    fprintf(m, "%llu", (unsigned long long)store_now_ms());
    jsonw_key(m, "format", false);
    jsonw_cstr(m, fmts[c->fmt]);
    jsonw_key(m, "lang", false);
    jsonw_cstr(m, langs[c->lang]);
    jsonw_key(m, "file", false);
    jsonw_cstr(m, c->out);
    jsonw_key(m, "bytes", false);
    fprintf(m, "%zu", len);
    jsonw_key(m, "sha256", false);
    jsonw_cstr(m, sha);
    jsonw_key(m, "signed", false);
    fputs(signed_ ? "true}" : "false}", m);
    fclose(m);
    char err[1024];
    int rc = store_doc_put(s, "report", id, doc, dl, err, sizeof(err));
    if (rc)
        fprintf(stderr, "qorgau: %s\n", err);
    free(doc);
    return rc;
}

int report_cli_report(int argc, char **argv)
{
    struct rcli c = { 0 };
    struct store *s = NULL;
    int rc = begin(argc, argv, &c, 1, &s);
    if (rc >= 0)
        return rc;
    const char *id = argv[optind];
    char err[1024];
    struct report *r = NULL;
    char *buf = NULL;
    size_t len = 0;
    int status = 1;
    rc = report_build(s, NULL, id, &c.ro, &r, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "qorgau: report %s: %s\n", id, err);
        goto out;
    }
    FILE *m = open_memstream(&buf, &len);
    if (!m || report_render(m, r, c.fmt, c.lang) != 0) {
        fprintf(stderr, "qorgau: report %s: out of memory\n", id);
        if (m)
            fclose(m);
        goto out;
    }
    fclose(m);
    char sha[65] = "";
    order_sha256((const uint8_t *)buf, len, sha);
    bool signed_ = false;
    if (!c.out) {
        if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
            goto out;
        if (c.cfg && c.cfg->report_sign_key[0])
            fprintf(stderr, "qorgau: report %s: not signed (a signature needs -o FILE)\n", id);
    } else {
        if (write_file(c.out, buf, len) != 0)
            goto out;
        if (c.cfg && c.cfg->report_sign_key[0]) {
            uint8_t *der = NULL;
            size_t dlen = 0;
            if (sign_detached((const uint8_t *)buf, len, c.cfg->report_sign_key,
                              c.cfg->report_sign_cert, &der, &dlen, err, sizeof(err)) != 0) {
                fprintf(stderr, "qorgau: report %s: %s\n", id, err);
                goto out;
            }
            char sig[4096];
            snprintf(sig, sizeof(sig), "%s.sig", c.out);
            rc = write_file(sig, (const char *)der, dlen);
            free(der);
            if (rc)
                goto out;
            signed_ = true;
        }
        fprintf(stderr, "report %s: %s (%zu bytes, sha256 %s)%s\n", id, c.out, len, sha,
                signed_ ? ", signed: .sig" : "");
    }
    status = record_report(s, &c, id, sha, len, signed_) == 0 ? 0 : 1;
out:
    free(buf);
    report_free(r);
    store_free(s);
    finish(&c);
    return status;
}

/* ---- deadlines ------------------------------------------------------------------------------ */

struct due {
    char *id;
    uint64_t received_ms, end_ms, enforced_ms;
    char date[16];
    bool reported, open, alarm;
    int64_t left_ms;
};

struct due_list {
    struct due *v;
    size_t n;
    int rc;
};

static int list_cb(void *ctx, const struct store_order *o)
{
    struct due_list *l = ctx;
    if (o->state != STORE_ACTIVE)
        return 0;
    struct due *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv)
        return l->rc = -ENOMEM;
    l->v = nv;
    memset(&l->v[l->n], 0, sizeof(l->v[0]));
    if (!(l->v[l->n].id = strdup(o->id)))
        return l->rc = -ENOMEM;
    l->n++;
    return 0;
}

static int ignore_doc(void *ctx, const char *b, size_t n)
{
    (void)ctx;
    (void)b;
    (void)n;
    return 0;
}

static int cmp_due(const void *a, const void *b)
{
    const struct due *x = a, *y = b;
    if (x->end_ms != y->end_ms)
        return x->end_ms < y->end_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void left_text(int64_t ms, char out[32])
{
    int64_t a = ms < 0 ? -ms : ms, h = a / 3600000;
    snprintf(out, 32, "%s%lldd %02lldh", ms < 0 ? "-" : "", (long long)(h / 24),
             (long long)(h % 24));
}

int report_deadlines_write(struct store *s, const struct report_opts *ro, bool all, bool table,
                           FILE *out, size_t *alarms_out, char *err, size_t errlen)
{
    struct due_list l = { 0 };
    struct report_fleet fleet = { 0 };
    uint64_t now = ro->now_ms ? ro->now_ms : store_now_ms();
    int rc = store_list(s, list_cb, &l, err, errlen);
    if (!rc && l.rc)
        rc = l.rc, snprintf(err, errlen, "out of memory");
    if (!rc)
        rc = report_fleet_load(s, &fleet, err, errlen);
    size_t shown = 0, alarms = 0;
    for (size_t i = 0; !rc && i < l.n; i++) {
        struct due *d = &l.v[i];
        struct report *r = NULL;
        rc = report_build(s, &fleet, d->id, ro, &r, err, errlen);
        if (rc == -ENOENT || rc == -EBADMSG) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        d->received_ms = (uint64_t)(r->o->received_ts > 0 ? r->o->received_ts : 0) * 1000;
        d->end_ms = (uint64_t)(r->deadline_end > 0 ? r->deadline_end : 0) * 1000;
        d->enforced_ms = r->enforced_ms;
        deadline_date_format(&r->deadline_date, d->date);
        report_free(r);
        char e2[256];
        int g = store_doc_get(s, "report", d->id, ignore_doc, NULL, e2, sizeof(e2));
        if (g && g != -ENOENT) {
            rc = g;
            snprintf(err, errlen, "%s", e2);
            break;
        }
        d->reported = g == 0;
        d->left_ms = (int64_t)d->end_ms - (int64_t)now;
        d->open = !d->reported || all;
        d->alarm = !d->reported && d->left_ms < (int64_t)DUE_SOON_MS;
        shown += d->open;
        alarms += d->alarm;
    }
    if (rc)
        goto out;
    if (l.n > 1)
        qsort(l.v, l.n, sizeof(*l.v), cmp_due);
    const char *tz = ro->tz ? ro->tz : DEADLINE_DEFAULT_TZ;
    if (table) {
        fprintf(out, "%-24s %-26s %-10s %-10s %-26s %-6s %s\n", "ORDER", "RECEIVED", "DEADLINE",
                "LEFT", "ENFORCED EVERYWHERE", "REPORT", "STATE");
        for (size_t i = 0; i < l.n; i++) {
            const struct due *d = &l.v[i];
            if (!d->open || !d->end_ms)
                continue;
            char rt[40], et[40], left[32];
            report_time(d->received_ms, tz, rt);
            report_time(d->enforced_ms, tz, et);
            left_text(d->left_ms, left);
            fprintf(out, "%-24s %-26s %-10s %-10s %-26s %-6s %s\n", d->id, rt, d->date, left,
                    d->enforced_ms ? et : "no", d->reported ? "yes" : "no",
                    !d->alarm        ? "ok"
                    : d->left_ms < 0 ? "OVERDUE"
                                     : "DUE <48h");
        }
        fprintf(out, "%zu open, %zu overdue or due within 48 h without a report\n", shown, alarms);
    } else {
        fputs("{\"now_ms\":", out);
        fprintf(out, "%llu", (unsigned long long)now);
        jsonw_key(out, "timezone", false);
        jsonw_cstr(out, tz);
        jsonw_key(out, "alarms", false);
        fprintf(out, "%zu", alarms);
        jsonw_key(out, "orders", false);
        fputc('[', out);
        bool first = true;
        for (size_t i = 0; i < l.n; i++) {
            const struct due *d = &l.v[i];
            if (!d->open || !d->end_ms)
                continue;
            fputs(first ? "{" : ",{", out);
            first = false;
            jsonw_key(out, "order", true);
            jsonw_cstr(out, d->id);
            fprintf(out,
                    ",\"received_ms\":%llu,\"deadline\":\"%s\",\"deadline_end_ms\":%llu,"
                    "\"left_ms\":%lld,\"enforced_all_ms\":%llu,\"reported\":%s,\"alarm\":%s}",
                    (unsigned long long)d->received_ms, d->date, (unsigned long long)d->end_ms,
                    (long long)d->left_ms, (unsigned long long)d->enforced_ms,
                    d->reported ? "true" : "false", d->alarm ? "true" : "false");
        }
        fputs("]}\n", out);
    }
    if (alarms_out)
        *alarms_out = alarms;
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].id);
    free(l.v);
    report_fleet_free(&fleet);
    return rc;
}

int report_cli_deadlines(int argc, char **argv)
{
    struct rcli c = { 0 };
    c.table = true;
    struct store *s = NULL;
    int rc = begin(argc, argv, &c, 0, &s);
    if (rc >= 0)
        return rc;
    if (c.fmt == REPORT_JSON)
        c.table = false;
    char err[1024];
    size_t alarms = 0;
    int status = 1;
    rc = report_deadlines_write(s, &c.ro, c.all, c.table, stdout, &alarms, err, sizeof(err));
    if (rc)
        fprintf(stderr, "qorgau: deadlines: %s\n", err);
    else
        status = alarms ? 1 : 0;
    store_free(s);
    finish(&c);
    return status;
}

/* ---- stats ---------------------------------------------------------------------------------- */

int report_cli_stats(int argc, char **argv)
{
    struct rcli c = { 0 };
    struct store *s = NULL;
    int rc = begin(argc, argv, &c, 0, &s);
    if (rc >= 0)
        return rc;
    struct deadline_date from, to;
    if (!c.from || !c.to || c.fmt == REPORT_CSV || c.table || stats_date_parse(c.from, &from) ||
        stats_date_parse(c.to, &to)) {
        fprintf(stderr, "qorgau: stats: --from and --to (YYYY-MM-DD) and --format html|json\n");
        usage(stderr);
        store_free(s);
        finish(&c);
        return CLI_USAGE;
    }
    char err[1024];
    struct stats st;
    int status = 1;
    char *buf = NULL;
    size_t len = 0;
    rc = stats_collect(s, &from, &to, &c.ro, &st, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "qorgau: stats: %s\n", err);
        goto out;
    }
    FILE *m = open_memstream(&buf, &len);
    if (!m || stats_render(m, &st, c.fmt, c.lang) != 0) {
        if (m)
            fclose(m);
        fprintf(stderr, "qorgau: stats: out of memory\n");
        goto out;
    }
    fclose(m);
    if (c.out)
        status = write_file(c.out, buf, len) == 0 ? 0 : 1;
    else
        status = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
out:
    if (!rc)
        stats_free(&st);
    free(buf);
    store_free(s);
    finish(&c);
    return status;
}
