/* ordjson.h - imports the project's JSON order format (docs/orders.md, docs/formats.md).
 *
 * One order object, an array of them, or {"orders": [...]}. Every file docs/formats.md accepts
 * is accepted; an order may also carry "number", "action" ("restrict" | "restore"), "urgent"
 * (bool) and "restores" (ids of the orders a restore order lifts); "received" may be left out
 * (it becomes the import time). */
#ifndef QG_ORDJSON_H
#define QG_ORDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"

/* Parses buf (len bytes; name is the file name for messages and the records' source) and
 * appends one record per order to out, stamped with the file's SHA-256 and, where the file gives
 * no received time, now (Unix seconds).
 *
 * Returns 0; or -EINVAL for a malformed file (not JSON, not orders, an order with a missing or
 * bad field, a duplicate id): then out is unchanged and err holds
 * "orders: FILE:LINE:COL: reason"; or -ENOMEM. A resource that is not a valid entry does not
 * make the file malformed: it goes to its order's rejected list with its LINE:COL and reason. */
int ordjson_parse(const char *name, const uint8_t *buf, size_t len, int64_t now,
                  struct order_list *out, char *err, size_t errlen);

#endif
