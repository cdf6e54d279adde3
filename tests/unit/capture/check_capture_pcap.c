/* check_capture_pcap.c - Check suite for the pcap file back end (proxy/capture_pcap.c).
 *
 * The back end reads classic host-order pcap files with its own reader (chunks into two buffers
 * used in turn) and hands anything else to libpcap. Every case here compares it with libpcap itself (pcap_open_offline +
 * pcap_next_ex) on the same file: same frames, same lengths and timestamps, same end. Files are
 * written by hand so that broken ones (truncated header or record, caplen over snaplen, other
 * byte order, nanosecond magic) can be made. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/capture/capture.h"
#include "proxy/capture/capture_pcap.h"

static char g_path[64];

/* pread() as the back end's reader calls it (this executable's definition comes first): when
 * g_pread_fail_at is set (>= 0), the first call reading from that file offset fails with EIO
 * and g_pread_fail_at goes back to -1. */
static off_t g_pread_fail_at = -1;
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (g_pread_fail_at >= 0 && off == g_pread_fail_at) {
        g_pread_fail_at = -1;
        errno = EIO;
        return -1;
    }
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pread");
    return real(fd, buf, n, off);
}

struct rec {
    uint32_t sec, usec, caplen, wirelen;
    uint8_t fill;
};

static void put32(FILE *f, uint32_t v, bool swap)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    if (swap) {
        uint8_t t = b[0];
        b[0] = b[3];
        b[3] = t;
        t = b[1];
        b[1] = b[2];
        b[2] = t;
    }
    fwrite(b, 1, 4, f);
}

static void put16(FILE *f, uint16_t v, bool swap)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    if (swap) {
        uint8_t t = b[0];
        b[0] = b[1];
        b[1] = t;
    }
    fwrite(b, 1, 2, f);
}

/* Writes a pcap file; truncate_tail bytes are cut from its end. */
static uint32_t g_linktype = 1; /* the next write_file()'s link type (LINKTYPE_*) */

static void write_file(uint32_t magic, bool swap, uint32_t snaplen, const struct rec *r, size_t n,
                       size_t truncate_tail)
{
    snprintf(g_path, sizeof(g_path), "/tmp/qg-check-cap-%d.pcap", (int)getpid());
    FILE *f = fopen(g_path, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, magic, swap);
    put16(f, 2, swap);
    put16(f, 4, swap);
    put32(f, 0, swap);
    put32(f, 0, swap);
    put32(f, snaplen, swap);
    put32(f, g_linktype, swap);
    for (size_t i = 0; i < n; i++) {
        put32(f, r[i].sec, swap);
        put32(f, r[i].usec, swap);
        put32(f, r[i].caplen, swap);
        put32(f, r[i].wirelen, swap);
        for (uint32_t j = 0; j < r[i].caplen; j++)
            fputc((uint8_t)(r[i].fill + j), f);
    }
    long end = ftell(f);
    ck_assert_int_eq(fclose(f), 0);
    if (truncate_tail)
        ck_assert_int_eq(truncate(g_path, end - (long)truncate_tail), 0);
}

/* Reads g_path with both readers and compares them frame by frame. Returns the frame count; the
 * end states (clean end or error) must agree too. */
static size_t compare(void)
{
    char err[256], ebuf[PCAP_ERRBUF_SIZE];
    struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
    pcap_t *p = pcap_open_offline(g_path, ebuf);
    ck_assert_msg((c == NULL) == (p == NULL), "open: ours %s, libpcap %s", c ? "ok" : err,
                  p ? "ok" : ebuf);
    if (!c)
        return 0;
    size_t n = 0;
    for (;;) {
        struct capture_frame fr;
        struct pcap_pkthdr *h;
        const u_char *d;
        int a = capture_next(c, &fr, err, sizeof(err));
        int b = pcap_next_ex(p, &h, &d);
        if (b == PCAP_ERROR_BREAK) {
            ck_assert_msg(a == 0, "libpcap ended, ours returned %d (%s)", a, err);
            break;
        }
        if (b != 1) {
            ck_assert_msg(a < 0, "libpcap failed at frame %zu, ours returned %d", n, a);
            break;
        }
        ck_assert_msg(a == 1, "frame %zu: ours returned %d (%s)", n, a, err);
        ck_assert_uint_eq(fr.caplen, h->caplen);
        ck_assert_uint_eq(fr.wirelen, h->len);
        ck_assert_uint_eq(fr.ts_us, (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec);
        ck_assert(memcmp(fr.data, d, h->caplen) == 0);
        n++;
    }
    capture_close(c);
    pcap_close(p);
    return n;
}

static const struct rec RECS[] = {
    { 1700000000, 1, 60, 60, 0x10 },
    { 1700000000, 999999, 1514, 1514, 0x20 },
    { 1700000001, 5, 0, 0, 0 },
    { 1700000002, 7, 100, 400, 0x30 }, /* cut by the snap length */
};

START_TEST(host_order_matches_libpcap)
{
    write_file(0xa1b2c3d4, false, 65535, RECS, 4, 0);
    ck_assert_uint_eq(compare(), 4);
    unlink(g_path);
}
END_TEST

/* The reader takes a file without libpcap: its link type and snapshot length must be what
 * libpcap makes of the header (pcap_datalink(), the records it accepts), for every link type the
 * decoder reads and for link types and snapshot lengths the reader leaves to libpcap. */
START_TEST(header_read_as_libpcap_does)
{
    static const uint32_t links[] = { 0,   1,   9,   50, 51,  101, 108,        113,
                                      228, 229, 276, 12, 105, 127, 0x04000001u /* FCS bits set */ };
    static const uint32_t snaps[] = { 65535, 0, 100, 262144, 262145, 0x7fffffffu, 0x80000000u };
    struct rec r[3] = { { 1700000000, 1, 60, 60, 1 },
                        { 1700000001, 2, 150, 150, 2 },
                        { 1700000002, 3, 1514, 1514, 3 } };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        for (size_t j = 0; j < sizeof(snaps) / sizeof(snaps[0]); j++) {
            g_linktype = links[i];
            write_file(0xa1b2c3d4, false, snaps[j], r, 3, 0);
            char err[256], ebuf[PCAP_ERRBUF_SIZE];
            struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
            pcap_t *p = pcap_open_offline(g_path, ebuf);
            ck_assert_msg((c == NULL) == (p == NULL), "link %u snap %u: ours %s, libpcap %s",
                          links[i], snaps[j], c ? "opened" : err, p ? "opened" : ebuf);
            if (c) {
                ck_assert_msg(c->ops->linktype(c) == pcap_datalink(p),
                              "link type %u: ours %d, libpcap %d", links[i], c->ops->linktype(c),
                              pcap_datalink(p));
                capture_close(c);
                pcap_close(p);
                ck_assert_uint_eq(compare(), 3); /* the same records, or the same end */
            }
        }
    g_linktype = 1;
    unlink(g_path);
}
END_TEST

START_TEST(batch_frames_stay_valid)
{
    char err[256];
    write_file(0xa1b2c3d4, false, 65535, RECS, 4, 0);
    struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    struct capture_frame fr[8];
    int n = capture_pcap_next_batch(c, fr, 8, err, sizeof(err));
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < n; i++) {
        ck_assert_uint_eq(fr[i].caplen, RECS[i].caplen);
        for (uint32_t j = 0; j < fr[i].caplen; j++)
            ck_assert_uint_eq(fr[i].data[j], (uint8_t)(RECS[i].fill + j));
    }
    ck_assert_int_eq(capture_pcap_next_batch(c, fr, 8, err, sizeof(err)), 0);
    capture_close(c);
    unlink(g_path);
}
END_TEST

/* capture_pcap_offset() (the progress of `qorgau scan`): the bytes read so far, the file size at
 * the end, through the mapping (host order) and through libpcap (other byte order) alike. */
START_TEST(offset_counts_bytes_read)
{
    static const bool swaps[] = { false, true };
    for (size_t k = 0; k < 2; k++) {
        char err[256];
        write_file(0xa1b2c3d4, swaps[k], 65535, RECS, 4, 0);
        struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
        ck_assert_ptr_nonnull(c);
        struct capture_frame fr;
        ck_assert_int_eq(capture_next(c, &fr, err, sizeof(err)), 1);
        uint64_t after1 = capture_pcap_offset(c);
        ck_assert_uint_ge(after1, 24 + 16 + 60); /* header and first record at least */
        size_t n = 1;
        while (capture_next(c, &fr, err, sizeof(err)) == 1)
            n++;
        ck_assert_uint_eq(n, 4);
        uint64_t size = 24 + 4 * 16 + 60 + 1514 + 0 + 100;
        ck_assert_uint_eq(capture_pcap_offset(c), size);
        ck_assert_uint_le(after1, size);
        capture_close(c);
    }
    unlink(g_path);
}
END_TEST

START_TEST(other_byte_order_and_nanoseconds)
{
    write_file(0xa1b2c3d4, true, 65535, RECS, 4, 0);
    ck_assert_uint_eq(compare(), 4);
    write_file(0xa1b23c4d, false, 65535, RECS, 4, 0);
    ck_assert_uint_eq(compare(), 4);
    unlink(g_path);
}
END_TEST

START_TEST(truncated_files)
{
    /* every cut of the last record, and of the file header, ends or fails like libpcap */
    size_t total = 16 + RECS[3].caplen;
    for (size_t cut = 1; cut <= total; cut += 7) {
        write_file(0xa1b2c3d4, false, 65535, RECS, 4, cut);
        ck_assert_uint_eq(compare(), 3);
    }
    write_file(0xa1b2c3d4, false, 65535, RECS, 0, 10); /* header cut: both refuse to open */
    compare();
    unlink(g_path);
}
END_TEST

START_TEST(caplen_over_snaplen)
{
    struct rec bad[2] = { RECS[0], { 1700000003, 0, 3000, 3000, 0x40 } };
    write_file(0xa1b2c3d4, false, 2000, bad, 2, 0);
    compare();
    unlink(g_path);
}
END_TEST

/* A record the reader leaves to libpcap, after the file's path was given to another file: libpcap
 * (loaded and opened only then) reads on in the file the reader read, not the new one. */
START_TEST(handover_reads_the_same_file)
{
    struct rec r[3] = { RECS[0], RECS[1], { 1700000009, 0, 3000, 3000, 0x41 } };
    write_file(0xa1b2c3d4, false, 2000, r, 3, 0); /* the third is over the snapshot length */
    char err[256], other[80];
    struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    struct capture_frame fr;
    ck_assert_int_eq(capture_next(c, &fr, err, sizeof(err)), 1);
    ck_assert_int_eq(capture_next(c, &fr, err, sizeof(err)), 1);
    snprintf(other, sizeof(other), "%s.other", g_path);
    FILE *f = fopen(other, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("not a capture: a file that took the path meanwhile\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(other, g_path), 0);
    /* libpcap truncates the record to the snapshot length, as it would have from the start */
    ck_assert_int_eq(capture_next(c, &fr, err, sizeof(err)), 1);
    ck_assert_uint_eq(fr.caplen, 2000);
    ck_assert_uint_eq(fr.wirelen, 3000);
    ck_assert_uint_eq(fr.data[0], 0x41);
    ck_assert_int_eq(capture_next(c, &fr, err, sizeof(err)), 0);
    capture_close(c);
    unlink(g_path);
}
END_TEST

/* capture_pcap_frame_kept(): frames of the back end's reader are kept (here, the reader's last
 * frames stay valid until capture_close(), also after a record handed the rest of the file to
 * libpcap); libpcap's frames are not kept. */
START_TEST(reader_frames_kept)
{
    char err[256];
    struct rec recs[3] = { RECS[0], RECS[1], { 1700000003, 0, 3000, 3000, 0x40 } };
    write_file(0xa1b2c3d4, false, 2000, recs, 3, 0);
    struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    struct capture_frame kept[2], fr;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(capture_next(c, &kept[i], err, sizeof(err)), 1);
        ck_assert(capture_pcap_frame_kept(c, &kept[i]));
    }
    int rc;
    size_t more = 0;
    while ((rc = capture_next(c, &fr, err, sizeof(err))) == 1) { /* libpcap reads the rest */
        ck_assert(!capture_pcap_frame_kept(c, &fr));
        more++;
    }
    ck_assert_uint_le(more, 1);
    for (int i = 0; i < 2; i++) { /* still readable, still kept */
        ck_assert(capture_pcap_frame_kept(c, &kept[i]));
        for (uint32_t j = 0; j < kept[i].caplen; j++)
            ck_assert_uint_eq(kept[i].data[j], (uint8_t)(recs[i].fill + j));
    }
    struct capture_frame outside = { .data = (const uint8_t *)err, .caplen = 1 };
    ck_assert(!capture_pcap_frame_kept(c, &outside));
    capture_close(c);

    write_file(0xa1b2c3d4, true, 65535, RECS, 4, 0); /* other byte order: libpcap reads it all */
    c = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    size_t n = 0;
    while (capture_next(c, &fr, err, sizeof(err)) == 1) {
        ck_assert(!capture_pcap_frame_kept(c, &fr));
        n++;
    }
    ck_assert_uint_eq(n, 4);
    capture_close(c);
    unlink(g_path);
}
END_TEST

/* capture_pcap_next_frame() (the reader of `qorgau scan`): the frames and the end capture_next()
 * gives, each with what capture_pcap_frame_kept() says of it: read in place, then handed over
 * to libpcap at a record over the snapshot length; libpcap all along (other byte order); a file
 * cut inside its last record. */
START_TEST(next_frame_says_kept)
{
    static const struct rec hand[3] = { { 1700000000, 1, 60, 60, 0x10 },
                                        { 1700000000, 2, 1514, 1514, 0x20 },
                                        { 1700000003, 0, 3000, 3000, 0x40 } };
    static const struct {
        bool swap;
        uint32_t snap;
        const struct rec *r;
        size_t n, cut, kept;
    } cases[] = {
        { false, 2000, hand, 3, 0, 2 },
        { true, 65535, RECS, 4, 0, 0 },
        { false, 65535, RECS, 4, 50, 3 },
        { false, 65535, RECS, 4, 0, 4 },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char err[256], err2[256];
        write_file(0xa1b2c3d4, cases[k].swap, cases[k].snap, cases[k].r, cases[k].n, cases[k].cut);
        struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
        struct capture *ref = capture_pcap_open_file(g_path, err2, sizeof(err2));
        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_nonnull(ref);
        size_t kept_n = 0;
        for (;;) {
            struct capture_frame a, b;
            bool kept = !(k & 1); /* set by the call, whatever it held */
            int rc = capture_pcap_next_frame(c, &a, &kept, err, sizeof(err));
            ck_assert_int_eq(rc, capture_next(ref, &b, err2, sizeof(err2)));
            if (rc != 1)
                break;
            ck_assert(kept == capture_pcap_frame_kept(c, &a));
            kept_n += kept;
            ck_assert_uint_eq(a.caplen, b.caplen);
            ck_assert_uint_eq(a.wirelen, b.wirelen);
            ck_assert_uint_eq(a.ts_us, b.ts_us);
            ck_assert(a.caplen == 0 || memcmp(a.data, b.data, a.caplen) == 0);
        }
        ck_assert_uint_eq(kept_n, cases[k].kept);
        capture_close(c);
        capture_close(ref);
    }
    unlink(g_path);
}
END_TEST

/* Records of every size up to the snapshot length, many megabytes of them: they end past the
 * reader's chunks at every kind of place (inside a header, inside a frame, exactly at the end),
 * the last one cut in the middle too. */
static struct rec *big_records(size_t n)
{
    static const uint32_t sizes[] = { 0, 60, 1514, 9000, 65535, 7, 40000, 16, 65535, 65535 };
    struct rec *r = calloc(n, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < n; i++)
        r[i] = (struct rec){ 1700000000 + (uint32_t)i, (uint32_t)(i * 7 % 1000000),
                             sizes[(i * 3 + i / 10) % 10], sizes[(i * 3 + i / 10) % 10],
                             (uint8_t)(i * 11) };
    return r;
}

START_TEST(records_across_chunks)
{
    struct rec *r = big_records(700);
    write_file(0xa1b2c3d4, false, 65535, r, 700, 0);
    ck_assert_uint_eq(compare(), 700);
    write_file(0xa1b2c3d4, false, 65535, r, 700, 20000); /* the last record cut */
    ck_assert_uint_eq(compare(), 699);
    free(r);
    unlink(g_path);
}
END_TEST

/* Reads the capture at g_path (records r[0..n)) and checks the promise engine_push() relies on:
 * a frame stays as it was read while CAPTURE_PCAP_KEEP more frames are read. */
static void check_kept(const struct rec *r, size_t nrec)
{
    enum { K = CAPTURE_PCAP_KEEP };
    char err[256];
    struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    struct capture_frame ring[K + 1];
    size_t n = 0;
    bool kept;
    for (;;) {
        struct capture_frame fr;
        int rc = capture_pcap_next_frame(c, &fr, &kept, err, sizeof(err));
        if (n >= K) { /* frame n - K, read K frames ago (this one included), still intact */
            const struct capture_frame *o = &ring[(n - K) % (K + 1)];
            ck_assert_uint_eq(o->caplen, r[n - K].caplen);
            uint32_t j = 0;
            while (j < o->caplen && o->data[j] == (uint8_t)(r[n - K].fill + j))
                j++;
            ck_assert_msg(j == o->caplen, "frame %zu (%u bytes) byte %u changed %d reads later",
                          n - K, (unsigned)o->caplen, j, K);
        }
        if (rc != 1)
            break;
        ck_assert(kept);
        ring[n % (K + 1)] = fr;
        n++;
    }
    ck_assert_uint_eq(n, nrec);
    capture_close(c);
}

/* The promise across the reader's chunk changes, records of mixed sizes. */
START_TEST(kept_frames_outlive_keep_reads)
{
    enum { N = 700 };
    struct rec *r = big_records(N);
    write_file(0xa1b2c3d4, false, 65535, r, N, 0);
    check_kept(r, N);
    free(r);
    unlink(g_path);
}
END_TEST

/* The promise where the reader's read steps end after about CAPTURE_PCAP_KEEP records: records
 * of one size each run, swept across that bound, so that a step's records run out after each
 * count of records around it. */
START_TEST(kept_frames_at_the_step_bound)
{
    enum { N = 120 };
    struct rec r[N];
    for (uint32_t size = 6600; size <= 9400; size += 97) {
        for (size_t i = 0; i < N; i++)
            r[i] =
                (struct rec){ 1700000000 + (uint32_t)i, 0, size, size, (uint8_t)(i * 13 + size) };
        write_file(0xa1b2c3d4, false, 65535, r, N, 0);
        check_kept(r, N);
    }
    unlink(g_path);
}
END_TEST

/* A read that fails where a chunk ends exactly at a record's end: the rest is libpcap's (which
 * reads with its own stream and says what it finds), never a clean end of the capture there.
 * 17 records of 65,535 bytes fill the first chunk exactly (17 x 65,551 bytes); the failing read
 * is the first one from the end of those, whatever steps the chunk was read in. */
START_TEST(read_error_at_a_record_boundary)
{
    enum { BIG = 17, N = BIG + 5 };
    struct rec r[N];
    for (size_t i = 0; i < N; i++)
        r[i] = (struct rec){ 1700000000 + (uint32_t)i, 0, i < BIG ? 65535 : 100,
                             i < BIG ? 65535 : 100, (uint8_t)(i * 7) };
    write_file(0xa1b2c3d4, false, 65535, r, N, 0);
    g_pread_fail_at = 24 + BIG * (16 + 65535); /* the read after the first chunk fails */
    ck_assert_uint_eq(compare(), N);
    ck_assert_msg(g_pread_fail_at == -1, "no read started where the first chunk ended");
    g_pread_fail_at = -1;
    unlink(g_path);
}
END_TEST

START_TEST(not_a_capture)
{
    char err[256];
    snprintf(g_path, sizeof(g_path), "/tmp/qg-check-cap-%d.pcap", (int)getpid());
    FILE *f = fopen(g_path, "wb");
    fputs("this is not a capture file at all\n", f);
    fclose(f);
    struct capture *c = capture_pcap_open_file(g_path, err, sizeof(err));
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, g_path) != NULL, "error names the file: %s", err);
    unlink(g_path);
    ck_assert_ptr_null(capture_pcap_open_file("/nonexistent/x.pcap", err, sizeof(err)));
    ck_assert(strstr(err, "/nonexistent/x.pcap") != NULL);
}
END_TEST

static Suite *capture_pcap_suite(void)
{
    Suite *s = suite_create("capture_pcap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, host_order_matches_libpcap);
    tcase_add_test(tc, batch_frames_stay_valid);
    tcase_add_test(tc, offset_counts_bytes_read);
    tcase_add_test(tc, other_byte_order_and_nanoseconds);
    tcase_add_test(tc, truncated_files);
    tcase_add_test(tc, caplen_over_snaplen);
    tcase_add_test(tc, reader_frames_kept);
    tcase_add_test(tc, records_across_chunks);
    tcase_add_test(tc, header_read_as_libpcap_does);
    tcase_add_test(tc, handover_reads_the_same_file);
    tcase_add_test(tc, kept_frames_outlive_keep_reads);
    tcase_add_test(tc, kept_frames_at_the_step_bound);
    tcase_add_test(tc, read_error_at_a_record_boundary);
    tcase_add_test(tc, next_frame_says_kept);
    tcase_add_test(tc, not_a_capture);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(capture_pcap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
