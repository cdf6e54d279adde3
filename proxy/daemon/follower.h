/* follower.h - a node following the order store (rules/store/store.h).
 *
 * At start: a snapshot of the store -> the active orders -> the publish callback (which
 * compiles them with the configured rule files and publishes the set through rsref) -> the
 * fail-static file (failstatic.h) -> an acknowledgement of the version in the store. With the
 * store unreachable at start, the orders come from the fail-static file; with neither, there
 * is no usable rule set and follower_start() fails.
 * Then a thread follows the change log (blocking reads with a timeout). Changes read together
 * are applied urgent ones first (one publication), then the rest (another), and the version is
 * acknowledged once everything read is enforced; then the orders the changes touched are
 * appended to the fail-static journal (failstatic.h). The fail-static checkpoint is rewritten,
 * when one is due (a snapshot, a change too big for the journal, the journal past its limit),
 * when the log goes quiet (one wait without a change), at an outage and at stop, not after
 * every change, by a writer thread, so changes go on being applied and published while it
 * writes: a write
 * wanted while one runs is one write of the newest table after it, and stop ends the write in
 * progress and then writes the last enforced version. A gap in the log (-ESTALE) means a new
 * snapshot. An unreachable store keeps the last set enforced; the thread retries with a
 * backoff doubling up to retry_max_ms, logs once per change of state, and catches up (follow
 * from its version, or a snapshot) when the store answers again. A second thread writes the
 * heartbeat every heartbeat_ms (expiring after three periods).
 *
 * The compiled set itself is the caller's (the publish callback): this module only decides
 * which orders are active and when. */
#ifndef QG_FOLLOWER_H
#define QG_FOLLOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "rules/orders/order.h"
#include "rules/store/store.h"

/* A change as a delta of the set last published: the orders that became active (or were
 * replaced: their id is then in revoke too) and the ids of the orders that stopped being
 * active, revocations first. Never holds a restore order in revoke, nor a restrict order that
 * an active restore order may lift (those changes are published in full: see follower.c). */
struct follower_delta {
    const struct order *const *add;
    size_t nadd;
    const char *const *revoke;
    size_t nrevoke;
};

/* Compiles and publishes orders[0..n) (the active orders, owned by the follower, valid during
 * the call) as store version `version`. delta (NULL: none; valid during the call) is the
 * change since the previous publication; the callback may apply it to the set it published
 * last instead of compiling orders[0..n), and must compile them when it cannot. Returns 0, or
 * a negative errno with err set (the running set stays). Called from follower_start()'s
 * thread, then from the follower's thread, and from follower_republish()'s (always without a
 * delta); never concurrently. */
typedef int (*follower_publish_fn)(void *ctx, const struct order *const *orders, size_t n,
                                   const struct follower_delta *delta, uint64_t version, char *err,
                                   size_t errlen);

struct follower_config {
    const char *url;           /* store URL; "" or NULL: the directory store at state_dir */
    const char *state_dir;     /* fail-static file */
    const char *password_file; /* "" or NULL: none */
    const char *node_id;
    uint32_t heartbeat_ms;
    uint32_t retry_max_ms;
    uint32_t follow_wait_ms; /* one blocking read of the log; default 1000 */
    /* NULL, or called (with the publish callback's ctx) each time the fail-static file was
     * written for version: the caller writes its compiled set's disk image there. Called on
     * the writer thread (at start on follower_start()'s), concurrently with publications:
     * a newer version may be published meanwhile (the caller then skips it; the next write
     * follows). */
    void (*saved)(void *ctx, uint64_t version);
    /* NULL, or called (with the publish callback's ctx) by the heartbeat thread after each
     * heartbeat, and once more at stop, with the heartbeat's store handle: the node's batched
     * writes of evidence (hits, proxy/daemon/hits.h). Returns >= 0 or a negative errno with
     * err set (logged once per failure streak). */
    int (*flush)(void *ctx, struct store *s, char *err, size_t errlen);
    /* what the node's acknowledgements say it runs (store_node_ack_about): mode ("tap",
     * "inline", ...; NULL: "") and software (NULL: QORGAU_VERSION) */
    const char *mode;
    const char *software;
    /* the fail-static checkpoint is written again when the journal passes this many bytes; 0:
     * a quarter of the checkpoint, at least 1 MiB (docs/orders.md "The fail-static file") */
    uint64_t journal_max;
};

enum follower_state { FOLLOWER_CONNECTED = 0, FOLLOWER_UNREACHABLE };

struct follower_stats {
    enum follower_state state;
    uint64_t version;   /* the store version enforced */
    uint64_t since_ms;  /* when it started being enforced */
    uint64_t changes;   /* log entries applied */
    uint64_t snapshots; /* full loads */
    uint64_t publishes;
    uint64_t publish_failures;
    uint64_t outages;           /* times the store became unreachable */
    bool from_failstatic;       /* the enforced set came from the fail-static file */
    uint64_t failstatic_writes; /* fail-static files written (or failed) */
};

struct follower;

/* Copies cfg's strings. Returns the handle (nothing started) or NULL with err set. */
struct follower *follower_new(const struct follower_config *cfg, struct log *lg,
                              follower_publish_fn publish, void *ctx, char *err, size_t errlen);

/* The first load (see above), then the two threads. Returns 0, or a negative errno with err
 * set: no usable rule set (store unreachable and no fail-static file, or a corrupted one), or
 * the first publication failed. */
int follower_start(struct follower *f, char *err, size_t errlen);

/* Publishes the active orders again (after a configuration reload changed the rule files). */
int follower_republish(struct follower *f, char *err, size_t errlen);

void follower_get_stats(struct follower *f, struct follower_stats *st);
const char *follower_state_name(enum follower_state s);

/* Stops the threads (waits at most about follow_wait_ms) and frees f. NULL is a no-op. */
void follower_free(struct follower *f);

/* The order in which n changes read together are applied: indexes of the urgent ones first,
 * then the others, each group in log order. Writes n indexes into idx; returns how many are
 * urgent. */
size_t follower_plan(const bool *urgent, size_t n, size_t *idx);

#endif
