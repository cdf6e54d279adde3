/* check_failstatic.c - Check suite for proxy/daemon/failstatic.c: the fail-static rule file.
 * Round trips (empty, one order, several), and every corruption a disk or an operator can
 * cause is refused with a message naming the problem: a changed byte anywhere, a truncated
 * file (every prefix), a wrong magic, format version, record count or checksum field, a record
 * that is not an order. Inputs sit against a guard page (tests/lib/guard.h).
 * The journal: appended changes replayed after the checkpoint (records, tombstones, a
 * replacement), entries the checkpoint holds skipped, a torn last entry (every prefix) ignored
 * and cut off by the next append, any changed byte of a complete entry refused naming its line,
 * versions going back refused, the rotation before a checkpoint (and after a failed one) and the
 * removal after it. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/daemon/failstatic.h"
#include "tests/lib/guard.h"

static struct order *mk(const char *id, const char *res)
{
    struct order *o = order_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(order_set(&o->id, id, strlen(id)), 0);
    ck_assert_int_eq(order_set(&o->issuer, "Court", 5), 0);
    char err[256];
    ck_assert_int_eq(order_add_resource(o, res, strlen(res), NULL, false, err, sizeof(err)), 0);
    return o;
}

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_failstatic.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, FAILSTATIC_NAME);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", dir, FAILSTATIC_JOURNAL_NAME);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", dir, FAILSTATIC_JOURNAL_OLD);
    unlink(p);
    ck_assert_int_eq(rmdir(dir), 0);
}

/* The file's bytes as saved for two orders at version 42. */
static char *saved(size_t *len)
{
    struct order *a = mk("o-1", "ex.com"), *b = mk("o-2", "http://h.example/p");
    const struct order *v[] = { a, b };
    char err[512];
    ck_assert_int_eq(failstatic_save(dir, 42, v, 2, err, sizeof(err)), 0);
    order_free(a);
    order_free(b);
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, FAILSTATIC_NAME);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static int parse(const char *buf, size_t len, uint64_t *v, struct order_list *l, char *err,
                 size_t errlen)
{
    const uint8_t *g = guard_copy(buf, len);
    int rc = failstatic_parse("f", g, len, v, l, err, errlen);
    guard_free();
    return rc;
}

START_TEST(test_round_trip)
{
    size_t len;
    char *buf = saved(&len);
    ck_assert(strncmp(buf, "qorgau-failstatic 1 42 2 ", 25) == 0);
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512];
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.v[0]->id, "o-1");
    ck_assert_str_eq(l.v[0]->res[0].norm, "ex.com");
    ck_assert_str_eq(l.v[1]->id, "o-2");
    order_list_free(&l);
    free(buf);
}
END_TEST

START_TEST(test_empty_set)
{
    char err[512];
    ck_assert_int_eq(failstatic_save(dir, 7, NULL, 0, err, sizeof(err)), 0);
    struct order_list l = { 0 };
    uint64_t v = 0;
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_uint_eq(l.n, 0);
    /* a second save replaces the first */
    struct order *a = mk("o-9", "nine.example");
    const struct order *vv[] = { a };
    ck_assert_int_eq(failstatic_save(dir, 8, vv, 1, err, sizeof(err)), 0);
    order_free(a);
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 8);
    ck_assert_uint_eq(l.n, 1);
    order_list_free(&l);
}
END_TEST

START_TEST(test_missing)
{
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512];
    ck_assert_int_eq(failstatic_load(dir, &v, &l, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, FAILSTATIC_NAME));
}
END_TEST

/* Every single byte changed anywhere is refused, the list left as it was. */
START_TEST(test_every_byte_flipped)
{
    size_t len;
    char *buf = saved(&len);
    for (size_t i = 0; i < len; i++) {
        char *c = malloc(len);
        memcpy(c, buf, len);
        c[i] ^= 0x01;
        struct order_list l = { 0 };
        uint64_t v = 0;
        char err[512] = "";
        int rc = parse(c, len, &v, &l, err, sizeof(err));
        ck_assert_msg(rc == -EINVAL, "byte %zu flipped: rc %d", i, rc);
        ck_assert_uint_eq(l.n, 0);
        ck_assert(strncmp(err, "failstatic: f", 13) == 0);
        order_list_free(&l);
        free(c);
    }
    free(buf);
}
END_TEST

START_TEST(test_every_prefix)
{
    size_t len;
    char *buf = saved(&len);
    for (size_t n = 0; n < len; n++) {
        struct order_list l = { 0 };
        uint64_t v = 0;
        char err[512] = "";
        ck_assert_msg(parse(buf, n, &v, &l, err, sizeof(err)) == -EINVAL, "prefix %zu", n);
        ck_assert_uint_eq(l.n, 0);
        order_list_free(&l);
    }
    free(buf);
}
END_TEST

struct bad {
    const char *text;
    const char *msg;
};

/* sha256 of the empty string (a checksum that skips the header prefix would accept it), and
 * an arbitrary one */
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_X     "a2e6a5a1f4b23a5e9e20b5a4b7e44f2d7b5f12f03f0b8c0b6f6d0e3ad6b8d0a1"

static const struct bad bads[] = {
    { "", "no header line" },
    { "qorgau-failstatic 1 1 0 " SHA_EMPTY, "no header line" },
    { "qorgau-failstatix 1 1 0 " SHA_EMPTY "\n", "bad header" },
    { "qorgau-failstatic 2 1 0 " SHA_EMPTY "\n", "format version '2' is not 1" },
    { "qorgau-failstatic 1 x 0 " SHA_EMPTY "\n", "bad version" },
    { "qorgau-failstatic 1 1 0 " SHA_EMPTY " \n", "bad header" },
    { "qorgau-failstatic 1 1 0 abc\n", "bad version, count or checksum" },
    { "qorgau-failstatic 1 1 0 " SHA_EMPTY "\n", "checksum mismatch" }, /* prefix not summed */
    { "qorgau-failstatic 1 99999999999999999999999 0 " SHA_EMPTY "\n", "bad version" },
    { "qorgau-failstatic 1 1 1 " SHA_X "\nx\n", "checksum mismatch" },
};

START_TEST(test_bad)
{
    const struct bad *b = &bads[_i];
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512] = "";
    ck_assert_int_eq(parse(b->text, strlen(b->text), &v, &l, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, b->msg) != NULL, "case %d: '%s' lacks '%s'", _i, err, b->msg);
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* A file with a correct checksum over "PREFIX" + body (computed here independently of the
 * module: one buffer, one SHA-256). */
static int mkfile(char *buf, size_t cap, const char *prefix, const char *body)
{
    char whole[1024];
    int wl = snprintf(whole, sizeof(whole), "%s%s", prefix, body);
    char sum[65];
    order_sha256((const uint8_t *)whole, (size_t)wl, sum);
    return snprintf(buf, cap, "%s%s\n%s", prefix, sum, body);
}

struct sumcase {
    const char *prefix, *body, *msg;
};

static const struct sumcase sumcases[] = {
    /* a record that is not an order: refused naming its line */
    { "qorgau-failstatic 1 3 1 ", "{\"id\":\"x\"}\n", "failstatic: f:2: " },
    { "qorgau-failstatic 1 3 1 ", "not json\n", "failstatic: f:2: " },
    /* the count disagrees with the records */
    { "qorgau-failstatic 1 1 1 ", "", "0 records, the header says 1" },
    /* the last record without its line end */
    { "qorgau-failstatic 1 1 1 ", "{}", "last record has no line end" },
};

START_TEST(test_checksummed_but_bad)
{
    const struct sumcase *c = &sumcases[_i];
    char buf[1024];
    int n = mkfile(buf, sizeof(buf), c->prefix, c->body);
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512] = "";
    ck_assert_int_eq(parse(buf, (size_t)n, &v, &l, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, c->msg) != NULL, "case %d: '%s' lacks '%s'", _i, err, c->msg);
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* The independent checksum agrees with the module's: an empty set written by hand parses. */
START_TEST(test_handmade_valid)
{
    char buf[1024];
    int n = mkfile(buf, sizeof(buf), "qorgau-failstatic 1 5 0 ", "");
    struct order_list l = { 0 };
    uint64_t v = 0;
    char err[512] = "";
    ck_assert_int_eq(parse(buf, (size_t)n, &v, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 5);
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* ---- the journal ---- */

static char *slurp(const char *name, size_t *len)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        *len = 0;
        return NULL;
    }
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void append_raw(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "ab");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void add1(uint64_t version, const char *id, const char *res)
{
    struct order *o = mk(id, res);
    char *j = order_to_json(o);
    ck_assert_ptr_nonnull(j);
    const char *v[] = { j };
    size_t vl[] = { strlen(j) };
    char err[512];
    ck_assert_int_eq(
        failstatic_journal_append(dir, version, v, vl, 1, NULL, 0, NULL, err, sizeof(err)), 0);
    free(j);
    order_free(o);
}

static void rev1(uint64_t version, const char *id)
{
    const char *r[] = { id };
    char err[512];
    ck_assert_int_eq(
        failstatic_journal_append(dir, version, NULL, NULL, 0, r, 1, NULL, err, sizeof(err)), 0);
}

static void jload(uint64_t after, uint64_t *v, struct failstatic_journal *j)
{
    char err[512];
    memset(j, 0, sizeof(*j));
    ck_assert_msg(failstatic_journal_load(dir, after, v, j, NULL, err, sizeof(err)) == 0, "%s",
                  err);
}

static void is(const struct failstatic_journal *j, size_t i, uint64_t version, const char *id,
               const char *res)
{
    ck_assert_uint_gt(j->n, i);
    ck_assert_uint_eq(j->v[i].version, version);
    ck_assert_str_eq(j->v[i].id, id);
    if (!res) {
        ck_assert_ptr_null(j->v[i].o);
        return;
    }
    ck_assert_ptr_nonnull(j->v[i].o);
    ck_assert_str_eq(j->v[i].o->res[0].norm, res);
}

START_TEST(test_journal_replay)
{
    struct order *a = mk("o-1", "one.example");
    const struct order *cv[] = { a };
    char err[512];
    ck_assert_int_eq(failstatic_save(dir, 10, cv, 1, err, sizeof(err)), 0);
    order_free(a);
    add1(11, "o-2", "two.example");
    rev1(12, "o-1");
    /* a replacement: the tombstone first, then the record */
    struct order *b = mk("o-2", "two-b.example");
    char *bj = order_to_json(b);
    const char *bv[] = { bj };
    size_t bl[] = { strlen(bj) };
    const char *rv[] = { "o-2" };
    uint64_t bytes = 0;
    ck_assert_int_eq(failstatic_journal_append(dir, 13, bv, bl, 1, rv, 1, &bytes, err, sizeof(err)),
                     0);
    /* a text with a line end is refused, the journal left as it was */
    const char *nl[] = { "{\"id\":\n\"x\"}" };
    size_t nll[] = { strlen(nl[0]) };
    ck_assert_int_eq(
        failstatic_journal_append(dir, 14, nl, nll, 1, NULL, 0, NULL, err, sizeof(err)), -EINVAL);
    free(bj);
    order_free(b);
    size_t len;
    char *buf = slurp(FAILSTATIC_JOURNAL_NAME, &len);
    ck_assert_uint_eq(bytes, len);
    ck_assert(strncmp(buf, "11 + ", 5) == 0);
    free(buf);

    uint64_t v = 0, jbytes = 0;
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(failstatic_journal_load(dir, 10, &v, &j, &jbytes, err, sizeof(err)), 0);
    ck_assert_uint_eq(jbytes, len);
    ck_assert_uint_eq(v, 13);
    ck_assert_uint_eq(j.n, 4);
    is(&j, 0, 11, "o-2", "two.example");
    is(&j, 1, 12, "o-1", NULL);
    is(&j, 2, 13, "o-2", NULL);
    is(&j, 3, 13, "o-2", "two-b.example");
    ck_assert(!j.torn);
    failstatic_journal_free(&j);

    /* entries the checkpoint holds are skipped; a checkpoint past them all: none */
    jload(12, &v, &j);
    ck_assert_uint_eq(v, 13);
    ck_assert_uint_eq(j.n, 2);
    is(&j, 0, 13, "o-2", NULL);
    failstatic_journal_free(&j);
    jload(20, &v, &j);
    ck_assert_uint_eq(v, 20);
    ck_assert_uint_eq(j.n, 0);
    failstatic_journal_free(&j);
}
END_TEST

START_TEST(test_journal_none)
{
    uint64_t v = 0;
    struct failstatic_journal j;
    jload(5, &v, &j);
    ck_assert_uint_eq(v, 5);
    ck_assert_uint_eq(j.n, 0);
    ck_assert(!j.torn);
    failstatic_journal_free(&j);
}
END_TEST

/* Every prefix of the last entry (a write cut by a crash) is ignored with the entries before
 * it kept; the next append cuts it off and its own entry follows. */
START_TEST(test_journal_torn_tail)
{
    add1(3, "o-1", "one.example");
    size_t l1;
    free(slurp(FAILSTATIC_JOURNAL_NAME, &l1));
    add1(4, "o-2", "two.example");
    size_t len;
    char *whole = slurp(FAILSTATIC_JOURNAL_NAME, &len);
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_JOURNAL_NAME);
    for (size_t cut = l1 + 1; cut < len; cut++) {
        ck_assert_int_eq(truncate(path, (off_t)cut), 0);
        uint64_t v = 0;
        struct failstatic_journal j;
        jload(0, &v, &j);
        ck_assert_msg(j.n == 1 && j.torn && j.torn_line == 2 && v == 3, "cut at %zu", cut);
        ck_assert_ptr_nonnull(strstr(j.torn_name, FAILSTATIC_JOURNAL_NAME));
        failstatic_journal_free(&j);
    }
    add1(5, "o-3", "three.example");
    uint64_t v = 0;
    struct failstatic_journal j;
    jload(0, &v, &j);
    ck_assert(!j.torn);
    ck_assert_uint_eq(v, 5);
    ck_assert_uint_eq(j.n, 2);
    is(&j, 0, 3, "o-1", "one.example");
    is(&j, 1, 5, "o-3", "three.example");
    failstatic_journal_free(&j);
    free(whole);
}
END_TEST

/* Any byte of a complete entry changed refuses the journal, naming the file and the line;
 * nothing is returned. */
START_TEST(test_journal_corrupted_middle)
{
    add1(3, "o-1", "one.example");
    size_t l1;
    free(slurp(FAILSTATIC_JOURNAL_NAME, &l1));
    rev1(4, "o-1");
    add1(5, "o-2", "two.example");
    size_t len;
    char *buf = slurp(FAILSTATIC_JOURNAL_NAME, &len);
    for (size_t i = 0; i < len - 1; i++) {
        char *c = malloc(len);
        memcpy(c, buf, len);
        c[i] ^= 0x01;
        const uint8_t *g = guard_copy(c, len);
        struct failstatic_journal j;
        memset(&j, 0, sizeof(j));
        uint64_t last = 0;
        char err[512] = "";
        int rc = failstatic_journal_parse("J", g, len, 0, &last, &j, err, sizeof(err));
        guard_free();
        ck_assert_msg(rc == -EINVAL, "byte %zu flipped: rc %d", i, rc);
        ck_assert_uint_eq(j.n, 0);
        ck_assert_msg(strncmp(err, i < l1 ? "failstatic: J:1: " : "failstatic: J:", 14) == 0 &&
                          (i >= l1 || strncmp(err, "failstatic: J:1: ", 17) == 0),
                      "byte %zu: %s", i, err);
        failstatic_journal_free(&j);
        free(c);
    }
    /* a changed record byte is a checksum mismatch, and so is the load's message */
    char *c = malloc(len);
    memcpy(c, buf, len);
    char *o = strstr(c, "one.example");
    ck_assert_ptr_nonnull(o);
    o[0] = 'O';
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_JOURNAL_NAME);
    FILE *f = fopen(path, "wb");
    fwrite(c, 1, len, f);
    fclose(f);
    uint64_t v = 0;
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    char err[512] = "";
    ck_assert_int_eq(failstatic_journal_load(dir, 0, &v, &j, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, FAILSTATIC_JOURNAL_NAME ":1: checksum mismatch"));
    ck_assert_ptr_nonnull(strstr(err, "corrupted"));
    ck_assert_uint_eq(j.n, 0);
    free(c);
    free(buf);
}
END_TEST

START_TEST(test_journal_version_order)
{
    add1(7, "o-1", "one.example");
    rev1(7, "o-1"); /* the same version again: one change of several orders */
    add1(6, "o-2", "two.example");
    uint64_t v = 0;
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    char err[512] = "";
    ck_assert_int_eq(failstatic_journal_load(dir, 0, &v, &j, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, ":3: version 6 after version 7"));
    ck_assert_uint_eq(j.n, 0);
    /* a skipped (checkpointed) entry still counts */
    ck_assert_int_eq(failstatic_journal_load(dir, 7, &v, &j, NULL, err, sizeof(err)), -EINVAL);
}
END_TEST

/* A checkpoint: the journal moved aside, changes after the copy go to a fresh one, the moved
 * one removed once the checkpoint is written; after a failed checkpoint the next rotation
 * appends to the moved journal (a torn tail of it cut first). */
START_TEST(test_journal_checkpoint)
{
    char err[512];
    ck_assert_int_eq(failstatic_save(dir, 10, NULL, 0, err, sizeof(err)), 0);
    add1(11, "o-1", "one.example");
    ck_assert_int_eq(failstatic_journal_rotate(dir, err, sizeof(err)), 0);
    size_t len;
    char *b = slurp(FAILSTATIC_JOURNAL_NAME, &len);
    ck_assert_ptr_null(b);
    add1(12, "o-2", "two.example");
    uint64_t v = 0;
    struct failstatic_journal j;
    jload(10, &v, &j);
    ck_assert_uint_eq(v, 12);
    ck_assert_uint_eq(j.n, 2);
    is(&j, 0, 11, "o-1", "one.example");
    is(&j, 1, 12, "o-2", "two.example");
    failstatic_journal_free(&j);
    /* the checkpoint of version 11 written: the moved journal goes */
    struct order *a = mk("o-1", "one.example");
    const struct order *cv[] = { a };
    ck_assert_int_eq(failstatic_save(dir, 11, cv, 1, err, sizeof(err)), 0);
    order_free(a);
    ck_assert_int_eq(failstatic_journal_drop_old(dir, err, sizeof(err)), 0);
    ck_assert_ptr_null(slurp(FAILSTATIC_JOURNAL_OLD, &len));
    jload(11, &v, &j);
    ck_assert_uint_eq(v, 12);
    ck_assert_uint_eq(j.n, 1);
    is(&j, 0, 12, "o-2", "two.example");
    failstatic_journal_free(&j);
    /* a checkpoint that fails: rotated, not dropped; the next rotation appends */
    ck_assert_int_eq(failstatic_journal_rotate(dir, err, sizeof(err)), 0);
    append_raw(FAILSTATIC_JOURNAL_OLD, "13 + ab", 7); /* torn */
    rev1(13, "o-2");
    ck_assert_int_eq(failstatic_journal_rotate(dir, err, sizeof(err)), 0);
    ck_assert_ptr_null(slurp(FAILSTATIC_JOURNAL_NAME, &len));
    add1(14, "o-3", "three.example");
    jload(11, &v, &j);
    ck_assert(!j.torn);
    ck_assert_uint_eq(v, 14);
    ck_assert_uint_eq(j.n, 3);
    is(&j, 0, 12, "o-2", "two.example");
    is(&j, 1, 13, "o-2", NULL);
    is(&j, 2, 14, "o-3", "three.example");
    failstatic_journal_free(&j);
    /* no journal to move: nothing to do */
    ck_assert_int_eq(failstatic_journal_drop_old(dir, err, sizeof(err)), 0);
    ck_assert_int_eq(failstatic_journal_rotate(dir, err, sizeof(err)), 0);
    ck_assert_int_eq(failstatic_journal_drop_old(dir, err, sizeof(err)), 0);
    ck_assert_int_eq(failstatic_journal_rotate(dir, err, sizeof(err)), 0);
    jload(0, &v, &j);
    ck_assert_uint_eq(j.n, 0);
    failstatic_journal_free(&j);
}
END_TEST

static const struct bad jbads[] = {
    { "1 + abc x\n", "not a journal entry (bad version" },
    { "1 * " SHA_X " x\n", "not a journal entry (bad version" },
    { "x + " SHA_X " x\n", "not a journal entry (bad version" },
    { "1 +\n", "fewer than four fields" },
    { "1 - " SHA_X " o-1\n", "checksum mismatch" },
};

START_TEST(test_journal_bad)
{
    const struct bad *b = &jbads[_i];
    struct failstatic_journal j;
    memset(&j, 0, sizeof(j));
    uint64_t last = 0;
    char err[512] = "";
    const uint8_t *g = guard_copy(b->text, strlen(b->text));
    int rc = failstatic_journal_parse("J", g, strlen(b->text), 0, &last, &j, err, sizeof(err));
    guard_free();
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err, b->msg) != NULL, "case %d: '%s' lacks '%s'", _i, err, b->msg);
    ck_assert_uint_eq(j.n, 0);
}
END_TEST

/* An entry summed here independently (one buffer, one SHA-256) parses; a tombstone with an
 * empty id and a record that is not an order do not. */
START_TEST(test_journal_handmade)
{
    static const char *const cases[][3] = {
        { "9 - ", "o-7", NULL },
        { "9 - ", "", "without an order id" },
        { "9 + ", "{\"id\":\"x\"}", "J:1: " },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char whole[256], line[512], sum[65];
        int wl = snprintf(whole, sizeof(whole), "%s%s", cases[k][0], cases[k][1]);
        order_sha256((const uint8_t *)whole, (size_t)wl, sum);
        int n = snprintf(line, sizeof(line), "%s%s %s\n", cases[k][0], sum, cases[k][1]);
        struct failstatic_journal j;
        memset(&j, 0, sizeof(j));
        uint64_t last = 0;
        char err[512] = "";
        const uint8_t *g = guard_copy(line, (size_t)n);
        int rc = failstatic_journal_parse("J", g, (size_t)n, 0, &last, &j, err, sizeof(err));
        guard_free();
        if (!cases[k][2]) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(last, 9);
            is(&j, 0, 9, "o-7", NULL);
        } else {
            ck_assert_int_eq(rc, -EINVAL);
            ck_assert_msg(strstr(err, cases[k][2]) != NULL, "case %zu: %s", k, err);
        }
        failstatic_journal_free(&j);
    }
}
END_TEST

static Suite *failstatic_suite(void)
{
    Suite *s = suite_create("failstatic");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_set);
    tcase_add_test(tc, test_missing);
    tcase_add_test(tc, test_handmade_valid);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_byte_flipped);
    tcase_add_test(tc, test_every_prefix);
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bads) / sizeof(bads[0])));
    tcase_add_loop_test(tc, test_checksummed_but_bad, 0,
                        (int)(sizeof(sumcases) / sizeof(sumcases[0])));
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("journal");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_journal_replay);
    tcase_add_test(tc, test_journal_none);
    tcase_add_test(tc, test_journal_torn_tail);
    tcase_add_test(tc, test_journal_corrupted_middle);
    tcase_add_test(tc, test_journal_version_order);
    tcase_add_test(tc, test_journal_checkpoint);
    tcase_add_loop_test(tc, test_journal_bad, 0, (int)(sizeof(jbads) / sizeof(jbads[0])));
    tcase_add_test(tc, test_journal_handmade);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(failstatic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
