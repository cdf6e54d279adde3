/* dstatus.c - names of the shared dissector status values. */
#include "common/dstatus.h"

const char *dstatus_name(enum dstatus st)
{
    switch (st) {
    case DS_OK: return "ok";
    case DS_NEED_MORE: return "need-more";
    case DS_NOT_MINE: return "not-mine";
    case DS_MALFORMED: return "malformed";
    case DS_LIMIT: return "limit";
    }
    return "unknown";
}
