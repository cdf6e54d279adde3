/* feedrules.c - the kernel's NFQUEUE rules, read from nf_tables and judged against queue
 * mode's workers (feedrules.h).
 *
 * A rule as the dump gives it (NFT_MSG_NEWRULE, after the nfgenmsg whose family is the table's):
 *
 *   NFTA_RULE_TABLE "qorgau"  NFTA_RULE_CHAIN "QORGAU"  NFTA_RULE_HANDLE be64
 *   NFTA_RULE_EXPRESSIONS { NFTA_LIST_ELEM { NFTA_EXPR_NAME "queue" | "target" ...,
 *                                            NFTA_EXPR_DATA { ... } } ... }
 *
 *   nft `queue num 0-1 bypass`:   "queue"  { NFTA_QUEUE_NUM be16, NFTA_QUEUE_TOTAL be16,
 *                                            NFTA_QUEUE_FLAGS be16 | NFTA_QUEUE_SREG_QNUM }
 *   iptables-nft `-j NFQUEUE`:    "target" { NFTA_TARGET_NAME "NFQUEUE", NFTA_TARGET_REV be32,
 *                                            NFTA_TARGET_INFO: struct xt_NFQ_info_vREV,
 *                                            host byte order }
 */
#include "proxy/enforce/feedrules.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proxy/enforce/nftmsg.h"
#include "proxy/enforce/nlattr.h"

#define XT_NFQ_BYPASS 0x01 /* xt_NFQ_info_v3.flags (v2: its third field non-zero) */
#define XT_NFQ_FANOUT 0x02

size_t feedrules_request(uint8_t *buf, size_t cap, uint32_t seq)
{
    size_t at = nftmsg_begin(buf, cap, NFPROTO_UNSPEC);
    return nftmsg_end(buf, at, NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, seq);
}

size_t feedrules_chains_request(uint8_t *buf, size_t cap, uint32_t seq)
{
    size_t at = nftmsg_begin(buf, cap, NFPROTO_UNSPEC);
    return nftmsg_end(buf, at, NFT_MSG_GETCHAIN, NLM_F_REQUEST | NLM_F_DUMP, seq);
}

const char *feedrules_family_name(uint8_t family)
{
    switch (family) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_NETDEV: return "netdev";
    default: return "?";
    }
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A string attribute into out[FEEDRULE_NAME_MAX], cut to fit, up to its first NUL. */
static void name_copy(char *out, const uint8_t *d, size_t dlen)
{
    size_t n = 0;
    while (n < dlen && n < FEEDRULE_NAME_MAX - 1 && d[n])
        n++;
    memcpy(out, d, n);
    out[n] = '\0';
}

/* nft's queue statement's data into r. 0 or -EBADMSG. */
static int queue_expr(const uint8_t *p, size_t len, struct feedrule *r)
{
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    int rc;
    r->total = 1;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_QUEUE_NUM && dlen >= 2)
            r->num = be16(d);
        else if (t == NFTA_QUEUE_TOTAL && dlen >= 2)
            r->total = be16(d);
        else if (t == NFTA_QUEUE_FLAGS && dlen >= 2) {
            r->bypass = (be16(d) & NFT_QUEUE_FLAG_BYPASS) != 0;
            r->fanout = (be16(d) & NFT_QUEUE_FLAG_CPU_FANOUT) != 0;
        } else if (t == NFTA_QUEUE_SREG_QNUM)
            r->from_register = true;
    }
    if (r->total == 0)
        r->total = 1;
    return rc < 0 ? rc : 0;
}

/* An xt TPROXY or REDIRECT target's info (revision rev, ilen bytes) into r. 1, or -EBADMSG. */
static int divert_info(bool tproxy, uint32_t rev, const uint8_t *info, size_t ilen,
                       struct feedrule *r)
{
    /* TPROXY v0: mark_mask, mark_value, laddr (4), lport; v1: the address is 16 bytes.
     * REDIRECT, IPv4: rangesize, then one range: flags, min_ip, max_ip, min port, max port;
     * IPv6 (struct nf_nat_range, 40 bytes and more): flags, min_addr, max_addr (16 each), min
     * port, max port. A port range given only with NF_NAT_RANGE_PROTO_SPECIFIED (0x2). */
    size_t at;
    bool given = true;
    if (tproxy)
        at = rev == 0 ? 12 : 24;
    else {
        uint32_t flags;
        bool v6 = ilen >= 40;
        if (ilen < (v6 ? 4u : 8u))
            return -EBADMSG;
        memcpy(&flags, info + (v6 ? 0 : 4), 4);
        given = (flags & 0x2) != 0;
        at = v6 ? 36 : 16;
    }
    if (ilen < at + 2)
        return -EBADMSG;
    r->kind = tproxy ? FEEDRULE_TPROXY : FEEDRULE_REDIRECT;
    r->xt = true;
    r->port = given ? be16(info + at) : 0;
    return 1;
}

/* An xt target's data into r: 1 when it is NFQUEUE, TPROXY or REDIRECT, 0 for another target,
 * -EBADMSG. */
static int target_expr(const uint8_t *p, size_t len, struct feedrule *r)
{
    size_t off = 0, dlen, ilen = 0;
    uint16_t t;
    const uint8_t *d, *info = NULL;
    bool nfqueue = false, tproxy = false, redirect = false, has_rev = false;
    uint32_t rev = 0;
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_TARGET_NAME) {
            nfqueue = dlen >= 8 && memcmp(d, "NFQUEUE", 8) == 0;
            tproxy = dlen >= 7 && memcmp(d, "TPROXY", 7) == 0;
            redirect = dlen >= 9 && memcmp(d, "REDIRECT", 9) == 0;
        } else if (t == NFTA_TARGET_REV && dlen >= 4) {
            rev = be32(d);
            has_rev = true;
        } else if (t == NFTA_TARGET_INFO) {
            info = d;
            ilen = dlen;
        }
    }
    if (rc < 0)
        return rc;
    if (!nfqueue && !tproxy && !redirect)
        return 0;
    if (!info || !has_rev)
        return -EBADMSG;
    if (!nfqueue)
        return divert_info(tproxy, rev, info, ilen, r);
    /* struct xt_NFQ_info (v0): queuenum; v1: + queues_total; v2: + bypass; v3: + flags */
    size_t need = rev == 0 ? 2 : rev == 1 ? 4 : 6;
    if (ilen < need)
        return -EBADMSG;
    uint16_t f[3] = { 0, 1, 0 };
    memcpy(f, info, need);
    r->xt = true;
    r->num = f[0];
    r->total = f[1] ? f[1] : 1;
    if (rev == 2)
        r->bypass = f[2] != 0;
    else if (rev >= 3) {
        r->bypass = (f[2] & XT_NFQ_BYPASS) != 0;
        r->fanout = (f[2] & XT_NFQ_FANOUT) != 0;
    }
    return 1;
}

/* A rule's expressions: fn for each queue verdict among them, r holding the rule's names. */
/* The registers a rule's `immediate` expressions loaded with two bytes (a port), so far. */
struct regs {
    uint32_t set; /* bit i: v[i] holds what register i was loaded with */
    uint16_t v[32];
};

/* A verdict (NFTA_DATA_VERDICT): 1 with r a FEEDRULE_JUMP to its chain for a jump or a goto,
 * 0 for another verdict, -EBADMSG. */
static int verdict_data(const uint8_t *p, size_t len, struct feedrule *r)
{
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    int32_t code = 0;
    bool has_chain = false;
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_VERDICT_CODE && dlen >= 4)
            code = (int32_t)be32(d);
        else if (t == NFTA_VERDICT_CHAIN) {
            name_copy(r->target, d, dlen);
            has_chain = true;
        }
    }
    if (rc < 0)
        return rc;
    if ((code != NFT_JUMP && code != NFT_GOTO) || !has_chain)
        return 0;
    r->kind = FEEDRULE_JUMP;
    return 1;
}

/* nft's immediate: a two-byte value loaded into a register is noted in g; a jump or goto
 * verdict makes r a FEEDRULE_JUMP (1). 0 otherwise, or -EBADMSG. */
static int immediate_expr(const uint8_t *p, size_t len, struct regs *g, struct feedrule *r)
{
    int jump = 0;
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    uint32_t reg = UINT32_MAX;
    const uint8_t *val = NULL;
    size_t vlen = 0;
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_IMMEDIATE_DREG && dlen >= 4)
            reg = be32(d);
        else if (t == NFTA_IMMEDIATE_DATA) {
            size_t o2 = 0, l2;
            uint16_t t2;
            const uint8_t *d2;
            int r2;
            while ((r2 = nlattr_next(d, dlen, &o2, &t2, &d2, &l2)) == 1)
                if (t2 == NFTA_DATA_VALUE) {
                    val = d2;
                    vlen = l2;
                } else if (t2 == NFTA_DATA_VERDICT) {
                    jump = verdict_data(d2, l2, r);
                    if (jump < 0)
                        return jump;
                }
            if (r2 < 0)
                return r2;
        }
    }
    if (rc < 0)
        return rc;
    if (reg < 32) {
        if (val && vlen == 2) {
            g->v[reg] = be16(val);
            g->set |= 1u << reg;
        } else {
            g->set &= ~(1u << reg);
        }
    }
    return jump;
}

/* nft's lookup: 1 with r a FEEDRULE_VMAP when its result goes to the verdict register (a
 * verdict map: `vmap { ... : jump X }`), 0 otherwise, -EBADMSG. */
static int lookup_expr(const uint8_t *p, size_t len, struct feedrule *r)
{
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    int rc;
    bool vmap = false;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1)
        if (t == NFTA_LOOKUP_DREG && dlen >= 4 && be32(d) == NFT_REG_VERDICT)
            vmap = true;
    if (rc < 0)
        return rc;
    if (!vmap)
        return 0;
    r->kind = FEEDRULE_VMAP;
    return 1;
}

/* nft's tproxy (tproxy true) or redir: the port its register holds, into r. 1 or -EBADMSG. */
static int divert_expr(bool tproxy, const uint8_t *p, size_t len, const struct regs *g,
                       struct feedrule *r)
{
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    int rc;
    uint16_t want = tproxy ? NFTA_TPROXY_REG_PORT : NFTA_REDIR_REG_PROTO_MIN;
    r->kind = tproxy ? FEEDRULE_TPROXY : FEEDRULE_REDIRECT;
    r->port = 0;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == want && dlen >= 4) {
            uint32_t reg = be32(d);
            r->port = reg < 32 && (g->set & (1u << reg)) ? g->v[reg] : 0;
        }
    }
    return rc < 0 ? rc : 1;
}

static int rule_exprs(const uint8_t *p, size_t len, const struct feedrule *rule, feedrule_fn fn,
                      void *ctx)
{
    size_t off = 0, elen;
    uint16_t t;
    const uint8_t *el;
    struct regs g = { 0, { 0 } };
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &el, &elen)) == 1) {
        if (t != NFTA_LIST_ELEM)
            continue;
        size_t o2 = 0, dlen, xlen = 0;
        uint16_t t2;
        const uint8_t *d, *data = NULL;
        char name[16] = "";
        int r2;
        while ((r2 = nlattr_next(el, elen, &o2, &t2, &d, &dlen)) == 1) {
            if (t2 == NFTA_EXPR_NAME) {
                size_t n = dlen < sizeof(name) - 1 ? dlen : sizeof(name) - 1;
                memcpy(name, d, n);
                name[n] = '\0';
            } else if (t2 == NFTA_EXPR_DATA) {
                data = d;
                xlen = dlen;
            }
        }
        if (r2 < 0)
            return r2;
        struct feedrule q = *rule;
        int found = 0;
        if (strcmp(name, "queue") == 0) {
            if (!data)
                return -EBADMSG;
            if ((found = queue_expr(data, xlen, &q)) == 0)
                found = 1;
        } else if (strcmp(name, "target") == 0 && data) {
            found = target_expr(data, xlen, &q);
        } else if (strcmp(name, "immediate") == 0 && data) {
            found = immediate_expr(data, xlen, &g, &q);
        } else if (strcmp(name, "lookup") == 0 && data) {
            found = lookup_expr(data, xlen, &q);
        } else if ((strcmp(name, "tproxy") == 0 || strcmp(name, "redir") == 0) && data) {
            found = divert_expr(name[0] == 't', data, xlen, &g, &q);
        }
        if (found < 0)
            return found;
        if (found == 1) {
            int rf = fn(ctx, &q);
            if (rf < 0)
                return rf;
        }
    }
    return rc < 0 ? rc : 0;
}

/* The next message of a dump datagram answering seq that has type msg (NFT_MSG_*): 1 with *m;
 * 2 at the dump's end (NLMSG_DONE); 0 at the datagram's end; -EINTR when the rule set changed
 * during the dump (read it again); another negative errno as nftmsg_next(). */
static int dump_next(const uint8_t *buf, size_t len, size_t *off, uint32_t seq, uint16_t msg,
                     struct nftmsg *m)
{
    int rc;
    while ((rc = nftmsg_next(buf, len, off, seq, m)) == 1) {
        if (m->flags & NLM_F_DUMP_INTR)
            return -EINTR;
        if (m->type == NLMSG_DONE)
            return 2;
        if (m->type == (NFNL_SUBSYS_NFTABLES << 8 | msg))
            return 1;
    }
    return rc;
}

int feedrules_parse(const uint8_t *buf, size_t len, uint32_t seq, feedrule_fn fn, void *ctx)
{
    size_t off = 0;
    struct nftmsg m;
    int rc;
    while ((rc = dump_next(buf, len, &off, seq, NFT_MSG_NEWRULE, &m)) == 1) {
        struct feedrule rule;
        memset(&rule, 0, sizeof(rule));
        rule.family = m.family;
        const uint8_t *exprs = NULL;
        size_t aoff = 0, dlen, xlen = 0;
        uint16_t t;
        const uint8_t *d;
        int ra;
        while ((ra = nlattr_next(m.p, m.plen, &aoff, &t, &d, &dlen)) == 1) {
            if (t == NFTA_RULE_TABLE)
                name_copy(rule.table, d, dlen);
            else if (t == NFTA_RULE_CHAIN)
                name_copy(rule.chain, d, dlen);
            else if (t == NFTA_RULE_HANDLE && dlen >= 8)
                rule.handle = (uint64_t)be32(d) << 32 | be32(d + 4);
            else if (t == NFTA_RULE_EXPRESSIONS) {
                exprs = d;
                xlen = dlen;
            }
        }
        if (ra < 0)
            return ra;
        if (exprs) {
            int re = rule_exprs(exprs, xlen, &rule, fn, ctx);
            if (re < 0)
                return re;
        }
    }
    return rc == 2 ? 1 : rc;
}

int feedrules_parse_chains(const uint8_t *buf, size_t len, uint32_t seq, feedrule_fn fn, void *ctx)
{
    size_t off = 0;
    struct nftmsg m;
    int rc;
    while ((rc = dump_next(buf, len, &off, seq, NFT_MSG_NEWCHAIN, &m)) == 1) {
        struct feedrule c;
        memset(&c, 0, sizeof(c));
        c.family = m.family;
        c.kind = FEEDRULE_BASE;
        bool base = false;
        size_t aoff = 0, dlen;
        uint16_t t;
        const uint8_t *d;
        int ra;
        while ((ra = nlattr_next(m.p, m.plen, &aoff, &t, &d, &dlen)) == 1) {
            if (t == NFTA_CHAIN_TABLE)
                name_copy(c.table, d, dlen);
            else if (t == NFTA_CHAIN_NAME)
                name_copy(c.chain, d, dlen);
            else if (t == NFTA_CHAIN_HOOK)
                base = true;
        }
        if (ra < 0)
            return ra;
        if (base) {
            int rf = fn(ctx, &c);
            if (rf < 0)
                return rf;
        }
    }
    return rc == 2 ? 1 : rc;
}

/* ---- which chains are reached ---- */

static bool same_table(const struct feedrule *a, const struct feedrule *b)
{
    return a->family == b->family && strcmp(a->table, b->table) == 0;
}

int feedrules_reach(struct feedrule *r, size_t n)
{
    /* reached[i]: entry i's chain is reached (for BASE and JUMP entries: where they are) */
    uint8_t *reached = calloc(n ? n : 1, 1);
    if (!reached)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        reached[i] = r[i].kind == FEEDRULE_BASE;
    /* a table with a verdict map: every chain of it */
    for (size_t i = 0; i < n; i++)
        if (r[i].kind == FEEDRULE_VMAP)
            for (size_t j = 0; j < n; j++)
                if (same_table(&r[i], &r[j]))
                    reached[j] = 1;
    /* spread along the jumps until nothing changes: entry j is reached when its chain is the
     * chain of a reached entry, or the target of a jump from one */
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (!reached[i])
                continue;
            for (size_t j = 0; j < n; j++) {
                if (reached[j] || !same_table(&r[i], &r[j]))
                    continue;
                if (strcmp(r[j].chain, r[i].chain) == 0 ||
                    (r[i].kind == FEEDRULE_JUMP && strcmp(r[j].chain, r[i].target) == 0)) {
                    reached[j] = 1;
                    grew = true;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        r[i].unreached = !reached[i];
    free(reached);
    return 0;
}

/* ---- reading the kernel's ---- */

struct collect {
    struct feedrule *r;
    size_t n, cap;
};

static int collect_one(void *ctx, const struct feedrule *r)
{
    struct collect *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct feedrule *g = realloc(c->r, cap * sizeof(*g));
        if (!g)
            return -ENOMEM;
        c->r = g;
        c->cap = cap;
    }
    c->r[c->n++] = *r;
    return 0;
}

/* One dump over socket fd into c: the chains (chains true) or the rules. 0, or a negative errno
 * (-EINTR: the rule set changed while it was read). */
static int dump_once(int fd, bool chains, uint32_t seq, struct collect *c, uint8_t *buf, size_t cap)
{
    uint8_t req[64];
    size_t n = chains ? feedrules_chains_request(req, sizeof(req), seq)
                      : feedrules_request(req, sizeof(req), seq);
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    if (!n || sendto(fd, req, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n)
        return -errno ? -errno : -EIO;
    for (;;) {
        ssize_t got = recv(fd, buf, cap, MSG_TRUNC);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if ((size_t)got > cap)
            return -EMSGSIZE;
        int rc = chains ? feedrules_parse_chains(buf, (size_t)got, seq, collect_one, c)
                        : feedrules_parse(buf, (size_t)got, seq, collect_one, c);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
    }
}

int feedrules_read(struct feedrule **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "reading the rule set: netlink socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t cap = 256u << 10;
    uint8_t *buf = malloc(cap);
    struct collect c = { 0 };
    int rc = buf ? -EINTR : -ENOMEM;
    /* the chains, then the rules: a change between the two is seen as at most one read late
     * (the next read is whole) */
    for (uint32_t tries = 1; rc == -EINTR && tries <= 5; tries++) {
        c.n = 0;
        rc = dump_once(fd, true, 2 * tries, &c, buf, cap);
        if (rc == 0)
            rc = dump_once(fd, false, 2 * tries + 1, &c, buf, cap);
    }
    if (rc == 0)
        rc = feedrules_reach(c.r, c.n);
    free(buf);
    close(fd);
    if (rc < 0) {
        free(c.r);
        snprintf(err, errlen, "reading the rule set (nf_tables rules): %s",
                 rc == -EAGAIN    ? "no answer within 2 s"
                 : rc == -EBADMSG ? "a malformed answer"
                 : rc == -EINTR   ? "it kept changing while read (5 tries)"
                                  : strerror(-rc));
        return -1;
    }
    *out = c.r;
    *n = c.n;
    return 0;
}

/* ---- judging them ---- */

struct msgbuf {
    char *p;
    size_t cap, len;
};

static void say(struct msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct msgbuf *m, const char *fmt, ...)
{
    if (!m->cap || m->len >= m->cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(m->p + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        m->len = m->len + (size_t)w >= m->cap ? m->cap - 1 : m->len + (size_t)w;
}

/* "queue 3" or "queues 2-5" */
static void say_queues(struct msgbuf *m, uint32_t a, uint32_t b)
{
    if (a == b)
        say(m, "queue %" PRIu32, a);
    else
        say(m, "queues %" PRIu32 "-%" PRIu32, a, b);
}

/* The rule's place: "table ip filter, chain QORGAU, handle 11 (iptables NFQUEUE)". */
static void say_rule(struct msgbuf *m, const struct feedrule *r)
{
    static const char *const what[][2] = { { "nft queue", "iptables NFQUEUE" },
                                           { "nft tproxy", "iptables TPROXY" },
                                           { "nft redirect", "iptables REDIRECT" } };
    say(m, "table %s %s, chain %s, handle %" PRIu64 " (%s)", feedrules_family_name(r->family),
        r->table, r->chain, r->handle, what[r->kind <= FEEDRULE_REDIRECT ? r->kind : 0][r->xt]);
}

static bool same_place(const struct feedrule *a, const struct feedrule *b)
{
    return a->family == b->family && strcmp(a->table, b->table) == 0 &&
           strcmp(a->chain, b->chain) == 0;
}

/* The queues of r outside lo..hi, or the rule chooses per packet. */
static bool strays(const struct feedrule *r, uint32_t lo, uint32_t hi)
{
    uint32_t a = r->num, b = (uint32_t)r->num + (r->total ? r->total : 1) - 1;
    return r->kind == FEEDRULE_QUEUE && !r->unreached && !r->from_register && !(b < lo || a > hi) &&
           (a < lo || b > hi);
}

enum feedrules_verdict feedrules_judge(const struct feedrule *r, size_t n, uint16_t first,
                                       unsigned workers, char *msg, size_t msglen,
                                       struct feedrules_counts *counts)
{
    struct feedrules_counts k = { 0, 0, 0 };
    struct msgbuf m = { msg, msglen, 0 };
    if (msglen)
        msg[0] = '\0';
    if (workers == 0)
        workers = 1;
    uint32_t lo = first, hi = (uint32_t)first + workers - 1;
    enum feedrules_verdict v = FEEDRULES_OK;
    uint8_t *fed = calloc(workers, 1); /* the workers' queues some rule feeds */
    uint8_t *told = calloc(n ? n : 1, 1);
    bool any = false;
    size_t nqueue = 0, first_queue = 0; /* the queue rules, and the first of them */
    const struct feedrule *lost = NULL; /* a queue rule in a chain nothing leads to */
    for (size_t i = 0; i < n; i++) {
        if (r[i].kind != FEEDRULE_QUEUE)
            continue; /* a diversion (inline mode's), or how chains are reached */
        if (r[i].unreached) {
            if (!lost)
                lost = &r[i];
            continue;
        }
        if (!nqueue++)
            first_queue = i;
        if (r[i].from_register) {
            say(&m, "%sThe rule in ", m.len ? " " : "");
            say_rule(&m, &r[i]);
            say(&m, " chooses its queue per packet: whether each queue it picks has a worker "
                    "cannot be told (the workers read ");
            say_queues(&m, lo, hi);
            say(&m, ").");
            if (v < FEEDRULES_WARN)
                v = FEEDRULES_WARN;
            any = true;
            k.per_packet_rules++;
            continue;
        }
        uint32_t a = r[i].num, b = (uint32_t)r[i].num + (r[i].total ? r[i].total : 1) - 1;
        if (b < lo || a > hi)
            continue; /* another program's queues */
        any = true;
        for (uint32_t q = a > lo ? a : lo; fed && q <= b && q <= hi; q++)
            fed[q - lo] = 1;
        if (strays(&r[i], lo, hi))
            k.stray_rules++;
        if (!strays(&r[i], lo, hi) || (told && told[i]))
            continue;
        v = FEEDRULES_ERROR;
        /* this rule and every later one with the same queues and flag: one sentence */
        size_t same = 0;
        for (size_t j = i; j < n; j++)
            if (strays(&r[j], lo, hi) && r[j].num == r[i].num && r[j].total == r[i].total &&
                r[j].bypass == r[i].bypass && (!told || !told[j]))
                same++;
        say(&m, "%s%s ", m.len ? " " : "", same > 1 ? "Rules in" : "The rule in");
        const struct feedrule *prev = NULL;
        for (size_t j = i; j < n; j++) {
            if (!strays(&r[j], lo, hi) || r[j].num != r[i].num || r[j].total != r[i].total ||
                r[j].bypass != r[i].bypass || (told && told[j]))
                continue;
            if (told)
                told[j] = 1;
            if (prev && same_place(prev, &r[j]))
                say(&m, ", %" PRIu64, r[j].handle);
            else {
                if (prev)
                    say(&m, "; ");
                say(&m, "table %s %s, chain %s, handle%s %" PRIu64,
                    feedrules_family_name(r[j].family), r[j].table, r[j].chain, same > 1 ? "s" : "",
                    r[j].handle);
            }
            prev = &r[j];
        }
        say(&m, " (%s) send%s packets to ", r[i].xt ? "iptables NFQUEUE" : "nft queue",
            same > 1 ? "" : "s");
        say_queues(&m, a, b);
        say(&m, ", but the workers read ");
        say_queues(&m, lo, hi);
        say(&m, " (queue.num %" PRIu32 ", %u worker%s): ", lo, workers, workers == 1 ? "" : "s");
        if (a < lo)
            say_queues(&m, a, lo - 1);
        if (a < lo && b > hi)
            say(&m, " and ");
        if (b > hi)
            say_queues(&m, hi + 1, b);
        say(&m, " no worker reads, so %s.",
            r[i].bypass ? "their packets pass unjudged (the bypass flag): blocked names go "
                          "through"
                        : "their packets are dropped (no bypass flag): those connections hang");
    }
    if (!any) {
        say(&m, "%sNo nf_tables rule sends packets to ", m.len ? " " : "");
        say_queues(&m, lo, hi);
        say(&m, " (the workers' queues): nothing is judged until one does (load "
                "deploy/nftables-queue.nft or deploy/iptables-queue.rules; rules loaded "
                "through iptables-legacy are not seen).");
        if (nqueue) { /* queue rules elsewhere: another program's, or the numbers disagree */
            const struct feedrule *e = &r[first_queue];
            say(&m, " Queue rules found elsewhere: the rule in ");
            say_rule(&m, e);
            say(&m, " sends packets to ");
            say_queues(&m, e->num, (uint32_t)e->num + (e->total ? e->total : 1) - 1);
            if (nqueue > 1)
                say(&m, ", and %zu more rule%s", nqueue - 1, nqueue > 2 ? "s" : "");
            say(&m, ": another program's, or queue.num and workers disagree with the rules.");
        }
        if (lost) { /* e.g. FORWARD flushed by a firewall reload, QORGAU left standing */
            say(&m, " Queue rules stand in a chain no base chain leads to: the rule in ");
            say_rule(&m, lost);
            say(&m, " (the jump to chain %s is gone?).", lost->chain);
        }
        if (v < FEEDRULES_WARN)
            v = FEEDRULES_WARN;
        k.unfed_queues = workers;
    } else if (fed && !k.per_packet_rules) { /* (a rule choosing per packet may feed any) */
        for (uint32_t q = 0; q < workers; q++) {
            if (fed[q])
                continue;
            uint32_t e = q;
            while (e + 1 < workers && !fed[e + 1])
                e++;
            say(&m, "%s", m.len ? " " : "");
            say_queues(&m, lo + q, lo + e);
            say(&m, " (worker%s %" PRIu32, q == e ? "" : "s", q);
            if (e != q)
                say(&m, "-%" PRIu32, e);
            say(&m,
                ") get%s no packets from any rule: the rules' queue range is narrower "
                "than the workers'.",
                q == e ? "s" : "");
            if (v < FEEDRULES_WARN)
                v = FEEDRULES_WARN;
            k.unfed_queues += e - q + 1;
            q = e;
        }
    }
    free(told);
    free(fed);
    if (counts)
        *counts = k;
    return v;
}

int feedrules_check(uint16_t first, unsigned workers, char *msg, size_t msglen,
                    struct feedrules_counts *counts)
{
    struct feedrule *r;
    size_t n;
    if (feedrules_read(&r, &n, msg, msglen) < 0)
        return -1;
    enum feedrules_verdict v = feedrules_judge(r, n, first, workers, msg, msglen, counts);
    free(r);
    return (int)v;
}

/* ---- inline mode's diversions ---- */

enum feedrules_verdict feedrules_judge_divert(const struct feedrule *r, size_t n,
                                              uint16_t tproxy_port, uint16_t redirect_port,
                                              char *msg, size_t msglen, unsigned *diverting)
{
    struct msgbuf m = { msg, msglen, 0 };
    if (msglen)
        msg[0] = '\0';
    unsigned ours = 0;
    const struct feedrule *other = NULL; /* a diversion to another port */
    const struct feedrule *lost = NULL;  /* a diversion in a chain nothing leads to */
    for (size_t i = 0; i < n; i++) {
        if (r[i].kind != FEEDRULE_TPROXY && r[i].kind != FEEDRULE_REDIRECT)
            continue;
        if (r[i].unreached) {
            if (!lost)
                lost = &r[i];
            continue;
        }
        uint16_t want = r[i].kind == FEEDRULE_TPROXY ? tproxy_port : redirect_port;
        if (want && r[i].port == want)
            ours++;
        else if (!other)
            other = &r[i];
    }
    if (diverting)
        *diverting = ours;
    if (ours)
        return FEEDRULES_OK;
    say(&m, "No nf_tables rule diverts connections to the proxy (");
    if (tproxy_port)
        say(&m, "tproxy to port %u", tproxy_port);
    if (tproxy_port && redirect_port)
        say(&m, ", ");
    if (redirect_port)
        say(&m, "redirect to port %u", redirect_port);
    say(&m, "): nothing is judged, connections go to their servers unseen until one does (load "
            "deploy/nftables-tproxy.nft or deploy/nftables-redirect.nft; rules loaded through "
            "iptables-legacy are not seen).");
    if (other) {
        say(&m, " A diversion found elsewhere: the rule in ");
        say_rule(&m, other);
        if (other->port)
            say(&m, " diverts to port %u", other->port);
        else
            say(&m, " diverts to a port not known from the rule");
        say(&m, ": another program's, or inline.tproxy_port / inline.redirect_port disagree with "
                "the rules.");
    }
    if (lost) {
        say(&m, " A diversion stands in a chain no base chain leads to: the rule in ");
        say_rule(&m, lost);
        say(&m, " (the jump to chain %s is gone?).", lost->chain);
    }
    return FEEDRULES_WARN;
}

int feedrules_check_divert(uint16_t tproxy_port, uint16_t redirect_port, char *msg, size_t msglen,
                           unsigned *diverting)
{
    struct feedrule *r;
    size_t n;
    if (feedrules_read(&r, &n, msg, msglen) < 0)
        return -1;
    enum feedrules_verdict v =
        feedrules_judge_divert(r, n, tproxy_port, redirect_port, msg, msglen, diverting);
    free(r);
    return (int)v;
}

uint64_t feedrules_fingerprint(int v, const char *msg)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(int64_t)v;
    for (const char *c = msg; *c; c++)
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    return h;
}
