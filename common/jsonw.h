/* jsonw.h - minimal JSON-lines writer for stdio streams (output, logs, reports). */
#ifndef QG_JSONW_H
#define QG_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s[0..len) as a JSON string (quotes included): escapes '"', '\\', control bytes, and
 * bytes that are not valid UTF-8 as \u00XX of the byte value, so output is always valid JSON. */
void jsonw_str(FILE *f, const char *s, size_t len);

/* Writes a NUL-terminated string, or null when s is NULL. */
void jsonw_cstr(FILE *f, const char *s);

/* Writes ,"key": (or "key": when first is true). */
void jsonw_key(FILE *f, const char *key, bool first);

#endif
