/* service.c - readiness, status, reload and stop notices to the service manager (sdnotify.h),
 * and the watchdog thread that pings it only while every worker and the main loop make
 * progress (service.h). */
#include "proxy/daemon/service.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "proxy/daemon/sdnotify.h"

struct service {
    unsigned n;
    _Atomic uint64_t *beats;
    uint64_t *seen; /* the watchdog thread's: the counters at the previous check */
    bool *reported; /* a worker that never beat, logged once */
    _Atomic uint64_t main_beat;
    uint64_t main_seen;
    atomic_bool busy;
    atomic_bool stalled; /* the last check failed (logged once per stall) */
    atomic_bool running; /* the workers were started (service_running()) */
    unsigned checks;     /* checks since then (the watchdog thread's) */
    uint64_t usec;       /* WatchdogSec, 0: none */
    struct log *lg;
    pthread_t th;
    bool started;
    int pipe[2]; /* written to stop the thread */
};

struct service *service_new(unsigned nworkers, struct log *lg)
{
    struct service *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->n = nworkers;
    s->lg = lg;
    s->pipe[0] = s->pipe[1] = -1;
    s->beats = calloc(nworkers ? nworkers : 1, sizeof(*s->beats));
    s->seen = calloc(nworkers ? nworkers : 1, sizeof(*s->seen));
    s->reported = calloc(nworkers ? nworkers : 1, sizeof(*s->reported));
    if (!s->beats || !s->seen || !s->reported) {
        service_free(s);
        return NULL;
    }
    for (unsigned i = 0; i < nworkers; i++)
        atomic_init(&s->beats[i], 0);
    atomic_init(&s->main_beat, 0);
    atomic_init(&s->busy, false);
    atomic_init(&s->stalled, false);
    atomic_init(&s->running, false);
    uint64_t usec = 0;
    int wd = sdnotify_watchdog(&usec);
    if (wd > 0)
        s->usec = usec;
    else if (wd < 0 && lg) /* systemd itself never sets such values */
        log_write(
            lg, LOG_LEVEL_WARN, "service",
            "WATCHDOG_USEC or WATCHDOG_PID is not valid; no watchdog",
            LOG_KV(LOG_S("watchdog_usec", getenv("WATCHDOG_USEC")),
                   LOG_S("watchdog_pid", getenv("WATCHDOG_PID") ? getenv("WATCHDOG_PID") : "")));
    return s;
}

uint64_t service_watchdog_usec(const struct service *s)
{
    return s ? s->usec : 0;
}

int service_wake_ms(const struct service *s)
{
    if (!s || !s->usec)
        return -1;
    uint64_t ms = s->usec / 4000u; /* twice per check period */
    return ms < 1 ? 1 : ms > 3600000u ? 3600000 : (int)ms;
}

_Atomic uint64_t *service_beats(struct service *s)
{
    return s->beats;
}

void service_main_beat(struct service *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->main_beat, 1, memory_order_relaxed);
}

void service_busy(struct service *s, bool busy)
{
    if (!s)
        return;
    atomic_store(&s->busy, busy);
    service_main_beat(s);
}

void service_running(struct service *s)
{
    if (s)
        atomic_store(&s->running, true);
}

bool service_check(struct service *s)
{
    bool ok = true;
    bool running = atomic_load(&s->running);
    if (running && s->checks < 2)
        s->checks++;
    for (unsigned i = 0; running && i < s->n; i++) {
        uint64_t b = atomic_load_explicit(&s->beats[i], memory_order_relaxed);
        if (b == 0) {
            /* a worker beats within 250 ms of its start: two checks on, it never will */
            if (!s->reported[i] && s->checks >= 2) {
                if (s->lg)
                    log_write(s->lg, LOG_LEVEL_WARN, "service",
                              "worker reports no heartbeat; the watchdog does not check it",
                              LOG_KV(LOG_U("worker", i)));
                s->reported[i] = true;
            }
            continue;
        }
        if (b == s->seen[i]) {
            if (ok && !atomic_load(&s->stalled) && s->lg)
                log_write(s->lg, LOG_LEVEL_ERROR, "service",
                          "worker stalled; watchdog pings stopped", LOG_KV(LOG_U("worker", i)));
            ok = false;
        }
        s->seen[i] = b;
    }
    uint64_t m = atomic_load_explicit(&s->main_beat, memory_order_relaxed);
    if (m == s->main_seen && !atomic_load(&s->busy)) {
        if (ok && !atomic_load(&s->stalled) && s->lg)
            log_write(s->lg, LOG_LEVEL_ERROR, "service",
                      "main loop stalled; watchdog pings stopped", NULL, 0);
        ok = false;
    }
    s->main_seen = m;
    if (ok && atomic_load(&s->stalled) && s->lg)
        log_write(s->lg, LOG_LEVEL_INFO, "service", "progress again; watchdog pings resumed", NULL,
                  0);
    atomic_store(&s->stalled, !ok);
    return ok;
}

static void *watchdog_main(void *arg)
{
    struct service *s = arg;
    int period = (int)(s->usec / 2000u);
    if (period < 1)
        period = 1;
    sdnotify_send("WATCHDOG=1");
    for (;;) {
        struct pollfd pfd = { s->pipe[0], POLLIN, 0 };
        int n = poll(&pfd, 1, period);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0 && service_check(s))
            sdnotify_send("WATCHDOG=1");
    }
    return NULL;
}

int service_start(struct service *s)
{
    if (!s->usec || s->started)
        return 0;
    if (pipe(s->pipe) != 0)
        return -errno;
    int rc = pthread_create(&s->th, NULL, watchdog_main, s);
    if (rc != 0)
        return -rc;
    s->started = true;
    if (s->lg)
        log_write(s->lg, LOG_LEVEL_INFO, "service", "watchdog started",
                  LOG_KV(LOG_U("interval_ms", s->usec / 1000u), LOG_U("workers", s->n)));
    return 0;
}

void service_free(struct service *s)
{
    if (!s)
        return;
    if (s->started) {
        char c = 0;
        if (write(s->pipe[1], &c, 1) != 1) {
            /* a pipe with room for one byte: cannot fail short of a bug */
        }
        pthread_join(s->th, NULL);
    }
    if (s->pipe[0] >= 0)
        close(s->pipe[0]);
    if (s->pipe[1] >= 0)
        close(s->pipe[1]);
    free(s->beats);
    free(s->seen);
    free(s->reported);
    free(s);
}

void service_ready(const char *status)
{
    sdnotify_sendf("READY=1\nSTATUS=%s", status ? status : "");
}

void service_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long us =
        (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
    sdnotify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", us);
}

void service_stopping(void)
{
    sdnotify_send("STOPPING=1\nSTATUS=stopping");
}

void service_status(const char *status)
{
    sdnotify_sendf("STATUS=%s", status ? status : "");
}
