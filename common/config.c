/* config.c - the table-driven configuration parser (see config.h).
 *
 * Redis-style: the caller's one table drives parsing, defaults, printing, reload rules and the
 * generated documentation, so a key cannot exist in one of them and be missing from another.
 * The tables themselves live with their owners (the daemon's: proxy/daemon/settings.c).
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

#define KI  (INT64_C(1) << 10)
#define MI  (INT64_C(1) << 20)
#define GI  (INT64_C(1) << 30)
#define SEC INT64_C(1000)
#define MIN INT64_C(60000)

const struct config_key *config_key_find(const struct config_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i].name, name) == 0)
            return &t->keys[i];
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

static void *field(const struct config_key *k, void *c)
{
    return (char *)c + k->offset;
}

static const void *cfield(const struct config_key *k, const void *c)
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
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
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

struct config_parse {
    const struct config_table *t;
    const char *name; /* file name for messages */
    char *err;
    size_t errlen;
    unsigned *line_set;   /* per key: line it was set on (0: not yet) */
    bool *list_from_file; /* per key: the list was started by the file (default dropped) */
};

void config_error(struct config_parse *ps, unsigned line, const char *key, const char *fmt, ...)
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
    snprintf(ps->err, ps->errlen, "config: %s:%s %s%s%s", ps->name, where, key ? key : "",
             key ? ": " : "", msg);
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
static int set_value(struct config_parse *ps, unsigned line, const struct config_key *k, void *c,
                     const char *v)
{
    char range[96];
    void *f = field(k, c);

    switch (k->type) {
    case CONFIG_BOOL: {
        bool b;
        if (!parse_bool(v, &b)) {
            config_error(ps, line, k->name,
                         "'%s' is not a boolean (true, false, yes, no, on, off, 1, 0)", v);
            return -EINVAL;
        }
        *(bool *)f = b;
        return 0;
    }
    case CONFIG_INT: {
        int64_t x;
        format_range(k, range, sizeof(range));
        if (!parse_int(v, &x)) {
            config_error(ps, line, k->name, "'%s' is not an integer in %s", v, range);
            return -EINVAL;
        }
        if (x < k->min || x > k->max) {
            config_error(ps, line, k->name, "%s is out of range %s", v, range);
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
            config_error(ps, line, k->name, "'%s' is not a %s in %s (a number with suffix %s)", v,
                         size ? "size" : "duration", range, size ? "K, M or G" : "ms, s or m");
            return -EINVAL;
        }
        if (x < (uint64_t)k->min || x > (uint64_t)k->max) {
            config_error(ps, line, k->name, "%s is out of range %s", v, range);
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
        config_error(ps, line, k->name, "'%s' is not one of %s", v, range);
        return -EINVAL;
    case CONFIG_ADDR:
        if (!parse_addr(v, f)) {
            config_error(ps, line, k->name,
                         "'%s' is not an address ip:port or [ipv6]:port (port 1..65535)", v);
            return -EINVAL;
        }
        return 0;
    case CONFIG_IP:
        if (!parse_ip(v, f)) {
            config_error(ps, line, k->name, "'%s' is not an IPv4 or IPv6 address", v);
            return -EINVAL;
        }
        return 0;
    case CONFIG_URL:
        if (*v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            config_error(ps, line, k->name, "'%s' is not an http:// or https:// URL", v);
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
        size_t ki = (size_t)(k - ps->t->keys);
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
static int parse_line(struct config_parse *ps, unsigned line, void *c, const char *s, const char *e)
{
    if (e > s && e[-1] == '\r')
        e--;
    for (const char *p = s; p < e; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            config_error(ps, line, NULL, "control byte 0x%02x in the line", ch);
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
        config_error(ps, line, NULL, "expected 'key = value', got '%.*s'",
                     (int)(e - s > 64 ? 64 : e - s), s);
        return -EINVAL;
    }
    char key[64];
    size_t kl = (size_t)(ke - s);
    if (kl >= sizeof(key)) {
        config_error(ps, line, NULL, "unknown key '%.*s...'", 32, s);
        return -EINVAL;
    }
    memcpy(key, s, kl);
    key[kl] = '\0';
    const struct config_key *k = config_key_find(ps->t, key);
    if (!k) {
        config_error(ps, line, NULL, "unknown key '%s'", key);
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
            config_error(ps, line, k->name, "unterminated '\"'");
            return -EINVAL;
        }
        const char *t = q + 1;
        while (t < e && is_blank(*t))
            t++;
        if (t < e && *t != '#') {
            config_error(ps, line, k->name, "text after the closing '\"'");
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

    size_t ki = (size_t)(k - ps->t->keys);
    if (k->type != CONFIG_LIST && ps->line_set[ki]) {
        config_error(ps, line, NULL, "key '%s' is set twice (first on line %u)", k->name,
                     ps->line_set[ki]);
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

unsigned config_line(const struct config_parse *ps, const char *name)
{
    const struct config_key *k = config_key_find(ps->t, name);
    return k ? ps->line_set[k - ps->t->keys] : 0;
}

/* After the whole file was read: required keys, then the table's own cross-key checks. */
static int finish(struct config_parse *ps, void *c)
{
    const struct config_table *t = ps->t;
    char vals[96];
    for (size_t i = 0; i < t->n; i++) {
        const struct config_key *k = &t->keys[i];
        if (!k->def && !ps->line_set[i]) {
            if (k->type == CONFIG_ENUM) {
                format_values(k, ", ", vals, sizeof(vals));
                config_error(ps, 0, k->name, "required, one of %s", vals);
            } else {
                config_error(ps, 0, k->name, "required");
            }
            return -EINVAL;
        }
    }
    return t->finish ? t->finish(c, ps) : 0;
}

void *config_load_buffer(const struct config_table *t, const char *name, const char *buf,
                         size_t len, char *err, size_t errlen)
{
    struct config_parse ps = { t, name, err, errlen, NULL, NULL };
    void *c = calloc(1, t->size);
    ps.line_set = calloc(t->n, sizeof(*ps.line_set));
    ps.list_from_file = calloc(t->n, sizeof(*ps.list_from_file));
    int rc = -ENOMEM;
    if (!c || !ps.line_set || !ps.list_from_file)
        goto fail;

    /* Defaults go through the same parser as the file (line 0 = not from the file). */
    for (size_t i = 0; i < t->n; i++) {
        if (!t->keys[i].def)
            continue;
        struct config_parse dps = { t, "(default)", err, errlen, ps.line_set, ps.list_from_file };
        rc = set_value(&dps, 0, &t->keys[i], c, t->keys[i].def);
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
            config_error(&ps, line, NULL, "control byte 0x00 in the line");
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
        config_error(&ps, 0, NULL, "out of memory");
    free(ps.line_set);
    free(ps.list_from_file);
    config_free(t, c);
    return NULL;
}

void *config_load_file(const struct config_table *t, const char *path, char *err, size_t errlen)
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
    void *c = NULL;
    if (rerr)
        snprintf(err, errlen, "config: %s: read error", path);
    else if (n > CONFIG_FILE_MAX)
        snprintf(err, errlen, "config: %s: larger than %u bytes", path, CONFIG_FILE_MAX);
    else
        c = config_load_buffer(t, path, buf, n, err, errlen);
    free(buf);
    return c;
}

void config_free(const struct config_table *t, void *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (is_string_type(t->keys[i].type))
            free(*(char **)field(&t->keys[i], c));
        else if (t->keys[i].type == CONFIG_LIST)
            list_clear(field(&t->keys[i], c));
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

void config_format_value(const struct config_key *k, const void *c, char *buf, size_t len)
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

int config_print(const struct config_table *t, FILE *f, const void *c)
{
    char buf[1024];
    for (size_t i = 0; i < t->n; i++) {
        const struct config_key *k = &t->keys[i];
        if (k->type == CONFIG_LIST) {
            const struct config_list *l = cfield(k, c);
            if (l->n == 0)
                fprintf(f, "%s =\n", k->name);
            for (size_t j = 0; j < l->n; j++)
                fprintf(f, needs_quotes(l->items[j]) ? "%s = \"%s\"\n" : "%s = %s\n", k->name,
                        l->items[j]);
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

bool config_key_equal(const struct config_key *k, const void *a, const void *b)
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
static int copy_value(const struct config_key *k, void *dst, const void *src)
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
        struct config_list n = { 0, NULL };
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
static void drop_value(const struct config_key *k, void *c)
{
    if (is_string_type(k->type)) {
        free(*(char **)field(k, c));
        *(char **)field(k, c) = NULL;
    } else if (k->type == CONFIG_LIST) {
        list_clear(field(k, c));
    }
}

int config_keep_restart_keys(const struct config_table *t, void *fresh, const void *running,
                             const char **names, size_t max)
{
    /* Every copy is made into tmp first and moved into fresh only when all of them were made,
     * so that on -ENOMEM fresh is unchanged. A key's difference is computed again in the
     * second pass: each key touches only its own field, so it is still the same. */
    void *tmp = calloc(1, t->size);
    if (!tmp)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const struct config_key *k = &t->keys[i];
        if (k->restart && !config_key_equal(k, fresh, running) && copy_value(k, tmp, running) < 0) {
            for (size_t j = 0; j < i; j++)
                if (t->keys[j].restart && !config_key_equal(&t->keys[j], fresh, running))
                    drop_value(&t->keys[j], tmp);
            free(tmp);
            return -ENOMEM;
        }
    }
    int n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct config_key *k = &t->keys[i];
        if (!k->restart || config_key_equal(k, fresh, running))
            continue;
        drop_value(k, fresh);
        /* strings and lists move from tmp to fresh; scalars are copied (no allocation) */
        if (is_string_type(k->type))
            *(char **)field(k, fresh) = *(char **)field(k, tmp);
        else if (k->type == CONFIG_LIST)
            *(struct config_list *)field(k, fresh) = *(struct config_list *)field(k, tmp);
        else
            (void)copy_value(k, fresh, tmp);
        if ((size_t)n < max)
            names[n] = k->name;
        n++;
    }
    free(tmp);
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

int config_doc(const struct config_table *t, FILE *f)
{
    char buf[256];
    fputs("| key | type | allowed | default | on SIGHUP | description |\n"
          "|-----|------|---------|---------|-----------|-------------|\n",
          f);
    for (size_t i = 0; i < t->n; i++) {
        const struct config_key *k = &t->keys[i];
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
