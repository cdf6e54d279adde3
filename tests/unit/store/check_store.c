/* check_store.c - Check suite for the order store (rules/store/): the URL parser, the directory
 * store's change-log lines, credentials files, and one contract table run against both back
 * ends - the directory store and a real redis-server started here on a free loopback port.
 * Redis-only cases: AUTH (password-only and ACL user), SELECT, reconnection after a restart, and
 * a Sentinel failover (primary + replica + three redis-sentinel processes).
 *
 * Servers are started by the unchecked fixtures (in the parent process, so a failing case cannot
 * leak them) and stopped by PID. Without redis-server this suite fails, unless QG_ALLOW_SKIP=1
 * (exit 77). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rules/store/store.h"
#include "tests/lib/proc.h"
#include "rules/store/store_dir.h"
#include "tests/lib/guard.h"

static char g_tmp[64];
static uint16_t g_port; /* the plain redis-server */
static pid_t g_pid;
static uint16_t g_auth_port; /* a redis-server with requirepass */
static pid_t g_auth_pid;
static const char *g_auth_pass = "s3cr#t:pw";

/* ---- processes ------------------------------------------------------------------------------ */

/* Starts argv[0] with its output in g_tmp/log.<name>. */
static pid_t spawn(const char *name, char *const argv[])
{
    char log[128];
    snprintf(log, sizeof(log), "%s/log.%s", g_tmp, name);
    pid_t p = fork();
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    /* A pid file per process: a server started inside a (forked) case is stopped by the
     * parent's teardown even when the case fails half-way. */
    char pf[128];
    snprintf(pf, sizeof(pf), "%s/pid.%s", g_tmp, name);
    FILE *f = fopen(pf, "w");
    if (f) {
        fprintf(f, "%d\n", (int)p);
        fclose(f);
    }
    return p;
}

/* Stops the process of a pid file written by spawn() (it may be a grandchild: kill only). */
static void stop_pidfile(const char *name)
{
    char pf[128];
    snprintf(pf, sizeof(pf), "%s/pid.%s", g_tmp, name);
    FILE *f = fopen(pf, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) == 1 && pid > 0)
            kill(pid, SIGKILL);
        fclose(f);
        unlink(pf);
    }
}

/* Runs a command on 127.0.0.1:port; returns the reply (caller frees) or NULL. */
static redisReply *raw(uint16_t port, const char *pass, int argc, const char **argv)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (pass) {
        redisReply *a = redisCommand(c, "AUTH %s", pass);
        freeReplyObject(a);
    }
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    redisFree(c);
    return r;
}

static bool ping(uint16_t port, const char *pass)
{
    redisReply *r = raw(port, pass, 1, (const char *[]){ "PING" });
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok;
}

static bool wait_ping(uint16_t port, const char *pass, unsigned ms)
{
    for (uint64_t end = proc_mono_ms() + ms; proc_mono_ms() < end; proc_sleep_ms(20))
        if (ping(port, pass))
            return true;
    return false;
}

/* redis-server --port N --save '' --appendonly no --dir TMP [extra...]; waits for PING. */
static pid_t start_redis(const char *name, uint16_t port, const char *pass, const char *replicaof)
{
    char ps[8], rp[16];
    snprintf(ps, sizeof(ps), "%u", port);
    const char *argv[20] = { "redis-server", "--port", ps,      "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no",     "--dir", g_tmp };
    int n = 11;
    if (pass) {
        argv[n++] = "--requirepass";
        argv[n++] = pass;
    }
    if (replicaof) {
        snprintf(rp, sizeof(rp), "%s", replicaof);
        argv[n++] = "--replicaof";
        argv[n++] = "127.0.0.1";
        argv[n++] = rp;
    }
    argv[n] = NULL;
    pid_t p = spawn(name, (char *const *)argv);
    if (!wait_ping(port, pass, 5000)) {
        proc_stop(&p);
        return -1;
    }
    return p;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

/* ---- fixtures ------------------------------------------------------------------------------- */

static void redis_setup(void)
{
    g_port = proc_free_port();
    g_pid = start_redis("redis", g_port, NULL, NULL);
    ck_assert_msg(g_pid > 0, "redis-server did not start on port %u (see %s/log.redis)", g_port,
                  g_tmp);
}

static void redis_teardown(void)
{
    proc_stop(&g_pid);
}

static void auth_setup(void)
{
    g_auth_port = proc_free_port();
    g_auth_pid = start_redis("redis-auth", g_auth_port, g_auth_pass, NULL);
    ck_assert_msg(g_auth_pid > 0, "redis-server (requirepass) did not start");
    /* A Redis 6 ACL user besides the default one. */
    redisReply *r =
        raw(g_auth_port, g_auth_pass, 8,
            (const char *[]){ "ACL", "SETUSER", "qg", "on", ">acl-pass", "~*", "&*", "+@all" });
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

static void auth_teardown(void)
{
    proc_stop(&g_auth_pid);
}

/* ---- back ends of the contract table -------------------------------------------------------- */

enum { BK_DIR, BK_REDIS, BK_N };
static const char *const bk_name[BK_N] = { "dir", "redis" };

static char g_url[256];
static char g_prefix[64]; /* the key prefix open_bk() gave a Redis store ("" for a directory) */

/* A fresh, empty store of back end bk (a new directory; a new key prefix). */
static struct store *open_bk(int bk, const struct store_opts *opts)
{
    static int seq;
    char err[512];
    struct store_opts o = { 0 };
    if (opts)
        o = *opts;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "t%d-%d:", (int)getpid(), ++seq);
    if (bk == BK_DIR)
        snprintf(g_url, sizeof(g_url), "dir://%s/d%d-%d", g_tmp, (int)getpid(), seq);
    else {
        snprintf(g_url, sizeof(g_url), "redis://127.0.0.1:%u", g_port);
        if (!o.prefix)
            o.prefix = prefix;
    }
    snprintf(g_prefix, sizeof(g_prefix), "%s", bk == BK_REDIS ? o.prefix : "");
    struct store *s = store_open(g_url, &o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s: %s", bk_name[bk], err);
    return s;
}

static int64_t publish1(struct store *s, enum store_change_kind k, const char *id, const char *rec,
                        bool urgent)
{
    char err[512];
    struct store_order o = { .id = id, .record = rec, .record_len = rec ? strlen(rec) : 0 };
    struct store_change c = { .kind = k, .urgent = urgent, .orders = &o, .n_orders = 1 };
    int64_t v = store_publish(s, &c, err, sizeof(err));
    if (v < 0)
        fprintf(stderr, "publish %s: %s\n", id, err);
    return v;
}

/* What a walk saw. */
struct seen {
    size_t n;
    char id[2048][32];
    int state[2048];
    uint64_t version[2048];
    char rec[2048][64];
    size_t rlen[2048];
};

static int see(void *ctx, const struct store_order *o)
{
    struct seen *s = ctx;
    if (s->n == 2048)
        return 0;
    snprintf(s->id[s->n], sizeof(s->id[0]), "%s", o->id);
    s->state[s->n] = (int)o->state;
    s->version[s->n] = o->version;
    s->rlen[s->n] = o->record_len;
    if (o->record)
        snprintf(s->rec[s->n], sizeof(s->rec[0]), "%.*s", (int)o->record_len, o->record);
    else
        s->rec[s->n][0] = '\0';
    s->n++;
    return 0;
}

static int find(const struct seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->id[i], id) == 0)
            return (int)i;
    return -1;
}

struct changes {
    size_t n;
    uint64_t version[64];
    int kind[64];
    bool urgent[64];
    size_t n_orders[64];
    char first_id[64][32];
    char first_rec[64][64];
    int first_state[64];
};

static int see_change(void *ctx, const struct store_change *c)
{
    struct changes *s = ctx;
    if (s->n == 64)
        return 0;
    s->version[s->n] = c->version;
    s->kind[s->n] = (int)c->kind;
    s->urgent[s->n] = c->urgent;
    s->n_orders[s->n] = c->n_orders;
    snprintf(s->first_id[s->n], 32, "%s", c->orders[0].id);
    snprintf(s->first_rec[s->n], 64, "%.*s", (int)c->orders[0].record_len,
             c->orders[0].record ? c->orders[0].record : "");
    s->first_state[s->n] = (int)c->orders[0].state;
    s->n++;
    return 0;
}

/* ---- contract cases (each runs for both back ends) ------------------------------------------ */

START_TEST(contract_publish_snapshot)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t v = 99;
    ck_assert_int_eq(store_version(s, &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "A-1", "{\"id\":\"A-1\"}", false), 1);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "B.2", "{\"id\":\"B.2\"}", false), 2);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_REVOKE, "A-1", NULL, true), 3);
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_snapshot(s, &v, see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 3);
    ck_assert_uint_eq(seen->n, 2);
    int a = find(seen, "A-1"), b = find(seen, "B.2");
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_eq(seen->state[a], STORE_REVOKED);
    ck_assert_uint_eq(seen->version[a], 3);
    ck_assert_str_eq(seen->rec[a], "{\"id\":\"A-1\"}"); /* revoke keeps the record */
    ck_assert_int_eq(seen->state[b], STORE_ACTIVE);
    ck_assert_uint_eq(seen->version[b], 2);
    ck_assert_str_eq(seen->rec[b], "{\"id\":\"B.2\"}");
    /* restore with a new record replaces it; an import of an existing id amends it */
    ck_assert_int_eq(publish1(s, STORE_CHANGE_RESTORE, "A-1", "{\"v\":2}", false), 4);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "B.2", "{\"v\":3}", false), 5);
    memset(seen, 0, sizeof(*seen));
    ck_assert_int_eq(store_snapshot(s, &v, see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 5);
    a = find(seen, "A-1");
    b = find(seen, "B.2");
    ck_assert_int_eq(seen->state[a], STORE_ACTIVE);
    ck_assert_str_eq(seen->rec[a], "{\"v\":2}");
    ck_assert_str_eq(seen->rec[b], "{\"v\":3}");
    free(seen);
    store_free(s);
}
END_TEST

START_TEST(contract_get_list)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "one", "{\"r\":1}", false), 1);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "two", "{\"r\":22}", false), 2);
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_get(s, "two", see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(seen->n, 1);
    ck_assert_str_eq(seen->rec[0], "{\"r\":22}");
    ck_assert_int_eq(store_get(s, "three", see, seen, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "three"));
    ck_assert_int_eq(store_get(s, "bad id", see, seen, err, sizeof(err)), -EINVAL);
    memset(seen, 0, sizeof(*seen));
    ck_assert_int_eq(store_list(s, see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(seen->n, 2);
    int t = find(seen, "two");
    ck_assert_int_ge(t, 0);
    ck_assert_uint_eq(seen->rlen[t], 8); /* length without the record */
    ck_assert_str_eq(seen->rec[t], "");
    ck_assert_uint_eq(seen->version[t], 2);
    free(seen);
    store_free(s);
}
END_TEST

START_TEST(contract_refusals)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t v;
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "x", "{}", false), 1);
    /* revoke/restore of an unknown id: -ENOENT, nothing changes - even with a known id beside */
    ck_assert_int_eq(publish1(s, STORE_CHANGE_REVOKE, "nope", NULL, false), -ENOENT);
    struct store_order two[2] = { { .id = "x" }, { .id = "nope" } };
    struct store_change c = { .kind = STORE_CHANGE_REVOKE, .orders = two, .n_orders = 2 };
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, "nope") && strstr(err, "no such order"), "%s", err);
    ck_assert_int_eq(store_version(s, &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 1);
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_get(s, "x", see, seen, err, sizeof(err)), 0);
    ck_assert_int_eq(seen->state[0], STORE_ACTIVE);
    free(seen);
    /* malformed changes */
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "y", NULL, false), -EINVAL);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "a/b", "{}", false), -EINVAL);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, ".hidden", "{}", false), -EINVAL);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "a,b", "{}", false), -EINVAL);
    ck_assert_int_eq(publish1(s, (enum store_change_kind)9, "y", "{}", false), -EINVAL);
    struct store_order dup[2] = { { .id = "d", .record = "1", .record_len = 1 },
                                  { .id = "d", .record = "2", .record_len = 1 } };
    c = (struct store_change){ .kind = STORE_CHANGE_IMPORT, .orders = dup, .n_orders = 2 };
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), -EINVAL);
    c.n_orders = 0;
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(store_version(s, &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 1);
    store_free(s);
}
END_TEST

START_TEST(contract_follow)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t last;
    struct changes ch = { 0 };
    /* nothing yet, no wait */
    ck_assert_int_eq(store_follow(s, 0, 0, see_change, &ch, &last, err, sizeof(err)), 0);
    ck_assert_uint_eq(last, 0);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "o1", "{\"a\":1}", false), 1);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "o2", "{\"a\":2}", true), 2);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_REVOKE, "o1", NULL, true), 3);
    ck_assert_int_eq(store_follow(s, 0, 0, see_change, &ch, &last, err, sizeof(err)), 3);
    ck_assert_uint_eq(last, 3);
    ck_assert_uint_eq(ch.n, 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(ch.version[i], i + 1);
    ck_assert_int_eq(ch.kind[0], STORE_CHANGE_IMPORT);
    ck_assert_int_eq(ch.kind[2], STORE_CHANGE_REVOKE);
    ck_assert(!ch.urgent[0] && ch.urgent[1] && ch.urgent[2]);
    ck_assert_str_eq(ch.first_id[1], "o2");
    ck_assert_str_eq(ch.first_rec[1], "{\"a\":2}");
    /* orders are delivered as stored when read: o1 is already revoked in change 1 */
    ck_assert_int_eq(ch.first_state[0], STORE_REVOKED);
    ck_assert_str_eq(ch.first_rec[0], "{\"a\":1}");
    /* from the middle */
    memset(&ch, 0, sizeof(ch));
    ck_assert_int_eq(store_follow(s, 2, 0, see_change, &ch, &last, err, sizeof(err)), 1);
    ck_assert_uint_eq(ch.version[0], 3);
    /* up to date: a wait that times out */
    uint64_t t0 = proc_mono_ms();
    ck_assert_int_eq(store_follow(s, 3, 200, see_change, &ch, &last, err, sizeof(err)), 0);
    ck_assert_uint_ge(proc_mono_ms() - t0, 150);
    ck_assert_uint_eq(last, 3);
    /* a change of many orders */
    struct store_order many[300];
    char ids[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(ids[i], sizeof(ids[i]), "m%d", i);
        many[i] = (struct store_order){ .id = ids[i], .record = "{}", .record_len = 2 };
    }
    struct store_change c = { .kind = STORE_CHANGE_IMPORT, .orders = many, .n_orders = 300 };
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), 4);
    memset(&ch, 0, sizeof(ch));
    ck_assert_int_eq(store_follow(s, 3, 0, see_change, &ch, &last, err, sizeof(err)), 1);
    ck_assert_uint_eq(ch.n_orders[0], 300);
    ck_assert_str_eq(ch.first_id[0], "m0");
    store_free(s);
}
END_TEST

struct later {
    int bk;
    char url[256];
    const char *prefix;
    unsigned delay_ms;
    uint64_t published_at;
};

static void *publish_later(void *arg)
{
    struct later *l = arg;
    char err[512];
    struct store_opts o = { .prefix = l->prefix };
    struct store *s = store_open(l->url, &o, err, sizeof(err));
    if (!s)
        return NULL;
    proc_sleep_ms(l->delay_ms);
    l->published_at = proc_mono_ms();
    publish1(s, STORE_CHANGE_IMPORT, "late", "{\"late\":1}", false);
    store_free(s);
    return NULL;
}

START_TEST(contract_follow_wakes)
{
    struct store_opts o = { 0 };
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "w%d:", (int)getpid());
    o.prefix = prefix;
    struct store *s = open_bk(_i, &o);
    struct later l = { .bk = _i, .prefix = prefix, .delay_ms = 300 };
    snprintf(l.url, sizeof(l.url), "%s", g_url);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, publish_later, &l), 0);
    char err[512];
    uint64_t last;
    struct changes ch = { 0 };
    int n = store_follow(s, 0, 5000, see_change, &ch, &last, err, sizeof(err));
    uint64_t woke = proc_mono_ms();
    pthread_join(t, NULL);
    ck_assert_msg(n == 1, "follow: %d %s", n, err);
    ck_assert_str_eq(ch.first_id[0], "late");
    ck_assert_uint_gt(l.published_at, 0);
    /* woken by the change, not by the timeout */
    ck_assert_uint_lt(woke - l.published_at, 1000);
    store_free(s);
}
END_TEST

START_TEST(contract_gap)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t last;
    struct changes ch = { 0 };
    char id[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof(id), "g%d", i);
        ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, id, "{}", false), i);
    }
    ck_assert_int_eq(store_trim(s, 2, err, sizeof(err)), 0);
    /* 1..3 are gone: from 1 (or 2) there is a gap */
    ck_assert_int_eq(store_follow(s, 1, 0, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    ck_assert_msg(strstr(err, "snapshot") != NULL, "%s", err);
    ck_assert_int_eq(store_follow(s, 2, 0, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    ck_assert_uint_eq(ch.n, 0);
    /* from 3 the log still has 4 and 5 */
    ck_assert_int_eq(store_follow(s, 3, 0, see_change, &ch, &last, err, sizeof(err)), 2);
    ck_assert_uint_eq(last, 5);
    /* ahead of the store (it was reset): load the snapshot */
    ck_assert_int_eq(store_follow(s, 9, 0, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    /* everything trimmed: still a gap, not a wait */
    ck_assert_int_eq(store_trim(s, 0, err, sizeof(err)), 0);
    ck_assert_int_eq(store_follow(s, 3, 1000, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    store_free(s);
}
END_TEST

static int see_node(void *ctx, const struct store_node *n)
{
    struct store_node *out = ctx;
    if (strcmp(n->id, "node-a") == 0)
        out[0] = *n, out[0].id = "node-a";
    else if (strcmp(n->id, "node-b") == 0)
        out[1] = *n, out[1].id = "node-b";
    else
        out[2].version++; /* count strangers */
    return 0;
}

/* What store_nodes() said of one node. */
struct about {
    const char *id;
    char software[STORE_NODE_ABOUT_MAX], mode[STORE_NODE_ABOUT_MAX];
    uint64_t version;
    bool alive, seen;
};

static int see_about(void *ctx, const struct store_node *n)
{
    struct about *a = ctx;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(a[i].id, n->id) == 0) {
            ck_assert(n->software != NULL && n->mode != NULL);
            snprintf(a[i].software, sizeof(a[i].software), "%s", n->software);
            snprintf(a[i].mode, sizeof(a[i].mode), "%s", n->mode);
            a[i].version = n->version;
            a[i].alive = n->alive;
            a[i].seen = true;
        }
    return 0;
}

START_TEST(contract_acks)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t t = store_now_ms();
    ck_assert_int_eq(store_node_ack(s, "node-a", 7, t - 5000, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-b", 6, t - 100, 150, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "bad/id", 6, t, 1000, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(store_node_ack(s, "node-c", 6, t, 0, err, sizeof(err)), -EINVAL);
    struct store_node nd[3];
    memset(nd, 0, sizeof(nd));
    ck_assert_int_eq(store_nodes(s, see_node, nd, err, sizeof(err)), 0);
    ck_assert_uint_eq(nd[0].version, 7);
    ck_assert_uint_eq(nd[0].since_ms, t - 5000);
    ck_assert_uint_ge(nd[0].heartbeat_ms, t);
    ck_assert(nd[0].alive && nd[1].alive);
    ck_assert_uint_eq(nd[1].version, 6);
    ck_assert_uint_eq(nd[2].version, 0);
    proc_sleep_ms(400); /* node-b's heartbeat expires */
    memset(nd, 0, sizeof(nd));
    ck_assert_int_eq(store_nodes(s, see_node, nd, err, sizeof(err)), 0);
    ck_assert(nd[0].alive);
    ck_assert(!nd[1].alive);
    ck_assert_uint_eq(nd[1].version, 6);
    /* a heartbeat brings it back; a new version moves since */
    ck_assert_int_eq(store_node_ack(s, "node-b", 8, t + 1, 60000, err, sizeof(err)), 0);
    memset(nd, 0, sizeof(nd));
    ck_assert_int_eq(store_nodes(s, see_node, nd, err, sizeof(err)), 0);
    ck_assert(nd[1].alive);
    ck_assert_uint_eq(nd[1].version, 8);
    ck_assert_uint_eq(nd[1].since_ms, t + 1);
    store_free(s);
}
END_TEST

/* What a node runs: its software version and mode round-trip; a record written by an older
 * release (without them) reads as ""; a later acknowledgement without them clears them. */
START_TEST(contract_node_about)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t t = store_now_ms();
    ck_assert_int_eq(store_node_ack_about(s, "node-a", 3, t, 60000, "0.2.0~rc1+deb12", "inline",
                                          err, sizeof(err)),
                     0);
    ck_assert_int_eq(store_node_ack_about(s, "node-b", 3, t, 60000, "", "tap", err, sizeof(err)),
                     0);
    /* refused: a space (a field separator of the node file), "-", too long */
    ck_assert_int_eq(
        store_node_ack_about(s, "node-c", 3, t, 60000, "0.2 beta", "tap", err, sizeof(err)),
        -EINVAL);
    ck_assert_msg(strstr(err, "software version") != NULL, "%s", err);
    ck_assert_int_eq(store_node_ack_about(s, "node-c", 3, t, 60000, "0.2", "-", err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, "mode") != NULL, "%s", err);
    char longv[STORE_NODE_ABOUT_MAX + 1];
    memset(longv, '1', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    ck_assert_int_eq(store_node_ack_about(s, "node-c", 3, t, 60000, longv, "tap", err, sizeof(err)),
                     -EINVAL);
    longv[STORE_NODE_ABOUT_MAX - 1] = '\0'; /* the longest accepted */
    ck_assert_int_eq(
        store_node_ack_about(s, "node-c", 3, t, 60000, longv, "queue", err, sizeof(err)), 0);
    /* node-old: written as a release without these fields wrote it */
    if (_i == BK_DIR) {
        char path[512];
        snprintf(path, sizeof(path), "%s/nodes/node-old", g_url + strlen("dir://"));
        FILE *f = fopen(path, "w");
        ck_assert_msg(f != NULL, "%s", path);
        fprintf(f, "2 %llu %llu 60000\n", (unsigned long long)(t - 10),
                (unsigned long long)store_now_ms());
        fclose(f);
    } else {
        char kn[128], kh[160], ka[170], tb[24];
        snprintf(kn, sizeof(kn), "%snodes", g_prefix);
        snprintf(kh, sizeof(kh), "%snode:node-old", g_prefix);
        snprintf(ka, sizeof(ka), "%s:alive", kh);
        snprintf(tb, sizeof(tb), "%llu", (unsigned long long)store_now_ms());
        freeReplyObject(raw(g_port, NULL, 3, (const char *[]){ "SADD", kn, "node-old" }));
        freeReplyObject(raw(g_port, NULL, 10,
                            (const char *[]){ "HSET", kh, "version", "2", "since", tb, "heartbeat",
                                              tb, "ttl", "60000" }));
        freeReplyObject(raw(g_port, NULL, 5, (const char *[]){ "SET", ka, tb, "PX", "60000" }));
    }
    struct about want[] = { { "node-a", "0.2.0~rc1+deb12", "inline", 3, true, false },
                            { "node-b", "", "tap", 3, true, false },
                            { "node-c", "", "queue", 3, true, false },
                            { "node-old", "", "", 2, true, false } };
    memcpy(want[2].software, longv, sizeof(want[2].software)); /* longv[63] is its NUL */
    struct about got[4];
    memcpy(got, want, sizeof(got));
    for (size_t i = 0; i < 4; i++)
        got[i].software[0] = got[i].mode[0] = 'X', got[i].software[1] = got[i].mode[1] = 0;
    ck_assert_int_eq(store_nodes(s, see_about, got, err, sizeof(err)), 0);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_msg(got[i].seen, "%s: %s not listed", bk_name[_i], want[i].id);
        ck_assert_str_eq(got[i].software, want[i].software);
        ck_assert_str_eq(got[i].mode, want[i].mode);
        ck_assert_uint_eq(got[i].version, want[i].version);
        ck_assert(got[i].alive);
    }
    /* the old node upgraded: its next acknowledgement carries them; a plain one clears them */
    ck_assert_int_eq(
        store_node_ack_about(s, "node-old", 4, t, 60000, "0.2.0", "tap", err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-a", 4, t, 60000, err, sizeof(err)), 0);
    snprintf(want[3].software, sizeof(want[3].software), "0.2.0");
    snprintf(want[3].mode, sizeof(want[3].mode), "tap");
    want[0].software[0] = want[0].mode[0] = '\0';
    for (size_t i = 0; i < 4; i++)
        got[i].seen = false;
    ck_assert_int_eq(store_nodes(s, see_about, got, err, sizeof(err)), 0);
    ck_assert(got[0].seen && got[3].seen);
    ck_assert_str_eq(got[3].software, "0.2.0");
    ck_assert_str_eq(got[3].mode, "tap");
    ck_assert_uint_eq(got[3].version, 4);
    ck_assert_str_eq(got[0].software, "");
    ck_assert_str_eq(got[0].mode, "");
    store_free(s);
}
END_TEST

/* ---- evidence (each runs for both back ends) ------------------------------------------------ */

struct enf_seen {
    size_t n;
    struct store_enforced e[16];
};

static int see_enf(void *ctx, const struct store_enforced *e)
{
    struct enf_seen *s = ctx;
    if (s->n < 16)
        s->e[s->n++] = *e;
    return 0;
}

START_TEST(contract_enforcement_log)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    struct enf_seen es = { 0 };
    ck_assert_int_eq(store_enforced(s, "node-a", see_enf, &es, err, sizeof(err)), -ENOENT);
    ck_assert_int_eq(store_node_ack(s, "node-a", 3, 1000, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-a", 3, 1000, 60000, err, sizeof(err)), 0); /* beat */
    ck_assert_int_eq(store_node_ack(s, "node-a", 5, 2000, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-a", 5, 2000, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-a", 9, 3500, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_node_ack(s, "node-b", 9, 3600, 60000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_enforced(s, "node-a", see_enf, &es, err, sizeof(err)), 0);
    ck_assert_uint_eq(es.n, 3);
    ck_assert_uint_eq(es.e[0].version, 3);
    ck_assert_uint_eq(es.e[0].since_ms, 1000);
    ck_assert_uint_eq(es.e[1].version, 5);
    ck_assert_uint_eq(es.e[1].since_ms, 2000);
    ck_assert_uint_eq(es.e[2].version, 9);
    ck_assert_uint_eq(es.e[2].since_ms, 3500);
    memset(&es, 0, sizeof(es));
    ck_assert_int_eq(store_enforced(s, "node-b", see_enf, &es, err, sizeof(err)), 0);
    ck_assert_uint_eq(es.n, 1);
    ck_assert_uint_eq(es.e[0].since_ms, 3600);
    ck_assert_int_eq(store_enforced(s, "../x", see_enf, &es, err, sizeof(err)), -EINVAL);
    store_free(s);
}
END_TEST

struct ev_seen {
    size_t n;
    struct store_event e[16];
};

static int see_ev(void *ctx, const struct store_event *e)
{
    struct ev_seen *s = ctx;
    if (s->n < 16)
        s->e[s->n++] = *e;
    return 0;
}

START_TEST(contract_events_survive_trim)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    struct ev_seen es = { 0 };
    ck_assert_int_eq(store_events(s, "A", see_ev, &es, err, sizeof(err)), -ENOENT);
    uint64_t t0 = store_now_ms();
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "A", "ra", false), 1);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "B", "rb", false), 2);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_REVOKE, "A", NULL, true), 3);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_RESTORE, "A", NULL, false), 4);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_RESTORE, "nope", NULL, false), -ENOENT);
    ck_assert_int_eq(store_trim(s, 0, err, sizeof(err)), 0); /* the change log is gone */
    ck_assert_msg(store_events(s, "A", see_ev, &es, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(es.n, 3);
    ck_assert_int_eq(es.e[0].kind, STORE_CHANGE_IMPORT);
    ck_assert_uint_eq(es.e[0].version, 1);
    ck_assert_int_eq(es.e[1].kind, STORE_CHANGE_REVOKE);
    ck_assert_uint_eq(es.e[1].version, 3);
    ck_assert_int_eq(es.e[2].kind, STORE_CHANGE_RESTORE);
    ck_assert_uint_eq(es.e[2].version, 4);
    ck_assert_uint_ge(es.e[0].time_ms, t0);
    ck_assert_uint_le(es.e[0].time_ms, es.e[1].time_ms);
    ck_assert_uint_le(es.e[1].time_ms, es.e[2].time_ms);
    memset(&es, 0, sizeof(es));
    ck_assert_int_eq(store_events(s, "B", see_ev, &es, err, sizeof(err)), 0);
    ck_assert_uint_eq(es.n, 1);
    ck_assert_uint_eq(es.e[0].version, 2);
    memset(&es, 0, sizeof(es));
    ck_assert_int_eq(store_events(s, "nope", see_ev, &es, err, sizeof(err)), -ENOENT);
    store_free(s);
}
END_TEST

struct hit_seen {
    size_t n;
    char entry[16][64];
    struct store_hit h[16];
};

static int see_hit(void *ctx, const struct store_hit *h)
{
    struct hit_seen *s = ctx;
    if (s->n < 16) {
        snprintf(s->entry[s->n], 64, "%s", h->entry);
        s->h[s->n] = *h;
        s->h[s->n].entry = s->entry[s->n];
        s->n++;
    }
    return 0;
}

static const struct store_hit *hit_of(const struct hit_seen *s, const char *entry)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->entry[i], entry) == 0)
            return &s->h[i];
    return NULL;
}

START_TEST(contract_hits)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    struct hit_seen hs = { 0 };
    ck_assert_int_eq(store_hits(s, "A", see_hit, &hs, err, sizeof(err)), 0);
    ck_assert_uint_eq(hs.n, 0);
    /* one batch: two orders share an entry; a duplicate entry in the batch adds up */
    struct store_hit b1[] = {
        { "A", "casino.kz", 3, 1000, 1500 },
        { "B", "casino.kz", 3, 1000, 1500 },
        { "A", "http://x.kz/a b", 1, 1200, 1200 },
        { "A", "casino.kz", 2, 900, 1400 },
        { "A", "zero.kz", 0, 0, 0 },
    };
    ck_assert_int_eq(store_hits_add(s, b1, 5, err, sizeof(err)), 0);
    struct store_hit b2[] = { { "A", "casino.kz", 10, 1100, 2500 },
                              { "A", "aaa.kz", 1, 3000, 3000 } };
    ck_assert_int_eq(store_hits_add(s, b2, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(store_hits(s, "A", see_hit, &hs, err, sizeof(err)), 0);
    ck_assert_uint_eq(hs.n, 3);
    const struct store_hit *h = hit_of(&hs, "casino.kz");
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->count, 15);
    ck_assert_uint_eq(h->first_ms, 900);
    ck_assert_uint_eq(h->last_ms, 2500);
    h = hit_of(&hs, "http://x.kz/a b");
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->count, 1);
    ck_assert_uint_eq(h->first_ms, 1200);
    h = hit_of(&hs, "aaa.kz");
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->last_ms, 3000);
    ck_assert_ptr_null(hit_of(&hs, "zero.kz"));
    memset(&hs, 0, sizeof(hs));
    ck_assert_int_eq(store_hits(s, "B", see_hit, &hs, err, sizeof(err)), 0);
    ck_assert_uint_eq(hs.n, 1);
    ck_assert_uint_eq(hs.h[0].count, 3);
    /* refusals change nothing */
    struct store_hit bad[] = { { "A", "casino.kz", 1, 1, 1 }, { "A", "a\nb", 1, 1, 1 } };
    ck_assert_int_eq(store_hits_add(s, bad, 2, err, sizeof(err)), -EINVAL);
    struct store_hit bad2[] = { { "../A", "casino.kz", 1, 1, 1 } };
    ck_assert_int_eq(store_hits_add(s, bad2, 1, err, sizeof(err)), -EINVAL);
    memset(&hs, 0, sizeof(hs));
    ck_assert_int_eq(store_hits(s, "A", see_hit, &hs, err, sizeof(err)), 0);
    ck_assert_uint_eq(hit_of(&hs, "casino.kz")->count, 15);
    store_free(s);
}
END_TEST

struct doc_seen {
    char buf[256];
    size_t len;
};

static int see_doc(void *ctx, const char *bytes, size_t len)
{
    struct doc_seen *d = ctx;
    d->len = len;
    memcpy(d->buf, bytes, len < sizeof(d->buf) ? len : sizeof(d->buf));
    return 0;
}

START_TEST(contract_docs)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    struct doc_seen d = { 0 };
    ck_assert_int_eq(store_doc_get(s, "verify", "A", see_doc, &d, err, sizeof(err)), -ENOENT);
    static const char bin[] = { 'x', '\0', 'y', '\n' };
    ck_assert_int_eq(store_doc_put(s, "verify", "A", bin, 4, err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_put(s, "report", "A", "r1", 2, err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_get(s, "verify", "A", see_doc, &d, err, sizeof(err)), 0);
    ck_assert_uint_eq(d.len, 4);
    ck_assert_mem_eq(d.buf, bin, 4);
    ck_assert_int_eq(store_doc_put(s, "report", "A", "second", 6, err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_get(s, "report", "A", see_doc, &d, err, sizeof(err)), 0);
    ck_assert_uint_eq(d.len, 6);
    ck_assert_mem_eq(d.buf, "second", 6);
    ck_assert_int_eq(store_doc_put(s, "re/port", "A", "x", 1, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(store_doc_get(s, "report", "..", see_doc, &d, err, sizeof(err)), -EINVAL);
    /* several at once: a new kind, a replaced document, a repeated id (the later one wins) */
    const struct store_doc many[] = {
        { "m1", "one", 3 }, { "A", "third", 5 }, { "m2", bin, 4 }, { "m1", "uno", 3 }
    };
    ck_assert_int_eq(store_doc_put_many(s, "tsum", many, 4, err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_get(s, "tsum", "m1", see_doc, &d, err, sizeof(err)), 0);
    ck_assert_uint_eq(d.len, 3);
    ck_assert_mem_eq(d.buf, "uno", 3);
    ck_assert_int_eq(store_doc_get(s, "tsum", "m2", see_doc, &d, err, sizeof(err)), 0);
    ck_assert_uint_eq(d.len, 4);
    ck_assert_mem_eq(d.buf, bin, 4);
    ck_assert_int_eq(store_doc_put_many(s, "report", many + 1, 1, err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_get(s, "report", "A", see_doc, &d, err, sizeof(err)), 0);
    ck_assert_mem_eq(d.buf, "third", 5);
    /* one bad id refuses the whole write: nothing of it stored */
    const struct store_doc bad[] = { { "m3", "x", 1 }, { "a/b", "y", 1 } };
    ck_assert_int_eq(store_doc_put_many(s, "tsum", bad, 2, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "document 2 of 2"));
    ck_assert_int_eq(store_doc_get(s, "tsum", "m3", see_doc, &d, err, sizeof(err)), -ENOENT);
    ck_assert_int_eq(store_doc_put_many(s, "tsum", NULL, 0, err, sizeof(err)), 0);
    store_free(s);
}
END_TEST

struct whole {
    const char *want;
    size_t len;
    bool same;
};

static int same_record(void *ctx, const struct store_order *o)
{
    struct whole *w = ctx;
    w->same = o->record && o->record_len == w->len && memcmp(o->record, w->want, w->len) == 0;
    return 0;
}

START_TEST(contract_limits)
{
    struct store_opts o = { .max_record = 1 << 20, .max_orders = 4 };
    struct store *s = open_bk(_i, &o);
    char err[512];
    size_t big = (size_t)1 << 20;
    char *rec = malloc(big + 1);
    for (size_t i = 0; i < big + 1; i++)
        rec[i] = (char)('a' + i % 26);
    struct store_order ord = { .id = "big", .record = rec, .record_len = big };
    struct store_change c = { .kind = STORE_CHANGE_IMPORT, .orders = &ord, .n_orders = 1 };
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), 1); /* exactly the limit */
    ord.record_len = big + 1;
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), -E2BIG);
    ck_assert_msg(strstr(err, "big") && strstr(err, "limit"), "%s", err);
    struct store_order five[5] = { { .id = "a", .record = "1", .record_len = 1 },
                                   { .id = "b", .record = "1", .record_len = 1 },
                                   { .id = "c", .record = "1", .record_len = 1 },
                                   { .id = "d", .record = "1", .record_len = 1 },
                                   { .id = "e", .record = "1", .record_len = 1 } };
    c = (struct store_change){ .kind = STORE_CHANGE_IMPORT, .orders = five, .n_orders = 5 };
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), -EINVAL);
    c.n_orders = 4;
    ck_assert_int_eq(store_publish(s, &c, err, sizeof(err)), 2);
    /* the 1 MiB record comes back whole */
    uint64_t v;
    size_t total = 0;
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_snapshot(s, &v, see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 2);
    ck_assert_uint_eq(seen->n, 5);
    int b = find(seen, "big");
    ck_assert_int_ge(b, 0);
    ck_assert_uint_eq(seen->rlen[b], big);
    ck_assert_int_eq(memcmp(seen->rec[b], rec, 63), 0);
    for (size_t i = 0; i < seen->n; i++)
        total += seen->rlen[i];
    ck_assert_uint_eq(total, big + 4);
    free(seen);
    struct whole w = { .want = rec, .len = big };
    ck_assert_int_eq(store_get(s, "big", same_record, &w, err, sizeof(err)), 0);
    ck_assert(w.same);
    /* a handle with a smaller limit refuses to read it */
    struct store_opts small = { .max_record = 1000, .prefix = g_prefix[0] ? g_prefix : NULL };
    struct store *s2 = store_open(g_url, &small, err, sizeof(err));
    ck_assert_msg(s2 != NULL, "%s", err);
    ck_assert_int_eq(store_get(s2, "big", same_record, &w, err, sizeof(err)), -E2BIG);
    store_free(s2);
    free(rec);
    store_free(s);
}
END_TEST

struct pub_many {
    char url[256];
    const char *prefix;
    int n;
    int done;
};

static void *publisher(void *arg)
{
    struct pub_many *p = arg;
    char err[512];
    struct store_opts o = { .prefix = p->prefix };
    struct store *s = store_open(p->url, &o, err, sizeof(err));
    if (!s)
        return NULL;
    char id[16];
    for (int i = 1; i <= p->n; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        if (publish1(s, STORE_CHANGE_IMPORT, id, "{\"c\":1}", false) != i)
            break;
        __atomic_store_n(&p->done, i, __ATOMIC_RELEASE);
    }
    store_free(s);
    return NULL;
}

struct snapcheck {
    const uint64_t *version; /* the snapshot's, set before the first callback */
    size_t n;
    size_t newer; /* orders newer than the snapshot's version: must stay 0 */
};

static int snap_check(void *ctx, const struct store_order *o)
{
    struct snapcheck *c = ctx;
    c->n++;
    if (*c->version == 0 || o->version > *c->version)
        c->newer++;
    return 0;
}

START_TEST(contract_snapshot_consistent)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "sc%d:", (int)getpid());
    struct store_opts o = { .prefix = prefix };
    struct store *s = open_bk(_i, &o);
    struct pub_many p = { .prefix = prefix, .n = 150 };
    snprintf(p.url, sizeof(p.url), "%s", g_url);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, publisher, &p), 0);
    char err[512];
    int snaps = 0;
    uint64_t v = 0;
    while (__atomic_load_n(&p.done, __ATOMIC_ACQUIRE) < p.n) {
        /* each change imports one new order: a consistent snapshot at version v has exactly v
         * orders, none newer than v */
        struct snapcheck c = { .version = &v };
        int rc = store_snapshot(s, &v, snap_check, &c, err, sizeof(err));
        ck_assert_msg(rc == 0, "%s", err);
        if (v == 0)
            continue;
        ck_assert_uint_eq(c.n, v);
        ck_assert_uint_eq(c.newer, 0);
        snaps++;
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(p.done, p.n);
    struct snapcheck c = { .version = &v };
    ck_assert_int_eq(store_snapshot(s, &v, snap_check, &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 150);
    ck_assert_uint_eq(c.n, 150);
    ck_assert_uint_eq(c.newer, 0);
    ck_assert_int_gt(snaps, 0);
    fprintf(stderr, "%s: %d consistent snapshots during 150 publishes\n", bk_name[_i], snaps);
    store_free(s);
}
END_TEST

struct in_order {
    uint64_t next; /* the version expected next */
    size_t bad;
};

static int check_order(void *ctx, const struct store_change *c)
{
    struct in_order *o = ctx;
    if (c->version != o->next)
        o->bad++;
    o->next = c->version + 1;
    return 0;
}

/* A follower keeping up with a publisher: every change, in order, and never -ESTALE (a change
 * published between two reads of the follower is not a gap). */
START_TEST(contract_follow_concurrent)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "fc%d:", (int)getpid());
    struct store_opts o = { .prefix = prefix };
    struct store *s = open_bk(_i, &o);
    struct pub_many p = { .prefix = prefix, .n = 600 };
    snprintf(p.url, sizeof(p.url), "%s", g_url);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, publisher, &p), 0);
    char err[512];
    struct in_order io = { .next = 1 };
    uint64_t at = 0, end = proc_mono_ms() + 20000;
    while (at < 600 && proc_mono_ms() < end) {
        uint64_t last;
        /* no wait: poll as fast as possible, to hit the publisher between two reads */
        int n = store_follow(s, at, 0, check_order, &io, &last, err, sizeof(err));
        ck_assert_msg(n >= 0, "follow from %llu: %s", (unsigned long long)at, err);
        at = last;
    }
    pthread_join(t, NULL);
    ck_assert_uint_eq(at, 600);
    ck_assert_uint_eq(io.next, 601);
    ck_assert_uint_eq(io.bad, 0);
    store_free(s);
}
END_TEST

/* A failover can lose the last changes and reuse their versions for others. A handle that
 * delivered version 2 notices, when asked to follow from 2, that the store's change 2 is
 * another one. Simulated by hand: the entry of version 2 removed and the version set back,
 * as on a replica that never received it, then a new change 2. */
START_TEST(redis_lost_change)
{
    char prefix[64], k[96], err[512];
    snprintf(prefix, sizeof(prefix), "lc%d:", (int)getpid());
    struct store_opts o = { .prefix = prefix };
    struct store *s = open_bk(BK_REDIS, &o);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "a", "{}", false), 1);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "b", "{}", false), 2);
    uint64_t last, v;
    struct changes ch = { 0 };
    ck_assert_int_eq(store_follow(s, 0, 0, see_change, &ch, &last, err, sizeof(err)), 2);
    /* nothing new, same change 2: following from 2 is fine */
    ck_assert_int_eq(store_follow(s, 2, 0, see_change, &ch, &last, err, sizeof(err)), 0);
    snprintf(k, sizeof(k), "%schanges", prefix);
    freeReplyObject(raw(g_port, NULL, 3, (const char *[]){ "XDEL", k, "2-0" }));
    snprintf(k, sizeof(k), "%sversion", prefix);
    freeReplyObject(raw(g_port, NULL, 3, (const char *[]){ "SET", k, "1" }));
    struct store *other = store_open(g_url, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(other);
    /* the stream still remembers id 2-0 as generated: the script refuses before writing */
    ck_assert_int_eq(publish1(other, STORE_CHANGE_IMPORT, "c", "{}", false), -EPROTO);
    ck_assert_int_eq(store_version(other, &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(store_get(other, "c", see, NULL, err, sizeof(err)), -ENOENT);
    /* as on the replica that never had it */
    snprintf(k, sizeof(k), "%schanges", prefix);
    freeReplyObject(raw(g_port, NULL, 3, (const char *[]){ "XSETID", k, "1-0" }));
    ck_assert_int_eq(publish1(other, STORE_CHANGE_IMPORT, "c", "{}", false), 2);
    ck_assert_int_eq(store_follow(s, 2, 0, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    ck_assert_msg(strstr(err, "not the one delivered before") != NULL, "%s", err);
    /* after a snapshot the handle follows again */
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_snapshot(s, &v, see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 2);
    ck_assert_int_ge(find(seen, "c"), 0);
    free(seen);
    ck_assert_int_eq(publish1(other, STORE_CHANGE_REVOKE, "c", NULL, false), 3);
    memset(&ch, 0, sizeof(ch));
    ck_assert_int_eq(store_follow(s, v, 0, see_change, &ch, &last, err, sizeof(err)), 1);
    ck_assert_uint_eq(ch.version[0], 3);
    store_free(other);
    store_free(s);
}
END_TEST

/* ---- URL parser ----------------------------------------------------------------------------- */

struct url_case {
    const char *in;
    int kind; /* 0: must fail */
    const char *host;
    unsigned port;
    size_t n_hosts;
    unsigned db;
    const char *user, *password, *master, *path, *pwfile, *prefix;
    size_t err_off; /* for failures */
};

static const struct url_case url_cases[] = {
    { .in = "", .kind = STORE_URL_DIR, .path = STORE_DEFAULT_DIR },
    { .in = "/var/lib/qg", .kind = STORE_URL_DIR, .path = "/var/lib/qg" },
    { .in = "./store", .kind = STORE_URL_DIR, .path = "./store" },
    { .in = "dir:///srv/q", .kind = STORE_URL_DIR, .path = "/srv/q" },
    { .in = "redis://127.0.0.1:6380",
      .kind = STORE_URL_REDIS,
      .host = "127.0.0.1",
      .port = 6380,
      .n_hosts = 1,
      .db = 0 },
    { .in = "redis://localhost",
      .kind = STORE_URL_REDIS,
      .host = "localhost",
      .port = 6379,
      .n_hosts = 1,
      .db = 0 },
    { .in = "redis://h:1/15",
      .kind = STORE_URL_REDIS,
      .host = "h",
      .port = 1,
      .n_hosts = 1,
      .db = 15 },
    { .in = "redis://[::1]:7000/2",
      .kind = STORE_URL_REDIS,
      .host = "::1",
      .port = 7000,
      .n_hosts = 1,
      .db = 2 },
    { .in = "redis://u:p%40ss@h:9/",
      .kind = STORE_URL_REDIS,
      .host = "h",
      .port = 9,
      .n_hosts = 1,
      .db = 0,
      .user = "u",
      .password = "p@ss" },
    { .in = "redis://:pw@h",
      .kind = STORE_URL_REDIS,
      .host = "h",
      .port = 6379,
      .n_hosts = 1,
      .db = 0,
      .user = "",
      .password = "pw" },
    { "redis://ops@h?password_file=/etc/qorgau/redis.pw&prefix=qg2:", STORE_URL_REDIS, "h", 6379, 1,
      0, "ops", "", .pwfile = "/etc/qorgau/redis.pw", .prefix = "qg2:" },
    { "sentinel://s1:26379,s2,[::1]:5/mymaster", STORE_URL_SENTINEL, "s1", 26379, 3, 0,
      .master = "mymaster" },
    { "sentinel://a:p@s1/m?prefix=x:", STORE_URL_SENTINEL, "s1", 26379, 1, 0, "a", "p",
      .master = "m", .prefix = "x:" },
    /* failures, with the offset the message names */
    { .in = "http://h", .kind = 0, .err_off = 0 },
    { .in = "var/lib", .kind = 0, .err_off = 0 },
    { .in = "dir://rel", .kind = 0, .err_off = 6 },
    { .in = "redis://", .kind = 0, .err_off = 8 },
    { .in = "redis://h:0", .kind = 0, .err_off = 10 },
    { .in = "redis://h:65536", .kind = 0, .err_off = 14 },
    { .in = "redis://h:12x", .kind = 0, .err_off = 12 },
    { .in = "redis://h:", .kind = 0, .err_off = 10 },
    { .in = "redis://h/65536", .kind = 0, .err_off = 14 },
    { .in = "redis://h/db", .kind = 0, .err_off = 10 },
    { .in = "redis://a,b", .kind = 0, .err_off = 10 },
    { .in = "redis://h o", .kind = 0, .err_off = 9 },
    { .in = "redis://[::1", .kind = 0, .err_off = 8 },
    { .in = "redis://[::g]", .kind = 0, .err_off = 11 },
    { .in = "redis://u:@h", .kind = 0, .err_off = 9 },
    { .in = "redis://u:%4@h", .kind = 0, .err_off = 10 },
    { .in = "redis://u:%00@h", .kind = 0, .err_off = 10 },
    { .in = "redis://h?foo=1", .kind = 0, .err_off = 10 },
    { .in = "redis://h?prefix", .kind = 0, .err_off = 10 },
    { .in = "redis://h?prefix=", .kind = 0, .err_off = 0 },
    { .in = "redis://h?prefix=a&", .kind = 0, .err_off = 18 },
    { .in = "redis://h#x", .kind = 0, .err_off = 9 },
    { .in = "redis://h?replicas=17", .kind = 0, .err_off = 19 },
    { .in = "redis://h?replicas=1x", .kind = 0, .err_off = 20 },
    { .in = "redis://h?replicas=", .kind = 0, .err_off = 19 },
    { .in = "redis://h?replicas=100", .kind = 0, .err_off = 19 },
    { .in = "sentinel://s1", .kind = 0, .err_off = 13 },
    { .in = "sentinel://s1/", .kind = 0, .err_off = 13 },
    { .in = "sentinel://s1,/m", .kind = 0, .err_off = 13 },
    { .in = "sentinel://s1/m m", .kind = 0, .err_off = 15 },
    { .in = "sentinel://a,b,c,d,e,f,g,h,i/m", .kind = 0, .err_off = 27 },
};

START_TEST(url_replicas)
{
    struct store_url u;
    char err[256] = "";
    const char *in = "sentinel://s1,s2/qorgau?replicas=2&prefix=q:";
    ck_assert_int_eq(store_url_parse(in, strlen(in), &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(u.replicas, 2);
    ck_assert_str_eq(u.prefix, "q:");
    in = "redis://h";
    ck_assert_int_eq(store_url_parse(in, strlen(in), &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(u.replicas, 0);
}
END_TEST

START_TEST(url_table)
{
    const struct url_case *t = &url_cases[_i];
    struct store_url u;
    char err[256] = "";
    /* through a guard page: no read past the end */
    size_t len = strlen(t->in);
    const char *in = (const char *)guard_copy(t->in, len);
    int rc = store_url_parse(in, len, &u, err, sizeof(err));
    if (!t->kind) {
        ck_assert_msg(rc == -EINVAL, "%s: accepted", t->in);
        char want[64];
        snprintf(want, sizeof(want), "store: URL at offset %zu: ", t->err_off);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s: %s (want offset %zu)", t->in, err,
                      t->err_off);
        guard_free();
        return;
    }
    ck_assert_msg(rc == 0, "%s: %s", t->in, err);
    ck_assert_int_eq(u.kind, t->kind);
    if (t->kind == STORE_URL_DIR) {
        ck_assert_str_eq(u.path, t->path);
    } else {
        ck_assert_str_eq(u.hosts[0].host, t->host);
        ck_assert_uint_eq(u.hosts[0].port, t->port);
        ck_assert_uint_eq(u.n_hosts, t->n_hosts);
        ck_assert_uint_eq(u.db, t->db);
        ck_assert_str_eq(u.user, t->user ? t->user : "");
        ck_assert_str_eq(u.password, t->password ? t->password : "");
        ck_assert_str_eq(u.master, t->master ? t->master : "");
        ck_assert_str_eq(u.password_file, t->pwfile ? t->pwfile : "");
    }
    ck_assert_str_eq(u.prefix, t->prefix ? t->prefix : STORE_DEFAULT_PREFIX);
    guard_free();
}
END_TEST

START_TEST(url_sentinel_hosts)
{
    struct store_url u;
    char err[256];
    const char *s = "sentinel://s1:26379,s2,[::1]:5/mymaster";
    ck_assert_int_eq(store_url_parse(s, strlen(s), &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.hosts[1].host, "s2");
    ck_assert_uint_eq(u.hosts[1].port, 26379);
    ck_assert_str_eq(u.hosts[2].host, "::1");
    ck_assert_uint_eq(u.hosts[2].port, 5);
    /* a NUL inside, and prefixes of a valid URL never over-read */
    char nul[] = "redis://h\0x:1";
    ck_assert_int_eq(store_url_parse(nul, sizeof(nul) - 1, &u, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "offset 9: NUL"));
    const char *full = "sentinel://u:p@[::1]:5,h:7/m?password_file=/x&prefix=p:";
    for (size_t n = 0; n <= strlen(full); n++) {
        const char *g = (const char *)guard_copy(full, n);
        (void)store_url_parse(g, n, &u, err, sizeof(err));
    }
    guard_free();
}
END_TEST

struct redact_case {
    const char *in, *out;
};
static const struct redact_case redacts[] = {
    { "redis://u:hunter2@h:6379/0", "redis://u:***@h:6379/0" },
    { "redis://:hunter2@h", "redis://:***@h" },
    { "redis://u@h:1", "redis://u@h:1" },
    { "redis://h:6379/0", "redis://h:6379/0" },
    { "sentinel://u:p@[::1]:5,h:7/m?password_file=/x",
      "sentinel://u:***@[::1]:5,h:7/m?password_file=/x" },
    { "redis://u:p@ss@h", "redis://u:***@h" },
    { "/var/lib/qorgau", "/var/lib/qorgau" },
    { "", "" },
};

START_TEST(url_redact)
{
    char out[128];
    store_url_redact(redacts[_i].in, out, sizeof(out));
    ck_assert_str_eq(out, redacts[_i].out);
    char small[8];
    store_url_redact(redacts[_i].in, small, sizeof(small));
    ck_assert_uint_lt(strlen(small), sizeof(small));
}
END_TEST

START_TEST(url_never_prints_password)
{
    const char *bad[] = { "redis://user:hunter2@h:99999", "redis://user:hunter2@h/x",
                          "sentinel://u:hunter2@h", "redis://u:hunter2@h?bad=1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store_url u;
        char err[256];
        ck_assert_int_eq(store_url_parse(bad[i], strlen(bad[i]), &u, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, "hunter2") == NULL, "%s", err);
    }
    /* an unreachable server: the message names host and port, not the password */
    char err[512];
    char url[128];
    snprintf(url, sizeof(url), "redis://u:hunter2@127.0.0.1:%u", proc_free_port());
    struct store_opts o = { .connect_timeout_ms = 300 };
    ck_assert_ptr_null(store_open(url, &o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "hunter2") == NULL && strstr(err, "127.0.0.1:") != NULL, "%s", err);
}
END_TEST

START_TEST(ids)
{
    ck_assert(store_id_valid("RKN-2026_001.a:b", 16));
    ck_assert(!store_id_valid("", 0));
    ck_assert(!store_id_valid(".x", 2));
    ck_assert(!store_id_valid("a b", 3));
    ck_assert(!store_id_valid("a/b", 3));
    ck_assert(!store_id_valid("a,b", 3));
    char long_id[STORE_ID_MAX + 1];
    memset(long_id, 'x', sizeof(long_id));
    ck_assert(store_id_valid(long_id, STORE_ID_MAX));
    ck_assert(!store_id_valid(long_id, STORE_ID_MAX + 1));
    ck_assert_str_eq(store_change_kind_name(STORE_CHANGE_RESTORE), "restore");
    ck_assert_int_eq(store_change_kind_parse("revoke", 6), STORE_CHANGE_REVOKE);
    ck_assert_int_eq(store_change_kind_parse("revok", 5), 0);
}
END_TEST

/* ---- change-log lines ----------------------------------------------------------------------- */

START_TEST(line_roundtrip)
{
    char line[256];
    size_t n = store_dir_line_format(line, sizeof(line), 12, STORE_CHANGE_IMPORT, true,
                                     1767225600000ull, "RKN-1,RKN-2", 11);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(line[n - 1], '\n');
    ck_assert_uint_eq(store_dir_crc32(0, "123456789", 9), 0xcbf43926u); /* the check value */
    struct store_dir_line l;
    char err[128];
    const char *g = (const char *)guard_copy(line, n - 1);
    ck_assert_int_eq(store_dir_line_parse(g, n - 1, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(l.version, 12);
    ck_assert_int_eq(l.kind, STORE_CHANGE_IMPORT);
    ck_assert(l.urgent);
    ck_assert_uint_eq(l.time_ms, 1767225600000ull);
    ck_assert_uint_eq(l.n_ids, 2);
    ck_assert_int_eq(memcmp(l.ids, "RKN-1,RKN-2", 11), 0);
    /* every proper prefix is refused */
    for (size_t k = 0; k < n - 1; k++) {
        g = (const char *)guard_copy(line, k);
        ck_assert_int_eq(store_dir_line_parse(g, k, &l, err, sizeof(err)), -EINVAL);
    }
    guard_free();
    /* too small a buffer: 0 */
    ck_assert_uint_eq(store_dir_line_format(line, 20, 12, STORE_CHANGE_IMPORT, false, 1, "a", 1),
                      0);
}
END_TEST

/* A line with a valid checksum over the given body. */
static size_t sealed(char *out, size_t cap, const char *body)
{
    size_t n = strlen(body);
    return (size_t)snprintf(out, cap, "%s %08x", body, store_dir_crc32(0, body, n));
}

static const struct {
    const char *body;
    const char *why;
} bad_lines[] = {
    { "0 import 0 1 a", "bad version" },
    { "01 import 0 1 a", "bad version" },
    { "18446744073709551616 import 0 1 a", "bad version" },
    { "x import 0 1 a", "bad version" },
    { "1 delete 0 1 a", "bad change kind" },
    { "1 import", "bad change kind" },
    { "1 import 2 1 a", "bad urgent flag" },
    { "1 import 00 1 a", "bad urgent flag" },
    { "1 import 0 t a", "bad time" },
    { "1 import 0 1 ", "bad order id" },
    { "1 import 0 1 a,,b", "bad order id" },
    { "1 import 0 1 a,", "bad order id" },
    { "1 import 0 1 a b", "bad order id" },
    { "1 import 0 1 .a", "bad order id" },
};

START_TEST(line_malformed)
{
    char line[256], err[128];
    struct store_dir_line l;
    size_t n = sealed(line, sizeof(line), bad_lines[_i].body);
    ck_assert_int_eq(store_dir_line_parse(line, n, &l, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, bad_lines[_i].why) != NULL, "%s: %s", bad_lines[_i].body, err);
}
END_TEST

START_TEST(line_checksum)
{
    char line[256], err[128];
    struct store_dir_line l;
    size_t n = sealed(line, sizeof(line), "3 revoke 0 17 a,b");
    ck_assert_int_eq(store_dir_line_parse(line, n, &l, err, sizeof(err)), 0);
    line[2] = 'R'; /* one flipped byte */
    ck_assert_int_eq(store_dir_line_parse(line, n, &l, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "checksum mismatch"));
    line[2] = 'r';
    line[n - 1] = 'G';
    ck_assert_int_eq(store_dir_line_parse(line, n, &l, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "bad checksum digit"));
    ck_assert_int_eq(store_dir_line_parse("3 revoke 0 17 a", 15, &l, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no checksum"));
}
END_TEST

/* A torn last line (a crash mid-append) is not a change; a corrupt line before the wanted
 * versions is skipped; a corrupt line among them means "load the snapshot". */
START_TEST(dir_torn_and_corrupt_log)
{
    struct store *s = open_bk(BK_DIR, NULL);
    char err[512], path[512];
    const char *dir = g_url + 6;
    uint64_t last;
    struct changes ch = { 0 };
    for (int i = 1; i <= 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", i);
        ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, id, "{}", false), i);
    }
    snprintf(path, sizeof(path), "%s/changes.log", dir);
    FILE *f = fopen(path, "a");
    fputs("4 import 0 1 t4", f); /* no checksum, no newline: torn */
    fclose(f);
    ck_assert_int_eq(store_follow(s, 2, 0, see_change, &ch, &last, err, sizeof(err)), 1);
    ck_assert_uint_eq(last, 3);
    /* corrupt line 2 */
    f = fopen(path, "r+");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    char *l2 = (char *)memchr(buf, '\n', n) + 1;
    l2[2] = 'X';
    fseek(f, 0, SEEK_SET);
    fwrite(buf, 1, n, f);
    fclose(f);
    struct store *s2 = store_open(g_url, NULL, err, sizeof(err)); /* no cached offset */
    ck_assert_int_eq(store_follow(s2, 1, 0, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    ck_assert_msg(strstr(err, "checksum mismatch") != NULL, "%s", err);
    memset(&ch, 0, sizeof(ch));
    ck_assert_int_eq(store_follow(s2, 2, 0, see_change, &ch, &last, err, sizeof(err)), 1);
    ck_assert_uint_eq(ch.version[0], 3);
    /* a malformed order file is reported, not delivered */
    snprintf(path, sizeof(path), "%s/orders/t1", dir);
    f = fopen(path, "w");
    fputs("qorgau-order 1 active 1 1 99\n{}", f);
    fclose(f);
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_get(s2, "t1", see, seen, err, sizeof(err)), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "malformed order file"));
    uint64_t v;
    ck_assert_int_eq(store_snapshot(s2, &v, see, seen, err, sizeof(err)), -EBADMSG);
    free(seen);
    store_free(s2);
    store_free(s);
}
END_TEST

START_TEST(dir_default_and_create)
{
    char err[512], path[256];
    snprintf(path, sizeof(path), "%s/deep/er/store", g_tmp);
    struct store *s = store_open(path, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_ptr_nonnull(strstr(store_where(s), path));
    struct stat st;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/orders", path);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0750);
    store_free(s);
    store_free(NULL);
    /* a file where the directory should be */
    snprintf(path, sizeof(path), "%s/afile", g_tmp);
    close(open(path, O_WRONLY | O_CREAT, 0600));
    ck_assert_ptr_null(store_open(path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "store: dir ") == err, "%s", err);
}
END_TEST

/* ---- credentials ---------------------------------------------------------------------------- */

static void write_secret(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(secret_file)
{
    char path[256], out[STORE_SECRET_MAX], err[512];
    snprintf(path, sizeof(path), "%s/pw.%d", g_tmp, (int)getpid());
    write_secret(path, "top-secret\nsecond line\n", 0600);
    ck_assert_int_eq(store_read_secret(path, out, sizeof(out), err, sizeof(err)), 0);
    ck_assert_str_eq(out, "top-secret");
    write_secret(path, "top-secret\n", 0640);
    ck_assert_int_eq(store_read_secret(path, out, sizeof(out), err, sizeof(err)), -EPERM);
    ck_assert_msg(strstr(err, "readable by group or others (mode 0640)") != NULL, "%s", err);
    ck_assert(strstr(err, "top-secret") == NULL);
    ck_assert_str_eq(out, "");
    write_secret(path, "x\n", 0604);
    ck_assert_int_eq(store_read_secret(path, out, sizeof(out), err, sizeof(err)), -EPERM);
    write_secret(path, "\n", 0400);
    ck_assert_int_eq(store_read_secret(path, out, sizeof(out), err, sizeof(err)), -EINVAL);
    char huge[STORE_SECRET_MAX + 10];
    memset(huge, 'p', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    write_secret(path, huge, 0600);
    ck_assert_int_eq(store_read_secret(path, out, sizeof(out), err, sizeof(err)), -E2BIG);
    unlink(path);
    ck_assert_int_eq(store_read_secret(path, out, sizeof(out), err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_int_eq(store_read_secret(g_tmp, out, sizeof(out), err, sizeof(err)), -EINVAL);
}
END_TEST

/* ---- Redis only ----------------------------------------------------------------------------- */

START_TEST(redis_auth)
{
    char pw[256], url[512], err[512];
    snprintf(pw, sizeof(pw), "%s/redis.pw.%d", g_tmp, (int)getpid());
    write_secret(pw, "s3cr#t:pw\n", 0600);
    /* password-only AUTH, from ?password_file= */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u/0?password_file=%s", g_auth_port, pw);
    struct store *s = store_open(url, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "a", "{}", false), 1);
    store_free(s);
    /* no password: the server refuses, the message says so */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u", g_auth_port);
    s = store_open(url, NULL, err, sizeof(err));
    if (s) { /* hiredis connects; the first command is refused */
        uint64_t v;
        ck_assert_int_lt(store_version(s, &v, err, sizeof(err)), 0);
        store_free(s);
    }
    ck_assert_msg(strstr(err, "NOAUTH") || strstr(err, "Authentication"), "%s", err);
    /* a wrong password: -EACCES-like failure, password never printed */
    snprintf(url, sizeof(url), "redis://:wrong-one@127.0.0.1:%u", g_auth_port);
    ck_assert_ptr_null(store_open(url, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "AUTH") && !strstr(err, "wrong-one"), "%s", err);
    /* the credentials file given separately (store_opts), ACL user in the URL */
    write_secret(pw, "acl-pass", 0600);
    snprintf(url, sizeof(url), "redis://qg@127.0.0.1:%u/3", g_auth_port);
    struct store_opts o = { .password_file = pw };
    s = store_open(url, &o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "b", "{}", false), 1); /* database 3 */
    store_free(s);
    redisReply *r =
        raw(g_auth_port, g_auth_pass, 3, (const char *[]){ "SELECT", "3", "x" }); /* wrong arity */
    freeReplyObject(r);
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g_auth_port, tv);
    freeReplyObject(redisCommand(c, "AUTH %s", g_auth_pass));
    freeReplyObject(redisCommand(c, "SELECT 3"));
    r = redisCommand(c, "HGET qorgau:order:b state");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "active");
    freeReplyObject(r);
    redisFree(c);
    /* a world-readable credentials file is refused before connecting */
    write_secret(pw, "acl-pass", 0644);
    ck_assert_ptr_null(store_open(url, &o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "readable by group or others") && !strstr(err, "acl-pass"), "%s",
                  err);
    unlink(pw);
}
END_TEST

START_TEST(redis_reconnect)
{
    /* a server of this case's own, restarted on the same port */
    uint16_t port = proc_free_port();
    pid_t p = start_redis("redis-restart", port, NULL, NULL);
    ck_assert_int_gt(p, 0);
    char url[128], err[512];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u", port);
    struct store_opts o = { .connect_timeout_ms = 300, .io_timeout_ms = 500 };
    struct store *s = store_open(url, &o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(publish1(s, STORE_CHANGE_IMPORT, "r1", "{}", false), 1);
    proc_stop(&p);
    uint64_t v;
    int rc = store_version(s, &v, err, sizeof(err));
    ck_assert_int_lt(rc, 0);
    char want[64];
    snprintf(want, sizeof(want), "store: redis 127.0.0.1:%u: ", port);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
    /* while it is down: fast failures with back-off */
    rc = store_version(s, &v, err, sizeof(err));
    ck_assert_int_lt(rc, 0);
    p = start_redis("redis-restart", port, NULL, NULL);
    ck_assert_int_gt(p, 0);
    /* back: the handle reconnects by itself (within the back-off) - the data is gone (no
     * persistence), which a follower sees as "ahead of the store" */
    uint64_t end = proc_mono_ms() + 8000;
    while ((rc = store_version(s, &v, err, sizeof(err))) != 0 && proc_mono_ms() < end)
        proc_sleep_ms(50);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(v, 0);
    uint64_t last;
    struct changes ch = { 0 };
    ck_assert_int_eq(store_follow(s, 1, 0, see_change, &ch, &last, err, sizeof(err)), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "reset"));
    store_free(s);
    proc_stop(&p);
}
END_TEST

/* Sentinel: primary + replica + three sentinels (quorum 2). */
static uint16_t g_sp, g_sr, g_ss[3];
static pid_t g_spid, g_srpid, g_sspid[3];

static void sentinel_setup(void)
{
    g_sp = proc_free_port();
    g_spid = start_redis("primary", g_sp, NULL, NULL);
    ck_assert_int_gt(g_spid, 0);
    g_sr = proc_free_port();
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", g_sp);
    g_srpid = start_redis("replica", g_sr, NULL, ps);
    ck_assert_int_gt(g_srpid, 0);
    for (int i = 0; i < 3; i++) {
        g_ss[i] = proc_free_port();
        char conf[128], name[24];
        snprintf(conf, sizeof(conf), "%s/sentinel%d.conf", g_tmp, i);
        snprintf(name, sizeof(name), "sentinel%d", i);
        FILE *f = fopen(conf, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "port %u\nbind 127.0.0.1\ndir %s\n"
                "sentinel monitor qgm 127.0.0.1 %u 2\n"
                "sentinel down-after-milliseconds qgm 1000\n"
                "sentinel failover-timeout qgm 3000\n"
                "sentinel parallel-syncs qgm 1\n",
                g_ss[i], g_tmp, g_sp);
        fclose(f);
        g_sspid[i] = spawn(name, (char *const[]){ "redis-sentinel", conf, NULL });
        ck_assert(wait_ping(g_ss[i], NULL, 5000));
    }
}

static void sentinel_teardown(void)
{
    stop_pidfile("primary-again");
    proc_stop(&g_spid);
    proc_stop(&g_srpid);
    for (int i = 0; i < 3; i++)
        proc_stop(&g_sspid[i]);
}

/* True once the replica has version v. */
static bool replica_has(uint64_t v)
{
    redisReply *r = raw(g_sr, NULL, 2, (const char *[]){ "GET", "qorgau:version" });
    bool ok = r && r->type == REDIS_REPLY_STRING && strtoull(r->str, NULL, 10) >= v;
    freeReplyObject(r);
    return ok;
}

/* True once every sentinel knows the other two (they found each other). */
static bool sentinels_ready(void)
{
    for (int i = 0; i < 3; i++) {
        redisReply *r = raw(g_ss[i], NULL, 3, (const char *[]){ "SENTINEL", "sentinels", "qgm" });
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
        freeReplyObject(r);
        if (!ok)
            return false;
        r = raw(g_ss[i], NULL, 3, (const char *[]){ "SENTINEL", "replicas", "qgm" });
        ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1;
        freeReplyObject(r);
        if (!ok)
            return false;
    }
    return true;
}

START_TEST(sentinel_failover)
{
    uint64_t end = proc_mono_ms() + 15000;
    while (!sentinels_ready() && proc_mono_ms() < end)
        proc_sleep_ms(100);
    ck_assert_msg(sentinels_ready(), "sentinels did not find each other");
    char url[256], err[512];
    /* the first sentinel named is a dead one: discovery goes on to the next */
    snprintf(url, sizeof(url), "sentinel://127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u/qgm",
             proc_free_port(), g_ss[0], g_ss[1], g_ss[2]);
    struct store_opts o = { .connect_timeout_ms = 300, .io_timeout_ms = 1000 };
    struct store *pub = store_open(url, &o, err, sizeof(err));
    ck_assert_msg(pub != NULL, "%s", err);
    char want[64];
    snprintf(want, sizeof(want), "(127.0.0.1:%u)", g_sp);
    ck_assert_msg(strstr(store_where(pub), want) != NULL, "%s", store_where(pub));
    struct store *fol = store_open(url, &o, err, sizeof(err));
    ck_assert_msg(fol != NULL, "%s", err);
    ck_assert_int_eq(publish1(pub, STORE_CHANGE_IMPORT, "f1", "{\"f\":1}", false), 1);
    uint64_t last;
    struct changes ch = { 0 };
    ck_assert_int_eq(store_follow(fol, 0, 1000, see_change, &ch, &last, err, sizeof(err)), 1);
    ck_assert_uint_eq(last, 1);
    /* evidence written before the failover: an acknowledgement, hits, a document */
    ck_assert_int_eq(store_node_ack(pub, "fn", 1, 4242, 60000, err, sizeof(err)), 0);
    struct store_hit fh[] = { { "f1", "casino.kz", 2, 100, 200 } };
    ck_assert_int_eq(store_hits_add(pub, fh, 1, err, sizeof(err)), 0);
    ck_assert_int_eq(store_doc_put(pub, "verify", "f1", "{}", 2, err, sizeof(err)), 0);
    end = proc_mono_ms() + 5000;
    while (!replica_has(1) && proc_mono_ms() < end)
        proc_sleep_ms(20);
    ck_assert(replica_has(1));
    for (bool has = false; !has && proc_mono_ms() < end; proc_sleep_ms(20)) {
        redisReply *r = raw(g_sr, NULL, 2, (const char *[]){ "EXISTS", "qorgau:doc:verify:f1" });
        has = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);
    }
    /* kill the primary */
    uint64_t killed = proc_mono_ms();
    proc_stop(&g_spid);
    /* publish again until the failover is done: re-discovery finds the promoted replica */
    int64_t v = -1;
    end = proc_mono_ms() + 30000;
    while (proc_mono_ms() < end) {
        struct store_order ord = { .id = "f2", .record = "{\"f\":2}", .record_len = 7 };
        struct store_change c = { .kind = STORE_CHANGE_IMPORT, .orders = &ord, .n_orders = 1 };
        v = store_publish(pub, &c, err, sizeof(err));
        if (v > 0)
            break;
        proc_sleep_ms(100);
    }
    ck_assert_msg(v == 2, "publish after failover: %lld %s", (long long)v, err);
    fprintf(stderr, "sentinel failover: publish succeeded %llu ms after the primary was killed\n",
            (unsigned long long)(proc_mono_ms() - killed));
    snprintf(want, sizeof(want), "(127.0.0.1:%u)", g_sr);
    ck_assert_msg(strstr(store_where(pub), want) != NULL, "%s", store_where(pub));
    /* the follower resumes from where it was */
    int n = -1;
    end = proc_mono_ms() + 15000;
    memset(&ch, 0, sizeof(ch));
    while (proc_mono_ms() < end) {
        n = store_follow(fol, 1, 500, see_change, &ch, &last, err, sizeof(err));
        if (n > 0)
            break;
        proc_sleep_ms(100);
    }
    ck_assert_msg(n == 1, "follow after failover: %d %s", n, err);
    ck_assert_uint_eq(ch.version[0], 2);
    ck_assert_str_eq(ch.first_rec[0], "{\"f\":2}");
    uint64_t sv;
    struct seen *seen = calloc(1, sizeof(*seen));
    ck_assert_int_eq(store_snapshot(fol, &sv, see, seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(sv, 2);
    ck_assert_uint_eq(seen->n, 2);
    free(seen);
    /* the evidence survived the failover */
    struct ev_seen es = { 0 };
    ck_assert_int_eq(store_events(fol, "f1", see_ev, &es, err, sizeof(err)), 0);
    ck_assert_uint_eq(es.n, 1);
    ck_assert_uint_eq(es.e[0].version, 1);
    struct enf_seen ens = { 0 };
    ck_assert_int_eq(store_enforced(fol, "fn", see_enf, &ens, err, sizeof(err)), 0);
    ck_assert_uint_eq(ens.n, 1);
    ck_assert_uint_eq(ens.e[0].since_ms, 4242);
    struct hit_seen hs = { 0 };
    ck_assert_int_eq(store_hits(fol, "f1", see_hit, &hs, err, sizeof(err)), 0);
    ck_assert_uint_eq(hs.n, 1);
    ck_assert_uint_eq(hs.h[0].count, 2);
    struct doc_seen ds = { 0 };
    ck_assert_int_eq(store_doc_get(fol, "verify", "f1", see_doc, &ds, err, sizeof(err)), 0);
    ck_assert_uint_eq(ds.len, 2);

    /* READONLY: the old primary comes back as a replica of the new one, then a manual
     * failover promotes it again. The publisher's connection to the demoted server stays
     * open, so its next write is refused with READONLY: it must rediscover and succeed. */
    char rs[8];
    snprintf(rs, sizeof(rs), "%u", g_sr);
    pid_t again = start_redis("primary-again", g_sp, NULL, rs);
    ck_assert_int_gt(again, 0);
    /* Sentinel refuses a manual failover while it finds no good replica (-NOGOODSLAVE: the
     * restarted server not synced or not seen yet): asked again until accepted */
    end = proc_mono_ms() + 20000;
    bool ok = false;
    char last_err[256] = "no answer";
    while (!ok && proc_mono_ms() < end) {
        redisReply *r = raw(g_ss[0], NULL, 3, (const char *[]){ "SENTINEL", "failover", "qgm" });
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r && r->type == REDIS_REPLY_ERROR)
            snprintf(last_err, sizeof(last_err), "%s", r->str);
        freeReplyObject(r);
        if (!ok)
            proc_sleep_ms(250);
    }
    ck_assert_msg(ok, "SENTINEL FAILOVER was not accepted (last: %s)", last_err);
    /* wait until the promotion is done: g_sp a master, g_sr a replica. Sentinel turns the old
     * master into a replica only some seconds after it reports its role (8 s and more); past
     * 25 s the test does it itself, as Sentinel would (the write below must meet READONLY) */
    bool promoted = false, swapped = false;
    uint64_t t0 = proc_mono_ms();
    end = t0 + 50000;
    while (!swapped && proc_mono_ms() < end) {
        redisReply *a = raw(g_sp, NULL, 1, (const char *[]){ "ROLE" });
        redisReply *b = raw(g_sr, NULL, 1, (const char *[]){ "ROLE" });
        promoted = a && a->type == REDIS_REPLY_ARRAY && strcmp(a->element[0]->str, "master") == 0;
        swapped = promoted && b && b->type == REDIS_REPLY_ARRAY &&
                  strcmp(b->element[0]->str, "slave") == 0;
        freeReplyObject(a);
        freeReplyObject(b);
        if (promoted && !swapped && proc_mono_ms() > t0 + 25000) {
            char sp[8];
            snprintf(sp, sizeof(sp), "%u", g_sp);
            freeReplyObject(raw(g_sr, NULL, 3, (const char *[]){ "REPLICAOF", "127.0.0.1", sp }));
        }
        if (!swapped)
            proc_sleep_ms(100);
    }
    ck_assert_msg(promoted, "the manual failover did not promote the replica");
    ck_assert_msg(swapped, "the manual failover did not complete");
    end = proc_mono_ms() + 10000;
    while (!replica_has(2) && proc_mono_ms() < end) /* g_sr, now a replica, has caught up */
        proc_sleep_ms(50);
    /* one call: the connection to g_sr was closed by Sentinel (CLIENT KILL) or answers
     * READONLY; either way the handle rediscovers and writes on g_sp */
    struct store_order o3 = { .id = "f3", .record = "{\"f\":3}", .record_len = 7 };
    struct store_change c3 = { .kind = STORE_CHANGE_IMPORT, .orders = &o3, .n_orders = 1 };
    v = store_publish(pub, &c3, err, sizeof(err));
    ck_assert_msg(v == 3, "publish after the manual failover: %lld %s", (long long)v, err);
    snprintf(want, sizeof(want), "(127.0.0.1:%u)", g_sp);
    ck_assert_msg(strstr(store_where(pub), want) != NULL, "%s", store_where(pub));
    /* a plain redis:// store on the replica: READONLY, reported as such */
    char rurl[64];
    snprintf(rurl, sizeof(rurl), "redis://127.0.0.1:%u", g_sr);
    struct store *ro = store_open(rurl, &o, err, sizeof(err));
    ck_assert_msg(ro != NULL, "%s", err);
    ck_assert_int_eq(store_publish(ro, &c3, err, sizeof(err)), -EROFS);
    ck_assert_msg(strstr(err, "READONLY") != NULL, "%s", err);
    store_free(ro);
    kill(again, SIGKILL);
    store_free(pub);
    store_free(fol);
}
END_TEST

/* ---- suite ---------------------------------------------------------------------------------- */

/* ---- subscriber map (both back ends) -------------------------------------------------------- */

struct subs_seen {
    size_t n;
    char addr[16][48];
    char sub[16][64];
    char sess[16][64];
    uint64_t expires[16];
};

static int see_sub(void *ctx, const struct store_sub *e)
{
    struct subs_seen *s = ctx;
    if (s->n == 16)
        return 0;
    snprintf(s->addr[s->n], 48, "%s", e->addr);
    snprintf(s->sub[s->n], 64, "%s", e->subscriber ? e->subscriber : "");
    snprintf(s->sess[s->n], 64, "%s", e->session);
    s->expires[s->n] = e->expires_ms;
    s->n++;
    return 0;
}

static int count_sub(void *ctx, const struct store_sub *e)
{
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

static const char *sub_of(struct store *s, const char *addr)
{
    static struct subs_seen seen;
    char err[512];
    memset(&seen, 0, sizeof(seen));
    int rc = store_sub_get(s, addr, see_sub, &seen, err, sizeof(err));
    if (rc == -ENOENT)
        return "-";
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_str_eq(seen.addr[0], addr);
    return seen.sub[0];
}

START_TEST(subs_set_get_list_del)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    uint64_t t0 = store_now_ms();
    struct store_sub b[] = {
        { .op = STORE_SUB_SET,
          .addr = "10.0.0.1",
          .subscriber = "77010000001",
          .session = "a1",
          .ttl_ms = 3600000 },
        { .op = STORE_SUB_SET,
          .addr = "2001:db8:1::/56",
          .subscriber = "401770000000002",
          .session = "b1" },
        { .op = STORE_SUB_SET, .addr = "10.0.0.3", .subscriber = "c", .ttl_ms = 3600000 },
        { .op = STORE_SUB_DEL, .addr = "10.0.0.3" },
    };
    ck_assert_int_eq(store_sub_apply(s, b, 4, err, sizeof(err)), 4);
    ck_assert_str_eq(sub_of(s, "10.0.0.1"), "77010000001");
    ck_assert_str_eq(sub_of(s, "2001:db8:1::/56"), "401770000000002");
    ck_assert_str_eq(sub_of(s, "10.0.0.3"), "-");
    ck_assert_int_eq(store_sub_get(s, "10.0.0.3", see_sub, NULL, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, "no subscriber mapping for 10.0.0.3"), "%s", err);
    struct subs_seen all = { 0 };
    ck_assert_int_eq(store_sub_list(s, see_sub, &all, err, sizeof(err)), 0);
    ck_assert_uint_eq(all.n, 2);
    for (size_t i = 0; i < all.n; i++) {
        if (strcmp(all.addr[i], "10.0.0.1") == 0) {
            ck_assert_str_eq(all.sess[i], "a1");
            ck_assert_uint_ge(all.expires[i], t0 + 3590000);
            ck_assert_uint_le(all.expires[i], store_now_ms() + 3600000);
        } else {
            ck_assert_str_eq(all.addr[i], "2001:db8:1::/56");
            ck_assert_uint_eq(all.expires[i], 0);
        }
    }
    /* a Stop of an earlier session leaves the mapping; of the current one removes it */
    struct store_sub stop = { .op = STORE_SUB_DEL, .addr = "10.0.0.1", .session = "old" };
    ck_assert_int_eq(store_sub_apply(s, &stop, 1, err, sizeof(err)), 1);
    ck_assert_str_eq(sub_of(s, "10.0.0.1"), "77010000001");
    stop.session = "a1";
    ck_assert_int_eq(store_sub_apply(s, &stop, 1, err, sizeof(err)), 1);
    ck_assert_str_eq(sub_of(s, "10.0.0.1"), "-");
    if (_i == BK_REDIS) { /* every applied mapping is on the change stream */
        char k[128];
        snprintf(k, sizeof(k), "%ssub:changes", g_prefix);
        redisReply *r = raw(g_port, NULL, 4, (const char *[]){ "XRANGE", k, "-", "+" });
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
        /* one entry per batch: the 4; the Stop of "old" (nodes apply it with the same session
         * check, which leaves the mapping); the Stop of a1 */
        ck_assert_uint_eq(r->elements, 3);
        const redisReply *f = r->element[0]->element[1];
        ck_assert_uint_eq(f->elements, 4);
        ck_assert_str_eq(f->element[1]->str, "4");
        ck_assert_str_eq(f->element[3]->str, "set 10.0.0.1 77010000001 a1 3600000\n"
                                             "set 2001:db8:1::/56 401770000000002 b1 0\n"
                                             "set 10.0.0.3 c - 3600000\n"
                                             "del 10.0.0.3 -");
        ck_assert_str_eq(r->element[1]->element[1]->element[3]->str, "del 10.0.0.1 old");
        ck_assert_str_eq(r->element[2]->element[1]->element[3]->str, "del 10.0.0.1 a1");
        freeReplyObject(r);
    }
    store_free(s);
}
END_TEST

START_TEST(subs_expiry)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    struct store_sub e = {
        .op = STORE_SUB_SET, .addr = "10.0.0.7", .subscriber = "x", .ttl_ms = 150
    };
    ck_assert_int_eq(store_sub_apply(s, &e, 1, err, sizeof(err)), 1);
    ck_assert_str_eq(sub_of(s, "10.0.0.7"), "x");
    proc_sleep_ms(300);
    ck_assert_str_eq(sub_of(s, "10.0.0.7"), "-");
    struct subs_seen all = { 0 };
    ck_assert_int_eq(store_sub_list(s, see_sub, &all, err, sizeof(err)), 0);
    ck_assert_uint_eq(all.n, 0);
    store_free(s);
}
END_TEST

START_TEST(subs_refusals)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    struct store_sub b[] = {
        { .op = STORE_SUB_SET, .addr = "10.0.0.1", .subscriber = "ok" },
        { .op = STORE_SUB_SET, .addr = "10.0.0.2", .subscriber = "has space" },
    };
    ck_assert_int_eq(store_sub_apply(s, b, 2, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "subscriber mapping 2 of 2: invalid subscriber id"), "%s", err);
    ck_assert_str_eq(sub_of(s, "10.0.0.1"), "-"); /* nothing of a refused batch written */
    b[1].subscriber = "fine";
    b[1].addr = "../etc/passwd";
    ck_assert_int_eq(store_sub_apply(s, b, 2, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "invalid address"), "%s", err);
    ck_assert_int_eq(store_sub_get(s, "x y", see_sub, NULL, err, sizeof(err)), -EINVAL);
    store_free(s);
}
END_TEST

/* A large batch goes through in chunks (Redis: several script calls). */
START_TEST(subs_large_batch)
{
    struct store *s = open_bk(_i, NULL);
    char err[512];
    enum { N = 1500 };
    static struct store_sub b[N];
    static char addr[N][24];
    for (int i = 0; i < N; i++) {
        snprintf(addr[i], sizeof(addr[i]), "10.1.%d.%d", i / 256, i % 256);
        b[i] = (struct store_sub){
            .op = STORE_SUB_SET, .addr = addr[i], .subscriber = addr[i], .ttl_ms = 60000
        };
    }
    ck_assert_int_eq(store_sub_apply(s, b, N, err, sizeof(err)), N);
    ck_assert_str_eq(sub_of(s, "10.1.5.219"), "10.1.5.219");
    size_t cnt = 0;
    ck_assert_int_eq(store_sub_list(s, count_sub, &cnt, err, sizeof(err)), 0);
    ck_assert_uint_eq(cnt, N);
    store_free(s);
}
END_TEST

/* subs.log lines (store_dir_sub_parse()): the two forms, and each way of being malformed. */
START_TEST(dir_sub_log_lines)
{
    char l1[] = "set 2001:db8::/56 77010000001 s-1 1767225600000";
    struct store_sub o;
    ck_assert_int_eq(store_dir_sub_parse(l1, &o), 0);
    ck_assert_int_eq(o.op, STORE_SUB_SET);
    ck_assert_str_eq(o.addr, "2001:db8::/56");
    ck_assert_str_eq(o.subscriber, "77010000001");
    ck_assert_str_eq(o.session, "s-1");
    ck_assert_uint_eq(o.expires_ms, 1767225600000ull);
    char l2[] = "del 10.0.0.1 -";
    ck_assert_int_eq(store_dir_sub_parse(l2, &o), 0);
    ck_assert_int_eq(o.op, STORE_SUB_DEL);
    ck_assert_str_eq(o.addr, "10.0.0.1");
    ck_assert_str_eq(o.session, "");
    static const char *const bad[] = {
        "",
        "set 10.0.0.1 x - ",
        "set 10.0.0.1 x -",
        "set 10.0.0.1 x - 01",
        "set 10.0.0.1 x - 5 extra",
        "set 10.0.0.1  - 5",
        "set 10.0.0.1 x - 99999999999999999999",
        "set 10.0.0.1 x - -5",
        "set ../etc x - 5",
        "del 10.0.0.1",
        "del 10.0.0.1 s extra",
        "put 10.0.0.1 x - 5",
        " del 10.0.0.1 -",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char b[64];
        snprintf(b, sizeof(b), "%s", bad[i]);
        ck_assert_msg(store_dir_sub_parse(b, &o) == -1, "accepted '%s'", bad[i]);
    }
}
END_TEST

/* A second handle follows the changes: from the end taken before a list, every later set and
 * removal, in order (the directory store: its subs.log; a cursor on another log is -ESTALE). */
START_TEST(subs_follow)
{
    struct store *s = open_bk(_i, NULL);
    char err[512], cur[STORE_SUB_CURSOR_MAX] = "";
    struct subs_seen seen = { 0 };
    struct store_sub a = { .op = STORE_SUB_SET, .addr = "10.0.0.1", .subscriber = "before" };
    ck_assert_int_eq(store_sub_apply(s, &a, 1, err, sizeof(err)), 1);
    ck_assert_int_eq(store_sub_follow(s, cur, sizeof(cur), 0, see_sub, &seen, err, sizeof(err)), 0);
    ck_assert_str_ne(cur, "");
    ck_assert_uint_eq(seen.n, 0);
    struct store_sub b[] = {
        { .op = STORE_SUB_SET,
          .addr = "2001:db8::/64",
          .subscriber = "x",
          .session = "s1",
          .ttl_ms = 60000 },
        { .op = STORE_SUB_DEL, .addr = "10.0.0.1", .session = "s0" },
    };
    ck_assert_int_eq(store_sub_apply(s, b, 2, err, sizeof(err)), 2);
    ck_assert_int_eq(store_sub_follow(s, cur, sizeof(cur), 500, see_sub, &seen, err, sizeof(err)),
                     2);
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_str_eq(seen.addr[0], "2001:db8::/64");
    ck_assert_str_eq(seen.sub[0], "x");
    ck_assert_str_eq(seen.sess[0], "s1");
    ck_assert_str_eq(seen.addr[1], "10.0.0.1");
    ck_assert_str_eq(seen.sess[1], "s0");
    /* nothing new: waits, then 0 */
    ck_assert_int_eq(store_sub_follow(s, cur, sizeof(cur), 100, see_sub, &seen, err, sizeof(err)),
                     0);
    if (_i == BK_DIR) {
        snprintf(cur, sizeof(cur), "j1:0");
        ck_assert_int_eq(store_sub_follow(s, cur, sizeof(cur), 0, see_sub, &seen, err, sizeof(err)),
                         -ESTALE);
        ck_assert_msg(strstr(err, "list the mappings again"), "%s", err);
        snprintf(cur, sizeof(cur), "j1:0 ");
        ck_assert_int_eq(store_sub_follow(s, cur, sizeof(cur), 0, see_sub, &seen, err, sizeof(err)),
                         -EINVAL);
    }
    store_free(s);
}
END_TEST

/* ---- tariff records (docs/profiles.md) ---- */

struct tariff_seen {
    size_t n;
    char line[8][256];
};

static int see_tariff(void *ctx, const struct store_tariff *t)
{
    struct tariff_seen *x = ctx;
    if (x->n < 8)
        store_tariff_format(t, x->line[x->n], sizeof(x->line[0]));
    x->n++;
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Profiles and subscriber settings: set, replace, get, list, remove, refusals; Redis follows the
 * changes from the end taken before a list; the directory store has no stream: its cursor is
 * the tariff file's marker, unchanged while nothing is written (a wait times out with 0) and
 * -ESTALE ("list again") after any change, a removal included. */
START_TEST(tariff_records)
{
    struct store *s = open_bk(_i, NULL);
    char err[512], cur[STORE_SUB_CURSOR_MAX] = "";
    struct tariff_seen seen = { 0 };
    struct store_tariff r[] = {
        { STORE_TARIFF_PROFILE, false, "child", "block=adult sched=games@mon-fri/21:00-07:00" },
        { STORE_TARIFF_SUB, false, "77010000001", "profile=child pdeny=x.test" },
        { STORE_TARIFF_PROFILE, false, "child", "block=adult,gambling" },
        { STORE_TARIFF_PROFILE, false, "teen", "" },
    };
    if (_i == BK_REDIS) {
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)), 0);
        ck_assert_str_ne(cur, "");
    } else {
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)), 0);
        ck_assert_str_eq(cur, "-"); /* no file yet */
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 120, see_tariff, &seen, err, sizeof(err)), 0);
    }
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(store_tariff_apply(s, &r[i], err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(store_tariff_list(s, see_tariff, &seen, err, sizeof(err)), 0);
    ck_assert_uint_eq(seen.n, 3);
    qsort(seen.line, 3, sizeof(seen.line[0]), cmp_line);
    ck_assert_str_eq(seen.line[0], "p child block=adult,gambling");
    ck_assert_str_eq(seen.line[1], "p teen ");
    ck_assert_str_eq(seen.line[2], "s 77010000001 profile=child pdeny=x.test");
    memset(&seen, 0, sizeof(seen));
    ck_assert_int_eq(
        store_tariff_get(s, STORE_TARIFF_SUB, "77010000001", see_tariff, &seen, err, sizeof(err)),
        0);
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_int_eq(
        store_tariff_get(s, STORE_TARIFF_SUB, "child", see_tariff, &seen, err, sizeof(err)),
        -ENOENT);
    struct store_tariff del = { STORE_TARIFF_PROFILE, true, "teen", NULL };
    ck_assert_int_eq(store_tariff_apply(s, &del, err, sizeof(err)), 0);
    ck_assert_int_eq(store_tariff_apply(s, &del, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "no profile 'teen'"));
    struct store_tariff bad[] = {
        { STORE_TARIFF_SUB, false, "has space", "profile=x" },
        { STORE_TARIFF_SUB, false, "x", "two\nlines" },
        { (enum store_tariff_kind)'q', false, "x", "" },
    };
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(store_tariff_apply(s, &bad[i], err, sizeof(err)), -EINVAL);
    if (_i == BK_REDIS) {
        memset(&seen, 0, sizeof(seen));
        int n = store_tariff_follow(s, cur, sizeof(cur), 500, see_tariff, &seen, err, sizeof(err));
        ck_assert_int_eq(n, 5);
        ck_assert_str_eq(seen.line[0], "p child block=adult sched=games@mon-fri/21:00-07:00");
        ck_assert_str_eq(seen.line[1], "s 77010000001 profile=child pdeny=x.test");
        ck_assert_str_eq(seen.line[4], "P teen");
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 100, see_tariff, &seen, err, sizeof(err)), 0);
    } else {
        char was[STORE_SUB_CURSOR_MAX];
        snprintf(was, sizeof(was), "%s", cur);
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)),
            -ESTALE);
        ck_assert_ptr_nonnull(strstr(err, "list them again"));
        ck_assert_str_eq(cur, was); /* the caller takes it again */
        cur[0] = '\0';
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)), 0);
        ck_assert_uint_eq(strlen(cur), 17);
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 120, see_tariff, &seen, err, sizeof(err)), 0);
        /* a removal, and a set of the same length (same size): each changes the marker */
        struct store_tariff d2 = { STORE_TARIFF_SUB, true, "77010000001", NULL };
        ck_assert_int_eq(store_tariff_apply(s, &d2, err, sizeof(err)), 0);
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)),
            -ESTALE);
        cur[0] = '\0';
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)), 0);
        struct store_tariff same = { STORE_TARIFF_PROFILE, false, "child", "block=adult,gamblinG" };
        ck_assert_int_eq(store_tariff_apply(s, &same, err, sizeof(err)), 0);
        ck_assert_int_eq(
            store_tariff_follow(s, cur, sizeof(cur), 0, see_tariff, &seen, err, sizeof(err)),
            -ESTALE);
        ck_assert_uint_eq(seen.n, 1); /* (the callback is never called) */
    }
    store_free(s);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, url_replicas);
    tcase_add_loop_test(tc, url_table, 0, (int)(sizeof(url_cases) / sizeof(url_cases[0])));
    tcase_add_test(tc, url_sentinel_hosts);
    tcase_add_test(tc, ids);
    tcase_add_test(tc, line_roundtrip);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, url_never_prints_password);
    tcase_add_loop_test(tc, url_redact, 0, (int)(sizeof(redacts) / sizeof(redacts[0])));
    tcase_add_loop_test(tc, line_malformed, 0, (int)(sizeof(bad_lines) / sizeof(bad_lines[0])));
    tcase_add_test(tc, line_checksum);
    tcase_add_test(tc, secret_file);
    tcase_add_test(tc, dir_torn_and_corrupt_log);
    tcase_add_test(tc, dir_default_and_create);
    tcase_add_test(tc, dir_sub_log_lines);
    suite_add_tcase(s, tc);

    tc = tcase_create("contract");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, redis_setup, redis_teardown);
    tcase_add_loop_test(tc, contract_publish_snapshot, 0, BK_N);
    tcase_add_loop_test(tc, contract_get_list, 0, BK_N);
    tcase_add_loop_test(tc, contract_refusals, 0, BK_N);
    tcase_add_loop_test(tc, contract_follow, 0, BK_N);
    tcase_add_loop_test(tc, contract_follow_wakes, 0, BK_N);
    tcase_add_loop_test(tc, contract_gap, 0, BK_N);
    tcase_add_loop_test(tc, contract_acks, 0, BK_N);
    tcase_add_loop_test(tc, contract_node_about, 0, BK_N);
    tcase_add_loop_test(tc, contract_enforcement_log, 0, BK_N);
    tcase_add_loop_test(tc, contract_events_survive_trim, 0, BK_N);
    tcase_add_loop_test(tc, contract_hits, 0, BK_N);
    tcase_add_loop_test(tc, contract_docs, 0, BK_N);
    tcase_add_loop_test(tc, contract_limits, 0, BK_N);
    tcase_add_loop_test(tc, contract_snapshot_consistent, 0, BK_N);
    tcase_add_loop_test(tc, contract_follow_concurrent, 0, BK_N);
    tcase_add_test(tc, redis_lost_change);
    suite_add_tcase(s, tc);

    tc = tcase_create("subs");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, redis_setup, redis_teardown);
    tcase_add_loop_test(tc, subs_set_get_list_del, 0, BK_N);
    tcase_add_loop_test(tc, subs_expiry, 0, BK_N);
    tcase_add_loop_test(tc, subs_refusals, 0, BK_N);
    tcase_add_loop_test(tc, subs_large_batch, 0, BK_N);
    tcase_add_loop_test(tc, subs_follow, 0, BK_N);
    tcase_add_loop_test(tc, tariff_records, 0, BK_N);
    suite_add_tcase(s, tc);

    tc = tcase_create("redis");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, auth_setup, auth_teardown);
    tcase_add_test(tc, redis_auth);
    tcase_add_test(tc, redis_reconnect);
    suite_add_tcase(s, tc);

    tc = tcase_create("sentinel");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, sentinel_setup, sentinel_teardown);
    tcase_add_test(tc, sentinel_failover);
    suite_add_tcase(s, tc);
    return s;
}

static bool have(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[512];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
        if (access(buf, X_OK) == 0)
            return true;
        p += n + (e ? 1 : 0);
    }
    return false;
}

int main(void)
{
    if (!have("redis-server") || !have("redis-sentinel")) {
        const char *allow = getenv("QG_ALLOW_SKIP");
        if (allow && strcmp(allow, "1") == 0) {
            printf("check_store: SKIP (redis-server or redis-sentinel missing; QG_ALLOW_SKIP=1)\n");
            return 77;
        }
        printf("check_store: FAIL: redis-server and redis-sentinel are needed (Debian packages "
               "redis-server, redis-sentinel; deploy/install-deps.sh)\n");
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/qg-check-store-XXXXXX");
    if (!mkdtemp(g_tmp))
        return EXIT_FAILURE;
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (!failed || !getenv("QG_KEEP_TMP"))
        nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
