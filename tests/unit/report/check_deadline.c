/* check_deadline.c - deadline arithmetic in local calendar days: month ends, leap years,
 * received just before and after midnight in Asia/Almaty, fixed offsets and UTC, the
 * civil <-> day-number conversion over four centuries, and unknown zones refused. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/orders/order.h"
#include "rules/report/deadline.h"

static int64_t at(const char *rfc3339)
{
    int64_t ts;
    ck_assert_msg(order_time_parse(rfc3339, &ts), "%s", rfc3339);
    return ts;
}

struct dcase {
    const char *received;
    unsigned days;
    const char *zone;
    const char *date; /* the last day */
    const char *end;  /* the instant the deadline ends, RFC 3339 */
};

static const struct dcase cases[] = {
    /* the month ends of the brief */
    { "2026-01-25T10:00:00+05:00", 10, "Asia/Almaty", "2026-02-04", "2026-02-05T00:00:00+05:00" },
    { "2026-02-20T10:00:00+05:00", 10, "Asia/Almaty", "2026-03-02", "2026-03-03T00:00:00+05:00" },
    /* leap years: 2028 has 29 February, 2100 does not, 2000 does */
    { "2028-02-20T12:00:00+05:00", 10, "Asia/Almaty", "2028-03-01", "2028-03-02T00:00:00+05:00" },
    { "2028-02-19T12:00:00+05:00", 10, "Asia/Almaty", "2028-02-29", "2028-03-01T00:00:00+05:00" },
    { "2100-02-20T12:00:00Z", 10, "UTC", "2100-03-02", "2100-03-03T00:00:00Z" },
    { "2000-02-20T12:00:00Z", 10, "UTC", "2000-03-01", "2000-03-02T00:00:00Z" },
    /* around Almaty midnight: 23:59 local is still the 24th, 00:00 is the 25th */
    { "2026-01-24T18:59:59Z", 10, "Asia/Almaty", "2026-02-03", "2026-02-04T00:00:00+05:00" },
    { "2026-01-24T19:00:00Z", 10, "Asia/Almaty", "2026-02-04", "2026-02-05T00:00:00+05:00" },
    /* the same instant in UTC is still the 24th */
    { "2026-01-24T19:00:00Z", 10, "UTC", "2026-02-03", "2026-02-04T00:00:00Z" },
    /* year end, December 31 days */
    { "2026-12-25T09:00:00+05:00", 10, "Asia/Almaty", "2027-01-04", "2027-01-05T00:00:00+05:00" },
    /* a fixed offset, a configured number of days */
    { "2026-04-30T23:30:00-03:30", 1, "-03:30", "2026-05-01", "2026-05-02T00:00:00-03:30" },
    { "2026-04-30T10:00:00+05:00", 0, "Asia/Almaty", "2026-04-30", "2026-05-01T00:00:00+05:00" },
    /* before Almaty moved from +06 to +05 (2024-03-01): the day is counted in +06 */
    { "2024-02-10T18:30:00Z", 10, "Asia/Almaty", "2024-02-21", "2024-02-22T00:00:00+06:00" },
    /* received under +06, deadline under +05: the end is midnight of the new offset */
    { "2024-02-25T12:00:00Z", 10, "Asia/Almaty", "2024-03-06", "2024-03-07T00:00:00+05:00" },
};

START_TEST(deadline_cases)
{
    const struct dcase *c = &cases[_i];
    struct deadline_date d;
    int64_t end;
    char err[256], date[16];
    ck_assert_msg(deadline_compute(at(c->received), c->days, c->zone, &d, &end, err, sizeof(err)) ==
                      0,
                  "%s", err);
    deadline_date_format(&d, date);
    ck_assert_str_eq(date, c->date);
    ck_assert_int_eq(end, at(c->end));
}
END_TEST

START_TEST(civil_roundtrip)
{
    struct deadline_date d;
    ck_assert_int_eq(deadline_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(deadline_days_from_civil(2000, 3, 1), 11017);
    int64_t prev = deadline_days_from_civil(1899, 12, 31);
    for (int64_t z = prev + 1; z < deadline_days_from_civil(2301, 1, 1); z++) {
        deadline_civil_from_days(z, &d);
        ck_assert_int_eq(deadline_days_from_civil(d.year, d.month, d.day), z);
        ck_assert(d.day >= 1 && d.day <= 31 && d.month >= 1 && d.month <= 12);
    }
    deadline_civil_from_days(deadline_days_from_civil(2028, 2, 28) + 1, &d);
    ck_assert_int_eq(d.month * 100 + d.day, 229);
    deadline_civil_from_days(deadline_days_from_civil(2026, 2, 28) + 1, &d);
    ck_assert_int_eq(d.month * 100 + d.day, 301);
}
END_TEST

START_TEST(offsets_and_refusals)
{
    int32_t off;
    char err[256];
    ck_assert_int_eq(
        deadline_tz_offset("Asia/Almaty", at("2026-06-01T00:00:00Z"), &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, 5 * 3600);
    ck_assert_int_eq(
        deadline_tz_offset("Asia/Almaty", at("2023-06-01T00:00:00Z"), &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, 6 * 3600);
    ck_assert_int_eq(
        deadline_tz_offset("Europe/Berlin", at("2026-07-01T00:00:00Z"), &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, 2 * 3600);
    /* a DST change inside a cached quarter hour: both sides, asked twice (the second from the
     * cache) */
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(
            deadline_tz_offset("Europe/Berlin", at("2026-03-29T00:59:59Z"), &off, err, sizeof(err)),
            0);
        ck_assert_int_eq(off, 3600);
        ck_assert_int_eq(
            deadline_tz_offset("Europe/Berlin", at("2026-03-29T01:00:00Z"), &off, err, sizeof(err)),
            0);
        ck_assert_int_eq(off, 7200);
        /* Almaty's local mean time until 1924: an offset that is no multiple of 15 minutes */
        ck_assert_int_eq(
            deadline_tz_offset("Asia/Almaty", at("1900-01-01T00:00:00Z"), &off, err, sizeof(err)),
            0);
        ck_assert_int_eq(off, 5 * 3600 + 7 * 60 + 48);
    }
    ck_assert_int_eq(deadline_tz_offset("+05:45", 0, &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, 5 * 3600 + 45 * 60);
    ck_assert(deadline_tz_valid("Asia/Almaty") && deadline_tz_valid("UTC") &&
              deadline_tz_valid("+05:00"));
    ck_assert(!deadline_tz_valid("Mars/Olympus") && !deadline_tz_valid("../x") &&
              !deadline_tz_valid(""));
    ck_assert_int_eq(deadline_tz_offset("Mars/Olympus", 0, &off, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "Mars/Olympus"));
    ck_assert_int_eq(deadline_tz_offset("../../etc/passwd", 0, &off, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(deadline_tz_offset("+25:00", 0, &off, err, sizeof(err)), -EINVAL);
    struct deadline_date d;
    int64_t end;
    ck_assert_int_eq(deadline_compute(0, 4000, "UTC", &d, &end, err, sizeof(err)), -EINVAL);
    /* the process's own TZ is left as it was */
    setenv("TZ", "America/New_York", 1);
    ck_assert_int_eq(deadline_tz_offset("Asia/Almaty", 0, &off, err, sizeof(err)), 0);
    ck_assert_str_eq(getenv("TZ"), "America/New_York");
    unsetenv("TZ");
    char out[40];
    deadline_local_format(at("2026-02-04T19:00:00Z"), "Asia/Almaty", out);
    ck_assert_str_eq(out, "2026-02-05 00:00:00 +05:00");
    deadline_local_format(at("2026-02-04T19:00:00Z"), "-03:30", out);
    ck_assert_str_eq(out, "2026-02-04 15:30:00 -03:30");
}
END_TEST

static Suite *deadline_suite(void)
{
    Suite *s = suite_create("deadline");
    TCase *tc = tcase_create("valid");
    tcase_add_loop_test(tc, deadline_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, civil_roundtrip);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, offsets_and_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(deadline_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
