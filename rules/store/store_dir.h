/* store_dir.h - the directory store: the embedded default, one node, no server.
 *
 *     DIR/lock           flock(2): writers exclusive, snapshots shared
 *     DIR/version        "N\n", replaced atomically (temp + fsync + rename): the commit point
 *     DIR/changes.log    one line per change, appended and fsynced:
 *                        "<version> <kind> <urgent 0|1> <time_ms> <id>[,<id>...] <crc32>\n"
 *                        crc32: 8 lower-case hex digits, IEEE CRC-32 of the line before " <crc32>"
 *     DIR/orders/<id>    "qorgau-order 1 <active|revoked> <version> <updated_ms> <len>\n" + record
 *     DIR/nodes/<id>     "<version> <since_ms> <heartbeat_ms> <ttl_ms> <software> <mode>\n"
 *                        ("-" for an empty one; a file of an older release has neither)
 *     DIR/enforced/<id>  the node's enforcement log, "<version> <since_ms>\n" appended
 *     DIR/evidence/<id>  the order's events, "<kind> <version> <time_ms>\n" appended
 *     DIR/hits/<order>   "<count> <first_ms> <last_ms> <entry>\n" sorted by entry, rewritten
 *     DIR/docs/<kind>/<id>  a document's bytes
 *     DIR/subs/<addr>    "<subscriber> <session|-> <updated_ms> <expires_ms>\n" ('/' as '_')
 *     DIR/subs.log       the mappings' changes, appended per batch (no fsync), cut at 4 MiB:
 *                        "set <addr> <subscriber> <session|-> <expires_ms>\n" or
 *                        "del <addr> <session|->\n"
 *     DIR/tariff         tariff records, "p <name> <text>\n" / "s <id> <text>\n", rewritten
 *                        (temp + fsync + rename: its inode, size and times are the change marker)
 *
 * docs/store.md describes the same layout and what a crash between two steps leaves. */
#ifndef QG_STORE_DIR_H
#define QG_STORE_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/store/store.h"

#define STORE_DIR_LINE_MAX (64 + 2 * STORE_ID_MAX)

/* One parsed change-log line; ids points into the parsed line (ids_len bytes, ','-separated). */
struct store_dir_line {
    uint64_t version;
    enum store_change_kind kind;
    bool urgent;
    uint64_t time_ms;
    const char *ids;
    size_t ids_len;
    size_t n_ids;
};

/* Parses one change-log line of len bytes (without its '\n'). Returns 0, or -EINVAL with
 * "store: changes.log: <reason> at offset N" in err. Pure: reads only line[0..len). */
int store_dir_line_parse(const char *line, size_t len, struct store_dir_line *out, char *err,
                         size_t errlen);

/* Formats a change-log line (with its '\n') into out; returns its length, or 0 when it does not
 * fit. ids is the ','-joined id list. */
size_t store_dir_line_format(char *out, size_t cap, uint64_t version, enum store_change_kind kind,
                             bool urgent, uint64_t time_ms, const char *ids, size_t ids_len);

/* Parses one subs.log line (NUL-terminated, without its '\n'; modified while parsed, restored
 * but for the spaces, which become NULs) into o: op, addr, subscriber (SET), session ("" for
 * "-"), expires_ms (SET; 0: never); pointers into line. 0, or -1 when malformed (fields, a
 * decimal, the address). */
int store_dir_sub_parse(char *line, struct store_sub *o);

/* IEEE CRC-32 (the zlib one) of n bytes, continuing from crc (start with 0). */
uint32_t store_dir_crc32(uint32_t crc, const void *buf, size_t n);

/* Opens (creating it and its sub-directories, mode 0750) the directory store at path. */
struct store *store_dir_open(const char *path, const struct store_opts *o, char *err,
                             size_t errlen);

#endif
