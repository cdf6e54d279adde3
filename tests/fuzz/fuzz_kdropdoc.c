/* fuzz_kdropdoc.c - libFuzzer target: the "kdrops" documents (what the kernel dropped per IP
 * entry, rules/report/kdropdoc.h), which the report reads from the store.
 *
 * An input is merged as a document, written back, and the written form must merge again to the
 * same entries; merging the input a second time must double every count (the sums) and keep
 * the earliest first and latest last times. The entries stay sorted and unique. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/report/kdropdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sorted(const struct kdropdoc *d)
{
    for (size_t i = 1; i < d->n; i++)
        if (strcmp(d->v[i - 1].entry, d->v[i].entry) >= 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kdropdoc d = { 0 }, w = { 0 };
    if (kdropdoc_merge((const char *)data, size, NULL, NULL, &d) != 0) {
        kdropdoc_free(&d);
        return 0;
    }
    check_sorted(&d);
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    if (!f || kdropdoc_write(f, "fuzz", 1, &d) != 0)
        abort();
    fclose(f);
    if (kdropdoc_merge(doc, len, NULL, NULL, &w) != 0)
        abort(); /* what was written reads back */
    if (w.n != d.n)
        abort();
    for (size_t i = 0; i < d.n; i++)
        if (strcmp(w.v[i].entry, d.v[i].entry) != 0 || w.v[i].packets != d.v[i].packets ||
            w.v[i].bytes != d.v[i].bytes || w.v[i].last_ms != d.v[i].last_ms)
            abort();
    struct kdropdoc twice = { 0 };
    for (size_t i = 0; i < d.n; i++)
        if (kdropdoc_add(&twice, &d.v[i]) != 0 || kdropdoc_add(&twice, &d.v[i]) != 0)
            abort();
    for (size_t i = 0; i < d.n; i++) {
        const struct kdropdoc_entry *e = kdropdoc_find(&twice, d.v[i].entry);
        if (!e || e->packets != 2 * d.v[i].packets || e->last_ms != d.v[i].last_ms)
            abort();
    }
    free(doc);
    kdropdoc_free(&d);
    kdropdoc_free(&w);
    kdropdoc_free(&twice);
    return 0;
}
