/* fuzz_http.c - libFuzzer target for http_req_parse() and http_is_h2_preface() (proxy/dissect/http.c).
 *
 * Besides crashes, checks the contract: spans lie inside the input, head_len and err_off stay
 * within it, shorter prefixes of an accepted head are NEED_MORE, and pipelined requests are
 * parsed at head_len + content_length like a keep-alive server would, and http_req_not_mine()
 * answers as the whole parse does. */
#include <stdlib.h>

#include "proxy/dissect/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(struct span s, const uint8_t *data, size_t size)
{
    if (s.len != 0 && (s.p < data || s.p + s.len > data + size))
        abort();
}

/* Walks data as a chunked body: every step either stops or moves forward by a bounded skip,
 * and a step that needs more never accepts a shorter input. */
static void walk_chunked(const uint8_t *data, size_t size)
{
    enum http_chunk_state st = HTTP_CHUNK_SIZE;
    size_t at = 0;
    for (int n = 0; n < 64 && st != HTTP_CHUNK_DONE && at < size; n++) {
        uint64_t skip = 0;
        size_t err = 0;
        enum http_chunk_state before = st;
        enum dstatus ds = http_chunk_step(data + at, size - at, &st, &skip, &err);
        if (ds == DS_MALFORMED && err >= size - at)
            abort();
        if (ds != DS_OK)
            return;
        if (skip == 0 || (before != HTTP_CHUNK_SIZE && skip > size - at))
            abort(); /* only a chunk's data may lie past the buffered bytes */
        if (skip > size - at)
            return;
        at += (size_t)skip;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)http_is_h2_preface(data, size);
    walk_chunked(data, size);
    struct span hosts[2];
    size_t nh = http_scan_hosts(data, size, hosts, 2);
    if (nh > 2)
        abort();
    for (size_t i = 0; i < nh; i++) {
        if (hosts[i].len == 0)
            abort();
        check_span(hosts[i], data, size);
    }
    /* the stream scan: names are spans of the input, used never past it, and a scan that
     * uses nothing of a non-full buffer found nothing */
    for (int full = 0; full < 2; full++) {
        struct span sn[4];
        size_t used = 0;
        size_t ns = http_scan_stream(data, size, full != 0, sn, 4, &used);
        if (ns > 4 || used > size || (used == 0 && ns != 0))
            abort();
        for (size_t i = 0; i < ns; i++) {
            if (sn[i].len == 0 || sn[i].p + sn[i].len > data + used)
                abort();
            check_span(sn[i], data, size);
        }
    }
    size_t off = 0;
    for (int n = 0; n < 8 && off < size; n++) {
        const uint8_t *p = data + off;
        size_t len = size - off;
        struct http_req r;
        size_t err = 0;
        enum dstatus st = http_req_parse(p, len, &r, &err);
        if (st == DS_MALFORMED && err >= len)
            abort();
        if (http_req_not_mine(p, len) != (st == DS_NOT_MINE))
            abort(); /* the protocol guess reads the request line alone, and agrees */
        struct http_req e;
        size_t eerr = 0;
        enum dstatus est = http_req_parse_early(p, len, &e, &eerr);
        if (est == DS_MALFORMED && eerr >= len)
            abort();
        /* early agrees with whole, except on a head not complete or cut: there it may be
         * partial, or MALFORMED by a line up to its last Host line, where whole waits */
        bool waits = st == DS_NEED_MORE || st == DS_LIMIT;
        if (est == DS_OK && e.partial) {
            if (!waits || e.head_len != 0)
                abort();
            check_span(e.host, p, len);
            check_span(e.target, p, len);
        } else if (est == DS_MALFORMED && waits) {
            /* fine */
        } else if (est != st || (st == DS_OK && e.head_len != r.head_len)) {
            abort();
        }
        if (st != DS_OK)
            return 0;
        if (r.head_len == 0 || r.head_len > len || r.head_len > HTTP_HEAD_MAX)
            abort();
        check_span(r.method, p, len);
        check_span(r.target, p, len);
        check_span(r.version, p, len);
        check_span(r.host, p, len);
        check_span(r.host2, p, len);
        check_span(r.abs_authority, p, len);
        check_span(r.abs_path, p, len);
        struct http_req q;
        if (http_req_parse(p, r.head_len - 1, &q, &err) != DS_NEED_MORE)
            abort();
        if (r.chunked || !r.has_content_length)
            r.content_length = r.chunked ? len : 0;
        if (r.content_length > len - r.head_len)
            return 0;
        off += r.head_len + (size_t)r.content_length;
    }
    return 0;
}
