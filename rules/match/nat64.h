/* nat64.h - IPv4 addresses embedded in IPv6 ones by a NAT64 (RFC 6052, /96 prefixes).
 *
 * Behind a NAT64 (and 464XLAT's CLAT on IPv6-only mobile networks) a subscriber reaches the
 * IPv4 address a.b.c.d as the IPv6 address PREFIX::a.b.c.d. A filter on the IPv6 side sees only
 * that, so an order's IPv4 entry is judged against the IPv4 address the IPv6 one embeds: under
 * the well-known prefix 64:ff9b::/96 always (RFC 6052 reserves it for this), and under the
 * operator's own prefixes (`ip.nat64_prefixes`). Only /96 prefixes: the IPv4 address is then
 * the last 32 bits, and an IPv4 prefix maps to one IPv6 prefix (the kernel drop table). */
#ifndef QG_NAT64_H
#define QG_NAT64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAT64_MAX 8 /* network-specific prefixes besides the well-known one */

struct nat64 {
    unsigned n;
    uint8_t pfx[NAT64_MAX][12]; /* the first 96 bits of each */
};

/* The well-known prefix 64:ff9b::/96. */
extern const uint8_t nat64_wkp[12];

/* Parses "P/96[, P/96 ...]" (blanks around commas allowed; "" gives none). Returns 0, or
 * -EINVAL with "'TEXT' ..." in err. The well-known prefix may be listed; it is always used
 * anyway and is not stored. */
int nat64_parse(const char *text, struct nat64 *out, char *err, size_t errlen);

/* If v6 lies under the well-known prefix or one of n's (n may be NULL), writes the embedded
 * IPv4 address to v4 and returns true. Pure, no allocation. */
bool nat64_embedded(const struct nat64 *n, const uint8_t v6[16], uint8_t v4[4]);

#endif
