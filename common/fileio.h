/* fileio.h - writing files whole and replacing them atomically: the one write loop of the
 * program's files (the fail-static file, the rule set's disk image, the directory store). */
#ifndef QG_FILEIO_H
#define QG_FILEIO_H

#include <stddef.h>

/* Writes p[0, n) to fd, again after a short write or EINTR. Returns 0 or -errno. */
int fileio_write_all(int fd, const void *p, size_t n);

/* Makes the file tmp, written through fd, the file path: fsync(fd), close(fd), rename(tmp,
 * path), then fsync of path's directory (a failure of that last one is ignored: the rename is
 * done, only the previous file is at risk). fd is closed in every case, and tmp removed on
 * failure. Returns 0 or -errno (*what names the step that failed: "fsync", "close" or
 * "rename"). */
int fileio_commit(int fd, const char *tmp, const char *path, const char **what);

/* Reads the file path whole into *buf (malloc'd, NUL-terminated; free() it) with *len its bytes:
 * one allocation and, for a regular file, one read, so a loader can parse it in place. Returns 0
 * or -errno. */
int fileio_read_all(const char *path, char **buf, size_t *len);

/* fsync of the directory holding path ("." without a slash). Returns 0 or -errno. */
int fileio_sync_dir(const char *path);

#endif
