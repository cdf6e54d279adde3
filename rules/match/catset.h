/* catset.h - category lists: which categories (up to 64) a name or URL belongs to.
 *
 * Category lists (rules/lists/catload.h reads them in the squidGuard / UT1 layout) are not
 * regulator entries: they never block on their own, a subscriber's profile decides what a
 * category means (rules/subs/profile.h). Every category of every list compiles into one index;
 * an entry carries a bitmask (bit i = category i), so one lookup returns every category of a
 * name and a profile's decision is a mask test.
 *
 * Domains match like the rule set's domain entries (ex.com matches ex.com and a.ex.com). The
 * masks of all matching suffixes are ORed at build time: the entry a.ex.com carries ex.com's
 * categories too, so the longest matching key alone gives the whole mask. URL entries
 * ("host/path", no scheme, as UT1 writes them) match that host exactly and that path or any
 * path below it at a '/' boundary; the query is ignored. Immutable after build, read without
 * locks, no allocation per lookup. */
#ifndef QG_CATSET_H
#define QG_CATSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATSET_MAX      64 /* categories in one set (bits of the mask) */
#define CATSET_NAME_MAX 32 /* bytes of a category name, NUL included */

struct catset;
struct catset_builder;

struct catset_builder *catset_builder_new(void);
void catset_builder_free(struct catset_builder *b);

/* True for a valid category (and profile) name: [a-z0-9_-], 1..31 bytes. */
bool catset_name_valid(const char *s);

/* The bit of category name (created when new): [a-z0-9_-], 1..31 bytes. Returns the bit
 * (0..63), -EINVAL (bad name), -ENOSPC (64 categories already) or -ENOMEM. */
int catset_builder_category(struct catset_builder *b, const char *name);

/* Adds one list line of len bytes to category bit: a domain ("ex.com", "*.ex.com", "ex.com.")
 * or, when url is true, a URL without scheme ("ex.com/dir/page"; "http://" is accepted too).
 * Blank lines and '#' comments are accepted and ignored (returns 1). Returns 0, 1, -EINVAL with
 * a reason in err, or -ENOMEM. The same name in several categories carries every one. */
int catset_builder_add(struct catset_builder *b, const char *line, size_t len, unsigned bit,
                       bool url, char *err, size_t errlen);

/* Compiles and frees the builder (also on failure). Returns NULL on allocation failure. */
struct catset *catset_build(struct catset_builder *b);
void catset_free(struct catset *c);

/* The categories of a normalized host (norm_host output) and, when path is not NULL, of the
 * URL host + normalized path (query after '?' ignored). c may be NULL (0). No allocation. */
uint64_t catset_lookup(const struct catset *c, const char *host, size_t hlen, const char *path,
                       size_t plen);

/* catset_lookup() of the host hq was made from (domhash_query_init() over the normalized host),
 * with its hashes: a name looked up in the rule set too (ruleset_match_domain_query()) is
 * hashed once. The index stays apart from the rule set's; only the hashing is shared. */
struct domhash_query;
uint64_t catset_lookup_query(const struct catset *c, const struct domhash_query *hq,
                             const char *path, size_t plen);

/* Category names: count, name of a bit (NULL past the count), bit of a name (-1 unknown). */
unsigned catset_categories(const struct catset *c);
const char *catset_name(const struct catset *c, unsigned bit);
int catset_bit(const struct catset *c, const char *name);

/* The name of the lowest bit set in mask, or "" (for logs: the category that blocked). */
const char *catset_first_name(const struct catset *c, uint64_t mask);

/* Entries (distinct domains, distinct URLs) and heap bytes held. */
size_t catset_domains(const struct catset *c);
size_t catset_urls(const struct catset *c);
size_t catset_bytes(const struct catset *c);

/* The set as sections of a compiled image (common/imgfile.h; the tariff image keeps its
 * category set this way). Ids base + 0 .. base + 11 are used, relative to base: 0 the scalars
 * (u64: ncat, then n, nslot, pool_len of the domain table and of the URL table, then the domain
 * index's n, cap, nlines, slot bytes, bloom bytes), 1 the category names (ncat x
 * CATSET_NAME_MAX bytes), 2..5 the domain table's pool, offsets (u32), masks (u64), slots (u32;
 * none in a built set: its domains are found through the domain index), 6..9 the URL table's,
 * 10 and 11 the domain index's slots and bloom lines (domhash_parts()). */
struct imgfile_w;
struct imgfile_r;
#define CATSET_IMAGE_SECTS 16 /* section ids base .. base + 15 are the category set's */

/* Writes c as sections base.. of w (its string tables, its domain index's arrays, its category
 * names). 0 or a negative errno: -ENOMEM, -EEXIST or -E2BIG (imgfile_w_add()), -EINVAL (c NULL,
 * or base + CATSET_IMAGE_SECTS past UINT32_MAX). */
int catset_to_image(const struct catset *c, struct imgfile_w *w, uint32_t base);

/* The category set catset_to_image() wrote at base in r, copied out of r's buffer (r may be
 * freed after). Every value is checked so that a forged file cannot send a lookup outside its
 * arrays; NULL with the reason in err (naming the section) otherwise. */
struct catset *catset_from_image(const struct imgfile_r *r, uint32_t base, char *err,
                                 size_t errlen);

#endif
