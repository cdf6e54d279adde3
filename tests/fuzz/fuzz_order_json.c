/* fuzz_order_json.c - libFuzzer target: ordjson_parse() over arbitrary the JSON order format.
 * The properties checked are those of every order importer (order_props.h). */
#include <stddef.h>
#include <stdint.h>

#include "rules/orders/ordjson.h"
#include "tests/fuzz/order_props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return order_props_run(ordjson_parse, data, size);
}
