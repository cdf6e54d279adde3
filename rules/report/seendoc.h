/* seendoc.h - the "fbseen" documents: names seen in traffic to IP fallback addresses, one
 * document per node (kind "fbseen", id the node id; docs/store.md), written by the node's
 * heartbeat (proxy/daemon/fbseen.h) and merged across nodes by the execution report:
 *
 *     {"node":ID,"updated_ms":T,"addresses":[{"address":"192.0.2.10","first_ms":T,"last_ms":T,
 *       "hll":"<HLL_REGS base64url digits>","examples":["a.kz",...]}]}
 *
 * At most SEENDOC_ADDRESSES addresses (the most recently seen kept), at most SEENDOC_EXAMPLES
 * examples each. "hll" is a HyperLogLog sketch (common/hll.h) of the distinct names: sketches
 * merge by the register-wise maximum, so the merged estimate counts a name seen on several
 * nodes once. Evidence only: nothing here feeds the shared-address policy (docs/fallback.md). */
#ifndef QG_SEENDOC_H
#define QG_SEENDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/hll.h"

#define SEENDOC_ADDRESSES 1024u
#define SEENDOC_EXAMPLES  8u
#define SEENDOC_NAME_MAX  64u /* bytes of an example name kept (longer ones are cut) */

/* One address, merged. */
struct seendoc_addr {
    char address[48]; /* IPv4 or IPv6 text */
    uint64_t first_ms, last_ms;
    uint8_t reg[HLL_REGS];
    char ex[SEENDOC_EXAMPLES][SEENDOC_NAME_MAX + 1];
    unsigned nex;
};

/* Merges one address into *v (*n entries, grown with realloc): an address already there gets
 * the register-wise maximum, the earlier first_ms, the later last_ms and the examples it lacks
 * (up to SEENDOC_EXAMPLES). Returns 0 or -ENOMEM. */
int seendoc_add(struct seendoc_addr **v, size_t *n, const struct seendoc_addr *a);

/* Merges the document bytes[0..len) into *v as seendoc_add() does for each of its addresses;
 * entries that are not well formed are skipped, and so is everything past the first
 * SEENDOC_ADDRESSES entries (what a node writes). Returns 0, -EINVAL (not such a document) or
 * -ENOMEM. */
int seendoc_merge(const char *bytes, size_t len, struct seendoc_addr **v, size_t *n);

/* The same, keeping only the addresses keep(ctx, address) accepts (a report merging many
 * nodes' documents keeps the few addresses it shows). */
int seendoc_merge_only(const char *bytes, size_t len, bool (*keep)(void *ctx, const char *address),
                       void *ctx, struct seendoc_addr **v, size_t *n);

/* The entry of address (text) in v[0..n), or NULL. */
const struct seendoc_addr *seendoc_find(const struct seendoc_addr *v, size_t n,
                                        const char *address);

/* The distinct names of a: the sketch's estimate, and never fewer than the examples it kept
 * (a few names can estimate one low). 0 for NULL. */
uint64_t seendoc_names(const struct seendoc_addr *a);

/* Writes node's document of v[0..n) to f: sorts v by last_ms, newest first, and keeps the first
 * SEENDOC_ADDRESSES. */
void seendoc_write(FILE *f, const char *node, uint64_t now_ms, struct seendoc_addr *v, size_t n);

#endif
