/* sign.c - detached CMS signatures of order files (see sign.h), with OpenSSL's CMS_verify().
 *
 * libcrypto is loaded at the first check or signature (cryptolib.h); its functions are called by
 * their usual names through the table. OpenSSL's error queue is per thread; it is cleared before
 * each check and drained after, and the first error (the one nearest the cause) becomes the
 * reason. */
#include "rules/orders/sign.h"

/* pem.h first: cms.h declares PEM_read_bio_CMS() with pem.h's macros */
#include <openssl/pem.h>

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/orders/cryptolib.h"

static int set_dup(char **field, const char *s)
{
    return order_set(field, s, strlen(s));
}

/* The first queued OpenSSL error as "reason: detail", then the queue is emptied. */
static void ssl_reason(char *out, size_t outlen, const char *fallback)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    if (e == 0) {
        snprintf(out, outlen, "%s", fallback);
    } else {
        const char *r = ERR_reason_error_string(e);
        if (data && *data && (flags & ERR_TXT_STRING))
            snprintf(out, outlen, "%s: %s", r ? r : fallback, data);
        else
            snprintf(out, outlen, "%s", r ? r : fallback);
    }
    ERR_clear_error();
}

static int invalid(struct order_signature *out, const char *why)
{
    out->status = ORDER_SIG_INVALID;
    return set_dup(&out->reason, why);
}

/* The signing time of si's signed attributes as RFC 3339 UTC into out, or false. */
static bool signing_time(CMS_SignerInfo *si, char *out, size_t outlen)
{
    int i = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    if (i < 0)
        return false;
    X509_ATTRIBUTE *a = CMS_signed_get_attr(si, i);
    ASN1_TYPE *t = a ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
    const ASN1_TIME *at = NULL;
    if (t && t->type == V_ASN1_UTCTIME)
        at = t->value.utctime;
    else if (t && t->type == V_ASN1_GENERALIZEDTIME)
        at = t->value.generalizedtime;
    struct tm tm;
    if (!at || !ASN1_TIME_to_tm(at, &tm))
        return false;
    return strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

/* The subject of the certificate that made si (RFC 2253), looked up among the CMS's certs. */
static bool signer_subject(CMS_ContentInfo *cms, CMS_SignerInfo *si, char *out, size_t outlen)
{
    STACK_OF(X509) *certs = CMS_get1_certs(cms);
    bool ok = false;
    for (int i = 0; certs && i < sk_X509_num(certs) && !ok; i++) {
        X509 *x = sk_X509_value(certs, i);
        if (CMS_SignerInfo_cert_cmp(si, x) != 0)
            continue;
        BIO *b = BIO_new(BIO_s_mem());
        if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
            int n = BIO_read(b, out, (int)outlen - 1);
            if (n >= 0) {
                out[n] = '\0';
                ok = true;
            }
        }
        BIO_free(b);
    }
    sk_X509_pop_free(certs, X509_free);
    return ok;
}

int sign_verify(const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen,
                const char *anchors, struct order_signature *out)
{
    char why[768], buf[256];
    X509_STORE *store = NULL;
    BIO *sb = NULL, *db = NULL;
    CMS_ContentInfo *cms = NULL;
    int rc = 0;
    sign_clear(out);
    if (cryptolib_load(buf, sizeof(buf)) < 0) {
        snprintf(why, sizeof(why), "cannot check the signature: %s", buf);
        return invalid(out, why);
    }
    ERR_clear_error();
    if (len > INT32_MAX || siglen > INT32_MAX) {
        rc = invalid(out, "file or signature too large");
        goto done;
    }
    store = X509_STORE_new();
    sb = BIO_new_mem_buf(sig, (int)siglen);
    db = BIO_new_mem_buf(data, (int)len);
    if (!store || !sb || !db) {
        rc = -ENOMEM;
        goto done;
    }
    if (!anchors || !X509_STORE_load_file(store, anchors)) {
        ssl_reason(buf, sizeof(buf), "no certificates");
        snprintf(why, sizeof(why), "cannot load trust anchors '%.300s': %s",
                 anchors ? anchors : "(none)", buf);
        rc = invalid(out, why);
        goto done;
    }
    X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
    static const char pem[] = "-----BEGIN";
    if (siglen >= sizeof(pem) - 1 && memcmp(sig, pem, sizeof(pem) - 1) == 0)
        cms = PEM_read_bio_CMS(sb, NULL, NULL, NULL);
    else
        cms = d2i_CMS_bio(sb, NULL);
    if (!cms) {
        ssl_reason(buf, sizeof(buf), "unknown error");
        snprintf(why, sizeof(why), "not a CMS signature: %s", buf);
        rc = invalid(out, why);
        goto done;
    }
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    CMS_SignerInfo *si =
        sis && sk_CMS_SignerInfo_num(sis) > 0 ? sk_CMS_SignerInfo_value(sis, 0) : NULL;
    if (si && signer_subject(cms, si, buf, sizeof(buf)) && (rc = set_dup(&out->signer, buf)))
        goto done;
    if (si && signing_time(si, buf, sizeof(buf)) && (rc = set_dup(&out->time, buf)))
        goto done;
    if (CMS_verify(cms, NULL, store, db, NULL, CMS_DETACHED | CMS_BINARY) == 1) {
        out->status = ORDER_SIG_VALID;
    } else {
        ssl_reason(why, sizeof(why), "verification failed");
        rc = invalid(out, why);
    }
done:
    ERR_clear_error();
    CMS_ContentInfo_free(cms);
    BIO_free(sb);
    BIO_free(db);
    X509_STORE_free(store);
    return rc;
}

void sign_clear(struct order_signature *out)
{
    free(out->signer);
    free(out->time);
    free(out->reason);
    memset(out, 0, sizeof(*out));
}

static int copy_opt(char **dst, const char *src)
{
    if (!src)
        return 0;
    return set_dup(dst, src);
}

int sign_apply(struct order_list *l, size_t first, const struct order_signature *s)
{
    for (size_t i = first; i < l->n; i++) {
        struct order_signature *d = &l->v[i]->sig;
        sign_clear(d);
        d->status = s->status;
        if (copy_opt(&d->signer, s->signer) || copy_opt(&d->time, s->time) ||
            copy_opt(&d->reason, s->reason))
            return -ENOMEM;
    }
    return 0;
}

bool sign_acceptable(const struct order_signature *s, enum sign_policy p)
{
    switch (p) {
    case SIGN_REQUIRE_VALID: return s->status == ORDER_SIG_VALID;
    case SIGN_REFUSE_INVALID: return s->status != ORDER_SIG_INVALID;
    case SIGN_ACCEPT_ANY: break;
    }
    return true;
}

int sign_detached(const uint8_t *data, size_t len, const char *key_path, const char *cert_path,
                  uint8_t **der, size_t *derlen, char *err, size_t errlen)
{
    int rc = -EINVAL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    CMS_ContentInfo *cms = NULL;
    BIO *in = NULL;
    unsigned char *out = NULL;
    char why[256];
    if (cryptolib_load(why, sizeof(why)) < 0) {
        snprintf(err, errlen, "sign: %s", why);
        return -ELIBACC;
    }
    FILE *f = fopen(key_path, "r");
    if (!f) {
        snprintf(err, errlen, "sign: key %s: %s", key_path, strerror(errno));
        return -EINVAL;
    }
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key) {
        ssl_reason(why, sizeof(why), "not a PEM private key");
        snprintf(err, errlen, "sign: key %s: %s", key_path, why);
        goto out;
    }
    if (!(f = fopen(cert_path, "r"))) {
        snprintf(err, errlen, "sign: certificate %s: %s", cert_path, strerror(errno));
        goto out;
    }
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert) {
        ssl_reason(why, sizeof(why), "not a PEM certificate");
        snprintf(err, errlen, "sign: certificate %s: %s", cert_path, why);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(err, errlen, "sign: key %s does not match certificate %s", key_path, cert_path);
        goto out;
    }
    if (len > INT32_MAX || !(in = BIO_new_mem_buf(data, (int)len))) {
        rc = -ENOMEM;
        snprintf(err, errlen, "sign: out of memory");
        goto out;
    }
    cms = CMS_sign(cert, key, NULL, in, CMS_BINARY | CMS_DETACHED);
    if (!cms) {
        ssl_reason(why, sizeof(why), "signing failed");
        snprintf(err, errlen, "sign: %s", why);
        goto out;
    }
    int n = i2d_CMS_ContentInfo(cms, &out);
    if (n <= 0 || !(*der = malloc((size_t)n))) {
        rc = -ENOMEM;
        snprintf(err, errlen, "sign: cannot encode the signature");
        goto out;
    }
    memcpy(*der, out, (size_t)n);
    *derlen = (size_t)n;
    rc = 0;
out:
    OPENSSL_free(out);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
