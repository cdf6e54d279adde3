/* tmpdir.c - test helper: temporary directories (tmpdir.h). */
#include "tests/lib/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int tmpdir_make(char *out, size_t cap, const char *tag)
{
    int n = snprintf(out, cap, "/tmp/qg-%s-XXXXXX", tag);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

void tmpdir_remove(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
