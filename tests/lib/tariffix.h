/* tariffix.h - test fixture: a child-tariff table the tests of the modes share.
 *
 * Category `adult` holds adult.example. Profile `child` blocks it; profile `strict` is an
 * allow-list of it alone. Subscriber 77010000001 is on `child`, 77010000002 on `strict`; the
 * table is published, and the subscriber map gives address `addr` to 77010000001. */
#ifndef QG_TARIFFIX_H
#define QG_TARIFFIX_H

#include <stddef.h>

#include "proxy/judge/verdict.h"

struct tariffix {
    struct tariff *t;
    struct submap *m;
    struct verdict_tariff vt; /* { m, t }: engine_config.tariff, inline_config.tariff */
};

/* 0, or -1 with err set (nothing left allocated). */
int tariffix_init(struct tariffix *x, const char *addr, char *err, size_t errlen);
void tariffix_fini(struct tariffix *x);

#endif
