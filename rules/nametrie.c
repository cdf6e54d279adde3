/* nametrie.c - flat path-compressed trie (anchored Aho-Corasick), see nametrie.h.
 *
 * Layout (N nodes, BFS order, node 0 = root with an empty label):
 *
 *   node[i] = { child: index of the first child | value | label | llen | nchild }   16 bytes
 *   first[i] = first byte of node i's edge label                                      1 byte
 *
 *   children of i = node[child .. child+nchild), their first bytes first[child .. child+nchild)
 *   forward trie: label bytes pool[label], pool[label+1] ... (llen of them)
 *   reverse trie: label bytes pool[label-1], pool[label-2] ... (read backwards)
 *
 * Build: sort the (reversed) keys, then one BFS pass over sorted ranges; a range's node gets the
 * range's longest common prefix as its edge, and its children are the runs of equal next byte,
 * appended together so that they are contiguous. */
#include "nametrie.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "compiler.h"

struct nt_node {
    uint32_t child;
    uint32_t value;
    uint32_t label;
    uint16_t llen;
    uint16_t nchild;
};

struct nametrie {
    const uint8_t *pool;
    bool reverse;
    size_t n;
    struct nt_node *node;
    uint8_t *first;
    uint64_t *bloom;    /* reverse tries: nlines cache lines of 8 words, NULL when empty */
    uint32_t nlines;
};

/* ---- suffix pre-filter (reverse tries) ----
 *
 * A blocked Bloom filter: every key sets NT_BLOOM_K bits inside one 64-byte line chosen by its
 * hash. The hash of a key is FNV-1a over its bytes from the last to the first, then a mixer, so
 * that one right-to-left pass over a query yields the hash of every suffix: a.b.ex.com gives
 * moc, moc.xe, ... in turn, and the label-boundary ones are probed. */
#define NT_BLOOM_BITS_PER_KEY 10
#define NT_BLOOM_K 6
#define NT_SCREEN_MAX 32       /* label-boundary suffixes screened per query; more: no screen */
#define NT_FNV_SEED 1469598103934665603ULL
#define NT_FNV_PRIME 1099511628211ULL

static inline uint64_t nt_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint32_t nt_line(uint64_t m, uint32_t nlines)
{
    return (uint32_t)(((m >> 32) * (uint64_t)nlines) >> 32);
}

/* Bit positions come from the low 54 bits (the line index took the high 32). */
static void bloom_set(uint64_t *line, uint64_t m)
{
    for (unsigned j = 0; j < NT_BLOOM_K; j++) {
        unsigned b = (unsigned)(m >> (9 * j)) & 511u;
        line[b >> 6] |= 1ULL << (b & 63);
    }
}

static inline bool bloom_test(const uint64_t *line, uint64_t m)
{
    uint64_t ok = 1;
    for (unsigned j = 0; j < NT_BLOOM_K; j++) {
        unsigned b = (unsigned)(m >> (9 * j)) & 511u;
        ok &= line[b >> 6] >> (b & 63);
    }
    return ok & 1;
}

/* A key during the build: bytes in walk order, the first 8 of them packed for fast sorting. */
struct bkey {
    uint64_t head;
    const uint8_t *k;
    uint32_t len;
    uint32_t off;
    uint32_t value;
};

static int bkey_cmp(const void *a, const void *b)
{
    const struct bkey *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->k, y->k, m);
    if (c)
        return c;
    return x->len < y->len ? -1 : (x->len > y->len ? 1 : 0);
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
    uint8_t *rev = NULL;
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
    if (!bk)
        goto fail;
    if (reverse) {
        rev = malloc(total ? total : 1);
        if (!rev)
            goto fail;
        if (n > 0) {
            size_t nl = (n * NT_BLOOM_BITS_PER_KEY + 511) / 512;
            if (nl > UINT32_MAX)
                goto fail;
            t->nlines = (uint32_t)nl;
            t->bloom = nt_alloc_lines(nl);
            if (!t->bloom)
                goto fail;
        }
    }
    size_t roff = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src = t->pool + keys[i].off;
        uint32_t len = keys[i].len;
        const uint8_t *k = src;
        if (reverse) {
            uint8_t *d = rev + roff;
            for (uint32_t j = 0; j < len; j++)
                d[j] = src[len - 1 - j];
            k = d;
            roff += len;
        }
        if (reverse && t->bloom) {
            uint64_t fh = NT_FNV_SEED;
            for (uint32_t j = 0; j < len; j++)
                fh = (fh ^ k[j]) * NT_FNV_PRIME;
            uint64_t m = nt_mix(fh);
            bloom_set(t->bloom + (size_t)nt_line(m, t->nlines) * 8, m);
        }
        uint64_t h = 0;
        for (uint32_t j = 0; j < 8; j++)
            h = h << 8 | (j < len ? k[j] : 0);
        bk[i] = (struct bkey){ h, k, len, keys[i].off, keys[i].value };
    }
    qsort(bk, n, sizeof(*bk), bkey_cmp);
    for (size_t i = 0; i < n; i++)
        keys[i] = (struct nametrie_key){ bk[i].off, bk[i].len, bk[i].value };

    /* At most 2n nodes (n leaves-or-accepting, fewer than n branchings) plus the root. The
     * queue of ranges is the node array in the making: range i becomes node i. */
    size_t cap = 2 * n + 1;
    q = malloc(cap * sizeof(*q));
    t->node = malloc(cap * sizeof(*t->node));
    t->first = malloc(cap);
    if (!q || !t->node || !t->first)
        goto fail;
    size_t qn = 1;
    q[0] = (struct range){ 0, (uint32_t)n, 0 };
    t->first[0] = 0;
    for (size_t i = 0; i < qn; i++) {
        uint32_t lo = q[i].lo, hi = q[i].hi, depth = q[i].depth, end = depth;
        if (i > 0) {
            const struct bkey *a = &bk[lo], *b = &bk[hi - 1];
            uint32_t m = a->len < b->len ? a->len : b->len;
            end = depth + 1; /* the range shares the byte at depth by construction */
            while (end < m && a->k[end] == b->k[end])
                end++;
        }
        struct nt_node *nd = &t->node[i];
        nd->llen = (uint16_t)(end - depth);
        if (reverse)
            nd->label = i ? bk[lo].off + bk[lo].len - depth : 0;
        else
            nd->label = i ? bk[lo].off + depth : 0;
        nd->value = NAMETRIE_NONE;
        uint32_t j = lo;
        if (j < hi && bk[j].len == end) {
            nd->value = bk[j].value;
            while (j < hi && bk[j].len == end) /* duplicates of the same key */
                j++;
        }
        nd->child = (uint32_t)qn;
        nd->nchild = 0;
        while (j < hi) {
            uint8_t c = bk[j].k[end];
            uint32_t g = j;
            while (j < hi && bk[j].k[end] == c)
                j++;
            if (qn >= cap)
                goto fail; /* cannot happen for a trie; guards the arrays */
            q[qn] = (struct range){ g, j, end };
            t->first[qn] = c;
            qn++;
            nd->nchild++;
        }
    }
    t->n = qn;
    free(q);
    free(bk);
    free(rev);
    /* Move to exact-size blocks, on huge pages when large (fewer TLB misses per lookup). */
    struct nt_node *nn = nametrie_hugecopy(t->node, qn * sizeof(*t->node));
    if (nn) {
        free(t->node);
        t->node = nn;
    }
    uint8_t *nf = nametrie_hugecopy(t->first, qn);
    if (nf) {
        free(t->first);
        t->first = nf;
    }
    return t;
fail:
    free(q);
    free(bk);
    free(rev);
    nametrie_free(t);
    return NULL;
}

/* Index of the child of nd whose label starts with c, or 0 (the root is nobody's child).
 * Most nodes have a handful of children: a plain loop beats a memchr call there. */
static inline uint32_t child_of(const struct nametrie *t, const struct nt_node *nd, uint8_t c)
{
    const uint8_t *f = t->first + nd->child;
    uint32_t n = nd->nchild;
    if (n <= 16) {
        for (uint32_t i = 0; i < n; i++)
            if (f[i] == c)
                return nd->child + i;
        return 0;
    }
    const uint8_t *p = memchr(f, c, n);
    return p ? (uint32_t)(p - t->first) : 0;
}

/* Byte d of the query and byte j of a node's label, in walk order. */
static inline uint8_t qbyte(const struct nametrie *t, const char *q, size_t len, size_t d)
{
    return (uint8_t)(t->reverse ? q[len - 1 - d] : q[d]);
}

static inline uint8_t lbyte(const struct nametrie *t, const struct nt_node *nd, size_t j)
{
    return t->reverse ? t->pool[nd->label - 1 - j] : t->pool[nd->label + j];
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
    uint64_t h = NT_FNV_SEED;
    for (size_t i = len; i-- > 0;) {
        h = (h ^ (uint8_t)q[i]) * NT_FNV_PRIME;
        if (i != 0 && (mode == NAMETRIE_EXACT || q[i - 1] != '.'))
            continue;
        if (nc == NT_SCREEN_MAX) {
            *stop = len; /* too many labels to screen: let the walk decide */
            return true;
        }
        uint64_t m = nt_mix(h);
        ln[nc] = t->bloom + (size_t)nt_line(m, t->nlines) * 8;
        __builtin_prefetch(ln[nc]);
        hm[nc] = m;
        sl[nc] = (uint32_t)(len - i);
        nc++;
    }
    while (nc-- > 0) { /* longest suffix first */
        if (bloom_test(ln[nc], hm[nc])) {
            *stop = sl[nc];
            return true;
        }
    }
    return false;
}

uint32_t nametrie_lookup(const struct nametrie *t, const char *q, size_t len, enum nametrie_mode mode)
{
    if (!t || t->n == 0)
        return NAMETRIE_NONE;
    size_t stop = len;
    if (t->bloom && mode != NAMETRIE_PREFIX && !nt_screen(t, q, len, mode, &stop))
        return NAMETRIE_NONE;
    const struct nt_node *nd = &t->node[0];
    uint32_t best = NAMETRIE_NONE;
    size_t d = 0;
    for (;;) {
        if (d >= stop || nd->nchild == 0)
            break;
        uint32_t ci = child_of(t, nd, qbyte(t, q, len, d));
        if (!ci)
            break;
        const struct nt_node *ch = &t->node[ci];
        size_t ll = ch->llen;
        if (ll > stop - d)
            break;
        size_t j = 1;
        if (t->reverse) {
            const uint8_t *lp = t->pool + ch->label - 1;
            const char *qp = q + (len - 1 - d);
            while (j < ll && lp[-(ptrdiff_t)j] == (uint8_t)qp[-(ptrdiff_t)j])
                j++;
        } else {
            const uint8_t *lp = t->pool + ch->label;
            const char *qp = q + d;
            while (j < ll && lp[j] == (uint8_t)qp[j])
                j++;
        }
        if (j < ll)
            break;
        d += ll;
        nd = ch;
        if (nd->value != NAMETRIE_NONE) {
            if (mode == NAMETRIE_PREFIX)
                best = nd->value;
            else if (d == len)
                return nd->value;
            else if (mode == NAMETRIE_LABEL && qbyte(t, q, len, d) == '.')
                best = nd->value;
        }
    }
    return mode == NAMETRIE_EXACT ? NAMETRIE_NONE : best;
}

uint32_t nametrie_lookup_extending(const struct nametrie *t, const char *q, size_t len)
{
    if (!t || t->n == 0)
        return NAMETRIE_NONE;
    const struct nt_node *nd = &t->node[0];
    size_t d = 0;
    while (d < len) {
        uint32_t ci = child_of(t, nd, qbyte(t, q, len, d));
        if (!ci)
            return NAMETRIE_NONE;
        const struct nt_node *ch = &t->node[ci];
        size_t ll = ch->llen, take = ll < len - d ? ll : len - d;
        for (size_t j = 1; j < take; j++)
            if (lbyte(t, ch, j) != qbyte(t, q, len, d + j))
                return NAMETRIE_NONE;
        d += take;
        nd = ch;
    }
    /* Every leaf carries a value; the first-child chain reaches one within the key length. */
    while (nd->value == NAMETRIE_NONE) {
        if (nd->nchild == 0)
            return NAMETRIE_NONE; /* only the empty root */
        nd = &t->node[nd->child];
    }
    return nd->value;
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
