/* fuzz_loader.c - list files (plain or JSON orders) into a builder, then build and query.
 *
 * Properties checked: no crash, leak or over-read; counts add up (every resource is either
 * added, a duplicate or an error); every added entry matches itself after the build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/lists/loader.h"
#include "rules/match/normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ruleset_builder *b = ruleset_builder_new();
    if (!b)
        return 0;
    struct loader_stats st;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = loader_load_buffer(b, "fuzz", (const char *)data, size, devnull, &st);
    if (devnull)
        fclose(devnull);
    size_t dups = ruleset_builder_dups(b);
    if (rc == 0 && (st.added + dups > st.lines || st.lines > st.added + dups + st.errors))
        abort();
    struct ruleset *rs = ruleset_build(b);
    if (!rs)
        return 0;
    size_t n = ruleset_entry_count(rs);
    if (rc == 0 && n != st.added)
        abort();
    for (uint32_t e = 0; e < n && e < 64; e++) {
        const char *t = ruleset_entry_text(rs, e);
        struct rule_match m;
        if (ruleset_entry_kind(rs, e) == RULE_DOMAIN) {
            if (!ruleset_match_domain(rs, t, strlen(t), &m))
                abort();
        } else if (ruleset_entry_kind(rs, e) == RULE_URL) {
            const char *h = strstr(t, "://");
            if (!h)
                abort();
            h += 3;
            char host[NORM_HOST_MAX + 2];
            size_t hl = strcspn(h, "/");
            if (hl >= sizeof(host))
                abort();
            memcpy(host, h, hl);
            host[hl] = '\0';
            const char *hp = host;
            if (host[0] == '[') { /* an IPv6 host is written in brackets */
                host[hl - 1] = '\0';
                hp = host + 1;
                hl -= 2;
            }
            /* on TLS only https:// entries name a host to block whole */
            if (strncmp(t, "https://", 8) == 0 && !ruleset_match_url_host(rs, hp, hl, &m))
                abort();
            const char *p = h + strcspn(h, "/");
            size_t plen = strlen(p);
            if (plen && p[plen - 1] == '*')
                plen--;
            if (!ruleset_match_url(rs, hp, hl, p, plen, &m))
                abort();
        }
    }
    ruleset_free(rs);
    return 0;
}
