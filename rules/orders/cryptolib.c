/* cryptolib.c - libcrypto through dlopen(3) (see cryptolib.h). */
#define CRYPTOLIB_NO_NAMES 1
#include "rules/orders/cryptolib.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/dlib.h"

struct cryptolib cryptolib;

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static bool lib_ready;

int cryptolib_load(char *err, size_t errlen)
{
#define CRYPTOLIB_SYM(f) DLIB_SYM(cryptolib, f, #f),
    static const struct dlib_sym syms[] = { CRYPTOLIB_FUNCTIONS(CRYPTOLIB_SYM) };
#undef CRYPTOLIB_SYM
    pthread_mutex_lock(&lib_lock);
    if (!lib_ready) /* (a failure is not for ever: a later call tries again) */
        lib_ready =
            dlib_open(CRYPTOLIB_SONAME, syms, sizeof(syms) / sizeof(syms[0]), err, errlen) != NULL;
    bool ok = lib_ready;
    pthread_mutex_unlock(&lib_lock);
    return ok ? 0 : -ELIBACC;
}
