/* nlw.h - test helper: netlink messages written by hand, as the kernel writes its answers
 * (check_ipdrop, check_feedrules). libc only. */
#ifndef QG_NLW_H
#define QG_NLW_H

#include <stddef.h>
#include <stdint.h>

/* Writes attribute (type, data[0..len)) at b + at, padded to 4; the offset past it. type may
 * carry NLA_F_NESTED (0x8000). The caller's buffer must hold it. */
size_t nlw_attr(uint8_t *b, size_t at, uint16_t type, const void *data, size_t len);

/* Writes a netlink header at b (host byte order, as the kernel's). */
void nlw_header(uint8_t *b, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq);

/* Writes the NLMSG_DONE that ends a dump at b (20 bytes: the header and an error field of 0);
 * returns 20. */
size_t nlw_done(uint8_t *b, uint32_t seq);

#endif
