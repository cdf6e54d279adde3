/* imgfile.h - a file of numbered sections with a checksum: the container of compiled images that
 * are read back whole (the tariff image, docs/formats.md "Tariff image"). Each module writes
 * its own arrays as sections and reads them back with the checks of its own contents; the
 * container checks the framing: the magic and format, every section inside the file, no id
 * twice, and the XXH64 of everything after the header.
 *
 * Layout (little-endian): a 64-byte header {magic[8], format u32, nsect u32, payload_len u64,
 * xxh64 u64 of the payload seeded with format << 32 | nsect, 32 zero bytes}, then the payload: nsect table rows {id u32, zero
 * u32, offset u64 (from the payload's start), length u64}, then the sections, each at an
 * offset that is a multiple of 8. */
#ifndef QG_IMGFILE_H
#define QG_IMGFILE_H

#include <stddef.h>
#include <stdint.h>

#define IMGFILE_MAGIC_LEN 8
#define IMGFILE_HEADER    64
#define IMGFILE_MAX_SECT  256

/* A container being written: sections are copied in as they are added. */
struct imgfile_w;

struct imgfile_w *imgfile_w_new(void);
void imgfile_w_free(struct imgfile_w *w);

/* Adds section id (unique in the file) holding a copy of p[0, len). 0, -EEXIST (id taken),
 * -E2BIG (more than IMGFILE_MAX_SECT sections) or -ENOMEM; after an error imgfile_w_write()
 * refuses too. */
int imgfile_w_add(struct imgfile_w *w, uint32_t id, const void *p, size_t len);

/* Adds section id holding the n 64-bit values of v (the scalars of a module: counts, sizes). */
int imgfile_w_add_u64(struct imgfile_w *w, uint32_t id, const uint64_t *v, size_t n);

/* Writes the container to path atomically (a temporary file beside it, fsync, rename): 0, or
 * a negative errno with a message naming path and the step in err. */
int imgfile_w_write(struct imgfile_w *w, const char *path, const char magic[IMGFILE_MAGIC_LEN],
                    uint32_t format, char *err, size_t errlen);

/* Writes into the header of the container buf[0, len) (header and payload, len at least
 * IMGFILE_HEADER) the checksum of its payload as it now is, with the format and the count of
 * sections its header holds: the last step of imgfile_w_write(), and how tests and fuzz targets
 * make forged images whose framing passes. */
void imgfile_seal(uint8_t *buf, size_t len);

/* A container read whole: buf (len bytes) is borrowed and must outlive the reader. */
struct imgfile_r {
    const uint8_t *buf;
    size_t len;
    uint32_t nsect;
    const uint8_t *table; /* nsect rows of 24 bytes */
    const uint8_t *payload;
    uint64_t payload_len;
};

/* Checks buf as a container of that magic and format (see the layout above) and fills r.
 * 0, or -EINVAL with the reason in err (not that kind of file, another format, truncated, the
 * checksum does not match, a section outside the file, an id twice). */
int imgfile_r_open(struct imgfile_r *r, const uint8_t *buf, size_t len,
                   const char magic[IMGFILE_MAGIC_LEN], uint32_t format, char *err, size_t errlen);

/* Section id: its bytes and length, or NULL when the file has none (*len 0). The bytes are
 * aligned to 8 only if buf was. */
const uint8_t *imgfile_r_get(const struct imgfile_r *r, uint32_t id, size_t *len);

/* Section id as n 64-bit values into v: 0, or -EINVAL when it is missing or not n values. */
int imgfile_r_u64(const struct imgfile_r *r, uint32_t id, uint64_t *v, size_t n);

#endif
