/* verify.c - `qorgau verify ORDER_ID`: the probes of an order's resources over real sockets,
 * the report and the exit status (see verify.h, docs/verify.md). */
#include "proxy/daemon/verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/jsonw.h"
#include "proxy/daemon/orders_cli.h"
#include "proxy/daemon/settings.h"
#include "rules/orders/order.h"
#include "rules/store/store.h"

#define ANSWER_MAX 16384

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- report ------------------------------------------------------------------------------ */

void verify_write_json(FILE *f, const struct verify_report *rep)
{
    fputs("{\"order\":", f);
    jsonw_cstr(f, rep->order);
    fprintf(f, ",\"time_ms\":%" PRIu64 ",\"via\":", rep->time_ms);
    jsonw_cstr(f, rep->via);
    fputs(",\"results\":[", f);
    for (size_t i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        fputs(i ? ",{\"resource\":" : "{\"resource\":", f);
        jsonw_cstr(f, r->resource);
        fputs(",\"probe\":", f);
        jsonw_cstr(f, r->probe);
        fputs(",\"target\":", f);
        jsonw_cstr(f, r->target);
        fprintf(f, ",\"blocked\":%s,\"how\":\"%s\",\"detail\":",
                r->v.outcome == PROBE_BLOCKED ? "true" : "false", probe_how_name(r->v.how));
        jsonw_cstr(f, r->v.detail);
        fprintf(f, ",\"time_ms\":%" PRIu64 ",\"elapsed_ms\":%" PRIu64 "}", r->time_ms,
                r->elapsed_ms);
    }
    fputs("]}\n", f);
}

static const char *outcome_name(enum probe_outcome o)
{
    return o == PROBE_BLOCKED ? "blocked" : o == PROBE_OPEN ? "NOT BLOCKED" : "inconclusive";
}

void verify_write_text(FILE *f, const struct verify_report *rep)
{
    char t[32];
    order_time_format((int64_t)(rep->time_ms / 1000), t);
    fprintf(f, "order %s at %s via %s\n", rep->order, t, rep->via ? rep->via : "(resolved)");
    fprintf(f, "%-32s %-5s %-28s %-12s %-9s %7s  %s\n", "RESOURCE", "PROBE", "TARGET", "RESULT",
            "HOW", "MS", "DETAIL");
    for (size_t i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        fprintf(f, "%-32s %-5s %-28s %-12s %-9s %7" PRIu64 "  %s\n", r->resource, r->probe,
                r->target, outcome_name(r->v.outcome), probe_how_name(r->v.how), r->elapsed_ms,
                r->v.detail);
    }
}

int verify_status(const struct verify_report *rep, FILE *err)
{
    size_t open = 0, blocked = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        if (r->v.outcome == PROBE_BLOCKED) {
            blocked++;
        } else if (r->v.outcome == PROBE_OPEN) {
            open++;
            fprintf(err,
                    "qorgau: verify: alarm: order %s: resource %s is not blocked: %s probe to %s "
                    "%s (%s)\n",
                    rep->order, r->resource, r->probe, r->target, probe_how_name(r->v.how),
                    r->v.detail);
        }
    }
    if (open)
        return 1;
    return rep->n > 0 && blocked == rep->n ? 0 : VERIFY_NOTHING;
}

/* ---- sockets ----------------------------------------------------------------------------- */

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

static void addr_port(struct addr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

static void addr_text(const struct addr *a, uint16_t port, char *out, size_t cap)
{
    char h[INET6_ADDRSTRLEN];
    if (a->ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, h, sizeof(h));
        snprintf(out, cap, "[%s]:%u", h, port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, h, sizeof(h));
        snprintf(out, cap, "%s:%u", h, port);
    }
}

/* Resolves host (a name or a literal) to its first address. Returns 0 or -1 with err. */
static int resolve(const char *host, struct addr *a, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memset(a, 0, sizeof(*a));
    memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    uint64_t now = clock_mono_ms();
    if (now >= deadline)
        return 0;
    struct pollfd p = { fd, ev, 0 };
    int rc;
    do
        rc = poll(&p, 1, (int)(deadline - now));
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* The event a socket error stands for; false when it means "could not send". */
static bool error_event(int e, enum probe_event *ev)
{
    if (e == ECONNRESET || e == EPIPE) {
        *ev = PROBE_EV_RESET;
        return true;
    }
    if (e == ECONNREFUSED) {
        *ev = PROBE_EV_REFUSED;
        return true;
    }
    if (e == ETIMEDOUT) {
        *ev = PROBE_EV_TIMEOUT;
        return true;
    }
    return false;
}

static void probe_error(struct probe_verdict *v, const char *what, int e)
{
    probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR, "%s: %s", what, strerror(e));
}

/* Opens a non-blocking socket of type to a and starts connecting. Returns the descriptor
 * (*refused set when the connection was refused at once), or -1 with v filled: the probe
 * could not be sent. */
static int open_connect(const struct addr *a, int type, bool *refused, struct probe_verdict *v)
{
    *refused = false;
    int fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        probe_error(v, "socket", errno);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 || errno == EINPROGRESS)
        return fd;
    int e = errno;
    if (e == ECONNREFUSED) {
        *refused = true;
        return fd;
    }
    probe_error(v, "connect", e);
    close(fd);
    return -1;
}

/* Connects to a (TCP), sends req, reads the answer until it decides, and classifies it. */
static void tcp_probe(const struct addr *a, const uint8_t *req, size_t reqlen, enum probe_wire wire,
                      uint32_t timeout_ms, const struct probe_expect *x, struct probe_verdict *v)
{
    uint64_t deadline = clock_mono_ms() + timeout_ms;
    uint8_t buf[ANSWER_MAX];
    size_t len = 0;
    enum probe_event ev = PROBE_EV_TIMEOUT;
    bool refused;
    int fd = open_connect(a, SOCK_STREAM, &refused, v);
    if (fd < 0)
        return;
    int e = 0;
    const char *what = "connect";
    if (refused) {
        ev = PROBE_EV_REFUSED;
        goto judge;
    }
    if (wait_fd(fd, POLLOUT, deadline) <= 0)
        goto judge; /* connect timed out */
    socklen_t el = sizeof(e);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
    if (e)
        goto failed;
    what = "send";
    for (size_t sent = 0; sent < reqlen;) {
        ssize_t n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) <= 0)
                goto judge;
        } else if (n < 0 && errno != EINTR) {
            e = errno;
            goto failed;
        }
    }
    what = "recv";
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) <= 0) {
            ev = PROBE_EV_TIMEOUT;
            break;
        }
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n == 0) {
            ev = PROBE_EV_EOF;
            break;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            e = errno;
            goto failed;
        }
        if (n > 0)
            len += (size_t)n;
        if (probe_answer_complete(wire, buf, len) || len == sizeof(buf)) {
            ev = PROBE_EV_DATA;
            break;
        }
    }
    goto judge;
failed:
    if (!error_event(e, &ev)) {
        probe_error(v, what, e);
        close(fd);
        return;
    }
judge:
    probe_classify(wire, buf, len, ev, x, v);
    close(fd);
}

/* Sends the two Initials to a (UDP) and waits for the first datagram back. An ICMP port
 * unreachable does not end the wait (a filter's injected answer may come after it, as a
 * client's QUIC stack would also wait); it is the result only when no datagram came. */
static void quic_probe(const struct addr *a, const struct probe_quic *q, uint32_t timeout_ms,
                       const struct probe_expect *x, struct probe_verdict *v)
{
    uint64_t deadline = clock_mono_ms() + timeout_ms;
    uint8_t buf[2048];
    ssize_t n = 0;
    enum probe_event ev = PROBE_EV_TIMEOUT;
    bool icmp;
    int fd = open_connect(a, SOCK_DGRAM, &icmp, v);
    if (fd < 0)
        return;
    for (size_t i = 0, tries = 0; i < 2 && tries < 4; tries++) {
        if (send(fd, q->dgram[i], q->len[i], 0) >= 0) {
            i++;
        } else if (errno == ECONNREFUSED) {
            icmp = true; /* the first datagram's error, reported on this send: send again */
        } else {
            probe_error(v, "send", errno);
            close(fd);
            return;
        }
    }
    while (wait_fd(fd, POLLIN, deadline) > 0) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            ev = PROBE_EV_DATA;
            break;
        }
        if (n < 0 && errno == ECONNREFUSED)
            icmp = true;
        n = 0;
    }
    if (ev != PROBE_EV_DATA && icmp)
        ev = PROBE_EV_REFUSED;
    probe_classify(PROBE_WIRE_QUIC, buf, (size_t)n, ev, x, v);
    close(fd);
}

/* ---- the order's resources --------------------------------------------------------------- */

struct run {
    const char *via;
    struct addr via_addr;
    uint32_t timeout_ms;
    const char *notice_url;
    bool quic_dropped;
    bool https_url_ignore;
    struct quic_ctx *ctx;
    struct verify_result *r;
    size_t n, cap;
};

static struct verify_result *add_result(struct run *run, const char *resource, const char *probe)
{
    if (run->n == run->cap) {
        size_t nc = run->cap ? run->cap * 2 : 16;
        struct verify_result *t = realloc(run->r, nc * sizeof(*t));
        if (!t)
            return NULL;
        run->r = t;
        run->cap = nc;
    }
    struct verify_result *r = &run->r[run->n++];
    memset(r, 0, sizeof(*r));
    r->resource = resource;
    r->probe = probe;
    r->time_ms = now_ms();
    return r;
}

/* Fills r from the kernel's random source. Returns false when it fails. */
static bool fill_rand(struct probe_rand *r)
{
    uint8_t *p = (uint8_t *)r;
    size_t left = sizeof(*r);
    while (left > 0) {
        ssize_t n = getrandom(p, left, 0);
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0) {
            p += n;
            left -= (size_t)n;
        }
    }
    return true;
}

enum what { W_HTTP = 1, W_TLS = 2, W_QUIC = 4 };

/* Probes host (name or literal) with the probes in `what`; path for HTTP. ip: an IP resource
 * (probes named "tcp", no name sent, never redirected through --via). */
static int probe_host(struct run *run, const char *resource, const char *host, const char *path,
                      unsigned what, bool ip)
{
    struct addr a;
    char err[256] = "";
    int have = 0;
    if (run->via && !ip) {
        a = run->via_addr;
        have = 1;
    } else {
        have = resolve(host, &a, err, sizeof(err)) == 0;
    }
    struct probe_expect x = { host, run->notice_url, run->quic_dropped, run->ctx, NULL, 0 };
    static const struct {
        unsigned bit;
        const char *name, *ipname;
        uint16_t port;
    } kinds[] = { { W_HTTP, "http", "tcp", 80 },
                  { W_TLS, "tls", "tcp", 443 },
                  { W_QUIC, "quic", "quic", 443 } };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (!(what & kinds[k].bit))
            continue;
        struct verify_result *r = add_result(run, resource, ip ? kinds[k].ipname : kinds[k].name);
        if (!r)
            return -ENOMEM;
        uint64_t t0 = clock_mono_ms();
        if (!have) {
            snprintf(r->target, sizeof(r->target), "%s:%u", host, kinds[k].port);
            probe_verdict_set(&r->v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR, "%.*s",
                              PROBE_DETAIL_MAX - 1, err);
            continue;
        }
        addr_port(&a, kinds[k].port);
        addr_text(&a, kinds[k].port, r->target, sizeof(r->target));
        struct probe_rand rnd;
        if (!fill_rand(&rnd)) {
            probe_verdict_set(&r->v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR, "no random bytes: %s",
                              strerror(errno));
        } else if (kinds[k].bit == W_HTTP) {
            char req[PROBE_REQUEST_MAX];
            size_t n = probe_http_request(host, path, req, sizeof(req));
            if (n == 0) {
                probe_verdict_set(&r->v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR,
                                  "cannot write a request for it");
            } else {
                tcp_probe(&a, (const uint8_t *)req, n, PROBE_WIRE_HTTP, run->timeout_ms, &x, &r->v);
            }
        } else if (kinds[k].bit == W_TLS) {
            uint8_t hello[PROBE_HELLO_MAX];
            size_t n = probe_tls_hello(ip ? NULL : host, &rnd, hello, sizeof(hello));
            if (n == 0) {
                probe_verdict_set(&r->v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR,
                                  "cannot write a ClientHello for it");
            } else {
                tcp_probe(&a, hello, n, PROBE_WIRE_TLS, run->timeout_ms, &x, &r->v);
            }
        } else {
            struct probe_quic q;
            int rc = probe_quic_initials(run->ctx, host, &rnd, &q);
            if (rc < 0) {
                probe_verdict_set(&r->v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR,
                                  "cannot build the Initials: %s", strerror(-rc));
            } else {
                x.dcid = rnd.dcid;
                x.dcid_len = sizeof(rnd.dcid);
                quic_probe(&a, &q, run->timeout_ms, &x, &r->v);
            }
        }
        r->elapsed_ms = clock_mono_ms() - t0;
    }
    return 0;
}

/* An IP resource ("a.b.c.d", "a.b.c.d/n", IPv6 likewise): the first host address of it. */
static int ip_host(const char *norm, char *out, size_t cap)
{
    char buf[64];
    const char *slash = strchr(norm, '/');
    size_t hl = slash ? (size_t)(slash - norm) : strlen(norm);
    if (hl >= sizeof(buf) || hl + 1 > cap)
        return -EINVAL;
    memcpy(buf, norm, hl);
    buf[hl] = '\0';
    long plen = slash ? strtol(slash + 1, NULL, 10) : -1;
    uint8_t b[16];
    if (inet_pton(AF_INET, buf, b) == 1) {
        if (plen >= 0 && plen < 31)
            b[3] = (uint8_t)(b[3] | 1);
        return inet_ntop(AF_INET, b, out, (socklen_t)cap) ? 0 : -EINVAL;
    }
    if (inet_pton(AF_INET6, buf, b) == 1) {
        if (plen >= 0 && plen < 127)
            b[15] = (uint8_t)(b[15] | 1);
        return inet_ntop(AF_INET6, b, out, (socklen_t)cap) ? 0 : -EINVAL;
    }
    return -EINVAL;
}

static int probe_resource(struct run *run, const struct order_resource *res)
{
    const char *norm = res->norm;
    char host[RULESET_TEXT_MAX];
    char path[RULESET_TEXT_MAX];
    switch (res->kind) {
    case RULE_DOMAIN:
        /* a mask "*.name" covers the name's subdomains: the name itself is probed */
        if (strncmp(norm, "*.", 2) == 0)
            norm += 2;
        return probe_host(run, res->norm, norm, "/", W_HTTP | W_TLS | W_QUIC, false);
    case RULE_IP:
        if (ip_host(norm, host, sizeof(host)) < 0) {
            struct verify_result *r = add_result(run, res->norm, "tcp");
            if (!r)
                return -ENOMEM;
            snprintf(r->target, sizeof(r->target), "%.*s", (int)sizeof(r->target) - 1, norm);
            probe_verdict_set(&r->v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR, "not an address");
            return 0;
        }
        return probe_host(run, res->norm, host, "/", W_HTTP | W_TLS, true);
    case RULE_URL: {
        bool https = strncmp(norm, "https://", 8) == 0;
        const char *p = norm + (https ? 8 : strncmp(norm, "http://", 7) == 0 ? 7 : 0);
        const char *slash = strchr(p, '/');
        size_t hl = slash ? (size_t)(slash - p) : strlen(p);
        if (hl >= sizeof(host))
            hl = sizeof(host) - 1;
        memcpy(host, p, hl);
        host[hl] = '\0';
        if (host[0] == '[') { /* an IPv6 literal keeps its brackets in URL entries */
            memmove(host, host + 1, hl);
            char *rb = strchr(host, ']');
            if (rb)
                *rb = '\0';
        }
        snprintf(path, sizeof(path), "%s", slash ? slash : "/");
        size_t pl = strlen(path);
        if (pl >= 2 && path[pl - 1] == '*' && path[pl - 2] == '/')
            path[pl - 1] = '\0'; /* a prefix entry (path ending in slash-star): its directory */
        /* http:// entries are seen in HTTP only; https:// ones in TLS and QUIC by their name
         * (https_url = name), and in HTTP like any URL */
        unsigned what = W_HTTP;
        bool literal = strchr(host, ':') || strspn(host, "0123456789.") == strlen(host);
        if (https && !run->https_url_ignore)
            what |= literal ? W_TLS : W_TLS | W_QUIC;
        return probe_host(run, res->norm, host, path, what, false);
    }
    }
    return 0;
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: qorgau verify [-c CONFIG] [--store URL] ORDER_ID [--via ADDR] [--timeout D]\n"
          "                     [--format json|text] [--out FILE]\n",
          f);
}

/* "3s", "500ms", "2" (seconds), "1.5s". Returns ms or 0 when invalid. */
static uint32_t parse_duration(const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return 0;
    double ms;
    if (*end == '\0' || strcmp(end, "s") == 0)
        ms = v * 1000;
    else if (strcmp(end, "ms") == 0)
        ms = v;
    else
        return 0;
    if (ms < 1 || ms > 600000)
        return 0;
    return (uint32_t)ms;
}

static int get_cb(void *ctx, const struct store_order *o)
{
    struct store_order *out = ctx;
    out->state = o->state;
    if (!o->record)
        return 0;
    char *copy = malloc(o->record_len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, o->record, o->record_len);
    copy[o->record_len] = '\0';
    out->record = copy;
    out->record_len = o->record_len;
    return 0;
}

/* The order's record from the store. Returns it or NULL (message printed). */
static struct order *load_order(const char *url, const struct settings *cfg, const char *id)
{
    struct store *s = orders_cli_store_open(url, cfg);
    if (!s)
        return NULL;
    struct store_order so;
    memset(&so, 0, sizeof(so));
    char err[1024];
    int rc = store_get(s, id, get_cb, &so, err, sizeof(err));
    store_free(s);
    if (rc < 0) {
        fprintf(stderr, "qorgau: verify: %s\n", rc == -ENOMEM ? "out of memory" : err);
        free((char *)so.record);
        return NULL;
    }
    if (!so.record) {
        fprintf(stderr, "qorgau: verify: order %s: the store has no record of it\n", id);
        return NULL;
    }
    struct order *o = order_from_json(so.record, so.record_len, err, sizeof(err));
    free((char *)so.record);
    if (!o)
        fprintf(stderr, "qorgau: verify: order %s: unreadable record: %s\n", id, err);
    else if (so.state == STORE_REVOKED)
        fprintf(stderr,
                "qorgau: verify: order %s is revoked: its resources are probed all the "
                "same\n",
                id);
    return o;
}

/* The result as the store's "verify" document of the order, which `qorgau report` reads
 * (docs/reports.md). Returns 0, or -1 with the reason printed. */
static int save_result(const char *url, const struct settings *cfg, const struct verify_report *rep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fprintf(stderr, "qorgau: verify: the result is not stored: out of memory\n");
        return -1;
    }
    verify_write_json(m, rep);
    if (fclose(m) != 0 || !buf) {
        free(buf);
        fprintf(stderr, "qorgau: verify: the result is not stored: out of memory\n");
        return -1;
    }
    struct store *s = orders_cli_store_open(url, cfg);
    int rc = -1;
    if (s) {
        char err[1024];
        rc = store_doc_put(s, "verify", rep->order, buf, len, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "qorgau: verify: the result is not stored: %s\n", err);
        store_free(s);
    }
    free(buf);
    return rc < 0 ? -1 : 0;
}

int verify_cli(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "store", required_argument, NULL, 's' },
        { "via", required_argument, NULL, 'v' },    { "timeout", required_argument, NULL, 't' },
        { "format", required_argument, NULL, 'f' }, { "out", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *store_url = NULL, *out_path = NULL;
    struct run run;
    memset(&run, 0, sizeof(run));
    run.timeout_ms = 3000;
    bool text = false;
    optind = 1;
    int o;
    /* options may follow ORDER_ID */
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config = optarg; break;
        case 's': store_url = optarg; break;
        case 'v': run.via = optarg; break;
        case 't':
            run.timeout_ms = parse_duration(optarg);
            if (!run.timeout_ms) {
                fprintf(stderr, "qorgau: verify: --timeout %s: want a duration (3s, 500ms)\n",
                        optarg);
                return VERIFY_USAGE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0) {
                text = true;
            } else if (strcmp(optarg, "json") != 0) {
                fprintf(stderr, "qorgau: verify: --format %s: json or text\n", optarg);
                return VERIFY_USAGE;
            }
            break;
        case 'o': out_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return VERIFY_USAGE;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return VERIFY_USAGE;
    }
    const char *id = argv[optind];
    if (!store_id_valid(id, strlen(id))) {
        fprintf(stderr, "qorgau: verify: '%s' is not an order id\n", id);
        return VERIFY_USAGE;
    }
    if (run.via) {
        char err[256];
        if (resolve(run.via, &run.via_addr, err, sizeof(err)) < 0) {
            fprintf(stderr, "qorgau: verify: --via: %s\n", err);
            return VERIFY_USAGE;
        }
    }
    struct settings *cfg = NULL;
    if (config) {
        char err[1024];
        cfg = settings_load_file(config, err, sizeof(err));
        if (!cfg) {
            fprintf(stderr, "qorgau: %s\n", err);
            return VERIFY_NOTHING;
        }
        run.notice_url = cfg->notice_url;
        run.quic_dropped =
            cfg->mode == SETTINGS_MODE_INLINE && cfg->inline_quic != SETTINGS_QUIC_PASS;
        run.https_url_ignore = cfg->https_url == SETTINGS_HTTPS_URL_IGNORE;
    }
    int ret = VERIFY_NOTHING;
    struct order *ord = load_order(store_url, cfg, id);
    run.ctx = quic_ctx_new();
    if (!ord || !run.ctx) {
        if (ord)
            fprintf(stderr, "qorgau: verify: out of memory\n");
        goto out;
    }
    struct verify_report rep = { ord->id, now_ms(), run.via, NULL, 0 };
    for (size_t i = 0; i < ord->nres; i++)
        if (probe_resource(&run, &ord->res[i]) < 0) {
            fprintf(stderr, "qorgau: verify: out of memory\n");
            goto out;
        }
    rep.r = run.r;
    rep.n = run.n;
    if (rep.n == 0)
        fprintf(stderr, "qorgau: verify: order %s has no resources to probe\n", ord->id);
    if (text)
        verify_write_text(stdout, &rep);
    else
        verify_write_json(stdout, &rep);
    fflush(stdout);
    ret = verify_status(&rep, stderr);
    if (save_result(store_url, cfg, &rep) < 0 && ret == 0)
        ret = VERIFY_NOTHING;
    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (!f) {
            fprintf(stderr, "qorgau: verify: %s: %s\n", out_path, strerror(errno));
            ret = ret == 0 ? VERIFY_NOTHING : ret;
        } else {
            verify_write_json(f, &rep);
            if (fclose(f) != 0) {
                fprintf(stderr, "qorgau: verify: %s: write failed\n", out_path);
                ret = ret == 0 ? VERIFY_NOTHING : ret;
            }
        }
    }
out:
    free(run.r);
    quic_ctx_free(run.ctx);
    order_free(ord);
    settings_free(cfg);
    return ret;
}
