/* iplpm.c - longest-prefix match by interval flattening (see iplpm.h).
 *
 * Prefixes are either nested or disjoint. Sorted by (start, length), a sweep with a stack of
 * open prefixes emits the points where the innermost covering prefix changes:
 *
 *   10.0.0.0/8 (A), 10.1.0.0/16 (B)  ->  [0.0.0.0 none) [10.0.0.0 A) [10.1.0.0 B)
 *                                        [10.2.0.0 A) [11.0.0.0 none)
 *
 * A lookup finds the last interval start <= address. Addresses are handled as unsigned
 * 128-bit integers (IPv4 in the low 32 bits). */
#include "rules/match/iplpm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* The prefix with value v lies inside the prefix with value parent (the innermost such). */
struct iplpm_par {
    uint32_t v, parent;
};

/* The lookup's first step: the top TOP_BITS bits of an address pick the run of intervals to
 * search (top[k] = the first interval starting at or above k's first address). */
#define TOP_BITS 12
#define TOP_N    (1u << TOP_BITS)

struct iplpm {
    int ipver;
    size_t n;
    u128 *start;
    uint32_t *value;
    struct iplpm_par *par; /* sorted by value */
    size_t npar;
    bool borrowed; /* the arrays belong to someone else (iplpm_view()) */
    uint32_t *top; /* TOP_N + 1 entries, always owned; NULL: search all (out of memory) */
};

struct pfx {
    u128 start, end;
    uint8_t plen;
    uint32_t value;
};

static u128 load(const uint8_t *a, int ipver)
{
    u128 v = 0;
    int n = ipver == 4 ? 4 : 16;
    for (int i = 0; i < n; i++)
        v = v << 8 | a[i];
    return v;
}

static int pfx_cmp(const void *a, const void *b)
{
    const struct pfx *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->plen != y->plen)
        return x->plen < y->plen ? -1 : 1;
    return x->value < y->value ? -1 : (x->value > y->value);
}

static int par_cmp(const void *a, const void *b)
{
    const struct iplpm_par *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}

void iplpm_free(struct iplpm *t)
{
    if (!t)
        return;
    if (!t->borrowed) {
        free(t->start);
        free(t->value);
        free(t->par);
    }
    free(t->top);
    free(t);
}

static unsigned top_shift(int ipver)
{
    return (ipver == 4 ? 32 : 128) - TOP_BITS;
}

/* Builds t->top over the sorted starts; left NULL if it cannot be allocated (or the intervals
 * do not fit its 32-bit entries): lookups then search every interval, with the same result. */
static void top_build(struct iplpm *t)
{
    if (t->n > UINT32_MAX)
        return;
    t->top = malloc((TOP_N + 1) * sizeof(*t->top));
    if (!t->top)
        return;
    unsigned sh = top_shift(t->ipver);
    size_t i = 0;
    for (uint32_t k = 0; k < TOP_N; k++) {
        while (i < t->n && t->start[i] < ((u128)k << sh))
            i++;
        t->top[k] = (uint32_t)i;
    }
    t->top[TOP_N] = (uint32_t)t->n;
}

/* Appends an interval start; one at the same point as the last replaces it, one with the same
 * value as the last is redundant. */
static void emit(struct iplpm *t, u128 at, uint32_t value)
{
    if (t->n > 0 && t->start[t->n - 1] == at) {
        t->n--;
    }
    if (t->n > 0 && t->value[t->n - 1] == value)
        return;
    if (t->n == 0 && value == IPLPM_NONE)
        return;
    t->start[t->n] = at;
    t->value[t->n] = value;
    t->n++;
}

struct iplpm *iplpm_build(struct iplpm_prefix *p, size_t n, int ipver)
{
    if (ipver != 4 && ipver != 6)
        return NULL;
    unsigned width = ipver == 4 ? 32 : 128;
    u128 all = width == 128 ? ~(u128)0 : (((u128)1 << 32) - 1);
    struct iplpm *t = calloc(1, sizeof(*t));
    struct pfx *v = malloc((n ? n : 1) * sizeof(*v));
    struct pfx *stack = malloc((width + 2) * sizeof(*stack));
    if (!t || !v || !stack)
        goto fail;
    t->ipver = ipver;
    for (size_t i = 0; i < n; i++) {
        if (p[i].plen > width || p[i].value == IPLPM_NONE)
            goto fail;
        u128 hostmask = p[i].plen == 0 ? all : (p[i].plen == width ? 0 : (all >> p[i].plen));
        u128 a = load(p[i].addr, ipver);
        v[i] = (struct pfx){ a & ~hostmask & all, (a & ~hostmask & all) | hostmask, p[i].plen,
                             p[i].value };
    }
    qsort(v, n, sizeof(*v), pfx_cmp);
    /* Each prefix opens and closes at most one interval each. */
    t->start = malloc((2 * n + 1) * sizeof(*t->start));
    t->value = malloc((2 * n + 1) * sizeof(*t->value));
    t->par = malloc((n ? n : 1) * sizeof(*t->par));
    if (!t->start || !t->value || !t->par)
        goto fail;
    size_t sp = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && v[i].start == v[i - 1].start && v[i].plen == v[i - 1].plen)
            continue; /* duplicate prefix */
        while (sp > 0 && stack[sp - 1].end < v[i].start) {
            u128 after = stack[sp - 1].end + 1;
            sp--;
            emit(t, after, sp ? stack[sp - 1].value : IPLPM_NONE);
        }
        /* Nested prefixes are at most width+1 deep (one per length). */
        if (sp > 0)
            t->par[t->npar++] = (struct iplpm_par){ v[i].value, stack[sp - 1].value };
        stack[sp++] = v[i];
        emit(t, v[i].start, v[i].value);
    }
    while (sp > 0) {
        u128 end = stack[sp - 1].end;
        sp--;
        if (end != all)
            emit(t, end + 1, sp ? stack[sp - 1].value : IPLPM_NONE);
    }
    qsort(t->par, t->npar, sizeof(*t->par), par_cmp);
    top_build(t);
    free(v);
    free(stack);
    return t;
fail:
    free(v);
    free(stack);
    iplpm_free(t);
    return NULL;
}

uint32_t iplpm_parent(const struct iplpm *t, uint32_t v)
{
    if (!t)
        return IPLPM_NONE;
    size_t lo = 0, hi = t->npar;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->par[mid].v < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->npar && t->par[lo].v == v ? t->par[lo].parent : IPLPM_NONE;
}

uint32_t iplpm_lookup_live(const struct iplpm *t, const uint8_t *addr, const uint64_t *dead)
{
    uint32_t v = iplpm_lookup(t, addr);
    /* each step goes to a strictly shorter prefix: at most 129 steps (a forged parent table
     * could loop, hence the bound) */
    for (unsigned k = 0; dead && v != IPLPM_NONE && (dead[v / 64] >> (v % 64) & 1) && k < 130; k++)
        v = iplpm_parent(t, v);
    return v != IPLPM_NONE && dead && (dead[v / 64] >> (v % 64) & 1) ? IPLPM_NONE : v;
}

void iplpm_parts(const struct iplpm *t, struct iplpm_parts *p)
{
    memset(p, 0, sizeof(*p));
    if (!t)
        return;
    p->ipver = t->ipver;
    p->n = t->n;
    p->start = t->start;
    p->value = t->value;
    p->nparent = t->npar;
    p->parent = t->par;
}

struct iplpm *iplpm_view(const struct iplpm_parts *p, uint32_t nvalues, char *err, size_t errlen)
{
    const char *why = NULL;
    const u128 *st = p->start;
    const uint32_t *val = p->value;
    const struct iplpm_par *par = p->parent;
    if ((p->ipver != 4 && p->ipver != 6) || (p->n && (!st || !val)) || (p->nparent && !par))
        why = "inconsistent sizes";
    for (size_t i = 0; !why && i < p->n; i++)
        if ((i > 0 && st[i] <= st[i - 1]) || (val[i] != IPLPM_NONE && val[i] >= nvalues))
            why = "interval out of order or range";
    for (size_t i = 0; !why && i < p->nparent; i++)
        if ((i > 0 && par[i].v <= par[i - 1].v) || par[i].v >= nvalues || par[i].parent >= nvalues)
            why = "parent out of order or range";
    if (why) {
        if (err && errlen)
            snprintf(err, errlen, "address table: %s", why);
        return NULL;
    }
    struct iplpm *t = calloc(1, sizeof(*t));
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->ipver = p->ipver;
    t->n = (size_t)p->n;
    t->start = (u128 *)st;
    t->value = (uint32_t *)val;
    t->npar = (size_t)p->nparent;
    t->par = (struct iplpm_par *)par;
    t->borrowed = true;
    top_build(t);
    return t;
}

uint32_t iplpm_lookup(const struct iplpm *t, const uint8_t *addr)
{
    if (!t || t->n == 0)
        return IPLPM_NONE;
    u128 a = load(addr, t->ipver);
    /* last start <= a: past every interval below a's top bits, before every one above */
    size_t lo = 0, hi = t->n;
    if (t->top) {
        size_t k = (size_t)(a >> top_shift(t->ipver));
        lo = t->top[k];
        hi = t->top[k + 1];
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->start[mid] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? IPLPM_NONE : t->value[lo - 1];
}

size_t iplpm_bytes(const struct iplpm *t)
{
    if (!t)
        return 0;
    return sizeof(*t) + t->n * (sizeof(*t->start) + sizeof(*t->value)) + t->npar * sizeof(*t->par) +
           (t->top ? (TOP_N + 1) * sizeof(*t->top) : 0);
}

size_t iplpm_intervals(const struct iplpm *t)
{
    return t ? t->n : 0;
}
