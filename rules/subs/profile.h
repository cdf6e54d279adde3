/* profile.h - tariff profiles and per-subscriber parental settings: their text forms and the
 * decision they make about one request (docs/profiles.md).
 *
 * A profile (set by the operator, e.g. "child"): categories blocked; or allow-list mode (only
 * names in the allowed categories are reachable; a flow without a visible name and any QUIC
 * flow are blocked); schedules (a category, or everything, blocked in given hours of given
 * days, local time of `profiles.timezone`). Text form, space-separated fields in any order:
 *     block=adult,gambling allow=kids allowlist=yes sched=games@mon-fri/21:00-07:00 sched=*@sat,sun/23:00-06:00
 * Subscriber settings (set per subscriber by the billing system or the parents API):
 *     profile=child pallow=kids.test,school.test pdeny=games.test sched=*@sat,sun/22:00-08:00
 * A parental deny blocks the name and every name under it; a parental allow lets it through
 * whatever the profile's categories, schedules or allow list say. A regulator order always
 * applies first (proxy/judge/verdict.c): nothing here can unblock it.
 *
 * Categories are written by name and compiled against a category set (rules/match/catset.h)
 * into masks; a name the set does not know is an error at compile time. */
#ifndef QG_PROFILE_H
#define QG_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/match/catset.h"

#define PROFILE_NAME_MAX  32   /* bytes of a profile name, NUL included */
#define PROFILE_SPEC_MAX  4096 /* bytes of a profile or settings text, NUL included */
#define PROFILE_SCHED_MAX 8    /* schedule windows of one profile / one subscriber */
#define PROFILE_LIST_MAX  32   /* names in a parental allow or deny list */

/* A schedule window: from (minutes after local midnight) to `to` (from > to: across midnight,
 * the window belongs to the day it starts on). days: bit 0 Monday .. bit 6 Sunday. */
struct profile_sched {
    uint64_t mask; /* categories blocked in the window */
    bool all;      /* everything blocked in the window */
    uint8_t days;
    uint16_t from, to;
};

struct profile {
    char name[PROFILE_NAME_MAX];
    uint64_t block; /* categories blocked */
    bool allowlist; /* allow-list mode */
    uint64_t allow; /* allow-list mode: the categories reachable */
    struct profile_sched sched[PROFILE_SCHED_MAX];
    unsigned nsched;
};

/* A subscriber's own settings. */
struct profile_sub {
    char profile[PROFILE_NAME_MAX]; /* "" : the default profile */
    char *allow[PROFILE_LIST_MAX];  /* normalized names (owned: profile_sub_clear()) */
    unsigned nallow;
    char *deny[PROFILE_LIST_MAX];
    unsigned ndeny;
    struct profile_sched sched[PROFILE_SCHED_MAX];
    unsigned nsched;
};

/* True for a valid profile name: [a-z0-9_-], 1..31 bytes. */
bool profile_name_valid(const char *s);

/* Parses a profile text against the categories of cs (may be NULL: no category is known).
 * Returns 0 or -EINVAL with "profile NAME: field 'F': reason" in err. */
int profile_parse(const char *name, const char *spec, const struct catset *cs, struct profile *p,
                  char *err, size_t errlen);

/* Parses a subscriber's settings text. Returns 0, -ENOMEM, or -EINVAL with a reason naming the
 * field in err. Free with profile_sub_clear(). */
int profile_sub_parse(const char *spec, const struct catset *cs, struct profile_sub *s, char *err,
                      size_t errlen);
void profile_sub_clear(struct profile_sub *s);

/* Checks a text's syntax without a category set (categories are any valid names): what the
 * store and the CLI accept. sub: a subscriber's settings, else a profile. what names the text
 * in err ("profile child", "subscriber 7701...": "WHAT: field 'F' (offset N): reason"). */
int profile_check(const char *spec, bool sub, const char *what, char *err, size_t errlen);

/* Why a request is blocked by the tariff side (none: it is not). */
enum profile_cause {
    PCAUSE_NONE = 0,
    PCAUSE_PROFILE,   /* a category the profile blocks */
    PCAUSE_PARENTAL,  /* the subscriber's parental deny list */
    PCAUSE_SCHEDULE,  /* a schedule window */
    PCAUSE_ALLOWLIST, /* allow-list mode: not in the allowed categories, nameless, or QUIC */
};
/* "profile", "parental", "schedule", "allowlist" (NULL for none). */
const char *profile_cause_name(enum profile_cause c);

/* One request as the tariff side sees it. */
struct profile_req {
    const char *name; /* normalized name, NULL when the flow shows none (or an IP literal) */
    size_t name_len;
    uint64_t cats;  /* the name's categories (catset_lookup()) */
    bool udp;       /* QUIC / UDP */
    uint32_t local; /* local time: minutes since Monday 00:00 (0 .. 7*1440-1) */
};

/* Decides req for profile p and the subscriber's settings s (may be NULL). Returns the cause
 * (PCAUSE_NONE: pass); *cat gets the blocking categories (0 for a parental deny, everything
 * blocked, or a nameless flow). Pure; no allocation. */
enum profile_cause profile_judge(const struct profile *p, const struct profile_sub *s,
                                 const struct profile_req *req, uint64_t *cat);

/* The local time value of profile_req.local for Unix time ts in a zone offset (seconds east). */
uint32_t profile_local_minutes(int64_t ts, int32_t utc_offset);

#endif
