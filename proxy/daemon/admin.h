/* admin.h - the node's local admin socket: a Unix stream socket, owner-only (0600), on which
 * `qorgau query -c CONFIG` asks the running node what it decides right now.
 *
 * Protocol (query.h): one query per line, one JSON line back per query, in order; the
 * connection stays open until the client closes it or stays silent for ADMIN_IDLE_MS. One
 * thread serves one connection at a time (the socket is a tool for operators and tests, not a
 * service). The answer comes from the handler callback, so the HTTP admin API can reuse it. */
#ifndef QG_ADMIN_H
#define QG_ADMIN_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/log.h"

#define ADMIN_SOCKET_NAME "admin.sock"
#define ADMIN_IDLE_MS     10000

/* Answers the query q[0..len) (already checked by query_line_parse()) by writing one line to
 * out. Called from the admin thread. */
typedef void (*admin_query_fn)(void *ctx, const char *q, size_t len, FILE *out);

struct admin;

/* Binds path (an existing socket file there is replaced), mode 0600, owned by uid/gid when
 * they are not -1 (the user the daemon switches to). Returns the handle (not serving yet) or
 * NULL with "admin: PATH: reason" in err. */
struct admin *admin_new(const char *path, uid_t uid, gid_t gid, admin_query_fn fn, void *ctx,
                        struct log *lg, char *err, size_t errlen);

/* Starts the serving thread. Returns 0 or a negative errno. */
int admin_start(struct admin *a);

/* Stops the thread, closes and removes the socket, frees a. NULL is a no-op. */
void admin_free(struct admin *a);

/* Serves one connected socket until the peer closes it or is idle (used by the thread; exposed
 * for tests). Returns the number of queries answered. */
size_t admin_serve_fd(int fd, admin_query_fn fn, void *ctx);

/* Client side: connects to path, writes each query of q[0..n) as a line and copies the answer
 * lines to out. Returns 0 or a negative errno with "admin: PATH: reason" in err. */
int admin_ask(const char *path, const char *const *q, size_t n, FILE *out, char *err,
              size_t errlen);

#endif
