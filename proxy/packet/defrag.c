/* defrag.c - bounded IPv4/IPv6 fragment reassembly from a pre-allocated pool.
 *
 * Fragments as decode.c reports them:
 *   IPv4: | IP header (ihl*4, MF/offset set) | fragment payload at byte offset 8*fo |
 *   IPv6: | unfragmentable part (IPv6 hdr + ext hdrs) | Fragment hdr (8) | payload at 8*fo |
 * The rebuilt datagram is | header of the offset-0 fragment | payload 0..total |, with the IPv4
 * total length / checksum fixed and MF/offset cleared, or the IPv6 fragment header removed, the
 * next-header byte that named it set to the fragment's next header, payload length fixed.
 *
 * Each slot holds one datagram: a header area (DEFRAG_HDR_MAX bytes, header right-aligned so it
 * is contiguous with the payload) then max_bytes of payload, plus a bitmap of received 8-byte
 * units used for duplicate and overlap checks. Slots are found through a chained hash and kept
 * on an age list (oldest first) for timeouts and eviction. */
#include "proxy/packet/defrag.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"
#include "common/compiler.h"

struct dslot {
    uint8_t ipver;
    uint8_t proto;   /* key part for IPv4 only */
    uint8_t nexthdr; /* IPv6: protocol of the payload (from the offset-0 fragment) */
    bool in_use;
    bool have_last;
    bool have_first;
    uint16_t hdr_len;
    uint16_t nh_off;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint32_t zone;         /* struct pkt.zone: equal inner addresses in other tunnels/VLANs */
    uint32_t total;        /* payload length, known once the last fragment arrived */
    uint32_t maxend;       /* highest end seen */
    uint32_t received;     /* payload bytes held (no duplicates by construction) */
    uint32_t hnext;        /* hash chain, index + 1 */
    uint32_t older, newer; /* age list, index + 1 */
    uint64_t first_us;
};

struct defrag {
    struct defrag_cfg cfg;
    struct defrag_stats st;
    struct dslot *slots;
    uint8_t *data; /* max_datagrams * stride */
    uint8_t *bits; /* max_datagrams * bits_stride */
    size_t stride, bits_stride;
    uint32_t *buckets;       /* index + 1 */
    uint32_t nbuckets;       /* power of two */
    uint32_t free_head;      /* released slots through hnext, index + 1 */
    uint32_t fresh;          /* slots from here on were never used: taken in order when no
                              * released one is left (the table's pages are touched only as
                              * slots are needed, not all at the start) */
    uint32_t oldest, newest; /* age list ends, index + 1 */
    uint32_t done_slot;      /* slot returned by DEFRAG_DONE, freed on the next call; idx + 1 */
    uint64_t seed;
};

void defrag_cfg_default(struct defrag_cfg *cfg)
{
    cfg->max_datagrams = 256;
    cfg->max_bytes = 65535;
    cfg->timeout_us = 30ull * 1000000;
}

static uint32_t key_hash(const struct defrag *d, uint8_t ipver, uint8_t proto, const uint8_t *src,
                         const uint8_t *dst, uint32_t id, uint32_t zone)
{
    uint64_t h = d->seed ^ ((uint64_t)ipver << 40 | (uint64_t)proto << 32 | id);
    h = (h ^ zone) * 0x100000001b3ull;
    for (int i = 0; i < 16; i++) {
        h = (h ^ src[i]) * 0x100000001b3ull;
        h = (h ^ dst[i]) * 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h & (d->nbuckets - 1);
}

struct defrag *defrag_new(const struct defrag_cfg *cfg)
{
    struct defrag_cfg c;
    if (cfg)
        c = *cfg;
    else
        defrag_cfg_default(&c);
    if (c.max_datagrams == 0 || c.max_datagrams > (1u << 20) || c.max_bytes < 8 ||
        c.max_bytes > 65535)
        return NULL;
    struct defrag *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = c;
    size_t units = ((size_t)c.max_bytes + 7) / 8;
    d->stride = DEFRAG_HDR_MAX + (size_t)c.max_bytes;
    d->bits_stride = (units + 7) / 8;
    d->nbuckets = 1;
    while (d->nbuckets < 2 * c.max_datagrams)
        d->nbuckets <<= 1;
    /* zeroed pages from the kernel (common/bigmem.h), not calloc's memset of every one */
    d->slots = bigmem_alloc(c.max_datagrams * sizeof *d->slots);
    d->data = malloc(c.max_datagrams * d->stride);
    d->bits = calloc(c.max_datagrams, d->bits_stride);
    d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
    if (!d->slots || !d->data || !d->bits || !d->buckets) {
        defrag_free(d);
        return NULL;
    }
    d->free_head = 0;
    d->fresh = 0;
    d->seed = (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ull;
    return d;
}

void defrag_free(struct defrag *d)
{
    if (!d)
        return;
    bigmem_free(d->slots, d->cfg.max_datagrams * sizeof *d->slots);
    free(d->data);
    free(d->bits);
    free(d->buckets);
    free(d);
}

static void slot_release(struct defrag *d, uint32_t idx)
{
    struct dslot *s = &d->slots[idx];
    /* unlink from the hash chain */
    uint32_t b = key_hash(d, s->ipver, s->proto, s->src, s->dst, s->id, s->zone);
    uint32_t *pp = &d->buckets[b];
    while (*pp && *pp != idx + 1)
        pp = &d->slots[*pp - 1].hnext;
    if (*pp)
        *pp = s->hnext;
    /* unlink from the age list */
    if (s->older)
        d->slots[s->older - 1].newer = s->newer;
    else
        d->oldest = s->newer;
    if (s->newer)
        d->slots[s->newer - 1].older = s->older;
    else
        d->newest = s->older;
    memset(d->bits + (size_t)idx * d->bits_stride, 0, d->bits_stride);
    memset(s, 0, sizeof *s);
    s->hnext = d->free_head;
    d->free_head = idx + 1;
    d->st.in_progress--;
}

static void release_done(struct defrag *d)
{
    if (d->done_slot) {
        slot_release(d, d->done_slot - 1);
        d->done_slot = 0;
    }
}

void defrag_expire(struct defrag *d, uint64_t now_us)
{
    release_done(d);
    while (d->oldest) {
        struct dslot *s = &d->slots[d->oldest - 1];
        if (now_us - s->first_us < d->cfg.timeout_us)
            break;
        d->st.timeouts++;
        slot_release(d, d->oldest - 1);
    }
}

static uint32_t slot_find_or_add(struct defrag *d, const struct pkt *p, uint8_t proto,
                                 uint64_t now_us)
{
    uint32_t b = key_hash(d, p->ipver, proto, p->src, p->dst, p->frag_id, p->zone);
    for (uint32_t i = d->buckets[b]; i; i = d->slots[i - 1].hnext) {
        struct dslot *s = &d->slots[i - 1];
        if (s->ipver == p->ipver && s->proto == proto && s->id == p->frag_id &&
            s->zone == p->zone && memcmp(s->src, p->src, 16) == 0 &&
            memcmp(s->dst, p->dst, 16) == 0)
            return i - 1;
    }
    if (!d->free_head && d->fresh == d->cfg.max_datagrams) {
        d->st.evicted++;
        slot_release(d, d->oldest - 1);
        b = key_hash(d, p->ipver, proto, p->src, p->dst, p->frag_id, p->zone);
    }
    uint32_t idx;
    if (d->free_head) {
        idx = d->free_head - 1;
        d->free_head = d->slots[idx].hnext;
    } else {
        idx = d->fresh++;
    }
    struct dslot *s = &d->slots[idx];
    memset(s, 0, sizeof *s);
    s->in_use = true;
    s->ipver = p->ipver;
    s->proto = proto;
    s->id = p->frag_id;
    s->zone = p->zone;
    memcpy(s->src, p->src, 16);
    memcpy(s->dst, p->dst, 16);
    s->first_us = now_us;
    s->hnext = d->buckets[b];
    d->buckets[b] = idx + 1;
    s->older = d->newest;
    if (d->newest)
        d->slots[d->newest - 1].newer = idx + 1;
    else
        d->oldest = idx + 1;
    d->newest = idx + 1;
    d->st.in_progress++;
    return idx;
}

static bool bit_get(const uint8_t *bm, size_t i)
{
    return (bm[i >> 3] >> (i & 7)) & 1;
}

static void bit_set(uint8_t *bm, size_t i)
{
    bm[i >> 3] = (uint8_t)(bm[i >> 3] | (1u << (i & 7)));
}

static uint16_t ipv4_hdr_csum(const uint8_t *h, size_t n)
{
    uint64_t acc = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)h[i] << 8 | h[i + 1];
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

static enum defrag_result drop_datagram(struct defrag *d, uint32_t idx, uint64_t *counter)
{
    (*counter)++;
    slot_release(d, idx);
    return DEFRAG_DROPPED;
}

enum defrag_result defrag_add(struct defrag *d, const struct pkt *p, uint64_t now_us,
                              const uint8_t **out, size_t *out_len)
{
    defrag_expire(d, now_us);
    d->st.fragments++;
    *out = NULL;
    *out_len = 0;
    if (unlikely(!p->frag || !p->l3)) {
        d->st.bad_len++;
        return DEFRAG_DROPPED;
    }
    uint8_t proto = p->ipver == 4 ? p->frag_nexthdr : 0;
    uint32_t off = p->frag_off;
    uint32_t end = off + (uint32_t)p->frag_data_len;
    if (p->frag_more && (end & 7)) {
        if (p->ipver == 6) { /* RFC 8200: non-last fragment not a multiple of 8 */
            d->st.bad_len++;
            return DEFRAG_DROPPED;
        }
        end &= ~7u; /* ip_frag_queue() trims it */
    }
    if (end <= off) {
        d->st.bad_len++;
        return DEFRAG_DROPPED;
    }
    uint32_t idx = slot_find_or_add(d, p, proto, now_us);
    struct dslot *s = &d->slots[idx];
    if (end > d->cfg.max_bytes)
        return drop_datagram(d, idx, &d->st.too_big);
    if (!p->frag_more) {
        if (end < s->maxend || (s->have_last && end != s->total))
            return drop_datagram(d, idx, &d->st.bad_len);
        s->have_last = true;
        s->total = end;
    } else if (s->have_last && end > s->total) {
        return drop_datagram(d, idx, &d->st.bad_len);
    }

    uint8_t *bm = d->bits + (size_t)idx * d->bits_stride;
    size_t u0 = off / 8, u1 = ((size_t)end + 7) / 8, set = 0;
    for (size_t u = u0; u < u1; u++)
        set += bit_get(bm, u);
    if (set == u1 - u0) {
        d->st.duplicates++;
        return DEFRAG_HELD;
    }
    if (set != 0)
        return drop_datagram(d, idx, &d->st.overlaps);

    uint8_t *base = d->data + (size_t)idx * d->stride;
    if (off == 0) {
        size_t hl = p->frag_hdr_off;
        if (hl > DEFRAG_HDR_MAX || hl < (p->ipver == 4 ? 20u : 40u))
            return drop_datagram(d, idx, &d->st.hdr_too_big);
        memcpy(base + DEFRAG_HDR_MAX - hl, p->l3, hl);
        s->hdr_len = (uint16_t)hl;
        s->nh_off = p->frag_nh_off;
        s->nexthdr = p->frag_nexthdr;
        s->have_first = true;
    }
    memcpy(base + DEFRAG_HDR_MAX + off, p->frag_data, end - off);
    for (size_t u = u0; u < u1; u++)
        bit_set(bm, u);
    s->received += end - off;
    if (end > s->maxend)
        s->maxend = end;
    if (!s->have_last || !s->have_first || s->received != s->total)
        return DEFRAG_HELD;

    uint8_t *h = base + DEFRAG_HDR_MAX - s->hdr_len;
    size_t dlen = (size_t)s->hdr_len + s->total;
    if (s->ipver == 4) {
        if (dlen > 65535)
            return drop_datagram(d, idx, &d->st.too_big);
        h[2] = (uint8_t)(dlen >> 8);
        h[3] = (uint8_t)dlen;
        h[6] &= 0x40; /* keep DF, clear MF and the offset */
        h[7] = 0;
        h[10] = h[11] = 0;
        uint16_t c = ipv4_hdr_csum(h, s->hdr_len);
        h[10] = (uint8_t)(c >> 8);
        h[11] = (uint8_t)c;
    } else {
        size_t plen = dlen - 40;
        if (plen > 65535 || s->nh_off >= s->hdr_len)
            return drop_datagram(d, idx, &d->st.too_big);
        h[4] = (uint8_t)(plen >> 8);
        h[5] = (uint8_t)plen;
        h[s->nh_off] = s->nexthdr;
    }
    d->st.completed++;
    d->done_slot = idx + 1;
    *out = h;
    *out_len = dlen;
    return DEFRAG_DONE;
}

void defrag_get_stats(const struct defrag *d, struct defrag_stats *out)
{
    *out = d->st;
}
