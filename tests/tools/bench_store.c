/* bench_store.c - latency of the order store (rules/store/) against a given store URL.
 *
 * Usage: bench_store URL [PUBLISHES [ORDERS]]
 *   publish   PUBLISHES one-order imports (a 200-byte record), one after another: p50/p99/max
 *   follow    a follower thread with its own handle blocks in store_follow(); the main thread
 *             publishes 200 changes 5 ms apart: publish start -> follower callback, p50/p99/max
 *   snapshot  one change importing ORDERS orders, then a full snapshot: its time
 * The store should be empty (a fresh directory, or a Redis with a fresh ?prefix=). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/store/store.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_d);
    printf("%-9s n=%zu p50=%.0f us p99=%.0f us max=%.0f us\n", what, n, v[n / 2],
           v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], v[n - 1]);
}

static char g_record[201];

static int64_t publish_one(struct store *s, const char *id)
{
    char err[512];
    struct store_order o = { .id = id, .record = g_record, .record_len = 200 };
    struct store_change c = { .kind = STORE_CHANGE_IMPORT, .orders = &o, .n_orders = 1 };
    int64_t v = store_publish(s, &c, err, sizeof(err));
    if (v < 0) {
        fprintf(stderr, "bench_store: %s\n", err);
        exit(1);
    }
    return v;
}

#define FOLLOW_N 200

struct follow {
    const char *url;
    uint64_t from;
    double published[FOLLOW_N + 1];
    double seen[FOLLOW_N + 1];
    size_t n;
};

static int on_change(void *ctx, const struct store_change *c)
{
    struct follow *f = ctx;
    uint64_t i = c->version - f->from;
    if (i >= 1 && i <= FOLLOW_N) {
        f->seen[i] = now_us();
        f->n++;
    }
    return 0;
}

static void *follower(void *arg)
{
    struct follow *f = arg;
    char err[512];
    struct store *s = store_open(f->url, NULL, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "bench_store: %s\n", err);
        exit(1);
    }
    uint64_t at = f->from;
    while (f->n < FOLLOW_N) {
        uint64_t last;
        int rc = store_follow(s, at, 1000, on_change, f, &last, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "bench_store: follow: %s\n", err);
            exit(1);
        }
        at = last;
    }
    store_free(s);
    return NULL;
}

static int count(void *ctx, const struct store_order *o)
{
    (void)o;
    (*(size_t *)ctx)++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store URL [PUBLISHES [ORDERS]]\n");
        return 2;
    }
    const char *url = argv[1];
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t orders = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
    memset(g_record, 'r', 200);
    char err[512], id[32];
    struct store *s = store_open(url, NULL, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    printf("store: %s\n", store_where(s));

    double *lat = calloc(n, sizeof(*lat));
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "p%zu", i);
        double t0 = now_us();
        publish_one(s, id);
        lat[i] = now_us() - t0;
    }
    report("publish", lat, n);
    free(lat);

    struct follow *f = calloc(1, sizeof(*f));
    f->url = url;
    if (store_version(s, &f->from, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, follower, f);
    struct timespec gap = { 0, 5 * 1000000L };
    nanosleep(&gap, NULL);
    for (size_t i = 1; i <= FOLLOW_N; i++) {
        snprintf(id, sizeof(id), "f%zu", i);
        f->published[i] = now_us();
        publish_one(s, id);
        nanosleep(&gap, NULL);
    }
    pthread_join(t, NULL);
    double fl[FOLLOW_N];
    for (size_t i = 1; i <= FOLLOW_N; i++)
        fl[i - 1] = f->seen[i] - f->published[i];
    report("follow", fl, FOLLOW_N);
    free(f);

    struct store_order *os = calloc(orders, sizeof(*os));
    char(*ids)[24] = calloc(orders, sizeof(*ids));
    for (size_t i = 0; i < orders; i++) {
        snprintf(ids[i], sizeof(ids[i]), "s%zu", i);
        os[i] = (struct store_order){ .id = ids[i], .record = g_record, .record_len = 200 };
    }
    struct store_change c = { .kind = STORE_CHANGE_IMPORT, .orders = os, .n_orders = orders };
    double t0 = now_us();
    if (store_publish(s, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    printf("publish   one change of %zu orders: %.1f ms\n", orders, (now_us() - t0) / 1e3);
    size_t got = 0;
    uint64_t v;
    t0 = now_us();
    if (store_snapshot(s, &v, count, &got, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    printf("snapshot  %zu orders at version %llu: %.1f ms\n", got, (unsigned long long)v,
           (now_us() - t0) / 1e3);
    free(os);
    free(ids);
    store_free(s);
    return 0;
}
