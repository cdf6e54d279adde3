/* divertrules.h - inline mode's diversion rules written from the configuration (`qorgau config
 * rules` on an inline configuration).
 *
 * Inline mode's proxy listens on inline.tproxy_port (TPROXY: the packets keep their addresses)
 * and inline.redirect_port (REDIRECT: destination NAT to the filter, the original destination
 * read back from conntrack); nftables must divert the subscribers' TCP 80/443 to one of them,
 * and drop UDP 443 unless inline.quic = pass (the proxy handles TCP only; browsers fall back to
 * TCP, where the name is judged). This module writes that nft script for a given set of values.
 * With the defaults it is deploy/nftables-tproxy.nft or deploy/nftables-redirect.nft, rule for
 * rule (tests/unit/enforce/check_divertrules.c compares them); their comments say what each
 * rule is for and the policy routing TPROXY needs. */
#ifndef QG_DIVERTRULES_H
#define QG_DIVERTRULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct divertrules_cfg {
    uint16_t tproxy_port;      /* inline.tproxy_port; 0: not listened on */
    uint16_t redirect_port;    /* inline.redirect_port; 0: not listened on */
    bool redirect;             /* divert with REDIRECT (to redirect_port) instead of TPROXY */
    bool drop_quic;            /* drop UDP 443 (inline.quic is not pass) */
    const char *const *ifaces; /* divert only what arrives on these interfaces (the
                                * subscribers' side); none: every packet the filter routes */
    unsigned nifaces;          /* at most DIVERTRULES_IFACES */
};

#define DIVERTRULES_IFACES 16

/* The shipped TPROXY file's values: ports 15001 / 15002, TPROXY, QUIC dropped, every interface. */
void divertrules_cfg_default(struct divertrules_cfg *c);

/* Checks c: NULL if it can be written, else a message naming the value at fault (static). */
const char *divertrules_check(const struct divertrules_cfg *c);

/* Writes the nft script: a comment naming the values, then the table. source: what they were
 * written from (a file name, shown in the comment: without control characters, which
 * would end the comment line), or NULL. Returns 0, -EINVAL (c fails
 * divertrules_check()) or -EIO. */
int divertrules_write(FILE *f, const struct divertrules_cfg *c, const char *source);

#endif
