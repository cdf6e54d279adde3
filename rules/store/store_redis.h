/* store_redis.h - the Redis store (hiredis), directly or through Sentinel.
 *
 * Keys (prefix P, default "qorgau:"), all written by one Lua script per change:
 *     P:version          string, the current version
 *     P:orders           set of every order id
 *     P:order:<id>       hash: record, state (active|revoked), version, updated
 *     P:changes          stream, entry id "<version>-0": version kind urgent time ids
 *     P:nodes            set of node ids
 *     P:node:<id>        hash: version, since, heartbeat, ttl
 *     P:node:<id>:alive  string with a TTL: present while the node's heartbeat is fresh
 * and the subscriber map (one MULTI/EXEC per batch, docs/subscribers.md):
 *     P:sub:ip:<addr>    string with the mapping's TTL: "<subscriber> <session|-> <updated>"
 *     P:sub:changes      stream, one entry per batch: n, changes ("set|del ..." lines) */
#ifndef QG_STORE_REDIS_H
#define QG_STORE_REDIS_H

#include <stddef.h>

#include "rules/store/store.h"

/* Connects to u (redis:// or sentinel://), authenticating with password when not NULL (the
 * password is kept in the handle for reconnections, never printed). */
struct store *store_redis_open(const struct store_url *u, const struct store_opts *o,
                               const char *password, char *err, size_t errlen);

#endif
