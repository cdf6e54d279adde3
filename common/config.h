/* config.h - the daemon configuration: one table of keys, parsed once into an immutable struct.
 *
 * File format (docs/configuration.md is generated from the table by `qorgau config doc`):
 *
 *     # comment                      '#' at line start, value start or after a blank: comment
 *     key = value                    blanks around key and value are ignored
 *     key = "value # kept"           double quotes keep blanks and '#' (no escapes inside)
 *     rules = /etc/qorgau/a.json     list keys may be repeated; each line adds one item
 *
 * Every key has a type (bool, int, size, duration, string, enum, address, ip, path, url, list),
 * a range or a set of values, a default (parsed by the same code as the file, so a default can
 * never be out of range) and an offset into struct qg_config. An unknown key, a bad value, a
 * repeated scalar key or a line that is not `key = value` fails the whole load with
 * "config: FILE:LINE: ..." naming the key and what is allowed; nothing is half-applied.
 * A reload builds a new struct and swaps it; a built struct never changes. */
#ifndef QG_CONFIG_H
#define QG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
    CONFIG_BOOL = 0, /* bool:      true|false|yes|no|on|off|1|0 */
    CONFIG_INT,      /* int64_t:   decimal, min..max */
    CONFIG_SIZE,     /* uint64_t:  bytes, suffix K, M or G (powers of 1024), min..max */
    CONFIG_DURATION, /* uint64_t:  milliseconds, suffix ms, s or m ("0" needs none), min..max */
    CONFIG_STRING,   /* char *:    any text, "" allowed */
    CONFIG_ENUM,     /* int:       index into the key's value list */
    CONFIG_ADDR,     /* struct config_addr: "ip:port" or "[ipv6]:port" */
    CONFIG_IP,       /* struct config_addr (port 0): an IPv4 or IPv6 address */
    CONFIG_PATH,     /* char *:    a file path; "" means unset */
    CONFIG_URL,      /* char *:    "" or an http:// / https:// URL */
    CONFIG_LIST,     /* struct config_list: repeatable key, one item a line */
};

/* An address value. text is the canonical form: "1.2.3.4:80", "[::1]:80", or without port. */
struct config_addr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* 4 or 16 bytes used, network order */
    uint16_t port;
    char text[56];
};

/* A list value; items are owned by the struct qg_config. */
struct config_list {
    size_t n;
    char **items;
};

/* Value lists of the enum keys; the table's value names are in this order. */
enum config_mode { CONFIG_MODE_TAP = 0, CONFIG_MODE_INLINE };
enum config_https_url { CONFIG_HTTPS_URL_NAME = 0, CONFIG_HTTPS_URL_IGNORE };
enum config_https_block { CONFIG_HTTPS_BLOCK_RST = 0, CONFIG_HTTPS_BLOCK_ALERT };
enum config_http_block { CONFIG_HTTP_BLOCK_REDIRECT = 0, CONFIG_HTTP_BLOCK_451 };
enum config_quic { CONFIG_QUIC_DROP_BLOCKED = 0, CONFIG_QUIC_DROP_ALL, CONFIG_QUIC_PASS };
enum config_incomplete { CONFIG_INCOMPLETE_RESET = 0, CONFIG_INCOMPLETE_ADDRESS };
enum config_checksums { CONFIG_CHECKSUMS_VERIFY = 0, CONFIG_CHECKSUMS_IGNORE, CONFIG_CHECKSUMS_AUTO };
enum config_log_level { CONFIG_LOG_ERROR = 0, CONFIG_LOG_WARN, CONFIG_LOG_INFO, CONFIG_LOG_DEBUG };

/* The effective configuration. Enum fields are int holding the enum values above; sizes are
 * bytes, durations milliseconds. */
struct qg_config {
    int mode; /* enum config_mode */
    int64_t workers;
    char *user;
    char *group;
    struct config_list rules;
    int https_url; /* enum config_https_url */

    int64_t flows_max;
    uint64_t reasm_bytes;
    int64_t reasm_buffers;
    int checksums; /* enum config_checksums, same values as enum csumpol_mode */
    int64_t quic_max_datagrams;
    uint64_t quic_max_bytes;

    char *tap_interface;
    char *tap_inject_interface; /* after loading: tap_interface when the file left it empty */
    char *tap_bpf;
    uint64_t tap_ring_size;
    int64_t tap_snaplen;

    int64_t inline_tproxy_port;
    int64_t inline_redirect_port;
    struct config_addr inline_listen_address;
    uint64_t inline_first_bytes_timeout;
    uint64_t inline_first_bytes_max;
    int64_t inline_max_connections;
    uint64_t inline_connect_timeout;
    uint64_t inline_idle_timeout;
    int64_t inline_max_per_source;
    int inline_incomplete_request; /* enum config_incomplete */
    int inline_https_block; /* enum config_https_block */
    int inline_http_block;  /* enum config_http_block */
    int inline_quic;        /* enum config_quic */

    struct config_addr notice_listen;
    char *notice_url;
    bool notice_show_order;
    char *notice_contact;
    char *notice_contact_url;
    int64_t notice_max_connections;
    uint64_t notice_idle_timeout;
    uint64_t notice_max_request_bytes;

    char *log_file; /* "-" = stderr */
    int log_level;  /* enum config_log_level */
    int64_t log_block_rate;

    uint64_t stats_interval;
};

/* One key of the table. */
struct config_key {
    const char *name;
    enum config_type type;
    int64_t min, max;          /* INT, SIZE (bytes), DURATION (ms) */
    const char *def;           /* default, as it would be written in the file; NULL: required */
    const char *const *values; /* ENUM: NULL-terminated value names, in enum order */
    size_t offset;             /* into struct qg_config */
    bool restart;              /* a change takes effect only on restart, not on reload */
    const char *doc;           /* one line */
};

/* The table, in documentation order; *n gets its length. Static storage. */
const struct config_key *config_keys(size_t *n);

/* The key named name, or NULL. */
const struct config_key *config_key_find(const char *name);

/* Parses the file at path into a new struct (caller frees with config_free()). On any error
 * returns NULL with one line "config: FILE:LINE: ..." (or "config: FILE: ..." for errors that
 * belong to no line) in err. */
struct qg_config *config_load_file(const char *path, char *err, size_t errlen);

/* Same over buf[0..len); name is used as FILE in messages. */
struct qg_config *config_load_buffer(const char *name, const char *buf, size_t len, char *err, size_t errlen);

/* Frees c and every string it owns. NULL is a no-op. */
void config_free(struct qg_config *c);

/* Writes every key as a `key = value` line in table order (list keys: one line per item, or
 * `key =` with a comment when empty); the output loads back into an equal struct.
 * Returns 0 or -EIO. */
int config_print(FILE *f, const struct qg_config *c);

/* Writes the text of key k's value in c (lists: items joined by ", ") into buf. */
void config_format_value(const struct config_key *k, const struct qg_config *c, char *buf, size_t len);

/* True when key k has the same value in a and b. */
bool config_key_equal(const struct config_key *k, const struct qg_config *a, const struct qg_config *b);

/* For reload: every key marked restart whose value differs between fresh and running is set
 * back in fresh to the running value (fresh is not yet published); up to max of their names go
 * to names. Returns how many keys were set back, or -ENOMEM (fresh is then unchanged). */
int config_keep_restart_keys(struct qg_config *fresh, const struct qg_config *running, const char **names,
                             size_t max);

/* Writes docs/configuration.md (Markdown) generated from the table. Returns 0 or -EIO. */
int config_doc(FILE *f);

/* Name of value v of an enum key, or "?" when out of range. */
const char *config_enum_name(const struct config_key *k, int v);

#endif
