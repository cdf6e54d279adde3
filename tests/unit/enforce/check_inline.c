/* check_inline.c - Check suite for the inline proxy (proxy/inline.c) over real loopback TCP.
 *
 * Each test drives one worker loop on the test thread (inline_run_once) and hands it client
 * connections with inline_adopt(), naming a test server on 127.0.0.1 as the original
 * destination - what TPROXY/REDIRECT would have given. Every socket is non-blocking and every
 * wait pumps the proxy, so one thread plays client, proxy and server. The end-to-end test in
 * network namespaces with nftables, nginx and real clients is tests/scripts/inline.sh. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/enforce/inline.h"
#include "tests/lib/needroot.h"
#include "tests/lib/pcapw.h"
#include "tests/lib/tariffix.h"
#include "rules/match/rsref.h"
#include "rules/match/ruleset.h"
#include "rules/match/catset.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

static struct rsref *g_ref;
static struct inline_proxy *g_p;
static int g_srv = -1; /* test server listener (127.0.0.1, ephemeral) */
static struct sockaddr_in g_srv_addr;

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nonblock(int fd)
{
    ck_assert_int_ge(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static int listen_lo(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    socklen_t sl = sizeof(*a);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &sl), 0);
    nonblock(fd);
    return fd;
}

static void rules(void)
{
    static const char *const entries[] = { "blocked.test", "127.0.0.3", "http://urls.test/secret" };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        ck_assert_int_eq(
            ruleset_builder_add(b, entries[i], strlen(entries[i]), NULL, err, sizeof(err)), 0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    g_ref = rsref_new();
    ck_assert_ptr_nonnull(g_ref);
    rsref_publish(g_ref, rs);
}

static void base_config(struct inline_config *c)
{
    inline_config_default(c);
    c->tproxy_port = 0;
    c->redirect_port = 0;
    c->max_connections = 64;
    c->first_bytes_timeout_ms = 2000;
    c->close_timeout_ms = 500;
}

static void start(const struct inline_config *c)
{
    char err[256] = "";
    rules();
    rsref_thread_register();
    g_p = inline_new(c, g_ref, err, sizeof(err));
    ck_assert_msg(g_p != NULL, "%s", err);
    g_srv = listen_lo(&g_srv_addr);
}

static void teardown(void)
{
    inline_free(g_p);
    g_p = NULL;
    if (g_srv >= 0)
        close(g_srv);
    g_srv = -1;
    if (g_ref) {
        rsref_thread_unregister();
        rsref_free(g_ref);
        g_ref = NULL;
    }
}

static void pump(int ms)
{
    uint64_t end = ms_now() + (uint64_t)ms;
    while (ms_now() < end)
        ck_assert_int_ge(inline_run_once(g_p, 0, 5), 0);
}

/* A client connection from src_ip (host order, 127.0.0.0/8; 0: 127.0.0.1) handed to the proxy
 * with original destination dst (NULL: the server). Returns the client's socket; *rc (may be
 * NULL) gets what inline_adopt returned, which the test must then check itself. */
static int client_from(uint32_t src_ip, const struct sockaddr_in *dst, int *rc)
{
    struct sockaddr_in la;
    int l = listen_lo(&la);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(cfd, 0);
    if (src_ip) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(src_ip);
        ck_assert_int_eq(bind(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&la, sizeof(la)), 0);
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int a = -1;
    for (int i = 0; i < 100 && a < 0; i++) {
        a = accept(l, NULL, NULL);
        if (a < 0)
            usleep(1000);
    }
    ck_assert_int_ge(a, 0);
    close(l);
    nonblock(cfd);
    const struct sockaddr_in *d = dst ? dst : &g_srv_addr;
    int r = inline_adopt(g_p, 0, a, (const struct sockaddr *)d, sizeof(*d));
    if (rc)
        *rc = r;
    else
        ck_assert_int_eq(r, 0);
    return cfd;
}

static int client(const struct sockaddr_in *dst)
{
    return client_from(0, dst, NULL);
}

/* Waits (pumping) for the proxy's connection to the test server; -1 if none within ms. */
static int server_accept(int ms)
{
    uint64_t end = ms_now() + (uint64_t)ms;
    for (;;) {
        int s = accept(g_srv, NULL, NULL);
        if (s >= 0) {
            nonblock(s);
            return s;
        }
        if (ms_now() >= end)
            return -1;
        ck_assert_int_ge(inline_run_once(g_p, 0, 5), 0);
    }
}

static void send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *b = buf;
    uint64_t end = ms_now() + 5000;
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k > 0) {
            b += k;
            n -= (size_t)k;
            continue;
        }
        ck_assert_msg(k < 0 && errno == EAGAIN, "send: %s", strerror(errno));
        ck_assert_uint_lt(ms_now(), end);
        ck_assert_int_ge(inline_run_once(g_p, 0, 5), 0);
    }
}

/* Reads up to n bytes, pumping, until n arrived, EOF, an error or ms passed. Returns the count;
 * *end: 0 still open, 1 EOF, -errno error. */
static size_t recv_some(int fd, void *buf, size_t n, int ms, int *end)
{
    uint8_t *b = buf;
    size_t got = 0;
    uint64_t stop = ms_now() + (uint64_t)ms;
    *end = 0;
    while (got < n && ms_now() < stop) {
        ssize_t k = recv(fd, b + got, n - got, 0);
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        if (k == 0) {
            *end = 1;
            break;
        }
        if (errno != EAGAIN) {
            *end = -errno;
            break;
        }
        ck_assert_int_ge(inline_run_once(g_p, 0, 5), 0);
    }
    return got;
}

static size_t hello(uint8_t *out, size_t cap, const char *sni)
{
    struct pcapw_hello h;
    memset(&h, 0, sizeof(h));
    h.sni = sni;
    h.alpn = "h2,http/1.1";
    h.seed = 11;
    size_t n = pcapw_tls_hello(&h, out, cap, NULL);
    ck_assert_uint_gt(n, 100);
    return n;
}

static struct inline_stats stats(void)
{
    struct inline_stats st;
    inline_stats(g_p, -1, &st);
    return st;
}

/* Connects a client (to dst, or to the test server with NULL) and sends it a ClientHello naming
 * sni. Returns the client's socket. */
static int client_hello(const struct sockaddr_in *dst, const char *sni)
{
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), sni);
    int cfd = client(dst);
    send_all(cfd, h, hn);
    return cfd;
}

/* The client cfd sends (data, n): the server must accept the connection and receive exactly
 * those bytes (n at most 4096). Returns the server's socket. */
static int expect_relayed(int cfd, const void *data, size_t n)
{
    static uint8_t b[4096];
    ck_assert_uint_le(n, sizeof(b));
    send_all(cfd, data, n);
    int s = server_accept(2000);
    ck_assert_int_ge(s, 0);
    int end;
    ck_assert_uint_eq(recv_some(s, b, n, 2000, &end), n);
    ck_assert_mem_eq(b, data, n);
    return s;
}

/* fd must be reset within ms without receiving a byte. */
static void expect_reset(int fd, int ms)
{
    uint8_t b[64];
    int end;
    ck_assert_uint_eq(recv_some(fd, b, sizeof(b), ms, &end), 0);
    ck_assert_int_eq(end, -ECONNRESET);
}

/* Reads a reply of up to cap - 1 bytes (2 s at most) into b as a string; returns its length,
 * *end as recv_some() sets it. */
static size_t recv_text(int fd, char *b, size_t cap, int *end)
{
    size_t got = recv_some(fd, b, cap - 1, 2000, end);
    b[got] = 0;
    return got;
}

/* ---- valid ---------------------------------------------------------------------------------- */

START_TEST(tls_allowed_relayed_both_ways)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.test");
    int cfd = client(NULL);
    int s = expect_relayed(cfd, h, hn);
    int end;

    /* 1 MiB down, 256 KiB up, byte-exact, through the pipes */
    size_t big = 1 << 20;
    uint8_t *down = malloc(big), *back = malloc(big);
    uint64_t seed = 99;
    for (size_t i = 0; i < big; i++)
        down[i] = (uint8_t)pcapw_rand(&seed);
    size_t off = 0, got_n = 0;
    while (got_n < big) {
        if (off < big) {
            ssize_t k = send(s, down + off, big - off, MSG_NOSIGNAL);
            if (k > 0)
                off += (size_t)k;
        }
        got_n += recv_some(cfd, back + got_n, big - got_n, 20, &end);
        ck_assert_int_eq(end, 0);
    }
    ck_assert_mem_eq(back, down, big);
    send_all(cfd, down, big / 4);
    ck_assert_uint_eq(recv_some(s, back, big / 4, 3000, &end), big / 4);
    ck_assert_mem_eq(back, down, big / 4);

    /* half-closes travel: client FIN reaches the server, then the server's FIN the client */
    shutdown(cfd, SHUT_WR);
    ck_assert_uint_eq(recv_some(s, back, 1, 2000, &end), 0);
    ck_assert_int_eq(end, 1);
    send_all(s, "bye", 3);
    close(s);
    ck_assert_uint_eq(recv_some(cfd, back, 16, 2000, &end), 3);
    ck_assert_int_eq(end, 1);
    pump(20);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.passed, 1);
    ck_assert_uint_eq(st.requests, 1);
    ck_assert_uint_eq(st.blocked, 0);
    ck_assert_uint_eq(st.bytes_down, big + 3);
    ck_assert_uint_eq(st.bytes_up, hn + big / 4);
    ck_assert_uint_eq(st.active, 0);
    free(down);
    free(back);
    close(cfd);
}
END_TEST

START_TEST(tls_blocked_reset)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    int cfd = client_hello(NULL, "WWW.Blocked.Test.");
    expect_reset(cfd, 2000);
    ck_assert_int_lt(server_accept(50), 0); /* the server never heard of it */
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.blocked, 1);
    ck_assert_uint_eq(st.blocked_reset, 1);
    ck_assert_uint_eq(st.passed, 0);
    ck_assert_uint_eq(st.active, 0);
    close(cfd);
}
END_TEST

START_TEST(tls_blocked_alert)
{
    struct inline_config c;
    base_config(&c);
    c.tls_block = INLINE_TLS_ALERT;
    start(&c);
    uint8_t b[64];
    int cfd = client_hello(NULL, "blocked.test");
    int end;
    static const uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112 };
    ck_assert_uint_eq(recv_some(cfd, b, sizeof(b), 2000, &end), 7);
    ck_assert_mem_eq(b, alert, 7);
    ck_assert_int_eq(end, 1);
    ck_assert_uint_eq(stats().blocked_alert, 1);
    close(cfd);
    pump(20);
    ck_assert_uint_eq(stats().active, 0);
}
END_TEST

START_TEST(http_blocked_redirect)
{
    struct inline_config c;
    base_config(&c);
    c.policy.notice_url = "http://notice.test/blocked";
    start(&c);
    uint8_t req[512];
    char b[8192];
    size_t n = pcapw_http_get(req, sizeof(req), "blocked.test", "/a?b=1");
    int cfd = client(NULL);
    send_all(cfd, req, n);
    int end;
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_int_eq(end, 1);
    ck_assert_msg(strncmp(b, "HTTP/1.1 302 ", 13) == 0, "%s", b);
    ck_assert_ptr_nonnull(
        strstr(b, "\r\nLocation: http://notice.test/blocked?url=http%3A%2F%2Fblocked.test%2Fa"));
    ck_assert_int_lt(server_accept(50), 0);
    ck_assert_uint_eq(stats().blocked_redirect, 1);
    close(cfd);
}
END_TEST

/* Starts the proxy with a close timeout longer than the test (a lingering connection would stay
 * counted), sends GET / for blocked.test and then extra bytes of junk, and expects a 451 and a
 * clean end (no reset). Returns the client's socket. */
static int blocked_answered(size_t extra)
{
    struct inline_config c;
    base_config(&c);
    c.close_timeout_ms = 10000;
    start(&c);
    uint8_t req[512];
    char b[8192];
    size_t n = pcapw_http_get(req, sizeof(req), "blocked.test", "/");
    int cfd = client(NULL);
    send_all(cfd, req, n);
    uint8_t *junk = malloc(extra + 1);
    ck_assert_ptr_nonnull(junk);
    memset(junk, 'z', extra);
    send_all(cfd, junk, extra);
    free(junk);
    int end;
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_int_eq(end, 1);
    ck_assert_msg(strncmp(b, "HTTP/1.1 451 ", 13) == 0, "%s", b);
    ck_assert_uint_eq(stats().blocked_451, 1);
    ck_assert_int_lt(server_accept(50), 0);
    return cfd;
}

/* Nothing unread after the request: the answer is sent and the socket closed at once, the
 * client still holding its end open (no lingering read until it closes). */
START_TEST(http_blocked_closed_at_once)
{
    int cfd = blocked_answered(0);
    pump(20);
    ck_assert_uint_eq(stats().active, 0);
    close(cfd);
}
END_TEST

/* Bytes the client sent after the request are still unread in the socket when the answer is
 * out (more than the judging buffer holds): closing now would reset the connection, so the
 * proxy half-closes and drains until the client closes - the client sees the answer and a
 * clean end (blocked_answered), and its sending never fails. */
START_TEST(http_blocked_unread_drained)
{
    int cfd = blocked_answered(256 * 1024);
    close(cfd);
    pump(50);
    ck_assert_uint_eq(stats().active, 0);
}
END_TEST

START_TEST(http_blocked_451_url_entry)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    uint8_t req[512];
    char b[NOTICE_RESPONSE_MAX + 1];
    /* a url entry: /secret is blocked, / on the same host is not */
    size_t n = pcapw_http_get(req, sizeof(req), "urls.test", "/secret");
    int cfd = client(NULL);
    send_all(cfd, req, n);
    int end;
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_msg(strncmp(b, "HTTP/1.1 451 ", 13) == 0, "%s", b);
    ck_assert_uint_eq(stats().blocked_451, 1);
    close(cfd);
}
END_TEST

/* Request 1 passes and is answered; request 2 on the same connection names a blocked host: the
 * server gets request 1 only, then EOF, and the client gets response 1, then the redirect. */
START_TEST(http_keepalive_second_request_blocked)
{
    struct inline_config c;
    base_config(&c);
    c.policy.notice_url = "http://notice.test/";
    start(&c);
    uint8_t r1[512], r2[512];
    char b[8192];
    size_t n1 = pcapw_http_get(r1, sizeof(r1), "allowed.test", "/one");
    size_t n2 = pcapw_http_get(r2, sizeof(r2), "blocked.test", "/two");
    int cfd = client(NULL);
    int s = expect_relayed(cfd, r1, n1);
    int end;
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    send_all(s, resp, sizeof(resp) - 1);
    ck_assert_uint_eq(recv_some(cfd, b, sizeof(resp) - 1, 2000, &end), sizeof(resp) - 1);
    ck_assert_mem_eq(b, resp, sizeof(resp) - 1);

    send_all(cfd, r2, n2);
    ck_assert_uint_eq(recv_some(s, b, sizeof(b), 2000, &end), 0); /* EOF, not request 2 */
    ck_assert_int_eq(end, 1);
    close(s);
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_msg(strncmp(b, "HTTP/1.1 302 ", 13) == 0, "%s", b);
    ck_assert_int_eq(end, 1);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.requests, 2);
    ck_assert_uint_eq(st.blocked_redirect, 1);
    close(cfd);
}
END_TEST

/* Pipelined: both requests in one write. Response 1 still reaches the client before the 302. */
START_TEST(http_pipelined_second_blocked)
{
    struct inline_config c;
    base_config(&c);
    c.policy.notice_url = "http://notice.test/";
    start(&c);
    uint8_t r[1024];
    char b[8192];
    size_t n1 = pcapw_http_get(r, sizeof(r), "allowed.test", "/one");
    size_t n2 = pcapw_http_get(r + n1, sizeof(r) - n1, "blocked.test", "/two");
    int cfd = client(NULL);
    send_all(cfd, r, n1 + n2);
    int s = server_accept(2000);
    ck_assert_int_ge(s, 0);
    int end;
    ck_assert_uint_eq(recv_some(s, b, sizeof(b), 2000, &end), n1);
    ck_assert_int_eq(end, 1);
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    send_all(s, resp, sizeof(resp) - 1);
    close(s);
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_msg(strncmp(b, resp, sizeof(resp) - 1) == 0, "%s", b);
    ck_assert_msg(strncmp(b + sizeof(resp) - 1, "HTTP/1.1 302 ", 13) == 0, "%s", b);
    close(cfd);
}
END_TEST

/* A body of known length is relayed, not judged (it may contain anything); the request after it
 * is judged. */
START_TEST(http_body_skipped_next_judged)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    static const char body[] = "GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n";
    char post[512], b[NOTICE_RESPONSE_MAX + 1];
    int pn = snprintf(post, sizeof(post),
                      "POST /up HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: %zu\r\n\r\n%s",
                      sizeof(body) - 1, body);
    int cfd = client(NULL);
    int s = expect_relayed(cfd, post, (size_t)pn);
    int end;
    send_all(cfd, body, sizeof(body) - 1); /* now a real request */
    ck_assert_uint_eq(recv_some(s, b, sizeof(b), 2000, &end), 0);
    ck_assert_int_eq(end, 1);
    close(s);
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_msg(strncmp(b, "HTTP/1.1 451 ", 13) == 0, "%s", b);
    close(cfd);
}
END_TEST

/* A chunked body (extension, trailer) is relayed by its framing, not judged, though its data
 * holds a request for a blocked name; the request after it is judged (EVASION H16, H17). */
START_TEST(http_chunked_body_skipped_next_judged)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    static const char post[] =
        "POST /up HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\n\r\n"
        "26;x=1\r\nGET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n\r\n"
        "0\r\nX-T: 1\r\n\r\n";
    static const char next[] = "GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n";
    char b[NOTICE_RESPONSE_MAX + 1];
    int cfd = client(NULL);
    int s = expect_relayed(cfd, post, sizeof(post) - 1);
    int end;
    send_all(cfd, next, sizeof(next) - 1);
    ck_assert_uint_eq(recv_some(s, b, sizeof(b), 2000, &end), 0);
    ck_assert_int_eq(end, 1);
    close(s);
    recv_text(cfd, b, sizeof(b), &end);
    ck_assert_msg(strncmp(b, "HTTP/1.1 451 ", 13) == 0, "%s", b);
    close(cfd);
}
END_TEST

/* ---- truncated / split ---------------------------------------------------------------------- */

START_TEST(tls_split_hello_blocked)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    uint8_t h[2048];
    size_t sni_off;
    struct pcapw_hello ph;
    memset(&ph, 0, sizeof(ph));
    ph.sni = "blocked.test";
    ph.seed = 3;
    size_t hn = pcapw_tls_hello(&ph, h, sizeof(h), &sni_off);
    int cfd = client(NULL);
    for (size_t i = 0; i < hn; i += 1) { /* byte by byte, the name split everywhere */
        send_all(cfd, h + i, 1);
        if (i == sni_off + 3)
            pump(30);
    }
    expect_reset(cfd, 2000);
    ck_assert_int_lt(server_accept(20), 0);
    close(cfd);
}
END_TEST

/* An incomplete hello until the timeout: judged on the address (free), the bytes go through. */
/* A ClientHello sent in pieces with pauses that add up to more than first_bytes_timeout (each
 * shorter than it): the timer bounds silence, so the hello is still judged - and blocked. */
START_TEST(slow_first_request_judged)
{
    struct inline_config c;
    base_config(&c);
    c.first_bytes_timeout_ms = 300;
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "blocked.test");
    int cfd = client(NULL);
    /* 20, 20, 20 bytes 200 ms apart (600 ms in all, past the 300 ms timeout), then the rest,
     * which holds the name */
    bool reset = false;
    for (size_t off = 0; off < hn && !reset;) {
        size_t n = off < 60 ? 20 : hn - off;
        /* the name is judged as soon as its bytes are in: the reset may come before the end */
        if (send(cfd, h + off, n, MSG_NOSIGNAL) < 0) {
            ck_assert_msg(errno == ECONNRESET || errno == EPIPE, "send: %s", strerror(errno));
            reset = true;
        }
        off += n;
        if (off < hn)
            pump(200);
    }
    if (!reset)
        expect_reset(cfd, 2000);
    ck_assert_int_lt(server_accept(50), 0);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.first_timeout, 0);
    ck_assert_uint_eq(st.blocked, 1);
    ck_assert_uint_eq(st.passed, 0);
    close(cfd);
}
END_TEST

/* 20 bytes of a ClientHello, then silence past the timeout: reset, never relayed unjudged
 * (the rest could name a blocked site). */
START_TEST(incomplete_first_request_reset)
{
    struct inline_config c;
    base_config(&c);
    c.first_bytes_timeout_ms = 100;
    start(&c);
    uint8_t h[2048];
    hello(h, sizeof(h), "blocked.test");
    int cfd = client(NULL);
    send_all(cfd, h, 20);
    expect_reset(cfd, 2000);
    ck_assert_int_lt(server_accept(50), 0);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.first_timeout, 1);
    ck_assert_uint_eq(st.incomplete_reset, 1);
    ck_assert_uint_eq(st.passed, 0);
    close(cfd);
}
END_TEST

/* inline.incomplete_request = address: the operator's fail-open choice, judged on the address
 * and relayed. */
START_TEST(incomplete_first_request_address_policy)
{
    struct inline_config c;
    base_config(&c);
    c.first_bytes_timeout_ms = 100;
    c.incomplete = INLINE_INCOMPLETE_ADDRESS;
    start(&c);
    uint8_t h[2048];
    hello(h, sizeof(h), "blocked.test");
    int cfd = client(NULL);
    int s = expect_relayed(cfd, h, 20);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.first_timeout, 1);
    ck_assert_uint_eq(st.by_address, 1);
    ck_assert_uint_eq(st.incomplete_reset, 0);
    close(s);
    close(cfd);
}
END_TEST

/* A client that sends nothing is connected after the timeout (the server may speak first), but
 * a ClientHello it sends later is still judged as its first request. */
START_TEST(silent_client_connected_then_judged)
{
    struct inline_config c;
    base_config(&c);
    c.first_bytes_timeout_ms = 100;
    start(&c);
    int cfd = client(NULL);
    int s = server_accept(2000);
    ck_assert_int_ge(s, 0);
    ck_assert_uint_eq(stats().by_address, 1);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "blocked.test");
    send_all(cfd, h, hn);
    expect_reset(cfd, 2000);
    uint8_t b[16];
    int end;
    ck_assert_uint_eq(recv_some(s, b, sizeof(b), 300, &end), 0); /* nothing reached the server */
    ck_assert_uint_eq(stats().blocked, 1);
    close(s);
    close(cfd);
}
END_TEST

/* A relayed connection with no traffic for idle_timeout is closed (reset both ways). */
START_TEST(relay_idle_timeout)
{
    struct inline_config c;
    base_config(&c);
    c.idle_timeout_ms = 200;
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.test");
    int cfd = client(NULL);
    int s = expect_relayed(cfd, h, hn);
    expect_reset(cfd, 2000);
    ck_assert_uint_eq(stats().idle_timeout, 1);
    ck_assert_uint_eq(stats().active, 0);
    close(s);
    close(cfd);
}
END_TEST

/* Traffic keeps a relayed connection alive past idle_timeout. */
START_TEST(relay_traffic_not_idle)
{
    struct inline_config c;
    base_config(&c);
    c.idle_timeout_ms = 300;
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.test");
    int cfd = client(NULL);
    int s = expect_relayed(cfd, h, hn);
    for (int i = 0; i < 5; i++) {
        pump(150);
        send_all(s, "x", 1);
        uint8_t b;
        int end;
        ck_assert_uint_eq(recv_some(cfd, &b, 1, 1000, &end), 1);
    }
    ck_assert_uint_eq(stats().idle_timeout, 0);
    ck_assert_uint_eq(stats().active, 1);
    close(s);
    close(cfd);
}
END_TEST

/* h2c: an allowed first stream is relayed; a later stream to a blocked :authority on the same
 * connection resets it before the server sees that stream (EVASION H18, every stream judged). */
START_TEST(h2c_later_stream_blocked)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    static const uint8_t first[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        "\x00\x00\x00\x04\x00\x00\x00\x00\x00" /* SETTINGS */
        "\x00\x00\x11\x01\x04\x00\x00\x00\x01" /* HEADERS 1, END_HEADERS */
        "\x82\x86\x84\x41\x0c"
        "allowed.test"
        "\x00\x00\x04\x00\x01\x00\x00\x00\x01"
        "data"; /* DATA 1, END_STREAM */
    static const uint8_t second[] =
        "\x00\x00\x11\x01\x05\x00\x00\x00\x03" /* HEADERS 3, END_STREAM|END_HEADERS */
        "\x82\x86\x84\x41\x0c"
        "blocked.test";
    int cfd = client(NULL);
    int s = expect_relayed(cfd, first, sizeof(first) - 1);
    send_all(cfd, second, sizeof(second) - 1);
    expect_reset(cfd, 2000);
    uint8_t b[64];
    int end;
    ck_assert_uint_eq(recv_some(s, b, sizeof(b), 300, &end), 0); /* stream 3 never reached it */
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.blocked, 1);
    ck_assert_uint_eq(st.requests, 2);
    ck_assert_uint_eq(st.h2c_no_state, 0);
    close(s);
    close(cfd);
}
END_TEST

/* ---- malformed ------------------------------------------------------------------------------ */

START_TEST(unknown_protocol_relayed)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    static const char junk[] = "\x01\x02hello, not a protocol we know\r\n";
    int cfd = client(NULL);
    int s = expect_relayed(cfd, junk, sizeof(junk) - 1);
    ck_assert_uint_eq(stats().not_mine, 1);
    close(s);
    close(cfd);
}
END_TEST

START_TEST(ip_entry_blocks)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    struct sockaddr_in d = g_srv_addr;
    d.sin_addr.s_addr = htonl(0x7f000003); /* 127.0.0.3 is listed */
    int cfd = client_hello(&d, "allowed.test");
    expect_reset(cfd, 2000);
    ck_assert_uint_eq(stats().blocked_reset, 1);
    close(cfd);
}
END_TEST

/* Connections passed before an order (docs/queue.md "Connections passed before an order"):
 * after a new rule set every relayed connection is judged again on the name it was passed on
 * and its server's address; those now blocked are reset, both ends, and reported with cut set.
 * A: TLS to later.test; B: TLS to allowed.test; C: HTTP keep-alive, Host allowed.test, GET
 * /page. Listing later.test cuts A only; a URL of another path of C's host cuts nothing, the URL
 * of C's last request cuts C (its path is kept with the name); then listing the server's address
 * (127.0.0.1) cuts B. */
static unsigned g_cut_events;
static void count_cuts(void *ctx, const struct inline_event *ev)
{
    (void)ctx;
    if (ev->cut && ev->d.verdict == VERDICT_BLOCK)
        g_cut_events++;
}

static void publish(const char *const *extra, size_t n)
{
    static const char *const base[] = { "blocked.test", "127.0.0.3", "http://urls.test/secret" };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(ruleset_builder_add(b, base[i], strlen(base[i]), NULL, err, sizeof(err)),
                         0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ruleset_builder_add(b, extra[i], strlen(extra[i]), NULL, err, sizeof(err)),
                         0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    rsref_publish(g_ref, rs);
}

/* One byte each way on a relayed connection: both arrive. */
static void still_relayed(int cfd, int s)
{
    uint8_t b;
    int end;
    send_all(cfd, "u", 1);
    ck_assert_uint_eq(recv_some(s, &b, 1, 2000, &end), 1);
    send_all(s, "d", 1);
    ck_assert_uint_eq(recv_some(cfd, &b, 1, 2000, &end), 1);
}

START_TEST(passed_connections_judged_again)
{
    struct inline_config c;
    base_config(&c);
    c.on_event = count_cuts;
    g_cut_events = 0;
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "later.test");
    int ca = client(NULL);
    int sa = expect_relayed(ca, h, hn);
    hn = hello(h, sizeof(h), "allowed.test");
    int cb = client(NULL);
    int sb = expect_relayed(cb, h, hn);
    static const char get[] = "GET /page HTTP/1.1\r\nHost: allowed.test\r\n\r\n";
    int cc = client(NULL);
    int sc = expect_relayed(cc, get, sizeof(get) - 1);
    /* a publication that blocks none of them changes nothing */
    static const char *const other[] = { "other.test" };
    publish(other, 1);
    pump(50);
    still_relayed(ca, sa);
    still_relayed(cb, sb);
    still_relayed(cc, sc);
    ck_assert_uint_eq(stats().cut, 0);
    /* the name of A listed: A reset (client and server), B and C go on */
    static const char *const name[] = { "later.test" };
    publish(name, 1);
    expect_reset(ca, 2000);
    expect_reset(sa, 2000);
    still_relayed(cb, sb);
    still_relayed(cc, sc);
    ck_assert_uint_eq(stats().cut, 1);
    /* a URL of another path of C's host: nothing cut; the URL of C's last request: C reset */
    static const char *const url_other[] = { "later.test", "http://allowed.test/other" };
    publish(url_other, 2);
    pump(50);
    still_relayed(cb, sb);
    still_relayed(cc, sc);
    ck_assert_uint_eq(stats().cut, 1);
    static const char *const url[] = { "later.test", "http://allowed.test/page" };
    publish(url, 2);
    expect_reset(cc, 2000);
    expect_reset(sc, 2000);
    still_relayed(cb, sb);
    ck_assert_uint_eq(stats().cut, 2);
    /* the server's address listed: B reset */
    static const char *const addr[] = { "later.test", "127.0.0.1" };
    publish(addr, 2);
    expect_reset(cb, 2000);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.cut, 3);
    ck_assert_uint_eq(st.active, 0);
    ck_assert_uint_eq(g_cut_events, 3);
    close(ca);
    close(sa);
    close(cb);
    close(sb);
    close(cc);
    close(sc);
}
END_TEST

/* Publications faster than the walk (here: one slot a loop, a new set before every loop) do
 * not keep it from the slots past its start: the third connection's name, listed from the
 * first publication on, is cut within a few loops (before, each publication started the walk
 * again at slot 0, and it never got there). */
START_TEST(passed_connections_walk_not_starved)
{
    struct inline_config c;
    base_config(&c);
    c.rejudge_step = 1;
    start(&c);
    uint8_t h[2048];
    int cl[3], sv[3];
    static const char *const names[3] = { "a.example", "b.example", "later.test" };
    for (int i = 0; i < 3; i++) {
        size_t hn = hello(h, sizeof(h), names[i]);
        cl[i] = client(NULL);
        sv[i] = expect_relayed(cl[i], h, hn);
    }
    static const char *const listed[1] = { "later.test" };
    char other[32];
    for (int k = 0; k < 12; k++) {
        snprintf(other, sizeof(other), "other%d.test", k);
        const char *e[2] = { listed[0], other };
        publish(e, 2);
        ck_assert_int_ge(inline_run_once(g_p, 0, 0), 0);
    }
    (void)listed;
    ck_assert_uint_eq(stats().cut, 1); /* within those loops, not after them */
    expect_reset(cl[2], 2000);
    still_relayed(cl[0], sv[0]);
    still_relayed(cl[1], sv[1]);
    for (int i = 0; i < 3; i++) {
        close(cl[i]);
        close(sv[i]);
    }
}
END_TEST

/* Child tariffs: a relayed connection of a child subscriber is judged again when the tariff
 * table is published (its profile changed) and, with no publication, every tariff_recheck_ms
 * (here: its address mapped to another subscriber in the subscriber map). A: a child (block=
 * adult) on later.example, passed; its subscriber moved to an allow-list profile and published:
 * A reset (cause allowlist). B: another address, no subscriber (default profile), passed; then
 * mapped to the allow-list subscriber without a publication: reset at the next recheck. */
START_TEST(passed_connections_tariff_recheck)
{
    char err[256];
    static struct tariffix tx;
    ck_assert_msg(tariffix_init(&tx, "127.0.0.5", err, sizeof(err)) == 0, "%s", err);
    struct tariff *t = tx.t;
    struct submap *m = tx.m;
    struct sub_addr a;

    struct inline_config c;
    base_config(&c);
    c.tariff = &tx.vt;
    c.tariff_recheck_ms = 200;
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "later.example");
    int ca = client_from(0x7f000005, NULL, NULL);
    int sa = expect_relayed(ca, h, hn);
    int cb2 = client_from(0x7f000006, NULL, NULL);
    int sb = expect_relayed(cb2, h, hn);
    pump(300); /* a recheck with nothing changed: both go on */
    still_relayed(ca, sa);
    still_relayed(cb2, sb);
    ck_assert_int_eq(tariff_set_sub(t, "77010000001", "profile=strict", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    expect_reset(ca, 2000);
    still_relayed(cb2, sb);
    ck_assert_uint_eq(stats().cut, 1);
    ck_assert_int_eq(sub_addr_parse("127.0.0.6", 9, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(submap_set(m, &a, "77010000002", NULL, 0), 0);
    expect_reset(cb2, 2000); /* the next recheck (200 ms) */
    ck_assert_uint_eq(stats().cut, 2);
    close(ca);
    close(sa);
    close(cb2);
    close(sb);
    teardown();
    tariffix_fini(&tx);
}
END_TEST

START_TEST(connect_refused_resets_client)
{
    struct inline_config c;
    base_config(&c);
    start(&c);
    struct sockaddr_in d;
    int tmp = listen_lo(&d);
    close(tmp); /* nothing listens there any more */
    int cfd = client_hello(&d, "allowed.test");
    expect_reset(cfd, 2000);
    ck_assert_uint_eq(stats().connect_failed, 1);
    close(cfd);
}
END_TEST

/* A head the strict reading refuses (a space before Host's colon, an obs-folded line), judged
 * on the names its lenient scan finds (S10): blocked when one is listed, else refused - where
 * its request ends is not known, so what follows could not be framed (INSPECT_REST_UNFRAMED,
 * as the engine scans such a stream). */
START_TEST(lenient_head_refused)
{
    static const struct {
        const char *req;
        bool blocked;
    } rows[] = {
        { "GET / HTTP/1.1\r\nHost : allowed.test\r\n\r\nGET / HTTP/1.1\r\nHost: "
          "blocked.test\r\n\r\n",
          false },
        { "GET / HTTP/1.1\r\nX-A: b\r\n c\r\nHost: allowed.test\r\n\r\n", false },
        { "GET / HTTP/1.1\r\nHost : blocked.test\r\n\r\n", true },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct inline_config c;
        base_config(&c);
        start(&c);
        int cfd = client(NULL);
        send_all(cfd, rows[i].req, strlen(rows[i].req));
        if (rows[i].blocked) {
            /* the block answer (451), then the close; nothing reaches the server */
            char b[4096];
            int end;
            recv_text(cfd, b, sizeof(b), &end);
            ck_assert_int_eq(end, 1);
            ck_assert_msg(strncmp(b, "HTTP/1.1 451 ", 13) == 0, "%s", b);
        } else {
            expect_reset(cfd, 2000);
        }
        ck_assert_int_lt(server_accept(50), 0);
        struct inline_stats st = stats();
        ck_assert_uint_eq(st.malformed, 1);
        ck_assert_uint_eq(st.requests, 1);
        ck_assert_uint_eq(st.unframed, rows[i].blocked ? 0 : 1);
        ck_assert_uint_eq(st.blocked, rows[i].blocked ? 1 : 0);
        close(cfd);
        teardown();
    }
}
END_TEST

/* ---- limits --------------------------------------------------------------------------------- */

/* A request head over first_bytes_max, with no name in it (judged on the address first:
 * nothing listed) or with an allowed Host before the cut (judged by it): refused either way -
 * relaying the rest unframed would let a later request on the connection through to a server
 * with larger limits than ours. */
START_TEST(unframed_head_refused)
{
    static const char *const first[] = { "", "Host: allowed.test\r\n" };
    for (size_t i = 0; i < 2; i++) {
        struct inline_config c;
        base_config(&c);
        c.first_bytes_max = 512;
        start(&c);
        char req[800];
        int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n%sX-Pad: %0600d\r\n", first[i], 0);
        int cfd = client(NULL);
        send_all(cfd, req, (size_t)n);
        expect_reset(cfd, 2000);
        ck_assert_int_lt(server_accept(50), 0);
        struct inline_stats st = stats();
        ck_assert_uint_eq(st.unframed, 1);
        ck_assert_uint_eq(st.first_limit, i == 0 ? 1 : 0);
        ck_assert_uint_eq(st.by_address, i == 0 ? 1 : 0);
        ck_assert_uint_eq(st.requests, i == 0 ? 0 : 1);
        close(cfd);
        teardown();
    }
}
END_TEST

static enum verdict_method g_last_method;
static void note_method(void *ctx, const struct inline_event *ev)
{
    (void)ctx;
    if (ev->d.verdict == VERDICT_BLOCK)
        g_last_method = ev->d.method;
}

/* A ClientHello over first_bytes_max whose SNI comes after the cap (a padding extension first;
 * OpenSSL takes hellos up to 128 KiB): its name is out of reach, so it is reset by policy
 * (method incomplete) whatever the name - never relayed on its unlisted address (EVASION S7:
 * a size cap never means pass). */
START_TEST(hello_name_past_cap_refused)
{
    struct inline_config c;
    base_config(&c);
    c.first_bytes_max = 1024;
    c.on_event = note_method;
    g_last_method = METHOD_NONE;
    start(&c);
    struct pcapw_hello ph;
    memset(&ph, 0, sizeof(ph));
    ph.sni = "allowed.test";
    ph.sni_last = true;
    ph.pad_to = 3000;
    ph.seed = 5;
    uint8_t h[4096];
    size_t hn = pcapw_tls_hello(&ph, h, sizeof(h), NULL);
    ck_assert_uint_gt(hn, 3000);
    int cfd = client(NULL);
    send_all(cfd, h, hn);
    expect_reset(cfd, 2000);
    ck_assert_int_lt(server_accept(50), 0);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.first_limit, 1);
    ck_assert_uint_eq(st.blocked, 1);
    ck_assert_int_eq(g_last_method, METHOD_INCOMPLETE);
    close(cfd);
}
END_TEST

START_TEST(max_connections_refused)
{
    struct inline_config c;
    base_config(&c);
    c.max_connections = 1;
    start(&c);
    /* relayed: not a candidate for eviction (only connections waiting for a first request are) */
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.test");
    int c1 = client(NULL);
    int s1 = expect_relayed(c1, h, hn);
    struct sockaddr_in la;
    int l = listen_lo(&la);
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(c2, (struct sockaddr *)&la, sizeof(la)), 0);
    int a = -1;
    for (int i = 0; i < 100 && a < 0; i++) {
        a = accept(l, NULL, NULL);
        if (a < 0)
            usleep(1000);
    }
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(inline_adopt(g_p, 0, a, (struct sockaddr *)&g_srv_addr, sizeof(g_srv_addr)),
                     -ENOSPC);
    nonblock(c2);
    expect_reset(c2, 1000);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.refused_full, 1);
    ck_assert_uint_eq(st.accepted, 1);
    close(s1);
    close(l);
    close(c1);
    close(c2);
}
END_TEST

/* A connection to the proxy from IPv6 address src (any address: bound with IP_FREEBIND, routed
 * back by a local route the caller made); the proxy adopts it. Returns the client's socket. */
static int client_from6(const char *src, int *rc)
{
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in6 la = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    ck_assert_int_eq(bind(l, (struct sockaddr *)&la, sizeof(la)), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    socklen_t sl = sizeof(la);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&la, &sl), 0);
    int cfd = socket(AF_INET6, SOCK_STREAM, 0);
    int one = 1;
    ck_assert_int_eq(setsockopt(cfd, SOL_IP, IP_FREEBIND, &one, sizeof(one)), 0);
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
    ck_assert_int_eq(inet_pton(AF_INET6, src, &sa.sin6_addr), 1);
    ck_assert_int_eq(bind(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&la, sizeof(la)), 0);
    int a = accept(l, NULL, NULL);
    ck_assert_int_ge(a, 0);
    close(l);
    nonblock(cfd);
    *rc = inline_adopt(g_p, 0, a, (const struct sockaddr *)&g_srv_addr, sizeof(g_srv_addr));
    return cfd;
}

/* IPv6 clients are counted by prefix (client_prefix6, 64 by default): a subscriber taking a
 * new address of its /64 for every connection is still one source, refused past its share,
 * while the next /64 is served. With 128 every address is its own source. Own network
 * namespace: a local route makes a whole /48 reachable on loopback. */
START_TEST(per_source_ipv6_prefix)
{
    NEEDROOT("check_inline: the IPv6 prefix test");
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
    ck_assert_int_eq(system("ip link set lo up && ip -6 route add local 2001:db8:7::/48 dev lo"),
                     0);
    struct inline_config c;
    base_config(&c);
    c.max_per_source = 3;
    c.client_prefix6 = _i == 0 ? 64 : 128;
    start(&c);
    static const char *const same64[] = { "2001:db8:7:1::1", "2001:db8:7:1::2",
                                          "2001:db8:7:1:aaaa::3", "2001:db8:7:1:ffff:1:2:3" };
    int fds[6], rc[6];
    for (int i = 0; i < 4; i++)
        fds[i] = client_from6(same64[i], &rc[i]);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(rc[i], 0);
    fds[4] = client_from6("2001:db8:7:2::1", &rc[4]); /* another /64 */
    ck_assert_int_eq(rc[4], 0);
    if (_i == 0) {
        ck_assert_int_eq(rc[3], -EUSERS); /* the fourth of one /64 */
        expect_reset(fds[3], 1000);
        ck_assert_uint_eq(stats().refused_source, 1);
        close(fds[0]); /* a closed connection gives the prefix a slot back */
        pump(100);
        fds[5] = client_from6("2001:db8:7:1::99", &rc[5]);
        ck_assert_int_eq(rc[5], 0);
    } else {
        ck_assert_int_eq(rc[3], 0); /* by address: four sources */
        ck_assert_uint_eq(stats().refused_source, 0);
        fds[5] = -1;
        close(fds[0]);
    }
    for (int i = 1; i < 6; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}
END_TEST

/* One source cannot take the pool: past its share it is refused, another source is served. */
START_TEST(per_source_limit)
{
    struct inline_config c;
    base_config(&c);
    c.max_per_source = 3;
    start(&c);
    int fds[4], rc;
    for (int i = 0; i < 3; i++)
        fds[i] = client_from(0x7f000002, NULL, NULL);
    fds[3] = client_from(0x7f000002, NULL, &rc);
    ck_assert_int_eq(rc, -EUSERS);
    expect_reset(fds[3], 1000);
    ck_assert_uint_eq(stats().refused_source, 1);
    /* another subscriber is served */
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.test");
    int other = client_from(0x7f000004, NULL, NULL);
    int s = expect_relayed(other, h, hn);
    /* a closed connection gives its source a slot back */
    close(fds[0]);
    pump(100);
    int again_fd = client_from(0x7f000002, NULL, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(stats().refused_source, 1);
    close(again_fd);
    close(s);
    close(other);
    for (int i = 1; i < 4; i++)
        close(fds[i]);
}
END_TEST

/* A flood of half-sent ClientHellos from many sources fills the pool: a new connection takes the
 * slot of the one silent longest, and is served. Memory stays the pool's. */
START_TEST(pool_full_evicts_oldest_silent)
{
    struct inline_config c;
    base_config(&c);
    c.max_connections = 8;
    start(&c);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.test");
    int flood[8];
    for (int i = 0; i < 8; i++) {
        flood[i] = client_from(0x7f000010u + (uint32_t)i, NULL, NULL);
        send_all(flood[i], h, 20);
        pump(5);
    }
    int rc;
    int cfd = client_from(0x7f000030, NULL, &rc);
    ck_assert_int_eq(rc, 0);
    expect_reset(flood[0], 1000); /* the oldest half-sent one made room */
    int s = expect_relayed(cfd, h, hn);
    struct inline_stats st = stats();
    ck_assert_uint_eq(st.evicted_first, 1);
    ck_assert_uint_eq(st.refused_full, 0);
    close(s);
    close(cfd);
    for (int i = 0; i < 8; i++)
        close(flood[i]);
}
END_TEST

/* Reloaded timeouts apply to running timers; first_bytes_max cannot grow past the start value. */
START_TEST(reload_timeouts_and_limits)
{
    struct inline_config c;
    base_config(&c);
    c.first_bytes_timeout_ms = 10000;
    start(&c);
    uint8_t h[2048];
    hello(h, sizeof(h), "blocked.test");
    int cfd = client(NULL);
    send_all(cfd, h, 20);
    pump(50);
    ck_assert_uint_eq(stats().first_timeout, 0);
    struct inline_config r = c;
    r.first_bytes_timeout_ms = 100;
    char err[256] = "";
    ck_assert_int_eq(inline_reload(g_p, &r, err, sizeof(err)), 0);
    expect_reset(cfd, 2000); /* long before the 10 s it was armed with */
    ck_assert_uint_eq(stats().incomplete_reset, 1);
    r.first_bytes_max = c.first_bytes_max * 2;
    ck_assert_int_eq(inline_reload(g_p, &r, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "restart") != NULL, "%s", err);
    r.first_bytes_max = 512;
    r.idle_timeout_ms = 0;
    ck_assert_int_eq(inline_reload(g_p, &r, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "timeouts") != NULL, "%s", err);
    close(cfd);
}
END_TEST

START_TEST(config_rejected)
{
    struct inline_config c;
    char err[128] = "";
    rules();
    base_config(&c);
    c.workers = 0;
    ck_assert_ptr_null(inline_new(&c, g_ref, err, sizeof(err)));
    ck_assert_str_eq(err, "inline: workers out of range 1..64");
    base_config(&c);
    c.first_bytes_max = 100;
    ck_assert_ptr_null(inline_new(&c, g_ref, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "first_bytes_max"));
    ck_assert_ptr_null(inline_new(NULL, g_ref, err, sizeof(err)));
    rsref_free(g_ref);
    g_ref = NULL;
}
END_TEST

/* The listeners: IP_TRANSPARENT needs CAP_NET_ADMIN (root). A client connecting straight to
 * the TPROXY port is refused (relaying would loop back into the proxy). */
START_TEST(listener_refuses_loop)
{
    NEEDROOT("check_inline: the listener test");
    struct inline_config c;
    base_config(&c);
    c.tproxy_port = INLINE_PORT_ANY;
    c.redirect_port = INLINE_PORT_ANY;
    start(&c);
    unsigned port = inline_port(g_p, false);
    ck_assert_uint_ne(port, 0);
    ck_assert_uint_ne(inline_port(g_p, true), 0);
    ck_assert_uint_ne(inline_port(g_p, true), port);
    struct sockaddr_in a = g_srv_addr;
    a.sin_port = htons((uint16_t)port);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
    nonblock(cfd);
    expect_reset(cfd, 1000);
    ck_assert_uint_eq(stats().refused_loop, 1);
    close(cfd);
}
END_TEST

/* Out of file descriptors, the listener's pending connection cannot be accepted: the worker
 * pauses accepting instead of waking up for it in a busy loop, and resumes once descriptors
 * are free again. */
START_TEST(accept_pauses_on_emfile)
{
    if (geteuid() != 0) {
        const char *allow = getenv("QG_ALLOW_SKIP");
        if (allow && strcmp(allow, "1") == 0)
            return;
        ck_abort_msg("the listener test needs root (QG_ALLOW_SKIP=1 skips it)");
    }
    struct inline_config c;
    base_config(&c);
    c.tproxy_port = INLINE_PORT_ANY;
    start(&c);
    struct sockaddr_in a = g_srv_addr;
    a.sin_port = htons((uint16_t)inline_port(g_p, false));
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(cfd, 0);
    /* use up every descriptor (this test runs in its own process: a low limit first), then
     * connect (connect needs none) */
    struct rlimit rl = { 1024, 1024 };
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    static int held[65536];
    int nheld = 0;
    for (;;) {
        int fd = dup(cfd);
        if (fd < 0)
            break;
        ck_assert_int_lt(nheld, 65536);
        held[nheld++] = fd;
    }
    ck_assert_int_eq(errno, EMFILE);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
    unsigned loops = 0;
    uint64_t end = ms_now() + 300;
    while (ms_now() < end) {
        ck_assert_int_ge(inline_run_once(g_p, 0, 50), 0);
        loops++;
    }
    ck_assert_uint_ge(stats().accept_paused, 1);
    ck_assert_uint_lt(loops, 60); /* about one wake-up per pause, not a spin */
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    pump(300);
    ck_assert_uint_eq(stats().refused_loop, 1); /* accepted at last (and refused: it is a loop) */
    close(cfd);
}
END_TEST

/* A test case of the suite: each test gets a fresh proxy (torn down after) and 20 s. */
static TCase *add_case(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *inline_suite(void)
{
    Suite *s = suite_create("inline");
    TCase *v = add_case(s, "valid");
    tcase_add_test(v, tls_allowed_relayed_both_ways);
    tcase_add_test(v, tls_blocked_reset);
    tcase_add_test(v, tls_blocked_alert);
    tcase_add_test(v, http_blocked_redirect);
    tcase_add_test(v, http_blocked_451_url_entry);
    tcase_add_test(v, http_blocked_closed_at_once);
    tcase_add_test(v, http_blocked_unread_drained);
    tcase_add_test(v, http_keepalive_second_request_blocked);
    tcase_add_test(v, http_pipelined_second_blocked);
    tcase_add_test(v, http_body_skipped_next_judged);
    tcase_add_test(v, http_chunked_body_skipped_next_judged);
    tcase_add_test(v, ip_entry_blocks);
    TCase *t = add_case(s, "truncated");
    tcase_add_test(t, tls_split_hello_blocked);
    tcase_add_test(t, slow_first_request_judged);
    tcase_add_test(t, incomplete_first_request_reset);
    tcase_add_test(t, incomplete_first_request_address_policy);
    tcase_add_test(t, silent_client_connected_then_judged);
    tcase_add_test(v, relay_idle_timeout);
    tcase_add_test(v, h2c_later_stream_blocked);
    tcase_add_test(v, passed_connections_judged_again);
    tcase_add_test(v, passed_connections_tariff_recheck);
    tcase_add_test(v, passed_connections_walk_not_starved);
    tcase_add_test(v, relay_traffic_not_idle);
    TCase *m = add_case(s, "malformed");
    tcase_add_test(m, unknown_protocol_relayed);
    tcase_add_test(m, connect_refused_resets_client);
    TCase *l = add_case(s, "limits");
    tcase_add_test(l, unframed_head_refused);
    tcase_add_test(m, lenient_head_refused);
    tcase_add_test(l, max_connections_refused);
    tcase_add_test(l, per_source_limit);
    tcase_add_test(l, hello_name_past_cap_refused);
    tcase_add_loop_test(l, per_source_ipv6_prefix, 0, 2);
    tcase_add_test(l, pool_full_evicts_oldest_silent);
    tcase_add_test(l, reload_timeouts_and_limits);
    tcase_add_test(l, config_rejected);
    tcase_add_test(l, listener_refuses_loop);
    tcase_add_test(l, accept_pauses_on_emfile);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(inline_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
