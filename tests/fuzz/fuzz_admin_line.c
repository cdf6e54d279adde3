/* fuzz_admin_line.c - libFuzzer target: the admin socket's line protocol and the query judge
 * (proxy/daemon/query.c) over arbitrary bytes.
 *
 * The input is split at '\n' like a connection's stream; each line goes through
 * query_line_parse() and, when it is a query, query_judge() against a small rule set. Properties
 * checked: no crash or over-read (each line is copied to an exact-size heap block); an OK span
 * lies inside the line and holds no control byte; every answer is exactly one line starting
 * with {"query": and ending with "}\n". */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ruleset *set(void)
{
    static struct ruleset *rs;
    if (rs)
        return rs;
    struct ruleset_builder *b = ruleset_builder_new();
    char err[256];
    struct rule_attrs a = { "o-1", "court", NULL };
    static const char *const e[] = { "ex.com", "http://h.example/p/*", "https://t.example/x",
                                     "192.0.2.0/24", "2001:db8::/32" };
    for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
        if (ruleset_builder_add(b, e[i], strlen(e[i]), &a, err, sizeof(err)) < 0)
            abort();
    rs = ruleset_build(b);
    if (!rs)
        abort();
    return rs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ruleset *rs = set();
    struct verdict_policy pol = { .https_url = VERDICT_HTTPS_URL_BLOCK_NAME, .notice_url = NULL };
    size_t i = 0;
    while (i <= size) {
        const uint8_t *nl = i < size ? memchr(data + i, '\n', size - i) : NULL;
        size_t len = nl ? (size_t)(nl - (data + i)) : size - i;
        char *line = malloc(len ? len : 1);
        if (!line)
            return 0;
        memcpy(line, data + i, len);
        const char *q = NULL, *why = NULL;
        size_t ql = 0;
        enum query_line r = query_line_parse(line, len, &q, &ql, &why);
        if (r == QUERY_LINE_OK) {
            if (q < line || q + ql > line + len || ql == 0)
                abort();
            for (size_t k = 0; k < ql; k++)
                if ((unsigned char)q[k] < 0x20 || q[k] == 0x7f)
                    abort();
            char *out = NULL;
            size_t olen = 0;
            FILE *m = open_memstream(&out, &olen);
            if (!m)
                abort();
            query_judge(rs, &pol, 1, q, ql, m);
            fclose(m);
            if (olen < 12 || strncmp(out, "{\"query\":", 9) != 0 ||
                strcmp(out + olen - 2, "}\n") != 0 || memchr(out, '\n', olen) != out + olen - 1)
                abort();
            free(out);
        } else if (r == QUERY_LINE_BAD && !why) {
            abort();
        }
        free(line);
        if (!nl)
            break;
        i += len + 1;
    }
    return 0;
}
