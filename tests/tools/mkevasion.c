/* mkevasion.c - writes one small capture per evasion technique of shared EVASION.md.
 *
 * Usage: mkevasion OUTDIR
 * Writes OUTDIR/<id>.pcap for every row below and OUTDIR/expected.tsv:
 *   file <TAB> verdict <TAB> method <TAB> name <TAB> server <TAB> id <TAB> description
 * verdict is what the decisive flow (the one whose server endpoint is `server`) must get;
 * method / name are the expected "method" and "name" of its blocking line ("-": not checked).
 * The rules the verdicts assume are tests/fixtures/evasion/rules.txt.
 *
 * Every capture is designed so that the bytes the real server accepts name a BLOCKED host while
 * the trick tries to show a filter an allowed name (or none). Addresses are documentation-style
 * private addresses that exist only inside these files: client 10.0.0.2 / fd00::2, server
 * 10.0.0.1 / fd00::1, IP-listed server 10.0.0.9 / fd00::9. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/pcapw.h"
#include "tests/lib/quicw.h"

#define TS0  1700000000000000ULL
#define CLI4 "10.0.0.2"
#define SRV4 "10.0.0.1"
#define IPS4 "10.0.0.9"
#define CLI6 "fd00::2"
#define SRV6 "fd00::1"
#define IPS6 "fd00::9"

#define BLK "blocked.example"
#define ALW "allowed.example" /* same length as BLK: fakes overlay the real bytes exactly */

static uint16_t g_cport = 40000;

#define TRY(x)          \
    do {                \
        int rc_ = (x);  \
        if (rc_)        \
            return rc_; \
    } while (0)

/* ---- building blocks ---- */

static size_t hello(const char *sni, uint8_t *out, size_t cap, size_t *sni_off)
{
    struct pcapw_hello h = { 0 };
    h.sni = sni;
    h.alpn = "h2,http/1.1";
    h.seed = 7;
    return pcapw_tls_hello(&h, out, cap, sni_off);
}

static int conv(struct pcapw_conv *c, struct pcapw *w, const char *cli, const char *srv,
                uint16_t port)
{
    return pcapw_conv_init(c, w, TS0, cli, g_cport, srv, port);
}

/* Server's answer to a complete ClientHello, the client's ACK, the close. */
static int tls_tail(struct pcapw_conv *c)
{
    static uint8_t sh[1200];
    memset(sh, 0x5a, sizeof(sh));
    sh[0] = 22;
    sh[1] = 3;
    sh[2] = 3;
    sh[3] = (uint8_t)((sizeof(sh) - 5) >> 8);
    sh[4] = (uint8_t)(sizeof(sh) - 5);
    sh[5] = 2; /* server_hello */
    TRY(pcapw_conv_server_data(c, c->snext - c->sisn - 1, sh, sizeof(sh)));
    TRY(pcapw_conv_ack(c, true));
    return pcapw_conv_close(c);
}

static int http_response(struct pcapw_conv *c)
{
    static const char resp[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
    TRY(pcapw_conv_server_data(c, c->snext - c->sisn - 1, (const uint8_t *)resp, sizeof(resp) - 1));
    return pcapw_conv_ack(c, true);
}

/* Client bytes d[0..n) starting at relative offset off, cut into segments of at most mss. */
static int send_mss(struct pcapw_conv *c, uint32_t off, const uint8_t *d, size_t n, size_t mss)
{
    for (size_t o = 0; o < n; o += mss)
        TRY(pcapw_conv_client_data(c, off + (uint32_t)o, d + o, n - o < mss ? n - o : mss));
    return 0;
}

static int tls_plain(struct pcapw *w, const char *cli, const char *srv, const char *sni)
{
    struct pcapw_conv c;
    uint8_t ch[2048];
    TRY(conv(&c, w, cli, srv, 443));
    size_t n = hello(sni, ch, sizeof(ch), NULL);
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

static int http_raw(struct pcapw *w, const char *cli, const char *srv, const char *req)
{
    struct pcapw_conv c;
    TRY(conv(&c, w, cli, srv, 80));
    TRY(pcapw_conv_handshake(&c));
    TRY(send_mss(&c, 0, (const uint8_t *)req, strlen(req), 1448));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

static int http_get(struct pcapw *w, const char *cli, const char *srv, const char *host,
                    const char *target)
{
    char req[1024];
    size_t n = pcapw_http_get((uint8_t *)req, sizeof(req) - 1, host, target);
    if (!n)
        return -EINVAL;
    req[n] = '\0';
    return http_raw(w, cli, srv, req);
}

/* A fake client segment carrying d at relative offset off; *p is adjusted by the caller's tweak. */
static void fake_pkt(const struct pcapw_conv *c, struct pcapw_pkt *p, uint32_t off,
                     const uint8_t *d, size_t n)
{
    pcapw_conv_pkt(c, true, p);
    p->seq = c->cisn + 1 + off;
    p->flags = PCAPW_PSH | PCAPW_ACK;
    p->payload = d;
    p->payload_len = n;
}

/* ---- baselines ---- */

static int b_tls4_allow(struct pcapw *w)
{
    return tls_plain(w, CLI4, SRV4, ALW);
}
static int b_tls4_block(struct pcapw *w)
{
    return tls_plain(w, CLI4, SRV4, BLK);
}
static int b_tls6_allow(struct pcapw *w)
{
    return tls_plain(w, CLI6, SRV6, ALW);
}
static int b_tls6_block(struct pcapw *w)
{
    return tls_plain(w, CLI6, SRV6, BLK);
}
static int b_http4_allow(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, ALW, "/");
}
static int b_http4_block(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, BLK, "/");
}
static int b_http6_allow(struct pcapw *w)
{
    return http_get(w, CLI6, SRV6, ALW, "/");
}
static int b_http6_block(struct pcapw *w)
{
    return http_get(w, CLI6, SRV6, BLK, "/");
}

/* ---- TCP / IP ---- */

static int t1(struct pcapw *w)
{
    struct pcapw_conv c;
    uint8_t ch[2048];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello("www." BLK, ch, sizeof(ch), &so);
    size_t a = so + 4, b = so + 10;
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, a));
    TRY(pcapw_conv_client_data(&c, (uint32_t)a, ch + a, b - a));
    TRY(pcapw_conv_client_data(&c, (uint32_t)b, ch + b, n - b));
    return tls_tail(&c);
}

static int t2(struct pcapw *w)
{
    struct pcapw_conv c;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    c.step = 10;
    TRY(pcapw_conv_handshake(&c));
    TRY(send_mss(&c, 0, ch, n, 1));
    return tls_tail(&c);
}

static int t3(struct pcapw *w)
{
    struct pcapw_conv c;
    uint8_t ch[2048];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), &so);
    size_t a = so + 5;
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, (uint32_t)a, ch + a, n - a));
    TRY(pcapw_conv_client_data(&c, 0, ch, a));
    return tls_tail(&c);
}

/* Fake ClientHello naming ALW at the real one's sequence, tweaked by `kind`, then the real one. */
enum fake_kind { FAKE_TTL, FAKE_CSUM, FAKE_WINDOW, FAKE_MD5, FAKE_NOACK, FAKE_OLDTS };

static int fake_then_real(struct pcapw *w, enum fake_kind kind)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    c.ts_opt = kind == FAKE_OLDTS;
    size_t n = hello(BLK, real, sizeof(real), NULL);
    size_t fn = hello(ALW, fake, sizeof(fake), NULL);
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, fake, fn);
    switch (kind) {
    case FAKE_TTL: p.ttl = 1; break;
    case FAKE_CSUM: p.bad_l4_csum = true; break;
    case FAKE_WINDOW: p.seq += 0x40000000u; break;
    case FAKE_MD5: p.md5 = true; break;
    case FAKE_NOACK:
        p.flags = PCAPW_PSH;
        p.ack = 0;
        break;
    case FAKE_OLDTS: p.tsval -= 50000; break;
    }
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep; /* the fake is not part of the stream */
    if (kind == FAKE_NOACK) {
        /* second fake of T8: data on a segment with SYN set */
        fake_pkt(&c, &p, 0, fake, fn);
        p.flags = PCAPW_SYN | PCAPW_PSH | PCAPW_ACK;
        TRY(pcapw_conv_send(&c, &p));
        c.cnext = keep;
    }
    TRY(pcapw_conv_client_data(&c, 0, real, n));
    return tls_tail(&c);
}

static int t4(struct pcapw *w)
{
    return fake_then_real(w, FAKE_TTL);
}
static int t5(struct pcapw *w)
{
    return fake_then_real(w, FAKE_CSUM);
}
static int t6(struct pcapw *w)
{
    return fake_then_real(w, FAKE_WINDOW);
}
static int t7(struct pcapw *w)
{
    return fake_then_real(w, FAKE_MD5);
}
static int t8(struct pcapw *w)
{
    return fake_then_real(w, FAKE_NOACK);
}
static int t9(struct pcapw *w)
{
    return fake_then_real(w, FAKE_OLDTS);
}

/* Real first part (whole SNI inside), then an overlapping segment whose overlap says ALW. */
static int t10(struct pcapw *w)
{
    struct pcapw_conv c;
    uint8_t real[2048], fake[2048];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), &so);
    hello(ALW, fake, sizeof(fake), NULL);
    size_t cut = so + strlen(BLK) + 5, ov = so - 3;
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, real, cut));
    TRY(pcapw_conv_client_data(&c, (uint32_t)ov, fake + ov, n - ov));
    return tls_tail(&c);
}

/* "blocked.exa" + urgent "X" + "mple" in one segment; URG pointer is one past the X (the
 * BSD/Linux reading: the urgent byte is at seq + urg_ptr - 1). */
static int t11(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048], seg[2049];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), &so);
    size_t at = so + 11;
    memcpy(seg, ch, at);
    seg[at] = 'X';
    memcpy(seg + at + 1, ch + at, n - at);
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, seg, n + 1);
    p.flags |= PCAPW_URG;
    p.urg = (uint16_t)(at + 1);
    TRY(pcapw_conv_send(&c, &p));
    return tls_tail(&c);
}

static int t12(struct pcapw *w, const char *cli, const char *srv)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    size_t so;
    TRY(conv(&c, w, cli, srv, 443));
    size_t n = hello(BLK, ch, sizeof(ch), &so);
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, ch, n);
    p.ip_id = 0x4242;
    /* L4 offsets: TCP header is 20 bytes; second cut lands inside the SNI */
    size_t offs[2] = { 32, (20 + so + 8) & ~(size_t)7 };
    size_t order[3] = { 2, 0, 1 };
    TRY(pcapw_put_frags(w, c.ts, &p, offs, 2, order));
    c.cnext = p.seq + (uint32_t)n;
    c.ts += c.step;
    return tls_tail(&c);
}

static int t12v4(struct pcapw *w)
{
    return t12(w, CLI4, SRV4);
}
static int t12v6(struct pcapw *w)
{
    return t12(w, CLI6, SRV6);
}

/* Fake with an extension chain Linux drops (hop-by-hop not first), then the real ClientHello
 * behind hop-by-hop + destination options. */
static int t13(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI6, SRV6, 443));
    size_t n = hello(BLK, real, sizeof(real), NULL);
    size_t fn = hello(ALW, fake, sizeof(fake), NULL);
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, fake, fn);
    p.v6_ext[0] = PCAPW_EXT_DST;
    p.v6_ext[1] = PCAPW_EXT_HBH;
    p.n_v6_ext = 2;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    fake_pkt(&c, &p, 0, real, n);
    p.v6_ext[0] = PCAPW_EXT_HBH;
    p.v6_ext[1] = PCAPW_EXT_DST;
    p.n_v6_ext = 2;
    TRY(pcapw_conv_send(&c, &p));
    return tls_tail(&c);
}

/* SYN carrying an allowed ClientHello without a Fast Open cookie; the SYN-ACK acknowledges only
 * the SYN, and the client sends the real (blocked) one. */
static int t14(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), NULL);
    size_t fn = hello(ALW, fake, sizeof(fake), NULL);
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    p.sack_perm = true;
    p.has_wscale = true;
    p.wscale = 7;
    p.payload = fake;
    p.payload_len = fn;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = c.cisn + 1;
    pcapw_conv_pkt(&c, false, &p);
    p.flags = PCAPW_SYN | PCAPW_ACK;
    p.mss = 1460;
    p.sack_perm = true;
    p.has_wscale = true;
    p.wscale = 7;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_ack(&c, true));
    TRY(pcapw_conv_client_data(&c, 0, real, n));
    return tls_tail(&c);
}

/* Simultaneous open: the server's SYN is the first packet of the flow. */
static int t15(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    pcapw_conv_pkt(&c, false, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    TRY(pcapw_conv_send(&c, &p));
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    TRY(pcapw_conv_send(&c, &p));
    pcapw_conv_pkt(&c, true, &p);
    p.seq = c.cisn;
    p.flags = PCAPW_SYN | PCAPW_ACK;
    p.mss = 1460;
    TRY(pcapw_conv_send(&c, &p));
    pcapw_conv_pkt(&c, false, &p);
    p.seq = c.sisn;
    p.flags = PCAPW_SYN | PCAPW_ACK;
    p.mss = 1460;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* A low-TTL RST whose sequence is far outside the window, between the handshake and the hello. */
static int t16(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    TRY(pcapw_conv_handshake(&c));
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_RST;
    p.ack = 0;
    p.seq += 100000;
    p.ttl = 2;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* Every segment sent twice, IP ids 0, 0, 65535, 1. */
static int t18(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    size_t so;
    static const uint16_t ids[4] = { 0, 0, 65535, 1 };
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), &so);
    size_t a = so + 7;
    TRY(pcapw_conv_handshake(&c));
    for (int i = 0; i < 4; i++) {
        if (i < 2)
            fake_pkt(&c, &p, 0, ch, a);
        else
            fake_pkt(&c, &p, (uint32_t)a, ch + a, n - a);
        p.ip_id = ids[i];
        TRY(pcapw_conv_send(&c, &p));
    }
    return tls_tail(&c);
}

/* zapret-style "fake ACK" (--dpi-desync=fakeack with a timestamp far in the future): a bare ACK
 * with TTL 1 whose TSval is 2^30 ahead, then the real hello with the connection's ordinary
 * timestamps. The server never sees the ACK, so its PAWS state is unchanged. */
static int t19(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    c.ts_opt = true;
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    TRY(pcapw_conv_handshake(&c));
    pcapw_conv_pkt(&c, true, &p);
    p.ttl = 1;
    p.tsval += 0x40000000u;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* A SYN with TTL 1 and another initial sequence number (a fake opening a decoy sequence space),
 * then the real handshake and hello. */
static int t20(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    pcapw_conv_pkt(&c, true, &p);
    p.seq = c.cisn + 0x01000000u;
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    p.has_wscale = true;
    p.wscale = 7;
    p.ttl = 1;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* A RST with TTL 1 at exactly the next sequence number (the filter cannot tell it from a real
 * one), a SYN with TTL 1 and another ISN (as if the port were reused), then the hello sent out
 * of order: its second half, a 16-second pause (longer than the RST tombstone), the first half.
 * The server saw neither fake and still has the connection. */
static int t21(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), &so);
    size_t a = so + 5;
    TRY(pcapw_conv_handshake(&c));
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_RST | PCAPW_ACK;
    p.ttl = 1;
    TRY(pcapw_conv_send(&c, &p));
    pcapw_conv_pkt(&c, true, &p);
    p.seq = c.cisn + 0x02000000u;
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    p.ttl = 1;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, (uint32_t)a, ch + a, n - a));
    c.ts += 16000000;
    TRY(pcapw_conv_client_data(&c, 0, ch, a));
    return tls_tail(&c);
}

/* zapret's fake whose TLS record header declares 16383 bytes (TTL 1, same length as the real
 * hello, sent first at the same sequence number): the first-copy view waits for a record that
 * never completes, the real hello is only in the last-copy view. */
static int z1(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), NULL);
    memset(fake, 0, n);
    static const uint8_t hdr[9] = { 22, 3, 1, 0x3f, 0xff, 1, 0, 0x3f, 0xfb };
    memcpy(fake, hdr, sizeof(hdr));
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, fake, n);
    p.ttl = 1;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, real, n));
    return tls_tail(&c);
}

/* zapret's --dpi-desync-fake-tls=0x00000000: a fake of zero bytes (TTL 1) at the hello's
 * sequence number, neither TLS nor HTTP, then the real hello. */
static int z2(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), NULL);
    memset(fake, 0, n);
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, fake, n);
    p.ttl = 1;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, real, n));
    return tls_tail(&c);
}

/* zapret's duplicate SYN carrying TCP-MD5 (the server, which has no key, drops it) before the
 * real handshake, then fake-real-fake with MD5 fakes: the first declares a 16383-byte record
 * (as Z1), the last names ALW. If the MD5 SYN made the flow count as MD5-negotiated, the
 * first-copy view would hold the first fake and the last-copy view the last. */
static int z3(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), NULL);
    hello(ALW, fake, sizeof(fake), NULL);
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    p.has_wscale = true;
    p.wscale = 7;
    p.md5 = true;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_handshake(&c));
    static const uint8_t hdr[9] = { 22, 3, 1, 0x3f, 0xff, 1, 0, 0x3f, 0xfb };
    uint8_t fake1[2048];
    memset(fake1, 0, n);
    memcpy(fake1, hdr, sizeof(hdr));
    uint32_t keep = c.cnext;
    fake_pkt(&c, &p, 0, fake1, n);
    p.md5 = true;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, real, n));
    keep = c.cnext;
    fake_pkt(&c, &p, 0, fake, n);
    p.md5 = true;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    return tls_tail(&c);
}

/* zapret's --dpi-desync-split-seqovl: a segment starts `ovl` bytes before the byte the server
 * expects and carries that many junk bytes first; Linux drops the part below rcv_nxt and keeps
 * the rest. second = false: the first segment (split after 20 bytes) starts 100 bytes before
 * the ISN + 1; second = true: the second segment starts 100 bytes back, over the first part
 * already received. */
static int seqovl(struct pcapw *w, bool second)
{
    struct pcapw_conv c;
    uint8_t ch[2048], seg[2200];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), &so);
    size_t cut = second ? so + 3 : 20, ovl = second ? cut : 100;
    memset(seg, 0x42, ovl);
    TRY(pcapw_conv_handshake(&c));
    if (second) {
        TRY(pcapw_conv_client_data(&c, 0, ch, cut));
        memcpy(seg + ovl, ch + cut, n - cut);
        TRY(pcapw_conv_client_data(&c, (uint32_t)(cut - ovl), seg, ovl + n - cut));
    } else {
        memcpy(seg + ovl, ch, cut);
        TRY(pcapw_conv_client_data(&c, (uint32_t)0 - (uint32_t)ovl, seg, ovl + cut));
        TRY(pcapw_conv_client_data(&c, (uint32_t)cut, ch + cut, n - cut));
    }
    return tls_tail(&c);
}

static int z4(struct pcapw *w)
{
    return seqovl(w, false);
}
static int z5(struct pcapw *w)
{
    return seqovl(w, true);
}

/* zapret fake-real-fake orderings (TTL-1 fakes naming ALW, the real hello in two segments cut
 * inside the SNI after "blo"): fake, real first part, fake first part, real second part. The
 * first-copy view holds the first fake, the last-copy view "all" + "cked.example"; only a view
 * that keeps each distinct version of the bytes shows the real name. */
static int z6(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    size_t so;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), &so);
    hello(ALW, fake, sizeof(fake), NULL);
    size_t cut = so + 3;
    TRY(pcapw_conv_handshake(&c));
    uint32_t keep = c.cnext;
    fake_pkt(&c, &p, 0, fake, n);
    p.ttl = 1;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, real, cut));
    keep = c.cnext;
    fake_pkt(&c, &p, 0, fake, cut);
    p.ttl = 1;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, (uint32_t)cut, real + cut, n - cut));
    return tls_tail(&c);
}

/* A busy NAT pool reusing a port: a connection with an allowed hello ends with the client's
 * RST, then a new connection from the same address and port to the same server (new initial
 * sequence number) sends a blocked hello. */
static int r1(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(ALW, ch, sizeof(ch), NULL);
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    static uint8_t sh[600];
    memset(sh, 0x5a, sizeof(sh));
    TRY(pcapw_conv_server_data(&c, 0, sh, sizeof(sh)));
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_RST | PCAPW_ACK;
    TRY(pcapw_conv_send(&c, &p));
    c.cisn = 0x70000000u;
    c.sisn = 0x50000000u;
    c.ts += 2000000;
    n = hello(BLK, ch, sizeof(ch), NULL);
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* The same on a kept-alive HTTP connection, which is still inspected when the client resets it
 * (so a bare SYN alone does not end the flow: the server's SYN-ACK for the new ISN does). */
static int r2(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t r1b[512], r2b[512];
    size_t n1 = pcapw_http_get(r1b, sizeof(r1b), ALW, "/");
    size_t n2 = pcapw_http_get(r2b, sizeof(r2b), BLK, "/");
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, r1b, n1));
    TRY(http_response(&c));
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_RST | PCAPW_ACK;
    TRY(pcapw_conv_send(&c, &p));
    c.cisn = 0x70000000u;
    c.sisn = 0x50000000u;
    c.ts += 2000000;
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, r2b, n2));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

/* A capture that begins in the middle of a connection (mirror session started late, flow
 * evicted): the flow's first packet is a keep-alive probe (one garbage byte at the sequence
 * number before the next byte, as Windows sends), the server ACKs it, then a new hello. */
static int m1(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    c.snext = c.sisn + 1;
    pcapw_conv_pkt(&c, true, &p);
    p.payload = (const uint8_t *)"\0";
    p.payload_len = 1;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_ack(&c, false));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* Picked up mid-stream again, and the flow's first packet is a TTL-1 fake of junk 2000 bytes
 * ahead of the real start; then the real hello. */
static int m2(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048], junk[64];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    memset(junk, 0x17, sizeof(junk));
    c.snext = c.sisn + 1;
    c.cnext = c.cisn + 1;
    fake_pkt(&c, &p, 2000, junk, sizeof(junk));
    p.ttl = 1;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* A second SYN-ACK with another ISN (as a SYN proxy or load balancer in front of the server
 * can send, or a peer on purpose) after the handshake; the client keeps acknowledging the
 * first one and sends the hello. */
static int y1(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t ch[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, ch, sizeof(ch), NULL);
    TRY(pcapw_conv_handshake(&c));
    pcapw_conv_pkt(&c, false, &p);
    p.seq = c.sisn + 0x40000000u;
    p.ack = c.cisn + 1;
    p.flags = PCAPW_SYN | PCAPW_ACK;
    p.mss = 1460;
    uint32_t keep = c.snext;
    TRY(pcapw_conv_send(&c, &p));
    c.snext = keep;
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* TCP Fast Open (Linux client with net.ipv4.tcp_fastopen=1 and a cached cookie): the SYN
 * carries an 8-byte cookie and the request. decoy = false: the request is the real (blocked)
 * one and the SYN-ACK acknowledges it (ack = ISN + 1 + length); the client goes on without
 * resending it. decoy = true: the SYN carries an allowed request the server discards (cookie
 * refused: the SYN-ACK acknowledges only the SYN), then the blocked request is sent normally. */
static int tfo(struct pcapw *w, bool decoy)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t req[512], fake[512];
    size_t n = pcapw_http_get(req, sizeof(req), BLK, "/");
    size_t fn = pcapw_http_get(fake, sizeof(fake), ALW, "/");
    TRY(conv(&c, w, CLI4, SRV4, 80));
    pcapw_conv_pkt(&c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    p.sack_perm = true;
    p.has_wscale = true;
    p.wscale = 7;
    p.tfo_cookie_len = 8;
    p.payload = decoy ? fake : req;
    p.payload_len = decoy ? fn : n;
    TRY(pcapw_conv_send(&c, &p));
    if (decoy)
        c.cnext = c.cisn + 1;
    pcapw_conv_pkt(&c, false, &p);
    p.flags = PCAPW_SYN | PCAPW_ACK;
    p.mss = 1460;
    p.sack_perm = true;
    p.has_wscale = true;
    p.wscale = 7;
    TRY(pcapw_conv_send(&c, &p));
    TRY(pcapw_conv_ack(&c, true));
    if (decoy)
        TRY(pcapw_conv_client_data(&c, 0, req, n));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

static int t22a(struct pcapw *w)
{
    return tfo(w, false);
}
static int t22b(struct pcapw *w)
{
    return tfo(w, true);
}

/* ---- TLS ---- */

static int s1(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_hello h = { 0 };
    uint8_t ch[2048];
    size_t so;
    h.sni = BLK;
    h.alpn = "h2,http/1.1";
    h.seed = 7;
    if (!pcapw_tls_hello(&h, ch, sizeof(ch), &so))
        return -EINVAL;
    size_t splits[2] = { 40, so - 5 + 6 };
    h.rec_splits = splits;
    h.n_rec_splits = 2;
    size_t n = pcapw_tls_hello(&h, ch, sizeof(ch), NULL);
    TRY(conv(&c, w, CLI4, SRV4, 443));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

static int s2(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    uint8_t real[2048], fake[2048];
    TRY(conv(&c, w, CLI4, SRV4, 443));
    size_t n = hello(BLK, real, sizeof(real), NULL);
    size_t fn = hello("a-much-longer-front-name." ALW, fake, sizeof(fake), NULL);
    TRY(pcapw_conv_handshake(&c));
    fake_pkt(&c, &p, 0, fake, fn);
    p.ttl = 3;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep;
    TRY(pcapw_conv_client_data(&c, 0, real, n));
    return tls_tail(&c);
}

static int s4(struct pcapw *w)
{
    return tls_plain(w, CLI4, SRV4, "BlOcKeD.ExAmPlE");
}
static int s5(struct pcapw *w)
{
    return tls_plain(w, CLI4, SRV4, BLK ".");
}
static int s6(struct pcapw *w)
{
    return tls_plain(w, CLI4, IPS4, NULL);
}
static int s6v6(struct pcapw *w)
{
    return tls_plain(w, CLI6, IPS6, NULL);
}

static int s7(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_hello h = { 0 };
    static uint8_t ch[16384];
    h.sni = BLK;
    h.alpn = "h2,http/1.1";
    h.pq_keyshare = 1216;
    h.pad_to = 6000;
    h.sni_last = true;
    h.seed = 7;
    size_t n = pcapw_tls_hello(&h, ch, sizeof(ch), NULL);
    if (!n)
        return -EINVAL;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    TRY(pcapw_conv_handshake(&c));
    TRY(send_mss(&c, 0, ch, n, 1448));
    return tls_tail(&c);
}

/* A 60000-byte ClientHello over 4 TLS records and 42 segments (OpenSSL accepts hellos up to
 * 128 KiB), server_name among the first extensions or, with sni_last, after every other one -
 * past every buffer (32 KiB). */
static int big_hello(struct pcapw *w, bool sni_last)
{
    struct pcapw_conv c;
    struct pcapw_hello h = { 0 };
    static uint8_t ch[65536];
    static const size_t splits[] = { 16000, 32000, 48000 };
    h.sni = BLK;
    h.alpn = "h2,http/1.1";
    h.pq_keyshare = 1216;
    h.pad_to = 60000;
    h.sni_last = sni_last;
    h.rec_splits = splits;
    h.n_rec_splits = 3;
    h.seed = 7;
    size_t n = pcapw_tls_hello(&h, ch, sizeof(ch), NULL);
    if (!n)
        return -EINVAL;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    TRY(pcapw_conv_handshake(&c));
    TRY(send_mss(&c, 0, ch, n, 1448));
    return tls_tail(&c);
}

/* What a client with big post-quantum key shares and padding sends, pushed past every buffer,
 * its name early: judged on it. */
static int s7b(struct pcapw *w)
{
    return big_hello(w, false);
}

/* The same with server_name last, out of reach: blocked by policy (method incomplete), never
 * judged on the unlisted address (a size cap never means pass). */
static int s7c(struct pcapw *w)
{
    return big_hello(w, true);
}

/* A minimal TLS 1.3 ClientHello record around the extensions block (ext, n). */
static size_t raw_hello(uint8_t *out, const uint8_t *ext, size_t n)
{
    static const uint8_t fixed[] = {
        0x03, 0x03, /* legacy_version, random: */
        1,    2,    3,    4,    5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17,
        18,   19,   20,   21,   22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 0, /* session_id */
        0,    2,    0x13, 0x01,                                                /* cipher_suites */
        1,    0,                                                               /* compression */
    };
    size_t body = sizeof(fixed) + 2 + n, o = 0;
    out[o++] = 22;
    out[o++] = 3;
    out[o++] = 1;
    out[o++] = (uint8_t)((body + 4) >> 8);
    out[o++] = (uint8_t)(body + 4);
    out[o++] = 1;
    out[o++] = 0;
    out[o++] = (uint8_t)(body >> 8);
    out[o++] = (uint8_t)body;
    memcpy(out + o, fixed, sizeof(fixed));
    o += sizeof(fixed);
    out[o++] = (uint8_t)(n >> 8);
    out[o++] = (uint8_t)n;
    memcpy(out + o, ext, n);
    return o + n;
}

static int raw_tls(struct pcapw *w, const uint8_t *ext, size_t n)
{
    struct pcapw_conv c;
    uint8_t ch[1024];
    size_t len = raw_hello(ch, ext, n);
    TRY(conv(&c, w, CLI4, SRV4, 443));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, len));
    return tls_tail(&c);
}

/* What Go's crypto/tls (Caddy, Traefik) accepts and OpenSSL refuses: a server_name list whose
 * first entry has name_type 1, the host_name after it; supported_versions says TLS 1.3. */
static int s10(struct pcapw *w)
{
    static const uint8_t ext[] = {
        0x00, 0x00, 0x00, 0x1b, 0x00, 0x19, /* server_name, list of 25 */
        0x01, 0x00, 0x03, 'x',  'y',  'z',  /* name_type 1 (not host_name) */
        0x00, 0x00, 0x0f, 'b',  'l',  'o',  'c',  'k',  'e',  'd',  '.',  'e',  'x',
        'a',  'm',  'p',  'l',  'e',  0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, /* supported_versions: TLS 1.3 */
    };
    return raw_tls(w, ext, sizeof(ext));
}

/* Two server_name extensions (a strict server refuses the duplicate): the allowed name first,
 * the blocked one second. */
static int s10b(struct pcapw *w)
{
    static const uint8_t ext[] = {
        0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 'a',  'l',  'l',  'o',  'w',
        'e',  'd',  '.',  'e',  'x',  'a',  'm',  'p',  'l',  'e',  0x00, 0x00, 0x00, 0x14,
        0x00, 0x12, 0x00, 0x00, 0x0f, 'b',  'l',  'o',  'c',  'k',  'e',  'd',  '.',  'e',
        'x',  'a',  'm',  'p',  'l',  'e',  0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04,
    };
    return raw_tls(w, ext, sizeof(ext));
}

static int s8(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_hello h = { 0 };
    uint8_t ch[2048];
    h.sni = "front." ALW;
    h.alpn = "h2,http/1.1";
    h.ech = true;
    h.seed = 7;
    size_t n = pcapw_tls_hello(&h, ch, sizeof(ch), NULL);
    if (!n)
        return -EINVAL;
    TRY(conv(&c, w, CLI4, IPS4, 443));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

static int s9(struct pcapw *w)
{
    struct pcapw_conv c;
    struct pcapw_hello h = { 0 };
    uint8_t ch[2048];
    h.sni = BLK;
    h.sni_last = true;
    h.grease = true;
    h.record_version = 0x0303;
    h.seed = 9;
    size_t n = pcapw_tls_hello(&h, ch, sizeof(ch), NULL);
    if (!n)
        return -EINVAL;
    TRY(conv(&c, w, CLI4, SRV4, 443));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, ch, n));
    return tls_tail(&c);
}

/* ---- HTTP ---- */

#define UA "User-Agent: qorgau-test/1.0\r\nAccept: */*\r\n"

static int h1(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET / HTTP/1.1\r\nhOsT: " BLK "\r\n" UA "\r\n");
}
static int h2(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET / HTTP/1.1\r\nHost: BlOcKeD.eXaMpLe\r\n" UA "\r\n");
}
static int h3(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET / HTTP/1.1\r\nHost:" BLK "\r\n" UA "\r\n");
}
static int h4(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET / HTTP/1.1\r\nHost:\t" BLK "\t \r\n" UA "\r\n");
}
static int h5(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET / HTTP/1.1\r\nHost: " BLK ".\r\n" UA "\r\n");
}
static int h6(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET   /   HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n");
}
static int h7(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "\r\n\r\nGET / HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n");
}
static int h8(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4,
                    "GET / HTTP/1.1\nHost: " BLK "\nUser-Agent: qorgau-test/1.0\nAccept: */*\n\n");
}

static int h9(struct pcapw *w)
{
    static char req[8192];
    size_t o = 0;
    o += (size_t)snprintf(req + o, sizeof(req) - o, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 40; i++) {
        o += (size_t)snprintf(req + o, sizeof(req) - o, "X-Pad-%02d: ", i);
        for (int k = 0; k < 100; k++)
            req[o++] = 'a';
        req[o++] = '\r';
        req[o++] = '\n';
    }
    snprintf(req + o, sizeof(req) - o, "Host: " BLK "\r\n" UA "\r\n");
    return http_raw(w, CLI4, SRV4, req);
}

/* Appends n padding header lines of 100 bytes ("X-Pad-NN: aaa...") at req + *o. */
static void pad_lines(char *req, size_t cap, size_t *o, int n)
{
    for (int i = 0; i < n && *o + 120 < cap; i++) {
        *o += (size_t)snprintf(req + *o, cap - *o, "X-Pad-%03d: ", i);
        memset(req + *o, 'a', 100);
        *o += 100;
        req[(*o)++] = '\r';
        req[(*o)++] = '\n';
    }
    req[*o] = '\0';
}

/* A request head nginx accepts (4 x 8 KiB header buffers) but larger than any one buffer of
 * the filter: 20 KB of padding lines, the Host line, 20 KB more (a 41 KB head, 29 segments). */
static int h9b(struct pcapw *w)
{
    static char req[48 * 1024];
    size_t o = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
    pad_lines(req, sizeof(req), &o, 180);
    o += (size_t)snprintf(req + o, sizeof(req) - o, "Host: " BLK "\r\n");
    pad_lines(req, sizeof(req), &o, 180);
    snprintf(req + o, sizeof(req) - o, UA "\r\n");
    return http_raw(w, CLI4, SRV4, req);
}

/* An allowed Host first, 8 KB of padding lines, then a second Host naming the blocked host. */
static int h9c(struct pcapw *w)
{
    static char req[16 * 1024];
    size_t o = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: " ALW "\r\n");
    pad_lines(req, sizeof(req), &o, 72);
    snprintf(req + o, sizeof(req) - o, "Host: " BLK "\r\n" UA "\r\n");
    return http_raw(w, CLI4, SRV4, req);
}

/* Servers with larger limits than nginx (Apache: 100 fields of 8 KiB) serve a head of 40 KB: an
 * allowed Host, 40 KB of padding lines past the reassembly buffer, then a second request on
 * the connection for the blocked host. Its start cannot be located after such a head; the
 * filter must still see it. */
static int h9d(struct pcapw *w)
{
    static char req[48 * 1024];
    size_t o = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: " ALW "\r\n");
    pad_lines(req, sizeof(req), &o, 360);
    o += (size_t)snprintf(req + o, sizeof(req) - o, UA "\r\n");
    snprintf(req + o, sizeof(req) - o, "GET /second HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n");
    return http_raw(w, CLI4, SRV4, req);
}

/* The same with the Host line itself past the buffer: 40 KB of padding lines first. */
static int h9e(struct pcapw *w)
{
    static char req[48 * 1024];
    size_t o = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
    pad_lines(req, sizeof(req), &o, 360);
    snprintf(req + o, sizeof(req) - o, "Host: " BLK "\r\n" UA "\r\n");
    return http_raw(w, CLI4, SRV4, req);
}

/* Header syntax nginx refuses but laxer servers and proxies take: a space before the colon
 * of Host, and an obs-folded header line before it. */
static int h9s(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4,
                    "GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\nHost : " BLK "\r\n" UA "\r\n");
}

/* What zapret-style tools send for HTTP: a fake request with a TTL too low to reach the server
 * at the real request's sequence, then the real one (same length). With `first`, an allowed
 * request is served first on the kept-alive connection and the trick is played on the second. */
static int http_fake_real(struct pcapw *w, const char *fake_host, const char *real_host, bool first)
{
    struct pcapw_conv c;
    struct pcapw_pkt p;
    char fake[256], real[256], r1[256];
    int fn = snprintf(fake, sizeof(fake), "GET / HTTP/1.1\r\nHost: %s\r\n" UA "\r\n", fake_host);
    int n = snprintf(real, sizeof(real), "GET / HTTP/1.1\r\nHost: %s\r\n" UA "\r\n", real_host);
    int n1 = snprintf(r1, sizeof(r1), "GET /1 HTTP/1.1\r\nHost: %s\r\n" UA "\r\n", ALW);
    if (fn != n)
        return -EINVAL;
    uint32_t off = 0;
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    if (first) {
        TRY(pcapw_conv_client_data(&c, 0, (const uint8_t *)r1, (size_t)n1));
        TRY(http_response(&c));
        off = (uint32_t)n1;
    }
    fake_pkt(&c, &p, off, (const uint8_t *)fake, (size_t)fn);
    p.ttl = 1;
    uint32_t keep = c.cnext;
    TRY(pcapw_conv_send(&c, &p));
    c.cnext = keep; /* the fake is not part of the stream */
    TRY(pcapw_conv_client_data(&c, off, (const uint8_t *)real, (size_t)n));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

static int t4h(struct pcapw *w)
{
    return http_fake_real(w, ALW, BLK, false);
}
static int t4h2(struct pcapw *w)
{
    return http_fake_real(w, BLK, ALW, false);
}
static int t4h3(struct pcapw *w)
{
    return http_fake_real(w, ALW, BLK, true);
}

/* h2c with prior knowledge (curl --http2-prior-knowledge): preface, SETTINGS, then a HEADERS
 * frame cut inside the :authority value, the rest in a CONTINUATION frame. The field block is
 * HPACK without Huffman: :method GET, :scheme http, :path / (static 2, 6, 4), :authority as a
 * literal with static name 1. */
static int h18a(struct pcapw *w)
{
    struct pcapw_conv c;
    static const uint8_t d[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        "\x00\x00\x00\x04\x00\x00\x00\x00\x00" /* SETTINGS */
        "\x00\x00\x0b\x01\x01\x00\x00\x00\x01" /* HEADERS, END_STREAM */
        "\x82\x86\x84\x01\x0f"
        "blocke"
        "\x00\x00\x09\x09\x04\x00\x00\x00\x01" /* CONTINUATION, END_HEADERS */
        "d.example";
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, d, sizeof(d) - 1));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

/* h2c with prior knowledge, two requests on one connection as a browser multiplexes them:
 * stream 1 for the allowed host (its :authority entered in the HPACK dynamic table), a DATA
 * frame, then stream 3 for the blocked host with the block cut inside :authority, the rest in
 * a CONTINUATION frame. */
static int h18b(struct pcapw *w)
{
    struct pcapw_conv c;
    static const uint8_t d[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        "\x00\x00\x00\x04\x00\x00\x00\x00\x00" /* SETTINGS */
        "\x00\x00\x14\x01\x04\x00\x00\x00\x01" /* HEADERS 1, END_HEADERS */
        "\x82\x86\x84\x41\x0f"
        "allowed.example"
        "\x00\x00\x04\x00\x01\x00\x00\x00\x01"
        "data"                                 /* DATA 1, END_STREAM */
        "\x00\x00\x0b\x01\x01\x00\x00\x00\x03" /* HEADERS 3, END_STREAM */
        "\x82\x86\x84\x41\x0f"
        "blocke"
        "\x00\x00\x09\x09\x04\x00\x00\x00\x03" /* CONTINUATION, END_HEADERS */
        "d.example";
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, d, sizeof(d) - 1));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

static int h10(struct pcapw *w)
{
    struct pcapw_conv c;
    static const char req[] = "GET / HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n";
    size_t n = sizeof(req) - 1;
    size_t a = (size_t)(strstr(req, "blocked") - req) + 4;
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, (const uint8_t *)req, a));
    TRY(pcapw_conv_client_data(&c, (uint32_t)a, (const uint8_t *)req + a, n - a));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

static int keepalive(struct pcapw *w, const char *host2)
{
    struct pcapw_conv c;
    uint8_t r1[512], r2[512];
    size_t n1 = pcapw_http_get(r1, sizeof(r1), ALW, "/");
    size_t n2 = pcapw_http_get(r2, sizeof(r2), host2, "/second");
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    TRY(pcapw_conv_client_data(&c, 0, r1, n1));
    TRY(http_response(&c));
    TRY(pcapw_conv_client_data(&c, (uint32_t)n1, r2, n2));
    TRY(http_response(&c));
    return pcapw_conv_close(&c);
}

static int h11(struct pcapw *w)
{
    return keepalive(w, BLK);
}

/* Requests r[0..n) on one kept-alive connection to port 80, each answered by the server
 * before the next, as curl or a browser sends them. */
static int keepalive_seq(struct pcapw *w, const char *const *r, size_t n)
{
    struct pcapw_conv c;
    uint32_t off = 0;
    TRY(conv(&c, w, CLI4, SRV4, 80));
    TRY(pcapw_conv_handshake(&c));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(r[i]);
        TRY(send_mss(&c, off, (const uint8_t *)r[i], len, 1448));
        off += (uint32_t)len;
        TRY(http_response(&c));
    }
    return pcapw_conv_close(&c);
}

/* A chunked upload (extensions, a trailer; curl -T - with a chunked transfer) to the allowed
 * host, then a GET for the blocked host on the same connection. */
static int h16a(struct pcapw *w)
{
    static const char *const r[] = {
        "POST /upload HTTP/1.1\r\nHost: " ALW "\r\nTransfer-Encoding: chunked\r\n" UA "\r\n"
        "5;name=x\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n",
    };
    return keepalive_seq(w, r, 2);
}

/* A Content-Length POST to the allowed host, then a GET for the blocked host. */
static int h16b(struct pcapw *w)
{
    static const char *const r[] = {
        "POST /form HTTP/1.1\r\nHost: " ALW "\r\nContent-Length: 11\r\n" UA "\r\nhello=world",
        "GET / HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n",
    };
    return keepalive_seq(w, r, 2);
}

/* 70 requests for the allowed host, then one for the blocked host (no per-connection cap). */
static int h16c(struct pcapw *w)
{
    static const char *r[71];
    for (size_t i = 0; i < 70; i++)
        r[i] = "GET /a HTTP/1.1\r\nHost: " ALW "\r\n" UA "\r\n";
    r[70] = "GET / HTTP/1.1\r\nHost: " BLK "\r\n" UA "\r\n";
    return keepalive_seq(w, r, 71);
}

/* Bodies whose bytes look like a request for the blocked host, sent to the allowed host: by
 * Content-Length and chunked. The server reads them as data; so must the filter. */
static int h17(struct pcapw *w)
{
#define FAKE_REQ "GET / HTTP/1.1\r\nHost: " BLK "\r\n\r\n"
    static const char *const r[] = {
        "POST /a HTTP/1.1\r\nHost: " ALW "\r\nContent-Length: 41\r\n" UA "\r\n" FAKE_REQ,
        "POST /b HTTP/1.1\r\nHost: " ALW "\r\nTransfer-Encoding: chunked\r\n" UA "\r\n"
        "29\r\n" FAKE_REQ "\r\n0\r\n\r\n",
        "GET /c HTTP/1.1\r\nHost: " ALW "\r\n" UA "\r\n",
    };
#undef FAKE_REQ
    return keepalive_seq(w, r, 3);
}
static int h12(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4, "GET http://" BLK "/ HTTP/1.1\r\nHost: " ALW "\r\n" UA "\r\n");
}
static int h13(struct pcapw *w)
{
    return http_raw(w, CLI4, SRV4,
                    "GET / HTTP/1.1\r\nHost: " ALW "\r\nHost: " BLK "\r\n" UA "\r\n");
}
static int h14a(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, BLK ":80", "/");
}
static int h14b(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "xn--80akhbyknj4f.example", "/");
}
static int h15a(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "urls.example", "/a/../secret/x");
}
static int h15b(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "urls.example", "/%73ecret/x");
}
static int h15c(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "urls.example", "//secret/x");
}
static int h15d(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "urls.example", "/secret/./x?q=1");
}

/* ---- QUIC (UDP 443) ----
 * Each capture imitates one Chromium connection attempt: client Initials padded to 1250-byte
 * datagrams (Chromium's size), connection IDs of 8 bytes, the ClientHello carried as CRYPTO
 * frames; tricks put something in front of, or next to, the real Initials. */

static const uint8_t Q_DCID[8] = { 0x5c, 0x1e, 0xa7, 0x09, 0x42, 0x33, 0x71, 0x0d };
static const uint8_t Q_DCID2[8] = { 0xd1, 0x7a, 0x02, 0x9e, 0x13, 0x5b, 0xc4, 0x66 };
static const uint8_t Q_SCID[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
#define Q_DGRAM 1250

static uint64_t g_qts;

/* One UDP datagram client -> server (from_client) or back, 1 ms after the previous one. */
static int udp_put(struct pcapw *w, bool from_client, const uint8_t *d, size_t n)
{
    struct pcapw_pkt p;
    pcapw_pkt_init(&p);
    p.proto = 17;
    pcapw_addr(from_client ? CLI4 : SRV4, p.src);
    pcapw_addr(from_client ? SRV4 : CLI4, p.dst);
    p.sport = from_client ? g_cport : 443;
    p.dport = from_client ? 443 : g_cport;
    p.payload = d;
    p.payload_len = n;
    g_qts += 1000;
    return pcapw_put(w, TS0 + g_qts, &p);
}

/* Sends hello[from..to) as one Initial with packet number pn in its own datagram. */
static int q_send(struct pcapw *w, struct quicw *q, uint32_t pn, const uint8_t *hello, size_t from,
                  size_t to)
{
    uint8_t f[1500], d[1500];
    size_t fl = 0;
    TRY(quicw_crypto(f, sizeof(f), &fl, from, hello + from, to - from));
    size_t n = quicw_initial(q, pn, f, fl, Q_DGRAM, d, sizeof(d));
    return n ? udp_put(w, true, d, n) : -EINVAL;
}

/* The server's first flight (opaque to the filter): ends the capture like a real answer. */
static int q_answer(struct pcapw *w, const struct quicw *q)
{
    uint8_t d[1500];
    size_t n = quicw_opaque(q, QUICW_HANDSHAKE, 1000, 99, d, sizeof(d));
    return n ? udp_put(w, false, d, n) : -EINVAL;
}

/* Opens the attempt of version with dcid; *hl gets the hello length, *so the SNI offset. */
static int q_open(struct quicw *q, uint32_t version, const uint8_t *dcid, const char *sni,
                  size_t pq, uint8_t *hello, size_t cap, size_t *hl, size_t *so)
{
    g_qts = 0;
    TRY(quicw_init(q, version, dcid, 8, Q_SCID, 8));
    *hl = quicw_hello(sni, pq, hello, cap, so);
    if (*hl == 0 || *hl > 1100 * 2) {
        quicw_fini(q);
        return -EINVAL;
    }
    return 0;
}

/* A whole attempt: the hello over as many Initials as it needs (cut inside the SNI when it takes
 * two), then the server's answer. */
static int q_plain(struct pcapw *w, uint32_t version, const uint8_t *dcid, const char *sni,
                   size_t pq)
{
    struct quicw q;
    uint8_t h[4096];
    size_t hl, so;
    TRY(q_open(&q, version, dcid, sni, pq, h, sizeof(h), &hl, &so));
    int rc = 0;
    if (hl <= 1100) {
        rc = q_send(w, &q, 0, h, 0, hl);
    } else {
        size_t cut = so + 4;
        rc = q_send(w, &q, 0, h, 0, cut);
        if (!rc)
            rc = q_send(w, &q, 1, h, cut, hl);
    }
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

static int qb1(struct pcapw *w)
{
    return q_plain(w, QUIC_V1, Q_DCID, ALW, 0);
}
static int qb2(struct pcapw *w)
{
    return q_plain(w, QUIC_V1, Q_DCID, BLK, 0);
}

/* Q1: Chromium's ClientHello with the X25519MLKEM768 share takes two Initials; cut in the SNI. */
static int q1(struct pcapw *w)
{
    return q_plain(w, QUIC_V1, Q_DCID, BLK, 1216);
}

/* Q5: the same over QUIC v2 (RFC 9369 salt, labels and type bits). */
static int q5(struct pcapw *w)
{
    return q_plain(w, QUIC_V2, Q_DCID, BLK, 1216);
}

/* Q2: the second Initial (pn 1) first; inside each, CRYPTO frames in reverse order with PING and
 * PADDING between them, and one range sent twice. */
static int q2(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], f[1500], d[1500];
    size_t hl, so;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 1216, h, sizeof(h), &hl, &so));
    size_t cut = so + 4, mid = cut / 2;
    int rc = 0;
    size_t fl = 0, n;
    rc = quicw_crypto(f, sizeof(f), &fl, cut, h + cut, hl - cut);
    n = rc ? 0 : quicw_initial(&q, 1, f, fl, Q_DGRAM, d, sizeof(d));
    rc = n ? udp_put(w, true, d, n) : -EINVAL;
    fl = 0;
    if (!rc)
        rc = quicw_crypto(f, sizeof(f), &fl, mid, h + mid, cut - mid);
    if (!rc) {
        f[fl++] = 0x01; /* PING */
        f[fl++] = 0x00; /* PADDING */
        rc = quicw_crypto(f, sizeof(f), &fl, 0, h, mid);
    }
    if (!rc)
        rc = quicw_crypto(f, sizeof(f), &fl, mid - 10, h + mid - 10, 20);
    n = rc ? 0 : quicw_initial(&q, 0, f, fl, Q_DGRAM, d, sizeof(d));
    rc = n ? udp_put(w, true, d, n) : -EINVAL;
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q3a: an Initial with the flow's DCID whose payload is garbage (fails authentication), then
 * the real Initial. */
static int q3a(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], f[1500], d[1500];
    size_t hl, so, fl = 0;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 0, h, sizeof(h), &hl, &so));
    int rc = quicw_crypto(f, sizeof(f), &fl, 0, h, hl);
    size_t n = rc ? 0 : quicw_initial(&q, 0, f, fl, Q_DGRAM, d, sizeof(d));
    uint64_t st = 77;
    for (size_t i = 40; i < n; i++) /* keep the header, replace the ciphertext */
        d[i] = (uint8_t)pcapw_rand(&st);
    rc = n ? udp_put(w, true, d, n) : -EINVAL;
    if (!rc)
        rc = q_send(w, &q, 0, h, 0, hl);
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q3b: a forged Initial that decrypts (same DCID, so the same public keys) carrying a whole
 * ClientHello for the allowed name first (low TTL in the wild: it never reaches the server), then
 * the real one with the blocked name at the same CRYPTO offsets. */
static int q3b(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], fake[4096];
    size_t hl, so, fl, fso;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 0, h, sizeof(h), &hl, &so));
    fl = quicw_hello(ALW, 0, fake, sizeof(fake), &fso);
    int rc = fl == hl ? q_send(w, &q, 0, fake, 0, fl) : -EINVAL;
    if (!rc)
        rc = q_send(w, &q, 0, h, 0, hl);
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q3c: the forged allowed hello under another DCID first (its own keys: a different connection
 * attempt on the same 5-tuple), then the real attempt under its DCID. */
static int q3c(struct pcapw *w)
{
    struct quicw q, fq;
    uint8_t h[4096], fake[4096];
    size_t hl, so, fl, fso;
    TRY(q_open(&fq, QUIC_V1, Q_DCID2, ALW, 0, fake, sizeof(fake), &fl, &fso));
    int rc = q_send(w, &fq, 0, fake, 0, fl);
    quicw_fini(&fq);
    TRY(rc);
    uint64_t ts = g_qts;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 0, h, sizeof(h), &hl, &so));
    g_qts = ts;
    rc = q_send(w, &q, 0, h, 0, hl);
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q3d: a 0-RTT packet that overtook its Initial (seen in Chromium captures), alone in the first
 * datagram, then the Initials. */
static int q3d(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], d[1500];
    size_t hl, so;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 1216, h, sizeof(h), &hl, &so));
    size_t n = quicw_opaque(&q, QUICW_0RTT, 300, 5, d, sizeof(d));
    int rc = n ? udp_put(w, true, d, n) : -EINVAL;
    if (!rc)
        rc = q_send(w, &q, 0, h, 0, so + 4);
    if (!rc)
        rc = q_send(w, &q, 1, h, so + 4, hl);
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q3e: 20 bytes of junk as the flow's first datagram, then the Initial. */
static int q3e(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], junk[20];
    size_t hl, so;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 0, h, sizeof(h), &hl, &so));
    uint64_t st = 3;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)pcapw_rand(&st);
    int rc = udp_put(w, true, junk, sizeof(junk));
    if (!rc)
        rc = q_send(w, &q, 0, h, 0, hl);
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q3f: an Initial of a version the filter does not know (0x1a2a3a4a, a reserved GREASE-style
 * version), the server's Version Negotiation, then the client's new attempt in v1 under a new
 * DCID (RFC 9000 6.2). */
static int q3f(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], d[1500];
    size_t hl, so;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 0, h, sizeof(h), &hl, &so));
    /* the unknown-version Initial: a v1 Initial with its version field rewritten */
    uint8_t f[1500];
    size_t fl = 0;
    int rc = quicw_crypto(f, sizeof(f), &fl, 0, h, hl);
    size_t n = rc ? 0 : quicw_initial(&q, 0, f, fl, Q_DGRAM, d, sizeof(d));
    d[1] = 0x1a;
    d[2] = 0x2a;
    d[3] = 0x3a;
    d[4] = 0x4a;
    rc = n ? udp_put(w, true, d, n) : -EINVAL;
    quicw_fini(&q);
    TRY(rc);
    /* Version Negotiation: version 0, CIDs mirrored, supported versions v1 and v2 */
    uint8_t vn[64];
    size_t k = 0;
    vn[k++] = 0x80 | 0x2a;
    memset(vn + k, 0, 4);
    k += 4;
    vn[k++] = 8;
    memcpy(vn + k, Q_SCID, 8);
    k += 8;
    vn[k++] = 8;
    memcpy(vn + k, Q_DCID, 8);
    k += 8;
    static const uint8_t vers[8] = { 0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf };
    memcpy(vn + k, vers, sizeof(vers));
    k += sizeof(vers);
    TRY(udp_put(w, false, vn, k));
    uint64_t ts = g_qts;
    TRY(q_open(&q, QUIC_V1, Q_DCID2, BLK, 0, h, sizeof(h), &hl, &so));
    g_qts = ts;
    rc = q_send(w, &q, 0, h, 0, hl);
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* Q1b: the ClientHello split over two Initials coalesced in one datagram (RFC 9000 12.2), the
 * second padded, a Handshake-type packet of another DCID skipped in front of neither. */
static int q1b(struct pcapw *w)
{
    struct quicw q;
    uint8_t h[4096], f[1500], d[1500];
    size_t hl, so, fl = 0;
    TRY(q_open(&q, QUIC_V1, Q_DCID, BLK, 0, h, sizeof(h), &hl, &so));
    size_t cut = so + 4;
    int rc = quicw_crypto(f, sizeof(f), &fl, 0, h, cut);
    size_t n0 = rc ? 0 : quicw_initial(&q, 0, f, fl, 0, d, sizeof(d));
    fl = 0;
    rc = n0 ? quicw_crypto(f, sizeof(f), &fl, cut, h + cut, hl - cut) : -EINVAL;
    size_t n1 = rc ? 0 : quicw_initial(&q, 1, f, fl, Q_DGRAM - n0, d + n0, sizeof(d) - n0);
    rc = n1 ? udp_put(w, true, d, n0 + n1) : -EINVAL;
    if (!rc)
        rc = q_answer(w, &q);
    quicw_fini(&q);
    return rc;
}

/* ---- must pass ---- */

static int p1(struct pcapw *w)
{
    return tls_plain(w, CLI4, SRV4, "not" BLK);
}
static int p2(struct pcapw *w)
{
    return tls_plain(w, CLI4, SRV4, BLK ".evil.test");
}
static int p3(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "not" BLK, "/");
}
static int p4(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, BLK ".evil.test", "/");
}
static int p5(struct pcapw *w)
{
    return keepalive(w, "www." ALW);
}
static int p6(struct pcapw *w)
{
    return http_get(w, CLI4, SRV4, "urls.example", "/public/secret/x");
}

/* ---- encapsulations on the capture point (E1-E6) ----
 * Each capture holds an allowed TLS/HTTP flow to 10.0.0.3 and a blocked one to the server, both
 * seen through the encapsulation an operator's mirror carries; the frames pcapw writes (Ethernet
 * + IP) are rewritten by a wrap function. Outer addresses are 192.0.2.0/24 (RFC 5737). */

#define ALT4 "10.0.0.3"

enum wrap_kind { W_MPLS, W_PPPOE, W_ERSPAN2, W_GRE_KEY, W_VXLAN, W_GTPU, W_IPIP };

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

/* Outer Ethernet + IPv4 (192.0.2.1 -> 192.0.2.2 one way, swapped the other, by up) of protocol
 * proto and payload length n at out; returns the header length (34). */
static size_t outer4(uint8_t *out, const uint8_t *mac, bool up, uint8_t proto, size_t n)
{
    memcpy(out, mac, 12);
    put16(out + 12, 0x0800);
    uint8_t *ip = out + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint32_t)(20 + n));
    ip[8] = 62;
    ip[9] = proto;
    static const uint8_t a[4] = { 192, 0, 2, 1 }, b[4] = { 192, 0, 2, 2 };
    memcpy(ip + 12, up ? a : b, 4);
    memcpy(ip + 16, up ? b : a, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)ip[i] << 8 | ip[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, ~sum & 0xffff);
    return 34;
}

/* True when the (Ethernet, untagged) frame is sent by the client of these captures. */
static bool from_client(const uint8_t *f, size_t len)
{
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    if (type == 0x0800)
        return len >= 34 && f[14 + 12] == 10 && f[14 + 15] == 2;
    return len >= 54 && f[14 + 8] == 0xfd && f[14 + 23] == 2;
}

static size_t wrap(void *ctx, const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
    enum wrap_kind k = *(const enum wrap_kind *)ctx;
    if (len < 14 || len + 100 > cap)
        return 0;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    bool v4 = type == 0x0800;
    bool up = from_client(f, len);
    const uint8_t *ip = f + 14;
    size_t iplen = len - 14;
    size_t o;
    switch (k) {
    case W_MPLS: /* a provider core link: transport label + VPN label */
        memcpy(out, f, 12);
        put16(out + 12, 0x8847);
        put32(out + 14, 1001u << 12 | 64);
        put32(out + 18, 2002u << 12 | 1u << 8 | 64);
        memcpy(out + 22, ip, iplen);
        return 22 + iplen;
    case W_PPPOE: /* a BRAS access port: PPPoE session 0x0042 */
        memcpy(out, f, 12);
        put16(out + 12, 0x8864);
        out[14] = 0x11;
        out[15] = 0;
        put16(out + 16, 0x0042);
        put16(out + 18, (uint32_t)(iplen + 2));
        put16(out + 20, v4 ? 0x0021 : 0x0057);
        memcpy(out + 22, ip, iplen);
        return 22 + iplen;
    case W_ERSPAN2: /* a remote mirror session 12 (router -> collector), whole frames */
        o = outer4(out, f, true, 47, 4 + 4 + 8 + len);
        put16(out + o, 0x1000);
        put16(out + o + 2, 0x88be);
        put32(out + o + 4, 1);
        put16(out + o + 8, 1u << 12);
        put16(out + o + 10, 12);
        put32(out + o + 12, 0);
        memcpy(out + o + 16, f, len);
        return o + 16 + len;
    case W_GRE_KEY: /* a site-to-site GRE tunnel with key 7 carrying IP */
        o = outer4(out, f, up, 47, 8 + iplen);
        put16(out + o, 0x2000);
        put16(out + o + 2, v4 ? 0x0800 : 0x86dd);
        put32(out + o + 4, 7);
        memcpy(out + o + 8, ip, iplen);
        return o + 8 + iplen;
    case W_VXLAN: /* a data-centre overlay, VNI 4242 */
        o = outer4(out, f, up, 17, 8 + 8 + len);
        put16(out + o, up ? 51000 : 52000);
        put16(out + o + 2, 4789);
        put16(out + o + 4, (uint32_t)(16 + len));
        put16(out + o + 6, 0);
        put32(out + o + 8, 0x08000000);
        put32(out + o + 12, 4242u << 8);
        memcpy(out + o + 16, f, len);
        return o + 16 + len;
    case W_GTPU: /* N3 between gNB and UPF: per-direction TEIDs, PDU session container */
        o = outer4(out, f, up, 17, 8 + 16 + iplen);
        put16(out + o, 2152);
        put16(out + o + 2, 2152);
        put16(out + o + 4, (uint32_t)(8 + 16 + iplen));
        put16(out + o + 6, 0);
        out[o + 8] = 0x34; /* version 1, PT, E */
        out[o + 9] = 255;
        put16(out + o + 10, (uint32_t)(8 + iplen));
        put32(out + o + 12, up ? 0x00001001u : 0x00002002u);
        put16(out + o + 16, 0);
        out[o + 18] = 0;
        out[o + 19] = 0x85;
        out[o + 20] = 1;
        out[o + 21] = up ? 0x10 : 0x00; /* UL / DL PDU session information */
        out[o + 22] = 9;                /* QFI */
        out[o + 23] = 0;
        memcpy(out + o + 24, ip, iplen);
        return o + 24 + iplen;
    case W_IPIP: /* IPv4-in-IPv4 (protocol 4) or IPv6-in-IPv4 (6in4, protocol 41) */
        o = outer4(out, f, up, v4 ? 4 : 41, iplen);
        memcpy(out + o, ip, iplen);
        return o + iplen;
    }
    return 0;
}

static int enc_tls(struct pcapw *w, enum wrap_kind k, const char *cli, const char *srv,
                   const char *alt)
{
    static enum wrap_kind kind;
    kind = k;
    TRY(pcapw_set_wrap(w, wrap, &kind));
    TRY(tls_plain(w, cli, alt, ALW));
    return tls_plain(w, cli, srv, BLK);
}

static int enc_http(struct pcapw *w, enum wrap_kind k)
{
    static enum wrap_kind kind;
    kind = k;
    TRY(pcapw_set_wrap(w, wrap, &kind));
    TRY(http_get(w, CLI4, ALT4, ALW, "/"));
    return http_get(w, CLI4, SRV4, BLK, "/");
}

static int e1(struct pcapw *w)
{
    return enc_tls(w, W_MPLS, CLI4, SRV4, ALT4);
}
static int e2(struct pcapw *w)
{
    return enc_tls(w, W_PPPOE, CLI6, SRV6, "fd00::3");
}
static int e3a(struct pcapw *w)
{
    return enc_tls(w, W_ERSPAN2, CLI4, SRV4, ALT4);
}
static int e3b(struct pcapw *w)
{
    return enc_http(w, W_GRE_KEY);
}
static int e4(struct pcapw *w)
{
    return enc_tls(w, W_VXLAN, CLI4, SRV4, ALT4);
}
static int e5(struct pcapw *w)
{
    return enc_tls(w, W_GTPU, CLI4, SRV4, ALT4);
}
/* T12 inside the tunnel: the inner ClientHello packet as 3 IPv4 fragments, last first */
static int e4f(struct pcapw *w)
{
    static enum wrap_kind kind = W_VXLAN;
    TRY(pcapw_set_wrap(w, wrap, &kind));
    return t12v4(w);
}
static int e6a(struct pcapw *w)
{
    return enc_http(w, W_IPIP);
}
static int e6b(struct pcapw *w)
{
    return enc_tls(w, W_IPIP, CLI6, SRV6, "fd00::3");
}

/* ---- captures with unfinished checksums (scan's checksum policy, docs/scan.md) ----
 * C1 imitates an anonymised capture (tcprewrite/ipsumdump-style tools that zero the TCP
 * checksum of one side's packets); C2 a capture taken with tcpdump on the client itself, where
 * checksum offload leaves the client's outgoing segments with only the pseudo-header sum. */

static size_t csum_wrap(void *ctx, const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
    bool offload = *(const bool *)ctx;
    if (len > cap || len < 54)
        return 0;
    memcpy(out, f, len);
    if (!from_client(f, len) || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6)
        return len;
    size_t ihl = (size_t)(f[14] & 0x0f) * 4;
    size_t tot = (size_t)f[16] << 8 | f[17];
    uint8_t *tcp = out + 14 + ihl;
    size_t tl = tot - ihl;
    if (!offload) {
        tcp[16] = tcp[17] = 0;
        return len;
    }
    uint32_t sum = 0;
    for (int i = 0; i < 8; i += 2)
        sum += (uint32_t)f[14 + 12 + i] << 8 | f[14 + 12 + i + 1];
    sum += 6 + (uint32_t)tl;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(tcp + 16, sum);
    return len;
}

static int csum_rows(struct pcapw *w, bool offload)
{
    static bool off;
    off = offload;
    TRY(pcapw_set_wrap(w, csum_wrap, &off));
    TRY(tls_plain(w, CLI4, ALT4, ALW));
    TRY(http_get(w, CLI4, ALT4, ALW, "/"));
    return tls_plain(w, CLI4, SRV4, BLK);
}

static int c1(struct pcapw *w)
{
    return csum_rows(w, false);
}
static int c2(struct pcapw *w)
{
    return csum_rows(w, true);
}

struct row {
    const char *id;
    int (*gen)(struct pcapw *w);
    const char *verdict, *method, *name, *server, *desc;
};

static const struct row rows[] = {
    { "B1", b_tls4_allow, "pass", "-", ALW, SRV4 ":443", "baseline: TLS IPv4, allowed SNI" },
    { "B2", b_tls4_block, "block", "domain", BLK, SRV4 ":443", "baseline: TLS IPv4, blocked SNI" },
    { "B3", b_tls6_allow, "pass", "-", ALW, "[" SRV6 "]:443", "baseline: TLS IPv6, allowed SNI" },
    { "B4", b_tls6_block, "block", "domain", BLK, "[" SRV6 "]:443",
      "baseline: TLS IPv6, blocked SNI" },
    { "B5", b_http4_allow, "pass", "-", ALW, SRV4 ":80", "baseline: HTTP IPv4, allowed Host" },
    { "B6", b_http4_block, "block", "domain", BLK, SRV4 ":80",
      "baseline: HTTP IPv4, blocked Host" },
    { "B7", b_http6_allow, "pass", "-", ALW, "[" SRV6 "]:80", "baseline: HTTP IPv6, allowed Host" },
    { "B8", b_http6_block, "block", "domain", BLK, "[" SRV6 "]:80",
      "baseline: HTTP IPv6, blocked Host" },
    { "T1", t1, "block", "domain", "www." BLK, SRV4 ":443",
      "ClientHello in 3 segments, cuts inside the SNI" },
    { "T2", t2, "block", "domain", BLK, SRV4 ":443", "ClientHello in 1-byte segments" },
    { "T3", t3, "block", "domain", BLK, SRV4 ":443",
      "ClientHello segments out of order (second half first)" },
    { "T4", t4, "block", "domain", BLK, SRV4 ":443",
      "TTL-1 fake hello with allowed SNI at the same seq first" },
    { "T4h", t4h, "block", "domain", BLK, SRV4 ":80",
      "TTL-1 fake request with allowed Host at the same seq first" },
    { "T4h2", t4h2, "block", "domain", BLK, SRV4 ":80",
      "TTL-1 fake request naming the blocked host, then an allowed one" },
    { "T4h3", t4h3, "block", "domain", BLK, SRV4 ":80",
      "kept-alive: allowed request, then TTL-1 fake and real second request" },
    { "T5", t5, "block", "domain", BLK, SRV4 ":443",
      "bad-TCP-checksum fake hello with allowed SNI first" },
    { "T6", t6, "block", "domain", BLK, SRV4 ":443",
      "out-of-window fake hello with allowed SNI first" },
    { "T7", t7, "block", "domain", BLK, SRV4 ":443",
      "TCP-MD5 fake hello with allowed SNI first (MD5 never negotiated)" },
    { "T8", t8, "block", "domain", BLK, SRV4 ":443",
      "fake hellos without ACK and with SYN set, allowed SNI" },
    { "T9", t9, "block", "domain", BLK, SRV4 ":443",
      "PAWS: fake hello with old timestamp, allowed SNI" },
    { "T10", t10, "block", "domain", BLK, SRV4 ":443",
      "overlapping segment rewrites the SNI bytes (Linux keeps the first)" },
    { "T11", t11, "block", "domain", BLK, SRV4 ":443",
      "urgent byte X inside the SNI blocked.exa|X|mple" },
    { "T12v4", t12v4, "block", "domain", BLK, SRV4 ":443",
      "IPv4 fragments (3, last first, cut inside the SNI)" },
    { "T12v6", t12v6, "block", "domain", BLK, "[" SRV6 "]:443",
      "IPv6 fragments (3, last first, cut inside the SNI)" },
    { "T13", t13, "block", "domain", BLK, "[" SRV6 "]:443",
      "IPv6 ext headers: dropped fake (HBH not first), real behind HBH+DST" },
    { "T14", t14, "block", "domain", BLK, SRV4 ":443",
      "allowed hello in the SYN without TFO cookie, then the real one" },
    { "T15", t15, "block", "domain", BLK, SRV4 ":443", "simultaneous open, server's SYN first" },
    { "T16", t16, "block", "domain", BLK, SRV4 ":443",
      "fake low-TTL RST with wrong seq before the hello" },
    { "T18", t18, "block", "domain", BLK, SRV4 ":443", "duplicate segments, IP ids 0/0/65535/1" },
    { "T19", t19, "block", "domain", BLK, SRV4 ":443",
      "TTL-1 bare ACK with a far-future timestamp before the hello (PAWS)" },
    { "T20", t20, "block", "domain", BLK, SRV4 ":443",
      "TTL-1 SYN with another ISN before the real handshake" },
    { "T21", t21, "block", "domain", BLK, SRV4 ":443",
      "TTL-1 RST at the exact sequence and a TTL-1 SYN, then the hello out of order over 16 s" },
    { "Z1", z1, "block", "domain", BLK, SRV4 ":443",
      "TTL-1 fake whose record length swallows the real hello" },
    { "Z2", z2, "block", "domain", BLK, SRV4 ":443",
      "TTL-1 fake of zero bytes (neither TLS nor HTTP) before the hello" },
    { "Z3", z3, "block", "domain", BLK, SRV4 ":443",
      "MD5 duplicate SYN, then MD5 fake (swallowing record), real hello, MD5 fake (allowed SNI)" },
    { "Z4", z4, "block", "domain", BLK, SRV4 ":443",
      "split-seqovl: first segment starts 100 junk bytes below the ISN + 1" },
    { "Z5", z5, "block", "domain", BLK, SRV4 ":443",
      "split-seqovl: second segment starts with junk over the first part" },
    { "Z6", z6, "block", "domain", BLK, SRV4 ":443",
      "fake, real part 1, fake part 1, real part 2 (cut inside the SNI)" },
    { "R1", r1, "block", "domain", BLK, SRV4 ":443",
      "port reuse: allowed hello, client RST, new connection with a blocked hello" },
    { "R2", r2, "block", "domain", BLK, SRV4 ":80",
      "port reuse: allowed HTTP request, client RST, new connection with a blocked Host" },
    { "M1", m1, "block", "domain", BLK, SRV4 ":443",
      "picked up mid-stream at a 1-byte keep-alive probe, then a hello" },
    { "M2", m2, "block", "domain", BLK, SRV4 ":443",
      "picked up mid-stream at a TTL-1 junk fake 2000 bytes ahead, then the hello" },
    { "Y1", y1, "block", "domain", BLK, SRV4 ":443",
      "a second SYN-ACK with another ISN, then the hello acknowledging the first" },
    { "T22a", t22a, "block", "domain", BLK, SRV4 ":80",
      "TCP Fast Open: blocked request in the SYN, acknowledged by the SYN-ACK" },
    { "T22b", t22b, "block", "domain", BLK, SRV4 ":80",
      "TCP Fast Open decoy: allowed request in the SYN, not acknowledged; then the blocked one" },
    { "S1", s1, "block", "domain", BLK, SRV4 ":443",
      "ClientHello over 3 TLS records, split inside the SNI" },
    { "S2", s2, "block", "domain", BLK, SRV4 ":443",
      "longer TTL-3 fake hello with allowed SNI before the real one" },
    { "S4", s4, "block", "domain", BLK, SRV4 ":443", "SNI in mixed case" },
    { "S5", s5, "block", "domain", BLK, SRV4 ":443", "SNI with a trailing dot" },
    { "S6", s6, "block", "ip-fallback", "-", IPS4 ":443", "no SNI to an IP-listed server (IPv4)" },
    { "S6v6", s6v6, "block", "ip-fallback", "-", "[" IPS6 "]:443",
      "no SNI to an IP-listed server (IPv6)" },
    { "S7", s7, "block", "domain", BLK, SRV4 ":443",
      "6000-byte ClientHello (PQ key share, padding), SNI last, 5 segments" },
    { "S7b", s7b, "block", "domain", BLK, SRV4 ":443",
      "60000-byte ClientHello over 4 records and 42 segments, SNI early" },
    { "S7c", s7c, "block", "incomplete", "-", SRV4 ":443",
      "60000-byte ClientHello over 4 records, SNI last (past the 32 KiB buffer)" },
    { "S8", s8, "block", "ip-fallback", "-", IPS4 ":443",
      "ECH with allowed outer front name to an IP-listed server" },
    { "S9", s9, "block", "domain", BLK, SRV4 ":443", "GREASE, SNI last, record version 0x0303" },
    { "S10", s10, "block", "domain", BLK, SRV4 ":443",
      "server_name list: a name_type 1 entry, then the host_name (Go accepts)" },
    { "S10b", s10b, "block", "domain", BLK, SRV4 ":443",
      "two server_name extensions, allowed then blocked" },
    { "H1", h1, "block", "domain", BLK, SRV4 ":80", "hOsT: header-name case" },
    { "H2", h2, "block", "domain", BLK, SRV4 ":80", "Host value in mixed case" },
    { "H3", h3, "block", "domain", BLK, SRV4 ":80", "Host: without a space" },
    { "H4", h4, "block", "domain", BLK, SRV4 ":80", "tabs around the Host value" },
    { "H5", h5, "block", "domain", BLK, SRV4 ":80", "Host with a trailing dot" },
    { "H6", h6, "block", "domain", BLK, SRV4 ":80", "extra spaces in the request line" },
    { "H7", h7, "block", "domain", BLK, SRV4 ":80", "empty lines before the method" },
    { "H8", h8, "block", "domain", BLK, SRV4 ":80", "bare LF line endings" },
    { "H9", h9, "block", "domain", BLK, SRV4 ":80",
      "4 KB of padding headers before Host (3 segments)" },
    { "H9b", h9b, "block", "domain", BLK, SRV4 ":80",
      "20 KB of padding headers before and after Host (41 KB head)" },
    { "H9d", h9d, "block", "domain", BLK, SRV4 ":80",
      "allowed Host, 40 KB of padding (past the buffer), then a request for the blocked host" },
    { "H9e", h9e, "block", "domain", BLK, SRV4 ":80",
      "40 KB of padding headers before Host (Host past the buffer)" },
    { "H9c", h9c, "block", "domain", BLK, SRV4 ":80",
      "allowed Host, 8 KB of padding, second Host blocked" },
    { "H9s", h9s, "block", "domain", BLK, SRV4 ":80",
      "obs-folded line and a space before Host's colon (lax servers accept)" },
    { "H10", h10, "block", "domain", BLK, SRV4 ":80", "request split inside the Host value" },
    { "H11", h11, "block", "domain", BLK, SRV4 ":80",
      "allowed request, then blocked Host on the kept-alive connection" },
    { "H12", h12, "block", "domain", BLK, SRV4 ":80",
      "absolute-form target blocked, Host allowed" },
    { "H13", h13, "block", "domain", BLK, SRV4 ":80", "two Host headers, the second blocked" },
    { "H14a", h14a, "block", "domain", BLK, SRV4 ":80", "Host with :80 port" },
    { "H14b", h14b, "block", "domain", "xn--80akhbyknj4f.example", SRV4 ":80",
      "IDN Host (A-label) against a U-label entry" },
    { "H15a", h15a, "block", "url", "urls.example", SRV4 ":80",
      "path /a/../secret/x against http://urls.example/secret/*" },
    { "H15b", h15b, "block", "url", "urls.example", SRV4 ":80",
      "path /%73ecret/x (escaped unreserved)" },
    { "H15c", h15c, "block", "url", "urls.example", SRV4 ":80", "path //secret/x (doubled slash)" },
    { "H15d", h15d, "block", "url", "urls.example", SRV4 ":80", "path /secret/./x?q=1" },
    { "E1", e1, "block", "domain", BLK, SRV4 ":443",
      "MPLS: two labels, TLS IPv4 (allowed flow beside it)" },
    { "E2", e2, "block", "domain", BLK, "[" SRV6 "]:443",
      "PPPoE session, PPP IPv6, TLS (allowed flow beside it)" },
    { "E3a", e3a, "block", "domain", BLK, SRV4 ":443",
      "ERSPAN II in GRE: mirrored Ethernet frames, TLS" },
    { "E3b", e3b, "block", "domain", BLK, SRV4 ":80", "GRE with key, IPv4 inside, HTTP" },
    { "E4", e4, "block", "domain", BLK, SRV4 ":443", "VXLAN VNI 4242, inner Ethernet, TLS" },
    { "E4f", e4f, "block", "domain", BLK, SRV4 ":443",
      "VXLAN carrying the ClientHello as 3 inner IPv4 fragments, last first" },
    { "E5", e5, "block", "domain", BLK, SRV4 ":443",
      "GTP-U, per-direction TEIDs, PDU session container, TLS" },
    { "E6a", e6a, "block", "domain", BLK, SRV4 ":80", "IPv4-in-IPv4, HTTP" },
    { "E6b", e6b, "block", "domain", BLK, "[" SRV6 "]:443", "IPv6-in-IPv4 (6in4), TLS" },
    { "QB1", qb1, "pass", "-", ALW, SRV4 ":443", "baseline: QUIC v1 Initial, allowed SNI" },
    { "QB2", qb2, "block", "domain", BLK, SRV4 ":443", "baseline: QUIC v1 Initial, blocked SNI" },
    { "Q1", q1, "block", "domain", BLK, SRV4 ":443",
      "QUIC ClientHello over 2 Initials (PQ key share), cut inside the SNI" },
    { "Q1b", q1b, "block", "domain", BLK, SRV4 ":443",
      "QUIC ClientHello over 2 Initials coalesced in one datagram" },
    { "Q2", q2, "block", "domain", BLK, SRV4 ":443",
      "QUIC Initials and CRYPTO frames out of order, PING/PADDING mixed in" },
    { "Q3a", q3a, "block", "domain", BLK, SRV4 ":443",
      "QUIC: garbage Initial with the same DCID first" },
    { "Q3b", q3b, "block", "domain", BLK, SRV4 ":443",
      "QUIC: forged decrypting Initial, same DCID, allowed SNI first" },
    { "Q3c", q3c, "block", "domain", BLK, SRV4 ":443",
      "QUIC: forged decrypting Initial, other DCID, allowed SNI first" },
    { "Q3d", q3d, "block", "domain", BLK, SRV4 ":443",
      "QUIC: a 0-RTT packet alone in the first datagram" },
    { "Q3e", q3e, "block", "domain", BLK, SRV4 ":443",
      "QUIC: 20 bytes of junk as the first datagram" },
    { "Q3f", q3f, "block", "domain", BLK, SRV4 ":443",
      "QUIC: unknown-version Initial, Version Negotiation, then v1" },
    { "Q5", q5, "block", "domain", BLK, SRV4 ":443", "QUIC v2 ClientHello over 2 Initials" },
    { "C1", c1, "block", "domain", BLK, SRV4 ":443",
      "client's TCP checksums all zero (anonymised capture), 3 flows" },
    { "C2", c2, "block", "domain", BLK, SRV4 ":443",
      "client's TCP checksums left to offload (captured on the client), 3 flows" },
    { "H16a", h16a, "block", "domain", BLK, SRV4 ":80",
      "chunked POST to an allowed host, then GET for the blocked host" },
    { "H16b", h16b, "block", "domain", BLK, SRV4 ":80",
      "Content-Length POST to an allowed host, then GET for the blocked host" },
    { "H16c", h16c, "block", "domain", BLK, SRV4 ":80",
      "70 requests for an allowed host, then one for the blocked host" },
    { "H17", h17, "pass", "-", ALW, SRV4 ":80",
      "bodies (Content-Length, chunked) holding a request for the blocked host" },
    { "H18a", h18a, "block", "domain", BLK, SRV4 ":80",
      "h2c: :authority split across HEADERS and CONTINUATION" },
    { "H18b", h18b, "block", "domain", BLK, SRV4 ":80",
      "h2c: allowed stream 1, then stream 3 blocked, split by CONTINUATION" },
    { "P1", p1, "pass", "-", "not" BLK, SRV4 ":443", "anchoring: SNI notblocked.example" },
    { "P2", p2, "pass", "-", BLK ".evil.test", SRV4 ":443",
      "anchoring: SNI blocked.example.evil.test" },
    { "P3", p3, "pass", "-", "not" BLK, SRV4 ":80", "anchoring: Host notblocked.example" },
    { "P4", p4, "pass", "-", BLK ".evil.test", SRV4 ":80",
      "anchoring: Host blocked.example.evil.test" },
    { "P5", p5, "pass", "-", "www." ALW, SRV4 ":80",
      "two allowed requests on one kept-alive connection" },
    { "P6", p6, "pass", "-", "urls.example", SRV4 ":80",
      "URL entry is a prefix: /public/secret/x is not under /secret/" },
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: mkevasion OUTDIR\n", stderr);
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mkevasion: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/expected.tsv", dir);
    FILE *tsv = fopen(path, "w");
    if (!tsv) {
        fprintf(stderr, "mkevasion: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs("#file\tverdict\tmethod\tname\tserver\tid\tdescription\n", tsv);
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        snprintf(path, sizeof(path), "%s/%s.pcap", dir, r->id);
        struct pcapw *w = pcapw_open(path);
        if (!w) {
            fprintf(stderr, "mkevasion: %s: %s\n", path, strerror(errno));
            bad = 1;
            continue;
        }
        g_cport = (uint16_t)(40000 + i);
        int rc = r->gen(w);
        int rc2 = pcapw_close(w);
        if (rc || rc2) {
            fprintf(stderr, "mkevasion: %s: generation failed: %s\n", r->id,
                    strerror(-(rc ? rc : rc2)));
            bad = 1;
            continue;
        }
        fprintf(tsv, "%s.pcap\t%s\t%s\t%s\t%s\t%s\t%s\n", r->id, r->verdict, r->method, r->name,
                r->server, r->id, r->desc);
    }
    if (fclose(tsv) != 0) {
        fprintf(stderr, "mkevasion: expected.tsv: %s\n", strerror(errno));
        bad = 1;
    }
    return bad;
}
