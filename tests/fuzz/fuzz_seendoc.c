/* fuzz_seendoc.c - libFuzzer target: the "fbseen" documents (names seen in traffic to IP
 * fallback addresses, rules/report/seendoc.h), which the report reads from the store.
 *
 * An input is merged as a document (twice: merging a document with itself must not change the
 * estimates), written back, and the written form must merge again to the same addresses,
 * registers and examples. The input is also read as a sketch's text form (hll_decode). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/report/seendoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t reg[HLL_REGS];
    memset(reg, 0, sizeof(reg));
    if (hll_decode((const char *)data, size, reg) == 0)
        (void)hll_estimate(reg);

    struct seendoc_addr *v = NULL, *w = NULL;
    size_t n = 0, m = 0;
    if (seendoc_merge((const char *)data, size, &v, &n) != 0) {
        free(v);
        return 0;
    }
    uint64_t *est = calloc(n ? n : 1, sizeof(*est));
    if (!est)
        abort();
    for (size_t i = 0; i < n; i++)
        est[i] = hll_estimate(v[i].reg);
    if (seendoc_merge((const char *)data, size, &v, &n) != 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if (hll_estimate(v[i].reg) != est[i])
            abort(); /* the register-wise maximum is idempotent */
    free(est);

    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    if (!f)
        abort();
    seendoc_write(f, "fuzz", 1, v, n);
    fclose(f);
    if (seendoc_merge(doc, len, &w, &m) != 0)
        abort(); /* what was written reads back */
    size_t keep = n < SEENDOC_ADDRESSES ? n : SEENDOC_ADDRESSES;
    if (m > keep)
        abort();
    for (size_t i = 0; i < m; i++) {
        const struct seendoc_addr *a = seendoc_find(v, n, w[i].address);
        if (!a || memcmp(a->reg, w[i].reg, HLL_REGS) != 0 || a->nex < w[i].nex)
            abort();
    }
    free(doc);
    free(v);
    free(w);
    return 0;
}
