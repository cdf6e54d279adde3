/* verdict.c - the decision for one request; see verdict.h for the order of checks. */
#include "proxy/judge/verdict.h"

#include <string.h>

#include "rules/match/domhash.h"
#include "rules/match/rsref.h"

static enum verdict_action block_action(const struct verdict_policy *pol,
                                        const struct verdict_facts *f)
{
    if (f->udp)
        return ACTION_DROP;
    if (f->app == APP_HTTP || f->app == APP_H2C)
        return pol->notice_url ? ACTION_REDIRECT : ACTION_PAGE_451;
    return ACTION_RESET;
}

/* hq: where the domain lookup leaves the name's suffix hashes (hq->q set when it did) */
static void regulator_decide(const struct ruleset *rs, const struct verdict_policy *pol,
                             const struct verdict_facts *f, struct verdict_decision *d,
                             struct domhash_query *hq)
{
    struct rule_match m;

    d->verdict = VERDICT_PASS;
    d->method = METHOD_NONE;
    d->action = ACTION_NONE;
    d->entry = RULESET_NO_ENTRY;
    d->held_entry = RULESET_NO_ENTRY;
    if (!rs)
        return;

    if (f->name && f->name_len > 0) {
        bool hit;
        if (f->path_visible && f->path)
            hit = ruleset_match_url(rs, f->name, f->name_len, f->path, f->path_len, &m);
        else
            hit = pol->https_url == VERDICT_HTTPS_URL_BLOCK_NAME &&
                  ruleset_match_url_host(rs, f->name, f->name_len, &m);
        if (hit) {
            d->verdict = VERDICT_BLOCK;
            d->method = METHOD_URL;
            d->entry = m.entry;
            d->action = block_action(pol, f);
            return;
        }
        if (!f->name_is_ip) {
            domhash_query_init(hq, f->name, f->name_len);
            if (ruleset_match_domain_query(rs, hq, &m)) {
                d->verdict = VERDICT_BLOCK;
                d->method = METHOD_DOMAIN;
                d->entry = m.entry;
                d->action = block_action(pol, f);
                return;
            }
        }
    }
    bool named = f->name && f->name_len > 0 && !f->name_is_ip && !f->name_hidden;
    /* behind a NAT64 the IPv4 server is seen as PREFIX::a.b.c.d: judged as a.b.c.d too */
    uint8_t v4[16] = { 0 };
    bool mapped = f->dst && f->ipver == 6 && nat64_embedded(&pol->nat64, f->dst, v4);
    if (f->dst && (ruleset_match_ip(rs, f->ipver, f->dst, &m) ||
                   (mapped && ruleset_match_ip(rs, 4, v4, &m)))) {
        d->verdict = VERDICT_BLOCK;
        d->method = named ? METHOD_IP : METHOD_IP_FALLBACK;
        d->entry = m.entry;
    } else if (f->dst) {
        const struct fbaddr *fb = ruleset_fallback(rs);
        const struct fbaddr_rec *r = fbaddr_lookup(fb, f->ipver, f->dst);
        if (!r && mapped)
            r = fbaddr_lookup(fb, 4, v4);
        if (r && (r->act == FBADDR_BLOCK || (r->act == FBADDR_NAMELESS && !named))) {
            d->verdict = VERDICT_BLOCK;
            d->method = named ? METHOD_IP : METHOD_IP_FALLBACK;
            d->entry = r->entry;
        } else if (r) {
            d->held_entry = r->entry; /* shared: the policy holds the block back */
        }
    }
    if (d->verdict == VERDICT_BLOCK)
        d->action = block_action(pol, f);
}

/* The tariff side: the client's subscriber sub (NULL: not known; n bytes) and its map entry's
 * word ref,
 * its profile and parental settings. Inside the caller's read section. */
static void tariff_decide(const struct verdict_policy *pol, const struct verdict_facts *f,
                          const char *sub, size_t n, uint32_t *ref, const struct domhash_query *hq,
                          struct verdict_decision *d)
{
    if (sub) {
        if (n >= sizeof(d->sub))
            n = sizeof(d->sub) - 1;
        memcpy(d->sub, sub, n);
        d->sub[n] = '\0';
    }
    bool named = f->name && f->name_len > 0 && !f->name_is_ip && !f->name_hidden;
    struct tariff_req r = {
        .sub = d->sub,
        .sub_len = n,
        .name = named ? f->name : NULL,
        .name_len = named ? f->name_len : 0,
        .path = f->path_visible ? f->path : NULL,
        .path_len = f->path_visible ? f->path_len : 0,
        .udp = f->udp,
        .now = f->now,
        .hq = named && hq->q == f->name ? hq : NULL, /* the regulator's hashes of the name */
    };
    struct tariff_verdict v;
    tariff_judge_locked(f->tariff->tariff, &r, ref, &v); /* (in verdict_decide's read section) */
    memcpy(d->profile, v.profile, sizeof(d->profile));
    if (v.cause == PCAUSE_NONE)
        return;
    static const enum verdict_cause map[] = {
        [PCAUSE_PROFILE] = CAUSE_PROFILE,
        [PCAUSE_PARENTAL] = CAUSE_PARENTAL,
        [PCAUSE_SCHEDULE] = CAUSE_SCHEDULE,
        [PCAUSE_ALLOWLIST] = CAUSE_ALLOWLIST,
    };
    d->verdict = VERDICT_BLOCK;
    d->method = METHOD_TARIFF;
    d->cause = map[v.cause];
    memcpy(d->category, v.category, sizeof(d->category));
    d->action = block_action(pol, f);
}

void verdict_decide(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct verdict_facts *f, struct verdict_decision *d)
{
    d->cause = CAUSE_NONE;
    d->profile[0] = '\0';
    d->category[0] = '\0';
    d->sub[0] = '\0';
    const struct verdict_tariff *t = f->tariff;
    struct domhash_query hq;
    hq.q = NULL;
    if (!t || !t->tariff || !f->src) {
        regulator_decide(rs, pol, f, d, &hq);
        if (d->verdict == VERDICT_BLOCK)
            d->cause = CAUSE_REGULATOR;
        return;
    }
    /* One read section for both sides: who the client is, and the start of its tariff
     * record's load (the map entry's word keeps the record, looked up once per tariff
     * snapshot), are done first so that the regulator's lookups hide their latency */
    rsref_read_lock();
    const char *sub = NULL;
    uint32_t *ref = NULL;
    size_t sl = 0;
    if (t->subs)
        sub = submap_lookup_ref(t->subs, f->ipver, f->src, (uint64_t)f->now * 1000, &ref, &sl);
    tariff_prefetch(t->tariff, sub, sl, ref);
    regulator_decide(rs, pol, f, d, &hq);
    if (d->verdict == VERDICT_BLOCK)
        d->cause = CAUSE_REGULATOR; /* an order always applies, whatever the profile */
    else
        tariff_decide(pol, f, sub, sl, ref, &hq, d);
    rsref_read_unlock();
}

const char *verdict_name(enum verdict v)
{
    return v == VERDICT_BLOCK ? "block" : "pass";
}

bool verdict_block_by_policy(struct verdict_decision *d, enum verdict_method m,
                             enum verdict_action a)
{
    if (d->verdict == VERDICT_BLOCK || d->cause == CAUSE_ALLOWLIST)
        return false;
    d->verdict = VERDICT_BLOCK;
    d->method = m;
    d->action = a;
    d->entry = RULESET_NO_ENTRY;
    d->cause = CAUSE_REGULATOR;
    return true;
}

const char *verdict_method_name(enum verdict_method m)
{
    switch (m) {
    case METHOD_URL: return "url";
    case METHOD_DOMAIN: return "domain";
    case METHOD_IP: return "ip";
    case METHOD_IP_FALLBACK: return "ip-fallback";
    case METHOD_TARIFF: return "tariff";
    case METHOD_TRUNCATED: return "truncated";
    case METHOD_SYN_UNSEEN: return "syn-unseen";
    case METHOD_WATCH_LIMIT: return "watch-limit";
    case METHOD_CLIENT_LIMIT: return "client-limit";
    case METHOD_NO_ROOM: return "no-room";
    case METHOD_INCOMPLETE: return "incomplete";
    case METHOD_UNSEEN: return "unseen";
    case METHOD_NONE: break;
    }
    return NULL;
}

const char *verdict_cause_name(enum verdict_cause c)
{
    switch (c) {
    case CAUSE_REGULATOR: return "regulator";
    case CAUSE_PROFILE: return "profile";
    case CAUSE_PARENTAL: return "parental";
    case CAUSE_SCHEDULE: return "schedule";
    case CAUSE_ALLOWLIST: return "allowlist";
    case CAUSE_NONE: break;
    }
    return NULL;
}

const char *verdict_app_name(enum verdict_app a)
{
    switch (a) {
    case APP_TLS: return "tls";
    case APP_HTTP: return "http";
    case APP_QUIC: return "quic";
    case APP_H2C: return "h2c";
    case APP_UNKNOWN: break;
    }
    return "unknown";
}

const char *verdict_action_name(enum verdict_action a)
{
    switch (a) {
    case ACTION_RESET: return "reset";
    case ACTION_REDIRECT: return "redirect";
    case ACTION_PAGE_451: return "451";
    case ACTION_DROP: return "drop";
    case ACTION_NONE: break;
    }
    return NULL;
}

bool verdict_ip_entry(const struct ruleset *rs, const struct verdict_policy *pol, int ipver,
                      const uint8_t *dst, uint32_t *entry)
{
    struct rule_match m;
    uint8_t v4[16] = { 0 };
    if (!rs || !dst)
        return false;
    bool hit = ruleset_match_ip(rs, ipver, dst, &m) ||
               (ipver == 6 && nat64_embedded(pol ? &pol->nat64 : NULL, dst, v4) &&
                ruleset_match_ip(rs, 4, v4, &m));
    if (hit && entry)
        *entry = m.entry;
    return hit;
}

bool verdict_addr_listed(const struct ruleset *rs, const struct verdict_policy *pol, int ipver,
                         const uint8_t *dst)
{
    struct rule_match m;
    if (!rs || !dst)
        return false;
    if (ruleset_match_ip(rs, ipver, dst, &m) ||
        fbaddr_lookup(ruleset_fallback(rs), ipver, dst) != NULL)
        return true;
    uint8_t v4[16] = { 0 };
    return ipver == 6 && nat64_embedded(pol ? &pol->nat64 : NULL, dst, v4) &&
           (ruleset_match_ip(rs, 4, v4, &m) || fbaddr_lookup(ruleset_fallback(rs), 4, v4) != NULL);
}
