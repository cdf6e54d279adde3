/* ctnl.c - conntrack's netlink messages (see ctnl.h). */
#include "proxy/enforce/ctnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy/enforce/nlattr.h"

#define HDR (sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg))

/* ---- building ---- */

struct wr {
    uint8_t *b;
    size_t cap, at;
    int bad;
};

static void put(struct wr *w, uint16_t type, const void *data, size_t len)
{
    size_t alen = 4 + len, pad = (alen + 3u) & ~(size_t)3;
    if (w->bad || w->at + pad > w->cap || alen > UINT16_MAX) {
        w->bad = 1;
        return;
    }
    uint16_t l16 = (uint16_t)alen;
    memcpy(w->b + w->at, &l16, 2);
    memcpy(w->b + w->at + 2, &type, 2);
    if (len)
        memcpy(w->b + w->at + 4, data, len);
    memset(w->b + w->at + alen, 0, pad - alen);
    w->at += pad;
}

/* Opens a nested attribute; returns where its header is (for nest_end). */
static size_t nest(struct wr *w, uint16_t type)
{
    size_t at = w->at;
    put(w, (uint16_t)(type | NLA_F_NESTED), NULL, 0);
    return at;
}

static void nest_end(struct wr *w, size_t at)
{
    if (w->bad)
        return;
    uint16_t l16 = (uint16_t)(w->at - at);
    memcpy(w->b + at, &l16, 2);
}

static void start(struct wr *w, uint8_t *buf, size_t cap, uint8_t family)
{
    w->b = buf;
    w->cap = cap;
    w->at = HDR;
    w->bad = cap < HDR;
    if (w->bad)
        return;
    memset(buf, 0, HDR);
    struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = 0 };
    memcpy(buf + sizeof(struct nlmsghdr), &g, sizeof(g));
}

static size_t finish(struct wr *w, uint16_t msg, uint16_t flags, uint32_t seq)
{
    if (w->bad)
        return 0;
    struct nlmsghdr nh = { .nlmsg_len = (uint32_t)w->at,
                           .nlmsg_type = (uint16_t)(NFNL_SUBSYS_CTNETLINK << 8 | msg),
                           .nlmsg_flags = flags,
                           .nlmsg_seq = seq,
                           .nlmsg_pid = 0 };
    memcpy(w->b, &nh, sizeof(nh));
    return w->at;
}

static void put_tuple(struct wr *w, const struct ctnl_tuple *t)
{
    size_t o = nest(w, CTA_TUPLE_ORIG);
    size_t ip = nest(w, CTA_TUPLE_IP);
    if (t->ipver == 6) {
        put(w, CTA_IP_V6_SRC, t->src, 16);
        put(w, CTA_IP_V6_DST, t->dst, 16);
    } else {
        put(w, CTA_IP_V4_SRC, t->src, 4);
        put(w, CTA_IP_V4_DST, t->dst, 4);
    }
    nest_end(w, ip);
    size_t pr = nest(w, CTA_TUPLE_PROTO);
    uint16_t sp = htons(t->sport), dp = htons(t->dport);
    put(w, CTA_PROTO_NUM, &t->proto, 1);
    put(w, CTA_PROTO_SRC_PORT, &sp, 2);
    put(w, CTA_PROTO_DST_PORT, &dp, 2);
    nest_end(w, pr);
    nest_end(w, o);
}

size_t ctnl_mark_request(uint8_t *buf, size_t cap, const struct ctnl_tuple *t, uint32_t mark,
                         uint32_t mask, uint32_t seq)
{
    struct wr w;
    start(&w, buf, cap, t->ipver == 6 ? AF_INET6 : AF_INET);
    put_tuple(&w, t);
    uint32_t m = htonl(mark & mask), k = htonl(mask);
    put(&w, CTA_MARK, &m, 4);
    put(&w, CTA_MARK_MASK, &k, 4);
    return finish(&w, IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_ACK, seq);
}

size_t ctnl_get_request(uint8_t *buf, size_t cap, const struct ctnl_tuple *t, uint32_t seq)
{
    struct wr w;
    start(&w, buf, cap, t->ipver == 6 ? AF_INET6 : AF_INET);
    put_tuple(&w, t);
    return finish(&w, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_ACK, seq);
}

size_t ctnl_dump_request(uint8_t *buf, size_t cap, uint32_t mark, uint32_t mask, uint32_t seq)
{
    struct wr w;
    start(&w, buf, cap, AF_UNSPEC);
    uint32_t m = htonl(mark & mask), k = htonl(mask);
    put(&w, CTA_MARK, &m, 4);
    put(&w, CTA_MARK_MASK, &k, 4);
    return finish(&w, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq);
}

/* ---- reading ---- */

/* The addresses of a tuple: both of one family (a message that mixes them is not read as a
 * tuple: *have gets neither bit). */
static int read_ip(const uint8_t *p, size_t len, struct ctnl_tuple *t, int *have)
{
    size_t at = 0;
    uint16_t type;
    const uint8_t *d;
    size_t n;
    int rc, v4 = 0, v6 = 0;
    uint8_t s4[4] = { 0 }, d4[4] = { 0 }, s6[16] = { 0 }, d6[16] = { 0 };
    while ((rc = nlattr_next(p, len, &at, &type, &d, &n)) == 1) {
        if ((type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST) && n == 4) {
            memcpy(type == CTA_IP_V4_SRC ? s4 : d4, d, 4);
            v4 |= type == CTA_IP_V4_SRC ? 1 : 2;
        } else if ((type == CTA_IP_V6_SRC || type == CTA_IP_V6_DST) && n == 16) {
            memcpy(type == CTA_IP_V6_SRC ? s6 : d6, d, 16);
            v6 |= type == CTA_IP_V6_SRC ? 1 : 2;
        }
    }
    memset(t->src, 0, sizeof(t->src));
    memset(t->dst, 0, sizeof(t->dst));
    if (v4 == 3 && !v6) {
        t->ipver = 4;
        memcpy(t->src, s4, 4);
        memcpy(t->dst, d4, 4);
        *have |= 3;
    } else if (v6 == 3 && !v4) {
        t->ipver = 6;
        memcpy(t->src, s6, 16);
        memcpy(t->dst, d6, 16);
        *have |= 3;
    }
    return rc;
}

static int read_proto(const uint8_t *p, size_t len, struct ctnl_tuple *t, int *have)
{
    size_t at = 0;
    uint16_t type;
    const uint8_t *d;
    size_t n;
    int rc;
    while ((rc = nlattr_next(p, len, &at, &type, &d, &n)) == 1) {
        uint16_t port;
        if (type == CTA_PROTO_NUM && n >= 1) {
            t->proto = d[0];
            *have |= 4;
        } else if ((type == CTA_PROTO_SRC_PORT || type == CTA_PROTO_DST_PORT) && n == 2) {
            memcpy(&port, d, 2);
            if (type == CTA_PROTO_SRC_PORT)
                t->sport = ntohs(port);
            else
                t->dport = ntohs(port);
            *have |= type == CTA_PROTO_SRC_PORT ? 8 : 16;
        }
    }
    return rc;
}

static int read_tuple(const uint8_t *p, size_t len, struct ctnl_tuple *t, int *ok)
{
    size_t at = 0;
    uint16_t type;
    const uint8_t *d;
    size_t n;
    int rc, have = 0;
    memset(t, 0, sizeof(*t));
    while ((rc = nlattr_next(p, len, &at, &type, &d, &n)) == 1) {
        int r = 0;
        if (type == CTA_TUPLE_IP)
            r = read_ip(d, n, t, &have);
        else if (type == CTA_TUPLE_PROTO)
            r = read_proto(d, n, t, &have);
        if (r < 0)
            return r;
    }
    *ok = rc == 0 && have == 31 && (t->proto == 6 || t->proto == 17);
    return rc;
}

int ctnl_next(const uint8_t *buf, size_t len, size_t *off, struct ctnl_msg *m)
{
    memset(m, 0, sizeof(*m));
    struct nlmsg_view nh;
    int rm = nlmsg_next(buf, len, off, &nh);
    if (rm <= 0)
        return rm;
    const uint8_t *p = nh.p;
    size_t plen = nh.plen;
    m->seq = nh.seq;
    if (nh.type == NLMSG_ERROR) {
        int32_t e;
        if (plen < sizeof(e))
            return -EBADMSG;
        memcpy(&e, p, sizeof(e));
        m->kind = CTNL_ERROR;
        m->err = e > 0 ? -e : e;
        return 1;
    }
    if (nh.type == NLMSG_DONE) {
        m->kind = CTNL_DONE;
        return 1;
    }
    uint16_t msg = nh.type & 0xff;
    if ((nh.type >> 8) != NFNL_SUBSYS_CTNETLINK ||
        (msg != IPCTNL_MSG_CT_NEW && msg != IPCTNL_MSG_CT_DELETE)) {
        m->kind = CTNL_OTHER;
        return 1;
    }
    if (plen < sizeof(struct nfgenmsg))
        return -EBADMSG;
    p += sizeof(struct nfgenmsg);
    plen -= sizeof(struct nfgenmsg);
    m->kind = CTNL_CONN;
    size_t at = 0;
    uint16_t type;
    const uint8_t *d;
    size_t n;
    int rc;
    while ((rc = nlattr_next(p, plen, &at, &type, &d, &n)) == 1) {
        if (type == CTA_TUPLE_ORIG) {
            if (read_tuple(d, n, &m->t, &m->has_tuple) < 0)
                return -EBADMSG;
        } else if (type == CTA_MARK && n == 4) {
            uint32_t v;
            memcpy(&v, d, 4);
            m->mark = ntohl(v);
            m->has_mark = 1;
        }
    }
    return rc < 0 ? rc : 1;
}
