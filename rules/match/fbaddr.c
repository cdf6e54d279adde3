/* fbaddr.c - the IP fallback address table (see fbaddr.h): open addressing over a copy of the
 * records, power-of-two slots at most half full, linear probing. */
#include "rules/match/fbaddr.h"

#include <stdlib.h>
#include <string.h>

struct fbaddr {
    struct fbaddr_rec *rec;
    size_t n;
    uint32_t *slot; /* index + 1 into rec; 0 = empty */
    size_t mask;
};

static uint64_t addr_hash(int ipver, const uint8_t *a)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)ipver;
    size_t len = ipver == 4 ? 4 : 16;
    for (size_t i = 0; i < len; i++) {
        h ^= a[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static int same(const struct fbaddr_rec *r, int ipver, const uint8_t *a)
{
    return r->ipver == ipver && memcmp(r->addr, a, ipver == 4 ? 4 : 16) == 0;
}

struct fbaddr *fbaddr_build(const struct fbaddr_rec *r, size_t n)
{
    struct fbaddr *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    t->rec = malloc((n ? n : 1) * sizeof(*t->rec));
    t->slot = calloc(cap, sizeof(*t->slot));
    if (!t->rec || !t->slot) {
        fbaddr_free(t);
        return NULL;
    }
    t->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        if (r[i].ipver != 4 && r[i].ipver != 6)
            continue;
        size_t s = (size_t)addr_hash(r[i].ipver, r[i].addr) & t->mask;
        while (t->slot[s] && !same(&t->rec[t->slot[s] - 1], r[i].ipver, r[i].addr))
            s = (s + 1) & t->mask;
        if (t->slot[s])
            continue; /* a duplicate: the first record stays */
        t->rec[t->n] = r[i];
        if (r[i].ipver == 4)
            memset(t->rec[t->n].addr + 4, 0, 12);
        t->slot[s] = (uint32_t)++t->n;
    }
    return t;
}

void fbaddr_free(struct fbaddr *t)
{
    if (!t)
        return;
    free(t->rec);
    free(t->slot);
    free(t);
}

const struct fbaddr_rec *fbaddr_lookup(const struct fbaddr *t, int ipver, const uint8_t *addr)
{
    if (!t || t->n == 0 || (ipver != 4 && ipver != 6))
        return NULL;
    size_t s = (size_t)addr_hash(ipver, addr) & t->mask;
    while (t->slot[s]) {
        const struct fbaddr_rec *r = &t->rec[t->slot[s] - 1];
        if (same(r, ipver, addr))
            return r;
        s = (s + 1) & t->mask;
    }
    return NULL;
}

size_t fbaddr_count(const struct fbaddr *t)
{
    return t ? t->n : 0;
}

size_t fbaddr_bytes(const struct fbaddr *t)
{
    return t ? sizeof(*t) + t->n * sizeof(*t->rec) + (t->mask + 1) * sizeof(*t->slot) : 0;
}
