/* metrics.c - Prometheus text format pieces (see metrics.h). */
#include "proxy/daemon/metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_label(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f), fputc(*s, f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void metrics_value(FILE *f, const char *name, uint64_t v)
{
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

int metrics_name(const char *counter, int gauge, char *out, size_t outlen)
{
    static const char pre[] = "qorgau_", post[] = "_total";
    size_t n = strlen(counter);
    if (sizeof(pre) - 1 + n + (gauge ? 0 : sizeof(post) - 1) + 1 > outlen)
        return -1;
    memcpy(out, pre, sizeof(pre) - 1);
    char *p = out + sizeof(pre) - 1;
    for (size_t i = 0; i < n; i++) {
        char c = counter[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        *p++ = ok ? c : '_';
    }
    if (!gauge) {
        memcpy(p, post, sizeof(post) - 1);
        p += sizeof(post) - 1;
    }
    *p = 0;
    return 0;
}

/* The family of name (before a '/') into fam; the label value after it, or NULL. */
static const char *split(const char *name, char *fam, size_t cap)
{
    const char *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name);
    if (n >= cap)
        n = cap - 1;
    memcpy(fam, name, n);
    fam[n] = 0;
    return slash ? slash + 1 : NULL;
}

static void samples(FILE *f, const struct metrics_set *sets, size_t nsets, const char **names,
                    size_t nn, int (*is_gauge)(const char *), bool per_worker)
{
    char prev[180] = "";
    for (size_t i = 0; i < nn; i++) {
        char fam[128], pre[140], m[180];
        const char *label = split(names[i], fam, sizeof(fam));
        snprintf(pre, sizeof(pre), "%s%s", per_worker ? "worker." : "", fam);
        int gauge = is_gauge ? is_gauge(names[i]) : 0;
        if (metrics_name(pre, gauge, m, sizeof(m)) < 0)
            continue;
        if (strcmp(m, prev) != 0) {
            metrics_head(f, m, gauge ? "gauge" : "counter",
                         per_worker ? "one worker's counter (docs/admin.md)"
                                    : "worker counter summed over the workers (docs/admin.md)");
            snprintf(prev, sizeof(prev), "%s", m);
        }
        uint64_t sum = 0;
        for (size_t k = 0; k < nsets; k++) {
            for (size_t j = 0; j < sets[k].n; j++) {
                if (strcmp(sets[k].names[j], names[i]) != 0)
                    continue;
                uint64_t v = atomic_load_explicit(&sets[k].values[j], memory_order_relaxed);
                sum += v;
                if (!per_worker)
                    continue;
                fputs(m, f);
                fputc('{', f);
                if (label) {
                    fputs("reason=", f);
                    metrics_label(f, label);
                    fputc(',', f);
                }
                fprintf(f, "worker=\"%u\"} %llu\n", sets[k].worker, (unsigned long long)v);
            }
        }
        if (per_worker)
            continue;
        fputs(m, f);
        if (label) {
            fputs("{reason=", f);
            metrics_label(f, label);
            fputc('}', f);
        }
        fprintf(f, " %llu\n", (unsigned long long)sum);
    }
}

void metrics_counters(FILE *f, const struct metrics_set *sets, size_t nsets,
                      int (*is_gauge)(const char *name))
{
    size_t total = 0, nn = 0;
    for (size_t k = 0; k < nsets; k++)
        total += sets[k].n;
    const char **names = malloc((total ? total : 1) * sizeof(*names));
    if (!names)
        return;
    for (size_t k = 0; k < nsets; k++) {
        for (size_t j = 0; j < sets[k].n; j++) {
            size_t i = 0;
            while (i < nn && strcmp(names[i], sets[k].names[j]) != 0)
                i++;
            if (i == nn)
                names[nn++] = sets[k].names[j];
        }
    }
    samples(f, sets, nsets, names, nn, is_gauge, false);
    samples(f, sets, nsets, names, nn, is_gauge, true);
    free(names);
}
