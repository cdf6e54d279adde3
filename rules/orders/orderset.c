/* orderset.c - active orders into a rule set (see orderset.h).
 *
 * Claims are numbered flat (order i's resource j is claim base[i] + j); they are sorted once by
 * entry key (kind + normalized text, a domain mask counting as its domain, as in the rule set),
 * and each resource of a restore order finds its claims by binary search. Cost: O(C log C) for
 * C claims, with two words per claim besides the builder. */
#include "rules/orders/orderset.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct claim {
    const char *key; /* normalized text, "*." dropped */
    uint32_t order;  /* index in orders */
    uint8_t kind;
};

static const char *key_of(const struct order_resource *r)
{
    return strncmp(r->norm, "*.", 2) == 0 ? r->norm + 2 : r->norm;
}

static int key_cmp(uint8_t ka, const char *a, uint8_t kb, const char *b)
{
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return strcmp(a, b);
}

static int claim_cmp(const void *x, const void *y)
{
    const struct claim *a = x, *b = y;
    return key_cmp(a->kind, a->key, b->kind, b->key);
}

/* Does restore order r lift the claims of order o? */
static bool lifts(const struct order *r, const struct order *o)
{
    if (o->action != ORDER_RESTRICT)
        return false;
    if (r->nrestores > 0) {
        for (size_t i = 0; i < r->nrestores; i++)
            if (strcmp(r->restores[i], o->id) == 0)
                return true;
        return false;
    }
    return strcmp(r->issuer, o->issuer) == 0 && o->issued_ts <= r->issued_ts;
}

int orderset_fill(struct ruleset_builder *b, const struct order *const *orders, size_t n,
                  struct orderset_stats *st, char *err, size_t errlen)
{
    struct orderset_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    st->orders = n;
    size_t *base = malloc((n + 1) * sizeof(*base));
    if (!base)
        return -ENOMEM;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        base[i] = total;
        if (orders[i]->action == ORDER_RESTRICT)
            total += orders[i]->nres;
    }
    base[n] = total;
    st->claims = total;
    struct claim *sorted = malloc((total + 1) * sizeof(*sorted));
    bool *gone = calloc(total + 1, sizeof(*gone));
    int rc = -ENOMEM;
    if (!sorted || !gone)
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (orders[i]->action != ORDER_RESTRICT)
            continue;
        for (size_t j = 0; j < orders[i]->nres; j++)
            sorted[k++] = (struct claim){ key_of(&orders[i]->res[j]), (uint32_t)i,
                                          (uint8_t)orders[i]->res[j].kind };
    }
    qsort(sorted, total, sizeof(*sorted), claim_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct order *r = orders[i];
        if (r->action != ORDER_RESTORE)
            continue;
        if (r->nres == 0) { /* lifts the named orders whole */
            for (size_t o = 0; o < n; o++) {
                if (!lifts(r, orders[o]))
                    continue;
                for (size_t j = base[o]; j < base[o + 1]; j++)
                    gone[j] = true;
            }
            continue;
        }
        for (size_t j = 0; j < r->nres; j++) {
            const char *key = key_of(&r->res[j]);
            uint8_t kind = (uint8_t)r->res[j].kind;
            size_t lo = 0, hi = total;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (key_cmp(sorted[mid].kind, sorted[mid].key, kind, key) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (; lo < total && key_cmp(sorted[lo].kind, sorted[lo].key, kind, key) == 0; lo++) {
                const struct order *o = orders[sorted[lo].order];
                if (!lifts(r, o))
                    continue;
                /* every resource of o with this key (an order may list an entry twice) */
                for (size_t x = 0; x < o->nres; x++)
                    if (o->res[x].kind == r->res[j].kind && strcmp(key_of(&o->res[x]), key) == 0)
                        gone[base[sorted[lo].order] + x] = true;
            }
        }
    }
    char why[ORDER_ERR_MAX];
    for (size_t i = 0; i < n; i++) {
        const struct order *o = orders[i];
        if (o->action != ORDER_RESTRICT)
            continue;
        for (size_t j = 0; j < o->nres; j++) {
            if (gone[base[i] + j]) {
                st->lifted++;
                continue;
            }
            const struct order_resource *res = &o->res[j];
            struct rule_attrs a = { o->id, res->category ? res->category : o->category, o->source };
            rc = ruleset_builder_add(b, res->norm, strlen(res->norm), &a, why, sizeof(why));
            if (rc) {
                if (rc == -EINVAL)
                    snprintf(err, errlen, "orders: order '%.100s': resource '%.200s': %s", o->id,
                             res->norm, why);
                goto done;
            }
            st->added++;
        }
    }
    rc = 0;
done:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "orders: out of memory while compiling %zu orders", n);
    free(base);
    free(sorted);
    free(gone);
    return rc;
}

struct ruleset *orderset_compile(const struct order *const *orders, size_t n,
                                 struct orderset_stats *st, char *err, size_t errlen)
{
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b) {
        snprintf(err, errlen, "orders: out of memory");
        return NULL;
    }
    if (orderset_fill(b, orders, n, st, err, errlen)) {
        ruleset_builder_free(b);
        return NULL;
    }
    struct ruleset *rs = ruleset_build(b);
    if (!rs)
        snprintf(err, errlen, "orders: out of memory while building the rule set");
    return rs;
}

/* A change as ruleset_apply()'s input; with text set it owns its strings (one block). */
struct orderset_change {
    struct ruleset_claim *claims;
    size_t nclaims;
    struct ruleset_lift *lifts;
    size_t nlifts;
    char *text;
};

/* Fills c with the claims and lifts of the change, pointing into the records and revoke_ids.
 * Returns 0, or -EINVAL / -ENOMEM with err set (c half filled: orderset_change_free()). */
static int change_fill(struct orderset_change *c, const struct order *const *add, size_t nadd,
                       const char *const *revoke_ids, size_t nrevoke, char *err, size_t errlen)
{
    size_t nclaims = 0, nlifts = nrevoke;
    for (size_t i = 0; i < nadd; i++) {
        const struct order *o = add[i];
        if (o->action == ORDER_RESTRICT) {
            nclaims += o->nres;
        } else if (o->nrestores == 0) {
            snprintf(err, errlen,
                     "orders: restore order '%.100s' names no order: it needs the whole order "
                     "set (compile it)",
                     o->id);
            return -EINVAL;
        } else {
            nlifts += o->nrestores * (o->nres ? o->nres : 1);
        }
    }
    c->claims = malloc((nclaims + 1) * sizeof(*c->claims));
    c->lifts = malloc((nlifts + 1) * sizeof(*c->lifts));
    if (!c->claims || !c->lifts) {
        snprintf(err, errlen, "orders: out of memory");
        return -ENOMEM;
    }
    size_t nc = 0, nl = 0;
    for (size_t i = 0; i < nrevoke; i++)
        c->lifts[nl++] = (struct ruleset_lift){ revoke_ids[i], NULL, 0 };
    for (size_t i = 0; i < nadd; i++) {
        const struct order *o = add[i];
        if (o->action == ORDER_RESTRICT) {
            for (size_t j = 0; j < o->nres; j++) {
                const struct order_resource *r = &o->res[j];
                c->claims[nc++] = (struct ruleset_claim){ r->norm, strlen(r->norm), o->id,
                                                          r->category ? r->category : o->category };
            }
            continue;
        }
        for (size_t k = 0; k < o->nrestores; k++) {
            if (o->nres == 0)
                c->lifts[nl++] = (struct ruleset_lift){ o->restores[k], NULL, 0 };
            for (size_t j = 0; j < o->nres; j++)
                c->lifts[nl++] =
                    (struct ruleset_lift){ o->restores[k], o->res[j].norm, strlen(o->res[j].norm) };
        }
    }
    c->nclaims = nc;
    c->nlifts = nl;
    return 0;
}

/* Copies s (len bytes and a NUL) to *p and moves *p past it; returns the copy. */
static const char *arena_copy(char **p, const char *s, size_t len)
{
    char *d = *p;
    memcpy(d, s, len);
    d[len] = '\0';
    *p += len + 1;
    return d;
}

/* *s copied to *p, or the copy made last (*last) when *s is its source (*src): an order's id
 * and category are copied once per run of its claims. */
static void arena_share(char **p, const char **s, const char **src, const char **last)
{
    if (!*s)
        return;
    if (*s != *src) {
        *src = *s;
        *last = arena_copy(p, *s, strlen(*s));
    }
    *s = *last;
}

/* Points c's strings at copies in one block. Returns 0 or -ENOMEM. */
static int change_own(struct orderset_change *c)
{
    size_t bytes = 1;
    const char *po = NULL, *pc = NULL;
    for (size_t i = 0; i < c->nclaims; i++) {
        const struct ruleset_claim *x = &c->claims[i];
        bytes += x->len + 1;
        if (x->order && x->order != po) {
            bytes += strlen(x->order) + 1;
            po = x->order;
        }
        if (x->category && x->category != pc) {
            bytes += strlen(x->category) + 1;
            pc = x->category;
        }
    }
    for (size_t i = 0; i < c->nlifts; i++)
        bytes += strlen(c->lifts[i].order) + 1 + (c->lifts[i].text ? c->lifts[i].len + 1 : 0);
    c->text = malloc(bytes);
    if (!c->text)
        return -ENOMEM;
    char *p = c->text;
    const char *so = NULL, *lo = NULL, *sc = NULL, *lc = NULL;
    for (size_t i = 0; i < c->nclaims; i++) {
        struct ruleset_claim *x = &c->claims[i];
        x->text = arena_copy(&p, x->text, x->len);
        arena_share(&p, &x->order, &so, &lo);
        arena_share(&p, &x->category, &sc, &lc);
    }
    for (size_t i = 0; i < c->nlifts; i++) {
        struct ruleset_lift *l = &c->lifts[i];
        l->order = arena_copy(&p, l->order, strlen(l->order));
        if (l->text)
            l->text = arena_copy(&p, l->text, l->len);
    }
    return 0;
}

void orderset_change_free(struct orderset_change *c)
{
    if (!c)
        return;
    free(c->claims);
    free(c->lifts);
    free(c->text);
    free(c);
}

struct orderset_change *orderset_change_new(const struct order *const *add, size_t nadd,
                                            const char *const *revoke_ids, size_t nrevoke, int *rc,
                                            char *err, size_t errlen)
{
    struct orderset_change *c = calloc(1, sizeof(*c));
    int e = c ? change_fill(c, add, nadd, revoke_ids, nrevoke, err, errlen) : -ENOMEM;
    if (e == 0 && change_own(c) < 0)
        e = -ENOMEM;
    if (e < 0) {
        if (e == -ENOMEM)
            snprintf(err, errlen, "orders: out of memory");
        if (rc)
            *rc = e;
        orderset_change_free(c);
        return NULL;
    }
    return c;
}

struct ruleset *orderset_change_apply(const struct ruleset *cur, const struct orderset_change *c,
                                      int *rc, char *err, size_t errlen)
{
    return ruleset_apply(cur, c->claims, c->nclaims, c->lifts, c->nlifts, rc, err, errlen);
}

struct ruleset *orderset_apply(const struct ruleset *cur, const struct order *const *add,
                               size_t nadd, const char *const *revoke_ids, size_t nrevoke, int *rc,
                               char *err, size_t errlen)
{
    struct orderset_change c;
    memset(&c, 0, sizeof(c));
    struct ruleset *rs = NULL;
    int e = change_fill(&c, add, nadd, revoke_ids, nrevoke, err, errlen);
    if (e == 0)
        rs = orderset_change_apply(cur, &c, rc, err, errlen);
    else if (rc)
        *rc = e;
    free(c.claims);
    free(c.lifts);
    return rs;
}
