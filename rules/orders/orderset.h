/* orderset.h - compiles a set of active order records into a rule set.
 *
 * Each resource of a restrict order is a claim of that order on one entry; the entry is in the
 * set while at least one claim on it stands, and the set knows every order that claims it
 * (ruleset_entry_orders()). A restore order lifts claims: those of the orders it names in
 * "restores", or, when it names none, those of every restrict order of the same issuer issued
 * no later than it; only on the resources it lists (all of the lifted orders' resources when it
 * lists none). A revoked order is simply not passed in: its claims vanish, and an entry another
 * order still claims stays. Rejected resources are never compiled. */
#ifndef QG_ORDERSET_H
#define QG_ORDERSET_H

#include <stddef.h>

#include "rules/match/ruleset.h"
#include "rules/orders/order.h"

struct orderset_stats {
    size_t orders; /* records given */
    size_t claims; /* resources of restrict orders */
    size_t lifted; /* claims a restore order lifted */
    size_t added;  /* claims given to the builder (the others were lifted) */
};

/* Adds the claims that stand among orders[0..n) to b. Returns 0, or -ENOMEM; an entry the
 * builder refuses (cannot happen for a record's normalized text) is -EINVAL with err set. */
int orderset_fill(struct ruleset_builder *b, const struct order *const *orders, size_t n,
                  struct orderset_stats *st, char *err, size_t errlen);

/* orderset_fill() into a new builder, then ruleset_build(). Returns the set, or NULL (err set). */
struct ruleset *orderset_compile(const struct order *const *orders, size_t n,
                                 struct orderset_stats *st, char *err, size_t errlen);

/* Incremental update (rules/match/ruleset.h ruleset_apply()): a new set = cur without the claims
 * of the orders revoke_ids[0..nrevoke) (an entry another order still claims stays), plus the
 * claims of add[0..nadd), without rebuilding cur's base. Revocations are applied first, so
 * revoking and adding the same id replaces an order. A restrict order adds its resources; a
 * restore order lifts the claims of the orders it names in "restores" on the resources it lists
 * (on all of their entries when it lists none). Not possible incrementally, refused with
 * -EINVAL (compile the whole order set instead, orderset_compile()): a restore order naming no
 * order (it lifts by issuer and date, which needs every record), and revoking a restore order
 * (the claims it lifted come back only from the records). The caller knows which ids are
 * restore orders: it must not pass them in revoke_ids. Returns the set, or NULL with err set and
 * *rc (if not NULL) -EINVAL or -ENOMEM. */
struct ruleset *orderset_apply(const struct ruleset *cur, const struct order *const *add,
                               size_t nadd, const char *const *revoke_ids, size_t nrevoke, int *rc,
                               char *err, size_t errlen);

/* A change kept to be applied later (the daemon queues the changes that arrive while its
 * set is merged, and applies them to the merged set): orderset_apply()'s claims and lifts with
 * copies of their strings in one block, without the records. */
struct orderset_change;

/* The change orderset_apply(cur, add, nadd, revoke_ids, nrevoke) would make, as a copy (the
 * records may be freed then). Returns it, or NULL with err set and *rc (if not NULL) -EINVAL
 * (the cases orderset_apply() refuses) or -ENOMEM. */
struct orderset_change *orderset_change_new(const struct order *const *add, size_t nadd,
                                            const char *const *revoke_ids, size_t nrevoke, int *rc,
                                            char *err, size_t errlen);

/* orderset_apply() of the kept change on cur: the same set, the same errors. */
struct ruleset *orderset_change_apply(const struct ruleset *cur, const struct orderset_change *c,
                                      int *rc, char *err, size_t errlen);

/* Frees c (NULL: no-op). */
void orderset_change_free(struct orderset_change *c);

#endif
