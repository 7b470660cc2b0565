/* kafka_conf.h -- the librdkafka consumer configuration built from config.
 *
 * Contract
 * - kafka_conf_build() returns a new rd_kafka_conf_t for cdc-writer's
 *   consumer, or NULL after adding one line per problem to errs.
 * - cdc-writer owns offset management: group.id comes from
 *   CONSUMER_GROUP_ID, auto-commit and auto offset store are off, and the
 *   KAFKA_* pass-through may not change those (an error names the variable).
 * - Defaults a user may override through KAFKA_*: auto.offset.reset=earliest,
 *   partition.assignment.strategy=cooperative-sticky, and with librdkafka
 *   2.2 or later (FETCH_QUEUE_BACKOFF_VERSION) fetch.queue.backoff.ms=20.
 * - librdkafka's prefetch is part of MAX_BUFFER_BYTES: by default its local
 *   queue (queued.max.messages.kbytes) and one fetch response (fetch.max.bytes)
 *   may each hold an eighth of it (1 MiB to 64 MiB / 50 MiB), unless KAFKA_*
 *   sets them. kafka_prefetch_bytes() is what they add up to, as configured.
 * - Errors about secret properties never repeat their values.
 */
#ifndef CDCW_KAFKA_CONF_H
#define CDCW_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "config.h"

/* The first librdkafka (rd_kafka_version()) with fetch.queue.backoff.ms. */
#define FETCH_QUEUE_BACKOFF_VERSION 0x02020000

rd_kafka_conf_t *kafka_conf_build(const struct config *cfg, struct config_errors *errs);

/* Bytes librdkafka may hold in prefetched messages: queue plus one fetch. */
int64_t kafka_prefetch_bytes(const struct config *cfg);

#endif
