/* capture_pcap.c - the libpcap capture back end (pcap and pcapng files).
 *
 * A classic pcap file in host byte order (the usual case) is also mapped and its records are
 * read in place, without libpcap's copy of every frame into its buffer:
 *
 *   file header (24):  | magic 4 | major 2 | minor 2 | thiszone 4 | sigfigs 4 | snaplen 4 | linktype 4 |
 *   record header (16): | ts_sec 4 | ts_usec or ts_nsec 4 | caplen 4 | len 4 |  then caplen bytes
 *
 * libpcap still opens the file (its checks, its errors, its link type). Any record the mapped
 * reader does not take as it is (caplen over the snapshot length, a short last record) hands
 * the rest of the file to libpcap from that record on, so odd files get libpcap's behaviour and
 * libpcap's error text. */
#include "proxy/capture/capture_pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/capture/capture.h"
#include "common/compiler.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR  16u
/* How far ahead of the reader the mapping is streamed into the cache (see mapped_next) */
#define PCAP_STREAM_AHEAD 2048u

struct capture_pcap {
    struct capture base; /* first: the generic handle */
    pcap_t *pc;
    char *path;
    /* the mapped reader; map == NULL once libpcap reads (or always did) */
    const uint8_t *map;
    size_t map_len;
    size_t off;       /* next record */
    uint32_t snaplen; /* pcap_snapshot(): larger records go to libpcap */
    bool nsec;
    size_t pf; /* streamed into the cache up to here */
    /* the mapping stays until capture_close(), also after libpcap takes over, so every frame
     * read from it stays valid (capture_pcap_frame_kept()) */
    const uint8_t *kept;
    size_t kept_len;
};

static int cpcap_next_libpcap(struct capture_pcap *cp, struct capture_frame *fr, char *err,
                              size_t errlen)
{
    struct pcap_pkthdr *h;
    const u_char *data;

    int rc = pcap_next_ex(cp->pc, &h, &data);
    if (rc == 1) {
        fr->data = data;
        fr->caplen = h->caplen;
        fr->wirelen = h->len;
        fr->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK)
        return 0;
    if (rc == 0) /* live timeout: no packet yet */
        return -EAGAIN;
    snprintf(err, errlen, "capture: %s: pcap_next_ex() failed: %s", cp->path, pcap_geterr(cp->pc));
    return -EIO;
}

static void unmap(struct capture_pcap *cp)
{
    if (cp->kept)
        munmap((void *)(uintptr_t)cp->kept, cp->kept_len);
    cp->kept = NULL;
    cp->map = NULL;
}

/* From the record at cp->off on, libpcap reads. Returns 0 or a negative errno. */
static int hand_to_libpcap(struct capture_pcap *cp, char *err, size_t errlen)
{
    FILE *fp = pcap_file(cp->pc);
    off_t off = (off_t)cp->off;
    cp->map = NULL; /* read no more, but kept mapped: the frames read from it stay valid */
    if (!fp || fseeko(fp, off, SEEK_SET) != 0) {
        snprintf(err, errlen, "capture: %s: cannot seek to offset %lld: %s", cp->path,
                 (long long)off, strerror(errno));
        return -EIO;
    }
    return 0;
}

/* The next mapped record: 1 with *fr filled, 0 at the end of the file, -1 if libpcap must take
 * this record. */
static int mapped_next(struct capture_pcap *cp, struct capture_frame *fr)
{
    size_t left = cp->map_len - cp->off;
    if (left == 0)
        return 0;
    if (unlikely(left < PCAP_REC_HDR))
        return -1;
    uint32_t h[4];
    memcpy(h, cp->map + cp->off, sizeof(h));
    if (unlikely(h[2] > cp->snaplen || h[2] > left - PCAP_REC_HDR))
        return -1;
    fr->data = cp->map + cp->off + PCAP_REC_HDR;
    fr->caplen = h[2];
    fr->wirelen = h[3];
    /* as libpcap: both fields are signed 32-bit, nanoseconds scale down to microseconds */
    int64_t sec = (int32_t)h[0], frac = (int32_t)h[1];
    fr->ts_us = (uint64_t)sec * 1000000u + (uint64_t)(cp->nsec ? frac / 1000 : frac);
    cp->off += PCAP_REC_HDR + (size_t)h[2];
    /* The records are a chain of dependent loads (each header gives the next one's place):
     * the next header and its frame's first bytes (link, IP, TCP headers) are fetched while
     * the caller works on this one. A prefetch past the end of the mapping faults nothing. */
    __builtin_prefetch(cp->map + cp->off);
    __builtin_prefetch(cp->map + cp->off + 64);
    /* ... and every line up to PCAP_STREAM_AHEAD bytes further: the hardware prefetcher
     * stops at each 4 KiB page, and a header fetched only one record ahead still waits on
     * memory (a 2048-byte lead: -5% CPU on the 16-packet capture, docs/BENCHMARKS.md) */
    size_t ahead = cp->off + PCAP_STREAM_AHEAD;
    while (cp->pf < ahead) {
        __builtin_prefetch(cp->map + cp->pf);
        cp->pf += 64;
    }
    return 1;
}

/* capture_pcap_next_batch() and _next_frame() past the mapping: hands over to libpcap first if the mapped
 * reader stopped at a record it does not take. Kept out of the mapped reader's path. */
static __attribute__((noinline)) int next_libpcap(struct capture_pcap *cp, struct capture_frame *fr,
                                                  char *err, size_t errlen)
{
    if (cp->map) {
        int rc = hand_to_libpcap(cp, err, errlen);
        if (rc < 0)
            return rc;
    }
    return cpcap_next_libpcap(cp, fr, err, errlen);
}

int capture_pcap_next_batch(struct capture *c, struct capture_frame *fr, size_t max, char *err,
                            size_t errlen)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    if (likely(cp->map)) {
        int r = mapped_next(cp, fr);
        if (likely(r == 1)) {
            size_t n = 1; /* a record the mapped reader does not take waits for the next call */
            while (unlikely(n < max) && mapped_next(cp, &fr[n]) == 1)
                n++;
            return (int)n;
        }
        if (r == 0)
            return 0;
    }
    return next_libpcap(cp, fr, err, errlen);
}

int capture_pcap_next_frame(struct capture *c, struct capture_frame *fr, bool *kept, char *err,
                            size_t errlen)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    if (likely(cp->map)) {
        int r = mapped_next(cp, fr);
        if (likely(r == 1)) {
            *kept = true;
            return 1;
        }
        if (r == 0)
            return 0;
    }
    *kept = false; /* libpcap's buffer: valid until the next read */
    return next_libpcap(cp, fr, err, errlen);
}

static int cpcap_next(struct capture *c, struct capture_frame *fr, char *err, size_t errlen)
{
    return capture_pcap_next_batch(c, fr, 1, err, errlen);
}

static int cpcap_linktype(const struct capture *c)
{
    const struct capture_pcap *cp = (const struct capture_pcap *)c;
    return pcap_datalink(cp->pc);
}

bool capture_pcap_frame_kept(const struct capture *c, const struct capture_frame *fr)
{
    const struct capture_pcap *cp = (const struct capture_pcap *)c;
    uintptr_t d = (uintptr_t)fr->data, k = (uintptr_t)cp->kept;
    return cp->kept && d >= k && d - k <= cp->kept_len && fr->caplen <= cp->kept_len - (d - k);
}

uint64_t capture_pcap_offset(struct capture *c)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    if (cp->map)
        return cp->off;
    FILE *fp = pcap_file(cp->pc);
    off_t off = fp ? ftello(fp) : -1;
    return off < 0 ? 0 : (uint64_t)off;
}

static void cpcap_close(struct capture *c)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    unmap(cp);
    pcap_close(cp->pc);
    free(cp->path);
    free(cp);
}

static const struct capture_ops capture_pcap_ops = {
    .name = "pcap",
    .next = cpcap_next,
    .linktype = cpcap_linktype,
    .close = cpcap_close,
};

/* Maps path if it is a classic pcap file, version 2.4, in host byte order; otherwise (or on
 * any failure) leaves cp->map NULL and libpcap reads it all. */
static void try_map(struct capture_pcap *cp, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < (off_t)PCAP_FILE_HDR ||
        (uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return;
    }
    size_t len = (size_t)sb.st_size;
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    const uint8_t *b = m;
    uint32_t magic;
    uint16_t major, minor;
    memcpy(&magic, b, 4);
    memcpy(&major, b + 4, 2);
    memcpy(&minor, b + 6, 2);
    int snap = pcap_snapshot(cp->pc);
    if ((magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) || major != 2 || minor != 4 ||
        snap <= 0) {
        munmap(m, len);
        return;
    }
    (void)madvise(m, len, MADV_SEQUENTIAL);
    cp->map = b;
    cp->map_len = len;
    cp->kept = b;
    cp->kept_len = len;
    cp->off = PCAP_FILE_HDR;
    cp->pf = 0;
    cp->snaplen = (uint32_t)snap;
    cp->nsec = magic == PCAP_MAGIC_NS;
}

struct capture *capture_pcap_open_file(const char *path, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct capture_pcap *cp = calloc(1, sizeof(*cp));
    if (!cp) {
        snprintf(err, errlen, "capture: %s: out of memory", path);
        return NULL;
    }
    cp->pc = pcap_open_offline(path, ebuf);
    if (!cp->pc) {
        snprintf(err, errlen, "capture: %s: cannot open: %s", path, ebuf);
        free(cp);
        return NULL;
    }
    cp->path = strdup(path);
    cp->base.ops = &capture_pcap_ops;
    try_map(cp, path);
    return &cp->base;
}
