/* normalize.c - host and path normalization (see normalize.h).
 *
 * Host input, as it appears in the places we read it from:
 *
 *   SNI host_name         example.com                  (RFC 6066 3: ASCII, no trailing dot)
 *   Host header / URL     Example.COM.:8080            (RFC 9110 7.2: uri-host [ ":" port ])
 *                         [2001:db8::1]:443            (RFC 3986 3.2.2: IP-literal in brackets)
 *   list entry            пример.қаз  exa%6Dple.com  203.0.113.7  2001:db8::1
 *
 * Path input (RFC 3986 3.3-3.5):  "/" segment *( "/" segment ) [ "?" query ] [ "#" fragment ]
 *
 * The ASCII host path works in a stack buffer; only a name holding a non-ASCII byte goes to
 * libidn2 (which allocates). */
#include "rules/match/normalize.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/compiler.h"

/* Largest raw host we look at: a 253-byte A-label name can be ~4x longer as UTF-8 or escapes. */
#define HOST_RAW_MAX 1024

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Percent-decodes in[0..len) into out (capacity cap). */
static enum norm_status pct_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                                   size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (c == '%') {
            if (len - i < 3)
                return NORM_BAD_ESCAPE;
            int h = ascii_hexval(in[i + 1]), l = ascii_hexval(in[i + 2]);
            if (h < 0 || l < 0)
                return NORM_BAD_ESCAPE;
            c = (uint8_t)(h << 4 | l);
            i += 2;
        }
        if (o >= cap)
            return NORM_TOO_LONG;
        out[o++] = c;
    }
    *out_len = o;
    return NORM_OK;
}

/* Byte classes of the host fast path (norm_host): what a plain ASCII name is made of. 0: any
 * other byte (':', '%', '[', non-ASCII, ...), for the general path. */
enum {
    HC_DIGIT = 1,
    HC_DOT = 2,
    HC_NAME = 4,  /* a-z '-' '_' */
    HC_UPPER = 8, /* A-Z: c | (HC_UPPER << 2) lowers it */
};

/* HC_ values by byte, a row per 16 */
static const uint8_t host_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 0, 0, 0, 0, 4,
    0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* True for a label (of [a-z0-9_-]) of 1..63 bytes with no '-' at either end, not "xn--" alone
 * (it carries no A-label). */
static bool label_ok(const char *s, size_t ll)
{
    return ll > 0 && ll <= 63 && s[0] != '-' && s[ll - 1] != '-' &&
           !(ll == 4 && memcmp(s, "xn--", 4) == 0);
}

/* Checks an ASCII, lower-cased name: labels 1..63 of [a-z0-9_-], no '-' at either end. */
static enum norm_status check_labels(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!(host_class[(uint8_t)s[i]] & (HC_DIGIT | HC_NAME)))
                return NORM_BAD_CHAR;
            continue;
        }
        if (!label_ok(s + start, i - start))
            return NORM_BAD_LABEL;
        start = i + 1;
    }
    return NORM_OK;
}

static enum norm_status put_ipv6(const uint8_t a[16], char out[NORM_HOST_MAX], size_t *out_len,
                                 enum norm_host_kind *kind)
{
    if (!inet_ntop(AF_INET6, a, out, NORM_HOST_MAX))
        return NORM_BAD_CHAR;
    *out_len = strlen(out);
    if (kind)
        *kind = NORM_HOST_IPV6;
    return NORM_OK;
}

static enum norm_status parse_port(const uint8_t *p, size_t len)
{
    if (len == 0 || len > 5)
        return NORM_BAD_PORT;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return NORM_BAD_PORT;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return (v >= 1 && v <= 65535) ? NORM_OK : NORM_BAD_PORT;
}

/* "[v6]" or "[v6]:port" */
static enum norm_status host_bracketed(const uint8_t *in, size_t len, char out[NORM_HOST_MAX],
                                       size_t *out_len, enum norm_host_kind *kind)
{
    const uint8_t *close = memchr(in, ']', len);
    if (!close)
        return NORM_BAD_CHAR;
    size_t alen = (size_t)(close - in) - 1;
    size_t rest = len - (size_t)(close - in) - 1;
    if (rest > 0) {
        if (close[1] != ':')
            return NORM_BAD_CHAR;
        enum norm_status st = parse_port(close + 2, rest - 1);
        if (st != NORM_OK)
            return st;
    }
    char tmp[64];
    if (alen == 0 || alen >= sizeof(tmp))
        return NORM_BAD_CHAR;
    memcpy(tmp, in + 1, alen);
    tmp[alen] = '\0';
    uint8_t a[16];
    if (inet_pton(AF_INET6, tmp, a) != 1)
        return NORM_BAD_CHAR;
    return put_ipv6(a, out, out_len, kind);
}

static enum norm_status host_idna(const uint8_t *in, size_t len, char out[NORM_HOST_MAX],
                                  size_t *out_len)
{
    char tmp[HOST_RAW_MAX + 1];
    memcpy(tmp, in, len);
    tmp[len] = '\0';
    if (memchr(tmp, '\0', len))
        return NORM_BAD_CHAR;
    char *res = NULL;
    int rc = idn2_to_ascii_8z(tmp, &res, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    /* out of memory is no verdict on the name, and the transitional retry could map it to
     * another one ("fa\u00df.de" -> "fass.de") */
    if (rc == IDN2_MALLOC)
        return NORM_NOMEM;
    if (rc != IDN2_OK) {
        res = NULL;
        rc = idn2_to_ascii_8z(tmp, &res, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
        if (rc == IDN2_MALLOC)
            return NORM_NOMEM;
    }
    if (rc != IDN2_OK || !res)
        return NORM_BAD_IDNA;
    size_t n = strlen(res);
    if (n > 0 && res[n - 1] == '.')
        n--;
    if (n == 0 || n >= NORM_HOST_MAX) {
        idn2_free(res);
        return n == 0 ? NORM_EMPTY : NORM_TOO_LONG;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (char)lower((uint8_t)res[i]);
    out[n] = '\0';
    idn2_free(res);
    *out_len = n;
    return check_labels(out, n) == NORM_OK ? NORM_OK : NORM_BAD_IDNA;
}

/* A lower-case host text out (*len bytes, NUL-terminated) that is a canonical dotted quad is
 * reprinted as one and *kind set to NORM_HOST_IPV4; returns whether it was. */
static bool as_ipv4(char out[NORM_HOST_MAX], size_t *len, enum norm_host_kind *kind)
{
    for (size_t i = 0; i < *len; i++)
        if (!((out[i] >= '0' && out[i] <= '9') || out[i] == '.'))
            return false;
    uint8_t a[4];
    /* inet_pton accepts only canonical dotted quads; reprint anyway */
    if (inet_pton(AF_INET, out, a) != 1 || !inet_ntop(AF_INET, a, out, NORM_HOST_MAX))
        return false;
    *len = strlen(out);
    if (kind)
        *kind = NORM_HOST_IPV4;
    return true;
}

enum norm_status norm_host(const uint8_t *in, size_t len, char out[NORM_HOST_MAX], size_t *out_len,
                           enum norm_host_kind *kind)
{
    size_t dummy;
    if (!out_len)
        out_len = &dummy;
    *out_len = 0;
    out[0] = '\0';
    if (kind)
        *kind = NORM_HOST_NAME;
    if (len == 0)
        return NORM_EMPTY;
    if (len > HOST_RAW_MAX)
        return NORM_TOO_LONG;
    if (in[0] == '[')
        return host_bracketed(in, len, out, out_len, kind);
    if (len < NORM_HOST_MAX) {
        /* The common case in one pass: bytes of [A-Za-z0-9._-] only (no port, escape or
         * non-ASCII byte), lowered into out as they are classed, each label checked at its dot
         * as check_labels() would (for such bytes it can only find a bad label: which one
         * does not matter); the same steps as the general path below takes for such a name.
         * Any other byte: the general path. */
        unsigned seen = 0;
        bool bad = false;
        size_t i = 0, start = 0;
        for (; i < len; i++) {
            uint8_t c = in[i], k = host_class[c];
            if (!k)
                break;
            seen |= k;
            out[i] = (char)(c | (k & HC_UPPER) << 2);
            if (k == HC_DOT) {
                bad = bad || !label_ok(out + start, i - start);
                start = i + 1;
            }
        }
        if (i == len) {
            size_t n = out[len - 1] == '.' ? len - 1 : len;
            out[n] = '\0';
            if (n == 0)
                return NORM_EMPTY;
            *out_len = n;
            if (!(seen & (HC_NAME | HC_UPPER)) && as_ipv4(out, out_len, kind))
                return NORM_OK;
            if (n == len) /* the last label, without a dot after it */
                bad = bad || !label_ok(out + start, n - start);
            if (bad) {
                out[0] = '\0';
                *out_len = 0;
                return NORM_BAD_LABEL;
            }
            return NORM_OK;
        }
        out[0] = '\0';
    }

    /* Colons: one is a port separator; more is an unbracketed IPv6 literal (list entries). */
    size_t ncolon = 0, last_colon = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] == ':') {
            ncolon++;
            last_colon = i;
        }
    if (ncolon > 1) {
        char tmp[64];
        uint8_t a[16];
        if (len >= sizeof(tmp))
            return NORM_BAD_CHAR;
        memcpy(tmp, in, len);
        tmp[len] = '\0';
        if (inet_pton(AF_INET6, tmp, a) != 1)
            return NORM_BAD_CHAR;
        return put_ipv6(a, out, out_len, kind);
    }
    if (ncolon == 1) {
        enum norm_status st = parse_port(in + last_colon + 1, len - last_colon - 1);
        if (st != NORM_OK)
            return st;
        len = last_colon;
    }

    uint8_t buf[HOST_RAW_MAX];
    size_t n = len;
    const uint8_t *h = in;
    if (memchr(in, '%', len)) {
        enum norm_status st = pct_decode(in, len, buf, sizeof(buf), &n);
        if (st != NORM_OK)
            return st;
        h = buf;
    }
    if (n > 0 && h[n - 1] == '.')
        n--;
    if (n == 0)
        return NORM_EMPTY;

    bool ascii = true;
    for (size_t i = 0; i < n; i++)
        if (h[i] >= 0x80) {
            ascii = false;
            break;
        }
    if (!ascii) {
        /* IDNA mapping can leave a dotted quad ("203.0.11\u034f3.7": the ignorable code point
         * is mapped away): it is that address, as for a browser, and normalizes as one */
        enum norm_status st = host_idna(h, n, out, out_len);
        if (st == NORM_OK && as_ipv4(out, out_len, kind))
            return NORM_OK;
        return st;
    }

    if (n >= NORM_HOST_MAX)
        return NORM_TOO_LONG;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)lower(h[i]);
    out[n] = '\0';
    *out_len = n;
    if (as_ipv4(out, out_len, kind))
        return NORM_OK;
    enum norm_status st = check_labels(out, n);
    if (st != NORM_OK) {
        out[0] = '\0';
        *out_len = 0;
    }
    return st;
}

static bool unreserved(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static const char HEX[] = "0123456789ABCDEF";

enum norm_status norm_path(const uint8_t *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    size_t dummy;
    if (!out_len)
        out_len = &dummy;
    *out_len = 0;
    if (cap == 0)
        return NORM_TOO_LONG;
    out[0] = '\0';

    /* Fragment goes first: a '#' ends the request target wherever it is. */
    const uint8_t *hash = memchr(in, '#', len);
    if (hash)
        len = (size_t)(hash - in);
    const uint8_t *q = memchr(in, '?', len);
    size_t plen = q ? (size_t)(q - in) : len;

    /* Pass 1: escapes into out, always starting with '/'. Unreserved escapes are decoded, the
     * rest get upper-case hex; raw bytes outside the printable range are escaped. */
    size_t o = 0;
    if (plen == 0 || in[0] != '/')
        out[o++] = '/';
    for (size_t i = 0; i < plen; i++) {
        uint8_t c = in[i];
        if (c == '%') {
            if (plen - i < 3)
                return NORM_BAD_ESCAPE;
            int h = ascii_hexval(in[i + 1]), l = ascii_hexval(in[i + 2]);
            if (h < 0 || l < 0)
                return NORM_BAD_ESCAPE;
            uint8_t d = (uint8_t)(h << 4 | l);
            i += 2;
            if (unreserved(d)) {
                if (o + 1 >= cap)
                    return NORM_TOO_LONG;
                out[o++] = (char)d;
                continue;
            }
            c = d;
        } else if (c > 0x20 && c < 0x7f) {
            if (o + 1 >= cap)
                return NORM_TOO_LONG;
            out[o++] = (char)c;
            continue;
        }
        if (o + 3 >= cap)
            return NORM_TOO_LONG;
        out[o++] = '%';
        out[o++] = HEX[c >> 4];
        out[o++] = HEX[c & 15];
    }

    /* Pass 2, in place (the write point never passes the read point): drop "." segments, pop
     * on "..", collapse empty segments. A path whose last segment was "." or ".." or empty
     * keeps a trailing '/'. */
    size_t r = 0, w = 0;
    bool trailing = false;
    while (r < o) {
        /* out[r] == '/' here */
        size_t s = r + 1, e = s;
        while (e < o && out[e] != '/')
            e++;
        size_t sl = e - s;
        if (sl == 0 || (sl == 1 && out[s] == '.')) {
            trailing = true;
        } else if (sl == 2 && out[s] == '.' && out[s + 1] == '.') {
            while (w > 0 && out[w - 1] != '/')
                w--;
            if (w > 0)
                w--; /* drop the '/' before the popped segment */
            trailing = true;
        } else {
            out[w++] = '/';
            memmove(out + w, out + s, sl);
            w += sl;
            trailing = false;
        }
        r = e;
    }
    if (trailing || w == 0)
        out[w++] = '/';

    /* The query is kept as sent, except that bytes outside printable ASCII are escaped (the
     * result is a C string, and raw and escaped forms of such a byte must compare equal). */
    if (q) {
        size_t ql = len - plen;
        for (size_t i = 0; i < ql; i++) {
            uint8_t c = q[i];
            if (c > 0x20 && c < 0x7f) {
                if (w + 1 >= cap)
                    return NORM_TOO_LONG;
                out[w++] = (char)c;
            } else {
                if (w + 3 >= cap)
                    return NORM_TOO_LONG;
                out[w++] = '%';
                out[w++] = HEX[c >> 4];
                out[w++] = HEX[c & 15];
            }
        }
    }
    out[w] = '\0';
    *out_len = w;
    return NORM_OK;
}

const char *norm_strerror(enum norm_status st)
{
    switch (st) {
    case NORM_OK: return "ok";
    case NORM_EMPTY: return "empty hostname";
    case NORM_TOO_LONG: return "name too long";
    case NORM_BAD_CHAR: return "invalid hostname character";
    case NORM_BAD_LABEL: return "invalid hostname label";
    case NORM_BAD_IDNA: return "invalid internationalized hostname";
    case NORM_BAD_PORT: return "invalid port";
    case NORM_BAD_ESCAPE: return "invalid percent escape";
    case NORM_NOMEM: return "out of memory";
    }
    return "unknown error";
}
