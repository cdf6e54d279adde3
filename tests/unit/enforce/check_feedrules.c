/* check_feedrules.c - Check suite for reading and judging the kernel's NFQUEUE rules
 * (proxy/enforce/feedrules.c).
 *
 * Pure: the dump request's bytes; a dump written as the kernel writes it (iptables-nft's
 * NFQUEUE target in its revisions 0-3, nft's queue statement with a fixed range and with a
 * number chosen per packet, another target, a rule without a queue) read rule by rule; an
 * interrupted dump, an error answer, every truncation and a bad length; the judgement against
 * the workers' queues (a match, a range wider than the workers' on either side with and without
 * the bypass flag, idle workers, no rule, another program's queues, rules grouped in one
 * sentence). Live (root; a network namespace of its own, unshare(2) in the forked test process):
 * deploy/iptables-queue.rules loaded with iptables-restore and ip6tables-restore, read back
 * through netlink and judged against 2 workers (right), 1 (a stray queue with bypass), and
 * queue.num 1 (both sides); deploy/nftables-tproxy.nft loaded with nft and its TPROXY
 * diversions read back against inline mode's port (found) and another (not, named). Pure too:
 * nft's tproxy and redirect with the port an immediate loaded into a register, iptables-nft's
 * TPROXY and REDIRECT targets (IPv4 and IPv6 infos), and inline mode's judgement of them. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <unistd.h>

#include "proxy/enforce/feedrules.h"
#include "tests/lib/needroot.h"
#include "tests/lib/nlw.h"
#include "tests/lib/proc.h"

/* ---- writing a dump ---- */

#define NESTED 0x8000
enum { E_XT, E_QUEUE, E_QUEUE_SREG, E_OTHER_TARGET, E_COUNTER };

/* One expression (a NFTA_LIST_ELEM) into b at: an xt target NFQUEUE of revision rev with the
 * info fields f, nft's queue (num, total, flags), or another expression. */
static size_t expr(uint8_t *b, size_t at, int kind, uint32_t rev, const uint16_t *f)
{
    uint8_t data[128], el[192];
    size_t dn = 0, en = 0;
    const char *name = "counter";
    if (kind == E_XT || kind == E_OTHER_TARGET) {
        name = "target";
        const char *tn = kind == E_XT ? "NFQUEUE" : "MARK";
        dn = nlw_attr(data, dn, 1, tn, strlen(tn) + 1); /* NFTA_TARGET_NAME */
        uint8_t r[4] = { (uint8_t)(rev >> 24), (uint8_t)(rev >> 16), (uint8_t)(rev >> 8),
                         (uint8_t)rev };
        dn = nlw_attr(data, dn, 2, r, 4); /* NFTA_TARGET_REV */
        uint8_t info[8] = { 0 }; /* the xt info, host order, padded to 8 as XT_ALIGN does */
        memcpy(info, f, rev == 0 ? 2 : rev == 1 ? 4 : 6);
        dn = nlw_attr(data, dn, 3, info, 8); /* NFTA_TARGET_INFO */
    } else if (kind == E_QUEUE || kind == E_QUEUE_SREG) {
        name = "queue";
        if (kind == E_QUEUE) {
            uint8_t v[2] = { (uint8_t)(f[0] >> 8), (uint8_t)f[0] };
            dn = nlw_attr(data, dn, 1, v, 2); /* NFTA_QUEUE_NUM */
            v[0] = (uint8_t)(f[1] >> 8);
            v[1] = (uint8_t)f[1];
            dn = nlw_attr(data, dn, 2, v, 2); /* NFTA_QUEUE_TOTAL */
        } else {
            uint8_t reg[4] = { 0, 0, 0, 1 };
            dn = nlw_attr(data, dn, 4, reg, 4); /* NFTA_QUEUE_SREG_QNUM */
        }
        uint8_t fl[2] = { (uint8_t)(f[2] >> 8), (uint8_t)f[2] };
        dn = nlw_attr(data, dn, 3, fl, 2); /* NFTA_QUEUE_FLAGS */
    } else {
        uint8_t z[8] = { 0 };
        dn = nlw_attr(data, dn, 1, z, 8);
    }
    en = nlw_attr(el, en, 1, name, strlen(name) + 1); /* NFTA_EXPR_NAME */
    en = nlw_attr(el, en, 2 | NESTED, data, dn);      /* NFTA_EXPR_DATA */
    return nlw_attr(b, at, 1 | NESTED, el, en);       /* NFTA_LIST_ELEM */
}

/* A NFT_MSG_NEWRULE message at b: family, table, chain, handle, then the expressions given. */
static size_t newrule(uint8_t *b, uint32_t seq, uint16_t flags, uint8_t family, const char *table,
                      const char *chain, uint64_t handle, const uint8_t *exprs, size_t xn)
{
    memset(b, 0, 20);
    b[16] = family;
    size_t at = 20;
    at = nlw_attr(b, at, 1, table, strlen(table) + 1); /* NFTA_RULE_TABLE */
    at = nlw_attr(b, at, 2, chain, strlen(chain) + 1); /* NFTA_RULE_CHAIN */
    uint8_t h[8];
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(handle >> (56 - 8 * i));
    at = nlw_attr(b, at, 3, h, 8);                        /* NFTA_RULE_HANDLE */
    at = nlw_attr(b, at, 4 | NESTED, exprs, xn);          /* NFTA_RULE_EXPRESSIONS */
    nlw_header(b, (uint32_t)at, 10 << 8 | 6, flags, seq); /* NFT_MSG_NEWRULE */
    return at;
}

/* The dump: six rules, then NLMSG_DONE. */
static size_t dump(uint8_t *b, uint32_t seq)
{
    uint8_t x[1024];
    size_t at = 0, xn;
    static const uint16_t v3[3] = { 0, 2, 1 }, v0[3] = { 7, 0, 0 }, v2[3] = { 1, 3, 0 },
                          q[3] = { 5, 1, 0 }, qs[3] = { 0, 0, 1 }, v1[3] = { 9, 4, 0 };
    xn = expr(x, 0, E_COUNTER, 0, NULL);
    xn = expr(x, xn, E_XT, 3, v3); /* -j NFQUEUE --queue-balance 0:1 --queue-bypass */
    at += newrule(b + at, seq, 2, 2, "filter", "QORGAU", 11, x, xn); /* NFPROTO_IPV4 */
    xn = expr(x, 0, E_OTHER_TARGET, 0, v0);                          /* -j MARK: not a queue */
    at += newrule(b + at, seq, 2, 2, "filter", "QORGAU", 12, x, xn);
    xn = expr(x, 0, E_XT, 0, v0); /* revision 0: one queue, no flags */
    at += newrule(b + at, seq, 2, 10, "filter", "FORWARD", 13, x, xn); /* NFPROTO_IPV6 */
    xn = expr(x, 0, E_XT, 2, v2);
    xn = expr(x, xn, E_XT, 1, v1); /* two queue verdicts in one rule: each reported */
    at += newrule(b + at, seq, 2, 10, "filter", "FORWARD", 14, x, xn);
    xn = expr(x, 0, E_QUEUE, 0, q);                                   /* nft: queue num 5 */
    at += newrule(b + at, seq, 2, 1, "qorgau", "forward", 15, x, xn); /* NFPROTO_INET */
    xn = expr(x, 0, E_QUEUE_SREG, 0, qs); /* nft: queue to jhash ... bypass */
    at += newrule(b + at, seq, 2, 1, "qorgau", "forward", 16, x, xn);
    return at + nlw_done(b + at, seq);
}

/* Diversions: nft's immediate (a port into register reg) and tproxy / redir reading it, and
 * iptables-nft's TPROXY (revision 1) and REDIRECT targets (IPv4's and IPv6's info). */
static size_t e_immediate(uint8_t *b, size_t at, uint32_t reg, uint16_t port)
{
    uint8_t data[64], val[16], el[128];
    size_t dn = 0, vn = 0, en = 0;
    uint8_t r[4] = { (uint8_t)(reg >> 24), (uint8_t)(reg >> 16), (uint8_t)(reg >> 8),
                     (uint8_t)reg };
    uint8_t p[2] = { (uint8_t)(port >> 8), (uint8_t)port };
    dn = nlw_attr(data, dn, 1, r, 4);             /* NFTA_IMMEDIATE_DREG */
    vn = nlw_attr(val, vn, 1, p, 2);              /* NFTA_DATA_VALUE */
    dn = nlw_attr(data, dn, 2 | NESTED, val, vn); /* NFTA_IMMEDIATE_DATA */
    en = nlw_attr(el, en, 1, "immediate", 10);
    en = nlw_attr(el, en, 2 | NESTED, data, dn);
    return nlw_attr(b, at, 1 | NESTED, el, en);
}

static size_t e_divert(uint8_t *b, size_t at, bool tproxy, bool with_reg, uint32_t reg)
{
    uint8_t data[64], el[128];
    size_t dn = 0, en = 0;
    uint8_t r[4] = { (uint8_t)(reg >> 24), (uint8_t)(reg >> 16), (uint8_t)(reg >> 8),
                     (uint8_t)reg };
    uint8_t fam[4] = { 0, 0, 0, 2 };
    if (tproxy)
        dn = nlw_attr(data, dn, 1, fam, 4); /* NFTA_TPROXY_FAMILY */
    if (with_reg)
        dn = nlw_attr(data, dn, tproxy ? 3 : 1, r,
                      4); /* NFTA_TPROXY_REG_PORT, NFTA_REDIR_REG_PROTO_MIN */
    en = nlw_attr(el, en, 1, tproxy ? "tproxy" : "redir", tproxy ? 7 : 6);
    en = nlw_attr(el, en, 2 | NESTED, data, dn);
    return nlw_attr(b, at, 1 | NESTED, el, en);
}

static size_t e_xt_divert(uint8_t *b, size_t at, const char *target, const uint8_t *info,
                          size_t ilen)
{
    uint8_t data[128], el[192];
    size_t dn = 0, en = 0;
    uint8_t rev[4] = { 0, 0, 0, strcmp(target, "TPROXY") == 0 ? 1 : 0 };
    dn = nlw_attr(data, dn, 1, target, strlen(target) + 1); /* NFTA_TARGET_NAME */
    dn = nlw_attr(data, dn, 2, rev, 4);                     /* NFTA_TARGET_REV */
    dn = nlw_attr(data, dn, 3, info, ilen);                 /* NFTA_TARGET_INFO */
    en = nlw_attr(el, en, 1, "target", 7);
    en = nlw_attr(el, en, 2 | NESTED, data, dn);
    return nlw_attr(b, at, 1 | NESTED, el, en);
}

struct seen {
    struct feedrule r[16];
    int n;
};

static int note(void *ctx, const struct feedrule *r)
{
    struct seen *s = ctx;
    if (s->n < 16)
        s->r[s->n++] = *r;
    return 0;
}

START_TEST(request_bytes)
{
    uint8_t b[64];
    size_t n = feedrules_request(b, sizeof(b), 42);
    ck_assert_uint_eq(n, 20);
    uint32_t len, seq;
    uint16_t type, flags;
    memcpy(&len, b, 4);
    memcpy(&type, b + 4, 2);
    memcpy(&flags, b + 6, 2);
    memcpy(&seq, b + 8, 4);
    ck_assert_uint_eq(len, 20);
    ck_assert_uint_eq(type, 10 << 8 | 7); /* NFNL_SUBSYS_NFTABLES, NFT_MSG_GETRULE */
    ck_assert_uint_eq(flags, 0x301);      /* NLM_F_REQUEST | NLM_F_DUMP */
    ck_assert_uint_eq(seq, 42);
    ck_assert_uint_eq(b[16], 0); /* NFPROTO_UNSPEC: every family */
    ck_assert_uint_eq(b[17], 0); /* NFNETLINK_V0 */
    for (size_t cap = 0; cap < 20; cap++)
        ck_assert_uint_eq(feedrules_request(b, cap, 42), 0);
}
END_TEST

START_TEST(dump_read)
{
    static uint8_t b[8192];
    size_t n = dump(b, 9);
    struct seen s = { .n = 0 };
    ck_assert_int_eq(feedrules_parse(b, n, 9, note, &s), 1);
    ck_assert_int_eq(s.n, 6);
    /* iptables -j NFQUEUE --queue-balance 0:1 --queue-bypass (revision 3) */
    ck_assert(s.r[0].xt && !s.r[0].from_register);
    ck_assert_uint_eq(s.r[0].family, 2);
    ck_assert_str_eq(s.r[0].table, "filter");
    ck_assert_str_eq(s.r[0].chain, "QORGAU");
    ck_assert_uint_eq(s.r[0].handle, 11);
    ck_assert_uint_eq(s.r[0].num, 0);
    ck_assert_uint_eq(s.r[0].total, 2);
    ck_assert(s.r[0].bypass && !s.r[0].fanout);
    /* revision 0: --queue-num 7 */
    ck_assert(s.r[1].xt);
    ck_assert_uint_eq(s.r[1].family, 10);
    ck_assert_uint_eq(s.r[1].handle, 13);
    ck_assert_uint_eq(s.r[1].num, 7);
    ck_assert_uint_eq(s.r[1].total, 1);
    ck_assert(!s.r[1].bypass);
    /* one rule, two verdicts: revision 2 (bypass 0) then revision 1 */
    ck_assert_uint_eq(s.r[2].handle, 14);
    ck_assert_uint_eq(s.r[2].num, 1);
    ck_assert_uint_eq(s.r[2].total, 3);
    ck_assert(!s.r[2].bypass);
    ck_assert_uint_eq(s.r[3].handle, 14);
    ck_assert_uint_eq(s.r[3].num, 9);
    ck_assert_uint_eq(s.r[3].total, 4);
    /* nft: queue num 5 */
    ck_assert(!s.r[4].xt && !s.r[4].from_register);
    ck_assert_uint_eq(s.r[4].family, 1);
    ck_assert_str_eq(s.r[4].table, "qorgau");
    ck_assert_uint_eq(s.r[4].num, 5);
    ck_assert_uint_eq(s.r[4].total, 1);
    ck_assert(!s.r[4].bypass);
    /* nft: queue to EXPR bypass */
    ck_assert(s.r[5].from_register && s.r[5].bypass);
    ck_assert_uint_eq(s.r[5].handle, 16);

    /* another request's answer: nothing of it */
    s.n = 0;
    ck_assert_int_eq(feedrules_parse(b, n, 10, note, &s), 0);
    ck_assert_int_eq(s.n, 0);
}
END_TEST

static int stop_at_second(void *ctx, const struct feedrule *r)
{
    (void)r;
    return ++*(int *)ctx == 2 ? -ENOMEM : 0;
}

START_TEST(dump_faults)
{
    static uint8_t b[8192], c[8192];
    size_t n = dump(b, 9);
    struct seen s = { .n = 0 };
    /* every truncation: never the end, never past the bytes (ASan) */
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, b, cut);
        s.n = 0;
        ck_assert_int_ne(feedrules_parse(t, cut, 9, note, &s), 1);
        free(t);
    }
    /* the rule set changed during the dump (NLM_F_DUMP_INTR on a message) */
    memcpy(c, b, n);
    uint16_t fl = 2 | 0x10;
    memcpy(c + 6, &fl, 2);
    ck_assert_int_eq(feedrules_parse(c, n, 9, note, &s), -EINTR);
    /* a length running past the message: -EBADMSG */
    memcpy(c, b, n);
    uint16_t big = 600;
    memcpy(c + 20, &big, 2);
    ck_assert_int_eq(feedrules_parse(c, n, 9, note, &s), -EBADMSG);
    /* the callback's error stops the walk with it */
    int calls = 0;
    ck_assert_int_eq(feedrules_parse(b, n, 9, stop_at_second, &calls), -ENOMEM);
    ck_assert_int_eq(calls, 2);
    /* an error answer (not permitted) */
    uint8_t e[36] = { 0 };
    nlw_header(e, 36, NLMSG_ERROR, 0, 9);
    int32_t perm = -EPERM;
    memcpy(e + 16, &perm, 4);
    ck_assert_int_eq(feedrules_parse(e, sizeof(e), 9, note, &s), -EPERM);
    /* an NFQUEUE target whose info is shorter than its revision's: -EBADMSG */
    uint8_t x[512], m[1024];
    static const uint16_t v3[3] = { 0, 2, 1 };
    size_t xn = expr(x, 0, E_XT, 3, v3);
    /* the info attribute is the last 12 bytes of the target's data: make it 4 bytes long */
    uint8_t *info = NULL;
    for (size_t i = 0; i + 12 <= xn; i++)
        if (x[i] == 12 && x[i + 1] == 0 && x[i + 2] == 3 && x[i + 3] == 0)
            info = x + i;
    ck_assert_ptr_nonnull(info);
    info[0] = 6; /* 2 bytes of info: revision 3 needs 6 */
    size_t mn = newrule(m, 9, 2, 2, "filter", "QORGAU", 1, x, xn);
    ck_assert_int_eq(feedrules_parse(m, mn, 9, note, &s), -EBADMSG);
}
END_TEST

/* nft's tproxy and redirect, iptables-nft's TPROXY and REDIRECT: their ports read back. */
START_TEST(diversions_read)
{
    static uint8_t b[8192];
    uint8_t x[512];
    size_t at = 0, xn;
    /* tproxy ip to :15001 (the port loaded into register 8 by an immediate before it) */
    xn = e_immediate(x, 0, 8, 15001);
    xn = e_divert(x, xn, true, true, 8);
    at += newrule(b + at, 3, 2, 1, "qorgau", "prerouting", 4, x, xn);
    /* redirect to :15002 */
    xn = e_immediate(x, 0, 9, 15002);
    xn = e_divert(x, xn, false, true, 9);
    at += newrule(b + at, 3, 2, 2, "qorgau_nat", "prerouting", 5, x, xn);
    /* redirect reading a register no immediate of the rule loaded: port not known */
    xn = e_immediate(x, 0, 8, 15002);
    xn = e_divert(x, xn, false, true, 10);
    at += newrule(b + at, 3, 2, 2, "qorgau_nat", "prerouting", 6, x, xn);
    /* redirect without a port (keeps the original one) */
    xn = e_divert(x, 0, false, false, 0);
    at += newrule(b + at, 3, 2, 2, "qorgau_nat", "prerouting", 7, x, xn);
    /* -j TPROXY --on-port 16001 (revision 1: the port after two marks and a 16-byte address) */
    uint8_t tp[40] = { 0 };
    tp[24] = 16001 >> 8;
    tp[25] = 16001 & 0xff;
    xn = e_xt_divert(x, 0, "TPROXY", tp, 32);
    at += newrule(b + at, 3, 2, 2, "mangle", "PREROUTING", 2, x, xn);
    /* -j REDIRECT --to-ports 16002, IPv4 (rangesize, flags with the port given, addresses,
     * ports) and IPv6 (flags, two 16-byte addresses, ports) */
    uint8_t r4[24] = { 1, 0, 0, 0, 0x2 };
    r4[16] = 16002 >> 8;
    r4[17] = 16002 & 0xff;
    xn = e_xt_divert(x, 0, "REDIRECT", r4, 24);
    at += newrule(b + at, 3, 2, 2, "nat", "PREROUTING", 3, x, xn);
    uint8_t r6[40] = { 0x2 };
    r6[36] = 16003 >> 8;
    r6[37] = 16003 & 0xff;
    xn = e_xt_divert(x, 0, "REDIRECT", r6, 40);
    at += newrule(b + at, 3, 2, 10, "nat", "PREROUTING", 3, x, xn);
    at += nlw_done(b + at, 3);
    struct seen s = { .n = 0 };
    ck_assert_int_eq(feedrules_parse(b, at, 3, note, &s), 1);
    ck_assert_int_eq(s.n, 7);
    static const struct {
        uint8_t kind;
        uint16_t port;
        bool xt;
    } want[] = { { FEEDRULE_TPROXY, 15001, false }, { FEEDRULE_REDIRECT, 15002, false },
                 { FEEDRULE_REDIRECT, 0, false },   { FEEDRULE_REDIRECT, 0, false },
                 { FEEDRULE_TPROXY, 16001, true },  { FEEDRULE_REDIRECT, 16002, true },
                 { FEEDRULE_REDIRECT, 16003, true } };
    for (int i = 0; i < 7; i++) {
        ck_assert_uint_eq(s.r[i].kind, want[i].kind);
        ck_assert_uint_eq(s.r[i].port, want[i].port);
        ck_assert_int_eq(s.r[i].xt, want[i].xt);
    }
    /* a REDIRECT info too short for its port: -EBADMSG */
    xn = e_xt_divert(x, 0, "REDIRECT", r4, 12);
    at = newrule(b, 3, 2, 2, "nat", "PREROUTING", 3, x, xn);
    ck_assert_int_eq(feedrules_parse(b, at, 3, note, &s), -EBADMSG);
    /* judged for inline mode: ours found, or not, with what was found elsewhere */
    char m[2048];
    unsigned d = 9;
    ck_assert_int_eq(feedrules_judge_divert(s.r, 7, 15001, 15002, m, sizeof(m), &d), FEEDRULES_OK);
    ck_assert_uint_eq(d, 2);
    ck_assert_str_eq(m, "");
    ck_assert_int_eq(feedrules_judge_divert(s.r, 7, 0, 16002, m, sizeof(m), &d), FEEDRULES_OK);
    ck_assert_uint_eq(d, 1);
    ck_assert_int_eq(feedrules_judge_divert(s.r, 1, 15009, 0, m, sizeof(m), &d), FEEDRULES_WARN);
    ck_assert_uint_eq(d, 0);
    ck_assert_str_eq(m,
                     "No nf_tables rule diverts connections to the proxy (tproxy to port 15009): "
                     "nothing is judged, connections go to their servers unseen until one does "
                     "(load deploy/nftables-tproxy.nft or deploy/nftables-redirect.nft; rules "
                     "loaded through iptables-legacy are not seen). A diversion found "
                     "elsewhere: the rule in table inet qorgau, chain prerouting, handle 4 (nft "
                     "tproxy) diverts to port 15001: another program's, or inline.tproxy_port / "
                     "inline.redirect_port disagree with the rules.");
    ck_assert_int_eq(feedrules_judge_divert(NULL, 0, 15001, 15002, m, sizeof(m), NULL),
                     FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "(tproxy to port 15001, redirect to port 15002)") != NULL, "%s", m);
    /* diversions are not queue rules: the queue judgement leaves them out */
    ck_assert_int_eq(feedrules_judge(s.r, 7, 0, 2, m, sizeof(m), NULL), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "No nf_tables rule sends packets to queues 0-1 (the workers' "
                            "queues): nothing is judged until one does (load "
                            "deploy/nftables-queue.nft or deploy/iptables-queue.rules; rules "
                            "loaded through iptables-legacy are not seen).") == m,
                  "%s", m);
}
END_TEST

static struct feedrule entry(uint8_t kind, const char *table, const char *chain, const char *target)
{
    struct feedrule e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.family = 2;
    snprintf(e.table, sizeof(e.table), "%s", table);
    snprintf(e.chain, sizeof(e.chain), "%s", chain);
    snprintf(e.target, sizeof(e.target), "%s", target ? target : "");
    e.total = kind == FEEDRULE_QUEUE ? 1 : 0;
    return e;
}

/* Which chains are reached: from base chains along jumps (two deep), not across tables; a
 * table with a verdict map counts whole. A verdict map's lookup read from crafted bytes. */
START_TEST(chains_reached)
{
    struct feedrule r[] = {
        entry(FEEDRULE_BASE, "filter", "FORWARD", NULL),
        entry(FEEDRULE_JUMP, "filter", "FORWARD", "A"),
        entry(FEEDRULE_JUMP, "filter", "A", "B"),
        entry(FEEDRULE_QUEUE, "filter", "B", NULL),      /* 3: reached, two jumps deep */
        entry(FEEDRULE_QUEUE, "filter", "ORPHAN", NULL), /* 4: nothing jumps there */
        entry(FEEDRULE_QUEUE, "other", "B", NULL),       /* 5: another table's B */
        entry(FEEDRULE_VMAP, "mapped", "pre", NULL),
        entry(FEEDRULE_QUEUE, "mapped", "anywhere", NULL), /* 7: a verdict map may lead there */
        entry(FEEDRULE_TPROXY, "filter", "FORWARD", NULL), /* 8: in the base chain itself */
    };
    size_t n = sizeof(r) / sizeof(r[0]);
    ck_assert_int_eq(feedrules_reach(r, n), 0);
    ck_assert(!r[3].unreached);
    ck_assert(r[4].unreached);
    ck_assert(r[5].unreached);
    ck_assert(!r[7].unreached);
    ck_assert(!r[8].unreached);
    /* the judgement leaves the unreached out and says where they stand */
    char m[2048];
    struct feedrule q[2] = { r[4], r[5] };
    ck_assert_int_eq(feedrules_judge(q, 2, 0, 1, m, sizeof(m), NULL), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "Queue rules stand in a chain no base chain leads to: the rule in "
                            "table ip filter, chain ORPHAN") != NULL,
                  "%s", m);
    /* a lookup into the verdict register, as nft writes `vmap`: read as FEEDRULE_VMAP */
    uint8_t data[64], el[128], x[256];
    size_t dn = 0, en = 0;
    uint8_t sreg[4] = { 0, 0, 0, 8 }, dreg[4] = { 0, 0, 0, 0 };
    dn = nlw_attr(data, dn, 1, "__map0", 7); /* NFTA_LOOKUP_SET */
    dn = nlw_attr(data, dn, 2, sreg, 4);     /* NFTA_LOOKUP_SREG */
    dn = nlw_attr(data, dn, 3, dreg, 4);     /* NFTA_LOOKUP_DREG: NFT_REG_VERDICT */
    en = nlw_attr(el, en, 1, "lookup", 7);
    en = nlw_attr(el, en, 2 | NESTED, data, dn);
    size_t xn = nlw_attr(x, 0, 1 | NESTED, el, en);
    static uint8_t b[1024];
    size_t at = newrule(b, 4, 2, 1, "mapped", "pre", 9, x, xn);
    at += nlw_done(b + at, 4);
    struct seen s = { .n = 0 };
    ck_assert_int_eq(feedrules_parse(b, at, 4, note, &s), 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(s.r[0].kind, FEEDRULE_VMAP);
}
END_TEST

static struct feedrule rule(uint8_t family, const char *chain, uint64_t handle, uint16_t num,
                            uint16_t total, bool bypass)
{
    struct feedrule r;
    memset(&r, 0, sizeof(r));
    r.family = family;
    snprintf(r.table, sizeof(r.table), "filter");
    snprintf(r.chain, sizeof(r.chain), "%s", chain);
    r.handle = handle;
    r.xt = true;
    r.num = num;
    r.total = total;
    r.bypass = bypass;
    return r;
}

START_TEST(judge_cases)
{
    char m[2048];
    struct feedrule r[4];
    struct feedrules_counts k;
    /* the shipped rules, 2 workers from queue 0: right */
    r[0] = rule(2, "QORGAU", 11, 0, 2, true);
    r[1] = rule(10, "QORGAU", 10, 0, 2, true);
    ck_assert_int_eq(feedrules_judge(r, 2, 0, 2, m, sizeof(m), &k), FEEDRULES_OK);
    ck_assert_str_eq(m, "");
    ck_assert_uint_eq(k.stray_rules + k.unfed_queues + k.per_packet_rules, 0);
    /* 1 worker: queue 1 read by no one, bypass: blocked names pass */
    ck_assert_int_eq(feedrules_judge(r, 2, 0, 1, m, sizeof(m), &k), FEEDRULES_ERROR);
    ck_assert_uint_eq(k.stray_rules, 2);
    ck_assert_uint_eq(k.unfed_queues, 0);
    ck_assert_str_eq(m, "Rules in table ip filter, chain QORGAU, handles 11; table ip6 filter, "
                        "chain QORGAU, handles 10 (iptables NFQUEUE) send packets to queues "
                        "0-1, but the workers read queue 0 (queue.num 0, 1 worker): queue 1 no "
                        "worker reads, so their packets pass unjudged (the bypass flag): "
                        "blocked names go through.");
    /* queue.num 1, 2 workers: queue 0 below and queue 2 idle */
    ck_assert_int_eq(feedrules_judge(r, 1, 1, 2, m, sizeof(m), &k), FEEDRULES_ERROR);
    ck_assert_uint_eq(k.stray_rules, 1);
    ck_assert_uint_eq(k.unfed_queues, 1);
    ck_assert_msg(strstr(m, "The rule in table ip filter, chain QORGAU, handle 11 (iptables "
                            "NFQUEUE) sends packets to queues 0-1, but the workers read queues "
                            "1-2 (queue.num 1, 2 workers): queue 0 no worker reads") != NULL,
                  "%s", m);
    ck_assert_msg(strstr(m, "queue 2 (worker 1) gets no packets from any rule") != NULL, "%s", m);
    /* a range wider on both sides, no bypass: dropped */
    r[2] = rule(2, "FORWARD", 5, 3, 6, false);
    ck_assert_int_eq(feedrules_judge(&r[2], 1, 4, 2, m, sizeof(m), NULL), FEEDRULES_ERROR);
    ck_assert_msg(strstr(m, "queue 3 and queues 6-8 no worker reads, so their packets are "
                            "dropped (no bypass flag)") != NULL,
                  "%s", m);
    /* 4 workers fed by 0:1: workers 2-3 idle */
    ck_assert_int_eq(feedrules_judge(r, 2, 0, 4, m, sizeof(m), &k), FEEDRULES_WARN);
    ck_assert_uint_eq(k.stray_rules, 0);
    ck_assert_uint_eq(k.unfed_queues, 2);
    ck_assert_str_eq(m, "queues 2-3 (workers 2-3) get no packets from any rule: the rules' "
                        "queue range is narrower than the workers'.");
    /* no rule at all, and another program's queues only: nothing feeds the workers */
    ck_assert_int_eq(feedrules_judge(NULL, 0, 0, 2, m, sizeof(m), &k), FEEDRULES_WARN);
    ck_assert_uint_eq(k.unfed_queues, 2);
    ck_assert_msg(strstr(m, "No nf_tables rule sends packets to queues 0-1") == m, "%s", m);
    r[3] = rule(2, "SURICATA", 7, 10, 1, false);
    ck_assert_int_eq(feedrules_judge(&r[3], 1, 0, 2, m, sizeof(m), NULL), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "No nf_tables rule") == m, "%s", m);
    /* ... named, in case they are ours numbered apart (queue.num moved, the rules not) */
    ck_assert_msg(strstr(m, " Queue rules found elsewhere: the rule in table ip filter, chain "
                            "SURICATA, handle 7 (iptables NFQUEUE) sends packets to queue 10: "
                            "another program's, or queue.num and workers disagree with the "
                            "rules.") != NULL,
                  "%s", m);
    /* ... next to ours: left alone */
    struct feedrule both[2] = { r[0], r[3] };
    ck_assert_int_eq(feedrules_judge(both, 2, 0, 2, m, sizeof(m), NULL), FEEDRULES_OK);
    /* a number chosen per packet: cannot be told */
    struct feedrule reg = rule(1, "forward", 16, 0, 1, true);
    reg.xt = false;
    reg.from_register = true;
    ck_assert_int_eq(feedrules_judge(&reg, 1, 0, 2, m, sizeof(m), &k), FEEDRULES_WARN);
    ck_assert_uint_eq(k.per_packet_rules, 1);
    ck_assert_uint_eq(k.unfed_queues, 0);
    ck_assert_msg(strstr(m, "table inet filter, chain forward, handle 16 (nft queue) chooses its "
                            "queue per packet") != NULL,
                  "%s", m);
    /* a message buffer too small: cut, terminated */
    char small[16];
    ck_assert_int_eq(feedrules_judge(r, 2, 0, 1, small, sizeof(small), NULL), FEEDRULES_ERROR);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

/* ---- live ---- */

START_TEST(live_iptables)
{
    NEEDROOT("check_feedrules: the live iptables-nft test");
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
    char out[4096];
    const char *load =
        "iptables-restore --noflush < deploy/iptables-queue.rules 2>&1 && "
        "ip6tables-restore --noflush < deploy/iptables-queue.rules 2>&1 && echo loaded";
    ck_assert_msg(strstr(proc_output(load, out, sizeof(out)), "loaded") != NULL, "%s", out);
    struct feedrule *r = NULL;
    size_t n = 0;
    char err[512] = "";
    ck_assert_msg(feedrules_read(&r, &n, err, sizeof(err)) == 0, "%s", err);
    /* the rules' NFQUEUE lines: those for both families, those for one (-4, -6) */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "grep -c -- '^-A .*-j NFQUEUE' deploy/iptables-queue.rules");
    size_t lines = (size_t)strtoul(proc_output(cmd, out, sizeof(out)), NULL, 10);
    snprintf(cmd, sizeof(cmd), "grep -c -- '^-4 .*-j NFQUEUE' deploy/iptables-queue.rules");
    size_t lines4 = (size_t)strtoul(proc_output(cmd, out, sizeof(out)), NULL, 10);
    snprintf(cmd, sizeof(cmd), "grep -c -- '^-6 .*-j NFQUEUE' deploy/iptables-queue.rules");
    size_t lines6 = (size_t)strtoul(proc_output(cmd, out, sizeof(out)), NULL, 10);
    ck_assert_uint_gt(lines, 0);
    size_t v4 = 0, queues = 0, jumps = 0, bases = 0;
    for (size_t i = 0; i < n; i++) {
        /* and how QORGAU is reached: FORWARD (a base chain of both families) jumps to it */
        if (r[i].kind == FEEDRULE_JUMP) {
            jumps++;
            ck_assert_str_eq(r[i].chain, "FORWARD");
            ck_assert_str_eq(r[i].target, "QORGAU");
            continue;
        }
        if (r[i].kind == FEEDRULE_BASE) {
            bases += strcmp(r[i].chain, "FORWARD") == 0;
            continue;
        }
        queues++;
        ck_assert_uint_eq(r[i].kind, FEEDRULE_QUEUE);
        ck_assert(!r[i].unreached);
        ck_assert(r[i].xt);
        ck_assert_uint_eq(r[i].num, 0);
        ck_assert_uint_eq(r[i].total, 2);
        ck_assert(r[i].bypass);
        ck_assert_str_eq(r[i].table, "filter");
        ck_assert_str_eq(r[i].chain, "QORGAU");
        v4 += r[i].family == 2;
    }
    ck_assert_uint_eq(queues, 2 * lines + lines4 + lines6);
    ck_assert_uint_eq(v4, lines + lines4);
    ck_assert_uint_eq(bases, 2);
    ck_assert_uint_ge(jumps, 2);
    free(r);
    char m[2048];
    ck_assert_int_eq(feedrules_check(0, 2, m, sizeof(m), NULL), FEEDRULES_OK);
    ck_assert_int_eq(feedrules_check(0, 1, m, sizeof(m), NULL), FEEDRULES_ERROR);
    ck_assert_msg(strstr(m, "queue 1 no worker reads, so their packets pass unjudged") != NULL,
                  "%s", m);
    ck_assert_int_eq(feedrules_check(1, 2, m, sizeof(m), NULL), FEEDRULES_ERROR);
    ck_assert_msg(strstr(m, "queue 0 no worker reads") && strstr(m, "queue 2 (worker 1) gets no"),
                  "%s", m);
    /* FORWARD flushed (a firewall reload), QORGAU left standing with its rules: nothing reaches
     * them, so none feeds the workers - and the message says where they stand */
    ck_assert_msg(strstr(proc_output("iptables -F FORWARD && ip6tables -F FORWARD && echo flushed",
                                     out, sizeof(out)),
                         "flushed") != NULL,
                  "%s", out);
    struct feedrules_counts k;
    ck_assert_int_eq(feedrules_check(0, 2, m, sizeof(m), &k), FEEDRULES_WARN);
    ck_assert_uint_eq(k.unfed_queues, 2);
    ck_assert_msg(strstr(m, "No nf_tables rule sends packets to queues 0-1") == m &&
                      strstr(m, "Queue rules stand in a chain no base chain leads to: the rule "
                                "in table ip filter, chain QORGAU") &&
                      strstr(m, "(the jump to chain QORGAU is gone?)"),
                  "%s", m);
    ck_assert_int_eq(feedrules_check(0, 1, m, sizeof(m), NULL), FEEDRULES_WARN); /* no refusal */
    /* the rules gone: none feeds the workers */
    ck_assert_msg(strstr(proc_output("iptables -F QORGAU && ip6tables -F QORGAU && echo flushed",
                                     out, sizeof(out)),
                         "flushed") != NULL,
                  "%s", out);
    ck_assert_int_eq(feedrules_check(0, 2, m, sizeof(m), NULL), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "No nf_tables rule sends packets to queues 0-1") == m, "%s", m);
    /* inline mode's diversions: none yet; then the shipped TPROXY ruleset (both families) */
    unsigned d = 9;
    ck_assert_int_eq(feedrules_check_divert(15001, 0, m, sizeof(m), &d), FEEDRULES_WARN);
    ck_assert_uint_eq(d, 0);
    ck_assert_msg(strstr(proc_output("nft -f deploy/nftables-tproxy.nft 2>&1 && echo loaded", out,
                                     sizeof(out)),
                         "loaded") != NULL,
                  "%s", out);
    ck_assert_int_eq(feedrules_check_divert(15001, 0, m, sizeof(m), &d), FEEDRULES_OK);
    ck_assert_uint_eq(d, 2);
    ck_assert_int_eq(feedrules_check_divert(15009, 0, m, sizeof(m), &d), FEEDRULES_WARN);
    ck_assert_msg(strstr(m, "diverts to port 15001") != NULL, "%s", m);
}
END_TEST

static Suite *feedrules_suite(void)
{
    Suite *s = suite_create("feedrules");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, request_bytes);
    tcase_add_test(tc, dump_read);
    tcase_add_test(tc, dump_faults);
    tcase_add_test(tc, judge_cases);
    tcase_add_test(tc, diversions_read);
    tcase_add_test(tc, chains_reached);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 30);
    tcase_add_test(live, live_iptables);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(feedrules_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
