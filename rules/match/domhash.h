/* domhash.h - anchored name matching by hashing: a label-suffix hash index over names.
 *
 * The keys are names (domain entries, or the hosts of URL entries) stored by the caller in a
 * string pool. One right-to-left pass over a query hashes every suffix that starts at a label
 * boundary (a.b.ex.com: com, ex.com, b.ex.com, a.b.ex.com), each to the hash its key would have.
 * A blocked Bloom filter (1.75 bytes per key, one 64-byte line per key) turns away a query none
 * of whose suffixes is a key before the table is touched; a suffix that passes is looked up in
 * an open-addressing table (8-byte slots: where the key text starts and the value; 1.5 slots
 * per key) and every candidate is verified against its key text, so there are no false matches. Immutable after build, read
 * without locks, no allocation per lookup (docs/matching.md). */
#ifndef QG_DOMHASH_H
#define QG_DOMHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOMHASH_NONE      UINT32_MAX
#define DOMHASH_VALUE_MAX ((1u << 30) - 2) /* two bits of a slot hold a hash tag */
#define DOMHASH_KEY_MAX   4096u

struct domhash;

enum domhash_mode {
    DOMHASH_LABEL, /* the longest key equal to a suffix of the query that is the whole query or
                      follows a '.' (ex.com matches ex.com and a.ex.com, never notex.com) */
    DOMHASH_EXACT, /* a key equal to the whole query */
};

/* Builds an index over values[0..n). The key of value v is the text at pool + offs[v] + skip,
 * up to (not including) the first '\0' or '/' (so a URL text "https://h/p" with skip 8 has the
 * key "h"); 1 <= key length <= DOMHASH_KEY_MAX. Each value must be <= DOMHASH_VALUE_MAX and
 * index offs. Values whose keys are equal are stored once (the first in values[] wins). The
 * index keeps a pointer to pool (not to offs): pool must outlive it and not change. Returns NULL on
 * allocation failure or a bad key or value. n == 0 gives an empty index. */
struct domhash *domhash_build(const char *pool, const uint32_t *offs, uint32_t skip,
                              const uint32_t *values, size_t n);
void domhash_free(struct domhash *d);

/* Looks q[0..len) up per mode; returns the matching value or DOMHASH_NONE. d may be NULL
 * (nothing matches). Allocates nothing. */
uint32_t domhash_lookup(const struct domhash *d, const char *q, size_t len, enum domhash_mode mode);

/* The pre-filter alone: false when no label-boundary suffix of q[0..len) can be a key (a LABEL
 * lookup would return DOMHASH_NONE); true when one may be (about 0.4% of absent names pass by
 * accident). False for NULL or an empty index. For tests and measurements. */
bool domhash_may_match(const struct domhash *d, const char *q, size_t len);

/* domhash_lookup() that passes over values whose bit is set in dead (bit v of dead[v / 64];
 * NULL: none is): a LABEL lookup then gives the longest key whose value is live. */
uint32_t domhash_lookup_live(const struct domhash *d, const char *q, size_t len,
                             enum domhash_mode mode, const uint64_t *dead);

/* One lookup over n indexes (n <= DOMHASH_MULTI_MAX; t[i] may be NULL) that share no live key
 * (the levels of an overlay, with the values set in dead[i] passed over in t[i]; dead[i] may be
 * NULL): the longest matching live key of any; *which gets its index (0 when
 * nothing matched). The query is hashed once; a suffix is tested in every index before the
 * next shorter one. Allocates nothing. */
#define DOMHASH_MULTI_MAX 8
uint32_t domhash_lookup_multi(const struct domhash *const *t, const uint64_t *const *dead, size_t n,
                              const char *q, size_t len, enum domhash_mode mode, size_t *which);

/* A name's label-boundary suffixes hashed once, for LABEL lookups of the same name in several
 * indexes (the regulator's rule set and the category index: rules/match/catset.h): the hashes
 * do not depend on the index. Holds a pointer to the name, which must outlive it. A name of
 * more than DOMHASH_QUERY_MAX labels is marked deep and each lookup hashes it again. */
#define DOMHASH_QUERY_MAX 32
struct domhash_query {
    const char *q;
    size_t len;
    unsigned n; /* suffixes hashed, shortest first */
    bool deep;  /* more labels than DOMHASH_QUERY_MAX */
    uint32_t start[DOMHASH_QUERY_MAX];
    uint64_t m[DOMHASH_QUERY_MAX];
};

/* Hashes the label-boundary suffixes of q[0..len) into hq. Allocates nothing. */
void domhash_query_init(struct domhash_query *hq, const char *q, size_t len);

/* domhash_lookup_live(d, hq->q, hq->len, DOMHASH_LABEL, dead) with the hashes of hq. */
uint32_t domhash_lookup_query(const struct domhash *d, const struct domhash_query *hq,
                              const uint64_t *dead);

/* domhash_lookup_multi(t, dead, n, hq->q, hq->len, DOMHASH_LABEL, which) with the hashes of
 * hq. */
uint32_t domhash_lookup_multi_query(const struct domhash *const *t, const uint64_t *const *dead,
                                    size_t n, const struct domhash_query *hq, size_t *which);

/* The flat arrays of a built index, for writing it out (rules/match/ruleset.h images). */
struct domhash_parts {
    const void *slot, *bloom;
    size_t slot_bytes, bloom_bytes;
    uint64_t n, cap;
    uint32_t nlines;
};
void domhash_parts(const struct domhash *d, struct domhash_parts *p);

/* An index over arrays written out by domhash_parts() (and a pool of pool_len bytes ending in
 * '\0'), used in place: the arrays are borrowed and must outlive it, domhash_free() frees only
 * the handle. Every slot is checked (key inside the pool, value < nvalues) so that a forged
 * image cannot send a lookup out of bounds. Returns NULL with a reason in err. */
struct domhash *domhash_view(const char *pool, size_t pool_len, const struct domhash_parts *p,
                             uint32_t nvalues, char *err, size_t errlen);

/* Heap bytes held by d, and the number of keys stored (distinct keys). */
size_t domhash_bytes(const struct domhash *d);
size_t domhash_count(const struct domhash *d);

#endif
