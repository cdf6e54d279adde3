/* follower.c - a node following the order store (see follower.h).
 *
 * Threads: the follower thread owns its store handle and every change of the order table; the
 * heartbeat thread has its own handle (a handle is used by one thread at a time). The table is
 * also read by follower_republish() from the main thread, hence the mutex. The follower's
 * thread appends each change it enforced to the fail-static journal after acknowledging it
 * (journal_change()); the writer thread writes the fail-static checkpoint (and calls saved())
 * when one is due, off the follower's thread: it copies the
 * pointers of the active records under the mutex and pins them; a record the table drops while
 * pinned goes to a graveyard freed when the write ends (records are immutable once parsed). */
#include "proxy/daemon/follower.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/version.h"
#include "proxy/daemon/failstatic.h"
#include "rules/store/store.h"

struct fentry {
    char *id;
    struct order *o; /* NULL when the store had no record for it */
    enum store_state st;
};

/* One change read from the log, copied out of the callback. */
struct pending {
    uint64_t version;
    bool urgent;
    size_t n;
    struct fentry *v; /* ids, parsed records, states */
    char **raw;       /* each record's text as the store has it when it parsed and is one line
                       * (for the journal: no serialisation again), else NULL */
    size_t *rawlen;
};

struct follower {
    char *url, *state_dir, *password_file, *node_id;
    char mode[STORE_NODE_ABOUT_MAX], software[STORE_NODE_ABOUT_MAX]; /* acknowledged */
    uint32_t heartbeat_ms, retry_max_ms, wait_ms;
    uint64_t journal_max;
    struct log *log;
    follower_publish_fn publish;
    void (*saved)(void *ctx, uint64_t version);
    int (*flush)(void *ctx, struct store *s, char *err, size_t errlen);
    void *ctx;

    pthread_mutex_t lock; /* tab, and every publication */
    struct fentry *tab;   /* sorted by id */
    size_t n, cap;

    struct store *s;  /* the follower thread's */
    struct store *hb; /* the heartbeat thread's */
    pthread_t th, hb_th;
    bool th_started, hb_started;
    pthread_mutex_t wlock; /* for the interruptible sleeps */
    pthread_cond_t wake;
    _Atomic bool stop;

    _Atomic uint64_t version, since_ms, changes, snapshots, publishes, publish_failures, outages;
    _Atomic int state;
    _Atomic bool from_failstatic;
    bool dirty; /* the fail-static checkpoint is to be written (under lock) */
    /* the journal (failstatic.h), under lock: need_ckpt when it cannot describe the table (a
     * snapshot replaced it, an append failed): no appends until a checkpoint is written;
     * need_gen counts the times it was set; jbytes and cbytes: the journal's and checkpoint's
     * sizes (a checkpoint is due when the journal passes a fraction of it) */
    bool need_ckpt;
    uint64_t need_gen, jbytes, cbytes;

    /* the writer thread; want, pinned and grave are under lock */
    pthread_t w_th;
    bool w_started, w_stop, want, pinned;
    pthread_cond_t w_cond; /* with lock: a write wanted, or the pin lifted */
    struct order **grave;  /* records dropped while pinned */
    size_t ngrave, capgrave;
    _Atomic uint64_t writes;
};

size_t follower_plan(const bool *urgent, size_t n, size_t *idx)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (urgent[i])
            idx[k++] = i;
    size_t nu = k;
    for (size_t i = 0; i < n; i++)
        if (!urgent[i])
            idx[k++] = i;
    return nu;
}

const char *follower_state_name(enum follower_state s)
{
    return s == FOLLOWER_CONNECTED ? "connected" : "unreachable";
}

static char *dupz(const char *s)
{
    return strdup(s ? s : "");
}

struct follower *follower_new(const struct follower_config *cfg, struct log *lg,
                              follower_publish_fn publish, void *ctx, char *err, size_t errlen)
{
    struct follower *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "follower: out of memory");
        return NULL;
    }
    f->url = dupz(cfg->url);
    f->state_dir = dupz(cfg->state_dir);
    f->password_file = dupz(cfg->password_file);
    f->node_id = dupz(cfg->node_id);
    if (!f->url || !f->state_dir || !f->password_file || !f->node_id) {
        free(f->url);
        free(f->state_dir);
        free(f->password_file);
        free(f->node_id);
        free(f);
        snprintf(err, errlen, "follower: out of memory");
        return NULL;
    }
    snprintf(f->mode, sizeof(f->mode), "%s", cfg->mode ? cfg->mode : "");
    snprintf(f->software, sizeof(f->software), "%s",
             cfg->software ? cfg->software : QORGAU_VERSION);
    f->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 2000;
    f->retry_max_ms = cfg->retry_max_ms ? cfg->retry_max_ms : 10000;
    f->wait_ms = cfg->follow_wait_ms ? cfg->follow_wait_ms : 1000;
    f->journal_max = cfg->journal_max;
    f->log = lg;
    f->publish = publish;
    f->saved = cfg->saved;
    f->flush = cfg->flush;
    f->ctx = ctx;
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_init(&f->wlock, NULL);
    pthread_cond_init(&f->wake, NULL);
    pthread_cond_init(&f->w_cond, NULL);
    atomic_init(&f->stop, false);
    atomic_init(&f->state, FOLLOWER_CONNECTED);
    return f;
}

static struct store *open_store(struct follower *f, char *err, size_t errlen)
{
    struct store_opts o;
    memset(&o, 0, sizeof(o));
    o.password_file = f->password_file[0] ? f->password_file : NULL;
    o.connect_timeout_ms = 1000;
    o.io_timeout_ms = f->wait_ms + 2000;
    char dirurl[STORE_PATH_MAX + 8];
    const char *url = f->url;
    if (!url[0]) {
        snprintf(dirurl, sizeof(dirurl), "%s", f->state_dir);
        url = dirurl;
    }
    return store_open(url, &o, err, errlen);
}

/* ---- the table ---- */

/* Frees a record the table no longer holds (lock held): later, when the writer pins it. */
static void order_drop(struct follower *f, struct order *o)
{
    if (!o)
        return;
    while (f->pinned) {
        if (f->ngrave == f->capgrave) {
            size_t nc = f->capgrave ? f->capgrave * 2 : 64;
            struct order **g = realloc(f->grave, nc * sizeof(*g));
            if (!g) { /* out of memory: wait for the write to end */
                pthread_cond_wait(&f->w_cond, &f->lock);
                continue;
            }
            f->grave = g;
            f->capgrave = nc;
        }
        f->grave[f->ngrave++] = o;
        return;
    }
    order_free(o);
}

static void fentry_clear(struct fentry *e)
{
    free(e->id);
    order_free(e->o);
    e->id = NULL;
    e->o = NULL;
}

static void tab_clear(struct follower *f)
{
    for (size_t i = 0; i < f->n; i++)
        fentry_clear(&f->tab[i]);
    f->n = 0;
}

/* Index of id, or where it would go (*found false). */
static size_t tab_find(const struct follower *f, const char *id, bool *found)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tab[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Takes e's id and record (e is emptied). Returns 0 or -ENOMEM (e is then freed). */
static int tab_put(struct follower *f, struct fentry *e)
{
    bool found;
    size_t i = tab_find(f, e->id, &found);
    if (found) {
        struct fentry *t = &f->tab[i];
        t->st = e->st;
        if (e->o) { /* a change without a record keeps the one held */
            order_drop(f, t->o);
            t->o = e->o;
            e->o = NULL;
        }
        fentry_clear(e);
        return 0;
    }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        struct fentry *t = realloc(f->tab, nc * sizeof(*t));
        if (!t) {
            fentry_clear(e);
            return -ENOMEM;
        }
        f->tab = t;
        f->cap = nc;
    }
    memmove(&f->tab[i + 1], &f->tab[i], (f->n - i) * sizeof(*f->tab));
    f->tab[i] = *e;
    f->n++;
    e->id = NULL;
    e->o = NULL;
    return 0;
}

/* Fills e from a store order: its id, state and parsed record (NULL when none). */
static int fentry_from_store(struct follower *f, const struct store_order *so, struct fentry *e)
{
    memset(e, 0, sizeof(*e));
    e->id = strdup(so->id);
    if (!e->id)
        return -ENOMEM;
    e->st = so->state;
    if (so->record) {
        char err[ORDER_ERR_MAX];
        e->o = order_from_json(so->record, so->record_len, err, sizeof(err));
        if (!e->o) {
            log_write(f->log, LOG_LEVEL_ERROR, "follower",
                      "order record in the store is unreadable; the order is not enforced",
                      LOG_KV(LOG_S("order", so->id), LOG_S("error", err)));
        }
    }
    return 0;
}

/* Publishes the active orders of the table as version (with the lock held); delta as in
 * follower_publish_fn (NULL: none). */
static int publish_locked(struct follower *f, uint64_t version, const struct follower_delta *delta,
                          char *err, size_t errlen)
{
    const struct order **v = malloc((f->n ? f->n : 1) * sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "follower: out of memory");
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->tab[i].st == STORE_ACTIVE && f->tab[i].o)
            v[k++] = f->tab[i].o;
    int rc = f->publish(f->ctx, v, k, delta, version, err, errlen);
    free(v);
    if (rc < 0) {
        atomic_fetch_add(&f->publish_failures, 1);
        return rc;
    }
    atomic_fetch_add(&f->publishes, 1);
    return 0;
}

/* ---- deltas ----
 * The ids a group of changes touched, with whether each was active before (and a restore
 * order). After the group, an id active before is revoked and one active now is added (a
 * replacement is both). Two cases go out in full: revoking a restore order (the claims it
 * lifted come back only from every record), and adding a restrict order an active restore
 * order lifts (the lifting is the compilation's, orderset_apply() adds the claims as they
 * are). */
struct touched {
    const char **id; /* the table's strings */
    bool *was;
    size_t n, cap;
    bool full;
};

static void touched_free(struct touched *t)
{
    free(t->id);
    free(t->was);
    memset(t, 0, sizeof(*t));
}

static bool active(const struct fentry *e)
{
    return e->st == STORE_ACTIVE && e->o;
}

/* Records id's state before a change (first time only). Returns 0 or -ENOMEM. */
static int touched_before(struct follower *f, struct touched *t, const char *id, bool *seen)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->id[i], id) == 0) {
            *seen = true;
            return 0;
        }
    *seen = false;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        const char **ni = realloc(t->id, nc * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        t->id = ni;
        bool *nw = realloc(t->was, nc * sizeof(*nw));
        if (!nw)
            return -ENOMEM;
        t->was = nw;
        t->cap = nc;
    }
    bool found;
    size_t i = tab_find(f, id, &found);
    t->was[t->n] = found && active(&f->tab[i]);
    if (t->was[t->n] && f->tab[i].o->action == ORDER_RESTORE)
        t->full = true;
    return 0;
}

/* After the change: the table's copy of the id (stable while the entry stays). */
static void touched_after(struct follower *f, struct touched *t, const char *id)
{
    bool found;
    size_t i = tab_find(f, id, &found);
    if (found)
        t->id[t->n++] = f->tab[i].id;
}

/* Does an active restore order of the table lift o's claims? */
static bool lifted(const struct follower *f, const struct order *o)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct order *r = f->tab[i].o;
        if (!active(&f->tab[i]) || r->action != ORDER_RESTORE)
            continue;
        if (r->nrestores == 0 && strcmp(r->issuer, o->issuer) == 0)
            return true;
        for (size_t j = 0; j < r->nrestores; j++)
            if (strcmp(r->restores[j], o->id) == 0)
                return true;
    }
    return false;
}

/* Publishes the group t touched as a delta when it can, in full otherwise (lock held). */
static int publish_touched(struct follower *f, struct touched *t, uint64_t version, char *err,
                           size_t errlen)
{
    const struct order **add = malloc((t->n ? t->n : 1) * sizeof(*add));
    const char **rev = malloc((t->n ? t->n : 1) * sizeof(*rev));
    bool full = t->full || !add || !rev;
    struct follower_delta d = { add, 0, rev, 0 };
    for (size_t i = 0; i < t->n && !full; i++) {
        bool found;
        size_t k = tab_find(f, t->id[i], &found);
        if (t->was[i])
            rev[d.nrevoke++] = t->id[i];
        if (found && active(&f->tab[k])) {
            const struct order *o = f->tab[k].o;
            if (o->action == ORDER_RESTRICT && lifted(f, o))
                full = true;
            add[d.nadd++] = o;
        }
    }
    int rc = publish_locked(f, version, full ? NULL : &d, err, errlen);
    free(add);
    free(rev);
    touched_free(t);
    return rc;
}

/* The journal is checkpointed when it passes 1/JOURNAL_RATIO of the checkpoint (and at least
 * JOURNAL_MIN bytes): replaying it at a start costs about as much as reading that share of the
 * checkpoint, and rewriting the checkpoint (every record, the disk image) is rare. */
#define JOURNAL_RATIO 4
#define JOURNAL_MIN   (UINT64_C(1) << 20)

static uint64_t file_size(const char *dir, const char *name)
{
    char path[1100];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Before a checkpoint of the table (lock held): the journal so far is moved aside; appends go
 * to a fresh one. A failure leaves the journal where it is (its entries the checkpoint holds are
 * skipped at loading). */
static void rotate_locked(struct follower *f)
{
    char err[1024];
    if (failstatic_journal_rotate(f->state_dir, err, sizeof(err)) < 0)
        log_write(f->log, LOG_LEVEL_WARN, "follower", "cannot move the fail-static journal aside",
                  LOG_KV(LOG_S("error", err)));
    f->jbytes = file_size(f->state_dir, FAILSTATIC_JOURNAL_NAME);
}

/* Writes the fail-static checkpoint of v[0..k) as version (the journal rotated before), drops
 * the journal it replaces, then calls saved(). Failures are logged only. Returns 0 or a
 * negative errno. */
static int save_orders(struct follower *f, uint64_t version, const struct order **v, size_t k)
{
    char err[1024];
    uint64_t t0 = store_now_ms();
    int rc = failstatic_save(f->state_dir, version, v, k, err, sizeof(err));
    if (rc < 0) {
        log_write(f->log, LOG_LEVEL_ERROR, "follower",
                  "cannot write the fail-static file; a restart without the store would have no "
                  "rules",
                  LOG_KV(LOG_S("error", err)));
        return rc;
    }
    if (failstatic_journal_drop_old(f->state_dir, err, sizeof(err)) < 0)
        log_write(f->log, LOG_LEVEL_WARN, "follower", "cannot remove the old fail-static journal",
                  LOG_KV(LOG_S("error", err)));
    log_write(
        f->log, LOG_LEVEL_INFO, "follower", "fail-static checkpoint written",
        LOG_KV(LOG_U("version", version), LOG_U("orders", k), LOG_U("ms", store_now_ms() - t0)));
    if (f->saved)
        f->saved(f->ctx, version);
    return 0;
}

/* After a checkpoint of the table taken when need_gen was gen (lock held). */
static void saved_locked(struct follower *f, int rc, uint64_t gen)
{
    if (rc == 0 && gen == f->need_gen)
        f->need_ckpt = false;
    if (rc == 0)
        f->cbytes = file_size(f->state_dir, FAILSTATIC_NAME);
}

/* The active records of the table (lock held); NULL when out of memory. */
static const struct order **active_orders(struct follower *f, size_t *k)
{
    const struct order **v = malloc((f->n ? f->n : 1) * sizeof(*v));
    *k = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (f->tab[i].st == STORE_ACTIVE && f->tab[i].o)
            v[(*k)++] = f->tab[i].o;
    return v;
}

/* Writes the fail-static file of the table on the calling thread (lock held). */
static void save_locked(struct follower *f, uint64_t version)
{
    size_t k;
    const struct order **v = active_orders(f, &k);
    if (!v)
        return;
    uint64_t gen = f->need_gen;
    rotate_locked(f);
    saved_locked(f, save_orders(f, version, v, k), gen);
    atomic_fetch_add(&f->writes, 1);
    free(v);
}

/* The writer thread: each time a write is wanted, the newest table (requests made during a
 * write are one write after it), and at stop the last one wanted. */
static void *writer_main(void *arg)
{
    struct follower *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->want && !f->w_stop)
            pthread_cond_wait(&f->w_cond, &f->lock);
        if (!f->want)
            break;
        f->want = false;
        if (!f->dirty)
            continue;
        size_t k;
        const struct order **v = active_orders(f, &k);
        if (!v) {
            log_write(f->log, LOG_LEVEL_ERROR, "follower", "cannot write the fail-static file",
                      LOG_KV(LOG_S("error", "out of memory")));
            continue;
        }
        uint64_t version = atomic_load(&f->version);
        uint64_t gen = f->need_gen;
        f->dirty = false;
        f->pinned = true;
        rotate_locked(f); /* changes after this copy go to a fresh journal */
        pthread_mutex_unlock(&f->lock);
        uint64_t t0 = store_now_ms();
        int rc = save_orders(f, version, v, k);
        uint64_t took = store_now_ms() - t0;
        free(v);
        pthread_mutex_lock(&f->lock);
        saved_locked(f, rc, gen);
        f->pinned = false;
        for (size_t i = 0; i < f->ngrave; i++)
            order_free(f->grave[i]);
        f->ngrave = 0;
        atomic_fetch_add(&f->writes, 1);
        pthread_cond_broadcast(&f->w_cond);
        /* Pacing: the writes (every record, the image) cost as much as a compilation; at 5M
         * entries seconds of a core. Rest three times as long as the write took before the
         * next one, so the writer takes at most a quarter of a core from the workers and the
         * next change while changes keep coming; a stop ends the rest at once. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t rest = took * 3;
        until.tv_sec += (time_t)(rest / 1000);
        until.tv_nsec += (long)(rest % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (rest && !f->w_stop &&
               pthread_cond_timedwait(&f->w_cond, &f->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* The checkpoint, when one is due, is written when no change arrived during one wait on the
 * log (or at stop), not after every change: writing every record again costs as much as a
 * compilation, and a burst of changes would pay it each time. Changes go to the journal as they
 * are enforced (journal_change()); only a change the journal cannot hold (a snapshot) leaves the
 * file behind the enforced set, by at most one wait (follow_wait_ms) after the last change of a
 * burst and the write. */
static void save_if_dirty(struct follower *f)
{
    pthread_mutex_lock(&f->lock);
    if (f->dirty) {
        if (f->w_started) {
            f->want = true; /* the writer thread's (see writer_main()) */
            pthread_cond_broadcast(&f->w_cond);
        } else {
            save_locked(f, atomic_load(&f->version));
            f->dirty = false;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

static void enforced(struct follower *f, uint64_t version)
{
    if (atomic_load(&f->version) != version || atomic_load(&f->since_ms) == 0) {
        atomic_store(&f->version, version);
        atomic_store(&f->since_ms, store_now_ms());
    }
}

static void ack(struct follower *f, struct store *s)
{
    char err[512];
    if (s &&
        store_node_ack_about(s, f->node_id, atomic_load(&f->version), atomic_load(&f->since_ms),
                             f->heartbeat_ms * 3, f->software, f->mode, err, sizeof(err)) < 0)
        log_write(f->log, LOG_LEVEL_WARN, "follower", "acknowledgement failed",
                  LOG_KV(LOG_S("error", err)));
}

/* ---- loading ---- */

static int snap_cb(void *ctx, const struct store_order *so)
{
    struct follower *f = ctx;
    struct fentry e;
    if (fentry_from_store(f, so, &e) < 0)
        return -ENOMEM;
    return tab_put(f, &e);
}

/* A full snapshot into the table, published and saved. Returns 0 or a negative errno.
 * Except at start, a store whose version is below the one enforced is refused (-ESTALE): it was
 * reset or lost its data (a Redis restarted without persistence), and adopting it would lift
 * every order it lost. The node keeps its set and retries; a restart adopts the store. */
static int load_snapshot(struct follower *f, struct store *s, bool initial, char *err,
                         size_t errlen)
{
    uint64_t cur = 0;
    if (!initial && store_version(s, &cur, err, errlen) == 0 && cur < atomic_load(&f->version)) {
        snprintf(err, errlen,
                 "the store's version %llu is below the enforced version %llu (the store was "
                 "reset or lost data); keeping the enforced set; restart the node to adopt the "
                 "store's content",
                 (unsigned long long)cur, (unsigned long long)atomic_load(&f->version));
        return -ESTALE;
    }
    pthread_mutex_lock(&f->lock);
    /* the snapshot goes into a fresh table; on failure the old one (what is enforced) stays */
    struct fentry *old = f->tab;
    size_t old_n = f->n, old_cap = f->cap;
    f->tab = NULL;
    f->n = f->cap = 0;
    uint64_t v = 0;
    int rc = store_snapshot(s, &v, snap_cb, f, err, errlen);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "follower: out of memory loading a snapshot");
    if (rc == 0)
        rc = publish_locked(f, v, NULL, err, errlen);
    if (rc != 0) {
        tab_clear(f);
        free(f->tab);
        f->tab = old;
        f->n = old_n;
        f->cap = old_cap;
    } else {
        for (size_t i = 0; i < old_n; i++) {
            order_drop(f, old[i].o);
            old[i].o = NULL;
            fentry_clear(&old[i]);
        }
        free(old);
    }
    if (rc == 0) {
        enforced(f, v);
        atomic_store(&f->from_failstatic, false);
        atomic_fetch_add(&f->snapshots, 1);
        f->need_ckpt = true; /* a snapshot replaced the table: the journal cannot say how */
        f->need_gen++;
        if (initial) {
            save_locked(f, v); /* before the threads: nothing waits */
        } else {
            f->dirty = true;
            f->want = true;
            pthread_cond_broadcast(&f->w_cond);
        }
    }
    size_t n = f->n;
    pthread_mutex_unlock(&f->lock);
    if (rc == 0) {
        log_write(f->log, LOG_LEVEL_INFO, "follower", "snapshot loaded",
                  LOG_KV(LOG_S("store", store_where(s)), LOG_U("version", v), LOG_U("orders", n)));
        ack(f, s);
    }
    return rc;
}

/* Replays the journal's entries into the table and publishes them as one delta of version
 * (lock held). Returns 0 or a negative errno with err set. */
static int replay_locked(struct follower *f, struct failstatic_journal *j, uint64_t version,
                         char *err, size_t errlen)
{
    struct touched t;
    memset(&t, 0, sizeof(t));
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        struct failstatic_change *c = &j->v[i];
        bool seen = false;
        char *copy = strdup(c->id);
        rc = copy ? touched_before(f, &t, c->id, &seen) : -ENOMEM;
        if (rc == 0) {
            struct fentry e = { c->id, c->o, c->o ? STORE_ACTIVE : STORE_REVOKED };
            c->id = NULL;
            c->o = NULL;
            rc = tab_put(f, &e);
        }
        if (rc == 0 && !seen)
            touched_after(f, &t, copy);
        free(copy);
    }
    if (rc < 0) {
        touched_free(&t);
        snprintf(err, errlen, "follower: out of memory");
        return rc;
    }
    return publish_touched(f, &t, version, err, errlen);
}

/* The checkpoint, published as its version (the disk image maps when it is that version's),
 * then the journal after it as one delta. */
static int load_failstatic(struct follower *f, char *err, size_t errlen)
{
    struct order_list l;
    memset(&l, 0, sizeof(l));
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    uint64_t v = 0, jv = 0, jbytes = 0;
    int rc = failstatic_load(f->state_dir, &v, &l, err, errlen);
    if (rc == 0)
        rc = failstatic_journal_load(f->state_dir, v, &jv, &j, &jbytes, err, errlen);
    if (rc < 0) {
        order_list_free(&l);
        return rc;
    }
    if (j.torn)
        log_write(f->log, LOG_LEVEL_WARN, "follower",
                  "fail-static journal: the last entry was cut by a crash; ignored",
                  LOG_KV(LOG_S("file", j.torn_name), LOG_U("line", j.torn_line)));
    pthread_mutex_lock(&f->lock);
    tab_clear(f);
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        struct fentry e = { strdup(l.v[i]->id), l.v[i], STORE_ACTIVE };
        if (!e.id) {
            rc = -ENOMEM;
            break;
        }
        l.v[i] = NULL;
        rc = tab_put(f, &e);
    }
    if (rc == 0)
        rc = publish_locked(f, v, NULL, err, errlen);
    else
        snprintf(err, errlen, "follower: out of memory");
    if (rc == 0 && j.n) {
        rc = replay_locked(f, &j, jv, err, errlen);
        if (rc == 0)
            log_write(f->log, LOG_LEVEL_INFO, "follower", "fail-static journal replayed",
                      LOG_KV(LOG_U("checkpoint_version", v), LOG_U("version", jv),
                             LOG_U("entries", j.n)));
    }
    if (rc == 0) {
        enforced(f, jv);
        atomic_store(&f->from_failstatic, true);
        f->cbytes = file_size(f->state_dir, FAILSTATIC_NAME);
        f->jbytes = jbytes;
    }
    pthread_mutex_unlock(&f->lock);
    order_list_free(&l);
    failstatic_journal_free(&j);
    return rc;
}

/* ---- following ---- */

struct batch {
    struct follower *f;
    struct pending *v;
    size_t n, cap;
    bool oom;
};

static int follow_cb(void *ctx, const struct store_change *c)
{
    struct batch *b = ctx;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        struct pending *t = realloc(b->v, nc * sizeof(*t));
        if (!t) {
            b->oom = true;
            return -ENOMEM;
        }
        b->v = t;
        b->cap = nc;
    }
    struct pending *p = &b->v[b->n];
    memset(p, 0, sizeof(*p));
    p->version = c->version;
    p->urgent = c->urgent;
    p->v = calloc(c->n_orders ? c->n_orders : 1, sizeof(*p->v));
    p->raw = calloc(c->n_orders ? c->n_orders : 1, sizeof(*p->raw));
    p->rawlen = calloc(c->n_orders ? c->n_orders : 1, sizeof(*p->rawlen));
    if (!p->v || !p->raw || !p->rawlen) {
        b->oom = true;
        return -ENOMEM;
    }
    b->n++;
    for (size_t i = 0; i < c->n_orders; i++) {
        const struct store_order *so = &c->orders[i];
        if (fentry_from_store(b->f, so, &p->v[i]) < 0) {
            b->oom = true;
            return -ENOMEM;
        }
        p->n++;
        if (p->v[i].o && so->record_len && !memchr(so->record, '\n', so->record_len)) {
            p->raw[i] = malloc(so->record_len);
            if (p->raw[i]) {
                memcpy(p->raw[i], so->record, so->record_len);
                p->rawlen[i] = so->record_len;
            }
        }
    }
    return 0;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        for (size_t j = 0; j < b->v[i].n; j++) {
            fentry_clear(&b->v[i].v[j]);
            if (b->v[i].raw)
                free(b->v[i].raw[j]);
        }
        free(b->v[i].v);
        free(b->v[i].raw);
        free(b->v[i].rawlen);
    }
    free(b->v);
    memset(b, 0, sizeof(*b));
}

/* The ids a batch touched (copies), each with the record text of its last change in the
 * batch (NULL when it had none), for the journal. */
struct idrec {
    char *id, *raw;
    size_t rawlen;
};

struct idlist {
    struct idrec *v;
    size_t n, cap;
    bool oom;
};

/* Takes id and raw (freed on failure). Returns 0 or -ENOMEM. */
static int idlist_push(struct idlist *l, char *id, char *raw, size_t rawlen)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        struct idrec *t = realloc(l->v, nc * sizeof(*t));
        if (!t) {
            l->oom = true;
            free(id);
            free(raw);
            return -ENOMEM;
        }
        l->v = t;
        l->cap = nc;
    }
    l->v[l->n++] = (struct idrec){ id, raw, rawlen };
    return 0;
}

/* A later change of an id already listed: its record text replaces the earlier one. */
static void idlist_update(struct idlist *l, const char *id, char *raw, size_t rawlen)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].id, id) == 0) {
            free(l->v[i].raw);
            l->v[i].raw = raw;
            l->v[i].rawlen = rawlen;
            return;
        }
    free(raw);
}

static void idlist_free(struct idlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].raw);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* After the changes up to version are enforced and acknowledged: appends the state of each id
 * they touched to the journal (a record or a tombstone). When the journal cannot hold them (a
 * checkpoint is pending after a snapshot, an id list or an append failed), the checkpoint is
 * written instead; when the journal passed its share of the checkpoint, a checkpoint is due.
 * The lock is held through the append: a checkpoint's copy of the table and its rotation of the
 * journal cannot fall between a change and its entries. */
static void journal_change(struct follower *f, struct idlist *ids, uint64_t version)
{
    char err[1024];
    pthread_mutex_lock(&f->lock);
    size_t cap = ids->n ? ids->n : 1;
    const char **add = malloc(cap * sizeof(*add));
    size_t *addlen = malloc(cap * sizeof(*addlen));
    char **made = calloc(cap, sizeof(*made)); /* texts serialised here */
    const char **rev = malloc(cap * sizeof(*rev));
    int rc = -ENOMEM;
    snprintf(err, sizeof(err), "out of memory");
    if (f->need_ckpt) {
        rc = 0;
        f->dirty = true;
    } else if (add && addlen && made && rev && !ids->oom) {
        size_t na = 0, nr = 0;
        rc = 0;
        for (size_t i = 0; i < ids->n && rc == 0; i++) {
            bool found;
            size_t k = tab_find(f, ids->v[i].id, &found);
            if (!found || !active(&f->tab[k])) {
                rev[nr++] = ids->v[i].id;
                continue;
            }
            if (ids->v[i].raw) { /* the record the table holds came from this text */
                add[na] = ids->v[i].raw;
                addlen[na++] = ids->v[i].rawlen;
                continue;
            }
            made[i] = order_to_json(f->tab[k].o); /* the record held (the change had none) */
            if (!made[i])
                rc = -ENOMEM;
            else {
                add[na] = made[i];
                addlen[na++] = strlen(made[i]);
            }
        }
        uint64_t bytes = 0, size = 0;
        uint64_t limit = f->cbytes / JOURNAL_RATIO;
        limit = f->journal_max ? f->journal_max : limit > JOURNAL_MIN ? limit : JOURNAL_MIN;
        for (size_t i = 0; i < na; i++)
            size += addlen[i];
        if (rc == 0 && f->jbytes + size > 2 * limit) {
            /* a change bigger than the journal may hold (a base import of millions of
             * entries): the checkpoint it makes due holds it; appending it first would write
             * it twice */
            f->need_ckpt = true;
            f->need_gen++;
            f->dirty = true;
        } else if (rc == 0) {
            rc = failstatic_journal_append(f->state_dir, version, add, addlen, na, rev, nr, &bytes,
                                           err, sizeof(err));
        }
        if (rc == 0 && !f->need_ckpt) {
            f->jbytes = bytes;
            if (f->jbytes > limit)
                f->dirty = true; /* written when the log goes quiet: see save_if_dirty() */
        }
    }
    if (rc < 0) {
        log_write(f->log, LOG_LEVEL_ERROR, "follower",
                  "cannot append to the fail-static journal; writing the checkpoint instead",
                  LOG_KV(LOG_S("error", err), LOG_U("version", version)));
        f->need_ckpt = true;
        f->need_gen++;
        f->dirty = true;
    }
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; made && i < ids->n; i++)
        free(made[i]);
    free(made);
    free(add);
    free(addlen);
    free(rev);
}

/* Applies the batch, urgent changes first (see follower_plan()). Returns 0 or a negative errno
 * (the table is then to be reloaded from a snapshot). */
static int apply_batch(struct follower *f, struct batch *b, uint64_t last, struct idlist *ids,
                       char *err, size_t errlen)
{
    bool *urg = calloc(b->n, sizeof(*urg));
    size_t *idx = calloc(b->n, sizeof(*idx));
    if (!urg || !idx) {
        free(urg);
        free(idx);
        snprintf(err, errlen, "follower: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++)
        urg[i] = b->v[i].urgent;
    size_t nu = follower_plan(urg, b->n, idx);
    int rc = 0;
    struct touched t;
    memset(&t, 0, sizeof(t));
    pthread_mutex_lock(&f->lock);
    for (size_t k = 0; k < b->n && rc == 0; k++) {
        struct pending *p = &b->v[idx[k]];
        for (size_t j = 0; j < p->n && rc == 0; j++) {
            bool seen = false;
            const char *id = p->v[j].id;
            char *copy = strdup(id); /* tab_put() frees the change's id */
            char *raw = p->raw[j];
            size_t rawlen = p->rawlen[j];
            p->raw[j] = NULL;
            rc = copy ? touched_before(f, &t, id, &seen) : -ENOMEM;
            if (rc == 0)
                rc = tab_put(f, &p->v[j]);
            if (rc == 0 && !seen)
                touched_after(f, &t, copy);
            if (rc == 0 && !seen) {
                (void)idlist_push(ids, copy, raw, rawlen); /* a failure: ids->oom */
                copy = raw = NULL;
            } else if (rc == 0) {
                idlist_update(ids, copy, raw, rawlen);
                raw = NULL;
            }
            free(copy);
            free(raw);
        }
        /* urgent changes are enforced before the others are even applied */
        if (rc == 0 && nu && nu < b->n && k + 1 == nu)
            rc = publish_touched(f, &t, atomic_load(&f->version), err, errlen);
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "follower: out of memory");
    if (rc == 0)
        rc = publish_touched(f, &t, last, err, errlen);
    touched_free(&t);
    if (rc == 0) {
        enforced(f, last);
        atomic_store(&f->from_failstatic, false);
        atomic_fetch_add(&f->changes, b->n);
        /* the journal is written after the acknowledgement: see journal_change() */
    }
    pthread_mutex_unlock(&f->lock);
    free(urg);
    free(idx);
    return rc;
}

static void nap(struct follower *f, uint32_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->wlock);
    while (!atomic_load(&f->stop))
        if (pthread_cond_timedwait(&f->wake, &f->wlock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&f->wlock);
}

static void set_state(struct follower *f, enum follower_state st, const char *why)
{
    int old = atomic_exchange(&f->state, (int)st);
    if (old == (int)st)
        return;
    if (st == FOLLOWER_UNREACHABLE) {
        atomic_fetch_add(&f->outages, 1);
        log_write(f->log, LOG_LEVEL_ERROR, "follower",
                  "store unreachable; still enforcing the last rule set, retrying",
                  LOG_KV(LOG_S("error", why), LOG_U("version", atomic_load(&f->version))));
    } else {
        log_write(f->log, LOG_LEVEL_INFO, "follower", "store reachable again; catching up",
                  LOG_KV(LOG_U("version", atomic_load(&f->version))));
    }
}

static void *follow_main(void *arg)
{
    struct follower *f = arg;
    char err[1024];
    uint32_t backoff = 250;
    bool need_snapshot = atomic_load(&f->from_failstatic);
    while (!atomic_load(&f->stop)) {
        if (!f->s) {
            f->s = open_store(f, err, sizeof(err));
            if (!f->s) {
                set_state(f, FOLLOWER_UNREACHABLE, err);
                nap(f, backoff);
                backoff = backoff * 2 > f->retry_max_ms ? f->retry_max_ms : backoff * 2;
                continue;
            }
        }
        if (need_snapshot) {
            int rc = load_snapshot(f, f->s, false, err, sizeof(err));
            if (rc < 0) {
                log_write(f->log, LOG_LEVEL_WARN, "follower", "snapshot failed",
                          LOG_KV(LOG_S("error", err)));
                goto broken;
            }
            need_snapshot = false;
        }
        struct batch b = { f, NULL, 0, 0, false };
        uint64_t last = 0;
        uint64_t from = atomic_load(&f->version);
        int n = store_follow(f->s, from, f->wait_ms, follow_cb, &b, &last, err, sizeof(err));
        if (n == -ESTALE) {
            batch_free(&b);
            log_write(f->log, LOG_LEVEL_INFO, "follower",
                      "change log does not reach back to the enforced version; loading a snapshot",
                      LOG_KV(LOG_U("version", from)));
            need_snapshot = true;
            continue;
        }
        if (n < 0 && !b.oom) {
            batch_free(&b);
            goto broken;
        }
        set_state(f, FOLLOWER_CONNECTED, NULL);
        backoff = 250;
        if (n == 0)
            save_if_dirty(f);
        struct idlist ids = { NULL, 0, 0, false };
        uint64_t t0 = store_now_ms();
        if (b.oom || (b.n && apply_batch(f, &b, last, &ids, err, sizeof(err)) < 0)) {
            log_write(f->log, LOG_LEVEL_ERROR, "follower",
                      "applying changes failed; loading a snapshot",
                      LOG_KV(LOG_S("error", b.oom ? "out of memory" : err)));
            need_snapshot = true;
        } else if (b.n) {
            uint64_t t1 = store_now_ms();
            ack(f, f->s);
            uint64_t t2 = store_now_ms();
            journal_change(f, &ids, last);
            log_write(f->log, LOG_LEVEL_INFO, "follower", "changes enforced",
                      LOG_KV(LOG_U("version", last), LOG_U("changes", b.n),
                             LOG_U("apply_ms", t1 - t0), LOG_U("ack_ms", t2 - t1),
                             LOG_U("journal_ms", store_now_ms() - t2)));
        }
        idlist_free(&ids);
        batch_free(&b);
        continue;
    broken:
        set_state(f, FOLLOWER_UNREACHABLE, err);
        save_if_dirty(f);
        store_free(f->s);
        f->s = NULL;
        nap(f, backoff);
        backoff = backoff * 2 > f->retry_max_ms ? f->retry_max_ms : backoff * 2;
    }
    return NULL;
}

/* The flush callback on the heartbeat's handle; a failure is logged once per streak. */
static void flush(struct follower *f, bool *failing)
{
    char err[1024];
    if (!f->flush)
        return;
    int rc = f->flush(f->ctx, f->hb, err, sizeof(err));
    if (rc < 0 && !*failing)
        log_write(f->log, LOG_LEVEL_WARN, "follower", "evidence flush failed",
                  LOG_KV(LOG_S("error", err)));
    *failing = rc < 0;
}

static void *hb_main(void *arg)
{
    struct follower *f = arg;
    char err[1024];
    bool failing = false, flush_failing = false;
    while (!atomic_load(&f->stop)) {
        if (!f->hb)
            f->hb = open_store(f, err, sizeof(err));
        int rc = -EIO;
        if (f->hb)
            rc = store_node_ack_about(f->hb, f->node_id, atomic_load(&f->version),
                                      atomic_load(&f->since_ms), f->heartbeat_ms * 3, f->software,
                                      f->mode, err, sizeof(err));
        if (rc < 0) {
            if (!failing)
                log_write(f->log, LOG_LEVEL_WARN, "follower", "heartbeat failed",
                          LOG_KV(LOG_S("error", err)));
            failing = true;
            store_free(f->hb);
            f->hb = NULL;
        } else {
            failing = false;
            flush(f, &flush_failing);
        }
        nap(f, f->heartbeat_ms);
    }
    if (f->hb)
        flush(f, &flush_failing);
    return NULL;
}

int follower_start(struct follower *f, char *err, size_t errlen)
{
    char serr[1024];
    f->s = open_store(f, serr, sizeof(serr));
    int rc = -EIO;
    if (f->s) {
        rc = load_snapshot(f, f->s, true, serr, sizeof(serr));
        if (rc < 0) {
            store_free(f->s);
            f->s = NULL;
        }
    }
    if (rc < 0 && atomic_load(&f->publish_failures) > 0) {
        /* the store answered; the set could not be built (a rule file): no fail-static file
         * hides a configuration error */
        snprintf(err, errlen, "%s", serr);
        return -EINVAL;
    }
    if (rc < 0) {
        atomic_store(&f->state, FOLLOWER_UNREACHABLE);
        atomic_fetch_add(&f->outages, 1);
        log_write(f->log, LOG_LEVEL_ERROR, "follower",
                  "store unreachable at start; loading the fail-static file",
                  LOG_KV(LOG_S("error", serr), LOG_S("state_dir", f->state_dir)));
        char ferr[1024];
        int frc = load_failstatic(f, ferr, sizeof(ferr));
        if (frc < 0) {
            snprintf(err, errlen,
                     "no usable rule set: the store is unreachable (%s) and %s; refusing to "
                     "start",
                     serr, frc == -ENOENT ? "there is no fail-static file" : ferr);
            return frc;
        }
        log_write(f->log, LOG_LEVEL_WARN, "follower",
                  "enforcing the fail-static rule set until the store answers",
                  LOG_KV(LOG_U("version", atomic_load(&f->version))));
    }
    int e = pthread_create(&f->w_th, NULL, writer_main, f);
    if (e != 0) {
        snprintf(err, errlen, "follower: cannot start the writer thread: %s", strerror(e));
        return -e;
    }
    f->w_started = true;
    e = pthread_create(&f->th, NULL, follow_main, f);
    if (e != 0) {
        snprintf(err, errlen, "follower: cannot start the thread: %s", strerror(e));
        return -e;
    }
    f->th_started = true;
    e = pthread_create(&f->hb_th, NULL, hb_main, f);
    if (e != 0) {
        snprintf(err, errlen, "follower: cannot start the heartbeat thread: %s", strerror(e));
        return -e;
    }
    f->hb_started = true;
    return 0;
}

int follower_republish(struct follower *f, char *err, size_t errlen)
{
    pthread_mutex_lock(&f->lock);
    int rc = publish_locked(f, atomic_load(&f->version), NULL, err, errlen);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void follower_get_stats(struct follower *f, struct follower_stats *st)
{
    st->state = (enum follower_state)atomic_load(&f->state);
    st->version = atomic_load(&f->version);
    st->since_ms = atomic_load(&f->since_ms);
    st->changes = atomic_load(&f->changes);
    st->snapshots = atomic_load(&f->snapshots);
    st->publishes = atomic_load(&f->publishes);
    st->publish_failures = atomic_load(&f->publish_failures);
    st->outages = atomic_load(&f->outages);
    st->from_failstatic = atomic_load(&f->from_failstatic);
    st->failstatic_writes = atomic_load(&f->writes);
}

void follower_free(struct follower *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->wlock);
    atomic_store(&f->stop, true);
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->wlock);
    if (f->th_started)
        pthread_join(f->th, NULL);
    if (f->hb_started)
        pthread_join(f->hb_th, NULL);
    save_if_dirty(f);
    if (f->w_started) { /* ends the write in progress, then the last one wanted */
        pthread_mutex_lock(&f->lock);
        f->w_stop = true;
        pthread_cond_broadcast(&f->w_cond);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->w_th, NULL);
    }
    store_free(f->s);
    store_free(f->hb);
    tab_clear(f);
    free(f->tab);
    free(f->grave);
    pthread_cond_destroy(&f->w_cond);
    pthread_mutex_destroy(&f->lock);
    pthread_mutex_destroy(&f->wlock);
    pthread_cond_destroy(&f->wake);
    free(f->url);
    free(f->state_dir);
    free(f->password_file);
    free(f->node_id);
    free(f);
}
