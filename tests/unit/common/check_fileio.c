/* check_fileio.c - Check suite for common/fileio.c: a whole write through a pipe read in small
 * pieces, a commit that replaces the file, a commit that fails (tmp removed, the step named),
 * the directory sync of paths with and without a slash, and whole reads (a regular file, an
 * empty one, a FIFO whose size is unknown, a path that is not there). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_fileio.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

struct drain {
    int fd;
    size_t got;
    unsigned sum;
};

static void *drain_main(void *arg)
{
    struct drain *d = arg;
    char buf[777];
    ssize_t r;
    while ((r = read(d->fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < r; i++)
            d->sum = d->sum * 31u + (unsigned char)buf[i];
        d->got += (size_t)r;
    }
    return NULL;
}

START_TEST(test_write_all_pipe)
{
    /* more than a pipe holds: the writes are short and resumed */
    size_t n = 1u << 20;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    unsigned want = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = (char)(i * 7 + 3);
        want = want * 31u + (unsigned char)p[i];
    }
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    struct drain d = { fds[0], 0, 0 };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, drain_main, &d), 0);
    ck_assert_int_eq(fileio_write_all(fds[1], p, n), 0);
    close(fds[1]);
    pthread_join(th, NULL);
    close(fds[0]);
    ck_assert_uint_eq(d.got, n);
    ck_assert_uint_eq(d.sum, want);
    free(p);
    ck_assert_int_eq(fileio_write_all(-1, "x", 1), -EBADF);
}
END_TEST

START_TEST(test_commit)
{
    char path[128], tmp[140], buf[32];
    snprintf(path, sizeof(path), "%s/f", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    for (int round = 0; round < 2; round++) {
        const char *text = round ? "second" : "first";
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fileio_write_all(fd, text, strlen(text)), 0);
        const char *what = "none";
        ck_assert_int_eq(fileio_commit(fd, tmp, path, &what), 0);
        ck_assert_str_eq(what, "none");
        ck_assert_int_eq(access(tmp, F_OK), -1);
        fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ssize_t r = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        ck_assert_int_eq(r, (ssize_t)strlen(text));
        buf[r] = '\0';
        ck_assert_str_eq(buf, text);
    }
    /* the target is a non-empty directory: rename fails, tmp goes, the file stays */
    char sub[140], inner[160];
    snprintf(sub, sizeof(sub), "%s/d", dir);
    snprintf(inner, sizeof(inner), "%s/x", sub);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    int fd = open(inner, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    const char *what = NULL;
    int rc = fileio_commit(fd, tmp, sub, &what);
    ck_assert_msg(rc == -EISDIR || rc == -ENOTEMPTY || rc == -EEXIST, "rc %d", rc);
    ck_assert_str_eq(what, "rename");
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(access(inner, F_OK), 0);
}
END_TEST

START_TEST(test_sync_dir)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/f", dir);
    ck_assert_int_eq(fileio_sync_dir(path), 0);
    ck_assert_int_eq(fileio_sync_dir("f"), 0); /* the working directory */
    ck_assert_int_eq(fileio_sync_dir("/f"), 0);
    snprintf(path, sizeof(path), "%s/none/f", dir);
    ck_assert_int_eq(fileio_sync_dir(path), -ENOENT);
}
END_TEST

struct feed {
    const char *path;
    size_t n;
};

static void *feed_main(void *arg)
{
    const struct feed *f = arg;
    int fd = open(f->path, O_WRONLY);
    for (size_t i = 0; fd >= 0 && i < f->n; i++)
        (void)!write(fd, "0123456789abcdef", 16);
    if (fd >= 0)
        close(fd);
    return NULL;
}

START_TEST(test_read_all)
{
    char path[128], *buf = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 10000; i++)
        fprintf(f, "line %d\n", i);
    long size = ftell(f);
    fclose(f);
    ck_assert_int_eq(fileio_read_all(path, &buf, &len), 0);
    ck_assert_uint_eq(len, (size_t)size);
    ck_assert_int_eq(buf[len], '\0');
    ck_assert(strncmp(buf + len - 10, "line 9999\n", 10) == 0);
    free(buf);
    f = fopen(path, "w");
    fclose(f);
    ck_assert_int_eq(fileio_read_all(path, &buf, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(buf[0], '\0');
    free(buf);
    /* a FIFO: no size to read ahead of, the buffer grows (300 KiB past its 64 KiB start) */
    snprintf(path, sizeof(path), "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    struct feed fd = { path, 300 * 64 };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, feed_main, &fd), 0);
    ck_assert_int_eq(fileio_read_all(path, &buf, &len), 0);
    pthread_join(th, NULL);
    ck_assert_uint_eq(len, 300 * 64 * 16);
    ck_assert(strncmp(buf + len - 16, "0123456789abcdef", 16) == 0);
    ck_assert_int_eq(buf[len], '\0');
    free(buf);
    snprintf(path, sizeof(path), "%s/none", dir);
    ck_assert_int_eq(fileio_read_all(path, &buf, &len), -ENOENT);
}
END_TEST

static Suite *fileio_suite(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_all_pipe);
    tcase_add_test(tc, test_commit);
    tcase_add_test(tc, test_sync_dir);
    tcase_add_test(tc, test_read_all);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fileio_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
