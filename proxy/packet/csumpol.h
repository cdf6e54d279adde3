/* csumpol.h - which TCP/UDP checksums to verify: verify | ignore | auto.
 *
 * Captures taken on a sending host carry that host's outgoing packets with unfinished checksums
 * (checksum offload leaves the pseudo-header sum in the field) and anonymisers zero them; a
 * filter that drops every bad checksum as a possible fake (T5) then never names those flows.
 *
 *   verify: every checksum that matters is verified (tcpreasm asks decode_l4_csum_ok()).
 *   ignore: no checksum is verified; every packet is taken (p->l4_csum_ok set).
 *   auto:   per source (zone + address, the host whose NIC computes the checksum), the first
 *           packets decide. A source's first packet with a good checksum puts it in "verify"
 *           for good: a fake with a bad checksum among its good packets stays set aside.
 *           CSUMPOL_LEARN bad checksums in a row from a new source put it in "ignore": its
 *           checksums are not verified from then on. While a source is still learning, a bad
 *           checksum that has the shape offload or anonymisers leave (zero, or the bare
 *           pseudo-header sum) is taken at once, so the first packets of the capturing host's
 *           flows are not lost; any other bad checksum is set aside. Only packets up to
 *           CSUMPOL_LEARN_MAX_BYTES are summed while learning (the cost of a sum is the
 *           packet's size); larger ones get only the shape test, and are otherwise verified
 *           lazily where it matters, as under verify.
 *
 * Sources live in a fixed table of 4-way sets chosen by a randomly seeded hash (no allocation
 * per packet). A new source in a full set replaces one still learning, else one in "ignore",
 * else a verified one; the replaced source learns again when it returns. */
#ifndef QG_CSUMPOL_H
#define QG_CSUMPOL_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/packet/decode.h"

enum csumpol_mode { CSUMPOL_VERIFY = 0, CSUMPOL_IGNORE, CSUMPOL_AUTO };

#define CSUMPOL_LEARN 8    /* bad checksums in a row that put a new source in "ignore" */
#define CSUMPOL_SLOTS 4096 /* sources remembered (power of two) */
#define CSUMPOL_LEARN_MAX_BYTES \
    128 /* a learning source's checksum is summed only on packets
                                     * up to this size (TCP/UDP header included); larger ones
                                     * get only the cheap offload-shape test */

struct csumpol_stats {
    uint64_t checked;        /* checksums computed while sources were learning */
    uint64_t accepted;       /* packets taken without a good checksum: not verified
                                  * (ignore, or a source in "ignore") or bad and taken */
    uint64_t sources_verify; /* sources that showed a good checksum */
    uint64_t sources_ignore; /* sources switched to "ignore" */
};

struct csumpol;

/* Returns a policy in mode m, or NULL on allocation failure. Caller owns it. */
struct csumpol *csumpol_new(enum csumpol_mode m);

/* Frees cp; NULL is a no-op. */
void csumpol_free(struct csumpol *cp);

/* Applies the policy to p, a decoded TCP/UDP packet (DECODE_OK) whose frame is alive: sets
 * p->l4_csum_ok when the policy takes the packet without (or despite) its checksum, and when it
 * computed the checksum and found it good. Leaves it false when the checksum is still to be
 * verified or was found bad and is not taken. Returns true when the packet was taken under the
 * policy (counted in accepted). */
bool csumpol_apply(struct csumpol *cp, struct pkt *p);

/* Prefetches what csumpol_apply() will read for p (the set of its source, in auto mode): a
 * hint for a reader that decodes packets ahead, no effect on results. Returns where p's source
 * lives, for csumpol_apply_hinted() on the same p (so it is not hashed twice); 0: nothing
 * found (not auto mode, or nothing to look up). */
uint32_t csumpol_prefetch(const struct csumpol *cp, const struct pkt *p);

/* csumpol_apply() with hint, what csumpol_prefetch() returned for p on cp (0: none, looked up
 * here). */
bool csumpol_apply_hinted(struct csumpol *cp, struct pkt *p, uint32_t hint);

/* "verify", "ignore", "auto"; csumpol_parse returns the mode or -1. */
const char *csumpol_mode_name(enum csumpol_mode m);
int csumpol_parse(const char *s);

void csumpol_get_stats(const struct csumpol *cp, struct csumpol_stats *out);

#endif
