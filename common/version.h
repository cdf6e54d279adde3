/* version.h - the release version. */
#ifndef QG_VERSION_H
#define QG_VERSION_H
#define QORGAU_VERSION "0.1.0"
#endif
