/* tmpdir.h - test helper: a fresh temporary directory, and removing it with all it holds. */
#ifndef QG_TMPDIR_H
#define QG_TMPDIR_H

#include <stddef.h>

/* Creates /tmp/qg-TAG-XXXXXX (mkdtemp) into out (cap >= 32 + strlen(tag)). Returns 0 or -1. */
int tmpdir_make(char *out, size_t cap, const char *tag);

/* Removes dir and everything below it (links are removed, not followed). */
void tmpdir_remove(const char *dir);

#endif
