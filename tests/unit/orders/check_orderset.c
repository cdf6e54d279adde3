/* check_orderset.c - compiling active orders: shared entries know every order, revoking one
 * order keeps what another still lists, restore orders lift only the claims they target. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/orderset.h"

static struct order *mk(const char *id, const char *issuer, int64_t issued, enum order_action act,
                        const char *const *res)
{
    struct order *o = order_new();
    char err[256];
    ck_assert_int_eq(order_set(&o->id, id, strlen(id)), 0);
    ck_assert_int_eq(order_set(&o->issuer, issuer, strlen(issuer)), 0);
    ck_assert_int_eq(order_set(&o->category, "court", 5), 0);
    o->issued_ts = issued;
    o->action = act;
    for (; res && *res; res++)
        ck_assert_int_eq(order_add_resource(o, *res, strlen(*res), NULL, false, err, sizeof(err)),
                         0);
    return o;
}

/* The orders that block name (comma-joined), or "-" if nothing does. */
static const char *who(const struct ruleset *rs, const char *name)
{
    static char out[256];
    struct rule_match m;
    if (!ruleset_match_domain(rs, name, strlen(name), &m))
        return "-";
    const char *o[8];
    size_t n = ruleset_entry_orders(rs, m.entry, o, 8);
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 8; i++) {
        if (i)
            strncat(out, ",", sizeof(out) - strlen(out) - 1);
        strncat(out, o[i], sizeof(out) - strlen(out) - 1);
    }
    return out;
}

static struct ruleset *compile(struct order **v, size_t n, struct orderset_stats *st)
{
    char err[256] = "";
    struct ruleset *rs = orderset_compile((const struct order *const *)v, n, st, err, sizeof(err));
    ck_assert_msg(rs != NULL, "%s", err);
    return rs;
}

static const char *const res_a[] = { "x.kz", "y.kz", "*.m.kz", NULL };
static const char *const res_b[] = { "X.kz.", "z.kz", NULL };

START_TEST(test_shared_and_revoked)
{
    struct order *a = mk("A", "Ministry", 100, ORDER_RESTRICT, res_a);
    struct order *b = mk("B", "Court", 200, ORDER_RESTRICT, res_b);
    struct orderset_stats st;
    struct order *both[] = { a, b };
    struct ruleset *rs = compile(both, 2, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "A,B");
    ck_assert_str_eq(who(rs, "y.kz"), "A");
    ck_assert_str_eq(who(rs, "z.kz"), "B");
    ck_assert_str_eq(who(rs, "w.m.kz"), "A");
    ck_assert_uint_eq(st.orders, 2);
    ck_assert_uint_eq(st.claims, 5);
    ck_assert_uint_eq(st.added, 5);
    ck_assert_uint_eq(st.lifted, 0);
    ck_assert_uint_eq(ruleset_entry_count(rs), 4);
    ruleset_free(rs);
    /* A revoked: not passed in. x.kz stays (B lists it), y.kz goes */
    struct order *only_b[] = { b };
    rs = compile(only_b, 1, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "B");
    ck_assert_str_eq(who(rs, "y.kz"), "-");
    ck_assert_str_eq(who(rs, "w.m.kz"), "-");
    ruleset_free(rs);
    /* B revoked instead */
    rs = compile(both, 1, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "A");
    ck_assert_str_eq(who(rs, "z.kz"), "-");
    ruleset_free(rs);
    /* nothing active: an empty set */
    rs = compile(both, 0, &st);
    ck_assert_uint_eq(ruleset_entry_count(rs), 0);
    ruleset_free(rs);
    order_free(a);
    order_free(b);
}
END_TEST

START_TEST(test_restore_orders)
{
    struct order *a = mk("A", "Ministry", 100, ORDER_RESTRICT, res_a);
    struct order *b = mk("B", "Court", 200, ORDER_RESTRICT, res_b);
    static const char *const rx[] = { "x.kz", "m.kz", NULL };
    /* names A: lifts A's claims on x.kz and on the mask (m.kz is the same entry) only */
    struct order *r1 = mk("R1", "Ministry", 300, ORDER_RESTORE, rx);
    ck_assert_int_eq(order_add_restores(r1, "A"), 0);
    struct orderset_stats st;
    struct order *v1[] = { a, b, r1 };
    struct ruleset *rs = compile(v1, 3, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "B"); /* B still lists it */
    ck_assert_str_eq(who(rs, "y.kz"), "A");
    ck_assert_str_eq(who(rs, "w.m.kz"), "-");
    ck_assert_uint_eq(st.lifted, 2);
    ck_assert_uint_eq(st.added, 3);
    ruleset_free(rs);
    /* names A, lists nothing: all of A is lifted */
    struct order *r2 = mk("R2", "Ministry", 300, ORDER_RESTORE, NULL);
    ck_assert_int_eq(order_add_restores(r2, "A"), 0);
    struct order *v2[] = { a, b, r2 };
    rs = compile(v2, 3, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "B");
    ck_assert_str_eq(who(rs, "y.kz"), "-");
    ck_assert_uint_eq(st.lifted, 3);
    ruleset_free(rs);
    /* names no order: lifts the same issuer's earlier orders, not the court's */
    struct order *r3 = mk("R3", "Ministry", 300, ORDER_RESTORE, rx);
    struct order *v3[] = { a, b, r3 };
    rs = compile(v3, 3, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "B");
    ck_assert_str_eq(who(rs, "w.m.kz"), "-");
    ck_assert_str_eq(who(rs, "y.kz"), "A");
    ruleset_free(rs);
    /* ... and not orders issued after it */
    struct order *r4 = mk("R4", "Ministry", 50, ORDER_RESTORE, rx);
    struct order *v4[] = { a, b, r4 };
    rs = compile(v4, 3, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "A,B");
    ck_assert_uint_eq(st.lifted, 0);
    ruleset_free(rs);
    /* a restore of the court's order by the ministry (named): lifts B's claim; x.kz goes only
     * when both are lifted */
    struct order *r5 = mk("R5", "Ministry", 300, ORDER_RESTORE, rx);
    ck_assert_int_eq(order_add_restores(r5, "B"), 0);
    struct order *v5[] = { a, b, r5 };
    rs = compile(v5, 3, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "A");
    ruleset_free(rs);
    struct order *v6[] = { a, b, r1, r5 };
    rs = compile(v6, 4, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "-");
    ck_assert_str_eq(who(rs, "z.kz"), "B");
    ruleset_free(rs);
    /* a restore order that is itself revoked (not passed) lifts nothing */
    rs = compile(v6, 2, &st);
    ck_assert_str_eq(who(rs, "x.kz"), "A,B");
    ruleset_free(rs);
    order_free(a);
    order_free(b);
    order_free(r1);
    order_free(r2);
    order_free(r3);
    order_free(r4);
    order_free(r5);
}
END_TEST

START_TEST(test_attrs_rejects_and_kinds)
{
    char err[256];
    struct order *a = mk("A", "Ministry", 100, ORDER_RESTRICT, NULL);
    ck_assert_int_eq(order_add_resource(a, "g.kz", 4, "gambling", false, err, sizeof(err)), 0);
    ck_assert_int_eq(order_add_resource(a, "https://h.kz/p", 14, NULL, false, err, sizeof(err)), 0);
    ck_assert_int_eq(order_add_resource(a, "192.0.2.0/24", 12, NULL, false, err, sizeof(err)), 0);
    ck_assert_int_eq(order_add_reject(a, "4", "bad name", 8, "invalid"), 0);
    struct order *r = mk("R", "Ministry", 200, ORDER_RESTORE, NULL);
    ck_assert_int_eq(order_add_resource(r, "http://h.kz/p", 13, NULL, false, err, sizeof(err)), 0);
    struct order *v[] = { a, r };
    struct orderset_stats st;
    struct ruleset *rs = compile(v, 2, &st);
    struct rule_match m;
    ck_assert(ruleset_match_domain(rs, "g.kz", 4, &m));
    ck_assert_str_eq(ruleset_entry_category(rs, m.entry), "gambling");
    ck_assert_str_eq(ruleset_entry_order(rs, m.entry), "A");
    ck_assert(ruleset_match_url(rs, "h.kz", 4, "/p", 2, &m)); /* http:// is another entry key */
    uint8_t ip[4] = { 192, 0, 2, 9 };
    ck_assert(ruleset_match_ip(rs, 4, ip, &m));
    ck_assert_str_eq(ruleset_entry_category(rs, m.entry), "court");
    ck_assert_uint_eq(ruleset_entry_count(rs), 3); /* the rejected resource is not there */
    ck_assert_uint_eq(st.claims, 3);
    ruleset_free(rs);
    order_free(a);
    order_free(r);
}
END_TEST

/* Many orders sharing entries: the claims that stand are exactly the model's. */
START_TEST(test_model)
{
    enum { NORD = 40, NRES = 200, NAMES = 300 };
    struct order *v[NORD];
    char err[256], name[32];
    unsigned seed = 12345;
    static bool claims[NORD][NAMES];
    memset(claims, 0, sizeof(claims));
    for (int i = 0; i < NORD; i++) {
        char id[16];
        snprintf(id, sizeof(id), "O%d", i);
        v[i] = mk(id, i % 2 ? "Court" : "Ministry", i, ORDER_RESTRICT, NULL);
        for (int j = 0; j < NRES; j++) {
            seed = seed * 1103515245u + 12345u;
            int k = (int)((seed >> 8) % NAMES);
            snprintf(name, sizeof(name), "n%d.kz", k);
            ck_assert_int_eq(
                order_add_resource(v[i], name, strlen(name), NULL, false, err, sizeof(err)), 0);
            claims[i][k] = true;
        }
    }
    /* revoke every third order */
    struct order *active[NORD];
    size_t na = 0;
    for (int i = 0; i < NORD; i++)
        if (i % 3)
            active[na++] = v[i];
    struct orderset_stats st;
    struct ruleset *rs = compile(active, na, &st);
    for (int k = 0; k < NAMES; k++) {
        snprintf(name, sizeof(name), "n%d.kz", k);
        struct rule_match m;
        size_t want = 0;
        for (int i = 0; i < NORD; i++)
            want += i % 3 && claims[i][k];
        bool hit = ruleset_match_domain(rs, name, strlen(name), &m);
        ck_assert_msg(hit == (want > 0), "%s", name);
        if (hit)
            ck_assert_uint_eq(ruleset_entry_orders(rs, m.entry, NULL, 0), want);
    }
    ruleset_free(rs);
    for (int i = 0; i < NORD; i++)
        order_free(v[i]);
}
END_TEST

/* A kept change (orderset_change_new()) needs no record once made: applied after the records
 * and the revoked ids are freed, it makes the set orderset_apply() makes. */
START_TEST(test_kept_change)
{
    struct order *a = mk("A", "court-1", 100, ORDER_RESTRICT, res_a);
    struct ruleset *base = compile(&a, 1, NULL);
    static const char *const res_c[] = { "x.kz", "c.kz", NULL };
    static const char *const res_y[] = { "y.kz", NULL };
    struct order *c = mk("C", "court-2", 200, ORDER_RESTRICT, res_c);
    struct order *r = mk("R", "court-1", 300, ORDER_RESTORE, res_y);
    ck_assert_int_eq(order_set(&c->category, "other", 5), 0);
    ck_assert_int_eq(order_add_restores(r, "A"), 0);
    const struct order *add[] = { c, r };
    char err[256] = "";
    int rc = 0;
    struct ruleset *direct = orderset_apply(base, add, 2, NULL, 0, &rc, err, sizeof(err));
    ck_assert_msg(direct != NULL, "%s", err);
    struct orderset_change *ch = orderset_change_new(add, 2, NULL, 0, &rc, err, sizeof(err));
    ck_assert_msg(ch != NULL, "%s", err);
    char *gone = strdup("A");
    const char *rev[] = { gone };
    struct orderset_change *lift = orderset_change_new(NULL, 0, rev, 1, &rc, err, sizeof(err));
    ck_assert_msg(lift != NULL, "%s", err);
    order_free(c);
    order_free(r);
    free(gone);
    struct ruleset *kept = orderset_change_apply(base, ch, &rc, err, sizeof(err));
    ck_assert_msg(kept != NULL, "%s", err);
    const char *names[] = { "x.kz", "y.kz", "c.kz", "q.m.kz", "z.kz" };
    const char *want[] = { "A,C", "-", "C", "A", "-" };
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(who(direct, names[i]), want[i]);
        ck_assert_str_eq(who(kept, names[i]), want[i]);
    }
    struct rule_match m;
    ck_assert(ruleset_match_domain(kept, "c.kz", 4, &m));
    ck_assert_str_eq(ruleset_entry_category(kept, m.entry), "other");
    struct ruleset *after = orderset_change_apply(kept, lift, &rc, err, sizeof(err));
    ck_assert_msg(after != NULL, "%s", err);
    ck_assert_str_eq(who(after, "x.kz"), "C");
    ck_assert_str_eq(who(after, "q.m.kz"), "-");
    /* what orderset_apply() refuses is refused when kept */
    struct order *any = mk("N", "court-1", 400, ORDER_RESTORE, res_y);
    const struct order *bad[] = { any };
    rc = 0;
    ck_assert_ptr_null(orderset_change_new(bad, 1, NULL, 0, &rc, err, sizeof(err)));
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'N'"));
    order_free(any);
    orderset_change_free(ch);
    orderset_change_free(lift);
    orderset_change_free(NULL);
    ruleset_free(after);
    ruleset_free(kept);
    ruleset_free(direct);
    ruleset_free(base);
    order_free(a);
}
END_TEST

static Suite *orderset_suite(void)
{
    Suite *s = suite_create("orderset");
    TCase *tc = tcase_create("compile");
    tcase_add_test(tc, test_shared_and_revoked);
    tcase_add_test(tc, test_restore_orders);
    tcase_add_test(tc, test_attrs_rejects_and_kinds);
    tcase_add_test(tc, test_model);
    tcase_add_test(tc, test_kept_change);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(orderset_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
