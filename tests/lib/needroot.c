/* needroot.c - test helper: the root check of live tests (see needroot.h). */
#include "tests/lib/needroot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int needroot(const char *what)
{
    if (geteuid() == 0)
        return 1;
    const char *allow = getenv("QG_ALLOW_SKIP");
    if (allow && strcmp(allow, "1") == 0) {
        fprintf(stderr, "%s: not root, skipped (QG_ALLOW_SKIP=1)\n", what);
        return 0;
    }
    return -1;
}
