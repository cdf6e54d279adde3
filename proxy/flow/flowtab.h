/* flowtab.h - bidirectional TCP/UDP flow table over a pre-allocated flow pool.
 *
 * Keyed on (zone, IP version, protocol, address and port of both ends) in a canonical order, so
 * both directions find the same flow. The zone (struct pkt.zone: VLAN ids, tunnel ids) keeps equal
 * inner addresses behind different VLANs or tunnels apart. Bounded: when the pool is full the clock hand evicts a flow not
 * touched since its last pass (a callback sees it first). Idle flows expire by state: TCP
 * established, TCP closing (an acceptable FIN/RST seen: tcpreasm_closing()), UDP. Which end is the client follows EVASION T15:
 * the SYN when seen (SYN-ACK: the receiver), else the ports (80/443/8080/8443, else the lower
 * well-known port is the server), else the first sender of data. Two bare SYNs from the two
 * ends (simultaneous open) cancel the SYN rule: ports decide, else the first sender of data.
 * When the client changes, tcpreasm moves the sequence state to the right direction on the
 * flow's next segment.
 *
 * The flow table owns each TCP flow's reassembly state (struct tcpreasm_state, embedded in
 * struct flow): it gives the state's buffers back (tcpreasm_release) when it recycles a flow,
 * and reads it only through tcpreasm.h (tcpreasm_closing for the timeout, tcpreasm_starts_new
 * for port reuse). tcpreasm.h does not know struct flow: the pipeline feeds segments with
 * tcpreasm_segment(pool, &f->tcp, f->client, p, dir). */
#ifndef QG_FLOWTAB_H
#define QG_FLOWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/packet/decode.h"
#include "proxy/flow/tcpreasm.h"

/* Opaque to the flow table: owned by the pipeline. Zeroed when a flow is created. */
struct flow_app {
    uint8_t app;     /* enum verdict_app */
    uint8_t state;   /* ENGINE_ST_* (proxy/engine.c) */
    uint8_t verdict; /* last decision */
    uint8_t method;
    uint32_t id;   /* flow number, in order of creation */
    uint16_t nreq; /* requests decided */
    uint16_t slot; /* QUIC CRYPTO reassembly slot + 1; 0 = none */
};

/* flow.fl bits */
#define FLOW_F_REF 0x01 /* touched since the clock hand last passed */
#define FLOW_F_CUT \
    0x02                      /* set by the pipeline: a flow it passed that a newer rule set \
                               * blocks; its next packet once settled is answered as a block \
                               * (closing is tcpreasm_closing(&f->tcp)) */
#define FLOW_F_CSRC_MASK 0x0c /* how the client was decided (FLOW_CLIENT_BY_*) << 2 */
#define FLOW_F_INUSE     0x10
#define FLOW_F_SIMOPEN \
    0x20 /* both ends sent a bare SYN (simultaneous open, T15): SYNs no
                                 * longer decide the client; ports, then first data do */
#define FLOW_F_SETTLED \
    0x40 /* set by the pipeline: nothing more is inspected on this flow,
                                 * so a bare SYN with another ISN starts a new flow (port reuse);
                                 * UDP: cfg.udp_restarts is asked */
#define FLOW_F_SCAN \
    0x80 /* set by the pipeline: the next HTTP request cannot be located;
                                 * the rest of the stream is scanned for names line by line */

enum flow_client_by {
    FLOW_CLIENT_BY_GUESS = 0, /* first packet's sender, nothing better known yet */
    FLOW_CLIENT_BY_DATA = 1,  /* first sender of payload */
    FLOW_CLIENT_BY_PORT = 2,
    FLOW_CLIENT_BY_SYN = 3,
};

struct flow {
    uint8_t addr[2][16]; /* canonical order: side 0 < side 1 (address, then port) */
    uint16_t port[2];
    uint8_t proto; /* 6 or 17 */
    uint8_t ipver;
    uint8_t client; /* which side (0/1) is the client */
    uint8_t fl;     /* FLOW_F_* */
    uint32_t hnext; /* in use: hash tag; free: free list link, index + 1 */
    struct flow_app a;
    uint32_t pkts[2];  /* [0] client->server, [1] server->client */
    uint64_t bytes[2]; /* L4 payload bytes, same directions */
    uint32_t zone;     /* struct pkt.zone of the flow's packets: part of the key */
    uint32_t first_s;  /* capture time of the first packet, seconds */
    uint64_t last_us;
    struct tcpreasm_state tcp; /* owned: see the top of the file */
};

_Static_assert(sizeof(struct flow) <= 128, "struct flow must fit in 128 bytes");

/* Why a flow is handed to a callback before it is recycled. */
enum flowtab_why {
    FLOWTAB_EXPIRED = 0, /* idle past its timeout (flowtab_expire) */
    FLOWTAB_EVICTED,     /* pool full: recycled by the clock hand (flowtab_get) */
    FLOWTAB_REUSED,      /* a new connection on the same 5-tuple (flowtab_get): a bare SYN
                            * with a new ISN on a settled flow or on one both ends closed, or
                            * a SYN-ACK acknowledging a new ISN after the client's RST/FIN;
                            * UDP: what cfg.udp_restarts says */
    FLOWTAB_FLUSHED,     /* flowtab_flush (end of capture) */
    FLOWTAB_VISIT,       /* flowtab_foreach: nothing is recycled */
};

/* The callback may read and update f; it must not call back into the table. */
typedef void (*flowtab_cb)(struct flow *f, enum flowtab_why why, void *ctx);

struct tcpreasm_pool;

struct flowtab_cfg {
    uint32_t max_flows;      /* default 1 << 20 */
    uint64_t tcp_est_us;     /* idle timeout of a TCP flow; default 300 s */
    uint64_t tcp_closing_us; /* after FIN/RST; default 15 s (the RST tombstone of T16) */
    uint64_t udp_us;         /* default 60 s */
    flowtab_cb on_evict;     /* called for EVICTED and REUSED flows; may be NULL */
    void *evict_ctx;
    /* UDP: does datagram p (from the flow's client when from_client) start a new connection on
     * settled flow f's 5-tuple? (The pipeline's answer: a QUIC Initial of a new attempt.) Asked
     * only for flows with FLOW_F_SETTLED; yes recycles f as REUSED. NULL: never. ctx:
     * evict_ctx. */
    bool (*udp_restarts)(const struct flow *f, const struct pkt *p, bool from_client, void *ctx);
    /* Is f in the middle of something the pipeline cannot pick up again from a later packet (a
     * QUIC ClientHello half reassembled)? The clock hand passes over such flows as over those
     * holding a reassembly buffer (take_slot()). NULL: only the buffer holders. ctx:
     * evict_ctx. */
    bool (*busy)(const struct flow *f, void *ctx);
    struct tcpreasm_pool *reasm; /* if set, a recycled flow's buffers go back here after the
                                   * callback; not owned */
};

struct flowtab_stats {
    uint64_t lookups;
    uint64_t created;
    uint64_t evicted_full;
    uint64_t holders_spared;  /* flows holding a reassembly buffer the clock hand passed over */
    uint64_t holders_evicted; /* ... evicted all the same: every other flow held one too */
    uint64_t expired;
    uint64_t reused;
    uint64_t flushed;
    uint64_t not_tcp_udp; /* flowtab_get() refused a packet that is not TCP/UDP */
    uint32_t active;
};

struct flowtab;

/* Fills cfg with the defaults. */
void flowtab_cfg_default(struct flowtab_cfg *cfg);

/* Allocates the table and the whole flow pool (max_flows * 128 bytes + buckets, zeroed memory
 * that is touched only as slots are first used). cfg NULL = defaults. Returns NULL on bad config (max_flows 0 or > 1<<26) or out of memory. */
struct flowtab *flowtab_new(const struct flowtab_cfg *cfg);

/* Frees the table; NULL is a no-op. No callbacks are made (flush first if they are needed). */
void flowtab_free(struct flowtab *ft);

/* Finds or creates the flow of p (a decoded TCP or UDP packet, not a fragment). Updates times,
 * counters and the client decision. *is_new tells whether it was created; *dir is 0 for
 * client->server, 1 for server->client. Returns NULL only if p is not TCP/UDP. The flow stays
 * valid until the next flowtab_get/expire/flush on ft. */
struct flow *flowtab_get(struct flowtab *ft, const struct pkt *p, uint64_t now_us, bool *is_new,
                         int *dir);

/* A packet's flow key hashed ahead of its lookup (flowtab_hint), so a reader that decodes a
 * few packets ahead can prefetch their index entries and flow records and hash each key once. */
struct flowtab_hint {
    uint32_t tag;  /* the key's hash */
    uint8_t side;  /* canonical side of the packet's sender */
    uint8_t valid; /* 0: not a TCP/UDP packet (flowtab_get would refuse it) */
    uint32_t cand; /* flowtab_prefetch_flow(): the flow its tag led to, index + 1; 0 = none.
                    * flowtab_get_hinted() tries it first, checked as any other */
};

/* Fills h for p (a decoded packet); returns h->valid. Pure: reads nothing of the table but its
 * seed and mask, so h stays right while the table changes. A valid h's index entry is
 * prefetched at once (flowtab_prefetch_index()). */
bool flowtab_hint(const struct flowtab *ft, const struct pkt *p, struct flowtab_hint *h);

/* Prefetches the index entry of h (a hint only: no effect on results). */
void flowtab_prefetch_index(const struct flowtab *ft, const struct flowtab_hint *h);

/* Reads the index entry of h (prefetched before, ideally) and prefetches the flow record its
 * tag leads to, both cache lines, noting it in h->cand (a hint only: no effect on results). */
void flowtab_prefetch_flow(const struct flowtab *ft, struct flowtab_hint *h);

/* flowtab_get() with the key hash of h, which flowtab_hint() made from the same p on ft. */
struct flow *flowtab_get_hinted(struct flowtab *ft, const struct pkt *p,
                                const struct flowtab_hint *h, uint64_t now_us, bool *is_new,
                                int *dir);

/* Incremental expiry: looks at the next slice of the pool (a clock hand over the slots used so
 * far, never past their high-water mark) and, for each flow there idle past its timeout at
 * now_us, calls cb then recycles it. The slice is max(1024, max_flows / 64) slots, or more when
 * needed for a whole pass to take no longer than the shortest timeout of capture time (judged
 * from the time since the previous call). So a flow expires between its timeout and about
 * twice the shortest timeout after it; call about once a second. Returns the number expired. */
size_t flowtab_expire(struct flowtab *ft, uint64_t now_us, flowtab_cb cb, void *ctx);

/* Calls cb (why FLOWTAB_VISIT) for every live flow without recycling anything. */
void flowtab_foreach(struct flowtab *ft, flowtab_cb cb, void *ctx);

/* Calls cb (why FLOWTAB_FLUSHED) for every live flow, then empties the table. Like foreach it
 * scans only up to the high-water mark of slots ever used. */
void flowtab_flush(struct flowtab *ft, flowtab_cb cb, void *ctx);

/* The client's or server's address/port of f. */
const uint8_t *flowtab_client_addr(const struct flow *f);
const uint8_t *flowtab_server_addr(const struct flow *f);
uint16_t flowtab_client_port(const struct flow *f);
uint16_t flowtab_server_port(const struct flow *f);

/* How f's client was decided. */
enum flow_client_by flowtab_client_by(const struct flow *f);

/* Copies the counters. */
void flowtab_get_stats(const struct flowtab *ft, struct flowtab_stats *out);

#endif
