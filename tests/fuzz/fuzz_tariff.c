/* fuzz_tariff.c - libFuzzer target: the child-tariff texts from outside (rules/subs/profile.c:
 * profile and subscriber settings as the store, the CLI and the parents API hand them over;
 * rules/match/catset.c: category list lines; rules/store/store.c: tariff record lines).
 *
 * The first byte picks the parser, the rest is the input. A text accepted by the syntax check
 * must parse against a category set that knows every category it can name ("a".."c"), or be
 * refused there only for an unknown category; a parsed profile's schedules are in range; a
 * record line that parses formats back to the same bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match/catset.h"
#include "rules/store/store.h"
#include "rules/subs/profile.h"

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
    switch (data[0] % 4) {
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
    default: { /* a tariff record line */
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
    }
    free(t);
    return 0;
}
