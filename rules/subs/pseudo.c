/* pseudo.c - subscriber id pseudonyms: truncated HMAC-SHA256 (pseudo.h). */
#include "rules/subs/pseudo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

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
}

void pseudo_id(const struct pseudo *p, const char *id, char *out, size_t cap)
{
    if (!cap)
        return;
    if (!id || !id[0]) {
        out[0] = '\0';
        return;
    }
    if (p && p->clear) {
        snprintf(out, cap, "%s", id);
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!p || !p->key_len ||
        !HMAC(EVP_sha256(), p->key, (int)p->key_len, (const unsigned char *)id, strlen(id), md,
              &mdlen) ||
        mdlen < 8) {
        snprintf(out, cap, "p-unkeyed");
        return;
    }
    snprintf(out, cap, "p-%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4],
             md[5], md[6], md[7]);
}
