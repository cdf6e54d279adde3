/* parents_api.c - the parents API handler (parents_api.h): JSON in and out (jansson), the
 * store's tariff records underneath. */
#include "proxy/daemon/parents_api.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rules/subs/profile.h"

struct parents_api {
    struct store *s; /* NULL while a handler made by parents_api_open() has no connection */
    const struct pseudo *ps;
    pthread_mutex_t lock; /* the store handle is one connection */
    /* parents_api_open(): where to (re)connect; "" for a handler given its store */
    char url[STORE_PATH_MAX + 512], password_file[STORE_PATH_MAX];
};

/* A subscriber's settings as fields (the text form is profile.h's). */
struct fields {
    char profile[PROFILE_NAME_MAX];
    json_t *allow, *deny, *sched; /* arrays of strings */
};

struct parents_api *parents_api_new(struct store *s, const struct pseudo *ps)
{
    struct parents_api *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->s = s;
    a->ps = ps;
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

struct parents_api *parents_api_open(const char *url, const char *password_file,
                                     const struct pseudo *ps)
{
    struct parents_api *a = parents_api_new(NULL, ps);
    if (!a)
        return NULL;
    snprintf(a->url, sizeof(a->url), "%s", url && *url ? url : "dir://" STORE_DEFAULT_DIR);
    snprintf(a->password_file, sizeof(a->password_file), "%s", password_file ? password_file : "");
    return a;
}

/* A handler of parents_api_open(): connects when it has no connection. Under a->lock. */
static int connect_store(struct parents_api *a, char *err, size_t errlen)
{
    if (a->s)
        return 0;
    if (!a->url[0]) {
        snprintf(err, errlen, "no store");
        return -EIO;
    }
    struct store_opts o;
    memset(&o, 0, sizeof(o));
    if (a->password_file[0])
        o.password_file = a->password_file;
    a->s = store_open(a->url, &o, err, errlen);
    return a->s ? 0 : -EIO;
}

void parents_api_free(struct parents_api *a)
{
    if (!a)
        return;
    store_free(a->s);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static void answer(struct api_resp *r, int status, json_t *j)
{
    r->status = status;
    r->content_type = "application/json";
    r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    r->body_len = r->body ? strlen(r->body) : 0;
    json_decref(j);
}

static void error(struct api_resp *r, int status, const char *msg)
{
    answer(r, status, json_pack("{s:s}", "error", msg));
}

static void fields_free(struct fields *f)
{
    json_decref(f->allow);
    json_decref(f->deny);
    json_decref(f->sched);
    memset(f, 0, sizeof(*f));
}

static int fields_init(struct fields *f)
{
    memset(f, 0, sizeof(*f));
    f->allow = json_array();
    f->deny = json_array();
    f->sched = json_array();
    return f->allow && f->deny && f->sched ? 0 : -ENOMEM;
}

/* "a,b,c" appended to arr. */
static void split_into(json_t *arr, const char *v)
{
    while (*v) {
        size_t l = strcspn(v, ",");
        json_array_append_new(arr, json_stringn(v, l));
        v += l + (v[l] == ',');
    }
}

/* A stored settings text into fields. */
static int fields_from_text(struct fields *f, const char *text)
{
    if (fields_init(f))
        return -ENOMEM;
    char buf[STORE_TARIFF_TEXT_MAX];
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *t = buf, *sv = NULL; (t = strtok_r(t, " ", &sv)); t = NULL) {
        if (strncmp(t, "profile=", 8) == 0)
            snprintf(f->profile, sizeof(f->profile), "%s", t + 8);
        else if (strncmp(t, "pallow=", 7) == 0)
            split_into(f->allow, t + 7);
        else if (strncmp(t, "pdeny=", 6) == 0)
            split_into(f->deny, t + 6);
        else if (strncmp(t, "sched=", 6) == 0)
            json_array_append_new(f->sched, json_string(t + 6));
    }
    return 0;
}

/* Appends " KEY=a,b" (or one " KEY=x" per element when each) for a string array. Returns false
 * with why set for an element that is not a string or holds a space or a comma. */
static bool put_list(char *out, size_t cap, size_t *len, const char *key, json_t *arr, bool each,
                     const char **why)
{
    size_t i;
    json_t *v;
    if (!arr || json_array_size(arr) == 0)
        return true;
    if (!each)
        *len += (size_t)snprintf(out + *len, cap - *len, " %s=", key);
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !*s || strpbrk(s, each ? " " : " ,")) {
            *why = "list elements must be non-empty strings without spaces or commas";
            return false;
        }
        if (each)
            *len += (size_t)snprintf(out + *len, cap - *len, " %s=%s", key, s);
        else
            *len += (size_t)snprintf(out + *len, cap - *len, "%s%s", i ? "," : "", s);
        if (*len >= cap) {
            *why = "settings too long";
            return false;
        }
    }
    return true;
}

static bool fields_to_text(const struct fields *f, char *out, size_t cap, const char **why)
{
    size_t len = 0;
    out[0] = '\0';
    if (f->profile[0])
        len = (size_t)snprintf(out, cap, " profile=%s", f->profile);
    if (!put_list(out, cap, &len, "pallow", f->allow, false, why) ||
        !put_list(out, cap, &len, "pdeny", f->deny, false, why) ||
        !put_list(out, cap, &len, "sched", f->sched, true, why))
        return false;
    if (len)
        memmove(out, out + 1, len); /* the leading space */
    return true;
}

static json_t *fields_json(const char *sub, const struct fields *f)
{
    return json_pack("{s:s, s:s?, s:O, s:O, s:O}", "subscriber", sub, "profile",
                     f->profile[0] ? f->profile : NULL, "allow", f->allow, "deny", f->deny,
                     "schedules", f->sched);
}

static int text_cb(void *ctx, const struct store_tariff *t)
{
    snprintf(ctx, STORE_TARIFF_TEXT_MAX, "%s", t->text);
    return 0;
}

/* Reads SUB's settings into f. 0, -ENOENT (none: empty fields), or another error (503). */
static int load(struct parents_api *a, const char *sub, struct fields *f, char *err, size_t errlen)
{
    char text[STORE_TARIFF_TEXT_MAX] = "";
    int rc = store_tariff_get(a->s, STORE_TARIFF_SUB, sub, text_cb, text, err, errlen);
    if (rc && rc != -ENOENT)
        return rc;
    return fields_from_text(f, text) ? -ENOMEM : rc;
}

/* Sets one field of f from JSON value v (field: "profile", "allow", "deny", "schedules").
 * Returns false with why. */
static bool set_field(struct fields *f, const char *field, json_t *v, const char **why)
{
    if (strcmp(field, "profile") == 0) {
        const char *p = json_is_null(v) ? "" : json_string_value(v);
        if (!p || (*p && !profile_name_valid(p))) {
            *why = "profile: not a profile name ([a-z0-9_-], under 32 bytes) or null";
            return false;
        }
        snprintf(f->profile, sizeof(f->profile), "%s", p);
        return true;
    }
    json_t **slot = strcmp(field, "allow") == 0  ? &f->allow
                    : strcmp(field, "deny") == 0 ? &f->deny
                                                 : &f->sched;
    if (!json_is_array(v)) {
        *why = "allow, deny and schedules must be arrays of strings";
        return false;
    }
    json_decref(*slot);
    *slot = json_incref(v);
    return true;
}

static const char *const FIELDS[] = { "profile", "allow", "deny", "schedules" };

static bool known_field(const char *s)
{
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, FIELDS[i]) == 0)
            return true;
    return false;
}

/* PUT: body -> the new fields (all of them, or the one named by field), checked, stored. */
static void put(struct parents_api *a, const char *sub, const char *field,
                const struct api_req *req, struct api_resp *resp)
{
    json_error_t je;
    json_t *body = json_loadb((const char *)req->body, req->body_len, 0, &je);
    char msg[512], err[1024];
    if (!json_is_object(body)) {
        snprintf(msg, sizeof(msg), "body: %s (line %d, column %d)",
                 body ? "not a JSON object" : je.text, je.line, je.column);
        json_decref(body);
        error(resp, 400, msg);
        return;
    }
    struct fields f;
    int rc = field ? load(a, sub, &f, err, sizeof(err)) : fields_init(&f);
    if (rc && rc != -ENOENT) {
        json_decref(body);
        fields_free(&f);
        error(resp, rc == -ENOMEM ? 500 : 503, rc == -ENOMEM ? "out of memory" : err);
        return;
    }
    const char *why = NULL, *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (!known_field(k) || (field && strcmp(k, field) != 0)) {
            snprintf(msg, sizeof(msg), "body: unexpected field '%s'", k);
            why = msg;
            break;
        }
        if (!set_field(&f, k, v, &why))
            break;
    }
    char text[STORE_TARIFF_TEXT_MAX], what[160];
    snprintf(what, sizeof(what), "subscriber %s", sub);
    if (!why && fields_to_text(&f, text, sizeof(text), &why) &&
        profile_check(text, true, what, err, sizeof(err)) < 0)
        why = err;
    if (why) {
        error(resp, 400, why);
    } else {
        struct store_tariff t = { STORE_TARIFF_SUB, false, sub, text };
        rc = store_tariff_apply(a->s, &t, err, sizeof(err));
        if (rc)
            error(resp, rc == -EINVAL ? 400 : 503, err);
        else
            answer(resp, 200, fields_json(sub, &f));
    }
    json_decref(body);
    fields_free(&f);
}

struct sum_ctx {
    struct parents_api *a;
    const char *pn, *day;
    json_t *blocked;
    json_int_t total;
    int rc;
};

static int sum_doc(void *ctx, const char *bytes, size_t len)
{
    struct sum_ctx *c = ctx;
    json_t *j = json_loadb(bytes, len, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        json_int_t n = json_integer_value(v);
        if (n <= 0)
            continue;
        json_int_t cur = json_integer_value(json_object_get(c->blocked, k));
        json_object_set_new(c->blocked, k, json_integer(cur + n));
        c->total += n;
    }
    json_decref(j);
    return 0;
}

static int sum_node(void *ctx, const struct store_node *n)
{
    struct sum_ctx *c = ctx;
    char id[STORE_ID_MAX + 64], err[512];
    int w = snprintf(id, sizeof(id), "%s:%s:%s", c->pn, c->day, n->id);
    if (w < 0 || (size_t)w >= sizeof(id))
        return 0;
    int rc = store_doc_get(c->a->s, "tariffsum", id, sum_doc, c, err, sizeof(err));
    if (rc && rc != -ENOENT)
        c->rc = rc;
    return 0;
}

static bool day_ok(const char *d)
{
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
            return false;
    int m = (d[5] - '0') * 10 + (d[6] - '0'), dd = (d[8] - '0') * 10 + (d[9] - '0');
    return m >= 1 && m <= 12 && dd >= 1 && dd <= 31;
}

static void summary(struct parents_api *a, const char *sub, const char *query,
                    struct api_resp *resp)
{
    char day[16] = "";
    for (const char *p = query; p && *p;) {
        size_t l = strcspn(p, "&");
        if (l > 4 && strncmp(p, "day=", 4) == 0 && l - 4 < sizeof(day))
            snprintf(day, sizeof(day), "%.*s", (int)(l - 4), p + 4);
        p += l + (p[l] == '&');
    }
    if (!day_ok(day)) {
        error(resp, 400, "query: day=YYYY-MM-DD is required");
        return;
    }
    char pn[PSEUDO_TEXT_MAX + 130], err[512];
    struct pseudo keyed = *a->ps;
    keyed.clear = false; /* counters are always kept under the pseudonym */
    pseudo_id(&keyed, sub, pn, sizeof(pn));
    struct sum_ctx c = { a, pn, day, json_object(), 0, 0 };
    int rc = store_nodes(a->s, sum_node, &c, err, sizeof(err));
    if (rc || c.rc) {
        json_decref(c.blocked);
        error(resp, 503, rc ? err : "the store could not be read");
        return;
    }
    answer(resp, 200,
           json_pack("{s:s, s:o, s:I}", "day", day, "blocked", c.blocked, "total", c.total));
}

/* SUB: 1..128 printable bytes, no space or '/'. */
static bool sub_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/')
            return false;
    return true;
}

void parents_api_handle(void *ctx, const struct api_req *req, struct api_resp *resp)
{
    struct parents_api *a = ctx;
    const char *path = req->path ? req->path : "";
    const char *slash = strchr(path, '/');
    size_t sl = slash ? (size_t)(slash - path) : strlen(path);
    char sub[130], res[32] = "";
    if (!sub_ok(path, sl)) {
        error(resp, 404, "expected SUBSCRIBER[/profile|allow|deny|schedules|summary]");
        return;
    }
    memcpy(sub, path, sl);
    sub[sl] = '\0';
    if (slash && (strlen(slash + 1) >= sizeof(res) || strchr(slash + 1, '/'))) {
        error(resp, 404, "no such resource");
        return;
    }
    if (slash)
        snprintf(res, sizeof(res), "%s", slash + 1);
    bool whole = !res[0], one = known_field(res), sum = strcmp(res, "summary") == 0;
    if (!whole && !one && !sum) {
        error(resp, 404, "no such resource");
        return;
    }
    const char *m = req->method ? req->method : "";
    bool get = strcmp(m, "GET") == 0, putm = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
    if (!(get || (putm && !sum) || (del && whole))) {
        error(resp, 405, whole ? "GET, PUT or DELETE" : sum ? "GET" : "GET or PUT");
        return;
    }
    pthread_mutex_lock(&a->lock);
    char err[1024];
    if (connect_store(a, err, sizeof(err)) < 0) {
        error(resp, 503, err);
    } else if (sum) {
        summary(a, sub, req->query, resp);
    } else if (putm) {
        put(a, sub, whole ? NULL : res, req, resp);
    } else if (del) {
        struct store_tariff t = { STORE_TARIFF_SUB, true, sub, NULL };
        int rc = store_tariff_apply(a->s, &t, err, sizeof(err));
        if (rc == 0)
            answer(resp, 204, NULL);
        else
            error(resp, rc == -ENOENT ? 404 : 503, err);
    } else {
        struct fields f;
        int rc = load(a, sub, &f, err, sizeof(err));
        if (rc == -ENOENT && whole) {
            error(resp, 404, err);
        } else if (rc && rc != -ENOENT) {
            error(resp, 503, err);
        } else if (whole) {
            answer(resp, 200, fields_json(sub, &f));
        } else {
            json_t *all = fields_json(sub, &f), *o = json_object();
            json_object_set(o, res,
                            json_object_get(all, res) ? json_object_get(all, res) : json_null());
            json_decref(all);
            answer(resp, 200, o);
        }
        fields_free(&f);
    }
    if (resp->status == 503 && a->url[0]) { /* the store failed: connect again next time */
        store_free(a->s);
        a->s = NULL;
    }
    pthread_mutex_unlock(&a->lock);
}
