/* fuzz_h2c.c - libFuzzer target for the h2c dissectors: the first-request parser and the
 * per-connection walker h2c_conn_step() (every stream, HPACK state in a pooled arena). The walker
 * must always move forward by what it says, never past a HEADERS / CONTINUATION payload it
 * did not have, and leave its spans inside its own state. */
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/dissect/h2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(struct span s)
{
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < s.len; i++)
        sink ^= s.p[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t scratch[16384];
    static struct h2c_pool *pool;
    struct h2c_request r;
    size_t off;
    if (h2c_request_parse(data, size, scratch, sizeof(scratch), &r, &off) == DS_OK) {
        touch(r.authority);
        touch(r.path);
    }
    if (!pool && !(pool = h2c_pool_new(1)))
        abort();
    struct h2c_conn *c = h2c_conn_take(pool, data, 1, NULL, NULL);
    if (!c)
        abort();
    size_t at = 0;
    for (int n = 0; n < 256 && at < size; n++) {
        uint64_t skip = 0;
        enum dstatus st = h2c_conn_step(c, data + at, size - at, &r, &skip, &off);
        if (st != DS_OK)
            break;
        if (skip == 0)
            abort();
        if (r.stream_id) {
            if (r.authority.len > H2C_AUTHORITY_MAX || r.path.len > H2C_PATH_MAX)
                abort();
            touch(r.authority);
            touch(r.path);
        }
        if (skip > size - at)
            break; /* a DATA payload not here */
        at += (size_t)skip;
    }
    h2c_conn_release(pool, data, 1);
    return 0;
}
