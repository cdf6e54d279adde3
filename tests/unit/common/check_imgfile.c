/* check_imgfile.c - Check suite for common/imgfile.c: sections written and read back as they
 * were; every damaged or foreign file refused with its reason (another magic, another format,
 * truncated, extended, a flipped byte anywhere, a section row pointing outside, an id twice);
 * adding an id twice refused at the add and at the write. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/imgfile.h"
#include "tests/lib/tmpdir.h"

static const char MAGIC[8] = { 'Q', 'G', 'T', 'E', 'S', 'T', '0', '1' };

/* A container of three sections written to DIR/f.img and read whole into *buf. */
static size_t sample(char *dir, size_t cap, char **buf)
{
    ck_assert_int_eq(tmpdir_make(dir, cap, "imgfile"), 0);
    struct imgfile_w *w = imgfile_w_new();
    ck_assert_ptr_nonnull(w);
    static const char text[] = "seventeen bytes!";
    uint64_t v[3] = { 1, 0xffffffffffffffffull, 42 };
    ck_assert_int_eq(imgfile_w_add(w, 7, text, sizeof(text)), 0);
    ck_assert_int_eq(imgfile_w_add(w, 3, "", 0), 0);
    ck_assert_int_eq(imgfile_w_add_u64(w, 9, v, 3), 0);
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/f.img", dir);
    ck_assert_msg(imgfile_w_write(w, path, MAGIC, 5, err, sizeof(err)) == 0, "%s", err);
    imgfile_w_free(w);
    size_t len;
    ck_assert_int_eq(fileio_read_all(path, buf, &len), 0);
    return len;
}

START_TEST(round_trip)
{
    char dir[256], *buf, err[256];
    size_t len = sample(dir, sizeof(dir), &buf);
    struct imgfile_r r;
    ck_assert_msg(imgfile_r_open(&r, (const uint8_t *)buf, len, MAGIC, 5, err, sizeof(err)) == 0,
                  "%s", err);
    size_t n;
    const uint8_t *p = imgfile_r_get(&r, 7, &n);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n, 17);
    ck_assert_str_eq((const char *)p, "seventeen bytes!");
    ck_assert_uint_eq((uintptr_t)(p - r.payload) % 8, 0);
    p = imgfile_r_get(&r, 3, &n);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(imgfile_r_get(&r, 4, &n));
    ck_assert_uint_eq(n, 0);
    uint64_t v[3];
    ck_assert_int_eq(imgfile_r_u64(&r, 9, v, 3), 0);
    ck_assert_uint_eq(v[0], 1);
    ck_assert_uint_eq(v[1], 0xffffffffffffffffull);
    ck_assert_uint_eq(v[2], 42);
    ck_assert_int_eq(imgfile_r_u64(&r, 9, v, 2), -EINVAL); /* not that many values */
    ck_assert_int_eq(imgfile_r_u64(&r, 8, v, 1), -EINVAL); /* missing */
    free(buf);
    tmpdir_remove(dir);
}
END_TEST

static void refused(const char *buf, size_t len, const char *why)
{
    struct imgfile_r r;
    char err[256] = "";
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)buf, len, MAGIC, 5, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, why) != NULL, "'%s' lacks '%s'", err, why);
}

START_TEST(damaged)
{
    char dir[256], *buf;
    size_t len = sample(dir, sizeof(dir), &buf);
    struct imgfile_r r;
    char err[256];
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)buf, len, MAGIC, 6, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, "format 5, this build reads 6"), "%s", err);
    static const char other[8] = { 'Q', 'G', 'T', 'E', 'S', 'T', '0', '2' };
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)buf, len, other, 5, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, "not a QGTEST02 file"), "%s", err);
    refused(buf, 10, "not a");
    refused(buf, len - 1, "truncated");
    char *big = calloc(1, len + 8);
    memcpy(big, buf, len);
    refused(big, len + 8, "truncated or extended");
    free(big);
    /* any byte of the payload flipped: the checksum */
    for (size_t i = IMGFILE_HEADER; i < len; i++) {
        buf[i] ^= 0x20;
        refused(buf, len, "checksum mismatch");
        buf[i] ^= 0x20;
    }
    /* a row's offset past the end, its length past the end, a row's id twice (resealed) */
    char *c = malloc(len);
    memcpy(c, buf, len);
    uint64_t far = len;
    memcpy(c + IMGFILE_HEADER + 8, &far, 8);
    imgfile_seal((uint8_t *)c, len);
    refused(c, len, "outside the file");
    memcpy(c, buf, len);
    uint64_t huge = UINT64_MAX - 3;
    memcpy(c + IMGFILE_HEADER + 16, &huge, 8);
    imgfile_seal((uint8_t *)c, len);
    refused(c, len, "outside the file");
    memcpy(c, buf, len);
    memcpy(c + IMGFILE_HEADER + 24, c + IMGFILE_HEADER, 4); /* row 1 gets row 0's id */
    imgfile_seal((uint8_t *)c, len);
    refused(c, len, "twice");
    memcpy(c, buf, len);
    uint32_t rows = 2; /* the header's count of sections changed: the checksum covers it */
    memcpy(c + 12, &rows, 4);
    refused(c, len, "checksum mismatch");
    rows = 100000;
    memcpy(c + 12, &rows, 4);
    imgfile_seal((uint8_t *)c, len);
    refused(c, len, "does not fit");
    free(c);
    free(buf);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(add_twice)
{
    char dir[256], path[512], err[512];
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "imgfile"), 0);
    snprintf(path, sizeof(path), "%s/f.img", dir);
    struct imgfile_w *w = imgfile_w_new();
    ck_assert_int_eq(imgfile_w_add(w, 1, "a", 1), 0);
    ck_assert_int_eq(imgfile_w_add(w, 1, "b", 1), -EEXIST);
    ck_assert_int_eq(imgfile_w_write(w, path, MAGIC, 5, err, sizeof(err)), -EEXIST);
    ck_assert_msg(strstr(err, path) != NULL, "%s", err);
    imgfile_w_free(w);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_null(f); /* nothing written */
    tmpdir_remove(dir);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, damaged);
    tcase_add_test(tc, add_twice);
    Suite *s = suite_create("imgfile");
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
