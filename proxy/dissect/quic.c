/* quic.c - QUIC client Initial: header protection, AEAD, CRYPTO reassembly.
 *
 * Long header, Initial packet (RFC 9000 17.2, 17.2.2; v2 per RFC 9369 3.2):
 *
 *   +-+-+-+-+-+-+-+-+
 *   |1|1|T T|R R|P P|   form=1, fixed=1, type (v1 Initial 00, v2 Initial 01),
 *   +-+-+-+-+-+-+-+-+   R R reserved, P P packet-number length - 1 (R, P header-protected)
 *   | Version (32)                                 |
 *   | DCID Len (8) | Destination Connection ID (0..160)
 *   | SCID Len (8) | Source Connection ID (0..160)
 *   | Token Length (i) | Token (..)                 |   i = QUIC varint (1/2/4/8 bytes)
 *   | Length (i)  = bytes of packet number + payload |
 *   | Packet Number (8..32), header-protected         |
 *   | Payload: AES-128-GCM(frames) || tag (128)       |
 *
 * Header protection: sample = the 16 bytes starting 4 bytes after the packet-number offset;
 * mask = AES-ECB(hp, sample); byte0 ^= mask[0] & 0x0f; pn bytes ^= mask[1..].
 * AEAD nonce = iv XOR packet number (left-padded); associated data = the unprotected header.
 *
 * Frames allowed in Initial packets (RFC 9000 12.4, 19):
 *   PADDING 0x00 | PING 0x01 | ACK 0x02/0x03 {largest, delay, count, first, count x {gap, len},
 *   [ect0, ect1, ce]} | CRYPTO 0x06 {offset, length, data} | CONNECTION_CLOSE 0x1c {code, frame
 *   type, reason length, reason}
 */
#include "proxy/dissect/quic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>

#include "common/compiler.h"
#include "common/rd.h"

/* The cipher states, with room for what a packet needs: Nettle's (docs/decisions.md: the
 * Initial's fixed suite - HKDF-SHA256, AES-128-GCM, AES-128 for header protection - without
 * libcrypto, whose loading cost every start of qorgau 2.9 ms). Nettle's calls cannot fail. */
struct quic_ctx {
    struct hmac_sha256_ctx hmac; /* HKDF (RFC 5869) */
    struct gcm_aes128_ctx gcm;   /* the payload's AEAD */
    struct aes128_ctx hp;        /* header protection: AES-128 on one block (ECB) */
};

struct quic_version_info {
    uint32_t version;
    uint8_t salt[20];
    const char *key_label;
    const char *iv_label;
    const char *hp_label;
    unsigned initial_type; /* long-header type bits of an Initial */
    unsigned retry_type;
};

static const struct quic_version_info quic_versions[] = {
    { QUIC_V1,
      { 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a },
      "quic key",
      "quic iv",
      "quic hp",
      0,
      3 },
    { QUIC_V2,
      { 0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
        0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9 },
      "quicv2 key",
      "quicv2 iv",
      "quicv2 hp",
      1,
      0 },
    { QUIC_DRAFT29,
      { 0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
        0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99 },
      "quic key",
      "quic iv",
      "quic hp",
      0,
      3 },
};

static const struct quic_version_info *version_find(uint32_t version)
{
    for (size_t i = 0; i < ARRAY_LEN(quic_versions); i++)
        if (quic_versions[i].version == version)
            return &quic_versions[i];
    return NULL;
}

struct quic_ctx *quic_ctx_new(void)
{
    return calloc(1, sizeof(struct quic_ctx));
}

void quic_ctx_free(struct quic_ctx *ctx)
{
    free(ctx);
}

/* out = HMAC-SHA256(key, msg) (RFC 2104), for HKDF. */
static void hmac256(struct quic_ctx *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                    size_t msg_len, uint8_t out[32])
{
    hmac_sha256_set_key(&ctx->hmac, key_len, key);
    hmac_sha256_update(&ctx->hmac, msg_len, msg);
    hmac_sha256_digest(&ctx->hmac, 32, out);
}

/* HKDF-Expand-Label(secret, label, "", out_len) for out_len <= 32 (one HMAC block, RFC 8446
 * 7.1: HkdfLabel = length(2) || len("tls13 " label)(1) || "tls13 " label || context len 0). */
static void expand_label(struct quic_ctx *ctx, const uint8_t secret[32], const char *label,
                         uint8_t *out, size_t out_len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1 + 1];
    size_t label_len = strlen(label);
    size_t n = 0;
    info[n++] = 0;
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + label_len);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, label_len);
    n += label_len;
    info[n++] = 0;    /* empty context */
    info[n++] = 0x01; /* HKDF-Expand counter T(1) */
    uint8_t t[32];
    hmac256(ctx, secret, 32, info, n, t);
    memcpy(out, t, out_len);
}

int quic_keys_derive(struct quic_ctx *ctx, uint32_t version, const uint8_t *dcid, size_t dcid_len,
                     bool server, struct quic_keys *keys)
{
    const struct quic_version_info *v = version_find(version);
    if (v == NULL)
        return -EPROTONOSUPPORT;
    uint8_t initial[32], secret[32];
    struct quic_keys k;
    k.version = version;
    hmac256(ctx, v->salt, sizeof(v->salt), dcid, dcid_len, initial);
    expand_label(ctx, initial, server ? "server in" : "client in", secret, 32);
    expand_label(ctx, secret, v->key_label, k.key, sizeof(k.key));
    expand_label(ctx, secret, v->iv_label, k.iv, sizeof(k.iv));
    expand_label(ctx, secret, v->hp_label, k.hp, sizeof(k.hp));
    *keys = k;
    return 0;
}

/* QUIC variable-length integer (RFC 9000 16). */
static uint64_t rd_varint(struct rd *r)
{
    uint8_t b = rd_u8(r);
    uint64_t v = b & 0x3f;
    size_t extra = ((size_t)1 << (b >> 6)) - 1;
    for (size_t i = 0; i < extra; i++)
        v = v << 8 | rd_u8(r);
    return r->err ? 0 : v;
}

/* The associated data, fed to GCM in pieces: Nettle takes it in calls whose lengths, all but
 * the last, are whole 16-byte blocks, so the pieces are gathered into blocks here. */
struct aad {
    struct gcm_aes128_ctx *gcm;
    uint8_t blk[GCM_BLOCK_SIZE];
    size_t n;
};

static void aad_add(struct aad *a, const uint8_t *p, size_t len)
{
    while (len > 0) {
        if (a->n == 0 && len >= GCM_BLOCK_SIZE) {
            size_t whole = len & ~(size_t)(GCM_BLOCK_SIZE - 1);
            gcm_aes128_update(a->gcm, whole, p);
            p += whole;
            len -= whole;
            continue;
        }
        size_t k = GCM_BLOCK_SIZE - a->n < len ? GCM_BLOCK_SIZE - a->n : len;
        memcpy(a->blk + a->n, p, k);
        a->n += k;
        p += k;
        len -= k;
        if (a->n == GCM_BLOCK_SIZE) {
            gcm_aes128_update(a->gcm, GCM_BLOCK_SIZE, a->blk);
            a->n = 0;
        }
    }
}

static void aad_end(struct aad *a)
{
    if (a->n > 0)
        gcm_aes128_update(a->gcm, a->n, a->blk);
    a->n = 0;
}

/* Removes header protection and decrypts one Initial at pkt[0..pkt_len), pn at pn_off. */
static enum dstatus initial_open(struct quic_ctx *ctx, const struct quic_keys *k,
                                 const uint8_t *pkt, size_t pkt_len, size_t pn_off, uint8_t *plain,
                                 size_t plain_cap, struct quic_initial *out, size_t *err_off)
{
    uint8_t mask[AES_BLOCK_SIZE];
    /* The sample needs pn_off + 4 + 16 <= pkt_len; the caller checked it. */
    aes128_set_encrypt_key(&ctx->hp, k->hp);
    aes128_encrypt(&ctx->hp, AES_BLOCK_SIZE, mask, pkt + pn_off + 4);
    uint8_t b0 = (uint8_t)(pkt[0] ^ (mask[0] & 0x0f));
    size_t pn_len = (size_t)(b0 & 0x03) + 1;
    uint8_t pn_bytes[4];
    uint32_t pn = 0;
    for (size_t i = 0; i < pn_len; i++) {
        pn_bytes[i] = (uint8_t)(pkt[pn_off + i] ^ mask[1 + i]);
        pn = pn << 8 | pn_bytes[i];
    }
    size_t ct_off = pn_off + pn_len;
    size_t ct_len = pkt_len - ct_off - 16; /* pkt_len >= pn_off + 20 >= ct_off + 16 */
    if (ct_len > plain_cap) {
        *err_off = 0;
        return DS_LIMIT;
    }
    /* Client Initials start at packet number 0 and no packet has been acknowledged, so the
     * truncated number decodes to itself (RFC 9000 A.3 with largest_pn = -1). */
    uint8_t nonce[12];
    memcpy(nonce, k->iv, sizeof(nonce));
    for (size_t i = 0; i < 4; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    gcm_aes128_set_key(&ctx->gcm, k->key);
    gcm_aes128_set_iv(&ctx->gcm, sizeof(nonce), nonce);
    /* associated data: the header as unprotected (its first byte and packet number) */
    struct aad a = { .gcm = &ctx->gcm, .n = 0 };
    aad_add(&a, &b0, 1);
    aad_add(&a, pkt + 1, pn_off - 1);
    aad_add(&a, pn_bytes, pn_len);
    aad_end(&a);
    gcm_aes128_decrypt(&ctx->gcm, ct_len, plain, pkt + ct_off);
    uint8_t tag[GCM_DIGEST_SIZE];
    gcm_aes128_digest(&ctx->gcm, sizeof(tag), tag);
    if (!memeql_sec(tag, pkt + pkt_len - 16, sizeof(tag))) {
        QG_DEBUG("quic: Initial failed authentication (pn %u, %zu bytes)\n", pn, pkt_len);
        *err_off = pkt_len - 16;
        return DS_MALFORMED;
    }
    out->pn = pn;
    out->pn_len = pn_len;
    out->frames.p = plain;
    out->frames.len = ct_len;
    return DS_OK;
}

enum quic_long_type quic_long_type(const uint8_t *buf, size_t len)
{
    if (len < 5 || !(buf[0] & 0x80)) /* a long header */
        return QUIC_LT_NONE;
    uint32_t v = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    if (v == 0)
        return QUIC_LT_VN; /* its other bits are arbitrary */
    if (!(buf[0] & 0x40))  /* the fixed bit */
        return QUIC_LT_NONE;
    unsigned type = (buf[0] >> 4) & 3u;
    if (v == QUIC_V1 || v == QUIC_DRAFT29)
        return (enum quic_long_type)type;
    if (v == QUIC_V2) /* v2: Initial 1, 0-RTT 2, Handshake 3, Retry 0 */
        return (enum quic_long_type)((type + 3u) & 3u);
    return QUIC_LT_NONE;
}

enum dstatus quic_initial_parse(struct quic_ctx *ctx, const uint8_t *buf, size_t len,
                                const struct quic_keys *keys, uint8_t *plain, size_t plain_cap,
                                struct quic_initial *out, size_t *err_off)
{
    size_t off = 0;
    *err_off = 0;
    memset(out, 0, sizeof(*out));
    if (len == 0) {
        return DS_NEED_MORE;
    }
    /* Each pass consumes at least the 7 fixed header bytes, so the loop ends within len. */
    while (off < len) {
        struct rd r;
        rd_init(&r, buf + off, len - off);
        uint8_t b0 = rd_u8(&r);
        if (!(b0 & 0x80))
            return DS_NOT_MINE; /* short header (or junk): no Initial before it */
        uint32_t version = rd_be32(&r);
        if (r.err) {
            *err_off = len;
            return DS_NEED_MORE;
        }
        const struct quic_version_info *v = version_find(version);
        if (v == NULL || !(b0 & 0x40))
            return DS_NOT_MINE; /* Version Negotiation, unknown version, or fixed bit clear */
        unsigned type = (b0 >> 4) & 0x03;
        if (type == v->retry_type)
            return DS_NOT_MINE; /* server-only packet */
        size_t cid_at = r.off;
        uint8_t dcil = rd_u8(&r);
        struct span dcid = rd_span(&r, dcil);
        size_t scid_at = r.off;
        uint8_t scil = rd_u8(&r);
        if (dcil > QUIC_CID_MAX || (!r.err && scil > QUIC_CID_MAX)) {
            *err_off = off + (dcil > QUIC_CID_MAX ? cid_at : scid_at);
            return DS_MALFORMED;
        }
        struct span scid = rd_span(&r, scil);
        struct span token = { NULL, 0 };
        if (type == v->initial_type) {
            uint64_t token_len = rd_varint(&r);
            if (!r.err && token_len > rd_left(&r)) {
                *err_off = len;
                return DS_NEED_MORE;
            }
            token = rd_span(&r, (size_t)token_len);
        }
        size_t length_at = r.off;
        uint64_t length = rd_varint(&r);
        if (r.err || length > rd_left(&r)) {
            *err_off = len;
            return DS_NEED_MORE;
        }
        size_t pn_off = r.off;
        size_t pkt_len = pn_off + (size_t)length;
        if (type != v->initial_type) {
            off += pkt_len; /* 0-RTT or Handshake coalesced in front: skip */
            continue;
        }
        if (length < 4 + 16) { /* no room for the header-protection sample */
            *err_off = off + length_at;
            return DS_MALFORMED;
        }
        struct quic_keys derived;
        if (keys == NULL) {
            static const uint8_t empty[1];
            const uint8_t *id = dcid.len > 0 ? dcid.p : empty;
            if (quic_keys_derive(ctx, version, id, dcid.len, false, &derived) != 0) {
                *err_off = off;
                return DS_MALFORMED;
            }
            keys = &derived;
        } else if (keys->version != version) {
            *err_off = off + 1;
            return DS_MALFORMED;
        }
        memset(out, 0, sizeof(*out));
        enum dstatus st =
            initial_open(ctx, keys, buf + off, pkt_len, pn_off, plain, plain_cap, out, err_off);
        *err_off += off;
        if (st != DS_OK) {
            /* The header held: say where the next coalesced packet starts (RFC 9000 12.2: the
             * receiver goes on with the others when one fails to decrypt). */
            out->version = version;
            out->dcid = dcid;
            out->pkt_off = off;
            out->pkt_len = pkt_len;
            out->next_off = off + pkt_len;
            return st;
        }
        *err_off = 0;
        out->version = version;
        out->dcid = dcid;
        out->scid = scid;
        out->token = token;
        out->pkt_off = off;
        out->pkt_len = pkt_len;
        out->next_off = off + pkt_len;
        out->short_datagram = len < QUIC_MIN_DATAGRAM;
        return DS_OK;
    }
    return DS_NOT_MINE;
}

_Static_assert(offsetof(struct quic_crypto, have) == sizeof(((struct quic_crypto *)0)->data),
               "the stream's bytes come first, then the bitmap and the counters");

void quic_crypto_init(struct quic_crypto *c)
{
    /* The bitmap and the counters only: a data byte is read only where its bit is set (stored
     * then), so the 16 KiB of bytes are not cleared - a new flow's slot then touches the pages
     * its ClientHello fills, not all five (each a fault when first used) */
    memset(c->have, 0, sizeof(*c) - offsetof(struct quic_crypto, have));
}

static bool have_bit(const struct quic_crypto *c, size_t pos)
{
    return (c->have[pos >> 3] >> (pos & 7)) & 1;
}

/* Stores CRYPTO bytes [off, off+n) with first-wins overlap; returns false when clipped. */
static bool crypto_store(struct quic_crypto *c, uint64_t off, const uint8_t *d, size_t n)
{
    size_t keep = 0;
    if (off < QUIC_CRYPTO_MAX)
        keep = n < QUIC_CRYPTO_MAX - off ? n : QUIC_CRYPTO_MAX - (size_t)off;
    for (size_t i = 0; i < keep; i++) {
        size_t pos = (size_t)off + i;
        if (have_bit(c, pos)) {
            if (c->data[QUIC_CRYPTO_HDR + pos] != d[i]) {
                c->conflicts++;
                if (c->last_wins)
                    c->data[QUIC_CRYPTO_HDR + pos] = d[i];
            }
            continue;
        }
        c->data[QUIC_CRYPTO_HDR + pos] = d[i];
        c->have[pos >> 3] = (uint8_t)(c->have[pos >> 3] | 1u << (pos & 7));
    }
    if (keep > 0 && (size_t)off + keep > c->high)
        c->high = (size_t)off + keep;
    while (c->contig < c->high && have_bit(c, c->contig))
        c->contig++;
    c->clipped += n - keep;
    return keep == n;
}

enum dstatus quic_crypto_add_frames(struct quic_crypto *c, const uint8_t *frames, size_t len,
                                    size_t *err_off)
{
    *err_off = 0;
    if (c->packets >= QUIC_CRYPTO_MAX_PACKETS)
        return DS_LIMIT;
    if (len == 0)
        return DS_MALFORMED; /* RFC 9000 12.4: a packet must contain at least one frame */
    c->packets++;
    bool limited = false;
    size_t limit_off = 0;
    struct rd r;
    rd_init(&r, frames, len);
    while (rd_left(&r) > 0) {
        size_t at = r.off;
        uint64_t type = rd_varint(&r);
        if (r.err) {
            *err_off = at;
            return DS_MALFORMED;
        }
        switch (type) {
        case 0x00: /* PADDING: skip the whole run at once */
            while (r.off < r.len && r.p[r.off] == 0)
                r.off++;
            break;
        case 0x01: /* PING */ break;
        case 0x02:
        case 0x03: {       /* ACK */
            rd_varint(&r); /* largest acknowledged */
            rd_varint(&r); /* delay */
            uint64_t ranges = rd_varint(&r);
            rd_varint(&r); /* first range */
            /* Each range takes >= 2 bytes: the loop stops at the end of input at the latest. */
            for (uint64_t i = 0; i < ranges && !r.err; i++) {
                rd_varint(&r);
                rd_varint(&r);
            }
            if (type == 0x03) {
                rd_varint(&r);
                rd_varint(&r);
                rd_varint(&r);
            }
            break;
        }
        case 0x06: { /* CRYPTO */
            uint64_t off = rd_varint(&r);
            uint64_t n = rd_varint(&r);
            if (!r.err && n > rd_left(&r))
                r.err = true;
            struct span d = rd_span(&r, (size_t)n);
            if (r.err)
                break;
            if (off + n > ((uint64_t)1 << 62) - 1) {
                *err_off = at;
                return DS_MALFORMED;
            }
            c->crypto_frames++;
            if (!crypto_store(c, off, d.p, d.len) && !limited) {
                limited = true;
                limit_off = at;
            }
            break;
        }
        case 0x1c: { /* CONNECTION_CLOSE (transport) */
            rd_varint(&r);
            rd_varint(&r);
            uint64_t n = rd_varint(&r);
            if (!r.err && n > rd_left(&r))
                r.err = true;
            rd_skip(&r, (size_t)n);
            c->closed = true;
            break;
        }
        default: *err_off = at; return DS_MALFORMED;
        }
        if (r.err) {
            *err_off = at;
            return DS_MALFORMED;
        }
    }
    if (limited) {
        *err_off = limit_off;
        return DS_LIMIT;
    }
    return DS_OK;
}

struct span quic_crypto_contiguous(const struct quic_crypto *c)
{
    struct span s = { c->data + QUIC_CRYPTO_HDR, c->contig };
    return s;
}

/* rec points at 5 bytes of room followed by avail bytes of the bare handshake message. */
static enum dstatus hello_in_place(uint8_t *rec, size_t avail, struct tls_hello *out,
                                   size_t *err_off)
{
    const uint8_t *hs = rec + QUIC_CRYPTO_HDR;
    *err_off = 0;
    if (avail < 4)
        return avail == 0 || hs[0] == 0x01 ? DS_NEED_MORE : DS_MALFORMED;
    size_t msg_len = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
    if (msg_len > QUIC_CRYPTO_MAX) {
        *err_off = 1;
        return DS_LIMIT;
    }
    /* One synthetic record holds the whole message: msg_len <= 2^14, the TLS record limit. */
    rec[0] = 0x16;
    rec[1] = 0x03;
    rec[2] = 0x01;
    rec[3] = (uint8_t)(msg_len >> 8);
    rec[4] = (uint8_t)msg_len;
    size_t n = avail < msg_len ? avail : msg_len;
    size_t eo = 0;
    enum dstatus st = tls_hello_parse(rec, QUIC_CRYPTO_HDR + n, NULL, 0, out, &eo);
    if (st == DS_NOT_MINE || st == DS_MALFORMED) {
        /* An authenticated Initial whose CRYPTO stream is not a ClientHello is broken QUIC. */
        *err_off = eo >= QUIC_CRYPTO_HDR ? eo - QUIC_CRYPTO_HDR : 0;
        return DS_MALFORMED;
    }
    if (st == DS_OK) {
        /* No record layer in QUIC: report stream bytes, not the synthetic record. */
        out->record_version = 0;
        out->records = 0;
        out->consumed = msg_len;
    }
    return st;
}

enum dstatus quic_crypto_hello(struct quic_crypto *c, struct tls_hello *out, size_t *err_off)
{
    return hello_in_place(c->data, c->contig, out, err_off);
}

enum dstatus quic_hello_parse(const uint8_t *hs, size_t len, uint8_t *scratch, size_t scratch_cap,
                              struct tls_hello *out, size_t *err_off)
{
    *err_off = 0;
    if (scratch_cap <= QUIC_CRYPTO_HDR)
        return DS_LIMIT;
    size_t n = len < scratch_cap - QUIC_CRYPTO_HDR ? len : scratch_cap - QUIC_CRYPTO_HDR;
    if (n > 0)
        memcpy(scratch + QUIC_CRYPTO_HDR, hs, n);
    enum dstatus st = hello_in_place(scratch, n, out, err_off);
    if (st == DS_NEED_MORE && n < len)
        return DS_LIMIT; /* the scratch, not the input, ran out */
    return st;
}

/* ---- sealing (server Initials for enforcement, client Initials for test captures) ---------- */

/* Appends v as a QUIC varint of exactly n bytes (1, 2 or 4); the caller checked it fits. */
static size_t put_varint(uint8_t *p, uint64_t v, size_t n)
{
    static const uint8_t prefix[5] = { 0, 0x00, 0x40, 0, 0x80 };
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    p[0] = (uint8_t)(p[0] | prefix[n]);
    return n;
}

static size_t varint_size(uint64_t v)
{
    return v < 64 ? 1 : v < 16384 ? 2 : v < ((uint64_t)1 << 30) ? 4 : 0;
}

size_t quic_initial_seal(struct quic_ctx *ctx, const struct quic_keys *k, const struct quic_seal *s,
                         uint8_t *out, size_t cap)
{
    const struct quic_version_info *v = version_find(k->version);
    if (v == NULL || s->pn_len < 1 || s->pn_len > 4 || s->dcid_len > QUIC_CID_MAX ||
        s->scid_len > QUIC_CID_MAX || s->token_len >= 16384 || s->frames_len > QUIC_PLAIN_MAX)
        return 0;
    size_t hdr = 1 + 4 + 1 + s->dcid_len + 1 + s->scid_len + varint_size(s->token_len) +
                 s->token_len + 2 + s->pn_len;
    /* Payload: the frames, then PADDING up to min_len, and at least 4 - pn_len bytes so the
     * header-protection sample (4 bytes past the packet number start, 16 long) exists. */
    size_t plain_len = s->frames_len;
    if (plain_len + s->pn_len < 4)
        plain_len = 4 - s->pn_len;
    if (s->min_len > hdr + plain_len + 16)
        plain_len = s->min_len - hdr - 16;
    size_t length = s->pn_len + plain_len + 16;
    if (length >= 16384 || hdr + plain_len + 16 > cap)
        return 0;
    size_t n = 0;
    out[n++] = (uint8_t)(0xc0 | v->initial_type << 4 | (s->pn_len - 1));
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(k->version >> (8 * i));
    out[n++] = (uint8_t)s->dcid_len;
    if (s->dcid_len > 0)
        memcpy(out + n, s->dcid, s->dcid_len);
    n += s->dcid_len;
    out[n++] = (uint8_t)s->scid_len;
    if (s->scid_len > 0)
        memcpy(out + n, s->scid, s->scid_len);
    n += s->scid_len;
    n += put_varint(out + n, s->token_len, varint_size(s->token_len));
    if (s->token_len > 0)
        memcpy(out + n, s->token, s->token_len);
    n += s->token_len;
    n += put_varint(out + n, length, 2);
    size_t pn_off = n;
    for (size_t i = 0; i < s->pn_len; i++)
        out[n++] = (uint8_t)(s->pn >> (8 * (s->pn_len - 1 - i)));
    /* Plaintext in place: frames then zero bytes (PADDING frames). */
    if (s->frames_len > 0)
        memmove(out + n, s->frames, s->frames_len);
    memset(out + n + s->frames_len, 0, plain_len - s->frames_len);
    uint8_t nonce[12];
    memcpy(nonce, k->iv, sizeof(nonce));
    for (size_t i = 0; i < 4; i++)
        nonce[11 - i] ^= (uint8_t)(s->pn >> (8 * i));
    gcm_aes128_set_key(&ctx->gcm, k->key);
    gcm_aes128_set_iv(&ctx->gcm, sizeof(nonce), nonce);
    gcm_aes128_update(&ctx->gcm, n, out);
    gcm_aes128_encrypt(&ctx->gcm, plain_len, out + n, out + n);
    gcm_aes128_digest(&ctx->gcm, GCM_DIGEST_SIZE, out + n + plain_len);
    n += plain_len + 16;
    uint8_t mask[AES_BLOCK_SIZE];
    aes128_set_encrypt_key(&ctx->hp, k->hp);
    aes128_encrypt(&ctx->hp, AES_BLOCK_SIZE, mask, out + pn_off + 4);
    out[0] = (uint8_t)(out[0] ^ (mask[0] & 0x0f));
    for (size_t i = 0; i < s->pn_len; i++)
        out[pn_off + i] = (uint8_t)(out[pn_off + i] ^ mask[1 + i]);
    return n;
}

size_t quic_close_initial(struct quic_ctx *ctx, uint32_t version, const uint8_t *odcid,
                          size_t odcid_len, const uint8_t *cscid, size_t cscid_len,
                          uint64_t error_code, uint8_t *out, size_t cap)
{
    static const char reason[] = "blocked";
    struct quic_keys k;
    static const uint8_t empty[1];
    if (odcid_len > QUIC_CID_MAX || cscid_len > QUIC_CID_MAX || varint_size(error_code) == 0)
        return 0;
    if (quic_keys_derive(ctx, version, odcid_len ? odcid : empty, odcid_len, true, &k) != 0)
        return 0;
    /* CONNECTION_CLOSE (transport, 0x1c): error code, frame type 0 (none), reason phrase. */
    uint8_t frames[32];
    size_t n = 0;
    frames[n++] = 0x1c;
    n += put_varint(frames + n, error_code, varint_size(error_code));
    frames[n++] = 0x00;
    frames[n++] = (uint8_t)(sizeof(reason) - 1);
    memcpy(frames + n, reason, sizeof(reason) - 1);
    n += sizeof(reason) - 1;
    /* The server's Source Connection ID is its choice: reuse the client's original DCID, which
     * is what a server that keeps the client's choice sends (any 8..20 bytes would do). */
    struct quic_seal s = {
        .dcid = cscid,
        .dcid_len = cscid_len,
        .scid = odcid,
        .scid_len = odcid_len,
        .pn = 0,
        .pn_len = 1,
        .frames = frames,
        .frames_len = n,
        .min_len = QUIC_MIN_DATAGRAM,
    };
    return quic_initial_seal(ctx, &k, &s, out, cap);
}
