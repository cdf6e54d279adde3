/* blocknote.c - notice settings, block answers and engine configuration shared by tap and queue
 * mode (see blocknote.h). */
#include "proxy/daemon/blocknote.h"

#include <stdlib.h>
#include <string.h>

#include "proxy/packet/csumpol.h"

struct blocknote *blocknote_new(const struct settings *cfg)
{
    struct blocknote *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->url = strdup(cfg->notice_url ? cfg->notice_url : "");
    n->contact = strdup(cfg->notice_contact ? cfg->notice_contact : "");
    n->contact_url = strdup(cfg->notice_contact_url ? cfg->notice_contact_url : "");
    if (!n->url || !n->contact || !n->contact_url) {
        blocknote_free_chain(n);
        return NULL;
    }
    n->cfg.url = *n->url ? n->url : NULL;
    n->cfg.show_order = cfg->notice_show_order;
    n->https_url = cfg->https_url == SETTINGS_HTTPS_URL_IGNORE ? VERDICT_HTTPS_URL_IGNORE
                                                               : VERDICT_HTTPS_URL_BLOCK_NAME;
    n->cfg.contact = *n->contact ? n->contact : NULL;
    n->cfg.contact_url = *n->contact_url ? n->contact_url : NULL;
    return n;
}

void blocknote_free_chain(struct blocknote *n)
{
    while (n) {
        struct blocknote *o = n->older;
        free(n->url);
        free(n->contact);
        free(n->contact_url);
        free(n);
        n = o;
    }
}

size_t blocknote_response(const struct blocknote *n, const struct engine_event *ev,
                          const char *order, char *url, size_t urlcap, char *resp, size_t respcap)
{
    size_t ul = 0;
    if (ev->url && urlcap) {
        ul = ev->url_len < urlcap - 1 ? ev->url_len : urlcap - 1;
        memcpy(url, ev->url, ul);
    }
    if (urlcap)
        url[ul] = '\0';
    const char *u = ul ? url : NULL;
    enum notice_reason why = notice_reason_of(ev->d.cause); /* regulator, tariff or parental */
    if (*n->url)
        return notice_build_redirect_for(resp, respcap, n->url, u, order, why);
    return notice_build_451_for(resp, respcap, &n->cfg, u, order, why);
}

void blocknote_engine_config(const struct settings *cfg, struct engine_config *ec)
{
    engine_config_default(ec);
    ec->max_flows = (size_t)cfg->flows_max;
    ec->reasm_bytes = (size_t)cfg->reasm_bytes;
    _Static_assert((int)SETTINGS_CHECKSUMS_AUTO == (int)CSUMPOL_AUTO &&
                       (int)SETTINGS_CHECKSUMS_IGNORE == (int)CSUMPOL_IGNORE,
                   "config and csumpol checksum modes differ");
    ec->checksums = cfg->checksums;
    ec->reasm_buffers = (size_t)cfg->reasm_buffers;
    ec->quic_max_datagrams = (uint32_t)cfg->quic_max_datagrams;
    ec->quic_max_bytes = (size_t)cfg->quic_max_bytes;
    ec->policy.https_url = cfg->https_url == SETTINGS_HTTPS_URL_IGNORE
                               ? VERDICT_HTTPS_URL_IGNORE
                               : VERDICT_HTTPS_URL_BLOCK_NAME;
}
