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

static void the_message_time_falls_back_to_the_envelope_then_the_source(void **state)
{
    (void)state;
    const int64_t kafka = 1700000000000LL, env = 1700000001000LL, src = 1700000002000LL, now = 1800000000000LL;
    assert_int_equal(lake_message_time(kafka, true, env, true, src, now), kafka);
    assert_int_equal(lake_message_time(0, true, env, true, src, now), 0); /* 0 is a timestamp */
    assert_int_equal(lake_message_time(-1, true, env, true, src, now), env);
    assert_int_equal(lake_message_time(-1, false, env, true, src, now), src);
    assert_int_equal(lake_message_time(-1, false, env, false, src, now), now);
    /* The same message gives the same time whenever it is read, unless it
     * carries no time at all. */
    assert_int_equal(lake_message_time(-1, true, env, false, 0, now), lake_message_time(-1, true, env, false, 0, now + 5000));
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
        cmocka_unit_test(the_message_time_falls_back_to_the_envelope_then_the_source),
        cmocka_unit_test(days_round_towards_the_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
