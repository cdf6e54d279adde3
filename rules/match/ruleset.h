/* ruleset.h - one compiled, immutable version of everything that is enforced.
 *
 * Building: ruleset_builder_new(), add entries (rules/loader.h reads files into a builder),
 * ruleset_build(). The built set never changes; readers use it without locks. Publishing a new
 * version to running readers is rules/rsref.h.
 *
 * Entry kinds and their match semantics:
 *  - domain "ex.com": matches the name ex.com and every name under it (a.ex.com), never
 *    notex.com or ex.com.evil.net. Stored normalized.
 *  - url "http://h/p" or "https://h/p": matched on normalized host + path. Exact by default
 *    (the query of the request is ignored unless the entry has one); an entry whose path ends
 *    in '*' is a prefix ("http://h/dir/" + '*' matches h/dir/ and everything below).
 *  - ip: IPv4 / IPv6 address or CIDR, longest-prefix match.
 * Every entry carries the orders that list it and a category (strings, interned in the set):
 * the first order and the category in an interned pair, and, for the rare entry that several
 * orders list, the other order ids in a per-set table (ruleset_entry_orders()). */
#ifndef QG_RULESET_H
#define QG_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/match/fbaddr.h"

enum rule_kind { RULE_DOMAIN = 0, RULE_URL, RULE_IP };

#define RULESET_NO_ENTRY UINT32_MAX
/* Bytes a normalized entry text may take, NUL included ("https://" + "[host]" + path). */
#define RULESET_TEXT_MAX 2313

struct ruleset;
struct ruleset_builder;

/* Attributes of one entry as given to the builder. Strings are copied. */
struct rule_attrs {
    const char *order;    /* order id, e.g. "2026-41-0017"; may be NULL */
    const char *category; /* e.g. "court", "extremism", "gambling"; may be NULL */
    const char *source;   /* file:line it came from, for reports; may be NULL */
};

/* Returns a new empty builder, or NULL on allocation failure. */
struct ruleset_builder *ruleset_builder_new(void);
void ruleset_builder_free(struct ruleset_builder *b);

/* Parses one textual entry (a domain, an http(s) URL, an IP or CIDR; surrounding blanks
 * ignored), normalizes it and adds it. Returns 0, or -EINVAL with a reason in err (the builder
 * is unchanged), or -ENOMEM. A duplicate entry is accepted once (the first attrs' category and
 * order win) and counted in ruleset_builder_dups(); a duplicate from another order adds that
 * order to the entry's list (ruleset_entry_orders()). */
int ruleset_builder_add(struct ruleset_builder *b, const char *text, size_t len,
                        const struct rule_attrs *attrs, char *err, size_t errlen);
size_t ruleset_builder_count(const struct ruleset_builder *b, enum rule_kind kind);

/* Normalizes one textual entry exactly as ruleset_builder_add() does, without adding it: out
 * gets the normalized text (NUL-terminated), *out_len its length, *kind its kind ("*.ex.com"
 * gives "ex.com", a domain). Returns 0, -EINVAL with a reason in err, or -ENOMEM. */
int ruleset_normalize_entry(const char *text, size_t len, char out[RULESET_TEXT_MAX],
                            size_t *out_len, enum rule_kind *kind, char *err, size_t errlen);
size_t ruleset_builder_dups(const struct ruleset_builder *b);

/* Compiles the builder into an immutable set and frees the builder (also on failure).
 * Returns NULL on allocation failure. */
struct ruleset *ruleset_build(struct ruleset_builder *b);
void ruleset_free(struct ruleset *rs);
/* One more holder of rs (released with ruleset_free()): keeps a published set alive while it
 * is written after rsref freed its reference. Any thread. Returns rs. */
struct ruleset *ruleset_ref(const struct ruleset *rs);

/* A match result: the most specific entry that matched. */
struct rule_match {
    uint32_t entry; /* RULESET_NO_ENTRY when nothing matched */
    enum rule_kind kind;
};

/* Domain lookup of a normalized host (norm_host output). True if an entry matched; *m gets the
 * longest (most specific) matching domain entry. */
bool ruleset_match_domain(const struct ruleset *rs, const char *host, size_t len,
                          struct rule_match *m);

/* ruleset_match_domain() of the name hq was made from (domhash_query_init()), with its hashes:
 * a caller that looks the same name up in another index (the category index) hashes it once. */
struct domhash_query;
bool ruleset_match_domain_query(const struct ruleset *rs, const struct domhash_query *hq,
                                struct rule_match *m);

/* URL lookup: normalized host and normalized path (norm_path output, with query). Exact entries
 * first, then the longest prefix entry. Only url entries are consulted. */
bool ruleset_match_url(const struct ruleset *rs, const char *host, size_t hlen, const char *path,
                       size_t plen, struct rule_match *m);

/* True if some https:// url entry exists for exactly this host (used for TLS, where the path is
 * not visible: policy may block the whole name). http:// entries never match here: they are
 * enforced on HTTP requests, where the path is seen. *m gets one such entry. */
bool ruleset_match_url_host(const struct ruleset *rs, const char *host, size_t len,
                            struct rule_match *m);

/* IP lookup, longest prefix. ipver 4 (addr[0..3]) or 6 (addr[0..15]). */
bool ruleset_match_ip(const struct ruleset *rs, int ipver, const uint8_t *addr,
                      struct rule_match *m);

/* Entry attributes. Strings live as long as rs; order/category may be "" if none was given. */
const char *ruleset_entry_text(const struct ruleset *rs, uint32_t entry);  /* normalized form */
const char *ruleset_entry_order(const struct ruleset *rs, uint32_t entry); /* the first one */
/* Every order that lists entry: the first order (if it has one), then the others in the order
 * the builder first saw their ids. Writes up to cap pointers into out (strings live as long as
 * rs); returns the total count, which may exceed cap. Not for the packet path (a binary search
 * over the shared entries). */
size_t ruleset_entry_orders(const struct ruleset *rs, uint32_t entry, const char **out, size_t cap);
const char *ruleset_entry_category(const struct ruleset *rs, uint32_t entry);
enum rule_kind ruleset_entry_kind(const struct ruleset *rs, uint32_t entry);

/* Counts and memory of a built set. */
struct ruleset_stats {
    size_t domains, urls, ips4, ips6;
    size_t fallback;  /* addresses in the attached IP fallback table */
    size_t bytes;     /* heap bytes held by the set */
    uint64_t version; /* set by the publisher; 0 when never published */
};
void ruleset_get_stats(const struct ruleset *rs, struct ruleset_stats *st);

/* Sets the version reported by ruleset_get_stats() (rsref_publish() calls it before the set
 * becomes visible to readers). */
void ruleset_set_version(struct ruleset *rs, uint64_t version);

/* Attaches the IP fallback address table fb (rules/match/fbaddr.h; its entry ids are rs's) to rs,
 * which takes it over (a table attached before is freed). Only before rs is published: readers
 * never see a set change. ruleset_image_write() leaves the table out; an overlay built on rs
 * (ruleset_apply()) starts without one. */
void ruleset_set_fallback(struct ruleset *rs, struct fbaddr *fb);
/* The attached table, or NULL (then fbaddr_lookup() finds nothing). */
const struct fbaddr *ruleset_fallback(const struct ruleset *rs);

/* Number of entries (ids are 0 .. count-1, in the order they were first added). An overlay set
 * (ruleset_apply()) also counts its levels' entries it passes over and the ids between two
 * levels, which are no entry (ruleset_entry_live() is false for both). */
size_t ruleset_entry_count(const struct ruleset *rs);

/* False for an id out of range, for an id between two levels of an overlay, and for an entry
 * of a level below an overlay's top that it passes over (revoked, or moved up with other
 * claims); lookups never return those. */
bool ruleset_entry_live(const struct ruleset *rs, uint32_t entry);

/* ---- the disk image (fail-static): docs/matching.md "The disk image" ----
 *
 * One file: a header (magic, format version, layout id, rule-set version, counts, checksum
 * (XXH64) of the payload, section table) and the set's arrays as they are in memory, each 64-byte
 * aligned. Opening maps the file read-only, checks it and points a set's arrays into the
 * mapping: no rehashing, no renormalizing, no copy (the pages are the page cache's). */

#define RULESET_IMAGE_FORMAT 2 /* 1: SHA-256 of the payload */

/* Writes rs (an overlay set is merged first) to path atomically: path.tmp, fsync, rename,
 * fsync of the directory. version is stored in the header (ruleset_image_open() returns it).
 * Returns 0, or a negative errno with "rules: PATH: reason" in err. */
int ruleset_image_write(const struct ruleset *rs, const char *path, uint64_t version, char *err,
                        size_t errlen);

/* Maps and checks the image at path: a missing, truncated, corrupted (checksum), foreign (magic,
 * format version, layout) or inconsistent file is refused with "rules: PATH: reason" in err
 * and NULL returned (*version untouched), so the caller can fall back. On success *version (if
 * not NULL) gets the stored version, which ruleset_get_stats() also reports. The set is freed
 * with ruleset_free() like any other (the mapping goes with it). */
struct ruleset *ruleset_image_open(const char *path, uint64_t *version, char *err, size_t errlen);

/* ---- incremental updates: docs/matching.md "The overlay" ---- */

/* An overlay set is a stack of levels: the base, frozen deltas, and a top delta. */
#define RULESET_LEVELS_MAX 6
/* The top delta's size from which the next apply freezes it and starts a new, empty top (so
 * that an apply costs O(its change + this), not O(the whole overlay)). */
#define RULESET_FREEZE 8192
/* The deltas of a set from which its holder should compact it (ruleset_compact(), off the
 * packet path) before ruleset_apply() has to fold them itself at RULESET_LEVELS_MAX. */
#define RULESET_COMPACT_DEPTH 3

/* Sets the top size from which ruleset_apply() freezes a top (RULESET_FREEZE unless set;
 * process-wide; for tests and measurements, which stack levels with a few entries). */
void ruleset_set_freeze(size_t entries);

/* A claim of an order on an entry: text (len bytes; normalized again, as the builder does). */
struct ruleset_claim {
    const char *text;
    size_t len;
    const char *order;    /* may be NULL or "" (then the claim cannot be lifted) */
    const char *category; /* may be NULL */
};

/* Lifting order's claim on the entry text (len bytes), or, with text NULL, on every entry. */
struct ruleset_lift {
    const char *order;
    const char *text;
    size_t len;
};

/* A new set = cur - lift[0..nlift) + add[0..nadd), without rebuilding cur's base: the result
 * shares cur's levels (by reference: cur may be freed first) and holds a small top delta
 * (added entries, and entries of the levels below whose claims changed, with their full claim
 * lists) and a tombstone bit per entry below it. An entry below is tombstoned when its last
 * claim is lifted or when it moves into the top; an added entry that a level below already has
 * keeps both claims. The lifts are applied before the additions. The top delta is rebuilt
 * while it holds fewer than RULESET_FREEZE entries; past that it is frozen (shared as it is) and
 * a new top begins, so an apply costs O(its change + RULESET_FREEZE) whatever the overlay's
 * size, plus a scan of every level's attributes when an order is lifted whole and a copy of
 * the tombstone bits (n/8 bytes). At RULESET_LEVELS_MAX levels the deltas are folded into one
 * first (O(overlay): ruleset_compact() in the background avoids it). No change (nadd and nlift
 * 0) gives a new handle on the same levels. Returns the set, or NULL with err set (an entry
 * that does not normalize: -EINVAL in *rc if rc is not NULL; or out of memory). cur is
 * unchanged. Readers of cur are not disturbed. rules/orders/orderset.h turns orders and
 * revocations into claims and lifts (orderset_apply()). */
struct ruleset *ruleset_apply(const struct ruleset *cur, const struct ruleset_claim *add,
                              size_t nadd, const struct ruleset_lift *lift, size_t nlift, int *rc,
                              char *err, size_t errlen);

/* Entries of rs's overlay: the deltas' entries plus the tombstones (0 for a flat set). The
 * caller merges (ruleset_merge(), off the packet path) when this passes its threshold. */
size_t ruleset_overlay_size(const struct ruleset *rs);

/* The deltas stacked on rs's base (0 for a flat set, 1 after the first apply). */
size_t ruleset_depth(const struct ruleset *rs);

/* A new set with rs's live entries and claims, its deltas folded into one over the same base
 * (shared; entry ids of the deltas change, the base's do not) - or, size-tiered, the deltas
 * above the oldest folded into one over it when the oldest is more than twice their size
 * (the result then has two deltas). Costs O(the folded deltas' entries), not O(the base):
 * call it from a background thread when ruleset_depth() reaches RULESET_COMPACT_DEPTH. A set
 * with one delta or none gives a new handle on the same levels. Returns NULL on allocation
 * failure. */
struct ruleset *ruleset_compact(const struct ruleset *rs);

/* A new flat set with every live entry of rs and its claims (an overlay folded into a fresh
 * base; a flat set copied). Entry ids change. Slow (every entry is added to a builder again):
 * call it from a background thread. Returns NULL on allocation failure. */
struct ruleset *ruleset_merge(const struct ruleset *rs);

#endif
