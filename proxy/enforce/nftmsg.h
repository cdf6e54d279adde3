/* nftmsg.h - nf_tables requests over netlink, and walking their answers (ipdrop.c's counters
 * and elements, feedrules.c's rule dump). Pure, never reads past len. */
#ifndef QG_NFTMSG_H
#define QG_NFTMSG_H

#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/enforce/nlattr.h"

/* Appends attribute (type, data[0..len)) at buf[at..cap), padded. The offset past it, or 0 when
 * it does not fit (at 0: an earlier step did not fit: 0 back). */
static inline size_t nftmsg_put_attr(uint8_t *buf, size_t at, size_t cap, uint16_t type,
                                     const void *data, size_t len)
{
    size_t alen = 4 + len, pad = (alen + 3u) & ~(size_t)3;
    if (at == 0 || at + pad > cap || alen > UINT16_MAX)
        return 0;
    uint16_t l16 = (uint16_t)alen;
    memcpy(buf + at, &l16, 2);
    memcpy(buf + at + 2, &type, 2);
    if (len)
        memcpy(buf + at + 4, data, len);
    memset(buf + at + alen, 0, pad - alen);
    return at + pad;
}

/* The start of a nf_tables request for family (NFPROTO_*; NFPROTO_UNSPEC: every family, in a
 * dump): room for its netlink header, then its nfgenmsg. The offset its attributes start at,
 * or 0 when cap is too small. */
static inline size_t nftmsg_begin(uint8_t *buf, size_t cap, uint8_t family)
{
    size_t at = sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg);
    if (cap < at)
        return 0;
    memset(buf, 0, at);
    struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = 0 };
    memcpy(buf + sizeof(struct nlmsghdr), &g, sizeof(g));
    return at;
}

/* Writes the netlink header of a request of at bytes, message msg (NFT_MSG_*). at, or 0 when
 * at is 0 (it did not fit). */
static inline size_t nftmsg_end(uint8_t *buf, size_t at, uint16_t msg, uint16_t flags, uint32_t seq)
{
    if (!at)
        return 0;
    struct nlmsghdr nh = { .nlmsg_len = (uint32_t)at,
                           .nlmsg_type = (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | msg),
                           .nlmsg_flags = flags,
                           .nlmsg_seq = seq,
                           .nlmsg_pid = 0 };
    memcpy(buf, &nh, sizeof(nh));
    return at;
}

/* One netlink message answering a request (nftmsg_next()): its type, the family of its
 * nfgenmsg (a nf_tables message's), and its payload past that nfgenmsg. */
struct nftmsg {
    uint16_t type;
    uint16_t flags; /* the netlink header's NLM_F_* */
    uint8_t family;
    const uint8_t *p;
    size_t plen;
};

/* The next message of the datagram buf[*off..len) that answers seq, *off moved past it: 1 with
 * *m; 0 at the datagram's end; the negative errno an NLMSG_ERROR carries (an acknowledgement,
 * error 0, is passed over); -EBADMSG for a message that does not fit. */
static inline int nftmsg_next(const uint8_t *buf, size_t len, size_t *off, uint32_t seq,
                              struct nftmsg *m)
{
    struct nlmsg_view v;
    int rc;
    while ((rc = nlmsg_next(buf, len, off, &v)) == 1) {
        if (v.seq != seq)
            continue;
        m->family = 0;
        if (v.type == NLMSG_ERROR) {
            int32_t e;
            if (v.plen < sizeof(e))
                return -EBADMSG;
            memcpy(&e, v.p, sizeof(e));
            if (e < 0)
                return e;
            continue;
        }
        if (v.type >> 8 == NFNL_SUBSYS_NFTABLES) {
            struct nfgenmsg g;
            if (v.plen < sizeof(g))
                return -EBADMSG;
            memcpy(&g, v.p, sizeof(g));
            m->family = g.nfgen_family;
            v.p += sizeof(g);
            v.plen -= sizeof(g);
        }
        m->type = v.type;
        m->flags = v.flags;
        m->p = v.p;
        m->plen = v.plen;
        return 1;
    }
    return rc;
}

#endif
