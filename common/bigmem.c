/* bigmem.c - large zeroed tables on huge pages (bigmem.h). */
#include "common/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The mapped size of a block of bytes: whole huge pages from BIGMEM_HUGE_FROM on, whole pages
 * from BIGMEM_MAP on (0 below: an aligned allocation). */
static size_t mapped(size_t bytes)
{
    if (bytes >= BIGMEM_HUGE_FROM)
        return (bytes + BIGMEM_HUGE - 1) & ~(BIGMEM_HUGE - 1);
    if (bytes >= BIGMEM_MAP)
        return (bytes + 4095) & ~(size_t)4095;
    return 0;
}

void *bigmem_alloc(size_t bytes)
{
    size_t sz = mapped(bytes);
    if (!sz) {
        sz = (bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, sz ? sz : 64);
        if (p)
            memset(p, 0, sz ? sz : 64);
        return p;
    }
    /* (zero pages from the kernel, all made resident by the one call: a table this size is
     * filled whole, and a fault per page costs more than populating them together) */
    if (bytes < BIGMEM_HUGE_FROM) {
        void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                       -1, 0);
        return m == MAP_FAILED ? NULL : m;
    }
    /* a huge page more than needed, trimmed to a 2 MiB boundary at both ends */
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
    size_t sz = mapped(bytes);
    if (sz)
        munmap(p, sz);
    else
        free(p);
}
