/* ordimport.h - one order file into records: its format, its signature, the signature policy.
 *
 * The format comes from the content: JSON when the first non-blank byte (after a UTF-8 byte
 * order mark) is '{' or '[', a registry dump when it is '<', CSV otherwise. A detached signature
 * is FILE.sig next to the file (sign.h). This is what `qorgau order import FILE...` runs per file. */
#ifndef QG_ORDIMPORT_H
#define QG_ORDIMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/orders/orddump.h"
#include "rules/orders/order.h"
#include "rules/orders/sign.h"

enum ordimport_format { ORDIMPORT_JSON = 0, ORDIMPORT_CSV, ORDIMPORT_DUMP };

/* The format buf's content says it is (see above). */
enum ordimport_format ordimport_detect(const uint8_t *buf, size_t len);
const char *ordimport_format_name(enum ordimport_format f);

struct ordimport_opts {
    const char *anchors; /* PEM bundle of trust anchors; NULL: signatures are not checked */
    enum sign_policy
        policy;  /* what is refused (with anchors NULL, only SIGN_ACCEPT_ANY passes a file) */
    int64_t now; /* import time (Unix seconds): the default received time */
    /* a dump's records as they are read (orddump.h), or NULL; progress_ctx is its argument */
    orddump_progress_fn progress;
    void *progress_ctx;
};

/* Parses buf (its signature sig/siglen, or NULL/0 if it has none) and appends its records to out,
 * each with the signature's result. Returns 0; -EINVAL for a malformed file; -EPERM when the
 * policy refuses the file's signature (unsigned, or invalid; err says which and why); -ENOMEM.
 * On any error out is unchanged and err holds "orders: NAME...: reason". */
int ordimport_buffer(const char *name, const uint8_t *buf, size_t len, const uint8_t *sig,
                     size_t siglen, const struct ordimport_opts *o, struct order_list *out,
                     char *err, size_t errlen);

/* Reads path (and path.sig if it exists) and runs ordimport_buffer(). A file that cannot be read
 * is -errno with "orders: PATH: cannot read: <strerror>". Files over 1 GiB are refused (-EFBIG). */
int ordimport_file(const char *path, const struct ordimport_opts *o, struct order_list *out,
                   char *err, size_t errlen);

#endif
