/* ordimport.c - format detection, signature check and policy around the importers (see
 * ordimport.h). */
#include "rules/orders/ordimport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/ordcsv.h"
#include "rules/orders/orddump.h"
#include "rules/orders/ordjson.h"

#define IMPORT_FILE_MAX ((size_t)1 << 30)

enum ordimport_format ordimport_detect(const uint8_t *buf, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i < len && (buf[i] == '{' || buf[i] == '['))
        return ORDIMPORT_JSON;
    if (i < len && buf[i] == '<')
        return ORDIMPORT_DUMP;
    return ORDIMPORT_CSV;
}

const char *ordimport_format_name(enum ordimport_format f)
{
    return f == ORDIMPORT_JSON ? "json" : f == ORDIMPORT_DUMP ? "dump.xml" : "csv";
}

int ordimport_buffer(const char *name, const uint8_t *buf, size_t len, const uint8_t *sig,
                     size_t siglen, const struct ordimport_opts *o, struct order_list *out,
                     char *err, size_t errlen)
{
    struct order_signature s = { 0 };
    size_t first = out->n;
    int rc;
    if (sig && o->anchors) {
        if ((rc = sign_verify(buf, len, sig, siglen, o->anchors, &s)))
            goto done;
    } else if (sig) {
        s.status = ORDER_SIG_INVALID;
        if ((rc = order_set(&s.reason, "no trust anchors configured", 27)))
            goto done;
    }
    if (!sign_acceptable(&s, o->policy)) {
        if (s.status == ORDER_SIG_NONE)
            snprintf(err, errlen, "orders: %s: refused: not signed (no %s.sig)", name, name);
        else
            snprintf(err, errlen, "orders: %s: refused: signature not valid: %s", name,
                     s.reason ? s.reason : "?");
        rc = -EPERM;
        goto done;
    }
    switch (ordimport_detect(buf, len)) {
    case ORDIMPORT_JSON: rc = ordjson_parse(name, buf, len, o->now, out, err, errlen); break;
    case ORDIMPORT_DUMP:
        rc = orddump_parse_progress(name, buf, len, o->now, out, o->progress, o->progress_ctx, err,
                                    errlen);
        break;
    case ORDIMPORT_CSV:
    default: rc = ordcsv_parse(name, buf, len, o->now, out, err, errlen); break;
    }
    if (rc)
        goto done;
    if ((rc = sign_apply(out, first, &s)))
        order_list_truncate(out, first);
done:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "orders: %s: out of memory", name);
    sign_clear(&s);
    return rc;
}

/* Reads a whole file into *buf (malloc'ed). Returns 0 or -errno. */
static int slurp(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *buf = NULL;
    *len = 0;
    if (!f)
        return -errno;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        if (*len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > IMPORT_FILE_MAX + 1) {
                rc = -EFBIG;
                break;
            }
            uint8_t *nb = realloc(*buf, nc);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            *buf = nb;
            cap = nc;
        }
        size_t got = fread(*buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0) {
            if (ferror(f))
                rc = -EIO;
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(*buf);
        *buf = NULL;
        *len = 0;
    }
    return rc;
}

int ordimport_file(const char *path, const struct ordimport_opts *o, struct order_list *out,
                   char *err, size_t errlen)
{
    uint8_t *buf = NULL, *sig = NULL;
    size_t len = 0, siglen = 0;
    char sp[4096];
    int rc = slurp(path, &buf, &len);
    if (rc) {
        snprintf(err, errlen, "orders: %s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    if ((size_t)snprintf(sp, sizeof(sp), "%s.sig", path) >= sizeof(sp)) {
        snprintf(err, errlen, "orders: %s: path too long", path);
        free(buf);
        return -ENAMETOOLONG;
    }
    rc = slurp(sp, &sig, &siglen);
    if (rc && rc != -ENOENT) {
        snprintf(err, errlen, "orders: %s: cannot read: %s", sp, strerror(-rc));
        free(buf);
        return rc;
    }
    rc = ordimport_buffer(path, buf ? buf : (const uint8_t *)"", len, sig, siglen, o, out, err,
                          errlen);
    free(buf);
    free(sig);
    return rc;
}
