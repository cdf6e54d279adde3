/* fallback.c - the shared address policy, the since-when record and the report (fallback.h). */
#include "rules/resolve/fallback.h"

#include <arpa/inet.h>
#include <errno.h>
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
    pthread_mutex_t mu; /* report, since */
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

int fallback_parse_prefixes(const char *csv, struct fallback_prefix *out, size_t cap, char *err,
                            size_t errlen)
{
    size_t n = 0;
    for (const char *it = csv; *it;) {
        size_t len = strcspn(it, ","), b = 0, e = len;
        while (b < e && (it[b] == ' ' || it[b] == '\t'))
            b++;
        while (e > b && (it[e - 1] == ' ' || it[e - 1] == '\t'))
            e--;
        char item[64];
        struct fallback_prefix p;
        memset(&p, 0, sizeof(p));
        bool ok = e > b && e - b < sizeof(item) && n < cap;
        if (ok) {
            memcpy(item, it + b, e - b);
            item[e - b] = '\0';
            char *slash = strchr(item, '/');
            if (slash)
                *slash = '\0';
            p.ipver = strchr(item, ':') ? 6 : 4;
            ok = inet_pton(p.ipver == 4 ? AF_INET : AF_INET6, item, p.addr) == 1;
            unsigned max = p.ipver == 4 ? 32 : 128, v = max;
            if (ok && slash) {
                const char *d = slash + 1;
                v = 0;
                ok = *d != '\0' && strlen(d) <= 3;
                for (; ok && *d; d++) {
                    ok = *d >= '0' && *d <= '9';
                    v = v * 10 + (unsigned)(*d - '0');
                }
                ok = ok && v <= max;
            }
            p.plen = (uint8_t)v;
            if (slash)
                *slash = '/';
        }
        if (!ok) {
            snprintf(err, errlen, "'%.*s' is not an address or prefix (ip, ip/len)%s", (int)(e - b),
                     it + b, n >= cap ? " or one too many" : "");
            return -EINVAL;
        }
        out[n++] = p;
        it += len + (it[len] == ',');
    }
    return (int)n;
}

/* True if the address of x lies in a protected prefix. */
static bool protected_addr(const struct fallback *f, const struct fbaddr_rec *x)
{
    for (size_t i = 0; i < f->c.nprotect; i++) {
        const struct fallback_prefix *p = &f->c.protect[i];
        if (p->ipver != x->ipver)
            continue;
        size_t full = p->plen / 8, rest = p->plen % 8;
        if (memcmp(p->addr, x->addr, full) != 0)
            continue;
        if (rest && ((p->addr[full] ^ x->addr[full]) & (uint8_t)(0xff << (8 - rest))))
            continue;
        return true;
    }
    return false;
}

/* Since when the address of rec has had its action, in sn[0..n) (sorted), else now. */
static time_t since_of(const struct since *sn, size_t n, const struct fbaddr_rec *rec, time_t now)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = addr_cmp(sn[mid].ipver, sn[mid].addr, rec->ipver, rec->addr);
        if (c == 0)
            return sn[mid].act == rec->act ? sn[mid].t : now;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return now;
}

/* ---- the walk both the table and the report make: r's answers grouped by address ---- */

struct walk {
    struct pair *p; /* every (address, name) of r, sorted by address */
    bool *ok;       /* p[k]'s name is still blocked by the set (per group) */
    size_t np, next;
};

/* Locks r and collects its pairs. Returns 0 or -ENOMEM (r unlocked). */
static int walk_begin(struct resolver *r, struct walk *w)
{
    memset(w, 0, sizeof(*w));
    resolver_lock(r);
    size_t nn = resolver_count(r);
    for (size_t i = 0; i < nn; i++) {
        const struct resolver_addr *a;
        w->np += resolver_addrs(r, i, &a);
    }
    w->p = malloc((w->np ? w->np : 1) * sizeof(*w->p));
    w->ok = malloc((w->np ? w->np : 1) * sizeof(*w->ok));
    if (!w->p || !w->ok) {
        resolver_unlock(r);
        free(w->p);
        free(w->ok);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < nn; i++) {
        const struct resolver_addr *a;
        size_t na = resolver_addrs(r, i, &a);
        for (size_t j = 0; j < na; j++)
            w->p[k++] = (struct pair){ a[j], (uint32_t)i };
    }
    qsort(w->p, w->np, sizeof(*w->p), pair_cmp);
    return 0;
}

static void walk_end(struct resolver *r, struct walk *w)
{
    resolver_unlock(r);
    free(w->p);
    free(w->ok);
}

/* The next address some name still blocked by rs resolves to: *x gets its record, [*g, *e)
 * its pairs. False at the end. */
static bool walk_next(const struct fallback *f, struct resolver *r, const struct ruleset *rs,
                      struct walk *w, struct fbaddr_rec *x, size_t *g, size_t *e)
{
    while (w->next < w->np) {
        size_t a = w->next, b = a + 1;
        const struct pair *p = w->p;
        while (b < w->np && addr_cmp(p[b].a.ipver, p[b].a.addr, p[a].a.ipver, p[a].a.addr) == 0)
            b++;
        w->next = b;
        memset(x, 0, sizeof(*x));
        x->entry = RULESET_NO_ENTRY;
        for (size_t q = a; q < b; q++) {
            const char *name = resolver_name(r, p[q].name);
            struct rule_match m;
            w->ok[q] = ruleset_match_domain(rs, name, strlen(name), &m);
            if (!w->ok[q])
                continue; /* no longer blocked */
            x->names++;
            if (x->entry == RULESET_NO_ENTRY)
                x->entry = m.entry;
        }
        if (x->names == 0)
            continue;
        x->ipver = p[a].a.ipver;
        memcpy(x->addr, p[a].a.addr, 16);
        x->act = FBADDR_BLOCK;
        if (x->names >= f->c.threshold)
            x->act = f->c.policy == FALLBACK_SHARED_BLOCK      ? FBADDR_BLOCK
                     : f->c.policy == FALLBACK_SHARED_NAMELESS ? FBADDR_NAMELESS
                                                               : FBADDR_REPORT;
        if (f->c.nprotect && protected_addr(f, x))
            x->act = FBADDR_REPORT; /* fallback.protect: never blocked, reported */
        *g = a;
        *e = b;
        return true;
    }
    return false;
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
static void put_rec(FILE *o, bool first, const struct fbaddr_rec *rec, bool prot, time_t since,
                    const struct pair *p, size_t n, const bool *ok, struct resolver *r,
                    const struct ruleset *rs)
{
    static const char *const act[] = { "block", "nameless", "report" };
    fputs(first ? "{" : ",{", o);
    jsonw_key(o, "address", true);
    put_addr(o, &p[0].a);
    jsonw_key(o, "action", false);
    jsonw_cstr(o, act[rec->act]);
    if (prot) {
        jsonw_key(o, "protected", false);
        fputs("true", o);
    }
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
    struct walk w;
    if (walk_begin(r, &w) < 0)
        return NULL;
    struct fbaddr_rec *rec = malloc((w.np ? w.np : 1) * sizeof(*rec));
    struct since *ns = malloc((w.np ? w.np : 1) * sizeof(*ns));
    struct fbaddr *fb = NULL;
    if (rec && ns) {
        size_t nrec = 0, g, e;
        pthread_mutex_lock(&f->mu);
        while (walk_next(f, r, rs, &w, &rec[nrec], &g, &e)) {
            const struct fbaddr_rec *x = &rec[nrec];
            ns[nrec] =
                (struct since){ x->ipver, x->act, { 0 }, since_of(f->since, f->nsince, x, now) };
            memcpy(ns[nrec].addr, x->addr, 16);
            nrec++;
        }
        fb = fbaddr_build(rec, nrec);
        if (fb) {
            free(f->since);
            f->since = ns; /* sorted: made in address order */
            f->nsince = nrec;
            ns = NULL;
        }
        pthread_mutex_unlock(&f->mu);
    }
    walk_end(r, &w);
    free(rec);
    free(ns);
    return fb;
}

int fallback_render(struct fallback *f, struct resolver *r, const struct ruleset *rs, time_t now)
{
    /* the since records as the last build left them (a copy: builds go on meanwhile) */
    pthread_mutex_lock(&f->mu);
    size_t nsn = f->nsince;
    struct since *sn = malloc((nsn ? nsn : 1) * sizeof(*sn));
    if (sn && nsn)
        memcpy(sn, f->since, nsn * sizeof(*sn));
    pthread_mutex_unlock(&f->mu);
    char *blk = NULL, *held = NULL, *doc = NULL;
    size_t blk_len = 0, held_len = 0, doc_len = 0;
    FILE *ob = sn ? open_memstream(&blk, &blk_len) : NULL;
    FILE *oh = ob ? open_memstream(&held, &held_len) : NULL;
    struct walk w;
    int rc = -ENOMEM;
    if (!oh || walk_begin(r, &w) < 0)
        goto out;
    size_t nn = resolver_count(r), nrec = 0, nb = 0, nh = 0, g, e;
    struct fbaddr_rec x;
    while (walk_next(f, r, rs, &w, &x, &g, &e)) {
        bool prot = f->c.nprotect && protected_addr(f, &x);
        bool back = x.names >= f->c.threshold || prot; /* held back: listed in "held" */
        put_rec(back ? oh : ob, back ? nh++ == 0 : nb++ == 0, &x, prot, since_of(sn, nsn, &x, now),
                w.p + g, e - g, w.ok + g, r, rs);
        nrec++;
    }
    walk_end(r, &w);
    /* a write that failed (out of memory) sets the stream's error flag, which fclose does not
     * report; and fclose may leave the buffer NULL (its final realloc failed) returning 0 */
    bool werr = ferror(ob) || ferror(oh);
    if ((fclose(ob) | fclose(oh)) || werr || !blk || !held) {
        ob = oh = NULL;
        goto out;
    }
    ob = oh = NULL;
    FILE *o = open_memstream(&doc, &doc_len);
    if (!o)
        goto out;
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
    bool derr = ferror(o) != 0;
    if (fclose(o) != 0 || derr || !doc)
        goto out;
    pthread_mutex_lock(&f->mu);
    free(f->report);
    f->report = doc;
    doc = NULL;
    pthread_mutex_unlock(&f->mu);
    rc = 0;
out:
    if (ob)
        fclose(ob);
    if (oh)
        fclose(oh);
    free(blk);
    free(held);
    free(doc);
    free(sn);
    return rc;
}

char *fallback_report(struct fallback *f)
{
    pthread_mutex_lock(&f->mu);
    char *s = f->report ? strdup(f->report) : NULL;
    pthread_mutex_unlock(&f->mu);
    return s;
}
