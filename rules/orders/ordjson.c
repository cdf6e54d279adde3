/* ordjson.c - the JSON order format into records (see ordjson.h).
 *
 *   { "id": "2026-41-0017", "issuer": "...", "number": "17" (opt), "legal_basis": "...",
 *     "issued": time, "received": time (opt), "category": "..." (opt),
 *     "action": "restrict" | "restore" (opt), "urgent": bool (opt), "restores": [id...] (opt),
 *     "resources": [ "example.com" | { "value": "...", "category": "...", "resolve": true },
 *                    ... ] }   ("resolve" (opt): marked for the IP fallback, docs/fallback.md)
 *
 * jansson does not say where a value was, so a small scanner walks the (already validated) text
 * once and notes the line and column of every value in document order; a value's number in
 * that order (pre-order: a container before its members) is found by walking jansson's tree,
 * whose objects keep their keys in document order (duplicate keys are refused, so the two walks
 * see the same values). */
#include "rules/orders/ordjson.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"

struct jpos {
    uint32_t line, col;
};

struct scan {
    const char *s;
    size_t len, i;
    uint32_t line;
    size_t line_start;
    struct jpos *pos;
    size_t n, cap;
    bool oom;
};

static void ws(struct scan *sc)
{
    while (sc->i < sc->len) {
        char c = sc->s[sc->i];
        if (c == '\n') {
            sc->line++;
            sc->line_start = sc->i + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        sc->i++;
    }
}

static void skip_string(struct scan *sc)
{
    sc->i++; /* opening quote */
    while (sc->i < sc->len && sc->s[sc->i] != '"')
        sc->i += sc->s[sc->i] == '\\' ? 2 : 1;
    sc->i++;
}

/* Notes every value's position; the text is valid JSON (jansson said so), depth bounded by it. */
static void scan_value(struct scan *sc, unsigned depth)
{
    ws(sc);
    if (sc->i >= sc->len || depth > 4096)
        return;
    if (sc->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 256;
        struct jpos *p = realloc(sc->pos, nc * sizeof(*p));
        if (!p) {
            sc->oom = true;
            sc->i = sc->len;
            return;
        }
        sc->pos = p;
        sc->cap = nc;
    }
    sc->pos[sc->n++] = (struct jpos){ sc->line, (uint32_t)(sc->i - sc->line_start + 1) };
    char c = sc->s[sc->i];
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        sc->i++;
        for (;;) {
            ws(sc);
            if (sc->i >= sc->len)
                return;
            if (sc->s[sc->i] == close) {
                sc->i++;
                return;
            }
            if (sc->s[sc->i] == ',') {
                sc->i++;
                continue;
            }
            size_t before = sc->i;
            if (c == '{') {
                skip_string(sc); /* key */
                ws(sc);
                sc->i++; /* ':' */
            }
            scan_value(sc, depth + 1);
            if (sc->i == before) /* cannot happen on text jansson accepted; never loop */
                sc->i++;
        }
    } else if (c == '"') {
        skip_string(sc);
    } else {
        do
            sc->i++;
        while (sc->i < sc->len && !strchr(",]} \t\r\n", sc->s[sc->i]));
    }
}

/* Number of values in v's subtree, v included. */
static size_t subtree(json_t *v)
{
    size_t n = 1, i;
    json_t *x;
    const char *k;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) n += subtree(x);
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) n += subtree(x);
    }
    return n;
}

/* Pre-order index of obj's member key, given obj's own index; SIZE_MAX if absent. */
static size_t member_index(json_t *obj, size_t idx, const char *key)
{
    const char *k;
    json_t *x;
    idx++;
    json_object_foreach(obj, k, x)
    {
        if (strcmp(k, key) == 0)
            return idx;
        idx += subtree(x);
    }
    return SIZE_MAX;
}

struct ctx {
    const char *name;
    size_t first; /* the list's length before this file */
    struct scan *sc;
    char *err;
    size_t errlen;
};

static void where(const struct ctx *c, size_t idx, char *out, size_t outlen)
{
    if (idx < c->sc->n)
        snprintf(out, outlen, "%u:%u", c->sc->pos[idx].line, c->sc->pos[idx].col);
    else
        snprintf(out, outlen, "1");
}

static int bad(const struct ctx *c, size_t idx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(const struct ctx *c, size_t idx, const char *fmt, ...)
{
    char w[32], why[ORDER_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    where(c, idx, w, sizeof(w));
    snprintf(c->err, c->errlen, "orders: %s:%s: %s", c->name, w, why);
    return -EINVAL;
}

/* A string member into *field. */
static int str_field(const struct ctx *c, json_t *o, size_t oidx, const char *label,
                     const char *key, bool required, char **field)
{
    json_t *v = json_object_get(o, key);
    if (!v && !required)
        return 0;
    if (!v)
        return bad(c, oidx, "%s: missing field '%s'", label, key);
    if (!json_is_string(v) || (required && json_string_length(v) == 0))
        return bad(c, member_index(o, oidx, key), "%s: field '%s' must be a %sstring", label, key,
                   required ? "non-empty " : "");
    return order_set(field, json_string_value(v), json_string_length(v));
}

static int time_field(const struct ctx *c, json_t *o, size_t oidx, const char *label,
                      const char *key, bool required, char **field, int64_t *ts)
{
    int rc = str_field(c, o, oidx, label, key, required, field);
    if (rc || !json_object_get(o, key))
        return rc;
    if (!order_time_parse(*field, ts))
        return bad(c, member_index(o, oidx, key),
                   "%s: field '%s' is not an RFC 3339 time: \"%.80s\"", label, key, *field);
    return 0;
}

static int one_order(const struct ctx *c, json_t *o, size_t oidx, size_t num,
                     struct order_list *out)
{
    char label[160];
    json_t *id = json_object_get(o, "id");
    if (!json_is_object(o))
        return bad(c, oidx, "order %zu: not an object", num);
    if (json_is_string(id))
        snprintf(label, sizeof(label), "order %zu ('%.100s')", num, json_string_value(id));
    else
        snprintf(label, sizeof(label), "order %zu", num);
    struct order *r = order_new();
    if (!r)
        return -ENOMEM;
    int rc;
    if ((rc = str_field(c, o, oidx, label, "id", true, &r->id)) ||
        (rc = str_field(c, o, oidx, label, "issuer", true, &r->issuer)) ||
        (rc = str_field(c, o, oidx, label, "legal_basis", true, &r->legal_basis)) ||
        (rc = str_field(c, o, oidx, label, "number", false, &r->number)) ||
        (rc = str_field(c, o, oidx, label, "category", false, &r->category)) ||
        (rc = time_field(c, o, oidx, label, "issued", true, &r->issued, &r->issued_ts)) ||
        (rc = time_field(c, o, oidx, label, "received", false, &r->received, &r->received_ts)))
        goto fail;
    bool dup = false; /* within this file: the list may hold records of other files */
    for (size_t i = c->first; i < out->n && !dup; i++)
        dup = strcmp(out->v[i]->id, r->id) == 0;
    if (dup) {
        rc = bad(c, oidx, "%s: duplicate order id", label);
        goto fail;
    }
    json_t *v = json_object_get(o, "action");
    if (v && (!json_is_string(v) || !order_action_parse(json_string_value(v), &r->action))) {
        rc = bad(c, member_index(o, oidx, "action"),
                 "%s: field 'action' must be \"restrict\" or \"restore\"", label);
        goto fail;
    }
    v = json_object_get(o, "urgent");
    if (v && !json_is_boolean(v)) {
        rc = bad(c, member_index(o, oidx, "urgent"), "%s: field 'urgent' must be true or false",
                 label);
        goto fail;
    }
    r->urgent = json_is_true(v);
    v = json_object_get(o, "restores");
    if (v) {
        size_t vi = member_index(o, oidx, "restores"), i;
        json_t *x;
        if (json_is_string(v)) {
            if ((rc = order_add_restores(r, json_string_value(v))))
                goto fail;
        } else if (!json_is_array(v)) {
            rc = bad(c, vi, "%s: field 'restores' must be an order id or an array of them", label);
            goto fail;
        }
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x) || json_string_length(x) == 0) {
                rc = bad(c, vi + 1 + i, "%s: restores %zu: must be a non-empty string", label,
                         i + 1);
                goto fail;
            }
            if ((rc = order_add_restores(r, json_string_value(x))))
                goto fail;
        }
    }
    json_t *res = json_object_get(o, "resources");
    if (!res) {
        rc = bad(c, oidx, "%s: missing field 'resources'", label);
        goto fail;
    }
    size_t ridx = member_index(o, oidx, "resources");
    if (!json_is_array(res)) {
        rc = bad(c, ridx, "%s: field 'resources' must be an array", label);
        goto fail;
    }
    size_t i, e = ridx + 1;
    json_t *x;
    char why[ORDER_ERR_MAX], pos[32];
    json_array_foreach(res, i, x)
    {
        size_t xi = e;
        e += subtree(x);
        json_t *val = x, *cat = NULL, *resolve = NULL;
        where(c, xi, pos, sizeof(pos));
        if (json_is_object(x)) {
            val = json_object_get(x, "value");
            cat = json_object_get(x, "category");
            resolve = json_object_get(x, "resolve");
            if ((cat && !json_is_string(cat)) || (resolve && !json_is_boolean(resolve))) {
                char *t = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                rc = order_add_reject(r, pos, t ? t : "", t ? strlen(t) : 0,
                                      cat && !json_is_string(cat)
                                          ? "field 'category' must be a string"
                                          : "field 'resolve' must be true or false");
                free(t);
                if (rc)
                    goto fail;
                continue;
            }
        }
        if (!json_is_string(val)) {
            char *t = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = order_add_reject(r, pos, t ? t : "", t ? strlen(t) : 0,
                                  "expected a string or {\"value\": string}");
            free(t);
            if (rc)
                goto fail;
            continue;
        }
        rc = order_add_resource(r, json_string_value(val), json_string_length(val),
                                cat ? json_string_value(cat) : NULL, false, why, sizeof(why));
        if (rc == 0)
            r->res[r->nres - 1].resolve = json_is_true(resolve);
        if (rc == -EINVAL)
            rc = order_add_reject(r, pos, json_string_value(val), json_string_length(val), why);
        if (rc)
            goto fail;
    }
    return order_list_push(out, r);
fail:
    order_free(r);
    return rc;
}

int ordjson_parse(const char *name, const uint8_t *buf, size_t len, int64_t now,
                  struct order_list *out, char *err, size_t errlen)
{
    const char *s = (const char *)buf;
    size_t first = out->n;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
        s += 3;
        len -= 3;
    }
    const char *nul = memchr(s, '\0', len);
    if (nul) { /* jansson would stop there and call the rest trailing garbage, or accept it */
        size_t line = 1, col = 1;
        for (const char *p = s; p < nul; p++, col++)
            if (*p == '\n')
                line++, col = 0;
        snprintf(err, errlen, "orders: %s:%zu:%zu: NUL byte in JSON text", name, line, col);
        return -EINVAL;
    }
    json_error_t je;
    order_json_oom_reset();
    json_t *root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (order_json_oom()) {
        json_decref(root);
        snprintf(err, errlen, "orders: %s: out of memory while parsing JSON", name);
        return -ENOMEM;
    }
    if (!root) {
        snprintf(err, errlen, "orders: %s:%d:%d: invalid JSON: %s", name, je.line, je.column,
                 je.text);
        return -EINVAL;
    }
    struct scan sc = { .s = s, .len = len, .line = 1 };
    scan_value(&sc, 0);
    struct ctx c = { name, first, &sc, err, errlen };
    int rc = 0;
    if (sc.oom) {
        rc = -ENOMEM;
        goto done;
    }
    json_t *orders = root;
    size_t oidx = 0;
    if (json_is_object(root) && json_object_get(root, "orders")) {
        orders = json_object_get(root, "orders");
        oidx = member_index(root, 0, "orders");
    }
    if (json_is_array(orders)) {
        size_t i, e = oidx + 1;
        json_t *o;
        json_array_foreach(orders, i, o)
        {
            if ((rc = one_order(&c, o, e, i + 1, out)))
                break;
            e += subtree(o);
        }
    } else if (json_is_object(orders)) {
        rc = one_order(&c, orders, oidx, 1, out);
    } else {
        rc = bad(&c, oidx, "expected an order object, an array of orders or {\"orders\": [...]}");
    }
    if (!rc)
        rc = order_stamp(out, first, name, buf, len + (size_t)(s - (const char *)buf), now);
done:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "orders: %s: out of memory", name);
    if (rc)
        order_list_truncate(out, first);
    free(sc.pos);
    json_decref(root);
    return rc;
}
