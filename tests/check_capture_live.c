/* check_capture_live.c - the filter tap mode compiles: compiled with pcap_compile() on a dead
 * Ethernet handle and run with pcap_offline_filter() over crafted frames, it must keep IP
 * fragments without ports (T12, zapret ipfrag2), IPv6 extension chains and tunnels, with and
 * without a VLAN tag, while still dropping what the operator's expression excludes. */
#include <check.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "capture_live.h"
#include "lib/craft.h"

static const uint8_t A4[4] = { 10, 0, 0, 2 }, B4[4] = { 10, 0, 0, 1 };
static const uint8_t A6[16] = { 0xfd, [15] = 2 }, B6[16] = { 0xfd, [15] = 1 };

#define DEFAULT_BPF "tcp port 80 or tcp port 443 or udp port 443"

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
    struct craft_tcp t = { .sport = 40000, .dport = dport, .seq = 1, .ack = 1, .flags = 0x18, .win = 512 };
    return craft_tcp(out, &t, ipver, ipver == 4 ? A4 : A6, ipver == 4 ? B4 : B6, pl, plen);
}

/* IPv4: the TCP segment to dport, whole (frag 0) or as the fragment with field frag. */
static size_t v4(uint8_t *fr, uint16_t vlan, uint16_t dport, uint16_t frag, bool first)
{
    uint8_t seg[700];
    size_t o = eth(fr, vlan, 0x0800);
    size_t n = tcp_seg(seg, 4, dport, 500);
    if (!first)   /* a later fragment: bytes from the middle of the payload, no TCP header */
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
    filt_init(&f, DEFAULT_BPF, true);
    uint8_t fr[1000];
    for (uint16_t vlan = 0; vlan <= 10; vlan += 10) {
        /* whole packets: the operator's expression decides */
        ck_assert(match(&f, fr, v4(fr, vlan, 443, 0, true)));
        ck_assert(!match(&f, fr, v4(fr, vlan, 22, 0, true)));
        ck_assert(match(&f, fr, v6(fr, vlan, 443, false, 0, 0)));
        ck_assert(!match(&f, fr, v6(fr, vlan, 22, false, 0, 0)));
        /* IPv4: first fragment (MF, offset 0), a middle one (MF, offset 200), the last */
        ck_assert_msg(match(&f, fr, v4(fr, vlan, 443, 0x2000, true)), "v4 first, vlan %u", vlan);
        ck_assert_msg(match(&f, fr, v4(fr, vlan, 443, 0x2000 | 25, false)), "v4 middle, vlan %u", vlan);
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
    filt_init(&f, DEFAULT_BPF, false);
    ck_assert(match(&f, fr, v4(fr, 0, 443, 25, false)));
    ck_assert(match(&f, fr, v6(fr, 0, 443, true, 200, 0)));
    ck_assert(!match(&f, fr, v4(fr, 0, 22, 0, true)));
    filt_fini(&f);
}
END_TEST

/* IPv6 with a hop-by-hop header before TCP (T13): libpcap's "tcp port" reads only the first
 * next-header, the filter keeps it anyway. Tunnels are kept: their ports are inside. */
START_TEST(keeps_ext_and_tunnels)
{
    struct filt f;
    filt_init(&f, DEFAULT_BPF, true);
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
        craft_put16(udp + 2, 2152);   /* GTP-U */
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 17, udp, 16)));
        craft_put16(udp + 2, 53);     /* DNS: not kept */
        ck_assert(!match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 17, udp, 16)));
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 47, udp, 16)));   /* GRE */
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 4, udp, 16)));    /* IPIP */
        ck_assert(match(&f, fr, o + craft_ip4(fr + o, A4, B4, 1, 0, 41, udp, 16)));   /* 6in4 */
        /* MPLS and PPPoE session frames */
        o = eth(fr, vlan, 0x8847);
        memset(fr + o, 0, 60);
        ck_assert_msg(match(&f, fr, o + 60), "mpls, vlan %u", vlan);
        o = eth(fr, vlan, 0x8864);
        ck_assert_msg(match(&f, fr, o + 60), "pppoe, vlan %u", vlan);
        o = eth(fr, vlan, 0x0806);   /* ARP: not kept */
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
    ck_assert_uint_eq(capture_live_filter("tcp port 443", true, buf, 40), 0);   /* too small */
    ck_assert_str_eq(buf, "");
}
END_TEST

static Suite *capture_live_suite(void)
{
    Suite *s = suite_create("capture_live");
    TCase *tc = tcase_create("filter");
    tcase_add_test(tc, keeps_fragments);
    tcase_add_test(tc, keeps_ext_and_tunnels);
    tcase_add_test(tc, filter_text);
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
