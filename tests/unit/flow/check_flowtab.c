/* check_flowtab.c - both directions, client decision (EVASION T15), eviction, timeouts, reuse,
 * flush, and buffer release through the reassembly pool. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/flow/flowtab.h"
#include "proxy/flow/tcpreasm.h"

#define SEC 1000000ull

static struct pkt mkpkt(int ipver, uint8_t proto, const char *src, uint16_t sport, const char *dst,
                        uint16_t dport, uint8_t flags, size_t plen)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.ipver = (uint8_t)ipver;
    p.l4proto = proto;
    /* addresses given as one distinguishing byte each */
    if (ipver == 4) {
        p.src[0] = 10;
        p.dst[0] = 10;
        p.src[3] = (uint8_t)src[0];
        p.dst[3] = (uint8_t)dst[0];
    } else {
        p.src[0] = 0x20;
        p.dst[0] = 0x20;
        p.src[15] = (uint8_t)src[0];
        p.dst[15] = (uint8_t)dst[0];
    }
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    static const uint8_t junk[2000];
    p.payload = junk;
    p.payload_len = plen;
    p.l4_csum_ok = true;
    return p;
}

static struct pkt rev(const struct pkt *p, uint8_t flags, size_t plen)
{
    struct pkt r = *p;
    memcpy(r.src, p->dst, 16);
    memcpy(r.dst, p->src, 16);
    r.sport = p->dport;
    r.dport = p->sport;
    r.tcp_flags = flags;
    r.payload_len = plen;
    return r;
}

static struct flowtab *mk(uint32_t max, flowtab_cb cb, void *ctx, struct tcpreasm_pool *pl)
{
    struct flowtab_cfg cfg;
    flowtab_cfg_default(&cfg);
    cfg.max_flows = max;
    cfg.on_evict = cb;
    cfg.evict_ctx = ctx;
    cfg.reasm = pl;
    struct flowtab *ft = flowtab_new(&cfg);
    ck_assert_ptr_nonnull(ft);
    return ft;
}

struct seen {
    int n[5];
    struct flow last;
};

static void count_cb(struct flow *f, enum flowtab_why why, void *ctx)
{
    struct seen *s = ctx;
    s->n[why]++;
    s->last = *f;
}

START_TEST(both_directions)
{
    struct flowtab *ft = mk(16, NULL, NULL, NULL);
    bool is_new;
    int dir;
    struct pkt syn = mkpkt(4, 6, "\x05", 50000, "\x09", 443, TCPF_SYN, 0);
    struct flow *f = flowtab_get(ft, &syn, 1 * SEC, &is_new, &dir);
    ck_assert_ptr_nonnull(f);
    ck_assert(is_new);
    ck_assert_int_eq(dir, 0);
    struct pkt sa = rev(&syn, TCPF_SYN | TCPF_ACK, 0);
    struct flow *g = flowtab_get(ft, &sa, 2 * SEC, &is_new, &dir);
    ck_assert_ptr_eq(f, g);
    ck_assert(!is_new);
    ck_assert_int_eq(dir, 1);
    struct pkt data = syn;
    data.tcp_flags = TCPF_ACK;
    data.payload_len = 100;
    g = flowtab_get(ft, &data, 3 * SEC, &is_new, &dir);
    ck_assert_ptr_eq(f, g);
    ck_assert_int_eq(dir, 0);
    ck_assert_uint_eq(f->pkts[0], 2);
    ck_assert_uint_eq(f->pkts[1], 1);
    ck_assert_uint_eq(f->bytes[0], 100);
    ck_assert_uint_eq(f->first_s, 1);
    ck_assert_uint_eq(f->last_us, 3 * SEC);
    ck_assert_int_eq(flowtab_client_port(f), 50000);
    ck_assert_int_eq(flowtab_server_port(f), 443);
    ck_assert_int_eq(flowtab_client_addr(f)[3], 5);
    ck_assert_int_eq(flowtab_server_addr(f)[3], 9);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_SYN);
    /* other port, other protocol, other version: other flows */
    struct pkt o = syn;
    o.sport = 50001;
    ck_assert_ptr_ne(flowtab_get(ft, &o, 4 * SEC, &is_new, &dir), f);
    ck_assert(is_new);
    o = syn;
    o.l4proto = 17;
    ck_assert_ptr_ne(flowtab_get(ft, &o, 4 * SEC, &is_new, &dir), f);
    ck_assert(is_new);
    o = mkpkt(6, 6, "\x05", 50000, "\x09", 443, TCPF_SYN, 0);
    struct flow *h = flowtab_get(ft, &o, 4 * SEC, &is_new, &dir);
    ck_assert(is_new);
    struct pkt o2 = rev(&o, TCPF_ACK, 10);
    ck_assert_ptr_eq(flowtab_get(ft, &o2, 5 * SEC, &is_new, &dir), h);
    ck_assert_int_eq(dir, 1);
    /* not TCP/UDP */
    o.l4proto = 1;
    ck_assert_ptr_null(flowtab_get(ft, &o, 5 * SEC, &is_new, &dir));
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.created, 4);
    ck_assert_uint_eq(st.active, 4);
    ck_assert_uint_eq(st.not_tcp_udp, 1);
    ck_assert_uint_le(sizeof(struct flow), 128);
    flowtab_free(ft);
    flowtab_free(NULL);
}
END_TEST

START_TEST(client_decision_t15)
{
    struct flowtab *ft = mk(64, NULL, NULL, NULL);
    bool is_new;
    int dir;
    /* SYN between two high ports: the SYN's sender */
    struct pkt p = mkpkt(4, 6, "\x09", 40000, "\x05", 50000, TCPF_SYN, 0);
    struct flow *f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_port(f), 40000);
    ck_assert_int_eq(dir, 0);
    /* first packet seen is the SYN-ACK: its receiver */
    p = mkpkt(4, 6, "\x01", 443, "\x02", 33000, TCPF_SYN | TCPF_ACK, 0);
    f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_port(f), 33000);
    ck_assert_int_eq(dir, 1);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_SYN);
    /* mid-stream, the server speaks first: ports decide (8443) */
    p = mkpkt(4, 6, "\x01", 8443, "\x02", 1000, TCPF_ACK, 50);
    f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_server_port(f), 8443);
    ck_assert_int_eq(dir, 1);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_PORT);
    /* no web port: the lower well-known port is the server */
    p = mkpkt(4, 17, "\x01", 53, "\x02", 5353, 0, 30);
    f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_server_port(f), 53);
    ck_assert_int_eq(dir, 1);
    /* UDP 443 (QUIC) */
    p = mkpkt(6, 17, "\x07", 61000, "\x03", 443, 0, 1200);
    f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(dir, 0);
    /* high ports, no SYN: first packet guesses, first data decides */
    p = mkpkt(4, 6, "\x01", 40001, "\x02", 40002, TCPF_ACK, 0);
    f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_GUESS);
    ck_assert_int_eq(flowtab_client_port(f), 40001);
    struct pkt r = rev(&p, TCPF_ACK | TCPF_PSH, 200);
    f = flowtab_get(ft, &r, 2, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_DATA);
    ck_assert_int_eq(flowtab_client_port(f), 40002);
    ck_assert_int_eq(dir, 0);
    p.payload_len = 10; /* later data from the other side changes nothing */
    f = flowtab_get(ft, &p, 3, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_port(f), 40002);
    ck_assert_int_eq(dir, 1);
    /* ports said server, then a SYN shows otherwise: the SYN wins */
    p = mkpkt(4, 6, "\x01", 80, "\x02", 2000, TCPF_ACK, 0);
    f = flowtab_get(ft, &p, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_server_port(f), 80);
    p.tcp_flags = TCPF_SYN;
    f = flowtab_get(ft, &p, 2, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_port(f), 80);
    ck_assert_int_eq(dir, 0);
    flowtab_free(ft);
}
END_TEST

START_TEST(simultaneous_open_t15)
{
    struct flowtab *ft = mk(64, NULL, NULL, NULL);
    bool is_new;
    int dir;
    /* the server's bare SYN is seen first: it is taken for the client for now */
    struct pkt ssyn = mkpkt(4, 6, "\x01", 443, "\x02", 40000, TCPF_SYN, 0);
    struct flow *f = flowtab_get(ft, &ssyn, 1, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_port(f), 443);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_SYN);
    /* the other end's bare SYN: simultaneous open, the port decides */
    struct pkt csyn = rev(&ssyn, TCPF_SYN, 0);
    ck_assert_ptr_eq(flowtab_get(ft, &csyn, 2, &is_new, &dir), f);
    ck_assert(!is_new);
    ck_assert_int_eq(flowtab_client_port(f), 40000);
    ck_assert_int_eq(flowtab_server_port(f), 443);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_PORT);
    ck_assert_int_eq(dir, 0);
    ck_assert(f->fl & FLOW_F_SIMOPEN);
    /* the two SYN-ACKs and SYN retransmits change nothing */
    struct pkt p = csyn;
    p.tcp_flags = TCPF_SYN | TCPF_ACK;
    flowtab_get(ft, &p, 3, &is_new, &dir);
    ck_assert_int_eq(dir, 0);
    p = ssyn;
    p.tcp_flags = TCPF_SYN | TCPF_ACK;
    flowtab_get(ft, &p, 4, &is_new, &dir);
    ck_assert_int_eq(dir, 1);
    flowtab_get(ft, &ssyn, 5, &is_new, &dir);
    ck_assert_int_eq(dir, 1);
    ck_assert_int_eq(flowtab_client_port(f), 40000);

    /* two high ports: the first sender of data decides, whatever the SYN order */
    ssyn = mkpkt(4, 6, "\x03", 50000, "\x04", 40000, TCPF_SYN, 0);
    f = flowtab_get(ft, &ssyn, 1, &is_new, &dir);
    ck_assert(is_new);
    csyn = rev(&ssyn, TCPF_SYN, 0);
    flowtab_get(ft, &csyn, 2, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_GUESS);
    p = rev(&ssyn, TCPF_SYN | TCPF_ACK, 0);
    flowtab_get(ft, &p, 3, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_GUESS);
    p = rev(&ssyn, TCPF_ACK | TCPF_PSH, 100); /* 40000 speaks first */
    flowtab_get(ft, &p, 4, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_DATA);
    ck_assert_int_eq(flowtab_client_port(f), 40000);
    ck_assert_int_eq(dir, 0);
    p = ssyn;
    p.tcp_flags = TCPF_ACK;
    p.payload_len = 50;
    flowtab_get(ft, &p, 5, &is_new, &dir);
    ck_assert_int_eq(flowtab_client_port(f), 40000);
    ck_assert_int_eq(dir, 1);

    /* a plain handshake is not a simultaneous open: the same end's SYN again changes nothing */
    csyn = mkpkt(4, 6, "\x05", 40000, "\x06", 50000, TCPF_SYN, 0);
    f = flowtab_get(ft, &csyn, 1, &is_new, &dir);
    flowtab_get(ft, &csyn, 2, &is_new, &dir);
    p = rev(&csyn, TCPF_SYN | TCPF_ACK, 0);
    flowtab_get(ft, &p, 3, &is_new, &dir);
    ck_assert_int_eq(dir, 1);
    ck_assert(!(f->fl & FLOW_F_SIMOPEN));
    ck_assert_int_eq(flowtab_client_by(f), FLOW_CLIENT_BY_SYN);
    ck_assert_int_eq(flowtab_client_port(f), 40000);
    flowtab_free(ft);
}
END_TEST

START_TEST(eviction_when_full)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    struct flowtab *ft = mk(4, count_cb, &s, NULL);
    bool is_new;
    int dir;
    struct flow *fl[4];
    for (uint16_t i = 0; i < 4; i++) {
        struct pkt p = mkpkt(4, 17, "\x01", (uint16_t)(40000 + i), "\x02", 443, 0, 10);
        fl[i] = flowtab_get(ft, &p, i, &is_new, &dir);
        ck_assert(is_new);
    }
    /* the clock hand clears every REF bit once, then takes the first flow it meets */
    struct pkt p = mkpkt(4, 17, "\x01", 41000, "\x02", 443, 0, 10);
    struct flow *n = flowtab_get(ft, &p, 10, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_int_eq(s.n[FLOWTAB_EVICTED], 1);
    ck_assert_int_eq(s.last.port[0], 40000);
    ck_assert_ptr_eq(n, fl[0]);
    /* touch flow 2 and 3: the next eviction takes flow 1 */
    for (uint16_t i = 2; i < 4; i++) {
        struct pkt q = mkpkt(4, 17, "\x01", (uint16_t)(40000 + i), "\x02", 443, 0, 10);
        ck_assert_ptr_eq(flowtab_get(ft, &q, 11, &is_new, &dir), fl[i]);
    }
    p.sport = 41001;
    flowtab_get(ft, &p, 12, &is_new, &dir);
    ck_assert_int_eq(s.n[FLOWTAB_EVICTED], 2);
    ck_assert_int_eq(s.last.port[0], 40001);
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.evicted_full, 2);
    ck_assert_uint_eq(st.active, 4);
    /* the evicted flow is really gone: it comes back as new */
    struct pkt q = mkpkt(4, 17, "\x01", 40001, "\x02", 443, 0, 10);
    flowtab_get(ft, &q, 13, &is_new, &dir);
    ck_assert(is_new);
    flowtab_free(ft);
}
END_TEST

/* The clock hand passes over flows holding a reassembly buffer (a request in progress): a flood
 * of new flows evicts the others, never one in the middle of its request, unless nothing else is
 * left. (The buffer index is set by hand: no pool is attached, nothing is given back.) */
static void set_holder(struct flow *f, enum flowtab_why why, void *ctx)
{
    (void)why;
    (void)ctx;
    f->tcp.buf = 3;
}

START_TEST(eviction_spares_holders)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    struct flowtab *ft = mk(4, count_cb, &s, NULL);
    bool is_new;
    int dir;
    struct flow *fl[4];
    for (uint16_t i = 0; i < 4; i++) {
        struct pkt p = mkpkt(4, 6, "\x01", (uint16_t)(40000 + i), "\x02", 443, TCPF_SYN, 0);
        fl[i] = flowtab_get(ft, &p, i, &is_new, &dir);
    }
    fl[0]->tcp.buf = 1; /* flows 0 and 2: a request half-way */
    fl[2]->tcp.buf = 2;
    for (uint16_t k = 0; k < 20; k++) { /* a flood of new connections */
        struct pkt p = mkpkt(4, 6, "\x03", (uint16_t)(50000 + k), "\x02", 443, TCPF_SYN, 0);
        flowtab_get(ft, &p, 10 + k, &is_new, &dir);
        ck_assert(is_new);
        ck_assert(s.last.tcp.buf == 0);
    }
    ck_assert_int_eq(s.n[FLOWTAB_EVICTED], 20);
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_gt(st.holders_spared, 0);
    ck_assert_uint_eq(st.holders_evicted, 0);
    for (uint16_t i = 0; i < 4; i += 2) { /* both still there */
        struct pkt q = mkpkt(4, 6, "\x01", (uint16_t)(40000 + i), "\x02", 443, TCPF_ACK, 10);
        ck_assert_ptr_eq(flowtab_get(ft, &q, 40, &is_new, &dir), fl[i]);
        ck_assert(!is_new);
    }
    /* every flow a holder: one of them goes all the same */
    flowtab_foreach(ft, set_holder, NULL);
    struct pkt p = mkpkt(4, 6, "\x04", 60000, "\x02", 443, TCPF_SYN, 0);
    ck_assert_ptr_nonnull(flowtab_get(ft, &p, 50, &is_new, &dir));
    ck_assert(is_new);
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.holders_evicted, 1);
    ck_assert_int_eq(s.n[FLOWTAB_EVICTED], 21);
    flowtab_free(ft);
}
END_TEST

START_TEST(idle_timeouts)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    struct flowtab *ft = mk(16, NULL, NULL, NULL);
    bool is_new;
    int dir;
    struct pkt u = mkpkt(4, 17, "\x01", 40000, "\x02", 443, 0, 10);
    struct pkt t = mkpkt(4, 6, "\x01", 40001, "\x02", 443, TCPF_ACK, 10);
    struct pkt c = mkpkt(4, 6, "\x01", 40002, "\x02", 443, TCPF_ACK, 10);
    flowtab_get(ft, &u, 0, &is_new, &dir);
    flowtab_get(ft, &t, 0, &is_new, &dir);
    struct flow *cf = flowtab_get(ft, &c, 0, &is_new, &dir);
    cf->tcp.fl2 |= TCPREASM_S2_CLOSING; /* as an acceptable FIN leaves it */
    ck_assert_uint_eq(flowtab_expire(ft, 14 * SEC, count_cb, &s), 0);
    ck_assert_uint_eq(flowtab_expire(ft, 15 * SEC, count_cb, &s), 1); /* closing */
    ck_assert_uint_eq(s.last.port[0], 40002);
    ck_assert_uint_eq(flowtab_expire(ft, 59 * SEC, count_cb, &s), 0);
    ck_assert_uint_eq(flowtab_expire(ft, 60 * SEC, count_cb, &s), 1); /* UDP */
    flowtab_get(ft, &t, 100 * SEC, &is_new, &dir);                    /* activity */
    ck_assert(!is_new);
    ck_assert_uint_eq(flowtab_expire(ft, 399 * SEC, count_cb, &s), 0);
    ck_assert_uint_eq(flowtab_expire(ft, 400 * SEC, count_cb, &s), 1); /* TCP established */
    ck_assert_int_eq(s.n[FLOWTAB_EXPIRED], 3);
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.expired, 3);
    ck_assert_uint_eq(st.active, 0);
    flowtab_free(ft);
}
END_TEST

/* Expiry is incremental: each call looks at a slice of the used slots (at least 1024), more when
 * the time since the last call asks for it; every idle flow still goes within its timeout plus
 * one pass (<= the shortest timeout). Slots are used from the bottom up (high-water mark). */
START_TEST(incremental_expiry)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    struct flowtab *ft = mk(1u << 16, NULL, NULL, NULL); /* slice max(1024, 1024) */
    bool is_new;
    int dir;
    const uint32_t n = 20000;
    for (uint32_t i = 0; i < n; i++) {
        struct pkt u = mkpkt(4, 17, "\x01", (uint16_t)(1024 + i), "\x02", 443, 0, 10);
        u.src[2] = (uint8_t)(i >> 16);
        struct flow *f = flowtab_get(ft, &u, 0, &is_new, &dir);
        ck_assert(is_new);
        ck_assert_ptr_eq(f, flowtab_get(ft, &u, 0, &is_new, &dir));
    }
    /* first call, no previous one to judge the rate by: the minimum slice */
    ck_assert_uint_eq(flowtab_expire(ft, 100 * SEC, count_cb, &s), 1024);
    /* 1 s later: 20000 * 1 s / 15 s (shortest timeout) = 1334 slots */
    ck_assert_uint_eq(flowtab_expire(ft, 101 * SEC, count_cb, &s), 1334);
    /* 15 s or more since the last call: the whole used range */
    ck_assert_uint_eq(flowtab_expire(ft, 120 * SEC, count_cb, &s), n - 1024 - 1334);
    ck_assert_uint_eq(flowtab_expire(ft, 121 * SEC, count_cb, &s), 0);
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, 0);
    ck_assert_uint_eq(st.expired, n);
    ck_assert_int_eq(s.n[FLOWTAB_EXPIRED], (int)n);
    flowtab_free(ft);

    /* called once a second: nothing goes early, everything goes within timeout + 15 s */
    ft = mk(1u << 16, NULL, NULL, NULL);
    struct flow *slot0 = NULL;
    for (uint32_t i = 0; i < n; i++) {
        struct pkt u = mkpkt(4, 17, "\x01", (uint16_t)(1024 + i), "\x02", 443, 0, 10);
        struct flow *f = flowtab_get(ft, &u, 0, &is_new, &dir);
        if (i == 0)
            slot0 = f;
        ck_assert(f >= slot0 && f - slot0 == (ptrdiff_t)i); /* bottom up */
    }
    /* the index grew (4096 entries at start) several times: every flow is still found */
    for (uint32_t i = 0; i < n; i++) {
        struct pkt u = mkpkt(4, 17, "\x02", 443, "\x01", (uint16_t)(1024 + i), 0, 10);
        ck_assert_ptr_eq(flowtab_get(ft, &u, 0, &is_new, &dir), slot0 + i);
        ck_assert(!is_new);
        ck_assert_int_eq(dir, 1);
    }
    size_t gone = 0;
    for (uint64_t t = 1; t < 60; t++)
        gone += flowtab_expire(ft, t * SEC, NULL, NULL);
    ck_assert_uint_eq(gone, 0);
    for (uint64_t t = 60; t <= 75; t++)
        gone += flowtab_expire(ft, t * SEC, NULL, NULL);
    ck_assert_uint_eq(gone, n);
    /* flush empties it and the table starts over from the lowest slot */
    struct pkt u = mkpkt(4, 17, "\x01", 999, "\x02", 443, 0, 10);
    ck_assert_ptr_ne(flowtab_get(ft, &u, 80 * SEC, &is_new, &dir), NULL);
    flowtab_flush(ft, count_cb, &s);
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, 0);
    u.sport = 998;
    ck_assert_ptr_eq(flowtab_get(ft, &u, 81 * SEC, &is_new, &dir), slot0);
    ck_assert(is_new);
    flowtab_free(ft);
}
END_TEST

/* A flush of a grown table (its index doubled several times, then restarted small): every flow
 * is handed to the callback once, none is left active, and the next round's flows (other keys)
 * are each new, then found again as the same. */
START_TEST(flush_clears_index)
{
    struct seen s;
    struct flowtab *ft = mk(20000, NULL, NULL, NULL);
    const uint32_t n = 9000;
    for (int round = 0; round < 2; round++) {
        /* pass 0 makes flow i of the round (UDP 10.0.x.1:1024+i -> 10.round.0.2:1), pass 1
         * finds it again */
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t i = 0; i < n; i++) {
                struct pkt u = mkpkt(4, 17, "\x01", (uint16_t)(1024 + i), "\x02", 1, 0, 10);
                u.src[2] = (uint8_t)(i >> 8);
                u.dst[1] = (uint8_t)round;
                bool is_new;
                int dir;
                ck_assert_ptr_nonnull(flowtab_get(ft, &u, (uint64_t)pass, &is_new, &dir));
                ck_assert_msg(is_new == (pass == 0), "round %d pass %d flow %u", round, pass, i);
            }
        }
        memset(&s, 0, sizeof s);
        flowtab_flush(ft, count_cb, &s);
        ck_assert_int_eq(s.n[FLOWTAB_FLUSHED], (int)n);
        struct flowtab_stats st;
        flowtab_get_stats(ft, &st);
        ck_assert_uint_eq(st.active, 0);
    }
    flowtab_free(ft);
}
END_TEST

/* Port reuse by a new connection (busy NAT pools): a settled flow takes a new SYN at once; a
 * flow still inspected needs the server's SYN-ACK for another ISN after the client's RST. */
START_TEST(reuse_new_connection)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    struct tcpreasm_pool *pl = tcpreasm_pool_new(2, 1, 1024);
    struct flowtab *ft = mk(16, count_cb, &s, pl);
    bool is_new;
    int dir;
    struct pkt syn = mkpkt(4, 6, "\x01", 40000, "\x02", 443, TCPF_SYN, 0);
    syn.seq = 1000;
    struct flow *f = flowtab_get(ft, &syn, 0, &is_new, &dir);
    tcpreasm_segment(pl, &f->tcp, f->client, &syn, dir);
    struct pkt sa = rev(&syn, TCPF_SYN | TCPF_ACK, 0);
    sa.seq = 5000;
    sa.ack = 1001;
    sa.win = 65535;
    ck_assert_ptr_eq(flowtab_get(ft, &sa, 1, &is_new, &dir), f);
    tcpreasm_segment(pl, &f->tcp, f->client, &sa, dir);
    struct pkt d = syn;
    d.tcp_flags = TCPF_ACK;
    d.seq = 1001;
    d.ack = 5001;
    d.payload_len = 100;
    f = flowtab_get(ft, &d, 2, &is_new, &dir);
    ck_assert(tcpreasm_segment(pl, &f->tcp, f->client, &d, dir) & TCPREASM_NEW_DATA);
    /* still inspected, nothing closed: a SYN with another ISN is not a new connection */
    struct pkt syn2 = syn;
    syn2.seq = 900000;
    ck_assert_ptr_eq(flowtab_get(ft, &syn2, 3, &is_new, &dir), f);
    ck_assert(!is_new);
    /* the client's RST at the exact sequence: still the same flow for a new SYN (the RST may
     * have been a low-TTL fake and the server is alive) ... */
    d.seq = 1101;
    d.payload_len = 0;
    d.tcp_flags = TCPF_RST | TCPF_ACK;
    f = flowtab_get(ft, &d, 4, &is_new, &dir);
    ck_assert(tcpreasm_segment(pl, &f->tcp, f->client, &d, dir) & TCPREASM_RESET);
    ck_assert_ptr_eq(flowtab_get(ft, &syn2, 5, &is_new, &dir), f);
    ck_assert(!is_new);
    tcpreasm_segment(pl, &f->tcp, f->client, &syn2, dir);
    /* ... the old SYN-ACK retransmitted is no proof either ... */
    ck_assert_ptr_eq(flowtab_get(ft, &sa, 6, &is_new, &dir), f);
    ck_assert(!is_new);
    /* ... the server's SYN-ACK for the new ISN is: a new flow, anchored on its ack */
    struct pkt sa2 = sa;
    sa2.seq = 70000;
    sa2.ack = 900001;
    f = flowtab_get(ft, &sa2, 7, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_int_eq(dir, 1);
    ck_assert_int_eq(s.n[FLOWTAB_REUSED], 1);
    tcpreasm_segment(pl, &f->tcp, f->client, &sa2, dir);
    ck_assert_uint_eq(f->tcp.nxt, 900001);
    /* settled by the pipeline: a new SYN is a new connection at once; its retransmit is not */
    f->fl |= FLOW_F_SETTLED;
    syn2.seq = 123456;
    struct flow *g = flowtab_get(ft, &syn2, 8, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_int_eq(s.n[FLOWTAB_REUSED], 2);
    tcpreasm_segment(pl, &g->tcp, g->client, &syn2, dir);
    g->fl |= FLOW_F_SETTLED;
    ck_assert_ptr_eq(flowtab_get(ft, &syn2, 9, &is_new, &dir), g);
    ck_assert(!is_new);
    flowtab_free(ft);
    tcpreasm_pool_free(pl);
}
END_TEST

START_TEST(reuse_flush_release)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    struct tcpreasm_pool *pl = tcpreasm_pool_new(2, 1, 1024);
    struct flowtab *ft = mk(16, count_cb, &s, pl);
    bool is_new;
    int dir;
    struct pkt syn = mkpkt(4, 6, "\x01", 40000, "\x02", 443, TCPF_SYN, 0);
    syn.seq = 1000;
    struct flow *f = flowtab_get(ft, &syn, 0, &is_new, &dir);
    ck_assert_uint_eq(tcpreasm_segment(pl, &f->tcp, f->client, &syn, dir), 0);
    struct pkt d = syn;
    d.tcp_flags = TCPF_ACK;
    d.seq = 1001;
    d.payload_len = 100;
    f = flowtab_get(ft, &d, 1, &is_new, &dir);
    ck_assert(tcpreasm_segment(pl, &f->tcp, f->client, &d, dir) & TCPREASM_NEW_DATA);
    struct tcpreasm_stats rs;
    tcpreasm_get_stats(pl, &rs);
    ck_assert_uint_eq(rs.bufs_in_use, 1);
    /* the SYN retransmitted: same flow; the FIN closes; a new SYN reuses the 5-tuple */
    ck_assert_ptr_eq(flowtab_get(ft, &syn, 2, &is_new, &dir), f);
    ck_assert(!is_new);
    d.seq = 1101;
    d.payload_len = 0;
    d.tcp_flags = TCPF_ACK | TCPF_FIN;
    f = flowtab_get(ft, &d, 3, &is_new, &dir);
    ck_assert(tcpreasm_segment(pl, &f->tcp, f->client, &d, dir) & TCPREASM_FIN);
    ck_assert(tcpreasm_closing(&f->tcp));
    ck_assert_ptr_eq(flowtab_get(ft, &syn, 4, &is_new, &dir), f); /* same ISN: retransmit */
    ck_assert(!is_new);
    /* the server is alive (seen) and has not closed: a client FIN + new SYN is no reuse */
    struct pkt sa = rev(&syn, TCPF_ACK, 0);
    sa.seq = 5000;
    sa.ack = 1102;
    ck_assert_ptr_eq(flowtab_get(ft, &sa, 4, &is_new, &dir), f);
    tcpreasm_segment(pl, &f->tcp, f->client, &sa, dir);
    syn.seq = 666666;
    ck_assert_ptr_eq(flowtab_get(ft, &syn, 4, &is_new, &dir), f);
    ck_assert(!is_new);
    sa.tcp_flags = TCPF_ACK | TCPF_FIN; /* now the server closes */
    flowtab_get(ft, &sa, 4, &is_new, &dir);
    tcpreasm_segment(pl, &f->tcp, f->client, &sa, dir);
    syn.seq = 777777;
    f = flowtab_get(ft, &syn, 5, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_int_eq(s.n[FLOWTAB_REUSED], 1);
    tcpreasm_get_stats(pl, &rs);
    ck_assert_uint_eq(rs.bufs_in_use, 0); /* released with the old flow */
    ck_assert_int_eq(f->a.nreq, 0);
    f->a.nreq = 3;
    /* foreach visits, flush recycles */
    struct pkt u = mkpkt(4, 17, "\x03", 40000, "\x02", 443, 0, 10);
    flowtab_get(ft, &u, 6, &is_new, &dir);
    flowtab_foreach(ft, count_cb, &s);
    ck_assert_int_eq(s.n[FLOWTAB_VISIT], 2);
    flowtab_flush(ft, count_cb, &s);
    ck_assert_int_eq(s.n[FLOWTAB_FLUSHED], 2);
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, 0);
    ck_assert_uint_eq(st.flushed, 2);
    f = flowtab_get(ft, &syn, 7, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_int_eq(f->a.nreq, 0);
    flowtab_free(ft);
    tcpreasm_pool_free(pl);
    struct flowtab_cfg cfg;
    flowtab_cfg_default(&cfg);
    ck_assert_uint_eq(cfg.max_flows, 1u << 20);
    cfg.max_flows = 0;
    ck_assert_ptr_null(flowtab_new(&cfg));
}
END_TEST

START_TEST(many_flows)
{
    /* fill well past capacity: the table stays consistent and every live flow is found */
    enum { MAX = 1000 };
    struct flowtab *ft = mk(MAX, NULL, NULL, NULL);
    bool is_new;
    int dir;
    for (uint32_t i = 0; i < 5 * MAX; i++) {
        struct pkt p = mkpkt(6, 6, "\x01", (uint16_t)(1024 + i % 60000), "\x02", 443, TCPF_SYN, 0);
        p.src[10] = (uint8_t)(i >> 16);
        struct flow *f = flowtab_get(ft, &p, i, &is_new, &dir);
        ck_assert_ptr_nonnull(f);
        struct pkt r = rev(&p, TCPF_SYN | TCPF_ACK, 0);
        ck_assert_ptr_eq(flowtab_get(ft, &r, i, &is_new, &dir), f);
        ck_assert(!is_new);
    }
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, MAX);
    ck_assert_uint_eq(st.created, 5 * MAX);
    ck_assert_uint_eq(st.evicted_full, 4 * MAX);
    ck_assert_uint_eq(flowtab_expire(ft, 1000 * SEC, NULL, NULL), MAX);
    flowtab_free(ft);
}
END_TEST

/* Index churn against a model: random keys over a small table, with evictions and expiries
 * removing entries (backward-shift deletion) all the time. A key the model holds must find the
 * same flow, with its own key; a key it does not hold must create one. */
struct churn {
    struct flow *by_key[600];
    int removed;
};

static void churn_cb(struct flow *f, enum flowtab_why why, void *ctx)
{
    struct churn *c = ctx;
    (void)why;
    unsigned k = (unsigned)flowtab_client_port(f) - 1024;
    ck_assert_uint_lt(k, 600);
    ck_assert_ptr_eq(c->by_key[k], f);
    c->by_key[k] = NULL;
    c->removed++;
}

START_TEST(index_churn)
{
    struct churn c;
    memset(&c, 0, sizeof c);
    struct flowtab *ft = mk(256, churn_cb, &c, NULL);
    bool is_new;
    int dir;
    unsigned x = 7;
    for (uint64_t t = 1; t <= 40000; t++) {
        x = x * 1103515245u + 12345u;
        unsigned k = (x >> 8) % 600;
        struct pkt p = mkpkt(k & 1 ? 6 : 4, 17, "\x01", (uint16_t)(1024 + k), "\x02", 443, 0, 1);
        if (x & 0x10000) { /* the other direction finds the same flow */
            struct pkt r = rev(&p, 0, 1);
            p = r;
        }
        struct flow *f = flowtab_get(ft, &p, t * 1000, &is_new, &dir);
        ck_assert_ptr_nonnull(f);
        if (c.by_key[k]) {
            ck_assert(!is_new);
            ck_assert_ptr_eq(f, c.by_key[k]);
        } else {
            ck_assert(is_new);
            c.by_key[k] = f;
        }
        ck_assert_int_eq(flowtab_client_port(f), 1024 + k);
        ck_assert_int_eq(f->ipver, k & 1 ? 6 : 4);
        if (t % 5000 == 0) /* UDP timeout 60 s: flows idle 60 s go */
            flowtab_expire(ft, t * 1000 + 60 * SEC - 3000000, churn_cb, &c);
    }
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, st.created - (uint64_t)c.removed);
    ck_assert_uint_gt(st.evicted_full, 1000);
    flowtab_free(ft);
}
END_TEST

/* Hints made ahead (as engine_push() makes them, 8 packets before the lookup) while the index
 * grows and flows are evicted in between (the flow a hint's prefetch noted may be gone, its slot
 * taken by another): a hinted lookup finds what flowtab_get() finds. */
START_TEST(hinted_lookup)
{
    enum { MAX = 3000, N = 12000, AHEAD = 8 };
    struct flowtab *ft = mk(MAX, NULL, NULL, NULL);
    static struct pkt ps[N];
    static struct flowtab_hint hs[N];
    bool is_new;
    int dir;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t k = i % 2 ? i / 2 : (i * 7919u) % (N / 2); /* new keys and keys seen before */
        ps[i] = mkpkt(k & 1 ? 6 : 4, k & 2 ? 17 : 6, "\x01", (uint16_t)(1024 + k % 50000), "\x02",
                      443, 0, 1);
        ps[i].src[9] = (uint8_t)(k >> 16);
        if (i % 3 == 0) {
            struct pkt r = rev(&ps[i], 0, 1);
            ps[i] = r;
        }
    }
    for (uint32_t i = 0; i < N + AHEAD; i++) {
        if (i < N) {
            ck_assert(flowtab_hint(ft, &ps[i], &hs[i]));
            flowtab_prefetch_index(ft, &hs[i]);
        }
        if (i >= AHEAD / 2 && i - AHEAD / 2 < N)
            flowtab_prefetch_flow(ft, &hs[i - AHEAD / 2]);
        if (i < AHEAD)
            continue;
        uint32_t j = i - AHEAD;
        struct flow *f = flowtab_get_hinted(ft, &ps[j], &hs[j], j, &is_new, &dir);
        ck_assert_ptr_nonnull(f);
        int dir2;
        ck_assert_ptr_eq(flowtab_get(ft, &ps[j], j, &is_new, &dir2), f);
        ck_assert(!is_new);
        ck_assert_int_eq(dir2, dir);
        ck_assert_int_eq(flowtab_client_port(f) == ps[j].sport, dir == 0);
    }
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, MAX);
    ck_assert_uint_gt(st.evicted_full, 0);

    /* not TCP/UDP, or a fragment: no valid hint, refused like flowtab_get() refuses it */
    struct pkt icmp = mkpkt(4, 1, "\x01", 0, "\x02", 0, 0, 0);
    struct pkt frag = mkpkt(4, 6, "\x01", 1, "\x02", 2, 0, 0);
    frag.frag = true;
    struct flowtab_hint h;
    ck_assert(!flowtab_hint(ft, &icmp, &h));
    flowtab_prefetch_index(ft, &h);
    flowtab_prefetch_flow(ft, &h);
    ck_assert_ptr_null(flowtab_get_hinted(ft, &icmp, &h, N, &is_new, &dir));
    ck_assert(!flowtab_hint(ft, &frag, &h));
    ck_assert_ptr_null(flowtab_get_hinted(ft, &frag, &h, N, &is_new, &dir));
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.not_tcp_udp, 2);
    flowtab_free(ft);
}
END_TEST

/* Equal inner 5-tuples behind different VLANs / tunnels (pkt.zone) are different flows; both
 * directions in one zone are one flow. */
START_TEST(zone_in_key)
{
    struct flowtab *ft = mk(16, NULL, NULL, NULL);
    bool is_new;
    int dir;
    struct pkt a = mkpkt(4, 6, "\x02", 40000, "\x01", 443, TCPF_SYN, 0);
    a.zone = 5000;
    struct pkt b = a;
    b.zone = 5001;
    struct pkt c = a;
    c.zone = 0;
    struct flow *fa = flowtab_get(ft, &a, 1 * SEC, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_uint_eq(fa->zone, 5000);
    struct flow *fb = flowtab_get(ft, &b, 1 * SEC, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_ptr_ne(fa, fb);
    struct flow *fc = flowtab_get(ft, &c, 1 * SEC, &is_new, &dir);
    ck_assert(is_new);
    ck_assert_ptr_ne(fc, fa);
    ck_assert_ptr_ne(fc, fb);
    struct pkt ra = rev(&a, TCPF_SYN | TCPF_ACK, 0);
    ck_assert_ptr_eq(flowtab_get(ft, &ra, 1 * SEC, &is_new, &dir), fa);
    ck_assert(!is_new);
    ck_assert_int_eq(dir, 1);
    struct pkt rb = rev(&b, TCPF_SYN | TCPF_ACK, 0);
    ck_assert_ptr_eq(flowtab_get(ft, &rb, 1 * SEC, &is_new, &dir), fb);
    struct flowtab_stats st;
    flowtab_get_stats(ft, &st);
    ck_assert_uint_eq(st.active, 3);
    flowtab_free(ft);
}
END_TEST

static Suite *flowtab_suite(void)
{
    Suite *s = suite_create("flowtab");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, both_directions);
    tcase_add_test(tc, zone_in_key);
    tcase_add_test(tc, client_decision_t15);
    tcase_add_test(tc, simultaneous_open_t15);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, eviction_when_full);
    tcase_add_test(tc, eviction_spares_holders);
    tcase_add_test(tc, idle_timeouts);
    tcase_add_test(tc, incremental_expiry);
    tcase_add_test(tc, reuse_flush_release);
    tcase_add_test(tc, flush_clears_index);
    tcase_add_test(tc, reuse_new_connection);
    tcase_add_test(tc, many_flows);
    tcase_add_test(tc, index_churn);
    tcase_add_test(tc, hinted_lookup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(flowtab_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
