/* check_ipdrop.c - Check suite for the kernel's drop of IP entries (proxy/enforce/ipdrop.c).
 *
 * Pure: the entry texts parsed, prefixes covered by a shorter one left out (against a model:
 * random prefixes, every address of a small space checked), the difference of two lists as nft
 * commands. Live (root; each test in a network namespace of its own, unshare(2) in the forked
 * test process, so the tables vanish with it): a rule set's IP entries reach the kernel's sets,
 * a change is applied as its difference, a
 * table changed or removed by hand is made again, a refused name leaves nothing, and the
 * table is removed at the end. The traffic side is tests/scripts/queue.sh ("IP entries on
 * every port"). */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/enforce/ipdrop.h"
#include "tests/lib/needroot.h"
#include "tests/lib/nlw.h"
#include "tests/lib/proc.h"

static struct ruleset *build(const char *const *entries, size_t n)
{
    struct ruleset_builder *b = ruleset_builder_new();
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++) {
        char err[256];
        struct rule_attrs a = { .order = "2026-41-0001", .category = NULL, .source = NULL };
        ck_assert_msg(
            ruleset_builder_add(b, entries[i], strlen(entries[i]), &a, err, sizeof(err)) == 0,
            "%s: %s", entries[i], err);
    }
    struct ruleset *rs = ruleset_build(b);
    ck_assert_ptr_nonnull(rs);
    return rs;
}

static char *texts(const struct ipdrop_list *l)
{
    static char out[4096];
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < l->n; i++) {
        char b[64];
        ipdrop_format(&l->p[i], b, sizeof(b));
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "", b);
    }
    return out;
}

START_TEST(parse_forms)
{
    struct ipdrop_prefix p;
    ck_assert_int_eq(ipdrop_parse("192.0.2.7", &p), 0);
    ck_assert_uint_eq(p.ver, 4);
    ck_assert_uint_eq(p.plen, 32);
    ck_assert_int_eq(ipdrop_parse("192.0.2.77/24", &p), 0); /* host bits cleared */
    ck_assert_uint_eq(p.plen, 24);
    ck_assert_uint_eq(p.addr[3], 0);
    ck_assert_int_eq(ipdrop_parse("2001:db8::1/32", &p), 0);
    ck_assert_uint_eq(p.ver, 6);
    ck_assert_uint_eq(p.plen, 32);
    ck_assert_uint_eq(p.addr[15], 0);
    ck_assert_int_eq(ipdrop_parse("0.0.0.0/0", &p), 0);
    ck_assert_uint_eq(p.plen, 0);
    static const char *const bad[] = { "",           "/24",          "192.0.2.7/33",
                                       "192.0.2.7/", "192.0.2/24",   "2001:db8::/129",
                                       "ex.com",     "192.0.2.7/2x", "192.0.2.7/-1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(ipdrop_parse(bad[i], &p) == -EINVAL, "'%s' parsed", bad[i]);
}
END_TEST

START_TEST(table_names)
{
    ck_assert(ipdrop_table_name_ok("qorgau_ip"));
    ck_assert(ipdrop_table_name_ok("Q1"));
    ck_assert(!ipdrop_table_name_ok(""));
    ck_assert(!ipdrop_table_name_ok("1q"));
    ck_assert(!ipdrop_table_name_ok("qorgau ip"));
    ck_assert(!ipdrop_table_name_ok("q;flush ruleset"));
    ck_assert(!ipdrop_table_name_ok("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
    ck_assert(ipdrop_table_name_ok("abcdefghijklmnopqrstuvwxyz012345"));   /* 32 */
}
END_TEST

/* Only IP entries, live ones, reduced; both families, v4 first. */
START_TEST(collect_reduces)
{
    static const char *const e[] = { "ex.com",          "http://ex.org/a", "192.0.2.7",
                                     "192.0.2.0/24",    "192.0.2.128/25",  "198.51.100.9",
                                     "10.0.0.0/8",      "10.1.2.3",        "2001:db8::/32",
                                     "2001:db8:1::5",   "2001:db9::1",     "203.0.113.0/25",
                                     "203.0.113.128/25" };
    struct ruleset *rs = build(e, sizeof(e) / sizeof(e[0]));
    struct ipdrop_list l = { 0 };
    size_t bad = 9;
    ck_assert_int_eq(ipdrop_collect(rs, NULL, &l, &bad), 0);
    ck_assert_uint_eq(bad, 0);
    /* each IPv4 prefix also as the well-known NAT64 prefix shows it (64:ff9b::/96) */
    ck_assert_str_eq(texts(&l), "10.0.0.0/8 192.0.2.0/24 198.51.100.9 203.0.113.0/25 "
                                "203.0.113.128/25 64:ff9b::a00:0/104 64:ff9b::c000:200/120 "
                                "64:ff9b::c633:6409 64:ff9b::cb00:7100/121 "
                                "64:ff9b::cb00:7180/121 2001:db8::/32 2001:db9::1");
    ck_assert_uint_eq(l.n4, 5);
    /* and under the operator's own prefixes */
    struct nat64 n64;
    char err[256];
    ck_assert_int_eq(nat64_parse("fd00:64::/96, 64:ff9b::/96", &n64, err, sizeof(err)), 0);
    ck_assert_int_eq(ipdrop_collect(rs, &n64, &l, NULL), 0);
    ck_assert_msg(strstr(texts(&l), "2001:db9::1 fd00:64::a00:0/104 ") &&
                      strstr(texts(&l), "fd00:64::c633:6409"),
                  "%s", texts(&l));
    ck_assert_uint_eq(l.n, 7 + 2 * 5);
    /* a set without IP entries empties the list */
    static const char *const none[] = { "ex.com" };
    struct ruleset *rs2 = build(none, 1);
    ck_assert_int_eq(ipdrop_collect(rs2, NULL, &l, NULL), 0);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_uint_eq(l.n4, 0);
    ipdrop_list_free(&l);
    ruleset_free(rs);
    ruleset_free(rs2);
}
END_TEST

/* An entry lifted by an overlay (ruleset_apply) is not collected. */
START_TEST(collect_overlay)
{
    static const char *const e[] = { "192.0.2.7", "198.51.100.0/24" };
    struct ruleset *rs = build(e, 2);
    struct ruleset_lift lift = { .order = "2026-41-0001", .text = "192.0.2.7", .len = 9 };
    struct ruleset_claim add = { .text = "2001:db8::7", .len = 11, .order = "2026-41-0002" };
    char err[256];
    struct ruleset *o = ruleset_apply(rs, &add, 1, &lift, 1, NULL, err, sizeof(err));
    ck_assert_msg(o != NULL, "%s", err);
    struct ipdrop_list l = { 0 };
    ck_assert_int_eq(ipdrop_collect(o, NULL, &l, NULL), 0);
    ck_assert_str_eq(texts(&l), "198.51.100.0/24 64:ff9b::c633:6400/120 2001:db8::7");
    ipdrop_list_free(&l);
    ruleset_free(o);
    ruleset_free(rs);
}
END_TEST

/* Random prefixes of a 12-bit corner of IPv4 (10.0.0.0/20): every address is dropped by the
 * reduced list exactly when some prefix covers it, and no element covers another. 300 cases
 * in one test (a loop test forks per case, which the sanitizer build makes slow). */
static void reduce_case(unsigned seed)
{
    srand(seed);
    struct ipdrop_list l = { 0 };
    size_t n = 1 + (size_t)(rand() % 40);
    static uint8_t want[4096];
    memset(want, 0, sizeof(want));
    for (size_t i = 0; i < n; i++) {
        unsigned plen = 20 + (unsigned)(rand() % 13);
        uint32_t a = (uint32_t)rand() & 0xFFFu;
        a &= plen == 20 ? 0 : ~((1u << (32 - plen)) - 1u) & 0xFFFu;
        struct ipdrop_prefix p = { .ver = 4, .plen = (uint8_t)plen };
        p.addr[0] = 10;
        p.addr[2] = (uint8_t)(a >> 8);
        p.addr[3] = (uint8_t)a;
        if (ipdrop_list_add(&l, &p) != 0)
            ck_abort_msg("out of memory");
        for (uint32_t x = a; x < a + (1u << (32 - plen)) && x < 4096; x++)
            want[x] = 1;
    }
    ipdrop_list_reduce(&l);
    /* each address's cover count from the reduced list, by marking each element's range */
    static uint8_t got[4096];
    memset(got, 0, sizeof(got));
    for (size_t i = 0; i < l.n; i++) {
        uint32_t a = (uint32_t)l.p[i].addr[2] << 8 | l.p[i].addr[3];
        uint32_t size = 1u << (32 - l.p[i].plen);
        for (uint32_t x = a; x < a + size && x < 4096; x++)
            got[x]++;
    }
    /* (one assertion a case: each one writes to Check's pipe) */
    uint32_t bad = 4096;
    for (uint32_t x = 0; x < 4096 && bad == 4096; x++)
        if (got[x] != want[x])
            bad = x;
    ck_assert_msg(bad == 4096, "seed %u: address %u covered %u times, want %u", seed, bad,
                  bad < 4096 ? got[bad] : 0, bad < 4096 ? want[bad] : 0);
    ipdrop_list_free(&l);
}

START_TEST(reduce_model)
{
    for (unsigned c = 0; c < 300; c++)
        reduce_case(1234u + c);
}
END_TEST

static char *script_of(void (*fn)(FILE *, void *), void *arg)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    ck_assert_ptr_nonnull(f);
    fn(f, arg);
    ck_assert_int_eq(fclose(f), 0);
    return s;
}

struct diff_args {
    struct ipdrop_list *a, *b;
    size_t removed, added;
};

static void diff_fn(FILE *f, void *arg)
{
    struct diff_args *d = arg;
    ipdrop_script_diff(f, "qg_t", d->a, d->b, &d->removed, &d->added);
}

static void list_of(struct ipdrop_list *l, const char *const *t, size_t n)
{
    l->n = l->n4 = 0;
    for (size_t i = 0; i < n; i++) {
        struct ipdrop_prefix p;
        ck_assert_int_eq(ipdrop_parse(t[i], &p), 0);
        ck_assert_int_eq(ipdrop_list_add(l, &p), 0);
    }
    ipdrop_list_reduce(l);
}

START_TEST(diff_script)
{
    static const char *const a[] = { "192.0.2.0/24", "198.51.100.7", "2001:db8::1" };
    static const char *const b[] = { "192.0.2.7", "198.51.100.7", "203.0.113.1", "2001:db8::2" };
    struct ipdrop_list la = { 0 }, lb = { 0 };
    list_of(&la, a, 3);
    list_of(&lb, b, 4);
    struct diff_args d = { &la, &lb, 0, 0 };
    char *s = script_of(diff_fn, &d);
    ck_assert_str_eq(s, "delete element inet qg_t net4 { 192.0.2.0/24 }\n"
                        "delete element inet qg_t host6 { 2001:db8::1 }\n"
                        "add element inet qg_t host4 { 192.0.2.7, 203.0.113.1 }\n"
                        "add element inet qg_t host6 { 2001:db8::2 }\n");
    ck_assert_uint_eq(d.removed, 2);
    ck_assert_uint_eq(d.added, 3);
    free(s);
    struct diff_args same = { &la, &la, 9, 9 };
    s = script_of(diff_fn, &same);
    ck_assert_str_eq(s, "");
    ck_assert_uint_eq(same.removed + same.added, 0);
    free(s);
    ipdrop_list_free(&la);
    ipdrop_list_free(&lb);
}
END_TEST

/* The table: addresses in hash sets, prefixes in interval sets; UDP 443 left alone only when
 * Qorgau judges it (queue mode). */
struct create_args {
    struct ipdrop_list *l;
    bool udp443;
    uint32_t pass_mark, cut_mark;
};

static void create_fn(FILE *f, void *arg)
{
    struct create_args *c = arg;
    ipdrop_script_create(f, "qg_t", c->udp443, c->pass_mark, c->cut_mark, c->l);
}

START_TEST(create_script)
{
    static const char *const a[] = { "192.0.2.0/24", "198.51.100.7", "2001:db8::1",
                                     "2001:db8:1::/48" };
    struct ipdrop_list l = { 0 };
    list_of(&l, a, 4);
    struct create_args c = { &l, true, 0x10000, 0x40000 };
    char *s = script_of(create_fn, &c);
    /* queue mode: a passed connection to a listed address is cut, before the ports' returns;
     * one Qorgau marked cut (its name listed later) goes to the chain cut first of all */
    const char *jump = strstr(s, "ct mark & 0x10000 == 0x10000 jump passed\n");
    ck_assert_msg(jump && jump < strstr(s, "tcp dport { 80, 443 } return"), "%s", s);
    const char *cut = strstr(s, "        ct mark & 0x40000 == 0x40000 goto cut\n");
    ck_assert_msg(cut && cut < jump && cut > strstr(s, "policy accept;"), "%s", s);
    ck_assert_msg(strstr(s, "    chain passed {\n"
                            "        ct original ip daddr @host4 goto cut\n"
                            "        ct original ip daddr @net4 goto cut\n"
                            "        ct original ip6 daddr @host6 goto cut\n"
                            "        ct original ip6 daddr @net6 goto cut\n"
                            "    }\n"),
                  "%s", s);
    ck_assert_msg(strstr(s, "meta l4proto tcp counter name \"cuts\" reject with tcp reset\n"
                            "        counter name \"cuts\" drop\n"),
                  "%s", s);
    ck_assert_msg(strstr(s, "    counter cuts { }\n"), "%s", s);
    ck_assert_msg(strstr(s, "set host4 { type ipv4_addr; counter; }\n"), "%s", s);
    ck_assert_msg(strstr(s, "set net6 { type ipv6_addr; flags interval; counter; }\n"), "%s", s);
    ck_assert_msg(strstr(s, "udp dport 443 return"), "%s", s);
    ck_assert_msg(strstr(s, "tcp sport { 80, 443 } return\n        udp sport 443 return"), "%s", s);
    ck_assert_msg(strstr(s, "add element inet qg_t host4 { 198.51.100.7 }\n"
                            "add element inet qg_t net4 { 192.0.2.0/24 }\n"
                            "add element inet qg_t host6 { 2001:db8::1 }\n"
                            "add element inet qg_t net6 { 2001:db8:1::/48 }\n"),
                  "%s", s);
    free(s);
    c.cut_mark = 0; /* ip.kernel_drop without queue.mark_cut: no such rule */
    s = script_of(create_fn, &c);
    ck_assert_msg(!strstr(s, "0x40000") && strstr(s, "jump passed"), "%s", s);
    free(s);
    c.udp443 = false;
    c.pass_mark = 0; /* inline mode: no marks, nothing to cut */
    c.cut_mark = 0x40000;
    s = script_of(create_fn, &c);
    ck_assert_msg(!strstr(s, "udp dport") && !strstr(s, "sport"), "%s", s);
    ck_assert_msg(!strstr(s, "ct mark") && !strstr(s, "chain passed") && !strstr(s, "chain cut"),
                  "%s", s);
    ck_assert_msg(strstr(s, "tcp dport { 80, 443 } return"), "%s", s);
    free(s);
    ipdrop_list_free(&l);
}
END_TEST

/* 3000 additions go out as three commands of at most 1024 elements. */
START_TEST(diff_chunks)
{
    struct ipdrop_list empty = { 0 }, big = { 0 };
    for (unsigned i = 0; i < 3000; i++) {
        struct ipdrop_prefix p = { .ver = 4, .plen = 32 };
        p.addr[0] = 10;
        p.addr[1] = (uint8_t)(i >> 16);
        p.addr[2] = (uint8_t)(i >> 8);
        p.addr[3] = (uint8_t)i;
        ck_assert_int_eq(ipdrop_list_add(&big, &p), 0);
    }
    ipdrop_list_reduce(&big);
    struct diff_args d = { &empty, &big, 0, 0 };
    char *s = script_of(diff_fn, &d);
    size_t cmds = 0, commas = 0;
    for (const char *p = s; *p; p++) {
        cmds += *p == '\n';
        commas += *p == ',';
    }
    ck_assert_uint_eq(cmds, 3);
    ck_assert_uint_eq(commas, 3000 - 3);
    ck_assert_uint_eq(d.added, 3000);
    free(s);
    ipdrop_list_free(&big);
}
END_TEST

/* ---- the counter over netlink ---- */

/* A NFT_MSG_NEWOBJ answer as the kernel writes it: table, name, type, then the nested data
 * (bytes, packets, big-endian 64-bit; NLA_F_NESTED set). */
static size_t newobj(uint8_t *b, uint32_t seq, uint64_t packets, uint64_t bytes)
{
    size_t at = 16;
    memset(b, 0, 20);
    b[16] = 1; /* NFPROTO_INET */
    at = 20;
    at = nlw_attr(b, at, 1, "qg_t", 5);
    at = nlw_attr(b, at, 2, "drops", 6);
    uint8_t ty[4] = { 0, 0, 0, 1 };
    at = nlw_attr(b, at, 3, ty, 4);
    uint8_t nest[32];
    size_t n = 0;
    uint8_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(bytes >> (56 - 8 * i));
    n = nlw_attr(nest, n, 1, v, 8);
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(packets >> (56 - 8 * i));
    n = nlw_attr(nest, n, 2, v, 8);
    at = nlw_attr(b, at, 4 | 0x8000, nest, n);
    nlw_header(b, (uint32_t)at, 10 << 8 | 18, 0, seq); /* NFT_MSG_NEWOBJ */
    return at;
}

START_TEST(counter_request)
{
    uint8_t b[256];
    size_t n = ipdrop_counter_request(b, sizeof(b), "qorgau_ip", "drops", 77);
    ck_assert_uint_eq(n, 16 + 4 + 16 + 12 + 8); /* "qorgau_ip\0" padded to 12, "drops\0" to 8 */
    uint32_t len, seq;
    uint16_t type, flags;
    memcpy(&len, b, 4);
    memcpy(&type, b + 4, 2);
    memcpy(&flags, b + 6, 2);
    memcpy(&seq, b + 8, 4);
    ck_assert_uint_eq(len, n);
    ck_assert_uint_eq(type, 10 << 8 | 19); /* NFNL_SUBSYS_NFTABLES, NFT_MSG_GETOBJ */
    ck_assert_uint_eq(flags, 1);           /* NLM_F_REQUEST */
    ck_assert_uint_eq(seq, 77);
    ck_assert_uint_eq(b[16], 1); /* NFPROTO_INET */
    ck_assert_int_eq(memcmp(b + 20, "\x0e\x00\x01\x00qorgau_ip", 13), 0);
    ck_assert_int_eq(memcmp(b + 36,
                            "\x0a\x00\x02\x00"
                            "drops",
                            10),
                     0);
    ck_assert_int_eq(memcmp(b + 48, "\x08\x00\x03\x00\x00\x00\x00\x01", 8), 0);
    size_t big = 0;
    for (size_t cap = 0; cap < n; cap++)
        big |= ipdrop_counter_request(b, cap, "qorgau_ip", "drops", 1);
    ck_assert_uint_eq(big, 0);
    /* the other counter: "cuts\0" padded to 8 as well */
    ck_assert_uint_eq(ipdrop_counter_request(b, sizeof(b), "qorgau_ip", "cuts", 78), n);
    ck_assert_int_eq(memcmp(b + 36,
                            "\x09\x00\x02\x00"
                            "cuts",
                            9),
                     0);
}
END_TEST

START_TEST(counter_parse)
{
    uint8_t b[256];
    size_t n = newobj(b, 9, 12345, 678901234567ull);
    uint64_t pk = 0, by = 0;
    ck_assert_int_eq(ipdrop_counter_parse(b, n, 9, &pk, &by), 1);
    ck_assert_uint_eq(pk, 12345);
    ck_assert_uint_eq(by, 678901234567ull);
    ck_assert_int_eq(ipdrop_counter_parse(b, n, 8, &pk, &by), 0); /* another request's */
    /* behind an earlier request's answer in the same datagram */
    uint8_t two[512];
    size_t m = newobj(two, 8, 1, 1);
    memcpy(two + m, b, n);
    pk = by = 0;
    ck_assert_int_eq(ipdrop_counter_parse(two, m + n, 9, &pk, &by), 1);
    ck_assert_uint_eq(pk, 12345);
    /* the kernel's refusal: NLMSG_ERROR, -ENOENT (no such table or object) */
    uint8_t e[36] = { 0 };
    uint32_t len = 36, seq = 9;
    uint16_t type = NLMSG_ERROR;
    int32_t code = -ENOENT;
    memcpy(e, &len, 4);
    memcpy(e + 4, &type, 2);
    memcpy(e + 8, &seq, 4);
    memcpy(e + 16, &code, 4);
    ck_assert_int_eq(ipdrop_counter_parse(e, sizeof(e), 9, &pk, &by), -ENOENT);
    /* every cut of the answer: never a count, never a read past the cut (exact-size copies) */
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        ck_assert_int_ne(ipdrop_counter_parse(c, cut, 9, &pk, &by), 1);
        free(c);
    }
    /* an attribute length past the message: malformed */
    uint8_t bad[256];
    memcpy(bad, b, n);
    uint16_t big = 200;
    memcpy(bad + 20, &big, 2);
    ck_assert_int_eq(ipdrop_counter_parse(bad, n, 9, &pk, &by), -EBADMSG);
}
END_TEST

/* A counter expression (NFTA_EXPR_NAME "counter", NFTA_EXPR_DATA) into b at 0. */
static size_t counter_expr(uint8_t *b, uint64_t packets, uint64_t bytes)
{
    uint8_t nest[32], v[8];
    size_t n = 0, at = 0;
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(bytes >> (56 - 8 * i));
    n = nlw_attr(nest, n, 1, v, 8);
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(packets >> (56 - 8 * i));
    n = nlw_attr(nest, n, 2, v, 8);
    at = nlw_attr(b, at, 1, "counter", 8);
    return nlw_attr(b, at, 2 | 0x8000, nest, n);
}

/* One set element: key (klen bytes), flags, and a counter the old way (NFTA_SET_ELEM_EXPR) or
 * in the list NFTA_SET_ELEM_EXPRESSIONS, or none. */
static size_t set_elem(uint8_t *b, const uint8_t *key, size_t klen, uint32_t flags, int how,
                       uint64_t packets)
{
    uint8_t k[32], e[96], x[128];
    size_t kn = nlw_attr(k, 0, 1, key, klen); /* NFTA_DATA_VALUE */
    size_t at = nlw_attr(b, 0, 1 | 0x8000, k, kn);
    if (flags) {
        uint8_t f[4] = { (uint8_t)(flags >> 24), (uint8_t)(flags >> 16), (uint8_t)(flags >> 8),
                         (uint8_t)flags };
        at = nlw_attr(b, at, 3, f, 4);
    }
    if (how == 1) {
        size_t en = counter_expr(e, packets, packets * 100);
        at = nlw_attr(b, at, 7 | 0x8000, e, en);
    } else if (how == 2) {
        size_t en = counter_expr(e, packets, packets * 100);
        size_t xn = nlw_attr(x, 0, 1 | 0x8000, e, en); /* NFTA_LIST_ELEM */
        at = nlw_attr(b, at, 11 | 0x8000, x, xn);      /* NFTA_SET_ELEM_EXPRESSIONS */
    }
    return at;
}

/* A NFT_MSG_NEWSETELEM datagram of 3 elements (an IPv4 address with its counter the old way,
 * an interval's end, an IPv6 prefix's start with its counter in a list), then NLMSG_DONE. */
static size_t newsetelem(uint8_t *b, uint32_t seq)
{
    static const uint8_t a4[4] = { 192, 0, 2, 7 }, a6[16] = { 0x20, 1, 0x0d, 0xb8, 0, 9 };
    uint8_t el[512], list[640];
    size_t ln = 0, n;
    n = set_elem(el, a4, 4, 0, 1, 7);
    ln = nlw_attr(list, ln, 1 | 0x8000, el, n);
    n = set_elem(el, a6, 16, 1, 0, 0); /* NFT_SET_ELEM_INTERVAL_END */
    ln = nlw_attr(list, ln, 1 | 0x8000, el, n);
    n = set_elem(el, a6, 16, 0, 2, 9);
    ln = nlw_attr(list, ln, 1 | 0x8000, el, n);
    memset(b, 0, 20);
    b[16] = 1;
    size_t at = 20;
    at = nlw_attr(b, at, 1, "qg_t", 5);
    at = nlw_attr(b, at, 2, "host4", 6);
    at = nlw_attr(b, at, 3 | 0x8000, list, ln);
    nlw_header(b, (uint32_t)at, 10 << 8 | 12, 2, seq); /* NFT_MSG_NEWSETELEM, NLM_F_MULTI */
    return at + nlw_done(b + at, seq);
}

struct elems_seen {
    struct ipdrop_elem e[8];
    int n;
};

static void note_elem(void *ctx, const struct ipdrop_elem *e)
{
    struct elems_seen *s = ctx;
    if (s->n < 8)
        s->e[s->n++] = *e;
}

/* The set elements' dump: the request, and answers read element by element; the old and the new
 * way a kernel attaches a counter; an interval's end flagged; every cut of the datagram never
 * reads past it; a wrong length malformed. */
START_TEST(elems_dump)
{
    uint8_t b[1024];
    size_t n = ipdrop_elems_request(b, sizeof(b), "qorgau_ip", "net4", 5);
    ck_assert_uint_eq(n, 16 + 4 + 16 + 12); /* "qorgau_ip\0" padded to 12, "net4\0" to 8 */
    uint16_t type, flags;
    memcpy(&type, b + 4, 2);
    memcpy(&flags, b + 6, 2);
    ck_assert_uint_eq(type, 10 << 8 | 13); /* NFT_MSG_GETSETELEM */
    ck_assert_uint_eq(flags, 1 | 0x300);   /* NLM_F_REQUEST | NLM_F_DUMP */
    ck_assert_int_eq(memcmp(b + 36, "\x09\x00\x02\x00net4", 9), 0);
    for (size_t cap = 0; cap < n; cap++)
        ck_assert_uint_eq(ipdrop_elems_request(b, cap, "qorgau_ip", "net4", 5), 0);

    n = newsetelem(b, 5);
    struct elems_seen s = { .n = 0 };
    ck_assert_int_eq(ipdrop_elems_parse(b, n, 5, note_elem, &s), 1);
    ck_assert_int_eq(s.n, 3);
    ck_assert_uint_eq(s.e[0].klen, 4);
    ck_assert_int_eq(memcmp(s.e[0].key, "\xc0\x00\x02\x07", 4), 0);
    ck_assert(s.e[0].counted && !s.e[0].end);
    ck_assert_uint_eq(s.e[0].packets, 7);
    ck_assert_uint_eq(s.e[0].bytes, 700);
    ck_assert_uint_eq(s.e[1].klen, 16);
    ck_assert(s.e[1].end && !s.e[1].counted);
    ck_assert(s.e[2].counted && !s.e[2].end);
    ck_assert_uint_eq(s.e[2].packets, 9);
    s.n = 0;
    ck_assert_int_eq(ipdrop_elems_parse(b, n, 6, note_elem, &s), 0); /* another request's */
    ck_assert_int_eq(s.n, 0);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        s.n = 0;
        ck_assert_int_ne(ipdrop_elems_parse(c, cut, 5, note_elem, &s), 1);
        free(c);
    }
    uint8_t bad[1024];
    memcpy(bad, b, n);
    uint16_t big = 900;
    memcpy(bad + 20, &big, 2);
    ck_assert_int_eq(ipdrop_elems_parse(bad, n, 5, note_elem, &s), -EBADMSG);
}
END_TEST

/* An element's entry: itself, or the IPv4 entry its NAT64 form maps (the well-known prefix and
 * the operator's). */
START_TEST(entry_text)
{
    struct ipdrop_prefix p;
    char t[64];
    ck_assert_int_eq(ipdrop_parse("198.51.100.0/24", &p), 0);
    ipdrop_entry_text(&p, NULL, t, sizeof(t));
    ck_assert_str_eq(t, "198.51.100.0/24");
    ck_assert_int_eq(ipdrop_parse("64:ff9b::c633:6407", &p), 0);
    ipdrop_entry_text(&p, NULL, t, sizeof(t));
    ck_assert_str_eq(t, "198.51.100.7");
    ck_assert_int_eq(ipdrop_parse("64:ff9b::c633:6400/120", &p), 0);
    ipdrop_entry_text(&p, NULL, t, sizeof(t));
    ck_assert_str_eq(t, "198.51.100.0/24");
    struct nat64 n64;
    char err[128];
    ck_assert_int_eq(nat64_parse("2001:db8:64::/96", &n64, err, sizeof(err)), 0);
    ck_assert_int_eq(ipdrop_parse("2001:db8:64::c633:6407", &p), 0);
    ipdrop_entry_text(&p, &n64, t, sizeof(t));
    ck_assert_str_eq(t, "198.51.100.7");
    ipdrop_entry_text(&p, NULL, t, sizeof(t)); /* not a NAT64 prefix of this node */
    ck_assert_str_eq(t, "2001:db8:64::c633:6407");
}
END_TEST

/* ---- live ---- */

static char *nft_list(const char *what)
{
    static char out[65536];
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "nft list %s 2>&1", what);
    return proc_output(cmd, out, sizeof(out));
}

/* The packets of table qg_t's counter `drops`, as nft lists it (0 when it cannot). */
static unsigned long long drops_listed(void)
{
    const char *t = strstr(nft_list("counter inet qg_t drops"), "packets ");
    return t ? strtoull(t + strlen("packets "), NULL, 10) : 0;
}

static void own_netns(void)
{
    NEEDROOT("check_ipdrop: the live nftables tests");
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
}

START_TEST(live_sync)
{
    own_netns();
    char err[512] = "";
    struct ipdrop *k = ipdrop_new("qg_t", true, 0x10000, NULL, err, sizeof(err));
    ck_assert_msg(k != NULL, "%s", err);
    static const char *const e1[] = { "ex.com", "192.0.2.0/24", "192.0.2.7", "2001:db8::/48" };
    struct ruleset *rs = build(e1, 4);
    bool changed = false;
    ck_assert_msg(ipdrop_sync(k, rs, &changed, err, sizeof(err)) == 0, "%s", err);
    ck_assert(changed);
    char *t = nft_list("table inet qg_t");
    ck_assert_msg(strstr(t, "192.0.2.0/24") && strstr(t, "2001:db8::/48"), "%s", t);
    ck_assert_msg(strstr(t, "hook forward priority filter - 5"), "%s", t);
    ck_assert_msg(strstr(t, "tcp dport { 80, 443 } return"), "%s", t);
    struct ipdrop_stats st;
    ipdrop_get_stats(k, &st);
    ck_assert_uint_eq(st.elements4, 1);
    ck_assert_uint_eq(st.elements6, 2); /* the /48, and the /24 as 64:ff9b::c000:200/120 */
    ck_assert_uint_eq(st.syncs, 1);

    /* the same entries again: nothing sent */
    ck_assert_int_eq(ipdrop_sync(k, rs, &changed, err, sizeof(err)), 0);
    ck_assert(!changed);
    /* a change: the /24 lifted leaves the address it covered; a new v4, the v6 stays */
    static const char *const e2[] = { "192.0.2.7", "198.51.100.1", "2001:db8::/48" };
    struct ruleset *rs2 = build(e2, 3);
    ck_assert_msg(ipdrop_sync(k, rs2, &changed, err, sizeof(err)) == 0, "%s", err);
    ck_assert(changed);
    t = nft_list("table inet qg_t");
    ck_assert_msg(!strstr(t, "192.0.2.0/24") && strstr(t, "192.0.2.7") && strstr(t, "198.51.100.1"),
                  "%s", t);
    ipdrop_get_stats(k, &st);
    ck_assert_uint_eq(st.elements4, 2);
    ck_assert_uint_eq(st.syncs, 2);
    ck_assert_uint_eq(st.rebuilt, 0);

    ck_assert_msg(ipdrop_read_drops(k, err, sizeof(err)) == 0, "%s", err);
    ipdrop_get_stats(k, &st);
    ck_assert_uint_eq(st.packets, 0);

    /* removed by hand: the counter cannot be read (the kernel's error named), and the next
     * change makes the table again whole, with what the set holds */
    ck_assert_int_eq(system("nft delete table inet qg_t"), 0);
    ck_assert_int_eq(ipdrop_read_drops(k, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "counter drops: No such file or directory"), "%s", err);
    ck_assert_msg(ipdrop_sync(k, rs, &changed, err, sizeof(err)) == 0, "%s", err);
    t = nft_list("set inet qg_t net4");
    ck_assert_msg(strstr(t, "192.0.2.0/24") && !strstr(t, "198.51.100.1"), "%s", t);
    ipdrop_get_stats(k, &st);
    ck_assert_uint_eq(st.rebuilt, 1);
    ck_assert_uint_eq(st.failures, 0);

    ipdrop_free(k, true);
    t = nft_list("tables");
    ck_assert_msg(!strstr(t, "qg_t"), "%s", t);
    ruleset_free(rs);
    ruleset_free(rs2);
}
END_TEST

/* A table of the same name left by an earlier run (killed) is replaced, not added to. */
START_TEST(live_replaces_stale)
{
    own_netns();
    ck_assert_int_eq(system("nft add table inet qg_t && nft add set inet qg_t host4 "
                            "'{ type ipv4_addr; }' && nft add element inet qg_t "
                            "host4 '{ 203.0.113.9 }' && nft add chain inet qg_t junk"),
                     0);
    char err[512] = "";
    struct ipdrop *k = ipdrop_new("qg_t", true, 0x10000, NULL, err, sizeof(err));
    ck_assert_msg(k != NULL, "%s", err);
    static const char *const e[] = { "192.0.2.7" };
    struct ruleset *rs = build(e, 1);
    ck_assert_msg(ipdrop_sync(k, rs, NULL, err, sizeof(err)) == 0, "%s", err);
    char *t = nft_list("table inet qg_t");
    ck_assert_msg(!strstr(t, "203.0.113.9") && !strstr(t, "junk") && strstr(t, "192.0.2.7"), "%s",
                  t);
    ipdrop_free(k, false); /* kept */
    t = nft_list("tables");
    ck_assert_msg(strstr(t, "qg_t"), "%s", t);
    ruleset_free(rs);
}
END_TEST

/* Traffic through a namespace router: a veth pair to each of two namespaces, a server in the
 * second on two addresses (10.9.1.1 unlisted, 10.9.1.2 listed) and two ports. TCP 8080 to the
 * listed address is dropped (counted), to the unlisted one served; TCP 443 to the listed one is
 * left to Qorgau (here nothing judges it: served). */
static int fetch(const char *ns, const char *url)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "ip netns exec %sa curl -s -o /dev/null --connect-timeout 1 --max-time 3 %s", ns, url);
    return system(cmd);
}

/* Namespaces ${ns}a (the client, 10.9.0.1) and ${ns}b (the server, 10.9.1.1 and 10.9.1.2; HTTP
 * servers on 8080 and 443), routed by the test's own namespace. 0 when the servers answer. */
static int router_up(const char *ns)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "set -e; p=%s; "
             "ip netns add ${p}a; ip netns add ${p}b; "
             "ip link add va type veth peer name ra; ip link add vb type veth peer name rb; "
             "ip link set ra netns ${p}a; ip link set rb netns ${p}b; "
             "ip addr add 10.9.0.254/24 dev va; ip addr add 10.9.1.254/24 dev vb; "
             "ip link set va up; ip link set vb up; ip link set lo up; "
             "sysctl -qw net.ipv4.ip_forward=1; "
             "ip -n ${p}a addr add 10.9.0.1/24 dev ra; ip -n ${p}a link set ra up; "
             "ip -n ${p}a route add default via 10.9.0.254; "
             "ip -n ${p}b addr add 10.9.1.1/24 dev rb; ip -n ${p}b addr add 10.9.1.2/24 dev rb; "
             "ip -n ${p}b link set rb up; ip -n ${p}b route add default via 10.9.1.254; "
             "ip -n ${p}b link set lo up; "
             "for port in 8080 443; do "
             "  ip netns exec ${p}b python3 -m http.server $port --bind 0.0.0.0 "
             "    >/dev/null 2>&1 & echo $! >> /tmp/%s.pids; "
             "done; "
             "for i in $(seq 50); do "
             "  ip netns exec ${p}a curl -s -o /dev/null --max-time 1 http://10.9.1.1:8080/ && "
             "  ip netns exec ${p}a curl -s -o /dev/null --max-time 1 http://10.9.1.1:443/ && "
             "  exit 0; sleep 0.1; "
             "done; exit 1",
             ns, ns);
    return system(cmd);
}

/* Stops the servers (by the PIDs router_up() wrote) and deletes the namespaces. */
static int router_down(const char *ns)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "for pid in $(cat /tmp/%s.pids); do kill $pid; done; rm -f /tmp/%s.pids; "
             "ip netns del %sa; ip netns del %sb",
             ns, ns, ns, ns);
    return system(cmd);
}

/* ipdrop_read_elements()'s callback: the entries and their packets, summed */
struct elem_counts {
    char entry[4][64];
    uint64_t packets[4];
    int n, calls;
};

static void count_elem(void *ctx, const char *entry, uint64_t packets, uint64_t bytes)
{
    struct elem_counts *c = ctx;
    (void)bytes;
    c->calls++;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->entry[i], entry) == 0) {
            c->packets[i] += packets;
            return;
        }
    if (c->n < 4) {
        snprintf(c->entry[c->n], sizeof(c->entry[0]), "%s", entry);
        c->packets[c->n++] = packets;
    }
}

START_TEST(live_drops_forwarded)
{
    own_netns();
    /* the namespaces `ip netns` names live in /run/netns, seen from every network namespace */
    char ns[32];
    snprintf(ns, sizeof(ns), "qgip%ld", (long)getpid());
    int up = router_up(ns);

    char err[512] = "";
    struct ipdrop *k = ipdrop_new("qg_t", true, 0x10000, NULL, err, sizeof(err));
    ck_assert_msg(k != NULL, "%s", err);
    static const char *const e[] = { "10.9.1.2", "10.9.3.0/24", "2001:db8:9::/48" };
    struct ruleset *rs = build(e, 3);
    int synced = ipdrop_sync(k, rs, NULL, err, sizeof(err));
    struct elem_counts before = { .n = 0 };
    long read0 = ipdrop_read_elements(k, count_elem, &before, err, sizeof(err));
    int unlisted = fetch(ns, "http://10.9.1.1:8080/");
    int listed = fetch(ns, "http://10.9.1.2:8080/");
    int listed443 = fetch(ns, "http://10.9.1.2:443/");
    /* the counter `drops` read over netlink, against nft's own listing of it */
    int read = ipdrop_read_drops(k, err, sizeof(err));
    /* and per element: all of it the listed address's (the prefixes saw nothing), then nothing
     * more at a second reading */
    struct elem_counts after = { .n = 0 }, again = { .n = 0 };
    long read1 = ipdrop_read_elements(k, count_elem, &after, err, sizeof(err));
    long read2 = ipdrop_read_elements(k, count_elem, &again, err, sizeof(err));
    struct ipdrop_stats st;
    ipdrop_get_stats(k, &st);
    unsigned long long drops = drops_listed();
    /* the listed address dropped to once more, then revoked: the drops since the last reading
     * are read before its element leaves the set (the final reader), not lost with it; a
     * change that only adds reads nothing */
    struct elem_counts fin = { .n = 0 };
    ipdrop_set_final_reader(k, count_elem, &fin);
    int listed2 = fetch(ns, "http://10.9.1.2:8080/");
    static const char *const e_add[] = { "10.9.1.2", "10.9.3.0/24", "2001:db8:9::/48", "10.9.4.4" };
    struct ruleset *rs_add = build(e_add, 4);
    int synced_add = ipdrop_sync(k, rs_add, NULL, err, sizeof(err));
    int calls_add = fin.calls;
    static const char *const e_rev[] = { "10.9.3.0/24", "2001:db8:9::/48", "10.9.4.4" };
    struct ruleset *rs_rev = build(e_rev, 3);
    int synced_rev = ipdrop_sync(k, rs_rev, NULL, err, sizeof(err));
    struct ipdrop_stats st2;
    ipdrop_get_stats(k, &st2);
    unsigned long long drops2 = drops_listed();
    ck_assert_int_eq(router_down(ns), 0);
    ck_assert_msg(up == 0, "the test's servers did not come up");
    ck_assert_msg(synced == 0, "%s", err);
    ck_assert_msg(unlisted == 0, "TCP 8080 to the unlisted address was not served");
    ck_assert_msg(listed != 0, "TCP 8080 to the listed address was served");
    ck_assert_msg(listed443 == 0, "TCP 443 to the listed address was dropped by the kernel");
    ck_assert_msg(drops >= 1, "no drop counted");
    ck_assert_msg(read == 0, "%s", err);
    ck_assert_uint_eq(st.packets, drops);
    /* 3 entries, the IPv4 ones also as NAT64 prefixes under 64:ff9b::/96: 5 elements */
    ck_assert_msg(read0 == 5 && read1 == 5 && read2 == 5, "elements read: %ld %ld %ld (%s)", read0,
                  read1, read2, err);
    ck_assert_int_eq(before.calls, 0);
    ck_assert_int_eq(after.n, 1);
    ck_assert_str_eq(after.entry[0], "10.9.1.2");
    ck_assert_uint_eq(after.packets[0], drops);
    ck_assert_int_eq(again.calls, 0);
    ck_assert_msg(listed2 != 0, "TCP 8080 to the listed address was served");
    ck_assert_msg(synced_add == 0 && synced_rev == 0, "%s", err);
    ck_assert_int_eq(calls_add, 0);
    ck_assert_uint_eq(st2.final_reads, 1);
    ck_assert_uint_eq(st2.final_read_failures, 0);
    ck_assert_int_eq(fin.n, 1);
    ck_assert_str_eq(fin.entry[0], "10.9.1.2");
    ck_assert_uint_ge(fin.packets[0], 1);
    ck_assert_uint_eq(fin.packets[0], drops2 - drops); /* every drop since the last reading */
    ipdrop_free(k, true);
    ruleset_free(rs);
    ruleset_free(rs_add);
    ruleset_free(rs_rev);
}
END_TEST

/* A connection Qorgau passed before its server's address was listed (queue mode's rules keep the
 * pass as the connection mark; here a rule of the test marks every TCP 80 connection so): it
 * goes on while an unrelated address is listed, and is cut - the client's next segment answered
 * with a reset, counted in `cuts` - once its own is. A connection on an unlisted address, passed
 * the same way, is served after it. */
static const char cut_client[] = "import os, socket, sys, time\n"
                                 "p = sys.argv[1]\n"
                                 "s = socket.create_connection(('10.9.1.2', 80), timeout=3)\n"
                                 "def say(w):\n"
                                 "    open(p + '.out', 'a').write(w + '\\n')\n"
                                 "def round(go):\n"
                                 "    while not os.path.exists(p + go):\n"
                                 "        time.sleep(0.05)\n"
                                 "    try:\n"
                                 "        s.sendall(b'x')\n"
                                 "        say('echo' if s.recv(1) == b'x' else 'eof')\n"
                                 "    except ConnectionResetError:\n"
                                 "        say('reset')\n"
                                 "    except OSError as e:\n"
                                 "        say('error ' + str(e))\n"
                                 "round('.go0')\n"
                                 "round('.go1')\n"
                                 "round('.go2')\n";

static const char echo_server[] =
    "import socket, threading\n"
    "l = socket.socket()\n"
    "l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "l.bind(('0.0.0.0', 80)); l.listen(8)\n"
    "def serve(c):\n"
    "    try:\n"
    "        while True:\n"
    "            b = c.recv(64)\n"
    "            if not b: break\n"
    "            c.sendall(b)\n"
    "    except OSError:\n"
    "        pass\n"
    "while True:\n"
    "    c, _ = l.accept()\n"
    "    threading.Thread(target=serve, args=(c,), daemon=True).start()\n";

/* Waits until the client wrote n lines; returns the file's text. */
static const char *cut_lines(const char *ns, int n)
{
    static char out[512];
    char path[64];
    snprintf(path, sizeof(path), "/tmp/%s.out", ns);
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(path, "r");
        size_t got = 0;
        if (f) {
            got = fread(out, 1, sizeof(out) - 1, f);
            fclose(f);
        }
        out[got] = 0;
        int lines = 0;
        for (size_t j = 0; j < got; j++)
            lines += out[j] == '\n';
        if (lines >= n)
            return out;
        usleep(50 * 1000);
    }
    return out;
}

static void cut_go(const char *ns, int round)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/%s.go%d", ns, round);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

START_TEST(live_cuts_passed)
{
    own_netns();
    char ns[32], cmd[1024], py[64], srv[64];
    snprintf(ns, sizeof(ns), "qgcut%ld", (long)getpid());
    int up = router_up(ns);
    snprintf(py, sizeof(py), "/tmp/%s.py", ns);
    snprintf(srv, sizeof(srv), "/tmp/%s.srv.py", ns);
    FILE *f = fopen(py, "w");
    ck_assert_ptr_nonnull(f);
    fputs(cut_client, f);
    fclose(f);
    f = fopen(srv, "w");
    ck_assert_ptr_nonnull(f);
    fputs(echo_server, f);
    fclose(f);
    /* Qorgau's pass as queue mode's rules keep it, for TCP 80 */
    int marked = system("nft add table inet qg_mark && nft add chain inet qg_mark f "
                        "'{ type filter hook forward priority filter + 10; }' && "
                        "nft add rule inet qg_mark f tcp dport 80 ct mark set 0x10000 && "
                        "nft add rule inet qg_mark f tcp sport 45000 ct mark set 0x60000");
    char err[512] = "";
    struct ipdrop *k = ipdrop_new("qg_t", true, 0x10000, NULL, err, sizeof(err));
    ck_assert_msg(k != NULL, "%s", err);
    ipdrop_set_cut_mark(k, 0x40000);
    static const char *const none[] = { "192.0.2.7" }, *const listed[] = { "10.9.1.2" };
    struct ruleset *rs0 = build(none, 1), *rs1 = build(listed, 1);
    int synced0 = ipdrop_sync(k, rs0, NULL, err, sizeof(err));
    snprintf(cmd, sizeof(cmd),
             "ip netns exec %sb python3 %s >/dev/null 2>&1 & echo $! >> /tmp/%s.pids; "
             "for i in $(seq 50); do ip netns exec %sa python3 -c \"import socket; "
             "socket.create_connection(('10.9.1.1', 80), timeout=1)\" 2>/dev/null && break; "
             "sleep 0.1; done; "
             "ip netns exec %sa python3 %s /tmp/%s >/dev/null 2>&1 & echo $! >> /tmp/%s.pids",
             ns, srv, ns, ns, ns, py, ns, ns);
    int started = system(cmd);
    cut_go(ns, 0);
    const char *r0 = strdup(cut_lines(ns, 1)); /* passed, nothing listed: served */
    int synced1 = ipdrop_sync(k, rs1, NULL, err, sizeof(err));
    cut_go(ns, 1);
    const char *r1 = strdup(cut_lines(ns, 2)); /* its address listed: cut */
    cut_go(ns, 2);
    const char *r2 = strdup(cut_lines(ns, 3)); /* and stays cut */
    /* another passed connection, to the unlisted address: served */
    snprintf(cmd, sizeof(cmd),
             "ip netns exec %sa python3 -c \"import socket; "
             "s = socket.create_connection(('10.9.1.1', 80), timeout=2); s.sendall(b'y'); "
             "assert s.recv(1) == b'y'\"",
             ns);
    int other = system(cmd);
    /* one Qorgau marked cut (queue.mark_cut: its name listed after it passed), to the unlisted
     * address: refused (the marks, from client port 45000, set after the SYN went by) */
    snprintf(cmd, sizeof(cmd),
             "ip netns exec %sa python3 -c \"import socket; s = socket.socket(); "
             "s.bind(('', 45000)); s.settimeout(2); s.connect(('10.9.1.1', 80)); "
             "s.sendall(b'y'); assert s.recv(1) == b'y'\" 2>/dev/null",
             ns);
    int cutmarked = system(cmd);
    int read = ipdrop_read_drops(k, err, sizeof(err));
    struct ipdrop_stats st;
    ipdrop_get_stats(k, &st);
    char *mark = nft_list("table inet qg_t");
    int has_chain = strstr(mark, "chain passed") != NULL;
    snprintf(cmd, sizeof(cmd), "rm -f /tmp/%s.py /tmp/%s.srv.py /tmp/%s.out /tmp/%s.go*", ns, ns,
             ns, ns);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(router_down(ns), 0);
    ck_assert_msg(up == 0, "the test's servers did not come up");
    ck_assert_msg(marked == 0, "the marking rule did not load");
    ck_assert_msg(synced0 == 0 && synced1 == 0, "%s", err);
    ck_assert_msg(started == 0, "the echo server or the client did not start");
    ck_assert_msg(has_chain, "no chain passed in the table");
    ck_assert_str_eq(r0, "echo\n");
    ck_assert_str_eq(r1, "echo\nreset\n");
    ck_assert_msg(strncmp(r2, "echo\nreset\n", 11) == 0 && strcmp(r2 + 11, "echo\n") != 0, "%s",
                  r2);
    ck_assert_msg(other == 0, "a passed connection to the unlisted address was not served");
    ck_assert_msg(cutmarked != 0, "a connection marked cut was served");
    ck_assert_msg(read == 0, "%s", err);
    ck_assert_msg(st.cut_packets >= 1, "no cut counted");
    free((void *)r0);
    free((void *)r1);
    free((void *)r2);
    ipdrop_free(k, true);
    ruleset_free(rs0);
    ruleset_free(rs1);
}
END_TEST

/* A name nft refuses cannot be made; an error names the setting. */
START_TEST(bad_table_name)
{
    char err[512] = "";
    ck_assert_ptr_null(ipdrop_new("bad name", true, 0x10000, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "ip.kernel_table") != NULL, "%s", err);
}
END_TEST

static Suite *ipdrop_suite(void)
{
    Suite *s = suite_create("ipdrop");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, parse_forms);
    tcase_add_test(tc, table_names);
    tcase_add_test(tc, collect_reduces);
    tcase_add_test(tc, collect_overlay);
    tcase_add_test(tc, reduce_model);
    tcase_add_test(tc, diff_script);
    tcase_add_test(tc, diff_chunks);
    tcase_add_test(tc, create_script);
    tcase_add_test(tc, counter_request);
    tcase_add_test(tc, counter_parse);
    tcase_add_test(tc, elems_dump);
    tcase_add_test(tc, entry_text);
    tcase_add_test(tc, bad_table_name);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 30);
    tcase_add_test(live, live_sync);
    tcase_add_test(live, live_replaces_stale);
    tcase_add_test(live, live_drops_forwarded);
    tcase_add_test(live, live_cuts_passed);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ipdrop_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
