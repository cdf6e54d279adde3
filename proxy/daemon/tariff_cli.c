/* tariff_cli.c - profiles and subscriber settings in the store (tariff_cli.h). Texts are
 * checked (rules/subs/profile.h) before they are written; output is one line per record:
 * "profile NAME TEXT" / "subscriber ID TEXT", the profiles file's format. */
#include "proxy/daemon/tariff_cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/orders_cli.h"
#include "proxy/daemon/settings.h"
#include "rules/store/store.h"
#include "rules/subs/profile.h"

#define CLI_USAGE 2

static void usage(FILE *f)
{
    fputs("usage: qorgau profile [-c CONFIG] [--store URL] set NAME [TEXT...] | show NAME | list"
          " | del NAME\n"
          "       qorgau subscriber [-c CONFIG] [--store URL] profile SUB [NAME|TEXT...] [--del]\n"
          "TEXT: docs/profiles.md, e.g. block=adult,gambling sched=games@mon-fri/21:00-07:00\n"
          "      (a subscriber: profile=child pallow=a.test pdeny=b.test sched=...)\n",
          f);
}

static int print_cb(void *ctx, const struct store_tariff *t)
{
    if (ctx)
        (*(size_t *)ctx)++;
    printf("%s %s %s\n", t->kind == STORE_TARIFF_PROFILE ? "profile" : "subscriber", t->name,
           t->text);
    return 0;
}

/* Joins args[0..n) with spaces into out (cap bytes); false when it does not fit. */
static bool join(char *const *args, int n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? " " : "", args[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return false;
        len += (size_t)w;
    }
    return true;
}

/* Parses the common options; *first gets the index of the first operand. */
static int options(int argc, char **argv, const char **config, const char **url, bool *del)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "store", required_argument, NULL, 's' },
        { "del", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': *config = optarg; break;
        case 's': *url = optarg; break;
        case 'd': *del = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    return -1;
}

/* Runs one operation on the store: set (text non-NULL), del, show (get), or list (name NULL). */
static int run(const char *config, const char *url, enum store_tariff_kind kind, const char *name,
               const char *text, bool del)
{
    char err[1024];
    struct settings *cfg = NULL;
    if (config && !(cfg = settings_load_file(config, err, sizeof(err)))) {
        fprintf(stderr, "qorgau: %s\n", err);
        return 1;
    }
    struct store *s = orders_cli_store_open(url, cfg);
    int rc = -1;
    if (s) {
        size_t n = 0;
        if (text || del) {
            struct store_tariff t = { kind, del, name, text };
            rc = store_tariff_apply(s, &t, err, sizeof(err));
            if (rc == 0 && del)
                printf("deleted %s %s\n", kind == STORE_TARIFF_PROFILE ? "profile" : "subscriber",
                       name);
            else if (rc == 0)
                rc = store_tariff_get(s, kind, name, print_cb, NULL, err, sizeof(err));
        } else if (name) {
            rc = store_tariff_get(s, kind, name, print_cb, NULL, err, sizeof(err));
        } else {
            rc = store_tariff_list(s, print_cb, &n, err, sizeof(err));
            if (rc == 0)
                fprintf(stderr, "%zu record(s)\n", n);
        }
        if (rc < 0)
            fprintf(stderr, "qorgau: %s\n", err);
        store_free(s);
    }
    settings_free(cfg);
    return rc < 0;
}

int tariff_cli_profile(int argc, char **argv)
{
    const char *config = NULL, *url = NULL;
    bool del = false;
    int rc = options(argc, argv, &config, &url, &del);
    if (rc >= 0)
        return rc;
    int n = argc - optind;
    char **a = argv + optind;
    const char *op = n ? a[0] : "";
    char text[STORE_TARIFF_TEXT_MAX], err[1024];
    if (strcmp(op, "set") == 0 && n >= 2) {
        char what[64];
        snprintf(what, sizeof(what), "profile %s", a[1]);
        if (!profile_name_valid(a[1])) {
            fprintf(stderr, "qorgau: profile '%s': not a name ([a-z0-9_-], under 32 bytes)\n",
                    a[1]);
            return CLI_USAGE;
        }
        if (!join(a + 2, n - 2, text, sizeof(text)) ||
            profile_check(text, false, what, err, sizeof(err)) < 0) {
            fprintf(stderr, "qorgau: %s\n", text[0] ? err : "profile text too long");
            return CLI_USAGE;
        }
        return run(config, url, STORE_TARIFF_PROFILE, a[1], text, false);
    }
    if ((strcmp(op, "show") == 0 || strcmp(op, "del") == 0) && n == 2)
        return run(config, url, STORE_TARIFF_PROFILE, a[1], NULL, op[0] == 'd');
    if (strcmp(op, "list") == 0 && n == 1)
        return run(config, url, STORE_TARIFF_PROFILE, NULL, NULL, false);
    usage(stderr);
    return CLI_USAGE;
}

int tariff_cli_subscriber(int argc, char **argv)
{
    const char *config = NULL, *url = NULL;
    bool del = false;
    /* options may follow the operands: permute them to the front */
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "store", required_argument, NULL, 's' },
        { "del", no_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config = optarg; break;
        case 's': url = optarg; break;
        case 'd': del = true; break;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    int n = argc - optind;
    char **a = argv + optind;
    if (n < 2 || strcmp(a[0], "profile") != 0 || (del && n != 2)) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (n == 2)
        return run(config, url, STORE_TARIFF_SUB, a[1], NULL, del);
    char text[STORE_TARIFF_TEXT_MAX], err[1024], what[160];
    int off = 0;
    if (!strchr(a[2], '=')) { /* a bare profile name */
        off = snprintf(text, sizeof(text), "profile=%s%s", a[2], n > 3 ? " " : "");
        a++;
        n--;
    }
    snprintf(what, sizeof(what), "subscriber %s", a[1]);
    if (!join(a + 2, n - 2, text + off, sizeof(text) - (size_t)off) ||
        profile_check(text, true, what, err, sizeof(err)) < 0) {
        fprintf(stderr, "qorgau: %s\n", err);
        return CLI_USAGE;
    }
    return run(config, url, STORE_TARIFF_SUB, argv[optind + 1], text, false);
}
