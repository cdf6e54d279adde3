/* mhdlib.c - libmicrohttpd and GnuTLS through dlopen(3) (see mhdlib.h). */
#include "proxy/daemon/mhdlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mhdlib lib;
static bool lib_ready;

/* Every function of lib from the two handles; false with err naming the first one missing. */
static bool resolve(void *mhd, void *tls, char *err, size_t errlen)
{
    const char *lib_name = MHDLIB_MHD, *missing = NULL;
#define SYM(h, field, name)                                             \
    do {                                                                \
        void *p_ = dlsym(h, name);                                      \
        if (!p_ && !missing)                                            \
            missing = name;                                             \
        /* (POSIX: the function pointer dlsym() returns as a void *) */ \
        *(void **)&lib.field = p_;                                      \
    } while (0)
    SYM(mhd, start_daemon, "MHD_start_daemon");
    SYM(mhd, stop_daemon, "MHD_stop_daemon");
    SYM(mhd, quiesce_daemon, "MHD_quiesce_daemon");
    SYM(mhd, get_connection_info, "MHD_get_connection_info");
    SYM(mhd, lookup_connection_value, "MHD_lookup_connection_value");
    SYM(mhd, create_response_from_buffer, "MHD_create_response_from_buffer");
    SYM(mhd, add_response_header, "MHD_add_response_header");
    SYM(mhd, queue_response, "MHD_queue_response");
    SYM(mhd, destroy_response, "MHD_destroy_response");
    if (!missing) {
        lib_name = MHDLIB_GNUTLS;
        SYM(tls, certificate_verify_peers2, "gnutls_certificate_verify_peers2");
        SYM(tls, certificate_get_peers, "gnutls_certificate_get_peers");
        SYM(tls, x509_crt_init, "gnutls_x509_crt_init");
        SYM(tls, x509_crt_import, "gnutls_x509_crt_import");
        SYM(tls, x509_crt_get_dn_by_oid, "gnutls_x509_crt_get_dn_by_oid");
        SYM(tls, x509_crt_deinit, "gnutls_x509_crt_deinit");
    }
#undef SYM
    if (missing)
        snprintf(err, errlen, "%s: no function %s", lib_name, missing);
    return !missing;
}

const struct mhdlib *mhdlib_get(char *err, size_t errlen)
{
    pthread_mutex_lock(&lib_lock);
    if (!lib_ready) {
        void *mhd = dlopen(MHDLIB_MHD, RTLD_NOW | RTLD_LOCAL);
        void *tls = mhd ? dlopen(MHDLIB_GNUTLS, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (!mhd || !tls) {
            const char *why = dlerror();
            snprintf(err, errlen, "%s: %s", mhd ? MHDLIB_GNUTLS : MHDLIB_MHD,
                     why ? why : "cannot be loaded");
        } else {
            lib_ready = resolve(mhd, tls, err, errlen);
        }
        if (!lib_ready) { /* a later call tries again (a failed allocation is not for ever) */
            if (tls)
                dlclose(tls);
            if (mhd)
                dlclose(mhd);
        }
    }
    pthread_mutex_unlock(&lib_lock);
    return lib_ready ? &lib : NULL;
}
