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
 * fsync'ed: a reader sees the old file or the new one, never half of one.
 *
 * That file is the checkpoint. Each change after it is appended to STATE_DIR/failstatic.journal
 * (and fsync'ed), one line per order the change touched:
 *
 *     VERSION + SHA256 {order record}\n      the order is active with this record
 *     VERSION - SHA256 ID\n                  the order is revoked (a tombstone)
 *
 * SHA256 (lower-case hex) covers the line up to the checksum field (its trailing space
 * included) and the payload after it. Versions never go back. Loading is the checkpoint, then
 * failstatic.journal.old, then failstatic.journal, skipping entries of a version the checkpoint
 * already holds. A last line without its line end is a write torn by a crash: it is ignored (and
 * said); any other bad line refuses the journal (and the start) as a bad checkpoint does. A new
 * checkpoint first moves the journal aside (failstatic_journal_rotate()), is written, and then
 * removes the moved journal (failstatic_journal_drop_old()): a crash in between leaves entries
 * the new checkpoint holds (skipped) or the old checkpoint and its journal. */
#ifndef QG_FAILSTATIC_H
#define QG_FAILSTATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"

#define FAILSTATIC_NAME         "failstatic.json"
#define FAILSTATIC_MAGIC        "qorgau-failstatic"
#define FAILSTATIC_FORMAT       1
#define FAILSTATIC_JOURNAL_NAME "failstatic.journal"
#define FAILSTATIC_JOURNAL_OLD  "failstatic.journal.old"

/* One journal entry: the order id's state after the change of version. */
struct failstatic_change {
    uint64_t version;
    char *id;
    struct order *o; /* NULL: revoked */
};

/* Journal entries, in file order. torn: the last line had no line end (torn_line: its line,
 * torn_name: its file) and was ignored. */
struct failstatic_journal {
    struct failstatic_change *v;
    size_t n, cap;
    bool torn;
    size_t torn_line;
    char torn_name[1024];
};

void failstatic_journal_free(struct failstatic_journal *j);

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

/* Parses one journal file's bytes (name for messages). Entries of a version above after are
 * appended to out; *last is the highest version seen so far (0 at first; an entry below it is
 * refused) and is updated. Returns 0; or -EINVAL (a line that is not an entry, a checksum
 * mismatch, a malformed record, a version going back) with out as it was and err =
 * "failstatic: NAME:LINE: reason"; or -ENOMEM. A last line without its line end sets out->torn
 * and is not an error. */
int failstatic_journal_parse(const char *name, const uint8_t *buf, size_t len, uint64_t after,
                             uint64_t *last, struct failstatic_journal *out, char *err,
                             size_t errlen);

/* Appends the change of version to dir/FAILSTATIC_JOURNAL_NAME: a tombstone for each of
 * revoke[0..nrevoke), then each record of add[0..nadd) (a replacement is both, in that order),
 * fsync'ed. A record is given as its JSON text (add[i], addlen[i] bytes, one line: the store's
 * text or order_to_json()'s; a text with a line end is refused with -EINVAL). A torn last line a crash left is cut off first. *bytes (may be NULL) is the
 * journal's size after. Returns 0 or a negative errno with "failstatic: PATH: reason" in err
 * (the journal is then as it was). */
int failstatic_journal_append(const char *dir, uint64_t version, const char *const *add,
                              const size_t *addlen, size_t nadd, const char *const *revoke,
                              size_t nrevoke, uint64_t *bytes, char *err, size_t errlen);

/* Before a checkpoint: moves the journal to FAILSTATIC_JOURNAL_OLD (appends it there when a
 * failed checkpoint left one), so later changes go to a fresh journal. Returns 0 or a negative
 * errno with err set. */
int failstatic_journal_rotate(const char *dir, char *err, size_t errlen);

/* After a checkpoint was written: removes FAILSTATIC_JOURNAL_OLD. Returns 0 or a negative errno
 * with err set. */
int failstatic_journal_drop_old(const char *dir, char *err, size_t errlen);

/* Reads the journals of dir (FAILSTATIC_JOURNAL_OLD, then FAILSTATIC_JOURNAL_NAME; a missing
 * one is empty) into out: entries of a version above after (the checkpoint's). *version is
 * after, or the last entry's version when higher; *bytes (may be NULL) the journals' total
 * size. Returns 0 or as failstatic_journal_parse(), or -errno when a journal cannot be read. */
int failstatic_journal_load(const char *dir, uint64_t after, uint64_t *version,
                            struct failstatic_journal *out, uint64_t *bytes, char *err,
                            size_t errlen);

#endif
