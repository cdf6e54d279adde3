/* crun.h - test helper: runs a Check suite for a suite's main(). */
#ifndef QG_CRUN_H
#define QG_CRUN_H

#include <check.h>

/* Runs every test of s (CK_NORMAL output), frees the runner and s, and returns main()'s exit
 * status: EXIT_SUCCESS when none failed. */
int crun(Suite *s);

#endif
