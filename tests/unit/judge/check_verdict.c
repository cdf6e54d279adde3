/* check_verdict.c - Check suite for the verdict engine (proxy/verdict.c): the order of checks,
 * the HTTPS URL policy and the ip / ip-fallback distinction, over a small real rule set. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/rsref.h"
#include "rules/match/ruleset.h"
#include "proxy/judge/verdict.h"

static struct ruleset *g_rs;

static void add(struct ruleset_builder *b, const char *text, const char *order)
{
    char err[256];
    struct rule_attrs at = { order, "test", NULL };
    ck_assert_msg(ruleset_builder_add(b, text, strlen(text), &at, err, sizeof(err)) == 0, "%s: %s",
                  text, err);
}

static void setup(void)
{
    struct ruleset_builder *b = ruleset_builder_new();
    ck_assert_ptr_nonnull(b);
    add(b, "blocked.example", "O-dom");
    add(b, "http://urls.example/secret/*", "O-url");
    add(b, "https://tls-url.example/page", "O-tlsurl");
    add(b, "203.0.113.0/24", "O-ip4");
    add(b, "2001:db8::/32", "O-ip6");
    g_rs = ruleset_build(b);
    ck_assert_ptr_nonnull(g_rs);
    /* the IP fallback's table (docs/fallback.md): blocked.example's resolved addresses */
    struct rule_match m;
    ck_assert(ruleset_match_domain(g_rs, "blocked.example", 15, &m));
    struct fbaddr_rec fr[3] = { { 4, FBADDR_BLOCK, { 192, 0, 2, 10 }, m.entry, 1 },
                                { 4, FBADDR_NAMELESS, { 192, 0, 2, 11 }, m.entry, 6 },
                                { 4, FBADDR_REPORT, { 192, 0, 2, 12 }, m.entry, 6 } };
    ruleset_set_fallback(g_rs, fbaddr_build(fr, 3));
}

static void teardown(void)
{
    ruleset_free(g_rs);
    g_rs = NULL;
}

static const uint8_t DST_FREE[16] = { 198, 51, 100, 1 };
static const uint8_t DST_LISTED[16] = { 203, 0, 113, 7 };
static const uint8_t DST6_LISTED[16] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
};

struct vcase {
    const char *what;
    enum verdict_app app;
    const char *name;
    const char *path; /* NULL: path not visible (TLS) */
    bool is_ip, hidden;
    int ipver;
    const uint8_t *dst;
    enum verdict_https_url pol;
    enum verdict want;
    enum verdict_method method;
    const char *order; /* order of the deciding entry, NULL on pass */
};

static const uint8_t DST_RESOLVED[16] = { 192, 0, 2, 10 }; /* blocked.example's own */
static const uint8_t DST_SHARED[16] = { 192, 0, 2, 11 };   /* shared, policy nameless */
static const uint8_t DST_REPORTED[16] = { 192, 0, 2, 12 }; /* shared, policy report */

static const struct vcase cases[] = {
    { "fronted name to a resolved address", APP_TLS, "google.com", NULL, false, false, 4,
      DST_RESOLVED, 0, VERDICT_BLOCK, METHOD_IP, "O-dom" },
    { "no sni to a resolved address", APP_TLS, NULL, NULL, false, false, 4, DST_RESOLVED, 0,
      VERDICT_BLOCK, METHOD_IP_FALLBACK, "O-dom" },
    { "ech to a resolved address", APP_TLS, "public.example", NULL, false, true, 4, DST_RESOLVED, 0,
      VERDICT_BLOCK, METHOD_IP_FALLBACK, "O-dom" },
    { "named flow to a shared address (nameless)", APP_TLS, "news.example", NULL, false, false, 4,
      DST_SHARED, 0, VERDICT_PASS, METHOD_NONE, NULL },
    { "ech to a shared address (nameless)", APP_TLS, "public.example", NULL, false, true, 4,
      DST_SHARED, 0, VERDICT_BLOCK, METHOD_IP_FALLBACK, "O-dom" },
    { "udp without a name to a shared address", APP_UNKNOWN, NULL, NULL, false, false, 4,
      DST_SHARED, 0, VERDICT_BLOCK, METHOD_IP_FALLBACK, "O-dom" },
    { "no sni to a reported address", APP_TLS, NULL, NULL, false, false, 4, DST_REPORTED, 0,
      VERDICT_PASS, METHOD_NONE, NULL },
    { "tls domain", APP_TLS, "www.blocked.example", NULL, false, false, 4, DST_FREE, 0,
      VERDICT_BLOCK, METHOD_DOMAIN, "O-dom" },
    { "tls anchoring trap", APP_TLS, "notblocked.example", NULL, false, false, 4, DST_FREE, 0,
      VERDICT_PASS, METHOD_NONE, NULL },
    { "http url prefix", APP_HTTP, "urls.example", "/secret/a", false, false, 4, DST_FREE, 0,
      VERDICT_BLOCK, METHOD_URL, "O-url" },
    { "http url other path", APP_HTTP, "urls.example", "/public", false, false, 4, DST_FREE, 0,
      VERDICT_PASS, METHOD_NONE, NULL },
    { "https url blocks name", APP_TLS, "tls-url.example", NULL, false, false, 4, DST_FREE,
      VERDICT_HTTPS_URL_BLOCK_NAME, VERDICT_BLOCK, METHOD_URL, "O-tlsurl" },
    { "https url ignored by policy", APP_TLS, "tls-url.example", NULL, false, false, 4, DST_FREE,
      VERDICT_HTTPS_URL_IGNORE, VERDICT_PASS, METHOD_NONE, NULL },
    { "named flow to listed ip", APP_TLS, "allowed.example", NULL, false, false, 4, DST_LISTED, 0,
      VERDICT_BLOCK, METHOD_IP, "O-ip4" },
    { "no sni to listed ip", APP_TLS, NULL, NULL, false, false, 4, DST_LISTED, 0, VERDICT_BLOCK,
      METHOD_IP_FALLBACK, "O-ip4" },
    { "ech outer name to listed ip", APP_TLS, "front.example", NULL, false, true, 4, DST_LISTED, 0,
      VERDICT_BLOCK, METHOD_IP_FALLBACK, "O-ip4" },
    { "ech outer name blocked", APP_TLS, "blocked.example", NULL, false, true, 4, DST_FREE, 0,
      VERDICT_BLOCK, METHOD_DOMAIN, "O-dom" },
    { "ip literal sni to listed ip", APP_TLS, "203.0.113.7", NULL, true, false, 4, DST_LISTED, 0,
      VERDICT_BLOCK, METHOD_IP_FALLBACK, "O-ip4" },
    { "ipv6 listed", APP_HTTP, "v6.example", "/", false, false, 6, DST6_LISTED, 0, VERDICT_BLOCK,
      METHOD_IP, "O-ip6" },
    { "no name, free ip", APP_UNKNOWN, NULL, NULL, false, false, 4, DST_FREE, 0, VERDICT_PASS,
      METHOD_NONE, NULL },
    { "domain wins over ip", APP_TLS, "blocked.example", NULL, false, false, 4, DST_LISTED, 0,
      VERDICT_BLOCK, METHOD_DOMAIN, "O-dom" },
};

START_TEST(table)
{
    const struct vcase *c = &cases[_i];
    struct verdict_policy pol = { .https_url = c->pol, .notice_url = NULL };
    struct verdict_facts f;
    struct verdict_decision d;
    memset(&f, 0, sizeof(f));
    f.app = c->app;
    f.name = c->name;
    f.name_len = c->name ? strlen(c->name) : 0;
    f.path = c->path;
    f.path_len = c->path ? strlen(c->path) : 0;
    f.path_visible = c->path != NULL;
    f.name_is_ip = c->is_ip;
    f.name_hidden = c->hidden;
    f.ipver = c->ipver;
    f.dst = c->dst;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_msg(d.verdict == c->want, "%s: verdict %s", c->what, verdict_name(d.verdict));
    ck_assert_msg(d.method == c->method, "%s: method %s", c->what,
                  verdict_method_name(d.method) ? verdict_method_name(d.method) : "none");
    if (c->order)
        ck_assert_str_eq(ruleset_entry_order(g_rs, d.entry), c->order);
    else
        ck_assert_uint_eq(d.entry, RULESET_NO_ENTRY);
    /* without a notice URL: HTTP gets the 451 page, TCP otherwise a reset */
    enum verdict_action want = ACTION_NONE;
    if (c->want == VERDICT_BLOCK)
        want = c->app == APP_HTTP ? ACTION_PAGE_451 : ACTION_RESET;
    ck_assert_msg(d.action == want, "%s: action %d", c->what, (int)d.action);
}
END_TEST

START_TEST(actions)
{
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME,
                                  .notice_url = "http://notice.example/blocked" };
    struct verdict_facts f = { .app = APP_HTTP,
                               .name = "blocked.example",
                               .name_len = 15,
                               .path = "/",
                               .path_len = 1,
                               .path_visible = true,
                               .ipver = 4,
                               .dst = DST_FREE };
    struct verdict_decision d;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.action, ACTION_REDIRECT);
    ck_assert_str_eq(verdict_action_name(d.action), "redirect");
    f.app = APP_QUIC;
    f.udp = true;
    f.path = NULL;
    f.path_visible = false;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.action, ACTION_DROP);
    f.name = "allowed.example";
    f.name_len = 15;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.action, ACTION_NONE);
    ck_assert_ptr_null(verdict_action_name(d.action));
}
END_TEST

/* A pass the shared-address policy held back names the entry. */
START_TEST(held_back)
{
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    struct verdict_facts f;
    struct verdict_decision d;
    memset(&f, 0, sizeof(f));
    f.app = APP_TLS;
    f.ipver = 4;
    f.dst = DST_REPORTED;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert_str_eq(ruleset_entry_text(g_rs, d.held_entry), "blocked.example");
    f.name = "news.example";
    f.name_len = 12;
    f.dst = DST_SHARED;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert_str_eq(ruleset_entry_text(g_rs, d.held_entry), "blocked.example");
    f.dst = DST_FREE;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_uint_eq(d.held_entry, RULESET_NO_ENTRY);
}
END_TEST

/* Behind a NAT64 the IPv4 server 203.0.113.7 (an IP entry) is seen as PREFIX::203.0.113.7: under
 * the well-known 64:ff9b::/96 always, under a network-specific prefix when configured; the
 * shared fallback address keeps its policy through the mapping; an IPv6 address under no
 * prefix is judged as itself. */
START_TEST(nat64_embedded_ipv4)
{
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME };
    uint8_t wkp[16] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 203, 0, 113, 7 };
    uint8_t nsp[16] = { 0xfd, 0x00, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 203, 0, 113, 7 };
    uint8_t free6[16] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 1 };
    uint8_t shared6[16] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 11 };
    struct verdict_facts f = {
        .app = APP_TLS, .name = "allowed.example", .name_len = 15, .ipver = 6
    };
    struct verdict_decision d;
    f.dst = wkp;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
    ck_assert_int_eq(d.method, METHOD_IP);
    ck_assert_str_eq(ruleset_entry_text(g_rs, d.entry), "203.0.113.0/24");
    ck_assert(verdict_addr_listed(g_rs, &pol, 6, wkp));
    f.dst = nsp;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS); /* not configured */
    ck_assert(!verdict_addr_listed(g_rs, &pol, 6, nsp));
    char err[256];
    ck_assert_int_eq(nat64_parse("fd00:64::/96", &pol.nat64, err, sizeof(err)), 0);
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
    ck_assert(verdict_addr_listed(g_rs, &pol, 6, nsp));
    f.dst = free6;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert(!verdict_addr_listed(g_rs, &pol, 6, free6));
    /* the fallback table through the mapping: shared, policy nameless */
    f.dst = shared6;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert_str_eq(ruleset_entry_text(g_rs, d.held_entry), "blocked.example");
    f.name = NULL;
    f.name_len = 0;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
    ck_assert_int_eq(d.method, METHOD_IP_FALLBACK);
}
END_TEST

START_TEST(no_ruleset_passes)
{
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    struct verdict_facts f = {
        .app = APP_TLS, .name = "blocked.example", .name_len = 15, .ipver = 4, .dst = DST_LISTED
    };
    struct verdict_decision d;
    verdict_decide(NULL, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(verdict_name(VERDICT_BLOCK), "block");
    ck_assert_str_eq(verdict_method_name(METHOD_IP_FALLBACK), "ip-fallback");
    ck_assert_ptr_null(verdict_method_name(METHOD_NONE));
    ck_assert_str_eq(verdict_app_name(APP_H2C), "h2c");
    ck_assert_str_eq(verdict_app_name(APP_UNKNOWN), "unknown");
}
END_TEST

/* Child tariffs: the client's subscriber (subscriber map) and its profile decide after the
 * regulator side; an order blocks whatever the profile; the cause, profile and category are
 * reported. */
START_TEST(tariff_side)
{
    rsref_thread_register();
    struct catset_builder *cb = catset_builder_new();
    char err[256];
    ck_assert_int_eq(catset_builder_category(cb, "adult"), 0);
    ck_assert_int_eq(catset_builder_add(cb, "adult.example", 13, 0, false, err, sizeof(err)), 0);
    ck_assert_int_eq(catset_builder_add(cb, "blocked.example", 15, 0, false, err, sizeof(err)), 0);
    struct tariff *t = tariff_new("default");
    tariff_set_categories(t, catset_build(cb));
    ck_assert_int_eq(tariff_set_profile(t, "child", "block=adult", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_set_profile(t, "strict", "allowlist=yes allow=adult", err, sizeof(err)),
                     0);
    ck_assert_int_eq(tariff_set_sub(t, "77010000001", "profile=child", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_set_sub(t, "77010000002", "profile=strict", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_publish(t, err, sizeof(err)), 0);
    struct submap *m = submap_new(16);
    struct sub_addr a;
    ck_assert_int_eq(sub_addr_parse("10.1.0.2", 8, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(submap_set(m, &a, "77010000001", NULL, 0), 0);
    ck_assert_int_eq(sub_addr_parse("10.1.0.3", 8, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(submap_set(m, &a, "77010000002", NULL, 0), 0);
    struct verdict_tariff vt = { m, t };
    static const uint8_t CHILD[16] = { 10, 1, 0, 2 }, ADULT[16] = { 10, 1, 0, 9 },
                         STRICT[16] = { 10, 1, 0, 3 };
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME,
                                  .notice_url = "http://notice.example/" };
    struct verdict_facts f;
    struct verdict_decision d;
    memset(&f, 0, sizeof(f));
    f.app = APP_HTTP;
    f.name = "www.adult.example";
    f.name_len = strlen(f.name);
    f.path = "/";
    f.path_len = 1;
    f.path_visible = true;
    f.ipver = 4;
    f.dst = DST_FREE;
    f.now = 1796601600;
    f.tariff = &vt;
    f.src = ADULT;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert_int_eq(d.cause, CAUSE_NONE);
    ck_assert_str_eq(d.sub, "");
    f.src = CHILD;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
    ck_assert_int_eq(d.method, METHOD_TARIFF);
    ck_assert_int_eq(d.cause, CAUSE_PROFILE);
    ck_assert_int_eq(d.action, ACTION_REDIRECT);
    ck_assert_uint_eq(d.entry, RULESET_NO_ENTRY);
    ck_assert_str_eq(d.profile, "child");
    ck_assert_str_eq(d.category, "adult");
    ck_assert_str_eq(d.sub, "77010000001");
    ck_assert_str_eq(verdict_cause_name(d.cause), "profile");
    ck_assert_str_eq(verdict_method_name(d.method), "tariff");
    /* a name an order blocks: the regulator's block, whatever the profile says */
    f.name = "blocked.example";
    f.name_len = strlen(f.name);
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.cause, CAUSE_REGULATOR);
    ck_assert_int_eq(d.method, METHOD_DOMAIN);
    f.src = STRICT; /* allow-list mode allows the category, the order still blocks */
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.cause, CAUSE_REGULATOR);
    /* allow-list mode: a nameless flow and QUIC are blocked */
    f.name = "www.adult.example";
    f.name_len = strlen(f.name);
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    f.udp = true;
    f.app = APP_QUIC;
    f.path_visible = false;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.cause, CAUSE_ALLOWLIST);
    ck_assert_int_eq(d.action, ACTION_DROP);
    f.udp = false;
    f.app = APP_TLS;
    f.name = NULL;
    f.name_len = 0;
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.cause, CAUSE_ALLOWLIST);
    ck_assert_int_eq(d.action, ACTION_RESET);
    f.src = CHILD; /* nameless, child: nothing to test categories on */
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert_str_eq(d.profile, "child");
    /* no tariff table: regulator decisions only */
    f.tariff = NULL;
    f.name = "www.adult.example";
    f.name_len = strlen(f.name);
    verdict_decide(g_rs, &pol, &f, &d);
    ck_assert_int_eq(d.verdict, VERDICT_PASS);
    ck_assert_str_eq(d.profile, "");
    submap_free(m);
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

/* verdict_block_by_policy(): a pass on the address alone becomes the policy's block (method,
 * action, the regulator's cause, no entry); a block stands as it is (its entry, its method);
 * an allow-list pass (a child's tariff) is not overridden. */
START_TEST(block_by_policy)
{
    struct verdict_decision d;
    memset(&d, 0, sizeof(d));
    d.verdict = VERDICT_PASS;
    d.entry = RULESET_NO_ENTRY;
    ck_assert(verdict_block_by_policy(&d, METHOD_INCOMPLETE, ACTION_RESET));
    ck_assert_int_eq(d.verdict, VERDICT_BLOCK);
    ck_assert_int_eq(d.method, METHOD_INCOMPLETE);
    ck_assert_int_eq(d.action, ACTION_RESET);
    ck_assert_int_eq(d.cause, CAUSE_REGULATOR);
    ck_assert_uint_eq(d.entry, RULESET_NO_ENTRY);
    struct verdict_decision ip;
    memset(&ip, 0, sizeof(ip));
    ip.verdict = VERDICT_BLOCK;
    ip.method = METHOD_IP;
    ip.entry = 7;
    ip.cause = CAUSE_REGULATOR;
    ck_assert(!verdict_block_by_policy(&ip, METHOD_NO_ROOM, ACTION_DROP));
    ck_assert_int_eq(ip.method, METHOD_IP);
    ck_assert_uint_eq(ip.entry, 7);
    struct verdict_decision al;
    memset(&al, 0, sizeof(al));
    al.verdict = VERDICT_PASS;
    al.cause = CAUSE_ALLOWLIST;
    ck_assert(!verdict_block_by_policy(&al, METHOD_UNSEEN, ACTION_RESET));
    ck_assert_int_eq(al.verdict, VERDICT_PASS);
}
END_TEST

static Suite *verdict_suite(void)
{
    Suite *s = suite_create("verdict");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, no_ruleset_passes);
    tcase_add_test(tc, nat64_embedded_ipv4);
    tcase_add_test(tc, held_back);
    tcase_add_test(tc, names);
    tcase_add_test(tc, actions);
    tcase_add_test(tc, tariff_side);
    tcase_add_test(tc, block_by_policy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(verdict_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
