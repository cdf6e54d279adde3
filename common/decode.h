/* decode.h - packet decoding: link layer -> IPv4/IPv6 -> TCP/UDP.
 *
 * decode_packet() is a pure function over one captured frame. It fills a struct pkt whose
 * pointers refer into the frame, or returns the reason it could not. IP fragments are reported
 * (pkt.frag set) and left to defrag.h; the reassembled datagram goes back in through decode_ip(). */
#ifndef QG_DECODE_H
#define QG_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libpcap DLT/LINKTYPE values we accept (same numbers as pcap's LINKTYPE_*). */
#define DECODE_LINK_ETHERNET 1
#define DECODE_LINK_RAW 101      /* LINKTYPE_RAW: bare IPv4/IPv6 */
#define DECODE_LINK_IPV4 228
#define DECODE_LINK_IPV6 229
#define DECODE_LINK_LINUX_SLL 113
#define DECODE_LINK_LINUX_SLL2 276
#define DECODE_LINK_NULL 0       /* BSD loopback: 4-byte host-order family */
#define DECODE_LINK_DLT_RAW 12   /* DLT_RAW on some platforms */
#define DECODE_LINK_LOOP 108

/* Why a frame was not decoded. DECODE_OK and DECODE_FRAGMENT are not errors. Keep
 * decode_result_name() in step. */
enum decode_result {
    DECODE_OK = 0,
    DECODE_FRAGMENT,        /* an IP fragment: hand it to defrag */
    DECODE_NOT_IP,          /* ARP, LLDP, ...: skipped, not an error */
    DECODE_NOT_TCP_UDP,     /* ICMP, GRE, ...: skipped */
    DECODE_UNSUPPORTED_LINK,
    DECODE_TRUNC_LINK,
    DECODE_VLAN_DEPTH,      /* more VLAN tags than DECODE_MAX_VLAN */
    DECODE_TRUNC_IP,
    DECODE_BAD_IP_VERSION,
    DECODE_BAD_IP_HDRLEN,
    DECODE_BAD_IP_LEN,      /* total length larger than the frame or smaller than the header */
    DECODE_BAD_IP_CSUM,
    DECODE_IPV6_EXT_DEPTH,  /* extension header chain longer than DECODE_MAX_IPV6_EXT */
    DECODE_BAD_IPV6_EXT,
    DECODE_TRUNC_TCP,
    DECODE_BAD_TCP_HDRLEN,
    DECODE_BAD_TCP_OPTIONS,
    DECODE_TRUNC_UDP,
    DECODE_BAD_UDP_LEN,
    DECODE_RESULT_COUNT
};

#define DECODE_MAX_VLAN 4
#define DECODE_MAX_IPV6_EXT 8

/* TCP flag bits as on the wire. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20

struct pkt {
    /* IP */
    uint8_t ipver;          /* 4 or 6 */
    uint8_t l4proto;        /* IPPROTO_TCP / IPPROTO_UDP (or the fragment's next header) */
    uint8_t ttl;            /* TTL or hop limit */
    uint8_t n_vlan;
    uint16_t vlan[DECODE_MAX_VLAN];
    uint8_t src[16], dst[16];  /* IPv4 in the first 4 bytes, rest zero */
    const uint8_t *l3;      /* start of the IP header; l3_len = IP total length (not the frame) */
    size_t l3_len;
    bool ipv6_hbh;          /* IPv6: had a hop-by-hop header (first in chain) */
    bool ipv6_bad_ext;      /* IPv6: chain had something Linux drops (HBH not first, two HBH...) */

    /* fragment (valid when decode returned DECODE_FRAGMENT) */
    bool frag;
    uint32_t frag_id;       /* IPv4: 16-bit id; IPv6: 32-bit identification */
    uint32_t frag_off;      /* byte offset of this fragment's payload */
    bool frag_more;
    const uint8_t *frag_data;  /* this fragment's payload (after the fragmentable part's start) */
    size_t frag_data_len;
    uint8_t frag_nexthdr;   /* protocol of the reassembled payload */
    uint16_t frag_hdr_off;  /* IPv6: offset in l3 of the fragment header (= unfragmentable part
                             * length); IPv4: the IP header length */
    uint16_t frag_nh_off;   /* IPv6: offset in l3 of the next-header byte naming the fragment hdr */

    /* L4 */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win;
    uint8_t tcp_flags;
    uint16_t urg_ptr;
    uint8_t wscale;         /* valid if has_wscale */
    bool has_wscale;
    bool has_ts;
    uint32_t tsval, tsecr;
    bool has_md5;           /* TCP-MD5 signature option (kind 19) present */
    bool has_fastopen;      /* TFO cookie option (kind 34) present */
    uint8_t fastopen_cookie_len;  /* cookie bytes in that option (0 = cookie request) */
    bool has_mss;
    uint16_t mss;
    bool has_sackperm;
    bool l4_csum_ok;        /* true: the L4 checksum is known good (decode_ip() verified it, or
                             * the caller vouches for it, e.g. checksum offload); false: not
                             * verified yet - ask decode_l4_csum_ok() */
    const uint8_t *l4;      /* TCP header / UDP header; the checksum covers l4[0 .. l4_len) */
    size_t l4_len;          /* TCP: to the end of the IP payload; UDP: the UDP length */

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

/* Same, starting at an IP header (used for reassembled datagrams). Keeps p->vlan. Reassembled
 * datagrams are rare, so on DECODE_OK the L4 checksum is verified at once: p->l4_csum_ok tells
 * the result. */
enum decode_result decode_ip(const uint8_t *buf, size_t len, struct pkt *p);

/* True if p's TCP/UDP checksum is good: p->l4_csum_ok already set, or computed now over
 * p->l4[0 .. l4_len) with the pseudo-header from p's addresses (a zero UDP checksum counts as
 * good on IPv4 only). False for fragments and for packets with no L4 header. p must be a
 * decode_packet()/decode_ip() result whose frame is still alive. O(l4_len); does not cache. */
bool decode_l4_csum_ok(const struct pkt *p);

/* "ok", "trunc-ip", ... : stable names used in counters and the scan summary. */
const char *decode_result_name(enum decode_result r);

/* Formats p's source or destination as "ip:port" (IPv6 in brackets) into out; returns out. */
char *decode_fmt_endpoint(const uint8_t addr[16], int ipver, uint16_t port, char *out, size_t cap);

#endif
