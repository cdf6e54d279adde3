/* order.h - a regulator's order as a record: everything it arrived with.
 *
 * An order (a "предписание" under Article 41-1 of the Law «О связи») has an id, an issuer, a
 * number, a legal basis, issued and received times, a category, an action (restrict or
 * restore), an urgent flag, its resources (as written and normalized) and the resources that
 * were rejected (position, text, reason), the name and SHA-256 of the file it came from and the
 * result of checking its signature. The importers (ordjson.h, ordcsv.h, orddump.h) make records
 * from files; order_to_json() / order_from_json() give the one canonical JSON object the store
 * keeps (docs/orders.md). orderset.h compiles a set of records into a rule set.
 *
 * Records own all their strings (heap copies); order_free() releases them. */
#ifndef QG_ORDER_H
#define QG_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/match/ruleset.h"

#define ORDER_ERR_MAX 512

enum order_action { ORDER_RESTRICT = 0, ORDER_RESTORE };

enum order_sig_status { ORDER_SIG_NONE = 0, ORDER_SIG_VALID, ORDER_SIG_INVALID };

struct order_resource {
    char *text; /* as written */
    char *norm; /* normalized (ruleset_normalize_entry); "*.name" for a domain mask */
    enum rule_kind kind;
    char *category; /* NULL: the order's */
    bool resolve;   /* marked for the IP fallback: its addresses are resolved and blocked too
                     * (fallback.resolve = marked; docs/fallback.md) */
};

struct order_reject {
    char *pos;  /* "LINE", "LINE:COL" or "content 3/domain 2" (XML element index) */
    char *text; /* as written */
    char *reason;
};

struct order_signature {
    enum order_sig_status status;
    char *signer; /* subject of the signing certificate (RFC 2253), or NULL */
    char *time;   /* signing time from the signed attributes (RFC 3339 UTC), or NULL */
    char *reason; /* why not valid (OpenSSL's text), or NULL */
};

struct order {
    char *id;          /* non-empty */
    char *issuer;      /* non-empty */
    char *number;      /* "" if none */
    char *legal_basis; /* "" if none */
    char *category;    /* "" if none */
    char *issued;      /* as written: RFC 3339 date-time, or a date "YYYY-MM-DD", or "" */
    char *received;    /* as written, or the import time (RFC 3339 UTC) */
    char *included;    /* registry inclusion time (dump.xml includeTime) as written, or "" */
    int64_t issued_ts; /* Unix seconds of issued (0 if none; a time without offset is UTC) */
    int64_t received_ts;
    enum order_action action;
    bool urgent;
    char **restores; /* ids of the orders a restore order lifts (may be none) */
    size_t nrestores;
    struct order_resource *res;
    size_t nres;
    struct order_reject *rej;
    size_t nrej;
    char *source;    /* file name it came from, or "" */
    char sha256[65]; /* of the file's bytes, lower-case hex; "" if unknown */
    struct order_signature sig;
};

/* A growable list of owned records. */
struct order_list {
    struct order **v;
    size_t n, cap;
};

/* Returns a new record with every string "" (id and issuer must be set before use), or NULL. */
struct order *order_new(void);
void order_free(struct order *o);

/* Replaces *field (a char * member of a record) with a copy of s (len bytes, NUL added).
 * Returns 0 or -ENOMEM. */
int order_set(char **field, const char *s, size_t len);

/* Normalizes text and appends it as a resource (category may be NULL; mask makes a domain
 * "*.name", as does a text written "*.name"). Text that is not valid UTF-8 is refused. Returns
 * 0, -EINVAL with the reason in err (nothing appended), or -ENOMEM. */
int order_add_resource(struct order *o, const char *text, size_t len, const char *category,
                       bool mask, char *err, size_t errlen);

/* Appends a rejected resource. Returns 0 or -ENOMEM. */
int order_add_reject(struct order *o, const char *pos, const char *text, size_t len,
                     const char *reason);

/* Appends id to o->restores. Returns 0 or -ENOMEM. */
int order_add_restores(struct order *o, const char *id);

/* Parses a time: RFC 3339 date-time (offset or Z; fractions allowed), a date-time without an
 * offset (taken as UTC) or a date "YYYY-MM-DD" (midnight UTC). Dates and leap years checked.
 * Returns true and *ts (Unix seconds). */
bool order_time_parse(const char *s, int64_t *ts);

/* Writes ts as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void order_time_format(int64_t ts, char out[32]);

/* Fills what an importer knows of the file for every record of list from index first on: the
 * source name, the SHA-256 of buf, and received = now where the file gave none.
 * Returns 0 or -ENOMEM. */
int order_stamp(struct order_list *list, size_t first, const char *name, const uint8_t *buf,
                size_t len, int64_t now);

/* SHA-256 of buf as lower-case hex into out. */
void order_sha256(const uint8_t *buf, size_t len, char out[65]);

/* The canonical JSON object of a record (docs/orders.md), NUL-terminated, keys in a fixed order,
 * compact. Returns a malloc'ed string the caller frees, or NULL on allocation failure. */
char *order_to_json(const struct order *o);

/* Parses a canonical object (as order_to_json() writes it). Returns a new record, or NULL with a
 * reason in err (malformed, missing or ill-typed field, or out of memory). Resources are
 * normalized again, so a record from an older normalization is brought up to date. */
struct order *order_from_json(const char *buf, size_t len, char *err, size_t errlen);

/* order_from_json() with every value in jansson's tree: the same record or the same error
 * (order_from_json() reads the resources of the records order_to_json() writes without it,
 * and falls back to this; the fuzz target compares the two). */
struct order *order_from_json_tree(const char *buf, size_t len, char *err, size_t errlen);

/* jansson's lexer drops a byte when its token buffer cannot grow, so a parse under memory
 * pressure may return "casno.kz" for "casino.kz". Every JSON parse of the project goes through
 * jansson allocation functions (installed once, process-wide) that note a failure in a
 * thread-local flag: call order_json_oom_reset() before a jansson call and treat
 * order_json_oom() true afterwards as -ENOMEM, whatever jansson returned. */
void order_json_oom_reset(void);
bool order_json_oom(void);

/* "restrict" / "restore"; order_action_parse() returns false for anything else. */
const char *order_action_name(enum order_action a);
bool order_action_parse(const char *s, enum order_action *a);
const char *order_sig_status_name(enum order_sig_status s);

/* List helpers. order_list_push takes ownership of o (also on failure: then o is freed).
 * order_list_free frees every record and the array; NULL is a no-op. */
int order_list_push(struct order_list *l, struct order *o);
void order_list_free(struct order_list *l);
/* Frees records from index first on and shortens the list to first. */
void order_list_truncate(struct order_list *l, size_t first);

/* The record in l with this id, or NULL. */
struct order *order_list_find(const struct order_list *l, const char *id);

#endif
