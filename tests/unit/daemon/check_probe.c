/* check_probe.c - Check suite "probe": the verification probes of `qorgau verify`.
 *
 * Builders: the HTTP request is exact; the ClientHello parses back with proxy/dissect/tls.c to
 * the right name, is larger than 1500 bytes (two TCP segments) and carries a well-formed
 * X25519MLKEM768 share; an OpenSSL server answers it with a ServerHello; the two QUIC Initials
 * open with proxy/dissect/quic.c and their CRYPTO data, joined, is the ClientHello with the
 * name. Classifier: crafted answers (redirects, 451, alerts, ServerHello, QUIC close / server
 * Initial / Version Negotiation, resets, refusals, timeouts). Report: JSON document, exit
 * statuses and alarm lines. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "proxy/daemon/probe.h"
#include "proxy/daemon/verify.h"
#include "proxy/dissect/quic.h"
#include "proxy/dissect/tls.h"

static void rand_fill(struct probe_rand *r, uint8_t seed)
{
    uint8_t *p = (uint8_t *)r;
    uint32_t x = 0x9e3779b9u ^ seed;
    for (size_t i = 0; i < sizeof(*r); i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
}

static bool span_is(struct span s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void check_v(const struct probe_verdict *v, enum probe_outcome outcome, enum probe_how how)
{
    ck_assert_msg(v->outcome == outcome && v->how == how, "got outcome %d how %s (%s)", v->outcome,
                  probe_how_name(v->how), v->detail);
}

/* ---- HTTP -------------------------------------------------------------------------------- */

START_TEST(test_http_request)
{
    char out[PROBE_REQUEST_MAX];
    size_t n = probe_http_request("blocked.test", "/page?x=1", out, sizeof(out));
    const char *want = "GET /page?x=1 HTTP/1.1\r\nHost: blocked.test\r\nUser-Agent: "
                       "qorgau-verify/1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_str_eq(out, want);
    n = probe_http_request("fd00::2", "/", out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\nHost: [fd00::2]\r\n"));
    ck_assert_uint_eq(probe_http_request("a b", "/", out, sizeof(out)), 0);
    ck_assert_uint_eq(probe_http_request("a", "/x\r\nEvil: 1", out, sizeof(out)), 0);
    ck_assert_uint_eq(probe_http_request("a", "x", out, sizeof(out)), 0);
    ck_assert_uint_eq(probe_http_request("", "/", out, sizeof(out)), 0);
    ck_assert_uint_eq(probe_http_request("blocked.test", "/", out, 20), 0);
}
END_TEST

/* ---- TLS --------------------------------------------------------------------------------- */

/* The X25519MLKEM768 key share inside a hello: its 1216 bytes, or NULL. */
static const uint8_t *find_pq_share(const uint8_t *b, size_t len)
{
    for (size_t i = 0; i + 4 + PROBE_MLKEM_SHARE <= len; i++)
        if (b[i] == 0x11 && b[i + 1] == 0xec && b[i + 2] == 0x04 && b[i + 3] == 0xc0)
            return b + i + 4;
    return NULL;
}

static void check_mlkem(const uint8_t *share)
{
    for (size_t i = 0; i < 1152; i += 3) {
        unsigned a = share[i] | (share[i + 1] & 0x0fu) << 8;
        unsigned b = share[i + 1] >> 4 | (unsigned)share[i + 2] << 4;
        ck_assert_uint_lt(a, 3329);
        ck_assert_uint_lt(b, 3329);
    }
}

START_TEST(test_tls_hello)
{
    struct probe_rand r;
    rand_fill(&r, 1);
    uint8_t h[PROBE_HELLO_MAX], h2[PROBE_HELLO_MAX];
    size_t n = probe_tls_hello("blocked.test", &r, h, sizeof(h));
    ck_assert_uint_gt(n, 1500);
    ck_assert_uint_eq(h[0], 0x16);
    ck_assert_uint_eq((size_t)(h[3] << 8 | h[4]), n - 5); /* one record */
    struct tls_hello th;
    size_t eo = 0;
    ck_assert_int_eq(tls_hello_parse(h, n, NULL, 0, &th, &eo), DS_OK);
    ck_assert(th.has_sni);
    ck_assert(span_is(th.sni, "blocked.test"));
    ck_assert(span_is(th.alpn, "http/1.1"));
    ck_assert_uint_eq(th.max_version, 0x0304);
    ck_assert_uint_eq(th.consumed, n);
    /* the name is cut across the two segments' boundary only if it were after 1448: it is
     * early, and the hello as a whole needs the second segment */
    ck_assert_int_eq(tls_hello_parse(h, 1448, NULL, 0, &th, &eo), DS_NEED_MORE);
    const uint8_t *share = find_pq_share(h, n);
    ck_assert_ptr_nonnull(share);
    check_mlkem(share);
    /* worst case for the reduction: every random byte 0xff */
    memset(r.mlkem, 0xff, sizeof(r.mlkem));
    n = probe_tls_hello("blocked.test", &r, h, sizeof(h));
    check_mlkem(find_pq_share(h, n));
    /* deterministic in its inputs */
    ck_assert_uint_eq(probe_tls_hello("blocked.test", &r, h2, sizeof(h2)), n);
    ck_assert_mem_eq(h, h2, n);
    /* no name */
    n = probe_tls_hello(NULL, &r, h, sizeof(h));
    ck_assert_int_eq(tls_hello_parse(h, n, NULL, 0, &th, &eo), DS_OK);
    ck_assert(!th.has_sni);
    /* limits */
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_uint_eq(probe_tls_hello(longname, &r, h, sizeof(h)), 0);
    ck_assert_uint_eq(probe_tls_hello("blocked.test", &r, h, 1000), 0);
}
END_TEST

/* A real TLS stack (OpenSSL as a server, memory BIOs) answers the probe's hello with a
 * ServerHello: the classifier then says "answered". */
START_TEST(test_tls_hello_openssl_answers)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    X509 *crt = X509_new();
    X509_set_version(crt, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
    X509_gmtime_adj(X509_getm_notBefore(crt), 0);
    X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(crt), "CN", MBSTRING_ASC,
                               (const unsigned char *)"allowed.test", -1, -1, 0);
    X509_set_issuer_name(crt, X509_get_subject_name(crt));
    X509_set_pubkey(crt, key);
    ck_assert_int_gt(X509_sign(crt, key, EVP_sha256()), 0);
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    ck_assert_int_eq(SSL_CTX_use_certificate(sc, crt), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(sc, key), 1);
    for (int tls12 = 0; tls12 < 2; tls12++) {
        if (tls12)
            SSL_CTX_set_max_proto_version(sc, TLS1_2_VERSION);
        SSL *s = SSL_new(sc);
        BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
        SSL_set_bio(s, in, out);
        SSL_set_accept_state(s);
        struct probe_rand r;
        rand_fill(&r, (uint8_t)(2 + tls12));
        uint8_t h[PROBE_HELLO_MAX];
        size_t n = probe_tls_hello("allowed.test", &r, h, sizeof(h));
        BIO_write(in, h, (int)n);
        int rc = SSL_do_handshake(s);
        ck_assert_int_le(rc, 0);
        ck_assert_int_eq(SSL_get_error(s, rc), SSL_ERROR_WANT_READ);
        uint8_t ans[8192];
        int an = BIO_read(out, ans, sizeof(ans));
        ck_assert_int_ge(an, 6);
        struct probe_expect x = { "allowed.test", NULL, false, NULL, NULL, 0 };
        ck_assert(probe_answer_complete(PROBE_WIRE_TLS, ans, (size_t)an));
        struct probe_verdict v;
        probe_classify(PROBE_WIRE_TLS, ans, (size_t)an, PROBE_EV_DATA, &x, &v);
        check_v(&v, PROBE_OPEN, PROBE_HOW_ANSWERED);
        ck_assert_str_eq(v.detail, "ServerHello");
        SSL_free(s);
    }
    SSL_CTX_free(sc);
    X509_free(crt);
    EVP_PKEY_free(key);
}
END_TEST

/* ---- QUIC -------------------------------------------------------------------------------- */

START_TEST(test_quic_initials)
{
    struct quic_ctx *ctx = quic_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    struct probe_rand r;
    rand_fill(&r, 4);
    static struct probe_quic q;
    ck_assert_int_eq(probe_quic_initials(ctx, "blocked.test", &r, &q), 0);
    ck_assert_uint_gt(q.hello_len, 1200); /* PQ size: does not fit one Initial */
    static struct quic_crypto c;
    quic_crypto_init(&c);
    uint8_t plain[QUIC_PLAIN_MAX];
    for (size_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(q.len[i], PROBE_QUIC_DATAGRAM);
        struct quic_initial in;
        size_t eo = 0;
        ck_assert_int_eq(
            quic_initial_parse(ctx, q.dgram[i], q.len[i], NULL, plain, sizeof(plain), &in, &eo),
            DS_OK);
        ck_assert_uint_eq(in.version, QUIC_V1);
        ck_assert_uint_eq(in.pn, i);
        ck_assert_mem_eq(in.dcid.p, r.dcid, sizeof(r.dcid));
        ck_assert_mem_eq(in.scid.p, r.scid, sizeof(r.scid));
        ck_assert(!in.short_datagram);
        ck_assert_int_eq(quic_crypto_add_frames(&c, in.frames.p, in.frames.len, &eo), DS_OK);
        struct tls_hello th;
        enum dstatus st = quic_crypto_hello(&c, &th, &eo);
        if (i == 0) {
            ck_assert_uint_lt(c.contig, q.hello_len); /* the first alone is not the hello */
            ck_assert(st == DS_NEED_MORE);
        } else {
            ck_assert_int_eq(st, DS_OK);
            ck_assert(span_is(th.sni, "blocked.test"));
            ck_assert(span_is(th.alpn, "h3"));
            ck_assert_uint_eq(th.max_version, 0x0304);
            ck_assert_uint_eq(c.contig, q.hello_len);
        }
    }
    /* the bare hello alone parses too, and has the PQ share */
    uint8_t h[PROBE_HELLO_MAX], scratch[PROBE_HELLO_MAX + 5];
    size_t n = probe_quic_hello("blocked.test", &r, h, sizeof(h));
    ck_assert_uint_eq(n, q.hello_len);
    struct tls_hello th;
    size_t eo = 0;
    ck_assert_int_eq(quic_hello_parse(h, n, scratch, sizeof(scratch), &th, &eo), DS_OK);
    check_mlkem(find_pq_share(h, n));
    /* a name too long for two Initials is refused */
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_int_eq(probe_quic_initials(ctx, longname, &r, &q), -EINVAL);
    quic_ctx_free(ctx);
}
END_TEST

/* ---- classifier -------------------------------------------------------------------------- */

static struct probe_verdict classify(enum probe_wire w, const char *ans, enum probe_event ev,
                                     const char *notice)
{
    struct probe_expect x = { "blocked.test", notice, false, NULL, NULL, 0 };
    struct probe_verdict v;
    memset(&v, 0, sizeof(v));
    probe_classify(w, (const uint8_t *)ans, strlen(ans), ev, &x, &v);
    return v;
}

START_TEST(test_classify_http)
{
    const char *redirect = "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: "
                           "http://notice.test/?url=http%3A%2F%2Fblocked.test%2F\r\n\r\n";
    ck_assert(probe_answer_complete(PROBE_WIRE_HTTP, (const uint8_t *)redirect, strlen(redirect)));
    struct probe_verdict v =
        classify(PROBE_WIRE_HTTP, redirect, PROBE_EV_DATA, "http://notice.test/");
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_REDIRECT);
    ck_assert_ptr_nonnull(strstr(v.detail, "notice.test"));
    /* without notice.url: the url= parameter naming the probed host */
    v = classify(PROBE_WIRE_HTTP, redirect, PROBE_EV_DATA, NULL);
    ck_assert_int_eq(v.outcome, PROBE_BLOCKED);
    /* a configured notice URL elsewhere: this redirect is the server's */
    v = classify(PROBE_WIRE_HTTP, redirect, PROBE_EV_DATA, "https://other.example/");
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    v = classify(PROBE_WIRE_HTTP, "HTTP/1.1 301 Moved\r\nlocation: https://blocked.test/\r\n\r\n",
                 PROBE_EV_DATA, NULL);
    check_v(&v, PROBE_OPEN, PROBE_HOW_ANSWERED);
    v = classify(PROBE_WIRE_HTTP, "HTTP/1.1 451 Unavailable For Legal Reasons\r\n\r\n",
                 PROBE_EV_DATA, NULL);
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_REDIRECT);
    v = classify(PROBE_WIRE_HTTP, "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n", PROBE_EV_DATA, NULL);
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    ck_assert_str_eq(v.detail, "HTTP 200");
    v = classify(PROBE_WIRE_HTTP, "HTTP/1.0 404 Not Found\r\n", PROBE_EV_EOF, NULL);
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    v = classify(PROBE_WIRE_HTTP, "SSH-2.0-OpenSSH\r\n", PROBE_EV_EOF, NULL);
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    /* a redirect cut before its Location, then reset: the reset decides */
    v = classify(PROBE_WIRE_HTTP, "HTTP/1.1 302 Found\r\nLoca", PROBE_EV_RESET, NULL);
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_RESET);
    ck_assert(
        !probe_answer_complete(PROBE_WIRE_HTTP, (const uint8_t *)"HTTP/1.1 302 Found\r\n", 20));
    /* no answer: the way it ended decides */
    static const struct {
        enum probe_event ev;
        enum probe_outcome outcome;
        enum probe_how how;
    } ends[] = {
        { PROBE_EV_RESET, PROBE_BLOCKED, PROBE_HOW_RESET },
        { PROBE_EV_REFUSED, PROBE_INCONCLUSIVE, PROBE_HOW_REFUSED },
        { PROBE_EV_TIMEOUT, PROBE_INCONCLUSIVE, PROBE_HOW_TIMEOUT },
        { PROBE_EV_EOF, PROBE_INCONCLUSIVE, PROBE_HOW_ERROR },
    };
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        v = classify(PROBE_WIRE_HTTP, "", ends[i].ev, NULL);
        check_v(&v, ends[i].outcome, ends[i].how);
    }
}
END_TEST

START_TEST(test_classify_tls)
{
    static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70 };
    static const uint8_t sh[] = { 0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00 };
    struct probe_expect x = { "blocked.test", NULL, false, NULL, NULL, 0 };
    struct probe_verdict v;
    ck_assert(!probe_answer_complete(PROBE_WIRE_TLS, alert, 6));
    ck_assert(probe_answer_complete(PROBE_WIRE_TLS, alert, 7));
    ck_assert(probe_answer_complete(PROBE_WIRE_TLS, sh, 6));
    probe_classify(PROBE_WIRE_TLS, alert, sizeof(alert), PROBE_EV_DATA, &x, &v);
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_ALERT);
    ck_assert_ptr_nonnull(strstr(v.detail, "112 (unrecognized_name)"));
    probe_classify(PROBE_WIRE_TLS, sh, 6, PROBE_EV_DATA, &x, &v);
    check_v(&v, PROBE_OPEN, PROBE_HOW_ANSWERED);
    probe_classify(PROBE_WIRE_TLS, sh, 3, PROBE_EV_RESET, &x, &v);
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_RESET);
    probe_classify(PROBE_WIRE_TLS, (const uint8_t *)"HTTP/1.1 400 Bad", 16, PROBE_EV_EOF, &x, &v);
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    probe_classify(PROBE_WIRE_TLS, sh, 0, PROBE_EV_TIMEOUT, &x, &v);
    check_v(&v, PROBE_INCONCLUSIVE, PROBE_HOW_TIMEOUT);
}
END_TEST

START_TEST(test_classify_quic)
{
    struct quic_ctx *ctx = quic_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    static const uint8_t dcid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    static const uint8_t scid[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
    struct probe_expect x = { "blocked.test", NULL, false, ctx, dcid, sizeof(dcid) };
    struct probe_verdict v;
    uint8_t pkt[1500];
    /* the filter's close (tap mode) */
    size_t n = quic_close_initial(ctx, QUIC_V1, dcid, 8, scid, 8, 0x0128, pkt, sizeof(pkt));
    ck_assert_uint_gt(n, 0);
    probe_classify(PROBE_WIRE_QUIC, pkt, n, PROBE_EV_DATA, &x, &v);
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_RESET);
    /* a server Initial carrying CRYPTO (its ServerHello) */
    struct quic_keys k;
    ck_assert_int_eq(quic_keys_derive(ctx, QUIC_V1, dcid, 8, true, &k), 0);
    uint8_t frames[64] = { 0x02, 0x00, 0x00, 0x00, 0x00, /* ACK pn 0 */
                           0x06, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00 };
    struct quic_seal s = { scid, 8, dcid, 8, NULL, 0, 0, 1, frames, 16, 1200 };
    n = quic_initial_seal(ctx, &k, &s, pkt, sizeof(pkt));
    ck_assert_uint_gt(n, 0);
    probe_classify(PROBE_WIRE_QUIC, pkt, n, PROBE_EV_DATA, &x, &v);
    check_v(&v, PROBE_OPEN, PROBE_HOW_ANSWERED);
    ck_assert_ptr_nonnull(strstr(v.detail, "server Initial"));
    /* sealed with other keys: something answered, not the filter's close */
    x.dcid = scid;
    probe_classify(PROBE_WIRE_QUIC, pkt, n, PROBE_EV_DATA, &x, &v);
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    x.dcid = dcid;
    /* Version Negotiation, Retry */
    static const uint8_t vn[] = { 0x80, 0, 0, 0, 0, 8, 9, 9, 9, 9, 9, 9, 9, 9,
                                  8,    1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1 };
    probe_classify(PROBE_WIRE_QUIC, vn, sizeof(vn), PROBE_EV_DATA, &x, &v);
    ck_assert_int_eq(v.outcome, PROBE_OPEN);
    ck_assert_str_eq(v.detail, "QUIC Version Negotiation");
    static const uint8_t retry[] = { 0xf0, 0, 0, 0, 1, 0, 0 };
    probe_classify(PROBE_WIRE_QUIC, retry, sizeof(retry), PROBE_EV_DATA, &x, &v);
    ck_assert_str_eq(v.detail, "QUIC Retry");
    /* truncated and junk datagrams never read out of bounds and count as answers */
    for (size_t cut = 1; cut < 60; cut++) {
        probe_classify(PROBE_WIRE_QUIC, pkt, cut, PROBE_EV_DATA, &x, &v);
        ck_assert_int_eq(v.outcome, PROBE_OPEN);
    }
    /* no answer: blocked only when the filter drops QUIC */
    probe_classify(PROBE_WIRE_QUIC, pkt, 0, PROBE_EV_TIMEOUT, &x, &v);
    check_v(&v, PROBE_INCONCLUSIVE, PROBE_HOW_TIMEOUT);
    probe_classify(PROBE_WIRE_QUIC, pkt, 0, PROBE_EV_REFUSED, &x, &v);
    check_v(&v, PROBE_INCONCLUSIVE, PROBE_HOW_REFUSED);
    x.quic_dropped = true;
    probe_classify(PROBE_WIRE_QUIC, pkt, 0, PROBE_EV_TIMEOUT, &x, &v);
    check_v(&v, PROBE_BLOCKED, PROBE_HOW_TIMEOUT);
    probe_classify(PROBE_WIRE_QUIC, pkt, 0, PROBE_EV_REFUSED, &x, &v);
    check_v(&v, PROBE_OPEN, PROBE_HOW_ANSWERED);
    quic_ctx_free(ctx);
}
END_TEST

/* ---- report ------------------------------------------------------------------------------ */

static struct verify_result result(const char *res, const char *probe, enum probe_outcome o,
                                   enum probe_how how, const char *detail)
{
    struct verify_result r;
    memset(&r, 0, sizeof(r));
    r.resource = res;
    r.probe = probe;
    snprintf(r.target, sizeof(r.target), "10.200.2.2:443");
    r.v.outcome = o;
    r.v.how = how;
    snprintf(r.v.detail, sizeof(r.v.detail), "%s", detail);
    r.time_ms = 1700000000123;
    r.elapsed_ms = 12;
    return r;
}

static int status_of(struct verify_result *r, size_t n, char **alarms)
{
    struct verify_report rep = { "o-1", 1700000000000, NULL, r, n };
    size_t len = 0;
    FILE *f = open_memstream(alarms, &len);
    int rc = verify_status(&rep, f);
    fclose(f);
    return rc;
}

START_TEST(test_report)
{
    struct verify_result r[3] = {
        result("blocked.test", "tls", PROBE_BLOCKED, PROBE_HOW_RESET, "connection reset"),
        result("blocked.test", "quic", PROBE_BLOCKED, PROBE_HOW_TIMEOUT, "no \"answer\""),
        result("open.test", "http", PROBE_OPEN, PROBE_HOW_ANSWERED, "HTTP 200"),
    };
    struct verify_report rep = { "o-1", 1700000000000, "10.200.2.2", r, 3 };
    char *js = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&js, &len);
    verify_write_json(f, &rep);
    fclose(f);
    json_error_t je;
    json_t *doc = json_loads(js, 0, &je);
    ck_assert_msg(doc != NULL, "%s: %s", js, je.text);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "order")), "o-1");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "time_ms")), 1700000000000);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "via")), "10.200.2.2");
    json_t *res = json_object_get(doc, "results");
    ck_assert_uint_eq(json_array_size(res), 3);
    json_t *e = json_array_get(res, 1);
    ck_assert_uint_eq(json_object_size(e), 8);
    ck_assert_str_eq(json_string_value(json_object_get(e, "resource")), "blocked.test");
    ck_assert_str_eq(json_string_value(json_object_get(e, "probe")), "quic");
    ck_assert_str_eq(json_string_value(json_object_get(e, "target")), "10.200.2.2:443");
    ck_assert(json_is_true(json_object_get(e, "blocked")));
    ck_assert_str_eq(json_string_value(json_object_get(e, "how")), "timeout");
    ck_assert_str_eq(json_string_value(json_object_get(e, "detail")), "no \"answer\"");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "time_ms")), 1700000000123);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "elapsed_ms")), 12);
    ck_assert(json_is_false(json_object_get(json_array_get(res, 2), "blocked")));
    json_decref(doc);
    free(js);
    rep.via = NULL;
    f = open_memstream(&js, &len);
    verify_write_json(f, &rep);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(js, "\"via\":null"));
    free(js);

    char *alarms = NULL;
    ck_assert_int_eq(status_of(r, 3, &alarms), 1);
    ck_assert_ptr_nonnull(strstr(alarms, "alarm"));
    ck_assert_ptr_nonnull(strstr(alarms, "open.test"));
    ck_assert_ptr_nonnull(strstr(alarms, "http"));
    ck_assert_ptr_null(strstr(alarms, "blocked.test"));
    free(alarms);
    ck_assert_int_eq(status_of(r, 2, &alarms), 0);
    ck_assert_str_eq(alarms, "");
    free(alarms);
    r[1] = result("blocked.test", "quic", PROBE_INCONCLUSIVE, PROBE_HOW_TIMEOUT, "no answer");
    ck_assert_int_eq(status_of(r, 2, &alarms), VERIFY_NOTHING);
    free(alarms);
    ck_assert_int_eq(status_of(r, 0, &alarms), VERIFY_NOTHING);
    free(alarms);
}
END_TEST

static Suite *probe_suite(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("build");
    tcase_add_test(tc, test_http_request);
    tcase_add_test(tc, test_tls_hello);
    tcase_add_test(tc, test_tls_hello_openssl_answers);
    tcase_add_test(tc, test_quic_initials);
    suite_add_tcase(s, tc);
    tc = tcase_create("classify");
    tcase_add_test(tc, test_classify_http);
    tcase_add_test(tc, test_classify_tls);
    tcase_add_test(tc, test_classify_quic);
    tcase_add_test(tc, test_report);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(probe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
