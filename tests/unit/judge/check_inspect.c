/* check_inspect.c - the one policy for when judging a connection stops (inspect.h), as the packet
 * engine and the inline proxy both apply it: inspect_stream_halt() for every stop reason, app
 * and "judged yet", inspect_request_pending(), inspect_stream_wants_h2(), and the walk of a
 * kept-alive stream through inspect_stream_next() / _passed() to the stop it ends in. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/judge/inspect.h"
#include "rules/match/ruleset.h"
#include "tests/lib/guard.h"

static const struct {
    enum verdict_app app;
    enum inspect_stop why;
    enum inspect_rest rest;
} halt_rows[] = {
    { APP_HTTP, INSPECT_STOP_CUT, INSPECT_REST_UNFRAMED },
    { APP_HTTP, INSPECT_STOP_LIMIT, INSPECT_REST_UNFRAMED },
    { APP_HTTP, INSPECT_STOP_LENIENT, INSPECT_REST_UNFRAMED },
    { APP_HTTP, INSPECT_STOP_BODY, INSPECT_REST_UNFRAMED },
    { APP_HTTP, INSPECT_STOP_MALFORMED, INSPECT_REST_DONE },
    { APP_HTTP, INSPECT_STOP_NOT_MINE, INSPECT_REST_DONE },
    { APP_HTTP, INSPECT_STOP_DONE, INSPECT_REST_DONE },
    { APP_TLS, INSPECT_STOP_LIMIT, INSPECT_REST_DONE },
    { APP_TLS, INSPECT_STOP_LENIENT, INSPECT_REST_DONE },
    { APP_TLS, INSPECT_STOP_MALFORMED, INSPECT_REST_DONE },
    { APP_TLS, INSPECT_STOP_DONE, INSPECT_REST_DONE },
    { APP_H2C, INSPECT_STOP_LIMIT, INSPECT_REST_DONE },
    { APP_H2C, INSPECT_STOP_DONE, INSPECT_REST_DONE },
    { APP_UNKNOWN, INSPECT_STOP_NOT_MINE, INSPECT_REST_DONE },
};

START_TEST(halt_table)
{
    for (size_t i = 0; i < sizeof(halt_rows) / sizeof(halt_rows[0]); i++) {
        for (int judged = 0; judged < 2; judged++) {
            struct inspect_stream s;
            struct inspect_halt h;
            inspect_stream_init(&s);
            s.app = (uint8_t)halt_rows[i].app;
            s.judged = judged != 0;
            memset(&h, 0xa5, sizeof(h));
            inspect_stream_halt(&s, halt_rows[i].why, &h);
            ck_assert_msg(h.rest == halt_rows[i].rest, "row %zu", i);
            ck_assert_msg(h.by_address == !judged, "row %zu judged %d", i, judged);
            /* blocked by policy: a ClientHello over the cap with no name seen (EVASION S7), an
             * h2c header block over the arena, an h2c connection without a decoder state once
             * its first stream passed (s.h2 NULL here) */
            enum verdict_method refuse = METHOD_NONE;
            if (halt_rows[i].why == INSPECT_STOP_LIMIT &&
                ((halt_rows[i].app == APP_TLS && !judged) || halt_rows[i].app == APP_H2C))
                refuse = METHOD_INCOMPLETE;
            if (halt_rows[i].why == INSPECT_STOP_DONE && halt_rows[i].app == APP_H2C)
                refuse = METHOD_NO_ROOM;
            ck_assert_msg(h.refuse == refuse, "row %zu judged %d", i, judged);
        }
    }
}
END_TEST

START_TEST(pending_and_h2)
{
    struct inspect_request rq;
    memset(&rq, 0, sizeof(rq));
    ck_assert(!inspect_request_pending(&rq, false));
    ck_assert(!inspect_request_pending(&rq, true));
    rq.partial = true;
    ck_assert(inspect_request_pending(&rq, false));
    ck_assert(!inspect_request_pending(&rq, true)); /* a full buffer: judged as it is */

    struct inspect_stream s;
    inspect_stream_init(&s);
    const uint8_t *pre = guard_copy("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    ck_assert(inspect_stream_wants_h2(&s, pre, 24));
    ck_assert(inspect_stream_wants_h2(&s, pre, 3)); /* a prefix of the preface */
    ck_assert(!inspect_stream_wants_h2(&s, pre, 0));
    const uint8_t *get = guard_copy("GET / HTTP/1.1\r\n", 16);
    ck_assert(!inspect_stream_wants_h2(&s, get, 16));
    s.app = APP_H2C;
    ck_assert(inspect_stream_wants_h2(&s, get, 0));
    s.app = APP_HTTP; /* decided already: the preface now is not a new start */
    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    ck_assert(!inspect_stream_wants_h2(&s, preface, 24));
    guard_free();
}
END_TEST

/* Walks buf as a mode does (judging passes everything) to the stop; returns the requests
 * judged, the stop reason in *why and the stream in *out. */
static unsigned walk(const char *text, struct inspect_stream *out, enum inspect_stop *why)
{
    static uint8_t scratch[4096];
    size_t len = strlen(text), pos = 0;
    const uint8_t *buf = guard_copy(text, len);
    unsigned n = 0;
    struct inspect_stream s;
    inspect_stream_init(&s);
    for (unsigned guard = 0; guard < 64; guard++) {
        struct inspect_request rq;
        uint64_t skip = 0;
        enum dstatus st;
        enum inspect_step step = inspect_stream_next(&s, buf + pos, len - pos, true, scratch,
                                                     sizeof(scratch), &rq, &skip, why, &st);
        if (step == INSPECT_JUDGE) {
            n++;
            step = inspect_stream_passed(&s, &rq, &skip, why);
        }
        if (step == INSPECT_STOP || step == INSPECT_MORE || pos + skip >= len) {
            if (step != INSPECT_STOP)
                *why = INSPECT_STOP_DONE;
            break;
        }
        pos += (size_t)skip;
    }
    *out = s;
    return n;
}

START_TEST(stream_stops)
{
    static const struct {
        const char *text;
        unsigned requests;
        enum inspect_stop why;
        enum inspect_rest rest;
    } rows[] = {
        /* two kept-alive requests, then bytes that are not HTTP: judging is done */
        { "GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET / HTTP/1.1\r\nHost: b.test\r\n\r\n\x01\x02xx",
          2, INSPECT_STOP_NOT_MINE, INSPECT_REST_DONE },
        /* a head read leniently: where the next request starts is not known */
        { "GET / HTTP/1.1\r\nHost : a.test\r\n\r\nGET / HTTP/1.1\r\nHost: b.test\r\n\r\n", 1,
          INSPECT_STOP_LENIENT, INSPECT_REST_UNFRAMED },
        /* chunked framing that breaks */
        { "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1,
          INSPECT_STOP_BODY, INSPECT_REST_UNFRAMED },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct inspect_stream s;
        struct inspect_halt h;
        enum inspect_stop why = INSPECT_STOP_DONE;
        unsigned n = walk(rows[i].text, &s, &why);
        ck_assert_msg(n == rows[i].requests, "row %zu: %u requests", i, n);
        ck_assert_msg(why == rows[i].why, "row %zu: stop %d", i, (int)why);
        inspect_stream_halt(&s, why, &h);
        ck_assert_msg(h.rest == rows[i].rest, "row %zu", i);
        ck_assert(!h.by_address);
    }
    guard_free();
}
END_TEST

/* A connection decided again on what was kept of it (inspect_decide_kept): a TLS connection's
 * name under a listed domain blocks, another passes; an HTTP connection is judged as for "/": a
 * URL entry for another path of its host does not block it (its next request is judged as it
 * comes), one for "/" does; no name kept: its address decides. */
START_TEST(decide_kept)
{
    static const char *const e[] = { "later.example", "http://urls.example/secret",
                                     "http://root.example/", "10.0.0.9" };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(ruleset_builder_add(b, e[i], strlen(e[i]), NULL, err, sizeof(err)), 0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    struct verdict_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.https_url = VERDICT_HTTPS_URL_BLOCK_NAME;
    uint8_t dst[16] = { 10, 0, 0, 1 }, listed[16] = { 10, 0, 0, 9 };
    struct inspect_flow fl = { .udp = false, .ipver = 4, .dst = dst, .src = NULL, .now = 0 };
    struct inspect_result res;
    static const struct {
        enum verdict_app app;
        const char *name;
        bool listed_dst;
        enum verdict v;
    } rows[] = {
        { APP_TLS, "www.later.example", false, VERDICT_BLOCK },
        { APP_TLS, "allowed.example", false, VERDICT_PASS },
        { APP_HTTP, "urls.example", false, VERDICT_PASS },
        { APP_H2C, "urls.example", false, VERDICT_PASS },
        { APP_HTTP, "root.example", false, VERDICT_BLOCK },
        { APP_QUIC, "", true, VERDICT_BLOCK },
        { APP_TLS, "", false, VERDICT_PASS },
    };
    int wrong = -1;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && wrong < 0; i++) {
        fl.dst = rows[i].listed_dst ? listed : dst;
        fl.udp = rows[i].app == APP_QUIC;
        inspect_decide_kept(rs, &pol, &fl, rows[i].app, false, rows[i].name, strlen(rows[i].name),
                            &res);
        if (res.d.verdict != rows[i].v)
            wrong = (int)i;
    }
    ck_assert_int_eq(wrong, -1);
    /* an HTTP connection's last path kept: the URL listed for it blocks, another path does not;
     * a path as sent is normalized first; no path, or one not starting with '/', is "/" */
    static const struct {
        const char *path;
        enum verdict v;
    } paths[] = {
        { "/secret", VERDICT_BLOCK },     { "/%73ecret", VERDICT_BLOCK },
        { "/secret/more", VERDICT_PASS }, { "/other", VERDICT_PASS },
        { NULL, VERDICT_PASS },           { "secret", VERDICT_PASS },
    };
    fl.dst = dst;
    fl.udp = false;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && wrong < 0; i++) {
        inspect_decide_kept_path(rs, &pol, &fl, APP_HTTP, false, "urls.example", 12, paths[i].path,
                                 paths[i].path ? strlen(paths[i].path) : 0, &res);
        if (res.d.verdict != paths[i].v)
            wrong = (int)i;
    }
    ck_assert_msg(wrong == -1, "path row %d", wrong);
    ruleset_free(rs);
}
END_TEST

static Suite *inspect_suite(void)
{
    Suite *s = suite_create("inspect");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, halt_table);
    tcase_add_test(tc, pending_and_h2);
    tcase_add_test(tc, decide_kept);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, stream_stops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(inspect_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
