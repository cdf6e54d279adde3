/* fuzz_h2c.c - libFuzzer target for the h2c first-request dissector. */
#include <stddef.h>
#include <stdint.h>

#include "h2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t scratch[16384];
    struct h2c_request r;
    size_t off;
    if (h2c_request_parse(data, size, scratch, sizeof(scratch), &r, &off) == DS_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < r.authority.len; i++)
            sink ^= r.authority.p[i];
        for (size_t i = 0; i < r.path.len; i++)
            sink ^= r.path.p[i];
        (void)sink;
    }
    return 0;
}
