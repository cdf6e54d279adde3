/* subfstatic.h - the subscriber side's fail-static file: a node-local copy of the subscriber map
 * (rules/subs/submap.h) and of the tariff table's definitions (rules/subs/tariff.h), written by
 * the store follower (subfollow.h) into state_dir/subscribers.img and loaded at start, before
 * the store answers, so that a node (re)started while the store cannot be reached keeps
 * enforcing its children's tariffs (docs/subscribers.md "The fail-static copy").
 *
 * The file is a common/imgfile.h container (docs/formats.md "Subscriber fail-static file"):
 * the map as submap_to_image() writes it, the definitions as texts (what tariff_set_profile()
 * and tariff_set_sub() take, so that they are loaded into the live table and compiled against
 * the node's own category set), and when it was written. It is loaded into the node's live
 * map and table, not used as one: the node keeps following the store afterwards, and the
 * store's first full load replaces what the file gave (subfstatic_sweep()). */
#ifndef QG_SUBFSTATIC_H
#define QG_SUBFSTATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

#define SUBFSTATIC_NAME "subscribers.img" /* in state_dir */

/* Writes every mapping of m (expired ones not yet swept included: they carry their expiry) and
 * every writer-side definition of t (NULL: none) to path, stamped written_ms, atomically (a
 * temporary file beside it, fsync, rename, fsync of the directory). The map and the table are
 * copied under their locks (readers are not held up), then written without them. *mappings
 * and *defs (may be NULL): what was written. 0, or a negative errno with a message naming path
 * in err. */
int subfstatic_write(const char *path, struct submap *m, struct tariff *t, uint64_t written_ms,
                     size_t *mappings, size_t *defs, char *err, size_t errlen);

/* What a load put into the live map and table: subfstatic_seen() marks what the store's full
 * load set again, subfstatic_sweep() removes the rest. */
struct subfstatic;

struct subfstatic_info {
    uint64_t written_ms; /* when the file was written */
    size_t mappings;     /* mappings set in the live map */
    size_t expired;      /* mappings passed over: expired at the load */
    size_t map_full;     /* mappings the live map had no room for */
    size_t defs;         /* definitions set in the live table */
    size_t kept;         /* definitions passed over: the table had one by that name */
};

/* Reads path whole and checks it all (the container, the map's sections, every definition's
 * text) before anything is changed: a damaged or forged file is refused whole, with the
 * reason naming path and the part in err (-EINVAL; -ENOENT and the like when it cannot be
 * read). Then sets its mappings that have not expired at now_ms into m, keeping their expiry
 * times, and, when t is not NULL, its definitions into t for the names t does not define
 * already (the node's profiles file wins), as the store's records (tariff_layer_set(): a
 * reload keeps them), and publishes t. *out (NULL when nothing was set)
 * lists what was set, for the sweep; free it with subfstatic_free(). 0 or a negative errno. */
int subfstatic_load(const char *path, struct submap *m, struct tariff *t, uint64_t now_ms,
                    struct subfstatic **out, struct subfstatic_info *info, char *err,
                    size_t errlen);

/* subfstatic_load() of a file already read into buf[0, len) (borrowed: nothing set refers to
 * it), the reason in why without the path. */
int subfstatic_parse(const uint8_t *buf, size_t len, struct submap *m, struct tariff *t,
                     uint64_t now_ms, struct subfstatic **out, struct subfstatic_info *info,
                     char *why, size_t whylen);

/* What m holds now (m may be NULL: the tariff records only), and the store's records t holds
 * (its store's layer, tariff_layer_set(); t may be NULL), as a load's list of what it set: the store's full load after an outage marks
 * what it sets again (subfstatic_seen_addr(), subfstatic_seen_def()), and subfstatic_sweep()
 * then removes what the store dropped during the outage, as after loading the file. A copy of
 * m's addresses and sessions and of the records' names while the load runs. NULL when there is
 * nothing, or out of memory (then nothing is swept). */
struct subfstatic *subfstatic_of(struct submap *m, struct tariff *t);

/* The store's load set a (s may be NULL: nothing). */
void subfstatic_seen_addr(struct subfstatic *s, const struct sub_addr *a);
/* The store's load set or removed the definition name (a subscriber's when sub). */
void subfstatic_seen_def(struct subfstatic *s, bool sub, const char *name);

/* After the store's full load: removes from m each mapping the file gave that the load did not
 * set (only while it still carries the file's session: a newer one stays), and from t (may be
 * NULL) each definition the file gave that the load did not set (tariff_layer_del(): the
 * profiles file's definition by that name, if any, back in its place), then publishes t when one
 * went. *maps and *defs: those removed. */
void subfstatic_sweep(struct subfstatic *s, struct submap *m, struct tariff *t, size_t *maps,
                      size_t *defs);

void subfstatic_free(struct subfstatic *s);

#endif
