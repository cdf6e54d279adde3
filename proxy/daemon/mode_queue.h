/* mode_queue.h - queue mode: the filter is a router (or bridge) in the subscribers' path, and
 * the kernel hands the first packets of each new TCP 80/443 and UDP 443 flow to Qorgau through
 * NFQUEUE (deploy/iptables-queue.rules, deploy/nftables-queue.nft). Each packet goes through the
 * shared engine exactly as a tap frame does; the engine's decision becomes the packet's verdict:
 *
 *   client ──► router: FORWARD ─ connmark pass? ──► accept (kernel only)
 *                       │        connmark block? ──► drop
 *                       └─ NFQUEUE (balance) ──► worker i: engine i ──► verdict / hold
 *
 *   - a packet of a flow not yet decided that carries client payload (a ClientHello, an HTTP
 *     request head, a QUIC Initial, or part of one) is held: its verdict is not given until
 *     the flow is decided, then every held packet is released in order or all are dropped, so
 *     the server never receives part of a blocked request held whole. Bounds:
 *     queue.hold_packets per flow, queue.hold_flows per worker, queue.hold_timeout, and
 *     (watch) a stall of 200 ms once 4 packets are held. Past them, with queue.incomplete =
 *     watch (the default), the held packets are released in order and the flow is watched:
 *     each later packet goes through the engine before its verdict, the one completing a
 *     blocked name is dropped and both ends reset (the server got only the bytes before it),
 *     a completed request that passes gets the pass mark; past queue.watch_packets /
 *     queue.watch_timeout it is judged on what arrived and its address (logged). With address
 *     the flow is judged on its address at once; with drop its packets are dropped.
 *   - a flow that passed and is settled gets queue.mark_pass on its packet (verdict repeat): the
 *     rules save it as the connection mark and the rest of the flow never reaches user space.
 *   - a blocked flow's packets are dropped; the packet that decided it is repeated with
 *     queue.mark_block, which the rules save and then drop the flow's later packets on. TCP
 *     gets resets towards both ends (inject.c's builders, sent through raw IP sockets and
 *     routed by the kernel), HTTP the notice (302 to notice.url or the 451 page) before the
 *     client's reset; the server's reset carries the sequence number of the first dropped byte,
 *     its rcv_nxt. QUIC's packets are dropped (browsers fall back to TCP); inline.quic =
 *     drop-all drops every client UDP packet of the queue, pass lets QUIC through unjudged.
 *   - a segment the receiver would drop (bad checksum, outside the window, MD5 not negotiated,
 *     PAWS-old, no ACK, ...: engine_frame_info's set_aside) is dropped: such decoys reach no one.
 *   - other packets (handshakes, ACKs, the server's side) are accepted at once.
 *   - a worker reads up to 16 queued packets at once (capture_queue.c, recvmmsg()); the verdicts
 *     they produce leave in one sendto() once the read is handled, then the forged packets of
 *     its blocks in one sendmmsg() per address family (docs/queue.md, "Reads and verdicts in
 *     batches").
 *
 * Worker i reads queue queue.num + i; the rule's --queue-balance spreads flows over the queues
 * by a hash of the addresses that is the same both ways, so a flow's packets always reach the
 * same worker. A full queue lets packets through (queue.fail = open, NFQA_CFG_F_FAIL_OPEN) or
 * drops them (closed); with no daemon bound, the rule's --queue-bypass decides.
 *
 * Child tariffs (docs/profiles.md) apply as in tap mode: block lines carry cause, profile,
 * category and the subscriber's pseudonym, and tariff blocks are counted (tarcount).
 *
 * Counters (summed over workers): queue.packets, queue.accepted, queue.dropped, queue.held,
 * queue.released, queue.blocks, queue.injected, queue.inject_errors, queue.decoys,
 * queue.hold_timeouts, queue.hold_full, queue.watched, queue.watch_limits,
 * queue.verdict_errors, queue.enobufs, queue.flows, and the kernel's (about once a second):
 * queue.kernel_waiting, queue.kernel_dropped, queue.kernel_user_dropped. A queue 90% full is
 * logged ("queue nearly full", at most every 10 s per worker): past it, fail-open passes
 * packets unjudged, uncounted by the kernel. */
#ifndef QG_MODE_QUEUE_H
#define QG_MODE_QUEUE_H

#include "proxy/daemon/mode.h"

extern const struct mode_ops mode_queue_ops;

#endif
