/* jsonw.c - JSON string escaping. */
#include <string.h>

#include "common/jsonw.h"
#include "common/utf8.h"

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
        size_t n = (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) ? 0 : utf8_seq(p + i, len - i, NULL);
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
