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

/* An address prefix (host bits ignored). */
struct fallback_prefix {
    uint8_t ipver; /* 4 or 6 */
    uint8_t plen;  /* 0..32 or 0..128 */
    uint8_t addr[16];
};

#define FALLBACK_PROTECT_MAX 64

struct fallback_config {
    uint32_t threshold; /* blocked names per address from which it is shared (>= 2) */
    enum fallback_policy policy;
    /* addresses the fallback never blocks (fallback.protect): a blocked name that resolves
     * into them is reported (held, "protected") instead */
    struct fallback_prefix protect[FALLBACK_PROTECT_MAX];
    size_t nprotect;
};

/* Parses a comma-separated list of addresses or prefixes ("192.0.2.0/24, 2001:db8::/32,
 * 10.1.2.3") into out[0..cap). Returns the count, or -EINVAL with "'ITEM' is not ..." in err
 * (also for more than cap items). An empty string gives 0. */
int fallback_parse_prefixes(const char *csv, struct fallback_prefix *out, size_t cap, char *err,
                            size_t errlen);

struct fallback;

struct fallback *fallback_new(const struct fallback_config *c);
void fallback_free(struct fallback *f);

/* The fallback table for rs from r's table (read under its lock), to attach to rs with
 * ruleset_set_fallback(). now (wall clock) dates addresses new to their action (kept for the
 * report). Returns NULL on allocation failure. One build at a time (the daemon's publication
 * lock); a render may run beside it. Cost: a sort of every (address, name) pair and a domain
 * lookup per pair (docs/BENCHMARKS.md). */
struct fbaddr *fallback_build(struct fallback *f, struct resolver *r, const struct ruleset *rs,
                              time_t now);

/* Renders the report for rs (the set the last build was made for; the since dates are that
 * build's) as generated at now, kept for fallback_report(). Slower than a build (the whole
 * document is written): the daemon renders off the publication path. Returns 0 or -ENOMEM
 * (the previous report stays). */
int fallback_render(struct fallback *f, struct resolver *r, const struct ruleset *rs, time_t now);

/* A copy (malloc'd, one line ending in a newline) of the last rendered report, or NULL before
 * the first render or out of memory. Thread-safe. Format: docs/fallback.md "The report". */
char *fallback_report(struct fallback *f);

/* "block", "nameless", "report". */
const char *fallback_policy_name(enum fallback_policy p);

#endif
