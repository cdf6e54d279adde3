/* fuzz_engine.c - libFuzzer target for the whole packet path (proxy/engine/engine.c).
 *
 * Input: a sequence of frames, each [len_hi len_lo] followed by len bytes of raw IP (link type
 * LINKTYPE_RAW), fed with increasing timestamps into one engine with small pools and a tiny
 * rule set, so flows, reassembly, fragments and every dissector are reached together. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_rs)
        g_rs = rules();
    struct engine_config cfg;
    engine_config_default(&cfg);
    cfg.max_flows = 64;
    cfg.reasm_buffers = 8;
    cfg.reasm_bytes = 4096;
    cfg.defrag_slots = 4;
    cfg.quic_slots = 4;
    cfg.h2c_conns = 2;
    size_t events = 0;
    struct engine *e = engine_new(&cfg, g_rs, on_event, &events);
    if (!e)
        return 0;
    uint64_t ts = 1000000;
    size_t off = 0;
    while (off + 2 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        engine_frame(e, DECODE_LINK_RAW, ts, data + off, len);
        off += len;
        ts += 1000;
    }
    engine_finish(e);
    engine_free(e);
    return 0;
}
