/* check_catset.c - Check suite for category sets (rules/match/catset.c) and the UT1 / squidGuard
 * tree loader (rules/lists/catload.c): masks of names in several categories, suffix masks ORed
 * (a category entry ex.com and another a.ex.com), URL entries at '/' boundaries, bad lines
 * reported and skipped, category names, the 64-category limit; the lookup with the name's
 * suffixes hashed once (catset_lookup_query()) against the plain one on random names; the set
 * written as image sections and read back (catset_to_image(), catset_from_image()): the same
 * answers as the original on random names and paths, the empty set, every section missing, cut
 * short or holding an out-of-range value refused with its name, random damage never a crash. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/imgfile.h"
#include "rules/lists/catload.h"
#include "rules/match/catset.h"
#include "rules/match/domhash.h"
#include "tests/lib/rnd.h"
#include "tests/lib/tmpdir.h"

static uint64_t look(const struct catset *c, const char *host, const char *path)
{
    return catset_lookup(c, host, strlen(host), path, path ? strlen(path) : 0);
}

static void add(struct catset_builder *b, const char *line, unsigned bit, bool url)
{
    char err[256];
    int rc = catset_builder_add(b, line, strlen(line), bit, url, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: %s", line, err);
}

START_TEST(masks_and_suffixes)
{
    struct catset_builder *b = catset_builder_new();
    ck_assert_int_eq(catset_builder_category(b, "adult"), 0);
    ck_assert_int_eq(catset_builder_category(b, "games"), 1);
    ck_assert_int_eq(catset_builder_category(b, "gambling"), 2);
    ck_assert_int_eq(catset_builder_category(b, "games"), 1);
    ck_assert_int_eq(catset_builder_category(b, "Bad Name"), -EINVAL);
    add(b, "ex.test", 1, false);
    add(b, "a.ex.test", 2, false);
    add(b, "*.Casino.TEST.", 2, false);
    add(b, "casino.test", 1, false); /* the same name in a second category */
    add(b, "cdn.test/adult", 0, true);
    add(b, "http://cdn.test/x/y/", 0, true);
    add(b, "whole.test", 0, true);
    char err[256];
    ck_assert_int_eq(catset_builder_add(b, "  # comment", 11, 0, false, err, sizeof(err)), 1);
    ck_assert_int_eq(catset_builder_add(b, "", 0, 0, false, err, sizeof(err)), 1);
    ck_assert_int_eq(catset_builder_add(b, "bad name.test", 13, 0, false, err, sizeof(err)),
                     -EINVAL);
    ck_assert_int_eq(catset_builder_add(b, "10.0.0.1", 8, 0, false, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "address"));
    ck_assert_int_eq(catset_builder_add(b, "x.test", 6, 9, false, err, sizeof(err)), -EINVAL);
    struct catset *c = catset_build(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(catset_domains(c), 3);
    ck_assert_uint_eq(catset_urls(c), 3);
    ck_assert_uint_eq(look(c, "ex.test", NULL), 2);
    ck_assert_uint_eq(look(c, "b.ex.test", NULL), 2);
    ck_assert_uint_eq(look(c, "a.ex.test", NULL), 2 | 4); /* its own and ex.test's */
    ck_assert_uint_eq(look(c, "z.a.ex.test", NULL), 2 | 4);
    ck_assert_uint_eq(look(c, "notex.test", NULL), 0);
    ck_assert_uint_eq(look(c, "www.casino.test", NULL), 2 | 4);
    ck_assert_uint_eq(look(c, "cdn.test", NULL), 0);
    ck_assert_uint_eq(look(c, "cdn.test", "/adult"), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/adult/p.html?q=1"), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/adultx"), 0);
    ck_assert_uint_eq(look(c, "cdn.test", "/x/y"), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/x"), 0);
    ck_assert_uint_eq(look(c, "whole.test", "/anything"), 1);
    ck_assert_uint_eq(look(c, "whole.test", NULL), 1);
    ck_assert_uint_eq(look(c, "sub.whole.test", "/"), 0);
    ck_assert_str_eq(catset_name(c, 2), "gambling");
    ck_assert_ptr_null(catset_name(c, 3));
    ck_assert_int_eq(catset_bit(c, "games"), 1);
    ck_assert_int_eq(catset_bit(c, "nope"), -1);
    ck_assert_str_eq(catset_first_name(c, 4 | 2), "games");
    ck_assert_str_eq(catset_first_name(c, 0), "");
    ck_assert_uint_eq(catset_categories(c), 3);
    ck_assert_uint_gt(catset_bytes(c), 0);
    ck_assert_uint_eq(catset_lookup(NULL, "ex.test", 7, NULL, 0), 0);
    catset_free(c);
}
END_TEST

START_TEST(limit_64)
{
    struct catset_builder *b = catset_builder_new();
    for (int i = 0; i < 64; i++) {
        char n[16];
        snprintf(n, sizeof(n), "c%d", i);
        ck_assert_int_eq(catset_builder_category(b, n), i);
        char d[32];
        snprintf(d, sizeof(d), "n%d.test", i);
        add(b, d, (unsigned)i, false);
        add(b, "all.test", (unsigned)i, false);
    }
    ck_assert_int_eq(catset_builder_category(b, "c64"), -ENOSPC);
    struct catset *c = catset_build(b);
    ck_assert_uint_eq(look(c, "all.test", NULL), UINT64_MAX);
    ck_assert_uint_eq(look(c, "n63.test", NULL), 1ull << 63);
    catset_free(c);
}
END_TEST

START_TEST(ut1_tree)
{
    struct catset_builder *b = catset_builder_new();
    char err[256];
    struct catload_stats st;
    char *buf = NULL;
    size_t blen = 0;
    FILE *errs = open_memstream(&buf, &blen);
    int rc = catload_dir(b, "tests/fixtures/categories", errs, &st, err, sizeof(err));
    fclose(errs);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(st.categories, 4);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_ptr_nonnull(strstr(buf, "categories: tests/fixtures/categories/adult/domains:4:"));
    free(buf);
    struct catset *c = catset_build(b);
    ck_assert_str_eq(catset_name(c, 0), "adult"); /* folders in name order */
    ck_assert_str_eq(catset_name(c, 1), "gambling");
    int gam = catset_bit(c, "gambling"), gm = catset_bit(c, "games");
    ck_assert_uint_eq(look(c, "www.casino.test", NULL), (1ull << gam) | (1ull << gm));
    ck_assert_uint_eq(look(c, "a.xxx-pics.test", NULL), 1);
    ck_assert_uint_eq(look(c, "cdn.test", "/adult/1.jpg"), 1);
    ck_assert_uint_eq(look(c, "kids.test", NULL), 1ull << catset_bit(c, "kids"));
    catset_free(c);

    b = catset_builder_new();
    ck_assert_int_lt(catload_dir(b, "tests/fixtures/categories/none", NULL, NULL, err, sizeof(err)),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "categories/none"));
    catset_builder_free(b);
}
END_TEST

/* Names over a small alphabet so that random queries often fall under listed names; deep
 * names (past DOMHASH_QUERY_MAX labels) now and then. */
static const char *const LABELS[] = { "q", "w", "qw", "com", "kz", "xn--p1ai", "abcdefghijk" };
static const struct rnd_alpha ALPHA = {
    .labels = LABELS, .nlabels = 7, .seps = ".", .max_parts = 4, .deep_one_in = 10, .deep_parts = 40
};

/* [a-z0-9_-], 1..31 bytes: every byte value tried in a name of one byte and at the end of a
 * longer one, and the length limits */
START_TEST(name_rules)
{
    for (unsigned c = 1; c < 256; c++) {
        bool want = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        char one[2] = { (char)c, 0 }, tail[5] = { 'k', 'i', 'd', (char)c, 0 };
        ck_assert_msg(catset_name_valid(one) == want, "byte %u", c);
        ck_assert_msg(catset_name_valid(tail) == want, "byte %u at the end", c);
    }
    char n[40];
    memset(n, 'a', sizeof(n));
    n[31] = '\0';
    ck_assert(catset_name_valid(n)); /* 31 bytes */
    n[31] = 'a';
    n[32] = '\0';
    ck_assert(!catset_name_valid(n)); /* 32 */
    ck_assert(!catset_name_valid(""));
}
END_TEST

START_TEST(query_vs_plain)
{
    static char names[200][128];
    size_t checks = 0, found = 0;
    for (int round = 0; round < 40; round++) {
        struct catset_builder *b = catset_builder_new();
        for (unsigned i = 0; i < 8; i++) {
            char n[8];
            snprintf(n, sizeof(n), "c%u", i);
            ck_assert_int_eq(catset_builder_category(b, n), (int)i);
        }
        size_t m = rnd_distinct(&ALPHA, names[0], sizeof(names[0]), 1 + rnd_below(150));
        for (size_t i = 0; i < m; i++) {
            char line[160];
            bool url = rnd_below(4) == 0;
            snprintf(line, sizeof(line), url ? "%s/d%u" : "%s", names[i], rnd_below(3));
            add(b, line, rnd_below(8), url);
        }
        struct catset *c = catset_build(b);
        ck_assert_ptr_nonnull(c);
        for (int qi = 0; qi < 150; qi++) {
            char q[300], extra[128];
            const char *pick = names[rnd_below((uint32_t)m)];
            rnd_name(&ALPHA, extra, 60);
            switch (rnd_below(3)) {
            case 0: snprintf(q, sizeof(q), "%s", pick); break;
            case 1: snprintf(q, sizeof(q), "%.120s.%.120s", extra, pick); break;
            default: snprintf(q, sizeof(q), "%s", extra); break;
            }
            static const char *const paths[] = { NULL, "/", "/d0", "/d1/x", "/d2?q=1", "/e" };
            const char *p = paths[rnd_below(6)];
            size_t ql = strlen(q), pl = p ? strlen(p) : 0;
            struct domhash_query hq;
            domhash_query_init(&hq, q, ql);
            uint64_t want = catset_lookup(c, q, ql, p, pl);
            ck_assert_msg(catset_lookup_query(c, &hq, p, pl) == want, "'%s' '%s'", q,
                          p ? p : "(no path)");
            found += want != 0;
            checks++;
        }
        catset_free(c);
    }
    ck_assert_uint_eq(checks, 6000);
    ck_assert_uint_gt(found, 1500); /* most queries fall under a listed name */
    struct domhash_query hq;
    domhash_query_init(&hq, "ex.test", 7);
    ck_assert_uint_eq(catset_lookup_query(NULL, &hq, NULL, 0), 0);
}
END_TEST

/* Images: the container's magic and format for these tests, the scalars' layout (catset.h). */
static const char IMG_MAGIC[8] = { 'Q', 'G', 'T', 'E', 'S', 'T', 'C', 'S' };
enum {
    SC_NCAT,
    SC_DOM_N,
    SC_DOM_NSLOT,
    SC_DOM_POOL,
    SC_URL_N,
    SC_URL_NSLOT,
    SC_URL_POOL,
    SC_DH_N,
    SC_COUNT = 12
};
enum {
    S_SCALARS,
    S_NAMES,
    S_DOM_POOL,
    S_DOM_OFF,
    S_DOM_MASK,
    S_DOM_SLOT,
    S_URL_POOL,
    S_URL_OFF,
    S_URL_MASK,
    S_URL_SLOT,
    S_DH_SLOT,
    S_DH_BLOOM,
    S_COUNT
};

/* c (and c2 when not NULL, at base + CATSET_IMAGE_SECTS) written at base, with a foreign
 * section on either side, to a file in a fresh directory; the file read whole into *buf. */
static size_t image_of(const struct catset *c, const struct catset *c2, uint32_t base, char **buf)
{
    char dir[256], path[512], err[512];
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "catset"), 0);
    struct imgfile_w *w = imgfile_w_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(catset_to_image(c, w, base), 0);
    if (c2)
        ck_assert_int_eq(catset_to_image(c2, w, base + CATSET_IMAGE_SECTS), 0);
    ck_assert_int_eq(imgfile_w_add(w, base - 1, "before", 6), 0);
    ck_assert_int_eq(imgfile_w_add(w, base + 2 * CATSET_IMAGE_SECTS, "after", 5), 0);
    snprintf(path, sizeof(path), "%s/c.img", dir);
    ck_assert_msg(imgfile_w_write(w, path, IMG_MAGIC, 1, err, sizeof(err)) == 0, "%s", err);
    imgfile_w_free(w);
    size_t len;
    ck_assert_int_eq(fileio_read_all(path, buf, &len), 0);
    tmpdir_remove(dir);
    return len;
}

/* The set at base in buf (NULL with the reason in err); the container itself must be sound. */
static struct catset *from_image(const char *buf, size_t len, uint32_t base, char *err,
                                 size_t errlen)
{
    struct imgfile_r r;
    ck_assert_msg(imgfile_r_open(&r, (const uint8_t *)buf, len, IMG_MAGIC, 1, err, errlen) == 0,
                  "%s", err);
    return catset_from_image(&r, base, err, errlen);
}

/* Both sets give the same answers: names, counts, and lookups of m names (and names under
 * them, and names not listed) with paths. */
static size_t same_answers(const struct catset *a, const struct catset *b, const char *names,
                           size_t width, size_t m)
{
    ck_assert_uint_eq(catset_categories(a), catset_categories(b));
    for (unsigned i = 0; i <= CATSET_MAX; i++) {
        const char *na = catset_name(a, i), *nb = catset_name(b, i);
        ck_assert_int_eq(na == NULL, nb == NULL);
        if (na) {
            ck_assert_str_eq(na, nb);
            ck_assert_int_eq(catset_bit(b, na), (int)i);
            ck_assert_str_eq(catset_first_name(a, 1ull << i), catset_first_name(b, 1ull << i));
        }
    }
    ck_assert_int_eq(catset_bit(b, "no-such-category"), -1);
    ck_assert_uint_eq(catset_domains(a), catset_domains(b));
    ck_assert_uint_eq(catset_urls(a), catset_urls(b));
    ck_assert_uint_gt(catset_bytes(b), 0);
    size_t hits = 0;
    for (size_t i = 0; i < 3 * m + 30; i++) {
        char q[300], extra[128];
        const char *pick = m ? names + rnd_below((uint32_t)m) * width : "nothing.test";
        rnd_name(&ALPHA, extra, 60);
        switch (i % 3) {
        case 0: snprintf(q, sizeof(q), "%s", pick); break;
        case 1: snprintf(q, sizeof(q), "%.120s.%.120s", extra, pick); break;
        default: snprintf(q, sizeof(q), "%s", extra); break;
        }
        static const char *const paths[] = { NULL, "/", "/d0", "/d1/x", "/d2?q=1", "/e", "/d0/" };
        const char *p = paths[rnd_below(7)];
        size_t ql = strlen(q), pl = p ? strlen(p) : 0;
        uint64_t want = catset_lookup(a, q, ql, p, pl);
        ck_assert_msg(catset_lookup(b, q, ql, p, pl) == want, "'%s' '%s'", q, p ? p : "-");
        struct domhash_query hq;
        domhash_query_init(&hq, q, ql);
        ck_assert_msg(catset_lookup_query(b, &hq, p, pl) == want, "'%s' (query)", q);
        hits += want != 0;
    }
    return hits;
}

/* Random sets (domains under others, URLs, IDN labels) read back from an image give the same
 * answers as the set written, after the file's buffer is freed; two sets share a file. */
START_TEST(image_round_trip)
{
    static char names[200][128];
    size_t hits = 0;
    for (int round = 0; round < 12; round++) {
        struct catset_builder *b = catset_builder_new();
        unsigned ncat = 1 + rnd_below(12);
        for (unsigned i = 0; i < ncat; i++) {
            char n[16];
            snprintf(n, sizeof(n), i % 2 ? "cat-%u" : "c_%u", i);
            ck_assert_int_eq(catset_builder_category(b, n), (int)i);
        }
        size_t m = rnd_distinct(&ALPHA, names[0], sizeof(names[0]), 1 + rnd_below(180));
        for (size_t i = 0; i < m; i++) {
            char line[160];
            bool url = rnd_below(4) == 0;
            snprintf(line, sizeof(line), url ? "%s/d%u" : "%s", names[i], rnd_below(3));
            add(b, line, rnd_below(ncat), url);
        }
        add(b, "Пример.рф", 0, false); /* IDN, stored as its A-label */
        add(b, "http://xn--d1acufc.xn--p1ai/d0/", ncat - 1, true);
        struct catset *c = catset_build(b);
        ck_assert_ptr_nonnull(c);
        b = catset_builder_new();
        ck_assert_int_eq(catset_builder_category(b, "other"), 0);
        add(b, "other.test", 0, false);
        struct catset *c2 = catset_build(b);
        char *buf, err[256] = "";
        uint32_t base = 1 + rnd_below(100);
        size_t len = image_of(c, c2, base, &buf);
        struct catset *d = from_image(buf, len, base, err, sizeof(err));
        ck_assert_msg(d != NULL, "%s", err);
        struct catset *d2 = from_image(buf, len, base + CATSET_IMAGE_SECTS, err, sizeof(err));
        ck_assert_msg(d2 != NULL, "%s", err);
        memset(buf, 0xa5, len);
        free(buf);
        hits += same_answers(c, d, names[0], sizeof(names[0]), m);
        /* the random names may list xn--p1ai too: its masks are ORed in */
        ck_assert_uint_eq(look(d, "xn--e1afmkfd.xn--p1ai", NULL) & 1, 1);
        ck_assert_uint_ne(look(d, "xn--d1acufc.xn--p1ai", "/d0/x") & 1ull << (ncat - 1), 0);
        ck_assert_uint_eq(look(d2, "a.other.test", NULL), 1);
        ck_assert_uint_eq(look(d2, names[0], NULL), 0);
        ck_assert_str_eq(catset_name(d2, 0), "other");
        catset_free(c);
        catset_free(c2);
        catset_free(d);
        catset_free(d2);
    }
    ck_assert_uint_gt(hits, 500); /* the lookups compared are mostly hits */
}
END_TEST

/* The empty set, a set of categories without entries, of domains only, of URLs only, and of 64
 * categories (every mask bit). */
START_TEST(image_small_sets)
{
    char *buf, err[256] = "";
    for (int k = 0; k < 5; k++) {
        struct catset_builder *b = catset_builder_new();
        if (k >= 1) {
            ck_assert_int_eq(catset_builder_category(b, "kids"), 0);
            ck_assert_int_eq(catset_builder_category(b, "adult"), 1);
        }
        if (k == 2)
            add(b, "ex.test", 1, false);
        if (k == 3)
            add(b, "cdn.test/adult", 1, true);
        for (int i = 2; k == 4 && i < 64; i++) {
            char n[16];
            snprintf(n, sizeof(n), "c%d", i);
            ck_assert_int_eq(catset_builder_category(b, n), i);
        }
        for (unsigned i = 0; k == 4 && i < 64; i++)
            add(b, "all.test", i, false);
        struct catset *c = catset_build(b);
        ck_assert_ptr_nonnull(c);
        size_t len = image_of(c, NULL, 7, &buf);
        struct catset *d = from_image(buf, len, 7, err, sizeof(err));
        ck_assert_msg(d != NULL, "set %d: %s", k, err);
        free(buf);
        static const char names[3][16] = { "ex.test", "cdn.test", "all.test" };
        same_answers(c, d, names[0], sizeof(names[0]), 3);
        ck_assert_uint_eq(catset_categories(d), k == 0 ? 0 : k == 4 ? 64 : 2);
        ck_assert_uint_eq(look(d, "a.ex.test", NULL), k == 2 ? 2 : 0);
        ck_assert_uint_eq(look(d, "cdn.test", "/adult/x"), k == 3 ? 2 : 0);
        ck_assert_uint_eq(look(d, "all.test", NULL), k == 4 ? UINT64_MAX : 0);
        catset_free(c);
        catset_free(d);
    }
}
END_TEST

/* The table row of section id in an image file. */
static uint8_t *row_of(char *buf, uint32_t id)
{
    uint32_t nsect;
    memcpy(&nsect, buf + 12, 4);
    for (uint32_t i = 0; i < nsect; i++) {
        uint8_t *row = (uint8_t *)buf + IMGFILE_HEADER + (size_t)i * 24;
        uint32_t rid;
        memcpy(&rid, row, 4);
        if (rid == id)
            return row;
    }
    ck_abort_msg("no section %u", id);
    return NULL;
}

/* Section id of an image file: its bytes and (in *len) length. */
static uint8_t *sect_of(char *buf, uint32_t id, uint64_t *len)
{
    uint8_t *row = row_of(buf, id);
    uint64_t off;
    memcpy(&off, row + 8, 8);
    memcpy(len, row + 16, 8);
    uint32_t nsect;
    memcpy(&nsect, buf + 12, 4);
    return (uint8_t *)buf + IMGFILE_HEADER + off;
}

#define BASE 40u

/* The damaged copy c (resealed) refused, the reason naming section BASE + k and holding why. */
static void refused(char *c, size_t len, unsigned k, const char *why)
{
    imgfile_seal((uint8_t *)c, len);
    char err[256] = "", name[32];
    ck_assert_ptr_null(from_image(c, len, BASE, err, sizeof(err)));
    snprintf(name, sizeof(name), "section %u (", BASE + k);
    ck_assert_msg(strstr(err, name) && strstr(err, why), "section %u, '%s': '%s'", k, why, err);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A set of 3 categories, 6 domains and 20 URLs (64 URL slots), written at BASE. */
static size_t refusal_sample(char **buf)
{
    struct catset_builder *b = catset_builder_new();
    ck_assert_int_eq(catset_builder_category(b, "kids"), 0);
    ck_assert_int_eq(catset_builder_category(b, "adult"), 1);
    ck_assert_int_eq(catset_builder_category(b, "games"), 2);
    static const char *const dom[] = {
        "ex.test", "a.ex.test", "casino.test", "b.casino.test", "xn--e1afmkfd.xn--p1ai", "games.kz"
    };
    for (unsigned i = 0; i < 6; i++)
        add(b, dom[i], i % 3, false);
    for (unsigned i = 0; i < 20; i++) {
        char u[64];
        snprintf(u, sizeof(u), "cdn.test/dir%u/page", i);
        add(b, u, i % 3, true);
    }
    struct catset *c = catset_build(b);
    ck_assert_ptr_nonnull(c);
    size_t len = image_of(c, NULL, BASE, buf);
    catset_free(c);
    return len;
}

/* Every section missing, one byte short, or holding a value out of range (the file resealed so
 * that only the category set's checks stand between it and a lookup): refused, naming it. */
START_TEST(image_refused)
{
    char *buf, err[256] = "";
    size_t len = refusal_sample(&buf);
    struct catset *ok = from_image(buf, len, BASE, err, sizeof(err));
    ck_assert_msg(ok != NULL, "%s", err);
    catset_free(ok);
    char *c = malloc(len);
    uint64_t sl, v[SC_COUNT];
    memcpy(v, sect_of(buf, BASE + S_SCALARS, &sl), sizeof(v));
    ck_assert_uint_eq(sl, sizeof(v));
    ck_assert_uint_eq(v[SC_NCAT], 3);
    ck_assert_uint_eq(v[SC_DOM_N], 6);
    ck_assert_uint_eq(v[SC_DOM_NSLOT], 0); /* a built set keeps no slots for its domains */
    ck_assert_uint_eq(v[SC_URL_N], 20);
    ck_assert_uint_eq(v[SC_URL_NSLOT], 64);
    ck_assert_uint_eq(v[SC_DH_N], 6);
    for (unsigned k = 0; k < S_COUNT; k++) {
        memcpy(c, buf, len);
        put32(row_of(c, BASE + k), BASE + CATSET_IMAGE_SECTS - 1); /* now an unused id */
        refused(c, len, k, k == S_SCALARS ? "missing or not 12 values" : "missing");
        memcpy(c, buf, len);
        uint8_t *row = row_of(c, BASE + k);
        uint64_t l;
        memcpy(&l, row + 16, 8);
        if (k == S_DOM_SLOT) {
            ck_assert_uint_eq(l, 0);
            l = 4; /* one slot the scalars do not count */
        } else {
            ck_assert_uint_gt(l, 0);
            l--;
        }
        memcpy(row + 16, &l, 8);
        refused(c, len, k,
                k == S_SCALARS ? "not 12 values"
                : k == S_NAMES ? "bytes for 3 names"
                               : "where the scalars say");
    }
    uint8_t *p;
    /* pools: not terminated; offsets past the pool */
    static const unsigned pools[2] = { S_DOM_POOL, S_URL_POOL };
    for (int t = 0; t < 2; t++) {
        memcpy(c, buf, len);
        p = sect_of(c, BASE + pools[t], &sl);
        p[sl - 1] = 'x';
        refused(c, len, pools[t], "not terminated");
        memcpy(c, buf, len);
        p = sect_of(c, BASE + pools[t] + 1, &sl);
        uint64_t pool_len;
        sect_of(c, BASE + pools[t], &pool_len);
        put32(p + sl - 4, (uint32_t)pool_len);
        refused(c, len, pools[t] + 1, "past the pool");
        memcpy(c, buf, len);
        p = sect_of(c, BASE + pools[t] + 1, &sl);
        put32(p, UINT32_MAX);
        refused(c, len, pools[t] + 1, "entry 0 at offset 4294967295, past the pool");
        /* a mask with a category past the 3 defined */
        memcpy(c, buf, len);
        p = sect_of(c, BASE + pools[t] + 2, &sl);
        p[sl - 1] |= 0x80;
        refused(c, len, pools[t] + 2, "past the 3 defined");
    }
    /* URL slots: an entry past the table, an entry twice, an entry in none */
    uint8_t *s0 = sect_of(buf, BASE + S_URL_SLOT, &sl);
    ck_assert_uint_eq(sl, 64 * 4);
    size_t full = 64, empty = 64;
    for (size_t i = 0; i < 64; i++)
        *(get32(s0 + 4 * i) ? &full : &empty) = i;
    ck_assert_uint_lt(full, 64);
    ck_assert_uint_lt(empty, 64);
    memcpy(c, buf, len);
    put32(sect_of(c, BASE + S_URL_SLOT, &sl) + 4 * full, 21);
    refused(c, len, S_URL_SLOT, "an entry past the table (21 of 20)");
    memcpy(c, buf, len);
    put32(sect_of(c, BASE + S_URL_SLOT, &sl) + 4 * empty, get32(s0 + 4 * full));
    refused(c, len, S_URL_SLOT, "an entry twice");
    memcpy(c, buf, len);
    put32(sect_of(c, BASE + S_URL_SLOT, &sl) + 4 * full, 0);
    refused(c, len, S_URL_SLOT, "19 slots used for 20 entries");
    /* every slot full (the probe would never end): refused as a slot past the table */
    memcpy(c, buf, len);
    p = sect_of(c, BASE + S_URL_SLOT, &sl);
    for (size_t i = 0; i < 64; i++)
        put32(p + 4 * i, 1 + (uint32_t)(i % 20));
    refused(c, len, S_URL_SLOT, "an entry twice");
    /* fewer slots than twice the entries (the section cut to match: 32 slots for 20), and a
     * count of slots that is not a power of two (48) */
    for (uint64_t ns = 32; ns <= 48; ns += 16) {
        memcpy(c, buf, len);
        uint64_t *sc = (uint64_t *)(void *)sect_of(c, BASE + S_SCALARS, &sl);
        sc[SC_URL_NSLOT] = ns;
        uint64_t nl = ns * 4;
        memcpy(row_of(c, BASE + S_URL_SLOT) + 16, &nl, 8);
        refused(c, len, S_URL_SLOT, "slots for 20 entries");
    }
    /* URL entries without slots */
    memcpy(c, buf, len);
    {
        uint64_t *sc = (uint64_t *)(void *)sect_of(c, BASE + S_SCALARS, &sl);
        sc[SC_URL_NSLOT] = 0;
        uint64_t nl = 0;
        memcpy(row_of(c, BASE + S_URL_SLOT) + 16, &nl, 8);
        refused(c, len, S_URL_SLOT, "no slots for 20 entries");
    }
    /* scalars: too many categories, the index's count not the domains' */
    memcpy(c, buf, len);
    uint64_t *sc = (uint64_t *)(void *)sect_of(c, BASE + S_SCALARS, &sl);
    sc[SC_NCAT] = 65;
    refused(c, len, S_SCALARS, "65 categories");
    memcpy(c, buf, len);
    sc = (uint64_t *)(void *)sect_of(c, BASE + S_SCALARS, &sl);
    sc[SC_DH_N] = 5;
    refused(c, len, S_SCALARS, "domain index of 5 keys");
    memcpy(c, buf, len);
    sc = (uint64_t *)(void *)sect_of(c, BASE + S_SCALARS, &sl);
    sc[SC_DOM_N] = UINT32_MAX;
    refused(c, len, S_DOM_OFF, "4294967295 entries");
    /* names: not a name, unterminated, twice */
    memcpy(c, buf, len);
    p = sect_of(c, BASE + S_NAMES, &sl);
    p[0] = 'K';
    refused(c, len, S_NAMES, "name 0 is not a category name");
    memcpy(c, buf, len);
    p = sect_of(c, BASE + S_NAMES, &sl);
    memset(p + CATSET_NAME_MAX, 'a', CATSET_NAME_MAX);
    refused(c, len, S_NAMES, "name 1 is not a category name");
    memcpy(c, buf, len);
    p = sect_of(c, BASE + S_NAMES, &sl);
    memcpy(p + 2 * CATSET_NAME_MAX, p, CATSET_NAME_MAX);
    refused(c, len, S_NAMES, "name 2 (kids) twice");
    /* the domain index: a slot's key outside the pool, a value past the domains */
    for (int t = 0; t < 2; t++) {
        memcpy(c, buf, len);
        p = sect_of(c, BASE + S_DH_SLOT, &sl);
        size_t i = 0;
        while (i + 8 <= sl && get32(p + i + 4) == UINT32_MAX)
            i += 8;
        ck_assert_uint_lt(i, sl);
        if (t == 0)
            put32(p + i, 1u << 20);
        else
            put32(p + i + 4, (get32(p + i + 4) & ~((1u << 30) - 1)) | 6);
        refused(c, len, S_DH_SLOT, "domain index: slot out of range");
    }
    free(c);
    free(buf);
}
END_TEST

/* Random damage to the category set's sections (resealed): refused, or a set whose lookups stay
 * inside its arrays (the sanitizer build checks that), never a crash. */
START_TEST(image_random_damage)
{
    char *buf, err[256];
    size_t len = refusal_sample(&buf);
    char *c = malloc(len);
    size_t loaded = 0;
    for (int i = 0; i < 4000; i++) {
        memcpy(c, buf, len);
        unsigned k = rnd_below(S_COUNT);
        uint64_t sl;
        uint8_t *p = sect_of(c, BASE + k, &sl);
        if (sl == 0)
            continue;
        for (unsigned j = 1 + rnd_below(3); j > 0; j--) {
            size_t at = rnd_below((uint32_t)sl);
            uint32_t b = rnd_below(2) ? rnd_below(256) : p[at] ^ (1u << rnd_below(8));
            p[at] = (uint8_t)b;
        }
        imgfile_seal((uint8_t *)c, len);
        struct catset *d = from_image(c, len, BASE, err, sizeof(err));
        if (!d) {
            ck_assert_ptr_nonnull(strstr(err, "category set: section "));
            continue;
        }
        loaded++;
        static const char *const q[] = { "ex.test",  "a.ex.test", "z.b.casino.test",
                                         "games.kz", "cdn.test",  "xn--e1afmkfd.xn--p1ai",
                                         "none.test" };
        for (unsigned j = 0; j < 7; j++) {
            uint64_t m = catset_lookup(d, q[j], strlen(q[j]), "/dir7/page/x", 12);
            catset_first_name(d, m);
        }
        catset_free(d);
    }
    ck_assert_uint_gt(loaded, 0); /* some damage (a mask bit, a bloom bit) is not detectable */
    free(c);
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("catset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, masks_and_suffixes);
    tcase_add_test(tc, limit_64);
    tcase_add_test(tc, ut1_tree);
    tcase_add_test(tc, query_vs_plain);
    tcase_add_test(tc, name_rules);
    tcase_add_test(tc, image_round_trip);
    tcase_add_test(tc, image_small_sets);
    tcase_add_test(tc, image_refused);
    tcase_add_test(tc, image_random_damage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
