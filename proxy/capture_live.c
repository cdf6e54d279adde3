/* capture_live.c - live interface capture for tap mode (see capture_live.h).
 *
 * The fanout selector (classic BPF, run by the kernel once per frame on the group, before any
 * member's filter), offsets relative to the network header so it works whether or not a VLAN
 * tag or the MAC header is in front:
 *
 *   proto = skb->protocol
 *   IPv4 : h = ip[12..16) ^ ip[16..20)                     (source ^ destination)
 *   IPv6 : h = ip[8..12) ^ ... ^ ip[36..40)                (the 8 address words)
 *   else : 0
 *   return h ^ (h >> 16)                                    (the kernel takes it mod members)
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capture_live.h"
#include "compiler.h"
#include "decode.h"

struct capture_live {
    struct capture base;      /* first: the generic handle */
    pcap_t *pc;
    char iface[64];
};

/* What the operator's expression cannot see into, always taken along with it:
 *  - IP fragments: a non-first fragment has no ports, so "tcp port 443" drops it and a
 *    ClientHello cut inside the TCP header (EVASION T12, zapret ipfrag2) never reassembles.
 *    IPv4: MF or an offset; IPv6: a fragment header, or any extension header in front of the
 *    transport header (libpcap's "tcp"/"port" only read the first next-header, so T13's HBH/DST
 *    chains and fragments behind them would be dropped too).
 *  - tunnels (EVASION E1-E6): the ports are inside. */
#define LIVE_KEEP                                                                                  \
    "(ip[6:2] & 0x3fff != 0) or (ip6 and (ip6[6] == 44 or ip6[6] == 0 or ip6[6] == 43 or "        \
    "ip6[6] == 60)) or ip proto 4 or ip proto 41 or ip proto 47 or ip6 proto 4 or "               \
    "ip6 proto 41 or ip6 proto 47 or udp dst port 4789 or udp dst port 2152 or "                   \
    "ether proto 0x8847 or ether proto 0x8848 or ether proto 0x8864"

size_t capture_live_filter(const char *f, bool vlan_too, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    int n;
    if (!f || !*f)
        n = snprintf(out, cap, "%s", "");
    else if (vlan_too)
        n = snprintf(out, cap, "(%s) or %s or (vlan and ((%s) or %s))", f, LIVE_KEEP, f, LIVE_KEEP);
    else
        n = snprintf(out, cap, "(%s) or %s", f, LIVE_KEEP);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

static int live_next(struct capture *c, struct capture_frame *fr, char *err, size_t errlen)
{
    struct capture_live *cl = (struct capture_live *)c;
    struct pcap_pkthdr *h;
    const u_char *data;

    int rc = pcap_next_ex(cl->pc, &h, &data);
    if (likely(rc == 1)) {
        fr->data = data;
        fr->caplen = h->caplen;
        fr->wirelen = h->len;
        fr->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        return 1;
    }
    if (rc == 0)
        return -EAGAIN;
    if (rc == PCAP_ERROR_BREAK)
        return 0;
    snprintf(err, errlen, "capture: %s: pcap_next_ex() failed: %s", cl->iface, pcap_geterr(cl->pc));
    return -EIO;
}

static int live_linktype(const struct capture *c)
{
    const struct capture_live *cl = (const struct capture_live *)c;
    return pcap_datalink(cl->pc);
}

static void live_close(struct capture *c)
{
    struct capture_live *cl = (struct capture_live *)c;
    pcap_close(cl->pc);
    free(cl);
}

static const struct capture_ops capture_live_ops = {
    .name = "live",
    .next = live_next,
    .linktype = live_linktype,
    .close = live_close,
};

/* The selector program described at the top of the file, into prog (capacity 64). */
static unsigned short fanout_prog(struct sock_filter *prog)
{
    unsigned short n = 0;
#define EMIT(code, k) (prog[n++] = (struct sock_filter)BPF_STMT((code), (k)))
#define NET(k) ((unsigned)(SKF_NET_OFF + (k)))
    EMIT(BPF_LD | BPF_H | BPF_ABS, (unsigned)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    unsigned short j4 = n++;                   /* jeq 0x0800, patched below */
    EMIT(BPF_LDX | BPF_IMM, 0);
    for (int k = 12; k < 20; k += 4) {
        EMIT(BPF_LD | BPF_W | BPF_ABS, NET(k));
        EMIT(BPF_ALU | BPF_XOR | BPF_X, 0);
        EMIT(BPF_MISC | BPF_TAX, 0);
    }
    unsigned short ja = n++;                   /* ja mix */
    unsigned short j6 = n++;                   /* jeq 0x86dd */
    EMIT(BPF_LDX | BPF_IMM, 0);
    for (int k = 8; k < 40; k += 4) {
        EMIT(BPF_LD | BPF_W | BPF_ABS, NET(k));
        EMIT(BPF_ALU | BPF_XOR | BPF_X, 0);
        EMIT(BPF_MISC | BPF_TAX, 0);
    }
    unsigned short mix = n;
    EMIT(BPF_MISC | BPF_TXA, 0);
    EMIT(BPF_ST, 0);
    EMIT(BPF_ALU | BPF_RSH | BPF_K, 16);
    EMIT(BPF_LDX | BPF_MEM, 0);
    EMIT(BPF_ALU | BPF_XOR | BPF_X, 0);
    EMIT(BPF_RET | BPF_A, 0);
    unsigned short ret0 = n;
    EMIT(BPF_RET | BPF_K, 0);
#undef EMIT
#undef NET
    prog[j4] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, (unsigned char)(j6 - j4 - 1));
    prog[ja] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, (unsigned)(mix - ja - 1));
    prog[j6] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, (unsigned char)(ret0 - j6 - 1));
    return n;
}

static int join_fanout(struct capture_live *cl, uint16_t group, char *err, size_t errlen)
{
    int fd = pcap_fileno(cl->pc);
    int arg = (int)group | PACKET_FANOUT_CBPF << 16;
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
        snprintf(err, errlen, "capture: %s: setsockopt(PACKET_FANOUT, group %u) failed: %s", cl->iface,
                 group, strerror(errno));
        return -errno;
    }
    struct sock_filter prog[64];
    struct sock_fprog fp = { .len = fanout_prog(prog), .filter = prog };
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &fp, sizeof(fp)) < 0) {
        snprintf(err, errlen, "capture: %s: setsockopt(PACKET_FANOUT_DATA) failed: %s", cl->iface,
                 strerror(errno));
        return -errno;
    }
    return 0;
}

struct capture *capture_live_open(const struct capture_live_config *cfg, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    const char *step = NULL;
    struct capture_live *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        snprintf(err, errlen, "capture: %s: out of memory", cfg->iface);
        return NULL;
    }
    if (strlen(cfg->iface) >= sizeof(cl->iface)) {
        snprintf(err, errlen, "capture: %s: interface name too long", cfg->iface);
        free(cl);
        return NULL;
    }
    memcpy(cl->iface, cfg->iface, strlen(cfg->iface) + 1);
    cl->base.ops = &capture_live_ops;

    cl->pc = pcap_create(cfg->iface, ebuf);
    if (!cl->pc) {
        snprintf(err, errlen, "capture: %s: pcap_create() failed: %s", cfg->iface, ebuf);
        free(cl);
        return NULL;
    }
    if (pcap_set_immediate_mode(cl->pc, 1) != 0) {
        step = "pcap_set_immediate_mode()";
        goto pcap_fail;
    }
    if (pcap_set_snaplen(cl->pc, cfg->snaplen) != 0) {
        step = "pcap_set_snaplen()";
        goto pcap_fail;
    }
    if (cfg->ring_bytes > (size_t)INT32_MAX || pcap_set_buffer_size(cl->pc, (int)cfg->ring_bytes) != 0) {
        step = "pcap_set_buffer_size()";
        goto pcap_fail;
    }
    (void)pcap_set_promisc(cl->pc, 1);  /* a mirror port delivers frames for other MACs */
    int rc = pcap_activate(cl->pc);
    if (rc < 0) {
        snprintf(err, errlen, "capture: %s: pcap_activate() failed: %s%s%s", cfg->iface,
                 pcap_statustostr(rc), *pcap_geterr(cl->pc) ? ": " : "", pcap_geterr(cl->pc));
        goto fail;
    }
    if (pcap_setnonblock(cl->pc, 1, ebuf) != 0) {
        snprintf(err, errlen, "capture: %s: pcap_setnonblock() failed: %s", cfg->iface, ebuf);
        goto fail;
    }
    if (cfg->in_only && pcap_setdirection(cl->pc, PCAP_D_IN) != 0) {
        step = "pcap_setdirection(in)";
        goto pcap_fail;
    }
    int link = pcap_datalink(cl->pc);
    if (link != DECODE_LINK_ETHERNET && link != DECODE_LINK_RAW && link != DECODE_LINK_LINUX_SLL &&
        link != DECODE_LINK_LINUX_SLL2) {
        snprintf(err, errlen, "capture: %s: link type %d (%s) not supported", cfg->iface, link,
                 pcap_datalink_val_to_name(link) ? pcap_datalink_val_to_name(link) : "?");
        goto fail;
    }

    char expr[CAPTURE_LIVE_FILTER_MAX];
    if (cfg->bpf && *cfg->bpf) {
        if (capture_live_filter(cfg->bpf, cfg->vlan_too, expr, sizeof(expr)) == 0) {
            snprintf(err, errlen, "capture: %s: filter longer than %d bytes", cfg->iface,
                     CAPTURE_LIVE_FILTER_MAX / 2 - 512);
            goto fail;
        }
        struct bpf_program bp;
        if (pcap_compile(cl->pc, &bp, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, errlen, "capture: %s: bad filter '%s': %s", cfg->iface, cfg->bpf,
                     pcap_geterr(cl->pc));
            goto fail;
        }
        rc = pcap_setfilter(cl->pc, &bp);
        pcap_freecode(&bp);
        if (rc != 0) {
            step = "pcap_setfilter()";
            goto pcap_fail;
        }
    }
    if (cfg->fanout_group && join_fanout(cl, cfg->fanout_group, err, errlen) < 0)
        goto fail;
    return &cl->base;

pcap_fail:
    snprintf(err, errlen, "capture: %s: %s failed: %s", cfg->iface, step, pcap_geterr(cl->pc));
fail:
    pcap_close(cl->pc);
    free(cl);
    return NULL;
}

int capture_live_fd(const struct capture *c)
{
    const struct capture_live *cl = (const struct capture_live *)c;
    return pcap_get_selectable_fd(cl->pc);
}

int capture_live_stats(const struct capture *c, uint64_t *received, uint64_t *dropped)
{
    const struct capture_live *cl = (const struct capture_live *)c;
    struct pcap_stat ps;
    if (pcap_stats(cl->pc, &ps) != 0)
        return -EIO;
    *received = ps.ps_recv;
    *dropped = ps.ps_drop;
    return 0;
}
