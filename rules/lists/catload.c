/* catload.c - squidGuard / UT1 category trees into a category set builder (catload.h). */
#include "rules/lists/catload.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads one list file of category bit; a missing file is no error. */
static int load_list(struct catset_builder *b, const char *path, unsigned bit, bool url, FILE *errs,
                     struct catload_stats *st)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t ln = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        char why[256];
        ln++;
        int r = catset_builder_add(b, line, (size_t)n, bit, url, why, sizeof(why));
        if (r == 1)
            continue;
        st->lines++;
        if (r == -ENOMEM) {
            rc = r;
            break;
        }
        if (r < 0) {
            st->errors++;
            if (errs)
                fprintf(errs, "categories: %s:%zu: %s\n", path, ln, why);
            continue;
        }
        st->added++;
    }
    free(line);
    fclose(f);
    return rc;
}

int catload_dir(struct catset_builder *b, const char *dir, FILE *errs, struct catload_stats *st,
                char *err, size_t errlen)
{
    struct catload_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        snprintf(err, errlen, "categories: %s: %s", dir, strerror(e));
        return -e;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = realloc(names, cap * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            names = v;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char p[4096], pd[4200], pu[4200];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        if (stat(p, &sb) || !S_ISDIR(sb.st_mode))
            continue;
        snprintf(pd, sizeof(pd), "%s/domains", p);
        snprintf(pu, sizeof(pu), "%s/urls", p);
        if (access(pd, F_OK) && access(pu, F_OK))
            continue;
        int bit = catset_builder_category(b, names[i]);
        if (bit < 0) {
            rc = bit == -ENOMEM ? bit : -EINVAL;
            snprintf(err, errlen, "categories: %s: %s", p,
                     bit == -ENOSPC ? "more than 64 categories"
                                    : "not a category name ([a-z0-9_-], under 32 bytes)");
            break;
        }
        st->categories++;
        if ((rc = load_list(b, pd, (unsigned)bit, false, errs, st)) ||
            (rc = load_list(b, pu, (unsigned)bit, true, errs, st)))
            snprintf(err, errlen, "categories: %s: %s", p, strerror(-rc));
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "categories: %s: out of memory", dir);
    return rc;
}
