/* tariff.c - the node's tariff table (tariff.h): a writer-side copy of the texts, compiled into
 * immutable snapshots published with RCU. */
#include "rules/subs/tariff.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "common/ascii.h"
#include "common/bigmem.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/imgfile.h"
#include "rules/subs/pseudo.h"
#include "rules/subs/submap.h"

#define NOPROF  UINT16_MAX
#define NOEXTRA UINT32_MAX
#define SEED    0x7461726966667331ull

/* A category set shared by the snapshots compiled against it. */
struct csref {
    struct catset *cs;
    atomic_size_t refs;
};

/* What a decision for a subscriber has to do (its record's kind). */
enum {
    REC_INERT = 0, /* nothing: a profile that restricts nothing, no settings of its own */
    REC_MASK,      /* a mask test: the profile blocks categories, no schedule or allow list */
    REC_FULL,      /* profile_judge(): schedules, allow-list mode, parental settings */
};

#define REC_ID 16 /* id bytes held in the record itself (an MSISDN or an IMSI) */

/* One subscriber in a snapshot: all a decision reads about it, in half a cache line (its id,
 * the profile in force, its mask). The records are the snapshot's hash table themselves (open
 * addressing, linear probes), so a lookup reads one record, not a slot and then a record. */
struct srec {
    uint64_t block; /* REC_MASK: the categories the profile blocks */
    uint32_t extra; /* index into extra[], or NOEXTRA: only a profile */
    uint16_t prof;  /* the profile in force (the default one when it names none), or NOPROF */
    uint8_t kind;   /* REC_* */
    uint8_t idlen;  /* id bytes (0: an empty slot); over REC_ID: the id is in pool */
    union {
        char id[REC_ID]; /* the id, not NUL-terminated */
        struct {
            uint32_t off; /* into pool */
            uint32_t tag; /* the low half of the id's hash: probes compare it first */
        } far;
    } u;
};

_Static_assert(sizeof(struct srec) == 32, "a subscriber's record is 32 bytes");

struct snap {
    struct rcu_head rcu;
    struct csref *cs;
    struct profile *prof;
    size_t nprof;
    uint16_t defprof;
    uint8_t defkind; /* REC_* of a subscriber without a record */
    uint64_t defblock;
    struct srec *rec; /* cap of them: the hash table */
    unsigned hbits;   /* the hash bits home() scales (those the writer's table was indexed by) */
    size_t nrec;      /* subscribers */
    char *pool;
    size_t pool_len;
    size_t cap;
    struct profile_sub *extra;
    size_t nextra;
    int32_t utc_off;
    uint32_t serial; /* which publish made it (tariff_judge_ref's cache words name it) */
};

/* A profiles file read whole (tariff_load_file): the texts of its subscribers stay in it. */
struct arena {
    struct arena *next;
    char *buf;
    size_t len;
};

struct wprof {
    char name[PROFILE_NAME_MAX];
    char *spec;
};

/* A subscriber of the writer side: its text "id\0spec\0" (in an arena or an allocation of its
 * own; NULL: empty, WTOMB: removed) and its hash, the snapshot's too (probes, growth and compile
 * read it, not the text). */
struct wslot {
    char *text;
    uint64_t h; /* sub_hash() (the low H_BITS bits), and what compile() need not find again */
};

/* A slot's h: the id's hash in the low H_BITS bits (probes, growth and the snapshot's records
 * use those), then the length of the "profile=NAME" text's NAME (0: another text, or not
 * known) and the id's length, which compile() would otherwise count. */
#define H_BITS         51
#define H_MASK         (((uint64_t)1 << H_BITS) - 1)
#define H_META(il, nl) ((uint64_t)(il) << 56 | (uint64_t)(nl) << H_BITS)
_Static_assert(PROFILE_NAME_MAX <= 32, "a name's length fits h (an id's: 1..128, sub_check)");

static char tomb_text;
#define WTOMB (&tomb_text)

struct tariff {
    struct snap *snap; /* RCU */
    pthread_mutex_t lock;
    char defname[PROFILE_NAME_MAX];
    struct csref *cs;
    struct wprof *prof;
    size_t nprof;
    struct wslot *subs; /* open addressing */
    size_t smask, nsubs, stombs;
    size_t heap_texts; /* texts in the table that are allocations of their own, not in arenas */
    size_t sub_bytes;
    struct arena *arenas;
    int32_t utc_off;
    uint32_t serial;            /* snapshots compiled */
    _Atomic uint64_t published; /* tariff_version() */
    bool frozen; /* from an image (tariff_from_image): no writer side, nothing to publish */
    /* the store's layer (tariff_layer_set()): a writer-side copy of the definitions that came
     * from the store, which tariff_rebase() sets again on top of new base ones; made at the
     * first, reached only through t (its lock taken after t's, never before) */
    struct tariff *layer;
    /* the file's layer: a copy of the base definitions the last tariff_rebase() put in place
     * (the profiles file's), which a removal of the store's record by one of their names puts
     * back (tariff_layer_del()); made by each rebase, reached as the layer is */
    struct tariff *file;
    const struct pseudo *ps; /* tariff_set_pseudo(): how problems name a subscriber */
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
    bigmem_free(s->rec, s->cap * sizeof(*s->rec));
    free(s->pool);
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
    t->subs = bigmem_alloc(64 * sizeof(*t->subs));
    if (!t->subs) {
        free(t);
        return NULL;
    }
    t->smask = 63;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

/* Whether text lies in one of t's arenas. */
static bool in_arena(const struct tariff *t, const char *text)
{
    for (const struct arena *a = t->arenas; a; a = a->next)
        if (text >= a->buf && text < a->buf + a->len)
            return true;
    return false;
}

/* Frees a subscriber's text unless it lies in one of t's arenas. */
static void wfree(const struct tariff *t, char *text)
{
    if (!in_arena(t, text))
        free(text);
}

/* wfree() of a text leaving the table. */
static void wdrop(struct tariff *t, char *text)
{
    if (!in_arena(t, text)) {
        free(text);
        t->heap_texts--;
    }
}

/* Frees every subscriber text and arena of t and empties its table (reuse: for more sets; else
 * the table is about to be freed). Texts all in arenas (a loaded file's) need no walk. */
static void wclear(struct tariff *t, bool reuse)
{
    if (t->heap_texts) {
        for (size_t i = 0; i <= t->smask; i++) {
            if (t->subs[i].text && t->subs[i].text != WTOMB)
                wfree(t, t->subs[i].text);
            t->subs[i].text = NULL;
        }
    } else if (reuse && t->nsubs + t->stombs) {
        memset(t->subs, 0, (t->smask + 1) * sizeof(*t->subs));
    }
    t->heap_texts = 0;
    while (t->arenas) {
        struct arena *a = t->arenas;
        t->arenas = a->next;
        free(a->buf);
        free(a);
    }
    t->nsubs = t->stombs = t->sub_bytes = 0;
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
    wclear(t, false);
    bigmem_free(t->subs, (t->smask + 1) * sizeof(*t->subs));
    pthread_mutex_destroy(&t->lock);
    tariff_free(t->layer);
    tariff_free(t->file);
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

/* Sets profile name (a valid one) to spec (an allocation t takes), lock held. 0, or -ENOSPC /
 * -ENOMEM (spec not taken). */
static int prof_put(struct tariff *t, const char *name, char *spec)
{
    struct wprof *p = find_prof(t, name);
    if (!p) {
        if (t->nprof >= NOPROF - 1)
            return -ENOSPC;
        struct wprof *v = realloc(t->prof, (t->nprof + 1) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->prof = v;
        p = &v[t->nprof++];
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->spec = NULL;
    }
    free(p->spec);
    p->spec = spec;
    return 0;
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
    rc = prof_put(t, name, copy);
    pthread_mutex_unlock(&t->lock);
    if (rc)
        free(copy);
    if (rc == -ENOSPC)
        snprintf(err, errlen, "profile '%s': too many profiles", name);
    return rc;
}

/* Removes profile name (lock held); whether there was one. */
static bool prof_del(struct tariff *t, const char *name)
{
    struct wprof *p = find_prof(t, name);
    if (p) {
        free(p->spec);
        *p = t->prof[--t->nprof];
    }
    return p != NULL;
}

int tariff_del_profile(struct tariff *t, const char *name)
{
    pthread_mutex_lock(&t->lock);
    bool had = prof_del(t, name);
    pthread_mutex_unlock(&t->lock);
    return had ? 0 : -ENOENT;
}

/* The hash of a subscriber id: its bytes read eight at a time (up to 16 bytes, an MSISDN or an
 * IMSI, the first and the last eight, overlapping, mixed once; the last eight read again from
 * the end rather than byte by byte). Used inside the process only (the tables' probes and
 * records), never stored. */
static uint64_t sub_hash(const char *sub, size_t len)
{
    uint64_t h = SEED ^ (len * 0x9e3779b97f4a7c15ull), w = 0, w2 = 0;
    if (len >= 8 && len <= 16) {
        memcpy(&w, sub, 8);
        memcpy(&w2, sub + len - 8, 8);
        h ^= w * 0xff51afd7ed558ccdull;
        h += (w2 ^ (w2 >> 29)) * 0xc4ceb9fe1a85ec53ull;
        return hash_mix64(h) & H_MASK;
    }
    if (len > 16) {
        size_t i = 0;
        for (; i + 8 < len; i += 8) {
            memcpy(&w, sub + i, 8);
            h = hash_mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
        }
        memcpy(&w, sub + len - 8, 8);
    } else if (len >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, sub, 4);
        memcpy(&hi, sub + len - 4, 4);
        w = (uint64_t)hi << 32 | lo;
    } else {
        for (size_t i = 0; i < len; i++)
            w2 = w2 << 8 | (uint8_t)sub[i];
        w = w2;
    }
    return hash_mix64(h ^ w) & H_MASK;
}

/* Writer: the slot of sub, whose sub_hash() is h (or where it would go: the first tombstone
 * passed, else the empty slot that ends the probe). */
static size_t wfind(const struct tariff *t, const char *sub, size_t len, uint64_t h, bool *found)
{
    size_t i = (size_t)h & t->smask;
    size_t tomb = SIZE_MAX;
    for (;; i = (i + 1) & t->smask) {
        const char *w = t->subs[i].text;
        if (!w) {
            *found = false;
            return tomb != SIZE_MAX ? tomb : i;
        }
        if (w == WTOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
            continue;
        }
        if (((t->subs[i].h ^ h) & H_MASK) == 0 && memcmp(w, sub, len) == 0 && w[len] == '\0') {
            *found = true;
            return i;
        }
    }
}

/* Moves the table (lock held) to n slots (a power of two holding every subscriber). */
static int wresize(struct tariff *t, size_t n)
{
    if (n > ((size_t)1 << 32))
        return -ENOMEM;
    struct wslot *old = t->subs;
    size_t omask = t->smask;
    struct wslot *v = bigmem_alloc(n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    t->subs = v;
    t->smask = n - 1;
    t->stombs = 0;
    for (size_t i = 0; i <= omask; i++) {
        if (!old[i].text || old[i].text == WTOMB)
            continue;
        size_t j = (size_t)old[i].h & t->smask; /* keys are distinct: the first empty slot */
        while (t->subs[j].text)
            j = (j + 1) & t->smask;
        t->subs[j] = old[i];
    }
    bigmem_free(old, (omask + 1) * sizeof(*old));
    return 0;
}

/* Grows the table (lock held) until n more subscribers fit at most half full: at once to the
 * size that holds them. */
static int wreserve(struct tariff *t, size_t n)
{
    size_t need = (t->nsubs + t->stombs + n) * 2, size = t->smask + 1;
    if (need <= size)
        return 0;
    while (size < need && size <= ((size_t)1 << 32))
        size *= 2;
    return wresize(t, size);
}

/* Whether the NUL-terminated s starts with prefix (read no further than a mismatch). */
static inline bool has_prefix(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix)
        s++, prefix++;
    return !*prefix;
}

/* memcmp(a, b, n) == 0 for the few bytes of a name, without the call. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    while (n && *a == *b)
        a++, b++, n--;
    return n == 0;
}

/* A byte of a profile name ([a-z0-9_-], profile_name_valid()). */
static inline bool name_byte(char ch)
{
    unsigned char c = (unsigned char)ch;
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Whether spec[0..sl) is "profile=NAME" alone with NAME a valid profile name
 * (profile_name_valid()): the settings of nearly every subscriber, checked without a call. */
static bool profile_only(const char *spec, size_t sl)
{
    if (sl <= 8 || sl - 8 >= PROFILE_NAME_MAX || memcmp(spec, "profile=", 8) != 0)
        return false;
    for (size_t i = 8; i < sl; i++)
        if (!name_byte(spec[i]))
            return false;
    return true;
}

/* Why sub (il bytes) and spec cannot be a subscriber's settings (-EINVAL, a reason in err), or
 * 0. */
static int sub_check(const char *sub, size_t il, const char *spec, char *err, size_t errlen)
{
    if (il == 0 || il > 128) {
        snprintf(err, errlen, "subscriber id of %zu bytes (1..128)", il);
        return -EINVAL;
    }
    /* "profile=NAME" alone, the common case, needs no full check (a profiles file or a store
     * can hold millions) */
    if (profile_only(spec, strlen(spec)))
        return 0;
    char what[160];
    snprintf(what, sizeof(what), "subscriber %.*s", (int)il, sub);
    return profile_check(spec, true, what, err, errlen);
}

/* Sets the subscriber whose text "id\0spec\0" is text (il, sl: the lengths of both), lock
 * held. 0 or -ENOMEM (text not taken). */
static void wput_reserved(struct tariff *t, char *text, size_t il, size_t sl, uint64_t h);

static int wput(struct tariff *t, char *text, size_t il, size_t sl, uint64_t h)
{
    int rc = wreserve(t, 1);
    if (rc)
        return rc;
    wput_reserved(t, text, il, sl, h);
    return 0;
}

/* wput() with room reserved beforehand (wreserve()). */
static void wput_reserved(struct tariff *t, char *text, size_t il, size_t sl, uint64_t h)
{
    bool found;
    size_t at = wfind(t, text, il, h, &found);
    if (found) {
        t->sub_bytes -= il + strlen(t->subs[at].text + il + 1) + 2;
        wdrop(t, t->subs[at].text);
    } else {
        if (t->subs[at].text == WTOMB)
            t->stombs--;
        t->nsubs++;
    }
    if (!in_arena(t, text))
        t->heap_texts++;
    t->subs[at].text = text;
    t->subs[at].h = h;
    t->sub_bytes += il + sl + 2;
}

int tariff_set_sub(struct tariff *t, const char *sub, const char *spec, char *err, size_t errlen)
{
    size_t il = strlen(sub), sl = strlen(spec);
    int rc = sub_check(sub, il, spec, err, errlen);
    if (rc)
        return rc;
    char *w = malloc(il + sl + 2);
    if (!w)
        return -ENOMEM;
    memcpy(w, sub, il + 1);
    memcpy(w + il + 1, spec, sl + 1);
    uint64_t meta = H_META(il, profile_only(spec, sl) ? sl - 8 : 0);
    pthread_mutex_lock(&t->lock);
    rc = wput(t, w, il, sl, sub_hash(w, il) | meta);
    pthread_mutex_unlock(&t->lock);
    if (rc)
        free(w);
    return rc;
}

/* Removes subscriber sub (il bytes, sub_hash() h), lock held; whether there was one. */
static bool sub_del(struct tariff *t, const char *sub, size_t il, uint64_t h)
{
    bool found;
    size_t at = wfind(t, sub, il, h, &found);
    if (found) {
        t->sub_bytes -= il + strlen(t->subs[at].text + il + 1) + 2;
        wdrop(t, t->subs[at].text);
        t->subs[at].text = WTOMB;
        t->nsubs--;
        t->stombs++;
    }
    return found;
}

int tariff_del_sub(struct tariff *t, const char *sub)
{
    size_t il = strlen(sub);
    pthread_mutex_lock(&t->lock);
    bool found = sub_del(t, sub, il, sub_hash(sub, il));
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

static inline bool rec_is(const struct snap *s, const struct srec *r, const char *sub, size_t len)
{
    if (r->idlen != len)
        return false;
    if (len >= 8 && len <= REC_ID) { /* (an MSISDN or an IMSI: two words, without the call) */
        uint64_t a, b, c, d;
        memcpy(&a, r->u.id, 8);
        memcpy(&b, sub, 8);
        memcpy(&c, r->u.id + len - 8, 8);
        memcpy(&d, sub + len - 8, 8);
        return ((a ^ b) | (c ^ d)) == 0;
    }
    return memcmp(len <= REC_ID ? r->u.id : s->pool + r->u.far.off, sub, len) == 0;
}

/* A profile that restricts nothing (no lookup needed). */
static bool inert(const struct profile *p)
{
    return !p || (!p->block && !p->allowlist && !p->nsched);
}

/* The REC_* kind of a subscriber under profile p with settings of its own or not. */
static uint8_t rec_kind(const struct profile *p, bool extra)
{
    if (extra)
        return REC_FULL;
    if (inert(p))
        return REC_INERT;
    return p->allowlist || p->nsched ? REC_FULL : REC_MASK;
}

/* The first record an id of hash h may be in: the hash's low hbits bits scaled to the table
 * (which is sized to its subscribers, not to a power of two: a record is 32 bytes). They are the
 * bits that placed the id in the writer's table, so compile(), walking that table in order,
 * fills the records in order too rather than at random. */
static size_t home(const struct snap *s, uint64_t h)
{
    return (size_t)(((h & (((uint64_t)1 << s->hbits) - 1)) * s->cap) >> s->hbits);
}

/* The record to fill for an id of hash h (ids are distinct: the first empty one). */
static struct srec *snap_slot(struct snap *s, uint64_t h)
{
    size_t i = home(s, h);
    while (s->rec[i].idlen)
        i = i + 1 < s->cap ? i + 1 : 0;
    return &s->rec[i];
}

/* What a problem names subscriber id by (tariff_set_pseudo()); buf holds at least 130 bytes. */
static const char *shown_id(const struct tariff *t, const char *id, char *buf)
{
    if (!t->ps)
        return id;
    pseudo_id(t->ps, id, buf, 130);
    return buf;
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
    /* at most two thirds full; even, so that the records pair up in cache lines */
    s->cap = (t->nsubs + t->nsubs / 2 + 16) & ~(size_t)1;
    s->hbits = (unsigned)__builtin_ctzll((uint64_t)t->smask + 1); /* (at least cap's slots) */
    s->rec = bigmem_alloc(s->cap * sizeof(*s->rec));
    size_t pool = 64; /* (long ids only: grown as they come) */
    s->pool = malloc(pool);
    if (!s->prof || !s->rec || !s->pool)
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
    const struct profile *dp = s->defprof != NOPROF ? &s->prof[s->defprof] : NULL;
    s->defkind = rec_kind(dp, false);
    s->defblock = dp ? dp->block : 0;
    size_t ecap = 0, last_len = 0;
    const char *last_name = "";
    uint16_t last_prof = NOPROF;
    for (size_t i = 0; i <= t->smask; i++) {
        const char *w = t->subs[i].text;
        if (i + 32 <= t->smask) /* the texts lie in the table's order, not the file's */
            __builtin_prefetch(t->subs[i + 32].text);
        if (!w || w == WTOMB)
            continue;
        struct profile_sub ps;
        char why[512], shown[130];
        size_t il = (size_t)(t->subs[i].h >> 56);
        const char *spec = w + il + 1;
        struct srec *r = snap_slot(s, t->subs[i].h);
        r->idlen = (uint8_t)il;
        if (il >= 8 && il <= REC_ID) { /* (two words, not a copy loop: most ids) */
            uint64_t a, b;
            memcpy(&a, w, 8);
            memcpy(&b, w + il - 8, 8);
            memcpy(r->u.id, &a, 8);
            memcpy(r->u.id + il - 8, &b, 8);
        } else if (il <= REC_ID) {
            memcpy(r->u.id, w, il);
        } else {
            if (s->pool_len + il > pool) {
                while (s->pool_len + il > pool)
                    pool *= 2;
                char *v = realloc(s->pool, pool);
                if (!v)
                    goto oom;
                s->pool = v;
            }
            r->u.far.off = (uint32_t)s->pool_len;
            r->u.far.tag = (uint32_t)t->subs[i].h;
            memcpy(s->pool + s->pool_len, w, il);
            s->pool_len += il;
        }
        r->extra = NOEXTRA;
        r->prof = NOPROF;
        /* the common case, "profile=NAME" alone, without the full parse; the profile of the
         * subscriber before, when it is the same name, without a search */
        size_t nl = (size_t)(t->subs[i].h >> H_BITS) & 31; /* (known when read from a file) */
        if (!nl && has_prefix(spec, "profile=")) {
            while (name_byte(spec[8 + nl]))
                nl++;
            if (spec[8 + nl])
                nl = 0;
        }
        if (nl) {
            if (nl != last_len || !same_bytes(spec + 8, last_name, nl)) {
                last_prof = snap_prof(s, spec + 8);
                last_name = spec + 8;
                last_len = last_prof != NOPROF ? nl : 0;
            }
            r->prof = last_prof;
        }
        if (r->prof == NOPROF) {
            int rc = profile_sub_parse(spec, cs, &ps, why, sizeof(why));
            if (rc == -ENOMEM)
                goto oom;
            if (rc) {
                if (!(*problems)++)
                    snprintf(err, errlen, "subscriber %s: %s", shown_id(t, w, shown), why);
            } else {
                if (ps.profile[0] && (r->prof = snap_prof(s, ps.profile)) == NOPROF) {
                    if (!(*problems)++)
                        snprintf(err, errlen, "subscriber %s: profile '%s' is not defined",
                                 shown_id(t, w, shown), ps.profile);
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
        }
        if (r->prof == NOPROF)
            r->prof = s->defprof;
        const struct profile *p = r->prof != NOPROF ? &s->prof[r->prof] : NULL;
        r->kind = rec_kind(p, r->extra != NOEXTRA);
        r->block = p ? p->block : 0;
        s->nrec++;
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
    if (t->frozen) {
        snprintf(err, errlen, "tariff table: read from an image, it cannot change");
        return -EROFS;
    }
    pthread_mutex_lock(&t->lock);
    struct snap *s = compile(t, &problems, err, errlen);
    if (!s) {
        pthread_mutex_unlock(&t->lock);
        snprintf(err, errlen, "tariff table: out of memory");
        return -ENOMEM;
    }
    struct snap *old = t->snap;
    rcu_assign_pointer(t->snap, s);
    atomic_fetch_add(&t->published, 1);
    pthread_mutex_unlock(&t->lock);
    if (old) {
        urcu_memb_synchronize_rcu();
        snap_free(old);
    }
    return problems;
}

uint64_t tariff_version(const struct tariff *t)
{
    return t ? atomic_load(&((struct tariff *)t)->published) : 0;
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

/* The record of sub (len bytes, hash h) in s, or NULL (no settings of its own). */
static const struct srec *find_rec(const struct snap *s, const char *sub, size_t len, uint64_t h)
{
    for (size_t i = home(s, h);; i = i + 1 < s->cap ? i + 1 : 0) {
        const struct srec *r = &s->rec[i];
        if (!r->idlen)
            return NULL;
        if (r->idlen == len && (len <= REC_ID || r->u.far.tag == (uint32_t)h) &&
            rec_is(s, r, sub, len))
            return r;
    }
}

/* A cache word: the low 8 bits of the snapshot's serial, then the record's index + 1 (24
 * bits). The serial's bits repeat every 256 publishes, so a hit is checked against the id (held
 * in the record: no other line is read). */
#define REF_IDX_MAX 0xffffffu

/* The record the cache word w names in s, or NULL. */
static const struct srec *ref_rec(const struct snap *s, uint32_t w)
{
    size_t i = w & REF_IDX_MAX; /* (the record's index + 1) */
    if (w >> 24 != (s->serial & 0xffu) || i == 0 || i > s->cap)
        return NULL;
    return &s->rec[i - 1];
}

static const struct srec *cached_rec(const struct snap *s, const char *sub, size_t len,
                                     uint32_t *ref)
{
    if (!sub || !sub[0])
        return NULL;
    if (!len)
        len = strlen(sub);
    const struct srec *r = ref ? ref_rec(s, __atomic_load_n(ref, __ATOMIC_RELAXED)) : NULL;
    if (r && rec_is(s, r, sub, len))
        return r;
    r = find_rec(s, sub, len, sub_hash(sub, len));
    size_t i = r ? (size_t)(r - s->rec) : REF_IDX_MAX;
    if (ref && i + 1 < REF_IDX_MAX)
        __atomic_store_n(ref, (s->serial & 0xffu) << 24 | (uint32_t)(i + 1), __ATOMIC_RELAXED);
    return r;
}

/* Decides req for the subscriber record r (NULL: none) of snapshot s. */
static void judge(const struct snap *s, const struct srec *r, const struct tariff_req *req,
                  struct tariff_verdict *v)
{
    uint16_t pi = r ? r->prof : s->defprof;
    uint8_t kind = r ? r->kind : s->defkind;
    if (pi != NOPROF)
        memcpy(v->profile, s->prof[pi].name, sizeof(v->profile));
    if (kind == REC_INERT || (kind == REC_MASK && !req->name))
        return; /* (a mask test passes a flow without a name) */
    const struct catset *cs = s->cs ? s->cs->cs : NULL;
    uint64_t cats = 0;
    if (req->name && req->hq)
        cats = catset_lookup_query(cs, req->hq, req->path, req->path_len);
    else if (req->name)
        cats = catset_lookup(cs, req->name, req->name_len, req->path, req->path_len);
    uint64_t cat;
    if (kind == REC_MASK) {
        cat = cats & (r ? r->block : s->defblock);
        v->cause = cat ? PCAUSE_PROFILE : PCAUSE_NONE;
    } else {
        struct profile_req pr = {
            .name = req->name,
            .name_len = req->name ? req->name_len : 0,
            .cats = cats,
            .udp = req->udp,
            .local = profile_local_minutes(req->now, s->utc_off),
        };
        v->cause = profile_judge(pi != NOPROF ? &s->prof[pi] : NULL,
                                 r && r->extra != NOEXTRA ? &s->extra[r->extra] : NULL, &pr, &cat);
    }
    if (v->cause != PCAUSE_NONE) {
        v->cats = cat;
        const char *cn = catset_first_name(cs, cat); /* (a bounded copy, not snprintf) */
        size_t cl = strnlen(cn, sizeof(v->category) - 1);
        memcpy(v->category, cn, cl);
        v->category[cl] = '\0';
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
    if (!t) {
        verdict_clear(v);
        return;
    }
    urcu_memb_read_lock();
    tariff_judge_locked(t, req, ref, v);
    urcu_memb_read_unlock();
}

void tariff_judge_locked(const struct tariff *t, const struct tariff_req *req, uint32_t *ref,
                         struct tariff_verdict *v)
{
    verdict_clear(v);
    const struct snap *s = t ? rcu_dereference(t->snap) : NULL;
    if (s)
        judge(s, cached_rec(s, req->sub, req->sub_len, ref), req, v);
}

void tariff_prefetch(const struct tariff *t, const char *sub, size_t len, uint32_t *ref)
{
    const struct snap *s = t ? rcu_dereference(t->snap) : NULL;
    if (!s || !sub || !sub[0])
        return;
    const struct srec *r = ref ? ref_rec(s, __atomic_load_n(ref, __ATOMIC_RELAXED)) : NULL;
    if (r) {
        __builtin_prefetch(r);
        return;
    }
    size_t i = home(s, sub_hash(sub, len ? len : strlen(sub)));
    __builtin_prefetch(&s->rec[i]);
    /* the first slot named in the word: most records are there, and the decision then reads
     * the id there instead of hashing it again (a record elsewhere is looked up as before) */
    if (ref && i + 1 < REF_IDX_MAX)
        __atomic_store_n(ref, (s->serial & 0xffu) << 24 | (uint32_t)(i + 1), __ATOMIC_RELAXED);
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
        st->bytes = sizeof(*s) + s->nprof * sizeof(struct profile) + s->cap * sizeof(struct srec) +
                    s->pool_len + s->nextra * sizeof(struct profile_sub);
    }
    st->writer_bytes = (m->smask + 1) * sizeof(struct wslot) + m->sub_bytes;
    struct tariff *layers[] = { m->layer, m->file };
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
        struct tariff *l = layers[i];
        if (!l)
            continue;
        pthread_mutex_lock(&l->lock);
        st->writer_bytes += (l->smask + 1) * sizeof(struct wslot) + l->sub_bytes;
        pthread_mutex_unlock(&l->lock);
    }
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
    size_t at = wfind(t, sub, il, sub_hash(sub, il), &found);
    if (found)
        snprintf(out, cap, "%s", t->subs[at].text + il + 1);
    pthread_mutex_unlock(&t->lock);
    return found;
}

int tariff_each_def(struct tariff *t, tariff_def_fn fn, void *ctx)
{
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nprof && !rc; i++)
        rc = fn(ctx, false, t->prof[i].name, t->prof[i].spec);
    for (size_t i = 0; t->subs && i <= t->smask && !rc; i++) {
        const char *text = t->subs[i].text;
        if (text && text != WTOMB)
            rc = fn(ctx, true, text, text + strlen(text) + 1);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void tariff_set_pseudo(struct tariff *t, const struct pseudo *ps)
{
    pthread_mutex_lock(&t->lock);
    t->ps = ps;
    pthread_mutex_unlock(&t->lock);
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
    wclear(t, true);
    if (t->layer)
        tariff_clear(t->layer);
    if (t->file)
        tariff_clear(t->file);
    pthread_mutex_unlock(&t->lock);
}

/* tariff_swap_defs() with t's lock held. */
static void swap_locked(struct tariff *t, struct tariff *from)
{
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
    SWAP(smask);
    SWAP(nsubs);
    SWAP(stombs);
    SWAP(heap_texts);
    SWAP(sub_bytes);
    SWAP(arenas);
#undef SWAP
    pthread_mutex_unlock(&from->lock);
}

void tariff_swap_defs(struct tariff *t, struct tariff *from)
{
    pthread_mutex_lock(&t->lock);
    swap_locked(t, from);
    pthread_mutex_unlock(&t->lock);
}

/* t's layer, made when it has none yet (NULL: out of memory). */
static struct tariff *layer_of(struct tariff *t)
{
    pthread_mutex_lock(&t->lock);
    if (!t->layer)
        t->layer = tariff_new(NULL);
    struct tariff *l = t->layer;
    pthread_mutex_unlock(&t->lock);
    return l;
}

int tariff_layer_set(struct tariff *t, bool sub, const char *name, const char *spec, char *err,
                     size_t errlen)
{
    /* the layer first, then the table: a tariff_rebase() between the two has the record from
     * the layer already, and the table's set then lands on the rebased definitions (see
     * tariff_rebase()) */
    struct tariff *l = layer_of(t);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = sub ? tariff_set_sub(l, name, spec, err, errlen)
                 : tariff_set_profile(l, name, spec, err, errlen);
    if (rc)
        return rc;
    return sub ? tariff_set_sub(t, name, spec, err, errlen)
               : tariff_set_profile(t, name, spec, err, errlen);
}

/* Profile name of t's file's layer back in t, or out of t when that layer has none (lock
 * held; tariff_layer_del()). */
static int prof_fall_back(struct tariff *t, const char *name)
{
    bool had = find_prof(t, name) != NULL;
    int rc = 0;
    if (t->file) {
        pthread_mutex_lock(&t->file->lock);
        const struct wprof *f = find_prof(t->file, name);
        if (f) {
            char *spec = strdup(f->spec);
            rc = spec ? prof_put(t, name, spec) : -ENOMEM;
            if (rc)
                free(spec);
            else
                rc = 1;
        }
        pthread_mutex_unlock(&t->file->lock);
    }
    if (rc == 1)
        return 0;
    prof_del(t, name); /* (out of memory too: the store's goes, as the store said) */
    return rc ? rc : had ? 0 : -ENOENT;
}

/* prof_fall_back() of subscriber sub. */
static int sub_fall_back(struct tariff *t, const char *sub)
{
    size_t il = strlen(sub);
    uint64_t h = sub_hash(sub, il);
    int rc = 0;
    if (t->file) {
        struct tariff *f = t->file;
        pthread_mutex_lock(&f->lock);
        bool found;
        size_t at = wfind(f, sub, il, h, &found);
        if (found) {
            const char *text = f->subs[at].text;
            size_t sl = strlen(text + il + 1);
            char *w = malloc(il + sl + 2);
            if (w)
                memcpy(w, text, il + sl + 2);
            rc = w ? wput(t, w, il, sl, f->subs[at].h) : -ENOMEM;
            if (rc)
                free(w);
            rc = rc ? rc : 1;
        }
        pthread_mutex_unlock(&f->lock);
    }
    if (rc == 1)
        return 0;
    bool had = sub_del(t, sub, il, h);
    return rc ? rc : had ? 0 : -ENOENT;
}

int tariff_layer_del(struct tariff *t, bool sub, const char *name)
{
    pthread_mutex_lock(&t->lock);
    struct tariff *l = t->layer;
    pthread_mutex_unlock(&t->lock);
    if (l)
        (void)(sub ? tariff_del_sub(l, name) : tariff_del_profile(l, name));
    /* then the table, in one step under its lock: a tariff_rebase() between the two put the
     * new base's definition (or none) in place already, and the file's layer is that base's;
     * one after it finds the name out of the layer */
    pthread_mutex_lock(&t->lock);
    int rc = sub ? sub_fall_back(t, name) : prof_fall_back(t, name);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int tariff_layer_each(struct tariff *t, tariff_def_fn fn, void *ctx)
{
    pthread_mutex_lock(&t->lock);
    struct tariff *l = t->layer;
    pthread_mutex_unlock(&t->lock);
    return l ? tariff_each_def(l, fn, ctx) : 0;
}

/* Sets one definition of the layer in the table ctx (tariff_rebase()). */
static int rebase_put(void *ctx, bool sub, const char *name, const char *text)
{
    struct tariff *to = ctx;
    char why[256];
    int rc = sub ? tariff_set_sub(to, name, text, why, sizeof(why))
                 : tariff_set_profile(to, name, text, why, sizeof(why));
    return rc == -ENOMEM || rc == -ENOSPC ? rc : 0; /* (the layer's texts were checked) */
}

/* A table holding a copy of src's writer-side definitions and nothing else (its subscribers'
 * texts in one arena, in slots as src's); NULL when out of memory. */
static struct tariff *defs_copy(struct tariff *src)
{
    struct tariff *c = tariff_new(NULL);
    if (!c)
        return NULL;
    int rc = 0;
    pthread_mutex_lock(&src->lock);
    if (src->nprof && !(c->prof = calloc(src->nprof, sizeof(*c->prof))))
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < src->nprof; i++) {
        memcpy(c->prof[i].name, src->prof[i].name, sizeof(c->prof[i].name));
        if (!(c->prof[i].spec = strdup(src->prof[i].spec)))
            rc = -ENOMEM;
        else
            c->nprof++;
    }
    size_t bytes = 0, n = src->smask + 1;
    for (size_t i = 0; i < n && src->nsubs; i++) {
        const char *w = src->subs[i].text;
        if (w && w != WTOMB) {
            size_t il = strlen(w);
            bytes += il + strlen(w + il + 1) + 2;
        }
    }
    if (!rc && src->nsubs) {
        struct arena *a = calloc(1, sizeof(*a));
        char *buf = malloc(bytes);
        struct wslot *v = bigmem_alloc(n * sizeof(*v));
        if (!a || !buf || !v) {
            free(a);
            free(buf);
            bigmem_free(v, n * sizeof(*v));
            rc = -ENOMEM;
        } else {
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                v[i] = src->subs[i];
                const char *w = v[i].text;
                if (w && w != WTOMB) {
                    size_t il = strlen(w), len = il + strlen(w + il + 1) + 2;
                    memcpy(buf + off, w, len);
                    v[i].text = buf + off;
                    off += len;
                }
            }
            a->buf = buf;
            a->len = bytes;
            c->arenas = a;
            bigmem_free(c->subs, (c->smask + 1) * sizeof(*c->subs));
            c->subs = v;
            c->smask = src->smask;
            c->nsubs = src->nsubs;
            c->stombs = src->stombs;
            c->sub_bytes = bytes;
        }
    }
    pthread_mutex_unlock(&src->lock);
    if (rc) {
        tariff_free(c);
        return NULL;
    }
    return c;
}

int tariff_rebase(struct tariff *t, struct tariff *from)
{
    /* the file's layer: from's definitions as they are, before the layer's go on top (from is
     * the caller's own: nothing changes it meanwhile) */
    struct tariff *file = defs_copy(from);
    if (!file)
        return -ENOMEM;
    /* under t's lock from the layer's walk to the exchange: a tariff_layer_set() (or _del())
     * running meanwhile either changed the layer before the walk, or changes the table after
     * the exchange, on the new definitions; none lands on the old ones and is lost with them.
     * Locks: t's, then the layer's, then from's (from is the caller's own) */
    pthread_mutex_lock(&t->lock);
    int rc = t->layer ? tariff_each_def(t->layer, rebase_put, from) : 0;
    if (rc == 0) {
        swap_locked(t, from);
        struct tariff *old = t->file;
        t->file = file;
        file = old;
    }
    pthread_mutex_unlock(&t->lock);
    tariff_free(file);
    return rc;
}

/* A subscriber line read and checked, waiting for its table slot to be loaded. */
struct pending {
    char *text; /* "id\0spec\0" */
    size_t il, sl, ln;
    uint64_t h;
};

#define LOAD_AHEAD 8 /* subscriber lines read ahead of the one set */

/* One line of a profiles file ("profile NAME TEXT" / "subscriber ID TEXT"), NUL-terminated at
 * eol, in an arena of t. A profile is set (t's lock released first when *locked); a subscriber's
 * text is made
 * "id\0spec\0" in place (or, without room for it, in an allocation) and returned in *pd (1)
 * for the caller to set. Returns 0 (a profile set), 1, or a negative errno with a reason in
 * why. */
static int load_line(struct tariff *t, char *line, char *eol, bool *locked, struct pending *pd,
                     char *why, size_t whylen)
{
    char *kw = ascii_skip_blank(line);
    char *e = ascii_word_end(kw);
    size_t kl = (size_t)(e - kw);
    if (*e)
        *e++ = '\0';
    char *name = ascii_skip_blank(e);
    e = ascii_word_end(name);
    size_t il = (size_t)(e - name);
    if (*e)
        *e++ = '\0';
    char *spec = ascii_skip_blank(e);
    if (!*name) {
        snprintf(why, whylen, "expected 'profile NAME TEXT' or 'subscriber ID TEXT'");
        return -EINVAL;
    }
    if (kl != 10 || memcmp(kw, "subscriber", 10) != 0) {
        if (strcmp(kw, "profile") == 0) {
            if (*locked)
                pthread_mutex_unlock(&t->lock);
            *locked = false;
            return tariff_set_profile(t, name, spec, why, whylen);
        }
        snprintf(why, whylen, "unknown keyword '%s' (profile, subscriber)", kw);
        return -EINVAL;
    }
    size_t sl = (size_t)(eol - spec);
    bool po = il >= 1 && il <= 128 && profile_only(spec, sl);
    int rc = po ? 0 : sub_check(name, il, spec, why, whylen);
    if (rc)
        return rc;
    if (spec == name + il + 1) {
        /* (one blank between: "id\0spec\0" already) */
    } else if (spec == name + il) { /* no text after the id: no room for "id\0\0" in the line */
        if (!(spec = malloc(il + 2))) {
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        memcpy(spec, name, il + 1);
        spec[il + 1] = '\0';
        name = spec;
    } else {
        memmove(name + il + 1, spec, sl + 1); /* (leftwards, inside the line) */
    }
    *pd = (struct pending){
        .text = name, .il = il, .sl = sl, .h = sub_hash(name, il) | H_META(il, po ? sl - 8 : 0)
    };
    return 1;
}

/* The line at p (end: the buffer's end, where a NUL is) when it is exactly
 * "subscriber ID profile=NAME" and a newline or the end, NAME a valid profile name and ID 1..128
 * bytes above ' ': the form of nearly every line of a big file, read in one pass and made
 * "ID\0profile=NAME\0" in place into *pd, *next the next line. Else false and nothing changed:
 * load_line() reads it (and words what is wrong with it). */
static bool sub_line_fast(char *p, const char *end, struct pending *pd, char **next)
{
    if (end - p < 21 || memcmp(p, "subscriber ", 11) != 0)
        return false;
    char *id = p + 11, *e = (char *)(uintptr_t)sub_id_span(id, end); /* (ids of other bytes: the
                                                                        * general way) */
    size_t il = (size_t)(e - id);
    if (*e != ' ' || il == 0 || il > 128 || end - e < 10 || memcmp(e + 1, "profile=", 8) != 0)
        return false;
    char *spec = e + 1, *q = spec + 8;
    while (name_byte(*q))
        q++;
    size_t nl = (size_t)(q - spec) - 8;
    if (nl == 0 || nl >= PROFILE_NAME_MAX || (q < end && *q != '\n'))
        return false;
    *next = q < end ? q + 1 : (char *)(uintptr_t)end;
    *e = '\0';
    *q = '\0';
    *pd = (struct pending){
        .text = id, .il = il, .sl = (size_t)(q - spec), .h = sub_hash(id, il) | H_META(il, nl)
    };
    return true;
}

int tariff_load_file(struct tariff *t, const char *path, FILE *errs, size_t *bad, char *err,
                     size_t errlen)
{
    /* the file is read whole, once, and parsed in place: no allocation per line; its lines
     * are counted first so that the table grows once; a subscriber is set LOAD_AHEAD lines
     * after it was read, its slot having been loaded meanwhile */
    struct arena *a = calloc(1, sizeof(*a));
    int rc = a ? fileio_read_all(path, &a->buf, &a->len) : -ENOMEM;
    if (rc) {
        free(a);
        snprintf(err, errlen, "profiles: %s: %s", path, strerror(-rc));
        return rc;
    }
    char *p = a->buf, *end = a->buf + a->len;
    size_t lines = 1 + ascii_count_byte(p, (size_t)(end - p), '\n');
    pthread_mutex_lock(&t->lock);
    a->next = t->arenas;
    t->arenas = a;
    rc = wreserve(t, lines);
    pthread_mutex_unlock(&t->lock);
    if (rc) {
        snprintf(err, errlen, "profiles: %s: out of memory", path);
        return rc;
    }
    struct pending q[LOAD_AHEAD];
    size_t ln = 0, nq = 0, head = 0;
    int count = 0;
    bool locked = false; /* (held from line to line, let go for a profile) */
    while (!rc && (p < end || nq)) {
        struct pending pd = { 0 };
        int r = 0;
        if (p < end && ++ln && sub_line_fast(p, end, &pd, &p)) {
            r = 1; /* (the common form, read in one pass) */
            pd.ln = ln;
        } else if (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *next = nl ? nl + 1 : end;
            size_t n = (size_t)((nl ? nl : end) - p);
            while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
                n--;
            p[n] = '\0';
            const char *s = ascii_skip_blank(p);
            char why[512];
            r = !*s || *s == '#' ? 2 : load_line(t, p, p + n, &locked, &pd, why, sizeof(why));
            p = next;
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
            if (r == 0)
                count++;
            if (r != 1)
                continue;
            pd.ln = ln;
        }
        if (!locked)
            pthread_mutex_lock(&t->lock);
        locked = true;
        if (r == 1) { /* queued, its slot loading */
            __builtin_prefetch(&t->subs[(size_t)pd.h & t->smask]);
            q[(head + nq++) % LOAD_AHEAD] = pd;
        }
        if (nq == LOAD_AHEAD || (r != 1 && nq)) { /* the oldest is set */
            struct pending *o = &q[head];
            head = (head + 1) % LOAD_AHEAD;
            nq--;
            /* (a slot was reserved for each line; another writer's sets, while a profile line
             * let go of the lock, may have taken some) */
            if ((t->nsubs + t->stombs + 1) * 2 <= t->smask + 1) {
                wput_reserved(t, o->text, o->il, o->sl, o->h);
                count++;
            } else if ((rc = wput(t, o->text, o->il, o->sl, o->h)) != 0) {
                wfree(t, o->text);
                snprintf(err, errlen, "profiles: %s:%zu: out of memory", path, o->ln);
            } else {
                count++;
            }
        }
    }
    if (!locked)
        pthread_mutex_lock(&t->lock);
    for (; nq; nq--, head = (head + 1) % LOAD_AHEAD) /* (after an error: not set) */
        wfree(t, q[head].text);
    pthread_mutex_unlock(&t->lock);
    return rc ? rc : count;
}

/* ---- images ---- */

/* Section ids after base. */
enum { TI_SCALARS, TI_PROF, TI_REC, TI_POOL, TI_EXTRA, TI_DEFNAME };
/* The scalars' order in TI_SCALARS. */
enum {
    TS_NPROF,
    TS_DEFPROF,
    TS_DEFKIND,
    TS_DEFBLOCK,
    TS_CAP,
    TS_HBITS,
    TS_NREC,
    TS_NEXTRA,
    TS_UTC,
    TS_COUNT
};

/* Appends n bytes to a growing buffer (*b, *len, *cap). */
static int grow_put(uint8_t **b, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n)
            c *= 2;
        uint8_t *v = realloc(*b, c);
        if (!v)
            return -ENOMEM;
        *b = v;
        *cap = c;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    return 0;
}

/* A subscriber's parental settings as bytes: the profile name, the counts (u32 each), the
 * schedule windows, then the allow and deny names, each NUL-terminated. */
static int extra_put(const struct profile_sub *e, uint8_t **b, size_t *len, size_t *cap)
{
    uint32_t n[3] = { e->nallow, e->ndeny, e->nsched };
    int rc = grow_put(b, len, cap, e->profile, sizeof(e->profile));
    if (!rc)
        rc = grow_put(b, len, cap, n, sizeof(n));
    for (unsigned i = 0; !rc && i < e->nsched; i++)
        rc = grow_put(b, len, cap, &e->sched[i], sizeof(e->sched[i]));
    for (unsigned i = 0; !rc && i < e->nallow; i++)
        rc = grow_put(b, len, cap, e->allow[i], strlen(e->allow[i]) + 1);
    for (unsigned i = 0; !rc && i < e->ndeny; i++)
        rc = grow_put(b, len, cap, e->deny[i], strlen(e->deny[i]) + 1);
    return rc;
}

int tariff_to_image(struct tariff *t, struct imgfile_w *w, uint32_t base, uint32_t cat_base)
{
    pthread_mutex_lock(&t->lock);
    const struct snap *s = t->snap;
    int rc = s ? 0 : -ENOENT;
    uint8_t *ex = NULL;
    size_t exlen = 0, excap = 0;
    for (size_t i = 0; !rc && i < s->nextra; i++)
        rc = extra_put(&s->extra[i], &ex, &exlen, &excap);
    if (!rc) {
        uint64_t v[TS_COUNT] = {
            [TS_NPROF] = s->nprof,
            [TS_DEFPROF] = s->defprof,
            [TS_DEFKIND] = s->defkind,
            [TS_DEFBLOCK] = s->defblock,
            [TS_CAP] = s->cap,
            [TS_HBITS] = s->hbits,
            [TS_NREC] = s->nrec,
            [TS_NEXTRA] = s->nextra,
            [TS_UTC] = (uint64_t)(int64_t)s->utc_off,
        };
        rc = imgfile_w_add_u64(w, base + TI_SCALARS, v, TS_COUNT);
    }
    if (!rc)
        rc = imgfile_w_add(w, base + TI_PROF, s->prof, s->nprof * sizeof(*s->prof));
    if (!rc)
        rc = imgfile_w_add(w, base + TI_REC, s->rec, s->cap * sizeof(*s->rec));
    if (!rc)
        rc = imgfile_w_add(w, base + TI_POOL, s->pool, s->pool_len);
    if (!rc)
        rc = imgfile_w_add(w, base + TI_EXTRA, ex, exlen);
    if (!rc)
        rc = imgfile_w_add(w, base + TI_DEFNAME, t->defname, strlen(t->defname) + 1);
    if (!rc) {
        struct catset *none = NULL;
        if (!s->cs && !(none = catset_build(catset_builder_new())))
            rc = -ENOMEM;
        else
            rc = catset_to_image(s->cs ? s->cs->cs : none, w, cat_base);
        catset_free(none);
    }
    pthread_mutex_unlock(&t->lock);
    free(ex);
    return rc;
}

/* Whether the byte of a bool read from an image at b is a bool's (0 or 1): any other value is
 * undefined behaviour once read as one. */
static bool bool_byte_ok(const void *b)
{
    uint8_t v;
    memcpy(&v, b, 1);
    return v <= 1;
}

/* Whether the n schedule windows whose bytes are at b hold only bools where bools are. */
static bool sched_ok(const uint8_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!bool_byte_ok(b + i * sizeof(struct profile_sched) +
                          offsetof(struct profile_sched, all)))
            return false;
    return true;
}

/* Reads one subscriber's parental settings at *p (end: the section's end) into e; false when
 * the bytes are not that (*p past them otherwise). */
static bool extra_get(const uint8_t **p, const uint8_t *end, struct profile_sub *e)
{
    memset(e, 0, sizeof(*e));
    uint32_t n[3];
    if ((size_t)(end - *p) < sizeof(e->profile) + sizeof(n))
        return false;
    memcpy(e->profile, *p, sizeof(e->profile));
    memcpy(n, *p + sizeof(e->profile), sizeof(n));
    *p += sizeof(e->profile) + sizeof(n);
    if (memchr(e->profile, '\0', sizeof(e->profile)) == NULL ||
        (e->profile[0] && !profile_name_valid(e->profile)) || n[0] > PROFILE_LIST_MAX ||
        n[1] > PROFILE_LIST_MAX || n[2] > PROFILE_SCHED_MAX ||
        (size_t)(end - *p) < n[2] * sizeof(e->sched[0]))
        return false;
    memcpy(e->sched, *p, n[2] * sizeof(e->sched[0]));
    *p += n[2] * sizeof(e->sched[0]);
    e->nsched = n[2];
    if (!sched_ok((const uint8_t *)e->sched, e->nsched))
        return false;
    for (unsigned k = 0; k < n[0] + n[1]; k++) {
        const uint8_t *z = memchr(*p, '\0', (size_t)(end - *p));
        char *c = z && z > *p ? strdup((const char *)*p) : NULL;
        if (!c)
            return false;
        if (k < n[0])
            e->allow[e->nallow++] = c;
        else
            e->deny[e->ndeny++] = c;
        *p = z + 1;
    }
    return true;
}

/* Why the record r of a snapshot (nprof profiles, nextra settings, pool_len bytes of long
 * ids) cannot be read, or NULL. */
static const char *rec_bad(const struct srec *r, size_t nprof, size_t nextra, size_t pool_len)
{
    if (!r->idlen) {
        static const struct srec zero;
        return memcmp(r, &zero, sizeof(zero)) ? "an empty record that is not zero" : NULL;
    }
    if (r->idlen > 128)
        return "an id longer than 128 bytes";
    if (r->idlen > REC_ID && (r->u.far.off > pool_len || r->idlen > pool_len - r->u.far.off))
        return "a long id outside the pool";
    if (r->prof != NOPROF && r->prof >= nprof)
        return "a profile out of range";
    if (r->kind > REC_FULL)
        return "an unknown kind";
    if (r->extra != NOEXTRA && r->extra >= nextra)
        return "parental settings out of range";
    return NULL;
}

struct tariff *tariff_from_image(const struct imgfile_r *r, uint32_t base, uint32_t cat_base,
                                 char *err, size_t errlen)
{
    uint64_t v[TS_COUNT];
    size_t plen, rlen, pool_len, exlen, dlen;
    const uint8_t *prof = imgfile_r_get(r, base + TI_PROF, &plen);
    const uint8_t *rec = imgfile_r_get(r, base + TI_REC, &rlen);
    const uint8_t *pool = imgfile_r_get(r, base + TI_POOL, &pool_len);
    const uint8_t *ex = imgfile_r_get(r, base + TI_EXTRA, &exlen);
    const uint8_t *defname = imgfile_r_get(r, base + TI_DEFNAME, &dlen);
    if (imgfile_r_u64(r, base + TI_SCALARS, v, TS_COUNT) || !prof || !rec || !pool || !ex ||
        !defname) {
        snprintf(err, errlen, "tariff: a section is missing");
        return NULL;
    }
    const char *why = NULL;
    uint64_t cap = v[TS_CAP], hbits = v[TS_HBITS];
    if (v[TS_NPROF] >= NOPROF || plen != v[TS_NPROF] * sizeof(struct profile))
        why = "profiles: not the size the counts say";
    else if (cap == 0 || cap > REF_IDX_MAX || rlen != cap * sizeof(struct srec))
        why = "subscriber records: not the size the counts say";
    else if (hbits < 1 || hbits > H_BITS || cap > ((uint64_t)1 << (64 - hbits)))
        why = "subscriber records: a bad hash width";
    else if (v[TS_NREC] >= cap)
        why = "subscriber records: no empty record (a lookup would not end)";
    else if (v[TS_DEFPROF] != NOPROF && v[TS_DEFPROF] >= v[TS_NPROF])
        why = "the default profile is out of range";
    else if (v[TS_DEFKIND] > REC_FULL)
        why = "the default profile's kind is unknown";
    else if (v[TS_NEXTRA] > cap || dlen == 0 || dlen > PROFILE_NAME_MAX ||
             defname[dlen - 1] != '\0' || strlen((const char *)defname) + 1 != dlen)
        why = "the counts or the default profile's name are wrong";
    else if ((int64_t)v[TS_UTC] < -86400 || (int64_t)v[TS_UTC] > 86400)
        why = "a zone offset over a day";
    if (why) {
        snprintf(err, errlen, "tariff: %s", why);
        return NULL;
    }
    /* the profiles: their names; every other field is only compared or masked */
    for (size_t i = 0; i < v[TS_NPROF]; i++) {
        const uint8_t *pb = prof + i * sizeof(struct profile);
        struct profile p;
        memcpy(p.name, pb + offsetof(struct profile, name), sizeof(p.name));
        memcpy(&p.nsched, pb + offsetof(struct profile, nsched), sizeof(p.nsched));
        if (!memchr(p.name, '\0', sizeof(p.name)) || !profile_name_valid(p.name) ||
            p.nsched > PROFILE_SCHED_MAX ||
            !bool_byte_ok(pb + offsetof(struct profile, allowlist)) ||
            !sched_ok(pb + offsetof(struct profile, sched), p.nsched)) {
            snprintf(err, errlen, "tariff: profile %zu: a bad name, schedule or flag", i);
            return NULL;
        }
    }
    struct catset *cs = catset_from_image(r, cat_base, err, errlen);
    if (!cs)
        return NULL;
    struct tariff *t = tariff_new((const char *)defname);
    struct snap *s = t ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        catset_free(cs);
        tariff_free(t);
        snprintf(err, errlen, "tariff: out of memory");
        return NULL;
    }
    tariff_set_categories(t, cs); /* (the writer's reference; the snapshot takes a second) */
    if (t->cs) {
        atomic_fetch_add(&t->cs->refs, 1);
        s->cs = t->cs;
    }
    s->nprof = (size_t)v[TS_NPROF];
    s->defprof = (uint16_t)v[TS_DEFPROF];
    s->defkind = (uint8_t)v[TS_DEFKIND];
    s->defblock = v[TS_DEFBLOCK];
    s->cap = (size_t)cap;
    s->hbits = (unsigned)hbits;
    s->nrec = (size_t)v[TS_NREC];
    s->utc_off = (int32_t)(int64_t)v[TS_UTC];
    s->pool_len = pool_len;
    s->prof = calloc(s->nprof ? s->nprof : 1, sizeof(*s->prof));
    s->rec = bigmem_alloc(s->cap * sizeof(*s->rec));
    s->pool = malloc(pool_len ? pool_len : 1);
    s->extra = calloc(v[TS_NEXTRA] ? (size_t)v[TS_NEXTRA] : 1, sizeof(*s->extra));
    if (!t->cs || !s->prof || !s->rec || !s->pool || !s->extra) {
        snprintf(err, errlen, "tariff: out of memory");
        goto bad;
    }
    memcpy(s->prof, prof, plen);
    memcpy(s->rec, rec, rlen);
    memcpy(s->pool, pool, pool_len);
    const uint8_t *p = ex, *end = ex + exlen;
    while (s->nextra < v[TS_NEXTRA]) {
        if (!extra_get(&p, end, &s->extra[s->nextra])) {
            profile_sub_clear(&s->extra[s->nextra]);
            snprintf(err, errlen, "tariff: parental settings %zu: not readable", s->nextra);
            goto bad;
        }
        s->nextra++;
    }
    if (p != end) {
        snprintf(err, errlen, "tariff: parental settings: %zu bytes past the last one",
                 (size_t)(end - p));
        goto bad;
    }
    size_t nrec = 0;
    for (size_t i = 0; i < s->cap; i++) {
        const char *bad = rec_bad(&s->rec[i], s->nprof, s->nextra, s->pool_len);
        if (bad) {
            snprintf(err, errlen, "tariff: subscriber record %zu: %s", i, bad);
            goto bad;
        }
        nrec += s->rec[i].idlen != 0;
    }
    if (nrec != s->nrec) {
        snprintf(err, errlen, "tariff: %zu subscriber records, the counts say %zu", nrec, s->nrec);
        goto bad;
    }
    s->serial = ++t->serial;
    t->utc_off = s->utc_off;
    t->snap = s;
    t->frozen = true;
    return t;
bad:
    snap_free(s);
    tariff_free(t);
    return NULL;
}
