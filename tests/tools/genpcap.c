/* genpcap.c - writes a large, realistic capture and a matching blocklist for benchmarks.
 *
 * Usage: genpcap OUT.pcap [--packets N] [--flows N] [--seed N] [--names N] [--unrelated N]
 * Defaults: 1000000 packets, 60000 flows, seed 1, names = flows/4, 100000 unrelated rule names.
 *
 * Mix of flows (by count): ~70% TLS over TCP/443 (handshake with options, a ClientHello of
 * browser size - half of them with a 1216-byte post-quantum key share, so over 2 segments - then
 * server records in 1448-byte segments and client ACKs every second segment, FIN close),
 * ~20% HTTP/1.1 over TCP/80 (a browser-like GET with Host, response segments), ~10% QUIC-like
 * UDP/443 (a 1252-byte long-header Initial first, then random short-header datagrams).
 * ~15% of flows are IPv6. Up to 2000 flows are open at once and their packets interleave.
 * Names come from a pool (popular names more often); OUT.rules (OUT.pcap with the extension
 * replaced, or OUT + ".rules") gets ~10% of the pool's names, --unrelated other names, 1000 URL
 * entries and 1000 CIDRs, as a plain list. Prints "packets N flows N bytes N ...". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pcapw.h"

#define MAX_ACTIVE 2000
#define MSS        1448

enum kind { K_TLS, K_HTTP, K_QUIC };

struct gflow {
    enum kind kind;
    int st;
    struct pcapw_conv c;
    uint32_t data_left, since_ack;
    uint8_t req[4096];
    size_t req_len, req_sent;
    uint64_t resp_sent;
};

static uint64_t g_rng;
static uint64_t g_now = 1700000000000000ULL;
static struct pcapw *g_w;
static uint8_t g_junk[65536];
static char **g_names;
static size_t g_nnames;

static uint64_t rnd(void)
{
    return pcapw_rand(&g_rng);
}

static double unif(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static const char *const syl[] = { "ka",  "lo",  "mi",  "net",  "ru",   "tel", "zo",  "ba",
                                   "cdn", "api", "img", "vid",  "st",   "ex",  "qu",  "or",
                                   "an",  "ri",  "po",  "de",   "mar",  "sun", "kit", "nova",
                                   "bel", "tor", "ya",  "shop", "news", "go" };
static const char *const tld[] = {
    "com", "net", "org", "ru", "kz", "io", "info", "tv", "me", "app"
};
static const char *const sub[] = { "www.", "cdn.", "api.", "m.", "static.", "img." };

/* A name of 2-4 syllables, optional subdomain, a TLD; suffix "-N" when n >= 0. */
static void make_name(char *out, size_t cap, long n)
{
    size_t o = 0;
    if (rnd() % 10 < 4)
        o += (size_t)snprintf(out + o, cap - o, "%s", sub[rnd() % (sizeof(sub) / sizeof(sub[0]))]);
    unsigned k = 2 + (unsigned)(rnd() % 3);
    for (unsigned i = 0; i < k; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s", syl[rnd() % (sizeof(syl) / sizeof(syl[0]))]);
    if (n >= 0)
        o += (size_t)snprintf(out + o, cap - o, "-%ld", n);
    snprintf(out + o, cap - o, ".%s", tld[rnd() % (sizeof(tld) / sizeof(tld[0]))]);
}

static void addr_for(uint8_t ipver, bool server, uint64_t h, char *out, size_t cap)
{
    if (ipver == 4) {
        if (server)
            snprintf(out, cap, "198.%u.%u.%u", 18 + (unsigned)(h >> 16 & 1),
                     (unsigned)(h >> 8 & 0xff), 1 + (unsigned)(h % 254));
        else
            snprintf(out, cap, "100.%u.%u.%u", 64 + (unsigned)(h >> 16 & 63),
                     (unsigned)(h >> 8 & 0xff), 1 + (unsigned)(h % 254));
    } else {
        snprintf(out, cap, "2001:db8:%s:%x::%x", server ? "1" : "ff", (unsigned)(h >> 16 & 0xffff),
                 1 + (unsigned)(h & 0xfffe));
    }
}

static int start_flow(struct gflow *f, double avg_pkts)
{
    double r = unif();
    f->kind = r < 0.70 ? K_TLS : r < 0.90 ? K_HTTP : K_QUIC;
    f->st = 0;
    f->since_ack = 0;
    f->req_sent = 0;
    f->resp_sent = 0;
    uint8_t ipver = rnd() % 100 < 15 ? 6 : 4;
    double u = unif();
    size_t ni = (size_t)((double)g_nnames * u * u);
    if (ni >= g_nnames)
        ni = g_nnames - 1;
    const char *name = g_names[ni];
    uint64_t sh = ni * 0x9E3779B97F4A7C15ULL;
    char cli[64], srv[64];
    addr_for(ipver, false, rnd(), cli, sizeof(cli));
    addr_for(ipver, true, sh >> 20, srv, sizeof(srv));
    uint16_t sport = f->kind == K_HTTP ? 80 : 443;
    int rc = pcapw_conv_init(&f->c, g_w, g_now, cli, (uint16_t)(1024 + rnd() % 64000), srv, sport);
    if (rc)
        return rc;
    f->c.cisn = (uint32_t)rnd();
    f->c.sisn = (uint32_t)rnd();
    f->c.cnext = f->c.cisn;
    f->c.snext = f->c.sisn;
    f->c.ts_opt = true;
    f->c.ttl_srv = (uint8_t)(40 + rnd() % 20);
    f->c.tsval = (uint32_t)rnd();

    /* packet budget around the average, uniform in [0.25, 1.75] x avg */
    double n = avg_pkts * (0.25 + 1.5 * unif());
    if (f->kind == K_QUIC) {
        f->data_left = n < 2 ? 2 : (uint32_t)n;
        return 0;
    }
    if (f->kind == K_TLS) {
        struct pcapw_hello h = { 0 };
        h.sni = name;
        h.alpn = "h2,http/1.1";
        h.grease = true;
        h.seed = (uint32_t)rnd();
        if (rnd() & 1)
            h.pq_keyshare = 1216;
        else
            h.pad_to = 512;
        f->req_len = pcapw_tls_hello(&h, f->req, sizeof(f->req), NULL);
    } else {
        int len = snprintf(
            (char *)f->req, sizeof(f->req),
            "GET /%s/%08" PRIx64 "?v=%u HTTP/1.1\r\nHost: %s\r\n"
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            "Accept-Language: ru-RU,ru;q=0.8,en-US;q=0.5,en;q=0.3\r\n"
            "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
            "Upgrade-Insecure-Requests: 1\r\n\r\n",
            syl[rnd() % (sizeof(syl) / sizeof(syl[0]))], rnd(), (unsigned)(rnd() % 100), name);
        f->req_len = len > 0 && (size_t)len < sizeof(f->req) ? (size_t)len : 0;
    }
    if (!f->req_len)
        return -EINVAL;
    /* 3 handshake + request segments + 3 close, then data with an ACK every second segment */
    double over = 6.0 + (double)((f->req_len + MSS - 1) / MSS);
    double d = (n - over) * 2.0 / 3.0 + 0.5;
    f->data_left = d < 1 ? 1 : (uint32_t)d;
    return 0;
}

static int quic_step(struct gflow *f)
{
    struct pcapw_pkt p;
    uint8_t buf[1400];
    bool first = f->st == 0;
    bool from_client = first || rnd() % 3 == 0;
    pcapw_conv_pkt(&f->c, from_client, &p);
    p.proto = 17;
    p.has_ts = false;
    size_t n;
    if (first) {
        n = 1252;
        memcpy(buf, g_junk + rnd() % 60000, n);
        buf[0] = 0xc3;
        buf[1] = 0;
        buf[2] = 0;
        buf[3] = 0;
        buf[4] = 1;
        buf[5] = 8;
    } else {
        n = from_client ? 40 + rnd() % 80 : 1200 + rnd() % 150;
        memcpy(buf, g_junk + rnd() % 60000, n);
        buf[0] = (uint8_t)(0x40 | (buf[0] & 0x3f));
    }
    p.payload = buf;
    p.payload_len = n;
    f->st = 1;
    f->data_left--;
    f->c.ts = g_now;
    return pcapw_conv_send(&f->c, &p);
}

/* Writes the flow's next packet. Returns 1 when the flow is finished, 0, or a negative errno. */
static int tcp_step(struct gflow *f)
{
    struct pcapw_pkt p;
    struct pcapw_conv *c = &f->c;
    c->ts = g_now;
    switch (f->st) {
    case 0:
    case 1:
        pcapw_conv_pkt(c, f->st == 0, &p);
        p.flags = f->st == 0 ? PCAPW_SYN : PCAPW_SYN | PCAPW_ACK;
        if (f->st == 0)
            p.ack = 0;
        p.mss = 1460;
        p.sack_perm = true;
        p.has_wscale = true;
        p.wscale = 7;
        f->st++;
        return pcapw_conv_send(c, &p);
    case 2: f->st++; return pcapw_conv_ack(c, true);
    case 3: {
        size_t n = f->req_len - f->req_sent;
        if (n > MSS)
            n = MSS;
        int rc = pcapw_conv_client_data(c, (uint32_t)f->req_sent, f->req + f->req_sent, n);
        f->req_sent += n;
        if (f->req_sent == f->req_len)
            f->st++;
        return rc;
    }
    case 4:
        if (f->data_left == 0) {
            f->st++;
            return tcp_step(f);
        }
        if (f->since_ack >= 2) {
            f->since_ack = 0;
            return pcapw_conv_ack(c, true);
        } else {
            static uint8_t seg[MSS];
            size_t n = f->data_left == 1 ? 100 + rnd() % (MSS - 100) : MSS;
            memcpy(seg, g_junk + rnd() % 60000, n);
            if (f->resp_sent == 0) {
                if (f->kind == K_HTTP) {
                    static const char hdr[] =
                        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
                    memcpy(seg, hdr, sizeof(hdr) - 1);
                } else {
                    seg[0] = 22;
                    seg[1] = 3;
                    seg[2] = 3;
                }
            } else if (f->kind == K_TLS) {
                seg[0] = 23;
                seg[1] = 3;
                seg[2] = 3;
            }
            f->data_left--;
            f->since_ack++;
            int rc = pcapw_conv_server_data(c, (uint32_t)f->resp_sent, seg, n);
            f->resp_sent += n;
            return rc;
        }
    case 5:
    case 6:
        pcapw_conv_pkt(c, f->st == 5, &p);
        p.flags = PCAPW_FIN | PCAPW_ACK;
        f->st++;
        return pcapw_conv_send(c, &p);
    default: {
        int rc = pcapw_conv_ack(c, true);
        return rc ? rc : 1;
    }
    }
}

static int step(struct gflow *f)
{
    if (f->kind == K_QUIC) {
        int rc = quic_step(f);
        return rc ? rc : f->data_left == 0;
    }
    return tcp_step(f);
}

static unsigned long parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0') {
        fprintf(stderr, "genpcap: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static int write_rules(const char *path, unsigned long unrelated)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "genpcap: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char name[256];
    size_t n = 0;
    fprintf(f, "# genpcap benchmark blocklist\n");
    for (size_t i = 0; i < g_nnames; i++)
        if (((i * 0x9E3779B97F4A7C15ULL) >> 32) % 10 == 0) {
            fprintf(f, "%s\n", g_names[i]);
            n++;
        }
    for (unsigned long i = 0; i < unrelated; i++) {
        make_name(name, sizeof(name), (long)i);
        fprintf(f, "%s\n", name);
    }
    for (unsigned i = 0; i < 1000; i++) {
        make_name(name, sizeof(name), (long)(unrelated + i));
        fprintf(f, "http://%s/%s/%u/*\n", name, syl[i % (sizeof(syl) / sizeof(syl[0]))], i);
    }
    for (unsigned i = 0; i < 1000; i++)
        fprintf(f, "%u.%u.%u.0/24\n", 45 + i % 20, (unsigned)(rnd() & 0xff),
                (unsigned)(rnd() & 0xff));
    if (fclose(f) != 0) {
        fprintf(stderr, "genpcap: %s: %s\n", path, strerror(errno));
        return -1;
    }
    printf("rules %s: %zu flow names, %lu unrelated names, 1000 urls, 1000 cidrs\n", path, n,
           unrelated);
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    unsigned long packets = 1000000, flows = 60000, seed = 1, names = 0, unrelated = 100000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--packets") == 0)
            packets = parse_num(argv[++i], "--packets");
        else if (i + 1 < argc && strcmp(a, "--flows") == 0)
            flows = parse_num(argv[++i], "--flows");
        else if (i + 1 < argc && strcmp(a, "--seed") == 0)
            seed = parse_num(argv[++i], "--seed");
        else if (i + 1 < argc && strcmp(a, "--names") == 0)
            names = parse_num(argv[++i], "--names");
        else if (i + 1 < argc && strcmp(a, "--unrelated") == 0)
            unrelated = parse_num(argv[++i], "--unrelated");
        else if (a[0] != '-' && !out)
            out = a;
        else {
            fprintf(stderr,
                    "usage: genpcap OUT.pcap [--packets N] [--flows N] [--seed N] [--names N] "
                    "[--unrelated N]\n");
            return 2;
        }
    }
    if (!out || packets == 0 || flows == 0) {
        fprintf(stderr, "usage: genpcap OUT.pcap [--packets N] [--flows N] [--seed N]\n");
        return 2;
    }
    g_rng = (seed + 1) * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < sizeof(g_junk); i++)
        g_junk[i] = (uint8_t)rnd();
    g_nnames = names ? names : (flows / 4 > 1000 ? flows / 4 : 1000);
    g_names = calloc(g_nnames, sizeof(*g_names));
    if (!g_names)
        return 1;
    for (size_t i = 0; i < g_nnames; i++) {
        char nm[256];
        make_name(nm, sizeof(nm), -1);
        g_names[i] = strdup(nm);
        if (!g_names[i])
            return 1;
    }

    char rules[4096];
    snprintf(rules, sizeof(rules), "%s", out);
    char *dot = strrchr(rules, '.');
    char *slash = strrchr(rules, '/');
    if (dot && (!slash || dot > slash) && strcmp(dot, ".pcap") == 0)
        *dot = '\0';
    size_t rl = strlen(rules);
    snprintf(rules + rl, sizeof(rules) - rl, ".rules");
    if (write_rules(rules, unrelated) != 0)
        return 1;

    g_w = pcapw_open(out);
    if (!g_w) {
        fprintf(stderr, "genpcap: %s: %s\n", out, strerror(errno));
        return 1;
    }
    static struct gflow active[MAX_ACTIVE];
    size_t nact = 0;
    unsigned long started = 0, nk[3] = { 0, 0, 0 };
    double avg = (double)packets / (double)flows;
    int rc = 0;
    while (pcapw_packets(g_w) < packets) {
        while (nact < MAX_ACTIVE && started < flows) {
            rc = start_flow(&active[nact], avg);
            if (rc)
                goto out;
            nk[active[nact].kind]++;
            nact++;
            started++;
        }
        if (nact == 0)
            break;
        size_t i = (size_t)(rnd() % nact);
        rc = step(&active[i]);
        if (rc < 0)
            goto out;
        if (rc == 1)
            active[i] = active[--nact];
        rc = 0;
        g_now += 1 + rnd() % 16;
    }
out:
    if (rc)
        fprintf(stderr, "genpcap: writing %s failed: %s\n", out, strerror(-rc));
    uint64_t np = pcapw_packets(g_w), nb = pcapw_bytes(g_w);
    int crc = pcapw_close(g_w);
    if (crc && !rc) {
        fprintf(stderr, "genpcap: %s: %s\n", out, strerror(-crc));
        rc = crc;
    }
    printf("packets %" PRIu64 " flows %lu bytes %" PRIu64 " (tls %lu, http %lu, quic %lu flows)\n",
           np, started, nb, nk[K_TLS], nk[K_HTTP], nk[K_QUIC]);
    return rc ? 1 : 0;
}
