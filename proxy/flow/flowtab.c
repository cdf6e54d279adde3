/* flowtab.c - bidirectional flow table: open-addressing index over a pre-allocated flow pool,
 * clock eviction when full, incremental idle expiry.
 *
 * Key (canonical order, both directions hash alike):
 *   | zone | ipver | proto | addr[0] 16 | addr[1] 16 | port[0] | port[1] |  (addr,port)[0] <= [1]
 * Index: a power-of-two array of { 32-bit hash tag, flow index + 1 } entries, at least twice the
 * pool (load <= 1/2), linear probing from tag & mask, backward-shift deletion. A lookup reads
 * one or two entries of one cache line and touches only the flow whose tag matches. While a
 * flow is in use its hnext holds its tag (to find its entry when it goes); on the free list,
 * hnext is the link (index + 1, 0 = end). */
#include "proxy/flow/flowtab.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/bigmem.h"
#include "common/compiler.h"

#define FLOWTAB_INDEX_MIN 4096u /* entries of the index at start (32 KiB) */

struct fbucket {
    uint32_t tag; /* key_hash() of the flow */
    uint32_t idx; /* flow index + 1; 0 = empty */
};

struct flowtab {
    struct flowtab_cfg cfg;
    struct flowtab_stats st;
    struct flow *pool; /* bigmem: 64-byte aligned (a flow is two whole cache lines), zero,
                            * faulted in as used */
    struct fbucket *buckets;
    size_t pool_bytes, bucket_bytes;
    uint32_t mask;      /* entries in use - 1: grows (doubling) with the live flows, so a
                            * small population keeps a small, cache-friendly index */
    uint32_t mask_max;  /* entries mapped - 1 (>= 2 * max_flows - 1) */
    uint32_t free_head; /* index + 1 */
    uint32_t hwm;       /* slots [0, hwm) have been used at least once; the rest are
                            * untouched (their pages never faulted in) and need no scan */
    uint32_t hand;      /* clock hand of eviction */
    uint32_t ehand;     /* clock hand of expiry */
    uint64_t last_expire_us;
    uint64_t seed;
};

void flowtab_cfg_default(struct flowtab_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_flows = 1u << 20;
    cfg->tcp_est_us = 300ull * 1000000;
    cfg->tcp_closing_us = 15ull * 1000000;
    cfg->udp_us = 60ull * 1000000;
}

struct flowtab *flowtab_new(const struct flowtab_cfg *cfg)
{
    struct flowtab_cfg c;
    if (cfg)
        c = *cfg;
    else
        flowtab_cfg_default(&c);
    if (c.max_flows == 0 || c.max_flows > (1u << 26))
        return NULL;
    struct flowtab *ft = calloc(1, sizeof *ft);
    if (!ft)
        return NULL;
    ft->cfg = c;
    uint32_t nb = 2;
    while (nb < 2 * c.max_flows)
        nb <<= 1;
    ft->mask_max = nb - 1;
    ft->mask = (nb < FLOWTAB_INDEX_MIN ? nb : FLOWTAB_INDEX_MIN) - 1;
    ft->pool_bytes = (size_t)c.max_flows * sizeof *ft->pool;
    ft->bucket_bytes = (size_t)nb * sizeof *ft->buckets;
    /* zeroed, faulted in on first touch, on huge pages (common/bigmem.h): the flows and the
     * index are read at random by every packet, a TLB entry per 2 MiB instead of per page */
    ft->pool = bigmem_alloc(ft->pool_bytes);
    ft->buckets = bigmem_alloc(ft->bucket_bytes);
    if (!ft->pool || !ft->buckets) {
        flowtab_free(ft);
        return NULL;
    }
    if (getrandom(&ft->seed, sizeof ft->seed, GRND_NONBLOCK) != (ssize_t)sizeof ft->seed)
        ft->seed = (uint64_t)(uintptr_t)ft ^ 0x5bd1e9955bd1e995ull;
    return ft;
}

void flowtab_free(struct flowtab *ft)
{
    if (!ft)
        return;
    bigmem_free(ft->pool, ft->pool_bytes);
    bigmem_free(ft->buckets, ft->bucket_bytes);
    free(ft);
}

static uint64_t mx(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 32);
}

/* Multiply-xorshift over the key read as six 64-bit words (memcpy loads: no alignment
 * assumption), keyed with the table's random seed. Not cryptographic: the seed only keeps
 * collisions from being aimed at from packet contents. */
static uint32_t key_hash(uint64_t seed, uint32_t zone, uint8_t ipver, uint8_t proto,
                         const uint8_t a0[16], const uint8_t a1[16], uint16_t p0, uint16_t p1)
{
    uint64_t w[4];
    memcpy(w, a0, 16);
    memcpy(w + 2, a1, 16);
    uint64_t meta =
        (uint64_t)p0 | (uint64_t)p1 << 16 | (uint64_t)proto << 32 | (uint64_t)ipver << 40;
    uint64_t h = mx(mx(mx(mx(mx(mx(seed, meta), zone), w[0]), w[1]), w[2]), w[3]);
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32);
}

/* key_hash() of an IPv4 key (ipver 4: the addresses' last 12 bytes are zero), the two
 * addresses in one word: three rounds instead of six. IPv4 and IPv6 keys never compare equal
 * (the version is part of the key), so they need not hash alike. */
static uint32_t key_hash4(uint64_t seed, uint32_t zone, uint8_t proto, uint32_t a0, uint32_t a1,
                          uint16_t p0, uint16_t p1)
{
    uint64_t meta = (uint64_t)p0 | (uint64_t)p1 << 16 | (uint64_t)proto << 32 | (uint64_t)4 << 40;
    uint64_t h = mx(mx(mx(seed, meta), zone), (uint64_t)a0 << 32 | a1);
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32);
}

static void index_put(struct flowtab *ft, uint32_t tag, uint32_t idx)
{
    uint32_t i = tag & ft->mask;
    while (ft->buckets[i].idx)
        i = (i + 1) & ft->mask;
    ft->buckets[i].tag = tag;
    ft->buckets[i].idx = idx;
}

/* Doubles the index in place (it is mapped at full size) and re-enters every live flow from its
 * tag: O(slots used), log2(max_flows / 2048) times at most over the table's life. */
static void index_grow(struct flowtab *ft)
{
    ft->mask = ft->mask * 2 + 1;
    memset(ft->buckets, 0, ((size_t)ft->mask + 1) * sizeof *ft->buckets);
    for (uint32_t i = 0; i < ft->hwm; i++)
        if (ft->pool[i].fl & FLOW_F_INUSE)
            index_put(ft, ft->pool[i].hnext, i + 1);
}

/* Removes f's entry (found by the tag kept in f->hnext), shifting later entries of its probe
 * run back so no lookup stops early at the hole. */
static void unlink_flow(struct flowtab *ft, struct flow *f)
{
    uint32_t idx = (uint32_t)(f - ft->pool) + 1, m = ft->mask;
    uint32_t i = f->hnext & m;
    for (uint32_t n = 0; ft->buckets[i].idx != idx; n++) {
        if (!ft->buckets[i].idx || n > m)
            return; /* not indexed */
        i = (i + 1) & m;
    }
    for (uint32_t j = i;;) {
        j = (j + 1) & m;
        if (!ft->buckets[j].idx)
            break;
        uint32_t home = ft->buckets[j].tag & m;
        if (((j - home) & m) >= ((j - i) & m)) { /* i lies on j's probe path */
            ft->buckets[i] = ft->buckets[j];
            i = j;
        }
    }
    ft->buckets[i].idx = 0;
    ft->buckets[i].tag = 0;
}

/* Hands f to cb, gives its buffers back and puts the slot on the free list. */
static void recycle(struct flowtab *ft, struct flow *f, enum flowtab_why why, flowtab_cb cb,
                    void *ctx)
{
    if (cb)
        cb(f, why, ctx);
    if (ft->cfg.reasm)
        tcpreasm_release(ft->cfg.reasm, &f->tcp);
    unlink_flow(ft, f);
    memset(f, 0, sizeof *f);
    f->hnext = ft->free_head;
    ft->free_head = (uint32_t)(f - ft->pool) + 1;
    ft->st.active--;
}

static bool web_port(uint16_t p)
{
    return p == 80 || p == 443 || p == 8080 || p == 8443;
}

/* The side that looks like the server by its port, or -1. */
static int port_server_side(const struct flow *f)
{
    bool w0 = web_port(f->port[0]), w1 = web_port(f->port[1]);
    if (w0 != w1)
        return w0 ? 0 : 1;
    if (f->port[0] != f->port[1] && (f->port[0] < 1024 || f->port[1] < 1024))
        return f->port[0] < f->port[1] ? 0 : 1;
    return -1;
}

static void set_client(struct flow *f, int side, enum flow_client_by by)
{
    f->client = (uint8_t)side;
    f->fl = (uint8_t)((f->fl & ~FLOW_F_CSRC_MASK) | ((unsigned)by << 2));
}

/* EVASION T15: SYN, then ports, then the first sender of data. A bare SYN from the end that
 * is not the SYN-decided client is a simultaneous open (or a SYN-ACK seen before the other
 * end's SYN): the SYNs no longer tell, so ports and then data decide. */
static void decide_client(struct flow *f, const struct pkt *p, int side, bool is_new)
{
    enum flow_client_by by = flowtab_client_by(f);
    if (p->l4proto == 6 && (p->tcp_flags & TCPF_SYN)) {
        if (f->fl & FLOW_F_SIMOPEN)
            return;
        bool bare = !(p->tcp_flags & TCPF_ACK);
        if (!is_new && by == FLOW_CLIENT_BY_SYN && bare && side != f->client) {
            f->fl |= FLOW_F_SIMOPEN;
            int srv = port_server_side(f);
            if (srv >= 0)
                set_client(f, !srv, FLOW_CLIENT_BY_PORT);
            else
                set_client(f, f->client, FLOW_CLIENT_BY_GUESS);
            return;
        }
        if (is_new || by < FLOW_CLIENT_BY_SYN)
            set_client(f, bare ? side : !side, FLOW_CLIENT_BY_SYN);
        return;
    }
    if (!is_new && by >= FLOW_CLIENT_BY_PORT)
        return;
    int srv = port_server_side(f);
    if (srv >= 0)
        set_client(f, !srv, FLOW_CLIENT_BY_PORT);
    else if (p->payload_len > 0 && (is_new || by < FLOW_CLIENT_BY_DATA))
        set_client(f, side, FLOW_CLIENT_BY_DATA);
    else if (is_new)
        set_client(f, side, FLOW_CLIENT_BY_GUESS);
}

/* Port reuse (busy NAT pools): is SYN segment p, sent by canonical side `side`, the start of
 * a new connection on f's 5-tuple? The TCP state answers (tcpreasm_starts_new()), given
 * whether the pipeline has settled f: nothing more would be inspected on it anyway. */
static bool new_connection(const struct flow *f, const struct pkt *p, int side)
{
    return tcpreasm_starts_new(&f->tcp, p, side == f->client, (f->fl & FLOW_F_SETTLED) != 0);
}

/* A recycled slot if any, else a never-used one (the pool's pages are faulted in only as the
 * table grows), else the clock hand evicts. The hand passes over flows that hold a reassembly
 * buffer (a request in progress, or one judged and awaiting its server's answer) and those the
 * pipeline calls busy (cfg.busy: a QUIC hello half reassembled): evicted, the rest of such a
 * request would start a flow of its own mid-stream, unreadable, and be judged on its address -
 * a flood of new connections between two segments of a hello would be a way past the filter.
 * Buffers and slots are far fewer than flows; only when none but holders are left is one
 * evicted. */
static struct flow *take_slot(struct flowtab *ft)
{
    if (!ft->free_head && ft->hwm < ft->cfg.max_flows)
        return &ft->pool[ft->hwm++];
    if (!ft->free_head) {
        uint32_t n = ft->cfg.max_flows;
        struct flow *holder = NULL;
        /* two passes at most: the first clears every REF bit it meets */
        for (uint64_t step = 0; step < 2ull * n + 1; step++) {
            struct flow *f = &ft->pool[ft->hand];
            ft->hand = ft->hand + 1 < n ? ft->hand + 1 : 0;
            if (!(f->fl & FLOW_F_INUSE))
                continue;
            if (f->fl & FLOW_F_REF) {
                f->fl &= (uint8_t)~FLOW_F_REF;
                continue;
            }
            if (f->tcp.buf || (ft->cfg.busy && ft->cfg.busy(f, ft->cfg.evict_ctx))) {
                ft->st.holders_spared++;
                if (!holder)
                    holder = f;
                continue;
            }
            ft->st.evicted_full++;
            recycle(ft, f, FLOWTAB_EVICTED, ft->cfg.on_evict, ft->cfg.evict_ctx);
            break;
        }
        if (!ft->free_head && holder) {
            ft->st.evicted_full++;
            ft->st.holders_evicted++;
            recycle(ft, holder, FLOWTAB_EVICTED, ft->cfg.on_evict, ft->cfg.evict_ctx);
        }
    }
    struct flow *f = &ft->pool[ft->free_head - 1];
    ft->free_head = f->hnext;
    return f;
}

/* memcmp(a, b, 16) < 0, == 0, > 0 as -1, 0, 1, in two 64-bit compares instead of a call */
static int addr_cmp(const uint8_t a[16], const uint8_t b[16])
{
    uint64_t x[2], y[2];
    memcpy(x, a, 16);
    memcpy(y, b, 16);
    for (int i = 0; i < 2; i++) {
        uint64_t u = be64toh(x[i]), v = be64toh(y[i]); /* the first byte most significant */
        if (u != v)
            return u < v ? -1 : 1;
    }
    return 0;
}

static bool addr_eq(const uint8_t a[16], const uint8_t b[16])
{
    uint64_t x[2], y[2];
    memcpy(x, a, 16);
    memcpy(y, b, 16);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

bool flowtab_hint(const struct flowtab *ft, const struct pkt *p, struct flowtab_hint *h)
{
    h->valid = 0;
    h->cand = 0;
    if (unlikely((p->l4proto != 6 && p->l4proto != 17) || p->frag))
        return false;
    if (likely(p->ipver == 4)) { /* the addresses' first 4 bytes are all there is to them */
        uint32_t s, d;
        memcpy(&s, p->src, 4);
        memcpy(&d, p->dst, 4);
        s = be32toh(s);
        d = be32toh(d);
        int side = s < d ? 0 : s > d ? 1 : p->sport <= p->dport ? 0 : 1;
        h->tag = side ? key_hash4(ft->seed, p->zone, p->l4proto, d, s, p->dport, p->sport)
                      : key_hash4(ft->seed, p->zone, p->l4proto, s, d, p->sport, p->dport);
        h->side = (uint8_t)side;
        h->valid = 1;
        __builtin_prefetch(&ft->buckets[h->tag & ft->mask], 0, 3);
        return true;
    }
    int c = addr_cmp(p->src, p->dst);
    if (c == 0)
        c = (int)p->sport - (int)p->dport;
    int side = c <= 0 ? 0 : 1; /* canonical side of p's sender */
    const uint8_t *a0 = side ? p->dst : p->src, *a1 = side ? p->src : p->dst;
    uint16_t p0 = side ? p->dport : p->sport, p1 = side ? p->sport : p->dport;
    h->tag = key_hash(ft->seed, p->zone, p->ipver, p->l4proto, a0, a1, p0, p1);
    h->side = (uint8_t)side;
    h->valid = 1;
    __builtin_prefetch(&ft->buckets[h->tag & ft->mask], 0, 3);
    return true;
}

void flowtab_prefetch_index(const struct flowtab *ft, const struct flowtab_hint *h)
{
    if (h->valid)
        __builtin_prefetch(&ft->buckets[h->tag & ft->mask], 0, 3);
}

void flowtab_prefetch_flow(const struct flowtab *ft, struct flowtab_hint *h)
{
    h->cand = 0;
    if (!h->valid)
        return;
    /* the first entry of the probe run with the tag: almost always the flow itself */
    for (uint32_t i = h->tag & ft->mask, n = 0; n < 4; i = (i + 1) & ft->mask, n++) {
        const struct fbucket *b = &ft->buckets[i];
        if (!b->idx)
            return;
        if (b->tag == h->tag) {
            const char *g = (const char *)&ft->pool[b->idx - 1];
            __builtin_prefetch(g, 1, 3);
            __builtin_prefetch(g + 64, 1, 3);
            h->cand = b->idx;
            return;
        }
    }
}

struct flow *flowtab_get(struct flowtab *ft, const struct pkt *p, uint64_t now_us, bool *is_new,
                         int *dir)
{
    struct flowtab_hint h;
    (void)flowtab_hint(ft, p, &h);
    return flowtab_get_hinted(ft, p, &h, now_us, is_new, dir);
}

struct flow *flowtab_get_hinted(struct flowtab *ft, const struct pkt *p,
                                const struct flowtab_hint *h, uint64_t now_us, bool *is_new,
                                int *dir)
{
    ft->st.lookups++;
    *is_new = false;
    *dir = 0;
    if (unlikely(!h->valid)) {
        ft->st.not_tcp_udp++;
        return NULL;
    }
    int side = h->side; /* canonical side of p's sender */
    const uint8_t *a0 = side ? p->dst : p->src, *a1 = side ? p->src : p->dst;
    uint16_t p0 = side ? p->dport : p->sport, p1 = side ? p->sport : p->dport;
    uint32_t tag = h->tag;

    struct flow *f = NULL;
    /* the flow the prefetch found (the table may have changed since: it must be in use and
     * have p's key, which no other flow in use has) */
    if (likely(h->cand)) {
        struct flow *g = &ft->pool[h->cand - 1];
        if ((g->fl & FLOW_F_INUSE) && g->hnext == tag && g->port[0] == p0 && g->port[1] == p1 &&
            g->proto == p->l4proto && g->zone == p->zone && g->ipver == p->ipver &&
            addr_eq(g->addr[0], a0) && addr_eq(g->addr[1], a1))
            f = g;
    }
    for (uint32_t i = tag & ft->mask; !f; i = (i + 1) & ft->mask) { /* load <= 1/2: ends */
        const struct fbucket *b = &ft->buckets[i];
        if (!b->idx)
            break;
        if (b->tag != tag)
            continue;
        struct flow *g = &ft->pool[b->idx - 1];
        if (g->port[0] == p0 && g->port[1] == p1 && g->proto == p->l4proto && g->zone == p->zone &&
            g->ipver == p->ipver && addr_eq(g->addr[0], a0) && addr_eq(g->addr[1], a1)) {
            f = g;
            break;
        }
    }
    if (f && p->l4proto == 6 && (p->tcp_flags & TCPF_SYN) && new_connection(f, p, side)) {
        ft->st.reused++;
        recycle(ft, f, FLOWTAB_REUSED, ft->cfg.on_evict, ft->cfg.evict_ctx);
        f = NULL;
    } else if (f && p->l4proto == 17 && unlikely(f->fl & FLOW_F_SETTLED) && ft->cfg.udp_restarts &&
               ft->cfg.udp_restarts(f, p, side == f->client, ft->cfg.evict_ctx)) {
        ft->st.reused++;
        recycle(ft, f, FLOWTAB_REUSED, ft->cfg.on_evict, ft->cfg.evict_ctx);
        f = NULL;
    }
    if (!f) {
        if (unlikely(2 * ((uint64_t)ft->st.active + 1) > (uint64_t)ft->mask + 1 &&
                     ft->mask < ft->mask_max))
            index_grow(ft);
        f = take_slot(ft);
        memset(f, 0, sizeof *f);
        memcpy(f->addr[0], a0, 16);
        memcpy(f->addr[1], a1, 16);
        f->port[0] = p0;
        f->port[1] = p1;
        f->proto = p->l4proto;
        f->ipver = p->ipver;
        f->fl = FLOW_F_INUSE;
        f->zone = p->zone;
        f->first_s = (uint32_t)(now_us / 1000000u);
        f->hnext = tag;
        index_put(ft, tag, (uint32_t)(f - ft->pool) + 1);
        ft->st.created++;
        ft->st.active++;
        *is_new = true;
    }
    decide_client(f, p, side, *is_new);
    f->fl |= FLOW_F_REF;
    f->last_us = now_us;
    *dir = side == f->client ? 0 : 1;
    f->pkts[*dir]++;
    f->bytes[*dir] += p->payload_len;
    return f;
}

static uint64_t timeout_of(const struct flowtab *ft, const struct flow *f)
{
    if (f->proto == 17)
        return ft->cfg.udp_us;
    return tcpreasm_closing(&f->tcp) ? ft->cfg.tcp_closing_us : ft->cfg.tcp_est_us;
}

/* Slots one flowtab_expire() call looks at: at least max(1024, max_flows / 64), and enough
 * that a whole pass over [0, hwm) takes no longer than the shortest timeout of capture time. */
static uint32_t expire_slice(const struct flowtab *ft, uint64_t now_us)
{
    uint64_t lim = ft->hwm, slice = ft->cfg.max_flows / 64;
    if (slice < 1024)
        slice = 1024;
    uint64_t tmin = ft->cfg.tcp_closing_us;
    if (ft->cfg.tcp_est_us < tmin)
        tmin = ft->cfg.tcp_est_us;
    if (ft->cfg.udp_us < tmin)
        tmin = ft->cfg.udp_us;
    if (tmin == 0 || !ft->last_expire_us || now_us < ft->last_expire_us) {
        if (tmin == 0)
            slice = lim;
    } else {
        uint64_t el = now_us - ft->last_expire_us;
        uint64_t want = el >= tmin ? lim : (lim * el + tmin - 1) / tmin; /* lim < 2^27 */
        if (want > slice)
            slice = want;
    }
    return (uint32_t)(slice < lim ? slice : lim);
}

size_t flowtab_expire(struct flowtab *ft, uint64_t now_us, flowtab_cb cb, void *ctx)
{
    size_t n = 0;
    uint32_t lim = ft->hwm, slice = expire_slice(ft, now_us);
    ft->last_expire_us = now_us;
    for (uint32_t k = 0; k < slice; k++) {
        if (ft->ehand >= lim)
            ft->ehand = 0;
        struct flow *f = &ft->pool[ft->ehand++];
        if (!(f->fl & FLOW_F_INUSE) || now_us < f->last_us ||
            now_us - f->last_us < timeout_of(ft, f))
            continue;
        ft->st.expired++;
        recycle(ft, f, FLOWTAB_EXPIRED, cb, ctx);
        n++;
    }
    return n;
}

void flowtab_foreach(struct flowtab *ft, flowtab_cb cb, void *ctx)
{
    for (uint32_t i = 0; i < ft->hwm; i++)
        if (ft->pool[i].fl & FLOW_F_INUSE)
            cb(&ft->pool[i], FLOWTAB_VISIT, ctx);
}

void flowtab_flush(struct flowtab *ft, flowtab_cb cb, void *ctx)
{
    for (uint32_t i = 0; i < ft->hwm; i++) {
        struct flow *f = &ft->pool[i];
        if (!(f->fl & FLOW_F_INUSE))
            continue;
        ft->st.flushed++;
        recycle(ft, f, FLOWTAB_FLUSHED, cb, ctx);
    }
    /* every slot in [0, hwm) is zero again: start over as a new table */
    for (uint32_t i = 0; i < ft->hwm; i++)
        ft->pool[i].hnext = 0;
    ft->free_head = 0;
    ft->hwm = 0;
    ft->mask = (ft->mask_max + 1 < FLOWTAB_INDEX_MIN ? ft->mask_max + 1 : FLOWTAB_INDEX_MIN) - 1;
    ft->hand = 0;
    ft->ehand = 0;
}

const uint8_t *flowtab_client_addr(const struct flow *f)
{
    return f->addr[f->client];
}

const uint8_t *flowtab_server_addr(const struct flow *f)
{
    return f->addr[!f->client];
}

uint16_t flowtab_client_port(const struct flow *f)
{
    return f->port[f->client];
}

uint16_t flowtab_server_port(const struct flow *f)
{
    return f->port[!f->client];
}

enum flow_client_by flowtab_client_by(const struct flow *f)
{
    return (enum flow_client_by)((f->fl & FLOW_F_CSRC_MASK) >> 2);
}

void flowtab_get_stats(const struct flowtab *ft, struct flowtab_stats *out)
{
    *out = ft->st;
}
