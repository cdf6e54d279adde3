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

/* Past the spaces and tabs at s (a NUL-terminated text): strspn(s, " \t") without the call,
 * for line loaders whose fields are a few bytes. */
static inline char *ascii_skip_blank(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The end of the field at s: the first space, tab, CR or NUL (strcspn(s, " \t\r")). */
static inline char *ascii_field_end(char *s)
{
    while (*s && *s != ' ' && *s != '\t' && *s != '\r')
        s++;
    return s;
}

#endif
