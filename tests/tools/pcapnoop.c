/* pcapnoop.c - the benchmark baseline: reads a capture with pcap_next_ex() and does nothing else.
 *
 * Usage: pcapnoop CAPTURE.pcap
 * Prints one JSON object: {"packets":N,"bytes":N,"seconds":S,"pps":P,"gbps":G}
 * bytes are the frames' original lengths; seconds is wall time of the read loop (monotonic
 * clock, open excluded). Exit 0, 2 on usage or unreadable input. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: pcapnoop CAPTURE.pcap\n", stderr);
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pcapnoop: %s: %s\n", argv[1], err);
        return 2;
    }
    uint64_t packets = 0, bytes = 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    double t0 = now();
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->len;
    }
    double secs = now() - t0;
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcapnoop: %s: after %llu packets: %s\n", argv[1],
                (unsigned long long)packets, pcap_geterr(p));
        pcap_close(p);
        return 2;
    }
    pcap_close(p);
    double pps = secs > 0 ? (double)packets / secs : 0.0;
    double gbps = secs > 0 ? (double)bytes * 8.0 / secs / 1e9 : 0.0;
    printf("{\"packets\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.0f,\"gbps\":%.3f}\n",
           (unsigned long long)packets, (unsigned long long)bytes, secs, pps, gbps);
    return 0;
}
