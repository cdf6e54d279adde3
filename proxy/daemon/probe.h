/* probe.h - the pure half of `qorgau verify` (docs/verify.md): what a subscriber's client sends
 * (an HTTP/1.1 request, a post-quantum-size TLS ClientHello, two QUIC v1 Initials carrying one)
 * and the reading of what came back (blocked by the filter, answered by the server, or
 * inconclusive). No socket here: proxy/daemon/verify.c sends, waits and hands the bytes and the
 * way the exchange ended to probe_classify().
 *
 * Randomness comes from the caller (struct probe_rand), so every builder is a function of its
 * inputs and the unit tests can pin the bytes. */
#ifndef QG_PROBE_H
#define QG_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/dissect/quic.h"

#define PROBE_GROUP_X25519MLKEM768 0x11ec
#define PROBE_MLKEM_SHARE          1216 /* ML-KEM-768 encapsulation key (1184) + X25519 (32) */
#define PROBE_HELLO_MAX            4096 /* bytes a probe ClientHello takes at most */
#define PROBE_TLS_HELLO_SIZE \
    1780                         /* the TCP ClientHello's handshake message is padded to
                                           this, about Chrome's with X25519MLKEM768 */
#define PROBE_QUIC_DATAGRAM 1252 /* each Initial datagram is padded to this (as Chrome) */
#define PROBE_CID_LEN       8
#define PROBE_REQUEST_MAX   (2 * 2400) /* an HTTP probe request */
#define PROBE_DETAIL_MAX    192

/* The random inputs of one probe. */
struct probe_rand {
    uint8_t random[32];
    uint8_t session_id[32];           /* TLS over TCP only (QUIC sends an empty one) */
    uint8_t mlkem[PROBE_MLKEM_SHARE]; /* bytes turned into a well-formed X25519MLKEM768 share */
    uint8_t x25519[32];               /* the separate X25519 share */
    uint8_t dcid[PROBE_CID_LEN];      /* QUIC Destination / Source Connection IDs */
    uint8_t scid[PROBE_CID_LEN];
};

/* Writes "GET path HTTP/1.1" with Host, User-Agent, Accept and Connection: close into out.
 * host is a name or an address (an IPv6 address gets brackets); path starts with '/'.
 * Returns the length (no NUL counted; one is written), or 0 when it does not fit in cap or
 * host/path hold a byte that cannot go into a request line or header (control bytes, space). */
size_t probe_http_request(const char *host, const char *path, char *out, size_t cap);

/* A TLS 1.3 ClientHello (TLS 1.2 ciphers offered too) in one TLS record, as a browser sends it:
 * server_name = sni (none when sni is NULL or ""), ALPN http/1.1, supported_groups
 * X25519MLKEM768 / X25519 / P-256, key shares X25519MLKEM768 (1216 bytes) and X25519, the
 * other extensions Chrome sends without GREASE or ECH, and a padding extension that brings the
 * handshake message to PROBE_TLS_HELLO_SIZE bytes: the record spans two TCP segments. The ML-KEM part is a well-formed
 * encapsulation key (every 12-bit coefficient < 3329) made from r->mlkem, so a server that
 * supports the group can encapsulate to it and answers with a ServerHello.
 * Returns the record length, or 0 when sni is longer than 253 bytes or cap is too small. */
size_t probe_tls_hello(const char *sni, const struct probe_rand *r, uint8_t *out, size_t cap);

/* The same ClientHello for QUIC: a bare handshake message (no record header), no session id,
 * TLS 1.3 only, ALPN h3, and quic_transport_parameters with initial_source_connection_id =
 * r->scid. Returns its length or 0. */
size_t probe_quic_hello(const char *sni, const struct probe_rand *r, uint8_t *out, size_t cap);

/* Two QUIC v1 client Initial datagrams: DCID r->dcid, SCID r->scid, packet numbers 0 and 1,
 * the ClientHello's CRYPTO data split between them (offset 0 in the first, the rest in the
 * second), each padded to PROBE_QUIC_DATAGRAM bytes and protected with the client Initial keys
 * (RFC 9001 5.2: AES-128-GCM, header protection). */
struct probe_quic {
    uint8_t dgram[2][PROBE_QUIC_DATAGRAM];
    size_t len[2];
    size_t hello_len; /* CRYPTO bytes in all */
};

/* Returns 0, or -EINVAL (hello does not fit two Initials: sni too long) / -EIO (a packet could
 * not be sealed). */
int probe_quic_initials(struct quic_ctx *ctx, const char *sni, const struct probe_rand *r,
                        struct probe_quic *q);

/* ---- reading the answer ------------------------------------------------------------------- */

/* What goes on the wire: an HTTP request, a TLS ClientHello, QUIC Initials. (A "tcp" probe of
 * an IP resource sends an HTTP request to port 80 or a ClientHello without a name to 443, and
 * is read as that.) */
enum probe_wire { PROBE_WIRE_HTTP = 0, PROBE_WIRE_TLS, PROBE_WIRE_QUIC };

/* How the exchange ended, as the socket layer saw it. */
enum probe_event {
    PROBE_EV_DATA = 0, /* enough bytes arrived (probe_answer_complete()) */
    PROBE_EV_EOF,      /* the peer closed (FIN) */
    PROBE_EV_RESET,    /* TCP RST after the connection was up (ECONNRESET, EPIPE) */
    PROBE_EV_REFUSED,  /* TCP RST to the SYN; for UDP an ICMP port unreachable */
    PROBE_EV_TIMEOUT,  /* nothing (more) within the probe's time */
};

/* blocked: the filter's doing. open: the server answered as it does for anyone (an alarm for a
 * resource the order restricts). inconclusive: no evidence either way (a timeout a filter of
 * this configuration does not cause, a refused connection, a close without an answer). In the
 * report an inconclusive probe is blocked: false with how "timeout", "refused" or "error". */
enum probe_outcome { PROBE_BLOCKED = 0, PROBE_OPEN, PROBE_INCONCLUSIVE };

/* The "how" of the report (docs/verify.md). */
enum probe_how {
    PROBE_HOW_RESET = 0,
    PROBE_HOW_TIMEOUT,
    PROBE_HOW_REDIRECT,
    PROBE_HOW_REFUSED,
    PROBE_HOW_ALERT,
    PROBE_HOW_ANSWERED,
    PROBE_HOW_ERROR,
};

/* What the reader needs to know about the probe and the filter. */
struct probe_expect {
    const char *host;       /* the name or address probed (the HTTP Host) */
    const char *notice_url; /* the filter's notice page (notice.url), or NULL / "" */
    bool quic_dropped;      /* the filter drops QUIC it blocks (inline mode, inline.quic
                               drop-blocked or drop-all): no answer means blocked */
    struct quic_ctx *ctx;   /* QUIC: to open the server's Initial */
    const uint8_t *dcid;    /* QUIC: the Destination Connection ID the probe sent */
    size_t dcid_len;
};

struct probe_verdict {
    enum probe_outcome outcome;
    enum probe_how how;
    char detail[PROBE_DETAIL_MAX];
};

/* Sets *v: outcome, how and the detail (printf format, truncated to PROBE_DETAIL_MAX). */
void probe_verdict_set(struct probe_verdict *v, enum probe_outcome o, enum probe_how how,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* True when buf[0..len), the first answer bytes, is enough to decide (HTTP: the header block
 * ended or 16 KiB; TLS: the first record's header and message type or alert; QUIC: one
 * datagram). */
bool probe_answer_complete(enum probe_wire wire, const uint8_t *buf, size_t len);

/* Decides from the answer bytes buf[0..len) (for QUIC: the first datagram received) and the
 * way the exchange ended:
 *  HTTP: 451, or a 3xx whose Location is the notice page -> blocked "redirect"; any other
 *        status -> open "answered".
 *  TLS:  an alert record -> blocked "alert"; a ServerHello (any handshake record) -> open.
 *  QUIC: a server Initial (opened with the server keys of x->dcid) holding CONNECTION_CLOSE
 *        -> blocked "reset"; any other QUIC answer (Initial, Retry, Version Negotiation) ->
 *        open "answered".
 *  Without a decisive answer: RST -> blocked "reset"; RST to the SYN -> inconclusive
 *  "refused" (the filter judges payload, never a SYN: nothing listens there); timeout ->
 *  inconclusive "timeout", except QUIC when x->quic_dropped -> blocked "timeout"; UDP port
 *  unreachable -> open "answered" when x->quic_dropped (the datagram was not dropped), else
 *  inconclusive "refused"; a close without an answer -> inconclusive "error".
 * Reads nothing outside buf[0..len). */
void probe_classify(enum probe_wire wire, const uint8_t *buf, size_t len, enum probe_event ev,
                    const struct probe_expect *x, struct probe_verdict *v);

/* "reset", "timeout", "redirect", "refused", "alert", "answered", "error". */
const char *probe_how_name(enum probe_how how);

#endif
