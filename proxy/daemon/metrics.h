/* metrics.h - writing the Prometheus text exposition format (version 0.0.4) for GET /metrics.
 *
 * Names follow the Prometheus conventions: qorgau_ prefix, base units, counters end in _total.
 * The daemon's counters registered by the modes ("tap.frames", "engine.tls_malformed" ...) are
 * exported under a name derived from theirs: metrics_name(). */
#ifndef QG_METRICS_H
#define QG_METRICS_H

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

#endif
