/* Unit tests of log.c: levels, one line per event, text and JSON formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "log.h"

struct capture {
    char *text;
    size_t len;
    FILE *f;
};

static void capture_open(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static void capture_close(struct capture *c)
{
    fclose(c->f);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_level_names_parse(void **state)
{
    (void)state;
    enum log_level lv;
    assert_true(log_level_parse("debug", &lv));
    assert_int_equal(lv, LOG_DEBUG);
    assert_true(log_level_parse("Warning", &lv));
    assert_int_equal(lv, LOG_WARNING);
    assert_true(log_level_parse("WARN", &lv));
    assert_int_equal(lv, LOG_WARNING);
    assert_true(log_level_parse("CRITICAL", &lv));
    assert_int_equal(lv, LOG_ERROR);
    assert_false(log_level_parse("verbose", &lv));
    assert_false(log_level_parse("", &lv));
    enum log_format fmt;
    assert_true(log_format_parse("JSON", &fmt));
    assert_int_equal(fmt, LOG_FORMAT_JSON);
    assert_false(log_format_parse("xml", &fmt));
}

static void test_below_level_is_dropped(void **state)
{
    (void)state;
    struct capture c;
    capture_open(&c);
    struct log lg = {.level = LOG_WARNING, .format = LOG_FORMAT_TEXT, .out = c.f};
    log_info(&lg, "not shown %d", 1);
    log_debug(&lg, "not shown either");
    log_warn(&lg, "shown %s", "warning");
    log_error(&lg, "shown error");
    capture_close(&c);
    assert_int_equal(count_lines(c.text), 2);
    assert_null(strstr(c.text, "not shown"));
    assert_non_null(strstr(c.text, " WARNING shown warning\n"));
    assert_non_null(strstr(c.text, " ERROR   shown error\n"));
    free(c.text);
}

static void test_text_line_has_utc_timestamp(void **state)
{
    (void)state;
    struct capture c;
    capture_open(&c);
    struct log lg = {.level = LOG_DEBUG, .format = LOG_FORMAT_TEXT, .out = c.f};
    log_info(&lg, "a message\nwith a newline");
    capture_close(&c);
    /* 2026-11-24T23:24:05.123Z INFO    a message with a newline */
    assert_int_equal(count_lines(c.text), 1);
    assert_true(strlen(c.text) > 25);
    assert_int_equal(c.text[4], '-');
    assert_int_equal(c.text[10], 'T');
    assert_int_equal(c.text[19], '.');
    assert_int_equal(c.text[23], 'Z');
    assert_string_equal(c.text + 24, " INFO    a message with a newline\n");
    free(c.text);
}

static void test_json_line_is_one_valid_object(void **state)
{
    (void)state;
    struct capture c;
    capture_open(&c);
    struct log lg = {.level = LOG_INFO, .format = LOG_FORMAT_JSON, .out = c.f};
    log_warn(&lg, "quote \" backslash \\ tab \t ctrl \x01 utf8 \xc3\xbc");
    capture_close(&c);
    assert_int_equal(count_lines(c.text), 1);
    cJSON *obj = cJSON_Parse(c.text);
    assert_non_null(obj);
    assert_string_equal(cJSON_GetObjectItem(obj, "level")->valuestring, "warning");
    assert_string_equal(cJSON_GetObjectItem(obj, "msg")->valuestring,
                        "quote \" backslash \\ tab \t ctrl \x01 utf8 \xc3\xbc");
    const char *ts = cJSON_GetObjectItem(obj, "ts")->valuestring;
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[23], 'Z');
    cJSON_Delete(obj);
    free(c.text);
}

static void test_long_message_is_not_truncated(void **state)
{
    (void)state;
    struct capture c;
    capture_open(&c);
    struct log lg = {.level = LOG_INFO, .format = LOG_FORMAT_TEXT, .out = c.f};
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info(&lg, "%s|end", big);
    capture_close(&c);
    assert_non_null(strstr(c.text, "x|end\n"));
    assert_int_equal(count_lines(c.text), 1);
    free(c.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names_parse),
        cmocka_unit_test(test_below_level_is_dropped),
        cmocka_unit_test(test_text_line_has_utc_timestamp),
        cmocka_unit_test(test_json_line_is_one_valid_object),
        cmocka_unit_test(test_long_message_is_not_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
