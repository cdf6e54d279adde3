/* fuzz_capture_queue.c - libFuzzer target for capture_queue_parse() and capture_queue_parse_error()
 * (proxy/capture/capture_queue.c), the readers of the netlink messages an NFQUEUE socket delivers.
 *
 * Input: a buffer of messages as one recv() returns them. The target walks it the way the
 * capture back end does (one message, then the next at its aligned length) and checks the
 * contract on each: the result is 1, 0 or -EBADMSG; a packet's payload lies inside the message,
 * its wire length is at least its copied length; an error answer is never a packet and its
 * errno is a negative one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/capture/capture_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        struct capture_queue_msg m;
        const uint8_t *p = data + pos;
        size_t left = size - pos;
        int rc = capture_queue_parse(p, left, &m);
        if (rc != 1 && rc != 0 && rc != -EBADMSG)
            abort();
        int e = capture_queue_parse_error(p, left);
        if (e > 0 || e < -4095 || (e < 0 && rc != 0))
            abort();
        if (rc < 0)
            break;
        uint32_t mlen;
        memcpy(&mlen, p, 4);
        if (mlen < 16 || mlen > left)
            abort(); /* accepted a message whose length does not fit */
        if (rc == 1) {
            if (m.len && (m.payload < p || m.payload + m.len > p + mlen))
                abort();
            if (m.wirelen < m.len)
                abort();
        }
        size_t step = ((size_t)mlen + 3) & ~(size_t)3;
        pos += step < left ? step : left;
    }
    return 0;
}
