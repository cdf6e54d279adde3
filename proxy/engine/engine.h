/* engine.h - the packet path every mode shares: decode -> defrag -> flow -> reassembly ->
 * dissect -> verdict. A mode feeds frames in and receives decision events out; where frames
 * come from (capture.h) and what is done with a decision (print, inject, refuse) is the mode's.
 *
 * The engine allocates its pools (flows, reassembly buffers, fragments) at engine_new() and
 * nothing per packet. It is single-threaded: one engine per worker. */
#ifndef QG_ENGINE_H
#define QG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/packet/decode.h"
#include "rules/match/ruleset.h"
#include "proxy/judge/verdict.h"

struct engine;

struct engine_config {
    size_t max_flows;            /* flow table capacity (default 1M) */
    size_t reasm_bytes;          /* client->server bytes reassembled per flow (default 32 KiB:
                                  * a request head nginx accepts; names are read early, so a
                                  * larger ClientHello needs only the bytes up to its SNI) */
    size_t reasm_buffers;        /* reassembly buffers in the pool (default 8192) */
    size_t defrag_slots;         /* IP datagrams in reassembly at once (default 1024) */
    size_t quic_slots;           /* QUIC handshakes reassembled at once (default 1024) */
    uint32_t quic_max_datagrams; /* client datagrams of a UDP flow read for its Initials (16) */
    size_t quic_max_bytes;       /* ... and client payload bytes (default 32 KiB) */
    size_t h2c_conns;            /* h2c connections whose every stream is judged at once
                                  * (HPACK state, H2C_ARENA bytes each; default 256) */
    uint32_t tcp_idle_s;         /* idle timeouts */
    uint32_t udp_idle_s;
    int checksums; /* enum csumpol_mode (csumpol.h): verify (default), ignore, auto */
    /* queue mode: the kernel passes the SYN-ACK and bare ACKs unseen
     * (tcpreasm_pool_synack_unseen()); a SYN the server must not get - with data, or another
     * ISN than the first - is set aside */
    bool synack_unseen;
    /* queue mode: a client Initial (one that decrypts) in a datagram under 1200 bytes, which a
     * server must drop (RFC 9000 14.1), is set aside, so that the mode drops it too - before, it
     * was not judged and a passed 4-tuple carried it to a server that takes short Initials */
    bool drop_short_initials;
    /* queue mode: a client segment with new data that finds the reassembly pool empty is not
     * taken (tcpreasm_pool_defer_empty()), nor a client Initial that finds no QUIC slot free:
     * engine_frame_info.deferred asks the mode to drop it, and the client sends it again.
     * false (tap, scan: nothing can be held back): the flow is judged on that segment alone and
     * its address, and reassembly gives up; a QUIC flow without a slot on its address. */
    bool defer_no_buffer;
    /* queue and tap modes: reassembly buffers one client address may hold at once (0: no bound;
     * tcpreasm_pool_owner_limit()): past it, its new data finds no buffer, as above */
    uint32_t reasm_per_client;
    /* the IPv6 prefix length that share is counted over (0: 64; owners_client_key()): a
     * subscriber may take any address of its /64, each would be a client of its own */
    uint8_t client_prefix6;
    /* tap mode: a client past that share whose request one segment does not show whole is
     * blocked by policy (method client-limit, counted client_limit_blocked) instead of judged
     * on its address: a flood of half-sent requests must not open the filter for its sender */
    bool client_limit_blocks;
    /* tap mode: the reassembly pool never runs dry (tcpreasm_pool_evict_oldest()): a flow that
     * needs a buffer when none is free takes the one taken longest ago. Its holder - a request
     * still incomplete after every other buffer was taken since, as a flood's half-sent hellos
     * are - can no longer be read, and is blocked by policy at its next data (method no-room,
     * counted evicted_blocked), or keeps its decision when the server answers first. Without
     * it (scan), an empty pool leaves requests cut across segments to their address. */
    bool reasm_evict;
    /* tap mode: a client segment whose bytes differ from a copy already held, with no
     * alternative buffer free to keep it in (TCPREASM_NO_ALT), is blocked by policy (method
     * no-room, counted conflict_no_room_blocked): the copy the server takes may be that one (a
     * fake with a short TTL sent first), and it cannot be judged. Legitimate retransmissions
     * carry the same bytes. Without it (scan), only the first copy is judged. */
    bool conflict_no_room_blocks;
    /* tap and queue modes: a server segment with data that acknowledges client bytes the engine
     * never saw (tcpreasm_acks_unseen(): a capture drop, a datagram whose fragments were
     * evicted from the defragmentation table by a flood; in queue mode packets the kernel
     * accepted unqueued, a queue full with queue.fail = open) while the flow is still inspected
     * - its first request, or any later one of a kept-alive HTTP connection - blocks it by
     * policy (method unseen, counted unseen_blocked): the server answers a request nobody
     * judged. Without it (scan: captures start mid-flow and lose packets), the flow waits for
     * its bytes and ends on its address. */
    bool unseen_blocks;
    /* tap mode: a QUIC Initial that finds no slot free (quic_slots) is judged on its own
     * datagram (a ClientHello whole in it, on its name); otherwise blocked by policy (method
     * no-room, counted quic_no_slot_blocked) instead of judged on its address: a flood of
     * Initials holding the slots must not let through the hellos that span two Initials
     * (Chrome's, with a post-quantum key share). QUIC refused, the browser uses TCP. */
    bool quic_no_slot_blocks;
    /* queue mode: the mode holds every client datagram of an undecided UDP flow, so its server
     * cannot have answered one. A server's QUIC datagram (a long header of a known version) on
     * such a flow - or a client's QUIC Handshake packet, which follows that answer - shows that
     * client datagrams went by in the kernel unjudged (a queue full, failing open): the flow is
     * blocked by policy (method unseen, counted unseen_blocked; its datagrams dropped, the
     * browser goes on over TCP). Other UDP (DTLS, WireGuard on 443) is not QUIC-shaped and is
     * left alone. A QUIC flow whose datagrams the mode released at its hold bounds (a hello not
     * complete within them, queue.incomplete = watch) is blocked the same way at its server's
     * first answer. */
    bool udp_answer_blocks;
    /* queue mode: what a TCP flow first seen after its SYN gets (ENGINE_UNSEEN_SYN_*); tap
     * mode and scan keep PICKUP (captures that start mid-flow) */
    uint8_t unseen_syn;
    /* the frames' bytes are already in the CPU's caches when pushed (scan: capture_pcap.c's
     * reader copies each 128 KiB step just before its records are handed out): the look-ahead
     * then prefetches no payload lines (1.8-2.3 % of the scan, docs/BENCHMARKS.md). false (the
     * default) for the live ring, whose frames the kernel wrote a batch earlier. */
    bool frames_cached;
    /* tap mode: engine_set_rules() looks for passed TCP flows whose server's address the new
     * set lists as an IP entry (verdict_ip_entry()); each is blocked at its next packet, either
     * way, with the sequence numbers that packet carries (counted passed_cut, the event's cut
     * set). Queue mode's kernel table does this for its passed flows, which the engine no
     * longer sees. */
    bool cut_passed;
    /* tap mode, with cut_passed: the names of passed TLS connections kept (entries per worker,
     * at most 65535; 0: none kept, namekeep.h). Each new rule set judges them again; a
     * connection now blocked is cut at its next packet as for an address (counted
     * passed_name_cut). Past the table, a connection keeps the decision it started with
     * (passed_names_full). */
    uint32_t passed_names;
    /* ... of them, at most this many per client (client_prefix6 for IPv6), so one client
     * keeping connections alive cannot fill the table for the others (passed_names_client_full);
     * 0: no share */
    uint32_t passed_names_per_client;
    struct verdict_policy policy;
    const struct verdict_tariff *tariff; /* child tariffs (docs/profiles.md); NULL: none */
};

/* engine_config.unseen_syn: a TCP flow whose first packet seen is not its SYN (in queue mode:
 * the SYN passed unjudged - a full queue failing open, the daemon restarting under the rules'
 * bypass, conntrack entries flushed). */
enum engine_unseen_syn {
    ENGINE_UNSEEN_SYN_PICKUP = 0, /* picked up mid-stream (tap, scan): anchored on 2+ bytes
                                   * of client data or the server's ack, judged less strictly */
    ENGINE_UNSEEN_SYN_JUDGE,      /* anchored at its first client data segment (1 byte is
                                   * enough) and judged like a new flow; a stream that cannot be
                                   * judged by name (its start went by unseen: neither TLS nor
                                   * HTTP from there, or nothing readable at the bounds) is
                                   * blocked (method syn-unseen) unless its address blocks
                                   * anyway or is allow-listed */
    ENGINE_UNSEEN_SYN_DROP,       /* blocked (method syn-unseen) at its first client payload */
};

/* Fills c with the defaults above. */
void engine_config_default(struct engine_config *c);

/* One decision, handed to the mode. Pointers are valid only during the callback. */
struct engine_event {
    uint64_t flow_id; /* 1-based, in order of flow creation */
    uint64_t ts_us;
    int ipver;
    uint8_t l4proto;                /* IPPROTO_TCP / IPPROTO_UDP */
    const uint8_t *client, *server; /* 16-byte addresses */
    uint16_t client_port, server_port;
    enum verdict_app app;
    const char *name; /* normalized name, or NULL */
    size_t name_len;
    const char *raw_name; /* name as sent when it could not be normalized, else NULL */
    size_t raw_name_len;
    const char *url; /* "http://host/path" for HTTP requests, else NULL */
    size_t url_len;
    const char *alpn; /* first ALPN protocol (TLS/QUIC) or NULL */
    size_t alpn_len;
    bool ech;     /* ClientHello carried ECH/ESNI */
    unsigned req; /* request number in the flow, 1-based */
    bool alt;     /* decided on the alternative bytes of a conflicting overlap */
    bool cut;     /* a flow passed earlier, blocked because a newer rule set lists its server's
                     address (engine_config.cut_passed) */
    struct verdict_decision d;

    /* For enforcement (tap mode injects on these). pkt/frame: the packet whose arrival led to
     * the decision, or NULL when the flow was decided as it ended. */
    const struct pkt *pkt;
    bool pkt_from_client;
    int link; /* link type of frame */
    const uint8_t *frame;
    size_t frame_len;
    bool seq_known;        /* TCP: both next sequence numbers below are known */
    uint32_t cli_next_seq; /* the client's next sequence number (the server's rcv_nxt) */
    uint32_t srv_next_seq; /* the server's next sequence number (the client's rcv_nxt) */
    /* QUIC: what a server Initial to the client is built from (tap mode closes the attempt,
     * quic_close_initial()). quic_version 0: not a QUIC decision or no Initial was read. */
    uint32_t quic_version;
    const uint8_t *quic_odcid; /* the client's original Destination Connection ID */
    size_t quic_odcid_len;
    const uint8_t *quic_scid; /* the client's Source Connection ID */
    size_t quic_scid_len;
};

typedef void (*engine_event_fn)(void *ctx, const struct engine_event *ev);

/* Returns a new engine using rs (borrowed; may be NULL) and calling cb for every decision, or
 * NULL on allocation failure. */
struct engine *engine_new(const struct engine_config *cfg, const struct ruleset *rs,
                          engine_event_fn cb, void *ctx);
void engine_free(struct engine *e);

/* Replaces the rule set used for decisions from now on (rs borrowed). */
void engine_set_rules(struct engine *e, const struct ruleset *rs);

/* Judges the kept names of passed flows (engine_config.passed_names) again with the rule set in
 * use and the child tariffs as they are now: after a publication of the tariff table, and now
 * and then as time goes by (schedules). Those now blocked are cut at their next packet, as after
 * engine_set_rules(). Nothing without kept names. */
void engine_judge_kept(struct engine *e);

/* Tap mode, after capture drops: every TCP flow first seen without its SYN within the last
 * window_s seconds of capture time (and not blocked) is marked, and blocked by policy at its
 * next packet (method unseen, a reset both ways with that packet's sequence numbers; counted
 * pickups_blocked). Such a flow's SYN went by unseen, and its first request may have gone
 * with it: a flood that overflows the ring must not let the connections it hid through on
 * their address. Returns the flows marked (counted pickups_cut). */
size_t engine_cut_pickups(struct engine *e, uint32_t window_s);

/* Replaces the verdict policy used for decisions from now on (copied; notice_url borrowed, it
 * must outlive the engine or the next call). Same thread as engine_frame(). */
void engine_set_policy(struct engine *e, const struct verdict_policy *pol);

/* Feeds one captured frame of link type `link`. */
void engine_frame(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame, size_t caplen);

/* Feeds a frame the capture cut short: only its first caplen of wirelen bytes are there (a
 * frame larger than the capture's slot). Its headers are read as if the rest were present. A
 * client packet with payload of a flow not yet decided is judged now: on its address when that
 * blocks, else blocked by policy (method "truncated"): the bytes that could name a listed
 * resource are missing, and a missing name must not pass. Other cut frames (server side, no
 * payload, a settled flow, a flow whose ClientHello or QUIC Initial was decided, a TCP flow
 * first seen through this frame: picked up mid-stream - unless unseen_syn is not PICKUP: the
 * ports tell the client) change nothing; an HTTP connection's later request cut short blocks like a first one. Counted in engine_stats.cut / cut_undecoded. */
void engine_frame_cut(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame,
                      size_t caplen, size_t wirelen);

/* Feeds a frame like engine_frame(), but a few frames ahead of its handling: it is decoded and
 * its flow's index entry and record are prefetched now, and it is handled (decisions, events,
 * counters as engine_frame() would give) when later pushes move it to the front, at the latest
 * by engine_drain(), engine_frame() or engine_finish(). Its bytes must stay valid until then:
 * it is handled before ENGINE_PUSH_HELD more frames are pushed (capture_pcap_frame_kept()).
 * engine_frame_info() describes the last frame handled. */
#define ENGINE_PUSH_HELD 9
void engine_push(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame, size_t caplen);

/* Handles every frame pushed and not yet handled, in order. */
void engine_drain(struct engine *e);

/* What engine_frame() made of the frame it handled last; queue mode holds, releases or drops
 * the packet by it (tap and scan do not ask). */
struct engine_frame_info {
    const void *flow;   /* the packet's flow (a handle for engine_judge_now), NULL: none (not
                        * decoded, not TCP/UDP, a fragment still incomplete, no room) */
    uint64_t flow_id;   /* as in engine_event.flow_id; 0 with no flow */
    uint8_t l4proto;    /* IPPROTO_TCP / IPPROTO_UDP */
    bool from_client;   /* sent by the side that opened the flow */
    size_t payload_len; /* TCP/UDP payload bytes */
    uint32_t seq;       /* TCP: the packet's sequence number */
    bool decided;       /* the flow has had a decision (event) */
    bool blocked;       /* ... and was blocked */
    bool done;          /* the flow is settled: nothing it sends later is inspected */
    bool keepalive;     /* HTTP or h2c, its requests so far passed, the next ones are judged as
                        * they come: only the client's side matters from here on */
    bool not_mine;      /* TCP, undecided: what the client sent so far is neither TLS nor HTTP
                        * (another protocol, or a fake of junk in front of a real request):
                        * nothing is gained by holding it back, and a client that waits for its
                        * server's answer would wait for the hold bounds. Queue mode lets such
                        * bytes on at once and judges the rest as it passes (every other view
                        * of the stream: a real request behind a junk fake is still judged) */
    bool deferred;      /* not taken (engine_config.defer_no_buffer: no reassembly buffer
                        * free): the mode must drop it, the client sends it again */
    bool set_aside;     /* the receiver would drop this packet (bad checksum, no ACK, MD5, PAWS,
                        * outside the window, an impossible ACK, a RST off rcv_nxt, an IPv6
                        * extension chain Linux refuses): a decoy */
};
void engine_frame_info(const struct engine *e, struct engine_frame_info *fi);

/* Judges the flow of handle/flow_id (from engine_frame_info) now, on its address (its name was
 * not visible in what it sent so far: the caller's bounds on holding a first request ran out),
 * reports the decision like any other and settles the flow. Returns true when it decided, false
 * when the flow is gone or already decided. */
bool engine_judge_now(struct engine *e, const void *handle, uint64_t flow_id);

/* Blocks the flow of handle/flow_id now by policy, method m (a flow its address or the
 * subscriber's tariff blocks already keeps that block), reports the decision like any other -
 * with the resets of a block - and settles the
 * flow: its buffers go back and every later packet of it reports blocked. Queue mode calls it
 * for a watched first request that ran past queue.watch_packets / queue.watch_timeout without
 * a name (queue.watch_limit = block; METHOD_WATCH_LIMIT) and for one not complete within the
 * hold bounds under queue.incomplete = drop (METHOD_INCOMPLETE): the flow stays refused however
 * long its client then waits, not merely until the mode's own table forgets it, and the resets
 * close conntrack's entry, so a later connection on the same 4-tuple is judged on its own
 * instead of being dropped under the block mark. Returns false when the flow is gone or
 * already settled. */
bool engine_refuse(struct engine *e, const void *handle, uint64_t flow_id, enum verdict_method m);

/* Handles the frames still pushed (engine_drain()), then ends every flow still open (end of a
 * capture file). */
void engine_finish(struct engine *e);

/* Counters, summed. Names for the decode reasons come from decode_result_name(). */
struct engine_stats {
    uint64_t frames, bytes;
    uint64_t decode[DECODE_RESULT_COUNT];
    uint64_t flows, decisions, blocks;
    uint64_t frag_in, frag_done, frag_dropped;
    uint64_t flows_evicted, reasm_no_buffer, reasm_ignored, reasm_conflicts;
    uint64_t reasm_deferred;       /* client segments not taken for want of a reassembly buffer
                              * (defer_no_buffer): dropped by the mode, sent again */
    uint64_t reasm_client_limited; /* buffers refused: the client held its share
                                    * (reasm_per_client) */
    uint64_t reasm_judged_alone;   /* flows with no reassembly buffer judged on the request one
                                  * segment held whole (the others of reasm_no_buffer were
                                  * judged on their address) */
    uint64_t reasm_grown;          /* buffers whose bytes outgrew the 4 KiB small slot (tcpreasm.h
                           * bufs_grown): requests larger than most, not a give-up */
    uint64_t tls_malformed, tls_limit, http_malformed, http_limit, quic_malformed, quic_no_slot;
    uint64_t quic_not_initial;     /* client datagrams without a readable Initial (kept waiting) */
    uint64_t quic_budget_spent;    /* flows whose datagram/byte budget ended without a hello */
    uint64_t quic_new_attempts;    /* settled UDP flows restarted by a new attempt's Initial */
    uint64_t quic_conflicts;       /* Initials whose CRYPTO bytes differ from earlier ones */
    uint64_t quic_coalesced_limit; /* datagrams with more long-header packets than read */
    uint64_t quic_restarts;        /* Initials under a new DCID (Retry, new attempt): restarted */
    uint64_t name_invalid, ech, ipv6_bad_ext;
    uint64_t pickups_cut;          /* flows first seen without their SYN marked after capture drops
                               * (engine_cut_pickups()) */
    uint64_t pickups_blocked;      /* ...and blocked at their next packet */
    uint64_t passed_cut;           /* passed flows blocked after a newer rule set listed their
                                  * server's address (engine_config.cut_passed) */
    uint64_t views_full;           /* a version of a flow's bytes found no room: only the
                                  * last-copy view holds it */
    uint64_t alt_judged;           /* alternative views judged on their own (first copy incomplete,
                                  * not TLS/HTTP, or malformed) */
    uint64_t not_mine_watched;     /* flows whose first-copy view was neither TLS nor HTTP */
    uint64_t csum_set_aside;       /* TCP segments set aside for a bad checksum (T5) */
    uint64_t csum_accepted;        /* packets taken without a good checksum under the policy */
    uint64_t csum_sources_ignored; /* auto: sources whose checksums are no longer verified */
    uint64_t stream_not_mine;     /* a judged connection stopped speaking HTTP (Upgrade, CONNECT) */
    uint64_t http_body_malformed; /* chunked framing broken or over a cap: judging stops */
    uint64_t lenient_names;       /* requests the strict reading refused (counted *_malformed)
                                  * judged by the names their lenient scan found (S10) */
    uint64_t h2c_no_state;        /* h2c connection without decoder state: first stream only */
    uint64_t tls_cut, http_cut;   /* judged by a name read before the reassembly cap cut the
                                  * ClientHello / request head (a name past the cap: *_limit) */
    uint64_t scan_streams;        /* HTTP streams whose next request cannot be located (a head
                                  * past half the buffer, lenient, broken chunks): scanned */
    uint64_t scan_names;          /* names those scans found and judged */
    uint64_t cut;                 /* frames the capture cut short (engine_frame_cut) */
    uint64_t cut_blocked;         /* ... that blocked their flow by policy (no address match) */
    uint64_t cut_undecoded;       /* ... whose headers could not be read: ignored */
    uint64_t syn_unseen;          /* TCP flows first seen after their SYN (unseen_syn not
                                   * PICKUP): created by a segment that is not a SYN */
    uint64_t syn_unseen_blocked;  /* ... blocked by that policy (method syn-unseen) */
    uint64_t watch_limit_blocked; /* flows refused by engine_refuse() (method watch-limit or,
                                   * queue.incomplete = drop, incomplete) */
    uint64_t quic_no_slot_blocked;     /* QUIC flows with no slot and no whole hello in their
                                    * datagram: blocked (method no-room; quic_no_slot_blocks) */
    uint64_t client_limit_blocked;     /* flows whose client held its share of buffers and whose
                                    * request was not readable from one segment: blocked
                                    * (method client-limit; tap mode, reasm_per_client) */
    uint64_t reasm_evicted;            /* buffers taken from the flow holding one longest, the pool
                                    * empty (reasm_evict) */
    uint64_t evicted_blocked;          /* ... whose flow sent more it could not read: blocked
                                    * (method no-room) */
    uint64_t quic_incomplete_blocked;  /* QUIC flows whose budget was spent with a ClientHello
                                       * begun and not complete: blocked (method incomplete) */
    uint64_t unseen_blocked;           /* flows whose server answered client bytes never seen
                                       * (a request nobody judged): blocked (method unseen) */
    uint64_t passed_name_cut;          /* passed TLS flows with a kept name blocked at a later
                                        * packet: a newer rule set (or the tariffs,
                                        * engine_judge_kept()) blocks that name or the server's
                                        * address (engine_config.passed_names); those with no
                                        * name kept count in passed_cut */
    uint64_t passed_names_kept;        /* names kept now */
    uint64_t passed_names_full;        /* passed names not kept: the table was full */
    uint64_t passed_names_client_full; /* ... their client held its share */
    uint64_t limit_blocked;            /* ClientHellos over the reassembly cap with no name
                                        * visible (method incomplete; of tls_limit), h2c
                                        * connections whose later streams cannot be decoded
                                        * (incomplete, no-room): blocked */
    uint64_t conflict_no_room_blocked; /* flows sending other bytes for bytes held, with no
                                        * alternative view free: blocked (method no-room) */
    uint64_t decisions_reused;         /* a ClientHello's decision made on its name before it was
                                   * complete, taken again for the complete hello (same inputs) */
    uint64_t heads_reused;             /* a held HTTP request's reading taken again when it is gone
                                   * past (the same head bytes at the same place) */
};
void engine_get_stats(const struct engine *e, struct engine_stats *st);

#endif
