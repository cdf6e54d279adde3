/* check_ctnl.c - Check suite for conntrack's netlink messages (proxy/enforce/ctnl.c) and the
 * names of the connections queue mode passed (proxy/enforce/passnames.c).
 *
 * Pure: the requests byte for byte (a tuple, the mark and its mask, the dump's filter); the
 * reader over answers built here (a connection with its tuple and mark, an error, the end of a
 * dump, another subsystem's message; every cut of a message is refused or read short, never
 * past its end); the table (notes, a note again for the same tuple, the full table, long names,
 * judging again, forgetting what a dump did not list).
 * Live (root; each test in a network namespace of its own): a TCP connection over loopback
 * marked passed by an nftables rule; the dump filtered by mark lists it, the mark request
 * changes its mark (and only the bits of the mask), a tuple that is gone gets -ENOENT; then
 * passnames_step() cuts a noted connection whose name is judged blocked, leaves one that is not,
 * and forgets one conntrack no longer holds. The traffic side is tests/scripts/queue.sh. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proxy/enforce/ctnl.h"
#include "proxy/enforce/passnames.h"
#include "tests/lib/needroot.h"

static struct ctnl_tuple tuple4(uint8_t last, uint16_t sport)
{
    struct ctnl_tuple t;
    memset(&t, 0, sizeof(t));
    t.ipver = 4;
    t.proto = 6;
    t.src[0] = 10, t.src[3] = last;
    t.dst[0] = 192, t.dst[1] = 0, t.dst[2] = 2, t.dst[3] = 7;
    t.sport = sport;
    t.dport = 443;
    return t;
}

START_TEST(mark_request_bytes)
{
    uint8_t b[256];
    struct ctnl_tuple t = tuple4(1, 40000);
    size_t n = ctnl_mark_request(b, sizeof(b), &t, 0x20000, 0x30000, 9);
    /* header 16 + nfgenmsg 4; tuple: 4 + ip (4 + 8 + 8) + proto (4 + 8 + 8 + 8); mark 8, mask 8 */
    ck_assert_uint_eq(n, 16 + 4 + 4 + 20 + 28 + 8 + 8);
    struct nlmsghdr nh;
    memcpy(&nh, b, sizeof(nh));
    ck_assert_uint_eq(nh.nlmsg_len, n);
    ck_assert_uint_eq(nh.nlmsg_type, NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW);
    ck_assert_uint_eq(nh.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK); /* never NLM_F_CREATE */
    ck_assert_uint_eq(nh.nlmsg_seq, 9);
    ck_assert_uint_eq(b[16], AF_INET);
    static const uint8_t want[] = {
        52, 0, 1,  0x80,                   /* CTA_TUPLE_ORIG, nested */
        20, 0, 1,  0x80,                   /* CTA_TUPLE_IP */
        8,  0, 1,  0,    10,   0,    0, 1, /* CTA_IP_V4_SRC */
        8,  0, 2,  0,    192,  0,    2, 7, /* CTA_IP_V4_DST */
        28, 0, 2,  0x80,                   /* CTA_TUPLE_PROTO */
        5,  0, 1,  0,    6,    0,    0, 0, /* CTA_PROTO_NUM, padded */
        6,  0, 2,  0,    0x9c, 0x40, 0, 0, /* CTA_PROTO_SRC_PORT 40000 */
        6,  0, 3,  0,    0x01, 0xbb, 0, 0, /* CTA_PROTO_DST_PORT 443 */
        8,  0, 8,  0,    0,    2,    0, 0, /* CTA_MARK 0x20000 */
        8,  0, 21, 0,    0,    3,    0, 0, /* CTA_MARK_MASK 0x30000 */
    };
    ck_assert_uint_eq(sizeof(want), n - 20);
    ck_assert_int_eq(memcmp(b + 20, want, sizeof(want)), 0);
    size_t small = 0;
    for (size_t cap = 0; cap < n; cap++)
        small |= ctnl_mark_request(b, cap, &t, 0x20000, 0x30000, 9);
    ck_assert_uint_eq(small, 0);
    /* IPv6: the family and 16-byte addresses */
    t.ipver = 6;
    n = ctnl_get_request(b, sizeof(b), &t, 10);
    ck_assert_uint_eq(b[16], AF_INET6);
    memcpy(&nh, b, sizeof(nh));
    ck_assert_uint_eq(nh.nlmsg_type, NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET);
    ck_assert_uint_eq(n, 16 + 4 + 4 + (4 + 20 + 20) + 28);
    /* the dump: family unspecified, NLM_F_DUMP, the filter */
    n = ctnl_dump_request(b, sizeof(b), 0x10000, 0x30000, 11);
    memcpy(&nh, b, sizeof(nh));
    ck_assert_uint_eq(nh.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    ck_assert_uint_eq(b[16], AF_UNSPEC);
    ck_assert_uint_eq(n, 16 + 4 + 16);
}
END_TEST

/* A kernel-shaped CT_NEW message for t with mark, at seq. */
static size_t conn_msg(uint8_t *b, size_t cap, const struct ctnl_tuple *t, uint32_t mark,
                       uint32_t seq)
{
    /* the request's tuple encoding is the kernel's: build one and change its type */
    size_t n = ctnl_mark_request(b, cap, t, mark, 0xffffffffu, seq);
    struct nlmsghdr nh;
    memcpy(&nh, b, sizeof(nh));
    nh.nlmsg_flags = NLM_F_MULTI;
    memcpy(b, &nh, sizeof(nh));
    return n;
}

START_TEST(reader)
{
    uint8_t b[1024];
    struct ctnl_tuple t = tuple4(5, 41000), u = tuple4(6, 41001);
    u.ipver = 6;
    u.proto = 17;
    size_t n1 = conn_msg(b, sizeof(b), &t, 0x10000, 3);
    size_t n2 = conn_msg(b + n1, sizeof(b) - n1, &u, 0x10005, 3);
    /* an error answer (-ENOENT) and NLMSG_DONE */
    struct nlmsghdr e = { .nlmsg_len = 16 + 20, .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = 4 };
    int32_t code = -ENOENT;
    size_t at = n1 + n2;
    memcpy(b + at, &e, 16);
    memcpy(b + at + 16, &code, 4);
    memset(b + at + 20, 0, 16);
    at += 36;
    struct nlmsghdr d = { .nlmsg_len = 20, .nlmsg_type = NLMSG_DONE, .nlmsg_seq = 3 };
    memcpy(b + at, &d, 16);
    memset(b + at + 16, 0, 4);
    at += 20;
    /* another subsystem's message is skipped */
    struct nlmsghdr o = { .nlmsg_len = 20, .nlmsg_type = 10 << 8 | 1, .nlmsg_seq = 3 };
    memcpy(b + at, &o, 16);
    memset(b + at + 16, 0, 4);
    at += 20;

    size_t off = 0;
    struct ctnl_msg m;
    ck_assert_int_eq(ctnl_next(b, at, &off, &m), 1);
    ck_assert_int_eq(m.kind, CTNL_CONN);
    ck_assert(m.has_tuple && m.has_mark);
    ck_assert_int_eq(memcmp(&m.t, &t, sizeof(t)), 0);
    ck_assert_uint_eq(m.mark, 0x10000);
    ck_assert_int_eq(ctnl_next(b, at, &off, &m), 1);
    ck_assert_int_eq(memcmp(&m.t, &u, sizeof(u)), 0);
    ck_assert_uint_eq(m.mark, 0x10005);
    ck_assert_int_eq(ctnl_next(b, at, &off, &m), 1);
    ck_assert_int_eq(m.kind, CTNL_ERROR);
    ck_assert_int_eq(m.err, -ENOENT);
    ck_assert_uint_eq(m.seq, 4);
    ck_assert_int_eq(ctnl_next(b, at, &off, &m), 1);
    ck_assert_int_eq(m.kind, CTNL_DONE);
    ck_assert_int_eq(ctnl_next(b, at, &off, &m), 1);
    ck_assert_int_eq(m.kind, CTNL_OTHER);
    ck_assert_int_eq(ctnl_next(b, at, &off, &m), 0);

    /* every cut of the first message: refused, or read without its tuple - never past the cut
     * (the buffer is copied to one of exactly that size) */
    int wrong = 0;
    for (size_t cut = 0; cut < n1; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        off = 0;
        int rc = ctnl_next(c, cut, &off, &m);
        wrong += rc == 1 && m.kind == CTNL_CONN && m.has_tuple && m.has_mark;
        free(c);
    }
    ck_assert_int_eq(wrong, 0);
    /* an attribute longer than its message */
    b[20] = 200;
    off = 0;
    ck_assert_int_eq(ctnl_next(b, n1, &off, &m), -EBADMSG);
}
END_TEST

/* ---- the table ---- */

static bool judge_later(void *ctx, const struct ctnl_tuple *t, enum verdict_app app, bool ech,
                        const char *name, size_t len)
{
    (void)ctx, (void)t, (void)app, (void)ech;
    return len == 10 && memcmp(name, "later.test", 10) == 0;
}

START_TEST(table)
{
    char err[256];
    struct passnames *p = passnames_new(3, 0x10000, 0x20000, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    struct ctnl_tuple a = tuple4(1, 1), b = tuple4(2, 2), c = tuple4(3, 3), d = tuple4(4, 4);
    passnames_add(p, &a, APP_TLS, false, "later.test", 10);
    passnames_add(p, &b, APP_TLS, false, "allowed.test", 12);
    passnames_add(p, &b, APP_QUIC, false, "later.test", 10); /* b noted again: replaced */
    passnames_add(p, &c, APP_TLS, false, "other.test", 10);
    passnames_add(p, &d, APP_TLS, false, "later.test", 10); /* full */
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    passnames_add(p, &d, APP_TLS, false, longname, PASSNAMES_NAME_MAX + 1);
    struct passnames_stats st;
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 3);
    ck_assert_uint_eq(st.full, 1);
    ck_assert_uint_eq(st.long_names, 1);
    struct passnames_conn out[4];
    size_t n = passnames_rejudge(p, judge_later, NULL, out, 4);
    ck_assert_uint_eq(n, 2); /* a and b (as noted again) */
    ck_assert_int_eq(memcmp(&out[0].t, &a, sizeof(a)), 0);
    ck_assert_int_eq(memcmp(&out[1].t, &b, sizeof(b)), 0);
    ck_assert_int_eq(out[1].app, APP_QUIC);
    ck_assert_str_eq(out[1].name, "later.test");
    ck_assert_uint_eq(passnames_rejudge(p, judge_later, NULL, out, 4), 0); /* taken out */
    /* room again: d is noted; then a dump lists only d: c is forgotten */
    passnames_add(p, &d, APP_TLS, false, "other.test", 10);
    passnames_gc_begin(p);
    passnames_gc_seen(p, &d);
    ck_assert_uint_eq(passnames_gc_end(p), 1);
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 1);
    ck_assert_uint_eq(st.gone, 1);
    /* one noted during the dump (after the begin) is kept though not listed */
    passnames_gc_begin(p);
    passnames_add(p, &a, APP_TLS, false, "x.test", 6);
    passnames_gc_seen(p, &d);
    ck_assert_uint_eq(passnames_gc_end(p), 0);
    passnames_del(p, &a);
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 1);
    passnames_free(p);
    ck_assert_ptr_null(passnames_new(0, 1, 2, err, sizeof(err)));
    ck_assert_msg(strstr(err, "queue.passed_names") != NULL, "%s", err);
}
END_TEST

/* One client's share of the table (passnames_set_client_share()): a client past it is not
 * noted, others still are; a note given back (cut, deleted, forgotten) makes room for its
 * client again; noting the same connection again takes no more; IPv6 clients count by their
 * prefix. */
START_TEST(client_share)
{
    char err[256];
    struct passnames *p = passnames_new(8, 0x10000, 0x20000, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(passnames_set_client_share(p, 2, 64, err, sizeof(err)), 0);
    struct ctnl_tuple a1 = tuple4(1, 1001), a2 = tuple4(1, 1002), a3 = tuple4(1, 1003);
    struct ctnl_tuple b1 = tuple4(2, 1001);
    passnames_add(p, &a1, APP_TLS, false, "a.test", 6);
    passnames_add(p, &a2, APP_TLS, false, "a.test", 6);
    passnames_add(p, &a2, APP_TLS, false, "later.test", 10); /* noted again: no more taken */
    passnames_add(p, &a3, APP_TLS, false, "a.test", 6);      /* client 10.0.0.1 past its 2 */
    passnames_add(p, &b1, APP_TLS, false, "later.test", 10); /* another client: noted */
    struct passnames_stats st;
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 3);
    ck_assert_uint_eq(st.client_full, 1);
    ck_assert_uint_eq(st.full, 0);
    /* a2 and b1 are cut (later.test): a2's client has room again */
    struct passnames_conn out[4];
    ck_assert_uint_eq(passnames_rejudge(p, judge_later, NULL, out, 4), 2);
    passnames_add(p, &a3, APP_TLS, false, "a.test", 6);
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 2);
    ck_assert_uint_eq(st.client_full, 1);
    /* deleted and forgotten notes give back too */
    passnames_del(p, &a1);
    passnames_add(p, &a2, APP_TLS, false, "a.test", 6);
    passnames_gc_begin(p);
    passnames_gc_seen(p, &a2);
    ck_assert_uint_eq(passnames_gc_end(p), 1); /* a3 ended */
    passnames_add(p, &a1, APP_TLS, false, "a.test", 6);
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 2);
    ck_assert_uint_eq(st.client_full, 1);
    /* IPv6: two addresses of one /64 are one client; another /64 is another */
    struct ctnl_tuple v[3];
    for (int i = 0; i < 3; i++) {
        memset(&v[i], 0, sizeof(v[i]));
        v[i].ipver = 6;
        v[i].proto = 6;
        v[i].src[0] = 0x20, v[i].src[1] = 0x01, v[i].src[2] = 0x0d, v[i].src[3] = 0xb8;
        v[i].src[7] = i == 2 ? 2 : 1; /* the /64 */
        v[i].src[15] = (uint8_t)(i + 1);
        v[i].dst[0] = 0x20, v[i].dst[15] = 7;
        v[i].sport = 2000;
        v[i].dport = 443;
    }
    struct ctnl_tuple v1b = v[1];
    v1b.sport = 2001;
    passnames_add(p, &v[0], APP_TLS, false, "a.test", 6);
    passnames_add(p, &v[1], APP_TLS, false, "a.test", 6);
    passnames_add(p, &v1b, APP_TLS, false, "a.test", 6); /* the /64's third: past 2 */
    passnames_add(p, &v[2], APP_TLS, false, "a.test", 6);
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 5);
    ck_assert_uint_eq(st.client_full, 2);
    passnames_free(p);
    /* no share (0, or the whole table): one client fills it */
    p = passnames_new(2, 0x10000, 0x20000, err, sizeof(err));
    ck_assert_int_eq(passnames_set_client_share(p, 0, 64, err, sizeof(err)), 0);
    passnames_add(p, &a1, APP_TLS, false, "a.test", 6);
    passnames_add(p, &a2, APP_TLS, false, "a.test", 6);
    passnames_add(p, &a3, APP_TLS, false, "a.test", 6);
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 2);
    ck_assert_uint_eq(st.full, 1);
    ck_assert_uint_eq(st.client_full, 0);
    passnames_free(p);
}
END_TEST

/* ---- live ---- */

static int nl_socket(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    return fd;
}

/* Sends req and reads its answers: the marks of the connections listed (into marks, *n of them,
 * their tuples into ts), and the error code (0: acknowledged or done). */
static int exchange(int fd, const uint8_t *req, size_t len, uint32_t seq, struct ctnl_tuple *ts,
                    uint32_t *marks, size_t *n)
{
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    ck_assert_int_eq(sendto(fd, req, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
    static uint8_t buf[65536];
    if (n)
        *n = 0;
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof(buf), 0);
        ck_assert_int_gt(got, 0);
        size_t off = 0;
        struct ctnl_msg m;
        while (ctnl_next(buf, (size_t)got, &off, &m) == 1) {
            if (m.seq != seq)
                continue;
            if (m.kind == CTNL_ERROR)
                return m.err;
            if (m.kind == CTNL_DONE)
                return 0;
            if (m.kind == CTNL_CONN && n && m.has_tuple && *n < 8) {
                ts[*n] = m.t;
                marks[(*n)++] = m.mark;
                if (!(m.seq && len > 0 && ((const struct nlmsghdr *)req)->nlmsg_flags & NLM_F_DUMP))
                    return 0; /* a GET's one answer */
            }
        }
    }
}

/* A loopback TCP connection in a namespace of our own whose conntrack entry carries mark
 * 0x10000 (an nftables rule, as queue mode's rules would set after a pass). Returns its client
 * socket; *t gets its tuple, *srv and *lst the server's sockets. */
static int marked_connection(struct ctnl_tuple *t, int *srv, int *lst)
{
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
    ck_assert_int_eq(system("ip link set lo up && nft add table ip qg_ct && nft add chain ip "
                            "qg_ct out '{ type filter hook output priority 0; }' && nft add rule "
                            "ip qg_ct out tcp dport 4443 ct mark set 0x10005"),
                     0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(4443) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *lst = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(*lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(bind(*lst, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(*lst, 4), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    *srv = accept(*lst, NULL, NULL);
    ck_assert_int_ge(*srv, 0);
    struct sockaddr_in me;
    socklen_t sl = sizeof(me);
    ck_assert_int_eq(getsockname(c, (struct sockaddr *)&me, &sl), 0);
    memset(t, 0, sizeof(*t));
    t->ipver = 4;
    t->proto = 6;
    memcpy(t->src, &me.sin_addr, 4);
    memcpy(t->dst, &a.sin_addr, 4);
    t->sport = ntohs(me.sin_port);
    t->dport = 4443;
    return c;
}

START_TEST(live_dump_and_mark)
{
    NEEDROOT("check_ctnl: the live conntrack tests");
    struct ctnl_tuple t, ts[8];
    int srv, lst;
    int c = marked_connection(&t, &srv, &lst);
    int fd = nl_socket();
    uint8_t req[256];
    uint32_t marks[8];
    size_t n;
    /* the dump filtered by mark: 0x10000 within 0x30000 lists it (its mark is 0x10005) */
    size_t len = ctnl_dump_request(req, sizeof(req), 0x10000, 0x30000, 21);
    ck_assert_int_eq(exchange(fd, req, len, 21, ts, marks, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(memcmp(&ts[0], &t, sizeof(t)), 0);
    ck_assert_uint_eq(marks[0], 0x10005);
    /* ... and 0x20000 within 0x30000 lists nothing */
    len = ctnl_dump_request(req, sizeof(req), 0x20000, 0x30000, 22);
    ck_assert_int_eq(exchange(fd, req, len, 22, ts, marks, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* the mark request: 0x20000 in the bits 0x30000, the others kept */
    len = ctnl_mark_request(req, sizeof(req), &t, 0x20000, 0x30000, 23);
    ck_assert_int_eq(exchange(fd, req, len, 23, NULL, NULL, NULL), 0);
    len = ctnl_get_request(req, sizeof(req), &t, 24);
    ck_assert_int_eq(exchange(fd, req, len, 24, ts, marks, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(marks[0], 0x20005);
    /* a tuple no connection has: -ENOENT, and none is made */
    struct ctnl_tuple gone = t;
    gone.sport = (uint16_t)(t.sport + 1);
    len = ctnl_mark_request(req, sizeof(req), &gone, 0x20000, 0x30000, 25);
    ck_assert_int_eq(exchange(fd, req, len, 25, NULL, NULL, NULL), -ENOENT);
    len = ctnl_get_request(req, sizeof(req), &gone, 26);
    ck_assert_int_eq(exchange(fd, req, len, 26, ts, marks, &n), -ENOENT);
    close(fd);
    close(c);
    close(srv);
    close(lst);
}
END_TEST

struct cuts {
    unsigned n;
    char name[PASSNAMES_NAME_MAX + 1];
};

static uint64_t no_version(void *ctx)
{
    (void)ctx;
    return 1;
}

static void on_cut(void *ctx, const struct passnames_conn *c)
{
    struct cuts *k = ctx;
    k->n++;
    snprintf(k->name, sizeof(k->name), "%s", c->name);
}

START_TEST(live_step)
{
    NEEDROOT("check_ctnl: the live conntrack tests");
    struct ctnl_tuple t, other, ts[8];
    int srv, lst;
    int c = marked_connection(&t, &srv, &lst);
    other = t;
    other.sport = (uint16_t)(t.sport + 1); /* no such connection */
    char err[256];
    struct passnames *p = passnames_new(16, 0x10000, 0x20000, err, sizeof(err));
    ck_assert_ptr_nonnull(p);
    if (_i) /* queue.mark_cut, with the kernel's table: the cut carries it too */
        passnames_set_cut_mark(p, 0x40000);
    struct cuts k = { 0, "" };
    struct passnames_source src = {
        .version = no_version, .judge = judge_later, .on_cut = on_cut, .ctx = &k, .gc_ms = 60000
    };
    int fd = nl_socket();
    /* noted on an allowed name: the walk leaves it */
    passnames_add(p, &t, APP_TLS, false, "allowed.test", 12);
    passnames_add(p, &other, APP_TLS, false, "allowed.test", 12);
    passnames_step(p, &src, fd, true, false);
    ck_assert_uint_eq(k.n, 0);
    /* the dump forgets the one conntrack does not hold */
    passnames_step(p, &src, fd, false, true);
    struct passnames_stats st;
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.noted, 1);
    ck_assert_uint_eq(st.gone, 1);
    /* noted again on a name the judge blocks: cut, its mark now blocked */
    passnames_add(p, &t, APP_TLS, false, "later.test", 10);
    passnames_step(p, &src, fd, true, false);
    ck_assert_uint_eq(k.n, 1);
    ck_assert_str_eq(k.name, "later.test");
    uint8_t req[256];
    uint32_t marks[8];
    size_t n;
    size_t len = ctnl_get_request(req, sizeof(req), &t, 31);
    ck_assert_int_eq(exchange(fd, req, len, 31, ts, marks, &n), 0);
    ck_assert_uint_eq(marks[0], _i ? 0x60005u : 0x20005u); /* with queue.mark_cut: both */
    passnames_get_stats(p, &st);
    ck_assert_uint_eq(st.cut, 1);
    ck_assert_uint_eq(st.noted, 0);
    ck_assert_uint_eq(st.errors, 0);
    /* a connection blocked already (or a kept-alive HTTP one) is not touched: noted again, its
     * mark is not the pass mark alone */
    passnames_add(p, &t, APP_TLS, false, "later.test", 10);
    passnames_step(p, &src, fd, true, false);
    ck_assert_uint_eq(k.n, 1);
    passnames_free(p);
    close(fd);
    close(c);
    close(srv);
    close(lst);
}
END_TEST

static Suite *ctnl_suite(void)
{
    Suite *s = suite_create("ctnl");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, mark_request_bytes);
    tcase_add_test(tc, reader);
    tcase_add_test(tc, table);
    tcase_add_test(tc, client_share);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 20);
    tcase_add_test(live, live_dump_and_mark);
    tcase_add_loop_test(live, live_step, 0, 2);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ctnl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
