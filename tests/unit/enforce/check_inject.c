/* check_inject.c - Check suite for the tap-mode frame builders (proxy/inject.c): exact header
 * fields, checksums verified by recomputation and by decode_packet(), VLAN tags kept, IPv6, the
 * sequence numbers of a whole block, the QUIC close datagram (reversed UDP, server-direction
 * Initial that opens to CONNECTION_CLOSE), and the limits (buffer, frame budget, link types). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/packet/decode.h"
#include "proxy/enforce/inject.h"
#include "tests/lib/craft.h"
#include "tests/lib/guard.h"

static const uint8_t CLI4[16] = { 192, 0, 2, 10 };
static const uint8_t SRV4[16] = { 198, 51, 100, 20 };
static const uint8_t CLI6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
static const uint8_t SRV6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x20 };
static const uint8_t MAC_CLI[6] = { 0x02, 0, 0, 0, 0, 0xc1 };
static const uint8_t MAC_SRV[6] = { 0x02, 0, 0, 0, 0, 0x5e };

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Independent one's-complement sum (not the code under test). */
static uint32_t sum_words(uint32_t acc, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* True if the TCP checksum of the segment at tcp (len bytes) verifies. */
static bool tcp_sum_ok(int ipver, const uint8_t *src, const uint8_t *dst, const uint8_t *tcp,
                       size_t len)
{
    size_t al = ipver == 4 ? 4 : 16;
    uint32_t acc = sum_words(0, src, al);
    acc = sum_words(acc, dst, al);
    acc += IPPROTO_TCP + (uint32_t)len;
    acc = sum_words(acc, tcp, len);
    return fold(acc) == 0xffff;
}

/* An Ethernet header client->server with the given VLAN tags. Returns its length. */
static size_t eth_hdr(uint8_t *h, const uint16_t *tpids, const uint16_t *tcis, size_t ntags,
                      int ipver)
{
    memcpy(h, MAC_SRV, 6);
    memcpy(h + 6, MAC_CLI, 6);
    size_t o = 12;
    for (size_t i = 0; i < ntags; i++) {
        h[o] = (uint8_t)(tpids[i] >> 8);
        h[o + 1] = (uint8_t)tpids[i];
        h[o + 2] = (uint8_t)(tcis[i] >> 8);
        h[o + 3] = (uint8_t)tcis[i];
        o += 4;
    }
    uint16_t et = ipver == 4 ? 0x0800 : 0x86dd;
    h[o] = (uint8_t)(et >> 8);
    h[o + 1] = (uint8_t)et;
    return o + 2;
}

/* ---- inject_build_tcp ------------------------------------------------------------------ */

START_TEST(build_ipv4_rst_exact)
{
    uint8_t l2[14], buf[128];
    size_t hl = eth_hdr(l2, NULL, NULL, 0, 4);
    struct inject_tcp t = { .ipver = 4,
                            .src = CLI4,
                            .dst = SRV4,
                            .sport = 40000,
                            .dport = 443,
                            .seq = 0x11223344,
                            .ack = 0xaabbccdd,
                            .flags = TCPF_RST | TCPF_ACK,
                            .win = 0,
                            .ip_id = 0x1234 };
    size_t n = inject_build_tcp(buf, sizeof(buf), l2, hl, &t);
    ck_assert_uint_eq(n, 14 + 20 + 20);
    ck_assert_mem_eq(buf, MAC_SRV, 6);
    ck_assert_mem_eq(buf + 6, MAC_CLI, 6);
    ck_assert_uint_eq(be16(buf + 12), 0x0800);
    const uint8_t *ip = buf + 14;
    ck_assert_uint_eq(ip[0], 0x45);
    ck_assert_uint_eq(be16(ip + 2), 40);
    ck_assert_uint_eq(be16(ip + 4), 0x1234);
    ck_assert_uint_eq(be16(ip + 6), 0x4000);
    ck_assert_uint_eq(ip[8], 64);
    ck_assert_uint_eq(ip[9], IPPROTO_TCP);
    ck_assert_mem_eq(ip + 12, CLI4, 4);
    ck_assert_mem_eq(ip + 16, SRV4, 4);
    ck_assert_uint_eq(fold(sum_words(0, ip, 20)), 0xffff);
    const uint8_t *tcp = ip + 20;
    ck_assert_uint_eq(be16(tcp), 40000);
    ck_assert_uint_eq(be16(tcp + 2), 443);
    ck_assert_uint_eq(be32(tcp + 4), 0x11223344);
    ck_assert_uint_eq(be32(tcp + 8), 0xaabbccdd);
    ck_assert_uint_eq(tcp[12], 0x50);
    ck_assert_uint_eq(tcp[13], TCPF_RST | TCPF_ACK);
    ck_assert_uint_eq(be16(tcp + 14), 0);
    ck_assert_uint_eq(be16(tcp + 18), 0);
    ck_assert(tcp_sum_ok(4, CLI4, SRV4, tcp, 20));

    struct pkt p;
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, buf, n, &p), DECODE_OK);
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert_uint_eq(p.seq, 0x11223344);
    ck_assert_uint_eq(p.ack, 0xaabbccdd);
    ck_assert_uint_eq(p.tcp_flags, TCPF_RST | TCPF_ACK);
    ck_assert_uint_eq(p.ttl, 64);
    ck_assert_uint_eq(p.payload_len, 0);
}
END_TEST

START_TEST(build_ipv6_data_exact)
{
    static const char body[] = "HTTP/1.1 302 Found\r\nLocation: http://n/\r\n\r\n"; /* odd length */
    uint8_t l2[14], buf[256];
    size_t hl = eth_hdr(l2, NULL, NULL, 0, 6);
    struct inject_tcp t = { .ipver = 6,
                            .src = SRV6,
                            .dst = CLI6,
                            .sport = 80,
                            .dport = 51000,
                            .seq = 0xfffffff0,
                            .ack = 7,
                            .flags = TCPF_ACK | TCPF_PSH | TCPF_FIN,
                            .win = 1000,
                            .payload = (const uint8_t *)body,
                            .payload_len = sizeof(body) - 1 };
    ck_assert_uint_eq((sizeof(body) - 1) % 2, 1);
    size_t n = inject_build_tcp(buf, sizeof(buf), l2, hl, &t);
    ck_assert_uint_eq(n, 14 + 40 + 20 + sizeof(body) - 1);
    ck_assert_uint_eq(be16(buf + 12), 0x86dd);
    const uint8_t *ip = buf + 14;
    ck_assert_uint_eq(be32(ip), 0x60000000u);
    ck_assert_uint_eq(be16(ip + 4), 20 + sizeof(body) - 1);
    ck_assert_uint_eq(ip[6], IPPROTO_TCP);
    ck_assert_uint_eq(ip[7], 64);
    ck_assert_mem_eq(ip + 8, SRV6, 16);
    ck_assert_mem_eq(ip + 24, CLI6, 16);
    const uint8_t *tcp = ip + 40;
    ck_assert_uint_eq(be16(tcp + 14), 1000);
    ck_assert_mem_eq(tcp + 20, body, sizeof(body) - 1);
    ck_assert(tcp_sum_ok(6, SRV6, CLI6, tcp, 20 + sizeof(body) - 1));

    struct pkt p;
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, buf, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.ipver, 6);
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert_uint_eq(p.payload_len, sizeof(body) - 1);
    ck_assert_uint_eq(p.sport, 80);
    ck_assert_uint_eq(p.dport, 51000);

    /* One flipped payload bit must break the checksum (the check above can fail). */
    buf[n - 1] ^= 0x01;
    ck_assert(!tcp_sum_ok(6, SRV6, CLI6, buf + 14 + 40, 20 + sizeof(body) - 1));
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, buf, n, &p), DECODE_OK);
    ck_assert(!decode_l4_csum_ok(&p));
}
END_TEST

START_TEST(build_raw_ip)
{
    uint8_t buf[64];
    struct inject_tcp t = { .ipver = 4,
                            .src = SRV4,
                            .dst = CLI4,
                            .sport = 443,
                            .dport = 1,
                            .seq = 1,
                            .ack = 2,
                            .flags = TCPF_RST };
    size_t n = inject_build_tcp(buf, sizeof(buf), NULL, 0, &t);
    ck_assert_uint_eq(n, 40);
    struct pkt p;
    ck_assert_int_eq(decode_packet(DECODE_LINK_RAW, buf, n, &p), DECODE_OK);
    ck_assert(decode_l4_csum_ok(&p));
    ck_assert_mem_eq(p.src, SRV4, 4);
}
END_TEST

START_TEST(build_limits)
{
    uint8_t l2[14], buf[128];
    size_t hl = eth_hdr(l2, NULL, NULL, 0, 4);
    struct inject_tcp t = { .ipver = 4, .src = CLI4, .dst = SRV4, .flags = TCPF_RST };
    /* Exactly fitting capacity works, one byte less does not. */
    ck_assert_uint_eq(inject_build_tcp(buf, 54, l2, hl, &t), 54);
    ck_assert_uint_eq(inject_build_tcp(buf, 53, l2, hl, &t), 0);
    t.ipver = 5;
    ck_assert_uint_eq(inject_build_tcp(buf, sizeof(buf), l2, hl, &t), 0);
    t.ipver = 4;
    t.payload_len = 65535; /* the IP total length would overflow */
    t.payload = buf;
    ck_assert_uint_eq(inject_build_tcp(buf, sizeof(buf), l2, hl, &t), 0);
}
END_TEST

/* ---- inject_l2_from_frame -------------------------------------------------------------- */

START_TEST(l2_swap_plain)
{
    uint8_t f[64];
    memset(f, 0xee, sizeof(f));
    size_t hl = eth_hdr(f, NULL, NULL, 0, 4);
    struct inject_l2 l2;
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, f, sizeof(f), true, 4, &l2), 0);
    ck_assert_uint_eq(l2.len, hl);
    ck_assert_mem_eq(l2.to_server, f, 14);      /* as the client sent it */
    ck_assert_mem_eq(l2.to_client, MAC_CLI, 6); /* swapped */
    ck_assert_mem_eq(l2.to_client + 6, MAC_SRV, 6);

    /* Triggered by a server packet: the frame's own direction is towards the client. */
    uint8_t g[64];
    memcpy(g, MAC_CLI, 6);
    memcpy(g + 6, MAC_SRV, 6);
    g[12] = 0x86;
    g[13] = 0xdd;
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, g, 60, false, 6, &l2), 0);
    ck_assert_mem_eq(l2.to_client, MAC_CLI, 6);
    ck_assert_mem_eq(l2.to_server, MAC_SRV, 6);
    ck_assert_mem_eq(l2.to_server + 6, MAC_CLI, 6);
    ck_assert_uint_eq(be16(l2.to_server + 12), 0x86dd);
}
END_TEST

START_TEST(l2_vlan_kept)
{
    static const uint16_t tp[2] = { 0x88a8, 0x8100 }, tci[2] = { 0x0064, 0x2123 };
    uint8_t f[80];
    size_t hl = eth_hdr(f, tp, tci, 2, 4);
    ck_assert_uint_eq(hl, 22);
    struct inject_l2 l2;
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, f, hl, true, 4, &l2), 0);
    ck_assert_uint_eq(l2.len, 22);
    ck_assert_mem_eq(l2.to_server + 12, f + 12, 10);
    ck_assert_mem_eq(l2.to_client + 12, f + 12, 10);

    /* A frame built on it decodes with both tags, in order. */
    uint8_t buf[128];
    struct inject_tcp t = { .ipver = 4,
                            .src = SRV4,
                            .dst = CLI4,
                            .sport = 443,
                            .dport = 5555,
                            .seq = 9,
                            .ack = 10,
                            .flags = TCPF_RST | TCPF_ACK };
    size_t n = inject_build_tcp(buf, sizeof(buf), l2.to_client, l2.len, &t);
    ck_assert_uint_eq(n, 22 + 40);
    struct pkt p;
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, buf, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.n_vlan, 2);
    ck_assert_uint_eq(p.vlan[0] & 0x0fff, 0x064);
    ck_assert_uint_eq(p.vlan[1] & 0x0fff, 0x123);
    ck_assert(decode_l4_csum_ok(&p));
}
END_TEST

START_TEST(l2_truncated_every_prefix)
{
    static const uint16_t tp[1] = { 0x8100 }, tci[1] = { 7 };
    uint8_t f[32];
    size_t hl = eth_hdr(f, tp, tci, 1, 6);
    struct inject_l2 l2;
    for (size_t len = 0; len < hl; len++) {
        const uint8_t *g = guard_copy(f, len);
        ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, g, len, true, 6, &l2), -EINVAL);
        ck_assert_uint_eq(l2.len, 0);
    }
    const uint8_t *g = guard_copy(f, hl);
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, g, hl, true, 6, &l2), 0);
    guard_free();
}
END_TEST

START_TEST(l2_unsupported)
{
    uint8_t f[64];
    memset(f, 0, sizeof(f));
    struct inject_l2 l2;
    f[12] = 0x08;
    f[13] = 0x06; /* ARP */
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, f, sizeof(f), true, 4, &l2),
                     -EPROTONOSUPPORT);
    f[12] = 0x88;
    f[13] = 0x64; /* PPPoE session */
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, f, sizeof(f), true, 4, &l2),
                     -EPROTONOSUPPORT);
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_LINUX_SLL, f, sizeof(f), true, 4, &l2),
                     -EPROTONOSUPPORT);
    /* Five VLAN tags: over DECODE_MAX_VLAN. */
    for (size_t i = 0; i < 5; i++) {
        f[12 + 4 * i] = 0x81;
        f[13 + 4 * i] = 0x00;
    }
    f[32] = 0x08;
    f[33] = 0x00;
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_ETHERNET, f, sizeof(f), true, 4, &l2),
                     -EPROTONOSUPPORT);
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_RAW, f, sizeof(f), true, 4, &l2), 0);
    ck_assert_uint_eq(l2.len, 0);
    ck_assert_int_eq(inject_l2_from_frame(DECODE_LINK_RAW, f, sizeof(f), true, 7, &l2), -EINVAL);
}
END_TEST

/* ---- inject_plan_block ----------------------------------------------------------------- */

/* A client->server request frame and the event a decision on it would carry. */
struct evfix {
    uint8_t frame[256];
    struct pkt p;
    struct engine_event ev;
};

static void make_event(struct evfix *x, int ipver, const uint16_t *tp, const uint16_t *tci,
                       size_t ntags)
{
    static const char req[] = "GET /x HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    uint8_t l2[INJECT_L2_MAX];
    size_t hl = eth_hdr(l2, tp, tci, ntags, ipver);
    const uint8_t *cli = ipver == 4 ? CLI4 : CLI6, *srv = ipver == 4 ? SRV4 : SRV6;
    struct inject_tcp t = { .ipver = ipver,
                            .src = cli,
                            .dst = srv,
                            .sport = 34567,
                            .dport = 80,
                            .seq = 1000,
                            .ack = 5000,
                            .flags = TCPF_ACK | TCPF_PSH,
                            .win = 502,
                            .payload = (const uint8_t *)req,
                            .payload_len = sizeof(req) - 1 };
    size_t n = inject_build_tcp(x->frame, sizeof(x->frame), l2, hl, &t);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, x->frame, n, &x->p), DECODE_OK);
    memset(&x->ev, 0, sizeof(x->ev));
    x->ev.ipver = ipver;
    x->ev.l4proto = IPPROTO_TCP;
    x->ev.client = cli;
    x->ev.server = srv;
    x->ev.client_port = 34567;
    x->ev.server_port = 80;
    x->ev.d.verdict = VERDICT_BLOCK;
    x->ev.d.action = ACTION_REDIRECT;
    x->ev.pkt = &x->p;
    x->ev.pkt_from_client = true;
    x->ev.link = DECODE_LINK_ETHERNET;
    x->ev.frame = x->frame;
    x->ev.frame_len = n;
    x->ev.seq_known = true;
    x->ev.cli_next_seq = 1000 + (uint32_t)(sizeof(req) - 1);
    x->ev.srv_next_seq = 5000;
}

static struct inject_frames g_fr;

static void frame_at(size_t i, struct pkt *p)
{
    ck_assert_uint_lt(i, g_fr.n);
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, g_fr.buf + g_fr.off[i], g_fr.len[i], p),
                     DECODE_OK);
    ck_assert_msg(decode_l4_csum_ok(p), "frame %zu: bad TCP checksum", i);
}

START_TEST(plan_reset_only)
{
    struct evfix x;
    make_event(&x, 4, NULL, NULL, 0);
    x.ev.d.action = ACTION_RESET;
    uint16_t id = 100;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), 2);
    ck_assert_uint_eq(id, 102);
    struct pkt p;
    frame_at(0, &p); /* to the client, from the server */
    ck_assert_mem_eq(p.src, SRV4, 4);
    ck_assert_mem_eq(p.dst, CLI4, 4);
    ck_assert_uint_eq(p.sport, 80);
    ck_assert_uint_eq(p.dport, 34567);
    ck_assert_uint_eq(p.seq, 5000);
    ck_assert_uint_eq(p.ack, x.ev.cli_next_seq);
    ck_assert_uint_eq(p.tcp_flags, TCPF_RST | TCPF_ACK);
    ck_assert_mem_eq(g_fr.buf + g_fr.off[0], MAC_CLI, 6);
    ck_assert_mem_eq(g_fr.buf + g_fr.off[0] + 6, MAC_SRV, 6);
    frame_at(1, &p); /* to the server, from the client */
    ck_assert_mem_eq(p.src, CLI4, 4);
    ck_assert_mem_eq(p.dst, SRV4, 4);
    ck_assert_uint_eq(p.sport, 34567);
    ck_assert_uint_eq(p.dport, 80);
    ck_assert_uint_eq(p.seq, x.ev.cli_next_seq);
    ck_assert_uint_eq(p.ack, 5000);
    ck_assert_uint_eq(p.tcp_flags, TCPF_RST | TCPF_ACK);
    ck_assert_mem_eq(g_fr.buf + g_fr.off[1], MAC_SRV, 6);
    ck_assert_mem_eq(g_fr.buf + g_fr.off[1] + 6, MAC_CLI, 6);
    /* Distinct IPv4 ids, in order. */
    ck_assert_uint_eq(be16(g_fr.buf + g_fr.off[0] + 14 + 4), 100);
    ck_assert_uint_eq(be16(g_fr.buf + g_fr.off[1] + 14 + 4), 101);
}
END_TEST

START_TEST(plan_redirect_segments)
{
    struct evfix x;
    static const uint16_t tp[1] = { 0x8100 }, tci[1] = { 42 };
    make_event(&x, 6, tp, tci, 1);
    uint8_t resp[2500];
    for (size_t i = 0; i < sizeof(resp); i++)
        resp[i] = (uint8_t)('a' + i % 26);
    uint16_t id = 0;
    int n = inject_plan_block(&x.ev, resp, sizeof(resp), 1000, &id, &g_fr);
    ck_assert_int_eq(n, 5); /* 1000 + 1000 + 500, RST, RST */
    struct pkt p;
    uint32_t seq = 5000;
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        frame_at((size_t)i, &p);
        ck_assert_uint_eq(p.n_vlan, 1);
        ck_assert_uint_eq(p.vlan[0] & 0x0fff, 42);
        ck_assert_mem_eq(p.src, SRV6, 16);
        ck_assert_uint_eq(p.seq, seq);
        ck_assert_uint_eq(p.ack, x.ev.cli_next_seq);
        ck_assert_uint_eq(p.payload_len, i < 2 ? 1000 : 500);
        ck_assert_mem_eq(p.payload, resp + off, p.payload_len);
        ck_assert_uint_eq(p.tcp_flags, TCPF_ACK | TCPF_PSH | (i == 2 ? TCPF_FIN : 0));
        seq += (uint32_t)p.payload_len;
        off += p.payload_len;
    }
    frame_at(3, &p);
    ck_assert_uint_eq(p.tcp_flags, TCPF_RST | TCPF_ACK);
    ck_assert_uint_eq(p.seq, 5000 + 2500 + 1); /* after the data and the FIN */
    ck_assert_mem_eq(p.dst, CLI6, 16);
    frame_at(4, &p);
    ck_assert_uint_eq(p.tcp_flags, TCPF_RST | TCPF_ACK);
    ck_assert_uint_eq(p.seq, x.ev.cli_next_seq);
    ck_assert_uint_eq(p.ack, 5000);
    ck_assert_mem_eq(p.dst, SRV6, 16);
    ck_assert_uint_eq(p.n_vlan, 1);
}
END_TEST

START_TEST(plan_seq_wraps)
{
    struct evfix x;
    make_event(&x, 4, NULL, NULL, 0);
    x.ev.srv_next_seq = 0xffffffffu;
    static const uint8_t resp[3] = { 'a', 'b', 'c' };
    uint16_t id = 0xffff;
    ck_assert_int_eq(inject_plan_block(&x.ev, resp, 3, 1460, &id, &g_fr), 3);
    ck_assert_uint_eq(id, 2); /* wrapped */
    struct pkt p;
    frame_at(0, &p);
    ck_assert_uint_eq(p.seq, 0xffffffffu);
    frame_at(1, &p);
    ck_assert_uint_eq(p.seq, 3); /* 0xffffffff + 3 + FIN, modulo 2^32 */
}
END_TEST

START_TEST(plan_from_server_packet)
{
    /* Decision triggered by a server packet: frame MACs are server->client. */
    struct evfix x;
    make_event(&x, 4, NULL, NULL, 0);
    memcpy(x.frame, MAC_CLI, 6);
    memcpy(x.frame + 6, MAC_SRV, 6);
    x.ev.pkt_from_client = false;
    uint16_t id = 0;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), 2);
    ck_assert_mem_eq(g_fr.buf + g_fr.off[0], MAC_CLI, 6); /* to the client */
    ck_assert_mem_eq(g_fr.buf + g_fr.off[1], MAC_SRV, 6); /* to the server */
    ck_assert_mem_eq(g_fr.buf + g_fr.off[1] + 6, MAC_CLI, 6);
    struct pkt p;
    frame_at(0, &p);
    ck_assert_uint_eq(p.win, 0);
}
END_TEST

START_TEST(plan_refusals)
{
    struct evfix x;
    make_event(&x, 4, NULL, NULL, 0);
    uint16_t id = 0;
    x.ev.seq_known = false;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), -EINVAL);
    x.ev.seq_known = true;
    x.ev.l4proto = IPPROTO_UDP;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), -EINVAL);
    x.ev.l4proto = IPPROTO_TCP;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 0, &id, &g_fr), -EINVAL);
    const struct engine_event saved = x.ev;
    x.ev.frame = NULL;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), -EINVAL);
    x.ev = saved;
    x.ev.link = DECODE_LINK_LINUX_SLL;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), -EPROTONOSUPPORT);
    x.ev = saved;
    /* The frame budget: INJECT_MAX_FRAMES - 2 segments fit, one more does not. */
    static uint8_t big[INJECT_MAX_FRAMES * 100];
    size_t fit = (INJECT_MAX_FRAMES - 2) * 100;
    ck_assert_int_eq(inject_plan_block(&x.ev, big, fit, 100, &id, &g_fr), INJECT_MAX_FRAMES);
    ck_assert_int_eq(inject_plan_block(&x.ev, big, fit + 1, 100, &id, &g_fr), -EMSGSIZE);
    /* The byte budget: a 16 KiB response in 1460-byte segments fits. */
    static uint8_t page[16384];
    ck_assert_int_gt(inject_plan_block(&x.ev, page, sizeof(page), 1460, &id, &g_fr), 2);
    ck_assert_uint_eq(id, INJECT_MAX_FRAMES + 12 + 2); /* ids used only by planned frames */
}
END_TEST

/* A decision on a packet that came through a tunnel (here IPv4-in-IPv4 behind Ethernet): the
 * frame's Ethernet + outer IP header would look usable, but a forged packet carrying only the
 * inner addresses would go to the tunnel endpoints' MACs unwrapped. Nothing is planned. */
START_TEST(plan_refuses_tunnelled)
{
    struct evfix x;
    make_event(&x, 4, NULL, NULL, 0);
    uint8_t outer[300];
    size_t inner_len = x.ev.frame_len - 14;
    memcpy(outer, x.frame, 14);
    static const uint8_t a[4] = { 192, 0, 2, 1 }, b[4] = { 192, 0, 2, 2 };
    size_t n = 14 + craft_ip4(outer + 14, a, b, 7, 0, 4, x.frame + 14, inner_len);
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, outer, n, &x.p), DECODE_OK);
    ck_assert_int_eq(x.p.encap, 1);
    x.ev.frame = outer;
    x.ev.frame_len = n;
    uint16_t id = 0;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), -EOPNOTSUPP);
    ck_assert_uint_eq(g_fr.n, 0);
    ck_assert_uint_eq(id, 0);
    /* the same inner frame, not tunnelled, is planned */
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, x.frame, 14 + inner_len, &x.p), DECODE_OK);
    x.ev.frame = x.frame;
    x.ev.frame_len = 14 + inner_len;
    ck_assert_int_eq(inject_plan_block(&x.ev, NULL, 0, 1460, &id, &g_fr), 2);
}
END_TEST

/* ---- QUIC close (tap mode, EVASION Q7) -------------------------------------------------- */

static const uint8_t Q_ODCID[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
static const uint8_t Q_SCID[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

/* True if the UDP checksum of the datagram at udp (len bytes) verifies. */
static bool udp_sum_ok(int ipver, const uint8_t *src, const uint8_t *dst, const uint8_t *udp,
                       size_t len)
{
    size_t al = ipver == 4 ? 4 : 16;
    uint32_t acc = sum_words(0, src, al);
    acc = sum_words(acc, dst, al);
    acc += IPPROTO_UDP + (uint32_t)len;
    acc = sum_words(acc, udp, len);
    return fold(acc) == 0xffff && be16(udp + 6) != 0;
}

/* A client Initial-sized UDP frame client -> server and the QUIC block event on it. */
static void make_quic_event(struct evfix *x, uint8_t *frame, size_t cap, int ipver,
                            const uint16_t *tp, const uint16_t *tci, size_t ntags, uint32_t version)
{
    static uint8_t initial[1250];
    memset(initial, 0x5a, sizeof(initial));
    initial[0] = 0xc3;
    uint8_t l2[INJECT_L2_MAX];
    size_t hl = eth_hdr(l2, tp, tci, ntags, ipver);
    const uint8_t *cli = ipver == 4 ? CLI4 : CLI6, *srv = ipver == 4 ? SRV4 : SRV6;
    struct inject_udp u = { .ipver = ipver,
                            .src = cli,
                            .dst = srv,
                            .sport = 51000,
                            .dport = 443,
                            .ip_id = 9,
                            .payload = initial,
                            .payload_len = sizeof(initial) };
    size_t n = inject_build_udp(frame, cap, l2, hl, &u);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, frame, n, &x->p), DECODE_OK);
    ck_assert(decode_l4_csum_ok(&x->p));
    memset(&x->ev, 0, sizeof(x->ev));
    x->ev.ipver = ipver;
    x->ev.l4proto = IPPROTO_UDP;
    x->ev.client = cli;
    x->ev.server = srv;
    x->ev.client_port = 51000;
    x->ev.server_port = 443;
    x->ev.d.verdict = VERDICT_BLOCK;
    x->ev.d.action = ACTION_DROP;
    x->ev.pkt = &x->p;
    x->ev.pkt_from_client = true;
    x->ev.link = DECODE_LINK_ETHERNET;
    x->ev.frame = frame;
    x->ev.frame_len = n;
    x->ev.quic_version = version;
    x->ev.quic_odcid = Q_ODCID;
    x->ev.quic_odcid_len = sizeof(Q_ODCID);
    x->ev.quic_scid = Q_SCID;
    x->ev.quic_scid_len = sizeof(Q_SCID);
}

/* Checks the one planned frame: reversed L2/IP/UDP, checksums, and a server Initial that the
 * server Initial keys of Q_ODCID open to a CONNECTION_CLOSE addressed to Q_SCID. */
static void check_quic_frame(const struct evfix *x, int ipver, size_t ntags, uint32_t version)
{
    ck_assert_uint_eq(g_fr.n, 1);
    const uint8_t *f = g_fr.buf + g_fr.off[0];
    struct pkt p;
    ck_assert_int_eq(decode_packet(DECODE_LINK_ETHERNET, f, g_fr.len[0], &p), DECODE_OK);
    ck_assert_mem_eq(f, MAC_CLI, 6);
    ck_assert_mem_eq(f + 6, MAC_SRV, 6);
    ck_assert_uint_eq(p.n_vlan, ntags);
    for (size_t i = 0; i < ntags; i++)
        ck_assert_uint_eq(p.vlan[i], x->p.vlan[i]);
    ck_assert_uint_eq(p.ipver, ipver);
    ck_assert_uint_eq(p.l4proto, IPPROTO_UDP);
    ck_assert_mem_eq(p.src, x->ev.server, ipver == 4 ? 4 : 16);
    ck_assert_mem_eq(p.dst, x->ev.client, ipver == 4 ? 4 : 16);
    ck_assert_uint_eq(p.sport, 443);
    ck_assert_uint_eq(p.dport, 51000);
    ck_assert_uint_eq(p.ttl, INJECT_TTL);
    ck_assert(decode_l4_csum_ok(&p));
    size_t iphl = ipver == 4 ? 20 : 40;
    const uint8_t *udp = p.l3 + iphl;
    size_t udplen = be16(udp + 4);
    ck_assert_uint_eq(udplen, 8 + QUIC_MIN_DATAGRAM);
    ck_assert(udp_sum_ok(ipver, p.src, p.dst, udp, udplen));
    if (ipver == 4) {
        ck_assert_uint_eq(be16(p.l3 + 2), 20 + udplen);
        ck_assert_uint_eq(fold(sum_words(0, p.l3, 20)), 0xffff);
    } else {
        ck_assert_uint_eq(be16(p.l3 + 4), udplen);
    }
    ck_assert_uint_eq(p.payload_len, QUIC_MIN_DATAGRAM);
    ck_assert_uint_eq(be32(p.payload + 1), version);
    ck_assert_uint_eq(p.payload[5], sizeof(Q_SCID));
    ck_assert_mem_eq(p.payload + 6, Q_SCID, sizeof(Q_SCID));
    struct quic_ctx *ctx = quic_ctx_new();
    struct quic_keys k;
    ck_assert_int_eq(quic_keys_derive(ctx, version, Q_ODCID, sizeof(Q_ODCID), true, &k), 0);
    static uint8_t plain[QUIC_PLAIN_MAX];
    struct quic_initial qi;
    size_t eo;
    ck_assert_int_eq(
        quic_initial_parse(ctx, p.payload, p.payload_len, &k, plain, sizeof(plain), &qi, &eo),
        DS_OK);
    ck_assert_uint_eq(qi.frames.p[0], 0x1c);
    ck_assert_uint_eq(be16(qi.frames.p + 1), 0x4000 | 0x0128);
    /* The client's own keys do not open it: it is sealed in the server direction. */
    ck_assert_int_eq(quic_keys_derive(ctx, version, Q_ODCID, sizeof(Q_ODCID), false, &k), 0);
    ck_assert_int_eq(
        quic_initial_parse(ctx, p.payload, p.payload_len, &k, plain, sizeof(plain), &qi, &eo),
        DS_MALFORMED);
    quic_ctx_free(ctx);
}

START_TEST(plan_quic_close_v4_vlan)
{
    static const uint16_t tp[2] = { 0x88a8, 0x8100 }, tci[2] = { 0x0064, 0x00c8 };
    static uint8_t frame[1400];
    struct evfix x;
    make_quic_event(&x, frame, sizeof(frame), 4, tp, tci, 2, QUIC_V1);
    struct quic_ctx *ctx = quic_ctx_new();
    uint16_t id = 7;
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), 1);
    ck_assert_uint_eq(id, 8);
    quic_ctx_free(ctx);
    check_quic_frame(&x, 4, 2, QUIC_V1);
}
END_TEST

START_TEST(plan_quic_close_v6_v2)
{
    static uint8_t frame[1400];
    struct evfix x;
    make_quic_event(&x, frame, sizeof(frame), 6, NULL, NULL, 0, QUIC_V2);
    struct quic_ctx *ctx = quic_ctx_new();
    uint16_t id = 0;
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), 1);
    quic_ctx_free(ctx);
    check_quic_frame(&x, 6, 0, QUIC_V2);
    /* v2 Initial type bits (01) under the protected low nibble */
    const uint8_t *f = g_fr.buf + g_fr.off[0];
    ck_assert_uint_eq(f[14 + 40 + 8] & 0xf0, 0xd0);
}
END_TEST

START_TEST(plan_quic_refusals)
{
    static uint8_t frame[1400];
    struct evfix x;
    make_quic_event(&x, frame, sizeof(frame), 4, NULL, NULL, 0, QUIC_V1);
    struct quic_ctx *ctx = quic_ctx_new();
    uint16_t id = 0;
    const struct engine_event saved = x.ev;
    x.ev.quic_version = 0; /* decided on its address: no Initial was read */
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), -EINVAL);
    x.ev = saved;
    x.ev.l4proto = IPPROTO_TCP;
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), -EINVAL);
    x.ev = saved;
    x.ev.frame = NULL;
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), -EINVAL);
    x.ev = saved;
    x.ev.link = DECODE_LINK_LINUX_SLL;
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), -EPROTONOSUPPORT);
    x.ev = saved;
    x.ev.quic_version = 0x1a2a3a4a; /* a version without Initial keys */
    ck_assert_int_eq(inject_plan_quic_close(&x.ev, ctx, &id, &g_fr), -EIO);
    ck_assert_uint_eq(g_fr.n, 0);
    ck_assert_uint_eq(id, 0); /* refused plans take no IPv4 id */
    quic_ctx_free(ctx);
}
END_TEST

START_TEST(build_udp_limits)
{
    uint8_t buf[64];
    static uint8_t big[65535];
    struct inject_udp u = { .ipver = 4,
                            .src = CLI4,
                            .dst = SRV4,
                            .sport = 1,
                            .dport = 2,
                            .payload = big,
                            .payload_len = 20 };
    ck_assert_uint_eq(inject_build_udp(buf, sizeof(buf), NULL, 0, &u), 48);
    ck_assert_uint_eq(inject_build_udp(buf, 47, NULL, 0, &u), 0);
    u.ipver = 5;
    ck_assert_uint_eq(inject_build_udp(buf, sizeof(buf), NULL, 0, &u), 0);
    u.ipver = 6;
    u.payload_len = 65535 - 27;
    ck_assert_uint_eq(inject_build_udp(big, sizeof(big), NULL, 0, &u), 0);
}
END_TEST

START_TEST(open_bad_interface)
{
    char err[256] = "";
    struct inject *in = inject_open("qg-no-such-if0", 0, err, sizeof(err));
    ck_assert_ptr_null(in);
    ck_assert_msg(strstr(err, "inject: qg-no-such-if0:") != NULL, "%s", err);
    in = inject_open("this-name-is-far-too-long-for-an-interface", 0, err, sizeof(err));
    ck_assert_ptr_null(in);
    ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);
    inject_free(NULL);
}
END_TEST

static Suite *inject_suite(void)
{
    Suite *s = suite_create("inject");
    TCase *tc = tcase_create("build");
    tcase_add_test(tc, build_ipv4_rst_exact);
    tcase_add_test(tc, build_ipv6_data_exact);
    tcase_add_test(tc, build_raw_ip);
    tcase_add_test(tc, build_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("l2");
    tcase_add_test(tc, l2_swap_plain);
    tcase_add_test(tc, l2_vlan_kept);
    tcase_add_test(tc, l2_truncated_every_prefix);
    tcase_add_test(tc, l2_unsupported);
    suite_add_tcase(s, tc);
    tc = tcase_create("plan");
    tcase_add_test(tc, plan_reset_only);
    tcase_add_test(tc, plan_redirect_segments);
    tcase_add_test(tc, plan_seq_wraps);
    tcase_add_test(tc, plan_from_server_packet);
    tcase_add_test(tc, plan_refusals);
    tcase_add_test(tc, plan_refuses_tunnelled);
    tcase_add_test(tc, plan_quic_close_v4_vlan);
    tcase_add_test(tc, plan_quic_close_v6_v2);
    tcase_add_test(tc, plan_quic_refusals);
    tcase_add_test(tc, build_udp_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("sender");
    tcase_add_test(tc, open_bad_interface);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(inject_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
