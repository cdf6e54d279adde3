/* check_sum64.c - Check suite for common/sum64.h (XXH64): the reference algorithm's values (taken
 * from xxHash's own library, libxxhash 0.8.1, over the bytes (i * 131 + 7) mod 256) for every
 * path through it (no stripe, 4- and 8-byte tails, whole stripes, stripes and a tail), the streamed
 * sum equal to the one-shot one whatever the pieces, and every single bit flip or dropped byte of
 * a buffer seen. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/sum64.h"
#include "tests/lib/crun.h"

static uint8_t data[4096];

static void fill(void)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
}

START_TEST(reference_values)
{
    static const struct {
        size_t n;
        uint64_t h;
    } want[] = {
        { 0, 0xef46db3751d8e999ull },   { 1, 0xa96c7f0ce858bbb7ull },
        { 3, 0xbed43740ee6332bbull },   { 4, 0xfa212ae44b3bb23dull },
        { 7, 0x2744460dd675d2c0ull },   { 8, 0x994b676b71ce94ddull },
        { 31, 0x6711d55e306b5d8full },  { 32, 0x07f7b8e3bc5d6e25ull },
        { 33, 0x09f85eeb4e1cbe9full },  { 63, 0xb7c9968c066cb6a5ull },
        { 64, 0x50d4159a0411632eull },  { 100, 0x9ddada11d3dc2d8full },
        { 255, 0x15a6db05d4e83df4ull }, { 300, 0xc68e7ef39b5ca10eull },
    };
    fill();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(sum64(data, want[i].n) == want[i].h, "length %zu", want[i].n);
}
END_TEST

/* Pieces of 0..70 bytes in a fixed pseudo-random order, at every starting alignment. */
START_TEST(streamed_equals_one_shot)
{
    fill();
    unsigned x = 1;
    for (size_t n = 0; n < 700; n += 13) {
        struct sum64 s;
        sum64_init(&s);
        size_t at = 0;
        while (at < n) {
            x = x * 1103515245u + 12345u;
            size_t k = (x >> 16) % 71;
            if (k > n - at)
                k = n - at;
            sum64_update(&s, data + at, k);
            at += k;
        }
        sum64_update(&s, NULL, 0); /* an empty piece (an empty image section) adds nothing */
        ck_assert_msg(sum64_final(&s) == sum64(data, n), "length %zu", n);
        ck_assert(sum64_final(&s) == sum64_final(&s)); /* final leaves the state alone */
    }
}
END_TEST

START_TEST(flips_and_drops_seen)
{
    fill();
    const size_t n = 1000;
    uint64_t h = sum64(data, n);
    for (size_t i = 0; i < n * 8; i++) {
        data[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_msg(sum64(data, n) != h, "bit %zu", i);
        data[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    ck_assert(sum64(data, n - 1) != h);
    ck_assert(sum64(data + 1, n - 1) != h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sum64");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reference_values);
    tcase_add_test(tc, streamed_equals_one_shot);
    tcase_add_test(tc, flips_and_drops_seen);
    suite_add_tcase(s, tc);
    return crun(s);
}
