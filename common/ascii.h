/* ascii.h - byte-level ASCII helpers shared by the parsers and builders. */
#ifndef QG_ASCII_H
#define QG_ASCII_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* How many of the n bytes at s are c: a file's lines counted (memchr() per line costs a call
 * each), eight bytes a step. Exact: ((x & 0x7f..) + 0x7f..) | x has a byte's top bit set
 * exactly when that byte of x is not zero, no carry crossing bytes. */
static inline size_t ascii_count_byte(const char *s, size_t n, unsigned char c)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, pat = 0x0101010101010101ull * c;
    size_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        x ^= pat;                                        /* a zero byte where s has c */
        uint64_t z = ~(((x & low7) + low7) | x) & ~low7; /* the top bit of each zero byte */
        count += (size_t)((z >> 7) * 0x0101010101010101ull >> 56);
    }
    for (; i < n; i++)
        count += (unsigned char)s[i] == c;
    return count;
}

#endif
