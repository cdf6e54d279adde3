/* bigmem.h - large zeroed tables on huge pages: the subscriber map and the tariff snapshot,
 * read at random by every decision, and the flow table and reassembly buffers, by every packet,
 * take one TLB entry per 2 MiB instead of per 4 KiB, and a table filled at start takes a fault
 * per 2 MiB rather than per page. */
#ifndef QG_BIGMEM_H
#define QG_BIGMEM_H

#include <stddef.h>

#define BIGMEM_MAP  ((size_t)64 << 10) /* from this size on: an anonymous mapping */
#define BIGMEM_HUGE ((size_t)2 << 20)  /* a huge page */
/* from this size on: whole huge pages, aligned to and advised onto them. A table of 256 KiB to
 * 2 MiB (the tariff snapshot or subscriber map of a few ten thousand subscribers) takes one TLB
 * entry instead of up to 512, for at most 1.75 MiB of memory more: a TLB miss, a two-level walk
 * under a hypervisor, was a good part of a decision's cost at random addresses
 * (docs/BENCHMARKS.md "Child tariffs"). */
#define BIGMEM_HUGE_FROM ((size_t)256 << 10)

/* A zeroed block of bytes, 64-byte aligned (a cache line). From BIGMEM_MAP on it is an
 * anonymous mapping of zero pages from the kernel, all made resident at once (MAP_POPULATE: no
 * fault per page); from BIGMEM_HUGE_FROM on, whole huge pages, made resident as they are
 * touched, aligned to 2 MiB and advised onto huge pages (advice only:
 * without them it is ordinary pages); below, an aligned allocation. NULL when out of memory.
 * Free with bigmem_free() and the same size. */
void *bigmem_alloc(size_t bytes);

/* Frees a block of bigmem_alloc(bytes). NULL is a no-op. */
void bigmem_free(void *p, size_t bytes);

#endif
