/* stats.h - figures over the orders received in a period: `qorgau stats`.
 *
 * Orders whose received time falls on local days from..to (inclusive, report.timezone):
 * how many, resources restricted by category, by legal basis and by method, deadlines met,
 * missed and pending, and orders received per day. Rendered as JSON, or as a self-contained
 * HTML page whose charts are inline SVG drawn from the figures (no script, nothing external). */
#ifndef QG_STATS_H
#define QG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "rules/report/report.h"
#include "rules/report/report_render.h"

/* One named count. */
struct stats_count {
    char *name;
    uint64_t n;
};

struct stats_table {
    struct stats_count *v;
    size_t n;
};

struct stats {
    struct deadline_date from, to;
    char tz[64];
    uint64_t orders, restrict_orders, restore_orders, resources, rejected;
    uint64_t met, missed, pending, hits;
    struct stats_table by_category, by_basis, by_method, by_day; /* by_day: "YYYY-MM-DD" */
};

/* Adds one report (already known to fall in the period) to st. Returns 0 or -ENOMEM. */
int stats_add(struct stats *st, const struct report *r);

/* Builds st from every order of the store received in [from, to] (local dates in opt->tz).
 * Returns 0 or a negative errno with a message. */
int stats_collect(struct store *s, const struct deadline_date *from, const struct deadline_date *to,
                  const struct report_opts *opt, struct stats *st, char *err, size_t errlen);

/* Parses "YYYY-MM-DD" (a real date). Returns 0 or -EINVAL. */
int stats_date_parse(const char *s, struct deadline_date *d);

void stats_free(struct stats *st);

/* Writes st. Returns 0 or -EIO. */
int stats_render(FILE *f, const struct stats *st, enum report_format fmt, enum report_lang lang);

#endif
