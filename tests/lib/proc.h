/* proc.h - test helper: the clock, sleeping, a free loopback port, and stopping a server the
 * test started (by its PID). */
#ifndef QG_TEST_PROC_H
#define QG_TEST_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t proc_mono_ms(void);

void proc_sleep_ms(unsigned ms);

/* A TCP port on 127.0.0.1 free at the time of the call (bound, read back, released); aborts
 * when no socket can be bound. */
uint16_t proc_free_port(void);

/* SIGKILLs *p when it is set, reaps it and clears it. */
void proc_stop(pid_t *p);

#endif
