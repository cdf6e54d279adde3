/* log.h - JSON-lines logger for the daemon.
 *
 * One object per line, written with one write(2) so lines of different threads never mix:
 *
 *     {"ts":"2026-03-01T10:00:00.123Z","level":"info","module":"daemon","msg":"reloaded","version":2}
 *
 * ts is UTC, RFC 3339 with milliseconds; then level, module, msg and the caller's key/values in
 * order. A line longer than LOG_LINE_MAX keeps every key/value that fits and ends with
 * "truncated":true. Block-decision lines go through log_block(), a token bucket of
 * block_rate lines per second (burst: one second's worth); lines over the rate are counted, and
 * the next line that gets through carries "suppressed":N (log_flush_suppressed() writes the
 * count on its own line, for the periodic stats tick). Thread-safe; log_reopen() (SIGHUP,
 * logrotate) may run while other threads write. */
#ifndef QG_LOG_H
#define QG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOG_LINE_MAX 4096

/* Same order as enum config_log_level. */
enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

enum log_kv_type { LOG_KV_STR = 0, LOG_KV_INT, LOG_KV_UINT, LOG_KV_DOUBLE, LOG_KV_BOOL };

/* One key/value. Strings are borrowed for the call; NULL strings are written as null. */
struct log_kv {
    const char *key;
    enum log_kv_type type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
        bool b;
    } v;
};

#define LOG_S(k, x) ((struct log_kv){ .key = (k), .type = LOG_KV_STR, .v.s = (x) })
#define LOG_I(k, x) ((struct log_kv){ .key = (k), .type = LOG_KV_INT, .v.i = (int64_t)(x) })
#define LOG_U(k, x) ((struct log_kv){ .key = (k), .type = LOG_KV_UINT, .v.u = (uint64_t)(x) })
#define LOG_D(k, x) ((struct log_kv){ .key = (k), .type = LOG_KV_DOUBLE, .v.d = (double)(x) })
#define LOG_B(k, x) ((struct log_kv){ .key = (k), .type = LOG_KV_BOOL, .v.b = (x) })
/* Expands to the (kv, n) argument pair: log_write(l, lv, "m", "msg", LOG_KV(LOG_U("n", 1))). */
#define LOG_KV(...)                         \
    (const struct log_kv[]){ __VA_ARGS__ }, \
        (sizeof((const struct log_kv[]){ __VA_ARGS__ }) / sizeof(struct log_kv))

struct log;

/* Milliseconds since the Unix epoch; used for ts and the rate limiter. */
typedef uint64_t (*log_clock_fn)(void *ctx);

/* Opens path for appending (created 0640), or standard error when path is "-". Returns the
 * logger, or NULL with "log: PATH: reason" in err. block_rate 0 = no limit. */
struct log *log_new(const char *path, enum log_level level, uint32_t block_rate, char *err,
                    size_t errlen);

/* Writes a pending "suppressed" count, closes the file (never standard error), frees l. NULL is
 * a no-op. No other thread may use l any more. */
void log_free(struct log *l);

/* Opens path (NULL: the current path) again and switches to it; the old file is closed. On
 * failure the old file stays in use and a negative errno is returned (message in err). */
int log_reopen(struct log *l, const char *path, char *err, size_t errlen);

/* Gives the current file (not standard error) to uid:gid, so that a daemon that drops root can
 * still reopen it after a rotation. Returns 0 or a negative errno. */
int log_chown(struct log *l, uid_t uid, gid_t gid);

void log_set_level(struct log *l, enum log_level level);
void log_set_block_rate(struct log *l, uint32_t per_s);

/* Replaces the clock (tests). Not thread-safe: call before other threads log. */
void log_set_clock(struct log *l, log_clock_fn fn, void *ctx);

/* True when a line of this level would be written. */
bool log_enabled(const struct log *l, enum log_level level);

/* Writes one line when level passes the filter. module and msg must not be NULL. */
void log_write(struct log *l, enum log_level level, const char *module, const char *msg,
               const struct log_kv *kv, size_t n);

/* Same with a printf-formatted msg (formatted text longer than 1 KiB is cut) and no key/values. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void log_writef(struct log *l, enum log_level level, const char *module, const char *fmt, ...);

/* A block-decision line (level info) through the rate limiter. Returns true if written, false if
 * suppressed (counted) or filtered by level. */
bool log_block(struct log *l, const char *module, const char *msg, const struct log_kv *kv,
               size_t n);

/* If lines were suppressed since the last written block line, writes
 * {"module":"log","msg":"block lines suppressed","suppressed":N} and returns N; else 0. */
uint64_t log_flush_suppressed(struct log *l);

/* Lines that could not be written (write(2) failed), since log_new(). */
uint64_t log_write_errors(const struct log *l);

/* From now on block lines (log_block) are queued in a bounded ring and written by a writer
 * thread of l's own, so the threads that log them never wait for the disk; a full ring drops
 * the line (log_queue_drops). Other lines are still written by the calling thread. Call once,
 * before the threads that log blocks start. Returns 0 or a negative errno. log_free() writes
 * what is queued, then stops the thread. */
int log_start_async(struct log *l);

/* Waits until every block line queued before the call is written (no-op when not async). */
void log_flush(struct log *l);

/* Block lines dropped because the ring was full, since log_start_async(). */
uint64_t log_queue_drops(const struct log *l);

#endif
