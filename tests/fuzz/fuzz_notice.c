/* fuzz_notice.c - libFuzzer target for the notice page builders and the request-target reader
 * (proxy/enforce/notice.c).
 *
 * Input: blocked URL, order id, contact text and notice URL separated by NUL bytes (missing
 * parts are NULL). Every built response must frame correctly (head lines printable ASCII ending
 * in CRLF, Content-Length equal to the body) and its body must be valid UTF-8 with no raw '<'
 * coming from the inputs; violations abort. The whole input is also read as a request-target
 * (from the fuzzer's own exactly-sized buffer, so an over-read is caught by ASan): the values
 * stay within their buffers and the page rendered from them is valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/enforce/notice.h"

static char out[NOTICE_RESPONSE_MAX];

static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (k == 0 || i + k > n)
            return 0;
        uint32_t cp = k == 1 ? c : (uint32_t)(c & (0x7f >> k));
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k;
    }
    return 1;
}

static void check(const char *r, size_t n)
{
    if (n == 0)
        return;
    const char *end = memmem(r, n, "\r\n\r\n", 4);
    if (!end)
        abort();
    size_t hl = (size_t)(end - r) + 4;
    for (size_t i = 0; i < hl; i++) {
        uint8_t c = (uint8_t)r[i];
        if (c == '\r' ? r[i + 1] != '\n' : c == '\n' ? r[i - 1] != '\r' : (c < 0x20 || c > 0x7e))
            abort();
    }
    const char *cl = memmem(r, hl, "\r\nContent-Length: ", 18);
    if (!cl || strtoul(cl + 18, NULL, 10) != n - hl)
        abort();
    if (!utf8_ok((const uint8_t *)r + hl, n - hl))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[8192];
    if (size >= sizeof(in))
        return 0;
    struct notice_request q;
    notice_parse_target((const char *)data, size, &q);
    if (q.url_len > sizeof(q.url) || q.order_len > sizeof(q.order) || (q.order_len && !q.has_order))
        abort();
    struct notice_config qcfg = { .show_order = true };
    size_t pl = notice_render_page(out, sizeof(out), &qcfg, q.url, q.url_len, q.order, q.order_len);
    if (pl == 0 || !utf8_ok((const uint8_t *)out, pl))
        abort();
    memcpy(in, data, size);
    in[size] = 0;
    const char *part[4] = { NULL, NULL, NULL, NULL };
    size_t off = 0;
    for (int i = 0; i < 4 && off <= size; i++) {
        part[i] = in + off;
        off += strlen(in + off) + 1;
    }
    struct notice_config cfg = { .show_order = true, .contact = part[2], .url = part[3] };
    size_t n = notice_build_451(out, sizeof(out), &cfg, part[0], part[1]);
    if (n == 0)
        abort(); /* NOTICE_RESPONSE_MAX always fits */
    check(out, n);
    n = notice_build_redirect(out, sizeof(out), part[3] ? part[3] : "http://n.example/", part[0],
                              part[1]);
    check(out, n);
    /* a short buffer gives all or nothing */
    size_t cap = size % 4096;
    size_t m = notice_build_451(out, cap, &cfg, part[0], part[1]);
    if (m != 0)
        check(out, m);
    return 0;
}
