/* capture_live.h - live capture from a network interface (libpcap on AF_PACKET), the source
 * of tap mode. Fills struct capture_ops (capture.h), so anything reading a capture reads this.
 *
 * Each handle is one AF_PACKET socket with its own memory-mapped ring. libpcap is put in
 * immediate mode, which on Linux means a TPACKET_V2 ring (frames are delivered as they arrive;
 * TPACKET_V3, libpcap's default otherwise, hands frames over a block at a time and would delay
 * injections by up to its block timeout). Several handles on one interface share the traffic
 * through a PACKET_FANOUT group (with PACKET_FANOUT_FLAG_DEFRAG: the kernel reassembles IPv4
 * fragments before choosing) whose classic-BPF selector hashes symmetrically: IPv4 TCP/UDP on
 * addresses and ports, other IPv4 and all IPv6 on addresses only. Both directions of a flow, and
 * every fragment of a datagram, land on the same handle, whatever hash the NIC computed. */
#ifndef QG_CAPTURE_LIVE_H
#define QG_CAPTURE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/capture/capture.h"

#define CAPTURE_LIVE_FILTER_MAX 4096

/* tap.bpf's default: TCP on every port, UDP 443, and UDP on other ports whose first payload byte
 * has a QUIC long header's two top bits (what may be an Initial: a site serving a listed name
 * on another port is judged too; RTP, WireGuard and most DNS are not read) */
#define CAPTURE_LIVE_DEFAULT_FILTER                                                             \
    "tcp or udp port 443 or (ip and udp and udp[8] & 0xc0 = 0xc0) or (ip6 and ip6[6] = 17 and " \
    "ip6[48] & 0xc0 = 0xc0)"
#define CAPTURE_LIVE_FANOUT_MAX 96 /* instructions of the fanout selector, at most */

struct sock_filter;

struct capture_live_config {
    const char *iface;
    const char *bpf;       /* pcap-filter expression; NULL or "": every frame */
    bool vlan_too;         /* also match the filter inside one VLAN tag (see below) */
    size_t ring_bytes;     /* kernel ring (pcap_set_buffer_size) */
    int snaplen;           /* 0: from the interface's MTU (capture_live_auto_snaplen()) */
    int picked_snaplen;    /* > 0: what capture_live_pick_snaplen() already gave for this
                            * interface (its offloads read once by the caller); 0: chosen here */
    bool in_only;          /* PCAP_D_IN: ignore frames this host sends (our injections) */
    uint16_t fanout_group; /* 0: no fanout; else the group id every worker's handle joins */
    int batch_ms;          /* 0: immediate mode (a frame per wake-up, TPACKET_V2 slots of
                            * snaplen); > 0: the kernel hands over blocks of frames packed by
                            * their length (TPACKET_V3) at least every batch_ms */
};

/* Writes the filter to compile for f into out: "(f) or K", or "(f) or K or (vlan and ((f) or
 * K))" when vlan_too (pcap's "vlan" keyword shifts the offsets of what follows it, so the plain
 * expression alone would miss tagged frames when the tag is in the packet data). K keeps what f
 * cannot judge because the ports are not where it looks: IPv4 fragments (MF or an offset),
 * IPv6 packets whose first next-header is a fragment/HBH/routing/destination-options header,
 * IP-in-IP, GRE, VXLAN (UDP 4789), GTP-U (UDP 2152), MPLS and PPPoE session frames. Returns the
 * length, or 0 when it does not fit in cap. f "" or NULL gives "" (no filter). Pure. */
size_t capture_live_filter(const char *f, bool vlan_too, char *out, size_t cap);

/* Assembles the fanout selector (the program at the top of capture_live.c) into prog (cap
 * instructions). Returns its length, or 0 if it does not fit. Pure: exported so tests can run
 * it. */
size_t capture_live_fanout_prog(struct sock_filter *prog, size_t cap);

/* Opens iface (needs CAP_NET_RAW: call as root), sets immediate mode (or the batch timeout), the ring size, the
 * snap length (cfg->snaplen, or the automatic one; an explicit one below 65599 is raised to it
 * with a fanout group, whose reassembled datagrams it then holds whole), non-blocking reads, the direction, the filter and the fanout group. Returns the
 * handle or NULL with "capture: IFACE: <step> failed: <pcap_geterr text>" in err. The caller
 * owns it (capture_close()). next() returns 1 with a frame, -EAGAIN when none is waiting (wait
 * on capture_live_fd()), or -EIO. */
struct capture *capture_live_open(const struct capture_live_config *cfg, char *err, size_t errlen);

/* The snap length tap mode uses by default: the largest frame a port of MTU mtu delivers, an
 * Ethernet header and two VLAN tags included (mtu + 22), at least 1518 (mtu <= 0: 1500). With
 * it a TPACKET_V2 slot is about 2 KiB and a 64 MB ring holds ~35,000 frames. A larger frame
 * (GRO/LRO on the capturing NIC, an IPv4 datagram the fanout reassembled) arrives cut
 * (capture_frame.caplen < wirelen). Pure. */
int capture_live_auto_snaplen(int mtu);

/* The snap length a capture opens with: want > 0 is kept (raised to 65599 with fanout: the group
 * hands over reassembled IPv4 datagrams); want 0 is capture_live_auto_snaplen(mtu) unless the
 * interface merges received segments or its offloads cannot be read (merged: GRO/LRO on, or
 * the query failed), which gives 65535 (65599 with fanout), so that an ordinary request split
 * over two segments and merged into one frame is never cut. */
int capture_live_pick_snaplen(int want, int mtu, bool merged, bool fanout);

/* The MTU of iface (SIOCGIFMTU), or -errno. */
int capture_live_mtu(const char *iface);

/* Whether iface merges received segments before the capture sees them: GRO (ETHTOOL_GGRO) and
 * LRO (ETHTOOL_GFLAGS & ETH_FLAG_LRO). Returns 0, or -errno with a message in err when the
 * driver does not say (each flag is then false). */
int capture_live_offloads(const char *iface, bool *gro, bool *lro, char *err, size_t errlen);

/* A descriptor to poll(2) for POLLIN before calling next() again after -EAGAIN. */
int capture_live_fd(const struct capture *c);

/* Kernel counters of this handle (pcap_stats): frames that passed the filter and frames the
 * ring had no room for. Returns 0 or -EIO. */
int capture_live_stats(const struct capture *c, uint64_t *received, uint64_t *dropped);

#endif
