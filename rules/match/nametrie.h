/* nametrie.h - anchored Aho-Corasick automaton over names, stored as a flat path-compressed trie.
 *
 * Every pattern is anchored at the start of the query, so every failure link of the
 * Aho-Corasick automaton points to the root: the automaton reduces to its goto trie.
 * The trie is path-compressed and laid out for the cache (docs/matching.md): 12-byte nodes in
 * BFS order in one flat array, the children of a node contiguous and sorted, each holding the
 * first byte of its edge label (copied to a byte array for wide nodes); labels of up to 5 bytes
 * inline, longer ones referenced into the caller's string pool (no copy of the keys).
 *
 * Keys are byte strings pool[off .. off+len), matched from the first byte of the query. The rule
 * set builds two: URL entries `host/path[?query]` (exact) and entries ending in `*` (prefix). Domain
 * entries, which match at label boundaries from the right, are served by domhash.h. */
#ifndef QG_NAMETRIE_H
#define QG_NAMETRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAMETRIE_NONE    UINT32_MAX
#define NAMETRIE_KEY_MAX 16383u /* label lengths take 14 bits of a node */

struct nametrie;

/* One key: pool[off .. off+len), 1 <= len <= NAMETRIE_KEY_MAX, and the value it maps to
 * (anything but NAMETRIE_NONE). */
struct nametrie_key {
    uint32_t off;
    uint32_t len;
    uint32_t value;
};

enum nametrie_mode {
    NAMETRIE_EXACT,  /* the whole query is a key */
    NAMETRIE_PREFIX, /* longest key that is a prefix of the query */
};

/* Builds a trie over keys[0..n) whose bytes live in pool. keys is reordered (sorted). The
 * trie keeps a pointer to pool: pool must outlive it and not change. A key given twice is
 * stored once (the first in sorted order wins). Returns NULL on allocation failure or when a key
 * is empty or longer than NAMETRIE_KEY_MAX. n == 0 gives an empty trie. */
struct nametrie *nametrie_build(const char *pool, struct nametrie_key *keys, size_t n);
void nametrie_free(struct nametrie *t);

/* Looks q[0..len) up; returns the value of the matching key per mode, or NAMETRIE_NONE.
 * t may be NULL (nothing matches). Allocates nothing. */
uint32_t nametrie_lookup(const struct nametrie *t, const char *q, size_t len,
                         enum nametrie_mode mode);

/* nametrie_lookup() that passes over values whose bit is set in dead (bit v of dead[v / 64];
 * NULL: none is): EXACT gives NAMETRIE_NONE for a dead key, PREFIX the longest live key. */
uint32_t nametrie_lookup_live(const struct nametrie *t, const char *q, size_t len,
                              enum nametrie_mode mode, const uint64_t *dead);

/* Calls fn(value, arg) for every key that starts with q[0..len) (any order), until fn returns
 * nonzero, which is then returned (0 when every call returned 0). Not for the packet path. */
int nametrie_each_prefixed(const struct nametrie *t, const char *q, size_t len,
                           int (*fn)(uint32_t value, void *arg), void *arg);

/* The flat arrays of a built trie, for writing it out (rules/match/ruleset.h images). */
struct nametrie_parts {
    const void *node;  /* n nodes of 12 bytes */
    const void *first; /* n bytes */
    uint64_t n;
};
void nametrie_parts(const struct nametrie *t, struct nametrie_parts *p);
#define NAMETRIE_NODE_BYTES 12

/* A trie over arrays written out by nametrie_parts(), used in place (borrowed: they must
 * outlive it; nametrie_free() frees only the handle). Every node is checked (children after
 * their parent, labels inside the pool of pool_len bytes, values < nvalues) so that a forged
 * image cannot send a lookup out of bounds or round in a loop. Returns NULL with err set. */
struct nametrie *nametrie_view(const char *pool, size_t pool_len, const struct nametrie_parts *p,
                               uint32_t nvalues, char *err, size_t errlen);

/* Returns a malloc'd (free()-able) copy of src[0..n); blocks of 2 MiB and more are aligned to
 * and advised onto transparent huge pages. NULL on allocation failure. */
void *nametrie_hugecopy(const void *src, size_t n);

/* Heap bytes held by t, and its node count (value slots included). */
size_t nametrie_bytes(const struct nametrie *t);
size_t nametrie_nodes(const struct nametrie *t);

#endif
