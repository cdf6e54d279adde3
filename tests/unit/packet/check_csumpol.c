/* check_csumpol.c - checksum policy: verify / ignore / auto, per-source learning, the offload
 * and zero shapes, and that a fake with a bad checksum among good packets stays set aside (T5). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/packet/csumpol.h"
#include "proxy/packet/decode.h"
#include "tests/lib/craft.h"

static const uint8_t CLI[4] = { 10, 0, 0, 2 }, SRV[4] = { 10, 0, 0, 1 }, CLI2[4] = { 10, 0, 0, 3 };

enum shape { GOOD, ZERO, OFFLOAD, BAD };

/* An Ethernet-less IPv4 TCP packet from src with the checksum in the given shape, decoded into p
 * (the frame stays in buf). */
static void mk(uint8_t *buf, const uint8_t *src, enum shape sh, uint32_t seq, struct pkt *p)
{
    static const char pl[] = "payload bytes";
    uint8_t seg[64];
    struct craft_tcp t = {
        .sport = 40000, .dport = 443, .seq = seq, .ack = 1, .flags = 0x18, .win = 512
    };
    size_t n = craft_tcp(seg, &t, 4, src, SRV, pl, sizeof pl - 1);
    if (sh == ZERO) {
        seg[16] = seg[17] = 0;
    } else if (sh == OFFLOAD) {
        uint32_t acc = craft_pseudo(4, src, SRV, 6, n);
        uint16_t ps = (uint16_t)~craft_fold(acc); /* the folded pseudo-header sum */
        craft_put16(seg + 16, ps);
    } else if (sh == BAD) {
        seg[17] ^= 0x5a;
    }
    size_t len = craft_ip4(buf, src, SRV, 1, 0, 6, seg, n);
    ck_assert_int_eq(decode_packet(DECODE_LINK_RAW, buf, len, p), DECODE_OK);
    ck_assert(sh == GOOD ? decode_l4_csum_ok(p) : !decode_l4_csum_ok(p));
}

START_TEST(offload_shapes)
{
    uint8_t b[128];
    struct pkt p;
    mk(b, CLI, ZERO, 1, &p);
    ck_assert(decode_l4_csum_unfinished(&p));
    mk(b, CLI, OFFLOAD, 1, &p);
    ck_assert(decode_l4_csum_unfinished(&p));
    mk(b, CLI, BAD, 1, &p);
    ck_assert(!decode_l4_csum_unfinished(&p));
    mk(b, CLI, GOOD, 1, &p);
    ck_assert(!decode_l4_csum_unfinished(&p));
}
END_TEST

/* The offload shape over both IP versions and protocols, segment lengths 8..1500 (the length is
 * in the pseudo-header) and source addresses whose pseudo-header sum carries: the folded
 * pseudo-header sum is taken (and zero: for UDP over IPv4 "not computed", never mistaken for the
 * shape), the sum one off is not, nor is the correct checksum. */
START_TEST(offload_shape_all_forms)
{
    static const uint8_t a6[16] = { 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x12, 0x34,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd },
                         b6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
                         a4[4] = { 0xff, 0xff, 0xfe, 0xff }, b4[4] = { 0xc0, 0xa8, 0xff, 0xff };
    static const size_t lens[] = { 8, 20, 21, 64, 129, 1000, 1500 };
    uint8_t buf[1600], seg[1500];
    for (int v = 4; v <= 6; v += 2)
        for (int proto = 6; proto <= 17; proto += 11)
            for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
                size_t n = lens[k], at = proto == 6 ? 16 : 6;
                if (n < (proto == 6 ? 20u : 8u))
                    continue;
                const uint8_t *src = v == 4 ? a4 : a6, *dst = v == 4 ? b4 : b6;
                for (size_t i = 0; i < n; i++)
                    seg[i] = (uint8_t)(i * 7 + 3);
                if (proto == 6)
                    seg[12] = 0x50; /* data offset 5 */
                else
                    craft_put16(seg + 4, (uint32_t)n); /* UDP length */
                uint16_t ps = (uint16_t)~craft_fold(craft_pseudo(v, src, dst, (uint8_t)proto, n));
                for (int t = 0; t < 4; t++) {
                    uint16_t field = t == 0   ? ps
                                     : t == 1 ? (uint16_t)(ps + 1)
                                     : t == 2 ? (uint16_t)(ps - 1)
                                              : 0;
                    if (t == 3) { /* the correct checksum */
                        craft_put16(seg + at, 0);
                        field = craft_fold(
                            craft_sum(craft_pseudo(v, src, dst, (uint8_t)proto, n), seg, n));
                    }
                    craft_put16(seg + at, field);
                    size_t len;
                    if (v == 4) {
                        len = craft_ip4(buf, src, dst, 1, 0, (uint8_t)proto, seg, n);
                    } else {
                        len = craft_ip6(buf, src, dst, (uint8_t)proto, n);
                        memcpy(buf + len, seg, n);
                        len += n;
                    }
                    struct pkt p;
                    ck_assert_int_eq(decode_packet(DECODE_LINK_RAW, buf, len, &p), DECODE_OK);
                    ck_assert_msg(decode_l4_csum_unfinished(&p) == (t == 0 || field == ps),
                                  "v%d proto %d len %zu form %d", v, proto, n, t);
                    ck_assert(decode_l4_csum_ok(&p) == (t == 3));
                }
            }
}
END_TEST

START_TEST(verify_and_ignore)
{
    uint8_t b[128];
    struct pkt p;
    struct csumpol *v = csumpol_new(CSUMPOL_VERIFY), *ig = csumpol_new(CSUMPOL_IGNORE);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(ig);
    for (int i = 0; i < 20; i++) {
        mk(b, CLI, ZERO, (uint32_t)i, &p);
        ck_assert(!csumpol_apply(v, &p));
        ck_assert(!p.l4_csum_ok);
        ck_assert(csumpol_apply(ig, &p));
        ck_assert(p.l4_csum_ok);
    }
    struct csumpol_stats st;
    csumpol_get_stats(v, &st);
    ck_assert_uint_eq(st.accepted, 0);
    csumpol_get_stats(ig, &st);
    ck_assert_uint_eq(st.accepted, 20);
    csumpol_free(v);
    csumpol_free(ig);
    csumpol_free(NULL);
}
END_TEST

/* A host whose checksums are all zero (anonymised) or offload-shaped: every packet is taken from
 * the first one, and after CSUMPOL_LEARN the host is not checked any more. */
START_TEST(auto_unfinished_host)
{
    static const enum shape shapes[] = { ZERO, OFFLOAD };
    for (int k = 0; k < 2; k++) {
        uint8_t b[128];
        struct pkt p;
        struct csumpol *cp = csumpol_new(CSUMPOL_AUTO);
        for (int i = 0; i < 3 * CSUMPOL_LEARN; i++) {
            mk(b, CLI, shapes[k], (uint32_t)i, &p);
            ck_assert_msg(csumpol_apply(cp, &p), "packet %d not taken", i);
            ck_assert(p.l4_csum_ok);
        }
        /* the other end's good packets are verified as usual */
        mk(b, SRV, GOOD, 1, &p);
        memcpy(p.src, SRV, 4);
        ck_assert(!csumpol_apply(cp, &p));
        ck_assert(p.l4_csum_ok); /* computed while learning: good */
        struct csumpol_stats st;
        csumpol_get_stats(cp, &st);
        ck_assert_uint_eq(st.accepted, 3 * CSUMPOL_LEARN);
        ck_assert_uint_eq(st.sources_ignore, 1);
        ck_assert_uint_eq(st.sources_verify, 1);
        ck_assert_uint_eq(st.checked, CSUMPOL_LEARN + 1); /* not summed once decided */
        csumpol_free(cp);
    }
}
END_TEST

/* T5: a host that sent a good checksum first stays verified: a later fake with a bad checksum,
 * in any shape, is not taken. */
START_TEST(auto_fake_among_good)
{
    uint8_t b[128];
    struct pkt p;
    struct csumpol *cp = csumpol_new(CSUMPOL_AUTO);
    mk(b, CLI, GOOD, 1, &p);
    ck_assert(!csumpol_apply(cp, &p));
    for (int i = 0; i < 3 * CSUMPOL_LEARN; i++) {
        mk(b, CLI, (enum shape)(1 + i % 3), (uint32_t)(2 + i), &p);
        ck_assert(!csumpol_apply(cp, &p));
        ck_assert(!p.l4_csum_ok);
        mk(b, CLI, GOOD, (uint32_t)(100 + i), &p);
        ck_assert(!csumpol_apply(cp, &p));
    }
    struct csumpol_stats st;
    csumpol_get_stats(cp, &st);
    ck_assert_uint_eq(st.accepted, 0);
    ck_assert_uint_eq(st.checked, 1);
    csumpol_free(cp);
}
END_TEST

/* A new host whose checksums are bad in another shape: set aside until CSUMPOL_LEARN of them in a
 * row, then not verified; a good checksum before that ends the learning for good. Hosts and
 * zones are told apart. */
START_TEST(auto_consistent_bad)
{
    uint8_t b[128];
    struct pkt p;
    struct csumpol *cp = csumpol_new(CSUMPOL_AUTO);
    for (int i = 0; i < CSUMPOL_LEARN - 1; i++) {
        mk(b, CLI, BAD, (uint32_t)i, &p);
        ck_assert(!csumpol_apply(cp, &p));
        ck_assert(!p.l4_csum_ok);
    }
    mk(b, CLI, BAD, 99, &p);
    p.zone = 7; /* same address behind another VLAN: another source */
    ck_assert(!csumpol_apply(cp, &p));
    mk(b, CLI, BAD, 100, &p);
    ck_assert(csumpol_apply(cp, &p)); /* the LEARN-th in a row */
    mk(b, CLI, BAD, 101, &p);
    ck_assert(csumpol_apply(cp, &p));

    for (int i = 0; i < CSUMPOL_LEARN - 1; i++) {
        mk(b, CLI2, BAD, (uint32_t)i, &p);
        ck_assert(!csumpol_apply(cp, &p));
    }
    mk(b, CLI2, GOOD, 50, &p);
    ck_assert(!csumpol_apply(cp, &p));
    for (int i = 0; i < 2 * CSUMPOL_LEARN; i++) {
        mk(b, CLI2, BAD, (uint32_t)(60 + i), &p);
        ck_assert(!csumpol_apply(cp, &p));
    }
    csumpol_free(cp);
}
END_TEST

/* A flood of new sources (spoofed, one packet each) must not push a verified host out of the
 * table: if it did, the host would learn again and its next offload-shaped fake would be taken. */
START_TEST(auto_flood_keeps_verified)
{
    uint8_t b[128];
    struct pkt p;
    struct csumpol *cp = csumpol_new(CSUMPOL_AUTO);
    mk(b, CLI, GOOD, 1, &p);
    ck_assert(!csumpol_apply(cp, &p));
    for (uint32_t i = 0; i < 20 * CSUMPOL_SLOTS; i++) {
        uint8_t spoof[4] = { 172, (uint8_t)(16 + (i >> 16)), (uint8_t)(i >> 8), (uint8_t)i };
        mk(b, spoof, BAD, i, &p);
        /* a BAD checksum can land on the offload shape by chance: then it is taken, fine */
        ck_assert(!csumpol_apply(cp, &p) || decode_l4_csum_unfinished(&p));
    }
    mk(b, CLI, OFFLOAD, 2, &p);
    ck_assert(!csumpol_apply(cp, &p));
    ck_assert(!p.l4_csum_ok);
    mk(b, CLI, ZERO, 3, &p);
    ck_assert(!csumpol_apply(cp, &p));
    csumpol_free(cp);
}
END_TEST

/* csumpol_prefetch() is a hint: in every mode (verify and ignore keep no table) the policy
 * answers as it would without it, also when given the place it returned. */
START_TEST(prefetch_is_a_hint)
{
    static const enum csumpol_mode modes[] = { CSUMPOL_VERIFY, CSUMPOL_IGNORE, CSUMPOL_AUTO };
    static const enum shape shapes[] = { GOOD, OFFLOAD, BAD, OFFLOAD, OFFLOAD, BAD, GOOD };
    for (size_t m = 0; m < 3; m++) {
        struct csumpol *a = csumpol_new(modes[m]), *b = csumpol_new(modes[m]);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            uint8_t ba[128], bb[128];
            struct pkt pa, pb;
            mk(ba, i % 2 ? CLI : CLI2, shapes[i], (uint32_t)i, &pa);
            mk(bb, i % 2 ? CLI : CLI2, shapes[i], (uint32_t)i, &pb);
            uint32_t hint = csumpol_prefetch(a, &pa);
            ck_assert(modes[m] == CSUMPOL_AUTO ? hint != 0 : hint == 0);
            ck_assert_int_eq(csumpol_apply_hinted(a, &pa, hint), csumpol_apply(b, &pb));
            ck_assert_int_eq(pa.l4_csum_ok, pb.l4_csum_ok);
        }
        struct csumpol_stats sa, sb;
        csumpol_get_stats(a, &sa);
        csumpol_get_stats(b, &sb);
        ck_assert(memcmp(&sa, &sb, sizeof sa) == 0);
        csumpol_free(a);
        csumpol_free(b);
    }
}
END_TEST

START_TEST(names)
{
    ck_assert_int_eq(csumpol_parse("verify"), CSUMPOL_VERIFY);
    ck_assert_int_eq(csumpol_parse("ignore"), CSUMPOL_IGNORE);
    ck_assert_int_eq(csumpol_parse("auto"), CSUMPOL_AUTO);
    ck_assert_int_eq(csumpol_parse("Auto"), -1);
    ck_assert_int_eq(csumpol_parse(""), -1);
    ck_assert_str_eq(csumpol_mode_name(CSUMPOL_AUTO), "auto");
}
END_TEST

static Suite *csumpol_suite(void)
{
    Suite *s = suite_create("csumpol");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, offload_shapes);
    tcase_add_test(tc, verify_and_ignore);
    tcase_add_test(tc, auto_unfinished_host);
    tcase_add_test(tc, offload_shape_all_forms);
    tcase_add_test(tc, auto_fake_among_good);
    tcase_add_test(tc, auto_consistent_bad);
    tcase_add_test(tc, auto_flood_keeps_verified);
    tcase_add_test(tc, prefetch_is_a_hint);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(csumpol_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
