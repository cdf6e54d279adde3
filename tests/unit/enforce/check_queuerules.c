/* check_queuerules.c - Check suite for queue mode's rules written from the configuration
 * (proxy/enforce/queuerules.h, `qorgau config rules`).
 *
 * Pure: with the defaults the rules are, line for line, those of the shipped files
 * (deploy/iptables-queue.rules, deploy/nftables-queue.nft; comments aside), so the files the
 * package ships and the generator cannot drift apart; each value lands where it belongs (one
 * worker, fail-closed, other marks, no limits, another IPv6 prefix, a small source table,
 * expiry in milliseconds); values the kernel would refuse are refused with a message. Live
 * (root, a network namespace of its own): a rule set written for 3 workers from queue 5 with
 * other marks and limits loads with iptables-restore and ip6tables-restore, and the daemon's
 * own rules check (feedrules) finds it right for those workers and not for others; the nft
 * form passes `nft -c` (its queue statement aside: this kind of kernel has no nft_queue). */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/enforce/feedrules.h"
#include "proxy/enforce/queuerules.h"
#include "tests/lib/needroot.h"
#include "tests/lib/proc.h"
#include "tests/lib/rulestext.h"
#include "tests/lib/tmpdir.h"

/* The rule set for c in format fmt, in a buffer the caller frees. */
static char *written(const struct queuerules_cfg *c, enum queuerules_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(queuerules_write(f, c, fmt, "test.conf"), 0);
    fclose(f);
    return buf;
}

/* the shipped file's rules and the default configuration's, line by line */
static void same_as_shipped(enum queuerules_format fmt, const char *path)
{
    struct queuerules_cfg c;
    queuerules_cfg_default(&c);
    char *w = written(&c, fmt), *file = rulestext_slurp(path);
    ck_assert_msg(file != NULL, "%s: cannot be read", path);
    char *a = rulestext_rules_only(w), *b = rulestext_rules_only(file);
    ck_assert_msg(strcmp(a, b) == 0,
                  "%s differs from `qorgau config rules` with the defaults:\n%s\n---\n%s", path, a,
                  b);
    /* and the comment names the values */
    ck_assert_ptr_nonnull(strstr(w, "queues 0..1 (queue.num 0, 2 workers)"));
    ck_assert_ptr_nonnull(strstr(w, "from test.conf"));
    free(w);
    free(file);
    free(a);
    free(b);
}

START_TEST(defaults_are_the_shipped_files)
{
    same_as_shipped(QUEUERULES_IPTABLES, "deploy/iptables-queue.rules");
    same_as_shipped(QUEUERULES_NFT, "deploy/nftables-queue.nft");
}
END_TEST

/* queue.ports: every port (the default) or only the web ports */
START_TEST(ports_all_or_web)
{
    struct queuerules_cfg c;
    queuerules_cfg_default(&c);
    char *i = written(&c, QUEUERULES_IPTABLES), *n = written(&c, QUEUERULES_NFT);
    /* all: every TCP and UDP packet reaches the chain; a passed connection's Initial-shaped
     * datagram is queued by direction, not by port; other UDP not shaped like an Initial is
     * accepted in front of the queue (so DNS never crosses), both families */
    ck_assert_ptr_nonnull(strstr(i, "-A FORWARD -p tcp -j QORGAU\n-A FORWARD -p udp -j QORGAU\n"));
    ck_assert_uint_eq(rulestext_count(i, "--ports 80,443"), 0);
    ck_assert_uint_eq(rulestext_count(i, "--dport 443"), 0);
    ck_assert_uint_eq(rulestext_count(i, "-p udp -m conntrack --ctdir ORIGINAL -m mark"), 8);
    ck_assert_ptr_nonnull(strstr(i, "-4 -A QORGAU -p udp -m multiport ! --ports 443 -m u32 --u32 "
                                    "\"0>>24=0x45\" -m u32 ! --u32 \"0>>24=0x45 && 28>>28=0xC:0xD "
                                    "&& 29=0x1,0x6b3343cf,0xff00001d\" -j ACCEPT\n"));
    ck_assert_ptr_nonnull(
        strstr(i, "-6 -A QORGAU -p udp -m multiport ! --ports 443 -m u32 --u32 "
                  "\"0>>28=6 && 4>>8&0xFF=17\" -m u32 ! --u32 \"0>>28=6 && "
                  "4>>8&0xFF=17 && 48>>28=0xC:0xD && 49=0x1,0x6b3343cf,0xff00001d\" -j "
                  "ACCEPT\n"));
    /* ... and before the rules that queue */
    ck_assert(strstr(i, "! --ports 443") < strstr(i, "-A QORGAU -p udp -j NFQUEUE"));
    ck_assert_ptr_nonnull(strstr(n, "        meta l4proto { tcp, udp } jump judge\n"));
    ck_assert_ptr_nonnull(strstr(
        n, "        udp sport != 443 udp dport != 443 @th,64,4 != { 12, 13 } accept\n"
           "        udp sport != 443 udp dport != 443 @th,72,32 != { 0x1, 0x6b3343cf, 0xff00001d } "
           "accept\n"));
    ck_assert_ptr_nonnull(strstr(n, "ct direction original meta l4proto udp @th,64,4 { 12, 13 }"));
    ck_assert_ptr_nonnull(strstr(i, "TCP on every port and QUIC-shaped UDP on every port judged"));
    /* a passed connection's Initial-shaped datagram is queued whatever its size, and so is one
     * whose headers the u32 test cannot read */
    ck_assert_uint_eq(rulestext_count(i, "1228"), 0);
    ck_assert_uint_eq(rulestext_count(i, "1208"), 0);
    ck_assert_uint_eq(rulestext_count(n, "1208"), 0);
    ck_assert_ptr_nonnull(strstr(i, "-m u32 --u32 \"0>>24=0x46:0x4F\" -j NFQUEUE"));
    ck_assert_ptr_nonnull(strstr(i, "-m u32 ! --u32 \"0>>28=6 && 4>>8&0xFF=17\" -j NFQUEUE"));
    free(i);
    free(n);
    /* web: TCP 80/443 and UDP 443 only, as before queue.ports */
    c.web_only = 1;
    i = written(&c, QUEUERULES_IPTABLES);
    n = written(&c, QUEUERULES_NFT);
    ck_assert_ptr_nonnull(strstr(i, "-A FORWARD -p tcp -m multiport --ports 80,443 -j QORGAU\n"
                                    "-A FORWARD -p udp --dport 443 -j QORGAU\n"
                                    "-A FORWARD -p udp --sport 443 -j QORGAU\n"));
    ck_assert_uint_eq(rulestext_count(i, "-p udp --dport 443 -m mark"), 8);
    ck_assert_uint_eq(rulestext_count(i, "! --ports 443"), 0);
    ck_assert_uint_eq(rulestext_count(i, "-j NFQUEUE"), 6);
    ck_assert_ptr_nonnull(strstr(n, "meta l4proto tcp th dport { 80, 443 } jump judge\n"));
    ck_assert_ptr_null(strstr(n, "udp sport != 443"));
    ck_assert_ptr_nonnull(strstr(n, "udp dport 443 @th,64,4 { 12, 13 } goto to_queue"));
    ck_assert_ptr_nonnull(strstr(i, "TCP 80/443 and UDP 443 judged (queue.ports = web)"));
    free(i);
    free(n);
}
END_TEST

START_TEST(values_land_in_place)
{
    struct queuerules_cfg c;
    queuerules_cfg_default(&c);
    /* one worker on queue 7: a queue number, not a balance */
    c.queue_first = 7;
    c.queues = 1;
    char *i = written(&c, QUEUERULES_IPTABLES), *n = written(&c, QUEUERULES_NFT);
    ck_assert_uint_eq(rulestext_count(i, "-j NFQUEUE --queue-num 7 --queue-bypass\n"), 6);
    ck_assert_uint_eq(rulestext_count(i, "--queue-balance"), 0);
    ck_assert_ptr_nonnull(strstr(n, "        queue flags bypass to 7\n"));
    free(i);
    free(n);
    /* fail-closed: no bypass anywhere; 4 workers from 10 */
    queuerules_cfg_default(&c);
    c.bypass = 0;
    c.queue_first = 10;
    c.queues = 4;
    i = written(&c, QUEUERULES_IPTABLES);
    n = written(&c, QUEUERULES_NFT);
    ck_assert_uint_eq(rulestext_count(i, "-j NFQUEUE --queue-balance 10:13\n"), 6);
    ck_assert_uint_eq(rulestext_count(i, "bypass"), 0);
    ck_assert_ptr_nonnull(strstr(n, "        queue to 10-13\n"));
    ck_assert_ptr_null(strstr(n, "flags bypass"));
    ck_assert_ptr_nonnull(strstr(n, "drops packets (queue.fail = closed)"));
    free(i);
    free(n);
    /* other marks: the mask is their union everywhere, the connection mark's other bits kept */
    queuerules_cfg_default(&c);
    c.mark_pass = 0x1;
    c.mark_block = 0x100;
    i = written(&c, QUEUERULES_IPTABLES);
    n = written(&c, QUEUERULES_NFT);
    ck_assert_uint_eq(rulestext_count(i, "0x30000"), 0);
    ck_assert_uint_eq(rulestext_count(n, "0x30000"), 0);
    ck_assert_ptr_nonnull(strstr(i, "-A QORGAU -m mark --mark 0x1/0x101 -j CONNMARK --save-mark "
                                    "--nfmask 0x101 --ctmask 0x101\n"));
    ck_assert_ptr_nonnull(strstr(i, "-A QORGAU -m connmark --mark 0x100/0x101 -j DROP\n"));
    ck_assert_ptr_nonnull(strstr(i, "-A QORGAU -m mark --mark 0x101/0x101 -j ACCEPT\n"));
    ck_assert_ptr_nonnull(
        strstr(n, "meta mark & 0x101 == 0x100 ct mark set ct mark & 0xfffffefe | 0x100\n"));
    ck_assert_ptr_nonnull(strstr(n, "ct mark & 0x101 == 0x1 accept\n"));
    free(i);
    free(n);
    /* no per-source limits at all */
    queuerules_cfg_default(&c);
    c.new_rate = 0;
    c.queued_rate = 0;
    i = written(&c, QUEUERULES_IPTABLES);
    n = written(&c, QUEUERULES_NFT);
    ck_assert_uint_eq(rulestext_count(i, "hashlimit"), 0);
    ck_assert_uint_eq(rulestext_count(n, "meter"), 0);
    ck_assert_uint_eq(rulestext_count(i, "-j NFQUEUE"), 6); /* the queueing rules all stay */
    ck_assert_ptr_nonnull(strstr(i, "new connections not limited"));
    free(i);
    free(n);
    /* only the queued packets limited; a /48 per source, a small table, 1.5 s */
    queuerules_cfg_default(&c);
    c.new_rate = 0;
    c.prefix6 = 48;
    c.sources = 4096;
    c.expire_ms = 1500;
    c.settle_packets = 600;
    i = written(&c, QUEUERULES_IPTABLES);
    n = written(&c, QUEUERULES_NFT);
    ck_assert_uint_eq(rulestext_count(i, "qorgau_new"), 0);
    /* IPv6: the two rules queueing a passed connection's datagrams again, and the general one */
    ck_assert_uint_eq(rulestext_count(i, "--hashlimit-name qorgau_q6"), 3);
    ck_assert_uint_eq(
        rulestext_count(i, "--hashlimit-srcmask 48 --hashlimit-htable-size 4096 "
                           "--hashlimit-htable-max 4096 --hashlimit-htable-expire 1500 "),
        3);
    ck_assert_ptr_nonnull(strstr(i, "--connbytes 600: --connbytes-dir reply"));
    ck_assert_ptr_nonnull(strstr(
        n, "meter qorgau_q6 size 4096 { ip6 saddr & ffff:ffff:ffff:: timeout 1500ms limit rate "
           "over 10000/second burst 20000 packets } counter drop\n"));
    ck_assert_ptr_null(strstr(n, "qorgau_new"));
    ck_assert_ptr_nonnull(strstr(n, "ct reply packets >= 600 accept\n"));
    free(i);
    free(n);
    /* every address its own source */
    queuerules_cfg_default(&c);
    c.prefix6 = 128;
    n = written(&c, QUEUERULES_NFT);
    ck_assert_ptr_nonnull(strstr(n, "ip6 saddr & ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff timeout"));
    free(n);
}
END_TEST

START_TEST(bad_values_refused)
{
    struct queuerules_cfg c;
    queuerules_cfg_default(&c);
    ck_assert_ptr_null(queuerules_check(&c));
#define REFUSED(stmt, needle)                                                           \
    do {                                                                                \
        queuerules_cfg_default(&c);                                                     \
        stmt;                                                                           \
        const char *why = queuerules_check(&c);                                         \
        ck_assert_msg(why &&strstr(why, needle), "%s: %s", #stmt, why ? why : "");      \
        FILE *devnull = fopen("/dev/null", "w");                                        \
        ck_assert_int_eq(queuerules_write(devnull, &c, QUEUERULES_NFT, NULL), -EINVAL); \
        fclose(devnull);                                                                \
    } while (0)
    REFUSED(c.queues = 0, "queue 65535");
    REFUSED((c.queue_first = 65535, c.queues = 2), "queue 65535");
    REFUSED(c.mark_pass = 0, "disjoint");
    REFUSED(c.mark_block = 0x10000, "disjoint");
    REFUSED(c.mark_block = 0x30000, "disjoint");
    REFUSED(c.settle_packets = 0, "settle_packets");
    REFUSED(c.new_rate = 1000001, "rate");
    REFUSED(c.queued_burst = 0, "burst");
    REFUSED(c.new_burst = 1000001, "burst");
    REFUSED(c.sources = 0, "source_table");
    REFUSED(c.expire_ms = 0, "source_expire");
    REFUSED(c.prefix6 = 0, "client_prefix6");
    REFUSED(c.prefix6 = 129, "client_prefix6");
#undef REFUSED
    /* a burst is not looked at when its rate is off */
    queuerules_cfg_default(&c);
    c.new_rate = 0;
    c.new_burst = 0;
    ck_assert_ptr_null(queuerules_check(&c));
    /* the last queue number itself is fine */
    queuerules_cfg_default(&c);
    c.queue_first = 65534;
    c.queues = 2;
    ck_assert_ptr_null(queuerules_check(&c));
}
END_TEST

/* ---- live ---- */

START_TEST(live_loaded_and_checked)
{
    NEEDROOT("check_queuerules: the live iptables-nft test");
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
    struct queuerules_cfg c;
    queuerules_cfg_default(&c);
    c.queue_first = 5;
    c.queues = 3;
    c.mark_pass = 0x4;
    c.mark_block = 0x8;
    c.new_rate = 50;
    c.new_burst = 60;
    c.queued_rate = 1000000; /* the kernel's largest rate and burst */
    c.queued_burst = 1000000;
    c.prefix6 = 56;
    c.sources = 2048;
    c.expire_ms = 2500;
    char dir[64];
    ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "queuerules"), 0);
    char ipt[128], nft[128], cmd[512], out[4096];
    snprintf(ipt, sizeof ipt, "%s/q.rules", dir);
    snprintf(nft, sizeof nft, "%s/q.nft", dir);
    char *text = written(&c, QUEUERULES_IPTABLES);
    ck_assert_int_eq(rulestext_write(ipt, text), 0);
    free(text);
    snprintf(cmd, sizeof cmd,
             "iptables-restore --noflush < %s 2>&1 && ip6tables-restore --noflush < %s 2>&1 && "
             "echo loaded",
             ipt, ipt);
    ck_assert_msg(strstr(proc_output(cmd, out, sizeof out), "loaded") != NULL, "%s", out);
    /* what the kernel holds: the values as written */
    ck_assert_msg(strstr(proc_output("iptables -S QORGAU; ip6tables -S QORGAU", out, sizeof out),
                         "--hashlimit-above 50/sec --hashlimit-burst 60") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "--hashlimit-srcmask 56") && strstr(out, "--queue-balance 5:7") &&
                      strstr(out, "--mark 0x4/0xc"),
                  "%s", out);
    /* the daemon's rules check: right for 3 workers from queue 5, wrong for 2 or from 0 */
    char m[2048];
    ck_assert_msg(feedrules_check(5, 3, m, sizeof m, NULL) == FEEDRULES_OK, "%s", m);
    ck_assert_int_eq(feedrules_check(5, 2, m, sizeof m, NULL), FEEDRULES_ERROR);
    /* from queue 0: the rules feed queues no worker of this daemon reads, none feeds its own */
    ck_assert_int_eq(feedrules_check(0, 3, m, sizeof m, NULL), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "No nf_tables rule sends packets to queues 0-2") == m, "%s", m);
    /* the nft form: accepted by nft -c but for the queue statement this kernel lacks */
    text = written(&c, QUEUERULES_NFT);
    ck_assert_int_eq(rulestext_write(nft, text), 0);
    free(text);
    snprintf(cmd, sizeof cmd,
             "sed -i 's/^\\( *\\)queue flags bypass to 5-7$/\\1accept/' %s && "
             "! grep -q '^ *queue ' %s && nft -c -f %s 2>&1 && echo checked",
             nft, nft, nft);
    ck_assert_msg(strstr(proc_output(cmd, out, sizeof out), "checked") != NULL, "%s", out);
    tmpdir_remove(dir);
}
END_TEST

static Suite *queuerules_suite(void)
{
    Suite *s = suite_create("queuerules");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, defaults_are_the_shipped_files);
    tcase_add_test(tc, ports_all_or_web);
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
    SRunner *sr = srunner_create(queuerules_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
