/* benchtime.h - the clock and the median the benchmark tools (tests/tools/bench_*.c) report. */
#ifndef QG_BENCHTIME_H
#define QG_BENCHTIME_H

#include <stddef.h>

/* CLOCK_MONOTONIC in milliseconds. */
double bench_now_ms(void);

/* The median of v[0..n) (sorts v in place); n >= 1. */
double bench_median(double *v, size_t n);

#endif
