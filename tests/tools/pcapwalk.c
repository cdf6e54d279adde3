/* pcapwalk.c - the floor of reading a capture file two ways: walks a classic host-order pcap
 * file's records, reading each record header and the byte at offset 14 of each frame (where
 * the IP header starts), and does nothing else. The two ways are the ones capture_pcap.c could
 * take: a read-only mapping of the file, or read() in chunks into a buffer.
 *
 * Usage: pcapwalk map|read CAPTURE.pcap [CHUNK_KIB]   (CHUNK_KIB: 1024 by default)
 * Prints one JSON object: {"how":..,"packets":N,"sum":N}; time it from outside (perf stat -e
 * task-clock), as tests/bench/scan_cpu.sh does. Exit 0; 2 on usage, an unreadable file or a
 * record larger than the chunk. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_HDR 24u
#define REC_HDR  16u

static int walk_map(int fd, size_t len, uint64_t *n, uint64_t *sum)
{
    const uint8_t *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return -1;
    size_t off = FILE_HDR;
    while (len - off >= REC_HDR) {
        uint32_t h[4];
        memcpy(h, m + off, sizeof(h));
        if (h[2] > len - off - REC_HDR)
            break;
        *sum += h[2] + (h[2] > 14 ? m[off + REC_HDR + 14] : 0);
        (*n)++;
        off += REC_HDR + h[2];
        __builtin_prefetch(m + off);
    }
    munmap((void *)(uintptr_t)m, len);
    return 0;
}

static int walk_read(int fd, size_t chunk, uint64_t *n, uint64_t *sum)
{
    uint8_t *b = malloc(2 * chunk);
    if (!b)
        return -1;
    size_t have = 0, at = 0;
    off_t pos = FILE_HDR;
    for (;;) {
        uint32_t cap = 0;
        if (have - at >= REC_HDR)
            memcpy(&cap, b + at + 8, 4);
        if (have - at < REC_HDR || cap > have - at - REC_HDR) { /* the record goes on: refill */
            memmove(b, b + at, have - at);
            have -= at;
            at = 0;
            ssize_t r = pread(fd, b + have, chunk, pos);
            if (r <= 0)
                break;
            have += (size_t)r;
            pos += r;
            continue;
        }
        uint32_t h[4];
        memcpy(h, b + at, sizeof(h));
        if (h[2] > chunk) {
            free(b);
            return -2;
        }
        *sum += h[2] + (h[2] > 14 ? b[at + REC_HDR + 14] : 0);
        (*n)++;
        at += REC_HDR + h[2];
    }
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "map") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: pcapwalk map|read CAPTURE.pcap [CHUNK_KIB]\n");
        return 2;
    }
    size_t chunk = (argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 1024) << 10;
    int fd = open(argv[2], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size < (off_t)FILE_HDR || chunk < 4096) {
        fprintf(stderr, "pcapwalk: %s: cannot read it (or a chunk under 4 KiB)\n", argv[2]);
        return 2;
    }
    uint64_t n = 0, sum = 0;
    int rc = argv[1][0] == 'm' ? walk_map(fd, (size_t)sb.st_size, &n, &sum)
                               : walk_read(fd, chunk, &n, &sum);
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "pcapwalk: %s: %s\n", argv[2],
                rc == -2 ? "a record larger than the chunk" : "cannot map or allocate");
        return 2;
    }
    printf("{\"how\":\"%s\",\"packets\":%llu,\"sum\":%llu}\n", argv[1], (unsigned long long)n,
           (unsigned long long)sum);
    return 0;
}
