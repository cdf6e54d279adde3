/* owners.c - counters per client address in a fixed table (see owners.h). */
#include "proxy/flow/owners.h"

#include <stdlib.h>
#include <string.h>

struct owner {
    uint8_t addr[16];
    uint8_t ipver; /* 0: empty */
    uint32_t n;
};

struct owners {
    struct owner *t;
    unsigned prefix6;
    uint32_t mask; /* capacity - 1, a power of two */
    uint32_t used;
};

void owners_client_key(int ipver, const uint8_t *addr, unsigned prefix6, uint8_t key[16])
{
    if (ipver == 4) {
        memcpy(key, addr, 4);
        memset(key + 4, 0xff, 12);
        return;
    }
    if (prefix6 == 0 || prefix6 > 128)
        prefix6 = OWNERS_PREFIX6_DEFAULT;
    memset(key, 0, 16);
    memcpy(key, addr, prefix6 / 8);
    if (prefix6 % 8)
        key[prefix6 / 8] = (uint8_t)(addr[prefix6 / 8] & (0xff00u >> (prefix6 % 8)));
}

struct owners *owners_new(uint32_t holders, unsigned prefix6)
{
    if (holders == 0 || holders > (1u << 29) || prefix6 > 128)
        return NULL;
    uint32_t cap = 4;
    while (cap < 2 * holders)
        cap <<= 1;
    struct owners *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->t = calloc(cap, sizeof *o->t);
    if (!o->t) {
        free(o);
        return NULL;
    }
    o->mask = cap - 1;
    o->prefix6 = prefix6 ? prefix6 : OWNERS_PREFIX6_DEFAULT;
    return o;
}

void owners_free(struct owners *o)
{
    if (!o)
        return;
    free(o->t);
    free(o);
}

static uint32_t home(const struct owners *o, int ipver, const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15u) ^ (uint64_t)ipver) * 0xff51afd7ed558ccdu;
    h ^= h >> 32;
    return (uint32_t)h & o->mask;
}

/* The slot holding the key, or the empty slot where it would go. */
static uint32_t find(const struct owners *o, int ipver, const uint8_t key[16])
{
    uint32_t i = home(o, ipver, key);
    while (o->t[i].ipver && !(o->t[i].ipver == ipver && memcmp(o->t[i].addr, key, 16) == 0))
        i = (i + 1) & o->mask;
    return i;
}

bool owners_take(struct owners *o, int ipver, const uint8_t *addr, uint32_t limit)
{
    uint8_t key[16];
    owners_client_key(ipver, addr, o->prefix6, key);
    uint32_t i = find(o, ipver, key);
    struct owner *e = &o->t[i];
    if (!e->ipver) {
        if (o->used >= o->mask) /* keep one slot empty: probing always ends */
            return false;
        memcpy(e->addr, key, 16);
        e->ipver = (uint8_t)ipver;
        e->n = 0;
        o->used++;
    }
    if (limit && e->n >= limit)
        return false;
    e->n++;
    return true;
}

void owners_give(struct owners *o, int ipver, const uint8_t *addr)
{
    uint8_t key[16];
    owners_client_key(ipver, addr, o->prefix6, key);
    uint32_t i = find(o, ipver, key);
    if (!o->t[i].ipver)
        return;
    if (--o->t[i].n > 0)
        return;
    /* backward shift: move up every later entry of the run that may sit at or after the hole */
    o->t[i].ipver = 0;
    o->used--;
    for (uint32_t j = (i + 1) & o->mask; o->t[j].ipver; j = (j + 1) & o->mask) {
        uint32_t h = home(o, o->t[j].ipver, o->t[j].addr);
        /* j's entry may fill the hole at i when its home is not in (i, j] (cyclically) */
        bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stays)
            continue;
        o->t[i] = o->t[j];
        o->t[j].ipver = 0;
        i = j;
    }
}

uint32_t owners_count(const struct owners *o, int ipver, const uint8_t *addr)
{
    uint8_t key[16];
    owners_client_key(ipver, addr, o->prefix6, key);
    const struct owner *e = &o->t[find(o, ipver, key)];
    return e->ipver ? e->n : 0;
}
