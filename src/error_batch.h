/* error_batch.h -- messages the decoder refused, kept raw, for cdc_errors/.
 *
 * Contract: each added message keeps its topic, partition, offset, Kafka
 * timestamp, key and value bytes exactly, with the decoder's error and the
 * processing time. error_batch_write() produces one Parquet file with the columns
 * _kafka_topic, _kafka_partition, _kafka_offset, _kafka_timestamp, _kafka_key
 * (binary), _kafka_value (binary), _error, _processed_at.
 */
#ifndef CDCW_ERROR_BATCH_H
#define CDCW_ERROR_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet.h"

struct error_batch;

struct error_batch *error_batch_new(const char *topic, int32_t partition);
void error_batch_free(struct error_batch *b);
void error_batch_add(struct error_batch *b, int64_t offset, int64_t timestamp_ms, const void *key,
                     size_t key_len, const void *value, size_t value_len, const char *error,
                     int64_t processed_at_us);
size_t error_batch_rows(const struct error_batch *b);
size_t error_batch_memory(const struct error_batch *b);
int64_t error_batch_first_offset(const struct error_batch *b);
int64_t error_batch_first_timestamp(const struct error_batch *b);
bool error_batch_write(const struct error_batch *b, const struct pq_options *opts, pq_sink_fn sink,
                       void *ctx, char *err, size_t errlen);
void error_batch_clear(struct error_batch *b);

#endif
