/* fuzz_files.h - for the fuzz targets of file parsers (fuzz_failstatic.c,
 * fuzz_failstatic_journal.c): the input in an exact-size heap block, and the one scratch
 * directory of a target that writes files. */
#ifndef QG_FUZZ_FILES_H
#define QG_FUZZ_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* data[0..size) copied to a heap block of exactly size bytes (a read past its end is caught),
 * or NULL when out of memory. */
static uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (buf)
        memcpy(buf, data, size);
    return buf;
}

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
