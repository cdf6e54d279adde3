/* pcapw.h - test helper: writes classic pcap files and crafts the packets that go in them.
 *
 * Used by the evasion generator (tests/tools/mkevasion.c), the benchmark generator
 * (tests/tools/genpcap.c) and any unit test that needs a frame. Depends on libc only (the file
 * format is written by hand), so it can be linked into every test and tool binary.
 *
 * Files: classic pcap, little-endian, microsecond timestamps, LINKTYPE_ETHERNET, snaplen 65535.
 *
 * Frames: Ethernet II + IPv4 (options, id, TTL, DF, fragments) or IPv6 (hop-by-hop and
 * destination-options headers, fragment header) + TCP (flags, seq/ack, window, urgent pointer,
 * options MSS / window scale / SACK-permitted / timestamps / TCP-MD5 kind 19 / Fast Open kind
 * 34) or UDP. Checksums
 * are correct unless asked to be corrupted.
 *
 * A "conversation" helper keeps the sequence numbers of one TCP connection so a test can write
 * a handshake, client data at arbitrary relative offsets, server data, ACKs and the close.
 * Content helpers build a TLS ClientHello (SNI, ALPN, padding, ECH, record splits) and an
 * HTTP/1.1 request. */
#ifndef QG_PCAPW_H
#define QG_PCAPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCAPW_FRAME_MAX 65600 /* largest frame pcapw_build() produces */
#define PCAPW_MAX_EXT   4     /* IPv6 extension headers per packet */
#define PCAPW_EXT_HBH   0     /* IPv6 hop-by-hop options (next-header value) */
#define PCAPW_EXT_DST   60    /* IPv6 destination options */

/* TCP flag bits. */
#define PCAPW_FIN 0x01
#define PCAPW_SYN 0x02
#define PCAPW_RST 0x04
#define PCAPW_PSH 0x08
#define PCAPW_ACK 0x10
#define PCAPW_URG 0x20

/* ---- pcap file ------------------------------------------------------------------------------ */

struct pcapw;

/* Creates (truncates) path and writes the pcap file header. Returns the writer, or NULL with
 * errno set. The caller owns the writer and releases it with pcapw_close(). */
struct pcapw *pcapw_open(const char *path);

/* Appends one frame with timestamp ts_us (microseconds since the epoch). Frames longer than
 * 65535 bytes are refused. Returns 0 or a negative errno. */
int pcapw_write(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, size_t len);

/* Rewrites a frame before it is written, e.g. to put it inside a tunnel: gets the Ethernet
 * frame (frame, len) and writes the frame to store into out (capacity cap); returns its length,
 * or 0 to fail the write with -EINVAL. */
typedef size_t (*pcapw_wrap_fn)(void *ctx, const uint8_t *frame, size_t len, uint8_t *out,
                                size_t cap);

#define PCAPW_WRAP_MAX (PCAPW_FRAME_MAX + 512) /* capacity given to a wrap function */

/* Every frame written from now on (pcapw_write and everything built on it) goes through fn
 * first; fn NULL writes frames as they are again. Returns 0 or -ENOMEM. */
int pcapw_set_wrap(struct pcapw *w, pcapw_wrap_fn fn, void *ctx);

/* Flushes and closes; frees w. Returns 0 or a negative errno (a failed write or close).
 * pcapw_close(NULL) is a no-op returning 0. */
int pcapw_close(struct pcapw *w);

/* Frames and frame bytes written so far (the bytes of the frames, not of the file). */
uint64_t pcapw_packets(const struct pcapw *w);
uint64_t pcapw_bytes(const struct pcapw *w);

/* ---- packet crafting ------------------------------------------------------------------------ */

/* One packet to craft. Fill with pcapw_pkt_init() and change what the test needs. */
struct pcapw_pkt {
    uint8_t ipver;            /* 4 or 6 */
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
    uint8_t ttl;              /* TTL / hop limit */
    uint32_t ip_id;           /* IPv4 id (low 16 bits) or IPv6 fragment identification */
    bool df;                  /* IPv4 don't-fragment */
    const uint8_t *ip_opts;   /* IPv4 options, padded with EOL to a multiple of 4 (max 40) */
    size_t ip_opts_len;
    uint8_t v6_ext[PCAPW_MAX_EXT]; /* IPv6 extension headers in order (PCAPW_EXT_*), 8 bytes
                                    * each, filled with a PadN option */
    size_t n_v6_ext;
    bool bad_ip_csum; /* IPv4: store the header checksum plus one */

    uint8_t proto; /* 6 (TCP) or 17 (UDP) */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags; /* PCAPW_* */
    uint16_t win;
    uint16_t urg; /* urgent pointer (sent as is; set PCAPW_URG yourself) */
    uint16_t mss; /* 0: no MSS option */
    bool has_wscale;
    uint8_t wscale;
    bool sack_perm;
    bool has_ts;
    uint32_t tsval, tsecr;
    bool md5;               /* TCP-MD5 signature option (kind 19, 16 bytes of junk) */
    uint8_t tfo_cookie_len; /* >0: a TCP Fast Open option (kind 34) with a cookie of this
                                  * many bytes (4..16) */
    bool bad_l4_csum;       /* store the TCP/UDP checksum plus one */

    const uint8_t *payload; /* borrowed */
    size_t payload_len;
};

/* Defaults: IPv4, TTL 64, TCP, window 64240, flags ACK, everything else zero/off. */
void pcapw_pkt_init(struct pcapw_pkt *p);

/* Parses a textual IPv4 or IPv6 address into addr (16 bytes, IPv4 in the first 4).
 * Returns 4 or 6, or 0 if text is not an address. */
int pcapw_addr(const char *text, uint8_t addr[16]);

/* Crafts the full Ethernet frame of p into out (capacity cap). Returns its length, or 0 if it
 * does not fit or p is inconsistent (bad version, options too long). */
size_t pcapw_build(const struct pcapw_pkt *p, uint8_t *out, size_t cap);

/* pcapw_build() + pcapw_write(). Returns 0 or a negative errno (-EINVAL when p is bad). */
int pcapw_put(struct pcapw *w, uint64_t ts_us, const struct pcapw_pkt *p);

/* Writes one UDP datagram src:sport -> dst:dport (addresses as text, IPv4 or IPv6) carrying
 * payload; the other fields as pcapw_pkt_init() leaves them. Returns what pcapw_put() does. */
int pcapw_put_udp(struct pcapw *w, uint64_t ts_us, const char *src, uint16_t sport, const char *dst,
                  uint16_t dport, const uint8_t *payload, size_t len);

/* Writes p as IP fragments. The fragmentable part (IPv4: everything after the IP header; IPv6:
 * everything after the listed extension headers, which stay unfragmentable, and before which an
 * IPv6 fragment header is put) is cut at offs[0..n_offs) (increasing, multiples of 8, inside
 * the part): n_offs + 1 fragments. order (may be NULL = in order) lists the fragment indexes in
 * the order they are written; each is written 10 us after the previous one. Returns 0 or a
 * negative errno. */
int pcapw_put_frags(struct pcapw *w, uint64_t ts_us, const struct pcapw_pkt *p, const size_t *offs,
                    size_t n_offs, const size_t *order);

/* n first fragments of UDP datagrams that never complete (198.51.100.9 -> 10.0.0.2:53, 200
 * bytes each, distinct IP ids), 1 ms apart from *ts_us on (moved past them): a flood that fills
 * a defragmentation table. Returns 0 or a negative errno. */
int pcapw_frag_flood(struct pcapw *w, uint64_t *ts_us, unsigned n);

/* ---- TCP conversation ----------------------------------------------------------------------- */

/* Sequence state of one TCP connection being written. Fields may be changed between calls
 * (e.g. ttl_cli for a fake segment, ts to leave a gap). */
struct pcapw_conv {
    struct pcapw *w; /* borrowed */
    uint64_t ts;     /* timestamp of the next packet (us) */
    uint64_t step;   /* added to ts after each packet; default 1000 */
    uint8_t ipver;
    uint8_t cli[16], srv[16];
    uint16_t cport, sport;
    uint32_t cisn, sisn;   /* initial sequence numbers */
    uint32_t cnext, snext; /* highest sequence number sent + 1, per side */
    bool ts_opt;           /* send timestamps on every segment (set before the handshake) */
    uint32_t tsval;        /* next timestamp value; increments per packet */
    uint8_t ttl_cli, ttl_srv;
};

/* Sets up a connection cli:cport -> srv:sport (both IPv4 or both IPv6) writing to w, with
 * ISNs 0x10000000 / 0x20000000 (change them before the handshake if needed), starting at
 * ts_us. Returns 0, or -EINVAL for unparsable or mixed-family addresses. */
int pcapw_conv_init(struct pcapw_conv *c, struct pcapw *w, uint64_t ts_us, const char *cli,
                    uint16_t cport, const char *srv, uint16_t sport);

/* Fills p for a segment of this connection in the given direction: addresses, ports,
 * seq = that side's next, ack = the other side's next, flags ACK, the side's TTL, timestamps if
 * negotiated. The caller then sets payload, flags, seq... and sends with pcapw_conv_send(). */
void pcapw_conv_pkt(const struct pcapw_conv *c, bool from_client, struct pcapw_pkt *p);

/* Writes p at c->ts, advances the clock and the direction's next sequence number (when the
 * segment reaches beyond it; SYN and FIN count one). Direction is taken from p's source port
 * and address. Returns 0 or a negative errno. */
int pcapw_conv_send(struct pcapw_conv *c, const struct pcapw_pkt *p);

/* SYN (MSS 1460, SACK-perm, wscale 7, timestamps if ts_opt), SYN-ACK (same), ACK. */
int pcapw_conv_handshake(struct pcapw_conv *c);

/* A PSH|ACK segment from the client carrying d[0..n) at sequence cisn + 1 + off. */
int pcapw_conv_client_data(struct pcapw_conv *c, uint32_t off, const uint8_t *d, size_t n);

/* Same from the server: sequence sisn + 1 + off. */
int pcapw_conv_server_data(struct pcapw_conv *c, uint32_t off, const uint8_t *d, size_t n);

/* A bare ACK from one side acknowledging everything the other side sent. */
int pcapw_conv_ack(struct pcapw_conv *c, bool from_client);

/* Client FIN|ACK, server FIN|ACK, client ACK. */
int pcapw_conv_close(struct pcapw_conv *c);

/* ---- content -------------------------------------------------------------------------------- */

/* What to put in a TLS 1.3-style ClientHello. Zero-initialize and set what is needed. */
struct pcapw_hello {
    const char *sni;          /* server_name host name; NULL: no SNI extension */
    const char *alpn;         /* comma-separated protocol ids ("h2,http/1.1"); NULL: none */
    size_t pad_to;            /* >0: a padding extension (21) brings the handshake message
                                  * (4-byte header included) to at least this many bytes */
    size_t pq_keyshare;       /* >0: an extra key share of this many bytes (group 0x11ec,
                                  * X25519MLKEM768 is 1216) before x25519 */
    bool ech;                 /* an encrypted_client_hello extension (0xfe0d, outer, junk) */
    bool sni_last;            /* put server_name after every other extension */
    bool grease;              /* GREASE extensions (0x0a0a, 0x1a1a) first and last */
    uint16_t record_version;  /* 0: 0x0301 */
    uint16_t hello_version;   /* legacy_version; 0: 0x0303 */
    const size_t *rec_splits; /* handshake-message offsets where a new TLS record starts */
    size_t n_rec_splits;      /* (increasing, inside the message) */
    uint32_t seed;            /* fills random, session id and key share */
};

/* Writes the ClientHello record(s) into out (capacity cap). *sni_off (may be NULL) gets the
 * offset in out of the first byte of the SNI host name (0 if none). Returns the total length,
 * or 0 if it does not fit. */
size_t pcapw_tls_hello(const struct pcapw_hello *h, uint8_t *out, size_t cap, size_t *sni_off);

/* Writes "GET target HTTP/1.1\r\nHost: host\r\nUser-Agent: ...\r\nAccept: *\/\*\r\n\r\n"
 * into out (capacity cap, no NUL). Returns the length, or 0 if it does not fit. */
size_t pcapw_http_get(uint8_t *out, size_t cap, const char *host, const char *target);

/* Small deterministic PRNG (xorshift64*) for generators; *state must be non-zero. */
uint64_t pcapw_rand(uint64_t *state);

#endif
