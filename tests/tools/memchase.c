/* memchase.c - what one load costs when it depends on the one before, at random cache lines of a
 * table of a given size: the cost of a chain like the subscriber map's slot, then its entry,
 * then the tariff record (docs/BENCHMARKS.md "Child tariffs", "the loads a decision waits
 * on"). The table is an anonymous mapping advised onto huge pages or onto 4 KiB pages, filled
 * with one random cycle through all its lines; the chase then follows it.
 *
 * Usage: memchase MIB huge|small [LOADS]   (LOADS: 2,000,000 by default)
 * Prints one JSON object: {"mib":N,"pages":"huge"|"small","loads":N,"ns_per_load":X}. Pin it
 * to a CPU to compare runs (taskset -c N). Exit 0; 2 on usage or out of memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_PAGE ((size_t)2 << 20)

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* xorshift64*: a fixed sequence, so runs chase the same cycle */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    unsigned long mib = argc >= 3 ? strtoul(argv[1], &end, 10) : 0;
    unsigned long loads = 2000000;
    if (argc >= 4)
        loads = strtoul(argv[3], NULL, 10);
    if (argc < 3 || mib == 0 || mib > 65536 || !end || *end ||
        (strcmp(argv[2], "huge") != 0 && strcmp(argv[2], "small") != 0) || loads == 0) {
        fprintf(stderr, "usage: memchase MIB huge|small [LOADS]   (MIB: 1 to 65536)\n");
        return 2;
    }
    size_t sz = (size_t)mib << 20;
    int huge = strcmp(argv[2], "huge") == 0;
    uint8_t *raw =
        mmap(NULL, sz + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        fprintf(stderr, "memchase: %zu MiB: out of memory\n", sz >> 20);
        return 2;
    }
    uint8_t *m = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    (void)madvise(m, sz, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    size_t n = sz / 64;
    uint32_t *order = malloc(n * sizeof(*order));
    if (!order) {
        fprintf(stderr, "memchase: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates: one random cycle through the lines */
        size_t j = (size_t)(next_rand(&seed) % (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t to = (uint64_t)order[(i + 1) % n] * 64;
        memcpy(m + (size_t)order[i] * 64, &to, sizeof(to));
    }
    free(order);
    uint64_t at = 0;
    double t0 = now_ns();
    for (unsigned long k = 0; k < loads; k++)
        memcpy(&at, m + at, sizeof(at));
    double t1 = now_ns();
    printf("{\"mib\":%zu,\"pages\":\"%s\",\"loads\":%lu,\"ns_per_load\":%.1f,\"end\":%llu}\n",
           sz >> 20, huge ? "huge" : "small", loads, (t1 - t0) / (double)loads,
           (unsigned long long)(at & 1));
    munmap(raw, sz + HUGE_PAGE);
    return 0;
}
