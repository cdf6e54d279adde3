/* rsref.h - the current rule set, published to running readers with RCU (liburcu, memb flavor).
 *
 * One writer (the reload thread) calls rsref_publish(); any number of reader threads, each
 * registered once with rsref_thread_register(), bracket their use of the set:
 *
 *     rsref_read_lock();
 *     const struct ruleset *rs = rsref_get(ref);
 *     ... match with rs; do not keep rs past the unlock ...
 *     rsref_read_unlock();
 *
 * Readers never wait and never take a lock; the writer waits for a grace period (every reader
 * that might still see the old set has left its read section) and then frees the old set. */
#ifndef QG_RSREF_H
#define QG_RSREF_H

#include <stdint.h>

#include "rules/match/ruleset.h"

struct rsref;

/* Returns a reference holding no set (rsref_get() gives NULL until the first publish), or NULL
 * on allocation failure. */
struct rsref *rsref_new(void);

/* Frees ref and its current set. No reader may use ref any more. NULL is a no-op. */
void rsref_free(struct rsref *ref);

/* Makes rs (ownership passes to ref; NULL is allowed) the current set and returns its version
 * (1 for the first publish, then +1 each time; also stored in rs, see ruleset_get_stats()).
 * Blocks until no reader can hold the previous set, then frees it. Must not be called inside
 * a read section. Publishers are serialized by an internal mutex. */
uint64_t rsref_publish(struct rsref *ref, struct ruleset *rs);

/* The current set; only valid inside rsref_read_lock()/rsref_read_unlock(). */
const struct ruleset *rsref_get(const struct rsref *ref);

/* Version of the current set (0 before the first publish). Any thread, no lock needed. */
uint64_t rsref_version(const struct rsref *ref);

/* Reader registration: once per thread before its first read section, and before it exits. */
void rsref_thread_register(void);
void rsref_thread_unregister(void);

/* A read section; may nest; cheap (no atomic read-modify-write, no lock). */
void rsref_read_lock(void);
void rsref_read_unlock(void);

#endif
