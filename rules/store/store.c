/* store.c - store URLs, credentials files, and dispatch to the back ends.
 *
 * URL grammar (RFC 3986 shapes, reduced to what a store needs):
 *
 *     url      = "" | path | "dir://" path | redis | sentinel
 *     redis    = "redis://" [userinfo "@"] hostport ["/" db] [query]
 *     sentinel = "sentinel://" [userinfo "@"] hostport *("," hostport) "/" master [query]
 *     userinfo = user [":" password]          (percent-encoded; %XX decoded)
 *     hostport = (name | "[" v6 "]") [":" port]      default port 6379 / 26379
 *     query    = "?" key "=" value *("&" key "=" value)   keys: password_file, prefix,
 *                                                             replicas (0..16)
 *
 * A plain path starts with '/' or '.'. Every error names its offset, never the URL text. */
#include "rules/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rules/store/store_dir.h"
#include "rules/store/store_redis.h"

struct cur {
    const char *s;
    size_t len, pos;
};

static int url_fail(char *err, size_t errlen, size_t pos, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "store: URL at offset %zu: %s", pos, why);
    return -EINVAL;
}

static bool starts(const struct cur *c, const char *lit)
{
    size_t n = strlen(lit);
    return c->len - c->pos >= n && memcmp(c->s + c->pos, lit, n) == 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Copies s[a..b) into out (cap bytes with the NUL), decoding %XX when decode. A decoded NUL is
 * refused. Returns 0 or the offset + 1 of the offending byte. */
static size_t copy_part(const struct cur *c, size_t a, size_t b, char *out, size_t cap, bool decode)
{
    size_t o = 0;
    for (size_t i = a; i < b; i++) {
        char ch = c->s[i];
        if (decode && ch == '%') {
            if (b - i < 3)
                return i + 1;
            int h = hexval(c->s[i + 1]), l = hexval(c->s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return i + 1;
            ch = (char)(h << 4 | l);
            i += 2;
        }
        if (o + 1 >= cap)
            return i + 1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 0;
}

static int parse_port(const struct cur *c, size_t a, size_t b, uint16_t *port, char *err,
                      size_t errlen)
{
    if (a == b)
        return url_fail(err, errlen, a, "empty port");
    uint32_t v = 0;
    for (size_t i = a; i < b; i++) {
        if (c->s[i] < '0' || c->s[i] > '9')
            return url_fail(err, errlen, i, "port is not a number");
        v = v * 10 + (uint32_t)(c->s[i] - '0');
        if (v > 65535)
            return url_fail(err, errlen, i, "port out of range 1..65535");
    }
    if (v == 0)
        return url_fail(err, errlen, a, "port out of range 1..65535");
    *port = (uint16_t)v;
    return 0;
}

static bool host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_';
}

/* One hostport in s[a..b). */
static int parse_hostport(const struct cur *c, size_t a, size_t b, uint16_t defport,
                          struct store_hostport *hp, char *err, size_t errlen)
{
    size_t h0, h1, i;
    if (a < b && c->s[a] == '[') {
        h0 = a + 1;
        for (i = h0; i < b && c->s[i] != ']'; i++)
            if (hexval(c->s[i]) < 0 && c->s[i] != ':' && c->s[i] != '.')
                return url_fail(err, errlen, i, "bad character in IPv6 address");
        if (i == b)
            return url_fail(err, errlen, a, "unterminated '['");
        h1 = i++;
    } else {
        h0 = a;
        for (i = a; i < b && c->s[i] != ':'; i++)
            if (!host_char(c->s[i]))
                return url_fail(err, errlen, i, "bad character in host name");
        h1 = i;
    }
    if (h0 == h1)
        return url_fail(err, errlen, h0, "empty host");
    if (h1 - h0 >= sizeof(hp->host))
        return url_fail(err, errlen, h0, "host name too long");
    memcpy(hp->host, c->s + h0, h1 - h0);
    hp->host[h1 - h0] = '\0';
    hp->port = defport;
    if (i < b) {
        if (c->s[i] != ':')
            return url_fail(err, errlen, i, "expected ':' after the host");
        return parse_port(c, i + 1, b, &hp->port, err, errlen);
    }
    return 0;
}

static int parse_query(struct cur *c, struct store_url *u, char *err, size_t errlen)
{
    while (c->pos < c->len) {
        size_t k0 = c->pos, eq = k0, end;
        while (eq < c->len && c->s[eq] != '=' && c->s[eq] != '&')
            eq++;
        if (eq == c->len || c->s[eq] != '=')
            return url_fail(err, errlen, k0, "query parameter without '='");
        for (end = eq + 1; end < c->len && c->s[end] != '&'; end++)
            ;
        size_t klen = eq - k0, bad;
        if (klen == 13 && memcmp(c->s + k0, "password_file", 13) == 0)
            bad = copy_part(c, eq + 1, end, u->password_file, sizeof(u->password_file), true);
        else if (klen == 6 && memcmp(c->s + k0, "prefix", 6) == 0)
            bad = copy_part(c, eq + 1, end, u->prefix, sizeof(u->prefix), true);
        else if (klen == 8 && memcmp(c->s + k0, "replicas", 8) == 0) {
            /* 0..16 replicas that must confirm a change (WAIT) */
            uint32_t v = 0;
            bad = 0;
            if (end == eq + 1 || end - eq - 1 > 2)
                bad = eq + 2;
            for (size_t i = eq + 1; i < end && !bad; i++) {
                if (c->s[i] < '0' || c->s[i] > '9')
                    bad = i + 1;
                else
                    v = v * 10 + (uint32_t)(c->s[i] - '0');
            }
            if (!bad && v > 16)
                bad = eq + 2;
            u->replicas = v;
        } else
            return url_fail(err, errlen, k0,
                            "unknown query parameter (password_file, prefix, replicas)");
        if (bad)
            return url_fail(err, errlen, bad - 1, "bad or too long query value");
        c->pos = end < c->len ? end + 1 : end;
        if (end + 1 == c->len)
            return url_fail(err, errlen, end, "trailing '&'");
    }
    return 0;
}

static int parse_dir(struct cur *c, struct store_url *u, char *err, size_t errlen)
{
    u->kind = STORE_URL_DIR;
    if (c->pos == c->len || c->s[c->pos] != '/')
        return url_fail(err, errlen, c->pos, "directory store path must be absolute (dir:///path)");
    if (copy_part(c, c->pos, c->len, u->path, sizeof(u->path), false))
        return url_fail(err, errlen, c->pos, "path too long");
    return 0;
}

static int parse_net(struct cur *c, struct store_url *u, bool sentinel, char *err, size_t errlen)
{
    u->kind = sentinel ? STORE_URL_SENTINEL : STORE_URL_REDIS;
    size_t auth_end = c->pos, i;
    /* The authority ends at the first '/' or '?'; userinfo at the last '@' before that. */
    size_t at = (size_t)-1;
    for (i = c->pos; i < c->len && c->s[i] != '/' && c->s[i] != '?'; i++)
        if (c->s[i] == '@')
            at = i;
    auth_end = i;
    if (at != (size_t)-1) {
        size_t colon = c->pos;
        while (colon < at && c->s[colon] != ':')
            colon++;
        size_t bad = copy_part(c, c->pos, colon, u->user, sizeof(u->user), true);
        if (bad)
            return url_fail(err, errlen, bad - 1, "bad or too long user name");
        if (colon < at) {
            bad = copy_part(c, colon + 1, at, u->password, sizeof(u->password), true);
            if (bad)
                return url_fail(err, errlen, bad - 1, "bad or too long password");
            if (!u->password[0])
                return url_fail(err, errlen, colon, "empty password");
        }
        c->pos = at + 1;
    }
    uint16_t defport = sentinel ? 26379 : 6379;
    while (c->pos < auth_end) {
        size_t e = c->pos;
        int depth = 0;
        while (e < auth_end && (c->s[e] != ',' || depth)) {
            if (c->s[e] == '[')
                depth = 1;
            else if (c->s[e] == ']')
                depth = 0;
            e++;
        }
        if (u->n_hosts == (sentinel ? STORE_SENTINELS_MAX : 1))
            return url_fail(err, errlen, c->pos,
                            sentinel ? "too many sentinels" : "a redis URL names one host");
        int rc = parse_hostport(c, c->pos, e, defport, &u->hosts[u->n_hosts], err, errlen);
        if (rc)
            return rc;
        u->n_hosts++;
        c->pos = e;
        if (e < auth_end) {
            c->pos++;
            if (c->pos == auth_end)
                return url_fail(err, errlen, e, "trailing ','");
        }
    }
    if (!u->n_hosts)
        return url_fail(err, errlen, c->pos, "no host");
    size_t p0 = c->pos + 1, p1 = p0;
    bool has_path = c->pos < c->len && c->s[c->pos] == '/';
    if (has_path)
        for (p1 = p0; p1 < c->len && c->s[p1] != '?'; p1++)
            ;
    if (sentinel) {
        if (!has_path || p0 == p1)
            return url_fail(err, errlen, c->pos, "sentinel URL needs /MASTER");
        for (i = p0; i < p1; i++)
            if (!host_char(c->s[i]))
                return url_fail(err, errlen, i, "bad character in master name");
        if (p1 - p0 >= sizeof(u->master))
            return url_fail(err, errlen, p0, "master name too long");
        memcpy(u->master, c->s + p0, p1 - p0);
        u->master[p1 - p0] = '\0';
    } else if (has_path && p0 < p1) {
        uint32_t db = 0;
        for (i = p0; i < p1; i++) {
            if (c->s[i] < '0' || c->s[i] > '9')
                return url_fail(err, errlen, i, "database is not a number");
            db = db * 10 + (uint32_t)(c->s[i] - '0');
            if (db > 65535)
                return url_fail(err, errlen, i, "database out of range 0..65535");
        }
        u->db = db;
    }
    c->pos = has_path ? p1 : c->pos;
    if (c->pos < c->len) {
        if (c->s[c->pos] != '?')
            return url_fail(err, errlen, c->pos, "unexpected character");
        c->pos++;
        return parse_query(c, u, err, errlen);
    }
    return 0;
}

int store_url_parse(const char *s, size_t len, struct store_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->prefix, sizeof(u->prefix), "%s", STORE_DEFAULT_PREFIX);
    struct cur c = { s, len, 0 };
    if (len && memchr(s, '\0', len))
        return url_fail(err, errlen, (size_t)((const char *)memchr(s, '\0', len) - s), "NUL byte");
    if (len == 0) {
        u->kind = STORE_URL_DIR;
        snprintf(u->path, sizeof(u->path), "%s", STORE_DEFAULT_DIR);
        return 0;
    }
    int rc;
    if (starts(&c, "redis://")) {
        c.pos = 8;
        rc = parse_net(&c, u, false, err, errlen);
    } else if (starts(&c, "sentinel://")) {
        c.pos = 11;
        rc = parse_net(&c, u, true, err, errlen);
    } else if (starts(&c, "dir://")) {
        c.pos = 6;
        rc = parse_dir(&c, u, err, errlen);
    } else if (s[0] == '/' || s[0] == '.') {
        rc = parse_dir(&c, u, err, errlen);
        if (rc == -EINVAL && s[0] == '.') { /* relative plain paths are fine */
            u->kind = STORE_URL_DIR;
            rc = copy_part(&c, 0, len, u->path, sizeof(u->path), false)
                     ? url_fail(err, errlen, 0, "path too long")
                     : 0;
        }
    } else {
        rc = url_fail(err, errlen, 0, "unknown store (redis://, sentinel://, dir:// or a path)");
    }
    if (rc == 0 && !u->prefix[0])
        rc = url_fail(err, errlen, 0, "empty key prefix");
    return rc;
}

bool store_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > STORE_ID_MAX || id[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];
        if (!host_char(ch) && ch != ':')
            return false;
    }
    return true;
}

int store_read_secret(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "store: credentials %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(err, errlen, "store: credentials %s: %s", path, strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        snprintf(err, errlen, "store: credentials %s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = -EPERM;
        snprintf(err, errlen,
                 "store: credentials %s: readable by group or others (mode %04o); it must be "
                 "readable by the service user only (chmod 600)",
                 path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    ssize_t n = read(fd, out, outlen);
    if (n < 0) {
        rc = -errno;
        snprintf(err, errlen, "store: credentials %s: %s", path, strerror(-rc));
        goto out;
    }
    size_t k = 0;
    while (k < (size_t)n && out[k] != '\n' && out[k] != '\r' && out[k] != '\0')
        k++;
    if (k == (size_t)n && (size_t)n == outlen) {
        rc = -E2BIG;
        snprintf(err, errlen, "store: credentials %s: password longer than %zu bytes", path,
                 outlen - 1);
        goto out;
    }
    if (k == 0) {
        rc = -EINVAL;
        snprintf(err, errlen, "store: credentials %s: empty first line", path);
        goto out;
    }
    out[k] = '\0';
out:
    close(fd);
    if (rc)
        memset(out, 0, outlen);
    return rc;
}

struct store *store_open(const char *url, const struct store_opts *opts, char *err, size_t errlen)
{
    struct store_opts o = { 0 };
    if (opts)
        o = *opts;
    if (!o.connect_timeout_ms)
        o.connect_timeout_ms = 1000;
    if (!o.io_timeout_ms)
        o.io_timeout_ms = 2000;
    if (!o.max_record)
        o.max_record = (size_t)256 << 20;
    if (!o.max_orders)
        o.max_orders = 1000000;
    if (!o.log_keep)
        o.log_keep = 100000;
    struct store_url u;
    if (store_url_parse(url ? url : "", url ? strlen(url) : 0, &u, err, errlen))
        return NULL;
    if (o.prefix)
        snprintf(u.prefix, sizeof(u.prefix), "%s", o.prefix);
    if (o.password_file)
        snprintf(u.password_file, sizeof(u.password_file), "%s", o.password_file);
    struct store *s = NULL;
    if (u.kind == STORE_URL_DIR) {
        s = store_dir_open(u.path, &o, err, errlen);
    } else {
        char pw[STORE_SECRET_MAX];
        snprintf(pw, sizeof(pw), "%s", u.password);
        if (u.password_file[0] &&
            store_read_secret(u.password_file, pw, sizeof(pw), err, errlen) != 0) {
            memset(&u, 0, sizeof(u));
            return NULL;
        }
        s = store_redis_open(&u, &o, pw[0] ? pw : NULL, err, errlen);
        memset(pw, 0, sizeof(pw));
    }
    memset(u.password, 0, sizeof(u.password));
    if (s) {
        s->max_record = o.max_record;
        s->max_orders = o.max_orders;
        s->log_keep = o.log_keep;
    }
    return s;
}

void store_free(struct store *s)
{
    if (s)
        s->ops->free(s);
}

void store_url_redact(const char *url, char *out, size_t outlen)
{
    if (!outlen)
        return;
    const char *sch = strstr(url, "://");
    const char *auth = sch ? sch + 3 : url;
    size_t alen = strcspn(auth, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}

const char *store_where(const struct store *s)
{
    return s->where;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_change(struct store *s, const struct store_change *c, char *err, size_t errlen)
{
    if (!store_change_kind_name(c->kind)) {
        snprintf(err, errlen, "store: %s: unknown change kind %d", s->where, (int)c->kind);
        return -EINVAL;
    }
    if (c->n_orders == 0 || c->n_orders > s->max_orders) {
        snprintf(err, errlen, "store: %s: a change holds 1..%zu orders, not %zu", s->where,
                 s->max_orders, c->n_orders);
        return -EINVAL;
    }
    for (size_t i = 0; i < c->n_orders; i++) {
        const struct store_order *o = &c->orders[i];
        if (!o->id || !store_id_valid(o->id, strlen(o->id))) {
            snprintf(err, errlen, "store: %s: order %zu of the change: invalid id", s->where, i);
            return -EINVAL;
        }
        if (c->kind == STORE_CHANGE_IMPORT && (!o->record || !o->record_len)) {
            snprintf(err, errlen, "store: %s: order %s: an import needs a record", s->where, o->id);
            return -EINVAL;
        }
        if (o->record && o->record_len > s->max_record) {
            snprintf(err, errlen, "store: %s: order %s: record of %zu bytes over the %zu limit",
                     s->where, o->id, o->record_len, s->max_record);
            return -E2BIG;
        }
    }
    /* Duplicates: sort a copy of the ids (a change may hold a million orders). */
    const char **ids = malloc(c->n_orders * sizeof(*ids));
    if (!ids) {
        snprintf(err, errlen, "store: %s: out of memory", s->where);
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->n_orders; i++)
        ids[i] = c->orders[i].id;
    qsort(ids, c->n_orders, sizeof(*ids), cmp_id);
    int rc = 0;
    for (size_t i = 1; i < c->n_orders && !rc; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) {
            snprintf(err, errlen, "store: %s: order %s twice in one change", s->where, ids[i]);
            rc = -EINVAL;
        }
    free(ids);
    return rc;
}

int64_t store_publish(struct store *s, const struct store_change *c, char *err, size_t errlen)
{
    s->warning[0] = '\0';
    int rc = check_change(s, c, err, errlen);
    if (rc)
        return rc;
    return s->ops->publish(s, c, err, errlen);
}

int store_version(struct store *s, uint64_t *version, char *err, size_t errlen)
{
    return s->ops->version(s, version, err, errlen);
}

int store_snapshot(struct store *s, uint64_t *version, store_order_fn cb, void *ctx, char *err,
                   size_t errlen)
{
    return s->ops->snapshot(s, version, cb, ctx, err, errlen);
}

int store_follow(struct store *s, uint64_t from, uint32_t timeout_ms, store_change_fn cb, void *ctx,
                 uint64_t *last, char *err, size_t errlen)
{
    *last = from;
    return s->ops->follow(s, from, timeout_ms, cb, ctx, last, err, errlen);
}

int store_get(struct store *s, const char *id, store_order_fn cb, void *ctx, char *err,
              size_t errlen)
{
    if (!id || !store_id_valid(id, strlen(id))) {
        snprintf(err, errlen, "store: %s: invalid order id", s->where);
        return -EINVAL;
    }
    return s->ops->get(s, id, cb, ctx, err, errlen);
}

int store_list(struct store *s, store_order_fn cb, void *ctx, char *err, size_t errlen)
{
    return s->ops->list(s, cb, ctx, err, errlen);
}

/* A node's software version or mode: "" or 1..STORE_NODE_ABOUT_MAX-1 bytes of
 * [A-Za-z0-9._+~:-] (no space: the directory store's node file separates fields by spaces). */
static bool about_valid(const char *v)
{
    size_t n = strlen(v);
    if (n >= STORE_NODE_ABOUT_MAX || (n == 1 && v[0] == '-'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._+~:-", c)))
            return false;
    }
    return true;
}

int store_node_ack(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                   uint32_t ttl_ms, char *err, size_t errlen)
{
    return store_node_ack_about(s, node, version, since_ms, ttl_ms, "", "", err, errlen);
}

int store_node_ack_about(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                         uint32_t ttl_ms, const char *software, const char *mode, char *err,
                         size_t errlen)
{
    if (!node || !store_id_valid(node, strlen(node))) {
        snprintf(err, errlen, "store: %s: invalid node id", s->where);
        return -EINVAL;
    }
    if (!ttl_ms) {
        snprintf(err, errlen, "store: %s: node %s: heartbeat TTL must be > 0", s->where, node);
        return -EINVAL;
    }
    software = software ? software : "";
    mode = mode ? mode : "";
    if (!about_valid(software) || !about_valid(mode)) {
        snprintf(err, errlen, "store: %s: node %s: invalid %s (1..%d bytes of [A-Za-z0-9._+~:-])",
                 s->where, node, about_valid(software) ? "mode" : "software version",
                 STORE_NODE_ABOUT_MAX - 1);
        return -EINVAL;
    }
    return s->ops->node_ack(s, node, version, since_ms, ttl_ms, software, mode, err, errlen);
}

int store_nodes(struct store *s, store_node_fn cb, void *ctx, char *err, size_t errlen)
{
    return s->ops->nodes(s, cb, ctx, err, errlen);
}

int store_trim(struct store *s, uint64_t keep, char *err, size_t errlen)
{
    return s->ops->trim(s, keep, err, errlen);
}

static int bad_id(struct store *s, const char *what, const char *id, char *err, size_t errlen)
{
    if (id && store_id_valid(id, strlen(id)))
        return 0;
    snprintf(err, errlen, "store: %s: invalid %s id", s->where, what);
    return -EINVAL;
}

int store_enforced(struct store *s, const char *node, store_enforced_fn cb, void *ctx, char *err,
                   size_t errlen)
{
    int rc = bad_id(s, "node", node, err, errlen);
    return rc ? rc : s->ops->enforced(s, node, cb, ctx, err, errlen);
}

int store_events(struct store *s, const char *id, store_event_fn cb, void *ctx, char *err,
                 size_t errlen)
{
    int rc = bad_id(s, "order", id, err, errlen);
    return rc ? rc : s->ops->events(s, id, cb, ctx, err, errlen);
}

int store_hits_add(struct store *s, const struct store_hit *h, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = bad_id(s, "order", h[i].order, err, errlen);
        if (rc)
            return rc;
        size_t el = h[i].entry ? strlen(h[i].entry) : 0;
        if (el == 0 || el > STORE_ENTRY_MAX || memchr(h[i].entry, '\n', el)) {
            snprintf(err, errlen,
                     "store: %s: hits of order %s: entry %zu: empty, too long or "
                     "holds a line end",
                     s->where, h[i].order, i);
            return -EINVAL;
        }
    }
    return n ? s->ops->hits_add(s, h, n, err, errlen) : 0;
}

int store_hits(struct store *s, const char *order, store_hit_fn cb, void *ctx, char *err,
               size_t errlen)
{
    int rc = bad_id(s, "order", order, err, errlen);
    return rc ? rc : s->ops->hits(s, order, cb, ctx, err, errlen);
}

int store_doc_put(struct store *s, const char *kind, const char *id, const char *bytes, size_t len,
                  char *err, size_t errlen)
{
    int rc = bad_id(s, "document kind", kind, err, errlen);
    if (!rc)
        rc = bad_id(s, "document", id, err, errlen);
    if (!rc && len > STORE_DOC_MAX) {
        snprintf(err, errlen, "store: %s: document %s/%s: %zu bytes, over %u", s->where, kind, id,
                 len, STORE_DOC_MAX);
        rc = -E2BIG;
    }
    return rc ? rc : s->ops->doc_put(s, kind, id, bytes, len, err, errlen);
}

int store_doc_put_many(struct store *s, const char *kind, const struct store_doc *docs, size_t n,
                       char *err, size_t errlen)
{
    int rc = bad_id(s, "document kind", kind, err, errlen);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!docs[i].id || !store_id_valid(docs[i].id, strlen(docs[i].id))) {
            snprintf(err, errlen, "store: %s: invalid document id (document %zu of %zu)", s->where,
                     i + 1, n);
            rc = -EINVAL;
        } else if (docs[i].len > STORE_DOC_MAX) {
            snprintf(err, errlen, "store: %s: document %s/%s: %zu bytes, over %u", s->where, kind,
                     docs[i].id, docs[i].len, STORE_DOC_MAX);
            rc = -E2BIG;
        }
    }
    if (rc || !n)
        return rc;
    if (s->ops->doc_put_many)
        return s->ops->doc_put_many(s, kind, docs, n, err, errlen);
    for (size_t i = 0; i < n && !rc; i++)
        rc = s->ops->doc_put(s, kind, docs[i].id, docs[i].bytes, docs[i].len, err, errlen);
    return rc;
}

int store_doc_get(struct store *s, const char *kind, const char *id, store_doc_fn cb, void *ctx,
                  char *err, size_t errlen)
{
    int rc = bad_id(s, "document kind", kind, err, errlen);
    if (!rc)
        rc = bad_id(s, "document", id, err, errlen);
    return rc ? rc : s->ops->doc_get(s, kind, id, cb, ctx, err, errlen);
}

const char *store_change_kind_name(enum store_change_kind k)
{
    switch (k) {
    case STORE_CHANGE_IMPORT: return "import";
    case STORE_CHANGE_REVOKE: return "revoke";
    case STORE_CHANGE_RESTORE: return "restore";
    }
    return NULL;
}

enum store_change_kind store_change_kind_parse(const char *s, size_t len)
{
    for (int k = STORE_CHANGE_IMPORT; k <= STORE_CHANGE_RESTORE; k++) {
        const char *n = store_change_kind_name((enum store_change_kind)k);
        if (strlen(n) == len && memcmp(n, s, len) == 0)
            return (enum store_change_kind)k;
    }
    return (enum store_change_kind)0;
}

uint64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- subscriber map (docs/subscribers.md) ---- */

bool store_sub_addr_valid(const char *addr, size_t len)
{
    if (len == 0 || len >= STORE_SUB_ADDR_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = addr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':' || c == '/'))
            return false;
    }
    return true;
}

static bool sub_text_ok(const char *s, bool optional)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        return optional;
    if (n > STORE_SUB_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

int store_sub_apply(struct store *s, const struct store_sub *e, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        if (e[i].op != STORE_SUB_SET && e[i].op != STORE_SUB_DEL)
            why = "unknown operation";
        else if (!e[i].addr || !store_sub_addr_valid(e[i].addr, strlen(e[i].addr)))
            why = "invalid address";
        else if (e[i].op == STORE_SUB_SET && !sub_text_ok(e[i].subscriber, false))
            why = "invalid subscriber id (1..128 printable bytes, no space)";
        else if (!sub_text_ok(e[i].session, true))
            why = "invalid session id (1..128 printable bytes, no space)";
        if (why) {
            snprintf(err, errlen, "store: %s: subscriber mapping %zu of %zu: %s", s->where, i + 1,
                     n, why);
            return -EINVAL;
        }
    }
    if (n == 0)
        return 0;
    return s->ops->sub_apply(s, e, n, err, errlen);
}

int store_sub_get(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                  size_t errlen)
{
    if (!addr || !store_sub_addr_valid(addr, strlen(addr))) {
        snprintf(err, errlen, "store: %s: invalid subscriber address", s->where);
        return -EINVAL;
    }
    return s->ops->sub_get(s, addr, cb, ctx, err, errlen);
}

int store_sub_list(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen)
{
    return s->ops->sub_list(s, cb, ctx, err, errlen);
}

int store_sub_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                     store_sub_fn cb, void *ctx, char *err, size_t errlen)
{
    if (!s->ops->sub_follow) {
        snprintf(err, errlen, "store: %s: no subscriber change stream", s->where);
        return -ENOTSUP;
    }
    if (cap < STORE_SUB_CURSOR_MAX) {
        snprintf(err, errlen, "store: %s: subscriber cursor buffer too small", s->where);
        return -EINVAL;
    }
    return s->ops->sub_follow(s, cursor, cap, timeout_ms, cb, ctx, err, errlen);
}

/* ---- tariff records ---- */

static bool tariff_text_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= STORE_TARIFF_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return false;
    return true;
}

int store_tariff_apply(struct store *s, const struct store_tariff *t, char *err, size_t errlen)
{
    const char *why = NULL;
    if (t->kind != STORE_TARIFF_PROFILE && t->kind != STORE_TARIFF_SUB)
        why = "unknown kind";
    else if (!sub_text_ok(t->name, false))
        why = "invalid name (1..128 printable bytes, no space)";
    else if (!t->del && !tariff_text_ok(t->text))
        why = "invalid text (no line breaks or control bytes, under 4096 bytes)";
    if (why) {
        snprintf(err, errlen, "store: %s: tariff record '%s': %s", s->where, t->name ? t->name : "",
                 why);
        return -EINVAL;
    }
    if (!s->ops->tariff_apply) {
        snprintf(err, errlen, "store: %s: no tariff records", s->where);
        return -ENOTSUP;
    }
    return s->ops->tariff_apply(s, t, err, errlen);
}

int store_tariff_list(struct store *s, store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    if (!s->ops->tariff_list) {
        snprintf(err, errlen, "store: %s: no tariff records", s->where);
        return -ENOTSUP;
    }
    return s->ops->tariff_list(s, cb, ctx, err, errlen);
}

struct tariff_get {
    enum store_tariff_kind kind;
    const char *name;
    store_tariff_fn cb;
    void *ctx;
    bool found;
};

static int tariff_get_cb(void *ctx, const struct store_tariff *t)
{
    struct tariff_get *g = ctx;
    if (t->kind != g->kind || strcmp(t->name, g->name) != 0)
        return 0;
    g->found = true;
    return g->cb(g->ctx, t);
}

int store_tariff_get(struct store *s, enum store_tariff_kind kind, const char *name,
                     store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    struct tariff_get g = { kind, name, cb, ctx, false };
    int rc = store_tariff_list(s, tariff_get_cb, &g, err, errlen);
    if (rc)
        return rc;
    if (!g.found) {
        snprintf(err, errlen, "store: %s: no %s '%s'", s->where,
                 kind == STORE_TARIFF_PROFILE ? "profile" : "subscriber settings", name);
        return -ENOENT;
    }
    return 0;
}

int store_tariff_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                        store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    if (!s->ops->tariff_follow) {
        snprintf(err, errlen, "store: %s: no tariff change stream", s->where);
        return -ENOTSUP;
    }
    if (cap < STORE_SUB_CURSOR_MAX) {
        snprintf(err, errlen, "store: %s: tariff cursor buffer too small", s->where);
        return -EINVAL;
    }
    return s->ops->tariff_follow(s, cursor, cap, timeout_ms, cb, ctx, err, errlen);
}

size_t store_tariff_format(const struct store_tariff *t, char *out, size_t cap)
{
    int n = t->del
                ? snprintf(out, cap, "%c %s", t->kind == STORE_TARIFF_PROFILE ? 'P' : 'S', t->name)
                : snprintf(out, cap, "%c %s %s", (char)t->kind, t->name, t->text ? t->text : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int store_tariff_parse(char *line, struct store_tariff *t)
{
    char k = line[0];
    if (!k || line[1] != ' ' || !strchr("psPS", k))
        return -1;
    char *name = line + 2, *sp = strchr(name, ' ');
    t->kind = k == 'p' || k == 'P' ? STORE_TARIFF_PROFILE : STORE_TARIFF_SUB;
    t->del = k == 'P' || k == 'S';
    if (sp)
        *sp = '\0';
    t->name = name;
    t->text = sp ? sp + 1 : "";
    if (!sub_text_ok(name, false) || (t->del && sp) || (!t->del && !sp))
        return -1;
    return 0;
}
