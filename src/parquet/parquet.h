/* parquet.h -- a streaming Parquet file writer.
 *
 * Contract
 * - A schema is a flat list of named columns (any UTF-8 name, kept as is),
 *   each REQUIRED or OPTIONAL, of one of the column types below. A column may
 *   instead be a LIST of such values, written as the 3-level structure the
 *   format specification recommends:
 *       <optional|required> group <name> (LIST) {
 *         repeated group list { optional <type> element; } }
 * - Values are appended column by column, one per column per row, then
 *   pq_end_row() closes the row. A LIST value is pq_list_begin(), zero or
 *   more element values, pq_list_end(); a null list is pq_append_null().
 * - The writer buffers one row group in memory (raw values, or dictionary
 *   indices while a column's dictionary is alive) and emits it through the
 *   sink when its raw size reaches row_group_bytes, then at pq_writer_close().
 *   Memory is bounded by the row group, not by the file.
 * - Each column chunk is dictionary encoded (a PLAIN dictionary page, then
 *   RLE_DICTIONARY data pages) while its dictionary stays under
 *   dictionary_limit bytes and is smaller than PLAIN; otherwise PLAIN. Data
 *   pages hold about page_bytes of raw values, are V1 pages, start at row
 *   boundaries and are compressed with the chosen codec.
 * - Statistics (min, max, null count) are written per page and per column
 *   chunk with each logical type's sort order; NaN never becomes a min or max.
 * - Both the LogicalType and the legacy ConvertedType are written where one
 *   exists. created_by is version_created_by(). Key-value metadata is optional.
 * - A file with zero rows is valid: schema, no row groups.
 * - Errors (a value of the wrong kind for its column, a row with a missing
 *   value, a decimal that does not fit its precision, a sink failure) return
 *   false; pq_writer_error() says what and where. After an error, only
 *   pq_writer_free() is allowed.
 */
#ifndef CDCW_PARQUET_H
#define CDCW_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pq_column_type {
    PQ_BOOLEAN,
    PQ_INT8,  /* INT32 annotated INT(8, signed) */
    PQ_INT16, /* INT32 annotated INT(16, signed) */
    PQ_INT32,
    PQ_INT64,
    PQ_FLOAT,
    PQ_DOUBLE,
    PQ_STRING, /* BYTE_ARRAY, STRING (UTF8) */
    PQ_JSON,   /* BYTE_ARRAY, JSON */
    PQ_ENUM,   /* BYTE_ARRAY, ENUM */
    PQ_BINARY, /* BYTE_ARRAY, no annotation */
    PQ_UUID,   /* FIXED_LEN_BYTE_ARRAY(16), UUID */
    PQ_DECIMAL, /* INT32 for precision <= 9, INT64 <= 18, else FIXED_LEN_BYTE_ARRAY */
    PQ_DATE,    /* INT32 days since 1970-01-01 */
    PQ_TIME_MILLIS,      /* INT32 milliseconds since midnight */
    PQ_TIME_MICROS,      /* INT64 microseconds since midnight */
    PQ_TIMESTAMP_MILLIS, /* INT64 milliseconds since the epoch */
    PQ_TIMESTAMP_MICROS, /* INT64 microseconds since the epoch */
};

enum pq_codec { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2, PQ_CODEC_ZSTD = 6 };

struct pq_column_spec {
    const char *name;
    enum pq_column_type type;
    bool optional;        /* the column (or the list) may be null */
    bool list;            /* a LIST of `type`; elements are always optional */
    int precision, scale; /* PQ_DECIMAL: 1..38 and 0..precision */
    bool adjusted_to_utc; /* PQ_TIMESTAMP_* and PQ_TIME_*: instant (true) or local time */
};

struct pq_options {
    enum pq_codec codec;
    int compression_level;    /* 0: the codec's default */
    size_t row_group_bytes;   /* raw bytes buffered before a row group is written */
    size_t page_bytes;        /* raw bytes per data page, about */
    size_t page_rows;         /* rows per data page at most */
    size_t dictionary_limit;  /* dictionary bytes above which a chunk falls back to PLAIN */
    bool dictionary;          /* false: PLAIN only */
};

/* The defaults: SNAPPY, 64 MiB row groups, 1 MiB pages of at most 20,000
 * rows, 1 MiB dictionaries. */
void pq_options_default(struct pq_options *opts);

/* Receives the file's bytes in order; returns false to fail the write. */
typedef bool (*pq_sink_fn)(void *ctx, const void *data, size_t len);

struct pq_writer;

/* Copies the schema; returns NULL and sets *error (static text) when the
 * schema is invalid (no columns, empty or duplicate name, bad decimal). */
struct pq_writer *pq_writer_new(const struct pq_column_spec *columns, size_t column_count,
                                const struct pq_options *opts, pq_sink_fn sink, void *sink_ctx,
                                const char **error);

/* Key-value metadata for the footer; copies both strings. */
void pq_writer_add_metadata(struct pq_writer *w, const char *key, const char *value);

bool pq_append_null(struct pq_writer *w, size_t col);
bool pq_append_bool(struct pq_writer *w, size_t col, bool v);
/* INT8/16/32, DATE, TIME_MILLIS; and DECIMAL with precision <= 9 (unscaled). */
bool pq_append_i32(struct pq_writer *w, size_t col, int32_t v);
/* INT64, TIME_MICROS, TIMESTAMP_*; and DECIMAL with precision <= 18 (unscaled). */
bool pq_append_i64(struct pq_writer *w, size_t col, int64_t v);
bool pq_append_float(struct pq_writer *w, size_t col, float v);
bool pq_append_double(struct pq_writer *w, size_t col, double v);
/* STRING, JSON, ENUM, BINARY; UUID with len 16. */
bool pq_append_bytes(struct pq_writer *w, size_t col, const void *data, size_t len);
/* DECIMAL of any precision from a big-endian two's complement unscaled value
 * of any length (as Kafka Connect sends it); fails when it does not fit. */
bool pq_append_decimal_be(struct pq_writer *w, size_t col, const uint8_t *be, size_t len);

bool pq_list_begin(struct pq_writer *w, size_t col);
bool pq_list_end(struct pq_writer *w, size_t col);

/* Closes the row: every column must have received exactly one value. */
bool pq_end_row(struct pq_writer *w);

/* Writes the buffered row group (if any) and the footer. */
bool pq_writer_close(struct pq_writer *w);

const char *pq_writer_error(const struct pq_writer *w);
uint64_t pq_writer_rows(const struct pq_writer *w);
/* Bytes given to the sink so far. */
uint64_t pq_writer_bytes_written(const struct pq_writer *w);
/* Raw bytes buffered in the current row group. */
size_t pq_writer_buffered_bytes(const struct pq_writer *w);

void pq_writer_free(struct pq_writer *w);

/* Bytes of a decimal of this precision on FIXED_LEN_BYTE_ARRAY. */
int pq_decimal_fixed_len(int precision);

#endif
