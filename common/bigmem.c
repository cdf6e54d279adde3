/* bigmem.c - large zeroed tables on huge pages (bigmem.h). */
#include "common/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The mapped size of a block of bytes (whole huge pages). */
static size_t mapped(size_t bytes)
{
    return (bytes + BIGMEM_HUGE - 1) & ~(BIGMEM_HUGE - 1);
}

void *bigmem_alloc(size_t bytes)
{
    if (bytes < BIGMEM_HUGE) {
        size_t sz = (bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, sz ? sz : 64);
        if (p)
            memset(p, 0, sz ? sz : 64);
        return p;
    }
    /* a huge page more than needed, trimmed to a 2 MiB boundary at both ends */
    size_t sz = mapped(bytes);
    uint8_t *m =
        mmap(NULL, sz + BIGMEM_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    size_t lead = (BIGMEM_HUGE - ((uintptr_t)m & (BIGMEM_HUGE - 1))) & (BIGMEM_HUGE - 1);
    if (lead)
        munmap(m, lead);
    if (BIGMEM_HUGE - lead)
        munmap(m + lead + sz, BIGMEM_HUGE - lead);
    (void)madvise(m + lead, sz, MADV_HUGEPAGE); /* advice only: failure is harmless */
    return m + lead;
}

void bigmem_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < BIGMEM_HUGE)
        free(p);
    else
        munmap(p, mapped(bytes));
}
