/* fbdocs.c - the IP fallback's per-order documents (see fbdocs.h, docs/fallback.md). */
#include "proxy/daemon/fbdocs.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/store/store.h"

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* orders: {ID: {"res": {ENTRY: [ADDR...]}, "held": [{...}]}} */
static int add_item(json_t *orders, const json_t *it, bool held_list)
{
    const char *action = jstr(it, "action");
    const char *entry = jstr(it, "entry");
    const char *addr = jstr(it, "address");
    bool prot = json_is_true(json_object_get(it, "protected"));
    bool blocks = !held_list || (strcmp(action, "block") == 0 && !prot);
    if (!entry[0] || !addr[0])
        return 0;
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(it, "orders"), i, o)
    {
        const char *id = json_string_value(o);
        if (!id || !store_id_valid(id, strlen(id)))
            continue;
        json_t *rec = json_object_get(orders, id);
        if (!rec) {
            rec = json_pack("{s:o,s:o}", "res", json_object(), "held", json_array());
            if (!rec || json_object_set_new(orders, id, rec) < 0)
                return -ENOMEM;
        }
        int rc;
        if (blocks) {
            json_t *res = json_object_get(rec, "res");
            json_t *a = json_object_get(res, entry);
            if (!a) {
                a = json_array();
                if (!a || json_object_set_new(res, entry, a) < 0)
                    return -ENOMEM;
            }
            rc = json_array_append_new(a, json_string(addr));
        } else {
            json_t *h = json_pack("{s:s,s:s,s:s}", "resource", entry, "address", addr, "action",
                                  prot ? "protected" : action);
            rc = h ? json_array_append_new(json_object_get(rec, "held"), h) : -1;
        }
        if (rc < 0)
            return -ENOMEM;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object's keys, sorted. NULL on allocation failure (n = 0: an empty array). */
static const char **sorted_keys(json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **k = calloc(*n ? *n : 1, sizeof(*k));
    if (!k)
        return NULL;
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        k[i++] = key;
    }
    qsort(k, *n, sizeof(*k), cmp_str);
    return k;
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return s;
}

static int build_one(const char *id, json_t *rec, struct fbdoc *d)
{
    json_t *res = json_object_get(rec, "res");
    size_t nk;
    const char **keys = sorted_keys(res, &nk);
    json_t *list = json_array();
    if (!keys || !list) {
        free(keys);
        json_decref(list);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nk; i++) {
        json_t *e =
            json_pack("{s:s,s:O}", "resource", keys[i], "addresses", json_object_get(res, keys[i]));
        if (!e || json_array_append_new(list, e) < 0) {
            free(keys);
            json_decref(list);
            return -ENOMEM;
        }
    }
    free(keys);
    d->order = strdup(id);
    d->fallback = dump(json_pack("{s:o}", "resources", list));
    d->risks =
        dump(json_pack("{s:s,s:O}", "order", id, "shared_held_back", json_object_get(rec, "held")));
    return d->order && d->fallback && d->risks ? 0 : -ENOMEM;
}

void fbdocs_free_list(struct fbdoc *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].order);
        free(v[i].fallback);
        free(v[i].risks);
    }
    free(v);
}

int fbdocs_build(const char *report, size_t len, struct fbdoc **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(report, len, 0, &je);
    if (!root || strcmp(jstr(root, "format"), "qorgau-fallback/1") != 0) {
        snprintf(err, errlen, "fallback report: %s",
                 root ? "not a qorgau-fallback/1 document" : je.text);
        json_decref(root);
        return -EINVAL;
    }
    json_t *orders = json_object();
    int rc = orders ? 0 : -ENOMEM;
    static const char *const lists[] = { "blocked", "held" };
    for (size_t l = 0; l < 2 && !rc; l++) {
        size_t i;
        const json_t *it;
        json_array_foreach(json_object_get(root, lists[l]), i, it)
        {
            if ((rc = add_item(orders, it, l == 1)) != 0)
                break;
        }
    }
    size_t n = 0;
    const char **ids = rc ? NULL : sorted_keys(orders, &n);
    struct fbdoc *v = ids ? calloc(n ? n : 1, sizeof(*v)) : NULL;
    if (!rc && !v)
        rc = -ENOMEM;
    for (size_t i = 0; i < n && !rc; i++)
        rc = build_one(ids[i], json_object_get(orders, ids[i]), &v[i]);
    free(ids);
    json_decref(orders);
    json_decref(root);
    if (rc) {
        fbdocs_free_list(v, n);
        snprintf(err, errlen, "fallback documents: out of memory");
        return rc;
    }
    *out = v;
    return (int)n;
}

struct fbdocs {
    struct fbdoc *last;
    size_t n;
};

struct fbdocs *fbdocs_new(void)
{
    return calloc(1, sizeof(struct fbdocs));
}

void fbdocs_free(struct fbdocs *f)
{
    if (!f)
        return;
    fbdocs_free_list(f->last, f->n);
    free(f);
}

static const struct fbdoc *find(const struct fbdoc *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].order, id) == 0)
            return &v[i];
    return NULL;
}

static int put(struct store *s, const char *kind, const char *id, const char *doc, char *err,
               size_t errlen)
{
    return store_doc_put(s, kind, id, doc, strlen(doc), err, errlen);
}

int fbdocs_sync(struct fbdocs *f, struct store *s, const char *report, char *err, size_t errlen)
{
    struct fbdoc *v;
    int n = fbdocs_build(report, strlen(report), &v, err, errlen);
    if (n < 0)
        return n;
    int written = 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const struct fbdoc *old = find(f->last, f->n, v[i].order);
        if (!old || strcmp(old->fallback, v[i].fallback) != 0) {
            rc = put(s, "fallback", v[i].order, v[i].fallback, err, errlen);
            written += !rc;
        }
        if (!rc && (!old || strcmp(old->risks, v[i].risks) != 0)) {
            rc = put(s, "risks", v[i].order, v[i].risks, err, errlen);
            written += !rc;
        }
    }
    /* orders no longer named: nothing blocked or held for them any more */
    for (size_t i = 0; i < f->n && !rc; i++) {
        if (find(v, (size_t)n, f->last[i].order))
            continue;
        char risks[STORE_ID_MAX + 64];
        snprintf(risks, sizeof(risks), "{\"order\":\"%s\",\"shared_held_back\":[]}",
                 f->last[i].order);
        rc = put(s, "fallback", f->last[i].order, "{\"resources\":[]}", err, errlen);
        if (!rc)
            rc = put(s, "risks", f->last[i].order, risks, err, errlen);
        written += rc ? 0 : 2;
    }
    if (rc) {
        fbdocs_free_list(v, (size_t)n);
        return rc;
    }
    fbdocs_free_list(f->last, f->n);
    f->last = v;
    f->n = (size_t)n;
    return written;
}
