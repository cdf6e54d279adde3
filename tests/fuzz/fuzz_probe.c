/* fuzz_probe.c - libFuzzer target for the verify probes (proxy/daemon/probe.h): the classifier
 * of answers from the network, and the builders over arbitrary names.
 *
 * The first input byte picks the entry point:
 *   0..2  rest = {event byte, flags byte, answer}: probe_answer_complete() and probe_classify()
 *         for HTTP, TLS or QUIC (QUIC with the keys of a fixed DCID), with or without a notice
 *         URL and the QUIC-dropped flag; the verdict's detail must be a NUL-terminated string;
 *   3     rest = a name: probe_tls_hello() and probe_quic_initials() with it; when they build,
 *         the hello parses back to that name (tls_hello_parse, quic_initial_parse + reassembly);
 *   4     rest = {host length byte, host, path}: probe_http_request() never writes past cap and
 *         writes nothing with a control byte in it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/probe.h"
#include "proxy/dissect/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct quic_ctx *ctx;
static struct quic_crypto crypto;
static struct probe_quic q;
static uint8_t plain[QUIC_PLAIN_MAX];

static const uint8_t dcid[PROBE_CID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void classify(enum probe_wire wire, const uint8_t *d, size_t n)
{
    if (n < 2)
        return;
    enum probe_event ev = (enum probe_event)(d[0] % 5);
    uint8_t flags = d[1];
    d += 2;
    n -= 2;
    uint8_t *buf = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
    if (!buf)
        return;
    if (n)
        memcpy(buf, d, n);
    struct probe_expect x = {
        "blocked.test", (flags & 1) ? "http://notice.test/" : NULL, (flags & 2) != 0, ctx, dcid,
        sizeof(dcid)
    };
    struct probe_verdict v;
    (void)probe_answer_complete(wire, buf, n);
    probe_classify(wire, buf, n, ev, &x, &v);
    if (memchr(v.detail, '\0', sizeof(v.detail)) == NULL || v.outcome > PROBE_INCONCLUSIVE ||
        v.how > PROBE_HOW_ERROR)
        abort();
    free(buf);
}

static void build_hello(const uint8_t *d, size_t n)
{
    char name[300];
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    memcpy(name, d, n);
    name[n] = '\0';
    size_t nl = strlen(name);
    struct probe_rand r;
    memset(&r, 0x5a, sizeof(r));
    memcpy(r.dcid, dcid, sizeof(dcid));
    uint8_t h[PROBE_HELLO_MAX];
    size_t hl = probe_tls_hello(name, &r, h, sizeof(h));
    if (hl > sizeof(h))
        abort();
    struct tls_hello th;
    size_t eo = 0;
    if (hl > 0 && nl > 0) {
        if (tls_hello_parse(h, hl, NULL, 0, &th, &eo) != DS_OK || !th.has_sni || th.sni.len != nl ||
            memcmp(th.sni.p, name, nl) != 0)
            abort();
    }
    if (probe_quic_initials(ctx, name, &r, &q) == 0) {
        quic_crypto_init(&crypto);
        for (size_t i = 0; i < 2; i++) {
            struct quic_initial in;
            if (q.len[i] != PROBE_QUIC_DATAGRAM ||
                quic_initial_parse(ctx, q.dgram[i], q.len[i], NULL, plain, sizeof(plain), &in,
                                   &eo) != DS_OK ||
                quic_crypto_add_frames(&crypto, in.frames.p, in.frames.len, &eo) != DS_OK)
                abort();
        }
        if (quic_crypto_hello(&crypto, &th, &eo) != DS_OK ||
            (nl > 0 && (th.sni.len != nl || memcmp(th.sni.p, name, nl) != 0)))
            abort();
    }
}

static void build_request(const uint8_t *d, size_t n)
{
    if (n < 1)
        return;
    size_t hl = d[0];
    d++;
    n--;
    if (hl > n)
        hl = n;
    char host[256], path[512];
    memcpy(host, d, hl);
    host[hl] = '\0';
    size_t pl = n - hl < sizeof(path) - 1 ? n - hl : sizeof(path) - 1;
    memcpy(path, d + hl, pl);
    path[pl] = '\0';
    char out[PROBE_REQUEST_MAX];
    size_t cap = 64 + (size_t)(hl * 3) % (sizeof(out) - 64);
    size_t len = probe_http_request(host, path, out, cap);
    if (len >= cap && len != 0)
        abort();
    if (len > 0) {
        /* one request: the only CR/LF are the header line ends */
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)out[i] < 0x20 && out[i] != '\r' && out[i] != '\n')
                abort();
        if (strstr(out, "\r\n\r\n") != out + len - 4)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx && !(ctx = quic_ctx_new()))
        abort();
    static const enum probe_wire wires[] = { PROBE_WIRE_HTTP, PROBE_WIRE_TLS, PROBE_WIRE_QUIC };
    unsigned mode = size ? data[0] % 5u : 5u;
    if (mode < 3)
        classify(wires[mode], data + 1, size - 1);
    else if (mode == 3)
        build_hello(data + 1, size - 1);
    else if (mode == 4)
        build_request(data + 1, size - 1);
    return 0;
}
