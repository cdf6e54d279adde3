/* check_settings.c - the daemon's configuration table (proxy/daemon/settings.c): every default
 * loads, a full file of real keys, the ranges and value lists the table promises, the rules that
 * span keys, which keys need a restart, print round trip over every key, and
 * docs/configuration.md against `qorgau config doc`. The parser itself (types, file format,
 * messages) is tested with a table of its own in tests/unit/common/check_config.c. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/daemon/settings.h"

static struct settings *load(const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    return settings_load_buffer("t.conf", text, strlen(text), err, errlen);
}

/* ---- valid ---- */

START_TEST(test_defaults)
{
    char err[512];
    struct settings *c = load("mode = inline\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->mode, SETTINGS_MODE_INLINE);
    ck_assert_int_eq(c->workers, 0);
    ck_assert_str_eq(c->user, "qorgau");
    ck_assert_str_eq(c->group, "");
    ck_assert_uint_eq(c->rules.n, 0);
    ck_assert_int_eq(c->https_url, SETTINGS_HTTPS_URL_NAME);
    ck_assert_int_eq(c->flows_max, 1048576);
    ck_assert_uint_eq(c->reasm_bytes, 32768);
    ck_assert_int_eq(c->reasm_buffers, 8192);
    ck_assert_int_eq(c->quic_max_datagrams, 16);
    ck_assert_uint_eq(c->quic_max_bytes, 32768);
    ck_assert_str_eq(c->tap_bpf, "tcp or udp port 443 or (ip and udp and udp[8] & 0xc0 = 0xc0) or "
                                 "(ip6 and ip6[6] = 17 and ip6[48] & 0xc0 = 0xc0)");
    ck_assert_uint_eq(c->tap_ring_size, 64u << 20);
    ck_assert_int_eq(c->inline_tproxy_port, 15001);
    ck_assert_int_eq(c->inline_redirect_port, 15002);
    ck_assert_str_eq(c->inline_listen_address.text, "0.0.0.0");
    ck_assert_uint_eq(c->inline_first_bytes_timeout, 10000);
    ck_assert_uint_eq(c->inline_idle_timeout, 600000);
    ck_assert_int_eq(c->inline_max_per_source, 512);
    ck_assert_int_eq(c->inline_incomplete_request, SETTINGS_INCOMPLETE_RESET);
    ck_assert_uint_eq(c->inline_first_bytes_max, 32768);
    ck_assert_int_eq(c->inline_max_connections, 100000);
    ck_assert_int_eq(c->ip_kernel_drop, SETTINGS_IP_KERNEL_DROP_AUTO);
    ck_assert_str_eq(c->ip_kernel_table, "qorgau_ip");
    ck_assert_uint_eq(c->ip_nat64.n, 0);   /* the well-known prefix only (always used) */
    ck_assert(settings_ip_kernel_drop(c)); /* auto: on in inline mode */
    ck_assert_uint_eq(c->inline_connect_timeout, 5000);
    ck_assert_int_eq(c->inline_https_block, SETTINGS_HTTPS_BLOCK_RST);
    ck_assert_int_eq(c->inline_http_block, SETTINGS_HTTP_BLOCK_REDIRECT);
    ck_assert_int_eq(c->inline_quic, SETTINGS_QUIC_DROP_ALL);
    ck_assert_int_eq(c->notice_listen.family, AF_INET);
    ck_assert_uint_eq(c->notice_listen.port, 8080);
    ck_assert_str_eq(c->notice_listen.text, "127.0.0.1:8080");
    ck_assert_str_eq(c->notice_url, "");
    ck_assert(!c->notice_show_order);
    ck_assert_str_eq(c->log_file, "-");
    ck_assert_int_eq(c->log_level, SETTINGS_LOG_INFO);
    ck_assert_int_eq(c->log_block_rate, 100);
    ck_assert_uint_eq(c->stats_interval, 10000);
    settings_free(c);
}
END_TEST

/* Every key with a default loads it and prints it back as the table (and so the generated
 * documentation) writes it. */
/* ip.kernel_drop = auto is on where the box forwards traffic (inline, queue), off in tap mode;
 * off and on say what they say (on in tap mode is refused: test_errors). */
START_TEST(test_ip_kernel_drop_auto)
{
    static const struct {
        const char *text;
        bool on;
    } cases[] = {
        { "mode = queue\n", true },
        { "mode = inline\n", true },
        { "mode = tap\ntap.interface = eth2\n", false },
        { "mode = queue\nip.kernel_drop = off\n", false },
        { "mode = inline\nip.kernel_drop = on\n", true },
        { "mode = tap\ntap.interface = eth2\nip.kernel_drop = off\n", false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512];
        struct settings *c = load(cases[i].text, err, sizeof(err));
        ck_assert_msg(c != NULL, "%s", err);
        ck_assert_msg(settings_ip_kernel_drop(c) == cases[i].on, "%s", cases[i].text);
        settings_free(c);
    }
}
END_TEST

START_TEST(test_every_default_as_documented)
{
    char err[512];
    struct settings *c = load("mode = inline\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    size_t n;
    const struct config_key *k = settings_keys(&n);
    char v[256];
    for (size_t i = 0; i < n; i++) {
        if (!k[i].def)
            continue;
        config_format_value(&k[i], c, v, sizeof(v));
        ck_assert_msg(strcmp(v, k[i].def) == 0, "%s: default '%s' loads as '%s'", k[i].name,
                      k[i].def, v);
    }
    settings_free(c);
}
END_TEST

START_TEST(test_full_file)
{
    char err[512];
    const char *text = "# a full file\n"
                       "\n"
                       "   mode   =   tap    # trailing comment\n"
                       "workers = 64\n"
                       "user = nobody\n"
                       "group = nogroup\n"
                       "https_url = ignore\n"
                       "flows.max = 1024\n"
                       "reasm.bytes = 1m\n"
                       "tap.interface = eth2\n"
                       "tap.ring_size = 1G\n"
                       "tap.bpf = \"tcp port 80 # not a comment \"\n"
                       "inline.first_bytes_timeout = 250ms\n"
                       "inline.connect_timeout = 1m\n"
                       "inline.listen_address = 2001:db8::1\n"
                       "inline.quic = drop-all\n"
                       "inline.http_block = 451\n"
                       "notice.listen = [::1]:8443\n"
                       "notice.url = https://block.example.kz/notice#top\n"
                       "notice.show_order = yes\n"
                       "notice.contact = Call 1414\r\n"
                       "stats.interval = 0\n"
                       "log.level = debug"; /* no final newline */
    struct settings *c = load(text, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->mode, SETTINGS_MODE_TAP);
    ck_assert_int_eq(c->workers, 64);
    ck_assert_str_eq(c->user, "nobody");
    ck_assert_str_eq(c->group, "nogroup");
    ck_assert_int_eq(c->https_url, SETTINGS_HTTPS_URL_IGNORE);
    ck_assert_int_eq(c->flows_max, 1024);
    ck_assert_uint_eq(c->reasm_bytes, 1u << 20);
    ck_assert_str_eq(c->tap_interface, "eth2");
    ck_assert_str_eq(c->tap_inject_interface, "eth2"); /* defaults to tap.interface */
    ck_assert_uint_eq(c->tap_ring_size, 1u << 30);
    ck_assert_str_eq(c->tap_bpf, "tcp port 80 # not a comment ");
    ck_assert_uint_eq(c->inline_first_bytes_timeout, 250);
    ck_assert_uint_eq(c->inline_connect_timeout, 60000);
    ck_assert_int_eq(c->inline_listen_address.family, AF_INET6);
    ck_assert_str_eq(c->inline_listen_address.text, "2001:db8::1");
    ck_assert_int_eq(c->inline_quic, SETTINGS_QUIC_DROP_ALL);
    ck_assert_int_eq(c->inline_http_block, SETTINGS_HTTP_BLOCK_451);
    ck_assert_int_eq(c->notice_listen.family, AF_INET6);
    ck_assert_uint_eq(c->notice_listen.port, 8443);
    ck_assert_str_eq(c->notice_listen.text, "[::1]:8443");
    ck_assert_str_eq(c->notice_url, "https://block.example.kz/notice#top");
    ck_assert(c->notice_show_order);
    ck_assert_str_eq(c->notice_contact, "Call 1414");
    ck_assert_uint_eq(c->stats_interval, 0);
    ck_assert_int_eq(c->log_level, SETTINGS_LOG_DEBUG);
    settings_free(c);

    c = load("mode = tap\ntap.interface = eth2\ntap.inject_interface = eth3\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->tap_inject_interface, "eth3");
    settings_free(c);
}
END_TEST

START_TEST(test_limits_inclusive)
{
    char err[512];
    struct settings *c =
        load("mode = inline\nworkers = 0\nreasm.bytes = 512\ninline.connect_timeout = 100ms\n"
             "stats.interval = 60m\ninline.tproxy_port = 65535\nlog.block_rate = 0\n",
             err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->reasm_bytes, 512);
    ck_assert_uint_eq(c->inline_connect_timeout, 100);
    ck_assert_uint_eq(c->stats_interval, 3600000);
    ck_assert_int_eq(c->inline_tproxy_port, 65535);
    settings_free(c);
    c = load("mode = inline\ninline.redirect_port = 0\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    settings_free(c);
}
END_TEST

/* The cross-key rules hold in their own mode only. */
START_TEST(test_rules_per_mode)
{
    char err[512];
    /* tap mode: the inline ports are not checked */
    struct settings *c = load("mode = tap\ntap.interface = eth0\ninline.redirect_port = 15001\n"
                              "inline.tproxy_port = 15001\n",
                              err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->tap_inject_interface, "eth0");
    settings_free(c);
    c = load("mode = tap\ntap.interface = eth0\ninline.redirect_port = 0\ninline.tproxy_port = 0\n",
             err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    settings_free(c);
    /* inline mode: tap.interface is not required, and tap.inject_interface stays empty */
    c = load("mode = inline\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->tap_interface, "");
    ck_assert_str_eq(c->tap_inject_interface, "");
    settings_free(c);
}
END_TEST

/* ---- malformed and out of range: exact messages ---- */

struct err_case {
    const char *text;
    const char *err;
};

/* The table's own ranges, value lists and cross-key rules, as the operator reads them. */
static const struct err_case err_cases[] = {
    { "mode = inline\nworkers = 65\n", "config: t.conf:2: workers: 65 is out of range 0..64" },
    { "mode = inline\nreasm.bytes = 2M\n",
      "config: t.conf:2: reasm.bytes: 2M is out of range 512..1M" },
    { "mode = inline\nstats.interval = 5h\n",
      "config: t.conf:2: stats.interval: '5h' is not a duration in 0..60m (a number with suffix "
      "ms, s or m)" },
    { "mode = inline\ninline.connect_timeout = 50ms\n",
      "config: t.conf:2: inline.connect_timeout: 50ms is out of range 100ms..1m" },
    { "mode = bridge\n", "config: t.conf:1: mode: 'bridge' is not one of tap, inline, queue" },
    { "mode = inline\ninline.quic = block\n",
      "config: t.conf:2: inline.quic: 'block' is not one of drop-blocked, drop-all, pass" },
    { "mode = inline\nchecksums = sometimes\n",
      "config: t.conf:2: checksums: 'sometimes' is not one of verify, ignore, auto" },
    { "mode = inline\nnotice.show_order = maybe\n",
      "config: t.conf:2: notice.show_order: 'maybe' is not a boolean (true, false, yes, no, on, "
      "off, 1, 0)" },
    { "mode = inline\nnotice.listen = 127.0.0.1:0\n",
      "config: t.conf:2: notice.listen: '127.0.0.1:0' is not "
      "an address ip:port or [ipv6]:port (port 1..65535)" },
    { "mode = inline\ninline.listen_address = 10.0.0\n",
      "config: t.conf:2: inline.listen_address: '10.0.0' is not an IPv4 or IPv6 address" },
    { "mode = inline\nnotice.url = ftp://x/\n",
      "config: t.conf:2: notice.url: 'ftp://x/' is not an http:// or https:// URL" },
    { "mode = inline\nnotice.contact_url = mailto:a@b\n",
      "config: t.conf:2: notice.contact_url: 'mailto:a@b' is not an http:// or https:// URL" },
    { "", "config: t.conf: mode: required, one of tap, inline, queue" },
    { "mode = tap\n", "config: t.conf: tap.interface: required when mode = tap" },
    { "mode = tap\ntap.interface = eth2\ntap.snaplen = 95\n",
      "config: t.conf:3: tap.snaplen: 95 is below 96 bytes (0 = from the interface's MTU)" },
    { "mode = tap\ntap.interface = eth2\ntap.snaplen = -1\n",
      "config: t.conf:3: tap.snaplen: -1 is out of range 0..262144" },
    { "mode = inline\n\ninline.redirect_port = 15001\n",
      "config: t.conf:3: inline.redirect_port: 15001 is also inline.tproxy_port; the ports must "
      "differ" },
    { "mode = queue\nqueue.mark_pass = 7\nqueue.mark_block = 7\n",
      "config: t.conf:3: queue.mark_block: 7 shares bits with queue.mark_pass; the marks must be "
      "disjoint (their union marks a kept-alive HTTP connection whose server side the kernel "
      "forwards)" },
    { "mode = queue\nqueue.mark_pass = 65536\nqueue.mark_block = 196608\n",
      "config: t.conf:3: queue.mark_block: 196608 shares bits with queue.mark_pass; the marks must "
      "be disjoint (their union marks a kept-alive HTTP connection whose server side the kernel "
      "forwards)" },
    { "mode = queue\nqueue.watch_packets = 900\n",
      "config: t.conf:2: queue.settle_packets: 1024 is not above queue.hold_packets + "
      "queue.watch_packets (128 + 900): the rules would let a connection through unjudged while "
      "its first request is still held or watched" },
    { "mode = queue\nqueue.hold_packets = 600\nqueue.settle_packets = 1000\n",
      "config: t.conf:3: queue.settle_packets: 1000 is not above queue.hold_packets + "
      "queue.watch_packets (600 + 400): the rules would let a connection through unjudged while "
      "its first request is still held or watched" },
    { "mode = queue\nqueue.source_new_rate = 1000001\n",
      "config: t.conf:2: queue.source_new_rate: 1000001 is out of range 0..1000000" },
    { "mode = queue\nqueue.source_expire = 500ms\n",
      "config: t.conf:2: queue.source_expire: 500ms is out of range 1s..60m" },
    { "mode = queue\nqueue.mark_cut = 196608\n",
      "config: t.conf:2: queue.mark_cut: 196608 shares bits with queue.mark_pass or "
      "queue.mark_block; the marks must be disjoint" },
    { "mode = tap\ntap.interface = eth2\nip.kernel_drop = on\n",
      "config: t.conf:3: ip.kernel_drop: on needs a mode where this box forwards the traffic "
      "(inline, queue); a tap sees a copy and can only reset TCP flows it sees" },
    { "mode = queue\nip.nat64_prefixes = 2001:db8::/64\n",
      "config: t.conf:2: ip.nat64_prefixes: '2001:db8::/64' is not a /96 prefix (RFC 6052: the "
      "IPv4 address in the last 32 bits; other lengths are not supported)" },
    { "mode = queue\nip.kernel_table = qorgau ip\n",
      "config: t.conf:2: ip.kernel_table: 'qorgau ip' is not a table name (1-32 letters, digits "
      "or '_', not starting with a digit)" },
    { "mode = queue\nip.kernel_table = 9lives\n",
      "config: t.conf:2: ip.kernel_table: '9lives' is not a table name (1-32 letters, digits or "
      "'_', not starting with a digit)" },
    { "mode = queue\nqueue.hold_packets = 0\n",
      "config: t.conf:2: queue.hold_packets: 0 is out of range 1..65535" },
    { "mode = inline\ninline.tproxy_port = 0\ninline.redirect_port = 0\n",
      "config: t.conf: inline.tproxy_port and inline.redirect_port are both 0; inline mode needs a "
      "listener" },
    { "mode = inline\nreport.timezone = Mars/Olympus\n",
      "config: t.conf:2: report.timezone: 'Mars/Olympus' is not in the time zone database (an "
      "IANA name such as Asia/Almaty, UTC, or an offset such as +05:00)" },
    { "mode = inline\nprofiles.timezone = Mars/Olympus\n",
      "config: t.conf:2: profiles.timezone: 'Mars/Olympus' is not a time zone (IANA name, UTC or "
      "+HH:MM)" },
    { "mode = inline\nprofiles.default = Child!\n",
      "config: t.conf:2: profiles.default: 'Child!' is not a profile name ([a-z0-9_-], under 32 "
      "bytes)" },
    { "mode = inline\nreport.sign_key = /etc/qorgau/report.key\n",
      "config: t.conf: report.sign_cert: required with report.sign_key (a report is signed with "
      "both or not at all)" },
    { "mode = inline\nreport.deadline_days = 0\n",
      "config: t.conf:2: report.deadline_days: 0 is out of range 1..3650" },
    { "mode = inline\nfallback.ttl_min = 10m\nfallback.ttl_max = 5m\n",
      "config: t.conf:3: fallback.ttl_max: is below fallback.ttl_min" },
    { "mode = inline\nfallback.resolvers = 127.0.0.1:53, resolver.kz\n",
      "config: t.conf:2: fallback.resolvers: 'resolver.kz' is not ip, ip:port, ipv6 or "
      "[ipv6]:port" },
    { "mode = inline\nfallback.resolvers = [2001:db8::1]:70000\n",
      "config: t.conf:2: fallback.resolvers: '[2001:db8::1]:70000' is not ip, ip:port, ipv6 or "
      "[ipv6]:port" },
    { "mode = inline\nfallback.resolvers = 10.0.0.1,,10.0.0.2\n",
      "config: t.conf:2: fallback.resolvers: '' is not ip, ip:port, ipv6 or [ipv6]:port" },
    { "mode = inline\nfallback.protect = 10.0.0.0/8, 192.0.2.0/33\n",
      "config: t.conf:2: fallback.protect: '192.0.2.0/33' is not an address or prefix (ip, "
      "ip/len)" },
    { "mode = inline\nfallback.shared_policy = drop\n",
      "config: t.conf:2: fallback.shared_policy: 'drop' is not one of block, nameless, report" },
};

START_TEST(test_errors)
{
    const struct err_case *ec = &err_cases[_i];
    char err[512];
    struct settings *c = load(ec->text, err, sizeof(err));
    ck_assert_msg(c == NULL, "case %d loaded", _i);
    ck_assert_str_eq(err, ec->err);
}
END_TEST

START_TEST(test_file_errors)
{
    char err[512];
    ck_assert_ptr_null(settings_load_file("/nonexistent/qorgau.conf", err, sizeof(err)));
    ck_assert_str_eq(err,
                     "config: /nonexistent/qorgau.conf: cannot open: No such file or directory");

    char path[] = "/tmp/check_settings.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("mode = inline\nlog.level = loud\n", f);
    fclose(f);
    ck_assert_ptr_null(settings_load_file(path, err, sizeof(err)));
    char want[600];
    snprintf(want, sizeof(want),
             "config: %s:2: log.level: 'loud' is not one of error, warn, info, debug", path);
    ck_assert_str_eq(err, want);
    f = fopen(path, "w");
    fputs("mode = inline\nlog.level = warn\n", f);
    fclose(f);
    struct settings *c = settings_load_file(path, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->log_level, SETTINGS_LOG_WARN);
    settings_free(c);
    unlink(path);
}
END_TEST

/* ---- table properties ---- */

START_TEST(test_table)
{
    size_t n;
    const struct config_key *k = settings_keys(&n);
    ck_assert_uint_ge(n, 30);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_eq(settings_key_find(k[i].name), &k[i]); /* names are unique */
        ck_assert_msg(k[i].doc && k[i].doc[0], "%s has no doc", k[i].name);
        if (k[i].type == CONFIG_INT || k[i].type == CONFIG_SIZE || k[i].type == CONFIG_DURATION)
            ck_assert_msg(k[i].min <= k[i].max, "%s", k[i].name);
        if (k[i].type == CONFIG_ENUM)
            ck_assert_ptr_nonnull(k[i].values);
    }
    ck_assert_ptr_null(settings_key_find("nope"));
    /* enum value names are in the order of the C enums */
    ck_assert_str_eq(config_enum_name(settings_key_find("mode"), SETTINGS_MODE_INLINE), "inline");
    ck_assert_str_eq(config_enum_name(settings_key_find("inline.quic"), SETTINGS_QUIC_PASS),
                     "pass");
    ck_assert_str_eq(
        config_enum_name(settings_key_find("inline.http_block"), SETTINGS_HTTP_BLOCK_451), "451");
    ck_assert_str_eq(
        config_enum_name(settings_key_find("inline.https_block"), SETTINGS_HTTPS_BLOCK_ALERT),
        "alert");
    ck_assert_str_eq(config_enum_name(settings_key_find("https_url"), SETTINGS_HTTPS_URL_IGNORE),
                     "ignore");
    ck_assert_str_eq(config_enum_name(settings_key_find("log.level"), SETTINGS_LOG_DEBUG), "debug");
    ck_assert_str_eq(config_enum_name(settings_key_find("log.level"), 4), "?");
    ck_assert_str_eq(config_enum_name(settings_key_find("workers"), 0), "?");
}
END_TEST

static char *print_to_string(const struct settings *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(settings_print(f, c), 0);
    fclose(f);
    return buf;
}

START_TEST(test_print_round_trip)
{
    char err[512];
    struct settings *a =
        load("mode = tap\ntap.interface = eth2\nrules = /a b/*.json\nrules = \" lead\"\n"
             "notice.contact = \"x # y\"\ntap.bpf = \"\"\nreasm.bytes = 1536\n"
             "notice.listen = [2001:db8::2]:80\ninline.first_bytes_timeout = 1500ms\n",
             err, sizeof(err));
    ck_assert_msg(a != NULL, "%s", err);
    char *t1 = print_to_string(a);
    ck_assert_ptr_nonnull(strstr(t1, "\nreasm.bytes = 1536\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nnotice.contact = \"x # y\"\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\ninline.first_bytes_timeout = 1500ms\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\ntap.ring_size = 64M\n"));
    struct settings *b = settings_load_buffer("printed", t1, strlen(t1), err, sizeof(err));
    ck_assert_msg(b != NULL, "%s\n%s", err, t1);
    size_t n;
    const struct config_key *k = settings_keys(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(config_key_equal(&k[i], a, b), "%s differs after round trip", k[i].name);
    char *t2 = print_to_string(b);
    ck_assert_str_eq(t1, t2);
    char v[256];
    config_format_value(settings_key_find("rules"), a, v, sizeof(v));
    ck_assert_str_eq(v, "/a b/*.json,  lead");
    free(t1);
    free(t2);
    settings_free(a);
    settings_free(b);
}
END_TEST

START_TEST(test_keep_restart_keys)
{
    char err[512];
    struct settings *run =
        load("mode = inline\nworkers = 2\nnotice.url = http://a/\nrules = x\n", err, sizeof(err));
    struct settings *fresh =
        load("mode = tap\ntap.interface = eth9\nworkers = 4\nnotice.url = http://b/\nrules = y\n",
             err, sizeof(err));
    ck_assert_ptr_nonnull(run);
    ck_assert_ptr_nonnull(fresh);
    const char *names[8];
    int n = settings_keep_restart_keys(fresh, run, names, 8);
    ck_assert_int_eq(n, 4); /* the other restart keys are equal (defaults) */
    ck_assert_str_eq(names[0], "mode");
    ck_assert_str_eq(names[1], "workers");
    ck_assert_str_eq(names[2], "tap.interface");
    ck_assert_str_eq(names[3], "tap.inject_interface");
    ck_assert_int_eq(fresh->mode, SETTINGS_MODE_INLINE);
    ck_assert_int_eq(fresh->workers, 2);
    ck_assert_str_eq(fresh->tap_interface, "");
    /* reloadable keys keep their new values */
    ck_assert_str_eq(fresh->notice_url, "http://b/");
    ck_assert_str_eq(fresh->rules.items[0], "y");
    size_t nk;
    const struct config_key *k = settings_keys(&nk);
    for (size_t i = 0; i < nk; i++)
        if (k[i].restart)
            ck_assert_msg(config_key_equal(&k[i], fresh, run), "%s", k[i].name);
    ck_assert_int_eq(settings_keep_restart_keys(fresh, run, names, 8), 0);
    settings_free(run);
    settings_free(fresh);
}
END_TEST

/* docs/configuration.md holds the output of `qorgau config doc` between two markers. */
START_TEST(test_doc_matches_table)
{
    const char *dir = getenv("QG_SRCDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", dir ? dir : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (run from the source tree or set QG_SRCDIR)", path);
    static char doc[256 * 1024];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    static const char begin[] = "<!-- BEGIN qorgau config doc -->\n",
                      end[] = "<!-- END qorgau config doc -->";
    char *b = strstr(doc, begin);
    ck_assert_msg(b != NULL, "%s: no '%s' marker", path, "BEGIN qorgau config doc");
    b += strlen(begin);
    char *e = strstr(b, end);
    ck_assert_msg(e != NULL, "%s: no END marker", path);
    *e = '\0';

    char *gen = NULL;
    size_t glen = 0;
    FILE *g = open_memstream(&gen, &glen);
    ck_assert_int_eq(settings_doc(g), 0);
    fclose(g);
    ck_assert_msg(
        strcmp(b, gen) == 0,
        "%s is out of date: replace the text between the markers with `qorgau config doc`", path);
    /* and every key really appears */
    size_t nk;
    const struct config_key *k = settings_keys(&nk);
    for (size_t i = 0; i < nk; i++) {
        char name[96];
        snprintf(name, sizeof(name), "| `%s` |", k[i].name);
        ck_assert_msg(strstr(b, name) != NULL, "%s missing from %s", k[i].name, path);
    }
    free(gen);
}
END_TEST

static Suite *settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_ip_kernel_drop_auto);
    tcase_add_test(tc, test_every_default_as_documented);
    tcase_add_test(tc, test_full_file);
    tcase_add_test(tc, test_rules_per_mode);
    tcase_add_test(tc, test_print_round_trip);
    tcase_add_test(tc, test_keep_restart_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit");
    tcase_add_test(tc, test_limits_inclusive);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_doc_matches_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(settings_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
