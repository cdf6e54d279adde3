/* profile.c - profile and subscriber settings texts, and the tariff decision (profile.h). */
#include "rules/subs/profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/normalize.h"

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

_Static_assert(PROFILE_NAME_MAX == CATSET_NAME_MAX, "profile and category names share a rule");

bool profile_name_valid(const char *s)
{
    return catset_name_valid(s);
}

/* A comma-separated list of category names v[0..len) into *mask. cs NULL: names are only
 * checked. "*" is every category (only where star is allowed). */
static int parse_cats(const char *v, size_t len, const struct catset *cs, bool star, uint64_t *mask,
                      bool *all, char *why, size_t whylen)
{
    *mask = 0;
    if (all)
        *all = false;
    if (star && len == 1 && v[0] == '*') {
        *all = true;
        return 0;
    }
    if (len == 0)
        return bad(why, whylen, "no category");
    while (len > 0) {
        const char *c = memchr(v, ',', len);
        size_t l = c ? (size_t)(c - v) : len;
        char name[CATSET_NAME_MAX];
        if (l == 0 || l >= sizeof(name))
            return bad(why, whylen, "empty or too long category name");
        memcpy(name, v, l);
        name[l] = '\0';
        if (!profile_name_valid(name))
            return bad(why, whylen, "'%s' is not a category name", name);
        if (cs) {
            int bit = catset_bit(cs, name);
            if (bit < 0)
                return bad(why, whylen, "unknown category '%s'", name);
            *mask |= 1ull << bit;
        }
        v += l + (c ? 1 : 0);
        len -= l + (c ? 1 : 0);
    }
    return 0;
}

static int parse_hhmm(const char *s, size_t len, uint16_t *out)
{
    unsigned h = 0, m = 0;
    if (len == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
        s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9') {
        h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
        m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
        if (h < 24) {
            *out = (uint16_t)(h * 60 + m);
            return 0;
        }
        if (h == 24 && m == 0) {
            *out = 1440;
            return 0;
        }
    }
    return -EINVAL;
}

static int day_of(const char *s, size_t len)
{
    static const char *const d[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
    for (int i = 0; i < 7; i++)
        if (len == 3 && memcmp(s, d[i], 3) == 0)
            return i;
    return -1;
}

/* "mon-fri,sun" or "*" into a day mask. */
static int parse_days(const char *s, size_t len, uint8_t *days)
{
    *days = 0;
    if (len == 1 && s[0] == '*') {
        *days = 0x7f;
        return 0;
    }
    while (len > 0) {
        const char *c = memchr(s, ',', len);
        size_t l = c ? (size_t)(c - s) : len;
        int a, b;
        if (l == 3) {
            a = b = day_of(s, 3);
        } else if (l == 7 && s[3] == '-') {
            a = day_of(s, 3);
            b = day_of(s + 4, 3);
        } else {
            return -EINVAL;
        }
        if (a < 0 || b < 0)
            return -EINVAL;
        for (int d = a;; d = (d + 1) % 7) {
            *days |= (uint8_t)(1u << d);
            if (d == b)
                break;
        }
        s += l + (c ? 1 : 0);
        len -= l + (c ? 1 : 0);
    }
    return *days ? 0 : -EINVAL;
}

/* "CATS@DAYS/HH:MM-HH:MM" */
static int parse_sched(const char *v, size_t len, const struct catset *cs, struct profile_sched *w,
                       char *why, size_t whylen)
{
    const char *at = memchr(v, '@', len);
    const char *sl = at ? memchr(at, '/', len - (size_t)(at - v)) : NULL;
    if (!at || !sl)
        return bad(why, whylen, "expected CATEGORIES@DAYS/HH:MM-HH:MM");
    memset(w, 0, sizeof(*w));
    int rc = parse_cats(v, (size_t)(at - v), cs, true, &w->mask, &w->all, why, whylen);
    if (rc)
        return rc;
    if (parse_days(at + 1, (size_t)(sl - at - 1), &w->days))
        return bad(why, whylen,
                   "days must be '*' or mon..sun, ranges like mon-fri, comma-separated");
    const char *t = sl + 1;
    size_t tl = len - (size_t)(t - v);
    if (tl != 11 || t[5] != '-' || parse_hhmm(t, 5, &w->from) || parse_hhmm(t + 6, 5, &w->to) ||
        w->from >= 1440)
        return bad(why, whylen, "hours must be HH:MM-HH:MM (00:00 .. 24:00)");
    return 0;
}

static int add_name(char **list, unsigned *n, const char *v, size_t len, char *why, size_t whylen)
{
    while (len > 0) {
        const char *c = memchr(v, ',', len);
        size_t l = c ? (size_t)(c - v) : len;
        char host[NORM_HOST_MAX];
        size_t hl;
        enum norm_host_kind k;
        const char *h = v;
        size_t hlen = l;
        if (hlen > 2 && h[0] == '*' && h[1] == '.')
            h += 2, hlen -= 2;
        enum norm_status st = norm_host((const uint8_t *)h, hlen, host, &hl, &k);
        if (st == NORM_NOMEM)
            return -ENOMEM;
        if (st != NORM_OK || k != NORM_HOST_NAME)
            return bad(why, whylen, "'%.*s': %s", (int)l, v,
                       st != NORM_OK ? norm_strerror(st) : "an address, not a name");
        if (*n == PROFILE_LIST_MAX)
            return bad(why, whylen, "more than %d names", PROFILE_LIST_MAX);
        if (list && !(list[*n] = strdup(host)))
            return -ENOMEM;
        (*n)++;
        v += l + (c ? 1 : 0);
        len -= l + (c ? 1 : 0);
    }
    return 0;
}

/* Walks the fields of spec; field() handles one. */
typedef int (*field_fn)(void *ctx, const char *k, size_t kl, const char *v, size_t vl, char *why,
                        size_t whylen);

static int each_field(const char *spec, field_fn fn, void *ctx, const char *what, char *err,
                      size_t errlen)
{
    if (strlen(spec) >= PROFILE_SPEC_MAX)
        return bad(err, errlen, "%s: longer than %d bytes", what, PROFILE_SPEC_MAX - 1);
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n')
            e++;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        char why[256] = "expected KEY=VALUE";
        int rc = -EINVAL;
        if (eq)
            rc = fn(ctx, p, (size_t)(eq - p), eq + 1, (size_t)(e - eq - 1), why, sizeof(why));
        if (rc == -ENOMEM)
            return rc;
        if (rc)
            return bad(err, errlen, "%s: field '%.*s' (offset %zu): %s", what, (int)(e - p), p,
                       (size_t)(p - spec), why);
        p = e;
    }
    return 0;
}

static bool key_is(const char *k, size_t kl, const char *s)
{
    return strlen(s) == kl && memcmp(k, s, kl) == 0;
}

struct prof_ctx {
    struct profile *p;
    const struct catset *cs;
};

static int prof_field(void *ctx, const char *k, size_t kl, const char *v, size_t vl, char *why,
                      size_t whylen)
{
    struct prof_ctx *c = ctx;
    struct profile *p = c->p;
    if (key_is(k, kl, "block"))
        return parse_cats(v, vl, c->cs, false, &p->block, NULL, why, whylen);
    if (key_is(k, kl, "allow"))
        return parse_cats(v, vl, c->cs, false, &p->allow, NULL, why, whylen);
    if (key_is(k, kl, "allowlist")) {
        if (vl == 3 && memcmp(v, "yes", 3) == 0)
            p->allowlist = true;
        else if (vl == 2 && memcmp(v, "no", 2) == 0)
            p->allowlist = false;
        else
            return bad(why, whylen, "yes or no");
        return 0;
    }
    if (key_is(k, kl, "sched")) {
        if (p->nsched == PROFILE_SCHED_MAX)
            return bad(why, whylen, "more than %d windows", PROFILE_SCHED_MAX);
        return parse_sched(v, vl, c->cs, &p->sched[p->nsched++], why, whylen);
    }
    return bad(why, whylen, "unknown key (block, allow, allowlist, sched)");
}

int profile_parse(const char *name, const char *spec, const struct catset *cs, struct profile *p,
                  char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (!profile_name_valid(name))
        return bad(err, errlen, "profile '%s': not a name ([a-z0-9_-], under 32 bytes)", name);
    snprintf(p->name, sizeof(p->name), "%s", name);
    char what[64];
    snprintf(what, sizeof(what), "profile %s", name);
    struct prof_ctx c = { p, cs };
    return each_field(spec, prof_field, &c, what, err, errlen);
}

struct sub_ctx {
    struct profile_sub *s;
    const struct catset *cs;
    bool store; /* keep the names */
};

static int sub_field(void *ctx, const char *k, size_t kl, const char *v, size_t vl, char *why,
                     size_t whylen)
{
    struct sub_ctx *c = ctx;
    struct profile_sub *s = c->s;
    if (key_is(k, kl, "profile")) {
        char n[PROFILE_NAME_MAX];
        if (vl == 0 || vl >= sizeof(n))
            return bad(why, whylen, "not a profile name");
        memcpy(n, v, vl);
        n[vl] = '\0';
        if (!profile_name_valid(n))
            return bad(why, whylen, "not a profile name ([a-z0-9_-], under 32 bytes)");
        memcpy(s->profile, n, vl + 1);
        return 0;
    }
    if (key_is(k, kl, "pallow"))
        return add_name(c->store ? s->allow : NULL, &s->nallow, v, vl, why, whylen);
    if (key_is(k, kl, "pdeny"))
        return add_name(c->store ? s->deny : NULL, &s->ndeny, v, vl, why, whylen);
    if (key_is(k, kl, "sched")) {
        if (s->nsched == PROFILE_SCHED_MAX)
            return bad(why, whylen, "more than %d windows", PROFILE_SCHED_MAX);
        return parse_sched(v, vl, c->cs, &s->sched[s->nsched++], why, whylen);
    }
    return bad(why, whylen, "unknown key (profile, pallow, pdeny, sched)");
}

int profile_sub_parse(const char *spec, const struct catset *cs, struct profile_sub *s, char *err,
                      size_t errlen)
{
    memset(s, 0, sizeof(*s));
    struct sub_ctx c = { s, cs, true };
    int rc = each_field(spec, sub_field, &c, "subscriber settings", err, errlen);
    if (rc)
        profile_sub_clear(s);
    return rc;
}

void profile_sub_clear(struct profile_sub *s)
{
    for (unsigned i = 0; i < s->nallow; i++)
        free(s->allow[i]);
    for (unsigned i = 0; i < s->ndeny; i++)
        free(s->deny[i]);
    memset(s, 0, sizeof(*s));
}

int profile_check(const char *spec, bool sub, const char *what, char *err, size_t errlen)
{
    if (sub) {
        struct profile_sub s;
        memset(&s, 0, sizeof(s));
        struct sub_ctx c = { &s, NULL, false };
        return each_field(spec, sub_field, &c, what, err, errlen);
    }
    struct profile p;
    memset(&p, 0, sizeof(p));
    struct prof_ctx c = { &p, NULL };
    return each_field(spec, prof_field, &c, what, err, errlen);
}

const char *profile_cause_name(enum profile_cause c)
{
    switch (c) {
    case PCAUSE_PROFILE: return "profile";
    case PCAUSE_PARENTAL: return "parental";
    case PCAUSE_SCHEDULE: return "schedule";
    case PCAUSE_ALLOWLIST: return "allowlist";
    case PCAUSE_NONE: break;
    }
    return NULL;
}

/* name equals entry or lies under it. */
static bool under(const char *name, size_t nl, const char *entry)
{
    size_t el = strlen(entry);
    if (el > nl || memcmp(name + nl - el, entry, el) != 0)
        return false;
    return el == nl || name[nl - el - 1] == '.';
}

static bool listed(char *const *list, unsigned n, const char *name, size_t nl)
{
    for (unsigned i = 0; i < n; i++)
        if (under(name, nl, list[i]))
            return true;
    return false;
}

static bool in_window(const struct profile_sched *w, uint32_t local)
{
    unsigned day = local / 1440 % 7, min = local % 1440;
    unsigned prev = (day + 6) % 7;
    if (w->from == w->to)
        return (w->days >> day) & 1;
    if (w->from < w->to)
        return ((w->days >> day) & 1) && min >= w->from && min < w->to;
    return (((w->days >> day) & 1) && min >= w->from) || (((w->days >> prev) & 1) && min < w->to);
}

/* A schedule of v[0..n) blocking req: PCAUSE_SCHEDULE with *cat, or PCAUSE_NONE. */
static enum profile_cause sched_judge(const struct profile_sched *v, unsigned n,
                                      const struct profile_req *req, uint64_t *cat)
{
    for (unsigned i = 0; i < n; i++) {
        if (!in_window(&v[i], req->local))
            continue;
        if (v[i].all) {
            *cat = 0;
            return PCAUSE_SCHEDULE;
        }
        if (v[i].mask & req->cats) {
            *cat = v[i].mask & req->cats;
            return PCAUSE_SCHEDULE;
        }
    }
    return PCAUSE_NONE;
}

enum profile_cause profile_judge(const struct profile *p, const struct profile_sub *s,
                                 const struct profile_req *req, uint64_t *cat)
{
    *cat = 0;
    bool named = req->name && req->name_len > 0;
    if (s && named) {
        if (listed(s->deny, s->ndeny, req->name, req->name_len))
            return PCAUSE_PARENTAL;
        if (listed(s->allow, s->nallow, req->name, req->name_len))
            return PCAUSE_NONE;
    }
    enum profile_cause c = PCAUSE_NONE;
    if (s && (c = sched_judge(s->sched, s->nsched, req, cat)))
        return c;
    if (!p)
        return PCAUSE_NONE;
    if ((c = sched_judge(p->sched, p->nsched, req, cat)))
        return c;
    if (p->allowlist) {
        if (req->udp || !named || !(req->cats & p->allow))
            return PCAUSE_ALLOWLIST;
        return PCAUSE_NONE;
    }
    if (req->cats & p->block) {
        *cat = req->cats & p->block;
        return PCAUSE_PROFILE;
    }
    return PCAUSE_NONE;
}

uint32_t profile_local_minutes(int64_t ts, int32_t utc_offset)
{
    int64_t t = ts + utc_offset;
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t sec = t - days * 86400;
    /* 1970-01-01 was a Thursday (3 with Monday = 0) */
    int64_t dow = ((days % 7) + 7 + 3) % 7;
    return (uint32_t)(dow * 1440 + sec / 60);
}
