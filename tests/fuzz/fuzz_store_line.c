/* fuzz_store_line.c - libFuzzer target: the directory store's change-log line parser and its
 * subscriber log's (subs.log) line parser (rules/store/store_dir.c).
 *
 * Inputs are tried twice: as they are (almost always a checksum mismatch) and sealed with a
 * valid checksum so the fields behind it are reached. A line that parses must format back to
 * the same bytes (one spelling per change); a refusal carries a "store: changes.log: " message.
 * The bytes up to a NUL are also a subs.log line, which must format back likewise. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/store/store_dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *line, size_t len)
{
    struct store_dir_line l;
    char err[160];
    int rc = store_dir_line_parse(line, len, &l, err, sizeof(err));
    if (rc != 0) {
        if (strncmp(err, "store: changes.log: ", 20) != 0)
            abort();
        return;
    }
    if (l.version == 0 || l.n_ids == 0 || l.ids < line || l.ids + l.ids_len > line + len)
        abort();
    char *back = malloc(len + 2);
    if (!back)
        return;
    size_t n = store_dir_line_format(back, len + 2, l.version, l.kind, l.urgent, l.time_ms, l.ids,
                                     l.ids_len);
    if (n != len + 1 || memcmp(back, line, len) != 0 || back[len] != '\n')
        abort();
    free(back);
}

/* The same bytes as a subs.log line (up to a NUL): a parsed one formats back to itself. */
static void sub_line(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line)
        return;
    memcpy(line, data, size);
    line[size] = '\0';
    size_t len = strlen(line);
    char *copy = strdup(line);
    struct store_sub o;
    if (copy && store_dir_sub_parse(line, &o) == 0) {
        char back[4200];
        int n =
            o.op == STORE_SUB_SET
                ? snprintf(back, sizeof(back), "set %s %s %s %llu", o.addr, o.subscriber,
                           o.session[0] ? o.session : "-", (unsigned long long)o.expires_ms)
                : snprintf(back, sizeof(back), "del %s %s", o.addr, o.session[0] ? o.session : "-");
        if (o.op != STORE_SUB_SET && o.op != STORE_SUB_DEL)
            abort();
        if (n < 0 || (size_t)n != len || memcmp(back, copy, len) != 0)
            abort();
    }
    free(copy);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    sub_line(data, size);
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    one(buf, size);
    free(buf);
    /* sealed: " %08x" of the CRC-32 appended */
    char *sealed = malloc(size + 10); /* " %08x" and snprintf's NUL */
    if (!sealed)
        return 0;
    memcpy(sealed, data, size);
    snprintf(sealed + size, 10, " %08x", store_dir_crc32(0, data, size));
    char *exact = malloc(size + 9);
    if (exact) {
        memcpy(exact, sealed, size + 9);
        one(exact, size + 9);
        free(exact);
    }
    free(sealed);
    return 0;
}
