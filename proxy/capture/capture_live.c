/* capture_live.c - live interface capture for tap mode (see capture_live.h).
 *
 * The fanout selector (classic BPF, run by the kernel once per frame on the group, before any
 * member's filter; the group has PACKET_FANOUT_FLAG_DEFRAG, so IPv4 fragments are reassembled
 * by the kernel first), offsets relative to the network header so it works whether or not a
 * VLAN tag or the MAC header is in front:
 *
 *   proto = skb->protocol
 *   IPv4 : h = ip[12..16) ^ ip[16..20)                     (source ^ destination)
 *          if not a fragment and TCP, or UDP but not VXLAN/GTP-U (4789, 2152 either side):
 *            h ^= sport ^ dport                             (symmetric: both directions alike)
 *   IPv6 : h = ip[8..12) ^ ... ^ ip[36..40)                (the 8 address words; no ports: see
 *                                                           docs/deploy.md "Workers")
 *   else : 0
 *   return h ^ (h >> 16)                                    (the kernel takes it mod members)
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/capture/capture_live.h"
#include "proxy/capture/pcaplib.h"
#include "common/compiler.h"
#include "proxy/packet/decode.h"

struct capture_live {
    struct capture base;     /* first: the generic handle */
    const struct pcaplib *P; /* libpcap (pcaplib.h) */
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
#define LIVE_KEEP                                                                          \
    "(ip[6:2] & 0x3fff != 0) or (ip6 and (ip6[6] == 44 or ip6[6] == 0 or ip6[6] == 43 or " \
    "ip6[6] == 60)) or ip proto 4 or ip proto 41 or ip proto 47 or ip6 proto 4 or "        \
    "ip6 proto 41 or ip6 proto 47 or udp dst port 4789 or udp dst port 2152 or "           \
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

    int rc = cl->P->next_ex(cl->pc, &h, &data);
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
    snprintf(err, errlen, "capture: %s: pcap_next_ex() failed: %s", cl->iface,
             cl->P->geterr(cl->pc));
    return -EIO;
}

static int live_linktype(const struct capture *c)
{
    const struct capture_live *cl = (const struct capture_live *)c;
    return cl->P->datalink(cl->pc);
}

static void live_close(struct capture *c)
{
    struct capture_live *cl = (struct capture_live *)c;
    cl->P->close(cl->pc);
    free(cl);
}

static const struct capture_ops capture_live_ops = {
    .name = "live",
    .next = live_next,
    .linktype = live_linktype,
    .close = live_close,
};

/* A tiny assembler for the selector: jumps name a label, resolved once every label is placed.
 * Classic BPF jumps are forward only and at most 255 instructions away (the program is short). */
enum { L_V4 = 0, L_V6, L_RET0, L_L4, L_UDP, L_PORTS, L_MIX, L_COUNT };

struct fasm_fix {
    size_t at;  /* the jump instruction */
    int jt, jf; /* conditional: labels, -1 = next instruction */
    int ja;     /* unconditional: label; -1 for a conditional jump */
};

struct fasm {
    struct sock_filter *prog;
    size_t n, cap;
    int lbl[L_COUNT]; /* instruction index of each label, -1 = not placed yet */
    struct fasm_fix fix[32];
    size_t nfix;
};

static void f_emit(struct fasm *a, uint16_t code, uint32_t k)
{
    if (a->n < a->cap)
        a->prog[a->n] = (struct sock_filter)BPF_STMT(code, k);
    a->n++;
}

/* Conditional jump on A (BPF_JEQ / BPF_JSET with constant k): to label jt if true, jf if
 * false; -1 = the next instruction. */
static void f_jump(struct fasm *a, uint16_t op, uint32_t k, int jt, int jf)
{
    if (a->nfix < sizeof a->fix / sizeof a->fix[0])
        a->fix[a->nfix++] = (struct fasm_fix){ a->n, jt, jf, -1 };
    f_emit(a, (uint16_t)(BPF_JMP | op | BPF_K), k);
}

static void f_ja(struct fasm *a, int to)
{
    if (a->nfix < sizeof a->fix / sizeof a->fix[0])
        a->fix[a->nfix++] = (struct fasm_fix){ a->n, -1, -1, to };
    f_emit(a, BPF_JMP | BPF_JA, 0);
}

static void f_label(struct fasm *a, int l)
{
    a->lbl[l] = (int)a->n;
}

/* Resolves the jumps; false if a label is missing, a jump goes backwards or too far, or the
 * program did not fit. */
static bool f_link(struct fasm *a)
{
    if (a->n > a->cap || a->nfix >= sizeof a->fix / sizeof a->fix[0])
        return false;
    for (size_t i = 0; i < a->nfix; i++) {
        size_t at = a->fix[i].at;
        struct sock_filter *ins = &a->prog[at];
        if (a->fix[i].ja >= 0) {
            int to = a->lbl[a->fix[i].ja];
            if (to <= (int)at)
                return false;
            ins->k = (uint32_t)(to - (int)at - 1);
            continue;
        }
        int t[2] = { a->fix[i].jt, a->fix[i].jf };
        unsigned off[2];
        for (int w = 0; w < 2; w++) {
            int to = t[w] < 0 ? (int)at + 1 : a->lbl[t[w]];
            if (to <= (int)at || to - (int)at - 1 > 255)
                return false;
            off[w] = (unsigned)(to - (int)at - 1);
        }
        ins->jt = (uint8_t)off[0];
        ins->jf = (uint8_t)off[1];
    }
    return true;
}

size_t capture_live_fanout_prog(struct sock_filter *prog, size_t cap)
{
    struct fasm a = { .prog = prog, .cap = cap };
    for (int l = 0; l < L_COUNT; l++)
        a.lbl[l] = -1;
#define NET(k) ((uint32_t)(SKF_NET_OFF + (k)))
    f_emit(&a, BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    f_jump(&a, BPF_JEQ, 0x0800, L_V4, -1);
    f_jump(&a, BPF_JEQ, 0x86dd, L_V6, L_RET0);

    f_label(&a, L_V4);
    f_emit(&a, BPF_LD | BPF_W | BPF_ABS, NET(12));
    f_emit(&a, BPF_MISC | BPF_TAX, 0);
    f_emit(&a, BPF_LD | BPF_W | BPF_ABS, NET(16));
    f_emit(&a, BPF_ALU | BPF_XOR | BPF_X, 0);
    f_emit(&a, BPF_ST, 0); /* M[0] = src ^ dst */
    f_emit(&a, BPF_LD | BPF_H | BPF_ABS, NET(6));
    f_jump(&a, BPF_JSET, 0x3fff, L_MIX, -1); /* a fragment: addresses only */
    f_emit(&a, BPF_LD | BPF_B | BPF_ABS, NET(9));
    f_emit(&a, BPF_ST, 2); /* M[2] = protocol */
    f_jump(&a, BPF_JEQ, 6, L_L4, -1);
    f_jump(&a, BPF_JEQ, 17, L_L4, L_MIX);

    f_label(&a, L_L4);
    f_emit(&a, BPF_LDX | BPF_B | BPF_MSH, NET(0)); /* X = IP header length */
    f_emit(&a, BPF_LD | BPF_H | BPF_IND, NET(0));
    f_emit(&a, BPF_ST, 1); /* M[1] = source port */
    f_emit(&a, BPF_LD | BPF_H | BPF_IND, NET(2));
    f_emit(&a, BPF_MISC | BPF_TAX, 0); /* X = destination port */
    f_emit(&a, BPF_LD | BPF_MEM, 2);
    f_jump(&a, BPF_JEQ, 17, L_UDP, L_PORTS);

    /* UDP tunnels: VXLAN picks the outer source port per direction, GTP-U may too, so their
     * ports are not symmetric; addresses only */
    f_label(&a, L_UDP);
    f_emit(&a, BPF_MISC | BPF_TXA, 0);
    f_jump(&a, BPF_JEQ, 4789, L_MIX, -1);
    f_jump(&a, BPF_JEQ, 2152, L_MIX, -1);
    f_emit(&a, BPF_LD | BPF_MEM, 1);
    f_jump(&a, BPF_JEQ, 4789, L_MIX, -1);
    f_jump(&a, BPF_JEQ, 2152, L_MIX, L_PORTS);

    f_label(&a, L_PORTS);
    f_emit(&a, BPF_LD | BPF_MEM, 1);
    f_emit(&a, BPF_ALU | BPF_XOR | BPF_X, 0); /* sport ^ dport: symmetric */
    f_emit(&a, BPF_MISC | BPF_TAX, 0);
    f_emit(&a, BPF_LD | BPF_MEM, 0);
    f_emit(&a, BPF_ALU | BPF_XOR | BPF_X, 0);
    f_emit(&a, BPF_ST, 0);
    f_ja(&a, L_MIX);

    f_label(&a, L_V6);
    f_emit(&a, BPF_LDX | BPF_IMM, 0);
    for (uint32_t k = 8; k < 40; k += 4) {
        f_emit(&a, BPF_LD | BPF_W | BPF_ABS, NET(k));
        f_emit(&a, BPF_ALU | BPF_XOR | BPF_X, 0);
        f_emit(&a, BPF_MISC | BPF_TAX, 0);
    }
    f_emit(&a, BPF_MISC | BPF_TXA, 0);
    f_emit(&a, BPF_ST, 0);

    f_label(&a, L_MIX);
    f_emit(&a, BPF_LD | BPF_MEM, 0);
    f_emit(&a, BPF_ALU | BPF_RSH | BPF_K, 16);
    f_emit(&a, BPF_MISC | BPF_TAX, 0);
    f_emit(&a, BPF_LD | BPF_MEM, 0);
    f_emit(&a, BPF_ALU | BPF_XOR | BPF_X, 0);
    f_emit(&a, BPF_RET | BPF_A, 0);

    f_label(&a, L_RET0);
    f_emit(&a, BPF_RET | BPF_K, 0);
#undef NET
    return f_link(&a) ? a.n : 0;
}

static int join_fanout(struct capture_live *cl, uint16_t group, char *err, size_t errlen)
{
    int fd = cl->P->fileno(cl->pc);
    /* DEFRAG: the kernel reassembles IPv4 fragments before the selector runs, so a fragmented
     * segment is hashed with its ports and lands with the rest of its flow */
    uint32_t arg = (uint32_t)group | (uint32_t)(PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG)
                                         << 16;
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
        snprintf(err, errlen, "capture: %s: setsockopt(PACKET_FANOUT, group %u) failed: %s",
                 cl->iface, group, strerror(errno));
        return -errno;
    }
    struct sock_filter prog[CAPTURE_LIVE_FANOUT_MAX];
    size_t n = capture_live_fanout_prog(prog, CAPTURE_LIVE_FANOUT_MAX);
    if (n == 0) {
        snprintf(err, errlen, "capture: %s: fanout selector does not assemble", cl->iface);
        return -EINVAL;
    }
    struct sock_fprog fp = { .len = (unsigned short)n, .filter = prog };
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
    char lerr[256];
    cl->P = pcaplib_get(lerr, sizeof(lerr));
    if (!cl->P) {
        snprintf(err, errlen, "capture: %s: %s", cfg->iface, lerr);
        free(cl);
        return NULL;
    }

    cl->pc = cl->P->create(cfg->iface, ebuf);
    if (!cl->pc) {
        snprintf(err, errlen, "capture: %s: pcap_create() failed: %s", cfg->iface, ebuf);
        free(cl);
        return NULL;
    }
    if (cfg->batch_ms > 0 ? cl->P->set_timeout(cl->pc, cfg->batch_ms) != 0
                          : cl->P->set_immediate_mode(cl->pc, 1) != 0) {
        step = cfg->batch_ms > 0 ? "pcap_set_timeout()" : "pcap_set_immediate_mode()";
        goto pcap_fail;
    }
    /* automatic: slots sized to what the port delivers; a larger frame arrives cut and the
     * engine handles it as such (engine_frame_cut). An explicit snap length keeps the old rule:
     * with fanout the kernel hands over reassembled IPv4 datagrams, up to 65535 bytes + L2. */
    int snaplen = cfg->picked_snaplen;
    if (snaplen <= 0) {
        bool gro = false, lro = false;
        char oerr[160];
        int orc = cfg->snaplen == 0
                      ? capture_live_offloads(cfg->iface, &gro, &lro, oerr, sizeof(oerr))
                      : 0;
        snaplen = capture_live_pick_snaplen(cfg->snaplen, capture_live_mtu(cfg->iface),
                                            orc < 0 || gro || lro, cfg->fanout_group != 0);
    }
    if (cl->P->set_snaplen(cl->pc, snaplen) != 0) {
        step = "pcap_set_snaplen()";
        goto pcap_fail;
    }
    if (cfg->ring_bytes > (size_t)INT32_MAX ||
        cl->P->set_buffer_size(cl->pc, (int)cfg->ring_bytes) != 0) {
        step = "pcap_set_buffer_size()";
        goto pcap_fail;
    }
    (void)cl->P->set_promisc(cl->pc, 1); /* a mirror port delivers frames for other MACs */
    int rc = cl->P->activate(cl->pc);
    if (rc < 0) {
        snprintf(err, errlen, "capture: %s: pcap_activate() failed: %s%s%s", cfg->iface,
                 cl->P->statustostr(rc), *cl->P->geterr(cl->pc) ? ": " : "", cl->P->geterr(cl->pc));
        goto fail;
    }
    if (cl->P->setnonblock(cl->pc, 1, ebuf) != 0) {
        snprintf(err, errlen, "capture: %s: pcap_setnonblock() failed: %s", cfg->iface, ebuf);
        goto fail;
    }
    if (cfg->in_only && cl->P->setdirection(cl->pc, PCAP_D_IN) != 0) {
        step = "pcap_setdirection(in)";
        goto pcap_fail;
    }
    int link = cl->P->datalink(cl->pc);
    if (link != DECODE_LINK_ETHERNET && link != DECODE_LINK_RAW && link != DECODE_LINK_LINUX_SLL &&
        link != DECODE_LINK_LINUX_SLL2) {
        snprintf(err, errlen, "capture: %s: link type %d (%s) not supported", cfg->iface, link,
                 cl->P->datalink_val_to_name(link) ? cl->P->datalink_val_to_name(link) : "?");
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
        if (cl->P->compile(cl->pc, &bp, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, errlen, "capture: %s: bad filter '%s': %s", cfg->iface, cfg->bpf,
                     cl->P->geterr(cl->pc));
            goto fail;
        }
        rc = cl->P->setfilter(cl->pc, &bp);
        cl->P->freecode(&bp);
        if (rc != 0) {
            step = "pcap_setfilter()";
            goto pcap_fail;
        }
    }
    if (cfg->fanout_group && join_fanout(cl, cfg->fanout_group, err, errlen) < 0)
        goto fail;
    return &cl->base;

pcap_fail:
    snprintf(err, errlen, "capture: %s: %s failed: %s", cfg->iface, step, cl->P->geterr(cl->pc));
fail:
    cl->P->close(cl->pc);
    free(cl);
    return NULL;
}

int capture_live_pick_snaplen(int want, int mtu, bool merged, bool fanout)
{
    if (want == 0 && !merged)
        return capture_live_auto_snaplen(mtu);
    if (want == 0)
        want = 65535;
    if (fanout && want < 65535 + 64)
        want = 65535 + 64;
    return want;
}

int capture_live_auto_snaplen(int mtu)
{
    if (mtu <= 0)
        mtu = 1500;
    if (mtu > 65535)
        mtu = 65535;
    int n = mtu + 14 + 8;
    return n < 1518 ? 1518 : n;
}

/* An ioctl on a throw-away datagram socket; fills ifr's name. Returns 0 or -errno. */
static int if_ioctl(const char *iface, unsigned long req, struct ifreq *ifr)
{
    if (strlen(iface) >= sizeof(ifr->ifr_name))
        return -ENAMETOOLONG;
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", iface);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = ioctl(fd, req, ifr) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int capture_live_mtu(const char *iface)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    int rc = if_ioctl(iface, SIOCGIFMTU, &ifr);
    return rc < 0 ? rc : ifr.ifr_mtu;
}

int capture_live_offloads(const char *iface, bool *gro, bool *lro, char *err, size_t errlen)
{
    *gro = *lro = false;
    struct ifreq ifr;
    struct ethtool_value ev = { .cmd = ETHTOOL_GGRO };
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_data = (char *)&ev;
    int rc = if_ioctl(iface, SIOCETHTOOL, &ifr);
    if (rc < 0) {
        snprintf(err, errlen, "capture: %s: ethtool GGRO failed: %s", iface, strerror(-rc));
        return rc;
    }
    *gro = ev.data != 0;
    ev = (struct ethtool_value){ .cmd = ETHTOOL_GFLAGS };
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_data = (char *)&ev;
    rc = if_ioctl(iface, SIOCETHTOOL, &ifr);
    if (rc < 0) {
        snprintf(err, errlen, "capture: %s: ethtool GFLAGS failed: %s", iface, strerror(-rc));
        return rc;
    }
    *lro = (ev.data & ETH_FLAG_LRO) != 0;
    return 0;
}

int capture_live_fd(const struct capture *c)
{
    const struct capture_live *cl = (const struct capture_live *)c;
    return cl->P->get_selectable_fd(cl->pc);
}

int capture_live_stats(const struct capture *c, uint64_t *received, uint64_t *dropped)
{
    const struct capture_live *cl = (const struct capture_live *)c;
    struct pcap_stat ps;
    if (cl->P->stats(cl->pc, &ps) != 0)
        return -EIO;
    *received = ps.ps_recv;
    *dropped = ps.ps_drop;
    return 0;
}
