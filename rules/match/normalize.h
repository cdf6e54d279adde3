/* normalize.h - the one normalization of names and paths, shared by the list compiler and the
 * packet path so the two can never disagree.
 *
 * Host: percent-decode, strip a ":port" (any port; IPv6 literals keep their brackets off),
 * strip one trailing dot, lowercase ASCII, IDNA2008 (UTS#46 non-transitional mapping, via libidn2)
 * to A-labels when any byte is non-ASCII or a label starts with "xn--" (validated). ASCII-only
 * input takes a fast path with no library call and no allocation.
 * Path: drop the fragment, decode percent-escapes of unreserved characters, upper-case the hex
 * of the escapes that stay, resolve "." and ".." segments (RFC 3986 5.2.4), collapse "//" runs.
 * The query is kept as sent, except that bytes outside printable ASCII are %XX-escaped. */
#ifndef QG_NORMALIZE_H
#define QG_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#define NORM_HOST_MAX 254 /* 253 + NUL */
#define NORM_PATH_MAX 2048

enum norm_status {
    NORM_OK = 0,
    NORM_EMPTY,
    NORM_TOO_LONG,
    NORM_BAD_CHAR,  /* a byte no hostname may hold (space, control, '/', '@' ...) */
    NORM_BAD_LABEL, /* empty label, label over 63 bytes, leading/trailing '-' */
    NORM_BAD_IDNA,  /* libidn2 refused the name */
    NORM_BAD_PORT,
    NORM_BAD_ESCAPE, /* '%' not followed by two hex digits */
    NORM_NOMEM,      /* libidn2 could not allocate: says nothing about the name */
};

/* Host kinds norm_host() can report through *kind. */
enum norm_host_kind { NORM_HOST_NAME = 0, NORM_HOST_IPV4, NORM_HOST_IPV6 };

/* Normalizes host bytes (an SNI, a Host header value, a URL authority, a list entry) into out
 * (NUL-terminated, at most NORM_HOST_MAX bytes with the NUL). *out_len gets the length without
 * the NUL. *kind (may be NULL) says whether the result is a name or an IP literal (IPv6 printed
 * without brackets in RFC 5952 form, IPv4 dotted quad). Pure; no allocation on the ASCII path. */
enum norm_status norm_host(const uint8_t *in, size_t len, char out[NORM_HOST_MAX], size_t *out_len,
                           enum norm_host_kind *kind);

/* Normalizes a request path (starting with '/', query allowed, fragment dropped) into out of
 * capacity cap (NUL-terminated). An empty input becomes "/". Returns NORM_TOO_LONG if it does not
 * fit, NORM_BAD_ESCAPE for a broken escape (the caller may still use the raw path). */
enum norm_status norm_path(const uint8_t *in, size_t len, char *out, size_t cap, size_t *out_len);

/* Short English text for a status: "invalid hostname character" ... */
const char *norm_strerror(enum norm_status st);

#endif
