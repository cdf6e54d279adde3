/* iplpm.h - longest-prefix match over IPv4 or IPv6 prefixes.
 *
 * The prefixes are flattened at build time into sorted, disjoint address intervals, each
 * labelled with its most specific covering prefix (or none); a lookup is one binary search
 * over the interval starts (docs/matching.md). Immutable after build, read without locks. */
#ifndef QG_IPLPM_H
#define QG_IPLPM_H

#include <stddef.h>
#include <stdint.h>

#define IPLPM_NONE UINT32_MAX

struct iplpm;

/* One prefix: addr in network byte order (4 bytes used for IPv4, 16 for IPv6), plen 0..32 or
 * 0..128, value anything but IPLPM_NONE. Host bits of addr are ignored. */
struct iplpm_prefix {
    uint8_t addr[16];
    uint8_t plen;
    uint32_t value;
};

/* Builds the structure for ipver 4 or 6 from p[0..n) (p is reordered). A prefix given twice
 * keeps the value that sorts first (the smaller value). Returns NULL on allocation failure or
 * a bad ipver/plen. n == 0 gives an empty structure. */
struct iplpm *iplpm_build(struct iplpm_prefix *p, size_t n, int ipver);
void iplpm_free(struct iplpm *t);

/* Value of the longest prefix covering addr (4 or 16 bytes per the build's ipver), or
 * IPLPM_NONE. t may be NULL. Allocates nothing. */
uint32_t iplpm_lookup(const struct iplpm *t, const uint8_t *addr);

/* iplpm_lookup() that passes over values whose bit is set in dead (bit v of dead[v / 64];
 * NULL: none is): the longest covering prefix whose value is live. */
uint32_t iplpm_lookup_live(const struct iplpm *t, const uint8_t *addr, const uint64_t *dead);

/* The value of the most specific prefix that covers the prefix whose value is v (strictly
 * larger), or IPLPM_NONE. */
uint32_t iplpm_parent(const struct iplpm *t, uint32_t v);

/* The flat arrays of a built structure, for writing it out (rules/match/ruleset.h images). */
struct iplpm_parts {
    int ipver;
    uint64_t n; /* intervals: start (16 bytes each, 16-aligned) and value (4 bytes) */
    const void *start, *value;
    uint64_t nparent; /* parent pairs {value, parent} (8 bytes each), sorted by value */
    const void *parent;
};
void iplpm_parts(const struct iplpm *t, struct iplpm_parts *p);

/* A structure over arrays written out by iplpm_parts(), used in place (borrowed: they must
 * outlive it; iplpm_free() frees only the handle). Checked: starts increasing, values and
 * parents < nvalues (or none), parents sorted. Returns NULL with err set. */
struct iplpm *iplpm_view(const struct iplpm_parts *p, uint32_t nvalues, char *err, size_t errlen);

/* Heap bytes held by t, and its interval count. */
size_t iplpm_bytes(const struct iplpm *t);
size_t iplpm_intervals(const struct iplpm *t);

#endif
