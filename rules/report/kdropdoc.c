/* kdropdoc.c - the "kdrops" documents (kdropdoc.h): merge, lookup, writing. */
#include "rules/report/kdropdoc.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

/* The index of the first entry whose text is not below text. */
static size_t lower(const struct kdropdoc *d, const char *text)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->v[mid].entry, text) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int kdropdoc_add(struct kdropdoc *d, const struct kdropdoc_entry *e)
{
    size_t len = strnlen(e->entry, sizeof(e->entry));
    if (len == 0 || len > KDROPDOC_ENTRY_MAX)
        return -EINVAL;
    size_t i = lower(d, e->entry);
    if (i < d->n && strcmp(d->v[i].entry, e->entry) == 0) {
        struct kdropdoc_entry *x = &d->v[i];
        x->packets += e->packets;
        x->bytes += e->bytes;
        if (e->first_ms && (!x->first_ms || e->first_ms < x->first_ms))
            x->first_ms = e->first_ms;
        if (e->last_ms > x->last_ms)
            x->last_ms = e->last_ms;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        struct kdropdoc_entry *v = realloc(d->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    memmove(&d->v[i + 1], &d->v[i], (d->n - i) * sizeof(*d->v));
    d->v[i] = *e;
    d->n++;
    return 0;
}

static uint64_t ju64(const json_t *o, const char *k)
{
    json_int_t x = json_integer_value(json_object_get(o, k));
    return x > 0 ? (uint64_t)x : 0;
}

int kdropdoc_merge(const char *bytes, size_t len, bool (*keep)(void *ctx, const char *entry),
                   void *ctx, struct kdropdoc *d)
{
    json_t *j = json_loadb(bytes, len, 0, NULL);
    json_t *arr = json_object_get(j, "entries");
    if (!json_is_array(arr)) {
        json_decref(j);
        return -EINVAL;
    }
    size_t i;
    json_t *o;
    int rc = 0;
    json_array_foreach(arr, i, o)
    {
        if (i >= KDROPDOC_ENTRIES)
            break;
        const char *text = json_string_value(json_object_get(o, "entry"));
        struct kdropdoc_entry e;
        memset(&e, 0, sizeof(e));
        size_t tl = text ? strlen(text) : 0;
        if (!tl || tl > KDROPDOC_ENTRY_MAX || (keep && !keep(ctx, text)))
            continue;
        memcpy(e.entry, text, tl + 1);
        e.packets = ju64(o, "packets");
        e.bytes = ju64(o, "bytes");
        e.first_ms = ju64(o, "first_ms");
        e.last_ms = ju64(o, "last_ms");
        if ((rc = kdropdoc_add(d, &e)) == -ENOMEM)
            break;
        rc = 0;
    }
    json_decref(j);
    return rc;
}

const struct kdropdoc_entry *kdropdoc_find(const struct kdropdoc *d, const char *entry)
{
    size_t i = lower(d, entry);
    return i < d->n && strcmp(d->v[i].entry, entry) == 0 ? &d->v[i] : NULL;
}

static int newest_first(const void *a, const void *b)
{
    const struct kdropdoc_entry *x = *(const struct kdropdoc_entry *const *)a;
    const struct kdropdoc_entry *y = *(const struct kdropdoc_entry *const *)b;
    if (x->last_ms != y->last_ms)
        return x->last_ms < y->last_ms ? 1 : -1;
    return strcmp(x->entry, y->entry);
}

int kdropdoc_write(FILE *f, const char *node, uint64_t now_ms, const struct kdropdoc *d)
{
    size_t n = d->n;
    const struct kdropdoc_entry **order = NULL;
    if (n > KDROPDOC_ENTRIES) { /* the most recently dropped */
        order = malloc(n * sizeof(*order));
        if (!order)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            order[i] = &d->v[i];
        qsort(order, n, sizeof(*order), newest_first);
        n = KDROPDOC_ENTRIES;
    }
    fputc('{', f);
    jsonw_key(f, "node", true);
    jsonw_cstr(f, node);
    fprintf(f, ",\"updated_ms\":%llu,\"entries\":[", (unsigned long long)now_ms);
    for (size_t i = 0; i < n; i++) {
        const struct kdropdoc_entry *e = order ? order[i] : &d->v[i];
        fputs(i ? ",{" : "{", f);
        jsonw_key(f, "entry", true);
        jsonw_cstr(f, e->entry);
        fprintf(f, ",\"packets\":%llu,\"bytes\":%llu,\"first_ms\":%llu,\"last_ms\":%llu}",
                (unsigned long long)e->packets, (unsigned long long)e->bytes,
                (unsigned long long)e->first_ms, (unsigned long long)e->last_ms);
    }
    fputs("]}", f);
    free(order);
    return 0;
}

void kdropdoc_free(struct kdropdoc *d)
{
    free(d->v);
    memset(d, 0, sizeof(*d));
}
