/* fuzz_tls.c - libFuzzer target for tls_hello_parse() and tls_hello_parse_early() (proxy/dissect/tls.c).
 *
 * Checks the contract on every input, not only the absence of crashes: output spans lie inside
 * the input or the scratch buffer, consumed and err_off stay within the input, and a ClientHello
 * accepted at some length is a NEED_MORE at every shorter one tried (for the early parser: or a
 * partial DS_OK with the same name); the early parser agrees with the whole one on complete
 * hellos and never reports a partial hello that tls_hello_parse() accepts. */
#include <stdlib.h>
#include <string.h>

#include "proxy/dissect/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t g_scratch[TLS_HELLO_MAX];

static void check_span(struct span s, const uint8_t *data, size_t size)
{
    if (s.len == 0)
        return;
    bool in_buf = s.p >= data && s.p + s.len <= data + size;
    bool in_scratch = s.p >= g_scratch && s.p + s.len <= g_scratch + sizeof(g_scratch);
    if (!in_buf && !in_scratch)
        abort();
}

/* The early parser on data, with a scratch of cap bytes (the pipeline's is its buffer size). */
static void check_early(const uint8_t *data, size_t size, size_t cap, enum dstatus whole,
                        const struct tls_hello *wh)
{
    struct tls_hello h;
    size_t err = 0;
    enum dstatus st = tls_hello_parse_early(data, size, g_scratch, cap, &h, &err);
    if (st == DS_MALFORMED && err > size)
        abort();
    if (st != DS_OK)
        return;
    check_span(h.sni, data, size);
    check_span(h.alpn, data, size);
    if (h.partial) {
        /* (a smaller scratch than the whole parse had may cut a hello it read whole, or
         * whose fault lies past the cut) */
        if (!h.has_sni || h.consumed != 0 ||
            (cap >= sizeof(g_scratch) && whole != DS_NEED_MORE && whole != DS_LIMIT))
            abort();
    } else if (whole != DS_OK || h.consumed != wh->consumed || h.sni.len != wh->sni.len ||
               (h.sni.len && memcmp(h.sni.p, wh->sni.p, h.sni.len) != 0)) {
        abort();
    }
    if (h.has_sni && memchr(h.sni.p, 0, h.sni.len) != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_hello h;
    size_t err = 0;
    enum dstatus st = tls_hello_parse(data, size, g_scratch, sizeof(g_scratch), &h, &err);
    struct tls_hello wh = h;
    struct span names[2];
    size_t nn = tls_hello_scan_names(data, size, g_scratch, 4096, names, 2);
    if (nn > 2)
        abort();
    for (size_t i = 0; i < nn; i++) {
        check_span(names[i], data, size);
        if (names[i].len == 0 || names[i].len > 255 || memchr(names[i].p, 0, names[i].len))
            abort();
    }
    check_early(data, size, 4096, st, &wh);
    check_early(data, size, sizeof(g_scratch), st, &wh);
    if (st == DS_MALFORMED && err > size)
        abort();
    if (st != DS_OK)
        return 0;
    if (h.consumed > size || h.hello_len > TLS_HELLO_MAX || h.records == 0)
        abort();
    check_span(h.sni, data, size);
    check_span(h.alpn, data, size);
    if (h.has_sni && memchr(h.sni.p, 0, h.sni.len) != NULL)
        abort();
    /* prefixes: the two just before the end and one in the middle */
    size_t cuts[] = { h.consumed - 1, h.consumed / 2, h.consumed > 1 ? h.consumed - 2 : 0 };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct tls_hello p;
        if (tls_hello_parse(data, cuts[i], g_scratch, sizeof(g_scratch), &p, &err) != DS_NEED_MORE)
            abort();
    }
    return 0;
}
