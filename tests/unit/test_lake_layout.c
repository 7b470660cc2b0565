/* Unit tests of lake_layout.c: table names, object keys and the time that
 * places a message in the lake. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lake_layout.h"

static void the_table_is_the_capture_group_or_the_last_part(void **state)
{
    (void)state;
    regex_t re;
    assert_int_equal(regcomp(&re, "^cdc\\.[^.]+\\.[^.]+\\.(.*)$", REG_EXTENDED), 0);
    char *t = lake_table_name(&re, "cdc.oltp.public.orders");
    assert_string_equal(t, "orders");
    free(t);
    t = lake_table_name(&re, "other.topic");
    assert_string_equal(t, "topic"); /* no match: the last part */
    free(t);
    t = lake_table_name(NULL, "cdc.oltp.public.a/b c");
    assert_string_equal(t, "a_b_c");
    free(t);
    t = lake_table_name(NULL, "cdc.oltp.public...");
    assert_string_equal(t, "_"); /* never an empty or dot segment */
    free(t);
    regfree(&re);
}

static void the_key_is_dated_by_the_first_message(void **state)
{
    (void)state;
    char key[256];
    lake_object_key(key, sizeof key, "cdc_events", "orders", 1764633600123LL, 3, 42);
    assert_string_equal(key, "cdc_events/orders/year=2025/month=12/day=02/"
                             "orders_20251202T000000Z_p3_o0000000000000000042.parquet");
    lake_object_key(key, sizeof key, "cdc_errors", "t", -1, 0, 0); /* 1969-12-31T23:59:59 */
    assert_string_equal(key, "cdc_errors/t/year=1969/month=12/day=31/t_19691231T235959Z_p0_o0000000000000000000.parquet");
}

/* The time under the chosen clock; *fb is whether it fell back. */
static int64_t at(enum lake_clock clock, int64_t kafka, bool has_ts, int64_t ts, bool has_src, int64_t src,
                  int64_t now, bool *fb)
{
    struct lake_times t = {.kafka_ms = kafka, .has_ts = has_ts, .ts_ms = ts, .has_source_ts = has_src,
                           .source_ts_ms = src, .now_ms = now};
    return lake_message_time(clock, &t, fb);
}

static void the_kafka_clock_falls_back_to_the_envelope_then_the_source(void **state)
{
    (void)state;
    const int64_t kafka = 1700000000000LL, env = 1700000001000LL, src = 1700000002000LL, now = 1800000000000LL;
    bool fb = true;
    assert_int_equal(at(LAKE_CLOCK_KAFKA, kafka, true, env, true, src, now, &fb), kafka);
    assert_false(fb);
    assert_int_equal(at(LAKE_CLOCK_KAFKA, 0, true, env, true, src, now, &fb), 0); /* 0 is a timestamp */
    assert_false(fb);
    assert_int_equal(at(LAKE_CLOCK_KAFKA, -1, true, env, true, src, now, &fb), env);
    assert_true(fb);
    assert_int_equal(at(LAKE_CLOCK_KAFKA, -1, false, env, true, src, now, &fb), src);
    assert_int_equal(at(LAKE_CLOCK_KAFKA, -1, false, env, false, src, now, &fb), now);
    assert_true(fb);
    /* The same message gives the same time whenever it is read, unless it
     * carries no time at all. */
    assert_int_equal(at(LAKE_CLOCK_KAFKA, -1, true, env, false, 0, now, &fb),
                     at(LAKE_CLOCK_KAFKA, -1, true, env, false, 0, now + 5000, &fb));
}

static void the_source_and_envelope_clocks_fall_back_to_the_kafka_timestamp(void **state)
{
    (void)state;
    const int64_t kafka = 1700000000000LL, env = 1700000001000LL, src = 1600000002000LL, now = 1800000000000LL;
    bool fb = true;
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, kafka, true, env, true, src, now, &fb), src);
    assert_false(fb);
    assert_int_equal(at(LAKE_CLOCK_TS, kafka, true, env, true, src, now, &fb), env);
    assert_false(fb);
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, kafka, true, env, true, 0, now, &fb), 0); /* 1970 is a time */
    assert_false(fb);
    /* Without the field: the Kafka timestamp, counted as a fallback. */
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, kafka, true, env, false, src, now, &fb), kafka);
    assert_true(fb);
    fb = false;
    assert_int_equal(at(LAKE_CLOCK_TS, kafka, false, env, true, src, now, &fb), kafka);
    assert_true(fb);
    /* Without a Kafka timestamp either: the chain of the Kafka clock. */
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, -1, true, env, false, src, now, &fb), env);
    assert_int_equal(at(LAKE_CLOCK_TS, -1, false, env, true, src, now, &fb), src);
    assert_int_equal(at(LAKE_CLOCK_TS, -1, false, env, false, src, now, &fb), now);
    assert_true(fb);
}

static void a_time_outside_four_digit_years_is_not_used(void **state)
{
    (void)state;
    const int64_t kafka = 1700000000000LL, now = 1800000000000LL;
    const int64_t first = -62135596800000LL, last = 253402300799999LL; /* 0001-01-01, 9999-12-31 */
    bool fb = true;
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, kafka, false, 0, true, first, now, &fb), first);
    assert_false(fb);
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, kafka, false, 0, true, last, now, &fb), last);
    assert_int_equal(at(LAKE_CLOCK_SOURCE_TS, kafka, false, 0, true, first - 1, now, &fb), kafka);
    assert_true(fb);
    assert_int_equal(at(LAKE_CLOCK_TS, kafka, true, last + 1, false, 0, now, &fb), kafka);
    assert_int_equal(at(LAKE_CLOCK_TS, kafka, true, INT64_MAX, false, 0, now, &fb), kafka);
    assert_int_equal(at(LAKE_CLOCK_KAFKA, last + 1, true, INT64_MIN, false, 0, now, &fb), now);
    assert_true(fb);
    char key[256];
    lake_object_key(key, sizeof key, "cdc_events", "t", last, 0, 0);
    assert_string_equal(key, "cdc_events/t/year=9999/month=12/day=31/t_99991231T235959Z_p0_o0000000000000000000.parquet");
    lake_object_key(key, sizeof key, "cdc_events", "t", first, 0, 0);
    assert_string_equal(key, "cdc_events/t/year=0001/month=01/day=01/t_00010101T000000Z_p0_o0000000000000000000.parquet");
}

static void days_round_towards_the_past(void **state)
{
    (void)state;
    assert_int_equal(lake_day(0), 0);
    assert_int_equal(lake_day(86399999), 0);
    assert_int_equal(lake_day(86400000), 1);
    assert_int_equal(lake_day(-1), -1);
    assert_int_equal(lake_day(-86400000), -1);
    assert_int_equal(lake_day(-86400001), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table_is_the_capture_group_or_the_last_part),
        cmocka_unit_test(the_key_is_dated_by_the_first_message),
        cmocka_unit_test(the_kafka_clock_falls_back_to_the_envelope_then_the_source),
        cmocka_unit_test(the_source_and_envelope_clocks_fall_back_to_the_kafka_timestamp),
        cmocka_unit_test(a_time_outside_four_digit_years_is_not_used),
        cmocka_unit_test(days_round_towards_the_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
