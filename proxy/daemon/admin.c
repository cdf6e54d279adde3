/* admin.c - the local admin socket (see admin.h). */
#include "proxy/daemon/admin.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/daemon/query.h"

struct admin {
    int lfd, efd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    admin_query_fn fn;
    void *ctx;
    struct log *log;
    pthread_t th;
    bool started;
};

static int set_path(struct sockaddr_un *sa, const char *path, char *err, size_t errlen)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        snprintf(err, errlen, "admin: %s: path too long for a Unix socket", path);
        return -ENAMETOOLONG;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

struct admin *admin_new(const char *path, uid_t uid, gid_t gid, admin_query_fn fn, void *ctx,
                        struct log *lg, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (set_path(&sa, path, err, errlen) < 0)
        return NULL;
    struct admin *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "admin: out of memory");
        return NULL;
    }
    memcpy(a->path, sa.sun_path, sizeof(a->path));
    a->fn = fn;
    a->ctx = ctx;
    a->log = lg;
    a->efd = -1;
    a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a->lfd < 0)
        goto fail;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    mode_t old = umask(0177);
    int brc = bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (brc != 0 || chmod(path, 0600) != 0)
        goto fail;
    if (uid != (uid_t)-1 && chown(path, uid, gid) != 0)
        goto fail;
    if (listen(a->lfd, 16) != 0)
        goto fail;
    a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->efd < 0)
        goto fail;
    return a;
fail:
    snprintf(err, errlen, "admin: %s: %s", path, strerror(errno));
    if (a->lfd >= 0)
        close(a->lfd);
    free(a);
    return NULL;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

size_t admin_serve_fd(int fd, admin_query_fn fn, void *ctx)
{
    char buf[QUERY_LINE_MAX + 2];
    size_t have = 0, answered = 0;
    bool skipping = false; /* inside an over-long line, already answered */
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, ADMIN_IDLE_MS) <= 0)
            return answered;
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return answered;
        have += (size_t)r;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (buf + start));
            if (!skipping) {
                const char *q = NULL, *why = NULL;
                size_t ql = 0;
                char *ans = NULL;
                size_t alen = 0;
                FILE *m = open_memstream(&ans, &alen);
                if (m) {
                    enum query_line ls = query_line_parse(buf + start, len, &q, &ql, &why);
                    if (ls == QUERY_LINE_OK)
                        fn(ctx, q, ql, m);
                    else if (ls == QUERY_LINE_BAD)
                        query_error(m, buf + start, len, why);
                    if (fclose(m) == 0 && alen) {
                        write_all(fd, ans, alen);
                        answered++;
                    }
                    free(ans);
                }
            }
            skipping = false;
            start += len + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof(buf)) { /* a line longer than any query: answer once, drop it */
            if (!skipping) {
                static const char msg[] = "{\"query\":null,\"error\":\"line too long\"}\n";
                write_all(fd, msg, sizeof(msg) - 1);
                answered++;
            }
            skipping = true;
            have = 0;
        }
    }
}

static void *admin_main(void *arg)
{
    struct admin *a = arg;
    for (;;) {
        struct pollfd p[2] = { { a->lfd, POLLIN, 0 }, { a->efd, POLLIN, 0 } };
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (p[1].revents & POLLIN))
            return NULL;
        if (p[0].revents & POLLIN) {
            int c = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            admin_serve_fd(c, a->fn, a->ctx);
            close(c);
        }
    }
}

int admin_start(struct admin *a)
{
    int e = pthread_create(&a->th, NULL, admin_main, a);
    if (e != 0)
        return -e;
    a->started = true;
    return 0;
}

void admin_free(struct admin *a)
{
    if (!a)
        return;
    if (a->started) {
        uint64_t one = 1;
        if (write(a->efd, &one, sizeof(one)) < 0) {
            /* cannot fail on a fresh eventfd; the join below would then wait */
        }
        pthread_join(a->th, NULL);
    }
    close(a->lfd);
    close(a->efd);
    unlink(a->path);
    free(a);
}

int admin_ask(const char *path, const char *const *q, size_t n, FILE *out, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int rc = set_path(&sa, path, err, errlen);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        rc = -errno;
        snprintf(err, errlen, "admin: %s: cannot connect: %s (is the node running?)", path,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    /* Writes and reads interleaved: the node answers while it reads, and a client that only
     * wrote would block once both socket buffers are full. */
    size_t qi = 0, qoff = 0;
    bool wdone = n == 0;
    if (wdone)
        shutdown(fd, SHUT_WR);
    char buf[65536];
    for (;;) {
        struct pollfd p = { fd, (short)(POLLIN | (wdone ? 0 : POLLOUT)), 0 };
        int pr = poll(&p, 1, ADMIN_IDLE_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            snprintf(err, errlen, "admin: %s: no answer", path);
            close(fd);
            return -ETIMEDOUT;
        }
        if (!wdone && (p.revents & POLLOUT)) {
            /* the query and its line end, from where the last write stopped */
            size_t ql = strlen(q[qi]);
            const char *src = qoff < ql ? q[qi] + qoff : "\n";
            size_t sl = qoff < ql ? ql - qoff : 1;
            ssize_t w = send(fd, src, sl, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                rc = -errno;
                snprintf(err, errlen, "admin: %s: %s", path, strerror(errno));
                close(fd);
                return rc;
            }
            if (w > 0) {
                qoff += (size_t)w;
                if (qoff > ql) {
                    qi++;
                    qoff = 0;
                    if (qi == n) {
                        wdone = true;
                        shutdown(fd, SHUT_WR);
                    }
                }
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                break;
            fwrite(buf, 1, (size_t)r, out);
        }
    }
    close(fd);
    return 0;
}
