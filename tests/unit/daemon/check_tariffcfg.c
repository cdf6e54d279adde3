/* check_tariffcfg.c - Check suite for proxy/daemon/tariffcfg.c: the subscribers file of `qorgau
 * scan` (tariffcfg_subscribers_file): lines of the common form ("A.B.C.D ID", read in one pass)
 * and of every other form (read the general way) give the same map, bad lines are reported by
 * number and in order among the lines set in batches, and a full map stops the load naming the
 * line; and the node's table (tariffcfg_load, tariffcfg_apply_record): a reload gives the new
 * file's definitions with the store's records on top, as a start does, the store's changes
 * after it applying as before; a store removal of a name the file defines gives the file's
 * definition back at once. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "proxy/daemon/tariffcfg.h"
#include "rules/match/rsref.h"
#include "tests/lib/crun.h"
#include "tests/lib/tmpdir.h"

static char g_dir[256], g_path[300];

/* Writes text to a subscribers file in a fresh directory (tests/lib/tmpdir.h). */
static void write_file(const char *text, size_t len)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "tariffcfg"), 0);
    snprintf(g_path, sizeof(g_path), "%s/subscribers", g_dir);
    FILE *f = fopen(g_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *who(const struct submap *m, const char *ip)
{
    static char sub[SUB_ID_MAX + 1];
    struct sub_addr a;
    char err[128];
    ck_assert_int_eq(sub_addr_parse(ip, strlen(ip), &a, err, sizeof(err)), 0);
    if (!submap_lookup(m, a.family, a.addr, 1, sub, sizeof(sub), NULL, 0))
        return "-";
    return sub;
}

/* Loads text; returns the load's result, the reports in *out (free it). */
static int load(struct submap *m, const char *text, size_t len, char **out, char *err,
                size_t errlen)
{
    size_t outlen = 0;
    FILE *errs = open_memstream(out, &outlen);
    write_file(text, len);
    int rc = tariffcfg_subscribers_file(m, g_path, errs, NULL, err, errlen);
    fclose(errs);
    tmpdir_remove(g_dir);
    return rc;
}

START_TEST(forms_and_reports)
{
    rsref_thread_register();
    static const char text[] = "# subscribers\n"       /* 1 */
                               "10.0.0.1 A1\n"         /* 2: the common form */
                               "10.0.0.2\tB2\n"        /* 3: a tab */
                               "  10.0.0.3  C3  \n"    /* 4: blanks around */
                               "10.0.0.4 D4 extra\n"   /* 5: a word after the id */
                               "010.0.0.5 E5\n"        /* 6: a leading zero: refused */
                               "10.0.0.6 F\0x6\n"      /* 7: a NUL ends the line */
                               "256.0.0.7 G7\n"        /* 8: refused */
                               "10.0.0.8 H8\r\n"       /* 9: CRLF */
                               "10.0.0.9 bad\x01id\n"  /* 10: refused id */
                               "\n"                    /* 11 */
                               "2001:db8:1::/64 V6\n"  /* 12 */
                               "2001:db8:2::1/64 V7\n" /* 13: host bits: refused */
                               "10.0.0.10\n"           /* 14: no id: refused */
                               "10.0.0.1 A2\n"         /* 15: replaces A1 */
                               "1.2.3.4.5 X\n"         /* 16: refused */
                               "10.0.0.11 " /* 17 */;
    char big[200];
    memset(big, 'z', sizeof(big));
    char buf[sizeof(text) + 400];
    size_t n = sizeof(text) - 1;
    memcpy(buf, text, n);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%.129s\n", big); /* 17: an id of 129 */
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "10.0.0.12 %.128s\n", big); /* 18: 128 */
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "10.0.0.13 L13");           /* 19, no \n */
    struct submap *m = submap_new(64);
    char *out = NULL, err[256] = "";
    int rc = load(m, buf, n, &out, err, sizeof(err));
    ck_assert_msg(rc == 10, "%d: %s", rc, err);
    ck_assert_str_eq(who(m, "10.0.0.1"), "A2");
    ck_assert_str_eq(who(m, "10.0.0.2"), "B2");
    ck_assert_str_eq(who(m, "10.0.0.3"), "C3");
    ck_assert_str_eq(who(m, "10.0.0.4"), "D4");
    ck_assert_str_eq(who(m, "10.0.0.5"), "-");
    ck_assert_str_eq(who(m, "10.0.0.6"), "F");
    ck_assert_str_eq(who(m, "10.0.0.8"), "H8");
    ck_assert_str_eq(who(m, "10.0.0.9"), "-");
    ck_assert_str_eq(who(m, "2001:db8:1::77"), "V6");
    ck_assert_str_eq(who(m, "2001:db8:2::1"), "-");
    ck_assert_str_eq(who(m, "10.0.0.11"), "-");
    char id128[129];
    memset(id128, 'z', 128);
    id128[128] = '\0';
    ck_assert_str_eq(who(m, "10.0.0.12"), id128);
    ck_assert_str_eq(who(m, "10.0.0.13"), "L13");
    char *want = NULL;
    ck_assert_int_ge(
        asprintf(&want,
                 "subscribers: %1$s:6: subscriber address '010.0.0.5': not an IPv4 or IPv6 "
                 "address\n"
                 "subscribers: %1$s:8: subscriber address '256.0.0.7': not an IPv4 or IPv6 "
                 "address\n"
                 "subscribers: %1$s:10: subscriber id 'bad\x01id' is not 1..128 printable bytes\n"
                 "subscribers: %1$s:13: subscriber address '2001:db8:2::1/64': bits set past "
                 "the prefix length\n"
                 "subscribers: %1$s:14: subscriber id '' is not 1..128 printable bytes\n"
                 "subscribers: %1$s:16: subscriber address '1.2.3.4.5': not an IPv4 or IPv6 "
                 "address\n"
                 "subscribers: %1$s:17: subscriber id '%2$.128s' is not 1..128 printable "
                 "bytes\n",
                 g_path, big),
        0);
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    submap_free(m);
    rsref_thread_unregister();
}
END_TEST

/* Hundreds of lines (batches of 16) with a bad one in the middle of a batch: every good line
 * is set, the bad one named by its number; then a map too small stops at the first line that
 * does not fit, after setting those before it. */
START_TEST(batches_and_full_map)
{
    rsref_thread_register();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (int i = 0; i < 300; i++) {
        if (i == 150)
            fputs("10.1.0.x bad\n", f); /* line 151 */
        else
            fprintf(f, "10.1.%d.%d 7701%07d\n", i / 256, i % 256, i);
    }
    fclose(f);
    struct submap *m = submap_new(1000);
    char *out = NULL, err[256] = "";
    ck_assert_int_eq(load(m, text, len, &out, err, sizeof(err)), 299);
    ck_assert_ptr_nonnull(strstr(out, ":151: subscriber address '10.1.0.x'"));
    ck_assert_str_eq(who(m, "10.1.0.149"), "77010000149");
    ck_assert_str_eq(who(m, "10.1.0.151"), "77010000151");
    ck_assert_str_eq(who(m, "10.1.1.43"), "77010000299");
    free(out);
    submap_free(m);

    m = submap_new(100);
    out = NULL;
    ck_assert_int_eq(load(m, text, len, &out, err, sizeof(err)), -ENOSPC);
    ck_assert_msg(strstr(err, ":101: the map is full") != NULL, "%s", err);
    ck_assert_str_eq(who(m, "10.1.0.99"), "77010000099");
    ck_assert_str_eq(who(m, "10.1.0.100"), "-");
    ck_assert_uint_eq(submap_count(m), 100);
    free(out);
    submap_free(m);
    free(text);
    rsref_thread_unregister();
}
END_TEST

/* Writes text to name in g_dir (made by write_file()). */
static void put(const char *name, const char *text)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* tariffcfg_load() of g_dir's category tree and profiles file. */
static void cfg_load(struct tariff *t)
{
    char dir[300], file[300], err[512];
    snprintf(dir, sizeof(dir), "%s/cats", g_dir);
    snprintf(file, sizeof(file), "%s/profiles", g_dir);
    const char *dirs[] = { dir };
    struct tariffcfg_stats st;
    int rc = tariffcfg_load(t, dirs, 1, file, "UTC", 1796601600LL, NULL, &st, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(st.problems, 0);
}

/* One store record applied as the follower does (tariffcfg_apply_record()). */
static void record(struct tariff *t, bool sub, bool del, const char *name, const char *text)
{
    struct store_tariff r = { sub ? STORE_TARIFF_SUB : STORE_TARIFF_PROFILE, del, name, text };
    ck_assert_int_eq(tariffcfg_apply_record(t, &r), 0);
}

/* The cause of the published table's decision for sub and name. */
static enum profile_cause cause(struct tariff *t, const char *sub, const char *name)
{
    struct tariff_req r = { .sub = sub, .name = name, .name_len = strlen(name), .now = 0 };
    struct tariff_verdict v;
    tariff_judge(t, &r, &v);
    return v.cause;
}

static const char *stext(struct tariff *t, const char *sub)
{
    static char out[256];
    return tariff_sub_text(t, sub, out, sizeof(out)) ? out : "-";
}

/* A reload (tariffcfg_load() again) keeps what the store's records set, on top of the new
 * file's definitions: a child whose profile came from the store stays blocked, a store record
 * that overrode the file's line keeps overriding it, a definition the file dropped goes, one it
 * added comes; records applied after the reload still apply. */
START_TEST(reload_keeps_store_records)
{
    rsref_thread_register();
    write_file("", 0);
    char cats[300];
    snprintf(cats, sizeof(cats), "%s/cats", g_dir);
    ck_assert_int_eq(mkdir(cats, 0755), 0);
    snprintf(cats, sizeof(cats), "%s/cats/games", g_dir);
    ck_assert_int_eq(mkdir(cats, 0755), 0);
    put("cats/games/domains", "games.test\n");
    put("profiles", "profile child block=games\n"
                    "subscriber 7701file profile=child\n"
                    "subscriber 7701both profile=child\n"
                    "subscriber 7701gone profile=child\n");
    struct tariff *t = tariff_new(NULL);
    ck_assert_ptr_nonnull(t);
    cfg_load(t);
    /* the follower's load: a child from the store, one the file has too (changed), a profile */
    record(t, true, false, "7701store", "profile=child");
    record(t, true, false, "7701both", "profile=strict");
    record(t, false, false, "strict", "allowlist=yes");
    record(t, true, false, "7701parental", "profile=child pdeny=blocked.test");
    char err[256];
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    ck_assert_int_eq(cause(t, "7701store", "games.test"), PCAUSE_PROFILE);
    ck_assert_str_eq(stext(t, "7701both"), "profile=strict");

    /* the operator edits the file and reloads */
    put("profiles", "profile child block=games\n"
                    "subscriber 7701file profile=child\n"
                    "subscriber 7701both profile=child\n"
                    "subscriber 7701new profile=child\n");
    cfg_load(t);
    ck_assert_int_eq(cause(t, "7701store", "games.test"), PCAUSE_PROFILE);
    ck_assert_int_eq(cause(t, "7701file", "games.test"), PCAUSE_PROFILE);
    ck_assert_int_eq(cause(t, "7701new", "games.test"), PCAUSE_PROFILE);
    ck_assert_int_eq(cause(t, "7701parental", "blocked.test"), PCAUSE_PARENTAL);
    ck_assert_int_eq(cause(t, "7701adult", "games.test"), PCAUSE_NONE);
    ck_assert_str_eq(stext(t, "7701both"), "profile=strict");
    ck_assert_int_eq(cause(t, "7701both", "games.test"), PCAUSE_ALLOWLIST);
    ck_assert_str_eq(stext(t, "7701store"), "profile=child");
    ck_assert_str_eq(stext(t, "7701gone"), "-");
    char ptext[128];
    ck_assert(tariff_profile_text(t, "strict", ptext, sizeof(ptext)));
    ck_assert_str_eq(ptext, "allowlist=yes");

    /* the store's changes after the reload: applied on top, and kept by the next reload */
    record(t, true, true, "7701store", NULL);
    record(t, true, false, "7701later", "profile=child");
    record(t, true, true, "7701both", NULL);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    ck_assert_int_eq(cause(t, "7701store", "games.test"), PCAUSE_NONE);
    ck_assert_int_eq(cause(t, "7701later", "games.test"), PCAUSE_PROFILE);
    cfg_load(t);
    ck_assert_int_eq(cause(t, "7701store", "games.test"), PCAUSE_NONE);
    ck_assert_int_eq(cause(t, "7701later", "games.test"), PCAUSE_PROFILE);
    /* (the store removed its record over the file's line: the file's own again, as at a start) */
    ck_assert_str_eq(stext(t, "7701both"), "profile=child");
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

/* The profile that blocks sub's request for name in the published table, "-" when it passes. */
static const char *blocker(struct tariff *t, const char *sub, const char *name)
{
    static struct tariff_verdict v;
    struct tariff_req r = { .sub = sub, .name = name, .name_len = strlen(name), .now = 0 };
    tariff_judge(t, &r, &v);
    return v.cause == PCAUSE_NONE ? "-" : v.profile;
}

/* The store sets records over the profiles file's definitions by the same names and removes
 * them again (tariffcfg_apply_record(), as the follower does): the file's definitions are back
 * at once, without a reload, and decide as before (the child stays blocked, not on the
 * unfiltered default profile); a name only the store had goes; after a reload the file read
 * then is the one removals go back to. */
START_TEST(store_removal_gives_file_back)
{
    rsref_thread_register();
    write_file("", 0);
    char cats[300];
    snprintf(cats, sizeof(cats), "%s/cats", g_dir);
    ck_assert_int_eq(mkdir(cats, 0755), 0);
    snprintf(cats, sizeof(cats), "%s/cats/adult", g_dir);
    ck_assert_int_eq(mkdir(cats, 0755), 0);
    snprintf(cats, sizeof(cats), "%s/cats/gambling", g_dir);
    ck_assert_int_eq(mkdir(cats, 0755), 0);
    put("cats/adult/domains", "adult.test\n");
    put("cats/gambling/domains", "casino.test\n");
    put("profiles", "profile child block=adult,gambling\n"
                    "profile teen block=adult\n"
                    "subscriber 7701kid profile=child\n"
                    "subscriber 7701teen profile=teen\n");
    struct tariff *t = tariff_new(NULL);
    ck_assert_ptr_nonnull(t);
    cfg_load(t);
    ck_assert_str_eq(blocker(t, "7701kid", "casino.test"), "child");

    /* the store's records over the file's names, and one of its own */
    record(t, false, false, "child", "block=adult");
    record(t, true, false, "7701teen", "profile=child");
    record(t, true, false, "7701store", "profile=child");
    char err[256];
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    ck_assert_str_eq(blocker(t, "7701kid", "casino.test"), "-");
    ck_assert_str_eq(blocker(t, "7701teen", "adult.test"), "child");

    /* the store removes them: the file's back at once */
    record(t, false, true, "child", NULL);
    record(t, true, true, "7701teen", NULL);
    record(t, true, true, "7701store", NULL);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    char ptext[128];
    ck_assert(tariff_profile_text(t, "child", ptext, sizeof(ptext)));
    ck_assert_str_eq(ptext, "block=adult,gambling");
    ck_assert_str_eq(blocker(t, "7701kid", "casino.test"), "child");
    ck_assert_str_eq(blocker(t, "7701kid", "adult.test"), "child");
    ck_assert_str_eq(stext(t, "7701teen"), "profile=teen");
    ck_assert_str_eq(blocker(t, "7701teen", "adult.test"), "teen");
    ck_assert_str_eq(blocker(t, "7701teen", "casino.test"), "-");
    ck_assert_str_eq(stext(t, "7701store"), "-");
    ck_assert_str_eq(blocker(t, "7701store", "adult.test"), "-");

    /* the operator changes child's line and reloads; the store sets and removes child again:
     * the new line is what comes back */
    put("profiles", "profile child block=gambling\n"
                    "subscriber 7701kid profile=child\n");
    cfg_load(t);
    record(t, false, false, "child", "block=adult");
    record(t, false, true, "child", NULL);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    ck_assert(tariff_profile_text(t, "child", ptext, sizeof(ptext)));
    ck_assert_str_eq(ptext, "block=gambling");
    ck_assert_str_eq(blocker(t, "7701kid", "casino.test"), "child");
    ck_assert_str_eq(blocker(t, "7701kid", "adult.test"), "-");
    tariff_free(t);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

static Suite *tariffcfg_suite(void)
{
    Suite *s = suite_create("tariffcfg");
    TCase *tc = tcase_create("subscribers");
    tcase_add_test(tc, forms_and_reports);
    tcase_add_test(tc, batches_and_full_map);
    suite_add_tcase(s, tc);
    tc = tcase_create("reload");
    tcase_add_test(tc, reload_keeps_store_records);
    tcase_add_test(tc, store_removal_gives_file_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return crun(tariffcfg_suite());
}
