/* check_overlay.c - incremental updates (orderset_apply(), ruleset_apply()): over random
 * sequences of new orders, revocations and restore orders, the overlay answers every query as a
 * full compile of the active records does (model check), on a base in memory and on a base
 * mapped from its disk image; and the cases by hand: shared entries, fallbacks to a less
 * specific entry of the base, https host representatives, refusals. Domain queries are also
 * asked with the name hashed once (ruleset_match_domain_query()). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/match/domhash.h"
#include "rules/orders/orderset.h"
#include "tests/lib/rnd.h"

static const char *const pool[] = {
    "ex.kz",
    "a.ex.kz",
    "b.a.ex.kz",
    "*.shop.kz",
    "x.shop.kz",
    "m.ru",
    "a.m.ru",
    "https://h.kz/p1",
    "https://h.kz/p2",
    "https://h.kz/dir/*",
    "http://g.kz/q?x=1",
    "http://g.kz/q",
    "http://g.kz/d/*",
    "http://g.kz/d/e/*",
    "https://[2001:db8::1]/v",
    "https://k.kz/*",
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.0/24",
    "10.1.2.3",
    "2001:db8::/32",
    "2001:db8:1::/48",
};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))

static const char *cat_of(size_t i)
{
    static const char *const cats[] = { "court", "gambling", "extremism" };
    return cats[i % 3];
}

static struct order *mk(const char *id, enum order_action act, const size_t *res, size_t nres)
{
    struct order *o = order_new();
    char err[256];
    ck_assert_int_eq(order_set(&o->id, id, strlen(id)), 0);
    ck_assert_int_eq(order_set(&o->issuer, "Ministry", 8), 0);
    o->action = act;
    for (size_t j = 0; j < nres; j++)
        ck_assert_int_eq(order_add_resource(o, pool[res[j]], strlen(pool[res[j]]), cat_of(res[j]),
                                            false, err, sizeof(err)),
                         0);
    return o;
}

static struct ruleset *compile(struct order **v, size_t n)
{
    char err[256] = "";
    struct ruleset *rs =
        orderset_compile((const struct order *const *)v, n, NULL, err, sizeof(err));
    ck_assert_msg(rs != NULL, "%s", err);
    return rs;
}

static struct ruleset *apply(const struct ruleset *cur, struct order *add, const char *revoke)
{
    char err[256] = "";
    int rc = 1;
    const struct order *a[1] = { add };
    const char *r[1] = { revoke };
    struct ruleset *rs =
        orderset_apply(cur, a, add ? 1 : 0, r, revoke ? 1 : 0, &rc, err, sizeof(err));
    ck_assert_msg(rs != NULL, "%s", err);
    ck_assert_int_eq(rc, 0);
    return rs;
}

/* What a query found, as text: the entry without its scheme, its category and its orders
 * sorted, or "-". */
static void describe(const struct ruleset *rs, bool hit, const struct rule_match *m, char *out,
                     size_t cap)
{
    if (!hit) {
        snprintf(out, cap, "-");
        return;
    }
    ck_assert(ruleset_entry_live(rs, m->entry));
    const char *t = ruleset_entry_text(rs, m->entry);
    const char *s = strstr(t, "://");
    const char *o[16];
    size_t n = ruleset_entry_orders(rs, m->entry, o, 16);
    ck_assert_uint_le(n, 16);
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful */
        for (size_t j = i; j > 0 && strcmp(o[j - 1], o[j]) > 0; j--) {
            const char *x = o[j];
            o[j] = o[j - 1];
            o[j - 1] = x;
        }
    int w = snprintf(out, cap, "%s %s", s ? s + 3 : t, ruleset_entry_category(rs, m->entry));
    for (size_t i = 0; i < n && w > 0 && (size_t)w < cap; i++)
        w += snprintf(out + w, cap - (size_t)w, " %s", o[i]);
}

static size_t hits;

/* One query of every kind derived from pool text i, on x and y. */
static void compare_at(const struct ruleset *x, const struct ruleset *y, size_t i, int variant)
{
    char dx[512], dy[512], q[300];
    struct rule_match mx, my;
    bool hx, hy;
    const char *t = pool[i];
    if (strncmp(t, "http", 4) == 0) {
        const char *h = strstr(t, "://") + 3;
        size_t hl = strcspn(h, "/");
        char host[100];
        if (h[0] == '[')
            snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), h + 1);
        else
            snprintf(host, sizeof(host), "%.*s", (int)hl, h);
        const char *p = h + hl;
        size_t pl = strlen(p);
        if (p[pl - 1] == '*')
            pl--;
        snprintf(q, sizeof(q), "%.*s%s", (int)pl, p, variant == 0 ? "" : "zz");
        hx = ruleset_match_url(x, host, strlen(host), q, strlen(q), &mx);
        hy = ruleset_match_url(y, host, strlen(host), q, strlen(q), &my);
        bool ux = ruleset_match_url_host(x, host, strlen(host), NULL);
        bool uy = ruleset_match_url_host(y, host, strlen(host), NULL);
        ck_assert_msg(ux == uy, "url host %s: %d vs %d", host, ux, uy);
    } else if (strchr(t, ':') || (t[0] >= '0' && t[0] <= '9')) {
        char a[64];
        snprintf(a, sizeof(a), "%.*s", (int)strcspn(t, "/"), t);
        uint8_t addr[16];
        int v = strchr(a, ':') ? 6 : 4;
        ck_assert_int_eq(inet_pton(v == 6 ? AF_INET6 : AF_INET, a, addr), 1);
        if (variant)
            addr[v == 6 ? 15 : 3] ^= 0x5;
        hx = ruleset_match_ip(x, v, addr, &mx);
        hy = ruleset_match_ip(y, v, addr, &my);
        snprintf(q, sizeof(q), "%s/%d", a, variant);
    } else {
        const char *d = strncmp(t, "*.", 2) == 0 ? t + 2 : t;
        snprintf(q, sizeof(q), "%s%s", variant ? "deep." : "", d);
        hx = ruleset_match_domain(x, q, strlen(q), &mx);
        hy = ruleset_match_domain(y, q, strlen(q), &my);
        /* the name hashed once (as a decision shares it with the category lookup): the same
         * entry, through the levels (x) and the flat set (y) */
        struct domhash_query hq;
        domhash_query_init(&hq, q, strlen(q));
        struct rule_match mq;
        ck_assert_int_eq(ruleset_match_domain_query(x, &hq, &mq), hx);
        ck_assert_uint_eq(mq.entry, mx.entry);
        ck_assert_int_eq(ruleset_match_domain_query(y, &hq, &mq), hy);
        ck_assert_uint_eq(mq.entry, my.entry);
    }
    describe(x, hx, &mx, dx, sizeof(dx));
    describe(y, hy, &my, dy, sizeof(dy));
    ck_assert_msg(strcmp(dx, dy) == 0, "%s: overlay '%s', full compile '%s'", q, dx, dy);
    hits += hx;
}

static void compare_sets(const struct ruleset *x, const struct ruleset *y)
{
    for (size_t i = 0; i < NPOOL; i++)
        for (int v = 0; v < 2; v++)
            compare_at(x, y, i, v);
    struct ruleset_stats sx, sy;
    ruleset_get_stats(x, &sx);
    ruleset_get_stats(y, &sy);
    ck_assert_uint_eq(sx.domains, sy.domains);
    ck_assert_uint_eq(sx.urls, sy.urls);
    ck_assert_uint_eq(sx.ips4, sy.ips4);
    ck_assert_uint_eq(sx.ips6, sy.ips6);
    size_t live = 0;
    for (uint32_t e = 0; e < ruleset_entry_count(x); e++)
        live += ruleset_entry_live(x, e);
    ck_assert_uint_eq(live, ruleset_entry_count(y));
}

/* Random add / revoke / restore sequences; _i odd: the base comes from its disk image; _i >= 8:
 * levels stacked (a top of 1 to 3 entries is frozen) and compacted now and then. */
START_TEST(test_model)
{
    rnd_seed(0xfeed + (uint64_t)_i);
    bool stacked = _i >= 8;
    size_t max_depth = 0, compactions = 0, partial = 0;
    if (stacked)
        ruleset_set_freeze(1 + (size_t)_i % 3);
    struct order *act[400];
    size_t nact = 0, next = 0;
    char id[32], dir[] = "/tmp/qg-overlay-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/rules.img", dir);
    /* a base of a few orders */
    for (int k = 0; k < 4; k++) {
        size_t res[6], nres = 1 + rnd_below(6);
        for (size_t j = 0; j < nres; j++)
            res[j] = rnd_below(NPOOL);
        snprintf(id, sizeof(id), "B%zu", next++);
        act[nact++] = mk(id, ORDER_RESTRICT, res, nres);
    }
    struct ruleset *cur = compile(act, nact);
    if (_i % 2) {
        char err[512];
        ck_assert_int_eq(ruleset_image_write(cur, path, 1, err, sizeof(err)), 0);
        ruleset_free(cur);
        cur = ruleset_image_open(path, NULL, err, sizeof(err));
        ck_assert_msg(cur != NULL, "%s", err);
    }
    hits = 0;
    for (int step = 0; step < 120 && nact < 390; step++) {
        uint32_t r = rnd_below(10);
        struct order *add = NULL;
        const char *revoke = NULL;
        size_t victim = 0;
        bool have_restrict = false;
        for (size_t k = 0; k < nact; k++)
            have_restrict |= act[k]->action == ORDER_RESTRICT;
        if (r < 5 || !have_restrict) {
            size_t res[6], nres = 1 + rnd_below(6);
            for (size_t j = 0; j < nres; j++)
                res[j] = rnd_below(NPOOL);
            snprintf(id, sizeof(id), "R%zu", next++);
            add = mk(id, ORDER_RESTRICT, res, nres);
        } else {
            do
                victim = rnd_below((uint32_t)nact);
            while (act[victim]->action != ORDER_RESTRICT);
            if (r < 8) {
                revoke = act[victim]->id;
            } else { /* a restore order lifting the victim on some resources, or all */
                size_t res[3], nres = rnd_below(3);
                for (size_t j = 0; j < nres; j++)
                    res[j] = rnd_below(NPOOL);
                snprintf(id, sizeof(id), "S%zu", next++);
                add = mk(id, ORDER_RESTORE, res, nres);
                ck_assert_int_eq(order_add_restores(add, act[victim]->id), 0);
            }
        }
        struct ruleset *nx = apply(cur, add, revoke);
        ruleset_free(cur); /* the new set holds the base: the old one may go first */
        cur = nx;
        if (revoke) {
            order_free(act[victim]);
            act[victim] = act[--nact];
        }
        if (add)
            act[nact++] = add;
        struct ruleset *want = compile(act, nact);
        compare_sets(cur, want);
        size_t depth = ruleset_depth(cur);
        max_depth = depth > max_depth ? depth : max_depth;
        ck_assert_uint_le(depth, RULESET_LEVELS_MAX - 1);
        if (stacked && depth >= RULESET_COMPACT_DEPTH && rnd_below(3) == 0) {
            struct ruleset *c = ruleset_compact(cur); /* the deltas folded into one or two */
            ck_assert_ptr_nonnull(c);
            ck_assert_uint_le(ruleset_depth(c), 2);
            ck_assert_uint_lt(ruleset_depth(c), depth);
            partial += ruleset_depth(c) == 2;
            compare_sets(c, want);
            compare_sets(cur, want); /* cur is unchanged */
            ruleset_free(cur);
            cur = c;
            compactions++;
        }
        if (step % 40 == 39) { /* fold the overlay into a fresh base, as the daemon does */
            struct ruleset *m = ruleset_merge(cur);
            ck_assert_ptr_nonnull(m);
            compare_sets(m, want);
            ck_assert_uint_eq(ruleset_overlay_size(m), 0);
            ruleset_free(cur);
            cur = m;
        }
        ruleset_free(want);
    }
    ck_assert_uint_gt(hits, 500);
    if (stacked) {
        ruleset_set_freeze(RULESET_FREEZE);
        ck_assert_uint_eq(max_depth, RULESET_LEVELS_MAX - 1); /* a full stack was folded */
        ck_assert_uint_gt(compactions, 3);
        ck_assert_uint_gt(partial, 0); /* a big oldest delta kept, the younger ones folded */
    } else {
        ck_assert_uint_eq(max_depth, 1);
    }
    ruleset_free(cur);
    for (size_t k = 0; k < nact; k++)
        order_free(act[k]);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* The orders that match domain name, comma-joined, or "-". */
static const char *who(const struct ruleset *rs, const char *name)
{
    static char out[256];
    struct rule_match m;
    if (!ruleset_match_domain(rs, name, strlen(name), &m))
        return "-";
    const char *o[8];
    size_t n = ruleset_entry_orders(rs, m.entry, o, 8);
    snprintf(out, sizeof(out), "%s:", ruleset_entry_text(rs, m.entry));
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "", o[i]);
    return out;
}

/* One entry in the base and in every delta of a stack (each top of one entry frozen by the next
 * apply), claimed by several orders: each apply moves it up with its claims; revocations and a
 * restore order lift them level by level; compaction and a merge keep the answers. */
START_TEST(test_stack_shared)
{
    ruleset_set_freeze(1);
    const size_t ra[] = { 0, 1 }, rb[] = { 1, 2 }, rc[] = { 1, 5 }, rd[] = { 1, 6 };
    struct order *a = mk("A", ORDER_RESTRICT, ra, 2), *b = mk("B", ORDER_RESTRICT, rb, 2);
    struct order *c = mk("C", ORDER_RESTRICT, rc, 2), *d = mk("D", ORDER_RESTRICT, rd, 2);
    const size_t rs1[] = { 1 };
    struct order *s = mk("S", ORDER_RESTORE, rs1, 1); /* lifts C from a.ex.kz only */
    ck_assert_int_eq(order_add_restores(s, "C"), 0);
    struct ruleset *base = compile(&a, 1);
    struct ruleset *s1 = apply(base, b, NULL);
    struct ruleset *s2 = apply(s1, c, NULL);
    struct ruleset *s3 = apply(s2, d, NULL);
    ck_assert_uint_eq(ruleset_depth(s1), 1);
    ck_assert_uint_eq(ruleset_depth(s3), 3);
    ck_assert_str_eq(who(s3, "z.a.ex.kz"), "a.ex.kz:A,B,C,D");
    ck_assert_str_eq(who(s2, "z.a.ex.kz"), "a.ex.kz:A,B,C"); /* the sets below are unchanged */
    ck_assert_str_eq(who(s3, "q.b.a.ex.kz"), "b.a.ex.kz:B");
    ck_assert_str_eq(who(s3, "a.m.ru"), "a.m.ru:D");
    ck_assert_str_eq(who(s3, "x.m.ru"), "m.ru:C");
    struct ruleset *s4 = apply(s3, NULL, "B");
    ck_assert_str_eq(who(s4, "z.a.ex.kz"), "a.ex.kz:A,C,D");
    ck_assert_str_eq(who(s4, "q.b.a.ex.kz"), "a.ex.kz:A,C,D"); /* b.a.ex.kz went with B */
    struct ruleset *s5 = apply(s4, s, NULL);
    ck_assert_str_eq(who(s5, "z.a.ex.kz"), "a.ex.kz:A,D");
    ck_assert_str_eq(who(s5, "x.m.ru"), "m.ru:C");
    struct ruleset *s6 = apply(s5, NULL, "A");
    ck_assert_str_eq(who(s6, "z.a.ex.kz"), "a.ex.kz:D");
    ck_assert_str_eq(who(s6, "ex.kz"), "-");
    struct ruleset *cp = ruleset_compact(s6), *mg = ruleset_merge(s6);
    ck_assert_ptr_nonnull(cp);
    ck_assert_ptr_nonnull(mg);
    ck_assert_uint_eq(ruleset_depth(cp), 1);
    ck_assert_uint_eq(ruleset_depth(mg), 0);
    const char *q[] = { "z.a.ex.kz", "ex.kz", "q.b.a.ex.kz", "a.m.ru", "x.m.ru", "m.ru" };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char want[256];
        snprintf(want, sizeof(want), "%s", who(s6, q[i]));
        ck_assert_str_eq(who(cp, q[i]), want);
        ck_assert_str_eq(who(mg, q[i]), want);
    }
    struct ruleset_stats x, y;
    ruleset_get_stats(cp, &x);
    ruleset_get_stats(mg, &y);
    ck_assert_uint_eq(x.domains, 3); /* a.ex.kz (D), m.ru (C), a.m.ru (D) */
    ck_assert_uint_eq(y.domains, 3);
    struct ruleset *v[] = { base, s1, s2, s3, s4, s5, s6, cp, mg };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ruleset_free(v[(i * 5) % 9]); /* any order: each holds what it uses */
    order_free(a);
    order_free(b);
    order_free(c);
    order_free(d);
    order_free(s);
    ruleset_set_freeze(RULESET_FREEZE);
}
END_TEST

START_TEST(test_shared_claims)
{
    const size_t ra[] = { 0, 1 }, rb[] = { 1 }; /* ex.kz, a.ex.kz; a.ex.kz */
    struct order *a = mk("A", ORDER_RESTRICT, ra, 2), *b = mk("B", ORDER_RESTRICT, rb, 1);
    struct ruleset *base = compile(&a, 1);
    ck_assert_uint_eq(ruleset_overlay_size(base), 0);
    struct ruleset *s1 = apply(base, b, NULL); /* the base has a.ex.kz: both claims kept */
    ck_assert_str_eq(who(s1, "z.a.ex.kz"), "a.ex.kz:A,B");
    ck_assert_str_eq(who(base, "z.a.ex.kz"), "a.ex.kz:A"); /* the base is unchanged */
    ck_assert_uint_eq(ruleset_overlay_size(s1), 2);        /* moved: one tombstone, one entry */
    struct ruleset *s2 = apply(s1, NULL, "A");
    ck_assert_str_eq(who(s2, "z.a.ex.kz"), "a.ex.kz:B"); /* B still lists it */
    ck_assert_str_eq(who(s2, "ex.kz"), "-");
    struct ruleset *s3 = apply(s2, NULL, "B");
    ck_assert_str_eq(who(s3, "z.a.ex.kz"), "-");
    struct ruleset_stats st;
    ruleset_get_stats(s3, &st);
    ck_assert_uint_eq(st.domains, 0);
    ruleset_free(base);
    ruleset_free(s1);
    ruleset_free(s3); /* out of order: each holds the base */
    ruleset_free(s2);
    order_free(a);
    order_free(b);
}
END_TEST

/* A revoked specific entry of the base uncovers the less specific one under it. */
START_TEST(test_fallback_to_parent)
{
    const size_t ra[] = { 0, 16, 17, 20, 12 }, rb[] = { 2, 18, 21, 13 };
    struct order *a = mk("A", ORDER_RESTRICT, ra, 5), *b = mk("B", ORDER_RESTRICT, rb, 4);
    struct order *v[2] = { a, b };
    struct ruleset *base = compile(v, 2);
    struct ruleset *s = apply(base, NULL, "B");
    struct rule_match m;
    ck_assert_str_eq(who(s, "q.b.a.ex.kz"), "ex.kz:A");
    uint8_t ip[4] = { 10, 1, 2, 9 };
    ck_assert(ruleset_match_ip(s, 4, ip, &m));
    ck_assert_str_eq(ruleset_entry_text(s, m.entry), "10.1.0.0/16");
    uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    ck_assert(ruleset_match_ip(s, 6, ip6, &m));
    ck_assert_str_eq(ruleset_entry_text(s, m.entry), "2001:db8::/32");
    ck_assert(ruleset_match_url(s, "g.kz", 4, "/d/e/f", 6, &m));
    ck_assert_str_eq(ruleset_entry_text(s, m.entry), "http://g.kz/d/*");
    ck_assert(ruleset_match_url(base, "g.kz", 4, "/d/e/f", 6, &m));
    ck_assert_str_eq(ruleset_entry_text(base, m.entry), "http://g.kz/d/e/*");
    ruleset_free(base);
    ruleset_free(s);
    order_free(a);
    order_free(b);
}
END_TEST

/* Of two prefix entries the longer key wins, whatever their schemes ("https://" is one byte
 * longer than "http://"). */
START_TEST(test_prefix_across_schemes)
{
    struct ruleset_builder *bd = ruleset_builder_new();
    char err[256];
    struct rule_attrs a = { "A", "court", NULL };
    ck_assert_int_eq(ruleset_builder_add(bd, "https://q.kz/a*", 15, &a, err, sizeof(err)), 0);
    struct ruleset *base = ruleset_build(bd);
    struct ruleset_claim c = { "http://q.kz/ab*", 15, "B", "court" };
    int rc;
    struct ruleset *s = ruleset_apply(base, &c, 1, NULL, 0, &rc, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    struct rule_match m;
    ck_assert(ruleset_match_url(s, "q.kz", 4, "/abc", 4, &m));
    ck_assert_str_eq(ruleset_entry_text(s, m.entry), "http://q.kz/ab*");
    ck_assert(ruleset_match_url(s, "q.kz", 4, "/ax", 3, &m));
    ck_assert_str_eq(ruleset_entry_text(s, m.entry), "https://q.kz/a*");
    ruleset_free(base);
    ruleset_free(s);
}
END_TEST

/* On TLS a host is blocked while any https entry of it stands: revoking the one the base's
 * host index holds must not unblock the host while another stands. */
START_TEST(test_https_representative)
{
    const size_t ra[] = { 7 }, rb[] = { 8, 9 };
    struct order *a = mk("A", ORDER_RESTRICT, ra, 1), *b = mk("B", ORDER_RESTRICT, rb, 2);
    struct order *v[2] = { a, b };
    struct ruleset *base = compile(v, 2);
    struct ruleset *s1 = apply(base, NULL, "A");
    ck_assert(ruleset_match_url_host(s1, "h.kz", 4, NULL));
    struct ruleset *s2 = apply(s1, NULL, "B");
    ck_assert(!ruleset_match_url_host(s2, "h.kz", 4, NULL));
    ruleset_free(base);
    ruleset_free(s1);
    ruleset_free(s2);
    order_free(a);
    order_free(b);
}
END_TEST

/* Names of more labels than the domain index screens together take its slow path, which must
 * weigh the base and the overlay the same way. */
START_TEST(test_deep_names)
{
    const size_t ra[] = { 0 }, rb[] = { 2 }, rc[] = { 1 }; /* ex.kz, b.a.ex.kz, a.ex.kz */
    struct order *a = mk("A", ORDER_RESTRICT, ra, 1), *b = mk("B", ORDER_RESTRICT, rb, 1);
    struct order *c = mk("C", ORDER_RESTRICT, rc, 1);
    struct order *v[2] = { a, b };
    struct ruleset *base = compile(v, 2);
    struct ruleset *s1 = apply(base, c, NULL);
    char q[200] = "";
    for (int i = 0; i < 40; i++)
        strncat(q, "x.", sizeof(q) - strlen(q) - 1);
    size_t at = strlen(q);
    snprintf(q + at, sizeof(q) - at, "b.a.ex.kz");
    ck_assert_str_eq(who(s1, q), "b.a.ex.kz:B");
    snprintf(q + at, sizeof(q) - at, "c.a.ex.kz");
    ck_assert_str_eq(who(s1, q), "a.ex.kz:C");
    snprintf(q + at, sizeof(q) - at, "c.ex.kz");
    ck_assert_str_eq(who(s1, q), "ex.kz:A");
    struct ruleset *s2 = apply(s1, NULL, "B");
    snprintf(q + at, sizeof(q) - at, "b.a.ex.kz");
    ck_assert_str_eq(who(s2, q), "a.ex.kz:C");
    ck_assert_str_eq(who(s2, "b.a.ex.kz"), "a.ex.kz:C");
    ruleset_free(base);
    ruleset_free(s1);
    ruleset_free(s2);
    order_free(a);
    order_free(b);
    order_free(c);
}
END_TEST

START_TEST(test_refused)
{
    const size_t ra[] = { 0 };
    struct order *a = mk("A", ORDER_RESTRICT, ra, 1);
    struct ruleset *base = compile(&a, 1);
    struct order *r = mk("S", ORDER_RESTORE, ra, 1); /* names no order: issuer-wide */
    char err[256];
    int rc = 0;
    const struct order *add[1] = { r };
    ck_assert_ptr_null(orderset_apply(base, add, 1, NULL, 0, &rc, err, sizeof(err)));
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_str_eq(err, "orders: restore order 'S' names no order: it needs the whole order set "
                          "(compile it)");
    struct ruleset_claim bad = { "exa mple.kz", 11, "C", NULL };
    ck_assert_ptr_null(ruleset_apply(base, &bad, 1, NULL, 0, &rc, err, sizeof(err)));
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err, "rules: order 'C': entry 'exa mple.kz': ") == err, "%s", err);
    ck_assert_str_eq(who(base, "ex.kz"), "ex.kz:A"); /* unchanged */
    ruleset_free(base);
    order_free(a);
    order_free(r);
}
END_TEST

static Suite *overlay_suite(void)
{
    Suite *s = suite_create("overlay");
    TCase *tc = tcase_create("overlay");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_model, 0, 16);
    tcase_add_test(tc, test_shared_claims);
    tcase_add_test(tc, test_stack_shared);
    tcase_add_test(tc, test_fallback_to_parent);
    tcase_add_test(tc, test_prefix_across_schemes);
    tcase_add_test(tc, test_https_representative);
    tcase_add_test(tc, test_deep_names);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(overlay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
