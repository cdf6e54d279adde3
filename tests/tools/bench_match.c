/* bench_match.c - build time, memory and lookup rate of the rule set on generated lists.
 *
 * Usage: bench_match [--domains N] [--urls N] [--queries N] [--seed S]
 *
 * Generates N domain and N URL entries with a deterministic PRNG (labels of 3-15 bytes, 1-3
 * labels under a TLD from a list, URL paths of 1-4 segments, some queries and some prefix
 * entries), adds them as text (normalization included), builds the set, then times, on one
 * thread, domain lookups of names under listed entries (hits), of random names drawn apart from
 * the list (misses), a realistic mix (99% misses, 1% hits, shuffled), and URL lookups. It also
 * builds a bare domhash over the domain texts to report how many miss queries get through its
 * Bloom pre-filter. Prints a short report and one JSON line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rules/match/domhash.h"
#include "rules/match/ruleset.h"

static uint64_t rs_state = 0x2545F4914F6CDD1DULL;

static uint64_t rnd64(void)
{
    rs_state ^= rs_state >> 12;
    rs_state ^= rs_state << 25;
    rs_state ^= rs_state >> 27;
    return rs_state * 0x2545F4914F6CDD1DULL;
}

static uint32_t rnd(uint32_t n)
{
    return (uint32_t)((rnd64() >> 32) % n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lookup rates are per CPU second of this thread: on a shared VM the wall clock also counts
 * the time other processes held the core. Build times are wall clock. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const tlds[] = { "com",         "net",   "org",    "kz",   "ru",  "info", "xyz",
                                    "io",          "me",    "online", "site", "top", "club", "biz",
                                    "xn--80ao21a", "co.uk", "com.ua", "de",   "fr",  "pro" };

static size_t label(char *o)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = 3 + rnd(13);
    for (size_t i = 0; i < n; i++)
        o[i] = alpha[rnd(i == 0 || i == n - 1 ? 26 : 36)];
    if (n > 5 && rnd(8) == 0)
        o[n / 2] = '-';
    return n;
}

/* A name of 1-3 random labels under a TLD. */
static size_t name(char *o)
{
    size_t len = 0, n = 1 + (rnd(10) < 7 ? 0 : 1 + rnd(2));
    for (size_t i = 0; i < n; i++) {
        len += label(o + len);
        o[len++] = '.';
    }
    const char *t = tlds[rnd((uint32_t)(sizeof(tlds) / sizeof(tlds[0])))];
    memcpy(o + len, t, strlen(t));
    len += strlen(t);
    o[len] = '\0';
    return len;
}

static size_t path(char *o)
{
    size_t len = 0, n = 1 + rnd(4);
    for (size_t i = 0; i < n; i++) {
        o[len++] = '/';
        len += label(o + len);
    }
    if (rnd(10) == 0) {
        memcpy(o + len, "?id=", 4);
        len += 4;
        len += (size_t)snprintf(o + len, 16, "%u", rnd(100000));
    }
    o[len] = '\0';
    return len;
}

struct q {
    uint32_t off;
    uint16_t hlen, plen;
};

static const char *arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static double run_domains(const struct ruleset *rs, const char *buf, const struct q *qs, size_t n,
                          size_t *hits)
{
    size_t h = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++)
        h += ruleset_match_domain(rs, buf + qs[i].off, qs[i].hlen, NULL);
    double dt = cpu_now() - t0;
    *hits = h;
    return (double)n / dt;
}

static double run_urls(const struct ruleset *rs, const char *buf, const struct q *qs, size_t n,
                       size_t *hits)
{
    size_t h = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++)
        h += ruleset_match_url(rs, buf + qs[i].off, qs[i].hlen, buf + qs[i].off + qs[i].hlen,
                               qs[i].plen, NULL);
    double dt = cpu_now() - t0;
    *hits = h;
    return (double)n / dt;
}

int main(int argc, char **argv)
{
    size_t nd = 1000000, nu = 1000000, nq = 2000000;
    const char *v;
    if ((v = arg(argc, argv, "--domains")))
        nd = strtoul(v, NULL, 10);
    if ((v = arg(argc, argv, "--urls")))
        nu = strtoul(v, NULL, 10);
    if ((v = arg(argc, argv, "--queries")))
        nq = strtoul(v, NULL, 10);
    if ((v = arg(argc, argv, "--seed")))
        rs_state = strtoull(v, NULL, 10) | 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bench_match [--domains N] [--urls N] [--queries N] [--seed S]\n");
            return 0;
        }

    if (nd == 0 || nu == 0 || nq == 0 || nd > 50000000 || nu > 50000000) {
        fprintf(stderr, "bench_match: --domains, --urls and --queries must be 1..50000000\n");
        return 2;
    }
    /* Generate the lists first so that the timing covers only add + build. */
    size_t cap = (nd * 64 + nu * 128) + 1024;
    char *text = malloc(cap);
    uint32_t *doff = malloc((nd + 1) * sizeof(*doff));
    uint32_t *uoff = malloc((nu + 1) * sizeof(*uoff));
    if (!text || !doff || !uoff)
        return 1;
    size_t tl = 0;
    for (size_t i = 0; i < nd; i++) {
        doff[i] = (uint32_t)tl;
        tl += name(text + tl) + 1;
    }
    for (size_t i = 0; i < nu; i++) {
        uoff[i] = (uint32_t)tl;
        size_t l = 0;
        memcpy(text + tl, rnd(2) ? "https://" : "http://", 8);
        l = text[tl + 4] == 's' ? 8 : 7;
        /* some hosts carry many URLs, as real lists do */
        if (i > 0 && rnd(3) == 0) {
            const char *prev = text + uoff[rnd((uint32_t)i)];
            const char *h = strstr(prev, "://") + 3;
            size_t hl = strcspn(h, "/");
            memcpy(text + tl + l, h, hl);
            l += hl;
        } else {
            l += name(text + tl + l);
        }
        l += path(text + tl + l);
        if (rnd(20) == 0)
            text[tl + l++] = '*';
        text[tl + l] = '\0';
        tl += l + 1;
    }

    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    double t0 = now();
    for (size_t i = 0; i < nd; i++) {
        const char *s = text + doff[i];
        if (ruleset_builder_add(b, s, strlen(s), NULL, err, sizeof(err)))
            fprintf(stderr, "bench_match: %s\n", err);
    }
    for (size_t i = 0; i < nu; i++) {
        const char *s = text + uoff[i];
        if (ruleset_builder_add(b, s, strlen(s), NULL, err, sizeof(err)))
            fprintf(stderr, "bench_match: %s\n", err);
    }
    double t_add = now() - t0;
    double t1 = now();
    struct ruleset *rs = ruleset_build(b);
    double t_build = now() - t1, t_total = now() - t0;
    if (!rs) {
        fprintf(stderr, "bench_match: ruleset_build failed\n");
        return 1;
    }
    struct ruleset_stats st;
    ruleset_get_stats(rs, &st);

    /* Queries: host bytes then path bytes, back to back. */
    char *qb = malloc(nq * 3 * 160 + 1024);
    struct q *hitq = malloc(nq * sizeof(*hitq)), *missq = malloc(nq * sizeof(*missq));
    struct q *uhit = malloc(nq * sizeof(*uhit)), *umiss = malloc(nq * sizeof(*umiss));
    if (!qb || !hitq || !missq || !uhit || !umiss)
        return 1;
    size_t ql = 0;
    static const char *const subs[] = { "www.", "m.", "api.", "cdn.", "" };
    for (size_t i = 0; i < nq; i++) {
        const char *d = ruleset_entry_text(rs, (uint32_t)rnd((uint32_t)st.domains));
        const char *s = subs[rnd(5)];
        hitq[i].off = (uint32_t)ql;
        ql += (size_t)snprintf(qb + ql, 300, "%s%s", s, d);
        hitq[i].hlen = (uint16_t)(ql - hitq[i].off);
        hitq[i].plen = 0;
        missq[i].off = (uint32_t)ql;
        ql += (size_t)snprintf(qb + ql, 8, "%s", s);
        ql += name(qb + ql);
        missq[i].hlen = (uint16_t)(ql - missq[i].off);
        missq[i].plen = 0;
        /* URL hit: an exact entry's host/path; URL miss: a listed host, another path */
        uint32_t e;
        const char *u;
        do {
            e = (uint32_t)(st.domains + rnd((uint32_t)st.urls));
            u = ruleset_entry_text(rs, e);
        } while (u[strlen(u) - 1] == '*' || u[0] == '\0');
        const char *h = strstr(u, "://") + 3;
        size_t hl = strcspn(h, "/");
        uhit[i].off = (uint32_t)ql;
        uhit[i].hlen = (uint16_t)hl;
        memcpy(qb + ql, h, strlen(h));
        uhit[i].plen = (uint16_t)(strlen(h) - hl);
        ql += strlen(h);
        umiss[i].off = (uint32_t)ql;
        umiss[i].hlen = (uint16_t)hl;
        memcpy(qb + ql, h, hl);
        ql += hl;
        size_t pl = path(qb + ql);
        umiss[i].plen = (uint16_t)pl;
        ql += pl;
    }

    /* Realistic mix: 99% misses (the misses of missq are a separate random name set), 1% hits. */
    struct q *mixq = malloc(nq * sizeof(*mixq));
    if (!mixq)
        return 1;
    for (size_t i = 0; i < nq; i++)
        mixq[i] = rnd(100) == 0 ? hitq[rnd((uint32_t)nq)] : missq[i];

    size_t hh, mh, uh, um, xh;
    run_domains(rs, qb, hitq, nq < 100000 ? nq : 100000, &hh); /* warm-up */
    double r_hit = run_domains(rs, qb, hitq, nq, &hh);
    double r_miss = run_domains(rs, qb, missq, nq, &mh);
    double r_mix = run_domains(rs, qb, mixq, nq, &xh);
    double r_uhit = run_urls(rs, qb, uhit, nq, &uh);
    double r_umiss = run_urls(rs, qb, umiss, nq, &um);

    /* Pre-filter pass rate on the misses, from a bare index over the same domain texts. */
    uint32_t *dv = malloc(nd * sizeof(*dv));
    if (!dv)
        return 1;
    for (size_t i = 0; i < nd; i++)
        dv[i] = (uint32_t)i;
    struct domhash *dh = domhash_build(text, doff, 0, dv, nd);
    size_t pass = 0;
    for (size_t i = 0; dh && i < nq; i++)
        pass += domhash_may_match(dh, qb + missq[i].off, missq[i].hlen);
    domhash_free(dh);
    free(dv);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    size_t entries = st.domains + st.urls;
    double bpe = entries ? (double)st.bytes / (double)entries : 0;
    printf("bench_match: %zu domains + %zu urls (%zu duplicates dropped)\n", st.domains, st.urls,
           nd + nu - entries);
    printf("  build: add+normalize %.2f s, compile %.2f s, total %.2f s\n", t_add, t_build,
           t_total);
    printf(
        "  memory: %zu bytes in the set, %.1f bytes/entry (peak RSS %ld MiB, generator included)\n",
        st.bytes, bpe, ru.ru_maxrss / 1024);
    printf("  lookup rates per CPU second of the benchmark thread:\n");
    printf("  domain lookups: hit %.2f M/s (%zu/%zu hit), miss %.2f M/s (%zu/%zu hit)\n",
           r_hit / 1e6, hh, nq, r_miss / 1e6, mh, nq);
    printf("  domain mix (99%% miss, 1%% hit): %.2f M/s (%zu/%zu hit); pre-filter passes %.2f%% of "
           "misses\n",
           r_mix / 1e6, xh, nq, 100.0 * (double)pass / (double)nq);
    printf("  url lookups:    hit %.2f M/s (%zu/%zu hit), miss %.2f M/s (%zu/%zu hit)\n",
           r_uhit / 1e6, uh, nq, r_umiss / 1e6, um, nq);
    printf(
        "{\"domains\":%zu,\"urls\":%zu,\"add_s\":%.3f,\"compile_s\":%.3f,\"build_s\":%.3f,"
        "\"bytes\":%zu,\"bytes_per_entry\":%.1f,\"domain_hit_per_s\":%.0f,\"domain_miss_per_s\":%."
        "0f,"
        "\"domain_mix_per_s\":%.0f,\"url_hit_per_s\":%.0f,\"url_miss_per_s\":%.0f,\"queries\":%zu,"
        "\"domain_hits\":%zu,\"miss_hits\":%zu,\"mix_hits\":%zu,\"url_hits\":%zu,"
        "\"prefilter_pass\":%.4f}\n",
        st.domains, st.urls, t_add, t_build, t_total, st.bytes, bpe, r_hit, r_miss, r_mix, r_uhit,
        r_umiss, nq, hh, mh, xh, uh, (double)pass / (double)nq);
    ruleset_free(rs);
    free(text);
    free(doff);
    free(uoff);
    free(qb);
    free(hitq);
    free(missq);
    free(mixq);
    free(uhit);
    free(umiss);
    return 0;
}
