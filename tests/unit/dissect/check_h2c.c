/* check_h2c.c - Check suite for the h2c first-request dissector (proxy/h2c.c).
 *
 * Header blocks are produced by nghttp2's own HPACK deflater (the encoder real clients such as
 * nghttp use), framed here as a client would: preface, SETTINGS, HEADERS [+ CONTINUATION]. The
 * end-to-end case over real nghttp traffic is tests/scripts/corpus.sh (../shared/corpus/nghttp.pcap).
 * Inputs sit against a guard page (tests/lib/guard.h). */
#include <check.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/dissect/h2c.h"
#include "tests/lib/guard.h"

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

static void frame(struct buf *o, uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *p,
                  size_t n)
{
    uint8_t h[9] = {
        (uint8_t)(n >> 16),   (uint8_t)(n >> 8),    (uint8_t)n,          type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid
    };
    put(o, h, 9);
    if (n)
        put(o, p, n);
}

/* HPACK-encodes a GET for authority/path with nghttp2's deflater. */
static size_t encode(uint8_t *out, size_t cap, const char *authority, const char *path,
                     bool host_only)
{
    nghttp2_hd_deflater *def;
    ck_assert_int_eq(nghttp2_hd_deflate_new(&def, 4096), 0);
    nghttp2_nv nv[5];
    size_t n = 0;
#define NV(k, v) \
    nv[n++] =    \
        (nghttp2_nv){ (uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE }
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

/* ---- every stream of a connection (h2c_conn_step) ---- */

/* HPACK-encodes a GET with a deflater kept across requests, as a client does: the second
 * request for a name refers to the dynamic table entry the first one made. */
static size_t encode_with(nghttp2_hd_deflater *def, uint8_t *out, size_t cap, const char *authority)
{
    nghttp2_nv nv[4];
    size_t n = 0;
#define NV(k, v) \
    nv[n++] =    \
        (nghttp2_nv){ (uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE }
    NV(":method", "GET");
    NV(":scheme", "http");
    NV(":authority", authority);
    NV(":path", "/x");
#undef NV
    ssize_t rv = nghttp2_hd_deflate_hd(def, out, cap, nv, n);
    ck_assert_int_gt(rv, 0);
    return (size_t)rv;
}

/* Walks the connection bytes (o) like the pipeline: step, skip, judge each completed block.
 * Returns the number of blocks; names[i] gets each block's authority. */
static size_t walk_conn(struct h2c_conn *c, const struct buf *o, char names[][64], size_t cap)
{
    size_t at = 0, k = 0;
    while (at < o->n) {
        struct h2c_request r;
        uint64_t skip;
        size_t err;
        uint8_t *p = guard_copy(o->b + at, o->n - at);
        enum dstatus st = h2c_conn_step(c, p, o->n - at, &r, &skip, &err);
        ck_assert_msg(st == DS_OK, "at %zu: %s", at, dstatus_name(st));
        ck_assert_uint_gt(skip, 0);
        if (r.stream_id) {
            ck_assert_uint_lt(k, cap);
            snprintf(names[k++], 64, "%.*s", (int)r.authority.len, (const char *)r.authority.p);
        }
        at += (size_t)skip;
    }
    ck_assert_uint_eq(at, o->n);
    return k;
}

static bool never_alive(const void *owner, uint32_t id, void *ctx)
{
    (void)owner;
    (void)id;
    (void)ctx;
    return false;
}

static bool always_alive(const void *owner, uint32_t id, void *ctx)
{
    (void)owner;
    (void)id;
    (void)ctx;
    return true;
}

/* EVASION H18: the second and third streams are judged, the third naming its host only through
 * the HPACK dynamic table; a header block split inside :authority over HEADERS + CONTINUATION;
 * a DATA frame between them is skipped unread. */
START_TEST(every_stream)
{
    static struct buf o;
    uint8_t blk[3][256];
    size_t bl[3];
    nghttp2_hd_deflater *def;
    ck_assert_int_eq(nghttp2_hd_deflate_new(&def, 4096), 0);
    bl[0] = encode_with(def, blk[0], sizeof(blk[0]), "allowed.example");
    bl[1] = encode_with(def, blk[1], sizeof(blk[1]), "blocked.example");
    bl[2] = encode_with(def, blk[2], sizeof(blk[2]), "blocked.example");
    nghttp2_hd_deflate_del(def);
    ck_assert_uint_lt(bl[2], bl[1]); /* the third refers to the table */
    struct h2c_pool *pool = h2c_pool_new(2);
    ck_assert_ptr_nonnull(pool);
    for (size_t cut = 1; cut < bl[1]; cut++) {
        o.n = 0;
        put(&o, PREFACE, sizeof(PREFACE) - 1);
        frame(&o, 0x4, 0, 0, NULL, 0);               /* SETTINGS */
        frame(&o, 0x1, 0x4 | 0x1, 1, blk[0], bl[0]); /* HEADERS, END_HEADERS */
        static const uint8_t body[100];
        frame(&o, 0x0, 0x1, 1, body, sizeof(body));        /* DATA */
        frame(&o, 0x1, 0x0, 3, blk[1], cut);               /* HEADERS, the block goes on */
        frame(&o, 0x9, 0x4, 3, blk[1] + cut, bl[1] - cut); /* CONTINUATION, END_HEADERS */
        frame(&o, 0x1, 0x4, 5, blk[2], bl[2]);
        struct h2c_conn *c = h2c_conn_take(pool, &o, (uint32_t)cut, always_alive, NULL);
        ck_assert_ptr_nonnull(c);
        char names[4][64];
        ck_assert_uint_eq(walk_conn(c, &o, names, 4), 3);
        ck_assert_str_eq(names[0], "allowed.example");
        ck_assert_str_eq(names[1], "blocked.example");
        ck_assert_str_eq(names[2], "blocked.example");
        h2c_conn_release(pool, &o, (uint32_t)cut);
    }
    /* an incomplete HEADERS payload is NEED_MORE, consuming nothing; a DATA payload is not
     * needed; a frame interleaving a field block is MALFORMED */
    struct h2c_conn *c = h2c_conn_take(pool, &o, 999, always_alive, NULL);
    struct h2c_request r;
    uint64_t skip;
    size_t err;
    ck_assert_int_eq(h2c_conn_step(c, o.b, 10, &r, &skip, &err), DS_NEED_MORE);
    ck_assert_int_eq(h2c_conn_step(c, o.b, 24, &r, &skip, &err), DS_OK);
    ck_assert_uint_eq(skip, 24);
    static const uint8_t data_hdr[9] = { 0, 0x40, 0, 0x0, 0, 0, 0, 0, 1 };
    ck_assert_int_eq(h2c_conn_step(c, data_hdr, 9, &r, &skip, &err), DS_OK);
    ck_assert_uint_eq(skip, 9 + 0x4000);
    static const uint8_t hdr_part[12] = { 0, 0, 10, 0x1, 0, 0, 0, 0, 3, 0x82, 0x86, 0x84 };
    ck_assert_int_eq(h2c_conn_step(c, hdr_part, sizeof(hdr_part), &r, &skip, &err), DS_NEED_MORE);
    static const uint8_t open_blk[12] = { 0, 0, 3, 0x1, 0, 0, 0, 0, 3, 0x82, 0x86, 0x84 };
    ck_assert_int_eq(h2c_conn_step(c, open_blk, sizeof(open_blk), &r, &skip, &err), DS_OK);
    ck_assert_uint_eq(r.stream_id, 0);
    ck_assert_int_eq(h2c_conn_step(c, data_hdr, 9, &r, &skip, &err), DS_MALFORMED);
    /* the pool: two states (999's and 1000's). A third connection takes one whose owner is gone
     * first, else the one used longest ago - which its connection then no longer finds */
    ck_assert_ptr_nonnull(h2c_conn_take(pool, &o, 1000, always_alive, NULL));
    ck_assert_ptr_eq(h2c_conn_find(pool, &o, 999), c); /* 999 used last now */
    struct h2c_conn *c1001 = h2c_conn_take(pool, &o, 1001, always_alive, NULL);
    ck_assert_ptr_nonnull(c1001);
    ck_assert_ptr_null(h2c_conn_find(pool, &o, 1000)); /* given away: used longest ago */
    ck_assert_ptr_eq(h2c_conn_find(pool, &o, 999), c);
    ck_assert_ptr_eq(h2c_conn_find(pool, &o, 1001), c1001);
    ck_assert_ptr_eq(h2c_conn_take(pool, &o, 1002, never_alive, NULL), c); /* a stale one first */
    ck_assert_ptr_null(h2c_conn_find(pool, &o, 999));
    ck_assert_ptr_null(h2c_conn_find(pool, &o, 77)); /* never had one */
    h2c_pool_free(pool);
    guard_free();
}
END_TEST

/* A literal longer than the decoder's arena can hold is a LIMIT, not a crash. */
START_TEST(arena_limit)
{
    static struct buf o;
    static uint8_t blk[H2C_ARENA + 64];
    size_t n = 0;
    blk[n++] = 0x40; /* literal with incremental indexing, new name */
    blk[n++] = 0x05;
    memcpy(blk + n, "x-big", 5);
    n += 5;
    size_t vl = H2C_ARENA; /* value length, 7-bit prefix integer */
    blk[n++] = 0x7f;
    size_t rest = vl - 127;
    while (rest >= 128) {
        blk[n++] = (uint8_t)(rest % 128 + 128);
        rest /= 128;
    }
    blk[n++] = (uint8_t)rest;
    memset(blk + n, 'a', vl);
    n += vl;
    o.n = 0;
    struct h2c_pool *pool = h2c_pool_new(1);
    struct h2c_conn *c = h2c_conn_take(pool, &o, 1, NULL, NULL);
    struct h2c_request r;
    uint64_t skip;
    size_t err;
    ck_assert_int_eq(h2c_conn_step(c, (const uint8_t *)PREFACE, 24, &r, &skip, &err), DS_OK);
    static uint8_t fr[H2C_ARENA + 128];
    uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, 0x1, 0x4, 0, 0, 0, 1 };
    memcpy(fr, h, 9);
    memcpy(fr + 9, blk, n);
    ck_assert_int_eq(h2c_conn_step(c, fr, 9 + n, &r, &skip, &err), DS_LIMIT);
    h2c_pool_free(pool);
}
END_TEST

/* The stateless reading decodes with an inflater whose only memory is the first half of the
 * scratch: a 6000-byte field fits a 16 KiB scratch (8 KiB arena) and is a LIMIT in a 12100-byte
 * one (6050-byte arena), the block itself being under either half. Nothing comes from the heap,
 * so a flow without a pooled state costs no allocation. */
START_TEST(first_request_arena_in_scratch)
{
    static struct buf o;
    static uint8_t blk[7000];
    size_t n = 0;
    blk[n++] = 0x00; /* literal without indexing, new name */
    blk[n++] = 0x05;
    memcpy(blk + n, "x-big", 5);
    n += 5;
    size_t vl = 6000; /* raw value length, 7-bit prefix integer */
    blk[n++] = 0x7f;
    size_t rest = vl - 127;
    while (rest >= 128) {
        blk[n++] = (uint8_t)(rest % 128 + 128);
        rest /= 128;
    }
    blk[n++] = (uint8_t)rest;
    memset(blk + n, 'a', vl);
    n += vl;
    static const uint8_t tail[] = {
        0x82, 0x86, 0x84, 0x01, 0x07, 'e', 'x', '.', 't', 'e', 's', 't'
    };
    memcpy(blk + n, tail, sizeof(tail)); /* GET, http, /, :authority ex.test */
    n += sizeof(tail);
    o.n = 0;
    put(&o, PREFACE, 24);
    frame(&o, 0x1, 0x4 | 0x1, 1, blk, n);
    struct h2c_request r;
    size_t off;
    const uint8_t *g = guard_copy(o.b, o.n);
    ck_assert_int_eq(h2c_request_parse(g, o.n, g_scratch, sizeof(g_scratch), &r, &off), DS_OK);
    assert_span(r.authority, "ex.test");
    assert_span(r.path, "/");
    static uint8_t small[12100];
    ck_assert_uint_lt(n, sizeof(small) / 2);
    ck_assert_int_eq(h2c_request_parse(g, o.n, small, sizeof(small), &r, &off), DS_LIMIT);
    /* and at an odd address: the arena aligns itself */
    ck_assert_int_eq(h2c_request_parse(g, o.n, g_scratch + 1, sizeof(g_scratch) - 1, &r, &off),
                     DS_OK);
    assert_span(r.authority, "ex.test");
    guard_free();
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
    tcase_add_test(tc, every_stream);
    tcase_add_test(tc, arena_limit);
    tcase_add_test(tc, first_request_arena_in_scratch);
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
