/* decode.c - link layer -> IPv4/IPv6 -> TCP/UDP, pure and bounds-checked.
 *
 * Link layers read here:
 *   Ethernet   | dst 6 | src 6 | type 2 | [ 802.1Q/802.1ad tag: TCI 2 | type 2 ] x 0..4 | payload
 *   Linux SLL  | pkttype 2 | hatype 2 | halen 2 | addr 8 | protocol 2 | payload       (16 bytes)
 *   Linux SLL2 | protocol 2 | rsvd 2 | ifindex 4 | hatype 2 | pkttype 1 | halen 1 | addr 8 | (20)
 *   NULL/LOOP  | family 4 (NULL: host order of the capturing machine; LOOP: network order) |
 *   RAW        | IPv4 or IPv6 header, told apart by the version nibble
 *   PPP (9, 50) | [0xff 0x03] | protocol 16 (8 when compressed: odd first byte) | payload
 *   PPP_ETHER (51) | PPPoE session header | PPP protocol | payload
 *
 * Encapsulations (each counts against DECODE_MAX_ENCAP; see decode.h for the zone):
 *   MPLS (0x8847/0x8848, GRE): | label 20 | tc 3 | S 1 | ttl 8 | x n until S, then by the first
 *     nibble: 4 IPv4, 6 IPv6, 0 pseudowire control word 32 (RFC 4385) + Ethernet frame
 *   PPPoE session (0x8864, RFC 2516): | ver 4 = 1 | type 4 = 1 | code 8 = 0 | session 16 |
 *     length 16 | PPP protocol 16: 0x0021 IPv4, 0x0057 IPv6
 *   GRE (IP protocol 47, RFC 2784/2890): | C | R | K | S | 0 x9 | ver 3 = 0 | protocol 16 |
 *     [checksum 16 | reserved 16] if C | [key 32] if K | [sequence 32] if S | payload by protocol:
 *     0x0800 IPv4, 0x86DD IPv6, 0x6558 Ethernet, 0x8847/0x8848 MPLS, 0x88BE ERSPAN (type I
 *     without S: Ethernet at once; type II with S), 0x22EB ERSPAN type III
 *   ERSPAN II:  | ver 4 = 1 | vlan 12 | cos 3 | en 2 | t 1 | session 10 | rsvd 12 | index 20 |
 *   ERSPAN III: | ver 4 = 2 | vlan 12 | cos 3 | bso 2 | t 1 | session 10 | timestamp 32 |
 *     sgt 16 | p 1 | ft 5 | hw 6 | d 1 | gra 2 | o 1 | [platform sub-header 64 if o] | frame
 *     (ft 0: Ethernet)
 *   VXLAN (UDP dport 4789, RFC 7348): | flags 8 (I = 0x08) | rsvd 24 | VNI 24 | rsvd 8 | Ethernet
 *   GTP-U (UDP dport 2152, TS 29.281): | ver 3 = 1 | PT 1 = 1 | * | E | S | PN | type 8 = 255 |
 *     length 16 (after the first 8) | TEID 32 | [seq 16 | N-PDU 8 | next ext 8] if E|S|PN |
 *     extensions: | len 8 (x4 bytes, all of it) | content | next ext 8 | ... | IPv4/IPv6 packet
 *   IP-in-IP: IPv4 protocol / IPv6 next header 4 (IPv4) or 41 (IPv6), then the inner packet
 *
 * IPv4 (RFC 791):
 *   | ver 4 | ihl 4 | tos 8 | total length 16 | id 16 | flags 3 | frag offset 13 |
 *   | ttl 8 | proto 8 | header checksum 16 | src 32 | dst 32 | options (ihl*4 - 20) |
 * IPv6 (RFC 8200): | ver 4 | tc 8 | flow 20 | payload len 16 | next 8 | hop limit 8 | src 128 |
 *   dst 128 | then a chain of extension headers:
 *   HBH(0), DSTOPT(60), ROUTING(43): | next 8 | len 8 (8-octet units, not counting the first) | ...
 *   FRAGMENT(44): | next 8 | rsvd 8 | offset 13 | res 2 | M 1 | identification 32 |
 *   AH(51):       | next 8 | len 8 (4-octet units minus 2) | ...
 * TCP (RFC 9293): | sport 16 | dport 16 | seq 32 | ack 32 | doff 4 | rsvd 4 | flags 8 | win 16 |
 *   | checksum 16 | urgent pointer 16 | options (doff*4 - 20) |
 * UDP (RFC 768):  | sport 16 | dport 16 | length 16 | checksum 16 |
 */
#include "proxy/packet/decode.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"
#include "common/rd.h"

#define ETH_IPV4     0x0800
#define ETH_IPV6     0x86dd
#define ETH_VLAN     0x8100
#define ETH_QINQ     0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_MPLS_UC  0x8847
#define ETH_MPLS_MC  0x8848
#define ETH_PPPOE_S  0x8864
#define ETH_TEB      0x6558 /* transparent Ethernet bridging (GRE) */
#define ETH_ERSPAN12 0x88be
#define ETH_ERSPAN3  0x22eb

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define UDP_VXLAN 4789
#define UDP_GTPU  2152

#define PROTO_HBH      0
#define PROTO_IPIP     4
#define PROTO_IPV6     41
#define PROTO_GRE      47
#define PROTO_TCP      6
#define PROTO_UDP      17
#define PROTO_ROUTING  43
#define PROTO_FRAGMENT 44
#define PROTO_ESP      50
#define PROTO_AH       51
#define PROTO_NONE     59
#define PROTO_DSTOPTS  60

/* Folds a 64-bit one's complement sum to 16 bits without a loop: each step keeps the value
 * modulo 2^16 - 1 and keeps it nonzero if it was (so 0 stays apart from 0xffff, as when folding
 * until nothing is left above bit 15). 2^33 > 64->32, 2^18 > 32->16, then 0xffff + 3, then 0xffff. */
static inline uint16_t csum_fold(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* Big-endian fields at b (the caller checked the length), assembled byte by byte. */
static inline uint16_t ld16(const uint8_t *b)
{
    return (uint16_t)((uint16_t)b[0] << 8 | b[1]);
}

static inline uint32_t ld32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Adds nw 32-bit words of b read in host order to acc (see sum_host(): the same sum, folded
 * later): the pseudo-header's pieces, the IPv4 header (its length a multiple of 4). */
static uint64_t sum_words32(uint64_t acc, const uint8_t *b, size_t nw)
{
    for (size_t i = 0; i < nw; i++) {
        uint32_t w;
        memcpy(&w, b + 4 * i, 4);
        acc += w;
    }
    return acc;
}

/* The same sum, not folded, of 16-bit words read in host order (memcpy loads) added to acc: the
 * one's complement sum commutes with byte swapping (RFC 1071 2.B), so pieces summed this way may
 * be added together and the folded total swapped to network order once (a total of 0xffff is
 * the same in either order). Every piece but the last must have an even length. acc < 2^48. */
static uint64_t sum_host(uint64_t acc, const uint8_t *b, size_t n)
{
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(QG_CSUM_PORTABLE) /* (the C loop: tests) */
    /* x86-64: one add-with-carry per 8 bytes, read from memory, the carry chained through the
     * 64-byte turns and the 32-, 16- and 8-byte pieces after them (lea and dec leave it alone)
     * and taken once at the end: half the instructions of the portable code below, at the same
     * pace (one carry chain either way). */
    if (n >= 8) {
        uint64_t s = 0, c = 0;
        size_t turns = n / 64, t32 = n >> 5 & 1, t16 = n >> 4 & 1, t8 = n >> 3 & 1;
        const uint8_t *q = b;
        __asm__("xorl %k[c], %k[c]\n\t" /* c = 0, the carry clear */
                "testq %[t], %[t]\n\t"
                "jz 2f\n"
                "1:\n\t"
                "adcq (%[q]), %[s]\n\t"
                "adcq 8(%[q]), %[s]\n\t"
                "adcq 16(%[q]), %[s]\n\t"
                "adcq 24(%[q]), %[s]\n\t"
                "adcq 32(%[q]), %[s]\n\t"
                "adcq 40(%[q]), %[s]\n\t"
                "adcq 48(%[q]), %[s]\n\t"
                "adcq 56(%[q]), %[s]\n\t"
                "leaq 64(%[q]), %[q]\n\t"
                "decq %[t]\n\t"
                "jnz 1b\n"
                "2:\n\t"
                "decq %[t32]\n\t" /* 1 -> 0: this piece is there */
                "jnz 3f\n\t"
                "adcq (%[q]), %[s]\n\t"
                "adcq 8(%[q]), %[s]\n\t"
                "adcq 16(%[q]), %[s]\n\t"
                "adcq 24(%[q]), %[s]\n\t"
                "leaq 32(%[q]), %[q]\n"
                "3:\n\t"
                "decq %[t16]\n\t"
                "jnz 4f\n\t"
                "adcq (%[q]), %[s]\n\t"
                "adcq 8(%[q]), %[s]\n\t"
                "leaq 16(%[q]), %[q]\n"
                "4:\n\t"
                "decq %[t8]\n\t"
                "jnz 5f\n\t"
                "adcq (%[q]), %[s]\n"
                "5:\n\t"
                "adcq $0, %[c]"
                : [s] "+r"(s), [q] "+r"(q), [t] "+r"(turns), [t32] "+r"(t32), [t16] "+r"(t16),
                  [t8] "+r"(t8), [c] "=&r"(c)
                :
                : "cc", "memory");
        acc += (s & 0xffffffffu) + (s >> 32) + c;
        i = n & ~(size_t)7;
    }
#else
    /* Two 64-bit sums with their carries counted apart (2^64 = 1 modulo 2^16 - 1, like 2^32
     * and 2^16): an add and an add-with-carry per 8 bytes, two chains in flight. */
    uint64_t s0 = 0, s1 = 0, c = 0;
    for (; i + 64 <= n; i += 64) { /* a full segment: 64 bytes per turn of the loop */
        uint64_t w0, w1, w2, w3, w4, w5, w6, w7;
        memcpy(&w0, b + i, 8);
        memcpy(&w1, b + i + 8, 8);
        memcpy(&w2, b + i + 16, 8);
        memcpy(&w3, b + i + 24, 8);
        memcpy(&w4, b + i + 32, 8);
        memcpy(&w5, b + i + 40, 8);
        memcpy(&w6, b + i + 48, 8);
        memcpy(&w7, b + i + 56, 8);
        s0 += w0;
        c += s0 < w0;
        s1 += w1;
        c += s1 < w1;
        s0 += w2;
        c += s0 < w2;
        s1 += w3;
        c += s1 < w3;
        s0 += w4;
        c += s0 < w4;
        s1 += w5;
        c += s1 < w5;
        s0 += w6;
        c += s0 < w6;
        s1 += w7;
        c += s1 < w7;
    }
    if (i + 32 <= n) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, b + i, 8);
        memcpy(&w1, b + i + 8, 8);
        memcpy(&w2, b + i + 16, 8);
        memcpy(&w3, b + i + 24, 8);
        s0 += w0;
        c += s0 < w0;
        s1 += w1;
        c += s1 < w1;
        s0 += w2;
        c += s0 < w2;
        s1 += w3;
        c += s1 < w3;
        i += 32;
    }
    if (i + 16 <= n) {
        uint64_t w0, w1;
        memcpy(&w0, b + i, 8);
        memcpy(&w1, b + i + 8, 8);
        s0 += w0;
        c += s0 < w0;
        s1 += w1;
        c += s1 < w1;
        i += 16;
    }
    acc += (s0 & 0xffffffffu) + (s0 >> 32) + (s1 & 0xffffffffu) + (s1 >> 32) + c;
    if (i + 8 <= n) { /* fewer than 16 bytes are left */
        uint64_t w;
        memcpy(&w, b + i, 8);
        acc += (w & 0xffffffffu) + (w >> 32);
        i += 8;
    }
#endif
    if (i + 4 <= n) {
        uint32_t w;
        memcpy(&w, b + i, 4);
        acc += w;
        i += 4;
    }
    if (i + 2 <= n) {
        uint16_t w;
        memcpy(&w, b + i, 2);
        acc += w;
        i += 2;
    }
    if (i < n) {
        uint8_t last[2] = { b[i], 0 };
        uint16_t w;
        memcpy(&w, last, 2);
        acc += w;
    }
    return acc;
}

/* The pseudo-header of p's TCP/UDP checksum for n segment bytes, summed in host order
 * (sum_host()), not folded. */
static inline __attribute__((always_inline)) uint64_t pseudo_sum(const struct pkt *p, size_t n)
{
    if (p->ipver == 4) { /* | src 4 | dst 4 | 0 | protocol | length 16 | */
        const uint8_t ph[4] = { 0, p->l4proto, (uint8_t)(n >> 8), (uint8_t)n };
        uint32_t s, d, w;
        memcpy(&s, p->src, 4);
        memcpy(&d, p->dst, 4);
        memcpy(&w, ph, 4);
        return (uint64_t)s + d + w;
    }
    /* | src 16 | dst 16 | length 32 | 0 0 0 | next header | */
    const uint8_t ph[8] = {
        (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, p->l4proto
    };
    return sum_words32(sum_words32(sum_words32(0, p->src, 4), p->dst, 4), ph, 2);
}

/* Verifies the TCP/UDP checksum of seg (checksum field included) with the pseudo-header, all
 * summed in host order (sum_host()): the total is 0xffff in either order. */
static bool l4_csum_verify(const struct pkt *p, const uint8_t *seg, size_t n)
{
    return csum_fold(sum_host(pseudo_sum(p, n), seg, n)) == 0xffff;
}

bool decode_l4_csum_ok(const struct pkt *p)
{
    if (p->l4_csum_ok)
        return true;
    if (!p->l4 || p->frag)
        return false;
    if (p->l4proto == PROTO_UDP) {
        if (p->l4_len < 8)
            return false;
        if (p->l4[6] == 0 && p->l4[7] == 0)
            return p->ipver == 4; /* IPv4: not computed; IPv6 requires it (RFC 8200 8.1) */
    } else if (p->l4proto != PROTO_TCP || p->l4_len < 20) {
        return false;
    }
    return l4_csum_verify(p, p->l4, p->l4_len);
}

bool decode_l4_csum_unfinished(const struct pkt *p)
{
    size_t at;
    if (!p->l4 || p->frag)
        return false;
    if (p->l4proto == PROTO_TCP && p->l4_len >= 20)
        at = 16;
    else if (p->l4proto == PROTO_UDP && p->l4_len >= 8)
        at = 6;
    else
        return false;
    uint16_t field; /* in host order, as the pseudo-header is summed: equal in either order */
    memcpy(&field, p->l4 + at, 2);
    if (field == 0)
        return true;
    return field == csum_fold(pseudo_sum(p, p->l4_len));
}

/* TCP options: malformed TLV structure is an error; a known kind with the wrong length is
 * ignored, as Linux's tcp_parse_options() does. */
static enum decode_result tcp_options(struct rd *r, struct pkt *p)
{
    while (rd_left(r) > 0) {
        uint8_t kind = rd_u8(r);
        if (kind == 0)
            break;
        if (kind == 1)
            continue;
        if (rd_left(r) < 1)
            return DECODE_BAD_TCP_OPTIONS;
        uint8_t olen = rd_u8(r);
        if (olen < 2 || (size_t)olen - 2 > rd_left(r))
            return DECODE_BAD_TCP_OPTIONS;
        struct rd o = rd_sub(r, (size_t)olen - 2);
        switch (kind) {
        case 2:
            if (olen == 4) {
                p->has_mss = true;
                p->mss = rd_be16(&o);
            }
            break;
        case 3:
            if (olen == 3) {
                uint8_t ws = rd_u8(&o);
                p->has_wscale = true;
                p->wscale = ws > 14 ? 14 : ws; /* Linux clamps to 14 */
            }
            break;
        case 4:
            if (olen == 2)
                p->has_sackperm = true;
            break;
        case 8:
            if (olen == 10) {
                p->has_ts = true;
                p->tsval = rd_be32(&o);
                p->tsecr = rd_be32(&o);
            }
            break;
        case 19:
            if (olen == 18)
                p->has_md5 = true;
            break;
        case 34:
            p->has_fastopen = true;
            p->fastopen_cookie_len = (uint8_t)(olen - 2);
            break;
        case 254: /* experimental TFO: magic 0xf989 then the cookie */
            if (olen >= 4 && rd_be16(&o) == 0xf989) {
                p->has_fastopen = true;
                p->fastopen_cookie_len = (uint8_t)(olen - 4);
            }
            break;
        default: break;
        }
    }
    return DECODE_OK;
}

/* The options of most segments once a connection is set up (the 12 bytes at o): NOP NOP
 * timestamps (Linux), or timestamps then two bytes that are each NOP or EOL. Reads them as
 * tcp_options() would and returns true; false (nothing set) for any other layout. */
static inline bool ts_only(const uint8_t *o, struct pkt *p)
{
    uint32_t lead = ld32(o);
    uint32_t a, b;
    if (likely(lead == 0x0101080au)) {
        a = ld32(o + 4);
        b = ld32(o + 8);
    } else if (lead >> 16 == 0x080au) {
        uint32_t mid = ld32(o + 4);
        uint32_t last = ld32(o + 8);
        uint8_t x = (uint8_t)(last >> 8), y = (uint8_t)last;
        if (x > 1 || (x == 1 && y > 1))
            return false; /* after EOL nothing is read: any y */
        a = (lead & 0xffffu) << 16 | mid >> 16;
        b = (mid & 0xffffu) << 16 | last >> 16;
    } else {
        return false;
    }
    p->has_ts = true;
    p->tsval = a;
    p->tsecr = b;
    return true;
}

static inline enum decode_result decode_tcp(const uint8_t *seg, size_t n, struct pkt *p)
{
    if (unlikely(n < 20))
        return DECODE_TRUNC_TCP;
    p->sport = ld16(seg);
    p->dport = ld16(seg + 2);
    p->seq = ld32(seg + 4);
    p->ack = ld32(seg + 8);
    uint8_t doff = seg[12];
    p->tcp_flags = seg[13];
    p->win = ld16(seg + 14);
    p->urg_ptr = ld16(seg + 18);
    size_t hlen = (size_t)(doff >> 4) * 4;
    if (unlikely(hlen < 20 || hlen > n))
        return DECODE_BAD_TCP_HDRLEN;
    if (hlen > 20 && !(hlen == 32 && ts_only(seg + 20, p))) {
        struct rd o;
        rd_init(&o, seg + 20, hlen - 20);
        enum decode_result res = tcp_options(&o, p);
        if (res != DECODE_OK)
            return res;
    }
    p->payload = seg + hlen;
    p->payload_len = n - hlen;
    p->l4 = seg;
    p->l4_len = n;
    return DECODE_OK;
}

static inline enum decode_result decode_udp(const uint8_t *seg, size_t n, struct pkt *p)
{
    if (unlikely(n < 8))
        return DECODE_TRUNC_UDP;
    p->sport = ld16(seg);
    p->dport = ld16(seg + 2);
    size_t ulen = ld16(seg + 4);
    if (unlikely(ulen < 8 || ulen > n))
        return DECODE_BAD_UDP_LEN;
    p->payload = seg + 8;
    p->payload_len = ulen - 8;
    p->l4 = seg;
    p->l4_len = ulen;
    return DECODE_OK;
}

/* ---- encapsulations ---- */

static enum decode_result decode_l3(const uint8_t *buf, size_t len, struct pkt *p, int want);
static enum decode_result ether_frame(const uint8_t *buf, size_t len, struct pkt *p);

/* Folds a layer's identifier into the zone; a lone first id is the zone itself. */
static uint32_t zone_add(uint32_t z, uint32_t id)
{
    return z * 0x9e3779b1u ^ id;
}

/* Counts one more layer of kind k; false when that passes DECODE_MAX_ENCAP. */
static bool encap_push(struct pkt *p, enum decode_encap k)
{
    if (p->encap >= DECODE_MAX_ENCAP)
        return false;
    p->encap++;
    p->encap_kind = (uint8_t)k;
    return true;
}

/* PPP protocol field (RFC 1661; compressed to one byte when odd) then IPv4/IPv6. */
static enum decode_result decode_ppp(const uint8_t *b, size_t n, struct pkt *p)
{
    size_t off = 2;
    uint16_t proto;
    if (n < 1)
        return DECODE_TRUNC_ENCAP;
    if (b[0] & 1) {
        proto = b[0];
        off = 1;
    } else {
        if (n < 2)
            return DECODE_TRUNC_ENCAP;
        proto = (uint16_t)(b[0] << 8 | b[1]);
    }
    if (proto == PPP_IPV4)
        return decode_l3(b + off, n - off, p, 4);
    if (proto == PPP_IPV6)
        return decode_l3(b + off, n - off, p, 6);
    return DECODE_NOT_IP; /* LCP, IPCP, CHAP, ...: control traffic */
}

static enum decode_result decode_pppoe(const uint8_t *b, size_t n, struct pkt *p)
{
    struct rd r;
    rd_init(&r, b, n);
    uint8_t vt = rd_u8(&r);
    uint8_t code = rd_u8(&r);
    uint16_t sid = rd_be16(&r);
    size_t plen = rd_be16(&r);
    if (r.err)
        return DECODE_TRUNC_ENCAP;
    if (vt != 0x11 || code != 0)
        return DECODE_BAD_ENCAP;
    if (plen > rd_left(&r))
        return DECODE_TRUNC_ENCAP;
    if (!encap_push(p, DECODE_ENCAP_PPPOE))
        return DECODE_ENCAP_DEPTH;
    p->zone = zone_add(p->zone, sid);
    return decode_ppp(b + 6, plen, p);
}

/* Label stack, then the payload by its first nibble (there is no protocol field). */
static enum decode_result decode_mpls(const uint8_t *b, size_t n, struct pkt *p)
{
    size_t off = 0;
    for (;;) {
        if (n - off < 4)
            return DECODE_TRUNC_ENCAP;
        if (!encap_push(p, DECODE_ENCAP_MPLS))
            return DECODE_ENCAP_DEPTH;
        bool bos = (b[off + 2] & 1) != 0;
        off += 4;
        if (bos)
            break;
    }
    if (off >= n)
        return DECODE_TRUNC_ENCAP;
    switch (b[off] >> 4) {
    case 4: return decode_l3(b + off, n - off, p, 4);
    case 6: return decode_l3(b + off, n - off, p, 6);
    case 0: /* Ethernet pseudowire: control word, then the customer's frame */
        if (n - off < 4)
            return DECODE_TRUNC_ENCAP;
        return ether_frame(b + off + 4, n - off - 4, p);
    default: return DECODE_NOT_IP;
    }
}

/* ERSPAN type II (ver 1) or III (ver 2) header, then the mirrored frame. */
static enum decode_result decode_erspan(const uint8_t *b, size_t n, struct pkt *p, unsigned ver)
{
    struct rd r;
    rd_init(&r, b, n);
    uint16_t w0 = rd_be16(&r);
    uint16_t w1 = rd_be16(&r);
    rd_skip(&r, 4); /* II: reserved + index; III: timestamp */
    bool eth = true;
    if (ver == 3) {
        rd_skip(&r, 2); /* security group tag */
        uint16_t w = rd_be16(&r);
        eth = ((w >> 10) & 0x1f) == 0;
        if (w & 1)
            rd_skip(&r, 8); /* platform-specific sub-header */
    }
    if (r.err)
        return DECODE_TRUNC_ENCAP;
    if ((unsigned)(w0 >> 12) != ver - 1)
        return DECODE_BAD_ENCAP;
    if (!encap_push(p, DECODE_ENCAP_ERSPAN))
        return DECODE_ENCAP_DEPTH;
    p->tunnel_id = w1 & 0x3ffu;
    p->zone = zone_add(p->zone, p->tunnel_id);
    if (!eth)
        return DECODE_NOT_IP;
    return ether_frame(r.p + r.off, rd_left(&r), p);
}

static enum decode_result decode_gre(const uint8_t *b, size_t n, struct pkt *p)
{
    struct rd r;
    rd_init(&r, b, n);
    uint16_t fl = rd_be16(&r);
    uint16_t type = rd_be16(&r);
    if (r.err)
        return DECODE_TRUNC_ENCAP;
    /* version 0 only (1 is PPTP's enhanced GRE); no RFC 1701 routing */
    if ((fl & 0x0007) != 0 || (fl & 0x4000) != 0)
        return DECODE_BAD_ENCAP;
    if (fl & 0x8000)
        rd_skip(&r, 4);
    bool has_key = (fl & 0x2000) != 0;
    uint32_t key = has_key ? rd_be32(&r) : 0;
    bool has_seq = (fl & 0x1000) != 0;
    if (has_seq)
        rd_skip(&r, 4);
    if (r.err)
        return DECODE_TRUNC_ENCAP;
    if (!encap_push(p, DECODE_ENCAP_GRE))
        return DECODE_ENCAP_DEPTH;
    if (has_key) {
        p->tunnel_id = key;
        p->zone = zone_add(p->zone, key);
    }
    const uint8_t *q = r.p + r.off;
    size_t left = rd_left(&r);
    switch (type) {
    case ETH_IPV4: return decode_l3(q, left, p, 4);
    case ETH_IPV6: return decode_l3(q, left, p, 6);
    case ETH_TEB: return ether_frame(q, left, p);
    case ETH_MPLS_UC:
    case ETH_MPLS_MC: return decode_mpls(q, left, p);
    case ETH_ERSPAN12: return has_seq ? decode_erspan(q, left, p, 2) : ether_frame(q, left, p);
    case ETH_ERSPAN3: return decode_erspan(q, left, p, 3);
    default: return DECODE_NOT_IP;
    }
}

/* IP protocol 4 / 41 / 47 inside an IPv4 or IPv6 packet. */
static enum decode_result ip_tunnel(uint8_t proto, const uint8_t *b, size_t n, struct pkt *p)
{
    if (proto == PROTO_GRE)
        return decode_gre(b, n, p);
    if (!encap_push(p, DECODE_ENCAP_IPIP))
        return DECODE_ENCAP_DEPTH;
    return decode_l3(b, n, p, proto == PROTO_IPIP ? 4 : 6);
}

static enum decode_result decode_vxlan(const uint8_t *b, size_t n, struct pkt *p)
{
    if (n < 8)
        return DECODE_TRUNC_ENCAP;
    if (!(b[0] & 0x08))
        return DECODE_BAD_ENCAP; /* I flag clear: no valid VNI */
    if (!encap_push(p, DECODE_ENCAP_VXLAN))
        return DECODE_ENCAP_DEPTH;
    p->tunnel_id = (uint32_t)b[4] << 16 | (uint32_t)b[5] << 8 | b[6];
    p->zone = zone_add(p->zone, p->tunnel_id);
    return ether_frame(b + 8, n - 8, p);
}

/* GTP-U. A datagram to port 2152 whose first byte is not GTPv1 (PT set) stays a plain UDP
 * packet; one shorter than the mandatory 8 bytes is a truncated header. */
static enum decode_result decode_gtpu(const uint8_t *b, size_t n, struct pkt *p)
{
    struct rd r;
    rd_init(&r, b, n);
    uint8_t fl = rd_u8(&r);
    uint8_t type = rd_u8(&r);
    size_t glen = rd_be16(&r);
    uint32_t teid = rd_be32(&r);
    if (r.err)
        return DECODE_TRUNC_ENCAP;
    if ((fl >> 5) != 1 || !(fl & 0x10))
        return DECODE_OK;
    if (type != 255)
        return DECODE_NOT_IP; /* echo, error indication, end marker: signalling */
    if (glen > rd_left(&r))
        return DECODE_TRUNC_ENCAP;
    rd_init(&r, b + 8, glen);
    if (fl & 0x07) {
        rd_skip(&r, 3); /* sequence number, N-PDU number */
        uint8_t next = rd_u8(&r);
        unsigned n_ext = 0;
        while (next != 0 && !r.err) {
            if (++n_ext > DECODE_MAX_GTP_EXT)
                return DECODE_BAD_ENCAP;
            size_t el = (size_t)rd_u8(&r) * 4;
            if (r.err)
                break;
            if (el == 0)
                return DECODE_BAD_ENCAP;
            rd_skip(&r, el - 2); /* content (e.g. 0x85 PDU session container) */
            next = rd_u8(&r);
        }
        if (r.err)
            return DECODE_TRUNC_ENCAP;
    }
    if (!encap_push(p, DECODE_ENCAP_GTPU))
        return DECODE_ENCAP_DEPTH;
    p->tunnel_id = teid;
    return decode_l3(r.p + r.off, rd_left(&r), p, 0);
}

static enum decode_result decode_l4(const uint8_t *seg, size_t n, struct pkt *p)
{
    if (likely(p->l4proto == PROTO_TCP))
        return decode_tcp(seg, n, p);
    if (p->l4proto == PROTO_UDP) {
        enum decode_result res = decode_udp(seg, n, p);
        if (res != DECODE_OK)
            return res;
        if (p->dport == UDP_VXLAN)
            return decode_vxlan(p->payload, p->payload_len, p);
        if (p->dport == UDP_GTPU)
            return decode_gtpu(p->payload, p->payload_len, p);
        return DECODE_OK;
    }
    if (p->l4proto == PROTO_IPIP || p->l4proto == PROTO_IPV6 || p->l4proto == PROTO_GRE)
        return ip_tunnel(p->l4proto, seg, n, p);
    return DECODE_NOT_TCP_UDP;
}

/* IPv4 options: TLV structure must be sound, as ip_options_compile() requires. */
static bool ipv4_options_ok(const uint8_t *o, size_t n)
{
    struct rd r;
    rd_init(&r, o, n);
    while (rd_left(&r) > 0) {
        uint8_t t = rd_u8(&r);
        if (t == 0)
            break;
        if (t == 1)
            continue;
        if (rd_left(&r) < 1)
            return false;
        uint8_t l = rd_u8(&r);
        if (l < 2 || (size_t)l - 2 > rd_left(&r))
            return false;
        rd_skip(&r, (size_t)l - 2);
    }
    return true;
}

/* The IPv4 header's checksum is right (ihl: its length, a multiple of 4, >= 20): the sum of
 * its 32-bit words read in host order folds to 0xffff in either order (sum_host()). */
static inline bool ipv4_csum_ok(const uint8_t *h, size_t ihl)
{
    uint32_t w[5];
    memcpy(w, h, 20);
    uint64_t acc = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
    if (unlikely(ihl > 20))
        acc = sum_words32(acc, h + 20, (ihl - 20) / 4);
    return csum_fold(acc) == 0xffff;
}

static enum decode_result decode_ipv4(const uint8_t *buf, size_t len, struct pkt *p)
{
    if (unlikely(len < 20))
        return DECODE_TRUNC_IP;
    size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
    size_t tot = ld16(buf + 2);
    uint16_t fo = ld16(buf + 6);
    p->ttl = buf[8];
    p->l4proto = buf[9];
    memcpy(p->src, buf + 12, 4);
    memcpy(p->dst, buf + 16, 4);
    if (unlikely(ihl < 20))
        return DECODE_BAD_IP_HDRLEN;
    if (unlikely(ihl > len))
        return DECODE_TRUNC_IP;
    if (unlikely(tot < ihl || tot > len))
        return DECODE_BAD_IP_LEN;
    if (unlikely(!ipv4_csum_ok(buf, ihl)))
        return DECODE_BAD_IP_CSUM;
    if (unlikely(ihl > 20) && !ipv4_options_ok(buf + 20, ihl - 20))
        return DECODE_BAD_IP_HDRLEN;
    p->l3 = buf;
    p->l3_len = tot;
    if (unlikely(fo & 0x3fff)) { /* a fragment offset or more fragments */
        p->frag = true;
        p->frag_id = ld16(buf + 4);
        p->frag_off = (uint32_t)(fo & 0x1fff) * 8;
        p->frag_more = (fo & 0x2000) != 0;
        p->frag_data = buf + ihl;
        p->frag_data_len = tot - ihl;
        p->frag_nexthdr = p->l4proto;
        p->frag_hdr_off = (uint16_t)ihl;
        p->frag_nh_off = 9;
        return DECODE_FRAGMENT;
    }
    return decode_l4(buf + ihl, tot - ihl, p);
}

/* Options of a HBH or destination options header, as ip6_parse_tlv() judges them: more than 7
 * bytes of consecutive padding, or an unknown option whose action bits say "discard", make
 * Linux drop the packet. */
static bool ipv6_tlv_ok(const uint8_t *o, size_t n, bool hbh)
{
    struct rd r;
    size_t pad = 0;
    rd_init(&r, o, n);
    while (rd_left(&r) > 0) {
        uint8_t t = rd_u8(&r);
        if (t == 0) {
            if (++pad > 7)
                return false;
            continue;
        }
        if (rd_left(&r) < 1)
            return false;
        size_t l = rd_u8(&r);
        if (l > rd_left(&r))
            return false;
        rd_skip(&r, l);
        if (t == 1) {
            pad += l + 2;
            if (pad > 7)
                return false;
            continue;
        }
        pad = 0;
        bool known = hbh ? (t == 0x05 || t == 0xc2 || t == 0x07 || t == 0x31 || t == 0x26)
                         : (t == 0xc9 || t == 0x31);
        if (!known && (t >> 6) != 0)
            return false;
    }
    return true;
}

static enum decode_result decode_ipv6(const uint8_t *buf, size_t len, struct pkt *p)
{
    struct rd r;
    rd_init(&r, buf, len);
    if (len < 40)
        return DECODE_TRUNC_IP;
    rd_skip(&r, 4);
    size_t plen = rd_be16(&r);
    uint8_t nh = rd_u8(&r);
    p->ttl = rd_u8(&r);
    memcpy(p->src, buf + 8, 16);
    memcpy(p->dst, buf + 24, 16);
    if (40 + plen > len)
        return DECODE_BAD_IP_LEN;
    p->l3 = buf;
    p->l3_len = 40 + plen;

    size_t off = 40;
    size_t nh_off = 6;
    unsigned n_ext = 0;
    for (;;) {
        p->l4proto = nh;
        switch (nh) {
        case PROTO_TCP:
        case PROTO_UDP:
        case PROTO_IPIP:
        case PROTO_IPV6:
        case PROTO_GRE: return decode_l4(buf + off, p->l3_len - off, p);
        case PROTO_HBH:
        case PROTO_ROUTING:
        case PROTO_DSTOPTS:
        case PROTO_AH:
        case PROTO_FRAGMENT: break;
        default: /* ESP, no-next-header, ICMPv6, ... */ return DECODE_NOT_TCP_UDP;
        }
        if (++n_ext > DECODE_MAX_IPV6_EXT)
            return DECODE_IPV6_EXT_DEPTH;
        struct rd e;
        rd_init(&e, buf + off, p->l3_len - off);
        uint8_t next = rd_u8(&e);
        uint8_t el = rd_u8(&e);
        if (e.err)
            return DECODE_BAD_IPV6_EXT;
        size_t hlen = nh == PROTO_FRAGMENT ? 8
                      : nh == PROTO_AH     ? ((size_t)el + 2) * 4
                                           : ((size_t)el + 1) * 8;
        if (hlen > p->l3_len - off)
            return DECODE_BAD_IPV6_EXT;
        const uint8_t *h = buf + off;
        if (nh == PROTO_HBH) {
            if (n_ext == 1)
                p->ipv6_hbh = true;
            else
                p->ipv6_bad_ext = true; /* ipv6_rcv: HBH only right after the header */
            if (!ipv6_tlv_ok(h + 2, hlen - 2, true))
                p->ipv6_bad_ext = true;
        } else if (nh == PROTO_DSTOPTS) {
            if (!ipv6_tlv_ok(h + 2, hlen - 2, false))
                p->ipv6_bad_ext = true;
        } else if (nh == PROTO_ROUTING) {
            if (hlen < 8)
                return DECODE_BAD_IPV6_EXT;
            if (h[3] != 0) /* segments left: not the final destination, or RH0 */
                p->ipv6_bad_ext = true;
        } else if (nh == PROTO_FRAGMENT) {
            uint16_t fo = (uint16_t)(h[2] << 8 | h[3]);
            uint32_t id = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
            uint32_t foff = (uint32_t)(fo & 0xfff8);
            bool m = (fo & 1) != 0;
            if (foff != 0 || m) {
                p->frag = true;
                p->frag_id = id;
                p->frag_off = foff;
                p->frag_more = m;
                p->frag_data = h + 8;
                p->frag_data_len = p->l3_len - off - 8;
                p->frag_nexthdr = next;
                p->frag_hdr_off = (uint16_t)off;
                p->frag_nh_off = (uint16_t)nh_off;
                p->l4proto = next;
                return DECODE_FRAGMENT;
            }
            /* atomic fragment (RFC 6946): processed as a whole datagram */
        }
        nh_off = off;
        off += hlen;
        nh = next;
    }
}

/* IP and below. want: the version the layer in front announced (4 or 6), 0 = by the nibble. */
static enum decode_result decode_l3(const uint8_t *buf, size_t len, struct pkt *p, int want)
{
    if (len < 1)
        return DECODE_TRUNC_IP;
    p->ipver = (uint8_t)(buf[0] >> 4);
    if (want && p->ipver != want)
        return DECODE_BAD_IP_VERSION;
    if (p->ipver == 4)
        return decode_ipv4(buf, len, p);
    if (p->ipver == 6)
        return decode_ipv6(buf, len, p);
    return DECODE_BAD_IP_VERSION;
}

enum decode_result decode_ip(const uint8_t *buf, size_t len, struct pkt *p)
{
    struct pkt keep = *p;
    memset(p, 0, sizeof *p);
    p->n_vlan = keep.n_vlan;
    memcpy(p->vlan, keep.vlan, sizeof p->vlan);
    p->encap = keep.encap;
    p->encap_kind = keep.encap_kind;
    p->zone = keep.zone;
    p->tunnel_id = keep.tunnel_id;
    enum decode_result res = decode_l3(buf, len, p, 0);
    /* reassembled datagrams are rare: verify at once, which also checks the rebuild */
    if (res == DECODE_OK)
        p->l4_csum_ok = decode_l4_csum_ok(p);
    return res;
}

/* Follows VLAN tags from the ethertype `type` (r just past it), then decodes what it names. */
static enum decode_result ether_payload(struct rd *r, uint16_t type, struct pkt *p)
{
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
        if (p->n_vlan >= DECODE_MAX_VLAN)
            return DECODE_VLAN_DEPTH;
        uint16_t tci = rd_be16(r);
        type = rd_be16(r);
        if (r->err)
            return DECODE_TRUNC_LINK;
        p->vlan[p->n_vlan++] = tci & 0x0fff;
        p->zone = zone_add(p->zone, tci & 0x0fffu);
    }
    const uint8_t *q = r->p + r->off;
    size_t left = rd_left(r);
    switch (type) {
    case ETH_IPV4: return decode_l3(q, left, p, 4);
    case ETH_IPV6: return decode_l3(q, left, p, 6);
    case ETH_MPLS_UC:
    case ETH_MPLS_MC: return decode_mpls(q, left, p);
    case ETH_PPPOE_S: return decode_pppoe(q, left, p);
    default: return DECODE_NOT_IP;
    }
}

/* An Ethernet frame inside a tunnel (the layer that carried it was counted). */
static enum decode_result ether_frame(const uint8_t *buf, size_t len, struct pkt *p)
{
    struct rd r;
    rd_init(&r, buf, len);
    rd_skip(&r, 12);
    uint16_t type = rd_be16(&r);
    if (r.err)
        return DECODE_TRUNC_ENCAP;
    return ether_payload(&r, type, p);
}

/* DLT_PPP / DLT_PPP_SERIAL: optional HDLC address and control bytes, then PPP. */
static enum decode_result decode_ppp_link(const uint8_t *buf, size_t len, struct pkt *p)
{
    if (len < 2)
        return DECODE_TRUNC_LINK;
    if (len >= 2 && buf[0] == 0xff && buf[1] == 0x03) {
        buf += 2;
        len -= 2;
    }
    enum decode_result res = decode_ppp(buf, len, p);
    return res == DECODE_TRUNC_ENCAP ? DECODE_TRUNC_LINK : res;
}

/* memset(p, 0, sizeof *p) in pieces of at most 64 bytes, which compilers write as a few vector
 * stores; one memset of the whole struct becomes `rep stos`, whose start-up costs more than
 * the stores. */
_Static_assert(sizeof(struct pkt) > 128 && sizeof(struct pkt) <= 192, "pkt_zero: three pieces");
static inline void pkt_zero(struct pkt *p)
{
    unsigned char *b = (unsigned char *)p;
    memset(b, 0, 64);
    memset(b + 64, 0, 64);
    memset(b + 128, 0, sizeof *p - 128);
}

enum decode_result decode_packet(int link, const uint8_t *buf, size_t len, struct pkt *p)
{
    struct rd r;
    pkt_zero(p);
    rd_init(&r, buf, len);
    if (likely(link == DECODE_LINK_ETHERNET)) {
        if (unlikely(len < 14))
            return DECODE_TRUNC_LINK;
        uint16_t type = ld16(buf + 12);
        if (likely(type == ETH_IPV4 && len > 14 && buf[14] >> 4 == 4)) {
            /* the usual frame, straight to its IPv4 header (ether_payload() and decode_l3()
             * would end there too) */
            p->ipver = 4;
            return decode_ipv4(buf + 14, len - 14, p);
        }
        rd_skip(&r, 14);
        return ether_payload(&r, type, p);
    }
    switch (link) {
    case DECODE_LINK_LINUX_SLL: {
        rd_skip(&r, 14);
        uint16_t type = rd_be16(&r);
        if (r.err)
            return DECODE_TRUNC_LINK;
        return ether_payload(&r, type, p);
    }
    case DECODE_LINK_LINUX_SLL2: {
        uint16_t type = rd_be16(&r);
        rd_skip(&r, 18);
        if (r.err)
            return DECODE_TRUNC_LINK;
        return ether_payload(&r, type, p);
    }
    case DECODE_LINK_NULL:
    case DECODE_LINK_LOOP: {
        if (len < 4)
            return DECODE_TRUNC_LINK;
        uint32_t be =
            (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
        uint32_t le =
            (uint32_t)buf[3] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[1] << 8 | buf[0];
        uint32_t fam = link == DECODE_LINK_LOOP ? be : (be < 256 ? be : le);
        if (fam == 2)
            return decode_l3(buf + 4, len - 4, p, 4);
        if (fam == 10 || fam == 24 || fam == 28 || fam == 30) /* Linux, BSDs, Darwin */
            return decode_l3(buf + 4, len - 4, p, 6);
        return DECODE_NOT_IP;
    }
    case DECODE_LINK_RAW:
    case DECODE_LINK_DLT_RAW: return decode_l3(buf, len, p, 0);
    case DECODE_LINK_IPV4: return decode_l3(buf, len, p, 4);
    case DECODE_LINK_IPV6: return decode_l3(buf, len, p, 6);
    case DECODE_LINK_PPP:
    case DECODE_LINK_PPP_SERIAL: return decode_ppp_link(buf, len, p);
    case DECODE_LINK_PPP_ETHER: return decode_pppoe(buf, len, p);
    default: return DECODE_UNSUPPORTED_LINK;
    }
}

const char *decode_result_name(enum decode_result r)
{
    switch (r) {
    case DECODE_OK: return "ok";
    case DECODE_FRAGMENT: return "fragment";
    case DECODE_NOT_IP: return "not-ip";
    case DECODE_NOT_TCP_UDP: return "not-tcp-udp";
    case DECODE_UNSUPPORTED_LINK: return "unsupported-link";
    case DECODE_TRUNC_LINK: return "trunc-link";
    case DECODE_VLAN_DEPTH: return "vlan-depth";
    case DECODE_TRUNC_IP: return "trunc-ip";
    case DECODE_BAD_IP_VERSION: return "bad-ip-version";
    case DECODE_BAD_IP_HDRLEN: return "bad-ip-hdrlen";
    case DECODE_BAD_IP_LEN: return "bad-ip-len";
    case DECODE_BAD_IP_CSUM: return "bad-ip-csum";
    case DECODE_IPV6_EXT_DEPTH: return "ipv6-ext-depth";
    case DECODE_BAD_IPV6_EXT: return "bad-ipv6-ext";
    case DECODE_TRUNC_TCP: return "trunc-tcp";
    case DECODE_BAD_TCP_HDRLEN: return "bad-tcp-hdrlen";
    case DECODE_BAD_TCP_OPTIONS: return "bad-tcp-options";
    case DECODE_TRUNC_UDP: return "trunc-udp";
    case DECODE_BAD_UDP_LEN: return "bad-udp-len";
    case DECODE_ENCAP_DEPTH: return "encap-depth";
    case DECODE_TRUNC_ENCAP: return "trunc-encap";
    case DECODE_BAD_ENCAP: return "bad-encap";
    case DECODE_RESULT_COUNT: break;
    }
    return "unknown";
}

/* Writes v (< 100000) in decimal at out, no terminator; returns the digits written. */
/* "00" to "99": two digits per division */
static const char DEC2[201] = "00010203040506070809101112131415161718192021222324"
                              "25262728293031323334353637383940414243444546474849"
                              "50515253545556575859606162636465666768697071727374"
                              "75767778798081828384858687888990919293949596979899";

/* Each byte value in decimal: up to 3 digits, then its digit count in the fourth byte */
static const char DEC3[256][5] = {
    "0\0\0\1", "1\0\0\1", "2\0\0\1", "3\0\0\1", "4\0\0\1", "5\0\0\1", "6\0\0\1", "7\0\0\1",
    "8\0\0\1", "9\0\0\1", "10\0\2",  "11\0\2",  "12\0\2",  "13\0\2",  "14\0\2",  "15\0\2",
    "16\0\2",  "17\0\2",  "18\0\2",  "19\0\2",  "20\0\2",  "21\0\2",  "22\0\2",  "23\0\2",
    "24\0\2",  "25\0\2",  "26\0\2",  "27\0\2",  "28\0\2",  "29\0\2",  "30\0\2",  "31\0\2",
    "32\0\2",  "33\0\2",  "34\0\2",  "35\0\2",  "36\0\2",  "37\0\2",  "38\0\2",  "39\0\2",
    "40\0\2",  "41\0\2",  "42\0\2",  "43\0\2",  "44\0\2",  "45\0\2",  "46\0\2",  "47\0\2",
    "48\0\2",  "49\0\2",  "50\0\2",  "51\0\2",  "52\0\2",  "53\0\2",  "54\0\2",  "55\0\2",
    "56\0\2",  "57\0\2",  "58\0\2",  "59\0\2",  "60\0\2",  "61\0\2",  "62\0\2",  "63\0\2",
    "64\0\2",  "65\0\2",  "66\0\2",  "67\0\2",  "68\0\2",  "69\0\2",  "70\0\2",  "71\0\2",
    "72\0\2",  "73\0\2",  "74\0\2",  "75\0\2",  "76\0\2",  "77\0\2",  "78\0\2",  "79\0\2",
    "80\0\2",  "81\0\2",  "82\0\2",  "83\0\2",  "84\0\2",  "85\0\2",  "86\0\2",  "87\0\2",
    "88\0\2",  "89\0\2",  "90\0\2",  "91\0\2",  "92\0\2",  "93\0\2",  "94\0\2",  "95\0\2",
    "96\0\2",  "97\0\2",  "98\0\2",  "99\0\2",  "100\3",   "101\3",   "102\3",   "103\3",
    "104\3",   "105\3",   "106\3",   "107\3",   "108\3",   "109\3",   "110\3",   "111\3",
    "112\3",   "113\3",   "114\3",   "115\3",   "116\3",   "117\3",   "118\3",   "119\3",
    "120\3",   "121\3",   "122\3",   "123\3",   "124\3",   "125\3",   "126\3",   "127\3",
    "128\3",   "129\3",   "130\3",   "131\3",   "132\3",   "133\3",   "134\3",   "135\3",
    "136\3",   "137\3",   "138\3",   "139\3",   "140\3",   "141\3",   "142\3",   "143\3",
    "144\3",   "145\3",   "146\3",   "147\3",   "148\3",   "149\3",   "150\3",   "151\3",
    "152\3",   "153\3",   "154\3",   "155\3",   "156\3",   "157\3",   "158\3",   "159\3",
    "160\3",   "161\3",   "162\3",   "163\3",   "164\3",   "165\3",   "166\3",   "167\3",
    "168\3",   "169\3",   "170\3",   "171\3",   "172\3",   "173\3",   "174\3",   "175\3",
    "176\3",   "177\3",   "178\3",   "179\3",   "180\3",   "181\3",   "182\3",   "183\3",
    "184\3",   "185\3",   "186\3",   "187\3",   "188\3",   "189\3",   "190\3",   "191\3",
    "192\3",   "193\3",   "194\3",   "195\3",   "196\3",   "197\3",   "198\3",   "199\3",
    "200\3",   "201\3",   "202\3",   "203\3",   "204\3",   "205\3",   "206\3",   "207\3",
    "208\3",   "209\3",   "210\3",   "211\3",   "212\3",   "213\3",   "214\3",   "215\3",
    "216\3",   "217\3",   "218\3",   "219\3",   "220\3",   "221\3",   "222\3",   "223\3",
    "224\3",   "225\3",   "226\3",   "227\3",   "228\3",   "229\3",   "230\3",   "231\3",
    "232\3",   "233\3",   "234\3",   "235\3",   "236\3",   "237\3",   "238\3",   "239\3",
    "240\3",   "241\3",   "242\3",   "243\3",   "244\3",   "245\3",   "246\3",   "247\3",
    "248\3",   "249\3",   "250\3",   "251\3",   "252\3",   "253\3",   "254\3",   "255\3",
};

static size_t put_dec(char *out, unsigned v) /* v <= 65535 */
{
    char t[6];
    size_t i = sizeof(t);
    while (v >= 100) {
        unsigned q = v / 100;
        i -= 2;
        memcpy(t + i, DEC2 + 2 * (v - 100 * q), 2);
        v = q;
    }
    if (v >= 10) {
        i -= 2;
        memcpy(t + i, DEC2 + 2 * v, 2);
    } else {
        t[--i] = (char)('0' + v);
    }
    for (size_t k = i; k < sizeof(t); k++) /* at most 5: no call to memcpy */
        out[k - i] = t[k];
    return sizeof(t) - i;
}

/* "[a:b::c]:port" as inet_ntop() + "[%s]:%u" write it (RFC 5952: lowercase, no leading zeros,
 * the first longest run of two or more zero groups as "::"), without snprintf. Returns false
 * for the addresses inet_ntop() writes with an embedded IPv4 part (the first five groups zero):
 * those are left to it. out holds at least 48 bytes. */
static bool fmt_ip6_port(const uint8_t a[16], uint16_t port, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int best = -1, blen = 0;
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    if (!(w[0] | w[1] | w[2] | w[3] | w[4]))
        return false;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > blen) {
            best = i;
            blen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    if (blen < 2)
        best = -1;
    size_t n = 0;
    out[n++] = '[';
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            out[n++] = ':';
            if (i == 0)
                out[n++] = ':';
            i += blen - 1;
            continue;
        }
        bool lead = true;
        for (int sh = 12; sh >= 0; sh -= 4) {
            unsigned d = (w[i] >> sh) & 15;
            if (d || !lead || sh == 0) {
                out[n++] = hex[d];
                lead = false;
            }
        }
        if (i < 7)
            out[n++] = ':';
    }
    out[n++] = ']';
    out[n++] = ':';
    n += put_dec(out + n, port);
    out[n] = '\0';
    return true;
}

char *decode_fmt_endpoint(const uint8_t addr[16], int ipver, uint16_t port, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (cap == 0)
        return out;
    if (ipver != 6 && cap >= sizeof("255.255.255.255:65535")) {
        /* the common case, without snprintf: same text as inet_ntop + "%s:%u" */
        size_t n = 0;
        for (int i = 0; i < 4; i++) { /* 4 bytes copied, the digits kept: n + 4 < cap */
            memcpy(out + n, DEC3[addr[i]], 4);
            n += (size_t)DEC3[addr[i]][3];
            out[n++] = i < 3 ? '.' : ':';
        }
        n += put_dec(out + n, port);
        out[n] = '\0';
        return out;
    }
    if (ipver == 6 && cap >= sizeof("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535") &&
        fmt_ip6_port(addr, port, out))
        return out;
    if (!inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof ip))
        ip[0] = '\0';
    if (ipver == 6)
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)port);
    else
        snprintf(out, cap, "%s:%u", ip, (unsigned)port);
    return out;
}
