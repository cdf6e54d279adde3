/* bigmem.h - large zeroed tables on huge pages: the subscriber map and the tariff snapshot,
 * read at random by every decision, take one TLB entry per 2 MiB instead of per 4 KiB, and a
 * table filled at start takes a fault per 2 MiB rather than per page. */
#ifndef QG_BIGMEM_H
#define QG_BIGMEM_H

#include <stddef.h>

#define BIGMEM_HUGE ((size_t)2 << 20) /* from this size on: an anonymous mapping */

/* A zeroed block of bytes, 64-byte aligned (a cache line). From BIGMEM_HUGE on it is an
 * anonymous mapping aligned to 2 MiB and advised onto huge pages (advice only: without them it
 * is ordinary pages), whose memory is zeroed by the kernel when first touched; below, an
 * aligned allocation. NULL when out of memory. Free with bigmem_free() and the same size. */
void *bigmem_alloc(size_t bytes);

/* Frees a block of bigmem_alloc(bytes). NULL is a no-op. */
void bigmem_free(void *p, size_t bytes);

#endif
