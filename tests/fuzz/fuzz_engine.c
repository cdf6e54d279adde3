/* fuzz_engine.c - libFuzzer target for the whole packet path (proxy/engine/engine.c).
 *
 * Input: a sequence of frames, each [len_hi len_lo] followed by len bytes of raw IP (link type
 * LINKTYPE_RAW), fed with increasing timestamps into one engine with small pools and a tiny
 * rule set, so flows, reassembly, fragments and every dissector are reached together. Each input
 * is run twice, frame by frame and pushed ahead (engine_push), which must agree, and a third
 * time with every second frame of 64 bytes or more handed over cut to three quarters of its
 * length (engine_frame_cut, as tap mode does with frames larger than the ring's slot). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/packet/decode.h"
#include "proxy/engine/engine.h"
#include "rules/match/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ruleset *g_rs;

static void on_event(void *ctx, const struct engine_event *ev)
{
    size_t *n = ctx;
    volatile size_t sink = ev->name_len + ev->url_len + ev->raw_name_len;
    if (ev->name && ev->name_len)
        sink += (size_t)ev->name[ev->name_len - 1];
    (void)sink;
    (*n)++;
}

static struct ruleset *rules(void)
{
    static const char *const entries[] = { "blocked.example", "http://urls.example/secret/*",
                                           "10.0.0.9" };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    for (size_t i = 0; b && i < sizeof(entries) / sizeof(entries[0]); i++)
        ruleset_builder_add(b, entries[i], strlen(entries[i]), NULL, err, sizeof(err));
    return b ? ruleset_build(b) : NULL;
}

enum feed { FEED_FRAME, FEED_AHEAD, FEED_CUT, FEED_QUEUE, FEED_TAP };

/* Feeds every frame of the input to a new engine, through engine_frame(), pushed ahead
 * (engine_push(), as `qorgau scan` does: the input stays valid throughout), with some frames
 * cut (engine_frame_cut()), or configured as queue mode configures it (the SYN-ACK unseen, a
 * flow first seen after its SYN judged strictly, segments that find no buffer or pass the
 * client's share deferred) with
 * every frame's engine_frame_info() read, or as tap mode configures it (a client's share that
 * blocks, the pool's oldest buffer taken for a new flow, conflicts without a view blocked, QUIC
 * without a slot judged alone); the events seen and the counters in *st. */
static size_t run(const uint8_t *data, size_t size, enum feed how, struct engine_stats *st)
{
    struct engine_config cfg;
    engine_config_default(&cfg);
    cfg.max_flows = 64;
    cfg.reasm_buffers = 8;
    cfg.reasm_bytes = 4096;
    cfg.defrag_slots = 4;
    cfg.quic_slots = 4;
    cfg.h2c_conns = 2;
    if (how == FEED_QUEUE) {
        cfg.synack_unseen = true;
        cfg.unseen_syn = ENGINE_UNSEEN_SYN_JUDGE;
        cfg.defer_no_buffer = true;
        cfg.reasm_per_client = 2; /* a client's share of the 8 buffers */
        cfg.unseen_blocks = true;
        cfg.udp_answer_blocks = true;
    } else if (how == FEED_TAP) {
        cfg.reasm_per_client = 3;
        cfg.client_limit_blocks = true;
        cfg.reasm_evict = true;
        cfg.conflict_no_room_blocks = true;
        cfg.quic_no_slot_blocks = true;
        cfg.cut_passed = true;
    }
    size_t events = 0;
    struct engine *e = engine_new(&cfg, g_rs, on_event, &events);
    if (!e)
        return (size_t)-1;
    uint64_t ts = 1000000;
    size_t off = 0;
    unsigned k = 0;
    while (off + 2 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        size_t before = events;
        if (how == FEED_AHEAD)
            engine_push(e, DECODE_LINK_RAW, ts, data + off, len);
        else if (how == FEED_CUT && (k++ & 1) && len >= 64)
            engine_frame_cut(e, DECODE_LINK_RAW, ts, data + off, len - len / 4, len);
        else
            engine_frame(e, DECODE_LINK_RAW, ts, data + off, len);
        if (how == FEED_TAP && (len & 15) == 1)
            (void)engine_cut_pickups(e, 3); /* capture drops noticed now and then */
        if (how == FEED_QUEUE) {
            struct engine_frame_info fi;
            engine_frame_info(e, &fi);
            if (fi.deferred && (events != before || fi.set_aside))
                __builtin_trap(); /* a deferred segment decides nothing: it was not taken */
            /* the hold bounds, now and then (bytes held past a hole are blocked there) */
            if (fi.flow && !fi.decided && !fi.done && (len & 7) == 0 &&
                !engine_judge_now(e, fi.flow, fi.flow_id))
                __builtin_trap(); /* an undecided flow of the frame just handled is judged */
        }
        off += len;
        ts += 1000;
    }
    engine_finish(e);
    engine_get_stats(e, st);
    engine_free(e);
    return events;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_rs)
        g_rs = rules();
    struct engine_stats a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    size_t na = run(data, size, FEED_FRAME, &a), nb = run(data, size, FEED_AHEAD, &b);
    /* pushed ahead or not: the same decisions and counters (an allocation failure aside) */
    if (na != (size_t)-1 && nb != (size_t)-1 && (na != nb || memcmp(&a, &b, sizeof a) != 0))
        __builtin_trap();
    run(data, size, FEED_CUT, &b);
    run(data, size, FEED_QUEUE, &b);
    run(data, size, FEED_TAP, &b);
    return 0;
}
