/* seendoc.c - the "fbseen" documents (seendoc.h): merge, lookup, writing. */
#include "rules/report/seendoc.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

static void add_example(struct seendoc_addr *d, const char *name, size_t len)
{
    if (len > SEENDOC_NAME_MAX)
        len = SEENDOC_NAME_MAX;
    for (unsigned i = 0; i < d->nex; i++)
        if (strlen(d->ex[i]) == len && memcmp(d->ex[i], name, len) == 0)
            return;
    if (d->nex >= SEENDOC_EXAMPLES || !len)
        return;
    memcpy(d->ex[d->nex], name, len);
    d->ex[d->nex][len] = '\0';
    d->nex++;
}

const struct seendoc_addr *seendoc_find(const struct seendoc_addr *v, size_t n, const char *address)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].address, address) == 0)
            return &v[i];
    return NULL;
}

int seendoc_add(struct seendoc_addr **v, size_t *n, const struct seendoc_addr *a)
{
    struct seendoc_addr *d = (struct seendoc_addr *)seendoc_find(*v, *n, a->address);
    if (!d) {
        struct seendoc_addr *nv = realloc(*v, (*n + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        d = &nv[(*n)++];
        *d = *a;
        d->nex = 0;
    } else {
        hll_merge(d->reg, a->reg);
        if (a->first_ms && (!d->first_ms || a->first_ms < d->first_ms))
            d->first_ms = a->first_ms;
        if (a->last_ms > d->last_ms)
            d->last_ms = a->last_ms;
    }
    for (unsigned i = 0; i < a->nex && i < SEENDOC_EXAMPLES; i++)
        add_example(d, a->ex[i], strnlen(a->ex[i], SEENDOC_NAME_MAX));
    return 0;
}

uint64_t seendoc_names(const struct seendoc_addr *a)
{
    uint64_t est = a ? hll_estimate(a->reg) : 0;
    return a && est < a->nex ? a->nex : est;
}

static uint64_t ju64(const json_t *o, const char *k)
{
    json_int_t x = json_integer_value(json_object_get(o, k));
    return x > 0 ? (uint64_t)x : 0;
}

int seendoc_merge(const char *bytes, size_t len, struct seendoc_addr **v, size_t *n)
{
    return seendoc_merge_only(bytes, len, NULL, NULL, v, n);
}

int seendoc_merge_only(const char *bytes, size_t len, bool (*keep)(void *ctx, const char *address),
                       void *ctx, struct seendoc_addr **v, size_t *n)
{
    json_t *j = json_loadb(bytes, len, 0, NULL);
    json_t *arr = json_object_get(j, "addresses");
    if (!json_is_array(arr)) {
        json_decref(j);
        return -EINVAL;
    }
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(arr, i, e)
    {
        if (i >= SEENDOC_ADDRESSES)
            break;
        const char *addr = json_string_value(json_object_get(e, "address"));
        json_t *h = json_object_get(e, "hll");
        struct seendoc_addr a;
        memset(&a, 0, sizeof(a));
        size_t alen = addr ? strlen(addr) : 0;
        if (!alen || alen >= sizeof(a.address) || (keep && !keep(ctx, addr)) ||
            !json_is_string(h) || hll_decode(json_string_value(h), json_string_length(h), a.reg))
            continue;
        memcpy(a.address, addr, alen + 1);
        a.first_ms = ju64(e, "first_ms");
        a.last_ms = ju64(e, "last_ms");
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(e, "examples"), k, x)
        {
            if (!json_is_string(x) || a.nex >= SEENDOC_EXAMPLES)
                continue;
            size_t l = json_string_length(x);
            l = l > SEENDOC_NAME_MAX ? SEENDOC_NAME_MAX : l;
            memcpy(a.ex[a.nex], json_string_value(x), l);
            a.ex[a.nex][l] = '\0';
            a.nex++;
        }
        if ((rc = seendoc_add(v, n, &a)))
            break;
    }
    json_decref(j);
    return rc;
}

static int newest_first(const void *a, const void *b)
{
    const struct seendoc_addr *x = a, *y = b;
    return x->last_ms < y->last_ms ? 1 : x->last_ms > y->last_ms ? -1 : 0;
}

void seendoc_write(FILE *f, const char *node, uint64_t now_ms, struct seendoc_addr *v, size_t n)
{
    char hll[HLL_REGS + 1];
    if (n > 1)
        qsort(v, n, sizeof(*v), newest_first);
    fputc('{', f);
    jsonw_key(f, "node", true);
    jsonw_cstr(f, node);
    fprintf(f, ",\"updated_ms\":%llu,\"addresses\":[", (unsigned long long)now_ms);
    for (size_t i = 0; i < n && i < SEENDOC_ADDRESSES; i++) {
        fputs(i ? ",{" : "{", f);
        jsonw_key(f, "address", true);
        jsonw_cstr(f, v[i].address);
        hll_encode(v[i].reg, hll);
        fprintf(f, ",\"first_ms\":%llu,\"last_ms\":%llu,\"hll\":\"%s\",\"examples\":[",
                (unsigned long long)v[i].first_ms, (unsigned long long)v[i].last_ms, hll);
        for (unsigned k = 0; k < v[i].nex; k++) {
            if (k)
                fputc(',', f);
            jsonw_cstr(f, v[i].ex[k]);
        }
        fputs("]}", f);
    }
    fputs("]}", f);
}
