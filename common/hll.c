/* hll.c - the HyperLogLog sketch of hll.h: add, merge, estimate, text form. */
#include "common/hll.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/hash.h"

static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint64_t hll_hash(const void *name, size_t len)
{
    return hash_bytes(HLL_SEED, name, len);
}

void hll_add(uint8_t *reg, uint64_t h)
{
    uint32_t idx = (uint32_t)(h >> (64 - HLL_P));
    uint64_t rest = h << HLL_P | (1ull << (HLL_P - 1)); /* a 1 bit caps the run of zeros */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > reg[idx])
        reg[idx] = rank;
}

void hll_merge(uint8_t *dst, const uint8_t *src)
{
    for (size_t i = 0; i < HLL_REGS; i++)
        if (src[i] > dst[i])
            dst[i] = src[i];
}

uint64_t hll_estimate(const uint8_t *reg)
{
    const double m = HLL_REGS;
    double sum = 0;
    unsigned zeros = 0;
    for (size_t i = 0; i < HLL_REGS; i++) {
        sum += ldexp(1.0, -(int)reg[i]);
        zeros += reg[i] == 0;
    }
    if (zeros == HLL_REGS)
        return 0;
    double e = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros)
        e = m * log(m / zeros); /* linear counting: small sets */
    return (uint64_t)(e + 0.5);
}

void hll_encode(const uint8_t *reg, char *out)
{
    for (size_t i = 0; i < HLL_REGS; i++)
        out[i] = digits[reg[i] & 63];
    out[HLL_REGS] = '\0';
}

int hll_decode(const char *s, size_t len, uint8_t *reg)
{
    uint8_t tmp[HLL_REGS];
    if (len != HLL_REGS)
        return -EINVAL;
    for (size_t i = 0; i < HLL_REGS; i++) {
        const char *p = s[i] ? memchr(digits, s[i], 64) : NULL;
        if (!p)
            return -EINVAL;
        tmp[i] = (uint8_t)(p - digits);
    }
    memcpy(reg, tmp, sizeof(tmp));
    return 0;
}
