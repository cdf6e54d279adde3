/* kdrops.c - what the kernel dropped per IP entry, noted and flushed to the store (kdrops.h). */
#include "proxy/daemon/kdrops.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/report/kdropdoc.h"
#include "rules/store/store.h"

struct kdrops {
    pthread_mutex_t lock;
    struct kdropdoc pend; /* noted, not yet in the store */
    uint64_t lost;
};

struct kdrops *kdrops_new(void)
{
    struct kdrops *k = calloc(1, sizeof(*k));
    if (k)
        pthread_mutex_init(&k->lock, NULL);
    return k;
}

void kdrops_free(struct kdrops *k)
{
    if (!k)
        return;
    kdropdoc_free(&k->pend);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

void kdrops_note(struct kdrops *k, const char *entry, uint64_t packets, uint64_t bytes,
                 uint64_t now_ms)
{
    struct kdropdoc_entry e;
    memset(&e, 0, sizeof(e));
    size_t len = strlen(entry);
    if (len == 0 || len > KDROPDOC_ENTRY_MAX)
        return; /* cannot happen: an entry text ipdrop formats fits */
    memcpy(e.entry, entry, len + 1);
    e.packets = packets;
    e.bytes = bytes;
    e.first_ms = e.last_ms = now_ms;
    pthread_mutex_lock(&k->lock);
    if ((k->pend.n >= KDROPDOC_ENTRIES && !kdropdoc_find(&k->pend, entry)) ||
        kdropdoc_add(&k->pend, &e) < 0)
        k->lost++;
    pthread_mutex_unlock(&k->lock);
}

uint64_t kdrops_lost(struct kdrops *k)
{
    pthread_mutex_lock(&k->lock);
    uint64_t n = k->lost;
    pthread_mutex_unlock(&k->lock);
    return n;
}

/* Puts what a failed flush took back into the pending entries. */
static void give_back(struct kdrops *k, struct kdropdoc *taken)
{
    pthread_mutex_lock(&k->lock);
    for (size_t i = 0; i < taken->n; i++)
        if (kdropdoc_add(&k->pend, &taken->v[i]) < 0)
            k->lost++;
    pthread_mutex_unlock(&k->lock);
    kdropdoc_free(taken);
}

struct getdoc {
    struct kdropdoc doc;
    int rc;
};

static int doc_cb(void *ctx, const char *bytes, size_t len)
{
    struct getdoc *g = ctx;
    int rc = kdropdoc_merge(bytes, len, NULL, NULL, &g->doc);
    g->rc = rc == -ENOMEM ? rc : 0; /* a document that is not ours starts again from nothing */
    return 0;
}

int kdrops_flush(struct kdrops *k, struct store *s, const char *node, uint64_t now_ms, char *err,
                 size_t errlen)
{
    pthread_mutex_lock(&k->lock);
    struct kdropdoc taken = k->pend;
    memset(&k->pend, 0, sizeof(k->pend));
    pthread_mutex_unlock(&k->lock);
    if (!taken.n) {
        kdropdoc_free(&taken);
        return 0;
    }
    struct getdoc g = { .rc = 0 };
    int rc = store_doc_get(s, "kdrops", node, doc_cb, &g, err, errlen);
    if (rc < 0 && rc != -ENOENT) {
        kdropdoc_free(&g.doc);
        give_back(k, &taken);
        return rc;
    }
    for (size_t i = 0; i < taken.n && !g.rc; i++)
        g.rc = kdropdoc_add(&g.doc, &taken.v[i]);
    char *doc = NULL;
    size_t dlen = 0;
    FILE *f = g.rc ? NULL : open_memstream(&doc, &dlen);
    if (!f || kdropdoc_write(f, node, now_ms, &g.doc) < 0 || fclose(f) != 0) {
        free(doc);
        kdropdoc_free(&g.doc);
        give_back(k, &taken);
        snprintf(err, errlen, "kdrops: out of memory");
        return -ENOMEM;
    }
    kdropdoc_free(&g.doc);
    rc = store_doc_put(s, "kdrops", node, doc, dlen, err, errlen);
    free(doc);
    if (rc < 0) {
        give_back(k, &taken);
        return rc; /* kept for the next flush */
    }
    kdropdoc_free(&taken);
    return 1;
}
