/* rnd.h - test helper: a seeded xorshift64 PRNG and random names over a small alphabet.
 *
 * Deterministic: every process starts from the same seed, so a failing property test replays
 * exactly (Check forks each test from the same parent state). Not for anything but tests. */
#ifndef QG_RND_H
#define QG_RND_H

#include <stddef.h>
#include <stdint.h>

/* Restarts the sequence from seed (non-zero; 0 is replaced by the default seed). */
void rnd_seed(uint64_t seed);

/* Returns the next number in [0, n); n > 0. */
uint32_t rnd_below(uint32_t n);

/* The shape of random names: parts drawn from labels, joined by one of seps. */
struct rnd_alpha {
    const char *const *labels; /* nlabels strings */
    uint32_t nlabels;
    const char *seps;     /* separator characters; one is picked at random if several */
    uint32_t max_parts;   /* a name has 1..max_parts parts ... */
    uint32_t deep_one_in; /* ... except 1 name in deep_one_in (0: never) has 1..deep_parts */
    uint32_t deep_parts;
};

/* Writes a random NUL-terminated name of shape a into out (cap bytes, cap > longest label + 1);
 * parts that would not fit are left off. */
void rnd_name(const struct rnd_alpha *a, char *out, size_t cap);

/* Draws n random names of shape a into the rows of names (each width bytes), keeping only
 * those not drawn before; returns how many distinct names were kept (rows 0 .. result-1). */
size_t rnd_distinct(const struct rnd_alpha *a, char *names, size_t width, size_t n);

#endif
