/* hash.h - small keyed hash for table lookups (not cryptographic; the per-table seed only makes
 * collisions hard to aim at from packet contents). */
#ifndef QG_HASH_H
#define QG_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Hashes n bytes of b with seed; bytes are assembled one by one (no unaligned loads). */
static inline uint64_t hash_bytes(uint64_t seed, const uint8_t *b, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++)
            w = w << 8 | b[i + (size_t)k];
        h = hash_mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
        i += 8;
    }
    uint64_t w = 0;
    for (; i < n; i++)
        w = w << 8 | b[i];
    return hash_mix64(h ^ w);
}

#endif
