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
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "rules/orders/order.h"

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

/* ---- JSON orders ---- */

static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* RFC 3339 date-time: 2026-11-20T10:00:00[.frac](Z|+05:00). */
static bool rfc3339(const char *s)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, se;
    size_t n = strlen(s);
    if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    int oh, om;
    return (*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) && p[3] == ':' &&
           digits(p + 4, 2, &om) && oh <= 23 && om <= 59;
}

/* Checks an order's fields; on failure writes the reason into why. */
static bool order_valid(json_t *o, char *why, size_t wl)
{
    static const char *const strs[] = { "id", "issuer", "legal_basis" };
    static const char *const times[] = { "issued", "received" };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        json_t *v = json_object_get(o, strs[i]);
        if (!v) {
            snprintf(why, wl, "missing field '%s'", strs[i]);
            return false;
        }
        if (!json_is_string(v) || json_string_length(v) == 0) {
            snprintf(why, wl, "field '%s' must be a non-empty string", strs[i]);
            return false;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(times); i++) {
        json_t *v = json_object_get(o, times[i]);
        if (!v) {
            snprintf(why, wl, "missing field '%s'", times[i]);
            return false;
        }
        if (!json_is_string(v) || !rfc3339(json_string_value(v))) {
            char *t = json_dumps(v, JSON_ENCODE_ANY);
            snprintf(why, wl, "field '%s' is not an RFC 3339 time: %.80s", times[i], t ? t : "?");
            free(t);
            return false;
        }
    }
    json_t *c = json_object_get(o, "category");
    if (c && !json_is_string(c)) {
        snprintf(why, wl, "field 'category' must be a string");
        return false;
    }
    json_t *r = json_object_get(o, "resources");
    if (!r) {
        snprintf(why, wl, "missing field 'resources'");
        return false;
    }
    if (!json_is_array(r)) {
        snprintf(why, wl, "field 'resources' must be an array");
        return false;
    }
    return true;
}

static int load_order(struct ruleset_builder *b, const char *name, size_t idx, json_t *o,
                      FILE *errs, struct loader_stats *st)
{
    char why[ERR_MAX], err[ERR_MAX], label[160];
    if (!json_is_object(o)) {
        st->errors++;
        if (errs)
            fprintf(errs, "rules: %s: order %zu: not an object\n", name, idx);
        return 0;
    }
    json_t *id = json_object_get(o, "id");
    if (json_is_string(id))
        snprintf(label, sizeof(label), "order %zu ('%.100s')", idx, json_string_value(id));
    else
        snprintf(label, sizeof(label), "order %zu", idx);
    if (!order_valid(o, why, sizeof(why))) {
        st->errors++;
        if (errs)
            fprintf(errs, "rules: %s: %s: %s\n", name, label, why);
        return 0;
    }
    st->orders++;
    const char *ocat = json_string_value(json_object_get(o, "category"));
    json_t *res = json_object_get(o, "resources");
    size_t j;
    json_t *r;
    json_array_foreach(res, j, r)
    {
        st->lines++;
        struct rule_attrs a = { json_string_value(id), ocat, NULL };
        json_t *val = r;
        if (json_is_object(r)) {
            val = json_object_get(r, "value");
            json_t *c = json_object_get(r, "category");
            if (c && !json_is_string(c)) {
                st->errors++;
                if (errs)
                    fprintf(errs,
                            "rules: %s: %s: resource %zu: field 'category' must be a string\n",
                            name, label, j + 1);
                continue;
            }
            if (c)
                a.category = json_string_value(c);
        }
        if (!json_is_string(val)) {
            st->errors++;
            if (errs)
                fprintf(errs,
                        "rules: %s: %s: resource %zu: expected a string or {\"value\": string}\n",
                        name, label, j + 1);
            continue;
        }
        size_t before = total(b);
        int rc = ruleset_builder_add(b, json_string_value(val), json_string_length(val), &a, err,
                                     sizeof(err));
        if (rc == -ENOMEM)
            return rc;
        if (rc) {
            st->errors++;
            if (errs)
                fprintf(errs, "rules: %s: %s: resource %zu: %s\n", name, label, j + 1, err);
            continue;
        }
        st->added += total(b) - before;
    }
    return 0;
}

/* jansson's lexer ignores a failed growth of its token buffer (lex_save() drops the byte), so a
 * parse under memory pressure can return a string with a byte missing: "casino.kz" compiled as
 * "casno.kz". Every jansson allocation goes through the allocation functions of
 * rules/orders/order.h (one set for the whole process), which note a failure; a parse that saw
 * one is an -ENOMEM, whatever jansson returned. */
static int load_json(struct ruleset_builder *b, const char *name, const char *buf, size_t len,
                     FILE *errs, struct loader_stats *st)
{
    json_error_t je;
    order_json_oom_reset();
    json_t *root = json_loadb(buf, len, 0, &je);
    if (order_json_oom()) {
        json_decref(root);
        if (errs)
            fprintf(errs, "rules: %s: out of memory while parsing JSON\n", name);
        return -ENOMEM;
    }
    if (!root) {
        if (errs)
            fprintf(errs, "rules: %s:%d:%d: invalid JSON: %s\n", name, je.line, je.column, je.text);
        return -EINVAL;
    }
    json_t *orders = root;
    if (json_is_object(root) && json_object_get(root, "orders"))
        orders = json_object_get(root, "orders");
    int rc = 0;
    if (json_is_array(orders)) {
        size_t i;
        json_t *o;
        json_array_foreach(orders, i, o)
        {
            if ((rc = load_order(b, name, i + 1, o, errs, st)))
                break;
        }
    } else if (json_is_object(orders)) {
        rc = load_order(b, name, 1, orders, errs, st);
    } else {
        if (errs)
            fprintf(
                errs,
                "rules: %s: expected an order object, an array of orders or {\"orders\": [...]}\n",
                name);
        rc = -EINVAL;
    }
    json_decref(root);
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
