/* fuzz_order_record.c - libFuzzer target: order_from_json() over arbitrary store records.
 * Differential: the scanner of canonical resources (order.c) must give what jansson's tree
 * gives (order_from_json_tree()): both a record, with the same canonical JSON, or both an
 * error, with the same message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char e1[ORDER_ERR_MAX] = "", e2[ORDER_ERR_MAX] = "";
    struct order *a = order_from_json((const char *)data, size, e1, sizeof(e1));
    struct order *b = order_from_json_tree((const char *)data, size, e2, sizeof(e2));
    if (!a != !b) {
        fprintf(stderr, "fast %s, tree %s\n", a ? "parsed" : e1, b ? "parsed" : e2);
        abort();
    }
    if (!a && strcmp(e1, e2) != 0) {
        fprintf(stderr, "errors differ: '%s' / '%s'\n", e1, e2);
        abort();
    }
    if (a) {
        char *ja = order_to_json(a), *jb = order_to_json(b);
        if (ja && jb && strcmp(ja, jb) != 0) {
            fprintf(stderr, "records differ:\n%s\n%s\n", ja, jb);
            abort();
        }
        free(ja);
        free(jb);
    }
    order_free(a);
    order_free(b);
    return 0;
}
