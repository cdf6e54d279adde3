/* bigmem.h - large zeroed tables on huge pages: the subscriber map and the tariff snapshot,
 * read at random by every decision, and the flow table and reassembly buffers, by every packet,
 * take one TLB entry per 2 MiB instead of per 4 KiB, and a table filled at start takes a fault
 * per 2 MiB rather than per page. */
#ifndef QG_BIGMEM_H
#define QG_BIGMEM_H

#include <stddef.h>

#define BIGMEM_MAP  ((size_t)64 << 10) /* from this size on: an anonymous mapping */
#define BIGMEM_HUGE ((size_t)2 << 20)  /* ... aligned to and advised onto huge pages */

/* A zeroed block of bytes, 64-byte aligned (a cache line). From BIGMEM_MAP on it is an
 * anonymous mapping, whose memory the kernel zeroes when first touched (nothing is cleared up
 * front); from BIGMEM_HUGE on, aligned to 2 MiB and advised onto huge pages (advice only:
 * without them it is ordinary pages); below, an aligned allocation. NULL when out of memory.
 * Free with bigmem_free() and the same size. */
void *bigmem_alloc(size_t bytes);

/* Frees a block of bigmem_alloc(bytes). NULL is a no-op. */
void bigmem_free(void *p, size_t bytes);

#endif
