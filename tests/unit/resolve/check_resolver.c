/* check_resolver.c - Check suite for rules/resolve/ (the c-ares resolver, the shared address
 * policy and its report) and the verdict on resolved addresses (proxy/judge/verdict.c), against
 * a real DNS server on loopback: tests/tools/dnsstub.py, whose answers each test changes by
 * rewriting its zone file. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/judge/inspect.h"
#include "proxy/judge/verdict.h"
#include "rules/match/fbaddr.h"
#include "rules/match/ruleset.h"
#include "rules/resolve/fallback.h"
#include "rules/resolve/resolver.h"
#include "tests/lib/dnsstub.h"

static char g_zone[256];
static pid_t g_pid = -1;
static char g_servers[64];
static char g_failed[256];

/* Writes the zone atomically (a new file renamed over the old: the server sees a new inode). */
static void zone(const char *json)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", g_zone);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(json, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, g_zone), 0);
}

static void stub_start(void)
{
    snprintf(g_zone, sizeof(g_zone), "/tmp/qg-dnsstub-%d.json", (int)getpid());
    zone("{\"names\":{}}");
    g_pid = dnsstub_start(NULL, g_zone, g_servers, sizeof(g_servers));
    ck_assert_msg(g_pid > 0, "tests/tools/dnsstub.py did not start");
}

static void stub_stop(void)
{
    dnsstub_stop(g_pid);
    g_pid = -1;
    unlink(g_zone);
}

static void on_failure(void *ctx, const char *name, const char *why)
{
    (void)ctx;
    snprintf(g_failed, sizeof(g_failed), "%s: %s", name, why);
}

static struct resolver *mk(uint32_t ttl_min, uint32_t ttl_max)
{
    struct resolver_config c = { .servers = g_servers,
                                 .ttl_min = ttl_min,
                                 .ttl_max = ttl_max,
                                 .timeout_ms = 300,
                                 .tries = 1,
                                 .on_failure = on_failure };
    char err[256];
    struct resolver *r = resolver_new(&c, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    return r;
}

static void refresh(struct resolver *r, uint64_t now, struct resolver_stats *st)
{
    char err[256];
    ck_assert_msg(resolver_refresh(r, now, NULL, st, err, sizeof(err)) == 0, "%s", err);
}

/* Index of name in r's table. */
static size_t idx(struct resolver *r, const char *name)
{
    for (size_t i = 0; i < resolver_count(r); i++)
        if (strcmp(resolver_name(r, i), name) == 0)
            return i;
    ck_abort_msg("%s not in the table", name);
    return 0;
}

/* The addresses of name as "a,b,c". */
static const char *addrs(struct resolver *r, const char *name)
{
    static char out[512];
    const struct resolver_addr *a;
    size_t n = resolver_addrs(r, idx(r, name), &a);
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && w < sizeof(out); i++) {
        char b[64];
        inet_ntop(a[i].ipver == 4 ? AF_INET : AF_INET6, a[i].addr, b, sizeof(b));
        w += (size_t)snprintf(out + w, sizeof(out) - w, "%s%s", i ? "," : "", b);
    }
    return out;
}

static void names(struct resolver *r, const char *const *v, size_t n)
{
    ck_assert_int_eq(resolver_set_names(r, v, n), 0);
}

START_TEST(test_ttl_clamp)
{
    zone("{\"names\":{"
         "\"short.kz\":{\"A\":[\"192.0.2.2\",\"192.0.2.1\"],\"AAAA\":[\"2001:db8::1\"],\"ttl\":5},"
         "\"long.kz\":{\"A\":[\"192.0.2.3\"],\"ttl\":100000},"
         "\"mid.kz\":{\"AAAA\":[\"2001:db8::2\"],\"ttl\":300}}}");
    struct resolver *r = mk(60, 3600);
    const char *v[] = { "short.kz", "long.kz", "mid.kz", "short.kz" };
    names(r, v, 4);
    ck_assert_uint_eq(resolver_count(r), 3);
    struct resolver_stats st;
    refresh(r, 1000, &st);
    ck_assert_uint_eq(st.asked, 3);
    ck_assert_uint_eq(st.ok, 3);
    ck_assert_uint_eq(st.changed, 3);
    ck_assert_str_eq(addrs(r, "short.kz"), "192.0.2.1,192.0.2.2,2001:db8::1");
    ck_assert_str_eq(addrs(r, "long.kz"), "192.0.2.3");
    ck_assert_str_eq(addrs(r, "mid.kz"), "2001:db8::2");
    struct resolver_info in;
    resolver_info(r, idx(r, "short.kz"), &in);
    ck_assert_uint_eq(in.ttl, 60); /* the floor */
    ck_assert_uint_eq(in.expires, 1060);
    resolver_info(r, idx(r, "long.kz"), &in);
    ck_assert_uint_eq(in.ttl, 3600); /* the ceiling */
    ck_assert_uint_eq(in.expires, 4600);
    resolver_info(r, idx(r, "mid.kz"), &in);
    ck_assert_uint_eq(in.ttl, 300);
    ck_assert_uint_eq(resolver_next_due(r), 1060);
    resolver_free(r);
}
END_TEST

START_TEST(test_answers_change)
{
    zone("{\"names\":{\"x.kz\":{\"A\":[\"192.0.2.1\"],\"ttl\":120}}}");
    struct resolver *r = mk(60, 3600);
    const char *v[] = { "x.kz" };
    names(r, v, 1);
    struct resolver_stats st;
    refresh(r, 1000, &st);
    uint64_t g = resolver_generation(r);
    ck_assert_str_eq(addrs(r, "x.kz"), "192.0.2.1");
    zone("{\"names\":{\"x.kz\":{\"A\":[\"192.0.2.9\"],\"AAAA\":[\"2001:db8::9\"],\"ttl\":30}}}");
    refresh(r, 1119, &st); /* not due yet: not asked */
    ck_assert_uint_eq(st.asked, 0);
    ck_assert_str_eq(addrs(r, "x.kz"), "192.0.2.1");
    refresh(r, 1120, &st);
    ck_assert_uint_eq(st.asked, 1);
    ck_assert_uint_eq(st.changed, 1);
    ck_assert_str_eq(addrs(r, "x.kz"), "192.0.2.9,2001:db8::9");
    ck_assert_uint_gt(resolver_generation(r), g);
    struct resolver_info in;
    resolver_info(r, 0, &in);
    ck_assert_uint_eq(in.expires, 1180); /* 30 s raised to the 60 s floor */
    g = resolver_generation(r);
    refresh(r, 1180, &st); /* the same answer again */
    ck_assert_uint_eq(st.asked, 1);
    ck_assert_uint_eq(st.changed, 0);
    ck_assert_uint_eq(resolver_generation(r), g);
    resolver_free(r);
}
END_TEST

/* SERVFAIL, NXDOMAIN, REFUSED, no answer at all, no address: the last good answer stays. */
START_TEST(test_failure_keeps)
{
    static const char *const bad[] = {
        "{\"names\":{\"x.kz\":{\"rcode\":2}}}", "{\"names\":{\"x.kz\":{\"rcode\":3}}}",
        "{\"names\":{\"x.kz\":{\"rcode\":5}}}", "{\"names\":{\"x.kz\":{\"drop\":true}}}",
        "{\"names\":{\"x.kz\":{\"A\":[]}}}",    "{\"names\":{}}",
    };
    zone("{\"names\":{\"x.kz\":{\"A\":[\"192.0.2.1\"],\"AAAA\":[\"2001:db8::1\"],\"ttl\":60}}}");
    struct resolver *r = mk(60, 3600);
    const char *v[] = { "x.kz" };
    names(r, v, 1);
    struct resolver_stats st;
    uint64_t now = 1000;
    refresh(r, now, &st);
    ck_assert_str_eq(addrs(r, "x.kz"), "192.0.2.1,2001:db8::1");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zone(bad[i]);
        g_failed[0] = '\0';
        now += 60;
        refresh(r, now, &st);
        ck_assert_msg(st.failed == 1, "zone %zu: failed %zu", i, st.failed);
        ck_assert_str_eq(addrs(r, "x.kz"), "192.0.2.1,2001:db8::1");
        ck_assert_msg(strncmp(g_failed, "x.kz: ", 6) == 0, "zone %zu: %s", i, g_failed);
        struct resolver_info in;
        resolver_info(r, 0, &in);
        ck_assert_uint_eq(in.failures, i + 1);
        ck_assert_uint_eq(in.expires, now + 60); /* retry defaults to ttl_min */
        ck_assert_uint_eq(in.last_ok, 1000);
    }
    /* one family fails, the other answers: the failed one keeps its addresses */
    zone("{\"names\":{\"x.kz\":{\"A\":[\"192.0.2.5\"],\"ttl\":60}}}");
    now += 60;
    refresh(r, now, &st);
    ck_assert_uint_eq(st.ok, 1);
    ck_assert_str_eq(addrs(r, "x.kz"), "192.0.2.5,2001:db8::1");
    resolver_free(r);
}
END_TEST

START_TEST(test_set_names)
{
    zone("{\"names\":{\"a.kz\":{\"A\":[\"192.0.2.1\"]},\"b.kz\":{\"A\":[\"192.0.2.2\"]},"
         "\"c.kz\":{\"A\":[\"192.0.2.3\"]}}}");
    struct resolver *r = mk(60, 3600);
    const char *v1[] = { "a.kz", "b.kz" };
    names(r, v1, 2);
    struct resolver_stats st;
    refresh(r, 1000, &st);
    ck_assert_uint_eq(st.asked, 2);
    uint64_t g = resolver_generation(r);
    const char *v2[] = { "c.kz", "a.kz" };
    names(r, v2, 2);
    ck_assert_uint_gt(resolver_generation(r), g); /* b.kz and its address left */
    ck_assert_uint_eq(resolver_count(r), 2);
    ck_assert_str_eq(addrs(r, "a.kz"), "192.0.2.1");
    ck_assert_str_eq(addrs(r, "c.kz"), "");
    refresh(r, 1001, &st); /* only the new name is due */
    ck_assert_uint_eq(st.asked, 1);
    ck_assert_str_eq(addrs(r, "c.kz"), "192.0.2.3");
    names(r, NULL, 0);
    ck_assert_uint_eq(resolver_count(r), 0);
    ck_assert_uint_eq(resolver_next_due(r), UINT64_MAX);
    resolver_free(r);
}
END_TEST

START_TEST(test_bad_servers)
{
    struct resolver_config c = { .servers = "not-an-address:x", .ttl_min = 60, .ttl_max = 60 };
    char err[256] = "";
    ck_assert_ptr_null(resolver_new(&c, err, sizeof(err)));
    ck_assert_msg(strstr(err, "not-an-address") != NULL, "%s", err);
}
END_TEST

/* ---- the shared address policy and the verdict ---- */

/* Six blocked names: each has an address of its own (192.0.2.1..6) and all share 198.51.100.7
 * (a CDN); 2001:db8::1 is fronted.kz's alone. */
static const char *const six[] = { "s1.kz", "s2.kz", "s3.kz", "s4.kz", "s5.kz", "fronted.kz" };

static struct ruleset *six_set(struct resolver **rp)
{
    zone("{\"names\":{"
         "\"s1.kz\":{\"A\":[\"192.0.2.1\",\"198.51.100.7\"]},"
         "\"s2.kz\":{\"A\":[\"192.0.2.2\",\"198.51.100.7\"]},"
         "\"s3.kz\":{\"A\":[\"192.0.2.3\",\"198.51.100.7\"]},"
         "\"s4.kz\":{\"A\":[\"192.0.2.4\",\"198.51.100.7\"]},"
         "\"s5.kz\":{\"A\":[\"192.0.2.5\",\"198.51.100.7\"]},"
         "\"fronted.kz\":{\"A\":[\"192.0.2.6\",\"198.51.100.7\"],\"AAAA\":[\"2001:db8::1\"]}}}");
    struct resolver *r = mk(60, 3600);
    names(r, six, 6);
    refresh(r, 1000, NULL);
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    for (size_t i = 0; i < 6; i++) {
        struct rule_attrs at = { .order = "2026-41-0001", .category = "court", .source = NULL };
        ck_assert_int_eq(ruleset_builder_add(b, six[i], strlen(six[i]), &at, err, sizeof(err)), 0);
    }
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    *rp = r;
    return rs;
}

static struct verdict_decision judge(const struct ruleset *rs, const char *name, bool hidden,
                                     const char *ip)
{
    uint8_t dst[16] = { 0 };
    int ipver = strchr(ip, ':') ? 6 : 4;
    ck_assert_int_eq(inet_pton(ipver == 4 ? AF_INET : AF_INET6, ip, dst), 1);
    struct verdict_facts f = { .app = APP_TLS,
                               .name = name,
                               .name_len = name ? strlen(name) : 0,
                               .name_hidden = hidden,
                               .ipver = ipver,
                               .dst = dst };
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    struct verdict_decision d;
    verdict_decide(rs, &pol, &f, &d);
    return d;
}

#define EXPECT(d, v, m)                     \
    do {                                    \
        ck_assert_int_eq((d).verdict, (v)); \
        ck_assert_int_eq((d).method, (m));  \
    } while (0)

START_TEST(test_policy)
{
    static const enum fallback_policy pol[] = { FALLBACK_SHARED_BLOCK, FALLBACK_SHARED_NAMELESS,
                                                FALLBACK_SHARED_REPORT };
    struct resolver *r;
    struct ruleset *rs = six_set(&r);
    for (size_t i = 0; i < 3; i++) {
        struct fallback_config c = { .threshold = 5, .policy = pol[i] };
        struct fallback *f = fallback_new(&c);
        struct fbaddr *fb = fallback_build(f, r, rs, 1000);
        ck_assert_ptr_nonnull(fb);
        ck_assert_uint_eq(fbaddr_count(fb), 8);
        ruleset_set_fallback(rs, fb);

        /* an address of one name: every flow, whatever name it shows */
        struct verdict_decision d = judge(rs, NULL, false, "192.0.2.6");
        EXPECT(d, VERDICT_BLOCK, METHOD_IP_FALLBACK); /* no SNI */
        ck_assert_str_eq(ruleset_entry_text(rs, d.entry), "fronted.kz");
        d = judge(rs, "mixed-case.example", true, "192.0.2.6");
        EXPECT(d, VERDICT_BLOCK, METHOD_IP_FALLBACK); /* ECH: the outer name is public */
        d = judge(rs, "google.com", false, "192.0.2.6");
        EXPECT(d, VERDICT_BLOCK, METHOD_IP); /* domain fronting does not pass */
        d = judge(rs, "www.fronted.kz", false, "192.0.2.6");
        EXPECT(d, VERDICT_BLOCK, METHOD_DOMAIN); /* the name still decides first */
        d = judge(rs, "google.com", false, "2001:db8::1");
        EXPECT(d, VERDICT_BLOCK, METHOD_IP);
        d = judge(rs, NULL, false, "192.0.2.99");
        EXPECT(d, VERDICT_PASS, METHOD_NONE);
        ck_assert_uint_eq(d.held_entry, RULESET_NO_ENTRY);

        /* the shared address (6 names >= threshold 5) */
        struct verdict_decision nameless = judge(rs, NULL, false, "198.51.100.7");
        struct verdict_decision ech = judge(rs, "cdn.example", true, "198.51.100.7");
        struct verdict_decision named = judge(rs, "news.example", false, "198.51.100.7");
        if (pol[i] == FALLBACK_SHARED_BLOCK) {
            EXPECT(nameless, VERDICT_BLOCK, METHOD_IP_FALLBACK);
            EXPECT(ech, VERDICT_BLOCK, METHOD_IP_FALLBACK);
            EXPECT(named, VERDICT_BLOCK, METHOD_IP);
        } else if (pol[i] == FALLBACK_SHARED_NAMELESS) {
            EXPECT(nameless, VERDICT_BLOCK, METHOD_IP_FALLBACK);
            EXPECT(ech, VERDICT_BLOCK, METHOD_IP_FALLBACK);
            EXPECT(named, VERDICT_PASS, METHOD_NONE);
            ck_assert_uint_ne(named.held_entry, RULESET_NO_ENTRY);
        } else {
            EXPECT(nameless, VERDICT_PASS, METHOD_NONE);
            EXPECT(ech, VERDICT_PASS, METHOD_NONE);
            EXPECT(named, VERDICT_PASS, METHOD_NONE);
            ck_assert_uint_ne(nameless.held_entry, RULESET_NO_ENTRY);
        }

        /* the report: the shared address among the held ones, the others blocked */
        ck_assert_int_eq(fallback_render(f, r, rs, 1000), 0);
        char *doc = fallback_report(f);
        ck_assert_ptr_nonnull(doc);
        const char *held = strstr(doc, "\"held\":");
        ck_assert_ptr_nonnull(held);
        const char *shared = strstr(doc, "\"address\":\"198.51.100.7\"");
        ck_assert_ptr_nonnull(shared);
        ck_assert_msg(shared > held, "%s", doc);
        ck_assert_ptr_nonnull(strstr(shared, "\"names_count\":6"));
        ck_assert_ptr_nonnull(strstr(doc,
                                     "\"address\":\"2001:db8::1\",\"action\":\"block\","
                                     "\"entry\":\"fronted.kz\",\"orders\":[\"2026-41-0001\"]"));
        ck_assert_ptr_nonnull(strstr(doc, "\"since\":\"1970-01-01T00:16:40Z\""));
        free(doc);
        fallback_free(f);
    }
    ruleset_free(rs);
    resolver_free(r);
}
END_TEST

/* Below the threshold an address is not shared: it blocks every flow. */
START_TEST(test_threshold)
{
    struct resolver *r;
    struct ruleset *rs = six_set(&r);
    struct fallback_config c = { .threshold = 7, .policy = FALLBACK_SHARED_REPORT };
    struct fallback *f = fallback_new(&c);
    ruleset_set_fallback(rs, fallback_build(f, r, rs, 1000));
    struct verdict_decision d = judge(rs, "news.example", false, "198.51.100.7");
    EXPECT(d, VERDICT_BLOCK, METHOD_IP);
    ck_assert_int_eq(fallback_render(f, r, rs, 1000), 0);
    char *doc = fallback_report(f);
    ck_assert_ptr_nonnull(strstr(doc, "\"held\":[]"));
    free(doc);
    fallback_free(f);
    ruleset_free(rs);
    resolver_free(r);
}
END_TEST

/* fallback.protect: an address in a protected prefix never blocks (a blocked name's DNS may
 * point at anyone's address); it is reported held, "protected". */
START_TEST(test_protect)
{
    struct resolver *r;
    struct ruleset *rs = six_set(&r);
    struct fallback_config c = { .threshold = 5, .policy = FALLBACK_SHARED_BLOCK };
    char err[256];
    int n = fallback_parse_prefixes(" 192.0.2.6 ,198.51.100.0/25, 2001:db8::/126", c.protect,
                                    FALLBACK_PROTECT_MAX, err, sizeof(err));
    ck_assert_msg(n == 3, "%s", err);
    c.nprotect = (size_t)n;
    struct fallback *f = fallback_new(&c);
    ruleset_set_fallback(rs, fallback_build(f, r, rs, 1000));
    struct verdict_decision d = judge(rs, NULL, false, "192.0.2.6");
    EXPECT(d, VERDICT_PASS, METHOD_NONE);
    ck_assert_uint_ne(d.held_entry, RULESET_NO_ENTRY);
    d = judge(rs, NULL, false, "198.51.100.7");
    EXPECT(d, VERDICT_PASS, METHOD_NONE);
    d = judge(rs, NULL, false, "2001:db8::1");
    EXPECT(d, VERDICT_PASS, METHOD_NONE);
    d = judge(rs, NULL, false, "192.0.2.5"); /* not protected */
    EXPECT(d, VERDICT_BLOCK, METHOD_IP_FALLBACK);
    ck_assert_int_eq(fallback_render(f, r, rs, 1000), 0);
    char *doc = fallback_report(f);
    const char *held = strstr(doc, "\"held\":");
    const char *p =
        strstr(doc, "{\"address\":\"192.0.2.6\",\"action\":\"report\",\"protected\":true");
    ck_assert_msg(held && p && p > held, "%s", doc);
    free(doc);
    fallback_free(f);
    ruleset_free(rs);
    resolver_free(r);

    static const char *const bad[] = { "192.0.2.0/33", "x", "2001:db8::/129",
                                       "1.2.3.4/",     ",", "10.0.0.0/8,,10.1.0.0/16",
                                       "1.2.3.4/2a" };
    struct fallback_prefix pfx[4];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(fallback_parse_prefixes(bad[i], pfx, 4, err, sizeof(err)) == -EINVAL, "%s",
                      bad[i]);
    ck_assert_int_eq(fallback_parse_prefixes("1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5", pfx, 4, err,
                                             sizeof(err)),
                     -EINVAL);
    ck_assert_int_eq(fallback_parse_prefixes("", pfx, 4, err, sizeof(err)), 0);
    ck_assert_int_eq(fallback_parse_prefixes("10.0.0.0/8", pfx, 4, err, sizeof(err)), 1);
    ck_assert_uint_eq(pfx[0].plen, 8);
}
END_TEST

/* Since when: kept while the action stays, reset when it changes; a revoked name's addresses
 * leave the table (the entry is gone from the set). */
START_TEST(test_since_and_revoked)
{
    struct resolver *r;
    struct ruleset *rs = six_set(&r);
    struct fallback_config c = { .threshold = 5, .policy = FALLBACK_SHARED_NAMELESS };
    struct fallback *f = fallback_new(&c);
    fbaddr_free(fallback_build(f, r, rs, 1000));
    fbaddr_free(fallback_build(f, r, rs, 2000));
    ck_assert_int_eq(fallback_render(f, r, rs, 2000), 0);
    char *doc = fallback_report(f);
    const char *gen = strstr(doc, "\"generated\":\"1970-01-01T00:33:20Z\"");
    ck_assert_ptr_nonnull(gen);
    ck_assert_msg(strstr(gen + strlen("\"generated\":\"1970-01-01T00:33:20Z\""), "T00:33:20Z") ==
                      NULL,
                  "%s", doc); /* 2000: nothing is new */
    free(doc);

    /* s1.kz revoked: 5 names left on the CDN address, still shared; 192.0.2.1 goes */
    struct ruleset_lift lift = { "2026-41-0001", "s1.kz", 5 };
    int rc = 0;
    char err[256];
    struct ruleset *rs2 = ruleset_apply(rs, NULL, 0, &lift, 1, &rc, err, sizeof(err));
    ck_assert_msg(rs2 != NULL, "%s", err);
    struct fbaddr *fb = fallback_build(f, r, rs2, 3000);
    ck_assert_uint_eq(fbaddr_count(fb), 7);
    uint8_t a[4] = { 192, 0, 2, 1 };
    ck_assert_ptr_null(fbaddr_lookup(fb, 4, a));
    uint8_t cdn[4] = { 198, 51, 100, 7 };
    const struct fbaddr_rec *x = fbaddr_lookup(fb, 4, cdn);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->names, 5);
    ck_assert_int_eq(x->act, FBADDR_NAMELESS);
    fbaddr_free(fb);
    /* s2.kz revoked too: 4 names, no longer shared: blocks everything, a new since */
    struct ruleset_lift lift2 = { "2026-41-0001", "s2.kz", 5 };
    struct ruleset *rs3 = ruleset_apply(rs2, NULL, 0, &lift2, 1, &rc, err, sizeof(err));
    ck_assert_ptr_nonnull(rs3);
    fb = fallback_build(f, r, rs3, 4000);
    x = fbaddr_lookup(fb, 4, cdn);
    ck_assert_int_eq(x->act, FBADDR_BLOCK);
    ck_assert_int_eq(fallback_render(f, r, rs3, 4000), 0);
    doc = fallback_report(f);
    ck_assert_ptr_nonnull(strstr(doc, "\"address\":\"198.51.100.7\",\"action\":\"block\""));
    ck_assert_ptr_nonnull(strstr(doc, "\"since\":\"1970-01-01T01:06:40Z\""));
    free(doc);
    fbaddr_free(fb);
    fallback_free(f);
    ruleset_free(rs3);
    ruleset_free(rs2);
    ruleset_free(rs);
    resolver_free(r);
}
END_TEST

/* A real ClientHello with ECH (tests/fixtures/tls/crafted_ech.bin, outer name
 * mixed-case.example) to a resolved address: inspect counts it as nameless. */
START_TEST(test_ech_clienthello)
{
    struct resolver *r;
    struct ruleset *rs = six_set(&r);
    struct fallback_config c = { .threshold = 5, .policy = FALLBACK_SHARED_NAMELESS };
    struct fallback *f = fallback_new(&c);
    ruleset_set_fallback(rs, fallback_build(f, r, rs, 1000));
    static uint8_t buf[16384], scratch[65536];
    FILE *fp = fopen("tests/fixtures/tls/crafted_ech.bin", "rb");
    ck_assert_ptr_nonnull(fp);
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    struct inspect_request rq;
    ck_assert_int_eq(inspect_parse(APP_TLS, buf, n, scratch, sizeof(scratch), &rq), DS_OK);
    ck_assert(rq.ech);
    static const char *const ip[] = { "198.51.100.7", "192.0.2.3" };
    for (size_t i = 0; i < 2; i++) {
        uint8_t dst[16] = { 0 };
        inet_pton(AF_INET, ip[i], dst);
        struct inspect_flow fl = { .udp = false, .ipver = 4, .dst = dst };
        struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME,
                                      .notice_url = NULL };
        static struct inspect_result res;
        ck_assert(inspect_blocks(rs, &pol, &fl, &rq, &res));
        ck_assert_str_eq(verdict_method_name(res.d.method), "ip-fallback");
    }
    fallback_free(f);
    ruleset_free(rs);
    resolver_free(r);
}
END_TEST

static Suite *resolver_suite(void)
{
    Suite *s = suite_create("resolver");
    TCase *tc = tcase_create("resolver");
    tcase_add_unchecked_fixture(tc, stub_start, stub_stop);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ttl_clamp);
    tcase_add_test(tc, test_answers_change);
    tcase_add_test(tc, test_failure_keeps);
    tcase_add_test(tc, test_set_names);
    tcase_add_test(tc, test_bad_servers);
    tcase_add_test(tc, test_policy);
    tcase_add_test(tc, test_threshold);
    tcase_add_test(tc, test_since_and_revoked);
    tcase_add_test(tc, test_protect);
    tcase_add_test(tc, test_ech_clienthello);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(resolver_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
