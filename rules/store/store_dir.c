/* store_dir.c - the directory store (layout in store_dir.h, docs/store.md).
 *
 * Change-log line, as store_dir_line_parse() reads it:
 *
 *     12 import 1 1767225600000 RKN-1,RKN-2 533797b6
 *     │  │      │ │             │           └ CRC-32 of everything before " 533797b6"
 *     │  │      │ │             └ ids (store_id_valid), ',' between them
 *     │  │      │ └ time, ms since the epoch
 *     │  │      └ urgent 0|1
 *     │  └ import | revoke | restore
 *     └ version (decimal, no leading zero)
 *
 * Publishing (under the exclusive lock): order files written to temp names, synced, renamed;
 * then the version file (the commit point); then the log line, appended and synced. A crash
 * before the version file leaves orders that are newer than the version (the next change or a
 * snapshot shows them); a crash after it leaves a log without that version, which a follower
 * sees as a gap (-ESTALE: load the snapshot). */
#include "rules/store/store_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"

#define FOLLOW_BATCH  256 /* changes delivered by one store_follow() call at most */
#define NODE_FILE_MAX (96 + 2 * STORE_NODE_ABOUT_MAX) /* bytes of a nodes/<id> file */

struct dstore {
    struct store base;
    char *path;
    int dirfd, lockfd, inofd;
    /* Follow cache: the log file (inode) read up to off, whose last line there had version ver. */
    ino_t log_ino;
    off_t log_off;
    uint64_t log_ver;
    /* Root writing into a directory owned by another user (the service user's state_dir):
     * what it creates is given to that owner, so the node, running as that user, can read
     * and write it. */
    bool give;
    uid_t uid;
    gid_t gid;
};

static void give(const struct dstore *d, int fd)
{
    if (d->give && fchown(fd, d->uid, d->gid) != 0) {
        /* the owner stays root: the service user will be refused, and says so */
    }
}

static void give_at(const struct dstore *d, int dfd, const char *name)
{
    if (d->give && fchownat(dfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) != 0) {
        /* as above */
    }
}

/* At open: what an earlier root process left in the store (its sub-directories and their
 * files) goes to the owner too. */
static void give_tree(const struct dstore *d)
{
    static const char *const top[] = { "orders",  "nodes",       "enforced", "evidence",
                                       "hits",    "docs",        "subs",     "lock",
                                       "version", "changes.log", "tariff",   "subs.log" };
    if (!d->give)
        return;
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
        give_at(d, d->dirfd, top[i]);
    for (size_t i = 0; i < 7; i++) { /* the sub-directories: top[0..6] */
        int fd = openat(d->dirfd, top[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            continue;
        DIR *dir = fdopendir(fd);
        if (!dir) {
            close(fd);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(dir)) != NULL)
            if (de->d_name[0] != '.')
                give_at(d, fd, de->d_name);
        closedir(dir);
    }
}

uint32_t store_dir_crc32(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static int line_fail(char *err, size_t errlen, size_t pos, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "store: changes.log: %s at offset %zu", why, pos);
    return -EINVAL;
}

/* Reads a decimal field ending at a space; no leading zeros (but "0"), no overflow. */
static int field_u64(const char *s, size_t len, size_t *pos, uint64_t *v)
{
    size_t i = *pos;
    uint64_t x = 0;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return -1;
    if (s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9')
        return -1;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (i >= len || s[i] != ' ')
        return -1;
    *v = x;
    *pos = i + 1;
    return 0;
}

/* One space-terminated word at *pos into out (at most outlen - 1 bytes; "-" means ""). */
static int field_word(const char *s, size_t len, size_t *pos, char *out, size_t outlen)
{
    size_t i = *pos;
    while (i < len && s[i] != ' ')
        i++;
    size_t w = i - *pos;
    if (w == 0 || w >= outlen || i >= len)
        return -1;
    memcpy(out, s + *pos, w);
    out[w] = '\0';
    if (strcmp(out, "-") == 0)
        out[0] = '\0';
    *pos = i + 1;
    return 0;
}

int store_dir_line_parse(const char *line, size_t len, struct store_dir_line *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > STORE_DIR_LINE_MAX * 8192)
        return line_fail(err, errlen, 0, "line too long");
    if (len < 10 || line[len - 9] != ' ')
        return line_fail(err, errlen, len, "no checksum");
    uint32_t want = 0;
    for (size_t i = len - 8; i < len; i++) {
        char ch = line[i];
        int d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
        if (d < 0)
            return line_fail(err, errlen, i, "bad checksum digit");
        want = want << 4 | (uint32_t)d;
    }
    size_t body = len - 9;
    if (store_dir_crc32(0, line, body) != want)
        return line_fail(err, errlen, body, "checksum mismatch");
    size_t pos = 0;
    if (field_u64(line, body, &pos, &out->version) || out->version == 0)
        return line_fail(err, errlen, pos, "bad version");
    size_t k0 = pos;
    while (pos < body && line[pos] != ' ')
        pos++;
    out->kind = store_change_kind_parse(line + k0, pos - k0);
    if (!out->kind || pos >= body)
        return line_fail(err, errlen, k0, "bad change kind");
    pos++;
    if (pos + 1 >= body || (line[pos] != '0' && line[pos] != '1') || line[pos + 1] != ' ')
        return line_fail(err, errlen, pos, "bad urgent flag");
    out->urgent = line[pos] == '1';
    pos += 2;
    if (field_u64(line, body, &pos, &out->time_ms))
        return line_fail(err, errlen, pos, "bad time");
    out->ids = line + pos;
    out->ids_len = body - pos;
    size_t a = pos;
    for (size_t i = pos; i <= body; i++) {
        if (i == body || line[i] == ',') {
            if (!store_id_valid(line + a, i - a))
                return line_fail(err, errlen, a, "bad order id");
            out->n_ids++;
            a = i + 1;
        }
    }
    return 0;
}

size_t store_dir_line_format(char *out, size_t cap, uint64_t version, enum store_change_kind kind,
                             bool urgent, uint64_t time_ms, const char *ids, size_t ids_len)
{
    const char *kn = store_change_kind_name(kind);
    if (!kn || ids_len > (size_t)INT32_MAX)
        return 0;
    int n = snprintf(out, cap, "%llu %s %d %llu %.*s", (unsigned long long)version, kn,
                     urgent ? 1 : 0, (unsigned long long)time_ms, (int)ids_len, ids);
    if (n < 0 || (size_t)n + 10 >= cap)
        return 0;
    uint32_t crc = store_dir_crc32(0, out, (size_t)n);
    int m = snprintf(out + n, cap - (size_t)n, " %08x\n", crc);
    if (m != 10)
        return 0;
    return (size_t)n + 10;
}

/* ---- files ---------------------------------------------------------------------------------- */

static int fail_errno(struct dstore *d, char *err, size_t errlen, const char *what, int e)
{
    snprintf(err, errlen, "store: %s: %s: %s", d->base.where, what, strerror(e));
    return -e;
}

/* Writes name (relative to the store) atomically: temp file, optional fsync, rename. */
static int write_atomic(struct dstore *d, const char *name, const char *head, size_t hlen,
                        const char *body, size_t blen, bool sync, char *err, size_t errlen)
{
    char tmp[2 * STORE_ID_MAX + 64];
    const char *slash = strrchr(name, '/');
    if (slash)
        snprintf(tmp, sizeof(tmp), "%.*s/.tmp.%s.%d", (int)(slash - name), name, slash + 1,
                 (int)getpid());
    else
        snprintf(tmp, sizeof(tmp), ".tmp.%s.%d", name, (int)getpid());
    int fd = openat(d->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return fail_errno(d, err, errlen, tmp, errno);
    give(d, fd);
    int rc = fileio_write_all(fd, head, hlen);
    if (!rc && blen)
        rc = fileio_write_all(fd, body, blen);
    if (!rc && sync && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && renameat(d->dirfd, tmp, d->dirfd, name) != 0)
        rc = -errno;
    if (rc) {
        unlinkat(d->dirfd, tmp, 0);
        return fail_errno(d, err, errlen, name, -rc);
    }
    return 0;
}

/* Reads a whole file (relative to the store) into a NUL-terminated heap buffer. -ENOENT when it
 * does not exist; -E2BIG over max bytes. */
static int read_file(struct dstore *d, const char *name, size_t max, char **out, size_t *len)
{
    int fd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return -E2BIG;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *b = malloc(n + 1);
    if (!b) {
        close(fd);
        return -ENOMEM;
    }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    b[got] = '\0';
    *out = b;
    *len = got;
    return 0;
}

/* Appends len bytes to name (relative to the store), creating it; fdatasync when sync. */
static int append_line(struct dstore *d, const char *name, const char *buf, size_t len, bool sync,
                       char *err, size_t errlen)
{
    int fd = openat(d->dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return fail_errno(d, err, errlen, name, errno);
    give(d, fd);
    int rc = fileio_write_all(fd, buf, len);
    if (!rc && sync && fdatasync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    return rc ? fail_errno(d, err, errlen, name, -rc) : 0;
}

/* Calls fn for each complete line of file name (relative to the store), the line without its
 * '\n' NUL-terminated in place. -ENOENT (with a message) when the file does not exist. */
static int each_line(struct dstore *d, const char *name, size_t max,
                     int (*fn)(void *ctx, char *line, size_t len), void *ctx, char *err,
                     size_t errlen)
{
    char *b;
    size_t n;
    int rc = read_file(d, name, max, &b, &n);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "store: %s: %s: none", d->base.where, name);
        return rc;
    }
    if (rc)
        return fail_errno(d, err, errlen, name, -rc);
    size_t a = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (b[i] != '\n')
            continue;
        b[i] = '\0';
        rc = fn(ctx, b + a, i - a);
        if (rc == -EBADMSG)
            snprintf(err, errlen, "store: %s: %s: malformed line at offset %zu", d->base.where,
                     name, a);
        a = i + 1;
    }
    free(b);
    return rc;
}

static int read_version(struct dstore *d, uint64_t *v, char *err, size_t errlen)
{
    char *b;
    size_t n;
    int rc = read_file(d, "version", 64, &b, &n);
    if (rc == -ENOENT) {
        *v = 0;
        return 0;
    }
    if (rc)
        return fail_errno(d, err, errlen, "version", -rc);
    size_t pos = 0;
    if (n == 0 || b[n - 1] != '\n')
        rc = -EINVAL;
    else
        b[n - 1] = ' ';
    if (!rc && (field_u64(b, n, &pos, v) || pos != n))
        rc = -EINVAL;
    free(b);
    if (rc)
        snprintf(err, errlen, "store: %s: version: not a version number", d->base.where);
    return rc;
}

/* An order file's name, "orders/<id>". */
static void order_name(char *out, size_t cap, const char *id)
{
    snprintf(out, cap, "orders/%.128s", id); /* ids are at most STORE_ID_MAX */
}

/* Parses an order file's header line, buf[0..hl) with hl the offset of its '\n' (hl < 160):
 * state, version, updated time and the record's length. */
static int parse_head(const char *buf, size_t hl, struct store_order *o, uint64_t *len)
{
    static const char magic[] = "qorgau-order 1 ";
    char h[161];
    size_t ml = sizeof(magic) - 1, pos;
    if (hl >= sizeof(h) || hl < ml || memcmp(buf, magic, ml) != 0)
        return -EINVAL;
    memcpy(h, buf, hl);
    h[hl] = ' '; /* field_u64 wants each number followed by a space */
    pos = ml;
    if (hl - pos > 7 && memcmp(h + pos, "active ", 7) == 0) {
        o->state = STORE_ACTIVE;
        pos += 7;
    } else if (hl - pos > 8 && memcmp(h + pos, "revoked ", 8) == 0) {
        o->state = STORE_REVOKED;
        pos += 8;
    } else {
        return -EINVAL;
    }
    if (field_u64(h, hl + 1, &pos, &o->version) || field_u64(h, hl + 1, &pos, &o->updated_ms) ||
        field_u64(h, hl + 1, &pos, len) || pos != hl + 1)
        return -EINVAL;
    return 0;
}

/* Parses an order file of n bytes; o->record points into buf. */
static int parse_order(const char *buf, size_t n, const char *id, struct store_order *o)
{
    const char *nl = memchr(buf, '\n', n < 160 ? n : 160);
    uint64_t len;
    if (!nl || parse_head(buf, (size_t)(nl - buf), o, &len) != 0)
        return -EINVAL;
    size_t hl = (size_t)(nl - buf) + 1;
    if (len != n - hl)
        return -EINVAL;
    o->id = id;
    o->record = buf + hl;
    o->record_len = (size_t)len;
    return 0;
}

/* Loads order id; *buf is to be freed. -ENOENT when absent. */
static int load_order(struct dstore *d, const char *id, struct store_order *o, char **buf,
                      char *err, size_t errlen)
{
    char name[STORE_ID_MAX + 16];
    size_t n;
    order_name(name, sizeof(name), id);
    int rc = read_file(d, name, d->base.max_record + 160, buf, &n);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "store: %s: order %s: no such order", d->base.where, id);
        return rc;
    }
    if (rc)
        return fail_errno(d, err, errlen, name, -rc);
    if (parse_order(*buf, n, id, o) != 0) {
        free(*buf);
        *buf = NULL;
        snprintf(err, errlen, "store: %s: %s: malformed order file", d->base.where, name);
        return -EBADMSG;
    }
    return 0;
}

static int lock(struct dstore *d, int how, char *err, size_t errlen)
{
    while (flock(d->lockfd, how) != 0) {
        if (errno != EINTR)
            return fail_errno(d, err, errlen, "lock", errno);
    }
    return 0;
}

static void unlock(struct dstore *d)
{
    flock(d->lockfd, LOCK_UN);
}

/* ---- operations ----------------------------------------------------------------------------- */

static int dir_trim_locked(struct dstore *d, uint64_t keep, char *err, size_t errlen);

static int64_t dir_publish(struct store *s, const struct store_change *c, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int rc = lock(d, LOCK_EX, err, errlen);
    if (rc)
        return rc;
    uint64_t v;
    char *ids = NULL, *line = NULL, *old = NULL;
    rc = read_version(d, &v, err, errlen);
    if (rc)
        goto out;
    v++;
    uint64_t now = c->time_ms ? c->time_ms : store_now_ms();
    size_t ids_len = 0;
    for (size_t i = 0; i < c->n_orders; i++)
        ids_len += strlen(c->orders[i].id) + 1;
    ids = malloc(ids_len + 1);
    line = malloc(ids_len + 128);
    if (!ids || !line) {
        rc = fail_errno(d, err, errlen, "publish", ENOMEM);
        goto out;
    }
    size_t p = 0;
    for (size_t i = 0; i < c->n_orders; i++) {
        size_t l = strlen(c->orders[i].id);
        if (i)
            ids[p++] = ',';
        memcpy(ids + p, c->orders[i].id, l);
        p += l;
    }
    ids[p] = '\0';
    /* Revoke and restore touch only orders that exist: check all before writing any. */
    if (c->kind != STORE_CHANGE_IMPORT)
        for (size_t i = 0; i < c->n_orders; i++) {
            char name[STORE_ID_MAX + 16];
            struct stat st;
            order_name(name, sizeof(name), c->orders[i].id);
            if (fstatat(d->dirfd, name, &st, 0) != 0) {
                snprintf(err, errlen, "store: %s: %s %s: no such order", d->base.where,
                         store_change_kind_name(c->kind), c->orders[i].id);
                rc = -ENOENT;
                goto out;
            }
        }
    const char *state = c->kind == STORE_CHANGE_REVOKE ? "revoked" : "active";
    const char *state_kind = store_change_kind_name(c->kind);
    for (size_t i = 0; i < c->n_orders; i++) {
        const struct store_order *o = &c->orders[i];
        const char *rec = o->record;
        size_t rlen = o->record_len;
        struct store_order cur;
        if (!rec) { /* revoke/restore without a new record: keep the stored one */
            rc = load_order(d, o->id, &cur, &old, err, errlen);
            if (rc)
                goto out;
            rec = cur.record;
            rlen = cur.record_len;
        }
        char head[160], name[STORE_ID_MAX + 16];
        int hl = snprintf(head, sizeof(head), "qorgau-order 1 %s %llu %llu %zu\n", state,
                          (unsigned long long)v, (unsigned long long)now, rlen);
        order_name(name, sizeof(name), o->id);
        rc = write_atomic(d, name, head, (size_t)hl, rec, rlen, false, err, errlen);
        free(old);
        old = NULL;
        if (rc)
            goto out;
    }
    /* The evidence record of each order: one line appended, covered by the syncfs below. */
    for (size_t i = 0; i < c->n_orders; i++) {
        char name[STORE_ID_MAX + 16], ev[96];
        snprintf(name, sizeof(name), "evidence/%.128s", c->orders[i].id);
        int el = snprintf(ev, sizeof(ev), "%s %llu %llu\n", state_kind, (unsigned long long)v,
                          (unsigned long long)now);
        rc = append_line(d, name, ev, (size_t)el, false, err, errlen);
        if (rc)
            goto out;
    }
    /* One syncfs for every order file instead of one fsync each. */
    if (syncfs(d->dirfd) != 0) {
        rc = fail_errno(d, err, errlen, "syncfs", errno);
        goto out;
    }
    char vb[32];
    int vl = snprintf(vb, sizeof(vb), "%llu\n", (unsigned long long)v);
    rc = write_atomic(d, "version", vb, (size_t)vl, NULL, 0, true, err, errlen);
    if (rc)
        goto out;
    size_t ll = store_dir_line_format(line, ids_len + 128, v, c->kind, c->urgent, now, ids, p);
    int fd = openat(d->dirfd, "changes.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = fail_errno(d, err, errlen, "changes.log", errno);
        goto out;
    }
    give(d, fd);
    rc = fileio_write_all(fd, line, ll);
    if (!rc && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc) {
        rc = fail_errno(d, err, errlen, "changes.log", -rc);
        goto out;
    }
    fsync(d->dirfd);
    if (v % 1024 == 0) /* keep the log near log_keep lines; a failure here loses nothing */
        dir_trim_locked(d, d->base.log_keep, err, errlen);
    rc = 0;
out:
    unlock(d);
    free(ids);
    free(line);
    free(old);
    return rc ? rc : (int64_t)v;
}

static int dir_version(struct store *s, uint64_t *version, char *err, size_t errlen)
{
    return read_version((struct dstore *)s, version, err, errlen);
}

static int dir_snapshot(struct store *s, uint64_t *version, store_order_fn cb, void *ctx, char *err,
                        size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int rc = lock(d, LOCK_SH, err, errlen);
    if (rc)
        return rc;
    DIR *dir = NULL;
    rc = read_version(d, version, err, errlen);
    if (rc)
        goto out;
    int fd = openat(d->dirfd, "orders", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        rc = fail_errno(d, err, errlen, "orders", errno);
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || !store_id_valid(e->d_name, strlen(e->d_name)))
            continue;
        struct store_order o;
        char *buf = NULL;
        rc = load_order(d, e->d_name, &o, &buf, err, errlen);
        if (rc == -ENOENT)
            continue;
        if (rc)
            goto out;
        rc = cb(ctx, &o);
        free(buf);
        if (rc)
            goto out;
    }
out:
    if (dir)
        closedir(dir);
    unlock(d);
    return rc;
}

static int dir_get(struct store *s, const char *id, store_order_fn cb, void *ctx, char *err,
                   size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    struct store_order o;
    char *buf = NULL;
    int rc = load_order(d, id, &o, &buf, err, errlen);
    if (rc)
        return rc;
    rc = cb(ctx, &o);
    free(buf);
    return rc;
}

static int dir_list(struct store *s, store_order_fn cb, void *ctx, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int fd = openat(d->dirfd, "orders", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail_errno(d, err, errlen, "orders", e);
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || !store_id_valid(e->d_name, strlen(e->d_name)))
            continue;
        char name[STORE_ID_MAX + 16], head[161];
        order_name(name, sizeof(name), e->d_name);
        int ofd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (ofd < 0)
            continue;
        struct stat st;
        ssize_t n = fstat(ofd, &st) == 0 ? pread(ofd, head, sizeof(head) - 1, 0) : -1;
        close(ofd);
        if (n <= 0)
            continue;
        head[n] = '\0';
        char *nl = memchr(head, '\n', (size_t)n);
        struct store_order o;
        uint64_t len;
        if (!nl || parse_head(head, (size_t)(nl - head), &o, &len) != 0 ||
            len != (uint64_t)st.st_size - (uint64_t)(nl - head) - 1) {
            snprintf(err, errlen, "store: %s: %s: malformed order file", d->base.where, name);
            rc = -EBADMSG;
            break;
        }
        o.record_len = (size_t)len;
        o.id = e->d_name;
        o.record = NULL;
        rc = cb(ctx, &o);
    }
    closedir(dir);
    return rc;
}

/* Waits until the version file is replaced or timeout_ms passes. */
static void wait_change(struct dstore *d, uint64_t from, uint32_t timeout_ms, char *err,
                        size_t errlen)
{
    if (d->inofd < 0) {
        d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (d->inofd >= 0 &&
            inotify_add_watch(d->inofd, d->path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
            close(d->inofd);
            d->inofd = -1;
        }
    }
    uint64_t end = store_now_ms() + timeout_ms;
    for (;;) {
        uint64_t v;
        if (read_version(d, &v, err, errlen) != 0 || v != from)
            return;
        uint64_t now = store_now_ms();
        if (now >= end)
            return;
        uint64_t left = end - now;
        if (d->inofd < 0) { /* no inotify: poll the version file */
            usleep((useconds_t)(left < 20 ? left : 20) * 1000u);
            continue;
        }
        struct pollfd pfd = { .fd = d->inofd, .events = POLLIN };
        if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) > 0) {
            char buf[4096];
            while (read(d->inofd, buf, sizeof(buf)) > 0)
                ;
        }
    }
}

struct pending {
    struct store_dir_line l;
    char *text; /* the line's copy */
};

static int deliver(struct dstore *d, const struct pending *p, store_change_fn cb, void *ctx,
                   char *err, size_t errlen)
{
    struct store_order *os = calloc(p->l.n_ids, sizeof(*os));
    char **bufs = calloc(p->l.n_ids, sizeof(*bufs));
    char *ids = malloc(p->l.ids_len + 1);
    int rc = 0;
    if (!os || !bufs || !ids) {
        rc = fail_errno(d, err, errlen, "follow", ENOMEM);
        goto out;
    }
    memcpy(ids, p->l.ids, p->l.ids_len);
    ids[p->l.ids_len] = '\0';
    char *id = ids;
    for (size_t i = 0; i < p->l.n_ids; i++) {
        char *comma = strchr(id, ',');
        if (comma)
            *comma = '\0';
        rc = load_order(d, id, &os[i], &bufs[i], err, errlen);
        if (rc == -ENOENT) { /* gone (edited by hand): deliver the id without a record */
            os[i] = (struct store_order){ .id = id, .state = STORE_REVOKED };
            rc = 0;
        }
        if (rc)
            goto out;
        id = comma ? comma + 1 : id;
    }
    struct store_change c = { .version = p->l.version,
                              .kind = p->l.kind,
                              .urgent = p->l.urgent,
                              .time_ms = p->l.time_ms,
                              .orders = os,
                              .n_orders = p->l.n_ids };
    rc = cb(ctx, &c);
out:
    if (bufs)
        for (size_t i = 0; i < p->l.n_ids; i++)
            free(bufs[i]);
    free(bufs);
    free(os);
    free(ids);
    return rc;
}

static int dir_follow(struct store *s, uint64_t from, uint32_t timeout_ms, store_change_fn cb,
                      void *ctx, uint64_t *last, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    uint64_t cur;
    int rc = read_version(d, &cur, err, errlen);
    if (rc)
        return rc;
    if (from > cur) {
        snprintf(err, errlen, "store: %s: version %llu is ahead of the store (%llu): reset",
                 d->base.where, (unsigned long long)from, (unsigned long long)cur);
        return -ESTALE;
    }
    if (from == cur) {
        if (!timeout_ms)
            return 0;
        wait_change(d, from, timeout_ms, err, errlen);
        if ((rc = read_version(d, &cur, err, errlen)) != 0)
            return rc;
        if (cur == from)
            return 0;
        if (from > cur)
            return -ESTALE;
    }
    /* Read the log lines after from (at most FOLLOW_BATCH), under the shared lock so no line
     * is half written. */
    if ((rc = lock(d, LOCK_SH, err, errlen)) != 0)
        return rc;
    struct pending *pend = calloc(FOLLOW_BATCH, sizeof(*pend));
    size_t np = 0;
    FILE *f = NULL;
    char *lb = NULL;
    size_t lcap = 0;
    int fd = openat(d->dirfd, "changes.log", O_RDONLY | O_CLOEXEC);
    if (!pend || fd < 0 || !(f = fdopen(fd, "r"))) {
        int e = pend ? errno : ENOMEM;
        if (fd >= 0 && !f)
            close(fd);
        unlock(d);
        free(pend);
        if (e == ENOENT) {
            snprintf(err, errlen, "store: %s: changes.log missing: load the snapshot",
                     d->base.where);
            return -ESTALE;
        }
        return fail_errno(d, err, errlen, "changes.log", e);
    }
    struct stat st;
    off_t start = 0;
    uint64_t prev = 0; /* version of the line before start */
    if (fstat(fd, &st) == 0 && st.st_ino == d->log_ino && st.st_size >= d->log_off &&
        d->log_ver <= from) {
        start = d->log_off;
        prev = d->log_ver;
    }
    if (start)
        fseeko(f, start, SEEK_SET);
    off_t off = start;
    ssize_t n;
    uint64_t expect = from + 1;
    while (np < FOLLOW_BATCH && (n = getline(&lb, &lcap, f)) > 0) {
        if (lb[n - 1] != '\n')
            break; /* a torn last line (a crash mid-append): not a change */
        struct store_dir_line l;
        char lerr[160];
        if (store_dir_line_parse(lb, (size_t)n - 1, &l, lerr, sizeof(lerr)) != 0) {
            if (prev < from) { /* before what we need: skip it */
                off += n;
                continue;
            }
            snprintf(err, errlen, "store: %s: %s (after version %llu): load the snapshot",
                     d->base.where, lerr + 7, (unsigned long long)prev);
            rc = -ESTALE;
            goto done;
        }
        off += n;
        prev = l.version;
        d->log_ino = st.st_ino;
        d->log_off = off;
        d->log_ver = l.version;
        if (l.version <= from)
            continue;
        if (l.version > cur)
            break; /* appended after we read the version: next call */
        if (l.version != expect) {
            snprintf(err, errlen,
                     "store: %s: change log jumps from version %llu to %llu: load the snapshot",
                     d->base.where, (unsigned long long)from, (unsigned long long)l.version);
            rc = -ESTALE;
            goto done;
        }
        expect++;
        pend[np].text = malloc((size_t)n);
        if (!pend[np].text) {
            rc = fail_errno(d, err, errlen, "follow", ENOMEM);
            goto done;
        }
        memcpy(pend[np].text, lb, (size_t)n);
        store_dir_line_parse(pend[np].text, (size_t)n - 1, &pend[np].l, NULL, 0);
        np++;
    }
    if (np == 0 && cur > from) {
        snprintf(err, errlen,
                 "store: %s: change log has nothing after version %llu: load the "
                 "snapshot",
                 d->base.where, (unsigned long long)from);
        rc = -ESTALE;
        goto done;
    }
done:
    fclose(f);
    free(lb);
    unlock(d);
    for (size_t i = 0; i < np; i++) {
        if (rc == 0) {
            rc = deliver(d, &pend[i], cb, ctx, err, errlen);
            if (rc == 0)
                *last = pend[i].l.version;
        }
        free(pend[i].text);
    }
    free(pend);
    return rc ? rc : (int)np;
}

static int dir_node_ack(struct store *s, const char *node, uint64_t version, uint64_t since_ms,
                        uint32_t ttl_ms, const char *software, const char *mode, char *err,
                        size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char name[STORE_ID_MAX + 16], b[NODE_FILE_MAX], ename[STORE_ID_MAX + 16];
    snprintf(name, sizeof(name), "nodes/%.128s", node);
    snprintf(ename, sizeof(ename), "enforced/%.128s", node);
    /* The enforcement log gets a line when (version, since) differ from the last ack's. */
    uint64_t ov = 0, os = 0;
    char *ob;
    size_t on, pos = 0;
    bool same = false;
    struct stat st;
    if (read_file(d, name, NODE_FILE_MAX, &ob, &on) == 0) {
        same = field_u64(ob, on, &pos, &ov) == 0 && field_u64(ob, on, &pos, &os) == 0 &&
               ov == version && os == since_ms;
        free(ob);
    }
    if (!same || fstatat(d->dirfd, ename, &st, 0) != 0) {
        int el = snprintf(b, sizeof(b), "%llu %llu\n", (unsigned long long)version,
                          (unsigned long long)since_ms);
        int rc = append_line(d, ename, b, (size_t)el, true, err, errlen);
        if (rc)
            return rc;
    }
    /* "" is written "-" (store_node_ack_about() refuses "-" itself) */
    int n = snprintf(b, sizeof(b), "%llu %llu %llu %u %s %s\n", (unsigned long long)version,
                     (unsigned long long)since_ms, (unsigned long long)store_now_ms(), ttl_ms,
                     software[0] ? software : "-", mode[0] ? mode : "-");
    return write_atomic(d, name, b, (size_t)n, NULL, 0, false, err, errlen);
}

static int dir_nodes(struct store *s, store_node_fn cb, void *ctx, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int fd = openat(d->dirfd, "nodes", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail_errno(d, err, errlen, "nodes", e);
    }
    int rc = 0;
    struct dirent *e;
    uint64_t now = store_now_ms();
    while (!rc && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || !store_id_valid(e->d_name, strlen(e->d_name)))
            continue;
        char name[STORE_ID_MAX + 16], *b;
        size_t n, pos = 0;
        snprintf(name, sizeof(name), "nodes/%.128s", e->d_name);
        if (read_file(d, name, NODE_FILE_MAX, &b, &n) != 0)
            continue;
        struct store_node nd = { .id = e->d_name, .software = "", .mode = "" };
        uint64_t ttl = 0;
        char sw[STORE_NODE_ABOUT_MAX] = "", md[STORE_NODE_ABOUT_MAX] = ""; /* old file: "" */
        if (n && b[n - 1] == '\n')
            b[n - 1] = ' ';
        if (field_u64(b, n, &pos, &nd.version) || field_u64(b, n, &pos, &nd.since_ms) ||
            field_u64(b, n, &pos, &nd.heartbeat_ms) || field_u64(b, n, &pos, &ttl) ||
            (pos != n && (field_word(b, n, &pos, sw, sizeof(sw)) ||
                          field_word(b, n, &pos, md, sizeof(md)) || pos != n))) {
            snprintf(err, errlen, "store: %s: %s: malformed node file", d->base.where, name);
            rc = -EBADMSG;
        } else {
            nd.alive = now <= nd.heartbeat_ms + ttl;
            nd.software = sw;
            nd.mode = md;
            rc = cb(ctx, &nd);
        }
        free(b);
    }
    closedir(dir);
    return rc;
}

static int dir_trim_locked(struct dstore *d, uint64_t keep, char *err, size_t errlen)
{
    char *b;
    size_t n;
    int rc = read_file(d, "changes.log", (size_t)1 << 34, &b, &n);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return fail_errno(d, err, errlen, "changes.log", -rc);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += b[i] == '\n';
    size_t skip = lines > keep ? lines - (size_t)keep : 0, at = 0;
    for (; skip && at < n; at++)
        if (b[at] == '\n')
            skip--;
    rc = skip == 0 && at > 0
             ? write_atomic(d, "changes.log", b + at, n - at, NULL, 0, true, err, errlen)
             : 0;
    free(b);
    return rc;
}

static int dir_trim(struct store *s, uint64_t keep, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int rc = lock(d, LOCK_EX, err, errlen);
    if (rc)
        return rc;
    rc = dir_trim_locked(d, keep, err, errlen);
    unlock(d);
    return rc;
}

/* ---- evidence ------------------------------------------------------------------------------- */

struct line_cb {
    store_enforced_fn enf;
    store_event_fn ev;
    store_hit_fn hit;
    const char *order;
    void *ctx;
};

static int enforced_line(void *ctx, char *line, size_t len)
{
    struct line_cb *lc = ctx;
    struct store_enforced e;
    size_t pos = 0;
    line[len] = ' ';
    if (field_u64(line, len + 1, &pos, &e.version) || field_u64(line, len + 1, &pos, &e.since_ms) ||
        pos != len + 1)
        return -EBADMSG;
    return lc->enf(lc->ctx, &e);
}

static int dir_enforced(struct store *s, const char *node, store_enforced_fn cb, void *ctx,
                        char *err, size_t errlen)
{
    char name[STORE_ID_MAX + 16];
    snprintf(name, sizeof(name), "enforced/%.128s", node);
    struct line_cb lc = { .enf = cb, .ctx = ctx };
    return each_line((struct dstore *)s, name, (size_t)1 << 30, enforced_line, &lc, err, errlen);
}

static int event_line(void *ctx, char *line, size_t len)
{
    struct line_cb *lc = ctx;
    struct store_event e;
    char *sp = memchr(line, ' ', len);
    if (!sp)
        return -EBADMSG;
    size_t pos = (size_t)(sp - line) + 1;
    e.kind = store_change_kind_parse(line, (size_t)(sp - line));
    line[len] = ' ';
    if (!e.kind || field_u64(line, len + 1, &pos, &e.version) ||
        field_u64(line, len + 1, &pos, &e.time_ms) || pos != len + 1)
        return -EBADMSG;
    return lc->ev(lc->ctx, &e);
}

static int dir_events(struct store *s, const char *id, store_event_fn cb, void *ctx, char *err,
                      size_t errlen)
{
    char name[STORE_ID_MAX + 16];
    snprintf(name, sizeof(name), "evidence/%.128s", id);
    struct line_cb lc = { .ev = cb, .ctx = ctx };
    return each_line((struct dstore *)s, name, (size_t)1 << 30, event_line, &lc, err, errlen);
}

/* A hits file line: "<count> <first_ms> <last_ms> <entry>", parsed in place. */
static int hit_parse(char *line, size_t len, struct store_hit *h)
{
    size_t pos = 0;
    if (field_u64(line, len, &pos, &h->count) || field_u64(line, len, &pos, &h->first_ms) ||
        field_u64(line, len, &pos, &h->last_ms) || pos >= len)
        return -EBADMSG;
    h->entry = line + pos;
    return 0;
}

static int hit_line(void *ctx, char *line, size_t len)
{
    struct line_cb *lc = ctx;
    struct store_hit h = { .order = lc->order };
    if (hit_parse(line, len, &h))
        return -EBADMSG;
    return lc->hit(lc->ctx, &h);
}

static int dir_hits(struct store *s, const char *order, store_hit_fn cb, void *ctx, char *err,
                    size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char name[STORE_ID_MAX + 16];
    snprintf(name, sizeof(name), "hits/%.128s", order);
    struct line_cb lc = { .hit = cb, .ctx = ctx, .order = order };
    int rc = lock(d, LOCK_SH, err, errlen);
    if (rc)
        return rc;
    rc = each_line(d, name, (size_t)1 << 32, hit_line, &lc, err, errlen);
    unlock(d);
    return rc == -ENOENT ? 0 : rc;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct store_hit *x = *(const struct store_hit *const *)a,
                           *y = *(const struct store_hit *const *)b;
    int c = strcmp(x->order, y->order);
    return c ? c : strcmp(x->entry, y->entry);
}

/* A growable output buffer. */
struct obuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void ob_hit(struct obuf *o, const struct store_hit *h)
{
    size_t el = strlen(h->entry);
    if (o->n + el + 72 > o->cap) {
        size_t nc = (o->cap ? o->cap * 2 : 4096) + el + 72;
        char *np = realloc(o->p, nc);
        if (!np) {
            o->oom = true;
            return;
        }
        o->p = np;
        o->cap = nc;
    }
    o->n += (size_t)snprintf(o->p + o->n, o->cap - o->n, "%llu %llu %llu %s\n",
                             (unsigned long long)h->count, (unsigned long long)h->first_ms,
                             (unsigned long long)h->last_ms, h->entry);
}

static void hit_merge(struct store_hit *into, const struct store_hit *h)
{
    into->count += h->count;
    if (!into->first_ms || (h->first_ms && h->first_ms < into->first_ms))
        into->first_ms = h->first_ms;
    if (h->last_ms > into->last_ms)
        into->last_ms = h->last_ms;
}

/* Rewrites hits/<order> with the batch run b[0..n) (sorted by entry) merged in. The file is
 * kept sorted by entry, so the merge is one pass. */
static int hits_rewrite(struct dstore *d, const struct store_hit *const *b, size_t n, char *err,
                        size_t errlen)
{
    char name[STORE_ID_MAX + 16];
    snprintf(name, sizeof(name), "hits/%.128s", b[0]->order);
    char *f = NULL;
    size_t fl = 0, fa = 0, i = 0;
    int rc = read_file(d, name, (size_t)1 << 32, &f, &fl);
    if (rc == -ENOENT) {
        f = NULL;
        fl = 0;
    } else if (rc) {
        return fail_errno(d, err, errlen, name, -rc);
    }
    struct obuf o = { 0 };
    struct store_hit cur = { 0 }, acc;
    bool have = false; /* cur holds the next file row */
    for (;;) {
        if (!have && fa < fl) {
            char *nl = memchr(f + fa, '\n', fl - fa);
            if (!nl)
                break; /* a torn tail (cannot happen with atomic rewrites): dropped */
            *nl = '\0';
            if (hit_parse(f + fa, (size_t)(nl - f) - fa, &cur) != 0) {
                snprintf(err, errlen, "store: %s: %s: malformed line at offset %zu", d->base.where,
                         name, fa);
                rc = -EBADMSG;
                goto out;
            }
            fa = (size_t)(nl - f) + 1;
            have = true;
        }
        if (!have && i >= n)
            break;
        int c = !have ? 1 : i >= n ? -1 : strcmp(cur.entry, b[i]->entry);
        if (c < 0) {
            ob_hit(&o, &cur);
            have = false;
            continue;
        }
        acc = c == 0 ? cur : (struct store_hit){ .entry = b[i]->entry };
        if (c == 0)
            have = false;
        for (const char *e = b[i]->entry; i < n && strcmp(b[i]->entry, e) == 0; i++)
            hit_merge(&acc, b[i]);
        ob_hit(&o, &acc);
    }
    if (o.oom) {
        rc = fail_errno(d, err, errlen, name, ENOMEM);
        goto out;
    }
    rc = write_atomic(d, name, o.p ? o.p : "", o.n, NULL, 0, false, err, errlen);
out:
    free(o.p);
    free(f);
    return rc;
}

static int dir_hits_add(struct store *s, const struct store_hit *h, size_t n, char *err,
                        size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    const struct store_hit **v = malloc(n * sizeof(*v));
    size_t m = 0;
    if (!v)
        return fail_errno(d, err, errlen, "hits", ENOMEM);
    for (size_t i = 0; i < n; i++)
        if (h[i].count)
            v[m++] = &h[i];
    qsort(v, m, sizeof(*v), cmp_hit);
    int rc = m ? lock(d, LOCK_EX, err, errlen) : 0;
    if (rc || !m) {
        free(v);
        return rc;
    }
    for (size_t a = 0, b; a < m && !rc; a = b) {
        for (b = a + 1; b < m && strcmp(v[b]->order, v[a]->order) == 0; b++)
            ;
        rc = hits_rewrite(d, v + a, b - a, err, errlen);
    }
    if (!rc && syncfs(d->dirfd) != 0)
        rc = fail_errno(d, err, errlen, "syncfs", errno);
    unlock(d);
    free(v);
    return rc;
}

static int dir_doc_put(struct store *s, const char *kind, const char *id, const char *bytes,
                       size_t len, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char name[2 * STORE_ID_MAX + 16];
    snprintf(name, sizeof(name), "docs/%.128s", kind);
    if (mkdirat(d->dirfd, name, 0750) != 0 && errno != EEXIST)
        return fail_errno(d, err, errlen, name, errno);
    give_at(d, d->dirfd, name);
    snprintf(name, sizeof(name), "docs/%.128s/%.128s", kind, id);
    return write_atomic(d, name, bytes, len, NULL, 0, true, err, errlen);
}

/* Every document written to a temp name, one syncfs() for all, then the renames and one fsync
 * of the kind's folder: a crash leaves each document old or new, never torn. Temps are named by
 * position, so a repeated id is renamed over by its later document. */
static int dir_doc_put_many(struct store *s, const char *kind, const struct store_doc *docs,
                            size_t n, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char dir[STORE_ID_MAX + 16], tmp[2 * STORE_ID_MAX + 64], name[2 * STORE_ID_MAX + 32];
    snprintf(dir, sizeof(dir), "docs/%.128s", kind);
    if (mkdirat(d->dirfd, dir, 0750) != 0 && errno != EEXIST)
        return fail_errno(d, err, errlen, dir, errno);
    give_at(d, d->dirfd, dir);
    size_t made = 0, done = 0;
    int rc = 0;
    for (; made < n && !rc; made++) {
        snprintf(tmp, sizeof(tmp), "%s/.tmp.%zu.%d", dir, made, (int)getpid());
        int fd = openat(d->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0) {
            rc = fail_errno(d, err, errlen, tmp, errno);
            break;
        }
        give(d, fd);
        int wrc = fileio_write_all(fd, docs[made].bytes, docs[made].len);
        if (close(fd) != 0 && !wrc)
            wrc = -errno;
        if (wrc)
            rc = fail_errno(d, err, errlen, tmp, -wrc);
    }
    if (!rc && syncfs(d->dirfd) != 0)
        rc = fail_errno(d, err, errlen, "syncfs", errno);
    for (; !rc && done < n; done++) {
        snprintf(tmp, sizeof(tmp), "%s/.tmp.%zu.%d", dir, done, (int)getpid());
        snprintf(name, sizeof(name), "%s/%.128s", dir, docs[done].id);
        if (renameat(d->dirfd, tmp, d->dirfd, name) != 0) {
            rc = fail_errno(d, err, errlen, name, errno);
            break;
        }
    }
    for (size_t i = done; i < made; i++) { /* what an error left behind */
        snprintf(tmp, sizeof(tmp), "%s/.tmp.%zu.%d", dir, i, (int)getpid());
        unlinkat(d->dirfd, tmp, 0);
    }
    if (!rc) {
        int dfd = openat(d->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = fail_errno(d, err, errlen, dir, errno);
        if (dfd >= 0)
            close(dfd);
    }
    return rc;
}

static int dir_doc_get(struct store *s, const char *kind, const char *id, store_doc_fn cb,
                       void *ctx, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char name[2 * STORE_ID_MAX + 16], *b;
    size_t n;
    snprintf(name, sizeof(name), "docs/%.128s/%.128s", kind, id);
    int rc = read_file(d, name, STORE_DOC_MAX, &b, &n);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "store: %s: document %s/%s: none", d->base.where, kind, id);
        return rc;
    }
    if (rc)
        return fail_errno(d, err, errlen, name, -rc);
    rc = cb(ctx, b, n);
    free(b);
    return rc;
}

static void dir_free(struct store *s)
{
    struct dstore *d = (struct dstore *)s;
    if (d->dirfd >= 0)
        close(d->dirfd);
    if (d->lockfd >= 0)
        close(d->lockfd);
    if (d->inofd >= 0)
        close(d->inofd);
    free(d->path);
    free(d);
}

/* subscriber map: at the end of the file */
static int dir_sub_apply(struct store *s, const struct store_sub *e, size_t n, char *err,
                         size_t errlen);
static int dir_sub_get(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                       size_t errlen);
static int dir_sub_list(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen);
static int dir_tariff_apply(struct store *s, const struct store_tariff *t, char *err,
                            size_t errlen);
static int dir_tariff_list(struct store *s, store_tariff_fn cb, void *ctx, char *err,
                           size_t errlen);
static int dir_tariff_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                             store_tariff_fn cb, void *ctx, char *err, size_t errlen);
static int dir_sub_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                          store_sub_fn cb, void *ctx, char *err, size_t errlen);

static const struct store_ops dir_ops = {
    .name = "dir",
    .publish = dir_publish,
    .version = dir_version,
    .snapshot = dir_snapshot,
    .follow = dir_follow,
    .get = dir_get,
    .list = dir_list,
    .node_ack = dir_node_ack,
    .nodes = dir_nodes,
    .trim = dir_trim,
    .enforced = dir_enforced,
    .events = dir_events,
    .hits_add = dir_hits_add,
    .hits = dir_hits,
    .doc_put = dir_doc_put,
    .doc_put_many = dir_doc_put_many,
    .doc_get = dir_doc_get,
    .free = dir_free,

    /* subscriber map */
    .sub_apply = dir_sub_apply,
    .sub_get = dir_sub_get,
    .sub_list = dir_sub_list,
    .sub_follow = dir_sub_follow,
    .tariff_apply = dir_tariff_apply,
    .tariff_list = dir_tariff_list,
    .tariff_follow = dir_tariff_follow,
};

static int mkdir_p(const char *path)
{
    char buf[STORE_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char ch = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST)
                return -errno;
            buf[i] = ch;
        }
    }
    return 0;
}

struct store *store_dir_open(const char *path, const struct store_opts *o, char *err, size_t errlen)
{
    (void)o;
    struct dstore *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "store: dir %s: out of memory", path);
        return NULL;
    }
    d->base.ops = &dir_ops;
    d->dirfd = d->lockfd = d->inofd = -1;
    snprintf(d->base.where, sizeof(d->base.where), "dir %s", path);
    d->path = strdup(path);
    int rc = d->path ? mkdir_p(path) : -ENOMEM;
    if (rc) {
        snprintf(err, errlen, "store: dir %s: cannot create: %s", path, strerror(-rc));
        goto fail;
    }
    d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) {
        snprintf(err, errlen, "store: dir %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat rst;
    if (fstat(d->dirfd, &rst) == 0 && geteuid() == 0 && rst.st_uid != 0) {
        d->give = true;
        d->uid = rst.st_uid;
        d->gid = rst.st_gid;
    }
    static const char *const subs[] = { "orders", "nodes", "enforced", "evidence",
                                        "hits",   "docs",  "subs" };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (mkdirat(d->dirfd, subs[i], 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "store: dir %s: cannot create %s/: %s", path, subs[i],
                     strerror(errno));
            goto fail;
        }
    d->lockfd = openat(d->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (d->lockfd < 0) {
        snprintf(err, errlen, "store: dir %s: lock: %s", path, strerror(errno));
        goto fail;
    }
    give_tree(d);
    return &d->base;
fail:
    dir_free(&d->base);
    return NULL;
}

/* ---- subscriber map (docs/subscribers.md) ----
 *
 * DIR/subs/<addr>   "<subscriber> <session|-> <updated_ms> <expires_ms>\n" (expires 0: never);
 *                   the address with '/' written as '_' ("2001:db8::_56"). An expired file is
 *                   not found, and removed by the next list.
 * DIR/subs.log      the changes, one line per mapping of each batch, appended under the lock
 *                   (no fsync, as the mappings): "set ADDR SUBSCRIBER SESSION|- EXPIRES_MS" or
 *                   "del ADDR SESSION|-"; past SUBS_LOG_MAX bytes it is removed, and the next
 *                   batch starts a new file (another inode: a follower of the old one gets
 *                   -ESTALE and lists the mappings again). */

#define SUBS_LOG_MAX  (4u << 20)
#define SUBS_READ_MAX (1u << 20) /* bytes of the log read by one follow call at most */
#define SUBS_POLL_MS  50u
#define SUBS_LINE_MAX (2 * STORE_SUB_ID_MAX + STORE_SUB_ADDR_MAX + 48)
static void sub_name(char *out, size_t cap, const char *addr)
{
    int n = snprintf(out, cap, "subs/%s", addr);
    for (int i = 5; i < n && (size_t)i < cap; i++)
        if (out[i] == '/')
            out[i] = '_';
}

/* Reads subs/<file> into buf (NUL-terminated) and o. 0, -ENOENT (absent or expired: the
 * caller may remove it, *expired says which) or -EBADMSG. */
static int sub_read(struct dstore *d, const char *name, char **buf, struct store_sub *o,
                    bool *expired)
{
    size_t n, pos = 0;
    *expired = false;
    int rc = read_file(d, name, 512, buf, &n);
    if (rc)
        return rc;
    char *b = *buf, *s1 = strchr(b, ' '), *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
    if (!s1 || !s2 || s1 == b || s2 == s1 + 1 || n == 0 || b[n - 1] != '\n')
        return -EBADMSG;
    b[n - 1] = ' ';
    *s1 = *s2 = '\0';
    size_t rest = n - (size_t)(s2 + 1 - b);
    pos = 0;
    if (field_u64(s2 + 1, rest, &pos, &o->updated_ms) ||
        field_u64(s2 + 1, rest, &pos, &o->expires_ms) || pos != rest)
        return -EBADMSG;
    o->op = STORE_SUB_SET;
    o->subscriber = b;
    o->session = strcmp(s1 + 1, "-") == 0 ? "" : s1 + 1;
    if (o->expires_ms && o->expires_ms <= store_now_ms()) {
        *expired = true;
        return -ENOENT;
    }
    return 0;
}

static int sub_one(struct dstore *d, const struct store_sub *e, uint64_t now, char *err,
                   size_t errlen)
{
    char name[STORE_SUB_ADDR_MAX + 8];
    sub_name(name, sizeof(name), e->addr);
    const char *sess = e->session ? e->session : "";
    if (e->op == STORE_SUB_SET) {
        char b[STORE_SUB_ID_MAX * 2 + 64];
        uint64_t upd = e->updated_ms ? e->updated_ms : now;
        int n = snprintf(b, sizeof(b), "%s %s %llu %llu\n", e->subscriber, sess[0] ? sess : "-",
                         (unsigned long long)upd,
                         (unsigned long long)(e->ttl_ms ? now + e->ttl_ms : 0));
        return write_atomic(d, name, b, (size_t)n, NULL, 0, false, err, errlen);
    }
    if (sess[0]) {
        char *buf = NULL;
        struct store_sub cur = { 0 };
        bool expired;
        int rc = sub_read(d, name, &buf, &cur, &expired);
        bool other = rc == 0 && strcmp(cur.session, sess) != 0;
        free(buf);
        if (other || (rc && !expired))
            return 0; /* another session holds it now, or nothing does */
    }
    if (unlinkat(d->dirfd, name, 0) != 0 && errno != ENOENT)
        return fail_errno(d, err, errlen, name, errno);
    return 0;
}

/* Appends the batch's first n entries to subs.log (under the lock). A log that cannot be written
 * is removed, so that followers list the mappings again rather than miss a change. */
static void sub_journal(struct dstore *d, const struct store_sub *e, size_t n, uint64_t now)
{
    char *b = malloc(n * SUBS_LINE_MAX);
    size_t len = 0;
    for (size_t i = 0; b && i < n; i++) {
        const char *sess = e[i].session && e[i].session[0] ? e[i].session : "-";
        int k = e[i].op == STORE_SUB_SET
                    ? snprintf(b + len, SUBS_LINE_MAX, "set %s %s %s %llu\n", e[i].addr,
                               e[i].subscriber, sess,
                               (unsigned long long)(e[i].ttl_ms ? now + e[i].ttl_ms : 0))
                    : snprintf(b + len, SUBS_LINE_MAX, "del %s %s\n", e[i].addr, sess);
        if (k <= 0 || (size_t)k >= SUBS_LINE_MAX) {
            free(b);
            b = NULL;
            break;
        }
        len += (size_t)k;
    }
    int fd = b ? openat(d->dirfd, "subs.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) : -1;
    struct stat st;
    bool ok = fd >= 0 && fileio_write_all(fd, b, len) == 0 && fstat(fd, &st) == 0;
    if (fd >= 0) {
        give(d, fd);
        close(fd);
    }
    free(b);
    if (!ok || st.st_size > (off_t)SUBS_LOG_MAX)
        unlinkat(d->dirfd, "subs.log", 0);
}

static int dir_sub_apply(struct store *s, const struct store_sub *e, size_t n, char *err,
                         size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int rc = lock(d, LOCK_EX, err, errlen);
    if (rc)
        return rc;
    uint64_t now = store_now_ms();
    size_t done = 0;
    for (; done < n && !rc; done++)
        rc = sub_one(d, &e[done], now, err, errlen);
    if (rc)
        done--;
    if (done)
        sub_journal(d, e, done, now);
    unlock(d);
    return rc ? rc : (int)n;
}

static int dir_sub_get(struct store *s, const char *addr, store_sub_fn cb, void *ctx, char *err,
                       size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char name[STORE_SUB_ADDR_MAX + 8], *buf = NULL;
    sub_name(name, sizeof(name), addr);
    struct store_sub o = { .addr = addr };
    bool expired;
    int rc = sub_read(d, name, &buf, &o, &expired);
    if (rc == 0)
        rc = cb(ctx, &o);
    else if (rc == -ENOENT)
        snprintf(err, errlen, "store: %s: no subscriber mapping for %s", d->base.where, addr);
    else
        rc = fail_errno(d, err, errlen, name, -rc);
    free(buf);
    return rc;
}

static int dir_sub_list(struct store *s, store_sub_fn cb, void *ctx, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int fd = openat(d->dirfd, "subs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return e == ENOENT ? 0 : fail_errno(d, err, errlen, "subs", e);
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l >= STORE_SUB_ADDR_MAX)
            continue;
        char addr[STORE_SUB_ADDR_MAX], name[STORE_SUB_ADDR_MAX + 8], *buf = NULL;
        memcpy(addr, de->d_name, l + 1);
        for (size_t i = 0; i < l; i++)
            if (addr[i] == '_')
                addr[i] = '/';
        if (!store_sub_addr_valid(addr, l))
            continue;
        snprintf(name, sizeof(name), "subs/%.*s", (int)l, de->d_name);
        struct store_sub o = { .addr = addr };
        bool expired;
        int r = sub_read(d, name, &buf, &o, &expired);
        if (r == 0)
            rc = cb(ctx, &o);
        else if (expired)
            unlinkat(d->dirfd, name, 0);
        free(buf);
    }
    closedir(dir);
    return rc;
}

/* ---- tariff records (docs/profiles.md) ----
 *
 * DIR/tariff   one record a line, store_tariff_format()'s "p NAME TEXT" / "s ID TEXT"; a change
 *              rewrites the file (atomically, under the lock). One node: no change stream, but
 *              a change marker: every change renames a new file over the old one, so the
 *              file's identity (inode, size, modification and change times) differs after each;
 *              dir_tariff_follow() compares it with one stat(2), never reading the file. */

#define TARIFF_FILE_MAX (1ull << 30)

static int tariff_read(struct dstore *d, char **buf, size_t *n, char *err, size_t errlen)
{
    int rc = read_file(d, "tariff", TARIFF_FILE_MAX, buf, n);
    if (rc == -ENOENT) {
        *buf = NULL;
        *n = 0;
        return 0;
    }
    return rc ? fail_errno(d, err, errlen, "tariff", -rc) : 0;
}

/* Calls fn for each record line of buf[0..n) (a copy of the line is parsed). */
static int tariff_each(const char *buf, size_t n,
                       int (*fn)(void *, const struct store_tariff *, const char *, size_t),
                       void *arg)
{
    const char *p = buf, *end = buf + n;
    char line[STORE_TARIFF_TEXT_MAX + STORE_SUB_ID_MAX + 8];
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct store_tariff t;
        if (ll < sizeof(line)) {
            memcpy(line, p, ll);
            line[ll] = '\0';
            if (store_tariff_parse(line, &t) == 0 && !t.del) {
                int rc = fn(arg, &t, p, ll);
                if (rc)
                    return rc;
            }
        }
        p += ll + 1;
    }
    return 0;
}

struct tariff_edit {
    const struct store_tariff *t;
    char *out;
    size_t len;
    bool found;
};

static int tariff_keep(void *arg, const struct store_tariff *t, const char *line, size_t ll)
{
    struct tariff_edit *e = arg;
    if (t->kind == e->t->kind && strcmp(t->name, e->t->name) == 0) {
        e->found = true;
        return 0;
    }
    memcpy(e->out + e->len, line, ll);
    e->len += ll;
    e->out[e->len++] = '\n';
    return 0;
}

static int dir_tariff_apply(struct store *s, const struct store_tariff *t, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    char line[STORE_TARIFF_TEXT_MAX + STORE_SUB_ID_MAX + 8];
    size_t ll = store_tariff_format(t, line, sizeof(line));
    if (!ll) {
        snprintf(err, errlen, "store: %s: tariff record '%s' too long", s->where, t->name);
        return -EINVAL;
    }
    int rc = lock(d, LOCK_EX, err, errlen);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t n = 0;
    rc = tariff_read(d, &buf, &n, err, errlen);
    struct tariff_edit e = { t, malloc(n + ll + 2), 0, false };
    if (!rc && !e.out)
        rc = fail_errno(d, err, errlen, "tariff", ENOMEM);
    if (!rc)
        rc = tariff_each(buf, n, tariff_keep, &e);
    if (!rc && t->del && !e.found) {
        snprintf(err, errlen, "store: %s: no %s '%s'", s->where,
                 t->kind == STORE_TARIFF_PROFILE ? "profile" : "subscriber settings", t->name);
        rc = -ENOENT;
    }
    if (!rc && !t->del) {
        memcpy(e.out + e.len, line, ll);
        e.len += ll;
        e.out[e.len++] = '\n';
    }
    if (!rc)
        rc = write_atomic(d, "tariff", e.out, e.len, NULL, 0, true, err, errlen);
    unlock(d);
    free(buf);
    free(e.out);
    return rc;
}

struct tariff_cb {
    store_tariff_fn cb;
    void *ctx;
};

static int tariff_deliver(void *arg, const struct store_tariff *t, const char *line, size_t ll)
{
    (void)line;
    (void)ll;
    const struct tariff_cb *c = arg;
    return c->cb(c->ctx, t);
}

static int dir_tariff_list(struct store *s, store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    int rc = lock(d, LOCK_SH, err, errlen);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t n = 0;
    rc = tariff_read(d, &buf, &n, err, errlen);
    unlock(d);
    struct tariff_cb c = { cb, ctx };
    if (!rc)
        rc = tariff_each(buf, n, tariff_deliver, &c);
    free(buf);
    return rc;
}

#define TARIFF_POLL_MS 50u

/* The change marker of DIR/tariff in cursor: "-" when there is none, else "t" and 16 hex digits
 * of a 64-bit FNV-1a hash of its device, inode, size, mtime and ctime. */
static int tariff_mark(struct dstore *d, char *out, size_t cap, char *err, size_t errlen)
{
    struct stat st;
    if (fstatat(d->dirfd, "tariff", &st, 0) != 0) {
        if (errno != ENOENT)
            return fail_errno(d, err, errlen, "tariff", errno);
        snprintf(out, cap, "-");
        return 0;
    }
    uint64_t v[] = { (uint64_t)st.st_dev,          (uint64_t)st.st_ino,
                     (uint64_t)st.st_size,         (uint64_t)st.st_mtim.tv_sec,
                     (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ctim.tv_sec,
                     (uint64_t)st.st_ctim.tv_nsec };
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        for (unsigned b = 0; b < 64; b += 8) {
            h ^= (v[i] >> b) & 0xffu;
            h *= 1099511628211ull;
        }
    snprintf(out, cap, "t%016llx", (unsigned long long)h);
    return 0;
}

/* No stream of changes: the cursor is the file's marker. "" takes it; otherwise the marker is
 * polled every TARIFF_POLL_MS for up to timeout_ms, and a change is -ESTALE ("list the records
 * again"): the caller takes the marker again ("") and then lists, so a change made in between
 * shows at the next call. */
static int dir_tariff_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                             store_tariff_fn cb, void *ctx, char *err, size_t errlen)
{
    (void)cb;
    (void)ctx;
    struct dstore *d = (struct dstore *)s;
    char now[STORE_SUB_CURSOR_MAX];
    if (!cursor[0])
        return tariff_mark(d, cursor, cap, err, errlen);
    for (uint32_t waited = 0;; waited += TARIFF_POLL_MS) {
        int rc = tariff_mark(d, now, sizeof(now), err, errlen);
        if (rc)
            return rc;
        if (strcmp(now, cursor) != 0) {
            snprintf(err, errlen, "store: %s: the tariff records changed: list them again",
                     s->where);
            return -ESTALE;
        }
        if (waited >= timeout_ms)
            return 0;
        struct timespec ts = { 0, (long)TARIFF_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
}

int store_dir_sub_parse(char *line, struct store_sub *o)
{
    char *f[6];
    size_t nf = 0;
    for (char *p = line; p && nf < 6;) {
        char *sp = strchr(p, ' ');
        if (sp)
            *sp = '\0';
        if (!*p)
            return -1; /* an empty field */
        f[nf++] = p;
        p = sp ? sp + 1 : NULL;
    }
    *o = (struct store_sub){ 0 };
    size_t si;
    if (nf == 5 && strcmp(f[0], "set") == 0) {
        /* field_u64() reads a field ending at a space: the NUL ending the line becomes one */
        size_t pos = 0, l4 = strlen(f[4]);
        f[4][l4] = ' ';
        int bad = field_u64(f[4], l4 + 1, &pos, &o->expires_ms) || pos != l4 + 1;
        f[4][l4] = '\0';
        if (bad)
            return -1;
        o->op = STORE_SUB_SET;
        o->subscriber = f[2];
        si = 3;
    } else if (nf == 3 && strcmp(f[0], "del") == 0) {
        o->op = STORE_SUB_DEL;
        si = 2;
    } else {
        return -1;
    }
    o->addr = f[1];
    o->session = strcmp(f[si], "-") == 0 ? "" : f[si];
    return store_sub_addr_valid(o->addr, strlen(o->addr)) ? 0 : -1;
}

/* The cursor is "j<inode>:<offset>" (hex) in subs.log: "" creates the log if need be and takes
 * its end. Then the complete lines after offset are delivered, polling every SUBS_POLL_MS up to
 * timeout_ms for the first; another inode (the log was cut) or a shorter file is -ESTALE: list
 * the mappings again. */
static int dir_sub_follow(struct store *s, char *cursor, size_t cap, uint32_t timeout_ms,
                          store_sub_fn cb, void *ctx, char *err, size_t errlen)
{
    struct dstore *d = (struct dstore *)s;
    struct stat st;
    if (!cursor[0]) {
        int rc = lock(d, LOCK_EX, err, errlen);
        if (rc)
            return rc;
        int fd = openat(d->dirfd, "subs.log", O_RDONLY | O_CREAT | O_CLOEXEC, 0640);
        if (fd >= 0) {
            give(d, fd);
            if (fstat(fd, &st) != 0)
                rc = -errno;
            close(fd);
        } else {
            rc = -errno;
        }
        unlock(d);
        if (rc)
            return fail_errno(d, err, errlen, "subs.log", -rc);
        snprintf(cursor, cap, "j%llx:%llx", (unsigned long long)st.st_ino,
                 (unsigned long long)st.st_size);
        return 0;
    }
    unsigned long long ino, off;
    int used = 0;
    if (sscanf(cursor, "j%llx:%llx%n", &ino, &off, &used) != 2 || cursor[used]) {
        snprintf(err, errlen, "store: %s: bad subscriber cursor", s->where);
        return -EINVAL;
    }
    for (uint32_t waited = 0;; waited += SUBS_POLL_MS) {
        int fd = openat(d->dirfd, "subs.log", O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            return fail_errno(d, err, errlen, "subs.log", errno);
        if (fd < 0 || fstat(fd, &st) != 0 || (unsigned long long)st.st_ino != ino ||
            (unsigned long long)st.st_size < off) {
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "store: %s: the subscriber log was cut: list the mappings again",
                     s->where);
            return -ESTALE;
        }
        if ((unsigned long long)st.st_size > off) {
            size_t want = (size_t)st.st_size - (size_t)off;
            if (want > SUBS_READ_MAX)
                want = SUBS_READ_MAX;
            char *b = malloc(want);
            ssize_t got = b ? pread(fd, b, want, (off_t)off) : -1;
            close(fd);
            if (got < 0) {
                int e = b ? errno : ENOMEM;
                free(b);
                return fail_errno(d, err, errlen, "subs.log", e);
            }
            int n = 0, rc = 0;
            size_t at = 0;
            char line[SUBS_LINE_MAX];
            while (!rc && at < (size_t)got) {
                char *nl = memchr(b + at, '\n', (size_t)got - at);
                if (!nl)
                    break; /* a batch being written: the rest at the next call */
                size_t ll = (size_t)(nl - (b + at));
                struct store_sub o;
                if (ll < sizeof(line)) {
                    memcpy(line, b + at, ll);
                    line[ll] = '\0';
                    if (store_dir_sub_parse(line, &o) == 0) {
                        rc = cb(ctx, &o);
                        n++;
                    }
                }
                at += ll + 1;
            }
            free(b);
            snprintf(cursor, cap, "j%llx:%llx", ino, off + at);
            if (rc)
                return rc;
            if (at)
                return n;
        } else {
            close(fd);
        }
        if (waited >= timeout_ms)
            return 0;
        struct timespec ts = { 0, (long)SUBS_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
}
