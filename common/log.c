/* log.c - JSON-lines logger (see log.h).
 *
 * Each line is built in a stack buffer and handed to one write(2) on an O_APPEND descriptor, so
 * concurrent lines never interleave. Writers hold a read lock on the descriptor; log_reopen()
 * takes the write lock only to swap it, so a rotation never loses or splits a line.
 *
 * Block lines come from packet workers, which must never wait on the log: the rate limiter is
 * one atomic word (compare-and-swap), and after log_start_async() the formatted line goes into
 * a bounded multi-producer ring (per-slot sequence numbers, as in Vyukov's bounded queue) that
 * one writer thread drains; a full ring drops the line and counts it. */
#include "common/log.h"
#include "common/jsonw.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/compiler.h"

#define TRUNC_TAIL ",\"truncated\":true}\n"

struct log {
    pthread_rwlock_t fd_lock; /* read: writing a line; write: swapping fd */
    int fd;
    char *path;
    _Atomic int level;
    _Atomic uint64_t write_errors;

    log_clock_fn clock;
    void *clock_ctx;

    /* token bucket: (ms since base_ms) << 32 | milli-tokens (1000 per line), one CAS per line */
    _Atomic uint32_t rate; /* lines per second; 0 = unlimited */
    _Atomic uint64_t bucket;
    uint64_t base_ms;
    _Atomic uint64_t suppressed;

    /* asynchronous block lines (log_start_async) */
    struct log_slot *ring;
    _Atomic uint64_t enq, deq_done; /* next position to claim; positions written out */
    uint64_t deq;                   /* writer thread: next position to write */
    _Atomic uint64_t queue_drops;
    _Atomic bool stop;
    bool async;
    pthread_t writer;
};

#define LOG_RING 256 /* slots; 1 MiB */

struct log_slot {
    _Atomic uint64_t seq; /* == position: free for it; == position + 1: holds its line */
    uint32_t len;
    char line[LOG_LINE_MAX];
};

static uint64_t real_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int open_path(const char *path)
{
    if (strcmp(path, "-") == 0)
        return STDERR_FILENO;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    return fd < 0 ? -errno : fd;
}

struct log *log_new(const char *path, enum log_level level, uint32_t block_rate, char *err,
                    size_t errlen)
{
    struct log *l = calloc(1, sizeof(*l));
    char *p = strdup(path);
    if (!l || !p) {
        snprintf(err, errlen, "log: %s: out of memory", path);
        goto fail;
    }
    int fd = open_path(path);
    if (fd < 0) {
        snprintf(err, errlen, "log: %s: cannot open: %s", path, strerror(-fd));
        goto fail;
    }
    if (pthread_rwlock_init(&l->fd_lock, NULL) != 0) {
        snprintf(err, errlen, "log: %s: cannot create a lock", path);
        if (fd != STDERR_FILENO)
            close(fd);
        goto fail;
    }
    l->fd = fd;
    l->path = p;
    atomic_init(&l->level, (int)level);
    atomic_init(&l->write_errors, 0);
    l->clock = real_clock;
    l->base_ms = real_clock(NULL);
    atomic_init(&l->rate, block_rate);
    atomic_init(&l->bucket, (uint64_t)block_rate * 1000u);
    atomic_init(&l->suppressed, 0);
    return l;
fail:
    free(p);
    free(l);
    return NULL;
}

void log_free(struct log *l)
{
    if (!l)
        return;
    if (l->async) {
        atomic_store(&l->stop, true);
        pthread_join(l->writer, NULL); /* writes what is queued first */
    }
    log_flush_suppressed(l);
    if (l->fd != STDERR_FILENO)
        close(l->fd);
    pthread_rwlock_destroy(&l->fd_lock);
    free(l->ring);
    free(l->path);
    free(l);
}

int log_reopen(struct log *l, const char *path, char *err, size_t errlen)
{
    const char *p = path ? path : l->path;
    char *np = strdup(p);
    if (!np) {
        snprintf(err, errlen, "log: %s: out of memory", p);
        return -ENOMEM;
    }
    int fd = open_path(p);
    if (fd < 0) {
        snprintf(err, errlen, "log: %s: cannot open: %s", p, strerror(-fd));
        free(np);
        return fd;
    }
    pthread_rwlock_wrlock(&l->fd_lock);
    int old = l->fd;
    l->fd = fd;
    free(l->path);
    l->path = np;
    pthread_rwlock_unlock(&l->fd_lock);
    if (old != STDERR_FILENO && old != fd)
        close(old);
    return 0;
}

int log_chown(struct log *l, uid_t uid, gid_t gid)
{
    pthread_rwlock_rdlock(&l->fd_lock);
    int rc = 0;
    if (l->fd != STDERR_FILENO && fchown(l->fd, uid, gid) != 0)
        rc = -errno;
    pthread_rwlock_unlock(&l->fd_lock);
    return rc;
}

void log_set_level(struct log *l, enum log_level level)
{
    atomic_store(&l->level, (int)level);
}

void log_set_block_rate(struct log *l, uint32_t per_s)
{
    atomic_store(&l->rate, per_s);
    uint64_t cap = (uint64_t)per_s * 1000u, old = atomic_load(&l->bucket), nw;
    do {
        uint64_t tokens = old & 0xffffffffu;
        nw = (old & ~(uint64_t)0xffffffffu) | (tokens > cap ? cap : tokens);
    } while (!atomic_compare_exchange_weak(&l->bucket, &old, nw));
}

void log_set_clock(struct log *l, log_clock_fn fn, void *ctx)
{
    l->clock = fn ? fn : real_clock;
    l->clock_ctx = ctx;
    l->base_ms = l->clock(l->clock_ctx);
    atomic_store(&l->bucket, atomic_load(&l->bucket) & 0xffffffffu); /* last refill: now */
}

bool log_enabled(const struct log *l, enum log_level level)
{
    return (int)level <= atomic_load(&l->level);
}

uint64_t log_write_errors(const struct log *l)
{
    return atomic_load(&l->write_errors);
}

/* ---- line building ---- */

struct lbuf {
    char b[LOG_LINE_MAX];
    size_t n;
    size_t limit; /* LOG_LINE_MAX minus room for the truncation tail */
    bool over;
};

static void put(struct lbuf *lb, const char *s, size_t len)
{
    if (lb->over || len > lb->limit - lb->n) {
        lb->over = true;
        return;
    }
    memcpy(lb->b + lb->n, s, len);
    lb->n += len;
}

static void puts_(struct lbuf *lb, const char *s)
{
    put(lb, s, strlen(s));
}

/* A JSON string, escaped by jsonw_piece() with the short escapes for '\n' and '\t'. */
static void put_str(struct lbuf *lb, const char *s, size_t len)
{
    char esc[JSONW_ESC_MAX];
    size_t elen;
    put(lb, "\"", 1);
    while (len > 0 && !lb->over) {
        size_t n = jsonw_piece(s, len, JSONW_SHORT, esc, &elen);
        if (n) {
            put(lb, s, n);
        } else {
            put(lb, esc, elen);
            n = 1;
        }
        s += n;
        len -= n;
    }
    put(lb, "\"", 1);
}

static void put_cstr(struct lbuf *lb, const char *s)
{
    if (s)
        put_str(lb, s, strlen(s));
    else
        puts_(lb, "null");
}

static void put_kv(struct lbuf *lb, const struct log_kv *kv)
{
    char num[40];
    put(lb, ",", 1);
    put_cstr(lb, kv->key ? kv->key : "?");
    put(lb, ":", 1);
    switch (kv->type) {
    case LOG_KV_STR: put_cstr(lb, kv->v.s); return;
    case LOG_KV_INT: snprintf(num, sizeof(num), "%lld", (long long)kv->v.i); break;
    case LOG_KV_UINT: snprintf(num, sizeof(num), "%llu", (unsigned long long)kv->v.u); break;
    case LOG_KV_DOUBLE:
        if (isfinite(kv->v.d))
            snprintf(num, sizeof(num), "%.6g", kv->v.d);
        else
            snprintf(num, sizeof(num), "null");
        break;
    case LOG_KV_BOOL: snprintf(num, sizeof(num), "%s", kv->v.b ? "true" : "false"); break;
    default: snprintf(num, sizeof(num), "null"); break;
    }
    puts_(lb, num);
}

static const char *level_name(enum log_level lv)
{
    switch (lv) {
    case LOG_LEVEL_ERROR: return "error";
    case LOG_LEVEL_WARN: return "warn";
    case LOG_LEVEL_INFO: return "info";
    case LOG_LEVEL_DEBUG: return "debug";
    }
    return "?";
}

static void write_line(struct log *l, const char *b, size_t len)
{
    pthread_rwlock_rdlock(&l->fd_lock);
    ssize_t w;
    do
        w = write(l->fd, b, len);
    while (w < 0 && errno == EINTR);
    pthread_rwlock_unlock(&l->fd_lock);
    if (w != (ssize_t)len)
        atomic_fetch_add(&l->write_errors, 1);
}

/* Claims the next slot of the ring, or drops the line (counted) when the writer is behind. */
static void enqueue(struct log *l, const char *b, size_t len)
{
    uint64_t pos = atomic_load_explicit(&l->enq, memory_order_relaxed);
    for (;;) {
        struct log_slot *s = &l->ring[pos % LOG_RING];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&l->enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                memcpy(s->line, b, len);
                s->len = (uint32_t)len;
                atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
                return;
            }
        } else if (seq < pos) {
            atomic_fetch_add_explicit(&l->queue_drops, 1, memory_order_relaxed);
            return; /* full: the slot still holds the line of one lap earlier */
        } else {
            pos = atomic_load_explicit(&l->enq, memory_order_relaxed);
        }
    }
}

/* Writer thread: writes every line that is ready, in order. Returns the number written. */
static unsigned drain(struct log *l)
{
    unsigned n = 0;
    for (;;) {
        struct log_slot *s = &l->ring[l->deq % LOG_RING];
        if (atomic_load_explicit(&s->seq, memory_order_acquire) != l->deq + 1)
            return n;
        write_line(l, s->line, s->len);
        atomic_store_explicit(&s->seq, l->deq + LOG_RING, memory_order_release);
        l->deq++;
        atomic_store_explicit(&l->deq_done, l->deq, memory_order_release);
        n++;
    }
}

static void *writer_main(void *arg)
{
    struct log *l = arg;
    for (;;) {
        bool stop = atomic_load(&l->stop);
        if (drain(l) == 0) {
            if (stop)
                break;
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int log_start_async(struct log *l)
{
    if (l->async)
        return 0;
    l->ring = calloc(LOG_RING, sizeof(*l->ring));
    if (!l->ring)
        return -ENOMEM;
    for (uint64_t i = 0; i < LOG_RING; i++)
        atomic_init(&l->ring[i].seq, i);
    atomic_init(&l->enq, 0);
    atomic_init(&l->deq_done, 0);
    l->deq = 0;
    atomic_init(&l->stop, false);
    /* the writer takes no signals: the process handles them where it chose to (sigwait) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&l->writer, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free(l->ring);
        l->ring = NULL;
        return -rc;
    }
    l->async = true;
    return 0;
}

void log_flush(struct log *l)
{
    if (!l->async)
        return;
    uint64_t target = atomic_load(&l->enq);
    while (atomic_load_explicit(&l->deq_done, memory_order_acquire) < target) {
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

uint64_t log_queue_drops(const struct log *l)
{
    return atomic_load(&l->queue_drops);
}

static void emit(struct log *l, enum log_level level, const char *module, const char *msg,
                 const struct log_kv *kv, size_t n, uint64_t suppressed, bool to_queue)
{
    struct lbuf lb;
    lb.n = 0;
    lb.over = false;
    lb.limit = sizeof(lb.b) - (sizeof(TRUNC_TAIL) - 1);

    uint64_t ms = l->clock(l->clock_ctx);
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char head[128];
    snprintf(head, sizeof(head), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\",\"level\":\"%s\"",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ms % 1000u), level_name(level));
    puts_(&lb, head);
    puts_(&lb, ",\"module\":");
    put_cstr(&lb, module);
    puts_(&lb, ",\"msg\":");
    size_t safe = lb.n;
    put_cstr(&lb, msg);
    if (lb.over) { /* the message alone is too long: cut it, keep the line valid */
        lb.over = false;
        lb.n = safe;
        size_t room = lb.limit - lb.n > 8 ? lb.limit - lb.n - 8 : 0;
        size_t ml = strlen(msg);
        size_t cut = ml < room / 6 ? ml : room / 6; /* worst case every byte escapes to 6 */
        put_str(&lb, msg, cut);
        lb.over = true;
    }
    safe = lb.n;
    for (size_t i = 0; i < n && !lb.over; i++) {
        put_kv(&lb, &kv[i]);
        if (!lb.over)
            safe = lb.n;
    }
    if (suppressed && !lb.over) {
        char s[48];
        snprintf(s, sizeof(s), ",\"suppressed\":%llu", (unsigned long long)suppressed);
        puts_(&lb, s);
        if (!lb.over)
            safe = lb.n;
    }
    size_t len;
    if (lb.over) {
        memcpy(lb.b + safe, TRUNC_TAIL, sizeof(TRUNC_TAIL) - 1);
        len = safe + sizeof(TRUNC_TAIL) - 1;
    } else {
        lb.b[lb.n] = '}';
        lb.b[lb.n + 1] = '\n';
        len = lb.n + 2;
    }

    if (to_queue) {
        enqueue(l, lb.b, len);
        return;
    }
    write_line(l, lb.b, len);
}

void log_write(struct log *l, enum log_level level, const char *module, const char *msg,
               const struct log_kv *kv, size_t n)
{
    if (!log_enabled(l, level))
        return;
    emit(l, level, module, msg, kv, n, 0, false);
}

void log_writef(struct log *l, enum log_level level, const char *module, const char *fmt, ...)
{
    if (!log_enabled(l, level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(l, level, module, msg, NULL, 0, 0, false);
}

/* Takes one line's token from the bucket; false when the rate is used up. Lock-free: one CAS. */
static bool bucket_take(struct log *l)
{
    uint32_t rate = atomic_load_explicit(&l->rate, memory_order_relaxed);
    if (rate == 0)
        return true;
    uint64_t now = l->clock(l->clock_ctx);
    uint32_t rel = (uint32_t)(now - l->base_ms); /* ms, wraps after 49 days: handled below */
    uint64_t cap = (uint64_t)rate * 1000u;
    uint64_t old = atomic_load_explicit(&l->bucket, memory_order_relaxed), nw;
    do {
        uint32_t last = (uint32_t)(old >> 32);
        uint64_t tokens = old & 0xffffffffu;
        uint32_t el = rel - last;
        if (el < 0x80000000u) { /* a clock stepping back (el "negative") refills nothing */
            uint64_t add = (uint64_t)el * rate; /* milli-tokens: rate per 1000 ms */
            tokens = add >= cap - (tokens > cap ? cap : tokens) ? cap : tokens + add;
        } else {
            rel = last;
        }
        if (tokens < 1000u) {
            nw = (uint64_t)rel << 32 | tokens;
            if (atomic_compare_exchange_weak_explicit(&l->bucket, &old, nw, memory_order_relaxed,
                                                      memory_order_relaxed))
                return false;
            continue;
        }
        nw = (uint64_t)rel << 32 | (tokens - 1000u);
    } while (!atomic_compare_exchange_weak_explicit(&l->bucket, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

bool log_block(struct log *l, const char *module, const char *msg, const struct log_kv *kv,
               size_t n)
{
    if (!log_enabled(l, LOG_LEVEL_INFO))
        return false;
    if (!bucket_take(l)) {
        atomic_fetch_add_explicit(&l->suppressed, 1, memory_order_relaxed);
        return false;
    }
    uint64_t sup = atomic_exchange_explicit(&l->suppressed, 0, memory_order_relaxed);
    emit(l, LOG_LEVEL_INFO, module, msg, kv, n, sup, l->async);
    return true;
}

uint64_t log_flush_suppressed(struct log *l)
{
    uint64_t sup = atomic_exchange(&l->suppressed, 0);
    if (sup)
        emit(l, LOG_LEVEL_INFO, "log", "block lines suppressed", NULL, 0, sup, false);
    return sup;
}
