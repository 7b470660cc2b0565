/* Unit tests of thrift_compact.c against byte sequences computed by hand
 * from the Thrift compact protocol specification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "assert_bytes.h"
#include "thrift_compact.h"

static void test_short_field_header_and_zigzag(void **state)
{
    (void)state;
    struct buf b = {0};
    struct thrift_writer t;
    tc_init(&t, &b);
    tc_struct_begin(&t);
    tc_field_i32(&t, 1, 1);    /* delta 1, type 5 (i32); zigzag(1) = 2 */
    tc_field_i32(&t, 2, -1);   /* zigzag(-1) = 1 */
    tc_field_i32(&t, 3, 300);  /* zigzag(300) = 600 = varint d8 04 */
    tc_field_i64(&t, 5, -300); /* delta 2, type 6; zigzag(-300) = 599 = d7 04 */
    tc_struct_end(&t);
    ASSERT_BYTES(&b, 0x15, 0x02, 0x15, 0x01, 0x15, 0xd8, 0x04, 0x26, 0xd7, 0x04, 0x00);
    buf_free(&b);
}

static void test_long_field_delta_uses_zigzag_id(void **state)
{
    (void)state;
    struct buf b = {0};
    struct thrift_writer t;
    tc_init(&t, &b);
    tc_struct_begin(&t);
    tc_field_i32(&t, 20, 0); /* delta 20 > 15: type byte 0x05, then zigzag(20) = 40 */
    tc_field_i32(&t, 21, 0); /* back to a short header: delta 1 */
    tc_struct_end(&t);
    ASSERT_BYTES(&b, 0x05, 0x28, 0x00, 0x15, 0x00, 0x00);
    buf_free(&b);
}

static void test_bool_i8_binary_fields(void **state)
{
    (void)state;
    struct buf b = {0};
    struct thrift_writer t;
    tc_init(&t, &b);
    tc_struct_begin(&t);
    tc_field_bool(&t, 1, true);  /* value in the type nibble: 1 */
    tc_field_bool(&t, 2, false); /* 2 */
    tc_field_i8(&t, 3, -2);      /* type 3, one raw byte, not zigzag */
    tc_field_string(&t, 4, "abc");
    tc_field_i16(&t, 5, 7);      /* type 4, zigzag(7) = 14 */
    tc_struct_end(&t);
    ASSERT_BYTES(&b, 0x11, 0x12, 0x13, 0xfe, 0x18, 0x03, 'a', 'b', 'c', 0x14, 0x0e, 0x00);
    buf_free(&b);
}

static void test_lists_short_and_long(void **state)
{
    (void)state;
    struct buf b = {0};
    struct thrift_writer t;
    tc_init(&t, &b);
    tc_struct_begin(&t);
    tc_field_list(&t, 2, TC_I32, 3); /* field 2 type 9; size 3 << 4 | 5 */
    tc_elem_i32(&t, 1);
    tc_elem_i32(&t, 2);
    tc_elem_i32(&t, 3);
    tc_field_list(&t, 3, TC_BINARY, 20); /* size >= 15: 0xf8, then varint 20 */
    for (int i = 0; i < 20; i++)
        tc_elem_string(&t, "");
    tc_struct_end(&t);
    assert_int_equal(b.len, 5 + 3 + 20 + 1);
    const uint8_t head[] = {0x29, 0x35, 0x02, 0x04, 0x06, 0x19, 0xf8, 0x14};
    assert_memory_equal(b.data, head, sizeof head);
    assert_int_equal(b.data[b.len - 1], 0x00);
    buf_free(&b);
}

static void test_nested_structs_restart_field_deltas(void **state)
{
    (void)state;
    struct buf b = {0};
    struct thrift_writer t;
    tc_init(&t, &b);
    tc_struct_begin(&t);
    tc_field_i32(&t, 4, 1);          /* 0x45 0x02 */
    tc_field_struct_begin(&t, 5);    /* 0x1c: delta 1, type 12 */
    tc_field_i32(&t, 1, 7);          /* inner delta restarts at 0: 0x15 0x0e */
    tc_struct_end(&t);               /* 0x00 */
    tc_field_i32(&t, 6, 1);          /* outer delta continues from 5: 0x15 0x02 */
    tc_field_list(&t, 7, TC_STRUCT, 1); /* 0x19 0x1c */
    tc_struct_begin(&t);
    tc_field_struct_begin(&t, 1);    /* 0x1c */
    tc_struct_end(&t);               /* 0x00 */
    tc_struct_end(&t);               /* 0x00 */
    tc_struct_end(&t);               /* 0x00 */
    ASSERT_BYTES(&b, 0x45, 0x02, 0x1c, 0x15, 0x0e, 0x00, 0x15, 0x02, 0x19, 0x1c, 0x1c, 0x00,
                 0x00, 0x00);
    buf_free(&b);
}

static void test_zigzag_extremes(void **state)
{
    (void)state;
    struct buf b = {0};
    tc_put_zigzag64(&b, INT64_MIN); /* zigzag = 2^64 - 1: nine 0xff then 0x01 */
    ASSERT_BYTES(&b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    buf_reset(&b);
    tc_put_zigzag64(&b, INT64_MAX); /* zigzag = 2^64 - 2 */
    ASSERT_BYTES(&b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    buf_reset(&b);
    tc_put_zigzag32(&b, INT32_MIN); /* zigzag = 2^32 - 1 */
    ASSERT_BYTES(&b, 0xff, 0xff, 0xff, 0xff, 0x0f);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_field_header_and_zigzag),
        cmocka_unit_test(test_long_field_delta_uses_zigzag_id),
        cmocka_unit_test(test_bool_i8_binary_fields),
        cmocka_unit_test(test_lists_short_and_long),
        cmocka_unit_test(test_nested_structs_restart_field_deltas),
        cmocka_unit_test(test_zigzag_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
