/* orddump.h - imports the registry dump.xml layout of CIS regulators, and compares two dumps.
 *
 *   <?xml version="1.0" encoding="windows-1251"?>          (or UTF-8)
 *   <register updateTime="...">
 *     <content id="123" includeTime="2017-01-01T10:00:00" blockType="domain-mask" urgencyType="1">
 *       <decision date="2016-12-30" number="2-123/2016" org="Court"/>
 *       <url>http://ex.com/p</url> <domain>ex.com</domain> <ip>192.0.2.1</ip>
 *       <ipSubnet>192.0.2.0/24</ipSubnet> <ipv6>2001:db8::1</ipv6> <ipv6Subnet>2001:db8::/32</ipv6Subnet>
 *     </content> ...
 *   </register>
 *
 * Every <content> is one record with id "dump:<content id>": issuer = decision org, number =
 * decision number, issued = decision date, included = includeTime, urgent = urgencyType "1";
 * every <url>, <domain>, <ip>, <ipSubnet>, <ipv6>, <ipv6Subnet> is a resource; blockType
 * "domain-mask" makes each domain "*.name". Parsed with expat (names by their local part:
 * <reg:register xmlns:reg=...> is a <register>); nothing but buf is read, no entity is declared
 * or expanded, and a document with a DTD is refused (XXE, billion laughs). The encoding comes
 * from the XML declaration (UTF-8 when there is none): UTF-8, UTF-16, ISO-8859-1, US-ASCII or
 * windows-1251, any other refused. Elements nest at most 256 deep; a resource's text (all text
 * inside its element) is at most 10000000 bytes. */
#ifndef QG_ORDDUMP_H
#define QG_ORDDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"

/* Parses buf and appends one record per <content>, stamped as ordjson_parse() does. Returns 0;
 * -EINVAL for a malformed file (not well-formed XML, a DTD, no <register> root, a <content>
 * without an id or a <decision>, a duplicate id, a bad time or blockType, a bound passed) with
 * out unchanged and err = "orders: FILE:LINE[:COL]: reason" (a well-formedness error anywhere
 * is the one reported, before a bad record); or -ENOMEM. A resource that is not a valid entry goes
 * to its record's rejected list, positioned "content[N]/ELEMENT[M] (line L)". */
int orddump_parse(const char *name, const uint8_t *buf, size_t len, int64_t now,
                  struct order_list *out, char *err, size_t errlen);

/* Called while a dump's <content> records are read: done of total so far (a large dump takes
 * seconds; `qorgau order import` shows it on a terminal). */
typedef void (*orddump_progress_fn)(void *ctx, size_t done, size_t total);

/* orddump_parse() calling progress (may be NULL) after each record. With a callback the file
 * is read twice: first to count the records (the total), then to build them. */
int orddump_parse_progress(const char *name, const uint8_t *buf, size_t len, int64_t now,
                           struct order_list *out, orddump_progress_fn progress, void *pctx,
                           char *err, size_t errlen);

/* What a later dump changes, content by content (by id). The arrays point at records of the
 * lists given to orddump_delta() (not owned; valid while those lists are). */
struct orddump_delta {
    const struct order **added; /* in next, not in prev */
    size_t nadded;
    const struct order **changed; /* in both; resources or decision (issuer, number, date) differ */
    size_t nchanged;
    const struct order **removed; /* in prev, not in next */
    size_t nremoved;
    size_t unchanged;
};

/* Compares prev and next. Returns 0 or -ENOMEM; orddump_delta_free() releases the arrays. */
int orddump_delta(const struct order_list *prev, const struct order_list *next,
                  struct orddump_delta *d);
void orddump_delta_free(struct orddump_delta *d);

#endif
