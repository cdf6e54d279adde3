/* craft.c - test helper: hand-built IPv4 / IPv6 / TCP headers and checksums (see craft.h).
 *
 *   IPv4 header (RFC 791)                    TCP header (RFC 9293)
 *   0      ver/ihl, tos, total length        0   source port, destination port
 *   4      identification, flags+offset      4   sequence number
 *   8      ttl, protocol, header checksum    8   acknowledgment number
 *   12/16  source / destination address      12  offset, flags, window
 *                                            16  checksum, urgent pointer
 *   IPv6 header (RFC 8200)                   IPv6 extension header, 8 bytes
 *   0      ver/class/flow label              0   next header, length (8-byte units - 1)
 *   4      payload length, next hdr, hops    2   options: PadN (type 1, length 4, 4 zeros)
 *   8/24   source / destination address      IPv6 fragment header, 8 bytes
 *                                            0   next header, 0, offset (13 bits) | M
 *                                            4   identification
 */
#include "tests/lib/craft.h"

#include <string.h>

void craft_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void craft_put32(uint8_t *p, uint32_t v)
{
    craft_put16(p, v >> 16);
    craft_put16(p + 2, v);
}

uint32_t craft_sum(uint32_t acc, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
    return acc;
}

uint16_t craft_fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

uint32_t craft_pseudo(int ipver, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len)
{
    uint8_t ph[8] = { 0 };
    size_t al = ipver == 4 ? 4 : 16;
    uint32_t acc = craft_sum(craft_sum(0, src, al), dst, al);
    if (ipver == 4) { /* zero, protocol, length */
        ph[1] = proto;
        craft_put16(ph + 2, (uint32_t)len);
        return craft_sum(acc, ph, 4);
    }
    craft_put32(ph, (uint32_t)len); /* length, three zero bytes, next header */
    ph[7] = proto;
    return craft_sum(acc, ph, 8);
}

size_t craft_tcp(uint8_t *out, const struct craft_tcp *t, int ipver, const uint8_t *src,
                 const uint8_t *dst, const void *pl, size_t n)
{
    memset(out, 0, 20);
    craft_put16(out, t->sport);
    craft_put16(out + 2, t->dport);
    craft_put32(out + 4, t->seq);
    craft_put32(out + 8, t->ack);
    out[12] = 0x50;
    out[13] = t->flags;
    craft_put16(out + 14, t->win);
    if (pl && n)
        memcpy(out + 20, pl, n);
    uint32_t acc = craft_pseudo(ipver, src, dst, 6, 20 + n);
    craft_put16(out + 16, craft_fold(craft_sum(acc, out, 20 + n)));
    return 20 + n;
}

size_t craft_ip4(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint16_t id, uint16_t frag,
                 uint8_t proto, const void *pl, size_t n)
{
    memset(out, 0, 20);
    out[0] = 0x45;
    craft_put16(out + 2, (uint32_t)(20 + n));
    craft_put16(out + 4, id);
    craft_put16(out + 6, frag);
    out[8] = 64;
    out[9] = proto;
    memcpy(out + 12, src, 4);
    memcpy(out + 16, dst, 4);
    craft_put16(out + 10, craft_fold(craft_sum(0, out, 20)));
    if (pl && n)
        memcpy(out + 20, pl, n);
    return 20 + n;
}

size_t craft_ip6(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint8_t nh, size_t plen)
{
    memset(out, 0, 40);
    out[0] = 0x60;
    craft_put16(out + 4, (uint32_t)plen);
    out[6] = nh;
    out[7] = 64;
    memcpy(out + 8, src, 16);
    memcpy(out + 24, dst, 16);
    return 40;
}

size_t craft_ext8(uint8_t *out, uint8_t nh)
{
    memset(out, 0, 8);
    out[0] = nh;
    out[2] = 1;
    out[3] = 4;
    return 8;
}

size_t craft_frag6(uint8_t *out, uint8_t nh, size_t off, int more, uint32_t id)
{
    memset(out, 0, 8);
    out[0] = nh;
    craft_put16(out + 2, (uint32_t)(off | (more ? 1 : 0)));
    craft_put32(out + 4, id);
    return 8;
}
