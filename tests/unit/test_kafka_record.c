/* Unit tests of kafka_record.c: the text of a key in each form it takes
 * (JSON with and without the converter's schema wrapper, null, text, binary)
 * and the headers as one JSON object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_record.h"

/* The key's text, or "(null)" when it has none. */
static const char *key_text(const void *key, size_t len)
{
    static struct buf out;
    static struct json_scan scan;
    buf_reset(&out);
    if (!kafka_key_text(&scan, key, len, &out)) {
        assert_int_equal(out.len, 0); /* nothing appended */
        return "(null)";
    }
    buf_push(&out, '\0');
    return (const char *)out.data;
}

static const char *key_of(const char *text)
{
    return key_text(text, strlen(text));
}

static void test_key_forms(void **state)
{
    (void)state;
    assert_string_equal(key_text(NULL, 0), "(null)");
    assert_string_equal(key_of("null"), "(null)");
    assert_string_equal(key_of(" {\"id\": 1} "), "{\"id\": 1}"); /* the value's exact text */
    assert_string_equal(key_of("42"), "42");
    /* The JSON converter's wrapper, in either order: the payload's exact text. */
    assert_string_equal(key_of("{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
                               "\"field\":\"id\"}]},\"payload\":{\"id\": 1}}"),
                        "{\"id\": 1}");
    assert_string_equal(key_of("{\"payload\":\"k-1\",\"schema\":{\"type\":\"string\"}}"), "\"k-1\"");
    assert_string_equal(key_of("{\"schema\":null,\"payload\":null}"), "(null)");
    /* Not a wrapper: a member besides schema and payload, or one of them alone. */
    assert_string_equal(key_of("{\"schema\":1,\"payload\":2,\"x\":3}"),
                        "{\"schema\":1,\"payload\":2,\"x\":3}");
    assert_string_equal(key_of("{\"payload\":2}"), "{\"payload\":2}");
    /* Text that is not JSON, as it is; an empty key is an empty text. */
    assert_string_equal(key_of("c1004"), "c1004");
    assert_string_equal(key_of("Struct{id=1}"), "Struct{id=1}");
    assert_string_equal(key_of("{\"id\":1"), "{\"id\":1");
    assert_string_equal(key_text("", 0), "");
    /* Bytes that are not UTF-8: base64, marked. */
    assert_string_equal(key_text("\x00\xff\x10", 3), "{\"base64\":\"AP8Q\"}");
    assert_string_equal(key_text("\xc3", 1), "{\"base64\":\"ww==\"}");
    assert_string_equal(key_text("\x80\x81", 2), "{\"base64\":\"gIE=\"}");
}

static const char *headers_json(const struct kafka_header *h, size_t n)
{
    static struct buf out;
    buf_reset(&out);
    if (!kafka_headers_json(h, n, &out)) {
        assert_int_equal(out.len, 0);
        return "(none)";
    }
    buf_push(&out, '\0');
    return (const char *)out.data;
}

static void test_headers_as_one_object(void **state)
{
    (void)state;
    assert_string_equal(headers_json(NULL, 0), "(none)");
    const struct kafka_header h[] = {
        {"trace", "t-1", 3},
        {"empty", "", 0},
        {"nothing", NULL, 0},
        {"bin", "\xff\x00", 2},
        {"quote\"d", "a\"b\\c\n\x01", 7},
    };
    assert_string_equal(headers_json(h, 5),
                        "{\"trace\":\"t-1\",\"empty\":\"\",\"nothing\":null,\"bin\":{\"base64\":\"/wA=\"},"
                        "\"quote\\\"d\":\"a\\\"b\\\\c\\n\\u0001\"}");
    /* A name given more than once: the array of its values, in order. */
    const struct kafka_header repeated[] = {
        {"a", "1", 1}, {"b", "x", 1}, {"a", NULL, 0}, {"a", "\xfe", 1},
    };
    assert_string_equal(headers_json(repeated, 4),
                        "{\"a\":[\"1\",null,{\"base64\":\"/g==\"}],\"b\":\"x\"}");
    /* A name that is not UTF-8: its bad bytes become U+FFFD. */
    const struct kafka_header odd[] = {{"k\xff" "e\xc3", "v", 1}};
    assert_string_equal(headers_json(odd, 1), "{\"k\xEF\xBF\xBD" "e\xEF\xBF\xBD\":\"v\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_forms),
        cmocka_unit_test(test_headers_as_one_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
