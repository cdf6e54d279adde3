/* hits.h - counting blocks per rule entry on the workers, flushed to the store in batches.
 *
 * Each worker has a fixed table (HITS_SLOTS slots, open addressing) keyed by (rule set, entry
 * index): hits_note() adds one block there — no allocation, no system call, no store round
 * trip; the table's lock is this worker's alone except for the moment the flusher empties it.
 * The first hit of a slot takes a reference on the rule set (ruleset_ref()), so the entry's
 * text and orders can still be read at the flush even if the set was replaced meanwhile.
 *
 * hits_flush() (the follower's heartbeat thread, every store.heartbeat) empties every table,
 * turns each slot into one hit per order that lists the entry (ruleset_entry_orders()) and
 * writes them all with ONE store_hits_add() call. A failed write keeps the batch for the next
 * flush (bounded: HITS_PENDING_MAX hits, the excess is counted as dropped); a table that is
 * full counts its excess as dropped too. The store keeps the totals, so they survive
 * restarts. */
#ifndef QG_HITS_H
#define QG_HITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/match/ruleset.h"
#include "rules/store/store.h"

#define HITS_SLOTS       4096u /* per worker; a power of two */
#define HITS_PENDING_MAX 200000u

struct hits;

/* A counter set for workers 0..workers-1. NULL on allocation failure. */
struct hits *hits_new(unsigned workers);
void hits_free(struct hits *h);

/* Worker worker counts one block decided by entry of rs at now_ms (ms since the epoch). */
void hits_note(struct hits *h, unsigned worker, const struct ruleset *rs, uint32_t entry,
               uint64_t now_ms);

/* Empties the tables and writes the hits to s in one call (see above). Returns the number of
 * hits written (0: none to write), or a negative errno with a message (kept for the next
 * flush). */
int hits_flush(struct hits *h, struct store *s, char *err, size_t errlen);

/* Worker worker saw a TLS or QUIC flow whose ClientHello carried ECH (the real name hidden),
 * blocked or not. Counted per worker, no allocation. */
void hits_note_ech(struct hits *h, unsigned worker, bool blocked);

/* Adds the ECH flows counted since the last call to this node's running totals in the store:
 * the document kind "ech", id node, {"node":ID,"passed":N,"blocked":M,"first_ms":T,
 * "updated_ms":T} (only this node writes it; docs/reports.md). Returns 1 when it was written, 0
 * when there was nothing to add, or a negative errno with a message (the counts are kept for
 * the next call). */
int hits_flush_ech(struct hits *h, struct store *s, const char *node, uint64_t now_ms, char *err,
                   size_t errlen);

/* Hits lost so far: full tables, or more pending than HITS_PENDING_MAX. */
uint64_t hits_dropped(const struct hits *h);

#endif
