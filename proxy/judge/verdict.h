/* verdict.h - from the facts of one request to a decision.
 *
 * Order of checks (the first that matches decides, so the most specific reason is reported):
 *   1. url entries       - HTTP: normalized host + path. HTTPS: the path is invisible, so a url
 *                          entry for exactly this host blocks the whole name when
 *                          policy.https_url == VERDICT_HTTPS_URL_BLOCK_NAME (the default).
 *   2. domain entries    - the name and every name under an entry.
 *   3. ip entries        - the destination address; method "ip" when the flow had a usable
 *                          name, "ip-fallback" when it had none (no SNI, ECH, IP literal,
 *                          unparseable name), since then the address is all there is to judge.
 *   4. resolved addresses - the IP fallback table attached to the set (rules/match/fbaddr.h,
 *                          docs/fallback.md): an address only blocked names resolve to blocks
 *                          every flow ("ip" with a visible name, so a fronted name does not
 *                          pass; "ip-fallback" without); a shared one (a CDN) blocks per its
 *                          policy: only nameless flows, or nothing (decision.held_entry).
 * With ECH the outer (public) name is still checked against url and domain entries first. */
#ifndef QG_VERDICT_H
#define QG_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/match/nat64.h"
#include "rules/match/ruleset.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

enum verdict { VERDICT_PASS = 0, VERDICT_BLOCK };
enum verdict_method {
    METHOD_NONE = 0,
    METHOD_URL,
    METHOD_DOMAIN,
    METHOD_IP,
    METHOD_IP_FALLBACK,
    METHOD_TARIFF,    /* the subscriber's profile or parental settings (decision.cause) */
    METHOD_TRUNCATED, /* the capture cut the flow's request (engine_frame_cut): blocked by policy */
    METHOD_SYN_UNSEEN,   /* queue mode: a TCP flow first seen after its SYN whose stream cannot be
                        * judged by name (engine_config.unseen_syn): blocked by policy */
    METHOD_WATCH_LIMIT,  /* queue mode: a first request dribbled past the watch bounds without a
                         * name (engine_refuse(), queue.watch_limit = block): blocked by policy */
    METHOD_CLIENT_LIMIT, /* tap mode: a request cut across segments from a client that holds its
                          * whole share of reassembly buffers (engine_config.reasm_per_client):
                          * blocked by policy */
    METHOD_NO_ROOM,      /* tap mode: a QUIC Initial found no slot to reassemble its ClientHello in
                     * and did not show it whole on its own (engine_config.quic_no_slot_blocks):
                     * blocked by policy, the browser goes on over TCP, where it is judged; a
                     * TCP flow whose reassembly buffer was taken for another (reasm_evict), or
                     * whose other copy of bytes held found no view free
                     * (conflict_no_room_blocks): its data can no longer be read */
    METHOD_UNSEEN,       /* tap mode: the server answered client bytes the tap never saw (a capture
                          * drop, fragments the tap could not put together) while the flow was
                          * still inspected: what it answered went unjudged
                          * (engine_config.unseen_blocks): blocked by policy */
    METHOD_INCOMPLETE,   /* a QUIC ClientHello begun (CRYPTO bytes held) and not complete when its
                          * flow's budget was spent (quic.max_datagrams, quic.max_bytes): blocked
                          * by policy - Initials without CRYPTO data between two parts of a hello
                          * must not spend the budget into a decision on the address; also
                          * queue mode's refusal of a first request not complete within the
                          * hold bounds under queue.incomplete = drop (engine_refuse()) */
};

/* Who a block is for: a regulator order (rule files, orders), or the subscriber's tariff
 * (rules/subs/profile.h: its profile's categories, a parental list, a schedule, allow-list
 * mode). The tariff side is asked only when the regulator side passes. */
enum verdict_cause {
    CAUSE_NONE = 0,
    CAUSE_REGULATOR,
    CAUSE_PROFILE,
    CAUSE_PARENTAL,
    CAUSE_SCHEDULE,
    CAUSE_ALLOWLIST,
};
enum verdict_app { APP_UNKNOWN = 0, APP_TLS, APP_HTTP, APP_QUIC, APP_H2C };

/* How a block is carried out on the flow (enforcement back ends act on it; scan reports it). */
enum verdict_action {
    ACTION_NONE = 0, /* pass */
    ACTION_RESET,    /* TCP reset towards both ends (TLS, unknown TCP) */
    ACTION_REDIRECT, /* HTTP: 302 to policy.notice_url */
    ACTION_PAGE_451, /* HTTP: 451 Unavailable For Legal Reasons page (no notice URL set) */
    ACTION_DROP,     /* UDP (QUIC): drop, so the browser falls back to TCP */
};

enum verdict_https_url {
    VERDICT_HTTPS_URL_BLOCK_NAME = 0, /* an https URL entry blocks its whole host name */
    VERDICT_HTTPS_URL_IGNORE,         /* ... or is not enforced on TLS at all */
};

struct verdict_policy {
    enum verdict_https_url https_url;
    const char *notice_url; /* HTTP blocks redirect here; NULL: answer with a 451 page */
    /* the operator's NAT64 prefixes (ip.nat64_prefixes): an IPv6 server address under one of
     * them, or under the well-known 64:ff9b::/96 (always), is also judged as the IPv4 address it
     * embeds (rules/match/nat64.h); zero: the well-known prefix only */
    struct nat64 nat64;
};

/* Whether dst is an IP entry of rs, also as the IPv4 address a NAT64 address embeds; *entry
 * (may be NULL) gets it. The IP fallback's addresses are not looked at. */
bool verdict_ip_entry(const struct ruleset *rs, const struct verdict_policy *pol, int ipver,
                      const uint8_t *dst, uint32_t *entry);

/* Whether the server address is listed: an IP entry, or an address of the IP fallback table
 * (whatever its action), also as the IPv4 address a NAT64 address embeds (pol->nat64). */
bool verdict_addr_listed(const struct ruleset *rs, const struct verdict_policy *pol, int ipver,
                         const uint8_t *dst);

/* Child tariffs (docs/profiles.md): the node's subscriber map (client address -> subscriber;
 * NULL: every client gets the default profile) and its tariff table. */
struct verdict_tariff {
    const struct submap *subs;
    const struct tariff *tariff;
};

/* What the dissectors learnt about one request. Strings are normalized (rules/normalize.h) and
 * need not be NUL-terminated. */
struct verdict_facts {
    enum verdict_app app;
    bool udp;         /* the flow is UDP (QUIC or unknown) */
    const char *name; /* NULL when the flow carries no usable name */
    size_t name_len;
    const char *path; /* HTTP only: normalized path with query; NULL otherwise */
    size_t path_len;
    bool path_visible;  /* false for TLS/QUIC */
    bool name_is_ip;    /* name is an IP literal: url entries only, no domain lookup */
    bool name_hidden;   /* ECH/ESNI: the real name is encrypted, name is the outer one */
    int ipver;          /* 4 or 6 */
    const uint8_t *dst; /* server address (16 bytes, IPv4 in the first 4) */
    const uint8_t *src; /* client address (as dst); NULL: not known (no tariff decision) */
    int64_t now;        /* Unix seconds (tariff schedules, subscriber map expiry) */
    const struct verdict_tariff *tariff; /* NULL: regulator decisions only */
};

struct verdict_decision {
    enum verdict verdict;
    enum verdict_method method;
    enum verdict_action action;
    uint32_t entry;           /* RULESET_NO_ENTRY on pass */
    uint32_t held_entry;      /* pass: the entry whose shared resolved address matched and whose
                           * policy held the block back (a residual risk); else RULESET_NO_ENTRY */
    enum verdict_cause cause; /* CAUSE_NONE on pass */
    char profile[PROFILE_NAME_MAX]; /* the client's profile when the tariff side was asked */
    char category[CATSET_NAME_MAX]; /* CAUSE_PROFILE / CAUSE_SCHEDULE: the category that blocked */
    char sub[SUB_ID_MAX + 1];       /* the client's subscriber id, "" if not known (in clear:
                                     * pseudonymise it before writing it anywhere, pseudo.h) */
};

/* Decides one request against rs (may be NULL: everything passes). Pure; no allocation. */
void verdict_decide(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct verdict_facts *f, struct verdict_decision *d);

/* What cannot be read within the bounds is blocked by policy: d, the decision on the address
 * alone, becomes a block with method m and action a (regulator's cause, no entry) unless it
 * blocks already or the subscriber's allow-list lets the flow through. True when d changed.
 * Every mode's answer to a request it could not read (engine and inline proxy alike). */
bool verdict_block_by_policy(struct verdict_decision *d, enum verdict_method m,
                             enum verdict_action a);

/* "pass"/"block", "url"/"domain"/"ip"/"ip-fallback"/"tariff"/"truncated" (NULL for METHOD_NONE),
 * "tls"/"http"/... */
const char *verdict_name(enum verdict v);
const char *verdict_method_name(enum verdict_method m);
const char *verdict_app_name(enum verdict_app a);
/* "regulator", "profile", "parental", "schedule", "allowlist"; NULL for CAUSE_NONE. */
const char *verdict_cause_name(enum verdict_cause c);
const char *verdict_action_name(
    enum verdict_action a); /* "reset", "redirect", "451", "drop", NULL */

#endif
