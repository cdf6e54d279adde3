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
 *   label bytes: byte 0 is `first`; bytes 1..llen-1 are packed into `label` when there are at
 *   most 4 of them (no pool access), else read from the pool at pool[label + j]
 *
 * A walk step reads the children block (the first bytes are in the nodes: one or two cache
 * lines) and, for long labels, the pool.
 *
 * Build: sort the keys, then one BFS pass over sorted ranges; a range's node gets the
 * range's longest common prefix as its edge, and its children are the runs of equal next byte,
 * appended together so that they are contiguous. */
#include "rules/match/nametrie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NT_INTERNAL 0x8000u
#define NT_ACCEPT   0x4000u
#define NT_LLEN     0x3fffu
#define NT_INLINE   4 /* label bytes after the first kept in the node */
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
    size_t n;
    struct nt_node *node;
    uint8_t *first; /* first[i] = node[i].first, for nodes with many children */
    bool borrowed;  /* node and first belong to someone else (nametrie_view()) */
};

/* A key during the build, in sorted order: its bytes (copied so that keys next to each other in
 * the order are next to each other in memory: the BFS scans them by level). */
struct bkey {
    const uint8_t *k;
    uint32_t len;
    uint32_t off;
    uint32_t value;
};

/* Sort item: the first 8 bytes of key idx, big-endian, zero-padded. */
struct sitem {
    uint64_t head;
    uint32_t idx;
    uint32_t pad;
};

struct sctx {
    const uint8_t *pool;
    const struct nametrie_key *keys;
};

/* Byte order of the keys, a proper prefix first. */
static int sitem_cmp(const void *a, const void *b, void *ctx)
{
    const struct sctx *c = ctx;
    const struct sitem *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    const struct nametrie_key *kx = &c->keys[x->idx], *ky = &c->keys[y->idx];
    uint32_t m = kx->len < ky->len ? kx->len : ky->len;
    if (m > 8) {
        int r = memcmp(c->pool + kx->off + 8, c->pool + ky->off + 8, m - 8);
        if (r != 0)
            return r;
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

struct range {
    uint32_t lo, hi, depth;
};

void nametrie_free(struct nametrie *t)
{
    if (!t)
        return;
    if (!t->borrowed) {
        free(t->node);
        free(t->first);
    }
    free(t);
}

struct nametrie *nametrie_build(const char *pool, struct nametrie_key *keys, size_t n)
{
    struct nametrie *t = calloc(1, sizeof(*t));
    struct bkey *bk = NULL;
    struct sitem *it = NULL;
    uint8_t *kb = NULL;
    struct range *q = NULL;
    if (!t)
        return NULL;
    t->pool = (const uint8_t *)pool;
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
    struct sctx sc = { t->pool, keys };
    for (size_t i = 0; i < n; i++) {
        const struct nametrie_key *k = &keys[i];
        uint64_t h = 0;
        for (uint32_t j = 0; j < 8; j++)
            h = h << 8 | (j < k->len ? t->pool[k->off + j] : 0);
        it[i] = (struct sitem){ h, (uint32_t)i, 0 };
    }
    if (sort_items(it, n, &sc))
        goto fail;
    size_t ko = 0;
    for (size_t i = 0; i < n; i++) {
        const struct nametrie_key *k = &keys[it[i].idx];
        uint8_t *d = kb + ko;
        memcpy(d, t->pool + k->off, k->len);
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
                nd->label = a->off + depth;
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

/* Whether bytes 1..ll-1 of ch's label (ll = its length) equal q[d+1 .. d+ll). */
static inline bool label_eq(const struct nametrie *t, const struct nt_node *ch, const char *q,
                            size_t d, size_t ll)
{
    if (ll - 1 <= NT_INLINE) {
        uint32_t lab = ch->label;
        for (size_t j = 1; j < ll; j++, lab >>= 8)
            if ((uint8_t)lab != (uint8_t)q[d + j])
                return false;
        return true;
    }
    return memcmp(t->pool + ch->label + 1, q + d + 1, ll - 1) == 0;
}

static inline bool nt_dead(const uint64_t *dead, uint32_t v)
{
    return dead && (dead[v / 64] >> (v % 64) & 1);
}

static inline uint32_t nt_lookup(const struct nametrie *t, const char *q, size_t len,
                                 enum nametrie_mode mode, const uint64_t *dead)
{
    if (!t || t->n == 0)
        return NAMETRIE_NONE;
    const struct nt_node *nd = &t->node[0];
    uint32_t best = NAMETRIE_NONE;
    size_t d = 0;
    while (d < len && (nd->meta & NT_INTERNAL)) {
        const struct nt_node *ch = child_of(t, nd, (uint8_t)q[d]);
        if (!ch)
            break;
        size_t ll = ch->meta & NT_LLEN;
        if (ll > len - d || !label_eq(t, ch, q, d, ll))
            break;
        d += ll;
        nd = ch;
        if (nd->meta & NT_ACCEPT) {
            uint32_t v = value_of(t, nd);
            if (mode == NAMETRIE_PREFIX) {
                if (!nt_dead(dead, v))
                    best = v;
            } else if (d == len) {
                return nt_dead(dead, v) ? NAMETRIE_NONE : v;
            }
        }
    }
    return mode == NAMETRIE_EXACT ? NAMETRIE_NONE : best;
}

uint32_t nametrie_lookup(const struct nametrie *t, const char *q, size_t len,
                         enum nametrie_mode mode)
{
    return nt_lookup(t, q, len, mode, NULL);
}

uint32_t nametrie_lookup_live(const struct nametrie *t, const char *q, size_t len,
                              enum nametrie_mode mode, const uint64_t *dead)
{
    return nt_lookup(t, q, len, mode, dead);
}

/* Every value at nd and below it; depth-first with an explicit stack bounded by the node count
 * (children come after their parent, so the walk ends). */
static int nt_each_below(const struct nametrie *t, uint32_t start, int (*fn)(uint32_t, void *),
                         void *arg)
{
    uint32_t *stack = malloc(t->n * sizeof(*stack));
    if (!stack)
        return -1;
    size_t sp = 0;
    int rc = 0;
    stack[sp++] = start;
    while (sp > 0 && rc == 0) {
        const struct nt_node *nd = &t->node[stack[--sp]];
        if (nd->meta & NT_ACCEPT)
            rc = fn(value_of(t, nd), arg);
        if (nd->meta & NT_INTERNAL)
            for (uint32_t i = 0; i <= nd->nch && sp < t->n; i++)
                stack[sp++] = nd->x + i;
    }
    free(stack);
    return rc;
}

int nametrie_each_prefixed(const struct nametrie *t, const char *q, size_t len,
                           int (*fn)(uint32_t value, void *arg), void *arg)
{
    if (!t || t->n == 0)
        return 0;
    const struct nt_node *nd = &t->node[0];
    size_t d = 0;
    while (d < len) {
        if (!(nd->meta & NT_INTERNAL))
            return 0;
        const struct nt_node *ch = child_of(t, nd, (uint8_t)q[d]);
        if (!ch)
            return 0;
        size_t ll = ch->meta & NT_LLEN, m = ll < len - d ? ll : len - d;
        for (size_t j = 1; j < m; j++) {
            uint32_t c =
                ll - 1 <= NT_INLINE ? (ch->label >> (8 * (j - 1))) & 0xff : t->pool[ch->label + j];
            if (c != (uint8_t)q[d + j])
                return 0;
        }
        d += m;
        nd = ch;
    }
    return nt_each_below(t, (uint32_t)(nd - t->node), fn, arg);
}

void nametrie_parts(const struct nametrie *t, struct nametrie_parts *p)
{
    memset(p, 0, sizeof(*p));
    if (!t || t->n == 0)
        return;
    p->node = t->node;
    p->first = t->first;
    p->n = t->n;
}

struct nametrie *nametrie_view(const char *pool, size_t pool_len, const struct nametrie_parts *p,
                               uint32_t nvalues, char *err, size_t errlen)
{
    const char *why = NULL;
    const struct nt_node *node = p->node;
    const uint8_t *first = p->first;
    if (p->n > UINT32_MAX || (p->n && (!node || !first)))
        why = "inconsistent sizes";
    for (size_t i = 0; !why && i < p->n; i++) {
        const struct nt_node *nd = &node[i];
        size_t ll = nd->meta & NT_LLEN;
        if (first[i] != nd->first)
            why = "first-byte table differs";
        else if (ll - 1 > NT_INLINE && ll > 0 &&
                 ((size_t)nd->label >= pool_len || ll > pool_len - nd->label))
            why = "label outside the pool";
        else if (nd->meta & NT_INTERNAL) {
            size_t lo = nd->x, hi = (size_t)nd->x + nd->nch;
            if (lo <= i || hi >= p->n)
                why = "child out of order";
            for (size_t c = lo; !why && c <= hi; c++)
                if ((node[c].meta & NT_LLEN) == 0)
                    why = "empty edge label";
            if (!why && (nd->meta & NT_ACCEPT) && node[lo - 1].x >= nvalues)
                why = "value out of range";
        } else if ((nd->meta & NT_ACCEPT) && nd->x >= nvalues) {
            why = "value out of range";
        }
    }
    if (why) {
        if (err && errlen)
            snprintf(err, errlen, "name trie: %s", why);
        return NULL;
    }
    struct nametrie *t = calloc(1, sizeof(*t));
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->pool = (const uint8_t *)pool;
    t->borrowed = true;
    t->n = (size_t)p->n;
    t->node = (struct nt_node *)node;
    t->first = (uint8_t *)first;
    return t;
}

size_t nametrie_bytes(const struct nametrie *t)
{
    if (!t)
        return 0;
    return sizeof(*t) + t->n * (sizeof(struct nt_node) + 1);
}

size_t nametrie_nodes(const struct nametrie *t)
{
    return t ? t->n : 0;
}
