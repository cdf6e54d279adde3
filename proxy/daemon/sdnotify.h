/* sdnotify.h - the service manager's notification protocol, the part of sd_notify(3) and
 * sd_watchdog_enabled(3) the daemon uses, written here (systemd documents the protocol as
 * stable and meant to be reimplemented: sd_notify(3), "Notes"; libsystemd would bring five
 * more libraries into every command's start-up).
 *
 *   $NOTIFY_SOCKET  "/path" (a Unix socket in the file system) or "@name" (abstract: the '@'
 *                   stands for the leading NUL); each message is one datagram of
 *                   newline-separated VAR=value lines ("READY=1\nSTATUS=...").
 *   $WATCHDOG_USEC  the watchdog interval in microseconds (decimal, 1 .. 2^64-2);
 *   $WATCHDOG_PID   when set, the process the watchdog is for (another one: not this one).
 *
 * The kernel attaches the sender's credentials to the datagram (the manager sets SO_PASSCRED),
 * which is how systemd knows the message comes from the service's main process. */
#ifndef QG_SDNOTIFY_H
#define QG_SDNOTIFY_H

#include <stdint.h>
#include <sys/types.h>

/* Sends msg as one datagram to $NOTIFY_SOCKET. Returns 1 when sent, 0 when $NOTIFY_SOCKET is
 * unset (no manager listens: nothing to do), -EINVAL when it is neither an absolute path nor
 * "@name" or too long for a socket address, or the negative errno of socket()/sendto(). */
int sdnotify_send(const char *msg);

/* sdnotify_send() of a printf-formatted message (-ENOMEM when it cannot be formatted). */
int sdnotify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether the manager asks this process (self) for watchdog pings, from the two variables'
 * values (either may be NULL: unset). Returns 1 with *usec set; 0 when usec_s is NULL or
 * pid_s names another process; -EINVAL when usec_s is not a decimal number in 1 .. 2^64-2 or
 * pid_s is not a positive decimal process id (-ERANGE when one is out of range). */
int sdnotify_watchdog_parse(const char *usec_s, const char *pid_s, pid_t self, uint64_t *usec);

/* sdnotify_watchdog_parse() of $WATCHDOG_USEC and $WATCHDOG_PID for this process. */
int sdnotify_watchdog(uint64_t *usec);

#endif
