/* blocknote.h - what the modes that answer blocks themselves (tap, queue) share: the notice
 * settings, replaced whole on reload, the HTTP answer to a blocked request built from them, and
 * the engine configuration taken from the settings. */
#ifndef QG_BLOCKNOTE_H
#define QG_BLOCKNOTE_H

#include <stddef.h>

#include "proxy/daemon/settings.h"
#include "proxy/enforce/notice.h"
#include "proxy/engine/engine.h"

/* The notice builders' settings. A reload publishes a new one (atomic pointer) and links the old
 * one as `older`: a worker may still read it, so the chain is freed only at close. */
struct blocknote {
    struct blocknote *older;
    enum verdict_https_url https_url; /* the engines' policy follows it on reload */
    char *url;                        /* "" = 451 page */
    char *contact, *contact_url;
    struct notice_config cfg;
};

/* A copy of cfg's notice.* and https_url. Returns NULL when out of memory. */
struct blocknote *blocknote_new(const struct settings *cfg);

/* Frees n and every older one. NULL is a no-op. */
void blocknote_free_chain(struct blocknote *n);

/* The HTTP response for a blocked request ev: 302 to n's notice URL when there is one, else the
 * 451 page, naming ev's URL (copied NUL-terminated into url, urlcap bytes, cut to fit) and order
 * (may be NULL). Written into resp (respcap bytes). Returns its length, 0 when it does not fit. */
size_t blocknote_response(const struct blocknote *n, const struct engine_event *ev,
                          const char *order, char *url, size_t urlcap, char *resp, size_t respcap);

/* Fills ec with the defaults and the engine keys of cfg (flows.max, reasm.*, checksums, quic.*,
 * https_url). policy.notice_url is left NULL: the mode sets it. */
void blocknote_engine_config(const struct settings *cfg, struct engine_config *ec);

#endif
