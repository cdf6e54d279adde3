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
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/compiler.h"
#include "common/fileio.h"
#include "rules/match/domhash.h"
#include "rules/match/iplpm.h"
#include "rules/match/nametrie.h"
#include "rules/match/normalize.h"

_Static_assert(RULESET_LEVELS_MAX <= DOMHASH_MULTI_MAX, "a domain lookup spans every level");
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

    /* An image-backed set: every array above points into this read-only mapping of the file
     * (ruleset_image_open()); the matchers are views over it. */
    void *map;
    size_t map_len;

    /* Holders of this set: 1 for its owner, +1 for every overlay set built on it. */
    atomic_size_t refs;

    /* An overlay set (ruleset_apply()) has no arrays of its own: a stack of nlv flat sets
     * (docs/matching.md "The overlay"), each shared by reference (counted in its refs): lv[0]
     * the big base, lv[1 .. nlv-2] frozen deltas, lv[nlv-1] the top delta (rebuilt by the next
     * apply while it is small). Level i's entry e has the id off[i] + e (off[0] = 0, off[i]
     * the end of level i-1 rounded up to 64: ids in between are no entry). The entries below
     * the top whose bit is set in dead (bit id of dead[id / 64], off[nlv-1] bits) are passed
     * over; the top's are all live. nlv is 0 for a flat set. */
    struct ruleset *lv[RULESET_LEVELS_MAX];
    uint32_t off[RULESET_LEVELS_MAX];
    size_t nlv;
    uint64_t *dead;
    size_t ndead;
    size_t dead_count[3], dead_ips4;

    /* The IP fallback address table attached before publication (ruleset_set_fallback()); this
     * set's own, never inherited by an overlay built on it. */
    struct fbaddr *fb;
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
    if (rs)
        atomic_init(&rs->refs, 1);
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

struct ruleset *ruleset_ref(const struct ruleset *rs)
{
    struct ruleset *m = (struct ruleset *)rs;
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void ruleset_free(struct ruleset *rs)
{
    if (!rs)
        return;
    if (atomic_fetch_sub(&rs->refs, 1) != 1)
        return; /* an overlay set still uses it */
    fbaddr_free(rs->fb);
    if (rs->nlv) {
        for (size_t i = 0; i < rs->nlv; i++)
            ruleset_free(rs->lv[i]);
        free(rs->dead);
        free(rs);
        return;
    }
    if (rs->map) {
        munmap(rs->map, rs->map_len);
        rs->pool = NULL;
        rs->text_off = NULL;
        rs->attr = NULL;
        rs->strpool = NULL;
        rs->pairs = NULL;
        rs->multi = NULL;
        rs->morder = NULL;
    }
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

static const struct ruleset *holder(const struct ruleset *rs, uint32_t *entry);

/* The tombstone bits of level i of overlay rs, indexed by the level's own ids (NULL for the
 * top: its entries are all live). */
static inline const uint64_t *lv_dead(const struct ruleset *rs, size_t i)
{
    return i + 1 < rs->nlv ? rs->dead + rs->off[i] / 64 : NULL;
}

/* Of a result v (overlay id, live) and level i's result x (its own id, live), the one ranked
 * higher by longer (more specific), in overlay ids; v on a tie. */
static uint32_t pick(const struct ruleset *rs, uint32_t v, size_t i, uint32_t x,
                     size_t (*rank)(const struct ruleset *, uint32_t))
{
    if (x == UINT32_MAX)
        return v;
    if (v == UINT32_MAX)
        return rs->off[i] + x;
    uint32_t e = v;
    const struct ruleset *h = holder(rs, &e);
    return !h || rank(rs->lv[i], x) > rank(h, e) ? rs->off[i] + x : v;
}

static size_t text_len(const struct ruleset *flat, uint32_t e)
{
    return strlen(flat->pool + flat->text_off[e]);
}

/* A URL entry's key length: its text without the scheme ("https://" is one byte longer). */
static size_t url_key_len(const struct ruleset *flat, uint32_t e)
{
    const char *t = flat->pool + flat->text_off[e];
    return strlen(t) - key_skip(RULE_URL, t);
}

/* The domain lookup through overlay rs's levels (kept out of line: the flat set's path stays
 * a plain call). A key is live in one level at most: every level in one pass over the
 * suffixes. */
static __attribute__((noinline)) uint32_t domain_levels(const struct ruleset *rs,
                                                        const struct domhash_query *hq)
{
    size_t t = rs->nlv - 1;
    const struct domhash *h[RULESET_LEVELS_MAX];
    const uint64_t *dd[RULESET_LEVELS_MAX];
    for (size_t i = 0; i <= t; i++) {
        h[i] = rs->lv[i]->dom;
        dd[i] = lv_dead(rs, i);
    }
    size_t which;
    uint32_t v = domhash_lookup_multi_query(h, dd, t + 1, hq, &which);
    return v != DOMHASH_NONE ? v + rs->off[which] : v;
}

bool ruleset_match_domain_query(const struct ruleset *rs, const struct domhash_query *hq,
                                struct rule_match *m)
{
    uint32_t v = DOMHASH_NONE;
    if (rs && !rs->nlv)
        v = domhash_lookup_query(rs->dom, hq, NULL);
    else if (rs)
        v = domain_levels(rs, hq);
    return result(v, RULE_DOMAIN, m);
}

bool ruleset_match_domain(const struct ruleset *rs, const char *host, size_t len,
                          struct rule_match *m)
{
    if (rs && !rs->nlv)
        return result(domhash_lookup(rs->dom, host, len, DOMHASH_LABEL), RULE_DOMAIN, m);
    struct domhash_query hq;
    domhash_query_init(&hq, host, len);
    return ruleset_match_domain_query(rs, &hq, m);
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

/* The URL steps in one flat set: r[0] exact with the query, r[1] exact without it, r[2] the
 * longest prefix entry. Later steps are only taken when stop is false and earlier ones failed. */
static void url_steps(const struct ruleset *flat, const uint64_t *dead, const char *k, size_t klen,
                      bool whole, size_t qcut, bool stop, uint32_t r[3])
{
    r[0] = r[1] = r[2] = NAMETRIE_NONE;
    if (whole) {
        r[0] = nametrie_lookup_live(flat->url_exact, k, klen, NAMETRIE_EXACT, dead);
        if (r[0] != NAMETRIE_NONE && stop)
            return;
        if (qcut)
            r[1] = nametrie_lookup_live(flat->url_exact, k, klen - qcut, NAMETRIE_EXACT, dead);
        if (r[1] != NAMETRIE_NONE && stop)
            return;
    }
    r[2] = nametrie_lookup_live(flat->url_pfx, k, klen, NAMETRIE_PREFIX, dead);
}

/* The URL steps through overlay rs's levels: per step the most specific live hit of all
 * levels (out of line, as domain_levels()). */
static __attribute__((noinline)) uint32_t url_levels(const struct ruleset *rs, const char *k,
                                                     size_t klen, bool whole, size_t qcut)
{
    uint32_t rb[3], best[3] = { NAMETRIE_NONE, NAMETRIE_NONE, NAMETRIE_NONE };
    for (size_t l = 0; l < rs->nlv; l++) {
        url_steps(rs->lv[l], lv_dead(rs, l), k, klen, whole, qcut, false, rb);
        for (int i = 0; i < 3; i++) /* exact steps: one live hit of all levels at most */
            best[i] = pick(rs, best[i], l, rb[i], url_key_len);
    }
    return best[0] != NAMETRIE_NONE ? best[0] : best[1] != NAMETRIE_NONE ? best[1] : best[2];
}

bool ruleset_match_url(const struct ruleset *rs, const char *host, size_t hlen, const char *path,
                       size_t plen, struct rule_match *m)
{
    if (!rs)
        return result(NAMETRIE_NONE, RULE_DOMAIN, m);
    char k[NTEXT_MAX];
    size_t klen = url_key(k, sizeof(k), host, hlen, path, plen);
    bool whole = klen == hlen + plen + (memchr(host, ':', hlen) ? 2 : 0);
    const char *qm = memchr(path, '?', plen);
    size_t qcut = qm ? plen - (size_t)(qm - path) : 0;
    uint32_t rb[3], v;
    if (!rs->nlv) {
        url_steps(rs, NULL, k, klen, whole, qcut, true, rb);
        v = rb[0] != NAMETRIE_NONE ? rb[0] : rb[1] != NAMETRIE_NONE ? rb[1] : rb[2];
    } else {
        v = url_levels(rs, k, klen, whole, qcut);
    }
    return result(v, RULE_URL, m);
}

bool ruleset_match_url_host(const struct ruleset *rs, const char *host, size_t len,
                            struct rule_match *m)
{
    if (!rs || len >= NORM_HOST_MAX)
        return result(NAMETRIE_NONE, RULE_DOMAIN, m);
    char k[NORM_HOST_MAX + 3];
    if (!rs->nlv && !memchr(host, ':', len)) /* the key is the host itself: no copy */
        return result(domhash_lookup(rs->https_host, host, len, DOMHASH_EXACT), RULE_URL, m);
    size_t klen = url_key(k, sizeof(k), host, len, "", 0); /* IPv6 hosts are keyed in brackets */
    if (!rs->nlv)
        return result(domhash_lookup(rs->https_host, k, klen, DOMHASH_EXACT), RULE_URL, m);
    /* ruleset_apply() keeps a live entry of some level as the host's representative */
    uint32_t v = DOMHASH_NONE;
    for (size_t l = 0; l < rs->nlv; l++)
        v = pick(rs, v, l,
                 domhash_lookup_live(rs->lv[l]->https_host, k, klen, DOMHASH_EXACT, lv_dead(rs, l)),
                 text_len);
    return result(v, RULE_URL, m);
}

/* The prefix length of an IP entry, from its text ("a.b.c.d/len", or a whole address). */
static size_t ip_plen(const struct ruleset *flat, uint32_t e)
{
    const char *t = flat->pool + flat->text_off[e];
    const char *sl = strchr(t, '/');
    if (sl)
        return (size_t)strtoul(sl + 1, NULL, 10);
    return strchr(t, ':') ? 128 : 32;
}

bool ruleset_match_ip(const struct ruleset *rs, int ipver, const uint8_t *addr,
                      struct rule_match *m)
{
    uint32_t v = IPLPM_NONE;
    if (!rs || (ipver != 4 && ipver != 6))
        return result(v, RULE_IP, m);
    if (!rs->nlv) {
        v = iplpm_lookup(ipver == 4 ? rs->ip4 : rs->ip6, addr);
    } else {
        for (size_t l = 0; l < rs->nlv; l++) {
            const struct ruleset *f = rs->lv[l];
            v = pick(rs, v, l,
                     iplpm_lookup_live(ipver == 4 ? f->ip4 : f->ip6, addr, lv_dead(rs, l)),
                     ip_plen);
        }
    }
    return result(v, RULE_IP, m);
}

/* ---- attributes ---- */

/* The flat set holding entry of rs, and its id there; NULL when out of range. */
static const struct ruleset *holder(const struct ruleset *rs, uint32_t *entry)
{
    if (!rs)
        return NULL;
    if (rs->nlv) {
        size_t i = rs->nlv - 1;
        while (i > 0 && *entry < rs->off[i])
            i--;
        *entry -= rs->off[i];
        rs = rs->lv[i];
    }
    return *entry < rs->n ? rs : NULL;
}

const char *ruleset_entry_text(const struct ruleset *rs, uint32_t entry)
{
    rs = holder(rs, &entry);
    return rs ? rs->pool + rs->text_off[entry] : "";
}

const char *ruleset_entry_order(const struct ruleset *rs, uint32_t entry)
{
    rs = holder(rs, &entry);
    return rs ? rs->strpool + rs->pairs[rs->attr[entry] & ATTR_PAIR].order : "";
}

const char *ruleset_entry_category(const struct ruleset *rs, uint32_t entry)
{
    rs = holder(rs, &entry);
    return rs ? rs->strpool + rs->pairs[rs->attr[entry] & ATTR_PAIR].category : "";
}

/* The extra orders of entry of a flat set: its multi record, or NULL. */
static const struct multi *multi_of(const struct ruleset *rs, uint32_t entry)
{
    size_t lo = 0, hi = rs->nmulti;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rs->multi[mid].entry < entry)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rs->nmulti && rs->multi[lo].entry == entry ? &rs->multi[lo] : NULL;
}

size_t ruleset_entry_orders(const struct ruleset *rs, uint32_t entry, const char **out, size_t cap)
{
    rs = holder(rs, &entry);
    if (!rs)
        return 0;
    size_t n = 0;
    const char *first = rs->strpool + rs->pairs[rs->attr[entry] & ATTR_PAIR].order;
    if (first[0]) {
        if (n < cap)
            out[n] = first;
        n++;
    }
    const struct multi *m = multi_of(rs, entry);
    for (uint32_t i = 0; m && i < m->n; i++, n++)
        if (n < cap)
            out[n] = rs->strpool + rs->morder[m->first + i];
    return n;
}

enum rule_kind ruleset_entry_kind(const struct ruleset *rs, uint32_t entry)
{
    rs = holder(rs, &entry);
    return rs ? (enum rule_kind)(rs->attr[entry] >> ATTR_KIND_SHIFT) : RULE_DOMAIN;
}

bool ruleset_entry_live(const struct ruleset *rs, uint32_t entry)
{
    if (rs && rs->nlv && entry < rs->off[rs->nlv - 1] && rs->dead[entry / 64] >> (entry % 64) & 1)
        return false;
    return holder(rs, &entry) != NULL;
}

size_t ruleset_entry_count(const struct ruleset *rs)
{
    if (rs && rs->nlv)
        return rs->off[rs->nlv - 1] + rs->lv[rs->nlv - 1]->n;
    return rs ? rs->n : 0;
}

void ruleset_set_version(struct ruleset *rs, uint64_t version)
{
    if (rs)
        rs->version = version;
}

static size_t flat_bytes(const struct ruleset *rs)
{
    if (rs->map)
        return sizeof(*rs) + rs->map_len;
    return sizeof(*rs) + rs->pool_len + rs->n * (sizeof(*rs->text_off) + sizeof(*rs->attr)) +
           rs->str_len + rs->npairs * sizeof(*rs->pairs) + rs->nmulti * sizeof(*rs->multi) +
           rs->nmorder * sizeof(*rs->morder) + domhash_bytes(rs->dom) +
           nametrie_bytes(rs->url_exact) + nametrie_bytes(rs->url_pfx) +
           domhash_bytes(rs->https_host) + iplpm_bytes(rs->ip4) + iplpm_bytes(rs->ip6);
}

void ruleset_set_fallback(struct ruleset *rs, struct fbaddr *fb)
{
    fbaddr_free(rs->fb);
    rs->fb = fb;
}

const struct fbaddr *ruleset_fallback(const struct ruleset *rs)
{
    return rs ? rs->fb : NULL;
}

void ruleset_get_stats(const struct ruleset *rs, struct ruleset_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!rs)
        return;
    st->version = rs->version;
    st->fallback = fbaddr_count(rs->fb);
    if (rs->nlv) {
        size_t ips = 0;
        st->bytes = sizeof(*rs) + rs->off[rs->nlv - 1] / 8 + fbaddr_bytes(rs->fb);
        for (size_t i = 0; i < rs->nlv; i++) {
            const struct ruleset *f = rs->lv[i];
            st->domains += f->count[RULE_DOMAIN];
            st->urls += f->count[RULE_URL];
            st->ips4 += f->ips4;
            ips += f->count[RULE_IP];
            if (i > 0) /* the base is shared: the deltas (often shared too) are counted */
                st->bytes += flat_bytes(f);
        }
        st->domains -= rs->dead_count[RULE_DOMAIN];
        st->urls -= rs->dead_count[RULE_URL];
        st->ips4 -= rs->dead_ips4;
        st->ips6 = ips - st->ips4 - rs->dead_count[RULE_IP];
        return;
    }
    st->domains = rs->count[RULE_DOMAIN];
    st->urls = rs->count[RULE_URL];
    st->ips4 = rs->ips4;
    st->ips6 = rs->count[RULE_IP] - rs->ips4;
    st->bytes = flat_bytes(rs) + fbaddr_bytes(rs->fb);
}

/* ---- the disk image ----
 *
 *   header   struct img_header (below), 512 bytes
 *   payload  the sections of enum img_sect, each at a 64-byte aligned offset, zero-padded
 *
 * The arrays are written as they lie in memory (host byte order, the structs' layout): the
 * layout string names what that depends on and a file written by a build of another layout is
 * refused rather than read wrongly. The checksum (XXH64, libxxhash: about 8 GB/s; format 1
 * had SHA-256, 1 GB/s with SHA-NI, 4.5 ms of every `qorgau scan --image` of a 4 MB image) covers
 * the whole payload against disk and transfer errors; after it, every index stored in the arrays
 * is checked against the array it indexes, so a file whose checksum was forged still cannot make
 * a lookup read outside the mapping. */

#define IMG_MAGIC  "QGRULES\x1a"
#define IMG_LAYOUT "le-nt12-dh8-ip16"
#define IMG_HDR    512
#define IMG_ALIGN  64

enum img_sect {
    S_POOL,
    S_TEXT_OFF,
    S_ATTR,
    S_STRPOOL,
    S_PAIRS,
    S_MULTI,
    S_MORDER,
    S_DOM_SLOT,
    S_DOM_BLOOM,
    S_HH_SLOT,
    S_HH_BLOOM,
    S_UX_NODE,
    S_UX_FIRST,
    S_UP_NODE,
    S_UP_FIRST,
    S_IP4_START,
    S_IP4_VALUE,
    S_IP4_PAR,
    S_IP6_START,
    S_IP6_VALUE,
    S_IP6_PAR,
    S_COUNT
};

struct img_header {
    char magic[8];
    uint32_t format;
    uint32_t header_size;
    char layout[16];
    uint64_t version;
    uint64_t payload_len;
    uint8_t sum[32]; /* format 2: XXH64 of the payload, little-endian, then 24 zero bytes */
    uint64_t entries, domains, urls, ips4, ips6;
    uint64_t dom_n, dom_cap, hh_n, hh_cap;
    uint32_t dom_lines, hh_lines;
    uint64_t sect[S_COUNT][2]; /* offset from the start of the file, length in bytes */
};

_Static_assert(sizeof(struct img_header) <= IMG_HDR, "the header fits its block");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the image layout string says little-endian"
#endif

/* A flat set's arrays as sections, the header's scalars filled. */
static void img_layout(const struct ruleset *rs, struct img_header *h, const void *ptr[S_COUNT])
{
    struct domhash_parts dp, hp;
    struct nametrie_parts ux, up;
    struct iplpm_parts p4, p6;
    domhash_parts(rs->dom, &dp);
    domhash_parts(rs->https_host, &hp);
    nametrie_parts(rs->url_exact, &ux);
    nametrie_parts(rs->url_pfx, &up);
    iplpm_parts(rs->ip4, &p4);
    iplpm_parts(rs->ip6, &p6);
    const struct {
        const void *p;
        size_t len;
    } sec[S_COUNT] = {
        [S_POOL] = { rs->pool, rs->pool_len },
        [S_TEXT_OFF] = { rs->text_off, rs->n * sizeof(*rs->text_off) },
        [S_ATTR] = { rs->attr, rs->n * sizeof(*rs->attr) },
        [S_STRPOOL] = { rs->strpool, rs->str_len },
        [S_PAIRS] = { rs->pairs, rs->npairs * sizeof(*rs->pairs) },
        [S_MULTI] = { rs->multi, rs->nmulti * sizeof(*rs->multi) },
        [S_MORDER] = { rs->morder, rs->nmorder * sizeof(*rs->morder) },
        [S_DOM_SLOT] = { dp.slot, dp.slot_bytes },
        [S_DOM_BLOOM] = { dp.bloom, dp.bloom_bytes },
        [S_HH_SLOT] = { hp.slot, hp.slot_bytes },
        [S_HH_BLOOM] = { hp.bloom, hp.bloom_bytes },
        [S_UX_NODE] = { ux.node, (size_t)ux.n * NAMETRIE_NODE_BYTES },
        [S_UX_FIRST] = { ux.first, (size_t)ux.n },
        [S_UP_NODE] = { up.node, (size_t)up.n * NAMETRIE_NODE_BYTES },
        [S_UP_FIRST] = { up.first, (size_t)up.n },
        [S_IP4_START] = { p4.start, (size_t)p4.n * 16 },
        [S_IP4_VALUE] = { p4.value, (size_t)p4.n * 4 },
        [S_IP4_PAR] = { p4.parent, (size_t)p4.nparent * 8 },
        [S_IP6_START] = { p6.start, (size_t)p6.n * 16 },
        [S_IP6_VALUE] = { p6.value, (size_t)p6.n * 4 },
        [S_IP6_PAR] = { p6.parent, (size_t)p6.nparent * 8 },
    };
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, IMG_MAGIC, 8);
    h->format = RULESET_IMAGE_FORMAT;
    h->header_size = IMG_HDR;
    memcpy(h->layout, IMG_LAYOUT, 16);
    h->entries = rs->n;
    h->domains = rs->count[RULE_DOMAIN];
    h->urls = rs->count[RULE_URL];
    h->ips4 = rs->ips4;
    h->ips6 = rs->count[RULE_IP] - rs->ips4;
    h->dom_n = dp.n;
    h->dom_cap = dp.cap;
    h->dom_lines = dp.nlines;
    h->hh_n = hp.n;
    h->hh_cap = hp.cap;
    h->hh_lines = hp.nlines;
    uint64_t off = IMG_HDR;
    for (int i = 0; i < S_COUNT; i++) {
        ptr[i] = sec[i].p;
        h->sect[i][0] = off;
        h->sect[i][1] = sec[i].len;
        off = (off + sec[i].len + IMG_ALIGN - 1) & ~(uint64_t)(IMG_ALIGN - 1);
    }
    h->payload_len = off - IMG_HDR;
}

int ruleset_image_write(const struct ruleset *rs, const char *path, uint64_t version, char *err,
                        size_t errlen)
{
    if (!rs) {
        seterr(err, errlen, "rules: %s: no rule set to write", path);
        return -EINVAL;
    }
    struct ruleset *merged = NULL;
    if (rs->nlv) {
        merged = ruleset_merge(rs);
        if (!merged) {
            seterr(err, errlen, "rules: %s: out of memory merging the overlay", path);
            return -ENOMEM;
        }
        rs = merged;
    }
    struct img_header h;
    const void *ptr[S_COUNT];
    img_layout(rs, &h, ptr);
    h.version = version;
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int rc = 0, fd = -1;
    const char *what = "open";
    XXH64_state_t *md = XXH64_createState();
    if (!md || XXH64_reset(md, 0) != XXH_OK) {
        rc = -ENOMEM;
        goto done;
    }
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        rc = -ENAMETOOLONG;
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto done;
    }
    what = "write";
    static const uint8_t zero[IMG_HDR];
    if ((rc = fileio_write_all(fd, zero, IMG_HDR)))
        goto done;
    uint64_t at = IMG_HDR;
    for (int i = 0; i < S_COUNT; i++) {
        size_t pad = (size_t)(h.sect[i][0] - at);
        if (pad && (rc = fileio_write_all(fd, zero, pad)))
            goto done;
        (void)XXH64_update(md, zero, pad);
        size_t len = (size_t)h.sect[i][1];
        if (len && (rc = fileio_write_all(fd, ptr[i], len)))
            goto done;
        (void)XXH64_update(md, ptr[i], len);
        at = h.sect[i][0] + len;
    }
    size_t pad = (size_t)(IMG_HDR + h.payload_len - at);
    if (pad && (rc = fileio_write_all(fd, zero, pad)))
        goto done;
    (void)XXH64_update(md, zero, pad);
    uint64_t sum = htole64(XXH64_digest(md));
    memset(h.sum, 0, sizeof(h.sum));
    memcpy(h.sum, &sum, sizeof(sum));
    if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        rc = errno ? -errno : -EIO;
        goto done;
    }
    rc = fileio_commit(fd, tmp, path, &what); /* fsync, rename, fsync of the directory */
    fd = -1;
done:
    if (rc && rc != -EIO)
        seterr(err, errlen, "rules: %s: %s failed: %s", path, what, strerror(-rc));
    else if (rc)
        seterr(err, errlen, "rules: %s: %s failed", path, what);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    XXH64_freeState(md);
    ruleset_free(merged);
    return rc;
}

/* Checks the set-level arrays of a mapped image (the matchers check their own). */
static const char *img_check(const struct ruleset *rs)
{
    if (rs->n &&
        (rs->pool_len == 0 || rs->pool[rs->pool_len - 1] != '\0' || rs->pool_len > UINT32_MAX))
        return "entry texts not terminated";
    if (rs->npairs && (rs->str_len == 0 || rs->strpool[rs->str_len - 1] != '\0'))
        return "order strings not terminated";
    if (rs->n > ENTRIES_MAX)
        return "too many entries";
    size_t count[3] = { 0, 0, 0 }, ips4 = 0;
    for (size_t e = 0; e < rs->n; e++) {
        uint32_t k = rs->attr[e] >> ATTR_KIND_SHIFT;
        if (k > RULE_IP || (rs->attr[e] & ATTR_PAIR) >= rs->npairs)
            return "entry attributes out of range";
        if (rs->text_off[e] >= rs->pool_len)
            return "entry text out of range";
        /* the pool ends in a NUL: every text ends inside it; these reads stop at that NUL */
        const char *t = rs->pool + rs->text_off[e];
        if (t[0] == '\0' ||
            (k == RULE_URL && strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0))
            return "entry text malformed";
        count[k]++;
        if (k == RULE_IP && !strchr(t, ':'))
            ips4++;
    }
    if (count[0] != rs->count[0] || count[1] != rs->count[1] || count[2] != rs->count[2] ||
        ips4 != rs->ips4)
        return "entry counts differ from the header";
    for (size_t i = 0; i < rs->npairs; i++)
        if (rs->pairs[i].order >= rs->str_len || rs->pairs[i].category >= rs->str_len)
            return "order string out of range";
    for (size_t i = 0; i < rs->nmulti; i++) {
        const struct multi *m = &rs->multi[i];
        if (m->entry >= rs->n || (i > 0 && m->entry <= m[-1].entry) || m->first > rs->nmorder ||
            m->n > rs->nmorder - m->first)
            return "order list out of range";
    }
    for (size_t i = 0; i < rs->nmorder; i++)
        if (rs->morder[i] >= rs->str_len)
            return "order string out of range";
    return NULL;
}

struct ruleset *ruleset_image_open(const char *path, uint64_t *version, char *err, size_t errlen)
{
    const char *why = NULL;
    char mwhy[200];
    struct ruleset *rs = NULL;
    void *map = MAP_FAILED;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "rules: %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        seterr(err, errlen, "rules: %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    len = (size_t)st.st_size;
    if (len < 8) {
        why = len == 0 ? "empty file" : "truncated (no header)";
        goto fail;
    }
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        seterr(err, errlen, "rules: %s: mmap failed: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    const uint8_t *base = map;
    struct img_header h;
    if (memcmp(base, IMG_MAGIC, 8) != 0) {
        why = "not a rule set image (bad magic)";
        goto fail;
    }
    if (len < IMG_HDR) {
        why = "truncated (no header)";
        goto fail;
    }
    memcpy(&h, base, sizeof(h));
    if (h.format != RULESET_IMAGE_FORMAT) {
        snprintf(mwhy, sizeof(mwhy), "image format %u, this build reads %d", h.format,
                 RULESET_IMAGE_FORMAT);
        why = mwhy;
        goto fail;
    }
    if (h.header_size != IMG_HDR || memcmp(h.layout, IMG_LAYOUT, 16) != 0) {
        snprintf(mwhy, sizeof(mwhy), "written for another layout ('%.16s', this build: '%s')",
                 h.layout, IMG_LAYOUT);
        why = mwhy;
        goto fail;
    }
    if (h.payload_len != len - IMG_HDR) {
        snprintf(mwhy, sizeof(mwhy), "%s (payload %zu bytes, header says %llu)",
                 h.payload_len > len - IMG_HDR ? "truncated" : "trailing bytes", len - IMG_HDR,
                 (unsigned long long)h.payload_len);
        why = mwhy;
        goto fail;
    }
    uint8_t sum[32] = { 0 };
    uint64_t sum_le = htole64(XXH64(base + IMG_HDR, len - IMG_HDR, 0));
    memcpy(sum, &sum_le, sizeof(sum_le));
    if (memcmp(sum, h.sum, 32) != 0) { /* the 24 unused bytes must be zero too */
        why = "checksum mismatch";
        goto fail;
    }
    for (int i = 0; i < S_COUNT; i++) {
        uint64_t o = h.sect[i][0], l = h.sect[i][1];
        if (o < IMG_HDR || o % IMG_ALIGN || o > len || l > len - o) {
            why = "section out of the file";
            goto fail;
        }
    }
#define SECT(i) ((void *)(base + h.sect[i][0]))
#define SLEN(i) ((size_t)h.sect[i][1])
    if (h.entries > ENTRIES_MAX || SLEN(S_TEXT_OFF) != h.entries * 4 ||
        SLEN(S_ATTR) != h.entries * 4 || SLEN(S_PAIRS) % sizeof(struct pair) ||
        SLEN(S_MULTI) % sizeof(struct multi) || SLEN(S_MORDER) % 4 ||
        SLEN(S_UX_NODE) != SLEN(S_UX_FIRST) * NAMETRIE_NODE_BYTES ||
        SLEN(S_UP_NODE) != SLEN(S_UP_FIRST) * NAMETRIE_NODE_BYTES || SLEN(S_IP4_START) % 16 ||
        SLEN(S_IP4_VALUE) * 4 != SLEN(S_IP4_START) || SLEN(S_IP4_PAR) % 8 ||
        SLEN(S_IP6_START) % 16 || SLEN(S_IP6_VALUE) * 4 != SLEN(S_IP6_START) ||
        SLEN(S_IP6_PAR) % 8 || h.ips4 > h.entries ||
        h.domains + h.urls + h.ips4 + h.ips6 != h.entries) {
        why = "section sizes inconsistent";
        goto fail;
    }
    rs = calloc(1, sizeof(*rs));
    if (!rs) {
        why = "out of memory";
        goto fail;
    }
    atomic_init(&rs->refs, 1);
    rs->pool = SECT(S_POOL);
    rs->pool_len = SLEN(S_POOL);
    rs->text_off = SECT(S_TEXT_OFF);
    rs->attr = SECT(S_ATTR);
    rs->n = (size_t)h.entries;
    rs->strpool = SECT(S_STRPOOL);
    rs->str_len = SLEN(S_STRPOOL);
    rs->pairs = SECT(S_PAIRS);
    rs->npairs = SLEN(S_PAIRS) / sizeof(struct pair);
    rs->multi = SECT(S_MULTI);
    rs->nmulti = SLEN(S_MULTI) / sizeof(struct multi);
    rs->morder = SECT(S_MORDER);
    rs->nmorder = SLEN(S_MORDER) / 4;
    rs->count[RULE_DOMAIN] = (size_t)h.domains;
    rs->count[RULE_URL] = (size_t)h.urls;
    rs->count[RULE_IP] = (size_t)(h.ips4 + h.ips6);
    rs->ips4 = (size_t)h.ips4;
    rs->version = h.version;
    rs->map = map;
    rs->map_len = len;
    if ((why = img_check(rs)))
        goto fail;
    uint32_t nv = (uint32_t)rs->n;
    struct domhash_parts dp = { SECT(S_DOM_SLOT),  SECT(S_DOM_BLOOM), SLEN(S_DOM_SLOT),
                                SLEN(S_DOM_BLOOM), h.dom_n,           h.dom_cap,
                                h.dom_lines };
    struct domhash_parts hp = { SECT(S_HH_SLOT),  SECT(S_HH_BLOOM), SLEN(S_HH_SLOT),
                                SLEN(S_HH_BLOOM), h.hh_n,           h.hh_cap,
                                h.hh_lines };
    struct nametrie_parts ux = { SECT(S_UX_NODE), SECT(S_UX_FIRST), SLEN(S_UX_FIRST) };
    struct nametrie_parts up = { SECT(S_UP_NODE), SECT(S_UP_FIRST), SLEN(S_UP_FIRST) };
    struct iplpm_parts p4 = { 4,
                              SLEN(S_IP4_VALUE) / 4,
                              SECT(S_IP4_START),
                              SECT(S_IP4_VALUE),
                              SLEN(S_IP4_PAR) / 8,
                              SECT(S_IP4_PAR) };
    struct iplpm_parts p6 = { 6,
                              SLEN(S_IP6_VALUE) / 4,
                              SECT(S_IP6_START),
                              SECT(S_IP6_VALUE),
                              SLEN(S_IP6_PAR) / 8,
                              SECT(S_IP6_PAR) };
#undef SECT
#undef SLEN
    if (!(rs->dom = domhash_view(rs->pool, rs->pool_len, &dp, nv, mwhy, sizeof(mwhy))) ||
        !(rs->https_host = domhash_view(rs->pool, rs->pool_len, &hp, nv, mwhy, sizeof(mwhy))) ||
        !(rs->url_exact = nametrie_view(rs->pool, rs->pool_len, &ux, nv, mwhy, sizeof(mwhy))) ||
        !(rs->url_pfx = nametrie_view(rs->pool, rs->pool_len, &up, nv, mwhy, sizeof(mwhy))) ||
        !(rs->ip4 = iplpm_view(&p4, nv, mwhy, sizeof(mwhy))) ||
        !(rs->ip6 = iplpm_view(&p6, nv, mwhy, sizeof(mwhy)))) {
        why = mwhy;
        goto fail;
    }
    close(fd);
    if (version)
        *version = h.version;
    return rs;
fail:
    seterr(err, errlen, "rules: %s: %s", path, why);
    if (rs) {
        rs->map = NULL; /* unmapped below */
        rs->pool = NULL;
        rs->text_off = NULL;
        rs->attr = NULL;
        rs->strpool = NULL;
        rs->pairs = NULL;
        rs->multi = NULL;
        rs->morder = NULL;
        ruleset_free(rs);
    }
    if (map != MAP_FAILED)
        munmap(map, len);
    close(fd);
    return NULL;
}

/* ---- the overlay ----
 *
 * An apply keeps some of cur's levels as they are (those below its top; all of them when the
 * top is past RULESET_FREEZE, which freezes it; the base alone when the stack is full or when
 * compacting) and works on a list of the new top's entries with their full claim lists (the
 * live entries of the levels not kept, then entries of kept levels moved in because their
 * claims changed, then new ones), keyed like the builder's dedup (kind + text without the
 * scheme), and builds the top from it; entries of kept levels whose claims changed are
 * tombstoned. A key is live in one level at most. */

struct dent {
    char *text; /* normalized */
    uint8_t kind;
    bool gone; /* its last claim was lifted */
    char *category;
    char **orders;
    size_t norders, cap;
};

struct work {
    const struct ruleset *lv[RULESET_LEVELS_MAX]; /* the levels kept, with their id offsets */
    uint32_t off[RULESET_LEVELS_MAX];
    size_t nlv;
    uint64_t *dead; /* over the kept levels' ids */
    size_t words;
    struct dent *v;
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 = empty; power-of-two size */
    size_t nslot;
    char (*risk)[NORM_HOST_MAX + 3]; /* hosts that may have lost their https representative */
    size_t nrisk, risk_cap;
};

static uint64_t dent_hash(uint8_t kind, const char *text)
{
    size_t skip = key_skip((enum rule_kind)kind, text);
    return hash_bytes(kind, text + skip, strlen(text + skip));
}

static bool dent_is(const struct dent *d, uint8_t kind, const char *text)
{
    if (d->kind != kind)
        return false;
    return strcmp(d->text + key_skip((enum rule_kind)kind, d->text),
                  text + key_skip((enum rule_kind)kind, text)) == 0;
}

static struct dent *work_find(struct work *w, uint8_t kind, const char *text)
{
    if (!w->nslot)
        return NULL;
    for (size_t p = dent_hash(kind, text) & (w->nslot - 1); w->slot[p];
         p = (p + 1) & (w->nslot - 1))
        if (dent_is(&w->v[w->slot[p] - 1], kind, text))
            return &w->v[w->slot[p] - 1];
    return NULL;
}

static void work_index(struct work *w, size_t i)
{
    size_t p = dent_hash(w->v[i].kind, w->v[i].text) & (w->nslot - 1);
    while (w->slot[p])
        p = (p + 1) & (w->nslot - 1);
    w->slot[p] = (uint32_t)i + 1;
}

/* A new entry (no claims yet), or NULL on allocation failure. */
static struct dent *work_add(struct work *w, uint8_t kind, const char *text, const char *cat)
{
    if ((w->n + 1) * 2 > w->nslot) {
        size_t ns = w->nslot ? w->nslot * 2 : 256;
        uint32_t *sl = calloc(ns, sizeof(*sl));
        if (!sl)
            return NULL;
        free(w->slot);
        w->slot = sl;
        w->nslot = ns;
        for (size_t i = 0; i < w->n; i++)
            work_index(w, i);
    }
    if (grow((void **)&w->v, &w->cap, w->n + 1, sizeof(*w->v)))
        return NULL;
    struct dent *d = &w->v[w->n];
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    d->text = strdup(text);
    d->category = strdup(cat ? cat : "");
    if (!d->text || !d->category) {
        free(d->text);
        free(d->category);
        return NULL;
    }
    work_index(w, w->n++);
    return d;
}

static int dent_claim(struct dent *d, const char *order)
{
    if (!order || !order[0])
        return 0;
    for (size_t i = 0; i < d->norders; i++)
        if (strcmp(d->orders[i], order) == 0)
            return 0;
    if (grow((void **)&d->orders, &d->cap, d->norders + 1, sizeof(*d->orders)))
        return -ENOMEM;
    if (!(d->orders[d->norders] = strdup(order)))
        return -ENOMEM;
    d->norders++;
    return 0;
}

/* Removes order's claim; true if it was there. */
static bool dent_lift(struct dent *d, const char *order)
{
    for (size_t i = 0; i < d->norders; i++) {
        if (strcmp(d->orders[i], order) != 0)
            continue;
        free(d->orders[i]);
        memmove(&d->orders[i], &d->orders[i + 1], (d->norders - i - 1) * sizeof(*d->orders));
        d->norders--;
        return true;
    }
    return false;
}

static void work_free(struct work *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i].text);
        free(w->v[i].category);
        for (size_t j = 0; j < w->v[i].norders; j++)
            free(w->v[i].orders[j]);
        free(w->v[i].orders);
    }
    free(w->v);
    free(w->slot);
    free(w->dead);
    free(w->risk);
}

static bool is_dead(const uint64_t *dead, uint32_t e)
{
    return dead && dead[e / 64] >> (e % 64) & 1;
}

/* The kept level holding id *e (which becomes the level's own id); its index in *li. */
static const struct ruleset *w_level(const struct work *w, uint32_t *e, size_t *li)
{
    size_t i = w->nlv - 1;
    while (i > 0 && *e < w->off[i])
        i--;
    *e -= w->off[i];
    if (li)
        *li = i;
    return w->lv[i];
}

/* Notes that host's https representative may be gone (text: an https URL entry). */
static int work_risk(struct work *w, const char *text)
{
    if (strncmp(text, "https://", 8) != 0)
        return 0;
    size_t hl = strcspn(text + 8, "/");
    if (hl >= NORM_HOST_MAX + 3)
        return 0;
    if (grow((void **)&w->risk, &w->risk_cap, w->nrisk + 1, sizeof(*w->risk)))
        return -ENOMEM;
    memcpy(w->risk[w->nrisk], text + 8, hl);
    w->risk[w->nrisk][hl] = '\0';
    w->nrisk++;
    return 0;
}

/* Tombstones the kept entry g (live). */
static int base_kill(struct work *w, uint32_t g)
{
    uint32_t e = g;
    const struct ruleset *f = w_level(w, &e, NULL);
    w->dead[g / 64] |= 1ULL << (g % 64);
    return work_risk(w, f->pool + f->text_off[e]);
}

/* Adds entry e of flat set f to w's list with its category and claims; *out gets it. */
static int work_take(struct work *w, const struct ruleset *f, uint32_t e, struct dent **out)
{
    const char *ord[64];
    size_t no = ruleset_entry_orders(f, e, ord, 64);
    const char **all = ord;
    if (no > 64) {
        if (!(all = malloc(no * sizeof(*all))))
            return -ENOMEM;
        ruleset_entry_orders(f, e, all, no);
    }
    int rc = 0;
    struct dent *d = work_add(w, (uint8_t)(f->attr[e] >> ATTR_KIND_SHIFT), f->pool + f->text_off[e],
                              f->strpool + f->pairs[f->attr[e] & ATTR_PAIR].category);
    if (!d)
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < no; i++)
        rc = dent_claim(d, all[i]);
    if (all != ord)
        free((void *)all);
    if (out)
        *out = d;
    return rc;
}

/* Moves the kept entry g (live) into the new top with its claims (the caller then changes
 * them). */
static int base_move(struct work *w, uint32_t g, struct dent **out)
{
    uint32_t e = g;
    const struct ruleset *f = w_level(w, &e, NULL);
    if (out)
        *out = NULL;
    int rc = base_kill(w, g);
    return rc ? rc : work_take(w, f, e, out);
}

/* Whether order claims entry e of flat set b (an empty order never does). */
static bool base_has(const struct ruleset *b, uint32_t e, const char *order)
{
    if (!order || !order[0])
        return false;
    if (strcmp(b->strpool + b->pairs[b->attr[e] & ATTR_PAIR].order, order) == 0)
        return true;
    const struct multi *m = multi_of(b, e);
    for (uint32_t i = 0; m && i < m->n; i++)
        if (strcmp(b->strpool + b->morder[m->first + i], order) == 0)
            return true;
    return false;
}

/* Whether order claims the kept entry g. */
static bool kept_has(const struct work *w, uint32_t g, const char *order)
{
    const struct ruleset *f = w_level(w, &g, NULL);
    return base_has(f, g, order);
}

/* The entry of flat set b whose normalized text is nt (dead or not), or RULESET_NO_ENTRY. */
static uint32_t flat_find(const struct ruleset *b, enum rule_kind kind, const char *nt, size_t nlen)
{
    uint32_t v = RULESET_NO_ENTRY;
    if (kind == RULE_DOMAIN) {
        v = domhash_lookup(b->dom, nt, nlen, DOMHASH_EXACT);
    } else if (kind == RULE_URL) {
        size_t s = key_skip(RULE_URL, nt);
        if (nt[nlen - 1] == '*')
            v = nametrie_lookup(b->url_pfx, nt + s, nlen - s - 1, NAMETRIE_EXACT);
        else
            v = nametrie_lookup(b->url_exact, nt + s, nlen - s, NAMETRIE_EXACT);
    } else {
        char a[INET6_ADDRSTRLEN + 1];
        size_t al = strcspn(nt, "/");
        uint8_t addr[16] = { 0 };
        if (al >= sizeof(a))
            return RULESET_NO_ENTRY;
        memcpy(a, nt, al);
        a[al] = '\0';
        bool v6 = strchr(a, ':') != NULL;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, a, addr) != 1)
            return RULESET_NO_ENTRY;
        const struct iplpm *t = v6 ? b->ip6 : b->ip4;
        /* the most specific prefix at the network address is this one or inside it */
        v = iplpm_lookup(t, addr);
        for (unsigned k = 0; v != IPLPM_NONE && k < 130; k++) {
            if (v < b->n && strcmp(b->pool + b->text_off[v], nt) == 0)
                break;
            v = iplpm_parent(t, v);
        }
    }
    return v == UINT32_MAX || v >= b->n ? RULESET_NO_ENTRY : v;
}

/* The live kept entry whose normalized text is nt (its id), or RULESET_NO_ENTRY. */
static uint32_t base_find(const struct work *w, enum rule_kind kind, const char *nt, size_t nlen)
{
    for (size_t i = 0; i < w->nlv; i++) {
        uint32_t v = flat_find(w->lv[i], kind, nt, nlen);
        if (v != RULESET_NO_ENTRY && !is_dead(w->dead, w->off[i] + v))
            return w->off[i] + v;
    }
    return RULESET_NO_ENTRY;
}

struct rep_ctx {
    const struct ruleset *b;
    const uint64_t *dead;
    uint32_t found;
};

static int rep_cb(uint32_t v, void *arg)
{
    struct rep_ctx *c = arg;
    if (v >= c->b->n || is_dead(c->dead, v))
        return 0;
    if (strncmp(c->b->pool + c->b->text_off[v], "https://", 8) != 0)
        return 0;
    c->found = v;
    return 1;
}

/* Builds the new top from the live entries of w. */
static struct ruleset *work_build(const struct work *w, char *err, size_t errlen)
{
    struct ruleset_builder *bd = ruleset_builder_new();
    if (!bd)
        return NULL;
    char why[256];
    for (size_t i = 0; i < w->n; i++) {
        const struct dent *d = &w->v[i];
        if (d->gone)
            continue;
        size_t k = 0;
        do {
            struct rule_attrs a = { d->norders ? d->orders[k] : NULL, d->category, NULL };
            int rc = ruleset_builder_add(bd, d->text, strlen(d->text), &a, why, sizeof(why));
            if (rc) {
                if (rc == -EINVAL)
                    seterr(err, errlen, "rules: entry '%.200s': %s", d->text, why);
                ruleset_builder_free(bd);
                return NULL;
            }
        } while (++k < d->norders);
    }
    return ruleset_build(bd);
}

/* Keeps an https representative for every host at risk: when neither a kept level's index
 * (live) nor the new top's has the host, another live https entry of a kept level for it moves
 * into the top. Returns the number moved, or a negative errno. */
static int work_reps(struct work *w, const struct ruleset *top, size_t nrisk)
{
    int moved = 0;
    for (size_t i = 0; i < nrisk; i++) {
        const char *h = w->risk[i];
        size_t hl = strlen(h);
        bool has = domhash_lookup(top->https_host, h, hl, DOMHASH_EXACT) != DOMHASH_NONE;
        for (size_t l = 0; !has && l < w->nlv; l++)
            has = domhash_lookup_live(w->lv[l]->https_host, h, hl, DOMHASH_EXACT,
                                      w->dead + w->off[l] / 64) != DOMHASH_NONE;
        if (has)
            continue;
        char k[NORM_HOST_MAX + 4];
        memcpy(k, h, hl);
        k[hl] = '/';
        uint32_t g = RULESET_NO_ENTRY;
        for (size_t l = 0; g == RULESET_NO_ENTRY && l < w->nlv; l++) {
            struct rep_ctx c = { w->lv[l], w->dead + w->off[l] / 64, RULESET_NO_ENTRY };
            if (!nametrie_each_prefixed(c.b->url_exact, k, hl + 1, rep_cb, &c))
                nametrie_each_prefixed(c.b->url_pfx, k, hl + 1, rep_cb, &c);
            if (c.found != RULESET_NO_ENTRY)
                g = w->off[l] + c.found;
        }
        if (g == RULESET_NO_ENTRY)
            continue;
        int rc = base_move(w, g, NULL);
        if (rc)
            return rc;
        moved++;
    }
    return moved;
}

/* Lifts every whole-order lift from the dent d (taken from a kept level). */
static void dent_lift_whole(struct dent *d, const struct ruleset_lift *lift, size_t nlift)
{
    for (size_t l = 0; d && l < nlift; l++)
        if (!lift[l].text && lift[l].order)
            dent_lift(d, lift[l].order);
    if (d && d->norders == 0)
        d->gone = true;
}

/* The whole-order lifts on kept level li: one scan of its attributes. */
static int lift_level(struct work *w, size_t li, const struct ruleset_lift *lift, size_t nlift)
{
    const struct ruleset *b = w->lv[li];
    uint32_t o = w->off[li];
    bool *pair_hit = calloc(b->npairs + 1, sizeof(*pair_hit));
    bool *mord_hit = calloc(b->nmorder + 1, sizeof(*mord_hit));
    int rc = -ENOMEM;
    if (!pair_hit || !mord_hit)
        goto out;
    for (size_t l = 0; l < nlift; l++) {
        if (lift[l].text || !lift[l].order || !lift[l].order[0])
            continue;
        for (size_t i = 0; i < b->npairs; i++)
            if (strcmp(b->strpool + b->pairs[i].order, lift[l].order) == 0)
                pair_hit[i] = true;
        for (size_t i = 0; i < b->nmorder; i++)
            if (strcmp(b->strpool + b->morder[i], lift[l].order) == 0)
                mord_hit[i] = true;
    }
    for (uint32_t e = 0; e < b->n; e++) {
        if (!pair_hit[b->attr[e] & ATTR_PAIR] || is_dead(w->dead, o + e))
            continue;
        if (!multi_of(b, e)) { /* its one order is lifted: a tombstone, nothing to move */
            if (base_kill(w, o + e))
                goto out;
            continue;
        }
        /* lift every whole-order lift from this entry: move it, then lift in the dent */
        struct dent *d = NULL;
        if (base_move(w, o + e, &d))
            goto out;
        dent_lift_whole(d, lift, nlift);
    }
    for (size_t i = 0; i < b->nmulti; i++) {
        const struct multi *m = &b->multi[i];
        bool hit = false;
        for (uint32_t j = 0; j < m->n; j++)
            hit |= mord_hit[m->first + j];
        if (!hit || is_dead(w->dead, o + m->entry))
            continue;
        struct dent *d = NULL;
        if (base_move(w, o + m->entry, &d))
            goto out;
        dent_lift_whole(d, lift, nlift);
    }
    rc = 0;
out:
    free(pair_hit);
    free(mord_hit);
    return rc;
}

static uint32_t align64(size_t n)
{
    return (uint32_t)((n + 63) / 64 * 64);
}

/* Counts rs's tombstones per kind (ruleset_get_stats()). */
static void overlay_count(struct ruleset *rs)
{
    size_t words = rs->off[rs->nlv - 1] / 64;
    rs->ndead = rs->dead_ips4 = 0;
    memset(rs->dead_count, 0, sizeof(rs->dead_count));
    for (size_t i = 0; i < words; i++) {
        for (uint64_t x = rs->dead[i]; x; x &= x - 1) {
            uint32_t e = (uint32_t)(i * 64 + (size_t)__builtin_ctzll(x));
            const struct ruleset *f = holder(rs, &e);
            if (!f)
                continue;
            enum rule_kind k = (enum rule_kind)(f->attr[e] >> ATTR_KIND_SHIFT);
            rs->ndead++;
            rs->dead_count[k]++;
            if (k == RULE_IP && !strchr(f->pool + f->text_off[e], ':'))
                rs->dead_ips4++;
        }
    }
}

/* A new handle on the levels and tombstones of overlay cur (no change). */
static struct ruleset *overlay_share(const struct ruleset *cur)
{
    struct ruleset *out = calloc(1, sizeof(*out));
    size_t words = cur->off[cur->nlv - 1] / 64;
    uint64_t *dead = malloc((words ? words : 1) * sizeof(*dead));
    if (!out || !dead) {
        free(out);
        free(dead);
        return NULL;
    }
    memcpy(dead, cur->dead, words * sizeof(*dead));
    atomic_init(&out->refs, 1);
    for (size_t i = 0; i < cur->nlv; i++) {
        out->lv[i] = ruleset_ref(cur->lv[i]);
        out->off[i] = cur->off[i];
    }
    out->nlv = cur->nlv;
    out->dead = dead;
    out->ndead = cur->ndead;
    memcpy(out->dead_count, cur->dead_count, sizeof(out->dead_count));
    out->dead_ips4 = cur->dead_ips4;
    return out;
}

/* The apply itself, keeping cur's levels [0, keep) (cur itself when it is flat; keep >= 1). */
static struct ruleset *overlay_apply(const struct ruleset *cur, size_t keep,
                                     const struct ruleset_claim *add, size_t nadd,
                                     const struct ruleset_lift *lift, size_t nlift, int *rcp,
                                     char *err, size_t errlen)
{
    int rc = -ENOMEM;
    struct ruleset *top = NULL, *out = NULL;
    struct work w;
    memset(&w, 0, sizeof(w));
    seterr(err, errlen, "rules: out of memory applying an update");
    if (!cur->nlv) {
        w.lv[0] = cur;
        w.nlv = 1;
    } else {
        for (size_t i = 0; i < keep; i++) {
            w.lv[i] = cur->lv[i];
            w.off[i] = cur->off[i];
        }
        w.nlv = keep;
    }
    uint32_t top_off = align64(w.off[w.nlv - 1] + w.lv[w.nlv - 1]->n);
    w.words = top_off / 64;
    if (!(w.dead = calloc(w.words ? w.words : 1, sizeof(*w.dead))))
        goto done;
    if (cur->nlv) {
        size_t cw = cur->off[cur->nlv - 1] / 64;
        memcpy(w.dead, cur->dead, (cw < w.words ? cw : w.words) * sizeof(*w.dead));
        /* the live entries of the levels not kept start the new top */
        for (size_t i = keep; i < cur->nlv; i++) {
            const struct ruleset *f = cur->lv[i];
            const uint64_t *fd = lv_dead(cur, i);
            for (uint32_t e = 0; e < f->n; e++)
                if (!is_dead(fd, e) && work_take(&w, f, e, NULL))
                    goto done;
        }
    }

    /* lifts of whole orders: the new top's claims, then one scan of each kept level */
    bool whole = false;
    for (size_t l = 0; l < nlift; l++) {
        if (lift[l].text || !lift[l].order || !lift[l].order[0])
            continue;
        whole = true;
        for (size_t i = 0; i < w.n; i++)
            if (!w.v[i].gone && dent_lift(&w.v[i], lift[l].order) && w.v[i].norders == 0) {
                w.v[i].gone = true;
                if (work_risk(&w, w.v[i].text))
                    goto done;
            }
    }
    for (size_t i = 0; whole && i < w.nlv; i++)
        if (lift_level(&w, i, lift, nlift))
            goto done;

    char nt[NTEXT_MAX], why[256];
    size_t nlen;
    enum rule_kind kind;
    /* lifts of one claim */
    for (size_t l = 0; l < nlift; l++) {
        if (!lift[l].text || !lift[l].order || !lift[l].order[0])
            continue;
        rc = ruleset_normalize_entry(lift[l].text, lift[l].len, nt, &nlen, &kind, why, sizeof(why));
        if (rc == -EINVAL) {
            seterr(err, errlen, "rules: order '%.100s': entry '%.200s': %s", lift[l].order,
                   lift[l].text, why);
            goto done;
        }
        if (rc)
            goto done;
        rc = -ENOMEM;
        struct dent *d = work_find(&w, (uint8_t)kind, nt);
        if (!d) {
            uint32_t e = base_find(&w, kind, nt, nlen);
            if (e == RULESET_NO_ENTRY || !kept_has(&w, e, lift[l].order))
                continue;
            if (base_move(&w, e, &d))
                goto done;
        }
        if (d && !d->gone && dent_lift(d, lift[l].order) && d->norders == 0) {
            d->gone = true;
            if (work_risk(&w, d->text))
                goto done;
        }
    }

    /* additions */
    for (size_t i = 0; i < nadd; i++) {
        rc = ruleset_normalize_entry(add[i].text, add[i].len, nt, &nlen, &kind, why, sizeof(why));
        if (rc == -EINVAL) {
            seterr(err, errlen, "rules: order '%.100s': entry '%.200s': %s",
                   add[i].order ? add[i].order : "", add[i].text, why);
            goto done;
        }
        if (rc)
            goto done;
        rc = -ENOMEM;
        struct dent *d = work_find(&w, (uint8_t)kind, nt);
        if (d && d->gone) { /* lifted earlier in this call: it starts again */
            d->gone = false;
            char *c = strdup(add[i].category ? add[i].category : "");
            if (!c)
                goto done;
            free(d->category);
            d->category = c;
            free(d->text);
            if (!(d->text = strdup(nt)))
                goto done;
        } else if (!d) {
            uint32_t e = base_find(&w, kind, nt, nlen);
            if (e != RULESET_NO_ENTRY &&
                (kept_has(&w, e, add[i].order) || !(add[i].order && add[i].order[0])))
                continue; /* a kept level has it with this claim already (or it brings none) */
            if (e != RULESET_NO_ENTRY) {
                if (base_move(&w, e, &d))
                    goto done;
            } else if (!(d = work_add(&w, (uint8_t)kind, nt, add[i].category))) {
                goto done;
            }
        }
        if (dent_claim(d, add[i].order))
            goto done;
    }

    /* the top; then representatives for hosts at risk, and the top again if any moved in
     * (each moved entry is its host's representative in the top: no new risk) */
    rc = -ENOMEM;
    if (!(top = work_build(&w, err, errlen)))
        goto done;
    int moved = work_reps(&w, top, w.nrisk);
    if (moved < 0)
        goto done;
    if (moved > 0) {
        ruleset_free(top);
        if (!(top = work_build(&w, err, errlen)))
            goto done;
    }
    if (!(out = calloc(1, sizeof(*out))))
        goto done;
    atomic_init(&out->refs, 1);
    for (size_t i = 0; i < w.nlv; i++) {
        out->lv[i] = ruleset_ref(w.lv[i]);
        out->off[i] = w.off[i];
    }
    out->lv[w.nlv] = top;
    out->off[w.nlv] = top_off;
    out->nlv = w.nlv + 1;
    out->dead = w.dead;
    w.dead = NULL;
    overlay_count(out);
    top = NULL;
    rc = 0;
    if (err && errlen)
        err[0] = '\0';
done:
    ruleset_free(top);
    work_free(&w);
    if (rcp)
        *rcp = rc;
    return out;
}

static atomic_size_t freeze_at = RULESET_FREEZE;

void ruleset_set_freeze(size_t entries)
{
    atomic_store(&freeze_at, entries);
}

struct ruleset *ruleset_apply(const struct ruleset *cur, const struct ruleset_claim *add,
                              size_t nadd, const struct ruleset_lift *lift, size_t nlift, int *rcp,
                              char *err, size_t errlen)
{
    if (!cur || (cur->nlv && nadd == 0 && nlift == 0)) {
        struct ruleset *out = cur ? overlay_share(cur) : NULL;
        if (rcp)
            *rcp = out ? 0 : -ENOMEM;
        if (out && err && errlen)
            err[0] = '\0';
        else if (!out)
            seterr(err, errlen, "rules: out of memory applying an update");
        return out;
    }
    size_t keep = 1; /* a flat cur: itself; a full stack: its deltas are folded */
    if (cur->nlv && cur->lv[cur->nlv - 1]->n < atomic_load(&freeze_at))
        keep = cur->nlv - 1; /* the top is rebuilt */
    else if (cur->nlv && cur->nlv < RULESET_LEVELS_MAX)
        keep = cur->nlv; /* the top is frozen */
    return overlay_apply(cur, keep, add, nadd, lift, nlift, rcp, err, errlen);
}

struct ruleset *ruleset_compact(const struct ruleset *rs)
{
    if (!rs)
        return NULL;
    if (rs->nlv <= 2)
        return ruleset_apply(rs, NULL, 0, NULL, 0, NULL, NULL, 0);
    /* size-tiered: the oldest delta (the last compaction's) is folded in too only when it is
     * at most twice the younger ones together; else they are folded over it, a far smaller
     * rebuild (a chain of orders folds the big delta again every few compactions only) */
    size_t young = 0;
    for (size_t i = 2; i < rs->nlv; i++)
        young += rs->lv[i]->n;
    size_t keep = rs->nlv > 3 && rs->lv[1]->n > 2 * young ? 2 : 1;
    return overlay_apply(rs, keep, NULL, 0, NULL, 0, NULL, NULL, 0);
}

size_t ruleset_overlay_size(const struct ruleset *rs)
{
    size_t n = 0;
    for (size_t i = 1; rs && i < rs->nlv; i++)
        n += rs->lv[i]->n;
    return rs && rs->nlv ? n + rs->ndead : 0;
}

size_t ruleset_depth(const struct ruleset *rs)
{
    return rs && rs->nlv ? rs->nlv - 1 : 0;
}

struct ruleset *ruleset_merge(const struct ruleset *rs)
{
    struct ruleset_builder *bd = ruleset_builder_new();
    if (!rs || !bd) {
        ruleset_builder_free(bd);
        return NULL;
    }
    size_t n = ruleset_entry_count(rs);
    const char *ord[64];
    for (uint32_t e = 0; e < n; e++) {
        if (!ruleset_entry_live(rs, e))
            continue;
        const char *t = ruleset_entry_text(rs, e);
        const char *cat = ruleset_entry_category(rs, e);
        size_t no = ruleset_entry_orders(rs, e, ord, 64), k = 0;
        const char **all = ord;
        if (no > 64) {
            if (!(all = malloc(no * sizeof(*all)))) {
                ruleset_builder_free(bd);
                return NULL;
            }
            ruleset_entry_orders(rs, e, all, no);
        }
        int rc = 0;
        do {
            struct rule_attrs a = { no ? all[k] : NULL, cat, NULL };
            rc = ruleset_builder_add(bd, t, strlen(t), &a, NULL, 0);
        } while (!rc && ++k < no);
        if (all != ord)
            free((void *)all);
        if (rc) {
            ruleset_builder_free(bd);
            return NULL;
        }
    }
    return ruleset_build(bd);
}
