/* deadline.h - the deadline of an order: received + N local calendar days, in a time zone.
 *
 * An order received at some instant must be enforced within N days (Article 41-1: 10 by
 * default, `report.deadline_days`). The days are calendar days of the operator's local time
 * (`report.timezone`, Asia/Almaty by default): the received instant's local date D, the
 * deadline date D + N, and the deadline instant the end of that local day, i.e. local midnight
 * starting D + N + 1 (exclusive). Received 2026-01-25 (any time of that local day) gives the
 * deadline date 2026-02-04, met by anything enforced before 2026-02-05 00:00 local.
 *
 * The zone's UTC offset at an instant comes from the system time zone database through
 * localtime_r() with TZ set to the zone for the call, under a process-wide mutex, the previous
 * TZ put back afterwards (deadline.c explains why this is safe where it is used). */
#ifndef QG_DEADLINE_H
#define QG_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEADLINE_DEFAULT_DAYS 10
#define DEADLINE_DEFAULT_TZ   "Asia/Almaty"

/* A calendar date. */
struct deadline_date {
    int year, month, day; /* month 1..12, day 1..31 */
};

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. Pure arithmetic. */
int64_t deadline_days_from_civil(int year, int month, int day);
void deadline_civil_from_days(int64_t days, struct deadline_date *out);

/* The UTC offset (seconds east) of zone at Unix time ts. zone: an IANA name ("Asia/Almaty"),
 * "UTC", or a fixed "+05:00"/"-03:30". Returns 0, or -EINVAL with a message when the zone is
 * not in the time zone database. */
int deadline_tz_offset(const char *zone, int64_t ts, int32_t *off, char *err, size_t errlen);

/* True when zone is one deadline_tz_offset() accepts (a fixed offset, UTC, or a name whose file
 * is in the time zone database). Touches no process state (TZ): safe in any thread. */
bool deadline_tz_valid(const char *zone);

/* The deadline of an order received at received (Unix seconds): *date (the last local day) and
 * *end (Unix seconds of the local midnight after it: the deadline is met strictly before).
 * Returns 0 or -EINVAL (days > 3650, a zone not found) with a message in err. */
int deadline_compute(int64_t received, unsigned days, const char *zone, struct deadline_date *date,
                     int64_t *end, char *err, size_t errlen);

/* "YYYY-MM-DD" into out (at least 11 bytes). */
void deadline_date_format(const struct deadline_date *d, char out[16]);

/* Formats Unix time ts as local time of zone: "YYYY-MM-DD HH:MM:SS +05:00" (out >= 32 bytes).
 * A zone not found formats UTC ("... +00:00"). */
void deadline_local_format(int64_t ts, const char *zone, char out[40]);

#endif
