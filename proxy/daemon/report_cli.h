/* report_cli.h - the report commands of `qorgau` (docs/reports.md): report, deadlines, stats.
 * main.c only dispatches here. The store is found as for `qorgau order` (orders_cli.h);
 * report.deadline_days, report.timezone, report.sign_key and report.sign_cert come from -c
 * CONFIG (defaults without one). */
#ifndef QG_REPORT_CLI_H
#define QG_REPORT_CLI_H

/* argv[0] is "report", "deadlines" or "stats". Return the process exit status: 0; 1 when
 * something failed (or, for deadlines, an order is overdue or due within 48 hours without a
 * report); 2 for a usage error. */
int report_cli_report(int argc, char **argv);
int report_cli_deadlines(int argc, char **argv);
int report_cli_stats(int argc, char **argv);

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct store;
struct report_opts;

/* What `deadlines` prints, for the CLI and the admin API alike: the table (table true) or the
 * JSON object {"now_ms","timezone","alarms","orders":[...]} of the active orders not yet
 * reported (all: every active order). *alarms (if not NULL) gets the number overdue or due
 * within 48 hours without a report. Returns 0 or a negative errno with a message in err. */
int report_deadlines_write(struct store *s, const struct report_opts *ro, bool all, bool table,
                           FILE *out, size_t *alarms, char *err, size_t errlen);

#endif
