/* fallback.c - the shared address policy, the since-when record and the report (fallback.h). */
#include "rules/resolve/fallback.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

#define REPORT_NAMES  32 /* names listed per address in the report (all are counted) */
#define REPORT_ORDERS 16

struct pair {
    struct resolver_addr a;
    uint32_t name;
};

struct since {
    uint8_t ipver, act;
    uint8_t addr[16];
    time_t t;
};

struct fallback {
    struct fallback_config c;
    pthread_mutex_t mu; /* report */
    char *report;
    struct since *since; /* sorted by address */
    size_t nsince;
};

struct fallback *fallback_new(const struct fallback_config *c)
{
    struct fallback *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->c = *c;
    if (f->c.threshold < 2)
        f->c.threshold = 2;
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void fallback_free(struct fallback *f)
{
    if (!f)
        return;
    free(f->report);
    free(f->since);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fallback_policy_name(enum fallback_policy p)
{
    switch (p) {
    case FALLBACK_SHARED_BLOCK: return "block";
    case FALLBACK_SHARED_NAMELESS: return "nameless";
    case FALLBACK_SHARED_REPORT: return "report";
    }
    return "?";
}

static int addr_cmp(uint8_t v1, const uint8_t *a1, uint8_t v2, const uint8_t *a2)
{
    if (v1 != v2)
        return v1 < v2 ? -1 : 1;
    return memcmp(a1, a2, 16);
}

static int pair_cmp(const void *x, const void *y)
{
    const struct pair *a = x, *b = y;
    int c = addr_cmp(a->a.ipver, a->a.addr, b->a.ipver, b->a.addr);
    if (c)
        return c;
    return a->name < b->name ? -1 : a->name > b->name;
}

static time_t since_of(const struct fallback *f, const struct fbaddr_rec *rec, time_t now)
{
    size_t lo = 0, hi = f->nsince;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = addr_cmp(f->since[mid].ipver, f->since[mid].addr, rec->ipver, rec->addr);
        if (c == 0)
            return f->since[mid].act == rec->act ? f->since[mid].t : now;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return now;
}

static void put_time(FILE *o, time_t t)
{
    struct tm tm;
    char b[32];
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    jsonw_cstr(o, b);
}

static void put_addr(FILE *o, const struct resolver_addr *a)
{
    char b[INET6_ADDRSTRLEN];
    inet_ntop(a->ipver == 4 ? AF_INET : AF_INET6, a->addr, b, sizeof(b));
    jsonw_cstr(o, b);
}

/* One address object of the report: pairs p[0..n) share the address; ok[k] says p[k]'s name is
 * still blocked by rs. */
static void put_rec(FILE *o, bool first, const struct fbaddr_rec *rec, time_t since,
                    const struct pair *p, size_t n, const bool *ok, struct resolver *r,
                    const struct ruleset *rs)
{
    static const char *const act[] = { "block", "nameless", "report" };
    fputs(first ? "{" : ",{", o);
    jsonw_key(o, "address", true);
    put_addr(o, &p[0].a);
    jsonw_key(o, "action", false);
    jsonw_cstr(o, act[rec->act]);
    jsonw_key(o, "entry", false);
    jsonw_cstr(o, ruleset_entry_text(rs, rec->entry));
    jsonw_key(o, "orders", false);
    const char *ids[REPORT_ORDERS];
    size_t no = ruleset_entry_orders(rs, rec->entry, ids, REPORT_ORDERS);
    fputc('[', o);
    for (size_t i = 0; i < no && i < REPORT_ORDERS; i++) {
        if (i)
            fputc(',', o);
        jsonw_cstr(o, ids[i]);
    }
    fputc(']', o);
    jsonw_key(o, "names_count", false);
    fprintf(o, "%u", rec->names);
    jsonw_key(o, "names", false);
    fputc('[', o);
    size_t w = 0;
    for (size_t k = 0; k < n && w < REPORT_NAMES; k++) {
        if (!ok[k])
            continue;
        if (w++)
            fputc(',', o);
        jsonw_cstr(o, resolver_name(r, p[k].name));
    }
    fputc(']', o);
    jsonw_key(o, "since", false);
    put_time(o, since);
    fputc('}', o);
}

struct fbaddr *fallback_build(struct fallback *f, struct resolver *r, const struct ruleset *rs,
                              time_t now)
{
    struct fbaddr *fb = NULL;
    struct pair *p = NULL;
    struct fbaddr_rec *rec = NULL;
    struct since *ns = NULL;
    bool *ok = NULL;
    char *blk = NULL, *held = NULL;
    size_t blk_len = 0, held_len = 0;
    FILE *ob = open_memstream(&blk, &blk_len), *oh = open_memstream(&held, &held_len);
    if (!ob || !oh)
        goto out;

    resolver_lock(r);
    size_t np = 0, nn = resolver_count(r);
    for (size_t i = 0; i < nn; i++) {
        const struct resolver_addr *a;
        np += resolver_addrs(r, i, &a);
    }
    p = malloc((np ? np : 1) * sizeof(*p));
    rec = malloc((np ? np : 1) * sizeof(*rec));
    ns = malloc((np ? np : 1) * sizeof(*ns));
    ok = malloc((np ? np : 1) * sizeof(*ok));
    if (!p || !rec || !ns || !ok) {
        resolver_unlock(r);
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < nn; i++) {
        const struct resolver_addr *a;
        size_t na = resolver_addrs(r, i, &a);
        for (size_t j = 0; j < na; j++)
            p[k++] = (struct pair){ a[j], (uint32_t)i };
    }
    qsort(p, np, sizeof(*p), pair_cmp);
    size_t nrec = 0, nb = 0, nh = 0;
    for (size_t g = 0; g < np;) {
        size_t e = g + 1;
        while (e < np && addr_cmp(p[e].a.ipver, p[e].a.addr, p[g].a.ipver, p[g].a.addr) == 0)
            e++;
        struct fbaddr_rec *x = &rec[nrec];
        memset(x, 0, sizeof(*x));
        x->entry = RULESET_NO_ENTRY;
        for (size_t q = g; q < e; q++) {
            const char *name = resolver_name(r, p[q].name);
            struct rule_match m;
            ok[q - g + 0] = false;
            if (!ruleset_match_domain(rs, name, strlen(name), &m))
                continue; /* no longer blocked */
            ok[q - g] = true;
            x->names++;
            if (x->entry == RULESET_NO_ENTRY)
                x->entry = m.entry;
        }
        if (x->names > 0) {
            x->ipver = p[g].a.ipver;
            memcpy(x->addr, p[g].a.addr, 16);
            x->act = FBADDR_BLOCK;
            if (x->names >= f->c.threshold)
                x->act = f->c.policy == FALLBACK_SHARED_BLOCK      ? FBADDR_BLOCK
                         : f->c.policy == FALLBACK_SHARED_NAMELESS ? FBADDR_NAMELESS
                                                                   : FBADDR_REPORT;
            time_t t = since_of(f, x, now);
            ns[nrec] = (struct since){ x->ipver, x->act, { 0 }, t };
            memcpy(ns[nrec].addr, x->addr, 16);
            bool shared = x->names >= f->c.threshold;
            put_rec(shared ? oh : ob, shared ? nh++ == 0 : nb++ == 0, x, t, p + g, e - g, ok, r,
                    rs);
            nrec++;
        }
        g = e;
    }
    resolver_unlock(r);
    fb = fbaddr_build(rec, nrec);
    if (!fb)
        goto out;
    fclose(ob);
    fclose(oh);
    ob = oh = NULL;

    char *doc = NULL;
    size_t doc_len = 0;
    FILE *o = open_memstream(&doc, &doc_len);
    if (o) {
        fputs("{", o);
        jsonw_key(o, "format", true);
        jsonw_cstr(o, "qorgau-fallback/1");
        jsonw_key(o, "generated", false);
        put_time(o, now);
        jsonw_key(o, "shared_threshold", false);
        fprintf(o, "%u", f->c.threshold);
        jsonw_key(o, "shared_policy", false);
        jsonw_cstr(o, fallback_policy_name(f->c.policy));
        jsonw_key(o, "names", false);
        fprintf(o, "%zu", nn);
        jsonw_key(o, "addresses", false);
        fprintf(o, "%zu", nrec);
        jsonw_key(o, "blocked", false);
        fprintf(o, "[%s]", blk);
        jsonw_key(o, "held", false);
        fprintf(o, "[%s]}\n", held);
        if (fclose(o) != 0) {
            free(doc);
            doc = NULL;
        }
    }
    pthread_mutex_lock(&f->mu);
    if (doc) {
        free(f->report);
        f->report = doc;
    }
    pthread_mutex_unlock(&f->mu);
    free(f->since);
    f->since = ns; /* sorted: built in address order */
    f->nsince = nrec;
    ns = NULL;

out:
    if (ob)
        fclose(ob);
    if (oh)
        fclose(oh);
    free(blk);
    free(held);
    free(p);
    free(rec);
    free(ns);
    free(ok);
    return fb;
}

char *fallback_report(struct fallback *f)
{
    pthread_mutex_lock(&f->mu);
    char *s = f->report ? strdup(f->report) : NULL;
    pthread_mutex_unlock(&f->mu);
    return s;
}
