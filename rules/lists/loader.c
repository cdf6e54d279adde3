/* loader.c - list files into a ruleset builder (see loader.h, docs/formats.md).
 *
 * Plain list, one entry a line:
 *
 *   # comment                      '#' at the start of a line or after a blank
 *   example.com                    domain (and everything under it)
 *   https://example.org/page       URL, exact;  https://example.org/dir/ + '*' is a prefix
 *   203.0.113.7   2001:db8::/32    IP or CIDR
 *
 * JSON orders: one order object, an array of them, or {"orders": [...]}; an order is
 *
 *   { "id": "2026-41-0017", "issuer": "...", "legal_basis": "...",
 *     "issued": RFC 3339, "received": RFC 3339, "category": "..." (optional),
 *     "resources": [ "example.com" | { "value": "...", "category": "..." }, ... ] } */
#include "rules/lists/loader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/compiler.h"
#include "rules/orders/order.h"
#include "rules/orders/orderset.h"
#include "rules/orders/ordjson.h"

#define LOADER_FILE_MAX ((size_t)1 << 30)
#define ERR_MAX         512

static size_t total(const struct ruleset_builder *b)
{
    return ruleset_builder_count(b, RULE_DOMAIN) + ruleset_builder_count(b, RULE_URL) +
           ruleset_builder_count(b, RULE_IP);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int load_plain(struct ruleset_builder *b, const char *name, const char *buf, size_t len,
                      FILE *errs, struct loader_stats *st)
{
    size_t lineno = 0, pos = 0;
    char err[ERR_MAX];
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        /* comment: '#' first on the line or after a blank (a URL may hold a '#' fragment) */
        for (size_t i = 0; i < ll; i++) {
            if (line[i] == '#' && (i == 0 || blank(line[i - 1]))) {
                ll = i;
                break;
            }
        }
        size_t s = 0;
        while (s < ll && blank(line[s]))
            s++;
        while (ll > s && blank(line[ll - 1]))
            ll--;
        if (ll == s)
            continue;
        st->lines++;
        size_t before = total(b);
        int rc = ruleset_builder_add(b, line + s, ll - s, NULL, err, sizeof(err));
        if (rc == -ENOMEM)
            return rc;
        if (rc) {
            st->errors++;
            if (errs)
                fprintf(errs, "rules: %s:%zu: %s\n", name, lineno, err);
            continue;
        }
        st->added += total(b) - before;
    }
    return 0;
}

/* ---- JSON orders ----
 * One parser for the project's order format: rules/orders/ordjson.c (the same as `qorgau order
 * import`), one compilation: orderset_fill(). A malformed file (not JSON, an order with a
 * missing or bad field, a duplicate id) is refused as a whole; a resource that is not a valid
 * entry is reported with its LINE:COL and skipped, the others are enforced. */
static int load_json(struct ruleset_builder *b, const char *name, const char *buf, size_t len,
                     FILE *errs, struct loader_stats *st)
{
    struct order_list ol = { 0 };
    char err[ORDER_ERR_MAX];
    int rc =
        ordjson_parse(name, (const uint8_t *)buf, len, (int64_t)time(NULL), &ol, err, sizeof(err));
    if (rc < 0) {
        if (errs) {
            /* "orders: FILE:LINE:COL: reason" -> "rules: FILE:LINE:COL: reason" */
            const char *m = strncmp(err, "orders: ", 8) == 0 ? err + 8 : err;
            if (rc == -ENOMEM && !err[0])
                fprintf(errs, "rules: %s: out of memory while parsing JSON\n", name);
            else
                fprintf(errs, "rules: %s\n", m);
        }
        order_list_free(&ol); /* the records are gone; the array may remain */
        return rc;
    }
    for (size_t i = 0; i < ol.n; i++) {
        const struct order *o = ol.v[i];
        st->orders++;
        st->lines += o->nres + o->nrej;
        st->errors += o->nrej;
        for (size_t j = 0; errs && j < o->nrej; j++) {
            const struct order_reject *r = &o->rej[j];
            /* the matcher's reasons quote the entry already; the format's do not */
            if (strstr(r->reason, r->text))
                fprintf(errs, "rules: %s:%s: order '%s': %s\n", name, r->pos, o->id, r->reason);
            else
                fprintf(errs, "rules: %s:%s: order '%s': %s: %s\n", name, r->pos, o->id, r->reason,
                        r->text);
        }
    }
    size_t before = total(b);
    struct orderset_stats ost;
    rc = orderset_fill(b, (const struct order *const *)ol.v, ol.n, &ost, err, sizeof(err));
    if (rc < 0 && errs)
        fprintf(errs, "rules: %s: %s\n", name, rc == -ENOMEM ? "out of memory" : err);
    else
        st->added = total(b) - before;
    order_list_free(&ol);
    return rc;
}

int loader_load_buffer(struct ruleset_builder *b, const char *name, const char *buf, size_t len,
                       FILE *errs, struct loader_stats *st)
{
    struct loader_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
        buf += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && (blank(buf[i]) || buf[i] == '\n'))
        i++;
    if (i < len && (buf[i] == '{' || buf[i] == '['))
        return load_json(b, name, buf, len, errs, st);
    return load_plain(b, name, buf, len, errs, st);
}

int loader_load_file(struct ruleset_builder *b, const char *path, FILE *errs,
                     struct loader_stats *st)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    if (!f) {
        rc = -errno;
        goto io_error;
    }
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > LOADER_FILE_MAX + 1) {
                rc = -EFBIG;
                goto io_error;
            }
            char *nb = realloc(buf, nc);
            if (!nb) {
                rc = -ENOMEM;
                goto io_error;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = -EIO;
                goto io_error;
            }
            break;
        }
    }
    fclose(f);
    rc = loader_load_buffer(b, path, buf ? buf : "", len, errs, st);
    free(buf);
    return rc;
io_error:
    if (errs)
        fprintf(errs, "rules: %s: cannot read: %s\n", path, strerror(-rc));
    if (f)
        fclose(f);
    free(buf);
    if (st)
        memset(st, 0, sizeof(*st));
    return rc;
}
