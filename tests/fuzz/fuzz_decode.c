/* fuzz_decode.c - libFuzzer target: frame decoding, then whatever the frame feeds downstream
 * (defragmentation and re-decode, flow lookup, TCP reassembly).
 *
 * Input: | link selector 1 | frame ... |. Bit 7 of the selector makes the target treat the L4
 * checksum as good (so reassembly is reachable); the low bits pick one of the link types decode
 * accepts (and one it does not). Encapsulated frames (MPLS, PPPoE, GRE/ERSPAN, VXLAN, GTP-U,
 * IP-in-IP) come in over Ethernet; seeds: tests/fuzz/corpus/decode/encap_*. State (defrag, flow table, reassembly pool) persists across
 * inputs so sequences of fragments and segments are explored too; all of it is bounded. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/packet/decode.h"
#include "proxy/packet/defrag.h"
#include "proxy/flow/flowtab.h"
#include "proxy/flow/tcpreasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
    DECODE_LINK_ETHERNET,  DECODE_LINK_RAW,
    DECODE_LINK_IPV4,      DECODE_LINK_IPV6,
    DECODE_LINK_LINUX_SLL, DECODE_LINK_LINUX_SLL2,
    DECODE_LINK_NULL,      DECODE_LINK_DLT_RAW,
    DECODE_LINK_LOOP,      147,
    DECODE_LINK_PPP,       DECODE_LINK_PPP_SERIAL,
    DECODE_LINK_PPP_ETHER,
};

static struct defrag *dg;
static struct flowtab *ft;
static struct tcpreasm_pool *pool;
static uint64_t now;

static void feed(struct pkt *p, bool trust_csum)
{
    if (trust_csum) /* lets the fuzzer reach reassembly without computing checksums */
        p->l4_csum_ok = true;
    bool is_new;
    int dir;
    struct flow *f = flowtab_get(ft, p, now, &is_new, &dir);
    if (!f || p->l4proto != 6)
        return;
    unsigned r = tcpreasm_segment(pool, &f->tcp, f->client, p, dir);
    size_t len = 0, alen = 0;
    const uint8_t *d = tcpreasm_data(pool, &f->tcp, &len);
    const uint8_t *a = tcpreasm_alt(pool, &f->tcp, &alen);
    volatile uint8_t sink = 0;
    if (d && len)
        sink ^= d[len - 1];
    if (a && alen)
        sink ^= a[alen - 1];
    (void)sink;
    if ((r & TCPREASM_NEW_DATA) && len > 100)
        tcpreasm_consume(pool, &f->tcp, len / 2 + (size_t)(p->seq & 0xff));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dg) {
        struct defrag_cfg dc;
        defrag_cfg_default(&dc);
        dc.max_datagrams = 8;
        dg = defrag_new(&dc);
        struct flowtab_cfg fc;
        flowtab_cfg_default(&fc);
        fc.max_flows = 64;
        pool = tcpreasm_pool_new(8, 2, 2048);
        fc.reasm = pool;
        ft = flowtab_new(&fc);
    }
    if (size < 1)
        return 0;
    now += 1000;
    struct pkt p;
    int link = links[(data[0] & 0x7f) % (sizeof links / sizeof links[0])];
    bool trust = (data[0] & 0x80) != 0;
    enum decode_result r = decode_packet(link, data + 1, size - 1, &p);
    (void)decode_result_name(r);
    if (r == DECODE_FRAGMENT) {
        const uint8_t *out;
        size_t olen;
        if (defrag_add(dg, &p, now, &out, &olen) == DEFRAG_DONE &&
            decode_ip(out, olen, &p) == DECODE_OK)
            feed(&p, trust);
    } else if (r == DECODE_OK) {
        char ep[64];
        decode_fmt_endpoint(p.src, p.ipver, p.sport, ep, sizeof ep);
        (void)decode_l4_csum_unfinished(&p);
        if (p.payload_len)
            (void)*(volatile const uint8_t *)&p.payload[p.payload_len - 1];
        feed(&p, trust);
    }
    if ((now / 1000) % 512 == 0)
        flowtab_expire(ft, now, NULL, NULL);
    return 0;
}
