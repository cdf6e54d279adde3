/* owners.h - how many of a shared resource each client address holds: a fixed-size table of
 * counters keyed by address, for bounding one client's share (tcpreasm's buffers in queue
 * mode, tcpreasm_pool_owner_limit()).
 *
 * Allocated once; taking and giving never allocate. An address is in the table only while it
 * holds something (its entry goes when its count returns to 0), so capacity for every holder
 * at once is enough: owners_new(n) takes n (the resource's size) and sizes the table at twice
 * that, so it never fills. Linear probing, deletion by backward shift: no tombstones. */
#ifndef QG_OWNERS_H
#define QG_OWNERS_H

#include <stdbool.h>
#include <stdint.h>

struct owners;

/* A table for at most holders addresses holding at once (>= 1). NULL when out of memory. */
struct owners *owners_new(uint32_t holders);
void owners_free(struct owners *o);

/* One more for addr (ipver 4: its first 4 bytes count; 6: all 16), unless it holds limit
 * already (limit 0: no limit) or the table is full: then false, nothing changed. */
bool owners_take(struct owners *o, int ipver, const uint8_t *addr, uint32_t limit);

/* One fewer for addr; its entry goes at 0. An address not in the table is ignored. */
void owners_give(struct owners *o, int ipver, const uint8_t *addr);

/* What addr holds now (0 when absent). */
uint32_t owners_count(const struct owners *o, int ipver, const uint8_t *addr);

#endif
