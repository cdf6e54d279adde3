/* subfollow.h - a node's thread keeping its subscriber map (rules/subs/submap.h) in step with
 * the store: every mapping at start (store_sub_list), then the change stream
 * (store_sub_follow), with expiry swept every minute. A store error reloads everything once the
 * store answers again (a failover may have lost stream entries), and the mappings that reload
 * did not set again are removed (the store dropped them meanwhile). The directory store (one
 * node) has a log of the mappings' changes (DIR/subs.log) followed the same way, and for the
 * tariff records only a change marker (store_tariff_follow(): polled every 50 ms, a change
 * re-lists them).
 * It also keeps the node's fail-static copy (Redis and Sentinel only) of the map and the tariff records (subfstatic.h),
 * loaded at start so that a node started while the store is down keeps enforcing.
 * docs/subscribers.md. */
#ifndef QG_SUBFOLLOW_H
#define QG_SUBFOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

struct subfollow;

struct subfollow_stats {
    uint64_t applied;                 /* changes applied from the stream */
    uint64_t loads;                   /* full loads (the first, and one after each error) */
    uint64_t errors;                  /* store errors */
    bool from_failstatic;             /* the map came from the fail-static copy (subfstatic.h),
                                         not yet replaced by a load from the store */
    uint64_t failstatic_writes;       /* fail-static copies written */
    uint64_t failstatic_write_errors; /* and those that failed */
};

/* A follower of the store at url (password_file "" for none) into map (not owned; it must
 * outlive the follower; the directory store leaves it alone). The thread opens its own store
 * handle, and retries every second while the store cannot be reached. NULL with err and *why:
 * -EINVAL for a bad URL, -ENOMEM. */
struct subfollow *subfollow_new(const char *url, const char *password_file, struct submap *map,
                                struct log *lg, int *why, char *err, size_t errlen);

/* Also follows the store's tariff records (profiles, subscriber settings; docs/profiles.md)
 * into t, publishing it after each batch: every record at each (re)load, then the change
 * stream (the directory store: its file's change marker, and every record again when it
 * changed), so a change reaches the node within a second. Before subfollow_start(). */
void subfollow_set_tariff(struct subfollow *f, struct tariff *t);

/* Asks the thread to list the store's tariff records again (the daemon's reload with the
 * directory store): those the table holds from the store that the list no longer has go.
 * Any thread; done at the thread's next step (within a second). */
void subfollow_reread(struct subfollow *f);

/* Keeps a fail-static copy of the map and the tariff records in state_dir/subscribers.img
 * (subfstatic.h; state_dir NULL or "": none): loaded by subfollow_start() before the thread
 * starts, so that the node enforces it while the store cannot be reached; replaced by the
 * store's first full load (what the store no longer has removed); written after each full load,
 * then at most every interval_ms while changes arrive, and at the stop when something changed
 * since. Before subfollow_start(), after subfollow_set_tariff(). Nothing for the directory store (the
 * node's own disk: the store is read at start as the copy would be). */
void subfollow_set_failstatic(struct subfollow *f, const char *state_dir, uint64_t interval_ms);

/* Starts the thread (after loading the fail-static copy, when there is one; with the directory
 * store, after listing its mappings and tariff records, so that nothing is judged without them;
 * with neither a map nor a tariff table no thread starts there). 0 or a negative errno. */
int subfollow_start(struct subfollow *f);

void subfollow_get_stats(const struct subfollow *f, struct subfollow_stats *st);

/* Stops the thread and closes the store. NULL is a no-op. */
void subfollow_free(struct subfollow *f);

#endif
