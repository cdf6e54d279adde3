/* metrics.c - Prometheus text format pieces (see metrics.h). */
#include "proxy/daemon/metrics.h"

#include <stdbool.h>
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
