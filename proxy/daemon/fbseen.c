/* fbseen.c - per-worker tables of names seen in traffic to IP fallback addresses and their
 * flush into the node's "fbseen" document (fbseen.h). */
#include "proxy/daemon/fbseen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hash.h"
#include "rules/match/fbaddr.h"
#include "rules/store/store.h"

struct fslot {
    uint8_t used, ref, ipver, nex;
    uint8_t addr[16];
    uint64_t first_ms, last_ms;
    uint64_t exh[FBSEEN_EXAMPLES]; /* hashes of the examples, to skip repeats */
    char ex[FBSEEN_EXAMPLES][SEENDOC_NAME_MAX + 1];
    uint8_t reg[HLL_REGS];
};

struct ftable {
    atomic_flag lock;
    struct fslot s[FBSEEN_SLOTS];
    char pad[64];
};

struct fbseen {
    unsigned n;
    struct ftable *t;
    struct fslot *scratch;     /* the flusher's copy of one table */
    struct seendoc_addr *pend; /* taken from the tables, not yet in the store */
    size_t npend;
    _Atomic uint64_t evicted;
    pthread_mutex_t cache_lock; /* the node's document as last written or read */
    struct seendoc_addr *cache;
    size_t ncache;
    bool cache_loaded;
};

struct fbseen *fbseen_new(unsigned workers)
{
    struct fbseen *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->cache_lock, NULL);
    s->n = workers ? workers : 1;
    s->t = calloc(s->n, sizeof(*s->t));
    s->scratch = calloc(FBSEEN_SLOTS, sizeof(*s->scratch));
    if (!s->t || !s->scratch) {
        fbseen_free(s);
        return NULL;
    }
    for (unsigned i = 0; i < s->n; i++)
        atomic_flag_clear(&s->t[i].lock);
    return s;
}

void fbseen_free(struct fbseen *s)
{
    if (!s)
        return;
    free(s->t);
    free(s->scratch);
    free(s->pend);
    pthread_mutex_destroy(&s->cache_lock);
    free(s->cache);
    free(s);
}

size_t fbseen_bytes(const struct fbseen *s)
{
    return s ? s->n * sizeof(*s->t) + FBSEEN_SLOTS * sizeof(*s->scratch) : 0;
}

uint64_t fbseen_evicted(const struct fbseen *s)
{
    return s ? atomic_load_explicit(&s->evicted, memory_order_relaxed) : 0;
}

static void lock(struct ftable *t)
{
    while (atomic_flag_test_and_set_explicit(&t->lock, memory_order_acquire))
        ;
}

static void unlock(struct ftable *t)
{
    atomic_flag_clear_explicit(&t->lock, memory_order_release);
}

/* The slot of addr in t: found, free, or the first in the probe window not used since the last
 * sweep (the reference bits of the window are cleared on the way: a clock over the window). */
static struct fslot *slot_of(struct fbseen *fs, struct ftable *t, int ipver, const uint8_t *a16,
                             uint64_t ah)
{
    size_t i = (size_t)(ah & (FBSEEN_SLOTS - 1));
    struct fslot *victim = NULL;
    for (unsigned p = 0; p < FBSEEN_PROBE; p++) {
        struct fslot *s = &t->s[(i + p) & (FBSEEN_SLOTS - 1)];
        if (!s->used) {
            victim = s;
            break;
        }
        if (s->ipver == ipver && memcmp(s->addr, a16, 16) == 0)
            return s;
    }
    for (unsigned sweep = 0; !victim && sweep < 2; sweep++)
        for (unsigned p = 0; p < FBSEEN_PROBE && !victim; p++) {
            struct fslot *s = &t->s[(i + p) & (FBSEEN_SLOTS - 1)];
            if (s->ref)
                s->ref = 0;
            else
                victim = s;
        }
    if (victim->used)
        atomic_fetch_add_explicit(&fs->evicted, 1, memory_order_relaxed);
    memset(victim, 0, offsetof(struct fslot, reg));
    memset(victim->reg, 0, sizeof(victim->reg));
    victim->used = 1;
    victim->ipver = (uint8_t)ipver;
    memcpy(victim->addr, a16, 16);
    return victim;
}

void fbseen_note(struct fbseen *fs, unsigned worker, int ipver, const uint8_t *addr,
                 const char *name, size_t len, uint64_t now_ms)
{
    if (!fs || !addr || !name || !len || (ipver != 4 && ipver != 6))
        return;
    uint8_t a16[16] = { 0 };
    memcpy(a16, addr, ipver == 4 ? 4 : 16);
    uint64_t ah = hash_bytes(0x5eed, a16, 16);
    uint64_t nh = hll_hash(name, len);
    struct ftable *t = &fs->t[worker % fs->n];
    lock(t);
    struct fslot *s = slot_of(fs, t, ipver, a16, ah);
    s->ref = 1;
    hll_add(s->reg, nh);
    if (!s->first_ms)
        s->first_ms = now_ms;
    if (now_ms > s->last_ms)
        s->last_ms = now_ms;
    bool known = false;
    for (unsigned k = 0; k < s->nex; k++)
        known |= s->exh[k] == nh;
    if (!known && s->nex < FBSEEN_EXAMPLES) {
        size_t l = len > SEENDOC_NAME_MAX ? SEENDOC_NAME_MAX : len;
        memcpy(s->ex[s->nex], name, l);
        s->ex[s->nex][l] = '\0';
        s->exh[s->nex++] = nh;
    }
    unlock(t);
}

void fbseen_note_flow(struct fbseen *fs, unsigned worker, const struct ruleset *rs, int ipver,
                      const uint8_t *server, const char *name, size_t len, bool hidden)
{
    const struct fbaddr *fb = rs ? ruleset_fallback(rs) : NULL;
    if (!fs || !fb || !name || !len || hidden || !server || !fbaddr_lookup(fb, ipver, server))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    fbseen_note(fs, worker, ipver, server, name, len,
                (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Replaces the cache with v[0..n) (taken). */
static void cache_set(struct fbseen *fs, struct seendoc_addr *v, size_t n)
{
    pthread_mutex_lock(&fs->cache_lock);
    free(fs->cache);
    fs->cache = v;
    fs->ncache = n;
    fs->cache_loaded = true;
    pthread_mutex_unlock(&fs->cache_lock);
}

/* Adds names_seen / names_seen_examples to the entries of arr found in the cache. */
static void annotate_list(const struct fbseen *fs, json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *addr = json_string_value(json_object_get(e, "address"));
        const struct seendoc_addr *a = addr ? seendoc_find(fs->cache, fs->ncache, addr) : NULL;
        if (!seendoc_names(a))
            continue;
        json_t *ex = json_array();
        for (unsigned k = 0; ex && k < a->nex; k++)
            json_array_append_new(ex, json_string_nocheck(a->ex[k]));
        json_object_set_new(e, "names_seen", json_integer((json_int_t)seendoc_names(a)));
        if (ex)
            json_object_set_new(e, "names_seen_examples", ex);
    }
}

char *fbseen_annotate(struct fbseen *fs, const char *report)
{
    if (!fs || !report)
        return NULL;
    json_t *j = json_loads(report, 0, NULL);
    if (!j)
        return NULL;
    pthread_mutex_lock(&fs->cache_lock);
    if (fs->ncache) {
        annotate_list(fs, json_object_get(j, "blocked"));
        annotate_list(fs, json_object_get(j, "held"));
    }
    pthread_mutex_unlock(&fs->cache_lock);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s)
        return NULL;
    size_t l = strlen(s);
    char *out = realloc(s, l + 2);
    if (!out) {
        free(s);
        return NULL;
    }
    out[l] = '\n';
    out[l + 1] = '\0';
    return out;
}

struct getdoc {
    struct seendoc_addr **v;
    size_t *n;
    int rc;
};

static int get_cb(void *ctx, const char *bytes, size_t len)
{
    struct getdoc *g = ctx;
    int rc = seendoc_merge(bytes, len, g->v, g->n);
    g->rc = rc == -ENOMEM ? rc : 0; /* a document that is not ours starts again from nothing */
    return 0;
}

int fbseen_flush(struct fbseen *fs, struct store *st, const char *node, uint64_t now_ms, char *err,
                 size_t errlen)
{
    for (unsigned w = 0; w < fs->n; w++) {
        struct ftable *t = &fs->t[w];
        size_t m = 0;
        lock(t);
        for (size_t i = 0; i < FBSEEN_SLOTS; i++)
            if (t->s[i].used) {
                fs->scratch[m++] = t->s[i];
                t->s[i].used = 0;
            }
        unlock(t);
        for (size_t i = 0; i < m; i++) {
            const struct fslot *sl = &fs->scratch[i];
            struct seendoc_addr a;
            memset(&a, 0, sizeof(a));
            inet_ntop(sl->ipver == 4 ? AF_INET : AF_INET6, sl->addr, a.address, sizeof(a.address));
            a.first_ms = sl->first_ms;
            a.last_ms = sl->last_ms;
            memcpy(a.reg, sl->reg, HLL_REGS);
            for (unsigned k = 0; k < sl->nex; k++)
                memcpy(a.ex[a.nex++], sl->ex[k], sizeof(sl->ex[k]));
            if (seendoc_add(&fs->pend, &fs->npend, &a)) {
                snprintf(err, errlen, "fbseen: out of memory");
                return -ENOMEM;
            }
        }
    }
    if (!fs->npend && fs->cache_loaded)
        return 0;
    struct seendoc_addr *v = NULL;
    size_t n = 0;
    struct getdoc g = { &v, &n, 0 };
    int rc = store_doc_get(st, "fbseen", node, get_cb, &g, err, errlen);
    if (rc < 0 && rc != -ENOENT) {
        free(v);
        return rc;
    }
    if (!fs->npend) { /* the first call: what earlier runs left, for fbseen_annotate() */
        cache_set(fs, v, n);
        return 0;
    }
    for (size_t i = 0; i < fs->npend && !g.rc; i++)
        g.rc = seendoc_add(&v, &n, &fs->pend[i]);
    char *doc = NULL;
    size_t dlen = 0;
    FILE *f = g.rc ? NULL : open_memstream(&doc, &dlen);
    if (!f) {
        free(v);
        snprintf(err, errlen, "fbseen: out of memory");
        return -ENOMEM;
    }
    seendoc_write(f, node, now_ms, v, n);
    if (fclose(f) != 0) {
        free(v);
        free(doc);
        snprintf(err, errlen, "fbseen: out of memory");
        return -ENOMEM;
    }
    rc = store_doc_put(st, "fbseen", node, doc, dlen, err, errlen);
    free(doc);
    if (rc < 0) {
        free(v);
        return rc; /* kept for the next flush */
    }
    cache_set(fs, v, n < SEENDOC_ADDRESSES ? n : SEENDOC_ADDRESSES);
    free(fs->pend);
    fs->pend = NULL;
    fs->npend = 0;
    return 1;
}
