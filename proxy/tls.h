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

#include "dstatus.h"

struct tls_hello {
    uint16_t record_version;   /* of the first record */
    uint16_t legacy_version;   /* client_version field */
    uint16_t max_version;      /* highest non-GREASE value of supported_versions, else legacy */
    bool has_sni;
    struct span sni;           /* host_name of the server_name extension, as sent */
    struct span alpn;          /* first ALPN protocol name, if any */
    bool has_ech;              /* encrypted_client_hello (0xfe0d) present */
    bool has_esni;             /* draft ESNI (0xffce) present */
    size_t hello_len;          /* handshake message length (header included) */
    size_t consumed;           /* stream bytes holding the ClientHello, record headers included */
    unsigned records;          /* TLS records it spanned */
};

/* Parses the ClientHello at the start of buf.
 *  DS_OK         *out filled.
 *  DS_NEED_MORE  buf is a valid prefix of a ClientHello.
 *  DS_NOT_MINE   the first bytes are not a TLS handshake record.
 *  DS_MALFORMED  a TLS handshake that breaks the format (or whose first message is not a
 *                ClientHello), judged as OpenSSL 3.0 would; *err_off = offset in buf.
 *  DS_LIMIT      the ClientHello is larger than scratch_cap (when it spans records) or
 *                than TLS_HELLO_MAX.
 * scratch (scratch_cap bytes, may be NULL when 0) is used only for multi-record hellos. */
#define TLS_HELLO_MAX (64 * 1024)
enum dstatus tls_hello_parse(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
                             struct tls_hello *out, size_t *err_off);

#endif
