/* csumpol.c - checksum policy (see csumpol.h). */
#include "proxy/packet/csumpol.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/compiler.h"

enum { SRC_FREE = 0, SRC_LEARNING, SRC_VERIFY, SRC_IGNORE };

struct src {
    uint8_t addr[16];
    uint32_t zone;
    uint8_t ipver;
    uint8_t state;
    uint8_t bad; /* bad checksums in a row while learning */
    uint8_t tag; /* 8 bits of the source's hash that its set's index does not use: the
                  * other ways of a set are told apart by it first */
};

#define WAYS 4 /* a source lives in one of the WAYS slots of its set */
_Static_assert(sizeof(struct src) * WAYS == 96,
               "a set starts at 0 or 32 bytes into a line of the line-aligned table: two lines");

struct csumpol {
    enum csumpol_mode mode;
    struct csumpol_stats st;
    struct src *tab; /* CSUMPOL_SLOTS, sets of WAYS */
    uint64_t seed;   /* random: which set a source lands in cannot be aimed at */
    unsigned hand;   /* rotates the victim among verified sources of a full set */
};

struct csumpol *csumpol_new(enum csumpol_mode m)
{
    struct csumpol *cp = calloc(1, sizeof(*cp));
    if (!cp)
        return NULL;
    cp->mode = m;
    if (m == CSUMPOL_AUTO) {
        /* cache-line aligned: a set (WAYS * 24 = 96 bytes) then spans two lines, the first
         * and last it starts in, which csumpol_prefetch() loads (on malloc's 16-byte alignment
         * half the sets spanned three, their middle line not prefetched) */
        size_t sz = CSUMPOL_SLOTS * sizeof(*cp->tab);
        cp->tab = aligned_alloc(64, sz);
        if (!cp->tab) {
            free(cp);
            return NULL;
        }
        memset(cp->tab, 0, sz);
        if (getrandom(&cp->seed, sizeof cp->seed, GRND_NONBLOCK) != (ssize_t)sizeof cp->seed)
            cp->seed = (uint64_t)(uintptr_t)cp ^ 0x2545f4914f6cdd1dull;
    }
    return cp;
}

void csumpol_free(struct csumpol *cp)
{
    if (!cp)
        return;
    free(cp->tab);
    free(cp);
}

static bool src_is(const struct src *s, const struct pkt *p, uint8_t tag)
{
    if (s->tag != tag)
        return false;
    uint64_t a[2], b[2];
    memcpy(a, s->addr, 16);
    memcpy(b, p->src, 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0 && s->state != SRC_FREE && s->ipver == p->ipver &&
           s->zone == p->zone;
}

#define NSETS (CSUMPOL_SLOTS / WAYS)
_Static_assert(NSETS <= 1 << 16, "a place holds the set's index in 16 bits");

/* Where p's source lives: its tag in bits 0-7, the index of its set above them (bits 32-39
 * and 40.. of its hash). */
static uint32_t src_place(const struct csumpol *cp, const struct pkt *p)
{
    uint64_t w[2];
    memcpy(w, p->src, 16);
    uint64_t h = (cp->seed ^ w[0] ^ (uint64_t)p->zone << 8 ^ p->ipver) * 0x9e3779b97f4a7c15ull;
    h = (h ^ w[1] ^ (h >> 29)) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32) & ((NSETS - 1) << 8 | 0xff);
}

/* p's source entry: found in its set, or made there in a free slot, else in place of a source
 * still learning, else of one in "ignore" (it learns again, and its unfinished checksums are
 * taken meanwhile), else of a verified one (the hand rotates): a flood of new sources cannot
 * single out a verified host and make it learn again. */
static struct src *src_get(struct csumpol *cp, const struct pkt *p, uint32_t place)
{
    struct src *set = &cp->tab[(place >> 8 & (NSETS - 1)) * WAYS];
    uint8_t tag = (uint8_t)place;
    /* one pass: p's source, or the victim's rank by state (free, learning, ignore, verified) */
    static const uint8_t rank_of[4] = {
        [SRC_FREE] = 0, [SRC_LEARNING] = 1, [SRC_IGNORE] = 2, [SRC_VERIFY] = 3
    };
    struct src *victim = NULL;
    int vrank = 99;
    for (int i = 0; i < WAYS; i++) {
        if (src_is(&set[i], p, tag))
            return &set[i];
        int rank = rank_of[set[i].state & 3];
        if (rank < vrank) {
            vrank = rank;
            victim = &set[i];
        }
    }
    if (vrank == 3)
        victim = &set[cp->hand++ % WAYS];
    memcpy(victim->addr, p->src, 16);
    victim->zone = p->zone;
    victim->ipver = p->ipver;
    victim->state = SRC_LEARNING;
    victim->bad = 0;
    victim->tag = tag;
    return victim;
}

static bool take(struct csumpol *cp, struct pkt *p)
{
    p->l4_csum_ok = true;
    cp->st.accepted++;
    return true;
}

uint32_t csumpol_prefetch(const struct csumpol *cp, const struct pkt *p)
{
    if (cp->mode != CSUMPOL_AUTO || p->l4_csum_ok || !p->l4)
        return 0;
    uint32_t place = src_place(cp, p);
    const char *set = (const char *)&cp->tab[(place >> 8) * WAYS];
    __builtin_prefetch(set);
    __builtin_prefetch(set + sizeof(struct src) * WAYS - 1);
    return place + 1;
}

bool csumpol_apply(struct csumpol *cp, struct pkt *p)
{
    return csumpol_apply_hinted(cp, p, 0);
}

bool csumpol_apply_hinted(struct csumpol *cp, struct pkt *p, uint32_t hint)
{
    if (cp->mode == CSUMPOL_VERIFY || p->l4_csum_ok || !p->l4)
        return false;
    if (cp->mode == CSUMPOL_IGNORE)
        return take(cp, p);

    /* where csumpol_prefetch() found p's source, else found now */
    struct src *s = src_get(cp, p, hint ? hint - 1 : src_place(cp, p));
    if (likely(s->state == SRC_VERIFY))
        return false; /* verified lazily where it matters (tcpreasm) */
    if (s->state == SRC_IGNORE)
        return take(cp, p);

    if (p->l4_len > CSUMPOL_LEARN_MAX_BYTES) {
        /* A large packet of a learning source: summing it costs as much as the packet; only
         * the cheap test for offload's shape is made here (the source learns from its small
         * packets: handshakes, ACKs), the rest is verified lazily where it matters. */
        if (!decode_l4_csum_unfinished(p))
            return false;
        if (++s->bad >= CSUMPOL_LEARN) {
            s->state = SRC_IGNORE;
            cp->st.sources_ignore++;
        }
        return take(cp, p);
    }
    cp->st.checked++;
    if (decode_l4_csum_ok(p)) {
        s->state = SRC_VERIFY;
        cp->st.sources_verify++;
        p->l4_csum_ok = true; /* computed: no need to sum it again */
        return false;
    }
    if (++s->bad >= CSUMPOL_LEARN) {
        s->state = SRC_IGNORE;
        cp->st.sources_ignore++;
        return take(cp, p);
    }
    if (decode_l4_csum_unfinished(p))
        return take(cp, p);
    return false;
}

const char *csumpol_mode_name(enum csumpol_mode m)
{
    switch (m) {
    case CSUMPOL_VERIFY: return "verify";
    case CSUMPOL_IGNORE: return "ignore";
    case CSUMPOL_AUTO: return "auto";
    }
    return "unknown";
}

int csumpol_parse(const char *s)
{
    for (int m = CSUMPOL_VERIFY; m <= CSUMPOL_AUTO; m++)
        if (strcmp(s, csumpol_mode_name((enum csumpol_mode)m)) == 0)
            return m;
    return -1;
}

void csumpol_get_stats(const struct csumpol *cp, struct csumpol_stats *out)
{
    *out = cp->st;
}
