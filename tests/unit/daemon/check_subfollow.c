/* check_subfollow.c - Check suite for the node's follower of the store's subscriber map
 * (proxy/daemon/subfollow.c), against a real redis-server started here on a free loopback
 * port: the first load, then an outage (the server killed and started again without the
 * mappings it had, as a failover to a replica that missed them would leave it) after which the
 * full load removes the mappings and tariff records the store no longer has, not only adds what
 * it has. And the directory store (one node, no change stream): its tariff records are in the
 * table when subfollow_start() returns, a change written by another handle (the CLI) is live
 * within about a second, a removal goes (the file's definition under it back at the next
 * rebase), and subfollow_reread() lists them again; its mappings are in the map at start, and
 * a set or removal by another handle reaches the map within about a second (its subs.log).
 *
 * Without redis-server this suite fails, unless QG_ALLOW_SKIP=1 (exit 77). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/subfollow.h"
#include "rules/match/rsref.h"
#include "rules/store/store.h"
#include "tests/lib/proc.h"
#include "tests/lib/tmpdir.h"

static char g_tmp[64];
static uint16_t g_port;
static pid_t g_redis; /* the server running, stopped by main() too when a case fails */

/* redis-server on g_port without persistence, its output in g_tmp/log.redis; waits until a
 * store handle opens on it. */
static pid_t start_redis(void)
{
    char ps[8], log[128];
    snprintf(ps, sizeof(ps), "%u", g_port);
    snprintf(log, sizeof(log), "%s/log.redis", g_tmp);
    pid_t p = fork();
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", g_tmp, (char *)NULL);
        _exit(127);
    }
    return g_redis = p;
}

/* A store handle on g_port, retried for up to 5 s while the server starts. */
static struct store *open_store(void)
{
    char url[64], err[512];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u", g_port);
    struct store_opts o = { 0 };
    for (uint64_t end = proc_mono_ms() + 5000; proc_mono_ms() < end; proc_sleep_ms(50)) {
        struct store *s = store_open(url, &o, err, sizeof(err));
        if (s)
            return s;
    }
    ck_abort_msg("redis-server did not answer on port %u (see %s/log.redis)", g_port, g_tmp);
    return NULL;
}

static void set_in(struct store *s, const char *addr, const char *sub, const char *sess)
{
    struct store_sub e = { .op = STORE_SUB_SET, .addr = addr, .subscriber = sub, .session = sess };
    char err[512];
    ck_assert_msg(store_sub_apply(s, &e, 1, err, sizeof(err)) == 1, "%s", err);
}

static void rec_in(struct store *s, bool sub, const char *name, const char *text)
{
    struct store_tariff r = { sub ? STORE_TARIFF_SUB : STORE_TARIFF_PROFILE, false, name, text };
    char err[512];
    ck_assert_msg(store_tariff_apply(s, &r, err, sizeof(err)) == 0, "%s", err);
}

/* The table's text for a subscriber ("-": none). */
static const char *stext(struct tariff *t, const char *sub)
{
    static char out[256];
    return tariff_sub_text(t, sub, out, sizeof(out)) ? out : "-";
}

/* Who the map has behind ip ("-": nobody). */
static const char *who(const struct submap *m, const char *ip)
{
    static char sub[SUB_ID_MAX + 1];
    struct sub_addr a;
    char err[128];
    ck_assert_int_eq(sub_addr_parse(ip, strlen(ip), &a, err, sizeof(err)), 0);
    uint8_t b[16];
    memcpy(b, a.addr, 16);
    return submap_lookup(m, a.family, b, store_now_ms(), sub, sizeof(sub), NULL, 0) ? sub : "-";
}

/* Polls (10 s at most) until the follower did loads full loads and the map holds n mappings. */
static bool wait_for(struct subfollow *f, const struct submap *m, uint64_t loads, size_t n)
{
    for (uint64_t end = proc_mono_ms() + 10000; proc_mono_ms() < end; proc_sleep_ms(50)) {
        struct subfollow_stats st;
        subfollow_get_stats(f, &st);
        if (st.loads >= loads && submap_count(m) == n)
            return true;
    }
    return false;
}

/* The full load after an outage removes the mappings the store dropped meanwhile (with and
 * without a session), keeps the ones it still has and adds the new ones, and does the same
 * with the tariff records (a child's settings dropped go, the node's own definitions stay);
 * the change streams then go on as before. */
START_TEST(outage_reload_removes_dropped)
{
    rsref_thread_register();
    g_port = proc_free_port();
    start_redis();
    struct store *s = open_store();
    set_in(s, "10.0.0.1", "77010000001", "a1");
    set_in(s, "10.0.0.2", "77010000002", "b1");
    set_in(s, "10.0.0.3", "77010000003", "");
    rec_in(s, false, "child", "block=adult");
    rec_in(s, true, "77010000001", "profile=child");
    rec_in(s, true, "77010000002", "profile=child");
    store_free(s);
    char url[64], err[512];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u", g_port);
    struct log *lg = log_new("-", LOG_LEVEL_WARN, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(lg);
    struct submap *m = submap_new(64);
    int why;
    struct subfollow *f = subfollow_new(url, "", m, lg, &why, err, sizeof(err));
    ck_assert_msg(f != NULL, "%s", err);
    struct tariff *t = tariff_new(NULL);
    ck_assert_int_eq(tariff_set_sub(t, "77010000009", "profile=child", err, sizeof(err)), 0);
    subfollow_set_tariff(f, t);
    ck_assert_int_eq(subfollow_start(f), 0);
    ck_assert_msg(wait_for(f, m, 1, 3), "the first load: %zu mappings", submap_count(m));
    ck_assert_str_eq(who(m, "10.0.0.2"), "77010000002");
    ck_assert_str_eq(stext(t, "77010000002"), "profile=child");

    /* the outage: the server goes, and comes back without 10.0.0.2 and 10.0.0.3 */
    proc_stop(&g_redis);
    struct subfollow_stats st;
    for (uint64_t end = proc_mono_ms() + 5000; proc_mono_ms() < end; proc_sleep_ms(50)) {
        subfollow_get_stats(f, &st);
        if (st.errors)
            break;
    }
    ck_assert_uint_gt(st.errors, 0);
    start_redis();
    s = open_store();
    set_in(s, "10.0.0.1", "77010000001", "a1");
    set_in(s, "10.0.0.4", "77010000004", "d1");
    rec_in(s, false, "child", "block=adult");
    rec_in(s, true, "77010000001", "profile=child");
    ck_assert_msg(wait_for(f, m, 2, 2), "after the outage: %zu mappings", submap_count(m));
    for (uint64_t end = proc_mono_ms() + 5000; proc_mono_ms() < end; proc_sleep_ms(50))
        if (strcmp(stext(t, "77010000002"), "-") == 0)
            break;
    ck_assert_str_eq(stext(t, "77010000002"), "-");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(stext(t, "77010000009"), "profile=child");
    char ptext[64];
    ck_assert(tariff_profile_text(t, "child", ptext, sizeof(ptext)));
    ck_assert_str_eq(who(m, "10.0.0.1"), "77010000001");
    ck_assert_str_eq(who(m, "10.0.0.2"), "-");
    ck_assert_str_eq(who(m, "10.0.0.3"), "-");
    ck_assert_str_eq(who(m, "10.0.0.4"), "77010000004");
    /* the stream goes on */
    set_in(s, "10.0.0.5", "77010000005", "e1");
    ck_assert(wait_for(f, m, 2, 3));
    ck_assert_str_eq(who(m, "10.0.0.5"), "77010000005");
    rec_in(s, true, "77010000005", "profile=child");
    for (uint64_t end = proc_mono_ms() + 5000; proc_mono_ms() < end; proc_sleep_ms(50))
        if (strcmp(stext(t, "77010000005"), "-") != 0)
            break;
    ck_assert_str_eq(stext(t, "77010000005"), "profile=child");
    store_free(s);
    subfollow_free(f);
    tariff_free(t);
    submap_free(m);
    log_free(lg);
    proc_stop(&g_redis);
    rsref_thread_unregister();
}
END_TEST

/* Polls (5 s at most) until the table's text for sub is want. */
static bool wait_text(struct tariff *t, const char *sub, const char *want)
{
    for (uint64_t end = proc_mono_ms() + 5000; proc_mono_ms() < end; proc_sleep_ms(20))
        if (strcmp(stext(t, sub), want) == 0)
            return true;
    return false;
}

/* The directory store's tariff records reach the node: at start (before the thread runs),
 * then a change made by another handle without a reload, a removal, and a reread. */
START_TEST(dir_store_tariff_records)
{
    rsref_thread_register();
    char dir[128], url[160], err[512];
    snprintf(dir, sizeof(dir), "%s/dirstore", g_tmp);
    snprintf(url, sizeof(url), "dir://%s", dir);
    struct store_opts o = { 0 };
    struct store *s = store_open(url, &o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    rec_in(s, false, "child", "block=adult");
    rec_in(s, true, "77010000001", "profile=child");
    rec_in(s, true, "77010000002", "profile=child");
    set_in(s, "10.0.0.1", "77010000001", "a1");
    set_in(s, "10.0.0.2", "77010000002", "");
    struct log *lg = log_new("-", LOG_LEVEL_WARN, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(lg);
    struct submap *m = submap_new(64);
    int why;
    struct subfollow *f = subfollow_new(url, "", m, lg, &why, err, sizeof(err));
    ck_assert_msg(f != NULL, "the directory store refused (%d): %s", why, err);
    /* the node's profiles file: a definition of 77010000002 and one of its own */
    struct tariff *t = tariff_new(NULL);
    ck_assert_int_eq(tariff_set_sub(t, "77010000002", "profile=other", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_set_sub(t, "77010000009", "profile=child", err, sizeof(err)), 0);
    subfollow_set_tariff(f, t);
    subfollow_set_failstatic(f, g_tmp, 60000); /* nothing for this store */
    ck_assert_int_eq(subfollow_start(f), 0);
    /* at start: at once, not after the thread's first step */
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(stext(t, "77010000002"), "profile=child");
    ck_assert_str_eq(who(m, "10.0.0.1"), "77010000001");
    ck_assert_str_eq(who(m, "10.0.0.2"), "77010000002");
    struct subfollow_stats st;
    subfollow_get_stats(f, &st);
    ck_assert_uint_eq(st.loads, 1);
    char p[128];
    snprintf(p, sizeof(p), "%s/subscribers.img", g_tmp);
    ck_assert_int_ne(access(p, F_OK), 0);

    /* written by another process (the CLI): live without a reload, within about a second */
    uint64_t t0 = proc_mono_ms();
    rec_in(s, true, "77010000003", "profile=child pdeny=x.test");
    ck_assert_msg(wait_text(t, "77010000003", "profile=child pdeny=x.test"), "not applied");
    ck_assert_uint_lt(proc_mono_ms() - t0, 2000);
    rec_in(s, true, "77010000001", "profile=teen");
    ck_assert(wait_text(t, "77010000001", "profile=teen"));
    /* removed from the store: it goes (and the file's definition by that name with it, until
     * the next rebase); the node's own stays */
    struct store_tariff del = { STORE_TARIFF_SUB, true, "77010000002", NULL };
    ck_assert_msg(store_tariff_apply(s, &del, err, sizeof(err)) == 0, "%s", err);
    ck_assert(wait_text(t, "77010000002", "-"));
    ck_assert_str_eq(stext(t, "77010000009"), "profile=child");
    ck_assert_str_eq(stext(t, "77010000003"), "profile=child pdeny=x.test");
    /* a reload: the file read again into a table aside, the store's records on top */
    struct tariff *aside = tariff_new(NULL);
    ck_assert_int_eq(tariff_set_sub(aside, "77010000002", "profile=other", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_set_sub(aside, "77010000003", "profile=other", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_rebase(t, aside), 0);
    tariff_free(aside);
    ck_assert_str_eq(stext(t, "77010000002"), "profile=other");
    ck_assert_str_eq(stext(t, "77010000003"), "profile=child pdeny=x.test");
    /* the reread after a reload: the same records again, nothing lost; one the table holds
     * from the store that the store does not have (as a change missed) goes */
    ck_assert_int_eq(tariff_layer_set(t, true, "77010000007", "profile=child", err, sizeof(err)),
                     0);
    subfollow_get_stats(f, &st);
    uint64_t loads = st.loads;
    /* mappings changed by another handle reach the map without a reread */
    t0 = proc_mono_ms();
    set_in(s, "10.0.0.3", "77010000003", "c1");
    struct store_sub unmap = { .op = STORE_SUB_DEL, .addr = "10.0.0.2" };
    ck_assert_int_eq(store_sub_apply(s, &unmap, 1, err, sizeof(err)), 1);
    while (strcmp(who(m, "10.0.0.2"), "-") != 0 && proc_mono_ms() - t0 < 5000)
        proc_sleep_ms(20);
    ck_assert_uint_lt(proc_mono_ms() - t0, 2000);
    ck_assert_str_eq(who(m, "10.0.0.3"), "77010000003");
    subfollow_reread(f);
    ck_assert(wait_text(t, "77010000007", "-"));
    ck_assert_str_eq(who(m, "10.0.0.3"), "77010000003");
    ck_assert_str_eq(who(m, "10.0.0.2"), "-");
    ck_assert_str_eq(who(m, "10.0.0.1"), "77010000001");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=teen");
    ck_assert_str_eq(stext(t, "77010000002"), "profile=other");
    ck_assert_str_eq(stext(t, "77010000003"), "profile=child pdeny=x.test");
    subfollow_get_stats(f, &st);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.loads, loads);
    subfollow_free(f);
    store_free(s);
    tariff_free(t);
    submap_free(m);
    log_free(lg);
    rsref_thread_unregister();
}
END_TEST

static Suite *subfollow_suite(void)
{
    Suite *s = suite_create("subfollow");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, outage_reload_removes_dropped);
    suite_add_tcase(s, tc);
    tc = tcase_create("dir");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, dir_store_tariff_records);
    suite_add_tcase(s, tc);
    return s;
}

static bool have(const char *prog)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

int main(void)
{
    if (!have("redis-server")) {
        const char *allow = getenv("QG_ALLOW_SKIP");
        if (allow && strcmp(allow, "1") == 0) {
            printf("check_subfollow: SKIP (redis-server missing; QG_ALLOW_SKIP=1)\n");
            return 77;
        }
        printf("check_subfollow: FAIL: redis-server is needed (Debian package redis-server; "
               "deploy/install-deps.sh)\n");
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/qg-check-subfollow-XXXXXX");
    if (!mkdtemp(g_tmp))
        return EXIT_FAILURE;
    SRunner *sr = srunner_create(subfollow_suite());
    /* (in this process: the server it starts is stopped by the case, or with the process) */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    proc_stop(&g_redis);
    if (!failed || !getenv("QG_KEEP_TMP"))
        tmpdir_remove(g_tmp);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
