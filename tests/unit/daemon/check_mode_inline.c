/* check_mode_inline.c - Check suite for proxy/mode_inline.c: every reloadable inline.* key (and
 * https_url, the notice keys) reaches the proxy's settings, and a reload with the new value is
 * accepted by inline_reload(). A key the table marks reloadable without a row here fails the
 * suite, so a new key cannot be "reloaded" in the log and ignored by the proxy. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/settings.h"
#include "proxy/enforce/inline.h"
#include "proxy/daemon/mode_inline.h"
#include "rules/match/rsref.h"

/* key, value that differs from the default, check of the mapped setting */
struct row {
    const char *key;
    const char *value;
    bool (*holds)(const struct inline_config *ic);
};

static bool first_timeout(const struct inline_config *ic)
{
    return ic->first_bytes_timeout_ms == 2500;
}
static bool incomplete(const struct inline_config *ic)
{
    return ic->incomplete == INLINE_INCOMPLETE_ADDRESS;
}
static bool first_max(const struct inline_config *ic)
{
    return ic->first_bytes_max == 8192;
}
static bool connect_timeout(const struct inline_config *ic)
{
    return ic->connect_timeout_ms == 1500;
}
static bool idle_timeout(const struct inline_config *ic)
{
    return ic->idle_timeout_ms == 90000;
}
static bool per_source(const struct inline_config *ic)
{
    return ic->max_per_source == 7;
}
static bool https_block(const struct inline_config *ic)
{
    return ic->tls_block == INLINE_TLS_ALERT;
}
static bool http_block(const struct inline_config *ic)
{
    /* 451: no redirect target even though notice.url is set below */
    return ic->policy.notice_url == NULL;
}
static bool https_url(const struct inline_config *ic)
{
    return ic->policy.https_url == VERDICT_HTTPS_URL_IGNORE;
}
static bool notice_url(const struct inline_config *ic)
{
    return ic->policy.notice_url && strcmp(ic->policy.notice_url, "http://block.example/") == 0 &&
           ic->notice && ic->notice->url && strcmp(ic->notice->url, "http://block.example/") == 0;
}
static bool show_order(const struct inline_config *ic)
{
    return ic->notice && ic->notice->show_order;
}
static bool contact(const struct inline_config *ic)
{
    return ic->notice && ic->notice->contact && strcmp(ic->notice->contact, "call 1414") == 0;
}
static bool contact_url(const struct inline_config *ic)
{
    return ic->notice && ic->notice->contact_url &&
           strcmp(ic->notice->contact_url, "http://help.example/") == 0;
}

static const struct row rows[] = {
    { "inline.first_bytes_timeout", "2500ms", first_timeout },
    { "inline.incomplete_request", "address", incomplete },
    { "inline.first_bytes_max", "8K", first_max },
    { "inline.connect_timeout", "1500ms", connect_timeout },
    { "inline.idle_timeout", "90s", idle_timeout },
    { "inline.max_per_source", "7", per_source },
    { "inline.https_block", "alert", https_block },
    { "inline.http_block", "451", http_block },
    { "https_url", "ignore", https_url },
    { "notice.url", "http://block.example/", notice_url },
    { "notice.show_order", "true", show_order },
    { "notice.contact", "\"call 1414\"", contact },
    { "notice.contact_url", "http://help.example/", contact_url },
};

/* Keys that are reloadable but are not the proxy's: carried out elsewhere (nftables, daemon). */
static const char *const elsewhere[] = {
    "inline.quic", /* the nftables ruleset */
    "rules",
    "log.file",
    "log.level",
    "log.block_rate",
    "stats.interval", /* the daemon */
    "notice.listen",
    "notice.max_connections",
    "notice.idle_timeout",
    "notice.max_request_bytes", /* the notice server (proxy/daemon/notice_server.c) */
    "orders.merge_threshold",   /* the store follower (proxy/daemon/daemon.c) */
    "orders.merge_ratio",       /* the store follower (proxy/daemon/daemon.c) */
    "report.deadline_days",
    "report.timezone",
    "report.sign_key",
    "report.sign_cert", /* the report commands (proxy/daemon/report_cli.c); deadline_days and
                          * timezone also the admin API (adminapi_set_report() at a reload) */
    "categories.dir",
    "profiles.file",
    "profiles.default",
    "profiles.timezone", /* the tariff table (proxy/daemon/tariffcfg.c, daemon.c) */
};

static struct settings *load(const char *extra)
{
    char text[512], err[256];
    bool own_url = strncmp(extra, "notice.url", 10) == 0;
    int n = snprintf(text, sizeof(text), "mode = inline\n%s%s\n",
                     own_url ? "" : "notice.url = http://block.example/\n", extra);
    ck_assert_int_lt(n, (int)sizeof(text));
    struct settings *c = settings_load_buffer("t.conf", text, (size_t)n, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

START_TEST(every_reloadable_key_has_a_row)
{
    size_t n;
    const struct config_key *k = settings_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].restart)
            continue;
        bool ok = false;
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]) && !ok; r++)
            ok = strcmp(rows[r].key, k[i].name) == 0;
        for (size_t e = 0; e < sizeof(elsewhere) / sizeof(elsewhere[0]) && !ok; e++)
            ok = strcmp(elsewhere[e], k[i].name) == 0;
        if (strncmp(k[i].name, "tap.", 4) == 0)
            ok = true; /* tap mode's keys are not the proxy's */
        ck_assert_msg(
            ok, "reloadable key %s reaches neither the proxy (no row here) nor a listed place",
            k[i].name);
    }
}
END_TEST

/* Each key: the default does not hold, the value does, and inline_reload takes it. */
START_TEST(each_key_reaches_the_proxy)
{
    struct rsref *ref = rsref_new();
    ck_assert_ptr_nonnull(ref);
    struct inline_config start;
    inline_config_default(&start);
    start.tproxy_port = 0;
    start.redirect_port = 0;
    start.max_connections = 16;
    char err[256] = "";
    struct inline_proxy *p = inline_new(&start, ref, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        struct settings *base = load("");
        struct inline_config ic;
        struct notice_config nc;
        inline_config_default(&ic);
        mode_inline_settings(base, &ic, &nc);
        if (strcmp(rows[r].key, "notice.url") != 0) /* the base sets notice.url itself */
            ck_assert_msg(!rows[r].holds(&ic), "%s: the default already holds", rows[r].key);
        settings_free(base);

        char line[256];
        snprintf(line, sizeof(line), "%s = %s", rows[r].key, rows[r].value);
        struct settings *c = load(line);
        inline_config_default(&ic);
        mode_inline_settings(c, &ic, &nc);
        ck_assert_msg(rows[r].holds(&ic), "%s = %s did not reach the proxy's settings", rows[r].key,
                      rows[r].value);
        ck_assert_msg(inline_reload(p, &ic, err, sizeof(err)) == 0, "%s: reload refused: %s",
                      rows[r].key, err);
        settings_free(c);
    }
    inline_free(p);
    rsref_free(ref);
}
END_TEST

static Suite *mode_inline_suite(void)
{
    Suite *s = suite_create("mode_inline");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, every_reloadable_key_has_a_row);
    tcase_add_test(tc, each_key_reaches_the_proxy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mode_inline_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
