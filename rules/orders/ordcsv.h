/* ordcsv.h - imports orders from CSV, one resource a row (columns: docs/orders.md).
 *
 * RFC 4180: comma-separated, fields may be quoted ("a,b" and "say ""hi"""; a quoted field may
 * hold line breaks), CRLF or LF line ends, an optional UTF-8 byte order mark. The first row is a
 * header naming the columns (any order, case-insensitive): id, issuer, issued and resource are
 * required; number, legal_basis, received, category, action, urgent, restores and
 * resource_category are optional. Rows with the same id make one order; its fields come from its
 * first row, later rows may leave them empty but must not contradict them. An empty resource
 * cell declares the order without adding a resource. Blank lines are skipped. */
#ifndef QG_ORDCSV_H
#define QG_ORDCSV_H

#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"

/* Parses buf and appends one record per order id to out (in order of first appearance),
 * stamped as ordjson_parse() does. Returns 0; -EINVAL for a malformed file (no header, unknown or
 * missing column, unterminated quote, a row with the wrong number of fields, a bad order field or
 * a contradiction) with out unchanged and err = "orders: FILE:LINE[:COL]: reason"; or -ENOMEM.
 * A resource that is not a valid entry goes to its order's rejected list ("LINE:COL"). */
int ordcsv_parse(const char *name, const uint8_t *buf, size_t len, int64_t now,
                 struct order_list *out, char *err, size_t errlen);

#endif
