/* nat64.c - IPv4 addresses embedded in IPv6 ones by a NAT64 (see nat64.h). */
#include "rules/match/nat64.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const uint8_t nat64_wkp[12] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

int nat64_parse(const char *text, struct nat64 *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0) {
            if (!e)
                break;
            snprintf(err, errlen, "'%s': an empty prefix between commas", text);
            return -EINVAL;
        }
        char item[64];
        if (len >= sizeof(item)) {
            snprintf(err, errlen, "'%.*s...' is not an IPv6 prefix", 40, p);
            return -EINVAL;
        }
        memcpy(item, p, len);
        item[len] = 0;
        char *slash = strchr(item, '/');
        uint8_t a[16];
        if (!slash || strcmp(slash + 1, "96") != 0) {
            snprintf(err, errlen,
                     "'%s' is not a /96 prefix (RFC 6052: the IPv4 address in the "
                     "last 32 bits; other lengths are not supported)",
                     item);
            return -EINVAL;
        }
        *slash = 0;
        if (inet_pton(AF_INET6, item, a) != 1) {
            snprintf(err, errlen, "'%s' is not an IPv6 address", item);
            return -EINVAL;
        }
        if (a[12] | a[13] | a[14] | a[15]) {
            snprintf(err, errlen, "'%s/96' has bits set past the prefix", item);
            return -EINVAL;
        }
        bool known = memcmp(a, nat64_wkp, 12) == 0;
        for (unsigned i = 0; i < out->n && !known; i++)
            known = memcmp(out->pfx[i], a, 12) == 0;
        if (!known) {
            if (out->n == NAT64_MAX) {
                snprintf(err, errlen, "'%s': more than %d prefixes", text, NAT64_MAX);
                return -EINVAL;
            }
            memcpy(out->pfx[out->n++], a, 12);
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

bool nat64_embedded(const struct nat64 *n, const uint8_t v6[16], uint8_t v4[4])
{
    bool hit = memcmp(v6, nat64_wkp, 12) == 0;
    for (unsigned i = 0; n && !hit && i < n->n && i < NAT64_MAX; i++)
        hit = memcmp(v6, n->pfx[i], 12) == 0;
    if (hit)
        memcpy(v4, v6 + 12, 4);
    return hit;
}
