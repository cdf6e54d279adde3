/* check_subfstatic.c - Check suite for the subscriber side's fail-static file
 * (proxy/daemon/subfstatic.c): a map and a tariff table written and loaded into another live
 * map and table (expiry times kept, expired mappings passed over, the node's own definitions
 * kept), a damaged or forged file (an address mapped twice too) refused whole with its reason
 * and nothing changed, and the
 * store's load replacing what the file gave (what it did not set again removed); a reload of
 * the profiles file keeping what the copy gave and the store's records, in the copy too; the
 * map's own mappings noted before a full load after an outage, and swept after it. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/imgfile.h"
#include "proxy/daemon/subfstatic.h"
#include "rules/match/rsref.h"
#include "tests/lib/crun.h"
#include "tests/lib/tmpdir.h"

#define NOW  1000000000000ull /* the tests' wall clock, ms */
#define HOUR 3600000ull

static char g_dir[256], g_path[300];

static struct sub_addr addr(const char *s)
{
    struct sub_addr a;
    char err[128];
    ck_assert_msg(sub_addr_parse(s, strlen(s), &a, err, sizeof(err)) == 0, "%s", err);
    return a;
}

static void map_set(struct submap *m, const char *ip, const char *sub, const char *sess,
                    uint64_t exp)
{
    struct sub_addr a = addr(ip);
    ck_assert_int_eq(submap_set(m, &a, sub, sess, exp), 0);
}

/* Who is behind ip at now ("-": nobody), and its session in *sess (may be NULL). */
static const char *who(const struct submap *m, const char *ip, uint64_t now, const char **sess)
{
    static char sub[SUB_ID_MAX + 1], se[SUB_ID_MAX + 1];
    uint8_t b[16];
    struct sub_addr a = addr(ip);
    memcpy(b, a.addr, 16);
    if (!submap_lookup(m, a.family, b, now, sub, sizeof(sub), se, sizeof(se)))
        return "-";
    if (sess)
        *sess = se;
    return sub;
}

static const char *ptext(struct tariff *t, const char *name)
{
    static char out[512];
    return tariff_profile_text(t, name, out, sizeof(out)) ? out : "-";
}

static const char *stext(struct tariff *t, const char *sub)
{
    static char out[512];
    return tariff_sub_text(t, sub, out, sizeof(out)) ? out : "-";
}

static void set_prof(struct tariff *t, const char *n, const char *spec)
{
    char err[256];
    ck_assert_msg(tariff_set_profile(t, n, spec, err, sizeof(err)) == 0, "%s", err);
}

static void set_sub(struct tariff *t, const char *s, const char *spec)
{
    char err[256];
    ck_assert_msg(tariff_set_sub(t, s, spec, err, sizeof(err)) == 0, "%s", err);
}

static const char LONG_ID[] = "user-name-of-a-subscriber-that-does-not-fit-in-the-entry@"
                              "operator.example";

/* Writes a map of five mappings (one expired at NOW, one expiring an hour after it, an IPv6
 * prefix, a long id) and a table of two profiles and two subscribers to g_path. */
static void write_sample(void)
{
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "subfstatic"), 0);
    snprintf(g_path, sizeof(g_path), "%s/%s", g_dir, SUBFSTATIC_NAME);
    struct submap *m = submap_new(64);
    struct tariff *t = tariff_new(NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(t);
    map_set(m, "10.0.0.1", "77010000001", "sess-1", 0);
    map_set(m, "10.0.0.2", "77010000002", "sess-2", NOW + HOUR);
    map_set(m, "10.0.0.3", "77010000003", "", NOW - 1);
    map_set(m, "2001:db8:1::/56", "77010000004", "sess-4", NOW + 2 * HOUR);
    map_set(m, "10.0.0.5", LONG_ID, "a-long-session-id-0123456789abcdef", 0);
    set_prof(t, "child", "block=adult sched=games@mon-fri/21:00-07:00");
    set_prof(t, "teen", "block=adult");
    set_sub(t, "77010000001", "profile=child");
    set_sub(t, "77010000002", "profile=teen pdeny=games.test");
    char err[1024];
    size_t maps, defs;
    ck_assert_msg(subfstatic_write(g_path, m, t, NOW - HOUR, &maps, &defs, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(maps, 5);
    ck_assert_uint_eq(defs, 4);
    submap_free(m);
    tariff_free(t);
}

START_TEST(round_trip_into_live)
{
    rsref_thread_register();
    write_sample();
    /* the node's live map and table: one mapping of its own, its profiles file's "teen" */
    struct submap *m = submap_new(1024);
    struct tariff *t = tariff_new(NULL);
    map_set(m, "10.9.9.9", "77019999999", "own", 0);
    set_prof(t, "teen", "block=gambling");
    ck_assert_int_eq(tariff_publish(t, NULL, 0) >= 0, 1);
    struct subfstatic *s;
    struct subfstatic_info in;
    char err[1024];
    ck_assert_msg(subfstatic_load(g_path, m, t, NOW, &s, &in, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(in.written_ms, NOW - HOUR);
    ck_assert_uint_eq(in.mappings, 4);
    ck_assert_uint_eq(in.expired, 1);
    ck_assert_uint_eq(in.map_full, 0);
    ck_assert_uint_eq(in.defs, 3);
    ck_assert_uint_eq(in.kept, 1);
    ck_assert_uint_eq(submap_count(m), 5);
    const char *se = NULL;
    ck_assert_str_eq(who(m, "10.0.0.1", NOW, &se), "77010000001");
    ck_assert_str_eq(se, "sess-1");
    ck_assert_str_eq(who(m, "10.0.0.2", NOW, NULL), "77010000002");
    ck_assert_str_eq(who(m, "10.0.0.3", NOW - 2 * HOUR, NULL), "-"); /* expired: not set */
    ck_assert_str_eq(who(m, "2001:db8:1:ff::1", NOW, NULL), "77010000004");
    ck_assert_str_eq(who(m, "10.0.0.5", NOW, &se), LONG_ID);
    ck_assert_str_eq(se, "a-long-session-id-0123456789abcdef");
    ck_assert_str_eq(who(m, "10.9.9.9", NOW, NULL), "77019999999");
    /* expiry times kept: they expire during an outage as they would have */
    ck_assert_str_eq(who(m, "10.0.0.2", NOW + HOUR, NULL), "-");
    ck_assert_str_eq(who(m, "2001:db8:1::1", NOW + HOUR, NULL), "77010000004");
    ck_assert_str_eq(who(m, "2001:db8:1::1", NOW + 2 * HOUR, NULL), "-");
    ck_assert_str_eq(who(m, "10.0.0.1", NOW + 1000 * HOUR, NULL), "77010000001");
    ck_assert_uint_eq(submap_expire(m, NOW + 2 * HOUR), 2);
    /* the table: the file's definitions, the node's own "teen" kept */
    ck_assert_str_eq(ptext(t, "child"), "block=adult sched=games@mon-fri/21:00-07:00");
    ck_assert_str_eq(ptext(t, "teen"), "block=gambling");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(stext(t, "77010000002"), "profile=teen pdeny=games.test");
    struct tariff_stats ts;
    tariff_get_stats(t, &ts);
    ck_assert_uint_eq(ts.profiles, 2); /* published */
    ck_assert_uint_eq(ts.subscribers, 2);
    subfstatic_free(s);
    submap_free(m);
    tariff_free(t);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

/* Loads the file at g_path into a fresh map and table holding one mapping and one profile:
 * the load's result and reason; the map and the table must be unchanged when it fails. */
static int load_fails(char *err, size_t errlen)
{
    struct submap *m = submap_new(64);
    struct tariff *t = tariff_new(NULL);
    map_set(m, "10.9.9.9", "77019999999", "own", 0);
    set_prof(t, "own", "block=adult");
    struct subfstatic *s = (struct subfstatic *)1;
    struct subfstatic_info in;
    int rc = subfstatic_load(g_path, m, t, NOW, &s, &in, err, errlen);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(submap_count(m), 1);
    ck_assert_str_eq(ptext(t, "own"), "block=adult");
    ck_assert_str_eq(ptext(t, "child"), "-");
    ck_assert_str_eq(stext(t, "77010000001"), "-");
    submap_free(m);
    tariff_free(t);
    return rc;
}

static void read_file(char **buf, size_t *len)
{
    ck_assert_int_eq(fileio_read_all(g_path, buf, len), 0);
}

static void put_file(const char *buf, size_t len)
{
    FILE *f = fopen(g_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(damaged_or_forged_refused_whole)
{
    rsref_thread_register();
    char err[1024];
    write_sample();
    char *buf;
    size_t len;
    read_file(&buf, &len);
    /* one byte changed: the checksum */
    buf[len - 3] ^= 0x20;
    put_file(buf, len);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, g_path) && strstr(err, "checksum"), "%s", err);
    buf[len - 3] ^= 0x20;
    /* cut short */
    put_file(buf, len / 2);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, g_path) != NULL, "%s", err);
    /* a definition of another kind, sealed again (a forged file whose framing passes) */
    char *p = memmem(buf, len, "teen\0block=adult", 16);
    ck_assert_ptr_nonnull(p);
    p[-1] = 'x';
    imgfile_seal((uint8_t *)buf, len);
    put_file(buf, len);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "definition 2: not a kind, a name and a text") != NULL, "%s", err);
    /* a definition whose text does not parse */
    p[-1] = 'p';
    memcpy(p + 5, "blxck", 5);
    imgfile_seal((uint8_t *)buf, len);
    put_file(buf, len);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "definition 2 (profile 'teen')") != NULL, "%s", err);
    /* a mapping's subscriber id with a byte ids do not have */
    memcpy(p + 5, "block", 5);
    char *id = memmem(buf, len, "77010000003", 11);
    ck_assert_ptr_nonnull(id);
    id[3] = ' ';
    imgfile_seal((uint8_t *)buf, len);
    put_file(buf, len);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, g_path) != NULL, "%s", err);
    /* two mappings of one address (10.0.0.1's entry made 10.0.0.5, where the long id is; the
     * table's checks pass it): the sweep would remove 10.0.0.5 after the store set it again
     * (fuzz_subfstatic) */
    id[3] = '1';
    char *ip = memmem(buf, len, "\x0a\x00\x00\x01", 4);
    ck_assert_ptr_nonnull(ip);
    ck_assert_ptr_null(memmem(ip + 1, len - (size_t)(ip + 1 - buf), "\x0a\x00\x00\x01", 4));
    ip[3] = 5;
    imgfile_seal((uint8_t *)buf, len);
    put_file(buf, len);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "10.0.0.5 mapped twice") != NULL, "%s", err);
    /* another kind of file */
    put_file("# not an image\n", 15);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -EINVAL);
    /* none */
    unlink(g_path);
    ck_assert_int_eq(load_fails(err, sizeof(err)), -ENOENT);
    free(buf);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

START_TEST(store_load_replaces)
{
    rsref_thread_register();
    write_sample();
    struct submap *m = submap_new(1024);
    struct tariff *t = tariff_new(NULL);
    set_prof(t, "own", "block=adult");
    struct subfstatic *s;
    struct subfstatic_info in;
    char err[1024];
    ck_assert_msg(subfstatic_load(g_path, m, t, NOW, &s, &in, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(in.mappings, 4);
    /* the store's full load: 10.0.0.1 again (another subscriber now), 10.0.0.7 new; 10.0.0.5
     * set meanwhile by the node's listener with a new session; the profile "child" and
     * subscriber 77010000001 again; a removal of 77010000002 */
    struct sub_addr a = addr("10.0.0.1");
    ck_assert_int_eq(submap_set(m, &a, "77010000011", "sess-11", 0), 0);
    subfstatic_seen_addr(s, &a);
    a = addr("10.0.0.7");
    ck_assert_int_eq(submap_set(m, &a, "77010000007", "sess-7", 0), 0);
    subfstatic_seen_addr(s, &a);
    map_set(m, "10.0.0.5", "77010000005", "newer", 0);
    set_prof(t, "child", "block=adult");
    subfstatic_seen_def(s, false, "child");
    subfstatic_seen_def(s, true, "77010000001");
    ck_assert_int_eq(tariff_del_sub(t, "77010000002"), 0);
    subfstatic_seen_def(s, true, "77010000002");
    size_t maps, defs;
    subfstatic_sweep(s, m, t, &maps, &defs);
    subfstatic_free(s);
    ck_assert_uint_eq(maps, 2); /* 10.0.0.2 and the IPv6 prefix */
    ck_assert_uint_eq(defs, 1); /* "teen" */
    ck_assert_str_eq(who(m, "10.0.0.1", NOW, NULL), "77010000011");
    ck_assert_str_eq(who(m, "10.0.0.2", NOW, NULL), "-");
    ck_assert_str_eq(who(m, "2001:db8:1::1", NOW, NULL), "-");
    ck_assert_str_eq(who(m, "10.0.0.5", NOW, NULL), "77010000005");
    ck_assert_str_eq(who(m, "10.0.0.7", NOW, NULL), "77010000007");
    ck_assert_uint_eq(submap_count(m), 3);
    ck_assert_str_eq(ptext(t, "child"), "block=adult");
    ck_assert_str_eq(ptext(t, "teen"), "-");
    ck_assert_str_eq(ptext(t, "own"), "block=adult");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(stext(t, "77010000002"), "-");
    struct tariff_stats ts;
    tariff_get_stats(t, &ts);
    ck_assert_uint_eq(ts.profiles, 2); /* published after the sweep */
    ck_assert_uint_eq(ts.subscribers, 1);
    /* the node's state written again is what it now holds */
    ck_assert_msg(subfstatic_write(g_path, m, t, NOW, &maps, &defs, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(maps, 3);
    ck_assert_uint_eq(defs, 3);
    submap_free(m);
    tariff_free(t);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

/* A reload of the profiles file (tariff_rebase(), as tariffcfg_load() does) while the node
 * enforces the copy keeps what the copy gave, and a copy written after the reload holds the
 * store's records with the new file's definitions; what the store's load then sweeps stays
 * gone at the next reload. */
START_TEST(reload_keeps_copy_and_records)
{
    rsref_thread_register();
    write_sample();
    struct submap *m = submap_new(1024);
    struct tariff *t = tariff_new(NULL);
    set_prof(t, "own", "block=adult");
    struct subfstatic *s;
    struct subfstatic_info in;
    char err[1024];
    ck_assert_msg(subfstatic_load(g_path, m, t, NOW, &s, &in, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(in.defs, 4);
    /* the reload: the file now defines "own2" instead of "own" */
    struct tariff *base = tariff_new(NULL);
    set_prof(base, "own2", "block=adult");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    ck_assert_str_eq(ptext(t, "own"), "-");
    ck_assert_str_eq(ptext(t, "own2"), "block=adult");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(stext(t, "77010000002"), "profile=teen pdeny=games.test");
    ck_assert_str_eq(ptext(t, "teen"), "block=adult");
    /* a record from the store, then the copy written after another reload */
    ck_assert_int_eq(tariff_layer_set(t, true, "77010000009", "profile=child", err, sizeof(err)),
                     0);
    base = tariff_new(NULL);
    set_prof(base, "own2", "block=adult");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    size_t maps, defs;
    ck_assert_msg(subfstatic_write(g_path, m, t, NOW, &maps, &defs, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(defs, 6); /* child, teen, own2; 77010000001, 77010000002, 77010000009 */
    struct submap *m2 = submap_new(64);
    struct tariff *t2 = tariff_new(NULL);
    struct subfstatic *s2;
    ck_assert_msg(subfstatic_load(g_path, m2, t2, NOW, &s2, &in, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(stext(t2, "77010000009"), "profile=child");
    ck_assert_str_eq(stext(t2, "77010000001"), "profile=child");
    subfstatic_free(s2);
    submap_free(m2);
    tariff_free(t2);
    /* the store's load sets 77010000009 and "child" only: the rest the copy gave goes, and
     * stays gone at the next reload */
    subfstatic_seen_def(s, false, "child");
    subfstatic_seen_def(s, true, "77010000009");
    subfstatic_sweep(s, m, t, &maps, &defs);
    subfstatic_free(s);
    ck_assert_uint_eq(defs, 3); /* teen, 77010000001, 77010000002 */
    base = tariff_new(NULL);
    set_prof(base, "own2", "block=adult");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    ck_assert_str_eq(stext(t, "77010000001"), "-");
    ck_assert_str_eq(ptext(t, "teen"), "-");
    ck_assert_str_eq(ptext(t, "child"), "block=adult sched=games@mon-fri/21:00-07:00");
    ck_assert_str_eq(stext(t, "77010000009"), "profile=child");
    submap_free(m);
    tariff_free(t);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

/* A copy with nothing in it (a node whose store had no mapping and no record yet) loads as
 * nothing, and its sweep removes nothing (fuzz_subfstatic: the load sorted its empty lists,
 * passing qsort() no array, undefined behaviour that the sanitizer build stops at). */
START_TEST(empty_copy)
{
    rsref_thread_register();
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "subfstatic"), 0);
    snprintf(g_path, sizeof(g_path), "%s/%s", g_dir, SUBFSTATIC_NAME);
    struct submap *m = submap_new(16);
    struct tariff *t = tariff_new(NULL);
    char err[1024];
    size_t maps, defs;
    ck_assert_msg(subfstatic_write(g_path, m, t, NOW, &maps, &defs, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(maps + defs, 0);
    set_prof(t, "own", "block=adult");
    struct subfstatic *s;
    struct subfstatic_info in;
    ck_assert_msg(subfstatic_load(g_path, m, t, NOW, &s, &in, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(in.mappings + in.defs + in.kept + in.expired, 0);
    ck_assert_uint_eq(in.written_ms, NOW);
    struct sub_addr a = addr("10.0.0.1");
    subfstatic_seen_addr(s, &a);
    subfstatic_seen_def(s, true, "77010000001");
    map_set(m, "10.0.0.1", "77010000001", "", 0);
    subfstatic_sweep(s, m, t, &maps, &defs);
    ck_assert_uint_eq(maps + defs, 0);
    ck_assert_uint_eq(submap_count(m), 1);
    ck_assert_str_eq(ptext(t, "own"), "block=adult");
    subfstatic_free(s);
    submap_free(m);
    tariff_free(t);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

/* The peak virtual memory of this process (VmPeak), in MB: what it ever reserved at once. */
static long peak_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmPeak: %ld kB", &kb) == 1)
            break;
    fclose(f);
    ck_assert_int_ge(kb, 0);
    return kb / 1024;
}

/* The map in the file is read aside, then set into the live map: it is sized by the mappings
 * it holds, not by the capacity the file says the writing node's map had. A file (sealed
 * again: forged, or damaged before it was sealed) saying 2^28 would otherwise make the load
 * reserve (2 GB of address space) and walk a table of half a billion slots beside the live
 * map, a second at start and more (fuzz_subfstatic found it). */
START_TEST(forged_capacity_sized_by_mappings)
{
    rsref_thread_register();
    ck_assert_int_eq(tmpdir_make(g_dir, sizeof(g_dir), "subfstatic"), 0);
    snprintf(g_path, sizeof(g_path), "%s/%s", g_dir, SUBFSTATIC_NAME);
    struct submap *m = submap_new(1000);
    map_set(m, "10.0.0.1", "77010000001", "s1", 0);
    char err[1024];
    size_t maps, defs;
    ck_assert_msg(subfstatic_write(g_path, m, NULL, NOW, &maps, &defs, err, sizeof(err)) == 0, "%s",
                  err);
    submap_free(m);
    /* the map's scalars: ..., entries 1, long ids 0, the seed, the capacity 1000 */
    char *buf;
    size_t len;
    read_file(&buf, &len);
    uint64_t w[4] = { 1, 0, 0, 1000 }, *cap = NULL;
    for (size_t off = 0; off + sizeof(w) <= len && !cap; off += 8) {
        uint64_t v[4];
        memcpy(v, buf + off, sizeof(v));
        if (v[0] == w[0] && v[1] == w[1] && v[3] == w[3])
            cap = (uint64_t *)(void *)(buf + off + 24);
    }
    ck_assert_ptr_nonnull(cap);
    uint64_t big = (uint64_t)1 << 28;
    memcpy(cap, &big, 8);
    imgfile_seal((uint8_t *)buf, len);
    put_file(buf, len);
    free(buf);
    m = submap_new(64);
    long before = peak_mb();
    struct subfstatic *s;
    struct subfstatic_info in;
    ck_assert_msg(subfstatic_load(g_path, m, NULL, NOW, &s, &in, err, sizeof(err)) == 0, "%s", err);
    long grew = peak_mb() - before;
    ck_assert_uint_eq(in.mappings, 1);
    ck_assert_str_eq(who(m, "10.0.0.1", NOW, NULL), "77010000001");
    ck_assert_msg(grew < 256, "the load reserved %ld MB", grew);
    subfstatic_free(s);
    submap_free(m);
    tmpdir_remove(g_dir);
    rsref_thread_unregister();
}
END_TEST

/* subfstatic_of(): what a map and a table's store records hold when the store's full load after
 * an outage begins; the sweep then removes what the load did not set again, except a mapping
 * whose session changed meanwhile (the listener mapped it again) and the table's own (file's)
 * definitions, and a swept record over a file's definition gives the file's back; nothing at
 * all gives nothing to sweep. */
START_TEST(held_map_swept)
{
    rsref_thread_register();
    struct submap *m = submap_new(64);
    struct tariff *t = tariff_new(NULL);
    struct tariff *base = tariff_new(NULL); /* the profiles file's */
    set_prof(base, "own", "block=adult");
    set_sub(base, "77010000002", "profile=own");
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    ck_assert_ptr_null(subfstatic_of(m, t));
    char err[256];
    ck_assert_int_eq(tariff_layer_set(t, false, "child", "block=adult", err, sizeof(err)), 0);
    ck_assert_int_eq(tariff_layer_set(t, true, "77010000001", "profile=child", err, sizeof(err)),
                     0);
    ck_assert_int_eq(tariff_layer_set(t, true, "77010000002", "profile=child", err, sizeof(err)),
                     0);
    map_set(m, "10.0.0.1", "77010000001", "a1", 0);
    map_set(m, "10.0.0.2", "77010000002", "b1", 0);
    map_set(m, "10.0.0.3", "77010000003", "", 0);
    map_set(m, "10.0.0.4", "77010000004", "d1", 0);
    map_set(m, "2001:db8:1::/56", "77010000005", "", NOW + HOUR);
    struct subfstatic *s = subfstatic_of(m, t);
    ck_assert_ptr_nonnull(s);
    subfstatic_seen_def(s, false, "child");
    subfstatic_seen_def(s, true, "77010000001");
    /* the load sets 10.0.0.1 and 10.0.0.6; the listener maps 10.0.0.4 to a new session */
    struct sub_addr a = addr("10.0.0.1");
    subfstatic_seen_addr(s, &a);
    map_set(m, "10.0.0.6", "77010000006", "f1", 0);
    a = addr("10.0.0.6");
    subfstatic_seen_addr(s, &a);
    map_set(m, "10.0.0.4", "77010000004", "d2", 0);
    size_t maps, defs;
    subfstatic_sweep(s, m, t, &maps, &defs);
    subfstatic_free(s);
    ck_assert_uint_eq(maps, 3);
    ck_assert_uint_eq(defs, 1);
    /* (the store's record over the file's line went: the file's is back) */
    ck_assert_str_eq(stext(t, "77010000002"), "profile=own");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(ptext(t, "child"), "block=adult");
    ck_assert_str_eq(ptext(t, "own"), "block=adult");
    /* (the store's layer lost it too: a rebase does not bring it back) */
    base = tariff_new(NULL);
    ck_assert_int_eq(tariff_rebase(t, base), 0);
    tariff_free(base);
    ck_assert_str_eq(stext(t, "77010000002"), "-");
    ck_assert_str_eq(stext(t, "77010000001"), "profile=child");
    ck_assert_str_eq(who(m, "10.0.0.1", NOW, NULL), "77010000001");
    ck_assert_str_eq(who(m, "10.0.0.2", NOW, NULL), "-");
    ck_assert_str_eq(who(m, "10.0.0.3", NOW, NULL), "-");
    ck_assert_str_eq(who(m, "10.0.0.4", NOW, NULL), "77010000004");
    ck_assert_str_eq(who(m, "2001:db8:1::1", NOW, NULL), "-");
    ck_assert_str_eq(who(m, "10.0.0.6", NOW, NULL), "77010000006");
    ck_assert_uint_eq(submap_count(m), 3);
    submap_free(m);
    tariff_free(t);
    rsref_thread_unregister();
}
END_TEST

static Suite *subfstatic_suite(void)
{
    Suite *s = suite_create("subfstatic");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, round_trip_into_live);
    tcase_add_test(tc, damaged_or_forged_refused_whole);
    tcase_add_test(tc, store_load_replaces);
    tcase_add_test(tc, reload_keeps_copy_and_records);
    tcase_add_test(tc, empty_copy);
    tcase_add_test(tc, forged_capacity_sized_by_mappings);
    tcase_add_test(tc, held_map_swept);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return crun(subfstatic_suite());
}
