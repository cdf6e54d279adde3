/* orders_cli.h - the order commands of `qorgau`: order import|list|show|revoke|restore, query
 * and status (docs/orders.md). main.c only dispatches here.
 *
 * Where the store is: --store URL; else the config's store key (-c CONFIG); else the directory
 * store in the config's state_dir; else STORE_DEFAULT_DIR. `query -c CONFIG` without --store
 * asks the running node through its admin socket (state_dir/admin.sock); `status -c CONFIG`
 * asks it for its readiness (GET /api/v1/status), printed on its own node line. */
#ifndef QG_ORDERS_CLI_H
#define QG_ORDERS_CLI_H

/* argv[0] is "order", "query" or "status". Return the process exit status: 0; 1 when
 * something failed (a refused file, an unreachable store or node); 2 for a usage error. */
int orders_cli_order(int argc, char **argv);
int orders_cli_query(int argc, char **argv);
int orders_cli_status(int argc, char **argv);

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct settings;
struct store;

/* Opens the store the CLIs use: url (--store) if not NULL; else cfg's store key; else the
 * directory store in cfg's state_dir; else STORE_DEFAULT_DIR (cfg may be NULL). Prints the
 * reason on stderr and returns NULL when it cannot be opened. */
struct store *orders_cli_store_open(const char *url, const struct settings *cfg);

/* The JSON (and text) the commands print, written by the same functions for the CLI and the
 * admin API (docs/admin.md). Each returns 0 or a negative errno with a message in err. */

/* `order list`: the table (json false), or {"orders":[{"id","state","version","updated_ms"}]}. */
int orders_list_write(struct store *s, bool json, FILE *out, char *err, size_t errlen);

/* `order show ID`: {"id","state","version","updated_ms","record"} and a newline; -ENOENT when
 * the store has no such order. */
int orders_show_write(struct store *s, const char *id, FILE *out, char *err, size_t errlen);

/* The readiness of one node (adminapi.h), known from its own admin API, not from the store. */
struct orders_status_self {
    const char *node;
    bool ready;
    uint64_t ready_ms;
};

/* `status [ORDER]`: {"store","version"[,"order","order_version"]} then one object per node
 * ({"node","alive","version","lag",...}), one per line; with array, the node objects go in a
 * "nodes" array of the first object instead. self (NULL: none) adds "ready" and "ready_ms" to
 * the object of the node it names. */
int orders_status_write(struct store *s, const char *order, const struct orders_status_self *self,
                        bool array, FILE *out, char *err, size_t errlen);

#endif
