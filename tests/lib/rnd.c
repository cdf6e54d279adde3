/* rnd.c - test helper: a seeded xorshift64 PRNG and random names (see rnd.h). */
#include "tests/lib/rnd.h"

#include <string.h>

#define RND_DEFAULT_SEED 0x9E3779B97F4A7C15ULL

static uint64_t state = RND_DEFAULT_SEED;

void rnd_seed(uint64_t seed)
{
    state = seed ? seed : RND_DEFAULT_SEED;
}

uint32_t rnd_below(uint32_t n)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state % n);
}

void rnd_name(const struct rnd_alpha *a, char *out, size_t cap)
{
    size_t longest = 0, nseps = strlen(a->seps);
    for (uint32_t i = 0; i < a->nlabels; i++) {
        size_t l = strlen(a->labels[i]);
        longest = l > longest ? l : longest;
    }
    size_t o = 0, n;
    if (a->deep_one_in && rnd_below(a->deep_one_in) == 0)
        n = 1 + rnd_below(a->deep_parts);
    else
        n = 1 + rnd_below(a->max_parts);
    for (size_t i = 0; i < n && o + longest + 2 < cap; i++) {
        if (i)
            out[o++] = nseps > 1 ? a->seps[rnd_below((uint32_t)nseps)] : a->seps[0];
        const char *l = a->labels[rnd_below(a->nlabels)];
        memcpy(out + o, l, strlen(l));
        o += strlen(l);
    }
    out[o] = '\0';
}

size_t rnd_distinct(const struct rnd_alpha *a, char *names, size_t width, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char *nm = names + m * width;
        rnd_name(a, nm, width);
        int dup = 0;
        for (size_t j = 0; j < m; j++)
            dup |= strcmp(names + j * width, nm) == 0;
        if (!dup)
            m++;
    }
    return m;
}
