/* lake_layout.h -- where things go in the lake: the table of a topic and the
 * object key of a file.
 *
 * Contract
 * - lake_table_name(): capture group 1 of KAFKA_TOPIC_PATTERN when the
 *   pattern has one and it matches; otherwise the topic's last dot-separated
 *   part. Characters other than letters, digits, '_', '-' and '.' become '_'
 *   so a table name is always one safe path segment.
 * - lake_object_key(): <area>/<table>/year=YYYY/month=MM/day=DD/
 *   <table>_<YYYYMMDDTHHMMSSZ>_p<partition>_o<offset, 19 digits>.parquet
 *   with every date part from first_ts_ms, the time of the file's first
 *   message as lake_message_time() gives it (not the wall clock): a replay
 *   writes the same key.
 * - lake_message_time(): the time of the chosen clock (PARTITION_TIME): the
 *   Kafka timestamp, the envelope's source.ts_ms or its ts_ms. A message
 *   without it, or with one outside the years 1 to 9999, falls back to the
 *   first of these it has: the Kafka timestamp (-1 is none, as from a
 *   pre-0.10 message format), ts_ms, source.ts_ms, now_ms. Only the last is
 *   not the same on a replay.
 */
#ifndef CDCW_LAKE_LAYOUT_H
#define CDCW_LAKE_LAYOUT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns a malloc'd table name. */
char *lake_table_name(const regex_t *pattern, const char *topic);

/* Writes the key into out (at most size bytes, NUL-terminated). */
void lake_object_key(char *out, size_t size, const char *area, const char *table, int64_t first_ts_ms,
                     int32_t partition, int64_t start_offset);

/* PARTITION_TIME: the clock that places a message in the lake. */
enum lake_clock {
    LAKE_CLOCK_KAFKA = 0,  /* the record's timestamp */
    LAKE_CLOCK_SOURCE_TS,  /* source.ts_ms: when the database made the change */
    LAKE_CLOCK_TS,         /* ts_ms: when Debezium read it */
};

/* A message's clocks, in ms; has_*: whether the envelope carries that field. */
struct lake_times {
    int64_t kafka_ms; /* -1: the record has none */
    bool has_ts, has_source_ts;
    int64_t ts_ms, source_ts_ms;
    int64_t now_ms;
};

/* The time, in ms, that places a message in the lake (see the contract).
 * *fell_back tells whether it came from another clock than the chosen one. */
int64_t lake_message_time(enum lake_clock clock, const struct lake_times *t, bool *fell_back);

/* Days since 1970-01-01 (UTC) of a millisecond timestamp. */
int64_t lake_day(int64_t ts_ms);

#endif
