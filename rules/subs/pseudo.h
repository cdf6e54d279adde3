/* pseudo.h - pseudonyms of subscriber identifiers for logs, decisions and counters.
 *
 * A subscriber id (MSISDN, IMSI, user name) is never written in clear unless the operator asks
 * for it (privacy.clear_ids): logs and decisions carry "p-" and the first 16 hex digits (64
 * bits) of HMAC-SHA256(secret, id). The secret (privacy.secret_file) keeps the pseudonym from
 * being reversed by hashing every possible MSISDN; the same secret on every node gives the
 * same pseudonym everywhere, so per-subscriber counters from several nodes add up. */
#ifndef QG_PSEUDO_H
#define QG_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PSEUDO_TEXT_MAX 20 /* "p-" + 16 hex digits + NUL (and room) */
#define PSEUDO_KEY_MAX  64

struct pseudo {
    unsigned char key[PSEUDO_KEY_MAX];
    size_t key_len;
    bool clear; /* write ids in clear (privacy.clear_ids) */
    /* set by pseudo_set_key(): the SHA-256 states after the key's inner and outer HMAC pads,
     * so that a pseudonym costs two compressions, not an HMAC set-up (pseudo.c) */
    bool padded;
    uint64_t pads[2][16];
};

/* Reads the secret from path (its bytes, one trailing newline dropped; 16..64 bytes). Returns 0
 * or a negative errno with "privacy.secret_file PATH: reason" in err. */
int pseudo_load(struct pseudo *p, const char *path, char *err, size_t errlen);

/* Sets the secret from memory (len bytes, at most PSEUDO_KEY_MAX are used). */
void pseudo_set_key(struct pseudo *p, const void *key, size_t len);

/* Writes what logs show for id into out (cap bytes; PSEUDO_TEXT_MAX is enough for a pseudonym,
 * clear ids need up to 129): the pseudonym, or id itself when p->clear. "" for an empty id.
 * Without a key (key_len 0) the pseudonym is "p-unkeyed" rather than a guessable hash. */
void pseudo_id(const struct pseudo *p, const char *id, char *out, size_t cap);

#endif
