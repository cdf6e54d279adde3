/* store_redis.c - the Redis store on hiredis 0.14 (RESP2, no TLS), directly or through Sentinel.
 *
 * Keys in store_redis.h and docs/store.md. One change is one Lua script (atomic on the server):
 * check, INCR-like version bump, order hashes, the id set, and one stream entry whose id is
 * "<version>-0", so that "the changes after version v" is XREAD from id "v-0".
 *
 * Connections: one per handle, with connect and I/O timeouts. A connection error drops it; the
 * next call reconnects (Sentinel: asks each sentinel for the master's address, then checks with
 * ROLE that it is a master), and a failed reconnection backs off from 100 ms to 5 s, during
 * which calls fail at once. A READONLY reply (we reached a demoted primary) drops the
 * connection and rediscovers. Reads are retried once on a fresh connection; a publish is
 * retried only after READONLY (it certainly did not run).
 *
 * Replies are bounded by what is asked: SSCAN COUNT, XREAD COUNT, HMGET in batches; a record
 * longer than max_record is refused (hiredis 0.14 has no reader limit of its own). */
#include "rules/store/store_redis.h"

#include <errno.h>
#include <limits.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define FOLLOW_BATCH "64" /* stream entries per XREAD */
#define SCAN_COUNT   "1000"
#define FETCH_BATCH  128 /* HMGETs per pipeline round trip */
#define BACKOFF_MIN  100u
#define BACKOFF_MAX  5000u
#define SNAP_TRIES   8

struct rstore {
    struct store base;
    struct store_url u; /* password field kept empty */
    char *password;
    redisContext *c;
    char host[STORE_HOST_MAX]; /* the server c is connected to */
    uint16_t port;
    uint32_t connect_ms, io_ms, backoff_ms;
    uint32_t op_io_ms; /* the next command's I/O timeout when not 0 (long scripts, XREAD BLOCK) */
    /* The last change this handle delivered: following from its version again first checks
     * that the store still holds that very change (a failover can lose it and reuse its
     * version for another one). */
    uint64_t seen_version;
    char seen_tag[17];
    uint64_t next_try_ms;
    char k_version[96], k_orders[96], k_changes[96], k_nodes[96];
    char k_sub_changes[96]; /* subscriber map: the change stream */
};

/* The publish script. KEYS: version, orders, changes, then one order hash per id, then one
 * evidence list per id (an entry "<kind> <version> <time>" appended: never trimmed).
 * ARGV: kind, urgent, time, maxlen, n, tag, then n ids, then n records ("" = keep the stored
 * one). tag: 16 random hex digits naming this change among all changes of the same version. */
static const char PUBLISH_LUA[] =
    "local kind, n = ARGV[1], tonumber(ARGV[5])\n"
    "if kind ~= 'import' then\n"
    "  for i = 1, n do\n"
    "    if redis.call('EXISTS', KEYS[3 + i]) == 0 then\n"
    "      return redis.error_reply('NOORDER ' .. ARGV[6 + i])\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0') + 1\n"
    "if redis.call('EXISTS', KEYS[3]) == 1 then\n"
    "  local info = redis.call('XINFO', 'STREAM', KEYS[3])\n"
    "  for i = 1, #info - 1, 2 do\n"
    "    if info[i] == 'last-generated-id' and\n"
    "       tonumber(string.match(info[i + 1], '^(%d+)')) >= v then\n"
    "      return redis.error_reply('VERSION stream is ahead of the version key')\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], v)\n"
    "local state = (kind == 'revoke') and 'revoked' or 'active'\n"
    "for i = 1, n do\n"
    "  local rec = ARGV[6 + n + i]\n"
    "  if rec ~= '' then redis.call('HSET', KEYS[3 + i], 'record', rec) end\n"
    "  redis.call('HSET', KEYS[3 + i], 'state', state, 'version', v, 'updated', ARGV[3])\n"
    "  redis.call('SADD', KEYS[2], ARGV[6 + i])\n"
    "  redis.call('RPUSH', KEYS[3 + n + i], kind .. ' ' .. v .. ' ' .. ARGV[3])\n"
    "end\n"
    "local ids = {}\n"
    "for i = 1, n do ids[i] = ARGV[6 + i] end\n"
    "redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], v .. '-0', 'version', v, 'kind', kind,\n"
    "           'urgent', ARGV[2], 'time', ARGV[3], 'tag', ARGV[6], 'ids', table.concat(ids, "
    "','))\n"
    "return v\n";

/* The fallback snapshot, atomic on the server: version, then id, state, version, updated,
 * record for each order. Used when the optimistic snapshot kept seeing changes (it blocks the
 * server while it runs, so it is the last resort, not the rule). ARGV[1]: the key prefix. */
static const char SNAPSHOT_LUA[] =
    "local out = { redis.call('GET', KEYS[1]) or '0' }\n"
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "  local h = redis.call('HMGET', ARGV[1] .. 'order:' .. id, 'state', 'version', 'updated',\n"
    "                       'record')\n"
    "  if h[1] then\n"
    "    out[#out + 1] = id\n"
    "    for j = 1, 4 do out[#out + 1] = h[j] end\n"
    "  end\n"
    "end\n"
    "return out\n";

static struct timeval tv_ms(uint32_t ms)
{
    struct timeval t = { .tv_sec = (time_t)(ms / 1000),
                         .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    return t;
}

static void drop(struct rstore *r)
{
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
}

static void set_where(struct rstore *r)
{
    if (r->u.kind == STORE_URL_SENTINEL)
        snprintf(r->base.where, sizeof(r->base.where), "sentinel %s (%s:%u)", r->u.master,
                 r->host[0] ? r->host : "?", r->port);
    else
        snprintf(r->base.where, sizeof(r->base.where), "redis %s:%u", r->u.hosts[0].host,
                 r->u.hosts[0].port);
}

/* Connects to host:port with the timeouts; NULL with a message on failure. */
static redisContext *dial(struct rstore *r, const char *host, uint16_t port, const char *what,
                          char *err, size_t errlen)
{
    redisContext *c = redisConnectWithTimeout(host, port, tv_ms(r->connect_ms));
    if (!c) {
        snprintf(err, errlen, "store: %s %s:%u: out of memory", what, host, port);
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "store: %s %s:%u: %s", what, host, port, c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv_ms(r->io_ms));
    return c;
}

/* Runs one command on c (not the handle's), for the connection set-up. The reply is freed;
 * an error reply or an I/O error is a message. want: the status/string the reply must be. */
static int setup_cmd(redisContext *c, const char *what, int argc, const char **argv, char *err,
                     size_t errlen, redisReply **keep)
{
    redisReply *rp = redisCommandArgv(c, argc, argv, NULL);
    if (!rp) {
        snprintf(err, errlen, "store: %s: %s", what, c->errstr);
        return -EIO;
    }
    if (rp->type == REDIS_REPLY_ERROR) {
        /* The error text of AUTH never holds the password. */
        snprintf(err, errlen, "store: %s: %s: %.*s", what, argv[0], (int)rp->len, rp->str);
        freeReplyObject(rp);
        return strncmp(argv[0], "AUTH", 4) == 0 ? -EACCES : -EPROTO;
    }
    if (keep)
        *keep = rp;
    else
        freeReplyObject(rp);
    return 0;
}

/* AUTH and SELECT on a fresh connection to the primary. */
static int prepare(struct rstore *r, redisContext *c, const char *what, char *err, size_t errlen)
{
    int rc;
    if (r->password) {
        const char *a[3] = { "AUTH", r->u.user, r->password };
        rc = r->u.user[0] ? setup_cmd(c, what, 3, a, err, errlen, NULL)
                          : setup_cmd(c, what, 2, (const char *[]){ "AUTH", r->password }, err,
                                      errlen, NULL);
        if (rc)
            return rc;
    }
    if (r->u.db) {
        char db[16];
        snprintf(db, sizeof(db), "%u", r->u.db);
        rc = setup_cmd(c, what, 2, (const char *[]){ "SELECT", db }, err, errlen, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

/* Asks the sentinels, in order, where the master is, and connects to it. */
static int discover(struct rstore *r, char *err, size_t errlen)
{
    char last[1024] = "store: no sentinel answered";
    for (size_t i = 0; i < r->u.n_hosts; i++) {
        const struct store_hostport *h = &r->u.hosts[i];
        char what[STORE_HOST_MAX + 32];
        snprintf(what, sizeof(what), "sentinel %s:%u", h->host, h->port);
        redisContext *sc = dial(r, h->host, h->port, "sentinel", last, sizeof(last));
        if (!sc)
            continue;
        redisReply *rp = NULL;
        int rc = setup_cmd(sc, what, 3,
                           (const char *[]){ "SENTINEL", "get-master-addr-by-name", r->u.master },
                           last, sizeof(last), &rp);
        redisFree(sc);
        if (rc)
            continue;
        if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
            rp->element[0]->type != REDIS_REPLY_STRING ||
            rp->element[1]->type != REDIS_REPLY_STRING || rp->element[0]->len >= STORE_HOST_MAX) {
            snprintf(last, sizeof(last), "store: %s: does not know master %s", what, r->u.master);
            freeReplyObject(rp);
            continue;
        }
        char host[STORE_HOST_MAX];
        snprintf(host, sizeof(host), "%s", rp->element[0]->str);
        long port = strtol(rp->element[1]->str, NULL, 10);
        freeReplyObject(rp);
        if (port <= 0 || port > 65535) {
            snprintf(last, sizeof(last), "store: %s: bad port for master %s", what, r->u.master);
            continue;
        }
        char mwhat[STORE_HOST_MAX + STORE_ID_MAX + 48];
        snprintf(mwhat, sizeof(mwhat), "sentinel %s: primary %s:%ld", r->u.master, host, port);
        redisContext *c = dial(r, host, (uint16_t)port, "redis", last, sizeof(last));
        if (!c)
            continue;
        rp = NULL;
        rc = prepare(r, c, mwhat, last, sizeof(last));
        if (!rc)
            rc = setup_cmd(c, mwhat, 1, (const char *[]){ "ROLE" }, last, sizeof(last), &rp);
        if (!rc && (rp->type != REDIS_REPLY_ARRAY || rp->elements < 1 ||
                    rp->element[0]->type != REDIS_REPLY_STRING ||
                    strcmp(rp->element[0]->str, "master") != 0)) {
            snprintf(last, sizeof(last), "store: %s: not a master (yet)", mwhat);
            rc = -EAGAIN;
        }
        if (rp)
            freeReplyObject(rp);
        if (rc) {
            redisFree(c);
            continue;
        }
        r->c = c;
        snprintf(r->host, sizeof(r->host), "%s", host);
        r->port = (uint16_t)port;
        set_where(r);
        return 0;
    }
    snprintf(err, errlen, "store: sentinel %s: no primary found: %s", r->u.master, last + 7);
    return -EHOSTUNREACH;
}

static int reconnect(struct rstore *r, char *err, size_t errlen)
{
    drop(r);
    if (r->u.kind == STORE_URL_SENTINEL)
        return discover(r, err, errlen);
    const struct store_hostport *h = &r->u.hosts[0];
    redisContext *c = dial(r, h->host, h->port, "redis", err, errlen);
    if (!c)
        return -ECONNREFUSED;
    int rc = prepare(r, c, r->base.where, err, errlen);
    if (rc) {
        redisFree(c);
        return rc;
    }
    r->c = c;
    return 0;
}

/* True when the server has closed c while it was idle (a restart, CLIENT KILL - which Sentinel
 * sends to every client of a demoted primary - or an idle timeout): the socket reads as EOF or
 * has bytes no command asked for. Checked before each command, so that a write is sent on a
 * connection known to be open, and a lost reply then really means "may have run". */
static bool closed_by_server(const redisContext *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    if (poll(&p, 1, 0) <= 0)
        return false;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A live connection, or an error (with back-off between failed attempts). */
static int ensure(struct rstore *r, char *err, size_t errlen)
{
    if (r->c && closed_by_server(r->c))
        drop(r);
    if (r->c)
        return 0;
    uint64_t now = store_now_ms();
    if (now < r->next_try_ms) {
        snprintf(err, errlen, "store: %s: unreachable; next attempt in %llu ms", r->base.where,
                 (unsigned long long)(r->next_try_ms - now));
        return -EAGAIN;
    }
    int rc = reconnect(r, err, errlen);
    if (rc) {
        r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN;
        if (r->backoff_ms > BACKOFF_MAX)
            r->backoff_ms = BACKOFF_MAX;
        r->next_try_ms = store_now_ms() + r->backoff_ms;
        return rc;
    }
    r->backoff_ms = 0;
    r->next_try_ms = 0;
    return 0;
}

static bool is_readonly(const redisReply *rp)
{
    return rp->type == REDIS_REPLY_ERROR &&
           (strncmp(rp->str, "READONLY", 8) == 0 || strncmp(rp->str, "MASTERDOWN", 10) == 0 ||
            strstr(rp->str, "READONLY") != NULL);
}

/* One command on the handle's connection. retry_io: a lost connection may be retried (reads).
 * Returns the reply (never an error reply: those become messages and NULL) or NULL. */
static redisReply *cmd(struct rstore *r, int argc, const char **argv, const size_t *lens,
                       bool retry_io, int *rcp, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = ensure(r, err, errlen);
        if (rc) {
            *rcp = rc;
            return NULL;
        }
        /* Set on the connection in use, which may be a new one since the caller asked. */
        if (r->op_io_ms)
            redisSetTimeout(r->c, tv_ms(r->op_io_ms));
        redisReply *rp = redisCommandArgv(r->c, argc, argv, lens);
        if (r->op_io_ms && r->c && rp)
            redisSetTimeout(r->c, tv_ms(r->io_ms));
        if (!rp) {
            snprintf(err, errlen, "store: %s: %s: %s", r->base.where, argv[0], r->c->errstr);
            drop(r);
            *rcp = -EIO;
            if (retry_io)
                continue;
            return NULL;
        }
        if (is_readonly(rp)) {
            snprintf(err, errlen, "store: %s: %s: %.*s", r->base.where, argv[0], (int)rp->len,
                     rp->str);
            freeReplyObject(rp);
            drop(r); /* a demoted primary: rediscover */
            *rcp = -EROFS;
            continue;
        }
        if (rp->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "store: %s: %s: %.*s", r->base.where, argv[0], (int)rp->len,
                     rp->str);
            *rcp = strncmp(rp->str, "NOORDER", 7) == 0 ? -ENOENT : -EPROTO;
            freeReplyObject(rp);
            return NULL;
        }
        *rcp = 0;
        return rp;
    }
    return NULL;
}

/* Parses a decimal reply element (string or integer) into *v. */
static int reply_u64(const redisReply *e, uint64_t *v)
{
    if (e->type == REDIS_REPLY_INTEGER) {
        if (e->integer < 0)
            return -1;
        *v = (uint64_t)e->integer;
        return 0;
    }
    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 20)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < e->len; i++) {
        if (e->str[i] < '0' || e->str[i] > '9' || x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(e->str[i] - '0');
    }
    *v = x;
    return 0;
}

static int bad_reply(struct rstore *r, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "store: %s: %s: unexpected reply", r->base.where, what);
    return -EPROTO;
}

static void key(char *out, size_t cap, const struct rstore *r, const char *kind, const char *id)
{
    snprintf(out, cap, "%s%s%s", r->u.prefix, kind, id);
}

/* ?replicas=N: WAIT until N replicas have the change, at most the I/O timeout. The change is
 * made either way (it is on the primary); a shortfall is a warning, not an error: a failover
 * before the replicas catch up could lose it, and the operator should know. */
static void wait_replicas(struct rstore *r, uint64_t version)
{
    char n[16], ms[16], werr[256];
    snprintf(n, sizeof(n), "%u", r->u.replicas);
    snprintf(ms, sizeof(ms), "%u", r->io_ms);
    int rc = 0;
    r->op_io_ms = r->io_ms + 1000;
    redisReply *rp =
        cmd(r, 3, (const char *[]){ "WAIT", n, ms }, NULL, false, &rc, werr, sizeof(werr));
    r->op_io_ms = 0;
    uint64_t got = 0;
    if (!rp || reply_u64(rp, &got) != 0)
        snprintf(r->base.warning, sizeof(r->base.warning),
                 "store: %s: version %llu made, but WAIT for %u replicas failed: %s", r->base.where,
                 (unsigned long long)version, r->u.replicas, rp ? "unexpected reply" : werr);
    else if (got < r->u.replicas)
        snprintf(r->base.warning, sizeof(r->base.warning),
                 "store: %s: version %llu made, but only %llu of %u replicas confirmed it within "
                 "%u ms (a failover now could lose it)",
                 r->base.where, (unsigned long long)version, (unsigned long long)got, r->u.replicas,
                 r->io_ms);
    if (rp)
        freeReplyObject(rp);
}

static int64_t r_publish(struct store *s, const struct store_change *c, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    size_t n = c->n_orders, argc = 3 + 3 + 2 * n + 6 + 2 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *lens = calloc(argc, sizeof(*lens));
    char *keys = malloc(2 * n * (sizeof(r->u.prefix) + 12 + STORE_ID_MAX));
    int rc = 0;
    int64_t v = 0;
    if (!argv || !lens || !keys) {
        snprintf(err, errlen, "store: %s: publish: out of memory", r->base.where);
        rc = -ENOMEM;
        goto out;
    }
    char nkeys[24], urgent[2] = { c->urgent ? '1' : '0', 0 }, tm[24], maxlen[24], nb[24];
    snprintf(nkeys, sizeof(nkeys), "%zu", 3 + 2 * n);
    snprintf(tm, sizeof(tm), "%llu",
             (unsigned long long)(c->time_ms ? c->time_ms : store_now_ms()));
    snprintf(maxlen, sizeof(maxlen), "%u", r->base.log_keep);
    snprintf(nb, sizeof(nb), "%zu", n);
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = store_now_ms() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)c;
    char tag[17];
    snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)rnd);
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = PUBLISH_LUA;
    argv[a++] = nkeys;
    argv[a++] = r->k_version;
    argv[a++] = r->k_orders;
    argv[a++] = r->k_changes;
    size_t kstride = sizeof(r->u.prefix) + 12 + STORE_ID_MAX;
    for (size_t i = 0; i < 2 * n; i++) {
        key(keys + i * kstride, kstride, r, i < n ? "order:" : "evidence:", c->orders[i % n].id);
        argv[a++] = keys + i * kstride;
    }
    argv[a++] = store_change_kind_name(c->kind);
    argv[a++] = urgent;
    argv[a++] = tm;
    argv[a++] = maxlen;
    argv[a++] = nb;
    argv[a++] = tag;
    for (size_t i = 0; i < n; i++)
        argv[a++] = c->orders[i].id;
    for (size_t i = 0; i < n; i++) {
        lens[a] = c->orders[i].record ? c->orders[i].record_len : 0;
        argv[a++] = c->orders[i].record ? c->orders[i].record : "";
    }
    for (size_t i = 0; i < a; i++)
        if (!lens[i] && i < 3 + 3 + 2 * n + 6 + n)
            lens[i] = strlen(argv[i]);
    /* A change of many orders runs long on the server (about 1 s per 100 000 orders on
     * loopback), and so does a large record (the script copies it: about 1 s per 40 MB on a
     * loaded machine): allow 1 ms per 20 orders and 1 ms per 20 000 bytes more. */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += c->orders[i].record ? c->orders[i].record_len : 0;
    size_t extra = n / 20 + bytes / 20000;
    r->op_io_ms = r->io_ms + (uint32_t)(extra < 600000 ? extra : 600000);
    redisReply *rp = cmd(r, (int)a, argv, lens, false, &rc, err, errlen);
    r->op_io_ms = 0;
    if (rp) {
        uint64_t x;
        if (reply_u64(rp, &x) != 0 || x == 0 || x > INT64_MAX)
            rc = bad_reply(r, "publish", err, errlen);
        else
            v = (int64_t)x;
        freeReplyObject(rp);
        if (v > 0 && r->u.replicas > 0)
            wait_replicas(r, (uint64_t)v);
    } else if (rc == -ENOENT) {
        const char *e = strstr(err, "NOORDER ");
        char id[STORE_ID_MAX + 1] = "";
        if (e)
            snprintf(id, sizeof(id), "%s", e + 8);
        snprintf(err, errlen, "store: %s: %s %s: no such order", r->base.where,
                 store_change_kind_name(c->kind), id);
    }
out:
    free(argv);
    free(lens);
    free(keys);
    return rc ? rc : v;
}

static int get_version(struct rstore *r, uint64_t *v, char *err, size_t errlen)
{
    int rc;
    redisReply *rp =
        cmd(r, 2, (const char *[]){ "GET", r->k_version }, NULL, true, &rc, err, errlen);
    if (!rp)
        return rc;
    *v = 0;
    if (rp->type != REDIS_REPLY_NIL && reply_u64(rp, v) != 0)
        rc = bad_reply(r, "GET version", err, errlen);
    freeReplyObject(rp);
    return rc;
}

static int r_version(struct store *s, uint64_t *version, char *err, size_t errlen)
{
    return get_version((struct rstore *)s, version, err, errlen);
}

/* ---- id sets -------------------------------------------------------------------------------- */

struct idset {
    char **v;
    size_t n, cap;
};

static void idset_free(struct idset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every member of set key (SSCAN, so each reply is bounded), sorted, without duplicates;
 * members that are not valid ids are skipped. */
static int scan_set(struct rstore *r, const char *setkey, struct idset *out, char *err,
                    size_t errlen)
{
    char cursor[32] = "0";
    int rc = 0;
    memset(out, 0, sizeof(*out));
    do {
        redisReply *rp = cmd(r, 5, (const char *[]){ "SSCAN", setkey, cursor, "COUNT", SCAN_COUNT },
                             NULL, true, &rc, err, errlen);
        if (!rp)
            goto fail;
        if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
            rp->element[0]->type != REDIS_REPLY_STRING || rp->element[0]->len >= sizeof(cursor) ||
            rp->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rp);
            rc = bad_reply(r, "SSCAN", err, errlen);
            goto fail;
        }
        memcpy(cursor, rp->element[0]->str, rp->element[0]->len + 1);
        const redisReply *m = rp->element[1];
        for (size_t i = 0; i < m->elements; i++) {
            const redisReply *e = m->element[i];
            if (e->type != REDIS_REPLY_STRING || !store_id_valid(e->str, e->len))
                continue;
            if (out->n == out->cap) {
                size_t nc = out->cap ? out->cap * 2 : 256;
                char **nv = realloc(out->v, nc * sizeof(*nv));
                if (!nv) {
                    freeReplyObject(rp);
                    rc = -ENOMEM;
                    snprintf(err, errlen, "store: %s: out of memory", r->base.where);
                    goto fail;
                }
                out->v = nv;
                out->cap = nc;
            }
            if (!(out->v[out->n] = strndup(e->str, e->len))) {
                freeReplyObject(rp);
                rc = -ENOMEM;
                snprintf(err, errlen, "store: %s: out of memory", r->base.where);
                goto fail;
            }
            out->n++;
        }
        freeReplyObject(rp);
    } while (strcmp(cursor, "0") != 0);
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (w && strcmp(out->v[w - 1], out->v[i]) == 0)
            free(out->v[i]);
        else
            out->v[w++] = out->v[i];
    }
    out->n = w;
    return 0;
fail:
    idset_free(out);
    return rc;
}

/* Pipelines HMGET <prefix>order:<id> state version updated record|(HSTRLEN) for ids[0..n) and
 * collects the replies into rps (n of them). with_record false: a second command HSTRLEN gives
 * the record length (rps then holds 2n replies). */
static int fetch_orders(struct rstore *r, char *const *ids, size_t n, bool with_record,
                        redisReply **rps, char *err, size_t errlen)
{
    int rc = ensure(r, err, errlen);
    if (rc)
        return rc;
    size_t per = with_record ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        char k[sizeof(r->u.prefix) + 8 + STORE_ID_MAX];
        key(k, sizeof(k), r, "order:", ids[i]);
        const char *a[] = { "HMGET", k, "state", "version", "updated", "record" };
        redisAppendCommandArgv(r->c, with_record ? 6 : 5, a, NULL);
        if (!with_record)
            redisAppendCommandArgv(r->c, 3, (const char *[]){ "HSTRLEN", k, "record" }, NULL);
    }
    for (size_t i = 0; i < n * per; i++) {
        void *rp = NULL;
        if (redisGetReply(r->c, &rp) != REDIS_OK || !rp) {
            snprintf(err, errlen, "store: %s: HMGET: %s", r->base.where, r->c->errstr);
            drop(r);
            for (size_t j = 0; j < i; j++)
                freeReplyObject(rps[j]);
            return -EIO;
        }
        rps[i] = rp;
    }
    return 0;
}

/* Fills o from an HMGET reply (state version updated [record]); 1 when the order is absent. */
static int order_from(struct rstore *r, const redisReply *rp, const redisReply *len, const char *id,
                      struct store_order *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->id = id;
    if (rp->type != REDIS_REPLY_ARRAY || rp->elements < 3)
        return bad_reply(r, "HMGET", err, errlen);
    const redisReply *st = rp->element[0];
    if (st->type == REDIS_REPLY_NIL)
        return 1;
    if (st->type != REDIS_REPLY_STRING || reply_u64(rp->element[1], &o->version) ||
        reply_u64(rp->element[2], &o->updated_ms)) {
        snprintf(err, errlen, "store: %s: order %s: malformed hash", r->base.where, id);
        return -EBADMSG;
    }
    o->state = strcmp(st->str, "revoked") == 0 ? STORE_REVOKED : STORE_ACTIVE;
    if (rp->elements == 4 && rp->element[3]->type == REDIS_REPLY_STRING) {
        if (rp->element[3]->len > r->base.max_record) {
            snprintf(err, errlen, "store: %s: order %s: record of %zu bytes over the %zu limit",
                     r->base.where, id, rp->element[3]->len, r->base.max_record);
            return -E2BIG;
        }
        o->record = rp->element[3]->str;
        o->record_len = rp->element[3]->len;
    }
    if (len && len->type == REDIS_REPLY_INTEGER && len->integer >= 0)
        o->record_len = (size_t)len->integer;
    return 0;
}

/* The snapshot as one script (SNAPSHOT_LUA). */
static int snapshot_atomic(struct rstore *r, uint64_t *version, store_order_fn cb, void *ctx,
                           char *err, size_t errlen)
{
    int rc;
    redisReply *rp = cmd(
        r, 6, (const char *[]){ "EVAL", SNAPSHOT_LUA, "2", r->k_version, r->k_orders, r->u.prefix },
        NULL, true, &rc, err, errlen);
    if (!rp)
        return rc;
    if (rp->type != REDIS_REPLY_ARRAY || rp->elements < 1 || (rp->elements - 1) % 5 ||
        reply_u64(rp->element[0], version) != 0) {
        freeReplyObject(rp);
        return bad_reply(r, "snapshot script", err, errlen);
    }
    for (size_t i = 1; i + 4 < rp->elements && !rc; i += 5) {
        const redisReply *id = rp->element[i];
        if (id->type != REDIS_REPLY_STRING || !store_id_valid(id->str, id->len))
            continue;
        /* order_from reads an HMGET-shaped array: give it a view of the four fields */
        redisReply view = { .type = REDIS_REPLY_ARRAY,
                            .elements = 4,
                            .element = rp->element + i + 1 };
        struct store_order o;
        rc = order_from(r, &view, NULL, id->str, &o, err, errlen);
        if (rc == 1) {
            rc = 0;
            continue;
        }
        if (!rc)
            rc = cb(ctx, &o);
    }
    freeReplyObject(rp);
    return rc;
}

static int r_snapshot(struct store *s, uint64_t *version, store_order_fn cb, void *ctx, char *err,
                      size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    r->seen_version = 0; /* a new starting point: nothing delivered to compare with */
    for (int attempt = 0; attempt < SNAP_TRIES; attempt++) {
        uint64_t v1, v2;
        struct idset ids;
        int rc = get_version(r, &v1, err, errlen);
        if (rc)
            return rc;
        if ((rc = scan_set(r, r->k_orders, &ids, err, errlen)) != 0)
            return rc;
        redisReply **rps = calloc(ids.n ? ids.n : 1, sizeof(*rps));
        if (!rps) {
            idset_free(&ids);
            snprintf(err, errlen, "store: %s: snapshot: out of memory", r->base.where);
            return -ENOMEM;
        }
        for (size_t i = 0; i < ids.n && !rc; i += FETCH_BATCH)
            rc = fetch_orders(r, ids.v + i, ids.n - i < FETCH_BATCH ? ids.n - i : FETCH_BATCH, true,
                              rps + i, err, errlen);
        if (!rc)
            rc = get_version(r, &v2, err, errlen);
        /* The replies are held until the version is known unchanged: every publish bumps it,
         * so an unchanged version means no change fell between the reads. */
        if (!rc && v1 == v2) {
            *version = v1;
            for (size_t i = 0; i < ids.n && !rc; i++) {
                struct store_order o;
                rc = order_from(r, rps[i], NULL, ids.v[i], &o, err, errlen);
                if (rc == 1) { /* in the set but without a hash: not an order */
                    rc = 0;
                    continue;
                }
                if (!rc)
                    rc = cb(ctx, &o);
            }
        }
        for (size_t i = 0; i < ids.n; i++)
            if (rps[i])
                freeReplyObject(rps[i]);
        free(rps);
        idset_free(&ids);
        if (rc || v1 == v2)
            return rc;
    }
    return snapshot_atomic(r, version, cb, ctx, err, errlen);
}

/* Parses one stream entry [id, [field, value, ...]] into c (ids joined in *idbuf). */
static int parse_entry(struct rstore *r, const redisReply *e, struct store_change *c,
                       const redisReply **ids, char tag[17], char *err, size_t errlen)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[1]->type != REDIS_REPLY_ARRAY || e->element[1]->elements % 2)
        return bad_reply(r, "XREAD entry", err, errlen);
    const redisReply *f = e->element[1];
    memset(c, 0, sizeof(*c));
    *ids = NULL;
    tag[0] = '\0';
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return bad_reply(r, "XREAD field", err, errlen);
        if (strcmp(k->str, "version") == 0 && reply_u64(v, &c->version) != 0)
            return bad_reply(r, "XREAD version", err, errlen);
        if (strcmp(k->str, "time") == 0 && reply_u64(v, &c->time_ms) != 0)
            return bad_reply(r, "XREAD time", err, errlen);
        if (strcmp(k->str, "kind") == 0)
            c->kind = store_change_kind_parse(v->str, v->len);
        if (strcmp(k->str, "urgent") == 0)
            c->urgent = v->len == 1 && v->str[0] == '1';
        if (strcmp(k->str, "ids") == 0)
            *ids = v;
        if (strcmp(k->str, "tag") == 0)
            snprintf(tag, 17, "%.16s", v->str);
    }
    if (!c->version || !c->kind || !*ids || !(*ids)->len)
        return bad_reply(r, "XREAD entry fields", err, errlen);
    return 0;
}

/* Delivers one change: splits its ids, fetches each order as stored now. */
static int deliver(struct rstore *r, struct store_change *c, const redisReply *idr,
                   store_change_fn cb, void *ctx, char *err, size_t errlen)
{
    size_t n = 1;
    for (size_t i = 0; i < idr->len; i++)
        n += idr->str[i] == ',';
    if (n > r->base.max_orders)
        return bad_reply(r, "XREAD ids", err, errlen);
    char *buf = strndup(idr->str, idr->len);
    char **ids = calloc(n, sizeof(*ids));
    redisReply **rps = calloc(n, sizeof(*rps));
    struct store_order *os = calloc(n, sizeof(*os));
    int rc = 0;
    if (!buf || !ids || !rps || !os) {
        snprintf(err, errlen, "store: %s: follow: out of memory", r->base.where);
        rc = -ENOMEM;
        goto out;
    }
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        ids[i] = p;
        char *comma = strchr(p, ',');
        if (comma) {
            *comma = '\0';
            p = comma + 1;
        }
    }
    for (size_t i = 0; i < n && !rc; i += FETCH_BATCH)
        rc = fetch_orders(r, ids + i, n - i < FETCH_BATCH ? n - i : FETCH_BATCH, true, rps + i, err,
                          errlen);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = order_from(r, rps[i], NULL, ids[i], &os[i], err, errlen);
        if (rc == 1) { /* gone: deliver the id without a record */
            os[i] = (struct store_order){ .id = ids[i], .state = STORE_REVOKED };
            rc = 0;
        }
    }
    if (!rc) {
        c->orders = os;
        c->n_orders = n;
        rc = cb(ctx, c);
    }
out:
    if (rps)
        for (size_t i = 0; i < n; i++)
            if (rps[i])
                freeReplyObject(rps[i]);
    free(rps);
    free(os);
    free(ids);
    free(buf);
    return rc;
}

static int xread(struct rstore *r, uint64_t from, uint32_t block_ms, redisReply **out, char *err,
                 size_t errlen)
{
    char id[32], bms[16];
    snprintf(id, sizeof(id), "%llu-0", (unsigned long long)from);
    snprintf(bms, sizeof(bms), "%u", block_ms);
    int rc = 0;
    redisReply *rp;
    if (block_ms) {
        r->op_io_ms = block_ms + r->io_ms;
        rp = cmd(r, 8,
                 (const char *[]){ "XREAD", "COUNT", FOLLOW_BATCH, "BLOCK", bms, "STREAMS",
                                   r->k_changes, id },
                 NULL, false, &rc, err, errlen);
        r->op_io_ms = 0;
    } else {
        rp = cmd(r, 6,
                 (const char *[]){ "XREAD", "COUNT", FOLLOW_BATCH, "STREAMS", r->k_changes, id },
                 NULL, true, &rc, err, errlen);
    }
    *out = rp;
    return rc;
}

/* The entries array of an XREAD reply (NULL when it timed out / found nothing). */
static const redisReply *entries_of(const redisReply *rp)
{
    if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 1)
        return NULL;
    const redisReply *st = rp->element[0];
    if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
        st->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    return st->element[1];
}

/* The change at version v is still the one this handle delivered (same tag), or is no longer
 * in the stream (trimmed: nothing to compare). Else the store lost it - a failover to a
 * replica that had not received it - and reused the version: -ESTALE. */
static int check_seen(struct rstore *r, uint64_t v, char *err, size_t errlen)
{
    char id[32];
    snprintf(id, sizeof(id), "%llu-0", (unsigned long long)v);
    int rc;
    redisReply *rp =
        cmd(r, 4, (const char *[]){ "XRANGE", r->k_changes, id, id }, NULL, true, &rc, err, errlen);
    if (!rp)
        return rc;
    if (rp->type == REDIS_REPLY_ARRAY && rp->elements == 1) {
        struct store_change c;
        const redisReply *idr;
        char tag[17];
        rc = parse_entry(r, rp->element[0], &c, &idr, tag, err, errlen);
        if (!rc && strcmp(tag, r->seen_tag) != 0) {
            snprintf(err, errlen,
                     "store: %s: the change at version %llu is not the one delivered before "
                     "(the store lost changes, e.g. in a failover): load the snapshot",
                     r->base.where, (unsigned long long)v);
            rc = -ESTALE;
        }
    }
    freeReplyObject(rp);
    if (rc == -ESTALE)
        r->seen_version = 0;
    return rc;
}

static int r_follow(struct store *s, uint64_t from, uint32_t timeout_ms, store_change_fn cb,
                    void *ctx, uint64_t *last, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    redisReply *rp = NULL;
    int rc = 0;
    if (from && from == r->seen_version && r->seen_tag[0] &&
        (rc = check_seen(r, from, err, errlen)) != 0)
        return rc;
    if ((rc = xread(r, from, 0, &rp, err, errlen)) != 0)
        return rc;
    const redisReply *es = entries_of(rp);
    if (!es || es->elements == 0) {
        freeReplyObject(rp);
        rp = NULL;
        uint64_t cur;
        if ((rc = get_version(r, &cur, err, errlen)) != 0)
            return rc;
        if (cur > from) {
            /* Published between the XREAD and the GET? The script writes the version and the
             * entry together, so reading again tells a new entry from a trimmed one. */
            if ((rc = xread(r, from, 0, &rp, err, errlen)) != 0)
                return rc;
            es = entries_of(rp);
            if (es && es->elements)
                goto got;
            freeReplyObject(rp);
            rp = NULL;
        }
        if (cur != from) {
            snprintf(err, errlen,
                     cur > from ? "store: %s: changes after version %llu are no longer in the "
                                  "stream (current %llu): load the snapshot"
                                : "store: %s: version %llu is ahead of the store (%llu): the "
                                  "store was reset; load the snapshot",
                     r->base.where, (unsigned long long)from, (unsigned long long)cur);
            return -ESTALE;
        }
        if (!timeout_ms)
            return 0;
        if ((rc = xread(r, from, timeout_ms, &rp, err, errlen)) != 0)
            return rc;
        es = entries_of(rp);
        if (!es || es->elements == 0) {
            freeReplyObject(rp);
            return 0;
        }
    }
got:;
    int delivered = 0;
    uint64_t expect = from + 1;
    for (size_t i = 0; i < es->elements && !rc; i++) {
        struct store_change c;
        const redisReply *idr;
        char tag[17];
        rc = parse_entry(r, es->element[i], &c, &idr, tag, err, errlen);
        if (rc)
            break;
        if (c.version != expect) {
            snprintf(err, errlen,
                     "store: %s: change log jumps from version %llu to %llu: load the snapshot",
                     r->base.where, (unsigned long long)(expect - 1),
                     (unsigned long long)c.version);
            rc = -ESTALE;
            break;
        }
        expect++;
        rc = deliver(r, &c, idr, cb, ctx, err, errlen);
        if (!rc) {
            *last = c.version;
            delivered++;
            r->seen_version = c.version;
            memcpy(r->seen_tag, tag, sizeof(tag));
        }
    }
    freeReplyObject(rp);
    return rc ? rc : delivered;
}

static int r_get(struct store *s, const char *id, store_order_fn cb, void *ctx, char *err,
                 size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char *ids[1] = { (char *)id };
    redisReply *rp = NULL;
    int rc = fetch_orders(r, ids, 1, true, &rp, err, errlen);
    if (rc)
        return rc;
    struct store_order o;
    rc = order_from(r, rp, NULL, id, &o, err, errlen);
    if (rc == 1) {
        snprintf(err, errlen, "store: %s: order %s: no such order", r->base.where, id);
        rc = -ENOENT;
    } else if (!rc) {
        rc = cb(ctx, &o);
    }
    freeReplyObject(rp);
    return rc;
}

static int r_list(struct store *s, store_order_fn cb, void *ctx, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    struct idset ids;
    int rc = scan_set(r, r->k_orders, &ids, err, errlen);
    if (rc)
        return rc;
    redisReply *rps[2 * FETCH_BATCH];
    for (size_t i = 0; i < ids.n && !rc; i += FETCH_BATCH) {
        size_t k = ids.n - i < FETCH_BATCH ? ids.n - i : FETCH_BATCH;
        if ((rc = fetch_orders(r, ids.v + i, k, false, rps, err, errlen)) != 0)
            break;
        for (size_t j = 0; j < k; j++) {
            struct store_order o;
            int orc =
                rc ? rc : order_from(r, rps[2 * j], rps[2 * j + 1], ids.v[i + j], &o, err, errlen);
            if (orc == 0)
                orc = cb(ctx, &o);
            if (orc != 1)
                rc = orc;
            freeReplyObject(rps[2 * j]);
            freeReplyObject(rps[2 * j + 1]);
        }
    }
    idset_free(&ids);
    return rc;
}

static int r_node_ack(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                      uint32_t ttl_ms, const char *software, const char *mode, char *err,
                      size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[sizeof(r->u.prefix) + 8 + STORE_ID_MAX], ka[sizeof(k) + 8], ke[sizeof(k) + 12], vb[24],
        sb[24], hb[24], tb[16];
    key(k, sizeof(k), r, "node:", node);
    snprintf(ka, sizeof(ka), "%s:alive", k);
    snprintf(ke, sizeof(ke), "%s:enforced", k);
    snprintf(vb, sizeof(vb), "%llu", (unsigned long long)version);
    snprintf(sb, sizeof(sb), "%llu", (unsigned long long)since_ms);
    snprintf(hb, sizeof(hb), "%llu", (unsigned long long)store_now_ms());
    snprintf(tb, sizeof(tb), "%u", ttl_ms);
    static const char lua[] = "redis.call('SADD', KEYS[1], ARGV[1])\n"
                              "redis.call('HSET', KEYS[2], 'version', ARGV[2], 'since', ARGV[3],\n"
                              "           'heartbeat', ARGV[4], 'ttl', ARGV[5],\n"
                              "           'software', ARGV[6], 'mode', ARGV[7])\n"
                              "redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])\n"
                              "redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2] .. ' ' .. ARGV[3])\n"
                              "return 1\n";
    int rc;
    redisReply *rp = cmd(r, 14,
                         (const char *[]){ "EVAL", lua, "4", r->k_nodes, k, ka, ke, node, vb, sb,
                                           hb, tb, software, mode },
                         NULL, true, &rc, err, errlen);
    if (rp)
        freeReplyObject(rp);
    return rc;
}

static int r_nodes(struct store *s, store_node_fn cb, void *ctx, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    struct idset ids;
    int rc = scan_set(r, r->k_nodes, &ids, err, errlen);
    for (size_t i = 0; i < ids.n && !rc; i++) {
        char k[sizeof(r->u.prefix) + 8 + STORE_ID_MAX], ka[sizeof(k) + 8];
        key(k, sizeof(k), r, "node:", ids.v[i]);
        snprintf(ka, sizeof(ka), "%s:alive", k);
        redisReply *rp =
            cmd(r, 7,
                (const char *[]){ "HMGET", k, "version", "since", "heartbeat", "software", "mode" },
                NULL, true, &rc, err, errlen);
        if (!rp)
            break;
        redisReply *al = cmd(r, 2, (const char *[]){ "EXISTS", ka }, NULL, true, &rc, err, errlen);
        struct store_node nd = { .id = ids.v[i], .software = "", .mode = "" };
        if (al && rp->type == REDIS_REPLY_ARRAY && rp->elements == 5 &&
            rp->element[0]->type != REDIS_REPLY_NIL) {
            /* a hash written before these fields: nil, read as "" */
            if (rp->element[3]->type == REDIS_REPLY_STRING)
                nd.software = rp->element[3]->str;
            if (rp->element[4]->type == REDIS_REPLY_STRING)
                nd.mode = rp->element[4]->str;
            if (reply_u64(rp->element[0], &nd.version) || reply_u64(rp->element[1], &nd.since_ms) ||
                reply_u64(rp->element[2], &nd.heartbeat_ms)) {
                rc = bad_reply(r, "node hash", err, errlen);
            } else {
                nd.alive = al->type == REDIS_REPLY_INTEGER && al->integer == 1;
                rc = cb(ctx, &nd);
            }
        }
        freeReplyObject(rp);
        if (al)
            freeReplyObject(al);
    }
    idset_free(&ids);
    return rc;
}

static int r_trim(struct store *s, uint64_t keep, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char kb[24];
    snprintf(kb, sizeof(kb), "%llu", (unsigned long long)keep);
    int rc;
    redisReply *rp = cmd(r, 4, (const char *[]){ "XTRIM", r->k_changes, "MAXLEN", kb }, NULL, true,
                         &rc, err, errlen);
    if (rp)
        freeReplyObject(rp);
    return rc;
}

/* ---- evidence ------------------------------------------------------------------------------- */

/* Parses "<a> <b>" (two decimals) of an element. */
static int two_u64(const redisReply *e, uint64_t *a, uint64_t *b)
{
    if (e->type != REDIS_REPLY_STRING || e->len > 64)
        return -1;
    char t[72];
    memcpy(t, e->str, e->len);
    t[e->len] = '\0';
    char *end;
    errno = 0;
    unsigned long long x = strtoull(t, &end, 10);
    if (end == t || *end != ' ' || errno)
        return -1;
    const char *q = end + 1;
    unsigned long long y = strtoull(q, &end, 10);
    if (end == q || *end || errno)
        return -1;
    *a = x;
    *b = y;
    return 0;
}

static int r_enforced(struct store *s, const char *node, store_enforced_fn cb, void *ctx, char *err,
                      size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[sizeof(r->u.prefix) + 24 + STORE_ID_MAX];
    snprintf(k, sizeof(k), "%snode:%s:enforced", r->u.prefix, node);
    int rc;
    redisReply *rp =
        cmd(r, 4, (const char *[]){ "ZRANGE", k, "0", "-1" }, NULL, true, &rc, err, errlen);
    if (!rp)
        return rc;
    if (rp->type != REDIS_REPLY_ARRAY)
        rc = bad_reply(r, "enforcement log", err, errlen);
    else if (rp->elements == 0) {
        snprintf(err, errlen, "store: %s: node %s: no enforcement log", r->base.where, node);
        rc = -ENOENT;
    }
    for (size_t i = 0; !rc && i < rp->elements; i++) {
        struct store_enforced e;
        if (two_u64(rp->element[i], &e.version, &e.since_ms))
            rc = bad_reply(r, "enforcement log", err, errlen);
        else
            rc = cb(ctx, &e);
    }
    freeReplyObject(rp);
    return rc;
}

static int r_events(struct store *s, const char *id, store_event_fn cb, void *ctx, char *err,
                    size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[sizeof(r->u.prefix) + 12 + STORE_ID_MAX];
    key(k, sizeof(k), r, "evidence:", id);
    int rc;
    redisReply *rp =
        cmd(r, 4, (const char *[]){ "LRANGE", k, "0", "-1" }, NULL, true, &rc, err, errlen);
    if (!rp)
        return rc;
    if (rp->type != REDIS_REPLY_ARRAY)
        rc = bad_reply(r, "evidence", err, errlen);
    else if (rp->elements == 0) {
        snprintf(err, errlen, "store: %s: order %s: no evidence record", r->base.where, id);
        rc = -ENOENT;
    }
    for (size_t i = 0; !rc && i < rp->elements; i++) {
        const redisReply *e = rp->element[i];
        const char *sp = e->type == REDIS_REPLY_STRING ? memchr(e->str, ' ', e->len) : NULL;
        struct store_event ev = { 0 };
        if (sp) {
            ev.kind = store_change_kind_parse(e->str, (size_t)(sp - e->str));
            redisReply tail = { .type = REDIS_REPLY_STRING,
                                .str = (char *)sp + 1,
                                .len = e->len - (size_t)(sp - e->str) - 1 };
            if (two_u64(&tail, &ev.version, &ev.time_ms))
                ev.kind = 0;
        }
        rc = ev.kind ? cb(ctx, &ev) : bad_reply(r, "evidence", err, errlen);
    }
    freeReplyObject(rp);
    return rc;
}

/* Hits: three hashes per order, field = the entry. ARGV: prefix, then (order, entry, count,
 * first, last) per hit. first keeps the minimum, last the maximum. */
static const char HITS_LUA[] = "local p = ARGV[1]\n"
                               "for i = 2, #ARGV, 5 do\n"
                               "  local k, e = p .. 'hits:' .. ARGV[i], ARGV[i + 1]\n"
                               "  redis.call('HINCRBY', k .. ':count', e, ARGV[i + 2])\n"
                               "  local f = redis.call('HGET', k .. ':first', e)\n"
                               "  if not f or tonumber(f) > tonumber(ARGV[i + 3]) then\n"
                               "    redis.call('HSET', k .. ':first', e, ARGV[i + 3])\n"
                               "  end\n"
                               "  local l = redis.call('HGET', k .. ':last', e)\n"
                               "  if not l or tonumber(l) < tonumber(ARGV[i + 4]) then\n"
                               "    redis.call('HSET', k .. ':last', e, ARGV[i + 4])\n"
                               "  end\n"
                               "end\n"
                               "return 1\n";

static int r_hits_add(struct store *s, const struct store_hit *h, size_t n, char *err,
                      size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    size_t argc = 4 + 5 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    char *nums = malloc(n * 3 * 24);
    int rc = 0;
    if (!argv || !nums) {
        free(argv);
        free(nums);
        snprintf(err, errlen, "store: %s: hits: out of memory", r->base.where);
        return -ENOMEM;
    }
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = HITS_LUA;
    argv[a++] = "0";
    argv[a++] = r->u.prefix;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].count)
            continue;
        char *nb = nums + i * 72;
        snprintf(nb, 24, "%llu", (unsigned long long)h[i].count);
        snprintf(nb + 24, 24, "%llu", (unsigned long long)h[i].first_ms);
        snprintf(nb + 48, 24, "%llu", (unsigned long long)h[i].last_ms);
        argv[a++] = h[i].order;
        argv[a++] = h[i].entry;
        argv[a++] = nb;
        argv[a++] = nb + 24;
        argv[a++] = nb + 48;
    }
    if (a > 4) {
        redisReply *rp = cmd(r, (int)a, argv, NULL, false, &rc, err, errlen);
        if (rp)
            freeReplyObject(rp);
    }
    free(argv);
    free(nums);
    return rc;
}

static int r_hits(struct store *s, const char *order, store_hit_fn cb, void *ctx, char *err,
                  size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[3][sizeof(r->u.prefix) + 16 + STORE_ID_MAX];
    static const char *const sfx[3] = { "count", "first", "last" };
    redisReply *rp[3] = { NULL, NULL, NULL };
    int rc = 0;
    for (size_t j = 0; j < 3 && !rc; j++) {
        snprintf(k[j], sizeof(k[j]), "%shits:%s:%s", r->u.prefix, order, sfx[j]);
        rp[j] = cmd(r, 2, (const char *[]){ "HGETALL", k[j] }, NULL, true, &rc, err, errlen);
        if (rp[j] && (rp[j]->type != REDIS_REPLY_ARRAY || rp[j]->elements % 2))
            rc = bad_reply(r, "hits", err, errlen);
    }
    /* HGETALL of the three hashes lists the fields in the same order only by chance: look the
     * first and last of each entry up by name (a linear scan; a report reads this once). */
    for (size_t i = 0; !rc && i < rp[0]->elements; i += 2) {
        const redisReply *ent = rp[0]->element[i];
        struct store_hit hit = { .order = order };
        char *e = strndup(ent->str, ent->len);
        if (!e || reply_u64(rp[0]->element[i + 1], &hit.count)) {
            free(e);
            rc = e ? bad_reply(r, "hits", err, errlen) : -ENOMEM;
            break;
        }
        hit.entry = e;
        for (size_t j = 1; j < 3; j++)
            for (size_t q = 0; q < rp[j]->elements; q += 2)
                if (rp[j]->element[q]->len == ent->len &&
                    memcmp(rp[j]->element[q]->str, ent->str, ent->len) == 0)
                    reply_u64(rp[j]->element[q + 1], j == 1 ? &hit.first_ms : &hit.last_ms);
        rc = cb(ctx, &hit);
        free(e);
    }
    for (size_t j = 0; j < 3; j++)
        if (rp[j])
            freeReplyObject(rp[j]);
    return rc;
}

static int r_doc_put(struct store *s, const char *kind, const char *id, const char *bytes,
                     size_t len, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[sizeof(r->u.prefix) + 8 + 2 * STORE_ID_MAX];
    snprintf(k, sizeof(k), "%sdoc:%s:%s", r->u.prefix, kind, id);
    int rc;
    redisReply *rp = cmd(r, 3, (const char *[]){ "SET", k, bytes },
                         (const size_t[]){ 3, strlen(k), len }, true, &rc, err, errlen);
    if (rp)
        freeReplyObject(rp);
    return rc;
}

/* One MSET for all: a round trip per flush instead of one per document. */
static int r_doc_put_many(struct store *s, const char *kind, const struct store_doc *docs, size_t n,
                          char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    size_t kmax = sizeof(r->u.prefix) + 8 + 2 * STORE_ID_MAX;
    if (n > (INT_MAX - 1) / 2) {
        snprintf(err, errlen, "store: %s: %zu documents in one write", r->base.where, n);
        return -E2BIG;
    }
    const char **argv = malloc((1 + 2 * n) * sizeof(*argv));
    size_t *lens = malloc((1 + 2 * n) * sizeof(*lens));
    char *keys = malloc(n * kmax);
    int rc = -ENOMEM;
    if (!argv || !lens || !keys) {
        snprintf(err, errlen, "store: %s: out of memory", r->base.where);
        goto out;
    }
    argv[0] = "MSET";
    lens[0] = 4;
    for (size_t i = 0; i < n; i++) {
        char *k = keys + i * kmax;
        int kl = snprintf(k, kmax, "%sdoc:%s:%s", r->u.prefix, kind, docs[i].id);
        argv[1 + 2 * i] = k;
        lens[1 + 2 * i] = (size_t)kl;
        argv[2 + 2 * i] = docs[i].bytes;
        lens[2 + 2 * i] = docs[i].len;
    }
    redisReply *rp = cmd(r, (int)(1 + 2 * n), argv, lens, true, &rc, err, errlen);
    if (rp)
        freeReplyObject(rp);
out:
    free(argv);
    free(lens);
    free(keys);
    return rc;
}

static int r_doc_get(struct store *s, const char *kind, const char *id, store_doc_fn cb, void *ctx,
                     char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[sizeof(r->u.prefix) + 8 + 2 * STORE_ID_MAX];
    snprintf(k, sizeof(k), "%sdoc:%s:%s", r->u.prefix, kind, id);
    int rc;
    redisReply *rp = cmd(r, 2, (const char *[]){ "GET", k }, NULL, true, &rc, err, errlen);
    if (!rp)
        return rc;
    if (rp->type == REDIS_REPLY_NIL) {
        snprintf(err, errlen, "store: %s: document %s/%s: none", r->base.where, kind, id);
        rc = -ENOENT;
    } else if (rp->type != REDIS_REPLY_STRING) {
        rc = bad_reply(r, "document", err, errlen);
    } else {
        rc = cb(ctx, rp->str, rp->len);
    }
    freeReplyObject(rp);
    return rc;
}

static void r_free(struct store *s)
{
    struct rstore *r = (struct rstore *)s;
    drop(r);
    if (r->password) {
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
    free(r);
}

/* subscriber map: at the end of the file */
static int r_sub_apply(struct store *s, const struct store_sub *e, size_t n, char *err,
                       size_t errlen);
static int r_sub_get(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                     size_t errlen);
static int r_sub_list(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen);
static int r_sub_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                        store_sub_fn cb, void *ctx, char *err, size_t errlen);
static int r_tariff_apply(struct store *s, const struct store_tariff *t, char *err, size_t errlen);
static int r_tariff_list(struct store *s, store_tariff_fn cb, void *ctx, char *err, size_t errlen);
static int r_tariff_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                           store_tariff_fn cb, void *ctx, char *err, size_t errlen);

static const struct store_ops redis_ops = {
    .name = "redis",
    .publish = r_publish,
    .version = r_version,
    .snapshot = r_snapshot,
    .follow = r_follow,
    .get = r_get,
    .list = r_list,
    .node_ack = r_node_ack,
    .nodes = r_nodes,
    .trim = r_trim,
    .enforced = r_enforced,
    .events = r_events,
    .hits_add = r_hits_add,
    .hits = r_hits,
    .doc_put = r_doc_put,
    .doc_put_many = r_doc_put_many,
    .doc_get = r_doc_get,
    .free = r_free,

    /* subscriber map */
    .sub_apply = r_sub_apply,
    .sub_get = r_sub_get,
    .sub_list = r_sub_list,
    .sub_follow = r_sub_follow,
    .tariff_apply = r_tariff_apply,
    .tariff_list = r_tariff_list,
    .tariff_follow = r_tariff_follow,
};

struct store *store_redis_open(const struct store_url *u, const struct store_opts *o,
                               const char *password, char *err, size_t errlen)
{
    struct rstore *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "store: redis: out of memory");
        return NULL;
    }
    r->base.ops = &redis_ops;
    r->base.max_record = o->max_record;
    r->base.max_orders = o->max_orders;
    r->base.log_keep = o->log_keep;
    r->u = *u;
    memset(r->u.password, 0, sizeof(r->u.password));
    r->connect_ms = o->connect_timeout_ms;
    r->io_ms = o->io_timeout_ms;
    if (password && !(r->password = strdup(password))) {
        free(r);
        snprintf(err, errlen, "store: redis: out of memory");
        return NULL;
    }
    snprintf(r->k_version, sizeof(r->k_version), "%sversion", u->prefix);
    snprintf(r->k_orders, sizeof(r->k_orders), "%sorders", u->prefix);
    snprintf(r->k_changes, sizeof(r->k_changes), "%schanges", u->prefix);
    snprintf(r->k_nodes, sizeof(r->k_nodes), "%snodes", u->prefix);
    snprintf(r->k_sub_changes, sizeof(r->k_sub_changes), "%ssub:changes", u->prefix);
    set_where(r);
    if (ensure(r, err, errlen) != 0) {
        r_free(&r->base);
        return NULL;
    }
    return &r->base;
}

/* ---- subscriber map (docs/subscribers.md) ----
 *
 * PREFIX sub:ip:<addr>   string "<subscriber> <session|-> <updated_ms>", PEXPIRE = the TTL
 * PREFIX sub:changes     stream, one entry per batch that changed something: n (mappings) and
 *                        changes, one line each, "set <addr> <subscriber> <session|-> <ttl_ms>"
 *                        or "del <addr> <session|->" (MAXLEN ~ log_keep)
 * One batch is one MULTI/EXEC, pipelined: atomic, one round trip. A DEL naming a session
 * removes the mapping only while it still belongs to that session (a small script). */
#define SUB_BATCH  512 /* mappings per MULTI/EXEC */
#define SUB_FIELDS 6   /* ARGV per mapping */

/* A Stop naming its session: delete only while the key still holds that session. KEYS[1] the
 * address key, ARGV[1] the session. */
static const char SUB_DEL_LUA[] = "local cur = redis.call('GET', KEYS[1])\n"
                                  "if cur and string.match(cur, '^%S+ (%S+)') == ARGV[1] then\n"
                                  "  return redis.call('DEL', KEYS[1])\n"
                                  "end\n"
                                  "return 0\n";

/* One batch: MULTI, a SET ... PX (or DEL, or SUB_DEL_LUA) per mapping, one XADD listing them
 * all, EXEC - pipelined, one round trip, atomic on the server. */
static int sub_chunk(struct rstore *r, const struct store_sub *e, size_t n, char *err,
                     size_t errlen)
{
    int rc = ensure(r, err, errlen);
    if (rc)
        return rc;
    size_t cap = n * (STORE_SUB_ADDR_MAX + 2 * STORE_SUB_ID_MAX + 40) + 1;
    char *log = malloc(cap);
    if (!log) {
        snprintf(err, errlen, "store: %s: subscriber batch: out of memory", r->base.where);
        return -ENOMEM;
    }
    size_t ll = 0;
    uint64_t now = store_now_ms();
    redisAppendCommand(r->c, "MULTI");
    for (size_t i = 0; i < n; i++) {
        char k[sizeof(r->u.prefix) + 8 + STORE_SUB_ADDR_MAX];
        key(k, sizeof(k), r, "sub:ip:", e[i].addr);
        const char *sess = e[i].session && e[i].session[0] ? e[i].session : "-";
        if (e[i].op == STORE_SUB_SET) {
            char v[2 * STORE_SUB_ID_MAX + 32], ttl[24];
            int vl = snprintf(v, sizeof(v), "%s %s %llu", e[i].subscriber, sess,
                              (unsigned long long)(e[i].updated_ms ? e[i].updated_ms : now));
            snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)e[i].ttl_ms);
            const char *a[] = { "SET", k, v, "PX", ttl };
            size_t al[] = { 3, strlen(k), (size_t)vl, 2, strlen(ttl) };
            redisAppendCommandArgv(r->c, e[i].ttl_ms ? 5 : 3, a, al);
            ll += (size_t)snprintf(log + ll, cap - ll, "set %s %s %s %s\n", e[i].addr,
                                   e[i].subscriber, sess, ttl);
        } else if (sess[0] != '-' || sess[1]) {
            redisAppendCommandArgv(r->c, 5, (const char *[]){ "EVAL", SUB_DEL_LUA, "1", k, sess },
                                   NULL);
            ll += (size_t)snprintf(log + ll, cap - ll, "del %s %s\n", e[i].addr, sess);
        } else {
            redisAppendCommandArgv(r->c, 2, (const char *[]){ "DEL", k }, NULL);
            ll += (size_t)snprintf(log + ll, cap - ll, "del %s -\n", e[i].addr);
        }
    }
    char cnt[24], maxlen[24];
    snprintf(cnt, sizeof(cnt), "%zu", n);
    snprintf(maxlen, sizeof(maxlen), "%llu", (unsigned long long)r->base.log_keep);
    const char *xa[] = { "XADD", r->k_sub_changes, "MAXLEN", "~", maxlen, "*", "n",
                         cnt,    "changes",        log };
    size_t xl[10];
    for (int i = 0; i < 9; i++)
        xl[i] = strlen(xa[i]);
    xl[9] = ll ? ll - 1 : 0; /* without the last line end */
    redisAppendCommandArgv(r->c, 10, xa, xl);
    redisAppendCommand(r->c, "EXEC");
    /* MULTI, n + 1 QUEUED, EXEC */
    for (size_t i = 0; i < n + 3; i++) {
        void *v = NULL;
        if (redisGetReply(r->c, &v) != REDIS_OK || !v) {
            snprintf(err, errlen, "store: %s: subscriber batch: %s", r->base.where, r->c->errstr);
            drop(r);
            free(log);
            return -EIO;
        }
        redisReply *rp = v;
        if (!rc && is_readonly(rp)) {
            snprintf(err, errlen, "store: %s: subscriber batch: %.*s", r->base.where, (int)rp->len,
                     rp->str);
            rc = -EROFS;
        } else if (!rc && (rp->type == REDIS_REPLY_ERROR ||
                           (i == n + 2 && rp->type != REDIS_REPLY_ARRAY))) {
            snprintf(err, errlen, "store: %s: subscriber batch: %.*s", r->base.where,
                     rp->type == REDIS_REPLY_ERROR ? (int)rp->len : 7,
                     rp->type == REDIS_REPLY_ERROR ? rp->str : "aborted");
            rc = -EPROTO;
        }
        freeReplyObject(rp);
    }
    if (rc == -EROFS)
        drop(r); /* a demoted primary: rediscover */
    free(log);
    return rc;
}

static int r_sub_apply(struct store *s, const struct store_sub *e, size_t n, char *err,
                       size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    for (size_t i = 0; i < n; i += SUB_BATCH) {
        int rc = sub_chunk(r, e + i, n - i < SUB_BATCH ? n - i : SUB_BATCH, err, errlen);
        if (rc)
            return rc;
    }
    return (int)n;
}

/* Parses a stored value "<sub> <session|-> <updated>" into o (pointers into v, which is
 * modified). 0, or -1 when it is not one. */
static int sub_value(char *v, struct store_sub *o)
{
    char *s1 = strchr(v, ' '), *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
    if (!s1 || !s2 || s1 == v || s2 == s1 + 1)
        return -1;
    *s1 = *s2 = '\0';
    redisReply t = { .type = REDIS_REPLY_STRING, .str = s2 + 1, .len = strlen(s2 + 1) };
    if (reply_u64(&t, &o->updated_ms))
        return -1;
    o->subscriber = v;
    o->session = strcmp(s1 + 1, "-") == 0 ? "" : s1 + 1;
    return 0;
}

/* Pipelines GET + PTTL for n keys (full key names) and calls cb for each live one; addrs[i]
 * is the address part. */
static int sub_fetch(struct rstore *r, char *const *keys, const char *const *addrs, size_t n,
                     store_sub_fn cb, void *ctx, size_t *found, char *err, size_t errlen)
{
    int rc = ensure(r, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        redisAppendCommandArgv(r->c, 2, (const char *[]){ "GET", keys[i] }, NULL);
        redisAppendCommandArgv(r->c, 2, (const char *[]){ "PTTL", keys[i] }, NULL);
    }
    uint64_t now = store_now_ms();
    for (size_t i = 0; i < n; i++) {
        void *g = NULL, *t = NULL;
        if (redisGetReply(r->c, &g) != REDIS_OK || !g || redisGetReply(r->c, &t) != REDIS_OK ||
            !t) {
            snprintf(err, errlen, "store: %s: GET: %s", r->base.where, r->c->errstr);
            if (g)
                freeReplyObject(g);
            drop(r);
            return -EIO;
        }
        redisReply *gr = g, *tr = t;
        if (!rc && gr->type == REDIS_REPLY_STRING && gr->len < 512) {
            char v[512];
            memcpy(v, gr->str, gr->len);
            v[gr->len] = '\0';
            struct store_sub o = { .op = STORE_SUB_SET, .addr = addrs[i] };
            if (sub_value(v, &o) == 0) {
                if (tr->type == REDIS_REPLY_INTEGER && tr->integer > 0)
                    o.expires_ms = now + (uint64_t)tr->integer;
                (*found)++;
                rc = cb(ctx, &o);
            }
        }
        freeReplyObject(gr);
        freeReplyObject(tr);
    }
    return rc;
}

static int r_sub_get(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                     size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char k[sizeof(r->u.prefix) + 8 + STORE_SUB_ADDR_MAX];
    key(k, sizeof(k), r, "sub:ip:", addr);
    char *keys[1] = { k };
    const char *addrs[1] = { addr };
    size_t found = 0;
    int rc = sub_fetch(r, keys, addrs, 1, cb, ctx, &found, err, errlen);
    if (!rc && !found) {
        snprintf(err, errlen, "store: %s: no subscriber mapping for %s", r->base.where, addr);
        return -ENOENT;
    }
    return rc;
}

/* One page of a SCAN-family reply: the next cursor copied into cursor (cap bytes) and the page's
 * array returned (owned by rp); NULL (rp freed) when the reply is not one. */
static const redisReply *scan_page(redisReply *rp, char *cursor, size_t cap)
{
    if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
        rp->element[0]->type != REDIS_REPLY_STRING || rp->element[0]->len >= cap ||
        rp->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rp);
        return NULL;
    }
    snprintf(cursor, cap, "%s", rp->element[0]->str);
    return rp->element[1];
}

static int r_sub_list(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char pat[sizeof(r->u.prefix) + 16];
    key(pat, sizeof(pat), r, "sub:ip:", "*");
    size_t plen = strlen(pat) - 1, found = 0;
    char cursor[32] = "0";
    int rc = 0;
    do {
        redisReply *rp =
            cmd(r, 6, (const char *[]){ "SCAN", cursor, "MATCH", pat, "COUNT", SCAN_COUNT }, NULL,
                true, &rc, err, errlen);
        if (!rp)
            return rc;
        const redisReply *ks = scan_page(rp, cursor, sizeof(cursor));
        if (!ks)
            return bad_reply(r, "SCAN", err, errlen);
        char **keys = calloc(ks->elements + 1, sizeof(*keys));
        const char **addrs = calloc(ks->elements + 1, sizeof(*addrs));
        size_t m = 0;
        if (!keys || !addrs) {
            rc = -ENOMEM;
            snprintf(err, errlen, "store: %s: SCAN: out of memory", r->base.where);
        }
        for (size_t i = 0; !rc && i < ks->elements; i++) {
            const redisReply *kr = ks->element[i];
            if (kr->type != REDIS_REPLY_STRING || kr->len <= plen ||
                !store_sub_addr_valid(kr->str + plen, kr->len - plen))
                continue;
            keys[m] = kr->str;
            addrs[m++] = kr->str + plen;
        }
        if (!rc && m)
            rc = sub_fetch(r, keys, addrs, m, cb, ctx, &found, err, errlen);
        free(keys);
        free(addrs);
        freeReplyObject(rp);
    } while (!rc && strcmp(cursor, "0") != 0);
    return rc;
}

/* Delivers the lines of one stream entry's "changes" field ("set A S SESS TTL" / "del A SESS").
 * Returns the number delivered, or cb's non-zero result (negated count not needed). */
static int sub_lines(const redisReply *fields, store_sub_fn cb, void *ctx, size_t *n)
{
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        const redisReply *k = fields->element[f], *v = fields->element[f + 1];
        if (k->type != REDIS_REPLY_STRING || strcmp(k->str, "changes") != 0 ||
            v->type != REDIS_REPLY_STRING)
            continue;
        const char *p = v->str, *end = v->str + v->len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
            char line[STORE_SUB_ADDR_MAX + 2 * STORE_SUB_ID_MAX + 48], *w[5] = { 0 };
            if (ll < sizeof(line)) {
                memcpy(line, p, ll);
                line[ll] = '\0';
                size_t nw = 0;
                for (char *t = line, *sv = NULL; nw < 5 && (t = strtok_r(t, " ", &sv)); t = NULL)
                    w[nw++] = t;
                bool set = nw == 5 && strcmp(w[0], "set") == 0;
                bool del = nw == 3 && strcmp(w[0], "del") == 0;
                if ((set || del) && store_sub_addr_valid(w[1], strlen(w[1]))) {
                    const char *sess = set ? w[3] : w[2];
                    struct store_sub e = { .op = set ? STORE_SUB_SET : STORE_SUB_DEL,
                                           .addr = w[1],
                                           .subscriber = set ? w[2] : NULL,
                                           .session = strcmp(sess, "-") == 0 ? "" : sess };
                    if (set)
                        e.ttl_ms = strtoull(w[4], NULL, 10);
                    (*n)++;
                    int rc = cb(ctx, &e);
                    if (rc)
                        return rc;
                }
            }
            p += ll + 1;
        }
    }
    return 0;
}

/* What a follower does with the fields of one stream entry: delivers its records, counting
 * them in *n; a non-zero return stops the follow. */
typedef int (*entry_fn)(const redisReply *fields, void *arg, size_t *n);

/* Follows stream from cursor ("": set it to the stream's end and deliver nothing), waiting up
 * to timeout_ms; each entry's fields go to fn. Returns the records delivered or an error. */
static int follow_stream(struct rstore *r, const char *stream, char *cursor, size_t cap,
                         uint32_t timeout_ms, entry_fn fn, void *arg, char *err, size_t errlen)
{
    int rc = 0;
    if (!cursor[0]) {
        redisReply *rp = cmd(r, 6, (const char *[]){ "XREVRANGE", stream, "+", "-", "COUNT", "1" },
                             NULL, true, &rc, err, errlen);
        if (!rp)
            return rc;
        snprintf(cursor, cap, "0-0");
        if (rp->type == REDIS_REPLY_ARRAY && rp->elements == 1 &&
            rp->element[0]->type == REDIS_REPLY_ARRAY && rp->element[0]->elements == 2 &&
            rp->element[0]->element[0]->type == REDIS_REPLY_STRING &&
            rp->element[0]->element[0]->len < cap)
            snprintf(cursor, cap, "%s", rp->element[0]->element[0]->str);
        freeReplyObject(rp);
        return 0;
    }
    char bms[16];
    snprintf(bms, sizeof(bms), "%u", timeout_ms);
    r->op_io_ms = timeout_ms + r->io_ms;
    redisReply *rp = cmd(
        r, 8,
        (const char *[]){ "XREAD", "COUNT", FOLLOW_BATCH, "BLOCK", bms, "STREAMS", stream, cursor },
        NULL, false, &rc, err, errlen);
    r->op_io_ms = 0;
    if (!rp)
        return rc;
    const redisReply *es = entries_of(rp);
    size_t n = 0;
    for (size_t i = 0; es && i < es->elements && !rc; i++) {
        const redisReply *e = es->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= cap ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        snprintf(cursor, cap, "%s", e->element[0]->str);
        rc = fn(e->element[1], arg, &n);
    }
    freeReplyObject(rp);
    return rc ? rc : (int)n;
}

struct sub_follow_arg {
    store_sub_fn cb;
    void *ctx;
};

static int sub_entry(const redisReply *fields, void *arg, size_t *n)
{
    const struct sub_follow_arg *a = arg;
    return sub_lines(fields, a->cb, a->ctx, n);
}

static int r_sub_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                        store_sub_fn cb, void *ctx, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    struct sub_follow_arg a = { cb, ctx };
    return follow_stream(r, r->k_sub_changes, cursor, cap, timeout_ms, sub_entry, &a, err, errlen);
}

/* ---- tariff records (docs/profiles.md) ----
 *
 * PREFIX tariff            hash: "p:NAME" -> profile text, "s:ID" -> subscriber settings text
 * PREFIX tariff:changes    stream: one entry per change, field c = store_tariff_format() */

/* Sets or removes one field and appends the change, atomically. KEYS[1] the hash, KEYS[2] the
 * stream; ARGV: field, "set"/"del", text, stream length kept, change line. 0: nothing to
 * remove. */
static const char TARIFF_LUA[] =
    "if ARGV[2] == 'del' then\n"
    "  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])\n"
    "end\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'c', ARGV[5])\n"
    "return 1\n";

static int r_tariff_apply(struct store *s, const struct store_tariff *t, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char h[sizeof(r->u.prefix) + 16], st[sizeof(r->u.prefix) + 24], field[STORE_SUB_ID_MAX + 4];
    char line[STORE_TARIFF_TEXT_MAX + STORE_SUB_ID_MAX + 8], maxlen[24];
    key(h, sizeof(h), r, "tariff", "");
    key(st, sizeof(st), r, "tariff:changes", "");
    snprintf(field, sizeof(field), "%c:%s", (char)t->kind, t->name);
    snprintf(maxlen, sizeof(maxlen), "%llu", (unsigned long long)r->base.log_keep);
    if (!store_tariff_format(t, line, sizeof(line))) {
        snprintf(err, errlen, "store: %s: tariff record '%s' too long", r->base.where, t->name);
        return -EINVAL;
    }
    int rc = 0;
    redisReply *rp =
        cmd(r, 10,
            (const char *[]){ "EVAL", TARIFF_LUA, "2", h, st, field, t->del ? "del" : "set",
                              t->del ? "" : t->text, maxlen, line },
            NULL, false, &rc, err, errlen);
    if (!rp)
        return rc;
    bool none = rp->type == REDIS_REPLY_INTEGER && rp->integer == 0;
    freeReplyObject(rp);
    if (none) {
        snprintf(err, errlen, "store: %s: no %s '%s'", r->base.where,
                 t->kind == STORE_TARIFF_PROFILE ? "profile" : "subscriber settings", t->name);
        return -ENOENT;
    }
    return 0;
}

static int r_tariff_list(struct store *s, store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char h[sizeof(r->u.prefix) + 16];
    key(h, sizeof(h), r, "tariff", "");
    char cursor[32] = "0";
    int rc = 0;
    do {
        redisReply *rp = cmd(r, 5, (const char *[]){ "HSCAN", h, cursor, "COUNT", SCAN_COUNT },
                             NULL, true, &rc, err, errlen);
        if (!rp)
            return rc;
        const redisReply *kv = scan_page(rp, cursor, sizeof(cursor));
        if (!kv)
            return bad_reply(r, "HSCAN", err, errlen);
        for (size_t i = 0; !rc && i + 1 < kv->elements; i += 2) {
            const redisReply *k = kv->element[i], *v = kv->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || k->len < 3 ||
                k->str[1] != ':' || (k->str[0] != 'p' && k->str[0] != 's'))
                continue;
            struct store_tariff t = { .kind = (enum store_tariff_kind)k->str[0],
                                      .name = k->str + 2,
                                      .text = v->str };
            rc = cb(ctx, &t);
        }
        freeReplyObject(rp);
    } while (!rc && strcmp(cursor, "0") != 0);
    return rc;
}

struct tariff_follow_arg {
    store_tariff_fn cb;
    void *ctx;
};

static int tariff_entry(const redisReply *fields, void *arg, size_t *n)
{
    const struct tariff_follow_arg *a = arg;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        const redisReply *k = fields->element[f], *v = fields->element[f + 1];
        if (k->type != REDIS_REPLY_STRING || strcmp(k->str, "c") != 0 ||
            v->type != REDIS_REPLY_STRING || v->len >= STORE_TARIFF_TEXT_MAX + STORE_SUB_ID_MAX)
            continue;
        char line[STORE_TARIFF_TEXT_MAX + STORE_SUB_ID_MAX + 8];
        memcpy(line, v->str, v->len);
        line[v->len] = '\0';
        struct store_tariff t;
        if (store_tariff_parse(line, &t) != 0)
            continue;
        (*n)++;
        int rc = a->cb(a->ctx, &t);
        if (rc)
            return rc;
    }
    return 0;
}

static int r_tariff_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                           store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    struct rstore *r = (struct rstore *)s;
    char st[sizeof(r->u.prefix) + 24];
    key(st, sizeof(st), r, "tariff:changes", "");
    struct tariff_follow_arg a = { cb, ctx };
    return follow_stream(r, st, cursor, cap, timeout_ms, tariff_entry, &a, err, errlen);
}
