/* mhdlib.c - libmicrohttpd and GnuTLS through dlopen(3) (see mhdlib.h). */
#include "proxy/daemon/mhdlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/dlib.h"

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mhdlib lib;
static bool lib_ready;

const struct mhdlib *mhdlib_get(char *err, size_t errlen)
{
    /* libmicrohttpd's functions, then (from N_MHD on) GnuTLS's for the admin API's client
     * certificates */
    enum { N_MHD = 9 };
    static const struct dlib_sym syms[] = {
        DLIB_SYM(lib, start_daemon, "MHD_start_daemon"),
        DLIB_SYM(lib, stop_daemon, "MHD_stop_daemon"),
        DLIB_SYM(lib, quiesce_daemon, "MHD_quiesce_daemon"),
        DLIB_SYM(lib, get_connection_info, "MHD_get_connection_info"),
        DLIB_SYM(lib, lookup_connection_value, "MHD_lookup_connection_value"),
        DLIB_SYM(lib, create_response_from_buffer, "MHD_create_response_from_buffer"),
        DLIB_SYM(lib, add_response_header, "MHD_add_response_header"),
        DLIB_SYM(lib, queue_response, "MHD_queue_response"),
        DLIB_SYM(lib, destroy_response, "MHD_destroy_response"),
        DLIB_SYM(lib, certificate_verify_peers2, "gnutls_certificate_verify_peers2"),
        DLIB_SYM(lib, certificate_get_peers, "gnutls_certificate_get_peers"),
        DLIB_SYM(lib, x509_crt_init, "gnutls_x509_crt_init"),
        DLIB_SYM(lib, x509_crt_import, "gnutls_x509_crt_import"),
        DLIB_SYM(lib, x509_crt_get_dn_by_oid, "gnutls_x509_crt_get_dn_by_oid"),
        DLIB_SYM(lib, x509_crt_deinit, "gnutls_x509_crt_deinit"),
    };
    enum { N_ALL = sizeof(syms) / sizeof(syms[0]) };
    pthread_mutex_lock(&lib_lock);
    if (!lib_ready) { /* (a failure is not for ever: a later call tries again) */
        void *mhd = dlib_open(MHDLIB_MHD, syms, N_MHD, err, errlen);
        void *tls = mhd ? dlib_open(MHDLIB_GNUTLS, syms + N_MHD, N_ALL - N_MHD, err, errlen) : NULL;
        lib_ready = tls != NULL;
        if (mhd && !tls)
            dlclose(mhd);
    }
    pthread_mutex_unlock(&lib_lock);
    return lib_ready ? &lib : NULL;
}
