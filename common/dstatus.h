/* dstatus.h - the one status enum every dissector returns, and the span type for its outputs. */
#ifndef QG_DSTATUS_H
#define QG_DSTATUS_H

#include <stddef.h>
#include <stdint.h>

enum dstatus {
    DS_OK = 0,    /* parsed; outputs are valid */
    DS_NEED_MORE, /* a valid prefix: call again with more bytes */
    DS_NOT_MINE,  /* not this protocol: stop inspecting with this dissector */
    DS_MALFORMED, /* this protocol, but broken; *err_off says where */
    DS_LIMIT,     /* a configured or structural cap was hit */
};

/* A view into a caller-owned buffer; valid while that buffer is. */
struct span {
    const uint8_t *p;
    size_t len;
};

/* Returns the lower-case name of a status ("ok", "need-more", ...). */
const char *dstatus_name(enum dstatus st);

#endif
