/* ordcsv.c - CSV orders into records (see ordcsv.h).
 *
 *   id,issuer,number,legal_basis,issued,category,action,urgent,resource,resource_category
 *   2026-41-0017,Ministry,17,Art. 41-1,2026-11-20T10:00:00+05:00,court,restrict,0,example.com,
 *   2026-41-0017,,,,,,,,"https://example.org/a,b",gambling
 *
 * A row is read into one reusable buffer (quotes undone), with each field's line and column. */
#include "rules/orders/ordcsv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/compiler.h"

#define FIELDS_MAX 32

enum col {
    C_ID = 0,
    C_ISSUER,
    C_NUMBER,
    C_BASIS,
    C_ISSUED,
    C_RECEIVED,
    C_CATEGORY,
    C_ACTION,
    C_URGENT,
    C_RESTORES,
    C_RESOURCE,
    C_RESCAT,
    C_COUNT
};

static const char *const col_names[C_COUNT] = { "id",          "issuer",   "number",
                                                "legal_basis", "issued",   "received",
                                                "category",    "action",   "urgent",
                                                "restores",    "resource", "resource_category" };

struct field {
    size_t off, len;    /* in row.buf */
    uint32_t line, col; /* where it starts */
};

struct reader {
    const char *s;
    size_t len, i;
    uint32_t line;
    size_t line_start;
    char *buf;
    size_t blen, bcap;
    struct field f[FIELDS_MAX];
    size_t nf;
    uint32_t row_line;
};

static int put(struct reader *r, char c)
{
    if (r->blen == r->bcap) {
        size_t nc = r->bcap ? r->bcap * 2 : 1024;
        char *n = realloc(r->buf, nc);
        if (!n)
            return -ENOMEM;
        r->buf = n;
        r->bcap = nc;
    }
    r->buf[r->blen++] = c;
    return 0;
}

/* Reads one row. Returns 1 (a row), 0 (end of input), -EINVAL (why set, with line/col in
 * eline, ecol) or -ENOMEM. A blank line is a row of one empty field. */
static int read_row(struct reader *r, const char **why, uint32_t *eline, uint32_t *ecol)
{
    if (r->i >= r->len)
        return 0;
    r->blen = 0;
    r->nf = 0;
    r->row_line = r->line;
    for (;;) {
        if (r->nf == FIELDS_MAX) {
            *why = "too many fields";
            *eline = r->line;
            *ecol = (uint32_t)(r->i - r->line_start + 1);
            return -EINVAL;
        }
        struct field *f = &r->f[r->nf++];
        f->off = r->blen;
        f->line = r->line;
        f->col = (uint32_t)(r->i - r->line_start + 1);
        if (r->i < r->len && r->s[r->i] == '"') {
            r->i++;
            for (;;) {
                if (r->i >= r->len) {
                    *why = "unterminated quoted field";
                    *eline = f->line;
                    *ecol = f->col;
                    return -EINVAL;
                }
                char c = r->s[r->i++];
                if (c == '"') {
                    if (r->i < r->len && r->s[r->i] == '"') {
                        r->i++;
                    } else {
                        break;
                    }
                } else if (c == '\n') {
                    r->line++;
                    r->line_start = r->i;
                }
                if (put(r, c))
                    return -ENOMEM;
            }
            if (r->i < r->len && r->s[r->i] == '\r' && r->i + 1 < r->len && r->s[r->i + 1] == '\n')
                r->i++;
            if (r->i < r->len && r->s[r->i] != ',' && r->s[r->i] != '\n') {
                *why = "text after a closing quote";
                *eline = r->line;
                *ecol = (uint32_t)(r->i - r->line_start + 1);
                return -EINVAL;
            }
        } else {
            while (r->i < r->len && r->s[r->i] != ',' && r->s[r->i] != '\n') {
                char c = r->s[r->i++];
                if (c == '"') {
                    *why = "quote inside an unquoted field";
                    *eline = r->line;
                    *ecol = (uint32_t)(r->i - r->line_start);
                    return -EINVAL;
                }
                if (put(r, c))
                    return -ENOMEM;
            }
            if (r->blen > f->off && r->buf[r->blen - 1] == '\r' &&
                (r->i >= r->len || r->s[r->i] == '\n'))
                r->blen--;
        }
        f->len = r->blen - f->off;
        if (put(r, '\0'))
            return -ENOMEM;
        if (r->i >= r->len)
            return 1;
        if (r->s[r->i] == '\n') {
            r->i++;
            r->line++;
            r->line_start = r->i;
            return 1;
        }
        r->i++; /* ',' */
    }
}

struct ctx {
    const char *name;
    char *err;
    size_t errlen;
};

static int bad(const struct ctx *c, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(const struct ctx *c, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char why[ORDER_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (col)
        snprintf(c->err, c->errlen, "orders: %s:%u:%u: %s", c->name, line, col, why);
    else
        snprintf(c->err, c->errlen, "orders: %s:%u: %s", c->name, line, why);
    return -EINVAL;
}

static bool parse_bool(const char *s, bool *v)
{
    static const char *const t[] = { "1", "true", "yes" }, *const f[] = { "", "0", "false", "no" };
    for (size_t i = 0; i < ARRAY_LEN(t); i++)
        if (strcasecmp(s, t[i]) == 0)
            return (*v = true);
    for (size_t i = 0; i < ARRAY_LEN(f); i++)
        if (strcasecmp(s, f[i]) == 0)
            return !(*v = false);
    return false;
}

/* Checks that a later row's non-empty order field agrees with the order's. */
static int agree(const struct ctx *c, const struct field *f, const char *v, const char *have,
                 const char *col, uint32_t first_line)
{
    if (v[0] == '\0' || strcmp(v, have) == 0)
        return 0;
    return bad(c, f->line, f->col,
               "column '%s' is \"%.80s\" but line %u gave \"%.80s\" for the same order", col, v,
               first_line, have);
}

static int row_order(const struct ctx *c, struct reader *r, const int *map, struct order_list *out,
                     size_t first, uint32_t **lines, size_t *lines_cap)
{
    const char *v[C_COUNT];
    const struct field *fl[C_COUNT];
    for (int k = 0; k < C_COUNT; k++) {
        fl[k] = map[k] >= 0 ? &r->f[map[k]] : NULL;
        v[k] = fl[k] ? r->buf + fl[k]->off : "";
    }
    uint32_t rl = r->row_line;
    if (v[C_ID][0] == '\0')
        return bad(c, fl[C_ID]->line, fl[C_ID]->col, "empty order id");
    struct order *o = NULL;
    for (size_t i = first; i < out->n; i++)
        if (strcmp(out->v[i]->id, v[C_ID]) == 0)
            o = out->v[i];
    int rc;
    if (o) {
        uint32_t fline = 0;
        for (size_t i = first; i < out->n; i++)
            if (out->v[i] == o)
                fline = (*lines)[i - first];
        bool u;
        if ((rc = agree(c, fl[C_ISSUER], v[C_ISSUER], o->issuer, "issuer", fline)) ||
            (fl[C_NUMBER] &&
             (rc = agree(c, fl[C_NUMBER], v[C_NUMBER], o->number, "number", fline))) ||
            (fl[C_BASIS] &&
             (rc = agree(c, fl[C_BASIS], v[C_BASIS], o->legal_basis, "legal_basis", fline))) ||
            (rc = agree(c, fl[C_ISSUED], v[C_ISSUED], o->issued, "issued", fline)) ||
            (fl[C_RECEIVED] &&
             (rc = agree(c, fl[C_RECEIVED], v[C_RECEIVED], o->received, "received", fline))) ||
            (fl[C_CATEGORY] &&
             (rc = agree(c, fl[C_CATEGORY], v[C_CATEGORY], o->category, "category", fline))) ||
            (fl[C_ACTION] && (rc = agree(c, fl[C_ACTION], v[C_ACTION], order_action_name(o->action),
                                         "action", fline))))
            return rc;
        if (fl[C_URGENT] && v[C_URGENT][0] && (!parse_bool(v[C_URGENT], &u) || u != o->urgent))
            return bad(c, fl[C_URGENT]->line, fl[C_URGENT]->col,
                       "column 'urgent' is \"%.20s\" but line %u gave %s for the same order",
                       v[C_URGENT], fline, o->urgent ? "true" : "false");
    } else {
        if (v[C_ISSUER][0] == '\0')
            return bad(c, fl[C_ISSUER]->line, fl[C_ISSUER]->col, "order '%.100s': empty issuer",
                       v[C_ID]);
        if (!(o = order_new()))
            return -ENOMEM;
        int64_t ts;
        if (!order_time_parse(v[C_ISSUED], &ts)) {
            order_free(o);
            return bad(c, fl[C_ISSUED]->line, fl[C_ISSUED]->col,
                       "order '%.100s': column 'issued' is not an RFC 3339 time: \"%.80s\"",
                       v[C_ID], v[C_ISSUED]);
        }
        o->issued_ts = ts;
        if (v[C_RECEIVED][0] && !order_time_parse(v[C_RECEIVED], &o->received_ts)) {
            order_free(o);
            return bad(c, fl[C_RECEIVED]->line, fl[C_RECEIVED]->col,
                       "order '%.100s': column 'received' is not an RFC 3339 time: \"%.80s\"",
                       v[C_ID], v[C_RECEIVED]);
        }
        if (v[C_ACTION][0] && !order_action_parse(v[C_ACTION], &o->action)) {
            order_free(o);
            return bad(c, fl[C_ACTION]->line, fl[C_ACTION]->col,
                       "order '%.100s': column 'action' must be restrict or restore, not \"%.40s\"",
                       v[C_ID], v[C_ACTION]);
        }
        if (!parse_bool(v[C_URGENT], &o->urgent)) {
            order_free(o);
            return bad(
                c, fl[C_URGENT]->line, fl[C_URGENT]->col,
                "order '%.100s': column 'urgent' must be 0/1, true/false or yes/no, not \"%.20s\"",
                v[C_ID], v[C_URGENT]);
        }
        static const enum col strs[] = { C_ID,     C_ISSUER,   C_NUMBER,  C_BASIS,
                                         C_ISSUED, C_RECEIVED, C_CATEGORY };
        char **dst[] = { &o->id,     &o->issuer,   &o->number,  &o->legal_basis,
                         &o->issued, &o->received, &o->category };
        for (size_t k = 0; k < ARRAY_LEN(strs); k++) {
            if (order_set(dst[k], v[strs[k]], strlen(v[strs[k]]))) {
                order_free(o);
                return -ENOMEM;
            }
        }
        /* restores: ids separated by blanks or ';' */
        const char *p = v[C_RESTORES];
        while (*p) {
            size_t n = strcspn(p, " ;");
            if (n) {
                char id[256];
                snprintf(id, sizeof(id), "%.*s", (int)(n < 255 ? n : 255), p);
                if (order_add_restores(o, id)) {
                    order_free(o);
                    return -ENOMEM;
                }
            }
            p += n + (p[n] ? 1 : 0);
        }
        size_t k = out->n - first;
        if (k >= *lines_cap) {
            size_t nc = *lines_cap ? *lines_cap * 2 : 16;
            uint32_t *nl = realloc(*lines, nc * sizeof(*nl));
            if (!nl) {
                order_free(o);
                return -ENOMEM;
            }
            *lines = nl;
            *lines_cap = nc;
        }
        if ((rc = order_list_push(out, o)))
            return rc;
        (*lines)[k] = rl;
    }
    const struct field *rf = fl[C_RESOURCE];
    if (rf->len == 0)
        return 0;
    char why[ORDER_ERR_MAX], pos[32];
    rc = order_add_resource(o, v[C_RESOURCE], rf->len, v[C_RESCAT][0] ? v[C_RESCAT] : NULL, false,
                            why, sizeof(why));
    if (rc == -EINVAL) {
        snprintf(pos, sizeof(pos), "%u:%u", rf->line, rf->col);
        rc = order_add_reject(o, pos, v[C_RESOURCE], rf->len, why);
    }
    return rc;
}

int ordcsv_parse(const char *name, const uint8_t *buf, size_t len, int64_t now,
                 struct order_list *out, char *err, size_t errlen)
{
    struct ctx c = { name, err, errlen };
    struct reader r = { .s = (const char *)buf, .len = len, .line = 1 };
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        r.i = r.line_start = 3;
    size_t first = out->n;
    uint32_t *lines = NULL;
    size_t lines_cap = 0;
    int map[C_COUNT], rc;
    const char *why = NULL;
    uint32_t el = 0, ec = 0;
    for (int k = 0; k < C_COUNT; k++)
        map[k] = -1;
    /* header */
    do {
        rc = read_row(&r, &why, &el, &ec);
    } while (rc == 1 && r.nf == 1 && r.f[0].len == 0);
    if (rc == 0) {
        rc = bad(&c, r.line, 0, "no header row (expected columns id,issuer,issued,resource,...)");
        goto done;
    }
    if (rc < 0)
        goto rerr;
    size_t ncols = r.nf;
    for (size_t i = 0; i < r.nf; i++) {
        const char *h = r.buf + r.f[i].off;
        int k = 0;
        while (k < C_COUNT && strcasecmp(h, col_names[k]) != 0)
            k++;
        if (k == C_COUNT) {
            rc = bad(&c, r.f[i].line, r.f[i].col, "unknown column \"%.60s\"", h);
            goto done;
        }
        if (map[k] >= 0) {
            rc = bad(&c, r.f[i].line, r.f[i].col, "column \"%s\" given twice", h);
            goto done;
        }
        map[k] = (int)i;
    }
    static const enum col required[] = { C_ID, C_ISSUER, C_ISSUED, C_RESOURCE };
    for (size_t k = 0; k < ARRAY_LEN(required); k++) {
        if (map[required[k]] < 0) {
            rc = bad(&c, r.row_line, 0, "header lacks the column \"%s\"", col_names[required[k]]);
            goto done;
        }
    }
    while ((rc = read_row(&r, &why, &el, &ec)) == 1) {
        if (r.nf == 1 && r.f[0].len == 0)
            continue; /* blank line */
        if (r.nf != ncols) {
            rc = bad(&c, r.row_line, 0, "%zu fields, the header has %zu", r.nf, ncols);
            goto done;
        }
        if ((rc = row_order(&c, &r, map, out, first, &lines, &lines_cap)))
            goto done;
    }
    if (rc == 0) {
        rc = order_stamp(out, first, name, buf, len, now);
        goto done;
    }
rerr:
    if (rc == -EINVAL)
        bad(&c, el, ec, "%s", why);
done:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "orders: %s: out of memory", name);
    if (rc)
        order_list_truncate(out, first);
    free(lines);
    free(r.buf);
    return rc;
}
