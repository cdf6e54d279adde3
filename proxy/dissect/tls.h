/* tls.h - TLS ClientHello dissector (TLS 1.0-1.3), pure over (buf, len).
 *
 * buf is the client->server byte stream from its first byte. The ClientHello handshake message
 * may span several TLS records (RFC 8446 5.1); its body is then copied into the caller's scratch
 * buffer and the output spans point there, otherwise they point into buf. */
#ifndef QG_TLS_H
#define QG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dstatus.h"

struct tls_hello {
    uint16_t record_version; /* of the first record */
    uint16_t legacy_version; /* client_version field */
    uint16_t max_version;    /* highest non-GREASE value of supported_versions, else legacy */
    bool has_sni;
    struct span sni;  /* host_name of the server_name extension, as sent */
    struct span alpn; /* first ALPN protocol name, if any */
    bool has_ech;     /* encrypted_client_hello (0xfe0d) present */
    bool has_esni;    /* draft ESNI (0xffce) present */
    size_t hello_len; /* handshake message length (header included) */
    size_t consumed;  /* stream bytes holding the ClientHello, record headers included */
    unsigned records; /* TLS records it spanned (so far, when partial) */
    bool partial;     /* DS_OK on a prefix: the server_name extension is complete but
                                * the hello goes on; consumed is 0 and only the extensions
                                * before the cut were read (sni, and alpn / ECH if seen) */
};

/* Parses the whole ClientHello at the start of buf.
 *  DS_OK         *out filled (never partial).
 *  DS_NEED_MORE  buf is a valid prefix of a ClientHello.
 *  DS_NOT_MINE   the first bytes are not a TLS handshake record.
 *  DS_MALFORMED  a TLS handshake that breaks the format (or whose first message is not a
 *                ClientHello), judged as OpenSSL 3.0 would; *err_off = offset in buf.
 *  DS_LIMIT      the ClientHello spans records and is larger than scratch_cap, or its handshake
 *                length exceeds TLS_HELLO_MAX (OpenSSL 3.0's CLIENT_HELLO_MAX_LENGTH, 131396
 *                body bytes: it refuses larger ones).
 * scratch (scratch_cap bytes, may be NULL when 0) is used only for multi-record hellos. */
#define TLS_HELLO_MAX (4 + 131396)
enum dstatus tls_hello_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                             struct tls_hello *out, size_t *err_off);

/* As tls_hello_parse(), but reports the name as soon as the bytes carrying it are complete, so
 * a hello is never buffered whole just to read its name (EVASION S7):
 *  DS_OK         out->partial: buf holds only a prefix of the hello (or the part of it that
 *                fits scratch_cap), every extension up to and including server_name in it is
 *                complete and valid; consumed is 0; ALPN / ECH are set if seen before the cut.
 *                Otherwise as tls_hello_parse().
 *  DS_NEED_MORE  a valid prefix in which the server_name extension is not complete yet.
 *  DS_LIMIT      no name, and the bytes here that span records do not fit scratch_cap (more
 *                bytes cannot help), or the handshake length exceeds TLS_HELLO_MAX. */
enum dstatus tls_hello_parse_early(const uint8_t *buf, size_t len, uint8_t *scratch,
                                   size_t scratch_cap, struct tls_hello *out, size_t *err_off);

/* Lenient reading for a hello tls_hello_parse_early() refuses (EVASION S10): some servers
 * accept what OpenSSL refuses (Go's crypto/tls skips server_name entries that are not
 * host_name, and reads any number of them). Walks the handshake records and the hello as far
 * as their own lengths allow and collects every host_name entry of every server_name
 * extension, up to cap of them, into names[] (spans into buf or scratch, 1..255 bytes, no
 * NUL). Returns how many were found; 0 when the bytes do not even start a ClientHello. */
size_t tls_hello_scan_names(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                            struct span *names, size_t cap);

#endif
