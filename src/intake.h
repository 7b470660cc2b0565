/* intake.h -- one Kafka message into its partition: the Debezium decoder,
 * the column buffers (or the refused messages), and the cuts a message
 * forces before it is taken (a replay cut, a day change, a schema change)
 * or after (MAX_BATCH_SIZE, MAX_BATCH_BYTES).
 *
 * Contract
 * - intake_message() takes a message of an assigned partition (one it does
 *   not know is added to the registry). Messages are taken in increasing
 *   offsets (partition.h, P1); one delivered again is skipped.
 * - Before the first row or refused message of a file after an assignment it
 *   asks the store whether an earlier owner stored a file under the same key
 *   (the replay probe, see intake.c): a bounded HEAD on this thread.
 * - After a key conflict (commit_round.c), intake_restart_due() moves the
 *   partitions marked to be read again to where the other file ends.
 * - A failed seek is fatal (intake_fatal()): a message is never skipped
 *   silently.
 * - Threads: the consumer thread only.
 */
#ifndef CDCW_INTAKE_H
#define CDCW_INTAKE_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "log.h"
#include "object_store.h"
#include "partition.h"
#include "pipeline_metrics.h"

struct intake;

/* store: the probes' own client (see intake_probe_config()); owned by the
 * intake from here on. */
struct intake *intake_new(const struct config *cfg, const struct log *lg, rd_kafka_t *rk, struct registry *parts,
                          struct object_store *store, const struct pipeline_metrics *m);
void intake_free(struct intake *in);

/* The settings of the probes' client: cfg's, with at most PROBE_TIMEOUT_S
 * per attempt and PROBE_ATTEMPTS attempts. */
void intake_probe_config(struct object_store_config *cfg);

void intake_message(struct intake *in, const rd_kafka_message_t *m);
void intake_restart_due(struct intake *in);
bool intake_fatal(const struct intake *in);

#endif
