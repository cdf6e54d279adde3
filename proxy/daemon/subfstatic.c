/* subfstatic.c - the subscriber side's fail-static file (subfstatic.h). */
#include "proxy/daemon/subfstatic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/imgfile.h"

/* The file's sections: the map's at 0, the definitions at 16, one of what the file holds at
 * 32 (written_ms, the count of definitions, the bytes of their section). */
static const char MAGIC[IMGFILE_MAGIC_LEN] = { 'Q', 'G', 'S', 'U', 'B', 'F', 'S', 'T' };
#define FORMAT 1
enum { IMG_SUBS = 0, IMG_DEFS = 16, IMG_META = 32, META_N = 3 };
_Static_assert(IMG_SUBS + SUBMAP_IMAGE_SECTS <= IMG_DEFS, "the map's sections end before");

/* A growing buffer of definitions: 'p' or 's', the name, NUL, the text, NUL; one after the
 * other. */
struct defbuf {
    char *b;
    size_t len, cap;
    size_t n;
    int rc;
};

static int put_def(void *ctx, bool sub, const char *name, const char *text)
{
    struct defbuf *d = ctx;
    size_t nl = strlen(name), tl = strlen(text), need = 1 + nl + 1 + tl + 1;
    if (d->len + need > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (cap < d->len + need)
            cap *= 2;
        char *b = realloc(d->b, cap);
        if (!b)
            return d->rc = -ENOMEM;
        d->b = b;
        d->cap = cap;
    }
    char *p = d->b + d->len;
    *p++ = sub ? 's' : 'p';
    memcpy(p, name, nl + 1);
    memcpy(p + nl + 1, text, tl + 1);
    d->len += need;
    d->n++;
    return 0;
}

int subfstatic_write(const char *path, struct submap *m, struct tariff *t, uint64_t written_ms,
                     size_t *mappings, size_t *defs, char *err, size_t errlen)
{
    struct defbuf d = { NULL, 0, 0, 0, 0 };
    struct imgfile_w *w = imgfile_w_new();
    int rc = w ? 0 : -ENOMEM;
    size_t count = submap_count(m);
    if (!rc)
        rc = submap_to_image(m, w, IMG_SUBS);
    if (!rc && t)
        rc = tariff_each_def(t, put_def, &d);
    if (!rc)
        rc = imgfile_w_add(w, IMG_DEFS, d.b ? d.b : "", d.len);
    uint64_t meta[META_N] = { written_ms, d.n, d.len };
    if (!rc)
        rc = imgfile_w_add_u64(w, IMG_META, meta, META_N);
    if (rc)
        snprintf(err, errlen, "subscribers: %s: %s", path, strerror(-rc));
    else
        rc = imgfile_w_write(w, path, MAGIC, FORMAT, err, errlen);
    imgfile_w_free(w);
    free(d.b);
    if (mappings)
        *mappings = count;
    if (defs)
        *defs = d.n;
    return rc;
}

/* ---- loading ---- */

struct fs_map {
    struct sub_addr a;
    bool seen;
    char *sess; /* NULL: none */
};

struct fs_def {
    bool sub, seen;
    char *name;
};

struct subfstatic {
    struct fs_map *map;
    size_t nmap, capmap;
    struct fs_def *def;
    size_t ndef, capdef;
};

void subfstatic_free(struct subfstatic *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nmap; i++)
        free(s->map[i].sess);
    for (size_t i = 0; i < s->ndef; i++)
        free(s->def[i].name);
    free(s->map);
    free(s->def);
    free(s);
}

static int cmp_map(const void *x, const void *y)
{
    return memcmp(&((const struct fs_map *)x)->a, &((const struct fs_map *)y)->a,
                  sizeof(struct sub_addr));
}

static int cmp_def(const void *x, const void *y)
{
    const struct fs_def *a = x, *b = y;
    if (a->sub != b->sub)
        return a->sub ? 1 : -1;
    return strcmp(a->name, b->name);
}

/* Checks the definitions section p[0, len) (n of them) by setting each in the scratch table
 * s: 0, or -EINVAL with the reason in err. */
static int defs_check(const char *p, size_t len, uint64_t n, struct tariff *s, char *err,
                      size_t errlen)
{
    const char *end = p + len;
    uint64_t k = 0;
    while (p < end) {
        char kind = *p++;
        const char *name = p;
        const char *nz = memchr(p, '\0', (size_t)(end - p));
        const char *tz = nz ? memchr(nz + 1, '\0', (size_t)(end - nz - 1)) : NULL;
        if ((kind != 'p' && kind != 's') || !nz || !tz || nz == name) {
            snprintf(err, errlen, "definition %" PRIu64 ": not a kind, a name and a text", k + 1);
            return -EINVAL;
        }
        char why[256];
        int rc = kind == 'p' ? tariff_set_profile(s, name, nz + 1, why, sizeof(why))
                             : tariff_set_sub(s, name, nz + 1, why, sizeof(why));
        if (rc == -ENOMEM) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        if (rc) {
            snprintf(err, errlen, "definition %" PRIu64 " (%s '%.64s'): %s", k + 1,
                     kind == 'p' ? "profile" : "subscriber", name, why);
            return -EINVAL;
        }
        p = tz + 1;
        k++;
    }
    if (k != n) {
        snprintf(err, errlen, "%" PRIu64 " definitions where the description says %" PRIu64, k, n);
        return -EINVAL;
    }
    return 0;
}

struct fill {
    struct submap *m;
    struct tariff *t;
    struct subfstatic *s;
    struct subfstatic_info *info;
    uint64_t now_ms;
    int rc;
};

static int fill_map(void *ctx, const struct sub_addr *a, const char *sub, const char *session,
                    uint64_t expires_ms)
{
    struct fill *f = ctx;
    if (expires_ms && expires_ms <= f->now_ms) {
        f->info->expired++;
        return 0;
    }
    struct subfstatic *s = f->s;
    if (s->nmap == s->capmap) {
        size_t cap = s->capmap ? 2 * s->capmap : 1024;
        struct fs_map *v = realloc(s->map, cap * sizeof(*v));
        if (!v)
            return f->rc = -ENOMEM;
        s->map = v;
        s->capmap = cap;
    }
    char *sess = NULL;
    if (*session && !(sess = strdup(session)))
        return f->rc = -ENOMEM;
    int rc = submap_set(f->m, a, sub, session, expires_ms);
    if (rc == -ENOSPC) {
        f->info->map_full++;
        free(sess);
        return 0;
    }
    if (rc) { /* (the ids were checked when the file was read) */
        free(sess);
        return f->rc = rc;
    }
    s->map[s->nmap++] = (struct fs_map){ *a, false, sess };
    f->info->mappings++;
    return 0;
}

static int fill_def(void *ctx, bool sub, const char *name, const char *text)
{
    struct fill *f = ctx;
    char probe[2];
    if (sub ? tariff_sub_text(f->t, name, probe, sizeof(probe))
            : tariff_profile_text(f->t, name, probe, sizeof(probe))) {
        f->info->kept++;
        return 0;
    }
    struct subfstatic *s = f->s;
    if (s->ndef == s->capdef) {
        size_t cap = s->capdef ? 2 * s->capdef : 64;
        struct fs_def *v = realloc(s->def, cap * sizeof(*v));
        if (!v)
            return f->rc = -ENOMEM;
        s->def = v;
        s->capdef = cap;
    }
    char *nm = strdup(name);
    if (!nm)
        return f->rc = -ENOMEM;
    char why[256];
    /* (the store's layer: they stand in for its records, and a reload keeps them) */
    int rc = tariff_layer_set(f->t, sub, name, text, why, sizeof(why));
    if (rc) { /* (checked when the file was read: only out of memory) */
        free(nm);
        return f->rc = rc;
    }
    s->def[s->ndef++] = (struct fs_def){ sub, false, nm };
    f->info->defs++;
    return 0;
}

/* The addresses of a map read from a file, to find one mapped twice. */
struct addrs {
    struct sub_addr *a;
    size_t n, cap;
};

static int collect_addr(void *ctx, const struct sub_addr *a, const char *sub, const char *session,
                        uint64_t expires_ms)
{
    (void)sub, (void)session, (void)expires_ms;
    struct addrs *v = ctx;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 1024;
        struct sub_addr *w = realloc(v->a, cap * sizeof(*w));
        if (!w)
            return -ENOMEM;
        v->a = w;
        v->cap = cap;
    }
    v->a[v->n++] = *a;
    return 0;
}

static int cmp_addr(const void *x, const void *y)
{
    return memcmp(x, y, sizeof(struct sub_addr));
}

/* 0 when no address of fm is mapped twice; else -EINVAL with the address in why (a map the
 * writer never gives: a forged file, whose second mapping would make the sweep remove the
 * first one's address after the store set it again), or -ENOMEM. */
static int once_each(struct submap *fm, char *why, size_t whylen)
{
    struct addrs v = { NULL, 0, 0 };
    int rc = submap_each(fm, collect_addr, &v);
    if (rc) {
        snprintf(why, whylen, "out of memory");
    } else if (v.n > 1) {
        qsort(v.a, v.n, sizeof(*v.a), cmp_addr);
        for (size_t i = 1; i < v.n && !rc; i++) {
            if (cmp_addr(&v.a[i - 1], &v.a[i]) != 0)
                continue;
            char text[64];
            sub_addr_format(&v.a[i], text, sizeof(text));
            snprintf(why, whylen, "subscriber map: %s mapped twice", text);
            rc = -EINVAL;
        }
    }
    free(v.a);
    return rc;
}

int subfstatic_load(const char *path, struct submap *m, struct tariff *t, uint64_t now_ms,
                    struct subfstatic **out, struct subfstatic_info *info, char *err, size_t errlen)
{
    *out = NULL;
    memset(info, 0, sizeof(*info));
    char *buf;
    size_t len;
    int rc = fileio_read_all(path, &buf, &len);
    if (rc) {
        snprintf(err, errlen, "subscribers: %s: %s", path, strerror(-rc));
        return rc;
    }
    char why[512] = "";
    rc = subfstatic_parse((const uint8_t *)buf, len, m, t, now_ms, out, info, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "subscribers: %s: %s", path, why);
    free(buf);
    return rc;
}

int subfstatic_parse(const uint8_t *buf, size_t len, struct submap *m, struct tariff *t,
                     uint64_t now_ms, struct subfstatic **out, struct subfstatic_info *info,
                     char *why, size_t whylen)
{
    *out = NULL;
    memset(info, 0, sizeof(*info));
    if (whylen)
        why[0] = '\0';
    int rc;
    struct imgfile_r r;
    uint64_t meta[META_N];
    struct submap *fm = NULL;
    struct tariff *scratch = NULL;
    size_t dlen = 0;
    const char *defs = NULL;
    rc = imgfile_r_open(&r, buf, len, MAGIC, FORMAT, why, whylen);
    if (!rc && imgfile_r_u64(&r, IMG_META, meta, META_N) != 0) {
        snprintf(why, whylen, "no description section");
        rc = -EINVAL;
    }
    if (!rc) {
        defs = (const char *)imgfile_r_get(&r, IMG_DEFS, &dlen);
        if (!defs || dlen != meta[2]) {
            snprintf(why, whylen, "the definitions section is missing or not %" PRIu64 " bytes",
                     meta[2]);
            rc = -EINVAL;
        }
    }
    /* (read aside, then set into m: sized by the mappings it holds, not by the capacity the
     * writing node's map had, which could be millions, or forged up to 2^28) */
    if (!rc && !(fm = submap_from_image(&r, IMG_SUBS, 1, why, whylen)))
        rc = -EINVAL;
    if (!rc && !(scratch = tariff_new(NULL))) {
        snprintf(why, whylen, "out of memory");
        rc = -ENOMEM;
    }
    if (!rc)
        rc = defs_check(defs, dlen, meta[1], scratch, why, whylen);
    if (!rc)
        rc = once_each(fm, why, whylen);
    struct subfstatic *s = NULL;
    if (!rc && !(s = calloc(1, sizeof(*s)))) {
        snprintf(why, whylen, "out of memory");
        rc = -ENOMEM;
    }
    if (!rc) {
        info->written_ms = meta[0];
        struct fill f = { m, t, s, info, now_ms, 0 };
        submap_each(fm, fill_map, &f);
        if (!f.rc && t) {
            tariff_each_def(scratch, fill_def, &f);
            if (info->defs)
                tariff_publish(t, why, whylen); /* (left-out ones as the store's are) */
        }
        if (f.rc) {
            rc = f.rc;
            snprintf(why, whylen, "%s", strerror(-rc));
        }
        if (s->nmap) /* (an empty copy: no array, and qsort takes none) */
            qsort(s->map, s->nmap, sizeof(*s->map), cmp_map);
        if (s->ndef)
            qsort(s->def, s->ndef, sizeof(*s->def), cmp_def);
        *out = s;
    }
    tariff_free(scratch);
    submap_free(fm);
    return rc;
}

static int held_map(void *ctx, const struct sub_addr *a, const char *sub, const char *session,
                    uint64_t expires_ms)
{
    (void)sub, (void)expires_ms;
    struct subfstatic *s = ctx;
    if (s->nmap == s->capmap) {
        size_t cap = s->capmap ? 2 * s->capmap : 1024;
        struct fs_map *v = realloc(s->map, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->map = v;
        s->capmap = cap;
    }
    char *sess = NULL;
    if (*session && !(sess = strdup(session)))
        return -ENOMEM;
    s->map[s->nmap++] = (struct fs_map){ *a, false, sess };
    return 0;
}

static int held_def(void *ctx, bool sub, const char *name, const char *text)
{
    (void)text;
    struct subfstatic *s = ctx;
    if (s->ndef == s->capdef) {
        size_t cap = s->capdef ? 2 * s->capdef : 64;
        struct fs_def *v = realloc(s->def, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->def = v;
        s->capdef = cap;
    }
    char *nm = strdup(name);
    if (!nm)
        return -ENOMEM;
    s->def[s->ndef++] = (struct fs_def){ sub, false, nm };
    return 0;
}

struct subfstatic *subfstatic_of(struct submap *m, struct tariff *t)
{
    struct subfstatic *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if ((m && submap_each(m, held_map, s) != 0) || (t && tariff_layer_each(t, held_def, s) != 0)) {
        subfstatic_free(s);
        return NULL;
    }
    if (!s->nmap && !s->ndef) {
        free(s);
        return NULL;
    }
    if (s->nmap)
        qsort(s->map, s->nmap, sizeof(*s->map), cmp_map);
    if (s->ndef)
        qsort(s->def, s->ndef, sizeof(*s->def), cmp_def);
    return s;
}

void subfstatic_seen_addr(struct subfstatic *s, const struct sub_addr *a)
{
    if (!s || !s->nmap)
        return;
    struct fs_map key = { *a, false, NULL };
    struct fs_map *e = bsearch(&key, s->map, s->nmap, sizeof(*s->map), cmp_map);
    if (e)
        e->seen = true;
}

void subfstatic_seen_def(struct subfstatic *s, bool sub, const char *name)
{
    if (!s || !s->ndef)
        return;
    struct fs_def key = { sub, false, (char *)(uintptr_t)name };
    struct fs_def *e = bsearch(&key, s->def, s->ndef, sizeof(*s->def), cmp_def);
    if (e)
        e->seen = true;
}

void subfstatic_sweep(struct subfstatic *s, struct submap *m, struct tariff *t, size_t *maps,
                      size_t *defs)
{
    *maps = *defs = 0;
    if (!s)
        return;
    for (size_t i = 0; i < s->nmap; i++)
        if (!s->map[i].seen &&
            submap_del(m, &s->map[i].a, s->map[i].sess ? s->map[i].sess : "") == 0)
            ++*maps;
    for (size_t i = 0; t && i < s->ndef; i++) {
        if (s->def[i].seen)
            continue;
        if (tariff_layer_del(t, s->def[i].sub, s->def[i].name) == 0)
            ++*defs;
    }
    if (*defs) {
        char why[256];
        tariff_publish(t, why, sizeof(why));
    }
}
