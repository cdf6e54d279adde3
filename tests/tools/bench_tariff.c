/* bench_tariff.c - benchmark of child tariffs (docs/BENCHMARKS.md "Child tariffs").
 *
 *     bench_tariff [MAP_SUBSCRIBERS] [TARIFF_SUBSCRIBERS] [DECISIONS]
 *
 * A count of 0 skips that part; run one part per process for the memory figures.
 *
 * 1. Node map memory: MAP_SUBSCRIBERS (default 10M) IPv4 address -> subscriber mappings (an
 *    11-digit MSISDN, no session) in a map of that capacity; resident memory per mapping.
 * 2. Tariff table memory: TARIFF_SUBSCRIBERS (default 1M) subscribers with settings
 *    "profile=child" published; the table's own count of bytes (snapshot, writer-side copy)
 *    and resident memory per subscriber.
 * 3. Decision cost: DECISIONS (default 2M) verdict_decide() calls over a rule set of 100 000
 *    regulator domains and names drawn from a pool of 200 000 (5 % listed by the regulator),
 *    first regulator-only, then with the tariff side: every client address mapped (64 000
 *    clients, each a subscriber of profile child), a category set of 100 000 domains (30 % of
 *    the pool) in 8 categories, the profile blocking two. ns per decision and the ratio, best
 *    of 3 alternating runs. One thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/judge/verdict.h"
#include "rules/match/rsref.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void name_of(size_t i, char *out, size_t cap)
{
    static const char *const tld[] = { "kz", "com", "net", "org", "ru" };
    snprintf(out, cap, "site%zu-%zx.%s", i, (i * 2654435761u) & 0xffff, tld[i % 5]);
}

int main(int argc, char **argv)
{
    size_t nmap = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
    size_t ntar = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    size_t ndec = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000000;
    rsref_thread_register();
    char err[512];

    /* 2. the tariff table (a section with a count of 0 is skipped: run one per process, so
     * memory another section freed does not hide a section's growth) */
    long before = rss_kib();
    double t0;
    if (ntar) {
        struct tariff *t = tariff_new("default");
        for (size_t i = 0; i < ntar; i++) {
            char sub[32];
            snprintf(sub, sizeof(sub), "770%08zu", i);
            if (tariff_set_sub(t, sub, "profile=child", err, sizeof(err)) != 0)
                return 1;
        }
        tariff_set_profile(t, "child", "", err, sizeof(err));
        t0 = now_s();
        if (tariff_publish(t, err, sizeof(err)) != 0)
            return 1;
        double pub = now_s() - t0;
        long after = rss_kib();
        struct tariff_stats st;
        tariff_get_stats(t, &st);
        printf(
            "tariff table: %zu subscribers; snapshot %.1f + writer copy %.1f bytes per subscriber"
            " (counted); resident %.1f bytes per subscriber; publish %.0f ms\n",
            ntar, (double)st.bytes / (double)ntar, (double)st.writer_bytes / (double)ntar,
            (double)(after - before) * 1024 / (double)ntar, pub * 1000);
        tariff_free(t);
    }

    /* 1. the node map */
    if (nmap) {
        before = rss_kib();
        struct submap *m = submap_new(nmap);
        if (!m)
            return 1;
        long empty = rss_kib();
        t0 = now_s();
        for (size_t i = 0; i < nmap; i++) {
            struct sub_addr a = { .family = 4, .plen = 32 };
            uint32_t ip = 0x0a000000u + (uint32_t)i;
            a.addr[0] = (uint8_t)(ip >> 24);
            a.addr[1] = (uint8_t)(ip >> 16);
            a.addr[2] = (uint8_t)(ip >> 8);
            a.addr[3] = (uint8_t)ip;
            char sub[32];
            snprintf(sub, sizeof(sub), "770%08zu", i);
            if (submap_set(m, &a, sub, NULL, 0) != 0)
                return 1;
        }
        long full = rss_kib();
        printf("node map: %zu mappings in %.1f s; resident %.1f bytes per mapping (table %.1f, "
               "entries %.1f)\n",
               nmap, now_s() - t0, (double)(full - before) * 1024 / (double)nmap,
               (double)(empty - before) * 1024 / (double)nmap,
               (double)(full - empty) * 1024 / (double)nmap);
        submap_free(m);
    }

    /* 3. decision cost */
    if (!ndec)
        return 0;
    enum { POOL = 200000, REG = 100000, CAT = 100000, CLIENTS = 64000 };
    char(*pool)[48] = malloc(sizeof(*pool) * POOL);
    size_t *plen = malloc(sizeof(*plen) * POOL);
    struct ruleset_builder *b = ruleset_builder_new();
    struct catset_builder *cb = catset_builder_new();
    for (int c = 0; c < 8; c++) {
        char cn[16];
        snprintf(cn, sizeof(cn), "c%d", c);
        catset_builder_category(cb, cn);
    }
    for (size_t i = 0; i < POOL; i++) {
        name_of(i, pool[i], sizeof(pool[i]));
        plen[i] = strlen(pool[i]);
    }
    struct rule_attrs at = { "O-1", "test", NULL };
    for (size_t i = 0; i < REG; i++) {
        char n[48];
        if (i % 10 == 0) /* 5 % of the pool (every 20th name) */
            snprintf(n, sizeof(n), "%s", pool[i * 2]);
        else
            snprintf(n, sizeof(n), "unrelated%zu.example", i);
        ruleset_builder_add(b, n, strlen(n), &at, err, sizeof(err));
    }
    for (size_t i = 0; i < CAT; i++) {
        char n[48];
        if (i % 5 < 3) /* 30 % of the pool */
            snprintf(n, sizeof(n), "%s", pool[(i * 2 + 1) % POOL]);
        else
            snprintf(n, sizeof(n), "cat%zu.example", i);
        catset_builder_add(cb, n, strlen(n), (unsigned)(i % 8), false, err, sizeof(err));
    }
    struct ruleset *rs = ruleset_build(b);
    struct tariff *t = tariff_new("default");
    tariff_set_categories(t, catset_build(cb));
    tariff_set_profile(t, "child", "block=c0,c3", err, sizeof(err));
    struct submap *cm = submap_new(CLIENTS);
    for (size_t i = 0; i < CLIENTS; i++) {
        struct sub_addr a = { .family = 4,
                              .plen = 32,
                              .addr = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i } };
        char sub[32];
        snprintf(sub, sizeof(sub), "770%08zu", i);
        submap_set(cm, &a, sub, NULL, 0);
        tariff_set_sub(t, sub, "profile=child", err, sizeof(err));
    }
    if (tariff_publish(t, err, sizeof(err)) != 0)
        return 1;
    struct verdict_tariff vt = { cm, t };
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    uint32_t *pick = malloc(sizeof(*pick) * ndec);
    for (size_t i = 0; i < ndec; i++)
        pick[i] = (uint32_t)(rnd() % POOL);
    double best[2] = { 1e9, 1e9 };
    size_t blocks[2] = { 0, 0 };
    static const uint8_t dst[16] = { 198, 51, 100, 7 };
    for (int run = 0; run < 6; run++) {
        int mode = run % 2;
        struct verdict_facts f;
        memset(&f, 0, sizeof(f));
        f.app = APP_TLS;
        f.ipver = 4;
        f.dst = dst;
        f.now = 1796601600 + 12 * 3600;
        f.tariff = mode ? &vt : NULL;
        uint8_t src[16] = { 10, 1, 0, 0 };
        f.src = src;
        size_t nb = 0;
        rsref_read_lock();
        t0 = now_s();
        for (size_t i = 0; i < ndec; i++) {
            struct verdict_decision d;
            f.name = pool[pick[i]];
            f.name_len = plen[pick[i]];
            src[2] = (uint8_t)(i >> 8);
            src[3] = (uint8_t)i;
            verdict_decide(rs, &pol, &f, &d);
            nb += d.verdict == VERDICT_BLOCK;
        }
        double el = now_s() - t0;
        rsref_read_unlock();
        if (el < best[mode])
            best[mode] = el;
        blocks[mode] = nb;
    }
    printf("decision: regulator only %.0f ns (%zu of %zu blocked); with subscriber lookup + "
           "profile + category mask %.0f ns (%zu blocked); ratio %.2fx\n",
           best[0] * 1e9 / (double)ndec, blocks[0], ndec, best[1] * 1e9 / (double)ndec, blocks[1],
           best[1] / best[0]);
    submap_free(cm);
    tariff_free(t);
    ruleset_free(rs);
    free(pool);
    free(plen);
    free(pick);
    rsref_thread_unregister();
    return 0;
}
