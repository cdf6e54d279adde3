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

#endif
