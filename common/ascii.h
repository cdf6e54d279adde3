/* ascii.h - byte-level ASCII helpers shared by the parsers and builders. */
#ifndef QG_ASCII_H
#define QG_ASCII_H

#include <stdint.h>

/* Value of one hex digit (either case), or -1 if c is not one. */
static inline int ascii_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
