/* report.h - the execution report of one order: what the store knows of it, as one model.
 *
 * report_build() reads, for one order: its record (identity, resources, rejected resources),
 * its evidence record (import / revoke / restore with version and time, store_events()), every
 * node's enforcement log (store_enforced()), the hits per entry (store_hits()), and the
 * documents "verify" (self-verification results), "risks" and "fallback" of the order
 * (docs/reports.md gives their JSON) and every node's "fbseen" (names seen in traffic to
 * fallback addresses, seendoc.h). From them it computes when each change reached each node
 * and every live node, the deadline (deadline.h) and whether it was met. The renderers
 * (report_render.h) only format this model. */
#ifndef QG_REPORT_H
#define QG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"
#include "rules/report/deadline.h"
#include "rules/report/seendoc.h"
#include "rules/store/store.h"

/* Every node of the fleet with its enforcement log, loaded once (report_fleet_load()) and
 * shared by the reports of many orders (qorgau stats). */
struct report_fleet_node {
    char *id;
    bool alive;
    struct store_enforced *log; /* in acknowledgement order */
    size_t nlog;
};
struct report_fleet {
    struct report_fleet_node *v;
    size_t n;
};

/* One node's part in one change: when it started enforcing a version that includes it. */
struct report_reach {
    char *node; /* owned */
    bool alive;
    uint64_t since_ms; /* 0: not reached */
};

/* One change of the order (from its evidence record). */
struct report_event {
    enum store_change_kind kind;
    uint64_t version, time_ms;
    uint64_t all_ms; /* reached every live node (the last of them); 0: not yet */
    struct report_reach *reach;
    size_t nreach;
};

/* One self-verification probe of a resource (document "verify"). */
struct report_check {
    char *probe, *target, *how;
    bool blocked;
    uint64_t time_ms;
};

enum report_verdict { REPORT_NOT_VERIFIED = 0, REPORT_BLOCKED, REPORT_NOT_BLOCKED };

struct report_resource {
    const struct order_resource *r; /* into the record */
    const char *method;             /* "url", "domain", "ip" */
    char **fallback;                /* ip_fallback_addresses (document "fallback"); may be none */
    size_t nfallback;
    uint64_t hits, first_hit_ms, last_hit_ms;
    /* an IP entry: what the kernel dropped to it on the ports Qorgau does not judge itself
     * (ip.kernel_drop), summed over the fleet's "kdrops" documents (kdropdoc.h) */
    uint64_t kdrop_packets, kdrop_bytes, first_kdrop_ms, last_kdrop_ms;
    struct report_check *checks;
    size_t nchecks;
    enum report_verdict verdict;
};

enum report_risk_kind {
    RISK_NODE_PENDING = 1, /* arg: node id — a live node has not acknowledged the order */
    RISK_NOT_VERIFIED,     /* arg: resource — no self-verification result */
    RISK_NOT_BLOCKED,      /* arg: resource — self-verification found it reachable */
    RISK_IP_WIDE,          /* arg: resource — an IP entry blocks every site on the address */
    RISK_SHARED_HELD,      /* arg: "resource address" — a shared address held back */
    RISK_ECH,              /* arg: count — ECH connections seen (names hidden) */
    RISK_UNASSESSED,       /* no "risks" document: shared addresses and ECH not assessed */
};

struct report_risk {
    enum report_risk_kind kind;
    char *arg;
};

enum report_met { REPORT_PENDING = 0, REPORT_MET, REPORT_MISSED };

struct report_opts {
    unsigned deadline_days; /* 0: DEADLINE_DEFAULT_DAYS */
    const char *tz;         /* NULL: DEADLINE_DEFAULT_TZ */
    uint64_t now_ms;        /* 0: the clock */
};

struct report {
    struct order *o; /* owned */
    enum store_state state;
    uint64_t version; /* of the last change touching it */
    unsigned deadline_days;
    char tz[64];
    struct deadline_date deadline_date;
    int64_t deadline_end;  /* Unix seconds: met strictly before */
    uint64_t published_ms; /* time of its first import */
    uint64_t enforced_ms;  /* that import reached every live node; 0: not yet */
    enum report_met met;   /* enforced before deadline_end / after / neither yet */
    bool overdue;          /* not enforced and the deadline has passed */
    struct report_event *ev;
    size_t nev;
    struct report_resource *res;
    size_t nres;
    bool verify_present;
    uint64_t ech_passed; /* ECH flows (name hidden) that passed, summed over the fleet's nodes */
    struct seendoc_addr *seen; /* names seen in traffic per fallback address, merged over the
                                * fleet's "fbseen" documents (seendoc.h); evidence only */
    size_t nseen;
    uint64_t verify_ms;
    struct report_risk *risks;
    size_t nrisks;
    uint64_t generated_ms;
};

/* Loads every node and its enforcement log. Returns 0 or a negative errno with a message. */
int report_fleet_load(struct store *s, struct report_fleet *f, char *err, size_t errlen);
void report_fleet_free(struct report_fleet *f);

/* Builds the report of order id. fleet may be NULL (loaded for this call). Returns 0 with *out
 * (report_free()), -ENOENT when the store has no such order, or another negative errno. */
int report_build(struct store *s, const struct report_fleet *fleet, const char *id,
                 const struct report_opts *opt, struct report **out, char *err, size_t errlen);

/* Pure part of report_build(): the reach of one event over the fleet. until is the version of
 * the order's next event (UINT64_MAX: none): a node whose first version >= ev->version is
 * already >= until never enforced this state (it joined later) and is left out. Fills
 * ev->reach and ev->all_ms. Returns 0 or -ENOMEM. */
int report_reach(struct report_event *ev, uint64_t until, const struct report_fleet *fleet);

void report_free(struct report *r);

#endif
