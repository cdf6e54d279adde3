/* log.c - JSON-lines logger (see log.h).
 *
 * Each line is built in a stack buffer and handed to one write(2) on an O_APPEND descriptor, so
 * concurrent lines never interleave. Writers hold a read lock on the descriptor; log_reopen()
 * takes the write lock only to swap it, so a rotation never loses or splits a line. */
#include "log.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"

#define TRUNC_TAIL ",\"truncated\":true}\n"

struct log {
    pthread_rwlock_t fd_lock; /* read: writing a line; write: swapping fd */
    int fd;
    char *path;
    _Atomic int level;
    _Atomic uint64_t write_errors;

    log_clock_fn clock;
    void *clock_ctx;

    pthread_mutex_t bucket_lock;
    uint32_t rate;         /* lines per second; 0 = unlimited */
    uint64_t tokens_milli; /* 1000 per line */
    uint64_t last_ms;
    uint64_t suppressed;
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

struct log *log_new(const char *path, enum log_level level, uint32_t block_rate, char *err, size_t errlen)
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
    if (pthread_mutex_init(&l->bucket_lock, NULL) != 0) {
        snprintf(err, errlen, "log: %s: cannot create a lock", path);
        pthread_rwlock_destroy(&l->fd_lock);
        if (fd != STDERR_FILENO)
            close(fd);
        goto fail;
    }
    l->fd = fd;
    l->path = p;
    atomic_init(&l->level, (int)level);
    atomic_init(&l->write_errors, 0);
    l->clock = real_clock;
    l->rate = block_rate;
    l->tokens_milli = (uint64_t)block_rate * 1000u;
    l->last_ms = real_clock(NULL);
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
    log_flush_suppressed(l);
    if (l->fd != STDERR_FILENO)
        close(l->fd);
    pthread_rwlock_destroy(&l->fd_lock);
    pthread_mutex_destroy(&l->bucket_lock);
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
    pthread_mutex_lock(&l->bucket_lock);
    l->rate = per_s;
    if (l->tokens_milli > (uint64_t)per_s * 1000u)
        l->tokens_milli = (uint64_t)per_s * 1000u;
    pthread_mutex_unlock(&l->bucket_lock);
}

void log_set_clock(struct log *l, log_clock_fn fn, void *ctx)
{
    l->clock = fn ? fn : real_clock;
    l->clock_ctx = ctx;
    l->last_ms = l->clock(l->clock_ctx);
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

/* A JSON string: quotes, escapes for '"', '\\' and control bytes; bytes that are not valid UTF-8
 * become \u00XX so the line stays valid JSON. */
static void put_str(struct lbuf *lb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    put(lb, "\"", 1);
    for (size_t i = 0; i < len && !lb->over;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(lb, e, 2);
            i++;
        } else if (c == '\n') {
            put(lb, "\\n", 2);
            i++;
        } else if (c == '\t') {
            put(lb, "\\t", 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(lb, e, 6);
            i++;
        } else if (c < 0x80) {
            size_t j = i;
            while (j < len && u[j] >= 0x20 && u[j] < 0x7f && u[j] != '"' && u[j] != '\\')
                j++;
            put(lb, s + i, j - i);
            i = j;
        } else {
            size_t n = utf8_seq(u + i, len - i, NULL);
            if (n) {
                put(lb, s + i, n);
                i += n;
            } else {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(lb, e, 6);
                i++;
            }
        }
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

static void emit(struct log *l, enum log_level level, const char *module, const char *msg,
                 const struct log_kv *kv, size_t n, uint64_t suppressed)
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

    pthread_rwlock_rdlock(&l->fd_lock);
    ssize_t w;
    do
        w = write(l->fd, lb.b, len);
    while (w < 0 && errno == EINTR);
    pthread_rwlock_unlock(&l->fd_lock);
    if (w != (ssize_t)len)
        atomic_fetch_add(&l->write_errors, 1);
}

void log_write(struct log *l, enum log_level level, const char *module, const char *msg,
               const struct log_kv *kv, size_t n)
{
    if (!log_enabled(l, level))
        return;
    emit(l, level, module, msg, kv, n, 0);
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
    emit(l, level, module, msg, NULL, 0, 0);
}

bool log_block(struct log *l, const char *module, const char *msg, const struct log_kv *kv, size_t n)
{
    if (!log_enabled(l, LOG_LEVEL_INFO))
        return false;
    uint64_t sup = 0;
    pthread_mutex_lock(&l->bucket_lock);
    if (l->rate) {
        uint64_t now = l->clock(l->clock_ctx);
        uint64_t cap = (uint64_t)l->rate * 1000u;
        if (now > l->last_ms) {
            uint64_t add = (now - l->last_ms) * l->rate; /* milli-tokens: rate per 1000 ms */
            l->tokens_milli = add >= cap - l->tokens_milli ? cap : l->tokens_milli + add;
        }
        l->last_ms = now; /* a clock stepping back refills nothing */
        if (l->tokens_milli < 1000u) {
            l->suppressed++;
            pthread_mutex_unlock(&l->bucket_lock);
            return false;
        }
        l->tokens_milli -= 1000u;
    }
    sup = l->suppressed;
    l->suppressed = 0;
    pthread_mutex_unlock(&l->bucket_lock);
    emit(l, LOG_LEVEL_INFO, module, msg, kv, n, sup);
    return true;
}

uint64_t log_flush_suppressed(struct log *l)
{
    pthread_mutex_lock(&l->bucket_lock);
    uint64_t sup = l->suppressed;
    l->suppressed = 0;
    pthread_mutex_unlock(&l->bucket_lock);
    if (sup)
        emit(l, LOG_LEVEL_INFO, "log", "block lines suppressed", NULL, 0, sup);
    return sup;
}
