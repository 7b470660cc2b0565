/* row_batch.h -- the column buffers of one topic-partition between two
 * flushes, and their Parquet file.
 *
 * Contract
 * - Rows decoded by debezium.h are added with their Kafka offset and the time
 *   they were processed. Columns are matched by name; a column that appears
 *   later is null in the earlier rows, and a column missing from a row is
 *   null in it. Data columns are all OPTIONAL in the file.
 * - A row whose field has a different declared type than the batch's column
 *   (an ALTER TABLE in the middle of a batch), or that mixes schema and
 *   schema-less forms for one column, is not added: row_batch_add() returns
 *   BATCH_SCHEMA_CHANGED and says which column changed; the caller writes the
 *   batch out and adds the row to a new one.
 * - Columns without a schema get their type when the file is written: only
 *   integers -> INT64; numbers -> DOUBLE (when every integer is exact in a
 *   double); only booleans -> BOOLEAN; only objects/arrays -> JSON; only
 *   nulls, or a mix -> STRING holding each value's JSON text. No value is lost.
 * - Every file has the metadata columns, after the data columns, in this
 *   order (the README's metadata table says what each holds):
 *   _cdc_op, _cdc_ts, _cdc_source_ts, _processed_at, _kafka_topic,
 *   _kafka_partition, _kafka_offset, _kafka_timestamp; then those of the
 *   groups the batch was made with: CDC_META_SOURCE: _cdc_lsn, _cdc_tx_id,
 *   _cdc_sequence, _cdc_snapshot, _cdc_source, _cdc_position, _cdc_tx_order,
 *   _cdc_tx_collection_order; CDC_META_KEY: _kafka_key; CDC_META_HEADERS:
 *   _kafka_headers. All but _cdc_op, _processed_at and the Kafka topic,
 *   partition and offset may be null. A source column with the name of one
 *   of the file's metadata columns is written as <name>__src.
 */
#ifndef CDCW_ROW_BATCH_H
#define CDCW_ROW_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debezium.h"
#include "kafka_record.h"
#include "parquet.h"

/* The optional groups of metadata columns (CDC_METADATA). */
enum {
    CDC_META_SOURCE = 1,  /* the source position, transaction and table */
    CDC_META_KEY = 2,     /* the Kafka key */
    CDC_META_HEADERS = 4, /* the Kafka headers */
};

struct row_batch;

enum batch_add { BATCH_ADDED, BATCH_SCHEMA_CHANGED };

/* groups: CDC_META_* bits, the optional metadata columns its files have. */
struct row_batch *row_batch_new(const char *topic, int32_t partition, unsigned groups);
/* A new, empty batch of prev's topic, partition and groups whose buffers start at the
 * sizes prev's reached (for the columns of the same names), so that a steady
 * stream does not regrow them from nothing after every flush. The sizes are
 * reserved, not filled: memory never touched costs no RSS. */
struct row_batch *row_batch_successor(const struct row_batch *prev);
void row_batch_free(struct row_batch *b);

/* rec: the Kafka record the row's value came in (its offset, timestamp, key
 * and headers); rec->headers is read only with CDC_META_HEADERS. */
enum batch_add row_batch_add(struct row_batch *b, const struct dbz_row *row,
                             const struct kafka_record *rec, int64_t processed_at_us, char *why,
                             size_t whylen);

size_t row_batch_rows(const struct row_batch *b);
/* Bytes the buffered rows take in the column buffers: a 16-byte cell and the
 * copied bytes of each value (a null takes none), the validity bitmap of each
 * column with a value after a null (a bit per row, up to its last value) and
 * the metadata.
 * Capacity not yet used is not counted. Constant time, so it can be asked
 * after every row. */
size_t row_batch_memory(const struct row_batch *b);
int64_t row_batch_first_offset(const struct row_batch *b);
int64_t row_batch_last_offset(const struct row_batch *b);

/* Writes all rows as one Parquet file through sink. False with err set on
 * failure (the batch is left as it was). */
bool row_batch_write(const struct row_batch *b, const struct pq_options *opts, pq_sink_fn sink,
                     void *sink_ctx, char *err, size_t errlen);

/* Empties the batch (columns forgotten), keeping its topic, partition and groups. */
void row_batch_clear(struct row_batch *b);

#endif
