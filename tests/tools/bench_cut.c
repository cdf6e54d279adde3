/* bench_cut.c - what judging passed connections again after a new rule set costs (docs/queue.md
 * "Connections passed before an order").
 *
 * Usage: bench_cut [--flows F] [--entries N] [--ips K] [--names C] [--noted Q] [--rounds R]
 *
 * Tap mode: an engine (cut_passed on, the default flow table of 1M slots) is fed F settled TLS
 * flows - SYN, SYN-ACK, ACK, a ClientHello for an allowed name, the server's first record, the
 * client's ACK: six frames each, built by tests/lib/pcapw.c and handed to engine_frame() as they
 * are made - over a rule set of N entries of which K are IP entries, the names of the first T
 * kept (--tap-names; tap.passed_names' default 65,535; the rest find the table full). Then, timed (median
 * of R):
 *   feed      handling the F flows' 6F frames (the baseline: what the table's traffic cost)
 *   walk      engine_set_rules() with a set that lists none of their servers (the walk alone:
 *             the flow table for addresses, the T kept names judged again)
 *   walk+cut  ... with a set that lists 1 % of their servers (10 of 1,000): those flows marked
 * Inline mode: the walk after a publication judges each relayed connection's kept name with
 * inspect_decide(); timed here over C names (a worker's pool is 65,536 connections) against the
 * same set, as the cost per publication per worker.
 * Queue mode: Q connections (queue.passed_names' default 262,144) noted by passnames_add(), as
 * the workers note every TLS/QUIC pass, each from a client of its own, with the default client
 * share (queue.passed_names_per_client, 8192: its table holds every client), and one
 * passnames_rejudge() over them with the same judgement (the names' thread's work per
 * publication; nothing blocked); the notes are also timed without the share (the baseline).
 * Prints a report and one JSON line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/enforce/passnames.h"
#include "proxy/engine/engine.h"
#include "proxy/judge/inspect.h"
#include "rules/match/ruleset.h"
#include "tests/lib/benchtime.h"
#include "tests/lib/pcapw.h"

#define SERVERS 1000

static void die(const char *what)
{
    fprintf(stderr, "bench_cut: %s\n", what);
    exit(1);
}

/* N entries: K IP entries (100.64.0.0/10 addresses), the rest domains; extra (may be NULL) adds
 * the first `listed` of the flows' servers. */
static struct ruleset *build(size_t n, size_t k, size_t listed)
{
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b)
        die("out of memory");
    char t[128], err[128];
    for (size_t i = 0; i < n; i++) {
        if (i < k)
            snprintf(t, sizeof(t), "100.%zu.%zu.%zu", 64 + ((i >> 16) & 63), (i >> 8) & 255,
                     i & 255);
        else
            snprintf(t, sizeof(t), "d%zu.listed%zu.example", i, i % 997);
        if (ruleset_builder_add(b, t, strlen(t), NULL, err, sizeof(err)) != 0)
            die(err);
    }
    for (size_t s = 0; s < listed; s++) {
        snprintf(t, sizeof(t), "198.18.%zu.%zu", s / 250, 1 + s % 250);
        if (ruleset_builder_add(b, t, strlen(t), NULL, err, sizeof(err)) != 0)
            die(err);
    }
    struct ruleset *rs = ruleset_build(b);
    if (!rs)
        die("ruleset_build failed");
    return rs;
}

struct feed {
    struct engine *e;
    uint64_t frames, decisions, cuts;
};

/* pcapw's wrap: every frame built goes to the engine (the file is /dev/null) */
static size_t to_engine(void *ctx, const uint8_t *frame, size_t len, uint8_t *out, size_t cap)
{
    struct feed *f = ctx;
    engine_frame(f->e, 1 /* DLT_EN10MB */, 1000000 + f->frames, frame, len);
    f->frames++;
    if (len > cap)
        return 0;
    memcpy(out, frame, len);
    return len;
}

static void on_event(void *ctx, const struct engine_event *ev)
{
    struct feed *f = ctx;
    f->decisions++;
    f->cuts += ev->cut;
}

struct bench_q {
    const struct ruleset *rs;
    const struct verdict_policy *pol;
    size_t judged;
};

/* The names' thread's judgement (mode_queue.c pn_judge), without the read section. */
static bool q_judge(void *ctx, const struct ctnl_tuple *t, enum verdict_app app, bool ech,
                    const char *name, size_t len)
{
    struct bench_q *q = ctx;
    static struct inspect_result res;
    struct inspect_flow fl;
    memset(&fl, 0, sizeof(fl));
    fl.ipver = t->ipver;
    fl.dst = t->dst;
    fl.src = t->src;
    fl.now = time(NULL);
    inspect_decide_kept(q->rs, q->pol, &fl, app, ech, name, len, &res);
    q->judged++;
    return res.d.verdict == VERDICT_BLOCK;
}

/* n passed connections noted in pn, each from a client of its own, to one of 250 servers. */
static void note_names(struct passnames *pn, size_t n, char *nm, size_t nmsize)
{
    for (size_t i = 0; i < n; i++) {
        struct ctnl_tuple t;
        memset(&t, 0, sizeof(t));
        t.ipver = 4;
        t.proto = 6;
        t.src[0] = 10, t.src[1] = (uint8_t)(i >> 16), t.src[2] = (uint8_t)(i >> 8);
        t.src[3] = (uint8_t)i;
        t.dst[0] = 198, t.dst[1] = 18, t.dst[3] = (uint8_t)(1 + i % 250);
        t.sport = (uint16_t)(1024 + i % 60000);
        t.dport = 443;
        int l = snprintf(nm, nmsize, "s%zu.site%zu.example", i, i % 997);
        passnames_add(pn, &t, APP_TLS, false, nm, (size_t)l);
    }
}

int main(int argc, char **argv)
{
    size_t flows = 500000, entries = 1000000, ips = 100000, names = 65536, noted = 262144,
           tap_names = 65535;
    int rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--flows"))
            flows = v;
        else if (!strcmp(argv[i], "--entries"))
            entries = v;
        else if (!strcmp(argv[i], "--ips"))
            ips = v;
        else if (!strcmp(argv[i], "--names"))
            names = v;
        else if (!strcmp(argv[i], "--noted"))
            noted = v;
        else if (!strcmp(argv[i], "--tap-names"))
            tap_names = v;
        else if (!strcmp(argv[i], "--rounds"))
            rounds = (int)v;
        else
            die("usage: bench_cut [--flows F] [--entries N] [--ips K] [--names C] [--noted Q] "
                "[--tap-names T] [--rounds R]");
    }
    if (rounds < 1 || rounds > 99 || flows == 0 || flows > 1000000 || ips > entries || !noted ||
        noted > (1u << 26) || tap_names > 65535)
        die("bad arguments");
    struct ruleset *rs = build(entries, ips, 0), *none = build(entries + 10, ips + 10, 0),
                   *some = build(entries, ips, SERVERS / 100);
    static uint8_t hello[2048];
    struct pcapw_hello hh;
    memset(&hh, 0, sizeof(hh));
    hh.sni = "allowed.example";
    hh.alpn = "h2,http/1.1";
    hh.seed = 3;
    size_t hn = pcapw_tls_hello(&hh, hello, sizeof(hello), NULL);
    static const uint8_t rec[64] = { 0x16, 0x03, 0x03, 0x00, 0x3b };
    double feed[99], walk[99], cut[99], judge[99], note[99], note0[99], qwalk[99];
    uint64_t marked = 0;
    for (int r = 0; r < rounds; r++) {
        struct engine_config cfg;
        engine_config_default(&cfg);
        cfg.cut_passed = true;
        cfg.passed_names = (uint32_t)tap_names; /* the walk judges those names again too */
        struct feed fd = { 0 };
        fd.e = engine_new(&cfg, rs, on_event, &fd);
        struct pcapw *w = pcapw_open("/dev/null");
        if (!fd.e || !w || pcapw_set_wrap(w, to_engine, &fd) != 0)
            die("engine or writer");
        double t0 = bench_now_ms();
        for (size_t i = 0; i < flows; i++) {
            char cli[32], srv[32];
            snprintf(cli, sizeof(cli), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255,
                     1 + (i & 127));
            size_t s = i % SERVERS;
            snprintf(srv, sizeof(srv), "198.18.%zu.%zu", s / 250, 1 + s % 250);
            struct pcapw_conv c;
            if (pcapw_conv_init(&c, w, 1000000, cli, (uint16_t)(1024 + (i >> 7) % 60000), srv,
                                443) != 0 ||
                pcapw_conv_handshake(&c) != 0 || pcapw_conv_client_data(&c, 0, hello, hn) != 0 ||
                pcapw_conv_server_data(&c, 0, rec, sizeof(rec)) != 0 ||
                pcapw_conv_ack(&c, true) != 0)
                die("writing a flow");
        }
        feed[r] = bench_now_ms() - t0;
        if (fd.decisions != flows)
            die("not every flow was decided once");
        t0 = bench_now_ms();
        engine_set_rules(fd.e, none);
        walk[r] = bench_now_ms() - t0;
        t0 = bench_now_ms();
        engine_set_rules(fd.e, some);
        cut[r] = bench_now_ms() - t0;
        /* the marked flows are cut at their next packet: one each */
        for (size_t i = 0; i < flows; i++) {
            size_t s = i % SERVERS;
            if (s >= SERVERS / 100)
                continue;
            char cli[32], srv[32];
            snprintf(cli, sizeof(cli), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255,
                     1 + (i & 127));
            snprintf(srv, sizeof(srv), "198.18.%zu.%zu", s / 250, 1 + s % 250);
            struct pcapw_conv c;
            if (pcapw_conv_init(&c, w, 1000000, cli, (uint16_t)(1024 + (i >> 7) % 60000), srv,
                                443) != 0)
                die("writing a flow");
            c.snext = c.sisn + 1 + sizeof(rec);
            c.cnext = c.cisn + 1 + (uint32_t)hn;
            if (pcapw_conv_server_data(&c, sizeof(rec), rec, sizeof(rec)) != 0)
                die("writing a packet");
        }
        marked = fd.cuts;
        pcapw_close(w);
        engine_free(fd.e);

        /* inline: one inspect_decide() per kept name */
        struct inspect_flow fl;
        memset(&fl, 0, sizeof(fl));
        uint8_t dst[16] = { 198, 18, 0, 1 }, src[16] = { 10, 0, 0, 1 };
        fl.ipver = 4;
        fl.dst = dst;
        fl.src = src;
        fl.now = time(NULL);
        struct verdict_policy pol;
        memset(&pol, 0, sizeof(pol));
        static struct inspect_result res;
        size_t blocked = 0;
        char nm[64];
        t0 = bench_now_ms();
        for (size_t i = 0; i < names; i++) {
            int l = snprintf(nm, sizeof(nm), "s%zu.site%zu.example", i, i % 997);
            struct inspect_request rq;
            memset(&rq, 0, sizeof(rq));
            rq.app = APP_TLS;
            rq.name.p = (const uint8_t *)nm;
            rq.name.len = (size_t)l;
            dst[3] = (uint8_t)(1 + i % 250);
            inspect_decide(none, &pol, &fl, &rq, rq.name, &res);
            blocked += res.d.verdict == VERDICT_BLOCK;
        }
        judge[r] = bench_now_ms() - t0;
        if (blocked)
            die("an allowed name was blocked");

        /* queue: the notes (without the client share, then with it), then one walk */
        char err[256];
        struct passnames *pn = NULL;
        for (int share = 0; share < 2; share++) {
            passnames_free(pn);
            pn = passnames_new((uint32_t)noted, 0x10000, 0x20000, err, sizeof(err));
            if (!pn || (share && passnames_set_client_share(pn, 8192, 64, err, sizeof(err)) < 0))
                die(err);
            t0 = bench_now_ms();
            note_names(pn, noted, nm, sizeof(nm));
            (share ? note : note0)[r] = bench_now_ms() - t0;
        }
        struct passnames_stats ps;
        passnames_get_stats(pn, &ps);
        if (ps.noted != noted || ps.client_full)
            die("a note was refused");
        struct bench_q bq = { none, &pol, 0 };
        static struct passnames_conn out[16];
        t0 = bench_now_ms();
        size_t qb = passnames_rejudge(pn, q_judge, &bq, out, 16);
        qwalk[r] = bench_now_ms() - t0;
        if (qb || bq.judged != noted)
            die("the walk did not judge every note once, or blocked an allowed one");
        passnames_free(pn);
    }
    double f = bench_median(feed, (size_t)rounds), wk = bench_median(walk, (size_t)rounds),
           ct = bench_median(cut, (size_t)rounds), jd = bench_median(judge, (size_t)rounds),
           nt = bench_median(note, (size_t)rounds), qw = bench_median(qwalk, (size_t)rounds),
           n0 = bench_median(note0, (size_t)rounds);
    printf("bench_cut: %zu settled TLS flows (6 frames each), a set of %zu entries (%zu IP), "
           "%zu names kept\n",
           flows, entries, ips, tap_names);
    printf("  feed (baseline)          %9.1f ms  %6.0f ns per flow\n", f, f * 1e6 / (double)flows);
    printf("  walk, nothing listed     %9.1f ms  %6.1f ns per flow  %.4fx the feed\n", wk,
           wk * 1e6 / (double)flows, wk / f);
    printf("  walk, 1%% of servers      %9.1f ms  %6.1f ns per flow  %.4fx the feed  (%llu cut)\n",
           ct, ct * 1e6 / (double)flows, ct / f, (unsigned long long)marked);
    printf("  inline: %zu names judged %9.1f ms  %6.0f ns per connection\n", names, jd,
           jd * 1e6 / (double)names);
    printf("  queue: %zu notes          %9.1f ms  %6.0f ns per connection passed (with the "
           "client share; without it %.1f ms, %.0f ns: %.2fx)\n",
           noted, nt, nt * 1e6 / (double)noted, n0, n0 * 1e6 / (double)noted, nt / n0);
    printf("  queue: the walk over them %9.1f ms  %6.0f ns per connection\n", qw,
           qw * 1e6 / (double)noted);
    printf(
        "{\"bench\":\"cut\",\"flows\":%zu,\"entries\":%zu,\"ips\":%zu,\"tap_names\":%zu,"
        "\"rounds\":%d,"
        "\"feed_ms\":%.1f,\"walk_ms\":%.2f,\"walk_cut_ms\":%.2f,\"cut\":%llu,"
        "\"names\":%zu,\"judge_ms\":%.2f,\"noted\":%zu,\"note_ms\":%.2f,\"note_noshare_ms\":%.2f,"
        "\"qwalk_ms\":%.2f}\n",
        flows, entries, ips, tap_names, rounds, f, wk, ct, (unsigned long long)marked, names, jd,
        noted, nt, n0, qw);
    ruleset_free(rs);
    ruleset_free(none);
    ruleset_free(some);
    return marked == (uint64_t)(flows / 100) ? 0 : 1;
}
