/* check_order.c - the order record (times, resources, stamp, canonical JSON round trip) and the
 * JSON importer (every field, every kind of bad resource, malformed files, positions). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/order.h"
#include "rules/orders/ordjson.h"
#include "tests/lib/guard.h"

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

static int parse(const char *text, struct order_list *l, char *err)
{
    size_t len = strlen(text);
    const uint8_t *g = guard_copy(text, len);
    return ordjson_parse("o.json", g, len, NOW, l, err, 512);
}

/* ---- record ---- */

struct tcase_time {
    const char *in;
    bool ok;
    int64_t ts;
};

static const struct tcase_time times[] = {
    { "2026-11-20T10:00:00+05:00", true, 1795150800 },
    { "2026-11-20T05:00:00Z", true, 1795150800 },
    { "2026-11-20t05:00:00.123z", true, 1795150800 },
    { "2026-11-20T05:00:00", true, 1795150800 }, /* no offset: UTC */
    { "2026-11-20 05:00:00", true, 1795150800 },
    { "2026-11-20", true, 1795132800 },
    { "1970-01-01T00:00:00Z", true, 0 },
    { "1969-12-31T23:00:00-01:00", true, 0 },
    { "2024-02-29", true, 1709164800 },
    { "2023-02-29", false, 0 },
    { "2026-13-01", false, 0 },
    { "2026-11-31T00:00:00Z", false, 0 },
    { "2026-11-20T24:00:00Z", false, 0 },
    { "2026-11-20T10:00:00+5:00", false, 0 },
    { "2026-11-20T10:00:00.Z", false, 0 },
    { "2026-11-20T10:00Z", false, 0 },
    { "20261120", false, 0 },
    { "", false, 0 },
};

START_TEST(test_time)
{
    const struct tcase_time *c = &times[_i];
    int64_t ts = -1;
    ck_assert_msg(order_time_parse(c->in, &ts) == c->ok, "%s", c->in);
    if (c->ok)
        ck_assert_msg(ts == c->ts, "%s: %lld", c->in, (long long)ts);
    char out[32];
    order_time_format(1795150800, out);
    ck_assert_str_eq(out, "2026-11-20T05:00:00Z");
}
END_TEST

START_TEST(test_resources_and_rejects)
{
    struct order *o = order_new();
    char err[256];
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(o->id, "");
    ck_assert_int_eq(order_add_resource(o, "Example.COM.", 12, NULL, false, err, sizeof(err)), 0);
    ck_assert_int_eq(
        order_add_resource(o, "sub.Example.org", 15, "gambling", true, err, sizeof(err)), 0);
    ck_assert_int_eq(order_add_resource(o, "*.mask.kz", 9, NULL, false, err, sizeof(err)), 0);
    ck_assert_int_eq(order_add_resource(o, "HTTP://h.kz/a/../b", 18, NULL, false, err, sizeof(err)),
                     0);
    ck_assert_int_eq(order_add_resource(o, "192.0.2.9/24", 12, NULL, false, err, sizeof(err)), 0);
    ck_assert_int_eq(order_add_resource(o, "192.0.2.1", 9, NULL, true, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "a domain mask needs a domain name");
    ck_assert_int_eq(order_add_resource(o, "ftp://x.kz/", 11, NULL, false, err, sizeof(err)),
                     -EINVAL);
    ck_assert_str_eq(err, "unsupported URL scheme 'ftp://x.kz/'");
    ck_assert_uint_eq(o->nres, 5);
    ck_assert_str_eq(o->res[0].text, "Example.COM.");
    ck_assert_str_eq(o->res[0].norm, "example.com");
    ck_assert_ptr_null(o->res[0].category);
    ck_assert_str_eq(o->res[1].norm, "*.sub.example.org");
    ck_assert_str_eq(o->res[1].category, "gambling");
    ck_assert_str_eq(o->res[2].norm, "*.mask.kz");
    ck_assert_int_eq(o->res[3].kind, RULE_URL);
    ck_assert_str_eq(o->res[3].norm, "http://h.kz/b");
    ck_assert_int_eq(o->res[4].kind, RULE_IP);
    ck_assert_str_eq(o->res[4].norm, "192.0.2.0/24");
    /* invalid UTF-8 and NUL bytes are kept visibly, never raw */
    ck_assert_int_eq(order_add_reject(o, "3", "a\xff\0b", 4, "bad"), 0);
    ck_assert_str_eq(o->rej[0].text, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                                     "b");
    ck_assert_str_eq(o->rej[0].pos, "3");
    order_free(o);
    order_free(NULL);
}
END_TEST

START_TEST(test_stamp_and_sha)
{
    char hex[65];
    order_sha256((const uint8_t *)"abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    struct order_list l = { 0 };
    ck_assert_int_eq(order_list_push(&l, order_new()), 0);
    ck_assert_int_eq(order_list_push(&l, order_new()), 0);
    ck_assert_int_eq(order_set(&l.v[1]->received, "2026-01-01T00:00:00Z", 20), 0);
    l.v[1]->received_ts = 1767225600;
    ck_assert_int_eq(order_stamp(&l, 0, "f.json", (const uint8_t *)"abc", 3, NOW), 0);
    ck_assert_str_eq(l.v[0]->source, "f.json");
    ck_assert_str_eq(l.v[0]->sha256, hex);
    ck_assert_str_eq(l.v[0]->received, "2027-01-15T08:00:00Z");
    ck_assert_int_eq(l.v[0]->received_ts, NOW);
    ck_assert_str_eq(l.v[1]->received, "2026-01-01T00:00:00Z"); /* given: kept */
    ck_assert_int_eq(order_set(&l.v[1]->id, "B", 1), 0);
    ck_assert_ptr_eq(order_list_find(&l, "B"), l.v[1]);
    ck_assert_ptr_null(order_list_find(&l, "C"));
    order_list_truncate(&l, 1);
    ck_assert_uint_eq(l.n, 1);
    order_list_free(&l);
    ck_assert_uint_eq(l.n, 0);
    order_list_free(NULL);
}
END_TEST

static const char full[] =
    "{\"id\": \"2026-41-0017\", \"issuer\": \"Министерство\", \"number\": \"17/2026\",\n"
    " \"legal_basis\": \"Закон РК «О связи» ст. 41-1\", \"issued\": "
    "\"2026-11-20T10:00:00+05:00\",\n"
    " \"received\": \"2026-11-21T09:30:00+05:00\", \"category\": \"court\", \"action\": "
    "\"restrict\",\n"
    " \"urgent\": true,\n"
    " \"resources\": [\"youtube.com\", {\"value\": \"casino.kz\", \"category\": \"gambling\"},\n"
    "   \"exa mple.com\", 42, {\"value\": \"x.kz\", \"category\": 7}, \"https://h.kz/p\", "
    "\"2001:DB8::/32\"]}\n";

START_TEST(test_json_full)
{
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(parse(full, &l, err), 0);
    ck_assert_uint_eq(l.n, 1);
    const struct order *o = l.v[0];
    ck_assert_str_eq(o->id, "2026-41-0017");
    ck_assert_str_eq(o->issuer, "Министерство");
    ck_assert_str_eq(o->number, "17/2026");
    ck_assert_str_eq(o->legal_basis, "Закон РК «О связи» ст. 41-1");
    ck_assert_str_eq(o->issued, "2026-11-20T10:00:00+05:00");
    ck_assert_int_eq(o->issued_ts, 1795150800);
    ck_assert_str_eq(o->received, "2026-11-21T09:30:00+05:00");
    ck_assert_str_eq(o->category, "court");
    ck_assert_int_eq(o->action, ORDER_RESTRICT);
    ck_assert(o->urgent);
    ck_assert_uint_eq(o->nres, 4);
    ck_assert_str_eq(o->res[1].norm, "casino.kz");
    ck_assert_str_eq(o->res[1].category, "gambling");
    ck_assert_str_eq(o->res[3].norm, "2001:db8::/32");
    ck_assert_uint_eq(o->nrej, 3);
    ck_assert_str_eq(o->rej[0].pos, "6:4");
    ck_assert_str_eq(o->rej[0].text, "exa mple.com");
    ck_assert_str_eq(o->rej[0].reason, "invalid hostname character 'exa mple.com'");
    ck_assert_str_eq(o->rej[1].pos, "6:20");
    ck_assert_str_eq(o->rej[1].text, "42");
    ck_assert_str_eq(o->rej[1].reason, "expected a string or {\"value\": string}");
    ck_assert_str_eq(o->rej[2].pos, "6:24");
    ck_assert_str_eq(o->rej[2].reason, "field 'category' must be a string");
    ck_assert_str_eq(o->source, "o.json");
    ck_assert_uint_eq(strlen(o->sha256), 64);
    ck_assert_int_eq(o->sig.status, ORDER_SIG_NONE);
    order_list_free(&l);
}
END_TEST

START_TEST(test_json_roundtrip)
{
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(parse(full, &l, err), 0);
    struct order *o = l.v[0];
    ck_assert_int_eq(order_add_restores(o, "2026-41-0001"), 0);
    ck_assert_int_eq(order_add_resource(o, "mask.kz", 7, NULL, true, err, sizeof(err)), 0);
    o->sig.status = ORDER_SIG_INVALID;
    ck_assert_int_eq(order_set(&o->sig.signer, "CN=Signer", 9), 0);
    ck_assert_int_eq(order_set(&o->sig.reason, "digest failure", 14), 0);
    char *j = order_to_json(o);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(strncmp(j, "{\"id\":\"2026-41-0017\",\"issuer\":", 30), 0);
    struct order *b = order_from_json(j, strlen(j), err, sizeof(err));
    ck_assert_msg(b != NULL, "%s", err);
    char *j2 = order_to_json(b);
    ck_assert_str_eq(j, j2); /* canonical: the same bytes again */
    ck_assert_str_eq(b->res[4].norm, "*.mask.kz");
    ck_assert_str_eq(b->restores[0], "2026-41-0001");
    ck_assert_int_eq(b->sig.status, ORDER_SIG_INVALID);
    ck_assert_str_eq(b->sig.signer, "CN=Signer");
    ck_assert_ptr_null(b->sig.time);
    ck_assert_int_eq(b->issued_ts, o->issued_ts);
    ck_assert_str_eq(b->sha256, o->sha256);
    ck_assert_uint_eq(b->nrej, 3);
    free(j);
    free(j2);
    order_free(b);
    /* bad canonical objects */
    static const char *const bad[] = {
        "[]",
        "{\"issuer\":\"x\",\"resources\":[]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a b\"}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[],\"action\":\"block\"}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[],\"signature\":{\"status\":\"maybe\"}}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[],\"issued\":\"yesterday\"}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[],\"sha256\":\"abc\"}",
        "{\"id\":\"a\",\"id\":\"b\",\"issuer\":\"x\",\"resources\":[]}",
        "{\"id\":",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(order_from_json(bad[i], strlen(bad[i]), err, sizeof(err)) == NULL, "%s",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    order_list_free(&l);
}
END_TEST

/* order_from_json() reads the resources of a canonical record with its own scanner and falls
 * back to jansson's tree for anything else: the two give the same record or the same error. */
START_TEST(test_json_scanner_as_tree)
{
    struct order_list l = { 0 };
    char err[512], err2[512];
    ck_assert_int_eq(parse(full, &l, err), 0);
    struct order *o = l.v[0];
    ck_assert_int_eq(order_add_resource(o, "mask.kz", 7, "casino", true, err, sizeof(err)), 0);
    o->res[o->nres - 1].resolve = true;
    char *j = order_to_json(o);
    ck_assert_ptr_nonnull(j);
    const char *cases[] = {
        j,
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[]}",
        "{ \"id\" : \"a\" , \"issuer\":\"x\",\n \"resources\" : [ { \"text\" : \"A.kz\" , "
        "\"resolve\" : true } , {\"text\":\"b.kz\",\"norm\":\"*.b.kz\",\"resolve\":false} ] }",
        /* the tree's cases: escapes, bytes above 0x7e, a duplicate or another key, bad types */
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"\\u0445.kz\"},{\"text\":"
        "\"b.kz\\/p\"}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"\xd1\x85.kz\"}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\",\"text\":\"b.kz\"}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\",\"note\":1}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\",\"resolve\":1}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\",\"category\":null}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a b\"}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[],\"resources\":[]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[\"a.kz\"]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":{}}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\"},]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\"}]} x",
        "{\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\"}]}",
        "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\"}",
    };
    size_t parsed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = err2[0] = '\0';
        struct order *a = order_from_json(cases[i], strlen(cases[i]), err, sizeof(err));
        struct order *b = order_from_json_tree(cases[i], strlen(cases[i]), err2, sizeof(err2));
        ck_assert_msg(!a == !b, "case %zu: %s / %s", i, err, err2);
        if (a) {
            char *ja = order_to_json(a), *jb = order_to_json(b);
            ck_assert_str_eq(ja, jb);
            free(ja);
            free(jb);
            parsed++;
        } else {
            ck_assert_str_eq(err, err2);
            ck_assert_msg(err[0] != '\0', "case %zu: no reason", i);
        }
        order_free(a);
        order_free(b);
    }
    ck_assert_uint_eq(parsed, 6);
    struct order *b = order_from_json(j, strlen(j), err, sizeof(err));
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->res[b->nres - 1].norm, "*.mask.kz");
    ck_assert_str_eq(b->res[b->nres - 1].category, "casino");
    ck_assert(b->res[b->nres - 1].resolve);
    ck_assert(!b->res[0].resolve);
    order_free(b);
    free(j);
    order_list_free(&l);
}
END_TEST

/* "resolve": true marks a resource for the IP fallback; kept in the record; anything but a
 * boolean is a rejected resource. */
START_TEST(test_json_resolve_mark)
{
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(parse("{\"id\":\"2026-41-0901\",\"issuer\":\"t\",\"legal_basis\":\"b\","
                           "\"issued\":\"2026-11-20\",\"resources\":[{\"value\":\"x.kz\","
                           "\"resolve\":true},{\"value\":\"y.kz\",\"resolve\":false},\"z.kz\","
                           "{\"value\":\"w.kz\",\"resolve\":\"yes\"}]}",
                           &l, err),
                     0);
    struct order *o = l.v[0];
    ck_assert_uint_eq(o->nres, 3);
    ck_assert(o->res[0].resolve);
    ck_assert(!o->res[1].resolve);
    ck_assert(!o->res[2].resolve);
    ck_assert_uint_eq(o->nrej, 1);
    ck_assert_str_eq(o->rej[0].reason, "field 'resolve' must be true or false");
    char *j = order_to_json(o);
    ck_assert_ptr_nonnull(strstr(j, "{\"text\":\"x.kz\",\"norm\":\"x.kz\",\"kind\":\"domain\","
                                    "\"resolve\":true}"));
    ck_assert_ptr_nonnull(strstr(j, "{\"text\":\"y.kz\",\"norm\":\"y.kz\",\"kind\":\"domain\"}"));
    struct order *b = order_from_json(j, strlen(j), err, sizeof(err));
    ck_assert_msg(b != NULL, "%s", err);
    ck_assert(b->res[0].resolve && !b->res[1].resolve);
    char *j2 = order_to_json(b);
    ck_assert_str_eq(j, j2);
    static const char bad[] = "{\"id\":\"a\",\"issuer\":\"x\",\"resources\":[{\"text\":\"a.kz\","
                              "\"resolve\":1}]}";
    ck_assert_ptr_null(order_from_json(bad, sizeof(bad) - 1, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "boolean 'resolve'"));
    free(j);
    free(j2);
    order_free(b);
    order_list_free(&l);
}
END_TEST

START_TEST(test_json_compat_and_shapes)
{
    struct order_list l = { 0 };
    char err[512];
    /* docs/formats.md's example, unchanged: received given, no new fields */
    FILE *f = fopen("deploy/samples/order-sample.json", "rb");
    ck_assert_ptr_nonnull(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_int_eq(parse(buf, &l, err), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.v[0]->nres, 7);
    ck_assert_uint_eq(l.v[0]->nrej, 0);
    ck_assert_str_eq(l.v[0]->received, "2026-11-21T09:30:00+05:00");
    /* an array, {"orders": [...]} with a BOM, a restore order without received */
    ck_assert_int_eq(
        parse("[{\"id\":\"A\",\"issuer\":\"I\",\"legal_basis\":\"L\",\"issued\":\"2026-01-01\","
              "\"resources\":[\"a.kz\"]}]",
              &l, err),
        0);
    ck_assert_int_eq(
        parse("\xEF\xBB\xBF{\"orders\":[{\"id\":\"B\",\"issuer\":\"I\",\"legal_basis\":\"L\","
              "\"issued\":\"2026-01-02T00:00:00Z\",\"action\":\"restore\",\"restores\":\"A\","
              "\"resources\":[]}]}",
              &l, err),
        0);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[1]->received, "2027-01-15T08:00:00Z");
    ck_assert_int_eq(l.v[2]->action, ORDER_RESTORE);
    ck_assert_uint_eq(l.v[2]->nrestores, 1);
    ck_assert_str_eq(l.v[2]->restores[0], "A");
    ck_assert(!l.v[2]->urgent);
    /* ids are unique within a file, not across the list: another file may carry "A" again */
    ck_assert_int_eq(
        parse("{\"id\":\"A\",\"issuer\":\"I\",\"legal_basis\":\"L\",\"issued\":\"2026-01-03\","
              "\"resources\":[]}",
              &l, err),
        0);
    ck_assert_uint_eq(l.n, 4);
    order_list_truncate(&l, 3);
    /* a NUL byte anywhere makes the file malformed (jansson would take part of it) */
    static const char nul[] = "{\"resources\": [42\n\0]}";
    const uint8_t *g = guard_copy(nul, sizeof(nul) - 1);
    ck_assert_int_eq(ordjson_parse("o.json", g, sizeof(nul) - 1, NOW, &l, err, sizeof(err)),
                     -EINVAL);
    ck_assert_str_eq(err, "orders: o.json:2:1: NUL byte in JSON text");
    ck_assert_uint_eq(l.n, 3);
    order_list_free(&l);
}
END_TEST

struct badcase {
    const char *in;
    const char *err;
};

#define ORD(extra) \
    "{\"id\":\"A\",\"issuer\":\"I\",\"legal_basis\":\"L\",\"issued\":\"2026-01-01\"" extra "}"

static const struct badcase bad_files[] = {
    { "{\"id\": \"A\",\n  \"resources\": [\"a.kz\",]}",
      "orders: o.json:2:24: invalid JSON: unexpected token near ']'" },
    { "", "orders: o.json:1:0: invalid JSON: " },
    { "42", "orders: o.json:1:2: invalid JSON: '[' or '{' expected near '42'" },
    { "{\"orders\": 42}",
      "orders: o.json:1:12: expected an order object, an array of orders or {\"orders\": [...]}" },
    { "[1]", "orders: o.json:1:2: order 1: not an object" },
    { ORD(""), "orders: o.json:1:1: order 1 ('A'): missing field 'resources'" },
    { "{\"issuer\":\"I\",\"resources\":[]}", "orders: o.json:1:1: order 1: missing field 'id'" },
    { ORD(",\"resources\":{}"),
      "orders: o.json:1:76: order 1 ('A'): field 'resources' must be an array" },
    { "{\"id\":\"A\",\"issuer\":\"\",\"resources\":[]}",
      "orders: o.json:1:20: order 1 ('A'): field 'issuer' must be a non-empty string" },
    { "{\"id\":\"A\",\"issuer\":\"I\",\"legal_basis\":\"L\",\n\"issued\":\"2026-02-30\","
      "\"resources\":[]}",
      "orders: o.json:2:10: order 1 ('A'): field 'issued' is not an RFC 3339 time: "
      "\"2026-02-30\"" },
    { ORD(",\"received\":5,\"resources\":[]"),
      "orders: o.json:1:75: order 1 ('A'): field 'received' must be a string" },
    { ORD(",\"action\":\"block\",\"resources\":[]"),
      "orders: o.json:1:73: order 1 ('A'): field 'action' must be \"restrict\" or \"restore\"" },
    { ORD(",\"urgent\":\"yes\",\"resources\":[]"),
      "orders: o.json:1:73: order 1 ('A'): field 'urgent' must be true or false" },
    { ORD(",\"restores\":[\"\"],\"resources\":[]"),
      "orders: o.json:1:76: order 1 ('A'): restores 1: must be a non-empty string" },
    { ORD(",\"restores\":7,\"resources\":[]"),
      "orders: o.json:1:75: order 1 ('A'): field 'restores' must be an order id or an array of "
      "them" },
    { "[" ORD(",\"resources\":[]") ",\n " ORD(",\"resources\":[]") "]",
      "orders: o.json:2:2: order 2 ('A'): duplicate order id" },
    { "{\"id\":\"A\",\"id\":\"B\"}",
      "orders: o.json:1:14: invalid JSON: duplicate object key near '\"id\"'" },
};

START_TEST(test_json_malformed)
{
    const struct badcase *c = &bad_files[_i];
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(order_list_push(&l, order_new()), 0); /* what was there stays */
    ck_assert_int_eq(parse(c->in, &l, err), -EINVAL);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0, "%s\n got: %s\nwant: %s", c->in, err,
                  c->err);
    ck_assert_uint_eq(l.n, 1);
    order_list_free(&l);
}
END_TEST

/* Every prefix of a valid file is either a valid file or refused with a message; never a crash
 * or an over-read (the input ends at a guard page). */
START_TEST(test_json_prefixes)
{
    size_t len = strlen(full);
    char err[512];
    for (size_t i = 0; i + 1 < len; i++) { /* the last prefix lacks only the final newline */
        struct order_list l = { 0 };
        const uint8_t *g = guard_copy(full, i);
        int rc = ordjson_parse("o.json", g, i, NOW, &l, err, sizeof(err));
        ck_assert_int_eq(rc, -EINVAL);
        ck_assert_uint_eq(l.n, 0);
        ck_assert_int_eq(strncmp(err, "orders: o.json:", 15), 0);
    }
}
END_TEST

static Suite *order_suite(void)
{
    Suite *s = suite_create("order");
    TCase *tc = tcase_create("record");
    tcase_add_loop_test(tc, test_time, 0, (int)(sizeof(times) / sizeof(times[0])));
    tcase_add_test(tc, test_resources_and_rejects);
    tcase_add_test(tc, test_stamp_and_sha);
    tcase_add_test(tc, test_json_roundtrip);
    tcase_add_test(tc, test_json_scanner_as_tree);
    tcase_add_test(tc, test_json_resolve_mark);
    suite_add_tcase(s, tc);
    tc = tcase_create("json");
    tcase_add_test(tc, test_json_full);
    tcase_add_test(tc, test_json_compat_and_shapes);
    tcase_add_loop_test(tc, test_json_malformed, 0,
                        (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_test(tc, test_json_prefixes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(order_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
