/* check_tls.c - Check suite for the TLS ClientHello dissector (proxy/tls.c).
 *
 * Real hellos come from tests/fixtures/tls (see tests/fixtures/README.md; manifest.tsv holds the
 * expected SNI / ALPN / handshake length). Every input is placed against a PROT_NONE page
 * (tests/lib/guard.h) so that any over-read faults. The fixture directory is $QG_FIXTURES or
 * tests/fixtures (the Makefile runs the suites from the repository root). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/guard.h"
#include "proxy/dissect/tls.h"

#define MAX_FIX       64
#define FIX_MAX_BYTES 8192
#define SCRATCH_CAP   (16 * 1024)

struct fixture {
    char file[96];
    char sni[128];
    char alpn[64]; /* first ALPN protocol, empty if none */
    long ch_len;   /* handshake message length, -1 if unknown */
    uint8_t data[FIX_MAX_BYTES];
    size_t len;
};

static struct fixture g_fix[MAX_FIX];
static size_t g_nfix;
static uint8_t g_scratch[SCRATCH_CAP];

static const char *fixture_dir(void)
{
    const char *d = getenv("QG_FIXTURES");
    return d != NULL ? d : "tests/fixtures";
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n = fread(buf, 1, cap, f);
    ck_assert_msg(feof(f), "%s larger than %zu bytes", path, cap);
    fclose(f);
    return n;
}

static const struct fixture *fixture_get(const char *file)
{
    for (size_t i = 0; i < g_nfix; i++) {
        if (strcmp(g_fix[i].file, file) == 0)
            return &g_fix[i];
    }
    ck_abort_msg("fixture %s not in manifest", file);
    return NULL;
}

/* Loads tests/fixtures/tls/manifest.tsv: file, proto, sni, alpn list, ch_len. */
static void load_fixtures(void)
{
    if (g_nfix > 0)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/tls/manifest.tsv", fixture_dir());
    FILE *m = fopen(path, "r");
    ck_assert_msg(m != NULL, "cannot open %s", path);
    char line[1024];
    while (fgets(line, sizeof(line), m) != NULL && g_nfix < MAX_FIX) {
        struct fixture *f = &g_fix[g_nfix];
        char *fields[5] = { 0 };
        char *save = NULL;
        size_t n = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *p = line; n < 5; p = NULL) {
            char *t = strtok_r(p, "\t", &save);
            if (t == NULL)
                break;
            fields[n++] = t;
        }
        /* strtok_r folds empty fields: the alpn column may be missing ("a\t\tb"). */
        ck_assert_msg(n >= 4, "manifest line too short");
        snprintf(f->file, sizeof(f->file), "%s", fields[0]);
        snprintf(f->sni, sizeof(f->sni), "%s", fields[2]);
        if (n == 5) {
            snprintf(f->alpn, sizeof(f->alpn), "%s", fields[3]);
            f->alpn[strcspn(f->alpn, ",")] = '\0';
        }
        f->ch_len = strcmp(fields[n - 1], "None") == 0 ? -1 : strtol(fields[n - 1], NULL, 10);
        snprintf(path, sizeof(path), "%s/tls/%s", fixture_dir(), f->file);
        f->len = read_file(path, f->data, sizeof(f->data));
        g_nfix++;
    }
    fclose(m);
    ck_assert_uint_ge(g_nfix, 10);
}

/* The early entry point (what the pipeline uses); a complete result is also checked against
 * tls_hello_parse(), which must agree on everything but `partial`. */
static enum dstatus parse_guarded(const uint8_t *in, size_t len, struct tls_hello *h, size_t *err)
{
    uint8_t *p = guard_copy(in, len);
    struct tls_hello whole;
    size_t werr = 0;
    enum dstatus st = tls_hello_parse_early(p, len, g_scratch, sizeof(g_scratch), h, err);
    enum dstatus wst = tls_hello_parse(p, len, g_scratch, sizeof(g_scratch), &whole, &werr);
    if ((st == DS_OK && h->partial) || st == DS_NEED_MORE)
        ck_assert_msg(wst == DS_NEED_MORE || wst == DS_LIMIT, "whole parse of a prefix: %s",
                      dstatus_name(wst));
    else if (st != DS_LIMIT)
        ck_assert_msg(wst == st && (st != DS_MALFORMED || werr == *err), "early %s, whole %s",
                      dstatus_name(st), dstatus_name(wst));
    return st;
}

static bool span_is(struct span s, const char *str)
{
    return s.len == strlen(str) && (s.len == 0 || memcmp(s.p, str, s.len) == 0);
}

/* Re-frames a single-record hello (rec, len) into records cut at the given handshake-message
 * offsets (ascending, 0 < cut < message length). Returns the new length. */
static size_t reframe(const uint8_t *rec, size_t len, const size_t *cuts, size_t ncuts,
                      uint8_t *out, size_t cap)
{
    const uint8_t *msg = rec + 5;
    size_t mlen = len - 5, o = 0, prev = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : mlen;
        size_t n = end - prev;
        ck_assert(o + 5 + n <= cap);
        out[o] = 22;
        out[o + 1] = rec[1];
        out[o + 2] = rec[2];
        out[o + 3] = (uint8_t)(n >> 8);
        out[o + 4] = (uint8_t)n;
        memcpy(out + o + 5, msg + prev, n);
        o += 5 + n;
        prev = end;
    }
    return o;
}

/* ---------------------------------------------------------------- synthetic hellos */

static size_t put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* Wraps an extensions block (may be NULL for "no extensions at all") in a ClientHello handshake
 * message and one record. */
static size_t mk_hello(uint8_t *out, const uint8_t *exts, size_t ext_len, bool with_exts)
{
    static uint8_t body[16384];
    size_t n = 0;
    n += put16(body + n, 0x0303);
    memset(body + n, 0x11, 32);
    n += 32;
    body[n++] = 0; /* session_id */
    n += put16(body + n, 2);
    body[n++] = 0x13;
    body[n++] = 0x01;
    body[n++] = 1; /* compression */
    body[n++] = 0;
    if (with_exts) {
        n += put16(body + n, ext_len);
        memcpy(body + n, exts, ext_len);
        n += ext_len;
    }
    out[0] = 22;
    out[1] = 3;
    out[2] = 1;
    put16(out + 3, n + 4);
    out[5] = 1;
    out[6] = (uint8_t)(n >> 16);
    out[7] = (uint8_t)(n >> 8);
    out[8] = (uint8_t)n;
    memcpy(out + 9, body, n);
    return 9 + n;
}

static size_t ext_sni(uint8_t *p, const char *name)
{
    size_t nl = strlen(name), n = 0;
    n += put16(p + n, 0);
    n += put16(p + n, nl + 5);
    n += put16(p + n, nl + 3);
    p[n++] = 0;
    n += put16(p + n, nl);
    memcpy(p + n, name, nl);
    return n + nl;
}

static size_t ext_raw(uint8_t *p, uint16_t type, const uint8_t *data, size_t len)
{
    size_t n = put16(p, type);
    n += put16(p + n, len);
    if (len > 0)
        memcpy(p + n, data, len);
    return n + len;
}

/* ---------------------------------------------------------------- valid inputs */

START_TEST(test_fixtures_valid)
{
    load_fixtures();
    for (size_t i = 0; i < g_nfix; i++) {
        const struct fixture *f = &g_fix[i];
        struct tls_hello h;
        size_t err = 99;
        enum dstatus st = parse_guarded(f->data, f->len, &h, &err);
        ck_assert_msg(st == DS_OK, "%s: %s at %zu", f->file, dstatus_name(st), err);
        ck_assert_msg(h.has_sni && span_is(h.sni, f->sni), "%s: sni %.*s, want %s", f->file,
                      (int)h.sni.len, (const char *)h.sni.p, f->sni);
        ck_assert_msg(span_is(h.alpn, f->alpn), "%s: alpn %.*s, want %s", f->file, (int)h.alpn.len,
                      (const char *)h.alpn.p, f->alpn);
        if (f->ch_len >= 0)
            ck_assert_msg(h.hello_len == (size_t)f->ch_len, "%s: hello_len %zu want %ld", f->file,
                          h.hello_len, f->ch_len);
        ck_assert_uint_eq(h.records, 1);
        ck_assert_uint_eq(h.consumed, f->len);
        ck_assert_uint_eq(h.hello_len + 5, f->len);
        ck_assert_uint_eq(h.record_version >> 8, 3);
        /* single record: spans point into buf, not into scratch */
        ck_assert(h.sni.p < g_scratch || h.sni.p >= g_scratch + sizeof(g_scratch));
    }
    guard_free();
}
END_TEST

START_TEST(test_versions)
{
    load_fixtures();
    struct tls_hello h;
    size_t err;
    /* openssl -tls1_2: no supported_versions, max = legacy */
    const struct fixture *f = fixture_get("local_openssl_1.bin");
    ck_assert_int_eq(parse_guarded(f->data, f->len, &h, &err), DS_OK);
    ck_assert_uint_eq(h.legacy_version, 0x0303);
    ck_assert_uint_eq(h.max_version, 0x0303);
    ck_assert(!h.has_ech);
    f = fixture_get("curl_1.bin");
    ck_assert_int_eq(parse_guarded(f->data, f->len, &h, &err), DS_OK);
    ck_assert_uint_eq(h.legacy_version, 0x0303);
    ck_assert_uint_eq(h.max_version, 0x0304);
    ck_assert_uint_eq(h.record_version, 0x0301);
    guard_free();
}
END_TEST

START_TEST(test_chrome_pq_ech_grease)
{
    load_fixtures();
    struct tls_hello h;
    size_t err;
    /* real Chromium (X25519MLKEM768 share, GREASE, GREASE ECH) */
    const struct fixture *f = fixture_get("v6chromium_33.bin");
    ck_assert_uint_gt(f->len, 2000);
    ck_assert_int_eq(parse_guarded(f->data, f->len, &h, &err), DS_OK);
    ck_assert(h.has_ech);
    ck_assert(!h.has_esni);
    ck_assert_uint_eq(h.max_version, 0x0304); /* GREASE 0x?a?a never wins */
    ck_assert(span_is(h.sni, "a.b.c.d.e.deep-subdomain.example.net"));
    ck_assert(span_is(h.alpn, "h2"));
    /* crafted: GREASE first in supported_versions, ECH + ESNI, SNI last */
    f = fixture_get("crafted_ech.bin");
    ck_assert_int_eq(parse_guarded(f->data, f->len, &h, &err), DS_OK);
    ck_assert(h.has_ech);
    ck_assert(h.has_esni);
    ck_assert_uint_eq(h.max_version, 0x0304);
    ck_assert(span_is(h.sni, "Mixed-Case.Example."));
    /* crafted: OpenSSL hello + 1,216-byte ML-KEM share */
    f = fixture_get("crafted_pq.bin");
    ck_assert_uint_gt(f->len, 1500);
    ck_assert_int_eq(parse_guarded(f->data, f->len, &h, &err), DS_OK);
    ck_assert(span_is(h.sni, "Mixed-Case.Example."));
    guard_free();
}
END_TEST

/* ---------------------------------------------------------------- truncated inputs */

START_TEST(test_every_prefix_need_more)
{
    load_fixtures();
    for (size_t i = 0; i < g_nfix; i++) {
        const struct fixture *f = &g_fix[i];
        bool named = false;
        for (size_t k = 0; k < f->len; k++) {
            struct tls_hello h;
            size_t err = 0;
            enum dstatus st = parse_guarded(f->data, k, &h, &err);
            /* NEED_MORE until the server_name extension is complete, then a partial DS_OK with
             * the full name on every longer prefix */
            if (st == DS_OK && h.partial && span_is(h.sni, f->sni))
                named = true;
            else
                ck_assert_msg(st == DS_NEED_MORE && !named, "%s: prefix %zu of %zu gave %s at %zu",
                              f->file, k, f->len, dstatus_name(st), err);
        }
    }
    guard_free();
}
END_TEST

/* The same hello re-framed into 2, 3 and many records, cut inside the SNI. */
START_TEST(test_multi_record)
{
    load_fixtures();
    static uint8_t out[3 * FIX_MAX_BYTES];
    const char *files[] = { "curl_1.bin", "v6chromium_28.bin", "crafted_pq.bin", "gnutls_1.bin" };
    for (size_t fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
        const struct fixture *f = fixture_get(files[fi]);
        struct tls_hello h;
        size_t err = 0;
        ck_assert_int_eq(parse_guarded(f->data, f->len, &h, &err), DS_OK);
        uint8_t *g = guard_copy(f->data, f->len);
        ck_assert_int_eq(tls_hello_parse(g, f->len, g_scratch, sizeof(g_scratch), &h, &err), DS_OK);
        size_t sni_at = (size_t)(h.sni.p - (g + 5));
        size_t mlen = f->len - 5;
        size_t cuts2[] = { sni_at + 3 };
        size_t cuts3[] = { 2, sni_at + 1 };
        size_t cuts_many[FIX_MAX_BYTES];
        size_t nmany = 0;
        for (size_t c = 7; c < mlen; c += 7)
            cuts_many[nmany++] = c;
        size_t cuts_bytes[FIX_MAX_BYTES];
        size_t nbytes = 0;
        for (size_t c = 1; c < mlen; c++)
            cuts_bytes[nbytes++] = c;
        struct {
            const size_t *cuts;
            size_t n;
        } plans[] = { { cuts2, 1 }, { cuts3, 2 }, { cuts_many, nmany }, { cuts_bytes, nbytes } };
        for (size_t pi = 0; pi < sizeof(plans) / sizeof(plans[0]); pi++) {
            size_t n = reframe(f->data, f->len, plans[pi].cuts, plans[pi].n, out, sizeof(out));
            enum dstatus st = parse_guarded(out, n, &h, &err);
            ck_assert_msg(st == DS_OK, "%s plan %zu: %s at %zu", f->file, pi, dstatus_name(st),
                          err);
            ck_assert(span_is(h.sni, fixture_get(files[fi])->sni));
            ck_assert_uint_eq(h.records, plans[pi].n + 1);
            ck_assert_uint_eq(h.consumed, n);
            ck_assert_uint_eq(h.hello_len, mlen);
            /* multi-record: spans point into scratch */
            ck_assert(h.sni.p >= g_scratch && h.sni.p < g_scratch + sizeof(g_scratch));
            /* every strict prefix is NEED_MORE until the SNI is complete, then a partial OK
             * (the 1-byte framing only for the small ones) */
            if (pi < 3 || n < 1500) {
                bool named = false;
                for (size_t k = 0; k < n; k++) {
                    st = parse_guarded(out, k, &h, &err);
                    if (st == DS_OK && h.partial && span_is(h.sni, f->sni))
                        named = true;
                    else
                        ck_assert_msg(st == DS_NEED_MORE && !named, "%s plan %zu prefix %zu: %s",
                                      f->file, pi, k, dstatus_name(st));
                }
                ck_assert(named);
            }
            /* scratch one byte too small: the name is still read (partial) unless its extension
             * is the last one; no scratch -> LIMIT */
            uint8_t *p = guard_copy(out, n);
            st = tls_hello_parse(p, n, g_scratch, mlen - 1, &h, &err);
            ck_assert_msg((st == DS_OK && h.partial && span_is(h.sni, f->sni)) || st == DS_LIMIT,
                          "%s plan %zu short scratch: %s", f->file, pi, dstatus_name(st));
            ck_assert_int_eq(tls_hello_parse(p, n, NULL, 0, &h, &err), DS_LIMIT);
            ck_assert_int_eq(tls_hello_parse(p, n, g_scratch, mlen, &h, &err), DS_OK);
        }
    }
    guard_free();
}
END_TEST

/* ---------------------------------------------------------------- malformed inputs */

struct lenfield {
    const char *name;
    size_t at;    /* offset in the record stream */
    size_t width; /* 1, 2 or 3 bytes */
};

/* Lists every length field of a single-record hello. */
static size_t list_length_fields(const uint8_t *b, size_t len, struct lenfield *lf, size_t cap)
{
    size_t n = 0;
    lf[n++] = (struct lenfield){ "record", 3, 2 };
    lf[n++] = (struct lenfield){ "handshake", 6, 3 };
    size_t o = 9 + 2 + 32;
    lf[n++] = (struct lenfield){ "session_id", o, 1 };
    o += 1 + b[o];
    lf[n++] = (struct lenfield){ "cipher_suites", o, 2 };
    o += 2 + ((size_t)b[o] << 8 | b[o + 1]);
    lf[n++] = (struct lenfield){ "compression", o, 1 };
    o += 1 + b[o];
    lf[n++] = (struct lenfield){ "extensions", o, 2 };
    o += 2;
    while (o + 4 <= len && n + 4 < cap) {
        uint16_t type = (uint16_t)(b[o] << 8 | b[o + 1]);
        size_t elen = (size_t)b[o + 2] << 8 | b[o + 3];
        lf[n++] = (struct lenfield){ "extension", o + 2, 2 };
        if (type == 0) {
            lf[n++] = (struct lenfield){ "server_name_list", o + 4, 2 };
            lf[n++] = (struct lenfield){ "host_name", o + 7, 2 };
        } else if (type == 16) {
            lf[n++] = (struct lenfield){ "alpn_list", o + 4, 2 };
            lf[n++] = (struct lenfield){ "alpn_proto", o + 6, 1 };
        } else if (type == 43) {
            lf[n++] = (struct lenfield){ "supported_versions", o + 4, 1 };
        }
        o += 4 + elen;
    }
    return n;
}

static void bump(uint8_t *p, size_t width, int delta)
{
    size_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = v << 8 | p[i];
    v = (size_t)((long)v + delta);
    for (size_t i = width; i-- > 0;) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

START_TEST(test_length_off_by_one)
{
    load_fixtures();
    const char *files[] = { "curl_1.bin", "local_openssl_2.bin", "v6chromium_27.bin",
                            "gnutls_2.bin" };
    static uint8_t mut[FIX_MAX_BYTES];
    unsigned checked = 0;
    for (size_t fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
        const struct fixture *f = fixture_get(files[fi]);
        struct lenfield lf[128];
        size_t nlf = list_length_fields(f->data, f->len, lf, 128);
        for (size_t i = 0; i < nlf; i++) {
            for (int d = -1; d <= 1; d += 2) {
                memcpy(mut, f->data, f->len);
                bump(mut + lf[i].at, lf[i].width, d);
                struct tls_hello h;
                size_t err = 0;
                enum dstatus st = parse_guarded(mut, f->len, &h, &err);
                if (lf[i].at == 3 && d == 1) {
                    /* record claims one byte more: the hello itself is complete */
                    ck_assert_int_eq(st, DS_OK);
                } else if ((lf[i].at == 3 && d == -1) || (lf[i].at == 6 && d == 1)) {
                    /* the message now runs into a (missing or bogus) second record; the name
                     * may already be complete (partial) */
                    ck_assert_msg(st == DS_NEED_MORE || st == DS_MALFORMED ||
                                      (st == DS_OK && h.partial && span_is(h.sni, f->sni)),
                                  "%s %s%+d: %s", f->file, lf[i].name, d, dstatus_name(st));
                } else {
                    ck_assert_msg(st == DS_MALFORMED, "%s %s at %zu %+d: %s", f->file, lf[i].name,
                                  lf[i].at, d, dstatus_name(st));
                    ck_assert_msg(err < f->len, "%s %s%+d: err_off %zu", f->file, lf[i].name, d,
                                  err);
                }
                checked++;
            }
        }
    }
    ck_assert_uint_gt(checked, 80);
    guard_free();
}
END_TEST

START_TEST(test_malformed_cases)
{
    uint8_t ext[2048], rec[4096];
    size_t n, e, err;
    struct tls_hello h;
    static const uint8_t grease_sv[] = { 4, 0x1a, 0x1a, 0x03, 0x04 };

    /* baseline synthetic hello is accepted */
    e = ext_sni(ext, "example.com");
    n = mk_hello(rec, ext, e, true);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_OK);
    ck_assert(span_is(h.sni, "example.com"));

    /* duplicate server_name: OpenSSL "bad extension" */
    e = ext_sni(ext, "allowed.example");
    e += ext_sni(ext + e, "blocked.example");
    n = mk_hello(rec, ext, e, true);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    ck_assert_uint_eq(err, 9 + 41 + 2 + (4 + 5 + 15)); /* the second extension's type */

    /* duplicate supported_versions: known to OpenSSL -> MALFORMED */
    e = ext_raw(ext, 43, grease_sv, sizeof(grease_sv));
    e += ext_raw(ext + e, 43, grease_sv, sizeof(grease_sv));
    n = mk_hello(rec, ext, e, true);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);

    /* duplicate unknown extension: OpenSSL ignores unknown types -> accepted */
    e = ext_raw(ext, 0x4469, NULL, 0);
    e += ext_raw(ext + e, 0x4469, NULL, 0);
    e += ext_sni(ext + e, "example.com");
    n = mk_hello(rec, ext, e, true);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_OK);

    /* server_name: name_type 1, two names, NUL byte, 256 bytes */
    e = ext_sni(ext, "example.com");
    ext[6] = 1;
    n = mk_hello(rec, ext, e, true);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    ck_assert_uint_eq(err, 9 + 41 + 2 + 6);
    {
        static const uint8_t two[] = { 0,   16, 0, 0, 6,   'a', '.', 'c', 'o',
                                       'm', 0,  0, 5, 'b', '.', 'n', 'e', 't' };
        e = ext_raw(ext, 0, two, sizeof(two));
        ext[5] = (uint8_t)(sizeof(two) - 2);
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    }
    e = ext_sni(ext, "evil.com");
    ext[9 + 4] = 0; /* "evil\0com" */
    n = mk_hello(rec, ext, e, true);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    {
        char big[300];
        memset(big, 'a', 256);
        big[256] = '\0';
        e = ext_sni(ext, big);
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
        big[255] = '\0';
        e = ext_sni(ext, big);
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_OK);
        ck_assert_uint_eq(h.sni.len, 255);
    }

    /* pre_shared_key must be last */
    {
        static const uint8_t psk[] = { 0, 0, 0, 0 };
        e = ext_raw(ext, 41, psk, sizeof(psk));
        e += ext_sni(ext + e, "example.com");
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
        e = ext_sni(ext, "example.com");
        e += ext_raw(ext + e, 41, psk, sizeof(psk));
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_OK);
    }

    /* ALPN: empty protocol name, odd supported_versions */
    {
        static const uint8_t alpn0[] = {
            0, 3, 2, 'h', '2',
        };
        static const uint8_t alpn_empty[] = { 0, 4, 2, 'h', '2', 0 };
        static const uint8_t sv_odd[] = { 3, 3, 4, 3 };
        e = ext_raw(ext, 16, alpn0, sizeof(alpn0));
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_OK);
        ck_assert(span_is(h.alpn, "h2"));
        ck_assert(!h.has_sni);
        e = ext_raw(ext, 16, alpn_empty, sizeof(alpn_empty));
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
        e = ext_raw(ext, 43, sv_odd, sizeof(sv_odd));
        n = mk_hello(rec, ext, e, true);
        ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    }

    /* no extensions block at all (TLS 1.0-1.2): OK, no SNI; a lone byte after it: MALFORMED */
    n = mk_hello(rec, NULL, 0, false);
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_OK);
    ck_assert(!h.has_sni);
    ck_assert_uint_eq(h.max_version, 0x0303);

    /* empty cipher_suites; handshake type 2 */
    e = ext_sni(ext, "example.com");
    n = mk_hello(rec, ext, e, true);
    rec[9 + 35] = 0;
    rec[9 + 36] = 0;
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    n = mk_hello(rec, ext, e, true);
    rec[5] = 2;
    ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_MALFORMED);
    ck_assert_uint_eq(err, 5);
    guard_free();
}
END_TEST

START_TEST(test_record_layer)
{
    uint8_t ext[512], rec[4096], two[4096];
    size_t err;
    struct tls_hello h;
    size_t e = ext_sni(ext, "example.com");
    size_t n = mk_hello(rec, ext, e, true);

    /* not TLS at all */
    ck_assert_int_eq(parse_guarded((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h, &err),
                     DS_NOT_MINE);
    static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01 };
    ck_assert_int_eq(parse_guarded(sslv2, sizeof(sslv2), &h, &err), DS_NOT_MINE);
    static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x10 };
    ck_assert_int_eq(parse_guarded(appdata, sizeof(appdata), &h, &err), DS_NOT_MINE);
    static const uint8_t badmajor[] = { 0x16, 0x04 };
    ck_assert_int_eq(parse_guarded(badmajor, 2, &h, &err), DS_NOT_MINE);
    ck_assert_int_eq(parse_guarded(badmajor, 1, &h, &err), DS_NEED_MORE);

    /* record versions 0x0300..0x0304 (and any 0x03xx, as OpenSSL's first record) */
    for (unsigned v = 0; v <= 5; v++) {
        memcpy(two, rec, n);
        two[2] = (uint8_t)v;
        ck_assert_int_eq(parse_guarded(two, n, &h, &err), DS_OK);
        ck_assert_uint_eq(h.record_version, 0x0300 + v);
    }

    /* record longer than 2^14 */
    memcpy(two, rec, n);
    two[3] = 0x40;
    two[4] = 0x01;
    ck_assert_int_eq(parse_guarded(two, n, &h, &err), DS_MALFORMED);
    ck_assert_uint_eq(err, 3);

    /* an alert interleaved between two fragments */
    size_t cut[] = { 20 };
    size_t m = reframe(rec, n, cut, 1, two, sizeof(two));
    ck_assert_int_eq(parse_guarded(two, m, &h, &err), DS_OK);
    two[5 + 20] = 21;
    ck_assert_int_eq(parse_guarded(two, m, &h, &err), DS_MALFORMED);
    ck_assert_uint_eq(err, 25);
    ck_assert_int_eq(parse_guarded(two, 26, &h, &err), DS_MALFORMED); /* partial header */

    /* up to 32 empty records are tolerated (OpenSSL MAX_EMPTY_RECORDS), the 33rd is not */
    static uint8_t many[4096];
    for (unsigned empties = 32; empties <= 33; empties++) {
        size_t o = 0;
        for (unsigned i = 0; i < empties; i++) {
            memcpy(many + o, (const uint8_t[]){ 22, 3, 1, 0, 0 }, 5);
            o += 5;
        }
        memcpy(many + o, rec, n);
        enum dstatus st = parse_guarded(many, o + n, &h, &err);
        ck_assert_int_eq(st, empties == 32 ? DS_OK : DS_MALFORMED);
    }

    /* bytes after the hello inside its record are not needed */
    memcpy(two, rec, n);
    two[4] = (uint8_t)(two[4] + 10);
    memset(two + n, 0xee, 10);
    ck_assert_int_eq(parse_guarded(two, n, &h, &err), DS_OK);
    ck_assert_uint_eq(h.consumed, n);
    guard_free();
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST(test_limits)
{
    struct tls_hello h;
    size_t err;
    /* a handshake length over TLS_HELLO_MAX (OpenSSL refuses it) is refused from its header */
    static const uint8_t huge[] = { 22, 3, 1, 0x40, 0x00, 1, 0x02, 0x01, 0x45 };
    ck_assert_int_eq(parse_guarded(huge, sizeof(huge), &h, &err), DS_LIMIT);
    /* the largest one OpenSSL takes is only waited for */
    static const uint8_t max[] = { 22, 3, 1, 0x40, 0x00, 1, 0x02, 0x01, 0x44 };
    ck_assert_int_eq(parse_guarded(max, sizeof(max), &h, &err), DS_NEED_MORE);
    /* an 8 KiB hello in one record needs no scratch at all */
    uint8_t ext[9000], rec[9200];
    size_t e = ext_sni(ext, "example.com");
    static const uint8_t zeros[8000];
    e += ext_raw(ext + e, 21, zeros, sizeof(zeros)); /* padding */
    size_t n = mk_hello(rec, ext, e, true);
    uint8_t *p = guard_copy(rec, n);
    ck_assert_int_eq(tls_hello_parse(p, n, NULL, 0, &h, &err), DS_OK);
    ck_assert(!h.partial);
    ck_assert(span_is(h.sni, "example.com"));
    guard_free();
}
END_TEST

/* A ClientHello of body_len bytes (padding extension of the rest) with the SNI as its first
 * extension (or last when sni_last), framed into records of at most 16384 bytes, as a client
 * with big post-quantum key shares and padding sends it (EVASION S7). Returns its length; *sni_end
 * = message offset just past the SNI extension. */
static size_t mk_big(uint8_t *out, size_t cap, const char *name, size_t body_len, bool sni_last,
                     size_t *sni_end)
{
    static uint8_t msg[140 * 1024];
    uint8_t sni[300];
    size_t sl = ext_sni(sni, name);
    size_t n = 4;
    n += put16(msg + n, 0x0303);
    memset(msg + n, 0x22, 32);
    n += 32;
    msg[n++] = 0;
    /* the extensions block is at most 64 KiB: a larger hello has a long cipher_suites list */
    size_t cs = body_len > 65000 ? (body_len - 65000) & ~(size_t)1 : 2;
    n += put16(msg + n, cs);
    for (size_t k = 0; k < cs; k += 2) {
        msg[n++] = 0x13;
        msg[n++] = 0x01;
    }
    msg[n++] = 1;
    msg[n++] = 0;
    size_t ext_len = body_len + 4 - n - 2;
    n += put16(msg + n, ext_len);
    size_t pad = ext_len - sl - 4;
    ck_assert(n + ext_len <= sizeof(msg));
    if (!sni_last) {
        memcpy(msg + n, sni, sl);
        n += sl;
        *sni_end = n;
    }
    n += put16(msg + n, 21);
    n += put16(msg + n, pad);
    memset(msg + n, 0, pad);
    n += pad;
    if (sni_last) {
        memcpy(msg + n, sni, sl);
        n += sl;
        *sni_end = n;
    }
    msg[0] = 1;
    msg[1] = (uint8_t)((n - 4) >> 16);
    msg[2] = (uint8_t)((n - 4) >> 8);
    msg[3] = (uint8_t)(n - 4);
    size_t o = 0;
    for (size_t at = 0; at < n;) {
        size_t k = n - at < 16384 ? n - at : 16384;
        ck_assert(o + 5 + k <= cap);
        out[o] = 22;
        out[o + 1] = 3;
        out[o + 2] = 1;
        put16(out + o + 3, k);
        memcpy(out + o + 5, msg + at, k);
        o += 5 + k;
        at += k;
    }
    return o;
}

/* 20 KiB and 60 KiB hellos over several records, name first: found from the first bytes, with
 * a 16 KiB scratch, without the rest; name past what fits: LIMIT. */
START_TEST(test_oversized)
{
    static uint8_t rec[150 * 1024];
    size_t sizes[] = { 20 * 1024, 60 * 1024 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct tls_hello h;
        size_t err, sni_end;
        size_t n = mk_big(rec, sizeof(rec), "blocked.example", sizes[i], false, &sni_end);
        /* the first 200 bytes alone */
        ck_assert_int_eq(parse_guarded(rec, 200, &h, &err), DS_OK);
        ck_assert(h.partial && span_is(h.sni, "blocked.example"));
        ck_assert_uint_eq(h.hello_len, sizes[i] + 4);
        /* one byte short of the SNI extension's end: not yet */
        ck_assert_int_eq(parse_guarded(rec, 5 + sni_end - 1, &h, &err), DS_NEED_MORE);
        ck_assert_int_eq(parse_guarded(rec, 5 + sni_end, &h, &err), DS_OK);
        ck_assert(h.partial && span_is(h.sni, "blocked.example"));
        /* everything but the last byte, over several records: scratch holds only 16 KiB */
        ck_assert_int_eq(parse_guarded(rec, n - 1, &h, &err), DS_OK);
        ck_assert(h.partial && span_is(h.sni, "blocked.example"));
        ck_assert_uint_gt(h.records, 1);
        /* whole: complete only when the scratch holds it */
        enum dstatus st = parse_guarded(rec, n, &h, &err);
        ck_assert_int_eq(st, DS_OK);
        ck_assert(span_is(h.sni, "blocked.example"));
        ck_assert(h.partial == (sizes[i] + 4 > SCRATCH_CAP));
        /* the name at the end of a 20 KiB hello does not fit a 16 KiB scratch */
        if (i == 0) {
            n = mk_big(rec, sizeof(rec), "blocked.example", sizes[i], true, &sni_end);
            ck_assert_int_eq(parse_guarded(rec, n, &h, &err), DS_LIMIT);
            uint8_t *p = guard_copy(rec, n);
            static uint8_t big[32 * 1024];
            ck_assert_int_eq(tls_hello_parse(p, n, big, sizeof(big), &h, &err), DS_OK);
            ck_assert(!h.partial && span_is(h.sni, "blocked.example"));
            /* the name split across the scratch's edge: LIMIT until one byte more fits */
            ck_assert_int_eq(tls_hello_parse(p, n, big, sni_end - 1, &h, &err), DS_LIMIT);
            ck_assert_int_eq(tls_hello_parse(p, n, big, sni_end, &h, &err), DS_OK);
            ck_assert(!h.partial && span_is(h.sni, "blocked.example")); /* it is the end */
        }
    }
    guard_free();
}
END_TEST

/* Hellos of 100 and 120 KiB (OpenSSL takes up to 131396 bytes) need a long cipher_suites list,
 * so the name comes after it: found as soon as the bytes up to it are in a 128 KiB scratch,
 * without the rest of the hello. */
START_TEST(test_oversized_cipher_list)
{
    static uint8_t rec[150 * 1024], big[128 * 1024];
    size_t sizes[] = { 100 * 1024, 120 * 1024 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct tls_hello h;
        size_t err, sni_end;
        size_t n = mk_big(rec, sizeof(rec), "blocked.example", sizes[i], false, &sni_end);
        size_t upto = sni_end + 5 * (sni_end / 16384 + 1); /* record headers included */
        uint8_t *p = guard_copy(rec, upto);
        ck_assert_int_eq(tls_hello_parse_early(p, upto, big, sizeof(big), &h, &err), DS_OK);
        ck_assert(h.partial && span_is(h.sni, "blocked.example"));
        ck_assert_uint_eq(h.hello_len, sizes[i] + 4);
        ck_assert_int_eq(tls_hello_parse_early(p, upto - 1, big, sizeof(big), &h, &err),
                         DS_NEED_MORE);
        /* the 16 KiB scratch cannot reach the name */
        ck_assert_int_eq(tls_hello_parse_early(p, upto, big, 16384, &h, &err), DS_LIMIT);
        p = guard_copy(rec, n);
        ck_assert_int_eq(tls_hello_parse(p, n, big, sizeof(big), &h, &err),
                         sizes[i] + 4 <= sizeof(big) ? DS_OK : DS_LIMIT);
    }
    guard_free();
}
END_TEST

/* EVASION S10: what the strict parser refuses, the lenient scan still reads. */
START_TEST(test_lenient_scan)
{
    uint8_t ext[512], rec[1024];
    struct span names[2];
    struct tls_hello h;
    size_t err;
    /* a name_type 1 entry first, then the host_name (Go skips the first) */
    static const uint8_t list[] = { 0x00, 0x00, 0x00, 0x19, 0x00, 0x17, 0x01, 0x00, 0x03, 'x',
                                    'y',  'z',  0x00, 0x00, 0x0d, 'b',  'l',  'o',  'c',  'k',
                                    'e',  'd',  '.',  'e',  'x',  'a',  'm',  'p' };
    size_t n = mk_hello(rec, list, sizeof(list), true);
    uint8_t *p = guard_copy(rec, n);
    ck_assert_int_eq(tls_hello_parse_early(p, n, g_scratch, sizeof(g_scratch), &h, &err),
                     DS_MALFORMED);
    ck_assert_uint_eq(tls_hello_scan_names(p, n, g_scratch, sizeof(g_scratch), names, 2), 1);
    ck_assert(span_is(names[0], "blocked.examp"));
    /* two server_name extensions: both names, in order */
    size_t e = ext_sni(ext, "allowed.example");
    e += ext_sni(ext + e, "blocked.example");
    n = mk_hello(rec, ext, e, true);
    p = guard_copy(rec, n);
    ck_assert_int_eq(tls_hello_parse_early(p, n, g_scratch, sizeof(g_scratch), &h, &err),
                     DS_MALFORMED);
    ck_assert_uint_eq(tls_hello_scan_names(p, n, g_scratch, sizeof(g_scratch), names, 2), 2);
    ck_assert(span_is(names[0], "allowed.example") && span_is(names[1], "blocked.example"));
    ck_assert_uint_eq(tls_hello_scan_names(p, n, g_scratch, sizeof(g_scratch), names, 1), 1);
    /* the same over two records cut inside the second name */
    static uint8_t out[2048];
    size_t cuts[] = { 60 };
    size_t m = reframe(rec, n, cuts, 1, out, sizeof(out));
    p = guard_copy(out, m);
    ck_assert_uint_eq(tls_hello_scan_names(p, m, g_scratch, sizeof(g_scratch), names, 2), 2);
    ck_assert(span_is(names[1], "blocked.example"));
    /* an entry cut short, a NUL in a name, and not a hello at all: no name */
    ck_assert_uint_eq(tls_hello_scan_names(p, m - 3, g_scratch, sizeof(g_scratch), names, 2), 1);
    static const uint8_t nul[] = { 0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x00,
                                   0x00, 0x05, 'a',  0,    'b',  'c',  'd' };
    n = mk_hello(rec, nul, sizeof(nul), true);
    p = guard_copy(rec, n);
    ck_assert_uint_eq(tls_hello_scan_names(p, n, g_scratch, sizeof(g_scratch), names, 2), 0);
    p = guard_copy("GET / HTTP/1.1\r\n", 16);
    ck_assert_uint_eq(tls_hello_scan_names(p, 16, g_scratch, sizeof(g_scratch), names, 2), 0);
    guard_free();
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_fixtures_valid);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_chrome_pq_ech_grease);
    suite_add_tcase(s, tc);
    tc = tcase_create("truncated");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_every_prefix_need_more);
    tcase_add_test(tc, test_multi_record);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, test_length_off_by_one);
    tcase_add_test(tc, test_malformed_cases);
    tcase_add_test(tc, test_record_layer);
    tcase_add_test(tc, test_lenient_scan);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit");
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_oversized);
    tcase_add_test(tc, test_oversized_cipher_list);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
