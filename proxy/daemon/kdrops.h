/* kdrops.h - what the kernel dropped per IP entry, for the execution reports (docs/reports.md,
 * "Kernel drops").
 *
 * With ip.kernel_drop, forwarded traffic to an order's IP entry on a port Qorgau does not judge
 * itself is dropped by the kernel (proxy/enforce/ipdrop.h) and never reaches a worker, so it
 * makes no hit. The ipdrop thread reads the sets' per-element counters every
 * ip.kernel_counts_interval (and at a clean stop) and notes each element's growth here
 * (kdrops_note()); the
 * heartbeat (with the hits) adds what was noted to this node's "kdrops" document in the store
 * (kdrops_flush(); rules/report/kdropdoc.h gives its form), which the report sums over the
 * fleet's nodes. */
#ifndef QG_KDROPS_H
#define QG_KDROPS_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct kdrops;

/* NULL on allocation failure. */
struct kdrops *kdrops_new(void);
void kdrops_free(struct kdrops *k);

/* Notes packets and bytes the kernel dropped to entry (an IP entry's normalized text) up to
 * now_ms. Any thread; allocates (the ipdrop thread, not a worker). Past KDROPDOC_ENTRIES
 * entries waiting for a flush, the excess is counted as lost (kdrops_lost()). */
void kdrops_note(struct kdrops *k, const char *entry, uint64_t packets, uint64_t bytes,
                 uint64_t now_ms);

/* Adds what was noted since the last flush to node's "kdrops" document in s (read, add, write).
 * Returns 1 when it was written, 0 when there was nothing to add, or a negative errno with a
 * message (what was noted is kept for the next flush). */
int kdrops_flush(struct kdrops *k, struct store *s, const char *node, uint64_t now_ms, char *err,
                 size_t errlen);

/* Entries' counts lost so far (too many waiting for a flush). */
uint64_t kdrops_lost(struct kdrops *k);

#endif
