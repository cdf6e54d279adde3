/* check_ascii.c - Check suite for the small text helpers of common/ascii.h: field and word ends
 * (every byte value against strcspn()), blanks skipped, hex digits. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/ascii.h"
#include "tests/lib/crun.h"

/* Each byte value c at the end of "field" + c + "x": the field ends where strcspn() says. */
START_TEST(field_and_word_ends)
{
    for (unsigned c = 0; c < 256; c++) {
        char s[16] = "field";
        s[5] = (char)c;
        s[6] = 'x';
        s[7] = '\0';
        ck_assert_msg(ascii_field_end(s) == s + strcspn(s, " \t\r"), "byte %u", c);
        ck_assert_msg(ascii_word_end(s) == s + strcspn(s, " \t"), "byte %u", c);
        ck_assert_msg(ascii_field_end(s + 5) == s + 5 + strcspn(s + 5, " \t\r"), "byte %u first",
                      c);
    }
    char e[] = "";
    ck_assert_ptr_eq(ascii_field_end(e), e);
    ck_assert_ptr_eq(ascii_word_end(e), e);
    char r[] = "a\rb c";
    ck_assert_ptr_eq(ascii_field_end(r), r + 1);
    ck_assert_ptr_eq(ascii_word_end(r), r + 3); /* a CR is part of a word */
    char b[] = " \t x";
    ck_assert_ptr_eq(ascii_skip_blank(b), b + 3);
    ck_assert_int_eq(ascii_hexval('F'), 15);
    ck_assert_int_eq(ascii_hexval('g'), -1);
}
END_TEST

/* ascii_count_byte() against a byte-by-byte count: every byte value as the one counted, texts
 * of random bytes (runs of the counted byte, bytes with the top bit set, zeros), every length
 * 0..200 and offsets 0..7 (the word loop and the tail). */
START_TEST(count_byte)
{
    static const unsigned char cs[] = { '\n', 0, 0x7f, 0x80, 0xff, ' ', 0x0b, 0x8a };
    uint64_t r = 88172645463325252ull;
    unsigned char buf[216];
    for (size_t ci = 0; ci < sizeof(cs); ci++) {
        for (int round = 0; round < 60; round++) {
            for (size_t i = 0; i < sizeof(buf); i++) {
                r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                unsigned k = (unsigned)(r % 8);
                buf[i] = k < 3    ? cs[ci]
                         : k == 3 ? (unsigned char)(cs[ci] ^ 0x80)
                                  : (unsigned char)(r >> 24);
            }
            for (size_t off = 0; off < 8; off++)
                for (size_t n = 0; n + off <= 208; n++) {
                    size_t want = 0;
                    for (size_t i = 0; i < n; i++)
                        want += buf[off + i] == cs[ci];
                    ck_assert_uint_eq(ascii_count_byte((const char *)buf + off, n, cs[ci]), want);
                }
        }
    }
    /* a whole block of the byte, and of every other byte */
    memset(buf, '\n', sizeof(buf));
    ck_assert_uint_eq(ascii_count_byte((const char *)buf, sizeof(buf), '\n'), sizeof(buf));
    ck_assert_uint_eq(ascii_count_byte((const char *)buf, sizeof(buf), '\r'), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ascii");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, field_and_word_ends);
    tcase_add_test(tc, count_byte);
    suite_add_tcase(s, tc);
    return crun(s);
}
