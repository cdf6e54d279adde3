/* catset.c - category lists compiled into one index of names with category masks (catset.h).
 *
 * Building collects distinct texts in a string table (an open-addressing hash over a pool),
 * ORing the masks of a text listed in several categories. Domains then go into a domhash
 * (LABEL mode); each domain's mask is ORed with the masks of every shorter domain key it is
 * under, so a lookup needs only the longest match. URL texts ("host/path") stay in the string
 * table, probed once per '/' boundary of the request path. */
#include "rules/match/catset.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/imgfile.h"
#include "rules/match/domhash.h"
#include "rules/match/normalize.h"
#include "rules/match/ruleset.h"

#define SEED 0x6361747365747331ull

/* Distinct texts with their masks. */
struct strtab {
    char *pool;
    size_t pool_len, pool_cap;
    uint32_t *off;
    uint64_t *mask;
    size_t n, cap;
    uint32_t *slot; /* index + 1; 0 empty */
    size_t nslot;   /* power of two, at least twice n */
};

struct catset_builder {
    struct strtab dom, url;
    char names[CATSET_MAX][CATSET_NAME_MAX];
    unsigned ncat;
    bool oom;
};

struct catset {
    struct strtab dom, url;
    struct domhash *dh; /* values index dom.off / dom.mask */
    char names[CATSET_MAX][CATSET_NAME_MAX];
    unsigned ncat;
    void *dh_slot, *dh_bloom; /* the arrays dh views when read from an image; NULL when built */
};

static void strtab_free(struct strtab *t)
{
    free(t->pool);
    free(t->off);
    free(t->mask);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

static size_t strtab_pos(const struct strtab *t, const char *s, size_t len)
{
    size_t m = t->nslot - 1;
    size_t p = (size_t)hash_bytes(SEED, (const uint8_t *)s, len) & m;
    for (;;) {
        uint32_t v = t->slot[p];
        if (!v)
            return p;
        const char *k = t->pool + t->off[v - 1];
        if (strncmp(k, s, len) == 0 && k[len] == '\0')
            return p;
        p = (p + 1) & m;
    }
}

/* The index of s[0..len) or UINT32_MAX. */
static uint32_t strtab_find(const struct strtab *t, const char *s, size_t len)
{
    if (!t->nslot)
        return UINT32_MAX;
    uint32_t v = t->slot[strtab_pos(t, s, len)];
    return v ? v - 1 : UINT32_MAX;
}

static int strtab_rehash(struct strtab *t, size_t nslot)
{
    uint32_t *s = calloc(nslot, sizeof(*s));
    if (!s)
        return -ENOMEM;
    free(t->slot);
    t->slot = s;
    t->nslot = nslot;
    for (size_t i = 0; i < t->n; i++) {
        const char *k = t->pool + t->off[i];
        t->slot[strtab_pos(t, k, strlen(k))] = (uint32_t)i + 1;
    }
    return 0;
}

static int strtab_add(struct strtab *t, const char *s, size_t len, uint64_t mask)
{
    if (t->nslot < 2 * (t->n + 1) && strtab_rehash(t, t->nslot ? 2 * t->nslot : 64))
        return -ENOMEM;
    size_t p = strtab_pos(t, s, len);
    if (t->slot[p]) {
        t->mask[t->slot[p] - 1] |= mask;
        return 0;
    }
    if (t->n == t->cap) {
        size_t c = t->cap ? 2 * t->cap : 64;
        uint32_t *o = realloc(t->off, c * sizeof(*o));
        if (o)
            t->off = o;
        uint64_t *mk = realloc(t->mask, c * sizeof(*mk));
        if (mk)
            t->mask = mk;
        if (!o || !mk)
            return -ENOMEM;
        t->cap = c;
    }
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t c = t->pool_cap ? 2 * t->pool_cap : 4096;
        while (c < t->pool_len + len + 1)
            c *= 2;
        if (c > UINT32_MAX)
            return -ENOMEM;
        char *np = realloc(t->pool, c);
        if (!np)
            return -ENOMEM;
        t->pool = np;
        t->pool_cap = c;
    }
    memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0';
    t->off[t->n] = (uint32_t)t->pool_len;
    t->mask[t->n] = mask;
    t->pool_len += len + 1;
    t->slot[p] = (uint32_t)++t->n;
    return 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct catset_builder *catset_builder_new(void)
{
    return calloc(1, sizeof(struct catset_builder));
}

void catset_builder_free(struct catset_builder *b)
{
    if (!b)
        return;
    strtab_free(&b->dom);
    strtab_free(&b->url);
    free(b);
}

bool catset_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CATSET_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

int catset_builder_category(struct catset_builder *b, const char *name)
{
    if (!catset_name_valid(name))
        return -EINVAL;
    for (unsigned i = 0; i < b->ncat; i++)
        if (strcmp(b->names[i], name) == 0)
            return (int)i;
    if (b->ncat == CATSET_MAX)
        return -ENOSPC;
    snprintf(b->names[b->ncat], CATSET_NAME_MAX, "%s", name);
    return (int)b->ncat++;
}

int catset_builder_add(struct catset_builder *b, const char *line, size_t len, unsigned bit,
                       bool url, char *err, size_t errlen)
{
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r' ||
                       line[len - 1] == '\n'))
        len--;
    if (len == 0 || line[0] == '#')
        return 1;
    if (bit >= b->ncat) {
        seterr(err, errlen, "category bit %u not defined", bit);
        return -EINVAL;
    }
    char nt[RULESET_TEXT_MAX];
    size_t nlen;
    enum rule_kind kind;
    char why[256];
    int rc = ruleset_normalize_entry(line, len, nt, &nlen, &kind, why, sizeof(why));
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        seterr(err, errlen, "%s", why);
        return -EINVAL;
    }
    uint64_t m = 1ull << bit;
    if (kind == RULE_DOMAIN && !url)
        return strtab_add(&b->dom, nt, nlen, m);
    if (kind == RULE_URL && url) {
        /* "http://host/path" -> "host/path" without a trailing '/' ("host" for a bare host) */
        const char *s = strstr(nt, "://") + 3;
        size_t sl = nlen - (size_t)(s - nt);
        const char *q = memchr(s, '?', sl);
        if (q)
            sl = (size_t)(q - s);
        while (sl > 0 && s[sl - 1] == '/')
            sl--;
        return strtab_add(&b->url, s, sl, m);
    }
    if (kind == RULE_DOMAIN && url) /* a bare host in a urls file: every path of it */
        return strtab_add(&b->url, nt, nlen, m);
    seterr(err, errlen, "%s entry in a %s list", kind == RULE_IP ? "address" : "URL",
           url ? "urls" : "domains");
    return -EINVAL;
}

struct catset *catset_build(struct catset_builder *b)
{
    struct catset *c = b ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        catset_builder_free(b);
        return NULL;
    }
    c->dom = b->dom;
    c->url = b->url;
    memcpy(c->names, b->names, sizeof(c->names));
    c->ncat = b->ncat;
    memset(&b->dom, 0, sizeof(b->dom));
    memset(&b->url, 0, sizeof(b->url));
    catset_builder_free(b);

    size_t n = c->dom.n;
    uint32_t *vals = malloc((n ? n : 1) * sizeof(*vals));
    uint64_t *own = malloc((n ? n : 1) * sizeof(*own));
    if (!vals || !own)
        goto fail;
    for (size_t i = 0; i < n; i++)
        vals[i] = (uint32_t)i;
    if (n)
        memcpy(own, c->dom.mask, n * sizeof(*own));
    c->dh = domhash_build(c->dom.pool, c->dom.off, 0, vals, n);
    if (!c->dh)
        goto fail;
    /* every key gets the masks of the keys it is under (their own masks, not ORed ones) */
    for (size_t i = 0; i < n; i++) {
        const char *k = c->dom.pool + c->dom.off[i];
        for (const char *p = strchr(k, '.'); p; p = strchr(p + 1, '.')) {
            uint32_t v = strtab_find(&c->dom, p + 1, strlen(p + 1));
            if (v != UINT32_MAX)
                c->dom.mask[i] |= own[v];
        }
    }
    free(vals);
    free(own);
    /* the lookup tables only need the slots of url (dom goes through the domhash) */
    free(c->dom.slot);
    c->dom.slot = NULL;
    c->dom.nslot = 0;
    return c;
fail:
    free(vals);
    free(own);
    catset_free(c);
    return NULL;
}

void catset_free(struct catset *c)
{
    if (!c)
        return;
    domhash_free(c->dh); /* a view frees only its handle: its arrays are dh_slot, dh_bloom */
    free(c->dh_slot);
    free(c->dh_bloom);
    strtab_free(&c->dom);
    strtab_free(&c->url);
    free(c);
}

/* The categories of the URL entries host + path (path NULL: the host alone), ORed into m. */
static uint64_t url_cats(const struct catset *c, uint64_t m, const char *host, size_t hlen,
                         const char *path, size_t plen)
{
    if (!c->url.n)
        return m;
    char key[NORM_HOST_MAX + NORM_PATH_MAX];
    if (hlen >= sizeof(key))
        return m;
    memcpy(key, host, hlen);
    size_t kl = hlen;
    uint32_t u = strtab_find(&c->url, key, kl);
    if (u != UINT32_MAX)
        m |= c->url.mask[u];
    if (!path)
        return m;
    const char *q = memchr(path, '?', plen);
    if (q)
        plen = (size_t)(q - path);
    if (hlen + plen >= sizeof(key))
        plen = sizeof(key) - hlen - 1;
    memcpy(key + hlen, path, plen);
    for (size_t i = 1; i <= plen; i++) {
        if (i < plen && path[i] != '/')
            continue;
        size_t l = i;
        while (l > 0 && path[l - 1] == '/')
            l--;
        if (l == 0)
            continue;
        u = strtab_find(&c->url, key, hlen + l);
        if (u != UINT32_MAX)
            m |= c->url.mask[u];
    }
    return m;
}

uint64_t catset_lookup(const struct catset *c, const char *host, size_t hlen, const char *path,
                       size_t plen)
{
    if (!c || hlen == 0)
        return 0;
    uint64_t m = 0;
    uint32_t v = domhash_lookup(c->dh, host, hlen, DOMHASH_LABEL);
    if (v != DOMHASH_NONE)
        m = c->dom.mask[v];
    return url_cats(c, m, host, hlen, path, plen);
}

uint64_t catset_lookup_query(const struct catset *c, const struct domhash_query *hq,
                             const char *path, size_t plen)
{
    if (!c || hq->len == 0)
        return 0;
    uint64_t m = 0;
    uint32_t v = domhash_lookup_query(c->dh, hq, NULL);
    if (v != DOMHASH_NONE)
        m = c->dom.mask[v];
    return url_cats(c, m, hq->q, hq->len, path, plen);
}

unsigned catset_categories(const struct catset *c)
{
    return c ? c->ncat : 0;
}

const char *catset_name(const struct catset *c, unsigned bit)
{
    return c && bit < c->ncat ? c->names[bit] : NULL;
}

int catset_bit(const struct catset *c, const char *name)
{
    for (unsigned i = 0; c && i < c->ncat; i++)
        if (strcmp(c->names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *catset_first_name(const struct catset *c, uint64_t mask)
{
    if (!c || !mask)
        return "";
    const char *s = catset_name(c, (unsigned)__builtin_ctzll(mask));
    return s ? s : "";
}

size_t catset_domains(const struct catset *c)
{
    return c ? c->dom.n : 0;
}

size_t catset_urls(const struct catset *c)
{
    return c ? c->url.n : 0;
}

size_t catset_bytes(const struct catset *c)
{
    if (!c)
        return 0;
    return sizeof(*c) + domhash_bytes(c->dh) + c->dom.pool_cap + c->dom.cap * 12 + c->url.pool_cap +
           c->url.cap * 12 + c->url.nslot * 4;
}

/* Image sections, relative to the base (catset.h), and the scalars of section IS_SCALARS. */
enum {
    IS_SCALARS,
    IS_NAMES,
    IS_DOM, /* pool, offsets, masks, slots: T_POOL.. from here */
    IS_URL = IS_DOM + 4,
    IS_DH_SLOT = IS_URL + 4,
    IS_DH_BLOOM,
    IS_COUNT
};
enum { T_POOL, T_OFF, T_MASK, T_SLOT };
enum {
    V_NCAT,
    V_DOM, /* n, nslot, pool_len */
    V_URL = V_DOM + 3,
    V_DH_N = V_URL + 3,
    V_DH_CAP,
    V_DH_LINES,
    V_DH_SLOT_BYTES,
    V_DH_BLOOM_BYTES,
    V_COUNT
};
_Static_assert(IS_COUNT <= CATSET_IMAGE_SECTS, "the sections fit the ids reserved");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the image's arrays are written little-endian as they are in memory"
#endif

static const char *const sect_name[IS_COUNT] = {
    [IS_SCALARS] = "scalars",
    [IS_NAMES] = "category names",
    [IS_DOM + T_POOL] = "domain pool",
    [IS_DOM + T_OFF] = "domain offsets",
    [IS_DOM + T_MASK] = "domain masks",
    [IS_DOM + T_SLOT] = "domain slots",
    [IS_URL + T_POOL] = "URL pool",
    [IS_URL + T_OFF] = "URL offsets",
    [IS_URL + T_MASK] = "URL masks",
    [IS_URL + T_SLOT] = "URL slots",
    [IS_DH_SLOT] = "domain index slots",
    [IS_DH_BLOOM] = "domain index bloom",
};

static int strtab_to_image(const struct strtab *t, struct imgfile_w *w, uint32_t id, uint64_t *v)
{
    v[0] = t->n;
    v[1] = t->nslot;
    v[2] = t->pool_len;
    int rc;
    if ((rc = imgfile_w_add(w, id + T_POOL, t->pool, t->pool_len)) ||
        (rc = imgfile_w_add(w, id + T_OFF, t->off, t->n * sizeof(*t->off))) ||
        (rc = imgfile_w_add(w, id + T_MASK, t->mask, t->n * sizeof(*t->mask))) ||
        (rc = imgfile_w_add(w, id + T_SLOT, t->slot, t->nslot * sizeof(*t->slot))))
        return rc;
    return 0;
}

int catset_to_image(const struct catset *c, struct imgfile_w *w, uint32_t base)
{
    if (!c || base > UINT32_MAX - CATSET_IMAGE_SECTS)
        return -EINVAL;
    uint64_t v[V_COUNT];
    struct domhash_parts dp;
    domhash_parts(c->dh, &dp);
    v[V_NCAT] = c->ncat;
    v[V_DH_N] = dp.n;
    v[V_DH_CAP] = dp.cap;
    v[V_DH_LINES] = dp.nlines;
    v[V_DH_SLOT_BYTES] = dp.slot_bytes;
    v[V_DH_BLOOM_BYTES] = dp.bloom_bytes;
    int rc;
    if ((rc = strtab_to_image(&c->dom, w, base + IS_DOM, v + V_DOM)) ||
        (rc = strtab_to_image(&c->url, w, base + IS_URL, v + V_URL)) ||
        (rc = imgfile_w_add(w, base + IS_NAMES, c->names, (size_t)c->ncat * CATSET_NAME_MAX)) ||
        (rc = imgfile_w_add(w, base + IS_DH_SLOT, dp.slot, dp.slot_bytes)) ||
        (rc = imgfile_w_add(w, base + IS_DH_BLOOM, dp.bloom, dp.bloom_bytes)) ||
        (rc = imgfile_w_add_u64(w, base + IS_SCALARS, v, V_COUNT)))
        return rc;
    return 0;
}

/* Where an image is read from, and where its refusal goes. */
struct imgsrc {
    const struct imgfile_r *r;
    uint32_t base;
    char *err;
    size_t errlen;
};

static void img_refuse(const struct imgsrc *x, unsigned k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void img_refuse(const struct imgsrc *x, unsigned k, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    seterr(x->err, x->errlen, "category set: section %" PRIu32 " (%s): %s", x->base + k,
           sect_name[k], why);
}

/* Section k, which must hold n items of size bytes, copied into *out (NULL when empty). */
static int img_copy(const struct imgsrc *x, unsigned k, uint64_t n, size_t size, void **out)
{
    *out = NULL;
    size_t len;
    const uint8_t *p = imgfile_r_get(x->r, x->base + k, &len);
    if (!p) {
        img_refuse(x, k, "missing");
        return -1;
    }
    if (n > SIZE_MAX / size || len != n * size) {
        img_refuse(x, k, "%zu bytes where the scalars say %" PRIu64 " x %zu", len, n, size);
        return -1;
    }
    if (!len)
        return 0;
    if (!(*out = malloc(len))) {
        img_refuse(x, k, "out of memory");
        return -1;
    }
    memcpy(*out, p, len);
    return 0;
}

/* The string table at section k0 with the scalars v (n, nslot, pool_len), copied into t and
 * checked: every text inside the terminated pool, masks within ncat categories, slots (needed
 * unless slots_optional) a power of two at least twice n, each entry in exactly one. */
static int strtab_from_image(const struct imgsrc *x, unsigned k0, const uint64_t *v,
                             bool slots_optional, unsigned ncat, struct strtab *t)
{
    uint64_t n = v[0], nslot = v[1], pool_len = v[2];
    void *pool, *off, *mask, *slot;
    if (n >= UINT32_MAX) {
        img_refuse(x, k0 + T_OFF, "%" PRIu64 " entries", n);
        return -1;
    }
    if (img_copy(x, k0 + T_POOL, pool_len, 1, &pool))
        return -1;
    t->pool = pool;
    t->pool_len = t->pool_cap = (size_t)pool_len;
    if (img_copy(x, k0 + T_OFF, n, sizeof(*t->off), &off))
        return -1;
    t->off = off;
    if (img_copy(x, k0 + T_MASK, n, sizeof(*t->mask), &mask))
        return -1;
    t->mask = mask;
    t->n = t->cap = (size_t)n;
    if (img_copy(x, k0 + T_SLOT, nslot, sizeof(*t->slot), &slot))
        return -1;
    t->slot = slot;
    t->nslot = (size_t)nslot;
    if (t->pool_len && t->pool[t->pool_len - 1] != '\0') {
        img_refuse(x, k0 + T_POOL, "not terminated");
        return -1;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->off[i] >= t->pool_len) {
            img_refuse(x, k0 + T_OFF, "entry %zu at offset %" PRIu32 ", past the pool (%zu bytes)",
                       i, t->off[i], t->pool_len);
            return -1;
        }
    uint64_t known = ncat == 64 ? UINT64_MAX : (1ull << ncat) - 1;
    for (size_t i = 0; i < t->n; i++)
        if (t->mask[i] & ~known) {
            img_refuse(x, k0 + T_MASK, "entry %zu has a category past the %u defined", i, ncat);
            return -1;
        }
    if (t->nslot == 0) {
        if (t->n && !slots_optional) {
            img_refuse(x, k0 + T_SLOT, "no slots for %zu entries", t->n);
            return -1;
        }
        return 0;
    }
    if ((t->nslot & (t->nslot - 1)) || t->nslot / 2 < t->n) {
        img_refuse(x, k0 + T_SLOT, "%zu slots for %zu entries (a power of two, at least twice)",
                   t->nslot, t->n);
        return -1;
    }
    uint64_t *seen = calloc(t->n / 64 + 1, sizeof(*seen));
    if (!seen) {
        img_refuse(x, k0 + T_SLOT, "out of memory");
        return -1;
    }
    size_t used = 0;
    const char *why = NULL;
    size_t at = 0;
    for (size_t i = 0; !why && i < t->nslot; i++) {
        uint32_t s = t->slot[i];
        if (!s)
            continue;
        at = i;
        uint64_t bit = 1ull << (s - 1) % 64;
        if (s > t->n)
            why = "an entry past the table";
        else if (seen[(s - 1) / 64] & bit)
            why = "an entry twice";
        else
            seen[(s - 1) / 64] |= bit;
        used++;
    }
    free(seen);
    if (why) {
        img_refuse(x, k0 + T_SLOT, "slot %zu holds %s (%" PRIu32 " of %zu)", at, why, t->slot[at],
                   t->n);
        return -1;
    }
    if (used != t->n) {
        img_refuse(x, k0 + T_SLOT, "%zu slots used for %zu entries", used, t->n);
        return -1;
    }
    return 0;
}

struct catset *catset_from_image(const struct imgfile_r *r, uint32_t base, char *err, size_t errlen)
{
    const struct imgsrc x = { r, base, err, errlen };
    struct catset *c = calloc(1, sizeof(*c));
    if (!c) {
        seterr(err, errlen, "category set: out of memory");
        return NULL;
    }
    uint64_t v[V_COUNT];
    if (base > UINT32_MAX - CATSET_IMAGE_SECTS) {
        seterr(err, errlen, "category set: section ids from %" PRIu32 " overflow", base);
        goto fail;
    }
    if (imgfile_r_u64(r, base + IS_SCALARS, v, V_COUNT)) {
        img_refuse(&x, IS_SCALARS, "missing or not %d values", V_COUNT);
        goto fail;
    }
    if (v[V_NCAT] > CATSET_MAX) {
        img_refuse(&x, IS_SCALARS, "%" PRIu64 " categories (at most %d)", v[V_NCAT], CATSET_MAX);
        goto fail;
    }
    c->ncat = (unsigned)v[V_NCAT];
    size_t len;
    const uint8_t *names = imgfile_r_get(r, base + IS_NAMES, &len);
    if (!names) {
        img_refuse(&x, IS_NAMES, "missing");
        goto fail;
    }
    if (len != (size_t)c->ncat * CATSET_NAME_MAX) {
        img_refuse(&x, IS_NAMES, "%zu bytes for %u names of %d", len, c->ncat, CATSET_NAME_MAX);
        goto fail;
    }
    if (len)
        memcpy(c->names, names, len);
    for (unsigned i = 0; i < c->ncat; i++) {
        const char *nm = c->names[i];
        if (!memchr(nm, '\0', CATSET_NAME_MAX) || !catset_name_valid(nm)) {
            img_refuse(&x, IS_NAMES, "name %u is not a category name", i);
            goto fail;
        }
        for (unsigned j = 0; j < i; j++)
            if (strcmp(c->names[j], nm) == 0) {
                img_refuse(&x, IS_NAMES, "name %u (%s) twice", i, nm);
                goto fail;
            }
    }
    if (strtab_from_image(&x, IS_DOM, v + V_DOM, true, c->ncat, &c->dom) ||
        strtab_from_image(&x, IS_URL, v + V_URL, false, c->ncat, &c->url))
        goto fail;
    if (v[V_DH_N] != c->dom.n || v[V_DH_LINES] > UINT32_MAX) {
        img_refuse(&x, IS_SCALARS,
                   "domain index of %" PRIu64 " keys in %" PRIu64 " lines for %zu domains",
                   v[V_DH_N], v[V_DH_LINES], c->dom.n);
        goto fail;
    }
    if (img_copy(&x, IS_DH_SLOT, v[V_DH_SLOT_BYTES], 1, &c->dh_slot) ||
        img_copy(&x, IS_DH_BLOOM, v[V_DH_BLOOM_BYTES], 1, &c->dh_bloom))
        goto fail;
    struct domhash_parts dp = {
        c->dh_slot, c->dh_bloom, (size_t)v[V_DH_SLOT_BYTES], (size_t)v[V_DH_BLOOM_BYTES],
        v[V_DH_N],  v[V_DH_CAP], (uint32_t)v[V_DH_LINES]
    };
    char why[200];
    c->dh = domhash_view(c->dom.pool, c->dom.pool_len, &dp, (uint32_t)c->dom.n, why, sizeof(why));
    if (!c->dh) {
        img_refuse(&x, IS_DH_SLOT, "%s", why);
        goto fail;
    }
    return c;
fail:
    catset_free(c);
    return NULL;
}
