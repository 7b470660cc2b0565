/* Unit tests of row_batch.c: a successor batch starts empty, with its
 * predecessor's buffer sizes but none of its columns; row_batch_memory()
 * counts a cell of every column in every row; the metadata columns of each
 * group, their values, and the renaming of source columns that share a name
 * with one. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "debezium.h"
#include "row_batch.h"

static bool buf_sink(void *ctx, const void *data, size_t len)
{
    buf_append(ctx, data, len);
    return true;
}

static void add_record(struct row_batch *b, struct dbz_decoder *d, struct dbz_row *row,
                       const char *json, const struct kafka_record *rec)
{
    char err[256], why[256];
    assert_int_equal(dbz_decode(d, json, strlen(json), row, err, sizeof err), DBZ_ROW);
    assert_int_equal(row_batch_add(b, row, rec, 1700000000000000LL, why, sizeof why), BATCH_ADDED);
}

static void add(struct row_batch *b, struct dbz_decoder *d, struct dbz_row *row, const char *json,
                int64_t offset)
{
    struct kafka_record rec = {.offset = offset, .timestamp_ms = -1};
    add_record(b, d, row, json, &rec);
}

/* Uncompressed, so that the values can be found in the file's bytes. */
static void write_file(const struct row_batch *b, struct buf *out)
{
    struct pq_options opts;
    pq_options_default(&opts);
    opts.codec = PQ_CODEC_UNCOMPRESSED;
    char err[256];
    buf_reset(out);
    assert_true(row_batch_write(b, &opts, buf_sink, out, err, sizeof err));
    assert_true(out->len > 8);
    assert_memory_equal(out->data, "PAR1", 4);
    assert_memory_equal(out->data + out->len - 4, "PAR1", 4);
}

static bool has(const struct buf *file, const char *text)
{
    return memmem(file->data, file->len, text, strlen(text)) != NULL;
}

static void test_successor_is_empty_and_keeps_no_column(void **state)
{
    (void)state;
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 7, CDC_META_SOURCE | CDC_META_KEY);
    char json[256];
    for (int i = 0; i < 300; i++) { /* past the first growth of every buffer */
        snprintf(json, sizeof json, "{\"after\":{\"id\":%d,\"first_note\":\"note %d\"},\"op\":\"c\"}", i, i);
        add(b, d, &row, json, 10 + i);
    }
    struct row_batch *next = row_batch_successor(b);
    assert_int_equal(row_batch_rows(next), 0);
    assert_int_equal(row_batch_first_offset(next), -1);
    assert_int_equal(row_batch_rows(b), 300); /* the predecessor is untouched */
    assert_int_equal(row_batch_first_offset(b), 10);

    struct buf file = {0};
    write_file(b, &file);
    assert_true(has(&file, "first_note"));
    assert_true(has(&file, "note 299"));

    for (int i = 0; i < 400; i++) { /* more than the sizes it was given */
        snprintf(json, sizeof json, "{\"after\":{\"id\":%d,\"second_note\":\"other %d\"},\"op\":\"u\"}", i, i);
        add(next, d, &row, json, 1000 + i);
    }
    row_batch_free(b); /* the successor owns nothing of it */
    assert_int_equal(row_batch_rows(next), 400);
    assert_int_equal(row_batch_first_offset(next), 1000);
    assert_int_equal(row_batch_last_offset(next), 1399);
    write_file(next, &file);
    assert_true(has(&file, "second_note"));
    assert_true(has(&file, "other 399"));
    assert_false(has(&file, "first_note")); /* a size hint is not a column */

    struct row_batch *third = row_batch_successor(next);
    row_batch_free(next);
    add(third, d, &row, "{\"before\":{\"id\":1},\"after\":null,\"op\":\"d\"}", 5000);
    write_file(third, &file);
    assert_false(has(&file, "second_note"));
    assert_int_equal(row_batch_rows(third), 1);

    buf_free(&file);
    row_batch_free(third);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* A schema-less number that a double cannot hold as written (past its
 * range, under its smallest normal value, or with more than 17 significant
 * digits) makes its column STRING, each value kept as its exact text; a
 * column of numbers a double holds stays DOUBLE. */
static void test_numbers_a_double_cannot_hold_are_kept_as_text(void **state)
{
    (void)state;
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, 0);
    add(b, d, &row, "{\"after\":{\"big\":1e400,\"tiny\":1e-400,\"sub\":1e-310,"
                    "\"long\":1.234567890123456789012345678901,\"fine\":2.5,\"max17\":0.30000000000000004},"
                    "\"op\":\"c\"}", 0);
    add(b, d, &row, "{\"after\":{\"big\":1.5,\"tiny\":1.5,\"sub\":1.5,\"long\":1.5,\"fine\":0.125,"
                    "\"max17\":1.7976931348623157e308},\"op\":\"c\"}", 1);
    struct buf file = {0};
    write_file(b, &file);
    assert_true(has(&file, "1e400"));
    assert_true(has(&file, "1e-400"));
    assert_true(has(&file, "1e-310"));
    assert_true(has(&file, "1.234567890123456789012345678901"));
    assert_false(has(&file, "2.5"));                    /* DOUBLE: stored as 8 bytes, not text */
    assert_false(has(&file, "0.30000000000000004"));    /* 17 digits: a double's own text */
    assert_false(has(&file, "1.7976931348623157e308")); /* the largest double */
    buf_free(&file);
    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* Per row: one 16-byte cell per column, 35 bytes of metadata and a cell of
 * _kafka_timestamp (no optional group), the copied values. */
static void test_memory_counts_every_cell_of_every_row(void **state)
{
    (void)state;
    const size_t cell = sizeof(struct cell), meta = 35 + cell;
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, 0);
    assert_int_equal(row_batch_memory(b), 0);
    add(b, d, &row, "{\"after\":{\"s\":\"abcd\"},\"op\":\"c\"}", 0);
    assert_int_equal(row_batch_memory(b), cell + meta + 4);
    add(b, d, &row, "{\"after\":{\"s\":\"efghij\"},\"op\":\"c\"}", 1);
    assert_int_equal(row_batch_memory(b), 2 * (cell + meta) + 4 + 6);
    /* A column that appears later holds a null cell in each earlier row. */
    add(b, d, &row, "{\"after\":{\"t\":\"xy\"},\"op\":\"c\"}", 2);
    assert_int_equal(row_batch_memory(b), 3 * (2 * cell + meta) + 4 + 6 + 2);

    /* Sparse rows: 200 rows of one field each, all names different. The JSON is
     * ~6 KB; the buffers hold 200 x 200 cells. */
    row_batch_clear(b);
    assert_int_equal(row_batch_memory(b), 0);
    char json[128], value[16];
    size_t values = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(value, sizeof value, "v%d", i);
        values += strlen(value);
        snprintf(json, sizeof json, "{\"after\":{\"c%d\":\"%s\"},\"op\":\"c\"}", i, value);
        add(b, d, &row, json, 10 + i);
    }
    assert_int_equal(row_batch_memory(b), 200 * (200 * cell + meta) + values);

    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* A column's name as the footer holds it: a Thrift string, its length first. */
static bool has_name(const struct buf *file, const char *name)
{
    char text[128];
    size_t n = strlen(name);
    assert_true(n < 128);
    text[0] = (char)n;
    memcpy(text + 1, name, n);
    return memmem(file->data, file->len, text, n + 1) != NULL;
}

static bool has_i64(const struct buf *file, int64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)v >> (8 * i));
    return memmem(file->data, file->len, le, 8) != NULL;
}

/* Every group: the columns are there, with the envelope's and the record's
 * values; a source column named like one of them is renamed. Without a
 * group, its columns are not there and the source column keeps its name. */
static void test_metadata_columns_of_each_group(void **state)
{
    (void)state;
    static const char envelope[] =
        "{\"before\":null,\"after\":{\"id\":1,\"_cdc_lsn\":\"mine\"},\"source\":{\"db\":\"shop\","
        "\"schema\":\"public\",\"table\":\"orders\",\"lsn\":987654321,\"txId\":4242,"
        "\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\",\"snapshot\":\"incremental\"},"
        "\"transaction\":{\"id\":\"4242:987654321\",\"total_order\":77001,"
        "\"data_collection_order\":33001},\"op\":\"c\"}";
    static const char key[] = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
                              "\"field\":\"id\"}]},\"payload\":{\"id\":1}}";
    static const char headers[] = "{\"trace\":\"t-0001\"}";
    struct kafka_record rec = {.offset = 5, .timestamp_ms = 1700000000123LL, .key = key,
                               .key_len = sizeof key - 1, .headers = headers,
                               .headers_len = sizeof headers - 1};
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct buf file = {0};
    struct row_batch *b =
        row_batch_new("cdc.s.public.t", 0, CDC_META_SOURCE | CDC_META_KEY | CDC_META_HEADERS);
    add_record(b, d, &row, envelope, &rec);
    write_file(b, &file);
    static const char *const names[] = {
        "_kafka_timestamp", "_cdc_lsn", "_cdc_tx_id", "_cdc_sequence", "_cdc_snapshot",
        "_cdc_source", "_cdc_position", "_cdc_tx_order", "_cdc_tx_collection_order",
        "_kafka_key", "_kafka_headers", "_cdc_lsn__src"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_true(has_name(&file, names[i]));
    assert_true(has(&file, "shop.public.orders"));
    assert_true(has(&file, "[\"1\",\"2\"]"));
    assert_true(has(&file, "incremental"));
    assert_true(has(&file, "{\"id\":1}"));
    assert_false(has(&file, "payload")); /* the key's wrapper is gone */
    assert_true(has(&file, headers));
    assert_true(has_i64(&file, 987654321));
    assert_true(has_i64(&file, 4242));
    assert_true(has_i64(&file, 77001));
    assert_true(has_i64(&file, 33001));
    assert_true(has_i64(&file, 1700000000123LL));
    row_batch_free(b);

    b = row_batch_new("cdc.s.public.t", 0, 0);
    add_record(b, d, &row, envelope, &rec);
    write_file(b, &file);
    assert_true(has_name(&file, "_kafka_timestamp"));
    assert_true(has_name(&file, "_cdc_lsn")); /* the source column, not renamed */
    assert_false(has(&file, "_cdc_lsn__src"));
    assert_false(has_name(&file, "_cdc_source"));
    assert_false(has(&file, "_cdc_tx_id"));
    assert_false(has(&file, "_kafka_key"));
    assert_false(has(&file, "_kafka_headers"));
    assert_false(has(&file, "shop.public.orders"));
    assert_false(has_i64(&file, 987654321));
    row_batch_free(b);
    buf_free(&file);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* The metadata columns take a cell each per row, and their texts. */
static void test_memory_counts_metadata_columns(void **state)
{
    (void)state;
    const size_t cell = sizeof(struct cell);
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, CDC_META_SOURCE | CDC_META_KEY);
    struct kafka_record rec = {.offset = 0, .timestamp_ms = 1, .key = "k", .key_len = 1};
    add_record(b, d, &row, "{\"after\":{\"s\":\"abcd\"},\"source\":{\"table\":\"t\"},\"op\":\"c\"}",
               &rec);
    /* 1 data column and 10 metadata cells (_kafka_timestamp, 8 of source, the
     * key); "abcd", the table "t" and the key "k". */
    assert_int_equal(row_batch_memory(b), 11 * cell + 35 + 4 + 1 + 1);
    struct row_batch *next = row_batch_successor(b);
    assert_int_equal(row_batch_memory(next), 0);
    rec.key = NULL;
    add_record(next, d, &row, "{\"after\":{\"s\":\"abcd\"},\"op\":\"c\"}", &rec);
    assert_int_equal(row_batch_memory(next), 11 * cell + 35 + 4);
    row_batch_free(next);
    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_successor_is_empty_and_keeps_no_column),
        cmocka_unit_test(test_memory_counts_every_cell_of_every_row),
        cmocka_unit_test(test_numbers_a_double_cannot_hold_are_kept_as_text),
        cmocka_unit_test(test_metadata_columns_of_each_group),
        cmocka_unit_test(test_memory_counts_metadata_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
