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

#include <nettle/sha2.h>

#include "common/compiler.h"
#include "common/fileio.h"

#define FAILSTATIC_MAX_BYTES (UINT64_C(4) << 30)

/* SHA-256 (lower-case hex) of head[0..hlen) followed by body[0..blen): the header fields before
 * the checksum are covered too, so a changed version or count is caught. */
static void sum2(const void *head, size_t hlen, const void *body, size_t blen, char out[65])
{
    struct sha256_ctx c;
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, hlen, head);
    sha256_update(&c, blen, body);
    sha256_digest(&c, sizeof(md), md);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
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
    sum2(s, (size_t)(f[4] - s), body, blen, sum);
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

/* A memory stream for a file's body (path for the message); NULL with err set when out of
 * memory. */
static FILE *body_stream(char **body, size_t *blen, const char *path, char *err, size_t errlen)
{
    FILE *m = open_memstream(body, blen);
    if (!m)
        snprintf(err, errlen, "failstatic: %s: out of memory", path);
    return m;
}

int failstatic_save(const char *dir, uint64_t version, const struct order *const *orders, size_t n,
                    char *err, size_t errlen)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_NAME);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    char *body = NULL;
    size_t blen = 0;
    FILE *m = body_stream(&body, &blen, path, err, errlen);
    if (!m)
        return -ENOMEM;
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
    sum2(head, (size_t)pl, body, blen, sum);
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

/* Reads path whole into *buf (malloc'ed, *len bytes). Returns 0 or a negative errno (-ENOENT:
 * there is none) with "failstatic: PATH: reason" in err. */
static int read_whole(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
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
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        close(fd);
        snprintf(err, errlen, "failstatic: %s: out of memory", path);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            snprintf(err, errlen, "failstatic: %s: cannot read: %s", path, strerror(e));
            free(b);
            close(fd);
            return -e;
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

int failstatic_load(const char *dir, uint64_t *version, struct order_list *out, char *err,
                    size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_NAME);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_whole(path, &buf, &len, err, errlen);
    if (rc < 0)
        return rc;
    rc = failstatic_parse(path, buf, len, version, out, err, errlen);
    free(buf);
    return rc;
}

/* ---- the journal ---- */

void failstatic_journal_free(struct failstatic_journal *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->v[i].id);
        order_free(j->v[i].o);
    }
    free(j->v);
    memset(j, 0, sizeof(*j));
}

static void journal_truncate(struct failstatic_journal *j, size_t n)
{
    while (j->n > n) {
        j->n--;
        free(j->v[j->n].id);
        order_free(j->v[j->n].o);
    }
    if (j->n == 0) { /* back to empty: as it was before a failed first parse, nothing held */
        free(j->v);
        j->v = NULL;
        j->cap = 0;
    }
}

/* Parses one complete line (without its line end) into *c. Returns 0 or -EINVAL/-ENOMEM with
 * the reason in err. */
static int journal_line(const char *s, size_t len, struct failstatic_change *c, char *err,
                        size_t errlen)
{
    const char *f[3];
    size_t fl[3];
    /* VERSION SP OP SP SUM SP PAYLOAD: the first three fields, then the rest */
    size_t i = 0;
    for (int k = 0; k < 3; k++) {
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        if (j == len) {
            snprintf(err, errlen, "not a journal entry (fewer than four fields)");
            return -EINVAL;
        }
        f[k] = s + i;
        fl[k] = j - i;
        i = j + 1;
    }
    if (!parse_u64(f[0], fl[0], &c->version) || fl[1] != 1 || (f[1][0] != '+' && f[1][0] != '-') ||
        fl[2] != 64) {
        snprintf(err, errlen, "not a journal entry (bad version, operation or checksum field)");
        return -EINVAL;
    }
    const char *pay = s + i;
    size_t plen = len - i;
    char sum[65];
    sum2(s, (size_t)(f[2] - s), pay, plen, sum);
    if (memcmp(sum, f[2], 64) != 0) {
        snprintf(err, errlen,
                 "checksum mismatch (entry %.64s, content %s): the journal is corrupted", f[2],
                 sum);
        return -EINVAL;
    }
    c->o = NULL;
    if (f[1][0] == '+') {
        char rerr[ORDER_ERR_MAX];
        c->o = order_from_json(pay, plen, rerr, sizeof(rerr));
        if (!c->o) {
            snprintf(err, errlen, "%s", rerr);
            return -EINVAL;
        }
        c->id = strdup(c->o->id);
    } else {
        if (plen == 0 || memchr(pay, '\0', plen)) {
            snprintf(err, errlen, "a tombstone without an order id");
            return -EINVAL;
        }
        c->id = strndup(pay, plen);
    }
    if (!c->id) {
        order_free(c->o);
        c->o = NULL;
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

int failstatic_journal_parse(const char *name, const uint8_t *buf, size_t len, uint64_t after,
                             uint64_t *last, struct failstatic_journal *out, char *err,
                             size_t errlen)
{
    size_t first = out->n, i = 0, line = 1;
    uint64_t hi = *last;
    while (i < len) {
        const uint8_t *e = memchr(buf + i, '\n', len - i);
        if (!e) {
            out->torn = true;
            out->torn_line = line;
            snprintf(out->torn_name, sizeof(out->torn_name), "%s", name);
            break;
        }
        size_t ll = (size_t)(e - (buf + i));
        struct failstatic_change c;
        memset(&c, 0, sizeof(c));
        char why[512];
        int rc = journal_line((const char *)buf + i, ll, &c, why, sizeof(why));
        if (rc == 0 && c.version < hi) {
            snprintf(why, sizeof(why),
                     "version %" PRIu64 " after version %" PRIu64 " (versions never go back)",
                     c.version, hi);
            rc = -EINVAL;
        }
        if (rc == 0 && c.version > after) {
            if (out->n == out->cap) {
                size_t nc = out->cap ? out->cap * 2 : 16;
                struct failstatic_change *t = realloc(out->v, nc * sizeof(*t));
                if (!t) {
                    rc = -ENOMEM;
                    snprintf(why, sizeof(why), "out of memory");
                } else {
                    out->v = t;
                    out->cap = nc;
                }
            }
            if (rc == 0) {
                out->v[out->n++] = c;
                c.id = NULL;
                c.o = NULL;
            }
        }
        free(c.id);
        order_free(c.o);
        if (rc < 0) {
            snprintf(err, errlen, "failstatic: %s:%zu: %s", name, line, why);
            journal_truncate(out, first);
            return rc;
        }
        if (c.version > hi)
            hi = c.version;
        i += ll + 1;
        line++;
    }
    *last = hi;
    return 0;
}

/* Opens path for appending (created when missing) and cuts a torn last line off. Returns the
 * descriptor with *size its length, or a negative errno with err set. */
static int journal_open(const char *path, uint64_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "failstatic: %s: cannot open: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    off_t end = st.st_size;
    char tail[4096];
    while (end > 0) {
        off_t from = end > (off_t)sizeof(tail) ? end - (off_t)sizeof(tail) : 0;
        ssize_t r = pread(fd, tail, (size_t)(end - from), from);
        if (r != (ssize_t)(end - from)) {
            snprintf(err, errlen, "failstatic: %s: cannot read its end", path);
            close(fd);
            return -EIO;
        }
        const char *nl = memrchr(tail, '\n', (size_t)r);
        if (nl) {
            end = from + (off_t)(nl - tail) + 1;
            break;
        }
        end = from;
    }
    if (end != st.st_size && (ftruncate(fd, end) != 0 || fsync(fd) != 0)) {
        int e = errno;
        snprintf(err, errlen, "failstatic: %s: cannot cut its torn last line: %s", path,
                 strerror(e));
        close(fd);
        return -e;
    }
    *size = (uint64_t)end;
    return fd;
}

/* One entry line into m. */
static int put_entry(FILE *m, uint64_t version, char op, const char *payload, size_t plen)
{
    char head[64], sum[65];
    int hl = snprintf(head, sizeof(head), "%" PRIu64 " %c ", version, op);
    if (memchr(payload, '\n', plen))
        return -EINVAL;
    sum2(head, (size_t)hl, payload, plen, sum);
    if (fprintf(m, "%s%s ", head, sum) < 0 || fwrite(payload, 1, plen, m) != plen ||
        fputc('\n', m) == EOF)
        return -ENOMEM;
    return 0;
}

int failstatic_journal_append(const char *dir, uint64_t version, const char *const *add,
                              const size_t *addlen, size_t nadd, const char *const *revoke,
                              size_t nrevoke, uint64_t *bytes, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_JOURNAL_NAME);
    char *body = NULL;
    size_t blen = 0;
    FILE *m = body_stream(&body, &blen, path, err, errlen);
    if (!m)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < nrevoke && rc == 0; i++)
        rc = put_entry(m, version, '-', revoke[i], strlen(revoke[i]));
    for (size_t i = 0; i < nadd && rc == 0; i++)
        rc = put_entry(m, version, '+', add[i], addlen[i]);
    if (fclose(m) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(body);
        snprintf(err, errlen, "failstatic: %s: cannot build the entries: %s", path, strerror(-rc));
        return rc;
    }
    uint64_t size = 0;
    struct stat st;
    bool created = stat(path, &st) != 0;
    int fd = journal_open(path, &size, err, errlen);
    if (fd < 0) {
        free(body);
        return fd;
    }
    const char *what = "write";
    rc = fileio_write_all(fd, body, blen);
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
        what = "fsync";
    }
    if (rc < 0 && ftruncate(fd, (off_t)size) == 0) /* nothing half-written stays */
        (void)fsync(fd);
    close(fd);
    free(body);
    if (rc == 0 && created)
        (void)fileio_sync_dir(path);
    if (rc < 0) {
        snprintf(err, errlen, "failstatic: %s: cannot append (%s): %s", path, what, strerror(-rc));
        return rc;
    }
    if (bytes)
        *bytes = size + blen;
    return 0;
}

int failstatic_journal_rotate(const char *dir, char *err, size_t errlen)
{
    char path[1024], old[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, FAILSTATIC_JOURNAL_NAME);
    snprintf(old, sizeof(old), "%s/%s", dir, FAILSTATIC_JOURNAL_OLD);
    if (access(path, F_OK) != 0)
        return 0;
    uint64_t size = 0;
    int fd = journal_open(path, &size, err, errlen);
    if (fd < 0)
        return fd;
    close(fd);
    if (access(old, F_OK) != 0) {
        if (rename(path, old) != 0) {
            int e = errno;
            snprintf(err, errlen, "failstatic: %s: cannot rename to %s: %s", path, old,
                     strerror(e));
            return -e;
        }
        (void)fileio_sync_dir(path);
        return 0;
    }
    /* a checkpoint failed before: this journal goes after that one */
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_whole(path, &buf, &len, err, errlen);
    if (rc < 0)
        return rc;
    uint64_t osize = 0;
    fd = journal_open(old, &osize, err, errlen);
    if (fd < 0) {
        free(buf);
        return fd;
    }
    rc = fileio_write_all(fd, buf, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    free(buf);
    if (rc == 0 && unlink(path) != 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "failstatic: %s: cannot append it to %s: %s", path, old,
                 strerror(-rc));
        return rc;
    }
    (void)fileio_sync_dir(path);
    return 0;
}

int failstatic_journal_drop_old(const char *dir, char *err, size_t errlen)
{
    char old[1100];
    snprintf(old, sizeof(old), "%s/%s", dir, FAILSTATIC_JOURNAL_OLD);
    if (unlink(old) != 0 && errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "failstatic: %s: cannot remove: %s", old, strerror(e));
        return -e;
    }
    (void)fileio_sync_dir(old);
    return 0;
}

int failstatic_journal_load(const char *dir, uint64_t after, uint64_t *version,
                            struct failstatic_journal *out, uint64_t *bytes, char *err,
                            size_t errlen)
{
    static const char *const names[] = { FAILSTATIC_JOURNAL_OLD, FAILSTATIC_JOURNAL_NAME };
    uint64_t last = 0, total = 0;
    size_t first = out->n;
    for (size_t k = 0; k < 2; k++) {
        char path[1100];
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = read_whole(path, &buf, &len, err, errlen);
        if (rc == -ENOENT)
            continue;
        if (rc == 0) {
            /* a torn line ends the file it is in, not the journal: a crash cut that write */
            rc = failstatic_journal_parse(path, buf, len, after, &last, out, err, errlen);
            total += len;
        }
        free(buf);
        if (rc < 0) {
            journal_truncate(out, first);
            return rc;
        }
    }
    *version = last > after ? last : after;
    if (bytes)
        *bytes = total;
    return 0;
}
