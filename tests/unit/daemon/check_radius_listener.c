/* check_radius_listener.c - Check suite for the RADIUS Accounting listener
 * (proxy/daemon/radius.c) over the directory store: client matching (most specific prefix,
 * IPv4-mapped sources), the retransmission cache (answered again, applied once), wrong secret,
 * unknown client, malformed packets, Start/Interim/Stop on the store and the node's map, the
 * subscriber id preference with fall-back, the TTL from Acct-Interim-Interval, a store that
 * fails (no answer; the retransmission is applied), the config line parsers, and one real UDP
 * round trip through the listener's thread. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/daemon/radius.h"
#include "rules/match/rsref.h"
#include "rules/store/store.h"
#include "rules/subs/radius.h"
#include "tests/lib/radpkt.h"

static char g_tmp[64];
static char g_secret[128], g_secret2[128];
static char g_store[128];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void write_secret(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", s);
    fclose(f);
    chmod(path, 0600);
}

static void setup(void)
{
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/qg-check-radius-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_secret, sizeof(g_secret), "%s/s1", g_tmp);
    snprintf(g_secret2, sizeof(g_secret2), "%s/s2", g_tmp);
    snprintf(g_store, sizeof(g_store), "dir://%s/store", g_tmp);
    write_secret(g_secret, "wide-secret");
    write_secret(g_secret2, "narrow-secret");
    rsref_thread_register();
}

static void teardown(void)
{
    nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct radius_listener *open_l(int subscriber_id)
{
    static char l1[300], l2[300];
    snprintf(l1, sizeof(l1), "127.0.0.0/8 %s", g_secret);
    snprintf(l2, sizeof(l2), "127.0.0.9 %s", g_secret2);
    static char *items[2] = { l1, l2 };
    static struct config_list cl = { 2, items };
    struct radius_config c = { .listen = "127.0.0.1:0",
                               .clients = &cl,
                               .store_url = g_store,
                               .session_ttl_ms = 7200000,
                               .subscriber_id = subscriber_id,
                               .map_capacity = 1024 };
    char err[1024];
    struct radius_listener *l = radius_listener_new(&c, NULL, err, sizeof(err));
    ck_assert_msg(l != NULL, "%s", err);
    return l;
}

/* A packet: status, session, IPv4 a.b.c.d (d), Calling-Station-Id msisdn (or none), an IMSI
 * VSA (or none), Acct-Interim-Interval (0: none). */
static int mk(uint8_t *out, uint8_t id, const char *secret, uint32_t st, const char *sess,
              uint8_t d, const char *msisdn, const char *imsi, uint32_t interim)
{
    uint8_t a[512];
    size_t k = radpkt_u32(a, 40, st);
    if (sess)
        k += radpkt_attr(a + k, 44, sess, strlen(sess));
    uint8_t ip[4] = { 10, 0, 0, d };
    k += radpkt_attr(a + k, 8, ip, 4);
    if (msisdn)
        k += radpkt_attr(a + k, 31, msisdn, strlen(msisdn));
    if (imsi) {
        uint8_t v[64] = { 0, 0, 0x28, 0xaf, 1, (uint8_t)(strlen(imsi) + 2) };
        memcpy(v + 6, imsi, strlen(imsi));
        k += radpkt_attr(a + k, 26, v, 6 + strlen(imsi));
    }
    if (interim)
        k += radpkt_u32(a + k, 85, interim);
    return radius_acct_build(id, a, k, (const uint8_t *)secret, strlen(secret), out, RADIUS_MAX);
}

static void from(struct radius_dgram *d, const char *ip, uint16_t port)
{
    memset(&d->from, 0, sizeof(d->from));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&d->from;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &s->sin6_addr);
        d->fromlen = sizeof(*s);
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&d->from;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        inet_pton(AF_INET, ip, &s->sin_addr);
        d->fromlen = sizeof(*s);
    }
}

/* Hands one datagram (from d's address) to the listener; returns how many were answered. */
static size_t one(struct radius_listener *l, struct radius_dgram *d, const uint8_t *buf, int n)
{
    d->buf = buf;
    d->len = (size_t)n;
    return radius_listener_process(l, d, 1, store_now_ms());
}

static const char *who(struct radius_listener *l, uint8_t d)
{
    static char sub[64];
    uint8_t ip[4] = { 10, 0, 0, d };
    return submap_lookup(radius_listener_map(l), 4, ip, store_now_ms(), sub, sizeof(sub), NULL, 0)
               ? sub
               : "-";
}

static struct store_sub g_got;
static char g_got_sub[64];
static int got_cb(void *ctx, const struct store_sub *e)
{
    (void)ctx;
    g_got = *e;
    snprintf(g_got_sub, sizeof(g_got_sub), "%s", e->subscriber);
    return 0;
}

static const char *stored(const char *addr)
{
    char err[512];
    struct store *s = store_open(g_store, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    int rc = store_sub_get(s, addr, got_cb, NULL, err, sizeof(err));
    store_free(s);
    return rc == 0 ? g_got_sub : "-";
}

START_TEST(start_dup_stop)
{
    struct radius_listener *l = open_l(RADIUS_ID_MSISDN);
    uint8_t p[4][RADIUS_MAX];
    struct radius_dgram d[4];
    int n0 = mk(p[0], 1, "wide-secret", RADIUS_START, "s1", 1, "77010000001", NULL, 0);
    /* the same packet twice in one batch, once more later */
    for (int i = 0; i < 2; i++) {
        from(&d[i], "127.0.0.1", 5000);
        d[i].buf = p[0];
        d[i].len = (size_t)n0;
    }
    ck_assert_uint_eq(radius_listener_process(l, d, 2, store_now_ms()), 1);
    ck_assert(d[0].answer);
    ck_assert(!d[1].answer); /* answered with the first copy */
    uint8_t want[20];
    radius_acct_response(1, p[0] + 4, (const uint8_t *)"wide-secret", 11, want, 20);
    ck_assert_mem_eq(d[0].resp, want, 20);
    ck_assert_str_eq(who(l, 1), "77010000001");
    ck_assert_str_eq(stored("10.0.0.1"), "77010000001");
    ck_assert_uint_ge(g_got.expires_ms, store_now_ms() + 7100000);
    ck_assert_uint_eq(radius_listener_process(l, d, 1, store_now_ms()), 1);
    ck_assert_mem_eq(d[0].resp, want, 20);
    /* a different source port is another packet */
    from(&d[0], "127.0.0.1", 5001);
    ck_assert_uint_eq(radius_listener_process(l, d, 1, store_now_ms()), 1);
    struct radius_counters c;
    radius_listener_stats(l, &c);
    ck_assert_uint_eq(c.duplicates, 2);
    ck_assert_uint_eq(c.mapped, 2);
    ck_assert_uint_eq(c.accepted, 2);
    /* Interim with Acct-Interim-Interval 60: TTL 180 s */
    int n1 = mk(p[1], 2, "wide-secret", RADIUS_INTERIM, "s1", 1, "77010000001", NULL, 60);
    from(&d[0], "127.0.0.1", 5000);
    ck_assert_uint_eq(one(l, d, p[1], n1), 1);
    ck_assert_str_eq(stored("10.0.0.1"), "77010000001");
    ck_assert_uint_le(g_got.expires_ms, store_now_ms() + 180000);
    ck_assert_uint_ge(g_got.expires_ms, store_now_ms() + 170000);
    /* Stop of another session leaves it; of s1 removes it */
    int n2 = mk(p[2], 3, "wide-secret", RADIUS_STOP, "old", 1, NULL, NULL, 0);
    int n3 = mk(p[3], 4, "wide-secret", RADIUS_STOP, "s1", 1, NULL, NULL, 0);
    ck_assert_uint_eq(one(l, d, p[2], n2), 1);
    ck_assert_str_eq(who(l, 1), "77010000001");
    ck_assert_str_eq(stored("10.0.0.1"), "77010000001");
    ck_assert_uint_eq(one(l, d, p[3], n3), 1);
    ck_assert_str_eq(who(l, 1), "-");
    ck_assert_str_eq(stored("10.0.0.1"), "-");
    radius_listener_stats(l, &c);
    ck_assert_uint_eq(c.removed, 1);
    radius_listener_free(l);
}
END_TEST

START_TEST(refusals)
{
    struct radius_listener *l = open_l(RADIUS_ID_MSISDN);
    uint8_t p[3][RADIUS_MAX];
    struct radius_dgram d[5];
    int n = mk(p[0], 1, "wide-secret", RADIUS_START, "s", 2, "7701", NULL, 0);
    from(&d[0], "192.0.2.1", 1);        /* unknown client */
    from(&d[1], "127.0.0.9", 1);        /* the narrow client: its own secret */
    from(&d[2], "::1", 1);              /* unknown (IPv6) */
    from(&d[3], "::ffff:127.0.0.2", 1); /* IPv4-mapped: the wide client */
    for (int i = 0; i < 4; i++) {
        d[i].buf = p[0];
        d[i].len = (size_t)n;
    }
    p[1][0] = 4; /* malformed: length field over the datagram */
    memcpy(p[1], p[0], 20);
    from(&d[4], "127.0.0.1", 1);
    d[4].buf = p[1];
    d[4].len = 20;
    ck_assert_uint_eq(radius_listener_process(l, d, 5, store_now_ms()), 1);
    ck_assert(!d[0].answer && !d[1].answer && !d[2].answer && d[3].answer && !d[4].answer);
    struct radius_counters c;
    radius_listener_stats(l, &c);
    ck_assert_uint_eq(c.received, 5);
    ck_assert_uint_eq(c.unknown_client, 2);
    ck_assert_uint_eq(c.bad_authenticator, 1);
    ck_assert_uint_eq(c.malformed, 1);
    ck_assert_uint_eq(c.accepted, 1);
    /* the narrow client with its secret */
    n = mk(p[2], 2, "narrow-secret", RADIUS_START, "s", 3, "7703", NULL, 0);
    ck_assert_uint_eq(one(l, d + 1, p[2], n), 1);
    ck_assert_str_eq(who(l, 3), "7703");
    radius_listener_free(l);
}
END_TEST

START_TEST(subscriber_preference)
{
    struct radius_listener *l = open_l(RADIUS_ID_IMSI);
    uint8_t p[3][RADIUS_MAX];
    struct radius_dgram d[3];
    int n0 = mk(p[0], 1, "wide-secret", RADIUS_START, "a", 1, "77010000001", "401770000000001", 0);
    int n1 = mk(p[1], 2, "wide-secret", RADIUS_START, "b", 2, "77010000002", NULL, 0);
    int n2 = mk(p[2], 3, "wide-secret", RADIUS_START, "c", 3, NULL, NULL, 0);
    int ns[3] = { n0, n1, n2 };
    for (int i = 0; i < 3; i++) {
        from(&d[i], "127.0.0.1", 7);
        d[i].buf = p[i];
        d[i].len = (size_t)ns[i];
    }
    ck_assert_uint_eq(radius_listener_process(l, d, 3, store_now_ms()), 3);
    ck_assert_str_eq(who(l, 1), "401770000000001");
    ck_assert_str_eq(who(l, 2), "77010000002"); /* no IMSI: the MSISDN */
    ck_assert_str_eq(who(l, 3), "-");           /* no id at all: answered, not mapped */
    struct radius_counters c;
    radius_listener_stats(l, &c);
    ck_assert_uint_eq(c.no_subscriber, 1);
    radius_listener_free(l);
}
END_TEST

START_TEST(store_failure_unanswered)
{
    struct radius_listener *l = open_l(RADIUS_ID_MSISDN);
    char subs[128];
    snprintf(subs, sizeof(subs), "%s/store/subs", g_tmp);
    ck_assert_int_eq(rmdir(subs), 0);
    FILE *f = fopen(subs, "w"); /* a file where the directory was: every write fails */
    ck_assert_ptr_nonnull(f);
    fclose(f);
    uint8_t p[RADIUS_MAX];
    struct radius_dgram d[1];
    int n = mk(p, 1, "wide-secret", RADIUS_START, "s", 4, "7704", NULL, 0);
    from(&d[0], "127.0.0.1", 9);
    ck_assert_uint_eq(one(l, d, p, n), 0);
    ck_assert_str_eq(who(l, 4), "-");
    unlink(subs);
    ck_assert_int_eq(mkdir(subs, 0750), 0);
    /* the client's retransmission is applied, not taken for a duplicate */
    ck_assert_uint_eq(radius_listener_process(l, d, 1, store_now_ms()), 1);
    ck_assert_str_eq(who(l, 4), "7704");
    ck_assert_str_eq(stored("10.0.0.4"), "7704");
    struct radius_counters c;
    radius_listener_stats(l, &c);
    ck_assert_uint_eq(c.store_errors, 1);
    ck_assert_uint_eq(c.duplicates, 0);
    radius_listener_free(l);
}
END_TEST

START_TEST(udp_round_trip)
{
    struct radius_listener *l = open_l(RADIUS_ID_MSISDN);
    ck_assert_int_eq(radius_listener_start(l), 0);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(radius_listener_port(l)) };
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t p[RADIUS_MAX], r[64];
    int n = mk(p, 42, "wide-secret", RADIUS_START, "u", 5, "7705", NULL, 0);
    ck_assert_int_eq(sendto(fd, p, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
    ck_assert_int_eq(recv(fd, r, sizeof(r), 0), 20);
    ck_assert_uint_eq(r[0], 5);
    ck_assert_uint_eq(r[1], 42);
    /* retransmitted: the same response */
    uint8_t r2[64];
    ck_assert_int_eq(sendto(fd, p, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
    ck_assert_int_eq(recv(fd, r2, sizeof(r2), 0), 20);
    ck_assert_mem_eq(r, r2, 20);
    ck_assert_str_eq(who(l, 5), "7705");
    close(fd);
    /* the thread counts an answer once sendmmsg() returned: the reply may arrive first */
    struct radius_counters c;
    for (int i = 0; i < 100; i++) {
        radius_listener_stats(l, &c);
        if (c.answered == 2)
            break;
        usleep(10000);
    }
    ck_assert_uint_eq(c.answered, 2);
    ck_assert_uint_eq(c.duplicates, 1);
    radius_listener_free(l);
}
END_TEST

START_TEST(config_lines)
{
    struct radius_client c;
    char err[1200];
    ck_assert_int_eq(
        radius_client_parse("10.0.0.0/8 /etc/qorgau/bras.secret", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_uint_eq(c.plen, 8);
    ck_assert_str_eq(c.secret_file, "/etc/qorgau/bras.secret");
    ck_assert_int_eq(radius_client_parse("2001:db8::1 /s", &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.plen, 128);
    static const char *const bad[] = { "10.0.0.1", "10.0.0.1/33 /s", "host /s", "10.0.0.1 /a /b",
                                       " /s",      "10.0.0.1/x /s" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(radius_client_parse(bad[i], &c, err, sizeof(err)) == -EINVAL, "%s", bad[i]);
        ck_assert_msg(strncmp(err, "radius.client '", 15) == 0, "%s", err);
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    ck_assert_int_eq(radius_listen_parse("127.0.0.1:1813", &ss, &sl, err, sizeof(err)), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(radius_listen_parse("[::1]:1813", &ss, &sl, err, sizeof(err)), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(radius_listen_parse("127.0.0.1", &ss, &sl, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(radius_listen_parse("::1:1813", &ss, &sl, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(radius_listen_parse("1.2.3.4:70000", &ss, &sl, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(secret_file_refused)
{
    chmod(g_secret, 0644);
    static char l1[300];
    snprintf(l1, sizeof(l1), "127.0.0.1 %s", g_secret);
    char *items[1] = { l1 };
    struct config_list cl = { 1, items };
    struct radius_config c = {
        .listen = "127.0.0.1:0", .clients = &cl, .store_url = g_store, .map_capacity = 16
    };
    char err[1024] = "";
    ck_assert_ptr_null(radius_listener_new(&c, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, g_secret) && !strstr(err, "wide-secret"), "%s", err);
}
END_TEST

static Suite *radius_listener_suite(void)
{
    Suite *s = suite_create("radius_listener");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, start_dup_stop);
    tcase_add_test(tc, subscriber_preference);
    tcase_add_test(tc, udp_round_trip);
    tcase_add_test(tc, config_lines);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, store_failure_unanswered);
    tcase_add_test(tc, secret_file_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(radius_listener_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
