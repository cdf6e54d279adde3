/* mode_tap.h - tap mode: a copy of the traffic (mirror/SPAN port, optical splitter, packet
 * broker) is captured, decided by the shared engine, and blocks are enforced out of path by
 * injection: TCP resets towards both ends and, for HTTP, the notice response (302 to
 * notice.url, or a 451 page when notice.url is empty) to the client ahead of the server's own
 * answer.
 *
 *   mirror ──► tap.interface ──► worker i: capture (fanout share i) ──► engine i ──► block?
 *                                                                                    │
 *   path  ◄── tap.inject_interface ◄── inject i (AF_PACKET raw socket) ◄─────────────┘
 *
 * One worker = one capture handle in a PACKET_FANOUT group (both directions of a flow on the
 * same worker, see capture_live.h) + one engine + one injection socket; nothing is shared on
 * the packet path but the rule set (rsref, RCU). QUIC (UDP) blocks cannot be dropped from a
 * copy of the traffic: instead a blocked QUIC flow whose Initial was read gets a server Initial with
 * CONNECTION_CLOSE (inject_plan_quic_close); the others are logged and counted
 * (tap.udp_not_enforced).
 *
 * The daemon drives it through mode_tap_ops (proxy/mode.h). Counters (summed over workers):
 * tap.frames, tap.bytes, tap.flows, tap.blocks, tap.injected, tap.inject_frames,
 * tap.inject_errors, tap.not_enforced, tap.udp_not_enforced, tap.capture_drops, tap.truncated
 * (frames larger than the ring's slot, handed to engine_frame_cut()), tap.truncated_blocked,
 * tap.paced_waits (sleeps between reads under dense traffic, docs/deploy.md "Ring"). */
#ifndef QG_MODE_TAP_H
#define QG_MODE_TAP_H

#include "proxy/daemon/mode.h"

extern const struct mode_ops mode_tap_ops;

#endif
