/* check_engine_queue.c - Check suite for what the engine tells queue mode about each frame
 * (engine_frame_info) and for judging a flow on demand (engine_judge_now), proxy/engine/engine.c.
 *
 * Captures are crafted with tests/lib/pcapw.h, read back through the pcap back end and fed one
 * frame at a time; the frame info is recorded after each. The live path (held packets, verdicts)
 * is tests/scripts/queue.sh's. */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/capture/capture.h"
#include "proxy/capture/capture_pcap.h"
#include "proxy/engine/engine.h"
#include "rules/match/ruleset.h"
#include "tests/lib/pcapw.h"
#include "tests/lib/quicw.h"

#define MAX_FR 64

struct rec {
    struct engine_frame_info fi[MAX_FR];
    size_t n;
    unsigned events, blocks;
    enum verdict_method last_method;
    uint32_t block_seq;   /* a block's client packet's sequence number */
    bool seq_known;       /* the last event's */
    bool block_seq_known; /* the last block's: its resets can be built */
    uint32_t srv_next_seq;
};

static bool g_synack_unseen; /* feed(): the engine as queue mode configures it */
static uint8_t g_unseen_syn; /* feed(): engine_config.unseen_syn (ENGINE_UNSEEN_SYN_*) */
static size_t g_cut;         /* feed(): frames longer than this arrive cut to it (0: none) */
static bool g_defer;         /* feed(): engine_config.defer_no_buffer, one reassembly buffer */
static bool g_drop_short;    /* feed(): engine_config.drop_short_initials */

static char g_path[64];

static void on_event(void *ctx, const struct engine_event *e)
{
    struct rec *r = ctx;
    r->events++;
    if (e->d.verdict == VERDICT_BLOCK) {
        r->blocks++;
        if (e->pkt && e->pkt_from_client)
            r->block_seq = e->pkt->seq;
        r->block_seq_known = e->seq_known;
    }
    r->last_method = e->d.method;
    r->seq_known = e->seq_known;
    r->srv_next_seq = e->srv_next_seq;
}

static struct ruleset *rules(void)
{
    static const char *const entries[] = { "blocked.example", "10.0.0.9" };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < 2; i++)
        ck_assert_int_eq(
            ruleset_builder_add(b, entries[i], strlen(entries[i]), NULL, err, sizeof(err)), 0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    return rs;
}

static struct pcapw *open_cap(void)
{
    snprintf(g_path, sizeof(g_path), "/tmp/qg-check-engq-%d.pcap", (int)getpid());
    struct pcapw *w = pcapw_open(g_path);
    ck_assert_ptr_nonnull(w);
    return w;
}

static size_t hello(uint8_t *out, size_t cap, const char *sni, size_t *sni_off)
{
    struct pcapw_hello h;
    memset(&h, 0, sizeof(h));
    h.sni = sni;
    h.alpn = "h2,http/1.1";
    h.seed = 3;
    size_t n = pcapw_tls_hello(&h, out, cap, sni_off);
    ck_assert_uint_gt(n, 100);
    return n;
}

/* A QUIC v1 client Initial under dcid carrying bytes [0, upto) of the ClientHello for sni (upto
 * 0: all of it), padded to min_len; returns its length. */
static size_t seal_initial(const uint8_t dcid[8], const char *sni, size_t upto, size_t min_len,
                           uint8_t *out, size_t cap)
{
    static const uint8_t scid[8] = { 5, 6 };
    struct quicw q;
    uint8_t h[2048], fr[1500];
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, dcid, 8, scid, 8), 0);
    size_t hl = quicw_hello(sni, 0, h, sizeof(h), NULL);
    ck_assert_uint_gt(hl, 100);
    size_t fl = 0;
    ck_assert_int_eq(quicw_crypto(fr, sizeof(fr), &fl, 0, h, upto ? upto : hl), 0);
    size_t n = quicw_initial(&q, 0, fr, fl, min_len, out, cap);
    ck_assert_uint_gt(n, 0);
    quicw_fini(&q);
    return n;
}

/* A client datagram 192.0.2.1:sport -> 10.0.0.1:443 at ts_us into w. */
static void put_client_udp(struct pcapw *w, uint64_t ts_us, uint16_t sport, const uint8_t *pl,
                           size_t len)
{
    ck_assert_int_eq(pcapw_put_udp(w, ts_us, "192.0.2.1", sport, "10.0.0.1", 443, pl, len), 0);
}

/* Feeds the capture at g_path frame by frame, recording the frame info after each. The engine
 * is left to the caller (freed by it) when keep is non-NULL. */
static void feed(struct rec *r, struct ruleset *rs, struct engine **keep)
{
    char err[256];
    struct engine_config cfg;
    engine_config_default(&cfg);
    cfg.max_flows = 1024;
    cfg.reasm_buffers = 16;
    cfg.quic_slots = 4;
    cfg.h2c_conns = 4;
    cfg.defrag_slots = 4; /* a few junk first fragments fill it */
    cfg.synack_unseen = g_synack_unseen;
    cfg.unseen_syn = g_unseen_syn;
    cfg.unseen_blocks = g_synack_unseen; /* as queue mode sets all three */
    cfg.udp_answer_blocks = g_synack_unseen;
    cfg.drop_short_initials = g_drop_short;
    if (g_defer) {
        cfg.defer_no_buffer = true;
        cfg.reasm_buffers = 1;
    }

    memset(r, 0, sizeof(*r));
    struct capture *cap = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_msg(cap != NULL, "%s", err);
    struct engine *e = engine_new(&cfg, rs, on_event, r);
    ck_assert_ptr_nonnull(e);
    struct capture_frame fr;
    while (capture_next(cap, &fr, err, sizeof(err)) == 1) {
        ck_assert_uint_lt(r->n, MAX_FR);
        if (g_cut && fr.caplen > g_cut)
            engine_frame_cut(e, cap->ops->linktype(cap), fr.ts_us, fr.data, g_cut, fr.caplen);
        else
            engine_frame(e, cap->ops->linktype(cap), fr.ts_us, fr.data, fr.caplen);
        engine_frame_info(e, &r->fi[r->n++]);
    }
    capture_close(cap);
    unlink(g_path);
    if (keep)
        *keep = e;
    else
        engine_free(e);
}

static void feed_stats(struct rec *r, uint8_t policy, struct engine_stats *st);

/* Queue mode's view of a handshake: the client's SYN is queued, the SYN-ACK and the
 * handshake's last ACK pass in the kernel (the rules' u32 match). */
static void conv_syn_only(struct pcapw_conv *c)
{
    c->cnext = c->cisn;
    c->snext = c->sisn;
    struct pcapw_pkt p;
    pcapw_conv_pkt(c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    ck_assert_int_eq(pcapw_conv_send(c, &p), 0);
    c->snext = c->sisn + 1;
}

/* A ClientHello split inside the blocked name: the first part is an undecided client segment
 * with its sequence number, the second decides and blocks; handshake packets carry no payload. */
START_TEST(split_hello_blocked)
{
    uint8_t h[2048];
    size_t so;
    size_t n = hello(h, sizeof(h), "blocked.example", &so);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40001, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, so + 3), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)(so + 3), h + so + 3, n - so - 3), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    feed(&r, rs, NULL);
    ck_assert_uint_eq(r.n, 5);
    for (size_t i = 0; i < 3; i++) { /* SYN, SYN-ACK, ACK */
        ck_assert_ptr_nonnull(r.fi[i].flow);
        ck_assert_uint_eq(r.fi[i].flow_id, 1);
        ck_assert_uint_eq(r.fi[i].l4proto, IPPROTO_TCP);
        ck_assert_uint_eq(r.fi[i].payload_len, 0);
        ck_assert(!r.fi[i].decided);
        ck_assert(!r.fi[i].set_aside);
    }
    ck_assert(r.fi[0].from_client);
    ck_assert(!r.fi[1].from_client);
    ck_assert(r.fi[3].from_client);
    ck_assert_uint_eq(r.fi[3].payload_len, so + 3);
    ck_assert_uint_eq(r.fi[3].seq, c.cisn + 1);
    ck_assert(!r.fi[3].decided);
    ck_assert(r.fi[4].decided);
    ck_assert(r.fi[4].blocked);
    ck_assert(r.fi[4].done);
    ck_assert_uint_eq(r.blocks, 1);
    ruleset_free(rs);
}
END_TEST

/* Queue mode, the reassembly pool empty (one buffer, held by a flow whose hello is incomplete):
 * a blocked name's hello cut across two segments is not taken, piece by piece (deferred: queue
 * mode drops them and the client sends them again) - before, the flow gave up reassembly and
 * was judged on its free address, so a flood of connections holding buffers opened the filter.
 * Once the buffer is free again, the client's retransmissions are read and blocked. */
START_TEST(no_buffer_deferred)
{
    uint8_t h1[2048], h2[2048];
    size_t so;
    size_t n1 = hello(h1, sizeof(h1), "allowed.example", NULL);
    size_t n2 = hello(h2, sizeof(h2), "blocked.example", &so);
    struct pcapw *w = open_cap();
    struct pcapw_conv a, b;
    ck_assert_int_eq(pcapw_conv_init(&a, w, 1000000, "192.0.2.1", 40011, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&a), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&a, 0, h1, 50), 0); /* frame 3: takes the buffer */
    ck_assert_int_eq(pcapw_conv_init(&b, w, a.ts, "192.0.2.2", 40012, "10.0.0.2", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&b), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&b, 0, h2, so + 3), 0); /* 7: deferred */
    ck_assert_int_eq(pcapw_conv_client_data(&b, (uint32_t)(so + 3), h2 + so + 3, n2 - so - 3),
                     0); /* 8 */
    a.ts = b.ts;
    ck_assert_int_eq(pcapw_conv_client_data(&a, 50, h1 + 50, n1 - 50), 0); /* 9: passes */
    const uint8_t resp[] = "\x16\x03\x03\x00\x04\x02\x00\x00\x00";
    ck_assert_int_eq(pcapw_conv_server_data(&a, 0, resp, sizeof(resp) - 1), 0); /* 10: frees */
    b.ts = a.ts;
    ck_assert_int_eq(pcapw_conv_client_data(&b, 0, h2, so + 3), 0); /* 11: sent again */
    ck_assert_int_eq(pcapw_conv_client_data(&b, (uint32_t)(so + 3), h2 + so + 3, n2 - so - 3),
                     0); /* 12 */
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    struct engine *e;
    g_defer = true;
    feed(&r, rs, &e);
    g_defer = false;
    ck_assert_uint_eq(r.n, 13);
    ck_assert(!r.fi[3].deferred);
    ck_assert(r.fi[7].deferred);
    ck_assert(r.fi[8].deferred);
    ck_assert(!r.fi[7].decided);
    ck_assert(!r.fi[8].decided); /* not judged on its address */
    ck_assert(r.fi[9].decided);
    ck_assert(!r.fi[9].blocked);
    ck_assert(r.fi[10].done);
    ck_assert(!r.fi[11].deferred);
    ck_assert(!r.fi[11].decided);
    ck_assert(r.fi[12].decided);
    ck_assert(r.fi[12].blocked);
    ck_assert_uint_eq(r.fi[12].flow_id, 2);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert_int_eq(r.last_method, METHOD_DOMAIN);
    struct engine_stats st;
    engine_get_stats(e, &st);
    ck_assert_uint_eq(st.reasm_deferred, 2);
    ck_assert_uint_eq(st.reasm_no_buffer, 0);
    engine_free(e);
    ruleset_free(rs);
}
END_TEST

/* Queue mode, every QUIC slot taken (4, by flows whose Initial carries the first half of a
 * hello): a fifth flow's Initial, a whole hello naming a blocked host, is not read (deferred:
 * dropped, the client sends it again) - before, it was judged on its free address and passed. */
START_TEST(quic_no_slot_deferred)
{
    static const uint8_t dcid[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
    uint8_t h[2048], d[1500];
    size_t hl = quicw_hello("blocked.example", 0, h, sizeof(h), NULL);
    struct pcapw *w = open_cap();
    for (unsigned i = 0; i < 5; i++) {
        size_t n = seal_initial(dcid, "blocked.example", i < 4 ? hl / 2 : 0, 1250, d, sizeof(d));
        put_client_udp(w, 1000000 + i * 1000, (uint16_t)(50000 + i), d, n);
    }
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    g_defer = true;
    feed(&r, rs, NULL);
    g_defer = false;
    ck_assert_uint_eq(r.n, 5);
    for (size_t i = 0; i < 4; i++) {
        ck_assert(!r.fi[i].deferred);
        ck_assert(!r.fi[i].decided);
    }
    ck_assert(r.fi[4].deferred);
    ck_assert(!r.fi[4].decided);
    ck_assert_uint_eq(r.events, 0);
    ruleset_free(rs);
}
END_TEST

/* More junk datagrams than the QUIC budget (16), then an Initial naming a blocked host: the flow
 * is judged on its free address at the budget and settled, and the Initial, which decrypts
 * under keys from its own DCID, starts a new flow on the 4-tuple that blocks (before, it was
 * never read). Queue mode's configuration and tap's alike. */
START_TEST(quic_after_budget)
{
    static const uint8_t dcid[8] = { 7, 7, 7, 7, 1, 2, 3, 4 };
    uint8_t d[1500], junk[20];
    memset(junk, 0x17, sizeof(junk));
    size_t n = seal_initial(dcid, "blocked.example", 0, 1250, d, sizeof(d));
    for (int run = 0; run < 2; run++) {
        struct pcapw *w = open_cap();
        for (unsigned i = 0; i < 21; i++)
            put_client_udp(w, 1000000 + i * 1000, 50100, i < 20 ? junk : d,
                           i < 20 ? sizeof(junk) : n);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct ruleset *rs = rules();
        static struct rec r;
        struct engine *e;
        g_synack_unseen = run == 1;
        g_unseen_syn = run == 1 ? ENGINE_UNSEEN_SYN_JUDGE : ENGINE_UNSEEN_SYN_PICKUP;
        feed(&r, rs, &e);
        g_synack_unseen = false;
        g_unseen_syn = ENGINE_UNSEEN_SYN_PICKUP;
        ck_assert_uint_eq(r.n, 21);
        ck_assert(r.fi[16].decided); /* the budget: judged on its address */
        ck_assert(!r.fi[16].blocked);
        struct engine_stats st;
        engine_get_stats(e, &st);
        ck_assert_uint_eq(st.quic_budget_spent, 1);
        ck_assert(r.fi[16].done); /* settled */
        ck_assert(!r.fi[19].blocked);
        ck_assert(r.fi[20].blocked);
        ck_assert_uint_eq(r.fi[20].flow_id, 2); /* a new flow on the 4-tuple */
        ck_assert_uint_eq(r.blocks, 1);
        ck_assert_uint_eq(st.quic_new_attempts, 1);
        engine_free(e);
        ruleset_free(rs);
    }
}
END_TEST

/* A client Initial in a datagram under 1200 bytes (not padded), which a server must drop: set
 * aside in queue mode's configuration (drop_short_initials: the mode drops it), on a fresh flow
 * and behind more junk than the budget (a settled, passed flow), naming a blocked host or not;
 * in tap's it is only not judged, as before. */
START_TEST(quic_short_initial_set_aside)
{
    static const uint8_t dcid[8] = { 9, 9, 9, 9, 1, 2, 3, 4 };
    uint8_t d[2][1500], junk[20];
    size_t n[2];
    memset(junk, 0x17, sizeof(junk));
    const char *const names[2] = { "blocked.example", "allowed.example" };
    for (int k = 0; k < 2; k++) {
        n[k] = seal_initial(dcid, names[k], 0, 0, d[k], sizeof(d[k]));
        ck_assert_uint_lt(n[k], 1200);
    }
    for (int run = 0; run < 2; run++) {
        struct pcapw *w = open_cap();
        /* port 50200: each short Initial alone; 50201: 20 junk datagrams, then both */
        for (unsigned i = 0; i < 24; i++)
            put_client_udp(w, 1000000 + i * 1000, (uint16_t)(i < 2 ? 50200 + 10 * i : 50201),
                           i < 2    ? d[i]
                           : i < 22 ? junk
                                    : d[i - 22],
                           i < 2    ? n[i]
                           : i < 22 ? sizeof(junk)
                                    : n[i - 22]);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct ruleset *rs = rules();
        static struct rec r;
        g_synack_unseen = g_drop_short = run == 1;
        feed(&r, rs, NULL);
        g_synack_unseen = g_drop_short = false;
        ck_assert_uint_eq(r.n, 24);
        for (unsigned i = 0; i < 24; i++) {
            bool short_initial = i < 2 || i >= 22;
            ck_assert_msg(r.fi[i].set_aside == (run == 1 && short_initial), "run %d frame %u", run,
                          i);
        }
        ck_assert_uint_eq(r.blocks, 0); /* never judged by the name in them */
        ruleset_free(rs);
    }
}
END_TEST

/* Queue mode holds every client datagram of an undecided UDP flow, so its server cannot answer
 * one: a server datagram on such a flow answers client datagrams that went by in the kernel
 * unjudged (a queue full, failing open) - a QUIC Initial the server is completing a handshake
 * on. Likewise a client's Handshake packet, which follows the server's answer. Both block the
 * flow by policy (method unseen: its datagrams dropped, the browser goes on over TCP). A server
 * datagram after a decision changes nothing, nor does a server's datagram that is not QUIC (a
 * DTLS record). (Before, the flow was read until its budget, or held until the hold bounds,
 * then passed on its address.) */
START_TEST(quic_answer_unseen)
{
    static const uint8_t dcid[8] = { 7, 7, 7, 7, 1, 2, 3, 5 }, scid[8] = { 5, 6 };
    struct quicw q;
    ck_assert_int_eq(quicw_init(&q, QUIC_V1, dcid, 8, scid, 8), 0);
    uint8_t h[2048], fr[1500], d[1500];
    size_t hl = quicw_hello("allowed.example", 0, h, sizeof(h), NULL);
    size_t fl = 0;
    ck_assert_int_eq(quicw_crypto(fr, sizeof(fr), &fl, 0, h, hl), 0);
    size_t n = quicw_initial(&q, 0, fr, fl, 1250, d, sizeof(d));
    ck_assert_uint_gt(n, 0);
    quicw_fini(&q);
    /* a long header of QUIC v1: an Initial (type 0) from the server, a Handshake (type 2) */
    uint8_t srv[200], hs[200];
    memset(srv, 0x5a, sizeof(srv));
    memset(hs, 0x5a, sizeof(hs));
    srv[0] = 0xc0;
    hs[0] = 0xe0;
    srv[1] = hs[1] = srv[2] = hs[2] = srv[3] = hs[3] = 0;
    srv[4] = hs[4] = 1;
    uint8_t dtls[60] = { 0x16, 0xfe, 0xfd }; /* a DTLS server's record: not QUIC, left alone */
    for (int run = 0; run < 4; run++) {
        struct pcapw *w = open_cap();
        struct pcapw_pkt p;
        pcapw_pkt_init(&p);
        p.proto = 17;
        bool from_server = run == 0 || run == 3;
        pcapw_addr(from_server ? "10.0.0.2" : "192.0.2.1", p.src);
        pcapw_addr(from_server ? "192.0.2.1" : "10.0.0.2", p.dst);
        p.sport = from_server ? 443 : 50200;
        p.dport = from_server ? 50200 : 443;
        p.payload = run == 0 ? srv : run == 1 ? hs : run == 2 ? d : dtls;
        p.payload_len = run == 0   ? sizeof(srv)
                        : run == 1 ? sizeof(hs)
                        : run == 2 ? n
                                   : sizeof(dtls);
        ck_assert_int_eq(pcapw_put(w, 1000000, &p), 0);
        if (run == 2) { /* the server's answer to the judged Initial */
            pcapw_addr("10.0.0.2", p.src);
            pcapw_addr("192.0.2.1", p.dst);
            p.sport = 443;
            p.dport = 50200;
            p.payload = srv;
            p.payload_len = sizeof(srv);
            ck_assert_int_eq(pcapw_put(w, 1001000, &p), 0);
        }
        ck_assert_int_eq(pcapw_close(w), 0);
        static struct rec r;
        struct engine_stats st;
        feed_stats(&r, ENGINE_UNSEEN_SYN_JUDGE, &st);
        if (run < 2) {
            ck_assert_uint_eq(r.n, 1);
            ck_assert(r.fi[0].blocked);
            ck_assert_int_eq(r.last_method, METHOD_UNSEEN);
            ck_assert_uint_eq(st.unseen_blocked, 1);
        } else if (run == 3) {
            ck_assert_uint_eq(r.n, 1);
            ck_assert(!r.fi[0].decided);
            ck_assert_uint_eq(st.unseen_blocked, 0);
        } else {
            ck_assert_uint_eq(r.n, 2);
            ck_assert(r.fi[0].decided);
            ck_assert(!r.fi[1].blocked);
            ck_assert_uint_eq(r.blocks, 0);
            ck_assert_uint_eq(st.unseen_blocked, 0);
        }
    }
}
END_TEST

/* Feeds the capture at g_path into the engine e (made by feed() with r), frame infos after r's. */
static void feed_more(struct engine *e, struct rec *r)
{
    char err[256];
    struct capture *cap = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_msg(cap != NULL, "%s", err);
    struct capture_frame fr;
    while (capture_next(cap, &fr, err, sizeof(err)) == 1) {
        ck_assert_uint_lt(r->n, MAX_FR);
        engine_frame(e, cap->ops->linktype(cap), fr.ts_us, fr.data, fr.caplen);
        engine_frame_info(e, &r->fi[r->n++]);
    }
    capture_close(cap);
    unlink(g_path);
}

/* engine_refuse() (queue mode: a watched first request past its bounds): a block by policy,
 * method watch-limit, reported once; the flow stays refused - the rest of its hello, though its
 * name is allowed, reports blocked - and a second refusal finds it settled. */
START_TEST(refused_stays_refused)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "allowed.example", NULL);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40013, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, 20), 0); /* no name yet */
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    struct engine *e;
    g_synack_unseen = true;
    feed(&r, rs, &e);
    g_synack_unseen = false;
    ck_assert_uint_eq(r.n, 4);
    ck_assert(!r.fi[3].decided);
    ck_assert_uint_eq(r.events, 0);
    ck_assert(engine_refuse(e, r.fi[3].flow, r.fi[3].flow_id, METHOD_WATCH_LIMIT));
    ck_assert_uint_eq(r.events, 1);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert_int_eq(r.last_method, METHOD_WATCH_LIMIT);
    ck_assert(!engine_refuse(e, r.fi[3].flow, r.fi[3].flow_id, METHOD_WATCH_LIMIT)); /* settled */
    ck_assert(!engine_refuse(e, r.fi[3].flow, r.fi[3].flow_id + 1,
                             METHOD_WATCH_LIMIT)); /* not that flow */
    w = open_cap();
    c.w = w;
    ck_assert_int_eq(pcapw_conv_client_data(&c, 20, h + 20, n - 20), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    feed_more(e, &r);
    ck_assert_uint_eq(r.n, 5);
    ck_assert(r.fi[4].blocked);
    ck_assert(r.fi[4].done);
    ck_assert_uint_eq(r.events, 1); /* nothing judged again */
    struct engine_stats st;
    engine_get_stats(e, &st);
    ck_assert_uint_eq(st.watch_limit_blocked, 1);
    ck_assert_str_eq(verdict_method_name(METHOD_WATCH_LIMIT), "watch-limit");
    engine_free(e);
    ruleset_free(rs);
}
END_TEST

/* A ClientHello sent one byte a segment (EVASION T2; queue.incomplete = watch lets such
 * segments pass one by one): no segment decides until the one that completes the name, which
 * blocks, and the block's packet is that segment (its sequence number is the server's
 * rcv_nxt when queue mode drops it). */
START_TEST(one_byte_segments_blocked)
{
    uint8_t h[2048];
    size_t so;
    size_t n = hello(h, sizeof(h), "blocked.example", &so);
    size_t last = so + strlen("blocked.example") - 1; /* the name's last byte */
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40005, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    for (uint32_t i = 0; i < 8; i++)
        ck_assert_int_eq(pcapw_conv_client_data(&c, i, h + i, 1), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 8, h + 8, last - 8), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)last, h + last, 1), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)(last + 1), h + last + 1, n - last - 1),
                     0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    feed(&r, rs, NULL);
    ck_assert_uint_eq(r.n, 14);
    for (size_t i = 3; i < 12; i++) {
        ck_assert(r.fi[i].from_client);
        ck_assert_uint_eq(r.fi[i].payload_len, i < 11 ? 1 : last - 8);
        ck_assert(!r.fi[i].decided);
    }
    ck_assert_uint_eq(r.fi[12].payload_len, 1);
    ck_assert(r.fi[12].decided);
    ck_assert(r.fi[12].blocked);
    ck_assert_uint_eq(r.fi[12].seq, c.cisn + 1 + (uint32_t)last);
    ck_assert(r.fi[13].blocked);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert_uint_eq(r.block_seq, r.fi[12].seq);
    ruleset_free(rs);
}
END_TEST

/* A segment with a bad checksum (EVASION T5) is one the receiver drops: set aside. A passed
 * hello is decided but not settled until the server answers. */
START_TEST(decoy_and_pass)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "allowed.example", NULL);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40002, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&c), 0);
    struct pcapw_pkt p;
    pcapw_conv_pkt(&c, true, &p);
    p.flags |= PCAPW_PSH;
    p.payload = h;
    p.payload_len = n;
    p.bad_l4_csum = true;
    ck_assert_int_eq(pcapw_put(w, c.ts, &p), 0); /* the decoy: sequence state unchanged */
    c.ts += 1000;
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, n), 0);
    const uint8_t resp[] = "\x16\x03\x03\x00\x04\x02\x00\x00\x00";
    ck_assert_int_eq(pcapw_conv_server_data(&c, 0, resp, sizeof(resp) - 1), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    feed(&r, rs, NULL);
    ck_assert_uint_eq(r.n, 6);
    ck_assert(r.fi[3].set_aside);
    ck_assert(!r.fi[3].decided);
    ck_assert(!r.fi[4].set_aside);
    ck_assert(r.fi[4].decided);
    ck_assert(!r.fi[4].blocked);
    ck_assert(!r.fi[4].done); /* watched until the server answers */
    ck_assert(r.fi[5].done);
    ck_assert(!r.fi[5].from_client);
    ck_assert_uint_eq(r.blocks, 0);
    ruleset_free(rs);
}
END_TEST

/* Queue mode's rules keep the SYN-ACK and the bare ACKs in the kernel: the engine sees the
 * client's SYN and its data only. A SYN with data (Fast Open, cookie and all) and a SYN with
 * another ISN are set aside (dropped: the server keeps the first SYN's sequence space), and a
 * block's forged reset to the client starts at the client's own acknowledgement. */
START_TEST(synack_unseen)
{
    uint8_t h[2048], a[2048];
    size_t n = hello(h, sizeof(h), "blocked.example", NULL);
    size_t an = hello(a, sizeof(a), "allowed.example", NULL);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40005, "10.0.0.1", 443), 0);
    c.cnext = c.cisn;
    c.snext = c.sisn;
    struct pcapw_pkt p;
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.tfo_cookie_len = 8;
    p.payload = a; /* an allowed decoy the server might take with the cookie, or not */
    p.payload_len = an;
    ck_assert_int_eq(pcapw_conv_send(&c, &p), 0);
    c.cnext = c.cisn;
    pcapw_conv_pkt(&c, true, &p); /* the SYN again, no data */
    p.flags = PCAPW_SYN;
    p.ack = 0;
    ck_assert_int_eq(pcapw_conv_send(&c, &p), 0);
    pcapw_conv_pkt(&c, true, &p); /* another ISN */
    p.seq = c.cisn + 50000;
    p.flags = PCAPW_SYN;
    p.ack = 0;
    ck_assert_int_eq(pcapw_put(w, c.ts, &p), 0);
    c.ts += 1000;
    c.cnext = c.cisn + 1;
    c.snext = c.sisn + 1; /* the SYN-ACK and the ACK passed in the kernel */
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, n), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    g_synack_unseen = true;
    feed(&r, rs, NULL);
    g_synack_unseen = false;
    ck_assert_uint_eq(r.n, 4);
    ck_assert(r.fi[0].set_aside); /* SYN data */
    ck_assert(!r.fi[1].set_aside);
    ck_assert(r.fi[2].set_aside); /* another ISN */
    ck_assert(!r.fi[3].set_aside);
    ck_assert(r.fi[3].blocked);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert(r.seq_known);
    ck_assert_uint_eq(r.srv_next_seq, c.sisn + 1);
    ruleset_free(rs);
}
END_TEST

/* engine_judge_now: a flow whose hello is incomplete is judged on its address (listed: block by
 * IP; not listed: pass), once; a stale handle or id is refused. */
START_TEST(judge_now)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "allowed.example", NULL);
    (void)n;
    struct pcapw *w = open_cap();
    struct pcapw_conv a, b;
    ck_assert_int_eq(pcapw_conv_init(&a, w, 1000000, "192.0.2.1", 40003, "10.0.0.9", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&a), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&a, 0, h, 20), 0);
    ck_assert_int_eq(pcapw_conv_init(&b, w, a.ts, "192.0.2.2", 40004, "10.0.0.2", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&b), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&b, 0, h, 20), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    struct engine *e;
    feed(&r, rs, &e);
    ck_assert_uint_eq(r.n, 8);
    struct engine_frame_info fa = r.fi[3], fb = r.fi[7];
    ck_assert(!fa.decided && !fb.decided);
    ck_assert_uint_eq(r.events, 0);
    ck_assert(!engine_judge_now(e, fa.flow, fa.flow_id + 100)); /* wrong id */
    ck_assert(!engine_judge_now(e, NULL, fa.flow_id));
    ck_assert(engine_judge_now(e, fa.flow, fa.flow_id));
    ck_assert_uint_eq(r.events, 1);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert_int_eq(r.last_method, METHOD_IP_FALLBACK);  /* an IP entry, no name seen */
    ck_assert(!engine_judge_now(e, fa.flow, fa.flow_id)); /* settled */
    ck_assert(engine_judge_now(e, fb.flow, fb.flow_id));
    ck_assert_uint_eq(r.events, 2);
    ck_assert_uint_eq(r.blocks, 1);
    struct engine_stats st;
    engine_get_stats(e, &st);
    ck_assert_uint_eq(st.decisions, 2);
    engine_free(e);
    ruleset_free(rs);
}
END_TEST

/* Judged at the hold bounds (engine_judge_now, queue.incomplete = address, or a watch limit)
 * with client bytes held past a hole: the hole's bytes never reached a worker - they went by in
 * the kernel while the queue was full (failing open), and the server may have them and the
 * name in them. Blocked by policy (method unseen), not passed on the address. A first request
 * that merely stopped (no hole) is judged on its address as before. */
START_TEST(judge_now_past_hole)
{
    uint8_t h[2048];
    size_t so;
    size_t n = hello(h, sizeof(h), "blocked.example", &so);
    ck_assert_uint_gt(so, 40);
    for (int hole = 0; hole < 2; hole++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        ck_assert_int_eq(
            pcapw_conv_init(&c, w, 1000000, "192.0.2.1", (uint16_t)(40030 + hole), "10.0.0.2", 443),
            0);
        conv_syn_only(&c);
        ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, 20), 0); /* before the name */
        if (hole) /* the name's part went by unqueued; the rest is held past the hole */
            ck_assert_int_eq(
                pcapw_conv_client_data(&c, (uint32_t)so + 20, h + so + 20, n - so - 20), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        struct ruleset *rs = rules();
        static struct rec r;
        struct engine *e;
        g_synack_unseen = true;
        feed(&r, rs, &e);
        g_synack_unseen = false;
        struct engine_frame_info fi = r.fi[r.n - 1];
        ck_assert(!fi.decided);
        ck_assert(engine_judge_now(e, fi.flow, fi.flow_id));
        ck_assert_uint_eq(r.events, 1);
        struct engine_stats st;
        engine_get_stats(e, &st);
        if (hole) {
            ck_assert_uint_eq(r.blocks, 1);
            ck_assert_int_eq(r.last_method, METHOD_UNSEEN);
            ck_assert_uint_eq(st.unseen_blocked, 1);
        } else {
            ck_assert_uint_eq(r.blocks, 0); /* 10.0.0.2 is not listed */
            ck_assert_uint_eq(st.unseen_blocked, 0);
        }
        engine_free(e);
        ruleset_free(rs);
    }
}
END_TEST

/* A frame that is not IP (an ARP request) has no flow. */
START_TEST(no_flow)
{
    struct pcapw *w = open_cap();
    uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };
    ck_assert_int_eq(pcapw_write(w, 1000000, arp, sizeof(arp)), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    static struct rec r;
    feed(&r, NULL, NULL);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_ptr_null(r.fi[0].flow);
    ck_assert_uint_eq(r.fi[0].flow_id, 0);
    ck_assert(!r.fi[0].set_aside);
}
END_TEST

/* ---- flows first seen at their data (the SYN went by unseen: a full queue failing open, a
 * restart, a conntrack flush) ---------------------------------------------------------------- */

/* A connection whose handshake passed unseen: the next segments start at the ISNs + 1. */
static void conv_unseen(struct pcapw_conv *c, struct pcapw *w, uint16_t cport, uint16_t sport)
{
    ck_assert_int_eq(pcapw_conv_init(c, w, 1000000, "192.0.2.1", cport, "10.0.0.1", sport), 0);
    c->cnext = c->cisn + 1;
    c->snext = c->sisn + 1;
}

/* Feeds the capture at g_path to an engine configured as queue mode is, with the policy for
 * flows first seen after their SYN. */
static void feed_unseen(struct rec *r, struct ruleset *rs, uint8_t policy, struct engine **keep)
{
    g_synack_unseen = true;
    g_unseen_syn = policy;
    feed(r, rs, keep);
    g_synack_unseen = false;
    g_unseen_syn = ENGINE_UNSEEN_SYN_PICKUP;
}

/* Feeds the capture at g_path like feed_unseen() (policy PICKUP: as tap mode configures the
 * engine) and leaves the engine's counters in *st; the engine and the rules are freed. */
static void feed_stats(struct rec *r, uint8_t policy, struct engine_stats *st)
{
    struct ruleset *rs = rules();
    struct engine *e;
    if (policy == ENGINE_UNSEEN_SYN_PICKUP)
        feed(r, rs, &e);
    else
        feed_unseen(r, rs, policy, &e);
    engine_get_stats(e, st);
    engine_free(e);
    ruleset_free(rs);
}

/* The whole blocked ClientHello in one segment: anchored there, judged like a new flow. */
START_TEST(unseen_whole_hello_blocked)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "blocked.example", NULL);
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    conv_unseen(&c, w, 40010, 443);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, n), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    static struct rec r;
    struct engine_stats st;
    feed_stats(&r, ENGINE_UNSEEN_SYN_JUDGE, &st);
    ck_assert_uint_eq(r.n, 1);
    ck_assert(r.fi[0].from_client);
    ck_assert(r.fi[0].blocked);
    ck_assert_int_eq(r.last_method, METHOD_DOMAIN);
    ck_assert_uint_eq(st.syn_unseen, 1);
    ck_assert_uint_eq(st.syn_unseen_blocked, 0);
}
END_TEST

/* The blocked ClientHello one byte a segment up to its name, then in bigger pieces (what a
 * client's stack sends once its queued bytes go out together): the first byte anchors the
 * stream, the segment completing the name blocks. Before, a single byte anchored nothing and the
 * first larger piece anchored the stream in the middle of the hello: not TLS, passed. */
START_TEST(unseen_one_byte_segments_blocked)
{
    uint8_t h[2048];
    size_t so;
    size_t n = hello(h, sizeof(h), "blocked.example", &so);
    size_t last = so + strlen("blocked.example") - 1;
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    conv_unseen(&c, w, 40011, 443);
    for (uint32_t i = 0; i < 8; i++)
        ck_assert_int_eq(pcapw_conv_client_data(&c, i, h + i, 1), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 8, h + 8, last - 8), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)last, h + last, 1), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&c, (uint32_t)(last + 1), h + last + 1, n - last - 1),
                     0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    feed_unseen(&r, rs, ENGINE_UNSEEN_SYN_JUDGE, NULL);
    ck_assert_uint_eq(r.n, 11);
    for (size_t i = 0; i < 9; i++) {
        ck_assert(r.fi[i].from_client);
        ck_assert(!r.fi[i].set_aside);
        ck_assert(!r.fi[i].decided);
    }
    ck_assert(r.fi[9].decided);
    ck_assert(r.fi[9].blocked);
    ck_assert_uint_eq(r.fi[9].seq, c.cisn + 1 + (uint32_t)last);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert_int_eq(r.last_method, METHOD_DOMAIN);
    ruleset_free(rs);
}
END_TEST

/* An HTTP request for a blocked host, first seen at its data: blocked by its name; an allowed
 * one passes (and the allowed hello, whole, too). */
START_TEST(unseen_http_and_allowed)
{
    uint8_t q[512], a[2048];
    size_t qn = pcapw_http_get(q, sizeof(q), "blocked.example", "/page");
    size_t an = pcapw_http_get(a, sizeof(a), "allowed.example", "/");
    struct pcapw *w = open_cap();
    struct pcapw_conv c, d, t;
    conv_unseen(&c, w, 40012, 80);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, q, qn), 0);
    conv_unseen(&d, w, 40013, 80);
    d.ts = c.ts;
    ck_assert_int_eq(pcapw_conv_client_data(&d, 0, a, an), 0);
    uint8_t h[2048];
    size_t hn = hello(h, sizeof(h), "allowed.example", NULL);
    conv_unseen(&t, w, 40014, 443);
    t.ts = d.ts;
    ck_assert_int_eq(pcapw_conv_client_data(&t, 0, h, hn), 0);
    const uint8_t resp[] = "\x16\x03\x03\x00\x04\x02\x00\x00\x00";
    ck_assert_int_eq(pcapw_conv_server_data(&t, 0, resp, sizeof(resp) - 1), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    feed_unseen(&r, rs, ENGINE_UNSEEN_SYN_JUDGE, NULL);
    ck_assert_uint_eq(r.n, 4);
    ck_assert(r.fi[0].blocked);
    ck_assert(r.fi[1].decided);
    ck_assert(!r.fi[1].blocked);
    ck_assert(r.fi[2].decided);
    ck_assert(!r.fi[2].blocked);
    ck_assert(r.fi[3].done);
    ck_assert(!r.fi[3].blocked);
    ck_assert_uint_eq(r.blocks, 1);
    ruleset_free(rs);
}
END_TEST

/* The start of the stream went by unseen (the segment seen is the middle of a ClientHello): it
 * cannot be judged by name, so it is blocked by policy (method syn-unseen) - at once, not when
 * the server answers or the hold bounds run out. In tap mode's configuration the same capture
 * is picked up mid-stream as before: nothing blocks. */
START_TEST(unseen_mid_stream_blocked)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "blocked.example", NULL);
    for (int mode = 0; mode < 2; mode++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        conv_unseen(&c, w, 40015, 443);
        ck_assert_int_eq(pcapw_conv_client_data(&c, 100, h + 100, n - 100), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        static struct rec r;
        struct engine_stats st;
        feed_stats(&r, mode ? ENGINE_UNSEEN_SYN_PICKUP : ENGINE_UNSEEN_SYN_JUDGE, &st);
        ck_assert_uint_eq(r.n, 1);
        if (mode) {
            ck_assert(!r.fi[0].decided);
            ck_assert_uint_eq(r.blocks, 0);
            ck_assert_uint_eq(st.syn_unseen, 0);
        } else {
            ck_assert(r.fi[0].blocked);
            ck_assert_int_eq(r.last_method, METHOD_SYN_UNSEEN);
            ck_assert(r.block_seq_known);
            ck_assert_uint_eq(r.block_seq, c.cisn + 1 + 100);
            ck_assert_str_eq(verdict_method_name(METHOD_SYN_UNSEEN), "syn-unseen");
            ck_assert_uint_eq(st.syn_unseen, 1);
            ck_assert_uint_eq(st.syn_unseen_blocked, 1);
        }
    }
}
END_TEST

/* ENGINE_UNSEEN_SYN_DROP: a flow first seen at its data is blocked at its first client payload,
 * allowed name or not; a flow whose SYN was seen is judged as usual. */
START_TEST(unseen_drop_policy)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "allowed.example", NULL);
    struct pcapw *w = open_cap();
    struct pcapw_conv c, s;
    conv_unseen(&c, w, 40016, 443);
    ck_assert_int_eq(pcapw_conv_client_data(&c, 0, h, n), 0);
    ck_assert_int_eq(pcapw_conv_init(&s, w, c.ts, "192.0.2.1", 40017, "10.0.0.1", 443), 0);
    ck_assert_int_eq(pcapw_conv_handshake(&s), 0);
    ck_assert_int_eq(pcapw_conv_client_data(&s, 0, h, n), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    struct ruleset *rs = rules();
    static struct rec r;
    feed_unseen(&r, rs, ENGINE_UNSEEN_SYN_DROP, NULL);
    ck_assert_uint_eq(r.n, 5);
    ck_assert(r.fi[0].blocked);
    ck_assert_uint_eq(r.blocks, 1);
    ck_assert(r.block_seq_known); /* the resets can be built */
    ck_assert_uint_eq(r.block_seq, c.cisn + 1);
    ck_assert(r.fi[4].decided);
    ck_assert(!r.fi[4].blocked);
    ruleset_free(rs);
}
END_TEST

/* A cut first frame of a flow first seen at its data: in queue mode's configuration the ports
 * tell the client, so it is blocked by policy (truncated) like any cut first request; picked up
 * mid-stream (tap, scan) it changes nothing. */
START_TEST(unseen_cut_first_frame)
{
    static uint8_t junk[1800];
    memset(junk, 'x', sizeof(junk));
    for (int mode = 0; mode < 2; mode++) {
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        conv_unseen(&c, w, 40018, 443);
        ck_assert_int_eq(pcapw_conv_client_data(&c, 0, junk, sizeof(junk)), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        static struct rec r;
        struct engine_stats st;
        g_cut = 1000;
        feed_stats(&r, mode ? ENGINE_UNSEEN_SYN_PICKUP : ENGINE_UNSEEN_SYN_JUDGE, &st);
        g_cut = 0;
        ck_assert_uint_eq(st.cut, 1);
        if (mode) {
            ck_assert_uint_eq(r.events, 0);
        } else {
            ck_assert_uint_eq(r.blocks, 1);
            ck_assert_int_eq(r.last_method, METHOD_TRUNCATED);
            ck_assert_uint_eq(st.cut_blocked, 1);
        }
    }
}
END_TEST

/* A first request that went by in the kernel unjudged (a queue full with queue.fail = open: the
 * kernel accepts what it cannot queue): the SYN was seen, the request was not, and the server's
 * answer to it reaches the queue. The answer shows the server acting on client bytes no one
 * judged: the flow is blocked by policy (method unseen; a reset both ways), TLS and HTTP alike.
 * The same answer to a request that was seen is not. (Before, the answer passed, and with it
 * the blocked name the request carried.) */
START_TEST(bypassed_request_answered)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "blocked.example", NULL);
    static const char req[] = "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    static const uint8_t answer[64] = { 0x16, 0x03, 0x03, 0x00, 0x3b, 0x02 };
    static const char ok[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    for (int k = 0; k < 3; k++) { /* TLS bypassed, HTTP bypassed, TLS seen */
        bool http = k == 1, seen = k == 2;
        size_t dn = http ? sizeof(req) - 1 : n;
        struct pcapw *w = open_cap();
        struct pcapw_conv c;
        ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", (uint16_t)(40020 + k),
                                         seen ? "10.0.0.2" : "10.0.0.1", http ? 80 : 443),
                         0);
        conv_syn_only(&c);
        if (seen) {
            uint8_t a[2048];
            size_t an = hello(a, sizeof(a), "allowed.example", NULL);
            ck_assert_int_eq(pcapw_conv_client_data(&c, 0, a, an), 0);
        } else {
            c.cnext = c.cisn + 1 + (uint32_t)dn; /* ...and so did the request */
        }
        if (http)
            ck_assert_int_eq(pcapw_conv_server_data(&c, 0, (const uint8_t *)ok, sizeof(ok) - 1), 0);
        else
            ck_assert_int_eq(pcapw_conv_server_data(&c, 0, answer, sizeof(answer)), 0);
        ck_assert_int_eq(pcapw_close(w), 0);
        static struct rec r;
        struct engine_stats st;
        g_synack_unseen = true;
        feed_stats(&r, ENGINE_UNSEEN_SYN_JUDGE, &st);
        g_synack_unseen = false;
        if (seen) {
            ck_assert_uint_eq(r.blocks, 0);
            ck_assert_uint_eq(st.unseen_blocked, 0);
        } else {
            ck_assert_uint_eq(r.n, 2);
            ck_assert(r.fi[1].blocked);
            ck_assert_uint_eq(r.blocks, 1);
            ck_assert_int_eq(r.last_method, METHOD_UNSEEN);
            ck_assert_uint_eq(st.unseen_blocked, 1);
        }
    }
}
END_TEST

/* A ClientHello as two IP fragments with 8 first fragments of datagrams that never complete
 * between them: the defragmentation table (4 datagrams) evicts the hello's first fragment, so
 * the engine never puts the hello together - and the mode accepts fragments it cannot yet
 * decode (no flow), so the server does. Its answer then blocks the flow (method unseen).
 * Before, that flood let the hello through unjudged, its answer and all. */
START_TEST(fragments_evicted_answer_blocked)
{
    uint8_t h[2048];
    size_t n = hello(h, sizeof(h), "blocked.example", NULL);
    static const uint8_t answer[64] = { 0x16, 0x03, 0x03, 0x00, 0x3b, 0x02 };
    struct pcapw *w = open_cap();
    struct pcapw_conv c;
    ck_assert_int_eq(pcapw_conv_init(&c, w, 1000000, "192.0.2.1", 40040, "10.0.0.2", 443), 0);
    conv_syn_only(&c);
    struct pcapw_pkt p;
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_ACK | PCAPW_PSH;
    p.payload = h;
    p.payload_len = n;
    p.ip_id = 0x4243;
    static const size_t offs[] = { 256 }, first[] = { 0, 0 }, second[] = { 1, 1 };
    ck_assert_int_eq(pcapw_put_frags(w, c.ts, &p, offs, 1, first), 0);
    uint64_t ts = c.ts + 1000;
    ck_assert_int_eq(pcapw_frag_flood(w, &ts, 8), 0); /* datagrams that never complete */
    ck_assert_int_eq(pcapw_put_frags(w, ts, &p, offs, 1, second), 0);
    c.ts = ts + 1000;
    c.cnext = c.cisn + 1 + (uint32_t)n; /* the server put the hello together */
    ck_assert_int_eq(pcapw_conv_server_data(&c, 0, answer, sizeof(answer)), 0);
    ck_assert_int_eq(pcapw_close(w), 0);
    static struct rec r;
    struct engine_stats st;
    feed_stats(&r, ENGINE_UNSEEN_SYN_JUDGE, &st);
    ck_assert_uint_gt(st.frag_dropped, 0);
    ck_assert_uint_gt(r.n, 3);
    for (size_t i = 1; i + 1 < r.n; i++) /* the fragments: no flow, the mode accepts them */
        ck_assert_ptr_null(r.fi[i].flow);
    ck_assert(r.fi[r.n - 1].blocked); /* the answer */
    ck_assert_int_eq(r.last_method, METHOD_UNSEEN);
    ck_assert_uint_eq(st.unseen_blocked, 1);
}
END_TEST

static Suite *engine_queue_suite(void)
{
    Suite *s = suite_create("engine_queue");
    TCase *tc = tcase_create("frame_info");
    tcase_add_test(tc, split_hello_blocked);
    tcase_add_test(tc, one_byte_segments_blocked);
    tcase_add_test(tc, decoy_and_pass);
    tcase_add_test(tc, synack_unseen);
    tcase_add_test(tc, no_buffer_deferred);
    tcase_add_test(tc, refused_stays_refused);
    tcase_add_test(tc, quic_no_slot_deferred);
    tcase_add_test(tc, quic_after_budget);
    tcase_add_test(tc, quic_short_initial_set_aside);
    tcase_add_test(tc, quic_answer_unseen);
    tcase_add_test(tc, judge_now);
    tcase_add_test(tc, judge_now_past_hole);
    tcase_add_test(tc, no_flow);
    tcase_add_test(tc, unseen_whole_hello_blocked);
    tcase_add_test(tc, unseen_one_byte_segments_blocked);
    tcase_add_test(tc, unseen_http_and_allowed);
    tcase_add_test(tc, unseen_mid_stream_blocked);
    tcase_add_test(tc, unseen_drop_policy);
    tcase_add_test(tc, unseen_cut_first_frame);
    tcase_add_test(tc, bypassed_request_answered);
    tcase_add_test(tc, fragments_evicted_answer_blocked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(engine_queue_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
