/* resolver.h - resolving the names of blocked domains to addresses (c-ares), for the IP
 * fallback (docs/fallback.md).
 *
 * A resolver keeps a table name -> addresses. resolver_set_names() gives it the names to keep
 * (new ones are due at once); resolver_refresh() asks the configured servers for A and AAAA of
 * every name whose answer expired, at most max_inflight queries at a time, and returns when all
 * of them were answered or timed out. An answer's expiry is its smallest TTL clamped to
 * [ttl_min, ttl_max]. A failure (timeout, SERVFAIL, REFUSED, NXDOMAIN, no address) never
 * removes addresses: the family keeps its last good answer and the name is asked again after
 * retry seconds. One thread calls set_names/refresh; others read the table between
 * resolver_lock() and resolver_unlock(). */
#ifndef QG_RESOLVER_H
#define QG_RESOLVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct resolver_config {
    const char *servers;   /* "ip[:port],[ip6]:port,..."; NULL or "" = /etc/resolv.conf's */
    uint32_t ttl_min;      /* seconds; the floor of an answer's lifetime */
    uint32_t ttl_max;      /* seconds; the ceiling */
    uint32_t retry;        /* seconds before a failed name is asked again; 0 = ttl_min */
    unsigned max_inflight; /* queries in flight at once; 0 = 256 */
    uint32_t timeout_ms;   /* per try; 0 = 2000 */
    int tries;             /* 0 = 2 */
    /* Called (refresh's thread, table unlocked) for a name none of whose queries succeeded. */
    void (*on_failure)(void *ctx, const char *name, const char *why);
    void *ctx;
};

struct resolver_addr {
    uint8_t ipver;    /* 4 or 6 */
    uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
};

struct resolver_stats {
    size_t asked;   /* names asked */
    size_t ok;      /* names with at least one good answer */
    size_t failed;  /* names with none (their last answer kept) */
    size_t changed; /* names whose address set changed */
};

struct resolver;

/* A resolver over the configured servers. Returns NULL with "resolver: reason" in err. */
struct resolver *resolver_new(const struct resolver_config *c, char *err, size_t errlen);
void resolver_free(struct resolver *r);

/* The names to keep (copied; duplicates once): names kept from before keep their answers,
 * new ones are due now, others are dropped. Returns 0 or -ENOMEM (table unchanged). */
int resolver_set_names(struct resolver *r, const char *const *names, size_t n);

/* Asks for every name due at now (seconds, the caller's clock: expiries are now + TTL).
 * Returns when every query finished, or early when *stop becomes true (stop may be NULL).
 * st (may be NULL) gets the counts. Returns 0, or a negative errno with a reason in err. */
int resolver_refresh(struct resolver *r, uint64_t now, const atomic_bool *stop,
                     struct resolver_stats *st, char *err, size_t errlen);

/* Earliest expiry in the table (UINT64_MAX when empty). */
uint64_t resolver_next_due(struct resolver *r);
/* Bumped when a name's address set changed or a name with addresses left the table. */
uint64_t resolver_generation(struct resolver *r);

/* Reading the table from another thread: between lock and unlock, i in 0 .. count-1. */
void resolver_lock(struct resolver *r);
void resolver_unlock(struct resolver *r);
size_t resolver_count(const struct resolver *r);
const char *resolver_name(const struct resolver *r, size_t i);
/* Addresses of name i (IPv4 first, each family sorted); *a valid until unlock. */
size_t resolver_addrs(const struct resolver *r, size_t i, const struct resolver_addr **a);

struct resolver_info {
    uint64_t expires;  /* when it is asked again */
    uint64_t last_ok;  /* last good answer; 0 = never */
    uint32_t ttl;      /* the clamped TTL of the last good answer */
    uint32_t failures; /* consecutive failed refreshes */
};
void resolver_info(const struct resolver *r, size_t i, struct resolver_info *out);

#endif
