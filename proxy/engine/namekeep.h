/* namekeep.h - the names of passed connections, kept so that a later rule set can judge them
 * again (tap mode: a connection passed before an order listing its name is cut at its next
 * packet; engine_config.passed_names).
 *
 * A fixed table of entries allocated once (mapped, touched as it fills), each holding one
 * owner's name (up to 253 bytes, any DNS name), whether it came from a ClientHello with ECH,
 * and who owns it (an opaque pointer and a generation the owner checks). Entries are numbered
 * 1..n (0: none) so an owner can keep its number in a 16-bit field; freed entries go on a free
 * list. Nothing is allocated after namekeep_new(); no call takes more than O(1) but
 * namekeep_next(). Not thread-safe: one table per worker. */
#ifndef QG_NAMEKEEP_H
#define QG_NAMEKEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAMEKEEP_MAX      65535u /* entries: numbers fit 16 bits */
#define NAMEKEEP_NAME_MAX 253u

struct namekeep;

struct namekeep_entry {
    const void *owner; /* NULL: free */
    uint32_t gen;      /* the owner's generation when noted (a reused owner has another) */
    uint8_t len;
    bool ech;
    uint8_t ipver;      /* the connection's client, for its share (namekeep_set_share()) */
    uint8_t client[16]; /* IPv4: the first 4 bytes */
    char name[NAMEKEEP_NAME_MAX];
};

/* A table of n entries (1..NAMEKEEP_MAX); NULL when n is out of range or out of memory. */
struct namekeep *namekeep_new(uint32_t n);
void namekeep_free(struct namekeep *nk);

/* At most share entries per client (an IPv4 address, an IPv6 prefix of prefix6 bits): one
 * client keeping many connections alive cannot fill the table, leaving every other client's
 * later passes unkept (a later order would not cut them). 0 (or the whole table): none. Call
 * before the first put. Returns false when out of memory (the table then has no share). */
bool namekeep_set_share(struct namekeep *nk, uint32_t share, unsigned prefix6);

/* Notes name (len bytes) for owner/gen in entry `at` when at is not 0 (the owner's own entry,
 * replaced), else in a free entry; the connection's client is ipver/client (IPv4: its first 4
 * bytes). Returns the entry's number, or 0 when none is free, the client holds its share, or
 * the name is empty or longer than NAMEKEEP_NAME_MAX (counted in namekeep_stats). */
uint32_t namekeep_put(struct namekeep *nk, uint32_t at, const void *owner, uint32_t gen,
                      const char *name, size_t len, bool ech, int ipver, const uint8_t *client);

/* Entry number `at` (1..n), or NULL when out of range or free. */
const struct namekeep_entry *namekeep_get(const struct namekeep *nk, uint32_t at);

/* Frees entry `at` (0 or a free entry: nothing). */
void namekeep_drop(struct namekeep *nk, uint32_t at);

/* The first entry in use with a number > after (0: from the start); 0 when none. Walks the
 * table: O(n) over a whole pass. */
uint32_t namekeep_next(const struct namekeep *nk, uint32_t after);

struct namekeep_stats {
    uint32_t in_use;
    uint64_t noted, full, client_full, too_long;
};
void namekeep_get_stats(const struct namekeep *nk, struct namekeep_stats *st);

#endif
