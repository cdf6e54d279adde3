/* check_rsref.c - RCU publication: versions, readers running across many publishes. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/rsref.h"

/* A set holding exactly one domain "vN.kz" so a reader can tell which version it sees. */
static struct ruleset *make_set(unsigned n)
{
    struct ruleset_builder *b = ruleset_builder_new();
    char t[32], err[128];
    snprintf(t, sizeof(t), "v%u.kz", n);
    ck_assert_int_eq(ruleset_builder_add(b, t, strlen(t), NULL, err, sizeof(err)), 0);
    return ruleset_build(b);
}

START_TEST(test_versions)
{
    struct rsref *ref = rsref_new();
    ck_assert_ptr_nonnull(ref);
    rsref_thread_register();
    rsref_read_lock();
    ck_assert_ptr_null(rsref_get(ref));
    rsref_read_unlock();
    ck_assert_uint_eq(rsref_version(ref), 0);
    ck_assert_uint_eq(rsref_publish(ref, make_set(1)), 1);
    ck_assert_uint_eq(rsref_publish(ref, make_set(2)), 2);
    ck_assert_uint_eq(rsref_version(ref), 2);
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(ref);
    ck_assert_ptr_nonnull(rs);
    struct ruleset_stats st;
    ruleset_get_stats(rs, &st);
    ck_assert_uint_eq(st.version, 2);
    ck_assert(ruleset_match_domain(rs, "v2.kz", 5, NULL));
    ck_assert(!ruleset_match_domain(rs, "v1.kz", 5, NULL));
    rsref_read_unlock();
    ck_assert_uint_eq(rsref_publish(ref, NULL), 3);
    rsref_read_lock();
    ck_assert_ptr_null(rsref_get(ref));
    rsref_read_unlock();
    rsref_thread_unregister();
    rsref_free(ref);
    rsref_free(NULL);
}
END_TEST

struct reader {
    struct rsref *ref;
    atomic_bool *stop;
    atomic_ulong reads;
    unsigned long bad;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    rsref_thread_register();
    while (!atomic_load(r->stop)) {
        rsref_read_lock();
        const struct ruleset *rs = rsref_get(r->ref);
        if (rs) {
            struct ruleset_stats st;
            ruleset_get_stats(rs, &st);
            /* the set must be whole: its one entry is the one of its version */
            char t[32];
            snprintf(t, sizeof(t), "v%u.kz", (unsigned)st.version);
            if (!ruleset_match_domain(rs, t, strlen(t), NULL) || st.domains != 1)
                r->bad++;
            atomic_fetch_add(&r->reads, 1);
        }
        rsref_read_unlock();
    }
    rsref_thread_unregister();
    return NULL;
}

START_TEST(test_readers_during_publish)
{
    struct rsref *ref = rsref_new();
    atomic_bool stop = false;
    struct reader rd[3];
    pthread_t th[3];
    rsref_publish(ref, make_set(1));
    for (int i = 0; i < 3; i++) {
        rd[i].ref = ref;
        rd[i].stop = &stop;
        atomic_init(&rd[i].reads, 0);
        rd[i].bad = 0;
        pthread_create(&th[i], NULL, reader_main, &rd[i]);
    }
    /* Freed sets are poisoned under ASan: a reader touching one after its grace period
     * would be reported. */
    for (unsigned v = 2; v <= 60; v++) {
        /* let every reader get through a few read sections between publishes */
        unsigned long want[3];
        for (int i = 0; i < 3; i++)
            want[i] = atomic_load(&rd[i].reads) + 2;
        for (int i = 0; i < 3; i++)
            for (int spin = 0; spin < 1000000 && atomic_load(&rd[i].reads) < want[i]; spin++)
                sched_yield();
        ck_assert_uint_eq(rsref_publish(ref, make_set(v)), v);
    }
    atomic_store(&stop, true);
    unsigned long reads = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ck_assert_uint_eq(rd[i].bad, 0);
        reads += atomic_load(&rd[i].reads);
    }
    ck_assert_uint_ge(reads, 3 * 2 * 59);
    rsref_free(ref);
}
END_TEST

static Suite *rsref_suite(void)
{
    Suite *s = suite_create("rsref");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_versions);
    suite_add_tcase(s, tc);
    tc = tcase_create("concurrent");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_readers_during_publish);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rsref_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
