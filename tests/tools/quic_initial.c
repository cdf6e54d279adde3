/* quic_initial.c - test tool: one QUIC v1 connection attempt's client Initials, sent over a real
 * UDP socket (queue.sh: what reaches the server's side of a queue-mode filter).
 *
 * Usage: quic_initial SNI ADDR PORT [small|pq|time|junkN|afterN [small]]
 * The ClientHello for SNI (ALPN h3) goes in one Initial, or with pq (a post-quantum key share as
 * Chromium sends, X25519MLKEM768) in two, cut inside the name, each in its own 1250-byte
 * datagram; then the tool waits 1 s and prints "answer N" (datagrams the peer sent back) or
 * "none". With time (one Initial): prints "rtt_us N", the microseconds from the send to the
 * first datagram back, or "none" (1 s); tests/bench/inline.sh measures the delay a filter adds to
 * allowed Initials with it. With junkN: N datagrams of 20 junk bytes go first (a server ignores
 * them; more than a filter's budget of datagrams must not hide the Initial behind them). With
 * afterN: from the same socket, first a whole connection attempt's Initial for allowed.test,
 * then N junk datagrams, then SNI's Initial under a new DCID - a second attempt on the same
 * 4-tuple, which a filter that has passed the first must still judge. With small (alone, or
 * after the mode), the Initials are not padded to 1200 bytes (a client a compliant server would refuse,
 * but a server that wants to be reached may take). Exit 0, or 1 with a message on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/quicw.h"

#define DGRAM 1250

static size_t dgram_min = DGRAM; /* 0 with "small": Initials not padded */

static int send_part(int fd, struct quicw *q, uint32_t pn, const uint8_t *h, size_t from, size_t to)
{
    uint8_t f[1500], d[1500];
    size_t fl = 0;
    if (quicw_crypto(f, sizeof(f), &fl, from, h + from, to - from) < 0)
        return -1;
    size_t n = quicw_initial(q, pn, f, fl, dgram_min, d, sizeof(d));
    if (n == 0)
        return -1;
    return send(fd, d, n, 0) == (ssize_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: quic_initial SNI ADDR PORT [small|pq|time|junkN|afterN [small]]\n", stderr);
        return 1;
    }
    if ((argc > 5 && strcmp(argv[5], "small") == 0) || (argc > 4 && strcmp(argv[4], "small") == 0))
        dgram_min = 0;
    bool pq = argc > 4 && strcmp(argv[4], "pq") == 0;
    bool timed = argc > 4 && strcmp(argv[4], "time") == 0;
    unsigned long junk = 0;
    bool after = argc > 4 && strncmp(argv[4], "after", 5) == 0;
    if (argc > 4 && (strncmp(argv[4], "junk", 4) == 0 || after)) {
        char *jend;
        junk = strtoul(argv[4] + (after ? 5 : 4), &jend, 10);
        if (*jend || junk == 0 || junk > 10000) {
            fprintf(stderr, "quic_initial: %s: junkN / afterN with N 1..10000\n", argv[4]);
            return 1;
        }
    }
    char *end;
    unsigned long port = strtoul(argv[3], &end, 10);
    if (*end || port == 0 || port > 65535) {
        fprintf(stderr, "quic_initial: %s: not a port\n", argv[3]);
        return 1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    int fam;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, argv[2], &s4->sin_addr) == 1) {
        fam = AF_INET;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, argv[2], &s6->sin6_addr) == 1) {
        fam = AF_INET6;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*s6);
    } else {
        fprintf(stderr, "quic_initial: %s: not an address\n", argv[2]);
        return 1;
    }
    int fd = socket(fam, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        fprintf(stderr, "quic_initial: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    uint8_t dcid[8], scid[8];
    for (int i = 0; i < 8; i++) {
        dcid[i] = (uint8_t)(rand() ^ getpid() >> (i % 4));
        scid[i] = (uint8_t)(0x10 + i);
    }
    struct quicw q;
    uint8_t h[4096];
    size_t so = 0;
    if (quicw_init(&q, 1, dcid, sizeof(dcid), scid, sizeof(scid)) < 0) {
        fputs("quic_initial: cannot derive Initial keys\n", stderr);
        return 1;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t hl = quicw_hello(argv[1], pq ? 1216 : 0, h, sizeof(h), &so);
    int rc = hl ? 0 : -1;
    static const uint8_t junk_bytes[20] = { 0x17, 0x17, 0x17, 0x17 };
    if (!rc && after) { /* the first attempt, under another DCID */
        struct quicw q0;
        uint8_t d0[8], h0[4096];
        for (int i = 0; i < 8; i++)
            d0[i] = (uint8_t)(dcid[i] ^ 0x5a);
        size_t h0l = quicw_hello("allowed.test", 0, h0, sizeof(h0), NULL);
        if (!h0l || quicw_init(&q0, 1, d0, sizeof(d0), scid, sizeof(scid)) < 0)
            rc = -1;
        else {
            rc = send_part(fd, &q0, 0, h0, 0, h0l);
            quicw_fini(&q0);
        }
    }
    for (unsigned long k = 0; !rc && k < junk; k++)
        if (send(fd, junk_bytes, sizeof(junk_bytes), 0) != (ssize_t)sizeof(junk_bytes))
            rc = -1;
    if (!rc && hl <= 1100)
        rc = send_part(fd, &q, 0, h, 0, hl);
    else if (!rc) {
        size_t cut = so + 2;
        rc = send_part(fd, &q, 0, h, 0, cut);
        if (!rc)
            rc = send_part(fd, &q, 1, h, cut, hl);
    }
    quicw_fini(&q);
    if (rc < 0) {
        fprintf(stderr, "quic_initial: send failed: %s\n", strerror(errno));
        return 1;
    }
    unsigned got = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (timed) {
        struct timespec t1;
        uint8_t buf[2048];
        if (poll(&p, 1, 1000) > 0 && recv(fd, buf, sizeof(buf), 0) >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            printf("rtt_us %ld\n",
                   (long)((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000L));
        } else {
            printf("none\n");
        }
        close(fd);
        return 0;
    }
    while (poll(&p, 1, 1000) > 0) {
        uint8_t buf[2048];
        if (recv(fd, buf, sizeof(buf), 0) < 0)
            break;
        got++;
    }
    if (got)
        printf("answer %u\n", got);
    else
        printf("none\n");
    close(fd);
    return 0;
}
