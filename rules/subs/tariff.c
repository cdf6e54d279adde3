/* tariff.c - the node's tariff table (tariff.h): a writer-side copy of the texts, compiled into
 * immutable snapshots published with RCU. */
#include "rules/subs/tariff.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "common/hash.h"

#define NOPROF  UINT16_MAX
#define NOEXTRA UINT32_MAX
#define SEED    0x7461726966667331ull

/* A category set shared by the snapshots compiled against it. */
struct csref {
    struct catset *cs;
    atomic_size_t refs;
};

/* One subscriber in a snapshot. */
struct srec {
    uint32_t id_off; /* into pool */
    uint32_t extra;  /* index into extra[], or NOEXTRA: only a profile */
    uint16_t prof;   /* index into prof[], or NOPROF: the default profile */
};

struct snap {
    struct rcu_head rcu;
    struct csref *cs;
    struct profile *prof;
    size_t nprof;
    uint16_t defprof;
    struct srec *rec;
    size_t nrec;
    char *pool;
    size_t pool_len;
    uint64_t *slot; /* hash tag << 32 | rec index + 1; 0 empty: a probe compares tags first */
    size_t mask;
    struct profile_sub *extra;
    size_t nextra;
    int32_t utc_off;
    uint32_t serial; /* which publish made it (tariff_judge_ref's cache words name it) */
};

/* Writer side: a subscriber's text "id\0spec\0" in one allocation. */
struct wsub {
    size_t idlen;
    char text[];
};

struct wprof {
    char name[PROFILE_NAME_MAX];
    char *spec;
};

static char tomb_text;
#define WTOMB ((struct wsub *)&tomb_text)

struct tariff {
    struct snap *snap; /* RCU */
    pthread_mutex_t lock;
    char defname[PROFILE_NAME_MAX];
    struct csref *cs;
    struct wprof *prof;
    size_t nprof;
    struct wsub **subs; /* open addressing, WTOMB for removed */
    uint32_t *stags;    /* the low half of each subscriber's hash: probes and growth read it,
                         * not the subscriber's text */
    size_t smask, nsubs, stombs;
    size_t sub_bytes;
    int32_t utc_off;
    uint32_t serial; /* snapshots compiled */
};

static void csref_put(struct csref *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
        catset_free(r->cs);
        free(r);
    }
}

static void snap_free(struct snap *s)
{
    if (!s)
        return;
    csref_put(s->cs);
    free(s->prof);
    free(s->rec);
    free(s->pool);
    free(s->slot);
    for (size_t i = 0; i < s->nextra; i++)
        profile_sub_clear(&s->extra[i]);
    free(s->extra);
    free(s);
}

struct tariff *tariff_new(const char *default_profile)
{
    struct tariff *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    snprintf(t->defname, sizeof(t->defname), "%s", default_profile ? default_profile : "default");
    t->subs = calloc(64, sizeof(*t->subs));
    t->stags = calloc(64, sizeof(*t->stags));
    if (!t->subs || !t->stags) {
        free(t->subs);
        free(t->stags);
        free(t);
        return NULL;
    }
    t->smask = 63;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void tariff_free(struct tariff *t)
{
    if (!t)
        return;
    snap_free(t->snap);
    csref_put(t->cs);
    for (size_t i = 0; i < t->nprof; i++)
        free(t->prof[i].spec);
    free(t->prof);
    for (size_t i = 0; i <= t->smask; i++)
        if (t->subs[i] && t->subs[i] != WTOMB)
            free(t->subs[i]);
    free(t->subs);
    free(t->stags);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void tariff_set_categories(struct tariff *t, struct catset *cs)
{
    struct csref *r = NULL;
    if (cs && (r = malloc(sizeof(*r)))) {
        r->cs = cs;
        atomic_init(&r->refs, 1);
    } else {
        catset_free(cs);
    }
    pthread_mutex_lock(&t->lock);
    csref_put(t->cs);
    t->cs = r;
    pthread_mutex_unlock(&t->lock);
}

void tariff_set_utc_offset(struct tariff *t, int32_t off)
{
    pthread_mutex_lock(&t->lock);
    t->utc_off = off;
    pthread_mutex_unlock(&t->lock);
}

static struct wprof *find_prof(struct tariff *t, const char *name)
{
    for (size_t i = 0; i < t->nprof; i++)
        if (strcmp(t->prof[i].name, name) == 0)
            return &t->prof[i];
    return NULL;
}

int tariff_set_profile(struct tariff *t, const char *name, const char *spec, char *err,
                       size_t errlen)
{
    if (!profile_name_valid(name)) {
        snprintf(err, errlen, "profile '%s': not a name ([a-z0-9_-], under 32 bytes)", name);
        return -EINVAL;
    }
    char what[64];
    snprintf(what, sizeof(what), "profile %s", name);
    int rc = profile_check(spec, false, what, err, errlen);
    if (rc)
        return rc;
    char *copy = strdup(spec);
    if (!copy)
        return -ENOMEM;
    pthread_mutex_lock(&t->lock);
    struct wprof *p = find_prof(t, name);
    if (!p && t->nprof >= NOPROF - 1)
        rc = -ENOSPC;
    if (!p && !rc) {
        struct wprof *v = realloc(t->prof, (t->nprof + 1) * sizeof(*v));
        if (!v) {
            rc = -ENOMEM;
        } else {
            t->prof = v;
            p = &v[t->nprof++];
            snprintf(p->name, sizeof(p->name), "%s", name);
            p->spec = NULL;
        }
    }
    if (!rc) {
        free(p->spec);
        p->spec = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    free(copy);
    if (rc == -ENOSPC)
        snprintf(err, errlen, "profile '%s': too many profiles", name);
    return rc;
}

int tariff_del_profile(struct tariff *t, const char *name)
{
    pthread_mutex_lock(&t->lock);
    struct wprof *p = find_prof(t, name);
    if (p) {
        free(p->spec);
        *p = t->prof[--t->nprof];
    }
    pthread_mutex_unlock(&t->lock);
    return p ? 0 : -ENOENT;
}

static uint32_t wtag(const char *sub, size_t len)
{
    return (uint32_t)hash_bytes(SEED, (const uint8_t *)sub, len);
}

/* Writer: the slot of sub, whose wtag() is tag (or where it would go: the first tombstone
 * passed, else the empty slot that ends the probe). The table has fewer than 2^32 slots, so the
 * tag gives the first slot. */
static size_t wfind(const struct tariff *t, const char *sub, size_t len, uint32_t tag, bool *found)
{
    size_t i = tag & t->smask;
    size_t tomb = SIZE_MAX;
    for (;; i = (i + 1) & t->smask) {
        struct wsub *w = t->subs[i];
        if (!w) {
            *found = false;
            return tomb != SIZE_MAX ? tomb : i;
        }
        if (w == WTOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
            continue;
        }
        if (t->stags[i] == tag && w->idlen == len && memcmp(w->text, sub, len) == 0) {
            *found = true;
            return i;
        }
    }
}

static int wgrow(struct tariff *t)
{
    size_t n = (t->smask + 1) * 2;
    if (n > ((size_t)1 << 32))
        return -ENOMEM;
    struct wsub **old = t->subs;
    uint32_t *otags = t->stags;
    size_t omask = t->smask;
    struct wsub **v = calloc(n, sizeof(*v));
    uint32_t *tv = calloc(n, sizeof(*tv));
    if (!v || !tv) {
        free(v);
        free(tv);
        return -ENOMEM;
    }
    t->subs = v;
    t->stags = tv;
    t->smask = n - 1;
    t->stombs = 0;
    for (size_t i = 0; i <= omask; i++) {
        if (!old[i] || old[i] == WTOMB)
            continue;
        size_t j = otags[i] & t->smask; /* keys are distinct: the first empty slot */
        while (t->subs[j])
            j = (j + 1) & t->smask;
        t->subs[j] = old[i];
        t->stags[j] = otags[i];
    }
    free(old);
    free(otags);
    return 0;
}

int tariff_set_sub(struct tariff *t, const char *sub, const char *spec, char *err, size_t errlen)
{
    size_t il = strlen(sub), sl = strlen(spec);
    if (il == 0 || il > 128) {
        snprintf(err, errlen, "subscriber id of %zu bytes (1..128)", il);
        return -EINVAL;
    }
    /* "profile=NAME" alone, the common case, needs no full check (a profiles file or a store
     * can hold millions) */
    int rc = 0;
    if (strncmp(spec, "profile=", 8) != 0 || !profile_name_valid(spec + 8)) {
        char what[160];
        snprintf(what, sizeof(what), "subscriber %s", sub);
        if ((rc = profile_check(spec, true, what, err, errlen)))
            return rc;
    }
    struct wsub *w = malloc(sizeof(*w) + il + sl + 2);
    if (!w)
        return -ENOMEM;
    w->idlen = il;
    memcpy(w->text, sub, il + 1);
    memcpy(w->text + il + 1, spec, sl + 1);
    pthread_mutex_lock(&t->lock);
    if ((t->nsubs + t->stombs + 1) * 2 > t->smask + 1 && (rc = wgrow(t))) {
        pthread_mutex_unlock(&t->lock);
        free(w);
        return rc;
    }
    bool found;
    uint32_t tag = wtag(sub, il);
    size_t at = wfind(t, sub, il, tag, &found);
    if (found) {
        t->sub_bytes -= sizeof(*w) + strlen(t->subs[at]->text + il + 1) + il + 2;
        free(t->subs[at]);
    } else {
        if (t->subs[at] == WTOMB)
            t->stombs--;
        t->nsubs++;
    }
    t->subs[at] = w;
    t->stags[at] = tag;
    t->sub_bytes += sizeof(*w) + il + sl + 2;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int tariff_del_sub(struct tariff *t, const char *sub)
{
    pthread_mutex_lock(&t->lock);
    bool found;
    size_t il = strlen(sub);
    size_t at = wfind(t, sub, il, wtag(sub, il), &found);
    if (found) {
        t->sub_bytes -= sizeof(struct wsub) + strlen(t->subs[at]->text + il + 1) + il + 2;
        free(t->subs[at]);
        t->subs[at] = WTOMB;
        t->nsubs--;
        t->stombs++;
    }
    pthread_mutex_unlock(&t->lock);
    return found ? 0 : -ENOENT;
}

static uint16_t snap_prof(const struct snap *s, const char *name)
{
    for (size_t i = 0; i < s->nprof; i++)
        if (strcmp(s->prof[i].name, name) == 0)
            return (uint16_t)i;
    return NOPROF;
}

/* The slot of sub, or the empty slot that ends its probe; *tagp gets sub's tag (the high half
 * of its hash, never 0). */
static size_t snap_pos(const struct snap *s, const char *sub, size_t len, uint32_t *tagp)
{
    uint64_t h = hash_bytes(SEED, (const uint8_t *)sub, len);
    uint32_t tag = (uint32_t)(h >> 32) | 1u;
    *tagp = tag;
    size_t i = (size_t)h & s->mask;
    for (;; i = (i + 1) & s->mask) {
        uint64_t v = s->slot[i];
        if (!v)
            return i;
        if ((uint32_t)(v >> 32) != tag)
            continue;
        const char *k = s->pool + s->rec[(uint32_t)v - 1].id_off;
        if (strncmp(k, sub, len) == 0 && k[len] == '\0')
            return i;
    }
}

/* Fills the slot of the record just added (s->nrec is its index + 1). */
static void snap_index(struct snap *s, const char *sub, size_t len)
{
    uint32_t tag;
    size_t at = snap_pos(s, sub, len, &tag);
    s->slot[at] = (uint64_t)tag << 32 | (uint32_t)s->nrec;
}

/* Compiles the writer side (lock held) into a new snapshot. */
static struct snap *compile(struct tariff *t, int *problems, char *err, size_t errlen)
{
    struct snap *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    const struct catset *cs = t->cs ? t->cs->cs : NULL;
    if (t->cs) {
        atomic_fetch_add(&t->cs->refs, 1);
        s->cs = t->cs;
    }
    s->utc_off = t->utc_off;
    s->serial = ++t->serial;
    s->prof = calloc(t->nprof ? t->nprof : 1, sizeof(*s->prof));
    size_t cap = 16;
    while (cap < 2 * t->nsubs + 2)
        cap *= 2;
    s->slot = calloc(cap, sizeof(*s->slot));
    s->mask = cap - 1;
    s->rec = malloc((t->nsubs ? t->nsubs : 1) * sizeof(*s->rec));
    size_t pool = 0;
    for (size_t i = 0; i <= t->smask; i++)
        if (t->subs[i] && t->subs[i] != WTOMB)
            pool += t->subs[i]->idlen + 1;
    s->pool = malloc(pool ? pool : 1);
    if (!s->prof || !s->slot || !s->rec || !s->pool)
        goto oom;
    for (size_t i = 0; i < t->nprof; i++) {
        char why[512];
        if (profile_parse(t->prof[i].name, t->prof[i].spec, cs, &s->prof[s->nprof], why,
                          sizeof(why))) {
            if (!(*problems)++)
                snprintf(err, errlen, "%s", why);
            continue;
        }
        s->nprof++;
    }
    s->defprof = snap_prof(s, t->defname);
    size_t ecap = 0;
    for (size_t i = 0; i <= t->smask; i++) {
        const struct wsub *w = t->subs[i];
        if (!w || w == WTOMB)
            continue;
        struct profile_sub ps;
        char why[512];
        const char *spec = w->text + w->idlen + 1;
        struct srec *r = &s->rec[s->nrec];
        r->id_off = (uint32_t)s->pool_len;
        r->extra = NOEXTRA;
        r->prof = NOPROF;
        memcpy(s->pool + s->pool_len, w->text, w->idlen + 1);
        s->pool_len += w->idlen + 1;
        /* the common case, "profile=NAME" alone, without the full parse */
        if (strncmp(spec, "profile=", 8) == 0 && !strpbrk(spec + 8, " \t\n") &&
            (r->prof = snap_prof(s, spec + 8)) != NOPROF) {
            s->nrec++;
            snap_index(s, w->text, w->idlen);
            continue;
        }
        int rc = profile_sub_parse(spec, cs, &ps, why, sizeof(why));
        if (rc == -ENOMEM)
            goto oom;
        if (rc) {
            if (!(*problems)++)
                snprintf(err, errlen, "subscriber %s: %s", w->text, why);
        } else {
            if (ps.profile[0] && (r->prof = snap_prof(s, ps.profile)) == NOPROF) {
                if (!(*problems)++)
                    snprintf(err, errlen, "subscriber %s: profile '%s' is not defined", w->text,
                             ps.profile);
            }
            if (ps.nallow || ps.ndeny || ps.nsched) {
                if (s->nextra == ecap) {
                    ecap = ecap ? 2 * ecap : 16;
                    struct profile_sub *v = realloc(s->extra, ecap * sizeof(*v));
                    if (!v) {
                        profile_sub_clear(&ps);
                        goto oom;
                    }
                    s->extra = v;
                }
                r->extra = (uint32_t)s->nextra;
                s->extra[s->nextra++] = ps;
            } else {
                profile_sub_clear(&ps);
            }
        }
        s->nrec++;
        snap_index(s, w->text, w->idlen);
    }
    return s;
oom:
    snap_free(s);
    return NULL;
}

int tariff_publish(struct tariff *t, char *err, size_t errlen)
{
    int problems = 0;
    if (err && errlen)
        err[0] = '\0';
    pthread_mutex_lock(&t->lock);
    struct snap *s = compile(t, &problems, err, errlen);
    if (!s) {
        pthread_mutex_unlock(&t->lock);
        snprintf(err, errlen, "tariff table: out of memory");
        return -ENOMEM;
    }
    struct snap *old = t->snap;
    rcu_assign_pointer(t->snap, s);
    pthread_mutex_unlock(&t->lock);
    if (old) {
        urcu_memb_synchronize_rcu();
        snap_free(old);
    }
    return problems;
}

int32_t tariff_utc_offset(const struct tariff *t)
{
    int32_t off = 0;
    urcu_memb_read_lock();
    const struct snap *s = rcu_dereference(t->snap);
    if (s)
        off = s->utc_off;
    urcu_memb_read_unlock();
    return off;
}

/* A profile that restricts nothing (no lookup needed). */
static bool inert(const struct profile *p)
{
    return !p || (!p->block && !p->allowlist && !p->nsched);
}

/* The record of sub in s, or NULL (no settings of its own). */
static const struct srec *find_rec(const struct snap *s, const char *sub)
{
    if (!sub || !sub[0])
        return NULL;
    uint32_t tag;
    uint64_t at = s->slot[snap_pos(s, sub, strlen(sub), &tag)];
    return at ? &s->rec[(uint32_t)at - 1] : NULL;
}

/* A cache word: the low 8 bits of the snapshot's serial, then the record's index + 1 (24
 * bits). The serial's bits repeat every 256 publishes, so a hit is checked against the id. */
#define REF_IDX_MAX 0xffffffu

static const struct srec *cached_rec(const struct snap *s, const char *sub, uint32_t *ref)
{
    if (!ref)
        return find_rec(s, sub);
    if (!sub || !sub[0])
        return NULL;
    uint32_t w = __atomic_load_n(ref, __ATOMIC_RELAXED);
    if (w && w >> 24 == (s->serial & 0xffu)) {
        size_t i = (w & REF_IDX_MAX) - 1;
        if (i < s->nrec && strcmp(s->pool + s->rec[i].id_off, sub) == 0)
            return &s->rec[i];
    }
    const struct srec *r = find_rec(s, sub);
    size_t i = r ? (size_t)(r - s->rec) : REF_IDX_MAX;
    if (i + 1 < REF_IDX_MAX)
        __atomic_store_n(ref, (s->serial & 0xffu) << 24 | (uint32_t)(i + 1), __ATOMIC_RELAXED);
    return r;
}

/* Decides req for the subscriber record r (NULL: none) of snapshot s. */
static void judge(const struct snap *s, const struct srec *r, const struct tariff_req *req,
                  struct tariff_verdict *v)
{
    uint16_t pi = r && r->prof != NOPROF ? r->prof : s->defprof;
    const struct profile *p = pi != NOPROF ? &s->prof[pi] : NULL;
    const struct profile_sub *ex = r && r->extra != NOEXTRA ? &s->extra[r->extra] : NULL;
    if (p)
        memcpy(v->profile, p->name, sizeof(v->profile));
    if (inert(p) && !ex)
        return;
    const struct catset *cs = s->cs ? s->cs->cs : NULL;
    struct profile_req pr = {
        .name = req->name,
        .name_len = req->name ? req->name_len : 0,
        .cats =
            req->name ? catset_lookup(cs, req->name, req->name_len, req->path, req->path_len) : 0,
        .udp = req->udp,
        .local = profile_local_minutes(req->now, s->utc_off),
    };
    uint64_t cat;
    v->cause = profile_judge(p, ex, &pr, &cat);
    if (v->cause != PCAUSE_NONE) {
        v->cats = cat;
        snprintf(v->category, sizeof(v->category), "%s", catset_first_name(cs, cat));
    }
}

static void verdict_clear(struct tariff_verdict *v)
{
    v->cause = PCAUSE_NONE;
    v->cats = 0;
    v->profile[0] = '\0';
    v->category[0] = '\0';
}

void tariff_judge(const struct tariff *t, const struct tariff_req *req, struct tariff_verdict *v)
{
    tariff_judge_ref(t, req, NULL, v);
}

/* (ref NULL: no cache word, tariff_judge) */
void tariff_judge_ref(const struct tariff *t, const struct tariff_req *req, uint32_t *ref,
                      struct tariff_verdict *v)
{
    verdict_clear(v);
    if (!t)
        return;
    urcu_memb_read_lock();
    const struct snap *s = rcu_dereference(t->snap);
    if (s)
        judge(s, cached_rec(s, req->sub, ref), req, v);
    urcu_memb_read_unlock();
}

void tariff_get_stats(const struct tariff *t, struct tariff_stats *st)
{
    memset(st, 0, sizeof(*st));
    struct tariff *m = (struct tariff *)t;
    pthread_mutex_lock(&m->lock);
    const struct snap *s = m->snap;
    if (s) {
        st->profiles = s->nprof;
        st->subscribers = s->nrec;
        st->categories = catset_categories(s->cs ? s->cs->cs : NULL);
        st->catset_bytes = catset_bytes(s->cs ? s->cs->cs : NULL);
        st->bytes = sizeof(*s) + s->nprof * sizeof(struct profile) + s->nrec * sizeof(struct srec) +
                    s->pool_len + (s->mask + 1) * sizeof(uint64_t) +
                    s->nextra * sizeof(struct profile_sub);
    }
    st->writer_bytes = (m->smask + 1) * (sizeof(struct wsub *) + sizeof(uint32_t)) + m->sub_bytes;
    pthread_mutex_unlock(&m->lock);
}

bool tariff_profile_text(struct tariff *t, const char *name, char *out, size_t cap)
{
    pthread_mutex_lock(&t->lock);
    const struct wprof *p = find_prof(t, name);
    if (p)
        snprintf(out, cap, "%s", p->spec);
    pthread_mutex_unlock(&t->lock);
    return p != NULL;
}

bool tariff_sub_text(struct tariff *t, const char *sub, char *out, size_t cap)
{
    pthread_mutex_lock(&t->lock);
    bool found;
    size_t il = strlen(sub);
    size_t at = wfind(t, sub, il, wtag(sub, il), &found);
    if (found)
        snprintf(out, cap, "%s", t->subs[at]->text + il + 1);
    pthread_mutex_unlock(&t->lock);
    return found;
}

void tariff_set_default(struct tariff *t, const char *name)
{
    pthread_mutex_lock(&t->lock);
    snprintf(t->defname, sizeof(t->defname), "%s", name ? name : "default");
    pthread_mutex_unlock(&t->lock);
}

void tariff_clear(struct tariff *t)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nprof; i++)
        free(t->prof[i].spec);
    t->nprof = 0;
    for (size_t i = 0; i <= t->smask; i++) {
        if (t->subs[i] && t->subs[i] != WTOMB)
            free(t->subs[i]);
        t->subs[i] = NULL;
    }
    t->nsubs = t->stombs = t->sub_bytes = 0;
    pthread_mutex_unlock(&t->lock);
}

void tariff_swap_defs(struct tariff *t, struct tariff *from)
{
    pthread_mutex_lock(&t->lock);
    pthread_mutex_lock(&from->lock);
#define SWAP(f)                       \
    do {                              \
        __typeof__(t->f) tmp_ = t->f; \
        t->f = from->f;               \
        from->f = tmp_;               \
    } while (0)
    SWAP(prof);
    SWAP(nprof);
    SWAP(subs);
    SWAP(stags);
    SWAP(smask);
    SWAP(nsubs);
    SWAP(stombs);
    SWAP(sub_bytes);
#undef SWAP
    pthread_mutex_unlock(&from->lock);
    pthread_mutex_unlock(&t->lock);
}

/* One line of a profiles file ("profile NAME TEXT" / "subscriber ID TEXT"). */
static int load_line(struct tariff *t, char *line, char *why, size_t whylen)
{
    char *kw = line + strspn(line, " \t");
    char *e = kw + strcspn(kw, " \t");
    if (*e)
        *e++ = '\0';
    char *name = e + strspn(e, " \t");
    e = name + strcspn(name, " \t");
    if (*e)
        *e++ = '\0';
    char *spec = e + strspn(e, " \t");
    if (!*name) {
        snprintf(why, whylen, "expected 'profile NAME TEXT' or 'subscriber ID TEXT'");
        return -EINVAL;
    }
    if (strcmp(kw, "profile") == 0)
        return tariff_set_profile(t, name, spec, why, whylen);
    if (strcmp(kw, "subscriber") == 0)
        return tariff_set_sub(t, name, spec, why, whylen);
    snprintf(why, whylen, "unknown keyword '%s' (profile, subscriber)", kw);
    return -EINVAL;
}

int tariff_load_file(struct tariff *t, const char *path, FILE *errs, size_t *bad, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "profiles: %s: %s", path, strerror(e));
        return -e;
    }
    char *line = NULL;
    size_t cap = 0, ln = 0;
    ssize_t n;
    int count = 0, rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        ln++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        char why[512];
        int r = load_line(t, line, why, sizeof(why));
        if (r == -ENOMEM) {
            rc = r;
            snprintf(err, errlen, "profiles: %s:%zu: out of memory", path, ln);
            break;
        }
        if (r < 0) {
            if (bad)
                (*bad)++;
            if (errs)
                fprintf(errs, "profiles: %s:%zu: %s\n", path, ln, why);
            continue;
        }
        count++;
    }
    free(line);
    fclose(f);
    return rc ? rc : count;
}
