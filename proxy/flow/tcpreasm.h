/* tcpreasm.h - client->server reassembly of the first bytes of a TCP flow, as a Linux server
 * would see them (EVASION.md T1-T18; policy in docs/reassembly.md).
 *
 * Ownership is one-way: the per-connection state (struct tcpreasm_state) is small and embedded
 * in its owner's record - the flow table's struct flow, which gives it back with
 * tcpreasm_release() when it recycles the flow and reads it only through tcpreasm_closing()
 * and tcpreasm_starts_new(). tcpreasm knows nothing of flows: every call takes the state, and
 * what the owner must act on comes back as results. Data bytes live in buffers of a pool
 * allocated once by tcpreasm_pool_new(), held by a connection only while it has bytes pending.
 * Two views of the stream are kept:
 *   - the Linux view (tcpreasm_data): for overlapping bytes, the first copy received wins;
 *   - the alternative view (tcpreasm_alt): exists only after an overlap carried different bytes;
 *     there the last copy received wins. The pipeline checks both and blocks if either matches
 *     (a fake low-TTL segment seen first on a mirror port, T4/S2);
 *   - up to 3 other versions (tcpreasm_view): fake-real-fake orderings leave a fake in both
 *     views above; every distinct version of the bytes is kept and judged.
 * State that decides which bytes are real (the sequence anchor, the PAWS bound, the window) moves
 * only on what the server confirms: its SYN-ACK's acknowledgement, its echoed TSecr, its ACKs.
 * Server->client segments only update sequence, acknowledgement, window and timestamp state. */
#ifndef QG_TCPREASM_H
#define QG_TCPREASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/packet/decode.h"

/* Embedded in the owner's per-connection record; zero-initialised means "nothing seen".
 * Sequence numbers are absolute. */
struct tcpreasm_state {
    uint32_t nxt;        /* client: next expected sequence number (the server's rcv_nxt) */
    uint32_t win_end;    /* right edge of the server's advertised window (never shrinks) */
    uint32_t ts_recent;  /* PAWS bound: the largest TSecr the server echoed (T19) */
    uint32_t srv_nxt;    /* server: next sequence number after what it sent */
    uint32_t cli_maxwin; /* largest window the client advertised (scaled) */
    uint32_t buf;        /* pool buffer index + 1; 0 = none */
    uint32_t isn;        /* client ISN (from the SYN, or ack-1 of the SYN-ACK) */
    uint16_t fl;         /* TCPREASM_S_* */
    uint8_t wscale;      /* low nibble: client's shift, high nibble: server's */
    uint8_t fl2;         /* TCPREASM_S2_* */
};

/* state flags (tcpreasm_state.fl) */
#define TCPREASM_S_SEQ     0x0001 /* nxt is known */
#define TCPREASM_S_SYN     0x0002 /* client SYN seen */
#define TCPREASM_S_SYNACK  0x0004 /* server SYN-ACK seen */
#define TCPREASM_S_CLI_TS  0x0008 /* client SYN had timestamps */
#define TCPREASM_S_TS_OK   0x0010 /* timestamps negotiated (both SYNs) */
#define TCPREASM_S_CLI_WS  0x0020 /* client SYN had window scale */
#define TCPREASM_S_WS_OK   0x0040 /* window scaling negotiated */
#define TCPREASM_S_MD5     0x0080 /* both SYNs carried TCP-MD5: the peers use it */
#define TCPREASM_S_SRV_SEQ 0x0100 /* srv_nxt is known */
#define TCPREASM_S_WIN     0x0200 /* win_end is known */
#define TCPREASM_S_TSR     0x0400 /* ts_recent is valid */
#define TCPREASM_S_RST     0x0800 /* an acceptable RST was seen (either side) */
#define TCPREASM_S_CLI_FIN 0x1000
#define TCPREASM_S_SRV_FIN 0x2000
#define TCPREASM_S_GAVEUP  0x4000 /* no buffer could be had (pool empty): fail-open */
#define TCPREASM_S_DONE    0x8000 /* released by the pipeline: track sequence only */
/* state flags (tcpreasm_state.fl2) */
#define TCPREASM_S2_SRV_RST 0x01 /* the acceptable RST came from the server */
#define TCPREASM_S2_SIDE1 \
    0x02 /* the client-direction state is that of flow side 1: when
                                     * the flow table changes its mind about the client (T15),
                                     * the next segment swaps the two directions' state */
#define TCPREASM_S2_UNCONF \
    0x08 /* picked up mid-stream: nxt was taken from a client
                                     * segment and the server's ACKs have not confirmed it */
#define TCPREASM_S2_SRV_AMBIG \
    0x10                          /* two SYN-ACKs with different ISNs: the client's acks are
                                     * not checked until the server's next segment */
#define TCPREASM_S2_TFO_HELD 0x20 /* Fast Open SYN data held until the SYN-ACK decides */
#define TCPREASM_S2_CLI_MD5 \
    0x04 /* a client SYN carried TCP-MD5 (counts once the SYN-ACK
                                     * carries it too) */
#define TCPREASM_S2_CLOSING \
    0x40 /* an acceptable FIN or RST was seen and no client data after
                                     * it lifted the tombstone (T21): tcpreasm_closing() */
#define TCPREASM_S2_SRV_GUESS \
    0x80 /* no server segment seen (tcpreasm_pool_synack_unseen()):
                                     * srv_nxt is the largest acknowledgement of the client's
                                     * segments taken, the client's rcv_nxt */

/* Why a segment was ignored (the reason is in bits 16-23 of the result, see TCPREASM_WHY). */
enum tcpreasm_why {
    TCPREASM_OK = 0,
    TCPREASM_BAD_CSUM,    /* T5 */
    TCPREASM_NO_ACK,      /* T8: data without ACK */
    TCPREASM_SYN_DATA,    /* T8/T14: data on a SYN without a Fast Open cookie */
    TCPREASM_BAD_SYN,     /* a SYN on a flow that already has another ISN */
    TCPREASM_MD5,         /* T7 */
    TCPREASM_PAWS,        /* T9 */
    TCPREASM_WINDOW,      /* T6: starts past the server's advertised window */
    TCPREASM_BAD_ACK,     /* acks data the server never sent, or is too old (tcp_ack()) */
    TCPREASM_OLD,         /* wholly before nxt: a duplicate (T18), compared for conflicts */
    TCPREASM_RST_BAD_SEQ, /* T16: RST not exactly at rcv_nxt */
    TCPREASM_NO_SEQ,      /* server segment or RST before any sequence state */
    TCPREASM_TFO_WAIT,    /* client data while Fast Open SYN data waits for the SYN-ACK */
    TCPREASM_NO_BUFFER,   /* new client data, the pool empty, tcpreasm_pool_defer_empty() on:
                           * not taken (the sender must send it again) */
    TCPREASM_WHY_COUNT
};

/* tcpreasm_segment() result bits */
#define TCPREASM_NEW_DATA 0x01 /* the in-order stream grew */
#define TCPREASM_CONFLICT \
    0x02                      /* an overlap carried different bytes (alt view exists or
                                  * could not be had: see stats.alt_pool_empty) */
#define TCPREASM_IGNORED 0x04 /* segment not taken; TCPREASM_WHY(res) says why */
#define TCPREASM_FULL    0x08 /* bytes past the buffer's capacity were dropped */
#define TCPREASM_RESET \
    0x10                     /* an acceptable RST (informational: in tap mode the client can
                                  * fake one the server never gets, so keep inspecting) */
#define TCPREASM_FIN    0x20 /* an acceptable FIN (informational, same reason) */
#define TCPREASM_GAVEUP 0x40 /* no buffer (pool empty): this flow is not reassembled */
#define TCPREASM_OWNER_LIMITED \
    0x200 /* with GAVEUP: the pool had buffers, but this flow's client
                                   * held its share (tcpreasm_pool_owner_limit()) */
#define TCPREASM_VIEWS_FULL \
    0x100 /* a version of the bytes could not be kept (no room for
                                   * another): it is only in the last-copy view */
#define TCPREASM_REANCHORED \
    0x80 /* a mid-stream anchor moved: the stream now starts elsewhere
                                  * and what was judged from the old start no longer holds */
#define TCPREASM_NO_ALT \
    0x400 /* with CONFLICT: no alternative buffer was free, so the other copy of the bytes is
                                   * not kept anywhere (only the first copy is readable) */
#define TCPREASM_WHY(res) ((enum tcpreasm_why)(((res) >> 16) & 0xff))

struct tcpreasm_stats {
    uint64_t segments;
    uint64_t ignored[TCPREASM_WHY_COUNT];
    uint64_t new_data;  /* segments that grew the in-order stream */
    uint64_t ooo;       /* segments queued out of order (T3) */
    uint64_t dup_bytes; /* overlapping bytes that were identical (T18) */
    uint64_t conflicts; /* segments whose overlapping bytes differed (T4, T10) */
    uint64_t rst_honoured;
    uint64_t data_after_close; /* client data after an acceptable RST or FIN: still inspected */
    uint64_t tombstone_lifted; /* ...and the flow went back to the established timeout (T21) */
    uint64_t syn_reanchored;   /* SYN-ACK acknowledged another client ISN than the first SYN's */
    uint64_t midstream_reanchored; /* an unconfirmed mid-stream anchor moved */
    uint64_t synack_ambiguous;     /* flows that saw a second SYN-ACK with another ISN */
    uint64_t tfo_held;        /* flows whose SYN carried Fast Open data (held for the SYN-ACK) */
    uint64_t tfo_accepted;    /* ...acknowledged by the SYN-ACK: the stream's first bytes */
    uint64_t tfo_refused;     /* ...not acknowledged: dropped, never judged */
    uint64_t versions;        /* other versions of the bytes kept (fake-real-fake) */
    uint64_t views_full;      /* versions that found no room (TCPREASM_VIEWS_FULL) */
    uint64_t urgent_stripped; /* T11 */
    uint64_t urgent_limit;    /* urgent bytes not stripped: per-buffer list full */
    uint64_t cap_drops;       /* segments cut at the buffer capacity */
    uint64_t bufs_grown;      /* buffers whose bytes outgrew the small slot (tcpreasm.c) */
    uint64_t pool_empty;      /* flows that got no buffer (gave up reassembly) */
    uint64_t pool_deferred;   /* segments not taken for want of a buffer (defer_empty) */
    uint64_t owner_limited;   /* buffers refused: the client held its share (owner_limit) */
    uint64_t evicted;         /* buffers taken from their holder for another flow, the pool
                               * empty (tcpreasm_pool_evict_oldest()) */
    uint64_t alt_pool_empty;  /* conflicts without an alternative buffer (only the Linux view) */
    uint64_t bufs_recycled;   /* buffers given back because nothing was pending (keep-alive) */
    uint32_t bufs_in_use;
    uint32_t alts_in_use;
};

struct tcpreasm_pool;

/* Allocates nbufs stream buffers of bufsize bytes (Linux view + presence bitmap) and nalt
 * alternative-view buffers of the same size. bufsize >= 64; nbufs >= 1. Returns NULL on bad
 * arguments or out of memory. Nothing is allocated afterwards. */
struct tcpreasm_pool *tcpreasm_pool_new(uint32_t nbufs, uint32_t nalt, uint32_t bufsize);

/* Queue mode (the rules pass the server's SYN-ACK and every bare ACK in the kernel): the
 * client's SYN is seen, the SYN-ACK never. Then: timestamps count as negotiated when the
 * client's SYN offers them, its TSval being the first PAWS bound (what the SYN-ACK would
 * echo); SYN data is never taken, whatever the cookie (TCPREASM_SYN_DATA: nothing would show
 * whether the server took it); until the server sends a segment, srv_nxt follows the client's
 * acknowledgements (TCPREASM_S2_SRV_GUESS: where a forged reset to the client must start). The
 * window and acknowledgement checks are left to conntrack (deploy/iptables-queue.rules). */
void tcpreasm_pool_synack_unseen(struct tcpreasm_pool *pool, bool on);

/* Where the owner can hold a segment back from its receiver (queue mode drops it, and the
 * sender sends it again): new client data that finds the pool empty is not taken
 * (TCPREASM_IGNORED, TCPREASM_NO_BUFFER) and leaves no state behind, instead of the flow
 * giving up reassembly (TCPREASM_GAVEUP): a stream is never read in pieces because buffers ran
 * out. Counted in stats.pool_deferred. */
void tcpreasm_pool_defer_empty(struct tcpreasm_pool *pool, bool on);

/* Bounds the buffers one client may hold at once to limit (0: no bound, counting still on): a
 * flood of connections from one client that never finish their first request then exhausts
 * its own share, not the pool. A client is an IPv4 address or an IPv6 prefix of prefix6 bits
 * (owners_client_key(); 0: a /64), fixed by the first call. Past it, get a buffer fails for
 * that client as if the pool were empty (with tcpreasm_pool_defer_empty(), the segment is
 * deferred; counted in stats.owner_limited). The caller names each segment's client with
 * tcpreasm_pool_owner() before tcpreasm_segment(). Allocates the table once (-ENOMEM);
 * -EINVAL for prefix6 over 128. */
int tcpreasm_pool_owner_limit(struct tcpreasm_pool *pool, uint32_t limit, unsigned prefix6);

/* Told that t's buffer was taken for another flow (tcpreasm_pool_evict_oldest()): t's buffers
 * are back in the pool and t has given up (TCPREASM_S_GAVEUP: it tracks sequence only). Called
 * from inside tcpreasm_segment() on another flow's segment: it must not call back into the
 * pool for t's flow nor for the flow being handled. */
typedef void (*tcpreasm_evict_fn)(void *ctx, struct tcpreasm_state *t);

/* Where nothing can be held back (tap mode), an empty pool would leave every later request cut
 * across segments unreadable, which a flood of half-sent requests from many clients could
 * bring about at will. With this on, a flow that needs a buffer when none is free takes the one
 * taken longest ago, and fn is told whose it was: a request still incomplete after every other
 * buffer was taken since is a flood's, or will be judged by the owner's policy. Only the
 * client's share (tcpreasm_pool_owner_limit()) still refuses a buffer. Tracks each buffer's
 * holder and age (24 bytes a buffer, allocated once). Call before any buffer is taken:
 * -EBUSY after; -ENOMEM; -EINVAL without fn. The states holding buffers must stay where they
 * are (the flow table's records do) and give them back with tcpreasm_release(). */
int tcpreasm_pool_evict_oldest(struct tcpreasm_pool *pool, tcpreasm_evict_fn fn, void *ctx);

/* The client address (ipver 4 or 6; 4 or 16 bytes) of the segments passed next; addr must
 * stay valid until the next call (NULL: none, nothing counted). */
void tcpreasm_pool_owner(struct tcpreasm_pool *pool, int ipver, const uint8_t *addr);

/* Frees the pool; NULL is a no-op. Flows that still hold buffers must not be used after. */
void tcpreasm_pool_free(struct tcpreasm_pool *pool);

/* Feeds one decoded TCP segment p of the connection whose state is t; dir 0 = client->server,
 * 1 = server->client; client_side: which canonical side (0/1) is the client now (the flow
 * table's decision: when it changes, the two directions' state is swapped first). Client data
 * is buffered; the server direction updates state only. Returns TCPREASM_* bits (and
 * TCPREASM_WHY() when IGNORED). An acceptable RST or FIN makes tcpreasm_closing() true, client
 * data after the client's own makes it false again (T21). p->payload need only live during
 * the call. */
unsigned tcpreasm_segment(struct tcpreasm_pool *pool, struct tcpreasm_state *t,
                          unsigned client_side, const struct pkt *p, int dir);

/* True when no server segment can release or move client bytes: the sides are as client_side
 * says, the client's sequence is known and confirmed (no mid-stream anchor waiting for the
 * server's acknowledgement), no second SYN-ACK is pending and no Fast Open data is held. Then
 * a server segment only updates the server's sequence, window and timestamps. */
bool tcpreasm_server_inert(const struct tcpreasm_state *t, unsigned client_side);

/* True when ack (a server segment's acknowledgement) covers client bytes never taken in order:
 * the server has bytes the owner did not see (a capture drop, a datagram whose fragments could
 * not be put together). Only for a stream whose start is known and confirmed (not picked up
 * mid-stream, no Fast Open data or second SYN-ACK pending) and still reassembled. */
bool tcpreasm_acks_unseen(const struct tcpreasm_state *t, uint32_t ack);

/* True when t holds client bytes past a hole - bytes after some that never came - in a stream
 * whose start is known and confirmed (as for tcpreasm_acks_unseen()). */
bool tcpreasm_holds_past_hole(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t);

/* True once the client's SYN was taken (the stream's start is known): false for a connection
 * first seen at its data. */
bool tcpreasm_syn_seen(const struct tcpreasm_state *t);

/* True once an acceptable FIN or RST closes the connection: its owner applies its closing idle
 * timeout (the 15 s RST tombstone of T16). */
bool tcpreasm_closing(const struct tcpreasm_state *t);

/* Port reuse (busy NAT pools): is the SYN or SYN-ACK p (from the client when from_client) the
 * start of a new connection on the same 5-tuple? settled: the owner inspects nothing more of
 * the old one. A bare SYN with another ISN is, when settled, or once the connection is closing
 * and the server closed too (its FIN or RST) or was never seen. A client-made fake RST/FIN
 * plus a fake SYN must not reset a connection still being inspected: there a SYN-ACK from the
 * server acknowledging another ISN after the client's RST/FIN is the proof (a server with the
 * old connection still open answers a SYN with a challenge ACK, RFC 5961 4.2, not a
 * SYN-ACK). */
bool tcpreasm_starts_new(const struct tcpreasm_state *t, const struct pkt *p, bool from_client,
                         bool settled);

/* The contiguous in-order client bytes not yet consumed, Linux view (urgent byte stripped).
 * *len set; returns NULL (and *len 0) when nothing is buffered. Valid until the next call on t. */
const uint8_t *tcpreasm_data(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t,
                             size_t *len);

/* Same bytes where overlapping copies disagreed, last copy winning; NULL if no conflict was seen
 * (or no alternative buffer could be had). Same length as tcpreasm_data(). */
const uint8_t *tcpreasm_alt(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t,
                            size_t *len);

/* Every view of the stream (zapret fake-real-fake orderings leave a fake in both the first-copy
 * and the last-copy view; each distinct version of a byte range is kept, up to 3 besides those
 * two): 0 when nothing is in order, 1 = only the Linux view, else 2 + the other versions.
 * View 0 is tcpreasm_data(), 1 is tcpreasm_alt(), 2.. the other versions; all have the same
 * length. *changed says whether view i changed since tcpreasm_view_seen(pool, t, i) (for
 * views 1.., any byte of it; view 0 only ever grows). Valid until the next call on t. */
unsigned tcpreasm_nviews(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t);
const uint8_t *tcpreasm_view(const struct tcpreasm_pool *pool, const struct tcpreasm_state *t,
                             unsigned i, size_t *len, bool *changed);
void tcpreasm_view_seen(struct tcpreasm_pool *pool, struct tcpreasm_state *t, unsigned i);
/* The pipeline is done with the first n stream bytes (keep-alive: the next request starts
 * there). n may exceed what is buffered: later in-order bytes are skipped until n is reached.
 * When nothing is left pending (no in-order or out-of-order bytes, no alternative view, nothing
 * to skip) the buffer goes back to the pool; the next client data takes one again (from nxt),
 * so a flow holds a buffer only while it has bytes pending. If none is free then, the flow
 * gives up as on its first data (TCPREASM_GAVEUP). */
void tcpreasm_consume(struct tcpreasm_pool *pool, struct tcpreasm_state *t, size_t n);

/* Gives t's buffers back to the pool. Sequence tracking continues; no more data is buffered for
 * t. Safe to call on a connection without buffers. */
void tcpreasm_release(struct tcpreasm_pool *pool, struct tcpreasm_state *t);

/* Buffer capacity in bytes (the most tcpreasm_data() can ever return). */
size_t tcpreasm_bufsize(const struct tcpreasm_pool *pool);

/* Copies the counters. */
void tcpreasm_get_stats(const struct tcpreasm_pool *pool, struct tcpreasm_stats *out);

/* "ok", "bad-csum", ... */
const char *tcpreasm_why_name(enum tcpreasm_why why);

#endif
