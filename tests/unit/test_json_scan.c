/* Unit tests of json_scan.c: walking, zero-copy and escaped strings,
 * numbers, skipping, and errors with their offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "utf8.h"

static void assert_str(struct js_str s, const char *expected)
{
    assert_int_equal(s.len, strlen(expected));
    assert_memory_equal(s.ptr, expected, s.len);
}

static void test_walks_objects_and_arrays(void **state)
{
    (void)state;
    const char *text = " {\"a\" : [1, -2.5e3, true, null, \"x\"], \"b\": {}, \"c\": []} ";
    struct json_scan s = {0};
    js_reset(&s, text, strlen(text));
    assert_true(js_enter_object(&s));
    struct js_str key, str;
    bool integer;
    assert_int_equal(js_next_member(&s, &key), 1);
    assert_str(key, "a");
    assert_true(js_enter_array(&s));
    assert_int_equal(js_next_element(&s), 1);
    assert_true(js_number(&s, &str, &integer));
    assert_str(str, "1");
    assert_true(integer);
    assert_int_equal(js_next_element(&s), 1);
    assert_true(js_number(&s, &str, &integer));
    assert_str(str, "-2.5e3");
    assert_false(integer);
    assert_int_equal(js_next_element(&s), 1);
    assert_int_equal(js_peek(&s), JS_TRUE);
    assert_true(js_literal(&s));
    assert_int_equal(js_next_element(&s), 1);
    assert_int_equal(js_peek(&s), JS_NULL);
    assert_true(js_literal(&s));
    assert_int_equal(js_next_element(&s), 1);
    assert_true(js_string(&s, &str));
    assert_str(str, "x");
    assert_int_equal(js_next_element(&s), 0);
    assert_int_equal(js_next_member(&s, &key), 1);
    assert_str(key, "b");
    assert_true(js_enter_object(&s));
    assert_int_equal(js_next_member(&s, &key), 0);
    assert_int_equal(js_next_member(&s, &key), 1);
    assert_str(key, "c");
    assert_true(js_enter_array(&s));
    assert_int_equal(js_next_element(&s), 0);
    assert_int_equal(js_next_member(&s, &key), 0);
    assert_true(js_at_end(&s));
    js_free(&s);
}

static void test_strings_zero_copy_and_escapes(void **state)
{
    (void)state;
    const char *plain = "\"hello\"";
    struct json_scan s = {0};
    struct js_str out;
    js_reset(&s, plain, strlen(plain));
    assert_true(js_string(&s, &out));
    assert_ptr_equal(out.ptr, plain + 1); /* no copy */
    const char *escaped = "\"a\\\"b\\\\c\\/d\\n\\t\\u00fc\\u6771\\ud83d\\ude80\"";
    js_reset(&s, escaped, strlen(escaped));
    assert_true(js_string(&s, &out));
    assert_str(out, "a\"b\\c/d\n\t\xc3\xbc\xe6\x9d\xb1\xf0\x9f\x9a\x80");
    const char *nul = "\"x\\u0000y\"";
    js_reset(&s, nul, strlen(nul));
    assert_true(js_string(&s, &out));
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.ptr, "x\0y", 3);
    js_free(&s);
}

static void test_skip_gives_raw_text(void **state)
{
    (void)state;
    const char *text = "{\"k\": {\"n\": [1, {\"x\": \"}]\"}], \"e\": {}}, \"z\": 2}";
    struct json_scan s = {0};
    js_reset(&s, text, strlen(text));
    struct js_str key, raw;
    assert_true(js_enter_object(&s));
    assert_int_equal(js_next_member(&s, &key), 1);
    assert_true(js_skip(&s, &raw));
    assert_str(raw, "{\"n\": [1, {\"x\": \"}]\"}], \"e\": {}}");
    assert_int_equal(js_next_member(&s, &key), 1);
    assert_str(key, "z");
    js_free(&s);
}

static void test_integers(void **state)
{
    (void)state;
    int64_t v;
    assert_true(js_to_int64((struct js_str){"9223372036854775807", 19}, &v));
    assert_true(v == INT64_MAX);
    assert_true(js_to_int64((struct js_str){"-9223372036854775808", 20}, &v));
    assert_true(v == INT64_MIN);
    assert_false(js_to_int64((struct js_str){"9223372036854775808", 19}, &v));
    assert_false(js_to_int64((struct js_str){"-9223372036854775809", 20}, &v));
    assert_false(js_to_int64((struct js_str){"18446744073709551616", 20}, &v));
    assert_false(js_to_int64((struct js_str){"-", 1}, &v));
}

struct bad_case {
    const char *text;
    const char *error;
    size_t offset;
};

/* The wide paths of the string scan and of UTF-8 validation stop at the
 * first special byte wherever it falls in a 16- or 32-byte block. */
/* js_to_double must give strtod's double, bit for bit, on its fast path and off it. */
static void assert_same_as_strtod(const char *text)
{
    double ours = 0, theirs = strtod(text, NULL);
    assert_true(js_to_double((struct js_str){text, strlen(text)}, &ours));
    if (memcmp(&ours, &theirs, sizeof ours) != 0)
        fail_msg("%s: %.17g, strtod %.17g", text, ours, theirs);
}

static void test_doubles_as_strtod_rounds_them(void **state)
{
    (void)state;
    static const char *const edges[] = {
        "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "0.3", "123.45", "-99.99", "1e22", "1e23",
        "9007199254740992", "9007199254740993", "9007199254740993.0", "1e-22", "1e-23", "4.9e-324",
        "2.2250738585072014e-308", "1.7976931348623157e308", "1e309", "123456789012345678901234567890",
        "0.000000000000000000000000000001", "1.5E+3", "2.5e-3", "12345678901234567e-5",
        "0.1000000000000000055511151231257827021181583404541015625", "100000000000000000000000e-22",
        "1.00000000000000011102230246251565404236316680908203125",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        assert_same_as_strtod(edges[i]);
    /* Random decimals of 1 to 20 digits, the point anywhere, exponents -30..30. */
    uint64_t x = 0x2545F4914F6CDD1DULL;
    char text[64];
    for (int k = 0; k < 200000; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int ndigits = 1 + (int)(x % 20), point = (int)((x >> 8) % (uint64_t)(ndigits + 1));
        int exp = (int)((x >> 16) % 61) - 30;
        size_t n = 0;
        if ((x >> 24) & 1)
            text[n++] = '-';
        uint64_t d = x >> 28;
        for (int i = 0; i < ndigits; i++) {
            if (i == point && i > 0)
                text[n++] = '.';
            text[n++] = (char)('0' + (i == 0 && ndigits > 1 ? 1 + d % 9 : d % 10));
            d = d / 10 ? d / 10 : x ^ (uint64_t)i * 0x9E3779B97F4A7C15ULL;
        }
        if ((x >> 40) & 1)
            n += (size_t)snprintf(text + n, sizeof text - n, "e%d", exp);
        text[n] = '\0';
        assert_same_as_strtod(text);
    }
    /* A number longer than any buffer: its exponent still counts. */
    char *longest = malloc(1200);
    memset(longest, '0', 1100);
    memcpy(longest, "1.", 2);
    strcpy(longest + 1100, "5e-300");
    assert_same_as_strtod(longest);
    free(longest);
    double v;
    assert_false(js_to_double((struct js_str){"12ab", 4}, &v));
    assert_false(js_to_double((struct js_str){"", 0}, &v));
}

static void test_special_bytes_at_every_position(void **state)
{
    (void)state;
    char text[120], expect[120];
    for (size_t pos = 0; pos < 80; pos++) {
        /* A quote ends the string at pos. */
        memset(text, 'a', sizeof text);
        text[0] = '"';
        text[1 + pos] = '"';
        struct json_scan s = {0};
        struct js_str out;
        js_reset(&s, text, sizeof text);
        assert_true(js_string(&s, &out));
        assert_int_equal(out.len, pos);
        /* An escape at pos is decoded. */
        memset(text, 'b', sizeof text);
        text[0] = '"';
        text[1 + pos] = '\\';
        text[2 + pos] = 'n';
        text[100] = '"';
        memset(expect, 'b', sizeof expect);
        expect[pos] = '\n';
        js_reset(&s, text, 101);
        assert_true(js_string(&s, &out));
        assert_int_equal(out.len, 98);
        assert_memory_equal(out.ptr, expect, 98);
        /* A control character at pos is refused there. */
        memset(text, 'c', sizeof text);
        text[0] = '"';
        text[1 + pos] = '\t';
        text[100] = '"';
        js_reset(&s, text, 101);
        assert_false(js_string(&s, &out));
        assert_int_equal(js_error_offset(&s), 1 + pos);
        js_free(&s);

        /* UTF-8: a bad byte is found at its offset; a good sequence passes. */
        memset(text, 'd', sizeof text);
        text[pos] = (char)0xFF;
        size_t bad = 0;
        assert_false(utf8_valid(text, sizeof text, &bad));
        assert_int_equal(bad, pos);
        memcpy(text + pos, "\xC3\xBC", 2); /* ü */
        assert_true(utf8_valid(text, sizeof text, NULL));
        text[pos + 1] = 'x'; /* truncated sequence */
        assert_false(utf8_valid(text, sizeof text, &bad));
        assert_int_equal(bad, pos);
        /* All ASCII, ending exactly at a block's end or not: never read past len. */
        char *exact = malloc(pos + 1);
        memset(exact, 'e', pos + 1);
        assert_true(utf8_valid(exact, pos + 1, NULL));
        free(exact);
    }
}

static void test_errors_say_what_and_where(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"{\"a\": 1,}", "expected a string", 8},
        {"[1 2]", "expected ',' or ']'", 3},
        {"{\"a\" 1}", "expected ':' after a member name", 5},
        {"\"abc", "unterminated string", 4},
        {"\"a\\x\"", "bad escape in a string", 2},
        {"\"\\ud800\"", "lone surrogate in a \\u escape", 7},
        {"01", "expected end", 1},
        {"-", "bad number", 0},
        {"1.e5", "bad number: no digit after '.'", 2},
        {"nul", "bad literal", 0},
        {"{\"a\": @}", "unexpected character", 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_scan s = {0};
        js_reset(&s, cases[i].text, strlen(cases[i].text));
        bool ok = js_skip(&s, NULL);
        if (ok && !js_at_end(&s)) {
            js_fail(&s, "expected end");
            ok = false;
        }
        assert_false(ok);
        if (strstr(js_error(&s), cases[i].error) == NULL)
            fail_msg("'%s': error '%s', expected '%s'", cases[i].text, js_error(&s), cases[i].error);
        assert_int_equal(js_error_offset(&s), cases[i].offset);
        js_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walks_objects_and_arrays),
        cmocka_unit_test(test_strings_zero_copy_and_escapes),
        cmocka_unit_test(test_skip_gives_raw_text),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles_as_strtod_rounds_them),
        cmocka_unit_test(test_special_bytes_at_every_position),
        cmocka_unit_test(test_errors_say_what_and_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
