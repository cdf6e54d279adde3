/* quicw.h - test helper: client-side QUIC packets for crafted captures and unit tests.
 *
 * Seals client Initials (v1, v2, draft-29) with the library's own sealer (quic_initial_seal()
 * over the client Initial keys of the first DCID), and writes the bare ClientHello and the frames
 * they carry. A real client adds transport parameters and ACKs; the filter reads none of them.
 *
 *   Initial  = long header (type Initial) | Length | PN | AES-128-GCM(frames, PADDING) | tag
 *   frames   = CRYPTO 0x06 {offset, length, data} | PING 0x01 | PADDING 0x00 */
#ifndef QG_QUICW_H
#define QG_QUICW_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/dissect/quic.h"

/* One client connection attempt: its version, connection IDs and Initial keys. */
struct quicw {
    struct quic_ctx *ctx;  /* owned */
    struct quic_keys keys; /* client Initial keys of dcid */
    uint32_t version;
    uint8_t dcid[QUIC_CID_MAX], scid[QUIC_CID_MAX];
    size_t dcid_len, scid_len;
};

/* Sets up q for version with the given connection IDs (<= QUIC_CID_MAX bytes each). Returns 0,
 * -ENOMEM, -EINVAL (a CID too long) or the error of quic_keys_derive(). Free with quicw_fini(). */
int quicw_init(struct quicw *q, uint32_t version, const uint8_t *dcid, size_t dcid_len,
               const uint8_t *scid, size_t scid_len);
void quicw_fini(struct quicw *q);

/* A bare ClientHello handshake message (no TLS record header, as QUIC carries it) for sni with
 * ALPN h3; pq > 0 adds a post-quantum key share of that many bytes (1216: Chromium's
 * X25519MLKEM768), which takes the hello over one datagram. *sni_off (may be NULL) gets the
 * offset of the host name in the message. Returns the length, or 0 when it does not fit. */
size_t quicw_hello(const char *sni, size_t pq, uint8_t *out, size_t cap, size_t *sni_off);

/* Appends a CRYPTO frame carrying d[0..n) at stream offset off (2-byte varints: off, n <
 * 16384) at out[*len], capacity cap. Returns 0 or -ENOSPC. */
int quicw_crypto(uint8_t *out, size_t cap, size_t *len, size_t off, const uint8_t *d, size_t n);

/* Seals frames (n bytes) into one Initial with packet number pn (4-byte encoding), padded to at
 * least min_len bytes. Returns the packet length, or 0. */
size_t quicw_initial(struct quicw *q, uint32_t pn, const uint8_t *frames, size_t n, size_t min_len,
                     uint8_t *out, size_t cap);

/* Long-header packet types other than Initial. */
enum quicw_type { QUICW_0RTT, QUICW_HANDSHAKE };

/* A long-header packet of type t for q's version and CIDs with payload_len bytes the filter
 * cannot decrypt (0-RTT and Handshake keys are not derived from public data): seeded filler.
 * Returns the packet length, or 0. */
size_t quicw_opaque(const struct quicw *q, enum quicw_type t, size_t payload_len, uint32_t seed,
                    uint8_t *out, size_t cap);

#endif
