/* mode_tap.c - tap mode: live capture -> engine -> injection (see mode_tap.h). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "proxy/capture/capture_live.h"
#include "common/compiler.h"
#include "proxy/daemon/settings.h"
#include "proxy/packet/csumpol.h"
#include "proxy/engine/engine.h"
#include "proxy/enforce/inject.h"
#include "common/log.h"
#include "proxy/daemon/mode.h"
#include "proxy/daemon/mode_tap.h"
#include "proxy/daemon/blocknote.h"
#include "proxy/daemon/decisions.h"
#include "proxy/daemon/tarcount.h"
#include "proxy/daemon/hits.h"
#include "proxy/daemon/fbseen.h"
#include "proxy/enforce/notice.h"
#include "rules/match/rsref.h"
#include "rules/subs/tariff.h"

#define TAP_BATCH    256        /* frames handled per read section */
#define TAP_POLL_MS  100        /* well inside mode.h's 250 ms stop latency */
#define TAP_STATS_NS 200000000u /* counters published every 200 ms */
/* after capture drops (read every 5th publication): flows first seen mid-stream within this
 * many seconds of capture time are reset, at every reading within the grace after the drops */
#define TAP_DROPS_WINDOW_S    3u
#define TAP_DROPS_GRACE_NS    2500000000u
#define TAP_TARIFF_RECHECK_NS 60000000000ull /* with tariffs: kept names judged again (60 s) */
#define TAP_URL_MAX           2048           /* blocked URL bytes passed to the notice builders */
#define TAP_COALESCE_NS       50000u /* immediate mode, dense traffic: wait this long between reads */
#define TAP_WINDOW_NS         1000000u /* ... dense: at least TAP_DENSE_FRAMES frames per window */
#define TAP_DENSE_FRAMES      20u      /* (20 per ms: a frame every 50 us on average) */

enum tap_ctr {
    C_FRAMES = 0,
    C_BYTES,
    C_FLOWS,
    C_BLOCKS,
    C_INJECTED,
    C_INJECT_FRAMES,
    C_INJECT_ERRORS,
    C_NOT_ENFORCED,
    C_UDP_NOT_ENFORCED,
    C_CAPTURE_DROPS,
    C_TRUNCATED,
    C_TRUNCATED_BLOCKED,
    C_PACED_WAITS,
    /* the engine's give-up paths: each one is a flow judged on less than its name */
    C_DECODE_ERRORS,
    C_FRAG_DROPPED,
    C_FLOWS_EVICTED,
    C_REASM_NO_BUFFER,
    C_REASM_JUDGED_ALONE,
    C_REASM_IGNORED,
    C_REASM_CONFLICTS,
    C_TLS_MALFORMED,
    C_TLS_LIMIT,
    C_HTTP_MALFORMED,
    C_HTTP_LIMIT,
    C_QUIC_MALFORMED,
    C_QUIC_NO_SLOT,
    C_NAME_INVALID,
    C_ECH,
    C_QUIC_NOT_INITIAL,
    C_QUIC_BUDGET_SPENT,
    C_QUIC_CONFLICTS,
    C_QUIC_COALESCED_LIMIT,
    C_ALT_JUDGED,
    C_NOT_MINE_WATCHED,
    C_CSUM_SET_ASIDE,
    C_CSUM_ACCEPTED,
    C_REASM_GROWN,          /* not a give-up: requests past the small slot (sizing) */
    C_PASSED_CUT,           /* passed flows blocked when a newer rule set listed their server */
    C_CLIENT_LIMITED,       /* buffers refused: the client held its share (tap.client_buffers) */
    C_CLIENT_LIMIT_BLOCKED, /* ... and its request was cut across segments: blocked */
    C_QUIC_NO_SLOT_BLOCKED, /* QUIC Initials with no slot and no whole hello: blocked */
    C_REASM_EVICTED,        /* buffers taken from their oldest holder, the pool empty */
    C_EVICTED_BLOCKED,      /* ... whose flow then sent what it could not read: blocked */
    C_CONFLICT_NO_ROOM_BLOCKED, /* other bytes for bytes held, no alternative view: blocked */
    C_QUIC_INCOMPLETE_BLOCKED,  /* QUIC budget spent with a hello begun: blocked */
    C_LIMIT_BLOCKED,            /* ClientHellos with no name within reasm.bytes: blocked */
    C_UNSEEN_BLOCKED,           /* servers answering client bytes never seen: blocked */
    C_PASSED_NAME_CUT,          /* passed flows blocked when a newer rule set listed their name */
    C_PASSED_NAMES_KEPT,        /* names of passed TLS flows kept now (tap.passed_names) */
    C_PASSED_NAMES_FULL,        /* ... not kept: the table was full */
    C_PASSED_NAMES_CLIENT_FULL, /* ... not kept: the client held its share */
    C_PICKUPS_CUT,              /* flows first seen without their SYN, marked after drops */
    C_PICKUPS_BLOCKED,          /* ... and blocked at their next packet */
    C_COUNT
};

static const char *const tap_ctr_names[C_COUNT] = {
    "tap.frames",
    "tap.bytes",
    "tap.flows",
    "tap.blocks",
    "tap.injected",
    "tap.inject_frames",
    "tap.inject_errors",
    "tap.not_enforced",
    "tap.udp_not_enforced",
    "tap.capture_drops",
    "tap.truncated",
    "tap.truncated_blocked",
    "tap.paced_waits",
    "engine.decode_errors",
    "engine.frag_dropped",
    "engine.flows_evicted",
    "engine.reasm_no_buffer",
    "engine.reasm_judged_alone",
    "engine.reasm_ignored",
    "engine.reasm_conflicts",
    "engine.tls_malformed",
    "engine.tls_limit",
    "engine.http_malformed",
    "engine.http_limit",
    "engine.quic_malformed",
    "engine.quic_no_slot",
    "engine.name_invalid",
    "engine.ech",
    "engine.quic_not_initial",
    "engine.quic_budget_spent",
    "engine.quic_conflicts",
    "engine.quic_coalesced_limit",
    "engine.alt_judged",
    "engine.not_mine_watched",
    "engine.csum_set_aside",
    "engine.csum_accepted",
    "engine.reasm_grown",
    "engine.passed_cut",
    "engine.reasm_client_limited",
    "engine.client_limit_blocked",
    "engine.quic_no_slot_blocked",
    "engine.reasm_evicted",
    "engine.evicted_blocked",
    "engine.conflict_no_room_blocked",
    "engine.quic_incomplete_blocked",
    "engine.limit_blocked",
    "engine.unseen_blocked",
    "engine.passed_name_cut",
    "engine.passed_names_kept",
    "engine.passed_names_full",
    "engine.passed_names_client_full",
    "engine.pickups_cut",
    "engine.pickups_blocked",
};

/* The decode errors by reason (the enum's order; ok, fragments and non-TCP/UDP are not errors). */
#define DEC_FIRST DECODE_UNSUPPORTED_LINK
static const char *const tap_decode_names[DECODE_RESULT_COUNT - DEC_FIRST] = {
    [DECODE_UNSUPPORTED_LINK - DEC_FIRST] = "engine.decode_errors_by_reason/unsupported-link",
    [DECODE_TRUNC_LINK - DEC_FIRST] = "engine.decode_errors_by_reason/trunc-link",
    [DECODE_VLAN_DEPTH - DEC_FIRST] = "engine.decode_errors_by_reason/vlan-depth",
    [DECODE_TRUNC_IP - DEC_FIRST] = "engine.decode_errors_by_reason/trunc-ip",
    [DECODE_BAD_IP_VERSION - DEC_FIRST] = "engine.decode_errors_by_reason/bad-ip-version",
    [DECODE_BAD_IP_HDRLEN - DEC_FIRST] = "engine.decode_errors_by_reason/bad-ip-hdrlen",
    [DECODE_BAD_IP_LEN - DEC_FIRST] = "engine.decode_errors_by_reason/bad-ip-len",
    [DECODE_BAD_IP_CSUM - DEC_FIRST] = "engine.decode_errors_by_reason/bad-ip-csum",
    [DECODE_IPV6_EXT_DEPTH - DEC_FIRST] = "engine.decode_errors_by_reason/ipv6-ext-depth",
    [DECODE_BAD_IPV6_EXT - DEC_FIRST] = "engine.decode_errors_by_reason/bad-ipv6-ext",
    [DECODE_TRUNC_TCP - DEC_FIRST] = "engine.decode_errors_by_reason/trunc-tcp",
    [DECODE_BAD_TCP_HDRLEN - DEC_FIRST] = "engine.decode_errors_by_reason/bad-tcp-hdrlen",
    [DECODE_BAD_TCP_OPTIONS - DEC_FIRST] = "engine.decode_errors_by_reason/bad-tcp-options",
    [DECODE_TRUNC_UDP - DEC_FIRST] = "engine.decode_errors_by_reason/trunc-udp",
    [DECODE_BAD_UDP_LEN - DEC_FIRST] = "engine.decode_errors_by_reason/bad-udp-len",
    [DECODE_ENCAP_DEPTH - DEC_FIRST] = "engine.decode_errors_by_reason/encap-depth",
    [DECODE_TRUNC_ENCAP - DEC_FIRST] = "engine.decode_errors_by_reason/trunc-encap",
    [DECODE_BAD_ENCAP - DEC_FIRST] = "engine.decode_errors_by_reason/bad-encap",
};

struct tap;

struct tap_worker {
    struct tap *t;
    unsigned idx;
    struct capture *cap;
    struct inject *inj;
    struct engine *eng;
    int link;
    const struct ruleset *rs; /* valid inside the worker's read sections only */
    uint64_t rs_ver;
    uint64_t tariff_ver; /* the tariff table's publication the kept names were judged with */
    uint64_t recheck_ns; /* with tariffs: when the kept names are judged again (schedules) */
    const struct blocknote *pol_seen; /* settings record the engine's policy was taken from */
    uint64_t blocks, injected, not_enforced, udp_not_enforced;
    uint64_t paced;         /* paced sleeps (tap_run_worker) */
    uint64_t drops_last;    /* the ring's drop count at the last reading */
    uint64_t drops_seen_ns; /* when it last grew (0: never) */
    _Atomic uint64_t ctr[C_COUNT];
    _Atomic uint64_t dec[DECODE_RESULT_COUNT - DEC_FIRST]; /* tap_decode_names */
    struct inject_frames fr;
    char resp[NOTICE_RESPONSE_MAX];
    char url[TAP_URL_MAX];
};

struct tap {
    struct daemon_ctx *d;
    unsigned n;
    struct tap_worker **w;
    _Atomic(struct blocknote *) notice;
    char *policy_url;   /* engine policy notice_url (borrowed by the engines) */
    struct nat64 nat64; /* ip.nat64_prefixes (a restart key) */
    char ifname[64], inj_ifname[64];
    bool pace; /* immediate mode (tap.batch_ms = 0): wake-ups paced under dense traffic */
};

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* The HTTP response for a blocked request: 302 to the notice URL when one is configured now
 * (reloadable), else the 451 page. Returns its length, 0 when it could not be built. */
static size_t build_response(struct tap_worker *w, const struct engine_event *ev, const char *order)
{
    const struct blocknote *n = atomic_load_explicit(&w->t->notice, memory_order_acquire);
    return blocknote_response(n, ev, order, w->url, sizeof(w->url), w->resp, sizeof(w->resp));
}

static void log_decision(struct tap_worker *w, const struct engine_event *ev, const char *order,
                         const char *result, int frames)
{
    char cli[64], srv[64];
    decode_fmt_endpoint(ev->client, ev->ipver, ev->client_port, cli, sizeof(cli));
    decode_fmt_endpoint(ev->server, ev->ipver, ev->server_port, srv, sizeof(srv));
    char name[256] = "", url[512] = "";
    if (ev->name)
        snprintf(name, sizeof(name), "%.*s", (int)(ev->name_len < 255 ? ev->name_len : 255),
                 ev->name);
    if (ev->url)
        snprintf(url, sizeof(url), "%.*s", (int)(ev->url_len < 511 ? ev->url_len : 511), ev->url);
    char pn[SUB_ID_MAX + 1];
    pseudo_id(w->t->d->pseudo, ev->d.sub, pn, sizeof(pn));
    log_block(w->t->d->log, "tap", "block",
              LOG_KV(LOG_U("worker", w->idx), LOG_U("flow", ev->flow_id), LOG_S("client", cli),
                     LOG_S("server", srv),
                     LOG_S("proto", ev->l4proto == IPPROTO_TCP ? "tcp" : "udp"),
                     LOG_S("app", verdict_app_name(ev->app)), LOG_S("name", ev->name ? name : NULL),
                     LOG_S("url", ev->url ? url : NULL),
                     LOG_S("method", verdict_method_name(ev->d.method)),
                     LOG_S("action", verdict_action_name(ev->d.action)), LOG_S("order", order),
                     LOG_S("enforced", result), LOG_I("frames", frames), LOG_B("cut", ev->cut),
                     LOG_S("cause", verdict_cause_name(ev->d.cause)),
                     LOG_S("profile", ev->d.profile[0] ? ev->d.profile : NULL),
                     LOG_S("category", ev->d.category[0] ? ev->d.category : NULL),
                     LOG_S("subscriber", pn[0] ? pn : NULL)));
}

static void on_event(void *ctx, const struct engine_event *ev)
{
    struct tap_worker *w = ctx;
    if (ev->ech && (ev->app == APP_TLS || ev->app == APP_QUIC))
        hits_note_ech(w->t->d->hits, w->idx, ev->d.verdict == VERDICT_BLOCK);
    decisions_note_flow(w->t->d->decisions, w->idx, w->rs, &ev->d, ev->app, ev->name, ev->name_len,
                        ev->ipver, ev->server, ev->server_port);
    fbseen_note_flow(w->t->d->seen, w->idx, w->rs, ev->ipver, ev->server, ev->name, ev->name_len,
                     ev->ech);
    if (ev->d.verdict != VERDICT_BLOCK)
        return;
    w->blocks++;
    tarcount_note_block(w->t->d->tarcount, w->idx, &ev->d, w->t->d->tariff);
    if (w->rs && ev->d.entry != RULESET_NO_ENTRY) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        hits_note(w->t->d->hits, w->idx, w->rs, ev->d.entry,
                  (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    }
    const char *order = NULL;
    if (w->rs && ev->d.entry != RULESET_NO_ENTRY) {
        order = ruleset_entry_order(w->rs, ev->d.entry);
        if (order && !*order)
            order = NULL;
    }
    if (ev->l4proto != IPPROTO_TCP && ev->quic_version == 0) {
        /* UDP decided without a readable Initial (on its address): nothing to forge from. */
        w->udp_not_enforced++;
        log_decision(w, ev, order, "udp-not-enforced", 0);
        return;
    }
    size_t rlen = 0;
    if (ev->d.action == ACTION_REDIRECT || ev->d.action == ACTION_PAGE_451)
        rlen = build_response(w, ev, order);
    int rc = inject_block(w->inj, ev, (const uint8_t *)w->resp, rlen, &w->fr);
    if (rc > 0) {
        w->injected++;
        log_decision(w, ev, order,
                     ev->l4proto != IPPROTO_TCP ? "quic-close"
                     : rlen                     ? "notice+reset"
                                                : "reset",
                     rc);
    } else {
        w->not_enforced++;
        log_decision(w, ev, order,
                     rc == -EPROTONOSUPPORT ? "link-unsupported"
                     : rc == -EOPNOTSUPP    ? "tunnel-unsupported"
                     : rc == -EMSGSIZE      ? "response-too-big"
                     : rc == -EINVAL        ? "seq-unknown"
                                            : "send-failed",
                     0);
    }
}

static void publish_counters(struct tap_worker *w, bool with_drops)
{
    struct engine_stats es;
    struct inject_stats is;
    engine_get_stats(w->eng, &es);
    inject_get_stats(w->inj, &is);
    atomic_store_explicit(&w->ctr[C_FRAMES], es.frames, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_BYTES], es.bytes, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_FLOWS], es.flows, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_BLOCKS], w->blocks, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_INJECTED], w->injected, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_INJECT_FRAMES], is.frames, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_INJECT_ERRORS], is.send_errors, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_NOT_ENFORCED], w->not_enforced, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_UDP_NOT_ENFORCED], w->udp_not_enforced, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_TRUNCATED], es.cut, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_TRUNCATED_BLOCKED], es.cut_blocked, memory_order_relaxed);
    atomic_store_explicit(&w->ctr[C_PACED_WAITS], w->paced, memory_order_relaxed);
    uint64_t dec_err = 0;
    for (unsigned r = 0; r < DECODE_RESULT_COUNT; r++)
        if (r != DECODE_OK && r != DECODE_FRAGMENT)
            dec_err += es.decode[r];
    for (unsigned r = DEC_FIRST; r < DECODE_RESULT_COUNT; r++)
        atomic_store_explicit(&w->dec[r - DEC_FIRST], es.decode[r], memory_order_relaxed);
    const uint64_t eng[] = { dec_err,
                             es.frag_dropped,
                             es.flows_evicted,
                             es.reasm_no_buffer,
                             es.reasm_judged_alone,
                             es.reasm_ignored,
                             es.reasm_conflicts,
                             es.tls_malformed,
                             es.tls_limit,
                             es.http_malformed,
                             es.http_limit,
                             es.quic_malformed,
                             es.quic_no_slot,
                             es.name_invalid,
                             es.ech,
                             es.quic_not_initial,
                             es.quic_budget_spent,
                             es.quic_conflicts,
                             es.quic_coalesced_limit,
                             es.alt_judged,
                             es.not_mine_watched,
                             es.csum_set_aside,
                             es.csum_accepted,
                             es.reasm_grown,
                             es.passed_cut,
                             es.reasm_client_limited,
                             es.client_limit_blocked,
                             es.quic_no_slot_blocked,
                             es.reasm_evicted,
                             es.evicted_blocked,
                             es.conflict_no_room_blocked,
                             es.quic_incomplete_blocked,
                             es.limit_blocked,
                             es.unseen_blocked,
                             es.passed_name_cut,
                             es.passed_names_kept,
                             es.passed_names_full,
                             es.passed_names_client_full,
                             es.pickups_cut,
                             es.pickups_blocked };
    _Static_assert(sizeof(eng) / sizeof(eng[0]) == C_COUNT - C_DECODE_ERRORS,
                   "one value per engine counter");
    for (unsigned k = 0; k < sizeof(eng) / sizeof(eng[0]); k++)
        atomic_store_explicit(&w->ctr[C_DECODE_ERRORS + k], eng[k], memory_order_relaxed);
    uint64_t recv, drop;
    if (with_drops && capture_live_stats(w->cap, &recv, &drop) == 0) {
        atomic_store_explicit(&w->ctr[C_CAPTURE_DROPS], drop, memory_order_relaxed);
        /* The ring dropped frames: a connection whose SYN and first request went with them is
         * first seen mid-stream and would pass on its address. Those first seen since shortly
         * before the drops, and until the next reading after them (a flow's next packet may
         * come a moment later), are reset at their next packet (engine_cut_pickups()). */
        uint64_t now = clock_mono_ns();
        if (drop > w->drops_last)
            w->drops_seen_ns = now;
        w->drops_last = drop;
        if (w->drops_seen_ns && now - w->drops_seen_ns <= TAP_DROPS_GRACE_NS)
            (void)engine_cut_pickups(w->eng, TAP_DROPS_WINDOW_S);
    }
}

static void worker_free(struct tap_worker *w)
{
    if (!w)
        return;
    engine_free(w->eng);
    inject_free(w->inj);
    capture_close(w->cap);
    free(w);
}

static void tap_close(void *state)
{
    struct tap *t = state;
    if (!t)
        return;
    for (unsigned i = 0; i < t->n; i++)
        worker_free(t->w[i]);
    free(t->w);
    blocknote_free_chain(atomic_load(&t->notice));
    free(t->policy_url);
    free(t);
}

static int tap_open(const struct settings *cfg, struct daemon_ctx *d, void **state, char *err,
                    size_t errlen)
{
    *state = NULL;
    const char *iface = cfg->tap_interface;
    const char *inj =
        cfg->tap_inject_interface && *cfg->tap_inject_interface ? cfg->tap_inject_interface : iface;
    if (!iface || !*iface) {
        snprintf(err, errlen, "tap: tap.interface is not set");
        return -EINVAL;
    }
    struct tap *t = calloc(1, sizeof(*t));
    if (!t)
        goto nomem;
    t->d = d;
    t->n = d->workers ? d->workers : 1;
    t->pace = cfg->tap_batch_ms == 0;
    snprintf(t->ifname, sizeof(t->ifname), "%s", iface);
    snprintf(t->inj_ifname, sizeof(t->inj_ifname), "%s", inj);
    struct blocknote *nt = blocknote_new(cfg);
    if (!nt)
        goto nomem;
    atomic_init(&t->notice, nt);
    t->policy_url = dup_or_empty(cfg->notice_url);
    t->w = calloc(t->n, sizeof(*t->w));
    if (!t->policy_url || !t->w)
        goto nomem;

    struct engine_config ec;
    blocknote_engine_config(cfg, &ec);
    ec.tariff = d->tariff;
    ec.cut_passed = true; /* a tap sees every packet of the flows it passed: it can cut them */
    ec.passed_names = (uint32_t)cfg->tap_passed_names;
    ec.passed_names_per_client = (uint32_t)cfg->tap_passed_names_per_client;
    ec.reasm_per_client = (uint32_t)cfg->tap_client_buffers;
    ec.h2c_conns = (size_t)cfg->h2c_states;
    ec.client_prefix6 = (uint8_t)cfg->client_prefix6;
    ec.client_limit_blocks = true;
    ec.reasm_evict = true; /* the pool's end must not judge requests on their address */
    ec.conflict_no_room_blocks = true;
    ec.unseen_blocks = true;
    ec.quic_no_slot_blocks = true;
    /* Redirect or 451 is chosen again per block from the current notice.url (build_response),
     * so the engine only needs to know that HTTP blocks carry a response. */
    ec.policy.notice_url = *t->policy_url ? t->policy_url : NULL;
    t->nat64 = cfg->ip_nat64;
    ec.policy.nat64 = cfg->ip_nat64;

    struct capture_live_config lc = {
        .iface = iface,
        .bpf = cfg->tap_bpf,
        .vlan_too = true,
        .ring_bytes = (size_t)cfg->tap_ring_size,
        .snaplen = (int)cfg->tap_snaplen,
        .batch_ms = (int)cfg->tap_batch_ms,
        .in_only = true,
        .fanout_group = t->n > 1 ? (uint16_t)(((unsigned)getpid() & 0x7fff) | 0x8000) : 0,
    };
    /* MTU-sized slots only where the interface does not merge received segments: with GRO/LRO
     * on (or unknown), an ordinary two-segment ClientHello would arrive as one frame larger than
     * the slot, cut, and its flow blocked; capture_live_pick_snaplen() gives such an interface 64 KiB
     * slots (fewer frames per ring), and the log says so. */
    bool gro = false, lro = false, merged = false;
    char oerr[160] = "";
    int orc = capture_live_offloads(iface, &gro, &lro, oerr, sizeof(oerr));
    merged = orc < 0 || gro || lro;
    int slot = capture_live_pick_snaplen(lc.snaplen, capture_live_mtu(iface), merged, t->n > 1);
    lc.picked_snaplen = slot; /* the offloads are read once, here, for every worker's ring */
    int rc = -EIO;
    for (unsigned i = 0; i < t->n; i++) {
        struct tap_worker *w = calloc(1, sizeof(*w));
        if (!w)
            goto nomem;
        t->w[i] = w;
        w->t = t;
        w->idx = i;
        w->cap = capture_live_open(&lc, err, errlen);
        if (!w->cap)
            goto fail;
        w->link = w->cap->ops->linktype(w->cap);
        w->inj = inject_open(inj, 0, err, errlen);
        if (!w->inj)
            goto fail;
        w->eng = engine_new(&ec, NULL, on_event, w);
        if (!w->eng) {
            snprintf(err, errlen, "tap: worker %u: out of memory for the engine (flows.max %zu)", i,
                     ec.max_flows);
            rc = -ENOMEM;
            goto fail;
        }
        if (d->counters_register) {
            rc = d->counters_register(d, i, tap_ctr_names, w->ctr, C_COUNT);
            if (rc == 0)
                rc = d->counters_register(d, i, tap_decode_names, w->dec,
                                          DECODE_RESULT_COUNT - DEC_FIRST);
            if (rc < 0) {
                snprintf(err, errlen, "tap: worker %u: cannot register counters", i);
                goto fail;
            }
        }
    }
    if (d->log && orc < 0)
        log_write(d->log, LOG_LEVEL_WARN, "tap",
                  "cannot read the interface's offloads; the ring uses 64 KiB slots (fewer frames "
                  "per ring) unless tap.snaplen is set",
                  LOG_KV(LOG_S("interface", iface), LOG_S("error", oerr)));
    else if (d->log && merged)
        log_write(d->log, LOG_LEVEL_WARN, "tap",
                  cfg->tap_snaplen == 0
                      ? "the interface merges received segments (GRO/LRO): the ring uses 64 KiB "
                        "slots (fewer frames per ring, drops sooner at peak); run ethtool -K "
                        "IFACE gro off lro off"
                      : "the interface merges received segments (GRO/LRO): merged frames larger "
                        "than tap.snaplen arrive cut and block their flows; run ethtool -K IFACE "
                        "gro off lro off",
                  LOG_KV(LOG_S("interface", iface), LOG_B("gro", gro), LOG_B("lro", lro),
                         LOG_U("snaplen", (uint64_t)slot)));
    if (d->log)
        log_write(d->log, LOG_LEVEL_INFO, "tap", "opened",
                  LOG_KV(LOG_S("interface", iface), LOG_S("inject_interface", inj),
                         LOG_U("workers", t->n), LOG_B("fanout", t->n > 1),
                         LOG_S("notice_url", *nt->url ? nt->url : NULL)));
    *state = t;
    return 0;

nomem:
    snprintf(err, errlen, "tap: out of memory");
    rc = -ENOMEM;
fail:
    tap_close(t);
    return rc;
}

/* Inside a read section: picks up a newly published rule set. */
static void refresh_rules(struct tap_worker *w)
{
    const struct ruleset *rs = rsref_get(w->t->d->rules);
    uint64_t v = rsref_version(w->t->d->rules);
    if (rs != w->rs || v != w->rs_ver) {
        engine_set_rules(w->eng, rs);
        w->rs = rs;
        w->rs_ver = v;
    }
    const struct verdict_tariff *vt = w->t->d->tariff;
    if (vt && vt->tariff) {
        /* child tariffs: a publication of the table, or a minute gone by (a schedule began, an
         * address now another subscriber's), judges the passed flows' names again */
        uint64_t tv = tariff_version(vt->tariff), now = clock_mono_ns();
        if (tv != w->tariff_ver || now >= w->recheck_ns) {
            engine_judge_kept(w->eng);
            w->tariff_ver = tv;
            w->recheck_ns = now + TAP_TARIFF_RECHECK_NS;
        }
    }
    const struct blocknote *n = atomic_load_explicit(&w->t->notice, memory_order_acquire);
    if (n != w->pol_seen) {
        /* a reload: https_url reaches the engine; notice.url is read per block (build_response) */
        struct verdict_policy vp = { .https_url = n->https_url,
                                     .notice_url = *w->t->policy_url ? w->t->policy_url : NULL,
                                     .nat64 = w->t->nat64 };
        engine_set_policy(w->eng, &vp);
        w->pol_seen = n;
    }
}

static int tap_run_worker(void *state, unsigned worker, const volatile sig_atomic_t *stop)
{
    struct tap *t = state;
    if (worker >= t->n)
        return -EINVAL;
    struct tap_worker *w = t->w[worker];
    char err[256];
    int ret = 0;
    uint64_t next_stats = clock_mono_ns() + TAP_STATS_NS;
    unsigned ticks = 0;
    struct pollfd pfd = { .fd = capture_live_fd(w->cap), .events = POLLIN };

    /* Immediate mode wakes the worker for every frame. While frames come closer together than
     * TAP_COALESCE_NS on average (at least TAP_DENSE_FRAMES in the last TAP_WINDOW_NS or
     * longer), a worker that emptied its ring sleeps that long and reads what gathered, as long
     * as something did: a wake-up per few frames instead of per frame, and no frame waits more
     * than TAP_COALESCE_NS (+ the timer slack, set to 1 us here) longer than it would have.
     * Sparse traffic, and the few frames of one connection's handshake and first request on an
     * otherwise quiet link, still wake it per frame. */
    bool dense = false;
    uint64_t win_t = clock_mono_ns();
    unsigned win_n = 0;
    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* best effort: the default is 50 us */
    rsref_thread_register();
    while (!*stop) {
        int rc = 0;
        unsigned got = 0;
        daemon_beat(t->d, worker);
        rsref_read_lock();
        refresh_rules(w);
        for (unsigned i = 0; i < TAP_BATCH; i++) {
            struct capture_frame fr;
            rc = capture_next(w->cap, &fr, err, sizeof(err));
            if (rc != 1)
                break;
            got++;
            if (likely(fr.caplen >= fr.wirelen))
                engine_frame(w->eng, w->link, fr.ts_us, fr.data, fr.caplen);
            else /* larger than the ring's slot: never judged as if complete */
                engine_frame_cut(w->eng, w->link, fr.ts_us, fr.data, fr.caplen, fr.wirelen);
        }
        rsref_read_unlock();
        if (rc < 0 && rc != -EAGAIN) {
            if (t->d->log)
                log_write(t->d->log, LOG_LEVEL_ERROR, "tap", err, NULL, 0);
            ret = rc;
            break;
        }
        uint64_t now = clock_mono_ns();
        if (now >= next_stats) {
            publish_counters(w, (++ticks % 5) == 0);
            next_stats = now + TAP_STATS_NS;
        }
        win_n += got;
        if (now - win_t >= TAP_WINDOW_NS) {
            dense = t->pace && (uint64_t)win_n * TAP_WINDOW_NS >= TAP_DENSE_FRAMES * (now - win_t);
            win_t = now;
            win_n = 0;
        }
        if (rc != -EAGAIN)
            continue;
        if (dense && got > 0) {
            struct timespec ts = { 0, TAP_COALESCE_NS };
            nanosleep(&ts, NULL);
            w->paced++;
            continue;
        }
        if (poll(&pfd, 1, TAP_POLL_MS) < 0 && errno != EINTR) {
            ret = -errno;
            break;
        }
    }
    publish_counters(w, true);
    rsref_thread_unregister();
    return ret;
}

static int tap_reload(void *state, const struct settings *cfg)
{
    struct tap *t = state;
    struct blocknote *n = blocknote_new(cfg);
    if (!n)
        return -ENOMEM;
    n->older = atomic_load(&t->notice);
    atomic_store_explicit(&t->notice, n, memory_order_release);
    return 0;
}

const struct mode_ops mode_tap_ops = {
    .name = "tap",
    .open = tap_open,
    .run_worker = tap_run_worker,
    .reload = tap_reload,
    .close = tap_close,
};
