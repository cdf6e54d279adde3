/* check_adminhttp.c - Check suite for proxy/daemon/adminhttp.c (the admin API listener):
 * routing by prefix over the Unix socket, bearer tokens over TCP (none, unknown, wrong scope,
 * right scope, a public route), the tokens file's checks, the limits (body cap, idle timeout,
 * connection cap), query parameters, and the metrics text (metrics.c, decisions.c) parsed
 * back line by line. Real sockets on loopback and in a temporary directory. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/daemon/adminhttp.h"
#include "proxy/daemon/decisions.h"
#include "proxy/daemon/metrics.h"
#include "tests/lib/tmpdir.h"

static char dir[256], sock[320], tokens[320];

/* Each handler answers "NAME path=P query=Q principal=X body=N". */
static void answer(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    char *b = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&b, &n);
    fprintf(f, "%s %s path=%s query=%s principal=%s body=%zu", (const char *)ctx, req->method,
            req->path, req->query, req->principal, req->body_len);
    api_reply(resp, 200, "text/plain", f, &b, &n);
}

static void hex_sha256(const char *s, char out[65])
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", s);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, 65, p));
    pclose(p);
}

static void write_tokens(const char *path, mode_t mode, const char *extra)
{
    char good[65], met[65];
    hex_sha256("good-token", good);
    hex_sha256("metrics-token", met);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# NAME SCOPES SHA256\nselfcare read,parents %s\n\ngrafana metrics %s\n%s", good,
            met, extra ? extra : "");
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "adminhttp"), 0);
    snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
    snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
    write_tokens(tokens, 0600, NULL);
}

static void teardown(void)
{
    tmpdir_remove(dir);
}

static struct adminhttp *start(const char *listen, unsigned max_conn, unsigned idle_ms,
                               size_t max_body)
{
    struct adminhttp_config c = { sock,    (uid_t)-1, (gid_t)-1, listen, tokens, max_conn,
                                  idle_ms, max_body,  NULL,      NULL,   NULL };
    char err[512];
    struct adminhttp *h = adminhttp_new(&c, NULL, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_int_eq(adminhttp_mount(h, "/api/v1/x", "read", answer, "x"), 0);
    ck_assert_int_eq(adminhttp_mount(h, "/api/v1/x/", "read", answer, "xdir"), 0);
    ck_assert_int_eq(adminhttp_mount(h, "/api/v1/parents/", "parents", answer, "parents"), 0);
    ck_assert_int_eq(adminhttp_mount(h, "/metrics", "metrics", answer, "metrics"), 0);
    ck_assert_int_eq(adminhttp_mount(h, "/", ADMINHTTP_PUBLIC, answer, "page"), 0);
    ck_assert_int_eq(adminhttp_mount(h, "/api/v1/x", "read", answer, "again"), -EEXIST);
    ck_assert_msg(adminhttp_start(h, err, sizeof(err)) == 0, "%s", err);
    return h;
}

/* GET target over the Unix socket: status, body in out. */
static int unix_get(const char *method, const char *target, const char *body, char *out, size_t cap)
{
    char *b = NULL;
    size_t n = 0;
    char err[256];
    FILE *f = open_memstream(&b, &n);
    int st =
        adminhttp_request(sock, method, target, body, body ? strlen(body) : 0, f, err, sizeof(err));
    fclose(f);
    snprintf(out, cap, "%s", b ? b : "");
    free(b);
    return st;
}

static int tcp_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* One request over TCP with an optional Authorization value; the whole answer in out. */
static int tcp_req(unsigned port, const char *target, const char *auth, char *out, size_t cap)
{
    int fd = tcp_connect(port);
    char req[1024];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n",
                 target, auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = 0;
    close(fd);
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    return status;
}

START_TEST(test_routing)
{
    struct adminhttp *h = start(NULL, 8, 5000, 1024);
    struct stat st;
    ck_assert_int_eq(stat(sock, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_uint_eq(adminhttp_port(h), 0);
    char out[4096];
    ck_assert_int_eq(unix_get("GET", "/api/v1/x", NULL, out, sizeof(out)), 200);
    ck_assert_str_eq(out, "x GET path= query= principal=local body=0");
    ck_assert_int_eq(unix_get("GET", "/api/v1/x/abc?n=5&q=a%20b", NULL, out, sizeof(out)), 200);
    ck_assert_str_eq(out, "xdir GET path=abc query=n=5&q=a%20b principal=local body=0");
    ck_assert_int_eq(
        unix_get("POST", "/api/v1/parents/7701/profile", "{\"p\":1}", out, sizeof(out)), 200);
    ck_assert_str_eq(out, "parents POST path=7701/profile query= principal=local body=7");
    /* "/" is a directory prefix: the page handler sees the rest; "/metricsx" is not "/metrics" */
    ck_assert_int_eq(unix_get("GET", "/metricsx", NULL, out, sizeof(out)), 200);
    ck_assert_str_eq(out, "page GET path=metricsx query= principal=local body=0");
    ck_assert_int_eq(unix_get("GET", "/metrics", NULL, out, sizeof(out)), 200);
    ck_assert_str_eq(out, "metrics GET path= query= principal=local body=0");
    struct adminhttp_counters c;
    adminhttp_stats(h, &c);
    ck_assert_uint_eq(c.requests, 5);
    adminhttp_free(h);
    ck_assert_int_ne(access(sock, F_OK), 0);
}
END_TEST

START_TEST(test_auth)
{
    struct adminhttp *h = start("127.0.0.1:0", 8, 5000, 1024);
    unsigned port = adminhttp_port(h);
    ck_assert_uint_gt(port, 0);
    char out[4096];
    /* no token */
    ck_assert_int_eq(tcp_req(port, "/api/v1/x", NULL, out, sizeof(out)), 401);
    ck_assert_ptr_nonnull(strstr(out, "WWW-Authenticate: Bearer"));
    ck_assert_ptr_nonnull(
        strstr(out, "a bearer token (or a known client certificate) is required"));
    /* unknown token, and a known token's hash sent as the token */
    ck_assert_int_eq(tcp_req(port, "/api/v1/x", "Bearer bad-token", out, sizeof(out)), 401);
    ck_assert_ptr_nonnull(strstr(out, "unknown token"));
    char good[65];
    hex_sha256("good-token", good);
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", good);
    ck_assert_int_eq(tcp_req(port, "/api/v1/x", auth, out, sizeof(out)), 401);
    ck_assert_int_eq(tcp_req(port, "/api/v1/x", "Basic Z29vZC10b2tlbg==", out, sizeof(out)), 401);
    /* wrong scope */
    ck_assert_int_eq(tcp_req(port, "/api/v1/x", "Bearer metrics-token", out, sizeof(out)), 403);
    ck_assert_int_eq(tcp_req(port, "/metrics", "Bearer good-token", out, sizeof(out)), 403);
    /* right scope: the principal is the token's name */
    ck_assert_int_eq(tcp_req(port, "/api/v1/x/1", "Bearer good-token", out, sizeof(out)), 200);
    ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nxdir GET path=1 query= principal=selfcare"));
    ck_assert_int_eq(tcp_req(port, "/api/v1/parents/7", "Bearer good-token", out, sizeof(out)),
                     200);
    ck_assert_int_eq(tcp_req(port, "/metrics", "bearer metrics-token", out, sizeof(out)), 200);
    ck_assert_ptr_nonnull(strstr(out, "principal=grafana"));
    /* the public page needs no token; an unknown path with no token is 401, not 404 */
    ck_assert_int_eq(tcp_req(port, "/", NULL, out, sizeof(out)), 200);
    ck_assert_ptr_nonnull(strstr(out, "principal=local"));
    ck_assert_int_eq(tcp_req(port, "/api/v1/x", "Bearer ", out, sizeof(out)), 401);
    struct adminhttp_counters c;
    adminhttp_stats(h, &c);
    ck_assert_uint_eq(c.unauthorized, 5);
    ck_assert_uint_eq(c.forbidden, 2);
    /* the Unix socket stays trusted */
    ck_assert_int_eq(unix_get("GET", "/metrics", NULL, out, sizeof(out)), 200);
    adminhttp_free(h);
}
END_TEST

START_TEST(test_tokens_file)
{
    char err[512];
    struct adminhttp_config c = { sock, (uid_t)-1, (gid_t)-1, "127.0.0.1:0", tokens, 4,
                                  1000, 1024,      NULL,      NULL,          NULL };
    write_tokens(tokens, 0644, NULL);
    ck_assert_ptr_null(adminhttp_new(&c, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "must be 0600"));
    ck_assert_ptr_nonnull(strstr(err, tokens));
    write_tokens(tokens, 0600, "bad read 1234\n");
    ck_assert_ptr_null(adminhttp_new(&c, NULL, err, sizeof(err)));
    char want[400];
    snprintf(want, sizeof(want), "%s:5: the token's SHA-256 must be 64 hex digits", tokens);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    write_tokens(tokens, 0600, "lonely\n");
    ck_assert_ptr_null(adminhttp_new(&c, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, ":5: expected NAME SCOPES TOKEN_SHA256_HEX"));
    c.tokens_file = "";
    ck_assert_ptr_null(adminhttp_new(&c, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "needs admin.tokens_file"));
    c.tokens_file = tokens;
    c.listen = "localhost:80";
    write_tokens(tokens, 0600, NULL);
    ck_assert_ptr_null(adminhttp_new(&c, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "expected IPv4:port or [IPv6]:port"));
}
END_TEST

START_TEST(test_limits)
{
    struct adminhttp *h = start("127.0.0.1:0", 2, 1000, 64);
    char out[4096], big[200];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    /* body cap */
    ck_assert_int_eq(unix_get("POST", "/api/v1/x", big, out, sizeof(out)), 413);
    ck_assert_int_eq(unix_get("POST", "/api/v1/x", "small", out, sizeof(out)), 200);
    /* past 4 times the cap the server stops reading and closes: no answer */
    char *huge = malloc(100000);
    memset(huge, 'h', 99999);
    huge[99999] = 0;
    ck_assert_int_lt(unix_get("POST", "/api/v1/x", huge, out, sizeof(out)), 0);
    free(huge);
    struct adminhttp_counters c;
    adminhttp_stats(h, &c);
    ck_assert_uint_eq(c.too_large, 1);
    ck_assert_uint_eq(c.refused, 0);
    /* connection cap: two idle connections hold both slots, a third is closed unanswered */
    unsigned port = adminhttp_port(h);
    int a = tcp_connect(port), b = tcp_connect(port);
    usleep(200000);
    int x = tcp_connect(port);
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)!write(x, req, sizeof(req) - 1);
    struct pollfd p = { x, POLLIN, 0 };
    ck_assert_int_eq(poll(&p, 1, 3000), 1);
    ck_assert_int_le(read(x, out, sizeof(out)), 0);
    close(x);
    adminhttp_stats(h, &c);
    ck_assert_uint_eq(c.refused, 1);
    /* idle timeout (1 s): the silent connections are closed by the server */
    p.fd = a;
    ck_assert_int_eq(poll(&p, 1, 5000), 1);
    ck_assert_int_eq(read(a, out, sizeof(out)), 0);
    close(a);
    close(b);
    usleep(200000);
    ck_assert_int_eq(tcp_req(port, "/", NULL, out, sizeof(out)), 200);
    adminhttp_free(h);
}
END_TEST

/* Runs cmd (a shell command line) and returns the first line it prints. */
static void run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = 0;
    if (!fgets(out, (int)cap, p))
        out[0] = 0;
    pclose(p);
}

/* openssl: a CA (DIR/NAME-ca.pem) and a certificate of it for CN (DIR/NAME.pem, .key). */
static void make_cert(const char *name, const char *ca, const char *cn, const char *ext)
{
    char cmd[2048], out[256];
    if (!ca) {
        snprintf(
            cmd, sizeof(cmd),
            "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
            "-nodes -days 2 -subj /CN=%s -keyout %s.key -out %s.pem >/dev/null 2>&1 && echo ok",
            dir, cn, name, name);
    } else {
        snprintf(cmd, sizeof(cmd),
                 "cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                 "-subj /CN=%s -keyout %s.key -out %s.csr >/dev/null 2>&1 && printf '%s' >%s.ext "
                 "&& openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial "
                 "-days 2 -extfile %s.ext -out %s.pem >/dev/null 2>&1 && echo ok",
                 dir, cn, name, name, ext, name, name, ca, ca, name, name);
    }
    run(cmd, out, sizeof(out));
    ck_assert_msg(strcmp(out, "ok\n") == 0, "openssl failed for %s", name);
}

/* curl over HTTPS to 127.0.0.1:port: "CODE" or "000" when TLS failed. */
static void tls_get(unsigned port, const char *path, const char *opts, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && curl -s -o body -w '%%{http_code}' --max-time 10 --cacert ca.pem %s "
             "https://127.0.0.1:%u%s; echo; cat body 2>/dev/null; rm -f body",
             dir, opts, port, path);
    run(cmd, out, cap);
    out[strcspn(out, "\n")] = 0;
}

/* HTTPS on admin.listen, client certificates by CN against admin.tls_client_ca. */
START_TEST(test_tls)
{
    make_cert("ca", NULL, "Admin-Test-CA", NULL);
    make_cert("rogue", NULL, "Rogue-CA", NULL);
    make_cert("server", "ca", "127.0.0.1", "subjectAltName=IP:127.0.0.1\n");
    make_cert("client", "ca", "grafana-cert", "extendedKeyUsage=clientAuth\n");
    make_cert("fake", "rogue", "grafana-cert", "extendedKeyUsage=clientAuth\n");
    write_tokens(tokens, 0600, "certsys metrics cn:grafana-cert\n");
    char cert[400], key[400], ca[400], err[512];
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    struct adminhttp_config c = { sock, (uid_t)-1, (gid_t)-1, "127.0.0.1:0", tokens, 8,
                                  5000, 1024,      cert,      NULL,          NULL };
    ck_assert_ptr_null(adminhttp_new(&c, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "admin.tls_cert and admin.tls_key go together"));
    c.tls_key = key;
    c.client_ca = ca;
    struct adminhttp *h = adminhttp_new(&c, NULL, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_int_eq(adminhttp_mount(h, "/metrics", "metrics", answer, "metrics"), 0);
    ck_assert_int_eq(adminhttp_mount(h, "/api/v1/x", "read", answer, "x"), 0);
    ck_assert_msg(adminhttp_start(h, err, sizeof(err)) == 0, "%s", err);
    unsigned port = adminhttp_port(h);
    char out[512];
    tls_get(port, "/metrics", "", out, sizeof(out));
    ck_assert_str_eq(out, "401");
    tls_get(port, "/metrics", "--cert client.pem --key client.key", out, sizeof(out));
    ck_assert_str_eq(out, "200");
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "cd %s && curl -s --max-time 10 --cacert ca.pem --cert client.pem --key client.key "
             "https://127.0.0.1:%u/metrics",
             dir, port);
    run(cmd, out, sizeof(out));
    ck_assert_str_eq(out, "metrics GET path= query= principal=certsys body=0");
    /* a certificate of another CA with the same CN, and the right one on a route of another scope */
    tls_get(port, "/metrics", "--cert fake.pem --key fake.key", out, sizeof(out));
    ck_assert_msg(strcmp(out, "401") == 0 || strcmp(out, "000") == 0, "%s", out);
    tls_get(port, "/api/v1/x", "--cert client.pem --key client.key", out, sizeof(out));
    ck_assert_str_eq(out, "403");
    /* a bearer token over TLS; a "cn:" line is no token */
    tls_get(port, "/api/v1/x", "-H 'Authorization: Bearer good-token'", out, sizeof(out));
    ck_assert_str_eq(out, "200");
    tls_get(port, "/metrics", "-H 'Authorization: Bearer cn:grafana-cert'", out, sizeof(out));
    ck_assert_str_eq(out, "401");
    /* plain HTTP to the HTTPS listener gets no answer */
    char plain[4096];
    ck_assert_int_ne(tcp_req(port, "/metrics", "Bearer metrics-token", plain, sizeof(plain)), 200);
    adminhttp_free(h);
}
END_TEST

START_TEST(test_query_param)
{
    char v[16];
    ck_assert_int_eq(api_query_param("a=1&q=x%2Fy+z&b", "q", v, sizeof(v)), 5);
    ck_assert_str_eq(v, "x/y z");
    ck_assert_int_eq(api_query_param("a=1&q=x&b", "b", v, sizeof(v)), 0);
    ck_assert_int_eq(api_query_param("aq=1", "q", v, sizeof(v)), -ENOENT);
    ck_assert_int_eq(api_query_param("", "q", v, sizeof(v)), -ENOENT);
    ck_assert_int_eq(api_query_param("q=%zz", "q", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(api_query_param("q=%00", "q", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(api_query_param("q=%4", "q", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(api_query_param("q=0123456789abcdef", "q", v, sizeof(v)), -EINVAL);
}
END_TEST

/* One sample line "name{labels} value": the name, the labels text and the value. */
static int parse_sample(const char *line, char *name, char *labels, unsigned long long *v)
{
    const char *p = line;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
    if (n == 0 || n > 120)
        return -1;
    memcpy(name, p, n);
    name[n] = 0;
    p += n;
    labels[0] = 0;
    if (*p == '{') {
        const char *e = strchr(p, '}');
        if (!e)
            return -1;
        memcpy(labels, p + 1, (size_t)(e - p - 1));
        labels[e - p - 1] = 0;
        p = e + 1;
    }
    char *end;
    if (*p != ' ')
        return -1;
    *v = strtoull(p + 1, &end, 10);
    return *end == 0 ? 0 : -1;
}

START_TEST(test_metrics_text)
{
    struct decisions *d = decisions_new(2);
    ck_assert_ptr_nonnull(d);
    uint8_t srv[16] = { 192, 0, 2, 1 };
    struct decision_note n = { 1000,
                               VERDICT_BLOCK,
                               METHOD_DOMAIN,
                               APP_TLS,
                               "blocked.test",
                               12,
                               "blocked.test",
                               "o-1",
                               "court",
                               NULL,
                               4,
                               srv,
                               443 };
    for (unsigned i = 0; i < 5; i++)
        decisions_note(d, i % 2, &n);
    n.verdict = VERDICT_PASS;
    n.method = METHOD_NONE;
    n.category = NULL;
    n.name = "ok.test";
    n.name_len = 7;
    n.ms = 2000;
    decisions_note(d, 1, &n);
    n.category = "we\"ird\\cat\nx";
    n.verdict = VERDICT_BLOCK;
    n.method = METHOD_URL;
    decisions_note(d, 0, &n);
    char *b = NULL;
    size_t bl = 0;
    FILE *f = open_memstream(&b, &bl);
    metrics_head(f, "qorgau_decisions_total", "counter", "decisions");
    decisions_metrics(d, f, "qorgau_decisions_total");
    char mn[160];
    ck_assert_int_eq(metrics_name("tap.frames", 0, mn, sizeof(mn)), 0);
    metrics_head(f, mn, "counter", "frames");
    metrics_value(f, mn, 42);
    fclose(f);
    unsigned long long block = 0, pass = 0, weird = 0, frames = 0;
    bool help = false, type = false;
    char *save = NULL;
    for (char *line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP qorgau_decisions_total ", 30) == 0) {
            help = true;
            continue;
        }
        if (strcmp(line, "# TYPE qorgau_decisions_total counter") == 0) {
            type = true;
            continue;
        }
        if (line[0] == '#')
            continue;
        char name[128], labels[512];
        unsigned long long v;
        ck_assert_msg(parse_sample(line, name, labels, &v) == 0, "bad line: %s", line);
        if (strcmp(name, "qorgau_tap_frames_total") == 0)
            frames = v;
        else if (strcmp(labels, "verdict=\"block\",method=\"domain\",category=\"court\","
                                "profile=\"none\"") == 0)
            block = v;
        else if (strcmp(labels, "verdict=\"pass\",method=\"none\",category=\"none\","
                                "profile=\"none\"") == 0)
            pass = v;
        else if (strcmp(labels,
                        "verdict=\"block\",method=\"url\",category=\"we\\\"ird\\\\cat\\nx\","
                        "profile=\"none\"") == 0)
            weird = v;
        else
            ck_abort_msg("unexpected sample: %s", line);
    }
    ck_assert(help && type);
    ck_assert_uint_eq(block, 5); /* summed over both workers */
    ck_assert_uint_eq(pass, 1);
    ck_assert_uint_eq(weird, 1);
    ck_assert_uint_eq(frames, 42);
    free(b);
    /* the last decisions, newest first, and the top names */
    b = NULL;
    f = open_memstream(&b, &bl);
    decisions_json(d, f, 2);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(b, "{\"decisions\":[{\"ms\":2000,\"verdict\":\"block\""));
    ck_assert_ptr_nonnull(strstr(b, "\"server\":\"192.0.2.1:443\""));
    free(b);
    b = NULL;
    f = open_memstream(&b, &bl);
    decisions_top_json(d, f, 10);
    fclose(f);
    ck_assert_str_eq(b, "{\"blocked_names\":2,\"dropped\":0,\"top\":[{\"name\":\"blocked.test\","
                        "\"blocks\":5},{\"name\":\"ok.test\",\"blocks\":1}]}\n");
    free(b);
    decisions_free(d);
}
END_TEST

static int gauge_active(const char *name)
{
    return strcmp(name, "inline.active") == 0;
}

/* The registered worker counters: summed, then per worker; "FAMILY/VALUE" names as one family
 * with a reason label; each family typed once; a gauge without _total. */
START_TEST(test_metrics_counters)
{
    static const char *const names[] = { "tap.frames", "engine.dec/trunc-ip", "engine.dec/bad-ip",
                                         "inline.active" };
    _Atomic uint64_t w0[4], w1[4];
    for (unsigned i = 0; i < 4; i++) {
        atomic_init(&w0[i], i + 1);
        atomic_init(&w1[i], 10 * (i + 1));
    }
    struct metrics_set sets[] = { { 0, names, w0, 4 }, { 1, names, w1, 4 } };
    char *b = NULL;
    size_t bl = 0;
    FILE *f = open_memstream(&b, &bl);
    metrics_counters(f, sets, 2, gauge_active);
    fclose(f);
    static const char want[] =
        "# HELP qorgau_tap_frames_total worker counter summed over the workers (docs/admin.md)\n"
        "# TYPE qorgau_tap_frames_total counter\n"
        "qorgau_tap_frames_total 11\n"
        "# HELP qorgau_engine_dec_total worker counter summed over the workers (docs/admin.md)\n"
        "# TYPE qorgau_engine_dec_total counter\n"
        "qorgau_engine_dec_total{reason=\"trunc-ip\"} 22\n"
        "qorgau_engine_dec_total{reason=\"bad-ip\"} 33\n"
        "# HELP qorgau_inline_active worker counter summed over the workers (docs/admin.md)\n"
        "# TYPE qorgau_inline_active gauge\n"
        "qorgau_inline_active 44\n"
        "# HELP qorgau_worker_tap_frames_total one worker's counter (docs/admin.md)\n"
        "# TYPE qorgau_worker_tap_frames_total counter\n"
        "qorgau_worker_tap_frames_total{worker=\"0\"} 1\n"
        "qorgau_worker_tap_frames_total{worker=\"1\"} 10\n"
        "# HELP qorgau_worker_engine_dec_total one worker's counter (docs/admin.md)\n"
        "# TYPE qorgau_worker_engine_dec_total counter\n"
        "qorgau_worker_engine_dec_total{reason=\"trunc-ip\",worker=\"0\"} 2\n"
        "qorgau_worker_engine_dec_total{reason=\"trunc-ip\",worker=\"1\"} 20\n"
        "qorgau_worker_engine_dec_total{reason=\"bad-ip\",worker=\"0\"} 3\n"
        "qorgau_worker_engine_dec_total{reason=\"bad-ip\",worker=\"1\"} 30\n"
        "# HELP qorgau_worker_inline_active one worker's counter (docs/admin.md)\n"
        "# TYPE qorgau_worker_inline_active gauge\n"
        "qorgau_worker_inline_active{worker=\"0\"} 4\n"
        "qorgau_worker_inline_active{worker=\"1\"} 40\n";
    ck_assert_str_eq(b, want);
    free(b);
}
END_TEST

static Suite *adminhttp_suite(void)
{
    Suite *s = suite_create("adminhttp");
    TCase *tc = tcase_create("listener");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_routing);
    tcase_add_test(tc, test_auth);
    tcase_add_test(tc, test_tokens_file);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_tls);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("text");
    tcase_add_test(tc, test_query_param);
    tcase_add_test(tc, test_metrics_text);
    tcase_add_test(tc, test_metrics_counters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(adminhttp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
