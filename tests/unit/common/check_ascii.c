/* check_ascii.c - Check suite for the small text helpers of common/ascii.h: field and word ends
 * (every byte value against strcspn()), blanks skipped, hex digits. */
#include <check.h>
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

int main(void)
{
    Suite *s = suite_create("ascii");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, field_and_word_ends);
    suite_add_tcase(s, tc);
    return crun(s);
}
