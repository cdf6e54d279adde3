/* mhdlib.h - libmicrohttpd, and GnuTLS under it, loaded when a server starts rather than by
 * every command.
 *
 * The notice page server and the admin API are the only users of both libraries, and only
 * `qorgau run` starts them; linked in, they and what they bring (GnuTLS, p11-kit, libtasn1,
 * nettle, hogweed, gmp, libffi: 8 shared objects, 2,300 symbol relocations and GnuTLS's
 * constructor) were about a third of the start of every other command. The table's types are
 * the headers' own (__typeof__), so a call through it is checked as a direct call would be. */
#ifndef QG_MHDLIB_H
#define QG_MHDLIB_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stddef.h>

#define MHDLIB_MHD    "libmicrohttpd.so.12" /* Debian 12: libmicrohttpd12 */
#define MHDLIB_GNUTLS "libgnutls.so.30"     /* libgnutls30, libmicrohttpd's own TLS */

struct mhdlib {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_quiesce_daemon) *quiesce_daemon;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    /* the admin API's client certificates */
    __typeof__(gnutls_certificate_verify_peers2) *certificate_verify_peers2;
    __typeof__(gnutls_certificate_get_peers) *certificate_get_peers;
    __typeof__(gnutls_x509_crt_init) *x509_crt_init;
    __typeof__(gnutls_x509_crt_import) *x509_crt_import;
    __typeof__(gnutls_x509_crt_get_dn_by_oid) *x509_crt_get_dn_by_oid;
    __typeof__(gnutls_x509_crt_deinit) *x509_crt_deinit;
};

/* The functions, the libraries loaded at the first call (thread-safe; the libraries stay loaded
 * for the life of the process). NULL with err = "LIBRARY: dlerror() text" when one cannot be
 * loaded or lacks a function; a later call tries again. */
const struct mhdlib *mhdlib_get(char *err, size_t errlen);

#endif
