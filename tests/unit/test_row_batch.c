/* Unit tests of row_batch.c: a successor batch starts empty, with its
 * predecessor's buffer sizes but none of its columns; row_batch_memory()
 * counts a cell per value and a bit per row of a column, not a cell per
 * null; the definition levels of nulls, values, all-null columns, columns
 * added mid-batch and schema changes; the metadata columns of each group,
 * their values, and the renaming of source columns that share a name with
 * one. */
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
#include "delta.h"
#include "rle.h"
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

/* Per row: 35 bytes of metadata (no optional group, _kafka_timestamp null);
 * per value: a 16-byte cell and its bytes; per column with a value after a
 * null: a bit per row up to its last value. A null costs no cell. */
static void test_memory_counts_values_not_nulls(void **state)
{
    (void)state;
    const size_t cell = sizeof(struct cell), meta = 35;
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, 0);
    assert_int_equal(row_batch_memory(b), 0);
    add(b, d, &row, "{\"after\":{\"s\":\"abcd\"},\"op\":\"c\"}", 0);
    assert_int_equal(row_batch_memory(b), meta + cell + 4);
    add(b, d, &row, "{\"after\":{\"s\":\"efghij\"},\"op\":\"c\"}", 1);
    assert_int_equal(row_batch_memory(b), 2 * (meta + cell) + 4 + 6);
    /* A column that appears later costs a bit per row up to its value (a byte
     * here), nothing for the earlier rows' values; s's null nothing. */
    add(b, d, &row, "{\"after\":{\"t\":\"xy\"},\"op\":\"c\"}", 2);
    assert_int_equal(row_batch_memory(b), 3 * meta + 3 * cell + 1 + 4 + 6 + 2);
    /* s's value after its null starts its bitmap: rows 0, 1 and 3, one byte. */
    add(b, d, &row, "{\"after\":{\"s\":\"k\"},\"op\":\"c\"}", 3);
    assert_int_equal(row_batch_memory(b), 4 * meta + 4 * cell + 2 + 4 + 6 + 2 + 1);

    /* Sparse rows: 200 rows of one field each, all names different. Column i's
     * bitmap reaches row i: i / 8 + 1 bytes, 2,599 in all (column 0 has none,
     * its value being in the first row); no null cells. */
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
    assert_int_equal(row_batch_memory(b), 200 * (meta + cell) + 2599 + values);

    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* 10,000 flattened records that each set 2 of 120 columns: the batch takes
 * per row its metadata, 2 cells, their digits and 120 bits, far below the
 * 10,000 x 120 x 16 bytes of a cell per column per row. */
static void test_sparse_memory_is_per_value(void **state)
{
    (void)state;
    enum { ROWS = 10000, COLS = 120 };
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, 0);
    size_t digits = 0, last[COLS] = {0};
    char json[128];
    for (size_t i = 0; i < ROWS; i++) {
        size_t x = i % COLS, y = (x + 1 + (i / COLS) % (COLS - 1)) % COLS; /* two different */
        int n = snprintf(json, sizeof json, "{\"__op\":\"c\",\"c%zu\":%zu,\"c%zu\":%zu}", x, i, y,
                         i + 7);
        assert_true(n > 0 && (size_t)n < sizeof json);
        char a[24], c[24];
        digits += (size_t)snprintf(a, sizeof a, "%zu", i) + (size_t)snprintf(c, sizeof c, "%zu", i + 7);
        last[x] = last[y] = i;
        add(b, d, &row, json, (int64_t)i);
    }
    size_t bitmaps = 0;
    for (size_t k = 0; k < COLS; k++)
        bitmaps += last[k] / 8 + 1;
    size_t mem = row_batch_memory(b);
    assert_int_equal(mem, ROWS * (35 + 2 * sizeof(struct cell)) + digits + bitmaps);
    assert_true(mem * 10 < (size_t)ROWS * COLS * sizeof(struct cell));
    struct buf file = {0};
    write_file(b, &file); /* every column is in the file */
    assert_true(has(&file, "c0") && has(&file, "c119"));
    buf_free(&file);
    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* Uncompressed, no dictionary: a flat column's one data page holds
 * [4-byte length][its definition levels][its values], back to back. */
static void write_plain(const struct row_batch *b, struct buf *out)
{
    struct pq_options opts;
    pq_options_default(&opts);
    opts.codec = PQ_CODEC_UNCOMPRESSED;
    opts.dictionary = false;
    char err[256];
    buf_reset(out);
    assert_true(row_batch_write(b, &opts, buf_sink, out, err, sizeof err));
}

/* Finds, at or after *from, the page body of an INT64 column with these
 * levels (1: a value, 0: null, encoded by rle_encode_u8 as the reference) and
 * these values (PLAIN, or DELTA_BINARY_PACKED where smaller); moves *from
 * past it. */
static void expect_int_column(const struct buf *file, size_t *from, const uint8_t *levels,
                              size_t n, const int64_t *values, size_t nvalues)
{
    struct buf want = {0}, hybrid = {0};
    rle_encode_u8(&hybrid, levels, n, 1);
    buf_put_u32le(&want, (uint32_t)hybrid.len);
    buf_append(&want, hybrid.data, hybrid.len);
    struct buf delta = {0}; /* the writer takes DELTA_BINARY_PACKED where it is smaller */
    delta_encode(&delta, (const uint8_t *)values, nvalues, 8);
    if (delta.len < nvalues * 8)
        buf_append(&want, delta.data, delta.len);
    else
        for (size_t k = 0; k < nvalues; k++)
            buf_append(&want, &values[k], 8); /* little-endian, as PLAIN */
    buf_free(&delta);
    const uint8_t *at = memmem(file->data + *from, file->len - *from, want.data, want.len);
    if (at == NULL)
        fail_msg("no page with the expected levels (%zu) and values (%zu) after byte %zu", n, nvalues, *from);
    *from = (size_t)(at - file->data) + want.len;
    buf_free(&want);
    buf_free(&hybrid);
}

/* A value and a null in one column, a column of nulls only, and a column added
 * in the middle of the batch, over more than a byte of rows each: their levels
 * and values, in the file's column order. */
static void test_definition_levels(void **state)
{
    (void)state;
    enum { ROWS = 21 };
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, 0);
    uint8_t a_def[ROWS], none_def[ROWS] = {0}, late_def[ROWS] = {0};
    int64_t a_val[ROWS], late_val[ROWS];
    size_t na = 0, nlate = 0;
    char json[160];
    for (int i = 0; i < ROWS; i++) {
        bool a = i % 3 != 1, late = i >= 13 && i != 17;
        int64_t av = 7000001 + i, lv = 9000001 + i;
        /* "a" null by absence or by an explicit null; "none" always null. */
        int len = snprintf(json, sizeof json, "{\"after\":{");
        if (a)
            len += snprintf(json + len, sizeof json - (size_t)len, "\"a\":%lld,", (long long)av);
        else if (i % 2)
            len += snprintf(json + len, sizeof json - (size_t)len, "\"a\":null,");
        len += snprintf(json + len, sizeof json - (size_t)len, "\"none\":null");
        if (late)
            len += snprintf(json + len, sizeof json - (size_t)len, ",\"late\":%lld", (long long)lv);
        snprintf(json + len, sizeof json - (size_t)len, "},\"op\":\"c\"}");
        if (a)
            a_val[na++] = av;
        if (late)
            late_val[nlate++] = lv;
        a_def[i] = a;
        late_def[i] = late;
        add(b, d, &row, json, i);
    }
    struct buf file = {0};
    write_plain(b, &file);
    size_t from = 0;
    expect_int_column(&file, &from, a_def, ROWS, a_val, na);
    expect_int_column(&file, &from, none_def, ROWS, NULL, 0); /* STRING, no values */
    expect_int_column(&file, &from, late_def, ROWS, late_val, nlate);
    buf_free(&file);
    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

/* A row refused for a schema change leaves no value in any column: the
 * batch's file has the rows before it, the successor's starts with it. */
static void test_schema_change_leaves_no_bits(void **state)
{
    (void)state;
    static const char with_schema[] =
        "{\"schema\":{\"type\":\"struct\",\"name\":\"x.Envelope\",\"fields\":["
        "{\"type\":\"struct\",\"optional\":true,\"field\":\"after\",\"fields\":["
        "{\"type\":\"int64\",\"optional\":true,\"field\":\"a\"},"
        "{\"type\":\"int64\",\"optional\":true,\"field\":\"b\"}]},"
        "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}]},"
        "\"payload\":{\"after\":{\"a\":5000009,\"b\":6000009},\"op\":\"c\"}}";
    struct dbz_decoder *d = dbz_decoder_new();
    struct dbz_row row = {0};
    struct row_batch *b = row_batch_new("cdc.s.public.t", 0, 0);
    add(b, d, &row, "{\"after\":{\"a\":5000001},\"op\":\"c\"}", 0);
    add(b, d, &row, "{\"after\":{\"b\":6000002},\"op\":\"c\"}", 1);
    char err[256], why[256];
    assert_int_equal(dbz_decode(d, with_schema, strlen(with_schema), &row, err, sizeof err), DBZ_ROW);
    struct kafka_record rec = {.offset = 2, .timestamp_ms = -1};
    size_t mem = row_batch_memory(b);
    assert_int_equal(row_batch_add(b, &row, &rec, 1, why, sizeof why), BATCH_SCHEMA_CHANGED);
    assert_int_equal(row_batch_memory(b), mem);
    add(b, d, &row, "{\"after\":{\"a\":5000004},\"op\":\"c\"}", 3);

    struct buf file = {0};
    write_plain(b, &file);
    size_t from = 0;
    expect_int_column(&file, &from, (const uint8_t[]){1, 0, 1}, 3, (const int64_t[]){5000001, 5000004}, 2);
    expect_int_column(&file, &from, (const uint8_t[]){0, 1, 0}, 3, (const int64_t[]){6000002}, 1);

    static const char truncate[] = "{\"after\":null,\"op\":\"t\"}";
    struct row_batch *next = row_batch_successor(b);
    assert_int_equal(dbz_decode(d, with_schema, strlen(with_schema), &row, err, sizeof err), DBZ_ROW);
    rec.offset = 2;
    assert_int_equal(row_batch_add(next, &row, &rec, 1, why, sizeof why), BATCH_ADDED);
    assert_int_equal(dbz_decode(d, truncate, strlen(truncate), &row, err, sizeof err), DBZ_ROW);
    rec.offset = 3;
    assert_int_equal(row_batch_add(next, &row, &rec, 1, why, sizeof why), BATCH_ADDED);
    write_plain(next, &file);
    from = 0;
    expect_int_column(&file, &from, (const uint8_t[]){1, 0}, 2, (const int64_t[]){5000009}, 1);
    expect_int_column(&file, &from, (const uint8_t[]){1, 0}, 2, (const int64_t[]){6000009}, 1);
    buf_free(&file);
    row_batch_free(next);
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

/* The metadata columns take a cell per value, and their texts; their nulls nothing. */
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
    /* 4 values, each a cell (no null before them: no bitmap): s,
     * _kafka_timestamp, _cdc_source ("t") and _kafka_key ("k"); the 7 other
     * source columns are null. */
    assert_int_equal(row_batch_memory(b), 4 * cell + 35 + 4 + 1 + 1);
    struct row_batch *next = row_batch_successor(b);
    assert_int_equal(row_batch_memory(next), 0);
    rec.key = NULL;
    add_record(next, d, &row, "{\"after\":{\"s\":\"abcd\"},\"op\":\"c\"}", &rec);
    assert_int_equal(row_batch_memory(next), 2 * cell + 35 + 4);
    row_batch_free(next);
    row_batch_free(b);
    dbz_row_free(&row);
    dbz_decoder_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_successor_is_empty_and_keeps_no_column),
        cmocka_unit_test(test_memory_counts_values_not_nulls),
        cmocka_unit_test(test_sparse_memory_is_per_value),
        cmocka_unit_test(test_definition_levels),
        cmocka_unit_test(test_schema_change_leaves_no_bits),
        cmocka_unit_test(test_numbers_a_double_cannot_hold_are_kept_as_text),
        cmocka_unit_test(test_metadata_columns_of_each_group),
        cmocka_unit_test(test_memory_counts_metadata_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
