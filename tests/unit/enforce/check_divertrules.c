/* check_divertrules.c - Check suite for inline mode's diversion rules written from the
 * configuration (proxy/enforce/divertrules.h, `qorgau config rules` on an inline configuration).
 *
 * Pure: with the defaults the script is, line for line, deploy/nftables-tproxy.nft (TPROXY) or
 * deploy/nftables-redirect.nft (--redirect), comments aside; the port, the interface and the
 * QUIC drop land in every rule they belong to; values nft or the proxy could not use are refused
 * with a message. Live (root, a network namespace of its own): scripts for other ports and an
 * interface load with nft -f, and the daemon's own diversion check (feedrules) finds them
 * diverting to the configured port and not to another. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/enforce/divertrules.h"
#include "proxy/enforce/feedrules.h"
#include "tests/lib/needroot.h"
#include "tests/lib/proc.h"
#include "tests/lib/rulestext.h"
#include "tests/lib/tmpdir.h"

static char *written(const struct divertrules_cfg *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(divertrules_write(f, c, "test.conf"), 0);
    fclose(f);
    return buf;
}

static void same_as_shipped(bool redirect, const char *path)
{
    struct divertrules_cfg c;
    divertrules_cfg_default(&c);
    c.redirect = redirect;
    char *w = written(&c), *file = rulestext_slurp(path);
    ck_assert_msg(file != NULL, "%s: cannot be read", path);
    char *a = rulestext_rules_only(w), *b = rulestext_rules_only(file);
    ck_assert_msg(strcmp(a, b) == 0,
                  "%s differs from `qorgau config rules` with the defaults:\n%s\n---\n%s", path, a,
                  b);
    ck_assert_ptr_nonnull(strstr(w, "from test.conf"));
    free(w);
    free(file);
    free(a);
    free(b);
}

START_TEST(defaults_are_the_shipped_files)
{
    same_as_shipped(false, "deploy/nftables-tproxy.nft");
    same_as_shipped(true, "deploy/nftables-redirect.nft");
}
END_TEST

START_TEST(values_land_in_place)
{
    struct divertrules_cfg c;
    divertrules_cfg_default(&c);
    /* TPROXY to another port, on one interface: both families' diversions and the QUIC drop
     * are restricted to it; the transparent-socket rule is not (it matches the proxy's own) */
    c.tproxy_port = 3129;
    const char *sub0[] = { "eth-sub0" };
    c.ifaces = sub0;
    c.nifaces = 1;
    char *t = written(&c);
    ck_assert_uint_eq(rulestext_count(t, "tproxy ip to :3129 meta mark set 1 accept\n"), 1);
    ck_assert_uint_eq(rulestext_count(t, "tproxy ip6 to :3129 meta mark set 1 accept\n"), 1);
    ck_assert_uint_eq(rulestext_count(t, "        iifname \"eth-sub0\" "), 3);
    ck_assert_ptr_nonnull(strstr(t, "        iifname \"eth-sub0\" udp dport 443 drop\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "        meta l4proto tcp socket transparent 1 meta mark set 1 accept\n"));
    ck_assert_ptr_null(strstr(t, "15001"));
    free(t);
    /* QUIC passed (inline.quic = pass): no drop; REDIRECT: no forward chain at all */
    divertrules_cfg_default(&c);
    c.drop_quic = false;
    t = written(&c);
    ck_assert_uint_eq(rulestext_count(t, "udp dport 443"), 0);
    ck_assert_ptr_nonnull(strstr(t, "not dropped (inline.quic = pass)"));
    free(t);
    c.redirect = true;
    c.redirect_port = 8443;
    t = written(&c);
    ck_assert_ptr_nonnull(strstr(t, "        tcp dport { 80, 443 } redirect to :8443\n"));
    ck_assert_ptr_null(strstr(t, "chain forward"));
    ck_assert_ptr_null(strstr(t, "tproxy"));
    free(t);
    /* REDIRECT on an interface, QUIC dropped there */
    c.drop_quic = true;
    const char *two[] = { "ppp0", "ppp1" };
    c.ifaces = two;
    c.nifaces = 2;
    t = written(&c);
    ck_assert_ptr_nonnull(
        strstr(t, "iifname { \"ppp0\", \"ppp1\" } tcp dport { 80, 443 } redirect to :8443\n"));
    ck_assert_ptr_nonnull(strstr(t, "iifname { \"ppp0\", \"ppp1\" } udp dport 443 drop\n"));
    free(t);
}
END_TEST

START_TEST(bad_values_refused)
{
    struct divertrules_cfg c;
#define REFUSED(stmt, needle)                                                      \
    do {                                                                           \
        divertrules_cfg_default(&c);                                               \
        stmt;                                                                      \
        const char *why = divertrules_check(&c);                                   \
        ck_assert_msg(why &&strstr(why, needle), "%s: %s", #stmt, why ? why : ""); \
        FILE *devnull = fopen("/dev/null", "w");                                   \
        ck_assert_int_eq(divertrules_write(devnull, &c, NULL), -EINVAL);           \
        fclose(devnull);                                                           \
    } while (0)
    REFUSED(c.tproxy_port = 0, "inline.tproxy_port");
    REFUSED((c.redirect = true, c.redirect_port = 0), "inline.redirect_port");
    const char *bad[] = { "", "a-name-too-long-0", "eth\"0", "eth 0", "eth\\0" };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        REFUSED((c.ifaces = &bad[i], c.nifaces = 1), "interface name");
    const char *many[17];
    for (unsigned i = 0; i < 17; i++)
        many[i] = "eth0";
    REFUSED((c.ifaces = many, c.nifaces = 17), "at most 16");
#undef REFUSED
    divertrules_cfg_default(&c);
    const char *longest[] = { "abcdefghijklmno" }; /* 15 bytes: the longest name */
    c.ifaces = longest;
    c.nifaces = 1;
    ck_assert_ptr_null(divertrules_check(&c));
    c.tproxy_port = 0; /* a port not listened on is fine when the other way is used */
    c.redirect = true;
    ck_assert_ptr_null(divertrules_check(&c));
}
END_TEST

/* ---- live ---- */

static void load(const struct divertrules_cfg *c, const char *path)
{
    char *text = written(c);
    ck_assert_int_eq(rulestext_write(path, text), 0);
    free(text);
    char cmd[256], out[2048];
    snprintf(cmd, sizeof cmd, "nft -f %s 2>&1 && echo loaded", path);
    ck_assert_msg(strstr(proc_output(cmd, out, sizeof out), "loaded") != NULL, "%s", out);
}

START_TEST(live_loaded_and_checked)
{
    NEEDROOT("check_divertrules: the live nftables test");
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
    char dir[64], path[128], m[2048];
    ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "divertrules"), 0);
    snprintf(path, sizeof path, "%s/d.nft", dir);
    struct divertrules_cfg c;
    divertrules_cfg_default(&c);
    c.tproxy_port = 3129;
    const char *lo[] = { "lo", "dummy0" };
    c.ifaces = lo;
    c.nifaces = 2;
    load(&c, path);
    unsigned d = 0;
    ck_assert_msg(feedrules_check_divert(3129, 0, m, sizeof m, &d) == FEEDRULES_OK, "%s", m);
    ck_assert_uint_eq(d, 2); /* the IPv4 and the IPv6 TPROXY rule */
    ck_assert_int_eq(feedrules_check_divert(15001, 0, m, sizeof m, &d), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "diverts to port 3129") != NULL, "%s", m);
    /* the REDIRECT form, loaded again over itself (the script replaces its table) */
    c.redirect = true;
    c.redirect_port = 8443;
    load(&c, path);
    load(&c, path);
    ck_assert_msg(feedrules_check_divert(0, 8443, m, sizeof m, &d) == FEEDRULES_OK, "%s", m);
    tmpdir_remove(dir);
}
END_TEST

static Suite *divertrules_suite(void)
{
    Suite *s = suite_create("divertrules");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, defaults_are_the_shipped_files);
    tcase_add_test(tc, values_land_in_place);
    tcase_add_test(tc, bad_values_refused);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 30);
    tcase_add_test(live, live_loaded_and_checked);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(divertrules_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
