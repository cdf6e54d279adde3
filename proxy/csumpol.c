/* csumpol.c - checksum policy (see csumpol.h). */
#include "csumpol.h"

#include <stdlib.h>
#include <string.h>

#include "compiler.h"

enum { SRC_FREE = 0, SRC_LEARNING, SRC_VERIFY, SRC_IGNORE };

struct src {
    uint8_t addr[16];
    uint32_t zone;
    uint8_t ipver;
    uint8_t state;
    uint8_t bad;             /* bad checksums in a row while learning */
};

struct csumpol {
    enum csumpol_mode mode;
    struct csumpol_stats st;
    struct src *tab;         /* CSUMPOL_SLOTS */
};

struct csumpol *csumpol_new(enum csumpol_mode m)
{
    struct csumpol *cp = calloc(1, sizeof(*cp));
    if (!cp)
        return NULL;
    cp->mode = m;
    if (m == CSUMPOL_AUTO) {
        cp->tab = calloc(CSUMPOL_SLOTS, sizeof(*cp->tab));
        if (!cp->tab) {
            free(cp);
            return NULL;
        }
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

static uint32_t src_slot(const struct pkt *p)
{
    uint64_t w[2];
    memcpy(w, p->src, 16);
    uint64_t h = (w[0] ^ (uint64_t)p->zone << 8 ^ p->ipver) * 0x9e3779b97f4a7c15ull;
    h = (h ^ w[1] ^ (h >> 29)) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 40) & (CSUMPOL_SLOTS - 1);
}

static bool take(struct csumpol *cp, struct pkt *p)
{
    p->l4_csum_ok = true;
    cp->st.accepted++;
    return true;
}

bool csumpol_apply(struct csumpol *cp, struct pkt *p)
{
    if (cp->mode == CSUMPOL_VERIFY || p->l4_csum_ok || !p->l4)
        return false;
    if (cp->mode == CSUMPOL_IGNORE)
        return take(cp, p);

    struct src *s = &cp->tab[src_slot(p)];
    if (s->state == SRC_FREE || s->ipver != p->ipver || s->zone != p->zone ||
        memcmp(s->addr, p->src, 16) != 0) {
        memcpy(s->addr, p->src, 16);
        s->zone = p->zone;
        s->ipver = p->ipver;
        s->state = SRC_LEARNING;
        s->bad = 0;
    }
    if (likely(s->state == SRC_VERIFY))
        return false;   /* verified lazily where it matters (tcpreasm) */
    if (s->state == SRC_IGNORE)
        return take(cp, p);

    cp->st.checked++;
    if (decode_l4_csum_ok(p)) {
        s->state = SRC_VERIFY;
        cp->st.sources_verify++;
        p->l4_csum_ok = true;   /* computed: no need to sum it again */
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
