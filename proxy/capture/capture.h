/* capture.h - where packets come from: a small ops table, one file per back end.
 *
 * capture_pcap.c reads pcap and pcapng files (and, for `qorgau run`, live interfaces).
 * A new back end (AF_XDP, DPDK) is one new file that fills struct capture_ops. */
#ifndef QG_CAPTURE_H
#define QG_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture;

/* One frame. data is valid until the next call to next() on the same capture. */
struct capture_frame {
    const uint8_t *data;
    size_t caplen;  /* bytes captured */
    size_t wirelen; /* bytes on the wire */
    uint64_t ts_us; /* capture timestamp, microseconds since the epoch */
};

struct capture_ops {
    const char *name;
    /* Returns 1 and fills *fr, 0 at end of input, or a negative errno (message in err). */
    int (*next)(struct capture *c, struct capture_frame *fr, char *err, size_t errlen);
    int (*linktype)(const struct capture *c); /* DECODE_LINK_* / pcap LINKTYPE_* */
    void (*close)(struct capture *c);
};

struct capture {
    const struct capture_ops *ops;
};

/* Opens a pcap or pcapng file. Returns NULL with a message naming the file in err. */
struct capture *capture_pcap_open_file(const char *path, char *err, size_t errlen);

static inline int capture_next(struct capture *c, struct capture_frame *fr, char *err,
                               size_t errlen)
{
    return c->ops->next(c, fr, err, errlen);
}

static inline void capture_close(struct capture *c)
{
    if (c)
        c->ops->close(c);
}

#endif
