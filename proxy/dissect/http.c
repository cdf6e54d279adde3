/* http.c - HTTP/1.x request head dissector, as tolerant as nginx and no more.
 *
 * Request head (RFC 9112 2.1, 3, 5), with the variations nginx accepts (ngx_http_parse.c):
 *   *( CR / LF )                                  empty lines before the request are skipped
 *   method 1*SP request-target 1*SP HTTP-version *SP (CRLF / LF)
 *   *( field-name ":" *(SP/HTAB) field-value *(SP/HTAB) (CR+ LF / LF) )
 *   (CRLF / LF)                                   the empty line ending the head
 * or, HTTP/0.9 style, "method 1*SP target *SP (CRLF / LF)" with no version and no headers.
 *   method         1*( "A"-"Z" / "_" / "-" )     anything else: not HTTP (DS_NOT_MINE)
 *   request-target 1*( %x21-7E / %x80-FF )       origin-form "/p?q" or absolute-form
 *                                                 "scheme://[userinfo@]host[:port][/p?q]"
 *   HTTP-version   "HTTP/" 1*DIGIT "." 1*DIGIT  (each <= 99); major 2 or more: DS_NOT_MINE
 *   field-name     "A"-"Z" / "a"-"z" / DIGIT / "-"; other printable bytes make nginx ignore
 *                  the line (ignore_invalid_headers, its default), so they are ignored here;
 *                  SP, HTAB, CTL or DEL in a name, or a line starting with ":", SP or HTAB
 *                  (obs-fold) get a 400 from nginx and DS_MALFORMED here.
 * The head is parsed again from its first byte on every call, one complete line at a time (each
 * line's end located with memchr); http_req_parse_early() stops at the first incomplete line and
 * reports the name when the lines before it carry one; http_req_not_mine() reads the request
 * line alone. */
#include "proxy/dissect/http.h"

#include <string.h>

#include "common/compiler.h"

#define HTTP_HEADERS_MAX 256

static const uint8_t h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

bool http_is_h2_preface(const uint8_t *buf, size_t len)
{
    if (len == 0 || buf[0] != 'P') /* most streams: no call to memcmp */
        return false;
    size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;
    return memcmp(buf, h2_preface, n) == 0;
}

/* Request-line byte classes, one entry per byte value (a row per 16): RL_METHOD for "A"-"Z",
 * "_", "-"; RL_TARGET for %x21-7E and %x80-FF. */
enum { RL_METHOD = 1, RL_TARGET = 2 };
static const uint8_t rl_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 3,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static bool is_method_char(uint8_t c)
{
    return rl_class[c] & RL_METHOD;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Bytes nginx keeps in a header name (its lowcase table); '_' needs underscores_in_headers:
 * '-' (0x2d), '0'-'9' (0x30-0x39), 'A'-'Z' (0x41-0x5a), 'a'-'z' (0x61-0x7a), one byte per byte
 * value (a row per 16). */
static const uint8_t name_chars[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool name_bit(uint8_t c)
{
    return name_chars[c] != 0;
}

static bool is_ctl(uint8_t c)
{
    return c < 0x20 || c == 0x7f;
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* Case-insensitive compare of (p, n) with a lower-case literal. */
static bool eq_nocase(const uint8_t *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n != l)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(p[i]) != (uint8_t)lit[i])
            return false;
    }
    return true;
}

/* True if the comma-separated token list (p, n) holds tok (lower case), case-insensitively. */
static bool list_has(const uint8_t *p, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        size_t s = i;
        while (i < n && p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        if (e > s && eq_nocase(p + s, e - s, tok))
            return true;
    }
    return false;
}

/* Splits an absolute-form target "scheme://authority[path]" into out->abs_authority (userinfo
 * removed) and out->abs_path. Leaves both empty for any other form. */
static void split_absolute(struct http_req *out)
{
    const uint8_t *t = out->target.p;
    size_t n = out->target.len, i = 0;
    if (n == 0 || !is_alpha(t[0]))
        return;
    while (i < n && (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))
        i++;
    if (n - i < 3 || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/')
        return;
    size_t a = i + 3, e = a;
    while (e < n && t[e] != '/' && t[e] != '?' && t[e] != '#')
        e++;
    for (size_t k = e; k > a; k--) {
        if (t[k - 1] == '@') { /* userinfo: nginx refuses it; a lax server uses the host */
            a = k;
            break;
        }
    }
    out->abs_authority.p = t + a;
    out->abs_authority.len = e - a;
    out->abs_path.p = t + e;
    out->abs_path.len = n - e;
}

/* Parses the request line starting at *pos (leading empty lines already skipped). On DS_OK
 * *pos is just past its LF and *http09 says whether it had no version. */
static enum dstatus parse_request_line(const uint8_t *buf, size_t len, size_t *pos,
                                       struct http_req *out, bool *http09, size_t *err_off)
{
    size_t i = *pos;
    size_t s = i;
    while (i < len && is_method_char(buf[i]))
        i++;
    if (i == len)
        return DS_NEED_MORE;
    if (i == s || buf[i] != ' ')
        return DS_NOT_MINE;
    out->method.p = buf + s;
    out->method.len = i - s;
    while (i < len && buf[i] == ' ')
        i++;
    if (i == len)
        return DS_NEED_MORE;
    s = i;
    while (i < len && (rl_class[buf[i]] & RL_TARGET))
        i++;
    if (i == len)
        return DS_NEED_MORE;
    if (i == s || (buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n')) {
        *err_off = i; /* control byte in (or instead of) the target */
        return DS_MALFORMED;
    }
    out->target.p = buf + s;
    out->target.len = i - s;
    while (i < len && buf[i] == ' ')
        i++;
    if (i == len)
        return DS_NEED_MORE;
    *http09 = buf[i] == '\r' || buf[i] == '\n';
    if (!*http09) {
        static const char http_slash[] = "HTTP/";
        s = i;
        for (size_t k = 0; k < 5; k++, i++) {
            if (i == len)
                return DS_NEED_MORE;
            if (buf[i] != (uint8_t)http_slash[k]) {
                *err_off = i;
                return DS_MALFORMED;
            }
        }
        /* nginx: 1*DIGIT "." 1*DIGIT, each number at most 99 */
        unsigned major = 0, minor = 0;
        size_t d0 = i;
        while (i < len && is_digit(buf[i]) && major <= 99)
            major = major * 10 + (unsigned)(buf[i++] - '0');
        if (i == len)
            return DS_NEED_MORE;
        if (i == d0 || major > 99 || buf[i] != '.') {
            *err_off = i;
            return DS_MALFORMED;
        }
        d0 = ++i;
        while (i < len && is_digit(buf[i]) && minor <= 99)
            minor = minor * 10 + (unsigned)(buf[i++] - '0');
        if (i == len)
            return DS_NEED_MORE;
        if (i == d0 || minor > 99) {
            *err_off = i;
            return DS_MALFORMED;
        }
        if (major >= 2)
            return DS_NOT_MINE; /* "PRI * HTTP/2.0": nginx answers 505 */
        out->version.p = buf + s;
        out->version.len = i - s;
        while (i < len && buf[i] == ' ')
            i++;
        if (i == len)
            return DS_NEED_MORE;
    }
    if (buf[i] == '\r') {
        if (++i == len)
            return DS_NEED_MORE;
        if (buf[i] != '\n') {
            *err_off = i;
            return DS_MALFORMED;
        }
    } else if (buf[i] != '\n') {
        *err_off = i;
        return DS_MALFORMED;
    }
    *pos = i + 1;
    split_absolute(out);
    return DS_OK;
}

/* Content-Length value at buf[vs, vs + n): digits only, below 2^63, once (nginx: 400). */
static enum dstatus set_content_length(struct http_req *out, const uint8_t *buf, size_t vs,
                                       size_t n, size_t line, size_t *err_off)
{
    if (out->has_content_length || n == 0) {
        *err_off = line;
        return DS_MALFORMED;
    }
    uint64_t x = 0;
    for (size_t i = vs; i < vs + n; i++) {
        uint64_t d = (uint64_t)(buf[i] - '0');
        if (!is_digit(buf[i]) || x > (UINT64_C(0x7fffffffffffffff) - d) / 10) {
            *err_off = i;
            return DS_MALFORMED;
        }
        x = x * 10 + d;
    }
    out->has_content_length = true;
    out->content_length = x;
    return DS_OK;
}

/* Parses the header lines from pos, each only once its LF is within buf[0, lim): every scan
 * below meets that LF before the end. DS_NEED_MORE at the first incomplete line, with what the
 * complete lines before it told in *out. */
static enum dstatus parse_headers(const uint8_t *buf, size_t lim, size_t pos, struct http_req *out,
                                  size_t *err_off)
{
    unsigned count = 0;
    size_t i = pos;
    for (;;) {
        const uint8_t *lf = memchr(buf + i, '\n', lim - i);
        if (lf == NULL)
            return DS_NEED_MORE;
        size_t line_lf = (size_t)(lf - buf);
        if (buf[i] == '\n') {
            out->head_len = i + 1;
            return DS_OK;
        }
        if (buf[i] == '\r') {
            if (buf[i + 1] != '\n') {
                *err_off = i + 1;
                return DS_MALFORMED;
            }
            out->head_len = i + 2;
            return DS_OK;
        }
        if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == ':') {
            *err_off = i; /* obs-fold or an empty name: nginx 400 */
            return DS_MALFORMED;
        }
        if (++count > HTTP_HEADERS_MAX)
            return DS_LIMIT;
        size_t line = i, ns = i;
        bool invalid = false;
        for (;;) {
            while (name_bit(buf[i])) /* the run of name characters: one lookup each */
                i++;
            if (buf[i] == ':' || buf[i] == '\r' || buf[i] == '\n')
                break;
            if (is_ctl(buf[i]) || buf[i] == ' ') {
                *err_off = i;
                return DS_MALFORMED;
            }
            invalid = true; /* not a name character */
            i++;
        }
        size_t ne = i;
        size_t vs = i, ve = i;
        if (buf[i] == ':') {
            i++;
            while (buf[i] == ' ' || buf[i] == '\t')
                i++;
            vs = i;
            /* the value runs to the first CR or the LF (memchr: values are most of a head) */
            const uint8_t *cr = memchr(buf + i, '\r', line_lf - i);
            size_t end = cr ? (size_t)(cr - buf) : line_lf;
            const uint8_t *nul = memchr(buf + i, 0, end - i);
            if (nul) {
                *err_off = (size_t)(nul - buf);
                return DS_MALFORMED;
            }
            i = end;
            ve = i;
            while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
                ve--;
        }
        /* line end: CR+ LF (nginx tolerates repeated CR here) or LF */
        while (buf[i] == '\r')
            i++;
        if (buf[i] != '\n') {
            *err_off = i;
            return DS_MALFORMED;
        }
        i++;
        if (invalid)
            continue; /* nginx ignore_invalid_headers: the line does not exist */
        const uint8_t *name = buf + ns, *v = buf + vs;
        size_t nl = ne - ns, vl = ve - vs;
        if (eq_nocase(name, nl, "host")) {
            if (out->n_host == 0)
                out->host = (struct span){ v, vl };
            else if (out->n_host == 1)
                out->host2 = (struct span){ v, vl };
            out->n_host++;
        } else if (eq_nocase(name, nl, "content-length")) {
            enum dstatus st = set_content_length(out, buf, vs, vl, line, err_off);
            if (st != DS_OK)
                return st;
        } else if (eq_nocase(name, nl, "transfer-encoding")) {
            out->chunked = eq_nocase(v, vl, "chunked");
        } else if (eq_nocase(name, nl, "upgrade")) {
            out->upgrade = true;
            out->upgrade_h2c = out->upgrade_h2c || list_has(v, vl, "h2c");
        }
    }
}

/* True once the request names its server: a Host line, an absolute-form target, or CONNECT's
 * authority-form target. */
static bool name_visible(const struct http_req *r)
{
    return r->n_host > 0 || r->abs_authority.len > 0 ||
           (r->method.len == 7 && memcmp(r->method.p, "CONNECT", 7) == 0);
}

/* Finds, with memchr only, the end of the head (just past its empty line) among the complete
 * lines from pos in buf[0, lim): 0 if it is not there. *host_end = the end of the last complete
 * line whose name is "host" (any case), 0 if none. A head arriving a byte at a time is scanned
 * this cheaply on every call; the byte-wise parse runs only over what it can tell. */
static size_t scan_lines(const uint8_t *buf, size_t lim, size_t pos, size_t *host_end)
{
    *host_end = 0;
    size_t i = pos;
    while (i < lim) {
        if (buf[i] == '\n')
            return i + 1;
        if (buf[i] == '\r' && i + 1 < lim && buf[i + 1] == '\n')
            return i + 2;
        const uint8_t *lf = memchr(buf + i, '\n', lim - i);
        if (lf == NULL)
            return 0;
        size_t e = (size_t)(lf - buf) + 1;
        if (e - i > 5 && buf[i + 4] == ':' && eq_nocase(buf + i, 4, "host"))
            *host_end = e;
        i = e;
    }
    return 0;
}

/* True if the lines from pos in buf[0, lim) surely hold the end of the head: buf ends with an
 * empty line (LF LF or LF CR LF, its LF at pos - 1 or later: a line start scan_lines() visits),
 * as a request without a body arriving whole does. False says nothing. */
static bool ends_with_empty_line(const uint8_t *buf, size_t lim, size_t pos)
{
    if (lim <= pos || buf[lim - 1] != '\n')
        return false;
    if (buf[lim - 2] == '\n')
        return true; /* lim - 2 >= pos - 1: the request line's LF at the earliest */
    return lim - 2 >= pos && buf[lim - 2] == '\r' && buf[lim - 3] == '\n';
}

static enum dstatus req_parse(const uint8_t *buf, size_t len, bool early, struct http_req *out,
                              size_t *err_off)
{
    memset(out, 0, sizeof(*out));
    *err_off = 0;
    size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
    size_t pos = 0;
    while (pos < lim && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++;
    if (pos == lim)
        return len > HTTP_HEAD_MAX ? DS_LIMIT : DS_NEED_MORE;
    if (!is_method_char(buf[pos]))
        return DS_NOT_MINE;
    bool http09 = false;
    enum dstatus st = parse_request_line(buf, lim, &pos, out, &http09, err_off);
    if (st == DS_NEED_MORE && len > HTTP_HEAD_MAX)
        return DS_LIMIT;
    if (st != DS_OK)
        return st;
    if (http09) {
        out->head_len = pos;
        return DS_OK;
    }
    size_t host_end = 0;
    /* a head that surely ends within lim is parsed without looking for its end first */
    if (!ends_with_empty_line(buf, lim, pos) && scan_lines(buf, lim, pos, &host_end) == 0) {
        /* The head is not complete (or is cut by HTTP_HEAD_MAX). The early reading parses the
         * lines up to the last Host line, if any, and judges from them. */
        st = len > HTTP_HEAD_MAX ? DS_LIMIT : DS_NEED_MORE;
        if (!early)
            return st;
        if (host_end) {
            enum dstatus hs = parse_headers(buf, host_end, pos, out, err_off);
            if (hs == DS_MALFORMED)
                return hs;
        }
    } else {
        st = parse_headers(buf, lim, pos, out, err_off);
    }
    if ((st == DS_NEED_MORE || st == DS_LIMIT) && early && name_visible(out)) {
        /* the name is read; the head goes on (or is cut by a cap) */
        out->partial = true;
        out->head_len = 0;
        return DS_OK;
    }
    return st;
}

enum dstatus http_req_parse(const uint8_t *buf, size_t len, struct http_req *out, size_t *err_off)
{
    return req_parse(buf, len, false, out, err_off);
}

bool http_req_not_mine(const uint8_t *buf, size_t len)
{
    size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
    size_t pos = 0, off = 0;
    while (pos < lim && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++;
    if (pos == lim)
        return false;
    if (!is_method_char(buf[pos]))
        return true;
    struct http_req r;
    bool http09 = false;
    memset(&r, 0, sizeof(r));
    return parse_request_line(buf, lim, &pos, &r, &http09, &off) == DS_NOT_MINE;
}

enum dstatus http_req_parse_early(const uint8_t *buf, size_t len, struct http_req *out,
                                  size_t *err_off)
{
    return req_parse(buf, len, true, out, err_off);
}

static int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Length of the line at buf (LF included), or 0 if no LF within the first lim bytes. */
static size_t line_len(const uint8_t *buf, size_t len, size_t lim)
{
    const uint8_t *lf = memchr(buf, '\n', len < lim ? len : lim);
    return lf ? (size_t)(lf - buf) + 1 : 0;
}

enum dstatus http_chunk_step(const uint8_t *buf, size_t len, enum http_chunk_state *st,
                             uint64_t *skip, size_t *err_off)
{
    *skip = 0;
    *err_off = 0;
    if (len == 0)
        return DS_NEED_MORE;
    switch (*st) {
    case HTTP_CHUNK_DATA_END:
        if (buf[0] == '\n') {
            *skip = 1;
        } else if (buf[0] == '\r') {
            if (len < 2)
                return DS_NEED_MORE;
            if (buf[1] != '\n') {
                *err_off = 1;
                return DS_MALFORMED;
            }
            *skip = 2;
        } else {
            return DS_MALFORMED; /* the chunk is longer than its size said */
        }
        *st = HTTP_CHUNK_SIZE;
        return DS_OK;
    case HTTP_CHUNK_TRAILER: {
        size_t n = line_len(buf, len, HTTP_CHUNK_LINE_MAX);
        if (n == 0)
            return len >= HTTP_CHUNK_LINE_MAX ? DS_LIMIT : DS_NEED_MORE;
        *skip = n;
        if (n == 1 || (n == 2 && buf[0] == '\r'))
            *st = HTTP_CHUNK_DONE; /* the empty line: the body ends */
        return DS_OK;
    }
    case HTTP_CHUNK_SIZE: {
        size_t n = line_len(buf, len, HTTP_CHUNK_LINE_MAX);
        size_t i = 0;
        uint64_t size = 0;
        int h;
        /* judge what is there even before the line is complete: a non-hex first byte is not
         * chunked framing whatever follows */
        while (i < len && (h = hex_val(buf[i])) >= 0) {
            if (size > (UINT64_C(0x7fffffffffffffff) >> 4))
                return DS_LIMIT;
            size = size << 4 | (uint64_t)h;
            i++;
        }
        if (i == 0 && len > 0) {
            *err_off = 0;
            return DS_MALFORMED;
        }
        if (n == 0)
            return len >= HTTP_CHUNK_LINE_MAX ? DS_LIMIT : DS_NEED_MORE;
        /* after the digits: [ SP/HTAB ] [ ";" extension ] CR? LF */
        while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        if (buf[i] == ';') {
            for (i++; i < n - 1; i++) {
                if (buf[i] == '\r' && i == n - 2)
                    break;
                if (is_ctl(buf[i]) && buf[i] != '\t') {
                    *err_off = i;
                    return DS_MALFORMED;
                }
            }
        }
        if (buf[i] == '\r')
            i++;
        if (i != n - 1) {
            *err_off = i;
            return DS_MALFORMED;
        }
        *skip = n + size;
        *st = size == 0 ? HTTP_CHUNK_TRAILER : HTTP_CHUNK_DATA_END;
        return DS_OK;
    }
    case HTTP_CHUNK_DONE: break;
    }
    return DS_OK;
}

/* The name one line [i, ve) carries (trailing CR/SP/HTAB already cut): as a request line, the
 * authority of an absolute-form target; else the value of a Host line (lenient syntax). */
static struct span line_name(const uint8_t *buf, size_t i, size_t ve, bool request_line)
{
    if (request_line) {
        /* "METHOD scheme://authority/..." in any spacing */
        struct http_req t;
        memset(&t, 0, sizeof(t));
        size_t s = i;
        while (s < ve && buf[s] != ' ' && buf[s] != '\t')
            s++;
        while (s < ve && (buf[s] == ' ' || buf[s] == '\t'))
            s++;
        size_t te = s;
        while (te < ve && buf[te] != ' ' && buf[te] != '\t')
            te++;
        t.target = (struct span){ buf + s, te - s };
        split_absolute(&t);
        return t.abs_authority;
    }
    size_t s = i;
    while (s < ve && (buf[s] == ' ' || buf[s] == '\t'))
        s++;
    if (ve - s > 4 && eq_nocase(buf + s, 4, "host")) {
        size_t c = s + 4;
        while (c < ve && (buf[c] == ' ' || buf[c] == '\t'))
            c++;
        if (c < ve && buf[c] == ':') {
            c++;
            while (c < ve && (buf[c] == ' ' || buf[c] == '\t'))
                c++;
            if (c < ve)
                return (struct span){ buf + c, ve - c };
        }
    }
    return (struct span){ NULL, 0 };
}

/* End of line [i, e) without trailing CR/SP/HTAB. */
static size_t line_value_end(const uint8_t *buf, size_t i, size_t e)
{
    while (e > i && (buf[e - 1] == '\r' || buf[e - 1] == ' ' || buf[e - 1] == '\t'))
        e--;
    return e;
}

size_t http_scan_hosts(const uint8_t *buf, size_t len, struct span *names, size_t cap)
{
    size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
    size_t i = 0, k = 0;
    bool first = true;
    while (i < lim && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    while (i < lim && k < cap) {
        const uint8_t *lf = memchr(buf + i, '\n', lim - i);
        if (!lf)
            break; /* a line cut short is not a name */
        size_t e = (size_t)(lf - buf);
        struct span n = line_name(buf, i, line_value_end(buf, i, e), first);
        if (n.len)
            names[k++] = n;
        first = false;
        i = e + 1;
        if (i < lim && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < lim && buf[i + 1] == '\n')))
            break; /* the empty line: the head ends */
    }
    return k;
}

size_t http_scan_stream(const uint8_t *buf, size_t len, bool full, struct span *names, size_t cap,
                        size_t *used)
{
    size_t i = 0, k = 0;
    while (i < len && k < cap) {
        const uint8_t *lf = memchr(buf + i, '\n', len - i);
        if (!lf)
            break;
        size_t e = (size_t)(lf - buf);
        size_t ve = line_value_end(buf, i, e);
        struct span n = line_name(buf, i, ve, true);
        if (!n.len)
            n = line_name(buf, i, ve, false);
        if (n.len)
            names[k++] = n;
        i = e + 1;
    }
    *used = i;
    if (i == 0 && full)
        *used = len; /* one line longer than the buffer: no server takes such a line */
    return k;
}
