/* fuzz_subfstatic.c - the subscriber side's fail-static file reader (subfstatic_parse(): the
 * container, its description, the subscriber map's sections, the definitions' texts) on
 * arbitrary files, loaded into a live map and table as a node's start does.
 *
 * The input is sealed before it is read: when it is long enough to have a header, the checksum
 * of its payload is written into the header (common/imgfile.h), so the fuzzer gets past the
 * checksum and explores the checks behind it (a forged file); a bad checksum itself is covered
 * by check_subfstatic. Properties: no crash, leak or read outside the buffer, whatever the
 * file; a refusal says why, and a file refused for what it holds (-EINVAL) changed neither the
 * map nor the table; a file that loads answers lookups and decisions, its definitions pass
 * over the table's own ("own" is kept), and the store's load that sets nothing again (the
 * sweep) removes all it gave: the map empty again, the table back to its own definition.
 * Seeds: tests/fuzz/corpus/subfstatic (files subfstatic_write() wrote: a map of five
 * mappings with profiles and subscribers, an empty one, a small one). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/imgfile.h"
#include "proxy/daemon/subfstatic.h"
#include "rules/match/rsref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1796601600000ull

static int count_def(void *ctx, bool sub, const char *name, const char *text)
{
    (void)sub;
    (void)name;
    (void)text;
    ++*(size_t *)ctx;
    return 0;
}

static size_t defs_of(struct tariff *t)
{
    size_t n = 0;
    tariff_each_def(t, count_def, &n);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        rsref_thread_register();
        registered = 1;
    }
    uint8_t *b = malloc(size ? size : 1);
    struct submap *m = submap_new(64);
    struct tariff *t = tariff_new(NULL);
    char err[512] = "";
    if (!b || !m || !t || tariff_set_profile(t, "own", "block=adult", err, sizeof(err)) != 0)
        abort();
    memcpy(b, data, size);
    if (size >= IMGFILE_HEADER)
        imgfile_seal(b, size);
    struct subfstatic *s;
    struct subfstatic_info in;
    int rc = subfstatic_parse(b, size, m, t, NOW_MS, &s, &in, err, sizeof(err));
    free(b); /* (nothing loaded may refer to the buffer) */
    if (rc) {
        if (!err[0])
            abort(); /* a refusal says why */
        if (rc == -EINVAL && (s || submap_count(m) != 0 || defs_of(t) != 1))
            abort(); /* refused whole: nothing changed */
        subfstatic_free(s);
        submap_free(m);
        tariff_free(t);
        return 0;
    }
    if (in.mappings != submap_count(m) || in.defs + 1 != defs_of(t))
        abort();
    static const uint8_t a4[4] = { 10, 0, 0, 1 };
    static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
    char sub[256], sess[256];
    submap_lookup(m, 4, a4, NOW_MS, sub, sizeof(sub), sess, sizeof(sess));
    submap_lookup(m, 6, a6, NOW_MS, sub, sizeof(sub), sess, sizeof(sess));
    static const char *const subs[] = { "77010000001", "x", "77010000002" };
    for (size_t i = 0; i < 3; i++) {
        struct tariff_req q = {
            .sub = subs[i], .name = "games.test", .name_len = 10, .now = (int64_t)(NOW_MS / 1000)
        };
        struct tariff_verdict v;
        tariff_judge(t, &q, &v);
    }
    size_t maps, defs;
    subfstatic_sweep(s, m, t, &maps, &defs);
    if (submap_count(m) != 0 || maps != in.mappings || defs != in.defs || defs_of(t) != 1)
        abort();
    subfstatic_free(s);
    submap_free(m);
    tariff_free(t);
    return 0;
}
