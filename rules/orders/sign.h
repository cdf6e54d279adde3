/* sign.h - checks a detached CMS / PKCS#7 signature of an order file (FILE.sig).
 *
 * The signature (DER, or PEM "-----BEGIN CMS-----" / "-----BEGIN PKCS7-----") signs the file's
 * bytes as they are (CMS_BINARY: no MIME canonicalization). The signer's certificate must chain
 * to one of the trust anchors, a PEM bundle named in the configuration; any key usage is
 * accepted (regulators' certificates are not S/MIME certificates). The result goes into the
 * order record: status, the signer's subject, the signing time of the signed attributes, and
 * why a signature is not valid. Whether an unsigned or badly signed order is refused is the
 * caller's policy (sign_acceptable()). */
#ifndef QG_SIGN_H
#define QG_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/orders/order.h"

/* Verifies sig (siglen bytes) over data (len bytes) against the PEM bundle at anchors.
 * Returns 0 with *out filled (status ORDER_SIG_VALID, or ORDER_SIG_INVALID and a reason such as
 * "certificate verify error: ... unable to get local issuer certificate", or "verification
 * failure" for a changed file), or -ENOMEM.
 * An unreadable anchor bundle or an unparsable signature is an invalid result with the reason,
 * and so is a libcrypto that cannot be loaded ("cannot check the signature: libcrypto.so.3:
 * ..."). out's strings are owned by out (sign_clear() frees them). */
int sign_verify(const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen,
                const char *anchors, struct order_signature *out);

/* Signs data (len bytes): a detached CMS SignedData (CMS_BINARY, the certificate included, a
 * signing time among the signed attributes) by the PEM private key at key_path and the PEM
 * certificate at cert_path, DER-encoded into *der (the caller frees it with free()).
 * `openssl cms -verify -binary -inform DER -content FILE -in FILE.sig` checks it. Returns 0, or
 * -EINVAL (unreadable key or certificate, a key that does not match) / -ENOMEM with OpenSSL's
 * reason in err, or -ELIBACC when libcrypto cannot be loaded. */
int sign_detached(const uint8_t *data, size_t len, const char *key_path, const char *cert_path,
                  uint8_t **der, size_t *derlen, char *err, size_t errlen);

/* Frees out's strings and sets it to ORDER_SIG_NONE. */
void sign_clear(struct order_signature *out);

/* Copies s into every record of l from index first on. Returns 0 or -ENOMEM. */
int sign_apply(struct order_list *l, size_t first, const struct order_signature *s);

/* What the configuration accepts: any order; any but a badly signed one; only validly signed. */
enum sign_policy { SIGN_ACCEPT_ANY = 0, SIGN_REFUSE_INVALID, SIGN_REQUIRE_VALID };

/* True if an order whose signature check gave s may be imported under policy p. */
bool sign_acceptable(const struct order_signature *s, enum sign_policy p);

#endif
