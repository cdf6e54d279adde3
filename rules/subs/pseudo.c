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
    if (!p || !p->key_len ||
        !HMAC(EVP_sha256(), p->key, (int)p->key_len, (const unsigned char *)id, strlen(id), md,
              &mdlen) ||
        mdlen < 8) {
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
