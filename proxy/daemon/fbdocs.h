/* fbdocs.h - the IP fallback's per-order documents in the order store, which `qorgau report`
 * reads (docs/reports.md, "Documents"): for every order a resolved address is blocked or held
 * back for,
 *
 *     fallback  {"resources":[{"resource":"x.kz","addresses":["192.0.2.10",...]}]}
 *     risks     {"order":"ID","shared_held_back":[{"resource":"s1.kz","address":"198.51.100.7",
 *                "action":"nameless"}]}
 *
 * built from the fallback report (rules/resolve/fallback.h, format qorgau-fallback/1 in
 * docs/fallback.md). An address is listed under "fallback" when every flow to it is blocked
 * (`blocked[]`, and `held[]` entries whose action is block); under "risks" when the shared
 * address policy holds it back (`nameless`, `report`, protected addresses). */
#ifndef QG_FBDOCS_H
#define QG_FBDOCS_H

#include <stddef.h>

struct store;

/* One order's two documents (NUL-terminated JSON). */
struct fbdoc {
    char *order;
    char *fallback;
    char *risks;
};

/* Builds the documents of every order the report names, sorted by order id. Returns the count
 * (*out to free with fbdocs_free_list) or -EINVAL (not a fallback report; err set) or -ENOMEM. */
int fbdocs_build(const char *report, size_t len, struct fbdoc **out, char *err, size_t errlen);
void fbdocs_free_list(struct fbdoc *v, size_t n);

/* What was written last, so that only changed documents are written again and an order that
 * left the report gets empty documents. */
struct fbdocs;
struct fbdocs *fbdocs_new(void);
void fbdocs_free(struct fbdocs *f);

/* Writes the documents of report that differ from the last call's, and empty ones for the
 * orders it no longer names. Returns the number of documents written, or a negative errno with
 * the message in err (what was not written is tried again at the next call). */
int fbdocs_sync(struct fbdocs *f, struct store *s, const char *report, char *err, size_t errlen);

#endif
