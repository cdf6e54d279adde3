/* ctnl.h - conntrack's netlink messages (ctnetlink) queue mode sends and reads about the
 * connections it passed: change a connection's mark, list the connections that carry a mark.
 *
 * Queue mode's rules keep Qorgau's verdict as the connection mark; a passed connection never
 * reaches Qorgau again (docs/queue.md). When a name it passed on is listed later, Qorgau marks
 * the connection blocked (queue.mark_block) through IPCTNL_MSG_CT_NEW on its original tuple -
 * an update, never a creation - and the rules drop the rest of it. A dump of the connections
 * marked passed (IPCTNL_MSG_CT_GET with NLM_F_DUMP, filtered by CTA_MARK / CTA_MARK_MASK in the
 * kernel) tells which of the connections Qorgau remembers still exist.
 *
 * The builders and the reader are pure functions over (buf, len); the reader never reads past
 * len and is fuzzed (tests/fuzz/fuzz_ctnl.c). The socket side is in passnames.c. */
#ifndef QG_CTNL_H
#define QG_CTNL_H

#include <stddef.h>
#include <stdint.h>

/* A connection's original direction: the client's address and port, then the server's. */
struct ctnl_tuple {
    uint8_t ipver; /* 4 or 6 */
    uint8_t proto; /* 6 TCP, 17 UDP */
    uint16_t sport, dport;
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, the rest zero */
};

/* The request that sets the bits `mask` of the mark of the connection whose original tuple is t
 * to those of `mark` (the others kept), with sequence number seq: IPCTNL_MSG_CT_NEW,
 * NLM_F_REQUEST | NLM_F_ACK, no NLM_F_CREATE (a connection that is gone gets -ENOENT, none is
 * made). Returns its length, or 0 when cap is too small. */
size_t ctnl_mark_request(uint8_t *buf, size_t cap, const struct ctnl_tuple *t, uint32_t mark,
                         uint32_t mask, uint32_t seq);

/* The request for the connection whose original tuple is t (IPCTNL_MSG_CT_GET, NLM_F_REQUEST |
 * NLM_F_ACK): the answer is the connection (with its mark) then the acknowledgement, or
 * -ENOENT. Returns its length, or 0. */
size_t ctnl_get_request(uint8_t *buf, size_t cap, const struct ctnl_tuple *t, uint32_t seq);

/* The dump request of every connection (both families) whose mark & mask == mark & mask.
 * Returns its length, or 0 when cap is too small. */
size_t ctnl_dump_request(uint8_t *buf, size_t cap, uint32_t mark, uint32_t mask, uint32_t seq);

enum ctnl_kind {
    CTNL_CONN = 1, /* a connection (a dump's entry, or an event): tuple, mark */
    CTNL_ERROR,    /* NLMSG_ERROR: err (0 is an acknowledgement) */
    CTNL_DONE,     /* NLMSG_DONE: the end of a dump */
    CTNL_OTHER,    /* any other message (skipped) */
};

struct ctnl_msg {
    enum ctnl_kind kind;
    uint32_t seq;
    int err;             /* CTNL_ERROR: 0 or a negative errno */
    struct ctnl_tuple t; /* CTNL_CONN */
    uint32_t mark;       /* CTNL_CONN, when has_mark */
    int has_mark, has_tuple;
};

/* Reads the message at *off of the datagram (buf, len) into m and moves *off past it. Returns
 * 1, 0 when no message is left, or -EBADMSG (a length that runs past len, an attribute that does
 * not fit its message; nothing after it is read). A CTNL_CONN whose tuple is not TCP or UDP over
 * IPv4 or IPv6 has has_tuple 0. */
int ctnl_next(const uint8_t *buf, size_t len, size_t *off, struct ctnl_msg *m);

#endif
