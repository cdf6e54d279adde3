/* report.c - builds the report model of one order from the store (report.h).
 *
 * Reach: a node enforces a change of version V from the first entry of its enforcement log
 * whose version is >= V (a node enforces versions in order, so that entry's set includes the
 * change). A change reached every live node at the latest such time over the nodes, provided
 * every node alive now has such an entry; nodes that are not alive and never reached it are
 * left out (a node switched off is not a node the order must reach), and so are nodes whose
 * first version after the change is already past the order's next change (they joined later
 * and never enforced that state). The deadline is met when
 * the order's first import reached every live node before the deadline's end. */
#include "rules/report/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/report/kdropdoc.h"

/* ---- fleet ---------------------------------------------------------------------------------- */

struct fleet_ctx {
    struct report_fleet *f;
    int rc;
};

static int fleet_node(void *ctx, const struct store_node *n)
{
    struct fleet_ctx *c = ctx;
    struct report_fleet *f = c->f;
    struct report_fleet_node *nv = realloc(f->v, (f->n + 1) * sizeof(*nv));
    if (!nv)
        return c->rc = -ENOMEM;
    f->v = nv;
    memset(&f->v[f->n], 0, sizeof(f->v[0]));
    f->v[f->n].id = strdup(n->id);
    f->v[f->n].alive = n->alive;
    if (!f->v[f->n].id)
        return c->rc = -ENOMEM;
    f->n++;
    return 0;
}

static int fleet_log(void *ctx, const struct store_enforced *e)
{
    struct report_fleet_node *n = ctx;
    struct store_enforced *nv = realloc(n->log, (n->nlog + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    n->log = nv;
    n->log[n->nlog++] = *e;
    return 0;
}

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const struct report_fleet_node *)a)->id,
                  ((const struct report_fleet_node *)b)->id);
}

int report_fleet_load(struct store *s, struct report_fleet *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    struct fleet_ctx c = { f, 0 };
    int rc = store_nodes(s, fleet_node, &c, err, errlen);
    if (c.rc == -ENOMEM)
        snprintf(err, errlen, "report: out of memory");
    for (size_t i = 0; !rc && i < f->n; i++) {
        rc = store_enforced(s, f->v[i].id, fleet_log, &f->v[i], err, errlen);
        if (rc == -ENOENT) /* acknowledged before the log existed: nothing known */
            rc = 0;
    }
    if (rc) {
        report_fleet_free(f);
        return rc;
    }
    if (f->n > 1)
        qsort(f->v, f->n, sizeof(f->v[0]), cmp_node);
    return 0;
}

void report_fleet_free(struct report_fleet *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].id);
        free(f->v[i].log);
    }
    free(f->v);
    memset(f, 0, sizeof(*f));
}

static void reach_free(struct report_event *ev)
{
    for (size_t i = 0; i < ev->nreach; i++)
        free(ev->reach[i].node);
    free(ev->reach);
    ev->reach = NULL;
    ev->nreach = 0;
}

int report_reach(struct report_event *ev, uint64_t until, const struct report_fleet *fleet)
{
    reach_free(ev);
    ev->reach = fleet->n ? calloc(fleet->n, sizeof(*ev->reach)) : NULL;
    ev->nreach = 0;
    ev->all_ms = 0;
    if (fleet->n && !ev->reach)
        return -ENOMEM;
    bool pending = false, any = false;
    uint64_t last = 0;
    for (size_t i = 0; i < fleet->n; i++) {
        const struct report_fleet_node *n = &fleet->v[i];
        uint64_t since = 0;
        bool skipped = false; /* its first version after this event is already past the next */
        for (size_t j = 0; j < n->nlog && !since && !skipped; j++)
            if (n->log[j].version >= until)
                skipped = true;
            else if (n->log[j].version >= ev->version)
                since = n->log[j].since_ms ? n->log[j].since_ms : 1;
        if (skipped || (!since && !n->alive))
            continue;
        char *id = strdup(n->id);
        if (!id)
            return -ENOMEM;
        ev->reach[ev->nreach++] = (struct report_reach){ id, n->alive, since };
        if (!since)
            pending = true;
        else {
            any = true;
            if (since > last)
                last = since;
        }
    }
    ev->all_ms = pending || !any ? 0 : last;
    return 0;
}

/* ---- documents ------------------------------------------------------------------------------ */

struct doc {
    json_t *j;
};

static int doc_cb(void *ctx, const char *bytes, size_t len)
{
    struct doc *d = ctx;
    json_error_t je;
    d->j = json_loadb(bytes, len, 0, &je);
    return 0;
}

/* The document kind/id parsed, or NULL when absent or not JSON (treated as absent). */
static json_t *load_doc(struct store *s, const char *kind, const char *id, int *rc, char *err,
                        size_t errlen)
{
    struct doc d = { NULL };
    *rc = store_doc_get(s, kind, id, doc_cb, &d, err, errlen);
    if (*rc == -ENOENT)
        *rc = 0;
    return d.j;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static uint64_t ju64(const json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 ? (uint64_t)v : 0;
}

/* ---- the model ------------------------------------------------------------------------------ */

struct ev_ctx {
    struct report *r;
    int rc;
};

static int ev_cb(void *ctx, const struct store_event *e)
{
    struct ev_ctx *c = ctx;
    struct report_event *nv = realloc(c->r->ev, (c->r->nev + 1) * sizeof(*nv));
    if (!nv)
        return c->rc = -ENOMEM;
    c->r->ev = nv;
    c->r->ev[c->r->nev++] =
        (struct report_event){ .kind = e->kind, .version = e->version, .time_ms = e->time_ms };
    return 0;
}

struct get_ctx {
    struct report *r;
    char *err;
    size_t errlen;
    int rc;
};

static int get_cb(void *ctx, const struct store_order *so)
{
    struct get_ctx *c = ctx;
    c->r->state = so->state;
    c->r->version = so->version;
    c->r->o = order_from_json(so->record, so->record_len, c->err, c->errlen);
    if (!c->r->o)
        c->rc = -EBADMSG;
    return 0;
}

/* Resources sorted by entry text, for the hits and verification lookups. */
struct byname {
    const char *key;
    size_t idx;
};

static int cmp_byname(const void *a, const void *b)
{
    return strcmp(((const struct byname *)a)->key, ((const struct byname *)b)->key);
}

/* The resource index whose normalized text is key ("*.name" also answers "name"), or -1. */
static long find_res(const struct byname *v, size_t n, const char *key)
{
    struct byname k = { key, 0 };
    const struct byname *hit = n ? bsearch(&k, v, n, sizeof(*v), cmp_byname) : NULL;
    if (hit)
        return (long)hit->idx;
    char star[RULESET_TEXT_MAX + 2];
    snprintf(star, sizeof(star), "*.%s", key);
    k.key = star;
    hit = n ? bsearch(&k, v, n, sizeof(*v), cmp_byname) : NULL;
    return hit ? (long)hit->idx : -1;
}

struct hits_ctx {
    struct report *r;
    const struct byname *v;
    size_t n;
};

static int hits_cb(void *ctx, const struct store_hit *h)
{
    struct hits_ctx *c = ctx;
    long i = find_res(c->v, c->n, h->entry);
    if (i < 0)
        return 0; /* an entry the record no longer lists (amended order) */
    struct report_resource *rr = &c->r->res[i];
    rr->hits += h->count;
    if (h->first_ms && (!rr->first_hit_ms || h->first_ms < rr->first_hit_ms))
        rr->first_hit_ms = h->first_ms;
    if (h->last_ms > rr->last_hit_ms)
        rr->last_hit_ms = h->last_ms;
    return 0;
}

static int add_risk(struct report *r, enum report_risk_kind k, const char *arg)
{
    struct report_risk *nv = realloc(r->risks, (r->nrisks + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    r->risks = nv;
    r->risks[r->nrisks].kind = k;
    r->risks[r->nrisks].arg = arg ? strdup(arg) : NULL;
    if (arg && !r->risks[r->nrisks].arg)
        return -ENOMEM;
    r->nrisks++;
    return 0;
}

static const char *method_of(const struct order_resource *r)
{
    return r->kind == RULE_URL ? "url" : r->kind == RULE_IP ? "ip" : "domain";
}

/* Self-verification results ("verify" document) into the resources. */
static int apply_verify(struct report *r, const json_t *j, const struct byname *v, size_t n)
{
    r->verify_present = true;
    r->verify_ms = ju64(j, "time_ms");
    const json_t *res = json_object_get(j, "results");
    size_t i;
    const json_t *e;
    json_array_foreach(res, i, e)
    {
        long k = find_res(v, n, jstr(e, "resource"));
        if (k < 0)
            continue;
        struct report_resource *rr = &r->res[k];
        struct report_check *nv = realloc(rr->checks, (rr->nchecks + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        rr->checks = nv;
        struct report_check *c = &rr->checks[rr->nchecks++];
        c->probe = strdup(jstr(e, "probe"));
        c->target = strdup(jstr(e, "target"));
        c->how = strdup(jstr(e, "how"));
        c->blocked = json_is_true(json_object_get(e, "blocked"));
        c->time_ms = ju64(e, "time_ms");
        if (!c->probe || !c->target || !c->how)
            return -ENOMEM;
        /* a probe that got no answer, a refused connection or one that could not be sent
         * proves nothing either way (docs/verify.md): kept in the list, not in the verdict */
        bool inconclusive =
            !c->blocked && (strcmp(c->how, "timeout") == 0 || strcmp(c->how, "refused") == 0 ||
                            strcmp(c->how, "error") == 0);
        if (inconclusive)
            continue;
        if (!c->blocked)
            rr->verdict = REPORT_NOT_BLOCKED;
        else if (rr->verdict == REPORT_NOT_VERIFIED)
            rr->verdict = REPORT_BLOCKED;
    }
    return 0;
}

/* Fallback addresses ("fallback" document: {"resources":[{"resource":..,"addresses":[..]}]}). */
static int apply_fallback(struct report *r, const json_t *j, const struct byname *v, size_t n)
{
    size_t i, a;
    const json_t *e, *addr;
    json_array_foreach(json_object_get(j, "resources"), i, e)
    {
        long k = find_res(v, n, jstr(e, "resource"));
        if (k < 0)
            continue;
        struct report_resource *rr = &r->res[k];
        json_array_foreach(json_object_get(e, "addresses"), a, addr)
        {
            const char *s = json_string_value(addr);
            if (!s)
                continue;
            char **nv = realloc(rr->fallback, (rr->nfallback + 1) * sizeof(*nv));
            if (!nv)
                return -ENOMEM;
            rr->fallback = nv;
            if (!(rr->fallback[rr->nfallback] = strdup(s)))
                return -ENOMEM;
            rr->nfallback++;
        }
    }
    return 0;
}

/* One node's "fbseen" document merged into r->seen (one that is not well formed is left out). */
struct seen_ctx {
    struct report *r;
    int rc;
};

static bool is_fallback_address(void *ctx, const char *address)
{
    const struct report *r = ctx;
    for (size_t i = 0; i < r->nres; i++)
        for (size_t j = 0; j < r->res[i].nfallback; j++)
            if (strcmp(r->res[i].fallback[j], address) == 0)
                return true;
    return false;
}

static int seen_cb(void *ctx, const char *bytes, size_t len)
{
    struct seen_ctx *c = ctx;
    if (seendoc_merge_only(bytes, len, is_fallback_address, c->r, &c->r->seen, &c->r->nseen) ==
        -ENOMEM)
        c->rc = -ENOMEM;
    return 0;
}

/* The fleet's "kdrops" documents, the entries of this order's IP resources kept. */
struct kdrop_ctx {
    const struct report *r;
    const struct byname *v;
    size_t n;
    struct kdropdoc doc;
    int rc;
};

static bool is_ip_resource(void *ctx, const char *entry)
{
    const struct kdrop_ctx *c = ctx;
    long i = find_res(c->v, c->n, entry);
    return i >= 0 && strcmp(c->r->res[i].method, "ip") == 0;
}

static int kdrop_cb(void *ctx, const char *bytes, size_t len)
{
    struct kdrop_ctx *c = ctx;
    if (kdropdoc_merge(bytes, len, is_ip_resource, c, &c->doc) == -ENOMEM)
        c->rc = -ENOMEM;
    return 0;
}

/* Residual risks: pending nodes, unverified / reachable resources, IP entries, and what the
 * "risks" document says (shared addresses held back, ECH connections seen). */
static int collect_risks(struct report *r, const json_t *risks, uint64_t ech_fleet)
{
    int rc = 0;
    const struct report_event *imp = NULL;
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].kind != STORE_CHANGE_REVOKE)
            imp = &r->ev[i]; /* the latest import/restore */
    if (r->state == STORE_ACTIVE && imp)
        for (size_t i = 0; i < imp->nreach && !rc; i++)
            if (!imp->reach[i].since_ms)
                rc = add_risk(r, RISK_NODE_PENDING, imp->reach[i].node);
    for (size_t i = 0; i < r->nres && !rc; i++) {
        const struct report_resource *rr = &r->res[i];
        if (rr->verdict == REPORT_NOT_BLOCKED)
            rc = add_risk(r, RISK_NOT_BLOCKED, rr->r->norm);
        else if (rr->verdict == REPORT_NOT_VERIFIED && r->verify_present)
            rc = add_risk(r, RISK_NOT_VERIFIED, rr->r->norm);
        if (!rc && rr->r->kind == RULE_IP)
            rc = add_risk(r, RISK_IP_WIDE, rr->r->norm);
    }
    if (!rc && !r->verify_present)
        rc = add_risk(r, RISK_NOT_VERIFIED, NULL);
    if (rc)
        return rc;
    if (!risks && !ech_fleet)
        return add_risk(r, RISK_UNASSESSED, NULL);
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(risks, "shared_held_back"), i, e)
    {
        char buf[RULESET_TEXT_MAX + 64];
        snprintf(buf, sizeof(buf), "%s %s", jstr(e, "resource"), jstr(e, "address"));
        if ((rc = add_risk(r, RISK_SHARED_HELD, buf)) != 0)
            return rc;
    }
    /* ECH flows attributed to this order when a document says so; else the fleet's ECH flows
     * that passed (their names hidden: no order can be told) */
    uint64_t ech =
        json_object_get(risks, "ech_connections") ? ju64(risks, "ech_connections") : ech_fleet;
    if (ech) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ech);
        rc = add_risk(r, RISK_ECH, buf);
    }
    return rc;
}

int report_build(struct store *s, const struct report_fleet *fleet, const char *id,
                 const struct report_opts *opt, struct report **out, char *err, size_t errlen)
{
    struct report *r = calloc(1, sizeof(*r));
    struct report_fleet own = { 0 };
    struct byname *byn = NULL;
    json_t *jv = NULL, *jr = NULL, *jf = NULL;
    int rc;
    if (!r)
        return -ENOMEM;
    r->generated_ms = opt && opt->now_ms ? opt->now_ms : store_now_ms();
    r->deadline_days = opt && opt->deadline_days ? opt->deadline_days : DEADLINE_DEFAULT_DAYS;
    snprintf(r->tz, sizeof(r->tz), "%s",
             opt && opt->tz && opt->tz[0] ? opt->tz : DEADLINE_DEFAULT_TZ);
    struct get_ctx gc = { r, err, errlen, 0 };
    rc = store_get(s, id, get_cb, &gc, err, errlen);
    if (!rc)
        rc = gc.rc;
    if (rc)
        goto fail;
    if (!fleet) {
        if ((rc = report_fleet_load(s, &own, err, errlen)) != 0)
            goto fail;
        fleet = &own;
    }
    struct ev_ctx ec = { r, 0 };
    rc = store_events(s, id, ev_cb, &ec, err, errlen);
    if (rc == -ENOENT) { /* published before evidence records existed: what the order says */
        rc = 0;
        struct store_event e = { r->state == STORE_REVOKED ? STORE_CHANGE_REVOKE
                                                           : STORE_CHANGE_IMPORT,
                                 r->version, 0 };
        ev_cb(&ec, &e);
    }
    if (!rc)
        rc = ec.rc;
    if (rc)
        goto fail;
    for (size_t i = 0; i < r->nev && !rc; i++)
        rc = report_reach(&r->ev[i], i + 1 < r->nev ? r->ev[i + 1].version : UINT64_MAX, fleet);
    if (rc)
        goto nomem;
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].kind == STORE_CHANGE_IMPORT) {
            r->published_ms = r->ev[i].time_ms;
            r->enforced_ms = r->ev[i].all_ms;
            break;
        }
    rc = deadline_compute(r->o->received_ts, r->deadline_days, r->tz, &r->deadline_date,
                          &r->deadline_end, err, errlen);
    if (rc)
        goto fail;
    uint64_t end_ms = (uint64_t)(r->deadline_end > 0 ? r->deadline_end : 0) * 1000;
    if (r->enforced_ms)
        r->met = r->enforced_ms < end_ms ? REPORT_MET : REPORT_MISSED;
    else if (r->generated_ms >= end_ms)
        r->met = REPORT_MISSED, r->overdue = true;
    else
        r->met = REPORT_PENDING;

    r->nres = r->o->nres;
    r->res = r->nres ? calloc(r->nres, sizeof(*r->res)) : NULL;
    byn = r->nres ? malloc(r->nres * sizeof(*byn)) : NULL;
    if (r->nres && (!r->res || !byn))
        goto nomem;
    for (size_t i = 0; i < r->nres; i++) {
        r->res[i].r = &r->o->res[i];
        r->res[i].method = method_of(&r->o->res[i]);
        byn[i] = (struct byname){ r->o->res[i].norm, i };
    }
    if (r->nres > 1)
        qsort(byn, r->nres, sizeof(*byn), cmp_byname);
    struct hits_ctx hc = { r, byn, r->nres };
    if ((rc = store_hits(s, id, hits_cb, &hc, err, errlen)) != 0)
        goto fail;
    jv = load_doc(s, "verify", id, &rc, err, errlen);
    if (!rc)
        jr = load_doc(s, "risks", id, &rc, err, errlen);
    if (!rc)
        jf = load_doc(s, "fallback", id, &rc, err, errlen);
    if (rc)
        goto fail;
    uint64_t ech_fleet = 0;
    for (size_t i = 0; i < fleet->n && !rc; i++) {
        json_t *je = load_doc(s, "ech", fleet->v[i].id, &rc, err, errlen);
        ech_fleet += ju64(je, "passed");
        json_decref(je);
    }
    if (rc)
        goto fail;
    r->ech_passed = ech_fleet;
    if ((jv && apply_verify(r, jv, byn, r->nres)) || (jf && apply_fallback(r, jf, byn, r->nres)) ||
        collect_risks(r, jr, ech_fleet))
        goto nomem;
    /* names seen in traffic to this order's fallback addresses, merged over the fleet's nodes
     * (only those addresses are kept: the merge stays linear in the documents' size) */
    for (size_t i = 0; i < fleet->n && !rc && r->nres; i++) {
        struct seen_ctx sc = { r, 0 };
        rc = store_doc_get(s, "fbseen", fleet->v[i].id, seen_cb, &sc, err, errlen);
        if (rc == -ENOENT)
            rc = 0;
        if (!rc && sc.rc)
            goto nomem;
    }
    if (rc)
        goto fail;
    /* what the kernel dropped to this order's IP entries, summed over the fleet's nodes */
    struct kdrop_ctx kc = { .r = r, .v = byn, .n = r->nres };
    for (size_t i = 0; i < fleet->n && !rc && r->nres; i++) {
        rc = store_doc_get(s, "kdrops", fleet->v[i].id, kdrop_cb, &kc, err, errlen);
        if (rc == -ENOENT)
            rc = 0;
    }
    for (size_t i = 0; i < r->nres && !rc && !kc.rc; i++) {
        const struct kdropdoc_entry *e = kdropdoc_find(&kc.doc, r->res[i].r->norm);
        if (!e || strcmp(r->res[i].method, "ip") != 0)
            continue;
        r->res[i].kdrop_packets = e->packets;
        r->res[i].kdrop_bytes = e->bytes;
        r->res[i].first_kdrop_ms = e->first_ms;
        r->res[i].last_kdrop_ms = e->last_ms;
    }
    kdropdoc_free(&kc.doc);
    if (!rc && kc.rc)
        goto nomem;
    if (rc)
        goto fail;
    json_decref(jv);
    json_decref(jr);
    json_decref(jf);
    free(byn);
    report_fleet_free(&own);
    *out = r;
    return 0;
nomem:
    snprintf(err, errlen, "report %s: out of memory", id);
    rc = -ENOMEM;
fail:
    json_decref(jv);
    json_decref(jr);
    json_decref(jf);
    free(byn);
    report_fleet_free(&own);
    report_free(r);
    return rc;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nev; i++)
        reach_free(&r->ev[i]);
    free(r->ev);
    for (size_t i = 0; i < r->nres; i++) {
        for (size_t j = 0; j < r->res[i].nfallback; j++)
            free(r->res[i].fallback[j]);
        free(r->res[i].fallback);
        for (size_t j = 0; j < r->res[i].nchecks; j++) {
            free(r->res[i].checks[j].probe);
            free(r->res[i].checks[j].target);
            free(r->res[i].checks[j].how);
        }
        free(r->res[i].checks);
    }
    free(r->res);
    for (size_t i = 0; i < r->nrisks; i++)
        free(r->risks[i].arg);
    free(r->risks);
    free(r->seen);
    order_free(r->o);
    free(r);
}
