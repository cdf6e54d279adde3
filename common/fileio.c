/* fileio.c - see fileio.h. */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fileio_read_all(const char *path, char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    size_t n = 0;
    char *b = malloc(cap);
    int rc = b ? 0 : -ENOMEM;
    while (!rc) {
        if (n + 1 == cap) { /* (grown: the file is not regular, or grew while read) */
            char *v = realloc(b, cap * 2);
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            b = v;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    if (rc) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int fileio_sync_dir(const char *path)
{
    char dir[4096];
    const char *sl = strrchr(path, '/');
    size_t dl = sl ? (size_t)(sl - path) : 0;
    if (dl == 0)
        snprintf(dir, sizeof(dir), "%s", sl ? "/" : ".");
    else if (dl < sizeof(dir))
        snprintf(dir, sizeof(dir), "%.*s", (int)dl, path);
    else
        return -ENAMETOOLONG;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int rc = fsync(dfd) != 0 ? -errno : 0;
    close(dfd);
    return rc;
}

int fileio_commit(int fd, const char *tmp, const char *path, const char **what)
{
    const char *step = "fsync";
    int rc = fsync(fd) != 0 ? -errno : 0;
    if (close(fd) != 0 && !rc) {
        rc = -errno;
        step = "close";
    }
    if (!rc && rename(tmp, path) != 0) {
        rc = -errno;
        step = "rename";
    }
    if (rc) {
        unlink(tmp);
        if (what)
            *what = step;
        return rc;
    }
    (void)fileio_sync_dir(path);
    return 0;
}
