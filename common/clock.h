/* clock.h - the monotonic clock (CLOCK_MONOTONIC: not moved by time changes) in nanoseconds and
 * milliseconds, for timeouts, intervals and rates. Wall-clock times (log lines, records) are
 * taken where they are written, with CLOCK_REALTIME. */
#ifndef QG_CLOCK_H
#define QG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000u;
}

#endif
