/* fbaddr.h - the IP fallback address table: resolved addresses of blocked names.
 *
 * rules/resolve/ resolves the names of domain entries and turns the answers into one record per
 * address (the entry it blocks for, how many blocked names share it, what to do with it). The
 * table is built once, attached to a rule set (ruleset_set_fallback()) before that set is
 * published, and read without locks; a lookup is one hash probe sequence and allocates nothing.
 * docs/fallback.md describes the policy. */
#ifndef QG_FBADDR_H
#define QG_FBADDR_H

#include <stddef.h>
#include <stdint.h>

/* What a flow to the address gets. */
enum fbaddr_act {
    FBADDR_BLOCK = 0,    /* every flow, whatever name it shows (domain fronting does not pass) */
    FBADDR_NAMELESS = 1, /* only flows with no visible name (no SNI, ECH): a shared address */
    FBADDR_REPORT = 2,   /* nothing: a shared address held back, recorded as a residual risk */
};

struct fbaddr_rec {
    uint8_t ipver;    /* 4 or 6 */
    uint8_t act;      /* enum fbaddr_act */
    uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
    uint32_t entry;   /* the domain entry (of the set the table is attached to) it blocks for */
    uint32_t names;   /* blocked names resolving to the address (the shared count) */
};

struct fbaddr;

/* Builds a table from r[0..n) (copied). An address given twice keeps its first record.
 * Returns NULL on allocation failure. n == 0 gives an empty table. */
struct fbaddr *fbaddr_build(const struct fbaddr_rec *r, size_t n);
void fbaddr_free(struct fbaddr *t);

/* The record of addr (4 bytes for ipver 4, 16 for 6), or NULL. t may be NULL. No allocation. */
const struct fbaddr_rec *fbaddr_lookup(const struct fbaddr *t, int ipver, const uint8_t *addr);

/* Records in t and heap bytes held (0 for NULL). */
size_t fbaddr_count(const struct fbaddr *t);
size_t fbaddr_bytes(const struct fbaddr *t);

#endif
