/* bench_radius.c - benchmark of the subscriber feed (docs/BENCHMARKS.md, tests/bench/store.sh).
 *
 *     bench_radius STORE_URL [PACKETS] [SUBSCRIBERS]
 *
 * 1. Accounting packets handled per second on one core, each applied to the store: PACKETS
 *    pre-built Accounting-Requests (Start 70 %, Interim-Update 20 %, Stop 10 %, each from
 *    127.0.0.1 with its own identifier/authenticator, IPv4 addresses, a /56 every tenth) go
 *    through radius_listener_process() in receive-sized batches of RADIUS_BATCH: parse,
 *    authenticate, de-duplicate, one store batch per receive batch, the node's map, the
 *    response. The clock covers only that (one thread; the store server runs elsewhere).
 * 2. SUBSCRIBERS mappings (IPv4, an 11-digit MSISDN, a 16-byte session id) loaded into a node
 *    map of that capacity: the process's resident memory before and after, per subscriber; then
 *    lookups per second of random loaded addresses.
 * 3. The same SUBSCRIBERS written to the store in batches of 512: mappings per second and, on
 *    Redis, used_memory per subscriber (INFO memory).
 * Prints one line per figure. Exits 1 if a packet was not answered or a store write failed. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/radius.h"
#include "rules/match/rsref.h"
#include "rules/store/store.h"
#include "rules/subs/radius.h"
#include "rules/subs/submap.h"
#include "tests/lib/radpkt.h"

static const uint8_t SECRET[] = "bench-secret";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Packet i: status by i % 10, subscriber i % (n / 2) (Interim/Stop refer to earlier Starts). */
static int build(size_t i, size_t n, uint8_t *out)
{
    uint8_t a[256];
    size_t k = 0, s = i % (n / 2 + 1);
    uint32_t st = i % 10 < 7 ? RADIUS_START : i % 10 < 9 ? RADIUS_INTERIM : RADIUS_STOP;
    char sess[40], msisdn[32];
    snprintf(sess, sizeof(sess), "sess%012zu", s);
    snprintf(msisdn, sizeof(msisdn), "770%08zu", s);
    k += radpkt_u32(a + k, 40, st);
    k += radpkt_attr(a + k, 44, sess, strlen(sess));
    uint8_t ip[4] = { 10, (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s };
    k += radpkt_attr(a + k, 8, ip, 4);
    if (s % 10 == 0) {
        uint8_t p[9] = {
            0, 56, 0x20, 0x01, 0x0d, 0xb8, (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s
        };
        k += radpkt_attr(a + k, 97, p, sizeof(p));
    }
    k += radpkt_attr(a + k, 31, msisdn, strlen(msisdn));
    if (st == RADIUS_INTERIM)
        k += radpkt_u32(a + k, 85, 300);
    return radius_acct_build((uint8_t)i, a, k, SECRET, sizeof(SECRET) - 1, out, RADIUS_MAX);
}

static int packets(const char *url, size_t n, const char *secret_file)
{
    char line[1200], err[1024];
    snprintf(line, sizeof(line), "127.0.0.1 %s", secret_file);
    char *items[1] = { line };
    struct config_list cl = { 1, items };
    struct radius_config rc = { .listen = "127.0.0.1:0",
                                .clients = &cl,
                                .store_url = url,
                                .session_ttl_ms = 7200000,
                                .map_capacity = n };
    struct radius_listener *l = radius_listener_new(&rc, NULL, err, sizeof(err));
    if (!l) {
        fprintf(stderr, "bench_radius: %s\n", err);
        return 1;
    }
    uint8_t(*pk)[128] = malloc(n * sizeof(*pk));
    size_t *len = malloc(n * sizeof(*len));
    struct radius_dgram *d = calloc(RADIUS_BATCH, sizeof(*d));
    if (!pk || !len || !d)
        return 1;
    for (size_t i = 0; i < n; i++) {
        int m = build(i, n, pk[i]);
        if (m < 0 || m > 128)
            return 1;
        len[i] = (size_t)m;
    }
    struct sockaddr_in *from = (struct sockaddr_in *)&d[0].from;
    from->sin_family = AF_INET;
    from->sin_addr.s_addr = htonl(0x7f000001);
    size_t answered = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i += RADIUS_BATCH) {
        size_t b = n - i < RADIUS_BATCH ? n - i : RADIUS_BATCH;
        for (size_t j = 0; j < b; j++) {
            d[j].from = d[0].from;
            ((struct sockaddr_in *)&d[j].from)->sin_port = htons((uint16_t)(1024 + (i + j) / 256));
            d[j].fromlen = sizeof(struct sockaddr_in);
            d[j].buf = pk[i + j];
            d[j].len = len[i + j];
        }
        answered += radius_listener_process(l, d, b, store_now_ms());
    }
    double dt = now_s() - t0;
    struct radius_counters c;
    radius_listener_stats(l, &c);
    printf("radius packets: %zu in %.3f s = %.0f packets/s on one thread, applied to %s "
           "(answered %zu, mapped %llu, removed %llu, store batches failed %llu)\n",
           n, dt, (double)n / dt, url, answered, (unsigned long long)c.mapped,
           (unsigned long long)c.removed, (unsigned long long)c.store_errors);
    radius_listener_free(l);
    free(pk);
    free(len);
    free(d);
    return answered == n && c.store_errors == 0 ? 0 : 1;
}

static int memory(size_t n)
{
    long before = rss_kib();
    struct submap *m = submap_new(n);
    if (!m)
        return 1;
    long empty = rss_kib();
    for (size_t i = 0; i < n; i++) {
        struct sub_addr a = { .family = 4, .plen = 32 };
        a.addr[0] = 10;
        a.addr[1] = (uint8_t)(i >> 16);
        a.addr[2] = (uint8_t)(i >> 8);
        a.addr[3] = (uint8_t)i;
        char sub[32], sess[40];
        snprintf(sub, sizeof(sub), "770%08zu", i);
        snprintf(sess, sizeof(sess), "sess%012zu", i);
        if (submap_set(m, &a, sub, sess, 0) != 0)
            return 1;
    }
    long full = rss_kib();
    size_t slots = 16;
    while (slots < n * 2)
        slots <<= 1;
    (void)empty; /* the slot array is calloc'ed: resident only once written */
    printf("node map: %zu subscribers: resident +%ld KiB = %.1f bytes per subscriber (its share "
           "of the %zu-slot table, %.1f bytes, included)\n",
           n, full - before, (double)(full - before) * 1024.0 / (double)n, slots,
           (double)slots * 8.0 / (double)n);
    uint64_t x = 88172645463325252ull;
    size_t hits = 0, lookups = 2000000;
    char sub[32];
    double t0 = now_s();
    for (size_t i = 0; i < lookups; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t k = x % n;
        uint8_t ip[4] = { 10, (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k };
        hits += submap_lookup(m, 4, ip, 1, sub, sizeof(sub), NULL, 0);
    }
    double dt = now_s() - t0;
    printf("node map lookups: %.1f M/s on one thread (%zu of %zu found)\n",
           (double)lookups / dt / 1e6, hits, lookups);
    submap_free(m);
    return hits == lookups ? 0 : 1;
}

static long long redis_used(const char *url)
{
    unsigned port = 0;
    if (sscanf(url, "redis://127.0.0.1:%u", &port) != 1)
        return -1;
    redisContext *c = redisConnect("127.0.0.1", (int)port);
    if (!c || c->err)
        return -1;
    redisReply *r = redisCommand(c, "INFO memory");
    long long v = -1;
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
    if (p)
        v = atoll(p + 12);
    freeReplyObject(r);
    redisFree(c);
    return v;
}

static int store_load(const char *url, size_t n)
{
    char err[1024];
    struct store *s = store_open(url, NULL, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "bench_radius: %s\n", err);
        return 1;
    }
    enum { B = 512 };
    static struct store_sub e[B];
    static char addr[B][20], sub[B][32], sess[B][40];
    long long m0 = redis_used(url);
    double t0 = now_s();
    for (size_t i = 0; i < n; i += B) {
        size_t b = n - i < B ? n - i : B;
        for (size_t j = 0; j < b; j++) {
            size_t k = i + j;
            snprintf(addr[j], sizeof(addr[j]), "10.%zu.%zu.%zu", (k >> 16) & 255, (k >> 8) & 255,
                     k & 255);
            snprintf(sub[j], sizeof(sub[j]), "770%08zu", k);
            snprintf(sess[j], sizeof(sess[j]), "sess%012zu", k);
            e[j] = (struct store_sub){ .op = STORE_SUB_SET,
                                       .addr = addr[j],
                                       .subscriber = sub[j],
                                       .session = sess[j],
                                       .ttl_ms = 7200000 };
        }
        if (store_sub_apply(s, e, b, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_radius: %s\n", err);
            store_free(s);
            return 1;
        }
    }
    double dt = now_s() - t0;
    long long m1 = redis_used(url);
    printf("store load: %zu mappings in %.2f s = %.0f mappings/s (%s)", n, dt, (double)n / dt,
           store_where(s));
    if (m0 >= 0 && m1 >= 0)
        printf("; redis used_memory +%.1f MiB = %.0f bytes per subscriber (key, TTL and its "
               "change-stream entry)",
               (double)(m1 - m0) / 1048576.0, (double)(m1 - m0) / (double)n);
    printf("\n");
    store_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_radius STORE_URL [PACKETS] [SUBSCRIBERS]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 500000;
    size_t subs = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
    if (n < 2 || subs < 1)
        return 2;
    char sf[] = "/tmp/qg-bench-radius-XXXXXX";
    int fd = mkstemp(sf);
    if (fd < 0 || write(fd, SECRET, sizeof(SECRET) - 1) < 0) {
        perror("bench_radius: secret file");
        return 1;
    }
    close(fd);
    chmod(sf, 0600);
    rsref_thread_register();
    int rc = packets(argv[1], n, sf);
    unlink(sf);
    rc |= memory(subs);
    rc |= store_load(argv[1], subs);
    return rc;
}
