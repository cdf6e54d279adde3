/* mode_inline.h - inline mode: the transparent proxy (proxy/inline.h) driven by the daemon.
 *
 *   nftables TPROXY :inline.tproxy_port / REDIRECT :inline.redirect_port
 *        └──► worker i: SO_REUSEPORT listeners + epoll loop (inline_run_worker)
 *                 first bytes ─► inspect_* (as the engine) ─► relay (splice) | RST / alert / 302 / 451
 *
 * Config keys: inline.* (ports, listen_address, first_bytes_timeout, incomplete_request,
 * first_bytes_max, max_connections, max_per_source, connect_timeout, idle_timeout, https_block,
 * http_block, quic), notice.* for the answer to blocked HTTP requests, https_url. Reloadable:
 * every inline.* key the table marks so (first_bytes_max only downwards), https_url, notice.*;
 * the ports, listen address and max_connections need a restart. inline.quic is carried out by the nftables
 * ruleset (deploy/nftables-tproxy.nft drops UDP 443); the proxy does not see UDP.
 * Block decisions are logged through log_block() (module "inline"); counters inline.* are
 * registered per worker (see inline_stat_names()). */
#ifndef QG_MODE_INLINE_H
#define QG_MODE_INLINE_H

#include "proxy/daemon/settings.h"
#include "proxy/enforce/inline.h"
#include "proxy/daemon/mode.h"
#include "proxy/enforce/notice.h"

extern const struct mode_ops mode_inline_ops;

/* The reloadable settings of cfg (see inline_reload) into ic and nc; ic->notice points to nc.
 * Strings are borrowed from cfg (inline_new and inline_reload copy them). */
void mode_inline_settings(const struct settings *cfg, struct inline_config *ic,
                          struct notice_config *nc);

#endif
