/* imgfile.c - a file of numbered sections with a checksum (imgfile.h). */
#include "common/imgfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/fileio.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "imgfile's layout is little-endian"
#endif

#define ROW 24 /* a table row: id u32, zero u32, offset u64, length u64 */

struct wsect {
    uint32_t id;
    uint8_t *p;
    size_t len;
};

struct imgfile_w {
    struct wsect s[IMGFILE_MAX_SECT];
    size_t n;
    int err; /* the first error of an add: the write refuses */
};

struct imgfile_w *imgfile_w_new(void)
{
    return calloc(1, sizeof(struct imgfile_w));
}

void imgfile_w_free(struct imgfile_w *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->s[i].p);
    free(w);
}

int imgfile_w_add(struct imgfile_w *w, uint32_t id, const void *p, size_t len)
{
    int rc = 0;
    for (size_t i = 0; i < w->n && !rc; i++)
        if (w->s[i].id == id)
            rc = -EEXIST;
    if (!rc && w->n == IMGFILE_MAX_SECT)
        rc = -E2BIG;
    uint8_t *c = NULL;
    if (!rc && !(c = malloc(len ? len : 1)))
        rc = -ENOMEM;
    if (rc) {
        if (!w->err)
            w->err = rc;
        return rc;
    }
    if (len)
        memcpy(c, p, len);
    w->s[w->n++] = (struct wsect){ id, c, len };
    return 0;
}

int imgfile_w_add_u64(struct imgfile_w *w, uint32_t id, const uint64_t *v, size_t n)
{
    return imgfile_w_add(w, id, v, n * sizeof(*v));
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

int imgfile_w_write(struct imgfile_w *w, const char *path, const char magic[IMGFILE_MAGIC_LEN],
                    uint32_t format, char *err, size_t errlen)
{
    if (w->err) {
        snprintf(err, errlen, "%s: %s", path, strerror(-w->err));
        return w->err;
    }
    /* the whole file in one buffer: header, table, sections */
    size_t off = align8(w->n * ROW);
    for (size_t i = 0; i < w->n; i++)
        off = align8(off + w->s[i].len);
    size_t total = IMGFILE_HEADER + off;
    uint8_t *b = calloc(1, total);
    if (!b) {
        snprintf(err, errlen, "%s: out of memory (%zu bytes)", path, total);
        return -ENOMEM;
    }
    uint8_t *pl = b + IMGFILE_HEADER;
    size_t at = align8(w->n * ROW);
    for (size_t i = 0; i < w->n; i++) {
        uint8_t *row = pl + i * ROW;
        put32(row, w->s[i].id);
        put64(row + 8, at);
        put64(row + 16, w->s[i].len);
        if (w->s[i].len)
            memcpy(pl + at, w->s[i].p, w->s[i].len);
        at = align8(at + w->s[i].len);
    }
    memcpy(b, magic, IMGFILE_MAGIC_LEN);
    put32(b + 8, format);
    put32(b + 12, (uint32_t)w->n);
    put64(b + 16, off);
    imgfile_seal(b, total);

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        free(b);
        snprintf(err, errlen, "%.200s...: path too long", path);
        return -ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(b);
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -e;
    }
    int rc = fileio_write_all(fd, b, total);
    free(b);
    const char *what = "write";
    if (rc == 0)
        rc = fileio_commit(fd, tmp, path, &what);
    else
        close(fd);
    if (rc) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s: %s", path, what, strerror(-rc));
    }
    return rc;
}

void imgfile_seal(uint8_t *buf, size_t len)
{
    uint64_t seed = (uint64_t)get32(buf + 8) << 32 | get32(buf + 12);
    put64(buf + 24, XXH64(buf + IMGFILE_HEADER, len - IMGFILE_HEADER, seed));
}

int imgfile_r_open(struct imgfile_r *r, const uint8_t *buf, size_t len,
                   const char magic[IMGFILE_MAGIC_LEN], uint32_t format, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (len < IMGFILE_HEADER || memcmp(buf, magic, IMGFILE_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "not a %.*s file (%zu bytes; it starts otherwise)", IMGFILE_MAGIC_LEN,
                 magic, len);
        return -EINVAL;
    }
    uint32_t fmt = get32(buf + 8), nsect = get32(buf + 12);
    uint64_t plen = get64(buf + 16), sum = get64(buf + 24);
    if (fmt != format) {
        snprintf(err, errlen, "format %u, this build reads %u (compile it again)", fmt, format);
        return -EINVAL;
    }
    if (plen != len - IMGFILE_HEADER) {
        snprintf(err, errlen,
                 "truncated or extended: the header says %llu bytes after it, the "
                 "file has %zu",
                 (unsigned long long)plen, len - IMGFILE_HEADER);
        return -EINVAL;
    }
    const uint8_t *pl = buf + IMGFILE_HEADER;
    if (XXH64(pl, (size_t)plen, (uint64_t)fmt << 32 | nsect) != sum) {
        snprintf(err, errlen, "checksum mismatch: the file is damaged");
        return -EINVAL;
    }
    if (nsect > IMGFILE_MAX_SECT || (uint64_t)nsect * ROW > plen) {
        snprintf(err, errlen, "section table of %u rows does not fit", nsect);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < nsect; i++) {
        const uint8_t *row = pl + (size_t)i * ROW;
        uint64_t off = get64(row + 8), n = get64(row + 16);
        if (get32(row + 4) != 0 || off < (uint64_t)nsect * ROW || off > plen || n > plen - off) {
            snprintf(err, errlen, "section %u (id %u) lies outside the file", i, get32(row));
            return -EINVAL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (get32(pl + (size_t)j * ROW) == get32(row)) {
                snprintf(err, errlen, "section id %u twice", get32(row));
                return -EINVAL;
            }
    }
    r->buf = buf;
    r->len = len;
    r->nsect = nsect;
    r->table = pl;
    r->payload = pl;
    r->payload_len = plen;
    return 0;
}

const uint8_t *imgfile_r_get(const struct imgfile_r *r, uint32_t id, size_t *len)
{
    for (uint32_t i = 0; i < r->nsect; i++) {
        const uint8_t *row = r->table + (size_t)i * ROW;
        if (get32(row) == id) {
            *len = (size_t)get64(row + 16);
            return r->payload + get64(row + 8);
        }
    }
    *len = 0;
    return NULL;
}

int imgfile_r_u64(const struct imgfile_r *r, uint32_t id, uint64_t *v, size_t n)
{
    size_t len;
    const uint8_t *p = imgfile_r_get(r, id, &len);
    if (!p || len != n * sizeof(*v))
        return -EINVAL;
    memcpy(v, p, len);
    return 0;
}
