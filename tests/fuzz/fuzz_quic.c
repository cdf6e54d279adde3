/* fuzz_quic.c - libFuzzer target for the QUIC Initial dissector.
 *
 * The first input byte picks the entry point (random datagrams almost never authenticate, so
 * the frame walker and the hello wrapper are fuzzed on plaintext directly):
 *   0  rest = one UDP datagram: quic_initial_parse(), then frames -> reassembler -> hello;
 *   1  rest = chunks {len (2 bytes BE), frames}: each chunk is one decrypted Initial fed to one
 *      reassembler (out-of-order CRYPTO, overlaps, limits), then quic_crypto_hello();
 *   2  rest = a bare handshake message: quic_hello_parse();
 *   3  as 1 with the last-wins reading (quic_crypto.last_wins), the engine's second reading;
 *   4  rest = {version selector, dcid length, dcid, pn, frames}: quic_initial_seal() with the
 *      client keys, then quic_initial_parse() of every coalesced packet must open it again and
 *      give back the frames; and quic_close_initial() must open under the server keys. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/dissect/quic.h"

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
    uint8_t mode = data[0] % 5;
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
        if (quic_long_type(buf, size) > QUIC_LT_VN)
            abort();
        struct quic_initial qi;
        if (quic_initial_parse(ctx, buf, size, NULL, plain, sizeof(plain), &qi, &eo) == DS_OK) {
            if (qi.next_off > size || qi.frames.len > sizeof(plain))
                abort();
            quic_crypto_add_frames(&crypto, qi.frames.p, qi.frames.len, &eo);
            hello_of(&crypto);
        } else if (eo > size) {
            abort();
        }
        /* every coalesced packet: next_off strictly advances on success and on a failed tag */
        size_t pos = 0;
        for (int i = 0; i < 8 && pos < size; i++) {
            enum dstatus st = quic_initial_parse(ctx, buf + pos, size - pos, NULL, plain,
                                                 sizeof(plain), &qi, &eo);
            if ((st == DS_OK || st == DS_MALFORMED) && qi.next_off > size - pos)
                abort();
            if (!(st == DS_OK || (st == DS_MALFORMED && qi.next_off)))
                break;
            pos += qi.next_off;
        }
    } else if (mode == 1 || mode == 3) {
        crypto.last_wins = mode == 3;
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
    } else if (mode == 2) {
        struct tls_hello h;
        quic_hello_parse(buf, size, scratch, sizeof(scratch), &h, &eo);
    } else if (size >= 3 && size - 3 >= (size_t)buf[1] % (QUIC_CID_MAX + 1)) {
        static const uint32_t versions[3] = { QUIC_V1, QUIC_V2, QUIC_DRAFT29 };
        static uint8_t pkt[QUIC_PLAIN_MAX + 128];
        uint32_t version = versions[buf[0] % 3];
        size_t dl = buf[1] % (QUIC_CID_MAX + 1);
        const uint8_t *dcid = buf + 2;
        uint32_t pn = buf[2 + dl];
        const uint8_t *frames = buf + 3 + dl;
        size_t fl = size - 3 - dl;
        if (fl > 1200)
            fl = 1200;
        struct quic_keys k;
        if (quic_keys_derive(ctx, version, dcid, dl, false, &k) != 0)
            abort();
        struct quic_seal sl = { .dcid = dcid,
                                .dcid_len = dl,
                                .pn = pn,
                                .pn_len = 1 + pn % 4,
                                .frames = frames,
                                .frames_len = fl,
                                .min_len = pn * 5 };
        size_t n = quic_initial_seal(ctx, &k, &sl, pkt, sizeof(pkt));
        struct quic_initial qi;
        if (n == 0 ||
            quic_initial_parse(ctx, pkt, n, NULL, plain, sizeof(plain), &qi, &eo) != DS_OK ||
            qi.pn != pn || qi.frames.len < fl || (fl && memcmp(qi.frames.p, frames, fl) != 0) ||
            qi.next_off != n)
            abort();
        n = quic_close_initial(ctx, version, dcid, dl, frames, fl > 20 ? 20 : fl, pn, pkt,
                               sizeof(pkt));
        if (n != QUIC_MIN_DATAGRAM || quic_keys_derive(ctx, version, dcid, dl, true, &k) != 0 ||
            quic_initial_parse(ctx, pkt, n, &k, plain, sizeof(plain), &qi, &eo) != DS_OK ||
            quic_crypto_add_frames(&crypto, qi.frames.p, qi.frames.len, &eo) != DS_OK ||
            !crypto.closed)
            abort();
    }
    free(buf);
    return 0;
}
