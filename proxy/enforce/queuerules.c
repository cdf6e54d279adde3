/* queuerules.c - queue mode's kernel rules written from the configuration (queuerules.h). The
 * rule text is that of deploy/iptables-queue.rules and deploy/nftables-queue.nft, whose
 * comments say what each rule is for; here only the values vary. */
#include "proxy/enforce/queuerules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "common/version.h"

#define RATE_MAX  1000000u /* xt_hashlimit's scale: a rate of at most 10^6 a second */
#define BURST_MAX 1000000u /* xt_hashlimit's largest packet burst */
#define HT_SIZE   65536u   /* hash buckets of each hashlimit table */

void queuerules_cfg_default(struct queuerules_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->queue_first = 0;
    c->queues = 2;
    c->bypass = 1;
    c->mark_pass = 0x10000;
    c->mark_block = 0x20000;
    c->settle_packets = 1024;
    c->new_rate = 1000;
    c->new_burst = 2000;
    c->queued_rate = 10000;
    c->queued_burst = 20000;
    c->sources = 1048576;
    c->expire_ms = 10000;
    c->prefix6 = 64;
}

const char *queuerules_check(const struct queuerules_cfg *c)
{
    if (c->queues < 1 || (uint64_t)c->queue_first + c->queues - 1 > 65535)
        return "the queues (queue.num + workers - 1) run past queue 65535";
    if (!c->mark_pass || !c->mark_block || (c->mark_pass & c->mark_block))
        return "queue.mark_pass and queue.mark_block must be non-zero and disjoint";
    if (c->settle_packets < 1)
        return "queue.settle_packets must be at least 1";
    if (c->new_rate > RATE_MAX || c->queued_rate > RATE_MAX)
        return "a per-source rate is above 1000000 a second (the kernel's hashlimit bound)";
    if ((c->new_rate && (c->new_burst < 1 || c->new_burst > BURST_MAX)) ||
        (c->queued_rate && (c->queued_burst < 1 || c->queued_burst > BURST_MAX)))
        return "a per-source burst is outside 1..1000000 (the kernel's hashlimit bound)";
    if (c->sources < 1)
        return "queue.source_table must be at least 1";
    if (c->expire_ms < 1)
        return "queue.source_expire must be at least 1 ms";
    if (c->prefix6 < 1 || c->prefix6 > 128)
        return "client_prefix6 must be 1..128";
    return NULL;
}

/* "--queue-balance A:B" or "--queue-num A", and the bypass flag */
static void ipt_queue(char *out, size_t n, const struct queuerules_cfg *c)
{
    if (c->queues > 1)
        snprintf(out, n, "-j NFQUEUE --queue-balance %u:%u%s", c->queue_first,
                 c->queue_first + c->queues - 1, c->bypass ? " --queue-bypass" : "");
    else
        snprintf(out, n, "-j NFQUEUE --queue-num %u%s", c->queue_first,
                 c->bypass ? " --queue-bypass" : "");
}

/* one source's hashlimit match: past rate a second after burst, per family */
static void ipt_limit(char *out, size_t n, const struct queuerules_cfg *c, uint32_t rate,
                      uint32_t burst, int v6, const char *name)
{
    snprintf(out, n,
             "-m hashlimit --hashlimit-above %u/sec --hashlimit-burst %u --hashlimit-mode srcip "
             "--hashlimit-srcmask %u --hashlimit-htable-size %u --hashlimit-htable-max %u "
             "--hashlimit-htable-expire %u --hashlimit-name %s%s",
             rate, burst, v6 ? c->prefix6 : 32u, c->sources < HT_SIZE ? c->sources : HT_SIZE,
             c->sources, c->expire_ms, name, v6 ? "6" : "4");
}

static void header(FILE *f, const struct queuerules_cfg *c, const char *source, const char *doc)
{
    fprintf(f, "# Queue mode's rules, written by `qorgau config rules`%s%s (qorgau %s):\n",
            source ? " from " : "", source ? source : "", QORGAU_VERSION);
    if (c->queues > 1)
        fprintf(
            f,
            "#   queues %u..%u (queue.num %u, %u workers), balanced by a hash of the addresses;\n",
            c->queue_first, c->queue_first + c->queues - 1, c->queue_first, c->queues);
    else
        fprintf(f, "#   queue %u (queue.num %u, 1 worker);\n", c->queue_first, c->queue_first);
    fprintf(f, "#   %s\n",
            c->bypass ? "a queue no Qorgau reads lets packets pass (queue.fail = open)"
                      : "a queue no Qorgau reads drops packets (queue.fail = closed)");
    fprintf(f, "#   marks: pass 0x%x, block 0x%x (queue.mark_pass, queue.mark_block; mask 0x%x);\n",
            c->mark_pass, c->mark_block, c->mark_pass | c->mark_block);
    fprintf(f,
            "#   a connection whose server sent %u packets is accepted (queue.settle_packets);\n",
            c->settle_packets);
    fprintf(f, "#   %s;\n",
            c->web_only ? "TCP 80/443 and UDP 443 judged (queue.ports = web)"
                        : "TCP on every port and QUIC-shaped UDP on every port judged (queue.ports "
                          "= all)");
    fprintf(f, "#   one source (an IPv4 address, an IPv6 /%u: client_prefix6):\n", c->prefix6);
    if (c->new_rate)
        fprintf(f, "#     new connections past %u a second after a burst of %u dropped,\n",
                c->new_rate, c->new_burst);
    else
        fprintf(f, "#     new connections not limited,\n");
    if (c->queued_rate)
        fprintf(f, "#     packets to the queues past %u a second after a burst of %u dropped,\n",
                c->queued_rate, c->queued_burst);
    else
        fprintf(f, "#     packets to the queues not limited,\n");
    fprintf(f, "#     %u sources kept per family and table, each %u ms after its last packet\n",
            c->sources, c->expire_ms);
    fprintf(f,
            "#     (queue.source_*).\n# What each rule is for: %s (docs/queue.md \"Rule sets\").\n",
            doc);
}

static int write_iptables(FILE *f, const struct queuerules_cfg *c, const char *source)
{
    uint32_t p = c->mark_pass, b = c->mark_block, m = p | b;
    char q[96], lim[384];
    /* a passed connection's client datagram queued again: one that may begin a new attempt (a
     * long header of type Initial, v1, v2 or draft-29, of any size: one under 1200 bytes, which
     * a compliant server drops, is dropped by Qorgau too - a server that wants to be reached
     * may take it), or one whose headers the u32 test cannot read (IPv4 options; IPv6
     * extension headers) */
    static const char *const again[4] = {
        "-m u32 --u32 \"0>>24=0x45 && 28>>28=0xC:0xD\"",
        "-m u32 --u32 \"0>>24=0x46:0x4F\"",
        "-m u32 --u32 \"0>>28=6 && 4>>8&0xFF=17 && 48>>28=0xC:0xD\"",
        "-m u32 ! --u32 \"0>>28=6 && 4>>8&0xFF=17\"",
    };
    ipt_queue(q, sizeof q, c);
    header(f, c, source, "/usr/share/qorgau/iptables-queue.rules");
    fputs("# Load it for both families, keeping other rules:\n"
          "#   iptables-restore --noflush < FILE\n"
          "#   ip6tables-restore --noflush < FILE\n",
          f);
    if (c->web_only)
        fputs("*filter\n:QORGAU - [0:0]\n"
              "-A FORWARD -p tcp -m multiport --ports 80,443 -j QORGAU\n"
              "-A FORWARD -p udp --dport 443 -j QORGAU\n"
              "-A FORWARD -p udp --sport 443 -j QORGAU\n",
              f);
    else
        fputs("*filter\n:QORGAU - [0:0]\n"
              "-A FORWARD -p tcp -j QORGAU\n"
              "-A FORWARD -p udp -j QORGAU\n",
              f);
    const uint32_t saved[3] = { p, b, m };
    for (int i = 0; i < 3; i++)
        fprintf(f,
                "-A QORGAU -m mark --mark 0x%x/0x%x -j CONNMARK --save-mark --nfmask 0x%x "
                "--ctmask 0x%x\n",
                saved[i], m, m, m);
    fprintf(f, "-A QORGAU -m mark --mark 0x%x/0x%x -j ACCEPT\n", m, m);
    /* a client's datagram: to port 443, or, every port judged, in the connection's
     * original direction */
    const char *cli = c->web_only ? "--dport 443" : "-m conntrack --ctdir ORIGINAL";
    for (int k = 0; k < 4; k++) {
        int v6 = k >= 2;
        const char *u = again[k];
        if (c->queued_rate) {
            ipt_limit(lim, sizeof lim, c, c->queued_rate, c->queued_burst, v6, "qorgau_q");
            fprintf(f,
                    "-%d -A QORGAU -p udp %s -m mark --mark 0x0/0x%x -m connmark --mark "
                    "0x%x/0x%x %s %s -j DROP\n",
                    v6 ? 6 : 4, cli, m, p, m, u, lim);
        }
        fprintf(f,
                "-%d -A QORGAU -p udp %s -m mark --mark 0x0/0x%x -m connmark --mark 0x%x/0x%x "
                "%s %s\n",
                v6 ? 6 : 4, cli, m, p, m, u, q);
    }
    fprintf(f, "-A QORGAU -m connmark --mark 0x%x/0x%x -j ACCEPT\n", p, m);
    fprintf(f, "-A QORGAU -m connmark --mark 0x%x/0x%x -j DROP\n", b, m);
    fprintf(f, "-A QORGAU -m connmark --mark 0x%x/0x%x -m conntrack --ctdir REPLY -j ACCEPT\n", m,
            m);
    fprintf(f,
            "-A QORGAU -m connmark ! --mark 0x%x/0x%x -m connbytes --connbytes %u: "
            "--connbytes-dir reply --connbytes-mode packets -j ACCEPT\n",
            m, m, c->settle_packets);
    if (!c->web_only)
        /* UDP on ports other than 443 that cannot be a QUIC Initial - its first payload byte
         * is not that of a long header of type Initial (v1 0xc0-0xcf, v2 0xd0-0xdf), or the
         * version after it is none the engine reads (v1 0x00000001, v2 0x6b3343cf, draft-29
         * 0xff00001d) - in a packet whose header lengths the u32 test can read (an IPv4 header
         * of 20 bytes; an IPv6 header followed by UDP): DNS, games, calls go by without a
         * crossing. A DNS query whose ID begins with 0xc0-0xdf (one in eight) is no Initial
         * either: the version test keeps it out of the queue, where a datagram no QUIC key
         * opens would wait for the hold bounds. The rest of UDP is queued. */
        fputs("-4 -A QORGAU -p udp -m multiport ! --ports 443 -m u32 --u32 \"0>>24=0x45\" -m u32 "
              "! --u32 \"0>>24=0x45 && 28>>28=0xC:0xD && 29=0x1,0x6b3343cf,0xff00001d\" -j ACCEPT\n"
              "-6 -A QORGAU -p udp -m multiport ! --ports 443 -m u32 --u32 \"0>>28=6 && "
              "4>>8&0xFF=17\" -m u32 ! --u32 \"0>>28=6 && 4>>8&0xFF=17 && 48>>28=0xC:0xD && "
              "49=0x1,0x6b3343cf,0xff00001d\" -j ACCEPT\n",
              f);
    fputs("-A QORGAU -p tcp --tcp-flags RST,FIN,ACK ACK -m u32 --u32 \"0>>24=0x45 && 4&0x3FFF=0\" "
          "-m u32 ! --u32 \"32>>26&0x3C@17=0:0xFFFFFFFF\" -j ACCEPT\n"
          "-A QORGAU -p tcp --tcp-flags RST,FIN,ACK ACK -m u32 --u32 \"0>>28=6 && 4>>8&0xFF=6\" "
          "-m u32 ! --u32 \"52>>26&0x3C@37=0:0xFFFFFFFF\" -j ACCEPT\n"
          "-A QORGAU -p tcp -m conntrack --ctstate INVALID -j DROP\n",
          f);
    for (int v6 = 0; c->new_rate && v6 < 2; v6++) {
        ipt_limit(lim, sizeof lim, c, c->new_rate, c->new_burst, v6, "qorgau_new");
        fprintf(f, "-%d -A QORGAU -m conntrack --ctstate NEW --ctdir ORIGINAL %s -j DROP\n",
                v6 ? 6 : 4, lim);
    }
    for (int v6 = 0; c->queued_rate && v6 < 2; v6++) {
        ipt_limit(lim, sizeof lim, c, c->queued_rate, c->queued_burst, v6, "qorgau_q");
        fprintf(f, "-%d -A QORGAU -m conntrack --ctdir ORIGINAL %s -j DROP\n", v6 ? 6 : 4, lim);
    }
    fprintf(f, "-A QORGAU -p udp %s\n-A QORGAU %s\nCOMMIT\n", q, q);
    return 0;
}

/* an nft meter dropping one source's excess: past rate a second after burst */
static void nft_meter(FILE *f, const struct queuerules_cfg *c, const char *match, uint32_t rate,
                      uint32_t burst, const char *name, int v6, const char *mask6)
{
    char timeout[32];
    if (c->expire_ms % 1000 == 0)
        snprintf(timeout, sizeof timeout, "%us", c->expire_ms / 1000);
    else
        snprintf(timeout, sizeof timeout, "%ums", c->expire_ms);
    fprintf(f,
            "        %smeter %s%s size %u { %s%s timeout %s limit rate over %u/second burst %u "
            "packets } counter drop\n",
            match, name, v6 ? "6" : "4", c->sources, v6 ? "ip6 saddr & " : "ip saddr",
            v6 ? mask6 : "", timeout, rate, burst);
}

static int write_nft(FILE *f, const struct queuerules_cfg *c, const char *source)
{
    uint32_t p = c->mark_pass, b = c->mark_block, m = p | b, keep = ~m;
    uint8_t mb[16] = { 0 };
    for (unsigned i = 0; i < c->prefix6; i++)
        mb[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    char mask6[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, mb, mask6, sizeof mask6))
        return -EINVAL;
    fputs("#!/usr/sbin/nft -f\n", f);
    header(f, c, source, "/usr/share/qorgau/iptables-queue.rules, nftables-queue.nft");
    fputs("# Load it with nft -f FILE (kernels with nft_queue; without it, the queue statement\n"
          "# fails to load: use the iptables-nft form, `qorgau config rules FILE`).\n",
          f);
    fputs("table inet qorgau_queue\ndelete table inet qorgau_queue\ntable inet qorgau_queue {\n"
          "    chain forward {\n"
          "        type filter hook forward priority filter; policy accept;\n",
          f);
    if (c->web_only)
        fputs("        meta l4proto tcp th dport { 80, 443 } jump judge\n"
              "        meta l4proto tcp th sport { 80, 443 } jump judge\n"
              "        meta l4proto udp th dport 443 jump judge\n"
              "        meta l4proto udp th sport 443 jump judge\n",
              f);
    else
        fputs("        meta l4proto { tcp, udp } jump judge\n", f);
    fputs("    }\n"
          "    chain judge {\n",
          f);
    const uint32_t saved[3] = { p, b, m };
    for (int i = 0; i < 3; i++)
        fprintf(f, "        meta mark & 0x%x == 0x%x ct mark set ct mark & 0x%x | 0x%x\n", m,
                saved[i], keep, saved[i]);
    fprintf(f, "        meta mark & 0x%x == 0x%x accept\n", m, m);
    fprintf(f,
            "        meta mark & 0x%x == 0 ct mark & 0x%x == 0x%x %s @th,64,4 { 12, 13 } goto "
            "to_queue\n",
            m, m, p, c->web_only ? "udp dport 443" : "ct direction original meta l4proto udp");
    fprintf(f, "        ct mark & 0x%x == 0x%x accept\n", m, p);
    fprintf(f, "        ct mark & 0x%x == 0x%x drop\n", m, b);
    fprintf(f, "        ct mark & 0x%x == 0x%x ct direction reply accept\n", m, m);
    fprintf(f, "        ct mark & 0x%x != 0x%x ct reply packets >= %u accept\n", m, m,
            c->settle_packets);
    if (!c->web_only)
        fputs("        udp sport != 443 udp dport != 443 @th,64,4 != { 12, 13 } accept\n"
              "        udp sport != 443 udp dport != 443 @th,72,32 != { 0x1, 0x6b3343cf, "
              "0xff00001d } accept\n",
              f);
    fputs("        meta l4proto udp goto to_queue\n"
          "        meta l4proto tcp @ih,0,1 { 0, 1 } goto queue_tcp\n"
          "        tcp flags & (fin | rst | ack) == ack accept\n"
          "        goto queue_tcp\n"
          "    }\n"
          "    chain queue_tcp {\n"
          "        ct state invalid drop\n"
          "        goto to_queue\n"
          "    }\n"
          "    chain to_queue {\n",
          f);
    for (int v6 = 0; c->new_rate && v6 < 2; v6++)
        nft_meter(f, c, "ct state new ct direction original ", c->new_rate, c->new_burst,
                  "qorgau_new", v6, mask6);
    for (int v6 = 0; c->queued_rate && v6 < 2; v6++)
        nft_meter(f, c, "ct direction original ", c->queued_rate, c->queued_burst, "qorgau_q", v6,
                  mask6);
    fprintf(f, "        queue %sto %u", c->bypass ? "flags bypass " : "", c->queue_first);
    if (c->queues > 1)
        fprintf(f, "-%u", c->queue_first + c->queues - 1);
    fputs("\n    }\n}\n", f);
    return 0;
}

int queuerules_write(FILE *f, const struct queuerules_cfg *c, enum queuerules_format fmt,
                     const char *source)
{
    if (queuerules_check(c))
        return -EINVAL;
    int rc = fmt == QUEUERULES_NFT ? write_nft(f, c, source) : write_iptables(f, c, source);
    if (rc == 0 && (fflush(f) != 0 || ferror(f)))
        rc = -EIO;
    return rc;
}
