/* fuzz_normalize.c - norm_host and norm_path on arbitrary bytes.
 *
 * Properties checked: no crash or over-read; a host that normalizes once normalizes again to
 * itself (idempotence: the list compiler and the packet path agree whichever sees a name
 * first); output lengths match the NUL; paths stay within their capacity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[NORM_HOST_MAX], again[NORM_HOST_MAX];
    size_t len, l2;
    enum norm_host_kind k, k2;
    if (norm_host(data, size, out, &len, &k) == NORM_OK) {
        if (strlen(out) != len || len >= NORM_HOST_MAX)
            abort();
        if (norm_host((const uint8_t *)out, len, again, &l2, &k2) != NORM_OK || l2 != len ||
            memcmp(out, again, len) != 0 || k != k2)
            abort();
    }
    char path[256];
    size_t pl;
    if (norm_path(data, size, path, sizeof(path), &pl) == NORM_OK) {
        if (pl >= sizeof(path) || strlen(path) != pl || path[0] != '/')
            abort();
        /* the path part (before any query) is a fixed point */
        const char *q = memchr(path, '?', pl);
        size_t pp = q ? (size_t)(q - path) : pl;
        char p2[256];
        size_t pl2;
        if (norm_path((const uint8_t *)path, pp, p2, sizeof(p2), &pl2) != NORM_OK || pl2 != pp ||
            memcmp(p2, path, pp) != 0)
            abort();
    }
    return 0;
}
