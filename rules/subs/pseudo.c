/* pseudo.c - subscriber id pseudonyms: truncated HMAC-SHA256 (pseudo.h).
 *
 * Every logged decision of a tariff node names its subscriber by pseudonym, so the HMAC is on
 * the decision's path: HMAC() sets up a MAC context per call (OpenSSL 3: about 4 us, more than
 * the rest of the decision). The key's pads are hashed once, when the key is set, and kept as
 * two SHA-256 states; a pseudonym then copies them and runs SHA256_Update/Final over the id and
 * the inner digest, on the stack (OpenSSL's SHA256_* calls, deprecated in OpenSSL 3 but kept
 * for that, as rules/subs/radius.c keeps MD5_*: hence OPENSSL_SUPPRESS_DEPRECATED). */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "rules/subs/pseudo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct pseudo *)0)->pads[0]),
               "a SHA-256 state fits a pad's room");

int pseudo_load(struct pseudo *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "privacy.secret_file %s: %s", path, strerror(e));
        return -e;
    }
    unsigned char buf[PSEUDO_KEY_MAX + 2];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n < 16 || n > PSEUDO_KEY_MAX) {
        snprintf(err, errlen, "privacy.secret_file %s: the secret must be 16..%d bytes", path,
                 PSEUDO_KEY_MAX);
        return -EINVAL;
    }
    pseudo_set_key(p, buf, n);
    return 0;
}

void pseudo_set_key(struct pseudo *p, const void *key, size_t len)
{
    if (len > PSEUDO_KEY_MAX)
        len = PSEUDO_KEY_MAX;
    memcpy(p->key, key, len);
    p->key_len = len;
    /* HMAC (RFC 2104) with a key of at most the block's 64 bytes: the key zero-padded to the
     * block, XORed with 0x36 (inner) and 0x5c (outer) */
    unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
    memset(ipad, 0x36, sizeof(ipad));
    memset(opad, 0x5c, sizeof(opad));
    for (size_t i = 0; i < len; i++) {
        ipad[i] ^= p->key[i];
        opad[i] ^= p->key[i];
    }
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, ipad, sizeof(ipad));
    memcpy(p->pads[0], &c, sizeof(c));
    SHA256_Init(&c);
    SHA256_Update(&c, opad, sizeof(opad));
    memcpy(p->pads[1], &c, sizeof(c));
    p->padded = len > 0;
}

/* HMAC-SHA256(key, id) from the key's pad states into md[32]. */
static void hmac_padded(const struct pseudo *p, const char *id, size_t len, unsigned char *md)
{
    SHA256_CTX c;
    unsigned char in[SHA256_DIGEST_LENGTH];
    memcpy(&c, p->pads[0], sizeof(c));
    SHA256_Update(&c, id, len);
    SHA256_Final(in, &c);
    memcpy(&c, p->pads[1], sizeof(c));
    SHA256_Update(&c, in, sizeof(in));
    SHA256_Final(md, &c);
}

/* s[0..n) into out (cap >= 1 bytes), truncated as snprintf would, NUL-terminated. */
static void copy_text(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void pseudo_id(const struct pseudo *p, const char *id, char *out, size_t cap)
{
    if (!cap)
        return;
    if (!id || !id[0]) {
        out[0] = '\0';
        return;
    }
    /* (every decision of a tariff node writes one: copies, not snprintf) */
    if (p && p->clear) {
        copy_text(out, cap, id, strlen(id));
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (p && p->padded && p->key_len) {
        hmac_padded(p, id, strlen(id), md);
        mdlen = SHA256_DIGEST_LENGTH;
    } else if (!p || !p->key_len ||
               !HMAC(EVP_sha256(), p->key, (int)p->key_len, (const unsigned char *)id, strlen(id),
                     md, &mdlen)) {
        mdlen = 0;
    }
    if (mdlen < 8) {
        copy_text(out, cap, "p-unkeyed", 9);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char t[18] = "p-";
    for (int i = 0; i < 8; i++) {
        t[2 + 2 * i] = hex[md[i] >> 4];
        t[3 + 2 * i] = hex[md[i] & 15];
    }
    copy_text(out, cap, t, sizeof(t));
}
