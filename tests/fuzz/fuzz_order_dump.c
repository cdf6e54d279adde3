/* fuzz_order_dump.c - libFuzzer target: orddump_parse() over arbitrary registry dump.xml files.
 * The properties checked are those of every order importer (order_props.h). */
#include <stddef.h>
#include <stdint.h>

#include "rules/orders/orddump.h"
#include "tests/fuzz/order_props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return order_props_run(orddump_parse, data, size);
}
