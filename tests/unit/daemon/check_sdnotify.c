/* check_sdnotify.c - the notification protocol (proxy/daemon/sdnotify.c) received on this
 * suite's own sockets, as systemd receives it: a datagram to a path socket and to an abstract
 * one, whole (a long formatted STATUS too), with this process's credentials; no NOTIFY_SOCKET
 * (nothing sent) and bad ones (refused); and the watchdog variables: the interval, WATCHDOG_PID
 * naming this process or another, bad numbers and ranges. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/daemon/sdnotify.h"
#include "tests/lib/tmpdir.h"

static char g_dir[64];

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "check-sdnotify"), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void teardown(void)
{
    unsetenv("NOTIFY_SOCKET");
    tmpdir_remove(g_dir);
}

/* A datagram socket bound to sa (salen bytes) that receives the sender's credentials, as the
 * manager's does. */
static int listener(const struct sockaddr_un *sa, socklen_t salen)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (const struct sockaddr *)sa, salen), 0);
    int one = 1;
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    return fd;
}

/* The next datagram (NUL-terminated in buf, its length returned) and its sender's pid. */
static size_t recv_msg(int fd, char *buf, size_t cap, pid_t *pid)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    struct iovec iov = { buf, cap - 1 };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)
    };
    ssize_t n = recvmsg(fd, &mh, 0);
    ck_assert_int_ge(n, 0);
    ck_assert_int_eq(mh.msg_flags & MSG_TRUNC, 0);
    buf[n] = '\0';
    *pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cr;
            memcpy(&cr, CMSG_DATA(c), sizeof(cr));
            *pid = cr.pid;
        }
    return (size_t)n;
}

START_TEST(test_path_socket)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", g_dir);
    int fd = listener(&sa, sizeof(sa));
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
    ck_assert_int_eq(sdnotify_send("READY=1\nSTATUS=up"), 1);
    char buf[4096];
    pid_t pid;
    ck_assert_uint_eq(recv_msg(fd, buf, sizeof(buf), &pid), strlen("READY=1\nSTATUS=up"));
    ck_assert_str_eq(buf, "READY=1\nSTATUS=up");
    ck_assert_int_eq(pid, getpid());
    ck_assert_int_eq(sdnotify_sendf("STATUS=%s, %d rules", "tap", 42), 1);
    recv_msg(fd, buf, sizeof(buf), &pid);
    ck_assert_str_eq(buf, "STATUS=tap, 42 rules");
    /* longer than the formatting buffer: still one whole datagram */
    char big[1500];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(sdnotify_sendf("STATUS=%s", big), 1);
    ck_assert_uint_eq(recv_msg(fd, buf, sizeof(buf), &pid), 7 + sizeof(big) - 1);
    ck_assert_int_eq(strncmp(buf, "STATUS=xxx", 10), 0);
    close(fd);
}
END_TEST

/* "@name": the abstract name is the bytes after '@', without a terminating NUL */
START_TEST(test_abstract_socket)
{
    char name[64];
    int nl = snprintf(name, sizeof(name), "qg-sdnotify-%ld-%d", (long)getpid(), rand());
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path + 1, name, (size_t)nl);
    int fd = listener(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)nl));
    char env[80];
    snprintf(env, sizeof(env), "@%s", name);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", env, 1), 0);
    ck_assert_int_eq(sdnotify_send("WATCHDOG=1"), 1);
    char buf[256];
    pid_t pid;
    recv_msg(fd, buf, sizeof(buf), &pid);
    ck_assert_str_eq(buf, "WATCHDOG=1");
    ck_assert_int_eq(pid, getpid());
    close(fd);
    /* the same name with a trailing NUL is another socket: nobody listens there */
    struct sockaddr_un sb = sa;
    int fd2 = listener(&sb, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 2 + (size_t)nl));
    ck_assert_int_lt(sdnotify_send("WATCHDOG=1"), 0); /* ECONNREFUSED: the first one is gone */
    struct pollfd pfd = { fd2, POLLIN, 0 };
    ck_assert_int_eq(poll(&pfd, 1, 100), 0);
    close(fd2);
}
END_TEST

START_TEST(test_no_or_bad_socket)
{
    ck_assert_int_eq(sdnotify_send("READY=1"), 0); /* unset: no manager, nothing to do */
    ck_assert_int_eq(sdnotify_sendf("STATUS=%d", 1), 0);
    static const char *const bad[] = { "", "/", "@", "notify", "./notify", "vsock:2:1234" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("NOTIFY_SOCKET", bad[i], 1);
        ck_assert_msg(sdnotify_send("READY=1") == -EINVAL, "'%s'", bad[i]);
    }
    char path[200];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    setenv("NOTIFY_SOCKET", path, 1); /* longer than sun_path */
    ck_assert_int_eq(sdnotify_send("READY=1"), -EINVAL);
    path[0] = '@';
    ck_assert_int_eq(sdnotify_send("READY=1"), -EINVAL);
    char gone[128];
    snprintf(gone, sizeof(gone), "%s/nobody", g_dir);
    setenv("NOTIFY_SOCKET", gone, 1);
    ck_assert_int_eq(sdnotify_send("READY=1"), -ENOENT);
}
END_TEST

struct wdcase {
    const char *usec, *pid; /* "SELF": this process */
    int rc;
    uint64_t want;
};

static const struct wdcase wd_cases[] = {
    { NULL, NULL, 0, 0 },
    { NULL, "SELF", 0, 0 },
    { "100000", NULL, 1, 100000 },
    { "100000", "SELF", 1, 100000 },
    { "1", NULL, 1, 1 },
    { "18446744073709551614", NULL, 1, UINT64_MAX - 1 },
    { "100000", "1", 0, 0 },          /* for another process (the ping is not inherited) */
    { "100000", "2147483647", 0, 0 }, /* another process */
    { "0", NULL, -EINVAL, 0 },
    { "18446744073709551615", NULL, -EINVAL, 0 }, /* infinity */
    { "18446744073709551616", NULL, -ERANGE, 0 },
    { "", NULL, -EINVAL, 0 },
    { "12x", NULL, -EINVAL, 0 },
    { " 5", NULL, -EINVAL, 0 },
    { "-5", NULL, -EINVAL, 0 },
    { "+5", NULL, -EINVAL, 0 },
    { "0x10", NULL, -EINVAL, 0 },
    { "0", "1", -EINVAL, 0 }, /* the interval is checked first */
    { "100", "abc", -EINVAL, 0 },
    { "100", "", -EINVAL, 0 },
    { "100", "-1", -EINVAL, 0 },
    { "100", "0", -ERANGE, 0 },
    { "100", "2147483648", -ERANGE, 0 },
    { "100", "99999999999999999999999", -ERANGE, 0 },
};

START_TEST(test_watchdog_parse)
{
    const struct wdcase *c = &wd_cases[_i];
    pid_t self = getpid();
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)self);
    const char *p = c->pid && strcmp(c->pid, "SELF") == 0 ? pid : c->pid;
    uint64_t usec = 7;
    int rc = sdnotify_watchdog_parse(c->usec, p, self, &usec);
    ck_assert_msg(rc == c->rc, "usec '%s' pid '%s': %d, want %d", c->usec ? c->usec : "(unset)",
                  p ? p : "(unset)", rc, c->rc);
    ck_assert_uint_eq(usec, rc == 1 ? c->want : 7); /* untouched unless enabled */
}
END_TEST

/* the environment: what the manager sets for WatchdogSec= */
START_TEST(test_watchdog_env)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    uint64_t usec = 0;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ck_assert_int_eq(sdnotify_watchdog(&usec), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    ck_assert_int_eq(sdnotify_watchdog(&usec), 1);
    ck_assert_uint_eq(usec, 30000000);
    setenv("WATCHDOG_PID", pid, 1);
    usec = 0;
    ck_assert_int_eq(sdnotify_watchdog(&usec), 1);
    ck_assert_uint_eq(usec, 30000000);
    snprintf(pid, sizeof(pid), "%ld", (long)getppid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(sdnotify_watchdog(&usec), 0);
    setenv("WATCHDOG_USEC", "soon", 1);
    ck_assert_int_eq(sdnotify_watchdog(&usec), -EINVAL);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}
END_TEST

static Suite *sdnotify_suite(void)
{
    Suite *s = suite_create("sdnotify");
    TCase *tc = tcase_create("notify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_path_socket);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_no_or_bad_socket);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("watchdog");
    tcase_add_loop_test(tw, test_watchdog_parse, 0, (int)(sizeof(wd_cases) / sizeof(wd_cases[0])));
    tcase_add_test(tw, test_watchdog_env);
    suite_add_tcase(s, tw);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sdnotify_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
