/* check_service.c - the daemon's side of sd_notify(3) (proxy/daemon/service.c) against a real
 * Unix datagram socket standing in for systemd's NOTIFY_SOCKET: READY/STATUS, RELOADING with
 * MONOTONIC_USEC, STOPPING; the watchdog from WATCHDOG_USEC/WATCHDOG_PID pinging every half
 * interval while workers beat, stopping when one worker stalls and resuming when it beats
 * again, the main loop's stall and its busy steps, a worker that never beats (not held against
 * the pings), another process's WATCHDOG_PID (no watchdog), and no NOTIFY_SOCKET (silence). */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/service.h"
#include "tests/lib/tmpdir.h"

static char g_dir[64];
static int g_fd = -1;

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "check-service"), 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", g_dir);
    g_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(g_fd, 0);
    ck_assert_int_eq(bind(g_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
    close(g_fd);
    g_fd = -1;
    unsetenv("NOTIFY_SOCKET");
    tmpdir_remove(g_dir);
}

/* The next datagram within ms, NUL-terminated in buf; 0 when none came. */
static size_t recv_msg(char *buf, size_t cap, int ms)
{
    struct pollfd pfd = { g_fd, POLLIN, 0 };
    if (poll(&pfd, 1, ms) <= 0)
        return 0;
    ssize_t n = recv(g_fd, buf, cap - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = 0;
    return (size_t)n;
}

/* The watchdog systemd asks of this process: WATCHDOG_USEC=usec, WATCHDOG_PID=getpid(). */
static void watchdog_env(const char *usec)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
    ck_assert_int_eq(setenv("WATCHDOG_USEC", usec, 1), 0);
}

/* Counts WATCHDOG=1 datagrams arriving within ms. */
static int count_pings(int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= ms)
            return n;
        char buf[512];
        if (recv_msg(buf, sizeof(buf), (int)(ms - el)) && strcmp(buf, "WATCHDOG=1") == 0)
            n++;
    }
}

START_TEST(test_ready_reload_stop)
{
    char buf[512];
    service_ready("qorgau 1.0, mode tap");
    ck_assert_uint_gt(recv_msg(buf, sizeof(buf), 1000), 0);
    ck_assert_str_eq(buf, "READY=1\nSTATUS=qorgau 1.0, mode tap");

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long before =
        (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
    service_reloading();
    ck_assert_uint_gt(recv_msg(buf, sizeof(buf), 1000), 0);
    unsigned long long us = 0;
    ck_assert_int_eq(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu\n", &us), 1);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long after =
        (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
    ck_assert(us >= before && us <= after);

    service_stopping();
    ck_assert_uint_gt(recv_msg(buf, sizeof(buf), 1000), 0);
    ck_assert_ptr_nonnull(strstr(buf, "STOPPING=1"));
    service_status("failed: config");
    ck_assert_uint_gt(recv_msg(buf, sizeof(buf), 1000), 0);
    ck_assert_str_eq(buf, "STATUS=failed: config");
}
END_TEST

START_TEST(test_no_socket_silent)
{
    unsetenv("NOTIFY_SOCKET");
    service_ready("x");
    service_stopping();
    char buf[64];
    ck_assert_uint_eq(recv_msg(buf, sizeof(buf), 200), 0);
}
END_TEST

START_TEST(test_watchdog_other_pid)
{
    setenv("WATCHDOG_USEC", "100000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    struct service *s = service_new(1, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(service_watchdog_usec(s), 0);
    ck_assert_int_eq(service_wake_ms(s), -1);
    ck_assert_int_eq(service_start(s), 0);
    ck_assert_int_eq(count_pings(400), 0);
    service_free(s);
}
END_TEST

/* Direct checks: the rules of service_check() without the thread's timing. */
START_TEST(test_check_rules)
{
    watchdog_env("2000000");
    struct service *s = service_new(3, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(service_watchdog_usec(s), 2000000);
    ck_assert_int_eq(service_wake_ms(s), 500);
    _Atomic uint64_t *b = service_beats(s);

    /* start-up: the main thread busy, no workers yet */
    service_busy(s, true);
    ck_assert(service_check(s));
    ck_assert(service_check(s)); /* busy: no main beat needed */
    service_busy(s, false);
    ck_assert(service_check(s));  /* busy(false) beats once */
    ck_assert(!service_check(s)); /* main loop silent, not busy: stalled */
    service_main_beat(s);
    ck_assert(service_check(s));

    service_running(s);
    atomic_fetch_add(&b[0], 1);
    atomic_fetch_add(&b[1], 1);
    atomic_fetch_add(&b[2], 1);
    service_main_beat(s);
    ck_assert(service_check(s));
    /* worker 1 stalls */
    atomic_fetch_add(&b[0], 1);
    atomic_fetch_add(&b[2], 1);
    service_main_beat(s);
    ck_assert(!service_check(s));
    /* and is back */
    atomic_fetch_add(&b[0], 1);
    atomic_fetch_add(&b[1], 5);
    atomic_fetch_add(&b[2], 1);
    service_main_beat(s);
    ck_assert(service_check(s));
    service_free(s);
}
END_TEST

START_TEST(test_check_never_beating_worker)
{
    watchdog_env("2000000");
    struct service *s = service_new(2, NULL);
    ck_assert_ptr_nonnull(s);
    _Atomic uint64_t *b = service_beats(s);
    service_running(s);
    for (int i = 0; i < 4; i++) {
        atomic_fetch_add(&b[0], 1); /* worker 1 is a mode that does not report */
        service_main_beat(s);
        ck_assert(service_check(s));
    }
    service_main_beat(s);
    ck_assert(!service_check(s)); /* worker 0 stops: it did report, so it counts */
    service_free(s);
}
END_TEST

struct beater {
    _Atomic uint64_t *beat;
    atomic_bool stop, pause;
};

static void *beater_main(void *arg)
{
    struct beater *w = arg;
    while (!atomic_load(&w->stop)) {
        if (!atomic_load(&w->pause))
            atomic_fetch_add(w->beat, 1);
        usleep(10000);
    }
    return NULL;
}

/* The thread: pings about every half interval while two workers beat, none while one pauses
 * (longer than the interval), pings again once it resumes. */
START_TEST(test_watchdog_thread)
{
    watchdog_env("200000"); /* pings every 100 ms */
    struct service *s = service_new(2, NULL);
    ck_assert_ptr_nonnull(s);
    struct beater w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        w[i].beat = &service_beats(s)[i];
        atomic_init(&w[i].stop, false);
        atomic_init(&w[i].pause, false);
        ck_assert_int_eq(pthread_create(&th[i], NULL, beater_main, &w[i]), 0);
    }
    service_running(s);
    service_busy(s, true); /* the main loop of this test: always "busy" */
    ck_assert_int_eq(service_start(s), 0);
    int n = count_pings(1000);
    ck_assert_msg(n >= 5 && n <= 13, "%d pings in 1 s at 100 ms", n);

    atomic_store(&w[1].pause, true);
    usleep(250000); /* a check or two sees the stall */
    char buf[64];
    while (recv_msg(buf, sizeof(buf), 0)) /* pings sent before the stall was seen */
        ;
    n = count_pings(600);
    ck_assert_msg(n == 0, "%d pings while worker 1 stalls", n);

    atomic_store(&w[1].pause, false);
    n = count_pings(600);
    ck_assert_msg(n >= 3, "%d pings after worker 1 resumed", n);

    for (int i = 0; i < 2; i++) {
        atomic_store(&w[i].stop, true);
        pthread_join(th[i], NULL);
    }
    service_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ready_reload_stop);
    tcase_add_test(tc, test_no_socket_silent);
    tcase_add_test(tc, test_watchdog_other_pid);
    tcase_add_test(tc, test_check_rules);
    tcase_add_test(tc, test_check_never_beating_worker);
    tcase_add_test(tc, test_watchdog_thread);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
