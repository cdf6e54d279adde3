/* tarcount.c - blocked attempts per subscriber, day and category (tarcount.h). */
#include "proxy/daemon/tarcount.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/hash.h"

struct slot {
    uint32_t n;  /* 0: empty */
    int32_t day; /* local days since 1970-01-01 */
    char sub[129];
    char cat[32];
};

struct table {
    pthread_mutex_t lock;
    struct slot s[TARCOUNT_SLOTS];
};

struct tarcount {
    unsigned workers;
    struct table *t;
    struct slot *scratch;
    _Atomic uint64_t dropped;
};

struct tarcount *tarcount_new(unsigned workers)
{
    struct tarcount *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->workers = workers ? workers : 1;
    c->t = calloc(c->workers, sizeof(*c->t));
    c->scratch = calloc(TARCOUNT_SLOTS, sizeof(*c->scratch));
    if (!c->t || !c->scratch) {
        free(c->t);
        free(c->scratch);
        free(c);
        return NULL;
    }
    for (unsigned i = 0; i < c->workers; i++)
        pthread_mutex_init(&c->t[i].lock, NULL);
    return c;
}

void tarcount_free(struct tarcount *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->workers; i++)
        pthread_mutex_destroy(&c->t[i].lock);
    free(c->t);
    free(c->scratch);
    free(c);
}

void tarcount_note(struct tarcount *c, unsigned worker, const char *sub, const char *category,
                   int64_t now, int32_t utc_offset)
{
    if (!c || !sub || !sub[0] || worker >= c->workers)
        return;
    int64_t t = now + utc_offset;
    int32_t day = (int32_t)(t >= 0 ? t / 86400 : (t - 86399) / 86400);
    size_t sl = strnlen(sub, 128), cl = strnlen(category, 31);
    uint64_t h = hash_bytes((uint64_t)day, (const uint8_t *)sub, sl) ^
                 hash_bytes(0x636174, (const uint8_t *)category, cl);
    struct table *tb = &c->t[worker];
    pthread_mutex_lock(&tb->lock);
    size_t i = (size_t)h & (TARCOUNT_SLOTS - 1);
    bool done = false;
    for (size_t k = 0; k < TARCOUNT_SLOTS / 4 && !done; k++, i = (i + 1) & (TARCOUNT_SLOTS - 1)) {
        struct slot *s = &tb->s[i];
        if (s->n && (s->day != day || strncmp(s->sub, sub, sizeof(s->sub)) != 0 ||
                     strncmp(s->cat, category, sizeof(s->cat)) != 0))
            continue;
        if (!s->n) {
            s->day = day;
            memcpy(s->sub, sub, sl);
            s->sub[sl] = '\0';
            memcpy(s->cat, category, cl);
            s->cat[cl] = '\0';
        }
        s->n++;
        done = true;
    }
    pthread_mutex_unlock(&tb->lock);
    if (!done)
        atomic_fetch_add(&c->dropped, 1);
}

void tarcount_note_block(struct tarcount *c, unsigned worker, const struct verdict_decision *d,
                         const struct verdict_tariff *t)
{
    if (!c || !t || !t->tariff || d->verdict != VERDICT_BLOCK || d->cause < CAUSE_PROFILE ||
        !d->sub[0])
        return;
    tarcount_note(c, worker, d->sub, d->category[0] ? d->category : verdict_cause_name(d->cause),
                  (int64_t)time(NULL), tariff_utc_offset(t->tariff));
}

/* One count of a flush, under the document it goes to. */
struct item {
    char id[STORE_ID_MAX];
    char cat[32];
    uint32_t n;
};

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->id, ((const struct item *)b)->id);
}

struct doc {
    json_t *j;
};

static int doc_cb(void *ctx, const char *bytes, size_t len)
{
    struct doc *d = ctx;
    json_decref(d->j);
    d->j = json_loadb(bytes, len, 0, NULL);
    return 0;
}

/* The document id with every count of v[0..n) (one id) added to what the store holds. */
static char *merged_doc(struct store *s, const struct item *v, size_t n, int *rc, char *err,
                        size_t errlen)
{
    struct doc d = { NULL };
    *rc = store_doc_get(s, "tariffsum", v[0].id, doc_cb, &d, err, errlen);
    if (*rc && *rc != -ENOENT)
        return NULL;
    *rc = 0;
    if (!json_is_object(d.j)) {
        json_decref(d.j);
        d.j = json_object();
    }
    for (size_t i = 0; i < n; i++) {
        json_int_t cur = json_integer_value(json_object_get(d.j, v[i].cat));
        json_object_set_new(d.j, v[i].cat, json_integer(cur + v[i].n));
    }
    char *text = json_dumps(d.j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d.j);
    if (!text) {
        snprintf(err, errlen, "tariff counters: out of memory");
        *rc = -ENOMEM;
    }
    return text;
}

/* The documents of the counts v[0..n) (sorted by id) read, added to and written in one
 * store_doc_put_many(): the directory store syncs a flush once, not once per document. */
static int write_items(struct store *s, const struct item *v, size_t n, char *err, size_t errlen)
{
    struct store_doc *docs = calloc(n, sizeof(*docs));
    char **texts = calloc(n, sizeof(*texts));
    size_t m = 0;
    int rc = 0;
    if (!docs || !texts) {
        snprintf(err, errlen, "tariff counters: out of memory");
        rc = -ENOMEM;
    }
    for (size_t a = 0, b; a < n && !rc; a = b) {
        for (b = a + 1; b < n && strcmp(v[b].id, v[a].id) == 0; b++)
            ;
        texts[m] = merged_doc(s, v + a, b - a, &rc, err, errlen);
        if (texts[m]) {
            docs[m] = (struct store_doc){ v[a].id, texts[m], strlen(texts[m]) };
            m++;
        }
    }
    if (!rc)
        rc = store_doc_put_many(s, "tariffsum", docs, m, err, errlen);
    for (size_t i = 0; i < m; i++)
        free(texts[i]);
    free(texts);
    free(docs);
    return rc;
}

int tarcount_flush(struct tarcount *c, struct store *s, const struct pseudo *ps, const char *node,
                   char *err, size_t errlen)
{
    if (!c)
        return 0;
    struct pseudo keyed = *ps;
    keyed.clear = false; /* counters are kept under the pseudonym, whatever the logs show */
    struct item *v = malloc((size_t)c->workers * TARCOUNT_SLOTS * sizeof(*v));
    size_t n = 0;
    uint64_t total = 0;
    for (unsigned w = 0; w < c->workers; w++) {
        struct table *tb = &c->t[w];
        pthread_mutex_lock(&tb->lock);
        memcpy(c->scratch, tb->s, sizeof(tb->s));
        memset(tb->s, 0, sizeof(tb->s));
        pthread_mutex_unlock(&tb->lock);
        for (size_t i = 0; i < TARCOUNT_SLOTS; i++) {
            const struct slot *sl = &c->scratch[i];
            if (!sl->n)
                continue;
            total += sl->n;
            if (!v)
                continue;
            char pn[PSEUDO_TEXT_MAX], date[16];
            time_t t = (time_t)sl->day * 86400;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(date, sizeof(date), "%Y-%m-%d", &tm);
            pseudo_id(&keyed, sl->sub, pn, sizeof(pn));
            struct item *it = &v[n++];
            snprintf(it->id, sizeof(it->id), "%s:%s:%s", pn, date, node);
            snprintf(it->cat, sizeof(it->cat), "%s", sl->cat[0] ? sl->cat : "other");
            it->n = sl->n;
        }
    }
    int rc = 0;
    if (!v) {
        snprintf(err, errlen, "tariff counters: out of memory");
        rc = -ENOMEM;
    } else if (n) {
        qsort(v, n, sizeof(*v), cmp_item);
        rc = write_items(s, v, n, err, errlen);
    }
    free(v);
    if (rc) {
        atomic_fetch_add(&c->dropped, total);
        return rc;
    }
    return total > INT_MAX ? INT_MAX : (int)total;
}

uint64_t tarcount_dropped(const struct tarcount *c)
{
    return c ? atomic_load(&((struct tarcount *)c)->dropped) : 0;
}
