/* inline_driver.c - runs the inline proxy alone, for the namespace tests and benchmarks:
 *
 *   inline_driver [--rules PATH]... [--tproxy-port N] [--redirect-port N] [--workers N]
 *                 [--notice-url URL] [--tls-block reset|alert] [--first-bytes-timeout MS]
 *
 * Loads the rule files, opens the listeners (root: IP_TRANSPARENT), runs one thread per
 * worker until SIGTERM/SIGINT, then prints the summed counters to stderr, one "name value" a
 * line. Prints "ready" on stdout once listening. The daemon (`qorgau run`) does the same with a
 * config file, logs and reloads. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/enforce/inline.h"
#include "rules/lists/loader.h"
#include "rules/match/rsref.h"
#include "rules/match/ruleset.h"

static volatile int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct wctx {
    struct inline_proxy *p;
    unsigned id;
    int rc;
};

static void *worker(void *arg)
{
    struct wctx *w = arg;
    w->rc = inline_run_worker(w->p, w->id, &g_stop);
    return NULL;
}

static void on_event(void *ctx, const struct inline_event *ev)
{
    (void)ctx;
    if (ev->d.verdict != VERDICT_BLOCK)
        return;
    fprintf(stderr, "inline_driver: block %s %.*s method=%s action=%s req=%u\n",
            verdict_app_name(ev->app), ev->name ? (int)ev->name_len : 1, ev->name ? ev->name : "-",
            verdict_method_name(ev->d.method) ? verdict_method_name(ev->d.method) : "-",
            verdict_action_name(ev->d.action) ? verdict_action_name(ev->d.action) : "-", ev->req);
}

static unsigned num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 65536) {
        fprintf(stderr, "inline_driver: bad %s '%s'\n", what, s);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "rules", required_argument, NULL, 'r' },
        { "tproxy-port", required_argument, NULL, 't' },
        { "redirect-port", required_argument, NULL, 'R' },
        { "workers", required_argument, NULL, 'w' },
        { "notice-url", required_argument, NULL, 'n' },
        { "tls-block", required_argument, NULL, 'b' },
        { "first-bytes-timeout", required_argument, NULL, 'T' },
        { "max-per-source", required_argument, NULL, 'S' },
        { "max-connections", required_argument, NULL, 'C' },
        { "quiet", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
    };
    struct inline_config cfg;
    inline_config_default(&cfg);
    cfg.max_connections = 200000;
    cfg.max_per_source = 4096;
    cfg.on_event = on_event;
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b)
        return 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': {
            struct loader_stats st;
            memset(&st, 0, sizeof(st));
            if (loader_load_file(b, optarg, stderr, &st) < 0)
                return 1;
            break;
        }
        case 't': cfg.tproxy_port = num(optarg, "port"); break;
        case 'R': cfg.redirect_port = num(optarg, "port"); break;
        case 'w': cfg.workers = num(optarg, "workers"); break;
        case 'n': cfg.policy.notice_url = optarg; break;
        case 'T': cfg.first_bytes_timeout_ms = num(optarg, "timeout"); break;
        case 'S': cfg.max_per_source = num(optarg, "max-per-source"); break;
        case 'C': cfg.max_connections = num(optarg, "max-connections"); break;
        case 'q': cfg.on_event = NULL; break;
        case 'b':
            if (strcmp(optarg, "alert") == 0)
                cfg.tls_block = INLINE_TLS_ALERT;
            else if (strcmp(optarg, "reset") == 0)
                cfg.tls_block = INLINE_TLS_RESET;
            else
                return 2;
            break;
        default:
            fputs("usage: inline_driver [--rules PATH]... [--tproxy-port N] [--redirect-port N]\n"
                  "       [--workers N] [--notice-url URL] [--tls-block reset|alert]\n"
                  "       [--first-bytes-timeout MS] [--quiet]\n",
                  stderr);
            return 2;
        }
    }
    struct ruleset *rs = ruleset_build(b); /* frees b */
    struct rsref *ref = rsref_new();
    if (!rs || !ref)
        return 1;
    rsref_publish(ref, rs);

    char err[256];
    struct inline_proxy *p = inline_new(&cfg, ref, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "%s\n", err);
        rsref_free(ref);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct wctx w[INLINE_WORKERS_MAX];
    pthread_t th[INLINE_WORKERS_MAX];
    for (unsigned i = 0; i < cfg.workers; i++) {
        w[i].p = p;
        w[i].id = i;
        w[i].rc = 0;
        if (pthread_create(&th[i], NULL, worker, &w[i]) != 0) {
            fputs("inline_driver: pthread_create failed\n", stderr);
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    int rc = 0;
    for (unsigned i = 0; i < cfg.workers; i++) {
        pthread_join(th[i], NULL);
        if (w[i].rc < 0) {
            fprintf(stderr, "inline_driver: worker %u: %s\n", i, strerror(-w[i].rc));
            rc = 1;
        }
    }
    struct inline_stats st;
    inline_stats(p, -1, &st);
    const char *const *names = inline_stat_names();
    const uint64_t *v = (const uint64_t *)&st;
    for (unsigned i = 0; i < INLINE_NSTATS; i++)
        fprintf(stderr, "%s %llu\n", names[i], (unsigned long long)v[i]);
    inline_free(p);
    rsref_free(ref);
    return rc;
}
