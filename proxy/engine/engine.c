/* engine.c - the shared packet path: frame -> decode -> defrag -> flow -> reassembly ->
 * dissect -> verdict -> event. Read it top to bottom: engine_frame() is the entry, each stage
 * below it is one function. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"
#include "common/compiler.h"
#include "proxy/packet/csumpol.h"
#include "proxy/packet/decode.h"
#include "proxy/packet/defrag.h"
#include "proxy/engine/engine.h"
#include "proxy/engine/namekeep.h"
#include "proxy/flow/flowtab.h"
#include "proxy/dissect/h2c.h"
#include "proxy/dissect/http.h"
#include "proxy/judge/inspect.h"
#include "rules/match/normalize.h"
#include "proxy/dissect/quic.h"
#include "proxy/flow/tcpreasm.h"

/* flow_app.state bits */
#define ENGINE_ST_DONE    0x01 /* nothing more to inspect on this flow */
#define ENGINE_ST_EVENT   0x02 /* at least one decision was reported */
#define ENGINE_ST_BLOCKED 0x04
#define ENGINE_ST_HELLO   0x08 /* TLS: the ClientHello was decided; watching for conflicts */
#define ENGINE_ST_PAYLOAD 0x10 /* the client sent payload */
#define ENGINE_ST_WATCH \
    0x80 /* HTTP (app known): the request at the buffer's start was
                                  * judged; its bytes are kept until the server answers or the
                                  * client goes on, so a conflicting copy of them is judged too
                                  * (T4 for HTTP): st_held(). TCP with the app still unknown: the
                                  * first-copy view is neither TLS nor HTTP; the other views are
                                  * watched until the server answers or the buffer fills:
                                  * st_notmine(). (Bits 0x20-0x40 hold the chunked-body phase.) */
#define ENGINE_ST_HELD ENGINE_ST_WATCH

/* inspect_tcp() `res` bit beside the TCPREASM_* ones: the server sent payload */
#define ENGINE_RES_SERVER 0x10000u

#define ENGINE_EXPIRE_EVERY_US 1000000u

static bool st_notmine(const struct flow *f)
{
    return (f->a.state & ENGINE_ST_WATCH) && f->a.app == APP_UNKNOWN;
}

static bool st_held(const struct flow *f)
{
    return (f->a.state & ENGINE_ST_WATCH) && f->a.app != APP_UNKNOWN;
}

/* engine_push(): frames decoded this far ahead of the one handled; the flow record is
 * prefetched half as far ahead (its index entry must have arrived to be read). */
#define ENGINE_AHEAD   8
#define ENGINE_CUT_MAX (65535 + 256) /* an IP datagram and link/tunnel headers in front */
#define ENGINE_RING    16            /* > ENGINE_AHEAD, a power of two */
_Static_assert(ENGINE_AHEAD + 1 <= ENGINE_PUSH_HELD,
               "engine.h promises less than engine_push holds");
#define PASS_MEMO_SLOTS 256  /* struct pass_memo: kept decisions, by flow id (a power of two) */
#define PASS_MEMO_RAW   256  /* ... of names up to this many bytes as sent */
#define HELD_MEMO_SLOTS 256  /* struct held_memo: held requests' readings, by flow id */
#define HELD_MEMO_HEAD  1024 /* ... of heads up to this many bytes */

/* A frame pushed and decoded, waiting for its turn */
struct engine_ahead {
    struct pkt p;
    enum decode_result r;
    struct flowtab_hint h;
    uint32_t cs; /* csumpol_prefetch(): where p's source lives in the checksum policy */
    int link;
    uint64_t ts_us;
    const uint8_t *frame;
    size_t caplen;
};

struct engine {
    struct engine_config cfg;
    const struct ruleset *rs;
    struct csumpol *cp; /* checksum policy (cfg.checksums) */
    engine_event_fn cb;
    void *ctx;

    struct flowtab *ft;
    struct tcpreasm_pool *reasm;
    struct defrag *defrag;
    struct quic_ctx *qctx;
    struct h2c_pool *h2; /* h2c decoder states (every stream of a connection) */

    struct quic_slot *qslots; /* QUIC handshake state, one slot per flow in its handshake */
    struct quic_slot *qspare; /* quic_judge_alone(): an Initial read on its own (tap mode) */
    struct namekeep *names;   /* passed TLS flows' names (engine_config.passed_names); a TCP
                               * flow's entry number is in its a.slot */
    uint16_t *qfree;          /* free slot stack */
    uint32_t nqslots, qfree_n;

    uint8_t *cut; /* engine_frame_cut(): a cut frame, the missing bytes zeroed (ENGINE_CUT_MAX) */
    uint8_t *scratch; /* multi-record ClientHello bodies */
    size_t scratch_cap;
    uint8_t quic_plain[QUIC_PLAIN_MAX];
    struct quic_crypto quic_tmp;    /* one reading judged on the spot: c + the current Initial */
    const struct quic_slot *cur_qs; /* the QUIC slot of the decision being reported */
    struct inspect_result res;      /* the decision being reported */
    uint32_t gen;                   /* bumped when the rule set or the policy changes (pass_memo) */
    struct pass_memo *memo;         /* PASS_MEMO_SLOTS, by flow id */
    struct held_memo *held;         /* HELD_MEMO_SLOTS, by flow id */

    uint32_t next_flow_id;
    uint64_t last_expire_us;
    uint64_t now_us;
    const struct pkt *cur_pkt; /* the packet being handled, NULL outside engine_frame() */
    unsigned cur_res;          /* tcpreasm_segment()'s result for it (TCP) */
    int cur_dir, cur_link;
    bool cur_cut; /* the decision being reported is a cut (engine_config.cut_passed) */
    const uint8_t *cur_frame;
    size_t cur_frame_len;
    struct flow *last_flow; /* engine_frame_info(): the last frame's flow, NULL if none */
    int last_dir;
    bool last_set_aside;
    bool last_deferred;
    size_t last_payload_len;
    uint32_t last_seq;
    struct engine_stats st;
    struct engine_ahead ring[ENGINE_RING]; /* engine_push(): frames [ahead_out, ahead_in) */
    uint32_t ahead_in, ahead_out;
};

/* A QUIC flow in its handshake: the Initial keys of its first DCID (the client keeps them after
 * it switches DCID), the connection IDs a server Initial to the client needs, and two readings
 * of the CRYPTO stream: first bytes win (c), and from the first conflict on, last bytes win
 * (alt). */
struct quic_slot {
    struct quic_keys keys;
    bool have_keys;
    bool judged; /* c's ClientHello was complete and judged (it passed) */
    bool alt_on; /* alt holds the last-wins reading */
    uint8_t odcid_len, scid_len;
    uint8_t odcid[QUIC_CID_MAX], scid[QUIC_CID_MAX];
    struct quic_crypto c;
    struct quic_crypto alt;
};

#define ENGINE_QUIC_MAX_COALESCED 8 /* long-header packets read in one datagram */

void engine_config_default(struct engine_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_flows = 1u << 20;
    c->reasm_bytes = 32 * 1024;
    c->reasm_buffers = 8192;
    c->defrag_slots = 1024;
    c->quic_slots = 1024;
    c->quic_max_datagrams = 16;
    c->quic_max_bytes = 32 * 1024;
    c->h2c_conns = 256;
    c->tcp_idle_s = 300;
    c->udp_idle_s = 60;
    c->policy.https_url = VERDICT_HTTPS_URL_BLOCK_NAME;
}

/* ---- events ------------------------------------------------------------------------------- */

/* engine_config.passed_names: a TLS flow's name is kept when it passes (a.slot: its entry), so
 * a later rule set can judge it again; a block, or a pass without a name, lets it go. */
static void keep_name(struct engine *e, struct flow *f, const struct engine_event *ev)
{
    if (ev->d.verdict == VERDICT_PASS && ev->app == APP_TLS && ev->name && !ev->cut) {
        uint32_t at = namekeep_put(e->names, f->a.slot, f, f->a.id, ev->name, ev->name_len, ev->ech,
                                   f->ipver, flowtab_client_addr(f));
        if (at || !f->a.slot) {
            f->a.slot = (uint16_t)at;
            return;
        }
    }
    namekeep_drop(e->names, f->a.slot);
    f->a.slot = 0;
}

static void emit(struct engine *e, struct flow *f, const struct inspect_request *rq,
                 const struct inspect_result *res, struct span rawname, bool alt,
                 const struct verdict_decision *d)
{
    struct engine_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.flow_id = f->a.id;
    ev.ts_us = e->now_us;
    ev.ipver = f->ipver;
    ev.l4proto = f->proto;
    ev.client = flowtab_client_addr(f);
    ev.server = flowtab_server_addr(f);
    ev.client_port = flowtab_client_port(f);
    ev.server_port = flowtab_server_port(f);
    ev.app = rq ? rq->app : (enum verdict_app)f->a.app;
    if (res && res->have_name) {
        ev.name = res->name;
        ev.name_len = res->name_len;
    } else if (rawname.len) {
        ev.raw_name = (const char *)rawname.p;
        ev.raw_name_len = rawname.len;
    }
    if (res && res->url_len) {
        ev.url = res->url;
        ev.url_len = res->url_len;
    }
    if (rq && rq->alpn.len) {
        ev.alpn = (const char *)rq->alpn.p;
        ev.alpn_len = rq->alpn.len;
    }
    ev.ech = rq && rq->ech;
    if (e->cur_qs && e->cur_qs->have_keys) {
        ev.quic_version = e->cur_qs->keys.version;
        ev.quic_odcid = e->cur_qs->odcid;
        ev.quic_odcid_len = e->cur_qs->odcid_len;
        ev.quic_scid = e->cur_qs->scid;
        ev.quic_scid_len = e->cur_qs->scid_len;
    }
    ev.req = (unsigned)f->a.nreq + 1;
    ev.alt = alt;
    ev.d = *d;
    ev.pkt = e->cur_pkt;
    ev.pkt_from_client = e->cur_dir == 0;
    ev.link = e->cur_link;
    ev.frame = e->cur_pkt ? e->cur_frame : NULL;
    ev.frame_len = e->cur_pkt ? e->cur_frame_len : 0;
    ev.cut = e->cur_cut;
    if (f->proto == IPPROTO_TCP && unlikely(e->cur_cut)) {
        /* a settled flow's sequence state stopped with its inspection: the packet being
         * handled says where both ends are now (its ack, and its end on its sender's side) */
        const struct pkt *p = e->cur_pkt;
        uint32_t end = p->seq + (uint32_t)p->payload_len + ((p->tcp_flags & TCPF_FIN) ? 1u : 0u);
        ev.seq_known = (p->tcp_flags & TCPF_ACK) != 0;
        ev.cli_next_seq = e->cur_dir == 0 ? end : p->ack;
        ev.srv_next_seq = e->cur_dir == 0 ? p->ack : end;
    } else if (f->proto == IPPROTO_TCP) {
        ev.seq_known = (f->tcp.fl & TCPREASM_S_SEQ) &&
                       ((f->tcp.fl & TCPREASM_S_SRV_SEQ) || (f->tcp.fl2 & TCPREASM_S2_SRV_GUESS));
        ev.cli_next_seq = f->tcp.nxt;
        ev.srv_next_seq = f->tcp.srv_nxt;
        /* A forged reset must carry the server's rcv_nxt exactly (RFC 5961). tcpreasm's nxt
         * stops at the buffer's cap and at holes; the client segment being handled, if it was
         * taken, reaches further. */
        const struct pkt *p = e->cur_pkt;
        if (p && e->cur_dir == 0 && !(e->cur_res & TCPREASM_IGNORED) &&
            !(p->tcp_flags & TCPF_SYN)) {
            uint32_t end =
                p->seq + (uint32_t)p->payload_len + ((p->tcp_flags & TCPF_FIN) ? 1u : 0u);
            if ((int32_t)(end - ev.cli_next_seq) > 0)
                ev.cli_next_seq = end;
        } else if (p && e->cur_dir == 1 && (p->tcp_flags & TCPF_ACK) &&
                   (int32_t)(p->ack - ev.cli_next_seq) > 0) {
            /* a server segment acknowledging client bytes never seen (unseen_blocks): the
             * server's rcv_nxt is its acknowledgement, not the end of what was seen */
            ev.cli_next_seq = p->ack;
        }
    }

    f->a.state |= ENGINE_ST_EVENT;
    f->a.verdict = (uint8_t)d->verdict;
    f->a.method = (uint8_t)d->method;
    if (e->names && f->proto == IPPROTO_TCP)
        keep_name(e, f, &ev);
    e->st.decisions++;
    if (d->verdict == VERDICT_BLOCK) {
        e->st.blocks++;
        f->a.state |= ENGINE_ST_BLOCKED | ENGINE_ST_DONE;
        f->fl |= FLOW_F_SETTLED;
    }
    e->cb(e->ctx, &ev);
}

static void flow_facts(const struct engine *e, const struct flow *f, struct inspect_flow *fl)
{
    fl->udp = f->proto == IPPROTO_UDP;
    fl->ipver = f->ipver;
    fl->dst = flowtab_server_addr(f);
    fl->src = flowtab_client_addr(f);
    fl->now = (int64_t)(e->now_us / 1000000);
    fl->tariff = e->cfg.tariff;
}

/* Decides f on its address alone into e->res (rq: the empty request it is judged as). */
static void address_verdict(struct engine *e, struct flow *f, struct inspect_request *rq)
{
    struct inspect_flow fl;
    memset(rq, 0, sizeof(*rq));
    rq->app = (enum verdict_app)f->a.app;
    flow_facts(e, f, &fl);
    inspect_decide(e->rs, &e->cfg.policy, &fl, rq, rq->name, &e->res);
}

/* Decides f on its address; when that passes (and is not an allow-list entry) it is blocked
 * by policy instead, reported with method m and counted in *blocked: the bytes that could name
 * a listed resource are not there to read, and a missing name must not pass. */
static void decide_by_policy(struct engine *e, struct flow *f, enum verdict_method m,
                             uint64_t *blocked)
{
    struct inspect_request rq;
    address_verdict(e, f, &rq);
    struct verdict_decision d = e->res.d;
    if (verdict_block_by_policy(&d, m, f->proto == IPPROTO_TCP ? ACTION_RESET : ACTION_DROP))
        (*blocked)++;
    emit(e, f, NULL, NULL, rq.name, false, &d);
}

/* Queue mode: f is a TCP flow first seen after its SYN (engine_config.unseen_syn), judged
 * strictly: what cannot be judged by name blocks. */
static bool unseen_strict(const struct engine *e, const struct flow *f)
{
    return e->cfg.unseen_syn != ENGINE_UNSEEN_SYN_PICKUP && f->proto == IPPROTO_TCP &&
           !tcpreasm_syn_seen(&f->tcp);
}

/* A flow that ended or gave up without a request we could read: judged on its address alone
 * (a TCP flow first seen after its SYN in queue mode: blocked when that passes). */
static void decide_by_address(struct engine *e, struct flow *f)
{
    if (unseen_strict(e, f)) {
        decide_by_policy(e, f, METHOD_SYN_UNSEEN, &e->st.syn_unseen_blocked);
        return;
    }
    struct inspect_request rq;
    address_verdict(e, f, &rq);
    emit(e, f, NULL, NULL, rq.name, false, &e->res.d);
}

/* A ClientHello whose name is read before the hello is complete is decided at once (a block
 * must not wait for the rest) and, when that passes, decided again once the hello is complete.
 * The first decision is kept here, by flow, and taken for the second when every input
 * inspect_decide() reads is the same: the rule set and the policy (e->gen), the flow's
 * addresses, the second, the name's bytes, ECH; only for a request without a path and a flow
 * without a tariff (whose side reads subscriber tables that change on their own).
 * inspect_decide() is pure apart from its result: what is taken is what it would compute. */
struct pass_memo {
    const struct flow *f; /* NULL: empty */
    uint32_t id, gen;
    int64_t now;
    int ipver;
    bool ech, have_name, name_invalid;
    size_t raw_len, name_len;
    uint8_t dst[16], src[16];
    uint8_t raw[PASS_MEMO_RAW];
    char name[NORM_HOST_MAX];
    struct verdict_decision d;
};

static bool memo_fits(const struct inspect_flow *fl, const struct inspect_request *rq,
                      struct span name)
{
    return rq->app == APP_TLS && !rq->has_path && (!fl->tariff || !fl->tariff->tariff) &&
           name.len <= PASS_MEMO_RAW && fl->dst && fl->src;
}

static struct pass_memo *memo_slot(const struct engine *e, const struct flow *f)
{
    return &e->memo[f->a.id & (PASS_MEMO_SLOTS - 1)];
}

/* Keeps e->res, the decision inspect_decide() just made for name of rq on f. */
static void memo_put(struct engine *e, const struct flow *f, const struct inspect_flow *fl,
                     const struct inspect_request *rq, struct span name)
{
    if (!memo_fits(fl, rq, name))
        return;
    struct pass_memo *m = memo_slot(e, f);
    m->f = f;
    m->id = f->a.id;
    m->gen = e->gen;
    m->now = fl->now;
    m->ipver = fl->ipver;
    m->ech = rq->ech;
    memcpy(m->dst, fl->dst, 16);
    memcpy(m->src, fl->src, 16);
    m->raw_len = name.len;
    if (name.len)
        memcpy(m->raw, name.p, name.len);
    m->have_name = e->res.have_name;
    m->name_invalid = e->res.name_invalid;
    m->name_len = e->res.have_name ? e->res.name_len : 0;
    memcpy(m->name, e->res.name, m->name_len);
    m->name[m->name_len] = '\0';
    m->d = e->res.d;
}

/* Fills e->res from the decision kept for f if it was made on the very same inputs (and lets it
 * go); false if there is none. */
static bool memo_take(struct engine *e, const struct flow *f, const struct inspect_flow *fl,
                      const struct inspect_request *rq, struct span name)
{
    struct pass_memo *m = memo_slot(e, f);
    if (m->f != f || m->id != f->a.id || m->gen != e->gen || m->now != fl->now ||
        m->ipver != fl->ipver || m->ech != rq->ech || m->raw_len != name.len ||
        !memo_fits(fl, rq, name) || memcmp(m->dst, fl->dst, 16) != 0 ||
        memcmp(m->src, fl->src, 16) != 0 || (name.len && memcmp(m->raw, name.p, name.len) != 0))
        return false;
    m->f = NULL;
    e->res.have_name = m->have_name;
    e->res.name_invalid = m->name_invalid;
    e->res.name_len = m->name_len;
    memcpy(e->res.name, m->name, m->name_len + 1);
    e->res.url_len = 0;
    e->res.d = m->d;
    e->st.decisions_reused++;
    return true;
}

/* An HTTP request judged and passed with nothing after it yet is held (ENGINE_ST_HELD): its
 * bytes stay buffered and it is read again when the server answers or more bytes come, to go
 * past it. That reading is the one kept here when the buffer starts at the same place with the
 * same head bytes: a complete head's reading depends on its bytes alone (its spans point into
 * them), so it is what reading them again would give. */
struct held_memo {
    const struct flow *f; /* NULL: empty */
    uint32_t id;
    const uint8_t *d; /* the buffer's start the head was read at */
    struct inspect_request rq;
    uint8_t head[HELD_MEMO_HEAD];
};

/* the two memos' block: the pass memos, then the held requests' (64-byte aligned) */
#define PASS_MEMO_BYTES ((PASS_MEMO_SLOTS * sizeof(struct pass_memo) + 63) & ~(size_t)63)
#define MEMO_BYTES      (PASS_MEMO_BYTES + HELD_MEMO_SLOTS * sizeof(struct held_memo))

static struct held_memo *held_slot(const struct engine *e, const struct flow *f)
{
    return &e->held[f->a.id & (HELD_MEMO_SLOTS - 1)];
}

/* Keeps rq, the complete request head read at d, as f is held on it. */
static void held_put(struct engine *e, const struct flow *f, const uint8_t *d, size_t len,
                     const struct inspect_request *rq)
{
    struct held_memo *m = held_slot(e, f);
    if (rq->app != APP_HTTP || rq->partial || rq->lenient || rq->head_len == 0 ||
        rq->head_len > HELD_MEMO_HEAD || rq->head_len > len) {
        if (m->f == f)
            m->f = NULL;
        return;
    }
    m->f = f;
    m->id = f->a.id;
    m->d = d;
    m->rq = *rq;
    memcpy(m->head, d, rq->head_len);
}

/* The held request of f read again from (d, len): true with *rq filled if the kept reading is
 * of the very same bytes at the same place (and lets it go). */
static bool held_take(struct engine *e, const struct flow *f, const uint8_t *d, size_t len,
                      struct inspect_request *rq)
{
    struct held_memo *m = held_slot(e, f);
    if (m->f != f || m->id != f->a.id || m->d != d || len < m->rq.head_len ||
        memcmp(m->head, d, m->rq.head_len) != 0)
        return false;
    m->f = NULL;
    *rq = m->rq;
    e->st.heads_reused++;
    return true;
}

/* Decides one name candidate of a request and reports it. Returns true if it blocked. */
static bool decide_name(struct engine *e, struct flow *f, const struct inspect_request *rq,
                        struct span name, bool alt)
{
    struct inspect_flow fl;
    flow_facts(e, f, &fl);
    if (!memo_take(e, f, &fl, rq, name))
        inspect_decide(e->rs, &e->cfg.policy, &fl, rq, name, &e->res);
    if (e->res.name_invalid)
        e->st.name_invalid++;
    emit(e, f, rq, &e->res, name, alt, &e->res.d);
    return e->res.d.verdict == VERDICT_BLOCK;
}

/* Decides every name candidate of a request (block if either does). */
static bool decide_request(struct engine *e, struct flow *f, const struct inspect_request *rq,
                           bool alt)
{
    if (rq->ech)
        e->st.ech++;
    if (decide_name(e, f, rq, rq->name, alt))
        return true;
    return rq->name2.len && decide_name(e, f, rq, rq->name2, alt);
}

static void finish_flow_inspection(struct engine *e, struct flow *f)
{
    if (f->a.app == APP_H2C && e->h2)
        h2c_conn_release(e->h2, f, f->a.id);
    f->a.state |= ENGINE_ST_DONE;
    f->fl |= FLOW_F_SETTLED; /* a new SYN on this 4-tuple now starts a new flow */
    tcpreasm_release(e->reasm, &f->tcp);
}

/* The flow got no reassembly buffer (the pool is empty, and nothing can be held back: tap,
 * scan). What its segment p shows on its own is judged: a ClientHello or request head whole in
 * one segment is judged on its name (a blocked name in plain sight is never passed for want of
 * a buffer). Returns true when a request was judged; false (nothing readable alone: a request
 * cut across segments, or not TLS/HTTP) leaves the flow to its address. */
static bool judge_segment_alone(struct engine *e, struct flow *f, const struct pkt *p)
{
    if (!p->payload_len)
        return false;
    struct inspect_stream s;
    inspect_stream_init(&s);
    struct inspect_request rq;
    uint64_t skip = 0;
    enum inspect_stop why = INSPECT_STOP_DONE;
    enum dstatus st = DS_OK;
    if (inspect_stream_next(&s, p->payload, p->payload_len, true, e->scratch, e->scratch_cap, &rq,
                            &skip, &why, &st) != INSPECT_JUDGE)
        return false;
    e->st.reasm_judged_alone++;
    (void)decide_request(e, f, &rq, false);
    return true;
}

/* True if a name candidate of rq blocks; reports nothing. */
static bool request_blocks(struct engine *e, struct flow *f, const struct inspect_request *rq)
{
    struct inspect_flow fl;
    flow_facts(e, f, &fl);
    if (inspect_blocks(e->rs, &e->cfg.policy, &fl, rq, &e->res))
        return true;
    if (!rq->name2.len) /* e->res: rq->name's decision */
        memo_put(e, f, &fl, rq, rq->name);
    return false;
}

static void count_failure(struct engine *e, enum verdict_app app, enum dstatus st)
{
    bool limit = st == DS_LIMIT;
    if (app == APP_TLS)
        *(limit ? &e->st.tls_limit : &e->st.tls_malformed) += 1;
    else
        *(limit ? &e->st.http_limit : &e->st.http_malformed) += 1;
}

/* ---- TCP ------------------------------------------------------------------------------------ */

/* Judges the alternative view of the stream (a fake copy seen first, T4/S2) when there is one.
 * Returns true if it blocked. */
static bool decide_alt(struct engine *e, struct flow *f)
{
    size_t alen;
    struct inspect_request rq;
    const uint8_t *a = tcpreasm_alt(e->reasm, &f->tcp, &alen);
    if (!a || inspect_parse((enum verdict_app)f->a.app, a, alen, e->scratch, e->scratch_cap, &rq) !=
                  DS_OK)
        return false;
    return decide_request(e, f, &rq, true);
}

/* Judges the other views of the stream (tcpreasm_view() from `first`: 1 = the last-copy view,
 * 2.. the other versions) on their own, whatever the first-copy view says: a fake whose record
 * length swallows the real hello leaves the first-copy view incomplete for ever, a junk fake
 * makes it "not mine", fake-real-fake orderings leave the real bytes only in a third version
 * (zapret). Each view is parsed whenever it changed since it was last judged; one still
 * incomplete is parsed again when bytes come. Returns true if one blocked. */
static bool judge_alt_view(struct engine *e, struct flow *f, unsigned first)
{
    unsigned n = tcpreasm_nviews(e->reasm, &f->tcp);
    for (unsigned i = first; i < n; i++) {
        size_t alen;
        bool changed;
        const uint8_t *a = tcpreasm_view(e->reasm, &f->tcp, i, &alen, &changed);
        if (!a || !changed)
            continue;
        enum verdict_app app = (enum verdict_app)f->a.app;
        enum dstatus st = DS_OK;
        if (app == APP_UNKNOWN)
            st = inspect_detect(a, alen, &app);
        struct inspect_request rq;
        if (st == DS_OK)
            st = inspect_parse(app, a, alen, e->scratch, e->scratch_cap, &rq);
        if (st == DS_NEED_MORE)
            continue; /* more bytes of this view may come */
        tcpreasm_view_seen(e->reasm, &f->tcp, i);
        e->st.alt_judged++;
        if (st == DS_OK && decide_request(e, f, &rq, true))
            return true;
    }
    return false;
}

/* The first-copy view is neither TLS nor HTTP. That must not settle the flow while another
 * copy of the bytes can still be judged (a junk low-TTL fake sent first, zapret's
 * --dpi-desync-fake-tls=0x00000000): the flow stays open, every alternative view that parses is
 * judged, and the address decides once the server answers (handle_packet) or the buffer is
 * full - the bounds on bytes and time. */
static void inspect_not_mine(struct engine *e, struct flow *f, size_t len)
{
    if (unseen_strict(e, f)) {
        /* first seen after its SYN: its stream's start went by unseen (or this is not a web
         * client): nothing here can be judged by name */
        decide_by_address(e, f);
        finish_flow_inspection(e, f);
        return;
    }
    if (!st_notmine(f)) {
        f->a.state |= ENGINE_ST_WATCH;
        e->st.not_mine_watched++;
    }
    if (judge_alt_view(e, f, 1)) {
        finish_flow_inspection(e, f);
        return;
    }
    if (len >= tcpreasm_bufsize(e->reasm)) {
        decide_by_address(e, f);
        finish_flow_inspection(e, f);
    }
}

/* The flow's place in its client stream (inspect.h), packed into its flow_app. */
#define ENGINE_ST_PHASE_SHIFT 5
#define ENGINE_ST_PHASE_MASK  0x60 /* enum http_chunk_state: inside a chunked body */

static void stream_load(const struct flow *f, struct inspect_stream *s)
{
    s->app = f->a.app;
    s->phase = (uint8_t)((f->a.state & ENGINE_ST_PHASE_MASK) >> ENGINE_ST_PHASE_SHIFT);
    s->judged = (f->a.state & ENGINE_ST_EVENT) != 0;
}

static void stream_store(struct flow *f, const struct inspect_stream *s)
{
    f->a.app = s->app;
    f->a.state = (uint8_t)((f->a.state & ~ENGINE_ST_PHASE_MASK) |
                           ((s->phase << ENGINE_ST_PHASE_SHIFT) & ENGINE_ST_PHASE_MASK));
}

/* Where an HTTP head still incomplete switches to scanning (half the reassembly buffer). */
static size_t scan_from(const struct engine *e)
{
    return tcpreasm_bufsize(e->reasm) / 2;
}

/* h2c_conn_take(): an h2c state whose flow is gone (recycled, or done) may be taken back. */
static bool h2c_owner_alive(const void *owner, uint32_t id, void *ctx)
{
    const struct flow *f = owner;
    (void)ctx;
    return (f->fl & FLOW_F_INUSE) && f->a.id == id && !(f->a.state & ENGINE_ST_DONE);
}

/* The stream of f is in scan mode (FLOW_F_SCAN): every complete line buffered is looked at
 * for a request line's absolute-form authority or a Host value (http_scan_stream), each name
 * judged, and the lines go. Nothing is held but a line still arriving, so the buffer never
 * fills with a head of any size; it never stops on its own. */
static void inspect_scan(struct engine *e, struct flow *f)
{
    for (;;) {
        size_t len, used;
        const uint8_t *d = tcpreasm_data(e->reasm, &f->tcp, &len);
        if (!d || len == 0)
            return;
        struct span names[8];
        size_t n = http_scan_stream(d, len, len >= tcpreasm_bufsize(e->reasm), names, 8, &used);
        for (size_t i = 0; i < n; i++) {
            struct inspect_request rq;
            memset(&rq, 0, sizeof(rq));
            rq.app = APP_HTTP;
            rq.name = names[i];
            e->st.scan_names++;
            if (decide_request(e, f, &rq, false)) {
                finish_flow_inspection(e, f);
                return;
            }
            if (f->a.nreq < UINT16_MAX)
                f->a.nreq++;
        }
        if (used == 0)
            return;
        tcpreasm_consume(e->reasm, &f->tcp, used);
    }
}

/* From now on f's HTTP stream is scanned for names (inspect_scan): its next request cannot be
 * located, but a server with larger limits than ours may still serve requests after it. */
static void start_scan(struct engine *e, struct flow *f)
{
    f->fl |= FLOW_F_SCAN;
    f->a.state &= (uint8_t) ~(ENGINE_ST_WATCH | ENGINE_ST_PHASE_MASK);
    e->st.scan_streams++;
    inspect_scan(e, f);
}

/* Stops judging f for the reason inspect_stream_next() / _passed() gave, as
 * inspect_stream_halt() says for every mode: a stream none of whose requests was judged is
 * decided on its address, and an HTTP stream whose next request cannot be located (a head read
 * only leniently, chunked framing that broke, a head cut by the buffer) is scanned for names
 * (the engine's answer to INSPECT_REST_UNFRAMED) instead of being left unjudged. */
static void stop_inspection(struct engine *e, struct flow *f, const struct inspect_stream *s,
                            enum inspect_stop why, enum dstatus st)
{
    struct inspect_halt h;
    struct inspect_stream now = *s;
    now.judged = now.judged || (f->a.state & ENGINE_ST_EVENT); /* another view's, too */
    inspect_stream_halt(&now, why, &h);
    switch (why) {
    case INSPECT_STOP_NOT_MINE:
        if (!h.by_address)
            e->st.stream_not_mine++; /* no longer HTTP: after an Upgrade, CONNECT */
        break;
    case INSPECT_STOP_MALFORMED:
    case INSPECT_STOP_LIMIT: count_failure(e, (enum verdict_app)s->app, st); break;
    case INSPECT_STOP_BODY: e->st.http_body_malformed++; break;
    case INSPECT_STOP_CUT: e->st.http_cut++; break;
    case INSPECT_STOP_DONE:
    case INSPECT_STOP_LENIENT: break;
    }
    if (h.refuse != METHOD_NONE)
        decide_by_policy(e, f, h.refuse, &e->st.limit_blocked);
    else if (h.by_address)
        decide_by_address(e, f);
    if (h.rest == INSPECT_REST_UNFRAMED && !(f->a.state & ENGINE_ST_DONE)) {
        start_scan(e, f);
        return;
    }
    finish_flow_inspection(e, f);
}

/* Judges every request buffered on f as inspect_stream_next() walks the stream: one
 * ClientHello, each HTTP request of a kept-alive connection with its body skipped by its
 * framing, whatever follows an Upgrade or CONNECT, or the first h2c request. */
static void inspect_tcp(struct engine *e, struct flow *f, unsigned res)
{
    size_t len;
    const uint8_t *d = tcpreasm_data(e->reasm, &f->tcp, &len);
    if (!d || len == 0)
        return;
    if (res & TCPREASM_VIEWS_FULL)
        e->st.views_full++;
    if (f->fl & FLOW_F_SCAN) {
        inspect_scan(e, f);
        return;
    }
    if (f->a.state & ENGINE_ST_HELLO) {
        /* ClientHello decided: only a conflicting copy of its bytes can change that. */
        if ((res & TCPREASM_CONFLICT) && (decide_alt(e, f) || judge_alt_view(e, f, 2)))
            finish_flow_inspection(e, f);
        return;
    }
    bool held = st_held(f);
    if (held && (res & TCPREASM_CONFLICT)) {
        /* the other copy of the held request, reported under that request's number */
        f->a.nreq--;
        bool blocked = decide_alt(e, f);
        f->a.nreq++;
        if (blocked) {
            finish_flow_inspection(e, f);
            return;
        }
    }
    struct inspect_stream s;
    stream_load(f, &s);
    if (e->h2 && inspect_stream_wants_h2(&s, d, len)) {
        if (s.app == APP_H2C) { /* past its preface: the state it took then */
            s.h2 = h2c_conn_find(e->h2, f, f->a.id);
            if (!s.h2) {
                /* given to a newer connection (the pool full of live ones): its later streams
                 * cannot be decoded and could name any host */
                e->st.h2c_no_state++;
                f->a.state |= ENGINE_ST_PAYLOAD;
                decide_by_policy(e, f, METHOD_NO_ROOM, &e->st.limit_blocked);
                finish_flow_inspection(e, f);
                return;
            }
        } else {
            s.h2 = h2c_conn_take(e->h2, f, f->a.id, h2c_owner_alive, e);
            if (!s.h2)
                e->st.h2c_no_state++;
        }
    }
    for (;;) {
        struct inspect_request rq;
        uint64_t skip = 0;
        enum inspect_stop why = INSPECT_STOP_DONE;
        enum dstatus st = DS_OK;
        bool full = len >= tcpreasm_bufsize(e->reasm);
        enum inspect_step step;
        if (held && s.app == APP_HTTP && s.phase == HTTP_CHUNK_DONE && held_take(e, f, d, len, &rq))
            step = INSPECT_JUDGE; /* what inspect_stream_next() would read there */
        else
            step = inspect_stream_next(&s, d, len, full, e->scratch, e->scratch_cap, &rq, &skip,
                                       &why, &st);
        stream_store(f, &s);
        if (step == INSPECT_MORE) {
            /* the first-copy view needs more bytes: the other views may not */
            if (judge_alt_view(e, f, 1)) {
                finish_flow_inspection(e, f);
                return;
            }
            if (s.app == APP_HTTP && s.phase == HTTP_CHUNK_DONE && len >= scan_from(e)) {
                /* a head past half the buffer with no name yet: scan it line by line before
                 * the buffer fills (bytes past a full buffer are lost to the stream) */
                e->st.http_limit++;
                start_scan(e, f);
            }
            return;
        }
        if (step == INSPECT_STOP) {
            bool first_view = !(f->a.state & ENGINE_ST_EVENT) || st_notmine(f);
            if (first_view && (why == INSPECT_STOP_NOT_MINE || why == INSPECT_STOP_MALFORMED)) {
                /* The first copy of the first bytes is neither TLS nor HTTP, or not readable
                 * (a fake of junk, or one whose declared lengths swallow the real hello): it
                 * must not settle the flow while another copy can still be judged. Watch the
                 * other views (a view judged meanwhile does not end the watch); the first
                 * copy is read again from scratch each time. */
                if (why == INSPECT_STOP_MALFORMED && !st_notmine(f))
                    count_failure(e, (enum verdict_app)s.app, st);
                f->a.app = APP_UNKNOWN;
                inspect_not_mine(e, f, len);
                return;
            }
            if (why != INSPECT_STOP_DONE && judge_alt_view(e, f, 1)) {
                finish_flow_inspection(e, f);
                return;
            }
            stop_inspection(e, f, &s, why, st);
            return;
        }
        if (step == INSPECT_JUDGE && held) {
            /* the held request, judged already: go past it once the server has answered
             * (it acted on these bytes) or more client bytes follow it */
            struct inspect_stream after = s;
            step = inspect_stream_passed(&after, &rq, &skip, &why);
            if (step == INSPECT_SKIP && skip >= len && !(res & ENGINE_RES_SERVER))
                return;
            held = false;
            res &= ~ENGINE_RES_SERVER; /* the answer was to this request, not the next */
            f->a.state &= (uint8_t)~ENGINE_ST_HELD;
            s = after;
            stream_store(f, &s);
            if (step == INSPECT_STOP) {
                stop_inspection(e, f, &s, why, DS_OK);
                return;
            }
        } else if (step == INSPECT_JUDGE) {
            if (rq.partial && rq.app == APP_HTTP && len >= scan_from(e)) {
                /* a head past half the buffer: judged now by what it showed (name, path), then
                 * the rest of the stream is scanned line by line, a second Host included */
                e->st.http_cut++;
                if (decide_request(e, f, &rq, false) || decide_alt(e, f)) {
                    finish_flow_inspection(e, f);
                    return;
                }
                if (f->a.nreq < UINT16_MAX)
                    f->a.nreq++;
                tcpreasm_consume(e->reasm, &f->tcp, rq.head_len);
                start_scan(e, f);
                return;
            }
            if (inspect_request_pending(&rq, full) && !request_blocks(e, f, &rq)) {
                /* The name is read and passes, but the hello / head goes on: the rest may
                 * carry another name (a second Host), so the pass waits for it or the cap.
                 * Meanwhile the other views are judged: a fake whose declared length
                 * swallows the real hello keeps this one incomplete for ever. */
                if (judge_alt_view(e, f, 1))
                    finish_flow_inspection(e, f);
                return;
            }
            if (rq.lenient) {
                /* the strict reading refused it: counted as before, and judged on what a
                 * laxer server would read (S10) */
                count_failure(e, rq.app, DS_MALFORMED);
                e->st.lenient_names++;
            }
            if (decide_request(e, f, &rq, false) || decide_alt(e, f) || judge_alt_view(e, f, 2)) {
                finish_flow_inspection(e, f);
                return;
            }
            if (f->a.nreq < UINT16_MAX)
                f->a.nreq++;
            if (rq.app == APP_TLS) {
                if (rq.partial)
                    e->st.tls_cut++;
                /* Keep the hello's bytes until the server answers: a conflicting copy may
                 * follow. */
                f->a.state |= ENGINE_ST_HELLO;
                return;
            }
            struct inspect_stream after = s;
            step = inspect_stream_passed(&after, &rq, &skip, &why);
            if (step == INSPECT_SKIP && rq.app == APP_HTTP && skip >= len &&
                !(res & ENGINE_RES_SERVER)) {
                /* Nothing after it yet: keep its bytes, so that a second copy of them (a fake
                 * sent first with a low TTL, then the real one) is judged as well. */
                f->a.state |= ENGINE_ST_HELD;
                held_put(e, f, d, len, &rq);
                return;
            }
            s = after;
            stream_store(f, &s);
            if (step == INSPECT_STOP) {
                stop_inspection(e, f, &s, why, DS_OK);
                return;
            }
        }
        /* INSPECT_SKIP: a judged request's head and body, or chunked framing and data. The
         * bytes past the buffer are skipped as they arrive; the buffer stays bounded. */
        tcpreasm_consume(e->reasm, &f->tcp, skip > SIZE_MAX ? SIZE_MAX : (size_t)skip);
        d = tcpreasm_data(e->reasm, &f->tcp, &len);
        if (!d || len == 0)
            return;
    }
}

/* ---- QUIC ----------------------------------------------------------------------------------- */

static struct quic_slot *quic_slot(struct engine *e, struct flow *f)
{
    if (f->a.slot)
        return &e->qslots[f->a.slot - 1];
    if (e->qfree_n == 0)
        return NULL;
    uint16_t s = e->qfree[--e->qfree_n];
    f->a.slot = (uint16_t)(s + 1);
    struct quic_slot *qs = &e->qslots[s];
    qs->have_keys = false;
    qs->judged = false;
    qs->alt_on = false;
    qs->odcid_len = qs->scid_len = 0;
    quic_crypto_init(&qs->c);
    return qs;
}

static void quic_slot_release(struct engine *e, struct flow *f)
{
    if (f->proto != IPPROTO_UDP) /* a TCP flow's a.slot is its kept name (keep_name()) */
        return;
    if (f->a.slot) {
        e->qfree[e->qfree_n++] = (uint16_t)(f->a.slot - 1);
        f->a.slot = 0;
    }
}

/* Stops reading the flow: it was decided, or its budget is spent. A new connection attempt on
 * its 5-tuple starts a new flow (quic_restarts_flow()). */
static void quic_done(struct engine *e, struct flow *f)
{
    quic_slot_release(e, f);
    f->a.state |= ENGINE_ST_DONE;
    f->fl |= FLOW_F_SETTLED;
}

/* flowtab_cfg.udp_restarts: a client datagram on a settled UDP flow that passed, whose Initial
 * decrypts under keys derived from its own DCID, opens a connection attempt (a client that has
 * heard from the server uses the server's connection ID with the first DCID's keys, so its
 * later Initials do not decrypt that way): it starts a new flow, judged afresh. Without this, an
 * attempt opened on the 4-tuple after an allowed one had passed - after its budget, in queue
 * mode after the pass mark - or behind more junk datagrams than the budget went unread. Even one
 * under the settled attempt's own DCID restarts: a server that has dropped that connection
 * takes it as new. (A client still retransmitting its first flight that late - its server never
 * answered - is judged again, the same way.) A blocked flow does not restart: its 4-tuple stays
 * blocked (queue mode drops its datagrams; the conntrack entry of a UDP flow whose every packet
 * was dropped is never confirmed, so the kernel queues each retransmission again). Only
 * Initial-shaped datagrams (long header with the fixed bit, 1200 bytes or more) are
 * decrypted. */
static bool quic_restarts_flow(const struct flow *f, const struct pkt *p, bool from_client,
                               void *ctx)
{
    struct engine *e = ctx;
    if ((f->a.state & ENGINE_ST_BLOCKED) || !from_client || !p->payload_len ||
        (p->payload[0] & 0xc0) != 0xc0)
        return false; /* a blocked 4-tuple stays blocked: its datagrams are dropped */
    /* an Initial in a short datagram is one a server must drop: read only to be dropped too
     * (queue mode, drop_short_initials), never to restart the flow */
    bool short_dgram = p->payload_len < QUIC_MIN_DATAGRAM;
    if (short_dgram && !e->cfg.drop_short_initials)
        return false;
    struct quic_initial qi;
    size_t off;
    if (quic_initial_parse(e->qctx, p->payload, p->payload_len, NULL, e->quic_plain,
                           sizeof(e->quic_plain), &qi, &off) != DS_OK)
        return false;
    if (short_dgram) {
        e->last_set_aside = true;
        return false;
    }
    e->st.quic_new_attempts++;
    return true;
}

enum quic_reading { QR_PARTIAL, QR_PASSED, QR_BLOCKED, QR_UNUSABLE };

/* Judges one reading of the CRYPTO stream if it holds a whole ClientHello. */
static enum quic_reading quic_judge(struct engine *e, struct flow *f, struct quic_crypto *c,
                                    bool alt)
{
    struct tls_hello h;
    size_t off;
    enum dstatus st = quic_crypto_hello(c, &h, &off);
    if (st == DS_NEED_MORE)
        return QR_PARTIAL;
    if (st != DS_OK) {
        e->st.quic_malformed++;
        return QR_UNUSABLE;
    }
    struct inspect_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.app = APP_QUIC;
    if (h.has_sni)
        rq.name = h.sni;
    rq.alpn = h.alpn;
    rq.ech = h.has_ech || h.has_esni;
    return decide_request(e, f, &rq, alt) ? QR_BLOCKED : QR_PASSED;
}

/* Sets up the slot for the connection attempt whose first readable Initial is qi. */
static void quic_slot_start(struct engine *e, struct quic_slot *qs, const struct quic_initial *qi)
{
    qs->have_keys =
        quic_keys_derive(e->qctx, qi->version, qi->dcid.p, qi->dcid.len, false, &qs->keys) == 0;
    qs->judged = false;
    qs->alt_on = false;
    qs->odcid_len = (uint8_t)qi->dcid.len;
    if (qi->dcid.len)
        memcpy(qs->odcid, qi->dcid.p, qi->dcid.len);
    qs->scid_len = (uint8_t)qi->scid.len;
    if (qi->scid.len)
        memcpy(qs->scid, qi->scid.p, qi->scid.len);
    quic_crypto_init(&qs->c);
}

/* One decrypted Initial of the flow: its frames go into every reading, and the readings a
 * conflict creates are judged at once (Q3: a forged Initial with the flow's DCID decrypts as
 * well as the real one; whichever came first, block if any reading matches). Returns true when
 * the flow is settled. */
static bool quic_initial_frames(struct engine *e, struct flow *f, struct quic_slot *qs,
                                const struct quic_initial *qi)
{
    size_t off;
    unsigned before = qs->c.conflicts;
    enum dstatus st = quic_crypto_add_frames(&qs->c, qi->frames.p, qi->frames.len, &off);
    if (st == DS_MALFORMED) {
        e->st.quic_malformed++;
        return false;
    }
    if (qs->alt_on)
        (void)quic_crypto_add_frames(&qs->alt, qi->frames.p, qi->frames.len, &off);
    bool conflict = qs->c.conflicts != before;
    if (!qs->judged) {
        enum quic_reading r = quic_judge(e, f, &qs->c, false);
        if (r == QR_BLOCKED)
            return true;
        qs->judged = r != QR_PARTIAL;
    }
    if (!conflict)
        return false;
    e->st.quic_conflicts++;
    /* Reading 1: what came first, with this Initial's bytes on top. */
    e->quic_tmp = qs->c;
    e->quic_tmp.last_wins = true;
    e->quic_tmp.packets = 0;
    (void)quic_crypto_add_frames(&e->quic_tmp, qi->frames.p, qi->frames.len, &off);
    if (quic_judge(e, f, &e->quic_tmp, true) == QR_BLOCKED)
        return true;
    /* Reading 2: the latest bytes at every offset, kept from the first conflict on. */
    if (!qs->alt_on) {
        qs->alt = e->quic_tmp;
        qs->alt_on = true;
        return false; /* the same bytes as reading 1 */
    }
    return quic_judge(e, f, &qs->alt, true) == QR_BLOCKED;
}

/* A client Initial that found no slot (engine_config.quic_no_slot_blocks): read in the spare
 * slot, on its own. A ClientHello whole in it is judged on its name and settles the flow (no
 * later Initial is watched for conflicts: there is no room to keep one); anything less is
 * blocked by policy, with the Initial's keys and connection IDs in the event, so a tap can
 * close it. Returns true (settled). */
static bool quic_judge_alone(struct engine *e, struct flow *f, const struct quic_initial *qi)
{
    struct quic_slot *qs = e->qspare;
    quic_slot_start(e, qs, qi);
    e->cur_qs = qs;
    bool settled = quic_initial_frames(e, f, qs, qi);
    if (!settled && !qs->judged)
        decide_by_policy(e, f, METHOD_NO_ROOM, &e->st.quic_no_slot_blocked);
    e->cur_qs = NULL;
    return true;
}

/* Reads every long-header packet of one client datagram (RFC 9000 12.2: Initials may be
 * coalesced, 0-RTT and Handshake packets skipped by their Length) until the flow is settled.
 * Returns true when it is. Sets *initials to the number of Initials that decrypted. */
static bool quic_datagram(struct engine *e, struct flow *f, const uint8_t *buf, size_t len,
                          unsigned *initials)
{
    size_t pos = 0;
    unsigned n;
    *initials = 0;
    for (n = 0; n < ENGINE_QUIC_MAX_COALESCED && pos < len; n++) {
        struct quic_initial qi;
        size_t off;
        struct quic_slot *qs = f->a.slot ? &e->qslots[f->a.slot - 1] : NULL;
        const struct quic_keys *keys = qs && qs->have_keys ? &qs->keys : NULL;
        enum dstatus st = quic_initial_parse(e->qctx, buf + pos, len - pos, keys, e->quic_plain,
                                             sizeof(e->quic_plain), &qi, &off);
        if (st == DS_MALFORMED && keys && qi.next_off &&
            !(qi.dcid.len == qs->odcid_len && memcmp(qi.dcid.p, qs->odcid, qi.dcid.len) == 0)) {
            /* Not under the flow's keys, but another DCID: after a Retry, or a second attempt
             * on the same 5-tuple, keys come from the new DCID. */
            st = quic_initial_parse(e->qctx, buf + pos, len - pos, NULL, e->quic_plain,
                                    sizeof(e->quic_plain), &qi, &off);
            if (st == DS_OK) {
                e->st.quic_restarts++;
                quic_slot_start(e, qs, &qi);
            }
        }
        if (st != DS_OK) {
            if (st == DS_MALFORMED)
                e->st.quic_malformed++;
            if (st == DS_MALFORMED && qi.next_off) {
                pos += qi.next_off; /* a forged or corrupted Initial: the rest may be real */
                continue;
            }
            return false;
        }
        pos += qi.next_off;
        if (len < QUIC_MIN_DATAGRAM) {
            /* A server drops client Initials in short datagrams: not what it acts on; queue
             * mode drops them too (one that takes them anyway never sees them) */
            e->st.quic_malformed++;
            e->last_set_aside = e->cfg.drop_short_initials;
            return false;
        }
        f->a.app = APP_QUIC;
        if (!qs) {
            qs = quic_slot(e, f);
            if (!qs) {
                e->st.quic_no_slot++;
                if (e->cfg.defer_no_buffer) {
                    /* queue mode: the datagram is dropped and the client sends its Initial
                     * again (after its probe timeout), maybe to a slot freed meanwhile */
                    e->last_deferred = true;
                    return false;
                }
                if (e->cfg.quic_no_slot_blocks)
                    return quic_judge_alone(e, f, &qi);
                decide_by_address(e, f);
                return true;
            }
            quic_slot_start(e, qs, &qi);
        }
        (*initials)++;
        e->cur_qs = qs;
        bool settled = quic_initial_frames(e, f, qs, &qi);
        e->cur_qs = NULL;
        if (settled)
            return true;
    }
    if (n == ENGINE_QUIC_MAX_COALESCED && pos < len)
        e->st.quic_coalesced_limit++;
    return false;
}

/* A client datagram of a UDP flow. Nothing short of a decrypting client Initial tells this flow
 * apart from QUIC, and a single datagram in front of it (a 0-RTT packet that overtook its
 * Initial, junk, an Initial of an unknown version answered by Version Negotiation) must not
 * blind the filter: the flow is read until an Initial's ClientHello is judged, then watched for
 * conflicting Initials, both within a budget of datagrams and bytes. A flow that spends it
 * without a judged hello is decided on its address and counted; with a hello begun (CRYPTO
 * bytes held), it is blocked by policy (method incomplete). */
static void inspect_udp(struct engine *e, struct flow *f, const struct pkt *p)
{
    /* the datagram that spends the budget is read too: one more of junk before it must not
     * hide an Initial; an Initial after the flow is settled starts a new flow
     * (quic_restarts_flow) */
    bool spent = f->pkts[0] > e->cfg.quic_max_datagrams ||
                 f->bytes[0] - p->payload_len >= e->cfg.quic_max_bytes;
    unsigned initials;
    if (quic_datagram(e, f, p->payload, p->payload_len, &initials)) {
        quic_done(e, f);
        return;
    }
    if (spent) {
        if (!(f->a.state & ENGINE_ST_EVENT)) {
            e->st.quic_budget_spent++;
            /* a hello begun and not finished: what its rest names cannot be known, and Initials
             * carrying nothing but PING or PADDING between its parts are the client's to send */
            const struct quic_slot *qs = f->a.slot ? &e->qslots[f->a.slot - 1] : NULL;
            if (qs && qs->c.high > 0)
                decide_by_policy(e, f, METHOD_INCOMPLETE, &e->st.quic_incomplete_blocked);
            else
                decide_by_address(e, f);
        }
        quic_done(e, f);
        return;
    }
    if (initials == 0 && !(f->a.state & ENGINE_ST_EVENT) && !e->last_deferred)
        e->st.quic_not_initial++; /* still waiting for a ClientHello */
}

/* ---- flow lifetime -------------------------------------------------------------------------- */

/* Called for every flow before it is recycled (expired, evicted, flushed). */
static void flow_end(struct flow *f, enum flowtab_why why, void *ctx)
{
    struct engine *e = ctx;
    if (why == FLOWTAB_EVICTED)
        e->st.flows_evicted++;
    if (!(f->a.state & ENGINE_ST_EVENT)) {
        /* Never reached a request: report it if it carried payload or its address is listed
         * (an ip entry, or an address the IP fallback resolved). */
        const uint8_t *dst = flowtab_server_addr(f);
        bool listed = verdict_addr_listed(e->rs, &e->cfg.policy, f->ipver, dst);
        if ((f->a.state & ENGINE_ST_PAYLOAD) || listed)
            decide_by_address(e, f);
    }
    quic_slot_release(e, f);
    if (e->names && f->proto == IPPROTO_TCP && f->a.slot) {
        namekeep_drop(e->names, f->a.slot);
        f->a.slot = 0;
    }
    tcpreasm_release(e->reasm, &f->tcp);
}

/* Reasons tcpreasm sets a segment aside that the receiving stack drops too (queue mode drops
 * such decoys instead of forwarding them). Duplicates, Fast Open waits and segments before any
 * sequence state are not among them: a receiver takes or acknowledges those. */
/* With the SYN-ACK unseen (queue mode), SYNs nothing could show the server took the way the
 * engine did: data on a SYN (Fast Open: the client sends it again after the handshake), a SYN
 * with another ISN than the first (a fake sent first would otherwise anchor the stream where
 * the server's is not). Dropping them keeps the server's sequence space the engine's. */
static bool queue_refuses(unsigned why)
{
    return why == TCPREASM_SYN_DATA || why == TCPREASM_BAD_SYN;
}

static bool receiver_drops(unsigned why)
{
    switch (why) {
    case TCPREASM_BAD_CSUM:
    case TCPREASM_NO_ACK:
    case TCPREASM_MD5:
    case TCPREASM_PAWS:
    case TCPREASM_WINDOW:
    case TCPREASM_BAD_ACK:
    case TCPREASM_RST_BAD_SEQ: return true;
    default: return false;
    }
}

/* p's flow, created (and numbered) if new (*created), remembered as the last frame's; NULL: no
 * room.
 * h: p's flow key hashed ahead (engine_push), or NULL to hash it here. */
static inline struct flow *flow_of(struct engine *e, struct pkt *p, const struct flowtab_hint *h,
                                   int *dir, bool *created)
{
    bool is_new;
    struct flow *f = h ? flowtab_get_hinted(e->ft, p, h, e->now_us, &is_new, dir)
                       : flowtab_get(e->ft, p, e->now_us, &is_new, dir);
    if (!f)
        return NULL;
    *created = is_new;
    if (is_new) {
        f->a.id = ++e->next_flow_id;
        e->st.flows++;
    }
    e->last_flow = f;
    e->last_dir = *dir;
    return f;
}

/* The counters and per-frame state every frame starts with. */
static inline void frame_start(struct engine *e, uint64_t ts_us, size_t caplen)
{
    e->st.frames++;
    e->st.bytes += caplen;
    e->now_us = ts_us;
    e->last_flow = NULL;
    e->last_set_aside = false;
    e->last_deferred = false;
    e->last_payload_len = 0;
}

/* ---- flows passed under an earlier rule set (engine_config.cut_passed) ---- */

/* True when f was decided and passed, and nothing blocked it since. It may still be inspected
 * (a ClientHello awaiting its server's answer): a cut mark set now is acted on at its first
 * packet once it is settled (cut_flow()). */
static bool passed_flow(const struct flow *f)
{
    return (f->a.state & (ENGINE_ST_EVENT | ENGINE_ST_BLOCKED)) == ENGINE_ST_EVENT &&
           f->a.verdict == VERDICT_PASS;
}

/* flowtab_foreach() callback of engine_set_rules(): marks a passed TCP flow whose server's
 * address the new set lists. */
static void mark_cut(struct flow *f, enum flowtab_why why, void *ctx)
{
    struct engine *e = ctx;
    (void)why;
    if (f->proto == IPPROTO_TCP && passed_flow(f) &&
        verdict_ip_entry(e->rs, &e->cfg.policy, f->ipver, flowtab_server_addr(f), NULL))
        f->fl |= FLOW_F_CUT;
}

/* True when f's kept name (engine_config.passed_names) is blocked by the current rule set; the
 * decision in e->res. */
static bool kept_name_blocks(struct engine *e, struct flow *f)
{
    if (!e->names || f->proto != IPPROTO_TCP || !f->a.slot)
        return false;
    const struct namekeep_entry *x = namekeep_get(e->names, f->a.slot);
    if (!x || x->owner != f || x->gen != f->a.id)
        return false;
    struct inspect_flow fl;
    flow_facts(e, f, &fl);
    inspect_decide_kept(e->rs, &e->cfg.policy, &fl, APP_TLS, x->ech, x->name, x->len, &e->res);
    return e->res.d.verdict == VERDICT_BLOCK;
}

/* engine_set_rules() with passed_names: every kept name judged again; a flow now blocked is
 * marked as mark_cut() marks one by its address. An entry whose flow is gone is let go. */
static void mark_cut_names(struct engine *e)
{
    for (uint32_t at = namekeep_next(e->names, 0); at; at = namekeep_next(e->names, at)) {
        const struct namekeep_entry *x = namekeep_get(e->names, at);
        struct flow *f = (struct flow *)(uintptr_t)x->owner;
        if (!(f->fl & FLOW_F_INUSE) || f->proto != IPPROTO_TCP || f->a.slot != at ||
            f->a.id != x->gen) {
            namekeep_drop(e->names, at); /* never expected: flow_end() lets names go */
            continue;
        }
        if (passed_flow(f) && kept_name_blocks(e, f))
            f->fl |= FLOW_F_CUT;
    }
}

/* tcpreasm_pool_evict_oldest()'s callback (engine_config.reasm_evict): t's buffer was taken
 * for another flow. Its flow can no longer be read: inspection ends, and it is marked to be
 * answered at its next packet (evicted_next()). method NO_ROOM on a flow still to be cut tells
 * such a mark from mark_cut()'s (which marks passes only). */
static void reasm_evicted(void *ctx, struct tcpreasm_state *t)
{
    struct engine *e = ctx;
    struct flow *f = (struct flow *)(void *)((char *)t - offsetof(struct flow, tcp));
    finish_flow_inspection(e, f); /* counted by the pool (tcpreasm_stats.evicted) */
    f->a.method = METHOD_NO_ROOM;
    f->fl |= FLOW_F_CUT;
}

/* The next packet of a flow whose reassembly buffer was taken (reasm_evicted()). A server
 * segment with data on a flow already decided is the answer to the request judged: the
 * decision stands. Client data - a request, or another copy of the one judged - is judged on
 * its own when one segment shows it whole, else blocked by policy (no-room): it cannot be
 * read, and a flood must not open the filter by taking the buffers. Server data on a flow
 * never decided (its request went unread) is blocked the same way. Segments without data
 * (ACKs, resets, FINs: a tap cannot tell a real reset from a fake) keep the mark. */
static void evicted_next(struct engine *e, struct flow *f, const struct pkt *p, int dir)
{
    if (!p->payload_len || (p->tcp_flags & TCPF_RST))
        return;
    f->fl &= (uint8_t)~FLOW_F_CUT;
    f->a.method = METHOD_NONE;
    if (dir == 1 && (f->a.state & ENGINE_ST_EVENT)) {
        if (e->cfg.cut_passed) /* a rule set published meanwhile may list its server */
            mark_cut(f, FLOWTAB_VISIT, e);
        if (kept_name_blocks(e, f)) /* ...or its name */
            f->fl |= FLOW_F_CUT;
        return;
    }
    e->cur_pkt = p;
    e->cur_dir = dir;
    e->cur_res = 0;
    f->a.state |= ENGINE_ST_PAYLOAD;
    if (dir == 1 || !judge_segment_alone(e, f, p))
        decide_by_policy(e, f, METHOD_NO_ROOM, &e->st.evicted_blocked);
    e->cur_pkt = NULL;
}

/* The next packet of a flow mark_cut() marked: the flow is decided again on its address (an IP
 * entry now, so a block) and reported as a cut with the sequence numbers p carries, which tap
 * mode's resets use. A reset is not answered, and the mark stays for the packet after it: a tap
 * cannot tell a real reset from a fake one its receiver drops (out of window), which would
 * otherwise spare the flow. */
static void cut_flow(struct engine *e, struct flow *f, const struct pkt *p, int dir)
{
    if (f->a.method == METHOD_NO_ROOM && !(f->a.state & ENGINE_ST_BLOCKED)) {
        evicted_next(e, f, p, dir);
        return;
    }
    if (f->a.state & ENGINE_ST_BLOCKED) { /* marked while still inspected, blocked since */
        f->fl &= (uint8_t)~FLOW_F_CUT;
        return;
    }
    if (p->tcp_flags & TCPF_RST)
        return;
    f->fl &= (uint8_t)~FLOW_F_CUT;
    e->cur_pkt = p;
    e->cur_dir = dir;
    e->cur_res = 0;
    e->cur_cut = true;
    if (f->a.method == METHOD_UNSEEN) {
        /* a flow first seen without its SYN while the capture dropped frames
         * (engine_cut_pickups()): its start, the request, may have gone with them */
        f->a.state |= ENGINE_ST_PAYLOAD;
        decide_by_policy(e, f, METHOD_UNSEEN, &e->st.pickups_blocked);
    } else if (kept_name_blocks(e, f)) {
        /* judged on its kept name when it has one (the address is part of that judgement),
         * else on its address */
        e->st.passed_name_cut++;
        emit(e, f, NULL, &e->res, (struct span){ 0 }, false, &e->res.d);
    } else {
        struct inspect_request rq;
        address_verdict(e, f, &rq);
        if (e->res.d.verdict == VERDICT_BLOCK) {
            e->st.passed_cut++;
            emit(e, f, NULL, NULL, rq.name, false, &e->res.d);
        }
    }
    e->cur_cut = false;
    e->cur_pkt = NULL;
}

/* engine_config.udp_answer_blocks: on an undecided UDP flow, whose client datagrams queue mode
 * holds, a server's QUIC datagram, or a client's QUIC Handshake packet (which follows one) */
static bool quic_answers_unseen(const struct pkt *p, int dir)
{
    enum quic_long_type t = quic_long_type(p->payload, p->payload_len);
    return dir == 1 ? t != QUIC_LT_NONE : t == QUIC_LT_HANDSHAKE;
}

/* h: p's flow key hashed ahead (engine_push), or NULL to hash it here; cs: its checksum policy
 * hint (0: none) */
static void handle_packet(struct engine *e, struct pkt *p, const struct flowtab_hint *h,
                          uint32_t cs)
{
    int dir;
    bool created;
    struct flow *f = flow_of(e, p, h, &dir, &created);
    if (!f)
        return;
    if (f->a.state & ENGINE_ST_DONE) {
        if (unlikely(f->fl & FLOW_F_CUT))
            cut_flow(e, f, p, dir);
        return; /* decided: nothing this flow sends can change that, so its checksums are not
                 * looked at either: one flow lookup is all such a packet costs */
    }
    csumpol_apply_hinted(e->cp, p, cs); /* may mark the checksum as not to be verified */
    if (e->cfg.tariff && e->cfg.tariff->subs && dir == 0 && !(f->a.state & ENGINE_ST_PAYLOAD)) {
        /* child tariffs: the client's map slot starts loading with each of its packets before
         * its first payload (the SYN, and again the handshake's last ACK, usually the packet
         * just before the request: other flows' packets since the SYN have pushed the slot out
         * of the caches), and the entry it names on the flow's first payload, while reassembly
         * and the dissectors run before the decision that reads them */
        if (p->payload_len)
            submap_prefetch_entry(e->cfg.tariff->subs, f->ipver, flowtab_client_addr(f));
        else
            submap_prefetch(e->cfg.tariff->subs, f->ipver, flowtab_client_addr(f));
    }
    e->cur_pkt = p;
    e->cur_dir = dir;
    e->cur_res = 0;
    if (f->proto == IPPROTO_TCP) {
        bool drop_unseen = false;
        if (unlikely(e->cfg.unseen_syn != ENGINE_UNSEEN_SYN_PICKUP) && !(p->tcp_flags & TCPF_SYN) &&
            !tcpreasm_syn_seen(&f->tcp)) {
            if (created)
                e->st.syn_unseen++;
            drop_unseen = e->cfg.unseen_syn == ENGINE_UNSEEN_SYN_DROP && dir == 0 &&
                          p->payload_len && !(f->a.state & ENGINE_ST_EVENT);
        }
        if (dir == 1 && (f->a.state & ENGINE_ST_HELLO) && p->payload_len &&
            !(p->tcp_flags & TCPF_SYN) && tcpreasm_server_inert(&f->tcp, f->client)) {
            /* The server answered the decided ClientHello (below: the inspection ends on it
             * whatever reassembly says). Its acknowledgement can release no client bytes, so
             * nothing in it can change the decision: it is neither summed nor tracked. */
            finish_flow_inspection(e, f);
            return;
        }
        if (e->cfg.reasm_per_client) /* whose share a new buffer counts against */
            tcpreasm_pool_owner(e->reasm, f->ipver, flowtab_client_addr(f));
        unsigned res = tcpreasm_segment(e->reasm, &f->tcp, f->client, p, dir);
        e->cur_res = res;
        if (res & TCPREASM_IGNORED) {
            if (TCPREASM_WHY(res) == TCPREASM_NO_BUFFER) {
                /* no buffer free (defer_no_buffer): the mode drops it, the client resends */
                e->st.reasm_deferred++;
                e->last_deferred = true;
                return;
            }
            e->st.reasm_ignored++;
            e->last_set_aside = receiver_drops(TCPREASM_WHY(res)) ||
                                (e->cfg.synack_unseen && queue_refuses(TCPREASM_WHY(res)));
        }
        if (res & TCPREASM_CONFLICT)
            e->st.reasm_conflicts++;
        if (unlikely(res & TCPREASM_NO_ALT) && e->cfg.conflict_no_room_blocks) {
            /* another version of bytes held, and no alternative view free to keep it: the
             * version the server takes cannot be judged */
            f->a.state |= ENGINE_ST_PAYLOAD;
            decide_by_policy(e, f, METHOD_NO_ROOM, &e->st.conflict_no_room_blocked);
            finish_flow_inspection(e, f);
            return;
        }
        if (unlikely(drop_unseen) && !e->last_set_aside) {
            /* queue.unseen_syn = drop: blocked at its first client data (taken first: the
             * resets start at the sequence numbers it shows) */
            f->a.state |= ENGINE_ST_PAYLOAD;
            decide_by_address(e, f);
            finish_flow_inspection(e, f);
            return;
        }
        if (res & TCPREASM_REANCHORED) {
            /* picked up mid-stream and the anchor moved (the server's ACKs disagreed with the
             * first client bytes seen): judge the stream again from its new start */
            f->a.app = APP_UNKNOWN;
            f->a.state &= (uint8_t) ~(ENGINE_ST_HELLO | ENGINE_ST_WATCH | ENGINE_ST_PHASE_MASK);
        }
        if (dir == 1 && (res & TCPREASM_NEW_DATA)) {
            /* a server segment made client bytes readable: Fast Open SYN data its SYN-ACK
             * acknowledged, or a mid-stream anchor its ACK corrected */
            f->a.state |= ENGINE_ST_PAYLOAD;
            inspect_tcp(e, f, res);
            if (f->a.state & ENGINE_ST_DONE)
                return;
        }
        if (dir == 1 && unlikely(e->cfg.unseen_blocks) && p->payload_len &&
            tcpreasm_acks_unseen(&f->tcp, p->ack)) {
            /* The server answers client bytes the tap never saw: the request it acts on was
             * never judged (a capture drop, fragments evicted before they could be put
             * together - which a flood of fragments brings about at will). The first request
             * of the flow, or a later one of a kept-alive HTTP connection: a decided
             * ClientHello's answer went by above. */
            f->a.state |= ENGINE_ST_PAYLOAD;
            decide_by_policy(e, f, METHOD_UNSEEN, &e->st.unseen_blocked);
            finish_flow_inspection(e, f);
            return;
        }
        if (dir == 1) {
            /* The server answered: it has read the ClientHello it will act on, or the HTTP
             * request whose bytes are held. */
            if ((f->a.state & ENGINE_ST_HELLO) && p->payload_len)
                finish_flow_inspection(e, f);
            /* ...or whatever it got instead of TLS/HTTP: no other view parsed, the address
             * decides */
            else if (st_notmine(f) && p->payload_len) {
                decide_by_address(e, f);
                finish_flow_inspection(e, f);
            } else if (st_held(f) && p->payload_len) {
                inspect_tcp(e, f, ENGINE_RES_SERVER);
            }
            return;
        }
        if (res & TCPREASM_GAVEUP) {
            e->st.reasm_no_buffer++;
            f->a.state |= ENGINE_ST_PAYLOAD;
            /* A client that holds its whole share of buffers (connections left half-sent)
             * gets no more: its request, if one segment does not show it whole, cannot be
             * read, and must not pass for that - else a flood of half-sent requests would
             * open the filter for its sender. The pool itself empty (many clients) leaves the
             * flow to its address, as before (docs/reassembly.md). */
            if (!judge_segment_alone(e, f, p)) {
                if ((res & TCPREASM_OWNER_LIMITED) && e->cfg.client_limit_blocks)
                    decide_by_policy(e, f, METHOD_CLIENT_LIMIT, &e->st.client_limit_blocked);
                else
                    decide_by_address(e, f);
            }
            finish_flow_inspection(e, f);
            return;
        }
        if (res & (TCPREASM_NEW_DATA | TCPREASM_CONFLICT)) {
            f->a.state |= ENGINE_ST_PAYLOAD;
            inspect_tcp(e, f, res);
        }
    } else if (unlikely(e->cfg.udp_answer_blocks) && p->payload_len &&
               !(f->a.state & ENGINE_ST_EVENT) && quic_answers_unseen(p, dir)) {
        /* the server answered (or the client goes on past) datagrams never seen */
        f->a.state |= ENGINE_ST_PAYLOAD;
        decide_by_policy(e, f, METHOD_UNSEEN, &e->st.unseen_blocked);
        quic_done(e, f);
    } else if (dir == 0 && p->payload_len) {
        f->a.state |= ENGINE_ST_PAYLOAD;
        inspect_udp(e, f, p);
    }
}

/* The rest of engine_frame() once a's frame has been decoded into a->p (decode_packet() result
 * a->r; decoding is pure, so it may have been done ahead) and, when that gave DECODE_OK, its
 * flow key hashed into a->h (flowtab_hint()). */
static void frame_decoded(struct engine *e, struct engine_ahead *a)
{
    uint64_t ts_us = a->ts_us;
    struct pkt *p = &a->p;
    enum decode_result r = a->r;
    frame_start(e, ts_us, a->caplen);
    e->st.decode[r]++;
    if (unlikely(r != DECODE_OK)) {
        const uint8_t *dg;
        size_t dlen;
        if (r != DECODE_FRAGMENT || defrag_add(e->defrag, p, ts_us, &dg, &dlen) != DEFRAG_DONE)
            return;
        r = decode_ip(dg, dlen, p);
        if (r != DECODE_OK) {
            e->st.decode[r]++;
            return;
        }
        (void)flowtab_hint(e->ft, p, &a->h); /* a datagram of its own */
        a->cs = 0;
    }
    if (unlikely(p->ipv6_bad_ext)) {
        /* an extension chain Linux drops (T13): the server never reads this packet */
        e->st.ipv6_bad_ext++;
        e->last_set_aside = true;
        return;
    }
    if (unlikely(ts_us - e->last_expire_us >= ENGINE_EXPIRE_EVERY_US)) {
        if (e->last_expire_us) {
            flowtab_expire(e->ft, ts_us, flow_end, e);
            defrag_expire(e->defrag, ts_us);
        }
        e->last_expire_us = ts_us;
    }
    e->cur_link = a->link;
    e->cur_frame = a->frame;
    e->cur_frame_len = a->caplen;
    e->last_payload_len = p->payload_len;
    e->last_seq = p->seq;
    handle_packet(e, p, &a->h, a->cs);
    e->cur_pkt = NULL;
}

void engine_frame(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame, size_t caplen)
{
    if (unlikely(e->ahead_in != e->ahead_out))
        engine_drain(e); /* frames pushed before this one go first */
    struct engine_ahead a;
    a.link = link;
    a.ts_us = ts_us;
    a.frame = frame;
    a.caplen = caplen;
    a.cs = 0; /* the policy looks p's source up itself */
    a.r = decode_packet(link, frame, caplen, &a.p);
    if (a.r == DECODE_OK)
        (void)flowtab_hint(e->ft, &a.p, &a.h);
    frame_decoded(e, &a);
}

void engine_frame_cut(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame,
                      size_t caplen, size_t wirelen)
{
    if (unlikely(e->ahead_in != e->ahead_out))
        engine_drain(e);
    frame_start(e, ts_us, caplen);
    e->st.cut++;
    /* the headers are in the captured part; the payload's missing bytes read as zeros, so the
     * lengths and the flow key decode as sent. Nothing of the payload is inspected. */
    size_t n = wirelen < ENGINE_CUT_MAX ? wirelen : ENGINE_CUT_MAX;
    size_t have = caplen < n ? caplen : n;
    memcpy(e->cut, frame, have);
    memset(e->cut + have, 0, n - have);
    struct pkt p;
    enum decode_result r = decode_packet(link, e->cut, n, &p);
    if (r != DECODE_OK || p.ipv6_bad_ext) {
        e->st.cut_undecoded++; /* a fragment, a tunnel or a datagram larger than the buffer */
        return;
    }
    int dir;
    bool created;
    struct flow *f = flow_of(e, &p, NULL, &dir, &created);
    if (!f || (created && f->proto == IPPROTO_TCP && e->cfg.unseen_syn == ENGINE_UNSEEN_SYN_PICKUP))
        return; /* picked up mid-stream: which side is the client is not known (queue mode:
                 * the rules queue only client data and the server's answer, the ports tell) */
    /* a decided ClientHello or QUIC Initial is not changed by what follows it (0-RTT data);
     * HTTP judges every request, so a cut one after a decided request still counts */
    bool hello_decided = (f->a.state & ENGINE_ST_EVENT) &&
                         (f->a.app == APP_TLS || f->a.app == APP_QUIC || f->proto != IPPROTO_TCP);
    if ((f->a.state & ENGINE_ST_DONE) || hello_decided || dir != 0 || !p.payload_len)
        return;
    e->cur_pkt = &p;
    e->cur_dir = 0;
    e->cur_res = 0;
    e->cur_link = link;
    e->cur_frame = e->cut;
    e->cur_frame_len = n;
    e->last_payload_len = p.payload_len;
    e->last_seq = p.seq;
    decide_by_policy(e, f, METHOD_TRUNCATED, &e->st.cut_blocked);
    finish_flow_inspection(e, f);
    e->cur_pkt = NULL;
}

static void look_ahead(const struct engine *e, struct engine_ahead *a);

void engine_push(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame, size_t caplen)
{
    const uint32_t m = ENGINE_RING - 1;
    struct engine_ahead *a = &e->ring[e->ahead_in & m];
    a->link = link;
    a->ts_us = ts_us;
    a->frame = frame;
    a->caplen = caplen;
    look_ahead(e, a);
    e->ahead_in++;
    if (e->ahead_in - e->ahead_out > ENGINE_AHEAD / 2) /* its index entry has had time */
        flowtab_prefetch_flow(e->ft, &e->ring[(e->ahead_in - 1 - ENGINE_AHEAD / 2) & m].h);
    if (e->ahead_in - e->ahead_out > ENGINE_AHEAD)
        frame_decoded(e, &e->ring[e->ahead_out++ & m]);
}

void engine_drain(struct engine *e)
{
    while (e->ahead_out != e->ahead_in)
        frame_decoded(e, &e->ring[e->ahead_out++ & (ENGINE_RING - 1)]);
}

/* Decodes a's frame, hashes its flow key and prefetches the key's index entry and its source's
 * checksum policy entry. */
static void look_ahead(const struct engine *e, struct engine_ahead *a)
{
    a->r = decode_packet(a->link, a->frame, a->caplen, &a->p);
    if (likely(a->r == DECODE_OK) && flowtab_hint(e->ft, &a->p, &a->h)) { /* + index entry */
        a->cs = csumpol_prefetch(e->cp, &a->p); /* needed if the flow is still being judged */
        /* the payload's lines after the first (the reader prefetched that one): an undecided
         * flow's segment is checksummed and reassembled when the frame is handled */
        size_t off = 64, n = e->cfg.frames_cached ? 0 : a->p.payload_len;
        for (; off + 64 < n; off += 128) {
            __builtin_prefetch(a->p.payload + off);
            __builtin_prefetch(a->p.payload + off + 64);
        }
        if (off < n)
            __builtin_prefetch(a->p.payload + off);
    } else {
        a->h.valid = 0;
        a->cs = 0;
    }
}

void engine_frame_info(const struct engine *e, struct engine_frame_info *fi)
{
    memset(fi, 0, sizeof(*fi));
    fi->set_aside = e->last_set_aside;
    fi->deferred = e->last_deferred;
    const struct flow *f = e->last_flow;
    if (!f)
        return;
    fi->flow = f;
    fi->flow_id = f->a.id;
    fi->l4proto = f->proto;
    fi->from_client = e->last_dir == 0;
    fi->payload_len = e->last_payload_len;
    fi->seq = e->last_seq;
    fi->decided = (f->a.state & ENGINE_ST_EVENT) != 0;
    fi->blocked = (f->a.state & ENGINE_ST_BLOCKED) != 0;
    fi->done = (f->a.state & ENGINE_ST_DONE) != 0;
    fi->keepalive =
        f->proto == IPPROTO_TCP && (f->a.app == APP_HTTP || f->a.app == APP_H2C) &&
        (f->a.state & (ENGINE_ST_EVENT | ENGINE_ST_BLOCKED | ENGINE_ST_DONE)) == ENGINE_ST_EVENT;
    fi->not_mine = f->proto == IPPROTO_TCP && st_notmine(f) &&
                   !(f->a.state & (ENGINE_ST_EVENT | ENGINE_ST_DONE));
}

bool engine_judge_now(struct engine *e, const void *handle, uint64_t flow_id)
{
    struct flow *f = (struct flow *)(uintptr_t)handle;
    if (!f || !(f->fl & FLOW_F_INUSE) || f->a.id != flow_id || (f->a.state & ENGINE_ST_DONE))
        return false;
    if (f->a.state & ENGINE_ST_EVENT) {
        /* decided (it passed) and still watched: settle it as it is */
        if (f->proto == IPPROTO_TCP)
            finish_flow_inspection(e, f);
        else
            quic_done(e, f);
        return false;
    }
    e->cur_pkt = NULL;
    if (f->proto == IPPROTO_TCP && e->cfg.unseen_blocks &&
        tcpreasm_holds_past_hole(e->reasm, &f->tcp)) {
        /* bytes held past a hole at the bounds: the hole's went by unjudged (a queue full
         * failing open: the kernel accepted them) and the server may act on them */
        f->a.state |= ENGINE_ST_PAYLOAD;
        decide_by_policy(e, f, METHOD_UNSEEN, &e->st.unseen_blocked);
    } else {
        decide_by_address(e, f);
    }
    if (f->proto == IPPROTO_TCP)
        finish_flow_inspection(e, f);
    else
        quic_done(e, f);
    return true;
}

bool engine_refuse(struct engine *e, const void *handle, uint64_t flow_id, enum verdict_method m)
{
    struct flow *f = (struct flow *)(uintptr_t)handle;
    if (!f || !(f->fl & FLOW_F_INUSE) || f->a.id != flow_id || (f->a.state & ENGINE_ST_DONE))
        return false;
    e->cur_pkt = NULL;
    decide_by_policy(e, f, m, &e->st.watch_limit_blocked);
    if (f->proto == IPPROTO_TCP)
        finish_flow_inspection(e, f);
    else
        quic_done(e, f);
    return true;
}

void engine_finish(struct engine *e)
{
    engine_drain(e);
    flowtab_flush(e->ft, flow_end, e);
}

/* ---- set-up --------------------------------------------------------------------------------- */

static void evicted(struct flow *f, enum flowtab_why why, void *ctx)
{
    flow_end(f, why, ctx);
}

/* flowtab_cfg.busy: a QUIC flow reassembling its ClientHello in a slot must not be evicted by a
 * flood of new flows (its next Initial would start a flow of its own, without the hello's start) */
static bool flow_busy(const struct flow *f, void *ctx)
{
    (void)ctx;
    return f->proto == IPPROTO_UDP && f->a.slot != 0;
}

struct engine *engine_new(const struct engine_config *cfg, const struct ruleset *rs,
                          engine_event_fn cb, void *ctx)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cfg = *cfg;
    e->rs = rs;
    e->cb = cb;
    e->ctx = ctx;

    e->reasm =
        tcpreasm_pool_new((uint32_t)cfg->reasm_buffers, (uint32_t)(cfg->reasm_buffers / 8 + 1),
                          (uint32_t)cfg->reasm_bytes);
    if (e->reasm) {
        tcpreasm_pool_synack_unseen(e->reasm, cfg->synack_unseen);
        tcpreasm_pool_defer_empty(e->reasm, cfg->defer_no_buffer);
        if ((cfg->reasm_per_client &&
             tcpreasm_pool_owner_limit(e->reasm, cfg->reasm_per_client, cfg->client_prefix6)) ||
            (cfg->reasm_evict && tcpreasm_pool_evict_oldest(e->reasm, reasm_evicted, e))) {
            tcpreasm_pool_free(e->reasm);
            e->reasm = NULL;
        }
    }
    struct flowtab_cfg fc;
    flowtab_cfg_default(&fc);
    fc.max_flows = (uint32_t)cfg->max_flows;
    fc.tcp_est_us = (uint64_t)cfg->tcp_idle_s * 1000000u;
    fc.udp_us = (uint64_t)cfg->udp_idle_s * 1000000u;
    fc.on_evict = evicted;
    fc.evict_ctx = e;
    fc.udp_restarts = quic_restarts_flow;
    fc.busy = flow_busy;
    fc.reasm = e->reasm;
    e->ft = flowtab_new(&fc);
    struct defrag_cfg dc;
    defrag_cfg_default(&dc);
    dc.max_datagrams = (uint32_t)cfg->defrag_slots;
    e->defrag = defrag_new(&dc);
    e->qctx = quic_ctx_new();
    e->h2 = cfg->h2c_conns ? h2c_pool_new((unsigned)cfg->h2c_conns) : NULL;
    e->nqslots = (uint32_t)(cfg->quic_slots > 65535 ? 65535 : cfg->quic_slots);
    e->qslots = calloc(e->nqslots ? e->nqslots : 1, sizeof(*e->qslots));
    e->qspare = cfg->quic_no_slot_blocks ? calloc(1, sizeof(*e->qspare)) : NULL;
    e->names =
        cfg->passed_names && cfg->cut_passed
            ? namekeep_new(cfg->passed_names > NAMEKEEP_MAX ? NAMEKEEP_MAX : cfg->passed_names)
            : NULL;
    if (e->names &&
        !namekeep_set_share(e->names, cfg->passed_names_per_client, cfg->client_prefix6)) {
        namekeep_free(e->names);
        e->names = NULL; /* out of memory: refused below */
    }
    e->qfree = calloc(e->nqslots ? e->nqslots : 1, sizeof(*e->qfree));
    e->scratch_cap = cfg->reasm_bytes;
    e->scratch = malloc(e->scratch_cap);
    e->cut = malloc(ENGINE_CUT_MAX);
    e->cp = csumpol_new((enum csumpol_mode)cfg->checksums);
    /* both memos in one block on a huge page (common/bigmem.h): flows land anywhere in them,
     * so a run soon touches every 4 KiB page of both (125 page faults in the mobile benchmark
     * capture's scan, one now) */
    e->memo = bigmem_alloc(MEMO_BYTES);
    e->held = e->memo ? (struct held_memo *)((uint8_t *)e->memo + PASS_MEMO_BYTES) : NULL;
    if (!e->reasm || !e->ft || !e->defrag || !e->qctx || !e->qslots || !e->qfree || !e->scratch ||
        (cfg->quic_no_slot_blocks && !e->qspare) || !e->cut || !e->cp || !e->memo || !e->held ||
        (cfg->h2c_conns && !e->h2) || (cfg->passed_names && cfg->cut_passed && !e->names)) {
        engine_free(e);
        return NULL;
    }
    for (uint32_t i = 0; i < e->nqslots; i++)
        e->qfree[e->qfree_n++] = (uint16_t)(e->nqslots - 1 - i);
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    flowtab_free(e->ft);
    tcpreasm_pool_free(e->reasm);
    defrag_free(e->defrag);
    quic_ctx_free(e->qctx);
    h2c_pool_free(e->h2);
    namekeep_free(e->names);
    free(e->qslots);
    free(e->qspare);
    free(e->qfree);
    free(e->scratch);
    free(e->cut);
    csumpol_free(e->cp);
    bigmem_free(e->memo, MEMO_BYTES); /* (held is in the same block) */
    free(e);
}

void engine_set_rules(struct engine *e, const struct ruleset *rs)
{
    e->rs = rs;
    e->gen++;
    if (e->cfg.cut_passed && rs)
        flowtab_foreach(e->ft, mark_cut, e);
    if (e->names && rs)
        mark_cut_names(e);
}

struct pickups {
    struct engine *e;
    uint32_t since_s;
    size_t n;
};

/* engine_cut_pickups(): a TCP flow first seen without its SYN since c->since_s, not blocked,
 * is marked to be blocked at its next packet (cut_flow(): method unseen) */
static void mark_pickup(struct flow *f, enum flowtab_why why, void *ctx)
{
    struct pickups *c = ctx;
    (void)why;
    if (f->proto != IPPROTO_TCP || f->first_s < c->since_s || tcpreasm_syn_seen(&f->tcp) ||
        (f->a.state & ENGINE_ST_BLOCKED) || (f->fl & FLOW_F_CUT))
        return;
    if (!(f->a.state & ENGINE_ST_DONE))
        finish_flow_inspection(c->e, f);
    f->a.method = METHOD_UNSEEN;
    f->fl |= FLOW_F_CUT;
    c->n++;
}

size_t engine_cut_pickups(struct engine *e, uint32_t window_s)
{
    uint32_t now_s = (uint32_t)(e->now_us / 1000000u);
    struct pickups c = { e, now_s > window_s ? now_s - window_s : 0, 0 };
    flowtab_foreach(e->ft, mark_pickup, &c);
    e->st.pickups_cut += c.n;
    return c.n;
}

void engine_judge_kept(struct engine *e)
{
    if (e->names && e->rs)
        mark_cut_names(e);
}

void engine_set_policy(struct engine *e, const struct verdict_policy *pol)
{
    e->cfg.policy = *pol;
    e->gen++;
}

void engine_get_stats(const struct engine *e, struct engine_stats *st)
{
    struct defrag_stats ds;
    struct tcpreasm_stats ts;
    *st = e->st;
    defrag_get_stats(e->defrag, &ds);
    st->frag_in = ds.fragments;
    st->frag_done = ds.completed;
    st->frag_dropped = ds.duplicates + ds.overlaps + ds.timeouts + ds.evicted + ds.too_big +
                       ds.bad_len + ds.hdr_too_big;
    tcpreasm_get_stats(e->reasm, &ts);
    st->reasm_conflicts = ts.conflicts;
    st->reasm_grown = ts.bufs_grown;
    st->reasm_client_limited = ts.owner_limited;
    st->reasm_evicted = ts.evicted;
    if (e->names) {
        struct namekeep_stats ns;
        namekeep_get_stats(e->names, &ns);
        st->passed_names_kept = ns.in_use;
        st->passed_names_full = ns.full;
        st->passed_names_client_full = ns.client_full;
    }
    st->csum_set_aside = ts.ignored[TCPREASM_BAD_CSUM];
    struct csumpol_stats cs;
    csumpol_get_stats(e->cp, &cs);
    st->csum_accepted = cs.accepted;
    st->csum_sources_ignored = cs.sources_ignore;
}
