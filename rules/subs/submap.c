/* submap.c - the node's address -> subscriber map (see submap.h).
 *
 * Slots hold RCU-protected pointers to immutable entries; an empty slot is NULL and a removed
 * one the tombstone TOMB, so that probe sequences stay unbroken. Lookups probe linearly from
 * the key's hash until NULL. The writer reuses the first tombstone it passed when the key is
 * absent. IPv6 lookups try each prefix length present in the map (counted per length), longest
 * first. Tombstones are cleared when the table is rebuilt in place (submap_expire, when they
 * exceed a quarter of the slots). */
#include "rules/subs/submap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "common/hash.h"

/* No rcu_head of its own (16 bytes a mapping, docs/BENCHMARKS.md): a retired entry is handed to
 * call_rcu in a small envelope allocated when it is retired (the writer's path). */
struct entry {
    struct sub_addr key;
    uint8_t sub_len, sess_len;
    uint64_t expires_ms;
    char text[]; /* subscriber NUL session NUL */
};

struct retired {
    struct rcu_head rcu;
    struct entry *e;
};

static struct entry tomb_entry;
#define TOMB (&tomb_entry)

struct submap {
    struct entry **slots;
    size_t mask, capacity, count, tombs;
    uint64_t seed;
    uint32_t v6_lens[129]; /* entries per IPv6 prefix length; read without the lock */
    pthread_mutex_t lock;
};

static bool key_eq(const struct sub_addr *a, const struct sub_addr *b)
{
    return a->family == b->family && a->plen == b->plen && memcmp(a->addr, b->addr, 16) == 0;
}

static uint64_t key_hash(const struct submap *m, const struct sub_addr *a)
{
    uint8_t b[18];
    b[0] = a->family;
    b[1] = a->plen;
    memcpy(b + 2, a->addr, 16);
    return hash_bytes(m->seed, b, sizeof(b));
}

static void mask_bits(uint8_t *addr, unsigned plen, unsigned bits)
{
    for (unsigned b = plen; b < bits; b++)
        addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

int sub_addr_parse(const char *s, size_t len, struct sub_addr *a, char *err, size_t errlen)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "subscriber address '%.*s': empty or too long",
                 (int)(len < 64 ? len : 64), s);
        return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(a, 0, sizeof(*a));
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        plen = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || plen > 128) {
            snprintf(err, errlen, "subscriber address '%s/%s': bad prefix length", buf, slash + 1);
            return -EINVAL;
        }
    }
    if (inet_pton(AF_INET, buf, a->addr) == 1) {
        if (plen != -1 && plen != 32) {
            snprintf(err, errlen,
                     "subscriber address '%s': an IPv4 subscriber is one address (/32)", buf);
            return -EINVAL;
        }
        a->family = 4;
        a->plen = 32;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, a->addr) != 1) {
        snprintf(err, errlen, "subscriber address '%s': not an IPv4 or IPv6 address", buf);
        return -EINVAL;
    }
    a->family = 6;
    a->plen = (uint8_t)(plen == -1 ? 128 : plen);
    uint8_t m[16];
    memcpy(m, a->addr, 16);
    mask_bits(m, a->plen, 128);
    if (memcmp(m, a->addr, 16) != 0) {
        snprintf(err, errlen, "subscriber address '%s/%u': bits set past the prefix length", buf,
                 a->plen);
        return -EINVAL;
    }
    return 0;
}

size_t sub_addr_format(const struct sub_addr *a, char *out, size_t cap)
{
    char t[INET6_ADDRSTRLEN];
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, t, sizeof(t)))
        t[0] = '\0';
    int n = a->family == 4 ? snprintf(out, cap, "%s", t) : snprintf(out, cap, "%s/%u", t, a->plen);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

bool sub_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > SUB_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

struct submap *submap_new(size_t capacity)
{
    if (capacity == 0 || capacity > ((size_t)1 << 28))
        return NULL;
    struct submap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    size_t n = 16;
    while (n < capacity + capacity / 2) /* at most two thirds full */
        n <<= 1;
    m->slots = calloc(n, sizeof(*m->slots));
    if (!m->slots || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->slots);
        free(m);
        return NULL;
    }
    m->mask = n - 1;
    m->capacity = capacity;
    m->seed = hash_mix64((uint64_t)(uintptr_t)m ^ 0x5a17c0de5eedull);
    return m;
}

void submap_free(struct submap *m)
{
    if (!m)
        return;
    urcu_memb_barrier(); /* entries handed to call_rcu are freed first */
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i] && m->slots[i] != TOMB)
            free(m->slots[i]);
    free(m->slots);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void free_entry(struct rcu_head *h)
{
    struct retired *r = caa_container_of(h, struct retired, rcu);
    free(r->e);
    free(r);
}

/* Frees e once no reader can hold it. Without memory for the envelope, waits for the grace
 * period here (readers never take the writers' lock, so this cannot deadlock). */
static void retire(struct entry *e)
{
    struct retired *r = malloc(sizeof(*r));
    if (!r) {
        urcu_memb_synchronize_rcu();
        free(e);
        return;
    }
    r->e = e;
    urcu_memb_call_rcu(&r->rcu, free_entry);
}

/* The slot of key a, or (not found) SIZE_MAX with *ins the slot to insert at. Writer only. */
static size_t find_w(struct submap *m, const struct sub_addr *a, size_t *ins)
{
    size_t i = key_hash(m, a) & m->mask, tomb = SIZE_MAX;
    for (size_t n = 0; n <= m->mask; n++, i = (i + 1) & m->mask) {
        struct entry *e = m->slots[i];
        if (!e) {
            *ins = tomb != SIZE_MAX ? tomb : i;
            return SIZE_MAX;
        }
        if (e == TOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
            continue;
        }
        if (key_eq(&e->key, a))
            return i;
    }
    *ins = tomb;
    return SIZE_MAX;
}

static void count_len(struct submap *m, const struct sub_addr *a, int d)
{
    if (a->family == 6)
        __atomic_store_n(&m->v6_lens[a->plen], (uint32_t)((int)m->v6_lens[a->plen] + d),
                         __ATOMIC_RELEASE);
}

int submap_set(struct submap *m, const struct sub_addr *a, const char *subscriber,
               const char *session, uint64_t expires_ms)
{
    size_t sl = strlen(subscriber), el = session ? strlen(session) : 0;
    if (!sub_id_valid(subscriber, sl) || (el && !sub_id_valid(session, el)))
        return -EINVAL;
    struct entry *e = malloc(sizeof(*e) + sl + el + 2);
    if (!e)
        return -ENOMEM;
    e->key = *a;
    e->sub_len = (uint8_t)sl;
    e->sess_len = (uint8_t)el;
    e->expires_ms = expires_ms;
    memcpy(e->text, subscriber, sl + 1);
    if (el)
        memcpy(e->text + sl + 1, session, el);
    e->text[sl + 1 + el] = '\0';
    pthread_mutex_lock(&m->lock);
    size_t ins = SIZE_MAX, at = find_w(m, a, &ins);
    int rc = 0;
    if (at != SIZE_MAX) {
        struct entry *old = m->slots[at];
        rcu_assign_pointer(m->slots[at], e);
        retire(old);
    } else if (m->count >= m->capacity || ins == SIZE_MAX) {
        rc = -ENOSPC;
        free(e);
    } else {
        if (m->slots[ins] == TOMB)
            m->tombs--;
        rcu_assign_pointer(m->slots[ins], e);
        m->count++;
        count_len(m, a, +1);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void remove_at(struct submap *m, size_t at)
{
    struct entry *old = m->slots[at];
    rcu_assign_pointer(m->slots[at], TOMB);
    m->tombs++;
    m->count--;
    count_len(m, &old->key, -1);
    retire(old);
}

int submap_del(struct submap *m, const struct sub_addr *a, const char *session)
{
    pthread_mutex_lock(&m->lock);
    size_t ins, at = find_w(m, a, &ins);
    int rc = -ENOENT;
    if (at != SIZE_MAX) {
        const struct entry *e = m->slots[at];
        if (!session || !session[0] || strcmp(e->text + e->sub_len + 1, session) == 0) {
            remove_at(m, at);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Reader: the live entry of key a, or NULL. Inside a read section. */
static const struct entry *find_r(const struct submap *m, const struct sub_addr *a, uint64_t now)
{
    size_t i = key_hash(m, a) & m->mask;
    for (size_t n = 0; n <= m->mask; n++, i = (i + 1) & m->mask) {
        const struct entry *e = rcu_dereference(m->slots[i]);
        if (!e)
            return NULL;
        if (e != TOMB && key_eq(&e->key, a))
            return e->expires_ms && e->expires_ms <= now ? NULL : e;
    }
    return NULL;
}

static void copy_out(char *dst, size_t cap, const char *src, size_t n)
{
    if (!dst || cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

bool submap_lookup(const struct submap *m, int family, const uint8_t *addr, uint64_t now_ms,
                   char *sub, size_t cap, char *sess, size_t sesscap)
{
    struct sub_addr k = { 0 };
    const struct entry *e = NULL;
    urcu_memb_read_lock();
    if (family == 4) {
        k.family = 4;
        k.plen = 32;
        memcpy(k.addr, addr, 4);
        e = find_r(m, &k, now_ms);
    } else if (family == 6) {
        k.family = 6;
        for (int pl = 128; pl >= 0 && !e; pl--) {
            if (!__atomic_load_n(&m->v6_lens[pl], __ATOMIC_ACQUIRE))
                continue;
            memcpy(k.addr, addr, 16);
            mask_bits(k.addr, (unsigned)pl, 128);
            k.plen = (uint8_t)pl;
            e = find_r(m, &k, now_ms);
        }
    }
    if (e) {
        copy_out(sub, cap, e->text, e->sub_len);
        copy_out(sess, sesscap, e->text + e->sub_len + 1, e->sess_len);
    }
    urcu_memb_read_unlock();
    return e != NULL;
}

size_t submap_expire(struct submap *m, uint64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i <= m->mask; i++) {
        struct entry *e = m->slots[i];
        if (e && e != TOMB && e->expires_ms && e->expires_ms <= now_ms) {
            remove_at(m, i);
            n++;
        }
    }
    /* A run of tombstones just before an empty slot ends no probe sequence: clear it, so
     * that lookups of absent keys stay short after mass expiry. */
    for (size_t i = m->mask + 1; i-- > 0;) {
        if (m->slots[i] == TOMB && !m->slots[(i + 1) & m->mask]) {
            rcu_assign_pointer(m->slots[i], NULL);
            m->tombs--;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

size_t submap_count(const struct submap *m)
{
    return __atomic_load_n(&m->count, __ATOMIC_RELAXED);
}
