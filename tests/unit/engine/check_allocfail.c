/* check_allocfail.c - allocation-failure runs (STYLE rule 19) for rule compilation, start-up and
 * reload, and the IP fallback's table and report.
 *
 * For N = 1, 2, 3 ... the Nth allocation made during an operation fails (NULL, errno ENOMEM);
 * the operation must then fail cleanly (NULL, a negative errno or an error message; no crash,
 * no abort) or, if it reports success, give a complete and correct result; and the same
 * operation run again without injection must succeed. The loop ends at the first N whose run
 * never reached the Nth allocation (the operation made fewer than N), and fails the test if
 * AF_CAP is reached first.
 *
 * Mechanism: this binary defines malloc, calloc, realloc, free, aligned_alloc, posix_memalign
 * and memalign itself, forwarding to glibc's __libc_* entry points. The dynamic linker binds
 * every caller to these - our code, glibc's own strdup/open_memstream, libidn2, jansson,
 * nghttp2, liburcu - so their failure paths run too. Check forks each test (CK_FORK),
 * and the counter is armed only inside the test function around the operation: nothing of
 * Check's own runs while it is armed (the assertions come after disarming).
 *
 * Under AddressSanitizer the allocator belongs to ASan and may not be replaced. The same loops
 * then run WITHOUT injection (one pass each, still asserting that the operations succeed and
 * give correct results): no injected run happens in that build. The injected runs are those of
 * the normal build, which `make check` runs first. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/daemon/settings.h"
#include "proxy/engine/engine.h"
#include "tests/lib/pcapw.h"
#include "rules/lists/loader.h"
#include "proxy/daemon/notice_server.h"
#include "rules/match/rsref.h"
#include "rules/match/ruleset.h"
#include "rules/orders/ordcsv.h"
#include "rules/orders/orddump.h"
#include "rules/orders/orderset.h"
#include "rules/orders/ordjson.h"
#include "rules/resolve/fallback.h"
#include "rules/resolve/resolver.h"
#include "tests/lib/dnsstub.h"

#if defined(__SANITIZE_ADDRESS__)
#define AF_INJECT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AF_INJECT 0
#endif
#endif
#ifndef AF_INJECT
#define AF_INJECT 1
#endif

#define AF_CAP 5000

/* ---------------------------------------------------------------- the interposed allocator */

static atomic_long af_countdown; /* > 0: armed; the call that takes it from 1 to 0 fails */
static atomic_long af_calls;     /* allocation calls seen while armed */
static atomic_int af_hit;        /* the injected failure happened */
static atomic_long af_burst;     /* allocations that fail in a row from the Nth (0 and 1: one) */

#if AF_INJECT
static atomic_long af_more; /* failures still to come in this burst */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t sz);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t al, size_t n);
extern void __libc_free(void *p);

/* True when this allocation is the one to fail. */
static bool af_fail(void)
{
    long c = atomic_load_explicit(&af_countdown, memory_order_relaxed);
    if (c <= 0)
        return false;
    atomic_fetch_add_explicit(&af_calls, 1, memory_order_relaxed);
    if (atomic_load(&af_hit)) {
        if (atomic_fetch_sub(&af_more, 1) <= 0)
            return false;
        errno = ENOMEM;
        return true;
    }
    c = atomic_fetch_sub(&af_countdown, 1);
    if (c != 1)
        return false;
    atomic_store(&af_countdown, 1); /* stay armed for the rest of the burst */
    atomic_store(&af_more, atomic_load(&af_burst) - 1);
    atomic_store(&af_hit, 1);
    errno = ENOMEM;
    return true;
}

void *malloc(size_t n)
{
    return af_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t sz)
{
    return af_fail() ? NULL : __libc_calloc(n, sz);
}

void *realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees; it is not an allocation that can fail */
    if (n == 0 || !af_fail())
        return __libc_realloc(p, n);
    return NULL;
}

void free(void *p)
{
    __libc_free(p);
}

void *aligned_alloc(size_t al, size_t n)
{
    return af_fail() ? NULL : __libc_memalign(al, n);
}

void *memalign(size_t al, size_t n)
{
    return af_fail() ? NULL : __libc_memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    if (al < sizeof(void *) || (al & (al - 1)) != 0)
        return EINVAL;
    if (af_fail())
        return ENOMEM;
    void *p = __libc_memalign(al, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

/* Arms the countdown: the nth allocation from now fails (0: none). */
static void af_arm(long n)
{
    atomic_store(&af_calls, 0);
    atomic_store(&af_hit, 0);
    atomic_store(&af_countdown, AF_INJECT ? n : 0);
}

/* Disarms; returns whether the injected failure happened. */
static bool af_disarm(void)
{
    atomic_store(&af_countdown, 0);
    return atomic_load(&af_hit) != 0;
}

/* Suspends the countdown (to check a result in the middle of an armed operation) and resumes
 * it where it stopped. */
static long af_pause(void)
{
    return atomic_exchange(&af_countdown, 0);
}

static void af_resume(long left)
{
    atomic_store(&af_countdown, left);
}

/* Runs op(ctx, n) for n = 1, 2, ... with the nth allocation failing. op arms (af_arm(n)) and
 * disarms itself around the calls under test, checks the outcome after disarming, cleans up,
 * and returns whether the failure was injected. A run that was not injected ends the loop
 * (op has then checked full success). Between runs, op(ctx, 0) (no injection) must succeed.
 * Returns the number of injected runs. */
static long af_loop(const char *what, bool (*op)(void *ctx, long n), void *ctx)
{
    if (!AF_INJECT) {
        ck_assert(!op(ctx, 0));
        fprintf(stderr, "allocfail: %s: AddressSanitizer build: one run without injection\n", what);
        return 0;
    }
    /* bursts: allocation N alone; N and N+1 (a library that retries once, e.g. libidn2 called
     * again with other flags, must not turn a second failure into "invalid input"); N and
     * every allocation after it (memory that stays exhausted) */
    static const long bursts[] = { 1, 2, LONG_MAX };
    long n = 0;
    for (size_t m = 0; m < sizeof(bursts) / sizeof(bursts[0]); m++) {
        for (n = 1; n <= AF_CAP; n++) {
            atomic_store(&af_burst, bursts[m]);
            bool hit = op(ctx, n);
            atomic_store(&af_burst, 1);
            if (!hit)
                break;
            ck_assert_msg(!op(ctx, 0), "%s: retry after failing allocations from %ld (burst %ld)",
                          what, n, bursts[m]);
        }
        ck_assert_msg(n <= AF_CAP, "%s: still allocating after %d injected failures", what, AF_CAP);
        if (bursts[m] == LONG_MAX)
            fprintf(stderr,
                    "allocfail: %s: %ld runs, allocation N and all after it failing: all clean\n",
                    what, n - 1);
        else
            fprintf(stderr, "allocfail: %s: %ld runs, allocations N..N+%ld failing: all clean\n",
                    what, n - 1, bursts[m] - 1);
        ck_assert_int_gt(n, 1); /* the operation allocates: at least one failure was injected */
    }
    return n - 1;
}

/* ---------------------------------------------------------------- rule compilation */

static const char PLAIN[] =
    "# allocfail list\n"
    "example.com\n"
    "Sub.Example.ORG.\n"
    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.kz\n" /* пример.kz, through libidn2 */
    "http://h.kz/page\n"
    "https://secure.kz/login\n"
    "https://pre.kz/dir/*\n"
    "203.0.113.7\n"
    "198.51.100.0/24\n"
    "2001:db8::/32\n"
    "2001:db8:ffff::1\n";
#define PLAIN_ENTRIES 10

static const char ORDER[] =
    "{\"id\": \"2026-41-0017\", \"issuer\": \"Ministry\", \"legal_basis\": \"law\",\n"
    " \"issued\": \"2026-11-20T10:00:00+05:00\", \"received\": \"2026-11-21T09:30:00Z\",\n"
    " \"category\": \"court\",\n"
    " \"resources\": [\"casino.kz\", {\"value\": \"https://bet.kz/x\", \"category\": "
    "\"gambling\"},\n"
    "   \"192.0.2.0/24\", \"2001:db8:1::/48\", \"http://o.kz/a/*\"]}\n";
#define ORDER_ENTRIES 5

/* Error messages written while armed go to a stream opened before arming. */
struct errbuf {
    char text[4096];
    FILE *f;
};

static void errbuf_open(struct errbuf *e)
{
    memset(e->text, 0, sizeof(e->text));
    e->f = fmemopen(e->text, sizeof(e->text) - 1, "w");
    ck_assert_ptr_nonnull(e->f);
    setvbuf(e->f, NULL, _IONBF, 0);
}

static void errbuf_close(struct errbuf *e)
{
    fclose(e->f);
}

/* Builds the set from PLAIN and ORDER (the caller arms). Returns the set or NULL; *rc gets the
 * first failure (-ENOMEM for a NULL builder or set). */
static struct ruleset *compile(struct errbuf *eb, int *rc, struct loader_stats *s1,
                               struct loader_stats *s2)
{
    struct ruleset *rs = NULL;
    struct ruleset_builder *b = ruleset_builder_new();
    *rc = -ENOMEM;
    if (!b)
        goto out;
    *rc = loader_load_buffer(b, "allocfail.txt", PLAIN, sizeof(PLAIN) - 1, eb->f, s1);
    if (*rc == 0)
        *rc = loader_load_buffer(b, "orders/af.json", ORDER, sizeof(ORDER) - 1, eb->f, s2);
    if (*rc) {
        ruleset_builder_free(b);
        goto out;
    }
    rs = ruleset_build(b);
    if (!rs)
        *rc = -ENOMEM;
out:
    return rs;
}

static bool ip_in(const struct ruleset *rs, const char *text)
{
    uint8_t a[16];
    int v = strchr(text, ':') ? 6 : 4;
    ck_assert_int_eq(inet_pton(v == 6 ? AF_INET6 : AF_INET, text, a), 1);
    return ruleset_match_ip(rs, v, a, NULL);
}

/* Every entry of PLAIN and ORDER is in rs and matches as it should. */
static void check_set(const struct ruleset *rs, const struct loader_stats *s1,
                      const struct loader_stats *s2)
{
    ck_assert_uint_eq(s1->added, PLAIN_ENTRIES);
    ck_assert_uint_eq(s1->errors, 0);
    ck_assert_uint_eq(s2->added, ORDER_ENTRIES);
    ck_assert_uint_eq(s2->errors, 0);
    ck_assert_uint_eq(s2->orders, 1);
    ck_assert_uint_eq(ruleset_entry_count(rs), PLAIN_ENTRIES + ORDER_ENTRIES);
    struct rule_match m;
    ck_assert(ruleset_match_domain(rs, "www.example.com", 15, NULL));
    ck_assert(ruleset_match_domain(rs, "sub.example.org", 15, NULL));
    ck_assert(!ruleset_match_domain(rs, "example.org", 11, NULL));
    ck_assert(ruleset_match_domain(rs, "xn--e1afmkfd.kz", 15, NULL));
    ck_assert(ruleset_match_url(rs, "h.kz", 4, "/page", 5, NULL));
    ck_assert(ruleset_match_url_host(rs, "secure.kz", 9, NULL));
    ck_assert(ruleset_match_url(rs, "pre.kz", 6, "/dir/deep/x", 11, NULL));
    ck_assert(!ruleset_match_url(rs, "pre.kz", 6, "/other", 6, NULL));
    ck_assert(ip_in(rs, "203.0.113.7"));
    ck_assert(!ip_in(rs, "203.0.113.8"));
    ck_assert(ip_in(rs, "198.51.100.200"));
    ck_assert(ip_in(rs, "2001:db8:5::1"));
    ck_assert(ip_in(rs, "192.0.2.1"));
    ck_assert(ip_in(rs, "2001:db8:1::9"));
    ck_assert(ruleset_match_domain(rs, "a.casino.kz", 11, &m));
    ck_assert_str_eq(ruleset_entry_order(rs, m.entry), "2026-41-0017");
    ck_assert_str_eq(ruleset_entry_category(rs, m.entry), "court");
    ck_assert(ruleset_match_url_host(rs, "bet.kz", 6, &m));
    ck_assert_str_eq(ruleset_entry_category(rs, m.entry), "gambling");
    ck_assert(ruleset_match_url(rs, "o.kz", 4, "/a/b", 4, NULL));
}

static bool op_compile(void *ctx, long n)
{
    (void)ctx;
    struct errbuf eb;
    errbuf_open(&eb);
    struct loader_stats s1 = { 0 }, s2 = { 0 };
    int rc;
    af_arm(n);
    struct ruleset *rs = compile(&eb, &rc, &s1, &s2);
    bool hit = af_disarm();
    errbuf_close(&eb);
    if (rs) {
        /* success, injected or not, must be the whole set: an allocation failure inside
         * libidn2 or jansson may not turn into a silently skipped entry */
        ck_assert_int_eq(rc, 0);
        ck_assert_msg(eb.text[0] == '\0', "compile n=%ld: success with messages: %s", n, eb.text);
        check_set(rs, &s1, &s2);
        ruleset_free(rs);
    } else {
        ck_assert_msg(hit, "compile n=%ld: failed without an injected failure (rc %d): %s", n, rc,
                      eb.text);
        ck_assert_int_lt(rc, 0);
    }
    return hit;
}

START_TEST(test_compile)
{
    af_loop("rule compilation", op_compile, NULL);
}
END_TEST

/* ---------------------------------------------------------------- start-up: engine */

struct engine_ctx {
    struct ruleset *rs;
    unsigned events;
    char name[64];
};

static void on_event(void *ctx, const struct engine_event *ev)
{
    struct engine_ctx *c = ctx;
    c->events++;
    if (ev->app == APP_QUIC && ev->name)
        snprintf(c->name, sizeof(c->name), "%.*s", (int)ev->name_len, ev->name);
}

/* An Ethernet frame carrying the RFC 9001 A.2 client Initial (SNI example.com) over UDP 443. */
static size_t quic_frame(uint8_t *out, size_t cap)
{
    static uint8_t dgram[1200];
    FILE *f = fopen("tests/fixtures/quic/rfc9001-a2-client-initial.bin", "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(dgram, 1, sizeof(dgram), f), sizeof(dgram));
    fclose(f);
    struct pcapw_pkt p;
    pcapw_pkt_init(&p);
    p.proto = 17;
    ck_assert_int_eq(pcapw_addr("10.0.0.1", p.src), 4);
    ck_assert_int_eq(pcapw_addr("10.0.0.2", p.dst), 4);
    p.sport = 50000;
    p.dport = 443;
    p.payload = dgram;
    p.payload_len = sizeof(dgram);
    size_t len = pcapw_build(&p, out, cap);
    ck_assert_uint_gt(len, 0);
    return len;
}

static bool op_engine(void *ctx, long n)
{
    struct engine_ctx *c = ctx;
    static uint8_t frame[1400];
    size_t flen = quic_frame(frame, sizeof(frame));
    struct engine_config cfg;
    engine_config_default(&cfg);
    cfg.max_flows = 64;
    cfg.reasm_bytes = 4096;
    cfg.reasm_buffers = 8;
    cfg.defrag_slots = 4;
    cfg.quic_slots = 4;
    c->events = 0;
    c->name[0] = '\0';
    af_arm(n);
    struct engine *e = engine_new(&cfg, c->rs, on_event, c);
    bool hit = af_disarm();
    if (!e) {
        ck_assert_msg(hit, "engine_new failed without an injected failure");
        return hit;
    }
    /* a started engine is a whole engine: QUIC Initials are decrypted and their name seen */
    engine_frame(e, 1 /* LINKTYPE_ETHERNET */, 1000000, frame, flen);
    engine_finish(e);
    ck_assert_msg(strcmp(c->name, "example.com") == 0,
                  "engine_new n=%ld (%s): QUIC Initial gave name '%s' (%u events)", n,
                  hit ? "injected" : "not injected", c->name, c->events);
    engine_free(e);
    return hit;
}

START_TEST(test_engine)
{
    struct engine_ctx c = { 0 };
    struct ruleset_builder *b = ruleset_builder_new();
    char err[128];
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(ruleset_builder_add(b, "example.com", 11, NULL, err, sizeof(err)), 0);
    c.rs = ruleset_build(b);
    ck_assert_ptr_nonnull(c.rs);
    af_loop("engine_new", op_engine, &c);
    ruleset_free(c.rs);
}
END_TEST

/* ---------------------------------------------------------------- start-up: notice server */

/* One HTTP/1.1 request to 127.0.0.1:port (the server answers from its own thread); returns the
 * status line's code. */
static int notice_get(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    static const char req[] = "GET /?url=http%3A%2F%2Fexample.com%2F HTTP/1.1\r\nHost: n\r\n"
                              "Connection: close\r\n\r\n";
    ck_assert_int_eq(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    char resp[64] = { 0 };
    size_t got = 0;
    for (int i = 0; i < 100 && got < 12; i++) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, 20) == 1) {
            ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    close(fd);
    ck_assert_msg(got >= 12 && memcmp(resp, "HTTP/1.1 ", 9) == 0, "notice: response '%s'", resp);
    return (int)strtol(resp + 9, NULL, 10);
}

static bool op_notice(void *ctx, long n)
{
    (void)ctx;
    struct notice_config cfg = { .url = "http://notice.example/blocked",
                                 .contact = "support 1414",
                                 .max_connections = 4,
                                 .max_request_bytes = 1024 };
    char err[256] = "";
    af_arm(n);
    errno = 0;
    struct notice_server *nt = notice_server_new(&cfg, "127.0.0.1:0", NULL, err, sizeof(err));
    int en = errno;
    bool hit = af_disarm();
    if (!nt) {
        ck_assert_msg(hit, "notice_server_new failed without an injected failure: %s", err);
        ck_assert_msg(en == ENOMEM || en == EAGAIN || en == EIO, "errno %d: %s", en, err);
        ck_assert_msg(strncmp(err, "notice: ", 8) == 0, "message '%s'", err);
        return hit;
    }
    unsigned port = notice_server_port(nt);
    ck_assert_uint_gt(port, 0);
    ck_assert_int_eq(notice_get(port), 200);
    notice_server_free(nt);
    return hit;
}

START_TEST(test_notice)
{
    af_loop("notice_server_new", op_notice, NULL);
}
END_TEST

/* ---------------------------------------------------------------- start-up: configuration */

static const char CONF[] = "# allocfail\n"
                           "mode = inline\n"
                           "rules = /etc/qorgau/a.json\n"
                           "rules = /etc/qorgau/b.txt\n"
                           "user = \"qg user\"\n"
                           "notice.listen = [::1]:8081\n"
                           "notice.url = https://notice.example/b\n"
                           "notice.contact = call 1414\n"
                           "reasm.bytes = 8K\n"
                           "inline.first_bytes_timeout = 2s\n"
                           "log.file = /var/log/qorgau.log\n";

static void check_conf(const struct settings *c)
{
    ck_assert_int_eq(c->mode, SETTINGS_MODE_INLINE);
    ck_assert_uint_eq(c->rules.n, 2);
    ck_assert_str_eq(c->rules.items[0], "/etc/qorgau/a.json");
    ck_assert_str_eq(c->rules.items[1], "/etc/qorgau/b.txt");
    ck_assert_str_eq(c->user, "qg user");
    ck_assert_str_eq(c->notice_listen.text, "[::1]:8081");
    ck_assert_str_eq(c->notice_url, "https://notice.example/b");
    ck_assert_str_eq(c->notice_contact, "call 1414");
    ck_assert_str_eq(c->tap_bpf, "tcp or udp port 443 or (ip and udp and udp[8] & 0xc0 = 0xc0) or "
                                 "(ip6 and ip6[6] = 17 and ip6[48] & 0xc0 = 0xc0)");
    ck_assert_uint_eq(c->reasm_bytes, 8192);
    ck_assert_uint_eq(c->inline_first_bytes_timeout, 2000);
    ck_assert_str_eq(c->log_file, "/var/log/qorgau.log");
}

static bool op_config(void *ctx, long n)
{
    (void)ctx;
    char err[256] = "";
    af_arm(n);
    struct settings *c = settings_load_buffer("af.conf", CONF, sizeof(CONF) - 1, err, sizeof(err));
    bool hit = af_disarm();
    if (!c) {
        ck_assert_msg(hit, "settings_load_buffer failed without an injected failure: %s", err);
        ck_assert_msg(strncmp(err, "config: af.conf", 15) == 0, "config n=%ld: message '%s'", n,
                      err);
        return hit;
    }
    check_conf(c);
    settings_free(c);
    return hit;
}

START_TEST(test_config)
{
    af_loop("settings_load_buffer", op_config, NULL);
}
END_TEST

/* ---------------------------------------------------------------- reload */

/* Reload of the configuration: a fresh struct, restart keys set back to the running values. */
struct reload_conf_ctx {
    struct settings *running;
};

static bool op_reload_config(void *ctx, long n)
{
    struct reload_conf_ctx *rc = ctx;
    char err[256] = "";
    static const char fresh_text[] =
        "mode = tap\ntap.interface = eth1\nrules = /etc/qorgau/new.json\nuser = other\n";
    const char *names[8];
    af_arm(n);
    struct settings *fresh =
        settings_load_buffer("new.conf", fresh_text, sizeof(fresh_text) - 1, err, sizeof(err));
    int kept = fresh ? settings_keep_restart_keys(fresh, rc->running, names, 8) : 0;
    bool hit = af_disarm();
    if (!fresh) {
        ck_assert_msg(hit, "reload config failed without an injected failure: %s", err);
        ck_assert_msg(strncmp(err, "config: new.conf", 16) == 0, "reload n=%ld: message '%s'", n,
                      err);
        return hit;
    }
    if (kept < 0) {
        ck_assert(hit);
        ck_assert_int_eq(kept, -ENOMEM);
        /* "fresh is then unchanged" */
        ck_assert_int_eq(fresh->mode, SETTINGS_MODE_TAP);
        ck_assert_str_eq(fresh->user, "other");
        ck_assert_str_eq(fresh->tap_interface, "eth1");
        settings_free(fresh);
        return hit;
    }
    /* set back to the running values: mode, user, reasm.bytes, tap.interface,
     * tap.inject_interface; rules and notice.listen reload (the fresh file's default) */
    ck_assert_int_eq(kept, 5);
    ck_assert_str_eq(names[0], "mode");
    ck_assert_int_eq(fresh->mode, SETTINGS_MODE_INLINE);
    ck_assert_str_eq(fresh->user, "qg user");
    ck_assert_uint_eq(fresh->reasm_bytes, 8192);
    ck_assert_str_eq(fresh->tap_interface, "");
    ck_assert_str_eq(fresh->notice_listen.text, "127.0.0.1:8080");
    ck_assert_uint_eq(fresh->rules.n, 1);
    ck_assert_str_eq(fresh->rules.items[0], "/etc/qorgau/new.json");
    settings_free(fresh);
    return hit;
}

START_TEST(test_reload_config)
{
    char err[256];
    struct reload_conf_ctx c = { settings_load_buffer("af.conf", CONF, sizeof(CONF) - 1, err,
                                                      sizeof(err)) };
    ck_assert_msg(c.running != NULL, "%s", err);
    af_loop("config reload", op_reload_config, &c);
    settings_free(c.running);
}
END_TEST

/* Reload of the rules: a set compiled under injection, published twice over a new reference
 * (the second publish frees the first set after the grace period). */
static bool op_reload_rules(void *ctx, long n)
{
    (void)ctx;
    struct errbuf eb;
    errbuf_open(&eb);
    struct loader_stats s1 = { 0 }, s2 = { 0 };
    int rc = 0;
    af_arm(n);
    struct rsref *ref = rsref_new();
    struct ruleset *rs = NULL, *rs2 = NULL;
    uint64_t v1 = 0, v2 = 0;
    if (ref) {
        rs = compile(&eb, &rc, &s1, &s2);
        if (rs) {
            /* the set about to be published is whole, and compiled without a message */
            long left = af_pause();
            ck_assert_msg(eb.text[0] == '\0', "reload n=%ld: success with messages: %s", n,
                          eb.text);
            check_set(rs, &s1, &s2);
            af_resume(left);
            v1 = rsref_publish(ref, rs);
            struct ruleset_builder *b = ruleset_builder_new();
            char err[128];
            if (b && ruleset_builder_add(b, "v2.kz", 5, NULL, err, sizeof(err)) == 0)
                rs2 = ruleset_build(b);
            else
                ruleset_builder_free(b);
            if (rs2)
                v2 = rsref_publish(ref, rs2);
        }
    }
    bool hit = af_disarm();
    errbuf_close(&eb);
    if (!ref) {
        ck_assert(hit);
        return hit;
    }
    if (!rs) {
        ck_assert_msg(hit, "reload: compile failed without an injected failure (rc %d): %s", rc,
                      eb.text);
        ck_assert_int_lt(rc, 0);
        ck_assert_uint_eq(rsref_version(ref), 0);
        rsref_free(ref);
        return hit;
    }
    ck_assert_uint_eq(v1, 1);
    rsref_read_lock();
    const struct ruleset *cur = rsref_get(ref);
    if (rs2) {
        ck_assert_uint_eq(v2, 2);
        ck_assert_ptr_eq(cur, rs2);
        ck_assert(ruleset_match_domain(cur, "v2.kz", 5, NULL));
        ck_assert(!ruleset_match_domain(cur, "example.com", 11, NULL));
    } else {
        /* the second build failed: the first set stays published, whole */
        ck_assert(hit);
        ck_assert_ptr_eq(cur, rs);
        check_set(cur, &s1, &s2);
    }
    struct ruleset_stats st;
    ruleset_get_stats(cur, &st);
    ck_assert_uint_eq(st.version, rsref_version(ref));
    rsref_read_unlock();
    rsref_free(ref);
    return hit;
}

START_TEST(test_reload_rules)
{
    rsref_thread_register(); /* this thread reads the published set */
    af_loop("rsref reload", op_reload_rules, NULL);
    rsref_thread_unregister();
}
END_TEST

/* ---------------------------------------------------------------- orders */

static const char ORDERS_CSV[] = "id,issuer,issued,resource,resource_category\n"
                                 "C-1,Court,2026-11-20,casino.kz,\n"
                                 "C-1,,,\"https://bet.kz/y\",gambling\n"
                                 "C-1,,,exa mple.kz,\n";
static const char ORDERS_DUMP[] =
    "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n"
    "<register><content id=\"7\" blockType=\"domain-mask\" urgencyType=\"1\">"
    "<decision date=\"2026-11-19\" number=\"2\" org=\"\xd1\xf3\xe4\"/>"
    "<domain>casino.kz</domain><ip>192.0.2.9</ip></content></register>";

/* Imports ORDER (JSON), ORDERS_CSV and ORDERS_DUMP, compiles them, and writes and reads back
 * the first record's canonical JSON (the caller arms). Returns 0 or the first failure. */
static char orders_err[512];

static int orders_run(struct order_list *l, struct ruleset **rs, char **json, struct order **back)
{
    char *err = orders_err;
    const size_t errsz = sizeof(orders_err);
    err[0] = '\0';
    int rc = ordjson_parse("af.json", (const uint8_t *)ORDER, sizeof(ORDER) - 1, 1800000000, l, err,
                           errsz);
    if (!rc)
        rc = ordcsv_parse("af.csv", (const uint8_t *)ORDERS_CSV, sizeof(ORDERS_CSV) - 1, 1800000000,
                          l, err, errsz);
    if (!rc)
        rc = orddump_parse("af.xml", (const uint8_t *)ORDERS_DUMP, sizeof(ORDERS_DUMP) - 1,
                           1800000000, l, err, errsz);
    if (rc)
        return rc;
    *rs = orderset_compile((const struct order *const *)l->v, l->n, NULL, err, errsz);
    if (!*rs)
        return -ENOMEM;
    *json = order_to_json(l->v[0]);
    if (!*json)
        return -ENOMEM;
    *back = order_from_json(*json, strlen(*json), err, errsz);
    return *back ? 0 : -ENOMEM;
}

static bool op_orders(void *ctx, long n)
{
    (void)ctx;
    struct order_list l = { 0 };
    struct ruleset *rs = NULL;
    char *json = NULL;
    struct order *back = NULL;
    af_arm(n);
    int rc = orders_run(&l, &rs, &json, &back);
    bool hit = af_disarm();
    if (rc == 0) {
        /* success, injected or not, is the whole result: nothing silently lost */
        ck_assert_uint_eq(l.n, 3);
        ck_assert_uint_eq(l.v[0]->nres, ORDER_ENTRIES);
        ck_assert_str_eq(l.v[0]->res[1].norm, "https://bet.kz/x");
        ck_assert_uint_eq(l.v[1]->nres, 2);
        ck_assert_uint_eq(l.v[1]->nrej, 1);
        ck_assert_str_eq(l.v[1]->rej[0].reason, "invalid hostname character 'exa mple.kz'");
        ck_assert_str_eq(l.v[2]->id, "dump:7");
        ck_assert_str_eq(l.v[2]->issuer, "\xd0\xa1\xd1\x83\xd0\xb4"); /* "Суд" from windows-1251 */
        ck_assert(l.v[2]->urgent);
        ck_assert_str_eq(l.v[2]->res[0].norm, "*.casino.kz");
        struct rule_match m;
        const char *o[4];
        ck_assert(ruleset_match_domain(rs, "casino.kz", 9, &m));
        ck_assert_uint_eq(ruleset_entry_orders(rs, m.entry, o, 4), 3);
        ck_assert_str_eq(o[0], "2026-41-0017");
        ck_assert_uint_eq(ruleset_entry_count(rs), ORDER_ENTRIES + 2);
        char *again = order_to_json(back);
        ck_assert_ptr_nonnull(again);
        ck_assert_str_eq(again, json);
        free(again);
    } else {
        ck_assert_msg(hit, "orders n=%ld: failed without an injected failure (rc %d)", n, rc);
        /* every importer, expat's dump reader included, says -ENOMEM: a failed allocation
         * inside the XML parser is XML_ERROR_NO_MEMORY, never a well-formedness error */
        ck_assert_msg(rc == -ENOMEM, "orders n=%ld: rc %d: %s", n, rc, orders_err);
    }
    order_free(back);
    free(json);
    ruleset_free(rs);
    order_list_free(&l);
    return hit;
}

START_TEST(test_orders)
{
    /* one run unarmed first: a library's one-time initialisation is process state that a failure
     * would poison for every later run */
    ck_assert(!op_orders(NULL, 0));
    af_loop("order import and compilation", op_orders, NULL);
}
END_TEST

/* ---------------------------------------------------------------- the IP fallback */

/* The resolver's table is filled once from tests/tools/dnsstub.py (unarmed: c-ares' own
 * failures are answers that keep the last addresses, docs/fallback.md); armed: taking a new
 * name list, building the address table and rendering the report. */
struct fb_ctx {
    char servers[64];
    char zone[64];
};

static const char *const FB_NAMES[] = { "a.kz", "b.kz", "c.kz", "d.kz", "e.kz" };

static bool op_fallback(void *ctx, long n)
{
    struct fb_ctx *fc = ctx;
    char err[256];
    struct resolver_config rc = {
        .servers = fc->servers, .ttl_min = 60, .ttl_max = 600, .timeout_ms = 1000, .tries = 2
    };
    struct resolver *r = resolver_new(&rc, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_int_eq(resolver_set_names(r, FB_NAMES, 4), 0);
    struct resolver_stats st;
    ck_assert_int_eq(resolver_refresh(r, 1000, NULL, &st, err, sizeof(err)), 0);
    ck_assert_uint_eq(st.ok, 4);
    struct ruleset_builder *b = ruleset_builder_new();
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(ruleset_builder_add(b, FB_NAMES[i], 4, NULL, err, sizeof(err)), 0);
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    struct fallback_config c = { .threshold = 2, .policy = FALLBACK_SHARED_NAMELESS };
    struct fallback *f = fallback_new(&c);
    ck_assert_ptr_nonnull(f);

    af_arm(n);
    int src = resolver_set_names(r, FB_NAMES, 5);
    struct fbaddr *fb = fallback_build(f, r, rs, 1000);
    int rrc = fallback_render(f, r, rs, 1000);
    char *doc = fallback_report(f);
    bool hit = af_disarm();

    ck_assert_msg(src == 0 || hit, "set_names n=%ld: %d without an injected failure", n, src);
    ck_assert_uint_eq(resolver_count(r), src == 0 ? 5 : 4); /* a failure changes nothing */
    if (fb) {
        /* a.kz 192.0.2.1, b.kz and c.kz 192.0.2.2 (shared), d.kz 192.0.2.4 + 2001:db8::4 */
        ck_assert_uint_eq(fbaddr_count(fb), 4);
        const uint8_t shared[4] = { 192, 0, 2, 2 };
        const struct fbaddr_rec *x = fbaddr_lookup(fb, 4, shared);
        ck_assert(x && x->act == FBADDR_NAMELESS && x->names == 2);
    } else {
        ck_assert_msg(hit, "build n=%ld: failed without an injected failure", n);
    }
    if (rrc == 0 && doc) {
        ck_assert_ptr_nonnull(strstr(doc, "\"addresses\":4,"));
        ck_assert_msg(strstr(doc, "\"address\":\"192.0.2.2\",\"action\":\"nameless\"") != NULL,
                      "render n=%ld: %s", n, doc);
    } else {
        ck_assert_msg(hit, "render n=%ld: failed without an injected failure", n);
    }
    free(doc);
    fbaddr_free(fb);
    fallback_free(f);
    ruleset_free(rs);
    resolver_free(r);
    return hit;
}

START_TEST(test_fallback)
{
    struct fb_ctx fc;
    snprintf(fc.zone, sizeof(fc.zone), "/tmp/qg-allocfail-zone-%d.json", (int)getpid());
    FILE *z = fopen(fc.zone, "w");
    ck_assert_ptr_nonnull(z);
    fputs("{\"names\":{\"a.kz\":{\"A\":[\"192.0.2.1\"]},\"b.kz\":{\"A\":[\"192.0.2.2\"]},"
          "\"c.kz\":{\"A\":[\"192.0.2.2\"]},\"d.kz\":{\"A\":[\"192.0.2.4\"],"
          "\"AAAA\":[\"2001:db8::4\"]}}}",
          z);
    ck_assert_int_eq(fclose(z), 0);
    pid_t pid = dnsstub_start(NULL, fc.zone, fc.servers, sizeof(fc.servers));
    bool up = pid > 0;
    if (up) {
        ck_assert(!op_fallback(&fc, 0));
        af_loop("IP fallback: names, table, report", op_fallback, &fc);
    }
    dnsstub_stop(pid);
    unlink(fc.zone);
    ck_assert_msg(up, "tests/tools/dnsstub.py did not start");
}
END_TEST

static Suite *allocfail_suite(void)
{
    Suite *s = suite_create("allocfail");
    TCase *tc = tcase_create("compile");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_compile);
    tcase_add_test(tc, test_orders);
    tcase_add_test(tc, test_fallback);
    suite_add_tcase(s, tc);
    tc = tcase_create("startup");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_engine);
    tcase_add_test(tc, test_notice);
    tcase_add_test(tc, test_config);
    suite_add_tcase(s, tc);
    tc = tcase_create("reload");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_reload_config);
    tcase_add_test(tc, test_reload_rules);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(allocfail_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
