/* pcapw.c - pcap writer and packet crafter for tests and tools (libc only).
 *
 * pcap file (little-endian, written byte by byte):
 *   global header: magic a1b2c3d4 | ver 2.4 | thiszone 0 | sigfigs 0 | snaplen | linktype 1
 *   per record:    ts_sec u32 | ts_usec u32 | incl_len u32 | orig_len u32 | frame
 *
 * Frame: Ethernet dst(6) src(6) type(2)
 *   IPv4:  ver/ihl | tos | total len | id | flags/frag off | ttl | proto | csum | src | dst | opts
 *   IPv6:  ver/tc/flow | payload len | next | hop limit | src(16) | dst(16) | ext headers...
 *          fragment header: next | 0 | offset<<3 | M | identification(32)
 *   TCP:   sport | dport | seq | ack | off/flags | win | csum | urg | options
 *   UDP:   sport | dport | len | csum
 */
#include "tests/lib/pcapw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pcapw {
    FILE *f;
    char *vbuf; /* 1 MiB stdio buffer: generators write hundreds of MB */
    uint64_t packets, bytes;
    int err;
    pcapw_wrap_fn wrap; /* rewrites each frame before it is written, or NULL */
    void *wrap_ctx;
    uint8_t *wbuf; /* PCAPW_WRAP_MAX bytes, allocated by pcapw_set_wrap() */
};

static void put16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

struct pcapw *pcapw_open(const char *path)
{
    struct pcapw *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->f = fopen(path, "wb");
    if (!w->f) {
        int e = errno;
        free(w);
        errno = e;
        return NULL;
    }
    w->vbuf = malloc(1u << 20);
    if (w->vbuf)
        setvbuf(w->f, w->vbuf, _IOFBF, 1u << 20);
    uint8_t h[24];
    put32le(h, 0xa1b2c3d4u);
    put16le(h + 4, 2);
    put16le(h + 6, 4);
    put32le(h + 8, 0);
    put32le(h + 12, 0);
    put32le(h + 16, 65535);
    put32le(h + 20, 1);
    if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h)) {
        int e = errno ? errno : EIO;
        fclose(w->f);
        free(w->vbuf);
        free(w);
        errno = e;
        return NULL;
    }
    return w;
}

int pcapw_set_wrap(struct pcapw *w, pcapw_wrap_fn fn, void *ctx)
{
    if (fn && !w->wbuf) {
        w->wbuf = malloc(PCAPW_WRAP_MAX);
        if (!w->wbuf)
            return -ENOMEM;
    }
    w->wrap = fn;
    w->wrap_ctx = ctx;
    return 0;
}

int pcapw_write(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, size_t len)
{
    if (w->wrap) {
        len = w->wrap(w->wrap_ctx, frame, len, w->wbuf, PCAPW_WRAP_MAX);
        if (len == 0)
            return -EINVAL;
        frame = w->wbuf;
    }
    if (len > 65535)
        return -EINVAL;
    uint8_t h[16];
    put32le(h, (uint32_t)(ts_us / 1000000u));
    put32le(h + 4, (uint32_t)(ts_us % 1000000u));
    put32le(h + 8, (uint32_t)len);
    put32le(h + 12, (uint32_t)len);
    if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h) || fwrite(frame, 1, len, w->f) != len) {
        w->err = EIO;
        return -EIO;
    }
    w->packets++;
    w->bytes += len;
    return 0;
}

int pcapw_close(struct pcapw *w)
{
    if (!w)
        return 0;
    int rc = w->err ? -w->err : 0;
    if (fclose(w->f) != 0 && rc == 0)
        rc = -(errno ? errno : EIO);
    free(w->vbuf);
    free(w->wbuf);
    free(w);
    return rc;
}

uint64_t pcapw_packets(const struct pcapw *w)
{
    return w->packets;
}

uint64_t pcapw_bytes(const struct pcapw *w)
{
    return w->bytes;
}

/* ---- crafting ---- */

void pcapw_pkt_init(struct pcapw_pkt *p)
{
    memset(p, 0, sizeof(*p));
    p->ipver = 4;
    p->ttl = 64;
    p->proto = 6;
    p->win = 64240;
    p->flags = PCAPW_ACK;
}

int pcapw_addr(const char *text, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1)
        return 4;
    if (inet_pton(AF_INET6, text, addr) == 1)
        return 6;
    return 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (i < n)
        sum += (uint32_t)(p[i] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* TCP options as Linux orders them in a SYN, then MD5; padded with NOP to a multiple of 4. */
static size_t tcp_opts(const struct pcapw_pkt *p, uint8_t *o)
{
    size_t n = 0;
    if (p->mss) {
        o[n++] = 2;
        o[n++] = 4;
        put16(o + n, p->mss);
        n += 2;
    }
    if (p->sack_perm) {
        o[n++] = 4;
        o[n++] = 2;
    }
    if (p->has_ts) {
        o[n++] = 8;
        o[n++] = 10;
        put32(o + n, p->tsval);
        put32(o + n + 4, p->tsecr);
        n += 8;
    }
    if (p->has_wscale) {
        o[n++] = 3;
        o[n++] = 3;
        o[n++] = p->wscale;
    }
    if (p->tfo_cookie_len >= 4 && p->tfo_cookie_len <= 16) {
        o[n++] = 34;
        o[n++] = (uint8_t)(2 + p->tfo_cookie_len);
        for (int i = 0; i < p->tfo_cookie_len; i++)
            o[n++] = (uint8_t)(0x3c + i);
    }
    if (p->md5) {
        o[n++] = 19;
        o[n++] = 18;
        for (int i = 0; i < 16; i++)
            o[n++] = (uint8_t)(0xa5 ^ i);
    }
    while (n % 4)
        o[n++] = 1;
    return n;
}

/* L4 header + payload into out; checksum over the pseudo header. Returns length or 0. */
static size_t build_l4(const struct pcapw_pkt *p, uint8_t *out, size_t cap)
{
    uint8_t opts[64];
    size_t hl;
    if (p->proto == 6) {
        size_t ol = tcp_opts(p, opts);
        if (ol > 40)
            return 0;
        hl = 20 + ol;
    } else if (p->proto == 17) {
        hl = 8;
    } else {
        return 0;
    }
    size_t len = hl + p->payload_len;
    if (len > cap || len > 65535)
        return 0;
    put16(out, p->sport);
    put16(out + 2, p->dport);
    if (p->proto == 6) {
        put32(out + 4, p->seq);
        put32(out + 8, p->ack);
        out[12] = (uint8_t)((hl / 4) << 4);
        out[13] = p->flags;
        put16(out + 14, p->win);
        put16(out + 16, 0);
        put16(out + 18, p->urg);
        memcpy(out + 20, opts, hl - 20);
    } else {
        put16(out + 4, (uint16_t)len);
        put16(out + 6, 0);
    }
    if (p->payload_len)
        memcpy(out + hl, p->payload, p->payload_len);

    uint32_t sum = 0;
    uint8_t ph[8];
    if (p->ipver == 4) {
        sum = csum_add(sum, p->src, 4);
        sum = csum_add(sum, p->dst, 4);
        ph[0] = 0;
        ph[1] = p->proto;
        put16(ph + 2, (uint16_t)len);
        sum = csum_add(sum, ph, 4);
    } else {
        sum = csum_add(sum, p->src, 16);
        sum = csum_add(sum, p->dst, 16);
        put32(ph, (uint32_t)len);
        ph[4] = ph[5] = ph[6] = 0;
        ph[7] = p->proto;
        sum = csum_add(sum, ph, 8);
    }
    sum = csum_add(sum, out, len);
    uint16_t c = csum_fold(sum);
    if (p->proto == 17 && c == 0)
        c = 0xffff;
    if (p->bad_l4_csum)
        c = (uint16_t)(c + 1);
    put16(out + (p->proto == 6 ? 16 : 6), c);
    return len;
}

static void put_eth(uint8_t *out, int ipver)
{
    static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02 };
    memcpy(out, macs, 12);
    put16(out + 12, ipver == 4 ? 0x0800 : 0x86dd);
}

/* IPv4 header (with options) for a datagram of l3_payload bytes. Returns header length or 0. */
static size_t put_ip4(const struct pcapw_pkt *p, uint8_t *out, size_t l3_payload,
                      uint16_t frag_field)
{
    size_t ol = (p->ip_opts_len + 3) & ~(size_t)3;
    if (ol > 40)
        return 0;
    size_t hl = 20 + ol;
    out[0] = (uint8_t)(0x40 | (hl / 4));
    out[1] = 0;
    put16(out + 2, (uint16_t)(hl + l3_payload));
    put16(out + 4, (uint16_t)p->ip_id);
    put16(out + 6, frag_field);
    out[8] = p->ttl;
    out[9] = p->proto;
    put16(out + 10, 0);
    memcpy(out + 12, p->src, 4);
    memcpy(out + 16, p->dst, 4);
    memset(out + 20, 0, ol);
    if (p->ip_opts_len)
        memcpy(out + 20, p->ip_opts, p->ip_opts_len);
    uint16_t c = csum_fold(csum_add(0, out, hl));
    if (p->bad_ip_csum)
        c = (uint16_t)(c + 1);
    put16(out + 10, c);
    return hl;
}

/* IPv6 header + the listed extension headers; the last next-header is last_next.
 * Returns the length written (40 + 8 per extension). */
static size_t put_ip6(const struct pcapw_pkt *p, uint8_t *out, size_t after_len, uint8_t last_next)
{
    size_t ext = 8 * p->n_v6_ext;
    put32(out, 0x60000000u);
    put16(out + 4, (uint16_t)(ext + after_len));
    out[6] = p->n_v6_ext ? p->v6_ext[0] : last_next;
    out[7] = p->ttl;
    memcpy(out + 8, p->src, 16);
    memcpy(out + 24, p->dst, 16);
    uint8_t *e = out + 40;
    for (size_t i = 0; i < p->n_v6_ext; i++, e += 8) {
        e[0] = i + 1 < p->n_v6_ext ? p->v6_ext[i + 1] : last_next;
        e[1] = 0;
        e[2] = 1; /* PadN */
        e[3] = 4;
        memset(e + 4, 0, 4);
    }
    return 40 + ext;
}

size_t pcapw_build(const struct pcapw_pkt *p, uint8_t *out, size_t cap)
{
    if ((p->ipver != 4 && p->ipver != 6) || p->n_v6_ext > PCAPW_MAX_EXT ||
        cap < 14 + 40 + 8 * PCAPW_MAX_EXT)
        return 0;
    size_t l3hdr = p->ipver == 4 ? 60 : 40 + 8 * p->n_v6_ext;
    size_t l4 = build_l4(p, out + 14 + l3hdr, cap - 14 - l3hdr);
    if (!l4)
        return 0;
    uint8_t hdr[80];
    size_t hl;
    if (p->ipver == 4)
        hl = put_ip4(p, hdr, l4, p->df ? 0x4000 : 0);
    else
        hl = put_ip6(p, hdr, l4, p->proto);
    if (!hl)
        return 0;
    memmove(out + 14 + hl, out + 14 + l3hdr, l4);
    put_eth(out, p->ipver);
    memcpy(out + 14, hdr, hl);
    return 14 + hl + l4;
}

int pcapw_put(struct pcapw *w, uint64_t ts_us, const struct pcapw_pkt *p)
{
    static uint8_t frame[PCAPW_FRAME_MAX];
    size_t n = pcapw_build(p, frame, sizeof(frame));
    if (!n)
        return -EINVAL;
    return pcapw_write(w, ts_us, frame, n);
}

int pcapw_put_udp(struct pcapw *w, uint64_t ts_us, const char *src, uint16_t sport, const char *dst,
                  uint16_t dport, const uint8_t *payload, size_t len)
{
    struct pcapw_pkt p;
    pcapw_pkt_init(&p);
    p.proto = 17;
    pcapw_addr(src, p.src);
    pcapw_addr(dst, p.dst);
    p.sport = sport;
    p.dport = dport;
    p.payload = payload;
    p.payload_len = len;
    return pcapw_put(w, ts_us, &p);
}

int pcapw_put_frags(struct pcapw *w, uint64_t ts_us, const struct pcapw_pkt *p, const size_t *offs,
                    size_t n_offs, const size_t *order)
{
    static uint8_t l4[65536];
    static uint8_t frame[PCAPW_FRAME_MAX];
    if ((p->ipver != 4 && p->ipver != 6) || n_offs > 64)
        return -EINVAL;
    size_t len = build_l4(p, l4, sizeof(l4));
    if (!len)
        return -EINVAL;
    size_t nf = n_offs + 1;
    for (size_t i = 0; i < n_offs; i++)
        if (offs[i] % 8 || offs[i] == 0 || offs[i] >= len || (i && offs[i] <= offs[i - 1]))
            return -EINVAL;
    for (size_t k = 0; k < nf; k++) {
        size_t i = order ? order[k] : k;
        if (i >= nf)
            return -EINVAL;
        size_t start = i ? offs[i - 1] : 0;
        size_t end = i < n_offs ? offs[i] : len;
        bool more = i < n_offs;
        size_t n = end - start, hl;
        if (p->ipver == 4) {
            uint16_t ff = (uint16_t)((start / 8) | (more ? 0x2000u : 0u));
            hl = put_ip4(p, frame + 14, n, ff);
            if (!hl)
                return -EINVAL;
        } else {
            hl = put_ip6(p, frame + 14, 8 + n, 44);
            uint8_t *fh = frame + 14 + hl;
            fh[0] = p->proto;
            fh[1] = 0;
            put16(fh + 2, (uint16_t)(start | (more ? 1u : 0u)));
            put32(fh + 4, p->ip_id);
            hl += 8;
        }
        put_eth(frame, p->ipver);
        memcpy(frame + 14 + hl, l4 + start, n);
        int rc = pcapw_write(w, ts_us + 10 * k, frame, 14 + hl + n);
        if (rc)
            return rc;
    }
    return 0;
}

int pcapw_frag_flood(struct pcapw *w, uint64_t *ts_us, unsigned n)
{
    static const uint8_t junk[200];
    static const size_t offs[] = { 64 }, first[] = { 0, 0 }; /* fragment 0 twice, never 1 */
    for (unsigned i = 0; i < n; i++) {
        struct pcapw_pkt q;
        pcapw_pkt_init(&q);
        q.proto = 17;
        pcapw_addr("198.51.100.9", q.src);
        pcapw_addr("10.0.0.2", q.dst);
        q.sport = (uint16_t)(30000 + i);
        q.dport = 53;
        q.ip_id = 100 + i;
        q.payload = junk;
        q.payload_len = sizeof(junk);
        int rc = pcapw_put_frags(w, *ts_us, &q, offs, 1, first);
        if (rc < 0)
            return rc;
        *ts_us += 1000;
    }
    return 0;
}

/* ---- conversation ---- */

int pcapw_conv_init(struct pcapw_conv *c, struct pcapw *w, uint64_t ts_us, const char *cli,
                    uint16_t cport, const char *srv, uint16_t sport)
{
    memset(c, 0, sizeof(*c));
    int v1 = pcapw_addr(cli, c->cli), v2 = pcapw_addr(srv, c->srv);
    if (!v1 || v1 != v2)
        return -EINVAL;
    c->w = w;
    c->ts = ts_us;
    c->step = 1000;
    c->ipver = (uint8_t)v1;
    c->cport = cport;
    c->sport = sport;
    c->cisn = 0x10000000u;
    c->sisn = 0x20000000u;
    c->cnext = c->cisn;
    c->snext = c->sisn;
    c->tsval = 100000;
    c->ttl_cli = 64;
    c->ttl_srv = 57;
    return 0;
}

void pcapw_conv_pkt(const struct pcapw_conv *c, bool from_client, struct pcapw_pkt *p)
{
    pcapw_pkt_init(p);
    p->ipver = c->ipver;
    memcpy(p->src, from_client ? c->cli : c->srv, 16);
    memcpy(p->dst, from_client ? c->srv : c->cli, 16);
    p->sport = from_client ? c->cport : c->sport;
    p->dport = from_client ? c->sport : c->cport;
    p->seq = from_client ? c->cnext : c->snext;
    p->ack = from_client ? c->snext : c->cnext;
    p->ttl = from_client ? c->ttl_cli : c->ttl_srv;
    p->ip_id = (uint32_t)(c->ts / 1000u) & 0xffffu;
    if (c->ts_opt) {
        p->has_ts = true;
        p->tsval = c->tsval;
        p->tsecr = c->tsval > 10 ? c->tsval - 10 : 0;
    }
}

int pcapw_conv_send(struct pcapw_conv *c, const struct pcapw_pkt *p)
{
    int rc = pcapw_put(c->w, c->ts, p);
    if (rc)
        return rc;
    c->ts += c->step;
    c->tsval++;
    bool from_client = p->sport == c->cport && memcmp(p->src, c->cli, 16) == 0;
    uint32_t end = p->seq + (uint32_t)p->payload_len + ((p->flags & PCAPW_SYN) ? 1u : 0u) +
                   ((p->flags & PCAPW_FIN) ? 1u : 0u);
    uint32_t *next = from_client ? &c->cnext : &c->snext;
    if ((int32_t)(end - *next) > 0)
        *next = end;
    return 0;
}

int pcapw_conv_handshake(struct pcapw_conv *c)
{
    struct pcapw_pkt p;
    c->cnext = c->cisn;
    c->snext = c->sisn;
    pcapw_conv_pkt(c, true, &p);
    p.flags = PCAPW_SYN;
    p.ack = 0;
    p.mss = 1460;
    p.sack_perm = true;
    p.has_wscale = true;
    p.wscale = 7;
    p.tsecr = 0;
    int rc = pcapw_conv_send(c, &p);
    if (rc)
        return rc;
    pcapw_conv_pkt(c, false, &p);
    p.flags = PCAPW_SYN | PCAPW_ACK;
    p.mss = 1460;
    p.sack_perm = true;
    p.has_wscale = true;
    p.wscale = 7;
    rc = pcapw_conv_send(c, &p);
    if (rc)
        return rc;
    return pcapw_conv_ack(c, true);
}

int pcapw_conv_client_data(struct pcapw_conv *c, uint32_t off, const uint8_t *d, size_t n)
{
    struct pcapw_pkt p;
    pcapw_conv_pkt(c, true, &p);
    p.seq = c->cisn + 1 + off;
    p.flags = PCAPW_PSH | PCAPW_ACK;
    p.payload = d;
    p.payload_len = n;
    return pcapw_conv_send(c, &p);
}

int pcapw_conv_server_data(struct pcapw_conv *c, uint32_t off, const uint8_t *d, size_t n)
{
    struct pcapw_pkt p;
    pcapw_conv_pkt(c, false, &p);
    p.seq = c->sisn + 1 + off;
    p.flags = PCAPW_PSH | PCAPW_ACK;
    p.payload = d;
    p.payload_len = n;
    return pcapw_conv_send(c, &p);
}

int pcapw_conv_ack(struct pcapw_conv *c, bool from_client)
{
    struct pcapw_pkt p;
    pcapw_conv_pkt(c, from_client, &p);
    return pcapw_conv_send(c, &p);
}

int pcapw_conv_close(struct pcapw_conv *c)
{
    struct pcapw_pkt p;
    pcapw_conv_pkt(c, true, &p);
    p.flags = PCAPW_FIN | PCAPW_ACK;
    int rc = pcapw_conv_send(c, &p);
    if (rc)
        return rc;
    pcapw_conv_pkt(c, false, &p);
    p.flags = PCAPW_FIN | PCAPW_ACK;
    rc = pcapw_conv_send(c, &p);
    if (rc)
        return rc;
    return pcapw_conv_ack(c, true);
}

/* ---- content ---- */

uint64_t pcapw_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

struct buf {
    uint8_t *p;
    size_t len, cap;
    bool err;
};

static void b_bytes(struct buf *b, const void *d, size_t n)
{
    if (b->err || n > b->cap - b->len) {
        b->err = true;
        return;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void b_u8(struct buf *b, uint8_t v)
{
    b_bytes(b, &v, 1);
}

static void b_u16(struct buf *b, uint16_t v)
{
    uint8_t t[2];
    put16(t, v);
    b_bytes(b, t, 2);
}

static void b_fill(struct buf *b, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n && !b->err; i++)
        b_u8(b, (uint8_t)pcapw_rand(rng));
}

/* Starts a length-prefixed block of width w (2 or 3); returns the length field position. */
static size_t b_open(struct buf *b, int w)
{
    size_t at = b->len;
    for (int i = 0; i < w; i++)
        b_u8(b, 0);
    return at;
}

static void b_close(struct buf *b, size_t at, int w)
{
    if (b->err)
        return;
    size_t n = b->len - at - (size_t)w;
    if (w == 2)
        put16(b->p + at, (uint16_t)n);
    else
        put24(b->p + at, (uint32_t)n);
}

static void ext_sni(struct buf *b, const char *sni, size_t *name_at)
{
    size_t n = strlen(sni);
    b_u16(b, 0);
    b_u16(b, (uint16_t)(n + 5));
    b_u16(b, (uint16_t)(n + 3));
    b_u8(b, 0);
    b_u16(b, (uint16_t)n);
    *name_at = b->len;
    b_bytes(b, sni, n);
}

size_t pcapw_tls_hello(const struct pcapw_hello *h, uint8_t *out, size_t cap, size_t *sni_off)
{
    static uint8_t msg[65536];
    struct buf b = { msg, 0, sizeof(msg), false };
    uint64_t rng = 0x9e3779b97f4a7c15ULL ^ h->seed;
    size_t name_at = 0;
    if (sni_off)
        *sni_off = 0;

    b_u8(&b, 1); /* client_hello */
    size_t body = b_open(&b, 3);
    b_u16(&b, h->hello_version ? h->hello_version : 0x0303);
    b_fill(&b, 32, &rng);
    b_u8(&b, 32);
    b_fill(&b, 32, &rng);
    static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c,
                                       0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c };
    b_u16(&b, (uint16_t)(2 * (sizeof(suites) / sizeof(suites[0]) + (h->grease ? 1 : 0))));
    if (h->grease)
        b_u16(&b, 0x2a2a);
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        b_u16(&b, suites[i]);
    b_u8(&b, 1);
    b_u8(&b, 0);
    size_t exts = b_open(&b, 2);

    if (h->grease) {
        b_u16(&b, 0x0a0a);
        b_u16(&b, 0);
    }
    if (h->sni && !h->sni_last)
        ext_sni(&b, h->sni, &name_at);
    /* extended_master_secret, renegotiation_info, supported_groups, ec_point_formats */
    static const uint8_t fixed[] = { 0x00, 0x17, 0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00,
                                     0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x1d, 0x00,
                                     0x17, 0x00, 0x18, 0x11, 0xec, 0x00, 0x0b, 0x00, 0x02,
                                     0x01, 0x00, 0x00, 0x23, 0x00, 0x00 };
    b_bytes(&b, fixed, sizeof(fixed));
    if (h->alpn) {
        b_u16(&b, 16);
        size_t el = b_open(&b, 2);
        size_t ll = b_open(&b, 2);
        const char *s = h->alpn;
        while (*s) {
            const char *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            b_u8(&b, (uint8_t)n);
            b_bytes(&b, s, n);
            s += n;
            if (*s == ',')
                s++;
        }
        b_close(&b, ll, 2);
        b_close(&b, el, 2);
    }
    /* signature_algorithms */
    static const uint8_t sigalgs[] = { 0x00, 0x0d, 0x00, 0x12, 0x00, 0x10, 0x04, 0x03,
                                       0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05,
                                       0x05, 0x01, 0x08, 0x06, 0x06, 0x01 };
    b_bytes(&b, sigalgs, sizeof(sigalgs));
    /* supported_versions: TLS 1.3, 1.2 */
    static const uint8_t vers[] = { 0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03 };
    b_bytes(&b, vers, sizeof(vers));
    /* psk_key_exchange_modes */
    static const uint8_t pskm[] = { 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01 };
    b_bytes(&b, pskm, sizeof(pskm));
    /* key_share */
    b_u16(&b, 51);
    size_t ks = b_open(&b, 2);
    size_t ksl = b_open(&b, 2);
    if (h->pq_keyshare) {
        b_u16(&b, 0x11ec);
        b_u16(&b, (uint16_t)h->pq_keyshare);
        b_fill(&b, h->pq_keyshare, &rng);
    }
    b_u16(&b, 0x001d);
    b_u16(&b, 32);
    b_fill(&b, 32, &rng);
    b_close(&b, ksl, 2);
    b_close(&b, ks, 2);
    if (h->ech) {
        /* outer ECH: type 0, kdf 1, aead 1, config id, enc (32), payload (208) */
        b_u16(&b, 0xfe0d);
        size_t el = b_open(&b, 2);
        b_u8(&b, 0);
        b_u16(&b, 1);
        b_u16(&b, 1);
        b_u8(&b, (uint8_t)pcapw_rand(&rng));
        b_u16(&b, 32);
        b_fill(&b, 32, &rng);
        b_u16(&b, 208);
        b_fill(&b, 208, &rng);
        b_close(&b, el, 2);
    }
    if (h->sni && h->sni_last && h->grease) {
        b_u16(&b, 0x1a1a);
        b_u16(&b, 1);
        b_u8(&b, 0);
    }
    if (h->pad_to) {
        /* +4 for this extension's own header; +2 for the SNI-last case is accounted below */
        size_t after = b.len + 4;
        if (h->sni && h->sni_last)
            after += 9 + strlen(h->sni);
        if (h->grease && !(h->sni && h->sni_last))
            after += 4;
        size_t pad = h->pad_to > after ? h->pad_to - after : 0;
        b_u16(&b, 21);
        b_u16(&b, (uint16_t)pad);
        for (size_t i = 0; i < pad; i++)
            b_u8(&b, 0);
    }
    if (h->sni && h->sni_last)
        ext_sni(&b, h->sni, &name_at);
    else if (h->grease) {
        b_u16(&b, 0x1a1a);
        b_u16(&b, 0);
    }
    b_close(&b, exts, 2);
    b_close(&b, body, 3);
    if (b.err)
        return 0;

    /* Wrap into records. */
    size_t total = b.len + 5 * (h->n_rec_splits + 1);
    if (total > cap)
        return 0;
    size_t o = 0, start = 0;
    for (size_t r = 0; r <= h->n_rec_splits; r++) {
        size_t end = r < h->n_rec_splits ? h->rec_splits[r] : b.len;
        if (end < start || end > b.len)
            return 0;
        out[o] = 22;
        put16(out + o + 1, h->record_version ? h->record_version : 0x0301);
        put16(out + o + 3, (uint16_t)(end - start));
        memcpy(out + o + 5, msg + start, end - start);
        if (sni_off && name_at >= start && name_at < end)
            *sni_off = o + 5 + (name_at - start);
        o += 5 + end - start;
        start = end;
    }
    return o;
}

size_t pcapw_http_get(uint8_t *out, size_t cap, const char *host, const char *target)
{
    int n = snprintf((char *)out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: qorgau-test/1.0\r\n"
                     "Accept: */*\r\n\r\n",
                     target, host);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}
