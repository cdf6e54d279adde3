/* submap.h - the node's address -> subscriber map: who is behind an address.
 *
 * Keys are an IPv4 address (/32) or an IPv6 prefix (/0../128; gateways assign a /64 or a
 * shorter delegated prefix); an IPv6 lookup finds the longest prefix holding the address. Each
 * entry carries the subscriber id (MSISDN, IMSI or user name), the accounting session id and
 * an expiry time. Readers never lock and never allocate: entries are immutable and published
 * with RCU (liburcu, memb flavor, as rules/match/rsref.c); a reader thread registers once with
 * rsref_thread_register(). Writers are serialized by an internal mutex; a replaced or removed
 * entry is reused only after a grace period.
 *
 * Memory is fixed at creation: one array of 56-byte entries (the capacity and a spare of a
 * sixty-fourth, for entries waiting out a grace period) and 4-byte slots, about 63 bytes a
 * mapping at 10M (docs/BENCHMARKS.md "Child tariffs"). The ids are held in the entry after
 * the address's own bytes (40 bytes for both: an MSISDN or IMSI and a 16-byte session id fit
 * for IPv4 and a /64); longer ones get an allocation of their own.
 *
 * The table is open addressing over a fixed number of slots chosen at creation (1.5 times the
 * capacity, rounded up to a power of two): it never resizes, and refuses an insert past the
 * capacity (-ENOSPC), so memory is known up front. Text forms, used by the store, the CLI and
 * the logs: "10.0.0.1" and "2001:db8:1::/56" (inet_ntop's form, the prefix length always
 * written for IPv6). */
#ifndef QG_SUBMAP_H
#define QG_SUBMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SUB_ADDR_TEXT_MAX 48  /* "ffff:...:ffff/128" and its NUL */
#define SUB_ID_MAX        128 /* bytes of a subscriber or session id */

/* An address or prefix. Bits of addr past plen are zero. */
struct sub_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t plen;   /* 32 for IPv4; 0..128 for IPv6 */
    uint8_t addr[16];
};

/* Parses "10.0.0.1", "10.0.0.1/32", "2001:db8::/56" or "2001:db8::1" (= /128) of len bytes.
 * Host bits past the prefix length are an error (the prefix is named by its first address).
 * Returns 0 or -EINVAL with "subscriber address 'S': reason" in err. */
int sub_addr_parse(const char *s, size_t len, struct sub_addr *a, char *err, size_t errlen);

/* The dotted quad at the start of s[0, len) (inet_pton's form: four decimal parts 0..255, no
 * leading zeros) into *a as an IPv4 /32: the bytes it takes, or 0 (*a unchanged). The caller
 * checks what follows (sub_addr_parse(): nothing; a subscribers file's line: a space). A file
 * of subscribers is mostly these: no copy, no library call. */
size_t sub_addr_quad_prefix(const char *s, size_t len, struct sub_addr *a);

/* Writes the canonical text of a into out (cap >= SUB_ADDR_TEXT_MAX). Returns its length. */
size_t sub_addr_format(const struct sub_addr *a, char *out, size_t cap);

/* True when s[0..len) may be stored as a subscriber or session id: 1..SUB_ID_MAX bytes of
 * printable ASCII without space (0x21..0x7e). */
bool sub_id_valid(const char *s, size_t len);

/* The end of the run of id bytes (0x21..0x7e, sub_id_valid()'s) at s, reading no further than
 * end: eight bytes a step, for the loaders of big files. */
static inline const char *sub_id_span(const char *s, const char *end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (end - s >= 8) {
        uint64_t x;
        memcpy(&x, s, 8);
        /* a byte under 0x21, or 0x7f and over, sets its top bit (carries and borrows only
         * reach the bytes after the first such one) */
        uint64_t bad = (((x - ones * 0x21) & ~x) | (x + ones) | x) & high;
        if (bad)
            return s + (__builtin_ctzll(bad) >> 3);
        s += 8;
    }
#endif
    while (s < end && (unsigned char)(*s - 0x21) < 0x5e)
        s++;
    return s;
}

struct submap;

/* A map for up to capacity entries (1 .. 2^28), or NULL (out of memory, bad capacity). */
struct submap *submap_new(size_t capacity);

/* Frees m and its entries. No reader may use it any more. NULL is a no-op. */
void submap_free(struct submap *m);

/* Maps a to subscriber and session (session may be NULL or ""), expiring at expires_ms (0:
 * never). Replaces an existing entry for the same address. Returns 0, -EINVAL (an id that
 * sub_id_valid refuses) or -ENOSPC (full). */
int submap_set(struct submap *m, const struct sub_addr *a, const char *subscriber,
               const char *session, uint64_t expires_ms);

/* One mapping for submap_set_many(): the address, the subscriber id (sub_len bytes, NUL-
 * terminated) and whether it passed sub_id_valid() (the caller checks it while finding its end);
 * rc is set to submap_set()'s result. */
struct submap_item {
    struct sub_addr a;
    const char *sub;
    size_t sub_len;
    bool sub_valid;
    int rc;
};

#define SUBMAP_MANY_MAX 16 /* items a submap_set_many() call takes */

/* Sets it[0..n) (n at most SUBMAP_MANY_MAX) as submap_set() without a session or an expiry, in
 * order, under one lock, every slot loading before the first is read: the bulk load of a
 * subscribers file. Stops after the first item that fails with -ENOSPC or -ENOMEM (an invalid
 * id, -EINVAL, only fails its own item). Returns the items done, each with its rc. */
size_t submap_set_many(struct submap *m, struct submap_item *it, size_t n);

/* Removes the entry of exactly a. session non-NULL and not "": only when the entry belongs to
 * that session (a Stop of an old session does not remove its successor). Returns 0 or -ENOENT. */
int submap_del(struct submap *m, const struct sub_addr *a, const char *session);

/* Who is behind the address (family 4: 4 bytes, 6: 16 bytes) at now_ms: copies the subscriber
 * id (NUL-terminated, truncated to cap) into sub and, when sess is not NULL, the session id
 * into sess. IPv6: the longest prefix holding the address. Expired entries are not found.
 * Returns true when found. Takes its own read section (any registered reader thread). */
bool submap_lookup(const struct submap *m, int family, const uint8_t *addr, uint64_t now_ms,
                   char *sub, size_t cap, char *sess, size_t sesscap);

/* Starts loading the slot a lookup of the address (family 4: 4 bytes, 6: 16 bytes; IPv6: the
 * longest prefix length present) reads first: a hint, for a caller with other work to do before
 * the lookup (the regulator's side of a decision). Reads nothing but the table's shape. */
void submap_prefetch(const struct submap *m, int family, const uint8_t *addr);

/* The next step of the same: reads that slot and starts loading the entry it names (for a
 * caller that prefetched the slot a while before, e.g. when the flow began). Any thread, no
 * read section needed (the entries never move); a hint: a changing map only makes it useless. */
void submap_prefetch_entry(const struct submap *m, int family, const uint8_t *addr);

/* As submap_lookup, for a caller inside a read section of its own (rsref_read_lock()): the
 * subscriber id (NUL-terminated, valid until the read section ends) or NULL, and in *ref the
 * entry's reader word: 0 when the entry was made, kept until the address is mapped again or
 * removed; readers load and store it with relaxed atomics (tariff_judge_ref() keeps the
 * subscriber's tariff record there, resolved once per tariff snapshot); in *sub_len (may be
 * NULL) the id's length. */
const char *submap_lookup_ref(const struct submap *m, int family, const uint8_t *addr,
                              uint64_t now_ms, uint32_t **ref, size_t *sub_len);

struct imgfile_w;
struct imgfile_r;

#define SUBMAP_IMAGE_SECTS 8 /* section ids base .. base + 7 are the map's (base + 0..3 used) */

/* Writes the map's mappings as sections base.. of w (common/imgfile.h; the layout: submap.c's
 * "The image"), under the map's lock: the slot table as it is and the live entries packed in slot
 * order (so that loading is two copies, not a hash insert per mapping); mappings whose ids do
 * not fit in their entry as records of their own (inserted again on loading). Expired entries
 * are written as they are. 0 or a negative errno (-ENOMEM; -ENOTSUP on a big-endian host). */
int submap_to_image(struct submap *m, struct imgfile_w *w, uint32_t base);

/* A new map holding the mappings submap_to_image() wrote at base in r, copied out of r's buffer
 * (r may be freed after), with room for capacity mappings (0: the capacity of the map written;
 * at least the image's count). The table is the image's (its size and hash seed) when that
 * holds capacity at the load factor, else built again by inserting. Every value is checked
 * (slot values, entry families, prefix lengths, id lengths and bytes, each entry named by
 * exactly one slot, an empty slot) so that a forged file cannot send a lookup outside the
 * arrays or into an endless probe (an entry off its key's probe path is simply not found);
 * NULL with the reason in err otherwise. The map then behaves as one filled by submap_set(). */
struct submap *submap_from_image(const struct imgfile_r *r, uint32_t base, size_t capacity,
                                 char *err, size_t errlen);

/* Removes entries expired at now_ms. Returns how many. */
size_t submap_expire(struct submap *m, uint64_t now_ms);

/* Called by submap_each() with one mapping: its address, subscriber and session ids ("" for
 * none; valid during the call) and expiry (0: never). Non-zero stops the walk. */
typedef int (*submap_each_fn)(void *ctx, const struct sub_addr *a, const char *sub,
                              const char *session, uint64_t expires_ms);

/* Calls fn with every mapping held (expired ones not yet removed included), in slot order,
 * under the map's lock: fn must not call back into m (collect, then change). Readers are not
 * held up. Returns fn's first non-zero value, or 0. */
int submap_each(struct submap *m, submap_each_fn fn, void *ctx);

/* Entries held (expired ones not yet removed included). */
size_t submap_count(const struct submap *m);

#endif
