/* check_capture_live.c - the filter tap mode compiles: compiled with pcap_compile() on a dead
 * Ethernet handle and run with pcap_offline_filter() over crafted frames, it must keep IP
 * fragments without ports (T12, zapret ipfrag2), IPv6 extension chains and tunnels, with and
 * without a VLAN tag, while still dropping what the operator's expression excludes. And the
 * fanout selector: accepted by the kernel's checker, run here by a small classic-BPF
 * interpreter, symmetric in both directions, spreading one address pair over the workers by
 * ports, and keeping fragments and tunnels with their flows. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <check.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>
#include <pcap/pcap.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/capture/capture_live.h"
#include "tests/lib/craft.h"

static const uint8_t A4[4] = { 10, 0, 0, 2 }, B4[4] = { 10, 0, 0, 1 };
static const uint8_t A6[16] = { 0xfd, [15] = 2 }, B6[16] = { 0xfd, [15] = 1 };

/* the web ports only (tap.bpf's default reads every port): an expression that leaves port 22
 * out, so that what keeps fragments, extension headers and tunnels is the wrapping's part K */
#define WEB_BPF "tcp port 80 or tcp port 443 or udp port 443"

struct filt {
    pcap_t *pc;
    struct bpf_program bp;
};

static void filt_init(struct filt *f, const char *expr, bool vlan_too)
{
    char buf[CAPTURE_LIVE_FILTER_MAX];
    ck_assert_uint_gt(capture_live_filter(expr, vlan_too, buf, sizeof buf), 0);
    f->pc = pcap_open_dead(DLT_EN10MB, 65535);
    ck_assert_ptr_nonnull(f->pc);
    ck_assert_msg(pcap_compile(f->pc, &f->bp, buf, 1, PCAP_NETMASK_UNKNOWN) == 0, "%s: %s", buf,
                  pcap_geterr(f->pc));
}

static void filt_fini(struct filt *f)
{
    pcap_freecode(&f->bp);
    pcap_close(f->pc);
}

static bool match(const struct filt *f, const uint8_t *fr, size_t n)
{
    struct pcap_pkthdr h = { .caplen = (bpf_u_int32)n, .len = (bpf_u_int32)n };
    return pcap_offline_filter(&f->bp, &h, fr) != 0;
}

/* Ethernet header with an optional 802.1Q tag (vlan 0: none) and the ethertype; returns its size. */
static size_t eth(uint8_t *out, uint16_t vlan, uint16_t type)
{
    memset(out, 0x02, 12);
    size_t o = 12;
    if (vlan) {
        craft_put16(out + o, 0x8100);
        craft_put16(out + o + 2, vlan);
        o += 4;
    }
    craft_put16(out + o, type);
    return o + 2;
}

static size_t tcp_seg(uint8_t *out, int ipver, uint16_t dport, size_t plen)
{
    static const uint8_t pl[600];
    struct craft_tcp t = {
        .sport = 40000, .dport = dport, .seq = 1, .ack = 1, .flags = 0x18, .win = 512
    };
    return craft_tcp(out, &t, ipver, ipver == 4 ? A4 : A6, ipver == 4 ? B4 : B6, pl, plen);
}

/* IPv4: the TCP segment to dport, whole (frag 0) or as the fragment with field frag. */
static size_t v4(uint8_t *fr, uint16_t vlan, uint16_t dport, uint16_t frag, bool first)
{
    uint8_t seg[700];
    size_t o = eth(fr, vlan, 0x0800);
    size_t n = tcp_seg(seg, 4, dport, 500);
    if (!first) /* a later fragment: bytes from the middle of the payload, no TCP header */
        return o + craft_ip4(fr + o, A4, B4, 7, frag, 6, seg + 200, 200);
    return o + craft_ip4(fr + o, A4, B4, 7, frag, 6, seg, frag ? 200 : n);
}

/* IPv6: whole, or a fragment (offset off, more) behind a fragment header. */
static size_t v6(uint8_t *fr, uint16_t vlan, uint16_t dport, bool fragment, size_t off, int more)
{
    uint8_t seg[700];
    size_t o = eth(fr, vlan, 0x86dd);
    size_t n = tcp_seg(seg, 6, dport, 500);
    if (!fragment) {
        o += craft_ip6(fr + o, A6, B6, 6, n);
        memcpy(fr + o, seg, n);
        return o + n;
    }
    o += craft_ip6(fr + o, A6, B6, 44, 8 + 200);
    o += craft_frag6(fr + o, 6, off, more, 0x1234);
    memcpy(fr + o, seg + off, 200);
    return o + 200;
}

START_TEST(keeps_fragments)
{
    struct filt f;
    filt_init(&f, WEB_BPF, true);
    uint8_t fr[1000];
    for (uint16_t vlan = 0; vlan <= 10; vlan += 10) {
        /* whole packets: the operator's expression decides */
        ck_assert(match(&f, fr, v4(fr, vlan, 443, 0, true)));
        ck_assert(!match(&f, fr, v4(fr, vlan, 22, 0, true)));
        ck_assert(match(&f, fr, v6(fr, vlan, 443, false, 0, 0)));
        ck_assert(!match(&f, fr, v6(fr, vlan, 22, false, 0, 0)));
        /* IPv4: first fragment (MF, offset 0), a middle one (MF, offset 200), the last */
        ck_assert_msg(match(&f, fr, v4(fr, vlan, 443, 0x2000, true)), "v4 first, vlan %u", vlan);
        ck_assert_msg(match(&f, fr, v4(fr, vlan, 443, 0x2000 | 25, false)), "v4 middle, vlan %u",
                      vlan);
        ck_assert_msg(match(&f, fr, v4(fr, vlan, 443, 25, false)), "v4 last, vlan %u", vlan);
        /* a first fragment to another port: kept too (no way to know before reassembly which
         * fragments belong to it) */
        ck_assert(match(&f, fr, v4(fr, vlan, 22, 0x2000, true)));
        /* IPv6: first and non-first fragments */
        ck_assert_msg(match(&f, fr, v6(fr, vlan, 443, true, 0, 1)), "v6 first, vlan %u", vlan);
        ck_assert_msg(match(&f, fr, v6(fr, vlan, 443, true, 200, 0)), "v6 last, vlan %u", vlan);
    }
    filt_fini(&f);

    /* without vlan_too a tagged fragment is not promised, an untagged one is */
    filt_init(&f, WEB_BPF, false);
    ck_assert(match(&f, fr, v4(fr, 0, 443, 25, false)));
    ck_assert(match(&f, fr, v6(fr, 0, 443, true, 200, 0)));
    ck_assert(!match(&f, fr, v4(fr, 0, 22, 0, true)));
    filt_fini(&f);
}
END_TEST

/* a UDP datagram to dport whose payload begins with first (then zeros), IPv4 or IPv6 */
static size_t udp_frame(uint8_t *fr, int ipver, uint16_t dport, uint8_t first)
{
    uint8_t u[8 + 64] = { 0 };
    craft_put16(u, 50000);
    craft_put16(u + 2, dport);
    craft_put16(u + 4, sizeof u);
    u[8] = first;
    size_t o = eth(fr, 0, ipver == 4 ? 0x0800 : 0x86dd);
    if (ipver == 4)
        return o + craft_ip4(fr + o, A4, B4, 9, 0, 17, u, sizeof u);
    o += craft_ip6(fr + o, A6, B6, 17, sizeof u);
    memcpy(fr + o, u, sizeof u);
    return o + sizeof u;
}

/* tap.bpf's default: TCP on every port; UDP 443; UDP elsewhere only when its first byte may
 * begin a QUIC long header (a listed name over QUIC on 8443), both families */
START_TEST(default_filter_every_port)
{
    struct filt f;
    filt_init(&f, CAPTURE_LIVE_DEFAULT_FILTER, true);
    uint8_t fr[1000];
    ck_assert(match(&f, fr, v4(fr, 0, 8443, 0, true)));
    ck_assert(match(&f, fr, v4(fr, 10, 22, 0, true)));
    ck_assert(match(&f, fr, v6(fr, 0, 8443, false, 0, 0)));
    for (int ipver = 4; ipver <= 6; ipver += 2) {
        ck_assert_msg(match(&f, fr, udp_frame(fr, ipver, 443, 0x12)), "v%d udp 443", ipver);
        ck_assert_msg(match(&f, fr, udp_frame(fr, ipver, 8443, 0xc3)), "v%d initial", ipver);
        ck_assert_msg(match(&f, fr, udp_frame(fr, ipver, 8443, 0xd0)), "v%d v2 initial", ipver);
        ck_assert_msg(!match(&f, fr, udp_frame(fr, ipver, 53, 0x12)), "v%d dns", ipver);
        ck_assert_msg(!match(&f, fr, udp_frame(fr, ipver, 5004, 0x80)), "v%d rtp", ipver);
        ck_assert_msg(!match(&f, fr, udp_frame(fr, ipver, 51820, 0x01)), "v%d wireguard", ipver);
    }
    filt_fini(&f);
}
END_TEST

/* IPv6 with a hop-by-hop header before TCP (T13): libpcap's "tcp port" reads only the first
 * next-header, the filter keeps it anyway. Tunnels are kept: their ports are inside. */
START_TEST(keeps_ext_and_tunnels)
{
    struct filt f;
    filt_init(&f, WEB_BPF, true);
    uint8_t fr[1000], seg[700];
    for (uint16_t vlan = 0; vlan <= 10; vlan += 10) {
        size_t o = eth(fr, vlan, 0x86dd);
        size_t n = tcp_seg(seg, 6, 443, 100);
        o += craft_ip6(fr + o, A6, B6, 0, 8 + n);
        o += craft_ext8(fr + o, 6);
        memcpy(fr + o, seg, n);
        ck_assert_msg(match(&f, fr, o + n), "v6 HBH, vlan %u", vlan);

        /* VXLAN: IPv4 UDP to 4789 (payload need not be valid for the filter) */
        uint8_t udp[64] = { 0 };
        craft_put16(udp, 50000);
        craft_put16(udp + 2, 4789);
        craft_put16(udp + 4, 16);
        o = eth(fr, vlan, 0x0800);
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 17, udp, 16)));
        craft_put16(udp + 2, 2152); /* GTP-U */
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 17, udp, 16)));
        craft_put16(udp + 2, 53); /* DNS: not kept */
        ck_assert(!match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 17, udp, 16)));
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 47, udp, 16))); /* GRE */
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 4, udp, 16)));  /* IPIP */
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 41, udp, 16))); /* 6in4 */
        /* MPLS and PPPoE session frames */
        o = eth(fr, vlan, 0x8847);
        memset(fr + o, 0, 60);
        ck_assert_msg(match(&f, fr, o + 60), "mpls, vlan %u", vlan);
        o = eth(fr, vlan, 0x8864);
        ck_assert_msg(match(&f, fr, o + 60), "pppoe, vlan %u", vlan);
        o = eth(fr, vlan, 0x0806); /* ARP: not kept */
        ck_assert(!match(&f, fr, o + 60));
    }
    filt_fini(&f);
}
END_TEST

START_TEST(filter_text)
{
    char buf[CAPTURE_LIVE_FILTER_MAX];
    ck_assert_uint_eq(capture_live_filter("", true, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(capture_live_filter(NULL, false, buf, sizeof buf), 0);
    size_t n = capture_live_filter("tcp port 443", false, buf, sizeof buf);
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert(strncmp(buf, "(tcp port 443) or ", 18) == 0);
    ck_assert_uint_eq(capture_live_filter("tcp port 443", true, buf, 40), 0); /* too small */
    ck_assert_str_eq(buf, "");
}
END_TEST

/* ---- the fanout selector ---------------------------------------------------------------- */

struct vm_pkt {
    uint16_t proto;     /* skb->protocol */
    const uint8_t *net; /* network header */
    size_t len;
};

/* Loads n bytes at offset k (SKF_NET_OFF-relative or an ancillary field); false when outside. */
static bool vm_load(const struct vm_pkt *pk, uint32_t k, size_t n, uint32_t *out)
{
    if (k == (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)) {
        *out = pk->proto;
        return true;
    }
    int64_t off = (int64_t)(int32_t)k - (int64_t)SKF_NET_OFF;
    if ((int32_t)k >= 0 || off < 0 || (uint64_t)off + n > pk->len)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | pk->net[off + (int64_t)i];
    *out = v;
    return true;
}

/* Runs the opcodes the selector uses, as the kernel does (a failed load returns 0). */
static uint32_t vm_run(const struct sock_filter *f, size_t n, const struct vm_pkt *pk)
{
    uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 }, v;
    for (size_t pc = 0; pc < n; pc++) {
        const struct sock_filter *i = &f[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (!vm_load(pk, i->k, 4, &A))
                return 0;
            break;
        case BPF_LD | BPF_H | BPF_ABS:
            if (!vm_load(pk, i->k, 2, &A))
                return 0;
            break;
        case BPF_LD | BPF_B | BPF_ABS:
            if (!vm_load(pk, i->k, 1, &A))
                return 0;
            break;
        case BPF_LD | BPF_H | BPF_IND:
            if (!vm_load(pk, i->k + X, 2, &A))
                return 0;
            break;
        case BPF_LDX | BPF_B | BPF_MSH:
            if (!vm_load(pk, i->k, 1, &v))
                return 0;
            X = (v & 0xf) * 4;
            break;
        case BPF_LDX | BPF_IMM: X = i->k; break;
        case BPF_LD | BPF_MEM: A = M[i->k]; break;
        case BPF_LDX | BPF_MEM: X = M[i->k]; break;
        case BPF_ST: M[i->k] = A; break;
        case BPF_ALU | BPF_XOR | BPF_X: A ^= X; break;
        case BPF_ALU | BPF_RSH | BPF_K: A >>= i->k; break;
        case BPF_MISC | BPF_TAX: X = A; break;
        case BPF_MISC | BPF_TXA: A = X; break;
        case BPF_JMP | BPF_JA: pc += i->k; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += A == i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JSET | BPF_K: pc += (A & i->k) ? i->jt : i->jf; break;
        case BPF_RET | BPF_A: return A;
        case BPF_RET | BPF_K: return i->k;
        default: ck_abort_msg("opcode 0x%x not modelled", i->code);
        }
    }
    ck_abort_msg("fell off the end");
    return 0;
}

static struct sock_filter g_prog[CAPTURE_LIVE_FANOUT_MAX];
static size_t g_n;

static uint32_t fan(uint16_t proto, const uint8_t *net, size_t len)
{
    struct vm_pkt pk = { proto, net, len };
    return vm_run(g_prog, g_n, &pk);
}

/* IPv4 packet at out: proto, addresses a -> b, ports (when TCP/UDP), fragment field. */
static size_t p4(uint8_t *out, uint8_t proto, const uint8_t *a, const uint8_t *b, uint16_t sp,
                 uint16_t dp, uint16_t frag)
{
    uint8_t l4[40] = { 0 };
    craft_put16(l4, sp);
    craft_put16(l4 + 2, dp);
    return craft_ip4(out, a, b, 1, frag, proto, l4, sizeof l4);
}

static size_t p6(uint8_t *out, uint8_t nh, const uint8_t *a, const uint8_t *b, uint16_t sp,
                 uint16_t dp)
{
    size_t o = craft_ip6(out, a, b, nh, 40);
    memset(out + o, 0, 40);
    craft_put16(out + o, sp);
    craft_put16(out + o + 2, dp);
    return o + 40;
}

static void fan_setup(void)
{
    g_n = capture_live_fanout_prog(g_prog, CAPTURE_LIVE_FANOUT_MAX);
    ck_assert_uint_gt(g_n, 0);
}

START_TEST(fanout_kernel_accepts)
{
    fan_setup();
    ck_assert_uint_eq(capture_live_fanout_prog(g_prog, 10), 0); /* does not fit: refused */
    fan_setup();
    /* the kernel's classic-BPF checker (the same one PACKET_FANOUT_DATA runs) */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sock_fprog fp = { .len = (unsigned short)g_n, .filter = g_prog };
    ck_assert_msg(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) == 0,
                  "kernel refused the selector");
    close(fd);
}
END_TEST

START_TEST(fanout_symmetric)
{
    fan_setup();
    uint8_t f[200], r[200];
    uint32_t seed = 12345;
    for (int i = 0; i < 2000; i++) {
        uint8_t a4[4], b4[4], a6[16], b6[16];
        for (int k = 0; k < 16; k++) {
            seed = seed * 1103515245u + 12345u;
            a6[k] = (uint8_t)(seed >> 16);
            seed = seed * 1103515245u + 12345u;
            b6[k] = (uint8_t)(seed >> 16);
        }
        memcpy(a4, a6, 4);
        memcpy(b4, b6, 4);
        uint16_t sp = (uint16_t)(1024 + i * 7), dp = i % 2 ? 443 : 80;
        uint8_t proto = i % 3 == 0 ? 17 : 6;
        size_t n = p4(f, proto, a4, b4, sp, dp, 0), m = p4(r, proto, b4, a4, dp, sp, 0);
        ck_assert_uint_eq(fan(0x0800, f, n), fan(0x0800, r, m));
        n = p4(f, proto, a4, b4, sp, dp, 0x2000); /* first fragment */
        m = p4(r, proto, b4, a4, dp, sp, 0x2000);
        ck_assert_uint_eq(fan(0x0800, f, n), fan(0x0800, r, m));
        n = p6(f, proto, a6, b6, sp, dp);
        m = p6(r, proto, b6, a6, dp, sp);
        ck_assert_uint_eq(fan(0x86dd, f, n), fan(0x86dd, r, m));
    }
}
END_TEST

/* One busy address pair (CGNAT to a CDN): flows spread over the workers by port. */
START_TEST(fanout_spreads_by_port)
{
    fan_setup();
    static const uint8_t nat[4] = { 100, 64, 0, 1 }, cdn[4] = { 198, 51, 100, 7 };
    unsigned per[4] = { 0 };
    uint8_t f[200];
    for (uint16_t sp = 20000; sp < 24000; sp++) {
        size_t n = p4(f, 6, nat, cdn, sp, 443, 0);
        per[fan(0x0800, f, n) % 4]++;
    }
    for (int w = 0; w < 4; w++)
        ck_assert_msg(per[w] > 700, "worker %d got %u of 4000 flows", w, per[w]);
}
END_TEST

/* What cannot carry trustworthy ports is hashed on addresses alone, so it stays with whatever
 * else those addresses send: IPv4 fragments (the kernel reassembles them first in a fanout
 * group; any left are kept together), IPv6 (fragments and extension chains), UDP tunnels whose
 * outer source port differs by direction, other protocols. */
START_TEST(fanout_addresses_only)
{
    fan_setup();
    static const uint8_t a[4] = { 10, 1, 2, 3 }, b[4] = { 10, 9, 8, 7 };
    static const uint8_t a6[16] = { 0x20, 1, 0xd, 0xb8, [15] = 3 },
                         b6[16] = { 0x20, 1, 0xd, 0xb8, [15] = 7 };
    uint8_t f[200];
    uint32_t gre = fan(0x0800, f, p4(f, 47, a, b, 1, 2, 0));
    ck_assert_uint_eq(fan(0x0800, f, p4(f, 6, a, b, 40000, 443, 0x2000)), gre); /* first frag */
    ck_assert_uint_eq(fan(0x0800, f, p4(f, 6, a, b, 0, 0, 185)), gre);          /* a later one */
    ck_assert_uint_eq(fan(0x0800, f, p4(f, 17, a, b, 51000, 4789, 0)), gre);    /* VXLAN */
    ck_assert_uint_eq(fan(0x0800, f, p4(f, 17, b, a, 52000, 4789, 0)), gre);
    ck_assert_uint_eq(fan(0x0800, f, p4(f, 17, a, b, 2152, 2152, 0)), gre); /* GTP-U */
    ck_assert_uint_eq(fan(0x0800, f, p4(f, 17, b, a, 33000, 2152, 0)), gre);
    ck_assert_uint_ne(fan(0x0800, f, p4(f, 6, a, b, 40000, 443, 0)), gre); /* TCP: ports */
    uint32_t v6 = fan(0x86dd, f, p6(f, 6, a6, b6, 40000, 443));
    ck_assert_uint_eq(fan(0x86dd, f, p6(f, 6, a6, b6, 40001, 443)), v6);
    ck_assert_uint_eq(fan(0x86dd, f, p6(f, 44, a6, b6, 0, 0)), v6);
    ck_assert_uint_eq(fan(0x0806, f, 28), 0); /* ARP */
    ck_assert_uint_eq(fan(0x0800, f, 10), 0); /* a short packet: the load fails, worker 0 */
}
END_TEST

/* A UDP socket bound to a free port on lo (its address in *a) and the filter for that port. */
static int lo_socket(struct sockaddr_in *a, char *bpf, size_t cap)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(s, 0);
    *a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(s, (struct sockaddr *)a, sizeof *a), 0);
    socklen_t al = sizeof *a;
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)a, &al), 0);
    snprintf(bpf, cap, "udp port %u", ntohs(a->sin_port));
    return s;
}

/* A datagram sent over lo reaches a live capture (root: the suite runs as root, as tap mode
 * does) within a second: immediate hand-over (batch_ms 0) and blocks (batch_ms 1, TPACKET_V3,
 * handed over on the block timeout though the block is far from full). */
static void live_one(int batch_ms)
{
    struct sockaddr_in a;
    char bpf[64];
    int s = lo_socket(&a, bpf, sizeof bpf);
    struct capture_live_config cfg = {
        .iface = "lo", .bpf = bpf, .ring_bytes = 4u << 20, .snaplen = 65535, .batch_ms = batch_ms
    };
    char err[256] = "";
    struct capture *c = capture_live_open(&cfg, err, sizeof err);
    ck_assert_msg(c != NULL, "capture on lo (batch_ms %d): %s", batch_ms, err);
    static const char msg[] = "qorgau-batch-probe";
    ck_assert_int_eq(sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&a, sizeof a),
                     (ssize_t)(sizeof msg - 1));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        struct capture_frame fr;
        int rc = capture_next(c, &fr, err, sizeof err);
        if (rc == 1) {
            seen = fr.caplen >= sizeof msg - 1 &&
                   memcmp(fr.data + fr.caplen - (sizeof msg - 1), msg, sizeof msg - 1) == 0;
            continue;
        }
        ck_assert_msg(rc == -EAGAIN, "capture_next: %d %s", rc, err);
        struct pollfd pfd = { .fd = capture_live_fd(c), .events = POLLIN };
        (void)poll(&pfd, 1, 10);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_msg(seen, "batch_ms %d: the datagram was not captured within 1 s", batch_ms);
    ck_assert_msg(ms < 500, "batch_ms %d: captured after %.1f ms", batch_ms, ms);
    capture_close(c);
    close(s);
}

START_TEST(live_immediate)
{
    live_one(0);
}
END_TEST

START_TEST(live_batched)
{
    live_one(1);
}
END_TEST

/* The automatic snap length follows the MTU (an Ethernet header and two VLAN tags on top, never
 * under 1518); the MTU and offloads come from the interface, and a missing one is an error
 * naming it. */
START_TEST(auto_snaplen_and_offloads)
{
    ck_assert_int_eq(capture_live_auto_snaplen(1500), 1522);
    ck_assert_int_eq(capture_live_auto_snaplen(9000), 9022);
    ck_assert_int_eq(capture_live_auto_snaplen(576), 1518);
    ck_assert_int_eq(capture_live_auto_snaplen(-19), 1522); /* MTU unknown: 1500 */
    ck_assert_int_eq(capture_live_auto_snaplen(65536), 65535 + 22);
    /* the slot: MTU-sized only where the interface does not merge segments */
    ck_assert_int_eq(capture_live_pick_snaplen(0, 1500, false, false), 1522);
    ck_assert_int_eq(capture_live_pick_snaplen(0, 1500, false, true), 1522);
    ck_assert_int_eq(capture_live_pick_snaplen(0, 1500, true, false), 65535);
    ck_assert_int_eq(capture_live_pick_snaplen(0, 1500, true, true), 65535 + 64);
    ck_assert_int_eq(capture_live_pick_snaplen(0, -19, true, false), 65535);
    ck_assert_int_eq(capture_live_pick_snaplen(300, 1500, true, false), 300);
    ck_assert_int_eq(capture_live_pick_snaplen(300, 1500, false, true), 65535 + 64);
    ck_assert_int_eq(capture_live_pick_snaplen(70000, 1500, true, true), 70000);
    ck_assert_int_eq(capture_live_mtu("lo"), 65536);
    ck_assert_int_eq(capture_live_mtu("qg-no-such0"), -ENODEV);
    bool gro = true, lro = true;
    char err[160] = "";
    ck_assert_int_eq(capture_live_offloads("qg-no-such0", &gro, &lro, err, sizeof err), -ENODEV);
    ck_assert(!gro && !lro);
    ck_assert_msg(strstr(err, "qg-no-such0") != NULL, "%s", err);
    ck_assert_int_eq(capture_live_offloads("lo", &gro, &lro, err, sizeof err), 0);
    ck_assert(!lro); /* lo has no LRO; its GRO setting is the host's */
}
END_TEST

/* A frame longer than the snap length arrives cut: caplen < wirelen, the length it had on the
 * wire kept (what tap mode hands to engine_frame_cut()). */
START_TEST(live_cut_frame)
{
    struct sockaddr_in a;
    char bpf[64];
    int s = lo_socket(&a, bpf, sizeof bpf);
    struct capture_live_config cfg = {
        .iface = "lo", .bpf = bpf, .ring_bytes = 4u << 20, .snaplen = 300, .batch_ms = 0
    };
    char err[256] = "";
    struct capture *c = capture_live_open(&cfg, err, sizeof err);
    ck_assert_msg(c != NULL, "capture on lo: %s", err);
    static char msg[2000];
    memset(msg, 'x', sizeof msg);
    ck_assert_int_eq(sendto(s, msg, sizeof msg, 0, (struct sockaddr *)&a, sizeof a),
                     (ssize_t)sizeof msg);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        struct capture_frame fr;
        int rc = capture_next(c, &fr, err, sizeof err);
        if (rc == 1) {
            ck_assert_uint_le(fr.caplen, 300); /* the slot's room (alignment) may cut earlier */
            ck_assert_uint_ge(fr.caplen, 200);
            ck_assert_uint_eq(fr.wirelen, 14 + 20 + 8 + sizeof msg);
            seen = true;
            continue;
        }
        ck_assert_msg(rc == -EAGAIN, "capture_next: %d %s", rc, err);
        struct pollfd pfd = { .fd = capture_live_fd(c), .events = POLLIN };
        (void)poll(&pfd, 1, 10);
    }
    ck_assert_msg(seen, "the datagram was not captured within 1 s");
    capture_close(c);
    close(s);
}
END_TEST

static Suite *capture_live_suite(void)
{
    Suite *s = suite_create("capture_live");
    TCase *tc = tcase_create("filter");
    tcase_add_test(tc, keeps_fragments);
    tcase_add_test(tc, keeps_ext_and_tunnels);
    tcase_add_test(tc, default_filter_every_port);
    tcase_add_test(tc, filter_text);
    suite_add_tcase(s, tc);
    tc = tcase_create("fanout");
    tcase_add_test(tc, fanout_kernel_accepts);
    tcase_add_test(tc, fanout_symmetric);
    tcase_add_test(tc, fanout_spreads_by_port);
    tcase_add_test(tc, fanout_addresses_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("live");
    tcase_add_test(tc, live_immediate);
    tcase_add_test(tc, live_batched);
    tcase_add_test(tc, live_cut_frame);
    tcase_add_test(tc, auto_snaplen_and_offloads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(capture_live_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
