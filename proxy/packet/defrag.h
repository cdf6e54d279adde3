/* defrag.h - bounded IPv4/IPv6 fragment reassembly (EVASION T12, Q4).
 *
 * Every buffer is allocated by defrag_new(); adding a fragment allocates nothing. A completed
 * datagram is rebuilt (IP header from the offset-0 fragment, total/payload length fixed, no
 * fragment bits or fragment header) so the caller can run decode_ip() on it.
 *
 * Overlap policy (Linux >= 4.19, inet_frag_queue_insert()): a fragment wholly inside data already
 * held is a duplicate and is dropped, the datagram kept (first copy wins); a fragment that partly
 * overlaps held data makes the whole datagram be discarded (RFC 5722 for IPv6; Linux does the same
 * for IPv4). docs/reassembly.md has the details. */
#ifndef QG_DEFRAG_H
#define QG_DEFRAG_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/packet/decode.h"

struct defrag_cfg {
    uint32_t max_datagrams; /* datagrams in progress at once (pool size); default 256 */
    uint32_t max_bytes;     /* payload bytes per datagram, <= 65535; default 65535 */
    uint64_t timeout_us;    /* give up on a datagram this long after its first fragment; 30 s */
};

struct defrag_stats {
    uint64_t fragments;   /* fragments offered */
    uint64_t completed;   /* datagrams rebuilt */
    uint64_t duplicates;  /* fragments wholly inside held data: dropped, datagram kept */
    uint64_t overlaps;    /* datagrams discarded for a partial overlap */
    uint64_t timeouts;    /* datagrams discarded on timeout */
    uint64_t evicted;     /* datagrams discarded to make room (pool full) */
    uint64_t too_big;     /* fragment ends past max_bytes: datagram discarded */
    uint64_t bad_len;     /* inconsistent end (two different last fragments, data past the
                               * end, non-last fragment not a multiple of 8): discarded */
    uint64_t hdr_too_big; /* unfragmentable part larger than DEFRAG_HDR_MAX: not kept */
    uint32_t in_progress; /* datagrams held now */
};

#define DEFRAG_HDR_MAX 512 /* room for the IP header (IPv6: plus extension headers) */

struct defrag;

/* Fills cfg with the defaults. */
void defrag_cfg_default(struct defrag_cfg *cfg);

/* Allocates the whole pool (max_datagrams * (max_bytes + DEFRAG_HDR_MAX + bitmap)). cfg NULL =
 * defaults. Returns NULL on bad config or out of memory. The caller owns the result. */
struct defrag *defrag_new(const struct defrag_cfg *cfg);

/* Frees everything; NULL is a no-op. Pointers returned by defrag_add() become invalid. */
void defrag_free(struct defrag *d);

enum defrag_result {
    DEFRAG_HELD = 0, /* kept; the datagram is not complete yet */
    DEFRAG_DONE,     /* *out and *out_len hold the rebuilt datagram */
    DEFRAG_DROPPED,  /* fragment (and maybe its datagram) discarded; a counter says why */
};

/* Adds the fragment p (decode returned DECODE_FRAGMENT; p->l3 must still be valid). Expires
 * datagrams older than the timeout first. On DEFRAG_DONE, *out points to the rebuilt IP
 * datagram inside d; it stays valid until the next call of any defrag_* function on d. */
enum defrag_result defrag_add(struct defrag *d, const struct pkt *p, uint64_t now_us,
                              const uint8_t **out, size_t *out_len);

/* Discards datagrams whose first fragment is older than the timeout (counted in timeouts). */
void defrag_expire(struct defrag *d, uint64_t now_us);

/* Copies the counters. */
void defrag_get_stats(const struct defrag *d, struct defrag_stats *out);

#endif
