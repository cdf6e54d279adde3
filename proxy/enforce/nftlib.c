/* nftlib.c - libnftables through dlopen(3) (see nftlib.h). */
#define NFTLIB_NO_NAMES 1
#include "proxy/enforce/nftlib.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/dlib.h"

struct nftlib nftlib;

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static bool lib_ready;

int nftlib_load(char *err, size_t errlen)
{
#define NFTLIB_SYM(f) DLIB_SYM(nftlib, f, #f),
    static const struct dlib_sym syms[] = { NFTLIB_FUNCTIONS(NFTLIB_SYM) };
#undef NFTLIB_SYM
    pthread_mutex_lock(&lib_lock);
    bool ok = lib_ready ||
              dlib_open(NFTLIB_SONAME, syms, sizeof(syms) / sizeof(syms[0]), err, errlen) != NULL;
    if (ok)
        lib_ready = true;
    pthread_mutex_unlock(&lib_lock);
    return ok ? 0 : -ELIBACC;
}
