/* submap.c - the node's address -> subscriber map (see submap.h).
 *
 * Slots hold the index of an immutable entry (4 bytes, published with release stores, read
 * inside an RCU read section); an empty slot is EMPTY and a removed one the tombstone TOMB, so
 * that probe sequences stay unbroken. Lookups probe linearly from
 * the key's hash until NULL. The writer reuses the first tombstone it passed when the key is
 * absent. IPv6 lookups try each prefix length present in the map (counted per length), longest
 * first. Tombstones are cleared when the table is rebuilt in place (submap_expire, when they
 * exceed a quarter of the slots). */
#include "rules/subs/submap.h"

#include <arpa/inet.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "common/ascii.h"
#include "common/bigmem.h"
#include "common/hash.h"
#include "common/imgfile.h"

/* Entries live in one array allocated at creation (capacity plus a spare of a sixty-fourth for
 * replacements waiting out a grace period), handed out in order and then from a free list: no
 * allocation per mapping. 56 bytes: the reader word, the key's family and length, the lengths of
 * the ids, the expiry, then ENTRY_DATA bytes holding the address's bytes (4 for IPv4, the
 * prefix's for IPv6: 8 for a /64) followed by "subscriber NUL session NUL" when that fits (an
 * MSISDN and a 16-byte session id do, for IPv4 and a /64), else a pointer to an allocation of
 * their own (ext). An entry is never changed while the table points at it: an update fills
 * another entry and swaps the slot; the old one is marked pending (a bit each) until a grace
 * period has passed (batched: one synchronize when the free list runs dry), then is reused.
 * While an entry is in the table, readers may keep a word of their own in it (ref: the tariff
 * table's record, submap_lookup_ref); the writer uses that word only for the free list, which no
 * reader reaches. */
#define ENTRY_DATA 40
#define NIL        UINT32_MAX

struct entry {
    uint32_t ref; /* in the table: the readers' word (relaxed atomics); free: the next free */
    uint8_t family, plen, sub_len, sess_len;
    uint64_t expires_ms;
    uint8_t data[ENTRY_DATA]; /* address bytes, then the ids or a pointer to them */
};

_Static_assert(sizeof(struct entry) == 56, "a mapping's entry is 56 bytes");

/* Slot values: 0 empty, 1 removed (tombstone), i + 2 entry i. */
#define EMPTY  0u
#define TOMB   1u
#define SLOT_E 2u

struct submap {
    uint32_t *slots;   /* RCU: readers load with acquire */
    struct entry *ent; /* nent entries; [0, used) handed out at least once */
    size_t mask, capacity, count, tombs, nent, used;
    uint64_t *pending; /* a bit per entry: out of the table, waiting for a grace period */
    size_t npending;
    size_t next; /* entries whose ids are an allocation of their own */
    uint32_t free_head;
    uint64_t seed;
    uint32_t v6_lens[129]; /* entries per IPv6 prefix length (writer) */
    uint64_t v6_bits[3];   /* bit L: some entry has IPv6 prefix length L; read without the lock */
    pthread_mutex_t lock;
};

/* Bytes of the address kept: IPv4 4, IPv6 those of the prefix (the rest are zero). */
static size_t addr_bytes(unsigned family, unsigned plen)
{
    return family == 4 ? 4 : (plen + 7u) / 8u;
}

static bool text_ext(const struct entry *e)
{
    return addr_bytes(e->family, e->plen) + e->sub_len + e->sess_len + 2 > ENTRY_DATA;
}

/* "subscriber NUL session NUL" of e. */
static char *entry_text(const struct entry *e)
{
    const uint8_t *at = e->data + addr_bytes(e->family, e->plen);
    char *p;
    if (!text_ext(e))
        return (char *)(uintptr_t)at;
    memcpy(&p, at, sizeof(p));
    return p;
}

static inline bool entry_is(const struct entry *e, const struct sub_addr *a)
{
    if (e->family != a->family || e->plen != a->plen)
        return false;
    size_t n = addr_bytes(a->family, a->plen);
    if (n == 4) { /* an IPv4 address, a /64: one word, without the call */
        uint32_t x, y;
        memcpy(&x, e->data, 4);
        memcpy(&y, a->addr, 4);
        return x == y;
    }
    if (n == 8) {
        uint64_t x, y;
        memcpy(&x, e->data, 8);
        memcpy(&y, a->addr, 8);
        return x == y;
    }
    return memcmp(e->data, a->addr, n) == 0;
}

/* The key's hash: the address as two words (the bytes past the prefix are zero), its family
 * and length; an IPv4 key is one mixing round (every decision hashes its client's key). */
static inline uint64_t key_hash_seed(uint64_t seed, const struct sub_addr *a)
{
    uint64_t w[2];
    memcpy(w, a->addr, 16);
    uint64_t h = seed ^ ((uint64_t)a->family << 8 | a->plen) * 0x9e3779b97f4a7c15ull;
    if (a->family == 4)
        return hash_mix64(h ^ w[0]);
    return hash_mix64(hash_mix64(h ^ w[0]) ^ w[1]);
}

static inline uint64_t key_hash(const struct submap *m, const struct sub_addr *a)
{
    return key_hash_seed(m->seed, a);
}

/* Clears the bits of addr from plen to bits (a multiple of 8). */
static void mask_bits(uint8_t *addr, unsigned plen, unsigned bits)
{
    unsigned whole = (plen + 7) / 8;
    if (plen % 8)
        addr[plen / 8] &= (uint8_t)(0xff00u >> (plen % 8));
    if (whole < bits / 8)
        memset(addr + whole, 0, bits / 8 - whole);
}

/* sub_addr_quad_prefix() one byte at a time (fewer than 16 bytes to read). */
static size_t quad_bytes(const char *s, size_t len, struct sub_addr *a)
{
    const char *e = s + len, *start = s;
    uint8_t q[4];
    for (int part = 0; part < 4; part++) {
        if (part && (s == e || *s++ != '.'))
            return 0;
        const char *b = s;
        unsigned v = 0, d;
        while (s < e && s - b < 3 && (d = (unsigned)(unsigned char)*s - '0') < 10) {
            v = v * 10 + d;
            s++;
        }
        if (s == b || v > 255 || (s - b > 1 && *b == '0'))
            return 0;
        q[part] = (uint8_t)v;
    }
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->plen = 32;
    memcpy(a->addr, q, 4);
    return (size_t)(s - start);
}

#ifdef __SSE2__
/* The part of a dotted quad that ends before byte q, of l (1..3) digits: its value, or 256 (not
 * a part: over 255, or a leading zero). d: the 16 bytes' digit values behind 3 zero bytes. */
static inline unsigned quad_part(const uint8_t *d, const char *s, unsigned q, unsigned l)
{
    unsigned v = (l >= 3) * 100u * d[q] + (l >= 2) * 10u * d[q + 1] + d[q + 2];
    return l > 1 && s[q - l] == '0' ? 256u : v;
}

/* sub_addr_quad_prefix() with 16 bytes to read: the bytes' classes taken together (digits and
 * dots as bit masks), no branch per digit (the parts' lengths vary line to line, and a
 * mispredicted branch per part cost more than the rest of the parse). */
static size_t quad_16(const char *s, struct sub_addr *a)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i isdig = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    unsigned dig = (unsigned)_mm_movemask_epi8(isdig);
    unsigned dot = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
    if (__builtin_popcount(dot) < 3)
        return 0;
    unsigned e1 = (unsigned)__builtin_ctz(dot);
    dot &= dot - 1;
    unsigned e2 = (unsigned)__builtin_ctz(dot);
    dot &= dot - 1;
    unsigned e3 = (unsigned)__builtin_ctz(dot);
    unsigned l1 = e1, l2 = e2 - e1 - 1, l3 = e3 - e2 - 1;
    if (l1 - 1 > 2 || l2 - 1 > 2 || l3 - 1 > 2) /* (1..3 each: unsigned wrap for 0) */
        return 0;
    unsigned rest = ~dig >> (e3 + 1); /* (e3 <= 11: the fourth part's 3 bytes are in the 16) */
    unsigned l4 = rest ? (unsigned)__builtin_ctz(rest) : 3;
    if (l4 > 3)
        l4 = 3; /* (a fourth digit: the caller sees it follow) */
    unsigned end = e3 + 1 + l4;
    unsigned want = (1u << end) - 1;
    /* every byte before end a digit or one of the three dots */
    if (l4 == 0 || ((dig | (1u << e1) | (1u << e2) | (1u << e3)) & want) != want)
        return 0;
    uint8_t dv[19] = { 0 };
    _mm_storeu_si128((__m128i *)(void *)(dv + 3), _mm_and_si128(d, isdig));
    unsigned p1 = quad_part(dv, s, e1, l1), p2 = quad_part(dv, s, e2, l2),
             p3 = quad_part(dv, s, e3, l3), p4 = quad_part(dv, s, end, l4);
    if ((p1 | p2 | p3 | p4) > 255)
        return 0;
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->plen = 32;
    a->addr[0] = (uint8_t)p1;
    a->addr[1] = (uint8_t)p2;
    a->addr[2] = (uint8_t)p3;
    a->addr[3] = (uint8_t)p4;
    return end;
}
#endif

size_t sub_addr_quad_prefix(const char *s, size_t len, struct sub_addr *a)
{
#ifdef __SSE2__
    if (len >= 16)
        return quad_16(s, a);
#endif
    return quad_bytes(s, len, a);
}

/* IPv6 groups (inet_pton's form without an embedded dotted quad: 1..4 hex digits a group,
 * eight of them or fewer around one "::") of exactly len bytes into out, or false (then the
 * library's parse decides, and words the error). */
static bool parse_groups(const char *s, size_t len, uint8_t out[16])
{
    uint16_t g[8];
    int n = 0, gap = -1;
    size_t i = 0;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len == 0 || s[0] == ':') {
        return false;
    }
    while (i < len) {
        unsigned v = 0, digits = 0;
        for (int x; i < len && digits < 5 && (x = ascii_hexval((uint8_t)s[i])) >= 0; i++, digits++)
            v = v << 4 | (unsigned)x;
        if (digits == 0 || digits > 4 || n == 8)
            return false;
        g[n++] = (uint16_t)v;
        if (i == len)
            break;
        if (s[i++] != ':' || i == len)
            return false; /* (not a group's end, or a single ':' last) */
        if (s[i] == ':') {
            if (gap >= 0)
                return false;
            gap = n;
            i++;
        }
    }
    if (gap < 0 ? n != 8 : n > 7)
        return false;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : n - gap; /* groups after the "::", written at the end */
    for (int k = 0; k < n - tail; k++) {
        out[2 * k] = (uint8_t)(g[k] >> 8);
        out[2 * k + 1] = (uint8_t)g[k];
    }
    for (int k = 0; k < tail; k++) {
        out[16 - 2 * tail + 2 * k] = (uint8_t)(g[n - tail + k] >> 8);
        out[16 - 2 * tail + 2 * k + 1] = (uint8_t)g[n - tail + k];
    }
    return true;
}

/* "GROUPS" or "GROUPS/LEN" (1..3 digits, at most 128, no bit set past it) into a, or false:
 * the IPv6 keys of a subscribers file (a /64 each) without a copy or a library call. Anything
 * else, errors included, is left to the general parse. */
static bool parse_v6_fast(const char *s, size_t len, struct sub_addr *a)
{
    const char *slash = memchr(s, '/', len);
    size_t al = slash ? (size_t)(slash - s) : len;
    unsigned plen = 128;
    if (slash) {
        size_t dl = len - al - 1;
        if (dl == 0 || dl > 3)
            return false;
        plen = 0;
        for (size_t i = 0; i < dl; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9')
                return false;
            plen = plen * 10 + (unsigned)(slash[1 + i] - '0');
        }
        if (plen > 128)
            return false;
    }
    if (!parse_groups(s, al, a->addr))
        return false;
    uint8_t m[16];
    memcpy(m, a->addr, 16);
    mask_bits(m, plen, 128);
    if (memcmp(m, a->addr, 16) != 0)
        return false;
    a->family = 6;
    a->plen = (uint8_t)plen;
    return true;
}

static int addr_parse_slow(const char *s, size_t len, struct sub_addr *a, char *err, size_t errlen);

int sub_addr_parse(const char *s, size_t len, struct sub_addr *a, char *err, size_t errlen)
{
    if (len >= 7 && len <= 15 && sub_addr_quad_prefix(s, len, a) == len)
        return 0;
    if (len >= 2 && len < 64 && parse_v6_fast(s, len, a))
        return 0;
    return addr_parse_slow(s, len, a, err, errlen);
}

/* sub_addr_parse() of what the fast forms did not take: any form inet_pton reads, and the
 * errors. */
static int addr_parse_slow(const char *s, size_t len, struct sub_addr *a, char *err, size_t errlen)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "subscriber address '%.*s': empty or too long",
                 (int)(len < 64 ? len : 64), s);
        return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(a, 0, sizeof(*a));
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        plen = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || plen > 128) {
            snprintf(err, errlen, "subscriber address '%s/%s': bad prefix length", buf, slash + 1);
            return -EINVAL;
        }
    }
    if (!strchr(buf, ':') && inet_pton(AF_INET, buf, a->addr) == 1) { /* (IPv6 has a ':') */
        if (plen != -1 && plen != 32) {
            snprintf(err, errlen,
                     "subscriber address '%s': an IPv4 subscriber is one address (/32)", buf);
            return -EINVAL;
        }
        a->family = 4;
        a->plen = 32;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, a->addr) != 1) {
        snprintf(err, errlen, "subscriber address '%s': not an IPv4 or IPv6 address", buf);
        return -EINVAL;
    }
    a->family = 6;
    a->plen = (uint8_t)(plen == -1 ? 128 : plen);
    uint8_t m[16];
    memcpy(m, a->addr, 16);
    mask_bits(m, a->plen, 128);
    if (memcmp(m, a->addr, 16) != 0) {
        snprintf(err, errlen, "subscriber address '%s/%u': bits set past the prefix length", buf,
                 a->plen);
        return -EINVAL;
    }
    return 0;
}

size_t sub_addr_format(const struct sub_addr *a, char *out, size_t cap)
{
    char t[INET6_ADDRSTRLEN];
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, t, sizeof(t)))
        t[0] = '\0';
    int n = a->family == 4 ? snprintf(out, cap, "%s", t) : snprintf(out, cap, "%s/%u", t, a->plen);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

bool sub_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > SUB_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* The smallest table for capacity mappings: at least 16 slots, at most two thirds full. */
static size_t slots_for(size_t capacity)
{
    size_t n = 16;
    while (n < capacity + capacity / 2)
        n <<= 1;
    return n;
}

/* A map for capacity mappings over n slots (a power of two, at least slots_for(capacity)),
 * empty, its seed unset; or NULL. */
static struct submap *map_alloc(size_t capacity, size_t n)
{
    struct submap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nent = capacity + capacity / 64 + 16;
    /* large tables are mapped zero pages (huge ones: decisions read them at random): an entry's
     * memory is touched when first handed out */
    m->slots = bigmem_alloc(n * sizeof(*m->slots));
    m->ent = bigmem_alloc(m->nent * sizeof(*m->ent));
    m->pending = calloc((m->nent + 63) / 64, sizeof(*m->pending));
    if (!m->slots || !m->ent || !m->pending || pthread_mutex_init(&m->lock, NULL) != 0) {
        bigmem_free(m->slots, n * sizeof(*m->slots));
        bigmem_free(m->ent, m->nent * sizeof(*m->ent));
        free(m->pending);
        free(m);
        return NULL;
    }
    m->mask = n - 1;
    m->capacity = capacity;
    m->free_head = NIL;
    return m;
}

struct submap *submap_new(size_t capacity)
{
    if (capacity == 0 || capacity > ((size_t)1 << 28))
        return NULL;
    struct submap *m = map_alloc(capacity, slots_for(capacity));
    if (m)
        m->seed = hash_mix64((uint64_t)(uintptr_t)m ^ 0x5a17c0de5eedull);
    return m;
}

void submap_free(struct submap *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->next && i < m->used; i++) /* free-list entries have lengths 0 */
        if (text_ext(&m->ent[i]))
            free(entry_text(&m->ent[i]));
    bigmem_free(m->slots, (m->mask + 1) * sizeof(*m->slots));
    bigmem_free(m->ent, m->nent * sizeof(*m->ent));
    free(m->pending);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Moves the pending entries to the free list once no reader can hold them. Writer, lock held
 * (readers never take it, so waiting here cannot deadlock). */
static void reclaim(struct submap *m)
{
    if (!m->npending)
        return;
    urcu_memb_synchronize_rcu();
    for (size_t w = 0; w < (m->used + 63) / 64; w++) {
        while (m->pending[w]) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(m->pending[w]);
            m->pending[w] &= m->pending[w] - 1;
            struct entry *e = &m->ent[i];
            if (text_ext(e)) {
                free(entry_text(e));
                m->next--;
            }
            e->sub_len = e->sess_len = 0;
            e->ref = m->free_head;
            m->free_head = (uint32_t)i;
        }
    }
    m->npending = 0;
}

/* An entry to fill, or NIL when every entry is in use. Writer, lock held. */
static uint32_t entry_get(struct submap *m)
{
    if (m->free_head == NIL && m->used == m->nent)
        reclaim(m);
    if (m->free_head != NIL) {
        uint32_t i = m->free_head;
        m->free_head = m->ent[i].ref;
        return i;
    }
    return m->used < m->nent ? (uint32_t)m->used++ : NIL;
}

/* Entry i left the table: reused after a grace period. Writer, lock held. */
static void retire(struct submap *m, uint32_t i)
{
    m->pending[i / 64] |= 1ull << (i % 64);
    m->npending++;
}

static uint32_t slot_load(const struct submap *m, size_t i)
{
    return __atomic_load_n(&m->slots[i], __ATOMIC_ACQUIRE);
}

static void slot_store(struct submap *m, size_t i, uint32_t v)
{
    __atomic_store_n(&m->slots[i], v, __ATOMIC_RELEASE);
}

/* The slot of key a (hash h: key_hash()), or (not found) SIZE_MAX with *ins the slot to insert at. Writer only. */
static inline size_t find_w(struct submap *m, const struct sub_addr *a, uint64_t h, size_t *ins)
{
    size_t i = h & m->mask, tomb = SIZE_MAX;
    for (size_t n = 0; n <= m->mask; n++, i = (i + 1) & m->mask) {
        uint32_t v = m->slots[i];
        if (v == EMPTY) {
            *ins = tomb != SIZE_MAX ? tomb : i;
            return SIZE_MAX;
        }
        if (v == TOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
            continue;
        }
        if (entry_is(&m->ent[v - SLOT_E], a))
            return i;
    }
    *ins = tomb;
    return SIZE_MAX;
}

static void count_len(struct submap *m, unsigned family, unsigned plen, int d)
{
    if (family != 6)
        return;
    m->v6_lens[plen] = (uint32_t)((int)m->v6_lens[plen] + d);
    uint64_t bit = 1ull << (plen % 64);
    if (m->v6_lens[plen] == 1 && d > 0) /* (after the slot's store: a reader that sees the
                                         * bit sees the entry) */
        __atomic_fetch_or(&m->v6_bits[plen / 64], bit, __ATOMIC_RELEASE);
    else if (m->v6_lens[plen] == 0)
        __atomic_fetch_and(&m->v6_bits[plen / 64], ~bit, __ATOMIC_RELEASE);
}

/* The longest IPv6 prefix length present that is shorter than below (129: any), or -1. */
static int v6_len_below(const struct submap *m, int below)
{
    for (int w = (below - 1) / 64; below > 0 && w >= 0; w--) {
        uint64_t b = __atomic_load_n(&m->v6_bits[w], __ATOMIC_ACQUIRE);
        int top = below - 1 - w * 64; /* the highest bit of this word that may count */
        if (top < 63)
            b &= ((uint64_t)2 << top) - 1;
        if (b)
            return w * 64 + 63 - __builtin_clzll(b);
        below = w * 64;
    }
    return -1;
}

/* Fills entry i (not reachable by readers). 0 or -ENOMEM (a long id's text). */
static int entry_fill(struct entry *e, const struct sub_addr *a, const char *subscriber, size_t sl,
                      const char *session, size_t el, uint64_t expires_ms)
{
    size_t ab = addr_bytes(a->family, a->plen);
    char *t = (char *)e->data + ab;
    if (ab + sl + el + 2 > ENTRY_DATA && !(t = malloc(sl + el + 2)))
        return -ENOMEM;
    e->family = a->family;
    e->plen = a->plen;
    memcpy(e->data, a->addr, ab);
    e->sub_len = (uint8_t)sl;
    e->sess_len = (uint8_t)el;
    e->expires_ms = expires_ms;
    e->ref = 0;
    memcpy(t, subscriber, sl + 1);
    if (el)
        memcpy(t + sl + 1, session, el);
    t[sl + 1 + el] = '\0';
    if (t != (char *)e->data + ab)
        memcpy(e->data + ab, &t, sizeof(t));
    return 0;
}

/* Sets a (hash h) to the ids (sl, el bytes, checked), lock held. 0, -ENOSPC or -ENOMEM. */
static inline int set_locked(struct submap *m, const struct sub_addr *a, uint64_t h,
                             const char *subscriber, size_t sl, const char *session, size_t el,
                             uint64_t expires_ms)
{
    size_t ins = SIZE_MAX, at = find_w(m, a, h, &ins);
    int rc = 0;
    uint32_t i = NIL;
    if (at == SIZE_MAX && (m->count >= m->capacity || ins == SIZE_MAX))
        rc = -ENOSPC;
    else if ((i = entry_get(m)) == NIL)
        rc = -ENOSPC; /* (not reached: the spare covers the entries waiting for reuse) */
    else if ((rc = entry_fill(&m->ent[i], a, subscriber, sl, session, el, expires_ms)) != 0) {
        m->ent[i].sub_len = m->ent[i].sess_len = 0;
        m->ent[i].ref = m->free_head;
        m->free_head = i;
    } else {
        if (text_ext(&m->ent[i]))
            m->next++;
        if (at != SIZE_MAX) {
            uint32_t old = m->slots[at] - SLOT_E;
            slot_store(m, at, i + SLOT_E);
            retire(m, old);
        } else {
            if (m->slots[ins] == TOMB)
                m->tombs--;
            slot_store(m, ins, i + SLOT_E);
            m->count++;
            count_len(m, a->family, a->plen, +1);
        }
    }
    return rc;
}

int submap_set(struct submap *m, const struct sub_addr *a, const char *subscriber,
               const char *session, uint64_t expires_ms)
{
    size_t sl = strlen(subscriber), el = session ? strlen(session) : 0;
    if (!sub_id_valid(subscriber, sl) || (el && !sub_id_valid(session, el)))
        return -EINVAL;
    uint64_t h = key_hash(m, a);
    pthread_mutex_lock(&m->lock);
    int rc = set_locked(m, a, h, subscriber, sl, session, el, expires_ms);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

size_t submap_set_many(struct submap *m, struct submap_item *it, size_t n)
{
    uint64_t h[SUBMAP_MANY_MAX];
    if (n > SUBMAP_MANY_MAX)
        n = SUBMAP_MANY_MAX;
    for (size_t k = 0; k < n; k++) { /* every slot loading before the first is read */
        h[k] = key_hash(m, &it[k].a);
        __builtin_prefetch(&m->slots[h[k] & m->mask]);
    }
    size_t k = 0;
    pthread_mutex_lock(&m->lock);
    for (; k < n; k++) {
        if (it[k].sub_len == 0 || it[k].sub_len > SUB_ID_MAX || !it[k].sub_valid) {
            it[k].rc = -EINVAL;
            continue;
        }
        it[k].rc = set_locked(m, &it[k].a, h[k], it[k].sub, it[k].sub_len, NULL, 0, 0);
        if (it[k].rc) {
            k++;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return k;
}

static void remove_at(struct submap *m, size_t at)
{
    uint32_t old = m->slots[at] - SLOT_E;
    slot_store(m, at, TOMB);
    m->tombs++;
    m->count--;
    count_len(m, m->ent[old].family, m->ent[old].plen, -1);
    retire(m, old);
}

int submap_del(struct submap *m, const struct sub_addr *a, const char *session)
{
    pthread_mutex_lock(&m->lock);
    size_t ins, at = find_w(m, a, key_hash(m, a), &ins);
    int rc = -ENOENT;
    if (at != SIZE_MAX) {
        const struct entry *e = &m->ent[m->slots[at] - SLOT_E];
        if (!session || !session[0] || strcmp(entry_text(e) + e->sub_len + 1, session) == 0) {
            remove_at(m, at);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Reader: the live entry of key a, or NULL. Inside a read section. */
static const struct entry *find_r(const struct submap *m, const struct sub_addr *a, uint64_t now)
{
    size_t i = key_hash(m, a) & m->mask;
    for (size_t n = 0; n <= m->mask; n++, i = (i + 1) & m->mask) {
        uint32_t v = slot_load(m, i);
        if (v == EMPTY)
            return NULL;
        if (v == TOMB)
            continue;
        const struct entry *e = &m->ent[v - SLOT_E];
        if (entry_is(e, a))
            return e->expires_ms && e->expires_ms <= now ? NULL : e;
    }
    return NULL;
}

static void copy_out(char *dst, size_t cap, const char *src, size_t n)
{
    if (!dst || cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The live entry for the address (IPv6: the longest prefix), or NULL. Inside a read section. */
static const struct entry *lookup(const struct submap *m, int family, const uint8_t *addr,
                                  uint64_t now_ms)
{
    struct sub_addr k = { 0 };
    const struct entry *e = NULL;
    if (family == 4) {
        k.family = 4;
        k.plen = 32;
        memcpy(k.addr, addr, 4);
        e = find_r(m, &k, now_ms);
    } else if (family == 6) {
        k.family = 6;
        for (int pl = v6_len_below(m, 129); pl >= 0 && !e; pl = v6_len_below(m, pl)) {
            memcpy(k.addr, addr, 16);
            mask_bits(k.addr, (unsigned)pl, 128);
            k.plen = (uint8_t)pl;
            e = find_r(m, &k, now_ms);
        }
    }
    return e;
}

bool submap_lookup(const struct submap *m, int family, const uint8_t *addr, uint64_t now_ms,
                   char *sub, size_t cap, char *sess, size_t sesscap)
{
    urcu_memb_read_lock();
    const struct entry *e = lookup(m, family, addr, now_ms);
    if (e) {
        const char *t = entry_text(e);
        copy_out(sub, cap, t, e->sub_len);
        copy_out(sess, sesscap, t + e->sub_len + 1, e->sess_len);
    }
    urcu_memb_read_unlock();
    return e != NULL;
}

/* The key a lookup of the address tries first (IPv6: the longest prefix length present), or
 * false (an IPv6 map holding no prefix). */
static bool first_key(const struct submap *m, int family, const uint8_t *addr, struct sub_addr *k)
{
    memset(k, 0, sizeof(*k));
    k->family = (uint8_t)family;
    if (family == 4) {
        k->plen = 32;
        memcpy(k->addr, addr, 4);
        return true;
    }
    int pl = family == 6 ? v6_len_below(m, 129) : -1;
    if (pl < 0)
        return false;
    memcpy(k->addr, addr, 16);
    mask_bits(k->addr, (unsigned)pl, 128);
    k->plen = (uint8_t)pl; /* the longest length present: usually the only one */
    return true;
}

void submap_prefetch(const struct submap *m, int family, const uint8_t *addr)
{
    struct sub_addr k;
    if (first_key(m, family, addr, &k))
        __builtin_prefetch(&m->slots[key_hash(m, &k) & m->mask]);
}

void submap_prefetch_entry(const struct submap *m, int family, const uint8_t *addr)
{
    struct sub_addr k;
    if (!first_key(m, family, addr, &k))
        return;
    /* (the entries stay in the one array for the map's life: whatever the slot holds, the
     * address prefetched is inside it) */
    uint32_t v = slot_load(m, key_hash(m, &k) & m->mask);
    if (v >= SLOT_E) { /* (56 bytes: most entries straddle two cache lines) */
        const char *e = (const char *)&m->ent[v - SLOT_E];
        __builtin_prefetch(e);
        __builtin_prefetch(e + sizeof(struct entry) - 1);
    }
}

const char *submap_lookup_ref(const struct submap *m, int family, const uint8_t *addr,
                              uint64_t now_ms, uint32_t **ref, size_t *sub_len)
{
    const struct entry *e = lookup(m, family, addr, now_ms);
    if (!e)
        return NULL;
    *ref = (uint32_t *)&e->ref; /* (the one field readers write) */
    if (sub_len)
        *sub_len = e->sub_len;
    return entry_text(e);
}

size_t submap_expire(struct submap *m, uint64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i <= m->mask; i++) {
        uint32_t v = m->slots[i];
        if (v >= SLOT_E && m->ent[v - SLOT_E].expires_ms &&
            m->ent[v - SLOT_E].expires_ms <= now_ms) {
            remove_at(m, i);
            n++;
        }
    }
    /* A run of tombstones just before an empty slot ends no probe sequence: clear it, so
     * that lookups of absent keys stay short after mass expiry. */
    for (size_t i = m->mask + 1; i-- > 0;) {
        if (m->slots[i] == TOMB && m->slots[(i + 1) & m->mask] == EMPTY) {
            slot_store(m, i, EMPTY);
            m->tombs--;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

int submap_each(struct submap *m, submap_each_fn fn, void *ctx)
{
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i <= m->mask && !rc; i++) {
        uint32_t v = m->slots[i];
        if (v < SLOT_E)
            continue;
        const struct entry *e = &m->ent[v - SLOT_E];
        struct sub_addr a = { .family = e->family, .plen = e->plen };
        memcpy(a.addr, e->data, addr_bytes(e->family, e->plen));
        const char *sub = entry_text(e);
        rc = fn(ctx, &a, sub, sub + e->sub_len + 1, e->expires_ms);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

size_t submap_count(const struct submap *m)
{
    return __atomic_load_n(&m->count, __ATOMIC_RELAXED);
}

/* The image (submap_to_image): sections base + IMG_SCALARS.. of a tariff image.
 * Scalars (u64): the layout, the entry's size, the counts of slots, entries and ext records, the
 * hash seed and the capacity of the map written. Slots: the table as u32 values, a live one naming its packed
 * entry (k + 2, the entries in slot order), an ext mapping's slot a tombstone. Entries: 56 bytes
 * each as struct entry, ref 0, the bytes past the ids zero. Ext: the mappings whose ids are an
 * allocation of their own, EXT_HEAD bytes {family, plen, sub_len, sess_len, 4 zero bytes,
 * expiry u64, the address's 16 bytes} then the ids' bytes, one after the other. Host byte
 * order, which is the container's (little-endian hosts only: the key hash reads the address as
 * native words). */
enum { IMG_SCALARS, IMG_SLOTS, IMG_ENTRIES, IMG_EXT };
enum { SC_LAYOUT, SC_ENTRY_SIZE, SC_SLOTS, SC_ENTRIES, SC_EXT, SC_SEED, SC_CAPACITY, SC_N };
#define IMG_LAYOUT   1u
#define EXT_HEAD     32u
#define IMG_MAX_MAPS ((size_t)1 << 28)
#define IMG_MAX_SLOT ((size_t)1 << 30)

_Static_assert(IMG_EXT < SUBMAP_IMAGE_SECTS, "the image's sections are within its range");

/* Appends mapping e (ids ext) as a record to *x (*len bytes of *cap). 0 or -ENOMEM. */
static int ext_put(uint8_t **x, size_t *len, size_t *cap, const struct entry *e)
{
    size_t need = EXT_HEAD + e->sub_len + e->sess_len;
    if (*len + need > *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        while (c < *len + need)
            c *= 2;
        uint8_t *n = realloc(*x, c);
        if (!n)
            return -ENOMEM;
        *x = n;
        *cap = c;
    }
    uint8_t *r = *x + *len;
    const char *t = entry_text(e);
    memset(r, 0, EXT_HEAD);
    r[0] = e->family;
    r[1] = e->plen;
    r[2] = e->sub_len;
    r[3] = e->sess_len;
    memcpy(r + 8, &e->expires_ms, 8);
    memcpy(r + 16, e->data, addr_bytes(e->family, e->plen));
    memcpy(r + EXT_HEAD, t, e->sub_len);
    memcpy(r + EXT_HEAD + e->sub_len, t + e->sub_len + 1, e->sess_len);
    *len += need;
    return 0;
}

int submap_to_image(struct submap *m, struct imgfile_w *w, uint32_t base)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    (void)m, (void)w, (void)base;
    return -ENOTSUP;
#else
    pthread_mutex_lock(&m->lock);
    size_t ns = m->mask + 1, k = 0, xn = 0, xlen = 0, xcap = 0;
    uint32_t *sl = malloc(ns * sizeof(*sl));
    struct entry *pk = malloc((m->count ? m->count : 1) * sizeof(*pk));
    uint8_t *x = NULL;
    int rc = sl && pk ? 0 : -ENOMEM;
    for (size_t i = 0; i < ns && !rc; i++) {
        uint32_t v = m->slots[i];
        sl[i] = v;
        if (v < SLOT_E)
            continue;
        const struct entry *e = &m->ent[v - SLOT_E];
        if (text_ext(e)) { /* (a pointer: written as a record, inserted again on loading) */
            rc = ext_put(&x, &xlen, &xcap, e);
            sl[i] = TOMB;
            xn++;
            continue;
        }
        struct entry *c = &pk[k];
        memset(c, 0, sizeof(*c));
        c->family = e->family;
        c->plen = e->plen;
        c->sub_len = e->sub_len;
        c->sess_len = e->sess_len;
        c->expires_ms = e->expires_ms;
        memcpy(c->data, e->data, addr_bytes(e->family, e->plen) + e->sub_len + e->sess_len + 2);
        sl[i] = (uint32_t)(k++ + SLOT_E);
    }
    uint64_t sc[SC_N] = { IMG_LAYOUT, sizeof(struct entry), ns, k, xn, m->seed, m->capacity };
    pthread_mutex_unlock(&m->lock);
    if (!rc)
        rc = imgfile_w_add_u64(w, base + IMG_SCALARS, sc, SC_N);
    if (!rc)
        rc = imgfile_w_add(w, base + IMG_SLOTS, sl, ns * sizeof(*sl));
    if (!rc)
        rc = imgfile_w_add(w, base + IMG_ENTRIES, pk, k * sizeof(*pk));
    if (!rc)
        rc = imgfile_w_add(w, base + IMG_EXT, x, xlen);
    free(sl);
    free(pk);
    free(x);
    return rc;
#endif
}

/* True when no bit of addr (the n bytes kept of the key) is set past plen. */
static bool tail_clear(unsigned family, unsigned plen, const uint8_t *addr)
{
    return family == 4 || plen % 8 == 0 || (addr[plen / 8] & (0xffu >> (plen % 8))) == 0;
}

/* What is wrong with the key and the ids' lengths (family, plen, sub_len, sess_len), or NULL. */
static const char *key_bad(unsigned family, unsigned plen, unsigned sl, unsigned el)
{
    if (family != 4 && family != 6)
        return "family not 4 or 6";
    if (family == 4 ? plen != 32 : plen > 128)
        return "prefix length out of range";
    if (sl == 0 || sl > SUB_ID_MAX)
        return "subscriber id length not 1..128";
    if (el > SUB_ID_MAX)
        return "session id length over 128";
    return NULL;
}

/* What is wrong with packed entry e of an image, or NULL. */
static const char *entry_bad(const struct entry *e)
{
    const char *why = key_bad(e->family, e->plen, e->sub_len, e->sess_len);
    if (why)
        return why;
    if (text_ext(e))
        return "ids too long to be held in the entry";
    if (!tail_clear(e->family, e->plen, e->data))
        return "address bits set past the prefix length";
    size_t ab = addr_bytes(e->family, e->plen), end = ab + e->sub_len + e->sess_len + 2;
    const char *t = (const char *)e->data + ab;
    if (t[e->sub_len] != '\0' || t[e->sub_len + 1 + e->sess_len] != '\0')
        return "no NUL after an id";
    /* (eight bytes a step: an image holds millions of these) */
    if (sub_id_span(t, t + e->sub_len) != t + e->sub_len ||
        sub_id_span(t + e->sub_len + 1, t + e->sub_len + 1 + e->sess_len) !=
            t + e->sub_len + 1 + e->sess_len)
        return "an id byte outside 0x21..0x7e";
    static const uint8_t zero[ENTRY_DATA];
    if (end < ENTRY_DATA && memcmp(e->data + end, zero, ENTRY_DATA - end) != 0)
        return "bytes set past the ids";
    return NULL;
}

/* An ext record of an image. */
struct ext_rec {
    struct sub_addr a;
    uint64_t expires_ms;
    char sub[SUB_ID_MAX + 1], sess[SUB_ID_MAX + 1];
    size_t sl, el;
};

/* The record at x[*off, len) into *rec, *off moved past it: NULL, or what is wrong. */
static const char *ext_get(const uint8_t *x, size_t len, size_t *off, struct ext_rec *rec)
{
    const uint8_t *r = x + *off;
    if (len - *off < EXT_HEAD)
        return "truncated";
    const char *why = key_bad(r[0], r[1], r[2], r[3]);
    if (why)
        return why;
    if (r[4] | r[5] | r[6] | r[7])
        return "padding not zero";
    memset(&rec->a, 0, sizeof(rec->a));
    rec->a.family = r[0];
    rec->a.plen = r[1];
    size_t ab = addr_bytes(r[0], r[1]);
    memcpy(rec->a.addr, r + 16, ab);
    for (size_t i = ab; i < 16; i++)
        if (r[16 + i])
            return "address bytes set past the prefix";
    if (!tail_clear(r[0], r[1], rec->a.addr))
        return "address bits set past the prefix length";
    memcpy(&rec->expires_ms, r + 8, 8);
    rec->sl = r[2];
    rec->el = r[3];
    if (len - *off - EXT_HEAD < rec->sl + rec->el)
        return "truncated";
    memcpy(rec->sub, r + EXT_HEAD, rec->sl);
    rec->sub[rec->sl] = '\0';
    memcpy(rec->sess, r + EXT_HEAD + rec->sl, rec->el);
    rec->sess[rec->el] = '\0';
    if (!sub_id_valid(rec->sub, rec->sl) || (rec->el && !sub_id_valid(rec->sess, rec->el)))
        return "an id byte outside 0x21..0x7e";
    *off += EXT_HEAD + rec->sl + rec->el;
    return NULL;
}

/* The key of entry e. */
static void entry_key(const struct entry *e, struct sub_addr *a)
{
    memset(a, 0, sizeof(*a));
    a->family = e->family;
    a->plen = e->plen;
    memcpy(a->addr, e->data, addr_bytes(e->family, e->plen));
}

/* Checks the slots (ns u32, s) and entries (ne, en) of an image: every slot value in range,
 * the entries named in slot order each once, an empty slot (a probe ends), each entry valid.
 * True, or false with what is wrong in msg. */
static bool table_ok(const uint8_t *s, size_t ns, const uint8_t *en, size_t ne, char *msg,
                     size_t cap)
{
    size_t k = 0, empty = SIZE_MAX;
    for (size_t i = 0; i < ns; i++) {
        uint32_t v;
        memcpy(&v, s + i * 4, 4);
        if (v < SLOT_E) {
            if (v == EMPTY && empty == SIZE_MAX)
                empty = i;
            continue;
        }
        size_t j = v - SLOT_E;
        const char *why;
        struct entry e;
        if (j >= ne) {
            snprintf(msg, cap, "slot %zu names entry %zu of %zu", i, j, ne);
            return false;
        }
        if (j != k) {
            snprintf(msg, cap, "slot %zu names entry %zu, %s", i, j,
                     j < k ? "named by an earlier slot" : "not the next in slot order");
            return false;
        }
        memcpy(&e, en + k * sizeof(e), sizeof(e));
        if ((why = entry_bad(&e)) != NULL) {
            snprintf(msg, cap, "entry %zu (slot %zu): %s", k, i, why);
            return false;
        }
        k++;
    }
    if (k != ne) {
        snprintf(msg, cap, "%zu of the %zu entries named by a slot", k, ne);
        return false;
    }
    if (empty == SIZE_MAX) {
        snprintf(msg, cap, "no empty slot (a lookup of an absent key would probe every slot)");
        return false;
    }
    /* (an entry off its key's probe path is not found, like one never set: nothing worse; the
     * seed is the image's and the hash is this build's, as the layout number says) */
    return true;
}

struct submap *submap_from_image(const struct imgfile_r *r, uint32_t base, size_t capacity,
                                 char *err, size_t errlen)
{
    uint64_t sc[SC_N];
    char msg[192];
    size_t sl_len, en_len, x_len = 0;
    if (imgfile_r_u64(r, base + IMG_SCALARS, sc, SC_N) != 0) {
        snprintf(err, errlen, "subscriber map image: section %u missing or not %d numbers",
                 base + IMG_SCALARS, SC_N);
        return NULL;
    }
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    snprintf(err, errlen, "subscriber map image: read on little-endian hosts only");
    return NULL;
#endif
    const uint8_t *s = imgfile_r_get(r, base + IMG_SLOTS, &sl_len);
    const uint8_t *en = imgfile_r_get(r, base + IMG_ENTRIES, &en_len);
    const uint8_t *x = imgfile_r_get(r, base + IMG_EXT, &x_len);
    uint64_t ns = sc[SC_SLOTS], ne = sc[SC_ENTRIES], nx = sc[SC_EXT], wcap = sc[SC_CAPACITY];
    size_t want = capacity ? capacity : (size_t)wcap;
    if (sc[SC_LAYOUT] != IMG_LAYOUT || sc[SC_ENTRY_SIZE] != sizeof(struct entry))
        snprintf(msg, sizeof(msg), "layout %llu of %llu-byte entries, this build reads %u of %zu",
                 (unsigned long long)sc[SC_LAYOUT], (unsigned long long)sc[SC_ENTRY_SIZE],
                 IMG_LAYOUT, sizeof(struct entry));
    else if (ns < 16 || ns > IMG_MAX_SLOT || (ns & (ns - 1)))
        snprintf(msg, sizeof(msg), "%llu slots (not a power of two from 16 to 2^30)",
                 (unsigned long long)ns);
    else if (ne >= ns || nx > IMG_MAX_MAPS || ne + nx > IMG_MAX_MAPS)
        snprintf(msg, sizeof(msg), "%llu entries and %llu long-id mappings for %llu slots",
                 (unsigned long long)ne, (unsigned long long)nx, (unsigned long long)ns);
    else if (wcap == 0 || wcap > IMG_MAX_MAPS || want > IMG_MAX_MAPS)
        snprintf(msg, sizeof(msg), "capacity %zu (written %llu) not 1..2^28", want,
                 (unsigned long long)wcap);
    else if (!s || sl_len != ns * 4)
        snprintf(msg, sizeof(msg), "slots section %zu bytes, %llu expected", sl_len,
                 (unsigned long long)(ns * 4));
    else if ((!en && ne) || en_len != ne * sizeof(struct entry))
        snprintf(msg, sizeof(msg), "entries section %zu bytes, %llu expected", en_len,
                 (unsigned long long)(ne * sizeof(struct entry)));
    else if (!x && nx)
        snprintf(msg, sizeof(msg), "long-id section missing");
    else
        msg[0] = '\0';
    if (!msg[0] && table_ok(s, (size_t)ns, en, (size_t)ne, msg, sizeof(msg))) {
        struct ext_rec rec;
        size_t off = 0;
        for (uint64_t i = 0; i < nx && !msg[0]; i++) {
            const char *why = ext_get(x, x_len, &off, &rec);
            if (why)
                snprintf(msg, sizeof(msg), "long-id mapping %llu (byte %zu): %s",
                         (unsigned long long)i, off, why);
        }
        if (!msg[0] && off != x_len)
            snprintf(msg, sizeof(msg), "long-id section %zu bytes, its %llu mappings %zu", x_len,
                     (unsigned long long)nx, off);
    }
    if (msg[0]) {
        snprintf(err, errlen, "subscriber map image: %s", msg);
        return NULL;
    }
    if (want < ne + nx)
        want = (size_t)(ne + nx);
    /* the image's table when it holds want at the load factor, else a table of want's size
     * filled by inserting */
    bool copy = slots_for(want) <= ns;
    struct submap *m = copy ? map_alloc(want, (size_t)ns) : submap_new(want);
    if (!m) {
        snprintf(err, errlen, "subscriber map image: out of memory for %zu mappings", want);
        return NULL;
    }
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    if (copy) {
        m->seed = sc[SC_SEED];
        memcpy(m->slots, s, sl_len);
        if (ne)
            memcpy(m->ent, en, en_len);
        for (size_t i = 0; i < ns; i++)
            m->tombs += m->slots[i] == TOMB;
        for (size_t i = 0; i < ne; i++) {
            m->ent[i].ref = 0;
            count_len(m, m->ent[i].family, m->ent[i].plen, +1);
        }
        m->count = m->used = (size_t)ne;
    } else {
        for (size_t i = 0; i < ne && !rc; i++) {
            struct entry e;
            struct sub_addr a;
            memcpy(&e, en + i * sizeof(e), sizeof(e));
            entry_key(&e, &a);
            const char *t = (const char *)e.data + addr_bytes(e.family, e.plen);
            rc = set_locked(m, &a, key_hash(m, &a), t, e.sub_len, t + e.sub_len + 1, e.sess_len,
                            e.expires_ms);
        }
    }
    struct ext_rec rec;
    size_t off = 0;
    for (uint64_t i = 0; i < nx && !rc; i++) {
        ext_get(x, x_len, &off, &rec); /* (checked above) */
        rc = set_locked(m, &rec.a, key_hash(m, &rec.a), rec.sub, rec.sl, rec.sess, rec.el,
                        rec.expires_ms);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc) {
        snprintf(err, errlen, "subscriber map image: %s while inserting", strerror(-rc));
        submap_free(m);
        return NULL;
    }
    return m;
}
