/* fuzz_failstatic_journal.c - libFuzzer target: failstatic_journal_parse() over arbitrary
 * fail-static journals.
 *
 * Properties checked: no crash, leak or over-read (the input is copied to an exact-size heap
 * block); a refused journal leaves the list empty and says "failstatic: fuzz:LINE: ..."; an
 * accepted one, its entries appended again to a fresh journal and loaded back, gives the same
 * versions, ids, states and records, and the same last version. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/daemon/failstatic.h"
#include "tests/fuzz/fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct failstatic_change *a, const struct failstatic_change *b)
{
    if (a->version != b->version || strcmp(a->id, b->id) != 0 || !a->o != !b->o)
        return false;
    if (!a->o)
        return true;
    char *x = order_to_json(a->o), *y = order_to_json(b->o);
    bool eq = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return eq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    uint8_t *buf = fuzz_copy(data, size);
    if (!buf)
        return 0;
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    uint64_t last = 0;
    int rc = failstatic_journal_parse("fuzz", buf, size, 0, &last, &j, err, sizeof(err));
    free(buf);
    if (rc) {
        if (j.n != 0 || (rc != -ENOMEM && strncmp(err, "failstatic: fuzz:", 17) != 0))
            abort();
        failstatic_journal_free(&j);
        return 0;
    }
    const char *dir = fuzz_tmpdir("fuzz_failstatic_journal");
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_JOURNAL_NAME);
    unlink(path);
    for (size_t i = 0; i < j.n; i++) {
        const struct failstatic_change *c = &j.v[i];
        char *text = c->o ? order_to_json(c->o) : NULL;
        const char *add[] = { text };
        size_t addlen[] = { text ? strlen(text) : 0 };
        const char *rev[] = { c->id };
        if (c->o && !text)
            abort();
        if (failstatic_journal_append(dir, c->version, add, addlen, c->o ? 1 : 0, rev, c->o ? 0 : 1,
                                      NULL, err, sizeof(err)) < 0)
            abort();
        free(text);
    }
    struct failstatic_journal k;
    memset(&k, 0, sizeof(k));
    uint64_t v = 0;
    if (failstatic_journal_load(dir, 0, &v, &k, NULL, err, sizeof(err)) < 0 || k.n != j.n ||
        k.torn || v != last)
        abort();
    for (size_t i = 0; i < j.n; i++)
        if (!same(&j.v[i], &k.v[i]))
            abort();
    failstatic_journal_free(&j);
    failstatic_journal_free(&k);
    unlink(path);
    return 0;
}
