/* jsonw.h - the one JSON string escaper, and a minimal JSON-lines writer for stdio streams on
 * top of it (output, reports). The logger (log.c) and the scan output (main.c) build lines in
 * their own buffers from the same pieces, so every JSON string the program writes is escaped
 * by jsonw_piece(). */
#ifndef QG_JSONW_H
#define QG_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSONW_ESC_MAX 6    /* longest escape of one byte: \u00XX */
#define JSONW_SHORT   0x1u /* flags: '\n' and '\t' as \n and \t (log lines), else \u000a, \u0009 */

/* The next piece of the body of the JSON string s[0, len) (len >= 1): returns n >= 1 when the
 * first n bytes go out as they are (printable ASCII other than '"' and '\\', and valid UTF-8
 * sequences: the longest such run), else 0 with the escape of the byte s[0] in esc[0, *esc_len)
 * ('"' and '\\' as \" and \\, other control bytes, DEL and bytes that are not valid UTF-8 as
 * \u00XX of the byte value, lowercase hex), so the result is always valid JSON. Reads nothing
 * past s[len - 1]. */
size_t jsonw_piece(const char *s, size_t len, unsigned flags, char esc[JSONW_ESC_MAX],
                   size_t *esc_len);

/* Writes s[0..len) as a JSON string (quotes included), escaped by jsonw_piece() (flags 0). */
void jsonw_str(FILE *f, const char *s, size_t len);

/* Writes a NUL-terminated string, or null when s is NULL. */
void jsonw_cstr(FILE *f, const char *s);

/* Writes ,"key": (or "key": when first is true). */
void jsonw_key(FILE *f, const char *key, bool first);

#endif
