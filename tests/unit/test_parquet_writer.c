/* Unit tests of the Parquet writer's contract: file framing, errors that
 * name the column and row, memory bounded by the row group. The values
 * themselves are checked by independent readers in tests/e2e/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "parquet.h"

static bool buf_sink(void *ctx, const void *data, size_t len)
{
    buf_append(ctx, data, len);
    return true;
}

static bool failing_sink(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return false;
}

static const struct pq_column_spec two_cols[] = {
    {.name = "id", .type = PQ_INT64},
    {.name = "name", .type = PQ_STRING, .optional = true},
};

static struct pq_writer *new_writer(const struct pq_column_spec *cols, size_t n, struct buf *out)
{
    const char *why = NULL;
    struct pq_writer *w = pq_writer_new(cols, n, NULL, buf_sink, out, &why);
    assert_non_null(w);
    return w;
}

static void assert_error_contains(struct pq_writer *w, const char *part)
{
    if (strstr(pq_writer_error(w), part) == NULL)
        fail_msg("error '%s' does not contain '%s'", pq_writer_error(w), part);
}

static void test_zero_rows_is_a_valid_frame(void **state)
{
    (void)state;
    struct buf out = {0};
    struct pq_writer *w = new_writer(two_cols, 2, &out);
    assert_true(pq_writer_close(w));
    assert_true(out.len > 12);
    assert_memory_equal(out.data, "PAR1", 4);
    assert_memory_equal(out.data + out.len - 4, "PAR1", 4);
    uint32_t footer;
    memcpy(&footer, out.data + out.len - 8, 4);
    assert_int_equal(footer, out.len - 12);
    assert_int_equal(pq_writer_bytes_written(w), out.len);
    assert_int_equal(pq_writer_rows(w), 0);
    pq_writer_free(w);
    buf_free(&out);
}

static void test_rows_are_written_and_counted(void **state)
{
    (void)state;
    struct buf out = {0};
    struct pq_writer *w = new_writer(two_cols, 2, &out);
    for (int i = 0; i < 1000; i++) {
        assert_true(pq_append_i64(w, 0, i));
        if (i % 3 == 0)
            assert_true(pq_append_null(w, 1));
        else
            assert_true(pq_append_bytes(w, 1, "abc", 3));
        assert_true(pq_end_row(w));
    }
    assert_true(pq_writer_close(w));
    assert_int_equal(pq_writer_rows(w), 1000);
    assert_memory_equal(out.data + out.len - 4, "PAR1", 4);
    pq_writer_free(w);
    buf_free(&out);
}

static void test_schema_errors(void **state)
{
    (void)state;
    const char *why = NULL;
    struct buf out = {0};
    assert_null(pq_writer_new(two_cols, 0, NULL, buf_sink, &out, &why));
    assert_string_equal(why, "a Parquet schema needs at least one column");
    const struct pq_column_spec dup[] = {{.name = "a", .type = PQ_INT32},
                                         {.name = "a", .type = PQ_STRING}};
    assert_null(pq_writer_new(dup, 2, NULL, buf_sink, &out, &why));
    assert_string_equal(why, "two columns have the same name");
    const struct pq_column_spec dec[] = {{.name = "d", .type = PQ_DECIMAL, .precision = 39}};
    assert_null(pq_writer_new(dec, 1, NULL, buf_sink, &out, &why));
    assert_string_equal(why, "decimal precision must be from 1 to 38");
    const struct pq_column_spec scale[] = {
        {.name = "d", .type = PQ_DECIMAL, .precision = 5, .scale = 6}};
    assert_null(pq_writer_new(scale, 1, NULL, buf_sink, &out, &why));
    assert_string_equal(why, "decimal scale must be from 0 to the precision");
    const struct pq_column_spec badname[] = {{.name = "\xff", .type = PQ_INT32}};
    assert_null(pq_writer_new(badname, 1, NULL, buf_sink, &out, &why));
    assert_string_equal(why, "a column name is not valid UTF-8");
    buf_free(&out);
}

static void test_value_errors_name_column_and_row(void **state)
{
    (void)state;
    struct buf out = {0};
    struct pq_writer *w = new_writer(two_cols, 2, &out);
    assert_true(pq_append_i64(w, 0, 1));
    assert_true(pq_append_bytes(w, 1, "x", 1));
    assert_true(pq_end_row(w));
    assert_false(pq_append_double(w, 0, 1.5));
    assert_error_contains(w, "row 1: column 'id' of type INT64 cannot take a double");
    /* After an error every call fails. */
    assert_false(pq_append_i64(w, 0, 1));
    assert_false(pq_writer_close(w));
    pq_writer_free(w);

    w = new_writer(two_cols, 2, &out);
    assert_true(pq_append_i64(w, 0, 1));
    assert_false(pq_end_row(w));
    assert_error_contains(w, "row 0: column 'name' has no value");
    pq_writer_free(w);

    w = new_writer(two_cols, 2, &out);
    assert_false(pq_append_null(w, 0));
    assert_error_contains(w, "row 0: column 'id' is required and cannot be null");
    pq_writer_free(w);

    w = new_writer(two_cols, 2, &out);
    assert_true(pq_append_i64(w, 0, 1));
    assert_false(pq_append_i64(w, 0, 2));
    assert_error_contains(w, "row 0: column 'id' already has a value");
    pq_writer_free(w);

    w = new_writer(two_cols, 2, &out);
    assert_true(pq_append_i64(w, 0, 1));
    assert_false(pq_append_bytes(w, 1, "ok\xc3\x28", 4));
    assert_error_contains(w, "row 0: column 'name': invalid UTF-8 at byte 2");
    pq_writer_free(w);

    w = new_writer(two_cols, 2, &out);
    assert_false(pq_append_i64(w, 7, 1));
    assert_error_contains(w, "column index 7 out of range");
    pq_writer_free(w);
    buf_free(&out);
}

static void test_range_and_decimal_errors(void **state)
{
    (void)state;
    const struct pq_column_spec cols[] = {
        {.name = "small", .type = PQ_INT8},
        {.name = "dec", .type = PQ_DECIMAL, .precision = 3, .scale = 1},
        {.name = "wide", .type = PQ_DECIMAL, .precision = 38},
        {.name = "uuid", .type = PQ_UUID},
    };
    struct buf out = {0};
    struct pq_writer *w = new_writer(cols, 4, &out);
    assert_false(pq_append_i32(w, 0, 128));
    assert_error_contains(w, "row 0: column 'small': 128 is out of the INT8 range");
    pq_writer_free(w);

    w = new_writer(cols, 4, &out);
    assert_true(pq_append_i32(w, 0, -128));
    assert_true(pq_append_i64(w, 1, -999));
    assert_false(pq_append_i64(w, 1, 1000));
    assert_error_contains(w, "column 'dec': decimal value has more than 3 digits");
    pq_writer_free(w);

    /* A big-endian value with redundant sign bytes is accepted; 17 significant bytes are not. */
    w = new_writer(cols, 4, &out);
    const uint8_t padded[] = {0xff, 0xff, 0xff, 0xfc, 0x19}; /* -999 */
    assert_true(pq_append_decimal_be(w, 1, padded, sizeof padded));
    uint8_t huge[17];
    memset(huge, 0x7f, sizeof huge);
    assert_false(pq_append_decimal_be(w, 2, huge, sizeof huge));
    assert_error_contains(w, "column 'wide': decimal value has more than 38 digits");
    pq_writer_free(w);

    w = new_writer(cols, 4, &out);
    assert_true(pq_append_i32(w, 0, 1));
    assert_true(pq_append_i32(w, 1, 1));
    assert_true(pq_append_i64(w, 2, 1));
    assert_false(pq_append_bytes(w, 3, "short", 5));
    assert_error_contains(w, "column 'uuid': a UUID is 16 bytes, not 5");
    pq_writer_free(w);
    buf_free(&out);
}

static void test_list_protocol_errors(void **state)
{
    (void)state;
    const struct pq_column_spec cols[] = {{.name = "l", .type = PQ_INT32, .list = true}};
    struct buf out = {0};
    struct pq_writer *w = new_writer(cols, 1, &out);
    assert_false(pq_list_end(w, 0));
    assert_error_contains(w, "column 'l': pq_list_end without pq_list_begin");
    pq_writer_free(w);

    w = new_writer(cols, 1, &out);
    assert_false(pq_append_i32(w, 0, 1));
    assert_error_contains(w, "column 'l' is a list");
    pq_writer_free(w);

    w = new_writer(cols, 1, &out);
    assert_true(pq_list_begin(w, 0));
    assert_true(pq_append_i32(w, 0, 1));
    assert_false(pq_end_row(w));
    assert_error_contains(w, "row 0: the list in column 'l' is not ended");
    pq_writer_free(w);
    buf_free(&out);
}

static void test_sink_failure_is_reported(void **state)
{
    (void)state;
    const char *why = NULL;
    struct pq_writer *w = pq_writer_new(two_cols, 2, NULL, failing_sink, NULL, &why);
    assert_true(pq_append_i64(w, 0, 1));
    assert_true(pq_append_null(w, 1));
    assert_true(pq_end_row(w));
    assert_false(pq_writer_close(w));
    assert_error_contains(w, "the output sink failed");
    pq_writer_free(w);
}

/* Memory is bounded by the row group: with 256 KiB row groups, 8 MiB of
 * strings never pile up, and row groups reach the sink before close. */
static void test_row_groups_bound_memory(void **state)
{
    (void)state;
    struct pq_options opts;
    pq_options_default(&opts);
    opts.row_group_bytes = 256 << 10;
    struct buf out = {0};
    const char *why = NULL;
    struct pq_writer *w = pq_writer_new(two_cols, 2, &opts, buf_sink, &out, &why);
    char text[1001];
    size_t max_buffered = 0;
    uint32_t seed = 12345;
    for (int i = 0; i < 8192; i++) {
        for (int k = 0; k < 1000; k++) { /* incompressible enough for snappy */
            seed = seed * 1103515245u + 12345u;
            text[k] = (char)(33 + (seed >> 16) % 90);
        }
        text[1000] = '\0';
        assert_true(pq_append_i64(w, 0, i));
        assert_true(pq_append_bytes(w, 1, text, strlen(text)));
        assert_true(pq_end_row(w));
        size_t b = pq_writer_buffered_bytes(w);
        max_buffered = b > max_buffered ? b : max_buffered;
    }
    assert_true(max_buffered < (256 << 10) + 2048);
    assert_true(pq_writer_bytes_written(w) > (6 << 20)); /* written as it went */
    assert_true(pq_writer_close(w));
    pq_writer_free(w);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_rows_is_a_valid_frame),
        cmocka_unit_test(test_rows_are_written_and_counted),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_value_errors_name_column_and_row),
        cmocka_unit_test(test_range_and_decimal_errors),
        cmocka_unit_test(test_list_protocol_errors),
        cmocka_unit_test(test_sink_failure_is_reported),
        cmocka_unit_test(test_row_groups_bound_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
