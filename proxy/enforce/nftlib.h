/* nftlib.h - libnftables loaded when the kernel's drop of IP entries is first set up
 * (proxy/enforce/ipdrop.c) rather than by every command.
 *
 * The table's types are the header's own (__typeof__), so a call through it is checked as a
 * direct call would be; after the table, each function's name is defined to its entry, so
 * ipdrop.c calls them by their usual names. Include it after <nftables/libnftables.h>. */
#ifndef QG_NFTLIB_H
#define QG_NFTLIB_H

#include <nftables/libnftables.h>
#include <stddef.h>

#define NFTLIB_SONAME "libnftables.so.1" /* Debian 12: libnftables1 */

/* (the list is written once: X(name) for each function looked up) */
#define NFTLIB_FUNCTIONS(X)      \
    X(nft_ctx_new)               \
    X(nft_ctx_free)              \
    X(nft_ctx_buffer_output)     \
    X(nft_ctx_buffer_error)      \
    X(nft_ctx_get_output_buffer) \
    X(nft_ctx_get_error_buffer)  \
    X(nft_run_cmd_from_buffer)

struct nftlib {
#define NFTLIB_FIELD(f) __typeof__(f) *f;
    NFTLIB_FUNCTIONS(NFTLIB_FIELD)
#undef NFTLIB_FIELD
};

/* The table, filled by nftlib_load(). */
extern struct nftlib nftlib;

/* Loads the library and fills the table at the first call (thread-safe; it stays loaded for the
 * life of the process). Returns 0, or -ELIBACC with err = "SONAME: dlerror() text" or
 * "SONAME: no function NAME"; a later call tries again. */
int nftlib_load(char *err, size_t errlen);

#ifndef NFTLIB_NO_NAMES
#define nft_ctx_new               (nftlib.nft_ctx_new)
#define nft_ctx_free              (nftlib.nft_ctx_free)
#define nft_ctx_buffer_output     (nftlib.nft_ctx_buffer_output)
#define nft_ctx_buffer_error      (nftlib.nft_ctx_buffer_error)
#define nft_ctx_get_output_buffer (nftlib.nft_ctx_get_output_buffer)
#define nft_ctx_get_error_buffer  (nftlib.nft_ctx_get_error_buffer)
#define nft_run_cmd_from_buffer   (nftlib.nft_run_cmd_from_buffer)
#endif

#endif
