/* cryptolib.h - OpenSSL's libcrypto loaded when an order's signature is first checked or made,
 * rather than by every command.
 *
 * CMS signatures (sign.c) are the only thing Qorgau does with libcrypto; the digests and the
 * QUIC Initial ciphers are Nettle's (docs/decisions.md). Linked in, libcrypto cost every start
 * of `qorgau` 2.9 ms and 126 page faults (its relocations and constructors), 3.7 % of a scan of
 * the mobile-shaped benchmark capture (docs/BENCHMARKS.md). The table's types are the headers'
 * own (__typeof__), so a call through it is checked as a direct call would be; after the table,
 * each function's name is defined to its entry, so sign.c calls them by their usual names (and
 * OpenSSL's own macros, sk_X509_num() or OPENSSL_free(), reach the table too). Include it after
 * the OpenSSL headers. */
#ifndef QG_CRYPTOLIB_H
#define QG_CRYPTOLIB_H

/* pem.h first: cms.h declares PEM_read_bio_CMS() with pem.h's macros */
#include <openssl/pem.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/safestack.h>
#include <openssl/x509.h>
#include <stddef.h>

#define CRYPTOLIB_SONAME "libcrypto.so.3" /* Debian 12: libssl3 */

/* (the list is written once: X(name) for each function looked up) */
#define CRYPTOLIB_FUNCTIONS(X)    \
    X(ASN1_TIME_to_tm)            \
    X(BIO_free)                   \
    X(BIO_new)                    \
    X(BIO_new_mem_buf)            \
    X(BIO_read)                   \
    X(BIO_s_mem)                  \
    X(CMS_ContentInfo_free)       \
    X(CMS_SignerInfo_cert_cmp)    \
    X(CMS_get0_SignerInfos)       \
    X(CMS_get1_certs)             \
    X(CMS_sign)                   \
    X(CMS_signed_get_attr)        \
    X(CMS_signed_get_attr_by_NID) \
    X(CMS_verify)                 \
    X(CRYPTO_free)                \
    X(ERR_clear_error)            \
    X(ERR_get_error_all)          \
    X(ERR_reason_error_string)    \
    X(EVP_PKEY_free)              \
    X(OPENSSL_sk_num)             \
    X(OPENSSL_sk_pop_free)        \
    X(OPENSSL_sk_value)           \
    X(PEM_read_PrivateKey)        \
    X(PEM_read_X509)              \
    X(PEM_read_bio_CMS)           \
    X(X509_ATTRIBUTE_get0_type)   \
    X(X509_NAME_print_ex)         \
    X(X509_STORE_free)            \
    X(X509_STORE_load_file)       \
    X(X509_STORE_new)             \
    X(X509_STORE_set_purpose)     \
    X(X509_check_private_key)     \
    X(X509_free)                  \
    X(X509_get_subject_name)      \
    X(d2i_CMS_bio)                \
    X(i2d_CMS_ContentInfo)

struct cryptolib {
#define CRYPTOLIB_FIELD(f) __typeof__(f) *f;
    CRYPTOLIB_FUNCTIONS(CRYPTOLIB_FIELD)
#undef CRYPTOLIB_FIELD
};

/* The table, filled by cryptolib_load(). */
extern struct cryptolib cryptolib;

/* Loads libcrypto and fills the table at the first call (thread-safe; it stays loaded for the
 * life of the process). Returns 0, or -ELIBACC with err = "libcrypto.so.3: dlerror() text" (it
 * cannot be loaded) or "libcrypto.so.3: no function NAME"; a later call tries again. */
int cryptolib_load(char *err, size_t errlen);

#ifndef CRYPTOLIB_NO_NAMES
#define ASN1_TIME_to_tm            (cryptolib.ASN1_TIME_to_tm)
#define BIO_free                   (cryptolib.BIO_free)
#define BIO_new                    (cryptolib.BIO_new)
#define BIO_new_mem_buf            (cryptolib.BIO_new_mem_buf)
#define BIO_read                   (cryptolib.BIO_read)
#define BIO_s_mem                  (cryptolib.BIO_s_mem)
#define CMS_ContentInfo_free       (cryptolib.CMS_ContentInfo_free)
#define CMS_SignerInfo_cert_cmp    (cryptolib.CMS_SignerInfo_cert_cmp)
#define CMS_get0_SignerInfos       (cryptolib.CMS_get0_SignerInfos)
#define CMS_get1_certs             (cryptolib.CMS_get1_certs)
#define CMS_sign                   (cryptolib.CMS_sign)
#define CMS_signed_get_attr        (cryptolib.CMS_signed_get_attr)
#define CMS_signed_get_attr_by_NID (cryptolib.CMS_signed_get_attr_by_NID)
#define CMS_verify                 (cryptolib.CMS_verify)
#define CRYPTO_free                (cryptolib.CRYPTO_free)
#define ERR_clear_error            (cryptolib.ERR_clear_error)
#define ERR_get_error_all          (cryptolib.ERR_get_error_all)
#define ERR_reason_error_string    (cryptolib.ERR_reason_error_string)
#define EVP_PKEY_free              (cryptolib.EVP_PKEY_free)
#define OPENSSL_sk_num             (cryptolib.OPENSSL_sk_num)
#define OPENSSL_sk_pop_free        (cryptolib.OPENSSL_sk_pop_free)
#define OPENSSL_sk_value           (cryptolib.OPENSSL_sk_value)
#define PEM_read_PrivateKey        (cryptolib.PEM_read_PrivateKey)
#define PEM_read_X509              (cryptolib.PEM_read_X509)
#define PEM_read_bio_CMS           (cryptolib.PEM_read_bio_CMS)
#define X509_ATTRIBUTE_get0_type   (cryptolib.X509_ATTRIBUTE_get0_type)
#define X509_NAME_print_ex         (cryptolib.X509_NAME_print_ex)
#define X509_STORE_free            (cryptolib.X509_STORE_free)
#define X509_STORE_load_file       (cryptolib.X509_STORE_load_file)
#define X509_STORE_new             (cryptolib.X509_STORE_new)
#define X509_STORE_set_purpose     (cryptolib.X509_STORE_set_purpose)
#define X509_check_private_key     (cryptolib.X509_check_private_key)
#define X509_free                  (cryptolib.X509_free)
#define X509_get_subject_name      (cryptolib.X509_get_subject_name)
#define d2i_CMS_bio                (cryptolib.d2i_CMS_bio)
#define i2d_CMS_ContentInfo        (cryptolib.i2d_CMS_ContentInfo)
#endif

#endif
