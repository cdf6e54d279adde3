/* check_ordcsv.c - CSV orders: columns, quoting, CRLF, BOM, grouping rows into orders, bad
 * resources kept with their position, malformed files refused whole. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/ordcsv.h"
#include "tests/lib/guard.h"

#define NOW 1800000000

static int parse(const char *text, struct order_list *l, char *err)
{
    size_t len = strlen(text);
    const uint8_t *g = guard_copy(text, len);
    return ordcsv_parse("o.csv", g, len, NOW, l, err, 512);
}

static const char good[] =
    "\xEF\xBB\xBF"
    "id,issuer,number,legal_basis,issued,received,category,action,urgent,restores,resource,"
    "resource_category\r\n"
    "A-1,\"Ministry, of Culture\",17,\"Art. 41-1 \"\"On "
    "communications\"\"\",2026-11-20T10:00:00+05:00,,court,"
    "restrict,1,,example.com,\r\n"
    "A-1,,,,,,,,,,\"https://ex.org/a,b\",gambling\r\n"
    "\r\n"
    "B-2,Court,,,2026-11-21,2026-11-22T00:00:00Z,,restore,no,A-1;X-9,example.com,\r\n"
    "A-1,Ministry, of Culture,,,,,,,,exa mple.com,\r\n";

START_TEST(test_csv_good)
{
    struct order_list l = { 0 };
    char err[512] = "";
    /* the last row's unquoted comma shifts its fields: the issuer contradicts line 2 */
    ck_assert_int_eq(parse(good, &l, err), -EINVAL);
    ck_assert_str_eq(
        err, "orders: o.csv:6:5: column 'issuer' is \"Ministry\" but line 2 gave \"Ministry, of "
             "Culture\" for the same order");
    ck_assert_uint_eq(l.n, 0);

    char fixed[sizeof(good)];
    memcpy(fixed, good, sizeof(good));
    char *last = strstr(fixed, "A-1,Ministry, of");
    memcpy(last, "A-1,,,,,,,,,,exa mple.com,\r\n", 29);
    ck_assert_int_eq(parse(fixed, &l, err), 0);
    ck_assert_uint_eq(l.n, 2);
    const struct order *a = l.v[0], *b = l.v[1];
    ck_assert_str_eq(a->id, "A-1");
    ck_assert_str_eq(a->issuer, "Ministry, of Culture");
    ck_assert_str_eq(a->number, "17");
    ck_assert_str_eq(a->legal_basis, "Art. 41-1 \"On communications\"");
    ck_assert_int_eq(a->issued_ts, 1795150800);
    ck_assert_str_eq(a->received, "2027-01-15T08:00:00Z"); /* none given: import time */
    ck_assert_str_eq(a->category, "court");
    ck_assert(a->urgent);
    ck_assert_uint_eq(a->nres, 2);
    ck_assert_str_eq(a->res[0].norm, "example.com");
    ck_assert_ptr_null(a->res[0].category);
    ck_assert_str_eq(a->res[1].norm, "https://ex.org/a,b");
    ck_assert_str_eq(a->res[1].category, "gambling");
    ck_assert_uint_eq(a->nrej, 1);
    ck_assert_str_eq(a->rej[0].pos, "6:14");
    ck_assert_str_eq(a->rej[0].text, "exa mple.com");
    ck_assert_str_eq(a->rej[0].reason, "invalid hostname character 'exa mple.com'");
    ck_assert_str_eq(b->id, "B-2");
    ck_assert_int_eq(b->action, ORDER_RESTORE);
    ck_assert(!b->urgent);
    ck_assert_str_eq(b->received, "2026-11-22T00:00:00Z");
    ck_assert_uint_eq(b->nrestores, 2);
    ck_assert_str_eq(b->restores[1], "X-9");
    ck_assert_str_eq(b->source, "o.csv");
    ck_assert_str_eq(a->sha256, b->sha256);
    order_list_free(&l);
}
END_TEST

START_TEST(test_csv_minimal_and_multiline)
{
    struct order_list l = { 0 };
    char err[512];
    /* required columns only, in another order, LF ends, no final newline, a quoted field with a
     * line break (a bad resource: its position is where the field starts) */
    ck_assert_int_eq(parse("Resource,ID,Issued,Issuer\n"
                           "a.kz,1,2026-01-01,I\n"
                           "\"b\n.kz\",1,,\n"
                           "c.kz,1,,",
                           &l, err),
                     0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.v[0]->nres, 2);
    ck_assert_str_eq(l.v[0]->res[1].norm, "c.kz");
    ck_assert_uint_eq(l.v[0]->nrej, 1);
    ck_assert_str_eq(l.v[0]->rej[0].pos, "3:1");
    ck_assert_str_eq(l.v[0]->legal_basis, "");
    /* a resource that is not UTF-8 is rejected, and kept readable */
    ck_assert_int_eq(
        parse("id,issuer,issued,resource\n9,I,2026-01-01,ok.kz\n9,,,\xff.kz\n", &l, err), 0);
    ck_assert_uint_eq(l.v[1]->nres, 1);
    ck_assert_str_eq(l.v[1]->rej[0].reason, "not valid UTF-8 at byte 1");
    ck_assert_str_eq(l.v[1]->rej[0].text, "\xEF\xBF\xBD.kz");
    order_list_truncate(&l, 1);
    /* an order with no resource at all (an empty resource cell) */
    ck_assert_int_eq(parse("id,issuer,issued,resource,action\n2,I,2026-01-01,,restore\n", &l, err),
                     0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_uint_eq(l.v[1]->nres, 0);
    order_list_free(&l);
}
END_TEST

struct badcase {
    const char *in;
    const char *err;
};

#define HDR "id,issuer,issued,resource\n"

static const struct badcase bad_files[] = {
    { "", "orders: o.csv:1: no header row" },
    { "\n\n", "orders: o.csv:3: no header row" },
    { "id,issuer,issued,resource,colour\n", "orders: o.csv:1:27: unknown column \"colour\"" },
    { "id,issuer,issued,resource,ID\n", "orders: o.csv:1:27: column \"ID\" given twice" },
    { "id,issuer,resource\n", "orders: o.csv:1: header lacks the column \"issued\"" },
    { HDR "1,I,2026-01-01,\"a.kz\n", "orders: o.csv:2:16: unterminated quoted field" },
    { HDR "1,I,2026-01-01,\"a.kz\"x\n", "orders: o.csv:2:22: text after a closing quote" },
    { HDR "1,I,2026-01-01,a\"b\n", "orders: o.csv:2:17: quote inside an unquoted field" },
    { HDR "1,I,2026-01-01\n", "orders: o.csv:2: 3 fields, the header has 4" },
    { HDR ",I,2026-01-01,a.kz\n", "orders: o.csv:2:1: empty order id" },
    { HDR "1,,2026-01-01,a.kz\n", "orders: o.csv:2:3: order '1': empty issuer" },
    { HDR "1,I,2026-02-30,a.kz\n",
      "orders: o.csv:2:5: order '1': column 'issued' is not an RFC 3339 time: \"2026-02-30\"" },
    { HDR "1,I,2026-01-01,a.kz\n1,J,,b.kz\n",
      "orders: o.csv:3:3: column 'issuer' is \"J\" but line 2 gave \"I\" for the same order" },
    { "id,issuer,issued,resource,action\n1,I,2026-01-01,a.kz,block\n",
      "orders: o.csv:2:21: order '1': column 'action' must be restrict or restore, not \"block\"" },
    { "id,issuer,issued,resource,urgent\n1,I,2026-01-01,a.kz,maybe\n",
      "orders: o.csv:2:21: order '1': column 'urgent' must be 0/1, true/false or yes/no, not "
      "\"maybe\"" },
    { "id,issuer,issued,resource,urgent\n1,I,2026-01-01,a.kz,1\n1,,,b.kz,0\n",
      "orders: o.csv:3:10: column 'urgent' is \"0\" but line 2 gave true for the same order" },
    { "id,issuer,issued,resource,received\n1,I,2026-01-01,a.kz,soon\n",
      "orders: o.csv:2:21: order '1': column 'received' is not an RFC 3339 time: \"soon\"" },
    { "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g\n",
      "orders: o.csv:1:65: too many fields" },
};

START_TEST(test_csv_malformed)
{
    const struct badcase *c = &bad_files[_i];
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(order_list_push(&l, order_new()), 0);
    ck_assert_int_eq(parse(c->in, &l, err), -EINVAL);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "%s\n got: %s\nwant: %s", c->in, err,
                  c->err);
    ck_assert_uint_eq(l.n, 1);
    order_list_free(&l);
}
END_TEST

START_TEST(test_csv_prefixes)
{
    size_t len = strlen(good);
    char err[512];
    for (size_t i = 0; i <= len; i++) {
        struct order_list l = { 0 };
        const uint8_t *g = guard_copy(good, i);
        int rc = ordcsv_parse("o.csv", g, i, NOW, &l, err, sizeof(err));
        ck_assert(rc == 0 || rc == -EINVAL);
        if (rc)
            ck_assert_int_eq(strncmp(err, "orders: o.csv:", 14), 0);
        else
            ck_assert_uint_le(l.n, 2);
        order_list_free(&l);
    }
}
END_TEST

static Suite *ordcsv_suite(void)
{
    Suite *s = suite_create("ordcsv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, test_csv_good);
    tcase_add_test(tc, test_csv_minimal_and_multiline);
    tcase_add_loop_test(tc, test_csv_malformed, 0, (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_test(tc, test_csv_prefixes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ordcsv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
