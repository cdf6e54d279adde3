/* bench_rsimage.c - the rule set's disk image and incremental updates at scale.
 *
 * Usage: bench_rsimage [--entries N] [--dir D] [--seed S] [--order-size K] [--keep] [--chain K]
 *
 * Generates N entries (60% domains, 30% URLs, 10% IPv4/IPv6 prefixes) with a deterministic PRNG,
 * claimed by orders of K entries each ("B0", "B1", ...), and builds the set (the baseline: a full
 * rebuild). Then times:
 *   write     ruleset_image_write() to D/rules.img (temp + fsync + rename)
 *   open      ruleset_image_open() + the first lookup, in a fresh process (this program run
 *             again with --open PATH, so that its RSS is the image's alone), with the file in the page cache (warm) and after dropping it
 *             from the cache (cold: posix_fadvise DONTNEED; the disk read is then in the figure)
 *   apply 1   ruleset_apply() of a 1-entry order on the built base
 *   apply 10k a 10,000-entry order
 *   revoke    lifting a whole base order of K entries, and a 1-entry order from the overlay
 *   merge     ruleset_merge() of the last overlay (the background fold into a fresh base)
 * and the domain lookup rate (99% misses, 1% hits) on the flat set and through an overlay. Prints
 * a report and one JSON line.
 *
 * With --chain K it times K consecutive applies of new orders of --order-size entries each
 * ("C0", "C1", ...) over the built base instead (the follower's path as orders arrive one by
 * one: each apply starts from the set the previous one made): the first, the median and the
 * last apply, and the domain lookup rate through the last set; then exits. A set of
 * RULESET_COMPACT_DEPTH deltas is compacted between two applies, as the daemon does in the
 * background (timed apart). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const tlds[] = { "com",  "net", "org", "kz", "ru",
                                    "info", "xyz", "io",  "me", "online" };

static size_t label(char *o)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = 3 + rnd(13);
    for (size_t i = 0; i < n; i++)
        o[i] = alpha[rnd(i == 0 || i == n - 1 ? 26 : 36)];
    return n;
}

static size_t name(char *o)
{
    size_t len = 0, n = 1 + (rnd(10) < 7 ? 0 : 1 + rnd(2));
    for (size_t i = 0; i < n; i++) {
        len += label(o + len);
        o[len++] = '.';
    }
    const char *t = tlds[rnd(10)];
    memcpy(o + len, t, strlen(t) + 1);
    return len + strlen(t);
}

/* One random entry's text into o. */
static void entry(char *o, size_t cap)
{
    char h[200];
    name(h);
    uint32_t r = rnd(10);
    if (r < 6) {
        snprintf(o, cap, "%s", h);
    } else if (r < 9) {
        char p[64];
        size_t pl = 0;
        for (uint32_t s = 0, n = 1 + rnd(3); s < n; s++) {
            p[pl++] = '/';
            pl += label(p + pl);
        }
        p[pl] = '\0';
        snprintf(o, cap, "%s://%s%s%s", rnd(2) ? "https" : "http", h, p, rnd(8) ? "" : "/*");
    } else if (rnd(5)) {
        snprintf(o, cap, "%u.%u.%u.%u%s", 1 + rnd(223), rnd(256), rnd(256), rnd(256),
                 rnd(4) ? "" : "/24");
    } else {
        snprintf(o, cap, "2001:db8:%x:%x::/64", rnd(65536), rnd(65536));
    }
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static const char *arg(int argc, char **argv, const char *key)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], key) == 0)
            return argv[i + 1];
    return NULL;
}

/* In a child: open the image, one lookup; report seconds and RSS before/after through fd. */
static void child_open(const char *path, int fd)
{
    char err[512];
    long before = rss_kb();
    double t0 = now();
    struct ruleset *rs = ruleset_image_open(path, NULL, err, sizeof(err));
    bool hit = rs && ruleset_match_domain(rs, "example.com", 11, NULL);
    double dt = now() - t0;
    long after = rss_kb();
    char out[256];
    int n = snprintf(out, sizeof(out), "%.6f %ld %ld %d %s\n", dt, before, after, rs != NULL,
                     rs ? "" : err);
    if (write(fd, out, (size_t)n) != n)
        _exit(2);
    (void)hit;
    _exit(0);
}

static int time_open(const char *path, bool cold, double *sec, long *rss_before, long *rss_after)
{
    if (cold) {
        int f = open(path, O_RDONLY);
        if (f >= 0) {
            fdatasync(f);
            posix_fadvise(f, 0, 0, POSIX_FADV_DONTNEED);
            close(f);
        }
    }
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) { /* a fresh process: its RSS is the image's and the loader's alone */
        close(p[0]);
        dup2(p[1], 1);
        execl("/proc/self/exe", "bench_rsimage", "--open", path, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[256] = "";
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    int ok = 0;
    if (n <= 0 || sscanf(buf, "%lf %ld %ld %d", sec, rss_before, rss_after, &ok) != 4 || !ok) {
        fprintf(stderr, "bench_rsimage: open failed: %s", buf);
        return -1;
    }
    return 0;
}

static int rates(const struct ruleset *flat, size_t entries, const struct ruleset *over,
                 double *r_flat, double *r_over);

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* --chain K: K applies of new osz-entry orders, each over the set the previous one made. */
static int chain(struct ruleset *base, size_t k, size_t osz, size_t entries)
{
    char err[512], oid[32];
    struct ruleset_claim *c = malloc(osz * sizeof(*c));
    char *ct = malloc(osz * 200);
    double *dt = malloc((k ? k : 1) * sizeof(*dt)), *sorted = malloc((k ? k : 1) * sizeof(*dt));
    if (!c || !ct || !dt || !sorted)
        return 2;
    struct ruleset *cur = ruleset_ref(base);
    double t_compact = 0, t_compact_all = 0;
    size_t ncompact = 0;
    for (size_t o = 0; o < k; o++) {
        snprintf(oid, sizeof(oid), "C%zu", o);
        for (size_t i = 0; i < osz; i++) {
            char h[200];
            name(h);
            snprintf(ct + i * 200, 200, "c%zu-%zu.%.150s", o, i, h);
            c[i] = (struct ruleset_claim){ ct + i * 200, strlen(ct + i * 200), oid, "court" };
        }
        int rc = 0;
        double t0 = now();
        struct ruleset *n = ruleset_apply(cur, c, osz, NULL, 0, &rc, err, sizeof(err));
        dt[o] = now() - t0;
        if (!n) {
            fprintf(stderr, "bench_rsimage: apply %zu failed: %s\n", o, err);
            return 2;
        }
        bool hit = ruleset_match_domain(n, c[osz / 2].text, c[osz / 2].len, NULL);
        ruleset_free(cur);
        cur = n;
        if (ruleset_depth(cur) >= RULESET_COMPACT_DEPTH) { /* the daemon's background compaction */
            t0 = now();
            n = ruleset_compact(cur);
            double tc = now() - t0;
            t_compact = tc > t_compact ? tc : t_compact;
            t_compact_all += tc;
            if (!n)
                return 2;
            ruleset_free(cur);
            cur = n;
            ncompact++;
        }
        if (!hit) {
            fprintf(stderr, "bench_rsimage: apply %zu: its entry does not match\n", o);
            return 1;
        }
    }
    memcpy(sorted, dt, k * sizeof(*dt));
    qsort(sorted, k, sizeof(*sorted), dbl_cmp);
    double r_flat, r_over;
    if (rates(base, entries, cur, &r_flat, &r_over))
        return 2;
    printf("chain of %zu applies of %zu-entry orders over %zu entries: first %.1f ms, median "
           "%.1f ms, last %.1f ms, max %.1f ms; overlay %zu\n",
           k, osz, entries, dt[0] * 1e3, sorted[k / 2] * 1e3, dt[k - 1] * 1e3, sorted[k - 1] * 1e3,
           ruleset_overlay_size(cur));
    printf("compactions (background in the daemon, not in the figures above) %zu, the longest "
           "%.1f ms, all %.1f ms\n",
           ncompact, t_compact * 1e3, t_compact_all * 1e3);
    printf("domain lookups 99/1    %.2f M/s flat, %.2f M/s through the last set (%zu deltas; "
           "%.2fx)\n",
           r_flat / 1e6, r_over / 1e6, ruleset_depth(cur), r_over / r_flat);
    printf("{\"entries\":%zu,\"chain\":%zu,\"order_size\":%zu,\"first_ms\":%.1f,"
           "\"median_ms\":%.1f,\"last_ms\":%.1f,\"max_ms\":%.1f,\"lookup_flat\":%.0f,"
           "\"lookup_chain\":%.0f,\"depth\":%zu,\"compact_max_ms\":%.1f,\"compact_all_ms\":%.1f}\n",
           entries, k, osz, dt[0] * 1e3, sorted[k / 2] * 1e3, dt[k - 1] * 1e3, sorted[k - 1] * 1e3,
           r_flat, r_over, ruleset_depth(cur), t_compact * 1e3, t_compact_all * 1e3);
    ruleset_free(cur);
    free(c);
    free(ct);
    free(dt);
    free(sorted);
    return 0;
}

static double domain_rate(const struct ruleset *rs, char **q, size_t n)
{
    size_t h = 0;
    double t0 = cpu_now();
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < n; i++)
            h += ruleset_match_domain(rs, q[i], strlen(q[i]), NULL);
    double dt = cpu_now() - t0;
    if (h == (size_t)-1)
        puts("");
    return 3.0 * (double)n / dt;
}

/* nq domain queries: 99% misses (random names), 1% hits (the base's entries' own texts). *buf
 * gets their storage. NULL on allocation failure. */
static char **mix_queries(const struct ruleset *base, size_t entries, size_t nq, char **buf)
{
    char **q = malloc(nq * sizeof(*q));
    char *qb = malloc(nq * 64);
    if (!q || !qb) {
        free(q);
        free(qb);
        return NULL;
    }
    for (size_t i = 0; i < nq; i++) {
        q[i] = qb + i * 64;
        if (rnd(100) == 0) {
            uint32_t e = rnd((uint32_t)entries);
            snprintf(q[i], 64, "%.63s", ruleset_entry_text(base, e));
        } else {
            char h[200];
            name(h);
            snprintf(q[i], 64, "x%.60s", h);
        }
    }
    *buf = qb;
    return q;
}

/* The domain lookup rates of flat (entries entries) and over on a million queries of the mix,
 * the better of two interleaved runs each. Returns 0, or -1 out of memory. */
static int rates(const struct ruleset *flat, size_t entries, const struct ruleset *over,
                 double *r_flat, double *r_over)
{
    size_t nq = 1000000;
    char *qb = NULL, **q = mix_queries(flat, entries, nq, &qb);
    if (!q)
        return -1;
    double f1 = domain_rate(flat, q, nq), o1 = domain_rate(over, q, nq);
    double f2 = domain_rate(flat, q, nq), o2 = domain_rate(over, q, nq);
    *r_flat = f2 > f1 ? f2 : f1;
    *r_over = o2 > o1 ? o2 : o1;
    free(q);
    free(qb);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 5000000, osz = 10000;
    const char *dir = "build/bench";
    const char *v;
    if ((v = arg(argc, argv, "--open")))
        child_open(v, 1);
    if ((v = arg(argc, argv, "--entries")))
        n = strtoul(v, NULL, 10);
    if ((v = arg(argc, argv, "--order-size")))
        osz = strtoul(v, NULL, 10);
    if ((v = arg(argc, argv, "--dir")))
        dir = v;
    if ((v = arg(argc, argv, "--seed")))
        rs_state ^= strtoull(v, NULL, 10) * 0x9E3779B97F4A7C15ULL;
    if (osz == 0)
        osz = 1;
    size_t nchain = (v = arg(argc, argv, "--chain")) ? strtoul(v, NULL, 10) : 0;
    bool keep = false; /* --keep: leave the image for a profiler (bench_rsimage --open PATH) */
    for (int i = 1; i < argc; i++)
        keep |= strcmp(argv[i], "--keep") == 0;
    char path[512], err[512], t[400], oid[32];
    snprintf(path, sizeof(path), "%s/rules.img", dir);

    /* the texts first, so that the build time is the builder's alone */
    size_t cap = n * 40 + 1024, used = 0;
    char *texts = malloc(cap);
    uint32_t *off = malloc((n + 1) * sizeof(*off));
    if (!texts || !off)
        return 2;
    for (size_t i = 0; i < n; i++) {
        entry(t, sizeof(t));
        size_t l = strlen(t);
        if (used + l + 1 > cap) {
            cap *= 2;
            if (!(texts = realloc(texts, cap)))
                return 2;
        }
        off[i] = (uint32_t)used;
        memcpy(texts + used, t, l + 1);
        used += l + 1;
    }
    double t0 = now();
    struct ruleset_builder *b = ruleset_builder_new();
    for (size_t i = 0; i < n; i++) {
        snprintf(oid, sizeof(oid), "B%zu", i / osz);
        struct rule_attrs a = { oid, "court", NULL };
        const char *x = texts + off[i];
        if (ruleset_builder_add(b, x, strlen(x), &a, err, sizeof(err)) == -ENOMEM)
            return 2;
    }
    struct ruleset *base = ruleset_build(b);
    double t_build = now() - t0;
    if (!base)
        return 2;
    struct ruleset_stats st;
    ruleset_get_stats(base, &st);
    size_t entries = ruleset_entry_count(base);
    if (nchain) {
        int crc = chain(base, nchain, osz, entries);
        ruleset_free(base);
        free(texts);
        free(off);
        return crc;
    }

    t0 = now();
    if (ruleset_image_write(base, path, 1, err, sizeof(err))) {
        fprintf(stderr, "bench_rsimage: %s\n", err);
        return 2;
    }
    double t_write = now() - t0;
    FILE *f = fopen(path, "rb");
    long img_bytes = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        img_bytes = ftell(f);
        fclose(f);
    }
    double t_warm = 0, t_cold = 0;
    long rb_w = 0, ra_w = 0, rb_c = 0, ra_c = 0;
    time_open(path, false, &t_warm, &rb_w, &ra_w); /* page cache filled by the write */
    time_open(path, false, &t_warm, &rb_w, &ra_w);
    time_open(path, true, &t_cold, &rb_c, &ra_c);

    /* overlays: claims of new entries */
    struct ruleset_claim *c = malloc(10000 * sizeof(*c));
    char *ct = malloc(10000 * 200);
    if (!c || !ct)
        return 2;
    for (size_t i = 0; i < 10000; i++) {
        char h[200];
        name(h);
        snprintf(ct + i * 200, 200, "new%zu.%.150s", i, h);
        c[i] = (struct ruleset_claim){ ct + i * 200, strlen(ct + i * 200), "N10k", "court" };
    }
    struct ruleset_claim one = { "one-new-entry.example.kz", 24, "N1", "court" };
    int rc;
    t0 = now();
    struct ruleset *o1 = ruleset_apply(base, &one, 1, NULL, 0, &rc, err, sizeof(err));
    double t_apply1 = now() - t0;
    t0 = now();
    struct ruleset *o2 = ruleset_apply(o1, c, 10000, NULL, 0, &rc, err, sizeof(err));
    double t_apply10k = now() - t0;
    struct ruleset_lift lb = { "B7", NULL, 0 };
    t0 = now();
    struct ruleset *o3 = ruleset_apply(o2, NULL, 0, &lb, 1, &rc, err, sizeof(err));
    double t_revoke_base = now() - t0;
    struct ruleset_lift l1 = { "N1", NULL, 0 };
    t0 = now();
    struct ruleset *o4 = ruleset_apply(o3, NULL, 0, &l1, 1, &rc, err, sizeof(err));
    double t_revoke1 = now() - t0;
    if (!o1 || !o2 || !o3 || !o4) {
        fprintf(stderr, "bench_rsimage: apply failed: %s\n", err);
        return 2;
    }
    bool ok = ruleset_match_domain(o2, "one-new-entry.example.kz", 24, NULL) &&
              !ruleset_match_domain(o4, "one-new-entry.example.kz", 24, NULL) &&
              ruleset_match_domain(o4, c[5].text, c[5].len, NULL);
    /* an entry of B7 must be gone, an entry of B8 still there (each may be listed by another
     * order too, or be a duplicate: looked up by text, not asserted) */
    size_t ov_size = ruleset_overlay_size(o4);

    /* lookups: 99% misses, 1% hits (entries' own names) */
    double r_flat, r_over;
    if (rates(base, entries, o4, &r_flat, &r_over))
        return 2;

    t0 = now();
    struct ruleset *merged = ruleset_merge(o4);
    double t_merge = now() - t0;

    printf("entries %zu (domains %zu, urls %zu, ip4 %zu, ip6 %zu); set %.1f MiB in memory, "
           "image %.1f MiB\n",
           entries, st.domains, st.urls, st.ips4, st.ips6, (double)st.bytes / 1048576.0,
           (double)img_bytes / 1048576.0);
    printf("full build (baseline)  %8.3f s\n", t_build);
    printf("image write            %8.3f s\n", t_write);
    printf("image open + 1 lookup  %8.3f s warm, %.3f s cold (%.0fx, %.0fx faster than the full "
           "build); RSS %ld -> %ld MiB (warm), %ld -> %ld MiB (cold)\n",
           t_warm, t_cold, t_build / t_warm, t_build / t_cold, rb_w / 1024, ra_w / 1024,
           rb_c / 1024, ra_c / 1024);
    printf("apply 1-entry order    %8.3f ms  (%.0fx faster than the full build)\n", t_apply1 * 1e3,
           t_build / t_apply1);
    printf("apply 10k-entry order  %8.3f ms  (%.0fx)\n", t_apply10k * 1e3, t_build / t_apply10k);
    printf("revoke a %zu-entry base order %8.3f ms  (%.0fx)\n", osz, t_revoke_base * 1e3,
           t_build / t_revoke_base);
    printf("revoke a 1-entry order %8.3f ms  (%.0fx)\n", t_revoke1 * 1e3, t_build / t_revoke1);
    printf("merge (background)     %8.3f s; overlay size before %zu; checks %s\n", t_merge, ov_size,
           ok && merged ? "ok" : "FAILED");
    printf("domain lookups 99/1    %.2f M/s flat, %.2f M/s through the overlay (%.2fx)\n",
           r_flat / 1e6, r_over / 1e6, r_over / r_flat);
    printf("{\"entries\":%zu,\"set_bytes\":%zu,\"image_bytes\":%ld,\"build_s\":%.3f,"
           "\"write_s\":%.3f,\"open_warm_s\":%.4f,\"open_cold_s\":%.4f,\"rss_open_kb\":%ld,"
           "\"apply1_ms\":%.3f,\"apply10k_ms\":%.3f,\"revoke_base_ms\":%.3f,\"revoke1_ms\":%.3f,"
           "\"merge_s\":%.3f,\"lookup_flat\":%.0f,\"lookup_overlay\":%.0f}\n",
           entries, st.bytes, img_bytes, t_build, t_write, t_warm, t_cold, ra_w - rb_w,
           t_apply1 * 1e3, t_apply10k * 1e3, t_revoke_base * 1e3, t_revoke1 * 1e3, t_merge, r_flat,
           r_over);
    ruleset_free(merged);
    ruleset_free(o1);
    ruleset_free(o2);
    ruleset_free(o3);
    ruleset_free(o4);
    ruleset_free(base);
    free(c);
    free(ct);
    free(texts);
    free(off);
    if (!keep)
        unlink(path);
    return ok && merged ? 0 : 1;
}
