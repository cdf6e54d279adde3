/* crun.c - test helper: runs a Check suite for a suite's main() (see crun.h). */
#include "tests/lib/crun.h"

#include <stdlib.h>

int crun(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
