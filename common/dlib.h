/* dlib.h - a shared library loaded with dlopen(3) when a feature first needs it, and the
 * functions it must have looked up into a table (proxy/daemon/mhdlib.c: libmicrohttpd and
 * GnuTLS; proxy/capture/pcaplib.c: libpcap). */
#ifndef QG_DLIB_H
#define QG_DLIB_H

#include <stddef.h>

/* One function to look up: its name and where its address goes (a function pointer of the
 * table, written through a void ** as POSIX has dlsym() return it). */
struct dlib_sym {
    const char *name;
    void **slot;
};

#define DLIB_SYM(table, field, name)    \
    {                                   \
        (name), (void **)&(table).field \
    }

/* Opens soname (RTLD_NOW | RTLD_LOCAL) and fills the n slots. Returns the handle, or NULL with
 * err = "SONAME: dlerror() text" (it cannot be loaded) or "SONAME: no function NAME" (the first
 * one missing; the library is closed again). The caller serializes calls that fill one table. */
void *dlib_open(const char *soname, const struct dlib_sym *syms, size_t n, char *err,
                size_t errlen);

#endif
