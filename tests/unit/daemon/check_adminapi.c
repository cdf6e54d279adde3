/* check_adminapi.c - Check suite for proxy/daemon/adminapi.c (the admin API's endpoints):
 * readiness. A node's status, /api/v1/ready, the qorgau_ready gauge and its own line of the
 * fleet follow adminapi_set_ready() not ready -> ready -> not ready; /api/v1/ready takes only
 * GET and needs the same scope as /api/v1/status over TCP. The endpoints are mounted on a real
 * listener (a Unix socket and a loopback port in a temporary directory) with a directory store
 * holding two node records. */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/adminapi.h"
#include "proxy/daemon/adminhttp.h"
#include "rules/match/rsref.h"
#include "rules/store/store.h"
#include "tests/lib/tmpdir.h"

#define NODE "ready-node"

static char dir[256], sock[320], tokens[320];
static struct adminhttp *http;
static struct adminapi_src src;
static struct rsref *rules;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

static void setup(void)
{
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "adminapi"), 0);
    snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
    snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
    char rd[65], met[65];
    hex_sha256("read-token", rd);
    hex_sha256("metrics-token", met);
    FILE *f = fopen(tokens, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "reader read %s\ngrafana metrics %s\n", rd, met);
    fclose(f);
    ck_assert_int_eq(chmod(tokens, 0600), 0);

    /* the fleet: this node and another one */
    char url[300], err[512];
    snprintf(url, sizeof(url), "%s/store", dir);
    struct store *st = store_open(url, NULL, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_msg(store_node_ack(st, NODE, 0, now_ms(), 60000, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(store_node_ack(st, "other-node", 0, now_ms(), 60000, err, sizeof(err)) == 0, "%s",
                  err);
    store_free(st);

    rules = rsref_new();
    ck_assert_ptr_nonnull(rules);
    struct adminhttp_config c = { sock, (uid_t)-1, (gid_t)-1, "127.0.0.1:0", tokens, 8,
                                  5000, 1 << 16,   NULL,      NULL,          NULL };
    http = adminhttp_new(&c, NULL, err, sizeof(err));
    ck_assert_msg(http != NULL, "%s", err);
    memset(&src, 0, sizeof(src));
    src.node_id = NODE;
    src.mode = "inline";
    src.workers = 2;
    src.started_ms = now_ms();
    src.rules = rules;
    src.http = http;
    snprintf(src.store_url, sizeof(src.store_url), "%s", url);
    snprintf(src.tz, sizeof(src.tz), "UTC");
    ck_assert_int_eq(adminapi_mount(http, &src), 0);
    ck_assert_msg(adminhttp_start(http, err, sizeof(err)) == 0, "%s", err);
}

static void teardown(void)
{
    adminhttp_free(http);
    http = NULL;
    pthread_mutex_destroy(&src.ro_lock);
    rsref_free(rules);
    tmpdir_remove(dir);
}

/* method target over the Unix socket: the status; the body in *out (the caller frees it). */
static int req(const char *method, const char *target, char **out)
{
    size_t n = 0;
    char err[512];
    *out = NULL;
    FILE *f = open_memstream(out, &n);
    ck_assert_ptr_nonnull(f);
    int st = adminhttp_request(sock, method, target, NULL, 0, f, err, sizeof(err));
    fclose(f);
    ck_assert_msg(st > 0, "%s %s: %s", method, target, err);
    return st;
}

/* GET /api/v1/status: its JSON (the caller frees it). */
static json_t *status(void)
{
    char *b;
    ck_assert_int_eq(req("GET", "/api/v1/status", &b), 200);
    json_error_t je;
    json_t *j = json_loads(b, 0, &je);
    ck_assert_msg(j != NULL, "status is not JSON: %s: %s", je.text, b);
    free(b);
    return j;
}

/* The fleet's line of node id (NULL: absent). */
static json_t *fleet_node(json_t *st, const char *id)
{
    json_t *nodes = json_object_get(json_object_get(st, "fleet"), "nodes"), *nd;
    size_t i;
    json_array_foreach(nodes, i, nd)
    {
        if (strcmp(json_string_value(json_object_get(nd, "node")), id) == 0)
            return nd;
    }
    return NULL;
}

/* The value of the qorgau_ready sample in /metrics (-1: none). */
static int metric_ready(void)
{
    char *b;
    ck_assert_int_eq(req("GET", "/metrics", &b), 200);
    ck_assert_ptr_nonnull(strstr(b, "# TYPE qorgau_ready gauge\n"));
    const char *p = strstr(b, "\nqorgau_ready ");
    int v = -1;
    if (p && sscanf(p, "\nqorgau_ready %d", &v) != 1)
        v = -1;
    free(b);
    return v;
}

/* Checks every readiness view: ready with ready_ms in [lo, hi], or not ready with 0. */
static void expect_ready(bool ready, uint64_t lo, uint64_t hi)
{
    char *b;
    ck_assert_int_eq(req("GET", "/api/v1/ready", &b), (ready ? 200 : 503));
    ck_assert_str_eq(b, ready ? "{\"ready\":true}\n" : "{\"ready\":false}\n");
    free(b);

    json_t *st = status();
    json_t *node = json_object_get(st, "node");
    ck_assert_str_eq(json_string_value(json_object_get(node, "id")), NODE);
    ck_assert(json_is_boolean(json_object_get(node, "ready")));
    ck_assert_int_eq(json_is_true(json_object_get(node, "ready")), ready);
    json_t *ms = json_object_get(node, "ready_ms");
    ck_assert(json_is_integer(ms));
    uint64_t v = (uint64_t)json_integer_value(ms);
    if (ready) {
        ck_assert_uint_ge(v, lo);
        ck_assert_uint_le(v, hi);
    } else {
        ck_assert_uint_eq(v, 0);
    }
    /* this node's line of the fleet says the same; another node's says nothing */
    json_t *self = fleet_node(st, NODE), *other = fleet_node(st, "other-node");
    ck_assert_msg(self && other, "the fleet lacks a node: %s", json_dumps(st, 0));
    ck_assert_int_eq(json_is_true(json_object_get(self, "ready")), ready);
    ck_assert(json_is_boolean(json_object_get(self, "ready")));
    ck_assert_uint_eq((uint64_t)json_integer_value(json_object_get(self, "ready_ms")), v);
    ck_assert_ptr_null(json_object_get(other, "ready"));
    ck_assert_ptr_null(json_object_get(other, "ready_ms"));
    json_decref(st);

    ck_assert_int_eq(metric_ready(), ready ? 1 : 0);
}

START_TEST(test_ready_cycle)
{
    /* the listener answers before the workers run: not ready */
    expect_ready(false, 0, 0);
    uint64_t t0 = now_ms();
    adminapi_set_ready(&src, true);
    uint64_t t1 = now_ms();
    expect_ready(true, t0, t1);
    /* the workers begin to stop: the API still answers, not ready */
    adminapi_set_ready(&src, false);
    expect_ready(false, 0, 0);
    /* ready again takes a new time */
    t0 = now_ms();
    adminapi_set_ready(&src, true);
    expect_ready(true, t0, now_ms());
}
END_TEST

START_TEST(test_ready_method)
{
    char *b;
    ck_assert_int_eq(req("POST", "/api/v1/ready", &b), 405);
    free(b);
    ck_assert_int_eq(req("GET", "/api/v1/ready/x", &b), 404);
    free(b);
    ck_assert_int_eq(req("HEAD", "/api/v1/ready", &b), 503);
    free(b);
}
END_TEST

/* One GET over TCP with an optional bearer token: the status. */
static int tcp_get(const char *target, const char *token)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)adminhttp_port(http)) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char q[512], out[4096];
    int n = snprintf(q, sizeof(q), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n",
                     target, token ? "Authorization: Bearer " : "", token ? token : "",
                     token ? "\r\n" : "");
    ck_assert_int_eq(write(fd, q, (size_t)n), n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof(out) && (r = read(fd, out + got, sizeof(out) - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = 0;
    close(fd);
    int code = 0;
    ck_assert_int_eq(sscanf(out, "HTTP/1.1 %d", &code), 1);
    return code;
}

START_TEST(test_ready_auth)
{
    adminapi_set_ready(&src, true);
    /* the same scope as /api/v1/status */
    ck_assert_int_eq(tcp_get("/api/v1/ready", NULL), 401);
    ck_assert_int_eq(tcp_get("/api/v1/ready", "nope"), 401);
    ck_assert_int_eq(tcp_get("/api/v1/ready", "metrics-token"), 403);
    ck_assert_int_eq(tcp_get("/api/v1/status", "metrics-token"), 403);
    ck_assert_int_eq(tcp_get("/api/v1/ready", "read-token"), 200);
    ck_assert_int_eq(tcp_get("/api/v1/status", "read-token"), 200);
    adminapi_set_ready(&src, false);
    ck_assert_int_eq(tcp_get("/api/v1/ready", "read-token"), 503);
}
END_TEST

static Suite *adminapi_suite(void)
{
    Suite *s = suite_create("adminapi");
    TCase *tc = tcase_create("ready");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ready_cycle);
    tcase_add_test(tc, test_ready_method);
    tcase_add_test(tc, test_ready_auth);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(adminapi_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
