/* fuzz_timage.c - the tariff image reader (tariffcfg_image_parse(): the container, the tariff
 * snapshot, its category set, the subscriber map) on arbitrary files.
 *
 * The input is sealed before it is read: when it is long enough to have a header, the checksum
 * of its payload is written into the header (common/imgfile.h: XXH64 seeded with the format
 * and the count of sections), so the fuzzer gets past the checksum and explores the checks
 * behind it (a forged image); a bad checksum itself is covered by check_imgfile. Properties:
 * no crash, leak or read outside the buffer, whatever the file; every refusal says why; a
 * table that loads answers decisions and a map that loads answers lookups (which then must not
 * read outside their arrays either). Seeds: tests/fuzz/corpus/timage (images written by
 * `qorgau tariff compile` from the test data). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/imgfile.h"
#include "proxy/daemon/tariffcfg.h"
#include "rules/match/rsref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        rsref_thread_register();
        registered = 1;
    }
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    if (size >= IMGFILE_HEADER)
        imgfile_seal(b, size);
    struct tariff *t;
    struct submap *m;
    char err[512] = "";
    int rc = tariffcfg_image_parse(b, size, 0, &t, &m, err, sizeof(err));
    free(b); /* (nothing loaded may refer to the buffer) */
    if (rc) {
        if (!err[0] || t || m)
            abort(); /* a refusal says why and returns nothing */
        return 0;
    }
    static const char *const subs[] = { "77010000001", "x", "a-long-subscriber-identifier-0001" };
    static const char *const names[] = { "adult.test", "www.games.test", "kids.test", "" };
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 4; k++) {
            struct tariff_req q = { .sub = subs[i],
                                    .name = names[k][0] ? names[k] : NULL,
                                    .name_len = strlen(names[k]),
                                    .path = "/a/b",
                                    .path_len = 4,
                                    .udp = k == 3,
                                    .now = 1796601600 + (int64_t)k * 40000 };
            struct tariff_verdict v;
            tariff_judge(t, &q, &v);
        }
    if (m) {
        static const uint8_t a4[4] = { 10, 0, 0, 1 };
        static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 };
        char sub[256], sess[256];
        submap_lookup(m, 4, a4, 1, sub, sizeof(sub), sess, sizeof(sess));
        submap_lookup(m, 6, a6, 1, sub, sizeof(sub), sess, sizeof(sess));
        if (submap_count(m) > (size_t)1 << 28)
            abort();
    }
    tariff_free(t);
    submap_free(m);
    return 0;
}
