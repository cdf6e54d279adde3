/* fuzz_ctnl.c - libFuzzer target: the reader of conntrack's netlink answers
 * (proxy/enforce/ctnl.c: ctnl_next()) over arbitrary datagrams.
 *
 * The input is copied to a buffer of exactly its size and read message by message to the end:
 * every call must move forward (or stop), a connection read must carry a TCP or UDP tuple of
 * IPv4 or IPv6 when it says it has one, and nothing may over-read. A request built from the
 * tuple read must be read back to the same tuple and mark. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/enforce/ctnl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    size_t off = 0;
    struct ctnl_msg m;
    int rc;
    while ((rc = ctnl_next(copy, size, &off, &m)) == 1) {
        if (off > size)
            abort();
        if (m.kind == CTNL_CONN && m.has_tuple) {
            if ((m.t.ipver != 4 && m.t.ipver != 6) || (m.t.proto != 6 && m.t.proto != 17))
                abort();
            uint8_t req[256];
            size_t n = ctnl_mark_request(req, sizeof(req), &m.t, m.mark, 0xffffffffu, 1);
            size_t o2 = 0;
            struct ctnl_msg back;
            if (!n || ctnl_next(req, n, &o2, &back) != 1 || back.kind != CTNL_CONN ||
                !back.has_tuple || memcmp(&back.t, &m.t, sizeof(m.t)) != 0 || back.mark != m.mark)
                abort();
        }
    }
    free(copy);
    return 0;
}
