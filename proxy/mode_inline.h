/* mode_inline.h - inline mode: the transparent proxy (proxy/inline.h) driven by the daemon.
 *
 *   nftables TPROXY :inline.tproxy_port / REDIRECT :inline.redirect_port
 *        └──► worker i: SO_REUSEPORT listeners + epoll loop (inline_run_worker)
 *                 first bytes ─► inspect_* (as the engine) ─► relay (splice) | RST / alert / 302 / 451
 *
 * Config keys: inline.* (ports, listen_address, first_bytes_timeout, first_bytes_max,
 * max_connections, connect_timeout, https_block, http_block, quic), notice.* for the answer to
 * blocked HTTP requests, https_url. Reloadable: inline.https_block, inline.http_block,
 * https_url, notice.*; the rest needs a restart. inline.quic is carried out by the nftables
 * ruleset (deploy/nftables-tproxy.nft drops UDP 443); the proxy does not see UDP.
 * Block decisions are logged through log_block() (module "inline"); counters inline.* are
 * registered per worker (see inline_stat_names()). */
#ifndef QG_MODE_INLINE_H
#define QG_MODE_INLINE_H

#include "mode.h"

extern const struct mode_ops mode_inline_ops;

#endif
