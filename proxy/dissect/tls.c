/* tls.c - TLS ClientHello dissector.
 *
 * Record layer (RFC 8446 5.1), repeated until the handshake message is complete:
 *   +------+---------+---------+------------------------+
 *   | 0x16 | version | length  | fragment (<= 16384)    |   version 0x03xx (OpenSSL only checks
 *   | u8   | u16     | u16     | handshake bytes        |   the major byte on a first record)
 *   +------+---------+---------+------------------------+
 * Handshake message, possibly fragmented over those records:
 *   msg_type u8 = 1 (client_hello) | length u24 | ClientHello
 * ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2):
 *   legacy_version u16 | random[32] | session_id<0..32> | cipher_suites<2..2^16-2> (even)
 *   | compression_methods<1..2^8-1> | [ extensions<0..2^16-1> ]   (absent allowed before 1.3)
 * Extension: type u16 | length u16 | data. Read here:
 *   server_name (0)          ServerNameList<1..2^16-1>: exactly one { name_type u8 = 0,
 *                            HostName<1..2^16-1> }, as OpenSSL accepts it
 *   ALPN (16)                ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>
 *   supported_versions (43)  ProtocolVersion<2..254> (even)
 *   pre_shared_key (41)      must be the last extension
 *   encrypted_client_hello (0xfe0d), draft ESNI (0xffce): presence only
 * Error offsets are offsets in the caller's buf, also when the body was copied to scratch. */
#include "proxy/dissect/tls.h"

#include <endian.h>
#include <string.h>

#include "common/compiler.h"
#include "common/rd.h"

#define TLS_CT_HANDSHAKE      22
#define TLS_HS_CLIENT_HELLO   1
#define TLS_RECORD_HDR        5
#define TLS_HS_HDR            4
#define TLS_RECORD_MAX        16384 /* plaintext record limit; OpenSSL: record_overflow */
#define TLS_EMPTY_RECORDS_MAX 32    /* OpenSSL MAX_EMPTY_RECORDS */
#define TLS_SESSION_ID_MAX    32
#define TLS_HOST_NAME_MAX     255 /* OpenSSL TLSEXT_MAXLEN_host_name */

#define EXT_SERVER_NAME        0x0000
#define EXT_ALPN               0x0010
#define EXT_PSK                0x0029
#define EXT_SUPPORTED_VERSIONS 0x002b
#define EXT_ECH                0xfe0d
#define EXT_ESNI               0xffce

/* Extensions OpenSSL 3.0 implements (ssl/statem/extensions.c ext_defs[]): a second copy of any
 * of them aborts the handshake there, so it is MALFORMED here. Returns a bit index or -1. */
static int known_ext_bit(uint16_t type)
{
    /* The bit is the type's place in OpenSSL's ext_defs[] (0xff01 0 0x0000 1 0x0001 2 0x000c 3
     * 0x000b 4 0x000a 5 0x0023 6 0x0005 7 0x3374 8 0x0010 9 0x000e 10 0x0016 11 0x0012 12
     * 0x0017 13 0x0032 14 0x0031 15 0x000d 16 0x002b 17 0x002d 18 0x0033 19 0x002c 20 0xfde8 21
     * 0x002a 22 0x002f 23 0x0015 24 0x0029 25); types below 0x40 by one load, not a search */
    static const int8_t low[64] = {
        1,  2,  -1, -1, -1, 7,  -1, -1, -1, -1, 5,  4,  3,  16, 10, -1, 9,  -1, 12, -1, -1, 24,
        11, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 6,  -1, -1, -1, -1, -1, 25, 22, 17,
        20, 18, -1, 23, -1, 15, 14, 19, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    };
    if (type < 64)
        return low[type];
    switch (type) {
    case 0xff01: return 0;
    case 0x3374: return 8;
    case 0xfde8: return 21;
    default: return -1;
    }
}

static bool is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Maps an offset inside the handshake message to its offset in buf, by walking the records
 * that tls_hello_parse() already validated. */
static size_t hs_to_buf(const uint8_t *buf, size_t len, size_t h)
{
    size_t off = 0;
    while (len - off >= TLS_RECORD_HDR) {
        size_t rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
        if (h < rlen || len - off - TLS_RECORD_HDR <= rlen)
            return off + TLS_RECORD_HDR + h;
        h -= rlen;
        off += TLS_RECORD_HDR + rlen;
    }
    return off;
}

static enum dstatus parse_sni(struct rd *e, struct tls_hello *out, size_t *err)
{
    size_t list_at = e->off;
    size_t list_len = rd_be16(e);
    if (e->err || list_len != rd_left(e) || list_len == 0) {
        *err = list_at;
        return DS_MALFORMED;
    }
    size_t type_at = e->off;
    if (rd_u8(e) != 0) {
        *err = type_at; /* OpenSSL takes host_name (0) only */
        return DS_MALFORMED;
    }
    size_t name_at = e->off;
    size_t name_len = rd_be16(e);
    if (e->err || name_len != rd_left(e)) {
        *err = name_at; /* one name exactly filling the list */
        return DS_MALFORMED;
    }
    struct span name = rd_span(e, name_len);
    if (name_len > TLS_HOST_NAME_MAX || memchr(name.p, 0, name_len) != NULL) {
        *err = name_at;
        return DS_MALFORMED;
    }
    out->has_sni = true;
    out->sni = name;
    return DS_OK;
}

static enum dstatus parse_alpn(struct rd *e, struct tls_hello *out, size_t *err)
{
    size_t list_at = e->off;
    size_t list_len = rd_be16(e);
    if (e->err || list_len != rd_left(e) || list_len < 2) {
        *err = list_at;
        return DS_MALFORMED;
    }
    bool first = true;
    while (rd_left(e) > 0) {
        size_t at = e->off;
        size_t n = rd_u8(e);
        struct span proto = rd_span(e, n);
        if (e->err || n == 0) {
            *err = at;
            return DS_MALFORMED;
        }
        if (first)
            out->alpn = proto;
        first = false;
    }
    return DS_OK;
}

static enum dstatus parse_versions(struct rd *e, struct tls_hello *out, size_t *err)
{
    size_t at = e->off;
    size_t n = rd_u8(e);
    if (e->err || n != rd_left(e) || n < 2 || n % 2 != 0) {
        *err = at;
        return DS_MALFORMED;
    }
    while (rd_left(e) > 0) {
        uint16_t v = rd_be16(e);
        if (!is_grease(v) && v > out->max_version)
            out->max_version = v;
    }
    return DS_OK;
}

/* Parses the handshake message at (p, have): the first `have` bytes of a message of `total`
 * bytes (total = 4 + body length). When have < total, a read that runs past `have` means the
 * bytes have not arrived (or did not fit the scratch): DS_NEED_MORE, with whatever the complete
 * extensions before that point told already in *out. Offsets in *err are offsets in the
 * message. */
static enum dstatus parse_hello(const uint8_t *p, size_t have, size_t total, struct tls_hello *out,
                                size_t *err)
{
    struct rd r;
    bool cut = have < total;
    rd_init(&r, p, have);
    rd_skip(&r, TLS_HS_HDR);
    out->legacy_version = rd_be16(&r);
    rd_skip(&r, 32);
    size_t at = r.off;
    size_t sid_len = rd_u8(&r);
    rd_skip(&r, sid_len);
    if (sid_len > TLS_SESSION_ID_MAX) {
        *err = at;
        return DS_MALFORMED;
    }
    if (r.err) {
        *err = at;
        return cut ? DS_NEED_MORE : DS_MALFORMED;
    }
    at = r.off;
    size_t cs_len = rd_be16(&r);
    rd_skip(&r, cs_len);
    if (r.err || cs_len == 0 || cs_len % 2 != 0) {
        *err = at;
        return r.err && cut ? DS_NEED_MORE : DS_MALFORMED;
    }
    at = r.off;
    size_t comp_len = rd_u8(&r);
    rd_skip(&r, comp_len);
    if (r.err || comp_len == 0) {
        *err = at;
        return r.err && cut ? DS_NEED_MORE : DS_MALFORMED;
    }
    if (r.off == total)
        return DS_OK; /* no extensions: legal before TLS 1.3 */
    at = r.off;
    size_t ext_len = rd_be16(&r);
    if (r.err) {
        *err = at;
        return cut ? DS_NEED_MORE : DS_MALFORMED;
    }
    if (ext_len != total - r.off) {
        *err = at; /* OpenSSL: length mismatch, nothing may follow the extensions */
        return DS_MALFORMED;
    }
    /* The extension walk reads its headers in place: each is bounds-checked once against the
     * bytes here (have <= total; a length past them is then judged against the message), no
     * cursor per field. Only the extensions read here are looked at further: their bits. */
    const uint32_t parsed = UINT32_C(1) << 1 | UINT32_C(1) << 9 | UINT32_C(1) << 17 |
                            UINT32_C(1) << 25; /* server_name, ALPN, supported_versions, PSK */
    uint32_t seen = 0;
    size_t off = r.off;
    while (off < total) {
        size_t ext_at = off;
        if (unlikely(have - off < 4)) {
            *err = ext_at; /* a stray byte or three after the last extension */
            return cut ? DS_NEED_MORE : DS_MALFORMED;
        }
        uint32_t hd;
        memcpy(&hd, p + off, 4);
        hd = be32toh(hd);
        uint16_t type = (uint16_t)(hd >> 16);
        size_t len = hd & 0xffff;
        off += 4;
        if (unlikely(len > have - off)) {
            if (len > total - off) {
                *err = ext_at + 2;
                return DS_MALFORMED;
            }
            return DS_NEED_MORE; /* this extension has not arrived in full */
        }
        off += len;
        int bit = known_ext_bit(type);
        if (bit < 0) {
            if (type == EXT_ECH)
                out->has_ech = true;
            else if (type == EXT_ESNI)
                out->has_esni = true;
            continue;
        }
        uint32_t b = UINT32_C(1) << bit;
        if (seen & b) {
            *err = ext_at; /* duplicate extension */
            return DS_MALFORMED;
        }
        seen |= b;
        if (likely(!(b & parsed)))
            continue;
        enum dstatus st = DS_OK;
        size_t sub_err = 0;
        struct rd e;
        rd_init(&e, p + ext_at + 4, len);
        switch (type) {
        case EXT_SERVER_NAME: st = parse_sni(&e, out, &sub_err); break;
        case EXT_ALPN: st = parse_alpn(&e, out, &sub_err); break;
        case EXT_SUPPORTED_VERSIONS: st = parse_versions(&e, out, &sub_err); break;
        case EXT_PSK:
            if (off != total) {
                *err = ext_at; /* RFC 8446 4.2.11: pre_shared_key comes last */
                return DS_MALFORMED;
            }
            break;
        default: break;
        }
        if (st != DS_OK) {
            *err = ext_at + 4 + sub_err;
            return st;
        }
    }
    return DS_OK;
}

static enum dstatus hello_parse(const uint8_t *buf, size_t len, uint8_t *scratch,
                                size_t scratch_cap, bool early, struct tls_hello *out,
                                size_t *err_off)
{
    memset(out, 0, sizeof(*out));
    *err_off = 0;
    if (len == 0)
        return DS_NEED_MORE;
    if (buf[0] != TLS_CT_HANDSHAKE || (len >= 2 && buf[1] != 3))
        return DS_NOT_MINE;
    if (len < TLS_RECORD_HDR)
        return DS_NEED_MORE;
    out->record_version = (uint16_t)(buf[1] << 8 | buf[2]);

    /* Walk the records: collect the 4 handshake header bytes, then count the body bytes that
     * are here, until the message is complete or the bytes end. Nothing is copied yet. */
    uint8_t hdr[TLS_HS_HDR];
    size_t got = 0, total = 0, off = 0, end = 0;
    unsigned records = 0, empty = 0;
    for (;;) {
        size_t left = len - off;
        if (left < TLS_RECORD_HDR) {
            /* A partial header of a continuation record: judge what is there. */
            if (left >= 1 && buf[off] != TLS_CT_HANDSHAKE) {
                *err_off = off;
                return DS_MALFORMED;
            }
            if (left >= 2 && buf[off + 1] != 3) {
                *err_off = off + 1;
                return DS_MALFORMED;
            }
            break;
        }
        if (records > 0 && buf[off] != TLS_CT_HANDSHAKE) {
            *err_off = off; /* RFC 8446 5.1: no interleaving until the message ends */
            return DS_MALFORMED;
        }
        if (records > 0 && buf[off + 1] != 3) {
            *err_off = off + 1;
            return DS_MALFORMED;
        }
        size_t rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
        if (rlen > TLS_RECORD_MAX) {
            *err_off = off + 3;
            return DS_MALFORMED;
        }
        if (rlen == 0 && ++empty > TLS_EMPTY_RECORDS_MAX) {
            *err_off = off;
            return DS_MALFORMED;
        }
        records++;
        size_t avail = left - TLS_RECORD_HDR;
        if (avail > rlen)
            avail = rlen;
        const uint8_t *frag = buf + off + TLS_RECORD_HDR;
        size_t k = 0;
        while (got < TLS_HS_HDR && k < avail)
            hdr[got++] = frag[k++];
        if (got == TLS_HS_HDR && total == 0) {
            if (hdr[0] != TLS_HS_CLIENT_HELLO) {
                *err_off = hs_to_buf(buf, len, 0);
                return DS_MALFORMED;
            }
            total = TLS_HS_HDR + ((size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3]);
            if (total > TLS_HELLO_MAX)
                return DS_LIMIT; /* OpenSSL: excessive message size */
            if (!early && (records > 1 || rlen < total) && total > scratch_cap)
                return DS_LIMIT; /* the whole hello is wanted and will not fit */
        }
        size_t take = avail - k;
        if (total != 0 && take > total - got)
            take = total - got;
        got += take;
        if (total != 0 && got == total) {
            end = off + TLS_RECORD_HDR + k + take;
            break;
        }
        if (avail < rlen)
            break;
        off += TLS_RECORD_HDR + rlen;
    }
    if (total == 0)
        return DS_NEED_MORE;

    /* The message's first `got` bytes are here. Over several records they are copied into
     * scratch, as many as fit: the name is found as long as its extension fits. */
    const uint8_t *msg = buf + TLS_RECORD_HDR;
    size_t have = got;
    if (records > 1) {
        if (have > scratch_cap)
            have = scratch_cap;
        size_t o = 0, at = 0;
        while (at < have) {
            size_t rlen = (size_t)buf[o + 3] << 8 | buf[o + 4];
            size_t take = have - at < rlen ? have - at : rlen;
            memcpy(scratch + at, buf + o + TLS_RECORD_HDR, take);
            at += take;
            o += TLS_RECORD_HDR + rlen;
        }
        msg = scratch;
    }
    out->hello_len = total;
    out->consumed = end;
    out->records = records;
    size_t err = 0;
    enum dstatus st = parse_hello(msg, have, total, out, &err);
    if (st == DS_MALFORMED) {
        *err_off = hs_to_buf(buf, len, err);
        return st;
    }
    if (out->max_version == 0)
        out->max_version = out->legacy_version;
    if (st == DS_NEED_MORE) {
        if (early && out->has_sni) {
            out->partial = true; /* the name is complete; the hello goes on */
            out->consumed = 0;
            return DS_OK;
        }
        return have < got ? DS_LIMIT : DS_NEED_MORE;
    }
    return st;
}

enum dstatus tls_hello_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                             struct tls_hello *out, size_t *err_off)
{
    return hello_parse(buf, len, scratch, scratch_cap, false, out, err_off);
}

enum dstatus tls_hello_parse_early(const uint8_t *buf, size_t len, uint8_t *scratch,
                                   size_t scratch_cap, struct tls_hello *out, size_t *err_off)
{
    return hello_parse(buf, len, scratch, scratch_cap, true, out, err_off);
}

/* Takes every host_name entry of a ServerNameList body (p, n) into names[*k..cap). */
static void scan_sni_list(struct rd *e, struct span *names, size_t cap, size_t *k)
{
    (void)rd_be16(e); /* the list length: trusted only as far as the extension goes */
    while (rd_left(e) >= 3 && *k < cap) {
        uint8_t type = rd_u8(e);
        size_t n = rd_be16(e);
        if (n > rd_left(e))
            break; /* an entry cut short is not a name */
        struct span s = rd_span(e, n);
        if (type == 0 && n > 0 && n <= TLS_HOST_NAME_MAX && memchr(s.p, 0, n) == NULL)
            names[(*k)++] = s;
    }
}

size_t tls_hello_scan_names(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                            struct span *names, size_t cap)
{
    /* The handshake bytes of the leading handshake records, copied to scratch when there are
     * several records, as far as they go. */
    if (len < TLS_RECORD_HDR + TLS_HS_HDR || buf[0] != TLS_CT_HANDSHAKE || cap == 0)
        return 0;
    const uint8_t *msg = buf + TLS_RECORD_HDR;
    size_t rlen = (size_t)buf[3] << 8 | buf[4];
    size_t have = len - TLS_RECORD_HDR < rlen ? len - TLS_RECORD_HDR : rlen;
    if (have < len - TLS_RECORD_HDR && scratch_cap > 0) {
        size_t off = 0, at = 0;
        while (off < len && len - off >= TLS_RECORD_HDR && buf[off] == TLS_CT_HANDSHAKE &&
               at < scratch_cap) {
            size_t l = (size_t)buf[off + 3] << 8 | buf[off + 4];
            size_t take = len - off - TLS_RECORD_HDR < l ? len - off - TLS_RECORD_HDR : l;
            if (take > scratch_cap - at)
                take = scratch_cap - at;
            memcpy(scratch + at, buf + off + TLS_RECORD_HDR, take);
            at += take;
            off += TLS_RECORD_HDR + l;
        }
        msg = scratch;
        have = at;
    }
    if (have < TLS_HS_HDR || msg[0] != TLS_HS_CLIENT_HELLO)
        return 0;
    size_t total = TLS_HS_HDR + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]);
    struct rd r;
    rd_init(&r, msg, have < total ? have : total);
    rd_skip(&r, TLS_HS_HDR + 2 + 32);
    rd_skip(&r, rd_u8(&r));   /* session_id */
    rd_skip(&r, rd_be16(&r)); /* cipher_suites */
    rd_skip(&r, rd_u8(&r));   /* compression_methods */
    (void)rd_be16(&r);        /* extensions length: the extensions' own lengths decide */
    size_t k = 0;
    while (rd_left(&r) >= 4 && k < cap) {
        uint16_t type = rd_be16(&r);
        size_t n = rd_be16(&r);
        if (n > rd_left(&r))
            n = rd_left(&r);
        struct rd e = rd_sub(&r, n);
        if (type == EXT_SERVER_NAME)
            scan_sni_list(&e, names, cap, &k);
    }
    return k;
}
