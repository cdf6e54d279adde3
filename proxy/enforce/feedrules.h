/* feedrules.h - the kernel's rules that hand traffic to Qorgau, read from nf_tables: the ones
 * that send packets to NFQUEUE, judged against the queues queue mode's workers read, and the
 * TPROXY and REDIRECT diversions inline mode's listeners wait behind.
 *
 * Worker i reads queue queue.num + i. A rule that sends packets to a queue no worker reads
 * either lets them through unjudged (the rule's bypass flag, --queue-bypass: a blocked name
 * passes) or drops them (no flag: a subscriber's connections hang). Both come from a rule set
 * and a configuration that disagree (workers changed, queue.num moved, a hand-edited
 * --queue-balance range); queue mode checks at start, and `qorgau run --check` with it
 * (docs/queue.md "The rules and the workers").
 *
 * Inline mode judges nothing that no rule diverts to its ports (inline.tproxy_port,
 * inline.redirect_port): a firewall reload that flushed the diversion lets every connection
 * pass unjudged, and the proxy cannot see it. It reads the rules at start and while it runs
 * (docs/deploy.md "Inline mode").
 *
 * The rules are read over netlink (NFT_MSG_GETRULE, every family): nftables' `queue`,
 * `tproxy` and `redirect` statements (the port of the last two loaded into a register by an
 * `immediate` before them) and iptables-nft's NFQUEUE, TPROXY and REDIRECT targets (`xt`
 * targets in nf_tables) are all seen. Rules loaded through iptables-legacy are not in
 * nf_tables and are not seen. */
#ifndef QG_FEEDRULES_H
#define QG_FEEDRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEEDRULE_NAME_MAX 64 /* table and chain names: NFT_NAME_MAXLEN - 1 bytes at most */

enum feedrule_kind {
    FEEDRULE_QUEUE = 0, /* NFQUEUE: num, total, bypass, fanout */
    FEEDRULE_TPROXY,    /* TPROXY to port */
    FEEDRULE_REDIRECT,  /* REDIRECT to port */
    /* what decides whether a chain is reached (feedrules_reach()): */
    FEEDRULE_JUMP, /* a jump or goto from chain to target */
    FEEDRULE_VMAP, /* a verdict map in chain: it may jump anywhere in its table */
    FEEDRULE_BASE, /* chain is a base chain (hooked): packets enter there */
};

/* One rule with a queue verdict or a diversion. */
struct feedrule {
    uint8_t kind;                  /* enum feedrule_kind */
    uint16_t port;                 /* TPROXY / REDIRECT: the local port; 0 when not known (a
                                       * register the rule did not load, or a redirect keeping
                                       * the original port) */
    uint8_t family;                /* of its table: NFPROTO_INET, NFPROTO_IPV4, ... */
    char table[FEEDRULE_NAME_MAX]; /* cut to fit, always terminated */
    char chain[FEEDRULE_NAME_MAX];
    uint64_t handle;
    bool xt;                        /* iptables-nft's NFQUEUE target; else nft's queue */
    bool from_register;             /* nft `queue to EXPR`: the number is chosen per packet */
    uint16_t num, total;            /* queues num .. num + total - 1 (total >= 1) */
    bool bypass;                    /* no reader bound: the packet passes (else: dropped) */
    bool fanout;                    /* the queue chosen by CPU instead of by a hash */
    char target[FEEDRULE_NAME_MAX]; /* FEEDRULE_JUMP: the chain jumped to */
    bool unreached; /* no base chain of its table leads to its chain (feedrules_reach()):
                          * the judgements leave it out */
};

/* A rule dump request for every family into buf[0..cap): its length, 0 when cap is too small.
 * feedrules_chains_request(): the same for the chains (which are base chains). */
size_t feedrules_request(uint8_t *buf, size_t cap, uint32_t seq);
size_t feedrules_chains_request(uint8_t *buf, size_t cap, uint32_t seq);

/* Called for each rule with a queue verdict or a diversion; a negative return stops the walk
 * with it. */
typedef int (*feedrule_fn)(void *ctx, const struct feedrule *r);

/* Reads one datagram of the dump answering seq: fn for each rule with a queue verdict or a
 * diversion (a rule with several: once for each). 1 when the dump's end (NLMSG_DONE) was in it, 0 when more is to
 * come, the negative errno of an NLMSG_ERROR, -EBADMSG for a message or attribute that does
 * not fit, or fn's negative return. Pure: never reads past len. */
int feedrules_parse(const uint8_t *buf, size_t len, uint32_t seq, feedrule_fn fn, void *ctx);

/* The same over one datagram of the chain dump: fn for each base chain (FEEDRULE_BASE). */
int feedrules_parse_chains(const uint8_t *buf, size_t len, uint32_t seq, feedrule_fn fn, void *ctx);

/* Marks unreached the rules (queue verdicts, diversions) whose chain no base chain of their
 * table leads to through jumps and gotos - a rule set whose jump from FORWARD was flushed while
 * its own chain stayed feeds nothing. A table with a verdict map counts every chain reached (its
 * jumps are in the map's elements). Pure; allocates (0, or -ENOMEM with nothing marked). */
int feedrules_reach(struct feedrule *r, size_t n);

/* Reads the kernel's chains and rules (a netlink socket of its own, closed after) and marks
 * what is unreached (feedrules_reach()): *out (malloc'd, to free()) holds *n entries. 0, or -1 with err (no netlink, not permitted, a malformed answer). */
int feedrules_read(struct feedrule **out, size_t *n, char *err, size_t errlen);

enum feedrules_verdict {
    FEEDRULES_OK = 0,
    FEEDRULES_WARN = 1,  /* idle workers, or no rule feeding them, or a number chosen per packet */
    FEEDRULES_ERROR = 2, /* a rule feeds queues in and out of the workers' range */
};

/* What a judgement found, as numbers (the gauges queue.rules_stray and queue.rules_unfed). */
struct feedrules_counts {
    unsigned stray_rules;      /* rules feeding queues both in and out of the workers' range */
    unsigned unfed_queues;     /* the workers' queues no rule feeds (all of them: no rule) */
    unsigned per_packet_rules; /* rules choosing their queue per packet */
};

/* Judges the queue rules of r[0..n) against workers reading queues first .. first + workers -
 * 1 (diversions are left out). A rule
 * whose queues are all outside that range is another program's and left alone. msg gets what
 * was found, one sentence per finding, naming the rule (family, table, chain, handle) and the
 * queues; "" when nothing was. counts (may be NULL) gets the findings as numbers. */
enum feedrules_verdict feedrules_judge(const struct feedrule *r, size_t n, uint16_t first,
                                       unsigned workers, char *msg, size_t msglen,
                                       struct feedrules_counts *counts);

/* feedrules_read() then feedrules_judge(): the verdict with msg, or -1 when the rules could
 * not be read (msg: why; counts left alone). */
int feedrules_check(uint16_t first, unsigned workers, char *msg, size_t msglen,
                    struct feedrules_counts *counts);

/* Inline mode: does a rule of r[0..n) divert connections to the proxy's ports (tproxy_port,
 * redirect_port; 0: that way not listened on)? FEEDRULES_OK with msg "" when one does;
 * FEEDRULES_WARN when none does, msg naming the ports and a diversion to another port if one
 * was found. *diverting (may be NULL): the rules that divert to the proxy's ports. */
enum feedrules_verdict feedrules_judge_divert(const struct feedrule *r, size_t n,
                                              uint16_t tproxy_port, uint16_t redirect_port,
                                              char *msg, size_t msglen, unsigned *diverting);

/* feedrules_read() then feedrules_judge_divert(): the verdict, or -1 when the rules could not
 * be read (msg: why). */
int feedrules_check_divert(uint16_t tproxy_port, uint16_t redirect_port, char *msg, size_t msglen,
                           unsigned *diverting);

/* A finding's fingerprint (FNV-1a over a number - the verdict with the level it is logged at -
 * and the message): the modes log a finding when it differs from the last one. */
uint64_t feedrules_fingerprint(int v, const char *msg);

/* "ip", "ip6", "inet", "arp", "bridge", "netdev" for a table's family; "?" for another. */
const char *feedrules_family_name(uint8_t family);

#endif
