/* tariff.h - the node's tariff table: profiles, subscriber -> profile and parental settings,
 * and the category set, read by the per-flow decision without locks (docs/profiles.md).
 *
 * Writers (the store follower, the config loader) change the writer-side copy with
 * tariff_set_*() / tariff_del_*() and make the changes visible with tariff_publish(), which
 * compiles an immutable snapshot (profiles compiled against the category set, one compact
 * record per subscriber in an open-addressing table) and publishes it with RCU (liburcu, memb
 * flavor, as rules/match/rsref.c: reader threads register once with rsref_thread_register()).
 * The previous snapshot is freed after a grace period. Readers call tariff_judge(): one hash
 * probe for the subscriber, one category lookup for the name (skipped when the subscriber's
 * profile restricts nothing), a mask test; no allocation. */
#ifndef QG_TARIFF_H
#define QG_TARIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/match/catset.h"
#include "rules/subs/profile.h"

struct tariff;

/* A table whose unknown subscribers get profile default_profile ("default" if NULL: a profile
 * that is not defined restricts nothing). NULL on allocation failure. */
struct tariff *tariff_new(const char *default_profile);
/* Frees t and its snapshot. No reader may use it any more. */
void tariff_free(struct tariff *t);

/* ---- writers (serialized by an internal mutex; changes show at the next tariff_publish) ---- */

/* Replaces the category set (ownership passes to t; NULL: none). */
void tariff_set_categories(struct tariff *t, struct catset *cs);
/* Defines or replaces profile name (profile.h text). Categories are checked at publish against
 * the set then current. Returns 0, -EINVAL with a reason in err, or -ENOMEM. */
int tariff_set_profile(struct tariff *t, const char *name, const char *spec, char *err,
                       size_t errlen);
/* Removes a profile: its subscribers fall back to the default profile. 0 or -ENOENT. */
int tariff_del_profile(struct tariff *t, const char *name);
/* Sets a subscriber's settings (profile.h text, e.g. "profile=child"). 0, -EINVAL, -ENOMEM. */
int tariff_set_sub(struct tariff *t, const char *sub, const char *spec, char *err, size_t errlen);
/* Removes a subscriber's settings (back to the default profile). 0 or -ENOENT. */
int tariff_del_sub(struct tariff *t, const char *sub);
/* Changes the profile of subscribers that have none. */
void tariff_set_default(struct tariff *t, const char *name);
/* The problems tariff_publish() reports name a subscriber by what ps shows for its id
 * (pseudo_id(): its pseudonym, unless ps->clear), so that a daemon's log never carries the id
 * in clear; ps (NULL: the id as written, for the operator's own commands) must outlive t. */
struct pseudo;
void tariff_set_pseudo(struct tariff *t, const struct pseudo *ps);

/* Removes every profile and subscriber setting, the store's and the file's layers' too (the
 * category set stays). */
void tariff_clear(struct tariff *t);

/* Exchanges the writer-side profiles and subscriber settings of t and from (a table filled
 * aside, e.g. from a file that had to be read whole first); the category sets, default profiles,
 * zone offsets, store's layers and file's layers stay. Nothing is published. Never hold from's
 * lock while calling. */
void tariff_swap_defs(struct tariff *t, struct tariff *from);

/* The store's layer. The store's records are applied on top of the node's profiles file, and
 * a reload of the file must keep them (docs/profiles.md): they are set with tariff_layer_set()
 * and tariff_layer_del(), which also keep them in a writer-side copy of their own (the layer:
 * what the store defines, in the order of its records), and the file's definitions, read into
 * a table aside, take the place of t's with tariff_rebase(), which sets the layer's on top of
 * them first, and keeps a copy of them as they were read (the file's layer). The layer costs a
 * second copy of the store's definitions' texts, the file's layer one of the file's.
 *
 * tariff_layer_set: a profile (sub false) or a subscriber's settings from the store, as
 * tariff_set_profile() / tariff_set_sub() (their returns), in the layer and in t.
 * tariff_layer_del: the store removed one: out of the layer, and in t the file's definition by
 * that name (the last rebase's file's layer's) takes its place at once, or, when the file has
 * none, the name goes from t. Returns 0 (t had the name, or has the file's now), -ENOENT
 * (neither), or -ENOMEM / -ENOSPC when the file's could not be set (then the name goes from t,
 * as without one). */
int tariff_layer_set(struct tariff *t, bool sub, const char *name, const char *spec, char *err,
                     size_t errlen);
int tariff_layer_del(struct tariff *t, bool sub, const char *name);

/* Copies from's definitions (a table filled aside: the new base definitions, a profiles
 * file's) into a new file's layer, sets the store's layer's definitions in from, replacing
 * from's by the same names, then exchanges t's writer-side definitions with from's and t's
 * file's layer with the new one, all in one step under t's lock: no store change made
 * meanwhile is lost, and t never holds the new base definitions without the store's. Nothing
 * is published (tariff_publish() after). Returns 0, or -ENOMEM / -ENOSPC (too many profiles):
 * then t is unchanged and from holds some of the layer's. Never hold from's lock while
 * calling. */
int tariff_rebase(struct tariff *t, struct tariff *from);

/* Reads a profiles file: one definition a line, '#' comments and blank lines skipped:
 *     profile NAME TEXT        (profile.h's profile text; may be empty)
 *     subscriber ID TEXT       (profile.h's subscriber settings)
 * A bad line is reported as "profiles: PATH:LINE: reason" to errs (may be NULL), counted in
 * *bad and skipped. Returns the definitions read, or a negative errno with a message in err
 * when the file cannot be read. The file is read whole into one buffer and parsed in place:
 * the subscribers' texts stay in it, and t keeps it until tariff_clear() (or passes it on with
 * tariff_swap_defs() or tariff_rebase()). */
int tariff_load_file(struct tariff *t, const char *path, FILE *errs, size_t *bad, char *err,
                     size_t errlen);

/* Sets the zone offset (seconds east of UTC) schedules are read in. */
void tariff_set_utc_offset(struct tariff *t, int32_t off);

/* The zone offset of the published snapshot (0 before the first publish). Any thread. */
int32_t tariff_utc_offset(const struct tariff *t);

/* Compiles and publishes the writer-side state. A profile or subscriber text that does not
 * compile against the current category set (a category it does not have) is reported in err
 * (the first one), and that profile is left out / that subscriber gets the default profile;
 * the return is the count of such problems (0: all compiled), or -ENOMEM (nothing changed).
 * Blocks for a grace period; not inside a read section. */
int tariff_publish(struct tariff *t, char *err, size_t errlen);

/* Counts the publications (tariff_publish()); 0 for NULL. Readers compare it to notice that
 * decisions made before may no longer hold. */
uint64_t tariff_version(const struct tariff *t);

/* ---- readers ---- */

/* What the tariff side decided about one request. */
struct tariff_verdict {
    enum profile_cause cause;       /* PCAUSE_NONE: pass */
    uint64_t cats;                  /* the categories that blocked (may be 0) */
    char profile[PROFILE_NAME_MAX]; /* the subscriber's profile ("" when it has none) */
    char category[CATSET_NAME_MAX]; /* the first blocking category, or "" */
};

/* One request to judge: the subscriber id (NULL or "": not known, the default profile), the
 * normalized name (NULL: none visible) and, when visible, the path; udp for QUIC; now in Unix
 * seconds (schedules). */
struct tariff_req {
    const char *sub;
    size_t sub_len; /* sub's bytes when the caller knows them, else 0 (then counted) */
    const char *name;
    size_t name_len;
    const char *path;
    size_t path_len;
    bool udp;
    int64_t now;
    /* name's suffixes already hashed (domhash_query_init() over name[0..name_len)), or NULL:
     * the category lookup hashes them itself */
    const struct domhash_query *hq;
};

/* Decides req. t may be NULL (pass). Takes its own read section. No allocation. */
void tariff_judge(const struct tariff *t, const struct tariff_req *req, struct tariff_verdict *v);

/* As tariff_judge, keeping the subscriber's record in *ref between calls (a word the caller
 * keeps per subscriber, 0 at first: submap_lookup_ref()'s entry word; loaded and stored with
 * relaxed atomics). The record is looked up once per published snapshot; a word from an older
 * snapshot is looked up again. ref NULL: no word (tariff_judge). */
void tariff_judge_ref(const struct tariff *t, const struct tariff_req *req, uint32_t *ref,
                      struct tariff_verdict *v);

/* As tariff_judge_ref, for a caller inside a read section of its own (rsref_read_lock(), the
 * same RCU flavor): no second one taken. */
void tariff_judge_locked(const struct tariff *t, const struct tariff_req *req, uint32_t *ref,
                         struct tariff_verdict *v);

/* Starts loading what tariff_judge_ref() reads first for subscriber sub (NULL or "": nothing;
 * len: its bytes, or 0 when not known):
 * the record the word *ref names (ref may be NULL), else the slot of sub's hash, which it then
 * names in *ref (a hint: tariff_judge_ref() checks the id there and, when the record is not in
 * its first slot, looks it up by the hash as without it). For a caller with other work to do
 * before the decision (the regulator's side); inside a read section (rsref_read_lock()). */
void tariff_prefetch(const struct tariff *t, const char *sub, size_t len, uint32_t *ref);

/* Counts of the published snapshot and its heap bytes (for status and measurements). */
struct tariff_stats {
    size_t profiles, subscribers, categories;
    size_t bytes;        /* snapshot bytes (category set excluded) */
    size_t writer_bytes; /* the writer-side copy (the store's and file's layers too) */
    size_t catset_bytes;
};
void tariff_get_stats(const struct tariff *t, struct tariff_stats *st);

/* The text of a published profile / subscriber as last set (writer side); copies into out.
 * Returns true when there is one. */
bool tariff_profile_text(struct tariff *t, const char *name, char *out, size_t cap);
bool tariff_sub_text(struct tariff *t, const char *sub, char *out, size_t cap);

/* Called by tariff_each_def() with one writer-side definition: a profile (sub false) or a
 * subscriber's settings (sub true), its name or id and its text (valid during the call).
 * Non-zero stops the walk. */
typedef int (*tariff_def_fn)(void *ctx, bool sub, const char *name, const char *text);

/* Calls fn with every profile, then every subscriber's settings, of the writer side (what was
 * set, published or not), under t's lock: fn must not call back into t. Returns fn's first
 * non-zero value, or 0. A table from an image has none. */
int tariff_each_def(struct tariff *t, tariff_def_fn fn, void *ctx);

/* tariff_each_def() of t's store's layer (tariff_layer_set(); none yet: 0, fn not called); fn
 * must not call back into t. */
int tariff_layer_each(struct tariff *t, tariff_def_fn fn, void *ctx);

/* ---- images (docs/formats.md "Tariff image": `qorgau tariff compile`, `scan --tariff-image`) */

struct imgfile_w;
struct imgfile_r;
#define TARIFF_IMAGE_SECTS 8 /* section ids base .. base + 7: the published snapshot */

/* Writes t's published snapshot as sections base.. of w (its profiles compiled, its subscriber
 * records as they lie in the table, their long ids, their parental settings) and the category
 * set it was compiled against as sections cat_base.. (catset_to_image()). 0, -ENOENT (nothing
 * published) or -ENOMEM. */
int tariff_to_image(struct tariff *t, struct imgfile_w *w, uint32_t base, uint32_t cat_base);

/* A table whose published snapshot is the one tariff_to_image() wrote at base and cat_base in
 * r, copied out of r's buffer (the records with two copies, nothing compiled again). Every
 * value is checked so that a forged file cannot send a decision outside the arrays or into an
 * endless probe; NULL with the reason in err otherwise. The table is read-only: it has no
 * writer-side copy (tariff_profile_text() and tariff_sub_text() find nothing), and
 * tariff_publish() refuses with -EROFS rather than publish an empty one. */
struct tariff *tariff_from_image(const struct imgfile_r *r, uint32_t base, uint32_t cat_base,
                                 char *err, size_t errlen);

#endif
