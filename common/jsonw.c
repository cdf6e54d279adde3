/* jsonw.c - JSON string escaping. */
#include <string.h>

#include "jsonw.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

void jsonw_str(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;   /* p[run..i) is pending: bytes written as they are */

    fputc('"', f);
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t n = (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) ? 0 : utf8_seq(p + i, len - i);
        if (n) {
            i += n;   /* valid multi-byte UTF-8: part of the run */
            continue;
        }
        if (i > run)
            fwrite(p + run, 1, i - run, f);
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else {
            fprintf(f, "\\u%04x", c);
        }
        run = ++i;
    }
    if (i > run)
        fwrite(p + run, 1, i - run, f);
    fputc('"', f);
}

void jsonw_cstr(FILE *f, const char *s)
{
    if (!s)
        fputs("null", f);
    else
        jsonw_str(f, s, strlen(s));
}

void jsonw_key(FILE *f, const char *key, bool first)
{
    if (!first)
        fputc(',', f);
    fputc('"', f);
    fputs(key, f);
    fputs("\":", f);
}
