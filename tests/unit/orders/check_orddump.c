/* check_orddump.c - registry dump.xml: the mapping of <content> to records, windows-1251 (made
 * with iconv(3) from the UTF-8 text here; every byte of the table against iconv) and UTF-16,
 * other encodings refused by name, namespaced names, the text of a resource, line numbers past
 * 65535, bad resources kept, malformed files and DTDs (XXE, billion laughs) refused, a
 * well-formedness error winning over a record error, the depth and text bounds, the delta of two
 * dumps, the progress callback. */
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
    order_sha256((const uint8_t *)out, len, sha);
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
    { "", "orders: dump.xml:1:1: invalid XML: no element found" },
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
    /* an encoding other than expat's own and windows-1251 is refused by name */
    { "<?xml version=\"1.0\" encoding=\"KOI8-R\"?>\n<register/>",
      "orders: dump.xml:1:31: invalid XML: encoding \"KOI8-R\" is not supported" },
    /* 0x98 is no character in windows-1251 */
    { "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n<register><content id=\"\x98\">" DEC
      "</content></register>",
      "orders: dump.xml:2:" },
    /* a well-formedness error further on wins over a record error before it */
    { "<register>\n<content>" DEC "</content>\n<content id=\"2\">" DEC
      "</content>\n<broken></register>",
      "orders: dump.xml:4:" },
    { "<list>\n<content id=\"1\">" DEC "</content>\n</lis>", "orders: dump.xml:3:" },
    /* a prefix bound to no namespace */
    { "<reg:register><content id=\"1\">" DEC "</content></reg:register>",
      "orders: dump.xml:1:1: invalid XML: unbound prefix" },
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

/* Every byte 0x80-0xFF of windows-1251 but 0x98 in a decision's org: the record holds what
 * iconv(3) makes of them. */
START_TEST(test_dump_cp1251_table)
{
    char high[128], *h = high;
    for (int b = 0x80; b < 0x100; b++)
        if (b != 0x98)
            *h++ = (char)b;
    *h = '\0';
    char text[512];
    int tl = snprintf(text, sizeof(text),
                      "<?xml version=\"1.0\" encoding=\"CP1251\"?>\n<register><content "
                      "id=\"1\"><decision org=\"%s\"/></content></register>",
                      high);
    ck_assert_int_lt(tl, (int)sizeof(text));
    char want[512], *in = high, *o = want;
    size_t inl = strlen(high), outl = sizeof(want) - 1;
    iconv_t cd = iconv_open("UTF-8", "WINDOWS-1251");
    ck_assert(cd != (iconv_t)-1);
    ck_assert_uint_ne(iconv(cd, &in, &inl, &o, &outl), (size_t)-1);
    iconv_close(cd);
    *o = '\0';
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_msg(parse_n(text, (size_t)tl, &l, err) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.v[0]->issuer, want);
    order_list_free(&l);
}
END_TEST

/* UTF-16 (with its byte order mark) is read as well */
START_TEST(test_dump_utf16)
{
    static const char text[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n" DUMP_BODY;
    iconv_t cd = iconv_open("UTF-16", "UTF-8");
    ck_assert(cd != (iconv_t)-1);
    static char out[4 * sizeof(text)];
    char *in = (char *)text, *o = out;
    size_t inl = strlen(text), outl = sizeof(out);
    ck_assert_uint_ne(iconv(cd, &in, &inl, &o, &outl), (size_t)-1);
    iconv_close(cd);
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_msg(parse_n(out, (size_t)(o - out), &l, err) == 0, "%s", err);
    check_records(&l);
    order_list_free(&l);
}
END_TEST

/* Names are compared by their local part: the registry's own <reg:register xmlns:reg=...>, a
 * default namespace, a prefixed attribute. */
START_TEST(test_dump_namespaces)
{
    static const char text[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<reg:register xmlns:reg=\"http://rsoc.ru\" xmlns:tns=\"http://rsoc.ru\">\n"
        "<content id=\"1\">" DEC "<domain>a.example</domain></content>\n"
        "<tns:content tns:id=\"2\"><tns:decision org=\"Court\"/><tns:domain>b.example</tns:domain>"
        "</tns:content>\n"
        "<content xmlns=\"urn:x\" id=\"3\">" DEC "<domain>c.example</domain></content>\n"
        "</reg:register>\n";
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_msg(parse(text, &l, err) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[0]->id, "dump:1");
    ck_assert_str_eq(l.v[1]->id, "dump:2");
    ck_assert_str_eq(l.v[1]->issuer, "Court");
    ck_assert_str_eq(l.v[1]->res[0].norm, "b.example");
    ck_assert_str_eq(l.v[2]->res[0].norm, "c.example");
    order_list_free(&l);
}
END_TEST

/* A resource is all the text within its element (character references, CDATA, text of nested
 * elements; not comments), in document order even before the <decision>; elements that are not
 * direct children of a <content> are no resources, and nor is anything outside one. */
START_TEST(test_dump_text)
{
    static const char text[] =
        "<register><domain>x.example</domain>\n"
        "<content id=\"1\"><url>http://ex&#97;mple.com/?a=1&amp;b=<![CDATA[<2>]]></url>"
        "<domain>a<!-- not text -->b<i>.</i>example</domain>" DEC
        "<ip>192.0.2.1</ip><x><domain>nested.example</domain></x><domain/></content>\n"
        "<x><content id=\"9\">" DEC "</content></x></register>";
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_msg(parse(text, &l, err) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 1);
    const struct order *o = l.v[0];
    ck_assert_uint_eq(o->nres, 3);
    ck_assert_str_eq(o->res[0].text, "http://example.com/?a=1&b=<2>");
    ck_assert_str_eq(o->res[1].norm, "ab.example");
    ck_assert_str_eq(o->res[2].norm, "192.0.2.1");
    ck_assert_uint_eq(o->nrej, 1); /* the empty <domain/> */
    ck_assert_str_eq(o->rej[0].pos, "content[1]/domain[2] (line 2)");
    ck_assert_str_eq(o->rej[0].text, "");
    order_list_free(&l);
}
END_TEST

/* Lines are counted past 65535 (the position of a rejected resource, of an error). */
START_TEST(test_dump_big_lines)
{
    size_t pad = 70000;
    const char *head = "<register>",
               *tail = "<content id=\"1\">" DEC "<domain>exa mple.org</domain></content>\n<bad>";
    size_t len = strlen(head) + pad + strlen(tail);
    char *text = malloc(len + 16); /* room for the closing tag below */
    ck_assert_ptr_nonnull(text);
    memcpy(text, head, strlen(head));
    memset(text + strlen(head), '\n', pad);
    memcpy(text + strlen(head) + pad, tail, strlen(tail) + 1);
    struct order_list l = { 0 };
    char err[512] = "";
    ck_assert_int_eq(parse_n(text, len, &l, err), -EINVAL);
    ck_assert_msg(strncmp(err, "orders: dump.xml:70002:6: invalid XML: ", 39) == 0, "%s", err);
    memcpy(text + len - 6, "</register>", 11);
    len += 5;
    ck_assert_msg(parse_n(text, len, &l, err) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.v[0]->rej[0].pos, "content[1]/domain[1] (line 70001)");
    order_list_free(&l);
    free(text);
}
END_TEST

/* The bounds: elements nested 256 deep are read, 257 are refused; a resource's text of
 * 10000000 bytes is read, one more byte is refused. */
START_TEST(test_dump_limits)
{
    char *text = malloc(10000200);
    ck_assert_ptr_nonnull(text);
    struct order_list l = { 0 };
    char err[512];
    for (int extra = 0; extra < 2; extra++) {
        size_t n = 0, depth = 256 + (size_t)extra;
        n += (size_t)snprintf(text, 64, "<register>");
        for (size_t i = 1; i < depth; i++)
            n += (size_t)snprintf(text + n, 8, "<a>");
        for (size_t i = 1; i < depth; i++)
            n += (size_t)snprintf(text + n, 8, "</a>");
        n += (size_t)snprintf(text + n, 64, "</register>");
        int rc = parse_n(text, n, &l, err);
        if (!extra) {
            ck_assert_msg(rc == 0, "%s", err);
        } else {
            ck_assert_int_eq(rc, -EINVAL);
            ck_assert_msg(strstr(err, ": elements nested deeper than 256"), "%s", err);
        }
    }
    for (int extra = 0; extra < 2; extra++) {
        size_t n = (size_t)snprintf(text, 200, "<register><content id=\"1\">" DEC "<url>");
        size_t tl = 10000000 + (size_t)extra;
        memset(text + n, 'a', tl);
        n += tl;
        n += (size_t)snprintf(text + n, 64, "</url></content></register>");
        int rc = parse_n(text, n, &l, err);
        if (!extra) {
            ck_assert_msg(rc == 0, "%s", err);
            ck_assert_uint_eq(l.v[0]->nrej, 1); /* not a URL, kept as written */
        } else {
            ck_assert_int_eq(rc, -EINVAL);
            ck_assert_msg(strstr(err, ": a resource's text is longer than 10000000 bytes"), "%s",
                          err);
        }
        order_list_free(&l);
        memset(&l, 0, sizeof(l));
    }
    free(text);
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
    tcase_add_test(tc, test_dump_cp1251_table);
    tcase_add_test(tc, test_dump_utf16);
    tcase_add_test(tc, test_dump_namespaces);
    tcase_add_test(tc, test_dump_text);
    tcase_add_test(tc, test_dump_big_lines);
    tcase_add_test(tc, test_dump_limits);
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
