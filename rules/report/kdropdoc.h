/* kdropdoc.h - the "kdrops" documents: what the kernel dropped per IP entry (ip.kernel_drop, the
 * nftables sets' per-element counters: proxy/enforce/ipdrop.h), one document per node (kind
 * "kdrops", id the node id; docs/store.md), written by the node's heartbeat
 * (proxy/daemon/kdrops.h) and summed across nodes by the execution report:
 *
 *     {"node":ID,"updated_ms":T,"entries":[{"entry":"192.0.2.7","packets":N,"bytes":B,
 *       "first_ms":T,"last_ms":T}]}
 *
 * "entry" is the IP entry's normalized text, as orders and hits name a resource. The counts are
 * packets (and their bytes) to the entry's address on every port Qorgau does not judge itself:
 * evidence that the order is enforced there, not connections (a blocked connection's client
 * sends its SYN again). At most KDROPDOC_ENTRIES entries (the most recently dropped kept). */
#ifndef QG_KDROPDOC_H
#define QG_KDROPDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KDROPDOC_ENTRIES   262144u
#define KDROPDOC_ENTRY_MAX 63u /* bytes of an entry's text ("ffff:...:ffff/128" fits) */

struct kdropdoc_entry {
    char entry[KDROPDOC_ENTRY_MAX + 1];
    uint64_t packets, bytes;
    uint64_t first_ms, last_ms;
};

/* The entries of a document or of several, sorted by entry text. */
struct kdropdoc {
    struct kdropdoc_entry *v;
    size_t n, cap;
};

/* Adds e to d: an entry already there gets the sums of packets and bytes, the earlier first_ms
 * and the later last_ms. An entry text longer than KDROPDOC_ENTRY_MAX is refused (-EINVAL).
 * Returns 0, -EINVAL or -ENOMEM. */
int kdropdoc_add(struct kdropdoc *d, const struct kdropdoc_entry *e);

/* Adds the document bytes[0..len) to d as kdropdoc_add() does for each of its entries (keep:
 * NULL, or a filter on the entry text); entries that are not well formed are skipped, and so is
 * everything past the first KDROPDOC_ENTRIES (what a node writes). Returns 0, -EINVAL (not such
 * a document) or -ENOMEM. */
int kdropdoc_merge(const char *bytes, size_t len, bool (*keep)(void *ctx, const char *entry),
                   void *ctx, struct kdropdoc *d);

/* The entry of that text in d, or NULL. */
const struct kdropdoc_entry *kdropdoc_find(const struct kdropdoc *d, const char *entry);

/* Writes node's document of d to f, the KDROPDOC_ENTRIES most recently dropped (d's order is
 * kept as it is). Returns 0 or -ENOMEM. */
int kdropdoc_write(FILE *f, const char *node, uint64_t now_ms, const struct kdropdoc *d);

void kdropdoc_free(struct kdropdoc *d);

#endif
