/* capture_queue.c - NFQUEUE packet source (see capture_queue.h): a libmnl netlink socket bound to
 * one queue, messages parsed by capture_queue_parse(), verdicts built with libnetfilter_queue's
 * message builders into one buffer and sent together (capture_queue_flush). Both libraries are
 * loaded when the first queue is opened (nfqlib.h). */
#include "proxy/capture/capture_queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/capture/nfqlib.h"
#include "proxy/packet/decode.h"

_Static_assert(CAPTURE_QUEUE_DROP == NF_DROP && CAPTURE_QUEUE_ACCEPT == NF_ACCEPT &&
                   CAPTURE_QUEUE_REPEAT == NF_REPEAT,
               "verdict values are the kernel's");

/* The kernel sends each queued packet as its own netlink datagram, and one recv() returns one
 * datagram: recvmmsg() reads up to QUEUE_SLOTS of them at once into slots large enough for the
 * largest message (a 65535-byte payload copy and its attributes), so that their verdicts can
 * leave together. */
#define QUEUE_SLOTS      16
#define QUEUE_SLOT_BYTES (68 * 1024)
#define QUEUE_RECV_BYTES (QUEUE_SLOTS * QUEUE_SLOT_BYTES)
#define QUEUE_MSG_BYTES  256         /* a verdict or configuration message */
#define QUEUE_VBUF_BYTES (16 * 1024) /* verdicts sent in one sendto() (about 400) */

struct capture_queue {
    struct capture base;
    struct mnl_socket *nl;
    int fd;
    uint16_t num;
    uint32_t portid;
    uint32_t last_id;
    unsigned slot, nslot; /* the slot being read, slots filled by the last recvmmsg() */
    size_t pos, end;      /* unread messages in the slot */
    struct mmsghdr mm[QUEUE_SLOTS];
    struct iovec iov[QUEUE_SLOTS];
    struct capture_queue_stats st;
    size_t vlen; /* bytes of verdict messages waiting in vbuf */
    _Alignas(4) uint8_t vbuf[QUEUE_VBUF_BYTES];
    uint8_t rbuf[QUEUE_RECV_BYTES];
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16h(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v; /* netlink headers are in host order */
}

static uint32_t rd32h(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

int capture_queue_parse(const uint8_t *buf, size_t len, struct capture_queue_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < 16)
        return -EBADMSG;
    uint32_t mlen = rd32h(buf);
    uint16_t type = rd16h(buf + 4);
    if (mlen < 16 || mlen > len)
        return -EBADMSG;
    if (type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
        return 0;
    size_t off = 16 + 4; /* nlmsghdr + nfgenmsg */
    if (mlen < off)
        return -EBADMSG;
    bool have_hdr = false, have_payload = false;
    while (off + 4 <= mlen) {
        uint16_t alen = rd16h(buf + off);
        uint16_t atype = rd16h(buf + off + 2) & NLA_TYPE_MASK;
        if (alen < 4 || alen > mlen - off)
            return -EBADMSG;
        const uint8_t *a = buf + off + 4;
        size_t dl = (size_t)alen - 4;
        switch (atype) {
        case NFQA_PACKET_HDR:
            if (dl < 7)
                return -EBADMSG;
            m->id = rd32(a);
            m->hw_protocol = (uint16_t)(a[4] << 8 | a[5]);
            have_hdr = true;
            break;
        case NFQA_PAYLOAD:
            m->payload = a;
            m->len = dl;
            have_payload = true;
            break;
        case NFQA_MARK:
            if (dl < 4)
                return -EBADMSG;
            m->mark = rd32(a);
            m->has_mark = true;
            break;
        case NFQA_CAP_LEN:
            if (dl < 4)
                return -EBADMSG;
            m->wirelen = rd32(a);
            break;
        default: break;
        }
        size_t step = ((size_t)alen + 3) & ~(size_t)3;
        if (step > mlen - off)
            break;
        off += step;
    }
    if (!have_hdr)
        return -EBADMSG;
    if (!have_payload) {
        m->payload = buf + mlen; /* empty */
        m->len = 0;
    }
    if (m->wirelen < m->len)
        m->wirelen = m->len;
    return 1;
}

int capture_queue_parse_error(const uint8_t *buf, size_t len)
{
    if (len < 16 + 4)
        return 0;
    uint32_t mlen = rd32h(buf);
    if (rd16h(buf + 4) != NLMSG_ERROR || mlen < 16 + 4 || mlen > len)
        return 0;
    int32_t e;
    memcpy(&e, buf + 16, 4);
    if (e >= 0)
        return 0;                    /* an acknowledgement */
    return e >= -4095 ? e : -EPROTO; /* not an errno the kernel sends */
}

size_t capture_queue_put_verdict(uint8_t *buf, size_t cap, uint16_t num, uint32_t id, int verdict,
                                 bool with_mark, uint32_t mark)
{
    if (cap < QUEUE_MSG_BYTES || ((uintptr_t)buf & 3u) || nfqlib_load(NULL, 0) < 0)
        return 0;
    struct nlmsghdr *nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_VERDICT, num);
    nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
    if (with_mark)
        nfq_nlmsg_verdict_put_mark(nlh, mark);
    return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Sends one configuration message and waits for its ack. Returns 0 or -errno. */
static int cfg_send(struct capture_queue *q, struct nlmsghdr *nlh)
{
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = (uint32_t)time(NULL);
    if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(q->nl, q->rbuf, sizeof(q->rbuf));
        if (n < 0)
            return -errno;
        int rc = mnl_cb_run(q->rbuf, (size_t)n, nlh->nlmsg_seq, q->portid, NULL, NULL);
        if (rc < 0)
            return -errno;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static int q_next(struct capture *c, struct capture_frame *fr, char *err, size_t errlen)
{
    struct capture_queue *q = (struct capture_queue *)c;
    for (;;) {
        if (q->pos >= q->end && q->slot + 1 < q->nslot) {
            q->slot++;
            q->pos = 0;
            q->end = q->mm[q->slot].msg_len;
            if (q->mm[q->slot].msg_hdr.msg_flags & MSG_TRUNC) {
                q->st.bad_messages++; /* cannot happen with slots this size */
                q->pos = q->end;
            }
            continue;
        }
        if (q->pos >= q->end) {
            /* the verdicts of what the last recvmmsg() brought leave in one message */
            (void)capture_queue_flush(c);
            for (unsigned k = 0; k < QUEUE_SLOTS; k++) {
                q->iov[k].iov_base = q->rbuf + (size_t)k * QUEUE_SLOT_BYTES;
                q->iov[k].iov_len = QUEUE_SLOT_BYTES;
                memset(&q->mm[k].msg_hdr, 0, sizeof(q->mm[k].msg_hdr));
                q->mm[k].msg_hdr.msg_iov = &q->iov[k];
                q->mm[k].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(q->fd, q->mm, QUEUE_SLOTS, MSG_DONTWAIT, NULL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return -EAGAIN;
                if (errno == ENOBUFS) {
                    q->st.enobufs++;
                    continue;
                }
                int e = errno;
                snprintf(err, errlen, "queue %u: recvmmsg() failed: %s", q->num, strerror(e));
                return -e;
            }
            q->st.reads++;
            q->nslot = (unsigned)n;
            q->slot = 0;
            q->pos = 0;
            q->end = n > 0 ? q->mm[0].msg_len : 0;
            if (n > 0 && (q->mm[0].msg_hdr.msg_flags & MSG_TRUNC)) {
                q->st.bad_messages++;
                q->pos = q->end;
            }
            if (n == 0)
                return -EAGAIN;
        }
        const uint8_t *p = q->rbuf + (size_t)q->slot * QUEUE_SLOT_BYTES + q->pos;
        size_t left = q->end - q->pos;
        struct capture_queue_msg m;
        int rc = capture_queue_parse(p, left, &m);
        if (rc < 0) {
            q->st.bad_messages++;
            q->pos = q->end; /* the rest of the datagram cannot be framed */
            continue;
        }
        size_t mlen = (rd32h(p) + 3u) & ~(size_t)3;
        q->pos += mlen < left ? mlen : left;
        if (rc == 0) {
            if (capture_queue_parse_error(p, left) < 0)
                q->st.verdict_errors++; /* the kernel refused one verdict of a batch */
            continue;
        }
        q->st.packets++;
        q->last_id = m.id;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fr->data = m.payload;
        fr->caplen = m.len;
        fr->wirelen = m.wirelen;
        fr->ts_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        return 1;
    }
}

static int q_linktype(const struct capture *c)
{
    (void)c;
    return DECODE_LINK_RAW;
}

static void q_close(struct capture *c)
{
    struct capture_queue *q = (struct capture_queue *)c;
    if (!q)
        return;
    if (q->nl) {
        (void)capture_queue_flush(c);
        mnl_socket_close(q->nl);
    }
    free(q);
}

static const struct capture_ops queue_ops = {
    .name = "queue",
    .next = q_next,
    .linktype = q_linktype,
    .close = q_close,
};

struct capture *capture_queue_open(const struct capture_queue_config *cfg, char *err, size_t errlen)
{
    struct capture_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "queue %u: out of memory", cfg->num);
        return NULL;
    }
    q->base.ops = &queue_ops;
    q->num = cfg->num;
    char why[160];
    if (nfqlib_load(why, sizeof(why)) < 0) {
        snprintf(err, errlen, "queue %u: %s", cfg->num, why);
        free(q);
        return NULL;
    }
    const char *step = "socket";
    int rc;
    q->nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!q->nl)
        goto sys;
    step = "bind";
    if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
        goto sys;
    q->portid = mnl_socket_get_portid(q->nl);
    q->fd = mnl_socket_get_fd(q->nl);
    if (cfg->rcvbuf) {
        int sz = cfg->rcvbuf > (size_t)1 << 30 ? 1 << 30 : (int)cfg->rcvbuf;
        if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
            (void)setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }

    char buf[QUEUE_MSG_BYTES];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, cfg->num);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    step = "bind to the queue";
    if ((rc = cfg_send(q, nlh)) < 0)
        goto fail;

    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, cfg->num);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET,
                             (int)(cfg->copy_range ? cfg->copy_range : 0xffff));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->maxlen ? cfg->maxlen : 4096);
    uint32_t flags = cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
    step = "configure the queue";
    if ((rc = cfg_send(q, nlh)) < 0)
        goto fail;
    return &q->base;

sys:
    rc = -errno;
fail:
    snprintf(err, errlen, "queue %u: %s failed: %s", cfg->num, step, strerror(-rc));
    q_close(&q->base);
    return NULL;
}

int capture_queue_fd(const struct capture *c)
{
    return ((const struct capture_queue *)c)->fd;
}

uint32_t capture_queue_id(const struct capture *c)
{
    return ((const struct capture_queue *)c)->last_id;
}

int capture_queue_verdict(struct capture *c, uint32_t id, int verdict, bool with_mark,
                          uint32_t mark)
{
    struct capture_queue *q = (struct capture_queue *)c;
    int rc = 0;
    if (sizeof(q->vbuf) - q->vlen < QUEUE_MSG_BYTES)
        rc = capture_queue_flush(c);
    q->vlen += capture_queue_put_verdict(q->vbuf + q->vlen, sizeof(q->vbuf) - q->vlen, q->num, id,
                                         verdict, with_mark, mark);
    q->st.verdicts++;
    return rc;
}

bool capture_queue_more(const struct capture *c)
{
    const struct capture_queue *q = (const struct capture_queue *)c;
    return q->pos < q->end || q->slot + 1 < q->nslot;
}

int capture_queue_flush(struct capture *c)
{
    struct capture_queue *q = (struct capture_queue *)c;
    if (!q->vlen)
        return 0;
    int rc = 0;
    if (mnl_socket_sendto(q->nl, q->vbuf, q->vlen) < 0) {
        /* refused whole (no memory for the copy): each message alone, so one that cannot be
         * sent does not keep the others' packets in the kernel */
        for (size_t off = 0; off < q->vlen;) {
            const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)(q->vbuf + off);
            if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
                q->st.verdict_errors++;
                rc = -errno;
            }
            off += NLMSG_ALIGN(nlh->nlmsg_len);
        }
    }
    q->st.flushes++;
    q->vlen = 0;
    return rc;
}

void capture_queue_stats(const struct capture *c, struct capture_queue_stats *st)
{
    *st = ((const struct capture_queue *)c)->st;
}

/* Reads an unsigned decimal at *p (after spaces), advancing *p. Returns false when none. */
static bool read_u64(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q >= end || *q < '0' || *q > '9')
        return false;
    uint64_t x = 0;
    while (q < end && *q >= '0' && *q <= '9') {
        x = x * 10 + (uint64_t)(*q - '0');
        q++;
    }
    *v = x;
    *p = q;
    return true;
}

int capture_queue_parse_proc(const char *text, size_t len, uint16_t num,
                             struct capture_queue_kstats *ks)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        uint64_t f[7];
        const char *q = p;
        unsigned n = 0;
        while (n < 7 && read_u64(&q, le, &f[n]))
            n++;
        if (n == 7 && f[0] == num) {
            ks->waiting = f[2];
            ks->dropped = f[5];
            ks->user_dropped = f[6];
            return 1;
        }
        p = eol ? eol + 1 : end;
    }
    return 0;
}

int capture_queue_kernel_stats(const struct capture *c, struct capture_queue_kstats *ks)
{
    const struct capture_queue *q = (const struct capture_queue *)c;
    char buf[8192];
    int fd = open("/proc/net/netfilter/nfnetlink_queue", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)n;
    close(fd);
    return capture_queue_parse_proc(buf, len, q->num, ks) == 1 ? 0 : -ENOENT;
}
