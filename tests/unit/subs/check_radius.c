/* check_radius.c - Check suite for the RADIUS Accounting parser and response builder
 * (rules/subs/radius.c): a packet whose authenticator was computed independently (Python's
 * hashlib), every attribute the map needs, strict attribute walking (truncated, oversized,
 * wrong-length attributes), header checks, the authenticator with a wrong secret, and every
 * input read from a copy ending at an unreadable page (an over-read faults). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules/subs/radius.h"
#include "tests/lib/guard.h"

static const uint8_t SECRET[] = "testing123";
#define SLEN (sizeof(SECRET) - 1)

/* Start, session "sess-0001", 10.1.2.3, Calling-Station-Id 77011234567, User-Name alice,
 * 3GPP-IMSI 401770123456789, Framed-IPv6-Prefix 2001:db8:aabb:cc00::/56 (7 prefix bytes),
 * Event-Timestamp 1767225600; id 7, secret "testing123". */
static const uint8_t PKT[] = {
    0x04, 0x07, 0x00, 0x67, 0x13, 0xe5, 0x48, 0x19, 0xc3, 0x55, 0x3f, 0x7f, 0x3e, 0xe7, 0xd0,
    0xd0, 0x87, 0x6b, 0xcd, 0x2b, 0x28, 0x06, 0x00, 0x00, 0x00, 0x01, 0x2c, 0x0b, 0x73, 0x65,
    0x73, 0x73, 0x2d, 0x30, 0x30, 0x30, 0x31, 0x08, 0x06, 0x0a, 0x01, 0x02, 0x03, 0x1f, 0x0d,
    0x37, 0x37, 0x30, 0x31, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x01, 0x07, 0x61, 0x6c,
    0x69, 0x63, 0x65, 0x1a, 0x17, 0x00, 0x00, 0x28, 0xaf, 0x01, 0x11, 0x34, 0x30, 0x31, 0x37,
    0x37, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x0b, 0x00, 0x38,
    0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xbb, 0xcc, 0x37, 0x06, 0x69, 0x55, 0xb9, 0x00,
};
static const uint8_t RESP_AUTH[16] = { 0xf1, 0x42, 0x3b, 0xa6, 0x7d, 0x6c, 0x5a, 0x2a,
                                       0x82, 0x88, 0xd0, 0x64, 0x9b, 0xbc, 0xd1, 0xa1 };

static int parse(const uint8_t *b, size_t n, const uint8_t *sec, size_t sl, struct radius_acct *a,
                 char *err, size_t errlen)
{
    const uint8_t *g = guard_copy(b, n);
    return radius_acct_parse(g, n, sec, sl, a, err, errlen);
}

static bool str_is(struct radius_str s, const char *want)
{
    return s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

START_TEST(known_packet)
{
    struct radius_acct a;
    char err[128] = "";
    ck_assert_int_eq(parse(PKT, sizeof(PKT), SECRET, SLEN, &a, err, sizeof(err)), 0);
    ck_assert_uint_eq(a.identifier, 7);
    ck_assert_uint_eq(a.length, sizeof(PKT));
    ck_assert_uint_eq(a.status, RADIUS_START);
    ck_assert(str_is(a.session_id, "sess-0001"));
    ck_assert(str_is(a.calling, "77011234567"));
    ck_assert(str_is(a.user_name, "alice"));
    ck_assert(str_is(a.imsi, "401770123456789"));
    ck_assert(a.has_ipv4);
    ck_assert_mem_eq(a.ipv4, ((uint8_t[]){ 10, 1, 2, 3 }), 4);
    ck_assert(a.has_ipv6);
    ck_assert_uint_eq(a.ipv6_plen, 56);
    ck_assert_mem_eq(
        a.ipv6,
        ((uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0, 0, 0, 0, 0, 0 }), 16);
    ck_assert(a.has_timestamp);
    ck_assert_uint_eq(a.event_timestamp, 1767225600u);
    ck_assert_str_eq(radius_status_name(a.status), "Start");
}
END_TEST

START_TEST(response_known)
{
    uint8_t out[20];
    ck_assert_int_eq(radius_acct_response(7, PKT + 4, SECRET, SLEN, out, sizeof(out)), 20);
    ck_assert_mem_eq(out, ((uint8_t[]){ 5, 7, 0, 20 }), 4);
    ck_assert_mem_eq(out + 4, RESP_AUTH, 16);
    ck_assert_int_eq(radius_acct_response(7, PKT + 4, SECRET, SLEN, out, 19), -ENOSPC);
}
END_TEST

START_TEST(wrong_secret)
{
    struct radius_acct a;
    char err[128] = "";
    ck_assert_int_eq(
        parse(PKT, sizeof(PKT), (const uint8_t *)"testing124", 10, &a, err, sizeof(err)), -EACCES);
    ck_assert_str_eq(err, "radius: offset 4: Request Authenticator does not match the secret");
    /* one flipped bit in an attribute: the authenticator no longer matches */
    uint8_t b[sizeof(PKT)];
    memcpy(b, PKT, sizeof(b));
    b[40] ^= 1;
    ck_assert_int_eq(parse(b, sizeof(b), SECRET, SLEN, &a, err, sizeof(err)), -EACCES);
}
END_TEST

START_TEST(build_roundtrip)
{
    uint8_t attrs[] = {
        40, 6, 0, 0, 0, 3, 44, 4, 'x', 'y', 8, 6, 192, 0, 2, 1, 85, 6, 0, 0, 1, 44
    };
    uint8_t pkt[RADIUS_MAX];
    int n = radius_acct_build(9, attrs, sizeof(attrs), SECRET, SLEN, pkt, sizeof(pkt));
    ck_assert_int_eq(n, 20 + (int)sizeof(attrs));
    struct radius_acct a;
    char err[128];
    ck_assert_int_eq(parse(pkt, (size_t)n, SECRET, SLEN, &a, err, sizeof(err)), 0);
    ck_assert_uint_eq(a.status, RADIUS_INTERIM);
    ck_assert(a.has_interim);
    ck_assert_uint_eq(a.interim_interval, 300);
    ck_assert(!a.has_ipv6);
    ck_assert(!a.calling.p);
    /* trailing bytes past the header's length are ignored (RFC 2865 §3) */
    pkt[n] = 0xee;
    ck_assert_int_eq(parse(pkt, (size_t)n + 1, SECRET, SLEN, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(radius_acct_build(9, attrs, sizeof(attrs), SECRET, SLEN, pkt, 30), -ENOSPC);
}
END_TEST

/* Malformed inputs: attributes (after a Start status) and the error each gives. */
static const struct bad {
    const char *name;
    uint8_t attrs[24];
    size_t alen;
    const char *err; /* prefix of the message */
} bads[] = {
    { "attr length 0",
      { 40, 6, 0, 0, 0, 1, 44, 0 },
      8,
      "radius: offset 27: attribute length below 2" },
    { "attr length 1",
      { 40, 6, 0, 0, 0, 1, 44, 1, 'x' },
      9,
      "radius: offset 27: attribute length below 2" },
    { "attr past end",
      { 40, 6, 0, 0, 0, 1, 44, 9, 'x', 'y' },
      10,
      "radius: offset 27: attribute runs past" },
    { "lone type byte",
      { 40, 6, 0, 0, 0, 1, 44 },
      7,
      "radius: offset 26: truncated attribute header" },
    { "ipv4 of 5", { 8, 7, 1, 2, 3, 4, 5 }, 7, "radius: offset 20: Framed-IP-Address is not 4" },
    { "ipv4 of 3", { 8, 5, 1, 2, 3 }, 5, "radius: offset 20: Framed-IP-Address is not 4" },
    { "status of 2", { 40, 4, 0, 1 }, 4, "radius: offset 20: Acct-Status-Type is not 4" },
    { "ipv6 plen 129",
      { 97, 4, 0, 129 },
      4,
      "radius: offset 23: Framed-IPv6-Prefix length over 128" },
    { "ipv6 short prefix",
      { 97, 6, 0, 64, 0x20, 0x01 },
      6,
      "radius: offset 23: Framed-IPv6-Prefix shorter" },
    { "ipv6 oversized",
      { 97, 21, 0, 64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 },
      21,
      "radius: offset 20: Framed-IPv6-Prefix length not" },
    { "empty user name", { 1, 2 }, 2, "radius: offset 20: empty string attribute" },
    { "vsa short", { 26, 5, 0, 0, 0x28 }, 5, "radius: offset 20: Vendor-Specific shorter" },
    { "3gpp sub past end",
      { 26, 10, 0, 0, 0x28, 0xaf, 1, 9, '4', '0' },
      10,
      "radius: offset 27: 3GPP sub-attribute length out of bounds" },
    { "3gpp sub length 1",
      { 26, 8, 0, 0, 0x28, 0xaf, 1, 1 },
      8,
      "radius: offset 27: 3GPP sub-attribute length out of bounds" },
    { "3gpp lone byte", { 26, 7, 0, 0, 0x28, 0xaf, 1 }, 7, "radius: offset 26: truncated 3GPP" },
    { "timestamp of 8",
      { 55, 10, 0, 0, 0, 0, 0, 0, 0, 1 },
      10,
      "radius: offset 20: Event-Timestamp is not 4" },
};

START_TEST(malformed_attrs)
{
    const struct bad *b = &bads[_i];
    uint8_t pkt[RADIUS_MAX];
    int n = radius_acct_build(1, b->attrs, b->alen, SECRET, SLEN, pkt, sizeof(pkt));
    ck_assert_int_gt(n, 0);
    struct radius_acct a;
    char err[160] = "";
    ck_assert_msg(parse(pkt, (size_t)n, SECRET, SLEN, &a, err, sizeof(err)) == -EBADMSG, "%s",
                  b->name);
    ck_assert_msg(strncmp(err, b->err, strlen(b->err)) == 0, "%s: got '%s'", b->name, err);
}
END_TEST

START_TEST(header_checks)
{
    struct radius_acct a;
    char err[128];
    ck_assert_int_eq(parse(PKT, 19, SECRET, SLEN, &a, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "radius: offset 19: shorter than the 20-byte header");
    uint8_t b[sizeof(PKT)];
    memcpy(b, PKT, sizeof(b));
    /* length field beyond the datagram: truncated in transit */
    ck_assert_int_eq(parse(b, sizeof(b) - 1, SECRET, SLEN, &a, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "radius: offset 2: length field beyond the datagram");
    b[2] = 0x10, b[3] = 0x01; /* 4097 */
    ck_assert_int_eq(parse(b, sizeof(b), SECRET, SLEN, &a, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "radius: offset 2: length field outside 20..4096");
    b[2] = 0, b[3] = 19;
    ck_assert_int_eq(parse(b, sizeof(b), SECRET, SLEN, &a, err, sizeof(err)), -EBADMSG);
    memcpy(b, PKT, sizeof(b));
    b[0] = 1; /* Access-Request */
    ck_assert_int_eq(parse(b, sizeof(b), SECRET, SLEN, &a, err, sizeof(err)), -EPROTO);
    ck_assert_str_eq(err, "radius: offset 0: not an Accounting-Request (code 4)");
    /* a header's length shorter than the datagram cuts an attribute: malformed */
    memcpy(b, PKT, sizeof(b));
    b[3] = (uint8_t)(sizeof(PKT) - 2);
    ck_assert_int_eq(parse(b, sizeof(b), SECRET, SLEN, &a, err, sizeof(err)), -EBADMSG);
}
END_TEST

/* Every prefix of the known packet read as a datagram of that length: never a crash, never an
 * over-read (guard page), and never accepted unless whole. */
START_TEST(every_truncation)
{
    for (size_t n = 0; n < sizeof(PKT); n++) {
        struct radius_acct a;
        char err[128];
        ck_assert_int_ne(parse(PKT, n, SECRET, SLEN, &a, err, sizeof(err)), 0);
    }
    guard_free();
}
END_TEST

/* An oversized packet: the largest legal one (4096) is accepted; the other vendors' VSAs and
 * unknown attributes are skipped. */
START_TEST(largest_packet)
{
    uint8_t attrs[RADIUS_MAX - RADIUS_HDR];
    size_t i = 0;
    memcpy(attrs, (uint8_t[]){ 40, 6, 0, 0, 0, 2 }, 6);
    i = 6;
    while (RADIUS_MAX - RADIUS_HDR - i >= 255) {
        attrs[i] = 26;
        attrs[i + 1] = 255;
        memset(attrs + i + 2, 0x41, 253);
        attrs[i + 2] = 0; /* vendor 0x00414141: not 3GPP */
        i += 255;
    }
    size_t rest = RADIUS_MAX - RADIUS_HDR - i;
    attrs[i] = 200;
    attrs[i + 1] = (uint8_t)rest;
    memset(attrs + i + 2, 0, rest - 2);
    i += rest;
    uint8_t pkt[RADIUS_MAX];
    int n = radius_acct_build(3, attrs, i, SECRET, SLEN, pkt, sizeof(pkt));
    ck_assert_int_eq(n, RADIUS_MAX);
    struct radius_acct a;
    char err[128];
    ck_assert_int_eq(parse(pkt, (size_t)n, SECRET, SLEN, &a, err, sizeof(err)), 0);
    ck_assert_uint_eq(a.status, RADIUS_STOP);
    ck_assert(!a.imsi.p);
}
END_TEST

static Suite *radius_suite(void)
{
    Suite *s = suite_create("radius");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, known_packet);
    tcase_add_test(tc, response_known);
    tcase_add_test(tc, build_roundtrip);
    tcase_add_test(tc, largest_packet);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, wrong_secret);
    tcase_add_loop_test(tc, malformed_attrs, 0, (int)(sizeof(bads) / sizeof(bads[0])));
    tcase_add_test(tc, header_checks);
    tcase_add_test(tc, every_truncation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(radius_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
