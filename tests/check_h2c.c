/* check_h2c.c - Check suite for the h2c first-request dissector (proxy/h2c.c).
 *
 * Header blocks are produced by nghttp2's own HPACK deflater (the encoder real clients such as
 * nghttp use), framed here as a client would: preface, SETTINGS, HEADERS [+ CONTINUATION]. The
 * end-to-end case over real nghttp traffic is tests/scripts/corpus.sh (../shared/corpus/nghttp.pcap).
 * Inputs sit against a guard page (tests/lib/guard.h). */
#include <check.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "h2c.h"
#include "lib/guard.h"

#define SCRATCH 16384
static uint8_t g_scratch[SCRATCH];

struct buf {
    uint8_t b[8192];
    size_t n;
};

static void put(struct buf *o, const void *p, size_t n)
{
    ck_assert_uint_le(o->n + n, sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void frame(struct buf *o, uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *p, size_t n)
{
    uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                     (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid };
    put(o, h, 9);
    if (n)
        put(o, p, n);
}

/* HPACK-encodes a GET for authority/path with nghttp2's deflater. */
static size_t encode(uint8_t *out, size_t cap, const char *authority, const char *path, bool host_only)
{
    nghttp2_hd_deflater *def;
    ck_assert_int_eq(nghttp2_hd_deflate_new(&def, 4096), 0);
    nghttp2_nv nv[5];
    size_t n = 0;
#define NV(k, v) nv[n++] = (nghttp2_nv){ (uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE }
    NV(":method", "GET");
    NV(":scheme", "http");
    if (host_only) {
        NV(":path", path);
        NV("host", authority);
    } else {
        NV(":authority", authority);
        NV(":path", path);
    }
    NV("user-agent", "nghttp2/1.52.0");
#undef NV
    ssize_t rv = nghttp2_hd_deflate_hd(def, out, cap, nv, n);
    nghttp2_hd_deflate_del(def);
    ck_assert_int_gt(rv, 0);
    return (size_t)rv;
}

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void build(struct buf *o, const char *auth, const char *path, bool host_only, size_t split)
{
    uint8_t block[1024];
    size_t bl = encode(block, sizeof(block), auth, path, host_only);
    uint8_t settings[6] = { 0, 3, 0, 0, 0, 100 };
    o->n = 0;
    put(o, PREFACE, 24);
    frame(o, 0x4, 0, 0, settings, sizeof(settings));
    if (split == 0 || split >= bl) {
        frame(o, 0x1, 0x4 | 0x1, 1, block, bl);
    } else {
        frame(o, 0x1, 0x1, 1, block, split);
        frame(o, 0x9, 0x4, 1, block + split, bl - split);
    }
}

static enum dstatus parse(const struct buf *o, size_t len, struct h2c_request *r)
{
    size_t off;
    const uint8_t *g = guard_copy(o->b, len);
    return h2c_request_parse(g, len, g_scratch, sizeof(g_scratch), r, &off);
}

static void assert_span(struct span s, const char *want)
{
    ck_assert_uint_eq(s.len, strlen(want));
    ck_assert(memcmp(s.p, want, s.len) == 0);
}

START_TEST(authority_and_path)
{
    struct buf o;
    struct h2c_request r;
    build(&o, "blocked-site.example", "/c/1/page?id=1", false, 0);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_OK);
    assert_span(r.authority, "blocked-site.example");
    assert_span(r.path, "/c/1/page?id=1");
    ck_assert_uint_eq(r.stream_id, 1);
}
END_TEST

START_TEST(host_header_fallback)
{
    struct buf o;
    struct h2c_request r;
    build(&o, "example.org:8080", "/", true, 0);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_OK);
    assert_span(r.authority, "example.org:8080");
}
END_TEST

START_TEST(continuation_split)
{
    struct buf o;
    struct h2c_request r;
    for (size_t split = 1; split < 20; split++) {
        build(&o, "a.b.example", "/x", false, split);
        ck_assert_int_eq(parse(&o, o.n, &r), DS_OK);
        assert_span(r.authority, "a.b.example");
    }
}
END_TEST

START_TEST(every_prefix_needs_more)
{
    struct buf o;
    struct h2c_request r;
    build(&o, "www.example.com", "/index.html", false, 7);
    for (size_t len = 0; len < o.n; len++)
        ck_assert_msg(parse(&o, len, &r) == DS_NEED_MORE, "prefix %zu of %zu", len, o.n);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_OK);
}
END_TEST

START_TEST(not_h2)
{
    struct buf o = { .n = 0 };
    struct h2c_request r;
    put(&o, "GET / HTTP/1.1\r\n", 16);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_NOT_MINE);
}
END_TEST

START_TEST(malformed_frames)
{
    struct buf o;
    struct h2c_request r;
    uint8_t junk[4] = { 0xff, 0xff, 0xff, 0xff };
    /* CONTINUATION without HEADERS */
    o.n = 0;
    put(&o, PREFACE, 24);
    frame(&o, 0x9, 0x4, 1, junk, 4);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_MALFORMED);
    /* HEADERS on stream 0 */
    o.n = 0;
    put(&o, PREFACE, 24);
    frame(&o, 0x1, 0x4, 0, junk, 4);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_MALFORMED);
    /* invalid HPACK: index 127+ beyond both tables */
    o.n = 0;
    put(&o, PREFACE, 24);
    frame(&o, 0x1, 0x4, 1, junk, 4);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_MALFORMED);
    /* padding longer than the payload */
    uint8_t pad[2] = { 9, 0x82 };
    o.n = 0;
    put(&o, PREFACE, 24);
    frame(&o, 0x1, 0x4 | 0x8, 1, pad, 2);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_MALFORMED);
}
END_TEST

START_TEST(limit_frames)
{
    struct buf o = { .n = 0 };
    struct h2c_request r;
    uint8_t wu[4] = { 0, 0, 1, 0 };
    put(&o, PREFACE, 24);
    for (int i = 0; i < H2C_MAX_FRAMES + 1; i++)
        frame(&o, 0x8, 0, 0, wu, 4);
    ck_assert_int_eq(parse(&o, o.n, &r), DS_LIMIT);
}
END_TEST

static Suite *h2c_suite(void)
{
    Suite *s = suite_create("h2c");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, authority_and_path);
    tcase_add_test(tc, host_header_fallback);
    tcase_add_test(tc, continuation_split);
    tcase_add_test(tc, every_prefix_needs_more);
    tcase_add_test(tc, not_h2);
    tcase_add_test(tc, malformed_frames);
    tcase_add_test(tc, limit_frames);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(h2c_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
