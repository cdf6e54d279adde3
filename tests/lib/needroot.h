/* needroot.h - test helper: may a live test that needs root run here? */
#ifndef QG_NEEDROOT_H
#define QG_NEEDROOT_H

/* 1 when running as root (run the test). Otherwise a live test that cannot run fails unless the
 * caller allows skipping: 0 when QG_ALLOW_SKIP=1 (a line naming `what` says on stderr that it is
 * skipped), -1 when it is not (the caller fails the test). */
int needroot(const char *what);

/* In a Check test (check.h included): fails the test when root is missing and skipping is not
 * allowed, returns from it when skipping is. */
#define NEEDROOT(what)                                                                     \
    do {                                                                                   \
        int needroot_ = needroot(what);                                                    \
        ck_assert_msg(needroot_ >= 0, "%s needs root (QG_ALLOW_SKIP=1 skips it)", (what)); \
        if (!needroot_)                                                                    \
            return;                                                                        \
    } while (0)

#endif
