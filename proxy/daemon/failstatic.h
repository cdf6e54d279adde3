/* failstatic.h - the node's last enforced rule set on disk, so it can start and keep enforcing
 * while the order store is unreachable (fail-static).
 *
 * Today the file holds the order records the set was compiled from, and a node starting
 * without its store compiles them again. Layout of STATE_DIR/failstatic.json:
 *
 *     qorgau-failstatic 1 VERSION COUNT SHA256\n      header: format, format version, store
 *     {order record}\n                                  version, number of records, SHA-256
 *     ... COUNT lines ...                               (lower-case hex) of the header up to
 *                                                       the checksum field (its trailing space
 *                                                       included) and everything after the
 *                                                       header line
 * Each record is the canonical JSON object of rules/orders/order.h (one line: compact JSON
 * escapes every control byte). Written to a temporary name, fsync'ed, renamed, directory
 * fsync'ed: a reader sees the old file or the new one, never half of one. A mapped, checksummed
 * image of the compiled set (rules/match) replaces the body later; failstatic_save() and
 * failstatic_load() are the two places that change. */
#ifndef QG_FAILSTATIC_H
#define QG_FAILSTATIC_H

#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"

#define FAILSTATIC_NAME   "failstatic.json"
#define FAILSTATIC_MAGIC  "qorgau-failstatic"
#define FAILSTATIC_FORMAT 1

/* Parses a whole file's bytes (name is used in messages). Returns 0 with *version set and the
 * records appended to out; or -EINVAL (bad header, unknown format version, checksum mismatch,
 * record count mismatch, a malformed record) with out unchanged and err = "failstatic: NAME:
 * reason" (a record's problem names its line); or -ENOMEM. */
int failstatic_parse(const char *name, const uint8_t *buf, size_t len, uint64_t *version,
                     struct order_list *out, char *err, size_t errlen);

/* Writes the file for orders[0..n) at version into dir, atomically (see above). Returns 0 or a
 * negative errno with "failstatic: PATH: reason" in err. Nothing of orders is kept. */
int failstatic_save(const char *dir, uint64_t version, const struct order *const *orders, size_t n,
                    char *err, size_t errlen);

/* Reads dir/FAILSTATIC_NAME and parses it. -ENOENT when there is none; otherwise as
 * failstatic_parse(), or -errno when it cannot be read. */
int failstatic_load(const char *dir, uint64_t *version, struct order_list *out, char *err,
                    size_t errlen);

#endif
