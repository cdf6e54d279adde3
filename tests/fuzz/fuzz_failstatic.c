/* fuzz_failstatic.c - libFuzzer target: failstatic_parse() over arbitrary fail-static files.
 *
 * Properties checked: no crash, leak or over-read (the input is copied to an exact-size heap
 * block); a refused file leaves the list empty and says "failstatic: fuzz..."; an accepted one
 * saved again and read back gives the same version and the same records. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/daemon/failstatic.h"
#include "tests/fuzz/fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    uint8_t *buf = fuzz_copy(data, size);
    if (!buf)
        return 0;
    struct order_list l = { 0 };
    uint64_t v = 0;
    int rc = failstatic_parse("fuzz", buf, size, &v, &l, err, sizeof(err));
    free(buf);
    if (rc) {
        if (l.n != 0 || (rc != -12 && strncmp(err, "failstatic: fuzz", 16) != 0))
            abort();
        order_list_free(&l);
        return 0;
    }
    const char *dir = fuzz_tmpdir("fuzz_failstatic");
    if (failstatic_save(dir, v, (const struct order *const *)l.v, l.n, err, sizeof(err)) < 0)
        abort();
    struct order_list l2 = { 0 };
    uint64_t v2 = 0;
    if (failstatic_load(dir, &v2, &l2, err, sizeof(err)) < 0 || v2 != v || l2.n != l.n)
        abort();
    for (size_t i = 0; i < l.n; i++) {
        char *a = order_to_json(l.v[i]), *b = order_to_json(l2.v[i]);
        if (!a || !b || strcmp(a, b) != 0)
            abort();
        free(a);
        free(b);
    }
    order_list_free(&l);
    order_list_free(&l2);
    return 0;
}
