/* nametrie.c - flat path-compressed trie (anchored Aho-Corasick), see nametrie.h.
 *
 * Layout: one array of 12-byte nodes in BFS order, node 0 = the root (empty label):
 *
 *   node = { label: u32 | meta: u16 = INTERNAL | ACCEPT | llen (14 bits) | first: u8 | nch: u8 |
 *            x: u32 }
 *   leaf (no children):  x = value (when ACCEPT)
 *   internal:            x = index of the first child; children = node[x .. x+nch]
 *                        (nch + 1 of them, sorted by first byte); when ACCEPT, the node's value
 *                        is node[x-1].x, a value slot placed just before the children
 *   label bytes, walk order: byte 0 is `first`; bytes 1..llen-1 are packed into `label` when
 *   there are at most 4 of them (no pool access), else read from the pool:
 *     forward trie: pool[label + j]; reverse trie: pool[label - 1 - j]
 *
 * A walk step reads the children block (the first bytes are in the nodes: one or two cache
 * lines) and, for long labels, the pool. Reverse tries (domains) also have a blocked Bloom
 * filter over their keys: a query whose label-boundary suffixes are all absent from it never
 * touches the trie.
 *
 * Build: sort the (reversed) keys, then one BFS pass over sorted ranges; a range's node gets the
 * range's longest common prefix as its edge, and its children are the runs of equal next byte,
 * appended together so that they are contiguous. */
#include "nametrie.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "compiler.h"

#define NT_INTERNAL 0x8000u
#define NT_ACCEPT 0x4000u
#define NT_LLEN 0x3fffu
#define NT_INLINE 4   /* label bytes after the first kept in the node */
#define NT_SCAN_MAX 5 /* children scanned in place; more: in first[] */

struct nt_node {
    uint32_t label;
    uint16_t meta;
    uint8_t first;
    uint8_t nch;
    uint32_t x;
};

_Static_assert(sizeof(struct nt_node) == 12, "nt_node is 12 bytes");
_Static_assert(NAMETRIE_KEY_MAX <= NT_LLEN, "a label length fits in meta");

struct nametrie {
    const uint8_t *pool;
    bool reverse;
    size_t n;
    struct nt_node *node;
    uint8_t *first;     /* first[i] = node[i].first, for nodes with many children */
    uint64_t *bloom;    /* reverse tries: nlines cache lines of 8 words, NULL when empty */
    uint32_t nlines;
};

/* ---- suffix pre-filter (reverse tries) ----
 *
 * A blocked Bloom filter: every key sets 8 bits inside one 64-byte line chosen by its hash,
 * one in each 64-bit word of the line. The hash of a name folds in the hashes of its labels from
 * the last to the first (each label hashed a word at a time), so that one right-to-left pass
 * over a query yields the hash of every label-boundary suffix in turn (a.b.ex.com: com, ex.com,
 * b.ex.com, a.b.ex.com), and each is the hash its key would have. */
#ifndef NT_BLOOM_BITS_PER_KEY
#define NT_BLOOM_BITS_PER_KEY 14
#endif
#define NT_SCREEN_MAX 32       /* label-boundary suffixes screened per query; more: no screen */
#define NT_SEED 0x243F6A8885A308D3ULL
#define NT_K1 0x9E3779B97F4A7C15ULL
#define NT_K2 0xC2B2AE3D27D4EB4FULL

static inline uint64_t nt_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* 8 bytes at p as a little-endian integer (the same on every host, so that a filter built and
 * probed in one process agrees whatever the byte order). */
static inline uint64_t nt_ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Hash of one label p[0..n), a word at a time; bytes up to end are readable. */
static inline uint64_t nt_label_hash(const uint8_t *p, size_t n, const uint8_t *end)
{
    uint64_t x = (uint64_t)(n + 1) * NT_K1;
    for (; n >= 8; p += 8, n -= 8)
        x = (x ^ nt_ld64(p)) * NT_K2;
    if (n) {
        uint64_t c = 0;
        if (end - p >= 8) {
            c = nt_ld64(p) & ((1ULL << (8 * n)) - 1);
        } else {
            for (size_t i = 0; i < n; i++)
                c |= (uint64_t)p[i] << (8 * i);
        }
        x = (x ^ c) * NT_K2;
    }
    return x;
}

/* The suffix hash, before nt_mix: labels folded in from the last to the first. */
static inline uint64_t nt_fold(uint64_t h, uint64_t label)
{
    return (h ^ label) * NT_K1 + (h >> 29);
}

/* Hash of a whole key, as nt_screen computes it for the suffix the key would equal. */
static uint64_t nt_key_hash(const uint8_t *s, size_t len)
{
    uint64_t h = NT_SEED;
    size_t b = len;
    for (;;) {
        size_t a = b;
        while (a > 0 && s[a - 1] != '.')
            a--;
        h = nt_fold(h, nt_label_hash(s + a, b - a, s + len));
        if (a == 0)
            return nt_mix(h);
        b = a - 1;
    }
}

static inline uint32_t nt_line(uint64_t m, uint32_t nlines)
{
    return (uint32_t)(((m >> 32) * (uint64_t)nlines) >> 32);
}

/* Split-block probing: one bit in each of the line's 8 words, its position from 6 bits of a
 * second mix of the hash (the line index took the high 32 bits of the first). The test is 8
 * independent shifts and ANDs, no loop-carried dependency and no branch. */
static inline uint64_t bloom_pos(uint64_t m)
{
    uint64_t g = m * 0x9E3779B97F4A7C15ULL;
    return g ^ (g >> 29);
}

static void bloom_set(uint64_t *line, uint64_t m)
{
    uint64_t g = bloom_pos(m);
    for (unsigned j = 0; j < 8; j++)
        line[j] |= 1ULL << ((g >> (6 * j + 16)) & 63);
}

static inline bool bloom_test(const uint64_t *line, uint64_t m)
{
    uint64_t g = bloom_pos(m);
    uint64_t ok = (line[0] >> ((g >> 16) & 63)) & (line[1] >> ((g >> 22) & 63)) &
                  (line[2] >> ((g >> 28) & 63)) & (line[3] >> ((g >> 34) & 63)) &
                  (line[4] >> ((g >> 40) & 63)) & (line[5] >> ((g >> 46) & 63)) &
                  (line[6] >> ((g >> 52) & 63)) & (line[7] >> ((g >> 58) & 63));
    return ok & 1;
}

/* A key during the build, in sorted order: its bytes in walk order (copied so that keys next
 * to each other in the order are next to each other in memory: the BFS scans them by level). */
struct bkey {
    const uint8_t *k;
    uint32_t len;
    uint32_t off;
    uint32_t value;
};

/* Sort item: the first 8 walk-order bytes of key idx, big-endian, zero-padded. */
struct sitem {
    uint64_t head;
    uint32_t idx;
    uint32_t pad;
};

struct sctx {
    const uint8_t *pool;
    const struct nametrie_key *keys;
    bool reverse;
};

static inline uint8_t kbyte(const struct sctx *c, const struct nametrie_key *k, uint32_t j)
{
    return c->reverse ? c->pool[k->off + k->len - 1 - j] : c->pool[k->off + j];
}

/* Byte order of the walk-order keys, a proper prefix first. */
static int sitem_cmp(const void *a, const void *b, void *ctx)
{
    const struct sctx *c = ctx;
    const struct sitem *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    const struct nametrie_key *kx = &c->keys[x->idx], *ky = &c->keys[y->idx];
    uint32_t m = kx->len < ky->len ? kx->len : ky->len;
    for (uint32_t j = 8; j < m; j++) {
        uint8_t p = kbyte(c, kx, j), r = kbyte(c, ky, j);
        if (p != r)
            return p < r ? -1 : 1;
    }
    return kx->len < ky->len ? -1 : (kx->len > ky->len ? 1 : 0);
}

/* LSD radix sort of the heads (four passes of 16 bits, a pass skipped when every item has the
 * same digit), then a comparison sort inside each run of equal heads. Returns -1 on
 * allocation failure. */
static int sort_items(struct sitem *a, size_t n, const struct sctx *c)
{
    if (n < 4096) {
        qsort_r(a, n, sizeof(*a), sitem_cmp, (void *)c);
        return 0;
    }
    struct sitem *tmp = malloc(n * sizeof(*tmp));
    uint32_t *cnt = calloc((size_t)4 << 16, sizeof(*cnt));
    if (!tmp || !cnt) {
        free(tmp);
        free(cnt);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < 4; p++)
            cnt[(size_t)p << 16 | ((a[i].head >> (16 * p)) & 0xffff)]++;
    struct sitem *src = a, *dst = tmp;
    for (unsigned p = 0; p < 4; p++) {
        uint32_t *cp = cnt + ((size_t)p << 16);
        if (cp[(src[0].head >> (16 * p)) & 0xffff] == n)
            continue;
        uint32_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            uint32_t x = cp[d];
            cp[d] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++)
            dst[cp[(src[i].head >> (16 * p)) & 0xffff]++] = src[i];
        struct sitem *sw = src;
        src = dst;
        dst = sw;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
    free(tmp);
    free(cnt);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && a[j].head == a[i].head)
            j++;
        if (j - i > 1)
            qsort_r(a + i, j - i, sizeof(*a), sitem_cmp, (void *)c);
        i = j;
    }
    return 0;
}

void *nametrie_hugecopy(const void *src, size_t n)
{
    const size_t huge = (size_t)2 << 20;
    void *p;
    if (n >= huge) {
        size_t sz = (n + huge - 1) & ~(huge - 1);
        p = aligned_alloc(huge, sz);
        if (p)
            madvise(p, sz, MADV_HUGEPAGE); /* advice only: failure is harmless */
    } else {
        p = malloc(n ? n : 1);
    }
    if (p && n)
        memcpy(p, src, n);
    return p;
}

/* Zeroed 64-byte lines, aligned so that a key's bits share one cache line. */
static uint64_t *nt_alloc_lines(size_t nlines)
{
    const size_t huge = (size_t)2 << 20;
    size_t sz = nlines * 64;
    size_t al = sz >= huge ? huge : 64;
    sz = (sz + al - 1) & ~(al - 1);
    uint64_t *p = aligned_alloc(al, sz);
    if (!p)
        return NULL;
    if (al == huge)
        madvise(p, sz, MADV_HUGEPAGE); /* advice only */
    memset(p, 0, sz);
    return p;
}

struct range {
    uint32_t lo, hi, depth;
};

void nametrie_free(struct nametrie *t)
{
    if (!t)
        return;
    free(t->node);
    free(t->first);
    free(t->bloom);
    free(t);
}

struct nametrie *nametrie_build(const char *pool, struct nametrie_key *keys, size_t n, bool reverse)
{
    struct nametrie *t = calloc(1, sizeof(*t));
    struct bkey *bk = NULL;
    struct sitem *it = NULL;
    uint8_t *kb = NULL;
    struct range *q = NULL;
    if (!t)
        return NULL;
    t->pool = (const uint8_t *)pool;
    t->reverse = reverse;
    if (n >= UINT32_MAX / 2)
        goto fail;

    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].len == 0 || keys[i].len > NAMETRIE_KEY_MAX)
            goto fail;
        total += keys[i].len;
    }
    bk = malloc((n ? n : 1) * sizeof(*bk));
    it = malloc((n ? n : 1) * sizeof(*it));
    kb = malloc(total ? total : 1);
    if (!bk || !it || !kb)
        goto fail;
    if (reverse && n > 0) {
        size_t nl = (n * NT_BLOOM_BITS_PER_KEY + 511) / 512;
        if (nl > UINT32_MAX)
            goto fail;
        t->nlines = (uint32_t)nl;
        t->bloom = nt_alloc_lines(nl);
        if (!t->bloom)
            goto fail;
    }
    struct sctx sc = { t->pool, keys, reverse };
    for (size_t i = 0; i < n; i++) {
        const struct nametrie_key *k = &keys[i];
        uint64_t h = 0;
        for (uint32_t j = 0; j < 8; j++)
            h = h << 8 | (j < k->len ? kbyte(&sc, k, j) : 0);
        it[i] = (struct sitem){ h, (uint32_t)i, 0 };
        if (t->bloom) {
            const uint8_t *src = t->pool + k->off;
            uint64_t m = nt_key_hash(src, k->len);
            bloom_set(t->bloom + (size_t)nt_line(m, t->nlines) * 8, m);
        }
    }
    if (sort_items(it, n, &sc))
        goto fail;
    size_t ko = 0;
    for (size_t i = 0; i < n; i++) {
        const struct nametrie_key *k = &keys[it[i].idx];
        const uint8_t *src = t->pool + k->off;
        uint8_t *d = kb + ko;
        if (reverse) {
            for (uint32_t j = 0; j < k->len; j++)
                d[j] = src[k->len - 1 - j];
        } else {
            memcpy(d, src, k->len);
        }
        bk[i] = (struct bkey){ d, k->len, k->off, k->value };
        ko += k->len;
    }
    free(it);
    it = NULL;
    for (size_t i = 0; i < n; i++)
        keys[i] = (struct nametrie_key){ bk[i].off, bk[i].len, bk[i].value };

    /* At most 2n nodes and value slots (n leaves-or-accepting, fewer than n branchings, one
     * slot per accepting internal node) plus the root. The queue of ranges is the node array
     * in the making: range i becomes node i; a value slot is written when queued. */
    size_t cap = 2 * n + 1;
    q = malloc(cap * sizeof(*q));
    t->node = malloc(cap * sizeof(*t->node));
    if (!q || !t->node)
        goto fail;
    size_t qn = 1;
    q[0] = (struct range){ 0, (uint32_t)n, 0 };
    for (size_t i = 0; i < qn; i++) {
        uint32_t lo = q[i].lo, hi = q[i].hi, depth = q[i].depth, end = depth;
        if (lo == UINT32_MAX)
            continue; /* a value slot */
        struct nt_node *nd = &t->node[i];
        *nd = (struct nt_node){ 0, 0, 0, 0, NAMETRIE_NONE };
        if (i > 0) {
            const struct bkey *a = &bk[lo], *b = &bk[hi - 1];
            uint32_t m = a->len < b->len ? a->len : b->len;
            end = depth + 1; /* the range shares the byte at depth by construction */
            while (end < m && a->k[end] == b->k[end])
                end++;
            uint32_t ll = end - depth;
            nd->first = a->k[depth];
            if (ll - 1 <= NT_INLINE) {
                for (uint32_t j = 1; j < ll; j++)
                    nd->label |= (uint32_t)a->k[depth + j] << (8 * (j - 1));
            } else {
                nd->label = reverse ? a->off + a->len - depth : a->off + depth;
            }
            nd->meta = (uint16_t)ll;
        }
        uint32_t j = lo, value = NAMETRIE_NONE;
        if (j < hi && bk[j].len == end) {
            value = bk[j].value;
            nd->meta |= NT_ACCEPT;
            while (j < hi && bk[j].len == end) /* duplicates of the same key */
                j++;
        }
        if (j == hi) {
            nd->x = value;
            continue;
        }
        if (value != NAMETRIE_NONE) {
            if (qn >= cap)
                goto fail;
            q[qn] = (struct range){ UINT32_MAX, 0, 0 };
            t->node[qn] = (struct nt_node){ 0, 0, 0, 0, value };
            qn++;
        }
        nd->meta |= NT_INTERNAL;
        nd->x = (uint32_t)qn;
        uint32_t nc = 0;
        while (j < hi) {
            uint8_t c = bk[j].k[end];
            uint32_t g = j;
            while (j < hi && bk[j].k[end] == c)
                j++;
            if (qn >= cap)
                goto fail; /* cannot happen for a trie; guards the arrays */
            q[qn++] = (struct range){ g, j, end };
            nc++;
        }
        nd->nch = (uint8_t)(nc - 1);
    }
    t->n = qn;
    free(q);
    free(bk);
    free(it);
    free(kb);
    q = NULL;
    bk = NULL;
    it = NULL;
    kb = NULL;
    /* Move to an exact-size block, on huge pages when large (fewer TLB misses per lookup). */
    struct nt_node *nn = nametrie_hugecopy(t->node, qn * sizeof(*t->node));
    if (nn) {
        free(t->node);
        t->node = nn;
    }
    t->first = malloc(qn);
    if (!t->first)
        goto fail;
    for (size_t i = 0; i < qn; i++)
        t->first[i] = t->node[i].first;
    uint8_t *nf = nametrie_hugecopy(t->first, qn);
    if (nf) {
        free(t->first);
        t->first = nf;
    }
    return t;
fail:
    free(q);
    free(bk);
    free(it);
    free(kb);
    nametrie_free(t);
    return NULL;
}

/* The child of nd (internal) whose label starts with c, or NULL. A few children are scanned
 * in place (their block is one or two cache lines, which the step reads anyway); a long list
 * is searched in the compact first-byte array (36 children: one line instead of seven). */
static inline const struct nt_node *child_of(const struct nametrie *t, const struct nt_node *nd,
                                             uint8_t c)
{
    const struct nt_node *ch = t->node + nd->x;
    uint32_t n = (uint32_t)nd->nch + 1;
    if (n > NT_SCAN_MAX) {
        const uint8_t *f = t->first + nd->x;
        const uint8_t *p = memchr(f, c, n);
        return p ? ch + (p - f) : NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (ch[i].first >= c)
            return ch[i].first == c ? &ch[i] : NULL;
    }
    return NULL;
}

static inline uint32_t value_of(const struct nametrie *t, const struct nt_node *nd)
{
    return (nd->meta & NT_INTERNAL) ? t->node[nd->x - 1].x : nd->x;
}

/* Byte d of the query in walk order. */
static inline uint8_t qbyte(bool reverse, const char *q, size_t len, size_t d)
{
    return (uint8_t)(reverse ? q[len - 1 - d] : q[d]);
}

/* Whether bytes 1..upto-1 of ch's label equal the query's walk bytes d+1..d+upto-1
 * (upto <= the label length, d + upto <= len). */
static inline bool label_eq(const struct nametrie *t, bool reverse, const struct nt_node *ch,
                            const char *q, size_t len, size_t d, size_t upto)
{
    size_t ll = ch->meta & NT_LLEN;
    if (ll - 1 <= NT_INLINE) {
        uint32_t lab = ch->label;
        for (size_t j = 1; j < upto; j++, lab >>= 8)
            if ((uint8_t)lab != qbyte(reverse, q, len, d + j))
                return false;
        return true;
    }
    if (!reverse)
        return upto <= 1 || memcmp(t->pool + ch->label + 1, q + d + 1, upto - 1) == 0;
    const uint8_t *lp = t->pool + ch->label - 1;
    const char *qp = q + (len - 1 - d);
    for (size_t j = 1; j < upto; j++)
        if (lp[-(ptrdiff_t)j] != (uint8_t)qp[-(ptrdiff_t)j])
            return false;
    return true;
}

/* Screens a LABEL or EXACT query of a reverse trie through the Bloom filter. Returns false
 * when no key can match; otherwise *stop is the length of the longest suffix that may be a key
 * (the walk need not go deeper: a longer key would have passed the filter). */
static bool nt_screen(const struct nametrie *t, const char *q, size_t len, enum nametrie_mode mode,
                      size_t *stop)
{
    uint64_t hm[NT_SCREEN_MAX];
    uint32_t sl[NT_SCREEN_MAX];
    const uint64_t *ln[NT_SCREEN_MAX];
    unsigned nc = 0;
    const uint8_t *s = (const uint8_t *)q;
    uint64_t h = NT_SEED;
    size_t b = len;
    for (;;) { /* label s[a..b), from the last */
        size_t a = b;
        while (a > 0 && s[a - 1] != '.')
            a--;
        h = nt_fold(h, nt_label_hash(s + a, b - a, s + len));
        if (a < len && (a == 0 || mode == NAMETRIE_LABEL)) {
            if (nc == NT_SCREEN_MAX) {
                *stop = len; /* too many labels to screen: let the walk decide */
                return true;
            }
            uint64_t m = nt_mix(h);
            ln[nc] = t->bloom + (size_t)nt_line(m, t->nlines) * 8;
            __builtin_prefetch(ln[nc]);
            hm[nc] = m;
            sl[nc] = (uint32_t)(len - a);
            nc++;
        }
        if (a == 0)
            break;
        b = a - 1;
    }
    while (nc-- > 0) { /* longest suffix first */
        if (bloom_test(ln[nc], hm[nc])) {
            *stop = sl[nc];
            return true;
        }
    }
    return false;
}

static inline uint32_t nt_walk(const struct nametrie *t, bool reverse, const char *q, size_t len,
                               size_t stop, enum nametrie_mode mode)
{
    const struct nt_node *nd = &t->node[0];
    uint32_t best = NAMETRIE_NONE;
    size_t d = 0;
    while (d < stop && (nd->meta & NT_INTERNAL)) {
        const struct nt_node *ch = child_of(t, nd, qbyte(reverse, q, len, d));
        if (!ch)
            break;
        size_t ll = ch->meta & NT_LLEN;
        if (ll > stop - d || !label_eq(t, reverse, ch, q, len, d, ll))
            break;
        d += ll;
        nd = ch;
        if (nd->meta & NT_ACCEPT) {
            if (mode == NAMETRIE_PREFIX)
                best = value_of(t, nd);
            else if (d == len)
                return value_of(t, nd);
            else if (mode == NAMETRIE_LABEL && qbyte(reverse, q, len, d) == '.')
                best = value_of(t, nd);
        }
    }
    return mode == NAMETRIE_EXACT ? NAMETRIE_NONE : best;
}

uint32_t nametrie_lookup(const struct nametrie *t, const char *q, size_t len, enum nametrie_mode mode)
{
    if (!t || t->n == 0)
        return NAMETRIE_NONE;
    if (!t->reverse)
        return nt_walk(t, false, q, len, len, mode);
    size_t stop = len;
    if (t->bloom && mode != NAMETRIE_PREFIX && !nt_screen(t, q, len, mode, &stop))
        return NAMETRIE_NONE;
    return nt_walk(t, true, q, len, stop, mode);
}

bool nametrie_may_match(const struct nametrie *t, const char *q, size_t len)
{
    size_t stop;
    if (!t || t->n == 0)
        return false;
    return !t->bloom || nt_screen(t, q, len, NAMETRIE_LABEL, &stop);
}

uint32_t nametrie_lookup_extending(const struct nametrie *t, const char *q, size_t len)
{
    if (!t || t->n == 0)
        return NAMETRIE_NONE;
    const struct nt_node *nd = &t->node[0];
    size_t d = 0;
    while (d < len) {
        if (!(nd->meta & NT_INTERNAL))
            return NAMETRIE_NONE;
        const struct nt_node *ch = child_of(t, nd, qbyte(t->reverse, q, len, d));
        if (!ch)
            return NAMETRIE_NONE;
        size_t ll = ch->meta & NT_LLEN, take = ll < len - d ? ll : len - d;
        if (!label_eq(t, t->reverse, ch, q, len, d, take))
            return NAMETRIE_NONE;
        d += take;
        nd = ch;
    }
    /* Every leaf accepts; the first-child chain reaches an accepting node within the key
     * length. */
    while (!(nd->meta & NT_ACCEPT)) {
        if (!(nd->meta & NT_INTERNAL))
            return NAMETRIE_NONE; /* only the empty root */
        nd = &t->node[nd->x];
    }
    return value_of(t, nd);
}

size_t nametrie_bytes(const struct nametrie *t)
{
    if (!t)
        return 0;
    return sizeof(*t) + t->n * (sizeof(struct nt_node) + 1) + (size_t)t->nlines * 64;
}

size_t nametrie_nodes(const struct nametrie *t)
{
    return t ? t->n : 0;
}
