/* report_render.h - the report model (report.h) as HTML, JSON or CSV.
 *
 * HTML: one self-contained printable page (inline CSS, no script, no external resource) with
 * labels in Russian, Kazakh or English, every text of the order escaped, and lines for the
 * compliance officer's signature. JSON: every field of the model, for the operator's own
 * systems (keys in docs/reports.md; times as milliseconds since the epoch). CSV (RFC 4180,
 * CRLF line ends, fields quoted when they hold ',', '"', CR or LF): one row per resource, the
 * rejected ones included, with a fixed English header. Times in HTML and CSV are local times
 * of the report's zone ("2026-02-04 19:00:00 +05:00"). */
#ifndef QG_REPORT_RENDER_H
#define QG_REPORT_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "rules/report/report.h"

enum report_lang { REPORT_RU = 0, REPORT_KK, REPORT_EN };
enum report_format { REPORT_HTML = 0, REPORT_JSON, REPORT_CSV };

/* "ru" / "kk" / "en"; "html" / "json" / "csv". Return false for anything else. */
bool report_lang_parse(const char *s, enum report_lang *l);
bool report_format_parse(const char *s, enum report_format *f);

/* Writes the report. Returns 0 or -EIO (a write failed). */
int report_render(FILE *f, const struct report *r, enum report_format fmt, enum report_lang lang);

/* The pieces, for tests and for the other documents (stats): text escaped for HTML (& < > " '),
 * and one CSV field (quoted when needed). */
void report_html_text(FILE *f, const char *s);
void report_csv_field(FILE *f, const char *s);

/* The label key in lang ("title", "deadline", ...; docs/reports.md), or key itself if unknown. */
const char *report_label(const char *key, enum report_lang lang);

/* The shared page head (doctype, meta, inline CSS, <title>) and foot of the HTML documents. */
void report_html_head(FILE *f, const char *title, enum report_lang lang);
void report_html_foot(FILE *f);

/* Formats ms since the epoch as local time of zone (deadline_local_format), "" for 0. */
void report_time(uint64_t ms, const char *zone, char out[40]);

#endif
