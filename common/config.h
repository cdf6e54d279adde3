/* config.h - a table-driven configuration file parser: the caller's table of keys, parsed once
 * into the caller's struct, which is then never changed.
 *
 * File format:
 *
 *     # comment                      '#' at line start, value start or after a blank: comment
 *     key = value                    blanks around key and value are ignored
 *     key = "value # kept"           double quotes keep blanks and '#' (no escapes inside)
 *     files = /etc/x/a.json          list keys may be repeated; each line adds one item
 *
 * Every key has a type (bool, int, size, duration, string, enum, address, ip, path, url, list),
 * a range or a set of values, a default (parsed by the same code as the file, so a default can
 * never be out of range) and an offset into the caller's struct. An unknown key, a bad value, a
 * repeated scalar key or a line that is not `key = value` fails the whole load with
 * "config: FILE:LINE: ..." naming the key and what is allowed; nothing is half-applied. After
 * the whole file, the table's finish hook checks what spans keys and fills derived values.
 * A reload builds a new struct and swaps it; a built struct never changes.
 *
 * This module knows no key of its own: the daemon's table is proxy/daemon/settings.c. */
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

/* A list value; items are owned by the struct that holds the list. */
struct config_list {
    size_t n;
    char **items;
};

/* One key of a table. */
struct config_key {
    const char *name;
    enum config_type type;
    int64_t min, max;          /* INT, SIZE (bytes), DURATION (ms) */
    const char *def;           /* default, as it would be written in the file; NULL: required */
    const char *const *values; /* ENUM: NULL-terminated value names, in enum order */
    size_t offset;             /* into the caller's struct */
    bool restart;              /* a change takes effect only on restart, not on reload */
    const char *doc;           /* one line */
};

/* The state of one load, handed to a table's finish hook. */
struct config_parse;

/* Called once the whole file was read into c (a struct of the table's size, every key set):
 * checks that span keys and fills derived values. Returns 0, -EINVAL after config_error(), or
 * -ENOMEM. */
typedef int (*config_finish_fn)(void *c, struct config_parse *ps);

/* A table: keys in documentation order (names unique, each offset the field of one key), the
 * size of the struct the offsets point into, and an optional finish hook. Static storage. */
struct config_table {
    const struct config_key *keys;
    size_t n;
    size_t size;
    config_finish_fn finish; /* NULL: none */
};

/* The key of t named name, or NULL. */
const struct config_key *config_key_find(const struct config_table *t, const char *name);

/* Parses the file at path into a new struct of t->size bytes (caller frees with
 * config_free()). On any error returns NULL with one line "config: FILE:LINE: ..." (or
 * "config: FILE: ..." for errors that belong to no line) in err. */
void *config_load_file(const struct config_table *t, const char *path, char *err, size_t errlen);

/* Same over buf[0..len); name is used as FILE in messages. */
void *config_load_buffer(const struct config_table *t, const char *name, const char *buf,
                         size_t len, char *err, size_t errlen);

/* Frees c (loaded with table t) and every string and list it owns. NULL is a no-op. */
void config_free(const struct config_table *t, void *c);

/* For a finish hook: writes "config: FILE:LINE: KEY: message" (without "LINE:" when line is 0,
 * without "KEY: " when key is NULL) into the load's error buffer. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void config_error(struct config_parse *ps, unsigned line, const char *key, const char *fmt, ...);

/* For a finish hook: the line the key named name was (last) set on, 0 when it kept its default
 * or is not in the table. */
unsigned config_line(const struct config_parse *ps, const char *name);

/* Writes every key of t as a `key = value` line in table order (list keys: one line per item,
 * or `key =` when empty); the output loads back into an equal struct. Returns 0 or -EIO. */
int config_print(const struct config_table *t, FILE *f, const void *c);

/* Writes the text of key k's value in c (lists: items joined by ", ") into buf. */
void config_format_value(const struct config_key *k, const void *c, char *buf, size_t len);

/* True when key k has the same value in a and b. */
bool config_key_equal(const struct config_key *k, const void *a, const void *b);

/* For reload: every key of t marked restart whose value differs between fresh and running is
 * set back in fresh to the running value (fresh is not yet published); up to max of their
 * names go to names. Returns how many keys were set back, or -ENOMEM (fresh is then
 * unchanged). */
int config_keep_restart_keys(const struct config_table *t, void *fresh, const void *running,
                             const char **names, size_t max);

/* Writes the Markdown table of t's keys (name, type, allowed values, default, reload or
 * restart, description). Returns 0 or -EIO. */
int config_doc(const struct config_table *t, FILE *f);

/* Name of value v of an enum key, or "?" when out of range or k is not an enum. */
const char *config_enum_name(const struct config_key *k, int v);

#endif
