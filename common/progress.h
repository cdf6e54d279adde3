/* progress.h - one updating progress line on standard error for long jobs (`qorgau scan` of a
 * large capture, `qorgau order import` of a large dump).
 *
 * Only when standard error is a terminal (isatty(2) at progress_start()); otherwise every call
 * does nothing, so logs and pipes never see a carriage return. The line is rewritten in place
 * ("\r" + text + erase to the end of the line) at most 10 times a second, and erased by
 * progress_end(). One line per process: not thread-safe, one job at a time. */
#ifndef QG_PROGRESS_H
#define QG_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* Starts a job counting bytes: label ("scan capture.pcap"), total bytes (0: unknown). */
void progress_start(const char *label, uint64_t total);

/* Starts a job counting items named noun ("records", "files"): total 0 when unknown. */
void progress_start_items(const char *label, uint64_t total, const char *noun);

/* Sets the total of the running job once it is known (0: unknown). */
void progress_set_total(uint64_t total);

/* done units so far; printed when 100 ms have passed since the last line (or the start: a job
 * shorter than that prints nothing). Cheap: a flag when not on a terminal, else a clock read. */
void progress_update(uint64_t done);

/* Erases the line (when one was printed) and ends the job. */
void progress_end(void);

/* The text of a line (no "\r", no escape): "LABEL: 42% 12.0 MiB / 28.5 MiB, 3.1 MiB/s" or
 * "LABEL: 1234 / 5000 records" or, total unknown, "LABEL: 1234 records". secs is the time since
 * the start (the rate is left out below 0.1 s). Returns the length snprintf would write. */
size_t progress_format(char *buf, size_t cap, const char *label, uint64_t done, uint64_t total,
                       const char *noun, double secs);

#endif
