/* fuzz_order_csv.c - libFuzzer target: ordcsv_parse() over arbitrary CSV orders.
 * The properties checked are those of every order importer (order_props.h). */
#include <stddef.h>
#include <stdint.h>

#include "rules/orders/ordcsv.h"
#include "tests/fuzz/order_props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return order_props_run(ordcsv_parse, data, size);
}
