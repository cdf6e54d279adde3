/* dlib.c - loading a library and its functions on demand (dlib.h). */
#include "common/dlib.h"

#include <dlfcn.h>
#include <stdio.h>

void *dlib_open(const char *soname, const struct dlib_sym *syms, size_t n, char *err, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s: %s", soname, why ? why : "cannot be loaded");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot) {
            snprintf(err, errlen, "%s: no function %s", soname, syms[i].name);
            dlclose(h);
            return NULL;
        }
    }
    return h;
}
