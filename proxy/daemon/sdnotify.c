/* sdnotify.c - $NOTIFY_SOCKET datagrams and the $WATCHDOG_USEC / $WATCHDOG_PID pair (see
 * sdnotify.h). */
#include "proxy/daemon/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sdnotify_send(const char *msg)
{
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e)
        return 0;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t n = strlen(e);
    socklen_t salen;
    if (n < 2 || (e[0] != '/' && e[0] != '@'))
        return -EINVAL;
    if (e[0] == '@') { /* abstract: the name is exactly the bytes after the NUL, no terminator */
        if (n > sizeof(sa.sun_path))
            return -EINVAL;
        memcpy(sa.sun_path + 1, e + 1, n - 1);
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        if (n >= sizeof(sa.sun_path))
            return -EINVAL;
        memcpy(sa.sun_path, e, n + 1);
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 1;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

int sdnotify_sendf(const char *fmt, ...)
{
    char buf[512], *msg = buf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(buf)) { /* a long STATUS= */
        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -ENOMEM;
    }
    int rc = sdnotify_send(msg);
    if (msg != buf)
        free(msg);
    return rc;
}

/* A decimal number without sign, spaces or other characters into *v. 0, -EINVAL or -ERANGE. */
static int parse_u64(const char *s, uint64_t *v)
{
    if (!*s)
        return -EINVAL;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -ERANGE;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int sdnotify_watchdog_parse(const char *usec_s, const char *pid_s, pid_t self, uint64_t *usec)
{
    if (!usec_s)
        return 0;
    uint64_t u;
    int rc = parse_u64(usec_s, &u);
    if (rc)
        return rc;
    if (u == 0 || u == UINT64_MAX) /* systemd's "not set" and "infinity" */
        return -EINVAL;
    if (pid_s) {
        uint64_t p;
        if ((rc = parse_u64(pid_s, &p)))
            return rc;
        if (p == 0 || p > INT32_MAX) /* pid_t is 32 bits; 0 is no process */
            return -ERANGE;
        if ((pid_t)p != self)
            return 0;
    }
    *usec = u;
    return 1;
}

int sdnotify_watchdog(uint64_t *usec)
{
    return sdnotify_watchdog_parse(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid(), usec);
}
