/* intake.h -- one Kafka message into its partition: the Debezium decoder,
 * the column buffers (or the refused messages), and the cuts a message
 * forces before it is taken (a replay cut, a day change, a schema change)
 * or after (MAX_BATCH_SIZE, MAX_BATCH_BYTES).
 *
 * Contract
 * - intake_message() takes a message of an assigned partition (one it does
 *   not know is added to the registry) and owns it from then on. Messages
 *   are taken in increasing offsets (partition.h, P1); one delivered again is
 *   skipped.
 * - Messages come in bursts: each may be taken on a decode lane (one of
 *   DECODE_WORKERS threads, each partition always on the same one) until
 *   intake_settle(), which waits for the lanes and hands their cuts to the
 *   ledger. Between intake_message() and intake_settle() the consumer thread
 *   touches no partition and no ledger state (the rebalance callback settles
 *   first).
 * - Before the first row or refused message of a file after an assignment the
 *   lane asks the store whether an earlier owner stored a file under the same
 *   key (the replay probe, see intake.c): a bounded HEAD.
 * - After a key conflict (commit_round.c), intake_restart_due() moves the
 *   partitions marked to be read again to where the other file ends.
 * - A failed seek is fatal (intake_fatal()): a message is never skipped
 *   silently.
 * - Threads: every function is the consumer thread's; intake.c lists its own.
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

/* probe: the settings of the probes' clients (see intake_probe_config()),
 * one per lane. NULL with err set when a client or a lane cannot start. */
struct intake *intake_new(const struct config *cfg, const struct log *lg, rd_kafka_t *rk, struct registry *parts,
                          const struct object_store_config *probe, const struct pipeline_metrics *m,
                          char *err, size_t errlen);
void intake_free(struct intake *in);

/* The settings of the probes' client: cfg's, with at most PROBE_TIMEOUT_S
 * per attempt and PROBE_ATTEMPTS attempts. */
void intake_probe_config(struct object_store_config *cfg);

void intake_message(struct intake *in, rd_kafka_message_t *m);
/* Ends a burst: waits until every message handed over is taken, then hands
 * the cuts to the ledger and charges the buffers. NULL: nothing. */
void intake_settle(struct intake *in);
void intake_restart_due(struct intake *in);
bool intake_fatal(const struct intake *in);

#endif
