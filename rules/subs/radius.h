/* radius.h - RADIUS Accounting-Request parser and Accounting-Response builder (RFC 2865/2866).
 *
 * Pure functions over a received datagram. radius_acct_parse() checks the header (code 4,
 * length 20..4096 and not above the datagram), walks every attribute strictly (length >= 2 and
 * within the packet), verifies the Request Authenticator with the client's shared secret in
 * constant time, and picks out what the subscriber map needs. Pointers in struct radius_acct
 * point into buf: valid as long as buf is. Nothing is allocated. */
#ifndef QG_RADIUS_H
#define QG_RADIUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RADIUS_CODE_ACCT_REQUEST  4
#define RADIUS_CODE_ACCT_RESPONSE 5
#define RADIUS_HDR                20
#define RADIUS_MAX                4096
#define RADIUS_VENDOR_3GPP        10415u

/* Acct-Status-Type values (attribute 40). */
enum radius_status {
    RADIUS_START = 1,
    RADIUS_STOP = 2,
    RADIUS_INTERIM = 3,
    RADIUS_ACCT_ON = 7,
    RADIUS_ACCT_OFF = 8,
};

/* A string attribute: len bytes at p (not NUL-terminated); p NULL when absent. */
struct radius_str {
    const uint8_t *p;
    size_t len;
};

struct radius_acct {
    uint8_t identifier;
    uint16_t length;              /* the header's length: bytes of the packet proper */
    const uint8_t *authenticator; /* 16 bytes inside buf */
    uint32_t status;              /* enum radius_status, 0 when the attribute is absent */
    struct radius_str session_id; /* Acct-Session-Id (44) */
    struct radius_str user_name;  /* User-Name (1) */
    struct radius_str calling;    /* Calling-Station-Id (31), the MSISDN */
    struct radius_str imsi;       /* 3GPP-IMSI (26/10415/1) */
    bool has_ipv4;
    uint8_t ipv4[4]; /* Framed-IP-Address (8) */
    bool has_ipv6;
    uint8_t ipv6[16]; /* Framed-IPv6-Prefix (97): the prefix, bits past plen zero */
    uint8_t ipv6_plen;
    bool has_timestamp;
    uint32_t event_timestamp; /* Event-Timestamp (55), seconds since the epoch */
    bool has_interim;
    uint32_t interim_interval; /* Acct-Interim-Interval (85), seconds */
};

/* Parses and authenticates one Accounting-Request of len bytes (bytes past the header's length
 * are ignored, as RFC 2865 §3 says). secret: the client's shared secret (slen bytes). Returns 0,
 * -EBADMSG for a malformed packet, -EACCES for a wrong Request Authenticator, -EPROTO for a
 * well-formed packet that is not an Accounting-Request; err gets "radius: offset N: reason". */
int radius_acct_parse(const uint8_t *buf, size_t len, const uint8_t *secret, size_t slen,
                      struct radius_acct *out, char *err, size_t errlen);

/* Builds the Accounting-Response (code 5, no attributes) answering the request whose
 * identifier and Request Authenticator are given: 20 bytes into out (cap >= 20). Response
 * Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret). Returns 20 or -ENOSPC. */
int radius_acct_response(uint8_t identifier, const uint8_t reqauth[16], const uint8_t *secret,
                         size_t slen, uint8_t *out, size_t cap);

/* Builds an Accounting-Request (for tests and the benchmark): header, the attributes given as
 * already-encoded bytes attrs[0..alen), Request Authenticator computed with secret. Returns
 * the packet length or -ENOSPC. */
int radius_acct_build(uint8_t identifier, const uint8_t *attrs, size_t alen, const uint8_t *secret,
                      size_t slen, uint8_t *out, size_t cap);

/* The name of a status ("Start", "Stop", "Interim-Update", "Accounting-On", "Accounting-Off"),
 * or "unknown". */
const char *radius_status_name(uint32_t status);

#endif
