/* failstatic.c - the fail-static rule file (see failstatic.h). */
#include "proxy/daemon/failstatic.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/compiler.h"
#include "common/fileio.h"

#define FAILSTATIC_MAX_BYTES (UINT64_C(4) << 30)

/* SHA-256 (lower-case hex) of head[0..hlen) followed by body[0..blen): the header fields before
 * the checksum are covered too, so a changed version or count is caught. */
static int sum2(const void *head, size_t hlen, const void *body, size_t blen, char out[65])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, head, hlen) &&
             EVP_DigestUpdate(c, body, blen) && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(c);
    if (!ok)
        return -EIO;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Splits the header line into its space-separated fields. Returns the field count (at most
 * max; more fields give max + 1). */
static size_t fields(const char *s, size_t len, const char **f, size_t *fl, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        if (n == max)
            return max + 1;
        f[n] = s + i;
        fl[n] = j - i;
        n++;
        i = j + 1;
        if (j < len && i == len) /* trailing space: an empty last field */
            return max + 1;
    }
    return n;
}

int failstatic_parse(const char *name, const uint8_t *buf, size_t len, uint64_t *version,
                     struct order_list *out, char *err, size_t errlen)
{
    const char *s = (const char *)buf;
    const char *nl = len ? memchr(s, '\n', len) : NULL;
    if (!nl) {
        snprintf(err, errlen, "failstatic: %s: no header line (empty or truncated file)", name);
        return -EINVAL;
    }
    size_t hlen = (size_t)(nl - s);
    const char *f[6];
    size_t fl[6];
    size_t nf = fields(s, hlen, f, fl, 5);
    uint64_t fmt = 0, ver = 0, count = 0;
    if (nf != 5 || fl[0] != strlen(FAILSTATIC_MAGIC) ||
        memcmp(f[0], FAILSTATIC_MAGIC, fl[0]) != 0) {
        snprintf(err, errlen, "failstatic: %s:1: not a fail-static file (bad header)", name);
        return -EINVAL;
    }
    if (!parse_u64(f[1], fl[1], &fmt) || fmt != FAILSTATIC_FORMAT) {
        snprintf(err, errlen, "failstatic: %s:1: format version '%.*s' is not %d", name,
                 (int)(fl[1] < 20 ? fl[1] : 20), f[1], FAILSTATIC_FORMAT);
        return -EINVAL;
    }
    if (!parse_u64(f[2], fl[2], &ver) || !parse_u64(f[3], fl[3], &count) || fl[4] != 64) {
        snprintf(err, errlen, "failstatic: %s:1: bad version, count or checksum field", name);
        return -EINVAL;
    }
    const uint8_t *body = buf + hlen + 1;
    size_t blen = len - hlen - 1;
    char sum[65];
    if (sum2(s, (size_t)(f[4] - s), body, blen, sum) < 0) {
        snprintf(err, errlen, "failstatic: %s: SHA-256 failed", name);
        return -EIO;
    }
    if (memcmp(sum, f[4], 64) != 0) {
        snprintf(err, errlen,
                 "failstatic: %s: checksum mismatch (header %.64s, content %s): the file is "
                 "corrupted",
                 name, f[4], sum);
        return -EINVAL;
    }
    size_t first = out->n;
    size_t i = 0, line = 2;
    uint64_t got = 0;
    while (i < blen) {
        const uint8_t *e = memchr(body + i, '\n', blen - i);
        if (!e) {
            snprintf(err, errlen, "failstatic: %s:%zu: last record has no line end", name, line);
            goto bad;
        }
        size_t rl = (size_t)(e - (body + i));
        char rerr[ORDER_ERR_MAX];
        struct order *o = order_from_json((const char *)body + i, rl, rerr, sizeof(rerr));
        if (!o) {
            snprintf(err, errlen, "failstatic: %s:%zu: %s", name, line, rerr);
            goto bad;
        }
        if (order_list_push(out, o) < 0) {
            snprintf(err, errlen, "failstatic: %s: out of memory", name);
            order_list_truncate(out, first);
            return -ENOMEM;
        }
        got++;
        i += rl + 1;
        line++;
    }
    if (got != count) {
        snprintf(err, errlen, "failstatic: %s: %" PRIu64 " records, the header says %" PRIu64, name,
                 got, count);
        goto bad;
    }
    *version = ver;
    return 0;
bad:
    order_list_truncate(out, first);
    return -EINVAL;
}

int failstatic_save(const char *dir, uint64_t version, const struct order *const *orders, size_t n,
                    char *err, size_t errlen)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_NAME);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    char *body = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&body, &blen);
    if (!m) {
        snprintf(err, errlen, "failstatic: %s: out of memory", path);
        return -ENOMEM;
    }
    bool oom = false;
    for (size_t i = 0; i < n && !oom; i++) {
        char *j = order_to_json(orders[i]);
        if (!j || strchr(j, '\n')) {
            oom = true;
            free(j);
            break;
        }
        fputs(j, m);
        fputc('\n', m);
        free(j);
    }
    if (fclose(m) != 0 || oom) {
        free(body);
        snprintf(err, errlen, "failstatic: %s: out of memory", path);
        return -ENOMEM;
    }
    char head[160], sum[65];
    int pl = snprintf(head, sizeof(head), "%s %d %" PRIu64 " %zu ", FAILSTATIC_MAGIC,
                      FAILSTATIC_FORMAT, version, n);
    if (sum2(head, (size_t)pl, body, blen, sum) < 0) {
        free(body);
        snprintf(err, errlen, "failstatic: %s: SHA-256 failed", path);
        return -EIO;
    }
    int hl = pl + snprintf(head + pl, sizeof(head) - (size_t)pl, "%s\n", sum);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "failstatic: %s: cannot create: %s", tmp, strerror(errno));
        free(body);
        return rc;
    }
    rc = fileio_write_all(fd, head, (size_t)hl);
    if (!rc)
        rc = fileio_write_all(fd, body, blen);
    free(body);
    const char *what = "write";
    if (rc) {
        close(fd);
        unlink(tmp);
    } else {
        rc = fileio_commit(fd, tmp, path, &what); /* fsync, rename, fsync of the directory */
    }
    if (rc) {
        snprintf(err, errlen, "failstatic: %s: cannot write (%s): %s", path, what, strerror(-rc));
        return rc;
    }
    return 0;
}

int failstatic_load(const char *dir, uint64_t *version, struct order_list *out, char *err,
                    size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "failstatic: %s: cannot open: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > FAILSTATIC_MAX_BYTES) {
        snprintf(err, errlen, "failstatic: %s: not a regular file of at most 4 GiB", path);
        close(fd);
        return -EINVAL;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "failstatic: %s: out of memory", path);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            snprintf(err, errlen, "failstatic: %s: cannot read: %s", path, strerror(e));
            free(buf);
            close(fd);
            return -e;
        }
        got += (size_t)r;
    }
    close(fd);
    int rc = failstatic_parse(path, buf, len, version, out, err, errlen);
    free(buf);
    return rc;
}
