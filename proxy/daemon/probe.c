/* probe.c - verification probes: the request, ClientHello and QUIC Initial builders and the
 * classifier of answers (see probe.h, docs/verify.md).
 *
 * ClientHello layout (RFC 8446 4.1.2), as written here:
 *   record 16 03 01 len | 01 len24 | 03 03 | random 32 | sid (32 or 0) | suites | 01 00 |
 *   extensions: server_name, [ec_point_formats, extended_master_secret, renegotiation_info],
 *   supported_groups {11ec, 001d, 0017}, ALPN, signature_algorithms, supported_versions,
 *   psk_key_exchange_modes, key_share {11ec: 1216, 001d: 32}, [quic_transport_parameters]
 *   [status_request, signed_certificate_timestamp, session_ticket, compress_certificate,
 *   padding to PROBE_TLS_HELLO_SIZE]
 * The bracketed ones are for TCP or QUIC only. */
#include "proxy/daemon/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/compiler.h"

/* ---- HTTP -------------------------------------------------------------------------------- */

static bool request_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

size_t probe_http_request(const char *host, const char *path, char *out, size_t cap)
{
    if (!host[0] || path[0] != '/' || !request_safe(host) || !request_safe(path))
        return 0;
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: qorgau-verify/1\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     path, v6 ? "[" : "", host, v6 ? "]" : "");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* ---- ClientHello ------------------------------------------------------------------------- */

struct wr {
    uint8_t *p;
    size_t n, cap;
    bool err;
};

static void w_bytes(struct wr *w, const void *d, size_t n)
{
    if (w->err || n > w->cap - w->n) {
        w->err = true;
        return;
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void w_u8(struct wr *w, unsigned v)
{
    uint8_t b = (uint8_t)v;
    w_bytes(w, &b, 1);
}

static void w_u16(struct wr *w, unsigned v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    w_bytes(w, b, 2);
}

/* Starts a length field of `bytes` (1..3) bytes; w_end() fills it. */
static size_t w_begin(struct wr *w, size_t bytes)
{
    size_t at = w->n;
    for (size_t i = 0; i < bytes; i++)
        w_u8(w, 0);
    return at;
}

static void w_end(struct wr *w, size_t at, size_t bytes)
{
    if (w->err)
        return;
    size_t len = w->n - at - bytes;
    if (len >> (8 * bytes)) {
        w->err = true;
        return;
    }
    for (size_t i = 0; i < bytes; i++)
        w->p[at + i] = (uint8_t)(len >> (8 * (bytes - 1 - i)));
}

/* The X25519MLKEM768 share: ML-KEM-768 ek (3 x 384 bytes of packed 12-bit coefficients reduced
 * mod q = 3329, then the 32-byte seed rho; FIPS 203 7.2 checks the coefficients) and X25519. */
static void w_mlkem_share(struct wr *w, const uint8_t rnd[PROBE_MLKEM_SHARE])
{
    uint8_t share[PROBE_MLKEM_SHARE];
    for (size_t i = 0; i < 1152; i += 3) {
        unsigned a = ((unsigned)rnd[i] | ((unsigned)rnd[i + 1] & 0x0f) << 8) % 3329;
        unsigned b = ((unsigned)rnd[i + 1] >> 4 | (unsigned)rnd[i + 2] << 4) % 3329;
        share[i] = (uint8_t)a;
        share[i + 1] = (uint8_t)(a >> 8 | (b & 0x0f) << 4);
        share[i + 2] = (uint8_t)(b >> 4);
    }
    memcpy(share + 1152, rnd + 1152, PROBE_MLKEM_SHARE - 1152);
    w_bytes(w, share, sizeof(share));
}

static void w_ext_begin(struct wr *w, unsigned type, size_t *at)
{
    w_u16(w, type);
    *at = w_begin(w, 2);
}

static void w_quic_tp(struct wr *w, unsigned id, uint32_t v)
{
    /* varint id (< 64), length, 4-byte varint value */
    w_u8(w, id);
    w_u8(w, 4);
    uint8_t b[4] = { (uint8_t)(0x80 | v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    w_bytes(w, b, 4);
}

/* Writes the handshake message (type, length, body) at w. */
static void w_hello(struct wr *w, const char *sni, const struct probe_rand *r, bool quic)
{
    static const uint8_t suites_tcp[] = { 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b,
                                          0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9,
                                          0xcc, 0xa8, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f };
    static const uint8_t suites_quic[] = { 0x13, 0x01, 0x13, 0x02, 0x13, 0x03 };
    static const uint8_t sigalgs[] = { 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03,
                                       0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01 };
    size_t e, e2, e3;
    w_u8(w, 0x01);
    size_t msg = w_begin(w, 3);
    w_u16(w, 0x0303);
    w_bytes(w, r->random, sizeof(r->random));
    if (quic) {
        w_u8(w, 0);
    } else {
        w_u8(w, sizeof(r->session_id));
        w_bytes(w, r->session_id, sizeof(r->session_id));
    }
    w_u16(w, quic ? sizeof(suites_quic) : sizeof(suites_tcp));
    w_bytes(w, quic ? suites_quic : suites_tcp, quic ? sizeof(suites_quic) : sizeof(suites_tcp));
    w_u8(w, 1);
    w_u8(w, 0);
    size_t exts = w_begin(w, 2);
    if (sni && sni[0]) {
        size_t len = strlen(sni);
        w_ext_begin(w, 0x0000, &e);
        e2 = w_begin(w, 2);
        w_u8(w, 0); /* host_name */
        w_u16(w, (unsigned)len);
        w_bytes(w, sni, len);
        w_end(w, e2, 2);
        w_end(w, e, 2);
    }
    if (!quic) {
        w_ext_begin(w, 0x000b, &e); /* ec_point_formats: uncompressed */
        w_u8(w, 1);
        w_u8(w, 0);
        w_end(w, e, 2);
        w_ext_begin(w, 0x0017, &e); /* extended_master_secret */
        w_end(w, e, 2);
        w_ext_begin(w, 0xff01, &e); /* renegotiation_info, empty */
        w_u8(w, 0);
        w_end(w, e, 2);
        w_ext_begin(w, 0x0005, &e); /* status_request: OCSP, no responder ids or extensions */
        w_u8(w, 1);
        w_u16(w, 0);
        w_u16(w, 0);
        w_end(w, e, 2);
        w_ext_begin(w, 0x0012, &e); /* signed_certificate_timestamp */
        w_end(w, e, 2);
        w_ext_begin(w, 0x0023, &e); /* session_ticket, empty */
        w_end(w, e, 2);
        w_ext_begin(w, 0x001b, &e); /* compress_certificate: brotli */
        w_u8(w, 2);
        w_u16(w, 2);
        w_end(w, e, 2);
    }
    w_ext_begin(w, 0x000a, &e); /* supported_groups */
    e2 = w_begin(w, 2);
    w_u16(w, PROBE_GROUP_X25519MLKEM768);
    w_u16(w, 0x001d);
    w_u16(w, 0x0017);
    w_end(w, e2, 2);
    w_end(w, e, 2);
    w_ext_begin(w, 0x0010, &e); /* ALPN */
    e2 = w_begin(w, 2);
    if (quic) {
        w_u8(w, 2);
        w_bytes(w, "h3", 2);
    } else {
        w_u8(w, 8);
        w_bytes(w, "http/1.1", 8);
    }
    w_end(w, e2, 2);
    w_end(w, e, 2);
    w_ext_begin(w, 0x000d, &e); /* signature_algorithms */
    w_u16(w, sizeof(sigalgs));
    w_bytes(w, sigalgs, sizeof(sigalgs));
    w_end(w, e, 2);
    w_ext_begin(w, 0x002b, &e); /* supported_versions */
    e2 = w_begin(w, 1);
    w_u16(w, 0x0304);
    if (!quic)
        w_u16(w, 0x0303);
    w_end(w, e2, 1);
    w_end(w, e, 2);
    w_ext_begin(w, 0x002d, &e); /* psk_key_exchange_modes: psk_dhe_ke */
    w_u8(w, 1);
    w_u8(w, 1);
    w_end(w, e, 2);
    w_ext_begin(w, 0x0033, &e); /* key_share */
    e2 = w_begin(w, 2);
    w_u16(w, PROBE_GROUP_X25519MLKEM768);
    e3 = w_begin(w, 2);
    w_mlkem_share(w, r->mlkem);
    w_end(w, e3, 2);
    w_u16(w, 0x001d);
    e3 = w_begin(w, 2);
    w_bytes(w, r->x25519, sizeof(r->x25519));
    w_end(w, e3, 2);
    w_end(w, e2, 2);
    w_end(w, e, 2);
    if (quic) {
        w_ext_begin(w, 0x0039, &e); /* quic_transport_parameters (RFC 9000 18.2) */
        w_quic_tp(w, 0x01, 30000);  /* max_idle_timeout, ms */
        w_quic_tp(w, 0x03, 1472);   /* max_udp_payload_size */
        w_quic_tp(w, 0x04, 1u << 20);
        w_quic_tp(w, 0x05, 1u << 18);
        w_quic_tp(w, 0x06, 1u << 18);
        w_quic_tp(w, 0x07, 1u << 18);
        w_quic_tp(w, 0x08, 100);
        w_quic_tp(w, 0x09, 100);
        w_u8(w, 0x0f); /* initial_source_connection_id */
        w_u8(w, sizeof(r->scid));
        w_bytes(w, r->scid, sizeof(r->scid));
        w_end(w, e, 2);
    }
    if (!quic) {
        /* padding (RFC 7685) to the size of a browser's post-quantum hello */
        size_t body = w->n - msg - 3;
        size_t pad = body + 4 < PROBE_TLS_HELLO_SIZE - 4 ? PROBE_TLS_HELLO_SIZE - 4 - body - 4 : 0;
        w_ext_begin(w, 0x0015, &e);
        for (size_t i = 0; i < pad; i++)
            w_u8(w, 0);
        w_end(w, e, 2);
    }
    w_end(w, exts, 2);
    w_end(w, msg, 3);
}

size_t probe_tls_hello(const char *sni, const struct probe_rand *r, uint8_t *out, size_t cap)
{
    if (sni && strlen(sni) > 253)
        return 0;
    struct wr w = { out, 0, cap, false };
    w_u8(&w, 0x16);
    w_u16(&w, 0x0301);
    size_t rec = w_begin(&w, 2);
    w_hello(&w, sni, r, false);
    w_end(&w, rec, 2);
    return w.err ? 0 : w.n;
}

size_t probe_quic_hello(const char *sni, const struct probe_rand *r, uint8_t *out, size_t cap)
{
    if (sni && strlen(sni) > 253)
        return 0;
    struct wr w = { out, 0, cap, false };
    w_hello(&w, sni, r, true);
    return w.err ? 0 : w.n;
}

/* ---- QUIC Initials ----------------------------------------------------------------------- */

/* A CRYPTO frame header: type, offset (2-byte varint), length (2-byte varint). */
#define CRYPTO_HDR 5

static size_t crypto_frame(uint8_t *f, size_t off, const uint8_t *d, size_t n)
{
    f[0] = 0x06;
    f[1] = (uint8_t)(0x40 | off >> 8);
    f[2] = (uint8_t)off;
    f[3] = (uint8_t)(0x40 | n >> 8);
    f[4] = (uint8_t)n;
    memcpy(f + CRYPTO_HDR, d, n);
    return CRYPTO_HDR + n;
}

int probe_quic_initials(struct quic_ctx *ctx, const char *sni, const struct probe_rand *r,
                        struct probe_quic *q)
{
    uint8_t hello[PROBE_HELLO_MAX];
    memset(q, 0, sizeof(*q));
    size_t hl = probe_quic_hello(sni, r, hello, sizeof(hello));
    /* header: 1 + 4 + 1 + dcid + 1 + scid + token length 1 + Length 2 + packet number 1 */
    const size_t hdr = 1 + 4 + 1 + PROBE_CID_LEN + 1 + PROBE_CID_LEN + 1 + 2 + 1;
    const size_t room = PROBE_QUIC_DATAGRAM - hdr - 16 - CRYPTO_HDR;
    if (hl == 0 || hl > 2 * room)
        return -EINVAL;
    struct quic_keys k;
    if (quic_keys_derive(ctx, QUIC_V1, r->dcid, sizeof(r->dcid), false, &k) != 0)
        return -EIO;
    /* the first packet carries as much as fits; the second the rest (Chrome splits so too) */
    size_t first = hl < room ? hl : room;
    uint8_t frames[PROBE_QUIC_DATAGRAM];
    for (size_t i = 0; i < 2; i++) {
        size_t off = i == 0 ? 0 : first;
        size_t n = i == 0 ? first : hl - first;
        size_t fl = 0;
        if (n > 0)
            fl = crypto_frame(frames, off, hello + off, n);
        else
            frames[fl++] = 0x01; /* PING: the hello fit the first packet */
        struct quic_seal s = {
            .dcid = r->dcid,
            .dcid_len = sizeof(r->dcid),
            .scid = r->scid,
            .scid_len = sizeof(r->scid),
            .pn = (uint32_t)i,
            .pn_len = 1,
            .frames = frames,
            .frames_len = fl,
            .min_len = PROBE_QUIC_DATAGRAM,
        };
        q->len[i] = quic_initial_seal(ctx, &k, &s, q->dgram[i], sizeof(q->dgram[i]));
        if (q->len[i] == 0)
            return -EIO;
    }
    q->hello_len = hl;
    return 0;
}

/* ---- the answer ---------------------------------------------------------------------------- */

static const uint8_t *find_crlf2(const uint8_t *b, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
            return b + i;
    return NULL;
}

#define HTTP_HEAD_MAX 16384

bool probe_answer_complete(enum probe_wire wire, const uint8_t *buf, size_t len)
{
    switch (wire) {
    case PROBE_WIRE_HTTP: return len >= HTTP_HEAD_MAX || find_crlf2(buf, len) != NULL;
    case PROBE_WIRE_TLS: return len >= 7 || (len >= 6 && buf[0] != 0x15);
    case PROBE_WIRE_QUIC: return len > 0;
    }
    return false;
}

void probe_verdict_set(struct probe_verdict *v, enum probe_outcome o, enum probe_how how,
                       const char *fmt, ...)
{
    v->outcome = o;
    v->how = how;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
}

/* Copies a header value (up to the end of its line) into out, printable ASCII only. */
static void copy_value(const uint8_t *p, const uint8_t *end, char *out, size_t cap)
{
    size_t n = 0;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    for (; p < end && *p != '\r' && *p != '\n' && n + 1 < cap; p++)
        out[n++] = (*p >= 0x20 && *p < 0x7f) ? (char)*p : '?';
    out[n] = '\0';
}

/* Is loc the notice page? Its configured URL as a prefix, or, without one, a redirect carrying
 * the requested address as the notice page's url= parameter (what proxy/enforce/notice.c
 * writes). */
static bool is_notice(const char *loc, const struct probe_expect *x)
{
    if (x->notice_url && x->notice_url[0])
        return strncasecmp(loc, x->notice_url, strlen(x->notice_url)) == 0;
    const char *q = strstr(loc, "url=http");
    if (!q || !x->host)
        return false;
    q += 4;
    static const char *const pre[] = { "http%3A%2F%2F",  "http%3a%2f%2f", "https%3A%2F%2F",
                                       "https%3a%2f%2f", "http://",       "https://" };
    for (size_t i = 0; i < ARRAY_LEN(pre); i++) {
        size_t pl = strlen(pre[i]);
        if (strncmp(q, pre[i], pl) == 0 && strncasecmp(q + pl, x->host, strlen(x->host)) == 0)
            return true;
    }
    return false;
}

/* HTTP: returns true when the bytes decided. */
static bool http_answer(const uint8_t *buf, size_t len, const struct probe_expect *x,
                        struct probe_verdict *v)
{
    if (len == 0)
        return false;
    const uint8_t *eol = memchr(buf, '\n', len);
    if (!eol)
        return false;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' ||
        buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9') {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "answer is not HTTP/1.x (%zu bytes)",
                          len);
        return true;
    }
    int code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (code == 451) {
        probe_verdict_set(v, PROBE_BLOCKED, PROBE_HOW_REDIRECT,
                          "HTTP 451 (the notice page in place)");
        return true;
    }
    if (code < 300 || code > 399) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "HTTP %d", code);
        return true;
    }
    /* a redirect: where to? */
    const uint8_t *end = buf + len;
    const uint8_t *head_end = find_crlf2(buf, len);
    const uint8_t *p = eol + 1;
    while (p < end) {
        const uint8_t *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            break; /* the line is cut: wait for more (or decide without it) */
        if ((size_t)(le - p) >= 9 && strncasecmp((const char *)p, "location:", 9) == 0) {
            char loc[128];
            copy_value(p + 9, le, loc, sizeof(loc));
            if (is_notice(loc, x))
                probe_verdict_set(v, PROBE_BLOCKED, PROBE_HOW_REDIRECT,
                                  "HTTP %d to the notice page %s", code, loc);
            else
                probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "HTTP %d to %s", code, loc);
            return true;
        }
        if (le - p <= 1)
            break; /* the empty line: end of the header block */
        p = le + 1;
    }
    if (!head_end)
        return false;
    probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "HTTP %d without Location", code);
    return true;
}

static const char *alert_name(unsigned d)
{
    switch (d) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 40: return "handshake_failure";
    case 47: return "illegal_parameter";
    case 50: return "decode_error";
    case 70: return "protocol_version";
    case 80: return "internal_error";
    case 112: return "unrecognized_name";
    case 120: return "no_application_protocol";
    default: return "other";
    }
}

static bool tls_answer(const uint8_t *buf, size_t len, struct probe_verdict *v)
{
    if (len == 0)
        return false;
    if (buf[0] == 0x15) {
        if (len < 7)
            return false;
        probe_verdict_set(v, PROBE_BLOCKED, PROBE_HOW_ALERT, "TLS alert %u (%s), level %u", buf[6],
                          alert_name(buf[6]), buf[5]);
        return true;
    }
    if (len < 6)
        return false;
    if (buf[0] == 0x16 && buf[1] == 0x03) {
        if (buf[5] == 0x02)
            probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "ServerHello");
        else
            probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "TLS handshake message %u",
                              buf[5]);
        return true;
    }
    probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "answer is not TLS (first byte 0x%02x)",
                      buf[0]);
    return true;
}

static bool quic_answer(const uint8_t *buf, size_t len, const struct probe_expect *x,
                        struct probe_verdict *v)
{
    if (len == 0)
        return false;
    if (!(buf[0] & 0x80)) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "QUIC short-header packet (%zu bytes)",
                          len);
        return true;
    }
    if (len < 5) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "datagram of %zu bytes", len);
        return true;
    }
    uint32_t version =
        (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    if (version == 0) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "QUIC Version Negotiation");
        return true;
    }
    if (version != QUIC_V1) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "QUIC version 0x%08x", version);
        return true;
    }
    unsigned type = (buf[0] >> 4) & 3;
    if (type == 3) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "QUIC Retry");
        return true;
    }
    struct quic_keys k;
    struct quic_initial in;
    size_t eo = 0;
    /* the reassembler and the plaintext: about 20 KiB, once per probe */
    struct {
        struct quic_crypto c;
        uint8_t plain[QUIC_PLAIN_MAX];
    } *w = malloc(sizeof(*w));
    if (!w) {
        probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR, "out of memory");
        return true;
    }
    struct quic_crypto *c = &w->c;
    if (type != 0 || !x->ctx || !x->dcid ||
        quic_keys_derive(x->ctx, QUIC_V1, x->dcid, x->dcid_len, true, &k) != 0 ||
        quic_initial_parse(x->ctx, buf, len, &k, w->plain, sizeof(w->plain), &in, &eo) != DS_OK) {
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "QUIC packet not opened (type %u)",
                          type);
        free(w);
        return true;
    }
    quic_crypto_init(c);
    enum dstatus st = quic_crypto_add_frames(c, in.frames.p, in.frames.len, &eo);
    if (c->closed)
        probe_verdict_set(v, PROBE_BLOCKED, PROBE_HOW_RESET,
                          "QUIC CONNECTION_CLOSE in the server Initial");
    else if (st == DS_OK && c->crypto_frames > 0)
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED,
                          "QUIC server Initial (%zu CRYPTO bytes)", c->contig);
    else
        probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED, "QUIC server Initial (%s)",
                          dstatus_name(st));
    free(w);
    return true;
}

void probe_classify(enum probe_wire wire, const uint8_t *buf, size_t len, enum probe_event ev,
                    const struct probe_expect *x, struct probe_verdict *v)
{
    bool done = false;
    switch (wire) {
    case PROBE_WIRE_HTTP: done = http_answer(buf, len, x, v); break;
    case PROBE_WIRE_TLS: done = tls_answer(buf, len, v); break;
    case PROBE_WIRE_QUIC: done = quic_answer(buf, len, x, v); break;
    }
    if (done)
        return;
    bool quic = wire == PROBE_WIRE_QUIC;
    switch (ev) {
    case PROBE_EV_RESET:
        probe_verdict_set(v, PROBE_BLOCKED, PROBE_HOW_RESET,
                          "connection reset after %zu answer bytes", len);
        break;
    case PROBE_EV_REFUSED:
        /* Qorgau judges payload, never a SYN: a refusal is the host's (nothing listens) */
        if (!quic)
            probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_REFUSED,
                              "connection refused (RST to the SYN): nothing listens there");
        else if (x->quic_dropped)
            probe_verdict_set(v, PROBE_OPEN, PROBE_HOW_ANSWERED,
                              "ICMP port unreachable: the datagram was not dropped on the way");
        else
            probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_REFUSED,
                              "ICMP port unreachable: no QUIC service there");
        break;
    case PROBE_EV_TIMEOUT:
        if (quic && x->quic_dropped)
            probe_verdict_set(v, PROBE_BLOCKED, PROBE_HOW_TIMEOUT,
                              "no answer; the filter drops QUIC (inline.quic)");
        else
            probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_TIMEOUT,
                              "no answer (%zu bytes) in time", len);
        break;
    case PROBE_EV_EOF:
        probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR,
                          "connection closed after %zu answer bytes, no full answer", len);
        break;
    case PROBE_EV_DATA:
        probe_verdict_set(v, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR, "no decision in %zu answer bytes",
                          len);
        break;
    }
}

const char *probe_how_name(enum probe_how how)
{
    static const char *const names[] = { "reset", "timeout",  "redirect", "refused",
                                         "alert", "answered", "error" };
    return (size_t)how < ARRAY_LEN(names) ? names[how] : "error";
}
