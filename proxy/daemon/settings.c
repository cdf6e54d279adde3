/* settings.c - the daemon's configuration table and its cross-key rules (see settings.h).
 *
 * One row per key: name, type, min, max, default (as written in the file), enum values,
 * destination, restart-or-reload, one line of documentation. The parser, the printer and the
 * documentation generator are common/config.c's. */
#include "proxy/daemon/settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/log.h"
#include "proxy/capture/capture_live.h"
#include "proxy/daemon/radius.h"
#include "proxy/enforce/ipdrop.h"
#include "rules/orders/sign.h"
#include "rules/report/deadline.h"
#include "rules/resolve/fallback.h"
#include "rules/store/store.h"
#include "rules/subs/profile.h"

#define OFF(f) offsetof(struct settings, f)
#define KI     (INT64_C(1) << 10)
#define MI     (INT64_C(1) << 20)
#define GI     (INT64_C(1) << 30)
#define SEC    INT64_C(1000)
#define MIN    INT64_C(60000)

_Static_assert((int)SETTINGS_LOG_ERROR == (int)LOG_LEVEL_ERROR &&
                   (int)SETTINGS_LOG_WARN == (int)LOG_LEVEL_WARN &&
                   (int)SETTINGS_LOG_INFO == (int)LOG_LEVEL_INFO &&
                   (int)SETTINGS_LOG_DEBUG == (int)LOG_LEVEL_DEBUG,
               "log.level values are passed to log_new() as enum log_level");
_Static_assert((int)SETTINGS_SIG_ACCEPT == (int)SIGN_ACCEPT_ANY &&
                   (int)SETTINGS_SIG_REFUSE_INVALID == (int)SIGN_REFUSE_INVALID &&
                   (int)SETTINGS_SIG_REQUIRE_VALID == (int)SIGN_REQUIRE_VALID,
               "orders.signature values are passed as enum sign_policy");

_Static_assert((int)SETTINGS_FALLBACK_BLOCK == (int)FALLBACK_SHARED_BLOCK &&
                   (int)SETTINGS_FALLBACK_NAMELESS == (int)FALLBACK_SHARED_NAMELESS &&
                   (int)SETTINGS_FALLBACK_REPORT == (int)FALLBACK_SHARED_REPORT,
               "fallback.shared_policy values are passed as enum fallback_policy");

static const char *const v_mode[] = { "tap", "inline", "queue", NULL };
static const char *const v_queue_fail[] = { "open", "closed", NULL };
static const char *const v_queue_ports[] = { "all", "web", NULL };
static const char *const v_queue_rules_check[] = { "refuse", "warn", "off", NULL };
static const char *const v_queue_incomplete[] = { "address", "drop", "watch", NULL };
static const char *const v_queue_no_room[] = { "drop", "address", NULL };
static const char *const v_queue_watch_limit[] = { "block", "address", NULL };
static const char *const v_queue_unseen_syn[] = { "judge", "drop", NULL };
static const char *const v_ip_kernel_drop[] = { "auto", "on", "off", NULL };
static const char *const v_https_url[] = { "name", "ignore", NULL };
static const char *const v_https_block[] = { "rst", "alert", NULL };
static const char *const v_http_block[] = { "redirect", "451", NULL };
static const char *const v_quic[] = { "drop-blocked", "drop-all", "pass", NULL };
static const char *const v_incomplete[] = { "reset", "address", NULL };
static const char *const v_checksums[] = { "verify", "ignore", "auto", NULL };
static const char *const v_signature[] = { "accept", "refuse-invalid", "require-valid", NULL };
static const char *const v_log_level[] = { "error", "warn", "info", "debug", NULL };
static const char *const v_radius_id[] = { "msisdn", "imsi", "user-name", NULL };
static const char *const v_fb_resolve[] = { "none", "marked", "all", NULL };
static const char *const v_fb_policy[] = { "block", "nameless", "report", NULL };

/* clang-format off */
static const struct config_key keys[] = {
    { "mode", CONFIG_ENUM, 0, 0, NULL, v_mode, OFF(mode), true,
      "tap: read a mirror port and inject resets/redirects; inline: transparent proxy (TPROXY); "
      "queue: judge packets held in NFQUEUE on a router or bridge in the path" },
    { "workers", CONFIG_INT, 0, 64, "0", NULL, OFF(workers), true,
      "packet worker threads; 0 = one per online CPU (at most 64)" },
    { "user", CONFIG_STRING, 0, 0, "qorgau", NULL, OFF(user), true,
      "user to switch to after opening sockets as root" },
    { "group", CONFIG_STRING, 0, 0, "", NULL, OFF(group), true,
      "group to switch to; empty = the user's primary group" },
    { "rules", CONFIG_LIST, 0, 0, "", NULL, OFF(rules), false,
      "list or order file to enforce; repeat the key for more; shell globs (`orders/*.json`) allowed" },
    { "https_url", CONFIG_ENUM, 0, 0, "name", v_https_url, OFF(https_url), false,
      "an https:// URL entry blocks its whole host name (name) or is not enforced on TLS (ignore)" },
    { "flows.max", CONFIG_INT, 1024, 100000000, "1048576", NULL, OFF(flows_max), true,
      "flow table capacity per worker" },
    { "h2c.states", CONFIG_INT, 1, 65536, "256", NULL, OFF(h2c_states), true,
      "h2c (cleartext HTTP/2) connections per worker whose every stream is judged (an HPACK "
      "decoder each, 24 KiB); past it a new h2c connection takes the state used longest ago, "
      "and the connection that held it is reset at its next stream (method no-room): its later "
      "streams could name any host" },
    { "client_prefix6", CONFIG_INT, 32, 128, "64", NULL, OFF(client_prefix6), true,
      "IPv6 prefix length that counts as one client for the per-client shares "
      "(tap.client_buffers, queue.client_buffers, inline.max_per_source): a subscriber is given "
      "a whole prefix and may use any address in it, so counted by address it would be as many "
      "clients as it likes. 64: a mobile PDN connection's or a home LAN's /64; 56 or 48 where "
      "subscribers are delegated one; 128: every address on its own. IPv4 counts by address" },
    { "reasm.bytes", CONFIG_SIZE, 512, 1 * MI, "32K", NULL, OFF(reasm_bytes), true,
      "client bytes reassembled per flow before a decision (a request head nginx accepts); a "
      "ClientHello whose name is not within them is blocked by policy (method incomplete)" },
    { "reasm.buffers", CONFIG_INT, 16, 16777216, "8192", NULL, OFF(reasm_buffers), true,
      "reassembly buffers in the pool per worker" },
    { "checksums", CONFIG_ENUM, 0, 0, "verify", v_checksums, OFF(checksums), true,
      "TCP/UDP checksums: verify (a bad one is a fake, T5); ignore; auto (per source: a host whose first packets are all bad is not verified)" },
    { "quic.max_datagrams", CONFIG_INT, 2, 1024, "16", NULL, OFF(quic_max_datagrams), true,
      "client datagrams of a UDP flow read for its Initials; past it without a ClientHello the "
      "flow is judged on its address (counted)" },
    { "quic.max_bytes", CONFIG_SIZE, 2 * KI, 1 * MI, "32K", NULL, OFF(quic_max_bytes), true,
      "client payload bytes of a UDP flow read for its Initials (same rule)" },
    { "tap.interface", CONFIG_STRING, 0, 0, "", NULL, OFF(tap_interface), true,
      "interface receiving the mirrored traffic (required in tap mode)" },
    { "tap.inject_interface", CONFIG_STRING, 0, 0, "", NULL, OFF(tap_inject_interface), true,
      "interface resets and redirects are sent from; empty = tap.interface" },
    { "tap.bpf", CONFIG_STRING, 0, 0, CAPTURE_LIVE_DEFAULT_FILTER, NULL, OFF(tap_bpf), true,
      "capture filter (pcap-filter syntax). The default reads TCP on every port, UDP 443, and UDP "
      "on other ports whose first payload byte has a QUIC long header's two top bits (what may be "
      "an Initial; DNS, calls and VPNs mostly do not), so that a listed name a site serves on "
      "another port (TLS on 8443, QUIC on UDP 8443) is judged too; \"tcp port 80 or tcp port 443 "
      "or udp port 443\" reads less on a mirror with much other traffic, and lets such a site by" },
    { "tap.ring_size", CONFIG_SIZE, 1 * MI, 4 * GI, "64M", NULL, OFF(tap_ring_size), true,
      "kernel capture ring per worker" },
    { "tap.snaplen", CONFIG_INT, 0, 262144, "0", NULL, OFF(tap_snaplen), true,
      "bytes captured of each frame (ring slots of that size); 0 = the interface's MTU + 22, "
      "or 65535 when the interface merges segments (GRO/LRO on) or its offloads cannot be read. "
      "A larger frame is cut: counted in tap.truncated, and a flow whose request it carried is "
      "judged on its address, blocked when that passes" },
    { "queue.num", CONFIG_INT, 0, 65535, "0", NULL, OFF(queue_num), true,
      "first NFQUEUE number: worker i reads queue queue.num + i (the rule's --queue-balance "
      "range must be queue.num to queue.num + workers - 1)" },
    { "queue.maxlen", CONFIG_INT, 16, 1048576, "8192", NULL, OFF(queue_maxlen), true,
      "packets the kernel keeps waiting for a verdict per queue (held packets included)" },
    { "queue.fail", CONFIG_ENUM, 0, 0, "open", v_queue_fail, OFF(queue_fail), true,
      "a full queue (a stalled or slow worker): let packets through unjudged (open; logged when "
      "the queue nears full) or drop them (closed; counted); with no daemon bound the rule's "
      "--queue-bypass decides" },
    { "queue.ports", CONFIG_ENUM, 0, 0, "all", v_queue_ports, OFF(queue_ports), true,
      "what the rules `qorgau config rules` writes send to the queues: TCP on every port and "
      "UDP datagrams that may carry a QUIC Initial on every port (all: a listed name in a "
      "ClientHello, an HTTP request or a QUIC Initial is judged whatever the port a site serves "
      "it on), or only TCP 80/443 and UDP 443 (web: fewer crossings, but a site on port 8443 "
      "goes by unjudged). docs/queue.md \"Which ports\"" },
    { "queue.rules_check", CONFIG_ENUM, 0, 0, "refuse", v_queue_rules_check, OFF(queue_rules_check),
      true,
      "the kernel's NFQUEUE rules, read at start, at each reload (SIGHUP; logged only) and by run "
      "--check: a rule sending packets to "
      "queues no worker reads (outside queue.num .. queue.num + workers - 1; with its bypass "
      "flag they pass unjudged) stops the start (refuse) or is logged as an error (warn); idle "
      "workers or no rule at all are warnings; off: not read" },
    { "queue.rules_check_interval", CONFIG_DURATION, 0, 60 * MIN, "30s", NULL,
      OFF(queue_rules_check_interval), true,
      "how often the running daemon reads the kernel's NFQUEUE rules again (a firewall reload "
      "that flushed them or loaded another range): the gauges queue.rules_stray and "
      "queue.rules_unfed, a change of finding logged; 0: only at start and reload" },
    { "queue.hold_packets", CONFIG_INT, 1, 65535, "128", NULL, OFF(queue_hold_packets), true,
      "packets of one flow held until its first request can be judged; one more judges it on "
      "what arrived and its address" },
    { "queue.hold_flows", CONFIG_INT, 16, 1048576, "4096", NULL, OFF(queue_hold_flows), true,
      "flows with held packets (or watched) per worker; past it, queue.no_room applies" },
    { "queue.no_room", CONFIG_ENUM, 0, 0, "drop", v_queue_no_room, OFF(queue_no_room), true,
      "a client segment of an undecided flow that finds no room to wait (queue.hold_flows "
      "flows held, or no reassembly buffer free): dropped, so the client sends it again (drop), "
      "or the flow judged on what that segment shows and its address (address: a flood of "
      "held connections then lets requests cut across segments pass on unlisted addresses)" },
    { "queue.passed_names", CONFIG_INT, 0, 67108864, "262144", NULL, OFF(queue_passed_names), true,
      "passed TLS and QUIC connections whose names are kept, so that an order listing a name "
      "later cuts them: after every publication they are judged again and those now blocked "
      "get queue.mark_block and queue.mark_cut in conntrack (with ip.kernel_drop the kernel's "
      "table resets them both ways at their next packets; without it the rules drop them); a dump of "
      "conntrack every minute (every second while the table is full) forgets the ended ones. About "
      "310 bytes each, touched as used. Past it a connection keeps the decision it started with. "
      "0: off" },
    { "queue.passed_names_per_client", CONFIG_INT, 0, 67108864, "8192", NULL,
      OFF(queue_passed_names_per_client), true,
      "of queue.passed_names, the connections one client (an IPv4 address, an IPv6 prefix: "
      "client_prefix6) may have noted at once; past it that client's passes are not noted "
      "(counted: queue.passed_client_full), so one client keeping many connections alive cannot "
      "fill the table for everyone else. 0: no share. Behind a NAT the filter sees one address "
      "for many subscribers: raise it there" },
    { "queue.client_buffers", CONFIG_INT, 0, 16777216, "1024", NULL, OFF(queue_client_buffers),
      true,
      "reassembly buffers one client (an IPv4 address, an IPv6 prefix: client_prefix6) may "
      "hold at once per worker (its connections "
      "whose first request is not yet judged or awaits the server's answer); past it, its new "
      "connections wait as in queue.no_room = drop, and other clients keep the rest of "
      "reasm.buffers. 0: no bound. Behind a NAT the filter sees one address for many "
      "subscribers: raise it there" },
    { "queue.hold_timeout", CONFIG_DURATION, 10, 1 * MIN, "2s", NULL, OFF(queue_hold_timeout), true,
      "longest a flow's first packet is held before the flow is judged on what arrived" },
    { "queue.incomplete", CONFIG_ENUM, 0, 0, "watch", v_queue_incomplete, OFF(queue_incomplete),
      true, "a first request not complete within the hold bounds (or stalled: 200 ms without a "
             "new segment once 4 are held): released "
             "and watched until it completes, its packets judged as they pass (watch), judged on "
             "its address and released when that passes (address), or refused (drop: a block by "
             "policy, method incomplete, resets to both ends)" },
    { "queue.watch_packets", CONFIG_INT, 16, 1000000, "400", NULL, OFF(queue_watch_packets),
      true, "queue.incomplete = watch: client packets of a released first request watched; "
            "past them queue.watch_limit applies (logged). queue.hold_packets + queue.watch_packets "
            "must stay below queue.settle_packets (the rules' bound on the server's packets, "
            "about one per watched segment at most), past which the kernel stops queueing the "
            "flow" },
    { "queue.watch_timeout", CONFIG_DURATION, 100, 10 * MIN, "10s", NULL,
      OFF(queue_watch_timeout), true,
      "queue.incomplete = watch: longest a released first request is watched before "
      "queue.watch_limit applies (logged)" },
    { "queue.watch_limit", CONFIG_ENUM, 0, 0, "block", v_queue_watch_limit, OFF(queue_watch_limit),
      true, "a watched first request that shows no name within queue.watch_packets / "
            "queue.watch_timeout: its connection is refused (block: a block by policy, method "
            "watch-limit, resets to both ends, dropped from then on; no client does this, a "
            "filter evasion does), or it is judged on what arrived and its address (address)" },
    { "queue.unseen_syn", CONFIG_ENUM, 0, 0, "judge", v_queue_unseen_syn, OFF(queue_unseen_syn),
      true, "a TCP flow first seen after its SYN (which passed unjudged: a full queue failing "
            "open, a restart under the rules' bypass, conntrack flushed): anchored at its first "
            "client data and judged like a new flow, blocked when its stream cannot be judged by "
            "name (judge), or blocked at its first client data (drop); counted in "
            "queue.syn_unseen, logged" },
    { "queue.mark_pass", CONFIG_INT, 1, 2147483647, "65536", NULL, OFF(queue_mark_pass), true,
      "packet mark of a flow's packets once it passed (the rules save it as the connection mark "
      "and bypass the queue; 65536 = 0x10000)" },
    { "queue.mark_block", CONFIG_INT, 1, 2147483647, "131072", NULL, OFF(queue_mark_block), true,
      "packet mark of a blocked flow's last packet (saved as the connection mark; the rules drop "
      "the rest; 131072 = 0x20000). Disjoint from queue.mark_pass: both together (0x30000) "
      "mark a kept-alive HTTP connection whose first request passed: its server's packets "
      "bypass the queue, its client's are still judged" },
    { "queue.mark_cut", CONFIG_INT, 1, 2147483647, "262144", NULL, OFF(queue_mark_cut), true,
      "connection mark, with queue.mark_block, of a connection passed before an order listing "
      "its name (queue.passed_names): with ip.kernel_drop, the kernel's table answers its next "
      "TCP packets with resets, both ways, instead of the rules' silent drop (262144 = 0x40000). "
      "Disjoint from queue.mark_pass and queue.mark_block" },
    { "queue.settle_packets", CONFIG_INT, 2, 100000000, "1024", NULL, OFF(queue_settle_packets),
      true,
      "packets a queued connection's server may send before the rules accept the connection "
      "unjudged (their connbytes bound, which counts the server's side only: a client cannot run "
      "it up). Written into the rules by `qorgau config rules`; must be above queue.hold_packets + "
      "queue.watch_packets, which a flow may take before it is decided" },
    { "queue.source_new_rate", CONFIG_INT, 0, 1000000, "1000", NULL, OFF(queue_source_new_rate),
      true,
      "new connections a second one source (an IPv4 address, an IPv6 client_prefix6) may open "
      "past queue.source_new_burst before the rules drop its excess in front of the queues "
      "(docs/queue.md \"One source's share of the queues\"); written into the rules by `qorgau "
      "config rules`. 0: no limit. Raise it for addresses behind a NAT" },
    { "queue.source_new_burst", CONFIG_INT, 1, 1000000, "2000", NULL, OFF(queue_source_new_burst),
      true, "the burst of queue.source_new_rate" },
    { "queue.source_queued_rate", CONFIG_INT, 0, 1000000, "10000", NULL,
      OFF(queue_source_queued_rate), true,
      "packets a second one source may send to the queues (a kept-alive HTTP connection's "
      "client side, Initial-shaped datagrams on a passed QUIC connection) past "
      "queue.source_queued_burst before the rules drop its excess; written into the rules by "
      "`qorgau config rules`. 0: no limit" },
    { "queue.source_queued_burst", CONFIG_INT, 1, 1000000, "20000", NULL,
      OFF(queue_source_queued_burst), true, "the burst of queue.source_queued_rate" },
    { "queue.source_table", CONFIG_INT, 1024, 67108864, "1048576", NULL, OFF(queue_source_table),
      true,
      "sources the rules' per-source limits keep per family and table; past it iptables' "
      "hashlimit drops new sources' packets and an nftables meter lets them through unlimited: "
      "keep it above the subscribers active within queue.source_expire" },
    { "queue.source_expire", CONFIG_DURATION, 1000, 60 * MIN, "10s", NULL,
      OFF(queue_source_expire), true,
      "how long the rules' per-source limits keep a source after its last counted packet" },
    { "tap.passed_names", CONFIG_INT, 0, 65535, "65535", NULL, OFF(tap_passed_names), true,
      "passed TLS connections whose names are kept per worker, so that an order listing a name "
      "later cuts them: each new rule set judges them again, and one now blocked is reset at "
      "its next packet (connections to an address listed later are cut without it). About 280 "
      "bytes each, touched as used. Past it a connection keeps the decision it started with. "
      "0: off" },
    { "tap.passed_names_per_client", CONFIG_INT, 0, 65535, "4096", NULL,
      OFF(tap_passed_names_per_client), true,
      "of tap.passed_names (per worker), the names one client (an IPv4 address, an IPv6 prefix: "
      "client_prefix6) may have kept at once; past it that client's passes are not kept "
      "(counted: engine.passed_names_client_full), so one client keeping many connections alive "
      "cannot fill the table for everyone else. 0: no share. Behind a NAT the filter sees one "
      "address for many subscribers: raise it there" },
    { "tap.client_buffers", CONFIG_INT, 0, 16777216, "1024", NULL, OFF(tap_client_buffers), true,
      "reassembly buffers one client (an IPv4 address, an IPv6 prefix: client_prefix6) may "
      "hold at once per worker (its connections "
      "whose first request is not yet judged); past it, a request of that client cut across "
      "segments is blocked by policy (method client-limit: a flood of half-sent requests must "
      "not open the filter for its sender), one whole in a segment is judged on its name, and "
      "other clients keep the rest of reasm.buffers. 0: no bound (the pool's end judges such "
      "requests on their address). Behind a NAT the tap sees one address for many subscribers: "
      "raise it there" },
    { "tap.batch_ms", CONFIG_INT, 0, 100, "0", NULL, OFF(tap_batch_ms), true,
      "0 = each frame handed over at once (lowest latency; ring slots of tap.snaplen); N = frames "
      "packed in blocks handed over at least every N ms (far more frames per ring, fewer "
      "wake-ups, up to N ms later resets)" },
    { "inline.tproxy_port", CONFIG_INT, 0, 65535, "15001", NULL, OFF(inline_tproxy_port), true,
      "port the TPROXY rule delivers intercepted TCP connections to; 0 = no TPROXY listener" },
    { "inline.redirect_port", CONFIG_INT, 0, 65535, "15002", NULL, OFF(inline_redirect_port), true,
      "port for connections diverted with REDIRECT (original destination from SO_ORIGINAL_DST); 0 = none" },
    { "inline.rules_check_interval", CONFIG_DURATION, 0, 60 * MIN, "30s", NULL,
      OFF(inline_rules_check_interval), true,
      "how often inline mode reads the kernel's rules for a diversion (TPROXY to "
      "inline.tproxy_port, REDIRECT to inline.redirect_port; at start, then worker 0): none "
      "means no connection reaches the proxy, judged by nothing (the gauge inline.rules_unfed, "
      "a warning at start, an error later); 0: never read" },
    { "inline.listen_address", CONFIG_IP, 0, 0, "0.0.0.0", NULL, OFF(inline_listen_address), true,
      "address the inline listeners bind to" },
    { "inline.first_bytes_timeout", CONFIG_DURATION, 100, 1 * MIN, "10s", NULL,
      OFF(inline_first_bytes_timeout), false,
      "how long a client may stay silent before its first request is complete; every byte restarts "
      "it (silent with nothing sent: judged on the address and connected, still judged after)" },
    { "inline.incomplete_request", CONFIG_ENUM, 0, 0, "reset", v_incomplete,
      OFF(inline_incomplete_request), false,
      "a first request left half-sent past inline.first_bytes_timeout: reset the connection (reset) "
      "or judge it on its address and relay it unjudged (address, fail-open)" },
    { "inline.first_bytes_max", CONFIG_SIZE, 512, 1 * MI, "32K", NULL, OFF(inline_first_bytes_max),
      false, "client bytes read before a decision; more without a name visible: a ClientHello is "
             "reset by policy (method incomplete), an HTTP head is judged by its address and refused; "
             "a reload may lower it, raising it above the start value needs a restart" },
    { "inline.idle_timeout", CONFIG_DURATION, 1000, 24 * 60 * MIN, "10m", NULL, OFF(inline_idle_timeout),
      false, "close a relayed connection with no traffic either way for this long (TCP keepalive "
             "also finds vanished peers)" },
    { "inline.max_per_source", CONFIG_INT, 0, 10000000, "512", NULL, OFF(inline_max_per_source), false,
      "connections at once from one client (an IPv4 address, an IPv6 prefix: client_prefix6; "
      "the excess is reset and counted); 0 = no limit" },
    { "inline.max_connections", CONFIG_INT, 16, 10000000, "100000", NULL,
      OFF(inline_max_connections), true, "proxied connections at once; the excess is refused and counted" },
    { "inline.connect_timeout", CONFIG_DURATION, 100, 1 * MIN, "5s", NULL, OFF(inline_connect_timeout),
      false, "timeout of the upstream connect to the original destination" },
    { "inline.https_block", CONFIG_ENUM, 0, 0, "rst", v_https_block, OFF(inline_https_block), false,
      "how a blocked TLS connection ends: TCP reset (rst) or a TLS alert (alert)" },
    { "inline.http_block", CONFIG_ENUM, 0, 0, "redirect", v_http_block, OFF(inline_http_block), false,
      "blocked HTTP request: 302 to notice.url (redirect) or a 451 page (451)" },
    { "inline.quic", CONFIG_ENUM, 0, 0, "drop-all", v_quic, OFF(inline_quic), false,
      "QUIC (UDP 443): drop all (browsers fall back to TCP, where the name is checked), drop only "
      "QUIC to blocked names (drop-blocked: queue mode; inline mode enforces it as drop-all), or pass "
      "(queue mode reads this key too)" },
    { "ip.kernel_drop", CONFIG_ENUM, 0, 0, "auto", v_ip_kernel_drop, OFF(ip_kernel_drop), true,
      "IP entries on every port: the kernel drops forwarded traffic to the rule set's IP entries "
      "that Qorgau does not judge itself (all but TCP 80/443, and UDP 443 in queue mode), through "
      "an nftables table it keeps in step with every publication (on; needs nf_tables and "
      "CAP_NET_ADMIN), or only the flows Qorgau judges are restricted (off). auto: on in inline "
      "and queue modes, off in tap mode (a tap forwards nothing)" },
    { "ip.kernel_table", CONFIG_STRING, 0, 0, "qorgau_ip", NULL, OFF(ip_kernel_table), true,
      "name of that nftables table (family inet); made at start, replacing one of that name, "
      "and removed at a clean stop" },
    { "ip.kernel_counts_interval", CONFIG_DURATION, 1000, 60 * MIN, "1m", NULL,
      OFF(ip_kernel_counts_interval), true,
      "how often the counters of that table's elements are read and what each IP entry dropped "
      "is added to this node's evidence for the execution reports (kernel_drops; one netlink "
      "dump of the sets, about 60 bytes per element)" },
    { "ip.nat64_prefixes", CONFIG_STRING, 0, 0, "", NULL, OFF(ip_nat64_prefixes), true,
      "the operator's NAT64 prefixes (/96, comma-separated, up to 8): an IPv6 server address "
      "under one of them - or under the well-known 64:ff9b::/96, always - is also judged as the "
      "IPv4 address it embeds (RFC 6052), and the kernel drop table holds each IPv4 entry under "
      "each prefix too; a filter on the IPv6 side of a NAT64 or 464XLAT otherwise never sees "
      "the IPv4 address an order lists" },
    { "notice.listen", CONFIG_ADDR, 0, 0, "127.0.0.1:8080", NULL, OFF(notice_listen), false,
      "address of the built-in notice page server; a reload opens the new one before closing the "
      "old (after dropping privileges, a port below 1024 cannot be opened)" },
    { "notice.url", CONFIG_URL, 0, 0, "", NULL, OFF(notice_url), false,
      "public URL of the notice page that blocked HTTP requests are redirected to; empty = 451 page" },
    { "notice.show_order", CONFIG_BOOL, 0, 0, "false", NULL, OFF(notice_show_order), false,
      "show the order id on the notice page" },
    { "notice.contact", CONFIG_STRING, 0, 0, "", NULL, OFF(notice_contact), false,
      "where to complain, shown on the notice page; empty = built-in text" },
    { "notice.contact_url", CONFIG_URL, 0, 0, "", NULL, OFF(notice_contact_url), false,
      "link shown next to notice.contact; empty = none" },
    { "notice.max_connections", CONFIG_INT, 1, 65536, "256", NULL, OFF(notice_max_connections), false,
      "notice page connections at once; the excess is refused and counted" },
    { "notice.idle_timeout", CONFIG_DURATION, 10, 60 * MIN, "10s", NULL, OFF(notice_idle_timeout), false,
      "close a notice page connection that sends no complete request for this long" },
    { "notice.max_request_bytes", CONFIG_SIZE, 512, 64 * KI, "8K", NULL, OFF(notice_max_request_bytes),
      false, "largest request head the notice page reads (larger: 431)" },
    { "admin.listen", CONFIG_STRING, 0, 0, "", NULL, OFF(admin_listen), true,
      "admin HTTP API over TCP, IPv4:port or [IPv6]:port (docs/admin.md); empty = only the "
      "owner-only Unix socket state_dir/admin.sock. Over TCP every request needs a bearer token "
      "of admin.tokens_file" },
    { "admin.tokens_file", CONFIG_PATH, 0, 0, "", NULL, OFF(admin_tokens_file), true,
      "the admin API's tokens, lines `NAME SCOPES SHA256HEX` (scopes comma-separated: read, "
      "metrics, parents ...); must be mode 0600; required with admin.listen" },
    { "admin.tls_cert", CONFIG_PATH, 0, 0, "", NULL, OFF(admin_tls_cert), true,
      "PEM certificate (chain) of admin.listen: with admin.tls_key, the TCP listener speaks HTTPS; "
      "empty = plain HTTP" },
    { "admin.tls_key", CONFIG_PATH, 0, 0, "", NULL, OFF(admin_tls_key), true,
      "PEM private key of admin.tls_cert" },
    { "admin.tls_client_ca", CONFIG_PATH, 0, 0, "", NULL, OFF(admin_tls_client_ca), true,
      "PEM CA bundle: a request without a token may present a client certificate it signed, whose "
      "subject CN is a line `NAME SCOPES cn:CN` of admin.tokens_file; empty = tokens only" },
    { "admin.max_connections", CONFIG_INT, 1, 4096, "32", NULL, OFF(admin_max_connections), true,
      "admin API connections at once (Unix socket and TCP each); the excess is refused" },
    { "admin.idle_timeout", CONFIG_DURATION, 100, 10 * MIN, "30s", NULL, OFF(admin_idle_timeout),
      true, "close an admin API connection silent for this long" },
    { "admin.max_body_bytes", CONFIG_SIZE, 1 * KI, 64 * MI, "4M", NULL, OFF(admin_max_body_bytes),
      true, "largest admin API request body (larger: 413)" },
    { "log.file", CONFIG_PATH, 0, 0, "-", NULL, OFF(log_file), false,
      "JSON-lines log file, reopened on SIGHUP; `-` = standard error" },
    { "log.level", CONFIG_ENUM, 0, 0, "info", v_log_level, OFF(log_level), false,
      "lowest level written" },
    { "log.block_rate", CONFIG_INT, 0, 1000000, "100", NULL, OFF(log_block_rate), false,
      "block-decision log lines per second (token bucket); 0 = log every decision" },
    { "stats.interval", CONFIG_DURATION, 0, 60 * MIN, "10s", NULL, OFF(stats_interval), false,
      "period of the statistics log line; 0 = never" },
    { "store", CONFIG_STRING, 0, 0, "", NULL, OFF(store), true,
      "order store to follow: redis://[user@]host:port[/db], sentinel://host:port[,host:port]/MASTER "
      "or a directory; empty = the embedded directory store in state_dir (docs/store.md); `--store` "
      "overrides" },
    { "state_dir", CONFIG_PATH, 0, 0, "/var/lib/qorgau", NULL, OFF(state_dir), true,
      "node state: the embedded directory store, the fail-static rule files (failstatic.json and "
      "its journal failstatic.journal), the subscriber map's copy (subscribers.img) and the "
      "admin socket (admin.sock, owner-only)" },
    { "store.password_file", CONFIG_PATH, 0, 0, "", NULL, OFF(store_password_file), true,
      "file holding the Redis password (first line); must not be readable by group or others" },
    { "store.heartbeat", CONFIG_DURATION, 100, 10 * MIN, "2s", NULL, OFF(store_heartbeat), true,
      "period of the node's heartbeat in the store; a node silent for 3 periods is not alive" },
    { "store.retry_max", CONFIG_DURATION, 100, 10 * MIN, "10s", NULL, OFF(store_retry_max), true,
      "longest wait between attempts to reach an unreachable store (backoff doubles up to it)" },
    { "node.id", CONFIG_STRING, 0, 0, "", NULL, OFF(node_id), true,
      "this node's name in the store's acknowledgements; empty = the host name" },
    { "orders.signature", CONFIG_ENUM, 0, 0, "accept", v_signature, OFF(orders_signature), true,
      "`qorgau order import`: accept any order, refuse badly signed ones (refuse-invalid) or accept "
      "only validly signed ones (require-valid)" },
    { "orders.trust_anchors", CONFIG_PATH, 0, 0, "", NULL, OFF(orders_trust_anchors), true,
      "PEM bundle of the certificates order signatures (FILE.sig) must chain to; empty = not checked" },
    { "orders.merge_threshold", CONFIG_INT, 0, 100000000, "20000", NULL, OFF(orders_merge_threshold), false,
      "changes of the store are applied to the running set as an overlay; past this many overlay "
      "entries (or past 1/orders.merge_ratio of the set, whichever is larger) a background "
      "thread merges it into a fresh base; a change larger than that is compiled with the whole "
      "set (0 = after every change)" },
    { "orders.merge_ratio", CONFIG_INT, 0, 1000000, "16", NULL, OFF(orders_merge_ratio), false,
      "the overlay may also grow to 1/this of the set before a merge (at 5M entries and 16: "
      "312 500), so a large base is not rebuilt every few orders; 0 = orders.merge_threshold "
      "alone" },
    { "report.deadline_days", CONFIG_INT, 1, 3650, "10", NULL, OFF(report_deadline_days), false,
      "days an order allows, counted in local calendar days of report.timezone from the day it was "
      "received; the deadline is the end of the last day (`qorgau report`, `deadlines`, `stats`)" },
    { "report.timezone", CONFIG_STRING, 0, 0, "Asia/Almaty", NULL, OFF(report_timezone), false,
      "time zone of the deadline's days and of the times in reports: an IANA name from the system "
      "time zone database, UTC, or a fixed offset such as +05:00" },
    { "report.sign_key", CONFIG_PATH, 0, 0, "", NULL, OFF(report_sign_key), false,
      "PEM private key signing reports: `qorgau report -o FILE` writes FILE.sig, a detached CMS "
      "signature (DER); empty = reports are not signed" },
    { "report.sign_cert", CONFIG_PATH, 0, 0, "", NULL, OFF(report_sign_cert), false,
      "PEM certificate of report.sign_key, included in the signature" },
    { "fallback.resolve", CONFIG_ENUM, 0, 0, "marked", v_fb_resolve, OFF(fallback_resolve), true,
      "IP fallback (docs/fallback.md): resolve the domain entries of resources marked "
      "\"resolve\": true in their order (marked), of every domain entry (all) or none, and block "
      "their addresses for flows whose name cannot be seen" },
    { "fallback.resolvers", CONFIG_STRING, 0, 0, "", NULL, OFF(fallback_resolvers), true,
      "DNS servers asked, comma-separated ip[:port] ([ipv6]:port); empty = those of /etc/resolv.conf" },
    { "fallback.ttl_min", CONFIG_DURATION, 1000, 24 * 60 * MIN, "1m", NULL, OFF(fallback_ttl_min),
      true, "an answer is kept at least this long (the floor of its TTL)" },
    { "fallback.ttl_max", CONFIG_DURATION, 1000, 7 * 24 * 60 * MIN, "60m", NULL, OFF(fallback_ttl_max),
      true, "an answer is asked again after at most this long (the ceiling of its TTL)" },
    { "fallback.shared_threshold", CONFIG_INT, 2, 1000000, "5", NULL, OFF(fallback_shared_threshold),
      true, "an address that this many blocked names resolve to is shared (a CDN): "
            "fallback.shared_policy applies to it" },
    { "fallback.shared_policy", CONFIG_ENUM, 0, 0, "nameless", v_fb_policy, OFF(fallback_shared_policy),
      true, "a shared address blocks every flow (block), only flows without a visible name "
            "(nameless: no SNI, ECH) or none (report); held back ones are listed in the report" },
    { "fallback.protect", CONFIG_STRING, 0, 0, "", NULL, OFF(fallback_protect), true,
      "addresses and prefixes the IP fallback never blocks, comma-separated (ip, ip/len): a "
      "blocked name's DNS can point anywhere; such answers are reported as held, \"protected\"" },
    /* subscriber map: the RADIUS Accounting listener (docs/subscribers.md) */
    { "radius.listen", CONFIG_STRING, 0, 0, "", NULL, OFF(radius_listen), true,
      "UDP address of the RADIUS Accounting listener (`127.0.0.1:1813`, `[::1]:1813`); empty = "
      "none. Needs at least one radius.client" },
    { "radius.client", CONFIG_LIST, 0, 0, "", NULL, OFF(radius_client), true,
      "an accounting client: `ADDR[/PREFIX] SECRET_FILE` (the shared secret is the file's first "
      "line; the file must not be readable by group or others); repeat the key for more" },
    { "radius.session_ttl", CONFIG_DURATION, 1000, 30 * 24 * 60 * MIN, "120m", NULL,
      OFF(radius_session_ttl), true,
      "a mapping not refreshed by an Interim-Update for this long expires (a lost Stop); a "
      "packet with Acct-Interim-Interval uses 3 x that interval instead" },
    { "radius.subscriber_id", CONFIG_ENUM, 0, 0, "msisdn", v_radius_id, OFF(radius_subscriber_id),
      true, "what names the subscriber: Calling-Station-Id (msisdn), 3GPP-IMSI (imsi) or "
            "User-Name (user-name); the others are used, in that order, when it is absent" },
    { "radius.map_capacity", CONFIG_INT, 1024, 268435456, "1048576", NULL,
      OFF(radius_map_capacity), true,
      "addresses the node's subscriber map holds (its memory is reserved at start); past it new "
      "mappings are stored but not held by the node (counted as radius.map_full)" },
    { "subscribers.failstatic_interval", CONFIG_DURATION, 1000, 24 * 60 * MIN, "1m", NULL,
      OFF(subscribers_failstatic_interval), true,
      "while changes arrive from the store, the node's copy of its subscriber map and tariff "
      "records (state_dir/subscribers.img, loaded at start while the store cannot be reached) "
      "is written again at most this often; also after each full load and at a clean stop" },
    /* child tariffs: categories, profiles, privacy (docs/profiles.md) */
    { "categories.dir", CONFIG_LIST, 0, 0, "", NULL, OFF(categories_dir), false,
      "a category tree in the squidGuard / UT1 layout (a folder per category holding `domains` "
      "and `urls`); repeat the key for more; categories only mean something to a profile" },
    { "profiles.file", CONFIG_STRING, 0, 0, "", NULL, OFF(profiles_file), false,
      "profiles and subscriber settings, one a line: `profile NAME TEXT`, `subscriber ID TEXT`; "
      "empty = none (a reload reads it again)" },
    { "profiles.default", CONFIG_STRING, 0, 0, "default", NULL, OFF(profiles_default), false,
      "the profile of subscribers that have none, and of clients not in the subscriber map" },
    { "profiles.timezone", CONFIG_STRING, 0, 0, "Asia/Almaty", NULL, OFF(profiles_timezone), false,
      "time zone of profile schedules (IANA name, UTC or +HH:MM)" },
    { "privacy.secret_file", CONFIG_STRING, 0, 0, "", NULL, OFF(privacy_secret_file), true,
      "key (16..64 bytes) of the subscriber pseudonyms in logs (HMAC-SHA256); empty = the "
      "pseudonym is p-unkeyed, never the id" },
    { "privacy.clear_ids", CONFIG_BOOL, 0, 0, "false", NULL, OFF(privacy_clear_ids), true,
      "write subscriber ids (MSISDN, IMSI, user name) in clear in logs instead of pseudonyms" },
};
/* clang-format on */

/* One item of fallback.resolvers: "ip", "ip:port", "ipv6", "[ipv6]" or "[ipv6]:port". */
static bool resolver_item_ok(const char *s, size_t len)
{
    char host[64];
    const char *port = NULL, *h = s;
    size_t hl = len, pl = 0;
    if (len > 0 && s[0] == '[') {
        const char *e = memchr(s, ']', len);
        if (!e)
            return false;
        h = s + 1;
        hl = (size_t)(e - h);
        size_t rest = len - (size_t)(e + 1 - s);
        if (rest > 0) {
            if (e[1] != ':')
                return false;
            port = e + 2;
            pl = rest - 1;
        }
    } else {
        const char *c = memchr(s, ':', len);
        if (c && !memchr(c + 1, ':', len - (size_t)(c + 1 - s))) { /* one colon: ipv4:port */
            hl = (size_t)(c - s);
            port = c + 1;
            pl = len - hl - 1;
        }
    }
    if (hl == 0 || hl >= sizeof(host))
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    uint8_t a[16];
    if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
        return false;
    if (port) {
        unsigned v = 0;
        if (pl == 0 || pl > 5)
            return false;
        for (size_t i = 0; i < pl; i++) {
            if (port[i] < '0' || port[i] > '9')
                return false;
            v = v * 10 + (unsigned)(port[i] - '0');
        }
        if (v == 0 || v > 65535)
            return false;
    }
    return true;
}

/* Rules that span keys, and derived values; after the whole file was read. */
static int finish(void *p, struct config_parse *ps)
{
    struct settings *c = p;
    if (c->node_id[0] != '\0' && !store_id_valid(c->node_id, strlen(c->node_id))) {
        config_error(ps, config_line(ps, "node.id"), "node.id",
                     "'%s' is not a valid id (1..128 of A-Z a-z 0-9 . _ : -)", c->node_id);
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_TAP && c->tap_interface[0] == '\0') {
        config_error(ps, 0, "tap.interface", "required when mode = tap");
        return -EINVAL;
    }
    if (c->tap_snaplen != 0 && c->tap_snaplen < 96) {
        config_error(ps, config_line(ps, "tap.snaplen"), "tap.snaplen",
                     "%" PRId64 " is below 96 bytes (0 = from the interface's MTU)",
                     c->tap_snaplen);
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_QUEUE &&
        (c->queue_mark_cut & (c->queue_mark_pass | c->queue_mark_block))) {
        config_error(ps, config_line(ps, "queue.mark_cut"), "queue.mark_cut",
                     "%" PRId64 " shares bits with queue.mark_pass or queue.mark_block; the marks "
                     "must be disjoint",
                     c->queue_mark_cut);
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_QUEUE &&
        c->queue_hold_packets + c->queue_watch_packets >= c->queue_settle_packets) {
        /* the rules stop queueing a connection once its server sent settle_packets; a flow held
         * and then watched makes its server answer up to one packet per client segment, so
         * the kernel would accept it unjudged before the watch ends */
        unsigned line = config_line(ps, "queue.settle_packets");
        if (!line) /* the default: name the line that moved the sum up to it */
            line = config_line(ps, "queue.watch_packets") ? config_line(ps, "queue.watch_packets")
                                                          : config_line(ps, "queue.hold_packets");
        config_error(ps, line, "queue.settle_packets",
                     "%" PRId64 " is not above queue.hold_packets + queue.watch_packets (%" PRId64
                     " + %" PRId64 "): the rules would let a connection through unjudged while "
                     "its first request is still held or watched",
                     c->queue_settle_packets, c->queue_hold_packets, c->queue_watch_packets);
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_QUEUE && (c->queue_mark_pass & c->queue_mark_block)) {
        config_error(ps, config_line(ps, "queue.mark_block"), "queue.mark_block",
                     "%" PRId64 " shares bits with queue.mark_pass; the marks must be disjoint "
                     "(their union marks a kept-alive HTTP connection whose server side the "
                     "kernel forwards)",
                     c->queue_mark_block);
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_TAP && c->ip_kernel_drop == SETTINGS_IP_KERNEL_DROP_ON) {
        config_error(ps, config_line(ps, "ip.kernel_drop"), "ip.kernel_drop",
                     "on needs a mode where this box forwards the traffic (inline, queue); a tap "
                     "sees a copy and can only reset TCP flows it sees");
        return -EINVAL;
    }
    char why[256];
    if (nat64_parse(c->ip_nat64_prefixes, &c->ip_nat64, why, sizeof(why)) < 0) {
        config_error(ps, config_line(ps, "ip.nat64_prefixes"), "ip.nat64_prefixes", "%s", why);
        return -EINVAL;
    }
    if (!ipdrop_table_name_ok(c->ip_kernel_table)) {
        config_error(ps, config_line(ps, "ip.kernel_table"), "ip.kernel_table",
                     "'%s' is not a table name (1-%d letters, digits or '_', not starting with a "
                     "digit)",
                     c->ip_kernel_table, IPDROP_TABLE_MAX);
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_INLINE && c->inline_tproxy_port == 0 &&
        c->inline_redirect_port == 0) {
        config_error(ps, 0, NULL,
                     "inline.tproxy_port and inline.redirect_port are both 0; inline mode needs a "
                     "listener");
        return -EINVAL;
    }
    if (c->mode == SETTINGS_MODE_INLINE && c->inline_tproxy_port == c->inline_redirect_port) {
        config_error(ps, config_line(ps, "inline.redirect_port"), "inline.redirect_port",
                     "%" PRId64 " is also inline.tproxy_port; the ports must differ",
                     c->inline_redirect_port);
        return -EINVAL;
    }
    if (c->radius_listen[0] != '\0') {
        char e[256];
        struct sockaddr_storage ss;
        socklen_t sl;
        if (radius_listen_parse(c->radius_listen, &ss, &sl, e, sizeof(e)) != 0) {
            config_error(ps, config_line(ps, "radius.listen"), "radius.listen", "%s", e);
            return -EINVAL;
        }
        if (c->radius_client.n == 0) {
            config_error(ps, config_line(ps, "radius.listen"), "radius.listen",
                         "needs at least one radius.client");
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < c->radius_client.n; i++) {
        char e[1200];
        struct radius_client rc;
        if (radius_client_parse(c->radius_client.items[i], &rc, e, sizeof(e)) != 0) {
            config_error(ps, config_line(ps, "radius.client"), "radius.client", "%s", e);
            return -EINVAL;
        }
    }
    if ((c->report_sign_key[0] == '\0') != (c->report_sign_cert[0] == '\0')) {
        config_error(ps, 0, c->report_sign_key[0] ? "report.sign_cert" : "report.sign_key",
                     "required with %s (a report is signed with both or not at all)",
                     c->report_sign_key[0] ? "report.sign_key" : "report.sign_cert");
        return -EINVAL;
    }
    if (!deadline_tz_valid(c->profiles_timezone)) {
        config_error(ps, config_line(ps, "profiles.timezone"), "profiles.timezone",
                     "'%s' is not a time zone (IANA name, UTC or +HH:MM)", c->profiles_timezone);
        return -EINVAL;
    }
    if (!profile_name_valid(c->profiles_default)) {
        config_error(ps, config_line(ps, "profiles.default"), "profiles.default",
                     "'%s' is not a profile name ([a-z0-9_-], under 32 bytes)",
                     c->profiles_default);
        return -EINVAL;
    }
    if (!deadline_tz_valid(c->report_timezone)) {
        config_error(ps, config_line(ps, "report.timezone"), "report.timezone",
                     "'%s' is not in the time zone database (an IANA name such as Asia/Almaty, "
                     "UTC, or an offset such as +05:00)",
                     c->report_timezone);
        return -EINVAL;
    }
    for (const char *it = c->fallback_resolvers; *it;) {
        size_t n = strcspn(it, ",");
        size_t b = 0, e = n;
        while (b < e && (it[b] == ' ' || it[b] == '\t'))
            b++;
        while (e > b && (it[e - 1] == ' ' || it[e - 1] == '\t'))
            e--;
        if (!resolver_item_ok(it + b, e - b)) {
            config_error(ps, config_line(ps, "fallback.resolvers"), "fallback.resolvers",
                         "'%.*s' is not ip, ip:port, ipv6 or [ipv6]:port", (int)(e - b), it + b);
            return -EINVAL;
        }
        it += n + (it[n] == ',');
    }
    struct fallback_prefix pfx[FALLBACK_PROTECT_MAX];
    char perr[256];
    if (fallback_parse_prefixes(c->fallback_protect, pfx, FALLBACK_PROTECT_MAX, perr,
                                sizeof(perr)) < 0) {
        config_error(ps, config_line(ps, "fallback.protect"), "fallback.protect", "%s", perr);
        return -EINVAL;
    }
    if (c->fallback_ttl_max < c->fallback_ttl_min) {
        config_error(ps, config_line(ps, "fallback.ttl_max"), "fallback.ttl_max",
                     "is below fallback.ttl_min");
        return -EINVAL;
    }
    if (c->tap_inject_interface[0] == '\0' && c->tap_interface[0] != '\0') {
        char *s = strdup(c->tap_interface);
        if (!s)
            return -ENOMEM;
        free(c->tap_inject_interface);
        c->tap_inject_interface = s;
    }
    return 0;
}

static const struct config_table table = { keys, ARRAY_LEN(keys), sizeof(struct settings), finish };

const struct config_table *settings_table(void)
{
    return &table;
}

const struct config_key *settings_keys(size_t *n)
{
    *n = table.n;
    return table.keys;
}

const struct config_key *settings_key_find(const char *name)
{
    return config_key_find(&table, name);
}

struct settings *settings_load_file(const char *path, char *err, size_t errlen)
{
    return config_load_file(&table, path, err, errlen);
}

struct settings *settings_load_buffer(const char *name, const char *buf, size_t len, char *err,
                                      size_t errlen)
{
    return config_load_buffer(&table, name, buf, len, err, errlen);
}

void settings_free(struct settings *s)
{
    config_free(&table, s);
}

int settings_print(FILE *f, const struct settings *s)
{
    return config_print(&table, f, s);
}

int settings_keep_restart_keys(struct settings *fresh, const struct settings *running,
                               const char **names, size_t max)
{
    return config_keep_restart_keys(&table, fresh, running, names, max);
}

int settings_doc(FILE *f)
{
    return config_doc(&table, f);
}

bool settings_ip_kernel_drop(const struct settings *c)
{
    if (c->ip_kernel_drop == SETTINGS_IP_KERNEL_DROP_AUTO)
        return c->mode != SETTINGS_MODE_TAP;
    return c->ip_kernel_drop == SETTINGS_IP_KERNEL_DROP_ON;
}
