/* capture_queue.h - packets held by the kernel in an NFQUEUE (nfnetlink_queue), the source of
 * queue mode. Fills struct capture_ops (capture.h): next() hands out the IP packet of one queued
 * packet (link type DECODE_LINK_RAW), and the packet stays in the kernel until a verdict is set
 * for its id (capture_queue_verdict): accept, drop, or repeat (the packet goes through the hook
 * again from its first rule, with a mark the rules turn into a connection mark).
 *
 * One handle = one netlink socket bound to one queue number, copy mode NFQNL_COPY_PACKET, the
 * kernel's queue length and the fail-open flag (NFQA_CFG_F_FAIL_OPEN: a full queue lets packets
 * through instead of dropping them) as configured. Reads are non-blocking: next() returns -EAGAIN
 * when nothing waits (poll capture_queue_fd()). One read takes up to 16 queued packets
 * (recvmmsg(): the kernel sends each as its own datagram), and verdicts are gathered and sent
 * together (capture_queue_flush). Messages the kernel could not deliver because the
 * socket buffer was full (ENOBUFS) are counted; their packets stay queued until the kernel's own
 * queue overflows (then fail-open or drop). */
#ifndef QG_CAPTURE_QUEUE_H
#define QG_CAPTURE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/capture/capture.h"

/* Verdicts (the values of linux/netfilter.h's NF_DROP, NF_ACCEPT, NF_REPEAT). */
#define CAPTURE_QUEUE_DROP   0
#define CAPTURE_QUEUE_ACCEPT 1
#define CAPTURE_QUEUE_REPEAT 4

struct capture_queue_config {
    uint16_t num;        /* queue number */
    uint32_t maxlen;     /* packets the kernel keeps waiting for a verdict on this queue */
    bool fail_open;      /* queue full: accept (true) or drop (false) */
    uint32_t copy_range; /* bytes of each packet copied to user space (0: 65535) */
    size_t rcvbuf;       /* socket receive buffer (SO_RCVBUFFORCE); 0: the system default */
};

/* One queued packet as read from a netlink message. */
struct capture_queue_msg {
    uint32_t id;            /* packet id, for the verdict */
    uint16_t hw_protocol;   /* ethertype, host order */
    const uint8_t *payload; /* the IP packet (inside the message buffer) */
    size_t len;             /* bytes of payload copied */
    size_t wirelen;         /* bytes of the packet (NFQA_CAP_LEN when the copy was cut) */
    bool has_mark;
    uint32_t mark;
};

/* Parses one nfnetlink message (nlmsghdr + nfgenmsg + attributes, len bytes) of a queue socket.
 * Returns 1 and fills m for an NFQNL_MSG_PACKET message with a packet header and a payload, 0 for
 * another message (an ack, an error, a control message), or -EBADMSG when a length is
 * inconsistent or the packet header is missing (nothing outside buf is read). Pure. */
int capture_queue_parse(const uint8_t *buf, size_t len, struct capture_queue_msg *m);

/* Opens and binds the queue (needs CAP_NET_ADMIN: call as root). Returns the handle or NULL with
 * "queue N: <step> failed: <reason>" in err (EBUSY/EPERM: another program holds the queue). */
struct capture *capture_queue_open(const struct capture_queue_config *cfg, char *err,
                                   size_t errlen);

/* A descriptor to poll(2) for POLLIN after next() returned -EAGAIN. */
int capture_queue_fd(const struct capture *c);

/* The id of the packet next() returned last. */
uint32_t capture_queue_id(const struct capture *c);

/* Sets the verdict of packet id: CAPTURE_QUEUE_DROP, _ACCEPT or _REPEAT; with_mark also sets the
 * packet's mark to mark. The verdict is appended to the handle's verdict buffer and reaches the
 * kernel with the next capture_queue_flush(): next() flushes before each read (one recvmmsg()
 * of up to 16 queued packets), so the verdicts of everything one read brought leave in one
 * sendto(), in the order they were set (the kernel applies them in that order, one message at
 * a time). A full buffer is flushed first. Returns 0, or a negative errno when that flush
 * failed. No allocation. */
int capture_queue_verdict(struct capture *c, uint32_t id, int verdict, bool with_mark,
                          uint32_t mark);

/* Sends the verdicts set since the last flush in one sendto() (nothing when none). Call it
 * before anything that must reach the network after them (forged packets), and before waiting.
 * When the socket refuses the buffer, each verdict is sent alone and the ones refused again are
 * counted (verdict_errors). A verdict the kernel refuses (an unknown id) comes back as an error
 * message that next() counts the same way. Returns 0 or a negative errno. */
int capture_queue_flush(struct capture *c);

/* True while messages of the last read remain for next(): the caller that wants the verdicts
 * of one read out before anything else (capture_queue_flush) does it when this turns false. */
bool capture_queue_more(const struct capture *c);

/* Appends one verdict message (nlmsghdr, nfgenmsg, NFQA_VERDICT_HDR, NFQA_MARK with with_mark;
 * the flags NLM_F_REQUEST only: the kernel answers errors alone) for packet id of queue num at
 * buf (4-byte aligned, cap bytes free). Returns the bytes used (padded to 4), or 0 when cap is
 * under 256, buf is not aligned or libnetfilter_queue cannot be loaded (its builders write the
 * message; nfqlib.h loads it at the first call). Pure otherwise. */
size_t capture_queue_put_verdict(uint8_t *buf, size_t cap, uint16_t num, uint32_t id, int verdict,
                                 bool with_mark, uint32_t mark);

/* The error of one netlink message of len bytes at buf: a negative errno for an NLMSG_ERROR
 * message carrying one (-EPROTO for a value no errno has), 0 for anything else (an
 * acknowledgement, a packet, a short message). Pure. */
int capture_queue_parse_error(const uint8_t *buf, size_t len);

struct capture_queue_stats {
    uint64_t packets;        /* packets read */
    uint64_t verdicts;       /* verdicts set */
    uint64_t verdict_errors; /* verdicts the socket or the kernel refused */
    uint64_t flushes;        /* sendto() calls carrying verdicts */
    uint64_t reads;          /* recvmmsg() calls that returned messages */
    uint64_t enobufs;        /* times the kernel dropped messages for a full socket buffer */
    uint64_t bad_messages;   /* messages capture_queue_parse() refused */
};
void capture_queue_stats(const struct capture *c, struct capture_queue_stats *st);

/* The kernel's view of one queue (/proc/net/netfilter/nfnetlink_queue, per network namespace). */
struct capture_queue_kstats {
    uint64_t waiting;      /* packets queued and not yet given a verdict (held ones included) */
    uint64_t dropped;      /* packets dropped for a full queue (fail-closed; with fail-open the
                            * kernel lets them through without counting) */
    uint64_t user_dropped; /* packets dropped because their message could not be delivered */
};

/* Finds queue num in the text of /proc/net/netfilter/nfnetlink_queue (len bytes, one line a
 * queue: number, portid, waiting, copy mode, copy range, dropped, user dropped, id, 1). Returns
 * 1 and fills ks, 0 when the queue is not listed. Pure. */
int capture_queue_parse_proc(const char *text, size_t len, uint16_t num,
                             struct capture_queue_kstats *ks);

/* Reads the kernel's figures of c's queue. Returns 0, -ENOENT (not listed) or -errno. No
 * allocation (a stack buffer); call it from a periodic path, not per packet. */
int capture_queue_kernel_stats(const struct capture *c, struct capture_queue_kstats *ks);

#endif
