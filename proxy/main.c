/* main.c - the `qorgau` command: subcommands scan, rules check, run, config, order, query,
 * status, subscriber, verify, report, deadlines, stats, version. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "proxy/capture/capture.h"
#include "proxy/capture/capture_pcap.h"
#include "common/progress.h"
#include "common/compiler.h"
#include "proxy/daemon/daemon.h"
#include "proxy/daemon/orders_cli.h"
#include "proxy/daemon/verify.h"
#include "proxy/daemon/report_cli.h"
#include "proxy/daemon/subs_cli.h"
#include "proxy/daemon/tariff_cli.h"
#include "proxy/daemon/tariffcfg.h"
#include "rules/match/rsref.h"
#include "rules/subs/pseudo.h"
#include "proxy/packet/decode.h"
#include "proxy/packet/csumpol.h"
#include "proxy/engine/engine.h"
#include "common/jsonw.h"
#include "rules/lists/loader.h"
#include "rules/match/ruleset.h"
#include "common/version.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fputs(
        "usage: qorgau scan [--rules PATH]... [--image FILE] [--https-url name|ignore]\n"
        "                   [--notice-url URL] [--max-flows N] [--checksums verify|ignore|auto]\n"
        "                   [--categories DIR]... [--profiles FILE] [--subscribers FILE]\n"
        "                   [--timezone ZONE] [--tariff-image FILE] [--privacy-secret FILE]\n"
        "                   [--clear-ids] CAPTURE\n"
        "       qorgau rules check PATH...\n"
        "       qorgau rules compile -o FILE PATH...\n"
        "       qorgau run -c FILE [--foreground] [--check]\n"
        "       qorgau config check [-c] FILE | qorgau config doc\n"
        "       qorgau config rules [--iptables|--nft] [--redirect] [--iface NAME]... [-c] FILE\n"
        "       qorgau order [-c CONFIG] [--store URL] import FILE... [--urgent] | list | show ID\n"
        "                    | revoke ID | restore ID\n"
        "       qorgau query [-c CONFIG | --store URL] NAME|URL|IP... | -\n"
        "       qorgau status [-c CONFIG] [--store URL] [ORDER_ID]\n"
        "       qorgau verify [-c CONFIG] [--store URL] ORDER_ID [--via ADDR] [--timeout D]\n"
        "                     [--format json|text] [--out FILE]\n"
        "       qorgau report ORDER_ID [-c CONFIG] [--store URL] [--format html|json|csv]\n"
        "                     [--lang ru|kk|en] [-o FILE]\n"
        "       qorgau deadlines [-c CONFIG] [--store URL] [--format table|json] [--all]\n"
        "       qorgau stats --from DATE --to DATE [-c CONFIG] [--store URL] [--format html|json]\n"
        "       qorgau subscriber [-c CONFIG] [--store URL] set ADDR SUBSCRIBER [--ttl D]\n"
        "                    | show ADDR | del ADDR | list\n"
        "       qorgau subscriber [-c CONFIG] [--store URL] profile SUB [NAME|TEXT...] [--del]\n"
        "       qorgau profile [-c CONFIG] [--store URL] set NAME [TEXT...] | show NAME | list\n"
        "                      | del NAME\n"
        "       qorgau tariff compile -o FILE [--categories DIR]... [--profiles FILE]\n"
        "                             [--subscribers FILE] [--timezone ZONE]\n"
        "       qorgau version\n"
        "\n"
        "scan         read a pcap/pcapng file and print one JSON line per decision\n"
        "rules check  validate and compile lists/orders; print counts and every error\n"
        "rules compile the same, written as a rule-set image (for scan --image)\n"
        "run          the daemon: tap (mirror port), inline (transparent proxy) or queue (NFQUEUE) "
        "mode\n"
        "config       validate a config file / print the documentation of every key /\n"
        "             write the kernel rules of its mode (queue, inline)\n"
        "order        import regulator orders into the store, list, show, revoke, restore\n"
        "query        what a running node (-c) or the store's current version decides\n"
        "status       the nodes following the store: version, lag, heartbeat\n"
        "verify       probe every resource of an order from the subscriber side: blocked?\n"
        "report       an order's execution report: HTML (printable), JSON or CSV; signed\n"
        "deadlines    open orders by time left; exit 1 if one is due within 48 h unreported\n"
        "stats        orders, resources and deadlines over a period, with charts\n"
        "subscriber   who is behind an address: the subscriber map in the store\n"
        "tariff compile the child-tariff inputs written as one image (for scan --tariff-image)\n"
        "See docs/ for formats and configuration.\n",
        f);
}

/* Loads every path into a new rule set. Errors of single entries go to stderr and are counted in
 * *errors; a file that cannot be read at all fails the whole load. */
static struct ruleset *load_rules(char **paths, size_t n, size_t *errors)
{
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b) {
        fputs("qorgau: out of memory\n", stderr);
        return NULL;
    }
    *errors = 0;
    for (size_t i = 0; i < n; i++) {
        struct loader_stats st;
        memset(&st, 0, sizeof(st));
        int rc = loader_load_file(b, paths[i], stderr, &st);
        if (rc < 0) {
            ruleset_builder_free(b);
            return NULL;
        }
        *errors += st.errors;
    }
    struct ruleset *rs = ruleset_build(b);
    if (!rs)
        fputs("qorgau: out of memory compiling the rule set\n", stderr);
    return rs;
}

/* Decision lines are built straight into one 64 KiB buffer, written with one fwrite when the
 * next piece does not fit and at the end of the scan: stdio per field was an eighth of the
 * scan's time, a call per line still a few percent. Strings are escaped into it by
 * jsonw_piece(), the one escaper. */
#define SCAN_OUT_CAP (64u * 1024)

struct line {
    FILE *f;
    size_t n;
    char b[SCAN_OUT_CAP];
};

struct scan_out {
    FILE *f;
    const struct ruleset *rs;
    const struct pseudo *ps; /* child tariffs: subscriber pseudonyms; NULL: no tariff table */
    struct line *l;          /* the output buffer of f */
};

static void line_flush(struct line *l)
{
    if (l->n)
        fwrite(l->b, 1, l->n, l->f);
    l->n = 0;
}

/* Room for len more bytes in the buffer (len <= SCAN_OUT_CAP): flushes if needed. */
static inline void line_room(struct line *l, size_t len)
{
    if (unlikely(len > SCAN_OUT_CAP - l->n))
        line_flush(l);
}

static inline void line_put(struct line *l, const char *s, size_t len)
{
    if (unlikely(len > SCAN_OUT_CAP - l->n)) {
        line_flush(l);
        if (len > SCAN_OUT_CAP) {
            fwrite(s, 1, len, l->f);
            return;
        }
    }
    memcpy(l->b + l->n, s, len);
    l->n += len;
}

#define LINE_LIT(l, s) line_put((l), (s), sizeof(s) - 1)

/* A JSON string, escaped by jsonw_piece() (the one escaper) straight into the line. */
static void line_str(struct line *l, const char *s, size_t len)
{
    char esc[JSONW_ESC_MAX];
    size_t elen;
    LINE_LIT(l, "\"");
    while (len > 0) {
        size_t n = jsonw_piece(s, len, 0, esc, &elen);
        if (likely(n)) {
            line_put(l, s, n);
        } else {
            line_put(l, esc, elen);
            n = 1;
        }
        s += n;
        len -= n;
    }
    LINE_LIT(l, "\"");
}

static void line_cstr(struct line *l, const char *s)
{
    if (s)
        line_str(l, s, strlen(s));
    else
        LINE_LIT(l, "null");
}

/* A name from verdict.h's fixed tables, or another text known to need no escaping (plain ASCII
 * words), or null. */
static void line_name(struct line *l, const char *s)
{
    if (!s) {
        LINE_LIT(l, "null");
        return;
    }
    size_t len = strlen(s);
    line_room(l, len + 2);
    l->b[l->n] = '"';
    memcpy(l->b + l->n + 1, s, len);
    l->b[l->n + 1 + len] = '"';
    l->n += len + 2;
}

/* The fixed-format pieces of a line are written straight at a cursor into room made once for
 * a run of them (line_room()), the line's length set after the run: the strings whose length is
 * not bounded go through the checked line_str() between runs. */
#define PUT_LIT(o, s) (memcpy((o), (s), sizeof(s) - 1), (o) + sizeof(s) - 1)

enum { EP_MAX = 64 }; /* "[v6]:port" and its NUL fit */

/* Room for a run: "{"flow":" and 20 digits, two quoted endpoints, the proto and app pieces. */
#define LINE_HEAD_MAX 256
/* Room for the verdict, method and action pieces (names of verdict.h's tables). */
#define LINE_VERDICT_MAX 128
/* Room for "req" and its number, or for the flags and the line's end. */
#define LINE_TAIL_MAX 64

static char *put_u64(char *o, uint64_t v)
{
    char t[24];
    size_t i = sizeof(t);
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(o, t + i, sizeof(t) - i);
    return o + (sizeof(t) - i);
}

/* "address:port" formatted by decode_fmt_endpoint() in place (digits, dots, colons, brackets
 * and hex: nothing to escape), quoted. */
static char *put_endpoint(char *o, const uint8_t *addr, int ipver, uint16_t port)
{
    *o = '"';
    decode_fmt_endpoint(addr, ipver, port, o + 1, EP_MAX);
    size_t n = strlen(o + 1);
    o[1 + n] = '"';
    return o + n + 2;
}

/* A name from verdict.h's fixed tables (short plain ASCII words), quoted, or null. */
static char *put_name(char *o, const char *s)
{
    if (!s)
        return PUT_LIT(o, "null");
    size_t len = strlen(s);
    *o = '"';
    memcpy(o + 1, s, len);
    o[1 + len] = '"';
    return o + len + 2;
}

static void scan_event(void *ctx, const struct engine_event *ev)
{
    struct scan_out *so = ctx;
    struct line *l = so->l;

    line_room(l, LINE_HEAD_MAX);
    char *o = l->b + l->n;
    o = PUT_LIT(o, "{\"flow\":");
    o = put_u64(o, ev->flow_id);
    o = PUT_LIT(o, ",\"src\":");
    o = put_endpoint(o, ev->client, ev->ipver, ev->client_port);
    o = PUT_LIT(o, ",\"dst\":");
    o = put_endpoint(o, ev->server, ev->ipver, ev->server_port);
    if (ev->l4proto == 17)
        o = PUT_LIT(o, ",\"proto\":\"udp\",\"app\":");
    else
        o = PUT_LIT(o, ",\"proto\":\"tcp\",\"app\":");
    o = put_name(o, verdict_app_name(ev->app));
    o = PUT_LIT(o, ",\"name\":");
    l->n = (size_t)(o - l->b);
    if (ev->name)
        line_str(l, ev->name, ev->name_len);
    else
        LINE_LIT(l, "null");
    if (ev->raw_name) {
        LINE_LIT(l, ",\"raw_name\":");
        line_str(l, ev->raw_name, ev->raw_name_len);
    }
    LINE_LIT(l, ",\"url\":");
    if (ev->url)
        line_str(l, ev->url, ev->url_len);
    else
        LINE_LIT(l, "null");
    line_room(l, LINE_VERDICT_MAX);
    o = l->b + l->n;
    o = PUT_LIT(o, ",\"verdict\":");
    o = put_name(o, verdict_name(ev->d.verdict));
    o = PUT_LIT(o, ",\"method\":");
    o = put_name(o, verdict_method_name(ev->d.method));
    o = PUT_LIT(o, ",\"action\":");
    o = put_name(o, verdict_action_name(ev->d.action));
    l->n = (size_t)(o - l->b);
    bool hit = ev->d.entry != RULESET_NO_ENTRY && so->rs;
    if (!hit && !ev->d.category[0]) {
        LINE_LIT(l, ",\"rule\":null,\"order\":null,\"category\":null");
    } else {
        LINE_LIT(l, ",\"rule\":");
        line_cstr(l, hit ? ruleset_entry_text(so->rs, ev->d.entry) : NULL);
        LINE_LIT(l, ",\"order\":");
        line_cstr(l, hit ? ruleset_entry_order(so->rs, ev->d.entry) : NULL);
        LINE_LIT(l, ",\"category\":");
        line_cstr(l, hit ? ruleset_entry_category(so->rs, ev->d.entry) : ev->d.category);
    }
    if (ev->d.cause != CAUSE_NONE) {
        LINE_LIT(l, ",\"cause\":");
        line_name(l, verdict_cause_name(ev->d.cause));
    }
    if (so->ps) {
        char pn[SUB_ID_MAX + 1];
        pseudo_id(so->ps, ev->d.sub, pn, sizeof(pn));
        /* profile names are [a-z0-9_-] (profile_parse() refuses others): nothing to escape;
         * a keyed pseudonym is "p-" and hex, but a clear subscriber id may hold '"' or '\\' */
        LINE_LIT(l, ",\"profile\":");
        line_name(l, ev->d.profile[0] ? ev->d.profile : NULL);
        LINE_LIT(l, ",\"subscriber\":");
        if (so->ps->clear)
            line_cstr(l, pn[0] ? pn : NULL);
        else
            line_name(l, pn[0] ? pn : NULL);
    }
    line_room(l, LINE_TAIL_MAX);
    o = l->b + l->n;
    o = PUT_LIT(o, ",\"req\":");
    o = put_u64(o, ev->req);
    l->n = (size_t)(o - l->b);
    if (ev->alpn) {
        LINE_LIT(l, ",\"alpn\":");
        line_str(l, ev->alpn, ev->alpn_len);
    }
    line_room(l, LINE_TAIL_MAX);
    o = l->b + l->n;
    if (ev->ech)
        o = PUT_LIT(o, ",\"ech\":true");
    if (ev->alt)
        o = PUT_LIT(o, ",\"alt\":true");
    o = PUT_LIT(o, "}\n");
    l->n = (size_t)(o - l->b);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_summary(const char *path, const struct engine_stats *st, double secs,
                          int checksums)
{
    fprintf(stderr, "{\"summary\":true,\"capture\":");
    jsonw_cstr(stderr, path);
    /* how request judging ended where it did not end in a decision on a complete request */
    fprintf(stderr,
            ",\"tls_cut\":%llu,\"http_cut\":%llu,\"lenient_names\":%llu,"
            "\"http_body_malformed\":%llu,\"stream_not_mine\":%llu,\"h2c_no_state\":%llu",
            (unsigned long long)st->tls_cut, (unsigned long long)st->http_cut,
            (unsigned long long)st->lenient_names, (unsigned long long)st->http_body_malformed,
            (unsigned long long)st->stream_not_mine, (unsigned long long)st->h2c_no_state);
    /* the other views of TCP streams (tcpreasm.h) */
    fprintf(stderr, ",\"alt_judged\":%llu,\"not_mine_watched\":%llu,\"views_full\":%llu",
            (unsigned long long)st->alt_judged, (unsigned long long)st->not_mine_watched,
            (unsigned long long)st->views_full);
    fprintf(stderr, ",\"scan_streams\":%llu,\"scan_names\":%llu",
            (unsigned long long)st->scan_streams, (unsigned long long)st->scan_names);
    fprintf(stderr,
            ",\"packets\":%llu,\"bytes\":%llu,\"flows\":%llu,\"decisions\":%llu,\"blocks\":%llu,"
            "\"seconds\":%.3f,\"packets_per_s\":%.0f,\"gbit_per_s\":%.3f,\"decode_errors\":{",
            (unsigned long long)st->frames, (unsigned long long)st->bytes,
            (unsigned long long)st->flows, (unsigned long long)st->decisions,
            (unsigned long long)st->blocks, secs, secs > 0 ? (double)st->frames / secs : 0.0,
            secs > 0 ? (double)st->bytes * 8 / secs / 1e9 : 0.0);
    bool first = true;
    for (int r = 0; r < DECODE_RESULT_COUNT; r++) {
        if (r == DECODE_OK || r == DECODE_FRAGMENT || st->decode[r] == 0)
            continue;
        jsonw_key(stderr, decode_result_name((enum decode_result)r), first);
        fprintf(stderr, "%llu", (unsigned long long)st->decode[r]);
        first = false;
    }
    fprintf(stderr,
            "},\"fragments\":%llu,\"fragments_reassembled\":%llu,\"fragments_dropped\":%llu,"
            "\"flows_evicted\":%llu,\"reasm_no_buffer\":%llu,\"reasm_judged_alone\":%llu,"
            "\"segments_ignored\":%llu,"
            "\"overlap_conflicts\":%llu,\"tls_malformed\":%llu,\"tls_limit\":%llu,"
            "\"http_malformed\":%llu,\"http_limit\":%llu,\"quic_malformed\":%llu,"
            "\"quic_not_initial\":%llu,\"quic_budget_spent\":%llu,\"quic_incomplete_blocked\":%llu,"
            "\"quic_conflicts\":%llu,"
            "\"quic_restarts\":%llu,\"quic_coalesced_limit\":%llu,\"quic_no_slot\":%llu,"
            "\"limit_blocked\":%llu,\"names_invalid\":%llu,\"ech\":%llu,\"ipv6_dropped_ext\":%llu,"
            "\"checksums\":\"%s\","
            "\"csum_set_aside\":%llu,\"csum_accepted\":%llu,\"csum_sources_ignored\":%llu,"
            "\"reasm_grown\":%llu}\n",
            (unsigned long long)st->frag_in, (unsigned long long)st->frag_done,
            (unsigned long long)st->frag_dropped, (unsigned long long)st->flows_evicted,
            (unsigned long long)st->reasm_no_buffer, (unsigned long long)st->reasm_judged_alone,
            (unsigned long long)st->reasm_ignored, (unsigned long long)st->reasm_conflicts,
            (unsigned long long)st->tls_malformed, (unsigned long long)st->tls_limit,
            (unsigned long long)st->http_malformed, (unsigned long long)st->http_limit,
            (unsigned long long)st->quic_malformed, (unsigned long long)st->quic_not_initial,
            (unsigned long long)st->quic_budget_spent,
            (unsigned long long)st->quic_incomplete_blocked, (unsigned long long)st->quic_conflicts,
            (unsigned long long)st->quic_restarts, (unsigned long long)st->quic_coalesced_limit,
            (unsigned long long)st->quic_no_slot, (unsigned long long)st->limit_blocked,
            (unsigned long long)st->name_invalid, (unsigned long long)st->ech,
            (unsigned long long)st->ipv6_bad_ext, csumpol_mode_name((enum csumpol_mode)checksums),
            (unsigned long long)st->csum_set_aside, (unsigned long long)st->csum_accepted,
            (unsigned long long)st->csum_sources_ignored, (unsigned long long)st->reasm_grown);
}

static int parse_size(const char *opt, const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "qorgau: %s: '%s' is not a number in %zu..%zu\n", opt, s, min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* The child-tariff inputs of scan and tariff compile into a new table and subscriber map
 * (*m NULL when there is none): the image at timage (read-only, nothing parsed), or the
 * category trees, the profiles file and the subscribers file (each may be absent), bad lines
 * and definitions that did not compile reported to stderr and counted in *rejected. 0, or -1
 * with the reason in err. */
static int load_tariff_inputs(const char *timage, const char *const *cat_dirs, size_t ncat,
                              const char *prof_file, const char *subs_file, const char *zone,
                              struct tariff **t, struct submap **m, size_t *rejected, char *err,
                              size_t errlen)
{
    *t = NULL;
    *m = NULL;
    *rejected = 0;
    if (timage)
        return tariffcfg_image_load(timage, 0, t, m, err, errlen) < 0 ? -1 : 0;
    /* a map of the file's size: its slots stay in the caches */
    size_t nsubs = subs_file ? tariffcfg_count_lines(subs_file) : 0;
    struct tariffcfg_stats st;
    *t = tariff_new(NULL);
    *m = submap_new(nsubs < (1u << 28) ? nsubs + 16 : 1u << 28);
    if (!*t || !*m)
        snprintf(err, errlen, "out of memory");
    if (!*t || !*m ||
        tariffcfg_load(*t, cat_dirs, ncat, prof_file, zone, time(NULL), stderr, &st, err, errlen) <
            0 ||
        (subs_file &&
         tariffcfg_subscribers_file(*m, subs_file, stderr, rejected, err, errlen) < 0)) {
        tariff_free(*t);
        submap_free(*m);
        *t = NULL;
        *m = NULL;
        return -1;
    }
    *rejected += st.bad_lines + (size_t)st.problems;
    return 0;
}

/* qorgau tariff compile -o FILE [--categories DIR]... [--profiles FILE] [--subscribers FILE]
 * [--timezone ZONE]: the child-tariff inputs compiled and written as one image (for scan
 * --tariff-image). */
static int cmd_tariff(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "categories", required_argument, NULL, 'C' },
        { "profiles", required_argument, NULL, 'P' },
        { "subscribers", required_argument, NULL, 'S' },
        { "timezone", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL, *prof_file = NULL, *subs_file = NULL, *zone = "Asia/Almaty";
    const char **cat_dirs = calloc((size_t)argc + 1, sizeof(*cat_dirs));
    size_t ncat = 0;
    int c, ret = EXIT_USAGE;
    if (!cat_dirs)
        return 1;
    optind = 1;
    if (argc < 2 || strcmp(argv[1], "compile") != 0) {
        fputs("usage: qorgau tariff compile -o FILE [--categories DIR]... [--profiles FILE]\n"
              "                             [--subscribers FILE] [--timezone ZONE]\n",
              stderr);
        free(cat_dirs);
        return EXIT_USAGE;
    }
    optind = 2;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'C': cat_dirs[ncat++] = optarg; break;
        case 'P': prof_file = optarg; break;
        case 'S': subs_file = optarg; break;
        case 'Z': zone = optarg; break;
        default:
            fputs("usage: qorgau tariff compile -o FILE [--categories DIR]... [--profiles FILE]\n"
                  "                             [--subscribers FILE] [--timezone ZONE]\n",
                  c == 'h' ? stdout : stderr);
            free(cat_dirs);
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        fputs("qorgau tariff compile: -o FILE and no other argument expected\n", stderr);
        free(cat_dirs);
        return EXIT_USAGE;
    }
    struct tariff *t;
    struct submap *m;
    char err[1024];
    size_t rejected;
    if (load_tariff_inputs(NULL, cat_dirs, ncat, prof_file, subs_file, zone, &t, &m, &rejected, err,
                           sizeof(err)) < 0 ||
        tariffcfg_image_write(out, t, subs_file ? m : NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        ret = 1;
    } else {
        struct tariff_stats st;
        tariff_get_stats(t, &st);
        printf("tariff image %s: %zu categories, %zu profiles, %zu subscriber settings, %zu "
               "address mappings\n",
               out, st.categories, st.profiles, st.subscribers, subs_file ? submap_count(m) : 0);
        /* (as rules compile: a gate before the image is used; the rest is written all the same) */
        if (rejected)
            fprintf(stderr,
                    "qorgau: %zu lines or definitions were rejected (see above); the image "
                    "holds the rest\n",
                    rejected);
        ret = rejected ? 1 : 0;
    }
    tariff_free(t);
    submap_free(m);
    free(cat_dirs);
    return ret;
}

static int cmd_scan(int argc, char **argv)
{
    static const struct option opts[] = {
        { "rules", required_argument, NULL, 'r' },
        { "image", required_argument, NULL, 'i' },
        { "https-url", required_argument, NULL, 'u' },
        { "max-flows", required_argument, NULL, 'f' },
        { "notice-url", required_argument, NULL, 'n' },
        { "checksums", required_argument, NULL, 'k' },
        { "categories", required_argument, NULL, 'C' },
        { "profiles", required_argument, NULL, 'P' },
        { "subscribers", required_argument, NULL, 'S' },
        { "timezone", required_argument, NULL, 'Z' },
        { "tariff-image", required_argument, NULL, 'T' },
        { "privacy-secret", required_argument, NULL, 'X' },
        { "clear-ids", no_argument, NULL, 'I' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char **rules = calloc((size_t)argc + 1, sizeof(*rules));
    size_t nrules = 0;
    const char *image = NULL;
    const char **cat_dirs = calloc((size_t)argc + 1, sizeof(*cat_dirs));
    size_t ncat = 0;
    const char *prof_file = NULL, *subs_file = NULL, *zone = "Asia/Almaty", *secret = NULL;
    const char *timage = NULL;
    bool zone_set = false;
    struct pseudo ps = { .clear = false };
    struct tariff *tariff = NULL;
    struct submap *smap = NULL;
    struct verdict_tariff vt = { NULL, NULL };
    struct engine_config cfg;
    int c, ret = EXIT_USAGE;

    engine_config_default(&cfg);
    /* A capture file is often taken on a sending host (offloaded checksums) or anonymised
     * (zeroed checksums): learn per source which checksums mean something. */
    cfg.checksums = CSUMPOL_AUTO;
    /* the file reader's frames were copied just before they are pushed (engine.h) */
    cfg.frames_cached = true;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': rules[nrules++] = optarg; break;
        case 'i': image = optarg; break;
        case 'u':
            if (strcmp(optarg, "name") == 0)
                cfg.policy.https_url = VERDICT_HTTPS_URL_BLOCK_NAME;
            else if (strcmp(optarg, "ignore") == 0)
                cfg.policy.https_url = VERDICT_HTTPS_URL_IGNORE;
            else {
                fprintf(stderr, "qorgau: --https-url: '%s' is not one of name, ignore\n", optarg);
                goto out;
            }
            break;
        case 'n':
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0) {
                fprintf(stderr, "qorgau: --notice-url: '%s' is not an http(s) URL\n", optarg);
                goto out;
            }
            cfg.policy.notice_url = optarg;
            break;
        case 'f':
            if (parse_size("--max-flows", optarg, 1024, 100000000, &cfg.max_flows) < 0)
                goto out;
            break;
        case 'k':
            cfg.checksums = csumpol_parse(optarg);
            if (cfg.checksums < 0) {
                fprintf(stderr, "qorgau: --checksums: '%s' is not one of verify, ignore, auto\n",
                        optarg);
                goto out;
            }
            break;
        case 'C': cat_dirs[ncat++] = optarg; break;
        case 'P': prof_file = optarg; break;
        case 'S': subs_file = optarg; break;
        case 'Z':
            zone = optarg;
            zone_set = true;
            break;
        case 'T': timage = optarg; break;
        case 'X': secret = optarg; break;
        case 'I': ps.clear = true; break;
        case 'h':
            usage(stdout);
            ret = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (timage && (ncat || prof_file || subs_file || zone_set)) {
        fputs("qorgau scan: --tariff-image excludes --categories, --profiles, --subscribers and "
              "--timezone (the image holds them)\n",
              stderr);
        goto out;
    }
    if (timage || ncat || prof_file || subs_file) {
        /* child tariffs (docs/profiles.md): schedules are read at the packets' times */
        char terr[1024];
        rsref_thread_register();
        size_t rejected; /* (reported line by line; a scan goes on with the rest) */
        if (load_tariff_inputs(timage, cat_dirs, ncat, prof_file, subs_file, zone, &tariff, &smap,
                               &rejected, terr, sizeof(terr)) < 0 ||
            (secret && pseudo_load(&ps, secret, terr, sizeof(terr)) < 0)) {
            fprintf(stderr, "qorgau: %s\n", terr);
            ret = 1;
            goto out;
        }
        vt.subs = smap;
        vt.tariff = tariff;
        cfg.tariff = &vt;
    }
    if (optind != argc - 1) {
        fputs("qorgau scan: exactly one CAPTURE file expected\n", stderr);
        usage(stderr);
        goto out;
    }
    const char *path = argv[optind];

    struct ruleset *rs = NULL;
    if (image && nrules > 0) {
        fputs("qorgau scan: --image and --rules exclude each other\n", stderr);
        goto out;
    }
    if (image) { /* compiled beforehand (qorgau rules compile): mapped, nothing rebuilt */
        char ierr[512];
        rs = ruleset_image_open(image, NULL, ierr, sizeof(ierr));
        if (!rs) {
            fprintf(stderr, "qorgau: %s\n", ierr);
            ret = 1;
            goto out;
        }
    } else if (nrules > 0) {
        size_t errors;
        rs = load_rules(rules, nrules, &errors);
        if (!rs)
            goto out;
        if (errors)
            fprintf(stderr,
                    "qorgau: %zu list entries were rejected (see above); the rest are enforced\n",
                    errors);
    }

    char err[512];
    struct capture *cap = capture_pcap_open_file(path, err, sizeof(err));
    if (!cap) {
        fprintf(stderr, "qorgau: %s\n", err);
        ruleset_free(rs);
        goto out;
    }
    int link = cap->ops->linktype(cap);

    /* 60k decisions are ~15 MB of JSON: a big buffer keeps write(2) calls few */
    setvbuf(stdout, NULL, _IOFBF, 1u << 20);
    struct line *lb = malloc(sizeof(*lb));
    if (lb) {
        lb->f = stdout;
        lb->n = 0;
    }
    struct scan_out so = { stdout, rs, tariff ? &ps : NULL, lb };
    struct engine *e = lb ? engine_new(&cfg, rs, scan_event, &so) : NULL;
    if (!e) {
        fprintf(stderr, "qorgau: cannot allocate the engine (max flows %zu)\n", cfg.max_flows);
        free(lb);
        capture_close(cap);
        ruleset_free(rs);
        ret = 1;
        goto out;
    }

    double t0 = now_s();
    struct capture_frame fr;
    int rc;
    struct stat sb;
    char label[300];
    snprintf(label, sizeof(label), "scan %s", path);
    progress_start(label, stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0);
    uint64_t nfr = 0;
    /* One frame per call, not a batch: the records are a chain of dependent loads (each header
     * gives the next one's place), and the reader prefetches the next record while this one is
     * handled; read back to back, each would wait on memory. */
    bool kept;
    _Static_assert(ENGINE_PUSH_HELD <= CAPTURE_PCAP_KEEP, "pushed frames must stay valid");
    while ((rc = capture_pcap_next_frame(cap, &fr, &kept, err, sizeof(err))) > 0) {
        /* a frame of the reader's buffers stays valid while the next few are read: it is
         * decoded a few frames ahead of its turn, so its flow state is fetched from memory
         * while the frames before it are judged */
        if (likely(kept))
            engine_push(e, link, fr.ts_us, fr.data, fr.caplen);
        else
            engine_frame(e, link, fr.ts_us, fr.data, fr.caplen);
        if ((++nfr & 4095) == 0)
            progress_update(capture_pcap_offset(cap));
    }
    progress_end();
    engine_finish(e);
    line_flush(lb);
    double secs = now_s() - t0;

    struct engine_stats st;
    engine_get_stats(e, &st);
    print_summary(path, &st, secs, cfg.checksums);
    ret = 0;
    if (rc < 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        ret = 1;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "qorgau: writing the output failed: %s\n", strerror(errno));
        ret = 1;
    }
    engine_free(e);
    free(lb);
    capture_close(cap);
    ruleset_free(rs);
out:
    free(rules);
    free(cat_dirs);
    if (tariff || smap) {
        tariff_free(tariff);
        submap_free(smap);
        rsref_thread_unregister();
    }
    return ret;
}

/* qorgau rules compile -o FILE PATH...: the lists compiled and written as a rule-set image. */
static int cmd_rules_compile(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[2], "-o") != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    size_t errors;
    struct ruleset *rs = load_rules(argv + 4, (size_t)argc - 4, &errors);
    if (!rs)
        return 1;
    char err[512];
    int rc = ruleset_image_write(rs, argv[3], 0, err, sizeof(err));
    ruleset_free(rs);
    if (rc < 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        return 1;
    }
    if (errors)
        fprintf(stderr, "qorgau: %zu list entries were rejected (see above); %s has the rest\n",
                errors, argv[3]);
    return errors ? 1 : 0;
}

static int cmd_rules(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "compile") == 0)
        return cmd_rules_compile(argc, argv);
    if (argc < 3 || strcmp(argv[1], "check") != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b) {
        fputs("qorgau: out of memory\n", stderr);
        return 1;
    }
    size_t errors = 0, lines = 0, orders = 0;
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        struct loader_stats st;
        memset(&st, 0, sizeof(st));
        if (loader_load_file(b, argv[i], stderr, &st) < 0) {
            failed = 1;
            continue;
        }
        errors += st.errors;
        lines += st.lines;
        orders += st.orders;
    }
    size_t dups = ruleset_builder_dups(b);
    double t0 = now_s();
    struct ruleset *rs = ruleset_build(b);
    double secs = now_s() - t0;
    if (!rs) {
        fputs("qorgau: out of memory compiling the rule set\n", stderr);
        return 1;
    }
    struct ruleset_stats rst;
    ruleset_get_stats(rs, &rst);
    size_t total = rst.domains + rst.urls + rst.ips4 + rst.ips6;
    printf("{\"files\":%d,\"orders\":%zu,\"lines\":%zu,\"errors\":%zu,\"duplicates\":%zu,"
           "\"domains\":%zu,\"urls\":%zu,\"ipv4\":%zu,\"ipv6\":%zu,\"bytes\":%zu,"
           "\"bytes_per_entry\":%.1f,\"compile_seconds\":%.3f}\n",
           argc - 2, orders, lines, errors, dups, rst.domains, rst.urls, rst.ips4, rst.ips6,
           rst.bytes, total ? (double)rst.bytes / (double)total : 0.0, secs);
    ruleset_free(rs);
    return (failed || errors) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "scan") == 0)
        return cmd_scan(argc - 1, argv + 1);
    if (strcmp(cmd, "rules") == 0)
        return cmd_rules(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return daemon_main(argc - 1, argv + 1);
    if (strcmp(cmd, "order") == 0)
        return orders_cli_order(argc - 1, argv + 1);
    if (strcmp(cmd, "query") == 0)
        return orders_cli_query(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return orders_cli_status(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return verify_cli(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return report_cli_report(argc - 1, argv + 1);
    if (strcmp(cmd, "deadlines") == 0)
        return report_cli_deadlines(argc - 1, argv + 1);
    if (strcmp(cmd, "stats") == 0)
        return report_cli_stats(argc - 1, argv + 1);
    if (strcmp(cmd, "subscriber") == 0)
        return subs_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "profile") == 0)
        return tariff_cli_profile(argc - 1, argv + 1);
    if (strcmp(cmd, "tariff") == 0)
        return cmd_tariff(argc - 1, argv + 1);
    if (strcmp(cmd, "config") == 0)
        return daemon_config_main(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("qorgau %s\n", QORGAU_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "qorgau: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
