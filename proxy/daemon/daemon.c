/* daemon.c - `qorgau run` (see daemon.h): configuration, rules, privileges, workers, signals.
 *
 * Threads: the main thread owns the configuration, the rule publication and every signal
 * (blocked everywhere, read with signalfd); workers only run the mode. A worker that returns
 * before it was asked to stop writes to an eventfd so the main thread notices at once. */
#include "proxy/daemon/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <glob.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/fileio.h"
#include <fcntl.h>
#include "rules/resolve/fallback.h"
#include "rules/resolve/resolver.h"
#include "proxy/daemon/settings.h"
#include "proxy/daemon/kdrops.h"
#include "proxy/enforce/ipdrop.h"
#include "rules/lists/loader.h"
#include "common/log.h"
#include "proxy/daemon/mode.h"
#include "proxy/enforce/feedrules.h"
#include "proxy/enforce/divertrules.h"
#include "proxy/enforce/queuerules.h"
#include "proxy/daemon/notice_server.h"
#include "proxy/daemon/radius.h"
#include "proxy/daemon/subfollow.h"
#include "proxy/daemon/adminapi.h"
#include "proxy/daemon/adminhttp.h"
#include "proxy/daemon/decisions.h"
#include "proxy/daemon/metrics.h"
#include "proxy/daemon/parents_api.h"
#include "proxy/daemon/service.h"
#include "proxy/daemon/tarcount.h"
#include "proxy/daemon/tariffcfg.h"
#include "proxy/daemon/fbdocs.h"
#include "proxy/daemon/follower.h"
#include "proxy/daemon/hits.h"
#include "proxy/daemon/fbseen.h"
#include "proxy/daemon/query.h"
#include "rules/orders/orderset.h"
#include "rules/store/store.h"
#include <sys/stat.h>
#include "rules/match/rsref.h"
#include "rules/match/ruleset.h"
#include "common/version.h"

/* The modes live in their own files. A weak reference lets the binary link without them and
 * the daemon then says the mode is not built. A weak reference does not pull a member out of
 * a static library, though, so once a mode's header exists the reference is made strong and
 * the linker takes proxy/mode_X.o from libqorgau.a. -DDAEMON_WEAK_MODES keeps both weak (to
 * build and test the "not built" path in a tree that has the modes). */
#if defined(__has_include) && !defined(DAEMON_WEAK_MODES)
#if __has_include("mode_tap.h")
#define DAEMON_HAVE_TAP 1
#endif
#if __has_include("mode_inline.h")
#define DAEMON_HAVE_INLINE 1
#endif
#if __has_include("mode_queue.h")
#define DAEMON_HAVE_QUEUE 1
#endif
#endif
#ifdef DAEMON_HAVE_TAP
extern const struct mode_ops mode_tap_ops;
#else
extern const struct mode_ops mode_tap_ops __attribute__((weak));
#endif
#ifdef DAEMON_HAVE_INLINE
extern const struct mode_ops mode_inline_ops;
#else
extern const struct mode_ops mode_inline_ops __attribute__((weak));
#endif
#ifdef DAEMON_HAVE_QUEUE
extern const struct mode_ops mode_queue_ops;
#else
extern const struct mode_ops mode_queue_ops __attribute__((weak));
#endif

struct mode_entry {
    const char *name;
    const struct mode_ops *ops; /* NULL: not built */
    const cap_value_t *caps;    /* kept after the switch to cfg.user */
    int ncaps;
};

/* Both modes keep CAP_NET_RAW (tap: raw injection sockets reopened when a link flaps; inline:
 * RST/ICMP) and CAP_NET_ADMIN (IP_TRANSPARENT on every upstream socket, TPROXY). */
static const cap_value_t net_caps[] = { CAP_NET_RAW, CAP_NET_ADMIN };

/* Indexed by enum config_mode. */
static const struct mode_entry modes[] = {
    { "tap", &mode_tap_ops, net_caps, (int)ARRAY_LEN(net_caps) },
    { "inline", &mode_inline_ops, net_caps, (int)ARRAY_LEN(net_caps) },
    { "queue", &mode_queue_ops, net_caps, (int)ARRAY_LEN(net_caps) },
};

#define RULE_ERRORS_LOGGED 20 /* per load; the rest are counted */
#define WORKERS_MAX        64

struct worker {
    struct daemon *d;
    pthread_t th;
    unsigned idx;
    int rc;
    _Atomic int done;
};

struct daemon {
    const char *config_path;
    bool foreground;
    struct settings *cfg;
    struct log *log;
    struct rsref *rules;
    const struct mode_entry *mode;
    void *state;
    struct daemon_ctx ctx;

    pthread_mutex_t reg_lock;
    struct metrics_set *regs;
    size_t nregs;

    volatile sig_atomic_t stop;
    struct notice_server *notice; /* the built-in notice page server (notice.listen) */
    int sfd, efd;
    struct worker *workers;
    unsigned nworkers, started;
    struct hits *hits;            /* block counts, flushed by the follower's heartbeat thread */
    struct service *svc;          /* sd_notify and the watchdog (service.h) */
    uint64_t hits_dropped_logged; /* that thread's: hits_dropped() when last logged */
    struct fbseen *seen;          /* names seen in traffic to fallback addresses (fbseen.h) */
    struct kdrops *kdrops;        /* what the kernel dropped per IP entry (kdrops.h) */
    uint64_t kdrops_lost_logged;
    struct timespec t0;

    const char *store_url;    /* --store, or NULL: the store key */
    pthread_mutex_t pub_lock; /* every publication, and the swap of cfg (the follower reads it) */
    struct follower *fol;     /* NULL when no store is followed */
    struct adminhttp *admin;  /* the admin API (admin.sock, admin.listen) */
    struct parents_api *parents; /* its parents API (/api/v1/parents/), over its own store handle */
    struct adminapi_src api;     /* what its endpoints read */
    struct decisions *decisions; /* the workers' decisions (counts, last ones, top names) */
    _Atomic uint64_t store_version; /* the store version of the published set */
    struct ruleset *last;           /* the follower's last publication (rsref's; under pub_lock) */
    bool image_tried;               /* the first publication looked for the disk image */
    /* the background merge (orders.merge_threshold), all under pub_lock but the thread */
    pthread_t merge_th;
    bool merge_started;          /* merge_th is to be joined */
    bool merging;                /* a merge runs: applied changes are queued */
    uint64_t gen, merge_gen;     /* +1 at every compilation: a merge begun before is void */
    struct ruleset *merge_src;   /* the merge thread's own reference to the set */
    bool merge_compact;          /* the thread compacts the deltas (ruleset_compact()) */
    struct orderset_change **mq; /* changes applied since the merge began */
    size_t nmq;
    _Atomic int admin_https_url;    /* cfg's https_url, for the admin thread (cfg is swapped) */
    struct radius_listener *radius; /* radius.listen: the subscriber feed, or NULL */
    struct subfollow *subf;         /* the subscriber map following the store, or NULL */
    /* subf for the admin API's threads: set once it started, cleared before it is freed */
    struct subfollow *_Atomic subf_api;
    struct submap *own_map; /* the node's map when it has no listener */
    /* the directory store followed (subfollow.h): its tariff records into the table, its
     * mappings into the map, when tariffs are on */
    struct subfollow *tarf;
    /* child tariffs (docs/profiles.md): the table, and what the modes see of it (vt.tariff
     * NULL when neither categories.dir nor profiles.file was set at start) */
    struct tariff *tariff;
    struct verdict_tariff vt;
    struct pseudo pseudo;
    struct tarcount *tarcount;        /* tariff blocks per subscriber, day and category */
    uint64_t tarcount_dropped_logged; /* the heartbeat thread's */

    /* IP entries on every port (proxy/enforce/ipdrop.h; none when ip.kernel_drop is off) */
    struct ipdrop *ipd;
    pthread_t ipd_th;
    bool ipd_started;
    atomic_bool ipd_stop;
    uint64_t ipd_version; /* the rules version the kernel's sets hold (the thread's) */
    char ipd_table[IPDROP_TABLE_MAX + 1]; /* ip.kernel_table (cfg is swapped on reload) */
    struct nat64 nat64; /* ip.nat64_prefixes (a restart key: cfg is swapped on reload) */

    /* the IP fallback (docs/fallback.md; none when fallback.resolve = none) */
    struct resolver *res; /* the names' addresses (the fallback thread's) */
    struct fallback *fbk; /* the table builder and its report (under pub_lock) */
    pthread_t fb_th;
    bool fb_started;
    atomic_bool fb_stop;
    char **marked; /* fallback.resolve = marked: the marked domain names (under pub_lock) */
    size_t nmarked;
    bool marked_new;   /* marked changed since the thread took it */
    char **marked_ids; /* the orders marked came from (a delta touching none keeps marked) */
    size_t nmarked_ids;
    bool marked_valid;    /* marked is of the orders published last (a delta may be checked) */
    char fb_report[1100]; /* state_dir/fallback.json (state_dir is a restart key; cfg is swapped) */
    /* the per-order "fallback" and "risks" documents in the store (fbdocs.h), the thread's */
    char node_id[256]; /* node.id or the host name: this node in the store */
    struct store *fb_store;
    struct fbdocs *fb_docs;
    char fb_store_url[STORE_PATH_MAX + 512], fb_store_pw[1100];
};

/* A start-up failure: to the log and, when the log is a file, to standard error too so the
 * operator running the command (or journald) sees it. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
fatal(struct daemon *d, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->log)
        log_write(d->log, LOG_LEVEL_ERROR, "daemon", msg, NULL, 0);
    service_status(msg);
    if (!d->log || (!d->foreground && strcmp(d->cfg->log_file, "-") != 0))
        fprintf(stderr, "qorgau: %s\n", msg);
}

/* ---- rules ---- */

static bool has_glob_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Logs the entry errors the loader wrote to its memstream, at most `budget` of them. */
static void log_loader_errors(struct log *lg, const char *text, size_t *budget)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && *budget) {
            char line[512];
            snprintf(line, sizeof(line), "%.*s", (int)len, p);
            log_write(lg, LOG_LEVEL_WARN, "rules", line, NULL, 0);
            (*budget)--;
        }
        p += len + (nl ? 1 : 0);
    }
}

struct rules_result {
    struct ruleset *rs;
    size_t files, entry_errors;
};

/* Loads every file cfg->rules names (globs expanded, sorted) into a new set. A file that
 * cannot be read or parsed fails the whole load (message in err); rejected entries are logged
 * (the first RULE_ERRORS_LOGGED) and counted. A glob that matches nothing is a warning. */
static int rules_build(struct log *lg, const struct settings *cfg,
                       const struct order *const *orders, size_t norders, struct rules_result *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b) {
        snprintf(err, errlen, "rules: out of memory");
        return -ENOMEM;
    }
    size_t budget = RULE_ERRORS_LOGGED;
    int rc = 0;
    for (size_t i = 0; i < cfg->rules.n && rc == 0; i++) {
        const char *pat = cfg->rules.items[i];
        glob_t g;
        memset(&g, 0, sizeof(g));
        int grc = glob(pat, GLOB_NOCHECK, NULL, &g);
        if (grc != 0) {
            snprintf(err, errlen, "rules: %s: %s", pat,
                     grc == GLOB_NOSPACE ? "out of memory" : "cannot be read");
            rc = grc == GLOB_NOSPACE ? -ENOMEM : -EIO;
            globfree(&g);
            break;
        }
        /* GLOB_NOCHECK hands back the pattern itself when nothing matched. */
        if (g.gl_pathc == 1 && strcmp(g.gl_pathv[0], pat) == 0 && has_glob_magic(pat) &&
            access(pat, F_OK) != 0) {
            log_write(lg, LOG_LEVEL_WARN, "rules", "pattern matches no file",
                      LOG_KV(LOG_S("pattern", pat)));
            globfree(&g);
            continue;
        }
        for (size_t j = 0; j < g.gl_pathc && rc == 0; j++) {
            char *text = NULL;
            size_t tlen = 0;
            FILE *errs = open_memstream(&text, &tlen);
            struct loader_stats st;
            memset(&st, 0, sizeof(st));
            int lrc = loader_load_file(b, g.gl_pathv[j], errs, &st);
            if (errs)
                fclose(errs);
            if (lrc < 0) {
                /* The loader's own message names the file and the position. */
                size_t l = text ? strlen(text) : 0;
                while (l && text[l - 1] == '\n')
                    l--;
                if (l)
                    snprintf(err, errlen, "%.*s", (int)l, text);
                else
                    snprintf(err, errlen, "rules: %s: %s", g.gl_pathv[j], strerror(-lrc));
                rc = lrc;
            } else {
                if (text)
                    log_loader_errors(lg, text, &budget);
                out->entry_errors += st.errors;
                out->files++;
            }
            free(text);
        }
        globfree(&g);
    }
    if (rc == 0 && norders) {
        struct orderset_stats ost;
        rc = orderset_fill(b, orders, norders, &ost, err, errlen);
        if (rc == -ENOMEM)
            snprintf(err, errlen, "rules: out of memory compiling the store's orders");
    }
    if (rc < 0) {
        ruleset_builder_free(b);
        return rc;
    }
    out->rs = ruleset_build(b);
    if (!out->rs) {
        snprintf(err, errlen, "rules: out of memory compiling the rule set");
        return -ENOMEM;
    }
    return 0;
}

/* ---- counters ---- */

static int counters_register(struct daemon_ctx *ctx, unsigned worker, const char *const *names,
                             _Atomic uint64_t *values, size_t n)
{
    struct daemon *d = ctx->priv;
    pthread_mutex_lock(&d->reg_lock);
    struct metrics_set *r = realloc(d->regs, (d->nregs + 1) * sizeof(*r));
    if (!r) {
        pthread_mutex_unlock(&d->reg_lock);
        return -ENOMEM;
    }
    d->regs = r;
    d->regs[d->nregs++] = (struct metrics_set){ worker, names, values, n };
    pthread_mutex_unlock(&d->reg_lock);
    return 0;
}

#define NOTICE_STATS_KV 10

/* The notice page server's state and counters for the stats line; returns how many (at most
 * NOTICE_STATS_KV). "down" also when the server is gone. */
static size_t notice_stats_kv(struct daemon *d, struct log_kv *kv)
{
    struct notice_server_counters c = { 0 };
    unsigned open_now = 0;
    enum notice_server_state st = NOTICE_SERVER_DOWN;
    if (d->notice) {
        notice_server_stats(d->notice, &c, &open_now);
        st = notice_server_state(d->notice);
    }
    size_t n = 0;
    kv[n++] = LOG_S("notice.state", notice_server_state_name(st));
    kv[n++] = LOG_U("notice.open", open_now);
    kv[n++] = LOG_U("notice.accepted", c.accepted);
    kv[n++] = LOG_U("notice.refused", c.refused);
    kv[n++] = LOG_U("notice.closed_idle", c.closed_idle);
    kv[n++] = LOG_U("notice.pages", c.status_200);
    kv[n++] = LOG_U("notice.not_found", c.status_404 + c.status_405);
    kv[n++] = LOG_U("notice.errors", c.errors);
    kv[n++] = LOG_U("notice.reloads", c.reloads);
    kv[n++] = LOG_U("notice.reload_failures", c.reload_failures);
    return n;
}

#define STORE_STATS_KV 7

/* The follower's state and counters for the stats line (none without a store). */
static size_t store_stats_kv(struct daemon *d, struct log_kv *kv)
{
    if (!d->fol)
        return 0;
    struct follower_stats st;
    follower_get_stats(d->fol, &st);
    size_t n = 0;
    kv[n++] = LOG_S("store.state", follower_state_name(st.state));
    kv[n++] = LOG_U("store.version", st.version);
    kv[n++] = LOG_U("store.changes", st.changes);
    kv[n++] = LOG_U("store.snapshots", st.snapshots);
    kv[n++] = LOG_U("store.outages", st.outages);
    kv[n++] = LOG_U("store.publish_failures", st.publish_failures);
    kv[n++] = LOG_B("store.failstatic", st.from_failstatic);
    return n;
}

#define IPDROP_STATS_KV 7

/* The kernel's drop of IP entries, when on. */
static size_t ipdrop_stats_kv(struct daemon *d, struct log_kv *kv)
{
    if (!d->ipd)
        return 0;
    struct ipdrop_stats st;
    ipdrop_get_stats(d->ipd, &st);
    size_t n = 0;
    kv[n++] = LOG_U("ip.kernel_entries4", st.elements4);
    kv[n++] = LOG_U("ip.kernel_entries6", st.elements6);
    kv[n++] = LOG_U("ip.kernel_drops", st.packets);
    kv[n++] = LOG_U("ip.kernel_cuts", st.cut_packets);
    kv[n++] = LOG_U("ip.kernel_syncs", st.syncs);
    kv[n++] = LOG_U("ip.kernel_sync_failures", st.failures);
    kv[n++] = LOG_U("ip.kernel_rebuilt", st.rebuilt);
    return n;
}

#define RADIUS_STATS_KV 17
#define TARIFF_STATS_KV 5

/* The tariff table (docs/profiles.md), when tariffs are on. */
static size_t tariff_stats_kv(struct daemon *d, struct log_kv *kv)
{
    if (!d->vt.tariff)
        return 0;
    struct tariff_stats st;
    tariff_get_stats(d->tariff, &st);
    size_t n = 0;
    kv[n++] = LOG_U("tariff.profiles", st.profiles);
    kv[n++] = LOG_U("tariff.subscribers", st.subscribers);
    kv[n++] = LOG_U("tariff.categories", st.categories);
    kv[n++] = LOG_U("tariff.bytes", st.bytes + st.writer_bytes + st.catset_bytes);
    kv[n++] = LOG_U("tariff.counts_dropped", tarcount_dropped(d->tarcount));
    return n;
}

/* The subscriber map and the RADIUS listener's counters for the stats line (none when the
 * node has neither). */
static size_t radius_stats_kv(struct daemon *d, struct log_kv *kv)
{
    size_t n = 0;
    struct subfollow *sf = d->subf ? d->subf : d->tarf; /* (the directory store's) */
    if (sf) {
        struct subfollow_stats fs;
        subfollow_get_stats(sf, &fs);
        kv[n++] = LOG_U("subs.entries",
                        submap_count(d->radius ? radius_listener_map(d->radius) : d->own_map));
        kv[n++] = LOG_U("subs.followed", fs.applied);
        kv[n++] = LOG_U("subs.loads", fs.loads);
        kv[n++] = LOG_U("subs.errors", fs.errors);
        kv[n++] = LOG_B("subs.failstatic", fs.from_failstatic);
    }
    if (!d->radius)
        return n;
    struct radius_counters c;
    radius_listener_stats(d->radius, &c);
    kv[n++] = LOG_U("radius.received", c.received);
    kv[n++] = LOG_U("radius.accepted", c.accepted);
    kv[n++] = LOG_U("radius.answered", c.answered);
    kv[n++] = LOG_U("radius.duplicates", c.duplicates);
    kv[n++] = LOG_U("radius.unknown_client", c.unknown_client);
    kv[n++] = LOG_U("radius.bad_authenticator", c.bad_authenticator);
    kv[n++] = LOG_U("radius.malformed", c.malformed);
    kv[n++] = LOG_U("radius.mapped", c.mapped);
    kv[n++] = LOG_U("radius.removed", c.removed);
    kv[n++] = LOG_U("radius.no_subscriber", c.no_subscriber);
    kv[n++] = LOG_U("radius.store_errors", c.store_errors);
    kv[n++] = LOG_U("radius.map_full", c.map_full);
    return n;
}

/* One line: uptime, rule version, the notice page server, and every registered counter summed
 * over the workers. */
static void stats_line(struct daemon *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&d->reg_lock);
    size_t total = 0;
    for (size_t i = 0; i < d->nregs; i++)
        total += d->regs[i].n;
    struct log_kv *kv = calloc(total + 5 + NOTICE_STATS_KV + STORE_STATS_KV + RADIUS_STATS_KV +
                                   TARIFF_STATS_KV + IPDROP_STATS_KV,
                               sizeof(*kv));
    uint64_t *sum = calloc(total + 1, sizeof(*sum));
    size_t nk = 0;
    if (kv && sum) {
        kv[nk++] = LOG_I("uptime_s", now.tv_sec - d->t0.tv_sec);
        kv[nk++] = LOG_U("rules_version", rsref_version(d->rules));
        kv[nk++] = LOG_U("workers", d->nworkers);
        kv[nk++] = LOG_U("log.queue_drops", log_queue_drops(d->log));
        kv[nk++] = LOG_U("log.write_errors", log_write_errors(d->log));
        nk += notice_stats_kv(d, kv + nk);
        nk += store_stats_kv(d, kv + nk);
        nk += radius_stats_kv(d, kv + nk);
        nk += tariff_stats_kv(d, kv + nk);
        nk += ipdrop_stats_kv(d, kv + nk);
        size_t base = nk;
        for (size_t i = 0; i < d->nregs; i++) {
            for (size_t j = 0; j < d->regs[i].n; j++) {
                const char *name = d->regs[i].names[j];
                size_t k = base;
                while (k < nk && strcmp(kv[k].key, name) != 0)
                    k++;
                if (k == nk)
                    kv[nk++] = LOG_U(name, 0);
                sum[k - base] += atomic_load_explicit(&d->regs[i].values[j], memory_order_relaxed);
            }
        }
        for (size_t k = base; k < nk; k++)
            kv[k].v.u = sum[k - base];
        log_write(d->log, LOG_LEVEL_INFO, "daemon", "stats", kv, nk);
    }
    pthread_mutex_unlock(&d->reg_lock);
    free(kv);
    free(sum);
    log_flush_suppressed(d->log);
}

/* ---- privileges ---- */

static int drop_privileges(struct daemon *d, char *err, size_t errlen)
{
    const struct settings *c = d->cfg;
    if (geteuid() != 0) {
        log_write(d->log, LOG_LEVEL_WARN, "daemon",
                  "not started as root: running as the current user, nothing to drop",
                  LOG_KV(LOG_U("uid", geteuid())));
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(c->user);
    if (!pw) {
        snprintf(err, errlen, "daemon: user '%s' does not exist (create it or set user = in %s)",
                 c->user, d->config_path);
        return -ENOENT;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (c->group[0]) {
        struct group *gr = getgrnam(c->group);
        if (!gr) {
            snprintf(err, errlen, "daemon: group '%s' does not exist (set group = in %s)", c->group,
                     d->config_path);
            return -ENOENT;
        }
        gid = gr->gr_gid;
    }
    if (uid == 0) {
        log_write(d->log, LOG_LEVEL_WARN, "daemon", "user is root: privileges are not dropped",
                  LOG_KV(LOG_S("user", c->user)));
        return 0;
    }
    if (!d->foreground && log_chown(d->log, uid, gid) < 0)
        log_write(d->log, LOG_LEVEL_WARN, "daemon",
                  "cannot give the log file to the user; reopening it after a rotation may fail",
                  LOG_KV(LOG_S("file", c->log_file), LOG_S("user", c->user),
                         LOG_S("error", strerror(errno))));
    if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
        snprintf(err, errlen, "daemon: prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return -errno;
    }
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        int e = errno;
        snprintf(err, errlen, "daemon: switching to user '%s' (uid %u, gid %u) failed: %s", c->user,
                 (unsigned)uid, (unsigned)gid, strerror(e));
        return -e;
    }
    cap_t caps = cap_init();
    if (!caps) {
        snprintf(err, errlen, "daemon: cap_init: %s", strerror(errno));
        return -ENOMEM;
    }
    const struct mode_entry *m = d->mode;
    int rc = 0;
    if (cap_set_flag(caps, CAP_PERMITTED, m->ncaps, m->caps, CAP_SET) != 0 ||
        cap_set_flag(caps, CAP_EFFECTIVE, m->ncaps, m->caps, CAP_SET) != 0 ||
        cap_set_proc(caps) != 0) {
        rc = -errno;
        snprintf(err, errlen, "daemon: cap_set_proc: %s", strerror(errno));
    }
    cap_free(caps);
    if (rc < 0)
        return rc;
    prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
    if (setuid(0) == 0) {
        snprintf(err, errlen, "daemon: root could be regained after switching to '%s'", c->user);
        return -EPERM;
    }
    char names[128] = "";
    for (int i = 0; i < m->ncaps; i++) {
        char *n = cap_to_name(m->caps[i]);
        if (n) {
            size_t o = strlen(names);
            snprintf(names + o, sizeof(names) - o, "%s%s", i ? "," : "", n);
            cap_free(n);
        }
    }
    log_write(d->log, LOG_LEVEL_INFO, "daemon", "privileges dropped",
              LOG_KV(LOG_S("user", c->user), LOG_U("uid", uid), LOG_U("gid", gid),
                     LOG_S("capabilities", names)));
    return 0;
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct daemon *d = w->d;
    w->rc = d->mode->ops->run_worker(d->state, w->idx, &d->stop);
    atomic_store(&w->done, 1);
    uint64_t one = 1;
    if (write(d->efd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow in practice; the main thread also sees w->done. */
    }
    return NULL;
}

static unsigned worker_count(const struct settings *c)
{
    if (c->workers > 0)
        return (unsigned)c->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

/* Sets the stop flag and joins every started worker. Returns the worst worker status. */
static int stop_workers(struct daemon *d)
{
    int worst = 0;
    d->stop = 1;
    for (unsigned i = 0; i < d->started; i++) {
        pthread_join(d->workers[i].th, NULL);
        if (d->workers[i].rc < 0) {
            log_write(d->log, LOG_LEVEL_ERROR, "daemon", "worker failed",
                      LOG_KV(LOG_U("worker", i), LOG_S("error", strerror(-d->workers[i].rc))));
            worst = d->workers[i].rc;
        }
    }
    d->started = 0;
    return worst;
}

/* ---- reload ---- */

static void notice_settings(const struct settings *c, struct notice_config *nc)
{
    *nc = (struct notice_config){
        .url = c->notice_url && c->notice_url[0] ? c->notice_url : NULL,
        .show_order = c->notice_show_order,
        .contact = c->notice_contact && c->notice_contact[0] ? c->notice_contact : NULL,
        .contact_url =
            c->notice_contact_url && c->notice_contact_url[0] ? c->notice_contact_url : NULL,
        .max_connections = (unsigned)c->notice_max_connections,
        .idle_timeout_ms = (unsigned)c->notice_idle_timeout,
        .max_request_bytes = (unsigned)c->notice_max_request_bytes,
    };
}

/* True when every key whose name starts with prefix has the same value in a and b. */
static bool keys_equal(const struct settings *a, const struct settings *b, const char *prefix)
{
    size_t n, pl = strlen(prefix);
    const struct config_key *k = settings_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (strncmp(k[i].name, prefix, pl) == 0 && !config_key_equal(&k[i], a, b))
            return false;
    return true;
}

/* The notice page server takes the new notice.* keys. Its failure does not stop the rest of the
 * reload (rules, mode): the server keeps its running settings, says so here, and shows it in the
 * stats line (notice.state "stale" or "down", notice.reload_failures) until a reload applies. */
static void notice_reload(struct daemon *d, const struct settings *nc)
{
    if (!d->notice)
        return;
    const struct settings *oc = d->cfg;
    if (keys_equal(oc, nc, "notice.") && notice_server_state(d->notice) == NOTICE_SERVER_SERVING)
        return;
    struct notice_config ns;
    notice_settings(nc, &ns);
    char err[512];
    if (notice_server_reload(d->notice, &ns, nc->notice_listen.text, err, sizeof(err)) < 0) {
        enum notice_server_state st = notice_server_state(d->notice);
        log_write(d->log, LOG_LEVEL_ERROR, "notice",
                  st == NOTICE_SERVER_DOWN
                      ? "notice page reload failed; the page server is down"
                      : "notice page reload failed; still serving the previous settings",
                  LOG_KV(LOG_S("error", err), LOG_S("listen", nc->notice_listen.text),
                         LOG_S("state", notice_server_state_name(st))));
        return;
    }
    log_write(d->log, LOG_LEVEL_INFO, "notice", "notice page server reloaded",
              LOG_KV(LOG_S("listen", nc->notice_listen.text),
                     LOG_U("port", notice_server_port(d->notice))));
}

static int tariff_load(struct daemon *d, const struct settings *c, char *err, size_t errlen);

static void reload(struct daemon *d)
{
    char err[1024];
    if (!d->foreground && log_reopen(d->log, NULL, err, sizeof(err)) < 0)
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "log reopen failed; still writing the old file", LOG_KV(LOG_S("error", err)));
    log_write(d->log, LOG_LEVEL_INFO, "daemon", "reload requested",
              LOG_KV(LOG_S("config", d->config_path)));

    struct settings *nc = settings_load_file(d->config_path, err, sizeof(err));
    if (!nc) {
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "reload failed; keeping the running configuration and rules",
                  LOG_KV(LOG_S("error", err)));
        return;
    }
    const char *names[64];
    int nk = settings_keep_restart_keys(nc, d->cfg, names, ARRAY_LEN(names));
    if (nk < 0) {
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "reload failed; keeping the running configuration and rules",
                  LOG_KV(LOG_S("error", "out of memory")));
        settings_free(nc);
        return;
    }
    for (int i = 0; i < nk && (size_t)i < ARRAY_LEN(names); i++)
        log_write(d->log, LOG_LEVEL_WARN, "daemon",
                  "key changed; the running value stays until a restart",
                  LOG_KV(LOG_S("key", names[i])));

    struct rules_result rr;
    if (rules_build(d->log, nc, NULL, 0, &rr, err, sizeof(err)) < 0) {
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "reload failed; keeping the running configuration and rules",
                  LOG_KV(LOG_S("error", err)));
        settings_free(nc);
        return;
    }
    if (d->mode->ops->reload) {
        int rc = d->mode->ops->reload(d->state, nc);
        if (rc < 0) {
            log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                      "reload failed; keeping the running configuration and rules",
                      LOG_KV(LOG_S("error", "the mode rejected the new configuration"),
                             LOG_S("mode", d->mode->name), LOG_S("reason", strerror(-rc))));
            ruleset_free(rr.rs);
            settings_free(nc);
            return;
        }
    }
    notice_reload(d, nc);
    if (d->vt.tariff && tariff_load(d, nc, err, sizeof(err)) < 0)
        log_write(d->log, LOG_LEVEL_ERROR, "tariff",
                  "reload of the categories and profiles failed; the previous ones stay",
                  LOG_KV(LOG_S("error", err)));
    if (d->tarf) /* the directory store's mappings and tariff records, read again */
        subfollow_reread(d->tarf);
    if (d->admin) /* the API's deadlines, stats and alarms */
        adminapi_set_report(&d->api, (unsigned)nc->report_deadline_days, nc->report_timezone);
    struct settings *old = d->cfg;
    pthread_mutex_lock(&d->pub_lock);
    d->cfg = nc;
    atomic_store(&d->admin_https_url, nc->https_url);
    pthread_mutex_unlock(&d->pub_lock);
    /* the files were checked above; the follower compiles them with the store's orders */
    ruleset_free(rr.rs);
    if (follower_republish(d->fol, err, sizeof(err)) < 0) {
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "reload: compiling the store's orders with the new rule files failed; the "
                  "previous set stays",
                  LOG_KV(LOG_S("error", err)));
    } else {
        struct ruleset_stats st;
        pthread_mutex_lock(&d->pub_lock);
        ruleset_get_stats(d->last, &st);
        uint64_t v = rsref_version(d->rules);
        pthread_mutex_unlock(&d->pub_lock);
        log_write(d->log, LOG_LEVEL_INFO, "daemon", "reloaded",
                  LOG_KV(LOG_U("version", v), LOG_U("files", rr.files),
                         LOG_U("domains", st.domains), LOG_U("urls", st.urls),
                         LOG_U("ipv4", st.ips4), LOG_U("ipv6", st.ips6),
                         LOG_U("entry_errors", rr.entry_errors), LOG_U("bytes", st.bytes)));
    }
    if (!d->foreground && strcmp(old->log_file, nc->log_file) != 0 &&
        log_reopen(d->log, nc->log_file, err, sizeof(err)) < 0)
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "log.file changed but cannot be opened; still writing the old file",
                  LOG_KV(LOG_S("error", err)));
    settings_free(old);
    log_set_level(d->log, (enum log_level)nc->log_level);
    log_set_block_rate(d->log, (uint32_t)nc->log_block_rate);
}

/* ---- main loop ---- */

/* The service's STATUS= line: what runs and what it enforces. */
static void service_status_line(struct daemon *d, char *buf, size_t len)
{
    struct ruleset_stats st;
    memset(&st, 0, sizeof(st));
    pthread_mutex_lock(&d->pub_lock);
    if (d->last)
        ruleset_get_stats(d->last, &st);
    uint64_t v = rsref_version(d->rules);
    pthread_mutex_unlock(&d->pub_lock);
    snprintf(buf, len,
             "qorgau %s, mode %s, %u workers; rules version %llu: %zu domains, %zu urls, %zu ips",
             QORGAU_VERSION, d->mode->name, d->nworkers, (unsigned long long)v, st.domains, st.urls,
             st.ips4 + st.ips6);
}

static int setup_signals(struct daemon *d, sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    /* Blocked before any thread exists, so every worker inherits the mask. */
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    d->sfd = signalfd(-1, set, SFD_CLOEXEC);
    if (d->sfd < 0)
        return -errno;
    d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->efd < 0)
        return -errno;
    return 0;
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    }
    return "?";
}

/* Runs until a stop signal or a worker ending on its own. Returns the exit status. */
static int main_loop(struct daemon *d)
{
    uint64_t next = clock_mono_ms() + d->cfg->stats_interval;
    for (;;) {
        int timeout = -1;
        if (d->cfg->stats_interval) {
            uint64_t now = clock_mono_ms();
            timeout = next > now ? (int)(next - now < 3600000u ? next - now : 3600000u) : 0;
        }
        int wake = service_wake_ms(d->svc);
        if (wake >= 0 && (timeout < 0 || timeout > wake))
            timeout = wake;
        service_main_beat(d->svc);
        struct pollfd pfd[2] = { { d->sfd, POLLIN, 0 }, { d->efd, POLLIN, 0 } };
        int n = poll(pfd, 2, timeout);
        if (n < 0 && errno != EINTR) {
            log_write(d->log, LOG_LEVEL_ERROR, "daemon", "poll failed",
                      LOG_KV(LOG_S("error", strerror(errno))));
            return 1;
        }
        if (n > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGHUP) {
                    uint64_t old_iv = d->cfg->stats_interval;
                    char status[256];
                    service_reloading();
                    service_busy(d->svc, true);
                    reload(d);
                    service_busy(d->svc, false);
                    service_status_line(d, status, sizeof(status));
                    service_ready(status);
                    if (d->cfg->stats_interval != old_iv)
                        next = clock_mono_ms() + d->cfg->stats_interval;
                } else {
                    log_write(
                        d->log, LOG_LEVEL_INFO, "daemon", "stopping",
                        LOG_KV(LOG_S("signal", signal_name(sig)), LOG_U("from_pid", si.ssi_pid)));
                    service_stopping();
                    return 0;
                }
            }
        }
        if (n > 0 && (pfd[1].revents & POLLIN)) {
            uint64_t cnt;
            if (read(d->efd, &cnt, sizeof(cnt)) < 0) {
                /* EAGAIN: a spurious wake-up; the done flags below decide. */
            }
            for (unsigned i = 0; i < d->started; i++) {
                if (atomic_load(&d->workers[i].done)) {
                    int rc = d->workers[i].rc;
                    log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                              "worker ended before a stop was asked; stopping",
                              LOG_KV(LOG_U("worker", i), LOG_I("status", rc),
                                     LOG_S("error", rc < 0 ? strerror(-rc) : NULL)));
                    return 1;
                }
            }
        }
        if (d->cfg->stats_interval && clock_mono_ms() >= next) {
            char status[256]; /* `systemctl status` follows the rules version */
            stats_line(d);
            service_status_line(d, status, sizeof(status));
            service_status(status);
            next += d->cfg->stats_interval;
            if (next < clock_mono_ms())
                next = clock_mono_ms() + d->cfg->stats_interval;
        }
    }
}

static void usage(FILE *f)
{
    fputs("usage: qorgau run -c FILE [--foreground] [--check] [--store URL]\n"
          "  -c, --config FILE  configuration (docs/configuration.md)\n"
          "  --store URL        follow this order store (overrides the store key)\n"
          "  --foreground       log to standard error whatever log.file says\n"
          "  --check            validate the configuration and the rule files, print the\n"
          "                     effective configuration, exit\n",
          f);
}

/* --check: the config is already loaded. Validates the rule files too. */
static int check(struct daemon *d)
{
    char err[1024];
    /* the effective configuration, without a password written inline in the store URL */
    char redacted[STORE_PATH_MAX + 512];
    char *store_url = d->cfg->store;
    store_url_redact(store_url, redacted, sizeof(redacted));
    d->cfg->store = redacted;
    settings_print(stdout, d->cfg);
    d->cfg->store = store_url;
    d->log = log_new("-", LOG_LEVEL_WARN, 0, err, sizeof(err));
    if (!d->log) {
        fprintf(stderr, "qorgau: %s\n", err);
        return 1;
    }
    int ret = 0;
    struct rules_result rr;
    if (rules_build(d->log, d->cfg, NULL, 0, &rr, err, sizeof(err)) < 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        ret = DAEMON_EXIT_CONFIG;
    } else {
        struct ruleset_stats st;
        ruleset_get_stats(rr.rs, &st);
        fprintf(stderr,
                "qorgau: %s: ok (%zu rule files, %zu domains, %zu urls, %zu ips, %zu rejected "
                "entries)\n",
                d->config_path, rr.files, st.domains, st.urls, st.ips4 + st.ips6, rr.entry_errors);
        ruleset_free(rr.rs);
    }
    if (!modes[d->cfg->mode].ops)
        fprintf(stderr, "qorgau: warning: mode %s is not built into this binary\n",
                modes[d->cfg->mode].name);
    if (d->cfg->mode == SETTINGS_MODE_QUEUE &&
        d->cfg->queue_rules_check != SETTINGS_QUEUE_RULES_OFF) {
        unsigned nw = worker_count(d->cfg);
        char msg[1536];
        int v = feedrules_check((uint16_t)d->cfg->queue_num, nw, msg, sizeof(msg), NULL);
        if (v < 0)
            fprintf(stderr, "qorgau: warning: queue.rules_check: %s\n", msg);
        else if (v == FEEDRULES_OK && nw == 1)
            fprintf(stderr,
                    "qorgau: queue.rules_check: ok (the kernel's rules feed queue %" PRId64
                    ", the worker's; none of them reaches past it)\n",
                    d->cfg->queue_num);
        else if (v == FEEDRULES_OK)
            fprintf(stderr,
                    "qorgau: queue.rules_check: ok (the kernel's rules feed queues %" PRId64
                    "-%" PRId64 ", the %u workers'; none of them reaches past them)\n",
                    d->cfg->queue_num, d->cfg->queue_num + (int64_t)nw - 1, nw);
        else if (v == FEEDRULES_WARN)
            fprintf(stderr, "qorgau: warning: queue.rules_check: %s\n", msg);
        else {
            fprintf(
                stderr, "qorgau: %squeue.rules_check: %s\n",
                d->cfg->queue_rules_check == SETTINGS_QUEUE_RULES_REFUSE ? "" : "warning: ", msg);
            if (d->cfg->queue_rules_check == SETTINGS_QUEUE_RULES_REFUSE)
                ret = DAEMON_EXIT_CONFIG;
        }
    }
    if (d->cfg->mode == SETTINGS_MODE_INLINE && d->cfg->inline_rules_check_interval) {
        /* a missing diversion is said, never refused: at boot the rules may come later */
        char msg[1536];
        unsigned diverting = 0;
        int v = feedrules_check_divert((uint16_t)d->cfg->inline_tproxy_port,
                                       (uint16_t)d->cfg->inline_redirect_port, msg, sizeof(msg),
                                       &diverting);
        if (v == FEEDRULES_OK)
            fprintf(stderr,
                    "qorgau: inline: ok (%u of the kernel's rules divert connections to the "
                    "proxy)\n",
                    diverting);
        else
            fprintf(stderr, "qorgau: warning: inline: %s\n", msg);
    }
    log_free(d->log);
    d->log = NULL;
    return ret;
}

/* ---- the order store ---- */

/* The store followed: --store, the store key, or the embedded directory store in state_dir. */
static const char *store_url(const struct daemon *d)
{
    if (d->store_url && d->store_url[0])
        return d->store_url;
    return d->cfg->store[0] ? d->cfg->store : d->cfg->state_dir;
}

/* ---- the disk image: docs/orders.md "Fail-static" ----
 * STATE_DIR/rules.img is the compiled set (orders and rule files) of the version the fail-static
 * file holds; rules.img.files holds that version and a fingerprint of the rule files (path,
 * size, modification time) when it was written. At start, a publication of that version with
 * the same rule files maps the image instead of compiling. */

#define IMAGE_NAME       "rules.img"
#define IMAGE_FILES_NAME "rules.img.files"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t rules_fingerprint(const struct settings *cfg)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < cfg->rules.n; i++) {
        glob_t g;
        memset(&g, 0, sizeof(g));
        if (glob(cfg->rules.items[i], GLOB_NOCHECK, NULL, &g) != 0) {
            globfree(&g);
            h = fnv(h, "?", 1);
            continue;
        }
        for (size_t j = 0; j < g.gl_pathc; j++) {
            struct stat sb;
            memset(&sb, 0, sizeof(sb));
            h = fnv(h, g.gl_pathv[j], strlen(g.gl_pathv[j]) + 1);
            if (stat(g.gl_pathv[j], &sb) == 0) {
                int64_t m[3] = { (int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec,
                                 (int64_t)sb.st_mtim.tv_nsec };
                h = fnv(h, m, sizeof(m));
            }
        }
        globfree(&g);
    }
    return h;
}

/* The image of version, or NULL (why logged). pub_lock held. */
static struct ruleset *image_open(struct daemon *d, uint64_t version)
{
    char path[1100], fpath[1100], err[1200];
    snprintf(path, sizeof(path), "%s/%s", d->cfg->state_dir, IMAGE_NAME);
    snprintf(fpath, sizeof(fpath), "%s/%s", d->cfg->state_dir, IMAGE_FILES_NAME);
    if (access(path, F_OK) != 0)
        return NULL;
    unsigned long long fv = 0, fp = 0;
    FILE *fh = fopen(fpath, "r");
    int got = fh ? fscanf(fh, "%llu %llx", &fv, &fp) : 0;
    if (fh)
        fclose(fh);
    if (got != 2 || fv != version || fp != rules_fingerprint(d->cfg)) {
        log_write(d->log, LOG_LEVEL_INFO, "daemon",
                  "disk image not used: it is of another version or other rule files; compiling",
                  LOG_KV(LOG_S("path", path), LOG_U("version", version)));
        return NULL;
    }
    uint64_t iv = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ruleset *rs = ruleset_image_open(path, &iv, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rs) {
        log_write(d->log, LOG_LEVEL_WARN, "daemon",
                  "disk image refused; compiling the fail-static records",
                  LOG_KV(LOG_S("error", err)));
        return NULL;
    }
    if (iv != version) {
        ruleset_free(rs);
        log_write(d->log, LOG_LEVEL_WARN, "daemon",
                  "disk image refused; compiling the fail-static records",
                  LOG_KV(LOG_S("error", "its version is not the fail-static file's"),
                         LOG_U("image_version", iv), LOG_U("version", version)));
        return NULL;
    }
    uint64_t ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    log_write(d->log, LOG_LEVEL_INFO, "daemon", "rules loaded from the disk image",
              LOG_KV(LOG_S("path", path), LOG_U("store_version", version), LOG_U("ms", ms)));
    return rs;
}

/* The follower wrote the fail-static file of version: the image of the set published for it.
 * Runs on the follower's writer thread while publications go on: the set is held by a reference
 * (not the publication lock) while written, so a newer one may be published meanwhile; when one
 * already was, this version is skipped (the file of the newer one follows). The fingerprint of
 * the rule files is taken with the set, so version, fingerprint and image are the same set's. */
static void fol_saved(void *ctx, uint64_t version)
{
    struct daemon *d = ctx;
    char path[1100], fpath[1100], tmp[1110], err[1200];
    pthread_mutex_lock(&d->pub_lock);
    if (!d->last || atomic_load(&d->store_version) != version) {
        pthread_mutex_unlock(&d->pub_lock);
        return;
    }
    struct ruleset *rs = ruleset_ref(d->last);
    unsigned long long fp = (unsigned long long)rules_fingerprint(d->cfg);
    snprintf(path, sizeof(path), "%s/%s", d->cfg->state_dir, IMAGE_NAME);
    snprintf(fpath, sizeof(fpath), "%s/%s", d->cfg->state_dir, IMAGE_FILES_NAME);
    pthread_mutex_unlock(&d->pub_lock);
    snprintf(tmp, sizeof(tmp), "%s.tmp", fpath);
    int rc = ruleset_image_write(rs, path, version, err, sizeof(err));
    ruleset_free(rs);
    if (rc == 0) {
        FILE *fh = fopen(tmp, "w");
        if (!fh || fprintf(fh, "%llu %llx\n", (unsigned long long)version, fp) < 0 ||
            fclose(fh) != 0 || rename(tmp, fpath) != 0) {
            snprintf(err, sizeof(err), "daemon: %s: cannot be written: %s", fpath, strerror(errno));
            rc = -EIO;
        }
    }
    if (rc < 0)
        log_write(d->log, LOG_LEVEL_ERROR, "daemon",
                  "cannot write the disk image; a restart without the store compiles the "
                  "fail-static records",
                  LOG_KV(LOG_S("error", err)));
}

/* ---- the background merge ----
 * When an applied change leaves the overlay past orders.merge_threshold, a thread folds the set
 * into a fresh base (ruleset_merge(): every live entry, the rule files' included) while the
 * follower goes on applying changes to the overlay; they are queued (as their claims and lifts,
 * orderset_change_new(): no record is copied), re-applied on the merged set when it is ready
 * (outside pub_lock but for the last few), and that set is published. A compilation in
 * between (a snapshot, a reload) makes the merge void. The same thread compacts the overlay
 * (ruleset_compact(): its deltas folded into one over the same base, O(overlay), not O(base))
 * when an applied change leaves RULESET_COMPACT_DEPTH deltas stacked, so that an apply stays
 * O(change) and lookups walk few levels (docs/matching.md "The overlay"). */

static void mq_free(struct orderset_change **q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        orderset_change_free(q[i]);
    free(q);
}

static void mq_clear(struct daemon *d)
{
    mq_free(d->mq, d->nmq);
    d->mq = NULL;
    d->nmq = 0;
}

/* Queues delta as its claims and lifts (pub_lock held; a copy of their strings, not of the
 * records: 1-2 ms for 10k entries). Returns 0, or a negative errno. */
static int mq_push(struct daemon *d, const struct follower_delta *delta)
{
    struct orderset_change **q = realloc(d->mq, (d->nmq + 1) * sizeof(*q));
    if (!q)
        return -ENOMEM;
    d->mq = q;
    int rc = -ENOMEM;
    char err[256];
    q[d->nmq] = orderset_change_new(delta->add, delta->nadd, delta->revoke, delta->nrevoke, &rc,
                                    err, sizeof(err));
    if (!q[d->nmq])
        return rc;
    d->nmq++;
    return 0;
}

/* Applies q[0..n) to *m in turn (*m replaced). Returns false (err set, *m freed) when one
 * fails. */
static bool mq_apply(struct ruleset **m, struct orderset_change *const *q, size_t n, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = 0;
        struct ruleset *next = orderset_change_apply(*m, q[i], &rc, err, errlen);
        ruleset_free(*m);
        *m = next;
        if (!next)
            return false;
    }
    return true;
}

/* ---- the IP fallback (docs/fallback.md) ----
 *
 * A thread keeps the resolver's names in step with the published set (fallback.resolve = all:
 * every domain entry; marked: the domain resources marked in their orders), resolves the due
 * ones, and when an address set changed publishes the last set again with a fresh table (an
 * overlay without changes: ruleset_apply()). Every publication (fol_publish, the merge, the
 * thread) attaches a table built for the set it publishes, under pub_lock. */

/* Attaches the fallback table for rs (not yet published). Under pub_lock. */
static void fb_attach(struct daemon *d, struct ruleset *rs)
{
    if (!d->fbk || !rs)
        return;
    struct fbaddr *t = fallback_build(d->fbk, d->res, rs, time(NULL));
    if (!t) {
        log_write(d->log, LOG_LEVEL_WARN, "fallback",
                  "out of memory building the address table; the set goes without it", NULL, 0);
        return;
    }
    ruleset_set_fallback(rs, t);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Does o have a resource fb_collect_marked() takes? */
static bool fb_marks(const struct order *o)
{
    for (size_t j = 0; j < o->nres; j++)
        if (o->res[j].resolve && o->res[j].kind == RULE_DOMAIN)
            return true;
    return false;
}

/* Can delta change the marked names? Only by adding an order with a marked resource or by
 * revoking (or replacing) one the names came from: a walk of the change, not of every order. */
static bool fb_delta_marks(const struct daemon *d, const struct follower_delta *delta)
{
    for (size_t i = 0; i < delta->nadd; i++)
        if (fb_marks(delta->add[i]))
            return true;
    for (size_t i = 0; i < delta->nrevoke; i++)
        for (size_t k = 0; k < d->nmarked_ids; k++)
            if (strcmp(delta->revoke[i], d->marked_ids[k]) == 0)
                return true;
    return false;
}

/* fallback.resolve = marked: the domain names of the resources marked "resolve" in orders
 * (a mask "*.name" resolves name). A delta (the change since the last call, NULL: none) that
 * cannot change them keeps them without a walk of every resource (5M at a 5M base, under
 * pub_lock on the follower's path: 0.1-0.2 s). Under pub_lock. */
static void fb_collect_marked(struct daemon *d, const struct order *const *orders, size_t n,
                              const struct follower_delta *delta)
{
    if (!d->fbk || d->cfg->fallback_resolve != SETTINGS_FALLBACK_MARKED)
        return;
    if (delta && d->marked_valid && !fb_delta_marks(d, delta))
        return;
    d->marked_valid = false;
    size_t cnt = 0, nids = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fb_marks(orders[i]))
            continue;
        nids++;
        for (size_t j = 0; j < orders[i]->nres; j++)
            cnt += orders[i]->res[j].resolve && orders[i]->res[j].kind == RULE_DOMAIN;
    }
    char **v = calloc(cnt ? cnt : 1, sizeof(*v));
    char **ids = calloc(nids ? nids : 1, sizeof(*ids));
    size_t k = 0, ki = 0;
    for (size_t i = 0; v && ids && i < n; i++) {
        if (!fb_marks(orders[i]))
            continue;
        if (!(ids[ki] = strdup(orders[i]->id)))
            goto oom;
        ki++;
        for (size_t j = 0; j < orders[i]->nres; j++) {
            const struct order_resource *r = &orders[i]->res[j];
            if (!r->resolve || r->kind != RULE_DOMAIN)
                continue;
            const char *name = strncmp(r->norm, "*.", 2) == 0 ? r->norm + 2 : r->norm;
            if (!(v[k] = strdup(name)))
                goto oom;
            k++;
        }
    }
    if (!v || !ids)
        goto oom;
    free_names(d->marked, d->nmarked);
    d->marked = v;
    d->nmarked = k;
    d->marked_new = true;
    free_names(d->marked_ids, d->nmarked_ids);
    d->marked_ids = ids;
    d->nmarked_ids = ki;
    d->marked_valid = true;
    return;
oom:
    if (v)
        free_names(v, k);
    if (ids)
        free_names(ids, ki);
    log_write(d->log, LOG_LEVEL_WARN, "fallback",
              "out of memory collecting the marked names; the previous ones stay", NULL, 0);
}

/* The names to resolve now (copies), or NULL with *n 0 when they did not change since the
 * last call (*seen: the set's version they were taken from). Under pub_lock. */
static char **fb_names(struct daemon *d, uint64_t *seen, size_t *n, bool *changed)
{
    *n = 0;
    *changed = false;
    char **v = NULL;
    if (d->cfg->fallback_resolve == SETTINGS_FALLBACK_MARKED) {
        if (!d->marked_new)
            return NULL;
        v = calloc(d->nmarked ? d->nmarked : 1, sizeof(*v));
        for (size_t i = 0; v && i < d->nmarked; i++)
            if (!(v[(*n)++] = strdup(d->marked[i]))) {
                free_names(v, *n);
                return NULL;
            }
        d->marked_new = false;
        *changed = true;
        return v;
    }
    uint64_t ver = rsref_version(d->rules);
    if (!d->last || ver == *seen)
        return NULL;
    size_t ne = ruleset_entry_count(d->last), k = 0;
    v = calloc(ne ? ne : 1, sizeof(*v));
    for (size_t i = 0; v && i < ne; i++) {
        if (!ruleset_entry_live(d->last, (uint32_t)i) ||
            ruleset_entry_kind(d->last, (uint32_t)i) != RULE_DOMAIN)
            continue;
        if (!(v[k++] = strdup(ruleset_entry_text(d->last, (uint32_t)i)))) {
            free_names(v, k);
            return NULL;
        }
    }
    if (!v)
        return NULL;
    *seen = ver;
    *n = k;
    *changed = true;
    return v;
}

/* state_dir/fallback.json: the report, replaced atomically. */
static void fb_write_report(struct daemon *d)
{
    char *doc = fallback_report(d->fbk);
    if (!doc)
        return;
    const char *path = d->fb_report;
    char tmp[1110];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    const char *what = "open";
    int rc = fd < 0 ? -errno : fileio_write_all(fd, doc, strlen(doc));
    if (fd >= 0 && rc < 0)
        what = "write";
    if (fd >= 0 && rc < 0) {
        close(fd);
        unlink(tmp);
    } else if (fd >= 0) {
        rc = fileio_commit(fd, tmp, path, &what);
    }
    if (rc < 0)
        log_write(d->log, LOG_LEVEL_WARN, "fallback", "cannot write the report",
                  LOG_KV(LOG_S("path", path), LOG_S("step", what), LOG_S("error", strerror(-rc))));
    free(doc);
}

/* The report's per-order documents into the store, which `qorgau report` reads (fbdocs.h):
 * only those that changed. The fallback thread's own store handle, opened at first use and
 * again after a failure. False when they are still to be written: the thread tries again every
 * pass (a second) until they are, whether or not the report changes meanwhile. */
static bool fb_sync_docs(struct daemon *d)
{
    char *doc = fallback_report(d->fbk);
    if (!doc)
        return true;
    char err[1024];
    if (!d->fb_docs)
        d->fb_docs = fbdocs_new();
    if (d->fb_docs && !d->fb_store) {
        struct store_opts o;
        memset(&o, 0, sizeof(o));
        if (d->fb_store_pw[0])
            o.password_file = d->fb_store_pw;
        d->fb_store = store_open(d->fb_store_url, &o, err, sizeof(err));
    }
    int n = -ENOMEM;
    if (!d->fb_docs)
        snprintf(err, sizeof(err), "out of memory");
    else if (d->fb_store)
        n = fbdocs_sync(d->fb_docs, d->fb_store, doc, err, sizeof(err));
    if (n < 0) {
        log_write(d->log, LOG_LEVEL_WARN, "fallback",
                  "cannot write the per-order documents to the store; tried again in a second",
                  LOG_KV(LOG_S("error", err)));
        store_free(d->fb_store);
        d->fb_store = NULL;
    } else if (n > 0) {
        log_write(d->log, LOG_LEVEL_INFO, "fallback", "per-order documents written to the store",
                  LOG_KV(LOG_I("documents", n)));
    }
    free(doc);
    return n >= 0;
}

/* Publishes the last set again with a fresh fallback table. Under pub_lock. */
static void fb_republish(struct daemon *d, uint64_t *seen)
{
    if (!d->last)
        return;
    int rc = 0;
    char err[256];
    bool was_current = rsref_version(d->rules) == *seen;
    struct ruleset *n = ruleset_apply(d->last, NULL, 0, NULL, 0, &rc, err, sizeof(err));
    if (!n) {
        log_write(d->log, LOG_LEVEL_WARN, "fallback", "cannot publish the new addresses",
                  LOG_KV(LOG_S("error", err)));
        return;
    }
    fb_attach(d, n);
    d->last = n;
    uint64_t v = rsref_publish(d->rules, n);
    if (was_current)
        *seen = v; /* the same entries: no need to take the names again */
    log_write(d->log, LOG_LEVEL_INFO, "fallback", "addresses published",
              LOG_KV(LOG_U("version", v), LOG_U("addresses", fbaddr_count(ruleset_fallback(n)))));
}

#define FB_RENDER_S 10

static void *fb_main(void *arg)
{
    struct daemon *d = arg;
    uint64_t seen = 0, gen_pub = 0, rendered = 0, rendered_gen = 0, render_ms = 0;
    bool docs_due = false; /* the last report's documents not written yet (a store failure) */
    while (!atomic_load(&d->fb_stop)) {
        size_t n = 0;
        bool changed = false;
        pthread_mutex_lock(&d->pub_lock);
        char **names = fb_names(d, &seen, &n, &changed);
        pthread_mutex_unlock(&d->pub_lock);
        if (changed && resolver_set_names(d->res, (const char *const *)names, n) < 0)
            log_write(d->log, LOG_LEVEL_WARN, "fallback",
                      "out of memory taking the names; the previous ones stay", NULL, 0);
        free_names(names, n);

        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec + 1;
        if (resolver_next_due(d->res) <= now) {
            struct resolver_stats st;
            char err[256];
            uint64_t t0 = clock_mono_ms();
            if (resolver_refresh(d->res, now, &d->fb_stop, &st, err, sizeof(err)) < 0)
                log_write(d->log, LOG_LEVEL_WARN, "fallback", "resolving failed",
                          LOG_KV(LOG_S("error", err)));
            else if (st.asked)
                log_write(d->log, LOG_LEVEL_INFO, "fallback", "names resolved",
                          LOG_KV(LOG_U("asked", st.asked), LOG_U("answered", st.ok),
                                 LOG_U("failed", st.failed), LOG_U("changed", st.changed),
                                 LOG_U("names", resolver_count(d->res)),
                                 LOG_U("ms", clock_mono_ms() - t0)));
        }
        uint64_t g = resolver_generation(d->res);
        if (g != gen_pub) {
            pthread_mutex_lock(&d->pub_lock);
            fb_republish(d, &seen);
            pthread_mutex_unlock(&d->pub_lock);
            gen_pub = g;
        }
        /* the report: after a change of addresses at once, after other publications at most
         * every FB_RENDER_S (a render of a big table takes a while; docs/BENCHMARKS.md) */
        uint64_t ver = rsref_version(d->rules);
        if (ver != rendered &&
            (g != rendered_gen || clock_mono_ms() >= render_ms + FB_RENDER_S * 1000)) {
            pthread_mutex_lock(&d->pub_lock);
            struct ruleset *rs = d->last ? ruleset_ref(d->last) : NULL;
            ver = rsref_version(d->rules);
            pthread_mutex_unlock(&d->pub_lock);
            if (rs && fallback_render(d->fbk, d->res, rs, time(NULL)) == 0) {
                fb_write_report(d);
                docs_due = !fb_sync_docs(d);
            }
            ruleset_free(rs);
            rendered = ver;
            rendered_gen = g;
            render_ms = clock_mono_ms();
        } else if (docs_due) {
            docs_due = !fb_sync_docs(d);
        }
        for (int i = 0; i < 10 && !atomic_load(&d->fb_stop); i++) {
            struct timespec w = { 0, 100 * 1000 * 1000 };
            nanosleep(&w, NULL);
        }
    }
    return NULL;
}

/* ---- IP entries on every port (proxy/enforce/ipdrop.h, docs/queue.md) ---- */

/* Makes the kernel's sets hold the IP entries of the set published last. 0, or -1 with err
 * (the kernel's sets as they were). */
static int ipd_sync(struct daemon *d, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->pub_lock);
    struct ruleset *rs = d->last ? ruleset_ref(d->last) : NULL;
    uint64_t v = rsref_version(d->rules);
    pthread_mutex_unlock(&d->pub_lock);
    bool changed = false;
    uint64_t t0 = clock_mono_ms();
    int rc = ipdrop_sync(d->ipd, rs, &changed, err, errlen);
    ruleset_free(rs);
    if (rc < 0)
        return rc;
    d->ipd_version = v;
    if (changed) {
        struct ipdrop_stats st;
        ipdrop_get_stats(d->ipd, &st);
        log_write(d->log, LOG_LEVEL_INFO, "ipdrop",
                  "IP entries dropped by the kernel on every port",
                  LOG_KV(LOG_S("table", d->ipd_table), LOG_U("rules_version", v),
                         LOG_U("ipv4", st.elements4), LOG_U("ipv6", st.elements6),
                         LOG_U("ms", clock_mono_ms() - t0)));
    }
    return 0;
}

#define IPD_RETRY_MS 5000 /* after a refused change */
#define IPD_COUNTERS_MS \
    2000 /* the drop counter read (one netlink round trip, not an nft listing:
                              * that fetches the whole table, 0.9 s of CPU at 100k addresses) */

/* ipdrop_read_elements()'s callback: one element's growth, noted for the report */
static void ipd_elem_drops(void *ctx, const char *entry, uint64_t packets, uint64_t bytes)
{
    struct daemon *d = ctx;
    kdrops_note(d->kdrops, entry, packets, bytes, store_now_ms());
}

static void *ipd_main(void *arg)
{
    struct daemon *d = arg;
    uint64_t retry_at = 0, counters_at = 0;
    uint64_t elements_at = clock_mono_ms() + d->cfg->ip_kernel_counts_interval;
    bool counters_failing = false, elements_failing = false;
    while (!atomic_load(&d->ipd_stop)) {
        char err[512];
        uint64_t now = clock_mono_ms();
        /* (the elements' counters are read before a change only when it removes elements,
         * ipdrop_set_final_reader(): at 180k elements a reading takes 0.6 s) */
        if (rsref_version(d->rules) != d->ipd_version && now >= retry_at &&
            ipd_sync(d, err, sizeof(err)) < 0) {
            log_write(d->log, LOG_LEVEL_WARN, "ipdrop",
                      "the kernel refused the new IP entries; the previous ones stay, retrying",
                      LOG_KV(LOG_S("error", err), LOG_U("retry_ms", IPD_RETRY_MS)));
            retry_at = now + IPD_RETRY_MS;
        }
        if (now >= counters_at) {
            bool bad = ipdrop_read_drops(d->ipd, err, sizeof(err)) < 0;
            if (bad && !counters_failing)
                log_write(d->log, LOG_LEVEL_WARN, "ipdrop", "cannot read the drop counter",
                          LOG_KV(LOG_S("error", err)));
            counters_failing = bad;
            counters_at = now + IPD_COUNTERS_MS;
        }
        if (now >= elements_at) {
            bool bad = ipdrop_read_elements(d->ipd, ipd_elem_drops, d, err, sizeof(err)) < 0;
            if (bad && !elements_failing)
                log_write(d->log, LOG_LEVEL_WARN, "ipdrop",
                          "cannot read the counters of the table's elements (the reports' "
                          "kernel drops)",
                          LOG_KV(LOG_S("error", err)));
            elements_failing = bad;
            elements_at = now + d->cfg->ip_kernel_counts_interval;
        }
        struct timespec w = { 0, 100 * 1000 * 1000 };
        nanosleep(&w, NULL);
    }
    return NULL;
}

/* Makes the table with the first set's IP entries (as root, after the first publication). */
static int ipd_open(struct daemon *d, char *err, size_t errlen)
{
    if (!settings_ip_kernel_drop(d->cfg))
        return 0;
    snprintf(d->ipd_table, sizeof(d->ipd_table), "%s", d->cfg->ip_kernel_table);
    bool queue = d->cfg->mode == SETTINGS_MODE_QUEUE;
    d->ipd =
        ipdrop_new(d->cfg->ip_kernel_table, queue, queue ? (uint32_t)d->cfg->queue_mark_pass : 0,
                   &d->cfg->ip_nat64, err, errlen);
    if (!d->ipd)
        return -1;
    if (queue)
        ipdrop_set_cut_mark(d->ipd, (uint32_t)d->cfg->queue_mark_cut);
    /* a revoked entry's drops since the last reading, read before it leaves the sets */
    ipdrop_set_final_reader(d->ipd, ipd_elem_drops, d);
    char why[512];
    if (ipd_sync(d, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s (set ip.kernel_drop = off to run without it)", why);
        return -1;
    }
    return 0;
}

/* Starts the thread that follows the publications: after the privileges were dropped, so that
 * it inherits the capabilities kept (CAP_NET_ADMIN). One started before would lose them at the
 * switch of user: capabilities are per thread, and only the main thread keeps them across it
 * (PR_SET_KEEPCAPS, cap_set_proc()). */
static int ipd_start(struct daemon *d, char *err, size_t errlen)
{
    if (!d->ipd)
        return 0;
    int e = pthread_create(&d->ipd_th, NULL, ipd_main, d);
    if (e != 0) {
        snprintf(err, errlen, "ip.kernel_drop: cannot start the thread: %s", strerror(e));
        return -1;
    }
    d->ipd_started = true;
    return 0;
}

/* Stops the thread, then reads the elements' counters once more: what was dropped since the
 * last reading reaches the heartbeat's last flush (before the follower stops). */
static void ipd_stop_thread(struct daemon *d)
{
    if (!d->ipd_started)
        return;
    atomic_store(&d->ipd_stop, true);
    pthread_join(d->ipd_th, NULL);
    d->ipd_started = false;
    char err[512];
    if (ipdrop_read_elements(d->ipd, ipd_elem_drops, d, err, sizeof(err)) < 0)
        log_write(d->log, LOG_LEVEL_WARN, "ipdrop",
                  "cannot read the counters of the table's elements (the reports' kernel drops)",
                  LOG_KV(LOG_S("error", err)));
}

/* Stops the thread and removes the table (a clean stop). */
static void ipd_end(struct daemon *d)
{
    ipd_stop_thread(d);
    if (d->ipd)
        log_write(d->log, LOG_LEVEL_INFO, "ipdrop", "table removed",
                  LOG_KV(LOG_S("table", d->ipd_table)));
    ipdrop_free(d->ipd, true);
    d->ipd = NULL;
}

static void fb_failure(void *ctx, const char *name, const char *why)
{
    struct daemon *d = ctx;
    log_write(d->log, LOG_LEVEL_INFO, "fallback", "no answer; the last addresses stay",
              LOG_KV(LOG_S("name", name), LOG_S("error", why)));
}

/* Creates the resolver and the table builder (before the first publication). */
static int fb_setup(struct daemon *d, char *err, size_t errlen)
{
    const struct settings *c = d->cfg;
    snprintf(d->fb_report, sizeof(d->fb_report), "%s/fallback.json", c->state_dir);
    snprintf(d->fb_store_url, sizeof(d->fb_store_url), "%s", store_url(d));
    snprintf(d->fb_store_pw, sizeof(d->fb_store_pw), "%s", c->store_password_file);
    if (c->fallback_resolve == SETTINGS_FALLBACK_NONE) {
        unlink(d->fb_report); /* a report of an earlier run would be taken for this one's */
        return 0;
    }
    struct resolver_config rc = { .servers = c->fallback_resolvers,
                                  .ttl_min = (uint32_t)(c->fallback_ttl_min / 1000),
                                  .ttl_max = (uint32_t)(c->fallback_ttl_max / 1000),
                                  .on_failure = fb_failure,
                                  .ctx = d };
    d->res = resolver_new(&rc, err, errlen);
    if (!d->res)
        return -EINVAL;
    struct fallback_config fc;
    memset(&fc, 0, sizeof(fc));
    fc.threshold = (uint32_t)c->fallback_shared_threshold;
    fc.policy = (enum fallback_policy)c->fallback_shared_policy;
    int np =
        fallback_parse_prefixes(c->fallback_protect, fc.protect, FALLBACK_PROTECT_MAX, err, errlen);
    if (np < 0)
        return np; /* checked at load already */
    fc.nprotect = (size_t)np;
    d->fbk = fallback_new(&fc);
    if (!d->fbk) {
        snprintf(err, errlen, "fallback: out of memory");
        return -ENOMEM;
    }
    return 0;
}

static int fb_start(struct daemon *d, char *err, size_t errlen)
{
    if (!d->fbk)
        return 0;
    int e = pthread_create(&d->fb_th, NULL, fb_main, d);
    if (e != 0) {
        snprintf(err, errlen, "fallback: cannot start the thread: %s", strerror(e));
        return -e;
    }
    d->fb_started = true;
    log_write(d->log, LOG_LEVEL_INFO, "fallback", "resolving blocked names",
              LOG_KV(LOG_S("resolve",
                           d->cfg->fallback_resolve == SETTINGS_FALLBACK_ALL ? "all" : "marked"),
                     LOG_S("resolvers", d->cfg->fallback_resolvers[0] ? d->cfg->fallback_resolvers
                                                                      : "/etc/resolv.conf")));
    return 0;
}

/* Stops the thread and frees the fallback state (after the follower and the merge ended). */
static void fb_end(struct daemon *d)
{
    if (d->fb_started) {
        atomic_store(&d->fb_stop, true);
        pthread_join(d->fb_th, NULL);
        d->fb_started = false;
    }
    resolver_free(d->res);
    d->res = NULL;
    fallback_free(d->fbk);
    d->fbk = NULL;
    store_free(d->fb_store);
    d->fb_store = NULL;
    fbdocs_free(d->fb_docs);
    d->fb_docs = NULL;
    free_names(d->marked, d->nmarked);
    d->marked = NULL;
    d->nmarked = 0;
    free_names(d->marked_ids, d->nmarked_ids);
    d->marked_ids = NULL;
    d->nmarked_ids = 0;
    d->marked_valid = false;
}

/* The merge and compaction thread runs at nice MERGE_NICE: its work is background work (the
 * overlay answers meanwhile) and must not take the cores from the follower's applies and the
 * packet path on a loaded node; a stack left full meanwhile folds itself (ruleset_apply()). */
#define MERGE_NICE 10
/* Rounds of queued changes the merge thread applies outside pub_lock before it publishes. */
#define MERGE_ROUNDS 4

static void *merge_main(void *arg)
{
    struct daemon *d = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), MERGE_NICE); /* this thread only */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool compact = d->merge_compact;
    struct ruleset *m = compact ? ruleset_compact(d->merge_src) : ruleset_merge(d->merge_src);
    ruleset_free(d->merge_src);
    d->merge_src = NULL;
    char err[1024] = "out of memory merging the overlay";
    /* The changes queued meanwhile are applied to m outside pub_lock, so that the follower
     * goes on applying (and queueing) its own instead of waiting for this thread (at nice
     * MERGE_NICE); those that arrive during the last round are applied under it. */
    bool ok = m != NULL;
    size_t queued = 0;
    for (int round = 0; ok && round < MERGE_ROUNDS; round++) {
        pthread_mutex_lock(&d->pub_lock);
        bool live = d->merge_gen == d->gen;
        struct orderset_change **q = d->mq;
        size_t nq = d->nmq;
        d->mq = NULL;
        d->nmq = 0;
        pthread_mutex_unlock(&d->pub_lock);
        if (live && nq)
            ok = mq_apply(&m, q, nq, err, sizeof(err));
        mq_free(q, nq);
        queued += nq;
        if (!live) {
            ok = false;
            ruleset_free(m);
            m = NULL;
        }
        if (!nq)
            break;
    }
    pthread_mutex_lock(&d->pub_lock);
    ok = ok && d->merge_gen == d->gen;
    if (ok) {
        queued += d->nmq;
        ok = mq_apply(&m, d->mq, d->nmq, err, sizeof(err));
    }
    if (ok) {
        fb_attach(d, m);
        d->last = m;
        uint64_t v = rsref_publish(d->rules, m);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t ms =
            (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        log_write(d->log, LOG_LEVEL_INFO, "daemon",
                  compact ? "rules compacted (the deltas folded into one over the base)"
                          : "rules merged into a fresh base",
                  LOG_KV(LOG_U("version", v),
                         LOG_U("store_version", atomic_load(&d->store_version)),
                         LOG_U("changes_reapplied", queued), LOG_U("ms", ms)));
    } else {
        ruleset_free(m);
        if (d->merge_gen == d->gen)
            log_write(d->log, LOG_LEVEL_WARN, "daemon",
                      "merging the overlay failed; the next change compiles every order",
                      LOG_KV(LOG_S("error", err)));
        d->gen++;
    }
    mq_clear(d);
    d->merging = false;
    pthread_mutex_unlock(&d->pub_lock);
    return NULL;
}

/* Begins a merge of rs, or its compaction (pub_lock held). Returns 0, or a negative errno
 * (nothing begun). */
static int merge_begin(struct daemon *d, const struct ruleset *rs, bool compact)
{
    if (d->merge_started) { /* it cleared merging: it is at its end */
        pthread_join(d->merge_th, NULL);
        d->merge_started = false;
    }
    int rc = 0;
    char err[256];
    d->merge_src = ruleset_apply(rs, NULL, 0, NULL, 0, &rc, err, sizeof(err)); /* a reference */
    if (!d->merge_src)
        return rc ? rc : -ENOMEM;
    d->merge_gen = d->gen;
    d->merge_compact = compact;
    d->merging = true;
    int e = pthread_create(&d->merge_th, NULL, merge_main, d);
    if (e != 0) {
        d->merging = false;
        ruleset_free(d->merge_src);
        d->merge_src = NULL;
        return -e;
    }
    d->merge_started = true;
    return 0;
}

/* Waits for a merge under way (at stop, the follower stopped). */
static void merge_end(struct daemon *d)
{
    if (d->merge_started)
        pthread_join(d->merge_th, NULL);
    d->merge_started = false;
    mq_clear(d);
}

/* The follower's publication: the configured rule files and the store's active orders in one
 * set, published through rsref. A delta is applied to the set published last (its base holds
 * the rule files' entries, which have no order and stay); the whole set is compiled when there
 * is no delta (a snapshot, a reload of the rule files), when orderset_apply() refuses it
 * (-EINVAL: see orderset.h) or fails, and when the change adds more than orders.merge_threshold
 * entries; past that many overlay entries a background merge begins (see above). The first
 * publication maps the disk image when it matches. Runs on the follower's thread (and at
 * start on this one). */
/* The overlay a set may carry before it is merged (and the largest change applied as one):
 * orders.merge_threshold, or 1/orders.merge_ratio of the set (16: a sixteenth), whichever is
 * larger. A merge costs a
 * compilation of the whole set; against a large base a fixed threshold would merge every few
 * orders (at 5M entries, one 10k order in two) and keep the node's cores busy rebuilding,
 * while a lookup in an overlay of a sixteenth of the base costs no more than a second probe. */
static size_t merge_limit(const struct daemon *d, const struct ruleset *cur)
{
    size_t t = (size_t)d->cfg->orders_merge_threshold;
    size_t r = (size_t)d->cfg->orders_merge_ratio;
    size_t prop = cur && r ? ruleset_entry_count(cur) / r : 0;
    return prop > t ? prop : t;
}

static int fol_publish(void *ctx, const struct order *const *orders, size_t n,
                       const struct follower_delta *delta, uint64_t version, char *err,
                       size_t errlen)
{
    struct daemon *d = ctx;
    struct rules_result rr;
    memset(&rr, 0, sizeof(rr));
    const char *how = "compiled";
    int rc = 0;
    pthread_mutex_lock(&d->pub_lock);
    size_t delta_entries = 0;
    for (size_t i = 0; delta && i < delta->nadd; i++)
        delta_entries += delta->add[i]->nres;
    size_t limit = merge_limit(d, d->last);
    if (delta && d->last && delta_entries > limit) {
        /* an overlay that big would be merged at once: a compilation is cheaper */
        how = "compiled (change past orders.merge_threshold)";
    } else if (delta && d->last) {
        int arc = 0;
        char aerr[1024];
        rr.rs = orderset_apply(d->last, delta->add, delta->nadd, delta->revoke, delta->nrevoke,
                               &arc, aerr, sizeof(aerr));
        if (!rr.rs) {
            log_write(d->log, arc == -EINVAL ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "daemon",
                      "change not applicable to the running set; compiling every order",
                      LOG_KV(LOG_S("error", aerr)));
        } else {
            how = "applied";
            if (d->merging) {
                if (mq_push(d, delta) < 0)
                    d->gen++; /* the merge cannot catch up: void */
            } else if (ruleset_overlay_size(rr.rs) > limit) {
                if (merge_begin(d, rr.rs, false) < 0) {
                    ruleset_free(rr.rs);
                    rr.rs = NULL;
                    how = "compiled (overlay past orders.merge_threshold)";
                }
            } else if (ruleset_depth(rr.rs) >= RULESET_COMPACT_DEPTH) {
                (void)merge_begin(d, rr.rs, true); /* else the next applies fold themselves */
            }
        }
    }
    if (!rr.rs && !d->image_tried) {
        rr.rs = image_open(d, version);
        if (rr.rs)
            how = "disk image";
    }
    d->image_tried = true;
    if (!rr.rs) {
        rc = rules_build(d->log, d->cfg, orders, n, &rr, err, errlen);
        d->gen++;
    }
    if (rc == 0) {
        fb_attach(d, rr.rs);
        d->last = rr.rs;
        uint64_t v = rsref_publish(d->rules, rr.rs);
        atomic_store(&d->store_version, version);
        /* after the publication (still under pub_lock, where the fallback thread reads them):
         * a walk of the change, or of every resource of every order when it marks names */
        fb_collect_marked(d, orders, n, delta);
        struct ruleset_stats st;
        ruleset_get_stats(rr.rs, &st);
        log_write(d->log, LOG_LEVEL_INFO, "daemon", "rules published",
                  LOG_KV(LOG_U("version", v), LOG_U("store_version", version), LOG_U("orders", n),
                         LOG_S("how", how), LOG_U("files", rr.files), LOG_U("domains", st.domains),
                         LOG_U("urls", st.urls), LOG_U("ips", st.ips4 + st.ips6),
                         LOG_U("bytes", st.bytes)));
        if (n == 0 && d->cfg->rules.n == 0)
            log_write(d->log, LOG_LEVEL_WARN, "daemon",
                      "no rule files configured and no order in the store: every flow passes", NULL,
                      0);
    } else {
        d->marked_valid = false; /* the next delta is not from the orders marked was of */
    }
    pthread_mutex_unlock(&d->pub_lock);
    return rc;
}

/* The admin socket's answer: the set enforced right now. */
static void admin_query(void *ctx, const char *q, size_t len, FILE *out)
{
    struct daemon *d = ctx;
    static _Thread_local bool registered;
    if (!registered) {
        rsref_thread_register();
        registered = true;
    }
    struct verdict_policy pol = { .https_url =
                                      atomic_load(&d->admin_https_url) == SETTINGS_HTTPS_URL_IGNORE
                                          ? VERDICT_HTTPS_URL_IGNORE
                                          : VERDICT_HTTPS_URL_BLOCK_NAME,
                                  .notice_url = NULL,
                                  .nat64 = d->nat64 };
    if (len == sizeof(QUERY_FALLBACK) - 1 && memcmp(q, QUERY_FALLBACK, len) == 0) {
        char *doc = d->fbk ? fallback_report(d->fbk) : NULL;    /* fbk outlives the admin thread */
        char *ann = doc ? fbseen_annotate(d->seen, doc) : NULL; /* + names seen in traffic */
        if (doc)
            fputs(ann ? ann : doc, out); /* one line, newline included */
        else
            fputs("{\"error\":\"no IP fallback report (fallback.resolve = none, or no build "
                  "yet)\"}\n",
                  out);
        free(ann);
        free(doc);
        return;
    }
    uint64_t v = atomic_load(&d->store_version);
    rsref_read_lock();
    query_judge(rsref_get(d->rules), &pol, v, q, len, out);
    rsref_read_unlock();
}

/* A warning when a count of what was lost grew since it was last logged (by how much). */
static void warn_grown(struct daemon *d, const char *module, const char *msg, const char *key,
                       uint64_t now, uint64_t *logged)
{
    if (now == *logged)
        return;
    log_write(d->log, LOG_LEVEL_WARN, module, msg, LOG_KV(LOG_U(key, now - *logged)));
    *logged = now;
}

/* The heartbeat thread's flush: the workers' hit counts, one batch to the store. */
static int fol_flush(void *ctx, struct store *s, char *err, size_t errlen)
{
    struct daemon *d = ctx;
    if (!d->hits)
        return 0;
    int rc = hits_flush(d->hits, s, err, errlen);
    if (rc >= 0) {
        int erc = hits_flush_ech(d->hits, s, d->node_id, store_now_ms(), err, errlen);
        if (erc < 0)
            rc = erc;
    }
    if (rc >= 0) {
        int src = fbseen_flush(d->seen, s, d->node_id, store_now_ms(), err, errlen);
        if (src < 0)
            rc = src;
    }
    if (rc >= 0 && d->kdrops) {
        int krc = kdrops_flush(d->kdrops, s, d->node_id, store_now_ms(), err, errlen);
        if (krc < 0)
            rc = krc;
        warn_grown(d, "ipdrop", "kernel drops not counted", "entries", kdrops_lost(d->kdrops),
                   &d->kdrops_lost_logged);
    }
    if (rc >= 0 && d->tarcount) {
        int trc = tarcount_flush(d->tarcount, s, &d->pseudo, d->node_id, err, errlen);
        if (trc < 0)
            rc = trc;
        warn_grown(d, "tariff", "blocked attempts not counted", "dropped",
                   tarcount_dropped(d->tarcount), &d->tarcount_dropped_logged);
    }
    uint64_t dropped = hits_dropped(d->hits);
    if (dropped != d->hits_dropped_logged) { /* a full table or too much pending: say so */
        log_write(d->log, LOG_LEVEL_WARN, "hits", "hits not counted",
                  LOG_KV(LOG_U("dropped", dropped - d->hits_dropped_logged),
                         LOG_U("dropped_total", dropped)));
        d->hits_dropped_logged = dropped;
    }
    return rc;
}

/* The stats-line figures that are levels, not counts (exported as gauges). */
static int is_gauge(const char *name)
{
    static const char *const g[] = { "inline.active",      "notice.open",
                                     "subs.entries",       "queue.kernel_waiting",
                                     "queue.passed_noted", "engine.passed_names_kept",
                                     "queue.rules_stray",  "queue.rules_unfed",
                                     "inline.rules_unfed" };
    for (size_t i = 0; i < ARRAY_LEN(g); i++)
        if (strcmp(g[i], name) == 0)
            return 1;
    return 0;
}

/* 1 when the subscriber map runs from its fail-static copy (subfstatic.h), 0 when not, -1 when
 * the node follows no subscriber map (the admin API's status and alarms, /metrics). */
static int subs_failstatic(void *ctx)
{
    struct daemon *d = ctx;
    struct subfollow *f = atomic_load(&d->subf_api);
    if (!f)
        return -1;
    struct subfollow_stats st;
    subfollow_get_stats(f, &st);
    return st.from_failstatic;
}

/* The gauges of the kernel's rules that feed the workers (queue.rules_unfed, inline.rules_unfed,
 * queue.rules_stray), from the registered counters: the admin API's alarms. */
static void feed_state(void *ctx, uint64_t *unfed, uint64_t *stray)
{
    struct daemon *d = ctx;
    *unfed = *stray = 0;
    pthread_mutex_lock(&d->reg_lock);
    for (size_t i = 0; i < d->nregs; i++)
        for (size_t k = 0; k < d->regs[i].n; k++) {
            const char *name = d->regs[i].names[k];
            uint64_t v = atomic_load_explicit(&d->regs[i].values[k], memory_order_relaxed);
            if (strcmp(name, "queue.rules_unfed") == 0 || strcmp(name, "inline.rules_unfed") == 0)
                *unfed += v;
            else if (strcmp(name, "queue.rules_stray") == 0)
                *stray += v;
        }
    pthread_mutex_unlock(&d->reg_lock);
}

/* The daemon's own metric families for /metrics: every registered worker counter summed over
 * the workers (qorgau_NAME_total) and per worker (qorgau_worker_NAME_total{worker}), read
 * without stopping them; the log, the notice page server and the RADIUS listener. */
static void daemon_metrics(void *ctx, FILE *f)
{
    struct daemon *d = ctx;
    pthread_mutex_lock(&d->reg_lock);
    metrics_counters(f, d->regs, d->nregs, is_gauge);
    pthread_mutex_unlock(&d->reg_lock);
    struct log_kv kv[NOTICE_STATS_KV + RADIUS_STATS_KV + IPDROP_STATS_KV + 2];
    size_t n = 0;
    kv[n++] = LOG_U("log.queue_drops", log_queue_drops(d->log));
    kv[n++] = LOG_U("log.write_errors", log_write_errors(d->log));
    n += notice_stats_kv(d, kv + n);
    n += radius_stats_kv(d, kv + n);
    n += ipdrop_stats_kv(d, kv + n);
    for (size_t i = 0; i < n; i++) {
        char m[160];
        bool gauge = strcmp(kv[i].key, "notice.open") == 0 ||
                     strcmp(kv[i].key, "subs.entries") == 0 ||
                     strncmp(kv[i].key, "ip.kernel_entries", 17) == 0;
        if (kv[i].type != LOG_KV_UINT || metrics_name(kv[i].key, gauge, m, sizeof(m)) < 0)
            continue;
        metrics_head(f, m, gauge ? "gauge" : "counter", "see the stats line (docs/admin.md)");
        metrics_value(f, m, kv[i].v.u);
    }
    int fs = subs_failstatic(d);
    if (fs >= 0) {
        metrics_head(f, "qorgau_subs_failstatic", "gauge",
                     "1 when the subscriber map and tariff records came from the fail-static "
                     "copy, not yet replaced by a load from the store");
        metrics_value(f, "qorgau_subs_failstatic", (uint64_t)fs);
    }
}

/* The admin listener: admin.sock (and admin.listen), the API's endpoints. */
static int admin_open(struct daemon *d, const char *path, uid_t uid, gid_t gid, char *err,
                      size_t errlen)
{
    const struct settings *c = d->cfg;
    struct adminhttp_config ac = {
        .unix_path = path,
        .uid = uid,
        .gid = gid,
        .listen = c->admin_listen,
        .tokens_file = c->admin_tokens_file,
        .max_connections = (unsigned)c->admin_max_connections,
        .idle_timeout_ms = (unsigned)c->admin_idle_timeout,
        .max_body = (size_t)c->admin_max_body_bytes,
        .tls_cert = c->admin_tls_cert,
        .tls_key = c->admin_tls_key,
        .client_ca = c->admin_tls_client_ca,
    };
    d->admin = adminhttp_new(&ac, d->log, err, errlen);
    if (!d->admin)
        return -EIO;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    d->api = (struct adminapi_src){
        .node_id = d->node_id,
        .mode = modes[c->mode].name,
        .ro = { (unsigned)c->report_deadline_days, d->api.tz, 0 },
        .workers = d->nworkers,
        .started_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u,
        .rules = d->rules,
        .fol = d->fol,
        .decisions = d->decisions,
        .query = admin_query,
        .metrics = daemon_metrics,
        .subs_failstatic = subs_failstatic,
        .feed = feed_state,
        .ctx = d,
        .http = d->admin,
    };
    snprintf(d->api.store_url, sizeof(d->api.store_url), "%s", store_url(d));
    snprintf(d->api.password_file, sizeof(d->api.password_file), "%s", c->store_password_file);
    snprintf(d->api.tz, sizeof(d->api.tz), "%s", c->report_timezone);
    int rc = adminapi_mount(d->admin, &d->api);
    if (rc < 0) {
        snprintf(err, errlen, "admin: cannot mount the API: %s", strerror(-rc));
        return rc;
    }
    /* The parents API (docs/profiles.md) reads and writes tariff records and day summaries in
     * the store through a connection of its own, opened at its first request (a node starts
     * while the store is down). */
    d->parents = parents_api_open(store_url(d), c->store_password_file, &d->pseudo);
    if (!d->parents) {
        snprintf(err, errlen, "admin: parents API: out of memory");
        return -ENOMEM;
    }
    rc = adminhttp_mount(d->admin, "/api/v1/parents/", "parents", parents_api_handle, d->parents);
    if (rc < 0) {
        snprintf(err, errlen, "admin: cannot mount the parents API: %s", strerror(-rc));
        return rc;
    }
    rc = adminhttp_start(d->admin, err, errlen);
    if (rc < 0)
        return rc;
    if (c->admin_listen[0])
        log_write(
            d->log, LOG_LEVEL_INFO, "admin", "admin API listening",
            LOG_KV(LOG_S("listen", c->admin_listen), LOG_U("port", adminhttp_port(d->admin))));
    return 0;
}

static int store_setup(struct daemon *d, char *err, size_t errlen)
{
    const struct settings *c = d->cfg;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(c->user);
        if (pw && pw->pw_uid != 0) {
            uid = pw->pw_uid;
            gid = pw->pw_gid;
        }
    }
    if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "daemon: state_dir %s: cannot create: %s", c->state_dir,
                 strerror(errno));
        return -errno;
    }
    if (uid != (uid_t)-1 && chown(c->state_dir, uid, gid) != 0) {
        snprintf(err, errlen, "daemon: state_dir %s: cannot give it to user %s: %s", c->state_dir,
                 c->user, strerror(errno));
        return -EPERM;
    }
    char host[256] = "";
    const char *node = c->node_id;
    if (!node[0]) {
        if (gethostname(host, sizeof(host) - 1) != 0 || !store_id_valid(host, strlen(host)))
            snprintf(host, sizeof(host), "node-%ld", (long)getpid());
        node = host;
    }
    snprintf(d->node_id, sizeof(d->node_id), "%s", node);
    struct follower_config fc = {
        .url = store_url(d),
        .state_dir = c->state_dir,
        .password_file = c->store_password_file,
        .node_id = node,
        .heartbeat_ms = (uint32_t)c->store_heartbeat,
        .retry_max_ms = (uint32_t)c->store_retry_max,
        .saved = fol_saved,
        .flush = fol_flush,
        .mode = modes[c->mode].name,
    };
    atomic_store(&d->admin_https_url, c->https_url);
    d->nat64 = c->ip_nat64;
    int rc = fb_setup(d, err, errlen);
    if (rc < 0)
        return rc;
    d->fol = follower_new(&fc, d->log, fol_publish, d, err, errlen);
    if (!d->fol)
        return -ENOMEM;
    rc = follower_start(d->fol, err, errlen);
    if (rc < 0)
        return rc;
    rc = fb_start(d, err, errlen);
    if (rc < 0)
        return rc;
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", c->state_dir, ADMINHTTP_SOCKET_NAME);
    rc = admin_open(d, path, uid, gid, err, errlen);
    if (rc < 0)
        return rc;
    log_write(d->log, LOG_LEVEL_INFO, "daemon", "following the order store",
              LOG_KV(LOG_S("node", node), LOG_S("admin", path)));
    return 0;
}

/* Opens the RADIUS Accounting listener when radius.listen is set (as root: secrets, port). */
static int radius_open(struct daemon *d, char *err, size_t errlen)
{
    const struct settings *c = d->cfg;
    if (!c->radius_listen[0])
        return 0;
    struct radius_config rc = {
        .listen = c->radius_listen,
        .clients = &c->radius_client,
        .store_url = store_url(d),
        .password_file = c->store_password_file,
        .session_ttl_ms = c->radius_session_ttl,
        .subscriber_id = c->radius_subscriber_id,
        .map_capacity = (size_t)c->radius_map_capacity,
    };
    d->radius = radius_listener_new(&rc, d->log, err, errlen);
    return d->radius ? 0 : -1;
}

/* The node's subscriber map follows the store (Redis, Sentinel): the listener's map, or one
 * of its own. With the directory store (when tariffs are on: d->tarf) its mappings' log and its
 * tariff file's change marker are followed, both listed again on reload. */
static int subs_open(struct daemon *d, char *err, size_t errlen)
{
    int why;
    struct store_url u;
    const char *url = store_url(d);
    if (store_url_parse(url, strlen(url), &u, err, errlen) != 0)
        return -1;
    if (u.kind == STORE_URL_DIR && !d->vt.tariff)
        return 0; /* the listener's map, if any, is its own; nothing reads the store's */
    struct submap *map = d->radius ? radius_listener_map(d->radius) : NULL;
    if (!map) {
        d->own_map = submap_new((size_t)d->cfg->radius_map_capacity);
        if (!(map = d->own_map)) {
            snprintf(err, errlen, "subscribers: out of memory");
            return -1;
        }
    }
    if (u.kind == STORE_URL_DIR) {
        d->tarf = subfollow_new(url, d->cfg->store_password_file, map, d->log, &why, err, errlen);
        if (!d->tarf)
            return -1;
        subfollow_set_tariff(d->tarf, d->tariff);
        return 0;
    }
    d->subf =
        subfollow_new(store_url(d), d->cfg->store_password_file, map, d->log, &why, err, errlen);
    if (d->subf && d->vt.tariff)
        subfollow_set_tariff(d->subf, d->tariff);
    if (d->subf)
        subfollow_set_failstatic(d->subf, d->cfg->state_dir,
                                 d->cfg->subscribers_failstatic_interval);
    if (d->subf)
        return 0;
    submap_free(d->own_map);
    d->own_map = NULL;
    return -1;
}

/* ---- child tariffs (docs/profiles.md) ---- */

/* Loads the category trees and the profiles file into d->tariff and publishes them; bad lines
 * are logged as warnings. Returns 0 or a negative errno with a message in err. */
static int tariff_load(struct daemon *d, const struct settings *c, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *errs = open_memstream(&buf, &len);
    struct tariffcfg_stats st;
    tariff_set_default(d->tariff, c->profiles_default);
    int rc =
        tariffcfg_load(d->tariff, (const char *const *)c->categories_dir.items, c->categories_dir.n,
                       c->profiles_file, c->profiles_timezone, time(NULL), errs, &st, err, errlen);
    if (errs)
        fclose(errs);
    for (char *l = buf, *e; l && *l; l = e) {
        e = l + strcspn(l, "\n");
        if (*e)
            *e++ = '\0';
        log_write(d->log, LOG_LEVEL_WARN, "tariff", "line skipped", LOG_KV(LOG_S("error", l)));
    }
    free(buf);
    if (rc == 0)
        log_write(d->log, LOG_LEVEL_INFO, "tariff", "categories and profiles loaded",
                  LOG_KV(LOG_U("categories", st.categories), LOG_U("domains", st.domains),
                         LOG_U("urls", st.urls), LOG_U("definitions", st.definitions),
                         LOG_U("bad_lines", st.bad_lines), LOG_I("left_out", st.problems)));
    return rc;
}

/* The tariff table and the pseudonym key, when configured (categories.dir or profiles.file). */
static int tariff_open(struct daemon *d, char *err, size_t errlen)
{
    const struct settings *c = d->cfg;
    d->pseudo.clear = c->privacy_clear_ids;
    if (c->privacy_secret_file[0] &&
        pseudo_load(&d->pseudo, c->privacy_secret_file, err, errlen) < 0)
        return -EINVAL;
    if (!c->categories_dir.n && !c->profiles_file[0])
        return 0;
    if (!(d->tariff = tariff_new(c->profiles_default))) {
        snprintf(err, errlen, "tariff: out of memory");
        return -ENOMEM;
    }
    tariff_set_pseudo(d->tariff, &d->pseudo); /* its problems, logged, name pseudonyms */
    int rc = tariff_load(d, c, err, errlen);
    if (rc < 0)
        return rc;
    d->vt.tariff = d->tariff;
    return 0;
}

/* Starts the notice page server on notice.listen (as root: the port may be privileged). */
static int notice_open(struct daemon *d, char *err, size_t errlen)
{
    struct notice_config nc;
    notice_settings(d->cfg, &nc);
    d->notice = notice_server_new(&nc, d->cfg->notice_listen.text, d->log, err, errlen);
    return d->notice ? 0 : -1;
}

static int run(struct daemon *d)
{
    char err[1024];
    int ret = 1;
    int rc;
    sigset_t set;

    d->log = log_new(d->foreground ? "-" : d->cfg->log_file, (enum log_level)d->cfg->log_level,
                     (uint32_t)d->cfg->log_block_rate, err, sizeof(err));
    if (!d->log) {
        fprintf(stderr, "qorgau: %s\n", err);
        return DAEMON_EXIT_CONFIG;
    }
    /* workers hand block lines to the logger's own writer thread and never wait for the disk */
    int lrc = log_start_async(d->log);
    if (lrc < 0) {
        fprintf(stderr, "qorgau: log: cannot start the writer thread: %s\n", strerror(-lrc));
        log_free(d->log);
        d->log = NULL;
        return DAEMON_EXIT_CONFIG;
    }
    d->mode = &modes[d->cfg->mode];
    log_write(d->log, LOG_LEVEL_INFO, "daemon", "starting",
              LOG_KV(LOG_S("version", QORGAU_VERSION), LOG_S("config", d->config_path),
                     LOG_S("mode", d->mode->name), LOG_I("pid", getpid())));
    if (!d->mode->ops) {
        fatal(d, "mode %s is not built into this binary", d->mode->name);
        return DAEMON_EXIT_NOT_BUILT;
    }
    if (setup_signals(d, &set) < 0) {
        fatal(d, "cannot set up signal handling: %s", strerror(errno));
        return 1;
    }

    d->rules = rsref_new();
    if (!d->rules) {
        fatal(d, "out of memory");
        return 1;
    }
    d->nworkers = worker_count(d->cfg);
    d->hits = hits_new(d->nworkers);
    d->svc = service_new(d->nworkers, d->log);
    d->decisions = decisions_new(d->nworkers);
    d->seen = fbseen_new(d->nworkers);
    d->kdrops = kdrops_new();
    if (!d->hits || !d->svc || !d->decisions || !d->seen || !d->kdrops) {
        fatal(d, "out of memory");
        return 1;
    }
    /* the watchdog pings through start-up (a large set compiles for long: TimeoutStartSec) */
    service_busy(d->svc, true);
    rc = service_start(d->svc);
    if (rc < 0) {
        fatal(d, "cannot start the watchdog thread: %s", strerror(-rc));
        return 1;
    }
    rc = store_setup(d, err, sizeof(err));
    if (rc < 0) {
        fatal(d, "%s", err);
        return rc == -EINVAL ? DAEMON_EXIT_CONFIG : 1;
    }

    if (tariff_open(d, err, sizeof(err)) < 0) {
        fatal(d, "%s", err);
        return DAEMON_EXIT_CONFIG;
    }
    if (d->vt.tariff && !(d->tarcount = tarcount_new(d->nworkers))) {
        fatal(d, "out of memory");
        return 1;
    }
    d->ctx = (struct daemon_ctx){ .rules = d->rules,
                                  .log = d->log,
                                  .workers = d->nworkers,
                                  .counters_register = counters_register,
                                  .priv = d,
                                  .hits = d->hits,
                                  .decisions = d->decisions,
                                  .beats = service_beats(d->svc),
                                  .seen = d->seen,
                                  .tariff = d->vt.tariff ? &d->vt : NULL,
                                  .pseudo = &d->pseudo,
                                  .tarcount = d->tarcount };
    rc = d->mode->ops->open(d->cfg, &d->ctx, &d->state, err, sizeof(err));
    if (rc < 0) {
        fatal(d, "%s", err[0] ? err : strerror(-rc));
        return 1;
    }
    if (notice_open(d, err, sizeof(err)) < 0) {
        fatal(d, "%s", err);
        goto close_mode;
    }
    if (ipd_open(d, err, sizeof(err)) < 0) {
        fatal(d, "%s", err);
        goto close_mode;
    }
    if (radius_open(d, err, sizeof(err)) < 0 || subs_open(d, err, sizeof(err)) < 0) {
        fatal(d, "%s", err);
        goto close_mode;
    }
    /* the workers have not started: they see the map from their first decision */
    d->vt.subs = d->radius ? radius_listener_map(d->radius) : d->own_map;
    if (drop_privileges(d, err, sizeof(err)) < 0) {
        fatal(d, "%s", err);
        goto close_mode;
    }
    if (ipd_start(d, err, sizeof(err)) < 0) {
        fatal(d, "%s", err);
        goto close_mode;
    }
    log_write(d->log, LOG_LEVEL_INFO, "notice", "notice page server listening",
              LOG_KV(LOG_S("listen", d->cfg->notice_listen.text),
                     LOG_U("port", notice_server_port(d->notice))));
    if (d->radius) {
        rc = radius_listener_start(d->radius);
        if (rc < 0) {
            fatal(d, "radius: cannot start the listener thread: %s", strerror(-rc));
            goto close_mode;
        }
        log_write(d->log, LOG_LEVEL_INFO, "radius", "accounting listener started",
                  LOG_KV(LOG_S("listen", d->cfg->radius_listen),
                         LOG_U("port", radius_listener_port(d->radius)),
                         LOG_U("clients", d->cfg->radius_client.n)));
    }
    if (d->subf && (rc = subfollow_start(d->subf)) < 0) {
        fatal(d, "subscribers: cannot start the follower thread: %s", strerror(-rc));
        goto close_mode;
    }
    atomic_store(&d->subf_api, d->subf);
    if (d->tarf && (rc = subfollow_start(d->tarf)) < 0) {
        fatal(d, "tariff: cannot start the thread following the directory store: %s",
              strerror(-rc));
        goto close_mode;
    }

    d->workers = calloc(d->nworkers, sizeof(*d->workers));
    if (!d->workers) {
        fatal(d, "out of memory");
        goto close_mode;
    }
    for (unsigned i = 0; i < d->nworkers; i++) {
        struct worker *w = &d->workers[i];
        w->d = d;
        w->idx = i;
        atomic_init(&w->done, 0);
        rc = pthread_create(&w->th, NULL, worker_main, w);
        if (rc != 0) {
            fatal(d, "cannot start worker %u: %s", i, strerror(rc));
            stop_workers(d);
            goto close_mode;
        }
        d->started++;
    }
    /* the admin API says ready from here (it answered since store_setup()) */
    adminapi_set_ready(&d->api, true);
    log_write(d->log, LOG_LEVEL_INFO, "daemon", "started",
              LOG_KV(LOG_S("mode", d->mode->name), LOG_U("workers", d->nworkers),
                     LOG_U("rules_version", rsref_version(d->rules))));
    /* rules loaded, sockets, capture and listeners open, privileges dropped, workers running */
    char status[256];
    service_status_line(d, status, sizeof(status));
    service_running(d->svc);
    service_busy(d->svc, false);
    service_ready(status);

    ret = main_loop(d);
    adminapi_set_ready(&d->api, false); /* before the workers stop; the API still answers */
    service_busy(d->svc, true);         /* the stop: TimeoutStopSec governs it */
    if (stop_workers(d) < 0)
        ret = 1;
close_mode:
    atomic_store(&d->subf_api, NULL);
    subfollow_free(d->subf);
    d->subf = NULL;
    subfollow_free(d->tarf);
    d->tarf = NULL;
    radius_listener_free(d->radius);
    d->radius = NULL;
    submap_free(d->own_map);
    d->own_map = NULL;
    adminhttp_free(d->admin);
    d->admin = NULL;
    parents_api_free(d->parents);
    d->parents = NULL;
    ipd_stop_thread(d);
    follower_free(d->fol);
    d->fol = NULL;
    merge_end(d);
    fb_end(d);
    ipd_end(d);
    notice_server_free(d->notice);
    d->notice = NULL;
    d->mode->ops->close(d->state);
    d->state = NULL;

    log_write(d->log, LOG_LEVEL_INFO, "daemon", "stopped", LOG_KV(LOG_I("exit", ret)));
    return ret;
}

int daemon_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "foreground", no_argument, NULL, 'f' },
        { "check", no_argument, NULL, 'k' },        { "store", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.sfd = d.efd = -1;
    bool check_only = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': d.config_path = optarg; break;
        case 'f': d.foreground = true; break;
        case 'k': check_only = true; break;
        case 's': d.store_url = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return DAEMON_EXIT_USAGE;
        }
    }
    if (!d.config_path || optind != argc) {
        fputs("qorgau run: -c FILE is required and takes no other arguments\n", stderr);
        usage(stderr);
        return DAEMON_EXIT_USAGE;
    }
    char err[1024];
    d.cfg = settings_load_file(d.config_path, err, sizeof(err));
    if (!d.cfg) {
        fprintf(stderr, "qorgau: %s\n", err);
        return DAEMON_EXIT_CONFIG;
    }
    clock_gettime(CLOCK_MONOTONIC, &d.t0);
    pthread_mutex_init(&d.reg_lock, NULL);
    pthread_mutex_init(&d.pub_lock, NULL);

    int ret = check_only ? check(&d) : run(&d);

    /* a start that failed after the follower or the admin socket began leaves them here */
    adminhttp_free(d.admin);
    parents_api_free(d.parents);
    decisions_free(d.decisions);
    follower_free(d.fol);
    hits_free(d.hits);
    fbseen_free(d.seen);
    kdrops_free(d.kdrops);
    tariff_free(d.tariff); /* after the workers and the follower: nothing reads it any more */
    tarcount_free(d.tarcount);
    d.fol = NULL;
    merge_end(&d);
    fb_end(&d);
    service_free(d.svc);
    free(d.workers);
    free(d.regs);
    pthread_mutex_destroy(&d.reg_lock);
    pthread_mutex_destroy(&d.pub_lock);
    rsref_free(d.rules);
    if (d.sfd >= 0)
        close(d.sfd);
    if (d.efd >= 0)
        close(d.efd);
    log_free(d.log);
    settings_free(d.cfg);
    return ret;
}

/* `config rules [--iptables|--nft] [--redirect] [--iface NAME]... [-c] FILE`: the kernel rules of
 * FILE's mode on stdout - queue mode's NFQUEUE rules (proxy/enforce/queuerules.h), inline mode's
 * diversion (proxy/enforce/divertrules.h). */
static int config_rules(int argc, char **argv)
{
    enum queuerules_format fmt = QUEUERULES_IPTABLES;
    bool nft = false, ipt = false, redirect = false, usage = false;
    const char *path = NULL, *ifaces[DIVERTRULES_IFACES + 1];
    unsigned nifaces = 0;
    for (int i = 1; i < argc && !usage; i++) {
        if (strcmp(argv[i], "--nft") == 0)
            nft = true;
        else if (strcmp(argv[i], "--iptables") == 0)
            ipt = true;
        else if (strcmp(argv[i], "--redirect") == 0)
            redirect = true;
        else if (strcmp(argv[i], "--iface") == 0 && i + 1 < argc && nifaces <= DIVERTRULES_IFACES)
            ifaces[nifaces++] = argv[++i]; /* one past the most: refused by the check */
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && !path)
            path = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            usage = true;
    }
    if (!path || usage || (nft && ipt)) {
        fputs("usage: qorgau config rules [--iptables|--nft] [-c] FILE             (mode = queue)\n"
              "       qorgau config rules [--redirect] [--iface NAME]... [-c] FILE  (mode = "
              "inline)\n",
              stderr);
        return DAEMON_EXIT_USAGE;
    }
    if (nft)
        fmt = QUEUERULES_NFT;
    char err[512];
    struct settings *c = settings_load_file(path, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "qorgau: %s\n", err);
        return DAEMON_EXIT_CONFIG;
    }
    /* the file's name goes into a comment line of the rules: a newline in it would start a
     * line of its own (a rule), so control characters are shown as '?' */
    char shown[512];
    snprintf(shown, sizeof(shown), "%s", path);
    for (char *q = shown; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    const char *why = NULL;
    int rc = 0;
    if (c->mode == SETTINGS_MODE_INLINE) {
        struct divertrules_cfg v;
        divertrules_cfg_default(&v);
        v.tproxy_port = (uint16_t)c->inline_tproxy_port;
        v.redirect_port = (uint16_t)c->inline_redirect_port;
        v.redirect = redirect;
        v.drop_quic = c->inline_quic != SETTINGS_QUIC_PASS;
        v.ifaces = ifaces;
        v.nifaces = nifaces;
        if (ipt)
            why = "inline mode's diversion is an nft script (no --iptables form)";
        else if (!(why = divertrules_check(&v)))
            rc = divertrules_write(stdout, &v, shown);
    } else if (c->mode == SETTINGS_MODE_QUEUE) {
        struct queuerules_cfg q;
        queuerules_cfg_default(&q);
        q.queue_first = (uint32_t)c->queue_num;
        q.queues = worker_count(c); /* workers = 0: one per CPU of this machine, as the daemon */
        q.bypass = c->queue_fail == SETTINGS_QUEUE_FAIL_OPEN;
        q.mark_pass = (uint32_t)c->queue_mark_pass;
        q.mark_block = (uint32_t)c->queue_mark_block;
        q.settle_packets = (uint32_t)c->queue_settle_packets;
        q.new_rate = (uint32_t)c->queue_source_new_rate;
        q.new_burst = (uint32_t)c->queue_source_new_burst;
        q.queued_rate = (uint32_t)c->queue_source_queued_rate;
        q.queued_burst = (uint32_t)c->queue_source_queued_burst;
        q.sources = (uint32_t)c->queue_source_table;
        q.expire_ms = (uint32_t)c->queue_source_expire;
        q.prefix6 = (unsigned)c->client_prefix6;
        q.web_only = c->queue_ports == SETTINGS_QUEUE_PORTS_WEB;
        if (redirect || nifaces)
            why = "--redirect and --iface are inline mode's (queue mode's rules judge what the "
                  "router forwards, whichever interface it came in on)";
        else if (!(why = queuerules_check(&q)))
            rc = queuerules_write(stdout, &q, fmt, shown);
    } else {
        why = "mode = tap reads a copy of the traffic: it needs no kernel rules (queue and inline "
              "modes do)";
    }
    settings_free(c);
    if (why) {
        fprintf(stderr, "qorgau: config rules: %s: %s\n", path, why);
        return DAEMON_EXIT_CONFIG;
    }
    if (rc < 0) {
        fprintf(stderr, "qorgau: config rules: writing: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

int daemon_config_main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "doc") == 0)
        return settings_doc(stdout) < 0 ? 1 : 0;
    if (argc >= 2 && strcmp(argv[1], "rules") == 0)
        return config_rules(argc - 1, argv + 1);
    /* `config check FILE`, or `config check -c FILE` as the other commands take it */
    if ((argc == 3 || (argc == 4 && strcmp(argv[2], "-c") == 0)) && strcmp(argv[1], "check") == 0) {
        char *av[] = { "run", "--check", "-c", argv[argc - 1], NULL };
        return daemon_main(4, av);
    }
    fputs(
        "usage: qorgau config check [-c] FILE   validate, print the effective configuration\n"
        "       qorgau config doc               print the key table of docs/configuration.md\n"
        "       qorgau config rules [--iptables|--nft] [--redirect] [--iface NAME]... [-c] FILE\n"
        "                                       the kernel rules of FILE's mode (queue, inline)\n",
        stderr);
    return DAEMON_EXIT_USAGE;
}
