/* domhash.c - label-suffix hash index over names (see domhash.h).
 *
 * Layout:
 *
 *   bloom  nlines 64-byte lines (14 bits per key); a key sets one bit in each of the 8 words
 *          of the line its hash selects (split-block Bloom filter)
 *   slot   cap = 1.5n + 1 slots of 8 bytes, linear probing: { off: u32, tv: u32 }, tv =
 *          UINT32_MAX (empty) or tag (2 bits of the hash) << 30 | value; off is where the
 *          key starts in the caller's pool, so a candidate is verified against its text
 *          with one more memory access (no indirection through the caller's offset array)
 *
 * Hash of a name: its labels are hashed a word at a time and folded in from the last to the
 * first; the hash after folding in the label that starts at byte a is the hash of the suffix
 * q[a..len), which is the hash the key equal to that suffix was stored under. A LABEL lookup
 * computes them all in one pass, prefetches their filter lines, then tests the longest first:
 * the first suffix that passes the filter and is found in the table is the most specific key. */
#include "rules/match/domhash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/compiler.h"
#include "common/hash.h"

#define DH_BLOOM_BITS_PER_KEY 14
#define DH_SCREEN_MAX \
    DOMHASH_QUERY_MAX /* suffixes screened together; deeper names are checked one by one */
#define DH_EMPTY UINT32_MAX
#define DH_VMASK ((1u << 30) - 1)
#define DH_SEED  0x243F6A8885A308D3ULL
#define DH_K1    0x9E3779B97F4A7C15ULL
#define DH_K2    0xC2B2AE3D27D4EB4FULL

struct dh_slot {
    uint32_t off; /* key text at pool + off */
    uint32_t tv;  /* tag << 30 | value, DH_EMPTY */
};

struct domhash {
    const char *pool;
    size_t n;   /* distinct keys stored */
    size_t cap; /* slots */
    struct dh_slot *slot;
    uint64_t *bloom;
    uint32_t nlines;
    size_t slot_bytes, bloom_bytes;
    bool borrowed; /* slot and bloom belong to someone else (domhash_view()) */
};

/* 8 bytes at p as a little-endian integer, whatever the host byte order. */
static inline uint64_t dh_ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Hash of one label p[0..n), a word at a time; only bytes before end are read. */
static inline uint64_t dh_label_hash(const uint8_t *p, size_t n, const uint8_t *end)
{
    uint64_t x = (uint64_t)(n + 1) * DH_K1;
    for (; n >= 8; p += 8, n -= 8)
        x = (x ^ dh_ld64(p)) * DH_K2;
    if (n) {
        uint64_t c = 0;
        if (end - p >= 8) {
            c = dh_ld64(p) & ((1ULL << (8 * n)) - 1);
        } else {
            for (size_t i = 0; i < n; i++)
                c |= (uint64_t)p[i] << (8 * i);
        }
        x = (x ^ c) * DH_K2;
    }
    return x;
}

static inline uint64_t dh_fold(uint64_t h, uint64_t label)
{
    return (h ^ label) * DH_K1 + (h >> 29);
}

/* Hash of a whole key: the hash a lookup computes for the suffix equal to it. */
static uint64_t dh_key_hash(const uint8_t *s, size_t len)
{
    uint64_t h = DH_SEED;
    size_t b = len;
    for (;;) {
        size_t a = b;
        while (a > 0 && s[a - 1] != '.')
            a--;
        h = dh_fold(h, dh_label_hash(s + a, b - a, s + len));
        if (a == 0)
            return hash_mix64(h);
        b = a - 1;
    }
}

/* The filter line takes the high 32 bits of the hash, the table slot the low 32, the tag and
 * the bit positions in the line a second mix. */
static inline const uint64_t *dh_line(const struct domhash *d, uint64_t m)
{
    return d->bloom + (size_t)(((m >> 32) * (uint64_t)d->nlines) >> 32) * 8;
}

static inline size_t dh_pos(const struct domhash *d, uint64_t m)
{
    return (size_t)(((m & 0xffffffffULL) * (uint64_t)d->cap) >> 32);
}

static inline uint64_t dh_g(uint64_t m)
{
    uint64_t g = m * 0x9E3779B97F4A7C15ULL;
    return g ^ (g >> 29);
}

static inline uint32_t dh_tag(uint64_t m)
{
    return (uint32_t)(dh_g(m) & 3) << 30;
}

static void bloom_set(uint64_t *line, uint64_t m)
{
    uint64_t g = dh_g(m);
    for (unsigned j = 0; j < 8; j++)
        line[j] |= 1ULL << ((g >> (6 * j + 16)) & 63);
}

/* 8 independent shifts and ANDs: no branch, no loop-carried dependency. */
static inline bool bloom_test(const uint64_t *line, uint64_t m)
{
    uint64_t g = dh_g(m);
    uint64_t ok = (line[0] >> ((g >> 16) & 63)) & (line[1] >> ((g >> 22) & 63)) &
                  (line[2] >> ((g >> 28) & 63)) & (line[3] >> ((g >> 34) & 63)) &
                  (line[4] >> ((g >> 40) & 63)) & (line[5] >> ((g >> 46) & 63)) &
                  (line[6] >> ((g >> 52) & 63)) & (line[7] >> ((g >> 58) & 63));
    return ok & 1;
}

/* Whether the key at pool + off is exactly s[0..n). */
static inline bool key_eq(const struct domhash *d, uint32_t off, const char *s, size_t n)
{
    const char *k = d->pool + off;
    for (size_t i = 0; i < n; i++)
        if (k[i] != s[i] || k[i] == '\0' || k[i] == '/')
            return false;
    return k[n] == '\0' || k[n] == '/';
}

/* The value whose key is s[0..n) (hash m), or DOMHASH_NONE. cap > n: the probe ends on an
 * empty slot. */
static uint32_t dh_probe(const struct domhash *d, uint64_t m, const char *s, size_t n)
{
    uint32_t tag = dh_tag(m);
    size_t i = dh_pos(d, m);
    for (;;) {
        const struct dh_slot *sl = &d->slot[i];
        uint32_t x = sl->tv;
        if (x == DH_EMPTY)
            return DOMHASH_NONE;
        if ((x & ~DH_VMASK) == tag && key_eq(d, sl->off, s, n))
            return x & DH_VMASK;
        if (++i == d->cap)
            i = 0;
    }
}

/* Zeroed (or 0xff-filled) block, 2 MiB-aligned and advised onto huge pages when large, 64-byte
 * aligned otherwise. */
static void *dh_alloc(size_t bytes, int fill)
{
    const size_t huge = (size_t)2 << 20;
    size_t al = bytes >= huge ? huge : 64;
    size_t sz = (bytes + al - 1) & ~(al - 1);
    void *p = aligned_alloc(al, sz ? sz : al);
    if (!p)
        return NULL;
    if (al == huge)
        madvise(p, sz, MADV_HUGEPAGE); /* advice only: failure is harmless */
    memset(p, fill, sz ? sz : al);
    return p;
}

void domhash_free(struct domhash *d)
{
    if (!d)
        return;
    if (!d->borrowed) {
        free(d->slot);
        free(d->bloom);
    }
    free(d);
}

struct domhash *domhash_build(const char *pool, const uint32_t *offs, uint32_t skip,
                              const uint32_t *values, size_t n)
{
    struct domhash *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->pool = pool;
    if (n == 0)
        return d;
    if (n > DOMHASH_VALUE_MAX)
        goto fail;
    size_t nl = (n * DH_BLOOM_BITS_PER_KEY + 511) / 512;
    d->nlines = (uint32_t)nl;
    d->cap = n + n / 2 + 1;
    d->bloom_bytes = nl * 64;
    d->slot_bytes = d->cap * sizeof(*d->slot);
    d->bloom = dh_alloc(d->bloom_bytes, 0);
    d->slot = dh_alloc(d->slot_bytes, 0xff);
    if (!d->bloom || !d->slot)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = values[i];
        if (v > DOMHASH_VALUE_MAX)
            goto fail;
        uint32_t off = offs[v] + skip;
        const char *k = pool + off;
        size_t kl = 0;
        while (kl <= DOMHASH_KEY_MAX && k[kl] != '\0' && k[kl] != '/')
            kl++;
        if (kl == 0 || kl > DOMHASH_KEY_MAX)
            goto fail;
        uint64_t m = dh_key_hash((const uint8_t *)k, kl);
        uint32_t tag = dh_tag(m);
        size_t p = dh_pos(d, m);
        for (;;) {
            uint32_t x = d->slot[p].tv;
            if (x == DH_EMPTY) {
                d->slot[p] = (struct dh_slot){ off, tag | v };
                d->n++;
                bloom_set((uint64_t *)dh_line(d, m), m);
                break;
            }
            if ((x & ~DH_VMASK) == tag && key_eq(d, d->slot[p].off, k, kl))
                break; /* the same key again: the first value stays */
            if (++p == d->cap)
                p = 0;
        }
    }
    return d;
fail:
    domhash_free(d);
    return NULL;
}

/* The suffixes of q to try, longest last: their start, filter line and hash. */
struct dh_cand {
    unsigned n;
    uint32_t start[DH_SCREEN_MAX];
    const uint64_t *line[DH_SCREEN_MAX];
    uint64_t m[DH_SCREEN_MAX];
};

/* Hashes the label-boundary suffixes of q (LABEL) or q alone (EXACT) into c, prefetching their
 * filter lines. Names with more than DH_SCREEN_MAX labels: the longer suffixes beyond the
 * first DH_SCREEN_MAX are looked up one by one here, and the longest found is returned
 * (DOMHASH_NONE if none; the caller then tries c, longest first). */
static inline bool dh_dead(const uint64_t *dead, uint32_t v)
{
    return dead && v != DOMHASH_NONE && (dead[v / 64] >> (v % 64) & 1);
}

static uint32_t dh_suffixes(const struct domhash *d, const char *q, size_t len,
                            enum domhash_mode mode, struct dh_cand *c, const uint64_t *dead,
                            size_t *deep_start)
{
    const uint8_t *s = (const uint8_t *)q;
    uint64_t h = DH_SEED;
    uint32_t deep = DOMHASH_NONE;
    size_t b = len;
    c->n = 0;
    for (;;) { /* label s[a..b), from the last */
        size_t a = b;
        while (a > 0 && s[a - 1] != '.')
            a--;
        h = dh_fold(h, dh_label_hash(s + a, b - a, s + len));
        if (a < len && (a == 0 || mode == DOMHASH_LABEL)) {
            uint64_t m = hash_mix64(h);
            const uint64_t *ln = dh_line(d, m);
            if (likely(c->n < DH_SCREEN_MAX)) {
                __builtin_prefetch(ln);
                c->start[c->n] = (uint32_t)a;
                c->line[c->n] = ln;
                c->m[c->n] = m;
                c->n++;
            } else if (bloom_test(ln, m)) {
                uint32_t v = dh_probe(d, m, q + a, len - a);
                if (v != DOMHASH_NONE && !dh_dead(dead, v)) {
                    deep = v; /* later = longer */
                    *deep_start = a;
                }
            }
        }
        if (a == 0)
            break;
        b = a - 1;
    }
    return deep;
}

/* The lookup; *start gets where the matching key starts in q. */
static inline uint32_t dh_lookup(const struct domhash *d, const char *q, size_t len,
                                 enum domhash_mode mode, const uint64_t *dead, size_t *start)
{
    if (!d || d->n == 0 || len == 0)
        return DOMHASH_NONE;
    struct dh_cand c;
    uint32_t v = dh_suffixes(d, q, len, mode, &c, dead, start);
    if (unlikely(v != DOMHASH_NONE))
        return v;
    while (c.n-- > 0) { /* longest suffix first */
        if (!bloom_test(c.line[c.n], c.m[c.n]))
            continue;
        v = dh_probe(d, c.m[c.n], q + c.start[c.n], len - c.start[c.n]);
        if (v != DOMHASH_NONE && !dh_dead(dead, v)) {
            *start = c.start[c.n];
            return v;
        }
    }
    return DOMHASH_NONE;
}

uint32_t domhash_lookup_multi(const struct domhash *const *t, const uint64_t *const *dead, size_t n,
                              const char *q, size_t len, enum domhash_mode mode, size_t *which)
{
    *which = 0;
    size_t a = 0;
    while (a < n && (!t[a] || t[a]->n == 0))
        a++;
    if (a == n || len == 0 || n > DOMHASH_MULTI_MAX)
        return DOMHASH_NONE;
    struct dh_cand ca;
    size_t sa = 0;
    uint32_t deep = dh_suffixes(t[a], q, len, mode, &ca, dead[a], &sa);
    if (unlikely(deep != DOMHASH_NONE || ca.n == DH_SCREEN_MAX)) {
        /* more labels than screened together: one lookup per index, the longest key wins */
        uint32_t best = DOMHASH_NONE;
        size_t bs = len + 1;
        for (size_t i = a; i < n; i++) {
            size_t s = 0;
            uint32_t v = dh_lookup(t[i], q, len, mode, dead[i], &s);
            if (v != DOMHASH_NONE && s < bs) {
                best = v;
                bs = s;
                *which = i;
            }
        }
        return best;
    }
    const uint64_t *lines[DOMHASH_MULTI_MAX][DH_SCREEN_MAX];
    for (size_t i = a + 1; i < n; i++) /* the filter lines of every index, fetched together */
        for (unsigned k = 0; t[i] && t[i]->n && k < ca.n; k++) {
            lines[i][k] = dh_line(t[i], ca.m[k]);
            __builtin_prefetch(lines[i][k]);
        }
    while (ca.n-- > 0) { /* longest suffix first, in every index */
        unsigned k = ca.n;
        const char *key = q + ca.start[k];
        size_t kl = len - ca.start[k];
        for (size_t i = a; i < n; i++) {
            if (!t[i] || t[i]->n == 0)
                continue;
            const uint64_t *ln = i == a ? ca.line[k] : lines[i][k];
            uint32_t v;
            if (bloom_test(ln, ca.m[k]) && (v = dh_probe(t[i], ca.m[k], key, kl)) != DOMHASH_NONE &&
                !dh_dead(dead[i], v)) {
                *which = i;
                return v;
            }
        }
    }
    return DOMHASH_NONE;
}

void domhash_query_init(struct domhash_query *hq, const char *q, size_t len)
{
    const uint8_t *s = (const uint8_t *)q;
    uint64_t h = DH_SEED;
    size_t b = len;
    hq->q = q;
    hq->len = len;
    hq->n = 0;
    hq->deep = false;
    if (len == 0)
        return;
    for (;;) { /* label s[a..b), from the last: the hashes dh_suffixes() computes */
        size_t a = b;
        while (a > 0 && s[a - 1] != '.')
            a--;
        h = dh_fold(h, dh_label_hash(s + a, b - a, s + len));
        if (a < len) {
            if (unlikely(hq->n == DH_SCREEN_MAX)) {
                hq->deep = true;
                return;
            }
            hq->start[hq->n] = (uint32_t)a;
            hq->m[hq->n] = hash_mix64(h);
            hq->n++;
        }
        if (a == 0)
            return;
        b = a - 1;
    }
}

uint32_t domhash_lookup_query(const struct domhash *d, const struct domhash_query *hq,
                              const uint64_t *dead)
{
    if (!d || d->n == 0 || hq->len == 0)
        return DOMHASH_NONE;
    if (unlikely(hq->deep)) {
        size_t start;
        return dh_lookup(d, hq->q, hq->len, DOMHASH_LABEL, dead, &start);
    }
    const uint64_t *ln[DH_SCREEN_MAX];
    for (unsigned i = 0; i < hq->n; i++) {
        ln[i] = dh_line(d, hq->m[i]);
        __builtin_prefetch(ln[i]);
    }
    for (unsigned i = hq->n; i-- > 0;) { /* longest suffix first */
        if (!bloom_test(ln[i], hq->m[i]))
            continue;
        uint32_t v = dh_probe(d, hq->m[i], hq->q + hq->start[i], hq->len - hq->start[i]);
        if (v != DOMHASH_NONE && !dh_dead(dead, v))
            return v;
    }
    return DOMHASH_NONE;
}

uint32_t domhash_lookup_multi_query(const struct domhash *const *t, const uint64_t *const *dead,
                                    size_t n, const struct domhash_query *hq, size_t *which)
{
    if (unlikely(hq->deep))
        return domhash_lookup_multi(t, dead, n, hq->q, hq->len, DOMHASH_LABEL, which);
    *which = 0;
    if (hq->len == 0 || n > DOMHASH_MULTI_MAX)
        return DOMHASH_NONE;
    const uint64_t *lines[DOMHASH_MULTI_MAX][DH_SCREEN_MAX];
    for (size_t i = 0; i < n; i++) /* the filter lines of every index, fetched together */
        for (unsigned k = 0; t[i] && t[i]->n && k < hq->n; k++) {
            lines[i][k] = dh_line(t[i], hq->m[k]);
            __builtin_prefetch(lines[i][k]);
        }
    for (unsigned k = hq->n; k-- > 0;) { /* longest suffix first, in every index */
        const char *key = hq->q + hq->start[k];
        size_t kl = hq->len - hq->start[k];
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            if (t[i] && t[i]->n && bloom_test(lines[i][k], hq->m[k]) &&
                (v = dh_probe(t[i], hq->m[k], key, kl)) != DOMHASH_NONE && !dh_dead(dead[i], v)) {
                *which = i;
                return v;
            }
        }
    }
    return DOMHASH_NONE;
}

uint32_t domhash_lookup(const struct domhash *d, const char *q, size_t len, enum domhash_mode mode)
{
    size_t start;
    return dh_lookup(d, q, len, mode, NULL, &start);
}

uint32_t domhash_lookup_live(const struct domhash *d, const char *q, size_t len,
                             enum domhash_mode mode, const uint64_t *dead)
{
    size_t start;
    return dh_lookup(d, q, len, mode, dead, &start);
}

bool domhash_may_match(const struct domhash *d, const char *q, size_t len)
{
    if (!d || d->n == 0 || len == 0)
        return false;
    struct dh_cand c;
    size_t start;
    if (dh_suffixes(d, q, len, DOMHASH_LABEL, &c, NULL, &start) != DOMHASH_NONE)
        return true;
    while (c.n-- > 0)
        if (bloom_test(c.line[c.n], c.m[c.n]))
            return true;
    return false;
}

void domhash_parts(const struct domhash *d, struct domhash_parts *p)
{
    memset(p, 0, sizeof(*p));
    if (!d)
        return;
    p->slot = d->slot;
    p->bloom = d->bloom;
    p->slot_bytes = d->n ? d->cap * sizeof(*d->slot) : 0;
    p->bloom_bytes = d->n ? (size_t)d->nlines * 64 : 0;
    p->n = d->n;
    p->cap = d->cap;
    p->nlines = d->nlines;
}

struct domhash *domhash_view(const char *pool, size_t pool_len, const struct domhash_parts *p,
                             uint32_t nvalues, char *err, size_t errlen)
{
    const char *why = NULL;
    if (p->n == 0) {
        if (p->slot_bytes || p->bloom_bytes)
            why = "empty index with arrays";
    } else if (p->n > DOMHASH_VALUE_MAX || p->cap <= p->n || p->cap > UINT32_MAX ||
               p->slot_bytes != p->cap * sizeof(struct dh_slot) || p->nlines == 0 ||
               p->bloom_bytes != (size_t)p->nlines * 64 || !p->slot || !p->bloom) {
        why = "inconsistent sizes";
    } else if (pool_len == 0 || pool[pool_len - 1] != '\0') {
        why = "string pool not terminated";
    }
    const struct dh_slot *sl = p->slot;
    size_t used = 0;
    for (size_t i = 0; !why && p->n && i < p->cap; i++) { /* (an empty index has no slots) */
        if (sl[i].tv == DH_EMPTY)
            continue;
        used++;
        if ((sl[i].tv & DH_VMASK) >= nvalues || sl[i].off >= pool_len)
            why = "slot out of range";
    }
    if (!why && used != p->n)
        why = "slot count differs";
    if (why) {
        if (err && errlen)
            snprintf(err, errlen, "domain index: %s", why);
        return NULL;
    }
    struct domhash *d = calloc(1, sizeof(*d));
    if (!d) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->pool = pool;
    d->borrowed = true;
    if (p->n) {
        d->n = (size_t)p->n;
        d->cap = (size_t)p->cap;
        d->slot = (struct dh_slot *)p->slot;
        d->bloom = (uint64_t *)p->bloom;
        d->nlines = p->nlines;
        d->slot_bytes = p->slot_bytes;
        d->bloom_bytes = p->bloom_bytes;
    }
    return d;
}

size_t domhash_bytes(const struct domhash *d)
{
    return d ? sizeof(*d) + d->slot_bytes + d->bloom_bytes : 0;
}

size_t domhash_count(const struct domhash *d)
{
    return d ? d->n : 0;
}
