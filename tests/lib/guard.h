/* guard.h - test helper: place an input right before an unreadable page.
 *
 * guard_copy() copies len bytes so that the last one sits at the end of a readable mapping whose
 * next page is PROT_NONE: any read past buf + len faults at once, under any build (no sanitizer
 * needed). One live copy at a time; the previous one is released by the next guard_copy() or by
 * guard_free(). Aborts (the test fails) if mmap or mprotect fail. */
#ifndef QG_GUARD_H
#define QG_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Returns a pointer to a copy of (buf, len) ending where the guard page begins. Valid until the
 * next guard_copy() or guard_free(). len 0 gives a pointer at the guard page itself. */
uint8_t *guard_copy(const void *buf, size_t len);

/* Releases the current copy (no-op if none). */
void guard_free(void);

#endif
