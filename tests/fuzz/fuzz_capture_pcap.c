/* fuzz_capture_pcap.c - libFuzzer target for the pcap file reader (proxy/capture/capture_pcap.c):
 * the input is written to a memory file and read to its end, frame by frame, through the same
 * path `qorgau scan` uses (capture_pcap_next_frame(): the back end's own reader for host-order
 * classic pcap, libpcap otherwise), whose "kept" must agree with capture_pcap_frame_kept(). A
 * kept frame must be unchanged CAPTURE_PCAP_KEEP reads later (its hash read again then), and
 * the last ones still readable after the end. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proxy/capture/capture.h"
#include "proxy/capture/capture_pcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t hash(const struct capture_frame *fr)
{
    uint64_t h = 1469598103934665603ull ^ fr->caplen;
    for (uint32_t i = 0; i < fr->caplen; i++)
        h = (h ^ fr->data[i]) * 1099511628211ull;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[256];
    int fd = memfd_create("fuzz-pcap", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct capture *c = capture_pcap_open_file(path, err, sizeof(err));
    if (c) {
        enum { K = CAPTURE_PCAP_KEEP };
        struct {
            struct capture_frame fr;
            uint64_t hash;
            bool kept;
        } ring[K + 1];
        size_t n = 0;
        struct capture_frame fr;
        bool in_place;
        int rc;
        do {
            rc = capture_pcap_next_frame(c, &fr, &in_place, err, sizeof(err));
            if (n >= K && ring[(n - K) % (K + 1)].kept &&
                hash(&ring[(n - K) % (K + 1)].fr) != ring[(n - K) % (K + 1)].hash)
                __builtin_trap(); /* a kept frame changed within CAPTURE_PCAP_KEEP reads */
            if (rc != 1)
                break;
            if (in_place != capture_pcap_frame_kept(c, &fr))
                __builtin_trap();
            ring[n % (K + 1)].fr = fr;
            ring[n % (K + 1)].kept = in_place;
            ring[n % (K + 1)].hash = in_place ? hash(&fr) : 0;
            n++;
        } while (1);
        volatile uint64_t sink = 0;
        for (size_t i = n > K ? n - K : 0; i < n; i++) /* still readable after the end */
            if (ring[i % (K + 1)].kept)
                sink ^= hash(&ring[i % (K + 1)].fr);
        (void)sink;
        capture_close(c);
    }
    close(fd);
    return 0;
}
