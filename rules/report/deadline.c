/* deadline.c - deadline arithmetic in local calendar days (deadline.h).
 *
 * Dates are proleptic Gregorian day numbers (Howard Hinnant's days_from_civil and
 * civil_from_days), so month ends and leap years are plain arithmetic. The only thing taken
 * from the system is the zone's UTC offset at an instant: localtime_r() with TZ set to the
 * zone. TZ is process state, so the switch is done under a mutex and undone before it is
 * released; other threads calling localtime_r() at that moment would see the zone too, which
 * is why only the report commands (single-threaded CLI processes) call this, never the
 * daemon's threads. A zone the database lacks is detected by the name tzset() could not load:
 * glibc then falls back to UTC with tm_zone "UTC" or the name itself, so the zone file is
 * checked to exist under /usr/share/zoneinfo first. */
#include "rules/report/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

int64_t deadline_days_from_civil(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void deadline_civil_from_days(int64_t z, struct deadline_date *out)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    out->year = (int)(y + (m <= 2));
    out->month = (int)m;
    out->day = (int)d;
}

/* "+HH:MM" / "-HH:MM" / "UTC" / "Z": a fixed offset. Returns 0 and *off, or -1. */
static int fixed_offset(const char *z, int32_t *off)
{
    if (strcmp(z, "UTC") == 0 || strcmp(z, "Z") == 0 || strcmp(z, "Etc/UTC") == 0) {
        *off = 0;
        return 0;
    }
    if ((z[0] != '+' && z[0] != '-') || strlen(z) != 6 || z[3] != ':')
        return -1;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (z[i] < '0' || z[i] > '9'))
            return -1;
    int h = (z[1] - '0') * 10 + (z[2] - '0'), m = (z[4] - '0') * 10 + (z[5] - '0');
    if (h > 14 || m > 59)
        return -1;
    *off = (int32_t)((h * 3600 + m * 60) * (z[0] == '-' ? -1 : 1));
    return 0;
}

static int zone_known(const char *zone)
{
    if (!zone[0] || zone[0] == '/' || strstr(zone, ".."))
        return 0;
    for (const char *p = zone; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return 0;
    char path[512];
    const char *dir = getenv("TZDIR");
    snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    return access(path, R_OK) == 0;
}

bool deadline_tz_valid(const char *zone)
{
    int32_t off;
    return zone && (fixed_offset(zone, &off) == 0 || zone_known(zone));
}

/* Offsets already looked up, per zone and quarter hour (every offset in use is a multiple of
 * 15 minutes, so are the instants it changes at — a quarter is cached only when its first and
 * last second have the same offset, which also covers the historic local mean times). Reports
 * format thousands of times; each lookup otherwise switches TZ and reloads the zone. */
#define TZ_CACHE   512
#define TZ_QUARTER 900
struct tz_cached {
    char zone[64];
    int64_t q;
    int32_t off;
};
static struct tz_cached tz_cache[TZ_CACHE];

static size_t tz_slot(const char *zone, int64_t q)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)q;
    for (const char *p = zone; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return (size_t)(h % TZ_CACHE);
}

/* The offsets of zone at ts[0..n) with one switch of TZ. Caller holds tz_lock. */
static bool tz_lookup(const char *zone, const int64_t *ts, int32_t *off, size_t n)
{
    const char *prev = getenv("TZ");
    char *saved = prev ? strdup(prev) : NULL;
    setenv("TZ", zone, 1);
    tzset();
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        time_t t = (time_t)ts[i];
        struct tm tm;
        ok = localtime_r(&t, &tm) != NULL;
        off[i] = ok ? (int32_t)tm.tm_gmtoff : 0;
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return ok;
}

int deadline_tz_offset(const char *zone, int64_t ts, int32_t *off, char *err, size_t errlen)
{
    if (!zone || !zone[0])
        zone = DEADLINE_DEFAULT_TZ;
    if (fixed_offset(zone, off) == 0)
        return 0;
    int64_t q = (ts >= 0 ? ts : ts - (TZ_QUARTER - 1)) / TZ_QUARTER;
    bool cacheable = strlen(zone) < sizeof(tz_cache[0].zone);
    size_t slot = cacheable ? tz_slot(zone, q) : 0;
    pthread_mutex_lock(&tz_lock);
    if (cacheable && tz_cache[slot].q == q && strcmp(tz_cache[slot].zone, zone) == 0) {
        *off = tz_cache[slot].off;
        pthread_mutex_unlock(&tz_lock);
        return 0;
    }
    pthread_mutex_unlock(&tz_lock);
    if (!zone_known(zone)) {
        snprintf(err, errlen, "time zone '%s': not in the time zone database", zone);
        return -EINVAL;
    }
    int64_t at[3] = { ts, q * TZ_QUARTER, q * TZ_QUARTER + TZ_QUARTER - 1 };
    int32_t got[3];
    pthread_mutex_lock(&tz_lock);
    bool ok = tz_lookup(zone, at, got, 3);
    if (ok && cacheable && got[1] == got[2]) {
        snprintf(tz_cache[slot].zone, sizeof(tz_cache[slot].zone), "%s", zone);
        tz_cache[slot].q = q;
        tz_cache[slot].off = got[1];
    }
    pthread_mutex_unlock(&tz_lock);
    if (!ok) {
        snprintf(err, errlen, "time zone '%s': time %lld out of range", zone, (long long)ts);
        return -EINVAL;
    }
    *off = got[0];
    return 0;
}

int deadline_compute(int64_t received, unsigned days, const char *zone, struct deadline_date *date,
                     int64_t *end, char *err, size_t errlen)
{
    if (days > 3650) {
        snprintf(err, errlen, "deadline of %u days: at most 3650", days);
        return -EINVAL;
    }
    int32_t off;
    int rc = deadline_tz_offset(zone, received, &off, err, errlen);
    if (rc)
        return rc;
    int64_t local = received + off;
    int64_t day = (local >= 0 ? local : local - 86399) / 86400;
    deadline_civil_from_days(day + days, date);
    /* Local midnight of the next day, as UTC: the offset there may differ (a DST change or a
     * zone's own change, e.g. Asia/Almaty from +06 to +05 on 2024-03-01), so look it up at the
     * first guess and correct once. */
    int64_t lm = (day + days + 1) * 86400;
    int32_t o2;
    if ((rc = deadline_tz_offset(zone, lm - off, &o2, err, errlen)) != 0)
        return rc;
    int32_t o3;
    if ((rc = deadline_tz_offset(zone, lm - o2, &o3, err, errlen)) != 0)
        return rc;
    *end = lm - o3;
    return 0;
}

void deadline_date_format(const struct deadline_date *d, char out[16])
{
    snprintf(out, 16, "%04d-%02d-%02d", d->year % 10000, d->month % 100, d->day % 100);
}

void deadline_local_format(int64_t ts, const char *zone, char out[40])
{
    int32_t off = 0;
    char err[128];
    if (deadline_tz_offset(zone, ts, &off, err, sizeof(err)) != 0)
        off = 0;
    int64_t l = ts + off;
    int64_t day = (l >= 0 ? l : l - 86399) / 86400, sec = l - day * 86400;
    struct deadline_date d;
    deadline_civil_from_days(day, &d);
    int32_t a = off < 0 ? -off : off;
    snprintf(out, 40, "%04d-%02d-%02d %02d:%02d:%02d %c%02d:%02d", d.year % 10000, d.month % 100,
             d.day % 100, (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60),
             off < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}
