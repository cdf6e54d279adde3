/* fuzz_admin_query.c - libFuzzer target: what the admin API parses from a request
 * (proxy/daemon/adminhttp.c, query.c) over arbitrary bytes: the query string (api_query_param)
 * and the body of POST /api/v1/query (query_lines).
 *
 * The input (in an exact-size heap block, so an over-read is caught) is used twice:
 *   - as a query string, NUL-terminated: the value of "q", "n" and "" are looked up into a small
 *     buffer; a found value fits its buffer, holds no NUL and is never longer than the input;
 *   - as a POST body: every answer is exactly one line; the answer function sees spans inside
 *     the body without control bytes, and answered lines are never more than the body's lines. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/adminhttp.h"
#include "proxy/daemon/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct span {
    const char *buf;
    size_t len, seen;
};

static void answer(void *ctx, const char *q, size_t len, FILE *out)
{
    struct span *s = ctx;
    if (q < s->buf || q + len > s->buf + s->len || len == 0)
        abort();
    for (size_t k = 0; k < len; k++)
        if ((unsigned char)q[k] < 0x20 || q[k] == 0x7f)
            abort();
    s->seen++;
    fputs("{\"query\":1}\n", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    static const char *const keys[] = { "q", "n", "" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char v[32];
        int n = api_query_param(s, keys[i], v, sizeof(v));
        if (n >= 0 && ((size_t)n >= sizeof(v) || strlen(v) != (size_t)n || (size_t)n > size))
            abort();
        if (n < 0 && n != -ENOENT && n != -EINVAL)
            abort();
    }
    free(s);
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    if (!m)
        abort();
    struct span sp = { body, size, 0 };
    size_t answered = query_lines(body, size, answer, &sp, m);
    fclose(m);
    size_t lines = 0, nl = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    for (size_t i = 0; i < olen; i++)
        nl += out[i] == '\n';
    if (answered > lines + 1 || nl != answered || sp.seen > answered)
        abort();
    free(out);
    free(body);
    return 0;
}
