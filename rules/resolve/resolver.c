/* resolver.c - the name -> addresses table kept fresh with c-ares (see resolver.h).
 *
 * One c-ares channel; a refresh walks the due names and keeps at most max_inflight / 2 of them
 * in flight (an A and an AAAA query each), each in a slot of a fixed pool that collects its two
 * answers; the event loop is ares_getsock() + poll() + ares_process_fd(). A name's answers are
 * merged into the table (under the lock) when both of its queries have finished. */
#include "rules/resolve/resolver.h"

#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_ADDRS 64 /* addresses kept per family and answer */

struct rname {
    char *name;
    struct resolver_addr *a; /* IPv4 then IPv6, each sorted */
    uint32_t na, n4;
    uint64_t expires, last_ok;
    uint32_t ttl, failures;
};

struct slot;
struct qctx {
    struct slot *s;
    int fam; /* 4 or 6 */
};

struct slot {
    struct resolver *r;
    uint32_t idx;
    int pend;
    bool ok[2];
    uint32_t ttl; /* smallest TTL seen */
    struct resolver_addr got[2][SLOT_ADDRS];
    uint32_t ngot[2];
    char why[64];
    struct qctx q[2];
    struct slot *next_free;
};

struct resolver {
    ares_channel ch;
    struct resolver_config c;
    pthread_mutex_t mu;
    struct rname *v;
    size_t n;
    uint32_t *hidx; /* index + 1; 0 = empty */
    size_t hmask;
    uint64_t gen;
    /* a refresh under way */
    struct slot *slots, *free;
    size_t nslots, busy;
    uint64_t now;
    struct resolver_stats st;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 31);
}

/* Slot of name in the index hidx/mask over v, or of the empty slot where it would go. */
static size_t find(const struct rname *v, const uint32_t *hidx, size_t mask, const char *name)
{
    size_t s = (size_t)name_hash(name) & mask;
    while (hidx[s] && strcmp(v[hidx[s] - 1].name, name) != 0)
        s = (s + 1) & mask;
    return s;
}

struct resolver *resolver_new(const struct resolver_config *c, char *err, size_t errlen)
{
    struct resolver *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "resolver: out of memory");
        return NULL;
    }
    r->c = *c;
    if (!r->c.max_inflight)
        r->c.max_inflight = 256;
    if (!r->c.timeout_ms)
        r->c.timeout_ms = 2000;
    if (!r->c.tries)
        r->c.tries = 2;
    if (!r->c.retry)
        r->c.retry = r->c.ttl_min ? r->c.ttl_min : 60;
    if (r->c.ttl_max < r->c.ttl_min)
        r->c.ttl_max = r->c.ttl_min;
    r->c.servers = NULL; /* not kept: only used here */
    pthread_mutex_init(&r->mu, NULL);
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "resolver: c-ares: %s", ares_strerror(rc));
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    o.timeout = (int)r->c.timeout_ms;
    o.tries = r->c.tries;
    rc = ares_init_options(&r->ch, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc == ARES_SUCCESS && c->servers && *c->servers) {
        rc = ares_set_servers_ports_csv(r->ch, c->servers);
        if (rc != ARES_SUCCESS) {
            snprintf(err, errlen, "resolver: servers \"%s\": %s", c->servers, ares_strerror(rc));
            ares_destroy(r->ch);
            r->ch = NULL;
            resolver_free(r);
            return NULL;
        }
    }
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "resolver: c-ares: %s", ares_strerror(rc));
        r->ch = NULL;
        resolver_free(r);
        return NULL;
    }
    r->nslots = (r->c.max_inflight + 1) / 2;
    r->slots = calloc(r->nslots, sizeof(*r->slots));
    r->hmask = 15;
    r->hidx = calloc(r->hmask + 1, sizeof(*r->hidx));
    if (!r->slots || !r->hidx) {
        snprintf(err, errlen, "resolver: out of memory");
        resolver_free(r);
        return NULL;
    }
    return r;
}

void resolver_free(struct resolver *r)
{
    if (!r)
        return;
    if (r->ch)
        ares_destroy(r->ch);
    ares_library_cleanup();
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].a);
    }
    free(r->v);
    free(r->hidx);
    free(r->slots);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int resolver_set_names(struct resolver *r, const char *const *names, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    struct rname *v = calloc(n ? n : 1, sizeof(*v));
    uint32_t *hidx = calloc(cap, sizeof(*hidx));
    bool *kept = calloc(r->n ? r->n : 1, sizeof(*kept));
    if (!v || !hidx || !kept)
        goto nomem;
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = find(v, hidx, cap - 1, names[i]);
        if (hidx[s])
            continue; /* a duplicate */
        size_t o = find(r->v, r->hidx, r->hmask, names[i]);
        if (r->hidx[o]) {
            v[nv] = r->v[r->hidx[o] - 1];
            kept[r->hidx[o] - 1] = true;
        } else {
            memset(&v[nv], 0, sizeof(v[nv]));
            v[nv].name = strdup(names[i]);
            if (!v[nv].name)
                goto nomem_undo;
        }
        hidx[s] = (uint32_t)++nv;
    }
    pthread_mutex_lock(&r->mu);
    bool lost = nv != r->n;
    for (size_t i = 0; i < r->n; i++) {
        if (kept[i])
            continue;
        lost = lost || r->v[i].na > 0;
        free(r->v[i].name);
        free(r->v[i].a);
    }
    free(r->v);
    free(r->hidx);
    r->v = v;
    r->n = nv;
    r->hidx = hidx;
    r->hmask = cap - 1;
    if (lost)
        r->gen++;
    pthread_mutex_unlock(&r->mu);
    free(kept);
    return 0;

nomem_undo:
    for (size_t i = 0; i < nv; i++) {
        bool old = false;
        size_t o = find(r->v, r->hidx, r->hmask, v[i].name);
        old = r->hidx[o] && r->v[r->hidx[o] - 1].name == v[i].name;
        if (!old)
            free(v[i].name);
    }
nomem:
    free(v);
    free(hidx);
    free(kept);
    return -ENOMEM;
}

static int addr_cmp(const void *a, const void *b)
{
    const struct resolver_addr *x = a, *y = b;
    if (x->ipver != y->ipver)
        return x->ipver < y->ipver ? -1 : 1;
    return memcmp(x->addr, y->addr, 16);
}

/* Merges a finished slot into its name. Under the lock. */
static void finish(struct resolver *r, struct slot *s)
{
    struct rname *e = &r->v[s->idx];
    r->st.asked++;
    if (!s->ok[0] && !s->ok[1]) {
        r->st.failed++;
        e->failures++;
        e->expires = r->now + r->c.retry;
        return;
    }
    r->st.ok++;
    /* each family: the new answer when it came, else the last good one */
    uint32_t n4 = s->ok[0] ? s->ngot[0] : e->n4;
    uint32_t n6 = s->ok[1] ? s->ngot[1] : e->na - e->n4;
    struct resolver_addr *a = malloc((n4 + n6 ? n4 + n6 : 1) * sizeof(*a));
    if (!a) { /* keep the old answer; ask again soon */
        e->expires = r->now + r->c.retry;
        return;
    }
    if (n4) /* e->a may be NULL: no memcpy from it even of 0 bytes */
        memcpy(a, s->ok[0] ? s->got[0] : e->a, n4 * sizeof(*a));
    if (n6)
        memcpy(a + n4, s->ok[1] ? s->got[1] : e->a + e->n4, n6 * sizeof(*a));
    if (s->ok[0])
        qsort(a, n4, sizeof(*a), addr_cmp);
    if (s->ok[1])
        qsort(a + n4, n6, sizeof(*a), addr_cmp);
    uint32_t n = n4 + n6;
    if (n != e->na || (n && memcmp(a, e->a, n * sizeof(*a)) != 0)) {
        r->st.changed++;
        r->gen++;
    }
    free(e->a);
    e->a = a;
    e->na = n;
    e->n4 = n4;
    uint32_t ttl = s->ttl;
    if (ttl < r->c.ttl_min)
        ttl = r->c.ttl_min;
    if (ttl > r->c.ttl_max)
        ttl = r->c.ttl_max;
    e->ttl = ttl;
    e->expires = r->now + ttl;
    e->last_ok = r->now;
    e->failures = 0;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct qctx *q = arg;
    struct slot *s = q->s;
    int f = q->fam == 4 ? 0 : 1;
    int n = SLOT_ADDRS;
    if (status == ARES_SUCCESS && q->fam == 4) {
        struct ares_addrttl t[SLOT_ADDRS];
        status = ares_parse_a_reply(abuf, alen, NULL, t, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
            memset(&s->got[0][i], 0, sizeof(s->got[0][i]));
            s->got[0][i].ipver = 4;
            memcpy(s->got[0][i].addr, &t[i].ipaddr, 4);
            if (t[i].ttl >= 0 && (uint32_t)t[i].ttl < s->ttl)
                s->ttl = (uint32_t)t[i].ttl;
        }
    } else if (status == ARES_SUCCESS) {
        struct ares_addr6ttl t[SLOT_ADDRS];
        status = ares_parse_aaaa_reply(abuf, alen, NULL, t, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
            s->got[1][i].ipver = 6;
            memcpy(s->got[1][i].addr, &t[i].ip6addr, 16);
            if (t[i].ttl >= 0 && (uint32_t)t[i].ttl < s->ttl)
                s->ttl = (uint32_t)t[i].ttl;
        }
    }
    if (status == ARES_SUCCESS && n > 0) {
        s->ok[f] = true;
        s->ngot[f] = (uint32_t)n;
    } else if (!s->why[0]) {
        snprintf(s->why, sizeof(s->why), "%s: %s", q->fam == 4 ? "A" : "AAAA",
                 status == ARES_SUCCESS ? "no address" : ares_strerror(status));
    }
    if (--s->pend > 0)
        return;
    struct resolver *r = s->r;
    bool failed = !s->ok[0] && !s->ok[1];
    pthread_mutex_lock(&r->mu);
    finish(r, s);
    pthread_mutex_unlock(&r->mu);
    if (failed && r->c.on_failure)
        r->c.on_failure(r->c.ctx, r->v[s->idx].name, s->why);
    s->next_free = r->free;
    r->free = s;
    r->busy--;
}

static void start(struct resolver *r, uint32_t idx)
{
    struct slot *s = r->free;
    r->free = s->next_free;
    r->busy++;
    s->r = r;
    s->idx = idx;
    s->pend = 2;
    s->ok[0] = s->ok[1] = false;
    s->ngot[0] = s->ngot[1] = 0;
    s->ttl = UINT32_MAX;
    s->why[0] = '\0';
    s->q[0] = (struct qctx){ s, 4 };
    s->q[1] = (struct qctx){ s, 6 };
    const char *name = r->v[idx].name;
    ares_query(r->ch, name, 1 /* C_IN */, 1 /* T_A */, on_answer, &s->q[0]);
    ares_query(r->ch, name, 1 /* C_IN */, 28 /* T_AAAA */, on_answer, &s->q[1]);
}

static int wait_some(struct resolver *r, char *err, size_t errlen)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd p[ARES_GETSOCK_MAXNUM];
    int bm = ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
    nfds_t np = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short ev = 0; /* ARES_GETSOCK_READABLE/WRITABLE, without their signed 1 << 31 */
        if (((unsigned)bm >> i) & 1u)
            ev |= POLLIN;
        if (((unsigned)bm >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
            ev |= POLLOUT;
        if (!ev)
            continue;
        p[np].fd = socks[i];
        p[np].events = ev;
        p[np].revents = 0;
        np++;
    }
    struct timeval cap = { 0, 100000 }, tv;
    struct timeval *t = ares_timeout(r->ch, &cap, &tv);
    int ms = (int)(t->tv_sec * 1000 + t->tv_usec / 1000);
    int rc = poll(p, np, ms);
    if (rc < 0 && errno != EINTR) {
        int e = errno;
        snprintf(err, errlen, "resolver: poll: %s", strerror(e));
        return -e;
    }
    for (nfds_t i = 0; rc > 0 && i < np; i++)
        if (p[i].revents)
            ares_process_fd(r->ch,
                            p[i].revents & (POLLIN | POLLERR | POLLHUP) ? p[i].fd : ARES_SOCKET_BAD,
                            p[i].revents & POLLOUT ? p[i].fd : ARES_SOCKET_BAD);
    if (rc <= 0)
        ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    return 0;
}

int resolver_refresh(struct resolver *r, uint64_t now, const atomic_bool *stop,
                     struct resolver_stats *st, char *err, size_t errlen)
{
    memset(&r->st, 0, sizeof(r->st));
    r->now = now;
    r->free = NULL;
    for (size_t i = r->nslots; i-- > 0;) {
        r->slots[i].next_free = r->free;
        r->free = &r->slots[i];
    }
    r->busy = 0;
    int rc = 0;
    size_t next = 0;
    while (rc == 0) {
        if (stop && atomic_load(stop))
            break;
        while (r->free && next < r->n) {
            if (r->v[next].expires <= now)
                start(r, (uint32_t)next);
            next++;
        }
        if (r->busy == 0 && next >= r->n)
            break;
        rc = wait_some(r, err, errlen);
    }
    if (r->busy)
        ares_cancel(r->ch); /* the callbacks run now: those names are asked again after retry */
    if (st)
        *st = r->st;
    return rc;
}

uint64_t resolver_next_due(struct resolver *r)
{
    uint64_t m = UINT64_MAX;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].expires < m)
            m = r->v[i].expires;
    pthread_mutex_unlock(&r->mu);
    return m;
}

uint64_t resolver_generation(struct resolver *r)
{
    pthread_mutex_lock(&r->mu);
    uint64_t g = r->gen;
    pthread_mutex_unlock(&r->mu);
    return g;
}

void resolver_lock(struct resolver *r)
{
    pthread_mutex_lock(&r->mu);
}

void resolver_unlock(struct resolver *r)
{
    pthread_mutex_unlock(&r->mu);
}

size_t resolver_count(const struct resolver *r)
{
    return r->n;
}

const char *resolver_name(const struct resolver *r, size_t i)
{
    return r->v[i].name;
}

size_t resolver_addrs(const struct resolver *r, size_t i, const struct resolver_addr **a)
{
    *a = r->v[i].a;
    return r->v[i].na;
}

void resolver_info(const struct resolver *r, size_t i, struct resolver_info *out)
{
    out->expires = r->v[i].expires;
    out->last_ok = r->v[i].last_ok;
    out->ttl = r->v[i].ttl;
    out->failures = r->v[i].failures;
}
