/* fuzz_radius.c - libFuzzer target: radius_acct_parse() (rules/subs/radius.c) over arbitrary
 * datagrams, with the secret "testing123".
 *
 * Properties checked: no crash or over-read (the input is copied to an exact-size heap block);
 * a refusal says "radius: offset N: ..." with N within the datagram; every string it returns
 * lies inside the packet; the same bytes re-signed with the secret (radius_acct_build) are
 * accepted exactly when the original was refused only for its authenticator (-EACCES) or
 * accepted; and the response builder always gives 20 bytes with code 5 and the identifier. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/subs/radius.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t SECRET[] = "testing123";

static void in_packet(struct radius_str s, const uint8_t *buf, size_t len)
{
    if (s.p && (s.p < buf || s.p + s.len > buf + len || s.len == 0))
        abort();
}

static void check_out(const struct radius_acct *a, const uint8_t *buf, size_t len)
{
    in_packet(a->session_id, buf, len);
    in_packet(a->user_name, buf, len);
    in_packet(a->calling, buf, len);
    in_packet(a->imsi, buf, len);
    if (a->has_ipv6 && a->ipv6_plen > 128)
        abort();
    if (a->length < RADIUS_HDR || a->length > len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct radius_acct a;
    char err[160];
    int rc = radius_acct_parse(buf, size, SECRET, sizeof(SECRET) - 1, &a, err, sizeof(err));
    if (rc == 0) {
        check_out(&a, buf, size);
    } else {
        unsigned long off = 0;
        if (strncmp(err, "radius: offset ", 15) != 0)
            abort();
        off = strtoul(err + 15, NULL, 10);
        if (off > size)
            abort();
    }
    if (size >= RADIUS_HDR) {
        size_t plen = (size_t)buf[2] << 8 | buf[3];
        if (plen >= RADIUS_HDR && plen <= RADIUS_MAX && plen <= size && buf[0] == 4) {
            static uint8_t pkt[RADIUS_MAX];
            int n = radius_acct_build(buf[1], buf + RADIUS_HDR, plen - RADIUS_HDR, SECRET,
                                      sizeof(SECRET) - 1, pkt, sizeof(pkt));
            if (n != (int)plen)
                abort();
            struct radius_acct b;
            int rc2 =
                radius_acct_parse(pkt, (size_t)n, SECRET, sizeof(SECRET) - 1, &b, err, sizeof(err));
            if ((rc2 == 0) != (rc == 0 || rc == -EACCES))
                abort();
            if (rc2 == 0) {
                check_out(&b, pkt, (size_t)n);
                if (b.status != a.status && rc == 0)
                    abort();
            }
        }
    }
    uint8_t resp[20];
    uint8_t auth[16] = { 0 };
    memcpy(auth, buf, size < 16 ? size : 16);
    uint8_t id = size ? buf[0] : 0;
    if (radius_acct_response(id, auth, SECRET, sizeof(SECRET) - 1, resp, sizeof(resp)) != 20 ||
        resp[0] != 5 || resp[1] != id || resp[3] != 20)
        abort();
    free(buf);
    return 0;
}
