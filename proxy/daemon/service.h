/* service.h - the daemon's side of the systemd service protocol (sd_notify(3)).
 *
 * Readiness, status, reload and stop notices go to $NOTIFY_SOCKET (nothing happens when it is
 * unset: a daemon started by hand or by another supervisor). The watchdog (WatchdogSec= in the
 * unit: $WATCHDOG_USEC and $WATCHDOG_PID) is a thread that sends WATCHDOG=1 every half
 * interval, but only while the process is alive where it matters:
 *   - every worker's heartbeat counter (service_beats(), bumped by the mode's run_worker() each
 *     turn of its loop, see mode.h daemon_beat()) advanced since the previous check;
 *   - the main thread advanced its own counter (service_main_beat(), its loop wakes at least
 *     every service_wake_ms()) or is inside a long step it announced (service_busy(): start-up,
 *     a reload compiling a large set).
 * A stalled worker or main loop stops the pings and systemd restarts the service after
 * WatchdogSec. A worker whose counter never moved is taken as a mode that does not report
 * heartbeats: it is logged once and not held against the pings (the main thread still stops
 * the daemon when a worker thread ends). */
#ifndef QG_SERVICE_H
#define QG_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

struct service;

/* State for nworkers workers. Reads $WATCHDOG_USEC/$WATCHDOG_PID now. NULL when out of memory.
 * lg (may be NULL) gets the watchdog's notes; it must outlive service_free(). */
struct service *service_new(unsigned nworkers, struct log *lg);

/* Starts the watchdog thread when systemd asked for one. Returns 0 or a negative errno. */
int service_start(struct service *s);

/* Stops and joins the watchdog thread, frees s. NULL is allowed. */
void service_free(struct service *s);

/* The watchdog interval in microseconds, 0 when there is no watchdog. */
uint64_t service_watchdog_usec(const struct service *s);

/* How often the main loop must call service_main_beat(), in ms (-1: no need). */
int service_wake_ms(const struct service *s);

/* The workers' heartbeat counters, [0 .. nworkers). */
_Atomic uint64_t *service_beats(struct service *s);

/* The workers were started: from now on their counters are checked. */
void service_running(struct service *s);

/* The main loop's heartbeat. */
void service_main_beat(struct service *s);

/* The main thread enters (true) or leaves (false) a step that may outlast the interval. */
void service_busy(struct service *s, bool busy);

/* One watchdog check (what the thread does every half interval): true when every worker that
 * reports heartbeats advanced and the main thread advanced or is busy; remembers the counters
 * for the next check. Exposed for tests. */
bool service_check(struct service *s);

/* READY=1 with STATUS=status. */
void service_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC=now (a reload began; service_ready() ends it). */
void service_reloading(void);

/* STOPPING=1. */
void service_stopping(void);

/* STATUS=status alone. */
void service_status(const char *status);

#endif
