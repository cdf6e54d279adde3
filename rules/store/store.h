/* store.h - the order store every node follows: a small ops table, one file per back end.
 *
 *     redis://[user[:password]@]host:port[/db][?password_file=PATH&prefix=P]   store_redis.c
 *     sentinel://host:port[,host:port...]/MASTER[?...same parameters...]       store_redis.c
 *     dir:///var/lib/qorgau   or a plain path   (the embedded default)         store_dir.c
 *
 * The store keeps order records as opaque bytes (the JSON text rules/orders produces), the
 * state of each order (active or revoked), one version number and a change log: every
 * store_publish() is one atomic change (import, revoke or restore of one or more orders) that
 * increments the version and appends one log entry carrying it. A node loads a snapshot, then
 * follows the log from the snapshot's version; a gap in the log (trimmed) is reported as
 * -ESTALE, meaning "load the snapshot again". Nodes write back the version they enforce and a
 * heartbeat (store_node_ack). docs/store.md describes the keys and files.
 *
 * Every function returns 0 (or a count, or a version) or a negative errno, with a message in err
 * that names the module, the store and the subject ("store: redis 127.0.0.1:6379: <hiredis
 * text>"); a password never appears in a message. A handle is used by one thread at a time. */
#ifndef QG_STORE_H
#define QG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_DEFAULT_DIR    "/var/lib/qorgau"
#define STORE_DEFAULT_PREFIX "qorgau:"
#define STORE_ID_MAX         128 /* bytes of an order or node id */
#define STORE_SENTINELS_MAX  8
#define STORE_HOST_MAX       256
#define STORE_PATH_MAX       1024
#define STORE_SECRET_MAX     256
#define STORE_ENTRY_MAX      4096        /* bytes of a hit entry (a normalized resource) */
#define STORE_DOC_MAX        (64u << 20) /* bytes of a document */

enum store_url_kind { STORE_URL_REDIS = 1, STORE_URL_SENTINEL, STORE_URL_DIR };

struct store_hostport {
    char host[STORE_HOST_MAX]; /* a name or an address, without brackets */
    uint16_t port;
};

/* A parsed store URL. password is set only when the URL carries one inline. */
struct store_url {
    enum store_url_kind kind;
    char user[STORE_ID_MAX];
    char password[STORE_SECRET_MAX];
    struct store_hostport hosts[STORE_SENTINELS_MAX]; /* redis: hosts[0]; sentinel: each one */
    size_t n_hosts;
    char master[STORE_ID_MAX]; /* sentinel: the monitored master's name */
    uint32_t db;               /* redis database number (SELECT), 0..65535 */
    char path[STORE_PATH_MAX]; /* dir: the directory */
    char password_file[STORE_PATH_MAX];
    char prefix[64];   /* key prefix, default STORE_DEFAULT_PREFIX */
    uint32_t replicas; /* ?replicas=N: replicas that must confirm a change (Redis WAIT) */
};

/* Parses len bytes of s (no NUL needed; a NUL inside is an error). Empty input means the
 * directory store at STORE_DEFAULT_DIR. Returns 0, or -EINVAL with "store: URL at offset N:
 * reason" in err (the URL itself is not copied into the message: it may hold a password). */
int store_url_parse(const char *s, size_t len, struct store_url *u, char *err, size_t errlen);

/* True when id is a valid order or node id: 1..STORE_ID_MAX bytes of [A-Za-z0-9._:-], not
 * starting with '.' (ids name files in the directory store and are joined with ',' in the log). */
bool store_id_valid(const char *id, size_t len);

enum store_change_kind { STORE_CHANGE_IMPORT = 1, STORE_CHANGE_REVOKE, STORE_CHANGE_RESTORE };
enum store_state { STORE_ACTIVE = 0, STORE_REVOKED };

/* One order as stored. record is the opaque record text (not NUL-terminated when it comes from
 * the store; record_len bytes). */
struct store_order {
    const char *id;
    enum store_state state;
    uint64_t version;    /* the version of the last change that touched it */
    uint64_t updated_ms; /* that change's time, milliseconds since the epoch */
    const char *record;  /* NULL in store_list() and for a record the store no longer has */
    size_t record_len;
};

/* One change. For store_publish(): kind, urgent, time_ms (0: now) and the orders (id, and for
 * an import the record; for revoke/restore a record is optional and replaces the stored one).
 * For store_follow(): version too, and each order as the store holds it when the change is
 * read (it may already reflect a later change, which will be delivered after this one). */
struct store_change {
    uint64_t version;
    enum store_change_kind kind;
    bool urgent; /* published ahead of anything pending: see docs/store.md */
    uint64_t time_ms;
    const struct store_order *orders;
    size_t n_orders;
};

/* A node's acknowledgement. alive: its heartbeat has not expired. */
struct store_node {
    const char *id;
    uint64_t version;      /* the version it enforces */
    uint64_t since_ms;     /* when it started enforcing it */
    uint64_t heartbeat_ms; /* its last heartbeat */
    bool alive;
    /* What it runs, as its last acknowledgement said (never NULL): its software version
     * (common/version.h) and its mode ("tap", "inline", ...); "" for a record written by a
     * release that did not say (a fleet in a rolling upgrade). */
    const char *software;
    const char *mode;
};

#define STORE_NODE_ABOUT_MAX 64 /* bytes of a node's software version or mode, NUL included */

struct store_opts {
    const char *password_file;   /* overrides ?password_file= */
    const char *prefix;          /* overrides ?prefix= */
    uint32_t connect_timeout_ms; /* default 1000 */
    uint32_t io_timeout_ms;      /* default 2000 */
    size_t max_record;           /* bytes of one record, default 256 MiB */
    size_t max_orders;           /* orders in one change, default 1 000 000 */
    uint32_t log_keep;           /* change-log entries kept (approximately), default 100 000 */
};

/* Callbacks return 0 to go on, anything else stops the walk and is returned by the caller.
 * Pointers handed to a callback are valid during the call only. */
typedef int (*store_order_fn)(void *ctx, const struct store_order *o);
typedef int (*store_change_fn)(void *ctx, const struct store_change *c);
typedef int (*store_node_fn)(void *ctx, const struct store_node *n);

/* One version a node started enforcing, from its enforcement log. */
struct store_enforced {
    uint64_t version;
    uint64_t since_ms;
};
typedef int (*store_enforced_fn)(void *ctx, const struct store_enforced *e);

/* One event of an order's evidence record (written by store_publish, never trimmed). */
struct store_event {
    enum store_change_kind kind;
    uint64_t version;
    uint64_t time_ms;
};
typedef int (*store_event_fn)(void *ctx, const struct store_event *e);

/* Hits of one entry (a normalized resource) under one order. For store_hits_add() a delta
 * (count to add; first_ms and last_ms of the hits counted); for store_hits() the totals. */
struct store_hit {
    const char *order;
    const char *entry; /* no '\n', at most STORE_ENTRY_MAX bytes */
    uint64_t count;
    uint64_t first_ms, last_ms;
};
typedef int (*store_hit_fn)(void *ctx, const struct store_hit *h);

/* A document's bytes (not NUL-terminated). */
typedef int (*store_doc_fn)(void *ctx, const char *bytes, size_t len);
/* ---- subscriber map types (docs/subscribers.md) ---- */
#define STORE_SUB_ADDR_MAX 48  /* bytes of an address text, NUL included */
#define STORE_SUB_ID_MAX   128 /* bytes of a subscriber or session id */

enum store_sub_op { STORE_SUB_SET = 1, STORE_SUB_DEL };

/* One mapping of an address (rules/subs/submap.h's text: "10.0.0.1", "2001:db8::/56") to a
 * subscriber. For store_sub_apply(): op; SET: subscriber, session ("" or NULL: none), ttl_ms
 * (0: never expires), updated_ms (0: now); DEL: session ("" or NULL: whatever session holds
 * the address; otherwise only that session's mapping is removed). For store_sub_get/list():
 * every field as stored, expires_ms 0 when it does not expire. */
struct store_sub {
    enum store_sub_op op;
    const char *addr;
    const char *subscriber;
    const char *session;
    uint64_t ttl_ms;
    uint64_t updated_ms;
    uint64_t expires_ms;
};
typedef int (*store_sub_fn)(void *ctx, const struct store_sub *e);

/* ---- tariff records (docs/profiles.md) ---- */
#define STORE_TARIFF_TEXT_MAX 4096 /* bytes of a record's text, NUL included */

/* A profile definition (name -> profile text) or a subscriber's settings (id -> settings
 * text), rules/subs/profile.h's texts. del: the record is removed (text unused). */
enum store_tariff_kind { STORE_TARIFF_PROFILE = 'p', STORE_TARIFF_SUB = 's' };
struct store_tariff {
    enum store_tariff_kind kind;
    bool del;
    const char *name;
    const char *text;
};
typedef int (*store_tariff_fn)(void *ctx, const struct store_tariff *t);

struct store;

/* One document of store_doc_put_many(). */
struct store_doc {
    const char *id;
    const char *bytes;
    size_t len;
};

struct store_ops {
    const char *name;
    int64_t (*publish)(struct store *s, const struct store_change *c, char *err, size_t errlen);
    int (*version)(struct store *s, uint64_t *version, char *err, size_t errlen);
    int (*snapshot)(struct store *s, uint64_t *version, store_order_fn cb, void *ctx, char *err,
                    size_t errlen);
    int (*follow)(struct store *s, uint64_t from, uint32_t timeout_ms, store_change_fn cb,
                  void *ctx, uint64_t *last, char *err, size_t errlen);
    int (*get)(struct store *s, const char *id, store_order_fn cb, void *ctx, char *err,
               size_t errlen);
    int (*list)(struct store *s, store_order_fn cb, void *ctx, char *err, size_t errlen);
    int (*node_ack)(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                    uint32_t ttl_ms, const char *software, const char *mode, char *err,
                    size_t errlen);
    int (*nodes)(struct store *s, store_node_fn cb, void *ctx, char *err, size_t errlen);
    int (*trim)(struct store *s, uint64_t keep, char *err, size_t errlen);
    int (*enforced)(struct store *s, const char *node, store_enforced_fn cb, void *ctx, char *err,
                    size_t errlen);
    int (*events)(struct store *s, const char *id, store_event_fn cb, void *ctx, char *err,
                  size_t errlen);
    int (*hits_add)(struct store *s, const struct store_hit *h, size_t n, char *err, size_t errlen);
    int (*hits)(struct store *s, const char *order, store_hit_fn cb, void *ctx, char *err,
                size_t errlen);
    int (*doc_put)(struct store *s, const char *kind, const char *id, const char *bytes, size_t len,
                   char *err, size_t errlen);
    int (*doc_get)(struct store *s, const char *kind, const char *id, store_doc_fn cb, void *ctx,
                   char *err, size_t errlen);
    /* optional: store_doc_put_many() falls back to doc_put one by one */
    int (*doc_put_many)(struct store *s, const char *kind, const struct store_doc *docs, size_t n,
                        char *err, size_t errlen);
    void (*free)(struct store *s);

    /* ---- subscriber map (address -> subscriber), docs/subscribers.md ---- */
    int (*sub_apply)(struct store *s, const struct store_sub *e, size_t n, char *err,
                     size_t errlen);
    int (*sub_get)(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                   size_t errlen);
    int (*sub_list)(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen);
    int (*sub_follow)(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                      store_sub_fn cb, void *ctx, char *err, size_t errlen);

    /* ---- tariff records (profiles, subscriber settings), docs/profiles.md ---- */
    int (*tariff_apply)(struct store *s, const struct store_tariff *t, char *err, size_t errlen);
    int (*tariff_list)(struct store *s, store_tariff_fn cb, void *ctx, char *err, size_t errlen);
    int (*tariff_follow)(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                         store_tariff_fn cb, void *ctx, char *err, size_t errlen);
};

/* The common head of every back end's handle. */
struct store {
    const struct store_ops *ops;
    char where[STORE_HOST_MAX + STORE_ID_MAX +
               32]; /* "redis 127.0.0.1:6379", "dir /var/lib/qorgau" */
    size_t max_record, max_orders;
    uint32_t log_keep;
    /* Set by store_publish() when the change was made but not everything asked for was
     * confirmed (fewer replicas than ?replicas=N acknowledged it in time); "" otherwise. */
    char warning[768];
};

/* Opens the store named by url (NULL or "": the directory store at STORE_DEFAULT_DIR). A
 * Redis store connects now (and fails if it cannot); a directory store creates its directory.
 * Credentials come from opts->password_file or ?password_file=, a file that must not be
 * readable by group or others. Returns the handle or NULL with a message in err. */
struct store *store_open(const char *url, const struct store_opts *opts, char *err, size_t errlen);

/* Closes and frees s. NULL is a no-op. */
void store_free(struct store *s);

/* Copies url into out (truncated to outlen) with the password of its user information, if any,
 * replaced by "***" ("redis://u:***@h:6379/0"), for printing a configuration. */
void store_url_redact(const char *url, char *out, size_t outlen);

/* What the handle is, for messages: "redis 127.0.0.1:6379" (never a password). */
const char *store_where(const struct store *s);

/* Publishes one change atomically: increments the version, writes the records and states,
 * appends one change-log entry carrying the version. Revoke and restore of an id the store
 * does not hold fail with -ENOENT and change nothing. Returns the new version (> 0) or a
 * negative errno. Ownership: nothing of c is kept. */
int64_t store_publish(struct store *s, const struct store_change *c, char *err, size_t errlen);

/* The current version (0: nothing published yet). */
int store_version(struct store *s, uint64_t *version, char *err, size_t errlen);

/* Calls cb for every order (active and revoked) as of one version, stored in *version before
 * the first call. Consistent: no change is half seen. Returns 0 or a negative errno (or cb's
 * non-zero result). */
int store_snapshot(struct store *s, uint64_t *version, store_order_fn cb, void *ctx, char *err,
                   size_t errlen);

/* Calls cb for each change after version from, in version order, waiting up to timeout_ms for
 * the first one (0: do not wait). *last is set to the version of the last change delivered
 * (from when none). Returns the number of changes delivered, -ESTALE when changes after from
 * are no longer in the log (or from is ahead of the store: the store was reset), meaning "load
 * the snapshot", or another negative errno. */
int store_follow(struct store *s, uint64_t from, uint32_t timeout_ms, store_change_fn cb, void *ctx,
                 uint64_t *last, char *err, size_t errlen);

/* Calls cb once with the order id (with its record). -ENOENT when there is none. */
int store_get(struct store *s, const char *id, store_order_fn cb, void *ctx, char *err,
              size_t errlen);

/* Calls cb for every order without its record (record NULL, record_len its size), in no
 * particular order. */
int store_list(struct store *s, store_order_fn cb, void *ctx, char *err, size_t errlen);

/* Records that node enforces version since since_ms, and refreshes its heartbeat, which
 * expires after ttl_ms. Called again with the same version it is a heartbeat. */
int store_node_ack(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                   uint32_t ttl_ms, char *err, size_t errlen);

/* store_node_ack() that also records what the node runs: software (its version) and mode, each
 * "" (or NULL) or 1..STORE_NODE_ABOUT_MAX-1 bytes of [A-Za-z0-9._+~:-] (-EINVAL otherwise).
 * store_node_ack() records them as "". */
int store_node_ack_about(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                         uint32_t ttl_ms, const char *software, const char *mode, char *err,
                         size_t errlen);

/* Calls cb for every node that ever acknowledged (alive or not). */
int store_nodes(struct store *s, store_node_fn cb, void *ctx, char *err, size_t errlen);

/* Drops change-log entries but the last keep (operators, and tests forcing a gap). */
int store_trim(struct store *s, uint64_t keep, char *err, size_t errlen);

/* ---- evidence (docs/store.md, "Evidence") ---- */

/* Calls cb for each version node started enforcing, in version order: its enforcement log,
 * which store_node_ack() appends to whenever the acknowledged version changes (a heartbeat
 * with the same version adds nothing) and which is never trimmed. -ENOENT: no such node. */
int store_enforced(struct store *s, const char *node, store_enforced_fn cb, void *ctx, char *err,
                   size_t errlen);

/* Calls cb for each change that touched order id (import, revoke, restore), in version order,
 * from its evidence record: store_publish() appends to it in the same atomic change, and it is
 * never trimmed (unlike the change log). -ENOENT when the order has no evidence record. */
int store_events(struct store *s, const char *id, store_event_fn cb, void *ctx, char *err,
                 size_t errlen);

/* Adds n hit deltas in one batched write (one round trip, one locked rewrite per order): count
 * added, first hit time = the minimum seen, last = the maximum. Entries with count 0 are
 * ignored. A lost reply is not retried (it may have been counted). */
int store_hits_add(struct store *s, const struct store_hit *h, size_t n, char *err, size_t errlen);

/* Calls cb for each entry with hits under order, in no particular order (0 and no call when
 * none). */
int store_hits(struct store *s, const char *order, store_hit_fn cb, void *ctx, char *err,
               size_t errlen);

/* Stores a document (bytes, up to STORE_DOC_MAX) under kind and id (both store ids), replacing
 * any earlier one: "report" documents record generated reports, "verify" documents hold
 * self-verification results (docs/reports.md). */
int store_doc_put(struct store *s, const char *kind, const char *id, const char *bytes, size_t len,
                  char *err, size_t errlen);

/* Stores n documents of one kind as n store_doc_put() calls would, written together: the
 * directory store makes them durable with one syncfs() instead of an fsync each, Redis takes one
 * MSET. Each document is stored whole or not at all; on an error some may be stored. A repeated
 * id keeps the later document. */
int store_doc_put_many(struct store *s, const char *kind, const struct store_doc *docs, size_t n,
                       char *err, size_t errlen);

/* Calls cb once with the document's bytes. -ENOENT when there is none. */
int store_doc_get(struct store *s, const char *kind, const char *id, store_doc_fn cb, void *ctx,
                  char *err, size_t errlen);

/* The kind's name: "import", "revoke", "restore" (NULL for others); and back (0 if unknown). */
const char *store_change_kind_name(enum store_change_kind k);
enum store_change_kind store_change_kind_parse(const char *s, size_t len);

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t store_now_ms(void);

/* Reads the password of a credentials file: the first line, without its line end. Refuses a
 * file that group or others may read, or that is not a regular file. Returns 0 or a negative
 * errno with "store: credentials PATH: reason" in err (never the password). */
int store_read_secret(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* ---- subscriber map (docs/subscribers.md) ---- */

/* True when addr may name a mapping: 1..STORE_SUB_ADDR_MAX-1 bytes of [0-9A-Fa-f.:/]. */
bool store_sub_addr_valid(const char *addr, size_t len);

/* Applies n mappings in order, as one batch (Redis: one script, one round trip; each entry
 * also appended to the change stream). Every entry is checked first (address, ids of 1..128
 * printable bytes without space); an invalid one fails the batch with -EINVAL naming its
 * index, before anything is written. Returns n or a negative errno. */
int store_sub_apply(struct store *s, const struct store_sub *e, size_t n, char *err, size_t errlen);

/* Calls cb once with the live mapping of exactly addr. -ENOENT when there is none (or it
 * expired). */
int store_sub_get(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                  size_t errlen);

/* Calls cb for every live mapping, in no particular order. */
int store_sub_list(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen);

#define STORE_SUB_CURSOR_MAX 48 /* bytes of a follow cursor, NUL included */

/* Follows the subscriber changes. cursor "" (cap >= STORE_SUB_CURSOR_MAX): sets it to the
 * current end and delivers nothing - take it before store_sub_list(), then follow from it
 * (a change seen twice is harmless: sets and session-guarded removals are idempotent).
 * Otherwise calls cb for each mapping changed after cursor (op, addr, subscriber, session,
 * ttl_ms; removals name the session whose mapping they remove, "" for any), waiting up to
 * timeout_ms for the first, and advances cursor. Returns the number delivered, -ESTALE when
 * the changes after cursor are gone (the directory store's subs.log was cut: list the mappings
 * again, taking the cursor first), -ENOTSUP for a store without a change stream, or a negative
 * errno. */
int store_sub_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                     store_sub_fn cb, void *ctx, char *err, size_t errlen);

/* ---- tariff records (docs/profiles.md, docs/store.md) ---- */

/* Writes (or removes) one record and appends it to the tariff change stream. The name must be
 * 1..128 printable bytes without space; the text at most STORE_TARIFF_TEXT_MAX - 1 bytes
 * without line breaks or control bytes (its syntax is the caller's: rules/subs/profile.h).
 * Returns 0, -ENOENT (removing what is not there), -EINVAL or a negative errno. */
int store_tariff_apply(struct store *s, const struct store_tariff *t, char *err, size_t errlen);

/* Calls cb for every record (profiles and subscribers), in no particular order. */
int store_tariff_list(struct store *s, store_tariff_fn cb, void *ctx, char *err, size_t errlen);

/* Calls cb once with the record (kind, name); -ENOENT when there is none. */
int store_tariff_get(struct store *s, enum store_tariff_kind kind, const char *name,
                     store_tariff_fn cb, void *ctx, char *err, size_t errlen);

/* Follows the tariff changes, as store_sub_follow() (cursor "" first: the current end; then
 * every record written after it, removals with del set). The directory store has no stream:
 * its cursor is a marker of the tariff file (inode, size, times; one stat(2) every 50 ms while
 * waiting), and a change since it is -ESTALE, as a change the stream no longer holds would be:
 * take the cursor again ("") and list every record (store_tariff_list()), removing those the
 * list no longer has. */
int store_tariff_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                        store_tariff_fn cb, void *ctx, char *err, size_t errlen);

/* The one-line form of a record, used by the change stream and the directory store:
 * "p NAME TEXT" / "s ID TEXT", removals "P NAME" / "S ID". Returns the length (0: does not
 * fit in cap). store_tariff_parse() reads one back (line modified; pointers into it): 0 or -1. */
size_t store_tariff_format(const struct store_tariff *t, char *out, size_t cap);
int store_tariff_parse(char *line, struct store_tariff *t);

#endif
