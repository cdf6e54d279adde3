/* sum64.h - XXH64 (Yann Collet's xxHash, 64-bit, seed 0): the checksum of the rule set's disk
 * image against disk and transfer errors. Not cryptographic: a file made to pass it is caught
 * by the checks that follow it (docs/matching.md). One-shot or streamed in pieces of any size,
 * both giving the reference algorithm's value. */
#ifndef QG_SUM64_H
#define QG_SUM64_H

#include <stddef.h>
#include <stdint.h>

struct sum64 {
    uint64_t v[4];   /* the four lanes */
    uint64_t total;  /* bytes fed */
    uint8_t buf[32]; /* a stripe not yet complete */
    size_t nbuf;
};

/* XXH64 of b[0, n). */
uint64_t sum64(const void *b, size_t n);

/* Starts a streamed sum. */
void sum64_init(struct sum64 *s);

/* Adds b[0, n) (n may be 0, and b NULL then). */
void sum64_update(struct sum64 *s, const void *b, size_t n);

/* XXH64 of everything fed so far; s is left as it was. */
uint64_t sum64_final(const struct sum64 *s);

#endif
