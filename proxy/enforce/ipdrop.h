/* ipdrop.h - the IP entries of the published rule set, dropped by the kernel on every port.
 *
 * An order's IP entry restricts the address, not one service on it. Qorgau judges TCP 80/443
 * and UDP 443 itself (queue mode queues them, inline mode diverts them): a flow there to a listed
 * address is blocked with a reset, a notice or a QUIC drop, and counted as a hit. Everything else
 * the box forwards to such an address - other ports, other protocols - never reaches Qorgau, so
 * the kernel drops it, through an nftables table Qorgau owns (docs/queue.md "IP entries on every
 * port"; `ip.kernel_drop`, `ip.kernel_table`):
 *
 *   table inet T {
 *       counter drops { }
 *       counter cuts { }
 *       set host4 { type ipv4_addr; counter; }                   (hash: addresses)
 *       set net4 { type ipv4_addr; flags interval; counter; }    (prefixes)
 *       set host6 { type ipv6_addr; counter; }
 *       set net6 { type ipv6_addr; flags interval; counter; }
 *       chain forward {
 *           type filter hook forward priority filter - 5; policy accept;
 *           ct mark & 0x10000 == 0x10000 jump passed    (queue mode only: queue.mark_pass)
 *           tcp dport { 80, 443 } return          (Qorgau's own: judged, noticed, counted)
 *           udp dport 443 return                  (queue mode only, as the next two:
 *           tcp sport { 80, 443 } return           its rules queue both directions)
 *           udp sport 443 return
 *           ip daddr @host4 counter name "drops" drop
 *           ip daddr @net4 counter name "drops" drop
 *           ip6 daddr @host6 counter name "drops" drop
 *           ip6 daddr @net6 counter name "drops" drop
 *       }
 *       chain passed {                          (queue mode only)
 *           ct original ip daddr @host4 goto cut
 *           ct original ip daddr @net4 goto cut
 *           ct original ip6 daddr @host6 goto cut
 *           ct original ip6 daddr @net6 goto cut
 *       }
 *       chain cut {
 *           meta l4proto tcp counter name "cuts" reject with tcp reset
 *           counter name "cuts" drop
 *       }
 *   }
 *
 * Queue mode's rules let a passed connection's packets through without Qorgau, for as long as
 * it lasts (the connection mark). One passed before its server's address was listed - a
 * messenger's connection held open for hours, a tunnel on 443 - would outlive the order. Chain
 * `passed` catches its packets, either way (the address it was opened to, from conntrack), and
 * `cut` answers each TCP packet with a reset to its sender (the client and the server both
 * learn it is over) and drops the rest (a QUIC connection: the browser's next attempt is a new
 * Initial, queued and judged). Every other passed packet costs the mark test and the lookups.
 *
 * The sets hold the entries' prefixes without those a shorter one covers (an interval set
 * refuses overlapping elements). Addresses go to hash sets: nft reads and checks a whole
 * interval set at every change of it (0.56 s for one address added to 30,000), a hash set's
 * change costs the same at any size. A new rule set is applied as its difference to what the kernel
 * has, in one transaction (nothing in between is ever visible); when that fails (the table was
 * changed or removed by hand) the whole table is made again, also in one transaction. The
 * kernel side goes through libnftables (nftlib.h).
 *
 * The collecting and the scripts are pure (tested without a kernel); ipdrop_sync() talks to the
 * kernel and needs CAP_NET_ADMIN. One thread uses a struct ipdrop. The drops are counted in the
 * table's named counter `drops` (and per element); ipdrop_read_drops() reads that one object
 * with a netlink NFT_MSG_GETOBJ of its own - any nft listing would fetch the whole table with
 * its elements (0.9 s of CPU at 100k addresses). */
#ifndef QG_IPDROP_H
#define QG_IPDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/match/nat64.h"
#include "rules/match/ruleset.h"

/* The longest table name accepted (letters, digits, '_'). */
#define IPDROP_TABLE_MAX 32

/* One prefix: ver 4 (addr[0..3]) or 6, host bits zero. */
struct ipdrop_prefix {
    uint8_t addr[16];
    uint8_t plen;
    uint8_t ver;
};

/* Sorted by family, address, then length; no element covers another. */
struct ipdrop_list {
    struct ipdrop_prefix *p;
    size_t n, cap;
    size_t n4; /* IPv4 elements (the first n4) */
};

/* True if name is a usable table name (1..IPDROP_TABLE_MAX of [A-Za-z0-9_], not starting with
 * a digit). */
bool ipdrop_table_name_ok(const char *name);

/* Parses the normalized text of an IP entry ("192.0.2.7", "192.0.2.0/24", "2001:db8::/32").
 * Returns 0, or -EINVAL. */
int ipdrop_parse(const char *text, struct ipdrop_prefix *out);

/* The live IP entries of rs into out (emptied first), sorted and reduced. Each IPv4 entry is
 * also listed under the well-known NAT64 prefix and each of n64's (may be NULL), as the IPv6
 * prefix a NAT64 shows it as (rules/match/nat64.h). Returns 0 or -ENOMEM (out is left empty).
 * An entry whose text does not parse (cannot happen for a built set) is counted in *bad (may be
 * NULL) and left out. */
int ipdrop_collect(const struct ruleset *rs, const struct nat64 *n64, struct ipdrop_list *out,
                   size_t *bad);

/* Sorts and reduces a list filled in any order (ipdrop_collect() does it). */
void ipdrop_list_reduce(struct ipdrop_list *l);
/* Appends one prefix (unsorted). Returns 0 or -ENOMEM. */
int ipdrop_list_add(struct ipdrop_list *l, const struct ipdrop_prefix *p);
void ipdrop_list_free(struct ipdrop_list *l);

/* The prefix as nft writes it ("192.0.2.0/24", "198.51.100.7"). buf: at least 64 bytes. */
void ipdrop_format(const struct ipdrop_prefix *p, char *buf, size_t len);

/* Writes the commands that (re)create table T holding `to` (replacing a table of that name, if
 * any) to f. udp443: queue mode, whose rules queue UDP 443 and both directions of TCP 80/443
 * (source or destination port), so the chain leaves those alone; otherwise (inline mode, which
 * diverts only TCP to destination port 80/443 and never sees UDP) the rest is dropped.
 * pass_mark (queue mode's queue.mark_pass; 0: none) adds the chains that cut connections Qorgau
 * passed before their server's address was listed (the top of this file); cut_mark (queue
 * mode's queue.mark_cut; 0: none, or without pass_mark) sends every packet of a connection
 * carrying it to the chain `cut` (Qorgau marks so those it passed before their name was
 * listed: a reset each way instead of a silent drop). */
void ipdrop_script_create(FILE *f, const char *table, bool udp443, uint32_t pass_mark,
                          uint32_t cut_mark, const struct ipdrop_list *to);

/* Writes the commands that turn the sets of table T from `from` into `to` (elements removed
 * first, then those added; nothing when they are equal); *removed, *added get the counts. */
void ipdrop_script_diff(FILE *f, const char *table, const struct ipdrop_list *from,
                        const struct ipdrop_list *to, size_t *removed, size_t *added);

/* The NFT_MSG_GETOBJ request for table T's counter object `name` (family inet) with sequence
 * number seq, into buf. Returns its length, or 0 when cap is too small. */
size_t ipdrop_counter_request(uint8_t *buf, size_t cap, const char *table, const char *name,
                              uint32_t seq);

/* Reads a netlink answer (one datagram: buf, len) to the request of sequence seq. Returns 1 with
 * *packets, *bytes set (a NFT_MSG_NEWOBJ carrying a counter), a negative errno the kernel
 * answered (NLMSG_ERROR), 0 when the datagram holds nothing for seq, or -EBADMSG for a
 * malformed one. Pure; never reads past len. */
int ipdrop_counter_parse(const uint8_t *buf, size_t len, uint32_t seq, uint64_t *packets,
                         uint64_t *bytes);

/* The NFT_MSG_GETSETELEM dump request for the elements of set `set` of table T (family inet)
 * with sequence number seq, into buf. Returns its length, or 0 when cap is too small. */
size_t ipdrop_elems_request(uint8_t *buf, size_t cap, const char *table, const char *set,
                            uint32_t seq);

/* One element of a set, as the kernel lists it: its key (4 or 16 bytes), whether it ends an
 * interval (an interval set lists each prefix as its start and the address after its end), and
 * the counter it carries. */
struct ipdrop_elem {
    uint8_t key[16];
    uint8_t klen;
    bool end;     /* NFT_SET_ELEM_INTERVAL_END */
    bool counted; /* a counter came with it */
    uint64_t packets, bytes;
};
typedef void (*ipdrop_elem_fn)(void *ctx, const struct ipdrop_elem *e);

/* Reads one datagram (buf, len) of the dump answering seq: fn for each element of its
 * NFT_MSG_NEWSETELEM messages. Returns 1 at the dump's end (NLMSG_DONE), 0 when more datagrams
 * follow, a negative errno the kernel answered (NLMSG_ERROR), or -EBADMSG for a malformed one.
 * Both ways a kernel attaches an element's counter are read (NFTA_SET_ELEM_EXPR, and the list
 * NFTA_SET_ELEM_EXPRESSIONS). Pure; never reads past len. */
int ipdrop_elems_parse(const uint8_t *buf, size_t len, uint32_t seq, ipdrop_elem_fn fn, void *ctx);

/* The IP entry whose element p is: p itself, or for an element under a NAT64 prefix (the well-
 * known one, or one of n64's) the IPv4 prefix it maps. Its normalized text, as the rule set and
 * the orders write it, into buf (at least 64 bytes). */
void ipdrop_entry_text(const struct ipdrop_prefix *p, const struct nat64 *n64, char *buf,
                       size_t len);

/* ---- the kernel side ---- */

struct ipdrop;

struct ipdrop_stats {
    size_t elements4, elements6;  /* in the kernel's sets now */
    uint64_t syncs;               /* transactions applied (a change, or the first) */
    uint64_t failures;            /* ipdrop_sync() calls that left the kernel as it was */
    uint64_t rebuilt;             /* times the table had to be made again whole */
    uint64_t packets, bytes;      /* dropped (the counter `drops`, last read) */
    uint64_t cut_packets;         /* of passed connections cut (the counter `cuts`) */
    uint64_t final_reads;         /* element counters read before a change removed elements */
    uint64_t final_read_failures; /* ... that failed: the removed elements' last drops lost */
};

/* Loads libnftables and makes a context for table (checked with ipdrop_table_name_ok()); udp443
 * and pass_mark as for ipdrop_script_create(), n64 (copied; NULL: the well-known prefix only) as for
 * ipdrop_collect(). Nothing is sent to the kernel yet: the first ipdrop_sync()
 * creates the table. Returns NULL with err set. */
struct ipdrop *ipdrop_new(const char *table, bool udp443, uint32_t pass_mark,
                          const struct nat64 *n64, char *err, size_t errlen);

/* queue.mark_cut (ipdrop_script_create()); before the first ipdrop_sync(), which makes the
 * table. */
void ipdrop_set_cut_mark(struct ipdrop *k, uint32_t cut_mark);

/* Makes the kernel's sets hold rs's IP entries (rs NULL: none). The first call (and any after a failure of the
 * difference) replaces the whole table. Returns 0 (*changed: whether anything was sent), or -1
 * with "ip.kernel_drop: table inet T: nft's message" in err and the kernel's sets unchanged.
 * *changed may be NULL. */
int ipdrop_sync(struct ipdrop *k, const struct ruleset *rs, bool *changed, char *err,
                size_t errlen);

/* Reads the counters `drops` and (with a pass mark) `cuts` into the stats (after the first ipdrop_sync()). Returns 0 or -1 with
 * err set. */
int ipdrop_read_drops(struct ipdrop *k, char *err, size_t errlen);

void ipdrop_get_stats(const struct ipdrop *k, struct ipdrop_stats *st);

/* What an element of the kernel's sets dropped since the last call: fn(ctx, entry text, packets,
 * bytes) for each element whose counter grew, the text as ipdrop_entry_text() gives it (several
 * elements may name the same entry: its NAT64 forms). Counters start at 0 with the element: one
 * a change removed and added again, or a table made again whole, starts over. One netlink dump
 * per set (about 60 bytes per element). Returns the elements read, or -1 with err. */
typedef void (*ipdrop_count_fn)(void *ctx, const char *entry, uint64_t packets, uint64_t bytes);
long ipdrop_read_elements(struct ipdrop *k, ipdrop_count_fn fn, void *ctx, char *err,
                          size_t errlen);

/* Before a change (ipdrop_sync()) removes elements, their counters are read once more through
 * fn, as by ipdrop_read_elements(), so what the kernel dropped to a revoked entry since the last
 * reading is not lost with it (the execution report of the order it belonged to). A failed
 * reading is counted (final_read_failures) and the change goes ahead. NULL: no such reading. */
void ipdrop_set_final_reader(struct ipdrop *k, ipdrop_count_fn fn, void *ctx);

/* Frees k; with remove, deletes its table from the kernel first (errors ignored). */
void ipdrop_free(struct ipdrop *k, bool remove);

#endif
