/* fbseen.h - names seen in traffic to IP fallback addresses: evidence for the report, never an
 * input to the shared-address policy (docs/fallback.md, "Names seen in traffic").
 *
 * Each worker has a fixed table of FBSEEN_SLOTS address slots (open addressing, FBSEEN_PROBE
 * slots per address; when all are taken the first one not used since the last sweep is
 * replaced, a clock over the probe window). A slot holds the address, a HyperLogLog sketch of
 * the names (common/hll.h) and up to FBSEEN_EXAMPLES example names (fixed-size copies).
 * fbseen_note() allocates nothing and takes only this worker's lock.
 *
 * fbseen_flush() (the heartbeat, with the hits) empties the tables and merges them into this
 * node's "fbseen" document in the store (rules/report/seendoc.h gives its form; only this node
 * writes it, readers merge the documents of every node). */
#ifndef QG_FBSEEN_H
#define QG_FBSEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hll.h"
#include "rules/match/ruleset.h"
#include "rules/report/seendoc.h"

#define FBSEEN_SLOTS    256u /* address slots per worker; a power of two */
#define FBSEEN_PROBE    8u
#define FBSEEN_EXAMPLES 4u /* example names kept per slot */

struct store;
struct fbseen;

/* Tables for workers 0..workers-1 (about FBSEEN_SLOTS * 1.3 KiB each). NULL on allocation
 * failure. */
struct fbseen *fbseen_new(unsigned workers);
void fbseen_free(struct fbseen *s);

/* Worker worker saw the normalized name (len bytes) in a flow to addr (4 bytes for ipver 4, 16
 * for 6) at now_ms. No allocation. */
void fbseen_note(struct fbseen *s, unsigned worker, int ipver, const uint8_t *addr,
                 const char *name, size_t len, uint64_t now_ms);

/* A decision's flow: when it showed a name (not hidden by ECH) and its server address is in
 * the IP fallback table of rs, notes the name for that address (fbseen_note(), time from the
 * coarse clock). One hash probe when rs has a table; nothing when it has none. */
void fbseen_note_flow(struct fbseen *s, unsigned worker, const struct ruleset *rs, int ipver,
                      const uint8_t *server, const char *name, size_t len, bool hidden);

/* Bytes of the tables (fixed from fbseen_new()). */
size_t fbseen_bytes(const struct fbseen *s);

/* Address slots replaced while they held names not yet flushed (their names lost). */
uint64_t fbseen_evicted(const struct fbseen *s);

/* The fallback report (rules/resolve/fallback.h, one JSON line) with, for each address of its
 * "blocked" and "held" lists that this node saw names in traffic to, "names_seen" (the
 * estimate) and "names_seen_examples": from the node's "fbseen" document as last written by
 * fbseen_flush() (or read by its first call). A new string ending in a newline, or NULL when
 * report is not JSON or memory ran out (then serve report as it is). Any thread. */
char *fbseen_annotate(struct fbseen *s, const char *report);

/* Empties the tables and merges what they held into node's document in s (read, merge,
 * write). Returns 1 when written, 0 when there was nothing new, or a negative errno with a
 * message (what the tables held is kept for the next call). */
int fbseen_flush(struct fbseen *s, struct store *st, const char *node, uint64_t now_ms, char *err,
                 size_t errlen);

#endif
