/* dnsstub.h - test helper: tests/tools/dnsstub.py (a small DNS server on loopback whose answers
 * come from a zone file read again for every query) as a child process. */
#ifndef QG_TEST_DNSSTUB_H
#define QG_TEST_DNSSTUB_H

#include <stddef.h>
#include <sys/types.h>

/* Starts `python3 script zone` (script NULL: tests/tools/dnsstub.py, relative to the tree's
 * top) and waits for the port it prints: servers (cap bytes) gets "127.0.0.1:PORT" for
 * struct resolver_config. Returns the child's pid, or -1 (servers empty) when it did not start. */
pid_t dnsstub_start(const char *script, const char *zone, char *servers, size_t cap);

/* Ends the child started by dnsstub_start() (SIGTERM, then waits for it). pid <= 0: no-op. */
void dnsstub_stop(pid_t pid);

#endif
