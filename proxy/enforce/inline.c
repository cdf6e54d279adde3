/* inline.c - the inline transparent proxy (see inline.h).
 *
 * A connection goes through these states:
 *
 *   FIRST ──judge: pass──► CONNECT ──connected──► RELAY ──both ends done──► closed
 *     │                                             │ HTTP: a later request blocked
 *     │ judge: block                                ▼
 *     ├─ TLS reset ─────────────────────► closed   WAIT_SERVER (server half-closed; its
 *     └─ alert / 302 / 451 ──► SEND ──► LINGER      answers to earlier requests still flow)
 *                                          │              │ server done
 *                                          ▼              ▼
 *                                        closed        SEND ──► LINGER ──► closed
 *
 * Client -> server bytes pass through a pooled buffer while requests are judged ([boff, bsend)
 * is approved and waiting to be written, [bsend, blen) is not judged yet); once nothing is left
 * to judge (TLS after the ClientHello, HTTP bodies of known length, or everything after the
 * last judged request) they go through splice(2) with a pipe per direction. Pipes and buffers
 * are taken from per-worker pools only while bytes are in them, so an idle relayed connection
 * holds its two sockets and its pool slot (struct conn) and nothing else.
 *
 * System calls: each socket is registered with epoll once, edge-triggered for reading and
 * writing, and never modified; an event pumps only the direction it concerns, until EAGAIN (a
 * short recv counts as EAGAIN, as long as no FIN was reported) or the step budget, after which
 * the connection waits on the worker's ready list. Accepted sockets inherit TCP_NODELAY and
 * keepalive from the listener. A blocked request's answer is sent and the socket closed at once
 * when nothing unread is left in it (else LINGER drains it first, RFC 9112 section 9.6).
 *
 * Timers: each timer kind has one timeout, so a FIFO list per kind is sorted by deadline;
 * expiry pops from the head. A reload that changes a timeout moves every deadline of that
 * kind by the same amount, which keeps the list sorted. The first-bytes timer bounds the
 * client's silence, not the judgement: every byte of the first request restarts it, and a
 * request left incomplete is reset (inline.incomplete_request), never relayed unjudged. A
 * relayed connection carries the idle timer, restarted by every event on it.
 *
 * Overload: each worker counts its connections per client address (max_per_source, split over
 * the workers) so one client cannot take the pool; when the pool is full, the connection that
 * has been silent longest before its first request is reset to make room. Out of file
 * descriptors, accepting pauses for INLINE_ACCEPT_PAUSE_MS instead of spinning. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "proxy/dissect/h2c.h"
#include "proxy/enforce/inline.h"
#include "proxy/judge/inspect.h"
#include "proxy/enforce/notice.h"
#include "proxy/flow/owners.h"
#include "rules/match/ruleset.h"
#include "rules/subs/tariff.h"

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which do not mix
 * with the libc headers. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#define INLINE_PIPE_BYTES      262144 /* F_SETPIPE_SZ of a new pipe: bytes moved per splice */
#define INLINE_SPLICE_MAX      INLINE_PIPE_BYTES
#define INLINE_COPY_MAX        8192 /* first read of an event: copied (fits the smallest pipe) */
#define INLINE_PIPES_KEPT      256  /* free pipes kept per worker; more are closed */
#define INLINE_EVENTS          128
#define INLINE_ACCEPT_BUDGET   64
#define INLINE_PUMP_BUDGET     16 /* steps per direction per event, then yield */
#define INLINE_LISTENERS       4  /* per worker: tproxy v4/v6, redirect v4/v6 */
#define INLINE_ACCEPT_PAUSE_MS 100
#define INLINE_H2C_STATES \
    256                        /* h2c connections per worker whose every stream is judged
                                    * (inline_config.h2c_states 0) */
#define INLINE_KEEPIDLE_S  120 /* TCP keepalive on both sockets of a relayed connection */
#define INLINE_KEEPINTVL_S 30
#define INLINE_KEEPCNT     4
#define INLINE_SWEEP_STEP  2048 /* connections re-judged per loop after a new rule set */
#define INLINE_NAME_SLOT   256  /* per connection: length, flags, the normalized name */
#define NAME_ECH           1    /* name slot flag: the name was ECH's outer one */
#define NAME_PATH          2    /* ... an HTTP request's normalized path follows the name */
#define NO_IDX             UINT32_MAX

enum conn_state { ST_FREE = 0, ST_FIRST, ST_CONNECT, ST_RELAY, ST_WAIT_SERVER, ST_SEND, ST_LINGER };
enum timer_kind { T_NONE = 0, T_FIRST, T_CONNECT, T_CLOSE, T_IDLE, T_KINDS };

/* conn.flags */
#define F_V6        0x0001
#define F_RAW       0x0002 /* nothing more to judge: client bytes are relayed as they are */
#define F_CLI_EOF   0x0004 /* client sent FIN */
#define F_SRV_EOF   0x0008 /* server sent FIN */
#define F_SRV_SHUT  0x0010 /* we shut down writing to the server */
#define F_CLI_SHUT  0x0020 /* we shut down writing to the client */
#define F_DECIDED   0x0040 /* the first decision was made */
#define F_SRC       0x0080 /* counted in the worker's per-source table */
#define F_CLI_HUP   0x0100 /* epoll reported the client's FIN (EPOLLRDHUP): read to the end */
#define F_SRV_HUP   0x0200 /* the same for the server */
#define F_CLI_MORE  0x0400 /* the client sent more while the server connection was being made */
#define F_CLI_DRY   0x0800 /* nothing unread from the client: pump_up's first read is skipped */
#define F_CLI_SHORT 0x1000 /* the last read into the buffer came back short */
#define F_UP_BULK   0x2000 /* client -> server is a bulk transfer: reads splice from the start */
#define F_DOWN_BULK 0x4000 /* the same, server -> client */
#define F_SRC_V6    0x8000 /* the client's address is IPv6 (its per-source key is a prefix) */

struct conn {
    int cfd, sfd;
    uint8_t state, app, tkind;
    uint8_t again; /* AG_* directions left with work after a pump budget, on w->ready */
    uint8_t phase; /* inspect_stream.phase: inside a chunked body (app is its .app) */
    uint16_t flags;
    uint16_t nreq;
    uint32_t buf;                /* buffer index, NO_IDX when none */
    uint32_t blen, boff, bsend;  /* see the top of the file; for SEND: boff..blen to write */
    uint32_t pipe_up, pipe_down; /* pipe index, NO_IDX when none */
    uint32_t in_up, in_down;     /* bytes sitting in each pipe */
    uint64_t body_left;          /* HTTP body bytes to pass before the next request head */
    uint64_t deadline;           /* ms, CLOCK_MONOTONIC */
    uint32_t tprev, tnext;       /* timer list, or the free list (tnext) */
    uint32_t gen;                /* bumped each time the slot is taken (epoll tags carry it) */
    uint16_t sport, dport;
    uint8_t src[16], dst[16];
};

/* Connections per client address of one worker: open addressing, linear probing, deletion by
 * backward shift. Sized at twice the worker's connections, so it never fills. */
struct src_slot {
    uint8_t addr[16];
    uint32_t n; /* 0: empty */
};

/* conn.again: the directions to pump again (the budget ran out before the socket did) */
#define AG_UP     1
#define AG_DOWN   2
#define AG_LISTED 4 /* the slot is on w->ready (kept when the slot is closed and taken again) */

struct tlist {
    uint32_t head, tail;
};

struct worker {
    struct inline_proxy *p;
    unsigned id;
    int ep;
    int lfd[INLINE_LISTENERS];
    bool lredirect[INLINE_LISTENERS];
    struct conn *conns;
    uint32_t nconns, free_head, conn_hw;
    uint8_t *bufmem; /* nbufs * bufsize */
    uint32_t *buf_free;
    uint32_t nbufs, buf_free_n;
    int (*pipes)[2]; /* INLINE_PIPES_KEPT pairs; pipes in use live in conns */
    uint32_t pipe_free_n;
    int (*pipe_used)[2]; /* all pipes in use, indexed by conn pipe index */
    uint32_t *pipe_slot_free;
    uint32_t npipe_slots, pipe_slot_free_n, pipe_hw;
    struct tlist timers[T_KINDS];
    unsigned tmo[T_KINDS];             /* the timeout of each kind now (ms), from pol_seen */
    const struct policy_rec *pol_seen; /* the settings record the timers were armed under */
    unsigned fbmax;                    /* first_bytes_max now (<= bufsize) */
    unsigned per_source;               /* this worker's share of max_per_source; 0 = no limit */
    struct src_slot *srcs;
    uint32_t srcs_mask;
    struct h2c_pool *h2; /* h2c decoder states: every stream of an h2c connection */
    bool accept_paused;
    uint64_t accept_resume; /* ms: listeners back in epoll after this */
    uint64_t now;
    uint8_t *scratch; /* ClientHello reassembly, drained bytes */
    uint32_t *ready;  /* connections with conn.again set: pumped after the events */
    uint32_t nready, ready_cap;
    struct inspect_result res; /* the decision being made */
    /* the name each connection was passed on (INLINE_NAME_SLOT bytes a slot, mapped without
     * reserve: only the slots' pages ever used cost memory) */
    uint8_t *names;
    uint64_t rules_seen;  /* rsref version the passed connections were last judged under */
    uint64_t tariff_seen; /* tariff_version() then */
    uint64_t recheck_at;  /* ms: with tariffs, the next walk even without a publication */
    uint32_t sweep_next;  /* next slot to re-judge, while sweeping (the walk wraps around) */
    uint32_t sweep_left;  /* slots the walk has still to visit */
    bool sweeping;
    _Atomic uint64_t st[INLINE_NSTATS];
};

/* The settings a reload may change, with private copies of their strings. Published by one
 * atomic pointer; older records stay allocated until inline_free (a worker may still hold one,
 * and reloads are rare). */
struct policy_rec {
    struct policy_rec *older;
    enum inline_tls_block tls_block;
    unsigned tls_alert;
    unsigned first_timeout_ms, connect_timeout_ms, close_timeout_ms, idle_timeout_ms;
    unsigned first_bytes_max;
    unsigned max_per_source;
    enum inline_incomplete incomplete;
    struct verdict_policy vp;
    struct notice_config notice;
    char strs[];
};

struct inline_proxy {
    struct inline_config cfg; /* the reloadable fields are in pol, not here */
    _Atomic(struct policy_rec *) pol;
    struct rsref *rules;
    struct worker *w;
    unsigned nw;
    uint32_t bufsize;
    unsigned port[2];
};

/* Only the owning worker writes its counters: relaxed load + store, no read-modify-write. */
#define CNT_ADD(w, f, n)                                                                          \
    atomic_store_explicit(&(w)->st[INLINE_STAT_##f],                                              \
                          atomic_load_explicit(&(w)->st[INLINE_STAT_##f], memory_order_relaxed) + \
                              (uint64_t)(n),                                                      \
                          memory_order_relaxed)
#define CNT(w, f)     CNT_ADD(w, f, 1)
#define CNT_SUB(w, f) CNT_ADD(w, f, (uint64_t)-1)

static const char *const stat_names[INLINE_NSTATS] = {
    "inline.accepted",
    "inline.refused_full",
    "inline.refused_loop",
    "inline.orig_dst_failed",
    "inline.no_buffer",
    "inline.active",
    "inline.requests",
    "inline.passed",
    "inline.blocked",
    "inline.blocked_reset",
    "inline.blocked_alert",
    "inline.blocked_redirect",
    "inline.blocked_451",
    "inline.by_address",
    "inline.first_timeout",
    "inline.first_limit",
    "inline.malformed",
    "inline.not_mine",
    "inline.connect_failed",
    "inline.relay_errors",
    "inline.bytes_up",
    "inline.bytes_down",
    "inline.pipes",
    "inline.incomplete_reset",
    "inline.idle_timeout",
    "inline.refused_source",
    "inline.evicted_first",
    "inline.accept_paused",
    "inline.h2c_no_state",
    "inline.unframed",
    "inline.cut",
};
_Static_assert(sizeof(struct inline_stats) == INLINE_NSTATS * sizeof(uint64_t),
               "struct inline_stats mirrors the counter enum");

static const struct policy_rec *policy(const struct worker *w)
{
    return atomic_load_explicit(&w->p->pol, memory_order_acquire);
}

void inline_config_default(struct inline_config *c)
{
    memset(c, 0, sizeof(*c));
    c->tproxy_port = 15001;
    c->redirect_port = 15002;
    c->ipv6 = true;
    c->workers = 1;
    c->max_connections = 65536;
    c->first_bytes_max = 32768;
    c->first_bytes_timeout_ms = 5000;
    c->connect_timeout_ms = 10000;
    c->close_timeout_ms = 2000;
    c->idle_timeout_ms = 600000;
    c->tariff_recheck_ms = 60000;
    c->rejudge_step = INLINE_SWEEP_STEP;
    c->max_per_source = 512;
    c->h2c_states = INLINE_H2C_STATES;
    c->client_prefix6 = OWNERS_PREFIX6_DEFAULT;
    c->incomplete = INLINE_INCOMPLETE_RESET;
    c->tls_block = INLINE_TLS_RESET;
    c->tls_alert = 112;
    c->policy.https_url = VERDICT_HTTPS_URL_BLOCK_NAME;
}

/* ---- pools ---------------------------------------------------------------------------------- */

static uint32_t conn_idx(const struct worker *w, const struct conn *c)
{
    return (uint32_t)(c - w->conns);
}

static uint8_t *buf_ptr(const struct worker *w, const struct conn *c)
{
    return w->bufmem + (size_t)c->buf * w->p->bufsize;
}

static bool buf_get(struct worker *w, struct conn *c)
{
    if (c->buf != NO_IDX)
        return true;
    if (w->buf_free_n == 0)
        return false;
    c->buf = w->buf_free[--w->buf_free_n];
    c->blen = c->boff = c->bsend = 0;
    return true;
}

static void buf_put(struct worker *w, struct conn *c)
{
    if (c->buf == NO_IDX)
        return;
    w->buf_free[w->buf_free_n++] = c->buf;
    c->buf = NO_IDX;
    c->blen = c->boff = c->bsend = 0;
}

/* A pipe for one direction of c; pipes come back to the pool as soon as they are empty. */
static int pipe_get(struct worker *w, uint32_t *slot)
{
    if (*slot != NO_IDX)
        return 0;
    uint32_t s;
    if (w->pipe_slot_free_n)
        s = w->pipe_slot_free[--w->pipe_slot_free_n];
    else if (w->pipe_hw < w->npipe_slots)
        s = w->pipe_hw++;
    else
        return -ENOMEM;
    if (w->pipe_free_n) {
        w->pipe_free_n--;
        w->pipe_used[s][0] = w->pipes[w->pipe_free_n][0];
        w->pipe_used[s][1] = w->pipes[w->pipe_free_n][1];
    } else if (pipe2(w->pipe_used[s], O_NONBLOCK | O_CLOEXEC) < 0) {
        int e = errno;
        w->pipe_slot_free[w->pipe_slot_free_n++] = s;
        return -e;
    } else {
        /* once per pipe (pooled): fewer splice calls per megabyte; a refusal (the user's pipe
         * page limit) leaves the default size, splice then moves less per call */
        (void)fcntl(w->pipe_used[s][1], F_SETPIPE_SZ, INLINE_PIPE_BYTES);
        CNT(w, pipes);
    }
    *slot = s;
    return 0;
}

/* Returns the pipe of *slot to the pool; drop closes it instead (it may hold bytes). */
static void pipe_put(struct worker *w, uint32_t *slot, bool drop)
{
    uint32_t s = *slot;
    if (s == NO_IDX)
        return;
    if (!drop && w->pipe_free_n < INLINE_PIPES_KEPT) {
        w->pipes[w->pipe_free_n][0] = w->pipe_used[s][0];
        w->pipes[w->pipe_free_n][1] = w->pipe_used[s][1];
        w->pipe_free_n++;
    } else {
        close(w->pipe_used[s][0]);
        close(w->pipe_used[s][1]);
    }
    w->pipe_slot_free[w->pipe_slot_free_n++] = s;
    *slot = NO_IDX;
}

/* ---- timers --------------------------------------------------------------------------------- */

static void timer_stop(struct worker *w, struct conn *c)
{
    if (c->tkind == T_NONE)
        return;
    struct tlist *l = &w->timers[c->tkind];
    if (c->tprev != NO_IDX)
        w->conns[c->tprev].tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext != NO_IDX)
        w->conns[c->tnext].tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tkind = T_NONE;
    c->tprev = c->tnext = NO_IDX;
}

static void timer_start(struct worker *w, struct conn *c, enum timer_kind k)
{
    timer_stop(w, c);
    struct tlist *l = &w->timers[k];
    uint32_t i = conn_idx(w, c);
    c->tkind = (uint8_t)k;
    c->deadline = w->now + w->tmo[k];
    c->tnext = NO_IDX;
    c->tprev = l->tail;
    if (l->tail != NO_IDX)
        w->conns[l->tail].tnext = i;
    else
        l->head = i;
    l->tail = i;
}

/* Takes the settings of the newest policy record into the worker. A changed timeout moves the
 * deadlines of its whole list by the difference (clamped at now): the list stays sorted. */
static void settings_sync(struct worker *w)
{
    const struct policy_rec *r = policy(w);
    if (r == w->pol_seen)
        return;
    unsigned want[T_KINDS] = { 0 };
    want[T_FIRST] = r->first_timeout_ms;
    want[T_CONNECT] = r->connect_timeout_ms;
    want[T_CLOSE] = r->close_timeout_ms;
    want[T_IDLE] = r->idle_timeout_ms;
    for (unsigned k = T_FIRST; k < T_KINDS; k++) {
        if (w->pol_seen && want[k] != w->tmo[k]) {
            int64_t delta = (int64_t)want[k] - (int64_t)w->tmo[k];
            for (uint32_t i = w->timers[k].head; i != NO_IDX; i = w->conns[i].tnext) {
                int64_t d = (int64_t)w->conns[i].deadline + delta;
                w->conns[i].deadline = d < (int64_t)w->now ? w->now : (uint64_t)d;
            }
        }
        w->tmo[k] = want[k];
    }
    w->fbmax = r->first_bytes_max;
    w->per_source = r->max_per_source == 0 ? 0 : (r->max_per_source + w->p->nw - 1) / w->p->nw;
    w->pol_seen = r;
}

/* ---- connections per client address ---------------------------------------------------------- */

static uint32_t src_hash(const uint8_t a[16])
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, a + 8, 8);
    x ^= y * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x ^ (x >> 32));
}

static struct src_slot *src_find(struct worker *w, const uint8_t a[16], bool *found)
{
    for (uint32_t i = src_hash(a) & w->srcs_mask;; i = (i + 1) & w->srcs_mask) {
        struct src_slot *e = &w->srcs[i];
        if (e->n == 0) {
            *found = false;
            return e;
        }
        if (memcmp(e->addr, a, 16) == 0) {
            *found = true;
            return e;
        }
    }
}

/* The client a connection from address a (IPv4 in the first 4 bytes) counts as: an IPv6
 * address by its prefix (inline.client_prefix6), as the tap and queue shares. */
static void src_key(const struct worker *w, const uint8_t a[16], bool v6, uint8_t key[16])
{
    owners_client_key(v6 ? 6 : 4, a, w->p->cfg.client_prefix6, key);
}

/* Counts one more connection of client key a (src_key()); false (nothing counted) at the
 * limit. */
static bool src_take(struct worker *w, const uint8_t a[16])
{
    bool found;
    struct src_slot *e = src_find(w, a, &found);
    if (found && w->per_source && e->n >= w->per_source)
        return false;
    if (!found)
        memcpy(e->addr, a, 16);
    e->n++;
    return true;
}

static void src_put(struct worker *w, const uint8_t a[16])
{
    bool found;
    struct src_slot *e = src_find(w, a, &found);
    if (!found || --e->n > 0)
        return;
    /* backward-shift deletion keeps every probe sequence unbroken */
    uint32_t hole = (uint32_t)(e - w->srcs);
    for (uint32_t i = (hole + 1) & w->srcs_mask; w->srcs[i].n; i = (i + 1) & w->srcs_mask) {
        uint32_t home = src_hash(w->srcs[i].addr) & w->srcs_mask;
        /* i stays where it is when its home lies cyclically in (hole, i] */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        w->srcs[hole] = w->srcs[i];
        w->srcs[i].n = 0;
        hole = i;
    }
}

/* ---- epoll ---------------------------------------------------------------------------------- */

/* epoll data: generation << 32 | connection index << 1 | side (0 client, 1 server); listeners
 * have the top bit. The generation tells an event of a slot that was closed and taken again in
 * the same batch from one of its new connection (nginx's `instance` bit). */
#define TAG_LISTENER (1ull << 63)
#define TAG_GEN_MASK 0x7fffffffu

static uint64_t conn_tag(const struct worker *w, const struct conn *c, bool server)
{
    return (uint64_t)(c->gen & TAG_GEN_MASK) << 32 | (uint64_t)conn_idx(w, c) << 1 |
           (server ? 1u : 0u);
}

static int ep_add(struct worker *w, struct conn *c, bool server)
{
    int fd = server ? c->sfd : c->cfd;
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = conn_tag(w, c, server);
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The pump budget ran out with bytes still waiting: edge-triggered epoll will not report them
 * again, so the connection is pumped once more after this round of events. */
static void schedule(struct worker *w, struct conn *c, uint8_t dirs)
{
    if (!(c->again & AG_LISTED)) {
        if (w->nready == w->ready_cap)
            return; /* cannot happen: at most one entry per slot, see worker_init */
        w->ready[w->nready++] = conn_idx(w, c);
    }
    c->again |= dirs | AG_LISTED;
}

/* ---- connection lifetime -------------------------------------------------------------------- */

static void fd_close(int *fd, bool reset)
{
    if (*fd < 0)
        return;
    if (reset) {
        struct linger lg = { 1, 0 };
        (void)setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(*fd);
    *fd = -1;
}

static void conn_close(struct worker *w, struct conn *c, bool reset)
{
    timer_stop(w, c);
    fd_close(&c->cfd, reset);
    fd_close(&c->sfd, reset);
    buf_put(w, c);
    pipe_put(w, &c->pipe_up, c->in_up != 0);
    pipe_put(w, &c->pipe_down, c->in_down != 0);
    c->in_up = c->in_down = 0;
    if (c->flags & F_SRC) {
        uint8_t key[16];
        src_key(w, c->src, c->flags & F_SRC_V6, key);
        src_put(w, key);
    }
    if (c->app == APP_H2C && w->h2)
        h2c_conn_release(w->h2, c, c->gen);
    c->state = ST_FREE;
    c->tnext = w->free_head;
    w->free_head = conn_idx(w, c);
    CNT_SUB(w, active);
}

/* Slots below conn_hw were used at least once (free ones are on the free list); the ones above
 * were never touched, so the pool costs memory only up to its high-water mark. */
static struct conn *conn_alloc(struct worker *w)
{
    struct conn *c;
    if (w->free_head != NO_IDX) {
        c = &w->conns[w->free_head];
        w->free_head = c->tnext;
    } else if (w->conn_hw < w->nconns) {
        c = &w->conns[w->conn_hw++];
    } else {
        return NULL;
    }
    uint32_t gen = c->gen + 1;
    uint8_t listed = c->again & AG_LISTED;
    memset(c, 0, sizeof(*c));
    c->gen = gen;
    c->again = listed;
    c->cfd = c->sfd = -1;
    c->buf = c->pipe_up = c->pipe_down = NO_IDX;
    c->tprev = c->tnext = NO_IDX;
    memset(w->names + (size_t)conn_idx(w, c) * INLINE_NAME_SLOT, 0, 2); /* no name, no flags */
    return c;
}

/* ---- addresses ------------------------------------------------------------------------------ */

static void addr_from(const struct sockaddr_storage *ss, uint8_t a[16], uint16_t *port, bool *v6)
{
    memset(a, 0, 16);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(s6->sin6_addr.s6_addr, mapped, 12) == 0) {
            memcpy(a, s6->sin6_addr.s6_addr + 12, 4);
            *v6 = false;
        } else {
            memcpy(a, s6->sin6_addr.s6_addr, 16);
            *v6 = true;
        }
        *port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        memcpy(a, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
        *v6 = false;
    }
}

static socklen_t addr_to(const struct conn *c, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (c->flags & F_V6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(s6->sin6_addr.s6_addr, c->dst, 16);
        s6->sin6_port = htons(c->dport);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    memcpy(&s4->sin_addr, c->dst, 4);
    s4->sin_port = htons(c->dport);
    return sizeof(*s4);
}

/* ---- judging -------------------------------------------------------------------------------- */

enum judge { J_MORE, J_PASS, J_BLOCK };

static void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* TCP keepalive: a peer that vanished without a FIN or RST is found within minutes, before the
 * idle timer would close its connection. */
static void keepalive(int fd)
{
    int one = 1, idle = INLINE_KEEPIDLE_S, intvl = INLINE_KEEPINTVL_S, cnt = INLINE_KEEPCNT;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void report(struct worker *w, struct conn *c, const struct ruleset *rs,
                   const struct inspect_result *res, bool by_address, bool ech, bool cut)
{
    const struct inline_config *cfg = &w->p->cfg;
    if (!cfg->on_event)
        return;
    struct inline_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.worker = w->id;
    ev.ipver = c->flags & F_V6 ? 6 : 4;
    ev.client = c->src;
    ev.server = c->dst;
    ev.client_port = c->sport;
    ev.server_port = c->dport;
    ev.app = (enum verdict_app)c->app;
    if (res->have_name) {
        ev.name = res->name;
        ev.name_len = res->name_len;
    }
    if (res->url_len) {
        ev.url = res->url;
        ev.url_len = res->url_len;
    }
    ev.req = (unsigned)c->nreq + 1;
    ev.by_address = by_address;
    ev.ech = ech;
    ev.cut = cut;
    ev.d = res->d;
    ev.rs = rs;
    if (rs && res->d.verdict == VERDICT_BLOCK)
        ev.order = ruleset_entry_order(rs, res->d.entry);
    cfg->on_event(cfg->event_ctx, &ev);
}

/* Writes the block answer for c into its buffer (boff..blen) and sets its SEND state, or
 * returns false for a plain reset. Called inside the read section (the order id lives in rs). */
static bool block_answer(struct worker *w, struct conn *c, const struct ruleset *rs,
                         const struct inspect_result *res)
{
    const struct policy_rec *pol = policy(w);
    const char *order = rs ? ruleset_entry_order(rs, res->d.entry) : NULL;
    uint8_t *b;
    size_t n = 0;

    CNT(w, blocked);
    if (c->app == APP_HTTP &&
        (res->d.action == ACTION_REDIRECT || res->d.action == ACTION_PAGE_451)) {
        if (!buf_get(w, c))
            return false;
        b = buf_ptr(w, c);
        const char *url = res->url_len ? res->url : NULL;
        if (res->d.action == ACTION_REDIRECT && pol->vp.notice_url) {
            n = notice_build_redirect_for((char *)b, w->p->bufsize, pol->vp.notice_url, url, order,
                                          notice_reason_of(res->d.cause));
            if (n)
                CNT(w, blocked_redirect);
        }
        if (n == 0) {
            n = notice_build_451_for((char *)b, w->p->bufsize, &pol->notice, url, order,
                                     notice_reason_of(res->d.cause));
            if (n)
                CNT(w, blocked_451);
        }
    } else if (pol->tls_block == INLINE_TLS_ALERT && c->app == APP_TLS) {
        static const uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x00 };
        if (!buf_get(w, c))
            return false;
        b = buf_ptr(w, c);
        memcpy(b, alert, sizeof(alert));
        b[6] = (uint8_t)pol->tls_alert;
        n = sizeof(alert);
        CNT(w, blocked_alert);
    }
    if (n == 0) {
        CNT(w, blocked_reset);
        return false;
    }
    c->boff = 0;
    c->blen = (uint32_t)n;
    c->bsend = c->blen;
    return true;
}

/* Keeps the name c was passed on, for judging it again under a newer rule set (rejudge()):
 * the last request's on a kept-alive connection, with its normalized path when the slot has
 * room for both (slot: name length, flags, the name, then path length and path): a URL listed
 * later for that path cuts the response in progress. A name not normalized keeps none (the
 * address is judged); a path that does not fit is judged as "/", as its host. */
static void name_keep(struct worker *w, const struct conn *c, const struct inspect_result *res,
                      bool ech)
{
    uint8_t *slot = w->names + (size_t)conn_idx(w, c) * INLINE_NAME_SLOT;
    size_t n = res->have_name ? res->name_len : 0;
    if (n > INLINE_NAME_SLOT - 2)
        n = 0;
    slot[0] = (uint8_t)n;
    slot[1] = ech ? NAME_ECH : 0;
    memcpy(slot + 2, res->name, n);
    /* res->url is "http://" name path when the path was visible, cut only at its buffer's end */
    size_t at = 7 + res->name_len;
    if (n && res->url_len > at && res->url_len < sizeof(res->url) - 1 && res->url_len - at <= 255 &&
        2 + n + 1 + (res->url_len - at) <= INLINE_NAME_SLOT) {
        slot[1] |= NAME_PATH;
        slot[2 + n] = (uint8_t)(res->url_len - at);
        memcpy(slot + 3 + n, res->url + at, res->url_len - at);
    }
}

/* Decides on the address alone (no readable request), or, with m other than METHOD_NONE, a
 * request that cannot be read within the bounds (inspect_halt.refuse): blocked by policy with
 * method m unless its address blocks it already or the subscriber's allow-list lets it through
 * (the packet engine's decide_by_policy()). Returns J_PASS or J_BLOCK; a block is a reset,
 * whatever the protocol (no request to answer). */
static enum judge judge_unread(struct worker *w, struct conn *c, enum verdict_method m,
                               bool *answer)
{
    struct inspect_request rq;
    struct inspect_flow fl;
    struct inspect_result *res = &w->res;
    memset(&rq, 0, sizeof(rq));
    rq.app = (enum verdict_app)c->app;
    fl.udp = false;
    fl.ipver = c->flags & F_V6 ? 6 : 4;
    fl.dst = c->dst;
    fl.src = c->src;
    fl.now = time(NULL);
    fl.tariff = w->p->cfg.tariff;
    CNT(w, by_address);
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(w->p->rules);
    inspect_decide(rs, &policy(w)->vp, &fl, &rq, rq.name, res);
    if (m != METHOD_NONE)
        (void)verdict_block_by_policy(&res->d, m, ACTION_RESET);
    report(w, c, rs, res, true, false, false);
    enum judge j = J_PASS;
    if (res->d.verdict == VERDICT_BLOCK) {
        CNT(w, blocked);
        CNT(w, blocked_reset);
        *answer = false;
        j = J_BLOCK;
    }
    rsref_read_unlock();
    return j;
}

static enum judge judge_address(struct worker *w, struct conn *c, bool *answer)
{
    return judge_unread(w, c, METHOD_NONE, answer);
}

/* Decides one parsed request: every name candidate (block if either does). */
static enum judge judge_request(struct worker *w, struct conn *c, const struct inspect_request *rq,
                                bool *answer)
{
    struct inspect_flow fl;
    struct inspect_result *res = &w->res;
    fl.udp = false;
    fl.ipver = c->flags & F_V6 ? 6 : 4;
    fl.dst = c->dst;
    fl.src = c->src;
    fl.now = time(NULL);
    fl.tariff = w->p->cfg.tariff;
    CNT(w, requests);
    enum judge j = J_PASS;
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(w->p->rules);
    inspect_decide(rs, &policy(w)->vp, &fl, rq, rq->name, res);
    report(w, c, rs, res, false, rq->ech, false);
    if (res->d.verdict != VERDICT_BLOCK)
        name_keep(w, c, res, rq->ech);
    if (res->d.verdict != VERDICT_BLOCK && rq->name2.len) {
        inspect_decide(rs, &policy(w)->vp, &fl, rq, rq->name2, res);
        report(w, c, rs, res, false, false, false);
    }
    if (res->d.verdict == VERDICT_BLOCK) {
        *answer = block_answer(w, c, rs, res);
        j = J_BLOCK;
    }
    rsref_read_unlock();
    return j;
}

/* True if a name of a request read only in part already blocks (inspect_blocks). */
static bool partial_blocks(struct worker *w, const struct conn *c, const struct inspect_request *rq)
{
    struct inspect_flow fl = { .udp = false,
                               .ipver = c->flags & F_V6 ? 6 : 4,
                               .dst = c->dst,
                               .src = c->src,
                               .now = time(NULL),
                               .tariff = w->p->cfg.tariff };
    rsref_read_lock();
    bool b = inspect_blocks(rsref_get(w->p->rules), &policy(w)->vp, &fl, rq, &w->res);
    rsref_read_unlock();
    return b;
}

/* h2c_conn_take(): a state whose connection closed (or whose slot was taken again) may be
 * taken back. */
static bool h2c_owner_alive(const void *owner, uint32_t id, void *ctx)
{
    const struct conn *c = owner;
    (void)ctx;
    return c->state != ST_FREE && c->gen == id && c->app == APP_H2C;
}

/* An HTTP request the proxy cannot frame (INSPECT_REST_UNFRAMED): a head larger than its
 * buffer (judged by a name read early, or with no name in the buffer at all), a head read only
 * by the lenient scan, or chunked framing that broke. Relaying the rest unjudged would let a
 * later request on the connection through to a server with larger or laxer limits than ours,
 * so the connection is refused, as nginx refuses such a head (431/400). */
static enum judge refuse_unframed(struct worker *w, bool *answer)
{
    CNT(w, unframed);
    *answer = false;
    return J_BLOCK;
}

/* Judging of c stops for the reason inspect_stream_next() / _passed() gave, as
 * inspect_stream_halt() says for every mode: a connection none of whose requests was decided is
 * judged on its address, an HTTP stream whose next request cannot be located is refused (the
 * proxy's answer to INSPECT_REST_UNFRAMED), and otherwise the rest is relayed as it is. */
static enum judge stop_judging(struct worker *w, struct conn *c, const struct inspect_stream *s,
                               enum inspect_stop why, bool *answer)
{
    struct inspect_halt h;
    inspect_stream_halt(s, why, &h);
    c->flags |= F_RAW | F_DECIDED;
    if (h.refuse != METHOD_NONE)
        return judge_unread(w, c, h.refuse, answer);
    if (h.by_address && judge_address(w, c, answer) == J_BLOCK)
        return J_BLOCK;
    if (h.rest == INSPECT_REST_UNFRAMED)
        return refuse_unframed(w, answer);
    return J_PASS;
}

/* Judges what is buffered past bsend and moves bsend over what may go to the server, walking
 * the client stream with inspect_stream_next() (inspect.h): the one policy, shared with the
 * packet engine, for what is judged on a kept-alive connection and when judging stops.
 * J_MORE: more client bytes are needed; J_PASS: progress (or raw); J_BLOCK: the request at
 * bsend is blocked (*answer: an answer was prepared in the buffer, else reset). */
static enum judge judge(struct worker *w, struct conn *c, bool *answer)
{
    uint8_t *b = buf_ptr(w, c);

    /* each pass returns, or moves into a body to skip, or sets F_RAW: at most three passes */
    for (unsigned guard = 0; guard < 4; guard++) {
        if (c->flags & F_RAW) {
            c->bsend = c->blen;
            return J_PASS;
        }
        if (c->body_left) {
            /* a judged request and its body, or chunked framing and data: they go out first;
             * a block answer would replace the buffer's contents */
            uint64_t k = c->blen - c->bsend;
            if (k > c->body_left)
                k = c->body_left;
            c->bsend += (uint32_t)k;
            c->body_left -= k;
            return J_PASS;
        }
        if (c->bsend == c->blen)
            return J_PASS;
        const uint8_t *d = b + c->bsend;
        size_t len = c->blen - c->bsend;
        /* the unjudged part fills the buffer (after compaction): nothing more will fit */
        bool full = c->bsend == 0 ? c->blen >= w->fbmax : false;
        struct inspect_stream s = { c->app, c->phase, (c->flags & F_DECIDED) != 0, NULL };
        if (w->h2 && inspect_stream_wants_h2(&s, d, len)) {
            if (s.app == APP_H2C) { /* past its preface: the state it took then */
                s.h2 = h2c_conn_find(w->h2, c, c->gen);
                if (!s.h2) {
                    /* given to a newer connection: its later streams cannot be decoded */
                    CNT(w, h2c_no_state);
                    c->flags |= F_RAW | F_DECIDED;
                    return judge_unread(w, c, METHOD_NO_ROOM, answer);
                }
            } else {
                s.h2 = h2c_conn_take(w->h2, c, c->gen, h2c_owner_alive, w);
                if (!s.h2)
                    CNT(w, h2c_no_state); /* only its first stream is judged */
            }
        }
        struct inspect_request rq;
        uint64_t skip = 0;
        enum inspect_stop why = INSPECT_STOP_DONE;
        enum dstatus st = DS_OK;
        enum inspect_step step =
            inspect_stream_next(&s, d, len, full, w->scratch, w->fbmax, &rq, &skip, &why, &st);
        c->app = s.app;
        c->phase = s.phase;
        if (step == INSPECT_MORE)
            return J_MORE;
        if (step == INSPECT_JUDGE) {
            if (inspect_request_pending(&rq, full) && !partial_blocks(w, c, &rq))
                return J_MORE; /* the name passes, but the rest may carry another: wait */
            if (rq.lenient)
                CNT(w, malformed); /* judged on its lenient reading (S10) */
            c->flags |= F_DECIDED;
            if (judge_request(w, c, &rq, answer) == J_BLOCK)
                return J_BLOCK;
            if (c->nreq < UINT16_MAX)
                c->nreq++;
            step = inspect_stream_passed(&s, &rq, &skip, &why);
            c->app = s.app;
            c->phase = s.phase;
            if (step == INSPECT_STOP) {
                /* a ClientHello, h2c: relayed; a head cut or read only leniently: refused */
                if (stop_judging(w, c, &s, why, answer) == J_BLOCK)
                    return J_BLOCK;
                continue;
            }
        }
        if (step == INSPECT_SKIP) {
            c->body_left = skip;
            continue;
        }
        /* INSPECT_STOP: a stream we cannot read */
        if (why == INSPECT_STOP_LIMIT)
            CNT(w, first_limit);
        else if (why == INSPECT_STOP_NOT_MINE)
            CNT(w, not_mine);
        else
            CNT(w, malformed);
        if (stop_judging(w, c, &s, why, answer) == J_BLOCK)
            return J_BLOCK;
    }
    c->flags |= F_RAW;
    c->bsend = c->blen;
    return J_PASS;
}

/* ---- state changes -------------------------------------------------------------------------- */

/* Starts sending the prepared answer to the client (c's buffer holds it), no server any more. */
static void start_send(struct worker *w, struct conn *c)
{
    fd_close(&c->sfd, false);
    pipe_put(w, &c->pipe_up, true);
    c->in_up = 0;
    c->state = ST_SEND;
    timer_start(w, c, T_CLOSE);
}

/* A request was blocked. In FIRST there is no server yet; later (HTTP keep-alive) the server
 * still owes answers to earlier requests: half-close it and let them through first. */
static void do_block(struct worker *w, struct conn *c, bool answer)
{
    if (!answer) {
        conn_close(w, c, true);
        return;
    }
    if (c->sfd >= 0 && c->state == ST_RELAY) {
        /* the answer waits in the buffer; nothing more goes up */
        if (!(c->flags & F_SRV_SHUT)) {
            (void)shutdown(c->sfd, SHUT_WR);
            c->flags |= F_SRV_SHUT;
        }
        c->state = ST_WAIT_SERVER;
        timer_start(w, c, T_CLOSE);
        return;
    }
    start_send(w, c);
}

static void start_connect(struct worker *w, struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = addr_to(c, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        CNT(w, connect_failed);
        conn_close(w, c, true);
        return;
    }
    /* TCP_NODELAY only: a server that vanishes silently is found by the idle timer (the
     * client's socket has keepalive from the listener, see listen_one) */
    set_nodelay(fd);
    c->sfd = fd;
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        CNT(w, connect_failed);
        conn_close(w, c, true);
        return;
    }
    if (ep_add(w, c, true) < 0) {
        CNT(w, connect_failed);
        conn_close(w, c, true);
        return;
    }
    c->state = ST_CONNECT;
    CNT(w, passed);
    timer_start(w, c, T_CONNECT);
}

/* ---- relaying ------------------------------------------------------------------------------- */

/* P_MORE: the step budget ran out before the socket said EAGAIN (see schedule) */
enum pump { P_WAIT, P_DONE, P_ERROR, P_BLOCK, P_MORE };

static bool again(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* The first read of a relayed direction in an event: recv into w->scratch (at most max bytes)
 * and send at once. Most flights (handshakes, small answers) fit, and a short read shows the
 * socket empty without the splice that would say EAGAIN. What the receiver does not take goes
 * into the direction's pipe (empty now, and INLINE_COPY_MAX fits even a two-page pipe), which
 * the splice path drains later. Returns the bytes read (0: EOF) or -1 with errno. */
static ssize_t copy_once(struct worker *w, int from, int to, size_t max, uint32_t *slot,
                         uint32_t *in_pipe, uint64_t *sent)
{
    *sent = 0;
    ssize_t n = recv(from, w->scratch, max, 0);
    if (n <= 0)
        return n;
    ssize_t m = send(to, w->scratch, (size_t)n, MSG_NOSIGNAL);
    if (m < 0 && !again())
        return -1;
    if (m < 0)
        m = 0;
    *sent = (uint64_t)m;
    if (m < n) {
        int rc = pipe_get(w, slot);
        if (rc < 0) {
            errno = -rc;
            return -1;
        }
        ssize_t k = write(w->pipe_used[*slot][1], w->scratch + m, (size_t)(n - m));
        if (k != n - m) {
            errno = EPIPE;
            return -1;
        }
        *in_pipe = (uint32_t)k;
    }
    return n;
}

/* Client -> server: approved buffered bytes, then the pipe, then judging, then reading more.
 * Without a server yet (FIRST) it only reads and judges. */
static enum pump pump_up(struct worker *w, struct conn *c, bool *answer)
{
    bool drained = false; /* a recv came back short: the socket had nothing more then */
    bool copied = false;  /* copy_once ran: further reads of this call splice */
    if (c->flags & F_CLI_DRY) {
        drained = !(c->flags & F_CLI_HUP);
        c->flags &= (uint16_t)~F_CLI_DRY;
    }
    for (unsigned step = 0; step < INLINE_PUMP_BUDGET; step++) {
        bool connected = c->state == ST_RELAY;
        if (connected && c->buf != NO_IDX && c->boff < c->bsend) {
            ssize_t n = send(c->sfd, buf_ptr(w, c) + c->boff, c->bsend - c->boff, MSG_NOSIGNAL);
            if (n < 0)
                return again() ? P_WAIT : P_ERROR;
            c->boff += (uint32_t)n;
            CNT_ADD(w, bytes_up, (uint64_t)n);
            continue;
        }
        if (connected && c->in_up) {
            ssize_t n = splice(w->pipe_used[c->pipe_up][0], NULL, c->sfd, NULL, c->in_up,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n < 0)
                return again() ? P_WAIT : P_ERROR;
            c->in_up -= (uint32_t)n;
            CNT_ADD(w, bytes_up, (uint64_t)n);
            continue;
        }
        pipe_put(w, &c->pipe_up, false);
        if (c->buf != NO_IDX && c->bsend < c->blen) {
            uint32_t before = c->bsend;
            enum judge j = judge(w, c, answer);
            if (j == J_BLOCK)
                return P_BLOCK;
            if (!connected && (c->flags & F_DECIDED))
                return P_DONE; /* FIRST: decided to pass */
            if (c->bsend != before)
                continue;
        }
        if (c->buf != NO_IDX && c->boff == c->blen)
            buf_put(w, c);
        if (c->flags & F_CLI_EOF) {
            if (!connected)
                return P_DONE; /* FIRST: the client finished before a decision */
            if (c->buf != NO_IDX && c->bsend < c->blen) {
                /* an incomplete request the client will never finish: the server gets it */
                c->bsend = c->blen;
                continue;
            }
            /* the server finished already: closing both (relay) sends this FIN */
            if (!(c->flags & F_SRV_SHUT) && !((c->flags & F_SRV_EOF) && !c->in_down))
                (void)shutdown(c->sfd, SHUT_WR);
            c->flags |= F_SRV_SHUT;
            return P_DONE;
        }
        if (connected && c->buf == NO_IDX && ((c->flags & F_RAW) || c->body_left)) {
            size_t want = INLINE_SPLICE_MAX;
            if (!(c->flags & F_RAW) && c->body_left < want)
                want = (size_t)c->body_left;
            if (drained)
                return P_WAIT;
            if (!copied && !(c->flags & F_UP_BULK)) {
                copied = true;
                size_t cmax = want < INLINE_COPY_MAX ? want : INLINE_COPY_MAX;
                uint64_t sent;
                ssize_t n = copy_once(w, c->cfd, c->sfd, cmax, &c->pipe_up, &c->in_up, &sent);
                CNT_ADD(w, bytes_up, sent);
                if (n < 0)
                    return again() ? P_WAIT : P_ERROR;
                if (n == 0) {
                    c->flags |= F_CLI_EOF;
                    continue;
                }
                if (!(c->flags & F_RAW))
                    c->body_left -= (uint64_t)n;
                if (c->in_up)
                    return P_WAIT; /* the server's EPOLLOUT resumes */
                drained = (size_t)n < cmax && !(c->flags & F_CLI_HUP);
                if (n == INLINE_COPY_MAX)
                    c->flags |= F_UP_BULK;
                continue;
            }
            if (pipe_get(w, &c->pipe_up) < 0)
                return P_ERROR;
            ssize_t n = splice(c->cfd, NULL, w->pipe_used[c->pipe_up][1], NULL, want,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (!copied && n < INLINE_COPY_MAX)
                c->flags &= (uint16_t)~F_UP_BULK; /* the first read was small: copy again */
            copied = true;
            if (n < 0) {
                if (again()) {
                    pipe_put(w, &c->pipe_up, false);
                    return P_WAIT;
                }
                return P_ERROR;
            }
            if (n == 0) {
                c->flags |= F_CLI_EOF;
                continue;
            }
            c->in_up = (uint32_t)n;
            if (!(c->flags & F_RAW))
                c->body_left -= (uint64_t)n;
            continue;
        }
        /* read into the buffer for judging */
        if (!buf_get(w, c)) {
            CNT(w, no_buffer);
            return P_ERROR;
        }
        uint8_t *b = buf_ptr(w, c);
        if (c->boff > 0) {
            /* everything before boff was sent: slide the rest to the front */
            memmove(b, b + c->boff, c->blen - c->boff);
            c->blen -= c->boff;
            c->bsend -= c->boff;
            c->boff = 0;
        }
        if (c->blen >= w->fbmax) {
            /* judge() declares the limit on a full buffer; nothing can be read now */
            enum judge j = judge(w, c, answer);
            if (j == J_BLOCK)
                return P_BLOCK;
            if (!connected && (c->flags & F_DECIDED))
                return P_DONE;
            continue;
        }
        if (drained) {
            /* edge-triggered: bytes arriving after that recv raise a new event */
            if (c->blen == 0)
                buf_put(w, c);
            return P_WAIT;
        }
        size_t room = w->fbmax - c->blen;
        ssize_t n = recv(c->cfd, b + c->blen, room, 0);
        if (n <= 0 && c->blen == 0)
            buf_put(w, c); /* an idle connection holds no buffer */
        if (n < 0)
            return again() ? P_WAIT : P_ERROR;
        if (n == 0) {
            c->flags |= F_CLI_EOF;
            continue;
        }
        drained = (size_t)n < room && !(c->flags & F_CLI_HUP);
        c->flags = (uint16_t)(drained ? c->flags | F_CLI_SHORT : c->flags & ~F_CLI_SHORT);
        c->blen += (uint32_t)n;
        if (c->state == ST_FIRST)
            timer_start(w, c, T_FIRST); /* the timer bounds silence, not the judgement */
    }
    return P_MORE;
}

/* Server -> client through the pipe. */
static enum pump pump_down(struct worker *w, struct conn *c)
{
    bool copied = false; /* copy_once ran: further reads of this call splice */
    for (unsigned step = 0; step < INLINE_PUMP_BUDGET; step++) {
        if (c->in_down) {
            ssize_t n = splice(w->pipe_used[c->pipe_down][0], NULL, c->cfd, NULL, c->in_down,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n < 0)
                return again() ? P_WAIT : P_ERROR;
            c->in_down -= (uint32_t)n;
            CNT_ADD(w, bytes_down, (uint64_t)n);
            continue;
        }
        pipe_put(w, &c->pipe_down, false);
        if (c->flags & F_SRV_EOF) {
            /* the client finished already: closing both (relay) sends this FIN */
            if (c->state == ST_RELAY && !(c->flags & F_CLI_SHUT) &&
                !((c->flags & F_CLI_EOF) && (c->flags & F_SRV_SHUT)))
                (void)shutdown(c->cfd, SHUT_WR);
            c->flags |= F_CLI_SHUT;
            return P_DONE;
        }
        if (!copied && !(c->flags & F_DOWN_BULK)) {
            copied = true;
            uint64_t sent;
            ssize_t n =
                copy_once(w, c->sfd, c->cfd, INLINE_COPY_MAX, &c->pipe_down, &c->in_down, &sent);
            CNT_ADD(w, bytes_down, sent);
            if (n < 0)
                return again() ? P_WAIT : P_ERROR;
            if (n == 0) {
                c->flags |= F_SRV_EOF;
                continue;
            }
            if (c->in_down || ((size_t)n < INLINE_COPY_MAX && !(c->flags & F_SRV_HUP)))
                return P_WAIT; /* the client's EPOLLOUT resumes, or the socket is empty */
            if (n == INLINE_COPY_MAX)
                c->flags |= F_DOWN_BULK;
            continue;
        }
        if (pipe_get(w, &c->pipe_down) < 0)
            return P_ERROR;
        ssize_t n = splice(c->sfd, NULL, w->pipe_used[c->pipe_down][1], NULL, INLINE_SPLICE_MAX,
                           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (!copied && n < INLINE_COPY_MAX)
            c->flags &= (uint16_t)~F_DOWN_BULK; /* the first read was small: copy again */
        copied = true;
        if (n < 0) {
            if (again()) {
                pipe_put(w, &c->pipe_down, false);
                return P_WAIT;
            }
            return P_ERROR;
        }
        if (n == 0) {
            c->flags |= F_SRV_EOF;
            continue;
        }
        c->in_down = (uint32_t)n;
    }
    return P_MORE;
}

/* Writes the prepared answer (SEND), then closes. Closing with unread bytes in the socket
 * would reset the connection and could destroy the answer before the client reads it (RFC 9112
 * section 9.6), so one non-blocking read looks: nothing there (the usual case, a client waiting
 * for its answer) closes at once; bytes there half-close and drain the client (LINGER) until it
 * closes or the close timer fires. */
static void pump_send(struct worker *w, struct conn *c)
{
    while (c->boff < c->blen) {
        ssize_t n = send(c->cfd, buf_ptr(w, c) + c->boff, c->blen - c->boff, MSG_NOSIGNAL);
        if (n < 0) {
            if (again())
                return;
            conn_close(w, c, true);
            return;
        }
        c->boff += (uint32_t)n;
    }
    buf_put(w, c);
    ssize_t n = recv(c->cfd, w->scratch, w->p->bufsize, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && again())) {
        conn_close(w, c, false);
        return;
    }
    if (n < 0) {
        conn_close(w, c, true);
        return;
    }
    (void)shutdown(c->cfd, SHUT_WR);
    c->state = ST_LINGER;
    /* the close timer keeps running from the block */
}

/* Reads and discards what the client still sends, so closing does not reset the answer away. */
static void pump_linger(struct worker *w, struct conn *c)
{
    for (unsigned step = 0; step < INLINE_PUMP_BUDGET; step++) {
        ssize_t n = recv(c->cfd, w->scratch, w->p->bufsize, 0);
        if (n > 0)
            continue;
        if (n < 0 && again())
            return;
        conn_close(w, c, false);
        return;
    }
    schedule(w, c, AG_UP);
}

/* Both directions of a relayed connection, or the ones an event concerns (up: client readable
 * or server writable; down: server readable or client writable). Sockets are registered once,
 * edge-triggered, so a direction runs until EAGAIN or its budget (then schedule). */
static void relay(struct worker *w, struct conn *c, bool do_up, bool do_down)
{
    bool answer = false;
    enum pump up = P_DONE;
    if (c->state == ST_RELAY) {
        if (do_up) {
            up = pump_up(w, c, &answer);
        } else {
            up = (c->flags & F_CLI_EOF) && (c->flags & F_SRV_SHUT) ? P_DONE : P_WAIT;
        }
        if (up == P_ERROR) {
            CNT(w, relay_errors);
            conn_close(w, c, true);
            return;
        }
        if (up == P_BLOCK) {
            do_block(w, c, answer);
            if (c->state == ST_FREE)
                return;
            do_down = true; /* WAIT_SERVER: the server may have finished already */
        }
    }
    enum pump down;
    if (do_down)
        down = pump_down(w, c);
    else
        down = (c->flags & F_SRV_EOF) && !c->in_down ? P_DONE : P_WAIT;
    if (down == P_ERROR) {
        CNT(w, relay_errors);
        conn_close(w, c, true);
        return;
    }
    if (c->state == ST_WAIT_SERVER) {
        if (down == P_DONE) {
            start_send(w, c);
            pump_send(w, c);
            return;
        }
    } else if (down == P_DONE && up == P_DONE && (c->flags & F_CLI_EOF) && (c->flags & F_SRV_EOF)) {
        conn_close(w, c, false);
        return;
    }
    if (up == P_MORE || down == P_MORE)
        schedule(w, c, (uint8_t)((up == P_MORE ? AG_UP : 0) | (down == P_MORE ? AG_DOWN : 0)));
    if (c->state == ST_RELAY)
        timer_start(w, c, T_IDLE); /* every event is traffic: the idle time starts again */
}

/* FIRST: read and judge until a decision. */
static void first(struct worker *w, struct conn *c)
{
    bool answer = false;
    enum pump r = pump_up(w, c, &answer);
    switch (r) {
    case P_WAIT: return;
    case P_MORE: schedule(w, c, AG_UP); return;
    case P_ERROR: conn_close(w, c, true); return;
    case P_BLOCK:
        timer_stop(w, c);
        do_block(w, c, answer);
        if (c->state == ST_SEND)
            pump_send(w, c);
        return;
    case P_DONE: break;
    }
    if (!(c->flags & F_DECIDED)) {
        /* the client half-closed before a complete request */
        if (c->blen == 0) {
            conn_close(w, c, false);
            return;
        }
        c->flags |= F_RAW | F_DECIDED;
        if (judge_address(w, c, &answer) == J_BLOCK) {
            conn_close(w, c, true);
            return;
        }
        c->bsend = c->blen;
    }
    timer_stop(w, c);
    start_connect(w, c);
}

/* The server socket became writable without an error (dispatch handled EPOLLERR/EPOLLHUP):
 * the connection is up, no SO_ERROR to ask. The approved bytes go up; the client is read only
 * if it sent more meanwhile (the last read before connecting came back short, so an event says
 * so), the server only if this event says it spoke already. */
static void connected(struct worker *w, struct conn *c, bool server_in)
{
    timer_stop(w, c);
    c->state = ST_RELAY;
    if ((c->flags & F_CLI_SHORT) && !(c->flags & F_CLI_MORE))
        c->flags |= F_CLI_DRY;
    relay(w, c, true, server_in);
}

static void on_timer(struct worker *w, struct conn *c)
{
    enum timer_kind k = (enum timer_kind)c->tkind;
    timer_stop(w, c);
    switch (k) {
    case T_FIRST: {
        CNT(w, first_timeout);
        bool answer = false;
        if (c->blen > 0 && policy(w)->incomplete == INLINE_INCOMPLETE_RESET) {
            /* part of a request, then silence: what was sent may name a blocked site and the
             * rest may come later; relaying it unjudged would let the name through */
            CNT(w, incomplete_reset);
            conn_close(w, c, true);
            return;
        }
        c->flags |= F_DECIDED;
        if (judge_address(w, c, &answer) == J_BLOCK) {
            conn_close(w, c, true);
            return;
        }
        if (c->blen > 0) {
            /* inline.incomplete_request = address: the operator chose to relay it unjudged */
            c->flags |= F_RAW;
            c->bsend = c->blen;
        }
        /* A silent client (a protocol where the server speaks first) is connected, and what it
         * sends later is still judged as a first request. */
        start_connect(w, c);
        return;
    }
    case T_IDLE:
        CNT(w, idle_timeout);
        conn_close(w, c, true);
        return;
    case T_CONNECT:
        CNT(w, connect_failed);
        conn_close(w, c, true);
        return;
    case T_CLOSE:
        if (c->state == ST_WAIT_SERVER) {
            /* the server did not finish in time: answer anyway */
            start_send(w, c);
            pump_send(w, c);
            return;
        }
        conn_close(w, c, c->state == ST_SEND);
        return;
    case T_NONE:
    case T_KINDS: break;
    }
}

static void run_timers(struct worker *w)
{
    for (unsigned k = T_FIRST; k < T_KINDS; k++) {
        while (w->timers[k].head != NO_IDX) {
            struct conn *c = &w->conns[w->timers[k].head];
            if (c->deadline > w->now)
                break;
            on_timer(w, c);
        }
    }
}

static int next_timeout(const struct worker *w, int cap)
{
    int t = cap;
    for (unsigned k = T_FIRST; k < T_KINDS; k++) {
        uint32_t h = w->timers[k].head;
        if (h == NO_IDX)
            continue;
        uint64_t d = w->conns[h].deadline;
        int left = d <= w->now ? 0 : (int)(d - w->now);
        if (t < 0 || left < t)
            t = left;
    }
    if (w->accept_paused) {
        int left = w->accept_resume <= w->now ? 0 : (int)(w->accept_resume - w->now);
        if (t < 0 || left < t)
            t = left;
    }
    return t;
}

/* ---- accepting ------------------------------------------------------------------------------ */

/* The pool is full: resets the connection that has been silent longest before its first
 * request (the head of the first-bytes timer list), so a flood of half-sent requests cannot
 * lock every other subscriber out. Returns the freed slot, or NULL when no connection is
 * waiting for its first request. */
static struct conn *evict_first(struct worker *w)
{
    uint32_t h = w->timers[T_FIRST].head;
    if (h == NO_IDX)
        return NULL;
    CNT(w, evicted_first);
    conn_close(w, &w->conns[h], true);
    return conn_alloc(w);
}

static int take(struct worker *w, int fd, const struct sockaddr_storage *dst,
                const struct sockaddr_storage *src)
{
    uint8_t sa[16] = { 0 };
    uint16_t sport = 0;
    bool v6 = false, v6s = false;
    uint8_t key[16];
    if (src) {
        addr_from(src, sa, &sport, &v6s);
        src_key(w, sa, v6s, key);
    }
    if (src && !src_take(w, key)) {
        CNT(w, refused_source);
        fd_close(&fd, true);
        return -EUSERS;
    }
    struct conn *c = conn_alloc(w);
    if (!c)
        c = evict_first(w);
    if (!c) {
        if (src)
            src_put(w, key);
        CNT(w, refused_full);
        fd_close(&fd, true);
        return -ENOSPC;
    }
    addr_from(dst, c->dst, &c->dport, &v6);
    memcpy(c->src, sa, 16);
    c->sport = sport;
    c->cfd = fd;
    c->flags = (v6 ? F_V6 : 0) | (src ? F_SRC : 0) | (v6s ? F_SRC_V6 : 0);
    c->state = ST_FIRST;
    CNT(w, accepted);
    CNT(w, active);
    /* TCP_NODELAY and keepalive come from the listener (listen_one); an adopted socket keeps
     * its own. Registered once for its lifetime: a request already there raises the first
     * event at once. */
    int rc = ep_add(w, c, false);
    if (rc < 0) {
        conn_close(w, c, true);
        return rc;
    }
    timer_start(w, c, T_FIRST);
    return 0;
}

/* The original destination: TPROXY keeps it as the local address; REDIRECT rewrote it and
 * conntrack remembers it. */
static int orig_dst(int fd, bool redirect, int family, struct sockaddr_storage *ss)
{
    socklen_t sl = sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    if (!redirect)
        return getsockname(fd, (struct sockaddr *)ss, &sl) < 0 ? -errno : 0;
    if (family == AF_INET6)
        return getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, &sl) < 0 ? -errno : 0;
    return getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, &sl) < 0 ? -errno : 0;
}

static bool is_own_listener(const struct inline_proxy *p, const struct sockaddr_storage *ss)
{
    uint8_t a[16];
    uint16_t port = 0;
    bool v6;
    addr_from(ss, a, &port, &v6);
    return port != 0 && (port == p->port[0] || port == p->port[1]);
}

/* Out of descriptors (or kernel memory): the pending connection stays in the backlog and the
 * listeners would wake the loop at once, forever. Take them out of epoll for a moment. */
static void accept_pause(struct worker *w)
{
    if (w->accept_paused)
        return;
    for (unsigned i = 0; i < INLINE_LISTENERS; i++)
        if (w->lfd[i] >= 0)
            (void)epoll_ctl(w->ep, EPOLL_CTL_DEL, w->lfd[i], NULL);
    w->accept_paused = true;
    w->accept_resume = w->now + INLINE_ACCEPT_PAUSE_MS;
    CNT(w, accept_paused);
}

static int listener_add(struct worker *w, unsigned i)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = TAG_LISTENER | i;
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd[i], &ev) < 0 ? -errno : 0;
}

static void accept_resume(struct worker *w)
{
    if (!w->accept_paused || w->now < w->accept_resume)
        return;
    for (unsigned i = 0; i < INLINE_LISTENERS; i++)
        if (w->lfd[i] >= 0)
            (void)listener_add(w, i);
    w->accept_paused = false;
}

/* The listeners are level-triggered: one accept per event saves the accept that would say
 * EAGAIN, and a backlog is reported again at the next epoll_wait. A busy worker (a full batch
 * of events) accepts up to INLINE_ACCEPT_BUDGET at once instead. */
static void do_accept(struct worker *w, unsigned li, bool busy)
{
    int lfd = w->lfd[li];
    bool redirect = w->lredirect[li];
    unsigned budget = busy ? INLINE_ACCEPT_BUDGET : 1;
    for (unsigned i = 0; i < budget; i++) {
        struct sockaddr_storage src, dst;
        socklen_t sl = sizeof(src);
        int fd = accept4(lfd, (struct sockaddr *)&src, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(w);
            return;
        }
        if (orig_dst(fd, redirect, src.ss_family, &dst) < 0) {
            CNT(w, orig_dst_failed);
            fd_close(&fd, true);
            continue;
        }
        if (is_own_listener(w->p, &dst)) {
            /* a client connected to the proxy port itself: relaying would loop */
            CNT(w, refused_loop);
            fd_close(&fd, true);
            continue;
        }
        (void)take(w, fd, &dst, &src);
    }
}

int inline_adopt(struct inline_proxy *p, unsigned worker, int fd, const struct sockaddr *orig,
                 socklen_t len)
{
    if (!p || worker >= p->nw || !orig || len > sizeof(struct sockaddr_storage) ||
        (orig->sa_family != AF_INET && orig->sa_family != AF_INET6)) {
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    struct worker *w = &p->w[worker];
    struct sockaddr_storage dst, src;
    socklen_t sl = sizeof(src);
    memcpy(&dst, orig, len);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    w->now = clock_mono_ms();
    set_nodelay(fd); /* not accepted from our listener: nothing inherited */
    keepalive(fd);
    bool have_src = getpeername(fd, (struct sockaddr *)&src, &sl) == 0;
    return take(w, fd, &dst, have_src ? &src : NULL);
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void dispatch(struct worker *w, struct conn *c, bool server, uint32_t events)
{
    if (unlikely(events & EPOLLERR) ||
        (unlikely(events & EPOLLHUP) && server && c->state == ST_CONNECT)) {
        /* a reset or an unreachable peer: nothing more can be delivered on this side */
        if (c->state == ST_CONNECT && server)
            CNT(w, connect_failed);
        else if (c->state == ST_RELAY || c->state == ST_WAIT_SERVER)
            CNT(w, relay_errors);
        conn_close(w, c, true);
        return;
    }
    bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    bool out = events & (EPOLLOUT | EPOLLHUP);
    if (events & (EPOLLRDHUP | EPOLLHUP))
        c->flags |= server ? F_SRV_HUP : F_CLI_HUP;
    switch (c->state) {
    case ST_FIRST:
        if (!server && in)
            first(w, c);
        break;
    case ST_CONNECT:
        /* the client's bytes wait in its socket until connected() reads them */
        if (server && out)
            connected(w, c, in);
        else if (!server && in)
            c->flags |= F_CLI_MORE;
        break;
    case ST_RELAY:
    case ST_WAIT_SERVER: {
        /* writable matters only with bytes waiting for that socket: an edge-triggered
         * EPOLLOUT comes with every ACK that frees send space */
        bool up_waiting = (c->buf != NO_IDX && c->boff < c->bsend) || c->in_up;
        bool up = server ? out && up_waiting : in;
        bool down = server ? in : out && c->in_down;
        if (up || down)
            relay(w, c, up, down);
        break;
    }
    case ST_SEND:
        if (server)
            break;
        if (events & EPOLLHUP)
            conn_close(w, c, true);
        else if (out)
            pump_send(w, c);
        break;
    case ST_LINGER:
        if (!server && in)
            pump_linger(w, c);
        break;
    default: break;
    }
}

/* The connections whose pump budget ran out: one more round each (each may schedule again). */
static void run_ready(struct worker *w)
{
    uint32_t n = w->nready;
    for (uint32_t i = 0; i < n; i++) {
        struct conn *c = &w->conns[w->ready[i]];
        uint8_t dirs = c->again & (AG_UP | AG_DOWN);
        c->again = 0;
        switch (c->state) {
        case ST_FIRST:
            if (dirs & AG_UP)
                first(w, c);
            break;
        case ST_RELAY:
        case ST_WAIT_SERVER:
            if (dirs)
                relay(w, c, dirs & AG_UP, dirs & AG_DOWN);
            break;
        case ST_LINGER:
            if (dirs & AG_UP)
                pump_linger(w, c);
            break;
        default: break;
        }
    }
    /* entries added meanwhile were appended after n */
    memmove(w->ready, w->ready + n, (w->nready - n) * sizeof(*w->ready));
    w->nready -= n;
}

/* ---- connections passed under an earlier rule set ------------------------------------------ */

/* A connection passed before its name or server's address was listed would outlive the order:
 * a messenger's connection held open for hours, a tunnel on 443, a long download. After every
 * publication (of the rule set or of the tariff table; with tariffs also every
 * tariff_recheck_ms, for schedules and subscribers moved) each worker judges its passed
 * connections again - the name each was passed on
 * (name_keep()) and its original destination, as a new connection to them would be - and
 * resets those the new rule set blocks (counted in inline.cut, reported as blocks with cut
 * set). INLINE_SWEEP_STEP slots per loop, the loops back to back while it lasts, so a worker
 * with many connections goes on serving between steps. A newer publication mid-way makes the
 * walk go on from where it is for a whole turn more: publications faster than a walk cannot
 * keep it from the slots past its start. */
static void rejudge(struct worker *w)
{
    uint64_t v = rsref_version(w->p->rules);
    const struct verdict_tariff *vt = w->p->cfg.tariff;
    uint64_t tv = vt ? tariff_version(vt->tariff) : 0;
    bool due = vt && vt->tariff && w->now >= w->recheck_at;
    if (v != w->rules_seen || tv != w->tariff_seen || due) {
        w->rules_seen = v;
        w->tariff_seen = tv;
        w->recheck_at = w->now + w->p->cfg.tariff_recheck_ms;
        if (!w->sweeping)
            w->sweep_next = 0;
        w->sweep_left = w->conn_hw;
        w->sweeping = w->conn_hw > 0;
    }
    if (!w->sweeping)
        return;
    uint32_t step = w->p->cfg.rejudge_step && w->p->cfg.rejudge_step < INLINE_SWEEP_STEP
                        ? w->p->cfg.rejudge_step
                        : INLINE_SWEEP_STEP;
    uint32_t n = w->sweep_left < step ? w->sweep_left : step;
    uint32_t cut[INLINE_SWEEP_STEP], ncut = 0;
    struct inspect_flow fl;
    memset(&fl, 0, sizeof(fl));
    fl.now = time(NULL);
    fl.tariff = w->p->cfg.tariff;
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(w->p->rules);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = w->sweep_next++;
        if (w->sweep_next >= w->conn_hw)
            w->sweep_next = 0;
        struct conn *c = &w->conns[i];
        if ((c->state != ST_CONNECT && c->state != ST_RELAY) || !(c->flags & F_DECIDED))
            continue;
        const uint8_t *slot = w->names + (size_t)i * INLINE_NAME_SLOT;
        bool ech = slot[1] & NAME_ECH;
        fl.ipver = c->flags & F_V6 ? 6 : 4;
        fl.dst = c->dst;
        fl.src = c->src;
        const char *path = NULL;
        size_t plen = 0;
        if (slot[1] & NAME_PATH) {
            plen = slot[2 + slot[0]];
            path = (const char *)slot + 3 + slot[0];
        }
        inspect_decide_kept_path(rs, &policy(w)->vp, &fl, (enum verdict_app)c->app, ech,
                                 (const char *)slot + 2, slot[0], path, plen, &w->res);
        if (w->res.d.verdict != VERDICT_BLOCK)
            continue;
        report(w, c, rs, &w->res, slot[0] == 0, ech, true);
        cut[ncut++] = i;
    }
    rsref_read_unlock();
    w->sweep_left -= n;
    w->sweeping = w->sweep_left > 0;
    for (uint32_t k = 0; k < ncut; k++) {
        conn_close(w, &w->conns[cut[k]], true);
        CNT(w, cut);
    }
}

int inline_run_once(struct inline_proxy *p, unsigned worker, int timeout_ms)
{
    if (!p || worker >= p->nw)
        return -EINVAL;
    struct worker *w = &p->w[worker];
    struct epoll_event evs[INLINE_EVENTS];
    w->now = clock_mono_ms();
    settings_sync(w);
    rejudge(w);
    accept_resume(w);
    int n = epoll_wait(w->ep, evs, INLINE_EVENTS,
                       w->nready || w->sweeping ? 0 : next_timeout(w, timeout_ms));
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    w->now = clock_mono_ms();
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag & TAG_LISTENER) {
            if (!w->accept_paused)
                do_accept(w, (unsigned)(tag & 0xff), n == INLINE_EVENTS);
            continue;
        }
        struct conn *c = &w->conns[(uint32_t)tag >> 1];
        bool server = tag & 1;
        /* an event for a slot closed earlier in this batch, or closed and taken again by a new
         * connection (another generation) */
        if (c->state == ST_FREE || (uint32_t)(tag >> 32) != (c->gen & TAG_GEN_MASK) ||
            (server ? c->sfd : c->cfd) < 0)
            continue;
        dispatch(w, c, server, evs[i].events);
    }
    run_ready(w);
    run_timers(w);
    accept_resume(w);
    return n;
}

int inline_run_worker(struct inline_proxy *p, unsigned worker, volatile const int *stop)
{
    if (!p || worker >= p->nw)
        return -EINVAL;
    int rc = 0;
    rsref_thread_register();
    while (!*stop) {
        int n = inline_run_once(p, worker, 100);
        if (n < 0) {
            rc = n;
            break;
        }
    }
    rsref_thread_unregister();
    return rc;
}

/* ---- set-up --------------------------------------------------------------------------------- */

static int listen_one(int family, const uint8_t *addr, unsigned port, bool transparent,
                      unsigned *bound, char *err, size_t errlen, const char *what)
{
    int one = 1;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step = "socket";
    struct sockaddr_storage ss;
    socklen_t sl;
    if (fd < 0)
        goto fail;
    step = "SO_REUSEADDR";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    step = "SO_REUSEPORT";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    /* accepted sockets inherit both from the listener (Linux copies the TCP socket), which
     * saves five setsockopt calls per connection */
    set_nodelay(fd);
    keepalive(fd);
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        step = "IPV6_V6ONLY";
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
            goto fail;
        step = "IPV6_TRANSPARENT";
        if (transparent && setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0)
            goto fail;
        s6->sin6_family = AF_INET6;
        if (addr)
            memcpy(s6->sin6_addr.s6_addr, addr, 16);
        else
            s6->sin6_addr = in6addr_any;
        s6->sin6_port = htons((uint16_t)*bound);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        step = "IP_TRANSPARENT";
        if (transparent && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0)
            goto fail;
        s4->sin_family = AF_INET;
        if (addr)
            memcpy(&s4->sin_addr, addr, 4);
        else
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
        s4->sin_port = htons((uint16_t)*bound);
        sl = sizeof(*s4);
    }
    step = "bind";
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
        goto fail;
    step = "listen";
    if (listen(fd, 4096) < 0)
        goto fail;
    if (*bound == 0) {
        sl = sizeof(ss);
        step = "getsockname";
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
            goto fail;
        *bound = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    (void)port;
    return fd;
fail:
    snprintf(err, errlen, "inline: %s %u (%s): %s: %s", what, port,
             family == AF_INET6 ? "IPv6" : "IPv4", step, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int worker_init(struct inline_proxy *p, struct worker *w, unsigned id, uint32_t nconns,
                       uint32_t nbufs, char *err, size_t errlen)
{
    w->p = p;
    w->id = id;
    for (unsigned i = 0; i < INLINE_LISTENERS; i++)
        w->lfd[i] = -1;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->nconns = nconns;
    w->conns = calloc(nconns, sizeof(*w->conns));
    w->nbufs = nbufs;
    w->bufmem = malloc((size_t)nbufs * p->bufsize);
    w->buf_free = calloc(nbufs, sizeof(*w->buf_free));
    w->npipe_slots = 2 * nconns;
    w->pipe_used = calloc(w->npipe_slots, sizeof(*w->pipe_used));
    w->pipe_slot_free = calloc(w->npipe_slots, sizeof(*w->pipe_slot_free));
    w->pipes = calloc(INLINE_PIPES_KEPT, sizeof(*w->pipes));
    w->scratch = malloc(p->bufsize > INLINE_COPY_MAX ? p->bufsize : INLINE_COPY_MAX);
    w->ready = calloc(nconns, sizeof(*w->ready));
    w->ready_cap = nconns;
    uint32_t nsrc = 16;
    while (nsrc < 2 * nconns)
        nsrc <<= 1;
    w->srcs = calloc(nsrc, sizeof(*w->srcs));
    w->srcs_mask = nsrc - 1;
    unsigned nh2 = p->cfg.h2c_states ? p->cfg.h2c_states : INLINE_H2C_STATES;
    w->h2 = h2c_pool_new(nconns < nh2 ? nconns : nh2);
    w->names = mmap(NULL, (size_t)nconns * INLINE_NAME_SLOT, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w->names == MAP_FAILED)
        w->names = NULL;
    w->rules_seen = rsref_version(p->rules);
    w->tariff_seen = p->cfg.tariff ? tariff_version(p->cfg.tariff->tariff) : 0;
    w->recheck_at = clock_mono_ms() + p->cfg.tariff_recheck_ms;
    if (w->ep < 0 || !w->names || !w->conns || !w->bufmem || !w->buf_free || !w->pipe_used ||
        !w->pipe_slot_free || !w->pipes || !w->scratch || !w->ready || !w->srcs || !w->h2) {
        snprintf(err, errlen, "inline: worker %u: out of memory (%u connections, %u buffers)", id,
                 nconns, nbufs);
        return -ENOMEM;
    }
    w->free_head = NO_IDX;
    w->conn_hw = 0;
    for (uint32_t i = 0; i < nbufs; i++)
        w->buf_free[w->buf_free_n++] = nbufs - 1 - i;
    for (unsigned k = 0; k < T_KINDS; k++)
        w->timers[k].head = w->timers[k].tail = NO_IDX;
    settings_sync(w);
    return 0;
}

static int worker_listen(struct inline_proxy *p, struct worker *w, char *err, size_t errlen)
{
    const struct inline_config *cfg = &p->cfg;
    unsigned n = 0;
    for (unsigned kind = 0; kind < 2; kind++) {
        unsigned port = kind ? cfg->redirect_port : cfg->tproxy_port;
        if (port == 0)
            continue;
        for (unsigned fam = 0; fam < 2; fam++) {
            int family = fam ? AF_INET6 : AF_INET;
            const uint8_t *addr = NULL;
            if (cfg->listen_family != 0) {
                if (cfg->listen_family != family)
                    continue;
                addr = cfg->listen_addr;
            } else if (fam == 1 && !cfg->ipv6) {
                continue;
            }
            unsigned bound = p->port[kind] ? p->port[kind] : (port == INLINE_PORT_ANY ? 0 : port);
            int fd = listen_one(family, addr, port, kind == 0, &bound, err, errlen,
                                kind ? "redirect_port" : "tproxy_port");
            if (fd < 0)
                return -1;
            p->port[kind] = bound;
            struct epoll_event ev;
            memset(&ev, 0, sizeof(ev));
            ev.events = EPOLLIN;
            ev.data.u64 = TAG_LISTENER | n;
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                snprintf(err, errlen, "inline: epoll_ctl: %s", strerror(errno));
                close(fd);
                return -1;
            }
            w->lfd[n] = fd;
            w->lredirect[n] = kind == 1;
            n++;
        }
    }
    return 0;
}

static struct policy_rec *policy_new(const struct inline_config *cfg);

/* What is wrong with the reloadable settings of cfg, or NULL. */
static const char *settings_bad(const struct inline_config *cfg)
{
    if (cfg->first_bytes_max < 512 || cfg->first_bytes_max > INLINE_FIRST_BYTES_MAX)
        return "first_bytes_max out of range 512..1048576";
    if (cfg->first_bytes_timeout_ms < 1 || cfg->connect_timeout_ms < 1 ||
        cfg->close_timeout_ms < 1 || cfg->idle_timeout_ms < 1)
        return "timeouts must be at least 1 ms";
    if (cfg->incomplete != INLINE_INCOMPLETE_RESET && cfg->incomplete != INLINE_INCOMPLETE_ADDRESS)
        return "incomplete must be reset or address";
    if (cfg->tls_alert > 255)
        return "tls_alert out of range 0..255";
    return NULL;
}

struct inline_proxy *inline_new(const struct inline_config *cfg, struct rsref *rules, char *err,
                                size_t errlen)
{
    const char *bad = NULL;
    if (!cfg || !rules)
        bad = "no configuration or rule reference";
    else if (cfg->workers < 1 || cfg->workers > INLINE_WORKERS_MAX)
        bad = "workers out of range 1..64";
    else if (cfg->max_connections < cfg->workers || cfg->max_connections > (1u << 24))
        bad = "max_connections out of range (workers..16777216)";
    else if (cfg->tproxy_port > INLINE_PORT_ANY || cfg->redirect_port > INLINE_PORT_ANY)
        bad = "port out of range";
    else if (cfg->listen_family != 0 && cfg->listen_family != AF_INET &&
             cfg->listen_family != AF_INET6)
        bad = "listen_family must be 0, AF_INET or AF_INET6";
    else
        bad = settings_bad(cfg);
    if (bad) {
        snprintf(err, errlen, "inline: %s", bad);
        return NULL;
    }
    struct inline_proxy *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "inline: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->rules = rules;
    atomic_init(&p->pol, policy_new(cfg));
    p->nw = cfg->workers;
    /* a block answer (up to NOTICE_RESPONSE_MAX) is written into the connection's buffer */
    p->bufsize =
        cfg->first_bytes_max > NOTICE_RESPONSE_MAX ? cfg->first_bytes_max : NOTICE_RESPONSE_MAX;
    p->w = calloc(p->nw, sizeof(*p->w));
    if (!p->w || !atomic_load(&p->pol)) {
        free(p->w);
        free(atomic_load(&p->pol));
        free(p);
        snprintf(err, errlen, "inline: out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < p->nw; i++) {
        p->w[i].ep = -1;
        for (unsigned j = 0; j < INLINE_LISTENERS; j++)
            p->w[i].lfd[j] = -1;
    }
    uint32_t per = cfg->max_connections / cfg->workers;
    uint32_t nbufs = cfg->buffers ? cfg->buffers : (per < 4096 ? per : 4096);
    for (unsigned i = 0; i < p->nw; i++) {
        if (worker_init(p, &p->w[i], i, per, nbufs, err, errlen) < 0 ||
            worker_listen(p, &p->w[i], err, errlen) < 0) {
            inline_free(p);
            return NULL;
        }
    }
    return p;
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *str_put(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*at, s, n);
    const char *r = *at;
    *at += n;
    return r;
}

static struct policy_rec *policy_new(const struct inline_config *cfg)
{
    const struct notice_config *nc = cfg->notice;
    size_t extra = str_size(cfg->policy.notice_url);
    if (nc)
        extra += str_size(nc->url) + str_size(nc->contact) + str_size(nc->contact_url);
    struct policy_rec *r = calloc(1, sizeof(*r) + extra);
    if (!r)
        return NULL;
    char *at = r->strs;
    r->tls_block = cfg->tls_block;
    r->tls_alert = cfg->tls_alert;
    r->first_timeout_ms = cfg->first_bytes_timeout_ms;
    r->connect_timeout_ms = cfg->connect_timeout_ms;
    r->close_timeout_ms = cfg->close_timeout_ms;
    r->idle_timeout_ms = cfg->idle_timeout_ms;
    r->first_bytes_max = cfg->first_bytes_max;
    r->max_per_source = cfg->max_per_source;
    r->incomplete = cfg->incomplete;
    r->vp.https_url = cfg->policy.https_url;
    r->vp.nat64 = cfg->policy.nat64;
    r->vp.notice_url = str_put(&at, cfg->policy.notice_url);
    if (nc) {
        r->notice = *nc;
        r->notice.url = str_put(&at, nc->url);
        r->notice.contact = str_put(&at, nc->contact);
        r->notice.contact_url = str_put(&at, nc->contact_url);
    }
    return r;
}

int inline_reload(struct inline_proxy *p, const struct inline_config *cfg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!p || !cfg) {
        snprintf(err, errlen, "inline: no proxy or configuration");
        return -EINVAL;
    }
    const char *bad = settings_bad(cfg);
    if (bad) {
        snprintf(err, errlen, "inline: %s", bad);
        return -EINVAL;
    }
    if (cfg->first_bytes_max > p->cfg.first_bytes_max) {
        snprintf(
            err, errlen,
            "inline: first_bytes_max %u is above %u, the size of the buffers allocated at start; "
            "restart to raise it",
            cfg->first_bytes_max, p->cfg.first_bytes_max);
        return -EINVAL;
    }
    struct policy_rec *r = policy_new(cfg);
    if (!r)
        return -ENOMEM;
    r->older = atomic_load_explicit(&p->pol, memory_order_relaxed);
    atomic_store_explicit(&p->pol, r, memory_order_release);
    return 0;
}

unsigned inline_port(const struct inline_proxy *p, bool redirect)
{
    return p ? p->port[redirect ? 1 : 0] : 0;
}

const char *const *inline_stat_names(void)
{
    return stat_names;
}

_Atomic uint64_t *inline_counters(struct inline_proxy *p, unsigned worker)
{
    return p && worker < p->nw ? p->w[worker].st : NULL;
}

unsigned inline_workers(const struct inline_proxy *p)
{
    return p ? p->nw : 0;
}

void inline_stats(const struct inline_proxy *p, int worker, struct inline_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    uint64_t sum[INLINE_NSTATS];
    memset(sum, 0, sizeof(sum));
    for (unsigned i = 0; i < p->nw; i++) {
        if (worker >= 0 && (unsigned)worker != i)
            continue;
        for (unsigned k = 0; k < INLINE_NSTATS; k++)
            sum[k] += atomic_load_explicit(&p->w[i].st[k], memory_order_relaxed);
    }
    memcpy(out, sum, sizeof(sum));
}

void inline_free(struct inline_proxy *p)
{
    if (!p)
        return;
    for (unsigned i = 0; p->w && i < p->nw; i++) {
        struct worker *w = &p->w[i];
        for (uint32_t k = 0; w->conns && k < w->conn_hw; k++)
            if (w->conns[k].state != ST_FREE)
                conn_close(w, &w->conns[k], true);
        for (uint32_t k = 0; k < w->pipe_free_n; k++) {
            close(w->pipes[k][0]);
            close(w->pipes[k][1]);
        }
        for (unsigned k = 0; k < INLINE_LISTENERS; k++)
            if (w->lfd[k] >= 0)
                close(w->lfd[k]);
        if (w->ep >= 0)
            close(w->ep);
        free(w->conns);
        free(w->bufmem);
        free(w->buf_free);
        free(w->pipe_used);
        free(w->pipe_slot_free);
        free(w->pipes);
        free(w->scratch);
        free(w->ready);
        free(w->srcs);
        h2c_pool_free(w->h2);
        if (w->names)
            munmap(w->names, (size_t)w->nconns * INLINE_NAME_SLOT);
    }
    free(p->w);
    for (struct policy_rec *r = atomic_load(&p->pol), *o; r; r = o) {
        o = r->older;
        free(r);
    }
    free(p);
}
