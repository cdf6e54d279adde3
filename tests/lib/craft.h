/* craft.h - test helper: hand-built IPv4 / IPv6 / TCP headers and Internet checksums.
 *
 * Independent of the code under test: the checksums are computed here byte by byte (RFC 1071),
 * so a test that checks a decoder's checksum verdict does not compare the decoder with itself.
 * All writers take a caller-provided buffer large enough for what they write; nothing allocates. */
#ifndef QG_CRAFT_H
#define QG_CRAFT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the low 16 (put16) or 32 (put32) bits of v big-endian at p. */
void craft_put16(uint8_t *p, uint32_t v);
void craft_put32(uint8_t *p, uint32_t v);

/* Adds the n bytes at b to the running one's-complement sum acc as big-endian 16-bit words
 * (an odd last byte is the high half of a word) and returns the new sum, carries unfolded. */
uint32_t craft_sum(uint32_t acc, const uint8_t *b, size_t n);

/* Folds the carries of acc and returns its complement: the value of a checksum field. */
uint16_t craft_fold(uint32_t acc);

/* Returns the sum of the IPv4 (ipver 4, 4-byte addresses) or IPv6 (16-byte addresses) pseudo
 * header for an upper-layer segment of len bytes of protocol proto, to pass to craft_sum(). */
uint32_t craft_pseudo(int ipver, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len);

/* The fields of a 20-byte TCP header without options. */
struct craft_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
};

/* Writes a TCP segment at out: the header from t, then n payload bytes copied from pl (with pl
 * NULL the payload is already at out + 20), and a correct checksum for src -> dst over IPv4 or
 * IPv6 (ipver). Returns the segment length, 20 + n. */
size_t craft_tcp(uint8_t *out, const struct craft_tcp *t, int ipver, const uint8_t *src,
                 const uint8_t *dst, const void *pl, size_t n);

/* Writes an IPv4 packet at out: a 20-byte header (TTL 64, identification id, flags+fragment
 * offset field frag as on the wire, protocol proto, src -> dst, correct header checksum) followed
 * by n bytes copied from pl (with pl NULL the payload is already at out + 20). Returns 20 + n. */
size_t craft_ip4(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint16_t id, uint16_t frag,
                 uint8_t proto, const void *pl, size_t n);

/* Writes the 40-byte IPv6 header at out: hop limit 64, next header nh, payload length plen
 * (what follows the header), src -> dst (16 bytes each). Returns 40. */
size_t craft_ip6(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint8_t nh, size_t plen);

/* Writes an 8-byte IPv6 extension header (hop-by-hop, destination options or routing layout)
 * at out: next header nh, length 0, one PadN option of 4 bytes. Returns 8. */
size_t craft_ext8(uint8_t *out, uint8_t nh);

/* Writes an 8-byte IPv6 fragment header at out: next header nh, fragment offset off (in bytes,
 * a multiple of 8), M flag more, identification id. Returns 8. */
size_t craft_frag6(uint8_t *out, uint8_t nh, size_t off, int more, uint32_t id);

#endif
