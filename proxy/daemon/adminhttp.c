/* adminhttp.c - the admin HTTP API listener on libmicrohttpd (see adminhttp.h).
 *
 * One MHD daemon per listener (the Unix socket, and TCP when configured), each on a socket this
 * module binds itself (MHD_OPTION_LISTEN_SOCKET), in MHD's internal thread on poll() like the
 * notice page server (docs/decisions.md). Per request: uri_cb copies the raw request-target
 * (the query string included) into a request record; the access handler collects the body up
 * to the cap, then authenticates, routes and calls the mounted handler once, in the library's
 * thread. The admin API is not on the packet path: requests allocate freely. */
#include "proxy/daemon/adminhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ascii.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "proxy/daemon/mhdlib.h"
#include "rules/orders/order.h"

#define LISTEN_BACKLOG 64
#define TARGET_MAX     8192
#define SCOPES_MAX     256
#define CLIENT_WAIT_MS 60000
#define CN_MAX         128
#define PEM_MAX        (1u << 20)

static const struct mhdlib *mhd; /* set by start_one() before any server runs */

struct mount {
    char prefix[128];
    char scope[32]; /* "" = any valid token */
    api_handler_fn fn;
    void *ctx;
};

struct token {
    char name[ADMINHTTP_NAME_MAX];
    char scopes[SCOPES_MAX]; /* ",read,metrics," */
    uint8_t hash[32];
    char cn[CN_MAX]; /* "cn:NAME" lines: a client certificate's common name, else "" */
};

struct listener {
    struct adminhttp *h;
    struct MHD_Daemon *d;
    int fd;
    bool tcp;              /* requests need a token */
    _Atomic unsigned open; /* connections open now */
};

struct adminhttp {
    struct log *log;
    struct listener lu, lt;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    unsigned port, max_conn, idle_s;
    size_t max_body;
    struct mount mounts[ADMINHTTP_MOUNTS_MAX];
    size_t nmounts;
    struct token *tokens;
    size_t ntokens;
    char *tls_cert, *tls_key, *client_ca; /* PEM text, NULL: plain HTTP on TCP */
    struct {
        _Atomic uint64_t requests, unauthorized, forbidden, not_found, too_large, refused;
    } c;
};

struct request {
    char target[TARGET_MAX];
    bool too_long; /* the target did not fit */
    bool too_large;
    size_t dropped; /* body bytes past the cap, read and dropped */
    bool seen;      /* the first call (head complete) was taken */
    bool answered;  /* a response is queued */
    uint8_t *body;
    size_t len, cap;
};

#define INC(h, f) atomic_fetch_add_explicit(&(h)->c.f, 1, memory_order_relaxed)

/* ---------------------------------------------------------------- helpers for handlers */

void api_reply(struct api_resp *resp, int status, const char *content_type, FILE *f, char **buf,
               size_t *len)
{
    int rc = fclose(f);
    if (rc != 0 || !*buf) {
        free(*buf);
        *buf = NULL;
        api_error(resp, 500, "out of memory");
        return;
    }
    resp->status = status;
    resp->content_type = content_type;
    resp->body = *buf;
    resp->body_len = *len;
    *buf = NULL;
}

void api_error(struct api_resp *resp, int status, const char *msg)
{
    char *b = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&b, &n);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = NULL;
    resp->body_len = 0;
    if (!f)
        return;
    fputs("{\"error\":", f);
    jsonw_cstr(f, msg);
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(b);
        return;
    }
    resp->body = b;
    resp->body_len = n;
}

static int hexval(char c)
{
    return ascii_hexval((uint8_t)c);
}

int api_query_param(const char *q, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    const char *p = q ? q : "";
    while (*p) {
        const char *end = strchr(p, '&');
        size_t fl = end ? (size_t)(end - p) : strlen(p);
        if (fl >= kl && strncmp(p, key, kl) == 0 && (fl == kl || p[kl] == '=')) {
            const char *v = fl == kl ? p + kl : p + kl + 1;
            const char *ve = p + fl;
            size_t n = 0;
            for (; v < ve; v++) {
                int c = (unsigned char)*v;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int a = ve - v > 2 ? hexval(v[1]) : -1, b = ve - v > 2 ? hexval(v[2]) : -1;
                    if (a < 0 || b < 0)
                        return -EINVAL;
                    c = a * 16 + b;
                    v += 2;
                }
                if (c == 0 || n + 1 >= outlen)
                    return -EINVAL;
                out[n++] = (char)c;
            }
            out[n] = 0;
            return (int)n;
        }
        p += fl + (end ? 1 : 0);
    }
    return -ENOENT;
}

/* ---------------------------------------------------------------- tokens */

static int parse_hash(const char *s, uint8_t out[32])
{
    if (strlen(s) != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (uint8_t)(a * 16 + b);
    }
    return 0;
}

static int tokens_load(struct adminhttp *h, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "admin: tokens file %s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    if (st.st_mode & 0077) {
        close(fd);
        snprintf(err, errlen, "admin: tokens file %s: mode %03o, must be 0600 (owner only)", path,
                 (unsigned)(st.st_mode & 0777));
        return -EPERM;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "admin: tokens file %s: out of memory", path);
        return -ENOMEM;
    }
    h->tokens = calloc(ADMINHTTP_TOKENS_MAX, sizeof(*h->tokens));
    if (!h->tokens) {
        fclose(f);
        snprintf(err, errlen, "admin: tokens file %s: out of memory", path);
        return -ENOMEM;
    }
    char line[1024];
    unsigned ln = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        ln++;
        char *save = NULL, *name = strtok_r(line, " \t\r\n", &save);
        if (!name || name[0] == '#')
            continue;
        char *scopes = strtok_r(NULL, " \t\r\n", &save);
        char *hash = strtok_r(NULL, " \t\r\n", &save);
        char *extra = strtok_r(NULL, " \t\r\n", &save);
        struct token *t = &h->tokens[h->ntokens];
        if (!scopes || !hash || extra || strlen(name) >= sizeof(t->name) ||
            strlen(scopes) + 3 > sizeof(t->scopes)) {
            snprintf(err, errlen, "admin: %s:%u: expected NAME SCOPES TOKEN_SHA256_HEX", path, ln);
            rc = -EINVAL;
        } else if (strncmp(hash, "cn:", 3) == 0 && hash[3] && strlen(hash + 3) < sizeof(t->cn)) {
            snprintf(t->cn, sizeof(t->cn), "%s", hash + 3);
            memset(t->hash, 0, sizeof(t->hash));
            snprintf(t->name, sizeof(t->name), "%s", name);
            snprintf(t->scopes, sizeof(t->scopes), ",%s,", scopes);
            h->ntokens++;
        } else if (parse_hash(hash, t->hash) < 0) {
            snprintf(err, errlen,
                     "admin: %s:%u: the token's SHA-256 must be 64 hex digits (or cn:NAME)", path,
                     ln);
            rc = -EINVAL;
        } else if (h->ntokens + 1 >= ADMINHTTP_TOKENS_MAX) {
            snprintf(err, errlen, "admin: %s:%u: more than %u tokens", path, ln,
                     ADMINHTTP_TOKENS_MAX - 1);
            rc = -E2BIG;
        } else {
            snprintf(t->name, sizeof(t->name), "%s", name);
            snprintf(t->scopes, sizeof(t->scopes), ",%s,", scopes);
            h->ntokens++;
        }
    }
    fclose(f);
    return rc;
}

/* The token whose hash is SHA-256(presented), every line compared in full (constant time over
 * the hash bytes), or NULL. */
static const struct token *token_find(const struct adminhttp *h, const char *presented)
{
    char hex[65];
    order_sha256((const uint8_t *)presented, strlen(presented), hex);
    uint8_t got[32];
    if (parse_hash(hex, got) < 0)
        return NULL;
    const struct token *found = NULL;
    for (size_t i = 0; i < h->ntokens; i++) {
        volatile uint8_t diff = h->tokens[i].cn[0] ? 1 : 0; /* a certificate line: no token */
        for (size_t k = 0; k < 32; k++)
            diff |= (uint8_t)(got[k] ^ h->tokens[i].hash[k]);
        if (diff == 0 && !found)
            found = &h->tokens[i];
    }
    return found;
}

/* The line of the client certificate the TLS connection c presented, verified against
 * admin.tls_client_ca, by its subject's common name; NULL without one. */
static const struct token *cert_find(const struct adminhttp *h, struct MHD_Connection *c)
{
    if (!h->client_ca)
        return NULL;
    const union MHD_ConnectionInfo *ci =
        mhd->get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t ss = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned status = 1, n = 0;
    if (!ss || mhd->certificate_verify_peers2(ss, &status) != 0 || status != 0)
        return NULL;
    const gnutls_datum_t *certs = mhd->certificate_get_peers(ss, &n);
    gnutls_x509_crt_t crt;
    if (!certs || n == 0 || mhd->x509_crt_init(&crt) != 0)
        return NULL;
    char cn[CN_MAX];
    size_t cnl = sizeof(cn);
    int rc = mhd->x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
    if (rc == 0)
        rc = mhd->x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cnl);
    mhd->x509_crt_deinit(crt);
    if (rc != 0)
        return NULL;
    for (size_t i = 0; i < h->ntokens; i++)
        if (h->tokens[i].cn[0] && strcmp(h->tokens[i].cn, cn) == 0)
            return &h->tokens[i];
    return NULL;
}

static bool has_scope(const struct token *t, const char *scope)
{
    if (!scope[0])
        return true;
    char pat[40];
    snprintf(pat, sizeof(pat), ",%s,", scope);
    return strstr(t->scopes, pat) != NULL;
}

/* ---------------------------------------------------------------- listeners */

static int bind_unix(struct adminhttp *h, const struct adminhttp_config *c, char *err,
                     size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(c->unix_path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "admin: %s: path too long for a Unix socket", c->unix_path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, c->unix_path, strlen(c->unix_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    struct stat st;
    if (lstat(c->unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(c->unix_path);
    mode_t old = umask(0177);
    int brc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (brc != 0 || chmod(c->unix_path, 0600) != 0)
        goto fail;
    if (c->uid != (uid_t)-1 && chown(c->unix_path, c->uid, c->gid) != 0)
        goto fail;
    if (listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    memcpy(h->path, sa.sun_path, sizeof(h->path));
    h->lu.fd = fd;
    return 0;
fail:;
    int e = errno;
    snprintf(err, errlen, "admin: %s: %s", c->unix_path, strerror(e));
    if (fd >= 0)
        close(fd);
    return -e;
}

/* "IPv4:port" or "[IPv6]:port". */
static int bind_tcp(struct adminhttp *h, const char *addr, char *err, size_t errlen)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
    memset(&u, 0, sizeof(u));
    socklen_t sl;
    char host[64];
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 70000;
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    bool v6 = hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']';
    if (v6)
        memcpy(host, addr + 1, hl - 2), host[hl - 2] = 0;
    else if (hl && hl < sizeof(host))
        memcpy(host, addr, hl), host[hl] = 0;
    else
        host[0] = 0;
    if (!colon || !end || *end || colon[1] == 0 || port > 65535 || hl >= sizeof(host) ||
        (v6 ? inet_pton(AF_INET6, host, &u.in6.sin6_addr)
            : inet_pton(AF_INET, host, &u.in4.sin_addr)) != 1) {
        snprintf(err, errlen, "admin: admin.listen '%s': expected IPv4:port or [IPv6]:port", addr);
        return -EINVAL;
    }
    if (v6) {
        u.in6.sin6_family = AF_INET6;
        u.in6.sin6_port = htons((uint16_t)port);
        sl = sizeof(u.in6);
    } else {
        u.in4.sin_family = AF_INET;
        u.in4.sin_port = htons((uint16_t)port);
        sl = sizeof(u.in4);
    }
    int fd = socket(u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, &u.sa, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        snprintf(err, errlen, "admin: cannot listen on %s: %s", addr, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    sl = sizeof(u);
    if (getsockname(fd, &u.sa, &sl) == 0)
        h->port = ntohs(v6 ? u.in6.sin6_port : u.in4.sin_port);
    h->lt.fd = fd;
    h->lt.tcp = true;
    return 0;
}

/* The whole PEM file path into *out (NUL-terminated). */
static int read_pem(const char *key, const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char *b = f ? malloc(PEM_MAX + 1) : NULL;
    size_t n = b ? fread(b, 1, PEM_MAX + 1, f) : 0;
    int e = errno;
    if (f)
        fclose(f);
    if (!b || n == 0 || n > PEM_MAX) {
        snprintf(err, errlen, "admin: %s %s: %s", key, path,
                 !f   ? strerror(e)
                 : !b ? "out of memory"
                 : n  ? "larger than 1 MiB"
                      : "empty");
        free(b);
        return -EINVAL;
    }
    b[n] = 0;
    *out = b;
    return 0;
}

struct adminhttp *adminhttp_new(const struct adminhttp_config *cfg, struct log *lg, char *err,
                                size_t errlen)
{
    struct adminhttp *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "admin: out of memory");
        return NULL;
    }
    h->log = lg;
    h->lu = (struct listener){ h, NULL, -1, false, 0 };
    h->lt = (struct listener){ h, NULL, -1, true, 0 };
    h->max_conn = cfg->max_connections ? cfg->max_connections : 32;
    h->idle_s = cfg->idle_timeout_ms ? (cfg->idle_timeout_ms + 999) / 1000 : 30;
    h->max_body = cfg->max_body ? cfg->max_body : 4u << 20;
    bool tcp = cfg->listen && cfg->listen[0];
    if (tcp && !(cfg->tokens_file && cfg->tokens_file[0])) {
        snprintf(err, errlen, "admin: admin.listen %s needs admin.tokens_file", cfg->listen);
        goto fail;
    }
    if (tcp && tokens_load(h, cfg->tokens_file, err, errlen) < 0)
        goto fail;
    bool cert = cfg->tls_cert && cfg->tls_cert[0], key = cfg->tls_key && cfg->tls_key[0],
         ca = cfg->client_ca && cfg->client_ca[0];
    if (tcp && (cert != key || (ca && !cert))) {
        snprintf(err, errlen,
                 "admin: admin.tls_cert and admin.tls_key go together, and "
                 "admin.tls_client_ca needs them");
        goto fail;
    }
    if (tcp && cert &&
        (read_pem("admin.tls_cert", cfg->tls_cert, &h->tls_cert, err, errlen) < 0 ||
         read_pem("admin.tls_key", cfg->tls_key, &h->tls_key, err, errlen) < 0 ||
         (ca && read_pem("admin.tls_client_ca", cfg->client_ca, &h->client_ca, err, errlen) < 0)))
        goto fail;
    if (cfg->unix_path && bind_unix(h, cfg, err, errlen) < 0)
        goto fail;
    if (tcp && bind_tcp(h, cfg->listen, err, errlen) < 0)
        goto fail;
    return h;
fail:
    adminhttp_free(h);
    return NULL;
}

int adminhttp_mount(struct adminhttp *h, const char *prefix, const char *scope, api_handler_fn fn,
                    void *ctx)
{
    for (size_t i = 0; i < h->nmounts; i++)
        if (strcmp(h->mounts[i].prefix, prefix) == 0)
            return -EEXIST;
    if (h->nmounts == ADMINHTTP_MOUNTS_MAX || prefix[0] != '/' ||
        strlen(prefix) >= sizeof(h->mounts[0].prefix) ||
        (scope && strlen(scope) >= sizeof(h->mounts[0].scope)))
        return -ENOSPC;
    struct mount *m = &h->mounts[h->nmounts++];
    snprintf(m->prefix, sizeof(m->prefix), "%s", prefix);
    snprintf(m->scope, sizeof(m->scope), "%s", scope ? scope : "");
    m->fn = fn;
    m->ctx = ctx;
    return 0;
}

/* The longest mount matching path: "/x/" matches what starts with it, "/x" only itself. */
static const struct mount *route(const struct adminhttp *h, const char *path, size_t plen)
{
    const struct mount *best = NULL;
    size_t bl = 0;
    for (size_t i = 0; i < h->nmounts; i++) {
        const struct mount *m = &h->mounts[i];
        size_t l = strlen(m->prefix);
        bool dir = m->prefix[l - 1] == '/';
        if (plen < l || memcmp(path, m->prefix, l) != 0 || (!dir && plen != l))
            continue;
        if (l > bl)
            best = m, bl = l;
    }
    return best;
}

/* ---------------------------------------------------------------- requests */

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)c;
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    size_t n = strlen(uri);
    r->too_long = n >= sizeof(r->target);
    if (!r->too_long)
        memcpy(r->target, uri, n + 1);
    return r;
}

static void done_cb(void *cls, struct MHD_Connection *c, void **req_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct request *r = *req_cls;
    if (r) {
        free(r->body);
        free(r);
    }
    *req_cls = NULL;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct api_resp *rp,
                                 const char *extra_name, const char *extra_value)
{
    struct MHD_Response *r =
        mhd->create_response_from_buffer(rp->body_len, rp->body ? rp->body : (void *)"",
                                         rp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(rp->body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_NO;
    if (mhd->add_response_header(r, "Content-Type",
                                 rp->content_type ? rp->content_type : "application/json") ==
            MHD_YES &&
        mhd->add_response_header(r, "Cache-Control", "no-store") == MHD_YES &&
        mhd->add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES &&
        (!extra_name || mhd->add_response_header(r, extra_name, extra_value) == MHD_YES))
        ret = mhd->queue_response(c, (unsigned)rp->status, r);
    mhd->destroy_response(r);
    return ret;
}

static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *msg)
{
    struct api_resp rp;
    api_error(&rp, status, msg);
    return send_resp(c, &rp, status == 401 ? "WWW-Authenticate" : NULL, "Bearer realm=\"qorgau\"");
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    (void)url, (void)version;
    struct listener *l = cls;
    struct adminhttp *h = l->h;
    struct request *r = *req_cls;
    if (!r)
        return MHD_NO;
    if (*upload_size) { /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_large || r->len + n > h->max_body) {
            /* read and dropped, so the 413 reaches the client (closing with unread data
             * would reset the connection); past 4 times the cap the connection is closed */
            r->too_large = true;
            r->dropped += n;
            return r->dropped > 4 * h->max_body ? MHD_NO : MHD_YES;
        }
        if (r->len + n > r->cap) {
            size_t nc = r->cap ? r->cap : 4096;
            while (nc < r->len + n)
                nc *= 2;
            uint8_t *nb = realloc(r->body, nc);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->cap = nc;
        }
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (!r->seen) { /* the head is complete; the body (if any) follows */
        r->seen = true;
        return MHD_YES;
    }
    r->answered = true;
    INC(h, requests);
    if (r->too_large) {
        INC(h, too_large);
        return fail(c, 413, "request body too large");
    }
    if (r->too_long) {
        INC(h, not_found);
        return fail(c, 414, "request target too long");
    }
    const char *principal = "local";
    char *q = strchr(r->target, '?');
    size_t plen = q ? (size_t)(q - r->target) : strlen(r->target);
    const struct mount *m = route(h, r->target, plen);
    if (l->tcp && !(m && strcmp(m->scope, ADMINHTTP_PUBLIC) == 0)) {
        const char *auth = mhd->lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const struct token *t = NULL;
        if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
            t = token_find(h, auth + 7);
        else if (!auth)
            t = cert_find(h, c);
        if (!t) {
            INC(h, unauthorized);
            return fail(c, 401,
                        auth ? "unknown token"
                             : "a bearer token (or a known client certificate) is required");
        }
        if (m && !has_scope(t, m->scope)) {
            INC(h, forbidden);
            return fail(c, 403, "the token lacks the scope of this path");
        }
        principal = t->name;
    }
    if (!m) {
        INC(h, not_found);
        return fail(c, 404, "no such path");
    }
    if (q)
        *q++ = 0;
    struct api_req req = { method,   r->target + strlen(m->prefix), q ? q : "", r->body, r->len,
                           principal };
    struct api_resp rp = { 404, "application/json", NULL, 0 };
    m->fn(m->ctx, &req, &rp);
    if (rp.status == 404)
        INC(h, not_found);
    if (!rp.body && rp.status >= 400) {
        char msg[32];
        snprintf(msg, sizeof(msg), "status %d", rp.status);
        api_error(&rp, rp.status, msg);
    }
    return send_resp(c, &rp, NULL, NULL);
}

/* The connection cap: past max_connections open, a new connection is closed at once (MHD's own
 * limit would leave it waiting in the backlog). */
static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr, (void)addrlen;
    struct listener *l = cls;
    if (atomic_load(&l->open) < l->h->max_conn)
        return MHD_YES;
    INC(l->h, refused);
    return MHD_NO;
}

static void conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    (void)c, (void)socket_context;
    struct listener *l = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&l->open, 1);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&l->open, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct adminhttp *h = cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    if (h->log)
        log_write(h->log, LOG_LEVEL_DEBUG, "admin", "libmicrohttpd", LOG_KV(LOG_S("error", msg)));
}

static int start_one(struct listener *l, char *err, size_t errlen)
{
    struct adminhttp *h = l->h;
    if (l->fd < 0)
        return 0;
    char why[256];
    if (!(mhd = mhdlib_get(why, sizeof(why)))) {
        snprintf(err, errlen, "admin: %s: %s", l->tcp ? "TCP listener" : h->path, why);
        return -ELIBACC;
    }
    bool tls = l->tcp && h->tls_cert;
    /* the TLS options, or MHD_OPTION_END where there are none */
    struct MHD_OptionItem tlsopt[] = {
        { tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->tls_key },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert },
        { h->client_ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, h->client_ca },
        { MHD_OPTION_END, 0, NULL },
    };
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    l->d = mhd->start_daemon(
        flags | (tls ? MHD_USE_TLS : 0), 0, accept_cb, l, access_cb, l, MHD_OPTION_ARRAY, tlsopt,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
        MHD_OPTION_CONNECTION_LIMIT, h->max_conn + 1, MHD_OPTION_NOTIFY_CONNECTION, conn_cb, l,
        MHD_OPTION_CONNECTION_TIMEOUT, h->idle_s, MHD_OPTION_URI_LOG_CALLBACK, uri_cb, h,
        MHD_OPTION_NOTIFY_COMPLETED, done_cb, h, MHD_OPTION_END);
    if (!l->d) {
        int e = errno ? errno : EIO;
        snprintf(err, errlen, "admin: %s: libmicrohttpd could not start: %s",
                 l->tcp ? "TCP listener" : h->path, strerror(e));
        return -e;
    }
    return 0;
}

int adminhttp_start(struct adminhttp *h, char *err, size_t errlen)
{
    int rc = start_one(&h->lu, err, errlen);
    if (rc == 0)
        rc = start_one(&h->lt, err, errlen);
    return rc;
}

unsigned adminhttp_port(const struct adminhttp *h)
{
    return h->lt.fd >= 0 ? h->port : 0;
}

void adminhttp_stats(const struct adminhttp *h, struct adminhttp_counters *out)
{
    out->requests = atomic_load(&h->c.requests);
    out->unauthorized = atomic_load(&h->c.unauthorized);
    out->forbidden = atomic_load(&h->c.forbidden);
    out->not_found = atomic_load(&h->c.not_found);
    out->too_large = atomic_load(&h->c.too_large);
    out->refused = atomic_load(&h->c.refused);
}

static void stop_one(struct listener *l)
{
    if (l->d)
        mhd->stop_daemon(l->d);
    l->d = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

void adminhttp_free(struct adminhttp *h)
{
    if (!h)
        return;
    stop_one(&h->lu);
    stop_one(&h->lt);
    if (h->path[0])
        unlink(h->path);
    free(h->tokens);
    free(h->tls_cert);
    free(h->tls_key);
    free(h->client_ca);
    free(h);
}

/* ---------------------------------------------------------------- client */

static int wait_fd(int fd, short ev)
{
    struct pollfd p = { fd, ev, 0 };
    int n;
    while ((n = poll(&p, 1, CLIENT_WAIT_MS)) < 0 && errno == EINTR)
        ;
    return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

int adminhttp_request(const char *path, const char *method, const char *target, const void *body,
                      size_t body_len, FILE *out, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "admin: %s: path too long for a Unix socket", path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        snprintf(err, errlen, "admin: %s: cannot connect: %s (is the node running?)", path,
                 strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    char head[TARGET_MAX + 256];
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      method, target, body_len);
    int rc = 0;
    if (hl < 0 || (size_t)hl >= sizeof(head)) {
        close(fd);
        snprintf(err, errlen, "admin: %s: request target too long", path);
        return -E2BIG;
    }
    const char *parts[2] = { head, body };
    size_t lens[2] = { (size_t)hl, body_len };
    for (int i = 0; i < 2 && rc == 0; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -errno;
                break;
            }
            off += (size_t)w;
        }
    }
    char *resp = NULL;
    size_t rlen = 0, cap = 0;
    while (rc == 0) {
        if ((rc = wait_fd(fd, POLLIN)) < 0)
            break;
        if (rlen + 65536 > cap) {
            char *nr = realloc(resp, cap = cap ? cap * 2 : 131072);
            if (!nr) {
                rc = -ENOMEM;
                break;
            }
            resp = nr;
        }
        ssize_t n = recv(fd, resp + rlen, cap - rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        if (n <= 0)
            break;
        rlen += (size_t)n;
    }
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "admin: %s: %s", path,
                 rc == -ETIMEDOUT ? "no answer" : strerror(-rc));
        free(resp);
        return rc;
    }
    int status = 0;
    const char *he = NULL;
    for (size_t i = 0; i + 3 < rlen; i++)
        if (memcmp(resp + i, "\r\n\r\n", 4) == 0) {
            he = resp + i + 4;
            break;
        }
    if (!he || sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "admin: %s: not an HTTP answer", path);
        free(resp);
        return -EPROTO;
    }
    fwrite(he, 1, rlen - (size_t)(he - resp), out);
    free(resp);
    return status;
}
