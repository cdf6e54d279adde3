/* order.c - the order record, its times, its file stamp and its canonical JSON (see order.h).
 *
 * Canonical JSON, keys in this order (docs/orders.md):
 *
 *   {"id","issuer","number","legal_basis","category","issued","received","included",
 *    "action":"restrict"|"restore","urgent":bool,"restores":[id...],
 *    "resources":[{"text","norm","kind":"domain"|"url"|"ip"[,"category"][,"resolve":true]}...],
 *    "rejected":[{"pos","text","reason"}...],"source","sha256",
 *    "signature":{"status":"none"|"valid"|"invalid","signer","time","reason"}}
 *
 * Every string a record holds is valid UTF-8 (bytes that are not become U+FFFD when stored), so
 * any record can be written as JSON. */
#include "rules/orders/order.h"

#include <errno.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/compiler.h"
#include "common/utf8.h"

#define TEXT_MAX (64 * 1024) /* longest string a record keeps (longer input is cut) */

/* ---- strings ---- */

/* A NUL-terminated copy of s[0..len) with invalid UTF-8 and NUL bytes replaced by U+FFFD. */
static char *clean_dup(const char *s, size_t len)
{
    if (len > TEXT_MAX)
        len = TEXT_MAX;
    char *d = malloc(len * 3 + 1);
    if (!d)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? utf8_seq((const uint8_t *)s + i, len - i, NULL) : 0;
        if (n == 0) {
            memcpy(d + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(d + o, s + i, n);
        o += n;
        i += n;
    }
    d[o] = '\0';
    char *r = realloc(d, o + 1);
    return r ? r : d;
}

int order_set(char **field, const char *s, size_t len)
{
    char *d = clean_dup(s ? s : "", s ? len : 0);
    if (!d)
        return -ENOMEM;
    free(*field);
    *field = d;
    return 0;
}

static int set_str(char **field, const char *s)
{
    return order_set(field, s, s ? strlen(s) : 0);
}

struct order *order_new(void)
{
    struct order *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    char **f[] = { &o->id,     &o->issuer,   &o->number,   &o->legal_basis, &o->category,
                   &o->issued, &o->received, &o->included, &o->source };
    for (size_t i = 0; i < ARRAY_LEN(f); i++) {
        if (set_str(f[i], "")) {
            order_free(o);
            return NULL;
        }
    }
    return o;
}

void order_free(struct order *o)
{
    if (!o)
        return;
    free(o->id);
    free(o->issuer);
    free(o->number);
    free(o->legal_basis);
    free(o->category);
    free(o->issued);
    free(o->received);
    free(o->included);
    free(o->source);
    for (size_t i = 0; i < o->nrestores; i++)
        free(o->restores[i]);
    free(o->restores);
    for (size_t i = 0; i < o->nres; i++) {
        free(o->res[i].text);
        free(o->res[i].norm);
        free(o->res[i].category);
    }
    free(o->res);
    for (size_t i = 0; i < o->nrej; i++) {
        free(o->rej[i].pos);
        free(o->rej[i].text);
        free(o->rej[i].reason);
    }
    free(o->rej);
    free(o->sig.signer);
    free(o->sig.time);
    free(o->sig.reason);
    free(o);
}

/* ---- resources ---- */

int order_add_resource(struct order *o, const char *text, size_t len, const char *category,
                       bool mask, char *err, size_t errlen)
{
    char nt[RULESET_TEXT_MAX + 2];
    size_t nlen;
    enum rule_kind kind;
    const char *t = text;
    size_t tl = len;
    while (tl > 0 && (*t == ' ' || *t == '\t'))
        t++, tl--;
    if (tl > 2 && t[0] == '*' && t[1] == '.')
        mask = true;
    for (size_t i = 0; i < len;) {
        size_t n = text[i] ? utf8_seq((const uint8_t *)text + i, len - i, NULL) : 0;
        if (n == 0) {
            snprintf(err, errlen, "not valid UTF-8 at byte %zu", i + 1);
            return -EINVAL;
        }
        i += n;
    }
    int rc = ruleset_normalize_entry(text, len, nt + 2, &nlen, &kind, err, errlen);
    if (rc)
        return rc;
    if (mask && kind != RULE_DOMAIN) {
        snprintf(err, errlen, "a domain mask needs a domain name");
        return -EINVAL;
    }
    char *norm = mask ? nt : nt + 2;
    if (mask)
        memcpy(nt, "*.", 2);
    if (o->nres % 16 == 0) {
        void *n = realloc(o->res, (o->nres + 16) * sizeof(*o->res));
        if (!n)
            return -ENOMEM;
        o->res = n;
    }
    struct order_resource r = { NULL, NULL, kind, NULL, false };
    if (order_set(&r.text, text, len) || set_str(&r.norm, norm) ||
        (category && set_str(&r.category, category))) {
        free(r.text);
        free(r.norm);
        free(r.category);
        return -ENOMEM;
    }
    o->res[o->nres++] = r;
    return 0;
}

int order_add_reject(struct order *o, const char *pos, const char *text, size_t len,
                     const char *reason)
{
    if (o->nrej % 16 == 0) {
        void *n = realloc(o->rej, (o->nrej + 16) * sizeof(*o->rej));
        if (!n)
            return -ENOMEM;
        o->rej = n;
    }
    struct order_reject r = { NULL, NULL, NULL };
    if (set_str(&r.pos, pos) || order_set(&r.text, text, len) || set_str(&r.reason, reason)) {
        free(r.pos);
        free(r.text);
        free(r.reason);
        return -ENOMEM;
    }
    o->rej[o->nrej++] = r;
    return 0;
}

int order_add_restores(struct order *o, const char *id)
{
    char **n = realloc(o->restores, (o->nrestores + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    o->restores = n;
    char *d = NULL;
    if (set_str(&d, id))
        return -ENOMEM;
    o->restores[o->nrestores++] = d;
    return 0;
}

/* ---- times ---- */

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

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool order_time_parse(const char *s, int64_t *ts)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return false;
    int64_t off = 0;
    if (n > 10) {
        if (n < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
            s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
            return false;
        if (h > 23 || mi > 59 || se > 60)
            return false;
        const char *p = s + 19;
        if (*p == '.') {
            p++;
            if (*p < '0' || *p > '9')
                return false;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
            off = 0;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (strlen(p) != 6 || !digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) ||
                oh > 23 || om > 59)
                return false;
            off = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        } else if (*p != '\0') {
            return false;
        }
    }
    *ts = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return true;
}

void order_time_format(int64_t ts, char out[32])
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00Z");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- file stamp ---- */

void order_sha256(const uint8_t *buf, size_t len, char out[65])
{
    struct sha256_ctx c;
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, len, buf);
    sha256_digest(&c, sizeof(md), md);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

int order_stamp(struct order_list *list, size_t first, const char *name, const uint8_t *buf,
                size_t len, int64_t now)
{
    char sha[65], t[32];
    order_sha256(buf, len, sha);
    order_time_format(now, t);
    for (size_t i = first; i < list->n; i++) {
        struct order *o = list->v[i];
        if (set_str(&o->source, name))
            return -ENOMEM;
        memcpy(o->sha256, sha, sizeof(sha));
        if (o->received[0] == '\0') {
            if (set_str(&o->received, t))
                return -ENOMEM;
            o->received_ts = now;
        }
    }
    return 0;
}

/* ---- jansson allocation failures ---- */

static _Thread_local bool json_oom;
static pthread_once_t json_alloc_once = PTHREAD_ONCE_INIT;

static void *json_alloc(size_t n)
{
    void *p = malloc(n);
    if (unlikely(!p))
        json_oom = true;
    return p;
}

static void json_alloc_setup(void)
{
    json_set_alloc_funcs(json_alloc, free);
}

void order_json_oom_reset(void)
{
    pthread_once(&json_alloc_once, json_alloc_setup);
    json_oom = false;
}

bool order_json_oom(void)
{
    return json_oom;
}

/* ---- names ---- */

const char *order_action_name(enum order_action a)
{
    return a == ORDER_RESTORE ? "restore" : "restrict";
}

bool order_action_parse(const char *s, enum order_action *a)
{
    if (strcmp(s, "restrict") == 0)
        *a = ORDER_RESTRICT;
    else if (strcmp(s, "restore") == 0)
        *a = ORDER_RESTORE;
    else
        return false;
    return true;
}

const char *order_sig_status_name(enum order_sig_status s)
{
    return s == ORDER_SIG_VALID ? "valid" : s == ORDER_SIG_INVALID ? "invalid" : "none";
}

static const char *kind_name(enum rule_kind k)
{
    return k == RULE_URL ? "url" : k == RULE_IP ? "ip" : "domain";
}

/* ---- canonical JSON ---- */

/* json_object_set_new that remembers a failure (any NULL value) in *bad. */
static void put(json_t *obj, const char *key, json_t *v, bool *bad)
{
    if (!v || json_object_set_new(obj, key, v))
        *bad = true;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *order_to_json(const struct order *o)
{
    bool bad = false;
    order_json_oom_reset();
    json_t *j = json_object();
    if (!j)
        return NULL;
    put(j, "id", json_string(o->id), &bad);
    put(j, "issuer", json_string(o->issuer), &bad);
    put(j, "number", json_string(o->number), &bad);
    put(j, "legal_basis", json_string(o->legal_basis), &bad);
    put(j, "category", json_string(o->category), &bad);
    put(j, "issued", json_string(o->issued), &bad);
    put(j, "received", json_string(o->received), &bad);
    put(j, "included", json_string(o->included), &bad);
    put(j, "action", json_string(order_action_name(o->action)), &bad);
    put(j, "urgent", json_boolean(o->urgent), &bad);
    json_t *a = json_array();
    for (size_t i = 0; a && i < o->nrestores; i++)
        if (json_array_append_new(a, json_string(o->restores[i])))
            bad = true;
    put(j, "restores", a, &bad);
    a = json_array();
    for (size_t i = 0; a && i < o->nres; i++) {
        const struct order_resource *r = &o->res[i];
        json_t *x = json_object();
        if (!x) {
            bad = true;
            break;
        }
        put(x, "text", json_string(r->text), &bad);
        put(x, "norm", json_string(r->norm), &bad);
        put(x, "kind", json_string(kind_name(r->kind)), &bad);
        if (r->category)
            put(x, "category", json_string(r->category), &bad);
        if (r->resolve)
            put(x, "resolve", json_true(), &bad);
        if (json_array_append_new(a, x))
            bad = true;
    }
    put(j, "resources", a, &bad);
    a = json_array();
    for (size_t i = 0; a && i < o->nrej; i++) {
        const struct order_reject *r = &o->rej[i];
        json_t *x = json_object();
        if (!x) {
            bad = true;
            break;
        }
        put(x, "pos", json_string(r->pos), &bad);
        put(x, "text", json_string(r->text), &bad);
        put(x, "reason", json_string(r->reason), &bad);
        if (json_array_append_new(a, x))
            bad = true;
    }
    put(j, "rejected", a, &bad);
    put(j, "source", json_string(o->source), &bad);
    put(j, "sha256", json_string(o->sha256), &bad);
    json_t *s = json_object();
    if (s) {
        put(s, "status", json_string(order_sig_status_name(o->sig.status)), &bad);
        put(s, "signer", str_or_null(o->sig.signer), &bad);
        put(s, "time", str_or_null(o->sig.time), &bad);
        put(s, "reason", str_or_null(o->sig.reason), &bad);
    }
    put(j, "signature", s, &bad);
    char *out = bad ? NULL : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (out && order_json_oom()) { /* a string may have lost a byte on the way */
        free(out);
        out = NULL;
    }
    return out;
}

/* A string member into *field; "" when absent and optional. */
static bool get_str(json_t *j, const char *key, bool required, char **field, char *err,
                    size_t errlen)
{
    json_t *v = json_object_get(j, key);
    if (!v && !required)
        return set_str(field, "") == 0 || (snprintf(err, errlen, "out of memory"), false);
    if (!json_is_string(v)) {
        snprintf(err, errlen, "field '%s' must be a string", key);
        return false;
    }
    if (required && json_string_length(v) == 0) {
        snprintf(err, errlen, "field '%s' must not be empty", key);
        return false;
    }
    if (order_set(field, json_string_value(v), json_string_length(v))) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    return true;
}

/* An optional string-or-null member into a NULL-able *field. */
static bool get_opt(json_t *j, const char *key, char **field, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v))
        return true;
    return get_str(j, key, false, field, err, errlen);
}

struct order *order_from_json_tree(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    char why[ORDER_ERR_MAX];
    order_json_oom_reset();
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    struct order *o = NULL;
    if (order_json_oom()) {
        json_decref(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!j) {
        snprintf(err, errlen, "%d:%d: invalid JSON: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, errlen, "expected an order object");
        goto fail;
    }
    if (!(o = order_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!get_str(j, "id", true, &o->id, err, errlen) ||
        !get_str(j, "issuer", true, &o->issuer, err, errlen) ||
        !get_str(j, "number", false, &o->number, err, errlen) ||
        !get_str(j, "legal_basis", false, &o->legal_basis, err, errlen) ||
        !get_str(j, "category", false, &o->category, err, errlen) ||
        !get_str(j, "issued", false, &o->issued, err, errlen) ||
        !get_str(j, "received", false, &o->received, err, errlen) ||
        !get_str(j, "included", false, &o->included, err, errlen) ||
        !get_str(j, "source", false, &o->source, err, errlen))
        goto fail;
    if (o->issued[0] && !order_time_parse(o->issued, &o->issued_ts)) {
        snprintf(err, errlen, "field 'issued' is not a time: \"%.80s\"", o->issued);
        goto fail;
    }
    if (o->received[0] && !order_time_parse(o->received, &o->received_ts)) {
        snprintf(err, errlen, "field 'received' is not a time: \"%.80s\"", o->received);
        goto fail;
    }
    json_t *v = json_object_get(j, "action");
    if (v && (!json_is_string(v) || !order_action_parse(json_string_value(v), &o->action))) {
        snprintf(err, errlen, "field 'action' must be \"restrict\" or \"restore\"");
        goto fail;
    }
    v = json_object_get(j, "urgent");
    if (v && !json_is_boolean(v)) {
        snprintf(err, errlen, "field 'urgent' must be true or false");
        goto fail;
    }
    o->urgent = json_is_true(v);
    v = json_object_get(j, "sha256");
    if (v) {
        if (!json_is_string(v) || (json_string_length(v) != 64 && json_string_length(v) != 0)) {
            snprintf(err, errlen, "field 'sha256' must be 64 hex digits");
            goto fail;
        }
        memcpy(o->sha256, json_string_value(v), json_string_length(v) + 1);
    }
    size_t i;
    json_t *x;
    v = json_object_get(j, "restores");
    if (v && !json_is_array(v)) {
        snprintf(err, errlen, "field 'restores' must be an array");
        goto fail;
    }
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            snprintf(err, errlen, "restores %zu: must be a string", i + 1);
            goto fail;
        }
        if (order_add_restores(o, json_string_value(x))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    v = json_object_get(j, "resources");
    if (!json_is_array(v)) {
        snprintf(err, errlen, "field 'resources' must be an array");
        goto fail;
    }
    json_array_foreach(v, i, x)
    {
        json_t *t = json_object_get(x, "text"), *n = json_object_get(x, "norm");
        json_t *c = json_object_get(x, "category"), *rv = json_object_get(x, "resolve");
        if (!json_is_string(t) || (c && !json_is_string(c)) || (n && !json_is_string(n)) ||
            (rv && !json_is_boolean(rv))) {
            snprintf(err, errlen,
                     "resource %zu: needs a string 'text' (and string 'norm', 'category', boolean "
                     "'resolve')",
                     i + 1);
            goto fail;
        }
        bool mask = n && strncmp(json_string_value(n), "*.", 2) == 0;
        int rc = order_add_resource(o, json_string_value(t), json_string_length(t),
                                    json_string_value(c), mask, why, sizeof(why));
        if (rc) {
            snprintf(err, errlen, "resource %zu: %s", i + 1, rc == -ENOMEM ? "out of memory" : why);
            goto fail;
        }
        o->res[o->nres - 1].resolve = json_is_true(rv);
    }
    v = json_object_get(j, "rejected");
    if (v && !json_is_array(v)) {
        snprintf(err, errlen, "field 'rejected' must be an array");
        goto fail;
    }
    json_array_foreach(v, i, x)
    {
        json_t *p = json_object_get(x, "pos"), *t = json_object_get(x, "text"),
               *r = json_object_get(x, "reason");
        if (!json_is_string(p) || !json_is_string(t) || !json_is_string(r)) {
            snprintf(err, errlen, "rejected %zu: needs string 'pos', 'text' and 'reason'", i + 1);
            goto fail;
        }
        if (order_add_reject(o, json_string_value(p), json_string_value(t), json_string_length(t),
                             json_string_value(r))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    v = json_object_get(j, "signature");
    if (v) {
        json_t *st = json_object_get(v, "status");
        enum order_sig_status ss = ORDER_SIG_NONE;
        if (!json_is_object(v) || !json_is_string(st)) {
            snprintf(err, errlen, "field 'signature' must be an object with a 'status'");
            goto fail;
        }
        const char *sv = json_string_value(st);
        if (strcmp(sv, "valid") == 0)
            ss = ORDER_SIG_VALID;
        else if (strcmp(sv, "invalid") == 0)
            ss = ORDER_SIG_INVALID;
        else if (strcmp(sv, "none") != 0) {
            snprintf(err, errlen, "signature status must be none, valid or invalid");
            goto fail;
        }
        o->sig.status = ss;
        if (!get_opt(v, "signer", &o->sig.signer, err, errlen) ||
            !get_opt(v, "time", &o->sig.time, err, errlen) ||
            !get_opt(v, "reason", &o->sig.reason, err, errlen))
            goto fail;
    }
    json_decref(j);
    return o;
fail:
    order_free(o);
    json_decref(j);
    return NULL;
}

/* ---- the resources of a canonical record without the tree ----
 * In jansson's tree a resource is an object (a hash table: about ten allocations), and a
 * node parses every record it follows: 20 ms of a core for a 10k-entry order, more than its
 * apply. order_from_json() reads the "resources" array with the small scanner below and gives
 * jansson the rest of the record (the array replaced by []). It takes the records
 * order_to_json() writes: resources as objects of the keys text, norm, kind, category (strings)
 * and resolve (a boolean), strings of the bytes 0x20-0x7e without escapes. Anything else, and
 * any error, makes it parse the whole record with jansson (order_from_json_tree()), which alone
 * says what is wrong: both give the same record or the same error (tests/fuzz/fuzz_order_record.c
 * checks it). */

struct rscan {
    const char *s;
    size_t len, i;
};

static void rs_ws(struct rscan *r)
{
    while (r->i < r->len &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

static bool rs_char(struct rscan *r, char c)
{
    rs_ws(r);
    if (r->i < r->len && r->s[r->i] == c) {
        r->i++;
        return true;
    }
    return false;
}

/* A string of the bytes 0x20-0x7e without escapes: its text at *p, *n bytes. */
static bool rs_str(struct rscan *r, const char **p, size_t *n)
{
    if (!rs_char(r, '"'))
        return false;
    size_t start = r->i;
    for (; r->i < r->len; r->i++) {
        unsigned char c = (unsigned char)r->s[r->i];
        if (c == '"') {
            *p = r->s + start;
            *n = r->i - start;
            r->i++;
            return true;
        }
        if (c == '\\' || c < 0x20 || c > 0x7e)
            return false;
    }
    return false;
}

static bool rs_word(struct rscan *r, const char *w)
{
    size_t n = strlen(w);
    rs_ws(r);
    if (r->len - r->i < n || memcmp(r->s + r->i, w, n) != 0)
        return false;
    r->i += n;
    return true;
}

/* Skips any value (escapes and nesting followed; its validity is jansson's to judge). */
static bool rs_skip(struct rscan *r)
{
    size_t depth = 0;
    rs_ws(r);
    do {
        if (r->i >= r->len)
            return false;
        char c = r->s[r->i];
        if (c == '"') {
            for (r->i++; r->i < r->len && r->s[r->i] != '"'; r->i++)
                if (r->s[r->i] == '\\')
                    r->i++;
            if (r->i >= r->len)
                return false;
            r->i++;
        } else if (c == '{' || c == '[') {
            depth++;
            r->i++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return false;
            depth--;
            r->i++;
        } else if (depth == 0) { /* a number or a literal */
            while (r->i < r->len && !strchr(",}] \t\r\n", r->s[r->i]))
                r->i++;
            return true;
        } else {
            r->i++;
        }
    } while (depth > 0);
    return true;
}

/* The top-level "resources" member's value: [*b, *e) of the text. */
static bool rs_find(const char *buf, size_t len, size_t *b, size_t *e)
{
    struct rscan r = { buf, len, 0 };
    bool found = false;
    if (!rs_char(&r, '{'))
        return false;
    if (rs_char(&r, '}'))
        return false;
    do {
        const char *k;
        size_t kn;
        if (!rs_str(&r, &k, &kn) || !rs_char(&r, ':'))
            return false;
        rs_ws(&r);
        size_t start = r.i;
        if (!rs_skip(&r))
            return false;
        if (kn == 9 && memcmp(k, "resources", 9) == 0) {
            if (found)
                return false;
            found = true;
            *b = start;
            *e = r.i;
        }
    } while (rs_char(&r, ','));
    if (!rs_char(&r, '}'))
        return false;
    rs_ws(&r);
    return found && r.i == r.len;
}

/* One resource object into o. Returns false when it is not of the form taken. */
static bool rs_resource(struct rscan *r, struct order *o)
{
    const char *text = NULL, *norm = NULL, *cat = NULL, *kind = NULL, *k;
    size_t tn = 0, nn = 0, cn = 0, kn, vn;
    int resolve = -1;
    if (!rs_char(r, '{'))
        return false;
    if (!rs_char(r, '}')) {
        do {
            if (!rs_str(r, &k, &kn) || !rs_char(r, ':'))
                return false;
            const char **slot = NULL;
            size_t *slen = NULL;
            if (kn == 4 && memcmp(k, "text", 4) == 0)
                slot = &text, slen = &tn;
            else if (kn == 4 && memcmp(k, "norm", 4) == 0)
                slot = &norm, slen = &nn;
            else if (kn == 4 && memcmp(k, "kind", 4) == 0)
                slot = &kind, slen = &vn;
            else if (kn == 8 && memcmp(k, "category", 8) == 0)
                slot = &cat, slen = &cn;
            if (slot) {
                if (*slot || !rs_str(r, slot, slen)) /* a duplicate key, or not such a string */
                    return false;
                continue;
            }
            if (kn != 7 || memcmp(k, "resolve", 7) != 0 || resolve >= 0)
                return false;
            if (rs_word(r, "true"))
                resolve = 1;
            else if (rs_word(r, "false"))
                resolve = 0;
            else
                return false;
        } while (rs_char(r, ','));
        if (!rs_char(r, '}'))
            return false;
    }
    char cbuf[256], why[ORDER_ERR_MAX];
    if (!text || (cat && cn >= sizeof(cbuf)))
        return false;
    if (cat) {
        memcpy(cbuf, cat, cn);
        cbuf[cn] = '\0';
    }
    bool mask = norm && nn >= 2 && norm[0] == '*' && norm[1] == '.';
    if (order_add_resource(o, text, tn, cat ? cbuf : NULL, mask, why, sizeof(why)) != 0)
        return false;
    o->res[o->nres - 1].resolve = resolve == 1;
    return true;
}

/* The record parsed as above, or NULL when it is not of the form taken (or out of memory). */
static struct order *from_json_fast(const char *buf, size_t len)
{
    size_t b = 0, e = 0;
    if (!rs_find(buf, len, &b, &e))
        return NULL;
    char *rest = malloc(len - (e - b) + 3);
    if (!rest)
        return NULL;
    memcpy(rest, buf, b);
    memcpy(rest + b, "[]", 2);
    memcpy(rest + b + 2, buf + e, len - e);
    char err[ORDER_ERR_MAX];
    struct order *o = order_from_json_tree(rest, len - (e - b) + 2, err, sizeof(err));
    free(rest);
    if (!o)
        return NULL;
    struct rscan r = { buf, e, b };
    bool ok = rs_char(&r, '[');
    if (ok && !rs_char(&r, ']')) {
        do
            ok = rs_resource(&r, o);
        while (ok && rs_char(&r, ','));
        ok = ok && rs_char(&r, ']');
    }
    rs_ws(&r);
    if (!ok || r.i != e) {
        order_free(o);
        return NULL;
    }
    return o;
}

struct order *order_from_json(const char *buf, size_t len, char *err, size_t errlen)
{
    struct order *o = from_json_fast(buf, len);
    return o ? o : order_from_json_tree(buf, len, err, errlen);
}

/* ---- lists ---- */

int order_list_push(struct order_list *l, struct order *o)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        struct order **v = realloc(l->v, nc * sizeof(*v));
        if (!v) {
            order_free(o);
            return -ENOMEM;
        }
        l->v = v;
        l->cap = nc;
    }
    l->v[l->n++] = o;
    return 0;
}

void order_list_truncate(struct order_list *l, size_t first)
{
    for (size_t i = first; i < l->n; i++)
        order_free(l->v[i]);
    if (first < l->n)
        l->n = first;
}

void order_list_free(struct order_list *l)
{
    if (!l)
        return;
    order_list_truncate(l, 0);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

struct order *order_list_find(const struct order_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i]->id, id) == 0)
            return l->v[i];
    return NULL;
}
