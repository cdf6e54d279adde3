/* tarcount.h - blocked attempts per (subscriber, day, category), counted on the workers and
 * flushed to the store by the heartbeat, for the parents API's summary (parents_api.h).
 *
 * Each worker has a fixed table (TARCOUNT_SLOTS slots, open addressing) keyed by subscriber id,
 * local day and category: tarcount_note() adds one there - no allocation, no system call; the
 * table's lock is this worker's alone except for the moment the flusher empties it. A full
 * table counts the excess as dropped. tarcount_flush() (the heartbeat thread) empties the
 * tables and adds each count to this node's document "tariffsum" "PSEUDONYM:YYYY-MM-DD:NODE"
 * ({"CATEGORY": N, ...}; only this node writes it), keyed by the subscriber's pseudonym
 * (rules/subs/pseudo.h), never the id: the store never holds which sites, nor who in clear. */
#ifndef QG_TARCOUNT_H
#define QG_TARCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/store/store.h"
#include "rules/subs/pseudo.h"
#include "proxy/judge/verdict.h"

#define TARCOUNT_SLOTS 1024u /* per worker; a power of two */

struct tarcount;

struct tarcount *tarcount_new(unsigned workers);
void tarcount_free(struct tarcount *c);

/* Worker worker counts one block of subscriber sub for category (the blocking category, or
 * the cause for a block without one: "parental", "allowlist", "schedule") at Unix time now in
 * a zone utc_offset seconds east of UTC. */
void tarcount_note(struct tarcount *c, unsigned worker, const char *sub, const char *category,
                   int64_t now, int32_t utc_offset);

/* tarcount_note() for a decision: counted when the tariff side blocked it (cause profile,
 * parental, schedule, allow list) and the client's subscriber is known; now from the clock,
 * the day in t's zone. */
void tarcount_note_block(struct tarcount *c, unsigned worker, const struct verdict_decision *d,
                         const struct verdict_tariff *t);

/* Empties the tables into the store (see above): each document read once, every count for it
 * added, all written in one store_doc_put_many(). Returns the counts written, or a negative
 * errno with a message (that flush's counts are lost and counted as dropped). */
int tarcount_flush(struct tarcount *c, struct store *s, const struct pseudo *ps, const char *node,
                   char *err, size_t errlen);

/* Counts lost so far (full tables, failed writes). */
uint64_t tarcount_dropped(const struct tarcount *c);

#endif
