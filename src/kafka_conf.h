/* kafka_conf.h -- the librdkafka consumer configuration built from config.
 *
 * Contract
 * - kafka_conf_build() returns a new rd_kafka_conf_t for cdc-writer's
 *   consumer, or NULL after adding one line per problem to errs.
 * - cdc-writer owns offset management: group.id comes from
 *   CONSUMER_GROUP_ID, auto-commit and auto offset store are off, and the
 *   KAFKA_* pass-through may not change those (an error names the variable).
 * - Defaults a user may override through KAFKA_*: auto.offset.reset=earliest,
 *   partition.assignment.strategy=cooperative-sticky.
 * - Errors about secret properties never repeat their values.
 */
#ifndef CDCW_KAFKA_CONF_H
#define CDCW_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "config.h"

rd_kafka_conf_t *kafka_conf_build(const struct config *cfg, struct config_errors *errs);

#endif
