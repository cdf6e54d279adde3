/* check_engine.c - Check suite for the packet pipeline (proxy/engine.c): behaviour that only
 * shows when the stages run together — pool exhaustion and its fail-open/fail-closed policy,
 * flow eviction, every request of a kept-alive connection, forged QUIC Initials, UDP actions.
 * Captures are crafted with tests/lib/pcapw.h into a temporary file, read back through the
 * libpcap capture back end and fed to an engine with small pools. The end-to-end tests over real
 * clients are tests/scripts/corpus.sh and tests/scripts/evasion.sh. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/capture/capture.h"
#include "proxy/capture/capture_pcap.h"
#include "common/dstatus.h"
#include "proxy/engine/engine.h"
#include "tests/lib/pcapw.h"
#include "tests/lib/quicw.h"
#include "rules/match/ruleset.h"
#include "rules/subs/tariff.h"
#include "tests/lib/tariffix.h"

#define MAX_EV 2048

struct ev {
    uint64_t flow;
    enum verdict_app app;
    char name[256];
    enum verdict verdict;
    enum verdict_method method;
    enum verdict_action action;
    unsigned req;
    bool alt;
    uint32_t quic_version;
    uint8_t quic_odcid[20];
    size_t quic_odcid_len;
    bool seq_known;
    uint32_t cli_next, srv_next;
    bool cut;
};

struct run {
    struct ev ev[MAX_EV];
    size_t n;
    struct engine_stats st;
};

static char g_path[64];

static void on_event(void *ctx, const struct engine_event *e)
{
    struct run *r = ctx;
    ck_assert_uint_lt(r->n, MAX_EV);
    struct ev *v = &r->ev[r->n++];
    v->flow = e->flow_id;
    v->app = e->app;
    snprintf(v->name, sizeof(v->name), "%.*s", e->name ? (int)e->name_len : 1,
             e->name ? e->name : "-");
    v->verdict = e->d.verdict;
    v->method = e->d.method;
    v->action = e->d.action;
    v->req = e->req;
    v->alt = e->alt;
    v->quic_version = e->quic_version;
    v->quic_odcid_len = e->quic_odcid_len;
    ck_assert_uint_le(e->quic_odcid_len, sizeof(v->quic_odcid));
    if (e->quic_odcid_len)
        memcpy(v->quic_odcid, e->quic_odcid, e->quic_odcid_len);
    v->seq_known = e->seq_known;
    v->cli_next = e->cli_next_seq;
    v->srv_next = e->srv_next_seq;
    v->cut = e->cut;
}

static struct ruleset *rules(void)
{
    static const char *const entries[] = { "blocked.example", "10.0.0.9",
                                           "http://urls.example/secret/*" };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        ck_assert_int_eq(
            ruleset_builder_add(b, entries[i], strlen(entries[i]), NULL, err, sizeof(err)), 0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    /* the IP fallback (docs/fallback.md): blocked.example resolved to 10.0.0.20 (its own) and
     * 10.0.0.21 (shared by many blocked names: policy nameless) */
    struct rule_match m;
    ck_assert(ruleset_match_domain(rs, "blocked.example", 15, &m));
    struct fbaddr_rec fr[2] = { { 4, FBADDR_BLOCK, { 10, 0, 0, 20 }, m.entry, 1 },
                                { 4, FBADDR_NAMELESS, { 10, 0, 0, 21 }, m.entry, 9 } };
    ruleset_set_fallback(rs, fbaddr_build(fr, 2));
    return rs;
}

/* Runs the capture at g_path through an engine built from cfg, frame by frame (engine_frame)
 * or pushed ahead (engine_push, as `qorgau scan` feeds it). */
static void run_fed(const struct engine_config *cfg, struct run *r, bool ahead)
{
    char err[256];
    struct ruleset *rs = rules();
    memset(r, 0, sizeof(*r));
    struct capture *cap = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_msg(cap != NULL, "%s", err);
    struct engine *e = engine_new(cfg, rs, on_event, r);
    ck_assert_ptr_nonnull(e);
    struct capture_frame fr;
    int rc;
    size_t frames = 0, pushed = 0;
    while ((rc = capture_next(cap, &fr, err, sizeof(err))) == 1) {
        frames++;
        if (ahead && capture_pcap_frame_kept(cap, &fr)) {
            engine_push(e, cap->ops->linktype(cap), fr.ts_us, fr.data, fr.caplen);
            pushed++;
        } else {
            engine_frame(e, cap->ops->linktype(cap), fr.ts_us, fr.data, fr.caplen);
        }
    }
    ck_assert_int_eq(rc, 0);
    if (ahead) /* pcapw writes classic host-order files: every frame read in place */
        ck_assert_uint_eq(pushed, frames);
    engine_finish(e);
    engine_get_stats(e, &r->st);
    engine_free(e);
    capture_close(cap);
    ruleset_free(rs);
}

/* run_fed() both ways: the frames pushed ahead must give the very same events and counters. */
static void run(const struct engine_config *cfg, struct run *r)
{
    struct run *a = malloc(sizeof(*a));
    ck_assert_ptr_nonnull(a);
    run_fed(cfg, a, true);
    run_fed(cfg, r, false);
    ck_assert_uint_eq(a->n, r->n);
    for (size_t i = 0; i < r->n; i++)
        ck_assert_msg(memcmp(&a->ev[i], &r->ev[i], sizeof(r->ev[i])) == 0,
                      "event %zu differs when frames are pushed ahead", i);
    ck_assert_msg(memcmp(&a->st, &r->st, sizeof(r->st)) == 0,
                  "counters differ when frames are pushed ahead");
    free(a);
}

static void small_config(struct engine_config *cfg)
{
    engine_config_default(cfg);
    cfg->max_flows = 1024;
    cfg->reasm_buffers = 16;
    cfg->reasm_bytes = 4096;
    cfg->quic_slots = 4;
    cfg->h2c_conns = 4;
    cfg->defrag_slots = 4;
}

static struct pcapw *open_cap(void)
{
    snprintf(g_path, sizeof(g_path), "/tmp/qg-check-engine-%d.pcap", (int)getpid());
    struct pcapw *w = pcapw_open(g_path);
    ck_assert_ptr_nonnull(w);
    return w;
}

static size_t hello(uint8_t *out, size_t cap, const char *sni)
{
    struct pcapw_hello h;
    memset(&h, 0, sizeof(h));
    h.sni = sni;
    h.alpn = "h2,http/1.1";
    h.seed = 7;
    size_t n = pcapw_tls_hello(&h, out, cap, NULL);
    ck_assert_uint_gt(n, 100);
    return n;
}

static const struct ev *find(const struct run *r, uint64_t flow, unsigned req)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].flow == flow && r->ev[i].req == req)
            return &r->ev[i];
    return NULL;
}

/* Flows in their first bytes at once, one reassembly buffer (tap and scan: nothing can be held
 * back). A flow that gets no buffer is judged on what its segment shows alone: a hello whole in
 * one segment on its name (a blocked name is never passed for want of a buffer: a flood of
 * connections holding buffers must not open the filter), a hello cut across segments on its
 * address. */
START_TEST(pool_exhaustion_policy)
{
    uint8_t h1[2048], h2[2048], h3[2048], h4[2048];
    struct pcapw *w = open_cap();
    struct pcapw_conv a, b, c, d;
    size_t n1 = hello(h1, sizeof(h1), "allowed.example");
    size_t n2 = hello(h2, sizeof(h2), "allowed2.example");
    size_t n3 = hello(h3, sizeof(h3), "blocked.example");
    size_t n4 = hello(h4, sizeof(h4), "blocked.example");
    ck_assert_int_eq(pcapw_conv_init(&a, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&a), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&a, 0, h1, 50), 0); /* holds the buffer */
    ck_assert_int_eq(pcapw_conv_init(&b, w, a.ts, "192.0.2.2", 40002, "10.0.0.9", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&b), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&b, 0, h2, n2), 0); /* no buffer left */
    ck_assert_int_eq(pcapw_conv_init(&c, w, b.ts, "192.0.2.3", 40003, "10.0.0.2", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h3, n3), 0); /* no buffer, blocked name */
    ck_assert_int_eq(pcapw_conv_init(&d, w, c.ts, "192.0.2.4", 40004, "10.0.0.3", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&d), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&d, 0, h4, 100), 0); /* no buffer, name cut */
    ck_assert_int_eq(pcapw_conv_client_data(&d, 100, h4 + 100, n4 - 100), 0);
    a.ts = d.ts;
    ck_assert_int_eq(pcapw_conv_client_data(&a, 50, h1 + 50, n1 - 50), 0);
    ck_assert_int_eq(pcapw_close(w), 0);

    struct engine_config cfg;
    small_config(&cfg);
    cfg.reasm_buffers = 1;
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.st.reasm_no_buffer, 3);
    ck_assert_uint_eq(r.st.reasm_judged_alone, 2);
    const struct ev *e1 = find(&r, 1, 1), *e2 = find(&r, 2, 1), *e3 = find(&r, 3, 1),
                    *e4 = find(&r, 4, 1);
    ck_assert_ptr_nonnull(e1);
    ck_assert_ptr_nonnull(e2);
    ck_assert_ptr_nonnull(e3);
    ck_assert_ptr_nonnull(e4);
    ck_assert_str_eq(e1->name, "allowed.example");
    ck_assert_int_eq(e1->verdict, VERDICT_PASS);
    ck_assert_str_eq(e2->name, "allowed2.example"); /* read from its one segment */
    ck_assert_int_eq(e2->verdict, VERDICT_BLOCK);   /* its address is listed */
    ck_assert_str_eq(e3->name, "blocked.example");
    ck_assert_int_eq(e3->verdict, VERDICT_BLOCK); /* before: passed on its free address */
    ck_assert_int_eq(e3->method, METHOD_DOMAIN);
    ck_assert_int_eq(e3->action, ACTION_RESET);
    ck_assert_str_eq(e4->name, "-"); /* cut across segments: its address alone decides */
    ck_assert_int_eq(e4->verdict, VERDICT_PASS);
    unlink(g_path);
}
END_TEST

/* Tap mode's pool never runs dry (reasm_evict): many clients (each within its share) fill it
 * with half-sent hellos; a blocked name cut across segments then takes the oldest buffer and is
 * judged on its name (scan, without eviction: it passes on its address). The flood flow whose
 * buffer went is blocked by policy (no-room) when it sends the rest; an allowed connection
 * decided before its buffer went keeps its pass when its server answers. */
START_TEST(pool_evicts_oldest)
{
    uint8_t hf[2048], hb[2048], ha[2048];
    size_t nf = hello(hf, sizeof(hf), "allowed.example");
    size_t nb = hello(hb, sizeof(hb), "blocked.example");
    size_t na = hello(ha, sizeof(ha), "allowed2.example");
    static const uint8_t answer[64] = { 0x16, 0x03, 0x03, 0x00, 0x3b, 0x02 };
    for (int evict = 0; evict < 2; evict++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv fl[4], v, pa, g[4];
        uint64_t ts = 1000000;
        char cli[32];
        for (int i = 0; i < 4; i++) { /* flows 1-4: four clients' half-sent hellos */
            snprintf(cli, sizeof(cli), "192.0.2.%d", 11 + i);
            ck_assert_int_eq(pcapw_conv_init(&fl[i], w, ts, cli, 41000, "10.0.0.1", 443), 0);
            ck_assert_int_eq(pcapw_conv_handshake(&fl[i]), 0);
            ck_assert_int_eq(pcapw_conv_client_data(&fl[i], 0, hf, 50), 0);
            ts = fl[i].ts;
        }
        /* flow 5: a blocked name cut inside the name */
        ck_assert_int_eq(pcapw_conv_init(&v, w, ts, "192.0.2.20", 42000, "10.0.0.1", 443), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&v), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&v, 0, hb, 100), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&v, 100, hb + 100, nb - 100), 0);
        /* flow 1 sends the rest of its hello */
        fl[0].ts = v.ts;
        ck_assert_int_eq(pcapw_conv_client_data(&fl[0], 50, hf + 50, nf - 50), 0);
        /* flow 6: an allowed hello, decided, its buffer kept for the server's answer */
        ck_assert_int_eq(pcapw_conv_init(&pa, w, fl[0].ts, "192.0.2.30", 43000, "10.0.0.1", 443),
                         0);
        ck_assert_int_eq(pcapw_conv_handshake(&pa), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&pa, 0, ha, na), 0);
        ts = pa.ts;
        for (int i = 0; i < 4; i++) { /* flows 7-10: more half-sent hellos, new clients */
            snprintf(cli, sizeof(cli), "192.0.2.%d", 40 + i);
            ck_assert_int_eq(pcapw_conv_init(&g[i], w, ts, cli, 44000, "10.0.0.1", 443), 0);
            ck_assert_int_eq(pcapw_conv_handshake(&g[i]), 0);
            ck_assert_int_eq(pcapw_conv_client_data(&g[i], 0, hf, 50), 0);
            ts = g[i].ts;
        }
        pa.ts = ts; /* flow 6's server answers */
        ck_assert_int_eq(pcapw_conv_server_data(&pa, 0, answer, sizeof(answer)), 0);
        ck_assert_int_eq(pcapw_close(w), 0);

        struct engine_config cfg;
        small_config(&cfg);
        cfg.reasm_buffers = 4;
        cfg.reasm_per_client = 2;
        cfg.client_limit_blocks = true;
        cfg.reasm_evict = evict;
        static struct run r;
        run(&cfg, &r);
        unlink(g_path);
        const struct ev *e5 = find(&r, 5, 1), *e1 = find(&r, 1, 1), *e6 = find(&r, 6, 1);
        ck_assert_ptr_nonnull(e5);
        if (!evict) { /* the pool's end: cut across segments, judged on its address */
            ck_assert_str_eq(e5->name, "-");
            ck_assert_int_eq(e5->verdict, VERDICT_PASS);
            ck_assert_uint_eq(r.st.reasm_evicted, 0);
            continue;
        }
        ck_assert_str_eq(e5->name, "blocked.example");
        ck_assert_int_eq(e5->verdict, VERDICT_BLOCK);
        ck_assert_int_eq(e5->method, METHOD_DOMAIN);
        ck_assert_ptr_nonnull(e1);
        ck_assert_int_eq(e1->verdict, VERDICT_BLOCK);
        ck_assert_int_eq(e1->method, METHOD_NO_ROOM);
        ck_assert_int_eq(e1->action, ACTION_RESET);
        ck_assert(e1->seq_known); /* resets from the segment it sent */
        ck_assert_ptr_nonnull(e6);
        ck_assert_str_eq(e6->name, "allowed2.example");
        ck_assert_int_eq(e6->verdict, VERDICT_PASS);
        size_t n6 = 0;
        for (size_t i = 0; i < r.n; i++)
            n6 += r.ev[i].flow == 6;
        ck_assert_uint_eq(n6, 1); /* the answer kept its pass: no second decision */
        /* flows 1-4 and 6 lost their buffers (2-4 to flows 7-9, 6 to flow 10) */
        ck_assert_uint_eq(r.st.reasm_evicted, 5);
        ck_assert_uint_eq(r.st.evicted_blocked, 1);
        for (uint64_t id = 2; id <= 4; id++) { /* silent since: reported at the capture's end */
            const struct ev *ei = find(&r, id, 1);
            ck_assert_ptr_nonnull(ei);
            ck_assert_str_eq(ei->name, "-");
        }
    }
}
END_TEST

/* Tap mode (conflict_no_room_blocks): a flow holds the alternative views (2 with 8 buffers:
 * the last-copy view and one other version) with conflicting copies of allowed hellos; another
 * sends an allowed hello, then another copy of the same bytes naming a blocked site (a
 * short-TTL fake first, the real one second): no view is left to keep it in, so it cannot be
 * judged - blocked by policy (no-room), where scan judges the first copy alone and passes it. */
START_TEST(conflict_without_alt_view)
{
    uint8_t h1[2048], h2[2048], hx[2048], hy[2048];
    size_t n1 = hello(h1, sizeof(h1), "allowed1.test");
    size_t n2 = hello(h2, sizeof(h2), "allowed2.test");
    size_t nx = hello(hx, sizeof(hx), "allowed.example");
    size_t ny = hello(hy, sizeof(hy), "blocked.example");
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(nx, ny);
    for (int blocks = 0; blocks < 2; blocks++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c[2];
        uint64_t ts = 1000000;
        for (int i = 0; i < 2; i++) {
            char cli[32];
            snprintf(cli, sizeof(cli), "192.0.2.%d", 60 + i);
            ck_assert_int_eq(pcapw_conv_init(&c[i], w, ts, cli, 45000, "10.0.0.1", 443), 0);
            ck_assert_int_eq(pcapw_conv_handshake(&c[i]), 0);
            if (i == 0) { /* two conflicting copies of allowed hellos: both views kept */
                ck_assert_int_eq(pcapw_conv_client_data(&c[i], 0, h1, n1), 0);
                ck_assert_int_eq(pcapw_conv_client_data(&c[i], 0, h2, n2), 0);
            } else {
                ck_assert_int_eq(pcapw_conv_client_data(&c[i], 0, hx, nx), 0);
                ck_assert_int_eq(pcapw_conv_client_data(&c[i], 0, hy, ny), 0);
            }
            ts = c[i].ts;
        }
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        cfg.reasm_buffers = 8; /* 2 alternative views */
        cfg.conflict_no_room_blocks = blocks;
        static struct run r;
        run(&cfg, &r);
        unlink(g_path);
        ck_assert_uint_eq(r.st.reasm_conflicts, 2);
        const struct ev *last = NULL;
        for (size_t i = 0; i < r.n; i++)
            if (r.ev[i].flow == 2)
                last = &r.ev[i];
        ck_assert_ptr_nonnull(last);
        if (blocks) {
            ck_assert_int_eq(last->verdict, VERDICT_BLOCK);
            ck_assert_int_eq(last->method, METHOD_NO_ROOM);
            ck_assert_uint_eq(r.st.conflict_no_room_blocked, 1);
        } else {
            ck_assert_int_eq(last->verdict, VERDICT_PASS);
            ck_assert_uint_eq(r.st.conflict_no_room_blocked, 0);
        }
        for (size_t i = 0; i < r.n; i++) /* the allowed conflict passes either way */
            if (r.ev[i].flow == 1)
                ck_assert_int_eq(r.ev[i].verdict, VERDICT_PASS);
    }
}
END_TEST

/* Tap mode (unseen_blocks): a blocked ClientHello sent as two IP fragments, a flood of first
 * fragments between them (more datagrams than the defragmentation table holds), so the hello's
 * first fragment is evicted and the tap never sees the hello - which the server puts together
 * and answers. The server's answer acknowledges client bytes the tap never saw: blocked by
 * policy (method unseen). (Before, and in scan: the flow waited for bytes it would never see,
 * and ended unreported, as passed.) */
START_TEST(server_answers_unseen_bytes)
{
    uint8_t hb[2048];
    size_t nb = hello(hb, sizeof(hb), "blocked.example");
    static const uint8_t answer[64] = { 0x16, 0x03, 0x03, 0x00, 0x3b, 0x02 };
    for (int blocks = 0; blocks < 2; blocks++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        struct pcapw_pkt p;
        pcapw_conv_pkt(&c, true, &p);
        p.flags = PCAPW_ACK | PCAPW_PSH;
        p.payload = hb;
        p.payload_len = nb;
        p.ip_id = 0x4242;
        static const size_t offs[] = { 256 }, first[] = { 0, 0 }, second[] = { 1, 1 };
        ck_assert_int_eq(pcapw_put_frags(w, c.ts, &p, offs, 1, first), 0);
        uint64_t ts = c.ts + 1000;
        ck_assert_int_eq(pcapw_frag_flood(w, &ts, 8), 0); /* datagrams that never complete */
        ck_assert_int_eq(pcapw_put_frags(w, ts, &p, offs, 1, second), 0);
        c.ts = ts + 1000;
        c.cnext = c.cisn + 1 + (uint32_t)nb; /* the server has the hello */
        ck_assert_int_eq(pcapw_conv_server_data(&c, 0, answer, sizeof(answer)), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        cfg.unseen_blocks = blocks;
        static struct run r;
        run(&cfg, &r);
        unlink(g_path);
        ck_assert_uint_gt(r.st.frag_dropped, 0);
        const struct ev *e1 = find(&r, 1, 1);
        if (!blocks) { /* no byte of it seen: not even reported */
            ck_assert(e1 == NULL || e1->verdict == VERDICT_PASS);
            continue;
        }
        ck_assert_ptr_nonnull(e1);
        ck_assert_int_eq(e1->verdict, VERDICT_BLOCK);
        ck_assert_int_eq(e1->method, METHOD_UNSEEN);
        ck_assert_int_eq(e1->action, ACTION_RESET);
        ck_assert_uint_eq(r.st.unseen_blocked, 1);
    }
    ck_assert_str_eq(verdict_method_name(METHOD_UNSEEN), "unseen");
}
END_TEST

/* The capture at g_path through a table of 50 flows (small_config otherwise): its first flow,
 * a blocked name whose request a flood of new flows interrupted, is blocked on its name, and
 * the flood evicted more than 100 flows. */
static void expect_first_blocked_after_flood(void)
{
    struct engine_config cfg;
    small_config(&cfg);
    cfg.max_flows = 50;
    static struct run r;
    run(&cfg, &r);
    unlink(g_path);
    const struct ev *e1 = find(&r, 1, 1);
    ck_assert_ptr_nonnull(e1);
    ck_assert_str_eq(e1->name, "blocked.example");
    ck_assert_int_eq(e1->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(e1->method, METHOD_DOMAIN);
    ck_assert_uint_gt(r.st.flows_evicted, 100);
}

/* Tap mode (unseen_blocks) on a kept-alive HTTP connection: the first request (allowed) and its
 * answer are seen; the second, for the blocked host, is lost to the capture (a ring drop the
 * client can bring about by flooding the mirror port) but reaches the server, whose answer
 * acknowledges it: blocked by policy (method unseen). Without it (scan) only the first
 * request is reported. */
START_TEST(later_request_unseen)
{
    static const char r1[] = "GET /1 HTTP/1.1\r\nHost: allowed.example\r\n\r\n";
    static const char r2[] = "GET /2 HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (int blocks = 0; blocks < 2; blocks++) {
        struct pcapw *w = open_cap();
        char lost_path[sizeof(g_path) + 8];
        snprintf(lost_path, sizeof(lost_path), "%s.lost", g_path);
        struct pcapw *lost = pcapw_open(lost_path);
        ck_assert_ptr_nonnull(lost);
        struct pcapw_conv c;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 80), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&c, 0, (const uint8_t *)r1, sizeof(r1) - 1), 0);
        ck_assert_int_eq(pcapw_conv_server_data(&c, 0, (const uint8_t *)ok, sizeof(ok) - 1), 0);
        c.w = lost; /* the second request: not captured */
        ck_assert_int_eq(
            pcapw_conv_client_data(&c, sizeof(r1) - 1, (const uint8_t *)r2, sizeof(r2) - 1), 0);
        c.w = w;
        ck_assert_int_eq(
            pcapw_conv_server_data(&c, sizeof(ok) - 1, (const uint8_t *)ok, sizeof(ok) - 1), 0);
        ck_assert_int_eq(pcapw_close(lost), 0);
        unlink(lost_path);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        cfg.unseen_blocks = blocks;
        static struct run r;
        run(&cfg, &r);
        unlink(g_path);
        ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
        if (!blocks) {
            ck_assert_uint_eq(r.n, 1);
            continue;
        }
        ck_assert_uint_eq(r.n, 2);
        ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
        ck_assert_int_eq(r.ev[1].method, METHOD_UNSEEN);
        ck_assert_uint_eq(r.st.unseen_blocked, 1);
    }
}
END_TEST

/* A full flow table does not evict a flow in the middle of its request: a blocked hello cut
 * inside the name, a flood of new connections between its two segments (more than the table
 * holds), then the rest - judged on its name. (Before, the flood evicted it, its rest started a
 * flow of its own mid-stream, unreadable, and passed on its address.) */
START_TEST(flood_does_not_evict_a_request)
{
    uint8_t hb[2048];
    size_t nb = hello(hb, sizeof(hb), "blocked.example");
    struct pcapw *w = open_cap();
    struct pcapw_conv v, fl;
    ck_assert_int_eq(pcapw_conv_init(&v, w, 1000000, "192.0.2.70", 46000, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&v), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&v, 0, hb, 100), 0);
    uint64_t ts = v.ts;
    for (int i = 0; i < 200; i++) { /* handshakes from other clients: 4x the table */
        char cli[32];
        snprintf(cli, sizeof(cli), "198.51.100.%d", 1 + i);
        ck_assert_int_eq(pcapw_conv_init(&fl, w, ts, cli, 47000, "10.0.0.1", 443), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&fl), 0);
        ts = fl.ts;
    }
    v.ts = ts;
    ck_assert_int_eq(pcapw_conv_client_data(&v, 100, hb + 100, nb - 100), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    expect_first_blocked_after_flood();
}
END_TEST

/* Tap mode's share of buffers per client (reasm_per_client, client_limit_blocks): client A
 * holds its share with two half-sent hellos; its third connection, a blocked name cut across
 * segments, gets no buffer and cannot be read: blocked by policy (method client-limit), not
 * judged on its free address (without client_limit_blocks, scan: it passes); its fourth, an
 * allowed hello whole in one segment, is judged on its name; client B, within its share, gets a
 * buffer for a hello cut across segments and is judged on its name. */
START_TEST(client_share_blocks_unreadable)
{
    uint8_t ha[2048], hb[2048], hc[2048], hd[2048];
    size_t na = hello(ha, sizeof(ha), "allowed.example");
    size_t nb = hello(hb, sizeof(hb), "blocked.example");
    size_t nd = hello(hd, sizeof(hd), "allowed2.example");
    memcpy(hc, ha, na);
    /* IPv6 (rounds 2, 3): client A takes a new address of its /64 for each connection, as any
     * subscriber can; B is the next /64. The share is the prefix's. */
    static const char *const cli4[5] = { "192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.1",
                                         "192.0.2.2" };
    static const char *const cli6[5] = { "2001:db8:1:1::1", "2001:db8:1:1::2",
                                         "2001:db8:1:1:ffff::3", "2001:db8:1:1:1:2:3:4",
                                         "2001:db8:1:2::1" };
    for (int round = 0; round < 4; round++) {
        int blocks = round & 1;
        const char *const *cli = round < 2 ? cli4 : cli6;
        const char *srv = round < 2 ? "10.0.0.1" : "2001:db8:ffff::1";
        struct pcapw *w = open_cap();
        struct pcapw_conv c[5];
        uint64_t ts = 1000000;
        for (int i = 0; i < 5; i++) {
            ck_assert_int_eq(pcapw_conv_init(&c[i], w, ts, cli[i], (uint16_t)(40001 + i), srv, 443),
                             0);
            ck_assert_int_eq(pcapw_conv_handshake(&c[i]), 0);
            ts = c[i].ts;
        }
        c[0].ts = c[1].ts = c[2].ts = c[3].ts = c[4].ts = ts;
        ck_assert_int_eq(pcapw_conv_client_data(&c[0], 0, ha, 50), 0); /* A's share: 2 */
        ck_assert_int_eq(pcapw_conv_client_data(&c[1], 0, ha, 50), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&c[2], 0, hb, 100), 0); /* cut, no buffer */
        ck_assert_int_eq(pcapw_conv_client_data(&c[2], 100, hb + 100, nb - 100), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&c[3], 0, hd, nd), 0);  /* whole: its name */
        ck_assert_int_eq(pcapw_conv_client_data(&c[4], 0, hc, 100), 0); /* B: a buffer */
        ck_assert_int_eq(pcapw_conv_client_data(&c[4], 100, hc + 100, na - 100), 0);
        ck_assert_int_eq(pcapw_close(w), 0);

        struct engine_config cfg;
        small_config(&cfg);
        cfg.reasm_buffers = 8;
        cfg.reasm_per_client = 2;
        cfg.client_limit_blocks = blocks;
        static struct run r;
        run(&cfg, &r);
        unlink(g_path);
        const struct ev *e3 = find(&r, 3, 1), *e4 = find(&r, 4, 1), *e5 = find(&r, 5, 1);
        ck_assert_ptr_nonnull(e3);
        ck_assert_ptr_nonnull(e4);
        ck_assert_ptr_nonnull(e5);
        ck_assert_uint_eq(r.st.reasm_client_limited, 2);
        ck_assert_int_eq(e3->verdict, blocks ? VERDICT_BLOCK : VERDICT_PASS);
        ck_assert_int_eq(e3->method, blocks ? METHOD_CLIENT_LIMIT : METHOD_NONE);
        ck_assert_uint_eq(r.st.client_limit_blocked, blocks ? 1 : 0);
        ck_assert_str_eq(e4->name, "allowed2.example");
        ck_assert_int_eq(e4->verdict, VERDICT_PASS);
        ck_assert_str_eq(e5->name, "allowed.example");
        ck_assert_int_eq(e5->verdict, VERDICT_PASS);
    }
    ck_assert_str_eq(verdict_method_name(METHOD_CLIENT_LIMIT), "client-limit");
}
END_TEST

/* The IP fallback's addresses through the engine: fronted, nameless, ECH, named to a shared
 * address, and a flow that never sent a request. */
START_TEST(fallback_addresses)
{
    static const struct {
        const char *dst, *sni;
        bool ech, data;
        enum verdict v;
        enum verdict_method m;
    } fl[] = {
        { "10.0.0.20", "fronting.example", false, true, VERDICT_BLOCK, METHOD_IP },
        { "10.0.0.20", NULL, false, true, VERDICT_BLOCK, METHOD_IP_FALLBACK },
        { "10.0.0.21", "public.example", true, true, VERDICT_BLOCK, METHOD_IP_FALLBACK },
        { "10.0.0.21", NULL, false, true, VERDICT_BLOCK, METHOD_IP_FALLBACK },
        { "10.0.0.21", "news.example", false, true, VERDICT_PASS, METHOD_NONE },
        { "10.0.0.20", NULL, false, false, VERDICT_BLOCK, METHOD_IP_FALLBACK },
    };
    size_t nfl = sizeof(fl) / sizeof(fl[0]);
    struct pcapw *w = open_cap();
    uint64_t ts = 1000000;
    for (size_t i = 0; i < nfl; i++) {
        uint8_t h[2048];
        struct pcapw_hello ph;
        memset(&ph, 0, sizeof(ph));
        ph.sni = fl[i].sni;
        ph.alpn = "h2";
        ph.ech = fl[i].ech;
        ph.seed = (uint32_t)i + 1;
        size_t n = pcapw_tls_hello(&ph, h, sizeof(h), NULL);
        struct pcapw_conv c;
        ck_assert_int_eq(
            pcapw_conv_init(&c, w, ts, "192.0.2.7", (uint16_t)(41000 + i), fl[i].dst, 443), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        if (fl[i].data)
            ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, n), 0);
        ts = c.ts + 1000;
    }
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    for (size_t i = 0; i < nfl; i++) {
        const struct ev *e = find(&r, i + 1, fl[i].data ? 1 : 0);
        if (!e)
            e = find(&r, i + 1, 1);
        ck_assert_msg(e != NULL, "flow %zu: no event", i + 1);
        ck_assert_msg(e->verdict == fl[i].v && e->method == fl[i].m, "flow %zu: %d %d", i + 1,
                      (int)e->verdict, (int)e->method);
    }
    unlink(g_path);
}
END_TEST

/* Every request of a kept-alive connection is judged; the third names a blocked URL. */
START_TEST(keepalive_every_request)
{
    uint8_t req[512];
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 80), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    static const char *const targets[] = { "/", "/public/a", "/secret/x", "/after" };
    uint32_t off = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t n = pcapw_http_get(req, sizeof(req), "urls.example", targets[i]);
        ck_assert_int_eq(pcapw_conv_client_data(&c, off, req, n), 0);
        off += (uint32_t)n;
        static const uint8_t resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        ck_assert_int_eq(
            pcapw_conv_server_data(&c, (uint32_t)(i * (sizeof(resp) - 1)), resp, sizeof(resp) - 1),
            0);
    }
    ck_assert_int_eq(pcapw_close(w), 0);

    struct engine_config cfg;
    small_config(&cfg);
    cfg.policy.notice_url = "http://notice.example/";
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.n, 3); /* nothing after the block */
    ck_assert_int_eq(find(&r, 1, 1)->verdict, VERDICT_PASS);
    ck_assert_int_eq(find(&r, 1, 2)->verdict, VERDICT_PASS);
    const struct ev *e = find(&r, 1, 3);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(e->method, METHOD_URL);
    ck_assert_int_eq(e->action, ACTION_REDIRECT);
    /* requests 1 and 2 were held until their answers, then gone past on the reading kept */
    ck_assert_uint_eq(r.st.heads_reused, 2);
    unlink(g_path);
}
END_TEST

/* A full flow table evicts; the evicted flow is still reported, and counted. */
START_TEST(eviction_counted)
{
    uint8_t h[2048];
    struct pcapw *w = open_cap();
    uint64_t ts = 1000000;
    char cli[32];
    for (int i = 0; i < 1100; i++) {
        struct pcapw_conv c;
        snprintf(cli, sizeof(cli), "192.0.%d.%d", 2 + i / 250, 1 + i % 250);
        ck_assert_int_eq(pcapw_conv_init(&c, w, ts, cli, 40000, "10.0.0.9", 443), 0);
        struct pcapw_pkt p;
        pcapw_conv_pkt(&c, true, &p);
        p.flags = PCAPW_SYN;
        ck_assert_int_eq(pcapw_conv_send(&c, &p), 0); /* a SYN only: no request ever */
        ts = c.ts;
    }
    (void)h;
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.st.flows, 1100);
    ck_assert_uint_ge(r.st.flows_evicted, 76);
    /* every flow goes to a listed address: each is reported once, evicted or flushed */
    ck_assert_uint_eq(r.st.decisions, 1100);
    ck_assert_int_eq(r.ev[0].method, METHOD_IP_FALLBACK);
    unlink(g_path);
}
END_TEST

/* UDP 443 datagrams that are not authentic QUIC Initials are counted and ignored; the flow is
 * judged on its address when it ends, and a block on UDP is a drop. */
START_TEST(forged_quic_is_ignored)
{
    struct pcapw *w = open_cap();
    uint8_t junk[1250];
    memset(junk, 0, sizeof(junk));
    junk[0] = 0xc3; /* long header, Initial */
    junk[4] = 0x01; /* version 1 */
    junk[5] = 8;    /* DCID length */
    for (size_t i = 6; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7);
    junk[14] = 0;    /* SCID length */
    junk[15] = 0;    /* token length */
    junk[16] = 0x44; /* length 1200 (varint) */
    junk[17] = 0xb0;
    struct pcapw_pkt p;
    pcapw_pkt_init(&p);
    p.proto = 17;
    pcapw_addr("192.0.2.1", p.src);
    pcapw_addr("10.0.0.9", p.dst);
    p.sport = 50000;
    p.dport = 443;
    p.payload = junk;
    p.payload_len = sizeof(junk);
    ck_assert_int_eq(pcapw_put(w, 1000000, &p), 0);
    ck_assert_int_eq(pcapw_put(w, 1001000, &p), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.st.quic_malformed, 2);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].app, APP_UNKNOWN);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
    ck_assert_int_eq(r.ev[0].action, ACTION_DROP);
    unlink(g_path);
}
END_TEST

/* A ClientHello larger than the reassembly cap, its SNI past the cap, is a counted limit: the
 * name is out of reach and a server takes such a hello (OpenSSL: up to 128 KiB), so it is
 * blocked by policy (method incomplete; EVASION S7: a size cap never means pass), whatever the
 * name. (Before: judged on its address, which is not listed: passed.) */
START_TEST(hello_over_cap)
{
    uint8_t h[16384];
    struct pcapw_hello hh;
    memset(&hh, 0, sizeof(hh));
    hh.sni = "blocked.example";
    hh.sni_last = true;
    hh.pad_to = 9000;
    size_t n = pcapw_tls_hello(&hh, h, sizeof(h), NULL);
    ck_assert_uint_gt(n, 9000);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    for (uint32_t off = 0; off < n; off += 1400)
        ck_assert_int_eq(pcapw_conv_client_data(&c, off, h + off, n - off < 1400 ? n - off : 1400),
                         0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg); /* 4 KiB reassembly */
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.st.tls_limit, 1);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK); /* 10.0.0.1 is not listed */
    ck_assert_int_eq(r.ev[0].method, METHOD_INCOMPLETE);
    ck_assert_int_eq(r.ev[0].action, ACTION_RESET);
    ck_assert_uint_eq(r.st.limit_blocked, 1);
    ck_assert_uint_eq(r.st.reasm_grown, 0); /* 4 KiB buffers: nothing to grow into */
    cfg.reasm_bytes = 16384;                /* the default cap reads it */
    run(&cfg, &r);
    ck_assert_uint_eq(r.st.tls_limit, 0);
    ck_assert_uint_eq(r.st.reasm_grown, 1); /* the 9,000-byte hello left its 4 KiB slot */
    ck_assert_str_eq(r.ev[0].name, "blocked.example");
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
    unlink(g_path);
}
END_TEST

/* ---- QUIC: what a single datagram, a forged Initial or a coalesced one must not hide ---- */

static const uint8_t Q_DCID[8] = { 0x5c, 0x1e, 0xa7, 0x09, 0x42, 0x33, 0x71, 0x0d };
static const uint8_t Q_SCID[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static uint64_t g_qts;
static uint16_t g_qsport = 50000; /* the client's port of udp_out()'s datagrams */

static void udp_out(struct pcapw *w, const uint8_t *d, size_t n)
{
    g_qts += 1000;
    ck_assert_int_eq(
        pcapw_put_udp(w, 1000000 + g_qts, "192.0.2.1", g_qsport, "10.0.0.1", 443, d, n), 0);
}

/* Seals hello[from..to) as Initial pn of q, padded to 1250 bytes, into d. */
static size_t q_seal(struct quicw *q, uint32_t pn, const uint8_t *hello, size_t from, size_t to,
                     size_t min_len, uint8_t *d, size_t cap)
{
    uint8_t f[1500];
    size_t fl = 0;
    ck_assert_int_eq(quicw_crypto(f, sizeof(f), &fl, from, hello + from, to - from), 0);
    size_t n = quicw_initial(q, pn, f, fl, min_len, d, cap);
    ck_assert_uint_gt(n, 0);
    return n;
}

static void q_hello_out(struct pcapw *w, struct quicw *q, uint32_t pn, const char *sni)
{
    uint8_t h[2048], d[1500];
    size_t hl = quicw_hello(sni, 0, h, sizeof(h), NULL);
    ck_assert_uint_gt(hl, 100);
    udp_out(w, d, q_seal(q, pn, h, 0, hl, 1250, d, sizeof(d)));
}

/* A datagram of junk, then one holding only a 0-RTT packet: neither settles the flow; the Initial
 * after them is read and blocks, and the event carries what a server Initial needs. */
/* Tap mode's QUIC slots exhausted (quic_no_slot_blocks; one slot here, held by flow 1's first
 * Initial of a hello that never completes): flow 2, a hello for a blocked name over two Initials
 * (Chromium's, with its post-quantum key share), cannot be read - blocked by policy (method
 * no-room), its event carrying what a server Initial needs; flows 3 and 4, hellos whole in one
 * Initial, are judged on their names. Without it (scan) all three were judged on their
 * addresses, and passed. */
START_TEST(quic_no_slot_policy)
{
    uint8_t h[4096], d[1500];
    size_t hl = quicw_hello("blocked.example", 1216, h, sizeof(h), NULL);
    ck_assert_uint_gt(hl, 1300);
    for (int blocks = 0; blocks < 2; blocks++) {
        struct pcapw *w = open_cap();
        struct quicw q[4];
        for (int i = 0; i < 4; i++) {
            uint8_t dcid[8] = { 0x5c, 0x1e, 0xa7, 0x09, 0x42, 0x33, 0x71, (uint8_t)i };
            ck_assert_int_eq(quicw_init(&q[i], QUIC_V1, dcid, 8, Q_SCID, 8), 0);
        }
        g_qts = 0;
        g_qsport = 50001; /* holds the only slot: the first 100 bytes of a hello */
        udp_out(w, d, q_seal(&q[0], 0, h, 0, 100, 1250, d, sizeof(d)));
        g_qsport = 50002; /* the blocked name over two Initials */
        udp_out(w, d, q_seal(&q[1], 0, h, 0, 1000, 1250, d, sizeof(d)));
        udp_out(w, d, q_seal(&q[1], 1, h, 1000, hl, 1250, d, sizeof(d)));
        g_qsport = 50003;
        q_hello_out(w, &q[2], 0, "allowed2.example");
        g_qsport = 50004;
        q_hello_out(w, &q[3], 0, "blocked.example");
        g_qsport = 50000;
        for (int i = 0; i < 4; i++)
            quicw_fini(&q[i]);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        cfg.quic_slots = 1;
        cfg.quic_no_slot_blocks = blocks;
        static struct run r;
        run(&cfg, &r);
        unlink(g_path);
        if (!blocks) {
            /* flow 2's second Initial restarts it (flow 3: a passed flow may restart); flow 1,
             * never complete, is judged at the end */
            ck_assert_uint_eq(r.n, 5);
            ck_assert_uint_eq(r.st.quic_no_slot, 4);
            for (size_t i = 0; i < r.n; i++)
                ck_assert_int_eq(r.ev[i].verdict, VERDICT_PASS);
            continue;
        }
        ck_assert_uint_eq(r.n, 4);
        ck_assert_uint_eq(r.st.quic_no_slot, 3);
        const struct ev *e2 = find(&r, 2, 1), *e3 = find(&r, 3, 1), *e4 = find(&r, 4, 1);
        ck_assert_ptr_nonnull(e2);
        ck_assert_ptr_nonnull(e3);
        ck_assert_ptr_nonnull(e4);
        ck_assert_int_eq(e2->verdict, VERDICT_BLOCK); /* blocked: its second Initial stays its */
        ck_assert_int_eq(e2->method, METHOD_NO_ROOM);
        ck_assert_uint_eq(e2->quic_version, QUIC_V1); /* a tap can close it */
        ck_assert_uint_eq(e2->quic_odcid_len, 8);
        ck_assert_uint_eq(r.st.quic_no_slot_blocked, 1);
        ck_assert_str_eq(e3->name, "allowed2.example");
        ck_assert_int_eq(e3->verdict, VERDICT_PASS);
        ck_assert_str_eq(e4->name, "blocked.example");
        ck_assert_int_eq(e4->verdict, VERDICT_BLOCK);
        ck_assert_int_eq(e4->method, METHOD_DOMAIN);
    }
    ck_assert_str_eq(verdict_method_name(METHOD_NO_ROOM), "no-room");
}
END_TEST

/* A full flow table does not evict a QUIC flow half-way through its ClientHello: a blocked name
 * over two Initials, a flood of new UDP flows between them (4x the table), then the second
 * Initial - judged on its name. (Before, the flood evicted the flow, and its second Initial,
 * without the hello's start, could not be read.) */
START_TEST(quic_flood_does_not_evict_a_hello)
{
    uint8_t h[4096], d[1500];
    size_t hl = quicw_hello("blocked.example", 1216, h, sizeof(h), NULL);
    ck_assert_uint_gt(hl, 1300);
    struct pcapw *w = open_cap();
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
    g_qts = 0;
    g_qsport = 50001;
    udp_out(w, d, q_seal(&q, 0, h, 0, 1000, 1250, d, sizeof(d)));
    static const uint8_t junk[200];
    for (int i = 0; i < 200; i++) {
        g_qsport = (uint16_t)(51000 + i);
        udp_out(w, junk, sizeof(junk));
    }
    g_qsport = 50001;
    udp_out(w, d, q_seal(&q, 1, h, 1000, hl, 1250, d, sizeof(d)));
    g_qsport = 50000;
    quicw_fini(&q);
    ck_assert_int_eq(pcapw_close(w), 0);
    expect_first_blocked_after_flood();
}
END_TEST

/* A blocked name's ClientHello over two Initials with 16 Initials carrying only a PING frame
 * between them (a server takes those, and keeps the part of the hello it has): the flow's
 * budget (16 datagrams) is spent with the hello begun - blocked by policy (method incomplete),
 * not decided on its address. */
START_TEST(quic_budget_between_parts)
{
    uint8_t h[4096], d[1500];
    size_t hl = quicw_hello("blocked.example", 1216, h, sizeof(h), NULL);
    ck_assert_uint_gt(hl, 1300);
    struct pcapw *w = open_cap();
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
    g_qts = 0;
    g_qsport = 50001;
    udp_out(w, d, q_seal(&q, 0, h, 0, 1000, 1250, d, sizeof(d)));
    static const uint8_t ping[1] = { 0x01 };
    for (uint32_t pn = 1; pn <= 16; pn++) {
        size_t n = quicw_initial(&q, pn, ping, sizeof(ping), 1250, d, sizeof(d));
        ck_assert_uint_gt(n, 0);
        udp_out(w, d, n);
    }
    udp_out(w, d, q_seal(&q, 17, h, 1000, hl, 1250, d, sizeof(d)));
    g_qsport = 50000;
    quicw_fini(&q);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    unlink(g_path);
    const struct ev *e1 = find(&r, 1, 1);
    ck_assert_ptr_nonnull(e1);
    ck_assert_int_eq(e1->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(e1->method, METHOD_INCOMPLETE);
    ck_assert_uint_eq(r.st.quic_budget_spent, 1);
    ck_assert_uint_eq(r.st.quic_incomplete_blocked, 1);
    ck_assert_str_eq(verdict_method_name(METHOD_INCOMPLETE), "incomplete");
}
END_TEST

START_TEST(quic_junk_and_0rtt_first)
{
    struct pcapw *w = open_cap();
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
    g_qts = 0;
    uint8_t junk[20], d[1500];
    memset(junk, 0x17, sizeof(junk));
    udp_out(w, junk, sizeof(junk));
    udp_out(w, d, quicw_opaque(&q, QUICW_0RTT, 400, 1, d, sizeof(d)));
    q_hello_out(w, &q, 0, "blocked.example");
    quicw_fini(&q);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].app, APP_QUIC);
    ck_assert_str_eq(r.ev[0].name, "blocked.example");
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
    ck_assert_uint_eq(r.ev[0].quic_version, QUIC_V1);
    ck_assert_uint_eq(r.ev[0].quic_odcid_len, 8);
    ck_assert_mem_eq(r.ev[0].quic_odcid, Q_DCID, 8);
    ck_assert_uint_eq(r.st.quic_not_initial, 2);
    ck_assert_uint_eq(r.st.quic_budget_spent, 0);
    unlink(g_path);
}
END_TEST

/* A second connection attempt on the same 4-tuple after the first (allowed) one passed and
 * spent its budget: its Initial decrypts under its own new DCID, so it starts a new flow and is
 * judged (it names a blocked host). A client Initial under the server's connection ID (a
 * client that has heard from the server keeps the first DCID's keys) does not restart it, and
 * nothing restarts a blocked flow. */
START_TEST(quic_second_attempt)
{
    static const uint8_t dcid2[8] = { 0xd2, 1, 2, 3, 4, 5, 6, 7 }, srv_cid[8] = { 0x5e, 9, 9 };
    struct pcapw *w = open_cap();
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
    g_qts = 0;
    q_hello_out(w, &q, 0, "allowed.example");
    uint8_t junk[20], d[1500], fr[64];
    memset(junk, 0x17, sizeof(junk));
    for (int i = 0; i < 20; i++)
        udp_out(w, junk, sizeof(junk));
    /* the client's next Initial as after the server's answer: the server's connection ID,
     * the first keys, an ACK-like frame only */
    memcpy(q.dcid, srv_cid, sizeof(srv_cid));
    size_t fl = 0;
    fr[fl++] = 0x01; /* PING */
    udp_out(w, d, quicw_initial(&q, 1, fr, fl, 1250, d, sizeof(d)));
    quicw_fini(&q);
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, dcid2, 8, Q_SCID, 8), 0);
    q_hello_out(w, &q, 0, "blocked.example");
    quicw_fini(&q);
    /* a third attempt after the block: the 4-tuple stays blocked, nothing is judged again */
    static const uint8_t dcid3[8] = { 0xd3, 3, 3, 3 };
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, dcid3, 8, Q_SCID, 8), 0);
    q_hello_out(w, &q, 0, "allowed.example");
    quicw_fini(&q);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.ev[0].name, "allowed.example");
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
    ck_assert_uint_eq(r.ev[0].flow, 1);
    ck_assert_str_eq(r.ev[1].name, "blocked.example");
    ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
    ck_assert_uint_eq(r.ev[1].flow, 2); /* a new flow on the same 4-tuple */
    ck_assert_mem_eq(r.ev[1].quic_odcid, dcid2, 8);
    ck_assert_uint_eq(r.st.quic_new_attempts, 1);
    unlink(g_path);
}
END_TEST

/* The budget bounds the wait: the datagram that spends quic_max_datagrams (or quic_max_bytes)
 * is still read - an Initial there blocks -, and past it, without a ClientHello, the flow is
 * judged on its address (counted) and settled; an Initial after that starts a new flow. */
START_TEST(quic_budget_spent)
{
    for (int bytes = 0; bytes < 2; bytes++) {
        for (int more = 0; more < 2; more++) {
            struct pcapw *w = open_cap();
            struct quicw q;
            ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
            g_qts = 0;
            uint8_t junk[1250];
            memset(junk, 0x17, sizeof(junk));
            struct engine_config cfg;
            small_config(&cfg);
            if (bytes)
                cfg.quic_max_bytes = 4 * sizeof(junk);
            size_t njunk = (bytes ? 4 : cfg.quic_max_datagrams) + (size_t)more;
            for (size_t i = 0; i < njunk; i++)
                udp_out(w, junk, sizeof(junk));
            q_hello_out(w, &q, 0, "blocked.example");
            quicw_fini(&q);
            ck_assert_int_eq(pcapw_close(w), 0);
            static struct run r;
            run(&cfg, &r);
            if (!more) {
                /* the Initial spends the budget: it is read (before, it was not) */
                ck_assert_uint_eq(r.n, 1);
                ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
                ck_assert_uint_eq(r.st.quic_budget_spent, 0);
            } else {
                /* junk spends it: judged on the free address, settled; the Initial after
                 * that starts a new flow and blocks */
                ck_assert_uint_eq(r.n, 2);
                ck_assert_int_eq(r.ev[0].app, APP_UNKNOWN);
                ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
                ck_assert_uint_eq(r.ev[0].flow, 1);
                ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
                ck_assert_uint_eq(r.ev[1].flow, 2);
                ck_assert_uint_eq(r.st.quic_budget_spent, 1);
                ck_assert_uint_eq(r.st.quic_new_attempts, 1);
            }
            ck_assert_uint_eq(r.st.quic_not_initial, njunk - (size_t)more);
            unlink(g_path);
        }
    }
    /* One datagram less: the Initial is inside the budget and blocks. */
    struct pcapw *w = open_cap();
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
    uint8_t junk[20];
    memset(junk, 0x17, sizeof(junk));
    struct engine_config cfg;
    small_config(&cfg);
    for (size_t i = 0; i + 1 < cfg.quic_max_datagrams; i++)
        udp_out(w, junk, sizeof(junk));
    q_hello_out(w, &q, 0, "blocked.example");
    quicw_fini(&q);
    ck_assert_int_eq(pcapw_close(w), 0);
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
    ck_assert_uint_eq(r.st.quic_budget_spent, 0);
    unlink(g_path);
}
END_TEST

/* Forged Initials with the flow's DCID decrypt as well as the real ones. A ClientHello cut inside
 * the SNI over two Initials, fake and real halves in two orders: whichever reading completes
 * first passes, a later one that names the blocked host blocks. */
START_TEST(quic_conflicting_initials)
{
    static const int orders[2][4] = { { 0, 1, 2, 3 },
                                      { 2, 0, 1, 3 } }; /* f0 f1 r0 r1 / r0 f0 f1 r1 */
    for (int o = 0; o < 2; o++) {
        struct pcapw *w = open_cap();
        struct quicw q;
        ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
        g_qts = 0;
        uint8_t fake[2048], real[2048], d[4][1500];
        size_t so, so2, dl[4];
        size_t fl = quicw_hello("allowed.example", 0, fake, sizeof(fake), &so);
        size_t rl = quicw_hello("blocked.example", 0, real, sizeof(real), &so2);
        ck_assert_uint_eq(fl, rl);
        ck_assert_uint_eq(so, so2);
        size_t cut = so + 4;
        dl[0] = q_seal(&q, 0, fake, 0, cut, 1250, d[0], sizeof(d[0]));
        dl[1] = q_seal(&q, 1, fake, cut, fl, 1250, d[1], sizeof(d[1]));
        dl[2] = q_seal(&q, 0, real, 0, cut, 1250, d[2], sizeof(d[2]));
        dl[3] = q_seal(&q, 1, real, cut, rl, 1250, d[3], sizeof(d[3]));
        for (int i = 0; i < 4; i++)
            udp_out(w, d[orders[o][i]], dl[orders[o][i]]);
        quicw_fini(&q);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        static struct run r;
        run(&cfg, &r);
        ck_assert_uint_ge(r.n, 2);
        ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
        ck_assert_int_eq(r.ev[r.n - 1].verdict, VERDICT_BLOCK);
        ck_assert_str_eq(r.ev[r.n - 1].name, "blocked.example");
        ck_assert(r.ev[r.n - 1].alt);
        ck_assert_uint_ge(r.st.quic_conflicts, 2);
        unlink(g_path);
    }
}
END_TEST

/* Two Initials coalesced in one datagram (RFC 9000 12.2), the hello cut between them, and a
 * forged Initial (bad tag) in front of them: every packet is read. */
START_TEST(quic_coalesced_initials)
{
    struct pcapw *w = open_cap();
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, Q_DCID, 8, Q_SCID, 8), 0);
    g_qts = 0;
    uint8_t h[2048], d[1500];
    size_t so;
    size_t hl = quicw_hello("blocked.example", 0, h, sizeof(h), &so);
    size_t n0 = q_seal(&q, 0, h, 0, 20, 0, d, sizeof(d));
    d[n0 - 1] ^= 1; /* forged: fails authentication */
    size_t n1 = q_seal(&q, 0, h, 0, so + 4, 0, d + n0, sizeof(d) - n0);
    size_t n2 = q_seal(&q, 1, h, so + 4, hl, 1250 - n0 - n1, d + n0 + n1, sizeof(d) - n0 - n1);
    udp_out(w, d, n0 + n1 + n2);
    quicw_fini(&q);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
    ck_assert_str_eq(r.ev[0].name, "blocked.example");
    ck_assert_uint_eq(r.st.quic_malformed, 1);
    unlink(g_path);
}
END_TEST

/* The sequence numbers a block reports for forged resets are the ends' next ones even when
 * reassembly stopped short: a hello over the 4 KiB cap to an IP-listed server is blocked by
 * address on the segment that crosses the cap; the client's next sequence number is that
 * segment's end, not the cap. */
START_TEST(block_seq_past_the_cap)
{
    uint8_t h[16384];
    struct pcapw_hello hh;
    memset(&hh, 0, sizeof(hh));
    hh.sni = "allowed.example";
    hh.sni_last = true;
    hh.pad_to = 9000;
    size_t n = pcapw_tls_hello(&hh, h, sizeof(h), NULL);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.9", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    for (uint32_t off = 0; off < n; off += 1400)
        ck_assert_int_eq(pcapw_conv_client_data(&c, off, h + off, n - off < 1400 ? n - off : 1400),
                         0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg); /* 4 KiB reassembly */
    static struct run r;
    run(&cfg, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_BLOCK);
    ck_assert(r.ev[0].seq_known);
    ck_assert_uint_eq(r.ev[0].cli_next, c.cisn + 1 + 4200); /* third 1400-byte segment */
    ck_assert_uint_eq(r.ev[0].srv_next, c.sisn + 1);
    unlink(g_path);
}
END_TEST

/* A 20 KB ClientHello over two records with the SNI among its first extensions, against a
 * 4 KiB reassembly buffer (EVASION S7): judged by its name, never by its size. A blocked name
 * blocks at once; an allowed one passes when the buffer fills (tls_cut), not before. */
START_TEST(hello_name_before_cap)
{
    static uint8_t h[24000];
    static const size_t splits[] = { 12000 };
    const char *names[] = { "blocked.example", "allowed.example" };
    for (size_t i = 0; i < 2; i++) {
        struct pcapw_hello hh;
        memset(&hh, 0, sizeof(hh));
        hh.sni = names[i];
        hh.pad_to = 20000;
        hh.rec_splits = splits;
        hh.n_rec_splits = 1;
        size_t n = pcapw_tls_hello(&hh, h, sizeof(h), NULL);
        ck_assert_uint_gt(n, 20000);
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        for (uint32_t off = 0; off < n; off += 1400)
            ck_assert_int_eq(
                pcapw_conv_client_data(&c, off, h + off, n - off < 1400 ? n - off : 1400), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        static struct run r;
        run(&cfg, &r);
        ck_assert_uint_eq(r.n, 1);
        ck_assert_str_eq(r.ev[0].name, names[i]);
        ck_assert_int_eq(r.ev[0].verdict, i == 0 ? VERDICT_BLOCK : VERDICT_PASS);
        ck_assert_uint_eq(r.st.tls_limit, 0);
        ck_assert_uint_eq(r.st.tls_cut, i == 0 ? 0 : 1);
        unlink(g_path);
    }
}
END_TEST

typedef void (*frame_hook)(struct engine *e, void *ctx);

/* Runs the capture at g_path through an engine built from cfg over rs, frame by frame; after
 * frame `at` (when want_before events were reported) calls hook(e, ctx). Frees rs and the
 * capture. */
static void run_hook(const struct engine_config *cfg, struct ruleset *rs, unsigned at,
                     size_t want_before, frame_hook hook, void *ctx, struct run *r)
{
    char err[256];
    memset(r, 0, sizeof(*r));
    struct capture *cap = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_msg(cap != NULL, "%s", err);
    struct engine *e = engine_new(cfg, rs, on_event, r);
    ck_assert_ptr_nonnull(e);
    struct capture_frame fr;
    int rc;
    unsigned frames = 0;
    while ((rc = capture_next(cap, &fr, err, sizeof(err))) == 1) {
        engine_frame(e, cap->ops->linktype(cap), fr.ts_us, fr.data, fr.caplen);
        if (++frames == at) {
            ck_assert_uint_eq(r->n, want_before);
            hook(e, ctx);
        }
    }
    ck_assert_int_eq(rc, 0);
    engine_finish(e);
    engine_get_stats(e, &r->st);
    engine_free(e);
    capture_close(cap);
    ruleset_free(rs);
    unlink(g_path);
}

static void set_rules_hook(struct engine *e, void *rs2)
{
    if (rs2)
        engine_set_rules(e, rs2);
}

/* run_hook() that makes rs2 the rule set after frame `at`, as a publication would
 * (engine_set_rules()). Frees both sets and the capture. */
static void run_swap(const struct engine_config *cfg, struct ruleset *rs, struct ruleset *rs2,
                     unsigned at, size_t want_before, struct run *r)
{
    run_hook(cfg, rs, at, want_before, set_rules_hook, rs2, r);
    ruleset_free(rs2);
}

/* A ClientHello whose name arrives before the rest of it: decided on the name at once (it
 * passes), then again once complete. The second decision is the first one taken again when
 * nothing it reads changed (decisions_reused); when the rules change in between (now listing
 * the name) it is made afresh and blocks. */
START_TEST(hello_split_decision_reused)
{
    static uint8_t h[4096];
    struct pcapw_hello hh;
    memset(&hh, 0, sizeof(hh));
    hh.sni = "allowed.example";
    hh.pad_to = 1200;
    size_t sni_at = 0;
    size_t n = pcapw_tls_hello(&hh, h, sizeof(h), &sni_at);
    size_t cut = sni_at + strlen(hh.sni) + 8; /* the name and a few bytes: not the whole hello */
    ck_assert_uint_gt(sni_at, 0);
    ck_assert_uint_lt(cut, n);
    const char *listed = "allowed.example";
    for (int swap = 0; swap < 2; swap++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, cut), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)cut, h + cut, n - cut), 0);
        ck_assert_int_eq(pcapw_close(w), 0);

        struct ruleset *rs = rules();
        struct ruleset_builder *b = ruleset_builder_new();
        char err[256];
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(ruleset_builder_add(b, listed, strlen(listed), NULL, err, sizeof(err)), 0);
        struct ruleset *rs2 = ruleset_build(b);
        ck_assert_ptr_nonnull(rs2);
        struct engine_config cfg;
        small_config(&cfg);
        static struct run r;
        /* SYN, SYN-ACK, ACK, the hello's first part: passed on its name, waits for the rest */
        run_swap(&cfg, rs, swap ? rs2 : NULL, 4, 0, &r);
        if (!swap)
            ruleset_free(rs2);
        ck_assert_uint_eq(r.n, 1);
        ck_assert_str_eq(r.ev[0].name, "allowed.example");
        ck_assert_int_eq(r.ev[0].verdict, swap ? VERDICT_BLOCK : VERDICT_PASS);
        ck_assert_int_eq(r.ev[0].method, swap ? METHOD_DOMAIN : METHOD_NONE);
        ck_assert_uint_eq(r.st.decisions_reused, swap ? 0 : 1);
    }
}
END_TEST

/* A TLS connection passed and used, written to w: handshake, the hello h (n bytes), the
 * server's first data (100 bytes), the client's ACK - frame 6, after which a test changes the
 * rules or the tariffs. *c stays open for more. */
static void passed_tls(struct pcapw *w, struct pcapw_conv *c, const uint8_t *h, size_t n)
{
    static const uint8_t data[100] = { 0x17, 0x03, 0x03, 0x00, 0x5f };
    ck_assert_int_eq(pcapw_conv_init(c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(c), 0);
    ck_assert_int_eq(pcapw_conv_client_data(c, 0, h, n), 0);
    ck_assert_int_eq(pcapw_conv_server_data(c, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(pcapw_conv_ack(c, true), 0);
}

/* Tap mode (cut_passed): a TLS flow passed on its name, its server answered (settled); then a
 * rule set that lists the server's address. The flow's next packet - the server's, then in a
 * second run the client's; in the first, after a fake reset out of the server's window, which
 * must not spare it - is reported as a block with cut set and the sequence numbers that
 * packet carries (where the resets go). Without cut_passed (scan), nothing more is reported;
 * nor for a set that lists another address. */
START_TEST(passed_flow_cut_after_new_rules)
{
    static uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "allowed.example");
    static const uint8_t data[100] = { 0x17, 0x03, 0x03, 0x00, 0x5f };
    for (int k = 0; k < 4; k++) {
        bool cut_on = k != 2, client_next = k == 1, other = k == 3;
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        passed_tls(w, &c, h, n); /* frame 6: the rules change after it */
        if (k == 0) {
            /* a fake reset first (out of the server's window: it drops it) must not spare it */
            struct pcapw_pkt rp;
            pcapw_conv_pkt(&c, true, &rp);
            rp.flags = PCAPW_RST;
            rp.seq += 1000000;
            uint32_t cnext = c.cnext;
            ck_assert_int_eq(pcapw_conv_send(&c, &rp), 0);
            c.cnext = cnext; /* the server never took it: its acks stay where they were */
        }
        if (client_next)
            ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)n, data, 40), 0);
        else
            ck_assert_int_eq(pcapw_conv_server_data(&c, sizeof(data), data, 60), 0);
        ck_assert_int_eq(pcapw_conv_server_data(&c, sizeof(data) + 60, data, 10), 0);
        uint32_t cisn = c.cisn, sisn = c.sisn;
        ck_assert_int_eq(pcapw_close(w), 0);

        struct ruleset *rs = rules();
        struct ruleset_builder *b = ruleset_builder_new();
        char err[256];
        ck_assert_ptr_nonnull(b);
        const char *addr = other ? "10.0.0.2" : "10.0.0.1";
        ck_assert_int_eq(ruleset_builder_add(b, addr, strlen(addr), NULL, err, sizeof(err)), 0);
        struct ruleset *rs2 = ruleset_build(b);
        ck_assert_ptr_nonnull(rs2);
        struct engine_config cfg;
        small_config(&cfg);
        cfg.cut_passed = cut_on;
        static struct run r;
        run_swap(&cfg, rs, rs2, 6, 1, &r); /* after the client's ACK: passed on its name */
        ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
        ck_assert(!r.ev[0].cut);
        if (!cut_on || other) {
            ck_assert_uint_eq(r.n, 1);
            ck_assert_uint_eq(r.st.passed_cut, 0);
            continue;
        }
        ck_assert_uint_eq(r.n, 2); /* once: the packet after it finds the flow blocked */
        ck_assert_uint_eq(r.st.passed_cut, 1);
        ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
        ck_assert_int_eq(r.ev[1].action, ACTION_RESET);
        ck_assert(r.ev[1].cut && r.ev[1].seq_known);
        uint32_t cli_end = cisn + 1 + (uint32_t)n + (client_next ? 40u : 0u);
        uint32_t srv_end = sisn + 1 + (uint32_t)sizeof(data) + (client_next ? 0u : 60u);
        ck_assert_uint_eq(r.ev[1].cli_next, cli_end);
        ck_assert_uint_eq(r.ev[1].srv_next, srv_end);
    }
}
END_TEST

/* Tap mode (passed_names): a TLS flow passed on its name, settled; then a rule set that lists
 * that name. Its next packet (the server's) is reported as a block by name, with cut set and
 * that packet's sequence numbers; the name's entry goes with the flow. Without the names kept,
 * nothing more is reported (the connection went on as long as it lasted). */
START_TEST(passed_name_cut_after_new_rules)
{
    static uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "later.example");
    static const uint8_t data[100] = { 0x17, 0x03, 0x03, 0x00, 0x5f };
    for (int keep = 0; keep < 2; keep++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        passed_tls(w, &c, h, n); /* frame 6: the rules change after it */
        ck_assert_int_eq(pcapw_conv_server_data(&c, sizeof(data), data, 60), 0);
        uint32_t cisn = c.cisn, sisn = c.sisn;
        ck_assert_int_eq(pcapw_close(w), 0);
        struct ruleset *rs = rules();
        struct ruleset_builder *b = ruleset_builder_new();
        char err[256];
        ck_assert_ptr_nonnull(b);
        static const char *const later[] = { "blocked.example", "later.example" };
        for (size_t i = 0; i < 2; i++)
            ck_assert_int_eq(
                ruleset_builder_add(b, later[i], strlen(later[i]), NULL, err, sizeof(err)), 0);
        struct ruleset *rs2 = ruleset_build(b);
        ck_assert_ptr_nonnull(rs2);
        struct engine_config cfg;
        small_config(&cfg);
        cfg.cut_passed = true;
        cfg.passed_names = keep ? 8 : 0;
        static struct run r;
        run_swap(&cfg, rs, rs2, 6, 1, &r);
        ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
        ck_assert_str_eq(r.ev[0].name, "later.example");
        if (!keep) {
            ck_assert_uint_eq(r.n, 1);
            ck_assert_uint_eq(r.st.passed_name_cut, 0);
            continue;
        }
        ck_assert_uint_eq(r.n, 2);
        ck_assert_uint_eq(r.st.passed_name_cut, 1);
        ck_assert_uint_eq(r.st.passed_cut, 0);
        ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
        ck_assert_int_eq(r.ev[1].method, METHOD_DOMAIN);
        ck_assert_str_eq(r.ev[1].name, "later.example");
        ck_assert(r.ev[1].cut && r.ev[1].seq_known);
        ck_assert_uint_eq(r.ev[1].cli_next, cisn + 1 + (uint32_t)n);
        ck_assert_uint_eq(r.ev[1].srv_next, sisn + 1 + (uint32_t)sizeof(data) + 60u);
        ck_assert_uint_eq(r.st.passed_names_kept, 0); /* let go with the flow */
    }
}
END_TEST

/* The same, the rule set published right after the ClientHello, before its server answered
 * (the flow still inspected): the mark waits, and the first packet after the answer cuts it.
 * (Before, only settled flows were judged again: this one went on until the next publication.) */
START_TEST(passed_name_cut_before_answer)
{
    static uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "later.example");
    static const uint8_t data[100] = { 0x17, 0x03, 0x03, 0x00, 0x5f };
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, n), 0); /* frame 4: the rules change */
    ck_assert_int_eq(pcapw_conv_server_data(&c, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(pcapw_conv_ack(&c, true), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(ruleset_builder_add(b, "later.example", 13, NULL, err, sizeof(err)), 0);
    struct ruleset *rs2 = ruleset_build(b);
    ck_assert_ptr_nonnull(rs2);
    struct engine_config cfg;
    small_config(&cfg);
    cfg.cut_passed = true;
    cfg.passed_names = 8;
    static struct run r;
    run_swap(&cfg, rules(), rs2, 4, 1, &r);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
    ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
    ck_assert(r.ev[1].cut);
    ck_assert_str_eq(r.ev[1].name, "later.example");
    ck_assert_uint_eq(r.st.passed_name_cut, 1);
}
END_TEST

/* The tariff table published while a child's TLS flow is open (tap mode, kept names): its
 * subscriber moved from a profile that blocks a category to an allow-list that does not hold
 * the flow's name. engine_judge_kept() (what the tap worker calls at a publication, and every
 * minute with tariffs) cuts it at its next packet (cause allowlist). */
struct tariff_move {
    struct tariff *t;
};

static void move_to_strict(struct engine *e, void *ctx)
{
    struct tariff_move *m = ctx;
    char err[256];
    ck_assert_int_eq(tariff_set_sub(m->t, "77010000001", "profile=strict", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_publish(m->t, err, sizeof(err)), 0);
    engine_judge_kept(e);
}

START_TEST(kept_name_tariff_published)
{
    char err[256];
    static struct tariffix tx;
    ck_assert_msg(tariffix_init(&tx, "192.0.2.1", err, sizeof(err)) == 0, "%s", err);
    struct tariff *t = tx.t;

    static uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "later.example");
    static const uint8_t data[100] = { 0x17, 0x03, 0x03, 0x00, 0x5f };
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    passed_tls(w, &c, h, n); /* frame 6: the table published after it */
    ck_assert_int_eq(pcapw_conv_server_data(&c, sizeof(data), data, 60), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    cfg.cut_passed = true;
    cfg.passed_names = 8;
    cfg.tariff = &tx.vt;
    struct tariff_move mv = { t };
    static struct run r;
    run_hook(&cfg, rules(), 6, 1, move_to_strict, &mv, &r);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_int_eq(r.ev[1].verdict, VERDICT_BLOCK);
    ck_assert(r.ev[1].cut);
    ck_assert_str_eq(r.ev[1].name, "later.example");
    ck_assert_uint_eq(r.st.passed_name_cut, 1);
    tariffix_fini(&tx);
}
END_TEST

/* A request head larger than the buffer: an allowed Host, then padding lines, then a second
 * Host naming a blocked host blocks, inside the buffer or past it: a head past half the buffer
 * is judged by what it showed (http_cut; with no Host yet, http_limit) and the rest of the
 * stream is scanned line by line. */
START_TEST(http_head_over_cap)
{
    static char req[12000];
    struct {
        const char *first;  /* Host line before the padding, or NULL */
        size_t pad_before;  /* padding lines before the second Host line */
        const char *second; /* Host line after the padding, or NULL */
        enum verdict want;
        uint64_t cut, limit;
    } cases[] = {
        /* the whole head under half the buffer: parsed whole, the second Host judged */
        { "allowed.example", 10, "blocked.example", VERDICT_BLOCK, 0, 0 },
        /* past half the buffer: judged by the first Host, then scanned line by line - the
         * second Host is seen however long the head (servers with larger limits serve it) */
        { "allowed.example", 60, "blocked.example", VERDICT_BLOCK, 1, 0 },
        { NULL, 60, "blocked.example", VERDICT_BLOCK, 0, 1 },
        { "blocked.example", 60, NULL, VERDICT_BLOCK, 0, 0 },
        { "allowed.example", 60, NULL, VERDICT_PASS, 1, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
        if (cases[i].first)
            n += (size_t)snprintf(req + n, sizeof(req) - n, "Host: %s\r\n", cases[i].first);
        for (size_t k = 0; k < cases[i].pad_before; k++)
            n += (size_t)snprintf(req + n, sizeof(req) - n, "X-Pad: %0100d\r\n", 0);
        if (cases[i].second)
            n += (size_t)snprintf(req + n, sizeof(req) - n, "Host: %s\r\n", cases[i].second);
        n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 80), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        for (uint32_t off = 0; off < n; off += 1400)
            ck_assert_int_eq(pcapw_conv_client_data(&c, off, (const uint8_t *)req + off,
                                                    n - off < 1400 ? n - off : 1400),
                             0);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg); /* 4 KiB: 10 padding lines are under half of it, 60 are over all */
        static struct run r;
        run(&cfg, &r);
        bool blocked = false;
        for (size_t k = 0; k < r.n; k++)
            blocked = blocked || r.ev[k].verdict == VERDICT_BLOCK;
        ck_assert_msg(blocked == (cases[i].want == VERDICT_BLOCK), "case %zu", i);
        ck_assert_uint_eq(r.st.http_cut, cases[i].cut);
        ck_assert_uint_eq(r.st.http_limit, cases[i].limit);
        unlink(g_path);
    }
}
END_TEST

/* One connection to 10.0.0.1:port carrying the client byte runs parts[0..n), each answered
 * by the server (an "HTTP/1.1 101" after an Upgrade, "200" after CONNECT: the engine never
 * reads it), run through a default engine. */
static void run_parts(uint16_t port, const struct span *parts, size_t n, struct run *r)
{
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", port), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    uint32_t off = 0, soff = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < parts[i].len; k += 1400) {
            size_t m = parts[i].len - k < 1400 ? parts[i].len - k : 1400;
            ck_assert_int_eq(pcapw_conv_client_data(&c, off + (uint32_t)k, parts[i].p + k, m), 0);
        }
        off += (uint32_t)parts[i].len;
        static const uint8_t resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        ck_assert_int_eq(pcapw_conv_server_data(&c, soff, resp, sizeof(resp) - 1), 0);
        soff += (uint32_t)(sizeof(resp) - 1);
    }
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    cfg.reasm_bytes = 32768;
    run(&cfg, r);
    unlink(g_path);
}

#define SPAN_STR(s)                         \
    {                                       \
        (const uint8_t *)(s), sizeof(s) - 1 \
    }

static bool any_block(const struct run *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].verdict == VERDICT_BLOCK && strcmp(r->ev[i].name, name) == 0)
            return true;
    return false;
}

/* After a request the stream may speak something else (EVASION H16-H18): a WebSocket after its
 * Upgrade is not judged as requests; HTTP/2 after "Upgrade: h2c" is judged as h2c; the TLS
 * hello inside a CONNECT tunnel is judged by its SNI; a chunked body is skipped by its framing,
 * never read as a request (H17), and the request after it is judged (H16). */
START_TEST(keepalive_after_upgrade_connect_chunked)
{
    static struct run r;
    /* WebSocket: a masked text frame follows the Upgrade request */
    static const struct span ws[] = {
        SPAN_STR("GET /chat HTTP/1.1\r\nHost: allowed.example\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n"),
        SPAN_STR("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
    };
    run_parts(80, ws, 2, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
    ck_assert_uint_eq(r.st.stream_not_mine, 1);
    ck_assert_uint_eq(r.st.http_malformed, 0);

    /* Upgrade: h2c, then the preface, SETTINGS and a HEADERS for stream 3 whose :authority
     * (literal, static name index 1) is the blocked host */
    static const struct span h2[] = {
        SPAN_STR(
            "GET / HTTP/1.1\r\nHost: allowed.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
        SPAN_STR("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                 "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                 "\x00\x00\x14\x01\x05\x00\x00\x00\x03"
                 "\x82\x86\x84\x01\x0f"
                 "blocked.example"),
    };
    run_parts(80, h2, 2, &r);
    ck_assert(any_block(&r, "blocked.example"));
    ck_assert_int_eq(r.ev[r.n - 1].app, APP_H2C);

    /* CONNECT to an allowed name, then a ClientHello for the blocked one inside the tunnel */
    static uint8_t ch[2048];
    size_t n = hello(ch, sizeof(ch), "blocked.example");
    struct span cn[] = {
        SPAN_STR("CONNECT allowed.example:443 HTTP/1.1\r\nHost: allowed.example:443\r\n\r\n"),
        { ch, n },
    };
    run_parts(3128, cn, 2, &r);
    ck_assert_int_eq(r.ev[0].verdict, VERDICT_PASS);
    ck_assert(any_block(&r, "blocked.example"));

    /* chunked upload holding a request for the blocked host, then an allowed request, then a
     * blocked one */
    static const struct span ck[] = {
        SPAN_STR("POST /u HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "29;x=1\r\nGET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n\r\n0\r\nT: 1\r\n\r\n"),
        SPAN_STR("GET /a HTTP/1.1\r\nHost: allowed.example\r\n\r\n"),
        SPAN_STR("GET /b HTTP/1.1\r\nHost: blocked.example\r\n\r\n"),
    };
    run_parts(80, ck, 2, &r);
    ck_assert_uint_eq(r.n, 2);
    ck_assert(!any_block(&r, "blocked.example"));
    run_parts(80, ck, 3, &r);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.ev[2].req, 3);
    ck_assert(any_block(&r, "blocked.example"));

    /* broken chunked framing: judging stops, counted */
    static const struct span bad[] = {
        SPAN_STR("POST /u HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "zz\r\n"),
    };
    run_parts(80, bad, 1, &r);
    ck_assert_uint_eq(r.st.http_body_malformed, 1);
}
END_TEST

/* h2c with every decoder state held (one here, by an open connection): a new connection takes
 * the state used longest ago, and its streams are all judged (its second one, for the blocked
 * host, blocked on its name). The connection that lost its state cannot decode its later
 * streams - they could name any host - and is blocked by policy at its next one (method
 * no-room). Before, the new connection got no state: its first stream was judged alone and its
 * later ones refused, so a flood of idle h2c connections refused everyone new. */
START_TEST(h2c_state_given_to_a_newer_connection)
{
#define H2_PRE            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
#define H2_HDR(sid, host) "\x00\x00\x14\x01\x05\x00\x00\x00" sid "\x82\x86\x84\x01\x0f" host
    static const char a[] = H2_PRE H2_HDR("\x01", "allowed.example");
    static const char a2[] = H2_HDR("\x03", "allowed.example");
    static const char b[] =
        H2_PRE H2_HDR("\x01", "allowed.example") H2_HDR("\x03", "blocked.example");
#undef H2_PRE
#undef H2_HDR
    struct pcapw *w = open_cap();
    struct pcapw_conv ca, cb;
    ck_assert_int_eq(pcapw_conv_init(&ca, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 80), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&ca), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&ca, 0, (const uint8_t *)a, sizeof(a) - 1), 0);
    ck_assert_int_eq(pcapw_conv_init(&cb, w, ca.ts, "192.0.2.2", 40002, "10.0.0.1", 80), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&cb), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&cb, 0, (const uint8_t *)b, sizeof(b) - 1), 0);
    ca.ts = cb.ts;
    ck_assert_int_eq(
        pcapw_conv_client_data(&ca, sizeof(a) - 1, (const uint8_t *)a2, sizeof(a2) - 1), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    cfg.h2c_conns = 1;
    static struct run r;
    run(&cfg, &r);
    unlink(g_path);
    ck_assert_uint_eq(r.st.h2c_no_state, 1);
    const struct ev *la = NULL, *lb = NULL;
    for (size_t i = 0; i < r.n; i++) {
        if (r.ev[i].flow == 1)
            la = &r.ev[i];
        if (r.ev[i].flow == 2)
            lb = &r.ev[i];
    }
    ck_assert_ptr_nonnull(lb); /* the newer connection: its second stream blocked by name */
    ck_assert_int_eq(lb->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(lb->method, METHOD_DOMAIN);
    ck_assert_str_eq(lb->name, "blocked.example");
    ck_assert_ptr_nonnull(la); /* the older one, at its next stream: refused */
    ck_assert_int_eq(la->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(la->method, METHOD_NO_ROOM);
}
END_TEST

/* The HTTP form of T4, on the second request of a kept-alive connection: a TTL-1 fake naming
 * the allowed host at the real request's sequence, then the real one naming the blocked host.
 * The judged request's bytes are held until the server answers, so the real copy shows as a
 * conflict and is judged (alt); with the copies swapped the first one read blocks. */
START_TEST(http_fake_then_real_each_request)
{
    static const char r1[] = "GET /1 HTTP/1.1\r\nHost: allowed.example\r\n\r\n";
    static const char ok[] = "GET /2 HTTP/1.1\r\nHost: allowed.example\r\n\r\n";
    static const char bad[] = "GET /2 HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    static const uint8_t resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (int swap = 0; swap < 2; swap++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        struct pcapw_pkt p;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 80), 0);
        ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
        ck_assert_int_eq(pcapw_conv_client_data(&c, 0, (const uint8_t *)r1, sizeof(r1) - 1), 0);
        ck_assert_int_eq(pcapw_conv_server_data(&c, 0, resp, sizeof(resp) - 1), 0);
        const char *fake = swap ? bad : ok, *real = swap ? ok : bad;
        pcapw_conv_pkt(&c, true, &p);
        p.seq = c.cisn + 1 + (uint32_t)(sizeof(r1) - 1);
        p.flags = PCAPW_PSH | PCAPW_ACK;
        p.payload = (const uint8_t *)fake;
        p.payload_len = sizeof(ok) - 1;
        p.ttl = 1;
        uint32_t keep = c.cnext;
        ck_assert_int_eq(pcapw_conv_send(&c, &p), 0);
        c.cnext = keep;
        ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)(sizeof(r1) - 1),
                                                (const uint8_t *)real, sizeof(ok) - 1),
                         0);
        ck_assert_int_eq(
            pcapw_conv_server_data(&c, (uint32_t)(sizeof(resp) - 1), resp, sizeof(resp) - 1), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct engine_config cfg;
        small_config(&cfg);
        static struct run r;
        run(&cfg, &r);
        ck_assert_uint_eq(r.st.reasm_conflicts, swap ? 0 : 1); /* swapped: decided first */
        ck_assert(any_block(&r, "blocked.example"));
        const struct ev *last = &r.ev[r.n - 1];
        ck_assert_int_eq(last->verdict, VERDICT_BLOCK);
        ck_assert_uint_eq(last->req, 2);
        ck_assert(last->alt == !swap);
        unlink(g_path);
    }
}
END_TEST

/* Frames larger than the capture's slot arrive cut (tap mode, engine_frame_cut): never judged
 * on the bytes that are there as if complete. A ClientHello naming a blocked site, sent as one
 * 3000-byte segment and cut at 1518 bytes: blocked by policy (the name is not readable), the
 * reset at the sequence past the whole segment. The same to a listed address: blocked by the
 * address. A cut segment after a decided ClientHello (0-RTT data), a cut server segment and a
 * cut first frame of a connection picked up mid-stream change nothing. */
START_TEST(cut_frames_never_pass_unread)
{
    static uint8_t h[4000];
    struct pcapw_hello hh;
    memset(&hh, 0, sizeof(hh));
    hh.sni = "blocked.example";
    hh.sni_last = true; /* the name in the missing part */
    hh.pad_to = 2900;
    size_t n = pcapw_tls_hello(&hh, h, sizeof(h), NULL);
    ck_assert_uint_gt(n, 2900);
    uint8_t small[1024];
    size_t sn = hello(small, sizeof(small), "allowed.example");
    static uint8_t junk[3000];
    memset(junk, 0x17, sizeof(junk));

    struct pcapw *w = open_cap();
    struct pcapw_conv c1, c2, c3;
    ck_assert_int_eq(pcapw_conv_init(&c1, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c1), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c1, 0, h, n), 0);
    ck_assert_int_eq(pcapw_conv_init(&c2, w, 2000000, "192.0.2.1", 40002, "10.0.0.9", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c2), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c2, 0, h, n), 0);
    ck_assert_int_eq(pcapw_conv_init(&c3, w, 3000000, "192.0.2.1", 40003, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c3), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c3, 0, small, sn), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c3, (uint32_t)sn, junk, sizeof(junk)), 0);
    ck_assert_int_eq(pcapw_conv_server_data(&c3, 0, junk, sizeof(junk)), 0);
    /* picked up mid-stream (no handshake seen), a cut first frame: which side is the client is
     * not known, nothing is judged on it */
    struct pcapw_conv c4;
    ck_assert_int_eq(pcapw_conv_init(&c4, w, 4000000, "10.0.0.1", 443, "192.0.2.1", 40004), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c4, 0, junk, sizeof(junk)), 0);
    ck_assert_int_eq(pcapw_close(w), 0);

    char err[256];
    struct ruleset *rs = rules();
    static struct run r;
    memset(&r, 0, sizeof(r));
    struct capture *cap = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_msg(cap != NULL, "%s", err);
    struct engine_config cfg;
    small_config(&cfg);
    struct engine *e = engine_new(&cfg, rs, on_event, &r);
    ck_assert_ptr_nonnull(e);
    struct capture_frame fr;
    int rc;
    while ((rc = capture_next(cap, &fr, err, sizeof(err))) == 1) {
        if (fr.caplen > 1518)
            engine_frame_cut(e, cap->ops->linktype(cap), fr.ts_us, fr.data, 1518, fr.caplen);
        else
            engine_frame(e, cap->ops->linktype(cap), fr.ts_us, fr.data, fr.caplen);
    }
    ck_assert_int_eq(rc, 0);
    engine_finish(e);
    engine_get_stats(e, &r.st);
    engine_free(e);
    capture_close(cap);
    ruleset_free(rs);

    ck_assert_uint_eq(r.st.cut, 5);
    ck_assert_uint_eq(r.st.cut_blocked, 1);
    ck_assert_uint_eq(r.st.cut_undecoded, 0);
    ck_assert_uint_eq(r.n, 3);
    const struct ev *a = find(&r, 1, 1), *b = find(&r, 2, 1), *d = find(&r, 3, 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(a->method, METHOD_TRUNCATED);
    ck_assert_int_eq(a->action, ACTION_RESET);
    ck_assert(a->seq_known);
    ck_assert_uint_eq(a->cli_next, c1.cisn + 1 + (uint32_t)n);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->verdict, VERDICT_BLOCK);
    ck_assert_int_eq(b->method, METHOD_IP_FALLBACK); /* an IP entry, no name seen */
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->verdict, VERDICT_PASS);
    ck_assert_str_eq(d->name, "allowed.example");
    ck_assert_str_eq(verdict_method_name(METHOD_TRUNCATED), "truncated");
    unlink(g_path);
}
END_TEST

static void cut_pickups_hook(struct engine *e, void *ctx)
{
    size_t *marked = ctx;
    *marked = engine_cut_pickups(e, 10);
}

/* Tap mode, after capture drops (engine_cut_pickups()): a connection first seen without its SYN
 * - its SYN and ClientHello gone with the dropped frames, its next data read mid-stream and
 * passed on its address - is marked and reset at its next packet (method unseen, that packet's
 * sequence numbers), though its address is not listed. A connection whose SYN was seen is
 * left alone, and so is one first seen before the window. */
START_TEST(pickups_cut_after_drops)
{
    static const uint8_t app[100] = { 0x17, 0x03, 0x03, 0x00, 0x5f };
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "allowed.example");
    struct pcapw *w = open_cap();
    struct pcapw_conv old, seen, hid;
    /* first seen without its SYN 60 s before the others: outside the window */
    ck_assert_int_eq(pcapw_conv_init(&old, w, 1000000, "192.0.2.5", 40050, "10.0.0.1", 443), 0);
    old.cnext = old.cisn + 1 + 600;
    old.snext = old.sisn + 1 + 4000;
    ck_assert_int_eq(pcapw_conv_client_data(&old, 600, app, sizeof(app)), 0);
    ck_assert_int_eq(pcapw_conv_server_data(&old, 4000, app, sizeof(app)), 0);
    /* a connection seen whole */
    ck_assert_int_eq(pcapw_conv_init(&seen, w, 61000000, "192.0.2.6", 40051, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&seen), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&seen, 0, h, n), 0);
    ck_assert_int_eq(pcapw_conv_server_data(&seen, 0, app, sizeof(app)), 0);
    /* its SYN and hello dropped: first seen at its next client data */
    ck_assert_int_eq(pcapw_conv_init(&hid, w, seen.ts, "192.0.2.7", 40052, "10.0.0.1", 443), 0);
    hid.cnext = hid.cisn + 1 + (uint32_t)n;
    hid.snext = hid.sisn + 1 + 3000;
    ck_assert_int_eq(pcapw_conv_client_data(&hid, (uint32_t)n, app, sizeof(app)), 0);
    ck_assert_int_eq(pcapw_conv_server_data(&hid, 3000, app, sizeof(app)), 0); /* frame 10 */
    /* after the drops were noticed: the next packet of each */
    old.ts = seen.ts = hid.ts;
    ck_assert_int_eq(pcapw_conv_client_data(&old, 600 + sizeof(app), app, sizeof(app)), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&seen, (uint32_t)n, app, sizeof(app)), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&hid, (uint32_t)n + sizeof(app), app, 40), 0);
    uint32_t hid_end = hid.cisn + 1 + (uint32_t)n + (uint32_t)sizeof(app) + 40u;
    uint32_t hid_srv = hid.sisn + 1 + 3000u + (uint32_t)sizeof(app);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct engine_config cfg;
    small_config(&cfg);
    size_t marked = 0;
    static struct run r;
    run_hook(&cfg, rules(), 10, 3, cut_pickups_hook, &marked, &r); /* 3 passes so far */
    ck_assert_uint_eq(marked, 1);
    ck_assert_uint_eq(r.st.pickups_cut, 1);
    ck_assert_uint_eq(r.st.pickups_blocked, 1);
    const struct ev *b = NULL;
    for (size_t i = 0; i < r.n; i++)
        if (r.ev[i].verdict == VERDICT_BLOCK) {
            ck_assert_ptr_null(b);
            b = &r.ev[i];
        }
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->method, METHOD_UNSEEN);
    ck_assert_int_eq(b->action, ACTION_RESET);
    ck_assert(b->cut && b->seq_known);
    ck_assert_uint_eq(b->cli_next, hid_end);
    ck_assert_uint_eq(b->srv_next, hid_srv);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pool_exhaustion_policy);
    tcase_add_test(tc, fallback_addresses);
    tcase_add_test(tc, keepalive_every_request);
    tcase_add_test(tc, eviction_counted);
    tcase_add_test(tc, forged_quic_is_ignored);
    tcase_add_test(tc, hello_over_cap);
    tcase_add_test(tc, hello_name_before_cap);
    tcase_add_test(tc, hello_split_decision_reused);
    tcase_add_test(tc, passed_flow_cut_after_new_rules);
    tcase_add_test(tc, passed_name_cut_after_new_rules);
    tcase_add_test(tc, pickups_cut_after_drops);
    tcase_add_test(tc, kept_name_tariff_published);
    tcase_add_test(tc, passed_name_cut_before_answer);
    tcase_add_test(tc, client_share_blocks_unreadable);
    tcase_add_test(tc, pool_evicts_oldest);
    tcase_add_test(tc, conflict_without_alt_view);
    tcase_add_test(tc, flood_does_not_evict_a_request);
    tcase_add_test(tc, server_answers_unseen_bytes);
    tcase_add_test(tc, later_request_unseen);
    tcase_add_test(tc, quic_flood_does_not_evict_a_hello);
    tcase_add_test(tc, quic_budget_between_parts);
    tcase_add_test(tc, h2c_state_given_to_a_newer_connection);
    tcase_add_test(tc, quic_no_slot_policy);
    tcase_add_test(tc, http_head_over_cap);
    tcase_add_test(tc, keepalive_after_upgrade_connect_chunked);
    tcase_add_test(tc, http_fake_then_real_each_request);
    tcase_add_test(tc, block_seq_past_the_cap);
    tcase_add_test(tc, cut_frames_never_pass_unread);
    suite_add_tcase(s, tc);
    tc = tcase_create("quic");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quic_junk_and_0rtt_first);
    tcase_add_test(tc, quic_second_attempt);
    tcase_add_test(tc, quic_budget_spent);
    tcase_add_test(tc, quic_conflicting_initials);
    tcase_add_test(tc, quic_coalesced_initials);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(engine_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
