/* check_decode.c - frames crafted by hand for every link type, VLAN/QinQ, IPv4 options,
 * IPv6 extension chains, TCP options, checksums, every encapsulation (MPLS, PPPoE, GRE, ERSPAN,
 * VXLAN, GTP-U, IP-in-IP) and every truncation on a guard page. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/packet/decode.h"
#include "tests/lib/craft.h"
#include "tests/lib/guard.h"

/* ---- a small packet crafter ------------------------------------------------------------- */

struct spec {
    int ipver;
    uint8_t proto;
    uint8_t ttl;
    uint16_t id;
    uint16_t fragfield;   /* IPv4 flags+offset field as on the wire */
    const uint8_t *ipopt; /* IPv4 options (multiple of 4) */
    size_t ipopt_len;
    const uint8_t *ext; /* IPv6 extension headers, raw; chain next-headers set by the
                                  * caller, first_nh names the first one */
    size_t ext_len;
    uint8_t first_nh;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win, urg;
    const uint8_t *tcpopt; /* multiple of 4 */
    size_t tcpopt_len;
    const uint8_t *payload;
    size_t plen;
    bool bad_l4, bad_ip, udp_zero;
};

static const uint8_t SRC4[4] = { 10, 0, 0, 1 }, DST4[4] = { 10, 0, 0, 2 };
static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* Builds the L4 segment at out; returns its length. */
static size_t mk_l4(const struct spec *s, uint8_t *out)
{
    size_t n;
    if (s->proto == 6) {
        size_t hl = 20 + s->tcpopt_len;
        memset(out, 0, hl);
        craft_put16(out, s->sport);
        craft_put16(out + 2, s->dport);
        craft_put32(out + 4, s->seq);
        craft_put32(out + 8, s->ack);
        out[12] = (uint8_t)((hl / 4) << 4);
        out[13] = s->flags;
        craft_put16(out + 14, s->win);
        craft_put16(out + 18, s->urg);
        if (s->tcpopt_len)
            memcpy(out + 20, s->tcpopt, s->tcpopt_len);
        n = hl;
    } else {
        memset(out, 0, 8);
        craft_put16(out, s->sport);
        craft_put16(out + 2, s->dport);
        craft_put16(out + 4, (uint32_t)(8 + s->plen));
        n = 8;
    }
    if (s->plen)
        memcpy(out + n, s->payload, s->plen);
    return n + s->plen;
}

static void set_l4_csum(const struct spec *s, uint8_t *seg, size_t n)
{
    uint32_t acc = s->ipver == 4 ? craft_pseudo(4, SRC4, DST4, s->proto, n)
                                 : craft_pseudo(6, SRC6, DST6, s->proto, n);
    size_t at = s->proto == 6 ? 16 : 6;
    seg[at] = seg[at + 1] = 0;
    uint16_t c = craft_fold(craft_sum(acc, seg, n));
    if (s->proto == 17 && s->udp_zero)
        c = 0;
    else if (s->proto == 17 && c == 0)
        c = 0xffff;
    if (s->bad_l4)
        c = (uint16_t)(c + 1);
    craft_put16(seg + at, c);
}

/* Builds an IP packet (header, options/extensions, L4); returns its length. */
static size_t mk_ip(const struct spec *s, uint8_t *out)
{
    if (s->ipver == 4) {
        size_t ihl = 20 + s->ipopt_len;
        memset(out, 0, ihl);
        size_t l4 = mk_l4(s, out + ihl);
        set_l4_csum(s, out + ihl, l4);
        out[0] = (uint8_t)(0x40 | ihl / 4);
        craft_put16(out + 2, (uint32_t)(ihl + l4));
        craft_put16(out + 4, s->id);
        craft_put16(out + 6, s->fragfield);
        out[8] = s->ttl ? s->ttl : 64;
        out[9] = s->proto;
        memcpy(out + 12, SRC4, 4);
        memcpy(out + 16, DST4, 4);
        if (s->ipopt_len)
            memcpy(out + 20, s->ipopt, s->ipopt_len);
        uint16_t c = craft_fold(craft_sum(0, out, ihl));
        if (s->bad_ip)
            c = (uint16_t)(c + 1);
        craft_put16(out + 10, c);
        return ihl + l4;
    }
    if (s->ext_len)
        memcpy(out + 40, s->ext, s->ext_len);
    size_t l4 = mk_l4(s, out + 40 + s->ext_len);
    set_l4_csum(s, out + 40 + s->ext_len, l4);
    craft_ip6(out, SRC6, DST6, s->ext_len ? s->first_nh : s->proto, s->ext_len + l4);
    if (s->ttl)
        out[7] = s->ttl;
    return 40 + s->ext_len + l4;
}

/* Ethernet with the given VLAN tag TPIDs (0-terminated list), then ip. */
static size_t mk_eth(uint8_t *out, const uint16_t *tpids, uint16_t type, const uint8_t *ip,
                     size_t n)
{
    size_t o = 12;
    memset(out, 0x11, 12);
    for (int i = 0; tpids && tpids[i]; i++) {
        craft_put16(out + o, tpids[i]);
        craft_put16(out + o + 2, (uint32_t)(100 + i));
        o += 4;
    }
    craft_put16(out + o, type);
    o += 2;
    memcpy(out + o, ip, n);
    return o + n;
}

static void base_tcp(struct spec *s, int ipver)
{
    static const uint8_t pl[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    memset(s, 0, sizeof *s);
    s->ipver = ipver;
    s->proto = 6;
    s->sport = 40000;
    s->dport = 443;
    s->seq = 1000;
    s->ack = 2000;
    s->flags = TCPF_ACK | TCPF_PSH;
    s->win = 512;
    s->payload = pl;
    s->plen = sizeof pl - 1;
}

static enum decode_result dec(int link, const uint8_t *f, size_t n, struct pkt *p)
{
    const uint8_t *g = guard_copy(f, n);
    return decode_packet(link, g, n, p);
}

/* Builds the packet s describes at ip (its length to *n) and decodes it as a raw IP frame. */
static enum decode_result dec_ip(const struct spec *s, uint8_t *ip, size_t *n, struct pkt *p)
{
    *n = mk_ip(s, ip);
    return dec(DECODE_LINK_RAW, ip, *n, p);
}

/* ---- valid frames ------------------------------------------------------------------------ */

START_TEST(eth_ipv4_tcp)
{
    struct spec s;
    uint8_t ip[2000], fr[2100];
    struct pkt p;
    base_tcp(&s, 4);
    size_t n = mk_eth(fr, NULL, 0x0800, ip, mk_ip(&s, ip));
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.ipver, 4);
    ck_assert_int_eq(p.l4proto, 6);
    ck_assert_int_eq(p.ttl, 64);
    ck_assert_mem_eq(p.src, SRC4, 4);
    ck_assert_mem_eq(p.dst, DST4, 4);
    ck_assert_int_eq(p.sport, 40000);
    ck_assert_int_eq(p.dport, 443);
    ck_assert_uint_eq(p.seq, 1000);
    ck_assert_uint_eq(p.ack, 2000);
    ck_assert_int_eq(p.tcp_flags, TCPF_ACK | TCPF_PSH);
    ck_assert_int_eq(p.win, 512);
    ck_assert(!p.l4_csum_ok); /* decode_packet() leaves the checksum to the caller */
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert(p.l4 == p.payload - 20);
    ck_assert_uint_eq(p.l4_len, 20 + s.plen);
    ck_assert_uint_eq(p.payload_len, s.plen);
    ck_assert_mem_eq(p.payload, s.payload, s.plen);
    ck_assert_uint_eq(p.l3_len, n - 14);
    ck_assert(!p.frag);
}
END_TEST

START_TEST(eth_padding_clamped)
{
    struct spec s;
    uint8_t ip[2000], fr[2100];
    struct pkt p;
    base_tcp(&s, 4);
    s.plen = 0;
    s.flags = TCPF_ACK;
    size_t n = mk_eth(fr, NULL, 0x0800, ip, mk_ip(&s, ip));
    memset(fr + n, 0, 6); /* Ethernet pads a 54-byte frame to 60 */
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n + 6, &p), DECODE_OK);
    ck_assert_uint_eq(p.payload_len, 0);
    ck_assert_uint_eq(p.l3_len, 40);
    ck_assert(decode_l4_csum_ok(&p));
}
END_TEST

START_TEST(udp_checksums)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    static const uint8_t q[] = { 0xc0, 0, 0, 0, 1 };
    memset(&s, 0, sizeof s);
    s.ipver = 4;
    s.proto = 17;
    s.sport = 5353;
    s.dport = 443;
    s.payload = q;
    s.plen = sizeof q;
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert_uint_eq(p.payload_len, sizeof q);
    s.udp_zero = true;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(decode_l4_csum_ok(&p)); /* IPv4: zero means "not computed" */
    s.ipver = 6;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(!decode_l4_csum_ok(&p)); /* IPv6: mandatory */
    s.udp_zero = false;
    s.bad_l4 = true;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(!decode_l4_csum_ok(&p));
    s.bad_l4 = false;
    n = mk_ip(&s, ip);
    ip[40 + 5] = 7; /* UDP length below 8 */
    ip[40 + 4] = 0;
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_UDP_LEN);
}
END_TEST

/* The word-at-a-time checksum against the byte-wise reference of the crafter: every payload
 * length 0..80 (odd and even tails, 4-, 8-, 16-, 32- and 64-byte steps) and 1400..1460 over bytes mostly
 * 0xff (the 64-bit sums carry), both IP versions, both protocols; one flipped bit anywhere in
 * the segment is caught. decode_ip() verifies at once. */
START_TEST(l4_checksum_lengths)
{
    uint8_t pl[1460], ip[1600];
    struct pkt p;
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof pl; i++) {
        x = x * 1103515245u + 12345u;
        pl[i] = i < 80 || (x >> 28) == 0 ? (uint8_t)(x >> 16) : 0xff;
    }
    for (int v = 4; v <= 6; v += 2) {
        for (int proto = 6; proto <= 17; proto += 11) {
            for (size_t len = 0; len <= sizeof pl; len = len == 80 ? 1400 : len + 1) {
                struct spec s;
                base_tcp(&s, v);
                s.proto = (uint8_t)proto;
                s.payload = pl;
                s.plen = len;
                size_t n = mk_ip(&s, ip);
                ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
                ck_assert(decode_l4_csum_ok(&p));
                size_t l3 = v == 4 ? 20 : 40, at = l3 + (proto == 6 ? 20 : 8) + len / 2;
                if (at >= n)
                    at = l3; /* no payload: the source port */
                ip[at] ^= 0x10;
                ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
                ck_assert_msg(!decode_l4_csum_ok(&p), "v%d proto %d len %zu", v, proto, len);
                memset(&p, 0, sizeof p);
                ck_assert_int_eq(decode_ip(guard_copy(ip, n), n, &p), DECODE_OK);
                ck_assert(!p.l4_csum_ok);
                ip[at] ^= 0x10;
                memset(&p, 0, sizeof p);
                ck_assert_int_eq(decode_ip(guard_copy(ip, n), n, &p), DECODE_OK);
                ck_assert(p.l4_csum_ok);
            }
        }
    }
    /* the caller may vouch (offload); no L4 header means no good checksum */
    memset(&p, 0, sizeof p);
    ck_assert(!decode_l4_csum_ok(&p));
    p.l4_csum_ok = true;
    ck_assert(decode_l4_csum_ok(&p));
}
END_TEST

START_TEST(vlan_qinq)
{
    struct spec s;
    uint8_t ip[2000], fr[2100];
    struct pkt p;
    base_tcp(&s, 6);
    size_t il = mk_ip(&s, ip);
    static const uint16_t one[] = { 0x8100, 0 }, qinq[] = { 0x88a8, 0x8100, 0 },
                          four[] = { 0x88a8, 0x9100, 0x8100, 0x8100, 0 },
                          five[] = { 0x88a8, 0x8100, 0x8100, 0x8100, 0x8100, 0 };
    size_t n = mk_eth(fr, one, 0x86dd, ip, il);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.n_vlan, 1);
    ck_assert_int_eq(p.vlan[0], 100);
    n = mk_eth(fr, qinq, 0x86dd, ip, il);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.n_vlan, 2);
    ck_assert_int_eq(p.vlan[1], 101);
    n = mk_eth(fr, four, 0x86dd, ip, il);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.n_vlan, 4);
    ck_assert_int_eq(p.ipver, 6);
    ck_assert(decode_l4_csum_ok(&p));
    n = mk_eth(fr, five, 0x86dd, ip, il);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_VLAN_DEPTH);
    /* ethertype and version nibble disagree */
    n = mk_eth(fr, NULL, 0x0800, ip, il);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_IP_VERSION);
    n = mk_eth(fr, NULL, 0x0806, ip, il); /* ARP */
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_NOT_IP);
    n = mk_eth(fr, NULL, 0x0040, ip, il); /* 802.3 length field */
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_NOT_IP);
}
END_TEST

START_TEST(link_types)
{
    struct spec s;
    uint8_t ip4[2000], ip6[2000], fr[2100];
    struct pkt p;
    base_tcp(&s, 4);
    size_t n4 = mk_ip(&s, ip4);
    base_tcp(&s, 6);
    size_t n6 = mk_ip(&s, ip6);

    /* SLL v1: protocol at offset 14 */
    memset(fr, 0, 16);
    craft_put16(fr + 14, 0x0800);
    memcpy(fr + 16, ip4, n4);
    ck_assert_int_eq(dec(DECODE_LINK_LINUX_SLL, fr, 16 + n4, &p), DECODE_OK);
    ck_assert_int_eq(p.ipver, 4);
    craft_put16(fr + 14, 0x8100); /* a VLAN tag kept by the capture */
    craft_put16(fr + 16, 7);
    craft_put16(fr + 18, 0x0800);
    memcpy(fr + 20, ip4, n4);
    ck_assert_int_eq(dec(DECODE_LINK_LINUX_SLL, fr, 20 + n4, &p), DECODE_OK);
    ck_assert_int_eq(p.n_vlan, 1);
    ck_assert_int_eq(p.vlan[0], 7);
    /* SLL v2: protocol first, 20-byte header */
    memset(fr, 0, 20);
    craft_put16(fr, 0x86dd);
    memcpy(fr + 20, ip6, n6);
    ck_assert_int_eq(dec(DECODE_LINK_LINUX_SLL2, fr, 20 + n6, &p), DECODE_OK);
    ck_assert_int_eq(p.ipver, 6);
    /* raw */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip4, n4, &p), DECODE_OK);
    ck_assert_int_eq(dec(DECODE_LINK_DLT_RAW, ip6, n6, &p), DECODE_OK);
    ck_assert_int_eq(dec(DECODE_LINK_IPV4, ip4, n4, &p), DECODE_OK);
    ck_assert_int_eq(dec(DECODE_LINK_IPV6, ip6, n6, &p), DECODE_OK);
    ck_assert_int_eq(dec(DECODE_LINK_IPV4, ip6, n6, &p), DECODE_BAD_IP_VERSION);
    ck_assert_int_eq(dec(DECODE_LINK_IPV6, ip4, n4, &p), DECODE_BAD_IP_VERSION);
    /* BSD NULL: host order (little-endian capture host here), LOOP: network order */
    memset(fr, 0, 4);
    fr[0] = 2;
    memcpy(fr + 4, ip4, n4);
    ck_assert_int_eq(dec(DECODE_LINK_NULL, fr, 4 + n4, &p), DECODE_OK);
    memset(fr, 0, 4);
    fr[3] = 2;
    ck_assert_int_eq(dec(DECODE_LINK_NULL, fr, 4 + n4, &p), DECODE_OK);
    ck_assert_int_eq(dec(DECODE_LINK_LOOP, fr, 4 + n4, &p), DECODE_OK);
    memset(fr, 0, 4);
    fr[0] = 30; /* Darwin AF_INET6 */
    memcpy(fr + 4, ip6, n6);
    ck_assert_int_eq(dec(DECODE_LINK_NULL, fr, 4 + n6, &p), DECODE_OK);
    ck_assert_int_eq(p.ipver, 6);
    fr[0] = 2; /* family says IPv4, packet is IPv6 */
    ck_assert_int_eq(dec(DECODE_LINK_NULL, fr, 4 + n6, &p), DECODE_BAD_IP_VERSION);
    fr[0] = 17;
    ck_assert_int_eq(dec(DECODE_LINK_NULL, fr, 4 + n6, &p), DECODE_NOT_IP);
    ck_assert_int_eq(dec(147, fr, 4 + n6, &p), DECODE_UNSUPPORTED_LINK);
    fr[0] = 0x50;
    ck_assert_int_eq(dec(DECODE_LINK_RAW, fr, 30, &p), DECODE_BAD_IP_VERSION);
}
END_TEST

/* ---- IPv4 -------------------------------------------------------------------------------- */

START_TEST(ipv4_options_and_errors)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    static const uint8_t rr[8] = { 1, 7, 7, 4, 0, 0, 0, 0 }; /* NOP, record route */
    static const uint8_t bad[4] = { 7, 9, 4, 0 };            /* length past the header */
    static const uint8_t zero[4] = { 0x83, 0, 0, 0 };        /* length 0 */
    base_tcp(&s, 4);
    s.ipopt = rr;
    s.ipopt_len = sizeof rr;
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.payload_len, s.plen);
    ck_assert_mem_eq(p.payload, s.payload, s.plen);
    ck_assert(decode_l4_csum_ok(&p));
    s.ipopt = bad;
    s.ipopt_len = sizeof bad;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_IP_HDRLEN);
    s.ipopt = zero;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_IP_HDRLEN);
    s.ipopt = NULL;
    s.ipopt_len = 0;
    s.bad_ip = true;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_IP_CSUM);
    s.bad_ip = false;
    n = mk_ip(&s, ip);
    ip[0] = 0x44; /* ihl 4 */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_IP_HDRLEN);
    n = mk_ip(&s, ip);
    craft_put16(ip + 2,
                (uint32_t)n + 1); /* longer than the frame (checksum not fixed: length first) */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_IP_LEN);
    craft_put16(ip + 2, 19);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_IP_LEN);
    /* ICMP */
    n = mk_ip(&s, ip);
    ip[9] = 1;
    ip[10] = ip[11] = 0;
    uint16_t c = craft_fold(craft_sum(0, ip, 20));
    craft_put16(ip + 10, c);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_NOT_TCP_UDP);
}
END_TEST

START_TEST(ipv4_fragment)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    base_tcp(&s, 4);
    s.id = 0x1234;
    s.fragfield = 0x2000; /* MF, offset 0 */
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_FRAGMENT);
    ck_assert(p.frag);
    ck_assert(p.frag_more);
    ck_assert_uint_eq(p.frag_id, 0x1234);
    ck_assert_uint_eq(p.frag_off, 0);
    ck_assert_uint_eq(p.frag_data_len, n - 20);
    ck_assert_int_eq(p.frag_nexthdr, 6);
    ck_assert_int_eq(p.frag_hdr_off, 20);
    s.fragfield = 0x0003; /* last fragment at offset 24 */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_FRAGMENT);
    ck_assert(!p.frag_more);
    ck_assert_uint_eq(p.frag_off, 24);
    s.fragfield = 0x4000; /* DF only: not a fragment */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
}
END_TEST

/* ---- IPv6 extension chains ------------------------------------------------------------- */

START_TEST(ipv6_ext_chain)
{
    struct spec s;
    uint8_t ip[3000], ext[200];
    struct pkt p;
    base_tcp(&s, 6);
    s.ext = ext;

    craft_ext8(ext, 60); /* HBH -> DST -> TCP */
    craft_ext8(ext + 8, 6);
    s.first_nh = 0;
    s.ext_len = 16;
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
    ck_assert(p.ipv6_hbh);
    ck_assert(!p.ipv6_bad_ext);
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert_mem_eq(p.payload, s.payload, s.plen);

    craft_ext8(ext, 0); /* DST -> HBH -> TCP: HBH not first */
    craft_ext8(ext + 8, 6);
    s.first_nh = 60;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(p.ipv6_bad_ext);

    craft_ext8(ext, 6); /* routing, segments left 0: fine */
    ext[2] = 4;
    ext[3] = 0;
    s.first_nh = 43;
    s.ext_len = 8;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(!p.ipv6_bad_ext);
    ext[3] = 2; /* segments left: not for this host */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(p.ipv6_bad_ext);

    craft_ext8(ext, 6); /* DST with an unknown option whose action is "discard" */
    ext[2] = 0x85;
    ext[3] = 4;
    s.first_nh = 60;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(p.ipv6_bad_ext);
    ext[2] = 0x05; /* unknown, action "skip": fine */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(!p.ipv6_bad_ext);

    memset(ext, 0, 16); /* DST, 16 bytes, PadN of 12: more than 7 bytes of padding */
    ext[0] = 6;
    ext[1] = 1;
    ext[2] = 1;
    ext[3] = 12;
    s.ext_len = 16;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(p.ipv6_bad_ext);

    memset(ext, 0, 16); /* AH (len 2 -> 16 bytes) -> TCP: walked through */
    ext[0] = 6;
    ext[1] = 2;
    s.first_nh = 51;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert_mem_eq(p.payload, s.payload, s.plen);

    for (int i = 0; i < DECODE_MAX_IPV6_EXT; i++) /* the longest chain allowed */
        craft_ext8(ext + 8 * i, i + 1 < DECODE_MAX_IPV6_EXT ? 60 : 6);
    s.first_nh = 60;
    s.ext_len = 8 * DECODE_MAX_IPV6_EXT;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    for (int i = 0; i <= DECODE_MAX_IPV6_EXT; i++) /* one more */
        craft_ext8(ext + 8 * i, i + 1 <= DECODE_MAX_IPV6_EXT ? 60 : 6);
    s.ext_len = 8 * (DECODE_MAX_IPV6_EXT + 1);
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_IPV6_EXT_DEPTH);

    craft_ext8(ext, 6); /* header length running past the payload */
    ext[1] = 200;
    s.ext_len = 8;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_IPV6_EXT);

    s.ext_len = 0; /* ESP and no-next-header */
    n = mk_ip(&s, ip);
    ip[6] = 50;
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_NOT_TCP_UDP);
    ip[6] = 59;
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_NOT_TCP_UDP);
    craft_put16(ip + 4, 5000); /* payload length past the frame */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_IP_LEN);
}
END_TEST

START_TEST(ipv6_fragment)
{
    struct spec s;
    uint8_t ip[3000], ext[32];
    struct pkt p;
    base_tcp(&s, 6);
    s.ext = ext;
    craft_ext8(ext, 44);                       /* DST -> FRAG -> TCP */
    craft_frag6(ext + 8, 6, 0, 1, 0xdeadbeef); /* offset 0, M */
    s.first_nh = 60;
    s.ext_len = 16;
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_FRAGMENT);
    ck_assert_uint_eq(p.frag_id, 0xdeadbeef);
    ck_assert(p.frag_more);
    ck_assert_uint_eq(p.frag_off, 0);
    ck_assert_int_eq(p.frag_hdr_off, 48);
    ck_assert_int_eq(p.frag_nh_off, 40);
    ck_assert_int_eq(p.frag_nexthdr, 6);
    ck_assert_uint_eq(p.frag_data_len, n - 56);
    craft_put16(ext + 10, 0); /* atomic fragment: a whole datagram */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert_mem_eq(p.payload, s.payload, s.plen);
    craft_put16(ext + 10, 64); /* offset 64, last */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_FRAGMENT);
    ck_assert_uint_eq(p.frag_off, 64);
    ck_assert(!p.frag_more);
}
END_TEST

/* ---- TCP --------------------------------------------------------------------------------- */

/* The 12-byte option blocks of established segments, read by the fast path: NOP NOP TS (Linux)
 * and TS followed by every pair of bytes, against what the option walk makes of them (an EOL
 * ends the list; a NOP goes on; another kind needs its length byte and room). */
START_TEST(tcp_timestamp_layouts)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    size_t n;
    uint8_t o[12] = { 1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0xa1, 0xb2, 0xc3, 0xd4 };
    base_tcp(&s, 4);
    s.tcpopt = o;
    s.tcpopt_len = sizeof o;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(p.has_ts && !p.has_mss && !p.has_sackperm && !p.has_wscale);
    ck_assert_uint_eq(p.tsval, 0x11223344u);
    ck_assert_uint_eq(p.tsecr, 0xa1b2c3d4u);
    o[3] = 9; /* TS with a wrong length: its 9 - 2 bytes skipped, then kind 0xd4 has no room */
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_TCP_OPTIONS);
    static const uint8_t ts_first[10] = { 8, 10, 0x11, 0x22, 0x33, 0x44, 0xa1, 0xb2, 0xc3, 0xd4 };
    memcpy(o, ts_first, sizeof ts_first);
    for (unsigned x = 0; x < 256; x++) {
        for (unsigned y = 0; y < 256; y++) {
            o[10] = (uint8_t)x;
            o[11] = (uint8_t)y;
            bool ok = x == 0 || (x == 1 && y <= 1) || (x >= 2 && y == 2);
            enum decode_result r = dec_ip(&s, ip, &n, &p);
            ck_assert_msg(r == (ok ? DECODE_OK : DECODE_BAD_TCP_OPTIONS), "x %u y %u: %d", x, y,
                          (int)r);
            if (!ok)
                continue;
            ck_assert(p.has_ts);
            ck_assert_uint_eq(p.tsval, 0x11223344u);
            ck_assert_uint_eq(p.tsecr, 0xa1b2c3d4u);
            ck_assert(p.has_sackperm == (x == 4)); /* kind 4 of length 2: SACK permitted */
            ck_assert(!p.has_mss && !p.has_wscale && !p.has_md5);
        }
    }
}
END_TEST

START_TEST(tcp_options)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    static const uint8_t syn_opts[] = {
        2,  4,  0x05, 0xb4,                         /* MSS 1460 */
        1,  3,  3,    15,                           /* NOP, wscale 15 (clamped to 14) */
        4,  2,  8,    10,   0, 0, 0, 9, 0, 0, 0, 7, /* SACK-perm, TS 9/7 */
        34, 10, 1,    2,    3, 4, 5, 6, 7, 8,       /* TFO cookie of 8 */
        1,  1,
    };
    static const uint8_t md5[] = { 19, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1 };
    base_tcp(&s, 4);
    s.flags = TCPF_SYN;
    s.tcpopt = syn_opts;
    s.tcpopt_len = sizeof syn_opts;
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
    ck_assert(p.has_mss);
    ck_assert_int_eq(p.mss, 1460);
    ck_assert(p.has_wscale);
    ck_assert_int_eq(p.wscale, 14);
    ck_assert(p.has_sackperm);
    ck_assert(p.has_ts);
    ck_assert_uint_eq(p.tsval, 9);
    ck_assert_uint_eq(p.tsecr, 7);
    ck_assert(p.has_fastopen);
    ck_assert_int_eq(p.fastopen_cookie_len, 8);
    ck_assert(!p.has_md5);
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert_mem_eq(p.payload, s.payload, s.plen);

    s.tcpopt = md5;
    s.tcpopt_len = sizeof md5;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(p.has_md5);

    static const uint8_t trunc_opt[] = { 1, 1, 1, 8 }; /* TS kind with no length byte room */
    s.tcpopt = trunc_opt;
    s.tcpopt_len = sizeof trunc_opt;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_TCP_OPTIONS);
    static const uint8_t long_opt[] = { 2, 9, 0, 0 };
    s.tcpopt = long_opt;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_TCP_OPTIONS);
    static const uint8_t len1[] = { 5, 1, 0, 0 };
    s.tcpopt = len1;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_BAD_TCP_OPTIONS);
    static const uint8_t odd_mss[] = { 2, 3, 5, 0 }; /* wrong length for a known kind: ignored */
    s.tcpopt = odd_mss;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(!p.has_mss);

    s.tcpopt = NULL;
    s.tcpopt_len = 0;
    s.bad_l4 = true;
    ck_assert_int_eq(dec_ip(&s, ip, &n, &p), DECODE_OK);
    ck_assert(!decode_l4_csum_ok(&p));

    s.bad_l4 = false;
    n = mk_ip(&s, ip);
    ip[20 + 12] = 0x40; /* doff 4 */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_TCP_HDRLEN);
    ip[20 + 12] = 0xf0; /* doff 15 = 60 bytes > segment? segment is 20 + 37 = 57 */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_BAD_TCP_HDRLEN);
}
END_TEST

START_TEST(tcp_urgent_and_flags)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    base_tcp(&s, 6);
    s.flags = TCPF_ACK | TCPF_URG | TCPF_FIN;
    s.urg = 3;
    size_t n = mk_ip(&s, ip);
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, n, &p), DECODE_OK);
    ck_assert_int_eq(p.tcp_flags, TCPF_ACK | TCPF_URG | TCPF_FIN);
    ck_assert_int_eq(p.urg_ptr, 3);
    ck_assert(decode_l4_csum_ok(&p));
}
END_TEST

/* ---- truncation: every prefix, on a guard page ------------------------------------------ */

static void all_prefixes(int link, const uint8_t *fr, size_t n, size_t link_hdr)
{
    struct pkt p;
    ck_assert_int_eq(dec(link, fr, n, &p), DECODE_OK);
    for (size_t k = 0; k < n; k++) {
        enum decode_result r = dec(link, fr, k, &p);
        ck_assert_msg(r != DECODE_OK, "prefix %zu of %zu decoded", k, n);
        if (k < link_hdr)
            ck_assert_msg(r == DECODE_TRUNC_LINK, "prefix %zu: %s", k, decode_result_name(r));
        else if (k - link_hdr < (fr[link_hdr] >> 4 == 4 ? 20u : 40u))
            ck_assert_msg(r == DECODE_TRUNC_IP, "prefix %zu: %s", k, decode_result_name(r));
        else
            ck_assert_msg(r == DECODE_BAD_IP_LEN, "prefix %zu: %s", k, decode_result_name(r));
    }
    guard_free();
}

START_TEST(truncated_everywhere)
{
    struct spec s;
    uint8_t ip[3000], fr[3100], ext[16];
    static const uint8_t opts[] = {
        2, 4, 5, 0xb4, 1, 3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1
    };
    static const uint16_t qinq[] = { 0x88a8, 0x8100, 0 };
    base_tcp(&s, 4);
    s.tcpopt = opts;
    s.tcpopt_len = sizeof opts;
    size_t n = mk_eth(fr, NULL, 0x0800, ip, mk_ip(&s, ip));
    all_prefixes(DECODE_LINK_ETHERNET, fr, n, 14);

    base_tcp(&s, 6);
    s.ext = ext;
    craft_ext8(ext, 60);
    craft_ext8(ext + 8, 6);
    s.ext_len = 16;
    s.first_nh = 0;
    n = mk_eth(fr, qinq, 0x86dd, ip, mk_ip(&s, ip));
    all_prefixes(DECODE_LINK_ETHERNET, fr, n, 22);

    static const uint8_t q[] = "quic-ish payload";
    memset(&s, 0, sizeof s);
    s.ipver = 4;
    s.proto = 17;
    s.sport = 5000;
    s.dport = 443;
    s.payload = q;
    s.plen = sizeof q;
    memset(fr, 0, 20);
    craft_put16(fr, 0x0800);
    n = 20 + mk_ip(&s, fr + 20);
    all_prefixes(DECODE_LINK_LINUX_SLL2, fr, n, 20);
    n = mk_ip(&s, ip);
    all_prefixes(DECODE_LINK_RAW, ip, n, 0);
}
END_TEST

START_TEST(truncated_l4)
{
    /* IP lengths consistent, L4 cut short: the L4 reasons */
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    base_tcp(&s, 4);
    s.plen = 0;
    size_t n = mk_ip(&s, ip);
    for (size_t k = 20; k < 40; k++) {
        craft_put16(ip + 2, (uint32_t)k);
        ip[10] = ip[11] = 0;
        craft_put16(ip + 10, craft_fold(craft_sum(0, ip, 20)));
        ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, k, &p), DECODE_TRUNC_TCP);
    }
    (void)n;
    memset(&s, 0, sizeof s);
    s.ipver = 6;
    s.proto = 17;
    n = mk_ip(&s, ip);
    for (size_t k = 40; k < 48; k++) {
        craft_put16(ip + 4, (uint32_t)(k - 40));
        ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, k, &p), DECODE_TRUNC_UDP);
    }
    craft_put16(ip + 4, 8);
    craft_put16(ip + 44, 9); /* UDP length past the IP payload */
    ck_assert_int_eq(dec(DECODE_LINK_RAW, ip, 48, &p), DECODE_BAD_UDP_LEN);
    guard_free();
}
END_TEST

/* ---- helpers ------------------------------------------------------------------------------- */

START_TEST(names_and_endpoints)
{
    for (int r = 0; r < DECODE_RESULT_COUNT; r++) {
        const char *a = decode_result_name((enum decode_result)r);
        ck_assert_str_ne(a, "unknown");
        for (int q = 0; q < r; q++)
            ck_assert_str_ne(a, decode_result_name((enum decode_result)q));
    }
    ck_assert_str_eq(decode_result_name(DECODE_RESULT_COUNT), "unknown");
    char buf[64];
    uint8_t a4[16] = { 192, 0, 2, 7 };
    ck_assert_str_eq(decode_fmt_endpoint(a4, 4, 443, buf, sizeof buf), "192.0.2.7:443");
    ck_assert_str_eq(decode_fmt_endpoint(SRC6, 6, 80, buf, sizeof buf), "[2001:db8::1]:80");
    char small[6];
    decode_fmt_endpoint(a4, 4, 443, small, sizeof small);
    ck_assert_str_eq(small, "192.0");
    /* IPv6 without snprintf: the same text as inet_ntop() for 200k addresses whose groups are
     * zero half the time (every run of zeros, ties, ends, embedded IPv4 forms) and any port */
    unsigned x = 777;
    for (int k = 0; k < 200000; k++) {
        uint8_t a6[16];
        for (int g = 0; g < 8; g++) {
            x = x * 1103515245u + 12345u;
            unsigned v = (x >> 16) & 1 ? 0 : (x >> 8) & ((x >> 20) & 1 ? 0xffffu : 0xfu);
            if (g == 5 && (x >> 25) % 4 == 0)
                v = 0xffff;
            a6[2 * g] = (uint8_t)(v >> 8);
            a6[2 * g + 1] = (uint8_t)v;
        }
        uint16_t port = (uint16_t)(x >> 3);
        char ip[INET6_ADDRSTRLEN], want[64];
        ck_assert_ptr_nonnull(inet_ntop(AF_INET6, a6, ip, sizeof ip));
        snprintf(want, sizeof want, "[%s]:%u", ip, (unsigned)port);
        ck_assert_str_eq(decode_fmt_endpoint(a6, 6, port, buf, sizeof buf), want);
    }
    /* IPv4: every port, every byte value in every position */
    for (uint32_t port = 0; port <= 0xffff; port++) {
        uint8_t a[16] = { (uint8_t)port, (uint8_t)(port >> 8), (uint8_t)(port * 7),
                          (uint8_t)(255 - port) };
        char ip[INET_ADDRSTRLEN], want[64];
        ck_assert_ptr_nonnull(inet_ntop(AF_INET, a, ip, sizeof ip));
        snprintf(want, sizeof want, "%s:%u", ip, (unsigned)port);
        ck_assert_str_eq(decode_fmt_endpoint(a, 4, (uint16_t)port, buf, sizeof buf), want);
    }
}
END_TEST

START_TEST(decode_ip_keeps_vlan)
{
    struct spec s;
    uint8_t ip[2000];
    struct pkt p;
    base_tcp(&s, 4);
    size_t n = mk_ip(&s, ip);
    memset(&p, 0x55, sizeof p);
    p.n_vlan = 2;
    p.vlan[0] = 10;
    p.vlan[1] = 20;
    ck_assert_int_eq(decode_ip(ip, n, &p), DECODE_OK);
    ck_assert_int_eq(p.n_vlan, 2);
    ck_assert_int_eq(p.vlan[1], 20);
    ck_assert(!p.ipv6_bad_ext);
    ck_assert(!p.has_md5);
    ck_assert_int_eq(decode_ip(ip, 0, &p), DECODE_TRUNC_IP);
}
END_TEST

/* ---- encapsulations ------------------------------------------------------------------------- */

/* What carries the inner packet. Each builder writes the tunnel bytes (header + inner) for
 * tun_body() and the outer headers for tun_outer(); the prefix tests cut the tunnel bytes. */
enum tun {
    TUN_MPLS,    /* Ethernet 0x8847, two labels, IPv4 */
    TUN_MPLS_PW, /* one label, control word, Ethernet + IPv4 */
    TUN_PPPOE,   /* Ethernet 0x8864, session 0x1234, PPP 0x0021 */
    TUN_GRE_KEY, /* IPv4 proto 47, GRE C+K+S, key 77, 0x0800 */
    TUN_GRE_TEB, /* IPv6 next header 47, GRE 0x6558, Ethernet + VLAN 7 + IPv4 */
    TUN_ERSPAN2, /* IPv4 GRE S 0x88BE, ERSPAN II session 300 */
    TUN_ERSPAN3, /* IPv4 GRE 0x22EB, ERSPAN III session 301 with platform sub-header */
    TUN_VXLAN,   /* IPv4 UDP 4789, VNI 5000 */
    TUN_GTPU,    /* IPv6 UDP 2152, TEID 0xdeadbeef, E flag, PDU session container */
    TUN_IPIP,    /* IPv4 proto 4 */
    TUN_6IN4,    /* IPv4 proto 41, inner IPv6 */
    TUN_4IN6,    /* IPv6 next header 4 */
    TUN_COUNT
};

static const uint8_t OUT4A[4] = { 192, 0, 2, 1 }, OUT4B[4] = { 192, 0, 2, 2 };
static const uint8_t OUT6A[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 1 };
static const uint8_t OUT6B[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 2 };

static int tun_inner_ver(enum tun t)
{
    return t == TUN_6IN4 ? 6 : 4;
}

/* Plain Ethernet II header (MACs 0x22) with ethertype type at out; returns 14. */
static size_t eth_hdr(uint8_t *out, uint16_t type)
{
    memset(out, 0x22, 12);
    craft_put16(out + 12, type);
    return 14;
}

/* The tunnel header of t followed by the inner packet (in, n); returns the length. */
static size_t tun_body(enum tun t, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    switch (t) {
    case TUN_MPLS:
        craft_put32(out, 16 << 12 | 0 << 8 | 64);     /* label 16, S=0 */
        craft_put32(out + 4, 17 << 12 | 1 << 8 | 64); /* label 17, S=1 */
        o = 8;
        break;
    case TUN_MPLS_PW:
        craft_put32(out, 18 << 12 | 1 << 8 | 64);
        craft_put32(out + 4, 0); /* control word */
        o = 8 + eth_hdr(out + 8, 0x0800);
        break;
    case TUN_PPPOE:
        out[0] = 0x11;
        out[1] = 0;
        craft_put16(out + 2, 0x1234);
        craft_put16(out + 4, (uint32_t)(n + 2));
        craft_put16(out + 6, 0x0021);
        o = 8;
        break;
    case TUN_GRE_KEY:
        craft_put16(out, 0x8000 | 0x2000 | 0x1000);
        craft_put16(out + 2, 0x0800);
        craft_put32(out + 4, 0); /* checksum + reserved */
        craft_put32(out + 8, 77);
        craft_put32(out + 12, 1);
        o = 16;
        break;
    case TUN_GRE_TEB:
        craft_put16(out, 0);
        craft_put16(out + 2, 0x6558);
        memset(out + 4, 0x33, 12);
        craft_put16(out + 16, 0x8100);
        craft_put16(out + 18, 7);
        craft_put16(out + 20, 0x0800);
        o = 22;
        break;
    case TUN_ERSPAN2:
        craft_put16(out, 0x1000);
        craft_put16(out + 2, 0x88be);
        craft_put32(out + 4, 9);
        craft_put16(out + 8, 1 << 12 | 5); /* ver 1, vlan 5 */
        craft_put16(out + 10, 300);        /* session */
        craft_put32(out + 12, 0);
        o = 16 + eth_hdr(out + 16, 0x0800);
        break;
    case TUN_ERSPAN3:
        craft_put16(out, 0);
        craft_put16(out + 2, 0x22eb);
        craft_put16(out + 4, 2 << 12);
        craft_put16(out + 6, 301);
        craft_put32(out + 8, 0x01020304); /* timestamp */
        craft_put16(out + 12, 0);         /* sgt */
        craft_put16(out + 14, 1);         /* ft 0 (Ethernet), o = 1 */
        memset(out + 16, 0x44, 8);        /* platform-specific sub-header */
        o = 24 + eth_hdr(out + 24, 0x0800);
        break;
    case TUN_VXLAN:
        craft_put32(out, 0x08000000);
        craft_put32(out + 4, 5000 << 8);
        o = 8 + eth_hdr(out + 8, 0x0800);
        break;
    case TUN_GTPU:
        out[0] = 0x34; /* version 1, PT, E */
        out[1] = 255;
        craft_put32(out + 4, 0xdeadbeef);
        craft_put16(out + 8, 0); /* sequence (not valid: S clear) */
        out[10] = 0;             /* N-PDU */
        out[11] = 0x85;          /* next: PDU session container */
        out[12] = 1;             /* 4 bytes */
        out[13] = 0x10;          /* UL PDU session information */
        out[14] = 9;             /* QFI */
        out[15] = 0;             /* no more */
        o = 16;
        craft_put16(out + 2, (uint32_t)(o - 8 + n));
        break;
    case TUN_IPIP:
    case TUN_6IN4:
    case TUN_4IN6:
    case TUN_COUNT: break;
    }
    memcpy(out + o, in, n);
    return o + n;
}

/* The outer Ethernet (+ IP + UDP) around the tunnel bytes (b, n); returns the frame length. */
static size_t tun_outer(enum tun t, const uint8_t *b, size_t n, uint8_t *out)
{
    size_t o;
    uint8_t udp[2100];
    switch (t) {
    case TUN_MPLS:
    case TUN_MPLS_PW:
        o = eth_hdr(out, 0x8847);
        memcpy(out + o, b, n);
        return o + n;
    case TUN_PPPOE:
        o = eth_hdr(out, 0x8864);
        memcpy(out + o, b, n);
        return o + n;
    case TUN_GRE_KEY:
    case TUN_ERSPAN2:
    case TUN_ERSPAN3:
    case TUN_IPIP:
    case TUN_6IN4: {
        uint8_t proto = t == TUN_IPIP ? 4 : t == TUN_6IN4 ? 41 : 47;
        o = eth_hdr(out, 0x0800);
        return o + craft_ip4(out + o, OUT4A, OUT4B, 1, 0, proto, b, n);
    }
    case TUN_GRE_TEB:
    case TUN_4IN6:
        o = eth_hdr(out, 0x86dd);
        o += craft_ip6(out + o, OUT6A, OUT6B, t == TUN_4IN6 ? 4 : 47, n);
        memcpy(out + o, b, n);
        return o + n;
    case TUN_VXLAN:
    case TUN_GTPU:
        craft_put16(udp, 50000);
        craft_put16(udp + 2, t == TUN_VXLAN ? 4789 : 2152);
        craft_put16(udp + 4, (uint32_t)(8 + n));
        craft_put16(udp + 6, 0);
        memcpy(udp + 8, b, n);
        if (t == TUN_VXLAN) {
            o = eth_hdr(out, 0x0800);
            return o + craft_ip4(out + o, OUT4A, OUT4B, 1, 0, 17, udp, 8 + n);
        }
        o = eth_hdr(out, 0x86dd);
        o += craft_ip6(out + o, OUT6A, OUT6B, 17, 8 + n);
        memcpy(out + o, udp, 8 + n);
        return o + 8 + n;
    case TUN_COUNT: break;
    }
    return 0;
}

/* Length of t's tunnel header (what tun_body() puts before the inner packet). */
static size_t tun_hdr_len(enum tun t)
{
    uint8_t b[64];
    return tun_body(t, b, 0, b);
}

static size_t tun_frame(enum tun t, const uint8_t *in, size_t n, uint8_t *out)
{
    uint8_t b[2100];
    return tun_outer(t, b, tun_body(t, in, n, b), out);
}

struct tun_want {
    uint8_t encap, kind;
    uint32_t zone, tunnel_id;
};

static const struct tun_want TUN_WANT[TUN_COUNT] = {
    [TUN_MPLS] = { 2, DECODE_ENCAP_MPLS, 0, 0 },
    [TUN_MPLS_PW] = { 1, DECODE_ENCAP_MPLS, 0, 0 },
    [TUN_PPPOE] = { 1, DECODE_ENCAP_PPPOE, 0x1234, 0 },
    [TUN_GRE_KEY] = { 1, DECODE_ENCAP_GRE, 77, 77 },
    [TUN_GRE_TEB] = { 1, DECODE_ENCAP_GRE, 7, 0 },
    [TUN_ERSPAN2] = { 2, DECODE_ENCAP_ERSPAN, 300, 300 },
    [TUN_ERSPAN3] = { 2, DECODE_ENCAP_ERSPAN, 301, 301 },
    [TUN_VXLAN] = { 1, DECODE_ENCAP_VXLAN, 5000, 5000 },
    [TUN_GTPU] = { 1, DECODE_ENCAP_GTPU, 0, 0xdeadbeef }, /* TEID not in the zone */
    [TUN_IPIP] = { 1, DECODE_ENCAP_IPIP, 0, 0 },
    [TUN_6IN4] = { 1, DECODE_ENCAP_IPIP, 0, 0 },
    [TUN_4IN6] = { 1, DECODE_ENCAP_IPIP, 0, 0 },
};

START_TEST(encap_valid)
{
    enum tun t = (enum tun)_i;
    struct spec s;
    uint8_t in[2000], fr[2300];
    struct pkt p;
    base_tcp(&s, tun_inner_ver(t));
    size_t il = mk_ip(&s, in);
    size_t n = tun_frame(t, in, il, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.ipver, tun_inner_ver(t));
    ck_assert_mem_eq(p.src, p.ipver == 4 ? SRC4 : SRC6, p.ipver == 4 ? 4 : 16);
    ck_assert_mem_eq(p.dst, p.ipver == 4 ? DST4 : DST6, p.ipver == 4 ? 4 : 16);
    ck_assert_int_eq(p.l4proto, 6);
    ck_assert_int_eq(p.sport, 40000);
    ck_assert_int_eq(p.dport, 443);
    ck_assert_uint_eq(p.payload_len, s.plen);
    ck_assert_mem_eq(p.payload, s.payload, s.plen);
    ck_assert_uint_eq(p.l3_len, il);
    ck_assert(decode_l4_csum_ok(&p)); /* inner pseudo-header: inner addresses */
    ck_assert_int_eq(p.encap, TUN_WANT[t].encap);
    ck_assert_int_eq(p.encap_kind, TUN_WANT[t].kind);
    ck_assert_uint_eq(p.zone, TUN_WANT[t].zone);
    ck_assert_uint_eq(p.tunnel_id, TUN_WANT[t].tunnel_id);
    guard_free();
}
END_TEST

/* Every prefix of the whole frame, and every cut of the tunnel bytes with the outer lengths
 * made consistent (so the tunnel parser itself meets the short input), placed on a guard page:
 * never OK, never a read past the end, and a cut inside the tunnel header says so. */
START_TEST(encap_truncated)
{
    enum tun t = (enum tun)_i;
    struct spec s;
    uint8_t in[2000], body[2100], fr[2300];
    struct pkt p;
    base_tcp(&s, tun_inner_ver(t));
    size_t il = mk_ip(&s, in);
    size_t bl = tun_body(t, in, il, body);
    size_t n = tun_outer(t, body, bl, fr);
    for (size_t k = 0; k < n; k++) {
        enum decode_result r = dec(DECODE_LINK_ETHERNET, fr, k, &p);
        ck_assert_msg(r != DECODE_OK, "tunnel %d: frame prefix %zu of %zu decoded", t, k, n);
    }
    size_t hl = tun_hdr_len(t);
    for (size_t k = 0; k < bl; k++) {
        size_t m = tun_outer(t, body, k, fr);
        enum decode_result r = dec(DECODE_LINK_ETHERNET, fr, m, &p);
        ck_assert_msg(r != DECODE_OK, "tunnel %d: cut at %zu of %zu decoded", t, k, bl);
        if (t == TUN_IPIP || t == TUN_6IN4 || t == TUN_4IN6)
            continue;
        if (k < hl && t != TUN_GRE_TEB && t != TUN_MPLS_PW && t != TUN_ERSPAN2 &&
            t != TUN_ERSPAN3 && t != TUN_VXLAN)
            ck_assert_msg(r == DECODE_TRUNC_ENCAP, "tunnel %d: cut at %zu: %s", t, k,
                          decode_result_name(r));
        else if (k < hl) /* the inner Ethernet header or the VLAN tag behind it */
            ck_assert_msg(r == DECODE_TRUNC_ENCAP || r == DECODE_TRUNC_LINK,
                          "tunnel %d: cut at %zu: %s", t, k, decode_result_name(r));
        else
            ck_assert_msg(r == DECODE_TRUNC_IP || r == DECODE_BAD_IP_LEN || r == DECODE_TRUNC_ENCAP,
                          "tunnel %d: cut at %zu: %s", t, k, decode_result_name(r));
    }
    guard_free();
}
END_TEST

START_TEST(encap_depth)
{
    struct spec s;
    uint8_t in[2000], a[2400], b[2400], fr[2500];
    struct pkt p;
    base_tcp(&s, 4);
    size_t n = mk_ip(&s, in);
    /* MPLS: 8 labels is the most crossed, 9 is the depth error */
    for (size_t labels = 1; labels <= 9; labels++) {
        size_t o = eth_hdr(fr, 0x8847);
        for (size_t i = 0; i < labels; i++, o += 4)
            craft_put32(fr + o, (uint32_t)(16 + i) << 12 | (i + 1 == labels ? 1u : 0u) << 8 | 64);
        memcpy(fr + o, in, n);
        enum decode_result r = dec(DECODE_LINK_ETHERNET, fr, o + n, &p);
        ck_assert_int_eq(r, labels <= DECODE_MAX_ENCAP ? DECODE_OK : DECODE_ENCAP_DEPTH);
        if (r == DECODE_OK)
            ck_assert_int_eq(p.encap, labels);
    }
    /* IPv4-in-IPv4 nested: 8 layers decode, 9 do not */
    memcpy(a, in, n);
    size_t len = n;
    for (int layers = 1; layers <= 9; layers++) {
        len = craft_ip4(b, OUT4A, OUT4B, (uint16_t)layers, 0, 4, a, len);
        memcpy(a, b, len);
        size_t m = eth_hdr(fr, 0x0800);
        memcpy(fr + m, a, len);
        enum decode_result r = dec(DECODE_LINK_ETHERNET, fr, m + len, &p);
        ck_assert_int_eq(r, layers <= DECODE_MAX_ENCAP ? DECODE_OK : DECODE_ENCAP_DEPTH);
        if (r == DECODE_OK) {
            ck_assert_int_eq(p.encap, layers);
            ck_assert_mem_eq(p.src, SRC4, 4);
        }
    }
    /* GRE/IPv4 nested: 8 layers decode, 9 do not */
    size_t o = eth_hdr(fr, 0x0800);
    memcpy(a, in, n);
    len = n;
    for (int layers = 1; layers <= 9; layers++) {
        craft_put16(b, 0);
        craft_put16(b + 2, 0x0800);
        memcpy(b + 4, a, len);
        len = craft_ip4(a, OUT4A, OUT4B, 1, 0, 47, b, len + 4);
        memcpy(fr + o, a, len);
        enum decode_result r = dec(DECODE_LINK_ETHERNET, fr, o + len, &p);
        ck_assert_int_eq(r, layers <= DECODE_MAX_ENCAP ? DECODE_OK : DECODE_ENCAP_DEPTH);
    }
    guard_free();
}
END_TEST

START_TEST(encap_malformed)
{
    struct spec s;
    uint8_t in[2000], body[2100], fr[2300];
    struct pkt p;
    base_tcp(&s, 4);
    size_t il = mk_ip(&s, in);
    size_t bl, n;

    /* GRE version 1 (PPTP) and the RFC 1701 routing bit */
    bl = tun_body(TUN_GRE_KEY, in, il, body);
    body[1] |= 1;
    n = tun_outer(TUN_GRE_KEY, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_ENCAP);
    bl = tun_body(TUN_GRE_KEY, in, il, body);
    body[0] |= 0x40;
    n = tun_outer(TUN_GRE_KEY, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_ENCAP);
    /* GRE protocol that is not carried (PPP 0x880b) */
    bl = tun_body(TUN_GRE_KEY, in, il, body);
    craft_put16(body + 2, 0x880b);
    n = tun_outer(TUN_GRE_KEY, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_NOT_IP);
    /* GRE says IPv4, the packet is IPv6 */
    bl = tun_body(TUN_GRE_KEY, in, il, body);
    craft_put16(body + 2, 0x86dd);
    n = tun_outer(TUN_GRE_KEY, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_IP_VERSION);
    /* ERSPAN II header with version 2 */
    bl = tun_body(TUN_ERSPAN2, in, il, body);
    body[8] = 0x20;
    n = tun_outer(TUN_ERSPAN2, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_ENCAP);
    /* ERSPAN type I: 0x88BE without the S bit, the frame right after GRE */
    bl = tun_body(TUN_ERSPAN2, in, il, body);
    craft_put16(body, 0);
    memmove(body + 4, body + 16, bl - 16);
    n = tun_outer(TUN_ERSPAN2, body, bl - 12, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.encap, 1);
    /* PPPoE discovery code, PPP control protocol (LCP), compressed protocol field */
    bl = tun_body(TUN_PPPOE, in, il, body);
    body[1] = 0x09;
    n = tun_outer(TUN_PPPOE, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_ENCAP);
    bl = tun_body(TUN_PPPOE, in, il, body);
    craft_put16(body + 6, 0xc021);
    n = tun_outer(TUN_PPPOE, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_NOT_IP);
    bl = tun_body(TUN_PPPOE, in, il, body);
    body[6] = 0x21;
    memmove(body + 7, body + 8, bl - 8);
    craft_put16(body + 4, (uint32_t)(il + 1));
    n = tun_outer(TUN_PPPOE, body, bl - 1, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    /* PPPoE length longer than the frame */
    bl = tun_body(TUN_PPPOE, in, il, body);
    craft_put16(body + 4, (uint32_t)(il + 3));
    n = tun_outer(TUN_PPPOE, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_TRUNC_ENCAP);
    /* MPLS payload neither IP nor a control word */
    bl = tun_body(TUN_MPLS, in, il, body);
    body[8] = 0x55;
    n = tun_outer(TUN_MPLS, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_NOT_IP);
    /* VXLAN without the I flag */
    bl = tun_body(TUN_VXLAN, in, il, body);
    body[0] = 0;
    n = tun_outer(TUN_VXLAN, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_ENCAP);
    /* GTP-U: echo request, extension length 0, length past the datagram, not GTPv1 */
    bl = tun_body(TUN_GTPU, in, il, body);
    body[1] = 1;
    n = tun_outer(TUN_GTPU, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_NOT_IP);
    bl = tun_body(TUN_GTPU, in, il, body);
    body[12] = 0;
    n = tun_outer(TUN_GTPU, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_BAD_ENCAP);
    bl = tun_body(TUN_GTPU, in, il, body);
    craft_put16(body + 2, (uint32_t)(bl - 7));
    n = tun_outer(TUN_GTPU, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_TRUNC_ENCAP);
    bl = tun_body(TUN_GTPU, in, il, body);
    body[0] = 0xc3; /* a QUIC long header sent to port 2152 is plain UDP */
    n = tun_outer(TUN_GTPU, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_int_eq(p.encap, 0);
    ck_assert_int_eq(p.l4proto, 17);
    ck_assert_int_eq(p.dport, 2152);
    /* GTP-U without extensions, and with S and PN only */
    bl = tun_body(TUN_GTPU, in, il, body);
    body[0] = 0x30;
    memmove(body + 8, body + 16, bl - 16);
    craft_put16(body + 2, (uint32_t)il);
    n = tun_outer(TUN_GTPU, body, bl - 8, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.tunnel_id, 0xdeadbeef);
    guard_free();
}
END_TEST

/* The zone separates equal inner addresses in different VLANs / tunnels; fragments of an inner
 * packet keep it, and so does the reassembled datagram (decode_ip). */
START_TEST(encap_zone)
{
    struct spec s;
    uint8_t in[2000], body[2100], fr[2400], vfr[2400];
    struct pkt p;
    base_tcp(&s, 4);
    size_t il = mk_ip(&s, in);
    size_t bl = tun_body(TUN_VXLAN, in, il, body);
    size_t n = tun_outer(TUN_VXLAN, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    uint32_t z5000 = p.zone;
    craft_put32(body + 4, 5001 << 8);
    n = tun_outer(TUN_VXLAN, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_OK);
    ck_assert_uint_ne(p.zone, z5000);
    /* the same VXLAN behind VLAN 100: another zone again; a lone VLAN tag is its id */
    static const uint16_t one[] = { 0x8100, 0 };
    craft_put32(body + 4, 5000 << 8);
    n = tun_outer(TUN_VXLAN, body, bl, fr);
    size_t vn = mk_eth(vfr, one, 0x0800, fr + 14, n - 14);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, vfr, vn, &p), DECODE_OK);
    ck_assert_uint_ne(p.zone, z5000);
    ck_assert_uint_ne(p.zone, 100);
    vn = mk_eth(vfr, one, 0x0800, in, il);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, vfr, vn, &p), DECODE_OK);
    ck_assert_uint_eq(p.zone, 100);
    ck_assert_int_eq(p.encap, 0);

    /* an inner IPv4 fragment in VXLAN: reported with the zone, for defrag */
    s.fragfield = 0x2000; /* MF, offset 0 */
    il = mk_ip(&s, in);
    bl = tun_body(TUN_VXLAN, in, il, body);
    n = tun_outer(TUN_VXLAN, body, bl, fr);
    ck_assert_int_eq(dec(DECODE_LINK_ETHERNET, fr, n, &p), DECODE_FRAGMENT);
    ck_assert_uint_eq(p.zone, z5000);
    ck_assert_int_eq(p.encap, 1);
    ck_assert_mem_eq(p.src, SRC4, 4);
    s.fragfield = 0;
    il = mk_ip(&s, in);
    ck_assert_int_eq(decode_ip(in, il, &p), DECODE_OK);
    ck_assert_uint_eq(p.zone, z5000);
    ck_assert_int_eq(p.encap, 1);
    ck_assert_int_eq(p.encap_kind, DECODE_ENCAP_VXLAN);
    ck_assert_uint_eq(p.tunnel_id, 5000);
    guard_free();
}
END_TEST

/* DLT_PPP (9), DLT_PPP_SERIAL (50): HDLC address/control optional, 2- or 1-byte protocol. */
START_TEST(link_ppp)
{
    struct spec s;
    uint8_t ip4[2000], ip6[2000], fr[2100];
    struct pkt p;
    base_tcp(&s, 4);
    size_t n4 = mk_ip(&s, ip4);
    base_tcp(&s, 6);
    size_t n6 = mk_ip(&s, ip6);
    static const int links[] = { DECODE_LINK_PPP, DECODE_LINK_PPP_SERIAL };
    for (int li = 0; li < 2; li++) {
        int link = links[li];
        /* ff 03 00 21 | IPv4 */
        fr[0] = 0xff;
        fr[1] = 0x03;
        craft_put16(fr + 2, 0x0021);
        memcpy(fr + 4, ip4, n4);
        ck_assert_int_eq(dec(link, fr, 4 + n4, &p), DECODE_OK);
        ck_assert_int_eq(p.ipver, 4);
        ck_assert_int_eq(p.dport, 443);
        ck_assert_int_eq(p.encap, 0);
        ck_assert(decode_l4_csum_ok(&p));
        for (size_t k = 0; k < 4 + n4; k++) {
            enum decode_result r = dec(link, fr, k, &p);
            ck_assert_msg(r != DECODE_OK, "prefix %zu decoded", k);
            if (k < 4)
                ck_assert_msg(r == DECODE_TRUNC_LINK || (k == 2 && r == DECODE_NOT_IP) ||
                                  (k == 3 && r == DECODE_TRUNC_IP),
                              "prefix %zu: %s", k, decode_result_name(r));
            else
                ck_assert_msg(r == DECODE_TRUNC_IP || r == DECODE_BAD_IP_LEN, "prefix %zu: %s", k,
                              decode_result_name(r));
        }
        /* 00 57 | IPv6 without the HDLC bytes */
        craft_put16(fr, 0x0057);
        memcpy(fr + 2, ip6, n6);
        ck_assert_int_eq(dec(link, fr, 2 + n6, &p), DECODE_OK);
        ck_assert_int_eq(p.ipver, 6);
        ck_assert(decode_l4_csum_ok(&p));
        /* ff 03 21 | IPv4: protocol-field compression */
        fr[0] = 0xff;
        fr[1] = 0x03;
        fr[2] = 0x21;
        memcpy(fr + 3, ip4, n4);
        ck_assert_int_eq(dec(link, fr, 3 + n4, &p), DECODE_OK);
        ck_assert_int_eq(p.ipver, 4);
        /* LCP is not IP; the protocol must agree with the version nibble */
        craft_put16(fr + 2, 0xc021);
        ck_assert_int_eq(dec(link, fr, 4 + 20, &p), DECODE_NOT_IP);
        craft_put16(fr + 2, 0x0057);
        memcpy(fr + 4, ip4, n4);
        ck_assert_int_eq(dec(link, fr, 4 + n4, &p), DECODE_BAD_IP_VERSION);
    }
    /* DLT_PPP_ETHER (51): the PPPoE session header starts the frame */
    uint8_t body[2100];
    size_t bl = tun_body(TUN_PPPOE, ip4, n4, body);
    ck_assert_int_eq(dec(DECODE_LINK_PPP_ETHER, body, bl, &p), DECODE_OK);
    ck_assert_uint_eq(p.zone, 0x1234);
    guard_free();
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, eth_ipv4_tcp);
    tcase_add_test(tc, eth_padding_clamped);
    tcase_add_test(tc, udp_checksums);
    tcase_add_test(tc, l4_checksum_lengths);
    tcase_add_test(tc, vlan_qinq);
    tcase_add_test(tc, link_types);
    tcase_add_test(tc, ipv4_fragment);
    tcase_add_test(tc, ipv6_fragment);
    tcase_add_test(tc, tcp_urgent_and_flags);
    tcase_add_test(tc, names_and_endpoints);
    tcase_add_test(tc, decode_ip_keeps_vlan);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, ipv4_options_and_errors);
    tcase_add_test(tc, ipv6_ext_chain);
    tcase_add_test(tc, tcp_options);
    tcase_add_test(tc, tcp_timestamp_layouts);
    suite_add_tcase(s, tc);
    tc = tcase_create("truncated");
    tcase_add_test(tc, truncated_everywhere);
    tcase_add_test(tc, truncated_l4);
    suite_add_tcase(s, tc);
    tc = tcase_create("encap");
    tcase_add_loop_test(tc, encap_valid, 0, TUN_COUNT);
    tcase_add_loop_test(tc, encap_truncated, 0, TUN_COUNT);
    tcase_add_test(tc, encap_depth);
    tcase_add_test(tc, encap_malformed);
    tcase_add_test(tc, encap_zone);
    tcase_add_test(tc, link_ppp);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(decode_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
