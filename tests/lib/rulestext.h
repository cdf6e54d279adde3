/* rulestext.h - test helper: comparing rule files (iptables-restore files, nft scripts) with
 * what a generator writes, by their rules alone. */
#ifndef QG_TEST_RULESTEXT_H
#define QG_TEST_RULESTEXT_H

#include <stddef.h>

/* The file at path, whole and NUL-terminated (malloc'd), or NULL when it cannot be read. */
char *rulestext_slurp(const char *path);

/* Writes text (NUL-terminated) to a new file at path. Returns 0, or -1 when it cannot. */
int rulestext_write(const char *path, const char *text);

/* text without its comment lines (a first non-blank '#') and blank lines (malloc'd; NULL when out
 * of memory). */
char *rulestext_rules_only(const char *text);

/* How many times needle occurs in hay (overlaps counted). */
size_t rulestext_count(const char *hay, const char *needle);

#endif
