/* noticeload.c - HTTP/1.1 load client for the notice page server (tests/bench/notice.sh).
 *
 * Usage: noticeload PORT [--conns N] [--seconds S] [--close] [--target /blocked?url=...]
 *   N connections to 127.0.0.1:PORT at once (default 64), for S seconds (default 5). Each sends
 *   a GET, reads the whole response (Content-Length framing) and sends the next: on the same
 *   connection (keep-alive, the default) or on a new one (--close: "Connection: close", the
 *   client closes after each answer, the way a browser's first hit on a redirect lands).
 * Prints one line: requests, errors, seconds, req/s, and the status codes seen other than 200.
 * One thread, epoll, non-blocking sockets; nothing allocated after start. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_MAX 4096
#define RBUF     32768

struct lc {
    int fd;
    size_t sent, req_len;
    size_t got;
    size_t need; /* head + body once the head is complete, 0 before */
    char in[RBUF];
};

static struct lc conns[CONN_MAX];
static char req_ka[1024], req_close[1024];
static struct sockaddr_in dst;
static bool close_mode;
static int ep;
static unsigned long long done_reqs, errors, other_status;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lc_open(struct lc *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        perror("noticeload: socket");
        exit(2);
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* close after the answer: the client's side goes to TIME_WAIT; SO_LINGER 0 keeps the
     * ephemeral ports from running out during a long run (an RST instead of a FIN) */
    if (close_mode) {
        struct linger l = { 1, 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
        perror("noticeload: connect");
        exit(2);
    }
    c->sent = c->got = c->need = 0;
    c->req_len = strlen(close_mode ? req_close : req_ka);
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void lc_reopen(struct lc *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    lc_open(c);
}

static void lc_send(struct lc *c)
{
    const char *r = close_mode ? req_close : req_ka;
    while (c->sent < c->req_len) {
        ssize_t w = send(c->fd, r + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN)
                return;
            errors++;
            lc_reopen(c);
            return;
        }
        c->sent += (size_t)w;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void lc_recv(struct lc *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->in + c->got, sizeof(c->in) - c->got, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            errors++;
            lc_reopen(c);
            return;
        }
        if (r < 0)
            return;
        c->got += (size_t)r;
        if (!c->need) {
            char *e = memmem(c->in, c->got, "\r\n\r\n", 4);
            if (!e) {
                if (c->got == sizeof(c->in)) {
                    errors++;
                    lc_reopen(c);
                    return;
                }
                continue;
            }
            size_t head = (size_t)(e - c->in) + 4;
            char *cl = memmem(c->in, head, "\r\nContent-Length: ", 18);
            if (!cl)
                cl = memmem(c->in, head, "\r\ncontent-length: ", 18);
            c->need = head + (cl ? strtoul(cl + 18, NULL, 10) : 0);
            if (c->got >= 12 && strncmp(c->in + 9, "200", 3) != 0)
                other_status++;
        }
        if (c->got >= c->need) {
            done_reqs++;
            if (close_mode) {
                lc_reopen(c);
                return;
            }
            c->got = c->need = c->sent = 0; /* one request in flight: nothing follows */
            lc_send(c);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: noticeload PORT [--conns N] [--seconds S] [--close] [--target T]\n");
        return 2;
    }
    unsigned port = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned n = 64;
    double secs = 5;
    const char *target = "/blocked?url=http%3A%2F%2Fblocked.example%2Fsome%2Fpage&order=KZ-2026-17";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            n = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            secs = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--close") == 0)
            close_mode = true;
        else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
            target = argv[++i];
        else {
            fprintf(stderr, "noticeload: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (n == 0 || n > CONN_MAX || port == 0 || port > 65535) {
        fprintf(stderr, "noticeload: conns 1..%d, port 1..65535\n", CONN_MAX);
        return 2;
    }
    snprintf(
        req_ka, sizeof(req_ka),
        "GET %s HTTP/1.1\r\nHost: notice.example\r\nUser-Agent: noticeload\r\nAccept: */*\r\n\r\n",
        target);
    snprintf(req_close, sizeof(req_close),
             "GET %s HTTP/1.1\r\nHost: notice.example\r\nUser-Agent: noticeload\r\nAccept: */*\r\n"
             "Connection: close\r\n\r\n",
             target);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ep = epoll_create1(0);
    for (unsigned i = 0; i < n; i++)
        lc_open(&conns[i]);
    double t0 = now_s(), end = t0 + secs;
    struct epoll_event evs[256];
    while (now_s() < end) {
        int k = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < k; i++) {
            struct lc *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT && c->sent < c->req_len)
                lc_send(c);
            else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                lc_recv(c);
        }
    }
    double took = now_s() - t0;
    printf("requests %llu errors %llu non200 %llu seconds %.2f rps %.0f\n", done_reqs, errors,
           other_status, took, (double)done_reqs / took);
    return 0;
}
