/* loader.h - reads list files into a ruleset builder.
 *
 * Formats (detected from content: a file whose first non-blank byte is '{' or '[' is JSON):
 *  - plain list: one entry a line; '#' starts a comment; blank lines skipped.
 *  - JSON orders (docs/formats.md): one order object, or an array of them, or {"orders": [...]},
 *    read by rules/orders/ordjson.c and compiled by orderset_fill(); a malformed file (a bad
 *    order) is refused as a whole.
 * Every bad line / resource is reported as "rules: FILE:LINE[:COL]: reason" to the error sink
 * and skipped; good entries are still loaded. */
#ifndef QG_LOADER_H
#define QG_LOADER_H

#include <stddef.h>
#include <stdio.h>

#include "rules/match/ruleset.h"

struct loader_stats {
    size_t lines; /* lines (plain) or resources (JSON) read */
    size_t added;
    size_t errors;
    size_t orders; /* JSON orders read */
};

/* Loads path into b. Errors for individual entries go to errs (may be NULL) and are counted;
 * the function still returns 0 for them. Returns 0, or a negative errno when the file cannot be
 * read or its JSON is not well-formed (then a message naming the file and position is written
 * to errs and nothing from this file is added). */
int loader_load_file(struct ruleset_builder *b, const char *path, FILE *errs,
                     struct loader_stats *st);

/* Same over an in-memory buffer; name is used in messages. */
int loader_load_buffer(struct ruleset_builder *b, const char *name, const char *buf, size_t len,
                       FILE *errs, struct loader_stats *st);

#endif
