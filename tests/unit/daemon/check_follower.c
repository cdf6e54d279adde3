/* check_follower.c - Check suite for proxy/daemon/follower.c: the order of application of
 * changes read together (urgent first), and a follower on a real directory store
 * (rules/store/store_dir.c): start from a snapshot, follow imports, revokes and restores, write
 * the fail-static file; start from that file when the store is unreachable; refuse to start
 * with neither; changes enforced while a slow fail-static write runs on the writer thread. The
 * publish callback records what it was given. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/failstatic.h"
#include "common/version.h"
#include "proxy/daemon/follower.h"
#include "rules/orders/orderset.h"
#include "rules/store/store.h"

struct plancase {
    size_t n;
    bool urgent[6];
    size_t want[6];
    size_t nu;
};

static const struct plancase plans[] = {
    { 0, { 0 }, { 0 }, 0 },
    { 1, { false }, { 0 }, 0 },
    { 1, { true }, { 0 }, 1 },
    { 3, { false, true, false }, { 1, 0, 2 }, 1 },
    { 5, { true, false, true, false, true }, { 0, 2, 4, 1, 3 }, 3 },
    { 4, { false, false, true, true }, { 2, 3, 0, 1 }, 2 },
    { 3, { true, true, true }, { 0, 1, 2 }, 3 },
};

START_TEST(test_plan)
{
    const struct plancase *c = &plans[_i];
    size_t idx[6] = { 99, 99, 99, 99, 99, 99 };
    ck_assert_uint_eq(follower_plan(c->urgent, c->n, idx), c->nu);
    for (size_t i = 0; i < c->n; i++)
        ck_assert_msg(idx[i] == c->want[i], "case %d: position %zu is %zu, want %zu", _i, i, idx[i],
                      c->want[i]);
    ck_assert_uint_eq(idx[c->n], 99);
}
END_TEST

/* ---- a follower on a directory store ---- */

struct rec {
    pthread_mutex_t m;
    uint64_t version;
    size_t calls, n;
    char ids[512];
};

static _Atomic uint64_t g_flushes;

/* The heartbeat thread's flush callback: counts the calls that got a store handle. */
static int count_flush(void *ctx, struct store *s, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    if (s)
        atomic_fetch_add(&g_flushes, 1);
    return 0;
}

static int rec_publish(void *ctx, const struct order *const *orders, size_t n,
                       const struct follower_delta *delta, uint64_t version, char *err,
                       size_t errlen)
{
    (void)delta;
    (void)err;
    (void)errlen;
    struct rec *r = ctx;
    pthread_mutex_lock(&r->m);
    r->version = version;
    r->calls++;
    r->n = n;
    size_t used = 0;
    r->ids[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(r->ids); i++)
        used += (size_t)snprintf(r->ids + used, sizeof(r->ids) - used, "%s ", orders[i]->id);
    pthread_mutex_unlock(&r->m);
    return 0;
}

static char dir[64], sdir[80], stdir[80];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_follower.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sdir, sizeof(sdir), "%s/store", dir);
    snprintf(stdir, sizeof(stdir), "%s/state", dir);
    ck_assert_int_eq(mkdir(stdir, 0700), 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void publish_order(struct store *s, enum store_change_kind k, const char *id,
                          const char *res, bool urgent)
{
    char *rec = NULL;
    if (k == STORE_CHANGE_IMPORT) {
        struct order *od = order_new();
        char err0[256];
        ck_assert_int_eq(order_set(&od->id, id, strlen(id)), 0);
        ck_assert_int_eq(order_set(&od->issuer, "Court", 5), 0);
        od->urgent = urgent;
        ck_assert_int_eq(order_add_resource(od, res, strlen(res), NULL, false, err0, sizeof(err0)),
                         0);
        rec = order_to_json(od);
        order_free(od);
        ck_assert_ptr_nonnull(rec);
    }
    struct store_order o = {
        id, STORE_ACTIVE, 0, 0, k == STORE_CHANGE_IMPORT ? rec : NULL, rec ? strlen(rec) : 0
    };
    struct store_change c = { 0, k, urgent, 0, &o, 1 };
    char err[512];
    int64_t v = store_publish(s, &c, err, sizeof(err));
    ck_assert_msg(v > 0, "%s", err);
    free(rec);
}

/* Waits up to 5 s for the recorder to reach version v. */
static bool wait_version(struct rec *r, uint64_t v)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&r->m);
        bool done = r->version == v;
        pthread_mutex_unlock(&r->m);
        if (done)
            return true;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    return false;
}

static char g_about[160]; /* node-a's "software mode", as store_nodes() gave them */

static int node_cb(void *ctx, const struct store_node *n)
{
    if (strcmp(n->id, "node-a") == 0 && n->since_ms > 0) {
        *(uint64_t *)ctx = n->version;
        snprintf(g_about, sizeof(g_about), "%s %s", n->software, n->mode);
    }
    return 0;
}

START_TEST(test_follow_dir)
{
    char err[1024];
    struct store *s = store_open(sdir, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    publish_order(s, STORE_CHANGE_IMPORT, "o-1", "one.example", false);
    struct log *lg = log_new("/dev/null", LOG_LEVEL_ERROR, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(lg);
    struct rec r = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" };
    struct follower_config fc = {
        sdir, stdir, NULL, "node-a", 100, 200, 100, NULL, count_flush, "tap", NULL, 0
    }; /* software NULL: QORGAU_VERSION */
    struct follower *f = follower_new(&fc, lg, rec_publish, &r, err, sizeof(err));
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(follower_start(f, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(r.version, 1);
    ck_assert_str_eq(r.ids, "o-1 ");

    publish_order(s, STORE_CHANGE_IMPORT, "o-2", "two.example", true);
    ck_assert(wait_version(&r, 2));
    ck_assert_str_eq(r.ids, "o-1 o-2 ");
    publish_order(s, STORE_CHANGE_REVOKE, "o-1", NULL, false);
    ck_assert(wait_version(&r, 3));
    ck_assert_str_eq(r.ids, "o-2 ");
    publish_order(s, STORE_CHANGE_RESTORE, "o-1", NULL, false);
    ck_assert(wait_version(&r, 4));
    ck_assert_str_eq(r.ids, "o-1 o-2 ");

    struct follower_stats st;
    follower_get_stats(f, &st);
    ck_assert_uint_eq(st.version, 4);
    ck_assert_int_eq(st.state, FOLLOWER_CONNECTED);
    ck_assert(!st.from_failstatic);
    ck_assert_uint_ge(st.changes, 3);
    usleep(350000); /* a few heartbeats (100 ms) */
    uint64_t beats = atomic_load(&g_flushes);
    follower_free(f);
    /* the flush ran after heartbeats with a store handle, and once more at stop (a heartbeat
     * may still flush between the count and the stop: one more at most) */
    ck_assert_uint_ge(beats, 2);
    uint64_t after = atomic_load(&g_flushes);
    ck_assert_uint_ge(after, beats + 1);
    ck_assert_uint_le(after, beats + 2);

    /* the acknowledgement reached the store */
    uint64_t v = 0;
    ck_assert_int_eq(store_nodes(s, node_cb, &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 4);
    ck_assert_str_eq(g_about, QORGAU_VERSION " tap"); /* what the node runs, with each ack */

    /* the fail-static files hold what was enforced: the checkpoint of the start, each change
     * after it in the journal (no checkpoint again: the journal is far below its limit) */
    struct order_list l = { 0 };
    ck_assert_int_eq(failstatic_load(stdir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(l.n, 1);
    order_list_free(&l);
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(failstatic_journal_load(stdir, 1, &v, &j, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 4);
    ck_assert_uint_eq(j.n, 3);
    ck_assert(j.v[0].version == 2 && strcmp(j.v[0].id, "o-2") == 0 && j.v[0].o);
    ck_assert(j.v[1].version == 3 && strcmp(j.v[1].id, "o-1") == 0 && !j.v[1].o);
    ck_assert(j.v[2].version == 4 && strcmp(j.v[2].id, "o-1") == 0 && j.v[2].o);
    failstatic_journal_free(&j);

    /* the store unreachable: the node starts from the checkpoint and replays the journal */
    struct rec r2 = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" };
    struct follower_config bad = {
        "redis://127.0.0.1:1", stdir, NULL, "node-a", 100, 200, 100, NULL, NULL, NULL, NULL, 0
    };
    f = follower_new(&bad, lg, rec_publish, &r2, err, sizeof(err));
    ck_assert_msg(follower_start(f, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(r2.version, 4);
    ck_assert_str_eq(r2.ids, "o-1 o-2 ");
    follower_get_stats(f, &st);
    ck_assert(st.from_failstatic);
    ck_assert_int_eq(st.state, FOLLOWER_UNREACHABLE);
    follower_free(f);

    /* neither the store nor a file: no usable rule set */
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", stdir, FAILSTATIC_NAME);
    ck_assert_int_eq(unlink(p), 0);
    struct rec r3 = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" };
    f = follower_new(&bad, lg, rec_publish, &r3, err, sizeof(err));
    ck_assert_int_eq(follower_start(f, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, "no usable rule set") && strstr(err, "no fail-static file"), "%s",
                  err);
    ck_assert_uint_eq(r3.calls, 0);
    follower_free(f);
    log_free(lg);
    store_free(s);
}
END_TEST

/* ---- the fail-static file is written off the follower's thread ---- */

/* A slow writer: saved() (called on the writer thread after each fail-static file) takes
 * 1.5 s once armed, and records when each call began and ended. */
struct slow {
    pthread_mutex_t m;
    bool armed;
    size_t calls;
    uint64_t first_version, last_version, begin_ms, end_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct slow slow = { PTHREAD_MUTEX_INITIALIZER, false, 0, 0, 0, 0, 0 };

static void slow_saved(void *ctx, uint64_t version)
{
    (void)ctx;
    pthread_mutex_lock(&slow.m);
    bool armed = slow.armed;
    if (armed && slow.calls++ == 0) {
        slow.first_version = version;
        slow.begin_ms = now_ms();
    }
    slow.last_version = version;
    pthread_mutex_unlock(&slow.m);
    if (!armed)
        return;
    struct timespec ts = { 1, 500000000 };
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&slow.m);
    if (slow.end_ms == 0)
        slow.end_ms = now_ms();
    pthread_mutex_unlock(&slow.m);
}

START_TEST(test_write_behind)
{
    char err[1024];
    struct store *s = store_open(sdir, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    publish_order(s, STORE_CHANGE_IMPORT, "o-1", "one.example", false);
    struct log *lg = log_new("/dev/null", LOG_LEVEL_ERROR, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(lg);
    struct rec r = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" };
    struct follower_config fc = { sdir, stdir,      NULL, "node-a", 100,  200,
                                  100,  slow_saved, NULL, NULL,     NULL, 1 };
    /* journal_max 1 byte: every change makes a checkpoint due, written off the thread */
    struct follower *f = follower_new(&fc, lg, rec_publish, &r, err, sizeof(err));
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(follower_start(f, err, sizeof(err)) == 0, "%s", err);
    pthread_mutex_lock(&slow.m);
    slow.armed = true;
    pthread_mutex_unlock(&slow.m);

    /* version 2, then a quiet log: the writer begins a (slow) write of version 2 */
    publish_order(s, STORE_CHANGE_IMPORT, "o-2", "two.example", false);
    ck_assert(wait_version(&r, 2));
    bool begun = false;
    for (int i = 0; i < 300 && !begun; i++) {
        pthread_mutex_lock(&slow.m);
        begun = slow.calls > 0;
        pthread_mutex_unlock(&slow.m);
        if (!begun) {
            struct timespec ts = { 0, 10000000 };
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_msg(begun, "no fail-static write began");
    ck_assert_uint_eq(slow.first_version, 2);

    /* a change during the write is enforced before the write ends */
    publish_order(s, STORE_CHANGE_IMPORT, "o-3", "three.example", true);
    ck_assert(wait_version(&r, 3));
    uint64_t published_ms = now_ms();
    pthread_mutex_lock(&slow.m);
    uint64_t end_ms = slow.end_ms;
    pthread_mutex_unlock(&slow.m);
    ck_assert_msg(end_ms == 0 || published_ms < end_ms,
                  "version 3 published at %llu, after the write ended at %llu",
                  (unsigned long long)published_ms, (unsigned long long)end_ms);
    ck_assert_str_eq(r.ids, "o-1 o-2 o-3 ");

    /* stop: the write in progress ends, then the newest version is written */
    struct follower_stats st;
    follower_get_stats(f, &st);
    uint64_t writes0 = st.failstatic_writes;
    follower_free(f);
    ck_assert_uint_ge(slow.end_ms, slow.begin_ms + 1400);
    ck_assert_uint_eq(slow.last_version, 3);
    ck_assert_uint_le(slow.calls, 2); /* coalesced: never one write per request */
    ck_assert_uint_ge(writes0, 1);
    uint64_t v = 0;
    struct order_list l = { 0 };
    ck_assert_int_eq(failstatic_load(stdir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 3);
    ck_assert_uint_eq(l.n, 3);
    order_list_free(&l);
    log_free(lg);
    store_free(s);
}
END_TEST

/* ---- deltas: applied to the set published last, they answer as a full compilation ---- */

/* Publishes like the daemon (the delta on the last set; a compilation without one or when
 * orderset_apply() refuses it) and compares every answer with a compilation of the full set. */
struct twin {
    pthread_mutex_t m;
    struct ruleset *cur;
    uint64_t version;
    size_t applied, refused, compiled, compared, mismatches, failures;
    char why[256];
};

static const char *const twin_names[] = { "one.example",   "www.one.example", "two.example",
                                          "three.example", "four.example",    "other.test" };

static const char *match_text(const struct ruleset *rs, const char *host)
{
    struct rule_match m;
    if (!ruleset_match_domain(rs, host, strlen(host), &m))
        return "-";
    return ruleset_entry_text(rs, m.entry);
}

static int twin_publish(void *ctx, const struct order *const *orders, size_t n,
                        const struct follower_delta *delta, uint64_t version, char *err,
                        size_t errlen)
{
    struct twin *t = ctx;
    pthread_mutex_lock(&t->m);
    struct orderset_stats st;
    struct ruleset *full = orderset_compile(orders, n, &st, err, errlen);
    struct ruleset *next = NULL;
    if (delta && t->cur) {
        int rc = 0;
        char e[512];
        next = orderset_apply(t->cur, delta->add, delta->nadd, delta->revoke, delta->nrevoke, &rc,
                              e, sizeof(e));
        if (next)
            t->applied++;
        else if (rc == -EINVAL)
            t->refused++;
        else
            t->failures++;
    }
    if (!next) {
        next = orderset_compile(orders, n, &st, err, errlen);
        t->compiled++;
    }
    if (!full || !next) {
        t->failures++;
        ruleset_free(full);
        ruleset_free(next);
        pthread_mutex_unlock(&t->m);
        return -ENOMEM;
    }
    for (size_t i = 0; i < sizeof(twin_names) / sizeof(twin_names[0]); i++) {
        const char *a = match_text(next, twin_names[i]), *b = match_text(full, twin_names[i]);
        t->compared++;
        if (strcmp(a, b) != 0) {
            t->mismatches++;
            snprintf(t->why, sizeof(t->why), "version %llu: %s: %s, a compilation says %s",
                     (unsigned long long)version, twin_names[i], a, b);
        }
    }
    ruleset_free(full);
    ruleset_free(t->cur);
    t->cur = next;
    t->version = version;
    pthread_mutex_unlock(&t->m);
    return 0;
}

static bool twin_wait(struct twin *t, uint64_t v)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&t->m);
        bool done = t->version == v;
        pthread_mutex_unlock(&t->m);
        if (done)
            return true;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Imports a record: a restrict order of res (NULL: none), or a restore order of issuer lifting
 * restores (NULL: every earlier order of the issuer). */
static void import_record(struct store *s, const char *id, const char *issuer, const char *res,
                          bool restore, const char *restores)
{
    struct order *od = order_new();
    char err[512];
    ck_assert_int_eq(order_set(&od->id, id, strlen(id)), 0);
    ck_assert_int_eq(order_set(&od->issuer, issuer, strlen(issuer)), 0);
    od->action = restore ? ORDER_RESTORE : ORDER_RESTRICT;
    if (res)
        ck_assert_int_eq(order_add_resource(od, res, strlen(res), NULL, false, err, sizeof(err)),
                         0);
    if (restores)
        ck_assert_int_eq(order_add_restores(od, restores), 0);
    char *rec = order_to_json(od);
    order_free(od);
    ck_assert_ptr_nonnull(rec);
    struct store_order o = { id, STORE_ACTIVE, 0, 0, rec, strlen(rec) };
    struct store_change c = { 0, STORE_CHANGE_IMPORT, false, 0, &o, 1 };
    ck_assert_msg(store_publish(s, &c, err, sizeof(err)) > 0, "%s", err);
    free(rec);
}

START_TEST(test_delta)
{
    char err[1024];
    struct store *s = store_open(sdir, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    import_record(s, "o-1", "Court", "one.example", false, NULL);
    struct log *lg = log_new("/dev/null", LOG_LEVEL_ERROR, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(lg);
    struct twin t;
    memset(&t, 0, sizeof(t));
    pthread_mutex_init(&t.m, NULL);
    struct follower_config fc = { sdir, stdir, NULL, "node-a", 100,  200,
                                  100,  NULL,  NULL, NULL,     NULL, 0 };
    struct follower *f = follower_new(&fc, lg, twin_publish, &t, err, sizeof(err));
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(follower_start(f, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(t.compiled, 1); /* the snapshot */
    uint64_t v = 1;

    /* applied: imports, a second claim on an entry, a revoke, a re-activation */
    import_record(s, "o-2", "Court", "two.example", false, NULL);
    ck_assert(twin_wait(&t, ++v));
    import_record(s, "o-3", "Police", "one.example", false, NULL);
    ck_assert(twin_wait(&t, ++v));
    publish_order(s, STORE_CHANGE_REVOKE, "o-1", NULL, false);
    ck_assert(twin_wait(&t, ++v));
    publish_order(s, STORE_CHANGE_RESTORE, "o-1", NULL, false);
    ck_assert(twin_wait(&t, ++v));
    publish_order(s, STORE_CHANGE_REVOKE, "o-3", NULL, false);
    ck_assert(twin_wait(&t, ++v));
    /* a restore order naming its order is applied too */
    import_record(s, "r-1", "Court", "two.example", true, "o-2");
    ck_assert(twin_wait(&t, ++v));
    ck_assert_uint_eq(t.applied, 6);
    ck_assert_uint_eq(t.compiled, 1);
    ck_assert_str_eq(match_text(t.cur, "two.example"), "-");

    /* re-activating an order a restore order lifts: published in full */
    publish_order(s, STORE_CHANGE_REVOKE, "o-2", NULL, false);
    ck_assert(twin_wait(&t, ++v));
    publish_order(s, STORE_CHANGE_RESTORE, "o-2", NULL, false);
    ck_assert(twin_wait(&t, ++v));
    ck_assert_uint_eq(t.compiled, 2);
    ck_assert_str_eq(match_text(t.cur, "two.example"), "-");

    /* revoking a restore order: published in full, the lifted claim is back */
    publish_order(s, STORE_CHANGE_REVOKE, "r-1", NULL, false);
    ck_assert(twin_wait(&t, ++v));
    ck_assert_uint_eq(t.compiled, 3);
    ck_assert_str_eq(match_text(t.cur, "two.example"), "two.example");

    /* a restore order naming no order: orderset_apply() refuses it (-EINVAL), compiled */
    import_record(s, "r-2", "Court", NULL, true, NULL);
    ck_assert(twin_wait(&t, ++v));
    ck_assert_uint_eq(t.refused, 1);
    ck_assert_uint_eq(t.compiled, 4);
    ck_assert_str_eq(match_text(t.cur, "one.example"), "-");
    ck_assert_str_eq(match_text(t.cur, "two.example"), "-");

    /* an import after it, of another issuer: applied again */
    import_record(s, "o-4", "Police", "four.example", false, NULL);
    ck_assert(twin_wait(&t, ++v));
    ck_assert_uint_eq(t.applied, 8);
    ck_assert_str_eq(match_text(t.cur, "four.example"), "four.example");

    follower_free(f);
    ck_assert_uint_eq(t.failures, 0);
    ck_assert_uint_eq(t.compared, 6 * 12);
    ck_assert_msg(t.mismatches == 0, "%zu answers differ; last: %s", t.mismatches, t.why);
    ruleset_free(t.cur);
    pthread_mutex_destroy(&t.m);
    log_free(lg);
    store_free(s);
}
END_TEST

static Suite *follower_suite(void)
{
    Suite *s = suite_create("follower");
    TCase *tc = tcase_create("plan");
    tcase_add_loop_test(tc, test_plan, 0, (int)(sizeof(plans) / sizeof(plans[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("dir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_follow_dir);
    tcase_add_test(tc, test_delta);
    tcase_add_test(tc, test_write_behind);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(follower_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
