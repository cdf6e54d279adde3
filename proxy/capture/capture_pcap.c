/* capture_pcap.c - the libpcap capture back end (pcap and pcapng files).
 *
 * A classic pcap file in host byte order (the usual case) is read by this file's own reader
 * into two buffers used in turn, a chunk of at least 1 MiB each, and its records are handed out
 * in place, without libpcap's copy of every frame into its own buffer:
 *
 *   file header (24):  | magic 4 | major 2 | minor 2 | thiszone 4 | sigfigs 4 | snaplen 4 | linktype 4 |
 *   record header (16): | ts_sec 4 | ts_usec or ts_nsec 4 | caplen 4 | len 4 |  then caplen bytes
 *
 * Why read() and not a mapping of the file: a walk over the records of a mapped file waits on a
 * page fault every 16 pages and on memory for every header; read() copies from the page cache
 * in the kernel and the headers are then in the cache. On the 688 MB bench capture a walk over
 * the records took 200 ms through a mapping and 42-48 ms through 1 MiB reads (the no-op libpcap
 * loop: 345 ms; docs/BENCHMARKS.md, "Reading the file").
 *
 * Reads are steps of 128 KiB. When a buffer's records are used up, the next step is appended
 * to the same buffer while fewer than CAPTURE_PCAP_KEEP + 1 records came out of it and its chunk
 * is not read whole; otherwise it goes to the start of the other buffer (the part of a record
 * already read copied there first). Small records thus keep to the first 128 KiB of each
 * buffer, bytes still in the CPU's cache from the copy when they are parsed (a whole chunk read
 * at once had left the L2 cache by then: the steps took 7 % off the mobile-shaped scan,
 * docs/BENCHMARKS.md "Reading in 128 KiB steps"). A frame handed out stays where it is while the
 * next CAPTURE_PCAP_KEEP frames are read: its buffer is written again only after that many
 * records came out of the other one, or after the other one got a whole chunk, which holds at
 * least that many records of the largest size the snapshot length allows.
 *
 * This reader reads the file header itself, making of it what libpcap would (the link type as
 * pcap_datalink() gives it, the snapshot length), for the link types the decoder reads; libpcap
 * (loaded then: pcaplib.h) opens any other file. Any record this reader does not take as it is
 * (caplen over the snapshot length, a short last record, a read error) hands the rest of the
 * file to libpcap from that record on, opened then on the reader's own descriptor, so odd files
 * get libpcap's behaviour and libpcap's error text. */
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
#include "proxy/capture/pcaplib.h"
#include "common/compiler.h"

#define PCAP_MAGIC_US        0xa1b2c3d4u
#define PCAP_MAGIC_NS        0xa1b23c4du
#define PCAP_FILE_HDR        24u
#define PCAP_REC_HDR         16u
#define PCAP_CHUNK_MIN       (1u << 20)   /* bytes read into a buffer before the other is used */
#define PCAP_STEP            (128u << 10) /* bytes read at a time: still in the cache when read */
#define PCAP_READER_SNAP_MAX 262144u      /* larger records go to libpcap (the buffers' size) */

struct capture_pcap {
    struct capture base;     /* first: the generic handle */
    const struct pcaplib *P; /* libpcap (pcaplib.h), once it reads */
    pcap_t *pc;              /* NULL while this file's reader has the file */
    int link;                /* the link type: DLT_* as pcap_datalink() gives it */
    char *path;
    /* this file's reader (see the top); fd < 0 once libpcap reads (or always did) */
    int fd;
    uint8_t *buf[2]; /* each chunk + the largest record */
    size_t buf_size; /* each, mapped */
    size_t chunk;    /* bytes read into a buffer before the other one is used (after the part
                      * carried over), in steps of PCAP_STEP */
    size_t limit;    /* buf[cur] is read into up to here: the part carried over + chunk */
    size_t nout;     /* records handed out from buf[cur] */
    int cur;         /* the buffer read from */
    size_t at, have; /* next record in buf[cur]; bytes in it */
    uint64_t off;    /* the file offset of the next record */
    uint64_t rd_off; /* the file offset read up to */
    bool eof;
    bool rd_err; /* a read failed: libpcap reads from cp->off on and reports it */
    uint32_t
        snaplen; /* the file's snapshot length (1 to PCAP_READER_SNAP_MAX): larger records go to
                  * libpcap */
    bool nsec;
};

static int cpcap_next_libpcap(struct capture_pcap *cp, struct capture_frame *fr, char *err,
                              size_t errlen)
{
    struct pcap_pkthdr *h;
    const u_char *data;

    int rc = cp->P->next_ex(cp->pc, &h, &data);
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
    snprintf(err, errlen, "capture: %s: pcap_next_ex() failed: %s", cp->path,
             cp->P->geterr(cp->pc));
    return -EIO;
}

static void reader_free(struct capture_pcap *cp)
{
    if (cp->fd >= 0)
        close(cp->fd);
    cp->fd = -1;
    for (int i = 0; i < 2; i++)
        if (cp->buf[i])
            munmap(cp->buf[i], cp->buf_size);
    cp->buf[0] = cp->buf[1] = NULL;
}

/* libpcap loaded and reading the capture: the file fd is open on when fd >= 0 (the reader's,
 * so that libpcap reads the file the reader read, whatever path names now), else path. 0, or a
 * negative errno with the message in err. */
static int open_libpcap(struct capture_pcap *cp, const char *path, int fd, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "", lerr[256];
    cp->P = pcaplib_get(lerr, sizeof(lerr));
    if (!cp->P) {
        snprintf(err, errlen, "capture: %s: cannot open: %s", path, lerr);
        return -ENOENT;
    }
    if (fd >= 0) {
        int dfd = dup(fd);
        FILE *fp = dfd >= 0 ? fdopen(dfd, "rb") : NULL;
        if (!fp) {
            int e = errno;
            if (dfd >= 0)
                close(dfd);
            snprintf(err, errlen, "capture: %s: cannot open: %s", path, strerror(e));
            return -e;
        }
        cp->pc = cp->P->fopen_offline(fp, ebuf); /* closes fp with the handle */
        if (!cp->pc)
            fclose(fp);
    } else {
        cp->pc = cp->P->open_offline(path, ebuf);
    }
    if (!cp->pc) {
        snprintf(err, errlen, "capture: %s: cannot open: %s", path, ebuf);
        return -EINVAL;
    }
    cp->link = cp->P->datalink(cp->pc);
    return 0;
}

/* From the record at cp->off on, libpcap reads (opened now on the reader's file: the reader had
 * it so far). Returns 0 or a negative errno. */
static int hand_to_libpcap(struct capture_pcap *cp, char *err, size_t errlen)
{
    off_t off = (off_t)cp->off;
    int rc = 0;
    if (!cp->pc)
        rc = open_libpcap(cp, cp->path, cp->fd, err, errlen);
    /* read no more; the buffers stay until capture_close(): the frames read stay valid */
    if (cp->fd >= 0)
        close(cp->fd);
    cp->fd = -1;
    if (rc < 0)
        return rc;
    FILE *fp = cp->P->file(cp->pc);
    if (!fp || fseeko(fp, off, SEEK_SET) != 0) {
        snprintf(err, errlen, "capture: %s: cannot seek to offset %lld: %s", cp->path,
                 (long long)off, strerror(errno));
        return -EIO;
    }
    return 0;
}

/* Reads up to want bytes of the file to p. Returns the bytes read; fewer than want only at the
 * end of the file or on a read error (cp->eof, cp->rd_err set). */
static size_t read_file(struct capture_pcap *cp, uint8_t *p, size_t want)
{
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(cp->fd, p + got, want - got, (off_t)cp->rd_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            cp->eof = true;
            cp->rd_err = r < 0;
            break;
        }
        got += (size_t)r;
        cp->rd_off += (uint64_t)r;
    }
    return got;
}

/* More of the file. Another step appended to this buffer while fewer than CAPTURE_PCAP_KEEP + 1
 * records were handed out from it and its chunk is not read whole; else the other buffer, the
 * part of a record left in this one copied to its start, then its first step. False at the end
 * of the file or on a read error (libpcap then reads from cp->off and says what it makes of
 * it). */
static __attribute__((noinline)) bool refill(struct capture_pcap *cp)
{
    if (cp->eof)
        return false;
    if (cp->nout <= CAPTURE_PCAP_KEEP && cp->have < cp->limit) {
        size_t want = cp->limit - cp->have;
        size_t got =
            read_file(cp, cp->buf[cp->cur] + cp->have, want < PCAP_STEP ? want : PCAP_STEP);
        cp->have += got;
        return got > 0;
    }
    size_t part = cp->have - cp->at;
    uint8_t *to = cp->buf[cp->cur ^ 1];
    memcpy(to, cp->buf[cp->cur] + cp->at, part);
    size_t got = read_file(cp, to + part, PCAP_STEP);
    cp->cur ^= 1;
    cp->at = 0;
    cp->have = part + got;
    cp->limit = part + cp->chunk;
    cp->nout = 0;
    return got > 0;
}

/* The next record: 1 with *fr filled, 0 at the end of the file, -1 if libpcap must take this
 * record. */
static int buffered_next(struct capture_pcap *cp, struct capture_frame *fr)
{
    uint32_t h[4];
    for (;;) {
        size_t left = cp->have - cp->at;
        if (likely(left >= PCAP_REC_HDR)) {
            memcpy(h, cp->buf[cp->cur] + cp->at, sizeof(h));
            if (unlikely(h[2] > cp->snaplen))
                return -1;
            if (likely(h[2] <= left - PCAP_REC_HDR))
                break;
        }
        if (!refill(cp)) /* the end, or a record (or a read error) for libpcap */
            return left == 0 && cp->have - cp->at == 0 && !cp->rd_err ? 0 : -1;
    }
    const uint8_t *rec = cp->buf[cp->cur] + cp->at;
    fr->data = rec + PCAP_REC_HDR;
    fr->caplen = h[2];
    fr->wirelen = h[3];
    /* as libpcap: both fields are signed 32-bit, nanoseconds scale down to microseconds */
    int64_t sec = (int32_t)h[0], frac = (int32_t)h[1];
    fr->ts_us = (uint64_t)sec * 1000000u + (uint64_t)(cp->nsec ? frac / 1000 : frac);
    size_t n = PCAP_REC_HDR + (size_t)h[2];
    cp->at += n;
    cp->off += n;
    cp->nout++;
    /* the next header and its frame's first bytes (link, IP, TCP headers) are fetched while
     * the caller works on this one: each header gives the next one's place */
    __builtin_prefetch(rec + n);
    __builtin_prefetch(rec + n + 64);
    return 1;
}

/* capture_pcap_next_batch() and _next_frame() past this file's reader: hands over to libpcap
 * first if the reader stopped at a record it does not take. Kept out of the reader's path. */
static __attribute__((noinline)) int next_libpcap(struct capture_pcap *cp, struct capture_frame *fr,
                                                  char *err, size_t errlen)
{
    if (cp->fd >= 0) {
        int rc = hand_to_libpcap(cp, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (!cp->pc) { /* the hand-over failed before (said then) */
        snprintf(err, errlen, "capture: %s: libpcap could not take over at offset %llu", cp->path,
                 (unsigned long long)cp->off);
        return -EIO;
    }
    return cpcap_next_libpcap(cp, fr, err, errlen);
}

int capture_pcap_next_batch(struct capture *c, struct capture_frame *fr, size_t max, char *err,
                            size_t errlen)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    if (likely(cp->fd >= 0)) {
        int r = buffered_next(cp, fr);
        if (likely(r == 1)) {
            size_t n = 1; /* a record the reader does not take waits for the next call */
            while (unlikely(n < max) && buffered_next(cp, &fr[n]) == 1)
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
    if (likely(cp->fd >= 0)) {
        int r = buffered_next(cp, fr);
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
    return cp->link;
}

bool capture_pcap_frame_kept(const struct capture *c, const struct capture_frame *fr)
{
    const struct capture_pcap *cp = (const struct capture_pcap *)c;
    size_t size = cp->chunk + PCAP_REC_HDR + cp->snaplen;
    uintptr_t d = (uintptr_t)fr->data;
    for (int i = 0; i < 2; i++) {
        uintptr_t k = (uintptr_t)cp->buf[i];
        if (k && d >= k && d - k <= size && fr->caplen <= size - (d - k))
            return true;
    }
    return false;
}

uint64_t capture_pcap_offset(struct capture *c)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    if (cp->fd >= 0)
        return cp->off;
    FILE *fp = cp->pc ? cp->P->file(cp->pc) : NULL;
    off_t off = fp ? ftello(fp) : -1;
    return off < 0 ? 0 : (uint64_t)off;
}

static void cpcap_close(struct capture *c)
{
    struct capture_pcap *cp = (struct capture_pcap *)c;
    reader_free(cp);
    if (cp->pc)
        cp->P->close(cp->pc);
    free(cp->path);
    free(cp);
}

static const struct capture_ops capture_pcap_ops = {
    .name = "pcap",
    .next = cpcap_next,
    .linktype = cpcap_linktype,
    .close = cpcap_close,
};

/* The DLT_* value libpcap gives for a file's link type (its linktype_to_dlt()), for the link
 * types proxy/packet/decode.c reads; -1 for any other (libpcap then opens the file, and says
 * what it makes of it). */
static int file_link(uint32_t linktype)
{
    switch (linktype) {
    case 101: return DLT_RAW; /* LINKTYPE_RAW */
    case DLT_NULL:
    case DLT_EN10MB:
    case DLT_PPP:
    case DLT_PPP_SERIAL:
    case DLT_PPP_ETHER:
    case DLT_LOOP:
    case DLT_LINUX_SLL:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_LINUX_SLL2: return (int)linktype; /* the same number in both */
    default: return -1;
    }
}

/* Takes path for this file's reader if it is a classic pcap file, version 2.4, in host byte
 * order, of a link type the decoder reads; otherwise (or on any failure) leaves cp->fd -1 and
 * libpcap reads it all. What libpcap would make of the header is made here: the same link type
 * (file_link) and snapshot length (0, or more than the 256 KiB libpcap allows a record of these
 * link types, counts as 256 KiB: a record over it goes to libpcap, which refuses it). */
static void try_reader(struct capture_pcap *cp, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    uint8_t b[PCAP_FILE_HDR];
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        close(fd);
        return;
    }
    uint32_t magic, snap, linktype;
    uint16_t major, minor;
    memcpy(&magic, b, 4);
    memcpy(&major, b + 4, 2);
    memcpy(&minor, b + 6, 2);
    memcpy(&snap, b + 16, 4);
    memcpy(&linktype, b + 20, 4);
    int link = file_link(linktype);
    if ((magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) || major != 2 || minor != 4 ||
        link < 0) {
        close(fd);
        return;
    }
    /* a chunk holds CAPTURE_PCAP_KEEP + 1 records of the largest size (see the top) */
    if (snap == 0 || snap > PCAP_READER_SNAP_MAX)
        snap = PCAP_READER_SNAP_MAX;
    size_t rec = PCAP_REC_HDR + (size_t)snap;
    size_t chunk = (CAPTURE_PCAP_KEEP + 1) * rec;
    if (chunk < PCAP_CHUNK_MIN)
        chunk = PCAP_CHUNK_MIN;
    /* the part the first steps fill made resident in one call each (a step and the largest
     * record carried over, or the file if smaller): the first reads would otherwise fault on
     * every page (the faults were 5 % of the mobile scan); the rest of a buffer is only used by
     * records too large for KEEP + 1 of them in a step. Advice only. */
    cp->buf_size = (chunk + rec + 4095) & ~(size_t)4095;
    size_t fill = PCAP_STEP + rec;
    if ((uint64_t)sb.st_size < fill)
        fill = (size_t)sb.st_size;
    fill = (fill + 4095) & ~(size_t)4095;
    for (int i = 0; i < 2; i++) {
        void *m =
            mmap(NULL, cp->buf_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cp->buf[i] = m == MAP_FAILED ? NULL : m;
#ifdef MADV_POPULATE_WRITE
        if (cp->buf[i] && (i == 1 || (uint64_t)sb.st_size > PCAP_STEP)) /* buf[1] is read first */
            (void)madvise(m, fill, MADV_POPULATE_WRITE);
#endif
    }
    if (!cp->buf[0] || !cp->buf[1]) {
        reader_free(cp); /* closes no file: cp->fd is still -1 */
        close(fd);
        return;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    cp->fd = fd;
    cp->chunk = chunk;
    cp->off = cp->rd_off = PCAP_FILE_HDR;
    cp->snaplen = snap;
    cp->nsec = magic == PCAP_MAGIC_NS;
    cp->link = link;
}

struct capture *capture_pcap_open_file(const char *path, char *err, size_t errlen)
{
    struct capture_pcap *cp = calloc(1, sizeof(*cp));
    if (!cp || !(cp->path = strdup(path))) {
        snprintf(err, errlen, "capture: %s: out of memory", path);
        free(cp);
        return NULL;
    }
    cp->base.ops = &capture_pcap_ops;
    cp->fd = -1;
    try_reader(cp, path);
    if (cp->fd < 0 && open_libpcap(cp, path, -1, err, errlen) < 0) {
        reader_free(cp);
        free(cp->path);
        free(cp);
        return NULL;
    }
    return &cp->base;
}
