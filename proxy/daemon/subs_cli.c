/* subs_cli.c - `qorgau subscriber set|show|del|list` (see subs_cli.h).
 *
 * One line per mapping: "ADDR SUBSCRIBER session=S|- updated=TIME expires=TIME|never", times
 * in UTC (ISO 8601). show of an IPv6 address without a prefix length finds the longest stored
 * prefix holding it, as the node's map does. */
#include "proxy/daemon/subs_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/daemon/orders_cli.h"
#include "proxy/daemon/settings.h"
#include "proxy/daemon/tariff_cli.h"
#include "rules/store/store.h"
#include "rules/subs/submap.h"

#define CLI_USAGE 2

static void usage(FILE *f)
{
    fputs("usage: qorgau subscriber [-c CONFIG] [--store URL] set ADDR SUBSCRIBER [--ttl D] "
          "[--session S]\n"
          "       qorgau subscriber [-c CONFIG] [--store URL] show ADDR | del ADDR | list\n"
          "ADDR: an IPv4 address or an IPv6 prefix (2001:db8:1::/56); D: a duration with suffix\n"
          "ms, s, m, h or d (default: the mapping does not expire)\n",
          f);
}

/* "90s", "2h", "1d", "500ms" -> milliseconds; 0 on error. */
static uint64_t parse_duration(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || s[0] == '-')
        return 0;
    static const struct {
        const char *sfx;
        uint64_t ms;
    } u[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 } };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        if (strcmp(end, u[i].sfx) == 0 && v <= UINT64_MAX / u[i].ms / 2)
            return (uint64_t)v * u[i].ms;
    return 0;
}

static void print_time(uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char b[32];
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(b, stdout);
}

static int print_cb(void *ctx, const struct store_sub *e)
{
    if (ctx)
        (*(size_t *)ctx)++;
    printf("%s %s session=%s updated=", e->addr, e->subscriber,
           e->session && e->session[0] ? e->session : "-");
    print_time(e->updated_ms);
    fputs(" expires=", stdout);
    if (e->expires_ms)
        print_time(e->expires_ms);
    else
        fputs("never", stdout);
    fputc('\n', stdout);
    return 0;
}

/* show: exact key; an IPv6 address written without a length: its longest stored prefix. */
static int cmd_show(struct store *s, const char *arg, const struct sub_addr *a)
{
    char err[1024], t[SUB_ADDR_TEXT_MAX];
    sub_addr_format(a, t, sizeof(t));
    int rc = store_sub_get(s, t, print_cb, NULL, err, sizeof(err));
    if (rc == -ENOENT && a->family == 6 && !strchr(arg, '/')) {
        for (int pl = 127; pl >= 0 && rc == -ENOENT; pl--) {
            struct sub_addr p = *a;
            p.plen = (uint8_t)pl;
            for (unsigned b = (unsigned)pl; b < 128; b++)
                p.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
            sub_addr_format(&p, t, sizeof(t));
            rc = store_sub_get(s, t, print_cb, NULL, err, sizeof(err));
        }
        if (rc == -ENOENT)
            snprintf(err, sizeof(err), "store: %s: no subscriber mapping holds %s", store_where(s),
                     arg);
    }
    if (rc < 0)
        fprintf(stderr, "qorgau: %s\n", err);
    return rc < 0 ? 1 : 0;
}

int subs_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "store", required_argument, NULL, 's' },
        { "ttl", required_argument, NULL, 't' },    { "session", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *store_url = NULL, *ttl = NULL, *session = "";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "profile") == 0) /* the subscriber's tariff settings */
            return tariff_cli_subscriber(argc, argv);
    optind = 1;
    int o;
    /* options may come before or after the operands */
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config = optarg; break;
        case 's': store_url = optarg; break;
        case 't': ttl = optarg; break;
        case 'S': session = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    const char *sub = nargs ? args[0] : "";
    bool ok = (strcmp(sub, "set") == 0 && nargs == 3) ||
              ((strcmp(sub, "show") == 0 || strcmp(sub, "del") == 0) && nargs == 2) ||
              (strcmp(sub, "list") == 0 && nargs == 1);
    if (!ok || (ttl && strcmp(sub, "set") != 0)) {
        usage(stderr);
        return CLI_USAGE;
    }
    uint64_t ttl_ms = 0;
    if (ttl && !(ttl_ms = parse_duration(ttl))) {
        fprintf(stderr, "qorgau: --ttl '%s': not a duration (e.g. 90s, 2h, 1d)\n", ttl);
        return CLI_USAGE;
    }
    struct sub_addr a;
    char err[1024], t[SUB_ADDR_TEXT_MAX];
    if (nargs >= 2 && sub_addr_parse(args[1], strlen(args[1]), &a, err, sizeof(err)) != 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        return CLI_USAGE;
    }
    if (nargs >= 2)
        sub_addr_format(&a, t, sizeof(t));
    struct settings *cfg = NULL;
    if (config && !(cfg = settings_load_file(config, err, sizeof(err)))) {
        fprintf(stderr, "qorgau: %s\n", err);
        return 1;
    }
    struct store *s = orders_cli_store_open(store_url, cfg);
    int ret = 1;
    if (!s)
        goto out;
    if (strcmp(sub, "set") == 0) {
        struct store_sub e = { .op = STORE_SUB_SET,
                               .addr = t,
                               .subscriber = args[2],
                               .session = session,
                               .ttl_ms = ttl_ms };
        int rc = store_sub_apply(s, &e, 1, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "qorgau: %s\n", err);
        else
            ret = store_sub_get(s, t, print_cb, NULL, err, sizeof(err)) < 0;
    } else if (strcmp(sub, "show") == 0) {
        ret = cmd_show(s, args[1], &a);
    } else if (strcmp(sub, "del") == 0) {
        /* absent: said so, and status 1 */
        int rc = store_sub_get(s, t, print_cb, NULL, err, sizeof(err));
        if (rc == 0) {
            struct store_sub e = { .op = STORE_SUB_DEL, .addr = t };
            rc = store_sub_apply(s, &e, 1, err, sizeof(err));
        }
        if (rc < 0)
            fprintf(stderr, "qorgau: %s\n", err);
        else
            printf("deleted %s\n", t);
        ret = rc < 0;
    } else {
        size_t n = 0;
        int rc = store_sub_list(s, print_cb, &n, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "qorgau: %s\n", err);
        else
            fprintf(stderr, "%zu mapping(s)\n", n);
        ret = rc < 0;
    }
    store_free(s);
out:
    settings_free(cfg);
    return ret;
}
