/* hits.c - per-worker hit tables and their batched flush to the store (hits.h). */
#include "proxy/daemon/hits.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16 /* slots looked at before a table counts as full for this key */

struct slot {
    const struct ruleset *rs; /* NULL: free; else one reference held */
    uint32_t entry;
    uint64_t count, first_ms, last_ms;
};

struct table {
    atomic_flag lock;
    uint64_t ech_pass, ech_block; /* ECH flows since the last flush (under lock) */
    struct slot s[HITS_SLOTS];
    char pad[64];
};

struct hits {
    unsigned n;
    struct table *t;
    struct slot *scratch; /* the flusher's copy of one table */
    struct store_hit *pend;
    size_t npend, cap;
    _Atomic uint64_t dropped;
    uint64_t ech_pass, ech_block; /* taken from the tables, not yet in the store */
};

struct hits *hits_new(unsigned workers)
{
    struct hits *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->n = workers ? workers : 1;
    h->t = calloc(h->n, sizeof(*h->t));
    h->scratch = calloc(HITS_SLOTS, sizeof(*h->scratch));
    if (!h->t || !h->scratch) {
        hits_free(h);
        return NULL;
    }
    for (unsigned i = 0; i < h->n; i++)
        atomic_flag_clear(&h->t[i].lock);
    return h;
}

static void pend_clear(struct hits *h)
{
    for (size_t i = 0; i < h->npend; i++) {
        free((char *)h->pend[i].order);
        free((char *)h->pend[i].entry);
    }
    free(h->pend);
    h->pend = NULL;
    h->npend = h->cap = 0;
}

void hits_free(struct hits *h)
{
    if (!h)
        return;
    for (unsigned i = 0; h->t && i < h->n; i++)
        for (size_t k = 0; k < HITS_SLOTS; k++)
            ruleset_free((struct ruleset *)h->t[i].s[k].rs);
    pend_clear(h);
    free(h->t);
    free(h->scratch);
    free(h);
}

static void lock(struct table *t)
{
    while (atomic_flag_test_and_set_explicit(&t->lock, memory_order_acquire))
        ;
}

static void unlock(struct table *t)
{
    atomic_flag_clear_explicit(&t->lock, memory_order_release);
}

void hits_note(struct hits *h, unsigned worker, const struct ruleset *rs, uint32_t entry,
               uint64_t now_ms)
{
    if (!h || !rs || entry == RULESET_NO_ENTRY)
        return;
    struct table *t = &h->t[worker % h->n];
    uint64_t k = (uint64_t)(uintptr_t)rs ^ ((uint64_t)entry * 0x9e3779b97f4a7c15ull);
    size_t i = (size_t)((k ^ (k >> 29)) & (HITS_SLOTS - 1));
    lock(t);
    for (unsigned p = 0; p < PROBE; p++, i = (i + 1) & (HITS_SLOTS - 1)) {
        struct slot *s = &t->s[i];
        if (s->rs == rs && s->entry == entry) {
            s->count++;
            s->last_ms = now_ms > s->last_ms ? now_ms : s->last_ms;
            unlock(t);
            return;
        }
        if (!s->rs) {
            s->rs = ruleset_ref(rs);
            s->entry = entry;
            s->count = 1;
            s->first_ms = s->last_ms = now_ms;
            unlock(t);
            return;
        }
    }
    unlock(t);
    atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
}

/* Appends one pending hit (copies of the strings). */
static int pend_add(struct hits *h, const char *order, const char *entry, const struct slot *s)
{
    if (h->npend >= HITS_PENDING_MAX) {
        atomic_fetch_add_explicit(&h->dropped, s->count, memory_order_relaxed);
        return 0;
    }
    if (h->npend == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct store_hit *nv = realloc(h->pend, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        h->pend = nv;
        h->cap = cap;
    }
    char *o = strdup(order), *e = strdup(entry);
    if (!o || !e) {
        free(o);
        free(e);
        return -ENOMEM;
    }
    h->pend[h->npend++] = (struct store_hit){ o, e, s->count, s->first_ms, s->last_ms };
    return 0;
}

int hits_flush(struct hits *h, struct store *s, char *err, size_t errlen)
{
    int rc = 0;
    for (unsigned w = 0; w < h->n; w++) {
        struct table *t = &h->t[w];
        size_t m = 0;
        lock(t);
        for (size_t i = 0; i < HITS_SLOTS; i++)
            if (t->s[i].rs) {
                h->scratch[m++] = t->s[i];
                t->s[i].rs = NULL;
            }
        unlock(t);
        for (size_t i = 0; i < m; i++) {
            const struct slot *sl = &h->scratch[i];
            const char *text = ruleset_entry_text(sl->rs, sl->entry);
            const char *orders[64];
            size_t no = ruleset_entry_orders(sl->rs, sl->entry, orders, 64);
            for (size_t k = 0; k < no && k < 64 && text && !rc; k++)
                if (orders[k] && orders[k][0] && store_id_valid(orders[k], strlen(orders[k])))
                    rc = pend_add(h, orders[k], text, sl);
            ruleset_free((struct ruleset *)sl->rs);
        }
    }
    if (rc) {
        snprintf(err, errlen, "hits: out of memory");
        return rc;
    }
    if (!h->npend)
        return 0;
    rc = store_hits_add(s, h->pend, h->npend, err, errlen);
    if (rc)
        return rc; /* kept for the next flush */
    int n = (int)(h->npend > INT32_MAX ? INT32_MAX : h->npend);
    pend_clear(h);
    return n;
}

uint64_t hits_dropped(const struct hits *h)
{
    return h ? atomic_load_explicit(&h->dropped, memory_order_relaxed) : 0;
}

void hits_note_ech(struct hits *h, unsigned worker, bool blocked)
{
    if (!h)
        return;
    struct table *t = &h->t[worker % h->n];
    lock(t);
    if (blocked)
        t->ech_block++;
    else
        t->ech_pass++;
    unlock(t);
}

struct ech_doc {
    uint64_t pass, block, first_ms;
};

static int ech_cb(void *ctx, const char *bytes, size_t len)
{
    struct ech_doc *e = ctx;
    json_t *j = json_loadb(bytes, len, 0, NULL);
    if (j) { /* a document that is not ours (not JSON) counts from zero again */
        e->pass = (uint64_t)json_integer_value(json_object_get(j, "passed"));
        e->block = (uint64_t)json_integer_value(json_object_get(j, "blocked"));
        e->first_ms = (uint64_t)json_integer_value(json_object_get(j, "first_ms"));
        json_decref(j);
    }
    return 0;
}

int hits_flush_ech(struct hits *h, struct store *s, const char *node, uint64_t now_ms, char *err,
                   size_t errlen)
{
    for (unsigned w = 0; w < h->n; w++) {
        struct table *t = &h->t[w];
        lock(t);
        h->ech_pass += t->ech_pass;
        h->ech_block += t->ech_block;
        t->ech_pass = t->ech_block = 0;
        unlock(t);
    }
    if (!h->ech_pass && !h->ech_block)
        return 0;
    struct ech_doc e = { 0, 0, 0 };
    int rc = store_doc_get(s, "ech", node, ech_cb, &e, err, errlen);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    e.pass += h->ech_pass;
    e.block += h->ech_block;
    if (!e.first_ms)
        e.first_ms = now_ms;
    char doc[STORE_ID_MAX + 160];
    int n = snprintf(doc, sizeof(doc),
                     "{\"node\":\"%s\",\"passed\":%llu,\"blocked\":%llu,\"first_ms\":%llu,"
                     "\"updated_ms\":%llu}",
                     node, (unsigned long long)e.pass, (unsigned long long)e.block,
                     (unsigned long long)e.first_ms, (unsigned long long)now_ms);
    rc = store_doc_put(s, "ech", node, doc, (size_t)n, err, errlen);
    if (rc < 0)
        return rc;
    h->ech_pass = h->ech_block = 0;
    return 1;
}
