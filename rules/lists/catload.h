/* catload.h - reads category lists in the squidGuard / UT1 layout into a category set builder.
 *
 * The layout: a directory holding one folder per category (its name is the category's name);
 * each folder holds a `domains` file and/or a `urls` file, one entry a line ('#' comments and
 * blank lines skipped). Other files (usage, expressions) and folders without either file are
 * passed over. Folders are read in name order so a category gets the same bit on every node
 * that reads the same tree. docs/categories.md. */
#ifndef QG_CATLOAD_H
#define QG_CATLOAD_H

#include <stddef.h>
#include <stdio.h>

#include "rules/match/catset.h"

struct catload_stats {
    size_t categories; /* category folders read */
    size_t lines;      /* entry lines read */
    size_t added;
    size_t errors; /* bad lines: reported and skipped */
};

/* Reads the category folders of dir into b. A bad line is reported as
 * "categories: FILE:LINE: reason" to errs (may be NULL), counted and skipped. Returns 0, or a
 * negative errno with a message in err when dir cannot be read, a category name is not valid
 * ([a-z0-9_-], under 32 bytes) or there are more than 64 categories. */
int catload_dir(struct catset_builder *b, const char *dir, FILE *errs, struct catload_stats *st,
                char *err, size_t errlen);

#endif
