/*
 * events_sched.c — rate and cron schedule expressions (events_sched.h).
 * A cron is compiled into bit sets per field plus the day-of-month and
 * day-of-week specials; the next firing is found day by day (skipping
 * years and months outside their sets), then hour and minute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/nimbus.h"
#include "events_sched.h"

#define YEAR_MIN 1970
#define YEAR_MAX 2199
#define FIELD_MAX 128  /* characters in one cron field */

struct ev_sched {
    bool rate;
    int64_t period_ms;
    uint64_t minutes;       /* bit m */
    uint32_t hours;         /* bit h */
    uint64_t dom;           /* bit d (1..31) */
    uint16_t months;        /* bit m (1..12) */
    uint8_t dow;            /* bit d (1..7, 1 = Sunday) */
    uint64_t years[4];      /* bit y - YEAR_MIN */
    bool dom_any;           /* "?" in day-of-month */
    bool dow_any;           /* "?" in day-of-week */
    bool dom_last;          /* L */
    bool dom_last_weekday;  /* LW */
    int dom_nearest;        /* NW: day N, or 0 */
    int dow_last;           /* NL: day N, or 0 */
    int dow_nth_day, dow_nth; /* N#k */
};

void ev_sched_free(ev_sched *s)
{
    free(s);
}

/* ---- rate -------------------------------------------------------------------- */

static bool parse_rate(ev_sched *s, const char *body, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, body, n);
    buf[n] = 0;
    const char *p = buf;
    if (*p < '1' || *p > '9')
        return false;
    int64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > 100000000)
            return false;
    }
    if (*p++ != ' ')
        return false;
    static const struct {
        const char *one, *many;
        int64_t ms;
    } UNITS[] = {{"minute", "minutes", 60000}, {"hour", "hours", 3600000}, {"day", "days", 86400000}};
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(p, v == 1 ? UNITS[i].one : UNITS[i].many)) {
            s->rate = true;
            s->period_ms = v * UNITS[i].ms;
            return true;
        }
    return false;
}

/* ---- cron -------------------------------------------------------------------- */

static const char *const MONTHS[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const DAYS[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

typedef struct {
    int lo, hi;
    const char *const *names; /* names[0] is value lo, or NULL */
} range;

/* A number or (when names) a three-letter name at *p; -1 if none. */
static int value(const char **p, const range *r)
{
    const char *s = *p;
    if (r->names && ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) {
        for (int i = 0; i <= r->hi - r->lo; i++)
            if (!strncasecmp(s, r->names[i], 3)) {
                *p = s + 3;
                return r->lo + i;
            }
        return -1;
    }
    if (*s < '0' || *s > '9')
        return -1;
    int v = 0;
    while (*s >= '0' && *s <= '9' && v < 10000)
        v = v * 10 + (*s++ - '0');
    *p = s;
    return v >= r->lo && v <= r->hi ? v : -1;
}

static void set_bit(uint64_t *bits, int i)
{
    bits[i / 64] |= 1ull << (i % 64);
}

static bool get_bit(const uint64_t *bits, int i)
{
    return (bits[i / 64] >> (i % 64)) & 1;
}

/* A list of "*", "*\/k", "a", "a-b", "a/k", "a-b/k" items into bits
 * (bit v - base). */
static bool parse_list(const char *f, const range *r, uint64_t *bits, int base)
{
    const char *p = f;
    for (;;) {
        int lo, hi;
        if (*p == '*') {
            lo = r->lo;
            hi = r->hi;
            p++;
        } else {
            lo = value(&p, r);
            if (lo < 0)
                return false;
            hi = lo;
            if (*p == '-') {
                p++;
                hi = value(&p, r);
                if (hi < 0 || hi < lo)
                    return false;
            }
        }
        int step = 1;
        if (*p == '/') {
            p++;
            if (*p < '1' || *p > '9')
                return false;
            step = 0;
            while (*p >= '0' && *p <= '9' && step < 10000)
                step = step * 10 + (*p++ - '0');
            if (hi == lo)
                hi = r->hi; /* "a/k": from a to the end */
        }
        for (int v = lo; v <= hi; v += step)
            set_bit(bits, v - base);
        if (*p == 0)
            return true;
        if (*p++ != ',')
            return false;
    }
}

static bool parse_dom(ev_sched *s, const char *f)
{
    if (!strcmp(f, "?")) {
        s->dom_any = true;
        return true;
    }
    if (!strcmp(f, "L")) {
        s->dom_last = true;
        return true;
    }
    if (!strcmp(f, "LW")) {
        s->dom_last_weekday = true;
        return true;
    }
    size_t n = strlen(f);
    if (n >= 2 && f[n - 1] == 'W') {
        range r = {1, 31, NULL};
        const char *p = f;
        int d = value(&p, &r);
        if (d < 0 || *p != 'W' || p[1])
            return false;
        s->dom_nearest = d;
        return true;
    }
    range r = {1, 31, NULL};
    return parse_list(f, &r, &s->dom, 0);
}

static bool parse_dow(ev_sched *s, const char *f)
{
    range r = {1, 7, DAYS};
    if (!strcmp(f, "?")) {
        s->dow_any = true;
        return true;
    }
    if (!strcmp(f, "L")) {
        s->dow_last = 7;
        return true;
    }
    const char *hash = strchr(f, '#');
    size_t n = strlen(f);
    if (hash || (n >= 2 && f[n - 1] == 'L')) {
        const char *p = f;
        int d = value(&p, &r);
        if (d < 0)
            return false;
        if (hash) {
            if (p != hash || hash[1] < '1' || hash[1] > '5' || hash[2])
                return false;
            s->dow_nth_day = d;
            s->dow_nth = hash[1] - '0';
        } else {
            if (*p != 'L' || p[1])
                return false;
            s->dow_last = d;
        }
        return true;
    }
    uint64_t bits = 0;
    if (!parse_list(f, &r, &bits, 0))
        return false;
    s->dow = (uint8_t)bits;
    return true;
}

static bool parse_cron(ev_sched *s, const char *body, size_t n)
{
    char fields[6][FIELD_MAX];
    size_t nf = 0, i = 0;
    while (i < n) {
        while (i < n && body[i] == ' ')
            i++;
        if (i >= n)
            break;
        size_t j = i;
        while (j < n && body[j] != ' ')
            j++;
        if (nf == 6 || j - i >= FIELD_MAX)
            return false;
        memcpy(fields[nf], body + i, j - i);
        fields[nf++][j - i] = 0;
        i = j;
    }
    if (nf != 6)
        return false;
    range rm = {0, 59, NULL}, rh = {0, 23, NULL}, rmo = {1, 12, MONTHS},
          ry = {YEAR_MIN, YEAR_MAX, NULL};
    uint64_t h = 0, mo = 0;
    if (!parse_list(fields[0], &rm, &s->minutes, 0) || !parse_list(fields[1], &rh, &h, 0) ||
        !parse_dom(s, fields[2]) || !parse_list(fields[3], &rmo, &mo, 0) ||
        !parse_dow(s, fields[4]) || !parse_list(fields[5], &ry, s->years, YEAR_MIN))
        return false;
    s->hours = (uint32_t)h;
    s->months = (uint16_t)mo;
    return s->dom_any != s->dow_any; /* exactly one "?" */
}

ev_sched *ev_sched_parse(const char *expr)
{
    if (!expr)
        return NULL;
    size_t n = strlen(expr);
    if (n < 7 || n > 256 || expr[n - 1] != ')')
        return NULL;
    ev_sched *s = nb_calloc(1, sizeof *s);
    bool ok = false;
    if (!strncmp(expr, "rate(", 5))
        ok = parse_rate(s, expr + 5, n - 6);
    else if (!strncmp(expr, "cron(", 5))
        ok = parse_cron(s, expr + 5, n - 6);
    if (!ok) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---- evaluation ----------------------------------------------------------------- */

static int days_in_month(int y, int m)
{
    static const int D[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : D[m - 1];
}

/* Day of week, 1 = Sunday (Sakamoto). */
static int weekday(int y, int m, int d)
{
    static const int T[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + T[m - 1] + d) % 7 + 1;
}

/* The weekday nearest day d of the month (not crossing its bounds). */
static int nearest_weekday(int y, int m, int d)
{
    int dim = days_in_month(y, m);
    if (d > dim)
        d = dim;
    int w = weekday(y, m, d);
    if (w == 7)
        return d == 1 ? 3 : d - 1;
    if (w == 1)
        return d == dim ? d - 2 : d + 1;
    return d;
}

static bool day_matches(const ev_sched *s, int y, int m, int d)
{
    int dim = days_in_month(y, m);
    if (!s->dom_any) {
        if (s->dom_last)
            return d == dim;
        if (s->dom_last_weekday)
            return d == nearest_weekday(y, m, dim);
        if (s->dom_nearest)
            return d == nearest_weekday(y, m, s->dom_nearest);
        return (s->dom >> d) & 1;
    }
    int w = weekday(y, m, d);
    if (s->dow_last)
        return w == s->dow_last && d + 7 > dim;
    if (s->dow_nth)
        return w == s->dow_nth_day && (d - 1) / 7 + 1 == s->dow_nth;
    return (s->dow >> w) & 1;
}

/* Epoch ms of a UTC minute. */
static int64_t utc_ms(int y, int m, int d, int hh, int mm)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = hh, .tm_min = mm};
    return (int64_t)timegm(&tm) * 1000;
}

int64_t ev_sched_next(const ev_sched *s, int64_t anchor_ms, int64_t after_ms)
{
    if (s->rate) {
        if (after_ms < anchor_ms)
            return anchor_ms + s->period_ms;
        int64_t k = (after_ms - anchor_ms) / s->period_ms + 1;
        return anchor_ms + k * s->period_ms;
    }
    int64_t t = after_ms / 60000 * 60000 + 60000; /* next whole minute */
    time_t secs = (time_t)(t / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday, hh = tm.tm_hour, mm = tm.tm_min;
    if (y < YEAR_MIN) {
        y = YEAR_MIN;
        m = d = 1;
        hh = mm = 0;
    }
    for (; y <= YEAR_MAX; y++, m = 1, d = 1, hh = 0, mm = 0) {
        if (!get_bit(s->years, y - YEAR_MIN))
            continue;
        for (; m <= 12; m++, d = 1, hh = 0, mm = 0) {
            if (!((s->months >> m) & 1))
                continue;
            for (int dim = days_in_month(y, m); d <= dim; d++, hh = 0, mm = 0) {
                if (!day_matches(s, y, m, d))
                    continue;
                for (; hh < 24; hh++, mm = 0) {
                    if (!((s->hours >> hh) & 1))
                        continue;
                    for (; mm < 60; mm++)
                        if ((s->minutes >> mm) & 1)
                            return utc_ms(y, m, d, hh, mm);
                }
            }
        }
    }
    return -1;
}
