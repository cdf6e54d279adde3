/* check_notice_server.c - Check suite for the notice page server (proxy/daemon/notice_server.c).
 *
 * The server runs (libmicrohttpd's own thread) on 127.0.0.1, ephemeral ports, and real clients
 * talk to it: curl over HTTP/1.1 (also asked for h2c, which the server does not speak), and raw
 * sockets for keep-alive, pipelining, absolute-form targets, oversize heads, slowloris and the
 * connection cap. Start-up and reload: bad settings, a port already taken at start and at
 * reload (the old listener keeps serving, the state says "stale"), a new address, new limits on
 * the same address (the listener is handed over). Traffic goes to 127.0.0.1 only. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/notice_server.h"
#include "tests/lib/proc.h"

/* Independent UTF-8 check (RFC 3629). */
static bool utf8_valid(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint8_t c = u[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k > n)
            return false;
        for (size_t j = 1; j < k; j++) {
            if ((u[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (u[i + j] & 0x3f);
        }
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

static bool has(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* ---------------------------------------------------------------- live server */

static struct notice_server *srv;
static unsigned port;
static char tmpdir[64];
static char err[512];

static void live_start(const struct notice_config *cfg)
{
    err[0] = 0;
    srv = notice_server_new(cfg, "127.0.0.1:0", NULL, err, sizeof(err));
    ck_assert_msg(srv != NULL, "notice_server_new: %s", err);
    port = notice_server_port(srv);
    ck_assert_uint_gt(port, 0);
    ck_assert_int_eq(notice_server_state(srv), NOTICE_SERVER_SERVING);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_notice_server.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* The counters once the server has seen the end of every connection the test closed. */
static void live_stop(struct notice_server_counters *c, unsigned *open_now)
{
    usleep(100000);
    notice_server_stats(srv, c, open_now);
}

static void live_free(void)
{
    notice_server_free(srv);
    srv = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs a shell command, returns its stdout (static buffer). */
static const char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *run(const char *fmt, ...)
{
    static char out[65536];
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return proc_output(cmd, out, sizeof(out));
}

static char *slurp(const char *path, size_t *len)
{
    static char data[65536];
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    *len = fread(data, 1, sizeof(data) - 1, f);
    data[*len] = 0;
    fclose(f);
    return data;
}

#define CURL "curl -sS --max-time 5 "

static size_t count_of(const char *hay, size_t n, const char *needle)
{
    size_t c = 0, l = strlen(needle);
    const char *p = hay, *end = hay + n;
    while ((p = memmem(p, (size_t)(end - p), needle, l)) != NULL) {
        c++;
        p += l;
    }
    return c;
}

START_TEST(live_curl_http11)
{
    struct notice_config cfg = { .show_order = true, .contact = "call 1414" };
    live_start(&cfg);
    const char *r =
        run(CURL "-o %s/body -D %s/head -w '%%{http_code} %%{http_version}' "
                 "'http://127.0.0.1:%u/blocked?url=http%%3A%%2F%%2Fbad.example%%2F%%3Cx%%3E"
                 "&order=KZ-2024.7'",
            tmpdir, tmpdir, port);
    ck_assert_str_eq(r, "200 1.1");
    char path[128];
    size_t bl, hl;
    snprintf(path, sizeof(path), "%s/body", tmpdir);
    char *body = slurp(path, &bl);
    ck_assert(utf8_valid(body, bl));
    ck_assert(has(body, bl, "Доступ к ресурсу ограничен"));
    ck_assert(has(body, bl, "<code>http://bad.example/&lt;x&gt;</code>"));
    ck_assert(has(body, bl, "<dd>KZ-2024.7</dd>"));
    ck_assert(has(body, bl, "call 1414"));
    snprintf(path, sizeof(path), "%s/head", tmpdir);
    char *head = slurp(path, &hl);
    ck_assert(has(head, hl, "Content-Type: text/html; charset=utf-8\r\n"));
    ck_assert(has(head, hl, "Cache-Control: no-store\r\n"));
    /* keep-alive: two URLs in one curl run share one connection */
    r = run(CURL "-o /dev/null -o /dev/null -w '%%{http_code}\\n' http://127.0.0.1:%u/ "
                 "http://127.0.0.1:%u/blocked",
            port, port);
    ck_assert_str_eq(r, "200\n200\n");
    /* HEAD, 404, 405 */
    r = run(CURL "-I -o /dev/null -w '%%{http_code} %%{size_download}' http://127.0.0.1:%u/", port);
    ck_assert_str_eq(r, "200 0");
    r = run(CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/etc/passwd", port);
    ck_assert_str_eq(r, "404");
    r = run(CURL "-o /dev/null -w '%%{http_code}' -d x http://127.0.0.1:%u/blocked", port);
    ck_assert_str_eq(r, "405");
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.accepted, 5); /* the two-URL run reused its connection */
    ck_assert_uint_eq(c.requests, 6);
    ck_assert_uint_eq(c.status_200, 4);
    ck_assert_uint_eq(c.status_404, 1);
    ck_assert_uint_eq(c.status_405, 1);
    live_free();
}
END_TEST

/* HTTP/2 is not served: prior knowledge gets no h2 answer, an Upgrade: h2c request is answered
 * over HTTP/1.1 (RFC 9113 3.2 allows ignoring it), and the server goes on serving. */
START_TEST(live_h2c_not_served)
{
    struct notice_config cfg = { .show_order = true };
    live_start(&cfg);
    const char *r =
        run(CURL "--http2-prior-knowledge -o /dev/null -w '%%{http_code} %%{http_version}' "
                 "'http://127.0.0.1:%u/blocked?order=A.1&url=b.kz' 2>/dev/null",
            port);
    ck_assert_msg(strncmp(r, "200 2", 5) != 0, "h2 prior knowledge answered: %s", r);
    /* Upgrade: h2c from HTTP/1.1: the page over HTTP/1.1 */
    r = run(CURL "--http2 -o %s/body -w '%%{http_code} %%{http_version}' "
                 "'http://127.0.0.1:%u/blocked?order=%%3Cscript%%3E&url=b.kz'",
            tmpdir, port);
    ck_assert_str_eq(r, "200 1.1");
    char path[128];
    size_t bl;
    snprintf(path, sizeof(path), "%s/body", tmpdir);
    char *body = slurp(path, &bl);
    ck_assert(utf8_valid(body, bl));
    ck_assert(has(body, bl, "Access to this resource is restricted"));
    ck_assert(has(body, bl, "<code>b.kz</code>"));
    ck_assert(!has(body, bl, "<script>"));
    ck_assert(!has(body, bl, "Order</dt>"));
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.bad_order, 1);
    ck_assert_uint_eq(c.status_200, 1);
    ck_assert_uint_eq(c.accepted, 2);
    live_free();
}
END_TEST

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until EOF, cap, or timeout_ms without data; *eof tells which. */
static size_t read_some(int fd, char *out, size_t cap, int timeout_ms, bool *eof)
{
    size_t n = 0;
    *eof = false;
    while (n < cap) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - n, 0);
        if (r <= 0) {
            *eof = true;
            break;
        }
        n += (size_t)r;
    }
    return n;
}

START_TEST(live_pipelined_keepalive)
{
    live_start(NULL);
    int fd = tcp_connect();
    static const char two[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                              "HEAD /blocked?url=z HTTP/1.1\r\nHost: a\r\n\r\n"
                              "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, two, sizeof(two) - 1);
    static char in[65536];
    bool eof;
    size_t n = read_some(fd, in, sizeof(in), 500, &eof);
    ck_assert(!eof); /* keep-alive: still open */
    ck_assert_uint_eq(count_of(in, n, "HTTP/1.1 200 OK\r\n"), 2);
    ck_assert_uint_eq(count_of(in, n, "HTTP/1.1 404 Not Found\r\n"), 1);
    ck_assert_uint_eq(count_of(in, n, "<!DOCTYPE html>"), 1); /* HEAD had no body */
    ck_assert(strncmp(in + n - 10, "Not Found\n", 10) == 0);
    /* HTTP/1.0 without keep-alive: answered, then closed */
    send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert(has(in, n, "Connection: close\r\n"));
    close(fd);
    /* garbage: 400 and close */
    fd = tcp_connect();
    send_all(fd, "\x01\x02\x03 garbage\r\n\r\n", 15);
    n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert(strncmp(in, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    close(fd);
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.requests, 4);
    ck_assert_uint_eq(c.errors, 1); /* answered by libmicrohttpd: counted as its error report */
    live_free();
}
END_TEST

START_TEST(live_oversize_head)
{
    struct notice_config cfg = { .max_request_bytes = 1024 };
    live_start(&cfg);
    int fd = tcp_connect();
    static char req[4096];
    memcpy(req, "GET / HTTP/1.1\r\nX-Long: ", 24);
    memset(req + 24, 'a', sizeof(req) - 24);
    (void)send(fd, req, sizeof(req), MSG_NOSIGNAL); /* may be cut short by the close */
    static char in[4096];
    bool eof;
    size_t n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof || n == 0);
    ck_assert_msg(n == 0 || strncmp(in, "HTTP/1.1 431 ", 13) == 0, "got %.*s", (int)n, in);
    close(fd);
    /* just under the cap is fine */
    fd = tcp_connect();
    size_t len = 1024 - 4 - 24;
    memset(req + 24, 'b', len - 24);
    memcpy(req + len, "\r\n\r\n", 4);
    send_all(fd, req, len + 4);
    n = read_some(fd, in, sizeof(in), 500, &eof);
    ck_assert_msg(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0, "got %.*s", (int)n, in);
    close(fd);
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_ge(c.errors, 1); /* 431 from libmicrohttpd: counted as its error report */
    ck_assert_uint_eq(c.status_200, 1);
    live_free();
}
END_TEST

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

START_TEST(live_slowloris)
{
    struct notice_config cfg = { .idle_timeout_ms = 300 };
    live_start(&cfg);
    int fd = tcp_connect();
    uint64_t t0 = mono_ms();
    send_all(fd, "GET / HTTP/1.1\r\n", 16);
    bool closed = false;
    /* one header byte every 50 ms: progress does not extend the deadline */
    for (int i = 0; i < 60 && !closed; i++) {
        if (send(fd, "X", 1, MSG_NOSIGNAL) != 1)
            closed = true;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 50) > 0) {
            char b[16];
            if (recv(fd, b, sizeof(b), 0) <= 0)
                closed = true;
        }
    }
    uint64_t took = mono_ms() - t0;
    ck_assert_msg(closed, "slowloris connection still open after %llu ms",
                  (unsigned long long)took);
    ck_assert_uint_ge(took, 250);
    ck_assert_uint_lt(took, 1500);
    close(fd);
    /* an idle keep-alive connection is closed too */
    fd = tcp_connect();
    send_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
    static char in[16384];
    bool eof;
    t0 = mono_ms();
    size_t n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0 && n > 17);
    ck_assert_uint_lt(mono_ms() - t0, 1500);
    close(fd);
    struct notice_server_counters c;
    unsigned open_now;
    live_stop(&c, &open_now);
    ck_assert_uint_eq(c.closed_idle, 2);
    ck_assert_uint_eq(open_now, 0);
    live_free();
}
END_TEST

START_TEST(live_max_connections)
{
    struct notice_config cfg = { .max_connections = 4 };
    live_start(&cfg);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = tcp_connect();
        send_all(fds[i], "GET / HTTP/1.1\r\n\r\n", 18); /* proves the server took it */
        static char in[16384];
        bool eof;
        size_t n = read_some(fds[i], in, sizeof(in), 300, &eof);
        ck_assert(n > 17 && strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0);
    }
    for (int j = 0; j < 3; j++) {
        int x = tcp_connect();
        char in[256];
        bool eof;
        size_t n = read_some(x, in, sizeof(in), 2000, &eof);
        ck_assert(eof);
        ck_assert_uint_eq(n, 0); /* refused at accept: closed without an answer */
        close(x);
    }
    close(fds[0]);
    usleep(100000);
    const char *r = run(CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/", port);
    ck_assert_str_eq(r, "200");
    for (int i = 1; i < 4; i++)
        close(fds[i]);
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.refused, 3);
    ck_assert_uint_eq(c.accepted, 5);
    live_free();
}
END_TEST

/* Many keep-alive connections busy at once, each sending its next request as soon as the last
 * answer is whole (a browser's pace): every answer comes promptly. libmicrohttpd 0.9.75's epoll
 * mode left such connections waiting for their timeout once about 128 were busy; the server
 * runs it on poll. */
START_TEST(live_many_keepalive)
{
    enum { N = 256, ROUNDS = 20 };
    struct notice_config cfg = { .max_connections = N };
    live_start(&cfg);
    static const char req[] = "GET /?url=k HTTP/1.1\r\nHost: n\r\n\r\n";
    static int fds[N], done[N];
    static struct pollfd p[N];
    static char in[16384];
    for (int i = 0; i < N; i++) {
        fds[i] = tcp_connect();
        done[i] = 0;
        send_all(fds[i], req, sizeof(req) - 1);
    }
    uint64_t t0 = mono_ms();
    int left = N;
    while (left > 0 && mono_ms() - t0 < 10000) {
        for (int i = 0; i < N; i++)
            p[i] = (struct pollfd){ .fd = done[i] == ROUNDS ? -1 : fds[i], .events = POLLIN };
        ck_assert_int_ge(poll(p, N, 200), 0);
        for (int i = 0; i < N; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            ssize_t n = recv(fds[i], in, sizeof(in), 0);
            ck_assert_msg(n > 0, "connection %d closed after %d answers", i, done[i]);
            if (n >= 8 && memcmp(in + n - 8, "</html>\n", 8) == 0) { /* an answer is whole */
                if (++done[i] == ROUNDS)
                    left--;
                else
                    send_all(fds[i], req, sizeof(req) - 1);
            }
        }
    }
    uint64_t took = mono_ms() - t0;
    ck_assert_msg(left == 0, "%d of %d connections still waiting after %llu ms", left, N,
                  (unsigned long long)took);
    ck_assert_msg(took < 10000, "%d x %d answers took %llu ms", N, ROUNDS,
                  (unsigned long long)took);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.accepted, N);
    ck_assert_uint_eq(c.status_200, (uint64_t)N * ROUNDS);
    live_free();
}
END_TEST

/* An absolute-form target (a client that takes the server for a proxy) gets the same page. */
START_TEST(live_absolute_form)
{
    live_start(NULL);
    int fd = tcp_connect();
    static const char req[] = "GET http://Notice.Example/blocked?url=a%2Fb HTTP/1.1\r\nHost: n\r\n"
                              "Connection: close\r\n\r\n";
    send_all(fd, req, sizeof(req) - 1);
    static char in[16384];
    bool eof;
    size_t n = read_some(fd, in, sizeof(in), 2000, &eof);
    ck_assert(eof);
    ck_assert_msg(strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0, "got %.*s", (int)n, in);
    ck_assert(has(in, n, "<code>a/b</code>"));
    ck_assert(has(in, n, "X-Content-Type-Options: nosniff\r\n"));
    ck_assert(has(in, n, "Cache-Control: no-store\r\n"));
    close(fd);
    live_free();
}
END_TEST

START_TEST(config_rejected)
{
    struct notice_config bad[] = {
        { .max_request_bytes = 100 }, { .max_request_bytes = 70000 },
        { .idle_timeout_ms = 5 },     { .max_connections = 70000 },
        { .url = "http://a/ b" },     { .contact_url = "javascript:alert(1)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        err[0] = 0;
        ck_assert_msg(notice_server_new(&bad[i], "127.0.0.1:0", NULL, err, sizeof(err)) == NULL,
                      "config %zu accepted", i);
        ck_assert_int_eq(errno, EINVAL);
        ck_assert_msg(strstr(err, "notice: ") == err, "message '%s'", err);
    }
    static const char *const addrs[] = { "127.0.0.1", "localhost:80", "[::1:80", "127.0.0.1:99999",
                                         "",          ":80" };
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        errno = 0;
        ck_assert_ptr_null(notice_server_new(NULL, addrs[i], NULL, err, sizeof(err)));
        ck_assert_int_eq(errno, EINVAL);
        ck_assert_msg(strstr(err, "expected IPv4:port or [IPv6]:port") != NULL, "message '%s'",
                      err);
    }
    /* empty strings (the config table's "none") are accepted as unset */
    struct notice_config empty = { .url = "", .contact = "", .contact_url = "" };
    srv = notice_server_new(&empty, "[::1]:0", NULL, err, sizeof(err));
    if (srv == NULL && errno == EADDRNOTAVAIL) /* no IPv6 loopback here */
        srv = notice_server_new(&empty, "127.0.0.1:0", NULL, err, sizeof(err));
    ck_assert_msg(srv != NULL, "%s", err);
    ck_assert_uint_gt(notice_server_port(srv), 0);
    notice_server_free(srv);
    srv = NULL;
    notice_server_free(NULL);
}
END_TEST

/* A socket bound and listening on 127.0.0.1, ephemeral port; the port in *p. */
static int occupy(unsigned *p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    socklen_t sl = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *p = ntohs(sa.sin_port);
    return fd;
}

START_TEST(port_taken_at_start)
{
    unsigned taken;
    int fd = occupy(&taken);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", taken);
    errno = 0;
    ck_assert_ptr_null(notice_server_new(NULL, addr, NULL, err, sizeof(err)));
    ck_assert_int_eq(errno, EADDRINUSE);
    char want[128];
    snprintf(want, sizeof(want), "notice: cannot listen on %s: %s", addr, strerror(EADDRINUSE));
    ck_assert_str_eq(err, want);
    close(fd);
    /* free again: it starts */
    srv = notice_server_new(NULL, addr, NULL, err, sizeof(err));
    ck_assert_msg(srv != NULL, "%s", err);
    ck_assert_uint_eq(notice_server_port(srv), taken);
    notice_server_free(srv);
    srv = NULL;
}
END_TEST

static const char *get_page(unsigned p, const char *target)
{
    return run(CURL "-w '\n%%{http_code}' 'http://127.0.0.1:%u%s' 2>&1", p, target);
}

START_TEST(reload_page_text)
{
    struct notice_config cfg = { .contact = "call 1414" };
    live_start(&cfg);
    int fd = tcp_connect(); /* an open keep-alive connection survives a text-only reload */
    const char *r = get_page(port, "/?order=Z.9");
    ck_assert(strstr(r, "call 1414") && !strstr(r, "Z.9") && strstr(r, "\n200"));
    struct notice_config next = { .contact = "write to help@example.kz",
                                  .show_order = true,
                                  .idle_timeout_ms = 20000 };
    ck_assert_int_eq(notice_server_reload(srv, &next, "127.0.0.1:0", err, sizeof(err)), -0);
    /* "127.0.0.1:0" differs from the running address text only if it changed: it did not */
    r = get_page(notice_server_port(srv), "/?order=Z.9");
    ck_assert_msg(strstr(r, "write to help@example.kz") && strstr(r, "<dd>Z.9</dd>"), "got %.300s",
                  r);
    ck_assert_uint_eq(notice_server_port(srv), port);
    send_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
    static char in[16384];
    bool eof;
    size_t n = read_some(fd, in, sizeof(in), 500, &eof);
    ck_assert(n > 17 && strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert(has(in, n, "help@example.kz"));
    close(fd);
    struct notice_server_counters c;
    live_stop(&c, NULL);
    ck_assert_uint_eq(c.reloads, 1);
    ck_assert_uint_eq(c.reload_failures, 0);
    ck_assert_int_eq(notice_server_state(srv), NOTICE_SERVER_SERVING);
    live_free();
}
END_TEST

START_TEST(reload_new_address)
{
    live_start(NULL);
    unsigned old_port = port;
    unsigned fresh;
    int hold = occupy(&fresh);
    close(hold); /* a port that was free a moment ago */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", fresh);
    struct notice_config next = { .contact = "moved" };
    ck_assert_msg(notice_server_reload(srv, &next, addr, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(notice_server_port(srv), fresh);
    const char *r = get_page(fresh, "/");
    ck_assert_msg(strstr(r, "moved") && strstr(r, "\n200"), "got %.300s", r);
    r = run(CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/ 2>/dev/null", old_port);
    ck_assert_str_eq(r, "000"); /* the old listener is closed */
    ck_assert_int_eq(notice_server_state(srv), NOTICE_SERVER_SERVING);
    live_free();
}
END_TEST

START_TEST(reload_port_taken)
{
    struct notice_config cfg = { .contact = "first" };
    live_start(&cfg);
    unsigned taken;
    int fd = occupy(&taken);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", taken);
    struct notice_config next = { .contact = "second" };
    ck_assert_int_eq(notice_server_reload(srv, &next, addr, err, sizeof(err)), -EADDRINUSE);
    char want[128];
    snprintf(want, sizeof(want), "notice: cannot listen on %s: %s", addr, strerror(EADDRINUSE));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(notice_server_state(srv), NOTICE_SERVER_STALE);
    ck_assert_str_eq(notice_server_state_name(notice_server_state(srv)), "stale");
    /* nothing changed: the old listener serves the old text */
    ck_assert_uint_eq(notice_server_port(srv), port);
    const char *r = get_page(port, "/");
    ck_assert_msg(strstr(r, "first") && !strstr(r, "second") && strstr(r, "\n200"), "got %.300s",
                  r);
    struct notice_server_counters c;
    notice_server_stats(srv, &c, NULL);
    ck_assert_uint_eq(c.reload_failures, 1);
    ck_assert_uint_eq(c.reloads, 0);
    /* once the port is free the same reload applies and the state clears */
    close(fd);
    ck_assert_msg(notice_server_reload(srv, &next, addr, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(notice_server_state(srv), NOTICE_SERVER_SERVING);
    r = get_page(taken, "/");
    ck_assert_msg(strstr(r, "second") && strstr(r, "\n200"), "got %.300s", r);
    live_free();
}
END_TEST

/* New limits on the same address: the listening socket is handed to the new instance, so the
 * port never stops accepting; the new cap applies. */
START_TEST(reload_same_address_new_limits)
{
    unsigned p0;
    int hold = occupy(&p0);
    close(hold);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", p0);
    srv = notice_server_new(NULL, addr, NULL, err, sizeof(err));
    ck_assert_msg(srv != NULL, "%s", err);
    port = p0;
    struct notice_config next = { .max_connections = 1 };
    ck_assert_msg(notice_server_reload(srv, &next, addr, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(notice_server_port(srv), p0);
    int a = tcp_connect();
    send_all(a, "GET / HTTP/1.1\r\n\r\n", 18);
    static char in[16384];
    bool eof;
    size_t n = read_some(a, in, sizeof(in), 500, &eof);
    ck_assert(n > 17 && strncmp(in, "HTTP/1.1 200 OK\r\n", 17) == 0);
    int b = tcp_connect(); /* over the new cap of 1 */
    n = read_some(b, in, sizeof(in), 2000, &eof);
    ck_assert(eof && n == 0);
    close(b);
    close(a);
    struct notice_server_counters c;
    usleep(100000);
    notice_server_stats(srv, &c, NULL);
    ck_assert_uint_eq(c.refused, 1);
    ck_assert_uint_eq(c.reloads, 1);
    ck_assert_int_eq(notice_server_state(srv), NOTICE_SERVER_SERVING);
    notice_server_free(srv);
    srv = NULL;
}
END_TEST

static Suite *notice_server_suite(void)
{
    Suite *s = suite_create("notice_server");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, live_curl_http11);
    tcase_add_test(tc, live_h2c_not_served);
    tcase_add_test(tc, live_pipelined_keepalive);
    tcase_add_test(tc, live_oversize_head);
    tcase_add_test(tc, live_slowloris);
    tcase_add_test(tc, live_max_connections);
    tcase_add_test(tc, live_absolute_form);
    tcase_add_test(tc, live_many_keepalive);
    suite_add_tcase(s, tc);

    tc = tcase_create("start_reload");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, config_rejected);
    tcase_add_test(tc, port_taken_at_start);
    tcase_add_test(tc, reload_page_text);
    tcase_add_test(tc, reload_new_address);
    tcase_add_test(tc, reload_port_taken);
    tcase_add_test(tc, reload_same_address_new_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(notice_server_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
