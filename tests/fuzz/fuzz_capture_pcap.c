/* fuzz_capture_pcap.c - libFuzzer target for the pcap file reader (proxy/capture/capture_pcap.c):
 * the input is written to a memory file and read to its end, frame by frame, through the same
 * path `qorgau scan` uses (capture_pcap_next_frame(): mapped for host-order classic pcap,
 * libpcap otherwise), whose "kept" must agree with capture_pcap_frame_kept(). Frames read in
 * place are read again at the end: they must still be mapped. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proxy/capture/capture.h"
#include "proxy/capture/capture_pcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        struct capture_frame fr, kept[8];
        size_t nk = 0;
        volatile uint8_t sink = 0;
        bool in_place;
        while (capture_pcap_next_frame(c, &fr, &in_place, err, sizeof(err)) == 1) {
            if (in_place != capture_pcap_frame_kept(c, &fr))
                __builtin_trap();
            if (fr.caplen)
                sink ^= fr.data[fr.caplen - 1];
            if (nk < 8 && fr.caplen && in_place)
                kept[nk++] = fr;
        }
        for (size_t i = 0; i < nk; i++) /* still mapped after the end (and any hand-over) */
            sink ^= kept[i].data[0] ^ kept[i].data[kept[i].caplen - 1];
        (void)sink;
        capture_close(c);
    }
    close(fd);
    return 0;
}
