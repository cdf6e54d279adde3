/* check_submap.c - Check suite for the node's subscriber map (rules/subs/submap.c): address
 * texts, IPv4 and IPv6 longest-prefix lookups, replacement, session-guarded removal, expiry,
 * the capacity limit, readers racing a writer (RCU: a reader always sees a whole entry), and
 * the map written to a tariff image and read back (the same answers; damaged images refused). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/imgfile.h"
#include "rules/match/rsref.h"
#include "rules/subs/submap.h"
#include "tests/lib/tmpdir.h"

static struct sub_addr A(const char *s) {
    struct sub_addr a;
    char err[128];
    int rc = sub_addr_parse(s, strlen(s), &a, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: %s", s, err);
    return a;
}

static const char *
who(const struct submap *m, const char *ip, uint64_t now)
{
    static char sub[SUB_ID_MAX + 1];
    uint8_t b[16];
    struct sub_addr a = A(ip);
    memcpy(b, a.addr, 16);
    if (!submap_lookup(m, a.family, b, now, sub, sizeof(sub), NULL, 0))
        return "-";
    return sub;
}

START_TEST(addr_texts)
{
    static const char *const ok[][2] = {
        { "10.0.0.1", "10.0.0.1" },           { "10.0.0.1/32", "10.0.0.1" },
        { "2001:db8::/56", "2001:db8::/56" }, { "2001:0DB8:0:0::/64", "2001:db8::/64" },
        { "2001:db8::1", "2001:db8::1/128" }, { "::/0", "::/0" },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct sub_addr a = A(ok[i][0]);
        char t[SUB_ADDR_TEXT_MAX];
        sub_addr_format(&a, t, sizeof(t));
        ck_assert_str_eq(t, ok[i][1]);
    }
    static const char *const bad[] = { "",
                                       "10.0.0.1/24",
                                       "10.0.0.256",
                                       "2001:db8::1/64",
                                       "2001:db8::/129",
                                       "2001:db8::/",
                                       "2001:db8::/x",
                                       "host.example" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sub_addr a;
        char err[128] = "";
        ck_assert_msg(sub_addr_parse(bad[i], strlen(bad[i]), &a, err, sizeof(err)) == -EINVAL,
                      "%s accepted", bad[i]);
        ck_assert_msg(strncmp(err, "subscriber address '", 20) == 0, "%s", err);
    }
    /* dotted quads (parsed without inet_pton) are accepted exactly as inet_pton accepts them */
    static const char *const quads[] = {
        "0.0.0.0",  "255.255.255.255", "1.2.3.4",  "01.2.3.4",   "1.2.3.04",     "1.2.3.256",
        "1.2.3",    "1.2.3.4.5",       "1..3.4",   "1.2.3.4 ",   " 1.2.3.4",     "1.2.3.1000",
        "1.2.3.-1", "100.200.10.0",    "1.2.3.4x", "0000.1.2.3", "9.99.199.249", "1.2.3.00"
    };
    for (size_t i = 0; i < sizeof(quads) / sizeof(quads[0]); i++) {
        struct sub_addr a;
        uint8_t want[4];
        char err[128];
        int rc = sub_addr_parse(quads[i], strlen(quads[i]), &a, err, sizeof(err));
        int pt = inet_pton(AF_INET, quads[i], want);
        ck_assert_msg((rc == 0) == (pt == 1), "%s: %d, inet_pton %d", quads[i], rc, pt);
        if (pt == 1) {
            ck_assert_uint_eq(a.family, 4);
            ck_assert_uint_eq(a.plen, 32);
            ck_assert_mem_eq(a.addr, want, 4);
            static const uint8_t zero[12];
            ck_assert_mem_eq(a.addr + 4, zero, 12);
        }
    }
    ck_assert(sub_id_valid("77011234567", 11));
    ck_assert(!sub_id_valid("a b", 3));
    ck_assert(!sub_id_valid("", 0));
}
END_TEST

/* The dotted quad at the start of a text: what it takes, the caller judging what follows. */
START_TEST(quad_prefix)
{
    static const struct {
        const char *s;
        size_t want;
    } t[] = { { "10.0.0.1 A1", 8 }, { "255.255.255.255", 15 }, { "1.2.3.4/32 x", 7 },
              { "1.2.3.4x", 7 },    { "010.0.0.1 x", 0 },      { "256.1.1.1 x", 0 },
              { "1.2.3 x", 0 },     { "1.2.3.", 0 },           { "1..2.3.4", 0 },
              { "1.2.3.1234", 9 },  { "a.b.c.d", 0 },          { "", 0 } };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct sub_addr a;
        memset(&a, 0xee, sizeof(a));
        size_t n = sub_addr_quad_prefix(t[i].s, strlen(t[i].s), &a);
        ck_assert_msg(n == t[i].want, "'%s': %zu", t[i].s, n);
        if (n) {
            uint8_t want[4];
            char text[16];
            memcpy(text, t[i].s, n);
            text[n] = '\0';
            ck_assert_int_eq(inet_pton(AF_INET, text, want), 1);
            ck_assert_mem_eq(a.addr, want, 4);
            ck_assert_uint_eq(a.family, 4);
            ck_assert_uint_eq(a.plen, 32);
        }
    }
}
END_TEST

/* With 16 bytes to read the quad is parsed from the bytes' classes all together; with fewer, a
 * byte at a time: both take the same bytes to the same address, for every text (a quad is at
 * most 15 bytes, so the 16th never changes the answer). Random texts over the bytes that matter,
 * shaped like quads most of the time. */
START_TEST(quad_prefix_wide)
{
    static const char alpha[] = "0123456789.0123456789.. x/9";
    uint64_t r = 0x9e3779b97f4a7c15ull;
    size_t taken = 0;
    for (int i = 0; i < 400000; i++) {
        char t[16];
        size_t k = 0;
        if (i % 4) { /* parts of 0..4 digits, dots between, then anything */
            for (int part = 0; part < 4 && k < 16; part++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                static const unsigned lens[8] = { 1, 2, 3, 1, 2, 3, 0, 4 };
                unsigned nd = lens[r >> 61];
                for (unsigned j = 0; j < nd && k < 16; j++) /* (a first digit 0..2 mostly) */
                    t[k++] = (char)('0' + (r >> (8 * j + 8)) % (j == 0 && (r >> 40) % 4 ? 3 : 10));
                if (part < 3 && k < 16)
                    t[k++] = (r >> 50) % 23 ? '.' : 'x';
            }
        }
        while (k < 16) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            t[k++] = alpha[(r >> 33) % (sizeof(alpha) - 1)];
        }
        struct sub_addr a, b;
        memset(&a, 0xee, sizeof(a));
        memset(&b, 0xee, sizeof(b));
        size_t n16 = sub_addr_quad_prefix(t, 16, &a);
        size_t n15 = sub_addr_quad_prefix(t, 15, &b);
        ck_assert_msg(n16 == n15, "'%.16s': %zu wide, %zu bytewise", t, n16, n15);
        ck_assert_mem_eq(&a, &b, sizeof(a));
        if (n16) {
            char text[16];
            uint8_t want[4];
            memcpy(text, t, n16);
            text[n16] = '\0';
            ck_assert_msg(inet_pton(AF_INET, text, want) == 1, "'%s'", text);
            ck_assert_mem_eq(a.addr, want, 4);
            taken++;
        }
    }
    ck_assert_uint_gt(taken, 15000); /* (the shapes do reach the quads) */
}
END_TEST

START_TEST(lookups)
{
    struct submap *m = submap_new(16);
    ck_assert_ptr_nonnull(m);
    struct sub_addr a = A("10.0.0.1");
    ck_assert_int_eq(submap_set(m, &a, "77010000001", "s1", 0), 0);
    a = A("2001:db8:1::/48");
    ck_assert_int_eq(submap_set(m, &a, "wide", "s2", 0), 0);
    a = A("2001:db8:1:2::/64");
    ck_assert_int_eq(submap_set(m, &a, "narrow", "s3", 0), 0);
    ck_assert_str_eq(who(m, "10.0.0.1", 1), "77010000001");
    ck_assert_str_eq(who(m, "10.0.0.2", 1), "-");
    ck_assert_str_eq(who(m, "2001:db8:1:2::55", 1), "narrow");
    ck_assert_str_eq(who(m, "2001:db8:1:3::55", 1), "wide");
    ck_assert_str_eq(who(m, "2001:db8:2::1", 1), "-");
    /* session out; a replacement keeps one entry */
    char sub[8], sess[8];
    a = A("10.0.0.1");
    ck_assert(submap_lookup(m, 4, a.addr, 1, sub, sizeof(sub), sess, sizeof(sess)));
    ck_assert_str_eq(sess, "s1");
    ck_assert_str_eq(sub, "7701000"); /* truncated to the buffer */
    ck_assert_int_eq(submap_set(m, &a, "77010000009", "s9", 0), 0);
    ck_assert_uint_eq(submap_count(m), 3);
    ck_assert_str_eq(who(m, "10.0.0.1", 1), "77010000009");
    /* a Stop of the old session leaves the new one; of the current one removes it */
    ck_assert_int_eq(submap_del(m, &a, "s1"), -ENOENT);
    ck_assert_str_eq(who(m, "10.0.0.1", 1), "77010000009");
    ck_assert_int_eq(submap_del(m, &a, "s9"), 0);
    ck_assert_str_eq(who(m, "10.0.0.1", 1), "-");
    a = A("2001:db8:1:2::/64");
    ck_assert_int_eq(submap_del(m, &a, NULL), 0);
    ck_assert_str_eq(who(m, "2001:db8:1:2::55", 1), "wide");
    ck_assert_int_eq(submap_set(m, &a, "bad id", NULL, 0), -EINVAL);
    submap_free(m);
}
END_TEST

/* Every IPv6 prefix length at once, on both sides of each 64-bit word of the lengths present
 * (0, 1, 63, 64, 65, 127, 128): a lookup finds the longest holding the address, and removing
 * one length (the last entry of it) falls back to the next shorter. */
START_TEST(v6_lengths)
{
    static const unsigned lens[] = { 0, 1, 63, 64, 65, 127, 128 };
    const size_t n = sizeof(lens) / sizeof(lens[0]);
    struct submap *m = submap_new(32);
    const char *addr = "8000:0:0:1:8000::1"; /* bits 0, 63 and 64 set: every prefix holds it */
    struct sub_addr q = A(addr);
    for (size_t i = 0; i < n; i++) {
        struct sub_addr a = q;
        a.plen = (uint8_t)lens[i];
        for (unsigned b = lens[i]; b < 128; b++)
            a.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
        char id[16];
        snprintf(id, sizeof(id), "len%u", lens[i]);
        ck_assert_int_eq(submap_set(m, &a, id, NULL, 0), 0);
        /* and one the address is not under, of the same length (another prefix) */
        a.addr[15] ^= lens[i] == 128 ? 0x2 : 0;
        if (lens[i] == 128) {
            ck_assert_int_eq(submap_set(m, &a, "other", NULL, 0), 0);
        }
    }
    for (size_t i = n; i-- > 0;) {
        char id[16];
        snprintf(id, sizeof(id), "len%u", lens[i]);
        ck_assert_str_eq(who(m, addr, 1), id);
        struct sub_addr a = q;
        a.plen = (uint8_t)lens[i];
        for (unsigned b = lens[i]; b < 128; b++)
            a.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
        ck_assert_int_eq(submap_del(m, &a, NULL), 0);
    }
    ck_assert_str_eq(who(m, addr, 1), "-");
    ck_assert_str_eq(who(m, "8000:0:0:1:8000::3", 1), "other");
    ck_assert_str_eq(who(m, "8000:0:0:1:8000::2", 1), "-");
    submap_free(m);
}
END_TEST

START_TEST(expiry_and_capacity)
{
    struct submap *m = submap_new(4);
    char ip[32];
    for (int i = 0; i < 4; i++) {
        snprintf(ip, sizeof(ip), "10.0.0.%d", i);
        struct sub_addr a = A(ip);
        ck_assert_int_eq(submap_set(m, &a, "s", NULL, i < 2 ? 1000 : 0), 0);
    }
    struct sub_addr x = A("10.0.0.9");
    ck_assert_int_eq(submap_set(m, &x, "s", NULL, 0), -ENOSPC);
    ck_assert_str_eq(who(m, "10.0.0.0", 999), "s");
    ck_assert_str_eq(who(m, "10.0.0.0", 1000), "-"); /* expired: not found before the sweep */
    ck_assert_uint_eq(submap_expire(m, 1000), 2);
    ck_assert_uint_eq(submap_count(m), 2);
    ck_assert_int_eq(submap_set(m, &x, "s", NULL, 0), 0);
    ck_assert_str_eq(who(m, "10.0.0.9", 1000), "s");
    ck_assert_str_eq(who(m, "10.0.0.3", 1000), "s");
    submap_free(m);
    ck_assert_ptr_null(submap_new(0));
}
END_TEST

/* The reader word of an entry: 0 when made, kept between lookups, 0 again once the address is
 * mapped anew. */
START_TEST(reader_word)
{
    rsref_thread_register();
    struct submap *m = submap_new(16);
    struct sub_addr a = A("10.0.3.1");
    ck_assert_int_eq(submap_set(m, &a, "77010000001", "s1", 0), 0);
    uint32_t *ref = NULL;
    rsref_read_lock();
    ck_assert_str_eq(submap_lookup_ref(m, 4, a.addr, 1, &ref, NULL), "77010000001");
    ck_assert_uint_eq(__atomic_load_n(ref, __ATOMIC_RELAXED), 0);
    __atomic_store_n(ref, 42u, __ATOMIC_RELAXED);
    ck_assert_ptr_null(submap_lookup_ref(m, 4, (const uint8_t[]){ 10, 0, 3, 2 }, 1, &ref, NULL));
    ck_assert_str_eq(submap_lookup_ref(m, 4, a.addr, 1, &ref, NULL), "77010000001");
    ck_assert_uint_eq(__atomic_load_n(ref, __ATOMIC_RELAXED), 42);
    rsref_read_unlock();
    ck_assert_int_eq(submap_set(m, &a, "77010000002", "s2", 0), 0);
    rsref_read_lock();
    size_t sl = 0;
    ck_assert_str_eq(submap_lookup_ref(m, 4, a.addr, 1, &ref, &sl), "77010000002");
    ck_assert_uint_eq(sl, 11);
    ck_assert_uint_eq(__atomic_load_n(ref, __ATOMIC_RELAXED), 0);
    rsref_read_unlock();
    submap_free(m);
    rsref_thread_unregister();
}
END_TEST

/* A full map keeps taking replacements (entries are reused after a grace period, not
 * allocated), with ids held in the entry and ids too long for it, the longest allowed too, for
 * IPv4 and IPv6 keys (the ids follow the address's bytes). */
START_TEST(full_map_replacements)
{
    enum { N = 8 };
    static char xs[201];
    memset(xs, 'x', 200);
    struct submap *m = submap_new(N);
    char ip[32], sub[SUB_ID_MAX + 1], sess[SUB_ID_MAX + 1], got[SUB_ID_MAX + 1],
        gots[SUB_ID_MAX + 1];
    for (int r = 0; r < 500; r++) {
        for (int k = 0; k < N; k++) {
            if (k % 4 == 3) /* IPv6: a /128 (16 address bytes in the entry) and a /64 (8) */
                snprintf(ip, sizeof(ip), "2001:db8:%d::%s", k, k == 3 ? "1" : "/64");
            else
                snprintf(ip, sizeof(ip), "10.0.1.%d", k);
            struct sub_addr a = A(ip);
            /* "kK-rRRRRR-" (10..11 bytes) then x's: 10..50 bytes, or exactly SUB_ID_MAX */
            int pad = r % 3 == 2 ? 200 : r % 40;
            snprintf(sub, sizeof(sub), "k%d-r%05d-%.*s", k, r, pad, xs);
            snprintf(sess, sizeof(sess), "S%d-%d", r, k);
            ck_assert_int_eq(submap_set(m, &a, sub, sess, 0), 0);
            ck_assert(submap_lookup(m, a.family, a.addr, 1, got, sizeof(got), gots, sizeof(gots)));
            ck_assert_str_eq(got, sub);
            ck_assert_str_eq(gots, sess);
        }
        ck_assert_uint_eq(submap_count(m), N);
    }
    struct sub_addr x = A("10.0.2.1");
    ck_assert_int_eq(submap_set(m, &x, "x", NULL, 0), -ENOSPC);
    submap_free(m);
}
END_TEST

/* Churn: many insert/delete rounds over a small table (tombstones), then every key checked
 * against a plain array. */
START_TEST(churn_vs_naive)
{
    enum { N = 2000 };
    struct submap *m = submap_new(N);
    static bool present[N];
    memset(present, 0, sizeof(present));
    unsigned seed = 7;
    for (int r = 0; r < 100000; r++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % N;
        struct sub_addr a = { .family = 4,
                              .plen = 32,
                              .addr = { 10, 9, (uint8_t)(k >> 8), (uint8_t)k } };
        if (present[k]) {
            ck_assert_int_eq(submap_del(m, &a, NULL), 0);
            present[k] = false;
        } else {
            ck_assert_int_eq(submap_set(m, &a, "x", NULL, 0), 0);
            present[k] = true;
        }
    }
    size_t n = 0;
    for (unsigned k = 0; k < N; k++) {
        uint8_t b[4] = { 10, 9, (uint8_t)(k >> 8), (uint8_t)k };
        ck_assert_int_eq(submap_lookup(m, 4, b, 1, NULL, 0, NULL, 0), present[k]);
        n += present[k];
    }
    ck_assert_uint_eq(submap_count(m), n);
    submap_free(m);
}
END_TEST

static struct submap *g_m;
static atomic_bool g_stop;
static atomic_long g_bad;

static void *reader(void *arg)
{
    (void)arg;
    rsref_thread_register();
    uint8_t b[4] = { 10, 0, 0, 1 };
    char sub[160], sess[160];
    while (!atomic_load(&g_stop)) {
        if (submap_lookup(g_m, 4, b, 1, sub, sizeof(sub), sess, sizeof(sess)) &&
            strcmp(sub + 3, sess + 3) != 0) /* "subN" always comes with "sesN" */
            atomic_fetch_add(&g_bad, 1);
    }
    rsref_thread_unregister();
    return NULL;
}

START_TEST(readers_race_writer)
{
    g_m = submap_new(64);
    atomic_store(&g_stop, false);
    atomic_store(&g_bad, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    struct sub_addr a = A("10.0.0.1");
    for (int i = 0; i < 20000; i++) {
        char sub[160], sess[160];
        /* every other pair too long to be held in the entry: the text of its own */
        const char *pad = i % 2 ? "-0123456789abcdef0123456789abcdef0123456789abcdef" : "";
        snprintf(sub, sizeof(sub), "sub%d%s", i, pad);
        snprintf(sess, sizeof(sess), "ses%d%s", i, pad);
        ck_assert_int_eq(submap_set(g_m, &a, sub, sess, 0), 0);
        if (i % 3 == 0)
            submap_del(g_m, &a, NULL);
    }
    atomic_store(&g_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    submap_free(g_m);
}
END_TEST

/* The reference for sub_addr_parse: the address (after the '/', a decimal prefix length
 * strtol takes whole, at most 128) read by inet_pton, IPv4 only as /32, IPv6 without a bit set
 * past the length. The parse's own forms (groups without a library call) must agree with it on
 * every text: accepted or not, and the same address. */
static int ref_parse(const char *s, struct sub_addr *a)
{
    size_t len = strlen(s);
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : len;
    unsigned long plen = 128;
    bool v4_len_ok = !slash;
    if (len == 0 || len >= 64)
        return -EINVAL;
    if (slash) { /* digits only, at least one; leading zeros are fine */
        if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1))
            return -EINVAL;
        plen = 0;
        for (const char *d = slash + 1; *d && plen <= 128; d++)
            plen = plen * 10 + (unsigned long)(*d - '0');
        if (plen > 128)
            return -EINVAL;
        v4_len_ok = plen == 32;
    }
    char host[64];
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(a, 0, sizeof(*a));
    if (!memchr(host, ':', hl) && inet_pton(AF_INET, host, a->addr) == 1) {
        a->family = 4;
        a->plen = 32;
        return v4_len_ok ? 0 : -EINVAL;
    }
    if (inet_pton(AF_INET6, host, a->addr) != 1)
        return -EINVAL;
    a->family = 6;
    a->plen = (uint8_t)plen;
    for (unsigned b = a->plen; b < 128; b++)
        if (a->addr[b / 8] & (0x80u >> (b % 8)))
            return -EINVAL;
    return 0;
}

static void parse_as_ref(const char *s)
{
    struct sub_addr a, r;
    char err[160] = "";
    int rc = sub_addr_parse(s, strlen(s), &a, err, sizeof(err));
    int want = ref_parse(s, &r);
    ck_assert_msg(rc == want, "'%s': %d, the reference %d (%s)", s, rc, want, err);
    if (rc == 0) {
        ck_assert_msg(a.family == r.family && a.plen == r.plen, "'%s': family/length", s);
        ck_assert_msg(memcmp(a.addr, r.addr, 16) == 0, "'%s': another address", s);
    } else {
        ck_assert_msg(strncmp(err, "subscriber address '", 20) == 0, "'%s': %s", s, err);
    }
}

START_TEST(v6_texts_as_inet_pton)
{
    static const char *const cases[] = {
        "::",
        "::1",
        "1::",
        "::/0",
        "2001:db8:ff:1775::/64",
        "2001:DB8:FF:1775::/64",
        "2001:db8:0:0:0:0:0:1",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8/128",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1::8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6::7:8",
        "::1:2:3:4:5:6:7:8",
        ":1::",
        "1::2::3",
        ":::",
        "1:::2",
        "1:",
        ":1",
        "12345::",
        "0000:0000::",
        "00000::",
        "g::",
        "::ffff:1.2.3.4",
        "::ffff:1.2.3.4/128",
        "2001:db8::/64",
        "2001:db8::1/64",
        "2001:db8::/064",
        "2001:db8::/0064",
        "2001:db8::/129",
        "2001:db8::/1280",
        "2001:db8::/",
        "2001:db8::/-1",
        "2001:db8::/ 64",
        "2001:db8::8000/113",
        "2001:db8::8000/112",
        "2001:db8::8000/1",
        "fe80::1%eth0",
        "2001:db8:: ",
        "1.2.3.4/32",
        "1.2.3.4/31",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_as_ref(cases[i]);
    /* random texts over the bytes an address is made of */
    static const char alphabet[] = "0123456789abcdefABCDEF::::::..//g";
    unsigned seed = 12345;
    char t[48];
    for (int n = 0; n < 200000; n++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = 1 + (seed >> 16) % 40;
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            t[k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        t[len] = '\0';
        parse_as_ref(t);
    }
    /* and valid groups, some compressed, with lengths: mostly accepted */
    for (int n = 0; n < 50000; n++) {
        size_t o = 0;
        seed = seed * 1103515245u + 12345u;
        int groups = 1 + (int)((seed >> 16) % 8), gap = (int)((seed >> 8) % 10);
        for (int g = 0; g < groups; g++) {
            seed = seed * 1103515245u + 12345u;
            o += (size_t)snprintf(t + o, sizeof(t) - o, "%s%x", g ? ":" : "",
                                  (seed >> 16) & ((seed & 0x100) ? 0xffff : 0xf));
            if (g == gap)
                o += (size_t)snprintf(t + o, sizeof(t) - o, ":");
        }
        if ((seed >> 20) % 2)
            snprintf(t + o, sizeof(t) - o, "/%u", (seed >> 21) % 130);
        parse_as_ref(t);
    }
}
END_TEST

/* submap_set_many sets in order under one lock: an invalid id fails its own item only; a full
 * map stops the batch at the item that did not fit (the items after it are left alone). */
START_TEST(set_many)
{
    rsref_thread_register();
    struct submap *m = submap_new(3);
    struct submap_item it[5] = {
        { .a = A("10.0.0.1"), .sub = "A", .sub_len = 1, .sub_valid = true },
        { .a = A("10.0.0.2"), .sub = "B B", .sub_len = 3, .sub_valid = false },
        { .a = A("2001:db8::/64"), .sub = "C", .sub_len = 1, .sub_valid = true },
        { .a = A("10.0.0.1"), .sub = "D", .sub_len = 1, .sub_valid = true }, /* replaces A */
        { .a = A("10.0.0.3"), .sub = "E", .sub_len = 1, .sub_valid = true },
    };
    ck_assert_uint_eq(submap_set_many(m, it, 5), 5);
    ck_assert_int_eq(it[0].rc, 0);
    ck_assert_int_eq(it[1].rc, -EINVAL);
    ck_assert_int_eq(it[2].rc, 0);
    ck_assert_int_eq(it[3].rc, 0);
    ck_assert_int_eq(it[4].rc, 0);
    ck_assert_str_eq(who(m, "10.0.0.1", 1), "D");
    ck_assert_str_eq(who(m, "10.0.0.2", 1), "-");
    ck_assert_str_eq(who(m, "2001:db8::5", 1), "C");
    ck_assert_str_eq(who(m, "10.0.0.3", 1), "E");
    struct submap_item more[3] = {
        { .a = A("10.0.0.4"), .sub = "F", .sub_len = 1, .sub_valid = true }, /* full */
        { .a = A("10.0.0.3"), .sub = "G", .sub_len = 1, .sub_valid = true },
        { .a = A("10.0.0.5"), .sub = "", .sub_len = 0, .sub_valid = true },
    };
    more[1].rc = 7;
    ck_assert_uint_eq(submap_set_many(m, more, 3), 1);
    ck_assert_int_eq(more[0].rc, -ENOSPC);
    ck_assert_int_eq(more[1].rc, 7); /* not reached */
    ck_assert_str_eq(who(m, "10.0.0.3", 1), "E");
    ck_assert_uint_eq(submap_count(m), 3);
    struct submap_item empty = { .a = A("10.0.0.1"), .sub = "", .sub_len = 0, .sub_valid = true };
    ck_assert_uint_eq(submap_set_many(m, &empty, 1), 1);
    ck_assert_int_eq(empty.rc, -EINVAL);
    submap_free(m);
    rsref_thread_unregister();
}
END_TEST

/* sub_id_span finds the first byte that is not an id's (0x21..0x7e) eight at a time: the same
 * end as a byte loop, for every byte value at every place, never past its end. */
START_TEST(id_span)
{
    char buf[40];
    for (int pos = 0; pos < 24; pos++) {
        for (int b = 0; b < 256; b++) {
            memset(buf, 'a', sizeof(buf));
            buf[pos] = (char)b;
            for (size_t len = 0; len <= 24; len += 3) {
                const char *want = buf;
                while (want < buf + len && (unsigned char)*want >= 0x21 &&
                       (unsigned char)*want <= 0x7e)
                    want++;
                ck_assert_ptr_eq(sub_id_span(buf, buf + len), want);
            }
        }
    }
    /* bytes after the first bad one, whatever they are, do not move it */
    memcpy(buf, "77011234567\x80\xff\x01 zz", 16);
    ck_assert_ptr_eq(sub_id_span(buf, buf + 16), buf + 11);
    memcpy(buf, "7701\x7f\x00\xff\x20", 8);
    ck_assert_ptr_eq(sub_id_span(buf, buf + 8), buf + 4);
}
END_TEST

/* ---- the map in a tariff image ---- */

static const char IMG_MAGIC[8] = { 'Q', 'G', 'T', 'E', 'S', 'T', 'S', 'M' };
#define IMG_BASE 40u

/* The addresses the image tests ask about: every one mapped, neighbours, the insides of the
 * IPv6 prefixes, misses. */
static size_t img_queries(struct sub_addr *q, size_t cap)
{
    size_t n = 0;
    char t[64];
    for (int i = 0; i < 300 && n < cap; i++) {
        snprintf(t, sizeof(t), "10.1.%d.%d", i / 100, i % 100);
        q[n++] = A(t);
    }
    for (int i = 0; i < 60 && n + 5 <= cap; i++) {
        snprintf(t, sizeof(t), "2001:db8:%x:%x::%x", i, i % 3, i + 1);
        q[n++] = A(t);
        snprintf(t, sizeof(t), "2001:db8:100:%x::1", i);
        q[n++] = A(t);
        snprintf(t, sizeof(t), "2001:db8:%x:ffff::9", 0x200 + i * 0x100);
        q[n++] = A(t);
    }
    q[n++] = A("2001:db8:f000:1::1");
    q[n++] = A("2001:db8:e000::1");
    return n;
}

/* The same mapping (or none) for every query at now in a and b, through both lookups. */
static void same_answers(const struct submap *a, const struct submap *b, uint64_t now)
{
    static struct sub_addr q[600];
    size_t n = img_queries(q, 600), hits = 0;
    for (size_t i = 0; i < n; i++) {
        char s1[SUB_ID_MAX + 1] = "", s2[SUB_ID_MAX + 1] = "", e1[SUB_ID_MAX + 1] = "",
                             e2[SUB_ID_MAX + 1] = "";
        bool f1 = submap_lookup(a, q[i].family, q[i].addr, now, s1, sizeof(s1), e1, sizeof(e1));
        bool f2 = submap_lookup(b, q[i].family, q[i].addr, now, s2, sizeof(s2), e2, sizeof(e2));
        char t[SUB_ADDR_TEXT_MAX];
        sub_addr_format(&q[i], t, sizeof(t));
        ck_assert_msg(f1 == f2, "%s at %llu: %d vs %d", t, (unsigned long long)now, f1, f2);
        ck_assert_msg(strcmp(s1, s2) == 0 && strcmp(e1, e2) == 0, "%s: %s/%s vs %s/%s", t, s1, e1,
                      s2, e2);
        uint32_t *r1 = NULL, *r2 = NULL;
        size_t l1 = 0, l2 = 0;
        rsref_read_lock();
        const char *x1 = submap_lookup_ref(a, q[i].family, q[i].addr, now, &r1, &l1);
        const char *x2 = submap_lookup_ref(b, q[i].family, q[i].addr, now, &r2, &l2);
        ck_assert_int_eq(x1 != NULL, x2 != NULL);
        if (x2) {
            ck_assert_str_eq(x1, x2);
            ck_assert_uint_eq(l1, l2);
            ck_assert_uint_eq(__atomic_load_n(r2, __ATOMIC_RELAXED), 0);
            hits++;
        }
        rsref_read_unlock();
    }
    ck_assert_uint_gt(hits, 0);
}

/* A map of IPv4 /32s, IPv6 /64s inside /56s and other /56s, some removed (tombstones), some
 * with long ids (held apart from the entry), sessions and expiries (1000 and 5000). */
static struct submap *img_sample(void)
{
    struct submap *m = submap_new(1000);
    char t[64], sub[SUB_ID_MAX + 1], sess[32];
    for (int i = 0; i < 250; i++) {
        snprintf(t, sizeof(t), "10.1.%d.%d", i / 100, i % 100);
        struct sub_addr a = A(t);
        if (i % 11 == 0) { /* a long id: not inline */
            memset(sub, 'L', 100);
            snprintf(sub + 100, sizeof(sub) - 100, "%d", i);
        } else {
            snprintf(sub, sizeof(sub), "7701%07d", i);
        }
        snprintf(sess, sizeof(sess), "sess%d", i);
        ck_assert_int_eq(submap_set(m, &a, sub, i % 3 ? sess : NULL,
                                    i % 5 == 0   ? 1000
                                    : i % 5 == 1 ? 5000
                                                 : 0),
                         0);
    }
    for (int i = 0; i < 250; i += 7) {
        snprintf(t, sizeof(t), "10.1.%d.%d", i / 100, i % 100);
        struct sub_addr a = A(t);
        ck_assert_int_eq(submap_del(m, &a, NULL), 0);
    }
    for (int i = 0; i < 60; i++) {
        snprintf(t, sizeof(t), "2001:db8:%x:%x::/64", i, i % 3);
        struct sub_addr a = A(t);
        snprintf(sub, sizeof(sub), "%s%d", i % 13 == 0 ? "250011234567890123456789012345-" : "u",
                 i);
        ck_assert_int_eq(submap_set(m, &a, sub, "s6", i % 4 == 0 ? 1000 : 0), 0);
        snprintf(t, sizeof(t), "2001:db8:%x::/56", 0x200 + i * 0x100);
        a = A(t);
        snprintf(sub, sizeof(sub), "p%d", i);
        ck_assert_int_eq(submap_set(m, &a, sub, NULL, 0), 0);
        snprintf(t, sizeof(t), "2001:db8:100:%x::/64", i);
        a = A(t);
        if (i % 4 == 1)
            ck_assert_int_eq(submap_set(m, &a, "inner", NULL, 0), 0);
    }
    struct sub_addr a = A("2001:db8:100::/56"); /* longest prefix: the /64s inside win */
    ck_assert_int_eq(submap_set(m, &a, "outer", "s56", 0), 0);
    a = A("2001:db8:1200::/56");
    ck_assert_int_eq(submap_del(m, &a, NULL), 0);
    a = A("2001:db8:f000::/36"); /* a length not a multiple of 8 */
    ck_assert_int_eq(submap_set(m, &a, "p36", NULL, 0), 0);
    return m;
}

/* m written as an image (the map's sections at IMG_BASE, another module's beside them) to
 * dir/sub.img and read back whole into *buf (malloc'd), its length in *len. */
static void img_write(struct submap *m, const char *dir, char **buf, size_t *len)
{
    char path[512], err[512];
    struct imgfile_w *w = imgfile_w_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(imgfile_w_add(w, 3, "other", 5), 0);
    ck_assert_int_eq(submap_to_image(m, w, IMG_BASE), 0);
    snprintf(path, sizeof(path), "%s/sub.img", dir);
    ck_assert_msg(imgfile_w_write(w, path, IMG_MAGIC, 1, err, sizeof(err)) == 0, "%s", err);
    imgfile_w_free(w);
    ck_assert_int_eq(fileio_read_all(path, buf, len), 0);
}

static struct submap *img_load(const char *buf, size_t len, size_t capacity, char *err,
                               size_t errlen)
{
    struct imgfile_r r;
    ck_assert_msg(imgfile_r_open(&r, (const uint8_t *)buf, len, IMG_MAGIC, 1, err, errlen) == 0,
                  "%s", err);
    return submap_from_image(&r, IMG_BASE, capacity, err, errlen);
}

START_TEST(image_round_trip)
{
    rsref_thread_register();
    char dir[256], err[512], *buf;
    size_t len;
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "submap"), 0);
    struct submap *m = img_sample();
    uint32_t *ref = NULL; /* a reader's word: not written (0 in the copies) */
    struct sub_addr ra = A("10.1.0.4");
    rsref_read_lock();
    ck_assert_ptr_nonnull(submap_lookup_ref(m, 4, ra.addr, 1, &ref, NULL));
    __atomic_store_n(ref, 42u, __ATOMIC_RELAXED);
    rsref_read_unlock();
    img_write(m, dir, &buf, &len);
    struct submap *c = img_load(buf, len, 0, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    struct submap *big = img_load(buf, len, 20000, err, sizeof(err)); /* the rebuild path */
    ck_assert_msg(big != NULL, "%s", err);
    struct submap *tight = img_load(buf, len, 10, err, sizeof(err)); /* at least the count */
    ck_assert_msg(tight != NULL, "%s", err);
    free(buf); /* (the maps hold copies) */
    ck_assert_uint_eq(submap_count(c), submap_count(m));
    ck_assert_uint_eq(submap_count(big), submap_count(m));
    ck_assert_uint_eq(submap_count(tight), submap_count(m));
    static const uint64_t nows[] = { 1, 999, 1000, 4999, 5000, 100000 };
    for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
        same_answers(m, c, nows[i]);
        same_answers(m, big, nows[i]);
        same_answers(m, tight, nows[i]);
    }
    ck_assert_str_eq(who(c, "2001:db8:100:5::1", 1), "inner");
    ck_assert_str_eq(who(c, "2001:db8:100:6::1", 1), "outer");
    ck_assert_str_eq(who(c, "2001:db8:f000:1::1", 1), "p36");
    ck_assert_str_eq(who(c, "2001:db8:e000::1", 1), "-");
    ck_assert_str_eq(who(c, "10.1.0.0", 1), "-");                     /* removed */
    ck_assert_str_eq(who(c, "10.1.0.11", 1), who(m, "10.1.0.11", 1)); /* a long id */
    ck_assert_uint_eq(strlen(who(c, "10.1.0.11", 1)), 102);
    ck_assert_str_eq(who(c, "10.1.0.5", 999), who(m, "10.1.0.5", 999));
    ck_assert_str_eq(who(c, "10.1.0.5", 1000), "-"); /* expired */

    /* the copies take the same changes as the original */
    struct submap *all[] = { m, c, big, tight };
    size_t expired[4];
    for (size_t k = 0; k < 4; k++) {
        struct submap *x = all[k];
        struct sub_addr a = A("10.1.0.2");
        ck_assert_int_eq(submap_set(x, &a, "changed", "s", 0), 0);
        a = A("10.1.0.3");
        ck_assert_int_eq(submap_del(x, &a, "wrong-session"), -ENOENT);
        ck_assert_int_eq(submap_del(x, &a, NULL), 0);
        ck_assert_int_eq(submap_del(x, &a, NULL), -ENOENT);
        a = A("10.9.9.9");
        ck_assert_int_eq(submap_set(x, &a, "new", NULL, 0), 0);
        a = A("2001:db8:100:5::/64");
        ck_assert_int_eq(submap_del(x, &a, NULL), 0);
        a = A("2001:db8:100:5:1::/80");
        ck_assert_int_eq(submap_set(x, &a, "p80", NULL, 0), 0);
        a = A("10.1.0.11");
        ck_assert_int_eq(submap_set(x, &a, "short", NULL, 0), 0);
        expired[k] = submap_expire(x, 1000);
        ck_assert_uint_gt(expired[k], 0);
        ck_assert_uint_eq(expired[k], expired[0]);
    }
    for (size_t k = 1; k < 4; k++) {
        ck_assert_uint_eq(submap_count(all[k]), submap_count(m));
        same_answers(m, all[k], 1000);
        same_answers(m, all[k], 6000);
        ck_assert_str_eq(who(all[k], "10.1.0.2", 1), "changed");
        ck_assert_str_eq(who(all[k], "10.9.9.9", 1), "new");
        ck_assert_str_eq(who(all[k], "2001:db8:100:5:1::1", 1), "p80");
        ck_assert_str_eq(who(all[k], "2001:db8:100:5:2::1", 1), "outer");
        ck_assert_str_eq(who(all[k], "10.1.0.11", 1), "short");
    }
    /* a copy filled to its capacity and emptied again */
    for (int i = 0; submap_count(c) < 1000; i++) {
        char t[32];
        snprintf(t, sizeof(t), "10.2.%d.%d", i / 250, i % 250);
        struct sub_addr a = A(t);
        ck_assert_int_eq(submap_set(c, &a, "fill", NULL, 0), 0);
    }
    struct sub_addr over = A("10.3.0.1");
    ck_assert_int_eq(submap_set(c, &over, "over", NULL, 0), -ENOSPC);
    for (size_t k = 0; k < 4; k++)
        submap_free(all[k]);
    tmpdir_remove(dir);
    rsref_thread_unregister();
}
END_TEST

/* The offset in buf of the map's section IMG_BASE + k, its length in *n. */
static size_t img_sect(const char *buf, size_t len, uint32_t k, size_t *n)
{
    struct imgfile_r r;
    char err[256];
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)buf, len, IMG_MAGIC, 1, err, sizeof(err)),
                     0);
    const uint8_t *p = imgfile_r_get(&r, IMG_BASE + k, n);
    ck_assert_ptr_nonnull(p);
    return (size_t)(p - (const uint8_t *)buf);
}

/* c (len bytes), resealed, is refused with a reason holding why. */
static void img_refused(char *c, size_t len, const char *why)
{
    char err[512] = "";
    imgfile_seal((uint8_t *)c, len);
    struct submap *m = img_load(c, len, 0, err, sizeof(err));
    ck_assert_msg(m == NULL, "accepted (%s expected)", why);
    ck_assert_msg(strstr(err, "subscriber map image: ") && strstr(err, why), "%s (%s expected)",
                  err, why);
}

static uint32_t get32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

START_TEST(image_damaged)
{
    rsref_thread_register();
    char dir[256], *buf;
    size_t len, nsc, nsl, nen, nx;
    ck_assert_int_eq(tmpdir_make(dir, sizeof(dir), "submap"), 0);
    struct submap *m = img_sample();
    img_write(m, dir, &buf, &len);
    size_t sc = img_sect(buf, len, 0, &nsc), sl = img_sect(buf, len, 1, &nsl),
           en = img_sect(buf, len, 2, &nen), x = img_sect(buf, len, 3, &nx);
    ck_assert_uint_eq(nsc, 7 * 8);
    ck_assert_uint_eq(nen % 56, 0);
    ck_assert_uint_gt(nx, 0);
    uint32_t ne = (uint32_t)(nen / 56);
    size_t live[2] = { 0, 0 }, nlive = 0, v6 = SIZE_MAX, v4 = SIZE_MAX;
    for (size_t i = 0; i < nsl / 4 && nlive < 2; i++)
        if (get32(buf + sl + i * 4) >= 2)
            live[nlive++] = i;
    for (uint32_t k = 0; k < ne; k++) {
        const char *e = buf + en + k * 56;
        if (e[4] == 6 && e[5] == 36)
            v6 = k;
        if (e[4] == 4 && v4 == SIZE_MAX)
            v4 = k;
    }
    ck_assert_uint_eq(nlive, 2);
    ck_assert_uint_ne(v6, SIZE_MAX);
    ck_assert_uint_ne(v4, SIZE_MAX);
    char *c = malloc(len);

    memcpy(c, buf, len); /* a slot value past the entries */
    put32(c + sl + live[0] * 4, ne + 2 + 5);
    img_refused(c, len, "names entry");
    memcpy(c, buf, len);
    put32(c + sl + live[0] * 4, UINT32_MAX);
    img_refused(c, len, "names entry");
    memcpy(c, buf, len); /* two slots naming one entry */
    put32(c + sl + live[1] * 4, get32(buf + sl + live[0] * 4));
    img_refused(c, len, "named by an earlier slot");
    memcpy(c, buf, len); /* the entries not in slot order */
    put32(c + sl + live[0] * 4, get32(buf + sl + live[1] * 4));
    put32(c + sl + live[1] * 4, get32(buf + sl + live[0] * 4));
    img_refused(c, len, "not the next in slot order");
    memcpy(c, buf, len); /* an entry no slot names (the last) */
    for (size_t i = nsl / 4; i-- > 0;)
        if (get32(c + sl + i * 4) >= 2) {
            put32(c + sl + i * 4, 1);
            break;
        }
    img_refused(c, len, "entries named by a slot");

    memcpy(c, buf, len); /* entries: a bad family, prefix length, id length, id byte, NUL */
    c[en + v4 * 56 + 4] = 5;
    img_refused(c, len, "family not 4 or 6");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 5] = 24;
    img_refused(c, len, "prefix length");
    memcpy(c, buf, len);
    c[en + v6 * 56 + 5] = (char)129;
    img_refused(c, len, "prefix length");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 6] = (char)200;
    img_refused(c, len, "subscriber id length");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 6] = 0;
    img_refused(c, len, "subscriber id length");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 6] = 60; /* (fits the byte: not the entry's room) */
    img_refused(c, len, "too long to be held");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 7] = (char)129;
    img_refused(c, len, "session id length");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 16 + 4] = ' ';
    img_refused(c, len, "id byte");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 6] = (char)(c[en + v4 * 56 + 6] - 1); /* the NUL is not where it says */
    img_refused(c, len, "NUL");
    memcpy(c, buf, len);
    c[en + v4 * 56 + 55] = 'x';
    img_refused(c, len, "past the ids");
    memcpy(c, buf, len);
    c[en + v6 * 56 + 16 + 4] = 1; /* the /36: a bit of its fifth byte past the prefix */
    img_refused(c, len, "bits set past the prefix");

    memcpy(c, buf, len); /* a table without an empty slot */
    for (size_t i = 0; i < nsl / 4; i++)
        if (get32(c + sl + i * 4) == 0)
            put32(c + sl + i * 4, 1);
    img_refused(c, len, "no empty slot");

    /* the scalars against the sections */
    uint64_t v;
    memcpy(c, buf, len);
    memcpy(&v, buf + sc + 3 * 8, 8);
    v--;
    memcpy(c + sc + 3 * 8, &v, 8);
    img_refused(c, len, "entries section");
    memcpy(c, buf, len);
    v = UINT64_MAX / 56 + 2; /* (the length would wrap) */
    memcpy(c + sc + 3 * 8, &v, 8);
    img_refused(c, len, "entries and");
    memcpy(c, buf, len);
    memcpy(&v, buf + sc + 2 * 8, 8);
    v *= 2;
    memcpy(c + sc + 2 * 8, &v, 8);
    img_refused(c, len, "slots section");
    memcpy(c, buf, len);
    v = 48;
    memcpy(c + sc + 2 * 8, &v, 8);
    img_refused(c, len, "not a power of two");
    memcpy(c, buf, len);
    memcpy(&v, buf + sc + 4 * 8, 8);
    v++;
    memcpy(c + sc + 4 * 8, &v, 8);
    img_refused(c, len, "long-id mapping");
    memcpy(c, buf, len);
    v = 1;
    memcpy(c + sc + 4 * 8, &v, 8);
    img_refused(c, len, "long-id section");
    memcpy(c, buf, len);
    v = 2;
    memcpy(c + sc, &v, 8);
    img_refused(c, len, "layout 2");
    memcpy(c, buf, len);
    v = 0;
    memcpy(c + sc + 6 * 8, &v, 8);
    img_refused(c, len, "capacity");
    memcpy(c, buf, len); /* a long-id record: its family, its id length, an id byte */
    c[x] = 7;
    img_refused(c, len, "long-id mapping 0");
    memcpy(c, buf, len);
    c[x + 2] = (char)130;
    img_refused(c, len, "subscriber id length");
    memcpy(c, buf, len);
    c[x + 32] = 0x7f;
    img_refused(c, len, "id byte");
    memcpy(c, buf, len);
    c[x + 16 + 15] = 1; /* (the long ids are IPv4 and /64 keys) */
    img_refused(c, len, "address bytes set past");

    /* a capacity over the limit; the map's sections missing */
    char err[512];
    ck_assert_ptr_null(img_load(buf, len, ((size_t)1 << 28) + 1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "capacity"), "%s", err);
    struct imgfile_r r;
    ck_assert_int_eq(imgfile_r_open(&r, (const uint8_t *)buf, len, IMG_MAGIC, 1, err, sizeof(err)),
                     0);
    ck_assert_ptr_null(submap_from_image(&r, IMG_BASE + 8, 0, err, sizeof(err)));
    ck_assert_msg(strstr(err, "missing"), "%s", err);

    /* any byte of the map's sections changed: refused, or a map that answers and takes changes */
    uint64_t rnd = 0x9e3779b97f4a7c15ull;
    size_t accepted = 0;
    for (int t = 0; t < 400; t++) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        size_t at = sc + (size_t)((rnd >> 33) % (x + nx - sc));
        memcpy(c, buf, len);
        c[at] = (char)(c[at] ^ (1 + (rnd >> 20) % 255));
        imgfile_seal((uint8_t *)c, len);
        struct submap *d = img_load(c, len, 0, err, sizeof(err));
        if (!d) {
            ck_assert_msg(strstr(err, "subscriber map image: "), "%s", err);
            continue;
        }
        accepted++;
        for (uint64_t now = 1; now < 10000; now += 4000) {
            static struct sub_addr q[600];
            size_t n = img_queries(q, 600);
            char sub[SUB_ID_MAX + 1];
            for (size_t i = 0; i < n; i++)
                submap_lookup(d, q[i].family, q[i].addr, now, sub, sizeof(sub), NULL, 0);
        }
        struct sub_addr a = A("10.1.0.2");
        submap_set(d, &a, "after", NULL, 0);
        ck_assert_str_eq(who(d, "10.1.0.2", 1), "after");
        submap_expire(d, 5000);
        submap_free(d);
    }
    ck_assert_uint_gt(accepted, 0);
    free(c);
    free(buf);
    submap_free(m);
    tmpdir_remove(dir);
    rsref_thread_unregister();
}
END_TEST

static Suite *submap_suite(void)
{
    Suite *s = suite_create("submap");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, addr_texts);
    tcase_add_test(tc, quad_prefix);
    tcase_add_test(tc, quad_prefix_wide);
    tcase_add_test(tc, lookups);
    tcase_add_test(tc, v6_lengths);
    tcase_add_test(tc, expiry_and_capacity);
    tcase_add_test(tc, full_map_replacements);
    tcase_add_test(tc, reader_word);
    tcase_add_test(tc, set_many);
    tcase_add_test(tc, id_span);
    tcase_add_test(tc, image_round_trip);
    tcase_add_test(tc, image_damaged);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, churn_vs_naive);
    tcase_add_test(tc, v6_texts_as_inet_pton);
    tcase_add_test(tc, readers_race_writer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(submap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
