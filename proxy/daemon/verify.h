/* verify.h - `qorgau verify`: checks every resource of an order from a probe point on the
 * subscriber side (docs/verify.md). For each resource it sends what a client would (HTTP GET to
 * port 80, a post-quantum-size TLS ClientHello to 443, two QUIC Initials to UDP 443, or for an
 * IP resource a connection to 443 and 80), reads the answer with proxy/daemon/probe.h and
 * writes one JSON document (or a table) of blocked / not blocked / inconclusive with times.
 *
 * Exit status: 0 every probe blocked; 1 some probe not blocked (an "alarm" line on stderr per
 * probe); 2 usage; 3 no probe could decide (errors, timeouts) or the order/store is missing. */
#ifndef QG_VERIFY_H
#define QG_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proxy/daemon/probe.h"

#define VERIFY_USAGE   2
#define VERIFY_NOTHING 3

/* One probe's line of the report. */
struct verify_result {
    const char *resource; /* normalized resource text (points into the order) */
    const char *probe;    /* "http", "tls", "quic", "tcp" */
    char target[64];      /* "10.0.0.1:443", "[fd00::1]:443", or the name when unresolved */
    struct probe_verdict v;
    uint64_t time_ms;    /* when the probe started, ms since the epoch */
    uint64_t elapsed_ms; /* how long it took */
};

/* The report of one run. */
struct verify_report {
    const char *order;
    uint64_t time_ms;
    const char *via; /* NULL: each name's own address */
    struct verify_result *r;
    size_t n;
};

/* Writes the report as one JSON document (docs/verify.md), newline-terminated. */
void verify_write_json(FILE *f, const struct verify_report *rep);

/* Writes the report as a table for people. */
void verify_write_text(FILE *f, const struct verify_report *rep);

/* The exit status for rep (see above) and, for each probe not blocked, an alarm line on err. */
int verify_status(const struct verify_report *rep, FILE *err);

/* argv[0] is "verify". Returns the exit status. */
int verify_cli(int argc, char **argv);

#endif
