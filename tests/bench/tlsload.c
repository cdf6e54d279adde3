/* tlsload.c - client load and probes for the inline benchmark (tests/bench/inline.sh).
 *
 *   tlsload hs    ADDR PORT NAMES N THREADS   N connections: full TLS handshake (SNI from the
 *                                             NAMES file, one per line, cycled) + GET /small
 *   tlsload get   ADDR PORT PATH N THREADS    N connections: handshake + GET PATH, read to EOF
 *   tlsload block ADDR PORT NAMES SECS CONC   for SECS seconds, CONC connections in flight, each
 *                                             sends one hand-built ClientHello and waits for the
 *                                             first answer (epoll, no crypto on the client)
 *   tlsload idle  ADDR PORT N SECS            N connections: handshake + GET /small kept alive,
 *                                             prints "ready", holds them SECS seconds (or until
 *                                             it is killed)
 *   tlsload probe KIND ADDR PORT NAME OTHER   one evasion probe (kinds below); prints the outcome
 *
 * Results are one line of "key=value" pairs on stdout. Built by tests/bench/inline.sh itself
 * (it needs libssl, which the Makefile's tool rule does not link).
 *
 * The hand-built ClientHello (TLS 1.3 only, X25519 key share of random bytes, which a real
 * OpenSSL server accepts and answers with a ServerHello):
 *
 *   record   16 03 01 len16
 *   hs       01 len24 | 03 03 | random[32] | 20 sid[32] | 00 06 13 01 13 02 13 03 | 01 00
 *            ext_len16 | server_name(0) | supported_groups(10) | signature_algorithms(13)
 *            | supported_versions(43) | psk_key_exchange_modes(45) | key_share(51)
 *   SNI ext  00 00 len16 | list_len16 | 00 name_len16 name
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_NAMES 200000
#define HELLO_MAX 1024

static char **g_names;
static size_t g_nnames;
static struct sockaddr_in g_addr;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long arg_ul(const char *s, const char *what)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "tlsload: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void set_addr(const char *ip, const char *port)
{
    memset(&g_addr, 0, sizeof(g_addr));
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)arg_ul(port, "port"));
    if (inet_pton(AF_INET, ip, &g_addr.sin_addr) != 1) {
        fprintf(stderr, "tlsload: bad IPv4 address '%s'\n", ip);
        exit(2);
    }
}

static void load_names(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (f == NULL) {
        fprintf(stderr, "tlsload: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    g_names = calloc(MAX_NAMES, sizeof(*g_names));
    if (g_names == NULL)
        exit(2);
    while (g_nnames < MAX_NAMES && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            g_names[g_nnames++] = strdup(line);
    }
    fclose(f);
    if (g_nnames == 0) {
        fprintf(stderr, "tlsload: %s: no names\n", path);
        exit(2);
    }
}

static int tcp_connect(int nonblock)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static void set_timeout(int fd, int secs)
{
    struct timeval tv = { secs, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void close_rst(int fd)
{
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

/* ---- hand-built ClientHello ---- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;

static uint8_t rnd8(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint8_t)(g_rng >> 24);
}

static size_t put16(uint8_t *p, size_t at, size_t v)
{
    p[at] = (uint8_t)(v >> 8);
    p[at + 1] = (uint8_t)v;
    return at + 2;
}

/* Writes the handshake message (no record header) for NAME into HS; returns its length and
 * the offset of the name inside it in *NAME_AT. */
static size_t hello_hs(uint8_t *hs, const char *name, size_t *name_at)
{
    static const uint8_t fixed_ext[] = {
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d,                         /* groups */
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, /* sigalgs */
        0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04,                               /* versions */
        0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,                                     /* psk modes */
    };
    size_t nlen = strlen(name);
    size_t at = 4;
    size_t ext_len_at;
    size_t i;

    hs[0] = 0x01;
    hs[at++] = 0x03;
    hs[at++] = 0x03;
    for (i = 0; i < 32; i++)
        hs[at++] = rnd8();
    hs[at++] = 32;
    for (i = 0; i < 32; i++)
        hs[at++] = rnd8();
    at = put16(hs, at, 6);
    hs[at++] = 0x13, hs[at++] = 0x01, hs[at++] = 0x13, hs[at++] = 0x02, hs[at++] = 0x13,
    hs[at++] = 0x03;
    hs[at++] = 1;
    hs[at++] = 0;
    ext_len_at = at;
    at += 2;
    at = put16(hs, at, 0);
    at = put16(hs, at, nlen + 5);
    at = put16(hs, at, nlen + 3);
    hs[at++] = 0;
    at = put16(hs, at, nlen);
    *name_at = at;
    memcpy(hs + at, name, nlen);
    at += nlen;
    memcpy(hs + at, fixed_ext, sizeof(fixed_ext));
    at += sizeof(fixed_ext);
    at = put16(hs, at, 51);
    at = put16(hs, at, 38);
    at = put16(hs, at, 36);
    at = put16(hs, at, 0x1d);
    at = put16(hs, at, 32);
    for (i = 0; i < 32; i++)
        hs[at++] = rnd8();
    put16(hs, ext_len_at, at - ext_len_at - 2);
    hs[1] = (uint8_t)((at - 4) >> 16);
    put16(hs, 2, at - 4);
    return at;
}

/* A full ClientHello in one record (SPLIT_REC == 0) or in two records cut inside the name.
 * Returns the length; *CUT is the byte offset inside the name (for a TCP split). */
static size_t build_hello(uint8_t *out, const char *name, int split_rec, size_t *cut)
{
    uint8_t hs[HELLO_MAX];
    size_t name_at;
    size_t n = hello_hs(hs, name, &name_at);
    size_t mid = name_at + strlen(name) / 2;

    if (!split_rec) {
        out[0] = 0x16, out[1] = 0x03, out[2] = 0x01;
        put16(out, 3, n);
        memcpy(out + 5, hs, n);
        *cut = 5 + mid;
        return n + 5;
    }
    out[0] = 0x16, out[1] = 0x03, out[2] = 0x01;
    put16(out, 3, mid);
    memcpy(out + 5, hs, mid);
    out[5 + mid] = 0x16, out[6 + mid] = 0x03, out[7 + mid] = 0x03;
    put16(out, 8 + mid, n - mid);
    memcpy(out + 10 + mid, hs + mid, n - mid);
    *cut = 5 + mid;
    return n + 10;
}

/* First answer on FD: serverhello | alert:N | reset | eof | timeout | other */
static const char *classify(int fd, char *buf, size_t cap)
{
    uint8_t b[64];
    ssize_t r = recv(fd, b, sizeof(b), 0);
    if (r < 0)
        return errno == ECONNRESET ? "reset" : (errno == EAGAIN ? "timeout" : "error");
    if (r == 0)
        return "eof";
    if (b[0] == 0x16)
        return "serverhello";
    if (b[0] == 0x15 && r >= 7) {
        snprintf(buf, cap, "alert:%u", b[6]);
        return buf;
    }
    return "other";
}

/* ---- TLS clients (OpenSSL) ---- */

struct job {
    SSL_CTX *ctx;
    const char *path;
    unsigned long total;
    unsigned long next; /* shared, under g_lock */
    unsigned long ok, fail;
    unsigned long long bytes;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* One connection: handshake with NAME, GET PATH (Connection: close), read to EOF.
 * Returns the bytes read, or -1. */
static long long tls_get(SSL_CTX *ctx, const char *name, const char *path, int keep, int *fd_out,
                         SSL **ssl_out)
{
    char req[512];
    char buf[65536];
    long long got = 0;
    int fd = tcp_connect(0);
    SSL *ssl;
    int n;

    if (fd < 0)
        return -1;
    set_timeout(fd, 10);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, name);
    if (SSL_connect(ssl) != 1)
        goto fail;
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n\r\n", path,
                 name, keep ? "keep-alive" : "close");
    if (SSL_write(ssl, req, n) != n)
        goto fail;
    if (keep) {
        /* /small answers in one record: the head and the short body */
        n = SSL_read(ssl, buf, sizeof(buf) - 1);
        if (n <= 0 || strncmp(buf, "HTTP/1.1 200", 12) != 0)
            goto fail;
        *fd_out = fd;
        *ssl_out = ssl;
        return n;
    }
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
        got += n;
    if (got < 12)
        goto fail;
    SSL_free(ssl);
    close(fd);
    return got;
fail:
    SSL_free(ssl);
    close_rst(fd);
    return -1;
}

static void *tls_worker(void *arg)
{
    struct job *j = arg;
    unsigned long ok = 0, fail = 0;
    unsigned long long bytes = 0;
    for (;;) {
        unsigned long i;
        long long r;
        pthread_mutex_lock(&g_lock);
        i = j->next < j->total ? j->next++ : j->total;
        pthread_mutex_unlock(&g_lock);
        if (i >= j->total)
            break;
        r = tls_get(j->ctx, j->path != NULL ? "allowed.test" : g_names[i % g_nnames],
                    j->path != NULL ? j->path : "/small", 0, NULL, NULL);
        if (r < 0) {
            fail++;
        } else {
            ok++;
            bytes += (unsigned long long)r;
        }
    }
    pthread_mutex_lock(&g_lock);
    j->ok += ok;
    j->fail += fail;
    j->bytes += bytes;
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static SSL_CTX *client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
        exit(2);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

static int run_tls(const char *path, unsigned long n, unsigned long threads)
{
    struct job j;
    pthread_t th[64];
    unsigned long i;
    double t0, dt;

    memset(&j, 0, sizeof(j));
    j.ctx = client_ctx();
    j.path = path;
    j.total = n;
    if (threads < 1 || threads > 64)
        threads = 4;
    t0 = now_s();
    for (i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, tls_worker, &j);
    for (i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    dt = now_s() - t0;
    printf("ok=%lu fail=%lu secs=%.3f rate=%.1f bytes=%llu mbps=%.1f\n", j.ok, j.fail, dt,
           (double)j.ok / dt, j.bytes, (double)j.bytes * 8 / dt / 1e6);
    SSL_CTX_free(j.ctx);
    return j.ok > 0 ? 0 : 1;
}

static int run_idle(unsigned long n, unsigned long secs)
{
    SSL_CTX *ctx = client_ctx();
    unsigned long i, ok = 0;

    for (i = 0; i < n; i++) {
        int fd;
        SSL *ssl;
        if (tls_get(ctx, "allowed.test", "/small", 1, &fd, &ssl) >= 0)
            ok++; /* kept open (fd and ssl) until the process exits */
    }
    printf("ready ok=%lu fail=%lu\n", ok, n - ok);
    fflush(stdout);
    sleep((unsigned)secs);
    return 0;
}

/* ---- blocked connections per second (epoll, hand-built hellos) ---- */

struct slot {
    int fd;
    int sent;
    double t0;
};

enum { O_RESET, O_EOF, O_ALERT, O_SERVERHELLO, O_TIMEOUT, O_REFUSED, O_OTHER, O_N };
static const char *const o_names[O_N] = { "reset",   "eof",     "alert", "serverhello",
                                          "timeout", "refused", "other" };

static int run_block(double secs, unsigned long conc)
{
    struct slot *s = calloc(conc, sizeof(*s));
    struct epoll_event ev[256];
    unsigned long counts[O_N] = { 0 };
    unsigned long next = 0, done = 0, i;
    int ep = epoll_create1(0);
    double t0 = now_s(), t, last_sweep = t0;
    int open_n = 0;
    uint8_t hello[HELLO_MAX];

    if (s == NULL || ep < 0)
        return 2;
    for (;;) {
        int n, k;
        t = now_s();
        for (i = 0; i < conc && t - t0 < secs; i++) {
            if (s[i].fd > 0)
                continue;
            s[i].fd = tcp_connect(1);
            if (s[i].fd < 0) {
                s[i].fd = 0;
                counts[O_REFUSED]++;
                continue;
            }
            s[i].sent = 0;
            s[i].t0 = t;
            ev[0].events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
            ev[0].data.u64 = i;
            epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev[0]);
            open_n++;
        }
        if (open_n == 0)
            break;
        n = epoll_wait(ep, ev, 256, 100);
        for (k = 0; k < n; k++) {
            struct slot *c = &s[ev[k].data.u64];
            int o = -1;
            if (c->fd <= 0)
                continue;
            if (!c->sent && (ev[k].events & EPOLLOUT)) {
                int err = 0;
                socklen_t el = sizeof(err);
                size_t cut;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err != 0) {
                    o = O_REFUSED;
                } else {
                    size_t len = build_hello(hello, g_names[next++ % g_nnames], 0, &cut);
                    struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP,
                                             .data.u64 = ev[k].data.u64 };
                    if (send(c->fd, hello, len, MSG_NOSIGNAL) != (ssize_t)len)
                        o = O_RESET;
                    c->sent = 1;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                }
            } else if (c->sent && (ev[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                char tmp[32];
                const char *r = classify(c->fd, tmp, sizeof(tmp));
                o = strcmp(r, "reset") == 0         ? O_RESET
                    : strcmp(r, "eof") == 0         ? O_EOF
                    : strncmp(r, "alert", 5) == 0   ? O_ALERT
                    : strcmp(r, "serverhello") == 0 ? O_SERVERHELLO
                    : strcmp(r, "timeout") == 0     ? -1
                                                    : O_OTHER;
            } else if (ev[k].events & (EPOLLHUP | EPOLLERR)) {
                o = O_REFUSED;
            }
            if (o >= 0) {
                counts[o]++;
                if (t - t0 < secs)
                    done++;
                close_rst(c->fd);
                c->fd = 0;
                open_n--;
            }
        }
        t = now_s();
        if (t - last_sweep > 0.5) {
            last_sweep = t;
            for (i = 0; i < conc; i++) {
                if (s[i].fd > 0 && t - s[i].t0 > 3.0) {
                    counts[O_TIMEOUT]++;
                    close_rst(s[i].fd);
                    s[i].fd = 0;
                    open_n--;
                }
            }
        }
    }
    printf("done=%lu secs=%.3f rate=%.1f", done, secs, (double)done / secs);
    for (i = 0; i < O_N; i++)
        printf(" %s=%lu", o_names[i], counts[i]);
    printf("\n");
    free(s);
    close(ep);
    return 0;
}

/* ---- probes ---- */

/* Reads one HTTP response head (and its Content-Length body); returns the status as text,
 * or reset/eof/timeout. */
static const char *http_status(int fd, char *out, size_t cap)
{
    char buf[8192];
    size_t have = 0;
    char *end;
    long clen = 0;
    const char *p;
    for (;;) {
        ssize_t r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (r < 0)
            return errno == ECONNRESET ? "reset" : "timeout";
        if (r == 0)
            return have == 0 ? "eof" : "short";
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL || have >= sizeof(buf) - 1)
            break;
    }
    if (end == NULL || strncmp(buf, "HTTP/1.", 7) != 0)
        return "other";
    p = strcasestr(buf, "\r\ncontent-length:");
    if (p != NULL && p < end)
        clen = strtol(p + 17, NULL, 10);
    /* consume the body so a second request's answer starts clean */
    {
        long body = (long)(have - (size_t)(end + 4 - buf));
        while (body < clen) {
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            if (r <= 0)
                break;
            body += r;
        }
    }
    snprintf(out, cap, "%.3s", buf + 9);
    return out;
}

static void mixed_case(char *d, const char *s, size_t cap)
{
    size_t i;
    for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
        d[i] = (char)((i % 2 == 0 && s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32 : s[i]);
    d[i] = '\0';
}

static int send_split(int fd, const char *buf, size_t len, size_t cut, int pause_ms)
{
    struct timespec ts = { 0, pause_ms * 1000000L };
    if (send(fd, buf, cut, MSG_NOSIGNAL) != (ssize_t)cut)
        return -1;
    nanosleep(&ts, NULL);
    return send(fd, buf + cut, len - cut, MSG_NOSIGNAL) == (ssize_t)(len - cut) ? 0 : -1;
}

/* probe KIND NAME OTHER: KIND is one of
 *   tls tls-split tls-bytes tls-tworec tls-dot tls-case (port 443; NAME in the SNI)
 *   http http-case http-ows http-dot http-port http-split http-abs http-keepalive (port 80;
 *   http-abs: request-target NAME, Host OTHER; http-keepalive: OTHER first, then NAME) */
static int run_probe(const char *kind, const char *name, const char *other)
{
    uint8_t hello[HELLO_MAX];
    char req[1024], nm[300], tmp[32];
    const char *res = "error";
    size_t len, cut, i;
    int fd = tcp_connect(0);

    if (fd < 0) {
        printf("refused\n");
        return 0;
    }
    set_timeout(fd, 5);
    if (strncmp(kind, "tls", 3) == 0) {
        snprintf(nm, sizeof(nm), "%s%s", name, strcmp(kind, "tls-dot") == 0 ? "." : "");
        if (strcmp(kind, "tls-case") == 0)
            mixed_case(nm, name, sizeof(nm));
        len = build_hello(hello, nm, strcmp(kind, "tls-tworec") == 0, &cut);
        if (strcmp(kind, "tls-split") == 0) {
            if (send_split(fd, (char *)hello, len, cut, 200) < 0)
                goto out_reset;
        } else if (strcmp(kind, "tls-bytes") == 0) {
            struct timespec ts = { 0, 1000000L };
            for (i = 0; i < len; i++) {
                if (send(fd, hello + i, 1, MSG_NOSIGNAL) != 1)
                    goto out_reset;
                nanosleep(&ts, NULL);
            }
        } else if (send(fd, hello, len, MSG_NOSIGNAL) != (ssize_t)len) {
            goto out_reset;
        }
        res = classify(fd, tmp, sizeof(tmp));
        goto out;
    }
    if (strcmp(kind, "http-keepalive") == 0) {
        int n = snprintf(req, sizeof(req), "GET /small HTTP/1.1\r\nHost: %s\r\n\r\n", other);
        if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
            goto out_reset;
        res = http_status(fd, tmp, sizeof(tmp));
        if (strcmp(res, "200") != 0) {
            printf("first:%s\n", res);
            close_rst(fd);
            return 0;
        }
    }
    if (strcmp(kind, "http-case") == 0)
        mixed_case(nm, name, sizeof(nm));
    else
        snprintf(nm, sizeof(nm), "%s", name);
    if (strcmp(kind, "http-ows") == 0)
        len = (size_t)snprintf(req, sizeof(req), "GET /small HTTP/1.1\r\nhOsT:%s  \r\n\r\n", nm);
    else if (strcmp(kind, "http-dot") == 0)
        len = (size_t)snprintf(req, sizeof(req), "GET /small HTTP/1.1\r\nHost: %s.\r\n\r\n", nm);
    else if (strcmp(kind, "http-port") == 0)
        len = (size_t)snprintf(req, sizeof(req), "GET /small HTTP/1.1\r\nHost: %s:80\r\n\r\n", nm);
    else if (strcmp(kind, "http-abs") == 0)
        len = (size_t)snprintf(req, sizeof(req), "GET http://%s/small HTTP/1.1\r\nHost: %s\r\n\r\n",
                               nm, other);
    else
        len = (size_t)snprintf(req, sizeof(req), "GET /small HTTP/1.1\r\nHost: %s\r\n\r\n", nm);
    if (strcmp(kind, "http-split") == 0) {
        cut = (size_t)(strstr(req, "Host: ") - req) + 6 + strlen(nm) / 2;
        if (send_split(fd, req, len, cut, 200) < 0)
            goto out_reset;
    } else if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        goto out_reset;
    }
    res = http_status(fd, tmp, sizeof(tmp));
    goto out;
out_reset:
    res = "reset";
out:
    printf("%s\n", res);
    close_rst(fd);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: tlsload hs ADDR PORT NAMES N THREADS | get ADDR PORT PATH N THREADS |\n"
                    "       block ADDR PORT NAMES SECS CONC | idle ADDR PORT N SECS | probe KIND "
                    "ADDR PORT NAME OTHER\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        usage();
    if (strcmp(argv[1], "probe") == 0 && argc == 7) {
        set_addr(argv[3], argv[4]);
        return run_probe(argv[2], argv[5], argv[6]);
    }
    set_addr(argv[2], argv[3]);
    if (strcmp(argv[1], "hs") == 0 && argc == 7) {
        load_names(argv[4]);
        return run_tls(NULL, arg_ul(argv[5], "N"), arg_ul(argv[6], "THREADS"));
    }
    if (strcmp(argv[1], "get") == 0 && argc == 7)
        return run_tls(argv[4], arg_ul(argv[5], "N"), arg_ul(argv[6], "THREADS"));
    if (strcmp(argv[1], "block") == 0 && argc == 7) {
        load_names(argv[4]);
        return run_block((double)arg_ul(argv[5], "SECS"), arg_ul(argv[6], "CONC"));
    }
    if (strcmp(argv[1], "idle") == 0 && argc == 6)
        return run_idle(arg_ul(argv[4], "N"), arg_ul(argv[5], "SECS"));
    usage();
    return 2;
}
