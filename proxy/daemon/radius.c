/* radius.c - the RADIUS Accounting listener (see radius.h; docs/subscribers.md).
 *
 * The thread: poll the socket, recvmmsg() up to RADIUS_BATCH datagrams, radius_listener_process()
 * them, sendmmsg() the answers; every 60 s expired entries leave the node's map. Nothing is
 * allocated per datagram: the batch, its store entries and their texts live in the listener. The
 * retransmission cache is a fixed table of DUP_SLOTS entries keyed by a hash of (client
 * address, port, identifier, Request Authenticator), each kept DUP_KEEP_MS; a colliding newer
 * packet takes the slot (the older one is then only lost for de-duplication). */
#include "proxy/daemon/radius.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hash.h"
#include "rules/match/rsref.h"
#include "rules/store/store.h"
#include "rules/subs/radius.h"

#define DUP_SLOTS      65536u
#define DUP_KEEP_MS    30000u
#define SWEEP_EVERY_MS 60000u
#define ADDRS_PER_PKT  2 /* an IPv4 address and an IPv6 prefix */

enum dup_state { DUP_FREE = 0, DUP_PENDING, DUP_ANSWERED };

struct dup {
    uint8_t key[36]; /* address 16, port 2, identifier 1, authenticator 16, family 1 */
    uint8_t state;
    uint64_t time_ms;
    uint8_t resp[20];
};

/* One store entry of the batch and its texts. */
struct pend {
    char addr[SUB_ADDR_TEXT_MAX];
    char sub[SUB_ID_MAX + 1];
    char sess[SUB_ID_MAX + 1];
    struct sub_addr a;
};

struct radius_listener {
    struct radius_config cfg;
    struct log *log;
    struct radius_client *clients;
    size_t nclients;
    struct store *store; /* NULL while the store cannot be reached: opened again, once a second */
    uint64_t next_open_ms;
    bool store_failing; /* the last batch could not be written (logged once per outage) */
    struct submap *map;
    int fd;
    uint16_t port;
    pthread_t th;
    bool started;
    atomic_bool stop;
    struct dup *dups;
    uint64_t seed;
    uint64_t next_sweep;
    _Atomic uint64_t c[12]; /* struct radius_counters, in its order */
    /* the batch being processed */
    struct store_sub ents[RADIUS_BATCH * ADDRS_PER_PKT];
    struct pend pends[RADIUS_BATCH * ADDRS_PER_PKT];
    struct dup *slot[RADIUS_BATCH]; /* each datagram's cache slot (NULL: none) */
    const struct radius_client *from[RADIUS_BATCH];
    struct radius_acct acct[RADIUS_BATCH];
    uint8_t (*bufs)[RADIUS_MAX + 1]; /* the thread's receive buffers */
};

enum {
    C_RECEIVED,
    C_ACCEPTED,
    C_ANSWERED,
    C_DUPLICATES,
    C_UNKNOWN,
    C_BADAUTH,
    C_MALFORMED,
    C_MAPPED,
    C_REMOVED,
    C_NOSUB,
    C_STOREERR,
    C_MAPFULL
};

static void bump(struct radius_listener *l, int k, uint64_t n)
{
    atomic_fetch_add_explicit(&l->c[k], n, memory_order_relaxed);
}

/* ---- configuration ---- */

int radius_client_parse(const char *line, struct radius_client *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    const char *sp = strchr(line, ' ');
    while (sp && sp[1] == ' ')
        sp++;
    char a[64];
    size_t al = sp ? (size_t)(strchr(line, ' ') - line) : 0;
    if (!sp || al == 0 || al >= sizeof(a) || !sp[1] || strchr(sp + 1, ' ')) {
        snprintf(err, errlen, "radius.client '%s': expected ADDR[/PREFIX] SECRET_FILE", line);
        return -EINVAL;
    }
    memcpy(a, line, al);
    a[al] = '\0';
    char *slash = strchr(a, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        plen = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end || plen > 128) {
            snprintf(err, errlen, "radius.client '%s': bad prefix length", line);
            return -EINVAL;
        }
    }
    if (inet_pton(AF_INET, a, c->addr) == 1) {
        c->family = AF_INET;
        if (plen > 32) {
            snprintf(err, errlen, "radius.client '%s': IPv4 prefix over 32", line);
            return -EINVAL;
        }
        c->plen = (uint8_t)(plen < 0 ? 32 : plen);
    } else if (inet_pton(AF_INET6, a, c->addr) == 1) {
        c->family = AF_INET6;
        c->plen = (uint8_t)(plen < 0 ? 128 : plen);
    } else {
        snprintf(err, errlen, "radius.client '%s': '%s' is not an IPv4 or IPv6 address", line, a);
        return -EINVAL;
    }
    if (strlen(sp + 1) >= sizeof(c->secret_file)) {
        snprintf(err, errlen, "radius.client '%s': secret file path too long", line);
        return -EINVAL;
    }
    snprintf(c->secret_file, sizeof(c->secret_file), "%s", sp + 1);
    return 0;
}

int radius_listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *sl, char *err,
                        size_t errlen)
{
    char h[64];
    const char *colon = strrchr(text, ':');
    memset(ss, 0, sizeof(*ss));
    if (!colon || (size_t)(colon - text) >= sizeof(h) || colon == text)
        goto bad;
    memcpy(h, text, (size_t)(colon - text));
    h[colon - text] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || port > 65535)
        goto bad;
    if (h[0] == '[') {
        size_t hl = strlen(h);
        if (hl < 3 || h[hl - 1] != ']')
            goto bad;
        h[hl - 1] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, h + 1, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*s6);
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, h, &s4->sin_addr) != 1)
        goto bad;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *sl = sizeof(*s4);
    return 0;
bad:
    snprintf(err, errlen, "radius.listen '%s': expected IPv4:PORT or [IPv6]:PORT", text);
    return -EINVAL;
}

/* ---- clients ---- */

/* The client's address of a datagram (an IPv4-mapped IPv6 source is IPv4). */
static int src_of(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
    memset(addr, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        memcpy(addr, &s->sin_addr, 4);
        *port = ntohs(s->sin_port);
        return AF_INET;
    }
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    *port = ntohs(s->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
        memcpy(addr, s->sin6_addr.s6_addr + 12, 4);
        return AF_INET;
    }
    memcpy(addr, &s->sin6_addr, 16);
    return AF_INET6;
}

static bool prefix_has(const uint8_t *net, const uint8_t *a, unsigned plen)
{
    unsigned full = plen / 8, rest = plen % 8;
    if (memcmp(net, a, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t m = (uint8_t)(0xff << (8 - rest));
    return (net[full] & m) == (a[full] & m);
}

/* The most specific client holding the address, or NULL. */
static const struct radius_client *client_of(const struct radius_listener *l, int family,
                                             const uint8_t *a)
{
    const struct radius_client *best = NULL;
    for (size_t i = 0; i < l->nclients; i++) {
        const struct radius_client *c = &l->clients[i];
        if (c->family == family && prefix_has(c->addr, a, c->plen) &&
            (!best || c->plen > best->plen))
            best = c;
    }
    return best;
}

/* ---- retransmission cache ---- */

static struct dup *dup_slot(struct radius_listener *l, const uint8_t key[36])
{
    return &l->dups[hash_bytes(l->seed, key, 36) & (DUP_SLOTS - 1)];
}

/* ---- one batch ---- */

static bool str_ok(struct radius_str s)
{
    return s.p && sub_id_valid((const char *)s.p, s.len);
}

/* The subscriber id of a, by preference; false when none is usable. */
static bool pick_subscriber(const struct radius_listener *l, const struct radius_acct *a, char *out)
{
    struct radius_str by[3] = { a->calling, a->imsi, a->user_name };
    int first = l->cfg.subscriber_id;
    for (int k = -1; k < 3; k++) {
        struct radius_str s = by[k < 0 ? first : k];
        if (str_ok(s)) {
            memcpy(out, s.p, s.len);
            out[s.len] = '\0';
            return true;
        }
    }
    return false;
}

/* Adds the store entries of one accepted packet. */
static void plan(struct radius_listener *l, const struct radius_acct *a, size_t *ne)
{
    bool set = a->status == RADIUS_START || a->status == RADIUS_INTERIM;
    if (!set && a->status != RADIUS_STOP)
        return; /* Accounting-On/Off and others: answered, nothing mapped (the TTL clears) */
    char sub[SUB_ID_MAX + 1] = "";
    if (set && !pick_subscriber(l, a, sub)) {
        bump(l, C_NOSUB, 1);
        return;
    }
    uint64_t ttl = a->has_interim && a->interim_interval ? (uint64_t)a->interim_interval * 3000u
                                                         : l->cfg.session_ttl_ms;
    for (int v = 0; v < 2; v++) {
        struct sub_addr ad = { 0 };
        if (v == 0 && a->has_ipv4) {
            ad.family = 4;
            ad.plen = 32;
            memcpy(ad.addr, a->ipv4, 4);
        } else if (v == 1 && a->has_ipv6) {
            ad.family = 6;
            ad.plen = a->ipv6_plen;
            memcpy(ad.addr, a->ipv6, 16);
        } else {
            continue;
        }
        struct pend *p = &l->pends[*ne];
        p->a = ad;
        sub_addr_format(&ad, p->addr, sizeof(p->addr));
        snprintf(p->sub, sizeof(p->sub), "%s", sub);
        p->sess[0] = '\0';
        if (str_ok(a->session_id)) {
            memcpy(p->sess, a->session_id.p, a->session_id.len);
            p->sess[a->session_id.len] = '\0';
        }
        l->ents[*ne] = (struct store_sub){ .op = set ? STORE_SUB_SET : STORE_SUB_DEL,
                                           .addr = p->addr,
                                           .subscriber = set ? p->sub : NULL,
                                           .session = p->sess,
                                           .ttl_ms = set ? ttl : 0 };
        (*ne)++;
    }
}

/* The store handle, opened now if it is not (at most once a second). */
static int open_store(struct radius_listener *l, uint64_t now_ms, char *err, size_t errlen)
{
    if (l->store)
        return 0;
    if (now_ms < l->next_open_ms) {
        snprintf(err, errlen, "radius: store %s unreachable; next attempt in %llu ms",
                 l->cfg.store_url, (unsigned long long)(l->next_open_ms - now_ms));
        return -EAGAIN;
    }
    l->next_open_ms = now_ms + 1000;
    struct store_opts so = { .password_file = l->cfg.password_file && l->cfg.password_file[0]
                                                  ? l->cfg.password_file
                                                  : NULL };
    l->store = store_open(l->cfg.store_url, &so, err, errlen);
    return l->store ? 0 : -EIO;
}

size_t radius_listener_process(struct radius_listener *l, struct radius_dgram *d, size_t n,
                               uint64_t now_ms)
{
    size_t ne = 0, nacc = 0;
    bump(l, C_RECEIVED, n);
    for (size_t i = 0; i < n; i++) {
        d[i].answer = false;
        l->slot[i] = NULL;
        l->from[i] = NULL;
        uint8_t src[16];
        uint16_t port;
        int fam = src_of(&d[i].from, src, &port);
        const struct radius_client *c = client_of(l, fam, src);
        if (!c) {
            bump(l, C_UNKNOWN, 1);
            continue;
        }
        char err[160];
        struct radius_acct *a = &l->acct[i];
        int rc = radius_acct_parse(d[i].buf, d[i].len, c->secret, c->slen, a, err, sizeof(err));
        if (rc == -EACCES) {
            bump(l, C_BADAUTH, 1);
            continue;
        }
        if (rc) {
            bump(l, C_MALFORMED, 1);
            continue;
        }
        uint8_t key[36];
        memcpy(key, src, 16);
        key[16] = (uint8_t)(port >> 8);
        key[17] = (uint8_t)port;
        key[18] = a->identifier;
        memcpy(key + 19, a->authenticator, 16);
        key[35] = (uint8_t)fam;
        struct dup *s = dup_slot(l, key);
        if (s->state != DUP_FREE && now_ms - s->time_ms < DUP_KEEP_MS &&
            memcmp(s->key, key, 36) == 0) {
            bump(l, C_DUPLICATES, 1);
            if (s->state == DUP_ANSWERED) {
                memcpy(d[i].resp, s->resp, 20);
                d[i].answer = true;
            }
            continue; /* pending: answered with the first copy */
        }
        memcpy(s->key, key, 36);
        s->state = DUP_PENDING;
        s->time_ms = now_ms;
        l->slot[i] = s;
        l->from[i] = c;
        nacc++;
        plan(l, a, &ne);
    }
    bump(l, C_ACCEPTED, nacc);
    bool stored = true;
    if (ne) {
        char err[1024];
        int rc = open_store(l, now_ms, err, sizeof(err));
        if (rc == 0)
            rc = store_sub_apply(l->store, l->ents, ne, err, sizeof(err));
        if (rc < 0) {
            stored = false;
            bump(l, C_STOREERR, 1);
            /* once per outage; radius.store_errors counts every batch */
            if (l->log && !l->store_failing)
                log_write(l->log, LOG_LEVEL_WARN, "radius",
                          "store write failed; packets stay unanswered until it works",
                          LOG_KV(LOG_S("error", err), LOG_U("packets", nacc)));
            l->store_failing = true;
        } else if (l->store_failing) {
            l->store_failing = false;
            if (l->log)
                log_write(l->log, LOG_LEVEL_INFO, "radius", "store writes work again",
                          LOG_KV(LOG_S("store", store_where(l->store))));
        }
    }
    if (stored) {
        for (size_t k = 0; k < ne; k++) {
            const struct store_sub *e = &l->ents[k];
            if (e->op == STORE_SUB_SET) {
                int rc = submap_set(l->map, &l->pends[k].a, e->subscriber, e->session,
                                    e->ttl_ms ? now_ms + e->ttl_ms : 0);
                bump(l, rc == 0 ? C_MAPPED : C_MAPFULL, 1);
            } else if (submap_del(l->map, &l->pends[k].a, e->session) == 0) {
                bump(l, C_REMOVED, 1);
            }
        }
    }
    size_t nans = 0;
    for (size_t i = 0; i < n; i++) {
        struct dup *s = l->slot[i];
        if (!s)
            continue;
        if (!stored) {
            s->state = DUP_FREE; /* the retransmission applies it again */
            continue;
        }
        const struct radius_client *c = l->from[i];
        radius_acct_response(l->acct[i].identifier, l->acct[i].authenticator, c->secret, c->slen,
                             s->resp, sizeof(s->resp));
        s->state = DUP_ANSWERED;
        memcpy(d[i].resp, s->resp, 20);
        d[i].answer = true;
    }
    for (size_t i = 0; i < n; i++)
        nans += d[i].answer;
    return nans;
}

/* ---- the thread ---- */

static void *listener_main(void *arg)
{
    struct radius_listener *l = arg;
    rsref_thread_register();
    uint8_t(*bufs)[RADIUS_MAX + 1] = l->bufs;
    struct radius_dgram d[RADIUS_BATCH];
    struct mmsghdr rm[RADIUS_BATCH], sm[RADIUS_BATCH];
    struct iovec riov[RADIUS_BATCH], siov[RADIUS_BATCH];
    while (!atomic_load(&l->stop)) {
        struct pollfd p = { .fd = l->fd, .events = POLLIN };
        int pr = poll(&p, 1, 200);
        uint64_t now = store_now_ms();
        if (now >= l->next_sweep) {
            submap_expire(l->map, now);
            l->next_sweep = now + SWEEP_EVERY_MS;
        }
        if (pr <= 0)
            continue;
        for (size_t i = 0; i < RADIUS_BATCH; i++) {
            riov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
            rm[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &d[i].from,
                                                   .msg_namelen = sizeof(d[i].from),
                                                   .msg_iov = &riov[i],
                                                   .msg_iovlen = 1 } };
        }
        int got = recvmmsg(l->fd, rm, RADIUS_BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0)
            continue;
        for (int i = 0; i < got; i++) {
            d[i].fromlen = rm[i].msg_hdr.msg_namelen;
            d[i].buf = bufs[i];
            /* a datagram over RADIUS_MAX is cut (MSG_TRUNC): handed on at RADIUS_MAX + 1
             * bytes, whose header cannot claim them all */
            d[i].len = rm[i].msg_len;
        }
        radius_listener_process(l, d, (size_t)got, now);
        unsigned ns = 0;
        for (int i = 0; i < got; i++) {
            if (!d[i].answer)
                continue;
            siov[ns] = (struct iovec){ d[i].resp, 20 };
            sm[ns] = (struct mmsghdr){ .msg_hdr = { .msg_name = &d[i].from,
                                                    .msg_namelen = d[i].fromlen,
                                                    .msg_iov = &siov[ns],
                                                    .msg_iovlen = 1 } };
            ns++;
        }
        for (unsigned off = 0; off < ns;) {
            int s = sendmmsg(l->fd, sm + off, ns - off, 0);
            if (s <= 0)
                break;
            off += (unsigned)s;
            bump(l, C_ANSWERED, (uint64_t)s);
        }
    }
    rsref_thread_unregister();
    return NULL;
}

struct radius_listener *radius_listener_new(const struct radius_config *cfg, struct log *lg,
                                            char *err, size_t errlen)
{
    struct radius_listener *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "radius: out of memory");
        return NULL;
    }
    l->cfg = *cfg;
    l->log = lg;
    l->fd = -1;
    size_t nc = cfg->clients ? cfg->clients->n : 0;
    if (nc == 0 || nc > RADIUS_CLIENTS_MAX) {
        snprintf(err, errlen, "radius: radius.listen needs 1..%d radius.client lines (%zu given)",
                 RADIUS_CLIENTS_MAX, nc);
        goto fail;
    }
    l->clients = calloc(nc, sizeof(*l->clients));
    l->dups = calloc(DUP_SLOTS, sizeof(*l->dups));
    l->bufs = calloc(RADIUS_BATCH, sizeof(*l->bufs));
    l->map = submap_new(cfg->map_capacity ? cfg->map_capacity : 1);
    if (!l->clients || !l->dups || !l->bufs || !l->map) {
        snprintf(err, errlen, "radius: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nc; i++) {
        struct radius_client *c = &l->clients[i];
        if (radius_client_parse(cfg->clients->items[i], c, err, errlen) != 0)
            goto fail;
        char sec[256];
        if (store_read_secret(c->secret_file, sec, sizeof(sec), err, errlen) != 0)
            goto fail;
        c->slen = strlen(sec);
        memcpy(c->secret, sec, c->slen);
        memset(sec, 0, sizeof(sec));
        if (c->slen == 0) {
            snprintf(err, errlen, "radius: client secret file %s is empty", c->secret_file);
            goto fail;
        }
    }
    l->nclients = nc;
    /* a store that cannot be reached now is opened again with the first packets */
    char serr[1024];
    if (open_store(l, store_now_ms(), serr, sizeof(serr)) != 0 && lg)
        log_write(lg, LOG_LEVEL_WARN, "radius", "store unreachable; packets stay unanswered",
                  LOG_KV(LOG_S("error", serr)));
    struct sockaddr_storage ss;
    socklen_t sl;
    if (radius_listen_parse(cfg->listen, &ss, &sl, err, errlen) != 0)
        goto fail;
    l->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 8 << 20;
    if (l->fd >= 0)
        setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "radius: cannot listen on %s: %s", cfg->listen, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    if (getsockname(l->fd, (struct sockaddr *)&bound, &bl) == 0)
        l->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    l->seed = hash_mix64((uint64_t)(uintptr_t)l ^ store_now_ms());
    return l;
fail:
    radius_listener_free(l);
    return NULL;
}

int radius_listener_start(struct radius_listener *l)
{
    int rc = pthread_create(&l->th, NULL, listener_main, l);
    if (rc)
        return -rc;
    l->started = true;
    return 0;
}

uint16_t radius_listener_port(const struct radius_listener *l)
{
    return l->port;
}

struct submap *radius_listener_map(struct radius_listener *l)
{
    return l->map;
}

void radius_listener_stats(const struct radius_listener *l, struct radius_counters *c)
{
    uint64_t v[12];
    for (int i = 0; i < 12; i++)
        v[i] = atomic_load_explicit(&l->c[i], memory_order_relaxed);
    *c = (struct radius_counters){ v[0], v[1], v[2], v[3], v[4],  v[5],
                                   v[6], v[7], v[8], v[9], v[10], v[11] };
}

void radius_listener_free(struct radius_listener *l)
{
    if (!l)
        return;
    if (l->started) {
        atomic_store(&l->stop, true);
        pthread_join(l->th, NULL);
    }
    if (l->fd >= 0)
        close(l->fd);
    store_free(l->store);
    submap_free(l->map);
    if (l->clients)
        memset(l->clients, 0, l->nclients * sizeof(*l->clients));
    free(l->clients);
    free(l->dups);
    free(l->bufs);
    free(l);
}
