/* engine.c - the shared packet path: frame -> decode -> defrag -> flow -> reassembly ->
 * dissect -> verdict -> event. Read it top to bottom: engine_frame() is the entry, each stage
 * below it is one function. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "decode.h"
#include "defrag.h"
#include "engine.h"
#include "flowtab.h"
#include "h2c.h"
#include "http.h"
#include "normalize.h"
#include "quic.h"
#include "tcpreasm.h"
#include "tls.h"

/* flow_app.state bits */
#define ENGINE_ST_DONE     0x01  /* nothing more to inspect on this flow */
#define ENGINE_ST_EVENT    0x02  /* at least one decision was reported */
#define ENGINE_ST_BLOCKED  0x04
#define ENGINE_ST_HELLO    0x08  /* TLS: the ClientHello was decided; watching for conflicts */
#define ENGINE_ST_PAYLOAD  0x10  /* the client sent payload */

#define ENGINE_EXPIRE_EVERY_US 1000000u

struct engine {
    struct engine_config cfg;
    const struct ruleset *rs;
    engine_event_fn cb;
    void *ctx;

    struct flowtab *ft;
    struct tcpreasm_pool *reasm;
    struct defrag *defrag;
    struct quic_ctx *qctx;

    struct quic_slot *qslots;    /* QUIC handshake state, one slot per flow in its handshake */
    uint16_t *qfree;             /* free slot stack */
    uint32_t nqslots, qfree_n;

    uint8_t *scratch;            /* multi-record ClientHello bodies */
    size_t scratch_cap;
    uint8_t quic_plain[QUIC_PLAIN_MAX];
    char url[8 + NORM_HOST_MAX + NORM_PATH_MAX];
    char path[NORM_PATH_MAX];

    uint32_t next_flow_id;
    uint64_t last_expire_us;
    uint64_t now_us;
    struct engine_stats st;
};

/* A QUIC flow in its handshake: the Initial keys of its first DCID (the client keeps them after
 * it switches DCID) and the CRYPTO stream. */
struct quic_slot {
    struct quic_keys keys;
    bool have_keys;
    struct quic_crypto c;
};

/* What one dissected request says, before normalization. */
struct request {
    enum verdict_app app;
    struct span name;            /* SNI, Host, :authority (raw) */
    struct span name2;           /* HTTP: a second Host header */
    struct span path;            /* HTTP request-target path (raw), empty for TLS/QUIC */
    struct span alpn;
    bool ech;
    bool has_path;
};

void engine_config_default(struct engine_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_flows = 1u << 20;
    c->reasm_bytes = 16 * 1024;
    c->reasm_buffers = 8192;
    c->max_requests = 64;
    c->defrag_slots = 1024;
    c->quic_slots = 1024;
    c->tcp_idle_s = 300;
    c->udp_idle_s = 60;
    c->policy.https_url = VERDICT_HTTPS_URL_BLOCK_NAME;
}

/* ---- events ------------------------------------------------------------------------------- */

static void emit(struct engine *e, struct flow *f, const struct request *rq, const char *name,
                 size_t name_len, const char *url, size_t url_len, bool alt,
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
    ev.name = name;
    ev.name_len = name_len;
    if (!name && rq && rq->name.len) {
        ev.raw_name = (const char *)rq->name.p;
        ev.raw_name_len = rq->name.len;
    }
    ev.url = url;
    ev.url_len = url_len;
    if (rq && rq->alpn.len) {
        ev.alpn = (const char *)rq->alpn.p;
        ev.alpn_len = rq->alpn.len;
    }
    ev.ech = rq && rq->ech;
    ev.req = (unsigned)f->a.nreq + 1;
    ev.alt = alt;
    ev.d = *d;

    f->a.state |= ENGINE_ST_EVENT;
    f->a.verdict = (uint8_t)d->verdict;
    f->a.method = (uint8_t)d->method;
    e->st.decisions++;
    if (d->verdict == VERDICT_BLOCK) {
        e->st.blocks++;
        f->a.state |= ENGINE_ST_BLOCKED | ENGINE_ST_DONE;
    }
    e->cb(e->ctx, &ev);
}

/* A flow that ended or gave up without a request we could read: judged on its address alone. */
static void decide_by_address(struct engine *e, struct flow *f)
{
    struct verdict_facts vf;
    struct verdict_decision d;
    memset(&vf, 0, sizeof(vf));
    vf.app = (enum verdict_app)f->a.app;
    vf.udp = f->proto == IPPROTO_UDP;
    vf.ipver = f->ipver;
    vf.dst = flowtab_server_addr(f);
    verdict_decide(e->rs, &e->cfg.policy, &vf, &d);
    emit(e, f, NULL, NULL, 0, NULL, 0, false, &d);
}

/* ---- decisions on requests ------------------------------------------------------------------ */

/* Normalizes one name candidate and decides it. Returns true if it blocked. */
static bool decide_request(struct engine *e, struct flow *f, const struct request *rq,
                           struct span rawname, bool alt)
{
    char name[NORM_HOST_MAX];
    size_t name_len = 0, path_len = 0, url_len = 0;
    enum norm_host_kind kind = NORM_HOST_NAME;
    struct verdict_facts vf;
    struct verdict_decision d;
    bool have_name = false;

    memset(&vf, 0, sizeof(vf));
    vf.app = rq->app;
    vf.udp = f->proto == IPPROTO_UDP;
    vf.ipver = f->ipver;
    vf.dst = flowtab_server_addr(f);
    vf.name_hidden = rq->ech;

    if (rawname.len) {
        if (norm_host(rawname.p, rawname.len, name, &name_len, &kind) == NORM_OK) {
            have_name = true;
            vf.name = name;
            vf.name_len = name_len;
            vf.name_is_ip = kind != NORM_HOST_NAME;
        } else {
            e->st.name_invalid++;
        }
    }
    if (have_name && rq->has_path) {
        if (rq->path.len && rq->path.p[0] == '/' &&
            norm_path(rq->path.p, rq->path.len, e->path, sizeof(e->path), &path_len) == NORM_OK) {
            vf.path = e->path;
            vf.path_len = path_len;
        } else {
            vf.path = "/";
            vf.path_len = 1;
        }
        vf.path_visible = true;
        int n = snprintf(e->url, sizeof(e->url), "http://%s%.*s", name, (int)vf.path_len, vf.path);
        url_len = n < 0 ? 0 : ((size_t)n < sizeof(e->url) ? (size_t)n : sizeof(e->url) - 1);
    }
    verdict_decide(e->rs, &e->cfg.policy, &vf, &d);
    if (rawname.len && !have_name) {
        struct request raw = *rq;
        raw.name = rawname;
        emit(e, f, &raw, NULL, 0, NULL, 0, alt, &d);
    } else {
        emit(e, f, rq, have_name ? name : NULL, name_len, url_len ? e->url : NULL, url_len, alt, &d);
    }
    return d.verdict == VERDICT_BLOCK;
}

static void finish_flow_inspection(struct engine *e, struct flow *f)
{
    f->a.state |= ENGINE_ST_DONE;
    tcpreasm_release(e->reasm, f);
}

/* ---- TLS ------------------------------------------------------------------------------------ */

/* Parses a ClientHello from one view of the stream. Returns the dissector status. */
static enum dstatus tls_view(struct engine *e, const uint8_t *d, size_t len, struct request *rq,
                             size_t *consumed)
{
    struct tls_hello h;
    size_t off = 0;
    enum dstatus st = tls_hello_parse(d, len, e->scratch, e->scratch_cap, &h, &off);
    if (st != DS_OK)
        return st;
    memset(rq, 0, sizeof(*rq));
    rq->app = APP_TLS;
    rq->name = h.has_sni ? h.sni : (struct span){ NULL, 0 };
    rq->alpn = h.alpn;
    rq->ech = h.has_ech || h.has_esni;
    *consumed = h.consumed;
    return DS_OK;
}

static void inspect_tls(struct engine *e, struct flow *f, unsigned res)
{
    size_t len, alen, consumed;
    const uint8_t *d = tcpreasm_data(e->reasm, f, &len);
    const uint8_t *a = tcpreasm_alt(e->reasm, f, &alen);
    struct request rq;

    if (f->a.state & ENGINE_ST_HELLO) {
        /* Already decided: only a conflicting copy of the hello bytes can change that. */
        if (!(res & TCPREASM_CONFLICT) || !a)
            return;
        if (tls_view(e, a, alen, &rq, &consumed) == DS_OK) {
            if (rq.ech)
                e->st.ech++;
            decide_request(e, f, &rq, rq.name, true);
        }
        return;
    }

    enum dstatus st = tls_view(e, d, len, &rq, &consumed);
    if (st == DS_NEED_MORE) {
        if (len < tcpreasm_bufsize(e->reasm))
            return;
        st = DS_LIMIT;
    }
    if (st != DS_OK) {
        if (st == DS_LIMIT)
            e->st.tls_limit++;
        else
            e->st.tls_malformed++;
        decide_by_address(e, f);
        finish_flow_inspection(e, f);
        return;
    }
    if (rq.ech)
        e->st.ech++;
    f->a.state |= ENGINE_ST_HELLO;
    if (decide_request(e, f, &rq, rq.name, false)) {
        finish_flow_inspection(e, f);
        return;
    }
    f->a.nreq++;
    /* The alternative view (a fake copy seen first, T4/S2) is judged too: block if either does. */
    if (a && tls_view(e, a, alen, &rq, &consumed) == DS_OK) {
        if (decide_request(e, f, &rq, rq.name, true))
            finish_flow_inspection(e, f);
    }
}

/* ---- HTTP/1.x ------------------------------------------------------------------------------- */

/* Fills rq from a parsed request head; the request-target's authority wins over Host (H12). */
static void http_request(const struct http_req *r, struct request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->app = APP_HTTP;
    rq->has_path = true;
    if (r->abs_authority.len) {
        rq->name = r->abs_authority;
        rq->path = r->abs_path;
        rq->name2 = r->host;     /* a filter must block if either names a blocked host */
    } else if (r->method.len == 7 && memcmp(r->method.p, "CONNECT", 7) == 0) {
        rq->name = r->target;
        rq->has_path = false;
        rq->name2 = r->host;
    } else {
        rq->name = r->host;
        rq->name2 = r->host2;    /* H13: two Host headers */
        rq->path = r->target;
    }
}

/* Decides one request (both names when there are two). Returns true if it blocked. */
static bool http_decide(struct engine *e, struct flow *f, const struct http_req *r, bool alt)
{
    struct request rq;
    http_request(r, &rq);
    if (decide_request(e, f, &rq, rq.name, alt))
        return true;
    if (rq.name2.len && !(rq.name2.len == rq.name.len && memcmp(rq.name2.p, rq.name.p, rq.name.len) == 0)) {
        rq.has_path = rq.has_path && !r->abs_authority.len;
        return decide_request(e, f, &rq, rq.name2, alt);
    }
    return false;
}

static void inspect_http(struct engine *e, struct flow *f)
{
    for (;;) {
        size_t len, alen, off = 0;
        const uint8_t *d = tcpreasm_data(e->reasm, f, &len);
        struct http_req r;
        if (!d)
            return;
        enum dstatus st = http_req_parse(d, len, &r, &off);
        if (st == DS_NEED_MORE) {
            if (len < tcpreasm_bufsize(e->reasm))
                return;
            st = DS_LIMIT;
        }
        if (st != DS_OK) {
            if (st == DS_LIMIT)
                e->st.http_limit++;
            else
                e->st.http_malformed++;
            if (!(f->a.state & ENGINE_ST_EVENT))
                decide_by_address(e, f);
            finish_flow_inspection(e, f);
            return;
        }
        if (http_decide(e, f, &r, false)) {
            finish_flow_inspection(e, f);
            return;
        }
        const uint8_t *a = tcpreasm_alt(e->reasm, f, &alen);
        struct http_req ra;
        if (a && http_req_parse(a, alen, &ra, &off) == DS_OK && http_decide(e, f, &ra, true)) {
            finish_flow_inspection(e, f);
            return;
        }
        f->a.nreq++;
        if (r.chunked || r.upgrade_h2c || f->a.nreq >= e->cfg.max_requests) {
            /* A chunked body hides where the next request starts; past max_requests we stop. */
            finish_flow_inspection(e, f);
            return;
        }
        tcpreasm_consume(e->reasm, f, r.head_len + (size_t)r.content_length);
    }
}

/* ---- h2c (HTTP/2 with prior knowledge) ------------------------------------------------------ */

static void inspect_h2c(struct engine *e, struct flow *f)
{
    size_t len;
    const uint8_t *d = tcpreasm_data(e->reasm, f, &len);
    struct h2c_request hr;
    size_t off = 0;
    enum dstatus st = h2c_request_parse(d, len, e->scratch, e->scratch_cap, &hr, &off);
    if (st == DS_NEED_MORE && len < tcpreasm_bufsize(e->reasm))
        return;
    if (st != DS_OK) {
        e->st.http_malformed++;
        decide_by_address(e, f);
        finish_flow_inspection(e, f);
        return;
    }
    struct request rq;
    memset(&rq, 0, sizeof(rq));
    rq.app = APP_H2C;
    rq.name = hr.authority;
    rq.path = hr.path;
    rq.has_path = true;
    decide_request(e, f, &rq, rq.name, false);
    finish_flow_inspection(e, f);
}

/* ---- TCP: which dissector ------------------------------------------------------------------- */

static void inspect_tcp(struct engine *e, struct flow *f, unsigned res)
{
    size_t len;
    const uint8_t *d = tcpreasm_data(e->reasm, f, &len);
    if (!d || len == 0)
        return;
    if (f->a.app == APP_UNKNOWN) {
        if (d[0] == 0x16) {
            f->a.app = APP_TLS;
        } else if (http_is_h2_preface(d, len)) {
            if (len < 24)
                return;
            f->a.app = APP_H2C;
        } else {
            struct http_req r;
            size_t off;
            enum dstatus st = http_req_parse(d, len, &r, &off);
            if (st == DS_NOT_MINE) {
                decide_by_address(e, f);
                finish_flow_inspection(e, f);
                return;
            }
            f->a.app = APP_HTTP;
        }
    }
    switch (f->a.app) {
    case APP_TLS:
        inspect_tls(e, f, res);
        break;
    case APP_HTTP:
        inspect_http(e, f);
        break;
    case APP_H2C:
        inspect_h2c(e, f);
        break;
    default:
        break;
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
    e->qslots[s].have_keys = false;
    quic_crypto_init(&e->qslots[s].c);
    return &e->qslots[s];
}

static void quic_slot_release(struct engine *e, struct flow *f)
{
    if (f->a.slot) {
        e->qfree[e->qfree_n++] = (uint16_t)(f->a.slot - 1);
        f->a.slot = 0;
    }
}

static void inspect_udp(struct engine *e, struct flow *f, const struct pkt *p)
{
    struct quic_initial qi;
    size_t off = 0;

    if (!e->qctx) {
        decide_by_address(e, f);
        f->a.state |= ENGINE_ST_DONE;
        return;
    }
    struct quic_slot *qs = f->a.slot ? &e->qslots[f->a.slot - 1] : NULL;
    enum dstatus st = quic_initial_parse(e->qctx, p->payload, p->payload_len,
                                         qs && qs->have_keys ? &qs->keys : NULL, e->quic_plain,
                                         sizeof(e->quic_plain), &qi, &off);
    if (st == DS_NOT_MINE && f->a.app == APP_UNKNOWN) {
        decide_by_address(e, f);
        f->a.state |= ENGINE_ST_DONE;
        return;
    }
    if (st != DS_OK || qi.short_datagram) {
        /* A forged or corrupted Initial (Q3), or one a server drops for its size: not what the
         * server acts on. Ignore it and keep waiting. */
        e->st.quic_malformed++;
        return;
    }
    f->a.app = APP_QUIC;
    qs = quic_slot(e, f);
    if (!qs) {
        e->st.quic_no_slot++;
        decide_by_address(e, f);
        f->a.state |= ENGINE_ST_DONE;
        return;
    }
    if (!qs->have_keys &&
        quic_keys_derive(e->qctx, qi.version, qi.dcid.p, qi.dcid.len, false, &qs->keys) == 0)
        qs->have_keys = true;
    if (quic_crypto_add_frames(&qs->c, qi.frames.p, qi.frames.len, &off) == DS_MALFORMED) {
        e->st.quic_malformed++;
        return;
    }
    struct tls_hello h;
    st = quic_crypto_hello(&qs->c, &h, &off);
    if (st == DS_NEED_MORE)
        return;
    struct request rq;
    memset(&rq, 0, sizeof(rq));
    rq.app = APP_QUIC;
    if (st == DS_OK) {
        rq.name = h.has_sni ? h.sni : (struct span){ NULL, 0 };
        rq.alpn = h.alpn;
        rq.ech = h.has_ech || h.has_esni;
        if (rq.ech)
            e->st.ech++;
        decide_request(e, f, &rq, rq.name, false);
    } else {
        e->st.quic_malformed++;
        decide_by_address(e, f);
    }
    quic_slot_release(e, f);
    f->a.state |= ENGINE_ST_DONE;
}

/* ---- flow lifetime -------------------------------------------------------------------------- */

/* Called for every flow before it is recycled (expired, evicted, flushed). */
static void flow_end(struct flow *f, enum flowtab_why why, void *ctx)
{
    struct engine *e = ctx;
    if (why == FLOWTAB_EVICTED)
        e->st.flows_evicted++;
    if (!(f->a.state & ENGINE_ST_EVENT)) {
        /* Never reached a request: report it if it carried payload or its address is listed. */
        struct rule_match m;
        bool listed = e->rs && ruleset_match_ip(e->rs, f->ipver, flowtab_server_addr(f), &m);
        if ((f->a.state & ENGINE_ST_PAYLOAD) || listed)
            decide_by_address(e, f);
    }
    quic_slot_release(e, f);
    tcpreasm_release(e->reasm, f);
}

static void handle_packet(struct engine *e, const struct pkt *p)
{
    bool is_new;
    int dir;
    struct flow *f = flowtab_get(e->ft, p, e->now_us, &is_new, &dir);
    if (!f)
        return;
    if (is_new) {
        f->a.id = ++e->next_flow_id;
        e->st.flows++;
    }
    if (f->a.state & ENGINE_ST_DONE)
        return;  /* decided: nothing this flow sends can change that (tap mode tracks on) */
    if (f->proto == IPPROTO_TCP) {
        unsigned res = tcpreasm_segment(e->reasm, f, p, dir);
        if (res & TCPREASM_IGNORED)
            e->st.reasm_ignored++;
        if (res & TCPREASM_CONFLICT)
            e->st.reasm_conflicts++;
        if (dir == 1) {
            /* The server answered: it has read the ClientHello it will act on. */
            if ((f->a.state & ENGINE_ST_HELLO) && p->payload_len)
                finish_flow_inspection(e, f);
            return;
        }
        if (res & TCPREASM_GAVEUP) {
            e->st.reasm_no_buffer++;
            f->a.state |= ENGINE_ST_PAYLOAD;
            decide_by_address(e, f);
            finish_flow_inspection(e, f);
            return;
        }
        if (res & (TCPREASM_NEW_DATA | TCPREASM_CONFLICT)) {
            f->a.state |= ENGINE_ST_PAYLOAD;
            inspect_tcp(e, f, res);
        }
    } else if (dir == 0 && p->payload_len) {
        f->a.state |= ENGINE_ST_PAYLOAD;
        inspect_udp(e, f, p);
    }
}

void engine_frame(struct engine *e, int link, uint64_t ts_us, const uint8_t *frame, size_t caplen)
{
    struct pkt p;
    e->st.frames++;
    e->st.bytes += caplen;
    e->now_us = ts_us;

    enum decode_result r = decode_packet(link, frame, caplen, &p);
    e->st.decode[r]++;
    if (r == DECODE_FRAGMENT) {
        const uint8_t *dg;
        size_t dlen;
        if (defrag_add(e->defrag, &p, ts_us, &dg, &dlen) != DEFRAG_DONE)
            return;
        r = decode_ip(dg, dlen, &p);
        if (r != DECODE_OK) {
            e->st.decode[r]++;
            return;
        }
    } else if (r != DECODE_OK) {
        return;
    }
    if (unlikely(p.ipv6_bad_ext)) {
        /* an extension chain Linux drops (T13): the server never reads this packet */
        e->st.ipv6_bad_ext++;
        return;
    }
    if (unlikely(ts_us - e->last_expire_us >= ENGINE_EXPIRE_EVERY_US)) {
        if (e->last_expire_us) {
            flowtab_expire(e->ft, ts_us, flow_end, e);
            defrag_expire(e->defrag, ts_us);
        }
        e->last_expire_us = ts_us;
    }
    handle_packet(e, &p);
}

void engine_finish(struct engine *e)
{
    flowtab_flush(e->ft, flow_end, e);
}

/* ---- set-up --------------------------------------------------------------------------------- */

static void evicted(struct flow *f, enum flowtab_why why, void *ctx)
{
    flow_end(f, why, ctx);
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

    e->reasm = tcpreasm_pool_new((uint32_t)cfg->reasm_buffers, (uint32_t)(cfg->reasm_buffers / 8 + 1),
                                 (uint32_t)cfg->reasm_bytes);
    struct flowtab_cfg fc;
    flowtab_cfg_default(&fc);
    fc.max_flows = (uint32_t)cfg->max_flows;
    fc.tcp_est_us = (uint64_t)cfg->tcp_idle_s * 1000000u;
    fc.udp_us = (uint64_t)cfg->udp_idle_s * 1000000u;
    fc.on_evict = evicted;
    fc.evict_ctx = e;
    fc.reasm = e->reasm;
    e->ft = flowtab_new(&fc);
    struct defrag_cfg dc;
    defrag_cfg_default(&dc);
    dc.max_datagrams = (uint32_t)cfg->defrag_slots;
    e->defrag = defrag_new(&dc);
    e->qctx = quic_ctx_new();
    e->nqslots = (uint32_t)(cfg->quic_slots > 65535 ? 65535 : cfg->quic_slots);
    e->qslots = calloc(e->nqslots ? e->nqslots : 1, sizeof(*e->qslots));
    e->qfree = calloc(e->nqslots ? e->nqslots : 1, sizeof(*e->qfree));
    e->scratch_cap = cfg->reasm_bytes;
    e->scratch = malloc(e->scratch_cap);
    if (!e->reasm || !e->ft || !e->defrag || !e->qslots || !e->qfree || !e->scratch) {
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
    free(e->qslots);
    free(e->qfree);
    free(e->scratch);
    free(e);
}

void engine_set_rules(struct engine *e, const struct ruleset *rs)
{
    e->rs = rs;
}

void engine_get_stats(const struct engine *e, struct engine_stats *st)
{
    struct defrag_stats ds;
    struct tcpreasm_stats ts;
    *st = e->st;
    defrag_get_stats(e->defrag, &ds);
    st->frag_in = ds.fragments;
    st->frag_done = ds.completed;
    st->frag_dropped = ds.duplicates + ds.overlaps + ds.timeouts + ds.evicted + ds.too_big + ds.bad_len + ds.hdr_too_big;
    tcpreasm_get_stats(e->reasm, &ts);
    st->reasm_conflicts = ts.conflicts;
}
