/* ipdrop.c - the IP entries of the published rule set, dropped by the kernel (see ipdrop.h). */
#include "proxy/enforce/ipdrop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proxy/enforce/nftlib.h"
#include "proxy/enforce/nftmsg.h"
#include "proxy/enforce/nlattr.h"

/* Elements per add/delete command (nft parses a command whole; keeps each one modest). */
#define IPDROP_CHUNK 1024

bool ipdrop_table_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > IPDROP_TABLE_MAX || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

int ipdrop_parse(const char *text, struct ipdrop_prefix *out)
{
    char a[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(text);
    const char *slash = memchr(text, '/', n);
    size_t alen = slash ? (size_t)(slash - text) : n;
    if (alen == 0 || alen >= sizeof(a))
        return -EINVAL;
    memcpy(a, text, alen);
    a[alen] = 0;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, a, out->addr) == 1)
        out->ver = 4;
    else if (inet_pton(AF_INET6, a, out->addr) == 1)
        out->ver = 6;
    else
        return -EINVAL;
    unsigned width = out->ver == 4 ? 32 : 128, plen = width;
    if (slash) {
        const char *p = slash + 1;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        plen = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            plen = plen * 10 + (unsigned)(*p - '0');
            if (plen > width)
                return -EINVAL;
        }
        if (*p)
            return -EINVAL;
    }
    out->plen = (uint8_t)plen;
    for (unsigned bit = plen; bit < width; bit++)
        out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    return 0;
}

int ipdrop_list_add(struct ipdrop_list *l, const struct ipdrop_prefix *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct ipdrop_prefix *np = realloc(l->p, cap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        l->p = np;
        l->cap = cap;
    }
    l->p[l->n++] = *p;
    return 0;
}

void ipdrop_list_free(struct ipdrop_list *l)
{
    free(l->p);
    memset(l, 0, sizeof(*l));
}

static int cmp_prefix(const struct ipdrop_prefix *a, const struct ipdrop_prefix *b)
{
    if (a->ver != b->ver)
        return a->ver < b->ver ? -1 : 1;
    int c = memcmp(a->addr, b->addr, 16);
    if (c)
        return c;
    return a->plen < b->plen ? -1 : a->plen > b->plen;
}

static int cmp_qsort(const void *a, const void *b)
{
    return cmp_prefix(a, b);
}

/* True if inner lies inside outer (same family, at least as long, the same first plen bits). */
static bool covers(const struct ipdrop_prefix *outer, const struct ipdrop_prefix *inner)
{
    if (outer->ver != inner->ver || inner->plen < outer->plen)
        return false;
    unsigned full = outer->plen / 8u, rest = outer->plen % 8u;
    if (memcmp(outer->addr, inner->addr, full) != 0)
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xFFu << (8 - rest));
        if ((outer->addr[full] & m) != (inner->addr[full] & m))
            return false;
    }
    return true;
}

void ipdrop_list_reduce(struct ipdrop_list *l)
{
    if (l->n > 1)
        qsort(l->p, l->n, sizeof(*l->p), cmp_qsort);
    /* sorted by start, then length: a prefix either lies inside the last one kept or starts
     * after its end (two prefixes are nested or disjoint) */
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (w && covers(&l->p[w - 1], &l->p[i]))
            continue;
        l->p[w++] = l->p[i];
    }
    l->n = w;
    l->n4 = 0;
    while (l->n4 < l->n && l->p[l->n4].ver == 4)
        l->n4++;
}

/* p (IPv4) as the IPv6 prefix PREFIX::p/(96 + plen) */
static struct ipdrop_prefix mapped(const uint8_t pfx[12], const struct ipdrop_prefix *p)
{
    struct ipdrop_prefix m = { .ver = 6, .plen = (uint8_t)(96 + p->plen) };
    memcpy(m.addr, pfx, 12);
    memcpy(m.addr + 12, p->addr, 4);
    return m;
}

int ipdrop_collect(const struct ruleset *rs, const struct nat64 *n64, struct ipdrop_list *out,
                   size_t *bad)
{
    out->n = out->n4 = 0;
    size_t nbad = 0;
    size_t n = ruleset_entry_count(rs);
    for (size_t e = 0; e < n; e++) {
        if (!ruleset_entry_live(rs, (uint32_t)e) || ruleset_entry_kind(rs, (uint32_t)e) != RULE_IP)
            continue;
        struct ipdrop_prefix p;
        if (ipdrop_parse(ruleset_entry_text(rs, (uint32_t)e), &p) < 0) {
            nbad++;
            continue;
        }
        if (ipdrop_list_add(out, &p) < 0)
            goto nomem;
        if (p.ver != 4)
            continue;
        struct ipdrop_prefix m = mapped(nat64_wkp, &p);
        if (ipdrop_list_add(out, &m) < 0)
            goto nomem;
        for (unsigned i = 0; n64 && i < n64->n && i < NAT64_MAX; i++) {
            m = mapped(n64->pfx[i], &p);
            if (ipdrop_list_add(out, &m) < 0)
                goto nomem;
        }
    }
    ipdrop_list_reduce(out);
    if (bad)
        *bad = nbad;
    return 0;
nomem:
    out->n = out->n4 = 0;
    return -ENOMEM;
}

void ipdrop_format(const struct ipdrop_prefix *p, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(p->ver == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
    if (p->plen == (p->ver == 4 ? 32 : 128))
        snprintf(buf, len, "%s", a);
    else
        snprintf(buf, len, "%s/%u", a, p->plen);
}

/* The four sets: a host address goes to a hash set (an element added or deleted costs the
 * same whatever the set's size), a shorter prefix to an interval set (nft reads and checks the
 * whole set for overlaps at every change, so only the rare prefixes pay that). */
enum { SET_HOST4, SET_NET4, SET_HOST6, SET_NET6, NSETS };
static const char *const set_names[NSETS] = { "host4", "net4", "host6", "net6" };

static int set_of(const struct ipdrop_prefix *p)
{
    if (p->ver == 4)
        return p->plen == 32 ? SET_HOST4 : SET_NET4;
    return p->plen == 128 ? SET_HOST6 : SET_NET6;
}

/* "VERB element inet T SET { a, b, ... }" for v[0..n) */
static void elements(FILE *f, const char *verb, const char *table, const char *set,
                     const struct ipdrop_prefix *const *v, size_t n)
{
    fprintf(f, "%s element inet %s %s { ", verb, table, set);
    for (size_t j = 0; j < n; j++) {
        char b[64];
        ipdrop_format(v[j], b, sizeof(b));
        fprintf(f, "%s%s", j ? ", " : "", b);
    }
    fputs(" }\n", f);
}

/* Writes "VERB element" commands (IPDROP_CHUNK elements each) for the elements of set `set`
 * in a that b does not have (b NULL: all of a's). Both sorted. Returns their count. */
static size_t only_in(FILE *f, const char *verb, const char *table, int set,
                      const struct ipdrop_list *a, const struct ipdrop_list *b)
{
    const struct ipdrop_prefix *v[IPDROP_CHUNK];
    size_t nv = 0, total = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (set_of(&a->p[i]) != set)
            continue;
        if (b) {
            while (j < b->n && cmp_prefix(&b->p[j], &a->p[i]) < 0)
                j++;
            if (j < b->n && cmp_prefix(&b->p[j], &a->p[i]) == 0)
                continue;
        }
        v[nv++] = &a->p[i];
        total++;
        if (nv == IPDROP_CHUNK) {
            elements(f, verb, table, set_names[set], v, nv);
            nv = 0;
        }
    }
    if (nv)
        elements(f, verb, table, set_names[set], v, nv);
    return total;
}

void ipdrop_script_create(FILE *f, const char *table, bool udp443, uint32_t pass_mark,
                          uint32_t cut_mark, const struct ipdrop_list *to)
{
    /* "table" then "delete table": replaces one of that name, and works when there is none */
    fprintf(f,
            "table inet %s\n"
            "delete table inet %s\n"
            "table inet %s {\n"
            "    counter drops { }\n"
            "    counter cuts { }\n"
            "    set host4 { type ipv4_addr; counter; }\n"
            "    set net4 { type ipv4_addr; flags interval; counter; }\n"
            "    set host6 { type ipv6_addr; counter; }\n"
            "    set net6 { type ipv6_addr; flags interval; counter; }\n"
            "    chain forward {\n"
            "        type filter hook forward priority filter - 5; policy accept;\n",
            table, table, table);
    /* a connection Qorgau passed whose name a later order listed (queue.passed_names marks it):
     * reset both ways at its next packets */
    if (pass_mark && cut_mark)
        fprintf(f, "        ct mark & 0x%" PRIx32 " == 0x%" PRIx32 " goto cut\n", cut_mark,
                cut_mark);
    /* a connection Qorgau passed (its mark, or the kept-alive HTTP one with both bits) whose
     * server's address was listed after the pass: its packets reach no one from here on */
    if (pass_mark)
        fprintf(f, "        ct mark & 0x%" PRIx32 " == 0x%" PRIx32 " jump passed\n", pass_mark,
                pass_mark);
    fprintf(f,
            "        tcp dport { 80, 443 } return\n"
            "%s%s"
            "        ip daddr @host4 counter name \"drops\" drop\n"
            "        ip daddr @net4 counter name \"drops\" drop\n"
            "        ip6 daddr @host6 counter name \"drops\" drop\n"
            "        ip6 daddr @net6 counter name \"drops\" drop\n"
            "    }\n",
            udp443 ? "        udp dport 443 return\n" : "",
            /* queue mode's rules queue both directions of these ports: the servers' side of
             * every judged flow (most forwarded packets) leaves after one port match; a client
             * sending from such a port to a listed address is queued and judged by Qorgau */
            udp443 ? "        tcp sport { 80, 443 } return\n"
                     "        udp sport 443 return\n"
                   : "");
    if (pass_mark)
        /* the address the connection was opened to, whichever way the packet goes; a TCP
         * packet is answered with a reset to its sender (both ends learn it is over), the
         * rest (QUIC) dropped */
        fputs("    chain passed {\n"
              "        ct original ip daddr @host4 goto cut\n"
              "        ct original ip daddr @net4 goto cut\n"
              "        ct original ip6 daddr @host6 goto cut\n"
              "        ct original ip6 daddr @net6 goto cut\n"
              "    }\n"
              "    chain cut {\n"
              "        meta l4proto tcp counter name \"cuts\" reject with tcp reset\n"
              "        counter name \"cuts\" drop\n"
              "    }\n",
              f);
    fputs("}\n", f);
    for (int set = 0; set < NSETS; set++)
        only_in(f, "add", table, set, to, NULL);
}

void ipdrop_script_diff(FILE *f, const char *table, const struct ipdrop_list *from,
                        const struct ipdrop_list *to, size_t *removed, size_t *added)
{
    size_t r = 0, a = 0;
    for (int set = 0; set < NSETS; set++)
        r += only_in(f, "delete", table, set, from, to);
    for (int set = 0; set < NSETS; set++)
        a += only_in(f, "add", table, set, to, from);
    if (removed)
        *removed = r;
    if (added)
        *added = a;
}

/* ---- the drop counter over netlink ---- */

size_t ipdrop_counter_request(uint8_t *buf, size_t cap, const char *table, const char *name,
                              uint32_t seq)
{
    size_t at = nftmsg_begin(buf, cap, NFPROTO_INET);
    uint32_t type = htonl(NFT_OBJECT_COUNTER);
    at = nftmsg_put_attr(buf, at, cap, NFTA_OBJ_TABLE, table, strlen(table) + 1);
    at = nftmsg_put_attr(buf, at, cap, NFTA_OBJ_NAME, name, strlen(name) + 1);
    at = nftmsg_put_attr(buf, at, cap, NFTA_OBJ_TYPE, &type, 4);
    return nftmsg_end(buf, at, NFT_MSG_GETOBJ, NLM_F_REQUEST, seq);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The counter's packets and bytes in a NFTA_OBJ_DATA (or NFTA_EXPR_DATA) payload. 1, 0 if
 * absent, or -EBADMSG. */
static int counter_data(const uint8_t *p, size_t len, uint64_t *packets, uint64_t *bytes)
{
    bool pk = false, by = false;
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_COUNTER_PACKETS && dlen == 8) {
            *packets = be64(d);
            pk = true;
        } else if (t == NFTA_COUNTER_BYTES && dlen == 8) {
            *bytes = be64(d);
            by = true;
        }
    }
    if (rc < 0)
        return rc;
    return pk && by ? 1 : 0;
}

int ipdrop_counter_parse(const uint8_t *buf, size_t len, uint32_t seq, uint64_t *packets,
                         uint64_t *bytes)
{
    size_t off = 0;
    struct nftmsg m;
    int rc;
    while ((rc = nftmsg_next(buf, len, &off, seq, &m)) == 1) {
        if (m.type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWOBJ))
            continue;
        size_t aoff = 0, dlen;
        uint16_t t;
        const uint8_t *d;
        int ra;
        while ((ra = nlattr_next(m.p, m.plen, &aoff, &t, &d, &dlen)) == 1)
            if (t == NFTA_OBJ_DATA) {
                int rd = counter_data(d, dlen, packets, bytes);
                return rd < 0 ? rd : rd ? 1 : -EBADMSG;
            }
        return ra < 0 ? ra : -EBADMSG; /* an object without data */
    }
    return rc;
}

/* ---- the elements' counters over netlink ---- */

size_t ipdrop_elems_request(uint8_t *buf, size_t cap, const char *table, const char *set,
                            uint32_t seq)
{
    size_t at = nftmsg_begin(buf, cap, NFPROTO_INET);
    at = nftmsg_put_attr(buf, at, cap, NFTA_SET_ELEM_LIST_TABLE, table, strlen(table) + 1);
    at = nftmsg_put_attr(buf, at, cap, NFTA_SET_ELEM_LIST_SET, set, strlen(set) + 1);
    return nftmsg_end(buf, at, NFT_MSG_GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, seq);
}

/* An expression (NFTA_EXPR_NAME, NFTA_EXPR_DATA) into e when it is a counter. 0 or -EBADMSG. */
static int elem_expr(const uint8_t *p, size_t len, struct ipdrop_elem *e)
{
    size_t off = 0, dlen, clen = 0;
    uint16_t t;
    const uint8_t *d, *counter = NULL;
    bool is_counter = false;
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_EXPR_NAME)
            is_counter = dlen >= 8 && memcmp(d, "counter", 8) == 0;
        else if (t == NFTA_EXPR_DATA) {
            counter = d;
            clen = dlen;
        }
    }
    if (rc < 0)
        return rc;
    if (is_counter && counter) {
        uint64_t pk = 0, by = 0;
        rc = counter_data(counter, clen, &pk, &by);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            e->counted = true;
            e->packets = pk;
            e->bytes = by;
        }
    }
    return 0;
}

/* One NFTA_LIST_ELEM of a NFTA_SET_ELEM_LIST_ELEMENTS. 1 with e filled, 0 for one without a
 * usable key, -EBADMSG. */
static int one_elem(const uint8_t *p, size_t len, struct ipdrop_elem *e)
{
    memset(e, 0, sizeof(*e));
    size_t off = 0, dlen;
    uint16_t t;
    const uint8_t *d;
    int rc;
    while ((rc = nlattr_next(p, len, &off, &t, &d, &dlen)) == 1) {
        if (t == NFTA_SET_ELEM_KEY) {
            size_t o2 = 0, vlen;
            uint16_t t2;
            const uint8_t *v;
            int r2;
            while ((r2 = nlattr_next(d, dlen, &o2, &t2, &v, &vlen)) == 1)
                if (t2 == NFTA_DATA_VALUE && (vlen == 4 || vlen == 16)) {
                    memcpy(e->key, v, vlen);
                    e->klen = (uint8_t)vlen;
                }
            if (r2 < 0)
                return r2;
        } else if (t == NFTA_SET_ELEM_FLAGS && dlen == 4) {
            uint32_t fl;
            memcpy(&fl, d, 4);
            e->end = (ntohl(fl) & NFT_SET_ELEM_INTERVAL_END) != 0;
        } else if (t == NFTA_SET_ELEM_EXPR) {
            if ((rc = elem_expr(d, dlen, e)) < 0)
                return rc;
        } else if (t == NFTA_SET_ELEM_EXPRESSIONS) {
            size_t o2 = 0, xlen;
            uint16_t t2;
            const uint8_t *x;
            int r2;
            while ((r2 = nlattr_next(d, dlen, &o2, &t2, &x, &xlen)) == 1)
                if (t2 == NFTA_LIST_ELEM && (r2 = elem_expr(x, xlen, e)) < 0)
                    return r2;
            if (r2 < 0)
                return r2;
        }
    }
    if (rc < 0)
        return rc;
    return e->klen ? 1 : 0;
}

int ipdrop_elems_parse(const uint8_t *buf, size_t len, uint32_t seq, ipdrop_elem_fn fn, void *ctx)
{
    size_t off = 0;
    struct nftmsg m;
    int rc;
    while ((rc = nftmsg_next(buf, len, &off, seq, &m)) == 1) {
        if (m.type == NLMSG_DONE)
            return 1;
        if (m.type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM))
            continue;
        size_t aoff = 0, dlen;
        uint16_t t;
        const uint8_t *d;
        int ra;
        while ((ra = nlattr_next(m.p, m.plen, &aoff, &t, &d, &dlen)) == 1) {
            if (t != NFTA_SET_ELEM_LIST_ELEMENTS)
                continue;
            size_t o2 = 0, elen;
            uint16_t t2;
            const uint8_t *el;
            int r2;
            while ((r2 = nlattr_next(d, dlen, &o2, &t2, &el, &elen)) == 1) {
                if (t2 != NFTA_LIST_ELEM)
                    continue;
                struct ipdrop_elem e;
                int r3 = one_elem(el, elen, &e);
                if (r3 < 0)
                    return r3;
                if (r3 == 1)
                    fn(ctx, &e);
            }
            if (r2 < 0)
                return r2;
        }
        if (ra < 0)
            return ra;
    }
    return rc;
}

void ipdrop_entry_text(const struct ipdrop_prefix *p, const struct nat64 *n64, char *buf,
                       size_t len)
{
    if (p->ver == 6 && p->plen >= 96) {
        const uint8_t *hit = memcmp(p->addr, nat64_wkp, 12) == 0 ? nat64_wkp : NULL;
        for (unsigned i = 0; !hit && n64 && i < n64->n && i < NAT64_MAX; i++)
            if (memcmp(p->addr, n64->pfx[i], 12) == 0)
                hit = n64->pfx[i];
        if (hit) {
            struct ipdrop_prefix v4 = { .ver = 4, .plen = (uint8_t)(p->plen - 96) };
            memcpy(v4.addr, p->addr + 12, 4);
            ipdrop_format(&v4, buf, len);
            return;
        }
    }
    ipdrop_format(p, buf, len);
}

/* ---- the kernel side ---- */

struct ipdrop {
    struct nft_ctx *nft;
    char table[IPDROP_TABLE_MAX + 1];
    struct ipdrop_list cur, next; /* what the kernel has; the one being applied */
    bool made;                    /* the table was created by this process */
    bool udp443;                  /* UDP 443 is Qorgau's to judge */
    uint32_t pass_mark;           /* queue mode's connection mark of a pass, 0: none */
    uint32_t cut_mark;            /* queue.mark_cut (ipdrop_set_cut_mark()), 0: none */
    struct nat64 n64;             /* the operator's NAT64 prefixes */
    _Atomic size_t n4, n6;
    _Atomic uint64_t syncs, failures, rebuilt, packets, bytes, cut_packets;
    _Atomic uint64_t final_reads, final_read_failures;
    ipdrop_count_fn final_fn; /* ipdrop_set_final_reader() */
    void *final_ctx;
    int nl;       /* the netlink socket the counter is read through, -1 until first used */
    uint32_t seq; /* its last request's sequence number */
    /* each element of cur's counter when last read (ipdrop_read_elements()), parallel to cur */
    struct ipdrop_seen {
        uint64_t packets, bytes;
    } * seen;
    size_t seen_cap;
};

/* The counters last read of the elements of `to` (about to become cur): those also in cur keep
 * theirs, unless the table is made again whole (whole); the others start at 0. 0 or -ENOMEM
 * (every element then starts at 0: a count is lost, never made up). */
static int seen_remap(struct ipdrop *k, const struct ipdrop_list *to, bool whole)
{
    struct ipdrop_seen *s = calloc(to->n ? to->n : 1, sizeof(*s));
    if (!s) {
        free(k->seen);
        k->seen = NULL;
        k->seen_cap = 0;
        return -ENOMEM;
    }
    for (size_t i = 0, j = 0; !whole && k->seen && i < to->n && j < k->cur.n;) {
        int c = cmp_prefix(&to->p[i], &k->cur.p[j]);
        if (c == 0)
            s[i++] = k->seen[j++];
        else if (c < 0)
            i++;
        else
            j++;
    }
    free(k->seen);
    k->seen = s;
    k->seen_cap = to->n;
    return 0;
}

void ipdrop_set_cut_mark(struct ipdrop *k, uint32_t cut_mark)
{
    k->cut_mark = cut_mark;
}

struct ipdrop *ipdrop_new(const char *table, bool udp443, uint32_t pass_mark,
                          const struct nat64 *n64, char *err, size_t errlen)
{
    if (!ipdrop_table_name_ok(table)) {
        snprintf(err, errlen,
                 "ip.kernel_table: '%s' is not a table name (1-%d letters, digits or '_', not "
                 "starting with a digit)",
                 table, IPDROP_TABLE_MAX);
        return NULL;
    }
    char why[256];
    if (nftlib_load(why, sizeof(why)) < 0) {
        snprintf(err, errlen, "ip.kernel_drop: cannot load libnftables: %s", why);
        return NULL;
    }
    struct ipdrop *k = calloc(1, sizeof(*k));
    if (!k || !(k->nft = nft_ctx_new(NFT_CTX_DEFAULT))) {
        free(k);
        snprintf(err, errlen, "ip.kernel_drop: out of memory");
        return NULL;
    }
    if (nft_ctx_buffer_output(k->nft) != 0 || nft_ctx_buffer_error(k->nft) != 0) {
        nft_ctx_free(k->nft);
        free(k);
        snprintf(err, errlen, "ip.kernel_drop: cannot buffer libnftables' output");
        return NULL;
    }
    snprintf(k->table, sizeof(k->table), "%s", table);
    k->nl = -1;
    k->udp443 = udp443;
    k->pass_mark = pass_mark;
    if (n64)
        k->n64 = *n64;
    return k;
}

/* nft's error buffer, on one line, into err after prefix. */
static void nft_error(struct ipdrop *k, const char *what, char *err, size_t errlen)
{
    const char *e = nft_ctx_get_error_buffer(k->nft);
    char line[512];
    size_t n = 0;
    for (; e && *e && n + 1 < sizeof(line); e++)
        line[n++] = (*e == '\n' || *e == '\t') ? ' ' : *e;
    while (n && line[n - 1] == ' ')
        n--;
    line[n] = 0;
    snprintf(err, errlen, "ip.kernel_drop: table inet %s: %s: %s", k->table, what,
             n ? line : "nft refused it");
}

/* Runs a script held in a memstream buffer. 0 or -1 with err. */
static int run(struct ipdrop *k, const char *script, const char *what, char *err, size_t errlen)
{
    if (nft_run_cmd_from_buffer(k->nft, script) != 0) {
        nft_error(k, what, err, errlen);
        return -1;
    }
    return 0;
}

static void publish_counts(struct ipdrop *k)
{
    atomic_store(&k->n4, k->cur.n4);
    atomic_store(&k->n6, k->cur.n - k->cur.n4);
}

int ipdrop_sync(struct ipdrop *k, const struct ruleset *rs, bool *changed, char *err, size_t errlen)
{
    if (changed)
        *changed = false;
    size_t bad = 0;
    if (ipdrop_collect(rs, &k->n64, &k->next, &bad) < 0) {
        atomic_fetch_add(&k->failures, 1);
        snprintf(err, errlen, "ip.kernel_drop: out of memory collecting the IP entries");
        return -1;
    }
    char *script = NULL;
    size_t len = 0;
    int rc = 0;
    if (k->made) {
        size_t removed = 0, added = 0;
        FILE *f = open_memstream(&script, &len);
        if (!f)
            goto nomem;
        ipdrop_script_diff(f, k->table, &k->cur, &k->next, &removed, &added);
        if (fclose(f) != 0)
            goto nomem;
        if (removed + added == 0) {
            free(script);
            return 0;
        }
        if (removed && k->final_fn) {
            char why[256];
            atomic_fetch_add(&k->final_reads, 1);
            if (ipdrop_read_elements(k, k->final_fn, k->final_ctx, why, sizeof(why)) < 0)
                atomic_fetch_add(&k->final_read_failures, 1);
        }
        rc = run(k, script, "applying the change", err, errlen);
        free(script);
        script = NULL;
        if (rc == 0) {
            (void)seen_remap(k, &k->next, false);
            goto done;
        }
        /* the table was changed by hand, or removed: made again whole below */
        atomic_fetch_add(&k->rebuilt, 1);
    }
    FILE *f = open_memstream(&script, &len);
    if (!f)
        goto nomem;
    ipdrop_script_create(f, k->table, k->udp443, k->pass_mark, k->cut_mark, &k->next);
    if (fclose(f) != 0)
        goto nomem;
    rc = run(k, script, k->made ? "making the table again" : "creating the table", err, errlen);
    free(script);
    if (rc < 0) {
        atomic_fetch_add(&k->failures, 1);
        return -1;
    }
    (void)seen_remap(k, &k->next, true);
    k->made = true;
done : {
    struct ipdrop_list t = k->cur;
    k->cur = k->next;
    k->next = t;
    k->next.n = k->next.n4 = 0;
}
    publish_counts(k);
    atomic_fetch_add(&k->syncs, 1);
    if (changed)
        *changed = true;
    return 0;
nomem:
    free(script);
    atomic_fetch_add(&k->failures, 1);
    snprintf(err, errlen, "ip.kernel_drop: out of memory writing the nft commands");
    return -1;
}

/* Asks for table k's counter object `name` and waits for its answer. 0 or -1 with err. */
static int read_counter(struct ipdrop *k, const char *name, uint64_t *packets, uint64_t *bytes,
                        char *err, size_t errlen)
{
    uint8_t req[256];
    size_t n = ipdrop_counter_request(req, sizeof(req), k->table, name, ++k->seq);
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    if (!n || sendto(k->nl, req, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n) {
        snprintf(err, errlen, "ip.kernel_drop: asking for the counter %s: %s", name,
                 strerror(errno));
        return -1;
    }
    for (int tries = 0; tries < 8; tries++) {
        static _Thread_local uint8_t ans[8192];
        ssize_t got = recv(k->nl, ans, sizeof(ans), 0);
        if (got < 0) {
            snprintf(err, errlen, "ip.kernel_drop: reading the counter %s: %s", name,
                     strerror(errno));
            return -1;
        }
        int rc = ipdrop_counter_parse(ans, (size_t)got, k->seq, packets, bytes);
        if (rc == 1)
            return 0;
        if (rc < 0) {
            snprintf(err, errlen, "ip.kernel_drop: table inet %s: counter %s: %s", k->table, name,
                     strerror(-rc));
            return -1;
        }
        /* (an answer to an earlier request that timed out: read on) */
    }
    snprintf(err, errlen, "ip.kernel_drop: no answer for the counter %s", name);
    return -1;
}

/* Opens the netlink socket the counters are read through. 0 or -1 with err. */
static int nl_open(struct ipdrop *k, char *err, size_t errlen)
{
    if (k->nl < 0) {
        k->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        if (k->nl < 0 || setsockopt(k->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
            bind(k->nl, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            snprintf(err, errlen, "ip.kernel_drop: netlink socket: %s", strerror(errno));
            if (k->nl >= 0)
                close(k->nl);
            k->nl = -1;
            return -1;
        }
    }
    return 0;
}

int ipdrop_read_drops(struct ipdrop *k, char *err, size_t errlen)
{
    if (!k->made)
        return 0;
    if (nl_open(k, err, errlen) < 0)
        return -1;
    uint64_t pk = 0, by = 0;
    if (read_counter(k, "drops", &pk, &by, err, errlen) < 0)
        return -1;
    atomic_store(&k->packets, pk);
    atomic_store(&k->bytes, by);
    if (k->pass_mark) {
        if (read_counter(k, "cuts", &pk, &by, err, errlen) < 0)
            return -1;
        atomic_store(&k->cut_packets, pk);
    }
    return 0;
}

struct elems_ctx {
    struct ipdrop *k;
    int set;
    ipdrop_count_fn fn;
    void *ctx;
    long n;
};

/* An element of set c->set: its growth since the last read, to c->fn. */
static void elem_seen(void *arg, const struct ipdrop_elem *e)
{
    struct elems_ctx *c = arg;
    struct ipdrop *k = c->k;
    if (e->end || !e->counted || e->klen != (c->set < SET_HOST6 ? 4 : 16))
        return;
    c->n++;
    /* cur is sorted by family, address, length, and no element covers another: one prefix
     * at most starts at an address */
    size_t lo = 0, hi = k->cur.n;
    uint8_t ver = e->klen == 4 ? 4 : 6;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct ipdrop_prefix *p = &k->cur.p[mid];
        int c2 = p->ver != ver ? (p->ver < ver ? -1 : 1) : memcmp(p->addr, e->key, e->klen);
        if (c2 < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= k->cur.n || lo >= k->seen_cap || k->cur.p[lo].ver != ver ||
        memcmp(k->cur.p[lo].addr, e->key, e->klen) != 0 || set_of(&k->cur.p[lo]) != c->set)
        return; /* not ours (changed by hand): left out */
    struct ipdrop_seen *s = &k->seen[lo];
    /* a counter below the last reading started over (the element was made again) */
    uint64_t dp = e->packets >= s->packets ? e->packets - s->packets : e->packets;
    uint64_t db = e->bytes >= s->bytes ? e->bytes - s->bytes : e->bytes;
    s->packets = e->packets;
    s->bytes = e->bytes;
    if (dp == 0)
        return;
    char text[64];
    ipdrop_entry_text(&k->cur.p[lo], &k->n64, text, sizeof(text));
    c->fn(c->ctx, text, dp, db);
}

long ipdrop_read_elements(struct ipdrop *k, ipdrop_count_fn fn, void *ctx, char *err, size_t errlen)
{
    if (!k->made || !k->seen)
        return 0;
    if (nl_open(k, err, errlen) < 0)
        return -1;
    struct elems_ctx c = { .k = k, .fn = fn, .ctx = ctx };
    for (c.set = 0; c.set < NSETS; c.set++) {
        uint8_t req[256];
        size_t n = ipdrop_elems_request(req, sizeof(req), k->table, set_names[c.set], ++k->seq);
        struct sockaddr_nl to = { .nl_family = AF_NETLINK };
        if (!n || sendto(k->nl, req, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n) {
            snprintf(err, errlen, "ip.kernel_drop: asking for the elements of %s: %s",
                     set_names[c.set], strerror(errno));
            return -1;
        }
        for (;;) {
            static _Thread_local uint8_t ans[65536];
            ssize_t got = recv(k->nl, ans, sizeof(ans), 0);
            if (got < 0) {
                snprintf(err, errlen, "ip.kernel_drop: reading the elements of %s: %s",
                         set_names[c.set], strerror(errno));
                return -1;
            }
            int rc = ipdrop_elems_parse(ans, (size_t)got, k->seq, elem_seen, &c);
            if (rc == 1)
                break;
            if (rc < 0) {
                snprintf(err, errlen, "ip.kernel_drop: table inet %s: elements of %s: %s", k->table,
                         set_names[c.set], strerror(-rc));
                return -1;
            }
        }
    }
    return c.n;
}

void ipdrop_get_stats(const struct ipdrop *k, struct ipdrop_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!k)
        return;
    struct ipdrop *m = (struct ipdrop *)k; /* (atomic loads of a const object) */
    st->elements4 = atomic_load(&m->n4);
    st->elements6 = atomic_load(&m->n6);
    st->syncs = atomic_load(&m->syncs);
    st->failures = atomic_load(&m->failures);
    st->rebuilt = atomic_load(&m->rebuilt);
    st->packets = atomic_load(&m->packets);
    st->bytes = atomic_load(&m->bytes);
    st->cut_packets = atomic_load(&m->cut_packets);
    st->final_reads = atomic_load(&m->final_reads);
    st->final_read_failures = atomic_load(&m->final_read_failures);
}

void ipdrop_set_final_reader(struct ipdrop *k, ipdrop_count_fn fn, void *ctx)
{
    k->final_fn = fn;
    k->final_ctx = ctx;
}

void ipdrop_free(struct ipdrop *k, bool remove)
{
    if (!k)
        return;
    if (remove && k->made) {
        char cmd[128], err[256];
        snprintf(cmd, sizeof(cmd), "delete table inet %s", k->table);
        (void)run(k, cmd, "removing the table", err, sizeof(err));
    }
    nft_ctx_free(k->nft);
    if (k->nl >= 0)
        close(k->nl);
    ipdrop_list_free(&k->cur);
    ipdrop_list_free(&k->next);
    free(k->seen);
    free(k);
}
