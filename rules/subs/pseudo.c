/* pseudo.c - subscriber id pseudonyms: truncated HMAC-SHA256 (pseudo.h).
 *
 * Every logged decision of a tariff node names its subscriber by pseudonym, so the HMAC is on
 * the decision's path. The key's pads are hashed once, when the key is set, and kept as two
 * SHA-256 states (Nettle's struct sha256_ctx); a pseudonym then copies them and hashes the id
 * and the inner digest, on the stack. */
#include "rules/subs/pseudo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/sha2.h>

_Static_assert(sizeof(struct sha256_ctx) <= sizeof(((struct pseudo *)0)->pads[0]),
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
    unsigned char ipad[SHA256_BLOCK_SIZE], opad[SHA256_BLOCK_SIZE];
    memset(ipad, 0x36, sizeof(ipad));
    memset(opad, 0x5c, sizeof(opad));
    for (size_t i = 0; i < len; i++) {
        ipad[i] ^= p->key[i];
        opad[i] ^= p->key[i];
    }
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, sizeof(ipad), ipad);
    memcpy(p->pads[0], &c, sizeof(c));
    sha256_init(&c);
    sha256_update(&c, sizeof(opad), opad);
    memcpy(p->pads[1], &c, sizeof(c));
    p->padded = len > 0;
}

/* HMAC-SHA256(key, id) from the key's pad states into md[32]. */
static void hmac_padded(const struct pseudo *p, const char *id, size_t len, unsigned char *md)
{
    struct sha256_ctx c;
    unsigned char in[SHA256_DIGEST_SIZE];
    memcpy(&c, p->pads[0], sizeof(c));
    sha256_update(&c, len, (const uint8_t *)id);
    sha256_digest(&c, sizeof(in), in);
    memcpy(&c, p->pads[1], sizeof(c));
    sha256_update(&c, sizeof(in), in);
    sha256_digest(&c, SHA256_DIGEST_SIZE, md);
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
    if (!p || !p->key_len) {
        copy_text(out, cap, "p-unkeyed", 9);
        return;
    }
    unsigned char md[SHA256_DIGEST_SIZE];
    if (p->padded) {
        hmac_padded(p, id, strlen(id), md);
    } else { /* a key copied in without pseudo_set_key() */
        struct hmac_sha256_ctx h;
        hmac_sha256_set_key(&h, p->key_len, p->key);
        hmac_sha256_update(&h, strlen(id), (const uint8_t *)id);
        hmac_sha256_digest(&h, sizeof(md), md);
    }
    static const char hex[] = "0123456789abcdef";
    char t[18] = "p-";
    for (int i = 0; i < 8; i++) {
        t[2 + 2 * i] = hex[md[i] >> 4];
        t[3 + 2 * i] = hex[md[i] & 15];
    }
    copy_text(out, cap, t, sizeof(t));
}
