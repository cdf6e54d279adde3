/* fuzz_quic.c - libFuzzer target for the QUIC Initial dissector.
 *
 * The first input byte picks the entry point (random datagrams almost never authenticate, so
 * the frame walker and the hello wrapper are fuzzed on plaintext directly):
 *   0  rest = one UDP datagram: quic_initial_parse(), then frames -> reassembler -> hello;
 *   1  rest = chunks {len (2 bytes BE), frames}: each chunk is one decrypted Initial fed to one
 *      reassembler (out-of-order CRYPTO, overlaps, limits), then quic_crypto_hello();
 *   2  rest = a bare handshake message: quic_hello_parse(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct quic_ctx *ctx;
static struct quic_crypto crypto;
static uint8_t plain[QUIC_PLAIN_MAX];
static uint8_t scratch[QUIC_CRYPTO_MAX + 5];

static void hello_of(struct quic_crypto *c)
{
    struct tls_hello h;
    size_t eo = 0;
    enum dstatus st = quic_crypto_hello(c, &h, &eo);
    if (st == DS_OK && h.has_sni && h.sni.len > 0) {
        /* Touch every byte of the span: ASan catches a span outside c. */
        volatile uint8_t x = 0;
        for (size_t i = 0; i < h.sni.len; i++)
            x = (uint8_t)(x ^ h.sni.p[i]);
        (void)x;
    }
    struct span s = quic_crypto_contiguous(c);
    if (s.len > QUIC_CRYPTO_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx == NULL) {
        ctx = quic_ctx_new();
        if (ctx == NULL)
            abort();
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    /* Copy to an exact-size heap block so ASan sees any over-read. */
    uint8_t *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    size_t eo = 0;
    quic_crypto_init(&crypto);
    if (mode == 0) {
        struct quic_initial qi;
        if (quic_initial_parse(ctx, buf, size, NULL, plain, sizeof(plain), &qi, &eo) == DS_OK) {
            if (qi.next_off > size || qi.frames.len > sizeof(plain))
                abort();
            quic_crypto_add_frames(&crypto, qi.frames.p, qi.frames.len, &eo);
            hello_of(&crypto);
        } else if (eo > size) {
            abort();
        }
    } else if (mode == 1) {
        size_t off = 0;
        while (size - off >= 2) {
            size_t n = (size_t)buf[off] << 8 | buf[off + 1];
            off += 2;
            if (n > size - off)
                n = size - off;
            if (quic_crypto_add_frames(&crypto, buf + off, n, &eo) == DS_MALFORMED && eo >= n &&
                n > 0)
                abort();
            off += n;
        }
        hello_of(&crypto);
    } else {
        struct tls_hello h;
        quic_hello_parse(buf, size, scratch, sizeof(scratch), &h, &eo);
    }
    free(buf);
    return 0;
}
