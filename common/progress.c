/* progress.c - the progress line on standard error (progress.h): terminal check, rate limit,
 * formatting. */
#include "common/progress.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define PROGRESS_INTERVAL_NS 100000000ull /* at most 10 lines a second */

static struct {
    bool on;      /* a job runs and stderr is a terminal */
    bool printed; /* a line is on the screen */
    char label[128];
    const char *noun; /* NULL: bytes */
    uint64_t total;
    uint64_t t0, last; /* ns */
} g;

/* "12.0 MiB", "512 B" */
static void human_bytes(char *buf, size_t cap, double v)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f %s", v, units[u]);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
}

size_t progress_format(char *buf, size_t cap, const char *label, uint64_t done, uint64_t total,
                       const char *noun, double secs)
{
    int n;
    if (noun) {
        if (total)
            n = snprintf(buf, cap, "%s: %llu / %llu %s", label, (unsigned long long)done,
                         (unsigned long long)total, noun);
        else
            n = snprintf(buf, cap, "%s: %llu %s", label, (unsigned long long)done, noun);
        if (n >= 0 && secs >= 0.1 && (size_t)n < cap)
            n += snprintf(buf + n, cap - (size_t)n, ", %.0f/s", (double)done / secs);
        return n < 0 ? 0 : (size_t)n;
    }
    char d[32], t[32], r[32];
    human_bytes(d, sizeof(d), (double)done);
    if (total) {
        human_bytes(t, sizeof(t), (double)total);
        unsigned pct = (unsigned)(done >= total ? 100 : done * 100 / total);
        n = snprintf(buf, cap, "%s: %u%% %s / %s", label, pct, d, t);
    } else {
        n = snprintf(buf, cap, "%s: %s", label, d);
    }
    if (n >= 0 && secs >= 0.1 && (size_t)n < cap) {
        human_bytes(r, sizeof(r), (double)done / secs);
        n += snprintf(buf + n, cap - (size_t)n, ", %s/s", r);
    }
    return n < 0 ? 0 : (size_t)n;
}

static void start(const char *label, uint64_t total, const char *noun)
{
    memset(&g, 0, sizeof(g));
    if (!isatty(STDERR_FILENO))
        return;
    snprintf(g.label, sizeof(g.label), "%s", label ? label : "");
    g.noun = noun;
    g.total = total;
    g.t0 = g.last = clock_mono_ns();
    g.on = true;
}

void progress_start(const char *label, uint64_t total)
{
    start(label, total, NULL);
}

void progress_start_items(const char *label, uint64_t total, const char *noun)
{
    start(label, total, noun ? noun : "items");
}

void progress_set_total(uint64_t total)
{
    g.total = total;
}

void progress_update(uint64_t done)
{
    if (!g.on)
        return;
    uint64_t t = clock_mono_ns();
    if (t - g.last < PROGRESS_INTERVAL_NS) /* and nothing in the first 100 ms: quick jobs */
        return;
    g.last = t;
    char line[320];
    progress_format(line, sizeof(line), g.label, done, g.total, g.noun, (double)(t - g.t0) / 1e9);
    /* "\r" back to the start, the text, ESC [ K erases what a longer line left */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    g.printed = true;
}

void progress_end(void)
{
    if (g.on && g.printed) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    memset(&g, 0, sizeof(g));
}
