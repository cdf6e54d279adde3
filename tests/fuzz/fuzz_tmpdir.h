/* fuzz_tmpdir.h - the one scratch directory of a fuzz target that writes files (fuzz_failstatic.c,
 * fuzz_failstatic_journal.c): made under /tmp at the first call, the same path after. */
#ifndef QG_FUZZ_TMPDIR_H
#define QG_FUZZ_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* "/tmp/NAME.XXXXXX" made once (abort() when it cannot be). */
static const char *fuzz_tmpdir(const char *name)
{
    static char dir[96];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/%s.XXXXXX", name);
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

#endif
