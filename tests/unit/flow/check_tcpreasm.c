/* check_tcpreasm.c - one case per EVASION.md TCP row (T1-T18) plus a random segmentation
 * property test: random splits, shuffles and duplicates reassemble to the original. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/packet/decode.h"
#include "proxy/packet/defrag.h"
#include "proxy/flow/flowtab.h"
#include "proxy/flow/tcpreasm.h"
#include "tests/lib/craft.h"

/* ---- a tiny conversation driver: segments are struct pkt, as decode would fill them ----- */

struct conv {
    struct tcpreasm_pool *pl;
    struct flow f;
    uint32_t cisn, sisn;
    bool ts;
    uint32_t tsval;
};

static const char REQ[] = "GET / HTTP/1.1\r\nHost: blocked.example\r\nAccept: */*\r\n\r\n";
#define REQ_LEN (sizeof REQ - 1)

static void conv_init(struct conv *c, uint32_t nbufs, uint32_t nalt, uint32_t bufsize)
{
    memset(c, 0, sizeof *c);
    c->pl = tcpreasm_pool_new(nbufs, nalt, bufsize);
    ck_assert_ptr_nonnull(c->pl);
    c->cisn = 0xfffff000u; /* wraps during the test: sequence arithmetic is exercised */
    c->sisn = 0x20000000u;
    c->tsval = 1000;
}

static void conv_fini(struct conv *c)
{
    tcpreasm_release(c->pl, &c->f.tcp);
    tcpreasm_pool_free(c->pl);
}

/* Feeds the client segment p; returns tcpreasm_segment()'s flags. */
static unsigned csend(struct conv *c, const struct pkt *p)
{
    return tcpreasm_segment(c->pl, &c->f.tcp, c->f.client, p, 0);
}

/* Feeds the server segment p; returns tcpreasm_segment()'s flags. */
static unsigned ssend(struct conv *c, const struct pkt *p)
{
    return tcpreasm_segment(c->pl, &c->f.tcp, c->f.client, p, 1);
}

/* A client segment carrying d[0..n) at stream offset off (0 = first byte after the SYN). */
static struct pkt cpkt(struct conv *c, uint32_t off, const void *d, size_t n, uint8_t flags)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.l4proto = 6;
    p.sport = 40000;
    p.dport = 443;
    p.seq = c->cisn + 1 + off;
    p.ack = c->sisn + 1;
    p.win = 502;
    p.tcp_flags = flags;
    p.payload = d;
    p.payload_len = n;
    p.l4_csum_ok = true;
    if (c->ts) {
        p.has_ts = true;
        p.tsval = c->tsval++;
    }
    return p;
}

static unsigned cseg(struct conv *c, uint32_t off, const void *d, size_t n)
{
    struct pkt p = cpkt(c, off, d, n, TCPF_ACK | TCPF_PSH);
    return csend(c, &p);
}

static unsigned sseg(struct conv *c, uint8_t flags, uint32_t ack, uint16_t win)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.l4proto = 6;
    p.seq = c->sisn + 1;
    p.ack = ack;
    p.win = win;
    p.tcp_flags = flags;
    p.l4_csum_ok = true;
    if (c->ts) {
        p.has_ts = true;
        p.tsval = 5000;
        p.tsecr = c->tsval - 1; /* echoes the client's latest TSval, as a server does */
    }
    return ssend(c, &p);
}

/* SYN (wscale 7), SYN-ACK (window 65535, wscale 7), ACK. */
static void handshake(struct conv *c, bool ts, bool md5)
{
    struct pkt p;
    c->ts = ts;
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.l4proto = 6;
    p.seq = c->cisn;
    p.tcp_flags = TCPF_SYN;
    p.win = 64240;
    p.has_wscale = true;
    p.wscale = 7;
    p.has_ts = ts;
    p.tsval = c->tsval++;
    p.has_md5 = md5;
    p.l4_csum_ok = true;
    ck_assert_uint_eq(csend(c, &p), 0);
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.l4proto = 6;
    p.seq = c->sisn;
    p.ack = c->cisn + 1;
    p.tcp_flags = TCPF_SYN | TCPF_ACK;
    p.win = 65535;
    p.has_wscale = true;
    p.wscale = 7;
    p.has_ts = ts;
    p.tsval = 4000;
    p.tsecr = ts ? c->tsval - 1 : 0; /* the SYN's TSval */
    p.has_md5 = md5;
    p.l4_csum_ok = true;
    ck_assert_uint_eq(ssend(c, &p), 0);
    p = cpkt(c, 0, NULL, 0, TCPF_ACK);
    ck_assert_uint_eq(csend(c, &p), 0);
}

/* Two flows a and b sharing pool pl, picked up mid-stream (no handshake). */
static void conv_pair(struct tcpreasm_pool *pl, struct conv *a, struct conv *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->pl = b->pl = pl;
    a->cisn = 100;
    b->cisn = 5000;
}

/* The usual conversation: a pool of 2 buffers (1 alternative) of 4096 bytes, handshake done. */
static void conv_start(struct conv *c, bool ts, bool md5)
{
    conv_init(c, 2, 1, 4096);
    handshake(c, ts, md5);
}

static void expect_data(struct conv *c, const void *want, size_t n)
{
    size_t len;
    const uint8_t *d = tcpreasm_data(c->pl, &c->f.tcp, &len);
    ck_assert_uint_eq(len, n);
    if (n)
        ck_assert_mem_eq(d, want, n);
    else
        ck_assert_ptr_null(d);
}

/* r, the flags of the last segment, says it brought new data, and the stream is now (want, n). */
static void expect_new_data(struct conv *c, unsigned r, const void *want, size_t n)
{
    ck_assert(r & TCPREASM_NEW_DATA);
    expect_data(c, want, n);
}

static struct tcpreasm_stats stats(const struct conv *c)
{
    struct tcpreasm_stats st;
    tcpreasm_get_stats(c->pl, &st);
    return st;
}

/* ---- T1: split at every offset ----------------------------------------------------------- */

START_TEST(t1_split_anywhere)
{
    for (size_t k = 1; k < REQ_LEN; k++) {
        struct conv c;
        conv_init(&c, 4, 1, 4096);
        handshake(&c, false, false);
        unsigned r = cseg(&c, 0, REQ, k);
        expect_new_data(&c, r, REQ, k);
        r = cseg(&c, (uint32_t)k, REQ + k, REQ_LEN - k);
        ck_assert(r & TCPREASM_NEW_DATA);
        ck_assert(!(r & TCPREASM_CONFLICT));
        expect_data(&c, REQ, REQ_LEN);
        conv_fini(&c);
    }
}
END_TEST

/* ---- T2: 1-byte segments, capped by bytes ------------------------------------------------ */

START_TEST(t2_one_byte_segments)
{
    struct conv c;
    static uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)('a' + i % 26);
    conv_start(&c, false, false);
    unsigned full = 0;
    for (uint32_t i = 0; i < sizeof big; i++)
        full |= cseg(&c, i, big + i, 1);
    ck_assert(full & TCPREASM_FULL);
    expect_data(&c, big, 4096);
    ck_assert_uint_eq(stats(&c).cap_drops, sizeof big - 4096);
    conv_fini(&c);
}
END_TEST

/* ---- T3: out of order ------------------------------------------------------------------------ */

START_TEST(t3_out_of_order)
{
    struct conv c;
    conv_start(&c, false, false);
    ck_assert(!tcpreasm_holds_past_hole(c.pl, &c.f.tcp)); /* no buffer yet */
    unsigned r = cseg(&c, 30, REQ + 30, REQ_LEN - 30);
    ck_assert(!(r & (TCPREASM_NEW_DATA | TCPREASM_IGNORED)));
    expect_data(&c, NULL, 0);
    ck_assert(tcpreasm_holds_past_hole(c.pl, &c.f.tcp));
    r = cseg(&c, 10, REQ + 10, 20);
    ck_assert(!(r & TCPREASM_NEW_DATA));
    ck_assert(tcpreasm_holds_past_hole(c.pl, &c.f.tcp));
    r = cseg(&c, 0, REQ, 10);
    expect_new_data(&c, r, REQ, REQ_LEN);
    ck_assert(!tcpreasm_holds_past_hole(c.pl, &c.f.tcp)); /* the hole filled */
    ck_assert_uint_eq(stats(&c).ooo, 2);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + (uint32_t)REQ_LEN);
    conv_fini(&c);
}
END_TEST

/* ---- T4 / S2: fake first segment, real one after: both versions kept ------------------- */

START_TEST(t4_fake_first_then_real)
{
    struct conv c;
    static const char fake[] = "GET / HTTP/1.1\r\nHost: allowed.example\r\nAccept: */*\r\n\r\n";
    conv_start(&c, false, false);
    unsigned r = cseg(&c, 0, fake, sizeof fake - 1);
    ck_assert(r & TCPREASM_NEW_DATA);
    ck_assert_ptr_null(tcpreasm_alt(c.pl, &c.f.tcp, &(size_t){ 0 }));
    r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert(r & TCPREASM_CONFLICT);
    ck_assert(r & TCPREASM_IGNORED);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_OLD);
    expect_data(&c, fake, sizeof fake - 1); /* the Linux view: first copy */
    size_t len;
    const uint8_t *alt = tcpreasm_alt(c.pl, &c.f.tcp, &len);
    ck_assert_ptr_nonnull(alt);
    ck_assert_uint_eq(len, REQ_LEN);
    ck_assert_mem_eq(alt, REQ, REQ_LEN); /* the alternative: last copy */
    ck_assert_uint_eq(stats(&c).conflicts, 1);
    ck_assert_uint_eq(stats(&c).alts_in_use, 1);
    conv_fini(&c);
    /* no alternative buffer left: counted, Linux view only */
    conv_init(&c, 2, 0, 4096);
    handshake(&c, false, false);
    cseg(&c, 0, fake, sizeof fake - 1);
    r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert(r & TCPREASM_CONFLICT);
    ck_assert_ptr_null(tcpreasm_alt(c.pl, &c.f.tcp, &len));
    ck_assert_uint_eq(stats(&c).alt_pool_empty, 1);
    conv_fini(&c);
}
END_TEST

/* ---- T5: bad checksum ------------------------------------------------------------------------ */

START_TEST(t5_bad_checksum)
{
    struct conv c;
    conv_start(&c, false, false);
    struct pkt p = cpkt(&c, 0, "GET / HTTP/1.1\r\nHost: allowed", 29, TCPF_ACK);
    p.l4_csum_ok = false;
    unsigned r = csend(&c, &p);
    ck_assert(r & TCPREASM_IGNORED);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_BAD_CSUM);
    expect_data(&c, NULL, 0);
    r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert(r & TCPREASM_NEW_DATA);
    ck_assert(!(r & TCPREASM_CONFLICT));
    expect_data(&c, REQ, REQ_LEN);
    conv_fini(&c);
}
END_TEST

/* The checksum is summed on demand (decode_l4_csum_ok): a segment that would change tracked
 * state is dropped when its checksum is bad; one that changes nothing is not even summed. A
 * packet here has no L4 header (p.l4 NULL), so its checksum counts as bad unless vouched for. */
START_TEST(t5_lazy_checksum)
{
    struct conv c;
    conv_start(&c, true, false);
    uint32_t ts0 = c.f.tcp.ts_recent;
    /* a bare duplicate ACK changes nothing: taken without a checksum */
    struct pkt p = cpkt(&c, 0, NULL, 0, TCPF_ACK);
    p.tsval = ts0;
    p.l4_csum_ok = false;
    ck_assert_uint_eq(csend(&c, &p), 0);
    /* a client TSval never moves the PAWS bound (T19), so a bare ACK with a far-future
     * timestamp changes nothing either; one that widens the client's window must pass the
     * checksum */
    p.tsval = ts0 + 0x40000000u;
    ck_assert_uint_eq(csend(&c, &p), 0);
    ck_assert_uint_eq(c.f.tcp.ts_recent, ts0);
    p.tsval = ts0;
    p.win = 65535;
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_BAD_CSUM);
    /* a client FIN or RST with a bad checksum: dropped */
    p = cpkt(&c, 0, NULL, 0, TCPF_ACK | TCPF_FIN);
    p.l4_csum_ok = false;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_BAD_CSUM);
    ck_assert(!(c.f.tcp.fl & TCPREASM_S_CLI_FIN));
    p = cpkt(&c, 0, NULL, 0, TCPF_RST);
    p.l4_csum_ok = false;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_BAD_CSUM);
    ck_assert(!(tcpreasm_closing(&c.f.tcp)));
    /* server: a duplicate ACK is taken unsummed; data, a wider window, FIN, RST are checked */
    uint32_t srv0 = c.f.tcp.srv_nxt, win0 = c.f.tcp.win_end;
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.l4proto = 6;
    p.seq = c.sisn + 1;
    p.ack = c.cisn + 1;
    p.win = 1;
    p.tcp_flags = TCPF_ACK;
    ck_assert_uint_eq(ssend(&c, &p), 0);
    p.payload = (const uint8_t *)"HTTP/1.1 200";
    p.payload_len = 12;
    ck_assert_int_eq(TCPREASM_WHY(ssend(&c, &p)), TCPREASM_BAD_CSUM);
    ck_assert_uint_eq(c.f.tcp.srv_nxt, srv0);
    p.payload_len = 0;
    p.win = 65535;
    ck_assert_int_eq(TCPREASM_WHY(ssend(&c, &p)), TCPREASM_BAD_CSUM);
    ck_assert_uint_eq(c.f.tcp.win_end, win0);
    p.win = 1;
    p.tcp_flags = TCPF_RST;
    ck_assert_int_eq(TCPREASM_WHY(ssend(&c, &p)), TCPREASM_BAD_CSUM);
    p.tcp_flags = TCPF_ACK | TCPF_FIN;
    ck_assert_int_eq(TCPREASM_WHY(ssend(&c, &p)), TCPREASM_BAD_CSUM);
    ck_assert(!(tcpreasm_closing(&c.f.tcp)));
    /* vouched for (offload): taken */
    p.l4_csum_ok = true;
    ck_assert(ssend(&c, &p) & TCPREASM_FIN);
    ck_assert(tcpreasm_closing(&c.f.tcp));
    /* the flow table changes its mind about the client (T15): the directions' state swaps,
     * the connection stays closing */
    c.f.client = 1;
    p.tcp_flags = TCPF_ACK;
    ssend(&c, &p);
    ck_assert(c.f.tcp.fl2 & TCPREASM_S2_SIDE1);
    ck_assert(c.f.tcp.fl & TCPREASM_S_CLI_FIN); /* the server's FIN, now the other end's */
    ck_assert(tcpreasm_closing(&c.f.tcp));
    conv_fini(&c);
}
END_TEST

/* ---- T6: out of window; the window follows the server's advertisement and scale ------- */

START_TEST(t6_window)
{
    struct conv c;
    conv_start(&c, false, false);
    /* SYN-ACK window 65535 is not scaled */
    unsigned r = cseg(&c, 70000, "x", 1);
    ck_assert(r & TCPREASM_IGNORED);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_WINDOW);
    r = cseg(&c, 65535, "x", 1); /* exactly at the right edge: outside */
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_WINDOW);
    r = cseg(&c, 65534, "x", 1); /* last byte inside (beyond the buffer: cut, not ignored) */
    ck_assert(!(r & TCPREASM_IGNORED));
    /* server advertises 1000 << 7 = 128000 */
    sseg(&c, TCPF_ACK, c.cisn + 1, 1000);
    r = cseg(&c, 70000, "x", 1);
    ck_assert(!(r & TCPREASM_IGNORED));
    r = cseg(&c, 128000, "x", 1);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_WINDOW);
    /* a later smaller advertisement does not shrink the window (Linux never shrinks it) */
    sseg(&c, TCPF_ACK, c.cisn + 1, 10);
    r = cseg(&c, 127000, "x", 1);
    ck_assert(!(r & TCPREASM_IGNORED));
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
}
END_TEST

/* ---- T7: TCP-MD5 on a flow that did not negotiate it ---------------------------------- */

START_TEST(t7_md5)
{
    struct conv c;
    conv_start(&c, false, false);
    struct pkt p = cpkt(&c, 0, "FAKE", 4, TCPF_ACK);
    p.has_md5 = true;
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_MD5);
    expect_data(&c, NULL, 0);
    conv_fini(&c);
    /* negotiated in both SYNs: accepted (we cannot verify the signature) */
    conv_start(&c, false, true);
    p = cpkt(&c, 0, REQ, REQ_LEN, TCPF_ACK);
    p.has_md5 = true;
    r = csend(&c, &p);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
    /* only a client SYN carried it (zapret: a duplicate SYN with MD5, which the server drops):
     * a SYN-ACK without MD5 means not negotiated, and MD5 fakes stay ignored */
    conv_init(&c, 2, 1, 4096);
    struct pkt syn;
    memset(&syn, 0, sizeof syn);
    syn.seq = c.cisn;
    syn.tcp_flags = TCPF_SYN;
    syn.has_md5 = true;
    syn.l4_csum_ok = true;
    csend(&c, &syn);
    syn.has_md5 = false;
    csend(&c, &syn);
    memset(&syn, 0, sizeof syn);
    syn.seq = c.sisn;
    syn.ack = c.cisn + 1;
    syn.tcp_flags = TCPF_SYN | TCPF_ACK;
    syn.win = 65535;
    syn.l4_csum_ok = true;
    ssend(&c, &syn);
    ck_assert(!(c.f.tcp.fl & TCPREASM_S_MD5));
    p = cpkt(&c, 0, "FAKE", 4, TCPF_ACK);
    p.has_md5 = true;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_MD5);
    expect_data(&c, NULL, 0);
    conv_fini(&c);
}
END_TEST

/* ---- T8: data without ACK, data with SYN -------------------------------------------------- */

START_TEST(t8_no_ack_or_syn)
{
    struct conv c;
    conv_start(&c, false, false);
    struct pkt p = cpkt(&c, 0, "FAKE", 4, TCPF_PSH);
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_NO_ACK);
    p = cpkt(&c, 0, "FAKE", 4, TCPF_SYN | TCPF_ACK); /* SYN at another ISN */
    r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_BAD_SYN);
    expect_data(&c, NULL, 0);
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    struct tcpreasm_stats st = stats(&c);
    ck_assert_uint_eq(st.ignored[TCPREASM_NO_ACK], 1);
    ck_assert_uint_eq(st.ignored[TCPREASM_BAD_SYN], 1);
    conv_fini(&c);
}
END_TEST

/* ---- T9: PAWS ------------------------------------------------------------------------------ */

START_TEST(t9_paws)
{
    struct conv c;
    conv_start(&c, true, false);
    struct pkt p = cpkt(&c, 0, "FAKE", 4, TCPF_ACK);
    p.tsval = 10; /* older than the SYN's */
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_PAWS);
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
    /* timestamps not negotiated (server did not echo): no PAWS */
    conv_init(&c, 2, 1, 4096);
    c.ts = true;
    struct pkt syn;
    memset(&syn, 0, sizeof syn);
    syn.seq = c.cisn;
    syn.tcp_flags = TCPF_SYN;
    syn.has_ts = true;
    syn.tsval = 500;
    syn.l4_csum_ok = true;
    csend(&c, &syn);
    memset(&syn, 0, sizeof syn);
    syn.seq = c.sisn;
    syn.ack = c.cisn + 1;
    syn.tcp_flags = TCPF_SYN | TCPF_ACK;
    syn.win = 65535;
    syn.l4_csum_ok = true;
    ssend(&c, &syn);
    p = cpkt(&c, 0, REQ, REQ_LEN, TCPF_ACK);
    p.tsval = 10;
    r = csend(&c, &p);
    ck_assert(r & TCPREASM_NEW_DATA);
    conv_fini(&c);
}
END_TEST

/* ---- T19: the PAWS bound comes from the server's echoed TSecr only ------------------------ */

START_TEST(t19_paws_bound_from_server)
{
    struct conv c;
    conv_start(&c, true, false);
    uint32_t syn_ts = c.f.tcp.ts_recent; /* the SYN-ACK echoed the SYN's TSval */
    ck_assert(c.f.tcp.fl & TCPREASM_S_TSR);
    /* a low-TTL bare ACK with a far-future TSval (the server never gets it) */
    struct pkt p = cpkt(&c, 0, NULL, 0, TCPF_ACK);
    p.tsval = syn_ts + 0x40000000u;
    ck_assert_uint_eq(csend(&c, &p), 0);
    ck_assert_uint_eq(c.f.tcp.ts_recent, syn_ts);
    /* the same as data: accepted as a first copy, its TSval still not the bound */
    p = cpkt(&c, 0, "GET / HTTP/1.1\r\nHost: a", 24, TCPF_ACK | TCPF_PSH);
    p.tsval = syn_ts + 0x40000000u;
    ck_assert(csend(&c, &p) & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(c.f.tcp.ts_recent, syn_ts);
    /* the real data with ordinary timestamps: not "old" by PAWS, shows as a conflict */
    unsigned r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert(!(r & TCPREASM_IGNORED));
    ck_assert(r & TCPREASM_CONFLICT);
    size_t alen;
    const uint8_t *a = tcpreasm_alt(c.pl, &c.f.tcp, &alen);
    ck_assert_uint_eq(alen, REQ_LEN);
    ck_assert_mem_eq(a, REQ, REQ_LEN);
    /* the server echoes the real TSval: that is the bound now; older TSvals fail PAWS */
    uint32_t real_ts = c.tsval - 1;
    sseg(&c, TCPF_ACK, c.cisn + 1 + (uint32_t)REQ_LEN, 502);
    ck_assert_uint_eq(c.f.tcp.ts_recent, real_ts);
    p = cpkt(&c, (uint32_t)REQ_LEN, "x", 1, TCPF_ACK | TCPF_PSH);
    p.tsval = real_ts - 1;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_PAWS);
    /* a server TSecr never lowers the bound */
    c.tsval = real_ts - 100;
    sseg(&c, TCPF_ACK, c.cisn + 1 + (uint32_t)REQ_LEN, 502);
    ck_assert_uint_eq(c.f.tcp.ts_recent, real_ts);
    conv_fini(&c);
}
END_TEST

/* ---- T10: overlapping segments with different bytes ------------------------------------ */

START_TEST(t10_overlap_first_wins)
{
    struct conv c;
    conv_start(&c, false, false);
    cseg(&c, 0, "AAAAAAAAAA", 10);
    unsigned r = cseg(&c, 5, "BBBBBBBBBB", 10);
    ck_assert(r & TCPREASM_CONFLICT);
    expect_new_data(&c, r, "AAAAAAAAAABBBBB", 15);
    size_t len;
    const uint8_t *alt = tcpreasm_alt(c.pl, &c.f.tcp, &len);
    ck_assert_uint_eq(len, 15);
    ck_assert_mem_eq(alt, "AAAAABBBBBBBBBB", 15);
    /* out-of-order overlap: held bytes win there too */
    cseg(&c, 30, "CCCCC", 5);
    r = cseg(&c, 28, "DDDDDDDD", 8);
    ck_assert(r & TCPREASM_CONFLICT);
    r = cseg(&c, 15, "EEEEEEEEEEEEE", 13);
    expect_new_data(&c, r, "AAAAAAAAAABBBBBEEEEEEEEEEEEEDDCCCCCD", 36);
    alt = tcpreasm_alt(c.pl, &c.f.tcp, &len);
    ck_assert_mem_eq(alt, "AAAAABBBBBBBBBBEEEEEEEEEEEEEDDDDDDDD", 36);
    /* identical overlap: no conflict */
    r = cseg(&c, 2, "AAA", 3);
    ck_assert(!(r & TCPREASM_CONFLICT));
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_OLD);
    conv_fini(&c);
}
END_TEST

/* ---- T11: urgent byte removed --------------------------------------------------------------- */

START_TEST(t11_urgent)
{
    struct conv c;
    conv_start(&c, false, false);
    /* "Host: blocXked.example" with X urgent: urg_ptr points one past it (BSD semantics) */
    static const char s1[] = "GET / HTTP/1.1\r\nHost: bloc";
    static const char s2[] = "Xked.example\r\n\r\n";
    unsigned r = cseg(&c, 0, s1, sizeof s1 - 1);
    struct pkt p = cpkt(&c, sizeof s1 - 1, s2, sizeof s2 - 1, TCPF_ACK | TCPF_URG);
    p.urg_ptr = 1;
    r = csend(&c, &p);
    expect_new_data(&c, r, "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n", 41);
    ck_assert_uint_eq(stats(&c).urgent_stripped, 1);
    /* nxt still counts the urgent byte's sequence number */
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + (uint32_t)(sizeof s1 - 1 + sizeof s2 - 1));
    /* a retransmission of the same bytes is recognised, not a conflict */
    r = cseg(&c, sizeof s1 - 1, s2, sizeof s2 - 1);
    ck_assert(!(r & TCPREASM_CONFLICT));
    /* urgent pointer into a segment that arrives later */
    p = cpkt(&c, 42, "ab", 2, TCPF_ACK | TCPF_URG);
    p.urg_ptr = 4; /* byte at offset 42 + 3 = 45 */
    csend(&c, &p);
    cseg(&c, 44, "cZd", 3);
    expect_data(&c, "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\nabcd", 45);
    ck_assert_uint_eq(stats(&c).urgent_stripped, 2);
    conv_fini(&c);
}
END_TEST

/* ---- T12, T13, T15 through the whole path: frame -> decode -> defrag -> flowtab -> here ---- */

/* TCP segment 40000 -> 443 with a correct checksum for the given addresses. */
static size_t mk_tcp(uint8_t *out, int ipver, const uint8_t *src, const uint8_t *dst, uint32_t seq,
                     uint32_t ack, uint8_t flags, const void *pl, size_t n)
{
    const struct craft_tcp t = {
        .sport = 40000, .dport = 443, .seq = seq, .ack = ack, .flags = flags, .win = 65535
    };
    return craft_tcp(out, &t, ipver, src, dst, pl, n);
}

static const uint8_t CLI4[4] = { 198, 51, 100, 7 }, SRV4[4] = { 203, 0, 113, 9 };
static const uint8_t CLI6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
static const uint8_t SRV6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };

/* IPv4 packet (or fragment of l4[off..off+n) when frag) */
static size_t mk_ip4(uint8_t *out, const uint8_t *l4, size_t off, size_t n, bool frag, bool mf)
{
    uint16_t ff = frag ? (uint16_t)((mf ? 0x2000 : 0) | off / 8) : 0;
    return craft_ip4(out, CLI4, SRV4, 0x4242, ff, 6, l4 + off, n);
}

struct path {
    struct defrag *dg;
    struct flowtab *ft;
    struct tcpreasm_pool *pl;
    struct flow *f;
    unsigned last;
};

static void path_init(struct path *pa)
{
    memset(pa, 0, sizeof *pa);
    pa->pl = tcpreasm_pool_new(4, 1, 4096);
    struct flowtab_cfg fc;
    flowtab_cfg_default(&fc);
    fc.max_flows = 16;
    fc.reasm = pa->pl;
    pa->ft = flowtab_new(&fc);
    pa->dg = defrag_new(NULL);
    ck_assert(pa->pl && pa->ft && pa->dg);
}

static void path_fini(struct path *pa)
{
    flowtab_free(pa->ft); /* flows die with the table; buffers with the pool */
    defrag_free(pa->dg);
    tcpreasm_pool_free(pa->pl);
}

/* The pipeline's first steps, as docs/reassembly.md shows them. Returns the decode result. */
static enum decode_result path_ip(struct path *pa, const uint8_t *ip, size_t n, uint64_t now)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    enum decode_result r = decode_ip(ip, n, &p);
    if (r == DECODE_FRAGMENT) {
        const uint8_t *d;
        size_t dl;
        if (defrag_add(pa->dg, &p, now, &d, &dl) != DEFRAG_DONE)
            return r;
        r = decode_ip(d, dl, &p);
    }
    if (r != DECODE_OK || (p.ipver == 6 && p.ipv6_bad_ext))
        return r;
    bool is_new;
    int dir;
    pa->f = flowtab_get(pa->ft, &p, now, &is_new, &dir);
    pa->last = tcpreasm_segment(pa->pl, &pa->f->tcp, pa->f->client, &p, dir);
    return r;
}

START_TEST(t12_fragmented_request)
{
    struct path pa;
    path_init(&pa);
    uint8_t l4[200], ip[300];
    size_t n = mk_tcp(l4, 4, CLI4, SRV4, 1000, 0, TCPF_SYN, NULL, 0);
    path_ip(&pa, ip, mk_ip4(ip, l4, 0, n, false, false), 1);
    n = mk_tcp(l4, 4, CLI4, SRV4, 1001, 1, TCPF_ACK | TCPF_PSH, REQ, REQ_LEN);
    /* fragments cut inside "Host", the last one first */
    ck_assert_int_eq(path_ip(&pa, ip, mk_ip4(ip, l4, 40, n - 40, true, false), 2), DECODE_FRAGMENT);
    ck_assert_int_eq(path_ip(&pa, ip, mk_ip4(ip, l4, 0, 24, true, true), 3), DECODE_FRAGMENT);
    ck_assert_int_eq(path_ip(&pa, ip, mk_ip4(ip, l4, 24, 16, true, true), 4), DECODE_OK);
    ck_assert(pa.last & TCPREASM_NEW_DATA);
    size_t len;
    const uint8_t *d = tcpreasm_data(pa.pl, &pa.f->tcp, &len);
    ck_assert_uint_eq(len, REQ_LEN);
    ck_assert_mem_eq(d, REQ, REQ_LEN);
    path_fini(&pa);
}
END_TEST

START_TEST(t13_ipv6_extension_headers)
{
    struct path pa;
    path_init(&pa);
    uint8_t l4[200], ip[300];
    /* one hop-by-hop header: Linux accepts, so do we */
    size_t n = mk_tcp(l4, 6, CLI6, SRV6, 1000, 1, TCPF_ACK | TCPF_PSH, REQ, REQ_LEN);
    craft_ip6(ip, CLI6, SRV6, 0, 8 + n);
    craft_ext8(ip + 40, 6);
    memcpy(ip + 48, l4, n);
    ck_assert_int_eq(path_ip(&pa, ip, 48 + n, 1), DECODE_OK);
    ck_assert(pa.last & TCPREASM_NEW_DATA);
    path_fini(&pa);
    /* the same bytes behind destination options then hop-by-hop: Linux drops, so do we */
    path_init(&pa);
    craft_ip6(ip, CLI6, SRV6, 60, 16 + n);
    craft_ext8(ip + 40, 0);
    craft_ext8(ip + 48, 6);
    memcpy(ip + 56, l4, n);
    ck_assert_int_eq(path_ip(&pa, ip, 56 + n, 1), DECODE_OK);
    ck_assert_ptr_null(pa.f); /* never reached the flow table */
    path_fini(&pa);
}
END_TEST

START_TEST(t15_handshake_seen_from_the_middle)
{
    /* the capture starts at the SYN-ACK: the ISN comes from its ack, the client from it */
    struct path pa;
    path_init(&pa);
    uint8_t l4[200], ip[300], l4s[64];
    size_t n = mk_tcp(l4s, 4, SRV4, CLI4, 5000, 1001, TCPF_SYN | TCPF_ACK, NULL, 0);
    craft_put16(l4s, 443); /* server -> client: swap the ports, fix the checksum */
    craft_put16(l4s + 2, 40000);
    l4s[16] = l4s[17] = 0;
    craft_put16(l4s + 16, craft_fold(craft_sum(craft_pseudo(4, SRV4, CLI4, 6, n), l4s, n)));
    size_t il = craft_ip4(ip, SRV4, CLI4, 0x4242, 0, 6, l4s, n);
    ck_assert_int_eq(path_ip(&pa, ip, il, 1), DECODE_OK);
    ck_assert_int_eq(flowtab_client_port(pa.f), 40000);
    n = mk_tcp(l4, 4, CLI4, SRV4, 1001, 5001, TCPF_ACK | TCPF_PSH, REQ, REQ_LEN);
    ck_assert_int_eq(path_ip(&pa, ip, mk_ip4(ip, l4, 0, n, false, false), 2), DECODE_OK);
    ck_assert(pa.last & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(pa.f->tcp.isn, 1000);
    size_t len;
    tcpreasm_data(pa.pl, &pa.f->tcp, &len);
    ck_assert_uint_eq(len, REQ_LEN);
    path_fini(&pa);
}
END_TEST

/* IPv4 packet CLI4:40000 <-> SRV4:443 in either direction, correct checksums. */
static size_t mk_seg4(uint8_t *ip, bool from_server, uint32_t seq, uint32_t ack, uint8_t flags,
                      const void *pl, size_t n)
{
    const uint8_t *src = from_server ? SRV4 : CLI4, *dst = from_server ? CLI4 : SRV4;
    uint8_t *l4 = ip + 20;
    mk_tcp(l4, 4, src, dst, seq, ack, flags, pl, n);
    if (from_server) { /* swap the ports; the sum of the header words does not change */
        craft_put16(l4, 443);
        craft_put16(l4 + 2, 40000);
    }
    return craft_ip4(ip, src, dst, 0, 0, 6, NULL, 20 + n);
}

START_TEST(t15_simultaneous_open)
{
    /* the server's SYN first, then the client's: both bare SYNs, then both SYN-ACKs */
    struct path pa;
    path_init(&pa);
    uint8_t ip[300];
    const uint32_t cisn = 1000, sisn = 7000;
    path_ip(&pa, ip, mk_seg4(ip, true, sisn, 0, TCPF_SYN, NULL, 0), 1);
    ck_assert_int_eq(flowtab_client_port(pa.f), 443); /* a guess, for now */
    path_ip(&pa, ip, mk_seg4(ip, false, cisn, 0, TCPF_SYN, NULL, 0), 2);
    ck_assert_int_eq(flowtab_client_port(pa.f), 40000);
    ck_assert_int_eq(flowtab_client_by(pa.f), FLOW_CLIENT_BY_PORT);
    ck_assert_int_eq(TCPREASM_WHY(pa.last), TCPREASM_OK);
    /* the state learned from the server's SYN moved to the server's side */
    ck_assert(pa.f->tcp.fl & TCPREASM_S_SRV_SEQ);
    ck_assert_uint_eq(pa.f->tcp.srv_nxt, sisn + 1);
    ck_assert_uint_eq(pa.f->tcp.isn, cisn);
    ck_assert_uint_eq(pa.f->tcp.nxt, cisn + 1);
    path_ip(&pa, ip, mk_seg4(ip, false, cisn, sisn + 1, TCPF_SYN | TCPF_ACK, NULL, 0), 3);
    ck_assert(!(pa.last & TCPREASM_IGNORED));
    path_ip(&pa, ip, mk_seg4(ip, true, sisn, cisn + 1, TCPF_SYN | TCPF_ACK, NULL, 0), 4);
    ck_assert(!(pa.last & TCPREASM_IGNORED));
    path_ip(&pa, ip, mk_seg4(ip, false, cisn + 1, sisn + 1, TCPF_ACK | TCPF_PSH, REQ, 20), 5);
    ck_assert(pa.last & TCPREASM_NEW_DATA);
    path_ip(&pa, ip,
            mk_seg4(ip, false, cisn + 21, sisn + 1, TCPF_ACK | TCPF_PSH, REQ + 20, REQ_LEN - 20),
            6);
    ck_assert(pa.last & TCPREASM_NEW_DATA);
    size_t len;
    const uint8_t *d = tcpreasm_data(pa.pl, &pa.f->tcp, &len);
    ck_assert_uint_eq(len, REQ_LEN);
    ck_assert_mem_eq(d, REQ, REQ_LEN);
    /* the server's data is not taken for the client's */
    path_ip(&pa, ip, mk_seg4(ip, true, sisn + 1, cisn + 1 + REQ_LEN, TCPF_ACK, "HTTP/1.1", 8), 7);
    tcpreasm_data(pa.pl, &pa.f->tcp, &len);
    ck_assert_uint_eq(len, REQ_LEN);
    ck_assert_uint_eq(pa.f->tcp.srv_nxt, sisn + 9);
    path_fini(&pa);
}
END_TEST

/* ---- T14: SYN data without a Fast Open cookie ----------------------------------------- */

START_TEST(t14_syn_data)
{
    struct conv c;
    conv_init(&c, 2, 1, 4096);
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.seq = c.cisn;
    p.tcp_flags = TCPF_SYN;
    p.payload = (const uint8_t *)"GET / HTTP/1.1\r\nHost: allowed";
    p.payload_len = 29;
    p.l4_csum_ok = true;
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_SYN_DATA);
    expect_data(&c, NULL, 0);
    ck_assert(c.f.tcp.fl & TCPREASM_S_SYN); /* the SYN itself counts */
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
    /* with a cookie (T22): held until the SYN-ACK acknowledges it, then the stream's start */
    conv_init(&c, 2, 1, 4096);
    p.has_fastopen = true;
    p.fastopen_cookie_len = 8;
    p.payload = (const uint8_t *)REQ;
    p.payload_len = REQ_LEN;
    r = csend(&c, &p);
    ck_assert(!(r & (TCPREASM_NEW_DATA | TCPREASM_IGNORED)));
    expect_data(&c, NULL, 0);
    ck_assert(c.f.tcp.fl2 & TCPREASM_S2_TFO_HELD);
    struct pkt sa;
    memset(&sa, 0, sizeof sa);
    sa.seq = c.sisn;
    sa.ack = c.cisn + 1 + (uint32_t)REQ_LEN;
    sa.tcp_flags = TCPF_SYN | TCPF_ACK;
    sa.win = 65535;
    sa.l4_csum_ok = true;
    r = ssend(&c, &sa);
    expect_new_data(&c, r, REQ, REQ_LEN);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + (uint32_t)REQ_LEN);
    ck_assert_uint_eq(stats(&c).tfo_accepted, 1);
    conv_fini(&c);
    /* a decoy in a SYN with a cookie the server refuses: the SYN-ACK acks only the SYN, the
     * decoy is dropped unjudged, client data before the SYN-ACK waits, the real request after
     * it is the stream */
    conv_init(&c, 2, 1, 4096);
    p.payload = (const uint8_t *)"GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n";
    p.payload_len = 41;
    csend(&c, &p);
    r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_TFO_WAIT);
    sa.ack = c.cisn + 1;
    r = ssend(&c, &sa);
    ck_assert(!(r & TCPREASM_NEW_DATA));
    expect_data(&c, NULL, 0);
    ck_assert_uint_eq(stats(&c).tfo_refused, 1);
    ck_assert_uint_eq(stats(&c).bufs_in_use, 0);
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    ck_assert(!(r & TCPREASM_CONFLICT));
    /* SYN data after the SYN-ACK (a late retransmit): ignored */
    r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_SYN_DATA);
    conv_fini(&c);
}
END_TEST

/* ---- queue mode: the kernel passes the SYN-ACK and the bare ACKs, only the SYN is seen ------ */

/* The client's SYN (timestamps 500, Fast Open cookie and data when data), in queue mode. */
static unsigned unseen_syn(struct conv *c, uint32_t isn, const void *data, size_t n)
{
    struct pkt p = cpkt(c, 0, data, n, TCPF_SYN);
    p.seq = isn;
    p.ack = 0;
    p.has_ts = true;
    p.tsval = 500;
    p.has_fastopen = data != NULL;
    p.fastopen_cookie_len = data ? 8 : 0;
    return csend(c, &p);
}

START_TEST(synack_unseen)
{
    struct conv c;
    conv_init(&c, 2, 1, 4096);
    tcpreasm_pool_synack_unseen(c.pl, true);
    c.ts = true;
    c.tsval = 600;
    ck_assert_uint_eq(unseen_syn(&c, c.cisn, NULL, 0), 0);
    ck_assert(c.f.tcp.fl & TCPREASM_S_TS_OK); /* no SYN-ACK to say so: the SYN's offer counts */
    ck_assert_uint_eq(c.f.tcp.ts_recent, 500);
    /* PAWS against the SYN's TSval, as the SYN-ACK's echo would have set it (T9) */
    struct pkt p = cpkt(&c, 0, "FAKE", 4, TCPF_ACK);
    p.tsval = 499;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_PAWS);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_SRV_GUESS)); /* an ignored segment teaches nothing */
    /* another ISN on a SYN: refused (the engine sets it aside: the server keeps the first) */
    ck_assert_int_eq(TCPREASM_WHY(unseen_syn(&c, c.cisn + 5000, NULL, 0)), TCPREASM_BAD_SYN);
    /* the first data segment: the stream starts after the SYN's ISN, and the client's
     * acknowledgement is where a reset to it starts (the server's next sequence number) */
    unsigned r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    ck_assert(c.f.tcp.fl2 & TCPREASM_S2_SRV_GUESS);
    ck_assert(!(c.f.tcp.fl & TCPREASM_S_SRV_SEQ));
    ck_assert_uint_eq(c.f.tcp.srv_nxt, c.sisn + 1);
    /* the server's first segment replaces the guess */
    r = sseg(&c, TCPF_ACK | TCPF_PSH, c.cisn + 1 + (uint32_t)REQ_LEN, 502);
    ck_assert(c.f.tcp.fl & TCPREASM_S_SRV_SEQ);
    conv_fini(&c);

    /* Fast Open data on the SYN, cookie and all: never taken (nothing shows whether the server
     * took it); the client sends it again after the handshake, and that is the stream */
    conv_init(&c, 2, 1, 4096);
    tcpreasm_pool_synack_unseen(c.pl, true);
    c.tsval = 600;
    c.ts = true;
    r = unseen_syn(&c, c.cisn, "GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n", 41);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_SYN_DATA);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_TFO_HELD));
    ck_assert_uint_eq(stats(&c).bufs_in_use, 0);
    ck_assert_uint_eq(unseen_syn(&c, c.cisn, NULL, 0), 0); /* its retransmission, no data */
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
}
END_TEST

/* Picked up mid-stream: a retransmission inside what is held (a collapsed retransmission of
 * several bytes) is an overlap and never moves the unconfirmed start forward (tap mode here, the
 * server's ACKs not yet seen). Queue mode, the SYN unseen: the stream starts at the first client
 * byte seen; the same holds, and for a tail-loss probe of one byte; a segment that starts before
 * the anchor moves it back. */
START_TEST(synack_unseen_pickup_retransmissions)
{
    struct conv c;
    conv_init(&c, 2, 1, 4096);
    cseg(&c, 0, REQ, 10);
    cseg(&c, 10, REQ + 10, 10);
    cseg(&c, 4, REQ + 4, 8); /* bytes 4-11 again */
    cseg(&c, 20, REQ + 20, REQ_LEN - 20);
    expect_data(&c, REQ, REQ_LEN);
    ck_assert_uint_eq(stats(&c).midstream_reanchored, 0);
    conv_fini(&c);

    conv_init(&c, 2, 1, 4096);
    tcpreasm_pool_synack_unseen(c.pl, true);
    for (uint32_t i = 0; i < 10; i++)
        cseg(&c, i, REQ + i, 1);
    expect_data(&c, REQ, 10);
    cseg(&c, 9, REQ + 9, 1); /* the last byte again (a tail-loss probe) */
    cseg(&c, 3, REQ + 3, 6); /* bytes 3-8 in one segment (a collapsed retransmission) */
    expect_data(&c, REQ, 10);
    for (uint32_t i = 10; i < REQ_LEN; i++)
        cseg(&c, i, REQ + i, 1);
    expect_data(&c, REQ, REQ_LEN);
    ck_assert_uint_eq(stats(&c).midstream_reanchored, 0);
    conv_fini(&c);

    /* the first segment seen was not the start: the earlier bytes move the anchor back */
    conv_init(&c, 2, 1, 4096);
    tcpreasm_pool_synack_unseen(c.pl, true);
    cseg(&c, 5, REQ + 5, REQ_LEN - 5);
    expect_data(&c, REQ + 5, REQ_LEN - 5);
    unsigned r = cseg(&c, 0, REQ, 5);
    ck_assert(r & TCPREASM_REANCHORED);
    expect_data(&c, REQ, REQ_LEN);
    cseg(&c, 2, REQ + 2, 1); /* inside the new start: an overlap */
    expect_data(&c, REQ, REQ_LEN);
    ck_assert_uint_eq(stats(&c).midstream_reanchored, 1);
    conv_fini(&c);
}
END_TEST

/* ---- T20: the SYN-ACK's acknowledgement picks the client's ISN ------------------------------ */

static void t20_syn(struct conv *c, uint32_t isn, bool wscale)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.seq = isn;
    p.tcp_flags = TCPF_SYN;
    p.win = 64240;
    p.has_wscale = wscale;
    p.wscale = 7;
    p.l4_csum_ok = true;
    csend(c, &p);
}

static void t20_synack(struct conv *c)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.seq = c->sisn;
    p.ack = c->cisn + 1;
    p.tcp_flags = TCPF_SYN | TCPF_ACK;
    p.win = 65535;
    p.has_wscale = true;
    p.wscale = 7;
    p.l4_csum_ok = true;
    ck_assert_uint_eq(ssend(c, &p), 0);
}

START_TEST(t20_fake_syn_first)
{
    struct conv c;
    /* a low-TTL SYN with another ISN (and no window scale) first, then the real SYN */
    conv_init(&c, 2, 1, 4096);
    t20_syn(&c, c.cisn + 0x01000000u, false);
    ck_assert_uint_eq(c.f.tcp.isn, c.cisn + 0x01000000u);
    t20_syn(&c, c.cisn, true);
    ck_assert_uint_eq(stats(&c).ignored[TCPREASM_BAD_SYN], 1);
    t20_synack(&c);
    ck_assert_uint_eq(c.f.tcp.isn, c.cisn);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1);
    ck_assert_uint_eq(stats(&c).syn_reanchored, 1);
    ck_assert(c.f.tcp.fl & TCPREASM_S_WS_OK); /* the real SYN's option counts */
    unsigned r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
    /* real SYN first, fake after: the SYN-ACK confirms the first, nothing moves */
    conv_init(&c, 2, 1, 4096);
    t20_syn(&c, c.cisn, true);
    t20_syn(&c, c.cisn + 0x01000000u, true);
    t20_synack(&c);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1);
    ck_assert_uint_eq(stats(&c).syn_reanchored, 0);
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    /* a SYN with another ISN after the SYN-ACK: ignored, moves nothing */
    t20_syn(&c, c.cisn + 0x02000000u, true);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + (uint32_t)REQ_LEN);
    conv_fini(&c);
}
END_TEST

/* ---- mid-stream pick-up: keep-alive probes, anchors confirmed by the server's ACKs ------- */

START_TEST(midstream_keepalive_probe)
{
    struct conv c;
    /* the flow's first packets are keep-alive probes (seq one below the next byte, 0 or 1
     * byte): nothing is anchored on them, the next data starts the stream */
    conv_init(&c, 2, 1, 4096);
    struct pkt p = cpkt(&c, 0, NULL, 0, TCPF_ACK);
    p.seq--;
    ck_assert_uint_eq(csend(&c, &p), 0);
    ck_assert(!(c.f.tcp.fl & TCPREASM_S_SEQ));
    p = cpkt(&c, 0, "z", 1, TCPF_ACK);
    p.seq--;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_NO_SEQ);
    unsigned r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    ck_assert(c.f.tcp.fl2 & TCPREASM_S2_UNCONF);
    /* the server acknowledges exactly those bytes: confirmed */
    sseg(&c, TCPF_ACK, c.cisn + 1 + (uint32_t)REQ_LEN, 502);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_UNCONF));
    expect_data(&c, REQ, REQ_LEN);
    conv_fini(&c);
    /* the server's ACK answering the probe anchors the flow (confirmed at once) */
    conv_init(&c, 2, 1, 4096);
    p = cpkt(&c, 0, "z", 1, TCPF_ACK);
    p.seq--;
    csend(&c, &p);
    sseg(&c, TCPF_ACK, c.cisn + 1, 502);
    ck_assert(c.f.tcp.fl & TCPREASM_S_SEQ);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_UNCONF));
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1);
    p = cpkt(&c, 0, "z", 1, TCPF_ACK); /* another probe: old, changes nothing */
    p.seq--;
    ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_OLD);
    r = cseg(&c, 0, REQ, REQ_LEN);
    expect_new_data(&c, r, REQ, REQ_LEN);
    conv_fini(&c);
}
END_TEST

START_TEST(midstream_anchor_confirmed_by_server)
{
    static const char JUNK[] = "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";
    struct conv c;
    /* a fake ahead of the real start is seen first: the real bytes before it are not "old"
     * while the anchor is unconfirmed - the lowest start wins, the fake stays out of order */
    conv_init(&c, 2, 1, 4096);
    unsigned r = cseg(&c, 100, JUNK, 40);
    expect_new_data(&c, r, JUNK, 40);
    r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert(r & TCPREASM_REANCHORED);
    expect_new_data(&c, r, REQ, REQ_LEN);
    sseg(&c, TCPF_ACK, c.cisn + 1 + (uint32_t)REQ_LEN, 502);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_UNCONF));
    ck_assert_uint_eq(stats(&c).midstream_reanchored, 1);
    conv_fini(&c);
    /* a fake far below the real start is seen first: the real bytes wait out of order until
     * the server's ACK shows which run it holds */
    conv_init(&c, 2, 1, 4096);
    r = cseg(&c, 0, JUNK, 20);
    expect_new_data(&c, r, JUNK, 20);
    r = cseg(&c, 1000, REQ, REQ_LEN);
    ck_assert(!(r & TCPREASM_NEW_DATA));
    /* an ACK past everything held (a tap showing the directions out of step): no change */
    r = sseg(&c, TCPF_ACK, c.cisn + 1 + 2000, 502);
    ck_assert(!(r & TCPREASM_REANCHORED));
    ck_assert(c.f.tcp.fl2 & TCPREASM_S2_UNCONF);
    expect_data(&c, JUNK, 20);
    r = sseg(&c, TCPF_ACK, c.cisn + 1 + 1000 + (uint32_t)REQ_LEN, 502);
    ck_assert(r & TCPREASM_REANCHORED);
    ck_assert(r & TCPREASM_NEW_DATA);
    expect_data(&c, REQ, REQ_LEN);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + 1000 + (uint32_t)REQ_LEN);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_UNCONF));
    /* confirmed: data below the anchor is old again */
    r = cseg(&c, 0, JUNK, 20);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_OLD);
    conv_fini(&c);
    /* the capture starts with the second part of a request (reordered): an older server ACK
     * changes nothing, the first part moves the anchor down when it arrives (the held bytes
     * move up behind it), and the server's ACK of the whole confirms */
    conv_init(&c, 2, 1, 4096);
    r = cseg(&c, 30, REQ + 30, REQ_LEN - 30);
    expect_new_data(&c, r, REQ + 30, REQ_LEN - 30);
    r = sseg(&c, TCPF_ACK, c.cisn + 1 - 100, 502);
    ck_assert(!(r & TCPREASM_REANCHORED));
    expect_data(&c, REQ + 30, REQ_LEN - 30);
    r = cseg(&c, 0, REQ, 30);
    ck_assert(r & TCPREASM_REANCHORED);
    expect_new_data(&c, r, REQ, REQ_LEN);
    sseg(&c, TCPF_ACK, c.cisn + 1 + (uint32_t)REQ_LEN, 502);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_UNCONF));
    conv_fini(&c);
}
END_TEST

/* ---- a second SYN-ACK with another ISN (SYN proxy, load balancer, or on purpose) ----------- */

START_TEST(second_synack_other_isn)
{
    for (int k = 0; k < 2; k++) {
        struct conv c;
        conv_start(&c, false, false);
        struct pkt sa;
        memset(&sa, 0, sizeof sa);
        sa.seq = k ? c.sisn + 0x40000000u : c.sisn - 0x40000000u;
        sa.ack = c.cisn + 1;
        sa.tcp_flags = TCPF_SYN | TCPF_ACK;
        sa.win = 65535;
        sa.l4_csum_ok = true;
        ck_assert_uint_eq(ssend(&c, &sa), 0);
        ck_assert(c.f.tcp.fl2 & TCPREASM_S2_SRV_AMBIG);
        ck_assert_uint_eq(c.f.tcp.srv_nxt, c.sisn + 1);
        /* the client acknowledges the first one: its data is taken */
        unsigned r = cseg(&c, 0, REQ, 20);
        expect_new_data(&c, r, REQ, 20);
        /* acknowledging the second one is taken too, until the server shows its space */
        struct pkt p = cpkt(&c, 20, REQ + 20, 10, TCPF_ACK | TCPF_PSH);
        p.ack = sa.seq + 1;
        r = csend(&c, &p);
        expect_new_data(&c, r, REQ, 30);
        /* the server's next segment: from the first ISN; the check is back */
        sseg(&c, TCPF_ACK, c.cisn + 31, 502);
        ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_SRV_AMBIG));
        p = cpkt(&c, 30, REQ + 30, 5, TCPF_ACK | TCPF_PSH);
        p.ack = sa.seq + 1;
        ck_assert_int_eq(TCPREASM_WHY(csend(&c, &p)), TCPREASM_BAD_ACK);
        r = cseg(&c, 30, REQ + 30, REQ_LEN - 30);
        expect_new_data(&c, r, REQ, REQ_LEN);
        ck_assert_uint_eq(stats(&c).synack_ambiguous, 1);
        conv_fini(&c);
    }
    /* a retransmitted SYN-ACK is no second ISN */
    struct conv c;
    conv_start(&c, false, false);
    struct pkt sa;
    memset(&sa, 0, sizeof sa);
    sa.seq = c.sisn;
    sa.ack = c.cisn + 1;
    sa.tcp_flags = TCPF_SYN | TCPF_ACK;
    sa.l4_csum_ok = true;
    ssend(&c, &sa);
    ck_assert(!(c.f.tcp.fl2 & TCPREASM_S2_SRV_AMBIG));
    conv_fini(&c);
}
END_TEST

/* ---- after release, nxt is the server's rcv_nxt for forged resets ----------------------- */

START_TEST(released_tracks_highest)
{
    struct conv c;
    conv_start(&c, false, false);
    cseg(&c, 0, REQ, 10);
    tcpreasm_release(c.pl, &c.f.tcp);
    /* a segment lost to the capture: later ones still move nxt (highest accepted end) */
    cseg(&c, 20, REQ + 20, 10);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + 30);
    cseg(&c, 10, REQ + 10, 10); /* the late one: nxt does not go back */
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + 30);
    /* a segment that fails a check (outside the window) does not move it */
    struct pkt p = cpkt(&c, 0x40000000u, REQ, 10, TCPF_ACK | TCPF_PSH);
    ck_assert(csend(&c, &p) & TCPREASM_IGNORED);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + 30);
    /* the server acknowledges bytes we never saw: its ack is its rcv_nxt */
    sseg(&c, TCPF_ACK, c.cisn + 1 + 50, 502);
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + 50);
    sseg(&c, TCPF_ACK, c.cisn + 1 + 40, 502); /* an older ack changes nothing */
    ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + 50);
    conv_fini(&c);
}
END_TEST

/* ---- zapret fake-real-fake: every distinct version of the bytes is a view ----------------- */

static bool has_view(struct conv *c, const char *want, size_t n)
{
    for (unsigned i = 0; i < tcpreasm_nviews(c->pl, &c->f.tcp); i++) {
        size_t len;
        bool changed;
        const uint8_t *v = tcpreasm_view(c->pl, &c->f.tcp, i, &len, &changed);
        if (v && len == n && memcmp(v, want, n) == 0)
            return true;
    }
    return false;
}

START_TEST(versions_fake_real_fake)
{
    static const char REAL[] = "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    static const char FAKE[] = "GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n";
    size_t n = sizeof REAL - 1, cut = 25; /* inside the name, after "blo" */
    struct conv c;
    conv_init(&c, 2, 8, 4096);
    handshake(&c, false, false);
    cseg(&c, 0, FAKE, n);
    ck_assert_uint_eq(tcpreasm_nviews(c.pl, &c.f.tcp), 1);
    cseg(&c, 0, REAL, cut);
    cseg(&c, 0, FAKE, cut);
    unsigned r = cseg(&c, (uint32_t)cut, REAL + cut, n - cut);
    ck_assert(r & TCPREASM_CONFLICT);
    /* neither the first-copy nor the last-copy view holds the real request ... */
    expect_data(&c, FAKE, n);
    size_t alen;
    const uint8_t *a = tcpreasm_alt(c.pl, &c.f.tcp, &alen);
    ck_assert_uint_eq(alen, n);
    ck_assert_mem_ne(a, REAL, n);
    /* ... another version does */
    ck_assert(has_view(&c, REAL, n));
    ck_assert_uint_ge(stats(&c).versions, 1);
    /* seen / changed bookkeeping */
    unsigned nv = tcpreasm_nviews(c.pl, &c.f.tcp);
    for (unsigned i = 1; i < nv; i++) {
        bool changed;
        tcpreasm_view(c.pl, &c.f.tcp, i, &alen, &changed);
        ck_assert(changed);
        tcpreasm_view_seen(c.pl, &c.f.tcp, i);
        tcpreasm_view(c.pl, &c.f.tcp, i, &alen, &changed);
        ck_assert(!changed);
    }
    /* a copy that changes nothing leaves every view seen */
    cseg(&c, 0, FAKE, cut);
    for (unsigned i = 2; i < nv; i++) {
        bool changed;
        tcpreasm_view(c.pl, &c.f.tcp, i, &alen, &changed);
        ck_assert(!changed);
    }
    /* keep-alive: consuming moves every version */
    cseg(&c, (uint32_t)n, REQ, REQ_LEN);
    tcpreasm_consume(c.pl, &c.f.tcp, n);
    expect_data(&c, REQ, REQ_LEN);
    for (unsigned i = 0; i < tcpreasm_nviews(c.pl, &c.f.tcp); i++) {
        bool changed;
        const uint8_t *v = tcpreasm_view(c.pl, &c.f.tcp, i, &alen, &changed);
        ck_assert_uint_eq(alen, REQ_LEN);
        ck_assert_mem_eq(v, REQ, REQ_LEN);
    }
    tcpreasm_release(c.pl, &c.f.tcp);
    ck_assert_uint_eq(stats(&c).alts_in_use, 0);
    conv_fini(&c);
}
END_TEST

START_TEST(versions_bounded)
{
    /* five different copies of the same bytes: the last-copy view and 3 other versions; the
     * fifth copy finds no room (counted, flagged) but is still the last copy */
    struct conv c;
    conv_init(&c, 2, 8, 4096);
    handshake(&c, false, false);
    char v[6][8];
    unsigned r = 0;
    for (int k = 0; k < 6; k++) {
        memset(v[k], 'a' + k, sizeof v[k]);
        r = cseg(&c, 0, v[k], sizeof v[k]);
    }
    ck_assert(r & TCPREASM_VIEWS_FULL);
    ck_assert_uint_eq(tcpreasm_nviews(c.pl, &c.f.tcp), 5);
    ck_assert_uint_ge(stats(&c).views_full, 1);
    ck_assert(has_view(&c, v[0], 8));
    ck_assert(has_view(&c, v[5], 8));
    tcpreasm_release(c.pl, &c.f.tcp);
    ck_assert_uint_eq(stats(&c).alts_in_use, 0);
    conv_fini(&c);
    /* an empty alternative pool: no version, no crash */
    conv_init(&c, 2, 0, 4096);
    handshake(&c, false, false);
    cseg(&c, 0, v[0], 8);
    r = cseg(&c, 0, v[1], 8);
    ck_assert(r & TCPREASM_CONFLICT);
    ck_assert_uint_eq(tcpreasm_nviews(c.pl, &c.f.tcp), 1);
    conv_fini(&c);
}
END_TEST

/* ---- T16: RST must be exactly at rcv_nxt --------------------------------------------------- */

START_TEST(t16_rst)
{
    struct conv c;
    conv_start(&c, false, false);
    cseg(&c, 0, REQ, 10);
    struct pkt p = cpkt(&c, 5, NULL, 0, TCPF_RST);
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_RST_BAD_SEQ);
    ck_assert(!(tcpreasm_closing(&c.f.tcp)));
    /* a server RST at the wrong sequence number: ignored too */
    struct pkt s;
    memset(&s, 0, sizeof s);
    s.seq = c.sisn + 100;
    s.tcp_flags = TCPF_RST;
    s.l4_csum_ok = true;
    r = ssend(&c, &s);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_RST_BAD_SEQ);
    r = cseg(&c, 10, REQ + 10, REQ_LEN - 10);
    expect_new_data(&c, r, REQ, REQ_LEN);
    p = cpkt(&c, (uint32_t)REQ_LEN, NULL, 0, TCPF_RST | TCPF_ACK);
    r = csend(&c, &p);
    ck_assert(r & TCPREASM_RESET);
    ck_assert(tcpreasm_closing(&c.f.tcp));
    /* the RST may have been a low-TTL fake: later data is still inspected, and lifts the
     * 15 s tombstone (T21: a slow or reordered request must not outlive its flow) */
    r = cseg(&c, (uint32_t)REQ_LEN, "more", 4);
    ck_assert(r & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(stats(&c).data_after_close, 1);
    ck_assert(!(tcpreasm_closing(&c.f.tcp)));
    ck_assert_uint_eq(stats(&c).tombstone_lifted, 1);
    conv_fini(&c);
    /* exact server RST: the server closed, so client data after it keeps the tombstone */
    conv_start(&c, false, false);
    s.seq = c.sisn + 1;
    r = ssend(&c, &s);
    ck_assert(r & TCPREASM_RESET);
    r = cseg(&c, 0, REQ, REQ_LEN);
    ck_assert(r & TCPREASM_NEW_DATA);
    ck_assert(tcpreasm_closing(&c.f.tcp));
    ck_assert_uint_eq(stats(&c).tombstone_lifted, 0);
    conv_fini(&c);
}
END_TEST

/* ---- T18: duplicates ------------------------------------------------------------------------ */

START_TEST(t18_duplicates)
{
    struct conv c;
    conv_start(&c, false, false);
    cseg(&c, 0, REQ, 20);
    unsigned r = cseg(&c, 0, REQ, 20);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_OLD);
    ck_assert(!(r & TCPREASM_CONFLICT));
    cseg(&c, 30, REQ + 30, 10);
    r = cseg(&c, 30, REQ + 30, 10); /* out-of-order duplicate */
    ck_assert(!(r & (TCPREASM_CONFLICT | TCPREASM_NEW_DATA)));
    r = cseg(&c, 10, REQ + 10, REQ_LEN - 10);
    expect_new_data(&c, r, REQ, REQ_LEN);
    ck_assert_uint_eq(stats(&c).dup_bytes, 20 + 10 + 10 + 10);
    ck_assert_ptr_null(tcpreasm_alt(c.pl, &c.f.tcp, &(size_t){ 0 }));
    conv_fini(&c);
}
END_TEST

/* ---- beyond the table: ACK checks, FIN, consume, pool limits, mid-stream -------------- */

START_TEST(bad_ack)
{
    struct conv c;
    conv_start(&c, false, false);
    struct pkt p = cpkt(&c, 0, "FAKE", 4, TCPF_ACK);
    p.ack = c.sisn + 1 + 200000; /* acks data the server never sent (beyond any slack) */
    unsigned r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_BAD_ACK);
    p.ack = c.sisn + 1 + 1000; /* a little ahead: a tap's direction skew, tolerated */
    r = csend(&c, &p);
    ck_assert(r & TCPREASM_NEW_DATA);
    tcpreasm_release(c.pl, &c.f.tcp);
    conv_fini(&c);
    conv_start(&c, false, false);
    p = cpkt(&c, 0, "FAKE", 4, TCPF_ACK);
    p.ack = c.sisn + 1 - 66000; /* zapret "badseq": older than a window */
    r = csend(&c, &p);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_BAD_ACK);
    p.ack = c.sisn + 1 - 1000; /* old but within the window: fine */
    r = csend(&c, &p);
    ck_assert(r & TCPREASM_NEW_DATA);
    conv_fini(&c);
}
END_TEST

START_TEST(fin_and_after)
{
    struct conv c;
    conv_start(&c, false, false);
    struct pkt p = cpkt(&c, 0, REQ, REQ_LEN, TCPF_ACK | TCPF_FIN);
    unsigned r = csend(&c, &p);
    ck_assert(r & TCPREASM_FIN);
    ck_assert(r & TCPREASM_NEW_DATA);
    ck_assert(tcpreasm_closing(&c.f.tcp));
    /* a fake FIN: the real stream goes on at the FIN's sequence number, and is inspected */
    r = cseg(&c, (uint32_t)REQ_LEN, "zz", 2);
    ck_assert(r & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(stats(&c).data_after_close, 1);
    size_t len;
    const uint8_t *d = tcpreasm_data(c.pl, &c.f.tcp, &len);
    ck_assert_uint_eq(len, REQ_LEN + 2);
    ck_assert_mem_eq(d + REQ_LEN, "zz", 2);
    conv_fini(&c);
}
END_TEST

START_TEST(consume_keepalive)
{
    struct conv c;
    conv_start(&c, false, false);
    cseg(&c, 0, REQ, REQ_LEN);
    cseg(&c, (uint32_t)REQ_LEN, "POST /x HTTP/1.1\r\n", 18);
    tcpreasm_consume(c.pl, &c.f.tcp, REQ_LEN);
    expect_data(&c, "POST /x HTTP/1.1\r\n", 18);
    /* a body of 30 bytes, 8 of them here: skip the rest as it arrives */
    cseg(&c, (uint32_t)REQ_LEN + 18, "12345678", 8);
    tcpreasm_consume(c.pl, &c.f.tcp, 18 + 30);
    expect_data(&c, NULL, 0);
    uint32_t at = (uint32_t)REQ_LEN + 18 + 8;
    cseg(&c, at, "9012345678901234567890GET /2", 28);
    expect_data(&c, "GET /2", 6);
    /* full buffer, consumed, room again */
    tcpreasm_consume(c.pl, &c.f.tcp, 6);
    expect_data(&c, NULL, 0);
    static uint8_t blk[4096];
    memset(blk, 'q', sizeof blk);
    at += 28;
    ck_assert(cseg(&c, at, blk, sizeof blk) & TCPREASM_NEW_DATA);
    unsigned r = cseg(&c, at + 4096, "r", 1);
    ck_assert(r & TCPREASM_FULL);
    tcpreasm_consume(c.pl, &c.f.tcp, 4096);
    r = cseg(&c, at + 4096, "r", 1);
    expect_new_data(&c, r, "r", 1);
    conv_fini(&c);
}
END_TEST

/* A flow holds a buffer only while bytes are pending: consumed to the end, the buffer goes
 * back to the pool and the next request takes one again, so two keep-alive flows share a pool
 * of one buffer. Bytes still to skip, out-of-order bytes or an alternative view keep it. */
START_TEST(buffer_returned_when_idle)
{
    struct tcpreasm_pool *pl = tcpreasm_pool_new(1, 1, 1024);
    struct conv a, b;
    conv_pair(pl, &a, &b);
    struct tcpreasm_stats st;
    ck_assert(cseg(&a, 0, REQ, REQ_LEN) & TCPREASM_NEW_DATA);
    ck_assert_uint_ne(a.f.tcp.buf, 0);
    tcpreasm_consume(pl, &a.f.tcp, REQ_LEN);
    ck_assert_uint_eq(a.f.tcp.buf, 0); /* nothing pending: returned */
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.bufs_in_use, 0);
    ck_assert_uint_eq(st.bufs_recycled, 1);
    ck_assert_ptr_null(tcpreasm_data(pl, &a.f.tcp, &(size_t){ 0 }));
    /* the other flow gets the one buffer now */
    ck_assert(cseg(&b, 0, "GET /b HTTP/1.1\r\n", 17) & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(cseg(&a, (uint32_t)REQ_LEN, "GET /a2", 7) & TCPREASM_GAVEUP,
                      TCPREASM_GAVEUP); /* pool empty while b holds it: fail-open */
    ck_assert_uint_eq(a.f.tcp.nxt, a.cisn + 1 + REQ_LEN + 7); /* sequence kept */
    tcpreasm_consume(pl, &b.f.tcp, 17);
    ck_assert_uint_eq(b.f.tcp.buf, 0);
    /* b's next request, split and out of order: a new buffer from nxt; the later half alone
     * keeps it even after the earlier bytes are consumed */
    ck_assert(!(cseg(&b, 17 + 4, "/2 HTTP/1.1", 11) & TCPREASM_NEW_DATA));
    ck_assert_uint_ne(b.f.tcp.buf, 0);
    ck_assert(cseg(&b, 17, "GET ", 4) & TCPREASM_NEW_DATA);
    expect_data(&b, "GET /2 HTTP/1.1", 15);
    ck_assert(!(cseg(&b, 17 + 15 + 10, "late", 4) & TCPREASM_NEW_DATA));
    tcpreasm_consume(pl, &b.f.tcp, 15);
    ck_assert_uint_ne(b.f.tcp.buf, 0); /* out-of-order bytes pending */
    ck_assert(cseg(&b, 17 + 15, "0123456789", 10) & TCPREASM_NEW_DATA);
    expect_data(&b, "0123456789late", 14);
    /* consumed past the end: kept until the skipped bytes have passed, then returned */
    tcpreasm_consume(pl, &b.f.tcp, 14 + 6);
    ck_assert_uint_ne(b.f.tcp.buf, 0);
    cseg(&b, 17 + 15 + 14, "bod", 3);
    ck_assert_uint_ne(b.f.tcp.buf, 0);
    cseg(&b, 17 + 15 + 17, "y!!", 3);
    ck_assert_uint_eq(b.f.tcp.buf, 0);
    ck_assert(cseg(&b, 17 + 15 + 20, "GET /3", 6) & TCPREASM_NEW_DATA);
    expect_data(&b, "GET /3", 6);
    /* a conflict made an alternative view: kept (the pipeline still compares the views) */
    ck_assert(cseg(&b, 17 + 15 + 20, "PUT /3", 6) & TCPREASM_CONFLICT);
    tcpreasm_consume(pl, &b.f.tcp, 6);
    ck_assert_uint_ne(b.f.tcp.buf, 0);
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.bufs_recycled, 3);
    ck_assert_uint_eq(st.bufs_in_use, 1);
    tcpreasm_release(pl, &b.f.tcp);
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.bufs_in_use, 0);
    ck_assert_uint_eq(st.alts_in_use, 0);
    tcpreasm_pool_free(pl);
}
END_TEST

/* tcpreasm_pool_evict_oldest(): the pool never runs dry. A flow needing a buffer when none is
 * free takes the one taken longest ago; its holder is told, has given up (sequence only) and
 * holds nothing; later buffers go by age again (the oldest is now the second flow's). The
 * client's share still refuses before anything is evicted. */
static struct tcpreasm_state *g_evicted[4];
static unsigned g_nevicted;
static void on_evict(void *ctx, struct tcpreasm_state *t)
{
    ck_assert_ptr_eq(ctx, &g_nevicted);
    ck_assert_uint_eq(t->buf, 0);
    ck_assert(t->fl & TCPREASM_S_GAVEUP);
    if (g_nevicted < 4)
        g_evicted[g_nevicted] = t;
    g_nevicted++;
}

START_TEST(evict_oldest)
{
    struct tcpreasm_pool *pl = tcpreasm_pool_new(2, 1, 256);
    ck_assert_int_eq(tcpreasm_pool_evict_oldest(pl, NULL, NULL), -EINVAL);
    ck_assert_int_eq(tcpreasm_pool_evict_oldest(pl, on_evict, &g_nevicted), 0);
    ck_assert_int_eq(tcpreasm_pool_owner_limit(pl, 2, 0), 0);
    g_nevicted = 0;
    static const uint8_t x[16] = { 10, 0, 0, 7 }, y[16] = { 10, 0, 0, 8 };
    struct conv a, b, c, d;
    conv_pair(pl, &a, &b);
    conv_pair(pl, &c, &d);
    c.cisn = 9000;
    d.cisn = 12000;
    tcpreasm_pool_owner(pl, 4, x);
    ck_assert(cseg(&a, 0, "aaa", 3) & TCPREASM_NEW_DATA); /* the oldest */
    ck_assert(cseg(&b, 0, "bbb", 3) & TCPREASM_NEW_DATA);
    /* x holds its share (2): refused before anything is evicted */
    unsigned r = cseg(&c, 0, "ccc", 3);
    ck_assert(r & TCPREASM_GAVEUP);
    ck_assert(r & TCPREASM_OWNER_LIMITED);
    ck_assert_uint_eq(g_nevicted, 0);
    /* y: the pool is empty, a's buffer is taken */
    tcpreasm_pool_owner(pl, 4, y);
    ck_assert(cseg(&d, 0, "ddd", 3) & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(g_nevicted, 1);
    ck_assert_ptr_eq(g_evicted[0], &a.f.tcp);
    expect_data(&d, "ddd", 3);
    expect_data(&b, "bbb", 3);
    size_t len;
    ck_assert_ptr_null(tcpreasm_data(pl, &a.f.tcp, &len));
    /* a's later data is tracked, never buffered again */
    tcpreasm_pool_owner(pl, 4, x);
    r = cseg(&a, 3, "more", 4);
    ck_assert(!(r & TCPREASM_NEW_DATA));
    ck_assert_uint_eq(g_nevicted, 1);
    struct tcpreasm_stats st;
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.evicted, 1);
    ck_assert_uint_eq(st.bufs_in_use, 2);
    /* x holds one now (b): another of its flows may take one, and the oldest is b's (c gave
     * up when it was refused) */
    struct conv c2, spare;
    conv_pair(pl, &c2, &spare);
    c2.cisn = 15000;
    ck_assert(cseg(&c2, 0, "ccc", 3) & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(g_nevicted, 2);
    ck_assert_ptr_eq(g_evicted[1], &b.f.tcp);
    /* a released buffer leaves the age order: d's is the oldest, then c's */
    tcpreasm_release(pl, &d.f.tcp);
    struct conv e, f;
    conv_pair(pl, &e, &f);
    e.cisn = 20000;
    f.cisn = 30000;
    tcpreasm_pool_owner(pl, 4, y);
    ck_assert(cseg(&e, 0, "eee", 3) & TCPREASM_NEW_DATA); /* a free one: nothing evicted */
    ck_assert_uint_eq(g_nevicted, 2);
    ck_assert(cseg(&f, 0, "fff", 3) & TCPREASM_NEW_DATA);
    ck_assert_uint_eq(g_nevicted, 3);
    ck_assert_ptr_eq(g_evicted[2], &c2.f.tcp);
    tcpreasm_release(pl, &a.f.tcp); /* given up and evicted: nothing to give */
    tcpreasm_release(pl, &e.f.tcp);
    tcpreasm_release(pl, &f.f.tcp);
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.bufs_in_use, 0);
    ck_assert_uint_eq(st.evicted, 3);
    /* set up after buffers were taken: refused */
    tcpreasm_pool_free(pl);
    pl = tcpreasm_pool_new(2, 0, 256);
    struct conv g, h;
    conv_pair(pl, &g, &h);
    ck_assert(cseg(&g, 0, "ggg", 3) & TCPREASM_NEW_DATA);
    ck_assert_int_eq(tcpreasm_pool_evict_oldest(pl, on_evict, &g_nevicted), -EBUSY);
    tcpreasm_release(pl, &g.f.tcp);
    tcpreasm_pool_free(pl);
}
END_TEST

/* IPv6 clients share by prefix: two addresses of one /64 are one client (a subscriber may
 * take any address of its prefix); an address of the next /64 is another. With prefix 128
 * each address is its own client. */
START_TEST(owner_share_ipv6_prefix)
{
    static const uint8_t
        x1[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 },
        x2[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xde, 0xad, 0, 0, 0, 0, 0, 2 },
        y[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 };
    for (unsigned prefix = 64; prefix <= 128; prefix += 64) {
        struct tcpreasm_pool *pl = tcpreasm_pool_new(4, 0, 256);
        tcpreasm_pool_defer_empty(pl, true);
        ck_assert_int_eq(tcpreasm_pool_owner_limit(pl, 1, prefix), 0);
        struct conv a, b, c, d;
        conv_pair(pl, &a, &b);
        conv_pair(pl, &c, &d);
        tcpreasm_pool_owner(pl, 6, x1);
        ck_assert(cseg(&a, 0, "one", 3) & TCPREASM_NEW_DATA);
        tcpreasm_pool_owner(pl, 6, x2); /* the same /64, another address */
        unsigned r = cseg(&b, 0, "two", 3);
        if (prefix == 64)
            ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_NO_BUFFER);
        else
            ck_assert(r & TCPREASM_NEW_DATA);
        tcpreasm_pool_owner(pl, 6, y); /* the next /64 */
        ck_assert(cseg(&c, 0, "three", 5) & TCPREASM_NEW_DATA);
        tcpreasm_release(pl, &a.f.tcp); /* x1's buffer back: the /64 holds none */
        tcpreasm_pool_owner(pl, 6, x2);
        r = cseg(&d, 0, "four", 4); /* by address, x2 still holds b's */
        if (prefix == 64)
            ck_assert(r & TCPREASM_NEW_DATA);
        else
            ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_NO_BUFFER);
        struct tcpreasm_stats st;
        tcpreasm_get_stats(pl, &st);
        ck_assert_uint_eq(st.owner_limited, 1);
        tcpreasm_release(pl, &b.f.tcp);
        tcpreasm_release(pl, &c.f.tcp);
        tcpreasm_release(pl, &d.f.tcp);
        tcpreasm_get_stats(pl, &st);
        ck_assert_uint_eq(st.bufs_in_use, 0);
        tcpreasm_pool_free(pl);
    }
    struct tcpreasm_pool *pl = tcpreasm_pool_new(4, 0, 256);
    ck_assert_int_eq(tcpreasm_pool_owner_limit(pl, 1, 129), -EINVAL);
    tcpreasm_pool_free(pl);
}
END_TEST

/* tcpreasm_pool_defer_empty() (queue mode, which can drop a segment and have it sent again):
 * new data without a buffer, and another copy of held bytes without an alternative view, are
 * not taken and leave no state behind; sent again once there is room, they are read. */
START_TEST(pool_exhaustion_deferred)
{
    struct tcpreasm_pool *pl = tcpreasm_pool_new(1, 0, 256);
    tcpreasm_pool_defer_empty(pl, true);
    struct conv a, b;
    conv_pair(pl, &a, &b);
    ck_assert(cseg(&a, 0, "hello", 5) & TCPREASM_NEW_DATA); /* takes the only buffer */
    unsigned r = cseg(&b, 0, "world", 5); /* picked up mid-stream: anchored at its start */
    ck_assert(r & TCPREASM_IGNORED);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_NO_BUFFER);
    ck_assert(!(r & TCPREASM_GAVEUP));
    ck_assert(!(b.f.tcp.fl & TCPREASM_S_GAVEUP));
    ck_assert_uint_eq(b.f.tcp.nxt, b.cisn + 1); /* nothing of it recorded */
    /* another copy of a's bytes, and no alternative buffer: not taken either (never judged on
     * the first copy alone) */
    r = cseg(&a, 0, "jello", 5);
    ck_assert(r & TCPREASM_IGNORED);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_NO_BUFFER);
    ck_assert(!(r & TCPREASM_CONFLICT));
    expect_data(&a, "hello", 5);
    /* the same bytes again are a plain duplicate */
    r = cseg(&a, 0, "hello", 5);
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_OLD);
    struct tcpreasm_stats st;
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.pool_deferred, 2);
    ck_assert_uint_eq(st.pool_empty, 0);
    ck_assert_uint_eq(st.alt_pool_empty, 0);
    tcpreasm_release(pl, &a.f.tcp); /* a is done: b's data, sent again, finds the buffer */
    r = cseg(&b, 0, "world", 5);
    ck_assert(r & TCPREASM_NEW_DATA);
    expect_data(&b, "world", 5);
    tcpreasm_release(pl, &b.f.tcp);
    tcpreasm_pool_free(pl);
}
END_TEST

/* tcpreasm_pool_owner_limit(): one client address holds at most its share of the buffers; past
 * it its new data finds none (deferred here), while another client's still does; a buffer given
 * back counts back. */
START_TEST(owner_share)
{
    struct tcpreasm_pool *pl = tcpreasm_pool_new(4, 0, 256);
    tcpreasm_pool_defer_empty(pl, true);
    ck_assert_int_eq(tcpreasm_pool_owner_limit(pl, 2, 0), 0);
    static const uint8_t x[16] = { 10, 0, 0, 7 }, y[16] = { 10, 0, 0, 8 };
    struct conv a, b, c, d;
    conv_pair(pl, &a, &b);
    conv_pair(pl, &c, &d);
    tcpreasm_pool_owner(pl, 4, x);
    ck_assert(cseg(&a, 0, "one", 3) & TCPREASM_NEW_DATA);
    ck_assert(cseg(&b, 0, "two", 3) & TCPREASM_NEW_DATA);
    unsigned r = cseg(&c, 0, "three", 5); /* x's third: past its share */
    ck_assert_int_eq(TCPREASM_WHY(r), TCPREASM_NO_BUFFER);
    ck_assert(!(r & TCPREASM_NEW_DATA));
    tcpreasm_pool_owner(pl, 4, y);
    ck_assert(cseg(&d, 0, "four", 4) & TCPREASM_NEW_DATA); /* y's first: the pool has room */
    struct tcpreasm_stats st;
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.owner_limited, 1);
    ck_assert_uint_eq(st.bufs_in_use, 3);
    tcpreasm_release(pl, &a.f.tcp); /* x gives one back */
    tcpreasm_pool_owner(pl, 4, x);
    ck_assert(cseg(&c, 0, "three", 5) & TCPREASM_NEW_DATA);
    r = cseg(&a, 3, "more", 4); /* released: sequence only, takes nothing */
    ck_assert(!(r & TCPREASM_NEW_DATA));
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.owner_limited, 1);
    ck_assert_uint_eq(st.bufs_in_use, 3);
    tcpreasm_release(pl, &b.f.tcp);
    tcpreasm_release(pl, &c.f.tcp);
    tcpreasm_release(pl, &d.f.tcp);
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.bufs_in_use, 0);
    tcpreasm_pool_free(pl);
}
END_TEST

START_TEST(pool_exhaustion_fail_open)
{
    struct tcpreasm_pool *pl = tcpreasm_pool_new(1, 0, 256);
    struct conv a, b;
    conv_pair(pl, &a, &b);
    ck_assert(cseg(&a, 0, "hello", 5) & TCPREASM_NEW_DATA); /* mid-stream pickup */
    unsigned r = cseg(&b, 0, "world", 5);
    ck_assert(r & TCPREASM_GAVEUP);
    ck_assert(b.f.tcp.fl & TCPREASM_S_GAVEUP);
    ck_assert_ptr_null(tcpreasm_data(pl, &b.f.tcp, &(size_t){ 0 }));
    /* sequence is still tracked: an exact RST is honoured */
    struct pkt p = cpkt(&b, 5, NULL, 0, TCPF_RST);
    ck_assert(csend(&b, &p) & TCPREASM_RESET);
    struct tcpreasm_stats st;
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.pool_empty, 1);
    ck_assert_uint_eq(st.bufs_in_use, 1);
    tcpreasm_release(pl, &a.f.tcp);
    tcpreasm_get_stats(pl, &st);
    ck_assert_uint_eq(st.bufs_in_use, 0);
    /* released: sequence only, no more data */
    r = cseg(&a, 5, "again", 5);
    ck_assert(!(r & TCPREASM_NEW_DATA));
    ck_assert_ptr_null(tcpreasm_data(pl, &a.f.tcp, &(size_t){ 0 }));
    ck_assert_uint_eq(a.f.tcp.nxt, a.cisn + 1 + 10);
    tcpreasm_pool_free(pl);
    ck_assert_ptr_null(tcpreasm_pool_new(0, 0, 4096));
    ck_assert_ptr_null(tcpreasm_pool_new(1, 0, 8));
    tcpreasm_pool_free(NULL);
}
END_TEST

START_TEST(why_names)
{
    for (int w = 0; w < TCPREASM_WHY_COUNT; w++) {
        ck_assert_str_ne(tcpreasm_why_name((enum tcpreasm_why)w), "unknown");
        for (int q = 0; q < w; q++)
            ck_assert_str_ne(tcpreasm_why_name((enum tcpreasm_why)w),
                             tcpreasm_why_name((enum tcpreasm_why)q));
    }
}
END_TEST

/* ---- property: random segmentation --------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

struct seg {
    uint32_t off, len;
};

START_TEST(random_segmentation)
{
    enum { N = 5000, MAXSEG = 11000 };
    static uint8_t stream[N];
    static struct seg segs[MAXSEG];
    uint64_t s = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
    for (int iter = 0; iter < 50; iter++) {
        for (size_t i = 0; i < N; i++)
            stream[i] = (uint8_t)rnd(&s);
        size_t n = 0;
        uint32_t off = 0;
        uint32_t maxlen = 1 + (uint32_t)(rnd(&s) % 1400);
        while (off < N) { /* a random split */
            uint32_t l = 1 + (uint32_t)(rnd(&s) % maxlen);
            if (l > N - off)
                l = N - off;
            segs[n++] = (struct seg){ off, l };
            off += l;
        }
        size_t nd = rnd(&s) % (n + 1); /* duplicates: random sub-ranges, identical bytes */
        for (size_t k = 0; k < nd && n < MAXSEG; k++) {
            uint32_t a = (uint32_t)(rnd(&s) % N);
            uint32_t l = 1 + (uint32_t)(rnd(&s) % 1500);
            if (l > N - a)
                l = N - a;
            segs[n++] = (struct seg){ a, l };
        }
        for (size_t k = n - 1; k > 0; k--) { /* shuffle */
            size_t j = rnd(&s) % (k + 1);
            struct seg t = segs[k];
            segs[k] = segs[j];
            segs[j] = t;
        }
        struct conv c;
        conv_init(&c, 1, 1, 8192);
        c.cisn = (uint32_t)rnd(&s);
        handshake(&c, iter % 2 == 0, false);
        for (size_t k = 0; k < n; k++) {
            unsigned r = cseg(&c, segs[k].off, stream + segs[k].off, segs[k].len);
            ck_assert_msg(!(r & TCPREASM_CONFLICT), "iter %d seg %zu: conflict", iter, k);
            ck_assert_msg(!(r & TCPREASM_IGNORED) || TCPREASM_WHY(r) == TCPREASM_OLD,
                          "iter %d: ignored %s", iter, tcpreasm_why_name(TCPREASM_WHY(r)));
        }
        expect_data(&c, stream, N);
        ck_assert_ptr_null(tcpreasm_alt(c.pl, &c.f.tcp, &(size_t){ 0 }));
        ck_assert_uint_eq(stats(&c).bufs_grown, 1); /* 5000 bytes: past the small slot */
        ck_assert_uint_eq(c.f.tcp.nxt, c.cisn + 1 + N);
        conv_fini(&c);
    }
}
END_TEST

/* Two disagreeing versions of a stream, random segments from either, in random order: the Linux
 * view must hold, for every byte, the first copy received; the alternative view the last. With a
 * stream longer than a buffer's small slot (bufsize 16384, 9000 bytes) the bytes move to the
 * full-size slot partway, with the alternative view and its versions already in use. */
static void conflicts_model(uint64_t seed, size_t N, uint32_t bufsize, int iters)
{
    enum { NMAX = 9000, MAXSEG = 12000 };
    static uint8_t ver[2][NMAX], first[NMAX], last[NMAX], have[NMAX];
    static struct seg segs[MAXSEG];
    static uint8_t from[MAXSEG];
    ck_assert_uint_le(N, NMAX);
    uint64_t s = seed;
    for (int iter = 0; iter < iters; iter++) {
        for (size_t i = 0; i < N; i++) {
            ver[0][i] = (uint8_t)rnd(&s);
            ver[1][i] = (rnd(&s) & 3) ? ver[0][i] : (uint8_t)(ver[0][i] ^ 0x5a);
        }
        size_t n = 0;
        for (int v = 0; v < 2; v++) { /* each version covers the whole stream */
            uint32_t off = 0;
            while (off < N && n < MAXSEG) {
                uint32_t l = 1 + (uint32_t)(rnd(&s) % 600);
                if (l > N - off)
                    l = (uint32_t)(N - off);
                from[n] = (uint8_t)v;
                segs[n++] = (struct seg){ off, l };
                off += l;
            }
        }
        for (size_t k = n - 1; k > 0; k--) {
            size_t j = rnd(&s) % (k + 1);
            struct seg t = segs[k];
            segs[k] = segs[j];
            segs[j] = t;
            uint8_t tf = from[k];
            from[k] = from[j];
            from[j] = tf;
        }
        memset(have, 0, sizeof have);
        for (size_t k = 0; k < n; k++)
            for (uint32_t i = segs[k].off; i < segs[k].off + segs[k].len; i++) {
                if (!have[i])
                    first[i] = ver[from[k]][i];
                last[i] = ver[from[k]][i];
                have[i] = 1;
            }
        struct conv c;
        conv_init(&c, 1, 1, bufsize);
        c.cisn = (uint32_t)rnd(&s);
        handshake(&c, false, false);
        for (size_t k = 0; k < n; k++)
            cseg(&c, segs[k].off, ver[from[k]] + segs[k].off, segs[k].len);
        size_t len, alen;
        const uint8_t *d = tcpreasm_data(c.pl, &c.f.tcp, &len);
        ck_assert_uint_eq(len, N);
        ck_assert_mem_eq(d, first, N);
        const uint8_t *a = tcpreasm_alt(c.pl, &c.f.tcp, &alen);
        if (memcmp(first, last, N) != 0) {
            ck_assert_ptr_nonnull(a);
            ck_assert_uint_eq(alen, N);
            ck_assert_mem_eq(a, last, N);
        } else if (a) {
            ck_assert_mem_eq(a, last, N);
        }
        ck_assert_uint_eq(stats(&c).bufs_grown, N > 4096 && bufsize > 4096 ? 1 : 0);
        conv_fini(&c);
    }
}

START_TEST(random_conflicts_model)
{
    conflicts_model(0x1234567ull + (uint64_t)_i * 7919, 3000, 4096, 40);
}
END_TEST

START_TEST(random_conflicts_model_grown)
{
    conflicts_model(0x7654321ull + (uint64_t)_i * 7919, 9000, 16384, 15);
}
END_TEST

static Suite *tcpreasm_suite(void)
{
    Suite *s = suite_create("tcpreasm");
    TCase *tc = tcase_create("evasion");
    tcase_add_test(tc, t1_split_anywhere);
    tcase_add_test(tc, t2_one_byte_segments);
    tcase_add_test(tc, t3_out_of_order);
    tcase_add_test(tc, t4_fake_first_then_real);
    tcase_add_test(tc, t5_bad_checksum);
    tcase_add_test(tc, t5_lazy_checksum);
    tcase_add_test(tc, t6_window);
    tcase_add_test(tc, t7_md5);
    tcase_add_test(tc, t8_no_ack_or_syn);
    tcase_add_test(tc, t9_paws);
    tcase_add_test(tc, t19_paws_bound_from_server);
    tcase_add_test(tc, t10_overlap_first_wins);
    tcase_add_test(tc, t11_urgent);
    tcase_add_test(tc, t12_fragmented_request);
    tcase_add_test(tc, t13_ipv6_extension_headers);
    tcase_add_test(tc, t14_syn_data);
    tcase_add_test(tc, synack_unseen);
    tcase_add_test(tc, synack_unseen_pickup_retransmissions);
    tcase_add_test(tc, t15_handshake_seen_from_the_middle);
    tcase_add_test(tc, t15_simultaneous_open);
    tcase_add_test(tc, t16_rst);
    tcase_add_test(tc, t20_fake_syn_first);
    tcase_add_test(tc, midstream_keepalive_probe);
    tcase_add_test(tc, second_synack_other_isn);
    tcase_add_test(tc, released_tracks_highest);
    tcase_add_test(tc, versions_fake_real_fake);
    tcase_add_test(tc, versions_bounded);
    tcase_add_test(tc, midstream_anchor_confirmed_by_server);
    tcase_add_test(tc, t18_duplicates);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_test(tc, bad_ack);
    tcase_add_test(tc, fin_and_after);
    tcase_add_test(tc, consume_keepalive);
    tcase_add_test(tc, buffer_returned_when_idle);
    tcase_add_test(tc, pool_exhaustion_fail_open);
    tcase_add_test(tc, pool_exhaustion_deferred);
    tcase_add_test(tc, owner_share);
    tcase_add_test(tc, owner_share_ipv6_prefix);
    tcase_add_test(tc, evict_oldest);
    tcase_add_test(tc, why_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, random_segmentation, 0, 4);
    tcase_add_loop_test(tc, random_conflicts_model, 0, 3);
    tcase_add_loop_test(tc, random_conflicts_model_grown, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcpreasm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
