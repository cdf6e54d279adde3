/* check_config.c - the generic configuration parser (common/config.c) driven by a small table
 * defined here: every type valid / malformed / out of range, exact error text with file:line,
 * defaults, list keys, the finish hook (cross-key errors, derived values, config_line), print
 * round trip, reload rules and the generated key table. The daemon's own table is tested in
 * tests/unit/daemon/check_settings.c. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/config.h"

/* ---- the test table ---- */

enum t_kind { T_KIND_A = 0, T_KIND_B };
enum t_color { T_RED = 0, T_GREEN, T_BLUE };

struct t_conf {
    int kind; /* enum t_kind, required */
    int64_t count;
    char *name;
    char *text;
    char *alias; /* after loading: text when the file left it empty */
    struct config_list items;
    struct config_list seeds; /* a list with a default item */
    bool flag;
    uint64_t buf;
    uint64_t ring;
    uint64_t wait;
    uint64_t period;
    int color; /* enum t_color */
    struct config_addr listen;
    struct config_addr bind;
    char *link;
    char *file;
    int64_t port_a;
    int64_t port_b;
};

#define OFF(f) offsetof(struct t_conf, f)
#define KI     (INT64_C(1) << 10)
#define MI     (INT64_C(1) << 20)
#define GI     (INT64_C(1) << 30)
#define MIN    INT64_C(60000)

static const char *const v_kind[] = { "a", "b", NULL };
static const char *const v_color[] = { "red", "green", "blue", NULL };

/* clang-format off */
static const struct config_key t_keys[] = {
    { "kind", CONFIG_ENUM, 0, 0, NULL, v_kind, OFF(kind), true, "which kind" },
    { "count", CONFIG_INT, 0, 64, "0", NULL, OFF(count), true, "how many" },
    { "name", CONFIG_STRING, 0, 0, "anon", NULL, OFF(name), true, "a name" },
    { "text", CONFIG_STRING, 0, 0, "", NULL, OFF(text), true, "some text (required when kind = b)" },
    { "alias", CONFIG_STRING, 0, 0, "", NULL, OFF(alias), true, "empty = text" },
    { "items", CONFIG_LIST, 0, 0, "", NULL, OFF(items), false, "repeat for more" },
    { "seeds", CONFIG_LIST, 0, 0, "seed", NULL, OFF(seeds), false, "a list with a default" },
    { "flag", CONFIG_BOOL, 0, 0, "false", NULL, OFF(flag), false, "a switch" },
    { "buf", CONFIG_SIZE, 512, 1 * MI, "32K", NULL, OFF(buf), true, "bytes" },
    { "ring", CONFIG_SIZE, 1 * MI, 4 * GI, "64M", NULL, OFF(ring), true, "more bytes" },
    { "wait", CONFIG_DURATION, 100, 1 * MIN, "5s", NULL, OFF(wait), false, "a timeout" },
    { "period", CONFIG_DURATION, 0, 60 * MIN, "10s", NULL, OFF(period), false, "0 = never" },
    { "color", CONFIG_ENUM, 0, 0, "green", v_color, OFF(color), false, "a color" },
    { "listen", CONFIG_ADDR, 0, 0, "127.0.0.1:8080", NULL, OFF(listen), true, "where to listen" },
    { "bind", CONFIG_IP, 0, 0, "0.0.0.0", NULL, OFF(bind), true, "address to bind" },
    { "link", CONFIG_URL, 0, 0, "", NULL, OFF(link), false, "a link" },
    { "file", CONFIG_PATH, 0, 0, "-", NULL, OFF(file), false, "`-` = standard error" },
    { "port_a", CONFIG_INT, 0, 65535, "1", NULL, OFF(port_a), true, "first port" },
    { "port_b", CONFIG_INT, 0, 65535, "2", NULL, OFF(port_b), true, "second port" },
};
/* clang-format on */

/* The same kind of rules the daemon's table has: a key required by another's value, two keys
 * that must differ (reported on the line of the second), and a derived default. */
static int t_finish(void *p, struct config_parse *ps)
{
    struct t_conf *c = p;
    if (c->kind == T_KIND_B && c->text[0] == '\0') {
        config_error(ps, 0, "text", "required when kind = b");
        return -EINVAL;
    }
    if (c->kind == T_KIND_A && c->port_a == 0 && c->port_b == 0) {
        config_error(ps, 0, NULL, "port_a and port_b are both 0; kind a needs one");
        return -EINVAL;
    }
    if (c->kind == T_KIND_A && c->port_a == c->port_b) {
        config_error(ps, config_line(ps, "port_b"), "port_b",
                     "%lld is also port_a; the ports must differ", (long long)c->port_b);
        return -EINVAL;
    }
    if (c->alias[0] == '\0' && c->text[0] != '\0') {
        char *s = strdup(c->text);
        if (!s)
            return -ENOMEM;
        free(c->alias);
        c->alias = s;
    }
    return 0;
}

static const struct config_table table = { t_keys, sizeof(t_keys) / sizeof(t_keys[0]),
                                           sizeof(struct t_conf), t_finish };

static struct t_conf *load(const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    return config_load_buffer(&table, "t.conf", text, strlen(text), err, errlen);
}

static void t_free(struct t_conf *c)
{
    config_free(&table, c);
}

static const struct config_key *key(const char *name)
{
    const struct config_key *k = config_key_find(&table, name);
    ck_assert_msg(k != NULL, "no key %s", name);
    return k;
}

/* ---- valid ---- */

START_TEST(test_defaults)
{
    char err[512];
    struct t_conf *c = load("kind = a\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->kind, T_KIND_A);
    ck_assert_int_eq(c->count, 0);
    ck_assert_str_eq(c->name, "anon");
    ck_assert_str_eq(c->text, "");
    ck_assert_str_eq(c->alias, "");
    ck_assert_uint_eq(c->items.n, 0);
    ck_assert_uint_eq(c->seeds.n, 1);
    ck_assert_str_eq(c->seeds.items[0], "seed");
    ck_assert(!c->flag);
    ck_assert_uint_eq(c->buf, 32768);
    ck_assert_uint_eq(c->ring, 64u << 20);
    ck_assert_uint_eq(c->wait, 5000);
    ck_assert_uint_eq(c->period, 10000);
    ck_assert_int_eq(c->color, T_GREEN);
    ck_assert_int_eq(c->listen.family, AF_INET);
    ck_assert_uint_eq(c->listen.port, 8080);
    ck_assert_str_eq(c->listen.text, "127.0.0.1:8080");
    ck_assert_int_eq(c->bind.family, AF_INET);
    ck_assert_uint_eq(c->bind.port, 0);
    ck_assert_str_eq(c->bind.text, "0.0.0.0");
    ck_assert_str_eq(c->link, "");
    ck_assert_str_eq(c->file, "-");
    ck_assert_int_eq(c->port_a, 1);
    ck_assert_int_eq(c->port_b, 2);
    t_free(c);
}
END_TEST

START_TEST(test_every_type)
{
    char err[512];
    const char *text = "# a full file\n"
                       "\n"
                       "   kind   =   b    # trailing comment\n"
                       "count = +64\n"
                       "name = nobody\n"
                       "text = eth2\n"
                       "buf = 1m\n"
                       "ring = 1G\n"
                       "items = \"tcp port 80 # not a comment \"\n"
                       "wait = 250ms\n"
                       "period = 1m\n"
                       "bind = 2001:db8::1\n"
                       "color = blue\n"
                       "flag = yes\n"
                       "listen = [::1]:8443\n"
                       "link = https://block.example.kz/notice#top\n"
                       "file = /var/log/t.log\r\n"
                       "port_a = 0\n"
                       "port_b = 0"; /* no final newline */
    struct t_conf *c = load(text, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->kind, T_KIND_B);
    ck_assert_int_eq(c->count, 64);
    ck_assert_str_eq(c->name, "nobody");
    ck_assert_str_eq(c->text, "eth2");
    ck_assert_str_eq(c->alias, "eth2"); /* derived by the finish hook */
    ck_assert_uint_eq(c->buf, 1u << 20);
    ck_assert_uint_eq(c->ring, 1u << 30);
    ck_assert_uint_eq(c->items.n, 1);
    ck_assert_str_eq(c->items.items[0], "tcp port 80 # not a comment ");
    ck_assert_uint_eq(c->wait, 250);
    ck_assert_uint_eq(c->period, 60000);
    ck_assert_int_eq(c->bind.family, AF_INET6);
    ck_assert_str_eq(c->bind.text, "2001:db8::1");
    ck_assert_int_eq(c->color, T_BLUE);
    ck_assert(c->flag);
    ck_assert_int_eq(c->listen.family, AF_INET6);
    ck_assert_uint_eq(c->listen.port, 8443);
    ck_assert_str_eq(c->listen.text, "[::1]:8443");
    ck_assert_str_eq(c->link, "https://block.example.kz/notice#top");
    ck_assert_str_eq(c->file, "/var/log/t.log");
    ck_assert_int_eq(c->port_a, 0);
    t_free(c);

    c = load("kind = b\ntext = eth2\nalias = eth3\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->alias, "eth3");
    t_free(c);
}
END_TEST

START_TEST(test_bool_values)
{
    static const char *const t[] = { "true", "yes", "on", "1" }, *const f[] = { "false", "no",
                                                                                "off", "0" };
    char buf[128], err[512];
    for (size_t i = 0; i < 4; i++) {
        snprintf(buf, sizeof(buf), "kind = a\nflag = %s\n", t[i]);
        struct t_conf *c = load(buf, err, sizeof(err));
        ck_assert_msg(c && c->flag, "%s", t[i]);
        t_free(c);
        snprintf(buf, sizeof(buf), "kind = a\nflag = %s\n", f[i]);
        c = load(buf, err, sizeof(err));
        ck_assert_msg(c && !c->flag, "%s", f[i]);
        t_free(c);
    }
}
END_TEST

START_TEST(test_lists)
{
    char err[512];
    struct t_conf *c =
        load("kind = a\nitems = /etc/qorgau/orders/*.json\nitems = /etc/qorgau/extra.txt\n", err,
             sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->items.n, 2);
    ck_assert_str_eq(c->items.items[0], "/etc/qorgau/orders/*.json");
    ck_assert_str_eq(c->items.items[1], "/etc/qorgau/extra.txt");
    t_free(c);
    /* An empty value clears what came before; a value starting with '#' is a comment. */
    c = load("kind = a\nitems = a\nitems =#x\nitems = b\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->items.n, 1);
    ck_assert_str_eq(c->items.items[0], "b");
    t_free(c);
    /* The file's first line of a list replaces its default instead of adding to it. */
    c = load("kind = a\nseeds = x\nseeds = y\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->seeds.n, 2);
    ck_assert_str_eq(c->seeds.items[0], "x");
    ck_assert_str_eq(c->seeds.items[1], "y");
    t_free(c);
    c = load("kind = a\nseeds =\n", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->seeds.n, 0);
    t_free(c);
}
END_TEST

START_TEST(test_limits_inclusive)
{
    char err[512];
    struct t_conf *c = load("kind = a\ncount = 0\nbuf = 512\nwait = 100ms\nperiod = 60m\n"
                            "port_a = 65535\nring = 4G\n",
                            err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->count, 0);
    ck_assert_uint_eq(c->buf, 512);
    ck_assert_uint_eq(c->wait, 100);
    ck_assert_uint_eq(c->period, 3600000);
    ck_assert_int_eq(c->port_a, 65535);
    ck_assert_uint_eq(c->ring, 4ull << 30);
    t_free(c);
    c = load("kind = a\ncount = 64\nbuf = 1M\nwait = 1m\nperiod = 0\nport_b = 0\n", err,
             sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->count, 64);
    ck_assert_uint_eq(c->buf, 1u << 20);
    ck_assert_uint_eq(c->wait, 60000);
    ck_assert_uint_eq(c->period, 0);
    t_free(c);
}
END_TEST

/* A table without a finish hook loads; a NULL struct frees as a no-op. */
START_TEST(test_no_finish_hook)
{
    static const struct config_table bare = { t_keys, sizeof(t_keys) / sizeof(t_keys[0]),
                                              sizeof(struct t_conf), NULL };
    char err[256] = "";
    static const char text[] = "kind = b\nport_a = 7\nport_b = 7\n"; /* t_finish would refuse */
    struct t_conf *c =
        config_load_buffer(&bare, "bare.conf", text, sizeof(text) - 1, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->kind, T_KIND_B);
    ck_assert_int_eq(c->port_a, 7);
    ck_assert_str_eq(c->alias, ""); /* nothing derived */
    config_free(&bare, c);
    config_free(&bare, NULL);
}
END_TEST

/* config_line() as a finish hook sees it: the line a key was set on, 0 for a default or an
 * unknown name. */
static unsigned seen_lines[4];

static int record_lines(void *p, struct config_parse *ps)
{
    (void)p;
    seen_lines[0] = config_line(ps, "count");
    seen_lines[1] = config_line(ps, "items");
    seen_lines[2] = config_line(ps, "name");
    seen_lines[3] = config_line(ps, "nope");
    return 0;
}

START_TEST(test_config_line)
{
    static const struct config_table rec = { t_keys, sizeof(t_keys) / sizeof(t_keys[0]),
                                             sizeof(struct t_conf), record_lines };
    static const char text[] = "kind = a\n\n# x\ncount = 3\nitems = a\nitems = b\n";
    char err[256] = "";
    memset(seen_lines, 0xff, sizeof(seen_lines));
    void *c = config_load_buffer(&rec, "t.conf", text, sizeof(text) - 1, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(seen_lines[0], 4);
    ck_assert_uint_eq(seen_lines[1], 6); /* a list key: its last line */
    ck_assert_uint_eq(seen_lines[2], 0);
    ck_assert_uint_eq(seen_lines[3], 0);
    config_free(&rec, c);
}
END_TEST

/* ---- malformed and out of range: exact messages ---- */

struct err_case {
    const char *text;
    const char *err;
};

static const struct err_case err_cases[] = {
    { "kind = a\ncount = 65\n", "config: t.conf:2: count: 65 is out of range 0..64" },
    { "kind = a\ncount = -1\n", "config: t.conf:2: count: -1 is out of range 0..64" },
    { "kind = a\ncount = x\n", "config: t.conf:2: count: 'x' is not an integer in 0..64" },
    { "kind = a\ncount = 4 cores\n",
      "config: t.conf:2: count: '4 cores' is not an integer in 0..64" },
    { "kind = a\ncount = 99999999999999999999\n",
      "config: t.conf:2: count: '99999999999999999999' is not an integer in 0..64" },
    { "kind = a\ncount =\n", "config: t.conf:2: count: '' is not an integer in 0..64" },
    { "kind = a\nbogus = 1\n", "config: t.conf:2: unknown key 'bogus'" },
    { "kind = a\nCount = 1\n", "config: t.conf:2: unknown key 'Count'" },
    { "kind = a\nthis_key_is_longer_than_the_sixty_three_bytes_the_parser_keeps_for_a_name = 1\n",
      "config: t.conf:2: unknown key 'this_key_is_longer_than_the_sixt...'" },
    { "kind = a\ncount = 1\n\ncount = 2\n",
      "config: t.conf:4: key 'count' is set twice (first on line 2)" },
    { "kind = a\nkind = b\n", "config: t.conf:2: key 'kind' is set twice (first on line 1)" },
    { "kind = a\njust words\n", "config: t.conf:2: expected 'key = value', got 'just words'" },
    { "kind = a\n  = 5\n", "config: t.conf:2: expected 'key = value', got '= 5'" },
    { "kind = a\nflag = maybe\n",
      "config: t.conf:2: flag: 'maybe' is not a boolean (true, false, yes, no, on, off, 1, 0)" },
    { "kind = a\nbuf = 16X\n",
      "config: t.conf:2: buf: '16X' is not a size in 512..1M (a number with suffix K, M or G)" },
    { "kind = a\nbuf = 16 K\n",
      "config: t.conf:2: buf: '16 K' is not a size in 512..1M (a number with suffix K, M or G)" },
    { "kind = a\nbuf = 2M\n", "config: t.conf:2: buf: 2M is out of range 512..1M" },
    { "kind = a\nbuf = 511\n", "config: t.conf:2: buf: 511 is out of range 512..1M" },
    { "kind = a\nring = 99999999999999999999G\n",
      "config: t.conf:2: ring: '99999999999999999999G' is not a size in 1M..4G (a number with "
      "suffix K, M or G)" },
    { "kind = a\nring = 17179869184G\n",
      "config: t.conf:2: ring: '17179869184G' is not a size in 1M..4G (a number with suffix K, M "
      "or G)" },
    { "kind = a\nperiod = 5h\n",
      "config: t.conf:2: period: '5h' is not a duration in 0..60m (a number with suffix ms, s or "
      "m)" },
    { "kind = a\nwait = 5\n",
      "config: t.conf:2: wait: '5' is not a duration in 100ms..1m (a number with suffix ms, s or "
      "m)" },
    { "kind = a\nwait = 50ms\n", "config: t.conf:2: wait: 50ms is out of range 100ms..1m" },
    { "kind = a\nwait = 61s\n", "config: t.conf:2: wait: 61s is out of range 100ms..1m" },
    { "kind = c\n", "config: t.conf:1: kind: 'c' is not one of a, b" },
    { "kind = a\ncolor = pink\n",
      "config: t.conf:2: color: 'pink' is not one of red, green, blue" },
    { "kind = a\nlisten = 127.0.0.1\n",
      "config: t.conf:2: listen: '127.0.0.1' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nlisten = 127.0.0.1:0\n",
      "config: t.conf:2: listen: '127.0.0.1:0' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nlisten = 127.0.0.1:65536\n",
      "config: t.conf:2: listen: '127.0.0.1:65536' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nlisten = 127.0.0.1:+80\n",
      "config: t.conf:2: listen: '127.0.0.1:+80' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nlisten = ::1:80\n",
      "config: t.conf:2: listen: '::1:80' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nlisten = [127.0.0.1]:80\n",
      "config: t.conf:2: listen: '[127.0.0.1]:80' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nlisten = [::1]80\n",
      "config: t.conf:2: listen: '[::1]80' is not an address ip:port or [ipv6]:port (port "
      "1..65535)" },
    { "kind = a\nbind = 10.0.0\n",
      "config: t.conf:2: bind: '10.0.0' is not an IPv4 or IPv6 address" },
    { "kind = a\nlink = ftp://x/\n",
      "config: t.conf:2: link: 'ftp://x/' is not an http:// or https:// URL" },
    { "kind = a\ntext = \"abc\n", "config: t.conf:2: text: unterminated '\"'" },
    { "kind = a\ntext = \"a\" b\n", "config: t.conf:2: text: text after the closing '\"'" },
    { "kind = a\x01\n", "config: t.conf:1: control byte 0x01 in the line" },
    { "kind = a\nname = x\x7f\n", "config: t.conf:2: control byte 0x7f in the line" },
    { "", "config: t.conf: kind: required, one of a, b" },
    { "# only a comment\n", "config: t.conf: kind: required, one of a, b" },
    /* the finish hook's errors come out in the same form */
    { "kind = b\n", "config: t.conf: text: required when kind = b" },
    { "kind = a\n\nport_b = 1\n",
      "config: t.conf:3: port_b: 1 is also port_a; the ports must differ" },
    { "kind = a\nport_a = 0\nport_b = 0\n",
      "config: t.conf: port_a and port_b are both 0; kind a needs one" },
};

START_TEST(test_errors)
{
    const struct err_case *ec = &err_cases[_i];
    char err[512];
    struct t_conf *c = load(ec->text, err, sizeof(err));
    ck_assert_msg(c == NULL, "case %d loaded", _i);
    ck_assert_str_eq(err, ec->err);
}
END_TEST

START_TEST(test_nul_byte)
{
    static const char text[] = "kind = a\nname = a\0b\n";
    char err[512];
    void *c = config_load_buffer(&table, "t.conf", text, sizeof(text) - 1, err, sizeof(err));
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, "config: t.conf:2: control byte 0x00 in the line");
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_file_errors)
{
    char err[512];
    ck_assert_ptr_null(config_load_file(&table, "/nonexistent/t.conf", err, sizeof(err)));
    ck_assert_str_eq(err, "config: /nonexistent/t.conf: cannot open: No such file or directory");

    char path[] = "/tmp/check_config.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_file(path, "kind = a\ncolor = loud\n");
    ck_assert_ptr_null(config_load_file(&table, path, err, sizeof(err)));
    char want[600];
    snprintf(want, sizeof(want), "config: %s:2: color: 'loud' is not one of red, green, blue",
             path);
    ck_assert_str_eq(err, want);
    write_file(path, "kind = a\ncolor = red\n");
    struct t_conf *c = config_load_file(&table, path, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->color, T_RED);
    t_free(c);
    unlink(path);
}
END_TEST

/* A tiny error buffer cuts the message but stays terminated. */
START_TEST(test_small_error_buffer)
{
    char err[16];
    memset(err, 'x', sizeof(err));
    ck_assert_ptr_null(config_load_buffer(&table, "t.conf", "bogus = 1\n", 10, err, sizeof(err)));
    ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
    ck_assert(strncmp(err, "config: t.conf:", 15) == 0);
}
END_TEST

/* A finish hook that runs out of memory fails the load with the parser's own message. */
static int no_memory(void *p, struct config_parse *ps)
{
    (void)p;
    (void)ps;
    return -ENOMEM;
}

START_TEST(test_finish_enomem)
{
    static const struct config_table oom = { t_keys, sizeof(t_keys) / sizeof(t_keys[0]),
                                             sizeof(struct t_conf), no_memory };
    char err[256] = "";
    ck_assert_ptr_null(config_load_buffer(&oom, "t.conf", "kind = a\n", 9, err, sizeof(err)));
    ck_assert_str_eq(err, "config: t.conf: out of memory");
}
END_TEST

/* A file over 1 MiB is refused before it is parsed. */
START_TEST(test_file_too_large)
{
    char path[] = "/tmp/check_config.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    memset(line, '#', sizeof(line));
    line[sizeof(line) - 1] = '\n';
    fputs("kind = a\n", f);
    for (size_t i = 0; i < 1024; i++) /* 1 MiB of comment lines after the first line */
        ck_assert_uint_eq(fwrite(line, 1, sizeof(line), f), sizeof(line));
    ck_assert_int_eq(fclose(f), 0);
    char err[512], want[600];
    ck_assert_ptr_null(config_load_file(&table, path, err, sizeof(err)));
    snprintf(want, sizeof(want), "config: %s: larger than 1048576 bytes", path);
    ck_assert_str_eq(err, want);
    unlink(path);
}
END_TEST

/* ---- the table ---- */

START_TEST(test_table)
{
    for (size_t i = 0; i < table.n; i++)
        ck_assert_ptr_eq(config_key_find(&table, t_keys[i].name), &t_keys[i]);
    ck_assert_ptr_null(config_key_find(&table, "nope"));
    ck_assert_ptr_null(config_key_find(&table, "Kind"));
    /* enum value names are in the order of the C enums */
    ck_assert_str_eq(config_enum_name(key("kind"), T_KIND_B), "b");
    ck_assert_str_eq(config_enum_name(key("color"), T_RED), "red");
    ck_assert_str_eq(config_enum_name(key("color"), T_BLUE), "blue");
    ck_assert_str_eq(config_enum_name(key("color"), 3), "?");
    ck_assert_str_eq(config_enum_name(key("color"), -1), "?");
    ck_assert_str_eq(config_enum_name(key("count"), 0), "?");
}
END_TEST

static char *print_to_string(const struct t_conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(config_print(&table, f, c), 0);
    fclose(f);
    return buf;
}

START_TEST(test_print_round_trip)
{
    char err[512];
    struct t_conf *a = load("kind = b\ntext = eth2\nitems = /a b/*.json\nitems = \" lead\"\n"
                            "name = \"x # y\"\nfile = \"\"\nbuf = 1536\nseeds =\n"
                            "listen = [2001:db8::2]:80\nwait = 1500ms\nflag = on\n",
                            err, sizeof(err));
    ck_assert_msg(a != NULL, "%s", err);
    char *t1 = print_to_string(a);
    ck_assert_ptr_nonnull(strstr(t1, "\nbuf = 1536\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nname = \"x # y\"\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nwait = 1500ms\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nring = 64M\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nperiod = 10s\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nflag = true\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\ncolor = green\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nitems = \" lead\"\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nseeds =\n"));
    ck_assert_ptr_nonnull(strstr(t1, "\nfile =\n"));
    ck_assert(strncmp(t1, "kind = b\n", 9) == 0);
    struct t_conf *b = config_load_buffer(&table, "printed", t1, strlen(t1), err, sizeof(err));
    ck_assert_msg(b != NULL, "%s\n%s", err, t1);
    for (size_t i = 0; i < table.n; i++)
        ck_assert_msg(config_key_equal(&t_keys[i], a, b), "%s differs after round trip",
                      t_keys[i].name);
    char *t2 = print_to_string(b);
    ck_assert_str_eq(t1, t2);
    char v[256];
    config_format_value(key("items"), a, v, sizeof(v));
    ck_assert_str_eq(v, "/a b/*.json,  lead");
    config_format_value(key("listen"), a, v, sizeof(v));
    ck_assert_str_eq(v, "[2001:db8::2]:80");
    config_format_value(key("kind"), a, v, sizeof(v));
    ck_assert_str_eq(v, "b");
    /* a different value of each type is not equal */
    struct t_conf *d =
        load("kind = a\nitems = /a b/*.json\nlisten = [2001:db8::2]:81\n", err, sizeof(err));
    ck_assert_msg(d != NULL, "%s", err);
    static const char *const differ[] = {
        "kind", "text", "items", "flag", "buf", "wait", "listen"
    };
    for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++)
        ck_assert_msg(!config_key_equal(key(differ[i]), a, d), "%s", differ[i]);
    ck_assert(config_key_equal(key("bind"), a, d));
    free(t1);
    free(t2);
    t_free(a);
    t_free(b);
    t_free(d);
}
END_TEST

START_TEST(test_keep_restart_keys)
{
    char err[512];
    struct t_conf *run =
        load("kind = a\ncount = 2\nlink = http://a/\nitems = x\n", err, sizeof(err));
    struct t_conf *fresh =
        load("kind = b\ntext = eth9\ncount = 4\nlink = http://b/\nitems = y\n", err, sizeof(err));
    ck_assert_ptr_nonnull(run);
    ck_assert_ptr_nonnull(fresh);
    const char *names[8];
    int n = config_keep_restart_keys(&table, fresh, run, names, 8);
    ck_assert_int_eq(n, 4); /* the other restart keys are equal (defaults) */
    ck_assert_str_eq(names[0], "kind");
    ck_assert_str_eq(names[1], "count");
    ck_assert_str_eq(names[2], "text");
    ck_assert_str_eq(names[3], "alias");
    ck_assert_int_eq(fresh->kind, T_KIND_A);
    ck_assert_int_eq(fresh->count, 2);
    ck_assert_str_eq(fresh->text, "");
    /* reloadable keys keep their new values */
    ck_assert_str_eq(fresh->link, "http://b/");
    ck_assert_str_eq(fresh->items.items[0], "y");
    for (size_t i = 0; i < table.n; i++)
        if (t_keys[i].restart)
            ck_assert_msg(config_key_equal(&t_keys[i], fresh, run), "%s", t_keys[i].name);
    ck_assert_int_eq(config_keep_restart_keys(&table, fresh, run, names, 8), 0);
    /* more keys than names: all are set back, max names written, the count is the total */
    struct t_conf *f2 = load("kind = b\ntext = eth9\ncount = 4\n", err, sizeof(err));
    ck_assert_ptr_nonnull(f2);
    const char *one[2] = { NULL, "untouched" };
    ck_assert_int_eq(config_keep_restart_keys(&table, f2, run, one, 1), 4);
    ck_assert_str_eq(one[0], "kind");
    ck_assert_str_eq(one[1], "untouched");
    ck_assert_int_eq(f2->count, 2);
    t_free(run);
    t_free(fresh);
    t_free(f2);
}
END_TEST

/* The generated key table, whole. */
START_TEST(test_doc)
{
    static const char want[] =
        "| key | type | allowed | default | on SIGHUP | description |\n"
        "|-----|------|---------|---------|-----------|-------------|\n"
        "| `kind` | enum | `a`, `b` | (required) | restart | which kind |\n"
        "| `count` | int | 0..64 | `0` | restart | how many |\n"
        "| `name` | string | text | `anon` | restart | a name |\n"
        "| `text` | string | text | (empty) | restart | some text (required when kind = b) |\n"
        "| `alias` | string | text | (empty) | restart | empty = text |\n"
        "| `items` | list | repeatable | (empty) | reload | repeat for more |\n"
        "| `seeds` | list | repeatable | `seed` | reload | a list with a default |\n"
        "| `flag` | bool | `true`, `false` | `false` | reload | a switch |\n"
        "| `buf` | size | 512..1M | `32K` | restart | bytes |\n"
        "| `ring` | size | 1M..4G | `64M` | restart | more bytes |\n"
        "| `wait` | duration | 100ms..1m | `5s` | reload | a timeout |\n"
        "| `period` | duration | 0..60m | `10s` | reload | 0 = never |\n"
        "| `color` | enum | `red`, `green`, `blue` | `green` | reload | a color |\n"
        "| `listen` | address | ip:port, [ipv6]:port | `127.0.0.1:8080` | restart | where to "
        "listen |\n"
        "| `bind` | ip | IPv4 or IPv6 address | `0.0.0.0` | restart | address to bind |\n"
        "| `link` | url | http(s) URL or empty | (empty) | reload | a link |\n"
        "| `file` | path | text | `-` | reload | `-` = standard error |\n"
        "| `port_a` | int | 0..65535 | `1` | restart | first port |\n"
        "| `port_b` | int | 0..65535 | `2` | restart | second port |\n";
    char *gen = NULL;
    size_t glen = 0;
    FILE *g = open_memstream(&gen, &glen);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(config_doc(&table, g), 0);
    fclose(g);
    ck_assert_str_eq(gen, want);
    free(gen);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_every_type);
    tcase_add_test(tc, test_bool_values);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_no_finish_hook);
    tcase_add_test(tc, test_config_line);
    tcase_add_test(tc, test_print_round_trip);
    tcase_add_test(tc, test_keep_restart_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_small_error_buffer);
    tcase_add_test(tc, test_finish_enomem);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit");
    tcase_add_test(tc, test_limits_inclusive);
    tcase_add_test(tc, test_file_too_large);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_doc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
