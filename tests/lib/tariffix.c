/* tariffix.c - the shared child-tariff fixture (see tariffix.h). */
#include "tests/lib/tariffix.h"

#include <stdio.h>
#include <string.h>

#include "rules/match/catset.h"
#include "rules/subs/submap.h"
#include "rules/subs/tariff.h"

int tariffix_init(struct tariffix *x, const char *addr, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    struct catset_builder *cb = catset_builder_new();
    struct sub_addr a;
    if (!cb || catset_builder_category(cb, "adult") != 0 ||
        catset_builder_add(cb, "adult.example", 13, 0, false, err, errlen) != 0) {
        catset_builder_free(cb);
        snprintf(err, errlen, "tariffix: the category set");
        return -1;
    }
    x->t = tariff_new("default");
    x->m = submap_new(16);
    if (!x->t || !x->m) {
        catset_builder_free(cb);
        snprintf(err, errlen, "tariffix: out of memory");
        tariffix_fini(x);
        return -1;
    }
    tariff_set_categories(x->t, catset_build(cb));
    if (tariff_set_profile(x->t, "child", "block=adult", err, errlen) != 0 ||
        tariff_set_profile(x->t, "strict", "allowlist=yes allow=adult", err, errlen) != 0 ||
        tariff_set_sub(x->t, "77010000001", "profile=child", err, errlen) != 0 ||
        tariff_set_sub(x->t, "77010000002", "profile=strict", err, errlen) != 0 ||
        tariff_publish(x->t, err, errlen) != 0 ||
        sub_addr_parse(addr, strlen(addr), &a, err, errlen) != 0 ||
        submap_set(x->m, &a, "77010000001", NULL, 0) != 0) {
        tariffix_fini(x);
        return -1;
    }
    x->vt.subs = x->m;
    x->vt.tariff = x->t;
    return 0;
}

void tariffix_fini(struct tariffix *x)
{
    submap_free(x->m);
    tariff_free(x->t);
    x->m = NULL;
    x->t = NULL;
}
