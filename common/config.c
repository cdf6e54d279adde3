/* config.c - the configuration table and its parser (see config.h).
 *
 * Redis-style: one table drives parsing, defaults, printing, reload rules and the generated
 * documentation, so a key cannot exist in one of them and be missing from another.
 *
 * Line grammar (after removing a trailing '\r'):
 *     line    = blanks [ comment | key blanks "=" blanks value blanks [ comment ] ]
 *     comment = "#" any*            ('#' starts a comment at line start, value start, or after a blank)
 *     value   = '"' any-but-quote* '"' | bare   (bare: up to the comment or end, blanks trimmed)
 */
#include "common/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/compiler.h"

#define CONFIG_FILE_MAX (1u << 20) /* a config file larger than this is refused */

#define OFF(f) offsetof(struct qg_config, f)
#define KI (INT64_C(1) << 10)
#define MI (INT64_C(1) << 20)
#define GI (INT64_C(1) << 30)
#define SEC INT64_C(1000)
#define MIN INT64_C(60000)

static const char *const v_mode[] = {"tap", "inline", NULL};
static const char *const v_https_url[] = {"name", "ignore", NULL};
static const char *const v_https_block[] = {"rst", "alert", NULL};
static const char *const v_http_block[] = {"redirect", "451", NULL};
static const char *const v_quic[] = {"drop-blocked", "drop-all", "pass", NULL};
static const char *const v_incomplete[] = {"reset", "address", NULL};
static const char *const v_checksums[] = {"verify", "ignore", "auto", NULL};
static const char *const v_log_level[] = {"error", "warn", "info", "debug", NULL};

/* clang-format off */
static const struct config_key keys[] = {
    { "mode", CONFIG_ENUM, 0, 0, NULL, v_mode, OFF(mode), true,
      "tap: read a mirror port and inject resets/redirects; inline: transparent proxy (TPROXY)" },
    { "workers", CONFIG_INT, 0, 64, "0", NULL, OFF(workers), true,
      "packet worker threads; 0 = one per online CPU (at most 64)" },
    { "user", CONFIG_STRING, 0, 0, "qorgau", NULL, OFF(user), true,
      "user to switch to after opening sockets as root" },
    { "group", CONFIG_STRING, 0, 0, "", NULL, OFF(group), true,
      "group to switch to; empty = the user's primary group" },
    { "rules", CONFIG_LIST, 0, 0, "", NULL, OFF(rules), false,
      "list or order file to enforce; repeat the key for more; shell globs (`orders/*.json`) allowed" },
    { "https_url", CONFIG_ENUM, 0, 0, "name", v_https_url, OFF(https_url), false,
      "an https:// URL entry blocks its whole host name (name) or is not enforced on TLS (ignore)" },
    { "flows.max", CONFIG_INT, 1024, 100000000, "1048576", NULL, OFF(flows_max), true,
      "flow table capacity per worker" },
    { "reasm.bytes", CONFIG_SIZE, 512, 1 * MI, "32K", NULL, OFF(reasm_bytes), true,
      "client bytes reassembled per flow before a decision (a request head nginx accepts)" },
    { "reasm.buffers", CONFIG_INT, 16, 16777216, "8192", NULL, OFF(reasm_buffers), true,
      "reassembly buffers in the pool per worker" },
    { "checksums", CONFIG_ENUM, 0, 0, "verify", v_checksums, OFF(checksums), true,
      "TCP/UDP checksums: verify (a bad one is a fake, T5); ignore; auto (per source: a host whose first packets are all bad is not verified)" },
    { "quic.max_datagrams", CONFIG_INT, 2, 1024, "16", NULL, OFF(quic_max_datagrams), true,
      "client datagrams of a UDP flow read for its Initials; past it without a ClientHello the "
      "flow is judged on its address (counted)" },
    { "quic.max_bytes", CONFIG_SIZE, 2 * KI, 1 * MI, "32K", NULL, OFF(quic_max_bytes), true,
      "client payload bytes of a UDP flow read for its Initials (same rule)" },
    { "tap.interface", CONFIG_STRING, 0, 0, "", NULL, OFF(tap_interface), true,
      "interface receiving the mirrored traffic (required in tap mode)" },
    { "tap.inject_interface", CONFIG_STRING, 0, 0, "", NULL, OFF(tap_inject_interface), true,
      "interface resets and redirects are sent from; empty = tap.interface" },
    { "tap.bpf", CONFIG_STRING, 0, 0, "tcp port 80 or tcp port 443 or udp port 443", NULL,
      OFF(tap_bpf), true, "capture filter (pcap-filter syntax)" },
    { "tap.ring_size", CONFIG_SIZE, 1 * MI, 4 * GI, "64M", NULL, OFF(tap_ring_size), true,
      "kernel capture ring per worker" },
    { "tap.snaplen", CONFIG_INT, 96, 262144, "65535", NULL, OFF(tap_snaplen), true,
      "bytes captured of each frame" },
    { "inline.tproxy_port", CONFIG_INT, 0, 65535, "15001", NULL, OFF(inline_tproxy_port), true,
      "port the TPROXY rule delivers intercepted TCP connections to; 0 = no TPROXY listener" },
    { "inline.redirect_port", CONFIG_INT, 0, 65535, "15002", NULL, OFF(inline_redirect_port), true,
      "port for connections diverted with REDIRECT (original destination from SO_ORIGINAL_DST); 0 = none" },
    { "inline.listen_address", CONFIG_IP, 0, 0, "0.0.0.0", NULL, OFF(inline_listen_address), true,
      "address the inline listeners bind to" },
    { "inline.first_bytes_timeout", CONFIG_DURATION, 100, 1 * MIN, "10s", NULL,
      OFF(inline_first_bytes_timeout), false,
      "how long a client may stay silent before its first request is complete; every byte restarts "
      "it (silent with nothing sent: judged on the address and connected, still judged after)" },
    { "inline.incomplete_request", CONFIG_ENUM, 0, 0, "reset", v_incomplete,
      OFF(inline_incomplete_request), false,
      "a first request left half-sent past inline.first_bytes_timeout: reset the connection (reset) "
      "or judge it on its address and relay it unjudged (address, fail-open)" },
    { "inline.first_bytes_max", CONFIG_SIZE, 512, 1 * MI, "32K", NULL, OFF(inline_first_bytes_max),
      false, "client bytes read before a decision; more without a name visible judges the connection by "
             "its address; a reload may lower it, raising it above the start value needs a restart" },
    { "inline.idle_timeout", CONFIG_DURATION, 1000, 24 * 60 * MIN, "10m", NULL, OFF(inline_idle_timeout),
      false, "close a relayed connection with no traffic either way for this long (TCP keepalive "
             "also finds vanished peers)" },
    { "inline.max_per_source", CONFIG_INT, 0, 10000000, "512", NULL, OFF(inline_max_per_source), false,
      "connections at once from one client address (the excess is reset and counted); 0 = no limit" },
    { "inline.max_connections", CONFIG_INT, 16, 10000000, "100000", NULL,
      OFF(inline_max_connections), true, "proxied connections at once; the excess is refused and counted" },
    { "inline.connect_timeout", CONFIG_DURATION, 100, 1 * MIN, "5s", NULL, OFF(inline_connect_timeout),
      false, "timeout of the upstream connect to the original destination" },
    { "inline.https_block", CONFIG_ENUM, 0, 0, "rst", v_https_block, OFF(inline_https_block), false,
      "how a blocked TLS connection ends: TCP reset (rst) or a TLS alert (alert)" },
    { "inline.http_block", CONFIG_ENUM, 0, 0, "redirect", v_http_block, OFF(inline_http_block), false,
      "blocked HTTP request: 302 to notice.url (redirect) or a 451 page (451)" },
    { "inline.quic", CONFIG_ENUM, 0, 0, "drop-all", v_quic, OFF(inline_quic), false,
      "QUIC (UDP 443): drop all (browsers fall back to TCP, where the name is checked), drop only "
      "QUIC to blocked names (drop-blocked: not yet in inline mode, enforced as drop-all), or pass" },
    { "notice.listen", CONFIG_ADDR, 0, 0, "127.0.0.1:8080", NULL, OFF(notice_listen), false,
      "address of the built-in notice page server; a reload opens the new one before closing the old "
      "(after dropping privileges, a port below 1024 cannot be opened)" },
    { "notice.url", CONFIG_URL, 0, 0, "", NULL, OFF(notice_url), false,
      "public URL of the notice page that blocked HTTP requests are redirected to; empty = 451 page" },
    { "notice.show_order", CONFIG_BOOL, 0, 0, "false", NULL, OFF(notice_show_order), false,
      "show the order id on the notice page" },
    { "notice.contact", CONFIG_STRING, 0, 0, "", NULL, OFF(notice_contact), false,
      "where to complain, shown on the notice page; empty = built-in text" },
    { "notice.contact_url", CONFIG_URL, 0, 0, "", NULL, OFF(notice_contact_url), false,
      "link shown next to notice.contact; empty = none" },
    { "notice.max_connections", CONFIG_INT, 1, 65536, "256", NULL, OFF(notice_max_connections), false,
      "notice page connections at once; the excess is refused and counted" },
    { "notice.idle_timeout", CONFIG_DURATION, 10, 60 * MIN, "10s", NULL, OFF(notice_idle_timeout), false,
      "close a notice page connection that sends no complete request for this long" },
    { "notice.max_request_bytes", CONFIG_SIZE, 512, 64 * KI, "8K", NULL, OFF(notice_max_request_bytes),
      false, "largest request head the notice page reads (larger: 431)" },
    { "log.file", CONFIG_PATH, 0, 0, "-", NULL, OFF(log_file), false,
      "JSON-lines log file, reopened on SIGHUP; `-` = standard error" },
    { "log.level", CONFIG_ENUM, 0, 0, "info", v_log_level, OFF(log_level), false,
      "lowest level written" },
    { "log.block_rate", CONFIG_INT, 0, 1000000, "100", NULL, OFF(log_block_rate), false,
      "block-decision log lines per second (token bucket); 0 = log every decision" },
    { "stats.interval", CONFIG_DURATION, 0, 60 * MIN, "10s", NULL, OFF(stats_interval), false,
      "period of the statistics log line; 0 = never" },
};
/* clang-format on */

const struct config_key *config_keys(size_t *n)
{
    *n = ARRAY_LEN(keys);
    return keys;
}

const struct config_key *config_key_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

const char *config_enum_name(const struct config_key *k, int v)
{
    if (k->type != CONFIG_ENUM || v < 0)
        return "?";
    for (int i = 0; k->values[i]; i++)
        if (i == v)
            return k->values[i];
    return "?";
}

static void *field(const struct config_key *k, struct qg_config *c)
{
    return (char *)c + k->offset;
}

static const void *cfield(const struct config_key *k, const struct qg_config *c)
{
    return (const char *)c + k->offset;
}

static bool is_string_type(enum config_type t)
{
    return t == CONFIG_STRING || t == CONFIG_PATH || t == CONFIG_URL;
}

/* ---- number formats ---- */

static void format_size(uint64_t v, char *buf, size_t len)
{
    if (v != 0 && v % (uint64_t)GI == 0)
        snprintf(buf, len, "%" PRIu64 "G", v / (uint64_t)GI);
    else if (v != 0 && v % (uint64_t)MI == 0)
        snprintf(buf, len, "%" PRIu64 "M", v / (uint64_t)MI);
    else if (v != 0 && v % (uint64_t)KI == 0)
        snprintf(buf, len, "%" PRIu64 "K", v / (uint64_t)KI);
    else
        snprintf(buf, len, "%" PRIu64, v);
}

static void format_duration(uint64_t ms, char *buf, size_t len)
{
    if (ms == 0)
        snprintf(buf, len, "0");
    else if (ms % (uint64_t)MIN == 0)
        snprintf(buf, len, "%" PRIu64 "m", ms / (uint64_t)MIN);
    else if (ms % (uint64_t)SEC == 0)
        snprintf(buf, len, "%" PRIu64 "s", ms / (uint64_t)SEC);
    else
        snprintf(buf, len, "%" PRIu64 "ms", ms);
}

static void format_range(const struct config_key *k, char *buf, size_t len)
{
    char a[32], b[32];
    switch (k->type) {
    case CONFIG_SIZE:
        format_size((uint64_t)k->min, a, sizeof(a));
        format_size((uint64_t)k->max, b, sizeof(b));
        break;
    case CONFIG_DURATION:
        format_duration((uint64_t)k->min, a, sizeof(a));
        format_duration((uint64_t)k->max, b, sizeof(b));
        break;
    default:
        snprintf(a, sizeof(a), "%" PRId64, k->min);
        snprintf(b, sizeof(b), "%" PRId64, k->max);
        break;
    }
    snprintf(buf, len, "%s..%s", a, b);
}

/* Enum values joined with sep. */
static void format_values(const struct config_key *k, const char *sep, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->values[i] && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s", i ? sep : "", k->values[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Decimal digits then an optional unit; returns the number and points *unit at the rest. */
static bool parse_u64_prefix(const char *s, uint64_t *v, const char **unit)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t x = 0;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
        s++;
    }
    *v = x;
    *unit = s;
    return true;
}

static bool mul_ok(uint64_t a, uint64_t m, uint64_t *out)
{
    if (m != 0 && a > UINT64_MAX / m)
        return false;
    *out = a * m;
    return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *u;
    if (!parse_u64_prefix(s, &v, &u))
        return false;
    uint64_t m;
    if (*u == '\0')
        m = 1;
    else if ((*u == 'K' || *u == 'k') && u[1] == '\0')
        m = (uint64_t)KI;
    else if ((*u == 'M' || *u == 'm') && u[1] == '\0')
        m = (uint64_t)MI;
    else if ((*u == 'G' || *u == 'g') && u[1] == '\0')
        m = (uint64_t)GI;
    else
        return false;
    return mul_ok(v, m, out);
}

static bool parse_duration(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *u;
    if (!parse_u64_prefix(s, &v, &u))
        return false;
    uint64_t m;
    if (strcmp(u, "ms") == 0)
        m = 1;
    else if (strcmp(u, "s") == 0)
        m = (uint64_t)SEC;
    else if (strcmp(u, "m") == 0)
        m = (uint64_t)MIN;
    else if (*u == '\0' && v == 0)
        m = 1;
    else
        return false;
    return mul_ok(v, m, out);
}

static bool parse_int(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    uint64_t v;
    const char *u;
    if (!parse_u64_prefix(s, &v, &u) || *u != '\0')
        return false;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_ip(const char *s, struct config_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->addr) == 1)
        a->family = AF_INET;
    else if (inet_pton(AF_INET6, s, a->addr) == 1)
        a->family = AF_INET6;
    else
        return false;
    char t[INET6_ADDRSTRLEN];
    inet_ntop(a->family, a->addr, t, sizeof(t));
    snprintf(a->text, sizeof(a->text), "%s", t);
    return true;
}

static bool parse_addr(const char *s, struct config_addr *a)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    size_t hl;
    if (*s == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':')
            return false;
        hl = (size_t)(e - s - 1);
        if (hl >= sizeof(host))
            return false;
        memcpy(host, s + 1, hl);
        port = e + 2;
    } else {
        const char *e = strrchr(s, ':');
        if (!e || strchr(s, ':') != e)
            return false;
        hl = (size_t)(e - s);
        if (hl >= sizeof(host))
            return false;
        memcpy(host, s, hl);
        port = e + 1;
    }
    host[hl] = '\0';
    int64_t p;
    if (!parse_int(port, &p) || p < 1 || p > 65535 || *port == '+' || *port == '-')
        return false;
    memset(a, 0, sizeof(*a));
    if (*s == '[') {
        if (inet_pton(AF_INET6, host, a->addr) != 1)
            return false;
        a->family = AF_INET6;
    } else {
        if (inet_pton(AF_INET, host, a->addr) != 1)
            return false;
        a->family = AF_INET;
    }
    a->port = (uint16_t)p;
    char t[INET6_ADDRSTRLEN];
    inet_ntop(a->family, a->addr, t, sizeof(t));
    if (a->family == AF_INET6)
        snprintf(a->text, sizeof(a->text), "[%s]:%u", t, (unsigned)a->port);
    else
        snprintf(a->text, sizeof(a->text), "%s:%u", t, (unsigned)a->port);
    return true;
}

/* ---- the parse state ---- */

struct pstate {
    const char *name; /* file name for messages */
    char *err;
    size_t errlen;
    unsigned *line_set;   /* per key: line it was set on (0: not yet) */
    bool *list_from_file; /* per key: the list was started by the file (default dropped) */
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
perr(struct pstate *ps, unsigned line, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!ps->err || ps->errlen == 0)
        return;
    char where[32] = "";
    if (line)
        snprintf(where, sizeof(where), "%u:", line);
    snprintf(ps->err, ps->errlen, "config: %s:%s %s%s%s", ps->name, where, key ? key : "", key ? ": " : "",
             msg);
}

static void list_clear(struct config_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int list_add(struct config_list *l, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return -ENOMEM;
    char **n = realloc(l->items, (l->n + 1) * sizeof(*n));
    if (!n) {
        free(s);
        return -ENOMEM;
    }
    n[l->n++] = s;
    l->items = n;
    return 0;
}

/* Parses value v of key k into c. Returns 0, -EINVAL (message written) or -ENOMEM. */
static int set_value(struct pstate *ps, unsigned line, const struct config_key *k, struct qg_config *c,
                     const char *v)
{
    char range[96];
    void *f = field(k, c);

    switch (k->type) {
    case CONFIG_BOOL: {
        bool b;
        if (!parse_bool(v, &b)) {
            perr(ps, line, k->name, "'%s' is not a boolean (true, false, yes, no, on, off, 1, 0)", v);
            return -EINVAL;
        }
        *(bool *)f = b;
        return 0;
    }
    case CONFIG_INT: {
        int64_t x;
        format_range(k, range, sizeof(range));
        if (!parse_int(v, &x)) {
            perr(ps, line, k->name, "'%s' is not an integer in %s", v, range);
            return -EINVAL;
        }
        if (x < k->min || x > k->max) {
            perr(ps, line, k->name, "%s is out of range %s", v, range);
            return -EINVAL;
        }
        *(int64_t *)f = x;
        return 0;
    }
    case CONFIG_SIZE:
    case CONFIG_DURATION: {
        uint64_t x;
        bool size = k->type == CONFIG_SIZE;
        format_range(k, range, sizeof(range));
        if (!(size ? parse_size(v, &x) : parse_duration(v, &x))) {
            perr(ps, line, k->name, "'%s' is not a %s in %s (a number with suffix %s)", v,
                 size ? "size" : "duration", range, size ? "K, M or G" : "ms, s or m");
            return -EINVAL;
        }
        if (x < (uint64_t)k->min || x > (uint64_t)k->max) {
            perr(ps, line, k->name, "%s is out of range %s", v, range);
            return -EINVAL;
        }
        *(uint64_t *)f = x;
        return 0;
    }
    case CONFIG_ENUM:
        for (int i = 0; k->values[i]; i++) {
            if (strcmp(v, k->values[i]) == 0) {
                *(int *)f = i;
                return 0;
            }
        }
        format_values(k, ", ", range, sizeof(range));
        perr(ps, line, k->name, "'%s' is not one of %s", v, range);
        return -EINVAL;
    case CONFIG_ADDR:
        if (!parse_addr(v, f)) {
            perr(ps, line, k->name, "'%s' is not an address ip:port or [ipv6]:port (port 1..65535)", v);
            return -EINVAL;
        }
        return 0;
    case CONFIG_IP:
        if (!parse_ip(v, f)) {
            perr(ps, line, k->name, "'%s' is not an IPv4 or IPv6 address", v);
            return -EINVAL;
        }
        return 0;
    case CONFIG_URL:
        if (*v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            perr(ps, line, k->name, "'%s' is not an http:// or https:// URL", v);
            return -EINVAL;
        }
        /* fall through */
    case CONFIG_STRING:
    case CONFIG_PATH: {
        char *s = strdup(v);
        if (!s)
            return -ENOMEM;
        free(*(char **)f);
        *(char **)f = s;
        return 0;
    }
    case CONFIG_LIST: {
        struct config_list *l = f;
        size_t ki = (size_t)(k - keys);
        if (line && !ps->list_from_file[ki]) {
            list_clear(l);
            ps->list_from_file[ki] = true;
        }
        if (*v == '\0') {
            list_clear(l);
            return 0;
        }
        return list_add(l, v);
    }
    }
    return -EINVAL;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* One line [s, e). Returns 0, -EINVAL or -ENOMEM. */
static int parse_line(struct pstate *ps, unsigned line, struct qg_config *c, const char *s, const char *e)
{
    if (e > s && e[-1] == '\r')
        e--;
    for (const char *p = s; p < e; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            perr(ps, line, NULL, "control byte 0x%02x in the line", ch);
            return -EINVAL;
        }
    }
    while (s < e && is_blank(*s))
        s++;
    if (s == e || *s == '#')
        return 0;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    const char *ke = eq ? eq : e;
    while (ke > s && is_blank(ke[-1]))
        ke--;
    if (!eq || ke == s) {
        perr(ps, line, NULL, "expected 'key = value', got '%.*s'", (int)(e - s > 64 ? 64 : e - s), s);
        return -EINVAL;
    }
    char key[64];
    size_t kl = (size_t)(ke - s);
    if (kl >= sizeof(key)) {
        perr(ps, line, NULL, "unknown key '%.*s...'", 32, s);
        return -EINVAL;
    }
    memcpy(key, s, kl);
    key[kl] = '\0';
    const struct config_key *k = config_key_find(key);
    if (!k) {
        perr(ps, line, NULL, "unknown key '%s'", key);
        return -EINVAL;
    }

    /* The value: quoted, or bare up to a comment. */
    const char *v = eq + 1;
    while (v < e && is_blank(*v))
        v++;
    const char *ve;
    if (v < e && *v == '"') {
        const char *q = memchr(v + 1, '"', (size_t)(e - v - 1));
        if (!q) {
            perr(ps, line, k->name, "unterminated '\"'");
            return -EINVAL;
        }
        const char *t = q + 1;
        while (t < e && is_blank(*t))
            t++;
        if (t < e && *t != '#') {
            perr(ps, line, k->name, "text after the closing '\"'");
            return -EINVAL;
        }
        ve = q;
        v++;
    } else {
        ve = v;
        while (ve < e && !(*ve == '#' && (ve == eq + 1 || is_blank(ve[-1]))))
            ve++;
        while (ve > v && is_blank(ve[-1]))
            ve--;
    }

    size_t ki = (size_t)(k - keys);
    if (k->type != CONFIG_LIST && ps->line_set[ki]) {
        perr(ps, line, NULL, "key '%s' is set twice (first on line %u)", k->name, ps->line_set[ki]);
        return -EINVAL;
    }
    ps->line_set[ki] = line;

    size_t vl = (size_t)(ve - v);
    char *val = malloc(vl + 1);
    if (!val)
        return -ENOMEM;
    memcpy(val, v, vl);
    val[vl] = '\0';
    int rc = set_value(ps, line, k, c, val);
    free(val);
    return rc;
}

/* Checks that span keys, after the whole file was read. */
static int finish(struct pstate *ps, struct qg_config *c)
{
    char vals[96];
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (!keys[i].def && !ps->line_set[i]) {
            if (keys[i].type == CONFIG_ENUM) {
                format_values(&keys[i], ", ", vals, sizeof(vals));
                perr(ps, 0, keys[i].name, "required, one of %s", vals);
            } else {
                perr(ps, 0, keys[i].name, "required");
            }
            return -EINVAL;
        }
    }
    if (c->mode == CONFIG_MODE_TAP && c->tap_interface[0] == '\0') {
        perr(ps, 0, "tap.interface", "required when mode = tap");
        return -EINVAL;
    }
    if (c->mode == CONFIG_MODE_INLINE && c->inline_tproxy_port == 0 && c->inline_redirect_port == 0) {
        perr(ps, 0, NULL,
             "inline.tproxy_port and inline.redirect_port are both 0; inline mode needs a listener");
        return -EINVAL;
    }
    if (c->mode == CONFIG_MODE_INLINE && c->inline_tproxy_port == c->inline_redirect_port) {
        perr(ps, ps->line_set[(size_t)(config_key_find("inline.redirect_port") - keys)],
             "inline.redirect_port", "%" PRId64 " is also inline.tproxy_port; the ports must differ",
             c->inline_redirect_port);
        return -EINVAL;
    }
    if (c->tap_inject_interface[0] == '\0' && c->tap_interface[0] != '\0') {
        char *s = strdup(c->tap_interface);
        if (!s)
            return -ENOMEM;
        free(c->tap_inject_interface);
        c->tap_inject_interface = s;
    }
    return 0;
}

struct qg_config *config_load_buffer(const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
    struct pstate ps = {name, err, errlen, NULL, NULL};
    struct qg_config *c = calloc(1, sizeof(*c));
    ps.line_set = calloc(ARRAY_LEN(keys), sizeof(*ps.line_set));
    ps.list_from_file = calloc(ARRAY_LEN(keys), sizeof(*ps.list_from_file));
    int rc = -ENOMEM;
    if (!c || !ps.line_set || !ps.list_from_file)
        goto fail;

    /* Defaults go through the same parser as the file (line 0 = not from the file). */
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (!keys[i].def)
            continue;
        struct pstate dps = {"(default)", err, errlen, ps.line_set, ps.list_from_file};
        rc = set_value(&dps, 0, &keys[i], c, keys[i].def);
        if (rc < 0)
            goto fail;
    }

    const char *p = buf, *end = buf + len;
    unsigned line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        if (memchr(p, '\0', (size_t)(e - p))) {
            perr(&ps, line, NULL, "control byte 0x00 in the line");
            rc = -EINVAL;
            goto fail;
        }
        rc = parse_line(&ps, line, c, p, e);
        if (rc < 0)
            goto fail;
        p = nl ? nl + 1 : end;
    }
    rc = finish(&ps, c);
    if (rc < 0)
        goto fail;
    free(ps.line_set);
    free(ps.list_from_file);
    return c;

fail:
    if (rc == -ENOMEM)
        perr(&ps, 0, NULL, "out of memory");
    free(ps.line_set);
    free(ps.list_from_file);
    config_free(c);
    return NULL;
}

struct qg_config *config_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "config: %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "config: %s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int rerr = ferror(f);
    fclose(f);
    struct qg_config *c = NULL;
    if (rerr)
        snprintf(err, errlen, "config: %s: read error", path);
    else if (n > CONFIG_FILE_MAX)
        snprintf(err, errlen, "config: %s: larger than %u bytes", path, CONFIG_FILE_MAX);
    else
        c = config_load_buffer(path, buf, n, err, errlen);
    free(buf);
    return c;
}

void config_free(struct qg_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (is_string_type(keys[i].type))
            free(*(char **)field(&keys[i], c));
        else if (keys[i].type == CONFIG_LIST)
            list_clear(field(&keys[i], c));
    }
    free(c);
}

/* ---- printing, comparing ---- */

static bool needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return false;
    if (is_blank(s[0]) || is_blank(s[n - 1]) || s[0] == '"' || s[0] == '#')
        return true;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '#' && is_blank(s[i - 1]))
            return true;
    return false;
}

void config_format_value(const struct config_key *k, const struct qg_config *c, char *buf, size_t len)
{
    const void *f = cfield(k, c);
    switch (k->type) {
    case CONFIG_BOOL: snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false"); break;
    case CONFIG_INT: snprintf(buf, len, "%" PRId64, *(const int64_t *)f); break;
    case CONFIG_SIZE: format_size(*(const uint64_t *)f, buf, len); break;
    case CONFIG_DURATION: format_duration(*(const uint64_t *)f, buf, len); break;
    case CONFIG_ENUM: snprintf(buf, len, "%s", config_enum_name(k, *(const int *)f)); break;
    case CONFIG_ADDR:
    case CONFIG_IP: snprintf(buf, len, "%s", ((const struct config_addr *)f)->text); break;
    case CONFIG_STRING:
    case CONFIG_PATH:
    case CONFIG_URL: snprintf(buf, len, "%s", *(char *const *)f); break;
    case CONFIG_LIST: {
        const struct config_list *l = f;
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < l->n && o < len; i++) {
            int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", l->items[i]);
            if (w < 0)
                break;
            o += (size_t)w;
        }
        break;
    }
    }
}

int config_print(FILE *f, const struct qg_config *c)
{
    char buf[1024];
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const struct config_key *k = &keys[i];
        if (k->type == CONFIG_LIST) {
            const struct config_list *l = cfield(k, c);
            if (l->n == 0)
                fprintf(f, "%s =\n", k->name);
            for (size_t j = 0; j < l->n; j++)
                fprintf(f, needs_quotes(l->items[j]) ? "%s = \"%s\"\n" : "%s = %s\n", k->name, l->items[j]);
            continue;
        }
        if (is_string_type(k->type)) {
            const char *s = *(char *const *)cfield(k, c);
            if (*s == '\0')
                fprintf(f, "%s =\n", k->name);
            else
                fprintf(f, needs_quotes(s) ? "%s = \"%s\"\n" : "%s = %s\n", k->name, s);
            continue;
        }
        config_format_value(k, c, buf, sizeof(buf));
        fprintf(f, "%s = %s\n", k->name, buf);
    }
    return ferror(f) ? -EIO : 0;
}

bool config_key_equal(const struct config_key *k, const struct qg_config *a, const struct qg_config *b)
{
    const void *fa = cfield(k, a), *fb = cfield(k, b);
    switch (k->type) {
    case CONFIG_BOOL: return *(const bool *)fa == *(const bool *)fb;
    case CONFIG_INT: return *(const int64_t *)fa == *(const int64_t *)fb;
    case CONFIG_SIZE:
    case CONFIG_DURATION: return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case CONFIG_ENUM: return *(const int *)fa == *(const int *)fb;
    case CONFIG_ADDR:
    case CONFIG_IP: {
        const struct config_addr *x = fa, *y = fb;
        return x->family == y->family && x->port == y->port && memcmp(x->addr, y->addr, 16) == 0;
    }
    case CONFIG_STRING:
    case CONFIG_PATH:
    case CONFIG_URL: return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
    case CONFIG_LIST: {
        const struct config_list *x = fa, *y = fb;
        if (x->n != y->n)
            return false;
        for (size_t i = 0; i < x->n; i++)
            if (strcmp(x->items[i], y->items[i]) != 0)
                return false;
        return true;
    }
    }
    return false;
}

/* Deep copy of key k's value from src into dst. */
static int copy_value(const struct config_key *k, struct qg_config *dst, const struct qg_config *src)
{
    if (is_string_type(k->type)) {
        char *s = strdup(*(char *const *)cfield(k, src));
        if (!s)
            return -ENOMEM;
        free(*(char **)field(k, dst));
        *(char **)field(k, dst) = s;
        return 0;
    }
    if (k->type == CONFIG_LIST) {
        const struct config_list *l = cfield(k, src);
        struct config_list n = {0, NULL};
        for (size_t i = 0; i < l->n; i++) {
            if (list_add(&n, l->items[i]) < 0) {
                list_clear(&n);
                return -ENOMEM;
            }
        }
        list_clear(field(k, dst));
        *(struct config_list *)field(k, dst) = n;
        return 0;
    }
    size_t sz = k->type == CONFIG_BOOL                           ? sizeof(bool)
                : k->type == CONFIG_ENUM                         ? sizeof(int)
                : k->type == CONFIG_ADDR || k->type == CONFIG_IP ? sizeof(struct config_addr)
                                                                 : sizeof(uint64_t);
    memcpy(field(k, dst), cfield(k, src), sz);
    return 0;
}

/* Frees what key k owns in c (strings, lists) and clears it. */
static void drop_value(const struct config_key *k, struct qg_config *c)
{
    if (is_string_type(k->type)) {
        free(*(char **)field(k, c));
        *(char **)field(k, c) = NULL;
    } else if (k->type == CONFIG_LIST) {
        list_clear(field(k, c));
    }
}

int config_keep_restart_keys(struct qg_config *fresh, const struct qg_config *running, const char **names,
                             size_t max)
{
    /* Every copy is made into tmp first and moved into fresh only when all of them were made,
     * so that on -ENOMEM fresh is unchanged. */
    struct qg_config tmp;
    bool diff[ARRAY_LEN(keys)];
    memset(&tmp, 0, sizeof(tmp));
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const struct config_key *k = &keys[i];
        diff[i] = k->restart && !config_key_equal(k, fresh, running);
        if (diff[i] && copy_value(k, &tmp, running) < 0) {
            for (size_t j = 0; j < i; j++)
                if (diff[j])
                    drop_value(&keys[j], &tmp);
            return -ENOMEM;
        }
    }
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const struct config_key *k = &keys[i];
        if (!diff[i])
            continue;
        drop_value(k, fresh);
        /* strings and lists move from tmp to fresh; scalars are copied (no allocation) */
        if (is_string_type(k->type))
            *(char **)field(k, fresh) = *(char **)field(k, &tmp);
        else if (k->type == CONFIG_LIST)
            *(struct config_list *)field(k, fresh) = *(struct config_list *)field(k, &tmp);
        else
            (void)copy_value(k, fresh, &tmp);
        if ((size_t)n < max)
            names[n] = k->name;
        n++;
    }
    return n;
}

/* ---- documentation ---- */

static const char *type_name(enum config_type t)
{
    switch (t) {
    case CONFIG_BOOL: return "bool";
    case CONFIG_INT: return "int";
    case CONFIG_SIZE: return "size";
    case CONFIG_DURATION: return "duration";
    case CONFIG_STRING: return "string";
    case CONFIG_ENUM: return "enum";
    case CONFIG_ADDR: return "address";
    case CONFIG_IP: return "ip";
    case CONFIG_PATH: return "path";
    case CONFIG_URL: return "url";
    case CONFIG_LIST: return "list";
    }
    return "?";
}

int config_doc(FILE *f)
{
    char buf[256];
    fputs("| key | type | allowed | default | on SIGHUP | description |\n"
          "|-----|------|---------|---------|-----------|-------------|\n",
          f);
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const struct config_key *k = &keys[i];
        fprintf(f, "| `%s` | %s | ", k->name, type_name(k->type));
        switch (k->type) {
        case CONFIG_INT:
        case CONFIG_SIZE:
        case CONFIG_DURATION:
            format_range(k, buf, sizeof(buf));
            fputs(buf, f);
            break;
        case CONFIG_ENUM:
            format_values(k, "`, `", buf, sizeof(buf));
            fprintf(f, "`%s`", buf);
            break;
        case CONFIG_BOOL: fputs("`true`, `false`", f); break;
        case CONFIG_ADDR: fputs("ip:port, [ipv6]:port", f); break;
        case CONFIG_IP: fputs("IPv4 or IPv6 address", f); break;
        case CONFIG_URL: fputs("http(s) URL or empty", f); break;
        case CONFIG_LIST: fputs("repeatable", f); break;
        case CONFIG_STRING:
        case CONFIG_PATH: fputs("text", f); break;
        }
        if (!k->def)
            fputs(" | (required) | ", f);
        else if (k->def[0] == '\0')
            fputs(" | (empty) | ", f);
        else
            fprintf(f, " | `%s` | ", k->def);
        fprintf(f, "%s | %s |\n", k->restart ? "restart" : "reload", k->doc);
    }
    return ferror(f) ? -EIO : 0;
}
