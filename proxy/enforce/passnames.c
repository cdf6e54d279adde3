/* passnames.c - queue mode: the names of the connections it passed (see passnames.h). */
#include "proxy/enforce/passnames.h"

#include <errno.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "proxy/flow/owners.h"

#define SLICE 512 /* entries copied out of the table per lock while judging */
#define OUT   256 /* blocked connections taken per walk step */

struct pn_ent {
    struct ctnl_tuple t;
    uint32_t next; /* hash chain, or the free list: index + 1, 0 = end */
    uint32_t gen;  /* passnames_gc_begin() generation of the last note or sighting */
    uint8_t app, ech, nlen, used;
    char name[PASSNAMES_NAME_MAX + 1];
};

struct passnames {
    pthread_mutex_t lock;
    struct pn_ent *e; /* capacity entries, mapped without reserve */
    uint32_t *idx;    /* hash heads (entry index + 1), mask + 1 of them */
    uint32_t cap, mask, hw, free_head, gen;
    uint32_t mark_pass, mark_block, mark_cut;
    uint32_t seq;
    struct owners *own; /* entries per client (its source address), with a share; NULL: none */
    uint32_t share;
    _Atomic uint64_t noted, added, full, client_full, long_names, cut, gone, errors, sweeps;
};

static uint32_t hash(const struct ctnl_tuple *t)
{
    /* FNV-1a over the tuple (built with memset: no stray bytes) */
    const uint8_t *b = (const uint8_t *)t;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof(*t); i++)
        h = (h ^ b[i]) * 16777619u;
    return h ^ (h >> 15);
}

struct passnames *passnames_new(uint32_t capacity, uint32_t mark_pass, uint32_t mark_block,
                                char *err, size_t errlen)
{
    if (capacity == 0 || capacity > (1u << 26)) {
        snprintf(err, errlen, "queue.passed_names: %u is not 1..%u", capacity, 1u << 26);
        return NULL;
    }
    struct passnames *p = calloc(1, sizeof(*p));
    uint32_t heads = 16;
    while (heads < capacity)
        heads <<= 1;
    if (p) {
        p->e = mmap(NULL, (size_t)capacity * sizeof(*p->e), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        p->idx = calloc(heads, sizeof(*p->idx));
    }
    if (!p || p->e == MAP_FAILED || !p->idx) {
        if (p && p->e != MAP_FAILED && p->e)
            munmap(p->e, (size_t)capacity * sizeof(*p->e));
        if (p)
            free(p->idx);
        free(p);
        snprintf(err, errlen, "queue.passed_names: out of memory for %u connections", capacity);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->cap = capacity;
    p->mask = heads - 1;
    p->mark_pass = mark_pass;
    p->mark_block = mark_block;
    return p;
}

void passnames_set_cut_mark(struct passnames *p, uint32_t mark_cut)
{
    p->mark_cut = mark_cut;
}

int passnames_set_client_share(struct passnames *p, uint32_t share, unsigned prefix6, char *err,
                               size_t errlen)
{
    if (share == 0 || share >= p->cap)
        return 0; /* no share: one client may fill the table */
    /* every entry's client at most once: capacity holders at once */
    p->own = owners_new(p->cap, prefix6);
    if (!p->own) {
        snprintf(err, errlen, "queue.passed_names_per_client: out of memory for %u clients",
                 p->cap);
        return -ENOMEM;
    }
    p->share = share;
    return 0;
}

void passnames_free(struct passnames *p)
{
    if (!p)
        return;
    munmap(p->e, (size_t)p->cap * sizeof(*p->e));
    free(p->idx);
    owners_free(p->own);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* The entry of t, and the link that points at it (for removal). Under the lock. */
static struct pn_ent *find(struct passnames *p, const struct ctnl_tuple *t, uint32_t **link)
{
    uint32_t *l = &p->idx[hash(t) & p->mask];
    while (*l) {
        struct pn_ent *x = &p->e[*l - 1];
        if (memcmp(&x->t, t, sizeof(*t)) == 0) {
            if (link)
                *link = l;
            return x;
        }
        l = &x->next;
    }
    if (link)
        *link = l;
    return NULL;
}

static void unlink_ent(struct passnames *p, uint32_t *link, struct pn_ent *x)
{
    uint32_t i = *link;
    *link = x->next;
    if (p->own)
        owners_give(p->own, x->t.ipver, x->t.src);
    x->used = 0;
    x->next = p->free_head;
    p->free_head = i;
    atomic_fetch_sub(&p->noted, 1);
}

void passnames_add(struct passnames *p, const struct ctnl_tuple *t, enum verdict_app app, bool ech,
                   const char *name, size_t len)
{
    if (!p)
        return;
    if (len == 0 || len > PASSNAMES_NAME_MAX) {
        atomic_fetch_add(&p->long_names, len != 0);
        passnames_del(p, t); /* an earlier note on this tuple no longer holds */
        return;
    }
    pthread_mutex_lock(&p->lock);
    uint32_t *link;
    struct pn_ent *x = find(p, t, &link);
    if (!x) {
        uint32_t i;
        if (p->own && !owners_take(p->own, t->ipver, t->src, p->share)) {
            /* its client holds its share: the rest of the table stays for the others */
            pthread_mutex_unlock(&p->lock);
            atomic_fetch_add(&p->client_full, 1);
            return;
        }
        if (p->free_head) {
            i = p->free_head;
            p->free_head = p->e[i - 1].next;
        } else if (p->hw < p->cap) {
            i = ++p->hw;
        } else {
            if (p->own)
                owners_give(p->own, t->ipver, t->src); /* taken above, not kept */
            pthread_mutex_unlock(&p->lock);
            atomic_fetch_add(&p->full, 1);
            return;
        }
        x = &p->e[i - 1];
        x->t = *t;
        x->next = 0;
        x->used = 1;
        *link = i;
        atomic_fetch_add(&p->noted, 1);
    }
    x->gen = p->gen;
    x->app = (uint8_t)app;
    x->ech = ech;
    x->nlen = (uint8_t)len;
    memcpy(x->name, name, len);
    x->name[len] = '\0';
    pthread_mutex_unlock(&p->lock);
    atomic_fetch_add(&p->added, 1);
}

void passnames_del(struct passnames *p, const struct ctnl_tuple *t)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    uint32_t *link;
    struct pn_ent *x = find(p, t, &link);
    if (x)
        unlink_ent(p, link, x);
    pthread_mutex_unlock(&p->lock);
}

size_t passnames_rejudge(struct passnames *p, passnames_judge_fn judge, void *ctx,
                         struct passnames_conn *out, size_t max)
{
    static _Thread_local struct pn_ent copy[SLICE];
    size_t n = 0;
    atomic_fetch_add(&p->sweeps, 1);
    for (uint32_t from = 0;; from += SLICE) {
        pthread_mutex_lock(&p->lock);
        uint32_t hw = p->hw, k = 0;
        for (uint32_t i = from; i < hw && i < from + SLICE; i++)
            if (p->e[i].used)
                copy[k++] = p->e[i];
        pthread_mutex_unlock(&p->lock);
        for (uint32_t j = 0; j < k && n < max; j++) {
            const struct pn_ent *c = &copy[j];
            if (!judge(ctx, &c->t, (enum verdict_app)c->app, c->ech, c->name, c->nlen))
                continue;
            pthread_mutex_lock(&p->lock);
            uint32_t *link;
            struct pn_ent *x = find(p, &c->t, &link);
            /* still the same note (not noted again meanwhile for another name) */
            bool same = x && x->nlen == c->nlen && memcmp(x->name, c->name, c->nlen) == 0;
            if (same)
                unlink_ent(p, link, x);
            pthread_mutex_unlock(&p->lock);
            if (same) {
                struct passnames_conn *o = &out[n++];
                o->t = c->t;
                o->app = (enum verdict_app)c->app;
                o->ech = c->ech;
                o->len = c->nlen;
                memcpy(o->name, c->name, (size_t)c->nlen + 1);
            }
        }
        if (from + SLICE >= hw || n >= max)
            return n;
    }
}

void passnames_gc_begin(struct passnames *p)
{
    pthread_mutex_lock(&p->lock);
    p->gen++;
    pthread_mutex_unlock(&p->lock);
}

void passnames_gc_seen(struct passnames *p, const struct ctnl_tuple *t)
{
    pthread_mutex_lock(&p->lock);
    struct pn_ent *x = find(p, t, NULL);
    if (x)
        x->gen = p->gen;
    pthread_mutex_unlock(&p->lock);
}

size_t passnames_gc_end(struct passnames *p)
{
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (uint32_t i = 0; i < p->hw; i++) {
        struct pn_ent *x = &p->e[i];
        if (!x->used || x->gen == p->gen)
            continue;
        uint32_t *link;
        if (find(p, &x->t, &link) == x) {
            unlink_ent(p, link, x);
            n++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    atomic_fetch_add(&p->gone, n);
    return n;
}

void passnames_get_stats(const struct passnames *p, struct passnames_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!p)
        return;
    struct passnames *m = (struct passnames *)p; /* (atomic loads of a const object) */
    st->noted = atomic_load(&m->noted);
    st->added = atomic_load(&m->added);
    st->full = atomic_load(&m->full);
    st->client_full = atomic_load(&m->client_full);
    st->long_names = atomic_load(&m->long_names);
    st->cut = atomic_load(&m->cut);
    st->gone = atomic_load(&m->gone);
    st->errors = atomic_load(&m->errors);
    st->sweeps = atomic_load(&m->sweeps);
}

/* ---- conntrack ---- */

/* Sends one request and reads the answers of its sequence number into cb until its
 * acknowledgement, error or end of dump. Returns 0, a negative errno the kernel answered, or
 * -EIO (the socket). */
typedef void (*conn_fn)(struct passnames *p, const struct ctnl_msg *m, void *arg);

static int ask(struct passnames *p, int fd, const uint8_t *req, size_t n, uint32_t seq, conn_fn cb,
               void *arg)
{
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    if (!n || sendto(fd, req, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n)
        return -EIO;
    static _Thread_local uint8_t buf[65536];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof(buf), 0);
        if (got < 0)
            return errno == ENOBUFS ? -ENOBUFS : -EIO;
        size_t off = 0;
        struct ctnl_msg m;
        int rc;
        while ((rc = ctnl_next(buf, (size_t)got, &off, &m)) == 1) {
            if (m.seq != seq)
                continue; /* an answer to an earlier request that timed out */
            if (m.kind == CTNL_ERROR)
                return m.err;
            if (m.kind == CTNL_DONE)
                return 0;
            if (m.kind == CTNL_CONN && cb)
                cb(p, &m, arg);
        }
        if (rc < 0)
            return -EIO;
    }
}

static void got_mark(struct passnames *p, const struct ctnl_msg *m, void *arg)
{
    (void)p;
    uint32_t *mark = arg;
    if (m->has_mark)
        *mark = m->mark;
}

/* Marks t's connection blocked - if it still carries the pass mark alone (the tuple may be
 * another connection's by now: a kept-alive HTTP one, one blocked already). true if done. */
static bool cut_one(struct passnames *p, int fd, const struct ctnl_tuple *t)
{
    uint8_t req[256];
    uint32_t mask = p->mark_pass | p->mark_block, mark = 0, seq = ++p->seq;
    int rc = ask(p, fd, req, ctnl_get_request(req, sizeof(req), t, seq), seq, got_mark, &mark);
    if (rc == 0 && (mark & mask) == p->mark_pass) {
        seq = ++p->seq;
        rc = ask(p, fd, req,
                 ctnl_mark_request(req, sizeof(req), t, p->mark_block | p->mark_cut,
                                   mask | p->mark_cut, seq),
                 seq, NULL, NULL);
        if (rc == 0) {
            atomic_fetch_add(&p->cut, 1);
            return true;
        }
    }
    if (rc == -ENOENT)
        atomic_fetch_add(&p->gone, 1);
    else if (rc != 0)
        atomic_fetch_add(&p->errors, 1);
    return false;
}

static void seen(struct passnames *p, const struct ctnl_msg *m, void *arg)
{
    (void)arg;
    if (m->has_tuple)
        passnames_gc_seen(p, &m->t);
}

void passnames_step(struct passnames *p, const struct passnames_source *src, int fd, bool walk,
                    bool gc)
{
    if (walk) {
        static _Thread_local struct passnames_conn out[OUT];
        size_t n;
        do {
            n = passnames_rejudge(p, src->judge, src->ctx, out, OUT);
            for (size_t i = 0; i < n; i++)
                if (cut_one(p, fd, &out[i].t) && src->on_cut)
                    src->on_cut(src->ctx, &out[i]);
        } while (n == OUT);
    }
    if (gc) {
        uint8_t req[128];
        uint32_t seq = ++p->seq;
        passnames_gc_begin(p);
        int rc = ask(
            p, fd, req,
            ctnl_dump_request(req, sizeof(req), p->mark_pass, p->mark_pass | p->mark_block, seq),
            seq, seen, NULL);
        if (rc == 0)
            (void)passnames_gc_end(p);
        else
            atomic_fetch_add(&p->errors, 1); /* a dump cut short proves nothing: none forgotten */
    }
}

int passnames_run(struct passnames *p, const struct passnames_source *src, const volatile int *stop,
                  char *err, size_t errlen)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
    int rcv = 4 << 20;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
        snprintf(err, errlen, "queue.passed_names: conntrack netlink socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    uint64_t seen_v = src->version(src->ctx), now = clock_mono_ms();
    uint64_t recheck_at = now + src->recheck_ms, gc_at = now + src->gc_ms, full_seen = 0;
    while (!*stop) {
        now = clock_mono_ms();
        uint64_t v = src->version(src->ctx), full = atomic_load(&p->full);
        bool walk = v != seen_v || (src->recheck_ms && now >= recheck_at);
        /* a full table refused notes: the ended connections go now (at most once a second),
         * not at the minute - filling it with short connections must not hide a long one */
        if (full != full_seen && gc_at > now + 1000)
            gc_at = now + 1000;
        full_seen = full;
        bool gc = src->gc_ms && now >= gc_at;
        if (walk) {
            seen_v = v;
            recheck_at = now + src->recheck_ms;
        }
        if (gc)
            gc_at = now + src->gc_ms;
        if (walk || gc)
            passnames_step(p, src, fd, walk, gc);
        struct timespec w = { 0, 100 * 1000 * 1000 };
        nanosleep(&w, NULL);
    }
    close(fd);
    return 0;
}
