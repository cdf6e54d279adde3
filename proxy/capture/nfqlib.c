/* nfqlib.c - libmnl and libnetfilter_queue through dlopen(3) (see nfqlib.h). */
#define NFQLIB_NO_NAMES 1
#include "proxy/capture/nfqlib.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/dlib.h"

struct nfqlib nfqlib;

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static bool lib_ready;

int nfqlib_load(char *err, size_t errlen)
{
#define NFQLIB_SYM(f) DLIB_SYM(nfqlib, f, #f),
    static const struct dlib_sym mnl[] = { NFQLIB_MNL_FUNCTIONS(NFQLIB_SYM) };
    static const struct dlib_sym nfq[] = { NFQLIB_NFQ_FUNCTIONS(NFQLIB_SYM) };
#undef NFQLIB_SYM
    if (__atomic_load_n(&lib_ready, __ATOMIC_ACQUIRE)) /* (every verdict asks: no lock then) */
        return 0;
    pthread_mutex_lock(&lib_lock);
    /* (a failure is not for ever: a later call tries again; a library opened before a failure
     * of the other stays loaded, which dlopen(3) counts) */
    bool ok = lib_ready ||
              (dlib_open(NFQLIB_MNL_SONAME, mnl, sizeof(mnl) / sizeof(mnl[0]), err, errlen) &&
               dlib_open(NFQLIB_NFQ_SONAME, nfq, sizeof(nfq) / sizeof(nfq[0]), err, errlen));
    if (ok)
        __atomic_store_n(&lib_ready, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lib_lock);
    return ok ? 0 : -ELIBACC;
}
