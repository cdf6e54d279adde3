/* tariffcfg.c - the tariff table from the configuration (tariffcfg.h). */
#include "proxy/daemon/tariffcfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/fileio.h"
#include "rules/lists/catload.h"
#include "rules/report/deadline.h"

int tariffcfg_load(struct tariff *t, const char *const *dirs, size_t ndirs, const char *file,
                   const char *zone, int64_t now, FILE *errs, struct tariffcfg_stats *st, char *err,
                   size_t errlen)
{
    struct tariffcfg_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    int32_t off = 0;
    int rc = deadline_tz_offset(zone && *zone ? zone : "Asia/Almaty", now, &off, err, errlen);
    if (rc)
        return rc;
    struct catset_builder *b = catset_builder_new();
    if (!b) {
        snprintf(err, errlen, "categories: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < ndirs; i++) {
        struct catload_stats cs;
        rc = catload_dir(b, dirs[i], errs, &cs, err, errlen);
        if (rc) {
            catset_builder_free(b);
            return rc;
        }
        st->bad_lines += cs.errors;
    }
    /* the file is read into a scratch table first, so a file that cannot be read changes
     * nothing; what was read then takes the place of the table's definitions */
    struct tariff *scratch = NULL;
    if (file && *file) {
        if (!(scratch = tariff_new(NULL))) {
            catset_builder_free(b);
            return -ENOMEM;
        }
        rc = tariff_load_file(scratch, file, errs, &st->bad_lines, err, errlen);
        if (rc < 0) {
            tariff_free(scratch);
            catset_builder_free(b);
            return rc;
        }
        st->definitions = (size_t)rc;
    }
    struct catset *cs = catset_build(b);
    if (!cs) {
        tariff_free(scratch);
        snprintf(err, errlen, "categories: out of memory");
        return -ENOMEM;
    }
    st->categories = catset_categories(cs);
    st->domains = catset_domains(cs);
    st->urls = catset_urls(cs);
    tariff_set_categories(t, cs);
    tariff_clear(t);
    if (scratch) {
        tariff_swap_defs(t, scratch); /* (the scratch table gets t's cleared, empty ones) */
        tariff_free(scratch);
    }
    tariff_set_utc_offset(t, off);
    char why[512];
    rc = tariff_publish(t, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "%s", why);
        return rc;
    }
    st->problems = rc;
    if (rc && errs)
        fprintf(errs, "profiles: %d definition(s) left out; the first: %s\n", rc, why);
    return 0;
}

size_t tariffcfg_count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[65536];
    size_t n, lines = 0;
    char last = '\n';
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
            lines++;
        last = buf[n - 1];
    }
    fclose(f);
    return lines + (last != '\n');
}

/* One "ADDR SUBSCRIBER" line of a subscribers file (NUL-terminated, changed in place):
 * 1 when it is blank or a comment, else 0 with the address parsed into *sa and *sub the
 * subscriber, or -EINVAL with a reason in why. */
static int subs_line(char *line, struct sub_addr *sa, char **sub, char *why, size_t whylen)
{
    char *a = ascii_skip_blank(line);
    if (!*a || *a == '#' || *a == '\r')
        return 1;
    char *e = ascii_field_end(a);
    char *s = ascii_skip_blank(e);
    *e = '\0';
    *ascii_field_end(s) = '\0';
    *sub = s;
    return sub_addr_parse(a, (size_t)(e - a), sa, why, whylen);
}

/* A subscribers line read ahead of the one set. */
struct subs_pending {
    int st; /* subs_line()'s result */
    size_t ln;
    struct sub_addr sa;
    char *sub;
    char why[200];
};

#define SUBS_AHEAD 8 /* lines read ahead of the one set, their map slots loading */

int tariffcfg_subscribers_file(struct submap *m, const char *path, FILE *errs, char *err,
                               size_t errlen)
{
    /* read whole and parsed in place; a line is set SUBS_AHEAD lines after it was read, its
     * map slot having been loaded meanwhile */
    char *buf;
    size_t len;
    int rc = fileio_read_all(path, &buf, &len);
    if (rc) {
        snprintf(err, errlen, "subscribers: %s: %s", path, strerror(-rc));
        return rc;
    }
    char *p = buf, *end = buf + len;
    struct subs_pending q[SUBS_AHEAD];
    size_t ln = 0, nq = 0, head = 0;
    int count = 0;
    while (!rc && (p < end || nq)) {
        if (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *next = nl ? nl + 1 : end;
            if (nl)
                *nl = '\0';
            struct subs_pending *n = &q[(head + nq) % SUBS_AHEAD];
            n->ln = ++ln;
            n->st = subs_line(p, &n->sa, &n->sub, n->why, sizeof(n->why));
            p = next;
            if (n->st == 1)
                continue;
            if (n->st == 0)
                submap_prefetch(m, n->sa.family, n->sa.addr);
            if (++nq < SUBS_AHEAD && p < end)
                continue;
        }
        struct subs_pending *o = &q[head]; /* the oldest line */
        head = (head + 1) % SUBS_AHEAD;
        nq--;
        if (o->st == 0 && (rc = submap_set(m, &o->sa, o->sub, NULL, 0)) == 0) {
            count++;
            continue;
        }
        if (rc == -ENOSPC || rc == -ENOMEM) {
            snprintf(err, errlen, "subscribers: %s:%zu: %s", path, o->ln,
                     rc == -ENOSPC ? "the map is full" : "out of memory");
            break;
        }
        if (rc == -EINVAL)
            snprintf(o->why, sizeof(o->why), "subscriber id '%.128s' is not 1..128 printable bytes",
                     o->sub);
        rc = 0;
        if (errs)
            fprintf(errs, "subscribers: %s:%zu: %s\n", path, o->ln, o->why);
    }
    free(buf);
    return rc ? rc : count;
}

int tariffcfg_apply_record(void *ctx, const struct store_tariff *r)
{
    struct tariff *t = ctx;
    char err[256];
    if (r->kind == STORE_TARIFF_PROFILE) {
        if (r->del)
            tariff_del_profile(t, r->name);
        else
            tariff_set_profile(t, r->name, r->text, err, sizeof(err));
    } else if (r->del) {
        tariff_del_sub(t, r->name);
    } else {
        tariff_set_sub(t, r->name, r->text, err, sizeof(err));
    }
    return 0;
}
