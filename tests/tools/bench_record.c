/* bench_record.c - reading an order record back from the store's JSON, as a node does for every
 * change it follows.
 *
 * Usage: bench_record [--entries N] [--rounds R]
 *
 * Builds a restrict order of N domains (default 10000) with order_add_resource(), writes its
 * canonical JSON (order_to_json()), then times R rounds (default 9) of order_from_json() (the
 * resources read by its scanner) and of order_from_json_tree() (every value in jansson's tree),
 * alternating, and prints the median and minimum of each in milliseconds and their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/orders/order.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = 10000, rounds = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--entries") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = strtoul(argv[i + 1], NULL, 10);
    }
    if (rounds == 0 || rounds > 1000) {
        fprintf(stderr, "bench_record: --rounds 1-1000\n");
        return 2;
    }
    char err[ORDER_ERR_MAX];
    struct order *o = order_new();
    if (!o || order_set(&o->id, "bench-1", 7) || order_set(&o->issuer, "Bench", 5)) {
        fprintf(stderr, "bench_record: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char name[64];
        int len = snprintf(name, sizeof(name), "n%zu.o1.example", i);
        if (order_add_resource(o, name, (size_t)len, NULL, false, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_record: %s\n", err);
            return 1;
        }
    }
    char *j = order_to_json(o);
    if (!j) {
        fprintf(stderr, "bench_record: out of memory\n");
        return 1;
    }
    size_t len = strlen(j);
    double *fast = calloc(rounds, sizeof(*fast)), *tree = calloc(rounds, sizeof(*tree));
    if (!fast || !tree)
        return 1;
    for (size_t r = 0; r < rounds; r++) {
        double t0 = now_ms();
        struct order *a = order_from_json(j, len, err, sizeof(err));
        double t1 = now_ms();
        struct order *b = order_from_json_tree(j, len, err, sizeof(err));
        double t2 = now_ms();
        if (!a || !b || a->nres != n || b->nres != n) {
            fprintf(stderr, "bench_record: the record did not read back: %s\n", err);
            return 1;
        }
        order_free(a);
        order_free(b);
        fast[r] = t1 - t0;
        tree[r] = t2 - t1;
    }
    qsort(fast, rounds, sizeof(*fast), cmp);
    qsort(tree, rounds, sizeof(*tree), cmp);
    double fm = fast[rounds / 2], tm = tree[rounds / 2];
    printf("record of %zu domains (%zu bytes), %zu rounds: order_from_json median %.2f ms (min "
           "%.2f), order_from_json_tree median %.2f ms (min %.2f): %.1fx\n",
           n, len, rounds, fm, fast[0], tm, tree[0], fm > 0 ? tm / fm : 0.0);
    free(fast);
    free(tree);
    free(j);
    order_free(o);
    return 0;
}
