/* check_rsimage.c - the rule set's disk image: a round trip gives the same answers as the set in
 * memory (model check over random entries and queries), and a truncated, corrupted, foreign or
 * forged image is refused with a message naming the file. */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "rules/match/ruleset.h"
#include "tests/lib/rnd.h"

/* Where the header keeps what the forgery tests change (rules/match/ruleset.c, struct
 * img_header): the format at 8, the layout at 16, the checksum at 48 (XXH64, little-endian, then
 * 24 zero bytes), the section table (offset,
 * length) at 160, sections in the order of enum img_sect (1 = entry text offsets). */
#define HDR_FORMAT 8
#define HDR_LAYOUT 16
#define HDR_SUM    48
#define HDR_SECT   160
#define HDR_SIZE   512
#define SECT_TEXT  1

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qg-rsimage-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *const labels[] = { "a", "b", "ex", "mail", "cdn", "x1", "shop", "kz", "ru" };

static void rnd_host(char *out, size_t cap)
{
    struct rnd_alpha al = { labels, 9, ".", 4, 0, 0 };
    rnd_name(&al, out, cap);
}

/* A random set: domains, URLs (exact, query, prefix, http and https) and IPv4/IPv6 prefixes,
 * from a few orders, some entries listed by several. */
static struct ruleset *random_set(size_t n)
{
    struct ruleset_builder *b = ruleset_builder_new();
    ck_assert_ptr_nonnull(b);
    char t[600], h[200], err[256];
    static const char *const orders[] = { "2026-1", "2026-2", "2026-3", "2026-4", "" };
    static const char *const cats[] = { "court", "gambling", "extremism" };
    for (size_t i = 0; i < n; i++) {
        rnd_host(h, sizeof(h));
        uint32_t r = rnd_below(10);
        if (r < 4)
            snprintf(t, sizeof(t), "%s", h);
        else if (r < 5)
            snprintf(t, sizeof(t), "https://%s/p%u", h, rnd_below(5));
        else if (r < 6)
            snprintf(t, sizeof(t), "http://%s/d%u/*", h, rnd_below(3));
        else if (r < 7)
            snprintf(t, sizeof(t), "http://%s/q?x=%u", h, rnd_below(3));
        else if (r < 9)
            snprintf(t, sizeof(t), "10.%u.%u.0/%u", rnd_below(4), rnd_below(4),
                     16 + 8 * rnd_below(3));
        else
            snprintf(t, sizeof(t), "2001:db8:%x::/%u", rnd_below(8), 48 + 16 * rnd_below(3));
        struct rule_attrs a = { orders[rnd_below(5)], cats[rnd_below(3)], NULL };
        ck_assert_int_eq(ruleset_builder_add(b, t, strlen(t), &a, err, sizeof(err)), 0);
    }
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    return rs;
}

static size_t hits;

static void same_match(bool a, const struct rule_match *ma, bool b, const struct rule_match *mb,
                       const char *what)
{
    ck_assert_msg(a == b, "%s: %d vs %d", what, a, b);
    hits += a;
    if (a) {
        ck_assert_msg(ma->entry == mb->entry && ma->kind == mb->kind, "%s: entry %u vs %u", what,
                      ma->entry, mb->entry);
    }
}

/* Every entry's attributes and every query's answer agree. */
static void compare_sets(const struct ruleset *x, const struct ruleset *y)
{
    size_t n = ruleset_entry_count(x);
    ck_assert_uint_eq(n, ruleset_entry_count(y));
    struct ruleset_stats sx, sy;
    ruleset_get_stats(x, &sx);
    ruleset_get_stats(y, &sy);
    ck_assert_uint_eq(sx.domains, sy.domains);
    ck_assert_uint_eq(sx.urls, sy.urls);
    ck_assert_uint_eq(sx.ips4, sy.ips4);
    ck_assert_uint_eq(sx.ips6, sy.ips6);
    for (uint32_t e = 0; e < n; e++) {
        ck_assert_str_eq(ruleset_entry_text(x, e), ruleset_entry_text(y, e));
        ck_assert_str_eq(ruleset_entry_category(x, e), ruleset_entry_category(y, e));
        ck_assert_int_eq(ruleset_entry_kind(x, e), ruleset_entry_kind(y, e));
        const char *ox[8], *oy[8];
        size_t nx = ruleset_entry_orders(x, e, ox, 8), ny = ruleset_entry_orders(y, e, oy, 8);
        ck_assert_uint_eq(nx, ny);
        for (size_t i = 0; i < nx && i < 8; i++)
            ck_assert_str_eq(ox[i], oy[i]);
    }
    char h[200], p[64];
    struct rule_match ma, mb;
    hits = 0;
    for (int i = 0; i < 3000; i++) {
        rnd_host(h, sizeof(h));
        size_t hl = strlen(h);
        same_match(ruleset_match_domain(x, h, hl, &ma), &ma, ruleset_match_domain(y, h, hl, &mb),
                   &mb, h);
        same_match(ruleset_match_url_host(x, h, hl, &ma), &ma,
                   ruleset_match_url_host(y, h, hl, &mb), &mb, h);
        static const char *const paths[] = {
            "/p0", "/p3", "/d1/", "/d2/z", "/q?x=1", "/q?x=9", "/"
        };
        snprintf(p, sizeof(p), "%s", paths[rnd_below(7)]);
        same_match(ruleset_match_url(x, h, hl, p, strlen(p), &ma), &ma,
                   ruleset_match_url(y, h, hl, p, strlen(p), &mb), &mb, p);
        uint8_t a4[4] = { 10, (uint8_t)rnd_below(5), (uint8_t)rnd_below(5), (uint8_t)rnd_below(3) };
        same_match(ruleset_match_ip(x, 4, a4, &ma), &ma, ruleset_match_ip(y, 4, a4, &mb), &mb,
                   "ip4");
        uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, (uint8_t)rnd_below(9) };
        a6[7] = (uint8_t)rnd_below(2);
        same_match(ruleset_match_ip(x, 6, a6, &ma), &ma, ruleset_match_ip(y, 6, a6, &mb), &mb,
                   "ip6");
    }
    ck_assert_msg(n == 0 || hits > 300, "only %zu of 15000 queries matched", hits);
}

static void image_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/rules.img", dir);
}

START_TEST(test_round_trip)
{
    rnd_seed(0x5eed + (uint64_t)_i);
    mkdir_tmp();
    struct ruleset *rs = random_set(_i == 0 ? 50 : 4000);
    char path[128], err[512];
    image_path(path, sizeof(path));
    ck_assert_int_eq(ruleset_image_write(rs, path, 42 + (uint64_t)_i, err, sizeof(err)), 0);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ck_assert_int_eq(access(tmp, F_OK), -1); /* renamed into place */
    uint64_t v = 0;
    struct ruleset *im = ruleset_image_open(path, &v, err, sizeof(err));
    ck_assert_msg(im != NULL, "%s", err);
    ck_assert_uint_eq(v, 42 + (uint64_t)_i);
    struct ruleset_stats st;
    ruleset_get_stats(im, &st);
    ck_assert_uint_eq(st.version, 42 + (uint64_t)_i);
    compare_sets(rs, im);
    /* an image-backed set writes the same image again */
    char path2[160];
    snprintf(path2, sizeof(path2), "%s/again.img", dir);
    ck_assert_int_eq(ruleset_image_write(im, path2, 42 + (uint64_t)_i, err, sizeof(err)), 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s", path, path2);
    ck_assert_int_eq(system(cmd), 0);
    ruleset_free(im);
    ruleset_free(rs);
    rm_tmp();
}
END_TEST

START_TEST(test_empty_set)
{
    mkdir_tmp();
    struct ruleset *rs = ruleset_build(ruleset_builder_new());
    char path[128], err[512];
    image_path(path, sizeof(path));
    ck_assert_int_eq(ruleset_image_write(rs, path, 1, err, sizeof(err)), 0);
    struct ruleset *im = ruleset_image_open(path, NULL, err, sizeof(err));
    ck_assert_msg(im != NULL, "%s", err);
    ck_assert_uint_eq(ruleset_entry_count(im), 0);
    uint8_t a[4] = { 10, 0, 0, 1 };
    ck_assert(!ruleset_match_ip(im, 4, a, NULL));
    ck_assert(!ruleset_match_domain(im, "ex.com", 6, NULL));
    ck_assert(!ruleset_match_url(im, "ex.com", 6, "/", 1, NULL));
    ruleset_free(im);
    ruleset_free(rs);
    rm_tmp();
}
END_TEST

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len + 1);
    ck_assert_uint_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Opens b[0..len) written at path; expects a refusal whose message has want and the path. */
static void refused(const char *path, const uint8_t *b, size_t len, const char *want)
{
    spit(path, b, len);
    char err[512] = "";
    uint64_t v = 77;
    struct ruleset *rs = ruleset_image_open(path, &v, err, sizeof(err));
    ck_assert_msg(rs == NULL, "accepted (want '%s')", want);
    ck_assert_uint_eq(v, 77);
    ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
    ck_assert_msg(strncmp(err, "rules: ", 7) == 0 && strstr(err, path) != NULL, "%s", err);
}

static void reseal(uint8_t *b, size_t len)
{
    uint64_t sum = htole64(XXH64(b + HDR_SIZE, len - HDR_SIZE, 0));
    memcpy(b + HDR_SUM, &sum, sizeof(sum));
}

static uint8_t *small_image(const char *path, size_t *len)
{
    rnd_seed(99);
    struct ruleset *rs = random_set(60);
    char err[512];
    ck_assert_int_eq(ruleset_image_write(rs, path, 7, err, sizeof(err)), 0);
    ruleset_free(rs);
    return slurp(path, len);
}

START_TEST(test_corrupt_refused)
{
    mkdir_tmp();
    char path[128], bad[160];
    image_path(path, sizeof(path));
    snprintf(bad, sizeof(bad), "%s/bad.img", dir);
    size_t len;
    uint8_t *img = small_image(path, &len);
    uint8_t *b = malloc(len + 64);
    ck_assert_uint_gt(len, HDR_SIZE + 64);

    /* header: magic, format version, layout */
    memcpy(b, img, len);
    b[0] ^= 1;
    refused(bad, b, len, "not a rule set image");
    memcpy(b, img, len);
    b[HDR_FORMAT] = 9;
    refused(bad, b, len, "image format 9, this build reads 2");
    memcpy(b, img, len);
    b[HDR_LAYOUT] = 'b';
    refused(bad, b, len, "another layout");
    /* the checksum itself */
    memcpy(b, img, len);
    b[HDR_SUM + 5] ^= 0x40;
    refused(bad, b, len, "checksum mismatch");
    memcpy(b, img, len);
    b[HDR_SUM + 31] ^= 0x01; /* the unused bytes after the 64-bit sum */
    refused(bad, b, len, "checksum mismatch");
    /* a format 1 image (SHA-256) is refused by its version, before any checksum */
    memcpy(b, img, len);
    b[HDR_FORMAT] = 1;
    refused(bad, b, len, "image format 1, this build reads 2");
    /* payload: one flipped bit anywhere */
    for (size_t at = HDR_SIZE; at < len; at += 1 + len / 97) {
        memcpy(b, img, len);
        b[at] ^= (uint8_t)(1u << (at % 8));
        refused(bad, b, len, "checksum mismatch");
    }
    /* truncated anywhere, and with bytes after the end */
    static const char *const cut[] = { "empty file", "truncated", "truncated" };
    refused(bad, img, 0, cut[0]);
    refused(bad, img, 5, cut[1]);
    refused(bad, img, 100, "truncated");
    for (size_t l = HDR_SIZE; l < len; l += 1 + len / 31)
        refused(bad, img, l, "truncated");
    memcpy(b, img, len);
    memset(b + len, 0, 64);
    refused(bad, b, len + 64, "trailing bytes");
    free(b);
    free(img);
    rm_tmp();
}
END_TEST

/* A forged image (changed and sealed again with a good checksum) is still checked: an entry
 * text offset outside the pool, or a section outside the file, is refused. */
START_TEST(test_forged_refused)
{
    mkdir_tmp();
    char path[128], bad[160];
    image_path(path, sizeof(path));
    snprintf(bad, sizeof(bad), "%s/bad.img", dir);
    size_t len;
    uint8_t *img = small_image(path, &len);
    uint8_t *b = malloc(len);
    uint64_t off;

    memcpy(b, img, len);
    memcpy(&off, b + HDR_SECT + 16 * SECT_TEXT, 8);
    uint32_t far = 0x7fffffff;
    memcpy(b + off, &far, 4);
    reseal(b, len);
    refused(bad, b, len, "entry text out of range");

    memcpy(b, img, len);
    uint64_t huge = len * 4;
    memcpy(b + HDR_SECT + 16 * SECT_TEXT + 8, &huge, 8);
    reseal(b, len);
    refused(bad, b, len, "section out of the file");

    /* every payload byte set to 0xff in turn, sealed: refused or answering within bounds */
    for (size_t at = HDR_SIZE; at < len; at += 7) {
        memcpy(b, img, len);
        b[at] = 0xff;
        reseal(b, len);
        spit(bad, b, len);
        char err[512];
        struct ruleset *rs = ruleset_image_open(bad, NULL, err, sizeof(err));
        if (!rs)
            continue;
        struct rule_match m;
        uint8_t a[16] = { 10, 1, 2, 3 };
        ruleset_match_domain(rs, "a.ex.kz", 7, &m);
        ruleset_match_url(rs, "ex.kz", 5, "/p1", 3, &m);
        ruleset_match_url_host(rs, "ex.kz", 5, &m);
        ruleset_match_ip(rs, 4, a, &m);
        ruleset_match_ip(rs, 6, a, &m);
        for (uint32_t e = 0; e < ruleset_entry_count(rs); e++) {
            const char *o[4];
            ck_assert_ptr_nonnull(ruleset_entry_text(rs, e));
            ruleset_entry_orders(rs, e, o, 4);
        }
        ruleset_free(rs);
    }
    free(b);
    free(img);
    rm_tmp();
}
END_TEST

START_TEST(test_missing_file)
{
    char err[512];
    ck_assert_ptr_null(ruleset_image_open("/nonexistent/qg/rules.img", NULL, err, sizeof(err)));
    ck_assert_str_eq(err, "rules: /nonexistent/qg/rules.img: No such file or directory");
    struct ruleset *rs = ruleset_build(ruleset_builder_new());
    ck_assert_int_eq(ruleset_image_write(rs, "/nonexistent/qg/rules.img", 1, err, sizeof(err)),
                     -ENOENT);
    ck_assert_str_eq(err, "rules: /nonexistent/qg/rules.img: open failed: No such file or "
                          "directory");
    ruleset_free(rs);
}
END_TEST

static Suite *rsimage_suite(void)
{
    Suite *s = suite_create("rsimage");
    TCase *tc = tcase_create("image");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_round_trip, 0, 3);
    tcase_add_test(tc, test_empty_set);
    tcase_add_test(tc, test_corrupt_refused);
    tcase_add_test(tc, test_forged_refused);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rsimage_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
