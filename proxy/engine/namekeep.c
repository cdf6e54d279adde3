/* namekeep.c - names of passed connections, kept to be judged again (see namekeep.h). */
#include "proxy/engine/namekeep.h"

#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"
#include "proxy/flow/owners.h"

struct namekeep {
    uint32_t n;
    uint32_t free_head; /* entry number, 0: none */
    uint32_t hwm;       /* entries ever used: the ones above were never touched */
    struct namekeep_entry *e;
    uint16_t *next_free; /* n + 1, indexed by entry number */
    struct owners *own;  /* entries per client, with a share; NULL: none */
    uint32_t share;
    struct namekeep_stats st;
};

struct namekeep *namekeep_new(uint32_t n)
{
    if (n == 0 || n > NAMEKEEP_MAX)
        return NULL;
    struct namekeep *nk = calloc(1, sizeof *nk);
    if (!nk)
        return NULL;
    nk->n = n;
    nk->e = bigmem_alloc((size_t)n * sizeof *nk->e);
    nk->next_free = calloc((size_t)n + 1, sizeof *nk->next_free);
    if (!nk->e || !nk->next_free) {
        namekeep_free(nk);
        return NULL;
    }
    return nk;
}

void namekeep_free(struct namekeep *nk)
{
    if (!nk)
        return;
    bigmem_free(nk->e, (size_t)nk->n * sizeof *nk->e);
    free(nk->next_free);
    owners_free(nk->own);
    free(nk);
}

bool namekeep_set_share(struct namekeep *nk, uint32_t share, unsigned prefix6)
{
    if (share == 0 || share >= nk->n)
        return true;
    nk->own = owners_new(nk->n, prefix6);
    nk->share = nk->own ? share : 0;
    return nk->own != NULL;
}

/* A free entry's number: one given back, else one never used; 0 when the table is full. */
static uint32_t take(struct namekeep *nk)
{
    if (nk->free_head) {
        uint32_t at = nk->free_head;
        nk->free_head = nk->next_free[at];
        return at;
    }
    return nk->hwm < nk->n ? ++nk->hwm : 0;
}

uint32_t namekeep_put(struct namekeep *nk, uint32_t at, const void *owner, uint32_t gen,
                      const char *name, size_t len, bool ech, int ipver, const uint8_t *client)
{
    if (len == 0 || len > NAMEKEEP_NAME_MAX || !owner) {
        nk->st.too_long += len > NAMEKEEP_NAME_MAX;
        return 0;
    }
    if (at == 0 || at > nk->n || !nk->e[at - 1].owner) {
        if (nk->own && !owners_take(nk->own, ipver, client, nk->share)) {
            nk->st.client_full++; /* the rest of the table stays for the other clients */
            return 0;
        }
        at = take(nk);
        if (!at) {
            if (nk->own)
                owners_give(nk->own, ipver, client);
            nk->st.full++;
            return 0;
        }
        nk->st.in_use++;
        struct namekeep_entry *n = &nk->e[at - 1];
        n->ipver = (uint8_t)ipver;
        memset(n->client, 0, sizeof n->client);
        memcpy(n->client, client, ipver == 4 ? 4 : 16);
    }
    struct namekeep_entry *x = &nk->e[at - 1];
    x->owner = owner;
    x->gen = gen;
    x->len = (uint8_t)len;
    x->ech = ech;
    memcpy(x->name, name, len);
    nk->st.noted++;
    return at;
}

const struct namekeep_entry *namekeep_get(const struct namekeep *nk, uint32_t at)
{
    if (at == 0 || at > nk->hwm || !nk->e[at - 1].owner)
        return NULL;
    return &nk->e[at - 1];
}

void namekeep_drop(struct namekeep *nk, uint32_t at)
{
    if (at == 0 || at > nk->hwm || !nk->e[at - 1].owner)
        return;
    if (nk->own)
        owners_give(nk->own, nk->e[at - 1].ipver, nk->e[at - 1].client);
    nk->e[at - 1].owner = NULL;
    nk->next_free[at] = (uint16_t)nk->free_head;
    nk->free_head = at;
    nk->st.in_use--;
}

uint32_t namekeep_next(const struct namekeep *nk, uint32_t after)
{
    for (uint32_t at = after + 1; at <= nk->hwm; at++)
        if (nk->e[at - 1].owner)
            return at;
    return 0;
}

void namekeep_get_stats(const struct namekeep *nk, struct namekeep_stats *st)
{
    *st = nk->st;
}
