/* tcpreasm.c - client->server first-bytes reassembly with Linux receive semantics.
 *
 * The TCP fields read (RFC 9293 3.1), already decoded into struct pkt by decode.c:
 *   | seq 32 | ack 32 | flags (URG ACK PSH RST SYN FIN) | window 16 | urgent pointer 16 |
 *   options: window scale (3), timestamps (8), MD5 signature (19), Fast Open cookie (34)
 *
 * A buffer holds the stream from sequence number `base`:
 *   data[0 .. olen)   in-order bytes (the Linux view), urgent bytes already removed
 *   data[olen .. hi)  out-of-order bytes, present where the bitmap says so
 * Offsets are seq - base minus the urgent bytes removed before seq (rm[], at most
 * TCPREASM_MAX_URG, all in [base, nxt)). The alternative view, when it exists, has the same
 * presence bitmap but takes the last copy of each byte instead of the first.
 *
 * A buffer's bytes start in its small slot (the first TCPREASM_SMALL bytes of the capacity, one
 * per buffer, packed together) and move to its full-size slot (same index) the first time a
 * write would go past it: most first requests fit in the small slot, so the memory a burst of
 * new flows touches (and the kernel zeroes at the first touch) is a page per buffer, not the
 * whole capacity. Both slots exist for every buffer: growing never fails, and no flow can take
 * another's room. */
#include "proxy/flow/tcpreasm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"
#include "common/compiler.h"
#include "proxy/flow/owners.h"

#define TCPREASM_MAX_URG      8
#define TCPREASM_MAX_VERSIONS 3          /* other versions per flow, besides the last-copy view */
#define TCPREASM_ISN_NEAR     (1u << 20) /* a SYN-ACK this close below srv_nxt is a retransmit */
#define TCPREASM_SMALL        4096u      /* a buffer's small slot (see the top) */

struct rbuf {
    uint32_t base;      /* sequence number of data[0] */
    uint32_t olen;      /* in-order bytes */
    uint32_t hi;        /* 1 + highest offset present */
    uint32_t skip;      /* stream bytes still to discard (consume past the buffered end) */
    uint32_t alt;       /* alternative buffer index + 1, 0 = none */
    uint32_t urg_seq;   /* pending urgent byte (Linux tp->urg_seq) */
    uint32_t next_free; /* free list, index + 1 */
    bool urg_pending;
    bool big; /* its bytes are in the full-size slot (data), not the small one (small) */
    uint8_t nrm;
    uint8_t nver;                        /* other versions in ver[] */
    uint8_t vseen;                       /* bit i: view i judged as it is (tcpreasm_view_seen) */
    uint32_t rm[TCPREASM_MAX_URG];       /* removed urgent bytes, ascending */
    uint32_t ver[TCPREASM_MAX_VERSIONS]; /* other versions: alternative buffer index + 1 */
};

struct buf_owner {
    uint8_t ipver; /* 0: none recorded */
    uint8_t addr[16];
};

/* tcpreasm_pool_evict_oldest(): a buffer in use, in the list of buffers in use oldest first */
struct buf_age {
    struct tcpreasm_state *holder;
    uint32_t prev, next; /* index + 1, 0 = none */
};

struct tcpreasm_pool {
    uint32_t nbufs, nalt, cap;
    size_t bm_stride;
    struct rbuf *bufs;
    uint8_t *data;      /* nbufs * cap: the full-size slots */
    uint8_t *small;     /* nbufs * small_cap: the small slots (NULL when cap is small already) */
    uint32_t small_cap; /* TCPREASM_SMALL, or 0: every buffer is full-size from the start */
    uint8_t *bits;      /* nbufs * bm_stride */
    uint8_t *alt;       /* nalt * cap */
    uint32_t *alt_next; /* alt free list, index + 1 */
    uint8_t *alt_own;   /* nalt * bm_stride: per version, the bytes its own segments wrote */
    uint32_t free_head, alt_head;
    bool synack_unseen; /* tcpreasm_pool_synack_unseen() */
    bool defer_empty;   /* tcpreasm_pool_defer_empty() */
    bool last_limited;  /* the last get_buf() that failed did so for the client's share */
    /* tcpreasm_pool_owner_limit(): buffers held per client address, each buffer's holder, the
     * owner of the segment being handled (tcpreasm_pool_owner()) */
    struct owners *own;
    uint32_t own_limit;
    struct buf_owner *buf_own; /* nbufs */
    const uint8_t *cur_addr;
    int cur_ipver;
    /* tcpreasm_pool_evict_oldest(): the buffers in use by age, and whom to tell */
    struct buf_age *age; /* nbufs, or NULL: no eviction */
    uint32_t age_head, age_tail;
    tcpreasm_evict_fn evict_fn;
    void *evict_ctx;
    struct tcpreasm_stats st;
};

static bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static bool seq_after(uint32_t a, uint32_t b)
{
    return seq_before(b, a);
}

struct tcpreasm_pool *tcpreasm_pool_new(uint32_t nbufs, uint32_t nalt, uint32_t bufsize)
{
    if (nbufs == 0 || bufsize < 64 || bufsize > (1u << 24))
        return NULL;
    struct tcpreasm_pool *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->nbufs = nbufs;
    pl->nalt = nalt;
    pl->cap = bufsize;
    pl->bm_stride = ((size_t)bufsize + 7) / 8;
    /* zeroed, on huge pages when large (common/bigmem.h): a flow's buffer is anywhere in them,
     * a TLB entry per 2 MiB; pages are made resident as buffers are first used */
    pl->bufs = bigmem_alloc((size_t)nbufs * sizeof *pl->bufs);
    pl->data = bigmem_alloc((size_t)nbufs * bufsize);
    pl->small_cap = bufsize > TCPREASM_SMALL ? TCPREASM_SMALL : 0;
    pl->small = pl->small_cap ? bigmem_alloc((size_t)nbufs * pl->small_cap) : NULL;
    pl->bits = bigmem_alloc((size_t)nbufs * pl->bm_stride);
    pl->alt = nalt ? bigmem_alloc((size_t)nalt * bufsize) : NULL;
    pl->alt_next = calloc(nalt ? nalt : 1, sizeof *pl->alt_next);
    pl->alt_own = calloc(nalt ? nalt : 1, pl->bm_stride);
    if (!pl->bufs || !pl->data || (pl->small_cap && !pl->small) || !pl->bits ||
        (nalt && !pl->alt) || !pl->alt_next || !pl->alt_own) {
        tcpreasm_pool_free(pl);
        return NULL;
    }
    for (uint32_t i = 0; i < nbufs; i++)
        pl->bufs[i].next_free = i + 1 < nbufs ? i + 2 : 0;
    pl->free_head = 1;
    for (uint32_t i = 0; i < nalt; i++)
        pl->alt_next[i] = i + 1 < nalt ? i + 2 : 0;
    pl->alt_head = nalt ? 1 : 0;
    return pl;
}

void tcpreasm_pool_synack_unseen(struct tcpreasm_pool *pool, bool on)
{
    pool->synack_unseen = on;
}

void tcpreasm_pool_defer_empty(struct tcpreasm_pool *pool, bool on)
{
    pool->defer_empty = on;
}

int tcpreasm_pool_owner_limit(struct tcpreasm_pool *pool, uint32_t limit, unsigned prefix6)
{
    if (prefix6 > 128)
        return -EINVAL;
    if (!pool->own) {
        pool->own = owners_new(pool->nbufs, prefix6);
        pool->buf_own = calloc(pool->nbufs, sizeof *pool->buf_own);
        if (!pool->own || !pool->buf_own) {
            owners_free(pool->own);
            free(pool->buf_own);
            pool->own = NULL;
            pool->buf_own = NULL;
            return -ENOMEM;
        }
    }
    pool->own_limit = limit;
    return 0;
}

int tcpreasm_pool_evict_oldest(struct tcpreasm_pool *pool, tcpreasm_evict_fn fn, void *ctx)
{
    if (!fn)
        return -EINVAL;
    if (!pool->age) {
        if (pool->st.bufs_in_use)
            return -EBUSY; /* the buffers already taken are in no age list */
        pool->age = calloc(pool->nbufs, sizeof *pool->age);
        if (!pool->age)
            return -ENOMEM;
    }
    pool->evict_fn = fn;
    pool->evict_ctx = ctx;
    return 0;
}

void tcpreasm_pool_owner(struct tcpreasm_pool *pool, int ipver, const uint8_t *addr)
{
    pool->cur_ipver = ipver;
    pool->cur_addr = addr;
}

void tcpreasm_pool_free(struct tcpreasm_pool *pool)
{
    if (!pool)
        return;
    bigmem_free(pool->bufs, (size_t)pool->nbufs * sizeof *pool->bufs);
    bigmem_free(pool->data, (size_t)pool->nbufs * pool->cap);
    bigmem_free(pool->small, (size_t)pool->nbufs * pool->small_cap);
    bigmem_free(pool->bits, (size_t)pool->nbufs * pool->bm_stride);
    bigmem_free(pool->alt, (size_t)pool->nalt * pool->cap);
    free(pool->alt_next);
    free(pool->alt_own);
    owners_free(pool->own);
    free(pool->buf_own);
    free(pool->age);
    free(pool);
}

size_t tcpreasm_bufsize(const struct tcpreasm_pool *pool)
{
    return pool->cap;
}

void tcpreasm_get_stats(const struct tcpreasm_pool *pool, struct tcpreasm_stats *out)
{
    *out = pool->st;
}

const char *tcpreasm_why_name(enum tcpreasm_why why)
{
    switch (why) {
    case TCPREASM_OK: return "ok";
    case TCPREASM_BAD_CSUM: return "bad-csum";
    case TCPREASM_NO_ACK: return "no-ack";
    case TCPREASM_SYN_DATA: return "syn-data";
    case TCPREASM_BAD_SYN: return "bad-syn";
    case TCPREASM_MD5: return "md5";
    case TCPREASM_PAWS: return "paws";
    case TCPREASM_WINDOW: return "window";
    case TCPREASM_BAD_ACK: return "bad-ack";
    case TCPREASM_OLD: return "old";
    case TCPREASM_RST_BAD_SEQ: return "rst-bad-seq";
    case TCPREASM_NO_SEQ: return "no-seq";
    case TCPREASM_TFO_WAIT: return "tfo-wait";
    case TCPREASM_NO_BUFFER: return "no-buffer";
    case TCPREASM_WHY_COUNT: break;
    }
    return "unknown";
}

static uint8_t *buf_data(const struct tcpreasm_pool *pl, uint32_t idx)
{
    if (pl->bufs[idx].big)
        return pl->data + (size_t)idx * pl->cap;
    return pl->small + (size_t)idx * pl->small_cap;
}

/* Makes room in buffer idx for bytes up to offset end (<= cap): past the small slot, its bytes
 * move to the full-size slot. Called before every write that may reach past hi. */
static void buf_room(struct tcpreasm_pool *pl, uint32_t idx, struct rbuf *b, size_t end)
{
    if (likely(b->big || end <= pl->small_cap))
        return;
    memcpy(pl->data + (size_t)idx * pl->cap, pl->small + (size_t)idx * pl->small_cap, b->hi);
    b->big = true;
    pl->st.bufs_grown++;
}

static uint8_t *buf_bits(const struct tcpreasm_pool *pl, uint32_t idx)
{
    return pl->bits + (size_t)idx * pl->bm_stride;
}

static uint8_t *buf_alt(const struct tcpreasm_pool *pl, const struct rbuf *b)
{
    return b->alt ? pl->alt + (size_t)(b->alt - 1) * pl->cap : NULL;
}

static uint8_t *ver_data(const struct tcpreasm_pool *pl, const struct rbuf *b, unsigned k)
{
    return pl->alt + (size_t)(b->ver[k] - 1) * pl->cap;
}

static uint8_t *ver_own(const struct tcpreasm_pool *pl, const struct rbuf *b, unsigned k)
{
    return pl->alt_own + (size_t)(b->ver[k] - 1) * pl->bm_stride;
}

static bool bit_get(const uint8_t *bm, size_t i)
{
    return (bm[i >> 3] >> (i & 7)) & 1;
}

static void bit_put(uint8_t *bm, size_t i, bool v)
{
    if (v)
        bm[i >> 3] = (uint8_t)(bm[i >> 3] | (1u << (i & 7)));
    else
        bm[i >> 3] = (uint8_t)(bm[i >> 3] & ~(1u << (i & 7)));
}

/* True if no bit in [a, e) is set; whole bytes and 64-bit words at a time. */
/* The bits of a byte from bit i (i & 7) up, and up to bit i (i & 7). */
static uint8_t mask_from(size_t i)
{
    return (uint8_t)(0xffu << (i & 7));
}

static uint8_t mask_upto(size_t i)
{
    return (uint8_t)(0xffu >> (7 - (i & 7)));
}

/* True if no bit of [a, e) is set: the bytes at either end masked, 8 bytes at a time between. */
static bool bits_all_clear(const uint8_t *bm, size_t a, size_t e)
{
    if (a >= e)
        return true;
    size_t fa = a >> 3, la = (e - 1) >> 3;
    if (fa == la)
        return !(bm[fa] & mask_from(a) & mask_upto(e - 1));
    if ((bm[fa] & mask_from(a)) || (bm[la] & mask_upto(e - 1)))
        return false;
    size_t i = fa + 1;
    for (; i + 8 <= la; i += 8) {
        uint64_t w;
        memcpy(&w, bm + i, 8);
        if (w)
            return false;
    }
    for (; i < la; i++)
        if (bm[i])
            return false;
    return true;
}

/* The first clear bit of [a, e), or e if all are set (a if a >= e). The lowest clear bit of a
 * byte or little-endian word is its complement's lowest set bit. */
static size_t bits_first_clear(const uint8_t *bm, size_t a, size_t e)
{
    if (a >= e)
        return a;
    if (a & 7) {
        unsigned v = (uint8_t)~bm[a >> 3] & mask_from(a);
        if (v) {
            size_t r = (a & ~(size_t)7) + (size_t)__builtin_ctz(v);
            return r < e ? r : e;
        }
        a = (a | 7) + 1;
    }
    while (a + 64 <= e) {
        uint64_t w;
        memcpy(&w, bm + (a >> 3), 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        if (w != ~(uint64_t)0)
            return a + (size_t)__builtin_ctzll(~w);
        a += 64;
    }
    for (; a < e; a += 8) {
        unsigned v = (uint8_t)~bm[a >> 3];
        if (v) {
            size_t r = a + (size_t)__builtin_ctz(v);
            return r < e ? r : e;
        }
    }
    return e;
}

static void bits_set_range(uint8_t *bm, size_t a, size_t e)
{
    if (a >= e)
        return;
    size_t fa = a >> 3, la = (e - 1) >> 3;
    if (fa == la) {
        bm[fa] = (uint8_t)(bm[fa] | (mask_from(a) & mask_upto(e - 1)));
        return;
    }
    bm[fa] = (uint8_t)(bm[fa] | mask_from(a));
    bm[la] = (uint8_t)(bm[la] | mask_upto(e - 1));
    if (la > fa + 1)
        memset(bm + fa + 1, 0xff, la - fa - 1);
}

static void bits_clear_range(uint8_t *bm, size_t a, size_t e)
{
    while (a < e && (a & 7))
        bit_put(bm, a++, false);
    if (a + 8 <= e) {
        memset(bm + (a >> 3), 0, (e - a) >> 3);
        a += (e - a) & ~(size_t)7;
    }
    while (a < e)
        bit_put(bm, a++, false);
}

/* Moves bits [from, hi) down to [to, ...) and clears what is left behind, up to hi. No bit at or
 * above hi is set (the buffers' invariant), so whole bytes may be read up to hi's byte. */
static void bits_shift_down(uint8_t *bm, size_t to, size_t from, size_t hi)
{
    if (from >= hi) {
        bits_clear_range(bm, to, hi);
        return;
    }
    if (((to | from) & 7) == 0) {
        size_t nb = (hi - from + 7) / 8;
        memmove(bm + to / 8, bm + from / 8, nb);
    } else if ((to & 7) == 0) {
        /* byte k of the destination is the 8 bits from from + 8k on: the top of one source
         * byte and the bottom of the next (consuming an unaligned count of bytes) */
        size_t d = from - to, q = d >> 3, t = to >> 3, nbytes = (hi - from + 7) / 8;
        size_t end = (hi + 7) / 8; /* source bytes that can hold set bits */
        unsigned sh = (unsigned)(d & 7);
        for (size_t k = 0; k < nbytes; k++) {
            size_t sb = t + k + q;
            unsigned v = (unsigned)bm[sb] >> sh;
            if (sb + 1 < end)
                v |= (unsigned)bm[sb + 1] << (8 - sh);
            bm[t + k] = (uint8_t)v;
        }
    } else {
        for (size_t i = from; i < hi; i++)
            bit_put(bm, to + (i - from), bit_get(bm, i));
    }
    bits_clear_range(bm, to + (hi - from), hi);
}

/* Offset of sequence number s in b, or -1 if s is before base or a removed urgent byte. */
static long seq_off(const struct rbuf *b, uint32_t s)
{
    if (seq_before(s, b->base))
        return -1;
    uint32_t k = 0;
    for (unsigned j = 0; j < b->nrm; j++) {
        if (b->rm[j] == s)
            return -1;
        if (seq_before(b->rm[j], s))
            k++;
    }
    return (long)(s - b->base - k);
}

static unsigned ignore(struct tcpreasm_pool *pl, enum tcpreasm_why why)
{
    pl->st.ignored[why]++;
    return TCPREASM_IGNORED | (unsigned)why << 16;
}

static void mark_closing(struct tcpreasm_state *t)
{
    t->fl2 |= TCPREASM_S2_CLOSING;
}

/* Drops the first d in-order bytes of b (d <= olen). */
static void consume_front(struct tcpreasm_pool *pl, uint32_t idx, struct rbuf *b, uint32_t d)
{
    if (d == 0)
        return;
    uint8_t *data = buf_data(pl, idx), *alt = buf_alt(pl, b);
    memmove(data, data + d, b->hi - d);
    if (alt)
        memmove(alt, alt + d, b->hi - d);
    for (unsigned k = 0; k < b->nver; k++) {
        memmove(ver_data(pl, b, k), ver_data(pl, b, k) + d, b->hi - d);
        bits_shift_down(ver_own(pl, b, k), 0, d, b->hi);
    }
    bits_shift_down(buf_bits(pl, idx), 0, d, b->hi);
    uint32_t nb = b->base + d;
    unsigned j = 0;
    while (j < b->nrm && seq_before(b->rm[j], nb)) {
        nb++;
        j++;
    }
    memmove(b->rm, b->rm + j, (b->nrm - j) * sizeof b->rm[0]);
    b->nrm = (uint8_t)(b->nrm - j);
    b->base = nb;
    b->olen -= d;
    b->hi -= d;
}

/* Removes the byte at offset off (an urgent byte now in order) from both views. */
static void remove_byte(struct tcpreasm_pool *pl, uint32_t idx, struct rbuf *b, uint32_t off,
                        uint32_t seq)
{
    uint8_t *data = buf_data(pl, idx), *alt = buf_alt(pl, b);
    memmove(data + off, data + off + 1, b->hi - off - 1);
    if (alt)
        memmove(alt + off, alt + off + 1, b->hi - off - 1);
    for (unsigned k = 0; k < b->nver; k++) {
        memmove(ver_data(pl, b, k) + off, ver_data(pl, b, k) + off + 1, b->hi - off - 1);
        bits_shift_down(ver_own(pl, b, k), off, off + 1, b->hi);
    }
    bits_shift_down(buf_bits(pl, idx), off, off + 1, b->hi);
    unsigned j = b->nrm;
    while (j > 0 && seq_before(seq, b->rm[j - 1])) {
        b->rm[j] = b->rm[j - 1];
        j--;
    }
    b->rm[j] = seq;
    b->nrm++;
    b->olen--;
    b->hi--;
}

/* Moves b's start to sequence number nb (mid-stream re-anchoring, rare): bytes before nb are
 * dropped, or, when nb is before base, the bytes held move up behind a hole (what no longer fits
 * is dropped). Not done while urgent-byte or skip bookkeeping is pending (returns false). */
static bool rebase(struct tcpreasm_pool *pl, uint32_t idx, struct rbuf *b, uint32_t nb)
{
    if (b->nrm || b->urg_pending || b->skip || b->nver)
        return false;
    uint8_t *data = buf_data(pl, idx), *alt = buf_alt(pl, b), *bm = buf_bits(pl, idx);
    if (seq_after(nb, b->base)) {
        uint32_t k = nb - b->base;
        if (k >= b->hi) {
            bits_shift_down(bm, 0, b->hi, b->hi);
            b->hi = 0;
        } else {
            memmove(data, data + k, b->hi - k);
            if (alt)
                memmove(alt, alt + k, b->hi - k);
            bits_shift_down(bm, 0, k, b->hi);
            b->hi -= k;
        }
    } else if (seq_before(nb, b->base)) {
        uint32_t k = b->base - nb;
        if (k >= pl->cap) {
            bits_shift_down(bm, 0, b->hi, b->hi);
            b->hi = 0;
        } else {
            uint32_t keep = b->hi < pl->cap - k ? b->hi : pl->cap - k;
            buf_room(pl, idx, b, (size_t)keep + k);
            data = buf_data(pl, idx);
            memmove(data + k, data, keep);
            if (alt)
                memmove(alt + k, alt, keep);
            for (uint32_t i = keep; i-- > 0;)
                bit_put(bm, i + k, bit_get(bm, i));
            for (uint32_t i = keep + k; i < b->hi; i++) /* dropped off the top */
                bit_put(bm, i, false);
            for (uint32_t i = 0; i < k; i++)
                bit_put(bm, i, false);
            b->hi = keep ? keep + k : 0;
        }
    }
    b->base = nb;
    b->olen = (uint32_t)bits_first_clear(bm, 0, b->hi);
    return true;
}

/* Extends the in-order run, strips a pending urgent byte that became in order, discards bytes
 * still to skip, and updates nxt. Returns true if the in-order stream grew. set_to: the bits
 * [olen, set_to) are known to be set (put_bytes()), so the run's end is looked for from there;
 * 0 when nothing is known. */
static bool advance(struct tcpreasm_pool *pl, struct tcpreasm_state *t, uint32_t idx,
                    struct rbuf *b, uint32_t set_to)
{
    const uint8_t *bm = buf_bits(pl, idx);
    uint32_t before = b->olen;
    bool grew = false;
    if (set_to > b->olen)
        b->olen = set_to;
    for (;;) {
        b->olen = (uint32_t)bits_first_clear(bm, b->olen, b->hi);
        if (!b->urg_pending)
            break;
        long uo = seq_off(b, b->urg_seq);
        if (uo < 0 || (uint32_t)uo >= b->olen)
            break;
        b->urg_pending = false;
        if (b->nrm >= TCPREASM_MAX_URG) {
            pl->st.urgent_limit++;
            break;
        }
        remove_byte(pl, idx, b, (uint32_t)uo, b->urg_seq);
        pl->st.urgent_stripped++;
        if (before > (uint32_t)uo)
            before--;
    }
    if (b->olen > before)
        grew = true;
    t->nxt = b->base + b->olen + b->nrm;
    if (b->skip && b->olen) {
        uint32_t d = b->skip < b->olen ? b->skip : b->olen;
        consume_front(pl, idx, b, d);
        b->skip -= d;
    }
    return grew;
}

static void put_buf(struct tcpreasm_pool *pool, struct tcpreasm_state *t);

static void age_unlink(struct tcpreasm_pool *pl, uint32_t idx)
{
    struct buf_age *a = &pl->age[idx];
    if (a->prev)
        pl->age[a->prev - 1].next = a->next;
    else
        pl->age_head = a->next;
    if (a->next)
        pl->age[a->next - 1].prev = a->prev;
    else
        pl->age_tail = a->prev;
    memset(a, 0, sizeof *a);
}

/* The pool is empty: the buffer taken longest ago goes back to it, and its holder is told
 * (tcpreasm_pool_evict_oldest()). False when there is none to take. */
static bool evict_oldest(struct tcpreasm_pool *pl)
{
    if (!pl->age_head)
        return false;
    uint32_t idx = pl->age_head - 1;
    struct tcpreasm_state *v = pl->age[idx].holder;
    pl->st.evicted++;
    if (v && v->buf == idx + 1) {
        put_buf(pl, v); /* its alternative views and its client's count go with it */
        v->fl |= TCPREASM_S_GAVEUP;
        pl->evict_fn(pl->evict_ctx, v);
    } else { /* a holder that no longer names it (never expected): reclaim it alone */
        struct tcpreasm_state stale = { .buf = idx + 1 };
        put_buf(pl, &stale);
    }
    return true;
}

static struct rbuf *get_buf(struct tcpreasm_pool *pl, struct tcpreasm_state *t, uint32_t *idx)
{
    if (t->buf) {
        *idx = t->buf - 1;
        return &pl->bufs[*idx];
    }
    pl->last_limited = false;
    if (!pl->free_head && !pl->evict_fn)
        return NULL;
    if (pl->own && pl->cur_addr &&
        !owners_take(pl->own, pl->cur_ipver, pl->cur_addr, pl->own_limit)) {
        pl->st.owner_limited++; /* this client holds its share: as if the pool were empty */
        pl->last_limited = true;
        return NULL;
    }
    if (!pl->free_head && !evict_oldest(pl)) {
        if (pl->own && pl->cur_addr)
            owners_give(pl->own, pl->cur_ipver, pl->cur_addr);
        return NULL;
    }
    *idx = pl->free_head - 1;
    struct rbuf *b = &pl->bufs[*idx];
    pl->free_head = b->next_free;
    if (pl->own) {
        struct buf_owner *o = &pl->buf_own[*idx];
        o->ipver = pl->cur_addr ? (uint8_t)pl->cur_ipver : 0;
        if (pl->cur_addr)
            memcpy(o->addr, pl->cur_addr, pl->cur_ipver == 4 ? 4 : 16);
    }
    memset(b, 0, sizeof *b);
    b->big = pl->small_cap == 0;
    b->base = t->nxt;
    t->buf = *idx + 1;
    pl->st.bufs_in_use++;
    if (pl->age) { /* the newest in use */
        struct buf_age *a = &pl->age[*idx];
        a->holder = t;
        a->prev = pl->age_tail;
        a->next = 0;
        if (pl->age_tail)
            pl->age[pl->age_tail - 1].next = *idx + 1;
        else
            pl->age_head = *idx + 1;
        pl->age_tail = *idx + 1;
    }
    return b;
}

/* Gives t's buffer (and its alternative view) back to the pool; sequence state stays. */
static void put_buf(struct tcpreasm_pool *pool, struct tcpreasm_state *t)
{
    uint32_t idx = t->buf - 1;
    struct rbuf *b = &pool->bufs[idx];
    if (pool->age)
        age_unlink(pool, idx);
    if (pool->own && pool->buf_own[idx].ipver) {
        owners_give(pool->own, pool->buf_own[idx].ipver, pool->buf_own[idx].addr);
        pool->buf_own[idx].ipver = 0;
    }
    if (b->alt) {
        pool->alt_next[b->alt - 1] = pool->alt_head;
        pool->alt_head = b->alt;
        pool->st.alts_in_use--;
    }
    for (unsigned k = 0; k < b->nver; k++) {
        pool->alt_next[b->ver[k] - 1] = pool->alt_head;
        pool->alt_head = b->ver[k];
        pool->st.alts_in_use--;
    }
    /* no bit at or above hi is ever set (every writer raises hi first, every shift clears what
     * it vacates): clearing the bytes below hi clears the map, not the whole stride */
    size_t used = ((size_t)b->hi + 7) / 8;
    memset(buf_bits(pool, idx), 0, used < pool->bm_stride ? used : pool->bm_stride);
    memset(b, 0, sizeof *b);
    b->next_free = pool->free_head;
    pool->free_head = idx + 1;
    pool->st.bufs_in_use--;
    t->buf = 0;
}

/* A keep-alive flow between requests holds nothing: give its buffer back (the sequence state
 * stays in the flow; get_buf() takes a new one, based at nxt, when client data comes). Kept
 * while anything is pending: in-order or out-of-order bytes, an alternative view, bytes still
 * to skip, urgent-byte bookkeeping. */
static void put_buf_if_idle(struct tcpreasm_pool *pl, struct tcpreasm_state *t)
{
    const struct rbuf *b = &pl->bufs[t->buf - 1];
    if (b->olen == 0 && b->hi == 0 && !b->alt && b->skip == 0 && !b->urg_pending && b->nrm == 0) {
        put_buf(pl, t);
        pl->st.bufs_recycled++;
    }
}

/* Other versions (zapret fake-real-fake: the first-copy view holds one fake, the last-copy view
 * another, the real bytes are in neither). Each version is a whole view; its "own" bits mark
 * the bytes its own segments wrote, the rest it inherited from the first-copy view when it was
 * made. A segment goes into every version where it differs from no own byte (it replaces
 * inherited bytes: the rest of a real request joins the version holding its first part); a
 * segment that disagrees with the first-copy view and went into no version starts a new one
 * (a copy of the first-copy view with the segment on top, own = the segment). Bytes new to the
 * stream go into every version, inherited. Called before the first-copy view is written. At
 * most TCPREASM_MAX_VERSIONS versions per flow, from the alternative pool; past that the
 * segment lives only in the last-copy view (views_full, TCPREASM_VIEWS_FULL). */
static unsigned put_versions(struct tcpreasm_pool *pl, uint32_t idx, struct rbuf *b, uint32_t seq,
                             const uint8_t *src, size_t n, bool conflict)
{
    const uint8_t *data = buf_data(pl, idx), *bm = buf_bits(pl, idx);
    bool placed = false;
    for (unsigned k = 0; k < b->nver; k++) {
        uint8_t *v = ver_data(pl, b, k), *own = ver_own(pl, b, k);
        bool own_conflict = false;
        for (size_t i = 0; i < n && !own_conflict; i++) {
            long off = seq_off(b, seq + (uint32_t)i);
            if (off < 0)
                continue;
            if ((uint32_t)off >= pl->cap)
                break;
            own_conflict =
                bit_get(bm, (size_t)off) && bit_get(own, (size_t)off) && v[off] != src[i];
        }
        if (own_conflict)
            continue;
        placed = true;
        for (size_t i = 0; i < n; i++) {
            long off = seq_off(b, seq + (uint32_t)i);
            if (off < 0)
                continue;
            if ((uint32_t)off >= pl->cap)
                break;
            if (!bit_get(bm, (size_t)off)) {
                v[off] = src[i];
            } else if (v[off] != src[i]) {
                v[off] = src[i];
                bit_put(own, (size_t)off, true);
                b->vseen &= (uint8_t) ~(1u << (2 + k));
            }
        }
    }
    if (!conflict || placed)
        return 0;
    if (b->nver >= TCPREASM_MAX_VERSIONS || !pl->alt_head) {
        pl->st.views_full++;
        return TCPREASM_VIEWS_FULL;
    }
    uint32_t a = pl->alt_head;
    pl->alt_head = pl->alt_next[a - 1];
    pl->st.alts_in_use++;
    pl->st.versions++;
    unsigned k = b->nver++;
    b->ver[k] = a;
    uint8_t *v = ver_data(pl, b, k), *own = ver_own(pl, b, k);
    memcpy(v, data, b->hi);
    memset(own, 0, pl->bm_stride);
    b->vseen &= (uint8_t) ~(1u << (2 + k));
    for (size_t i = 0; i < n; i++) {
        long off = seq_off(b, seq + (uint32_t)i);
        if (off < 0)
            continue;
        if ((uint32_t)off >= pl->cap)
            break;
        v[off] = src[i];
        bit_put(own, (size_t)off, true);
    }
    return 0;
}

/* Compares src[0, n) at seq with the bytes b holds already: returns how many are the same, and
 * sets *differs when any is not (a conflict: another copy of held bytes). Reads only. */
static size_t overlap_same(const struct tcpreasm_pool *pl, uint32_t idx, const struct rbuf *b,
                           uint32_t seq, const uint8_t *src, size_t n, bool *differs)
{
    const uint8_t *data = buf_data(pl, idx), *bm = buf_bits(pl, idx);
    size_t same = 0;
    *differs = false;
    for (size_t i = 0; i < n; i++) {
        long off = seq_off(b, seq + (uint32_t)i);
        if (off < 0)
            continue;
        if ((uint32_t)off >= pl->cap)
            break;
        if (bit_get(bm, (size_t)off)) {
            if (data[off] != src[i])
                *differs = true;
            else
                same++;
        }
    }
    return same;
}

/* Stores payload bytes [seq, seq+n): first copy wins in the Linux view, last copy in the
 * alternative view, other versions as put_versions(). Returns TCPREASM_CONFLICT /
 * TCPREASM_FULL / TCPREASM_VIEWS_FULL bits. *set_to (may be NULL): the end of a run of bytes
 * stored that starts at or below the in-order end (so the bits from olen up to it are set),
 * else 0. */
static unsigned put_bytes(struct tcpreasm_pool *pl, uint32_t idx, struct rbuf *b, uint32_t seq,
                          const uint8_t *src, size_t n, uint32_t *set_to)
{
    if (set_to)
        *set_to = 0;
    if (b->nrm == 0 && !b->alt) {
        /* common case: no urgent byte removed, no alternative view, nothing held in the
         * range yet - copy the run at once */
        if (seq_before(seq, b->base)) {
            uint32_t cut = b->base - seq;
            if (cut >= n)
                return 0;
            seq += cut;
            src += cut;
            n -= cut;
        }
        uint32_t off = seq - b->base;
        uint8_t *bm = buf_bits(pl, idx);
        size_t room = off < pl->cap ? pl->cap - off : 0, take = n < room ? n : room;
        if (take > 0 && bits_all_clear(bm, off, off + take)) {
            buf_room(pl, idx, b, off + take);
            memcpy(buf_data(pl, idx) + off, src, take);
            bits_set_range(bm, off, off + take);
            if (set_to && off <= b->olen)
                *set_to = (uint32_t)(off + take);
            if (off + take > b->hi)
                b->hi = (uint32_t)(off + take);
            if (take < n) {
                pl->st.cap_drops++;
                return TCPREASM_FULL;
            }
            return 0;
        }
    }
    uint8_t *data = buf_data(pl, idx), *bm = buf_bits(pl, idx);
    unsigned res = 0;
    bool conflict;
    pl->st.dup_bytes += overlap_same(pl, idx, b, seq, src, n, &conflict);
    uint8_t *alt = buf_alt(pl, b);
    if (conflict) {
        res |= TCPREASM_CONFLICT;
        pl->st.conflicts++;
        b->vseen &= (uint8_t)~2u;
        if (!alt) {
            if (pl->alt_head) {
                b->alt = pl->alt_head;
                pl->alt_head = pl->alt_next[b->alt - 1];
                pl->st.alts_in_use++;
                alt = buf_alt(pl, b);
                memcpy(alt, data, b->hi);
            } else {
                pl->st.alt_pool_empty++;
                res |= TCPREASM_NO_ALT;
            }
        }
    }
    if (conflict || b->nver)
        res |= put_versions(pl, idx, b, seq, src, n, conflict && alt);
    /* the last byte's offset is at most its distance from base (removed urgent bytes only
     * lower it) */
    uint32_t last = seq + (uint32_t)(n - 1);
    if (n && !seq_before(last, b->base)) {
        size_t end = (size_t)(last - b->base) + 1;
        buf_room(pl, idx, b, end < pl->cap ? end : pl->cap);
        data = buf_data(pl, idx);
    }
    for (size_t i = 0; i < n; i++) {
        long off = seq_off(b, seq + (uint32_t)i);
        if (off < 0)
            continue;
        if ((uint32_t)off >= pl->cap) {
            res |= TCPREASM_FULL;
            pl->st.cap_drops++;
            break;
        }
        if (!bit_get(bm, (size_t)off)) {
            bit_put(bm, (size_t)off, true);
            data[off] = src[i];
            if ((uint32_t)off + 1 > b->hi)
                b->hi = (uint32_t)off + 1;
        }
        if (alt)
            alt[off] = src[i];
    }
    return res;
}

/* T19: the PAWS bound is the largest TSval the server confirmed having taken (its echoed TSecr:
 * the server's ts_recent is at least that), never a client segment's own TSval: a low-TTL bare
 * ACK with a far-future timestamp would otherwise make every real segment after it "old". The
 * bound may lag the server's (it echoes only when it sends), which only lets a stale fake in as
 * a first copy - the real one then shows as a conflict (T4). TSecr 0 sets nothing (Linux skips
 * PAWS while ts_recent is 0). */
static bool tsecr_raises(const struct tcpreasm_state *st, const struct pkt *p)
{
    return (st->fl & TCPREASM_S_TS_OK) && p->has_ts && p->tsecr != 0 &&
           (!(st->fl & TCPREASM_S_TSR) || (int32_t)(p->tsecr - st->ts_recent) > 0);
}

static void server_tsecr(struct tcpreasm_state *st, const struct pkt *p)
{
    if (tsecr_raises(st, p)) {
        st->ts_recent = p->tsecr;
        st->fl |= TCPREASM_S_TSR;
    }
}

/* A flow picked up mid-stream. The server's acknowledgement is its rcv_nxt: it anchors
 * a flow that has none yet, and confirms or corrects an anchor taken from a client segment
 * (TCPREASM_S2_UNCONF). The bytes the server holds are the contiguous run that ends at its ack:
 * the anchor moves to the start of that run (junk below it, e.g. a low-TTL fake sent first, is
 * dropped). An ack inside the in-order bytes confirms the anchor (a capture with merged
 * segments shows acks in their middle). An ack below everything held, or past it, is most
 * likely a tap showing the directions out of step and changes nothing (client data below the
 * anchor moves it down as it arrives), unless it is a whole buffer ahead. */
static unsigned server_ack(struct tcpreasm_pool *pl, struct tcpreasm_state *t, uint32_t ack)
{
    struct tcpreasm_state *st = t;
    if ((st->fl & TCPREASM_S_SEQ) && (st->fl & (TCPREASM_S_GAVEUP | TCPREASM_S_DONE))) {
        if (seq_after(ack, st->nxt)) /* bytes the server got that we did not see */
            st->nxt = ack;
        return 0;
    }
    if (!(st->fl & TCPREASM_S_SEQ)) {
        st->nxt = ack;
        st->isn = ack - 1;
        st->fl |= TCPREASM_S_SEQ;
        return 0;
    }
    if (!(st->fl2 & TCPREASM_S2_UNCONF))
        return 0;
    if (!st->buf) {
        st->nxt = ack;
        st->fl2 &= (uint8_t)~TCPREASM_S2_UNCONF;
        return 0;
    }
    uint32_t idx = st->buf - 1;
    struct rbuf *b = &pl->bufs[idx];
    const uint8_t *bm = buf_bits(pl, idx);
    uint32_t nb;
    if (!seq_before(ack, b->base) && !seq_after(ack, b->base + b->olen)) {
        st->fl2 &= (uint8_t)~TCPREASM_S2_UNCONF; /* confirmed as it is */
        return 0;
    }
    if (seq_before(ack, b->base)) {
        return 0; /* an older ack (a tap out of step); data below comes as it arrives */
    } else if (ack - b->base <= b->hi && bit_get(bm, ack - b->base - 1)) {
        uint32_t s0 = ack - b->base - 1;
        while (s0 > 0 && bit_get(bm, s0 - 1))
            s0--;
        nb = b->base + s0;
    } else if (ack - b->base > pl->cap) {
        nb = ack;
    } else {
        return 0;
    }
    if (!rebase(pl, idx, b, nb))
        return 0;
    st->nxt = b->base + b->olen;
    st->fl2 &= (uint8_t)~TCPREASM_S2_UNCONF;
    pl->st.midstream_reanchored++;
    return TCPREASM_REANCHORED | (b->olen ? TCPREASM_NEW_DATA : 0);
}

/* T22 / T14: data in a SYN with a Fast Open cookie counts only if the SYN-ACK acknowledges it
 * (ack = ISN + 1 + length): a server that refuses the cookie, or has Fast Open off, acks only
 * the SYN and discards the data - a decoy request sent that way must never be judged. Until
 * the SYN-ACK decides, the bytes wait in the buffer based at the ISN, so the SYN's own sequence
 * number is a hole and they are not in order (TCPREASM_S2_TFO_HELD). */
static unsigned hold_syn_data(struct tcpreasm_pool *pl, struct tcpreasm_state *t,
                              const struct pkt *p)
{
    struct tcpreasm_state *st = t;
    if (st->fl & (TCPREASM_S_GAVEUP | TCPREASM_S_DONE))
        return ignore(pl, TCPREASM_SYN_DATA);
    uint32_t idx;
    struct rbuf *b;
    if (!st->buf) {
        st->nxt = st->isn; /* get_buf() bases a new buffer at nxt */
        b = get_buf(pl, t, &idx);
        st->nxt = st->isn + 1;
        if (!b) {
            st->fl |= TCPREASM_S_GAVEUP;
            pl->st.pool_empty++;
            return TCPREASM_GAVEUP | (pl->last_limited ? TCPREASM_OWNER_LIMITED : 0u);
        }
    } else {
        idx = st->buf - 1;
        b = &pl->bufs[idx];
        if (b->base != st->isn)
            return ignore(pl, TCPREASM_SYN_DATA);
    }
    if (!(st->fl2 & TCPREASM_S2_TFO_HELD))
        pl->st.tfo_held++;
    st->fl2 |= TCPREASM_S2_TFO_HELD;
    return put_bytes(pl, idx, b, st->isn + 1, p->payload, p->payload_len, NULL);
}

/* The SYN-ACK's ack decides held SYN data: all of it acknowledged - it is the stream's start;
 * anything else - dropped (Linux acks SYN data whole or not at all). Returns TCPREASM_NEW_DATA
 * when taken, else 0 (the caller then treats the ack as for a SYN without data). */
static unsigned tfo_decide(struct tcpreasm_pool *pl, struct tcpreasm_state *t, uint32_t ack)
{
    struct tcpreasm_state *st = t;
    st->fl2 &= (uint8_t)~TCPREASM_S2_TFO_HELD;
    if (!st->buf)
        return 0;
    uint32_t idx = st->buf - 1;
    struct rbuf *b = &pl->bufs[idx];
    if (b->hi > 1 && ack == b->base + b->hi && rebase(pl, idx, b, st->isn + 1) &&
        b->olen == b->hi) {
        st->nxt = b->base + b->olen;
        pl->st.tfo_accepted++;
        return TCPREASM_NEW_DATA;
    }
    put_buf(pl, t);
    st->nxt = st->isn + 1;
    pl->st.tfo_refused++;
    return 0;
}

/* Server->client: sequence, window and timestamps only. */
static unsigned server_segment(struct tcpreasm_pool *pl, struct tcpreasm_state *t,
                               const struct pkt *p)
{
    struct tcpreasm_state *st = t;
    uint8_t fl = p->tcp_flags;
    if (fl & TCPF_SYN) {
        if (!decode_l4_csum_ok(p))
            return ignore(pl, TCPREASM_BAD_CSUM);
        uint32_t e = p->seq + 1 + (uint32_t)p->payload_len;
        if ((fl & TCPF_ACK) && (st->fl & TCPREASM_S_SYNACK) && (st->fl & TCPREASM_S_SRV_SEQ) &&
            (seq_after(p->seq + 1, st->srv_nxt) ||
             st->srv_nxt - (p->seq + 1) > TCPREASM_ISN_NEAR)) {
            /* A second SYN-ACK with another ISN (a SYN proxy or load balancer, or on
             * purpose). The client ACKs only one of them; moving srv_nxt to the later one
             * would make every real client segment fail the ack check. Keep srv_nxt, accept
             * acks for either until the server's own next segment shows its sequence space. */
            if (!(st->fl2 & TCPREASM_S2_SRV_AMBIG))
                pl->st.synack_ambiguous++;
            st->fl2 |= TCPREASM_S2_SRV_AMBIG;
            return 0;
        }
        if (!(st->fl & TCPREASM_S_SRV_SEQ) || seq_after(e, st->srv_nxt)) /* retransmits */
            st->srv_nxt = e;
        st->fl |= TCPREASM_S_SRV_SEQ;
        if (fl & TCPF_ACK) {
            bool was_synack = (st->fl & TCPREASM_S_SYNACK) != 0;
            st->fl |= TCPREASM_S_SYNACK;
            if ((st->fl & TCPREASM_S_CLI_WS) && p->has_wscale) {
                st->fl |= TCPREASM_S_WS_OK;
                st->wscale = (uint8_t)((st->wscale & 0x0f) | p->wscale << 4);
            }
            if ((st->fl & TCPREASM_S_CLI_TS) && p->has_ts)
                st->fl |= TCPREASM_S_TS_OK;
            /* MD5 is in use only if both SYNs carry it: a server without a key drops every
             * segment carrying the option, whatever the client's SYN said */
            if ((st->fl2 & TCPREASM_S2_CLI_MD5) && p->has_md5)
                st->fl |= TCPREASM_S_MD5;
            unsigned tfo = 0;
            if (st->fl2 & TCPREASM_S2_TFO_HELD)
                tfo = tfo_decide(pl, t, p->ack);
            if (!(st->fl & TCPREASM_S_SEQ)) { /* the client's SYN was not captured */
                st->nxt = p->ack;
                st->isn = p->ack - 1;
                st->fl |= TCPREASM_S_SEQ;
            } else if (!was_synack && !tfo && p->ack != st->nxt && st->nxt == st->isn + 1) {
                /* T20: the SYN-ACK names the SYN the server took. A client SYN with another
                 * ISN (a low-TTL fake sent first) anchored a sequence space the server never
                 * saw: re-anchor on the acknowledgement. Only bytes the server could not have
                 * accepted are dropped (anything buffered came before any SYN-ACK). */
                if (st->buf)
                    put_buf(pl, t);
                st->nxt = p->ack;
                st->isn = p->ack - 1;
                pl->st.syn_reanchored++;
            }
            if (!seq_after(p->ack, st->nxt)) {
                st->win_end = p->ack + p->win; /* never scaled on a SYN */
                st->fl |= TCPREASM_S_WIN;
            }
            server_tsecr(st, p);
            return tfo;
        }
        return 0;
    }
    if (fl & TCPF_RST) {
        if (!(st->fl & TCPREASM_S_SRV_SEQ))
            return ignore(pl, TCPREASM_NO_SEQ);
        if (p->seq != st->srv_nxt)
            return ignore(pl, TCPREASM_RST_BAD_SEQ);
        if (!decode_l4_csum_ok(p))
            return ignore(pl, TCPREASM_BAD_CSUM);
        st->fl |= TCPREASM_S_RST;
        st->fl2 |= TCPREASM_S2_SRV_RST;
        mark_closing(t);
        pl->st.rst_honoured++;
        return TCPREASM_RESET;
    }
    unsigned res = 0;
    uint32_t end = p->seq + (uint32_t)p->payload_len + ((fl & TCPF_FIN) ? 1 : 0);
    unsigned ws = (st->fl & TCPREASM_S_WS_OK) ? st->wscale >> 4 : 0;
    uint32_t we = p->ack + ((uint32_t)p->win << ws);
    /* the checksum is summed only when the segment would change what is tracked (after the
     * decision the pipeline stops feeding a flow, so bulk server data rarely gets here) */
    bool changes =
        !(st->fl & TCPREASM_S_SRV_SEQ) || seq_after(end, st->srv_nxt) ||
        ((fl & TCPF_FIN) && !(st->fl & TCPREASM_S_SRV_FIN)) ||
        ((fl & TCPF_ACK) && (!(st->fl & TCPREASM_S_WIN) || seq_after(we, st->win_end))) ||
        ((fl & TCPF_ACK) && (!(st->fl & TCPREASM_S_SEQ) || (st->fl2 & TCPREASM_S2_UNCONF))) ||
        tsecr_raises(st, p);
    if ((changes || (st->fl2 & TCPREASM_S2_SRV_AMBIG)) && !decode_l4_csum_ok(p))
        return ignore(pl, TCPREASM_BAD_CSUM);
    if (st->fl2 & TCPREASM_S2_SRV_AMBIG) {
        /* the server's first segment after two SYN-ACKs: its sequence space is this one */
        st->srv_nxt = end;
        st->fl2 &= (uint8_t)~TCPREASM_S2_SRV_AMBIG;
    } else if (!(st->fl & TCPREASM_S_SRV_SEQ) || seq_after(end, st->srv_nxt)) {
        st->srv_nxt = end;
    }
    st->fl |= TCPREASM_S_SRV_SEQ;
    if (fl & TCPF_FIN) {
        st->fl |= TCPREASM_S_SRV_FIN;
        mark_closing(t);
        res |= TCPREASM_FIN;
    }
    if (fl & TCPF_ACK) {
        if (!(st->fl & TCPREASM_S_WIN) || seq_after(we, st->win_end))
            st->win_end = we;
        st->fl |= TCPREASM_S_WIN;
    }
    server_tsecr(st, p);
    if (fl & TCPF_ACK)
        res |= server_ack(pl, t, p->ack);
    return res;
}

/* Options of a client SYN (several SYNs before the SYN-ACK: the union, the larger shift). No
 * timestamp is taken from it: the PAWS bound comes from the server (T19). */
static void syn_options(struct tcpreasm_state *st, const struct pkt *p)
{
    if (p->has_wscale) {
        unsigned ws = st->wscale & 0x0f;
        st->fl |= TCPREASM_S_CLI_WS;
        st->wscale = (uint8_t)((st->wscale & 0xf0) | (p->wscale > ws ? p->wscale : ws));
    }
    if (p->has_ts)
        st->fl |= TCPREASM_S_CLI_TS;
    if (p->has_md5)
        st->fl2 |= TCPREASM_S2_CLI_MD5;
    if (p->win > st->cli_maxwin)
        st->cli_maxwin = p->win;
}

/* Tracks nxt for a flow that buffers nothing (gave up, or released): no longer a reassembly
 * anchor, only the sequence number forged resets need (the server's rcv_nxt). It is the
 * highest end of the client segments that passed every check, in order or not (a lost or
 * reordered segment must not freeze it), and moves up to the server's acknowledgement
 * (server_ack()), the server's own word for its rcv_nxt. */
static void track_only(struct tcpreasm_state *st, uint32_t seq, uint32_t end)
{
    (void)seq;
    if (seq_after(end, st->nxt))
        st->nxt = end;
}

/* The flow table changed its mind about which end is the client (T15: simultaneous open, or a
 * guess corrected by a SYN, the ports or the first data). What was learned as the client's
 * becomes the server's and the other way round; what cannot be carried over (the window, the
 * timestamps, bytes buffered from the wrong end) is forgotten and learned again. */
static void swap_sides(struct tcpreasm_pool *pl, struct tcpreasm_state *t, unsigned client_side)
{
    struct tcpreasm_state *st = t;
    struct tcpreasm_state o = *st;
    if (st->buf)
        put_buf(pl, t);
    uint16_t fl = o.fl & (TCPREASM_S_TS_OK | TCPREASM_S_WS_OK | TCPREASM_S_MD5 | TCPREASM_S_RST |
                          TCPREASM_S_GAVEUP | TCPREASM_S_DONE);
    if (o.fl & TCPREASM_S_SEQ) {
        st->srv_nxt = o.nxt;
        fl |= TCPREASM_S_SRV_SEQ;
    }
    if (o.fl & TCPREASM_S_SRV_SEQ) {
        st->nxt = o.srv_nxt;
        st->isn = o.srv_nxt - 1;
        fl |= TCPREASM_S_SEQ;
    }
    if (o.fl & TCPREASM_S_CLI_FIN)
        fl |= TCPREASM_S_SRV_FIN;
    if (o.fl & TCPREASM_S_SRV_FIN)
        fl |= TCPREASM_S_CLI_FIN;
    st->fl = fl;
    st->wscale = (uint8_t)(o.wscale >> 4 | o.wscale << 4);
    st->win_end = 0;
    st->ts_recent = 0;
    st->cli_maxwin = 0;
    uint8_t fl2 = 0;
    if ((o.fl & TCPREASM_S_RST) && !(o.fl2 & TCPREASM_S2_SRV_RST))
        fl2 |= TCPREASM_S2_SRV_RST;
    fl2 |= o.fl2 & TCPREASM_S2_CLOSING; /* the connection's, whichever end is the client */
    if (client_side)
        fl2 |= TCPREASM_S2_SIDE1;
    st->fl2 = fl2;
}

unsigned tcpreasm_segment(struct tcpreasm_pool *pl, struct tcpreasm_state *t, unsigned client_side,
                          const struct pkt *p, int dir)
{
    if (unlikely(((t->fl2 & TCPREASM_S2_SIDE1) != 0) != (client_side != 0))) {
        if (t->fl == 0 && !t->buf) /* nothing learned yet: only note the side */
            t->fl2 = (uint8_t)(t->fl2 ^ TCPREASM_S2_SIDE1);
        else
            swap_sides(pl, t, client_side);
    }
    struct tcpreasm_state *st = t;
    uint8_t fl = p->tcp_flags;
    pl->st.segments++;
    if (dir != 0)
        return server_segment(pl, t, p);
    /* T5: a segment with a bad checksum never reaches the server's socket. Summed on demand:
     * always for data, SYN, FIN and RST; for a bare ACK only if it would change state below. */
    if ((p->payload_len || (fl & (TCPF_SYN | TCPF_FIN | TCPF_RST))) && !decode_l4_csum_ok(p))
        return ignore(pl, TCPREASM_BAD_CSUM);

    uint32_t seq = p->seq;
    unsigned reanchored = 0;
    const uint8_t *payload = p->payload;
    size_t len = p->payload_len;
    if (fl & TCPF_SYN) {
        if (!(st->fl & TCPREASM_S_SYN) && (!(st->fl & TCPREASM_S_SEQ) || p->seq + 1 == st->nxt)) {
            st->isn = p->seq;
            st->nxt = p->seq + 1;
            st->fl |= TCPREASM_S_SYN | TCPREASM_S_SEQ;
            syn_options(st, p);
            if (pl->synack_unseen && p->has_ts) {
                /* no SYN-ACK to confirm them: the server's ts_recent starts at this TSval */
                st->fl |= TCPREASM_S_TS_OK;
                if (p->tsval) {
                    st->ts_recent = p->tsval;
                    st->fl |= TCPREASM_S_TSR;
                }
            }
        } else if (p->seq != st->isn) {
            /* T20: until a SYN-ACK names the SYN the server took, another ISN may be the real
             * one (server_segment() re-anchors on the SYN-ACK's ack). Its options are merged
             * the lenient way so the view never gets stricter than the server's. */
            if (!(st->fl & TCPREASM_S_SYNACK) && !(st->fl & TCPREASM_S_SRV_SEQ))
                syn_options(st, p);
            return ignore(pl, TCPREASM_BAD_SYN);
        }
        if (len == 0)
            return 0;
        /* T14: SYN data counts only with a Fast Open cookie, and only before the SYN-ACK */
        if (pl->synack_unseen || !p->has_fastopen || p->fastopen_cookie_len < 4 ||
            st->nxt != p->seq + 1 || p->seq != st->isn || (st->fl & TCPREASM_S_SYNACK))
            return ignore(pl, TCPREASM_SYN_DATA);
        return hold_syn_data(pl, t, p);
    } else {
        if (fl & TCPF_RST) {
            if (!(st->fl & TCPREASM_S_SEQ))
                return ignore(pl, TCPREASM_NO_SEQ);
            if (p->seq != st->nxt) /* RFC 5961 3.2: only an exact match resets */
                return ignore(pl, TCPREASM_RST_BAD_SEQ);
            st->fl |= TCPREASM_S_RST;
            mark_closing(t);
            pl->st.rst_honoured++;
            return TCPREASM_RESET;
        }
        if (!(fl & TCPF_ACK))
            return ignore(pl, TCPREASM_NO_ACK);
        if (unlikely(st->fl2 & TCPREASM_S2_TFO_HELD) && len > 0)
            return ignore(pl, TCPREASM_TFO_WAIT); /* no client data before the SYN-ACK */
        /* Picked up mid-stream: a keep-alive probe (seq = snd_nxt - 1, 0 or 1 byte)
         * or a bare ACK would anchor one byte early or on nothing, and the flow would wait for
         * ever for a hole: anchor only on 2+ bytes of data (unconfirmed until the server's
         * ACKs agree, server_ack()) or on the server's acknowledgement. */
        bool pickup = !(st->fl & TCPREASM_S_SEQ);
        /* Queue mode (SYN-ACK unseen): what reaches the queue is client data conntrack has
         * vetted, and a flow first seen there is one whose SYN went by unjudged: its first data
         * segment, one byte or more, is the stream's start (a keep-alive probe has no place
         * before a first request). */
        size_t min_anchor = pl->synack_unseen ? 1 : 2;
        if (pickup && len < min_anchor)
            return len ? ignore(pl, TCPREASM_NO_SEQ) : 0;
        if (p->has_md5 && !(st->fl & TCPREASM_S_MD5))
            return ignore(pl, TCPREASM_MD5);
        if ((st->fl & TCPREASM_S_TS_OK) && p->has_ts && (st->fl & TCPREASM_S_TSR) &&
            (int32_t)(p->tsval - st->ts_recent) < 0)
            return ignore(pl, TCPREASM_PAWS);
        unsigned ws = (st->fl & TCPREASM_S_WS_OK) ? st->wscale & 0x0f : 0;
        uint32_t w = (uint32_t)p->win << ws;
        if (len == 0 && !(fl & TCPF_FIN) && (!(st->fl & TCPREASM_S_SEQ) || w > st->cli_maxwin) &&
            !decode_l4_csum_ok(p)) /* a bare ACK that would change state (window) */
            return ignore(pl, TCPREASM_BAD_CSUM);
        if ((st->fl & TCPREASM_S_SRV_SEQ) && !(st->fl2 & TCPREASM_S2_SRV_AMBIG)) {
            /* Linux drops an ACK of unsent data; the slack (what the server may have in
             * flight) absorbs a tap that shows the two directions slightly out of step */
            uint32_t slack = st->cli_maxwin > 65535 ? st->cli_maxwin : 65535;
            if (seq_after(p->ack, st->srv_nxt + slack))
                return ignore(pl, TCPREASM_BAD_ACK);
            if (st->cli_maxwin && seq_before(p->ack, st->srv_nxt - st->cli_maxwin))
                return ignore(pl, TCPREASM_BAD_ACK);
        }
        if (len > 0 && (st->fl & TCPREASM_S_WIN) && !seq_before(seq, st->win_end))
            return ignore(pl, TCPREASM_WINDOW);
        if (w > st->cli_maxwin)
            st->cli_maxwin = w;
        if (pl->synack_unseen && !(st->fl & TCPREASM_S_SRV_SEQ) &&
            (!(st->fl2 & TCPREASM_S2_SRV_GUESS) || seq_after(p->ack, st->srv_nxt))) {
            st->srv_nxt = p->ack; /* the client's rcv_nxt, where a reset to it must start */
            st->fl2 |= TCPREASM_S2_SRV_GUESS;
        }
        if (pickup) {
            st->nxt = p->seq;
            st->isn = p->seq - 1;
            st->fl |= TCPREASM_S_SEQ;
            st->fl2 |= TCPREASM_S2_UNCONF;
        } else if ((st->fl2 & TCPREASM_S2_UNCONF) && len >= min_anchor &&
                   seq_before(seq, st->isn + 1) && st->nxt - seq < pl->cap && st->buf) {
            /* unconfirmed anchor: data before it is not "old" - the lowest start seen wins
             * until the server's ACKs decide (a fake sent ahead must not hide the real start).
             * Only a segment that starts before the anchor moves it (back); a retransmission
             * inside what is held (a tail-loss probe of the last byte, a collapsed
             * retransmission) is an overlap, not a new start. */
            uint32_t idx = st->buf - 1;
            if (rebase(pl, idx, &pl->bufs[idx], seq)) {
                st->nxt = seq + pl->bufs[idx].olen;
                st->isn = seq - 1;
                pl->st.midstream_reanchored++;
                reanchored = TCPREASM_REANCHORED;
            }
        } else if ((st->fl2 & TCPREASM_S2_UNCONF) && len >= min_anchor &&
                   seq_before(seq, st->nxt) && st->nxt - seq < pl->cap && !st->buf) {
            st->nxt = seq;
        }
    }

    uint32_t end = seq + (uint32_t)len;
    bool old = len > 0 && !seq_after(end, st->nxt);
    /* After an acceptable RST or FIN Linux takes no more data, but in tap mode the client can
     * send a low-TTL RST/FIN the server never receives: keep inspecting (if the close was
     * real, the server discards these bytes and inspecting them harms nobody). */
    if (len > 0 && !old && (st->fl & (TCPREASM_S_RST | TCPREASM_S_CLI_FIN))) {
        pl->st.data_after_close++;
        /* T21: the client's own RST/FIN may have been a low-TTL fake; data after it shows
         * the client side still open. Unless the server closed too, the flow goes back to
         * the established idle timeout: the 15 s tombstone must not expire a connection in
         * the middle of a slow or reordered request. */
        if (!(st->fl & TCPREASM_S_SRV_FIN) && !(st->fl2 & TCPREASM_S2_SRV_RST) &&
            (st->fl2 & TCPREASM_S2_CLOSING)) {
            st->fl2 &= (uint8_t)~TCPREASM_S2_CLOSING;
            pl->st.tombstone_lifted++;
        }
    }
    unsigned res = reanchored;
    if (len > 0) {
        if (st->fl & (TCPREASM_S_GAVEUP | TCPREASM_S_DONE)) {
            track_only(st, seq, end);
        } else {
            uint32_t idx;
            struct rbuf *b = NULL;
            if (!old || st->buf)
                b = get_buf(pl, t, &idx);
            if (!b && !old && pl->defer_empty) {
                /* held back from the receiver by the owner: it comes again, maybe to a buffer
                 * freed meanwhile (nothing of it is recorded: nxt stays before it) */
                pl->st.pool_deferred++;
                return res | ignore(pl, TCPREASM_NO_BUFFER);
            }
            if (!b && !old) {
                st->fl |= TCPREASM_S_GAVEUP;
                pl->st.pool_empty++;
                track_only(st, seq, end);
                res |= TCPREASM_GAVEUP | (pl->last_limited ? TCPREASM_OWNER_LIMITED : 0u);
            } else if (b) {
                bool differs = false;
                if (pl->defer_empty && !b->alt && !pl->alt_head)
                    (void)overlap_same(pl, idx, b, seq, payload, len, &differs);
                if (differs) {
                    /* another copy of bytes held, and no alternative view to keep it in: held
                     * back like new data without a buffer (it is never judged in part) */
                    pl->st.pool_deferred++;
                    return res | ignore(pl, TCPREASM_NO_BUFFER);
                }
                if (!old && (fl & TCPF_URG)) {
                    uint32_t u = seq + (p->urg_ptr ? (uint32_t)p->urg_ptr - 1 : 0);
                    if (!seq_before(u, st->nxt) && (!b->urg_pending || seq_after(u, b->urg_seq))) {
                        b->urg_pending = true;
                        b->urg_seq = u;
                    }
                }
                uint32_t olen0 = b->olen;
                bool skipping = b->skip != 0;
                uint32_t set_to;
                res |= put_bytes(pl, idx, b, seq, payload, len, &set_to);
                if (advance(pl, t, idx, b, set_to)) {
                    res |= TCPREASM_NEW_DATA;
                    pl->st.new_data++;
                } else if (!old && b->olen == olen0) {
                    pl->st.ooo++;
                }
                if (skipping) /* a skipped body may have ended exactly here */
                    put_buf_if_idle(pl, t);
            }
        }
    }
    if (old) {
        res |= ignore(pl, TCPREASM_OLD);
        return res;
    }
    if ((fl & TCPF_FIN) && end == st->nxt && !(st->fl & TCPREASM_S_CLI_FIN)) {
        st->nxt++;
        st->fl |= TCPREASM_S_CLI_FIN;
        mark_closing(t);
        res |= TCPREASM_FIN;
    }
    return res;
}

const uint8_t *tcpreasm_data(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t,
                             size_t *len)
{
    *len = 0;
    if (!t->buf)
        return NULL;
    const struct rbuf *b = &pool->bufs[t->buf - 1];
    if (b->olen == 0)
        return NULL;
    *len = b->olen;
    return buf_data(pool, t->buf - 1);
}

unsigned tcpreasm_nviews(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t)
{
    if (!t->buf)
        return 0;
    const struct rbuf *b = &pool->bufs[t->buf - 1];
    if (b->olen == 0)
        return 0;
    return b->alt ? 2u + b->nver : 1u;
}

const uint8_t *tcpreasm_view(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t,
                             unsigned i, size_t *len, bool *changed)
{
    *len = 0;
    *changed = false;
    if (i >= tcpreasm_nviews(pool, t))
        return NULL;
    const struct rbuf *b = &pool->bufs[t->buf - 1];
    *len = b->olen;
    *changed = !(b->vseen & (1u << i));
    if (i == 0)
        return buf_data(pool, t->buf - 1);
    if (i == 1)
        return buf_alt(pool, b);
    return ver_data(pool, b, i - 2);
}

void tcpreasm_view_seen(struct tcpreasm_pool *pool, struct tcpreasm_state *t, unsigned i)
{
    if (t->buf && i < 8)
        pool->bufs[t->buf - 1].vseen |= (uint8_t)(1u << i);
}

const uint8_t *tcpreasm_alt(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t,
                            size_t *len)
{
    *len = 0;
    if (!t->buf)
        return NULL;
    const struct rbuf *b = &pool->bufs[t->buf - 1];
    if (!b->alt || b->olen == 0)
        return NULL;
    *len = b->olen;
    return buf_alt(pool, b);
}

void tcpreasm_consume(struct tcpreasm_pool *pool, struct tcpreasm_state *t, size_t n)
{
    if (!t->buf || n == 0)
        return;
    uint32_t idx = t->buf - 1;
    struct rbuf *b = &pool->bufs[idx];
    uint32_t d = n < b->olen ? (uint32_t)n : b->olen;
    consume_front(pool, idx, b, d);
    size_t rest = n - d;
    b->skip = rest > UINT32_MAX - b->skip ? UINT32_MAX : b->skip + (uint32_t)rest;
    put_buf_if_idle(pool, t);
}

void tcpreasm_release(struct tcpreasm_pool *pool, struct tcpreasm_state *t)
{
    if (t->buf)
        put_buf(pool, t);
    t->fl |= TCPREASM_S_DONE;
}

bool tcpreasm_syn_seen(const struct tcpreasm_state *t)
{
    return (t->fl & TCPREASM_S_SYN) != 0;
}

bool tcpreasm_server_inert(const struct tcpreasm_state *t, unsigned client_side)
{
    return ((t->fl2 & TCPREASM_S2_SIDE1) != 0) == (client_side != 0) && (t->fl & TCPREASM_S_SEQ) &&
           !(t->fl2 & (TCPREASM_S2_UNCONF | TCPREASM_S2_SRV_AMBIG | TCPREASM_S2_TFO_HELD));
}

bool tcpreasm_acks_unseen(const struct tcpreasm_state *t, uint32_t ack)
{
    return (t->fl & TCPREASM_S_SEQ) && !(t->fl & (TCPREASM_S_GAVEUP | TCPREASM_S_DONE)) &&
           !(t->fl2 & (TCPREASM_S2_UNCONF | TCPREASM_S2_SRV_AMBIG | TCPREASM_S2_TFO_HELD)) &&
           seq_after(ack, t->nxt);
}

bool tcpreasm_holds_past_hole(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t)
{
    if (!t->buf || !(t->fl & TCPREASM_S_SEQ) || (t->fl & (TCPREASM_S_GAVEUP | TCPREASM_S_DONE)) ||
        (t->fl2 & (TCPREASM_S2_UNCONF | TCPREASM_S2_SRV_AMBIG | TCPREASM_S2_TFO_HELD)))
        return false;
    const struct rbuf *b = &pool->bufs[t->buf - 1];
    return b->hi > b->olen;
}

bool tcpreasm_closing(const struct tcpreasm_state *t)
{
    return (t->fl2 & TCPREASM_S2_CLOSING) != 0;
}

bool tcpreasm_starts_new(const struct tcpreasm_state *t, const struct pkt *p, bool from_client,
                         bool settled)
{
    uint8_t fl = p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST);
    bool closing = tcpreasm_closing(t);
    if (fl == TCPF_SYN)
        return !((t->fl & TCPREASM_S_SYN) && t->isn == p->seq) &&
               (settled ||
                (closing && ((t->fl & TCPREASM_S_SRV_FIN) || (t->fl2 & TCPREASM_S2_SRV_RST) ||
                             !(t->fl & TCPREASM_S_SRV_SEQ))));
    if (fl == (TCPF_SYN | TCPF_ACK))
        return !from_client && (t->fl & TCPREASM_S_SYNACK) && (t->fl & TCPREASM_S_SEQ) &&
               p->ack != t->isn + 1 && (t->fl & (TCPREASM_S_RST | TCPREASM_S_CLI_FIN)) &&
               !(t->fl2 & TCPREASM_S2_SRV_RST) && (closing || settled);
    return false;
}
