/* nlw.c - test helper: netlink messages written by hand (nlw.h). */
#include "tests/lib/nlw.h"

#include <string.h>

size_t nlw_attr(uint8_t *b, size_t at, uint16_t type, const void *data, size_t len)
{
    uint16_t l = (uint16_t)(4 + len);
    memcpy(b + at, &l, 2);
    memcpy(b + at + 2, &type, 2);
    if (len)
        memcpy(b + at + 4, data, len);
    size_t pad = ((size_t)l + 3u) & ~(size_t)3;
    memset(b + at + l, 0, pad - l);
    return at + pad;
}

size_t nlw_done(uint8_t *b, uint32_t seq)
{
    memset(b, 0, 20);
    nlw_header(b, 20, 3 /* NLMSG_DONE */, 2 /* NLM_F_MULTI */, seq);
    return 20;
}

void nlw_header(uint8_t *b, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq)
{
    memcpy(b, &len, 4);
    memcpy(b + 4, &type, 2);
    memcpy(b + 6, &flags, 2);
    memcpy(b + 8, &seq, 4);
}
