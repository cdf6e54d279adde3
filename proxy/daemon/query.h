/* query.h - "what would this node decide for X": one query text judged against a rule set, as
 * `qorgau query` and the admin socket answer it, and the admin socket's line protocol.
 *
 * A query is judged as the traffic it names would be:
 *   - an IPv4 or IPv6 address (brackets allowed): a flow's destination with no usable name
 *     (method "ip-fallback");
 *   - "http://host[:port]/path": an HTTP request (url entries on host + path, then domain, then
 *     the host's address if it is a literal); "https://host/...": a TLS connection to host (the
 *     path is not visible);
 *   - anything else: a host name, judged as a TLS SNI.
 * The answer is one JSON object on one line:
 *   {"query":"ex.com","verdict":"block","method":"domain","rule":"ex.com","orders":["o1"],
 *    "category":"court","judged_as":"tls","version":7}
 * or {"query":"...","error":"reason"} for a query that is not a name, URL or address.
 *
 * Line protocol (the admin API's POST /api/v1/query, docs/admin.md): the body holds one query
 * per line ('\n', a '\r' before it is dropped; the last line needs none); blanks around the
 * query are ignored; an empty line is skipped; a line longer than QUERY_LINE_MAX or holding a
 * control byte is answered with an error object. Each query is answered by exactly one line,
 * in order. */
#ifndef QG_QUERY_H
#define QG_QUERY_H

#include <stdint.h>
#include <stdio.h>

#include "proxy/judge/verdict.h"
#include "rules/match/ruleset.h"

#define QUERY_LINE_MAX 4096
/* The admin socket's query for the IP fallback report (docs/fallback.md "The report"): the
 * answer is the report, one JSON line. A name never starts with ':'. */
#define QUERY_FALLBACK ":fallback"

enum query_line { QUERY_LINE_OK = 0, QUERY_LINE_EMPTY, QUERY_LINE_BAD };

/* Checks one line (without its '\n') of the protocol: QUERY_LINE_OK with the query's span in
 * *q / *qlen (inside line); QUERY_LINE_EMPTY; QUERY_LINE_BAD with a reason in *why (static).
 * Reads nothing past line[len - 1]. */
enum query_line query_line_parse(const char *line, size_t len, const char **q, size_t *qlen,
                                 const char **why);

/* Judges q[0..len) against rs (NULL: nothing is enforced) under pol and writes the answer line
 * (with its '\n') to out. version is reported as the set's version. Returns 0 for an answer,
 * -EINVAL when the query was not understood (an error object was written). */
int query_judge(const struct ruleset *rs, const struct verdict_policy *pol, uint64_t version,
                const char *q, size_t len, FILE *out);

/* Answers the query q[0..len) (already checked by query_line_parse()) with one line to out. */
typedef void (*query_answer_fn)(void *ctx, const char *q, size_t len, FILE *out);

/* The line protocol over buf[0..len): every line answered in order through fn (or with an error
 * object). Returns the number of lines answered. */
size_t query_lines(const char *buf, size_t len, query_answer_fn fn, void *ctx, FILE *out);

/* Writes an error object {"query":...,"error":why} and a '\n'. */
void query_error(FILE *out, const char *q, size_t len, const char *why);

#endif
