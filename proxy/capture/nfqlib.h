/* nfqlib.h - libmnl and libnetfilter_queue loaded when queue mode opens its first queue rather
 * than by every command.
 *
 * Only queue mode's packet source (capture_queue.c) talks to NFQUEUE. Linked in, the two
 * libraries and the libnfnetlink they bring cost every start of `qorgau` - a scan, tap mode,
 * every CLI - about 0.3 ms and 14 page faults (docs/BENCHMARKS.md "Nettle for the QUIC
 * Initial"). The table's types are the headers' own (__typeof__), so a call through it is
 * checked as a direct call would be; after the table, each function's name is defined to its
 * entry, so capture_queue.c calls them by their usual names. Include it after the libraries'
 * headers. */
#ifndef QG_NFQLIB_H
#define QG_NFQLIB_H

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <stddef.h>

#define NFQLIB_MNL_SONAME "libmnl.so.0"             /* Debian 12: libmnl0 */
#define NFQLIB_NFQ_SONAME "libnetfilter_queue.so.1" /* Debian 12: libnetfilter-queue1 */

/* (each list is written once: X(name) for each function looked up) */
#define NFQLIB_MNL_FUNCTIONS(X) \
    X(mnl_attr_put_u32)         \
    X(mnl_cb_run)               \
    X(mnl_socket_bind)          \
    X(mnl_socket_close)         \
    X(mnl_socket_get_fd)        \
    X(mnl_socket_get_portid)    \
    X(mnl_socket_open)          \
    X(mnl_socket_recvfrom)      \
    X(mnl_socket_sendto)
#define NFQLIB_NFQ_FUNCTIONS(X)  \
    X(nfq_nlmsg_cfg_put_cmd)     \
    X(nfq_nlmsg_cfg_put_params)  \
    X(nfq_nlmsg_cfg_put_qmaxlen) \
    X(nfq_nlmsg_put)             \
    X(nfq_nlmsg_verdict_put)     \
    X(nfq_nlmsg_verdict_put_mark)

struct nfqlib {
#define NFQLIB_FIELD(f) __typeof__(f) *f;
    NFQLIB_MNL_FUNCTIONS(NFQLIB_FIELD)
    NFQLIB_NFQ_FUNCTIONS(NFQLIB_FIELD)
#undef NFQLIB_FIELD
};

/* The table, filled by nfqlib_load(). */
extern struct nfqlib nfqlib;

/* Loads both libraries and fills the table at the first call (thread-safe; they stay loaded for
 * the life of the process; once loaded, a call is one atomic load). Returns 0, or -ELIBACC with
 * err = "SONAME: dlerror() text" (one cannot be loaded) or "SONAME: no function NAME" (err may
 * be NULL with errlen 0); a later call tries again. */
int nfqlib_load(char *err, size_t errlen);

#ifndef NFQLIB_NO_NAMES
#define mnl_attr_put_u32           (nfqlib.mnl_attr_put_u32)
#define mnl_cb_run                 (nfqlib.mnl_cb_run)
#define mnl_socket_bind            (nfqlib.mnl_socket_bind)
#define mnl_socket_close           (nfqlib.mnl_socket_close)
#define mnl_socket_get_fd          (nfqlib.mnl_socket_get_fd)
#define mnl_socket_get_portid      (nfqlib.mnl_socket_get_portid)
#define mnl_socket_open            (nfqlib.mnl_socket_open)
#define mnl_socket_recvfrom        (nfqlib.mnl_socket_recvfrom)
#define mnl_socket_sendto          (nfqlib.mnl_socket_sendto)
#define nfq_nlmsg_cfg_put_cmd      (nfqlib.nfq_nlmsg_cfg_put_cmd)
#define nfq_nlmsg_cfg_put_params   (nfqlib.nfq_nlmsg_cfg_put_params)
#define nfq_nlmsg_cfg_put_qmaxlen  (nfqlib.nfq_nlmsg_cfg_put_qmaxlen)
#define nfq_nlmsg_put              (nfqlib.nfq_nlmsg_put)
#define nfq_nlmsg_verdict_put      (nfqlib.nfq_nlmsg_verdict_put)
#define nfq_nlmsg_verdict_put_mark (nfqlib.nfq_nlmsg_verdict_put_mark)
#endif

#endif
