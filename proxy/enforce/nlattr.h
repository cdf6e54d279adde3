/* nlattr.h - walking the messages of a netlink datagram and the attributes of a message
 * (ctnl.c, ipdrop.c). Pure, never reads past len. */
#ifndef QG_NLATTR_H
#define QG_NLATTR_H

#include <errno.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The attribute of p[0..len) at *at: *type (NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off),
 * *data and *dlen, *at moved past it (its padding too). 1; 0 at the end; -EBADMSG for one that
 * does not fit, or bytes left that cannot hold one. */
static inline int nlattr_next(const uint8_t *p, size_t len, size_t *at, uint16_t *type,
                              const uint8_t **data, size_t *dlen)
{
    if (*at >= len)
        return 0;
    if (len - *at < 4)
        return -EBADMSG;
    uint16_t alen, atype;
    memcpy(&alen, p + *at, 2);
    memcpy(&atype, p + *at + 2, 2);
    if (alen < 4 || alen > len - *at)
        return -EBADMSG;
    *type = atype & NLA_TYPE_MASK;
    *data = p + *at + 4;
    *dlen = alen - 4u;
    size_t step = ((size_t)alen + 3u) & ~(size_t)3;
    *at = step > len - *at ? len : *at + step;
    return 1;
}

/* One message of a datagram (nlmsg_next()): its header's type and sequence number, and its
 * payload. */
struct nlmsg_view {
    uint16_t type;
    uint16_t flags; /* NLM_F_*: NLM_F_DUMP_INTR on a dump the kernel's changes interrupted */
    uint32_t seq;
    const uint8_t *p;
    size_t plen;
};

/* The message of buf[0..len) at *off, *off moved past it (its padding too). 1 with *m; 0 at the
 * end (or fewer bytes left than a header); -EBADMSG for one whose length does not fit. */
static inline int nlmsg_next(const uint8_t *buf, size_t len, size_t *off, struct nlmsg_view *m)
{
    if (*off >= len || len - *off < sizeof(struct nlmsghdr))
        return 0;
    struct nlmsghdr nh;
    memcpy(&nh, buf + *off, sizeof(nh));
    if (nh.nlmsg_len < sizeof(nh) || nh.nlmsg_len > len - *off)
        return -EBADMSG;
    m->type = nh.nlmsg_type;
    m->flags = nh.nlmsg_flags;
    m->seq = nh.nlmsg_seq;
    m->p = buf + *off + sizeof(nh);
    m->plen = nh.nlmsg_len - sizeof(nh);
    size_t step = ((size_t)nh.nlmsg_len + 3u) & ~(size_t)3;
    *off = step > len - *off ? len : *off + step;
    return 1;
}

#endif
