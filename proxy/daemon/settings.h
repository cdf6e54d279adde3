/* settings.h - the daemon's configuration: its table of keys (proxy/daemon/settings.c), the
 * struct they are parsed into, and the rules that span keys. The file format, the value types
 * and the error messages are common/config.h's; docs/configuration.md is generated from the
 * table by `qorgau config doc`.
 *
 * Cross-key rules, checked after the whole file was read (errors "config: FILE[:LINE]: ..."):
 *   mode = tap needs tap.interface; mode = inline needs inline.tproxy_port or
 *   inline.redirect_port, and the two must differ; mode = queue needs queue.mark_pass and
 *   queue.mark_block to differ, and queue.settle_packets above queue.hold_packets +
 *   queue.watch_packets. Derived: tap.inject_interface is
 *   tap.interface when the file left it empty. radius.listen, when set, must be an address
 *   and needs a radius.client; every radius.client line must parse. fallback.ttl_max may not
 *   be below fallback.ttl_min; fallback.resolvers and fallback.protect are checked item by
 *   item. */
#ifndef QG_SETTINGS_H
#define QG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "rules/match/nat64.h"

/* Value lists of the enum keys; the table's value names are in this order. */
enum settings_mode { SETTINGS_MODE_TAP = 0, SETTINGS_MODE_INLINE, SETTINGS_MODE_QUEUE };
enum settings_queue_fail { SETTINGS_QUEUE_FAIL_OPEN = 0, SETTINGS_QUEUE_FAIL_CLOSED };
enum settings_queue_ports { SETTINGS_QUEUE_PORTS_ALL = 0, SETTINGS_QUEUE_PORTS_WEB };
enum settings_queue_rules_check {
    SETTINGS_QUEUE_RULES_REFUSE = 0,
    SETTINGS_QUEUE_RULES_WARN,
    SETTINGS_QUEUE_RULES_OFF
};
enum settings_queue_incomplete {
    SETTINGS_QUEUE_INCOMPLETE_ADDRESS = 0,
    SETTINGS_QUEUE_INCOMPLETE_DROP,
    SETTINGS_QUEUE_INCOMPLETE_WATCH
};
enum settings_queue_watch_limit { SETTINGS_QUEUE_WATCH_BLOCK = 0, SETTINGS_QUEUE_WATCH_ADDRESS };
enum settings_queue_no_room { SETTINGS_QUEUE_NO_ROOM_DROP = 0, SETTINGS_QUEUE_NO_ROOM_ADDRESS };
enum settings_queue_unseen_syn {
    SETTINGS_QUEUE_UNSEEN_SYN_JUDGE = 0,
    SETTINGS_QUEUE_UNSEEN_SYN_DROP
};
/* ip.kernel_drop: auto = on in inline and queue modes, off in tap mode */
enum settings_ip_kernel_drop {
    SETTINGS_IP_KERNEL_DROP_AUTO = 0,
    SETTINGS_IP_KERNEL_DROP_ON,
    SETTINGS_IP_KERNEL_DROP_OFF
};
enum settings_https_url { SETTINGS_HTTPS_URL_NAME = 0, SETTINGS_HTTPS_URL_IGNORE };
enum settings_https_block { SETTINGS_HTTPS_BLOCK_RST = 0, SETTINGS_HTTPS_BLOCK_ALERT };
enum settings_http_block { SETTINGS_HTTP_BLOCK_REDIRECT = 0, SETTINGS_HTTP_BLOCK_451 };
enum settings_quic { SETTINGS_QUIC_DROP_BLOCKED = 0, SETTINGS_QUIC_DROP_ALL, SETTINGS_QUIC_PASS };
enum settings_incomplete { SETTINGS_INCOMPLETE_RESET = 0, SETTINGS_INCOMPLETE_ADDRESS };
enum settings_checksums {
    SETTINGS_CHECKSUMS_VERIFY = 0,
    SETTINGS_CHECKSUMS_IGNORE,
    SETTINGS_CHECKSUMS_AUTO
};
/* same values as enum sign_policy (rules/orders/sign.h) */
enum settings_signature {
    SETTINGS_SIG_ACCEPT = 0,
    SETTINGS_SIG_REFUSE_INVALID,
    SETTINGS_SIG_REQUIRE_VALID
};
/* same values as enum log_level (common/log.h; settings.c asserts it) */
enum settings_log_level {
    SETTINGS_LOG_ERROR = 0,
    SETTINGS_LOG_WARN,
    SETTINGS_LOG_INFO,
    SETTINGS_LOG_DEBUG
};

enum settings_fallback_resolve {
    SETTINGS_FALLBACK_NONE = 0,
    SETTINGS_FALLBACK_MARKED,
    SETTINGS_FALLBACK_ALL
};
/* same values as enum fallback_policy (rules/resolve/fallback.h; settings.c asserts it) */
enum settings_fallback_policy {
    SETTINGS_FALLBACK_BLOCK = 0,
    SETTINGS_FALLBACK_NAMELESS,
    SETTINGS_FALLBACK_REPORT
};

/* The effective configuration. Enum fields are int holding the enum values above; sizes are
 * bytes, durations milliseconds. */
struct settings {
    int mode; /* enum settings_mode */
    int64_t workers;
    char *user;
    char *group;
    struct config_list rules;
    int https_url; /* enum settings_https_url */

    int64_t flows_max;
    int64_t client_prefix6;
    int64_t h2c_states;
    uint64_t reasm_bytes;
    int64_t reasm_buffers;
    int checksums; /* enum settings_checksums, same values as enum csumpol_mode */
    int64_t quic_max_datagrams;
    uint64_t quic_max_bytes;

    char *tap_interface;
    char *tap_inject_interface; /* after loading: tap_interface when the file left it empty */
    char *tap_bpf;
    uint64_t tap_ring_size;
    int64_t tap_snaplen;
    int64_t tap_batch_ms;
    int64_t tap_client_buffers;
    int64_t tap_passed_names;
    int64_t tap_passed_names_per_client;
    int64_t queue_passed_names;
    int64_t queue_passed_names_per_client;

    int64_t queue_num;
    int64_t queue_maxlen;
    int queue_fail;        /* enum settings_queue_fail */
    int queue_ports;       /* enum settings_queue_ports: written into the rules */
    int queue_rules_check; /* enum settings_queue_rules_check */
    uint64_t inline_rules_check_interval;
    uint64_t queue_rules_check_interval;
    int64_t queue_hold_packets;
    int64_t queue_hold_flows;
    uint64_t queue_hold_timeout;
    int queue_incomplete; /* enum settings_queue_incomplete */
    int64_t queue_watch_packets;
    uint64_t queue_watch_timeout;
    int queue_watch_limit; /* enum settings_queue_watch_limit */
    int queue_unseen_syn;  /* enum settings_queue_unseen_syn */
    int queue_no_room;     /* enum settings_queue_no_room */
    int64_t queue_client_buffers;
    int64_t queue_mark_pass;
    int64_t queue_mark_block;
    int64_t queue_mark_cut;
    int64_t queue_settle_packets; /* these seven: the rules `qorgau config rules` writes */
    int64_t queue_source_new_rate;
    int64_t queue_source_new_burst;
    int64_t queue_source_queued_rate;
    int64_t queue_source_queued_burst;
    int64_t queue_source_table;
    uint64_t queue_source_expire;

    int64_t inline_tproxy_port;
    int64_t inline_redirect_port;
    struct config_addr inline_listen_address;
    uint64_t inline_first_bytes_timeout;
    uint64_t inline_first_bytes_max;
    int64_t inline_max_connections;
    uint64_t inline_connect_timeout;
    uint64_t inline_idle_timeout;
    int64_t inline_max_per_source;
    int inline_incomplete_request; /* enum settings_incomplete */
    int inline_https_block;        /* enum settings_https_block */
    int inline_http_block;         /* enum settings_http_block */
    int inline_quic;               /* enum settings_quic */

    int ip_kernel_drop; /* enum settings_ip_kernel_drop */
    char *ip_kernel_table;
    uint64_t ip_kernel_counts_interval; /* ms between readings of the sets' element counters */
    char *ip_nat64_prefixes;
    struct nat64 ip_nat64; /* ip.nat64_prefixes, parsed */

    struct config_addr notice_listen;
    char *notice_url;
    bool notice_show_order;
    char *notice_contact;
    char *notice_contact_url;
    int64_t notice_max_connections;
    uint64_t notice_idle_timeout;
    uint64_t notice_max_request_bytes;

    char *admin_listen;      /* "" = Unix socket only */
    char *admin_tokens_file; /* bearer tokens for admin_listen */
    char *admin_tls_cert;    /* HTTPS on admin_listen */
    char *admin_tls_key;
    char *admin_tls_client_ca; /* client certificates */
    int64_t admin_max_connections;
    uint64_t admin_idle_timeout;
    uint64_t admin_max_body_bytes;

    char *log_file; /* "-" = stderr */
    int log_level;  /* enum settings_log_level */
    int64_t log_block_rate;

    uint64_t stats_interval;

    char *store;     /* store URL (rules/store/store.h); "" = directory store at state_dir */
    char *state_dir; /* directory store, fail-static file, admin socket */
    char *store_password_file; /* Redis credentials file (owner-only) */
    uint64_t store_heartbeat;  /* node heartbeat period; the heartbeat expires after 3 periods */
    uint64_t store_retry_max;  /* longest wait between reconnection attempts */
    char *node_id;             /* "" = the host name */
    int orders_signature;      /* enum settings_signature */
    char *orders_trust_anchors;
    int64_t orders_merge_threshold; /* overlay entries past which the set is compiled afresh */
    int64_t orders_merge_ratio;     /* ... or past 1/ratio of the set's entries (0: off) */
    int64_t report_deadline_days;   /* days an order allows (report, deadlines, stats) */
    char *report_timezone;          /* zone of those days (rules/report/deadline.h) */
    char *report_sign_key;          /* PEM key signing reports ("" = not signed) */
    char *report_sign_cert;         /* PEM certificate of that key */

    int fallback_resolve;      /* enum settings_fallback_resolve */
    char *fallback_resolvers;  /* "ip[:port],..." for c-ares; "" = /etc/resolv.conf */
    uint64_t fallback_ttl_min; /* ms */
    uint64_t fallback_ttl_max; /* ms */
    int64_t fallback_shared_threshold;
    int fallback_shared_policy; /* enum settings_fallback_policy = enum fallback_policy */
    char *fallback_protect;     /* "ip[/len],..." never blocked by the fallback */

    /* subscriber map: the RADIUS Accounting listener (proxy/daemon/radius.h) */
    char *radius_listen;              /* "" = no listener */
    struct config_list radius_client; /* "ADDR[/PREFIX] SECRET_FILE" lines */
    uint64_t radius_session_ttl;      /* ms */
    int radius_subscriber_id;         /* enum radius_subscriber_id */
    int64_t radius_map_capacity;
    uint64_t subscribers_failstatic_interval; /* ms */
    /* child tariffs (docs/profiles.md) */
    struct config_list categories_dir; /* category trees (squidGuard / UT1 layout) */
    char *profiles_file;               /* profiles and subscriber settings; "" = none */
    char *profiles_default;            /* the profile of subscribers without one */
    char *profiles_timezone;           /* zone of the schedules */
    char *privacy_secret_file;         /* key of the subscriber pseudonyms */
    bool privacy_clear_ids;            /* write subscriber ids in clear */
};

/* The daemon's table (keys, struct size, cross-key rules), for the generic calls of
 * common/config.h (config_print, config_key_equal, config_format_value, ...). Static storage. */
const struct config_table *settings_table(void);

/* The keys, in documentation order; *n gets their number. Static storage. */
const struct config_key *settings_keys(size_t *n);

/* The key named name, or NULL. */
const struct config_key *settings_key_find(const char *name);

/* Parses the file at path (caller frees with settings_free()). On any error returns NULL with
 * one line "config: FILE:LINE: ..." (or "config: FILE: ...") in err. */
struct settings *settings_load_file(const char *path, char *err, size_t errlen);

/* Same over buf[0..len); name is used as FILE in messages. */
struct settings *settings_load_buffer(const char *name, const char *buf, size_t len, char *err,
                                      size_t errlen);

/* Frees s and every string it owns. NULL is a no-op. */
void settings_free(struct settings *s);

/* Writes every key as a `key = value` line (config_print()). Returns 0 or -EIO. */
int settings_print(FILE *f, const struct settings *s);

/* For reload: config_keep_restart_keys() over the daemon's table. Returns how many keys were
 * set back in fresh, or -ENOMEM (fresh is then unchanged). */
int settings_keep_restart_keys(struct settings *fresh, const struct settings *running,
                               const char **names, size_t max);

/* Writes the key table of docs/configuration.md (config_doc()). Returns 0 or -EIO. */
int settings_doc(FILE *f);

/* Whether ip.kernel_drop applies (auto: inline and queue modes). */
bool settings_ip_kernel_drop(const struct settings *c);

#endif
