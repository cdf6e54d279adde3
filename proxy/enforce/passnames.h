/* passnames.h - queue mode: the names of the connections it passed, judged again when the rule
 * set or the tariff table changes (docs/queue.md "Connections passed before an order").
 *
 * A passed connection never reaches Qorgau again: the kernel forwards it under its connection
 * mark for as long as it lasts. So the workers note each TLS or QUIC connection they pass, with
 * the name it was passed on (passnames_add()); a thread of the daemon (passnames_run()) then,
 * after every publication, judges every noted name again, and marks each connection the new
 * rule set blocks as blocked in conntrack (ctnl.h): the rules drop the rest of it, both ways.
 * Every minute (every second while notes are refused for want of room) it lists the connections
 * conntrack still holds with the pass mark (one dump, filtered in the kernel) and forgets the
 * others.
 *
 * Bounded: `capacity` connections (queue.passed_names), at most a share of them per client
 * (queue.passed_names_per_client); past either, or for a name longer than PASSNAMES_NAME_MAX,
 * a connection is not noted (counted): it keeps the decision it started with, as before. The
 * table is shared by the workers (one mutex: a note is a hash insert). */
#ifndef QG_PASSNAMES_H
#define QG_PASSNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/enforce/ctnl.h"
#include "proxy/judge/verdict.h"

#define PASSNAMES_NAME_MAX 253 /* the longest DNS name: every normalized one fits */

struct passnames;

/* A table for up to capacity connections (mapped without reserve: pages are touched as they
 * fill). mark_pass / mark_block: queue.mark_pass / queue.mark_block. NULL with err set. */
struct passnames *passnames_new(uint32_t capacity, uint32_t mark_pass, uint32_t mark_block,
                                char *err, size_t errlen);
void passnames_free(struct passnames *p);

/* queue.mark_cut, set when the kernel's table (ip.kernel_drop) answers it: a connection cut by
 * name gets mark_block | mark_cut, and the table's chain `cut` resets it (TCP) at its next
 * packet, both ways, where mark_block alone drops it silently. 0 (the default): mark_block. */
void passnames_set_cut_mark(struct passnames *p, uint32_t mark_cut);

/* At most share noted connections per client (the tuple's source: an IPv4 address, an IPv6
 * prefix of prefix6 bits), so that one client opening connections it keeps alive cannot fill
 * the table and leave every other client's later passes un-noted (an order would then not cut
 * them); past it that client's passes are not noted (counted: client_full). 0 (or a share of
 * the whole table): none. Call once, before the first note. Returns 0, or -ENOMEM with err set. */
int passnames_set_client_share(struct passnames *p, uint32_t share, unsigned prefix6, char *err,
                               size_t errlen);

/* Notes (or notes again: the same tuple replaces) a connection passed on name (normalized,
 * len bytes) for app (TLS or QUIC); ech: the name is ECH's outer one. */
void passnames_add(struct passnames *p, const struct ctnl_tuple *t, enum verdict_app app, bool ech,
                   const char *name, size_t len);
/* Forgets the connection of tuple t (blocked after all). */
void passnames_del(struct passnames *p, const struct ctnl_tuple *t);

/* Judges a noted connection again: true if the current rule set (and tariff) blocks it. */
typedef bool (*passnames_judge_fn)(void *ctx, const struct ctnl_tuple *t, enum verdict_app app,
                                   bool ech, const char *name, size_t len);

/* A noted connection, as passnames_rejudge() hands it out. */
struct passnames_conn {
    struct ctnl_tuple t;
    enum verdict_app app;
    bool ech;
    size_t len;
    char name[PASSNAMES_NAME_MAX + 1];
};

/* Judges every noted connection with judge; those it blocks are taken out of the table and
 * copied to out (at most max; the rest are judged at the next call). Returns their count. The
 * table's lock is held a slice at a time, never while judging. */
size_t passnames_rejudge(struct passnames *p, passnames_judge_fn judge, void *ctx,
                         struct passnames_conn *out, size_t max);

/* Forgetting the connections that ended: passnames_gc_begin(), passnames_gc_seen() for every
 * connection a dump lists, passnames_gc_end(): every connection noted before the begin and not
 * seen is forgotten. Returns how many. */
void passnames_gc_begin(struct passnames *p);
void passnames_gc_seen(struct passnames *p, const struct ctnl_tuple *t);
size_t passnames_gc_end(struct passnames *p);

struct passnames_stats {
    uint64_t noted;       /* in the table now */
    uint64_t added;       /* notes taken */
    uint64_t full;        /* connections not noted: the table was full */
    uint64_t client_full; /* ... their client held its share (passnames_set_client_share()) */
    uint64_t long_names;  /* ... or the name longer than PASSNAMES_NAME_MAX */
    uint64_t cut;         /* connections marked blocked after a newer rule set */
    uint64_t gone;        /* forgotten: no longer in conntrack */
    uint64_t errors;      /* conntrack requests that failed (not counting a connection gone) */
    uint64_t sweeps;      /* walks over the table after a publication */
};

void passnames_get_stats(const struct passnames *p, struct passnames_stats *st);

/* ---- the thread ---- */

/* What passnames_run() follows and how it judges. */
struct passnames_source {
    uint64_t (*version)(void *ctx); /* changes with every publication (rule set, tariffs) */
    passnames_judge_fn judge;
    /* a connection judge blocked, now marked blocked in conntrack (log it, count its hit) */
    void (*on_cut)(void *ctx, const struct passnames_conn *c);
    void *ctx;
    unsigned recheck_ms; /* with tariffs: a walk this often even without a publication; 0: no */
    unsigned gc_ms;      /* the dump that forgets ended connections, this often (60000) */
};

/* The thread's loop: every 100 ms, a walk after each new version (and each recheck_ms); the
 * connections now blocked are marked mark_block in conntrack; a dump every gc_ms. Needs
 * CAP_NET_ADMIN (the thread must be made after the privileges are dropped, to inherit it).
 * Returns when *stop is set, 0, or -1 with err set when the netlink socket cannot be made. */
int passnames_run(struct passnames *p, const struct passnames_source *src, const volatile int *stop,
                  char *err, size_t errlen);

/* One step of that loop, for tests: the netlink requests go through fd (a NETLINK_NETFILTER
 * socket). walk: judge again now; gc: dump now. */
void passnames_step(struct passnames *p, const struct passnames_source *src, int fd, bool walk,
                    bool gc);

#endif
