/* notice_server.c - the notice page server on libmicrohttpd (see notice_server.h).
 *
 * libmicrohttpd runs in its internal thread on poll() (see inst_start for why not epoll).
 * One "instance" is one MHD daemon with its listener, its connection slots and the idle sweeper
 * thread; a reload that changes the listener or the limits starts a new instance and stops the
 * old one. The page text lives apart, in an immutable record published by one atomic pointer
 * (older records stay allocated until the server is freed, so the library's thread never reads
 * a freed one; reloads are rare and each record is a few hundred bytes).
 *
 * Per request: MHD calls uri_cb with the raw request-target (before its own unescaping), which
 * notice_parse_target reads into the connection's slot; then page_cb answers from that slot.
 * Slots are allocated with the instance (one per allowed connection, each with its page buffer),
 * so a request allocates nothing of ours; the library allocates its response objects. */
#include "proxy/daemon/notice_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "proxy/daemon/mhdlib.h"

#define DEF_MAX_CONN   256u
#define DEF_IDLE_MS    10000u
#define DEF_MAX_REQ    8192u
#define LISTEN_BACKLOG 1024
/* MHD's per-connection pool holds the request head and the response head; the latter needs
 * well under this much (the page body is ours, not in the pool). */
#define POOL_EXTRA            2048u
#define SWEEP_MAX_MS          100u /* the sweeper looks at least this often */
#define ERROR_SAMPLES_PER_MIN 10u  /* library error reports written to the log */
#define ADDR_TEXT_MAX         64

static const struct mhdlib *mhd; /* set by inst_start() before any server runs */

/* ---------------------------------------------------------------- page settings */

struct page {
    struct page *older;
    struct notice_config cfg; /* strings point into the fields below */
    char url[NOTICE_URL_MAX + 1];
    char contact[NOTICE_CONTACT_MAX + 1];
    char contact_url[NOTICE_CONTACT_MAX + 1];
};

/* ---------------------------------------------------------------- instance */

struct slot {
    bool used;
    bool swept;  /* closed by the sweeper: counted once */
    bool called; /* page_cb saw this request once (it answers on the second call) */
    int fd;
    uint64_t deadline;         /* CLOCK_MONOTONIC ms */
    struct notice_request req; /* filled by uri_cb */
    char body[NOTICE_RESPONSE_MAX];
};

struct inst {
    struct notice_server *s;
    struct MHD_Daemon *d;
    int lfd;
    unsigned port;
    char listen[ADDR_TEXT_MAX];
    unsigned max_conn, max_req;
    _Atomic unsigned idle_ms;
    pthread_mutex_t mu; /* slots, n_open, stop */
    pthread_cond_t cv;
    pthread_t sweeper;
    bool sweeper_started, stop;
    struct slot *slots;
    unsigned *free_slots; /* a stack of indices into slots: n_free of them */
    unsigned n_free;
    unsigned n_open;
};

struct notice_server {
    struct log *log;
    struct inst *in; /* written by the owner thread only */
    _Atomic(struct page *) page;
    _Atomic int state;
    struct {
        _Atomic uint64_t accepted, refused, closed_idle, requests, status_200, status_404,
            status_405, bad_order, errors, reloads, reload_failures;
    } c;
    pthread_mutex_t log_mu; /* error sampling */
    uint64_t log_window;
    unsigned log_in_window;
    char last_error[256];
};

#define INC(s, f) atomic_fetch_add_explicit(&(s)->c.f, 1, memory_order_relaxed)

/* ---------------------------------------------------------------- library errors */

/* MHD's error reports: every one counted, ERROR_SAMPLES_PER_MIN a minute written, the last one
 * kept for a start-up message. Called from the library's thread and from the owner's. */
static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    struct notice_server *s = cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    INC(s, errors);
    pthread_mutex_lock(&s->log_mu);
    memcpy(s->last_error, msg, n + 1);
    uint64_t win = clock_mono_ms() / 60000u;
    if (win != s->log_window) {
        s->log_window = win;
        s->log_in_window = 0;
    }
    bool write = s->log_in_window++ < ERROR_SAMPLES_PER_MIN;
    pthread_mutex_unlock(&s->log_mu);
    if (!write)
        return;
    if (s->log)
        log_write(s->log, LOG_LEVEL_WARN, "notice", "libmicrohttpd", LOG_KV(LOG_S("error", msg)));
    else
        fprintf(stderr, "notice: libmicrohttpd: %s\n", msg);
}

/* ---------------------------------------------------------------- connections */

static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr, (void)addrlen;
    struct inst *in = cls;
    pthread_mutex_lock(&in->mu);
    bool ok = in->n_open < in->max_conn;
    pthread_mutex_unlock(&in->mu);
    if (!ok)
        INC(in->s, refused);
    return ok ? MHD_YES : MHD_NO;
}

static void conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    struct inst *in = cls;
    pthread_mutex_lock(&in->mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct slot *k = in->n_free ? &in->slots[in->free_slots[--in->n_free]] : NULL;
        if (k) {
            const union MHD_ConnectionInfo *ci =
                mhd->get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            k->used = true;
            k->swept = false;
            k->fd = ci ? ci->connect_fd : -1;
            k->deadline =
                clock_mono_ms() + atomic_load_explicit(&in->idle_ms, memory_order_relaxed);
            k->req.page = false;
            in->n_open++;
            INC(in->s, accepted);
        }
        *socket_context = k;
        pthread_cond_signal(&in->cv); /* the sweeper may be waiting without a deadline */
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct slot *k = *socket_context;
        if (k) {
            k->used = false;
            k->fd = -1;
            in->free_slots[in->n_free++] = (unsigned)(k - in->slots);
            in->n_open--;
        }
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&in->mu);
}

static struct slot *slot_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        mhd->get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The raw request-target, once per request, before MHD unescapes it in place. */
static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    struct slot *k = slot_of(c);
    if (k) {
        notice_parse_target(uri, strlen(uri), &k->req);
        k->called = false;
    }
    return k;
}

/* A request completed (or failed): the idle deadline starts again. */
static void done_cb(void *cls, struct MHD_Connection *c, void **req_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)c, (void)toe;
    struct inst *in = cls;
    struct slot *k = *req_cls;
    if (!k)
        return;
    pthread_mutex_lock(&in->mu);
    if (k->used)
        k->deadline = clock_mono_ms() + atomic_load_explicit(&in->idle_ms, memory_order_relaxed);
    pthread_mutex_unlock(&in->mu);
}

/* Closes connections past their deadline. shutdown(), not close(): MHD sees the end of the
 * stream and closes the socket itself; the slot lock keeps the descriptor from being closed
 * and reused meanwhile (MHD reports CLOSED, which takes the lock, before it closes). */
static void *sweeper_main(void *arg)
{
    struct inst *in = arg;
    pthread_mutex_lock(&in->mu);
    while (!in->stop) {
        uint64_t now = clock_mono_ms(), next = now + SWEEP_MAX_MS;
        /* (no connection open: no slot to walk, each a cache line of its own) */
        for (unsigned i = 0; in->n_open > 0 && i < in->max_conn + 1; i++) {
            struct slot *k = &in->slots[i];
            if (!k->used || k->swept)
                continue;
            if (k->deadline <= now) {
                k->swept = true;
                if (k->fd >= 0)
                    shutdown(k->fd, SHUT_RDWR);
                INC(in->s, closed_idle);
            } else if (k->deadline < next) {
                next = k->deadline;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wait = next > now ? next - now : 1;
        ts.tv_sec += (time_t)(wait / 1000u);
        ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&in->cv, &in->mu, &ts);
    }
    pthread_mutex_unlock(&in->mu);
    return NULL;
}

/* ---------------------------------------------------------------- requests */

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO; /* MHD closes the connection */
    enum MHD_Result ret = mhd->queue_response(c, status, r);
    mhd->destroy_response(r);
    return ret;
}

static enum MHD_Result simple(struct notice_server *s, struct MHD_Connection *c, unsigned status,
                              const char *text, const char *allow)
{
    if (status == 404)
        INC(s, status_404);
    else if (status == 405)
        INC(s, status_405);
    struct MHD_Response *r =
        mhd->create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (mhd->add_response_header(r, "Content-Type", "text/plain; charset=utf-8") != MHD_YES ||
        mhd->add_response_header(r, "Cache-Control", "no-store") != MHD_YES ||
        (allow && mhd->add_response_header(r, "Allow", allow) != MHD_YES)) {
        mhd->destroy_response(r);
        return MHD_NO;
    }
    return queue(c, status, r);
}

static enum MHD_Result page_cb(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    (void)url, (void)version, (void)upload_data, (void)upload_data_size;
    struct inst *in = cls;
    struct notice_server *s = in->s;
    struct slot *k = *req_cls;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0,
         head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    /* MHD closes a connection whose response is queued on the first call (the request may have
     * a body not yet read), so a GET or HEAD is answered on the second, once the request is whole */
    if ((get || head) && k && !k->called) {
        k->called = true;
        return MHD_YES;
    }
    INC(s, requests);
    if (!get && !head) /* answered at once; a body is not read and the connection closes */
        return simple(s, c, 405, "405 Method Not Allowed\n", "GET, HEAD");
    if (!k || !k->req.page)
        return simple(s, c, 404, "404 Not Found\n", NULL);
    const struct page *p = atomic_load_explicit(&s->page, memory_order_acquire);
    const struct notice_request *q = &k->req;
    if (q->has_order && !notice_order_ok(q->order, q->order_len))
        INC(s, bad_order);
    size_t len = notice_render_page_for(k->body, sizeof(k->body), &p->cfg, q->url, q->url_len,
                                        q->order, q->order_len, q->reason);
    if (len == 0)
        return MHD_NO; /* cannot happen: NOTICE_RESPONSE_MAX holds the worst case */
    INC(s, status_200);
    struct MHD_Response *r = mhd->create_response_from_buffer(len, k->body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (mhd->add_response_header(r, "Content-Type", "text/html; charset=utf-8") != MHD_YES ||
        mhd->add_response_header(r, "Cache-Control", "no-store") != MHD_YES ||
        mhd->add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES) {
        mhd->destroy_response(r);
        return MHD_NO;
    }
    return queue(c, 200, r);
}

/* ---------------------------------------------------------------- listener */

/* "IPv4:port" or "[IPv6]:port" into ss. Returns 0 or -EINVAL. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl)
{
    memset(ss, 0, sizeof(*ss));
    char host[ADDR_TEXT_MAX];
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || colon == addr)
        return -EINVAL;
    const char *hs = addr, *he = colon;
    if (*hs == '[') {
        if (he[-1] != ']')
            return -EINVAL;
        hs++, he--;
    }
    if (he < hs || (size_t)(he - hs) >= sizeof(host))
        return -EINVAL;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = 0;
    char *endp;
    unsigned long port = strtoul(colon + 1, &endp, 10);
    if (*endp || colon[1] < '0' || colon[1] > '9' || port > 65535)
        return -EINVAL;
    if (addr[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return -EINVAL;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return -EINVAL;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *sl = sizeof(*s4);
    }
    return 0;
}

/* Binds and listens; returns the socket or -errno with a message in err. */
static int open_listener(const char *addr, unsigned *port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (parse_addr(addr, &ss, &sl) < 0) {
        snprintf(err, errlen, "notice: listen address '%s': expected IPv4:port or [IPv6]:port",
                 addr ? addr : "");
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "notice: listen on %s: socket() failed: %s", addr, strerror(e));
        return -e;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "notice: cannot listen on %s: %s", addr, strerror(e));
        return -e;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    *port = 0;
    if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
        *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    return fd;
}

/* ---------------------------------------------------------------- instances */

static void inst_free(struct inst *in)
{
    if (!in)
        return;
    if (in->d) {
        mhd->stop_daemon(in->d); /* closes the listener unless it was handed over (quiesced) */
        in->d = NULL;
    } else if (in->lfd >= 0) {
        close(in->lfd);
    }
    if (in->sweeper_started) {
        pthread_mutex_lock(&in->mu);
        in->stop = true;
        pthread_cond_signal(&in->cv);
        pthread_mutex_unlock(&in->mu);
        pthread_join(in->sweeper, NULL);
    }
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->mu);
    free(in->slots);
    free(in->free_slots);
    free(in);
}

static void eff_limits(const struct notice_config *cfg, unsigned *maxc, unsigned *idle,
                       unsigned *maxr)
{
    *maxc = cfg && cfg->max_connections ? cfg->max_connections : DEF_MAX_CONN;
    *idle = cfg && cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEF_IDLE_MS;
    *maxr = cfg && cfg->max_request_bytes ? cfg->max_request_bytes : DEF_MAX_REQ;
}

/* Starts an instance on lfd (taken: closed on failure unless keep_fd). Returns NULL with errno
 * and a message in err. */
static struct inst *inst_start(struct notice_server *s, const struct notice_config *cfg,
                               const char *listen, int lfd, unsigned port, bool keep_fd, char *err,
                               size_t errlen)
{
    struct inst *in = calloc(1, sizeof(*in));
    int e = ENOMEM;
    if (!in) {
        if (!keep_fd)
            close(lfd);
        snprintf(err, errlen, "notice: %s: out of memory", listen);
        errno = ENOMEM;
        return NULL;
    }
    in->s = s;
    in->lfd = keep_fd ? -1 : lfd; /* inst_free closes it only while no daemon owns it */
    in->port = port;
    snprintf(in->listen, sizeof(in->listen), "%s", listen);
    unsigned idle;
    eff_limits(cfg, &in->max_conn, &idle, &in->max_req);
    atomic_init(&in->idle_ms, idle);
    pthread_mutex_init(&in->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&in->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* one slot more than the cap: MHD's own limit (max + 1) is a backstop behind accept_cb */
    in->slots = calloc((size_t)in->max_conn + 1, sizeof(*in->slots));
    in->free_slots = calloc((size_t)in->max_conn + 1, sizeof(*in->free_slots));
    if (!in->slots || !in->free_slots) {
        snprintf(err, errlen, "notice: %s: out of memory for %u connections", listen, in->max_conn);
        goto fail;
    }
    for (unsigned i = 0; i <= in->max_conn; i++) /* slot 0 on top */
        in->free_slots[i] = in->max_conn - i;
    in->n_free = in->max_conn + 1;
    int rc = pthread_create(&in->sweeper, NULL, sweeper_main, in);
    if (rc != 0) {
        e = rc;
        snprintf(err, errlen, "notice: %s: cannot start the idle sweeper: %s", listen,
                 strerror(rc));
        goto fail;
    }
    in->sweeper_started = true;
    s->last_error[0] = 0;
    char why[256];
    if (!(mhd = mhdlib_get(why, sizeof(why)))) {
        e = ELIBACC;
        snprintf(err, errlen, "notice: %s: %s", listen, why);
        goto fail;
    }
    /* MHD's own timeout (whole seconds, reset by any traffic) backs up the sweeper's deadline */
    unsigned secs = (idle + 999u) / 1000u + 1u;
    /* poll(), not epoll: with epoll, 0.9.75 left keep-alive connections waiting once about 128
     * were busy at once (tests/bench/notice.sh: ~830 req/s at 256 connections against ~35 000
     * with poll; check_notice_server's live_many_keepalive guards it) */
    in->d = mhd->start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, accept_cb, in, page_cb,
        in, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(in->max_conn + 1), MHD_OPTION_CONNECTION_TIMEOUT,
        secs, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)in->max_req + POOL_EXTRA,
        MHD_OPTION_URI_LOG_CALLBACK, uri_cb, in, MHD_OPTION_NOTIFY_CONNECTION, conn_cb, in,
        MHD_OPTION_NOTIFY_COMPLETED, done_cb, in, MHD_OPTION_END);
    if (!in->d) {
        e = errno ? errno : EIO;
        pthread_mutex_lock(&s->log_mu);
        snprintf(err, errlen, "notice: %s: libmicrohttpd could not start: %s", listen,
                 s->last_error[0] ? s->last_error : "no reason given");
        pthread_mutex_unlock(&s->log_mu);
        goto fail;
    }
    in->lfd = lfd;
    return in;
fail:
    inst_free(in);
    errno = e;
    return NULL;
}

/* ---------------------------------------------------------------- page records */

static int copy_str(char *dst, size_t cap, const char *src, const char **field)
{
    if (!src || !src[0]) {
        *field = NULL;
        return 0;
    }
    size_t n = strnlen(src, cap);
    if (n >= cap)
        return -EINVAL;
    memcpy(dst, src, n + 1);
    *field = dst;
    return 0;
}

static struct page *page_new(const struct notice_config *cfg)
{
    struct page *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (cfg)
        p->cfg = *cfg;
    if (copy_str(p->url, sizeof(p->url), p->cfg.url, &p->cfg.url) ||
        copy_str(p->contact, sizeof(p->contact), p->cfg.contact, &p->cfg.contact) ||
        copy_str(p->contact_url, sizeof(p->contact_url), p->cfg.contact_url, &p->cfg.contact_url)) {
        free(p);
        errno = EINVAL;
        return NULL;
    }
    return p;
}

/* ---------------------------------------------------------------- the server */

struct notice_server *notice_server_new(const struct notice_config *cfg, const char *listen,
                                        struct log *lg, char *err, size_t errlen)
{
    if (!notice_config_valid(cfg)) {
        snprintf(err, errlen, "notice: a notice.* value is out of range or not acceptable");
        errno = EINVAL;
        return NULL;
    }
    struct notice_server *s = calloc(1, sizeof(*s));
    struct page *p = page_new(cfg);
    if (!s || !p) {
        snprintf(err, errlen, "notice: out of memory");
        free(s);
        free(p);
        errno = ENOMEM;
        return NULL;
    }
    s->log = lg;
    pthread_mutex_init(&s->log_mu, NULL);
    atomic_init(&s->page, p);
    atomic_init(&s->state, NOTICE_SERVER_SERVING);
    unsigned port;
    int fd = open_listener(listen, &port, err, errlen);
    if (fd < 0) {
        notice_server_free(s);
        errno = -fd;
        return NULL;
    }
    s->in = inst_start(s, cfg, listen, fd, port, false, err, errlen);
    if (!s->in) {
        int e = errno;
        notice_server_free(s);
        errno = e;
        return NULL;
    }
    return s;
}

static int reload_failed(struct notice_server *s, int e)
{
    INC(s, reload_failures);
    if (atomic_load(&s->state) != NOTICE_SERVER_DOWN)
        atomic_store(&s->state, s->in ? NOTICE_SERVER_STALE : NOTICE_SERVER_DOWN);
    return -e;
}

int notice_server_reload(struct notice_server *s, const struct notice_config *cfg,
                         const char *listen, char *err, size_t errlen)
{
    if (!notice_config_valid(cfg)) {
        snprintf(err, errlen, "notice: a notice.* value is out of range or not acceptable");
        return reload_failed(s, EINVAL);
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(listen, &ss, &sl) < 0) {
        snprintf(err, errlen, "notice: listen address '%s': expected IPv4:port or [IPv6]:port",
                 listen ? listen : "");
        return reload_failed(s, EINVAL);
    }
    struct page *p = page_new(cfg);
    if (!p) {
        snprintf(err, errlen, "notice: out of memory");
        return reload_failed(s, ENOMEM);
    }
    unsigned maxc, idle, maxr;
    eff_limits(cfg, &maxc, &idle, &maxr);
    struct inst *old = s->in;
    bool same_addr = old && strcmp(old->listen, listen) == 0;
    if (!old || !same_addr || maxc != old->max_conn || maxr != old->max_req) {
        struct inst *ni = NULL;
        if (old && same_addr) {
            /* the same address: hand the listening socket over, so no connect is refused */
            MHD_socket fd = mhd->quiesce_daemon(old->d);
            if (fd == MHD_INVALID_SOCKET) {
                snprintf(err, errlen, "notice: %s: cannot hand the listener over", listen);
                free(p);
                return reload_failed(s, EIO);
            }
            ni = inst_start(s, cfg, listen, fd, old->port, true, err, errlen);
            if (!ni) {
                int e = errno;
                /* the old instance no longer accepts: restart it on the same socket */
                char err2[256];
                struct inst *back = inst_start(s, &atomic_load(&s->page)->cfg, listen, fd,
                                               old->port, true, err2, sizeof(err2));
                if (!back)
                    close(fd);
                inst_free(old);
                s->in = back;
                if (!back)
                    atomic_store(&s->state, NOTICE_SERVER_DOWN);
                free(p);
                return reload_failed(s, e);
            }
        } else {
            unsigned port;
            int fd = open_listener(listen, &port, err, errlen);
            if (fd < 0) {
                free(p);
                return reload_failed(s, -fd);
            }
            ni = inst_start(s, cfg, listen, fd, port, false, err, errlen);
            if (!ni) {
                int e = errno;
                free(p);
                return reload_failed(s, e);
            }
        }
        s->in = ni;
        inst_free(old);
    } else {
        atomic_store_explicit(&old->idle_ms, idle, memory_order_relaxed);
    }
    p->older = atomic_load(&s->page);
    atomic_store_explicit(&s->page, p, memory_order_release);
    atomic_store(&s->state, NOTICE_SERVER_SERVING);
    INC(s, reloads);
    return 0;
}

unsigned notice_server_port(const struct notice_server *s)
{
    return s && s->in ? s->in->port : 0;
}

enum notice_server_state notice_server_state(const struct notice_server *s)
{
    return (enum notice_server_state)atomic_load(&s->state);
}

const char *notice_server_state_name(enum notice_server_state st)
{
    switch (st) {
    case NOTICE_SERVER_SERVING: return "serving";
    case NOTICE_SERVER_STALE: return "stale";
    case NOTICE_SERVER_DOWN: return "down";
    }
    return "?";
}

void notice_server_stats(const struct notice_server *s, struct notice_server_counters *out,
                         unsigned *open_now)
{
#define RD(f) out->f = atomic_load_explicit(&s->c.f, memory_order_relaxed)
    RD(accepted);
    RD(refused);
    RD(closed_idle);
    RD(requests);
    RD(status_200);
    RD(status_404);
    RD(status_405);
    RD(bad_order);
    RD(errors);
    RD(reloads);
    RD(reload_failures);
#undef RD
    if (open_now) {
        unsigned n = 0;
        if (s->in) {
            pthread_mutex_lock(&s->in->mu);
            n = s->in->n_open;
            pthread_mutex_unlock(&s->in->mu);
        }
        *open_now = n;
    }
}

void notice_server_free(struct notice_server *s)
{
    if (!s)
        return;
    inst_free(s->in);
    struct page *p = atomic_load(&s->page);
    while (p) {
        struct page *o = p->older;
        free(p);
        p = o;
    }
    pthread_mutex_destroy(&s->log_mu);
    free(s);
}
