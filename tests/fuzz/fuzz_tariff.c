/* fuzz_tariff.c - libFuzzer target: the child-tariff texts from outside (rules/subs/profile.c:
 * profile and subscriber settings as the store, the CLI and the parents API hand them over;
 * rules/match/catset.c: category list lines; rules/store/store.c: tariff record lines; the
 * profiles and subscribers files, parsed in place: rules/subs/tariff.c tariff_load_file,
 * proxy/daemon/tariffcfg.c; rules/subs/submap.c: subscriber address texts).
 *
 * The first byte picks the parser, the rest is the input. A text accepted by the syntax check
 * must parse against a category set that knows every category it can name ("a".."c"), or be
 * refused there only for an unknown category; a parsed profile's schedules are in range; a
 * record line that parses formats back to the same bytes; a file's definitions and bad lines
 * add up to at most its lines, and a table loaded from it publishes; an address text is taken
 * as IPv4 exactly when inet_pton takes it, and a text with a ':' and no length as the IPv6
 * address inet_pton reads, exactly when it reads one. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "fuzz_files.h"
#include "proxy/daemon/tariffcfg.h"
#include "rules/match/catset.h"
#include "rules/match/rsref.h"
#include "rules/store/store.h"
#include "rules/subs/profile.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catset *g_cs;

static const struct catset *cats(void)
{
    if (!g_cs) {
        struct catset_builder *b = catset_builder_new();
        catset_builder_category(b, "a");
        catset_builder_category(b, "b");
        catset_builder_category(b, "c");
        g_cs = catset_build(b);
    }
    return g_cs;
}

static void check_sched(const struct profile_sched *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (w[i].from >= 1440 || w[i].to > 1440 || !w[i].days || w[i].days > 0x7f)
            abort();
}

/* The rest of the input as the file NAME in the scratch directory; its path, and in *lines its
 * line count (a last line without a newline included). */
static const char *as_file(const char *name, const uint8_t *data, size_t size, size_t *lines)
{
    static char path[160];
    snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir("fuzz_tariff"), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    *lines = size && data[size - 1] != '\n';
    for (size_t i = 0; i < size; i++)
        *lines += data[i] == '\n';
    return path;
}

static void profiles_file(const uint8_t *data, size_t size)
{
    static bool registered;
    if (!registered) {
        rsref_thread_register(); /* (tariff_publish's grace period) */
        registered = true;
    }
    size_t lines, bad = 0;
    const char *path = as_file("profiles", data, size, &lines);
    struct tariff *t = tariff_new("child");
    char err[512];
    int n = tariff_load_file(t, path, NULL, &bad, err, sizeof(err));
    if (n >= 0 && (size_t)n + bad > lines)
        abort(); /* more definitions and bad lines than lines */
    if (n >= 0 && tariff_publish(t, err, sizeof(err)) == -ENOMEM)
        abort();
    struct tariff_req r = { .sub = "s1", .name = "a.test", .name_len = 6 };
    struct tariff_verdict v;
    tariff_judge(t, &r, &v);
    tariff_free(t);
}

static void subscribers_file(const uint8_t *data, size_t size)
{
    size_t lines;
    const char *path = as_file("subscribers", data, size, &lines);
    struct submap *m = submap_new(lines + 1);
    char err[512];
    size_t bad = 0;
    int n = tariffcfg_subscribers_file(m, path, NULL, &bad, err, sizeof(err));
    if (n > 0 && ((size_t)n > lines || submap_count(m) > (size_t)n || (size_t)n + bad > lines))
        abort(); /* more mappings (or mappings and bad lines) than lines */
    submap_free(m);
}

static void address_text(const char *t)
{
    struct sub_addr a;
    char err[256];
    uint8_t want[4];
    int rc = sub_addr_parse(t, strlen(t), &a, err, sizeof(err));
    bool v4 = !strchr(t, '/') && inet_pton(AF_INET, t, want) == 1;
    if (v4 && (rc != 0 || a.family != 4 || memcmp(a.addr, want, 4) != 0))
        abort();
    if (rc == 0 && a.family == 4 && !v4 && !strchr(t, '/'))
        abort(); /* taken as IPv4 where inet_pton does not */
    uint8_t want6[16];
    if (!strchr(t, '/') && strchr(t, ':')) { /* IPv6 (groups read without the library too) */
        bool v6 = inet_pton(AF_INET6, t, want6) == 1;
        if (v6 != (rc == 0))
            abort();
        if (v6 && (a.family != 6 || a.plen != 128 || memcmp(a.addr, want6, 16) != 0))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    char *t = malloc(size);
    if (!t)
        return 0;
    memcpy(t, data + 1, size - 1);
    t[size - 1] = '\0';
    char err[512];
    switch (data[0] % 8) {
    case 0: { /* a profile */
        struct profile p;
        int ok = profile_check(t, false, "profile f", err, sizeof(err));
        int rc = profile_parse("f", t, cats(), &p, err, sizeof(err));
        if (rc == 0) {
            if (ok != 0)
                abort(); /* parsed with categories but refused without */
            check_sched(p.sched, p.nsched);
        } else if (ok == 0 && !strstr(err, "unknown category")) {
            abort();
        }
        break;
    }
    case 1: { /* subscriber settings */
        struct profile_sub s;
        int ok = profile_check(t, true, "subscriber f", err, sizeof(err));
        int rc = profile_sub_parse(t, cats(), &s, err, sizeof(err));
        if (rc == 0) {
            if (ok != 0)
                abort();
            check_sched(s.sched, s.nsched);
            for (unsigned i = 0; i < s.nallow; i++)
                if (!s.allow[i] || !s.allow[i][0])
                    abort();
            profile_sub_clear(&s);
        } else if (ok == 0 && rc != -ENOMEM && !strstr(err, "unknown category")) {
            abort();
        }
        break;
    }
    case 2: { /* a category list line, as a domain and as a URL */
        struct catset_builder *b = catset_builder_new();
        catset_builder_category(b, "x");
        catset_builder_add(b, t, strlen(t), 0, false, err, sizeof(err));
        catset_builder_add(b, t, strlen(t), 0, true, err, sizeof(err));
        struct catset *c = catset_build(b);
        if (c && catset_lookup(c, t, strnlen(t, 253), "/", 1) & ~1ull)
            abort();
        catset_free(c);
        break;
    }
    case 3: { /* a tariff record line */
        struct store_tariff r;
        size_t len = strlen(t);
        char *line = strdup(t);
        if (line && store_tariff_parse(line, &r) == 0) {
            char back[STORE_TARIFF_TEXT_MAX + 256];
            size_t n = store_tariff_format(&r, back, sizeof(back));
            if (len < sizeof(back) && (n != len || memcmp(back, t, len) != 0))
                abort();
        }
        free(line);
        break;
    }
    case 4: profiles_file(data + 1, size - 1); break;
    case 5: subscribers_file(data + 1, size - 1); break;
    default:
        address_text(t);
        if (size - 1 >= 16) { /* a quad read 16 bytes at once and a byte at a time: the same */
            struct sub_addr a, b;
            memset(&a, 0, sizeof(a));
            memset(&b, 0, sizeof(b));
            size_t wide = sub_addr_quad_prefix((const char *)data + 1, 16, &a);
            size_t bytes = sub_addr_quad_prefix((const char *)data + 1, 15, &b);
            if (wide != bytes || memcmp(&a, &b, sizeof(a)) != 0)
                abort();
        }
        break;
    }
    free(t);
    return 0;
}
