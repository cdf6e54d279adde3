/* subs_cli.h - `qorgau subscriber`: the address -> subscriber map in the store, written by
 * hand or by an operator system where no RADIUS feed exists (docs/subscribers.md).
 *
 *     qorgau subscriber [-c CONFIG] [--store URL] set ADDR SUBSCRIBER [--ttl D] [--session S]
 *     qorgau subscriber [-c CONFIG] [--store URL] show ADDR | del ADDR | list
 *
 * The store is found as for `qorgau order` (orders_cli_store_open()). */
#ifndef QG_SUBS_CLI_H
#define QG_SUBS_CLI_H

/* argv[0] is "subscriber". Returns 0; 1 when something failed (an unreachable store, no
 * mapping for show/del); 2 for a usage error. */
int subs_cli_main(int argc, char **argv);

#endif
