/* inject.h - tap-mode enforcement: forged TCP segments (and a QUIC server Initial) sent into the
 * traffic path.
 *
 * On a mirror port the filter sees a copy of the traffic and cannot hold it back; it can only
 * send packets of its own into the path, faster than the real server answers. For a blocked TCP
 * flow that is a reset towards both ends (and, for HTTP, the notice response to the client
 * first), each forged as if sent by the other end:
 *
 *   to the client : [L2 swapped] IP server->client  TCP srv_port->cli_port
 *                   data  seq = srv_next_seq, ack = cli_next_seq, PSH|ACK (FIN on the last)
 *                   RST   seq = srv_next_seq (+ data + FIN), ack = cli_next_seq, RST|ACK
 *   to the server : [L2 as the client sent it] IP client->server  TCP cli_port->srv_port
 *                   RST   seq = cli_next_seq, ack = srv_next_seq, RST|ACK
 *
 * Ethernet frame as built (VLAN tags of the triggering frame kept, in order):
 *
 *   dst MAC(6) src MAC(6) [TPID(2) TCI(2)]* ethertype(2) | IPv4(20) or IPv6(40) | TCP(20) | data
 *
 * IPv4: DF, TTL 64, a running id, header checksum. IPv6: hop limit 64, no extension headers.
 * TCP: no options, checksum over the pseudo-header. For a blocked QUIC flow (UDP cannot be
 * reset) one datagram goes to the client:
 *
 *   to the client : [L2 swapped] IP server->client  UDP srv_port->cli_port
 *                   server Initial {CONNECTION_CLOSE} padded to 1200 bytes (RFC 9000 21.2)
 *
 * The builders are pure; the sender (an
 * AF_PACKET raw socket bound to the inject interface, opened while root) only writes frames. */
#ifndef QG_INJECT_H
#define QG_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/engine/engine.h"
#include "proxy/dissect/quic.h"

#define INJECT_L2_MAX     30 /* 14 + DECODE_MAX_VLAN * 4 */
#define INJECT_HDR_MAX    (INJECT_L2_MAX + 40 + 20)
#define INJECT_MAX_FRAMES 24    /* data segments + FIN + 2 RSTs of one block */
#define INJECT_BUF_BYTES  32768 /* NOTICE_RESPONSE_MAX worth of data plus headers */
#define INJECT_TTL        64

/* The link-layer header to put in front of forged packets of one flow, one per direction.
 * len 0: the link carries bare IP (DECODE_LINK_RAW and friends). */
struct inject_l2 {
    uint8_t to_client[INJECT_L2_MAX];
    uint8_t to_server[INJECT_L2_MAX];
    size_t len;
};

/* One forged TCP segment. Addresses are 16 bytes (IPv4 in the first 4). */
struct inject_tcp {
    int ipver; /* 4 or 6 */
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags; /* TCPF_* */
    uint16_t win;
    uint16_t ip_id;         /* IPv4 identification */
    const uint8_t *payload; /* may be NULL when payload_len is 0 */
    size_t payload_len;
};

/* Derives the two link headers from the frame that triggered a decision (link type `link`):
 * Ethernet with up to DECODE_MAX_VLAN tags (0x8100, 0x88a8, 0x9100) followed by IPv4/IPv6,
 * or a bare-IP link type (DECODE_LINK_RAW, DLT_RAW, IPV4, IPV6: len 0). The frame's own
 * direction is given by from_client; the other direction gets the MACs swapped. The final
 * ethertype is set for ipver. Returns 0, -EPROTONOSUPPORT for other link types or ethertypes
 * (PPPoE, MPLS, SLL: nothing to forge a header from), -EINVAL for a truncated frame. Pure. */
int inject_l2_from_frame(int link, const uint8_t *frame, size_t len, bool from_client, int ipver,
                         struct inject_l2 *out);

/* Writes l2 (l2_len bytes, may be 0) + IP + TCP header + payload of t into buf. Returns the
 * frame length, or 0 when it does not fit in cap, ipver is not 4/6 or the IP packet would
 * exceed 65535 bytes. Pure; no allocation. */
size_t inject_build_tcp(uint8_t *buf, size_t cap, const uint8_t *l2, size_t l2_len,
                        const struct inject_tcp *t);

/* The frames of one block, laid out in one caller-owned buffer (no allocation per block). */
struct inject_frames {
    size_t n;
    size_t off[INJECT_MAX_FRAMES];
    size_t len[INJECT_MAX_FRAMES];
    uint8_t buf[INJECT_BUF_BYTES];
};

/* One forged UDP datagram. Addresses are 16 bytes (IPv4 in the first 4). */
struct inject_udp {
    int ipver; /* 4 or 6 */
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    uint16_t ip_id; /* IPv4 identification */
    const uint8_t *payload;
    size_t payload_len;
};

/* Writes l2 (l2_len bytes, may be 0) + IP + UDP header + payload of u into buf: IPv4 with DF,
 * TTL 64 and header checksum, or IPv6 with hop limit 64; the UDP checksum over the
 * pseudo-header (0 sent as 0xffff). Returns the frame length, or 0 when it does not fit in cap,
 * ipver is not 4/6 or the IP packet would exceed 65535 bytes. Pure; no allocation. */
size_t inject_build_udp(uint8_t *buf, size_t cap, const uint8_t *l2, size_t l2_len,
                        const struct inject_udp *u);

/* Plans the frame that enforces a QUIC block in tap mode (EVASION Q7): a server Initial carrying
 * CONNECTION_CLOSE (quic_close_initial() with ev's version and connection IDs, error 0x0128,
 * TLS handshake_failure), sent to the client as if from the server: addresses, ports and MACs
 * reversed, VLAN tags of the triggering frame kept. The client, holding the same public Initial
 * keys, accepts it and abandons QUIC; browsers retry over TCP, where the name is enforced.
 * ctx: a quic_ctx used for the sealing (not thread-safe: one per worker). *ip_id is advanced.
 * Returns 1 (out->n), -EINVAL (not UDP, no Initial read: ev->quic_version 0, no frame),
 * -EPROTONOSUPPORT (link, see inject_l2_from_frame) or -EIO (sealing failed). No allocation. */
int inject_plan_quic_close(const struct engine_event *ev, struct quic_ctx *ctx, uint16_t *ip_id,
                           struct inject_frames *out);

/* Plans the frames that enforce ev (a TCP block with ev->seq_known and ev->frame set):
 * resp (resp_len bytes, may be NULL/0) is sent to the client first in segments of at most
 * mss bytes (PSH|ACK, FIN on the last), then a RST|ACK to the client, then a RST|ACK to the
 * server. *ip_id is the next IPv4 id, advanced per frame. Returns the number of frames (>= 2)
 * or a negative errno: -EINVAL (not TCP, sequence numbers unknown, no frame, mss 0),
 * -EPROTONOSUPPORT (link, see inject_l2_from_frame), -EOPNOTSUPP (the triggering packet came
 * through an encapsulation, ev->pkt->encap: the frame's outer headers do not lead to the inner
 * packet, and a forged packet without the tunnel around it would reach nobody or the wrong
 * host; nothing is built), -EMSGSIZE (resp needs more than
 * INJECT_MAX_FRAMES - 2 segments or does not fit in out->buf). Pure; no allocation. */
int inject_plan_block(const struct engine_event *ev, const uint8_t *resp, size_t resp_len,
                      size_t mss, uint16_t *ip_id, struct inject_frames *out);

/* ---------------------------------------------------------------- sender */

struct inject;

struct inject_stats {
    uint64_t blocks;      /* blocks enforced (every frame sent) */
    uint64_t frames;      /* frames sent */
    uint64_t send_errors; /* send() failures (frame lost) */
    uint64_t no_seq;      /* TCP block without known sequence numbers: nothing sent */
    uint64_t unsupported; /* link type / ethertype we cannot forge */
    uint64_t tunnelled;   /* decided on a packet inside a tunnel (MPLS, GRE, VXLAN, ...):
                                   * nothing forged */
    uint64_t too_big;     /* response larger than the frame budget */
    uint64_t not_tcp;     /* UDP blocks without a read Initial (decided on the address):
                                   * nothing to inject (dropping needs inline) */
    uint64_t quic_closes; /* QUIC blocks enforced with a server CONNECTION_CLOSE */
};

/* Opens an AF_PACKET raw socket bound to interface iface (needs CAP_NET_RAW: call as root,
 * before privileges are dropped). Frames bypass the qdisc when the kernel allows it. mtu 0:
 * the interface's MTU. Returns NULL with "inject: IFACE: ..." in err. Caller owns the handle. */
struct inject *inject_open(const char *iface, unsigned mtu, char *err, size_t errlen);

/* Closes the socket and frees in. NULL is a no-op. */
void inject_free(struct inject *in);

/* Sends one complete frame. Returns 0 or -errno (counted in send_errors). */
int inject_send(struct inject *in, const uint8_t *frame, size_t len);

/* Enforces one block decision: a TCP block is planned by inject_plan_block (with resp, the MSS
 * derived from the MTU), a UDP (QUIC) block by inject_plan_quic_close, into fr (caller-owned
 * scratch, e.g. one per worker), and every frame is sent, the client's first. Returns the
 * number of frames sent or a negative errno (counted by reason). */
int inject_block(struct inject *in, const struct engine_event *ev, const uint8_t *resp,
                 size_t resp_len, struct inject_frames *fr);

/* Copies the counters. */
void inject_get_stats(const struct inject *in, struct inject_stats *st);

/* The interface name given to inject_open(). */
const char *inject_ifname(const struct inject *in);

#endif
