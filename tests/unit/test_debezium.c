/* Unit tests of debezium.c over Debezium's own samples (tests/fixtures/debezium):
 * the operation, the metadata, each field's type and exact cell value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debezium.h"

struct fixture {
    struct dbz_decoder *dec;
    struct dbz_row row;
    char err[512];
    char *data;
    size_t len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dec = dbz_decoder_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dbz_row_free(&f->row);
    dbz_decoder_free(f->dec);
    free(f->data);
    free(f);
    return 0;
}

static enum dbz_result decode_file(struct fixture *f, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/debezium/%s", CDCW_FIXTURES, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    f->len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    free(f->data);
    f->data = malloc(f->len);
    assert_int_equal(fread(f->data, 1, f->len, fp), f->len);
    fclose(fp);
    return dbz_decode(f->dec, f->data, f->len, &f->row, f->err, sizeof f->err);
}

/* Line k (from 0) of an NDJSON fixture, decoded. */
static enum dbz_result decode_line(struct fixture *f, const char *name, int k)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/debezium/%s", CDCW_FIXTURES, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = -1;
    for (int i = 0; i <= k; i++)
        n = getline(&line, &cap, fp);
    fclose(fp);
    assert_true(n > 1);
    free(f->data);
    f->data = line;
    f->len = (size_t)n - 1; /* without the newline */
    return dbz_decode(f->dec, f->data, f->len, &f->row, f->err, sizeof f->err);
}

/* The row of a recorded wide-table fixture whose id is `id`. */
static const struct dbz_row *wide_row(struct fixture *f, const char *name, int id)
{
    for (int k = 0; k < 6; k++) {
        assert_int_equal(decode_line(f, name, k), DBZ_ROW);
        const struct dbz_field *fl = NULL;
        for (size_t i = 0; i < f->row.nfields; i++)
            if (strcmp(dbz_field_name(&f->row, &f->row.fields[i]), "id") == 0)
                fl = &f->row.fields[i];
        assert_non_null(fl);
        if (fl->cell.kind == CELL_INT ? fl->cell.v.i == id
                                      : (int)strtol((const char *)f->row.bytes.data + fl->cell.v.off, NULL, 10) == id)
            return &f->row;
    }
    fail_msg("no row with id %d in %s", id, name);
    return NULL;
}

static const struct dbz_field *field(const struct dbz_row *row, const char *name)
{
    for (size_t i = 0; i < row->nfields; i++)
        if (strcmp(dbz_field_name(row, &row->fields[i]), name) == 0)
            return &row->fields[i];
    fail_msg("no field %s", name);
    return NULL;
}

static void assert_text(const struct dbz_row *row, const char *name, const char *expected)
{
    const struct dbz_field *fl = field(row, name);
    if (expected == NULL) {
        assert_int_equal(fl->cell.kind, CELL_NULL);
        return;
    }
    assert_true(fl->cell.kind == CELL_BYTES || fl->cell.kind == CELL_TEXT);
    assert_int_equal(fl->cell.len, strlen(expected));
    assert_memory_equal(row->bytes.data + fl->cell.v.off, expected, fl->cell.len);
}

static void test_create_with_schema(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "pg_create_with_schema.json"), DBZ_ROW);
    const struct dbz_row *r = &f->row;
    assert_int_equal(r->op, 'c');
    assert_true(r->has_ts);
    assert_true(r->ts_ms == 1559033904863LL);
    assert_true(r->has_source_ts);
    assert_true(r->source_ts_ms == 1559033904859LL);
    assert_int_equal(r->nfields, 4);
    const struct dbz_field *id = field(r, "id");
    assert_int_equal(id->type.pq, PQ_INT32);
    assert_false(id->type.inferred);
    assert_int_equal(id->cell.kind, CELL_INT);
    assert_int_equal(id->cell.v.i, 1);
    assert_int_equal(field(r, "email")->type.pq, PQ_STRING);
    assert_text(r, "first_name", "Anne");
    assert_text(r, "email", "annek@noanswer.org");
}

static void test_update_and_delete_images(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "pg_update_with_schema.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'u');
    assert_text(&f->row, "first_name", "Anne Marie"); /* after, not before */
    assert_int_equal(decode_file(f, "pg_update_replica_identity_default_with_schema.json"), DBZ_ROW);
    assert_text(&f->row, "first_name", "Anne Marie");
    assert_int_equal(decode_file(f, "pg_delete_with_schema.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'd');
    assert_int_equal(field(&f->row, "id")->cell.v.i, 1); /* before: only the key */
    assert_text(&f->row, "first_name", NULL);
    assert_int_equal(decode_file(f, "pg_read_snapshot_with_schema.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'r');
}

static void test_without_schema_keeps_json_kinds(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "pg_create_without_schema.json"), DBZ_ROW);
    const struct dbz_field *id = field(&f->row, "id");
    assert_true(id->type.inferred);
    assert_int_equal(id->cell.kind, CELL_NUMBER);
    assert_int_equal(id->cell.aux, 1); /* an integer */
    assert_memory_equal(f->row.bytes.data + id->cell.v.off, "1", 1);
    assert_text(&f->row, "last_name", "Kretchmar");
    assert_int_equal(decode_file(f, "pg_delete_without_schema.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'd');
    assert_text(&f->row, "first_name", "Anne Marie");
}

static enum dbz_result decode_text(struct fixture *f, const char *text)
{
    return dbz_decode(f->dec, text, strlen(text), &f->row, f->err, sizeof f->err);
}

/* Without a schema the after image is decoded as it is met, before the
 * operation is known: an image the operation ignores must not matter. */
static void test_schemaless_image_read_before_the_operation(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_text(f, "{\"after\":{\"id\":2,\"name\":\"new\"},"
                                    "\"before\":{\"id\":1,\"name\":\"old\"},\"op\":\"d\"}"),
                     DBZ_ROW);
    assert_int_equal(f->row.op, 'd');
    assert_int_equal(f->row.nfields, 2);
    assert_text(&f->row, "name", "old");
    /* An after image that does not decode, in a delete: the before image counts. */
    assert_int_equal(decode_text(f, "{\"after\":{\"id\":2,\"id\":3},\"before\":{\"id\":1,"
                                    "\"name\":\"old\"},\"op\":\"d\",\"ts_ms\":5}"),
                     DBZ_ROW);
    assert_string_equal(f->err, "");
    assert_int_equal(f->row.nfields, 2);
    assert_text(&f->row, "name", "old");
    assert_true(f->row.has_ts && f->row.ts_ms == 5);
    /* The same image in a create is the row: its error is reported. */
    assert_int_equal(decode_text(f, "{\"after\":{\"id\":2,\"id\":3},\"before\":null,\"op\":\"c\"}"),
                     DBZ_ERROR);
    assert_string_equal(f->err, "payload.after.id: the field appears twice");
    /* A syntax error in it is an error whatever the operation. */
    assert_int_equal(decode_text(f, "{\"after\":{\"id\":2,},\"before\":{\"id\":1},\"op\":\"d\"}"),
                     DBZ_ERROR);
    assert_non_null(strstr(f->err, "invalid JSON at byte 17"));
}

/* A word that starts like null but is not one, where source may be null. */
static void test_broken_null_source_is_a_syntax_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_text(f, "{\"op\":\"m\",\"source\":n~ll}"), DBZ_ERROR);
    assert_non_null(strstr(f->err, "invalid JSON at byte 19"));
    assert_int_equal(decode_text(f, "{\"op\":\"m\",\"source\":null}"), DBZ_ROW);
}

static void test_truncate_and_message_have_no_image(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "pg_truncate_without_schema.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 't');
    assert_int_equal(f->row.nfields, 0);
    assert_true(f->row.ts_ms == 1559033904961LL);
    assert_int_equal(decode_file(f, "pg_message_without_schema.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'm');
    assert_int_equal(f->row.nfields, 0);
    assert_true(f->row.source_ts_ms == 1559033904863LL);
}

static void test_flattened_records(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "flattened_create.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'c');
    assert_false(f->row.has_ts);
    assert_true(f->row.source_ts_ms == 1559033904859LL);
    assert_text(&f->row, "__deleted", "false");
    assert_text(&f->row, "__table", "customers");
    for (size_t i = 0; i < f->row.nfields; i++)
        assert_string_not_equal(dbz_field_name(&f->row, &f->row.fields[i]), "__op");
    assert_int_equal(decode_file(f, "flattened_delete_rewrite.json"), DBZ_ROW);
    assert_int_equal(f->row.op, 'd');
    assert_text(&f->row, "__deleted", "true");
}

static void test_tombstone_and_key(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dbz_decode(f->dec, NULL, 0, &f->row, f->err, sizeof f->err), DBZ_TOMBSTONE);
    assert_int_equal(decode_file(f, "key_with_schema.json"), DBZ_ERROR);
    assert_non_null(strstr(f->err, "not a Debezium change event"));
    /* The JSON converter's tombstone with schemas: a null payload, on the
     * general path and on the fast path of a known schema. */
    const char *schema = "{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"optional\":true,"
                         "\"field\":\"after\",\"fields\":[{\"type\":\"int64\",\"optional\":false,"
                         "\"field\":\"id\"}]},{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}],"
                         "\"name\":\"t.Envelope\"}";
    char msg[1024];
    snprintf(msg, sizeof msg, "{\"schema\":%s,\"payload\":null}", schema);
    assert_int_equal(decode_text(f, msg), DBZ_TOMBSTONE);
    snprintf(msg, sizeof msg, "{\"schema\":%s,\"payload\":{\"op\":\"c\",\"after\":{\"id\":1}}}", schema);
    assert_int_equal(decode_text(f, msg), DBZ_ROW);
    snprintf(msg, sizeof msg, "{\"schema\":%s,\"payload\":null}", schema);
    assert_int_equal(decode_text(f, msg), DBZ_TOMBSTONE);
}

static void test_schema_is_parsed_once_and_reused(void **state)
{
    struct fixture *f = *state;
    /* The same schema text twice, then a message of another table: all decode. */
    assert_int_equal(decode_file(f, "pg_create_with_schema.json"), DBZ_ROW);
    assert_int_equal(decode_file(f, "pg_create_with_schema.json"), DBZ_ROW);
    assert_text(&f->row, "first_name", "Anne");
    assert_int_equal(decode_file(f, "pg_update_with_schema.json"), DBZ_ROW);
    assert_text(&f->row, "first_name", "Anne Marie");
}

/* A refused message gets the same error text whether its schema is cached
 * (the fast path) or not (the general path). */
static void test_refused_message_same_error_on_both_paths(void **state)
{
    struct fixture *f = *state;
    const char *schema = "{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"optional\":true,"
                         "\"field\":\"after\",\"fields\":[{\"type\":\"int64\",\"optional\":false,"
                         "\"field\":\"id\"}]},{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}],"
                         "\"name\":\"t.Envelope\"}";
    char good[1024], bad[3][1024];
    snprintf(good, sizeof good, "{\"schema\":%s,\"payload\":{\"op\":\"c\",\"after\":{\"id\":1}}}", schema);
    /* valid JSON with a member after the payload; a broken payload; a wrong type */
    snprintf(bad[0], sizeof bad[0], "{\"schema\":%s,\"payload\":{\"op\":\"c\",\"after\":{\"id\":1}},\"x\":1}", schema);
    snprintf(bad[1], sizeof bad[1], "{\"schema\":%s,\"payload\":{\"op\":\"c\",\"after\":{\"id\":}}}", schema);
    snprintf(bad[2], sizeof bad[2], "{\"schema\":%s,\"payload\":{\"op\":\"c\",\"after\":{\"id\":\"one\"}}}", schema);
    for (int i = 0; i < 3; i++) {
        struct dbz_decoder *cold = dbz_decoder_new();
        struct dbz_row row = {0};
        char general[512];
        enum dbz_result r = dbz_decode(cold, bad[i], strlen(bad[i]), &row, general, sizeof general);
        dbz_row_free(&row);
        dbz_decoder_free(cold);
        assert_int_equal(decode_text(f, good), DBZ_ROW); /* caches the schema */
        enum dbz_result fast = decode_text(f, bad[i]);
        assert_int_equal(fast, r);
        assert_string_equal(f->err, general);
    }
}

/* Kafka Connect's Time is milliseconds since midnight UTC (TIME(MILLIS, UTC)
 * in the README's mapping); Debezium's own Time is a local time of day. */
static void test_connect_time_is_utc_debezium_time_local(void **state)
{
    struct fixture *f = *state;
    const char *msg =
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"optional\":true,"
        "\"field\":\"after\",\"fields\":["
        "{\"type\":\"int32\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Time\","
        "\"version\":1,\"field\":\"connect_t\"},"
        "{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Time\",\"version\":1,"
        "\"field\":\"debezium_t\"}]},"
        "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}],\"name\":\"t.Envelope\"},"
        "\"payload\":{\"op\":\"c\",\"after\":{\"connect_t\":45296789,\"debezium_t\":45296789}}}";
    assert_int_equal(decode_text(f, msg), DBZ_ROW);
    const struct dbz_field *c = field(&f->row, "connect_t"), *d = field(&f->row, "debezium_t");
    assert_int_equal(c->type.pq, PQ_TIME_MILLIS);
    assert_true(c->type.utc);
    assert_int_equal(d->type.pq, PQ_TIME_MILLIS);
    assert_false(d->type.utc);
    assert_int_equal(c->cell.v.i, 45296789);
}

/* A message that is not an object is described as what it is: text that is
 * not JSON at all is a syntax error, not "a boolean" because it starts with t. */
static void test_non_object_messages_are_described_truthfully(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_text(f, "this is not json"), DBZ_ERROR);
    assert_non_null(strstr(f->err, "invalid JSON at byte"));
    assert_null(strstr(f->err, "boolean"));
    assert_int_equal(decode_text(f, "true"), DBZ_ERROR);
    assert_string_equal(f->err, "not a JSON object: the message is a boolean");
    assert_int_equal(decode_text(f, "42 43"), DBZ_ERROR);
    assert_string_equal(f->err, "invalid JSON at byte 2: text after the value");
    assert_int_equal(decode_text(f, "[1,2]"), DBZ_ERROR);
    assert_non_null(strstr(f->err, "not a JSON object: the message is"));
}

/* An envelope recorded from the real connector (see the fixtures' README):
 * each column's Parquet type and the value PostgreSQL holds. */
static void test_recorded_postgres_types(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "pg_recorded_types_snapshot_with_schema.json"), DBZ_ROW);
    const struct dbz_row *r = &f->row;
    assert_int_equal(r->op, 'r');
    assert_int_equal(field(r, "id")->type.pq, PQ_INT32);
    const struct dbz_field *t = field(r, "t"), *t6 = field(r, "t6");
    assert_int_equal(t->type.pq, PQ_TIME_MICROS);
    assert_true(t->cell.v.i == 45296789000LL); /* 12:34:56.789 */
    assert_int_equal(t6->type.pq, PQ_TIME_MICROS);
    assert_true(t6->cell.v.i == 45296123456LL); /* 12:34:56.123456 */
    const struct dbz_field *tz = field(r, "tz"); /* timetz: Debezium writes it in UTC */
    assert_int_equal(tz->type.pq, PQ_TIME_MICROS);
    assert_true(tz->type.utc);
    assert_true(tz->cell.v.i == 38096000000LL); /* 10:34:56 */
    const struct dbz_field *ts = field(r, "ts"), *tstz = field(r, "tstz");
    assert_int_equal(ts->type.pq, PQ_TIMESTAMP_MICROS);
    assert_false(ts->type.utc); /* timestamp without time zone */
    assert_true(ts->cell.v.i == 1704164645123456LL);
    assert_int_equal(tstz->type.pq, PQ_TIMESTAMP_MICROS);
    assert_true(tstz->type.utc);
    assert_true(tstz->cell.v.i == 1704164645000000LL);
    const struct dbz_field *d = field(r, "d");
    assert_int_equal(d->type.pq, PQ_DATE);
    assert_true(d->cell.v.i == -165); /* 1969-07-20 */
    const struct dbz_field *n = field(r, "n"), *m = field(r, "m");
    assert_int_equal(n->type.pq, PQ_DECIMAL);
    assert_int_equal(n->type.precision, 12);
    assert_int_equal(n->type.scale, 2);
    assert_int_equal(m->type.pq, PQ_DECIMAL); /* money: no precision given */
    assert_int_equal(m->type.scale, 2);
    assert_int_equal(field(r, "iv")->type.pq, PQ_INT64); /* interval as MicroDuration */
    assert_true(field(r, "iv")->cell.v.i == 93784000000LL);
    assert_int_equal(field(r, "j")->type.pq, PQ_JSON);
    assert_int_equal(field(r, "u")->type.pq, PQ_UUID);
    assert_int_equal(field(r, "b")->type.pq, PQ_BINARY);
    assert_text(r, "b", "\x01\x02");
    assert_int_equal(field(r, "r")->type.pq, PQ_STRING);
    assert_text(r, "r", "[1,5)");
    assert_int_equal(field(r, "p")->type.pq, PQ_JSON); /* a Point struct */
    const struct dbz_field *arr = field(r, "arr");
    assert_true(arr->type.list);
    assert_int_equal(arr->type.pq, PQ_INT32);
    assert_int_equal(arr->cell.len, 3);
}

/* The wide table recorded from Debezium 3.6.1 (recorded/wide_table.sql): the
 * types a hand-written sample had wrong. */
static void test_recorded_wide_table_types(void **state)
{
    struct fixture *f = *state;
    const char *fx = "recorded/wide_default.ndjson";
    const struct dbz_row *r = wide_row(f, fx, 2);
    /* JsonConverter names its floating types "float" and "double". */
    assert_int_equal(field(r, "c_real")->type.pq, PQ_FLOAT);
    assert_int_equal(field(r, "c_double")->type.pq, PQ_DOUBLE);
    assert_true(isinf(field(r, "c_double")->cell.v.d));
    /* bit(10) B'1111111111' and varbit B'101' as PostgreSQL prints them. */
    assert_int_equal(field(r, "c_bit10")->type.pq, PQ_STRING);
    assert_text(r, "c_bit10", "1111111111");
    assert_text(r, "c_varbit", "101");
    /* timetz '23:59:59.999999-12' arrives as 11:59:59.999999Z. */
    assert_int_equal(field(r, "c_timetz")->type.pq, PQ_TIME_MICROS);
    assert_true(field(r, "c_timetz")->type.utc);
    assert_true(field(r, "c_timetz")->cell.v.i == 43199999999LL);
    r = wide_row(f, fx, 1);
    assert_text(r, "c_bit10", "0000000001");
    assert_text(r, "c_varbit", "");
    /* numeric[] '{1.5,NULL,-0.001}': a LIST of exact decimal text. */
    const struct dbz_field *arr = field(r, "c_num_arr");
    assert_true(arr->type.list);
    assert_int_equal(arr->type.pq, PQ_STRING);
    assert_int_equal(arr->cell.len, 3);
    const struct cell *items = &r->items[arr->cell.v.off];
    assert_int_equal(items[0].len, 3);
    assert_memory_equal(r->bytes.data + items[0].v.off, "1.5", 3);
    assert_int_equal(items[1].kind, CELL_NULL);
    assert_int_equal(items[2].len, 6);
    assert_memory_equal(r->bytes.data + items[2].v.off, "-0.001", 6);
}

/* 'infinity' and '-infinity' of date, timestamp(3), timestamp(6) and
 * timestamptz become the largest and smallest values (DuckDB's infinities). */
static void test_recorded_infinities(void **state)
{
    struct fixture *f = *state;
    const char *fx = "recorded/wide_default.ndjson";
    const struct dbz_row *r = wide_row(f, fx, 3);
    assert_true(field(r, "c_date")->cell.v.i == INT32_MAX);
    assert_true(field(r, "c_tstz")->cell.v.i == INT64_MAX);
    r = wide_row(f, fx, 4);
    assert_true(field(r, "c_date")->cell.v.i == -INT32_MAX);
    assert_true(field(r, "c_tstz")->cell.v.i == -INT64_MAX);
    r = wide_row(f, fx, 5);
    assert_true(field(r, "c_ts3")->cell.v.i == INT64_MAX);
    assert_true(field(r, "c_ts6")->cell.v.i == -INT64_MAX);
    assert_true(field(r, "c_date")->cell.v.i == -719162); /* 0001-01-01: Debezium drops the BC */
    r = wide_row(f, fx, 6);
    assert_true(field(r, "c_ts3")->cell.v.i == -INT64_MAX);
    assert_true(field(r, "c_ts6")->cell.v.i == INT64_MAX);
    assert_true(field(r, "c_date")->cell.v.i == 2145042905); /* 5874897-12-31, a real date */
    /* While streaming, Debezium gives a date's infinities other numbers (seen
     * in the PostgreSQL end-to-end test): the snapshot's row 3, with them. */
    wide_row(f, fx, 3);
    char *at = strstr(f->data, "\"c_date\":-622191234");
    assert_non_null(at);
    size_t head = (size_t)(at - f->data) + strlen("\"c_date\":");
    const char *tail = at + strlen("\"c_date\":-622191234");
    for (int k = 0; k < 2; k++) {
        char *msg = malloc(f->len + 16);
        int n = snprintf(msg, f->len + 16, "%.*s%s%s", (int)head, f->data, k == 0 ? "-2147472692" : "-2147472691", tail);
        assert_int_equal(dbz_decode(f->dec, msg, (size_t)n, &f->row, f->err, sizeof f->err), DBZ_ROW);
        assert_true(field(&f->row, "c_date")->cell.v.i == (k == 0 ? INT32_MAX : -INT32_MAX));
        free(msg);
    }
    /* Kafka Connect's own types (time.precision.mode=connect) carry them too. */
    r = wide_row(f, "recorded/wide_connect.ndjson", 5);
    assert_true(field(r, "c_ts3")->cell.v.i == INT64_MAX);
    assert_true(field(r, "c_ts6")->cell.v.i == -INT64_MAX);
}

/* ExtractNewRecordState without add.fields: a record with a schema that is
 * not an envelope is a flattened record, though it has no __ field. */
static void test_recorded_flattened_without_markers(void **state)
{
    struct fixture *f = *state;
    const struct dbz_row *r = wide_row(f, "recorded/wide_unwrap.ndjson", 2);
    assert_int_equal(r->op, 'u');
    assert_int_equal(field(r, "c_smallint")->type.pq, PQ_INT16);
    assert_text(r, "c_varchar", "twenty chars exactly");
}

/* A metadata cell: its text in row->meta (NULL: a null cell). */
static void assert_meta_text(const struct dbz_row *row, const struct cell *c, const char *expected)
{
    if (expected == NULL) {
        assert_int_equal(c->kind, CELL_NULL);
        return;
    }
    assert_int_equal(c->kind, CELL_BYTES);
    if (c->len != strlen(expected) || memcmp(row->meta.data + c->v.off, expected, c->len) != 0)
        fail_msg("'%.*s' is not '%s'", (int)c->len, (const char *)row->meta.data + c->v.off, expected);
}

static void assert_meta_int(const struct cell *c, int64_t expected)
{
    assert_int_equal(c->kind, CELL_INT);
    assert_true(c->v.i == expected);
}

/* The source block of the real connector (3.6.1), on the general path and on
 * the fast path of a cached schema. */
static void test_source_metadata_recorded_with_schema(void **state)
{
    struct fixture *f = *state;
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(decode_file(f, "pg_recorded_types_snapshot_with_schema.json"), DBZ_ROW);
        const struct dbz_source *src = &f->row.src;
        assert_meta_int(&src->lsn, 22466840);
        assert_meta_int(&src->tx_id, 743);
        assert_meta_text(&f->row, &src->sequence, "[null,\"22466840\"]");
        assert_meta_text(&f->row, &src->snapshot, "last");
        assert_meta_text(&f->row, &src->name, "postgres.public.t");
        assert_meta_text(&f->row, &src->position, NULL);
        assert_int_equal(src->tx_order.kind, CELL_NULL); /* "transaction": null */
        assert_int_equal(src->tx_collection_order.kind, CELL_NULL);
    }
}

static void test_source_metadata_without_schema(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "pg_create_without_schema.json"), DBZ_ROW);
    const struct dbz_source *src = &f->row.src;
    assert_meta_int(&src->lsn, 24023128);
    assert_meta_int(&src->tx_id, 555);
    assert_meta_text(&f->row, &src->sequence, "[\"24023119\",\"24023128\"]");
    assert_meta_text(&f->row, &src->snapshot, "false");
    assert_meta_text(&f->row, &src->name, "postgres.public.customers");
    /* A logical decoding message: no table, no transaction id. */
    assert_int_equal(decode_file(f, "pg_message_without_schema.json"), DBZ_ROW);
    assert_meta_text(&f->row, &f->row.src.name, "postgres.public");
    assert_int_equal(f->row.src.tx_id.kind, CELL_NULL);
    assert_meta_int(&f->row.src.lsn, 24023128);
    /* No source block at all: every field null. */
    assert_int_equal(decode_text(f, "{\"op\":\"c\",\"after\":{\"id\":1}}"), DBZ_ROW);
    assert_meta_text(&f->row, &f->row.src.name, NULL);
    assert_meta_text(&f->row, &f->row.src.sequence, NULL);
    assert_int_equal(f->row.src.lsn.kind, CELL_NULL);
}

/* MySQL: no schema in the name, the binlog position as JSON, the
 * transaction block's orders. */
static void test_mysql_source_and_transaction_block(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "mysql_update_without_schema.json"), DBZ_ROW);
    const struct dbz_source *src = &f->row.src;
    assert_meta_text(&f->row, &src->name, "inventory.customers");
    assert_meta_text(&f->row, &src->position,
                     "{\"server_id\":223344,\"gtid\":\"3e11fa47-71ca-11e1-9e33-c80aa9429562:23\","
                     "\"file\":\"mysql-bin.000003\",\"pos\":484,\"row\":0}");
    assert_int_equal(src->lsn.kind, CELL_NULL);
    assert_int_equal(src->tx_id.kind, CELL_NULL);
    assert_meta_text(&f->row, &src->sequence, NULL); /* "sequence": null */
    assert_meta_text(&f->row, &src->snapshot, "false");
    assert_meta_int(&src->tx_order, 1);
    assert_meta_int(&src->tx_collection_order, 1);
    assert_text(&f->row, "first_name", "Anne Marie");
}

/* Values of other kinds than Debezium writes are no error: Oracle's txId and
 * scn are strings (kept in the position), a boolean snapshot (before
 * Debezium 1.6) is its text, a db that is not a string is left out. */
static void test_source_fields_of_other_kinds(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_text(f, "{\"op\":\"c\",\"after\":{\"id\":1},\"source\":{"
                                    "\"connector\":\"oracle\",\"snapshot\":true,\"db\":7,"
                                    "\"schema\":\"INVENTORY\",\"table\":\"CUSTOMERS\","
                                    "\"txId\":\"0a001b00c1a30000\",\"scn\":\"2294919\","
                                    "\"commit_scn\":\"2294922\",\"lsn\":1.5,\"sequence\":[1,2]},"
                                    "\"transaction\":\"not a block\"}"),
                     DBZ_ROW);
    const struct dbz_source *src = &f->row.src;
    assert_meta_text(&f->row, &src->snapshot, "true");
    assert_meta_text(&f->row, &src->name, "INVENTORY.CUSTOMERS");
    assert_int_equal(src->tx_id.kind, CELL_NULL);
    assert_int_equal(src->lsn.kind, CELL_NULL);
    assert_meta_text(&f->row, &src->position,
                     "{\"txId\":\"0a001b00c1a30000\",\"scn\":\"2294919\",\"commit_scn\":\"2294922\","
                     "\"lsn\":1.5}");
    assert_meta_text(&f->row, &src->sequence, "[1,2]");
    assert_int_equal(src->tx_order.kind, CELL_NULL);
    /* A syntax error inside the source block is still one. */
    assert_int_equal(decode_text(f, "{\"op\":\"c\",\"after\":{},\"source\":{\"lsn\":12x}}"),
                     DBZ_ERROR);
    assert_non_null(strstr(f->err, "invalid JSON at byte"));
}

/* Every position field of the other connectors, in the order given; MongoDB's
 * collection is the table. */
static void test_every_position_field(void **state)
{
    struct fixture *f = *state;
    static const char position[] =
        "{\"file\":\"f\",\"pos\":1,\"row\":2,\"gtid\":\"g\",\"server_id\":3,\"scn\":\"4\","
        "\"commit_scn\":\"5\",\"lcr_position\":\"6\",\"change_lsn\":\"7\",\"commit_lsn\":\"8\","
        "\"event_serial_no\":9,\"ord\":10,\"vgtid\":\"[{\\\"keyspace\\\":\\\"k\\\"}]\"}";
    char msg[1024];
    /* The same members, and others around them, in a source block. */
    snprintf(msg, sizeof msg, "{\"op\":\"c\",\"after\":{\"id\":1},\"source\":{\"version\":\"x\","
                              "\"db\":\"inventory\",\"collection\":\"customers\",\"h\":null,%.*s}}",
             (int)(sizeof position - 3), position + 1);
    assert_int_equal(decode_text(f, msg), DBZ_ROW);
    assert_meta_text(&f->row, &f->row.src.position, position);
    assert_meta_text(&f->row, &f->row.src.name, "inventory.customers");
}

/* A flattened record: the __ fields of add.fields fill the metadata, with or
 * without the struct's name, and stay data columns. A data column named
 * source is no source block. */
static void test_flattened_source_metadata(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(decode_file(f, "flattened_create.json"), DBZ_ROW);
    assert_meta_int(&f->row.src.lsn, 24023128);
    assert_meta_text(&f->row, &f->row.src.name, "customers");
    assert_int_equal(field(&f->row, "__lsn")->cell.kind, CELL_NUMBER); /* still a data column */
    assert_text(&f->row, "__table", "customers");

    assert_int_equal(decode_text(f, "{\"id\":1,\"source\":{\"lsn\":5,\"table\":\"x\"},"
                                    "\"__op\":\"u\",\"__db\":\"postgres\",\"__source_schema\":\"public\","
                                    "\"__table\":\"orders\",\"__source_lsn\":46523128,\"__source_txId\":556,"
                                    "\"__sequence\":\"[\\\"46523000\\\",\\\"46523128\\\"]\","
                                    "\"__snapshot\":\"false\",\"__transaction_total_order\":4,"
                                    "\"__data_collection_order\":2,\"__deleted\":\"false\"}"),
                     DBZ_ROW);
    const struct dbz_source *src = &f->row.src;
    assert_int_equal(f->row.op, 'u');
    assert_meta_int(&src->lsn, 46523128);
    assert_meta_int(&src->tx_id, 556);
    assert_meta_text(&f->row, &src->sequence, "[\"46523000\",\"46523128\"]");
    assert_meta_text(&f->row, &src->snapshot, "false");
    assert_meta_text(&f->row, &src->name, "postgres.public.orders");
    assert_meta_int(&src->tx_order, 4);
    assert_meta_int(&src->tx_collection_order, 2);
    assert_int_equal(field(&f->row, "source")->cell.kind, CELL_JSON);
    assert_int_equal(field(&f->row, "__source_txId")->cell.kind, CELL_NUMBER);

    /* With a schema, the same fields keep their declared types as data. */
    const char *msg =
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"field\":\"id\"},"
        "{\"type\":\"string\",\"optional\":true,\"field\":\"__op\"},"
        "{\"type\":\"int64\",\"optional\":true,\"field\":\"__lsn\"},"
        "{\"type\":\"string\",\"optional\":true,\"field\":\"__file\"}],\"name\":\"t.Value\"},"
        "\"payload\":{\"id\":1,\"__op\":\"c\",\"__lsn\":77,\"__file\":\"mysql-bin.000001\"}}";
    for (int pass = 0; pass < 2; pass++) { /* the fast path on the second */
        assert_int_equal(decode_text(f, msg), DBZ_ROW);
        assert_meta_int(&f->row.src.lsn, 77);
        assert_meta_text(&f->row, &f->row.src.position, "{\"file\":\"mysql-bin.000001\"}");
        assert_int_equal(field(&f->row, "__lsn")->type.pq, PQ_INT64);
        assert_int_equal(field(&f->row, "__lsn")->cell.v.i, 77);
        assert_text(&f->row, "__file", "mysql-bin.000001");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_with_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_delete_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_schema_keeps_json_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schemaless_image_read_before_the_operation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_null_source_is_a_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_and_message_have_no_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flattened_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_is_parsed_once_and_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_message_same_error_on_both_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_time_is_utc_debezium_time_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_object_messages_are_described_truthfully, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recorded_postgres_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recorded_wide_table_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recorded_infinities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recorded_flattened_without_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_metadata_recorded_with_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_metadata_without_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mysql_source_and_transaction_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_fields_of_other_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_position_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flattened_source_metadata, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
