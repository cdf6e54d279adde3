/* bench_ipdrop.c - the kernel's drop table of IP entries (proxy/enforce/ipdrop.c) at scale.
 *
 * Usage: bench_ipdrop [--entries N] [--ips K] [--rounds R]   (root: it unshares a network
 *        namespace of its own, so the table it makes goes with it)
 *
 * Builds a set of N entries of which K are IP entries (3/4 IPv4 addresses, 1/8 IPv4 /24s, 1/8
 * IPv6 /64s, deterministic), the rest domains, and times (median of R):
 *   build     ruleset_build() of the whole set (the first baseline)
 *   collect   ipdrop_collect(): the walk over every entry a publication costs the thread
 *   create    the first ipdrop_sync(): the table made with K elements (the second baseline)
 *   unchanged ipdrop_sync() of a publication that changed no IP entry (an overlay adding a domain)
 *   add 1     ipdrop_sync() after an order of one new address (an overlay)
 *   add 1000  ... of 1,000 new addresses
 *   revoke    ... after that 1,000-address order is lifted
 *   elements  ipdrop_read_elements(): every element's counter read (the reports' kernel drops,
 *             read before each change and every ip.kernel_counts_interval)
 * Prints a report and one JSON line (docs/BENCHMARKS.md "IP entries on every port"). */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/enforce/ipdrop.h"
#include "rules/match/ruleset.h"
#include "tests/lib/benchtime.h"

static void no_count(void *ctx, const char *entry, uint64_t packets, uint64_t bytes)
{
    (void)ctx;
    (void)entry;
    (void)packets;
    (void)bytes;
}

static void ip_text(size_t i, char *b, size_t len)
{
    if (i % 8 == 6)
        snprintf(b, len, "100.%zu.%zu.0/24", (i >> 8) & 255, i & 255);
    else if (i % 8 == 7)
        snprintf(b, len, "2001:db8:%zx:%zx::/64", (i >> 16) & 0xffff, i & 0xffff);
    else
        snprintf(b, len, "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static struct ruleset *overlay(const struct ruleset *rs, const char *order, size_t first, size_t n,
                               bool domains, bool lift)
{
    struct ruleset_claim *c = calloc(n ? n : 1, sizeof(*c));
    char(*t)[64] = calloc(n ? n : 1, sizeof(*t));
    if (!c || !t)
        exit(2);
    for (size_t i = 0; i < n; i++) {
        if (domains)
            snprintf(t[i], sizeof(t[i]), "new%zu.bench.kz", first + i);
        else
            snprintf(t[i], sizeof(t[i]), "172.%zu.%zu.%zu", (((first + i) >> 16) & 15) | 16,
                     ((first + i) >> 8) & 255, (first + i) & 255);
        c[i] = (struct ruleset_claim){ .text = t[i], .len = strlen(t[i]), .order = order };
    }
    struct ruleset_lift l = { .order = order, .text = NULL, .len = 0 };
    char err[256];
    struct ruleset *o = lift ? ruleset_apply(rs, NULL, 0, &l, 1, NULL, err, sizeof(err))
                             : ruleset_apply(rs, c, n, NULL, 0, NULL, err, sizeof(err));
    if (!o) {
        fprintf(stderr, "bench_ipdrop: apply: %s\n", err);
        exit(2);
    }
    free(c);
    free(t);
    return o;
}

/* The median time of R syncs from `from` to `to` (each round goes back to `from` first). */
static double time_sync(struct ipdrop *k, const struct ruleset *from, const struct ruleset *to,
                        int rounds)
{
    double v[64];
    char err[512];
    for (int r = 0; r < rounds; r++) {
        if (ipdrop_sync(k, from, NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_ipdrop: %s\n", err);
            exit(2);
        }
        double t0 = bench_now_ms();
        if (ipdrop_sync(k, to, NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_ipdrop: %s\n", err);
            exit(2);
        }
        v[r] = bench_now_ms() - t0;
    }
    return bench_median(v, (size_t)rounds);
}

int main(int argc, char **argv)
{
    size_t n = 1000000, k = 100000;
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--entries") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--ips") && i + 1 < argc)
            k = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_ipdrop [--entries N] [--ips K] [--rounds R]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 64 || k > n || k > (1u << 20)) {
        fprintf(stderr, "bench_ipdrop: rounds 1..64, ips <= entries and <= 1048576\n");
        return 2;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "bench_ipdrop: unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
        return 2;
    }
    double t0 = bench_now_ms();
    struct ruleset_builder *b = ruleset_builder_new();
    char err[512], text[96];
    for (size_t i = 0; i < n; i++) {
        struct rule_attrs a = { .order = "B0", .category = NULL, .source = NULL };
        if (i < k)
            ip_text(i, text, sizeof(text));
        else
            snprintf(text, sizeof(text), "d%zu.bench-%zu.kz", i, i % 977);
        if (ruleset_builder_add(b, text, strlen(text), &a, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_ipdrop: %s: %s\n", text, err);
            return 2;
        }
    }
    struct ruleset *base = ruleset_build(b);
    double build_ms = bench_now_ms() - t0;
    if (!base)
        return 2;

    struct ipdrop_list l = { 0 };
    double cv[64];
    for (int r = 0; r < rounds; r++) {
        double c0 = bench_now_ms();
        if (ipdrop_collect(base, NULL, &l, NULL) < 0)
            return 2;
        cv[r] = bench_now_ms() - c0;
    }
    double collect_ms = bench_median(cv, (size_t)rounds);
    size_t elements = l.n;
    ipdrop_list_free(&l);

    struct ipdrop *kd = ipdrop_new("qorgau_ip", true, 0x10000, NULL, err, sizeof(err));
    if (!kd) {
        fprintf(stderr, "bench_ipdrop: %s\n", err);
        return 2;
    }
    double create_ms = 0;
    {
        double v[64];
        for (int r = 0; r < rounds; r++) {
            ipdrop_free(kd, true);
            kd = ipdrop_new("qorgau_ip", true, 0x10000, NULL, err, sizeof(err));
            double c0 = bench_now_ms();
            if (!kd || ipdrop_sync(kd, base, NULL, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench_ipdrop: %s\n", err);
                return 2;
            }
            v[r] = bench_now_ms() - c0;
        }
        create_ms = bench_median(v, (size_t)rounds);
    }
    struct ruleset *dom = overlay(base, "D1", 0, 1, true, false);
    struct ruleset *one = overlay(base, "A1", 0, 1, false, false);
    struct ruleset *thou = overlay(base, "A1000", 100, 1000, false, false);
    struct ruleset *rev = overlay(thou, "A1000", 0, 0, false, true);
    double unchanged_ms = time_sync(kd, base, dom, rounds);
    double add1_ms = time_sync(kd, base, one, rounds);
    double add1000_ms = time_sync(kd, base, thou, rounds);
    double revoke_ms = time_sync(kd, thou, rev, rounds);
    double elems_ms = 0;
    long nread = 0;
    {
        double v[64];
        for (int r = 0; r < rounds; r++) {
            double c0 = bench_now_ms();
            nread = ipdrop_read_elements(kd, no_count, NULL, err, sizeof(err));
            v[r] = bench_now_ms() - c0;
            if (nread < 0) {
                fprintf(stderr, "bench_ipdrop: %s\n", err);
                return 2;
            }
        }
        elems_ms = bench_median(v, (size_t)rounds);
    }
    struct ipdrop_stats st;
    ipdrop_get_stats(kd, &st);

    printf("IP entries on every port: %zu entries, %zu IP entries (%zu elements after the "
           "reduction), median of %d\n",
           n, k, elements, rounds);
    printf("  build (baseline)   %9.1f ms\n", build_ms);
    printf("  collect            %9.1f ms  (%.3fx the build)\n", collect_ms, collect_ms / build_ms);
    printf("  create, %zu el.  %9.1f ms  (baseline for the changes)\n", elements, create_ms);
    printf("  unchanged          %9.1f ms  (%.3fx create)\n", unchanged_ms,
           unchanged_ms / create_ms);
    printf("  add 1              %9.1f ms  (%.3fx create)\n", add1_ms, add1_ms / create_ms);
    printf("  add 1000           %9.1f ms  (%.3fx create)\n", add1000_ms, add1000_ms / create_ms);
    printf("  revoke 1000        %9.1f ms  (%.3fx create)\n", revoke_ms, revoke_ms / create_ms);
    printf("  read %ld elements %9.1f ms  (%.3fx add 1)\n", nread, elems_ms, elems_ms / add1_ms);
    printf("{\"bench\":\"ipdrop\",\"entries\":%zu,\"ips\":%zu,\"elements\":%zu,\"rounds\":%d,"
           "\"build_ms\":%.1f,\"collect_ms\":%.1f,\"create_ms\":%.1f,\"unchanged_ms\":%.1f,"
           "\"add1_ms\":%.1f,\"add1000_ms\":%.1f,\"revoke1000_ms\":%.1f,\"elements_ms\":%.1f,"
           "\"rebuilt\":%llu}\n",
           n, k, elements, rounds, build_ms, collect_ms, create_ms, unchanged_ms, add1_ms,
           add1000_ms, revoke_ms, elems_ms, (unsigned long long)st.rebuilt);
    ipdrop_free(kd, true);
    ruleset_free(rev);
    ruleset_free(thou);
    ruleset_free(one);
    ruleset_free(dom);
    ruleset_free(base);
    return 0;
}
