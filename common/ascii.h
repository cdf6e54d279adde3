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

/* The end of the field at s: the first space, tab, CR or NUL (strcspn(s, " \t\r")). A byte
 * above ' ' (nearly every byte of a field) costs one test. */
static inline char *ascii_field_end(char *s)
{
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' && (c == '\0' || c == ' ' || c == '\t' || c == '\r'))
            return s;
    }
}

/* The end of the word at s: the first space, tab or NUL (strcspn(s, " \t")), as
 * ascii_field_end(). */
static inline char *ascii_word_end(char *s)
{
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' && (c == '\0' || c == ' ' || c == '\t'))
            return s;
    }
}

#endif
