/* order_props.h - what every order importer's fuzz target checks (fuzz_order_json.c,
 * fuzz_order_csv.c, fuzz_order_dump.c include it with ORDER_PARSE set to their importer).
 *
 * Properties: no crash, leak or over-read (the input is copied to an exact-size heap block); a
 * refused file leaves the list as it was and says "orders: fuzz:..."; every record of an
 * accepted file writes canonical JSON that reads back into the same bytes, and the records
 * compile into a rule set whose entries are exactly their distinct resources or fewer. */
#ifndef QG_FUZZ_ORDER_PROPS_H
#define QG_FUZZ_ORDER_PROPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/order.h"
#include "rules/orders/orderset.h"

typedef int (*order_parse_fn)(const char *name, const uint8_t *buf, size_t len, int64_t now,
                              struct order_list *out, char *err, size_t errlen);

static int order_props_run(order_parse_fn parse, const uint8_t *data, size_t size)
{
    char err[512];
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct order_list l = { 0 };
    int rc = parse("fuzz", buf, size, 1800000000, &l, err, sizeof(err));
    free(buf);
    if (rc) {
        if (l.n != 0 || (rc != -12 && strncmp(err, "orders: fuzz", 12) != 0))
            abort();
        order_list_free(&l); /* the array may have grown before the refusal */
        return 0;
    }
    size_t nres = 0;
    for (size_t i = 0; i < l.n; i++) {
        char *j = order_to_json(l.v[i]);
        if (!j)
            abort();
        struct order *o = order_from_json(j, strlen(j), err, sizeof(err));
        if (!o)
            abort();
        char *j2 = order_to_json(o);
        if (!j2 || strcmp(j, j2) != 0)
            abort();
        free(j);
        free(j2);
        order_free(o);
        if (l.v[i]->action == ORDER_RESTRICT)
            nres += l.v[i]->nres;
    }
    struct orderset_stats st;
    struct ruleset *rs =
        orderset_compile((const struct order *const *)l.v, l.n, &st, err, sizeof(err));
    if (rs && (ruleset_entry_count(rs) > nres || st.added + st.lifted != st.claims))
        abort();
    ruleset_free(rs);
    order_list_free(&l);
    return 0;
}

#endif
