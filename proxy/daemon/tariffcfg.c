/* tariffcfg.c - the tariff table from the configuration (tariffcfg.h). */
#include "proxy/daemon/tariffcfg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <fcntl.h>

#include "common/ascii.h"
#include "common/fileio.h"
#include "common/imgfile.h"
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
     * nothing; what was read then takes the place of the table's definitions, with the store's
     * records set again on top (tariff_rebase()): a reload must not drop what the store says
     * (a child's profile set through the API would otherwise be the default one until the
     * follower's next full load). The store's records are kept by the table itself, in its
     * layer (tariff_layer_set()), rather than by the follower or read from the store again
     * here: the follower's sets and the rebase then serialize on the one lock every writer of
     * the table takes already, so no record applied while the file is read can fall between
     * the copy and the exchange, nothing new is published in between, and a store that is
     * down at that moment changes nothing. The rebase also keeps a copy of the file's
     * definitions as read (the table's file's layer): a store record removed later gives the
     * file's definition by that name back at once (tariff_layer_del()) */
    struct tariff *scratch = tariff_new(NULL);
    if (!scratch) {
        catset_builder_free(b);
        snprintf(err, errlen, "profiles: out of memory");
        return -ENOMEM;
    }
    if (file && *file) {
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
    rc = tariff_rebase(t, scratch); /* (the scratch table gets t's old definitions) */
    tariff_free(scratch);
    if (rc) {
        catset_free(cs);
        snprintf(err, errlen, "profiles: %s",
                 rc == -ENOSPC ? "too many profiles with the store's" : "out of memory");
        return rc;
    }
    st->categories = catset_categories(cs);
    st->domains = catset_domains(cs);
    st->urls = catset_urls(cs);
    tariff_set_categories(t, cs);
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
        lines += ascii_count_byte(buf, n, '\n');
        last = buf[n - 1];
    }
    fclose(f);
    return lines + (last != '\n');
}

/* The end of the subscriber id at s (ascii_field_end()'s), and in *valid whether its bytes are
 * those sub_id_valid() takes (0x21..0x7e; the length is checked apart): one test a byte. */
static char *id_field_end(char *s, bool *valid)
{
    while ((unsigned char)(*s - 0x21) < 0x5e)
        s++;
    unsigned char c = (unsigned char)*s;
    *valid = c == '\0' || c == ' ' || c == '\t' || c == '\r';
    return *valid ? s : ascii_field_end(s);
}

/* One "ADDR SUBSCRIBER" line of a subscribers file (NUL-terminated, changed in place):
 * 1 when it is blank or a comment, else 0 with the address and the subscriber in *it, or
 * -EINVAL with a reason in why. */
static int subs_line(char *line, struct submap_item *it, char *why, size_t whylen)
{
    char *a = ascii_skip_blank(line);
    if (!*a || *a == '#' || *a == '\r')
        return 1;
    char *e = ascii_field_end(a);
    char *s = ascii_skip_blank(e);
    *e = '\0';
    char *se = id_field_end(s, &it->sub_valid);
    *se = '\0';
    it->sub = s;
    it->sub_len = (size_t)(se - s);
    return sub_addr_parse(a, (size_t)(e - a), &it->a, why, whylen);
}

/* The line at p (end: the buffer's end, where a NUL is) when it is exactly "ADDR ID" and a
 * newline or the end (ADDR as sub_addr_parse() takes it; ID
 * 1..SUB_ID_MAX bytes of 0x21..0x7e): the form of most lines of a big file, read in one pass
 * into *it (the id made NUL-terminated in place), *next the next line. Else false and nothing
 * changed: subs_line() reads it (and words what is wrong with it). */
static bool subs_line_fast(char *p, const char *end, struct submap_item *it, char **next)
{
    size_t qn = sub_addr_quad_prefix(p, (size_t)(end - p), &it->a);
    const char *s = p + qn;
    if (!qn || *s != ' ') { /* not a dotted quad and a space: the field, then the address parse */
        s = p;
        while ((unsigned char)*s > ' ')
            s++;
        if (*s != ' ' || s == p || sub_addr_parse(p, (size_t)(s - p), &it->a, NULL, 0) != 0)
            return false;
    }
    s++;
    char *id = (char *)(uintptr_t)s, *e = (char *)(uintptr_t)sub_id_span(id, end);
    size_t il = (size_t)(e - id);
    if (il == 0 || il > SUB_ID_MAX || (e < end && *e != '\n'))
        return false;
    *next = e < end ? e + 1 : (char *)(uintptr_t)end;
    *e = '\0';
    it->sub = id;
    it->sub_len = il;
    it->sub_valid = true;
    return true;
}

/* Lines read and waiting to be set together (submap_set_many()). */
struct subs_batch {
    struct submap_item it[SUBMAP_MANY_MAX];
    size_t ln[SUBMAP_MANY_MAX];
    size_t n;
};

/* Sets the lines of q, reporting each refused one. 0, or a negative errno with a message in err
 * (the map is full, out of memory: the lines after that one are not set). *count: those set. */
static int subs_flush(struct submap *m, struct subs_batch *q, const char *path, FILE *errs,
                      size_t *bad, int *count, char *err, size_t errlen)
{
    size_t done = q->n ? submap_set_many(m, q->it, q->n) : 0;
    int rc = 0;
    for (size_t k = 0; k < done && !rc; k++) {
        rc = q->it[k].rc;
        if (rc == 0) {
            ++*count;
        } else if (rc == -ENOSPC || rc == -ENOMEM) {
            snprintf(err, errlen, "subscribers: %s:%zu: %s", path, q->ln[k],
                     rc == -ENOSPC ? "the map is full" : "out of memory");
        } else {
            rc = 0;
            if (bad)
                (*bad)++;
            if (errs)
                fprintf(
                    errs,
                    "subscribers: %s:%zu: subscriber id '%.128s' is not 1..128 printable bytes\n",
                    path, q->ln[k], q->it[k].sub);
        }
    }
    q->n = 0;
    return rc;
}

int tariffcfg_subscribers_file(struct submap *m, const char *path, FILE *errs, size_t *bad,
                               char *err, size_t errlen)
{
    /* read whole and parsed in place; lines are set SUBMAP_MANY_MAX at a time, their map slots
     * loading together */
    char *buf;
    size_t len;
    int rc = fileio_read_all(path, &buf, &len);
    if (rc) {
        snprintf(err, errlen, "subscribers: %s: %s", path, strerror(-rc));
        return rc;
    }
    char *p = buf, *end = buf + len;
    struct subs_batch q;
    q.n = 0;
    size_t ln = 0;
    int count = 0;
    while (!rc && p < end) {
        if (subs_line_fast(p, end, &q.it[q.n], &p)) {
            q.ln[q.n] = ++ln;
            if (++q.n == SUBMAP_MANY_MAX)
                rc = subs_flush(m, &q, path, errs, bad, &count, err, errlen);
            continue;
        }
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *next = nl ? nl + 1 : end;
        if (nl)
            *nl = '\0';
        char why[200];
        ln++;
        int st = subs_line(p, &q.it[q.n], why, sizeof(why));
        p = next;
        if (st == 0) {
            q.ln[q.n] = ln;
            if (++q.n == SUBMAP_MANY_MAX)
                rc = subs_flush(m, &q, path, errs, bad, &count, err, errlen);
        } else if (st < 0) { /* (the lines before it first, so that the reports keep order) */
            if (bad)
                (*bad)++;
            rc = subs_flush(m, &q, path, errs, bad, &count, err, errlen);
            if (!rc && errs)
                fprintf(errs, "subscribers: %s:%zu: %s\n", path, ln, why);
        }
    }
    if (!rc)
        rc = subs_flush(m, &q, path, errs, bad, &count, err, errlen);
    free(buf);
    return rc ? rc : count;
}

int tariffcfg_apply_record(void *ctx, const struct store_tariff *r)
{
    struct tariff *t = ctx;
    char err[256];
    bool sub = r->kind != STORE_TARIFF_PROFILE;
    if (r->del)
        tariff_layer_del(t, sub, r->name);
    else
        tariff_layer_set(t, sub, r->name, r->text, err, sizeof(err));
    return 0;
}

/* The image's sections: the tariff's at 0, its category set's at 16, the map's at 48, and one
 * of what the image holds. */
static const char IMAGE_MAGIC[IMGFILE_MAGIC_LEN] = { 'Q', 'G', 'T', 'A', 'R', 'I', 'F', 'F' };
#define IMAGE_FORMAT 1
enum { IMG_TARIFF = 0, IMG_CATS = 16, IMG_SUBS = 48, IMG_META = 100 };
_Static_assert(IMG_TARIFF + TARIFF_IMAGE_SECTS <= IMG_CATS &&
                   IMG_CATS + CATSET_IMAGE_SECTS <= IMG_SUBS &&
                   IMG_SUBS + SUBMAP_IMAGE_SECTS <= IMG_META,
               "the parts' section ids do not overlap");

int tariffcfg_image_write(const char *path, struct tariff *t, struct submap *m, char *err,
                          size_t errlen)
{
    struct imgfile_w *w = imgfile_w_new();
    if (!w) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    uint64_t meta[1] = { m != NULL };
    int rc = tariff_to_image(t, w, IMG_TARIFF, IMG_CATS);
    if (!rc && m)
        rc = submap_to_image(m, w, IMG_SUBS);
    if (!rc)
        rc = imgfile_w_add_u64(w, IMG_META, meta, 1);
    if (rc)
        snprintf(err, errlen, "%s: %s", path,
                 rc == -ENOENT ? "no tariff table published" : strerror(-rc));
    else
        rc = imgfile_w_write(w, path, IMAGE_MAGIC, IMAGE_FORMAT, err, errlen);
    imgfile_w_free(w);
    return rc;
}

int tariffcfg_image_parse(const uint8_t *buf, size_t len, size_t capacity, struct tariff **t,
                          struct submap **m, char *err, size_t errlen)
{
    *t = NULL;
    *m = NULL;
    struct imgfile_r r;
    uint64_t meta[1];
    int rc = imgfile_r_open(&r, buf, len, IMAGE_MAGIC, IMAGE_FORMAT, err, errlen);
    if (!rc && imgfile_r_u64(&r, IMG_META, meta, 1) != 0) {
        snprintf(err, errlen, "no description section");
        rc = -EINVAL;
    }
    if (!rc && !(*t = tariff_from_image(&r, IMG_TARIFF, IMG_CATS, err, errlen)))
        rc = -EINVAL;
    if (!rc && meta[0] && !(*m = submap_from_image(&r, IMG_SUBS, capacity, err, errlen))) {
        tariff_free(*t);
        *t = NULL;
        rc = -EINVAL;
    }
    return rc;
}

int tariffcfg_image_load(const char *path, size_t capacity, struct tariff **t, struct submap **m,
                         char *err, size_t errlen)
{
    *t = NULL;
    *m = NULL;
    /* mapped, not read: the file's pages are the page cache's, no copy and no fault each */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "tariff image %s: %s", path, strerror(e));
        return -e;
    }
    size_t len = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
    close(fd);
    if (map == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "tariff image %s: %s", path, strerror(e));
        return -e;
    }
    char why[512];
    int rc = tariffcfg_image_parse(map ? map : "", len, capacity, t, m, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "tariff image %s: %s", path, why);
    if (map)
        munmap(map, len);
    return rc;
}
