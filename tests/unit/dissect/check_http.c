/* check_http.c - Check suite for the HTTP/1.x request head dissector (proxy/http.c).
 *
 * Table cases cover every HTTP row of EVASION.md the dissector handles (H1-H9, H12-H14) plus
 * the nginx rejections; real requests come from tests/fixtures/http (manifest.tsv). Every input
 * is placed against a PROT_NONE page (tests/lib/guard.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/dissect/http.h"
#include "tests/lib/guard.h"

static enum dstatus parse_guarded(const void *in, size_t len, struct http_req *r, size_t *err)
{
    uint8_t *p = guard_copy(in, len);
    return http_req_parse(p, len, r, err);
}

static bool span_is(struct span s, const char *str)
{
    return s.len == strlen(str) && (s.len == 0 || memcmp(s.p, str, s.len) == 0);
}

#define SPAN_FMT    "'%.*s'"
#define SPAN_ARG(s) (int)(s).len, (const char *)(s).p

/* ---------------------------------------------------------------- table */

struct http_case {
    const char *id; /* EVASION.md row or short name */
    const char *in;
    enum dstatus st;
    const char *host;     /* expected host (NULL: don't care) */
    const char *target;   /* expected target (NULL: don't care) */
    const char *abs_auth; /* expected abs_authority ("" = none) */
    const char *abs_path;
    unsigned n_host;
    size_t err_off; /* for DS_MALFORMED */
};

#define GET "GET / HTTP/1.1\r\n"

static const struct http_case cases[] = {
    /* accepted, with the name a filter must see */
    { "plain", GET "Host: example.com\r\n\r\n", DS_OK, "example.com", "/", "", "", 1, 0 },
    { "H1 name case", GET "hOsT: example.com\r\n\r\n", DS_OK, "example.com", "/", "", "", 1, 0 },
    { "H1 HOST", GET "HOST: example.com\r\n\r\n", DS_OK, "example.com", "/", "", "", 1, 0 },
    { "H2 value case", GET "Host: ExAmPlE.cOm\r\n\r\n", DS_OK, "ExAmPlE.cOm", "/", "", "", 1, 0 },
    { "H3 no space", GET "Host:example.com\r\n\r\n", DS_OK, "example.com", "/", "", "", 1, 0 },
    { "H4 tabs", GET "Host:\t example.com \t\r\n\r\n", DS_OK, "example.com", "/", "", "", 1, 0 },
    { "H4 inner space kept", GET "Host: exa mple.com\r\n\r\n", DS_OK, "exa mple.com", "/", "", "",
      1, 0 },
    { "H5 trailing dot", GET "Host: example.com.\r\n\r\n", DS_OK, "example.com.", "/", "", "", 1,
      0 },
    { "H6 spaces", "GET    /p?q=1    HTTP/1.1   \r\nHost: a.example\r\n\r\n", DS_OK, "a.example",
      "/p?q=1", "", "", 1, 0 },
    { "H7 empty lines", "\r\n\r\n\n\r\nGET / HTTP/1.1\r\nHost: a.example\r\n\r\n", DS_OK,
      "a.example", "/", "", "", 1, 0 },
    { "H8 bare LF", "GET /x HTTP/1.1\nHost: a.example\nAccept: */*\n\n", DS_OK, "a.example", "/x",
      "", "", 1, 0 },
    { "H8 mixed", "GET /x HTTP/1.1\r\nHost: a.example\n\r\n", DS_OK, "a.example", "/x", "", "", 1,
      0 },
    { "H8 CR CR LF", GET "Host: a.example\r\r\n\r\n", DS_OK, "a.example", "/", "", "", 1, 0 },
    { "H12 absolute", "GET http://blocked.example/x?y HTTP/1.1\r\nHost: allowed.example\r\n\r\n",
      DS_OK, "allowed.example", "http://blocked.example/x?y", "blocked.example", "/x?y", 1, 0 },
    { "H12 port userinfo", "GET http://u:pw@blocked.example:8080 HTTP/1.1\r\nHost: ok\r\n\r\n",
      DS_OK, "ok", NULL, "blocked.example:8080", "", 1, 0 },
    { "H12 scheme case", "GET HTTP://Blocked.Example:80/ HTTP/1.1\r\n\r\n", DS_OK, "", NULL,
      "Blocked.Example:80", "/", 0, 0 },
    { "H12 query only", "GET https://b.example?q HTTP/1.1\r\n\r\n", DS_OK, "", NULL, "b.example",
      "?q", 0, 0 },
    { "H12 ipv6", "GET http://[::1]:80/ HTTP/1.1\r\n\r\n", DS_OK, "", NULL, "[::1]:80", "/", 0, 0 },
    { "H12 not absolute", "GET foo:bar HTTP/1.1\r\nHost: a\r\n\r\n", DS_OK, "a", "foo:bar", "", "",
      1, 0 },
    { "H13 two hosts", GET "Host: allowed.example\r\nHost: blocked.example\r\n\r\n", DS_OK,
      "allowed.example", "/", "", "", 2, 0 },
    { "H13 three hosts", GET "Host: a\r\nhost: b\r\nHOST: c\r\n\r\n", DS_OK, "a", "/", "", "", 3,
      0 },
    { "H14 port", GET "Host: name.example:80\r\n\r\n", DS_OK, "name.example:80", "/", "", "", 1,
      0 },
    { "H14 percent", GET "Host: %62locked.example\r\n\r\n", DS_OK, "%62locked.example", "/", "", "",
      1, 0 },
    { "H14 idn",
      GET "Host: \xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84\r\n\r\n", DS_OK,
      "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84", "/", "", "", 1, 0 },
    { "no host", GET "Accept: */*\r\n\r\n", DS_OK, "", "/", "", "", 0, 0 },
    { "empty host", GET "Host:\r\n\r\n", DS_OK, "", "/", "", "", 1, 0 },
    { "colon-less line", GET "Foo\r\nHost: a\r\n\r\n", DS_OK, "a", "/", "", "", 1, 0 },
    { "HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", DS_OK, "", "/", "", "", 0, 0 },
    { "HTTP/0.9", "GET /old\r\n", DS_OK, "", "/old", "", "", 0, 0 },
    { "HTTP/0.9 spaces", "GET /old  \n", DS_OK, "", "/old", "", "", 0, 0 },
    { "odd method", "M-SEARCH_X * HTTP/1.1\r\nHost: a\r\n\r\n", DS_OK, "a", "*", "", "", 1, 0 },
    /* nginx ignores header lines with bytes outside [A-Za-z0-9-] in the name */
    { "invalid name ignored", GET "X@Host: evil\r\nHost: good\r\n\r\n", DS_OK, "good", "/", "", "",
      1, 0 },
    { "underscore ignored", GET "Host_: evil\r\nHost: good\r\n\r\n", DS_OK, "good", "/", "", "", 1,
      0 },
    { "8-bit name ignored", GET "Ho\xc5\x9ft: evil\r\n\r\n", DS_OK, "", "/", "", "", 0, 0 },

    /* rejected by nginx with 400 */
    { "obs-fold", GET "Host: a\r\n b.example\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0,
      25 },
    { "obs-fold tab", GET "X: 1\r\n\tHost: b\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0,
      22 },
    { "space before colon", GET "Host : a\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 20 },
    { "space in name", GET "Ho st: a\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 18 },
    { "ctl in name", GET "Ho\x01st: a\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 18 },
    { "empty name", GET ": a\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 16 },
    { "NUL in value",
      GET "Host: a\x00"
          "b\r\n\r\n",
      DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 23 },
    { "CR inside value", GET "Host: a\rb\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 24 },
    { "bad CRLF at end", GET "Host: a\r\n\rX\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0,
      26 },
    { "lower-case version", "GET / http/1.1\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 6 },
    { "space in target", "GET /a b HTTP/1.1\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 7 },
    { "ctl in target", "GET /a\x01 HTTP/1.1\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 6 },
    { "CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0,
      15 },
    { "no minor", "GET / HTTP/1\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 12 },
    { "version 100", "GET / HTTP/100.1\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 14 },
    { "tab after method", "GET\t/ HTTP/1.1\r\n\r\n", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
    { "CL letters", GET "Content-Length: 12a\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0,
      34 },
    { "CL empty", GET "Content-Length:\r\n\r\n", DS_MALFORMED, NULL, NULL, NULL, NULL, 0, 16 },
    { "CL twice", GET "Content-Length: 1\r\nContent-Length: 1\r\n\r\n", DS_MALFORMED, NULL, NULL,
      NULL, NULL, 0, 35 },
    { "CL overflow", GET "Content-Length: 9223372036854775808\r\n\r\n", DS_MALFORMED, NULL, NULL,
      NULL, NULL, 0, 50 },

    /* not HTTP/1 */
    { "h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
    { "HTTP/2.0 line", "GET / HTTP/2.0\r\n\r\n", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
    { "lower-case method", "get / HTTP/1.1\r\n\r\n", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
    { "TLS", "\x16\x03\x01\x02\x00\x01", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
    { "SSH", "SSH-2.0-OpenSSH_9.2\r\n", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
    { "empty method", "\r\n / HTTP/1.1\r\n\r\n", DS_NOT_MINE, NULL, NULL, NULL, NULL, 0, 0 },
};

START_TEST(test_table)
{
    const struct http_case *c = &cases[_i];
    size_t len = strlen(c->in);
    if (strcmp(c->id, "NUL in value") == 0)
        len = sizeof(GET "Host: a\x00"
                         "b\r\n\r\n") -
              1;
    struct http_req r;
    size_t err = 12345;
    /* the protocol guess (request line only) agrees with the whole parse, on every prefix */
    for (size_t k = 0; k <= len; k++) {
        uint8_t *p = guard_copy(c->in, k);
        bool nm = http_req_parse(p, k, &r, &err) == DS_NOT_MINE;
        ck_assert_msg(http_req_not_mine(p, k) == nm, "%s: not_mine %d on prefix %zu", c->id, !nm,
                      k);
    }
    enum dstatus st = parse_guarded(c->in, len, &r, &err);
    ck_assert_msg(st == c->st, "%s: got %s (err %zu), want %s", c->id, dstatus_name(st), err,
                  dstatus_name(c->st));
    if (st == DS_MALFORMED)
        ck_assert_msg(err == c->err_off, "%s: err_off %zu, want %zu", c->id, err, c->err_off);
    if (st != DS_OK) {
        guard_free();
        return;
    }
    ck_assert_msg(r.head_len == len, "%s: head_len %zu of %zu", c->id, r.head_len, len);
    if (c->host != NULL)
        ck_assert_msg(span_is(r.host, c->host), "%s: host " SPAN_FMT, c->id, SPAN_ARG(r.host));
    if (c->target != NULL)
        ck_assert_msg(span_is(r.target, c->target), "%s: target " SPAN_FMT, c->id,
                      SPAN_ARG(r.target));
    ck_assert_msg(span_is(r.abs_authority, c->abs_auth), "%s: abs_authority " SPAN_FMT, c->id,
                  SPAN_ARG(r.abs_authority));
    ck_assert_msg(span_is(r.abs_path, c->abs_path), "%s: abs_path " SPAN_FMT, c->id,
                  SPAN_ARG(r.abs_path));
    ck_assert_uint_eq(r.n_host, c->n_host);
    /* every strict prefix of an accepted head is NEED_MORE */
    for (size_t k = 0; k < len; k++) {
        st = parse_guarded(c->in, k, &r, &err);
        ck_assert_msg(st == DS_NEED_MORE, "%s: prefix %zu gave %s", c->id, k, dstatus_name(st));
    }
    guard_free();
}
END_TEST

START_TEST(test_fields)
{
    struct http_req r;
    size_t err;
    static const char two[] = GET "Host: allowed.example\r\nHost: blocked.example\r\n\r\n";
    ck_assert_int_eq(parse_guarded(two, sizeof(two) - 1, &r, &err), DS_OK);
    ck_assert(span_is(r.host2, "blocked.example"));
    ck_assert(span_is(r.method, "GET"));
    ck_assert(span_is(r.version, "HTTP/1.1"));

    static const char old[] = "GET /old\r\n";
    ck_assert_int_eq(parse_guarded(old, sizeof(old) - 1, &r, &err), DS_OK);
    ck_assert_uint_eq(r.version.len, 0);
    ck_assert_uint_eq(r.head_len, 10);

    static const char body[] = "POST /f HTTP/1.1\r\nContent-Length:  42 \r\nHost: a\r\n\r\n";
    ck_assert_int_eq(parse_guarded(body, sizeof(body) - 1, &r, &err), DS_OK);
    ck_assert(r.has_content_length);
    ck_assert_uint_eq(r.content_length, 42);
    ck_assert(!r.chunked);
    ck_assert(span_is(r.method, "POST"));

    static const char max[] = GET "Content-Length: 9223372036854775807\r\n\r\n";
    ck_assert_int_eq(parse_guarded(max, sizeof(max) - 1, &r, &err), DS_OK);
    ck_assert_uint_eq(r.content_length, UINT64_C(9223372036854775807));

    static const char te[] = "POST / HTTP/1.1\r\nTransfer-Encoding: ChUnKeD\r\n\r\n";
    ck_assert_int_eq(parse_guarded(te, sizeof(te) - 1, &r, &err), DS_OK);
    ck_assert(r.chunked);
    ck_assert(!r.has_content_length);
    static const char te2[] = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    ck_assert_int_eq(parse_guarded(te2, sizeof(te2) - 1, &r, &err), DS_OK);
    ck_assert(!r.chunked); /* nginx answers 501 to anything but exactly "chunked" */

    static const char up[] = GET "Connection: Upgrade\r\nUpgrade: websocket, H2C \r\n\r\n";
    ck_assert_int_eq(parse_guarded(up, sizeof(up) - 1, &r, &err), DS_OK);
    ck_assert(r.upgrade_h2c);
    static const char up2[] = GET "Upgrade: h2c2, xh2c\r\n\r\n";
    ck_assert_int_eq(parse_guarded(up2, sizeof(up2) - 1, &r, &err), DS_OK);
    ck_assert(!r.upgrade_h2c);
    guard_free();
}
END_TEST

/* H11 / pipelining: the next request starts at head_len + content_length. */
START_TEST(test_pipelined)
{
    static const char two[] = "POST /a HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 5\r\n"
                              "\r\nhelloGET /b HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
                              "GET /c HTTP/1.1\nHost: third.example\n\n";
    size_t len = sizeof(two) - 1, off = 0;
    const char *want[] = { "allowed.example", "blocked.example", "third.example" };
    const char *path[] = { "/a", "/b", "/c" };
    uint8_t *p = guard_copy(two, len);
    for (size_t i = 0; i < 3; i++) {
        struct http_req r;
        size_t err;
        ck_assert_int_eq(http_req_parse(p + off, len - off, &r, &err), DS_OK);
        ck_assert(span_is(r.host, want[i]));
        ck_assert(span_is(r.target, path[i]));
        off += r.head_len + r.content_length;
    }
    ck_assert_uint_eq(off, len);
    guard_free();
}
END_TEST

/* ---------------------------------------------------------------- real requests */

START_TEST(test_fixtures)
{
    const char *dir = getenv("QG_FIXTURES") ? getenv("QG_FIXTURES") : "tests/fixtures";
    char path[512], line[1024];
    snprintf(path, sizeof(path), "%s/http/manifest.tsv", dir);
    FILE *m = fopen(path, "r");
    ck_assert_msg(m != NULL, "cannot open %s", path);
    unsigned n = 0;
    while (fgets(line, sizeof(line), m) != NULL) {
        char file[128], proto[16], host[128], target[512];
        line[strcspn(line, "\n")] = '\0';
        ck_assert_int_eq(
            sscanf(line, "%127[^\t]\t%15[^\t]\t%127[^\t]\t%511[^\t]", file, proto, host, target),
            4);
        static uint8_t data[8192];
        snprintf(path, sizeof(path), "%s/http/%s", dir, file);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        size_t len = fread(data, 1, sizeof(data), f);
        fclose(f);
        struct http_req r;
        size_t err = 0;
        enum dstatus st = parse_guarded(data, len, &r, &err);
        if (strcmp(proto, "h2c") == 0) {
            ck_assert_msg(st == DS_NOT_MINE, "%s: %s", file, dstatus_name(st));
            ck_assert(http_is_h2_preface(data, len));
            n++;
            continue;
        }
        ck_assert(!http_is_h2_preface(data, len));
        ck_assert_msg(st == DS_OK, "%s: %s at %zu", file, dstatus_name(st), err);
        ck_assert_msg(span_is(r.host, host), "%s: host " SPAN_FMT, file, SPAN_ARG(r.host));
        ck_assert_msg(span_is(r.target, target), "%s: target " SPAN_FMT, file, SPAN_ARG(r.target));
        ck_assert_uint_eq(r.head_len, len);
        ck_assert_uint_eq(r.n_host, 1);
        if (strstr(file, "nghttp_31") != NULL)
            ck_assert(r.upgrade_h2c);
        for (size_t k = 0; k < len; k++) {
            st = parse_guarded(data, k, &r, &err);
            ck_assert_msg(st == DS_NEED_MORE, "%s: prefix %zu: %s", file, k, dstatus_name(st));
        }
        n++;
    }
    fclose(m);
    ck_assert_uint_ge(n, 6);
    guard_free();
}
END_TEST

START_TEST(test_h2_preface)
{
    static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    for (size_t k = 1; k <= 24; k++)
        ck_assert(http_is_h2_preface(guard_copy(pre, k), k));
    ck_assert(!http_is_h2_preface(guard_copy(pre, 0), 0));
    ck_assert(!http_is_h2_preface(guard_copy("PRI * HTTP/1.1", 14), 14));
    ck_assert(!http_is_h2_preface(guard_copy("GET", 3), 3));
    /* a preface prefix is a valid HTTP/1 prefix until the version says 2.0 */
    struct http_req r;
    size_t err;
    ck_assert_int_eq(parse_guarded(pre, 10, &r, &err), DS_NEED_MORE);
    ck_assert_int_eq(parse_guarded(pre, 16, &r, &err), DS_NOT_MINE);
    guard_free();
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST(test_limits)
{
    static char big[HTTP_HEAD_MAX + 4096];
    struct http_req r;
    size_t err;
    /* H9: kilobytes of padding headers before Host are fine */
    size_t n = (size_t)snprintf(big, sizeof(big), GET);
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad-%03d: %0200d\r\n", i, 0);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "Host: late.example\r\n\r\n");
    ck_assert_uint_gt(n, 40000);
    ck_assert_int_eq(parse_guarded(big, n, &r, &err), DS_OK);
    ck_assert(span_is(r.host, "late.example"));

    /* 256 headers OK, 257 LIMIT */
    for (int count = 256; count <= 257; count++) {
        n = (size_t)snprintf(big, sizeof(big), GET);
        for (int i = 0; i < count - 1; i++)
            n += (size_t)snprintf(big + n, sizeof(big) - n, "X: %d\r\n", i);
        n += (size_t)snprintf(big + n, sizeof(big) - n, "Host: h\r\n\r\n");
        ck_assert_int_eq(parse_guarded(big, n, &r, &err), count == 256 ? DS_OK : DS_LIMIT);
    }

    /* a head that does not end within HTTP_HEAD_MAX bytes */
    n = (size_t)snprintf(big, sizeof(big), GET "X: ");
    memset(big + n, 'a', sizeof(big) - n);
    ck_assert_int_eq(parse_guarded(big, HTTP_HEAD_MAX, &r, &err), DS_NEED_MORE);
    ck_assert_int_eq(parse_guarded(big, HTTP_HEAD_MAX + 1, &r, &err), DS_LIMIT);
    /* a head ending exactly at HTTP_HEAD_MAX is accepted */
    memcpy(big + HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
    ck_assert_int_eq(parse_guarded(big, HTTP_HEAD_MAX, &r, &err), DS_OK);
    ck_assert_uint_eq(r.head_len, HTTP_HEAD_MAX);
    /* a request line longer than HTTP_HEAD_MAX, and endless empty lines */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', sizeof(big) - 5);
    ck_assert_int_eq(parse_guarded(big, sizeof(big), &r, &err), DS_LIMIT);
    memset(big, '\n', sizeof(big));
    ck_assert_int_eq(parse_guarded(big, HTTP_HEAD_MAX, &r, &err), DS_NEED_MORE);
    ck_assert_int_eq(parse_guarded(big, sizeof(big), &r, &err), DS_LIMIT);
    guard_free();
}
END_TEST

static enum dstatus early_guarded(const void *in, size_t len, struct http_req *r, size_t *err)
{
    uint8_t *p = guard_copy(in, len);
    return http_req_parse_early(p, len, r, err);
}

/* EVASION H9: the name is judged once the request line and the Host line are complete, without
 * the rest of the head; a cut inside Host is not a name; past every cap the name still shows. */
START_TEST(test_early)
{
    static char big[HTTP_HEAD_MAX + 8192];
    struct http_req r;
    size_t err;
    size_t n = (size_t)snprintf(big, sizeof(big), "GET /p HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad-%03d: %0200d\r\n", i, 0);
    size_t host_at = n;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "Host: blocked.example\r\n");
    size_t host_end = n;
    while (n < sizeof(big) - 300)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-More: %0200d\r\n", 0);
    ck_assert_uint_gt(n, HTTP_HEAD_MAX);
    /* every prefix up to the end of the Host line: NEED_MORE (also cut inside the value) */
    for (size_t k = host_at - 3; k < host_end; k++)
        ck_assert_int_eq(early_guarded(big, k, &r, &err), DS_NEED_MORE);
    /* from there on, a partial OK naming it, also past HTTP_HEAD_MAX */
    size_t at[] = { host_end, host_end + 1, 32768, HTTP_HEAD_MAX, HTTP_HEAD_MAX + 1, n };
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        ck_assert_int_eq(early_guarded(big, at[i], &r, &err), DS_OK);
        ck_assert(r.partial);
        ck_assert_uint_eq(r.head_len, 0);
        ck_assert(span_is(r.host, "blocked.example"));
        ck_assert(span_is(r.target, "/p"));
    }
    /* the whole-head parser waits or gives up */
    ck_assert_int_eq(parse_guarded(big, 32768, &r, &err), DS_NEED_MORE);
    ck_assert_int_eq(parse_guarded(big, n, &r, &err), DS_LIMIT);
    /* a second Host further on is reported once its line is complete */
    n = (size_t)snprintf(big, sizeof(big),
                         "GET / HTTP/1.1\r\nHost: a.example\r\nX: 1\r\nHost: b.example\r\nX");
    ck_assert_int_eq(early_guarded(big, n, &r, &err), DS_OK);
    ck_assert(r.partial && r.n_host == 2 && span_is(r.host2, "b.example"));
    ck_assert_int_eq(early_guarded(big, n - 3, &r, &err), DS_OK);
    ck_assert(r.partial && r.n_host == 1);
    /* absolute-form target and CONNECT name the server from the request line */
    n = (size_t)snprintf(big, sizeof(big), "GET http://blocked.example/x HTTP/1.1\r\nX-");
    ck_assert_int_eq(early_guarded(big, n, &r, &err), DS_OK);
    ck_assert(r.partial && span_is(r.abs_authority, "blocked.example"));
    n = (size_t)snprintf(big, sizeof(big), "CONNECT blocked.example:443 HTTP/1.1\r\n");
    ck_assert_int_eq(early_guarded(big, n, &r, &err), DS_OK);
    ck_assert(r.partial && span_is(r.target, "blocked.example:443"));
    /* origin-form without a Host yet: nothing to judge */
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: 1\r\n");
    ck_assert_int_eq(early_guarded(big, n, &r, &err), DS_NEED_MORE);
    /* a malformed line before the Host line is still MALFORMED (lines after it are checked
     * when the head is complete) */
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nBad Name: x\r\nHost: a.example\r\n");
    ck_assert_int_eq(early_guarded(big, n, &r, &err), DS_MALFORMED);
    /* a complete head is not partial and agrees with the whole parser */
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    ck_assert_int_eq(early_guarded(big, n, &r, &err), DS_OK);
    ck_assert(!r.partial && r.head_len == n);
    guard_free();
}
END_TEST

/* Walks a whole chunked body with http_chunk_step(), as the pipeline does; returns the bytes
 * the body took (0 if the walk did not end in HTTP_CHUNK_DONE), *last = the last status. */
static size_t walk_chunked(const char *body, size_t len, enum dstatus *last)
{
    enum http_chunk_state st = HTTP_CHUNK_SIZE;
    size_t at = 0;
    *last = DS_OK;
    for (int guard = 0; guard < 100 && st != HTTP_CHUNK_DONE; guard++) {
        uint64_t skip = 0;
        size_t err = 0;
        uint8_t *p = guard_copy(body + at, len - at);
        *last = http_chunk_step(p, len - at, &st, &skip, &err);
        if (*last != DS_OK)
            return 0;
        ck_assert_uint_gt(skip, 0);
        at += (size_t)skip;
        if (at > len)
            return 0;
    }
    return st == HTTP_CHUNK_DONE ? at : 0;
}

/* EVASION H16/H17: chunked framing is skipped element by element, data unread. */
START_TEST(test_chunked)
{
    static const struct {
        const char *body;
        enum dstatus want; /* DS_OK: the whole body is walked */
    } ccases[] = {
        { "5\r\nhello\r\n0\r\n\r\n", DS_OK },
        { "5;name=x;y=\"a b\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", DS_OK },
        { "a\nGET / HTTP\n000\nX-Trailer: 1\nY: 2\n\n", DS_OK }, /* bare LF, 0s, trailers */
        { "5 ;ext\r\nhello\r\n0 \r\n\r\n", DS_OK },              /* SP before ';' / CRLF */
        { "fFfF\r\n", DS_NEED_MORE },                            /* data not here yet */
        { "x\r\n", DS_MALFORMED },                               /* not a size */
        { "5\r\nhelloX\r\n", DS_MALFORMED },                     /* data longer than 5 */
        { "5\rX\r\nhello\r\n", DS_MALFORMED },                   /* CR not before LF */
        { "5;a\x01b\r\nhello\r\n", DS_MALFORMED },               /* CTL in extension */
        { "8000000000000000\r\n", DS_LIMIT },                    /* >= 2^63 */
    };
    for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
        enum dstatus last;
        size_t len = strlen(ccases[i].body);
        size_t took = walk_chunked(ccases[i].body, len, &last);
        if (ccases[i].want == DS_OK) {
            ck_assert_msg(took == len, "case %zu: took %zu of %zu (%s)", i, took, len,
                          dstatus_name(last));
        } else if (ccases[i].want == DS_NEED_MORE) {
            /* the size line is read; its data is skipped without being buffered */
            enum http_chunk_state st = HTTP_CHUNK_SIZE;
            uint64_t skip = 0;
            size_t err;
            ck_assert_int_eq(
                http_chunk_step((const uint8_t *)ccases[i].body, len, &st, &skip, &err), DS_OK);
            ck_assert_uint_eq(skip, 6 + 0xffff);
            ck_assert_int_eq(st, HTTP_CHUNK_DATA_END);
        } else {
            ck_assert_msg(took == 0 && last == ccases[i].want, "case %zu: %s", i,
                          dstatus_name(last));
        }
    }
    /* every strict prefix of each element is NEED_MORE */
    static const char *const elems[] = { "1a;x=y\r\n", "0\r\n" };
    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < strlen(elems[i]); k++) {
            enum http_chunk_state st = HTTP_CHUNK_SIZE;
            uint64_t skip;
            size_t err;
            uint8_t *p = guard_copy(elems[i], k);
            ck_assert_int_eq(http_chunk_step(p, k, &st, &skip, &err), DS_NEED_MORE);
        }
    }
    enum http_chunk_state st = HTTP_CHUNK_DATA_END;
    uint64_t skip;
    size_t err;
    ck_assert_int_eq(http_chunk_step((const uint8_t *)"\r", 1, &st, &skip, &err), DS_NEED_MORE);
    st = HTTP_CHUNK_TRAILER;
    ck_assert_int_eq(http_chunk_step((const uint8_t *)"X-T: 1\r", 8, &st, &skip, &err),
                     DS_NEED_MORE);
    /* a chunk-size line past HTTP_CHUNK_LINE_MAX */
    static char line[HTTP_CHUNK_LINE_MAX + 10];
    memset(line, ' ', sizeof(line));
    line[0] = '1';
    line[1] = ';';
    st = HTTP_CHUNK_SIZE;
    uint8_t *p = guard_copy(line, sizeof(line));
    ck_assert_int_eq(http_chunk_step(p, sizeof(line), &st, &skip, &err), DS_LIMIT);
    guard_free();
}
END_TEST

/* S10's HTTP variant: what nginx refuses, the lenient scan still reads. */
/* http_scan_stream: every complete line is a candidate - absolute-form request lines and Host
 * lines in any spacing or case, anywhere (a stream whose request starts cannot be located); a
 * line still arriving is left for later, a line longer than a full buffer is dropped. */
START_TEST(test_scan_stream)
{
    static const char t[] = "X-Pad: aaaa\r\n"
                            "hOsT :  one.example \r\n"
                            "\r\n"
                            "body bytes GET / HTTP/1.1\r\n"
                            "POST http://two.example:80/x HTTP/1.1\r\n"
                            "\tHost:three.example\n"
                            "Host: four.exa";
    struct span n[8];
    size_t used;
    size_t k = http_scan_stream((const uint8_t *)t, sizeof(t) - 1, false, n, 8, &used);
    ck_assert_uint_eq(k, 3);
    ck_assert_int_eq(n[0].len, 11);
    ck_assert_int_eq(memcmp(n[0].p, "one.example", 11), 0);
    ck_assert_int_eq(n[1].len, 14);
    ck_assert_int_eq(memcmp(n[1].p, "two.example:80", 14), 0);
    ck_assert_int_eq(n[2].len, 13);
    ck_assert_int_eq(memcmp(n[2].p, "three.example", 13), 0);
    ck_assert_uint_eq(used, sizeof(t) - 1 - strlen("Host: four.exa")); /* the last line waits */
    /* cap: stops after the line that filled it */
    k = http_scan_stream((const uint8_t *)t, sizeof(t) - 1, false, n, 1, &used);
    ck_assert_uint_eq(k, 1);
    ck_assert_uint_eq(used, strlen("X-Pad: aaaa\r\nhOsT :  one.example \r\n"));
    /* no complete line: nothing used, unless the buffer is full */
    k = http_scan_stream((const uint8_t *)"Host: x", 7, false, n, 8, &used);
    ck_assert_uint_eq(k + used, 0);
    k = http_scan_stream((const uint8_t *)"Host: x", 7, true, n, 8, &used);
    ck_assert_uint_eq(k, 0);
    ck_assert_uint_eq(used, 7);
    /* every prefix on a guard page: no over-read */
    for (size_t len = 0; len <= sizeof(t) - 1; len++) {
        const uint8_t *g = guard_copy(t, len);
        (void)http_scan_stream(g, len, len % 2 == 0, n, 8, &used);
        ck_assert_uint_le(used, len);
    }
    guard_free();
}
END_TEST

START_TEST(test_lenient_hosts)
{
    struct span n[2];
    struct http_req r;
    size_t err;
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nX-F: a\r\n b\r\nHost : blocked.example\r\n\r\n",
        "GET / HTTP/1.1\r\n Host:blocked.example \r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: 1\r\nHOST:\tblocked.example\r\n\r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        size_t len = strlen(bad[i]);
        ck_assert_int_eq(parse_guarded(bad[i], len, &r, &err), DS_MALFORMED);
        uint8_t *p = guard_copy(bad[i], len);
        ck_assert_uint_eq(http_scan_hosts(p, len, n, 2), 1);
        ck_assert_msg(span_is(n[0], "blocked.example"), "case %zu", i);
    }
    /* absolute-form authority and two Host lines: the first two names */
    static const char two[] =
        "GET  http://a.example/x HTTP/1.1\r\nHost: b.example\r\nHost: c\r\n\r\nHost: d\r\n";
    uint8_t *p = guard_copy(two, sizeof(two) - 1);
    ck_assert_uint_eq(http_scan_hosts(p, sizeof(two) - 1, n, 2), 2);
    ck_assert(span_is(n[0], "a.example") && span_is(n[1], "b.example"));
    /* nothing after the head's empty line, and no line cut short */
    static const char cut[] = "GET / HTTP/1.1\r\nX: 1\r\n\r\nHost: d\r\n";
    p = guard_copy(cut, sizeof(cut) - 1);
    ck_assert_uint_eq(http_scan_hosts(p, sizeof(cut) - 1, n, 2), 0);
    static const char part[] = "GET / HTTP/1.1\r\nHost: blocked.exa";
    p = guard_copy(part, sizeof(part) - 1);
    ck_assert_uint_eq(http_scan_hosts(p, sizeof(part) - 1, n, 2), 0);
    guard_free();
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("valid");
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_pipelined);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_h2_preface);
    tcase_add_test(tc, test_chunked);
    tcase_add_test(tc, test_lenient_hosts);
    tcase_add_test(tc, test_scan_stream);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_early);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
