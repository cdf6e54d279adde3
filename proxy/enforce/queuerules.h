/* queuerules.h - queue mode's kernel rules written from the configuration (`qorgau config rules`).
 *
 * The rules that send traffic to Qorgau's queues carry values the daemon is configured with:
 * the queues its workers read (queue.num .. queue.num + workers - 1), the marks it gives back
 * with its verdicts (queue.mark_pass, queue.mark_block), whether a queue no worker reads lets
 * packets through (queue.fail), and the bounds of what one source may send to the queues
 * (queue.source_*), the server packets past which a connection is no longer queued
 * (queue.settle_packets), the IPv6 prefix that is one source (client_prefix6) and the ports
 * judged (queue.ports). Written by
 * hand, a rule set drifts from the configuration: a mark changed in one and not the other lets
 * every passed connection back into the queue, or none out of it. This module writes the rule
 * set for a given set of values, in the iptables-restore format (iptables-nft, for kernels
 * without nft_queue; one file for both families) or as an nft script. With the defaults the
 * rules are those of deploy/iptables-queue.rules and deploy/nftables-queue.nft, which document
 * them rule by rule (tests/unit/enforce/check_queuerules.c compares them). */
#ifndef QG_QUEUERULES_H
#define QG_QUEUERULES_H

#include <stdint.h>
#include <stdio.h>

enum queuerules_format { QUEUERULES_IPTABLES = 0, QUEUERULES_NFT };

struct queuerules_cfg {
    uint32_t queue_first;    /* queue.num */
    uint32_t queues;         /* workers: 1 .. 65536 - queue_first */
    int bypass;              /* queue.fail = open: a queue no worker reads lets packets pass */
    uint32_t mark_pass;      /* queue.mark_pass, disjoint from mark_block */
    uint32_t mark_block;     /* queue.mark_block */
    uint32_t settle_packets; /* a connection whose server sent this many packets is accepted */
    uint32_t new_rate;       /* per source, new connections a second past the burst; 0: none */
    uint32_t new_burst;
    uint32_t queued_rate; /* per source, packets a second to the queues past the burst; 0: none */
    uint32_t queued_burst;
    uint32_t sources;   /* sources kept per family and table */
    uint32_t expire_ms; /* a source is forgotten this long after its last counted packet */
    unsigned prefix6;   /* client_prefix6: the IPv6 prefix length that is one source */
    int web_only;       /* queue.ports = web: only TCP 80/443 and UDP 443 reach the queues (else
                   * every TCP connection, and UDP datagrams shaped like a QUIC Initial on
                   * any port: a listed name on another port is judged too) */
};

/* The values of the shipped rule files (the configuration's defaults, 2 workers). */
void queuerules_cfg_default(struct queuerules_cfg *c);

/* Checks c: NULL if it can be written, else a message naming the value at fault (static). */
const char *queuerules_check(const struct queuerules_cfg *c);

/* Writes the rule set: a comment naming the values, then the rules. source: what they were
 * written from (a file name, shown in the comment: without control characters, which
 * would end the comment line), or NULL. Returns 0, -EINVAL (c fails
 * queuerules_check()) or -EIO. */
int queuerules_write(FILE *f, const struct queuerules_cfg *c, enum queuerules_format fmt,
                     const char *source);

#endif
