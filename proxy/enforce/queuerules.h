/* queuerules.h - the kernel's rules that send packets to NFQUEUE, read from nf_tables, and
 * judged against the queues queue mode's workers read.
 *
 * Worker i reads queue queue.num + i. A rule that sends packets to a queue no worker reads
 * either lets them through unjudged (the rule's bypass flag, --queue-bypass: a blocked name
 * passes) or drops them (no flag: a subscriber's connections hang). Both come from a rule set
 * and a configuration that disagree (workers changed, queue.num moved, a hand-edited
 * --queue-balance range); queue mode checks at start, and `qorgau run --check` with it
 * (docs/queue.md "The rules and the workers").
 *
 * The rules are read over netlink (NFT_MSG_GETRULE, every family): nftables' `queue`
 * statement and iptables-nft's NFQUEUE target (an `xt` target in nf_tables) are both seen.
 * Rules loaded through iptables-legacy are not in nf_tables and are not seen. */
#ifndef QG_QUEUERULES_H
#define QG_QUEUERULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUERULE_NAME_MAX 64 /* table and chain names: NFT_NAME_MAXLEN - 1 bytes at most */

/* One rule with a queue verdict. */
struct queuerule {
    uint8_t family;                 /* of its table: NFPROTO_INET, NFPROTO_IPV4, ... */
    char table[QUEUERULE_NAME_MAX]; /* cut to fit, always terminated */
    char chain[QUEUERULE_NAME_MAX];
    uint64_t handle;
    bool xt;             /* iptables-nft's NFQUEUE target; else nft's queue */
    bool from_register;  /* nft `queue to EXPR`: the number is chosen per packet */
    uint16_t num, total; /* queues num .. num + total - 1 (total >= 1) */
    bool bypass;         /* no reader bound: the packet passes (else: dropped) */
    bool fanout;         /* the queue chosen by CPU instead of by a hash */
};

/* A rule dump request for every family into buf[0..cap): its length, 0 when cap is too small. */
size_t queuerules_request(uint8_t *buf, size_t cap, uint32_t seq);

/* Called for each rule with a queue verdict; a negative return stops the walk with it. */
typedef int (*queuerule_fn)(void *ctx, const struct queuerule *r);

/* Reads one datagram of the dump answering seq: fn for each rule with a queue verdict (a rule
 * with several: once for each). 1 when the dump's end (NLMSG_DONE) was in it, 0 when more is to
 * come, the negative errno of an NLMSG_ERROR, -EBADMSG for a message or attribute that does
 * not fit, or fn's negative return. Pure: never reads past len. */
int queuerules_parse(const uint8_t *buf, size_t len, uint32_t seq, queuerule_fn fn, void *ctx);

/* Reads the kernel's rules (a netlink socket of its own, closed after): *out (malloc'd, to
 * free()) holds *n rules. 0, or -1 with err (no netlink, not permitted, a malformed answer). */
int queuerules_read(struct queuerule **out, size_t *n, char *err, size_t errlen);

enum queuerules_verdict {
    QUEUERULES_OK = 0,
    QUEUERULES_WARN = 1,  /* idle workers, or no rule feeding them, or a number chosen per packet */
    QUEUERULES_ERROR = 2, /* a rule feeds queues in and out of the workers' range */
};

/* What a judgement found, as numbers (the gauges queue.rules_stray and queue.rules_unfed). */
struct queuerules_counts {
    unsigned stray_rules;      /* rules feeding queues both in and out of the workers' range */
    unsigned unfed_queues;     /* the workers' queues no rule feeds (all of them: no rule) */
    unsigned per_packet_rules; /* rules choosing their queue per packet */
};

/* Judges rules r[0..n) against workers reading queues first .. first + workers - 1. A rule
 * whose queues are all outside that range is another program's and left alone. msg gets what
 * was found, one sentence per finding, naming the rule (family, table, chain, handle) and the
 * queues; "" when nothing was. counts (may be NULL) gets the findings as numbers. */
enum queuerules_verdict queuerules_judge(const struct queuerule *r, size_t n, uint16_t first,
                                         unsigned workers, char *msg, size_t msglen,
                                         struct queuerules_counts *counts);

/* queuerules_read() then queuerules_judge(): the verdict with msg, or -1 when the rules could
 * not be read (msg: why; counts left alone). */
int queuerules_check(uint16_t first, unsigned workers, char *msg, size_t msglen,
                     struct queuerules_counts *counts);

/* "ip", "ip6", "inet", "arp", "bridge", "netdev" for a table's family; "?" for another. */
const char *queuerules_family_name(uint8_t family);

#endif
