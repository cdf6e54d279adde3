/* mode_inline.c - inline mode: the daemon's ops table over proxy/inline.h (see mode_inline.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "proxy/daemon/settings.h"
#include "proxy/packet/decode.h"
#include "proxy/enforce/inline.h"
#include "common/log.h"
#include "proxy/daemon/mode.h"
#include "proxy/daemon/mode_inline.h"
#include "proxy/daemon/decisions.h"
#include "proxy/daemon/tarcount.h"
#include "proxy/daemon/hits.h"
#include "proxy/daemon/fbseen.h"
#include "proxy/enforce/feedrules.h"
#include "proxy/enforce/notice.h"

struct inline_mode {
    struct daemon_ctx *d;
    struct inline_proxy *p;
    /* the kernel's diversions to the proxy's ports (feedrules.h), read at start and by worker 0
     * every inline.rules_check_interval */
    uint16_t tproxy_port, redirect_port;
    uint64_t rules_interval_ns, rules_next_ns;
    uint64_t rules_said;           /* what the last read found (its fingerprint) */
    _Atomic uint64_t rules_ctr[1]; /* inline.rules_unfed: 1 while no rule diverts */
};

static const char *const rules_ctr_names[] = { "inline.rules_unfed" };

/* Reads the kernel's diversions and logs a change of finding: at start a missing diversion is
 * a warning (the rules may be on their way), later an error (nothing is judged); once a rule
 * diverts again, that it does. Sets the gauge inline.rules_unfed. */
static void rules_watch(struct inline_mode *m, bool start)
{
    char msg[1536];
    unsigned diverting = 0;
    int v = feedrules_check_divert(m->tproxy_port, m->redirect_port, msg, sizeof(msg), &diverting);
    if (v >= 0)
        atomic_store_explicit(&m->rules_ctr[0], v == FEEDRULES_OK ? 0 : 1, memory_order_relaxed);
    enum log_level level = v == FEEDRULES_OK ? LOG_LEVEL_INFO
                           : v > 0 && !start ? LOG_LEVEL_ERROR
                                             : LOG_LEVEL_WARN;
    uint64_t h = feedrules_fingerprint(v * 8 + (int)level, msg);
    if (h == m->rules_said || !m->d->log)
        return;
    m->rules_said = h;
    if (v == FEEDRULES_OK)
        log_write(m->d->log, level, "inline", "the kernel's rules divert connections to the proxy",
                  LOG_KV(LOG_U("rules", diverting), LOG_U("tproxy_port", m->tproxy_port),
                         LOG_U("redirect_port", m->redirect_port)));
    else
        log_write(m->d->log, level, "inline",
                  v < 0 ? "cannot read the kernel's diversion rules"
                        : "the kernel's diversion rules",
                  LOG_KV(LOG_S("problem", msg)));
}

static void on_event(void *ctx, const struct inline_event *ev)
{
    struct inline_mode *m = ctx;
    if (ev->ech)
        hits_note_ech(m->d->hits, ev->worker, ev->d.verdict == VERDICT_BLOCK);
    decisions_note_flow(m->d->decisions, ev->worker, ev->rs, &ev->d, ev->app, ev->name,
                        ev->name_len, ev->ipver, ev->server, ev->server_port);
    fbseen_note_flow(m->d->seen, ev->worker, ev->rs, ev->ipver, ev->server, ev->name, ev->name_len,
                     ev->ech);
    if (ev->d.verdict != VERDICT_BLOCK)
        return;
    tarcount_note_block(m->d->tarcount, ev->worker, &ev->d, m->d->tariff);
    if (ev->rs && ev->d.entry != RULESET_NO_ENTRY) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        hits_note(m->d->hits, ev->worker, ev->rs, ev->d.entry,
                  (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    }
    if (!m->d->log)
        return;
    char cli[64], srv[64], name[256] = "", url[512] = "";
    decode_fmt_endpoint(ev->client, ev->ipver, ev->client_port, cli, sizeof(cli));
    decode_fmt_endpoint(ev->server, ev->ipver, ev->server_port, srv, sizeof(srv));
    if (ev->name)
        snprintf(name, sizeof(name), "%.*s", (int)(ev->name_len < 255 ? ev->name_len : 255),
                 ev->name);
    if (ev->url)
        snprintf(url, sizeof(url), "%.*s", (int)(ev->url_len < 511 ? ev->url_len : 511), ev->url);
    char pn[SUB_ID_MAX + 1];
    pseudo_id(m->d->pseudo, ev->d.sub, pn, sizeof(pn));
    log_block(m->d->log, "inline", "block",
              LOG_KV(LOG_U("worker", ev->worker), LOG_S("client", cli), LOG_S("server", srv),
                     LOG_S("proto", "tcp"), LOG_S("app", verdict_app_name(ev->app)),
                     LOG_S("name", ev->name ? name : NULL), LOG_S("url", ev->url ? url : NULL),
                     LOG_U("req", ev->req), LOG_B("by_address", ev->by_address),
                     LOG_B("cut", ev->cut), LOG_S("method", verdict_method_name(ev->d.method)),
                     LOG_S("action", verdict_action_name(ev->d.action)),
                     LOG_S("order", ev->order && *ev->order ? ev->order : NULL),
                     LOG_S("cause", verdict_cause_name(ev->d.cause)),
                     LOG_S("profile", ev->d.profile[0] ? ev->d.profile : NULL),
                     LOG_S("category", ev->d.category[0] ? ev->d.category : NULL),
                     LOG_S("subscriber", pn[0] ? pn : NULL)));
}

void mode_inline_settings(const struct settings *cfg, struct inline_config *ic,
                          struct notice_config *nc)
{
    ic->first_bytes_max = (unsigned)cfg->inline_first_bytes_max;
    ic->first_bytes_timeout_ms = (unsigned)cfg->inline_first_bytes_timeout;
    ic->connect_timeout_ms = (unsigned)cfg->inline_connect_timeout;
    ic->idle_timeout_ms = (unsigned)cfg->inline_idle_timeout;
    ic->max_per_source = (unsigned)cfg->inline_max_per_source;
    ic->h2c_states = (unsigned)cfg->h2c_states;
    ic->client_prefix6 = (unsigned)cfg->client_prefix6;
    ic->incomplete = cfg->inline_incomplete_request == SETTINGS_INCOMPLETE_ADDRESS
                         ? INLINE_INCOMPLETE_ADDRESS
                         : INLINE_INCOMPLETE_RESET;
    memset(nc, 0, sizeof(*nc));
    nc->url = cfg->notice_url && *cfg->notice_url ? cfg->notice_url : NULL;
    nc->show_order = cfg->notice_show_order;
    nc->contact = cfg->notice_contact && *cfg->notice_contact ? cfg->notice_contact : NULL;
    nc->contact_url =
        cfg->notice_contact_url && *cfg->notice_contact_url ? cfg->notice_contact_url : NULL;
    ic->notice = nc;
    ic->tls_block =
        cfg->inline_https_block == SETTINGS_HTTPS_BLOCK_ALERT ? INLINE_TLS_ALERT : INLINE_TLS_RESET;
    ic->tls_alert = 112; /* unrecognized_name: clients report it plainly */
    ic->policy.https_url = cfg->https_url == SETTINGS_HTTPS_URL_IGNORE
                               ? VERDICT_HTTPS_URL_IGNORE
                               : VERDICT_HTTPS_URL_BLOCK_NAME;
    /* redirect needs a notice URL; without one (or with http_block = 451) the page itself */
    ic->policy.notice_url = cfg->inline_http_block == SETTINGS_HTTP_BLOCK_REDIRECT ? nc->url : NULL;
    ic->policy.nat64 = cfg->ip_nat64;
}

static int inline_open(const struct settings *cfg, struct daemon_ctx *d, void **state, char *err,
                       size_t errlen)
{
    *state = NULL;
    struct inline_mode *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "inline: out of memory");
        return -ENOMEM;
    }
    m->d = d;
    struct inline_config ic;
    struct notice_config nc;
    inline_config_default(&ic);
    ic.tproxy_port = (unsigned)cfg->inline_tproxy_port;
    ic.redirect_port = (unsigned)cfg->inline_redirect_port;
    const struct config_addr *la = &cfg->inline_listen_address;
    static const uint8_t zero[16];
    if (memcmp(la->addr, zero, la->family == AF_INET6 ? 16 : 4) == 0) {
        ic.listen_family = 0; /* 0.0.0.0 or ::: both families, wildcard */
    } else {
        ic.listen_family = la->family;
        memcpy(ic.listen_addr, la->addr, 16);
    }
    ic.workers = d->workers ? d->workers : 1;
    ic.max_connections = (unsigned)cfg->inline_max_connections;
    if (ic.max_connections < ic.workers)
        ic.max_connections = ic.workers;
    ic.on_event = on_event;
    ic.event_ctx = m;
    ic.tariff = d->tariff;
    mode_inline_settings(cfg, &ic, &nc);
    m->p = inline_new(&ic, d->rules, err, errlen);
    if (!m->p) {
        free(m);
        return -EINVAL;
    }
    for (unsigned i = 0; d->counters_register && i < inline_workers(m->p); i++) {
        if (d->counters_register(d, i, inline_stat_names(), inline_counters(m->p, i),
                                 INLINE_NSTATS) < 0) {
            snprintf(err, errlen, "inline: worker %u: cannot register counters", i);
            inline_free(m->p);
            free(m);
            return -ENOMEM;
        }
    }
    m->tproxy_port = (uint16_t)cfg->inline_tproxy_port;
    m->redirect_port = (uint16_t)cfg->inline_redirect_port;
    m->rules_interval_ns = cfg->inline_rules_check_interval * 1000000u;
    if (d->counters_register && d->counters_register(d, 0, rules_ctr_names, m->rules_ctr, 1) < 0) {
        snprintf(err, errlen, "inline: cannot register counters");
        inline_free(m->p);
        free(m);
        return -ENOMEM;
    }
    if (m->rules_interval_ns)
        rules_watch(m, true);
    if (cfg->inline_quic == SETTINGS_QUIC_DROP_BLOCKED && d->log)
        log_write(d->log, LOG_LEVEL_WARN, "inline",
                  "inline.quic = drop-blocked is enforced as drop-all by the nftables ruleset "
                  "(the proxy does not decrypt QUIC Initials yet)",
                  NULL, 0);
    *state = m;
    return 0;
}

static int inline_run(void *state, unsigned worker, const volatile sig_atomic_t *stop)
{
    struct inline_mode *m = state;
    /* inline_run_worker()'s loop with a heartbeat per turn (at most 100 ms apart) */
    int rc = 0;
    rsref_thread_register();
    while (!*stop) {
        daemon_beat(m->d, worker);
        if (worker == 0 && m->rules_interval_ns) {
            uint64_t now = clock_mono_ns();
            if (!m->rules_next_ns)
                m->rules_next_ns = now + m->rules_interval_ns; /* (read at start) */
            else if (now >= m->rules_next_ns) {
                m->rules_next_ns = now + m->rules_interval_ns;
                rules_watch(m, false);
            }
        }
        int n = inline_run_once(m->p, worker, 100);
        if (n < 0) {
            rc = n;
            break;
        }
    }
    rsref_thread_unregister();
    return rc;
}

static int inline_reload_cfg(void *state, const struct settings *cfg)
{
    struct inline_mode *m = state;
    struct inline_config ic;
    struct notice_config nc;
    char err[256];
    inline_config_default(&ic);
    mode_inline_settings(cfg, &ic, &nc);
    int rc = inline_reload(m->p, &ic, err, sizeof(err));
    if (rc < 0 && m->d->log)
        log_write(m->d->log, LOG_LEVEL_ERROR, "inline", "reload refused",
                  LOG_KV(LOG_S("error", err)));
    return rc;
}

static void inline_close(void *state)
{
    struct inline_mode *m = state;
    if (!m)
        return;
    inline_free(m->p);
    free(m);
}

const struct mode_ops mode_inline_ops = {
    .name = "inline",
    .open = inline_open,
    .run_worker = inline_run,
    .reload = inline_reload_cfg,
    .close = inline_close,
};
