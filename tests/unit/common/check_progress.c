/* check_progress.c - the progress line (common/progress.c): its text for bytes and for items,
 * with and without a total and a rate; on a pseudo-terminal (openpty) as standard error: nothing
 * in the first 100 ms, then "\r" + text + erase-to-end lines at most 10 a second, the line erased
 * at the end; with standard error a pipe: not one byte. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/progress.h"

static int g_saved = -1;

/* Makes fd standard error (the old one is kept to be put back). */
static void stderr_to(int fd)
{
    fflush(stderr);
    g_saved = dup(STDERR_FILENO);
    ck_assert_int_ge(g_saved, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
}

static void stderr_back(void)
{
    fflush(stderr);
    dup2(g_saved, STDERR_FILENO);
    close(g_saved);
    g_saved = -1;
}

/* Everything readable on fd now, NUL-terminated. */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 50) <= 0 || !(p.revents & POLLIN))
            break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

START_TEST(format_bytes)
{
    char b[200];
    progress_format(b, sizeof(b), "scan a.pcap", 12u << 20, 48u << 20, NULL, 0.0);
    ck_assert_str_eq(b, "scan a.pcap: 25% 12.0 MiB / 48.0 MiB");
    progress_format(b, sizeof(b), "scan a.pcap", 12u << 20, 48u << 20, NULL, 2.0);
    ck_assert_str_eq(b, "scan a.pcap: 25% 12.0 MiB / 48.0 MiB, 6.0 MiB/s");
    progress_format(b, sizeof(b), "scan -", 512, 0, NULL, 0.05);
    ck_assert_str_eq(b, "scan -: 512 B");
    progress_format(b, sizeof(b), "x", 3u << 30, 3u << 30, NULL, 0.0);
    ck_assert_str_eq(b, "x: 100% 3.0 GiB / 3.0 GiB");
}
END_TEST

START_TEST(format_items)
{
    char b[200];
    progress_format(b, sizeof(b), "order import d.xml", 1234, 5000, "records", 0.0);
    ck_assert_str_eq(b, "order import d.xml: 1234 / 5000 records");
    progress_format(b, sizeof(b), "order import d.xml", 1234, 0, "records", 0.5);
    ck_assert_str_eq(b, "order import d.xml: 1234 records, 2468/s");
    /* a short buffer: cut, NUL-terminated, the full length returned */
    char s[8];
    size_t n = progress_format(s, sizeof(s), "order import", 1, 2, "records", 0.0);
    ck_assert_uint_eq(n, strlen("order import: 1 / 2 records"));
    ck_assert_str_eq(s, "order i");
}
END_TEST

START_TEST(on_a_terminal)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    stderr_to(slave);
    char buf[4096];

    progress_start("scan c.pcap", 1000);
    progress_update(10); /* within the first 100 ms: nothing */
    ck_assert_uint_eq(drain(master, buf, sizeof(buf)), 0);
    sleep_ms(120);
    progress_update(500);
    drain(master, buf, sizeof(buf));
    ck_assert_msg(strncmp(buf, "\rscan c.pcap: 50% 500 B / 1000 B, ", 34) == 0, "got '%s'", buf);
    ck_assert_msg(strcmp(buf + strlen(buf) - 3, "\033[K") == 0, "no erase-to-end: '%s'", buf);
    progress_update(600); /* right after a line: rate-limited */
    ck_assert_uint_eq(drain(master, buf, sizeof(buf)), 0);

    /* a tight loop for 550 ms: at most 6 lines (10 a second) */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t i = 600;
    do {
        progress_update(i++ % 1000);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 550);
    drain(master, buf, sizeof(buf));
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\r';
    ck_assert_msg(lines >= 2 && lines <= 6, "%d lines in 550 ms", lines);

    progress_end();
    drain(master, buf, sizeof(buf));
    ck_assert_str_eq(buf, "\r\033[K");
    stderr_back();
    close(master);
    close(slave);
}
END_TEST

START_TEST(short_job_prints_nothing)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    stderr_to(slave);
    char buf[256];
    progress_start_items("order import x", 0, "records");
    progress_update(1);
    progress_update(2);
    progress_end(); /* no line was printed: none to erase either */
    ck_assert_uint_eq(drain(master, buf, sizeof(buf)), 0);
    stderr_back();
    close(master);
    close(slave);
}
END_TEST

START_TEST(not_a_terminal)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    stderr_to(p[1]);
    progress_start("scan c.pcap", 1000);
    sleep_ms(120);
    progress_update(500);
    sleep_ms(120);
    progress_set_total(2000);
    progress_update(900);
    progress_end();
    stderr_back();
    close(p[1]);
    char buf[64];
    ck_assert_int_eq((int)read(p[0], buf, sizeof(buf)), 0); /* EOF: not one byte */
    close(p[0]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, format_bytes);
    tcase_add_test(tc, format_items);
    tcase_add_test(tc, on_a_terminal);
    tcase_add_test(tc, short_job_prints_nothing);
    tcase_add_test(tc, not_a_terminal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
