/* check_defrag.c - IPv4/IPv6 reassembly: in order, out of order, duplicates, overlaps,
 * timeouts, pool exhaustion and size limits; the rebuilt datagram must decode again. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/packet/decode.h"
#include "proxy/packet/defrag.h"
#include "tests/lib/craft.h"

static const uint8_t SRC4[4] = { 192, 0, 2, 1 }, DST4[4] = { 192, 0, 2, 2 };
static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* A TCP segment (20-byte header + plen bytes of pattern) with a checksum for ipver. */
static size_t mk_tcp(int ipver, uint8_t *out, size_t plen)
{
    static const struct craft_tcp t = {
        .sport = 40000, .dport = 443, .seq = 1, .flags = 0x18, .win = 1000
    };
    for (size_t i = 0; i < plen; i++)
        out[20 + i] = (uint8_t)(i * 7 + 3);
    return craft_tcp(out, &t, ipver, ipver == 4 ? SRC4 : SRC6, ipver == 4 ? DST4 : DST6, NULL,
                     plen);
}

/* IPv4 fragment carrying seg[off .. off+n) of the datagram's payload. */
static size_t frag4(uint8_t *out, uint16_t id, const uint8_t *seg, size_t off, size_t n, bool mf)
{
    uint16_t ff = (uint16_t)((mf ? 0x2000 : 0) | (off / 8));
    return craft_ip4(out, SRC4, DST4, id, ff, 6, seg + off, n);
}

/* IPv6 fragment with a destination-options header before the fragment header. */
static size_t frag6(uint8_t *out, uint32_t id, const uint8_t *seg, size_t off, size_t n, bool m)
{
    craft_ip6(out, SRC6, DST6, 60, 16 + n);
    craft_ext8(out + 40, 44);             /* DST opts -> fragment */
    craft_frag6(out + 48, 6, off, m, id); /* fragment -> TCP */
    memcpy(out + 56, seg + off, n);
    return 56 + n;
}

static struct defrag *mk(uint32_t max, uint64_t timeout)
{
    struct defrag_cfg cfg;
    defrag_cfg_default(&cfg);
    cfg.max_datagrams = max;
    if (timeout)
        cfg.timeout_us = timeout;
    struct defrag *d = defrag_new(&cfg);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* Feeds one fragment (decoded first); returns the defrag result. */
static enum defrag_result feed(struct defrag *d, const uint8_t *ip, size_t n, uint64_t now,
                               const uint8_t **out, size_t *olen)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(decode_ip(ip, n, &p), DECODE_FRAGMENT);
    return defrag_add(d, &p, now, out, olen);
}

static void check_rebuilt(const uint8_t *out, size_t olen, const uint8_t *seg, size_t segn, int v)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(decode_ip(out, olen, &p), DECODE_OK);
    ck_assert_int_eq(p.ipver, v);
    ck_assert_int_eq(p.l4proto, 6);
    ck_assert(p.l4_csum_ok);
    ck_assert_int_eq(p.dport, 443);
    ck_assert_uint_eq(p.payload_len, segn - 20);
    ck_assert_mem_eq(p.payload, seg + 20, segn - 20);
}

START_TEST(ipv4_in_and_out_of_order)
{
    static const size_t orders[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 1, 2, 0 }, { 2, 0, 1 } };
    uint8_t seg[2000], fr[3][1000];
    size_t sn = mk_tcp(4, seg, 1500 - 20);
    size_t fl[3];
    fl[0] = frag4(fr[0], 7, seg, 0, 504, true);
    fl[1] = frag4(fr[1], 7, seg, 504, 504, true);
    fl[2] = frag4(fr[2], 7, seg, 1008, sn - 1008, false);
    for (size_t o = 0; o < 4; o++) {
        struct defrag *d = mk(4, 0);
        const uint8_t *out;
        size_t olen;
        ck_assert_int_eq(feed(d, fr[orders[o][0]], fl[orders[o][0]], 1, &out, &olen), DEFRAG_HELD);
        ck_assert_int_eq(feed(d, fr[orders[o][1]], fl[orders[o][1]], 2, &out, &olen), DEFRAG_HELD);
        ck_assert_int_eq(feed(d, fr[orders[o][2]], fl[orders[o][2]], 3, &out, &olen), DEFRAG_DONE);
        ck_assert_uint_eq(olen, 20 + sn);
        check_rebuilt(out, olen, seg, sn, 4);
        ck_assert_int_eq(out[6] & 0x3f, 0); /* no MF, no offset */
        struct defrag_stats st;
        defrag_get_stats(d, &st);
        ck_assert_uint_eq(st.completed, 1);
        ck_assert_uint_eq(st.fragments, 3);
        defrag_expire(d, 4); /* releases the completed slot */
        defrag_get_stats(d, &st);
        ck_assert_uint_eq(st.in_progress, 0);
        defrag_free(d);
    }
}
END_TEST

START_TEST(ipv6_with_ext_headers)
{
    uint8_t seg[2000], a[1200], b[1200];
    size_t sn = mk_tcp(6, seg, 1200);
    size_t la = frag6(a, 0xabcdef01, seg, 0, 800, true);
    size_t lb = frag6(b, 0xabcdef01, seg, 800, sn - 800, false);
    struct defrag *d = mk(4, 0);
    const uint8_t *out;
    size_t olen;
    ck_assert_int_eq(feed(d, b, lb, 1, &out, &olen), DEFRAG_HELD);
    ck_assert_int_eq(feed(d, a, la, 2, &out, &olen), DEFRAG_DONE);
    ck_assert_uint_eq(olen, 48 + sn); /* IPv6 + DST options, fragment header gone */
    ck_assert_int_eq(out[40], 6);     /* DST options now names TCP */
    check_rebuilt(out, olen, seg, sn, 6);
    defrag_free(d);
}
END_TEST

START_TEST(duplicates_and_overlaps)
{
    uint8_t seg[2000], f0[1000], f1[1000], f2[1000], fo[1000];
    size_t sn = mk_tcp(4, seg, 1000);
    size_t l0 = frag4(f0, 9, seg, 0, 512, true);
    size_t l1 = frag4(f1, 9, seg, 512, sn - 512, false);
    struct defrag *d = mk(4, 0);
    const uint8_t *out;
    size_t olen;
    struct defrag_stats st;
    ck_assert_int_eq(feed(d, f0, l0, 1, &out, &olen), DEFRAG_HELD);
    /* an exact duplicate with other bytes: dropped, the first copy wins */
    memcpy(f2, f0, l0);
    memset(f2 + 40, 'X', 100);
    ck_assert_int_eq(feed(d, f2, l0, 2, &out, &olen), DEFRAG_HELD);
    size_t ls = frag4(fo, 9, seg, 8, 64, true); /* wholly inside: duplicate */
    ck_assert_int_eq(feed(d, fo, ls, 2, &out, &olen), DEFRAG_HELD);
    ck_assert_int_eq(feed(d, f1, l1, 3, &out, &olen), DEFRAG_DONE);
    check_rebuilt(out, olen, seg, sn, 4);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.duplicates, 2);
    /* a partial overlap discards the whole datagram */
    ck_assert_int_eq(feed(d, f0, l0, 4, &out, &olen), DEFRAG_HELD);
    size_t lp = frag4(fo, 9, seg, 256, 512, true);
    ck_assert_int_eq(feed(d, fo, lp, 5, &out, &olen), DEFRAG_DROPPED);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.overlaps, 1);
    ck_assert_uint_eq(st.in_progress, 0);
    ck_assert_int_eq(feed(d, f1, l1, 6, &out, &olen), DEFRAG_HELD); /* starts afresh */
    defrag_free(d);

    /* IPv6: same rule (RFC 5722) */
    uint8_t s6[2000], a[1200], b[1200];
    size_t n6 = mk_tcp(6, s6, 600);
    size_t la = frag6(a, 1, s6, 0, 312, true);
    size_t lb = frag6(b, 1, s6, 304, n6 - 304, false);
    d = mk(4, 0);
    ck_assert_int_eq(feed(d, a, la, 1, &out, &olen), DEFRAG_HELD);
    ck_assert_int_eq(feed(d, b, lb, 2, &out, &olen), DEFRAG_DROPPED);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.overlaps, 1);
    defrag_free(d);
}
END_TEST

START_TEST(timeout_and_pool)
{
    uint8_t seg[2000], f[4][1000];
    size_t sn = mk_tcp(4, seg, 600);
    const uint8_t *out;
    size_t olen;
    struct defrag_stats st;
    struct defrag *d = mk(2, 1000000);
    size_t l0 = frag4(f[0], 1, seg, 0, 304, true);
    size_t l1 = frag4(f[1], 1, seg, 304, sn - 304, false);
    ck_assert_int_eq(feed(d, f[0], l0, 0, &out, &olen), DEFRAG_HELD);
    ck_assert_int_eq(feed(d, f[1], l1, 1000001, &out, &olen), DEFRAG_HELD); /* too late */
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.timeouts, 1);
    ck_assert_uint_eq(st.completed, 0);
    defrag_expire(d, 3000000);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.timeouts, 2);
    ck_assert_uint_eq(st.in_progress, 0);
    /* three datagrams, room for two: the oldest goes */
    size_t a = frag4(f[0], 11, seg, 0, 304, true);
    size_t b = frag4(f[1], 12, seg, 0, 304, true);
    size_t c = frag4(f[2], 13, seg, 0, 304, true);
    ck_assert_int_eq(feed(d, f[0], a, 10, &out, &olen), DEFRAG_HELD);
    ck_assert_int_eq(feed(d, f[1], b, 11, &out, &olen), DEFRAG_HELD);
    ck_assert_int_eq(feed(d, f[2], c, 12, &out, &olen), DEFRAG_HELD);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.evicted, 1);
    ck_assert_uint_eq(st.in_progress, 2);
    size_t last12 = frag4(f[3], 12, seg, 304, sn - 304, false);
    ck_assert_int_eq(feed(d, f[3], last12, 13, &out, &olen), DEFRAG_DONE);
    check_rebuilt(out, olen, seg, sn, 4);
    size_t last11 = frag4(f[3], 11, seg, 304, sn - 304, false); /* 11 was evicted */
    ck_assert_int_eq(feed(d, f[3], last11, 14, &out, &olen), DEFRAG_HELD);
    defrag_free(d);
    defrag_free(NULL);
}
END_TEST

START_TEST(limits_and_bad_lengths)
{
    static uint8_t seg[70000], f[2000];
    const uint8_t *out;
    size_t olen;
    struct defrag_stats st;
    struct defrag *d = mk(4, 0);
    memset(seg, 1, sizeof seg);
    size_t l = frag4(f, 5, seg, 65528, 100, false); /* ends past 65535 */
    ck_assert_int_eq(feed(d, f, l, 1, &out, &olen), DEFRAG_DROPPED);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.too_big, 1);
    /* two different last fragments */
    l = frag4(f, 6, seg, 800, 100, false);
    ck_assert_int_eq(feed(d, f, l, 2, &out, &olen), DEFRAG_HELD);
    l = frag4(f, 6, seg, 800, 200, false);
    ck_assert_int_eq(feed(d, f, l, 3, &out, &olen), DEFRAG_DROPPED);
    /* data past the known end */
    l = frag4(f, 7, seg, 800, 100, false);
    ck_assert_int_eq(feed(d, f, l, 4, &out, &olen), DEFRAG_HELD);
    l = frag4(f, 7, seg, 896, 16, true);
    ck_assert_int_eq(feed(d, f, l, 5, &out, &olen), DEFRAG_DROPPED);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.bad_len, 2);
    /* IPv6 non-last fragment not a multiple of 8 */
    l = frag6(f, 8, seg, 0, 100, true);
    ck_assert_int_eq(feed(d, f, l, 6, &out, &olen), DEFRAG_DROPPED);
    defrag_get_stats(d, &st);
    ck_assert_uint_eq(st.bad_len, 3);
    /* IPv4 non-last fragment not a multiple of 8 is trimmed (ip_frag_queue) and still fits */
    uint8_t tseg[2000];
    size_t sn = mk_tcp(4, tseg, 300);
    l = frag4(f, 9, tseg, 0, 203, true);
    ck_assert_int_eq(feed(d, f, l, 7, &out, &olen), DEFRAG_HELD);
    l = frag4(f, 9, tseg, 200, sn - 200, false);
    ck_assert_int_eq(feed(d, f, l, 8, &out, &olen), DEFRAG_DONE);
    check_rebuilt(out, olen, tseg, sn, 4);
    defrag_free(d);
    struct defrag_cfg cfg;
    defrag_cfg_default(&cfg);
    cfg.max_datagrams = 0;
    ck_assert_ptr_null(defrag_new(&cfg));
    cfg.max_datagrams = 1;
    cfg.max_bytes = 70000;
    ck_assert_ptr_null(defrag_new(&cfg));
}
END_TEST

static Suite *defrag_suite(void)
{
    Suite *s = suite_create("defrag");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, ipv4_in_and_out_of_order);
    tcase_add_test(tc, ipv6_with_ext_headers);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, duplicates_and_overlaps);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, timeout_and_pool);
    tcase_add_test(tc, limits_and_bad_lengths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(defrag_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
