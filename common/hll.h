/* hll.h - a HyperLogLog distinct-count sketch of fixed size (HLL_REGS one-byte registers).
 *
 * Used for the names seen in traffic to IP fallback addresses (docs/fallback.md): each worker
 * adds the 64-bit hash of a name; sketches of workers and nodes merge by taking the larger
 * register, so a merged sketch estimates the distinct names of the union. With HLL_P = 10 the
 * standard error is 1.04 / sqrt(1024) = 3.25 %; below 2.5 * HLL_REGS the estimate is linear
 * counting over the empty registers, nearly exact for a few names. No allocation. */
#ifndef QG_HLL_H
#define QG_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_P    10u
#define HLL_REGS (1u << HLL_P)

/* The seed of hll_hash(): fixed, so that sketches of every node merge. */
#define HLL_SEED 0x51a7c0de2026ull

/* The hash a name is added with (hash_bytes() under HLL_SEED). */
uint64_t hll_hash(const void *name, size_t len);

/* Adds the item of hash h to reg[HLL_REGS]. */
void hll_add(uint8_t *reg, uint64_t h);

/* dst = the register-wise maximum of dst and src (both HLL_REGS). */
void hll_merge(uint8_t *dst, const uint8_t *src);

/* The distinct-count estimate of reg (0 for an empty sketch). */
uint64_t hll_estimate(const uint8_t *reg);

/* Text form: HLL_REGS characters, one per register (base64url digit of its value 0..63),
 * NUL-terminated: out must hold HLL_REGS + 1 bytes. */
void hll_encode(const uint8_t *reg, char *out);

/* Reads the text form (exactly HLL_REGS characters). Returns 0, or -EINVAL (reg untouched). */
int hll_decode(const char *s, size_t len, uint8_t *reg);

#endif
