/* jsonw.c - JSON string escaping, and the stdio writer on top of it. */
#include <string.h>

#include "common/jsonw.h"
#include "common/utf8.h"

size_t jsonw_piece(const char *s, size_t len, unsigned flags, char esc[JSONW_ESC_MAX],
                   size_t *esc_len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    /* 8 plain bytes at a time: none >= 0x80, < 0x20, 0x7f, '"' or '\\' (each test may flag a
     * plain byte next to a special one, never miss one: the byte loop below then decides) */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (i + 8 <= len) {
        uint64_t w, q, b, d;
        memcpy(&w, p + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        d = w ^ (ones * 0x7f);
        if ((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) |
             ((d - ones) & ~d)) &
            highs)
            break;
        i += 8;
    }
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t n = c >= 0x80 ? utf8_seq(p + i, len - i, NULL) : 0;
        if (n == 0)
            break;
        i += n; /* valid multi-byte UTF-8: part of the run */
    }
    *esc_len = 0;
    if (i > 0)
        return i;
    unsigned char c = p[0];
    esc[0] = '\\';
    if (c == '"' || c == '\\') {
        esc[1] = (char)c;
        *esc_len = 2;
    } else if ((flags & JSONW_SHORT) && (c == '\n' || c == '\t')) {
        esc[1] = c == '\n' ? 'n' : 't';
        *esc_len = 2;
    } else {
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        *esc_len = 6;
    }
    return 0;
}

void jsonw_str(FILE *f, const char *s, size_t len)
{
    char esc[JSONW_ESC_MAX];
    size_t elen;

    fputc('"', f);
    while (len > 0) {
        size_t n = jsonw_piece(s, len, 0, esc, &elen);
        if (n) {
            fwrite(s, 1, n, f);
        } else {
            fwrite(esc, 1, elen, f);
            n = 1;
        }
        s += n;
        len -= n;
    }
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
