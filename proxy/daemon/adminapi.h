/* adminapi.h - the node's admin API endpoints (docs/admin.md), mounted on the admin listener
 * (adminhttp.h):
 *   GET  /metrics                 Prometheus text format (scope metrics)
 *   GET  /api/v1/status[?order=]  this node, and the fleet as `qorgau status [ORDER]` shows it
 *   GET  /api/v1/ready            200 {"ready":true} while the workers judge traffic, else 503
 *   GET  /api/v1/query?q=NAME     what this node decides for NAME (query.h), one JSON line
 *   POST /api/v1/query            the line protocol: one query per body line, one answer each
 *   GET  /api/v1/orders           {"orders":[...]} as `qorgau order list`
 *   GET  /api/v1/orders/ID        as `qorgau order show ID`
 *   GET  /api/v1/deadlines        as `qorgau deadlines --format json` (?all=1: reported too)
 *   GET  /api/v1/stats?from=&to=  as `qorgau stats --format json`
 *   GET  /api/v1/decisions?n=     the last decisions of the workers
 *   GET  /api/v1/top?n=           the most blocked names
 *   GET  /api/v1/alarms           store down, fail-static, nodes down or lagging, verification
 *                                 that found a resource open, deadlines overdue
 *   GET  / and /dashboard         the dashboard page (self-contained HTML)
 * Everything but /metrics needs scope "read" over TCP. The store is opened per request (the
 * API is for people and scrapers, not for the packet path). */
#ifndef QG_ADMINAPI_H
#define QG_ADMINAPI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "proxy/daemon/adminhttp.h"
#include "proxy/daemon/query.h"
#include "rules/report/report.h"
#include "rules/store/store.h"

struct rsref;
struct follower;
struct decisions;

/* What the endpoints read; owned by the daemon, alive until the listener is freed. */
struct adminapi_src {
    const char *node_id;
    const char *mode;
    /* copies: the configuration they come from is replaced on reload */
    char store_url[STORE_PATH_MAX + 512];
    char password_file[1100];
    /* deadline days and time zone: set by adminapi_mount() from these two, replaced by
     * adminapi_set_report() at a reload, read by the endpoints under ro_lock */
    char tz[64];           /* ro.tz points here */
    struct report_opts ro; /* deadline days and time zone */
    pthread_mutex_t ro_lock;
    unsigned workers;
    uint64_t started_ms; /* wall clock */
    /* wall clock when the workers began judging traffic; 0 while they do not (the listener
     * opens before the capture, the queue and the workers; it answers while they stop).
     * Written by adminapi_set_ready(), read by the endpoints. */
    _Atomic uint64_t ready_ms;
    struct rsref *rules;
    struct follower *fol; /* NULL: none */
    struct decisions *decisions;
    query_answer_fn query; /* answers one query (the daemon's, with its policy) */
    /* writes the daemon's own metric families (worker counters, notice server ...) */
    void (*metrics)(void *ctx, FILE *f);
    /* 1 when the subscriber map runs from its fail-static copy, 0 not, -1 no map followed
     * (NULL: none) */
    int (*subs_failstatic)(void *ctx);
    /* what the last read of the kernel's rules that hand traffic to the workers found
     * (feedrules.h): *unfed the workers' queues no rule feeds, or 1 when no rule diverts to the
     * inline proxy; *stray rules feeding queues no worker reads. NULL: none. */
    void (*feed)(void *ctx, uint64_t *unfed, uint64_t *stray);
    void *ctx;
    struct adminhttp *http; /* its counters go to /metrics too */
};

/* Mounts every endpoint above on h. Returns 0 or a negative errno. */
int adminapi_mount(struct adminhttp *h, struct adminapi_src *src);

/* Replaces the report settings the endpoints use (report.deadline_days, report.timezone: a
 * reload). Safe while requests are answered: each request reads them once, under a lock. */
void adminapi_set_report(struct adminapi_src *src, unsigned deadline_days, const char *tz);

/* Readiness: ready true when the workers run (the daemon's "started"), false when they begin
 * to stop. Safe while requests are answered. */
void adminapi_set_ready(struct adminapi_src *src, bool ready);

/* The dashboard page (static, self-contained). */
extern const char adminapi_dashboard_html[];

#endif
