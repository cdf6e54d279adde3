/* tariff_cli.h - `qorgau profile set|show|list|del` and `qorgau subscriber profile`: profile
 * definitions and subscriber settings in the store (docs/profiles.md). */
#ifndef QG_TARIFF_CLI_H
#define QG_TARIFF_CLI_H

/* `qorgau profile [-c CONFIG] [--store URL] set NAME [TEXT...] | show NAME | list | del NAME`;
 * argv[0] is "profile". Returns the exit status. */
int tariff_cli_profile(int argc, char **argv);

/* `qorgau subscriber [-c CONFIG] [--store URL] profile SUB [NAME|TEXT...] [--del]`: with a text,
 * sets the subscriber's settings (a bare NAME means "profile=NAME"); without, shows them;
 * --del removes them (the default profile again). argv[0] is "subscriber". */
int tariff_cli_subscriber(int argc, char **argv);

#endif
