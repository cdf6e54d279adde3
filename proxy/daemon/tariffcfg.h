/* tariffcfg.h - fills a node's tariff table (rules/subs/tariff.h) from its configuration:
 * the category trees (categories.dir), the profiles file (profiles.file) and the time zone
 * (profiles.timezone). Used by `qorgau run` at start and on reload, and by `qorgau scan`. */
#ifndef QG_TARIFFCFG_H
#define QG_TARIFFCFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/store/store.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

struct tariffcfg_stats {
    size_t categories, domains, urls; /* the category set */
    size_t bad_lines;                 /* category and profile lines reported and skipped */
    size_t definitions;               /* profiles and subscribers read from the file */
    int problems;                     /* definitions that did not compile (tariff_publish) */
};

/* Loads every category tree of dirs[0..ndirs) into one set, replaces t's profiles and
 * subscribers with the file's (file NULL or "": none) and the store's records applied so far on
 * top (tariffcfg_apply_record(); tariff_rebase()), in one step, sets the zone offset of zone at
 * now and publishes: at a start and at each reload alike. Bad lines and compile problems are written to errs (may be NULL). Returns 0, or a
 * negative errno with a message in err (a tree or the file cannot be read, an unknown zone,
 * out of memory): then t is unchanged. */
int tariffcfg_load(struct tariff *t, const char *const *dirs, size_t ndirs, const char *file,
                   const char *zone, int64_t now, FILE *errs, struct tariffcfg_stats *st, char *err,
                   size_t errlen);

/* A store_tariff_fn (rules/store/store.h) applying one tariff record to the table ctx (a
 * struct tariff *): set or remove a profile or a subscriber's settings, in the table and in its
 * store's layer (tariff_layer_set()), which tariffcfg_load() keeps on top of the file's; a
 * removal puts the file's definition by that name back, if it has one (tariff_layer_del()). A
 * record whose text does not parse is passed over (it was checked when written). Always 0.
 * Publish afterwards. */
int tariffcfg_apply_record(void *ctx, const struct store_tariff *r);

/* Reads "ADDR SUBSCRIBER" lines (rules/subs/submap.h address texts; '#' comments) into m, as
 * a static map for `qorgau scan` and tests. A bad line is reported as "subscribers:
 * PATH:LINE: reason" to errs (may be NULL), counted in *bad (may be NULL) and skipped. Returns
 * the mappings added, or a negative errno with a message in err (the file cannot be read, the
 * map is full). */
int tariffcfg_subscribers_file(struct submap *m, const char *path, FILE *errs, size_t *bad,
                               char *err, size_t errlen);

/* The lines of path, a last one without a newline included (0 when it cannot be read): the
 * capacity of a map for tariffcfg_subscribers_file(), so that a small file gets a small map
 * (slots that fit the caches) rather than a node's. */
size_t tariffcfg_count_lines(const char *path);

/* ---- the tariff image (docs/formats.md "Tariff image") ---- */

/* Writes t's published snapshot with its category set, and the subscriber map m (NULL: none),
 * to path as one image (a temporary file beside it, then renamed): what `qorgau scan
 * --tariff-image` loads without parsing or compiling anything. Returns 0, or a negative errno
 * with a message naming path in err. */
int tariffcfg_image_write(const char *path, struct tariff *t, struct submap *m, char *err,
                          size_t errlen);

/* Reads the image at path: *t a read-only tariff table (tariff_from_image()), *m the
 * subscriber map with room for at least capacity mappings, or NULL when the image holds none.
 * Returns 0, or a negative errno with a message naming path and the part in err (not an
 * image, another format, damaged, a forged value): then nothing is returned. */
int tariffcfg_image_load(const char *path, size_t capacity, struct tariff **t, struct submap **m,
                         char *err, size_t errlen);

/* tariffcfg_image_load() of an image already read into buf[0, len) (borrowed: nothing returned
 * refers to it), the reason in err without the path. */
int tariffcfg_image_parse(const uint8_t *buf, size_t len, size_t capacity, struct tariff **t,
                          struct submap **m, char *err, size_t errlen);

#endif
