/* check_orddump.c - registry dump.xml: the mapping of <content> to records, windows-1251 (made
 * with iconv(3) from the UTF-8 text here), bad resources kept, malformed files and DTDs (XXE,
 * billion laughs) refused, the delta of two dumps, the progress callback. */
#include <check.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/orddump.h"
#include "tests/lib/guard.h"

#define NOW 1800000000

static int parse_n(const char *text, size_t len, struct order_list *l, char *err)
{
    const uint8_t *g = guard_copy(text, len);
    return orddump_parse("dump.xml", g, len, NOW, l, err, 512);
}

static int parse(const char *text, struct order_list *l, char *err)
{
    return parse_n(text, strlen(text), l, err);
}

#define DUMP_BODY                                                                            \
    "<register updateTime=\"2026-11-20T10:00:00+03:00\" formatVersion=\"2.4\">\n"            \
    "<content id=\"101\" includeTime=\"2026-11-19T12:00:00\" entryType=\"1\" hash=\"AB\">\n" \
    "  <decision date=\"2026-11-18\" number=\"2-41/2026\" org=\"Суд района\"/>\n"   \
    "  <url><![CDATA[http://Example.com/page?id=1]]></url>\n"                                \
    "  <domain><![CDATA[example.com]]></domain>\n"                                           \
    "  <ip>192.0.2.7</ip>\n"                                                                 \
    "  <ipSubnet>198.51.100.0/24</ipSubnet>\n"                                               \
    "</content>\n"                                                                           \
    "<content id=\"102\" includeTime=\"2026-11-19T13:00:00\" blockType=\"domain-mask\" "     \
    "urgencyType=\"1\">\n"                                                                   \
    "  <decision date=\"2026-11-19\" number=\"7\" org=\"Генпрокуратура\"/>\n"  \
    "  <domain>casino.example</domain>\n"                                                    \
    "  <domain>exa mple.org</domain>\n"                                                      \
    "  <ipv6>2001:DB8::1</ipv6>\n"                                                           \
    "  <ipv6Subnet>2001:db8:1::/48</ipv6Subnet>\n"                                           \
    "  <ipv6Subnet>2001:db8:1::/129</ipv6Subnet>\n"                                          \
    "</content>\n"                                                                           \
    "</register>\n"

static const char dump_utf8[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" DUMP_BODY;

static void check_records(const struct order_list *l)
{
    ck_assert_uint_eq(l->n, 2);
    const struct order *a = l->v[0], *b = l->v[1];
    ck_assert_str_eq(a->id, "dump:101");
    ck_assert_str_eq(a->issuer, "Суд района");
    ck_assert_str_eq(a->number, "2-41/2026");
    ck_assert_str_eq(a->issued, "2026-11-18");
    ck_assert_str_eq(a->included, "2026-11-19T12:00:00");
    ck_assert_str_eq(a->received, "2027-01-15T08:00:00Z");
    ck_assert(!a->urgent);
    ck_assert_int_eq(a->action, ORDER_RESTRICT);
    ck_assert_uint_eq(a->nres, 4);
    ck_assert_str_eq(a->res[0].norm, "http://example.com/page?id=1");
    ck_assert_str_eq(a->res[1].norm, "example.com");
    ck_assert_str_eq(a->res[2].norm, "192.0.2.7");
    ck_assert_str_eq(a->res[3].norm, "198.51.100.0/24");
    ck_assert_uint_eq(a->nrej, 0);
    ck_assert_str_eq(b->id, "dump:102");
    ck_assert_str_eq(b->issuer, "Генпрокуратура");
    ck_assert(b->urgent);
    ck_assert_uint_eq(b->nres, 3);
    ck_assert_str_eq(b->res[0].norm, "*.casino.example"); /* domain-mask */
    ck_assert_str_eq(b->res[1].norm, "2001:db8::1");
    ck_assert_str_eq(b->res[2].norm, "2001:db8:1::/48");
    ck_assert_uint_eq(b->nrej, 2);
    ck_assert_str_eq(b->rej[0].pos, "content[2]/domain[2] (line 13)");
    ck_assert_str_eq(b->rej[0].text, "exa mple.org");
    ck_assert_str_eq(b->rej[0].reason, "invalid hostname character 'exa mple.org'");
    ck_assert_str_eq(b->rej[1].pos, "content[2]/ipv6Subnet[2] (line 16)");
    ck_assert_str_eq(b->rej[1].reason, "invalid prefix length '2001:db8:1::/129'");
    ck_assert_str_eq(a->source, "dump.xml");
}

START_TEST(test_dump_utf8)
{
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_msg(parse(dump_utf8, &l, err) == 0, "%s", err);
    check_records(&l);
    order_list_free(&l);
}
END_TEST

struct seen {
    size_t calls, done[4], total[4];
};

static void on_progress(void *ctx, size_t done, size_t total)
{
    struct seen *s = ctx;
    if (s->calls < 4) {
        s->done[s->calls] = done;
        s->total[s->calls] = total;
    }
    s->calls++;
}

/* the progress callback: once per record, done counting up to the total */
START_TEST(test_dump_progress)
{
    struct order_list l = { 0 };
    char err[512] = "";
    struct seen s = { 0 };
    const uint8_t *g = guard_copy(dump_utf8, strlen(dump_utf8));
    ck_assert_msg(orddump_parse_progress("dump.xml", g, strlen(dump_utf8), NOW, &l, on_progress, &s,
                                         err, sizeof(err)) == 0,
                  "%s", err);
    check_records(&l);
    ck_assert_uint_eq(s.calls, 2);
    ck_assert_uint_eq(s.done[0], 1);
    ck_assert_uint_eq(s.done[1], 2);
    ck_assert_uint_eq(s.total[0], 2);
    ck_assert_uint_eq(s.total[1], 2);
    order_list_free(&l);
}
END_TEST

START_TEST(test_dump_cp1251)
{
    static const char text[] = "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n" DUMP_BODY;
    iconv_t cd = iconv_open("WINDOWS-1251", "UTF-8");
    ck_assert(cd != (iconv_t)-1);
    char out[sizeof(text)];
    char *in = (char *)text, *o = out;
    size_t inl = strlen(text), outl = sizeof(out);
    ck_assert_uint_ne(iconv(cd, &in, &inl, &o, &outl), (size_t)-1);
    iconv_close(cd);
    size_t len = (size_t)(o - out);
    ck_assert_uint_lt(len, strlen(text)); /* Cyrillic letters took one byte each */
    ck_assert_ptr_null(memmem(out, len, "Суд", strlen("Суд")));
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_msg(parse_n(out, len, &l, err) == 0, "%s", err);
    check_records(&l); /* the same records, in UTF-8 */
    char sha[65];
    ck_assert_int_eq(order_sha256((const uint8_t *)out, len, sha), 0);
    ck_assert_str_eq(l.v[0]->sha256, sha); /* of the bytes as given */
    order_list_free(&l);
}
END_TEST

struct badcase {
    const char *in;
    const char *err;
};

#define DEC "<decision date=\"2026-01-01\" number=\"1\" org=\"Court\"/>"

static const struct badcase bad_files[] = {
    { "", "orders: dump.xml:1:1: invalid XML: Document is empty" },
    { "<register><content id=\"1\">" DEC "</register>", "orders: dump.xml:1:" },
    { "<?xml version=\"1.0\"?>\n<list/>",
      "orders: dump.xml:2: expected a <register> root element, found <list>" },
    { "<register>\n<content>" DEC "</content></register>",
      "orders: dump.xml:2: content 1: missing attribute 'id'" },
    { "<register><content id=\"1\">" DEC "</content>\n<content id=\"1\">" DEC
      "</content></register>",
      "orders: dump.xml:2: content 2: duplicate id '1'" },
    /* the first content (in file order) whose id came before, not the first pair by id */
    { "<register>\n<content id=\"a\">" DEC "</content>\n<content id=\"b\">" DEC
      "</content>\n<content id=\"c\">" DEC "</content>\n<content id=\"b\">" DEC
      "</content>\n<content id=\"a\">" DEC "</content></register>",
      "orders: dump.xml:5: content 4: duplicate id 'b'" },
    { "<register><content id=\"1\"><domain>a.kz</domain></content></register>",
      "orders: dump.xml:1: content '1': no <decision>" },
    { "<register><content id=\"1\">\n<decision number=\"1\"/></content></register>",
      "orders: dump.xml:2: content '1': <decision> has no org" },
    { "<register><content id=\"1\"><decision org=\"C\" date=\"2026-02-30\"/></content></register>",
      "orders: dump.xml:1: content '1': decision date is not a date: \"2026-02-30\"" },
    { "<register><content id=\"1\" includeTime=\"noon\">" DEC "</content></register>",
      "orders: dump.xml:1: content '1': includeTime is not a time: \"noon\"" },
    { "<register><content id=\"1\" blockType=\"everything\">" DEC "</content></register>",
      "orders: dump.xml:1: content '1': unknown blockType \"everything\"" },
    /* XXE: an external entity would read a local file; the DTD is refused before any use */
    { "<?xml version=\"1.0\"?>\n<!DOCTYPE register [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
      "<register><content id=\"1\"><decision "
      "org=\"&xxe;\"/><domain>&xxe;</domain></content></register>",
      "orders: dump.xml:2: a DTD is not allowed in an order file" },
    /* an external DTD over the network */
    { "<?xml version=\"1.0\"?>\n<!DOCTYPE register SYSTEM \"http://192.0.2.1/x.dtd\">\n<register/>",
      "orders: dump.xml:2: a DTD is not allowed in an order file" },
    /* billion laughs */
    { "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
      "\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d "
      "\"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>\n"
      "<register><content id=\"1\">" DEC "<domain>&d;</domain></content></register>",
      "orders: dump.xml:2: a DTD is not allowed in an order file" },
    /* an entity with no DTD at all is a well-formedness error */
    { "<register><content id=\"1\">" DEC "<domain>&ent;</domain></content></register>",
      "orders: dump.xml:1:" },
};

START_TEST(test_dump_malformed)
{
    const struct badcase *c = &bad_files[_i];
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(order_list_push(&l, order_new()), 0);
    ck_assert_int_eq(parse(c->in, &l, err), -EINVAL);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "%s\n got: %s\nwant: %s", c->in, err,
                  c->err);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_ptr_null(strstr(err, "root:")); /* nothing of /etc/passwd ever shows */
    order_list_free(&l);
}
END_TEST

START_TEST(test_dump_delta)
{
    static const char prev[] =
        "<register>"
        "<content id=\"1\">" DEC "<domain>a.kz</domain><domain>b.kz</domain></content>"
        "<content id=\"2\">" DEC "<domain>c.kz</domain></content>"
        "<content id=\"3\">" DEC "<domain>d.kz</domain></content>"
        "<content id=\"4\">" DEC "<domain>e.kz</domain></content>"
        "</register>";
    static const char next[] =
        "<register>"
        "<content id=\"1\">" DEC
        "<domain>B.kz</domain><domain>a.kz.</domain></content>" /* same, reordered */
        "<content id=\"2\">" DEC
        "<domain>c.kz</domain><domain>c2.kz</domain></content>" /* a resource added */
        "<content id=\"4\"><decision date=\"2026-01-01\" number=\"2\" "
        "org=\"Court\"/><domain>e.kz</domain></content>"
        "<content id=\"5\">" DEC "<domain>f.kz</domain></content>"
        "</register>";
    struct order_list p = { 0 }, n = { 0 };
    char err[512];
    ck_assert_int_eq(parse(prev, &p, err), 0);
    ck_assert_int_eq(parse(next, &n, err), 0);
    struct orddump_delta d;
    ck_assert_int_eq(orddump_delta(&p, &n, &d), 0);
    ck_assert_uint_eq(d.unchanged, 1);
    ck_assert_uint_eq(d.nadded, 1);
    ck_assert_str_eq(d.added[0]->id, "dump:5");
    ck_assert_uint_eq(d.nremoved, 1);
    ck_assert_str_eq(d.removed[0]->id, "dump:3");
    ck_assert_uint_eq(d.nchanged, 2);
    ck_assert_str_eq(d.changed[0]->id, "dump:2");
    ck_assert_str_eq(d.changed[1]->id, "dump:4"); /* the decision's number changed */
    ck_assert_ptr_eq(d.changed[0], n.v[1]);
    orddump_delta_free(&d);
    /* against an empty dump: everything added, then everything removed */
    struct order_list e = { 0 };
    ck_assert_int_eq(orddump_delta(&e, &n, &d), 0);
    ck_assert_uint_eq(d.nadded, 4);
    orddump_delta_free(&d);
    ck_assert_int_eq(orddump_delta(&n, &e, &d), 0);
    ck_assert_uint_eq(d.nremoved, 4);
    ck_assert_uint_eq(d.nadded + d.nchanged + d.unchanged, 0);
    orddump_delta_free(&d);
    orddump_delta_free(NULL);
    order_list_free(&p);
    order_list_free(&n);
}
END_TEST

START_TEST(test_dump_prefixes)
{
    size_t len = strlen(dump_utf8);
    char err[512];
    for (size_t i = 0; i < len; i += 3) {
        struct order_list l = { 0 };
        int rc = parse_n(dump_utf8, i, &l, err);
        ck_assert(rc == 0 || rc == -EINVAL);
        if (rc) {
            ck_assert_int_eq(strncmp(err, "orders: dump.xml:", 17), 0);
            ck_assert_uint_eq(l.n, 0);
        }
        order_list_free(&l);
    }
}
END_TEST

static Suite *orddump_suite(void)
{
    Suite *s = suite_create("orddump");
    TCase *tc = tcase_create("dump");
    tcase_add_test(tc, test_dump_utf8);
    tcase_add_test(tc, test_dump_progress);
    tcase_add_test(tc, test_dump_cp1251);
    tcase_add_loop_test(tc, test_dump_malformed, 0,
                        (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_test(tc, test_dump_delta);
    tcase_add_test(tc, test_dump_prefixes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(orddump_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
