/* divertrules.c - inline mode's diversion rules written from the configuration (divertrules.h).
 * The rule text is that of deploy/nftables-tproxy.nft and deploy/nftables-redirect.nft; here
 * only the ports, the QUIC drop and the interface vary. */
#include "proxy/enforce/divertrules.h"

#include <errno.h>
#include <string.h>

#include "common/version.h"

#define TPROXY_MARK 1 /* the packet mark the policy routing of the comment below delivers locally */

void divertrules_cfg_default(struct divertrules_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->tproxy_port = 15001;
    c->redirect_port = 15002;
    c->drop_quic = true;
}

/* An interface name nft can be given in quotes: 1..15 bytes (IFNAMSIZ - 1), printable, no
 * quote, backslash, slash or space (Linux refuses the last two in names anyway). */
static bool iface_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '/')
            return false;
    }
    return true;
}

const char *divertrules_check(const struct divertrules_cfg *c)
{
    if (c->redirect && !c->redirect_port)
        return "REDIRECT needs inline.redirect_port (it is 0: not listened on)";
    if (!c->redirect && !c->tproxy_port)
        return "TPROXY needs inline.tproxy_port (it is 0: not listened on; --redirect diverts to "
               "inline.redirect_port)";
    if (c->nifaces > DIVERTRULES_IFACES)
        return "at most 16 interfaces";
    for (unsigned i = 0; i < c->nifaces; i++)
        if (!iface_ok(c->ifaces[i]))
            return "an interface name must be 1..15 printable bytes without quotes, backslashes, "
                   "slashes or spaces";
    return NULL;
}

int divertrules_write(FILE *f, const struct divertrules_cfg *c, const char *source)
{
    if (divertrules_check(c))
        return -EINVAL;
    /* `iifname "a" ` or `iifname { "a", "b" } ` before each diverting rule */
    char on[DIVERTRULES_IFACES * 20 + 32] = "";
    if (c->nifaces == 1) {
        snprintf(on, sizeof on, "iifname \"%s\" ", c->ifaces[0]);
    } else if (c->nifaces > 1) {
        size_t k = (size_t)snprintf(on, sizeof on, "iifname { ");
        for (unsigned i = 0; i < c->nifaces; i++)
            k += (size_t)snprintf(on + k, sizeof on - k, "%s\"%s\"", i ? ", " : "", c->ifaces[i]);
        snprintf(on + k, sizeof on - k, " } ");
    }
    unsigned port = c->redirect ? c->redirect_port : c->tproxy_port;
    fprintf(f, "#!/usr/sbin/nft -f\n");
    fprintf(f, "# Inline mode's diversion, written by `qorgau config rules`%s%s (qorgau %s):\n",
            source ? " from " : "", source ? source : "", QORGAU_VERSION);
    fprintf(f, "#   TCP 80/443 %s to port %u (inline.%s_port), %s;\n",
            c->redirect ? "redirected (destination NAT)" : "diverted with TPROXY", port,
            c->redirect ? "redirect" : "tproxy",
            c->nifaces ? "arriving on the interfaces named below" : "every packet routed here");
    fprintf(f, "#   UDP 443 %s.\n",
            c->drop_quic ? "dropped (QUIC: browsers fall back to TCP, where the name is judged)"
                         : "not dropped (inline.quic = pass)");
    if (c->redirect)
        fputs("# What each rule is for: /usr/share/qorgau/nftables-redirect.nft (docs/deploy.md\n"
              "# \"Inline mode\"). Load it with nft -f FILE.\n",
              f);
    else
        fprintf(
            f,
            "# What each rule is for: /usr/share/qorgau/nftables-tproxy.nft (docs/deploy.md\n"
            "# \"Inline mode\"). Load it with nft -f FILE. TPROXY needs packets with mark %d\n"
            "# delivered locally (once at boot):\n"
            "#   ip rule add fwmark %d lookup 100; ip route add local default dev lo table 100\n"
            "#   ip -6 rule add fwmark %d lookup 100; ip -6 route add local default dev lo "
            "table 100\n",
            TPROXY_MARK, TPROXY_MARK, TPROXY_MARK);
    if (c->redirect) {
        fprintf(f,
                "table inet qorgau_nat\ndelete table inet qorgau_nat\ntable inet qorgau_nat {\n"
                "    chain prerouting {\n"
                "        type nat hook prerouting priority dstnat; policy accept;\n"
                "        %stcp dport { 80, 443 } redirect to :%u\n"
                "    }\n",
                on, port);
        if (c->drop_quic)
            fprintf(f,
                    "    chain forward {\n"
                    "        type filter hook forward priority filter; policy accept;\n"
                    "        %sudp dport 443 drop\n"
                    "    }\n",
                    on);
        fputs("}\n", f);
    } else {
        fprintf(f,
                "table inet qorgau\ndelete table inet qorgau\ntable inet qorgau {\n"
                "    chain prerouting {\n"
                "        type filter hook prerouting priority mangle; policy accept;\n"
                "        meta l4proto tcp socket transparent 1 meta mark set %d accept\n"
                "        %smeta nfproto ipv4 tcp dport { 80, 443 } tproxy ip to :%u meta mark "
                "set %d accept\n"
                "        %smeta nfproto ipv6 tcp dport { 80, 443 } tproxy ip6 to :%u meta mark "
                "set %d accept\n",
                TPROXY_MARK, on, port, TPROXY_MARK, on, port, TPROXY_MARK);
        if (c->drop_quic)
            fprintf(f, "        %sudp dport 443 drop\n", on);
        fputs("    }\n}\n", f);
    }
    return (fflush(f) != 0 || ferror(f)) ? -EIO : 0;
}
