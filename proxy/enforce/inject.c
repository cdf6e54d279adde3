/* inject.c - forged TCP segments for tap-mode enforcement (see inject.h for the layout).
 *
 *   IPv4 header (RFC 791)                      IPv6 header (RFC 8200)
 *   0x45 tos | total len | id | 0x4000 (DF)    6 tc flow(4) | payload len | nh 6 | hop 64
 *   ttl 64 | proto 6 | checksum | src | dst    src(16) | dst(16)
 *
 *   TCP header (RFC 9293), 20 bytes, no options
 *   sport | dport | seq | ack | 0x50 flags | window | checksum | urg 0
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/compiler.h"
#include "proxy/packet/decode.h"
#include "proxy/enforce/inject.h"
#include "common/rd.h"

#define ETH_TYPE_IPV4     0x0800
#define ETH_TYPE_IPV6     0x86dd
#define ETH_TYPE_VLAN     0x8100
#define ETH_TYPE_QINQ     0x88a8
#define ETH_TYPE_QINQ_OLD 0x9100

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One's-complement sum of buf (big-endian 16-bit words, odd tail padded), added to sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += (uint32_t)buf[i] << 8 | buf[i + 1];
    if (i < len)
        sum += (uint32_t)buf[i] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int inject_l2_from_frame(int link, const uint8_t *frame, size_t len, bool from_client, int ipver,
                         struct inject_l2 *out)
{
    out->len = 0;
    if (ipver != 4 && ipver != 6)
        return -EINVAL;
    switch (link) {
    case DECODE_LINK_RAW:
    case DECODE_LINK_DLT_RAW:
    case DECODE_LINK_IPV4:
    case DECODE_LINK_IPV6: return 0;
    case DECODE_LINK_ETHERNET: break;
    default: return -EPROTONOSUPPORT;
    }

    struct rd r;
    rd_init(&r, frame, len);
    rd_skip(&r, 12); /* MACs */
    uint16_t type = rd_be16(&r);
    unsigned tags = 0;
    while (!r.err &&
           (type == ETH_TYPE_VLAN || type == ETH_TYPE_QINQ || type == ETH_TYPE_QINQ_OLD)) {
        if (++tags > DECODE_MAX_VLAN)
            return -EPROTONOSUPPORT;
        (void)rd_be16(&r); /* TCI */
        type = rd_be16(&r);
    }
    if (r.err)
        return -EINVAL;
    if (type != ETH_TYPE_IPV4 && type != ETH_TYPE_IPV6)
        return -EPROTONOSUPPORT;

    size_t hl = r.off; /* <= 14 + 4 * DECODE_MAX_VLAN == INJECT_L2_MAX */
    uint8_t *same = from_client ? out->to_server : out->to_client;
    uint8_t *other = from_client ? out->to_client : out->to_server;
    memcpy(same, frame, hl);
    memcpy(other, frame, hl);
    memcpy(other, frame + 6, 6); /* dst := the frame's src */
    memcpy(other + 6, frame, 6); /* src := the frame's dst */
    put16(same + hl - 2, ipver == 4 ? ETH_TYPE_IPV4 : ETH_TYPE_IPV6);
    put16(other + hl - 2, ipver == 4 ? ETH_TYPE_IPV4 : ETH_TYPE_IPV6);
    out->len = hl;
    return 0;
}

size_t inject_build_tcp(uint8_t *buf, size_t cap, const uint8_t *l2, size_t l2_len,
                        const struct inject_tcp *t)
{
    size_t iphl = t->ipver == 4 ? 20 : t->ipver == 6 ? 40 : 0;
    if (iphl == 0 || t->payload_len > 65535 - 20 - 20)
        return 0;
    size_t tcplen = 20 + t->payload_len;
    size_t total = l2_len + iphl + tcplen;
    if (total > cap)
        return 0;

    if (l2_len)
        memcpy(buf, l2, l2_len);
    uint8_t *ip = buf + l2_len;
    uint8_t *tcp = ip + iphl;
    uint32_t sum = 0;

    if (t->ipver == 4) {
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, (uint16_t)(iphl + tcplen));
        put16(ip + 4, t->ip_id);
        put16(ip + 6, 0x4000); /* DF */
        ip[8] = INJECT_TTL;
        ip[9] = IPPROTO_TCP;
        put16(ip + 10, 0);
        memcpy(ip + 12, t->src, 4);
        memcpy(ip + 16, t->dst, 4);
        put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
        sum = csum_add(sum, t->src, 4);
        sum = csum_add(sum, t->dst, 4);
        sum += IPPROTO_TCP;
        sum += (uint32_t)tcplen;
    } else {
        put32(ip, 0x60000000u);
        put16(ip + 4, (uint16_t)tcplen);
        ip[6] = IPPROTO_TCP;
        ip[7] = INJECT_TTL;
        memcpy(ip + 8, t->src, 16);
        memcpy(ip + 24, t->dst, 16);
        sum = csum_add(sum, t->src, 16);
        sum = csum_add(sum, t->dst, 16);
        sum += (uint32_t)tcplen; /* upper-layer length fits in 16 bits here */
        sum += IPPROTO_TCP;
    }

    put16(tcp, t->sport);
    put16(tcp + 2, t->dport);
    put32(tcp + 4, t->seq);
    put32(tcp + 8, t->ack);
    tcp[12] = 5 << 4;
    tcp[13] = t->flags;
    put16(tcp + 14, t->win);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    if (t->payload_len)
        memcpy(tcp + 20, t->payload, t->payload_len);
    put16(tcp + 16, csum_fold(csum_add(sum, tcp, tcplen)));
    return total;
}

size_t inject_build_udp(uint8_t *buf, size_t cap, const uint8_t *l2, size_t l2_len,
                        const struct inject_udp *u)
{
    size_t iphl = u->ipver == 4 ? 20 : u->ipver == 6 ? 40 : 0;
    if (iphl == 0 || u->payload_len > 65535 - 20 - 8)
        return 0;
    size_t udplen = 8 + u->payload_len;
    size_t total = l2_len + iphl + udplen;
    if (total > cap)
        return 0;
    if (l2_len)
        memcpy(buf, l2, l2_len);
    uint8_t *ip = buf + l2_len;
    uint8_t *udp = ip + iphl;
    uint32_t sum = 0;
    if (u->ipver == 4) {
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, (uint16_t)(iphl + udplen));
        put16(ip + 4, u->ip_id);
        put16(ip + 6, 0x4000); /* DF */
        ip[8] = INJECT_TTL;
        ip[9] = IPPROTO_UDP;
        put16(ip + 10, 0);
        memcpy(ip + 12, u->src, 4);
        memcpy(ip + 16, u->dst, 4);
        put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
        sum = csum_add(sum, u->src, 4);
        sum = csum_add(sum, u->dst, 4);
    } else {
        put32(ip, 0x60000000u);
        put16(ip + 4, (uint16_t)udplen);
        ip[6] = IPPROTO_UDP;
        ip[7] = INJECT_TTL;
        memcpy(ip + 8, u->src, 16);
        memcpy(ip + 24, u->dst, 16);
        sum = csum_add(sum, u->src, 16);
        sum = csum_add(sum, u->dst, 16);
    }
    sum += IPPROTO_UDP;
    sum += (uint32_t)udplen;
    put16(udp, u->sport);
    put16(udp + 2, u->dport);
    put16(udp + 4, (uint16_t)udplen);
    put16(udp + 6, 0);
    if (u->payload_len)
        memcpy(udp + 8, u->payload, u->payload_len);
    uint16_t c = csum_fold(csum_add(sum, udp, udplen));
    put16(udp + 6, c == 0 ? 0xffff : c); /* RFC 768: 0 means "no checksum" */
    return total;
}

/* CONNECTION_CLOSE error code of the forged server Initial: CRYPTO_ERROR (0x0100) with TLS alert
 * 40, handshake_failure (RFC 9001 4.8): what a server that refuses the ClientHello sends. */
#define INJECT_QUIC_ERROR 0x0128

int inject_plan_quic_close(const struct engine_event *ev, struct quic_ctx *ctx, uint16_t *ip_id,
                           struct inject_frames *out)
{
    out->n = 0;
    if (ev->l4proto != IPPROTO_UDP || ev->quic_version == 0 || !ev->frame)
        return -EINVAL;
    struct inject_l2 l2;
    int rc = inject_l2_from_frame(ev->link, ev->frame, ev->frame_len, ev->pkt_from_client,
                                  ev->ipver, &l2);
    if (rc < 0)
        return rc;
    uint8_t dgram[QUIC_MIN_DATAGRAM + 64];
    size_t n =
        quic_close_initial(ctx, ev->quic_version, ev->quic_odcid, ev->quic_odcid_len, ev->quic_scid,
                           ev->quic_scid_len, INJECT_QUIC_ERROR, dgram, sizeof(dgram));
    if (n == 0)
        return -EIO;
    struct inject_udp u = {
        .ipver = ev->ipver,
        .src = ev->server,
        .dst = ev->client,
        .sport = ev->server_port,
        .dport = ev->client_port,
        .ip_id = (*ip_id)++,
        .payload = dgram,
        .payload_len = n,
    };
    size_t len = inject_build_udp(out->buf, sizeof(out->buf), l2.to_client, l2.len, &u);
    if (len == 0)
        return -EMSGSIZE;
    out->off[0] = 0;
    out->len[0] = len;
    out->n = 1;
    return 1;
}

/* Appends one frame to out; false when it does not fit. */
static bool plan_add(struct inject_frames *out, size_t *used, const uint8_t *l2, size_t l2_len,
                     const struct inject_tcp *t)
{
    if (out->n >= INJECT_MAX_FRAMES)
        return false;
    size_t n = inject_build_tcp(out->buf + *used, sizeof(out->buf) - *used, l2, l2_len, t);
    if (n == 0)
        return false;
    out->off[out->n] = *used;
    out->len[out->n] = n;
    out->n++;
    *used += n;
    return true;
}

int inject_plan_block(const struct engine_event *ev, const uint8_t *resp, size_t resp_len,
                      size_t mss, uint16_t *ip_id, struct inject_frames *out)
{
    out->n = 0;
    if (ev->l4proto != IPPROTO_TCP || !ev->seq_known || !ev->frame || mss == 0)
        return -EINVAL;
    if (ev->pkt && ev->pkt->encap)
        return -EOPNOTSUPP;
    if (resp_len && (resp_len + mss - 1) / mss > INJECT_MAX_FRAMES - 2)
        return -EMSGSIZE;

    struct inject_l2 l2;
    int rc = inject_l2_from_frame(ev->link, ev->frame, ev->frame_len, ev->pkt_from_client,
                                  ev->ipver, &l2);
    if (rc < 0)
        return rc;

    /* The window the forged data advertises: the server's own when the triggering packet came
     * from it, else a small one (the connection is being torn down either way). */
    uint16_t srv_win = ev->pkt && !ev->pkt_from_client ? ev->pkt->win : 512;

    size_t used = 0;
    uint32_t sseq = ev->srv_next_seq;
    struct inject_tcp t = {
        .ipver = ev->ipver,
        .src = ev->server,
        .dst = ev->client,
        .sport = ev->server_port,
        .dport = ev->client_port,
        .ack = ev->cli_next_seq,
        .win = srv_win,
    };
    for (size_t off = 0; off < resp_len; off += mss) {
        size_t n = resp_len - off < mss ? resp_len - off : mss;
        bool last = off + n == resp_len;
        t.seq = sseq;
        t.flags = (uint8_t)(TCPF_ACK | TCPF_PSH | (last ? TCPF_FIN : 0));
        t.ip_id = (*ip_id)++;
        t.payload = resp + off;
        t.payload_len = n;
        if (!plan_add(out, &used, l2.to_client, l2.len, &t))
            return -EMSGSIZE;
        sseq += (uint32_t)n + (last ? 1u : 0u);
    }

    /* RST to the client, at the client's rcv_nxt after whatever we sent (an RST below it is
     * outside the window and dropped). */
    t.seq = sseq;
    t.flags = TCPF_RST | TCPF_ACK;
    t.ip_id = (*ip_id)++;
    t.payload = NULL;
    t.payload_len = 0;
    t.win = 0;
    if (!plan_add(out, &used, l2.to_client, l2.len, &t))
        return -EMSGSIZE;

    /* RST to the server, as from the client. */
    struct inject_tcp s = {
        .ipver = ev->ipver,
        .src = ev->client,
        .dst = ev->server,
        .sport = ev->client_port,
        .dport = ev->server_port,
        .seq = ev->cli_next_seq,
        .ack = ev->srv_next_seq,
        .flags = TCPF_RST | TCPF_ACK,
        .win = 0,
        .ip_id = (*ip_id)++,
    };
    if (!plan_add(out, &used, l2.to_server, l2.len, &s))
        return -EMSGSIZE;
    return (int)out->n;
}

/* ---------------------------------------------------------------- sender */

struct inject {
    int fd;
    int ifindex;
    unsigned mtu;
    uint16_t ip_id;
    struct quic_ctx *qctx; /* seals the QUIC close Initials */
    char ifname[IF_NAMESIZE];
    struct inject_stats st;
};

struct inject *inject_open(const char *iface, unsigned mtu, char *err, size_t errlen)
{
    struct inject *in = calloc(1, sizeof(*in));
    if (!in) {
        snprintf(err, errlen, "inject: %s: out of memory", iface);
        return NULL;
    }
    in->fd = -1;
    if (strlen(iface) >= sizeof(in->ifname)) {
        snprintf(err, errlen, "inject: %s: interface name too long", iface);
        goto fail;
    }
    memcpy(in->ifname, iface, strlen(iface) + 1);
    in->ifindex = (int)if_nametoindex(iface);
    if (in->ifindex == 0) {
        snprintf(err, errlen, "inject: %s: no such interface: %s", iface, strerror(errno));
        goto fail;
    }
    /* Protocol 0: a send-only socket, the kernel queues nothing received to it. */
    in->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (in->fd < 0) {
        snprintf(err, errlen, "inject: %s: socket(AF_PACKET) failed: %s", iface, strerror(errno));
        goto fail;
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = in->ifindex;
    sll.sll_protocol = 0;
    if (bind(in->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        snprintf(err, errlen, "inject: %s: bind() failed: %s", iface, strerror(errno));
        goto fail;
    }
#ifdef PACKET_QDISC_BYPASS
    int one = 1;
    (void)setsockopt(in->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
#endif
    if (mtu == 0) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        memcpy(ifr.ifr_name, in->ifname, strlen(in->ifname) + 1);
        mtu =
            ioctl(in->fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0 ? (unsigned)ifr.ifr_mtu : 1500;
    }
    if (mtu < 576 || mtu > 65535) {
        snprintf(err, errlen, "inject: %s: MTU %u out of range 576..65535", iface, mtu);
        goto fail;
    }
    in->mtu = mtu;
    in->qctx = quic_ctx_new();
    if (!in->qctx) {
        snprintf(err, errlen, "inject: %s: out of memory", iface);
        goto fail;
    }
    in->ip_id = (uint16_t)((unsigned)getpid() * 2654435761u >> 16);
    return in;
fail:
    if (in->fd >= 0)
        close(in->fd);
    quic_ctx_free(in->qctx);
    free(in);
    return NULL;
}

void inject_free(struct inject *in)
{
    if (!in)
        return;
    if (in->fd >= 0)
        close(in->fd);
    quic_ctx_free(in->qctx);
    free(in);
}

int inject_send(struct inject *in, const uint8_t *frame, size_t len)
{
    ssize_t n = send(in->fd, frame, len, 0);
    if (unlikely(n < 0 || (size_t)n != len)) {
        in->st.send_errors++;
        return n < 0 ? -errno : -EIO;
    }
    in->st.frames++;
    return 0;
}

int inject_block(struct inject *in, const struct engine_event *ev, const uint8_t *resp,
                 size_t resp_len, struct inject_frames *fr)
{
    int n;
    if (ev->l4proto == IPPROTO_UDP) {
        if (ev->quic_version == 0 || !ev->frame) {
            in->st.not_tcp++;
            return -EINVAL;
        }
        n = inject_plan_quic_close(ev, in->qctx, &in->ip_id, fr);
    } else if (ev->l4proto != IPPROTO_TCP) {
        in->st.not_tcp++;
        return -EINVAL;
    } else if (!ev->seq_known || !ev->frame) {
        in->st.no_seq++;
        return -EINVAL;
    } else {
        /* MSS for IPv6 without options: MTU - 40 - 20; IPv4: MTU - 20 - 20. */
        size_t mss = in->mtu - (ev->ipver == 6 ? 60u : 40u);
        n = inject_plan_block(ev, resp, resp_len, mss, &in->ip_id, fr);
    }
    if (n < 0) {
        if (n == -EPROTONOSUPPORT)
            in->st.unsupported++;
        else if (n == -EOPNOTSUPP)
            in->st.tunnelled++;
        else if (n == -EMSGSIZE || n == -EIO)
            in->st.too_big++;
        else
            in->st.no_seq++;
        return n;
    }
    int sent = 0, first_err = 0;
    for (size_t i = 0; i < fr->n; i++) {
        int rc = inject_send(in, fr->buf + fr->off[i], fr->len[i]);
        if (rc == 0)
            sent++;
        else if (!first_err)
            first_err = rc;
    }
    if (first_err)
        return first_err;
    in->st.blocks++;
    if (ev->l4proto == IPPROTO_UDP)
        in->st.quic_closes++;
    return sent;
}

void inject_get_stats(const struct inject *in, struct inject_stats *st)
{
    *st = in->st;
}

const char *inject_ifname(const struct inject *in)
{
    return in->ifname;
}
