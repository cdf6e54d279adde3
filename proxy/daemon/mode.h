/* mode.h - the seam between the daemon (proxy/daemon.c) and a traffic mode (tap, inline).
 *
 * A mode is one ops table in its own file (proxy/mode_tap.c: mode_tap_ops, proxy/mode_inline.c:
 * mode_inline_ops). The daemon drives it:
 *
 *     open(cfg, ctx, &state)         as root, before privileges are dropped: open sockets,
 *                                    capture handles, allocate pools. Must not start threads.
 *     -- setuid to cfg->user, keeping CAP_NET_RAW and CAP_NET_ADMIN only --
 *     run_worker(state, i, stop)     in worker thread i (0 .. ctx->workers-1), until *stop
 *     reload(state, new cfg)         from the main thread on SIGHUP, workers running
 *     -- *stop = 1, workers joined --
 *     close(state)
 *
 * Rules: workers read the current rule set through ctx->rules (rules/rsref.h). run_worker()
 * calls rsref_thread_register() itself before its first read section and
 * rsref_thread_unregister() before it returns (the daemon does not: liburcu does not allow a
 * thread to register twice). A worker must leave every read section before blocking.
 * run_worker() must notice *stop within 250 ms (poll with a timeout; blocking calls without
 * one would stall shutdown) and call daemon_beat() at each turn of its loop (the systemd
 * watchdog stops when a worker's heartbeat stands still: service.h), and return 0, or a negative errno on a fatal error (the daemon
 * then stops every worker and exits 1). */
#ifndef QG_MODE_H
#define QG_MODE_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/daemon/settings.h"
#include "common/log.h"
#include "rules/match/rsref.h"
#include "rules/subs/pseudo.h"
#include "proxy/judge/verdict.h"

struct daemon_ctx;
struct hits;
struct decisions;
struct tarcount;

/* Registers n counters of one worker, named names[0..n) (static strings such as
 * "tap.frames"), stored in values[0..n) (owned by the mode, alive until close() returns).
 * Only worker `worker` writes them, with relaxed atomic stores; the daemon sums each name over
 * the workers for the periodic stats line. Call from open() or at the start of run_worker().
 * Returns 0 or -ENOMEM. */
typedef int (*daemon_counters_fn)(struct daemon_ctx *d, unsigned worker, const char *const *names,
                                  _Atomic uint64_t *values, size_t n);

/* What the daemon gives a mode; valid from open() until close() returns. */
struct daemon_ctx {
    struct rsref *rules; /* current rule set: rsref_read_lock/rsref_get/rsref_read_unlock */
    struct log *log;     /* thread-safe; per-packet events only through log_block() */
    unsigned workers;    /* number of worker threads that will call run_worker() */
    daemon_counters_fn counters_register;
    void *priv;                  /* the daemon's */
    struct hits *hits;           /* block counts per entry (hits.h): hits_note() on each block */
    struct decisions *decisions; /* decisions.h: decisions_note() on each decision (may be NULL) */
    _Atomic uint64_t *beats;     /* per worker heartbeat counters (service.h), or NULL */
    struct fbseen *seen;         /* names seen in flows to IP fallback addresses (fbseen.h) */
    /* child tariffs (docs/profiles.md): the subscriber map and tariff table the decisions
     * consult (NULL: none; filled before the workers start), and the key of the subscriber
     * pseudonyms every log line about a subscriber uses (pseudo_id()) */
    const struct verdict_tariff *tariff;
    const struct pseudo *pseudo;
    struct tarcount
        *tarcount; /* tariff blocks per subscriber and category: tarcount_note_block() */
};

/* Worker `worker` is alive: one relaxed increment, no system call (the hot path may call it). */
static inline void daemon_beat(struct daemon_ctx *d, unsigned worker)
{
    if (d && d->beats)
        atomic_fetch_add_explicit(&d->beats[worker], 1, memory_order_relaxed);
}

struct mode_ops {
    const char *name;
    /* Runs as root. cfg is valid until the next reload() returns (or close()); copy what must
     * outlive it. Returns 0 with *state set, or a negative errno with a message naming the mode
     * and the object in err ("tap: eth2: pcap_activate() failed: ..."). */
    int (*open)(const struct settings *cfg, struct daemon_ctx *d, void **state, char *err,
                size_t errlen);
    int (*run_worker)(void *state, unsigned worker, const volatile sig_atomic_t *stop);
    /* The new configuration (keys marked restart in settings.c keep their running values).
     * Returns 0, or a negative errno and the mode keeps its old settings. May be NULL. */
    int (*reload)(void *state, const struct settings *cfg);
    void (*close)(void *state);
};

#endif
