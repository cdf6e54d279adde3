/* ruleset.c - entries, their dedup and attributes, and the compiled matchers (see ruleset.h).
 *
 * Storage of a built set (per entry 8 bytes plus its text plus its index share):
 *
 *   pool       every entry's normalized text, NUL-terminated, back to back; the URL tries' edge
 *              labels point into it (after the "scheme://") and the hash indexes verify their
 *              candidates against it
 *   text_off   entry -> offset of its text in pool
 *   attr       entry -> kind (2 high bits) | index into pairs (interned {order, category}
 *              pairs over strpool)
 *   dom        domhash over domain texts (label-suffix match, hashed)
 *   https_host domhash over the hosts of https:// URL texts (exact)
 *   url_exact  forward nametrie over "host/path[?query]"
 *   url_pfx    forward nametrie over "host/path" of entries written "...*" (the '*' dropped)
 *   ip4, ip6   iplpm structures */
#include "rules/match/ruleset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/compiler.h"
#include "rules/match/domhash.h"
#include "rules/match/iplpm.h"
#include "rules/match/nametrie.h"
#include "rules/match/normalize.h"

#define ENTRY_TEXT_MAX 4096 /* raw entry bytes considered at all */
#define NTEXT_MAX      RULESET_TEXT_MAX
_Static_assert(RULESET_TEXT_MAX == 8 + 2 + NORM_HOST_MAX + NORM_PATH_MAX + 1,
               "\"https://\" + \"[]\" + host + path + NUL");
#define ENTRIES_MAX     (UINT32_MAX / 4) /* ids fit DOMHASH_VALUE_MAX; pair ids fit ATTR_PAIR */
#define ATTR_KIND_SHIFT 30
#define ATTR_PAIR       ((1u << ATTR_KIND_SHIFT) - 1)

/* An open-addressing set of indexes (stored +1, 0 = empty), keyed by a caller's hash. */
struct idxset {
    uint32_t *slot;
    uint64_t *hash; /* full hash per slot, so growing needs no rehash of the data */
    size_t cap, n;
};

struct ipent {
    uint8_t addr[16];
    uint8_t plen;
    uint8_t ver;
    uint32_t entry;
};

struct pair {
    uint32_t order, category; /* offsets into strpool */
};

/* One more order listing an entry that an earlier order already listed (the first order is in
 * the entry's pair). Rare: only entries shared by several orders have claims. */
struct claim {
    uint32_t entry;
    uint32_t order; /* offset into strpool */
};

/* The extra orders of one shared entry: morder[first .. first + n - 1]. */
struct multi {
    uint32_t entry, first, n;
};

struct ruleset_builder {
    char *pool;
    size_t pool_len, pool_cap;
    uint32_t *text_off;
    uint8_t *kind;
    uint32_t *attr;
    size_t n, cap;
    struct idxset entries;

    char *strpool;
    size_t str_len, str_cap;
    struct idxset strs; /* offsets into strpool (+1) */
    uint32_t *str_off;
    size_t nstr, str_off_cap;
    struct pair *pairs;
    size_t npairs, pairs_cap;
    struct idxset pairset;

    struct ipent *ips;
    size_t nips, ips_cap;

    struct claim *claims;
    size_t nclaims, claims_cap;

    size_t count[3];
    size_t dups;
    size_t ips4;
};

struct ruleset {
    char *pool;
    size_t pool_len;
    uint32_t *text_off;
    uint32_t *attr; /* kind << ATTR_KIND_SHIFT | pair */
    size_t n;
    char *strpool;
    size_t str_len;
    struct pair *pairs;
    size_t npairs;
    struct multi *multi; /* sorted by entry */
    size_t nmulti;
    uint32_t *morder; /* strpool offsets of the extra orders, sorted per entry */
    size_t nmorder;
    struct domhash *dom;
    struct nametrie *url_exact, *url_pfx;
    struct domhash *https_host; /* exact, over the hosts of https:// URL entries */
    struct iplpm *ip4, *ip6;
    size_t count[3];
    size_t ips4;
    uint64_t version;
};

/* ---- small helpers ---- */

static uint64_t hash_bytes(uint64_t seed, const void *p, size_t len)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

static void idxset_free(struct idxset *s)
{
    free(s->slot);
    free(s->hash);
}

/* Makes room for one more element (load <= 1/2). */
static int idxset_reserve(struct idxset *s)
{
    if ((s->n + 1) * 2 <= s->cap)
        return 0;
    size_t nc = s->cap ? s->cap * 2 : 1024;
    uint32_t *ns = calloc(nc, sizeof(*ns));
    uint64_t *nh = malloc(nc * sizeof(*nh));
    if (!ns || !nh) {
        free(ns);
        free(nh);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i])
            continue;
        size_t j = s->hash[i] & (nc - 1);
        while (ns[j])
            j = (j + 1) & (nc - 1);
        ns[j] = s->slot[i];
        nh[j] = s->hash[i];
    }
    idxset_free(s);
    s->slot = ns;
    s->hash = nh;
    s->cap = nc;
    return 0;
}

/* First slot position for h; the caller probes linearly. */
static size_t idxset_pos(const struct idxset *s, uint64_t h)
{
    return h & (s->cap - 1);
}

static void idxset_put(struct idxset *s, size_t pos, uint64_t h, uint32_t idx)
{
    s->slot[pos] = idx + 1;
    s->hash[pos] = h;
    s->n++;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "reason 'text'" with the text cut at 200 bytes and control bytes shown as '?'. */
static int fail(char *err, size_t errlen, const char *reason, const char *text, size_t len)
{
    char q[204];
    size_t n = len < 200 ? len : 200, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        q[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n < len) {
        memcpy(q + o, "...", 3);
        o += 3;
    }
    q[o] = '\0';
    seterr(err, errlen, "%s '%s'", reason, q);
    return -EINVAL;
}

/* ---- builder ---- */

struct ruleset_builder *ruleset_builder_new(void)
{
    return calloc(1, sizeof(struct ruleset_builder));
}

void ruleset_builder_free(struct ruleset_builder *b)
{
    if (!b)
        return;
    free(b->pool);
    free(b->text_off);
    free(b->kind);
    free(b->attr);
    idxset_free(&b->entries);
    free(b->strpool);
    idxset_free(&b->strs);
    free(b->str_off);
    free(b->pairs);
    idxset_free(&b->pairset);
    free(b->ips);
    free(b->claims);
    free(b);
}

size_t ruleset_builder_count(const struct ruleset_builder *b, enum rule_kind kind)
{
    return (b && (unsigned)kind < 3) ? b->count[kind] : 0;
}

size_t ruleset_builder_dups(const struct ruleset_builder *b)
{
    return b ? b->dups : 0;
}

/* Interns s (NUL-terminated); returns 0 and its offset in strpool, or -ENOMEM. */
static int intern_str(struct ruleset_builder *b, const char *s, uint32_t *off)
{
    size_t len = strlen(s);
    if (idxset_reserve(&b->strs))
        return -ENOMEM;
    uint64_t h = hash_bytes(7, s, len);
    size_t pos = idxset_pos(&b->strs, h);
    for (; b->strs.slot[pos]; pos = (pos + 1) & (b->strs.cap - 1)) {
        uint32_t o = b->str_off[b->strs.slot[pos] - 1];
        if (b->strs.hash[pos] == h && strcmp(b->strpool + o, s) == 0) {
            *off = o;
            return 0;
        }
    }
    if (b->str_len + len + 1 > UINT32_MAX ||
        grow((void **)&b->strpool, &b->str_cap, b->str_len + len + 1, 1) ||
        grow((void **)&b->str_off, &b->str_off_cap, b->nstr + 1, sizeof(*b->str_off)))
        return -ENOMEM;
    *off = (uint32_t)b->str_len;
    memcpy(b->strpool + b->str_len, s, len + 1);
    b->str_len += len + 1;
    b->str_off[b->nstr] = *off;
    idxset_put(&b->strs, pos, h, (uint32_t)b->nstr);
    b->nstr++;
    return 0;
}

static int intern_attrs(struct ruleset_builder *b, const struct rule_attrs *a, uint32_t *id)
{
    /* Lists add long runs with the same attributes: try the last pair first. */
    const char *order = (a && a->order) ? a->order : "";
    const char *cat = (a && a->category) ? a->category : "";
    if (b->npairs > 0) {
        const struct pair *l = &b->pairs[b->npairs - 1];
        if (strcmp(b->strpool + l->order, order) == 0 &&
            strcmp(b->strpool + l->category, cat) == 0) {
            *id = (uint32_t)(b->npairs - 1);
            return 0;
        }
    }
    struct pair p;
    if (intern_str(b, order, &p.order) || intern_str(b, cat, &p.category))
        return -ENOMEM;
    if (idxset_reserve(&b->pairset))
        return -ENOMEM;
    uint64_t h = hash_bytes(11, &p, sizeof(p));
    size_t pos = idxset_pos(&b->pairset, h);
    for (; b->pairset.slot[pos]; pos = (pos + 1) & (b->pairset.cap - 1)) {
        const struct pair *c = &b->pairs[b->pairset.slot[pos] - 1];
        if (c->order == p.order && c->category == p.category) {
            *id = b->pairset.slot[pos] - 1;
            return 0;
        }
    }
    if (grow((void **)&b->pairs, &b->pairs_cap, b->npairs + 1, sizeof(*b->pairs)))
        return -ENOMEM;
    b->pairs[b->npairs] = p;
    *id = (uint32_t)b->npairs;
    idxset_put(&b->pairset, pos, h, *id);
    b->npairs++;
    return 0;
}

/* Records that attrs' order also lists entry e (nothing when it has no order or is e's first). */
static int add_claim(struct ruleset_builder *b, uint32_t e, const struct rule_attrs *attrs)
{
    if (!attrs || !attrs->order || !attrs->order[0])
        return 0;
    if (strcmp(b->strpool + b->pairs[b->attr[e]].order, attrs->order) == 0)
        return 0;
    uint32_t off;
    if (intern_str(b, attrs->order, &off))
        return -ENOMEM;
    if (b->nclaims > 0 && b->claims[b->nclaims - 1].entry == e &&
        b->claims[b->nclaims - 1].order == off)
        return 0;
    if (grow((void **)&b->claims, &b->claims_cap, b->nclaims + 1, sizeof(*b->claims)))
        return -ENOMEM;
    b->claims[b->nclaims++] = (struct claim){ e, off };
    return 0;
}

/* The part of an entry's text that identifies it (and is the trie key): a URL without its
 * "scheme://", anything else whole. */
static size_t key_skip(enum rule_kind kind, const char *text)
{
    if (kind != RULE_URL)
        return 0;
    return text[4] == 's' ? 8 : 7;
}

static bool ci_prefix(const char *s, size_t len, const char *p)
{
    size_t pl = strlen(p);
    return len >= pl && strncasecmp(s, p, pl) == 0;
}

/* Normalizes a URL entry into out as "scheme://host/path[?query]". */
static int parse_url(const char *s, size_t len, char *out, size_t *olen, char *err, size_t errlen)
{
    bool tls = ci_prefix(s, len, "https://");
    size_t skip = tls ? 8 : 7;
    const char *a = s + skip;
    size_t alen = 0, rest = len - skip;
    while (alen < rest && a[alen] != '/' && a[alen] != '?' && a[alen] != '#')
        alen++;
    char host[NORM_HOST_MAX];
    size_t hlen;
    enum norm_host_kind hk;
    enum norm_status st = norm_host((const uint8_t *)a, alen, host, &hlen, &hk);
    if (st == NORM_NOMEM)
        return -ENOMEM;
    if (st != NORM_OK)
        return fail(err, errlen, norm_strerror(st), s, len);
    char path[NORM_PATH_MAX];
    size_t plen;
    st = norm_path((const uint8_t *)a + alen, rest - alen, path, sizeof(path), &plen);
    if (st != NORM_OK)
        return fail(err, errlen, st == NORM_TOO_LONG ? "path too long" : norm_strerror(st), s, len);
    size_t o = 0;
    memcpy(out, tls ? "https://" : "http://", skip);
    o = skip;
    if (hk == NORM_HOST_IPV6)
        out[o++] = '[';
    memcpy(out + o, host, hlen);
    o += hlen;
    if (hk == NORM_HOST_IPV6)
        out[o++] = ']';
    memcpy(out + o, path, plen);
    o += plen;
    out[o] = '\0';
    *olen = o;
    return 0;
}

/* Parses "addr/len" into ip and its normalized text (host bits cleared). */
static int parse_cidr(const char *s, size_t len, const char *slash, struct ipent *ip, char *out,
                      size_t *olen, char *err, size_t errlen)
{
    char a[64];
    size_t al = (size_t)(slash - s), pl = len - al - 1;
    if (al == 0 || al >= sizeof(a) || pl == 0 || pl > 3)
        return fail(err, errlen, "invalid CIDR", s, len);
    memcpy(a, s, al);
    a[al] = '\0';
    unsigned plen = 0;
    for (size_t i = 0; i < pl; i++) {
        char c = slash[1 + i];
        if (c < '0' || c > '9')
            return fail(err, errlen, "invalid prefix length", s, len);
        plen = plen * 10 + (unsigned)(c - '0');
    }
    memset(ip, 0, sizeof(*ip));
    if (inet_pton(AF_INET, a, ip->addr) == 1)
        ip->ver = 4;
    else if (inet_pton(AF_INET6, a, ip->addr) == 1)
        ip->ver = 6;
    else
        return fail(err, errlen, "invalid IP address", s, len);
    unsigned width = ip->ver == 4 ? 32 : 128;
    if (plen > width)
        return fail(err, errlen, "invalid prefix length", s, len);
    ip->plen = (uint8_t)plen;
    for (unsigned bit = plen; bit < width; bit++)
        ip->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    char t[INET6_ADDRSTRLEN];
    inet_ntop(ip->ver == 4 ? AF_INET : AF_INET6, ip->addr, t, sizeof(t));
    if (plen == width)
        *olen = (size_t)snprintf(out, NTEXT_MAX, "%s", t);
    else
        *olen = (size_t)snprintf(out, NTEXT_MAX, "%s/%u", t, plen);
    return 0;
}

/* Only hex digits, '.' and ':': the address part of a CIDR (checked for real later). */
static bool looks_ip(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* Parses and normalizes one entry into nt (NTEXT_MAX bytes), *kind and, for an address, ip. */
static int parse_entry(const char *text, size_t len, char *nt, size_t *nlenp, enum rule_kind *kindp,
                       struct ipent *ipp, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    while (len > 0 && (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
                       text[len - 1] == '\n'))
        len--;
    if (len == 0)
        return fail(err, errlen, "empty entry", text, len);
    if (len > ENTRY_TEXT_MAX)
        return fail(err, errlen, "entry too long", text, len);
    if (memchr(text, '\0', len))
        return fail(err, errlen, "NUL byte in entry", text, len);

    size_t nlen = 0;
    enum rule_kind kind;
    struct ipent ip;
    const char *slash;
    int rc;
    if (ci_prefix(text, len, "http://") || ci_prefix(text, len, "https://")) {
        kind = RULE_URL;
        if ((rc = parse_url(text, len, nt, &nlen, err, errlen)))
            return rc;
    } else if (memmem(text, len, "://", 3)) {
        return fail(err, errlen, "unsupported URL scheme", text, len);
    } else if ((slash = memchr(text, '/', len)) && looks_ip(text, (size_t)(slash - text))) {
        kind = RULE_IP;
        if ((rc = parse_cidr(text, len, slash, &ip, nt, &nlen, err, errlen)))
            return rc;
    } else if (slash) {
        /* "host/path" without a scheme: a URL (matching ignores the scheme anyway) */
        char u[ENTRY_TEXT_MAX + 8];
        memcpy(u, "http://", 7);
        memcpy(u + 7, text, len);
        kind = RULE_URL;
        if ((rc = parse_url(u, len + 7, nt, &nlen, NULL, 0)))
            return rc == -ENOMEM ? rc : fail(err, errlen, "invalid URL", text, len);
    } else {
        const char *h = text;
        size_t hl = len;
        if (hl > 2 && h[0] == '*' && h[1] == '.') { /* "*.ex.com" means what "ex.com" means */
            h += 2;
            hl -= 2;
        }
        enum norm_host_kind hk;
        enum norm_status st = norm_host((const uint8_t *)h, hl, nt, &nlen, &hk);
        if (st == NORM_NOMEM)
            return -ENOMEM;
        if (st != NORM_OK)
            return fail(err, errlen, norm_strerror(st), text, len);
        if (hk == NORM_HOST_NAME) {
            kind = RULE_DOMAIN;
        } else {
            kind = RULE_IP;
            memset(&ip, 0, sizeof(ip));
            ip.ver = hk == NORM_HOST_IPV4 ? 4 : 6;
            ip.plen = hk == NORM_HOST_IPV4 ? 32 : 128;
            inet_pton(ip.ver == 4 ? AF_INET : AF_INET6, nt, ip.addr);
        }
    }

    *nlenp = nlen;
    *kindp = kind;
    if (kind == RULE_IP)
        *ipp = ip;
    return 0;
}

int ruleset_normalize_entry(const char *text, size_t len, char out[RULESET_TEXT_MAX],
                            size_t *out_len, enum rule_kind *kind, char *err, size_t errlen)
{
    struct ipent ip;
    return parse_entry(text, len, out, out_len, kind, &ip, err, errlen);
}

int ruleset_builder_add(struct ruleset_builder *b, const char *text, size_t len,
                        const struct rule_attrs *attrs, char *err, size_t errlen)
{
    char nt[NTEXT_MAX];
    size_t nlen = 0;
    enum rule_kind kind;
    struct ipent ip;
    int rc = parse_entry(text, len, nt, &nlen, &kind, &ip, err, errlen);
    if (rc)
        return rc;

    if (b->n >= ENTRIES_MAX || b->pool_len + nlen + 1 > UINT32_MAX)
        return -ENOMEM;
    size_t skip = key_skip(kind, nt);
    if (idxset_reserve(&b->entries))
        return -ENOMEM;
    uint64_t h = hash_bytes((uint64_t)kind, nt + skip, nlen - skip);
    size_t pos = idxset_pos(&b->entries, h);
    for (; b->entries.slot[pos]; pos = (pos + 1) & (b->entries.cap - 1)) {
        if (b->entries.hash[pos] != h)
            continue;
        uint32_t e = b->entries.slot[pos] - 1;
        if (b->kind[e] != kind)
            continue;
        const char *o = b->pool + b->text_off[e];
        size_t os = key_skip(kind, o);
        if (strcmp(o + os, nt + skip) == 0) {
            b->dups++;
            return add_claim(b, e, attrs);
        }
    }
    uint32_t aid;
    if (intern_attrs(b, attrs, &aid))
        return -ENOMEM;
    if (grow((void **)&b->pool, &b->pool_cap, b->pool_len + nlen + 1, 1))
        return -ENOMEM;
    size_t c = b->cap;
    if (grow((void **)&b->text_off, &c, b->n + 1, sizeof(*b->text_off)))
        return -ENOMEM;
    c = b->cap;
    if (grow((void **)&b->kind, &c, b->n + 1, sizeof(*b->kind)))
        return -ENOMEM;
    c = b->cap;
    if (grow((void **)&b->attr, &c, b->n + 1, sizeof(*b->attr)))
        return -ENOMEM;
    b->cap = c;
    if (kind == RULE_IP) {
        if (grow((void **)&b->ips, &b->ips_cap, b->nips + 1, sizeof(*b->ips)))
            return -ENOMEM;
        ip.entry = (uint32_t)b->n;
        b->ips[b->nips++] = ip;
        if (ip.ver == 4)
            b->ips4++;
    }
    b->text_off[b->n] = (uint32_t)b->pool_len;
    memcpy(b->pool + b->pool_len, nt, nlen + 1);
    b->pool_len += nlen + 1;
    b->kind[b->n] = (uint8_t)kind;
    b->attr[b->n] = aid;
    idxset_put(&b->entries, pos, h, (uint32_t)b->n);
    b->n++;
    b->count[kind]++;
    return 0;
}

/* ---- build ---- */

static void *shrink(void *p, size_t bytes)
{
    void *np = realloc(p, bytes ? bytes : 1);
    return np ? np : p;
}

static int claim_cmp(const void *x, const void *y)
{
    const struct claim *a = x, *c = y;
    if (a->entry != c->entry)
        return a->entry < c->entry ? -1 : 1;
    return a->order < c->order ? -1 : a->order > c->order;
}

/* Sorts the builder's claims into the set's per-entry order lists (duplicates dropped). */
static int build_multi(struct ruleset *rs, struct ruleset_builder *b)
{
    if (b->nclaims == 0)
        return 0;
    qsort(b->claims, b->nclaims, sizeof(*b->claims), claim_cmp);
    rs->morder = malloc(b->nclaims * sizeof(*rs->morder));
    rs->multi = malloc(b->nclaims * sizeof(*rs->multi));
    if (!rs->morder || !rs->multi)
        return -ENOMEM;
    for (size_t i = 0; i < b->nclaims; i++) {
        const struct claim *c = &b->claims[i];
        if (i > 0 && c->entry == c[-1].entry && c->order == c[-1].order)
            continue;
        if (rs->nmulti == 0 || rs->multi[rs->nmulti - 1].entry != c->entry)
            rs->multi[rs->nmulti++] = (struct multi){ c->entry, (uint32_t)rs->nmorder, 0 };
        rs->morder[rs->nmorder++] = c->order;
        rs->multi[rs->nmulti - 1].n++;
    }
    rs->multi = shrink(rs->multi, rs->nmulti * sizeof(*rs->multi));
    rs->morder = shrink(rs->morder, rs->nmorder * sizeof(*rs->morder));
    return 0;
}

struct ruleset *ruleset_build(struct ruleset_builder *b)
{
    if (!b)
        return NULL;
    struct ruleset *rs = calloc(1, sizeof(*rs));
    struct nametrie_key *uk = NULL, *pk = NULL;
    uint32_t *dk = NULL, *hk = NULL;
    struct iplpm_prefix *p4 = NULL, *p6 = NULL;
    if (!rs)
        goto fail;
    /* Take the builder's arrays. */
    rs->pool = nametrie_hugecopy(b->pool, b->pool_len);
    if (!rs->pool) {
        rs->pool = b->pool;
        b->pool = NULL;
    }
    rs->pool_len = b->pool_len;
    rs->text_off = shrink(b->text_off, b->n * sizeof(*rs->text_off));
    for (size_t e = 0; e < b->n; e++)
        b->attr[e] |= (uint32_t)b->kind[e] << ATTR_KIND_SHIFT;
    free(b->kind);
    b->kind = NULL;
    rs->attr = shrink(b->attr, b->n * sizeof(*rs->attr));
    rs->n = b->n;
    rs->strpool = shrink(b->strpool, b->str_len);
    rs->str_len = b->str_len;
    rs->pairs = shrink(b->pairs, b->npairs * sizeof(*rs->pairs));
    rs->npairs = b->npairs;
    memcpy(rs->count, b->count, sizeof(rs->count));
    rs->ips4 = b->ips4;
    free(b->pool);
    b->pool = NULL;
    b->text_off = NULL;
    b->attr = NULL;
    b->strpool = NULL;
    b->pairs = NULL;
    /* only now may the build fail: until here the builder still owned what rs points to */
    if (build_multi(rs, b))
        goto fail;
    /* The dedup tables are not needed any more: give their memory back before the tries. */
    idxset_free(&b->entries);
    memset(&b->entries, 0, sizeof(b->entries));

    size_t nd = 0, nu = 0, np = 0, nh = 0, n4 = 0, n6 = 0;
    dk = malloc((b->count[RULE_DOMAIN] + 1) * sizeof(*dk));
    uk = malloc((b->count[RULE_URL] + 1) * sizeof(*uk));
    pk = malloc((b->count[RULE_URL] + 1) * sizeof(*pk));
    hk = malloc((b->count[RULE_URL] + 1) * sizeof(*hk));
    p4 = malloc((b->ips4 + 1) * sizeof(*p4));
    p6 = malloc((b->nips - b->ips4 + 1) * sizeof(*p6));
    if (!dk || !uk || !pk || !hk || !p4 || !p6)
        goto fail;
    for (size_t e = 0; e < rs->n; e++) {
        const char *t = rs->pool + rs->text_off[e];
        enum rule_kind kind = (enum rule_kind)(rs->attr[e] >> ATTR_KIND_SHIFT);
        if (kind == RULE_DOMAIN) {
            dk[nd++] = (uint32_t)e;
        } else if (kind == RULE_URL) {
            size_t len = strlen(t);
            size_t s = key_skip(RULE_URL, t);
            uint32_t off = rs->text_off[e] + (uint32_t)s;
            if (t[len - 1] == '*')
                pk[np++] = (struct nametrie_key){ off, (uint32_t)(len - s - 1), (uint32_t)e };
            else
                uk[nu++] = (struct nametrie_key){ off, (uint32_t)(len - s), (uint32_t)e };
            if (s == 8) /* https: on TLS the path is invisible, the host is not */
                hk[nh++] = (uint32_t)e;
        }
    }
    for (size_t i = 0; i < b->nips; i++) {
        const struct ipent *ip = &b->ips[i];
        struct iplpm_prefix x;
        memcpy(x.addr, ip->addr, 16);
        x.plen = ip->plen;
        x.value = ip->entry;
        if (ip->ver == 4)
            p4[n4++] = x;
        else
            p6[n6++] = x;
    }
    rs->dom = domhash_build(rs->pool, rs->text_off, 0, dk, nd);
    free(dk);
    dk = NULL;
    /* the key of an https entry is its host: the text from byte 8 up to the first '/' */
    rs->https_host = domhash_build(rs->pool, rs->text_off, 8, hk, nh);
    free(hk);
    hk = NULL;
    rs->url_exact = nametrie_build(rs->pool, uk, nu);
    rs->url_pfx = nametrie_build(rs->pool, pk, np);
    rs->ip4 = iplpm_build(p4, n4, 4);
    rs->ip6 = iplpm_build(p6, n6, 6);
    if (!rs->dom || !rs->url_exact || !rs->url_pfx || !rs->https_host || !rs->ip4 || !rs->ip6)
        goto fail;
    free(uk);
    free(pk);
    free(hk);
    free(p4);
    free(p6);
    ruleset_builder_free(b);
    return rs;
fail:
    free(dk);
    free(uk);
    free(pk);
    free(hk);
    free(p4);
    free(p6);
    ruleset_free(rs);
    ruleset_builder_free(b);
    return NULL;
}

void ruleset_free(struct ruleset *rs)
{
    if (!rs)
        return;
    free(rs->pool);
    free(rs->text_off);
    free(rs->attr);
    free(rs->strpool);
    free(rs->pairs);
    free(rs->multi);
    free(rs->morder);
    domhash_free(rs->dom);
    nametrie_free(rs->url_exact);
    nametrie_free(rs->url_pfx);
    domhash_free(rs->https_host);
    iplpm_free(rs->ip4);
    iplpm_free(rs->ip6);
    free(rs);
}

/* ---- lookups ---- */

_Static_assert(NAMETRIE_NONE == UINT32_MAX && DOMHASH_NONE == UINT32_MAX &&
                   IPLPM_NONE == UINT32_MAX,
               "every matcher says 'none' the same way");

/* Each matcher holds entries of one kind: the result needs no load of the entry's attributes. */
static bool result(uint32_t v, enum rule_kind kind, struct rule_match *m)
{
    if (m) {
        m->entry = v == UINT32_MAX ? RULESET_NO_ENTRY : v;
        m->kind = v == UINT32_MAX ? RULE_DOMAIN : kind;
    }
    return v != UINT32_MAX;
}

bool ruleset_match_domain(const struct ruleset *rs, const char *host, size_t len,
                          struct rule_match *m)
{
    uint32_t v = rs ? domhash_lookup(rs->dom, host, len, DOMHASH_LABEL) : DOMHASH_NONE;
    return result(v, RULE_DOMAIN, m);
}

/* "host/path": an IPv6 host in brackets, as entries are written. Returns the bytes written
 * (truncated at cap). */
static size_t url_key(char *k, size_t cap, const char *host, size_t hlen, const char *path,
                      size_t plen)
{
    size_t o = 0;
    bool v6 = memchr(host, ':', hlen) != NULL;
    if (v6 && o < cap)
        k[o++] = '[';
    size_t n = hlen < cap - o ? hlen : cap - o;
    memcpy(k + o, host, n);
    o += n;
    if (v6 && o < cap)
        k[o++] = ']';
    n = plen < cap - o ? plen : cap - o;
    memcpy(k + o, path, n);
    o += n;
    return o;
}

bool ruleset_match_url(const struct ruleset *rs, const char *host, size_t hlen, const char *path,
                       size_t plen, struct rule_match *m)
{
    if (!rs)
        return result(NAMETRIE_NONE, RULE_DOMAIN, m);
    char k[NTEXT_MAX];
    size_t klen = url_key(k, sizeof(k), host, hlen, path, plen);
    bool whole = klen == hlen + plen + (memchr(host, ':', hlen) ? 2 : 0);
    uint32_t v = NAMETRIE_NONE;
    if (whole) {
        v = nametrie_lookup(rs->url_exact, k, klen, NAMETRIE_EXACT);
        const char *qm = memchr(path, '?', plen);
        if (v == NAMETRIE_NONE && qm)
            v = nametrie_lookup(rs->url_exact, k, klen - (plen - (size_t)(qm - path)),
                                NAMETRIE_EXACT);
    }
    if (v == NAMETRIE_NONE)
        v = nametrie_lookup(rs->url_pfx, k, klen, NAMETRIE_PREFIX);
    return result(v, RULE_URL, m);
}

bool ruleset_match_url_host(const struct ruleset *rs, const char *host, size_t len,
                            struct rule_match *m)
{
    if (!rs || len >= NORM_HOST_MAX)
        return result(NAMETRIE_NONE, RULE_DOMAIN, m);
    char k[NORM_HOST_MAX + 3];
    size_t klen = url_key(k, sizeof(k), host, len, "", 0); /* IPv6 hosts are keyed in brackets */
    return result(domhash_lookup(rs->https_host, k, klen, DOMHASH_EXACT), RULE_URL, m);
}

bool ruleset_match_ip(const struct ruleset *rs, int ipver, const uint8_t *addr,
                      struct rule_match *m)
{
    uint32_t v = IPLPM_NONE;
    if (rs && ipver == 4)
        v = iplpm_lookup(rs->ip4, addr);
    else if (rs && ipver == 6)
        v = iplpm_lookup(rs->ip6, addr);
    return result(v, RULE_IP, m);
}

/* ---- attributes ---- */

const char *ruleset_entry_text(const struct ruleset *rs, uint32_t entry)
{
    return (rs && entry < rs->n) ? rs->pool + rs->text_off[entry] : "";
}

const char *ruleset_entry_order(const struct ruleset *rs, uint32_t entry)
{
    return (rs && entry < rs->n) ? rs->strpool + rs->pairs[rs->attr[entry] & ATTR_PAIR].order : "";
}

const char *ruleset_entry_category(const struct ruleset *rs, uint32_t entry)
{
    return (rs && entry < rs->n) ? rs->strpool + rs->pairs[rs->attr[entry] & ATTR_PAIR].category
                                 : "";
}

size_t ruleset_entry_orders(const struct ruleset *rs, uint32_t entry, const char **out, size_t cap)
{
    if (!rs || entry >= rs->n)
        return 0;
    size_t n = 0;
    const char *first = ruleset_entry_order(rs, entry);
    if (first[0]) {
        if (n < cap)
            out[n] = first;
        n++;
    }
    size_t lo = 0, hi = rs->nmulti;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rs->multi[mid].entry < entry)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < rs->nmulti && rs->multi[lo].entry == entry) {
        const struct multi *m = &rs->multi[lo];
        for (uint32_t i = 0; i < m->n; i++, n++)
            if (n < cap)
                out[n] = rs->strpool + rs->morder[m->first + i];
    }
    return n;
}

enum rule_kind ruleset_entry_kind(const struct ruleset *rs, uint32_t entry)
{
    return (rs && entry < rs->n) ? (enum rule_kind)(rs->attr[entry] >> ATTR_KIND_SHIFT)
                                 : RULE_DOMAIN;
}

size_t ruleset_entry_count(const struct ruleset *rs)
{
    return rs ? rs->n : 0;
}

void ruleset_set_version(struct ruleset *rs, uint64_t version)
{
    if (rs)
        rs->version = version;
}

void ruleset_get_stats(const struct ruleset *rs, struct ruleset_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!rs)
        return;
    st->domains = rs->count[RULE_DOMAIN];
    st->urls = rs->count[RULE_URL];
    st->ips4 = rs->ips4;
    st->ips6 = rs->count[RULE_IP] - rs->ips4;
    st->version = rs->version;
    st->bytes = sizeof(*rs) + rs->pool_len + rs->n * (sizeof(*rs->text_off) + sizeof(*rs->attr)) +
                rs->str_len + rs->npairs * sizeof(*rs->pairs) + rs->nmulti * sizeof(*rs->multi) +
                rs->nmorder * sizeof(*rs->morder) + domhash_bytes(rs->dom) +
                nametrie_bytes(rs->url_exact) + nametrie_bytes(rs->url_pfx) +
                domhash_bytes(rs->https_host) + iplpm_bytes(rs->ip4) + iplpm_bytes(rs->ip6);
}
