/* fuzz_store_url.c - libFuzzer target: the store URL parser (rules/store/store.c).
 *
 * Every input either parses (then the fields are NUL-terminated within their arrays, the kind
 * is one of the three, a network URL has 1..STORE_SENTINELS_MAX hosts with a port) or fails
 * with one "store: URL at offset N: " message whose offset lies within the input; a password
 * from the input never appears in a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy to an exact-size heap block so ASan catches a read past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct store_url u;
    char err[256];
    int rc = store_url_parse(buf, size, &u, err, sizeof(err));
    if (rc == 0) {
        if (u.kind != STORE_URL_DIR && u.kind != STORE_URL_REDIS && u.kind != STORE_URL_SENTINEL)
            abort();
        if (memchr(u.path, 0, sizeof(u.path)) == NULL ||
            memchr(u.user, 0, sizeof(u.user)) == NULL ||
            memchr(u.password, 0, sizeof(u.password)) == NULL ||
            memchr(u.prefix, 0, sizeof(u.prefix)) == NULL || !u.prefix[0])
            abort();
        if (u.kind != STORE_URL_DIR) {
            if (u.n_hosts < 1 || u.n_hosts > STORE_SENTINELS_MAX)
                abort();
            for (size_t i = 0; i < u.n_hosts; i++)
                if (u.hosts[i].port == 0 || !u.hosts[i].host[0])
                    abort();
            if (u.kind == STORE_URL_SENTINEL && !u.master[0])
                abort();
            if (u.password[0] && memchr(buf, '@', size) == NULL)
                abort();
        }
    } else {
        if (rc != -22 /* EINVAL */ || strncmp(err, "store: URL at offset ", 21) != 0)
            abort();
        unsigned long off = strtoul(err + 21, NULL, 10);
        if (off > size)
            abort();
    }
    free(buf);
    return 0;
}
