/* decisions.h - what the workers decided, for the admin API and /metrics: counts by verdict,
 * method, category and profile; the last decisions; the most blocked names.
 *
 * Every worker has its own part, written by that worker alone, read by the admin threads
 * without a lock (the packet path never waits for a reader):
 *   - a count table (DECISIONS_ROWS rows keyed by verdict, method, category, profile; a row is
 *     claimed once, by the worker, and published with a release store; a full table counts in
 *     one "overflow" row);
 *   - a ring of the last DECISIONS_RING decisions, each slot under a sequence number (odd while
 *     the worker writes it: a reader that sees it change skips the slot);
 *   - a table of blocked names (DECISIONS_NAMES slots, open addressing; names that find no slot
 *     are counted as dropped).
 * Nothing is allocated after decisions_new(); a note copies at most a few hundred bytes. The
 * profile label is NULL ("none") until subscriber profiles decide; it is already a key. */
#ifndef QG_DECISIONS_H
#define QG_DECISIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proxy/judge/verdict.h"
#include "rules/match/ruleset.h"

#define DECISIONS_RING      256u  /* per worker */
#define DECISIONS_ROWS      256u  /* per worker */
#define DECISIONS_NAMES     1024u /* per worker, a power of two */
#define DECISIONS_NAME_MAX  128u
#define DECISIONS_LABEL_MAX 48u

struct decisions;

struct decision_note {
    uint64_t ms; /* wall clock, ms since the epoch */
    enum verdict verdict;
    enum verdict_method method;
    enum verdict_app app;
    const char *name; /* the flow's name or NULL */
    size_t name_len;
    const char *rule;     /* the entry that decided, or NULL */
    const char *order;    /* its order id, or NULL */
    const char *category; /* its category, or NULL/"" */
    const char *profile;  /* the subscriber's profile, or NULL */
    int ipver;            /* 4 or 6; server is 16 bytes */
    const uint8_t *server;
    uint16_t server_port;
};

/* Parts for workers 0..workers-1. NULL on allocation failure. */
struct decisions *decisions_new(unsigned workers);
void decisions_free(struct decisions *d);

/* Worker worker notes one decision (d may be NULL: nothing). */
void decisions_note(struct decisions *d, unsigned worker, const struct decision_note *n);

/* The same for a flow a mode judged: rule, order and category from rs (may be NULL) and
 * dec->entry, the time from the coarse wall clock, no profile. */
void decisions_note_flow(struct decisions *d, unsigned worker, const struct ruleset *rs,
                         const struct verdict_decision *dec, enum verdict_app app, const char *name,
                         size_t name_len, int ipver, const uint8_t *server, uint16_t server_port);

/* Writes the counts summed over the workers as Prometheus samples of `metric` (a counter),
 * labels verdict, method, category, profile ("none" for a missing one). */
void decisions_metrics(const struct decisions *d, FILE *f, const char *metric);

/* Writes {"decisions":[...]} : the last max (at most DECISIONS_RING * workers) decisions of all
 * workers, newest first: {"ms":T,"verdict":"block","method":"domain","app":"tls","name":...,
 * "rule":...,"order":...,"category":...,"server":"ip:port"}. */
void decisions_json(const struct decisions *d, FILE *f, size_t max);

/* Writes {"blocked_names":N,"dropped":M,"top":[{"name":...,"blocks":K},...]}: the max most
 * blocked names since the start, summed over the workers, most first. */
void decisions_top_json(const struct decisions *d, FILE *f, size_t max);

/* The decisions so far, all workers: blocks and passes. */
void decisions_totals(const struct decisions *d, uint64_t *blocks, uint64_t *passes);

/* Blocked names that found no slot (all workers). */
uint64_t decisions_names_dropped(const struct decisions *d);

#endif
