/* parents_api.h - the parents API of the admin HTTP API (mounted at /api/v1/parents/): a
 * child's tariff settings and the day's blocked attempts per category (docs/profiles.md).
 *
 *   GET    SUB                 {"subscriber","profile","allow":[..],"deny":[..],"schedules":[..]}
 *   PUT    SUB                 the same object (fields left out: none); replaces the settings
 *   DELETE SUB                 removes them (the default profile again)
 *   GET    SUB/profile|allow|deny|schedules    one field: {"profile":"child"}, {"allow":[..]}
 *   PUT    SUB/profile|allow|deny|schedules    replaces that field only
 *   GET    SUB/summary?day=YYYY-MM-DD          {"day","blocked":{"CATEGORY":N,..},"total":N}
 *
 * Schedules are profile.h's "CATEGORIES@DAYS/HH:MM-HH:MM" strings. Changes go to the store's
 * tariff records, whose change stream every node follows (within a second). The summary counts
 * blocked attempts per category only, never sites: the sum over the nodes of their counters
 * (documents "tariffsum" "PSEUDONYM:DAY:NODE", written by each node's heartbeat). Errors are
 * {"error": "..."} with 400 (bad input, naming the field or JSON position), 404, 405, 503 (the
 * store cannot be reached). */
#ifndef QG_PARENTS_API_H
#define QG_PARENTS_API_H

#include "proxy/daemon/api.h"
#include "rules/store/store.h"
#include "rules/subs/pseudo.h"

struct parents_api;

/* A handler over store s (taken over: freed with the handler) and the pseudonym key ps
 * (borrowed; the same secret as the nodes', so the summary finds their counters). NULL on
 * allocation failure. */
struct parents_api *parents_api_new(struct store *s, const struct pseudo *ps);
/* A handler that opens the store at url itself (password_file may be NULL or ""), at its first
 * request and again after a request the store failed (answered 503 meanwhile), so a node
 * starts and serves its other endpoints while the store is down. NULL on allocation failure. */
struct parents_api *parents_api_open(const char *url, const char *password_file,
                                     const struct pseudo *ps);
void parents_api_free(struct parents_api *a);

/* The api_handler_fn (ctx: the parents_api). Any thread; requests are serialized. */
void parents_api_handle(void *ctx, const struct api_req *req, struct api_resp *resp);

#endif
