/* lake_layout.c -- see lake_layout.h. */
#include "lake_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

static char *sanitized(const char *s, size_t n)
{
    char *t = xstrndup(s, n);
    for (char *p = t; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            *p = '_';
    }
    if (t[0] == '\0' || strcmp(t, ".") == 0 || strcmp(t, "..") == 0) {
        free(t);
        return xstrdup("_");
    }
    return t;
}

char *lake_table_name(const regex_t *pattern, const char *topic)
{
    regmatch_t m[2];
    if (pattern != NULL && pattern->re_nsub >= 1 && regexec(pattern, topic, 2, m, 0) == 0 &&
        m[1].rm_so >= 0 && m[1].rm_eo > m[1].rm_so)
        return sanitized(topic + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    const char *dot = strrchr(topic, '.');
    const char *last = dot ? dot + 1 : topic;
    return sanitized(last, strlen(last));
}

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: a key's year has four digits. */
#define LAKE_FIRST_MS (-62135596800000LL)
#define LAKE_LAST_MS 253402300799999LL

static bool in_range(int64_t ms)
{
    return ms >= LAKE_FIRST_MS && ms <= LAKE_LAST_MS;
}

int64_t lake_message_time(enum lake_clock clock, const struct lake_times *t, bool *fell_back)
{
    *fell_back = false;
    if (clock == LAKE_CLOCK_SOURCE_TS && t->has_source_ts && in_range(t->source_ts_ms))
        return t->source_ts_ms;
    if (clock == LAKE_CLOCK_TS && t->has_ts && in_range(t->ts_ms))
        return t->ts_ms;
    if (t->kafka_ms >= 0 && in_range(t->kafka_ms)) {
        *fell_back = clock != LAKE_CLOCK_KAFKA;
        return t->kafka_ms;
    }
    *fell_back = true;
    if (t->has_ts && in_range(t->ts_ms))
        return t->ts_ms;
    if (t->has_source_ts && in_range(t->source_ts_ms))
        return t->source_ts_ms;
    return t->now_ms;
}

int64_t lake_day(int64_t ts_ms)
{
    int64_t secs = ts_ms >= 0 ? ts_ms / 1000 : -((-ts_ms + 999) / 1000);
    return secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
}

void lake_object_key(char *out, size_t size, const char *area, const char *table, int64_t first_ts_ms,
                     int32_t partition, int64_t start_offset)
{
    time_t secs = (time_t)(first_ts_ms >= 0 ? first_ts_ms / 1000 : -((-first_ts_ms + 999) / 1000));
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, size, "%s/%s/year=%04d/month=%02d/day=%02d/%s_%04d%02d%02dT%02d%02d%02dZ_p%d_o%019lld.parquet",
             area, table, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, table, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)partition,
             (long long)start_offset);
}
