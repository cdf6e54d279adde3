/* decode.c - link layer -> IPv4/IPv6 -> TCP/UDP, pure and bounds-checked.
 *
 * Link layers read here:
 *   Ethernet   | dst 6 | src 6 | type 2 | [ 802.1Q/802.1ad tag: TCI 2 | type 2 ] x 0..4 | payload
 *   Linux SLL  | pkttype 2 | hatype 2 | halen 2 | addr 8 | protocol 2 | payload       (16 bytes)
 *   Linux SLL2 | protocol 2 | rsvd 2 | ifindex 4 | hatype 2 | pkttype 1 | halen 1 | addr 8 | (20)
 *   NULL/LOOP  | family 4 (NULL: host order of the capturing machine; LOOP: network order) |
 *   RAW        | IPv4 or IPv6 header, told apart by the version nibble
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
#include "decode.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "compiler.h"
#include "rd.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100

#define PROTO_HBH 0
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_ESP 50
#define PROTO_AH 51
#define PROTO_NONE 59
#define PROTO_DSTOPTS 60

/* One's complement sum over bytes in network order, read byte by byte (short inputs: IP
 * header, pseudo-header). n odd only on the last call. */
static uint64_t csum_add(uint64_t acc, const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)b[i] << 8 | b[i + 1];
    if (n & 1)
        acc += (uint32_t)b[n - 1] << 8;
    return acc;
}

static uint16_t csum_fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* The same sum over a long run (a whole segment), 8 bytes per step through memcpy loads in host
 * order; the one's complement sum commutes with byte swapping (RFC 1071 2.B), so the folded
 * result is swapped back to network order at the end. */
static uint16_t csum_run(const uint8_t *b, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        acc += (w & 0xffffffffu) + (w >> 32);
    }
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
    uint16_t s = csum_fold(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    s = (uint16_t)(s << 8 | s >> 8);
#endif
    return s;
}

/* Verifies the TCP/UDP checksum of seg (checksum field included) with the pseudo-header. */
static bool l4_csum_verify(const struct pkt *p, const uint8_t *seg, size_t n)
{
    uint64_t acc = 0;
    uint8_t ph[8];
    if (p->ipver == 4) {
        acc = csum_add(acc, p->src, 4);
        acc = csum_add(acc, p->dst, 4);
        ph[0] = 0;
        ph[1] = p->l4proto;
        ph[2] = (uint8_t)(n >> 8);
        ph[3] = (uint8_t)n;
        acc = csum_add(acc, ph, 4);
    } else {
        acc = csum_add(acc, p->src, 16);
        acc = csum_add(acc, p->dst, 16);
        ph[0] = (uint8_t)(n >> 24);
        ph[1] = (uint8_t)(n >> 16);
        ph[2] = (uint8_t)(n >> 8);
        ph[3] = (uint8_t)n;
        ph[4] = ph[5] = ph[6] = 0;
        ph[7] = p->l4proto;
        acc = csum_add(acc, ph, 8);
    }
    acc += csum_run(seg, n);
    return csum_fold(acc) == 0xffff;
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
            return p->ipver == 4;   /* IPv4: not computed; IPv6 requires it (RFC 8200 8.1) */
    } else if (p->l4proto != PROTO_TCP || p->l4_len < 20) {
        return false;
    }
    return l4_csum_verify(p, p->l4, p->l4_len);
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
                p->wscale = ws > 14 ? 14 : ws;   /* Linux clamps to 14 */
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
        case 254:   /* experimental TFO: magic 0xf989 then the cookie */
            if (olen >= 4 && rd_be16(&o) == 0xf989) {
                p->has_fastopen = true;
                p->fastopen_cookie_len = (uint8_t)(olen - 4);
            }
            break;
        default:
            break;
        }
    }
    return DECODE_OK;
}

static enum decode_result decode_tcp(const uint8_t *seg, size_t n, struct pkt *p)
{
    struct rd r;
    rd_init(&r, seg, n);
    if (n < 20)
        return DECODE_TRUNC_TCP;
    p->sport = rd_be16(&r);
    p->dport = rd_be16(&r);
    p->seq = rd_be32(&r);
    p->ack = rd_be32(&r);
    uint8_t doff = rd_u8(&r);
    p->tcp_flags = rd_u8(&r);
    p->win = rd_be16(&r);
    rd_skip(&r, 2);
    p->urg_ptr = rd_be16(&r);
    size_t hlen = (size_t)(doff >> 4) * 4;
    if (hlen < 20 || hlen > n)
        return DECODE_BAD_TCP_HDRLEN;
    struct rd o;
    rd_init(&o, seg + 20, hlen - 20);
    enum decode_result res = tcp_options(&o, p);
    if (res != DECODE_OK)
        return res;
    p->payload = seg + hlen;
    p->payload_len = n - hlen;
    p->l4 = seg;
    p->l4_len = n;
    return DECODE_OK;
}

static enum decode_result decode_udp(const uint8_t *seg, size_t n, struct pkt *p)
{
    struct rd r;
    rd_init(&r, seg, n);
    if (n < 8)
        return DECODE_TRUNC_UDP;
    p->sport = rd_be16(&r);
    p->dport = rd_be16(&r);
    size_t ulen = rd_be16(&r);
    if (ulen < 8 || ulen > n)
        return DECODE_BAD_UDP_LEN;
    p->payload = seg + 8;
    p->payload_len = ulen - 8;
    p->l4 = seg;
    p->l4_len = ulen;
    return DECODE_OK;
}

static enum decode_result decode_l4(const uint8_t *seg, size_t n, struct pkt *p)
{
    if (p->l4proto == PROTO_TCP)
        return decode_tcp(seg, n, p);
    if (p->l4proto == PROTO_UDP)
        return decode_udp(seg, n, p);
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

static enum decode_result decode_ipv4(const uint8_t *buf, size_t len, struct pkt *p)
{
    struct rd r;
    rd_init(&r, buf, len);
    if (len < 20)
        return DECODE_TRUNC_IP;
    uint8_t vihl = rd_u8(&r);
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    rd_skip(&r, 1);
    size_t tot = rd_be16(&r);
    uint16_t id = rd_be16(&r);
    uint16_t fo = rd_be16(&r);
    p->ttl = rd_u8(&r);
    p->l4proto = rd_u8(&r);
    rd_skip(&r, 2);
    memcpy(p->src, buf + 12, 4);
    memcpy(p->dst, buf + 16, 4);
    if (ihl < 20)
        return DECODE_BAD_IP_HDRLEN;
    if (ihl > len)
        return DECODE_TRUNC_IP;
    if (tot < ihl || tot > len)
        return DECODE_BAD_IP_LEN;
    if (csum_fold(csum_add(0, buf, ihl)) != 0xffff)
        return DECODE_BAD_IP_CSUM;
    if (!ipv4_options_ok(buf + 20, ihl - 20))
        return DECODE_BAD_IP_HDRLEN;
    p->l3 = buf;
    p->l3_len = tot;
    uint32_t off = (uint32_t)(fo & 0x1fff) * 8;
    bool mf = (fo & 0x2000) != 0;
    if (off != 0 || mf) {
        p->frag = true;
        p->frag_id = id;
        p->frag_off = off;
        p->frag_more = mf;
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
            return decode_l4(buf + off, p->l3_len - off, p);
        case PROTO_HBH:
        case PROTO_ROUTING:
        case PROTO_DSTOPTS:
        case PROTO_AH:
        case PROTO_FRAGMENT:
            break;
        default:   /* ESP, no-next-header, ICMPv6, ... */
            return DECODE_NOT_TCP_UDP;
        }
        if (++n_ext > DECODE_MAX_IPV6_EXT)
            return DECODE_IPV6_EXT_DEPTH;
        struct rd e;
        rd_init(&e, buf + off, p->l3_len - off);
        uint8_t next = rd_u8(&e);
        uint8_t el = rd_u8(&e);
        if (e.err)
            return DECODE_BAD_IPV6_EXT;
        size_t hlen = nh == PROTO_FRAGMENT ? 8 : nh == PROTO_AH ? ((size_t)el + 2) * 4
                                                                 : ((size_t)el + 1) * 8;
        if (hlen > p->l3_len - off)
            return DECODE_BAD_IPV6_EXT;
        const uint8_t *h = buf + off;
        if (nh == PROTO_HBH) {
            if (n_ext == 1)
                p->ipv6_hbh = true;
            else
                p->ipv6_bad_ext = true;   /* ipv6_rcv: HBH only right after the header */
            if (!ipv6_tlv_ok(h + 2, hlen - 2, true))
                p->ipv6_bad_ext = true;
        } else if (nh == PROTO_DSTOPTS) {
            if (!ipv6_tlv_ok(h + 2, hlen - 2, false))
                p->ipv6_bad_ext = true;
        } else if (nh == PROTO_ROUTING) {
            if (hlen < 8)
                return DECODE_BAD_IPV6_EXT;
            if (h[3] != 0)   /* segments left: not the final destination, or RH0 */
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

/* IP and below; *p is all zero but for the VLAN tags. */
static enum decode_result decode_l3(const uint8_t *buf, size_t len, struct pkt *p)
{
    if (len < 1)
        return DECODE_TRUNC_IP;
    p->ipver = (uint8_t)(buf[0] >> 4);
    if (p->ipver == 4)
        return decode_ipv4(buf, len, p);
    if (p->ipver == 6)
        return decode_ipv6(buf, len, p);
    return DECODE_BAD_IP_VERSION;
}

enum decode_result decode_ip(const uint8_t *buf, size_t len, struct pkt *p)
{
    uint16_t vlan[DECODE_MAX_VLAN];
    uint8_t n_vlan = p->n_vlan;
    memcpy(vlan, p->vlan, sizeof vlan);
    memset(p, 0, sizeof *p);
    p->n_vlan = n_vlan;
    memcpy(p->vlan, vlan, sizeof vlan);
    enum decode_result res = decode_l3(buf, len, p);
    /* reassembled datagrams are rare: verify at once, which also checks the rebuild */
    if (res == DECODE_OK)
        p->l4_csum_ok = decode_l4_csum_ok(p);
    return res;
}

/* Follows VLAN tags from the ethertype `type` (r just past it), then decodes the IP packet. */
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
    }
    if (type != ETH_IPV4 && type != ETH_IPV6)
        return DECODE_NOT_IP;
    size_t left = rd_left(r);
    enum decode_result res = decode_l3(r->p + r->off, left, p);
    if (res == DECODE_OK || res == DECODE_FRAGMENT) {
        /* the ethertype must agree with the version nibble */
        if ((type == ETH_IPV4) != (p->ipver == 4))
            return DECODE_BAD_IP_VERSION;
    }
    return res;
}

enum decode_result decode_packet(int link, const uint8_t *buf, size_t len, struct pkt *p)
{
    struct rd r;
    memset(p, 0, sizeof *p);
    rd_init(&r, buf, len);
    switch (link) {
    case DECODE_LINK_ETHERNET: {
        rd_skip(&r, 12);
        uint16_t type = rd_be16(&r);
        if (r.err)
            return DECODE_TRUNC_LINK;
        return ether_payload(&r, type, p);
    }
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
        uint32_t be = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
        uint32_t le = (uint32_t)buf[3] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[1] << 8 | buf[0];
        uint32_t fam = link == DECODE_LINK_LOOP ? be : (be < 256 ? be : le);
        enum decode_result res;
        if (fam == 2) {
            res = decode_l3(buf + 4, len - 4, p);
            if ((res == DECODE_OK || res == DECODE_FRAGMENT) && p->ipver != 4)
                return DECODE_BAD_IP_VERSION;
            return res;
        }
        if (fam == 10 || fam == 24 || fam == 28 || fam == 30) {   /* Linux, BSDs, Darwin */
            res = decode_l3(buf + 4, len - 4, p);
            if ((res == DECODE_OK || res == DECODE_FRAGMENT) && p->ipver != 6)
                return DECODE_BAD_IP_VERSION;
            return res;
        }
        return DECODE_NOT_IP;
    }
    case DECODE_LINK_RAW:
    case DECODE_LINK_DLT_RAW:
        return decode_l3(buf, len, p);
    case DECODE_LINK_IPV4:
    case DECODE_LINK_IPV6: {
        enum decode_result res = decode_l3(buf, len, p);
        int want = link == DECODE_LINK_IPV4 ? 4 : 6;
        if ((res == DECODE_OK || res == DECODE_FRAGMENT || res == DECODE_BAD_IP_VERSION) &&
            p->ipver != want)
            return DECODE_BAD_IP_VERSION;
        return res;
    }
    default:
        return DECODE_UNSUPPORTED_LINK;
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
    case DECODE_RESULT_COUNT: break;
    }
    return "unknown";
}

char *decode_fmt_endpoint(const uint8_t addr[16], int ipver, uint16_t port, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (cap == 0)
        return out;
    if (ipver != 6 && cap >= sizeof("255.255.255.255:65535")) {
        /* the common case, without snprintf: same text as inet_ntop + "%s:%u" */
        size_t n = 0;
        for (int i = 0; i < 5; i++) {
            unsigned v = i < 4 ? addr[i] : port;
            char t[5];
            size_t k = 0;
            do {
                t[k++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            while (k)
                out[n++] = t[--k];
            out[n++] = i < 3 ? '.' : (i == 3 ? ':' : '\0');
        }
        return out;
    }
    if (!inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof ip))
        ip[0] = '\0';
    if (ipver == 6)
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)port);
    else
        snprintf(out, cap, "%s:%u", ip, (unsigned)port);
    return out;
}
