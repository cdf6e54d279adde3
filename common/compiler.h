/* compiler.h - branch hints, debug output and small helpers shared by every module. */
#ifndef QG_COMPILER_H
#define QG_COMPILER_H

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* QG_DEBUG compiles out unless built with -DQG_DEBUG_ON. */
#ifdef QG_DEBUG_ON
#include <stdio.h>
#define QG_DEBUG(...) fprintf(stderr, __VA_ARGS__)
#else
#define QG_DEBUG(...) ((void)0)
#endif

#endif
