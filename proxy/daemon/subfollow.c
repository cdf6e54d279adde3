/* subfollow.c - the node's subscriber map following the store (see subfollow.h). */
#include "proxy/daemon/subfollow.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/daemon/subfstatic.h"
#include "proxy/daemon/tariffcfg.h"
#include "rules/store/store.h"

#define WAIT_MS        1000u
#define WAIT_BOTH_MS   400u /* each of the two streams, when tariff records are followed too */
#define WAIT_DIR_MS    100u /* the directory store: its tariff marker (the log is not waited on) */
#define RETRY_MS       1000u
#define SWEEP_EVERY_MS 60000u

struct subfollow {
    char *url, *password_file;
    struct store *store; /* opened by the thread, again after a failed attempt */
    struct submap *map;
    struct log *log;
    pthread_t th;
    bool started;
    atomic_bool stop;
    char cursor[STORE_SUB_CURSOR_MAX];
    _Atomic uint64_t applied, loads, errors;
    struct tariff *tariff; /* tariff records followed too, or NULL */
    char tcursor[STORE_SUB_CURSOR_MAX];
    /* the directory store: its mappings' log followed without waiting, the tariff records
     * through the file's change marker (store_tariff_follow()); both listed again at each
     * subfollow_reread(); no fail-static copy */
    bool dir;
    bool preloaded;     /* subfollow_start() did the first load (the directory store) */
    atomic_bool reread; /* subfollow_reread(): list the store again */
    /* the fail-static copy (subfstatic.h): its path ("" none), the write interval, what the
     * file gave at start until the store's first full load replaces it (the thread's) */
    char *fs_path;
    uint64_t fs_interval_ms;
    struct subfstatic *fs;
    struct subfstatic_info fs_info;
    _Atomic bool from_failstatic;
    _Atomic uint64_t fs_writes, fs_write_errors;
    /* the map's mappings and the table's store records when a full load began (the thread's;
     * NULL: none, or the first load after the fail-static copy, which sweeps its own): what the
     * load does not set again goes */
    struct subfstatic *held;
};

void subfollow_set_failstatic(struct subfollow *f, const char *state_dir, uint64_t interval_ms)
{
    free(f->fs_path);
    f->fs_path = NULL;
    if (state_dir && *state_dir && !f->dir) {
        size_t n = strlen(state_dir) + sizeof("/" SUBFSTATIC_NAME);
        if ((f->fs_path = malloc(n)) != NULL)
            snprintf(f->fs_path, n, "%s/%s", state_dir, SUBFSTATIC_NAME);
    }
    f->fs_interval_ms = interval_ms;
}

/* "2026-12-03T17:00:00Z" of a wall-clock time in ms. */
static void utc_text(uint64_t ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000u);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%" PRIu64 " ms", ms);
}

/* Writes the fail-static copy of the map and the tariff records (the follower's thread). */
static void fs_write(struct subfollow *f)
{
    if (!f->fs_path)
        return;
    char err[1024];
    size_t maps, defs;
    int rc = subfstatic_write(f->fs_path, f->map, f->tariff, store_now_ms(), &maps, &defs, err,
                              sizeof(err));
    if (rc < 0) {
        if (atomic_fetch_add(&f->fs_write_errors, 1) == 0)
            log_write(f->log, LOG_LEVEL_WARN, "subscribers",
                      "cannot write the fail-static copy; retrying at the next interval",
                      LOG_KV(LOG_S("error", err)));
        return;
    }
    if (atomic_fetch_add(&f->fs_writes, 1) == 0)
        log_write(f->log, LOG_LEVEL_INFO, "subscribers", "fail-static copy written",
                  LOG_KV(LOG_S("path", f->fs_path), LOG_U("mappings", maps),
                         LOG_U("tariff_records", defs)));
}

/* Loads the fail-static copy into the map and the table, before the thread starts. */
static void fs_load(struct subfollow *f)
{
    char err[1024];
    int rc = subfstatic_load(f->fs_path, f->map, f->tariff, store_now_ms(), &f->fs, &f->fs_info,
                             err, sizeof(err));
    if (rc == -ENOENT) {
        log_write(f->log, LOG_LEVEL_INFO, "subscribers",
                  "no fail-static copy yet; the map starts empty",
                  LOG_KV(LOG_S("path", f->fs_path)));
    } else if (rc < 0) {
        log_write(f->log, LOG_LEVEL_ERROR, "subscribers",
                  "fail-static copy refused; the map starts empty", LOG_KV(LOG_S("error", err)));
        subfstatic_free(f->fs);
        f->fs = NULL;
    } else {
        char when[64];
        utc_text(f->fs_info.written_ms, when, sizeof(when));
        atomic_store(&f->from_failstatic, true);
        log_write(
            f->log, LOG_LEVEL_INFO, "subscribers", "fail-static copy loaded",
            LOG_KV(LOG_S("path", f->fs_path), LOG_S("written", when),
                   LOG_U("mappings", f->fs_info.mappings), LOG_U("expired", f->fs_info.expired),
                   LOG_U("map_full", f->fs_info.map_full), LOG_U("tariff_records", f->fs_info.defs),
                   LOG_U("tariff_records_kept", f->fs_info.kept)));
    }
}

/* The store's full load is done: what the file gave and the load did not set goes. */
static void fs_replaced(struct subfollow *f)
{
    if (!f->fs)
        return;
    size_t maps, defs;
    subfstatic_sweep(f->fs, f->map, f->tariff, &maps, &defs);
    subfstatic_free(f->fs);
    f->fs = NULL;
    atomic_store(&f->from_failstatic, false);
    log_write(f->log, LOG_LEVEL_INFO, "subscribers",
              "the store's load replaced the fail-static copy",
              LOG_KV(LOG_U("mappings_removed", maps), LOG_U("tariff_records_removed", defs)));
}

/* A full load is about to begin: what the map and the table's store records hold now is noted,
 * so that what the load does not set again can go after it (the store dropped it while the node
 * could not follow: a failover to a replica that missed it, a removal the node did not see).
 * Not for the load that replaces the fail-static copy: its sweep is the copy's. */
static void held_note(struct subfollow *f)
{
    subfstatic_free(f->held);
    f->held = f->fs ? NULL : subfstatic_of(f->map, f->tariff);
}

/* The full load is done: the mappings it did not set again go (only while they still carry the
 * session they had when it began: one the node's listener mapped again meanwhile stays), and
 * the store's records it did not set again (tariff_layer_del(): as a removal from the stream). */
static void held_sweep(struct subfollow *f)
{
    if (!f->held)
        return;
    size_t maps, defs;
    subfstatic_sweep(f->held, f->map, f->tariff, &maps, &defs);
    subfstatic_free(f->held);
    f->held = NULL;
    if (maps || defs)
        log_write(f->log, LOG_LEVEL_INFO, "subscribers",
                  "the store's load removed what it no longer has",
                  LOG_KV(LOG_U("mappings_removed", maps), LOG_U("tariff_records_removed", defs)));
}

/* tariffcfg_apply_record() into the table, noting the record for the fail-static sweep. */
static int tariff_apply(void *ctx, const struct store_tariff *r)
{
    struct subfollow *f = ctx;
    subfstatic_seen_def(f->fs, r->kind != STORE_TARIFF_PROFILE, r->name);
    subfstatic_seen_def(f->held, r->kind != STORE_TARIFF_PROFILE, r->name);
    return tariffcfg_apply_record(f->tariff, r);
}

void subfollow_set_tariff(struct subfollow *f, struct tariff *t)
{
    f->tariff = t;
}

static void held_sweep(struct subfollow *f);
static int apply(void *ctx, const struct store_sub *e);
static int relist(struct subfollow *f, bool with_map, char *err, size_t errlen);

/* The tariff records: all of them (load) or the changes after the cursor; published when any
 * arrived. A cursor the store cannot follow from (-ESTALE: the directory store's file changed)
 * lists them all again (relist()). Returns the count or a negative errno. */
static int tariff_step(struct subfollow *f, bool load, char *err, size_t errlen)
{
    if (!f->tariff)
        return 0;
    int rc;
    if (load) {
        f->tcursor[0] = '\0';
        rc = store_tariff_follow(f->store, f->tcursor, sizeof(f->tcursor), 0, tariff_apply, f, err,
                                 errlen);
        if (rc >= 0)
            rc = store_tariff_list(f->store, tariff_apply, f, err, errlen);
        if (rc >= 0)
            rc = 1;
    } else {
        rc = store_tariff_follow(f->store, f->tcursor, sizeof(f->tcursor),
                                 f->dir ? WAIT_DIR_MS : WAIT_BOTH_MS, tariff_apply, f, err, errlen);
        if (rc == -ESTALE)
            return relist(f, false, err, errlen);
    }
    if (rc > 0) {
        char why[512];
        int p = tariff_publish(f->tariff, why, sizeof(why));
        if (p > 0)
            log_write(f->log, LOG_LEVEL_WARN, "tariff", "records left out",
                      LOG_KV(LOG_I("count", p), LOG_S("first", why)));
    }
    return rc;
}

/* Every tariff record again (a changed directory store, a reload), and every mapping too when
 * with_map (the directory store at start and on reload): those the table holds from the store
 * and the mappings the map holds that the lists no longer have go (held_sweep()); the profiles
 * file's definitions under removed records come back with them (tariff_layer_del()). Returns
 * >= 0 or a negative errno. */
static int relist(struct subfollow *f, bool with_map, char *err, size_t errlen)
{
    with_map = with_map && f->map;
    subfstatic_free(f->held);
    f->held = subfstatic_of(with_map ? f->map : NULL, f->tariff);
    int rc = 0;
    if (with_map) {
        f->cursor[0] = '\0';
        rc = store_sub_follow(f->store, f->cursor, sizeof(f->cursor), 0, apply, f, err, errlen);
        if (rc >= 0)
            rc = store_sub_list(f->store, apply, f, err, errlen);
    }
    if (rc >= 0)
        rc = tariff_step(f, true, err, errlen);
    if (rc >= 0) {
        held_sweep(f);
    } else {
        subfstatic_free(f->held);
        f->held = NULL;
    }
    return rc;
}

void subfollow_reread(struct subfollow *f)
{
    atomic_store(&f->reread, true);
}

static void dir_loaded_log(struct subfollow *f)
{
    struct tariff_stats st = { 0 };
    if (f->tariff)
        tariff_get_stats(f->tariff, &st);
    log_write(f->log, LOG_LEVEL_INFO, "subscribers",
              "subscriber map and tariff records loaded from the directory store",
              LOG_KV(LOG_U("entries", f->map ? submap_count(f->map) : 0),
                     LOG_U("profiles", st.profiles), LOG_U("subscribers", st.subscribers)));
}

/* The first load of the directory store's tariff records, before the thread starts (and before
 * the workers judge anything): a local file, so no child is judged without its settings. On
 * failure the thread tries again. */
static void dir_preload(struct subfollow *f)
{
    char err[1024];
    struct store_opts o = { 0 };
    int rc = -EIO;
    if (!f->store)
        f->store = store_open(f->url, &o, err, sizeof(err));
    if (f->store)
        rc = relist(f, true, err, sizeof(err));
    if (rc < 0)
        return; /* the thread logs it */
    f->preloaded = true;
    atomic_fetch_add(&f->loads, 1);
    dir_loaded_log(f);
}

static int apply(void *ctx, const struct store_sub *e)
{
    struct subfollow *f = ctx;
    struct sub_addr a;
    char err[160];
    if (sub_addr_parse(e->addr, strlen(e->addr), &a, err, sizeof(err)) != 0)
        return 0; /* not a canonical address: not ours */
    if (e->op == STORE_SUB_SET) {
        uint64_t exp = e->expires_ms ? e->expires_ms : e->ttl_ms ? store_now_ms() + e->ttl_ms : 0;
        subfstatic_seen_addr(f->fs, &a);
        subfstatic_seen_addr(f->held, &a);
        submap_set(f->map, &a, e->subscriber, e->session, exp);
    } else {
        submap_del(f->map, &a, e->session);
    }
    return 0;
}

static void pause_ms(const struct subfollow *f, unsigned ms)
{
    for (unsigned t = 0; t < ms && !atomic_load(&f->stop); t += 50) {
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static void *follow_main(void *arg)
{
    struct subfollow *f = arg;
    bool loaded = f->preloaded, failing = false, dirty = false;
    uint64_t next_sweep = 0, next_write = 0;
    char err[1024];
    while (!atomic_load(&f->stop)) {
        int rc = 0;
        if (!f->store) {
            struct store_opts o = { .password_file =
                                        f->password_file[0] ? f->password_file : NULL };
            f->store = store_open(f->url, &o, err, sizeof(err));
            if (!f->store)
                rc = -EIO;
        }
        if (rc) {
            /* counted and logged below */
        } else if (!loaded) {
            held_note(f);
            f->cursor[0] = '\0';
            if (f->map)
                rc = store_sub_follow(f->store, f->cursor, sizeof(f->cursor), 0, apply, f, err,
                                      sizeof(err));
            if (rc >= 0 && f->map)
                rc = store_sub_list(f->store, apply, f, err, sizeof(err));
            if (rc >= 0)
                rc = tariff_step(f, true, err, sizeof(err));
            if (rc >= 0) {
                loaded = true;
                atomic_fetch_add(&f->loads, 1);
                fs_replaced(f);
                held_sweep(f);
                if (f->dir)
                    dir_loaded_log(f);
                else
                    log_write(f->log, LOG_LEVEL_INFO, "subscribers", "subscriber map loaded",
                              LOG_KV(LOG_U("entries", submap_count(f->map))));
                fs_write(f);
                dirty = false;
                next_write = store_now_ms() + f->fs_interval_ms;
            }
        } else if (atomic_exchange(&f->reread, false)) {
            rc = relist(f, f->dir, err, sizeof(err));
            if (rc > 0)
                dirty = true;
            if (rc >= 0 && f->dir)
                dir_loaded_log(f);
        } else {
            /* the directory store's log is polled without waiting: its tariff marker waits */
            uint32_t wait = f->dir && f->tariff ? 0 : f->tariff ? WAIT_BOTH_MS : WAIT_MS;
            if (f->map)
                rc = store_sub_follow(f->store, f->cursor, sizeof(f->cursor), wait, apply, f, err,
                                      sizeof(err));
            bool cut = rc == -ESTALE && f->dir;
            if (cut) {
                loaded = false; /* its log was cut: everything again, at the next step */
                rc = 0;
            }
            if (rc > 0) {
                atomic_fetch_add(&f->applied, (uint64_t)rc);
                dirty = true;
            }
            if (rc >= 0 && !cut) {
                int t = tariff_step(f, false, err, sizeof(err));
                if (t < 0) {
                    rc = t;
                } else if (t > 0) {
                    atomic_fetch_add(&f->applied, (uint64_t)t);
                    dirty = true;
                }
            }
        }
        if (rc < 0) {
            /* logged once per outage (the stats line counts every failed attempt) */
            if (!failing)
                log_write(f->log, LOG_LEVEL_WARN, "subscribers",
                          "following the subscriber map failed; retrying every second",
                          LOG_KV(LOG_S("error", err)));
            if (!failing && f->fs) {
                char when[64], msg[1400];
                utc_text(f->fs_info.written_ms, when, sizeof(when));
                snprintf(msg, sizeof(msg),
                         "store unreachable; enforcing %zu mappings and %zu tariff records from "
                         "%s written at %s",
                         f->fs_info.mappings, f->fs_info.defs, f->fs_path, when);
                log_write(f->log, LOG_LEVEL_WARN, "subscribers", msg, LOG_KV(LOG_S("error", err)));
            }
            failing = true;
            atomic_fetch_add(&f->errors, 1);
            loaded = false;
            pause_ms(f, RETRY_MS);
        } else {
            failing = false;
        }
        uint64_t now = store_now_ms();
        if (now >= next_sweep && f->map) {
            submap_expire(f->map, now);
            next_sweep = now + SWEEP_EVERY_MS;
        }
        if (dirty && loaded && now >= next_write) {
            fs_write(f);
            dirty = false;
            next_write = now + f->fs_interval_ms;
        }
    }
    if (dirty) /* a clean stop: what changed since the last copy */
        fs_write(f);
    return NULL;
}

struct subfollow *subfollow_new(const char *url, const char *password_file, struct submap *map,
                                struct log *lg, int *why, char *err, size_t errlen)
{
    *why = 0;
    struct store_url u;
    if (store_url_parse(url, strlen(url), &u, err, errlen) != 0) {
        *why = -EINVAL;
        return NULL;
    }
    struct subfollow *f = calloc(1, sizeof(*f));
    if (f) {
        f->dir = u.kind == STORE_URL_DIR;
        f->url = strdup(url);
        f->password_file = strdup(password_file ? password_file : "");
    }
    if (!f || !f->url || !f->password_file) {
        snprintf(err, errlen, "subscribers: out of memory");
        *why = -ENOMEM;
        subfollow_free(f);
        return NULL;
    }
    f->map = map;
    f->log = lg;
    return f;
}

int subfollow_start(struct subfollow *f)
{
    if (f->fs_path)
        fs_load(f);
    if (f->dir && !f->tariff && !f->map)
        return 0; /* nothing to follow */
    if (f->dir)
        dir_preload(f);
    int rc = pthread_create(&f->th, NULL, follow_main, f);
    if (rc)
        return -rc;
    f->started = true;
    return 0;
}

void subfollow_get_stats(const struct subfollow *f, struct subfollow_stats *st)
{
    st->applied = atomic_load(&f->applied);
    st->loads = atomic_load(&f->loads);
    st->errors = atomic_load(&f->errors);
    st->from_failstatic = atomic_load(&f->from_failstatic);
    st->failstatic_writes = atomic_load(&f->fs_writes);
    st->failstatic_write_errors = atomic_load(&f->fs_write_errors);
}

void subfollow_free(struct subfollow *f)
{
    if (!f)
        return;
    if (f->started) {
        atomic_store(&f->stop, true);
        pthread_join(f->th, NULL);
    }
    store_free(f->store);
    subfstatic_free(f->fs);
    subfstatic_free(f->held);
    free(f->fs_path);
    free(f->url);
    free(f->password_file);
    free(f);
}
