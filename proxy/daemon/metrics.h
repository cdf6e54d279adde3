/* metrics.h - writing the Prometheus text exposition format (version 0.0.4) for GET /metrics.
 *
 * Names follow the Prometheus conventions: qorgau_ prefix, base units, counters end in _total.
 * The daemon's counters registered by the modes ("tap.frames", "engine.tls_malformed" ...) are
 * exported under a name derived from theirs: metrics_name(). */
#ifndef QG_METRICS_H
#define QG_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* # HELP and # TYPE lines of name (type "counter", "gauge" ...). */
void metrics_head(FILE *f, const char *name, const char *type, const char *help);

/* A label value, quoted and escaped (\\, \", \n) as the format wants. */
void metrics_label(FILE *f, const char *s);

/* One sample without labels. */
void metrics_value(FILE *f, const char *name, uint64_t v);

/* "tap.frames" -> "qorgau_tap_frames_total" (counter) or "qorgau_tap_frames" (gauge): every
 * byte outside [a-zA-Z0-9_] becomes '_'. "tap.bytes" keeps its unit: "qorgau_tap_bytes_total".
 * Returns 0, or -1 when out is too small. */
int metrics_name(const char *counter, int gauge, char *out, size_t outlen);

/* One worker's registered counters (proxy/daemon/mode.h: daemon_counters_fn). */
struct metrics_set {
    unsigned worker;
    const char *const *names;
    _Atomic uint64_t *values;
    size_t n;
};

/* Writes every counter name of sets[0..nsets) twice, each family with its HELP and TYPE: summed
 * over the workers as qorgau_NAME_total, then per worker as qorgau_worker_NAME_total{worker="I"}.
 * A name "FAMILY/VALUE" is the sample {reason="VALUE"} of the family FAMILY (its names must be
 * registered next to each other). Names for which is_gauge() says so are gauges (no _total).
 * Values are read with relaxed atomic loads: the workers are never stopped. */
void metrics_counters(FILE *f, const struct metrics_set *sets, size_t nsets,
                      int (*is_gauge)(const char *name));

#endif
