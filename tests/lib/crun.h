/* crun.h - test helper: runs a Check suite for a suite's main(). Inline, so that the tools
 * linked with the other helpers (tests/tools) need no Check library. */
#ifndef QG_CRUN_H
#define QG_CRUN_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of s (CK_NORMAL output), frees the runner and s, and returns main()'s exit
 * status: EXIT_SUCCESS when none failed. */
static inline int crun(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
