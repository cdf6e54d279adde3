/* quicw.c - test helper: client-side QUIC packets (see quicw.h). */
#include "tests/lib/quicw.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tests/lib/pcapw.h"

int quicw_init(struct quicw *q, uint32_t version, const uint8_t *dcid, size_t dcid_len,
               const uint8_t *scid, size_t scid_len)
{
    memset(q, 0, sizeof(*q));
    if (dcid_len > QUIC_CID_MAX || scid_len > QUIC_CID_MAX)
        return -EINVAL;
    q->ctx = quic_ctx_new();
    if (q->ctx == NULL)
        return -ENOMEM;
    q->version = version;
    memcpy(q->dcid, dcid, dcid_len);
    q->dcid_len = dcid_len;
    if (scid_len > 0)
        memcpy(q->scid, scid, scid_len);
    q->scid_len = scid_len;
    int rc = quic_keys_derive(q->ctx, version, dcid, dcid_len, false, &q->keys);
    if (rc != 0) {
        quicw_fini(q);
        return rc;
    }
    return 0;
}

void quicw_fini(struct quicw *q)
{
    quic_ctx_free(q->ctx);
    q->ctx = NULL;
}

size_t quicw_hello(const char *sni, size_t pq, uint8_t *out, size_t cap, size_t *sni_off)
{
    struct pcapw_hello h;
    memset(&h, 0, sizeof(h));
    h.sni = sni;
    h.alpn = "h3";
    h.pq_keyshare = pq;
    h.grease = true;
    h.seed = 11;
    size_t so = 0;
    size_t n = pcapw_tls_hello(&h, out, cap, &so);
    /* One record (the hello is < 16 KiB): drop its 5-byte header. */
    if (n <= 5 || (size_t)(out[3] << 8 | out[4]) != n - 5)
        return 0;
    memmove(out, out + 5, n - 5);
    if (sni_off)
        *sni_off = so >= 5 ? so - 5 : 0;
    return n - 5;
}

int quicw_crypto(uint8_t *out, size_t cap, size_t *len, size_t off, const uint8_t *d, size_t n)
{
    if (off >= 16384 || n >= 16384 || cap - *len < 5 + n || *len > cap)
        return -ENOSPC;
    uint8_t *p = out + *len;
    p[0] = 0x06;
    p[1] = (uint8_t)(0x40 | off >> 8);
    p[2] = (uint8_t)off;
    p[3] = (uint8_t)(0x40 | n >> 8);
    p[4] = (uint8_t)n;
    memcpy(p + 5, d, n);
    *len += 5 + n;
    return 0;
}

size_t quicw_initial(struct quicw *q, uint32_t pn, const uint8_t *frames, size_t n, size_t min_len,
                     uint8_t *out, size_t cap)
{
    struct quic_seal s;
    memset(&s, 0, sizeof(s));
    s.dcid = q->dcid;
    s.dcid_len = q->dcid_len;
    s.scid = q->scid;
    s.scid_len = q->scid_len;
    s.pn = pn;
    s.pn_len = 4;
    s.frames = frames;
    s.frames_len = n;
    s.min_len = min_len;
    return quic_initial_seal(q->ctx, &q->keys, &s, out, cap);
}

size_t quicw_opaque(const struct quicw *q, enum quicw_type t, size_t payload_len, uint32_t seed,
                    uint8_t *out, size_t cap)
{
    /* Type bits: v1 0-RTT 01, Handshake 10; v2 (RFC 9369 3.2) 0-RTT 10, Handshake 11. */
    bool v2 = q->version == QUIC_V2;
    unsigned type = t == QUICW_0RTT ? (v2 ? 2u : 1u) : (v2 ? 3u : 2u);
    size_t hdr = 1 + 4 + 1 + q->dcid_len + 1 + q->scid_len + 2;
    if (payload_len < 20 || payload_len >= 16384 || hdr + payload_len > cap)
        return 0;
    size_t n = 0;
    out[n++] = (uint8_t)(0xc0 | type << 4 | 3);
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(q->version >> (8 * i));
    out[n++] = (uint8_t)q->dcid_len;
    memcpy(out + n, q->dcid, q->dcid_len);
    n += q->dcid_len;
    out[n++] = (uint8_t)q->scid_len;
    memcpy(out + n, q->scid, q->scid_len);
    n += q->scid_len;
    out[n++] = (uint8_t)(0x40 | payload_len >> 8);
    out[n++] = (uint8_t)payload_len;
    uint64_t st = (uint64_t)seed * 2654435761u + 1;
    for (size_t i = 0; i < payload_len; i++)
        out[n++] = (uint8_t)pcapw_rand(&st);
    return n;
}
