/* owners.h - how many of a shared resource each client address holds: a fixed-size table of
 * counters keyed by client (an IPv4 address, an IPv6 prefix), for bounding one client's share (tcpreasm's buffers in queue
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

/* The key a client's share is counted under (16 bytes). An IPv4 address is its own key. An
 * IPv6 address counts by its first prefix6 bits (1..128), the rest zeroed: a subscriber is
 * given a whole /64 (a mobile PDN connection, a home's LAN) or more, and may take any address
 * in it, so keyed by the full address one subscriber would be as many clients as it likes.
 * IPv4 keys end in 0xff bytes, so no IPv6 key cut at 64 bits or less equals one. */
#define OWNERS_PREFIX6_DEFAULT 64
void owners_client_key(int ipver, const uint8_t *addr, unsigned prefix6, uint8_t key[16]);

/* A table for at most holders addresses holding at once (>= 1), IPv6 addresses counted by
 * their first prefix6 bits (owners_client_key(); 0: OWNERS_PREFIX6_DEFAULT). NULL when out of
 * memory or prefix6 is over 128. */
struct owners *owners_new(uint32_t holders, unsigned prefix6);
void owners_free(struct owners *o);

/* One more for addr's client (ipver 4: its first 4 bytes; 6: 16, cut to the table's prefix), unless it holds limit
 * already (limit 0: no limit) or the table is full: then false, nothing changed. */
bool owners_take(struct owners *o, int ipver, const uint8_t *addr, uint32_t limit);

/* One fewer for addr; its entry goes at 0. An address not in the table is ignored. */
void owners_give(struct owners *o, int ipver, const uint8_t *addr);

/* What addr holds now (0 when absent). */
uint32_t owners_count(const struct owners *o, int ipver, const uint8_t *addr);

#endif
