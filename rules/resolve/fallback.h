/* fallback.h - from resolved names to the IP fallback table of a rule set, with the shared
 * address policy and the record of what was blocked since when (docs/fallback.md).
 *
 * fallback_build() groups the resolver's answers by address, counts the blocked names behind
 * each address (only names still matched by a domain entry of the set), and gives every address
 * its action: an address fewer than threshold names share blocks every flow; a shared one gets
 * the configured policy. It keeps, per address, since when it has had its current action, and
 * renders the report (blocked addresses and the held back shared ones, the residual risks) as
 * one JSON document. */
#ifndef QG_FALLBACK_H
#define QG_FALLBACK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rules/match/fbaddr.h"
#include "rules/match/ruleset.h"
#include "rules/resolve/resolver.h"

enum fallback_policy {
    FALLBACK_SHARED_BLOCK = 0, /* a shared address blocks every flow too */
    FALLBACK_SHARED_NAMELESS,  /* only flows without a visible name (no SNI, ECH) */
    FALLBACK_SHARED_REPORT,    /* nothing: reported as a residual risk */
};

struct fallback_config {
    uint32_t threshold; /* blocked names per address from which it is shared (>= 2) */
    enum fallback_policy policy;
};

struct fallback;

struct fallback *fallback_new(const struct fallback_config *c);
void fallback_free(struct fallback *f);

/* The fallback table for rs from r's table (read under its lock), to attach to rs with
 * ruleset_set_fallback(). now (wall clock) dates addresses new to their action. The report is
 * rendered too (fallback_report()). Returns NULL on allocation failure. Not thread-safe: one
 * caller at a time (the daemon's publication lock). */
struct fbaddr *fallback_build(struct fallback *f, struct resolver *r, const struct ruleset *rs,
                              time_t now);

/* A copy (malloc'd, NUL-terminated) of the report of the last build, or NULL before the first
 * build or out of memory. Thread-safe. Format: docs/fallback.md "The report". */
char *fallback_report(struct fallback *f);

/* "block", "nameless", "report". */
const char *fallback_policy_name(enum fallback_policy p);

#endif
