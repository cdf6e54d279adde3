/* radpkt.h - test helper: RADIUS attributes for crafted Accounting-Requests (the packet itself
 * is built and signed by radius_acct_build(), rules/subs/radius.h). */
#ifndef QG_RADPKT_H
#define QG_RADPKT_H

#include <stddef.h>
#include <stdint.h>

/* Writes attribute t with the n value bytes v at b (n <= 253). Returns the bytes written. */
size_t radpkt_attr(uint8_t *b, uint8_t t, const void *v, size_t n);

/* Writes attribute t holding v as 4 bytes, network order. Returns 6. */
size_t radpkt_u32(uint8_t *b, uint8_t t, uint32_t v);

#endif
