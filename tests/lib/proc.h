/* proc.h - test helper: the clock, sleeping, a free loopback port, and stopping a server the
 * test started (by its PID). */
#ifndef QG_TEST_PROC_H
#define QG_TEST_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t proc_mono_ms(void);

void proc_sleep_ms(unsigned ms);

/* A TCP port on 127.0.0.1 free at the time of the call (bound, read back, released); aborts
 * when no socket can be bound. */
uint16_t proc_free_port(void);

/* Runs cmd (a shell command line) and puts what it prints on standard output into out (at most
 * cap - 1 bytes, NUL-terminated; "" when it cannot be run). Returns out. */
char *proc_output(const char *cmd, char *out, size_t cap);

/* SIGKILLs *p when it is set, reaps it and clears it. */
void proc_stop(pid_t *p);

#endif
