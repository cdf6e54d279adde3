/* check_tariff.c - Check suite for profiles and subscriber settings (rules/subs/profile.c), the
 * node's tariff table (rules/subs/tariff.c) and pseudonyms (rules/subs/pseudo.c): category
 * blocks by mask, allow-list mode (nameless flows and QUIC blocked), schedules across midnight
 * in a zone offset, parental allow over a category block and parental deny, unknown
 * subscribers on the default profile, a change visible after publish, text errors; the cached
 * record of tariff_judge_ref across publishes (300, past its serial's wrap) and subscribers;
 * the profiles file loader; the image: the same decisions from a table read back from one,
 * read-only, and every forged value refused; the store's layer kept over a rebase, also with
 * a writer setting records meanwhile; a store removal giving the base's (the profiles file's)
 * definition by that name back at once. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/fileio.h"
#include "common/imgfile.h"
#include "rules/match/rsref.h"
#include "rules/subs/profile.h"
#include "rules/subs/pseudo.h"
#include "rules/subs/tariff.h"
#include "tests/lib/tmpdir.h"

/* 2026-12-07 is a Monday; 00:00 UTC. */
#define MON0 1796601600LL

static struct catset *cats(void)
{
    struct catset_builder *b = catset_builder_new();
    ck_assert_int_eq(catset_builder_category(b, "adult"), 0);
    ck_assert_int_eq(catset_builder_category(b, "games"), 1);
    ck_assert_int_eq(catset_builder_category(b, "kids"), 2);
    char err[128];
    ck_assert_int_eq(catset_builder_add(b, "adult.test", 10, 0, false, err, sizeof(err)), 0);
    ck_assert_int_eq(catset_builder_add(b, "games.test", 10, 1, false, err, sizeof(err)), 0);
    ck_assert_int_eq(catset_builder_add(b, "kids.test", 9, 2, false, err, sizeof(err)), 0);
    ck_assert_int_eq(catset_builder_add(b, "kidgames.test", 13, 1, false, err, sizeof(err)), 0);
    ck_assert_int_eq(catset_builder_add(b, "kidgames.test", 13, 2, false, err, sizeof(err)), 0);
    return catset_build(b);
}

static enum profile_cause judge(const struct tariff *t, const char *sub, const char *name, bool udp,
                                int64_t now, struct tariff_verdict *v)
{
    struct tariff_req r = {
        .sub = sub, .name = name, .name_len = name ? strlen(name) : 0, .udp = udp, .now = now
    };
    tariff_judge(t, &r, v);
    return v->cause;
}

static void set_prof(struct tariff *t, const char *n, const char *spec)
{
    char err[256];
    ck_assert_msg(tariff_set_profile(t, n, spec, err, sizeof(err)) == 0, "%s", err);
}

static void set_sub(struct tariff *t, const char *s, const char *spec)
{
    char err[256];
    ck_assert_msg(tariff_set_sub(t, s, spec, err, sizeof(err)) == 0, "%s", err);
}

/* The subscriber's text as set is want. */
static void sub_text_is(struct tariff *t, const char *sub, const char *want)
{
    char text[128];
    ck_assert_msg(tariff_sub_text(t, sub, text, sizeof(text)), "%s: no text", sub);
    ck_assert_str_eq(text, want);
}

static void publish(struct tariff *t, int want)
{
    char err[256];
    int rc = tariff_publish(t, err, sizeof(err));
    ck_assert_msg(rc == want, "publish %d: %s", rc, err);
}

/* The table the decisions below are about (+05:00): the default profile, a child profile
 * with a schedule, an allow-list profile; subscribers on each, one with parental lists.
 * Nothing published yet. */
static struct tariff *base_table(void)
{
    struct tariff *t = tariff_new("default");
    tariff_set_categories(t, cats());
    tariff_set_utc_offset(t, 5 * 3600);
    set_prof(t, "default", "");
    set_prof(t, "child", "block=adult sched=games@mon-fri/21:00-07:00");
    set_prof(t, "child-allowlist", "allowlist=yes allow=kids");
    set_sub(t, "77010000001", "profile=child");
    set_sub(t, "77010000002", "profile=child-allowlist");
    set_sub(t, "77010000003", "profile=child pallow=adult.test pdeny=kids.test");
    return t;
}

START_TEST(decisions)
{
    rsref_thread_register();
    struct tariff *t = base_table();
    set_sub(t, "77010000004", "pdeny=games.test");
    publish(t, 0);
    struct tariff_verdict v;
    int64_t noon = MON0 + 7 * 3600; /* 12:00 local (+05:00) */
    /* adult (unknown subscriber, the default profile): nothing blocked */
    ck_assert_int_eq(judge(t, NULL, "adult.test", false, noon, &v), PCAUSE_NONE);
    ck_assert_str_eq(v.profile, "default");
    ck_assert_int_eq(judge(t, "77019999999", "www.adult.test", false, noon, &v), PCAUSE_NONE);
    /* child: the category blocks, others pass */
    ck_assert_int_eq(judge(t, "77010000001", "www.adult.test", false, noon, &v), PCAUSE_PROFILE);
    ck_assert_str_eq(v.profile, "child");
    ck_assert_str_eq(v.category, "adult");
    ck_assert_uint_eq(v.cats, 1);
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, noon, &v), PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000001", NULL, false, noon, &v), PCAUSE_NONE);
    /* the schedule: games from 21:00 local, across midnight to 07:00 (Tuesday 06:59) */
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0 + 16 * 3600, &v),
                     PCAUSE_SCHEDULE);
    ck_assert_str_eq(v.category, "games");
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0 + 16 * 3600 - 60, &v),
                     PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0 + 26 * 3600 - 60, &v),
                     PCAUSE_SCHEDULE);
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0 + 26 * 3600, &v),
                     PCAUSE_NONE);
    /* Saturday 22:00 local: not a school night; Sunday night 21:00 -> Monday 07:00 neither
     * (the window belongs to the day it starts on: sun is not in mon-fri) */
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0 + 5 * 86400 + 17 * 3600, &v),
                     PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0 - 3600, &v), PCAUSE_NONE);
    /* allow-list mode */
    ck_assert_int_eq(judge(t, "77010000002", "kids.test", false, noon, &v), PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000002", "kidgames.test", false, noon, &v), PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000002", "other.test", false, noon, &v), PCAUSE_ALLOWLIST);
    ck_assert_int_eq(judge(t, "77010000002", NULL, false, noon, &v), PCAUSE_ALLOWLIST);
    ck_assert_int_eq(judge(t, "77010000002", "kids.test", true, noon, &v), PCAUSE_ALLOWLIST);
    /* parental allow beats the category; parental deny blocks what the profile allows */
    ck_assert_int_eq(judge(t, "77010000003", "adult.test", false, noon, &v), PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000003", "a.kids.test", false, noon, &v), PCAUSE_PARENTAL);
    ck_assert_int_eq(judge(t, "77010000003", "notkids.test", false, noon, &v), PCAUSE_NONE);
    /* settings without a profile: the default profile plus the parental list */
    ck_assert_int_eq(judge(t, "77010000004", "games.test", false, noon, &v), PCAUSE_PARENTAL);
    ck_assert_str_eq(v.profile, "default");
    ck_assert_int_eq(judge(t, "77010000004", "adult.test", false, noon, &v), PCAUSE_NONE);

    /* a change shows after publish; a deleted subscriber falls back to the default profile */
    set_sub(t, "77019999999", "profile=child");
    ck_assert_int_eq(judge(t, "77019999999", "adult.test", false, noon, &v), PCAUSE_NONE);
    publish(t, 0);
    ck_assert_int_eq(judge(t, "77019999999", "adult.test", false, noon, &v), PCAUSE_PROFILE);
    ck_assert_int_eq(tariff_del_sub(t, "77019999999"), 0);
    ck_assert_int_eq(tariff_del_sub(t, "77019999999"), -ENOENT);
    publish(t, 0);
    ck_assert_int_eq(judge(t, "77019999999", "adult.test", false, noon, &v), PCAUSE_NONE);
    /* the default profile itself may restrict */
    set_prof(t, "default", "block=games");
    publish(t, 0);
    ck_assert_int_eq(judge(t, NULL, "games.test", false, noon, &v), PCAUSE_PROFILE);
    char txt[256];
    ck_assert(tariff_profile_text(t, "child", txt, sizeof(txt)));
    ck_assert_str_eq(txt, "block=adult sched=games@mon-fri/21:00-07:00");
    ck_assert(tariff_sub_text(t, "77010000003", txt, sizeof(txt)));
    ck_assert_str_eq(txt, "profile=child pallow=adult.test pdeny=kids.test");
    /* unknown category at publish: reported, that profile left out */
    set_prof(t, "teen", "block=violence");
    set_sub(t, "77010000005", "profile=teen");
    char err[256];
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 2);
    ck_assert_ptr_nonnull(strstr(err, "unknown category 'violence'"));
    ck_assert_int_eq(tariff_del_profile(t, "teen"), 0);
    ck_assert_int_eq(tariff_del_profile(t, "teen"), -ENOENT);
    struct tariff_stats st;
    tariff_get_stats(t, &st);
    ck_assert_uint_eq(st.profiles, 3);
    ck_assert_uint_eq(st.subscribers, 5);
    ck_assert_uint_eq(st.categories, 3);
    tariff_free(t);
    judge(NULL, "x", "adult.test", false, noon, &v);
    ck_assert_int_eq(v.cause, PCAUSE_NONE);
    rsref_thread_unregister();
}
END_TEST

START_TEST(texts)
{
    static const char *const ok[] = {
        "",
        "block=adult,games",
        "allowlist=yes allow=kids",
        "sched=*@sat,sun/22:00-08:00 sched=games@mon-fri/00:00-24:00",
    };
    static const char *const bad_prof[][2] = {
        { "block=", "no category" },
        { "block=Adult", "not a category name" },
        { "allowlist=maybe", "yes or no" },
        { "sched=games@mon/25:00-01:00", "hours" },
        { "sched=games@someday/01:00-02:00", "days" },
        { "sched=games", "CATEGORIES@DAYS" },
        { "colour=red", "unknown key" },
        { "block", "KEY=VALUE" },
    };
    char err[256];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(profile_check(ok[i], false, "p", err, sizeof(err)) == 0, "%s: %s", ok[i],
                      err);
    for (size_t i = 0; i < sizeof(bad_prof) / sizeof(bad_prof[0]); i++) {
        ck_assert_int_eq(profile_check(bad_prof[i][0], false, "p", err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, bad_prof[i][1]), "%s: %s", bad_prof[i][0], err);
    }
    ck_assert_int_eq(
        profile_check("profile=child pallow=a.test,*.B.test", true, "s", err, sizeof(err)), 0);
    ck_assert_int_eq(profile_check("pdeny=10.0.0.1", true, "subscriber 1", err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "subscriber 1: field 'pdeny=10.0.0.1' (offset 0)"));
    ck_assert_int_eq(profile_check("profile=child pdeny=a b", true, "s", err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'b'"));
    ck_assert_int_eq(profile_check("block=adult", true, "s", err, sizeof(err)), -EINVAL);
    struct profile_sub s;
    ck_assert_int_eq(profile_sub_parse("pallow=*.Kids.TEST.", NULL, &s, err, sizeof(err)), 0);
    ck_assert_str_eq(s.allow[0], "kids.test");
    profile_sub_clear(&s);
    ck_assert(profile_name_valid("child-allowlist"));
    ck_assert(!profile_name_valid(""));
    ck_assert(!profile_name_valid("Child"));
    ck_assert_str_eq(profile_cause_name(PCAUSE_ALLOWLIST), "allowlist");
    ck_assert_ptr_null(profile_cause_name(PCAUSE_NONE));
    /* Monday 00:00 UTC = Monday 05:00 at +05:00; Sunday 23:59 at -01:00 */
    ck_assert_uint_eq(profile_local_minutes(MON0, 5 * 3600), 300);
    ck_assert_uint_eq(profile_local_minutes(MON0, -60), 7 * 1440 - 1);
}
END_TEST

START_TEST(pseudonyms)
{
    struct pseudo p = { 0 };
    char a[PSEUDO_TEXT_MAX], b[PSEUDO_TEXT_MAX], c[PSEUDO_TEXT_MAX];
    pseudo_id(&p, "77011234567", a, sizeof(a));
    ck_assert_str_eq(a, "p-unkeyed");
    pseudo_set_key(&p, "0123456789abcdef0123", 20);
    pseudo_id(&p, "77011234567", a, sizeof(a));
    pseudo_id(&p, "77011234567", b, sizeof(b));
    pseudo_id(&p, "77011234568", c, sizeof(c));
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_uint_eq(strlen(a), 18);
    /* the pad states give HMAC-SHA256 itself: OpenSSL's one-shot HMAC over ids of every length
     * around the block's (a short id, 55/56/64 bytes: one or two compressions) */
    for (size_t n = 1; n <= 130; n += (n < 50 || n > 70) ? 13 : 1) {
        char id[131];
        for (size_t i = 0; i < n; i++)
            id[i] = (char)('0' + (i * 7 + n) % 10);
        id[n] = '\0';
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        ck_assert_ptr_nonnull(HMAC(EVP_sha256(), "0123456789abcdef0123", 20,
                                   (const unsigned char *)id, n, md, &mdlen));
        char want[PSEUDO_TEXT_MAX];
        snprintf(want, sizeof(want), "p-%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2],
                 md[3], md[4], md[5], md[6], md[7]);
        pseudo_id(&p, id, b, sizeof(b));
        ck_assert_str_eq(b, want);
    }
    /* a key of the whole block (the longest accepted) */
    static const char k64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    struct pseudo p64 = { 0 };
    pseudo_set_key(&p64, k64, 64);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), k64, 64, (const unsigned char *)"77011234567", 11, md, &mdlen));
    char want[PSEUDO_TEXT_MAX];
    snprintf(want, sizeof(want), "p-%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3],
             md[4], md[5], md[6], md[7]);
    pseudo_id(&p64, "77011234567", b, sizeof(b));
    ck_assert_str_eq(b, want);
    ck_assert_ptr_null(strstr(a, "7701"));
    pseudo_set_key(&p, "another secret of some length", 29);
    pseudo_id(&p, "77011234567", b, sizeof(b));
    ck_assert_str_ne(a, b);
    p.clear = true;
    char d[130];
    pseudo_id(&p, "77011234567", d, sizeof(d));
    ck_assert_str_eq(d, "77011234567");
    pseudo_id(&p, "", d, sizeof(d));
    ck_assert_str_eq(d, "");
    char err[256];
    struct pseudo q = { 0 };
    ck_assert_int_lt(pseudo_load(&q, "/nonexistent/secret", err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/secret"));
    char path[] = "/tmp/check_tariff_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("short\n", f);
    fclose(f);
    ck_assert_int_eq(pseudo_load(&q, path, err, sizeof(err)), -EINVAL);
    f = fopen(path, "w");
    fputs("0123456789abcdef0123\n", f);
    fclose(f);
    ck_assert_int_eq(pseudo_load(&q, path, err, sizeof(err)), 0);
    ck_assert_uint_eq(q.key_len, 20);
    unlink(path);
    pseudo_id(&q, "77011234567", b, sizeof(b));
    ck_assert_str_eq(a, b); /* the same key read from a file gives the same pseudonym */
}
END_TEST

/* A table of the categories of cats() and two profiles: child blocks adult, teen games. */
static struct tariff *child_and_teen(void)
{
    struct tariff *t = tariff_new(NULL);
    tariff_set_categories(t, cats());
    set_prof(t, "child", "block=adult");
    set_prof(t, "teen", "block=games");
    return t;
}

/* tariff_prefetch names the id's first slot in the caller's word: with thousands of
 * subscribers (some records past their first slot) and unknown ids, each decision after it,
 * given the id's length or not, is the one tariff_judge makes, and the word then names the
 * record itself. */
/* A problem tariff_publish() reports names the subscriber by pseudonym once tariff_set_pseudo()
 * is given one (a daemon's log must not carry the id in clear), and as written without it. */
START_TEST(problems_name_pseudonyms)
{
    struct tariff *t = tariff_new("default");
    ck_assert_ptr_nonnull(t);
    char err[512];
    ck_assert_int_eq(tariff_set_profile(t, "default", "", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_set_sub(t, "77019998877", "profile=nosuch", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "subscriber 77019998877: profile 'nosuch' is not defined"), "%s",
                  err);
    struct pseudo ps = { 0 };
    pseudo_set_key(&ps, "0123456789abcdef0123", 20);
    char want[PSEUDO_TEXT_MAX], line[96];
    pseudo_id(&ps, "77019998877", want, sizeof(want));
    tariff_set_pseudo(t, &ps);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 1);
    ck_assert_msg(!strstr(err, "77019998877"), "the id in clear: %s", err);
    snprintf(line, sizeof(line), "subscriber %s: profile 'nosuch' is not defined", want);
    ck_assert_msg(strstr(err, line), "%s (want %s)", err, line);
    /* privacy.clear_ids: the operator asked for ids in clear */
    ck_assert_int_eq(tariff_del_sub(t, "77019998877"), 0);
    ps.clear = true;
    ck_assert_int_eq(tariff_set_sub(t, "77019998877", "profile=nosuch", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "subscriber 77019998877:"), "%s", err);
    tariff_free(t);
}
END_TEST

START_TEST(prefetch_hints)
{
    rsref_thread_register();
    struct tariff *t = child_and_teen();
    char id[40];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), i % 7 ? "7701%07d" : "imsi-40177%015d-long", i);
        set_sub(t, id, i % 3 ? "profile=child" : "profile=teen");
    }
    publish(t, 0);
    int moved = 0;
    for (int i = 0; i < 6000; i++) { /* (3000 and over: not known) */
        snprintf(id, sizeof(id), i % 7 ? "7701%07d" : "imsi-40177%015d-long", i);
        struct tariff_req r = {
            .sub = id, .sub_len = i % 2 ? strlen(id) : 0, .name = "adult.test", .name_len = 10
        };
        struct tariff_verdict want, got;
        tariff_judge(t, &r, &want);
        uint32_t ref = 0;
        rsref_read_lock();
        tariff_prefetch(t, id, i % 3 ? strlen(id) : 0, &ref);
        rsref_read_unlock();
        ck_assert_uint_ne(ref, 0);
        uint32_t hint = ref;
        tariff_judge_ref(t, &r, &ref, &got);
        ck_assert_int_eq(got.cause, want.cause);
        ck_assert_str_eq(got.profile, want.profile);
        ck_assert_int_eq(got.cause, i < 3000 && i % 3 ? PCAUSE_PROFILE : PCAUSE_NONE);
        moved += ref != hint;
        uint32_t named = ref;
        rsref_read_lock();
        tariff_prefetch(t, id, 0, &ref); /* a word naming a record is kept */
        rsref_read_unlock();
        ck_assert_uint_eq(ref, named);
    }
    ck_assert_int_gt(moved, 0); /* some records were not in their first slot */
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

/* tariff_judge_ref keeps the record in the caller's word: the same decisions as tariff_judge,
 * a change seen after each publish (past the 256 publishes its word's serial counts), and a
 * word left by another subscriber never lends that subscriber's settings. */
START_TEST(cached_records)
{
    rsref_thread_register();
    struct tariff *t = child_and_teen();
    set_sub(t, "77010000001", "profile=child");
    set_sub(t, "77010000002", "profile=teen");
    publish(t, 0);
    uint32_t ref = 0, ref2 = 0;
    struct tariff_verdict v;
    struct tariff_req adult = { .sub = "77010000001", .name = "adult.test", .name_len = 10 };
    struct tariff_req games = { .sub = "77010000001", .name = "games.test", .name_len = 10 };
    for (int round = 0; round < 300; round++) {
        bool child = round % 2 == 0; /* the subscriber alternates between the two profiles */
        for (int k = 0; k < 2; k++) {
            tariff_judge_ref(t, &adult, &ref, &v);
            ck_assert_int_eq(v.cause, child ? PCAUSE_PROFILE : PCAUSE_NONE);
            ck_assert_str_eq(v.profile, child ? "child" : "teen");
            tariff_judge_ref(t, &games, &ref, &v);
            ck_assert_int_eq(v.cause, child ? PCAUSE_NONE : PCAUSE_PROFILE);
            tariff_judge(t, &games, &v);
            ck_assert_int_eq(v.cause, child ? PCAUSE_NONE : PCAUSE_PROFILE);
        }
        ck_assert_uint_ne(ref, 0);
        set_sub(t, "77010000001", child ? "profile=teen" : "profile=child");
        publish(t, 0);
    }
    /* a word made for another subscriber, and one of a subscriber without settings */
    struct tariff_req other = { .sub = "77010000002", .name = "games.test", .name_len = 10 };
    tariff_judge_ref(t, &other, &ref2, &v);
    ck_assert_int_eq(v.cause, PCAUSE_PROFILE);
    ck_assert_str_eq(v.profile, "teen");
    struct tariff_req none = { .sub = "77019999999", .name = "games.test", .name_len = 10 };
    tariff_judge_ref(t, &none, &ref2, &v);
    ck_assert_int_eq(v.cause, PCAUSE_NONE);
    ck_assert_str_eq(v.profile, "");
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

/* tariff_swap_defs exchanges the definitions (profiles, subscribers) and nothing else: each
 * table keeps its category set and default profile. */
START_TEST(swap_definitions)
{
    rsref_thread_register();
    struct tariff *t = tariff_new("kid"), *aside = tariff_new(NULL);
    tariff_set_categories(t, cats());
    set_prof(t, "kid", "block=games");
    set_sub(t, "77010000001", "profile=kid");
    set_prof(aside, "child", "block=adult");
    set_sub(aside, "77010000002", "profile=child");
    tariff_swap_defs(t, aside);
    publish(t, 0);
    struct tariff_verdict v;
    ck_assert_int_eq(judge(t, "77010000002", "adult.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_str_eq(v.profile, "child");
    /* "kid" went with the swap: the default profile names nothing defined here any more */
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0, &v), PCAUSE_NONE);
    char text[64];
    ck_assert(tariff_sub_text(t, "77010000002", text, sizeof(text)));
    ck_assert(!tariff_sub_text(t, "77010000001", text, sizeof(text)));
    ck_assert(tariff_sub_text(aside, "77010000001", text, sizeof(text)));
    ck_assert_str_eq(text, "profile=kid");
    tariff_free(t);
    tariff_free(aside);
    rsref_thread_unregister();
}
END_TEST

/* The store's layer: tariff_rebase() puts new base definitions in place with the layer's on
 * top (a layer definition over a base one by the same name wins; one the layer removed is the
 * base's again at once); tariff_clear() empties the layer too. */
START_TEST(layer_rebase)
{
    rsref_thread_register();
    struct tariff *t = tariff_new(NULL), *base = tariff_new(NULL);
    tariff_set_categories(t, cats());
    set_prof(base, "child", "block=games");
    set_sub(base, "7701file", "profile=child");
    set_sub(base, "7701both", "profile=child");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    char err[256], text[64];
    ck_assert_int_eq(tariff_layer_set(t, true, "7701store", "profile=child", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, true, "7701both", "profile=adult", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, false, "adult", "block=adult", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, true, "7701x", "profile=Bad!", err, sizeof(err)), -EINVAL);
    ck_assert(!tariff_sub_text(t, "7701x", text, sizeof(text)));
    base = tariff_new(NULL);
    set_prof(base, "child", "block=games");
    set_sub(base, "7701both", "profile=child");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    /* (base has t's old definitions now) */
    ck_assert(tariff_sub_text(base, "7701file", text, sizeof(text)));
    tariff_free(base);
    publish(t, 0);
    struct tariff_verdict v;
    ck_assert_int_eq(judge(t, "7701store", "games.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_int_eq(judge(t, "7701both", "adult.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_int_eq(judge(t, "7701file", "games.test", false, MON0, &v), PCAUSE_NONE);
    /* the store's record over the base's goes: the base's (the last rebase's) is back */
    ck_assert_int_eq(tariff_layer_del(t, true, "7701both"), 0);
    sub_text_is(t, "7701both", "profile=child");
    base = tariff_new(NULL);
    set_prof(base, "child", "block=games");
    set_sub(base, "7701both", "profile=child");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    sub_text_is(t, "7701both", "profile=child");
    sub_text_is(t, "7701store", "profile=child");
    tariff_clear(t);
    base = tariff_new(NULL);
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    ck_assert(!tariff_sub_text(t, "7701store", text, sizeof(text)));
    ck_assert(!tariff_profile_text(t, "adult", text, sizeof(text)));
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

/* The profile of t's published decision for sub and name, "-" when it passes. */
static const char *blocked_by(struct tariff *t, const char *sub, const char *name)
{
    static struct tariff_verdict v;
    return judge(t, sub, name, false, MON0, &v) == PCAUSE_NONE ? "-" : v.profile;
}

/* A tariff_def_fn counting the definitions into *ctx. */
static int count_def(void *ctx, bool sub, const char *name, const char *text)
{
    (void)sub, (void)name, (void)text;
    ++*(size_t *)ctx;
    return 0;
}

/* A store removal of a name the base (the profiles file) defines too puts the base's
 * definition back at once (profiles and subscribers alike), which then decides as before the
 * store's; a name only the store had goes; a name only the base has stays through a removal the
 * store had no record for; the base is the last rebase's. */
START_TEST(layer_del_file_fallback)
{
    rsref_thread_register();
    struct tariff *t = tariff_new(NULL), *base = tariff_new(NULL);
    tariff_set_categories(t, cats());
    set_prof(base, "child", "block=adult");
    set_prof(base, "kid", "block=games");
    set_sub(base, "7701a", "profile=child");
    set_sub(base, "7701b", "profile=kid");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    publish(t, 0);
    ck_assert_str_eq(blocked_by(t, "7701a", "adult.test"), "child");
    ck_assert_str_eq(blocked_by(t, "7701b", "games.test"), "kid");

    /* the store overrides both kinds, and adds names of its own */
    char err[256], text[64];
    ck_assert_int_eq(tariff_layer_set(t, false, "child", "block=games", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, true, "7701b", "profile=child", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, false, "teen", "block=adult", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, true, "7701s", "profile=teen", err, sizeof(err)), 0);
    publish(t, 0);
    ck_assert_str_eq(blocked_by(t, "7701a", "adult.test"), "-");
    ck_assert_str_eq(blocked_by(t, "7701a", "games.test"), "child");
    ck_assert_str_eq(blocked_by(t, "7701b", "games.test"), "child");
    ck_assert_str_eq(blocked_by(t, "7701s", "adult.test"), "teen");

    /* the store removes them all: the file's definitions are back, the store's own are gone */
    ck_assert_int_eq(tariff_layer_del(t, false, "child"), 0);
    ck_assert_int_eq(tariff_layer_del(t, true, "7701b"), 0);
    ck_assert_int_eq(tariff_layer_del(t, false, "teen"), 0);
    ck_assert_int_eq(tariff_layer_del(t, true, "7701s"), 0);
    publish(t, 0);
    ck_assert(tariff_profile_text(t, "child", text, sizeof(text)));
    ck_assert_str_eq(text, "block=adult");
    sub_text_is(t, "7701b", "profile=kid");
    ck_assert(!tariff_profile_text(t, "teen", text, sizeof(text)));
    ck_assert(!tariff_sub_text(t, "7701s", text, sizeof(text)));
    ck_assert_str_eq(blocked_by(t, "7701a", "adult.test"), "child");
    ck_assert_str_eq(blocked_by(t, "7701a", "games.test"), "-");
    ck_assert_str_eq(blocked_by(t, "7701b", "games.test"), "kid");
    ck_assert_str_eq(blocked_by(t, "7701b", "adult.test"), "-");
    ck_assert_str_eq(blocked_by(t, "7701s", "adult.test"), "-");
    size_t held = 0;
    ck_assert_int_eq(tariff_layer_each(t, count_def, &held), 0);
    ck_assert_uint_eq(held, 0); /* (the store's layer holds none of them any more) */

    /* a removal of a name the store never set leaves the file's; one nobody has: -ENOENT */
    ck_assert_int_eq(tariff_layer_del(t, false, "kid"), 0);
    ck_assert_int_eq(tariff_layer_del(t, true, "7701a"), 0);
    ck_assert_int_eq(tariff_layer_del(t, false, "none"), -ENOENT);
    ck_assert_int_eq(tariff_layer_del(t, true, "7701none"), -ENOENT);
    publish(t, 0);
    ck_assert_str_eq(blocked_by(t, "7701a", "adult.test"), "child");
    ck_assert_str_eq(blocked_by(t, "7701b", "games.test"), "kid");

    /* a new base without child: a store removal after it finds no file's child to go back to */
    base = tariff_new(NULL);
    set_prof(base, "kid", "block=games");
    set_sub(base, "7701a", "profile=kid");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    ck_assert_int_eq(tariff_layer_set(t, false, "child", "block=adult", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, true, "7701a", "profile=child", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_del(t, false, "child"), 0);
    ck_assert_int_eq(tariff_layer_del(t, true, "7701a"), 0);
    publish(t, 0);
    ck_assert(!tariff_profile_text(t, "child", text, sizeof(text)));
    sub_text_is(t, "7701a", "profile=kid");
    ck_assert_str_eq(blocked_by(t, "7701a", "games.test"), "kid");
    ck_assert_str_eq(blocked_by(t, "7701a", "adult.test"), "-");
    ck_assert(!tariff_sub_text(t, "7701b", text, sizeof(text))); /* (the old base's) */

    /* tariff_clear() empties the file's definitions too */
    tariff_clear(t);
    ck_assert_int_eq(tariff_layer_del(t, false, "kid"), -ENOENT);
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

#define RACE_SUBS 3000

static void *layer_writer(void *arg)
{
    struct tariff *t = arg;
    char id[32], err[256];
    for (int i = 0; i < RACE_SUBS; i++) {
        snprintf(id, sizeof(id), "7702%06d", i);
        ck_assert_int_eq(tariff_layer_set(t, true, id, "profile=child", err, sizeof(err)), 0);
        if (i % 3 == 0)
            tariff_layer_del(t, true, id); /* (-ENOENT when a rebase took it out first) */
        if (i % 10 == 0) {                 /* over the base's: the base's back after each removal */
            ck_assert_int_eq(
                tariff_layer_set(t, true, "7701file", "profile=adult", err, sizeof(err)), 0);
            ck_assert_int_eq(tariff_layer_set(t, false, "child", "block=games", err, sizeof(err)),
                             0);
            tariff_layer_del(t, true, "7701file");
            tariff_layer_del(t, false, "child");
        }
    }
    return NULL;
}

/* A writer setting the store's records while another rebases again and again: afterwards
 * every record the writer left is in the table, none lost with an old base, none that it
 * removed come back; the base's definitions it set and removed again are the base's. */
START_TEST(layer_rebase_concurrent)
{
    struct tariff *t = tariff_new(NULL);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, layer_writer, t), 0);
    for (int k = 0; k < 200; k++) {
        struct tariff *base = tariff_new(NULL);
        set_prof(base, "child", "block=adult");
        set_sub(base, "7701file", "profile=child");
        ck_assert_int_eq(tariff_rebase(t, base), 0);
        tariff_free(base);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    char id[32], text[64];
    for (int i = 0; i < RACE_SUBS; i++) {
        snprintf(id, sizeof(id), "7702%06d", i);
        ck_assert_msg(tariff_sub_text(t, id, text, sizeof(text)) == (i % 3 != 0), "%s", id);
    }
    sub_text_is(t, "7701file", "profile=child");
    ck_assert(tariff_profile_text(t, "child", text, sizeof(text)));
    ck_assert_str_eq(text, "block=adult");
    tariff_free(t);
}
END_TEST

/* tariff_load_file reads the file whole and sets subscribers a few lines after reading them:
 * the same table as line-by-line sets. CRLF ends, comments, a repeated subscriber (the last line
 * wins, also over a text in the file replaced by one set afterwards), ids past the record's
 * inline 16 bytes, a subscriber without text on a last line without a newline, bad lines
 * counted and named by line, more subscribers than the read-ahead; then a tariff_clear and a
 * swap keep the texts readable. */
START_TEST(load_file)
{
    rsref_thread_register();
    char path[] = "/tmp/check_tariff_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("# profiles\r\nprofile child block=adult\r\n\n   \t\nprofile teen block=games\n", f);
    for (int i = 0; i < 40; i++) {
        fprintf(f, "subscriber 770100000%02d\t profile=%s\n", i, i % 2 ? "teen" : "child");
        if (i == 20) /* a profile among the subscribers (line 27) */
            fputs("profile late block=adult,games\n", f);
    }
    fputs("subscriber 77010000003 profile=child\n", f);                      /* again: child */
    fputs("subscriber imsi-401770000000001-of-a-long-id profile=teen\n", f); /* 37 bytes */
    fputs("subscriber 77010000099 bogus=1\n", f);                            /* line 49 */
    fputs("frobnicate x y\n", f);                                            /* line 50 */
    fputs("subscriber\n", f);                                                /* line 51 */
    fputs("subscriber 77010000098", f); /* no text: the default profile */
    fclose(f);
    char err[256];
    size_t bad = 0;
    char *out = NULL;
    size_t outlen = 0;
    FILE *errs = open_memstream(&out, &outlen);
    struct tariff *t = tariff_new("teen");
    tariff_set_categories(t, cats());
    int rc = tariff_load_file(t, path, errs, &bad, err, sizeof(err));
    fclose(errs);
    ck_assert_msg(rc == 3 + 40 + 1 + 1 + 1, "%d: %s", rc, err);
    ck_assert_uint_eq(bad, 3);
    ck_assert_msg(strstr(out, ":49: ") && strstr(out, ":50: ") && strstr(out, ":51: "), "%s", out);
    free(out);
    publish(t, 0);
    struct tariff_verdict v;
    ck_assert_int_eq(judge(t, "77010000000", "adult.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_int_eq(judge(t, "77010000001", "adult.test", false, MON0, &v), PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000001", "games.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_str_eq(v.profile, "teen");
    ck_assert_int_eq(judge(t, "77010000003", "adult.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_str_eq(v.profile, "child");
    ck_assert_int_eq(judge(t, "77010000039", "games.test", false, MON0, &v), PCAUSE_PROFILE);
    char ptext[64];
    ck_assert(tariff_profile_text(t, "late", ptext, sizeof(ptext)));
    ck_assert_str_eq(ptext, "block=adult,games");
    ck_assert_int_eq(judge(t, "imsi-401770000000001-of-a-long-id", "games.test", false, MON0, &v),
                     PCAUSE_PROFILE);
    ck_assert_int_eq(judge(t, "imsi-401770000000001-of-a-long-iX", "adult.test", false, MON0, &v),
                     PCAUSE_NONE); /* unknown: the default profile */
    ck_assert_str_eq(v.profile, "teen");
    ck_assert_int_eq(judge(t, "77010000098", "games.test", false, MON0, &v), PCAUSE_PROFILE);
    sub_text_is(t, "77010000098", "");
    sub_text_is(t, "77010000002", "profile=child");
    /* a text of the file replaced, and one removed */
    set_sub(t, "77010000002", "profile=teen");
    ck_assert_int_eq(tariff_del_sub(t, "77010000004"), 0);
    publish(t, 0);
    ck_assert_int_eq(judge(t, "77010000002", "adult.test", false, MON0, &v), PCAUSE_NONE);
    ck_assert_int_eq(judge(t, "77010000004", "games.test", false, MON0, &v), PCAUSE_PROFILE);
    ck_assert_str_eq(v.profile, "teen");
    struct tariff_stats st;
    tariff_get_stats(t, &st);
    ck_assert_uint_eq(st.subscribers, 41); /* 40 + 2, one removed */
    /* the file's texts move with a swap and go with a clear */
    struct tariff *aside = tariff_new(NULL);
    tariff_swap_defs(aside, t);
    sub_text_is(aside, "77010000005", "profile=teen");
    tariff_clear(aside);
    char text[64];
    ck_assert(!tariff_sub_text(aside, "77010000005", text, sizeof(text)));
    ck_assert_int_eq(tariff_load_file(t, "/nonexistent/profiles", NULL, NULL, err, sizeof(err)),
                     -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/profiles"));
    unlink(path);
    tariff_free(aside);
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

/* A table with every kind of subscriber record: mask-only, allow-list, schedules, parental
 * lists, ids of every length (long ones in the pool), 3000 generated subscribers. */
static struct tariff *varied(void)
{
    struct tariff *t = base_table();
    set_prof(t, "teen", "block=adult");
    set_sub(t, "77010000004", "pdeny=games.test sched=*@sat/10:00-12:00");
    set_sub(t, "a-subscriber-id-of-forty-bytes-or-so-0001", "profile=teen");
    set_sub(t, "x", "profile=child-allowlist pallow=other.test");
    for (int i = 0; i < 3000; i++) {
        char id[48];
        snprintf(id, sizeof(id), i % 7 ? "7702%07d" : "long-subscriber-identifier-%07d", i);
        set_sub(t, id,
                i % 3 == 0   ? "profile=child"
                : i % 3 == 1 ? "profile=teen"
                             : "pdeny=kids.test");
    }
    publish(t, 0);
    return t;
}

/* Writes t to DIR/t.img and reads the file into *buf. */
static size_t to_file(struct tariff *t, char *dir, size_t cap, char **buf)
{
    ck_assert_int_eq(tmpdir_make(dir, cap, "timage"), 0);
    struct imgfile_w *w = imgfile_w_new();
    ck_assert_int_eq(tariff_to_image(t, w, 0, 16), 0);
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/t.img", dir);
    static const char magic[8] = { 'Q', 'G', 'T', 'T', 'E', 'S', 'T', '1' };
    ck_assert_msg(imgfile_w_write(w, path, magic, 1, err, sizeof(err)) == 0, "%s", err);
    imgfile_w_free(w);
    size_t len;
    ck_assert_int_eq(fileio_read_all(path, buf, &len), 0);
    return len;
}

static struct tariff *from_buf(const char *buf, size_t len, char *err, size_t errlen)
{
    static const char magic[8] = { 'Q', 'G', 'T', 'T', 'E', 'S', 'T', '1' };
    struct imgfile_r r;
    ck_assert_msg(imgfile_r_open(&r, (const uint8_t *)buf, len, magic, 1, err, errlen) == 0, "%s",
                  err);
    return tariff_from_image(&r, 0, 16, err, errlen);
}

START_TEST(image_round_trip)
{
    rsref_thread_register();
    struct tariff *t = varied();
    char dir[256], *buf, err[512];
    size_t len = to_file(t, dir, sizeof(dir), &buf);
    struct tariff *c = from_buf(buf, len, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    free(buf);
    static const char *const subs[] = { NULL,
                                        "77019999999",
                                        "77010000001",
                                        "77010000002",
                                        "77010000003",
                                        "77010000004",
                                        "x",
                                        "a-subscriber-id-of-forty-bytes-or-so-0001",
                                        "a-subscriber-id-of-forty-bytes-or-so-0002" };
    static const char *const names[] = {
        NULL,        "adult.test",  "www.adult.test", "games.test",
        "kids.test", "a.kids.test", "kidgames.test",  "other.test"
    };
    static const int64_t times[] = { MON0 + 7 * 3600, MON0 + 16 * 3600, MON0 + 26 * 3600 - 60,
                                     MON0 + 5 * 86400 + 5 * 3600 + 1800 };
    size_t n = 0, blocked = 0;
    for (int g = -(int)(sizeof(subs) / sizeof(subs[0])); g < 3000; g++) {
        char gen[48];
        const char *sub = subs[g < 0 ? g + (int)(sizeof(subs) / sizeof(subs[0])) : 0];
        if (g >= 0) {
            snprintf(gen, sizeof(gen), g % 7 ? "7702%07d" : "long-subscriber-identifier-%07d", g);
            sub = gen;
        }
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            for (size_t m = 0; m < sizeof(times) / sizeof(times[0]); m++)
                for (int udp = 0; udp < 2; udp++) {
                    if (g >= 0 && (m || udp || k > 4))
                        continue; /* (the generated ones: fewer cases) */
                    struct tariff_verdict a, b;
                    judge(t, sub, names[k], udp, times[m], &a);
                    judge(c, sub, names[k], udp, times[m], &b);
                    ck_assert_msg(a.cause == b.cause && a.cats == b.cats &&
                                      strcmp(a.profile, b.profile) == 0 &&
                                      strcmp(a.category, b.category) == 0,
                                  "%s %s: %d/%s/%s vs %d/%s/%s", sub ? sub : "-",
                                  names[k] ? names[k] : "-", a.cause, a.profile, a.category,
                                  b.cause, b.profile, b.category);
                    n++;
                    blocked += a.cause != PCAUSE_NONE;
                }
    }
    ck_assert_uint_gt(blocked, 1000);
    ck_assert_uint_gt(n - blocked, 1000);
    struct tariff_stats sa, sb;
    tariff_get_stats(t, &sa);
    tariff_get_stats(c, &sb);
    ck_assert_uint_eq(sa.profiles, sb.profiles);
    ck_assert_uint_eq(sa.subscribers, sb.subscribers);
    ck_assert_uint_eq(sa.categories, sb.categories);
    ck_assert_int_eq(tariff_utc_offset(c), 5 * 3600);
    /* read-only: nothing to publish, no writer-side texts */
    ck_assert_int_eq(tariff_publish(c, err, sizeof(err)), -EROFS);
    ck_assert_ptr_nonnull(strstr(err, "image"));
    char txt[64];
    ck_assert(!tariff_sub_text(c, "77010000001", txt, sizeof(txt)));
    struct tariff_verdict v;
    ck_assert_int_eq(judge(c, "77010000001", "adult.test", false, MON0, &v), PCAUSE_PROFILE);
    tariff_free(c);
    tariff_free(t);
    tmpdir_remove(dir);
    rsref_thread_unregister();
}
END_TEST

/* The section id of the tariff's records etc. (tariff.c's order after base 0). */
enum { S_SCALARS, S_PROF, S_REC, S_POOL, S_EXTRA, S_DEFNAME };

/* buf with one byte sequence of section id changed at off, the checksum made right again: the
 * table must be refused with a reason containing why. */
static void forged(const char *orig, size_t len, uint32_t id, size_t off, const void *bytes,
                   size_t n, const char *why)
{
    char *b = malloc(len);
    memcpy(b, orig, len);
    static const char magic[8] = { 'Q', 'G', 'T', 'T', 'E', 'S', 'T', '1' };
    struct imgfile_r r;
    char err[512];
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)b, len, magic, 1, err, sizeof(err)), 0);
    size_t sl;
    const uint8_t *sec = imgfile_r_get(&r, id, &sl);
    ck_assert_ptr_nonnull(sec);
    ck_assert_uint_le(off + n, sl);
    memcpy(b + (sec - (const uint8_t *)b) + off, bytes, n);
    imgfile_seal((uint8_t *)b, len);
    struct tariff *c = from_buf(b, len, err, sizeof(err));
    ck_assert_msg(c == NULL, "forged %s accepted", why);
    ck_assert_msg(strstr(err, why) != NULL, "'%s' lacks '%s'", err, why);
    free(b);
}

START_TEST(image_forged)
{
    rsref_thread_register();
    struct tariff *t = varied();
    char dir[256], *buf, err[512];
    size_t len = to_file(t, dir, sizeof(dir), &buf);
    /* the first used record and the first long-id record */
    struct imgfile_r r;
    static const char magic[8] = { 'Q', 'G', 'T', 'T', 'E', 'S', 'T', '1' };
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)buf, len, magic, 1, err, sizeof(err)), 0);
    size_t rl;
    const uint8_t *rec = imgfile_r_get(&r, S_REC, &rl);
    size_t used = SIZE_MAX, far = SIZE_MAX, empty = SIZE_MAX;
    for (size_t i = 0; i < rl / 32; i++) {
        uint8_t idlen = rec[i * 32 + 15];
        if (idlen && used == SIZE_MAX)
            used = i;
        if (idlen > 16 && far == SIZE_MAX)
            far = i;
        if (!idlen && empty == SIZE_MAX)
            empty = i;
    }
    ck_assert(used != SIZE_MAX && far != SIZE_MAX && empty != SIZE_MAX);
    uint16_t prof = 999;
    forged(buf, len, S_REC, used * 32 + 12, &prof, 2, "a profile out of range");
    uint8_t kind = 9;
    forged(buf, len, S_REC, used * 32 + 14, &kind, 1, "an unknown kind");
    uint32_t extra = 123456;
    forged(buf, len, S_REC, used * 32 + 8, &extra, 4, "parental settings out of range");
    uint8_t idlen = 200;
    forged(buf, len, S_REC, used * 32 + 15, &idlen, 1, "longer than 128");
    uint32_t off = 0x7fffffff;
    forged(buf, len, S_REC, far * 32 + 16, &off, 4, "outside the pool");
    uint8_t junk = 1;
    forged(buf, len, S_REC, empty * 32 + 3, &junk, 1, "not zero");
    uint64_t sc[9];
    ck_assert_int_eq(imgfile_r_u64(&r, S_SCALARS, sc, 9), 0);
    uint64_t nrec = sc[4]; /* the records' count = the table's size: no empty record */
    forged(buf, len, S_SCALARS, 6 * 8, &nrec, 8, "no empty record");
    uint64_t bigcap = sc[4] + 1;
    forged(buf, len, S_SCALARS, 4 * 8, &bigcap, 8, "not the size");
    uint64_t hb = 0;
    forged(buf, len, S_SCALARS, 5 * 8, &hb, 8, "hash width");
    uint64_t defp = 77;
    forged(buf, len, S_SCALARS, 1 * 8, &defp, 8, "default profile");
    uint64_t utc = 90000;
    forged(buf, len, S_SCALARS, 8 * 8, &utc, 8, "zone offset");
    uint32_t lists = 1000; /* the first settings' allow-list count */
    forged(buf, len, S_EXTRA, 32, &lists, 4, "parental settings 0");
    char badname = 'X';
    forged(buf, len, S_PROF, 0, &badname, 1, "profile 0");
    free(buf);
    tariff_free(t);
    tmpdir_remove(dir);
    rsref_thread_unregister();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tariff");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, decisions);
    tcase_add_test(tc, texts);
    tcase_add_test(tc, pseudonyms);
    tcase_add_test(tc, problems_name_pseudonyms);
    tcase_add_test(tc, cached_records);
    tcase_add_test(tc, prefetch_hints);
    tcase_add_test(tc, swap_definitions);
    tcase_add_test(tc, layer_rebase);
    tcase_add_test(tc, layer_del_file_fallback);
    tcase_add_test(tc, layer_rebase_concurrent);
    tcase_add_test(tc, load_file);
    tcase_add_test(tc, image_round_trip);
    tcase_add_test(tc, image_forged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
