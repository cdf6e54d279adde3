/* quic.h - QUIC client Initial dissector: header protection removal, Initial payload decryption
 * (RFC 9001 5, RFC 9369 for v2), CRYPTO stream reassembly and the ClientHello inside it.
 *
 * Three steps, each usable alone:
 *   1. quic_initial_parse()    one UDP datagram -> the first client Initial's decrypted frames;
 *   2. quic_crypto_add_frames() those frames -> CRYPTO bytes placed by offset in a caller-owned
 *                               reassembly buffer (ClientHello over several Initials, any order);
 *   3. quic_crypto_hello()     the in-order CRYPTO prefix -> struct tls_hello (SNI, ALPN, ECH).
 * And the reverse, for enforcement: quic_close_initial() builds the server Initial carrying a
 * CONNECTION_CLOSE that an on-path observer can send (RFC 9000 21.2), over quic_initial_seal().
 * Only the AES-128-GCM Initial keys are used; they are derived from the client's first
 * Destination Connection ID, which is public, so decryption proves integrity, not origin. */
#ifndef QG_QUIC_H
#define QG_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dstatus.h"
#include "proxy/dissect/tls.h"

#define QUIC_V1      0x00000001u
#define QUIC_V2      0x6b3343cfu
#define QUIC_DRAFT29 0xff00001du

/* The type of the long-header packet buf starts with, v2's numbering mapped to v1's (RFC 9369
 * 3.2): for v1, v2 and draft-29, and Version Negotiation (version 0, RFC 9000 17.2.1); -1 for
 * anything else (a short header, another version, less than 5 bytes). Reads at most 5 bytes. */
enum quic_long_type {
    QUIC_LT_NONE = -1,
    QUIC_LT_INITIAL = 0,
    QUIC_LT_0RTT = 1,
    QUIC_LT_HANDSHAKE = 2, /* a client sends one only after the server answered its Initial */
    QUIC_LT_RETRY = 3,
    QUIC_LT_VN = 4,
};
enum quic_long_type quic_long_type(const uint8_t *buf, size_t len);

#define QUIC_CID_MAX            20    /* RFC 9000 17.2: connection IDs of v1/v2 are <= 20 bytes */
#define QUIC_MIN_DATAGRAM       1200  /* RFC 9000 14.1: servers drop client Initials in less */
#define QUIC_CRYPTO_MAX         16384 /* CRYPTO stream bytes kept per flow (offsets 0..16383) */
#define QUIC_CRYPTO_MAX_PACKETS 32    /* Initial packets fed to one reassembler */
#define QUIC_PLAIN_MAX          1500 /* plaintext buffer that holds any Initial of a 1500-byte MTU */

/* Opaque per-worker crypto state: Nettle's HMAC-SHA256, AES-128-GCM and AES-128 states, reused
 * for every packet so the packet path allocates nothing. Not thread-safe: one per worker thread. */
struct quic_ctx;

/* Returns a new context, or NULL on allocation failure. Caller owns it and frees it with
 * quic_ctx_free(). */
struct quic_ctx *quic_ctx_new(void);

/* Frees ctx; quic_ctx_free(NULL) is a no-op. */
void quic_ctx_free(struct quic_ctx *ctx);

/* Initial packet protection keys of one direction (RFC 9001 5.2). */
struct quic_keys {
    uint32_t version;
    uint8_t key[16]; /* AEAD_AES_128_GCM key */
    uint8_t iv[12];
    uint8_t hp[16]; /* header protection key (AES-128-ECB) */
};

/* Derives the Initial keys of `version` for the client (server == false) or the server side from
 * the client's first Destination Connection ID (dcid, dcid_len <= 255 bytes).
 * Returns 0, or -EPROTONOSUPPORT for a version other than v1, v2, draft-29. Writes *keys only
 * on success. */
int quic_keys_derive(struct quic_ctx *ctx, uint32_t version, const uint8_t *dcid, size_t dcid_len,
                     bool server, struct quic_keys *keys);

/* What quic_initial_parse found. Spans point into the datagram, except frames (into plain). */
struct quic_initial {
    uint32_t version;
    struct span dcid;  /* Destination Connection ID as sent */
    struct span scid;  /* Source Connection ID */
    struct span token; /* address-validation token (usually empty) */
    uint32_t pn;       /* truncated packet number (1..4 bytes), as sent */
    size_t pn_len;
    size_t pkt_off;      /* offset of this Initial in the datagram (coalesced packets) */
    size_t pkt_len;      /* its length, header and AEAD tag included */
    size_t next_off;     /* offset just past it: call again on buf + next_off for more */
    bool short_datagram; /* datagram < QUIC_MIN_DATAGRAM: a server would drop it */
    struct span frames;  /* decrypted payload (frames), inside the caller's plain buffer */
};

/* Parses one UDP datagram (client -> server payload) and decrypts its first client Initial.
 * Long-header packets of other types in front of it (0-RTT, Handshake) are skipped by their
 * Length field; packets after it are left alone (out->next_off says where they start).
 * keys: the client Initial keys to use, or NULL to derive them from this packet's DCID (right
 * for every Initial the client sends before it hears from the server; after that the client
 * switches DCID and the caller must pass the keys derived from the first one).
 * plain (plain_cap bytes, QUIC_PLAIN_MAX is enough for any 1500-MTU datagram) receives the
 * decrypted frames.
 *  DS_OK         *out filled; out->frames holds the plaintext payload.
 *  DS_NEED_MORE  buf is a prefix of a packet: the header or the Length field runs past len
 *                (a snaplen-cut capture or an unassembled fragment); *err_off = len.
 *  DS_NOT_MINE   not a client Initial: short header, Version Negotiation, unknown version,
 *                fixed bit clear, Retry, or no Initial in the datagram.
 *  DS_MALFORMED  a v1/v2 long header that breaks the format (CID > 20 bytes, Length too small
 *                for the header-protection sample), keys given for another version, or the AEAD
 *                tag does not verify (corrupted or forged Initial); *err_off = offset in buf.
 *                When the header parsed and only decryption failed, out->version, dcid, pkt_off,
 *                pkt_len and next_off are set (the packets after it can still be read); in
 *                every other case out->next_off is 0.
 *  DS_LIMIT      the ciphertext is larger than plain_cap; *err_off = packet offset.
 * Never reads outside buf[0..len) and never writes buf. */
enum dstatus quic_initial_parse(struct quic_ctx *ctx, const uint8_t *buf, size_t len,
                                const struct quic_keys *keys, uint8_t *plain, size_t plain_cap,
                                struct quic_initial *out, size_t *err_off);

/* CRYPTO stream reassembler for one flow, caller-owned (about 18 KiB; keep it in the flow's
 * pool slot, not on a small stack). Zero it with quic_crypto_init() before first use.
 * First data wins: a later byte at an offset already held is dropped and counted in
 * `conflicts` if it differs (RFC 9000 2.2 lets the server do the same or close). */
struct quic_crypto {
    /* data[QUIC_CRYPTO_HDR + off] holds stream byte `off`; the first bytes are room for the TLS
     * record header quic_crypto_hello() writes in front of the handshake message. */
    uint8_t data[5 + QUIC_CRYPTO_MAX];
    uint8_t have[QUIC_CRYPTO_MAX / 8]; /* bit per stream byte received */
    size_t contig;                     /* bytes received in order from offset 0 */
    size_t high;                       /* highest end offset stored (<= QUIC_CRYPTO_MAX) */
    unsigned packets;                  /* quic_crypto_add_frames() calls accepted */
    unsigned crypto_frames;
    unsigned conflicts; /* bytes that arrived again with a different value */
    size_t clipped;     /* CRYPTO bytes dropped beyond QUIC_CRYPTO_MAX */
    bool closed;        /* a CONNECTION_CLOSE frame was seen */
    bool last_wins;     /* set by the caller: a later differing byte replaces the one held
                          * (still counted in conflicts): the other reading of a stream that
                          * two senders wrote at the same offsets */
};
#define QUIC_CRYPTO_HDR 5

/* Resets c to an empty stream (its bitmap and counters: the bytes of an earlier stream stay in
 * data, where nothing reads them until they are stored again). */
void quic_crypto_init(struct quic_crypto *c);

/* Walks the frames of one decrypted Initial (frames, len) and stores CRYPTO data by offset.
 * Frames allowed in an Initial (RFC 9000 12.4): PADDING, PING, ACK (0x02/0x03), CRYPTO,
 * CONNECTION_CLOSE (0x1c). Any other type is malformed, as the server would close.
 *  DS_OK         every frame parsed; CRYPTO data stored.
 *  DS_MALFORMED  bad or forbidden frame, empty payload, or an offset+length beyond 2^62;
 *                *err_off = offset in frames. Data of earlier frames stays stored.
 *  DS_LIMIT      CRYPTO data beyond QUIC_CRYPTO_MAX (the part that fits is stored, c->clipped
 *                counts the rest) or more than QUIC_CRYPTO_MAX_PACKETS packets for this flow
 *                (nothing stored); *err_off = offset of the frame or 0. */
enum dstatus quic_crypto_add_frames(struct quic_crypto *c, const uint8_t *frames, size_t len,
                                    size_t *err_off);

/* Returns the in-order CRYPTO bytes from offset 0 (a span into c, valid until c changes). */
struct span quic_crypto_contiguous(const struct quic_crypto *c);

/* Parses the ClientHello at the start of c's CRYPTO stream. The stream carries a bare handshake
 * message (no TLS record header), so a record header is written into the room in front of it and
 * tls_hello_parse() runs on data in place (no copy). Spans in *out point into c.
 *  DS_OK / DS_MALFORMED / DS_NOT_MINE as tls_hello_parse() (err_off is a CRYPTO stream offset);
 *  DS_NEED_MORE  the in-order prefix is not a whole ClientHello yet (wait for more Initials);
 *  DS_LIMIT      the handshake message is longer than QUIC_CRYPTO_MAX. */
enum dstatus quic_crypto_hello(struct quic_crypto *c, struct tls_hello *out, size_t *err_off);

/* Same for a bare handshake message held elsewhere: copies (hs, len) behind a synthesized record
 * header into scratch (scratch_cap >= len + 5 and > 5) and parses it; spans in *out point into
 * scratch. DS_LIMIT when scratch is too small or the message is longer than QUIC_CRYPTO_MAX. */
enum dstatus quic_hello_parse(const uint8_t *hs, size_t len, uint8_t *scratch, size_t scratch_cap,
                              struct tls_hello *out, size_t *err_off);

/* One long-header Initial to seal: header fields, plaintext frames, padding. */
struct quic_seal {
    const uint8_t *dcid; /* Destination / Source Connection IDs, <= QUIC_CID_MAX each */
    size_t dcid_len;
    const uint8_t *scid;
    size_t scid_len;
    const uint8_t *token; /* Token (client Initials after a Retry; servers send none) */
    size_t token_len;     /* < 16384 */
    uint32_t pn;          /* packet number, written in pn_len (1..4) bytes */
    size_t pn_len;
    const uint8_t *frames; /* plaintext frames (<= QUIC_PLAIN_MAX bytes) */
    size_t frames_len;
    size_t min_len; /* PADDING frames are added until the packet is this long */
};

/* Seals one Initial with keys k (either direction; k->version picks the type bits): writes the
 * long header with a 2-byte Length, encrypts the frames (plus PADDING) with AES-128-GCM using
 * the packet number as nonce and the header as associated data, then applies header protection
 * (AES-128-ECB mask over the 16-byte sample). frames may point into out only if it sits where
 * the payload goes. Returns the packet length, or 0 when a field is out of range, the packet
 * would not fit in cap (or needs a Length >= 16384). No allocation. */
size_t quic_initial_seal(struct quic_ctx *ctx, const struct quic_keys *k, const struct quic_seal *s,
                         uint8_t *out, size_t cap);

/* Builds the server Initial that ends a client's connection attempt (RFC 9000 10.2.3, 21.2):
 * sealed with the server Initial keys of `version` derived from the client's original
 * Destination Connection ID (odcid), addressed to the client's Source Connection ID (cscid) with
 * odcid as its own Source Connection ID, packet number 0, carrying one CONNECTION_CLOSE (0x1c)
 * frame with error_code (< 2^30; e.g. 0x0a PROTOCOL_VIOLATION, 0x0128 TLS handshake_failure)
 * and reason "blocked", padded to QUIC_MIN_DATAGRAM bytes. Returns its length or 0 (unknown
 * version, a CID longer than QUIC_CID_MAX, cap < QUIC_MIN_DATAGRAM). */
size_t quic_close_initial(struct quic_ctx *ctx, uint32_t version, const uint8_t *odcid,
                          size_t odcid_len, const uint8_t *cscid, size_t cscid_len,
                          uint64_t error_code, uint8_t *out, size_t cap);

#endif
