/* check_log.c - JSON-lines logger: exact format with an injected clock, escaping, truncation,
 * level filter, block-line rate limiting, reopen after rotation, concurrent writers. */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

struct fake_clock {
    uint64_t ms;
};

static uint64_t fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->ms;
}

static char tmpl[64];

static const char *tmp_path(void)
{
    snprintf(tmpl, sizeof(tmpl), "/tmp/check_log.XXXXXX");
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    close(fd);
    return tmpl;
}

/* Whole file as a string (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[8 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!needle || memmem(p, len, needle, strlen(needle)))
            n++;
        p += len + (nl ? 1 : 0);
    }
    return n;
}

/* Every line must be one valid JSON object. */
static void assert_all_json(const char *s)
{
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        ck_assert_msg(nl != NULL, "last line not terminated");
        json_error_t je;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
        ck_assert_msg(j && json_is_object(j), "not JSON: %.*s (%s)", (int)(nl - p), p, je.text);
        json_decref(j);
        p = nl + 1;
    }
}

static struct log *open_log(const char *path, enum log_level lv, uint32_t rate,
                            struct fake_clock *fc)
{
    char err[256];
    struct log *l = log_new(path, lv, rate, err, sizeof(err));
    ck_assert_msg(l != NULL, "%s", err);
    log_set_clock(l, fake_now, fc);
    return l;
}

START_TEST(test_format)
{
    const char *path = tmp_path();
    struct fake_clock fc = { 1700000000123u }; /* 2023-11-14T22:13:20.123Z */
    struct log *l = open_log(path, LOG_LEVEL_INFO, 0, &fc);
    log_write(l, LOG_LEVEL_INFO, "daemon", "hello",
              LOG_KV(LOG_U("n", 5), LOG_S("s", "a\"b\\c"), LOG_I("neg", -3), LOG_D("d", 1.5),
                     LOG_B("b", true), LOG_S("none", NULL)));
    fc.ms += 1001;
    log_write(l, LOG_LEVEL_ERROR, "rules", "no kv", NULL, 0);
    log_writef(l, LOG_LEVEL_WARN, "x", "formatted %d/%s", 7, "ok");
    log_free(l);
    char *s = slurp(path);
    ck_assert_str_eq(
        s, "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"module\":\"daemon\",\"msg\":"
           "\"hello\","
           "\"n\":5,\"s\":\"a\\\"b\\\\c\",\"neg\":-3,\"d\":1.5,\"b\":true,\"none\":null}\n"
           "{\"ts\":\"2023-11-14T22:13:21.124Z\",\"level\":\"error\",\"module\":\"rules\",\"msg\":"
           "\"no kv\"}\n"
           "{\"ts\":\"2023-11-14T22:13:21.124Z\",\"level\":\"warn\",\"module\":\"x\",\"msg\":"
           "\"formatted "
           "7/ok\"}\n");
    free(s);
    unlink(path);
}
END_TEST

START_TEST(test_escaping)
{
    const char *path = tmp_path();
    struct fake_clock fc = { 0 };
    struct log *l = open_log(path, LOG_LEVEL_DEBUG, 0, &fc);
    /* control bytes, a lone 0xff, a truncated UTF-8 sequence, an overlong '/', and Cyrillic */
    log_write(l, LOG_LEVEL_DEBUG, "m", "x",
              LOG_KV(LOG_S("v", "a\tb\nc\x01\x7f\xff|\xd0|\xc0\xaf|\xd0\x9a\xd0\xb7")));
    log_free(l);
    char *s = slurp(path);
    ck_assert_str_eq(
        s,
        "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"debug\",\"module\":\"m\",\"msg\":\"x\","
        "\"v\":\"a\\tb\\nc\\u0001\\u007f\\u00ff|\\u00d0|\\u00c0\\u00af|\xd0\x9a\xd0\xb7\"}\n");
    assert_all_json(s);
    free(s);
    unlink(path);
}
END_TEST

START_TEST(test_level_filter)
{
    const char *path = tmp_path();
    struct fake_clock fc = { 0 };
    struct log *l = open_log(path, LOG_LEVEL_WARN, 0, &fc);
    ck_assert(log_enabled(l, LOG_LEVEL_ERROR));
    ck_assert(!log_enabled(l, LOG_LEVEL_INFO));
    log_write(l, LOG_LEVEL_INFO, "m", "info dropped", NULL, 0);
    log_write(l, LOG_LEVEL_DEBUG, "m", "debug dropped", NULL, 0);
    ck_assert(!log_block(l, "m", "block dropped", NULL, 0)); /* block lines are info */
    log_write(l, LOG_LEVEL_WARN, "m", "warn kept", NULL, 0);
    log_set_level(l, LOG_LEVEL_DEBUG);
    log_write(l, LOG_LEVEL_DEBUG, "m", "debug kept", NULL, 0);
    log_free(l);
    char *s = slurp(path);
    ck_assert_uint_eq(count_lines(s, NULL), 2);
    ck_assert_uint_eq(count_lines(s, "kept"), 2);
    ck_assert_uint_eq(count_lines(s, "\"suppressed\""), 0); /* filtered is not suppressed */
    free(s);
    unlink(path);
}
END_TEST

START_TEST(test_truncation)
{
    const char *path = tmp_path();
    struct fake_clock fc = { 0 };
    struct log *l = open_log(path, LOG_LEVEL_INFO, 0, &fc);
    static char big[10000];
    memset(big, 'q', sizeof(big) - 1);
    log_write(l, LOG_LEVEL_INFO, "m", "long value",
              LOG_KV(LOG_U("first", 1), LOG_S("big", big), LOG_U("after", 2)));
    /* a message that alone exceeds the line, made of bytes that escape to 6 */
    static char ctl[9000];
    memset(ctl, 0x01, sizeof(ctl) - 1);
    log_write(l, LOG_LEVEL_INFO, "m", ctl, LOG_KV(LOG_U("k", 1)));
    log_free(l);
    char *s = slurp(path);
    assert_all_json(s);
    char *nl = strchr(s, '\n');
    ck_assert_uint_le((size_t)(nl - s) + 1, LOG_LINE_MAX);
    ck_assert(strncmp(nl - 18, ",\"truncated\":true}", 18) == 0);
    ck_assert_ptr_nonnull(strstr(s, "\"first\":1,\"truncated\":true}\n"));
    char *l2 = nl + 1;
    char *nl2 = strchr(l2, '\n');
    ck_assert_uint_le((size_t)(nl2 - l2) + 1, LOG_LINE_MAX);
    ck_assert(strncmp(nl2 - 18, ",\"truncated\":true}", 18) == 0);
    free(s);
    unlink(path);
}
END_TEST

START_TEST(test_rate_limit)
{
    const char *path = tmp_path();
    struct fake_clock fc = { 1000000 };
    struct log *l = open_log(path, LOG_LEVEL_INFO, 5, &fc);
    unsigned written = 0;
    for (int i = 0; i < 12; i++)
        written += log_block(l, "tap", "block", LOG_KV(LOG_I("i", i)));
    ck_assert_uint_eq(written, 5); /* the burst is one second's worth */
    fc.ms += 199;                  /* 0.995 tokens: still nothing */
    ck_assert(!log_block(l, "tap", "block", LOG_KV(LOG_I("i", 12))));
    fc.ms += 1; /* 200 ms = one token */
    ck_assert(log_block(l, "tap", "block", LOG_KV(LOG_I("i", 13))));
    ck_assert(!log_block(l, "tap", "block", LOG_KV(LOG_I("i", 14))));
    ck_assert_uint_eq(log_flush_suppressed(l), 1);
    ck_assert_uint_eq(log_flush_suppressed(l), 0);
    /* a clock stepping back refills nothing */
    fc.ms -= 100000;
    ck_assert(!log_block(l, "tap", "block", LOG_KV(LOG_I("i", 15))));
    fc.ms += 10000000; /* a long pause refills only to the burst */
    written = 0;
    for (int i = 0; i < 10; i++)
        written += log_block(l, "tap", "block", LOG_KV(LOG_I("i", 100 + i)));
    ck_assert_uint_eq(written, 5);
    /* rate 0: no limit */
    log_set_block_rate(l, 0);
    for (int i = 0; i < 50; i++)
        ck_assert(log_block(l, "tap", "block", LOG_KV(LOG_I("i", 200 + i))));
    log_free(l);

    char *s = slurp(path);
    assert_all_json(s);
    ck_assert_uint_eq(count_lines(s, "\"msg\":\"block\""), 5 + 1 + 5 + 50);
    /* i=13 went through after 7 (i=5..11) + 1 (i=12) were suppressed */
    ck_assert_ptr_nonnull(strstr(s, "\"i\":13,\"suppressed\":8}"));
    ck_assert_ptr_nonnull(strstr(s, "\"msg\":\"block lines suppressed\",\"suppressed\":1}"));
    /* i=15 is reported by the first line after the refill, the 5 over the burst by the first
     * unlimited line */
    ck_assert_ptr_nonnull(strstr(s, "\"i\":100,\"suppressed\":1}"));
    ck_assert_ptr_nonnull(strstr(s, "\"i\":200,\"suppressed\":5}"));
    ck_assert_ptr_null(strstr(s, "\"i\":5}"));
    ck_assert_ptr_null(strstr(s, "\"i\":15}"));
    free(s);
    unlink(path);
}
END_TEST

START_TEST(test_reopen)
{
    const char *p = tmp_path();
    char path[64], rotated[80], err[256];
    snprintf(path, sizeof(path), "%s", p);
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    struct fake_clock fc = { 0 };
    struct log *l = open_log(path, LOG_LEVEL_INFO, 0, &fc);
    log_write(l, LOG_LEVEL_INFO, "m", "before", NULL, 0);
    ck_assert_int_eq(rename(path, rotated), 0);
    log_write(l, LOG_LEVEL_INFO, "m", "still old", NULL, 0);
    ck_assert_int_eq(log_reopen(l, NULL, err, sizeof(err)), 0);
    log_write(l, LOG_LEVEL_INFO, "m", "after", NULL, 0);
    /* a reopen that fails keeps the current file */
    ck_assert_int_lt(log_reopen(l, "/nonexistent/dir/q.log", err, sizeof(err)), 0);
    ck_assert_str_eq(err, "log: /nonexistent/dir/q.log: cannot open: No such file or directory");
    log_write(l, LOG_LEVEL_INFO, "m", "after failure", NULL, 0);
    ck_assert_uint_eq(log_write_errors(l), 0);
    /* the daemon hands the file to its user before dropping root */
    uid_t to = geteuid() == 0 ? 65534 : geteuid();
    ck_assert_int_eq(log_chown(l, to, getegid()), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_uid, to);
    log_free(l);
    char *a = slurp(rotated), *b = slurp(path);
    ck_assert_uint_eq(count_lines(a, NULL), 2);
    ck_assert_uint_eq(count_lines(a, "before"), 1);
    ck_assert_uint_eq(count_lines(b, NULL), 2);
    ck_assert_uint_eq(count_lines(b, "\"after\""), 1);
    ck_assert_uint_eq(count_lines(b, "after failure"), 1);
    free(a);
    free(b);
    unlink(path);
    unlink(rotated);
}
END_TEST

START_TEST(test_open_errors)
{
    char err[256];
    ck_assert_ptr_null(log_new("/nonexistent/dir/q.log", LOG_LEVEL_INFO, 0, err, sizeof(err)));
    ck_assert_str_eq(err, "log: /nonexistent/dir/q.log: cannot open: No such file or directory");
    struct log *l = log_new("-", LOG_LEVEL_INFO, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(l);
    log_free(l); /* must not close standard error */
    ck_assert_int_ne(fcntl(STDERR_FILENO, F_GETFD), -1);
    log_free(NULL);
}
END_TEST

struct thr {
    struct log *l;
    int id;
};

static void *writer(void *arg)
{
    struct thr *t = arg;
    char pad[300];
    memset(pad, 'a' + t->id, sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (int i = 0; i < 2000; i++)
        log_write(t->l, LOG_LEVEL_INFO, "thr", "line",
                  LOG_KV(LOG_I("t", t->id), LOG_I("i", i), LOG_S("pad", pad)));
    return NULL;
}

START_TEST(test_threads)
{
    const char *p = tmp_path();
    char path[64], err[256];
    snprintf(path, sizeof(path), "%s", p);
    struct log *l = log_new(path, LOG_LEVEL_INFO, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(l);
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){ l, i };
        pthread_create(&th[i], NULL, writer, &t[i]);
    }
    /* rotate twice while they write */
    for (int r = 0; r < 2; r++) {
        usleep(2000);
        ck_assert_int_eq(log_reopen(l, NULL, err, sizeof(err)), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    log_free(l);
    char *s = slurp(path);
    assert_all_json(s);
    ck_assert_uint_eq(count_lines(s, NULL), 8000);
    free(s);
    unlink(path);
}
END_TEST

/* Block lines through the writer thread: 4 threads x 2000 lines, every one written (or counted
 * as dropped when the ring was full), each a whole JSON line; the rate limiter holds across
 * threads (rate 0 here: unlimited). */
static void *block_writer(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < 2000; i++)
        log_block(t->l, "thr", "block", LOG_KV(LOG_I("t", t->id), LOG_I("i", i)));
    return NULL;
}

/* 4 threads x 2000 block lines, then joined. */
static void run_block_writers(struct log *l)
{
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){ l, i };
        pthread_create(&th[i], NULL, block_writer, &t[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}

START_TEST(test_async_blocks)
{
    const char *p = tmp_path();
    char path[64], err[256];
    snprintf(path, sizeof(path), "%s", p);
    struct log *l = log_new(path, LOG_LEVEL_INFO, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(log_start_async(l), 0);
    run_block_writers(l);
    log_flush(l);
    uint64_t drops = log_queue_drops(l);
    char *s = slurp(path);
    assert_all_json(s);
    ck_assert_uint_eq(count_lines(s, NULL) + drops, 8000);
    free(s);
    /* a line logged now is written without log_free */
    ck_assert(log_block(l, "m", "after", NULL, 0));
    log_flush(l);
    s = slurp(path);
    ck_assert_ptr_nonnull(strstr(s, "\"msg\":\"after\""));
    free(s);
    log_free(l);
    unlink(path);
}
END_TEST

/* The rate limit with several threads: never more lines than the burst allows. */
START_TEST(test_async_rate_limit)
{
    const char *p = tmp_path();
    char path[64];
    snprintf(path, sizeof(path), "%s", p);
    struct fake_clock fc = { 1000000 };
    struct log *l = open_log(path, LOG_LEVEL_INFO, 50, &fc);
    ck_assert_int_eq(log_start_async(l), 0);
    run_block_writers(l);
    log_flush(l);
    char *s = slurp(path);
    ck_assert_uint_eq(count_lines(s, NULL), 50); /* the clock stood still: one burst */
    free(s);
    ck_assert_uint_eq(log_flush_suppressed(l), 8000 - 50);
    log_free(l);
    unlink(path);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_level_filter);
    tcase_add_test(tc, test_reopen);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit");
    tcase_add_test(tc, test_truncation);
    tcase_add_test(tc, test_rate_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("concurrent");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_async_blocks);
    tcase_add_test(tc, test_async_rate_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
