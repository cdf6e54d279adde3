/* radpkt.c - test helper: RADIUS attributes for crafted Accounting-Requests (see radpkt.h). */
#include "tests/lib/radpkt.h"

#include <string.h>

size_t radpkt_attr(uint8_t *b, uint8_t t, const void *v, size_t n)
{
    b[0] = t;
    b[1] = (uint8_t)(n + 2);
    memcpy(b + 2, v, n);
    return n + 2;
}

size_t radpkt_u32(uint8_t *b, uint8_t t, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    return radpkt_attr(b, t, x, 4);
}
