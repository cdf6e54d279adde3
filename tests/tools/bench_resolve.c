/* bench_resolve.c - resolving N blocked names against a DNS server on loopback, and building the
 * IP fallback table from the answers.
 *
 * Usage: bench_resolve [--names N] [--inflight Q] [--stub PATH] [--threshold T]
 *
 * Starts tests/tools/dnsstub.py (PATH) on 127.0.0.1 with a synthesized zone (every name under
 * ".bench" gets one A and one AAAA, TTL 300), gives the resolver N names "nK.bench" and times one
 * refresh (A + AAAA each, at most Q queries in flight), then a second refresh of the same names
 * (all due again: the steady-state rate), then fallback_build() over a rule set holding the N
 * names as domain entries, the lookup rate of the table (every lookup a hit) and the rendering
 * of the report (fallback_render()).
 * Prints a report and one JSON line (docs/BENCHMARKS.md). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rules/match/fbaddr.h"
#include "rules/match/ruleset.h"
#include "rules/resolve/fallback.h"
#include "rules/resolve/resolver.h"
#include "tests/lib/dnsstub.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    unsigned inflight = 256, threshold = 5;
    const char *stub = "tests/tools/dnsstub.py";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--names") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--inflight") == 0)
            inflight = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--stub") == 0)
            stub = argv[i + 1];
        else if (strcmp(argv[i], "--threshold") == 0)
            threshold = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_resolve [--names N] [--inflight Q] [--stub PATH]\n");
            return 2;
        }
    }
    char zone[64];
    snprintf(zone, sizeof(zone), "/tmp/qg-bench-resolve-%d.json", (int)getpid());
    FILE *z = fopen(zone, "w");
    if (!z || fputs("{\"synth\":{\"suffix\":\".bench\",\"ttl\":300}}\n", z) < 0 || fclose(z)) {
        perror(zone);
        return 1;
    }
    char servers[64];
    pid_t pid = dnsstub_start(stub, zone, servers, sizeof(servers));
    int ret = 1;
    struct resolver *r = NULL;
    char **names = NULL;
    if (pid < 0) {
        fprintf(stderr, "bench_resolve: %s did not start\n", stub);
        goto out;
    }
    struct resolver_config c = { .servers = servers,
                                 .ttl_min = 60,
                                 .ttl_max = 3600,
                                 .max_inflight = inflight,
                                 .timeout_ms = 2000,
                                 .tries = 3 };
    char err[256];
    r = resolver_new(&c, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "bench_resolve: %s\n", err);
        goto out;
    }
    names = calloc(n, sizeof(*names));
    struct ruleset_builder *b = ruleset_builder_new();
    for (size_t i = 0; names && b && i < n; i++) {
        char nm[32];
        int l = snprintf(nm, sizeof(nm), "n%zu.bench", i);
        names[i] = strdup(nm);
        if (!names[i] || ruleset_builder_add(b, nm, (size_t)l, NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_resolve: out of memory\n");
            goto out;
        }
    }
    struct ruleset *rs = ruleset_build(b);
    if (!rs || resolver_set_names(r, (const char *const *)names, n) < 0) {
        fprintf(stderr, "bench_resolve: out of memory\n");
        goto out;
    }
    struct resolver_stats st1, st2;
    double t0 = now_s();
    if (resolver_refresh(r, 1, NULL, &st1, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_resolve: %s\n", err);
        goto out;
    }
    double t1 = now_s();
    if (resolver_refresh(r, 100000, NULL, &st2, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_resolve: %s\n", err);
        goto out;
    }
    double t2 = now_s();
    struct fallback_config fc = { .threshold = threshold, .policy = FALLBACK_SHARED_NAMELESS };
    struct fallback *f = fallback_new(&fc);
    double t3 = now_s();
    struct fbaddr *fb = f ? fallback_build(f, r, rs, time(NULL)) : NULL;
    double t4 = now_s();
    if (!fb) {
        fprintf(stderr, "bench_resolve: fallback_build failed\n");
        goto out;
    }
    /* lookups of every resolved address, cycled */
    size_t na = fbaddr_count(fb), hits = 0, lookups = 0;
    double t5 = now_s();
    resolver_lock(r);
    for (int rep = 0; rep < 10; rep++)
        for (size_t i = 0; i < resolver_count(r); i++) {
            const struct resolver_addr *a;
            size_t k = resolver_addrs(r, i, &a);
            for (size_t j = 0; j < k; j++, lookups++)
                hits += fbaddr_lookup(fb, a[j].ipver, a[j].addr) != NULL;
        }
    resolver_unlock(r);
    double t6 = now_s();
    double t7 = now_s();
    int rrc = fallback_render(f, r, rs, time(NULL));
    double t8 = now_s();
    char *doc = rrc == 0 ? fallback_report(f) : NULL;
    size_t doc_len = doc ? strlen(doc) : 0;
    free(doc);
    printf("names            %zu (A + AAAA each, %u queries in flight at most)\n", n, inflight);
    printf("first refresh    %.2f s  %.0f names/s  answered %zu  failed %zu\n", t1 - t0,
           (double)n / (t1 - t0), st1.ok, st1.failed);
    printf("second refresh   %.2f s  %.0f names/s  answered %zu  failed %zu  changed %zu\n",
           t2 - t1, (double)n / (t2 - t1), st2.ok, st2.failed, st2.changed);
    printf("table build      %.0f ms  %zu addresses\n", (t4 - t3) * 1e3, na);
    printf("report render    %.0f ms  %zu bytes\n", (t8 - t7) * 1e3, doc_len);
    printf("table lookups    %.1f M/s  (%zu of %zu hit)\n", (double)lookups / (t6 - t5) / 1e6, hits,
           lookups);
    printf("{\"bench\":\"resolve\",\"names\":%zu,\"inflight\":%u,\"first_s\":%.3f,"
           "\"first_names_per_s\":%.0f,\"second_s\":%.3f,\"failed\":%zu,\"build_ms\":%.1f,"
           "\"addresses\":%zu,\"render_ms\":%.1f,\"lookups_m_per_s\":%.1f}\n",
           n, inflight, t1 - t0, (double)n / (t1 - t0), t2 - t1, st1.failed + st2.failed,
           (t4 - t3) * 1e3, na, (t8 - t7) * 1e3, (double)lookups / (t6 - t5) / 1e6);
    ret = hits == lookups && st1.ok == n ? 0 : 1;
    fbaddr_free(fb);
    fallback_free(f);
    ruleset_free(rs);
out:
    dnsstub_stop(pid);
    unlink(zone);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    resolver_free(r);
    return ret;
}
