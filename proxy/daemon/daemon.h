/* daemon.h - `qorgau run`: the long-running filter (configuration, rules, privileges, worker
 * threads, signals, reload) around one traffic mode (proxy/mode.h).
 *
 * Life cycle: load the config (proxy/daemon/settings.h) -> open the log -> load and publish the
 * rules -> mode open() as root -> drop to cfg.user keeping CAP_NET_RAW + CAP_NET_ADMIN -> start
 * cfg.workers threads -> main thread waits for signals:
 *   SIGHUP          reopen the log, reload config + rules (on any failure keep the running ones)
 *   SIGTERM/SIGINT  stop the workers, close the mode, exit 0
 * and writes a stats line every stats.interval. docs/configuration.md has the operator view. */
#ifndef QG_DAEMON_H
#define QG_DAEMON_H

/* Exit statuses besides 0 (stopped by a signal) and 1 (runtime failure). */
#define DAEMON_EXIT_USAGE     2
#define DAEMON_EXIT_NOT_BUILT 69 /* EX_UNAVAILABLE: the configured mode is not in this binary */
#define DAEMON_EXIT_CONFIG    78 /* EX_CONFIG: configuration or rule files invalid/unreadable */

/* `qorgau run -c FILE [--foreground] [--check]`; argv[0] is "run". --foreground logs to
 * standard error whatever log.file says; --check validates the config and the rule files,
 * prints the effective configuration and exits. Returns the process exit status. */
int daemon_main(int argc, char **argv);

/* `qorgau config check FILE` (same as run --check -c FILE) and `qorgau config doc` (prints the
 * key table of docs/configuration.md); argv[0] is "config". Returns the exit status. */
int daemon_config_main(int argc, char **argv);

#endif
