/* decode.h - packet decoding: link layer -> [encapsulations] -> IPv4/IPv6 -> TCP/UDP.
 *
 * decode_packet() is a pure function over one captured frame. It fills a struct pkt whose
 * pointers refer into the frame, or returns the reason it could not. IP fragments are reported
 * (pkt.frag set) and left to defrag.h; the reassembled datagram goes back in through decode_ip().
 *
 * Encapsulations seen on operators' capture points are crossed to the innermost IP packet:
 * MPLS label stacks (also Ethernet pseudowires with a control word), PPPoE sessions, GRE
 * (IP, transparent Ethernet, MPLS, ERSPAN I/II/III), VXLAN (UDP port 4789), GTP-U (UDP port
 * 2152, G-PDU, extension headers), IP-in-IP / IPv6-in-IPv4 / IPv6-in-IPv6. At most
 * DECODE_MAX_ENCAP layers (each MPLS label counts as one) are crossed; more is
 * DECODE_ENCAP_DEPTH. The addresses, ports and l3/l4 pointers of struct pkt are the innermost
 * ones; pkt.zone folds the identifiers of the layers that keep equal inner addresses apart
 * (VLAN ids, PPPoE session, GRE key, VXLAN VNI, ERSPAN session) and goes into the flow key. */
#ifndef QG_DECODE_H
#define QG_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libpcap DLT/LINKTYPE values we accept (same numbers as pcap's LINKTYPE_*). */
#define DECODE_LINK_ETHERNET   1
#define DECODE_LINK_RAW        101 /* LINKTYPE_RAW: bare IPv4/IPv6 */
#define DECODE_LINK_IPV4       228
#define DECODE_LINK_IPV6       229
#define DECODE_LINK_LINUX_SLL  113
#define DECODE_LINK_LINUX_SLL2 276
#define DECODE_LINK_NULL       0  /* BSD loopback: 4-byte host-order family */
#define DECODE_LINK_DLT_RAW    12 /* DLT_RAW on some platforms */
#define DECODE_LINK_LOOP       108
#define DECODE_LINK_PPP        9  /* PPP: [0xff 0x03] protocol 2 (or 1, compressed) | payload */
#define DECODE_LINK_PPP_SERIAL 50 /* PPP in HDLC-like framing (RFC 1662): same layout */
#define DECODE_LINK_PPP_ETHER  51 /* PPPoE session header then PPP, no Ethernet header */

/* Why a frame was not decoded. DECODE_OK and DECODE_FRAGMENT are not errors. Keep
 * decode_result_name() in step. */
enum decode_result {
    DECODE_OK = 0,
    DECODE_FRAGMENT,    /* an IP fragment: hand it to defrag */
    DECODE_NOT_IP,      /* ARP, LLDP, ...: skipped, not an error */
    DECODE_NOT_TCP_UDP, /* ICMP, GRE, ...: skipped */
    DECODE_UNSUPPORTED_LINK,
    DECODE_TRUNC_LINK,
    DECODE_VLAN_DEPTH, /* more VLAN tags than DECODE_MAX_VLAN */
    DECODE_TRUNC_IP,
    DECODE_BAD_IP_VERSION,
    DECODE_BAD_IP_HDRLEN,
    DECODE_BAD_IP_LEN, /* total length larger than the frame or smaller than the header */
    DECODE_BAD_IP_CSUM,
    DECODE_IPV6_EXT_DEPTH, /* extension header chain longer than DECODE_MAX_IPV6_EXT */
    DECODE_BAD_IPV6_EXT,
    DECODE_TRUNC_TCP,
    DECODE_BAD_TCP_HDRLEN,
    DECODE_BAD_TCP_OPTIONS,
    DECODE_TRUNC_UDP,
    DECODE_BAD_UDP_LEN,
    DECODE_ENCAP_DEPTH, /* more than DECODE_MAX_ENCAP encapsulation layers */
    DECODE_TRUNC_ENCAP, /* an encapsulation header (or its declared length) cut short */
    DECODE_BAD_ENCAP,   /* an encapsulation header we do not accept (GRE version or routing,
                             * ERSPAN version, PPPoE version/code, GTP-U extension length 0) */
    DECODE_RESULT_COUNT
};

#define DECODE_MAX_VLAN     4
#define DECODE_MAX_IPV6_EXT 8
#define DECODE_MAX_ENCAP    8  /* encapsulation layers crossed (each MPLS label is one) */
#define DECODE_MAX_GTP_EXT  16 /* GTP-U extension headers in one packet */

/* The last encapsulation layer crossed (struct pkt.encap_kind). */
enum decode_encap {
    DECODE_ENCAP_NONE = 0,
    DECODE_ENCAP_MPLS,
    DECODE_ENCAP_PPPOE,
    DECODE_ENCAP_GRE,
    DECODE_ENCAP_ERSPAN,
    DECODE_ENCAP_VXLAN,
    DECODE_ENCAP_GTPU,
    DECODE_ENCAP_IPIP, /* IPv4/IPv6 directly in IPv4/IPv6 (protocol 4 / 41) */
};

/* TCP flag bits as on the wire. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20

struct pkt {
    /* IP */
    uint8_t ipver;   /* 4 or 6 */
    uint8_t l4proto; /* IPPROTO_TCP / IPPROTO_UDP (or the fragment's next header) */
    uint8_t ttl;     /* TTL or hop limit */
    uint8_t n_vlan;
    uint16_t vlan[DECODE_MAX_VLAN]; /* every VLAN id met, outer first (inner frames too) */
    uint8_t encap;            /* encapsulation layers crossed to reach l3; 0 = plain packet. The
                             * frame's link header and VLANs then do not lead to l3 directly:
                             * tap-mode injection must not reuse them (proxy/inject.c) */
    uint8_t encap_kind;       /* enum decode_encap of the last layer crossed */
    uint32_t zone;            /* fold of the VLAN ids, PPPoE session id, GRE key, VXLAN VNI and
                             * ERSPAN session id met (a lone VLAN tag: its id; none: 0). Part of
                             * the flow key and the defrag key. GTP-U TEIDs are not folded in:
                             * uplink and downlink carry different TEIDs (3GPP TS 29.281), so
                             * the two directions of one flow would never meet */
    uint32_t tunnel_id;       /* id of the last keyed layer: GRE key, VNI, TEID, ERSPAN session */
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
    const uint8_t *l3;        /* start of the IP header; l3_len = IP total length (not the frame) */
    size_t l3_len;
    bool ipv6_hbh;     /* IPv6: had a hop-by-hop header (first in chain) */
    bool ipv6_bad_ext; /* IPv6: chain had something Linux drops (HBH not first, two HBH...) */

    /* fragment (valid when decode returned DECODE_FRAGMENT) */
    bool frag;
    uint32_t frag_id;  /* IPv4: 16-bit id; IPv6: 32-bit identification */
    uint32_t frag_off; /* byte offset of this fragment's payload */
    bool frag_more;
    const uint8_t *frag_data; /* this fragment's payload (after the fragmentable part's start) */
    size_t frag_data_len;
    uint8_t frag_nexthdr;  /* protocol of the reassembled payload */
    uint16_t frag_hdr_off; /* IPv6: offset in l3 of the fragment header (= unfragmentable part
                             * length); IPv4: the IP header length */
    uint16_t frag_nh_off;  /* IPv6: offset in l3 of the next-header byte naming the fragment hdr */

    /* L4 */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win;
    uint8_t tcp_flags;
    uint16_t urg_ptr;
    uint8_t wscale; /* valid if has_wscale */
    bool has_wscale;
    bool has_ts;
    uint32_t tsval, tsecr;
    bool has_md5;                /* TCP-MD5 signature option (kind 19) present */
    bool has_fastopen;           /* TFO cookie option (kind 34) present */
    uint8_t fastopen_cookie_len; /* cookie bytes in that option (0 = cookie request) */
    bool has_mss;
    uint16_t mss;
    bool has_sackperm;
    bool l4_csum_ok;   /* true: the L4 checksum is known good (decode_ip() verified it, or
                             * the caller vouches for it, e.g. checksum offload); false: not
                             * verified yet - ask decode_l4_csum_ok() */
    const uint8_t *l4; /* TCP header / UDP header; the checksum covers l4[0 .. l4_len) */
    size_t l4_len;     /* TCP: to the end of the IP payload; UDP: the UDP length */

    const uint8_t *payload; /* L4 payload, clamped to the IP total length */
    size_t payload_len;
};

/* Decodes one frame of link type `link` (DECODE_LINK_*). Fills *p (pointers into buf).
 * Returns DECODE_OK, DECODE_FRAGMENT (p->frag* set, L4 fields not), or an error reason.
 * A bad IPv4 header checksum is an error. The L4 checksum is NOT verified here (most packets
 * belong to flows already decided, and summing every 1448-byte segment was the scan's largest
 * cost): p->l4_csum_ok is left false and the stream layer calls decode_l4_csum_ok() on the
 * packets whose checksum matters. */
enum decode_result decode_packet(int link, const uint8_t *buf, size_t len, struct pkt *p);

/* Same, starting at an IP header (used for reassembled datagrams). Keeps p->vlan, n_vlan,
 * zone, encap, encap_kind and tunnel_id (the layers in front of the datagram). Reassembled
 * datagrams are rare, so on DECODE_OK the L4 checksum is verified at once: p->l4_csum_ok tells
 * the result. */
enum decode_result decode_ip(const uint8_t *buf, size_t len, struct pkt *p);

/* True if p's TCP/UDP checksum is good: p->l4_csum_ok already set, or computed now over
 * p->l4[0 .. l4_len) with the pseudo-header from p's addresses (a zero UDP checksum counts as
 * good on IPv4 only). False for fragments and for packets with no L4 header. p must be a
 * decode_packet()/decode_ip() result whose frame is still alive. O(l4_len); does not cache.
 *
 * Who asks (T5: a segment with a bad checksum never reaches the receiver's socket, so a decoy
 * carrying one must change nothing here). Only segments of a flow still undecided are summed
 * (the engine stops at a decided flow's lookup), and of those only the ones that can change the
 * stream or what bounds it: the client's data, SYN, FIN and RST (the bytes and ends the server
 * reads); a client's bare ACK only when it would change tracked state (the first ACK, a larger
 * window); the SYN-ACK (it anchors the server's sequence space) and a server segment only when
 * it moves what is tracked (its next sequence number, FIN, window, timestamps), since these
 * decide which client segments count; the checksum policy sums a learning source's small
 * packets and marks the result. Not summed: bare ACKs that change nothing, and the server's
 * answer to a decided ClientHello (it ends the inspection). */
bool decode_l4_csum_ok(const struct pkt *p);

/* True if p's TCP/UDP checksum field holds what a sending host's checksum offload leaves
 * there (the folded pseudo-header sum: the NIC was to finish it) or zero (anonymisers, some
 * capture tools). Says nothing about whether the checksum is right; p as for
 * decode_l4_csum_ok(). O(1). */
bool decode_l4_csum_unfinished(const struct pkt *p);

/* "ok", "trunc-ip", ... : stable names used in counters and the scan summary. */
const char *decode_result_name(enum decode_result r);

/* Formats p's source or destination as "ip:port" (IPv6 in brackets) into out; returns out. */
char *decode_fmt_endpoint(const uint8_t addr[16], int ipver, uint16_t port, char *out, size_t cap);

#endif
