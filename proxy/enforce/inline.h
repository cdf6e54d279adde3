/* inline.h - the inline transparent proxy: TCP 80/443 diverted by nftables TPROXY (or REDIRECT)
 * is accepted here, judged on its first bytes with the shared inspect_* steps (proxy/inspect.h,
 * exactly as the packet engine judges), then either relayed to its original destination with
 * splice(2) or refused.
 *
 *   client ──TCP──► [TPROXY :tproxy_port | REDIRECT :redirect_port] ──► worker (epoll)
 *       first bytes into a pooled buffer until inspect says OK / limit / timeout
 *       pass  → connect(original destination), send the buffered bytes, splice both ways;
 *               HTTP keeps judging every request head of a kept-alive connection
 *       block → TLS/unknown: RST (or a fatal TLS alert); HTTP: 302 to the notice URL or 451
 *
 * One proxy handle owns a set of listening sockets per worker (SO_REUSEPORT, so the kernel
 * spreads connections and each connection lives on one worker) and a per-worker epoll loop,
 * connection pool, buffer pool, pipe pool and counters. Nothing is shared between workers
 * except the rule set, read through rsref (RCU) without locks.
 *
 * Connections to the original destination are made from the filter's own address (the server
 * sees the filter, not the subscriber); see docs/deploy.md. */
#ifndef QG_INLINE_H
#define QG_INLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/enforce/notice.h"
#include "rules/match/rsref.h"
#include "proxy/judge/verdict.h"

#define INLINE_WORKERS_MAX     64
#define INLINE_PORT_ANY        65536u /* as a port: any free port (tests; see inline_port) */
#define INLINE_FIRST_BYTES_MAX (1u << 20)

enum inline_tls_block {
    INLINE_TLS_RESET = 0, /* close with SO_LINGER {1,0}: the client sees a TCP RST */
    INLINE_TLS_ALERT,     /* send a fatal TLS alert record (tls_alert), then close */
};

struct inline_event;
typedef void (*inline_event_fn)(void *ctx, const struct inline_event *ev);

/* What happens to a connection whose first request stopped arriving half-way (the client was
 * silent for first_bytes_timeout with part of a ClientHello or request head buffered). */
enum inline_incomplete {
    INLINE_INCOMPLETE_RESET = 0, /* reset it: the part already sent could name a blocked site */
    INLINE_INCOMPLETE_ADDRESS,   /* judge it on its address and relay it unjudged (fail-open) */
};

/* Plain configuration, filled by the config table (proxy/daemon/settings.c) or by hand; see
 * inline_config_default() for the defaults. inline_new() and inline_reload() copy what they
 * keep (strings included). Reloadable: tls_block, tls_alert, policy, notice, the four timeouts,
 * incomplete, max_per_source, and first_bytes_max up to the value the proxy was started with
 * (the buffers are allocated at start). */
struct inline_config {
    unsigned tproxy_port;            /* inline.tproxy_port: TPROXY listener, 0 = none (15001) */
    unsigned redirect_port;          /* inline.redirect_port: REDIRECT listener, 0 = none (15002) */
    int listen_family;               /* 0: IPv4 and IPv6 wildcard (inline.listen_address 0.0.0.0);
                                           AF_INET/AF_INET6: only listen_addr */
    uint8_t listen_addr[16];         /* network order, IPv4 in the first 4 */
    bool ipv6;                       /* with listen_family 0: also listen on IPv6 (true) */
    unsigned workers;                /* worker loops, 1..INLINE_WORKERS_MAX (1) */
    unsigned max_connections;        /* total, split evenly over workers (65536) */
    unsigned buffers;                /* first-bytes buffers per worker; 0: min(4096, conns) */
    unsigned first_bytes_max;        /* inline.first_bytes_max: 512..1 MiB (32768) */
    unsigned first_bytes_timeout_ms; /* inline.first_bytes_timeout (5000): how long the client
                                           may stay silent while its first request is incomplete;
                                           restarted by every byte that arrives */
    enum inline_incomplete incomplete; /* inline.incomplete_request (reset) */
    unsigned connect_timeout_ms;       /* connect to the original destination (10000) */
    unsigned close_timeout_ms;         /* after a block: drain/linger, wait for the server (2000) */
    unsigned idle_timeout_ms;          /* inline.idle_timeout: a relayed connection with no
                                           traffic either way for this long is closed (600000) */
    unsigned max_per_source;           /* inline.max_per_source: connections at once from one
                                           client address, split over the workers; 0 = no limit
                                           (512) */
    unsigned h2c_states;               /* h2c.states: h2c connections per worker whose every
                                           stream is judged (256) */
    unsigned client_prefix6;           /* client_prefix6: an IPv6 client is its prefix of this
                                           many bits (32..128; 64) for max_per_source */
    enum inline_tls_block tls_block;   /* inline.tls_block (reset) */
    unsigned tls_alert;           /* alert description: 112 unrecognized_name, 49 access_denied */
    struct verdict_policy policy; /* notice_url: 302 target; NULL: 451 page */
    const struct notice_config *notice; /* 451 page settings (NULL: defaults) */
    inline_event_fn on_event; /* every decision, called on the worker thread; may be NULL */
    void *event_ctx;
    const struct verdict_tariff *tariff; /* child tariffs (docs/profiles.md); NULL: none */
    unsigned tariff_recheck_ms; /* with tariffs: relayed connections are judged again this often
                                   (schedules, subscribers moved to another tariff), as after
                                   every new rule set or tariff table (60000) */
    unsigned rejudge_step;      /* connections judged again per loop after a publication (2048,
                              the most) */
};

/* One decision, as reported to on_event. Pointers are valid during the call only. */
struct inline_event {
    unsigned worker;
    int ipver;             /* 4 or 6 */
    const uint8_t *client; /* 16 bytes, IPv4 in the first 4 */
    const uint8_t *server; /* original destination */
    uint16_t client_port, server_port;
    enum verdict_app app;
    const char *name; /* normalized name or NULL */
    size_t name_len;
    const char *url; /* "http://host/path" for HTTP, else NULL */
    size_t url_len;
    unsigned req;    /* 1-based request number on the connection */
    bool by_address; /* judged on the address alone (timeout, limit, unknown) */
    bool ech;        /* the ClientHello carried ECH/ESNI: the real name is hidden */
    bool cut;        /* a connection passed earlier, reset because a newer rule set blocks it
                        (its name or its server's address was listed while it lasted) */
    struct verdict_decision d;
    const char *order;        /* order id of the matching entry ("" if none), or NULL */
    const struct ruleset *rs; /* the set d.entry belongs to (valid during the callback), or NULL */
};

/* Counters of one worker (inline_stats sums them). Every give-up path has its own. The
 * fields are in the order of the INLINE_STAT_* indexes and of inline_stat_names(). */
enum {
    INLINE_STAT_accepted,
    INLINE_STAT_refused_full,
    INLINE_STAT_refused_loop,
    INLINE_STAT_orig_dst_failed,
    INLINE_STAT_no_buffer,
    INLINE_STAT_active,
    INLINE_STAT_requests,
    INLINE_STAT_passed,
    INLINE_STAT_blocked,
    INLINE_STAT_blocked_reset,
    INLINE_STAT_blocked_alert,
    INLINE_STAT_blocked_redirect,
    INLINE_STAT_blocked_451,
    INLINE_STAT_by_address,
    INLINE_STAT_first_timeout,
    INLINE_STAT_first_limit,
    INLINE_STAT_malformed,
    INLINE_STAT_not_mine,
    INLINE_STAT_connect_failed,
    INLINE_STAT_relay_errors,
    INLINE_STAT_bytes_up,
    INLINE_STAT_bytes_down,
    INLINE_STAT_pipes,
    INLINE_STAT_incomplete_reset,
    INLINE_STAT_idle_timeout,
    INLINE_STAT_refused_source,
    INLINE_STAT_evicted_first,
    INLINE_STAT_accept_paused,
    INLINE_STAT_h2c_no_state,
    INLINE_STAT_unframed,
    INLINE_STAT_cut,
    INLINE_NSTATS
};
struct inline_stats {
    uint64_t accepted;        /* connections taken into the pool */
    uint64_t refused_full;    /* accepted and closed at once: max_connections reached */
    uint64_t refused_loop;    /* original destination is this proxy's own listener */
    uint64_t orig_dst_failed; /* getsockname / SO_ORIGINAL_DST failed */
    uint64_t no_buffer;       /* no first-bytes buffer free: connection reset */
    uint64_t active;          /* gauge: connections open now */
    uint64_t requests;        /* requests judged (ClientHellos, HTTP request heads) */
    uint64_t passed;          /* connections relayed to their destination */
    uint64_t blocked;         /* blocked requests (sum of the four below) */
    uint64_t blocked_reset, blocked_alert, blocked_redirect, blocked_451;
    uint64_t by_address;       /* decided on the address alone (timeout/limit/unknown/bad) */
    uint64_t first_timeout;    /* first-bytes timeout before a complete request */
    uint64_t first_limit;      /* first_bytes_max reached before a complete request */
    uint64_t malformed;        /* a dissector said malformed */
    uint64_t not_mine;         /* neither TLS, HTTP nor h2c */
    uint64_t connect_failed;   /* original destination refused / unreachable / timed out */
    uint64_t relay_errors;     /* read/write/splice errors other than EAGAIN, resets */
    uint64_t bytes_up;         /* client -> server bytes relayed */
    uint64_t bytes_down;       /* server -> client bytes relayed */
    uint64_t pipes;            /* pipes created (each is reused from the pool afterwards) */
    uint64_t incomplete_reset; /* first request incomplete when the client fell silent: reset */
    uint64_t idle_timeout;     /* relayed connections closed after idle_timeout without traffic */
    uint64_t refused_source;   /* accepted and reset at once: the source had max_per_source open */
    uint64_t evicted_first;    /* pool full: the connection idle longest before its first request
                              * was reset to make room for a new one */
    uint64_t accept_paused;    /* accepting paused for a moment: out of file descriptors */
    uint64_t h2c_no_state;     /* h2c connections without decoder state: first stream only */
    uint64_t unframed;         /* HTTP requests the proxy could not frame (a head over its buffer,
                              * broken chunked framing): the connection is reset */
    uint64_t cut;              /* passed connections reset because a newer rule set blocks them */
};

struct inline_proxy;

/* Fills c with the defaults. */
void inline_config_default(struct inline_config *c);

/* Checks cfg and opens the listening sockets (needs CAP_NET_ADMIN for IP_TRANSPARENT; call as
 * root before dropping privileges): per worker, IPv4 and IPv6 TCP on tproxy_port with
 * IP_TRANSPARENT/IPV6_TRANSPARENT and on redirect_port, all with SO_REUSEPORT. Allocates every
 * pool up front. rules is borrowed (must outlive the proxy). Returns the handle, or NULL with a
 * message in err ("inline: tproxy_port 15001: bind: Address in use"). */
struct inline_proxy *inline_new(const struct inline_config *cfg, struct rsref *rules, char *err,
                                size_t errlen);

/* Replaces the reloadable settings (see struct inline_config) with those of cfg; the other
 * fields of cfg are ignored. Any thread, workers running: each decision after the call sees the
 * new settings, and running timers move by the change of their timeout. Returns 0, -EINVAL (a
 * value out of range, or first_bytes_max above the start value: err says which) or -ENOMEM
 * (old settings kept). err may be NULL. */
int inline_reload(struct inline_proxy *p, const struct inline_config *cfg, char *err,
                  size_t errlen);

/* Runs the loop of worker (0 .. workers-1) on the calling thread until *stop becomes non-zero
 * (checked at least every 100 ms). Registers the thread with rsref. Returns 0 or -errno. One
 * thread per worker. */
int inline_run_worker(struct inline_proxy *p, unsigned worker, volatile const int *stop);

/* One step of worker's loop: handles what is ready, waiting at most timeout_ms. The calling
 * thread must be registered with rsref_thread_register() and be the only one driving worker.
 * Returns the number of events handled or -errno. */
int inline_run_once(struct inline_proxy *p, unsigned worker, int timeout_ms);

/* Hands a connected, accepted client socket (ownership passes to the proxy, even on error)
 * whose original destination is orig_dst to worker, as if its listener had accepted it. For
 * tests and for other diverters. Same thread rules as inline_run_once. Returns 0 or -errno. */
int inline_adopt(struct inline_proxy *p, unsigned worker, int fd, const struct sockaddr *orig_dst,
                 socklen_t len);

/* Local port of the first listener of each kind (host order; 0 if none) - useful with port 0. */
unsigned inline_port(const struct inline_proxy *p, bool redirect);

/* Copies the counters of worker, or their sum over all workers when worker < 0. Any thread. */
void inline_stats(const struct inline_proxy *p, int worker, struct inline_stats *out);

/* Names of the counters ("inline.accepted", ...), INLINE_NSTATS of them, static. */
const char *const *inline_stat_names(void);

/* The live counters of worker (INLINE_NSTATS values, written by that worker only with relaxed
 * atomic stores), owned by p; NULL if worker is out of range. For the daemon's stats line. */
_Atomic uint64_t *inline_counters(struct inline_proxy *p, unsigned worker);

/* Number of workers. */
unsigned inline_workers(const struct inline_proxy *p);

/* Closes every socket and pipe and frees p. Workers must have returned. NULL is a no-op. */
void inline_free(struct inline_proxy *p);

#endif
