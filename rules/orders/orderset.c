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

struct ruleset *orderset_apply(const struct ruleset *cur, const struct order *const *add,
                               size_t nadd, const char *const *revoke_ids, size_t nrevoke, int *rc,
                               char *err, size_t errlen)
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
            if (rc)
                *rc = -EINVAL;
            return NULL;
        } else {
            nlifts += o->nrestores * (o->nres ? o->nres : 1);
        }
    }
    struct ruleset_claim *claims = malloc((nclaims + 1) * sizeof(*claims));
    struct ruleset_lift *lifts = malloc((nlifts + 1) * sizeof(*lifts));
    struct ruleset *rs = NULL;
    if (!claims || !lifts) {
        snprintf(err, errlen, "orders: out of memory");
        if (rc)
            *rc = -ENOMEM;
        goto done;
    }
    size_t nc = 0, nl = 0;
    for (size_t i = 0; i < nrevoke; i++)
        lifts[nl++] = (struct ruleset_lift){ revoke_ids[i], NULL, 0 };
    for (size_t i = 0; i < nadd; i++) {
        const struct order *o = add[i];
        if (o->action == ORDER_RESTRICT) {
            for (size_t j = 0; j < o->nres; j++) {
                const struct order_resource *r = &o->res[j];
                claims[nc++] = (struct ruleset_claim){ r->norm, strlen(r->norm), o->id,
                                                       r->category ? r->category : o->category };
            }
            continue;
        }
        for (size_t k = 0; k < o->nrestores; k++) {
            if (o->nres == 0)
                lifts[nl++] = (struct ruleset_lift){ o->restores[k], NULL, 0 };
            for (size_t j = 0; j < o->nres; j++)
                lifts[nl++] =
                    (struct ruleset_lift){ o->restores[k], o->res[j].norm, strlen(o->res[j].norm) };
        }
    }
    rs = ruleset_apply(cur, claims, nc, lifts, nl, rc, err, errlen);
done:
    free(claims);
    free(lifts);
    return rs;
}
