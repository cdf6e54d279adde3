/* decisions.c - the workers' decision counts, last decisions and blocked names (decisions.h). */
#include "proxy/daemon/decisions.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsonw.h"
#include "proxy/daemon/metrics.h"
#include "proxy/packet/decode.h"

#define OVERFLOW_ROW (DECISIONS_ROWS - 1u) /* the row counting what found no other */
#define NAME_PROBES  8u                    /* slots tried for a blocked name */

struct row {
    _Atomic uint32_t used; /* 1 once the key below is written (release) */
    uint32_t hash;         /* of the key, compared first */
    uint8_t verdict, method;
    char category[DECISIONS_LABEL_MAX];
    char profile[DECISIONS_LABEL_MAX];
    _Atomic uint64_t count;
};

struct rec {
    _Atomic uint64_t seq; /* odd while written */
    uint64_t ms;
    uint8_t verdict, method, app, ipver;
    uint16_t port;
    uint8_t server[16];
    char name[DECISIONS_NAME_MAX];
    char rule[DECISIONS_NAME_MAX];
    char order[DECISIONS_LABEL_MAX];
    char category[DECISIONS_LABEL_MAX];
};

struct name_slot {
    _Atomic uint32_t used;
    uint32_t hash; /* compared before the name */
    char name[DECISIONS_NAME_MAX];
    _Atomic uint64_t count;
};

struct part {
    struct row rows[DECISIONS_ROWS];
    struct rec ring[DECISIONS_RING];
    _Atomic uint64_t next; /* ring position of the next note */
    struct name_slot names[DECISIONS_NAMES];
    _Atomic uint64_t dropped;
};

struct decisions {
    unsigned n;
    struct part *p;
};

struct decisions *decisions_new(unsigned workers)
{
    struct decisions *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->n = workers ? workers : 1;
    d->p = calloc(d->n, sizeof(*d->p));
    if (!d->p) {
        free(d);
        return NULL;
    }
    return d;
}

void decisions_free(struct decisions *d)
{
    if (!d)
        return;
    free(d->p);
    free(d);
}

static uint32_t fnv(const char *s, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Copies at most cap-1 bytes of s[0..n) and a NUL. */
static void put(char *dst, size_t cap, const char *s, size_t n)
{
    if (!s)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = 0;
}

static const char *or_none(const char *s)
{
    return s && s[0] ? s : "none";
}

static void count_row(struct part *p, const struct decision_note *n)
{
    const char *cat = or_none(n->category), *prof = or_none(n->profile);
    size_t cl = strnlen(cat, DECISIONS_LABEL_MAX - 1), pl = strnlen(prof, DECISIONS_LABEL_MAX - 1);
    uint32_t h = fnv(cat, cl, fnv(prof, pl, 2166136261u ^ (uint32_t)(n->verdict * 8 + n->method)));
    for (uint32_t k = 0; k < OVERFLOW_ROW; k++) {
        struct row *r = &p->rows[(h + k) % OVERFLOW_ROW];
        if (!atomic_load_explicit(&r->used, memory_order_relaxed)) {
            r->hash = h;
            r->verdict = (uint8_t)n->verdict;
            r->method = (uint8_t)n->method;
            put(r->category, sizeof(r->category), cat, cl);
            put(r->profile, sizeof(r->profile), prof, pl);
            atomic_store_explicit(&r->used, 1, memory_order_release);
        } else if (r->hash != h || r->verdict != (uint8_t)n->verdict ||
                   r->method != (uint8_t)n->method || strncmp(r->category, cat, cl) != 0 ||
                   r->category[cl] != 0 || strncmp(r->profile, prof, pl) != 0 ||
                   r->profile[pl] != 0) {
            continue;
        }
        atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&p->rows[OVERFLOW_ROW].count, 1, memory_order_relaxed);
}

static void count_name(struct part *p, const char *name, size_t len)
{
    if (len >= DECISIONS_NAME_MAX)
        len = DECISIONS_NAME_MAX - 1;
    uint32_t h = fnv(name, len, 2166136261u);
    for (uint32_t k = 0; k < NAME_PROBES; k++) {
        struct name_slot *s = &p->names[(h + k) & (DECISIONS_NAMES - 1)];
        if (!atomic_load_explicit(&s->used, memory_order_relaxed)) {
            s->hash = h;
            put(s->name, sizeof(s->name), name, len);
            atomic_store_explicit(&s->used, 1, memory_order_release);
        } else if (s->hash != h || strncmp(s->name, name, len) != 0 || s->name[len] != 0) {
            continue;
        }
        atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&p->dropped, 1, memory_order_relaxed);
}

void decisions_note(struct decisions *d, unsigned worker, const struct decision_note *n)
{
    if (!d || worker >= d->n)
        return;
    struct part *p = &d->p[worker];
    count_row(p, n);
    if (n->verdict == VERDICT_BLOCK && n->name && n->name_len)
        count_name(p, n->name, n->name_len);
    uint64_t pos = atomic_load_explicit(&p->next, memory_order_relaxed);
    struct rec *r = &p->ring[pos % DECISIONS_RING];
    uint64_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);
    atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    r->ms = n->ms;
    r->verdict = (uint8_t)n->verdict;
    r->method = (uint8_t)n->method;
    r->app = (uint8_t)n->app;
    r->ipver = (uint8_t)n->ipver;
    r->port = n->server_port;
    if (n->server)
        memcpy(r->server, n->server, 16);
    else
        memset(r->server, 0, 16);
    put(r->name, sizeof(r->name), n->name, n->name_len);
    put(r->rule, sizeof(r->rule), n->rule, n->rule ? strlen(n->rule) : 0);
    put(r->order, sizeof(r->order), n->order, n->order ? strlen(n->order) : 0);
    put(r->category, sizeof(r->category), n->category, n->category ? strlen(n->category) : 0);
    atomic_store_explicit(&r->seq, s + 2, memory_order_release);
    atomic_store_explicit(&p->next, pos + 1, memory_order_release);
}

void decisions_note_flow(struct decisions *d, unsigned worker, const struct ruleset *rs,
                         const struct verdict_decision *dec, enum verdict_app app, const char *name,
                         size_t name_len, int ipver, const uint8_t *server, uint16_t server_port)
{
    if (!d)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    bool entry = rs && dec->entry != RULESET_NO_ENTRY;
    struct decision_note n = {
        .ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
        .verdict = dec->verdict,
        .method = dec->method,
        .app = app,
        .name = name,
        .name_len = name ? name_len : 0,
        .rule = entry ? ruleset_entry_text(rs, dec->entry) : NULL,
        .order = entry ? ruleset_entry_order(rs, dec->entry) : NULL,
        .category = entry ? ruleset_entry_category(rs, dec->entry) : NULL,
        .profile = NULL,
        .ipver = ipver,
        .server = server,
        .server_port = server_port,
    };
    decisions_note(d, worker, &n);
}

/* ---- readers ---- */

struct sample {
    uint8_t verdict, method;
    const char *category, *profile;
    uint64_t count;
};

void decisions_metrics(const struct decisions *d, FILE *f, const char *metric)
{
    size_t cap = (size_t)d->n * DECISIONS_ROWS, n = 0;
    struct sample *v = calloc(cap, sizeof(*v));
    if (!v)
        return;
    uint64_t overflow = 0;
    for (unsigned w = 0; w < d->n; w++) {
        const struct part *p = &d->p[w];
        overflow += atomic_load_explicit(&p->rows[OVERFLOW_ROW].count, memory_order_relaxed);
        for (unsigned i = 0; i < OVERFLOW_ROW; i++) {
            const struct row *r = &p->rows[i];
            if (!atomic_load_explicit(&r->used, memory_order_acquire))
                continue;
            uint64_t c = atomic_load_explicit(&r->count, memory_order_relaxed);
            size_t k = 0;
            while (k < n && !(v[k].verdict == r->verdict && v[k].method == r->method &&
                              strcmp(v[k].category, r->category) == 0 &&
                              strcmp(v[k].profile, r->profile) == 0))
                k++;
            if (k == n)
                v[n++] = (struct sample){ r->verdict, r->method, r->category, r->profile, 0 };
            v[k].count += c;
        }
    }
    for (size_t k = 0; k < n; k++) {
        const char *m = verdict_method_name((enum verdict_method)v[k].method);
        fprintf(f, "%s{verdict=\"%s\",method=\"%s\",category=", metric,
                verdict_name((enum verdict)v[k].verdict), m ? m : "none");
        metrics_label(f, v[k].category);
        fputs(",profile=", f);
        metrics_label(f, v[k].profile);
        fprintf(f, "} %llu\n", (unsigned long long)v[k].count);
    }
    if (overflow)
        fprintf(f,
                "%s{verdict=\"other\",method=\"other\",category=\"other\",profile=\"other\"} "
                "%llu\n",
                metric, (unsigned long long)overflow);
    free(v);
}

static int by_ms_desc(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : 0;
}

static void str_or_null(FILE *f, const char *key, const char *s)
{
    jsonw_key(f, key, false);
    jsonw_cstr(f, s[0] ? s : NULL);
}

void decisions_json(const struct decisions *d, FILE *f, size_t max)
{
    size_t cap = (size_t)d->n * DECISIONS_RING, n = 0;
    struct rec *v = malloc(cap * sizeof(*v));
    fputs("{\"decisions\":[", f);
    for (unsigned w = 0; v && w < d->n; w++) {
        const struct part *p = &d->p[w];
        for (unsigned i = 0; i < DECISIONS_RING; i++) {
            const struct rec *r = &p->ring[i];
            uint64_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
            if (s1 == 0 || (s1 & 1))
                continue;
            memcpy(&v[n], r, sizeof(*r));
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&r->seq, memory_order_relaxed) != s1)
                continue;
            n++;
        }
    }
    if (v)
        qsort(v, n, sizeof(*v), by_ms_desc);
    for (size_t i = 0; i < n && i < max; i++) {
        const struct rec *r = &v[i];
        const char *m = verdict_method_name((enum verdict_method)r->method);
        char srv[64];
        decode_fmt_endpoint(r->server, r->ipver, r->port, srv, sizeof(srv));
        fprintf(f, "%s{\"ms\":%llu,\"verdict\":\"%s\",\"method\":", i ? "," : "",
                (unsigned long long)r->ms, verdict_name((enum verdict)r->verdict));
        jsonw_cstr(f, m);
        jsonw_key(f, "app", false);
        jsonw_cstr(f, verdict_app_name((enum verdict_app)r->app));
        str_or_null(f, "name", r->name);
        str_or_null(f, "rule", r->rule);
        str_or_null(f, "order", r->order);
        str_or_null(f, "category", r->category);
        jsonw_key(f, "server", false);
        jsonw_cstr(f, r->ipver ? srv : NULL);
        fputc('}', f);
    }
    fputs("]}\n", f);
    free(v);
}

struct top {
    const char *name;
    uint64_t count;
};

static int by_count_desc(const void *a, const void *b)
{
    const struct top *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

void decisions_totals(const struct decisions *d, uint64_t *blocks, uint64_t *passes)
{
    *blocks = *passes = 0;
    for (unsigned w = 0; w < d->n; w++) {
        for (unsigned i = 0; i < DECISIONS_ROWS; i++) {
            const struct row *r = &d->p[w].rows[i];
            bool used = i == OVERFLOW_ROW || atomic_load_explicit(&r->used, memory_order_acquire);
            uint64_t c = atomic_load_explicit(&r->count, memory_order_relaxed);
            if (!used)
                continue;
            if (i != OVERFLOW_ROW && r->verdict == VERDICT_BLOCK)
                *blocks += c;
            else
                *passes += c;
        }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct top *)a)->name, ((const struct top *)b)->name);
}

uint64_t decisions_names_dropped(const struct decisions *d)
{
    uint64_t n = 0;
    for (unsigned w = 0; w < d->n; w++)
        n += atomic_load_explicit(&d->p[w].dropped, memory_order_relaxed);
    return n;
}

void decisions_top_json(const struct decisions *d, FILE *f, size_t max)
{
    size_t cap = (size_t)d->n * DECISIONS_NAMES, n = 0;
    struct top *v = malloc(cap * sizeof(*v));
    for (unsigned w = 0; v && w < d->n; w++) {
        const struct part *p = &d->p[w];
        for (unsigned i = 0; i < DECISIONS_NAMES; i++) {
            const struct name_slot *s = &p->names[i];
            if (!atomic_load_explicit(&s->used, memory_order_acquire))
                continue;
            v[n++] = (struct top){ s->name, atomic_load_explicit(&s->count, memory_order_relaxed) };
        }
    }
    /* the same name on several workers: sort by name, merge neighbours, then by count */
    size_t m = 0;
    if (v && n) {
        qsort(v, n, sizeof(*v), by_name);
        for (size_t i = 0; i < n; i++) {
            if (m && strcmp(v[m - 1].name, v[i].name) == 0)
                v[m - 1].count += v[i].count;
            else
                v[m++] = v[i];
        }
        qsort(v, m, sizeof(*v), by_count_desc);
    }
    fprintf(f, "{\"blocked_names\":%zu,\"dropped\":%llu,\"top\":[", m,
            (unsigned long long)decisions_names_dropped(d));
    for (size_t i = 0; i < m && i < max; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        jsonw_cstr(f, v[i].name);
        fprintf(f, ",\"blocks\":%llu}", (unsigned long long)v[i].count);
    }
    fputs("]}\n", f);
    free(v);
}
