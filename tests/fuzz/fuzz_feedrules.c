/* fuzz_feedrules.c - libFuzzer target: the reader of nf_tables rule dumps and the judgement
 * of their NFQUEUE rules (proxy/enforce/feedrules.c) over arbitrary datagrams.
 *
 * The input is copied to a buffer of exactly its size and read as one datagram of the dump
 * answering the sequence number of its first message. Every rule read must have at least one
 * queue and terminated names; the rules are then judged against a few worker ranges into
 * message buffers of several sizes: the verdict must be one of the three, the message
 * terminated within its buffer, the counts must agree with the verdict, and an OK verdict must
 * mean no rule with a fixed range reaches both into and out of the workers' queues; inline
 * mode's judgement of the diversions must count exactly the rules diverting to its ports. Nothing may over-read or leak.
 *
 * Seeds (tests/fuzz/corpus/feedrules): the four datagrams of a real dump, read from the kernel
 * of the development machine (Linux 6.1, iptables-nft 1.8.9) in a network namespace holding
 * deploy/iptables-queue.rules for both families; and the first datagram of one holding
 * deploy/nftables-tproxy.nft, deploy/nftables-redirect.nft and iptables-nft TPROXY and REDIRECT
 * rules (diversions-dump); and a chain dump of the shipped queue and TPROXY rule sets
 * (chains-dump). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/enforce/feedrules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct got {
    struct feedrule r[64];
    size_t n;
};

static int keep(void *ctx, const struct feedrule *r)
{
    struct got *g = ctx;
    if (r->kind > FEEDRULE_BASE || (r->kind == FEEDRULE_QUEUE && r->total == 0) ||
        (r->kind != FEEDRULE_QUEUE && r->total != 0) ||
        memchr(r->target, 0, sizeof(r->target)) == NULL ||
        memchr(r->table, 0, sizeof(r->table)) == NULL ||
        memchr(r->chain, 0, sizeof(r->chain)) == NULL)
        abort();
    if (g->n < 64)
        g->r[g->n++] = *r;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    uint32_t seq = 0;
    if (size >= 12)
        memcpy(&seq, copy + 8, 4);
    static struct got g;
    g.n = 0;
    int rc = feedrules_parse(copy, size, seq, keep, &g);
    if (rc > 1)
        abort();
    /* the same bytes read as a chain dump too, then which chains are reached */
    rc = feedrules_parse_chains(copy, size, seq, keep, &g);
    if (rc > 1 || feedrules_reach(g.r, g.n) != 0)
        abort();
    static const struct {
        uint16_t first;
        unsigned workers;
    } ranges[] = { { 0, 1 }, { 0, 2 }, { 1, 2 }, { 65534, 2 }, { 3, 64 } };
    static const size_t caps[] = { 0, 1, 16, 2048 };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
            char msg[2048];
            memset(msg, 'x', sizeof(msg));
            struct feedrules_counts k;
            enum feedrules_verdict v =
                feedrules_judge(g.r, g.n, ranges[i].first, ranges[i].workers, msg, caps[c], &k);
            if (v != FEEDRULES_OK && v != FEEDRULES_WARN && v != FEEDRULES_ERROR)
                abort();
            /* the numbers say what the verdict says */
            if ((v == FEEDRULES_ERROR) != (k.stray_rules > 0) ||
                (v == FEEDRULES_OK) !=
                    (k.stray_rules == 0 && k.unfed_queues == 0 && k.per_packet_rules == 0) ||
                k.unfed_queues > ranges[i].workers || k.stray_rules > g.n)
                abort();
            if (caps[c] && memchr(msg, 0, caps[c]) == NULL)
                abort();
            if (v == FEEDRULES_OK) {
                uint32_t lo = ranges[i].first, hi = lo + ranges[i].workers - 1;
                for (size_t k = 0; k < g.n; k++) {
                    uint32_t a = g.r[k].num, b = a + g.r[k].total - 1;
                    if (g.r[k].kind != FEEDRULE_QUEUE || g.r[k].unreached || g.r[k].from_register ||
                        b < lo || a > hi)
                        continue;
                    if (a < lo || b > hi)
                        abort(); /* a stray queue judged right */
                }
            }
        }
    }
    /* inline mode's diversions: OK exactly when some rule diverts to one of the ports */
    static const uint16_t ports[][2] = { { 15001, 15002 }, { 0, 15002 }, { 15001, 0 }, { 1, 2 } };
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        char msg[2048];
        unsigned diverting = 0, want = 0;
        enum feedrules_verdict v = feedrules_judge_divert(g.r, g.n, ports[i][0], ports[i][1], msg,
                                                          sizeof(msg), &diverting);
        for (size_t k = 0; k < g.n; k++) {
            uint16_t p = g.r[k].kind == FEEDRULE_TPROXY     ? ports[i][0]
                         : g.r[k].kind == FEEDRULE_REDIRECT ? ports[i][1]
                                                            : 0;
            want += p && !g.r[k].unreached && g.r[k].port == p;
        }
        if (diverting != want || (v == FEEDRULES_OK) != (want > 0) ||
            memchr(msg, 0, sizeof(msg)) == NULL)
            abort();
    }
    free(copy);
    return 0;
}
