/* pipeline.h -- the daemon's loop: consume, decode, buffer, write, trigger,
 * commit.
 *
 * Contract
 * - pipeline_run() subscribes to KAFKA_TOPIC_PATTERN in CONSUMER_GROUP_ID and
 *   runs until *stop becomes non-zero (a signal) or a fatal error. It returns
 *   the process exit status: 0 after a clean shutdown (everything flushed,
 *   committed, group left), 1 on a fatal error (a line in the log says why).
 * - Offsets are committed only after the files holding every message up to
 *   them are stored (and the Prefect trigger was attempted): offset = last
 *   processed + 1, tombstones and refused messages included.
 * - File keys are deterministic (lake_layout.h), so a replay after a crash
 *   overwrites what the crashed run left uncommitted: each row is in the lake
 *   exactly once.
 * - A failing upload keeps the data buffered and uncommitted and is retried
 *   with backoff (from 2 s up to about 30 s); above MAX_BUFFER_BYTES the assigned partitions are
 *   paused, while polling goes on, until the buffers drain.
 * - Revoked partitions are flushed and committed before the rebalance
 *   completes, waiting at most half of max.poll.interval.ms (or dropped
 *   uncommitted when that fails); lost ones are dropped.
 * - Metrics (cdcw_*) are kept in `metrics`: see the README's Metrics section.
 */
#ifndef CDCW_PIPELINE_H
#define CDCW_PIPELINE_H

#include <signal.h>

#include "config.h"
#include "health.h"
#include "log.h"
#include "metrics.h"

/* metrics and health may be NULL (no HTTP endpoint). With health, a thread
 * probes the bucket every HEALTH_STORE_CHECK_SECONDS while the pipeline runs. */
int pipeline_run(const struct config *cfg, const struct log *lg, struct metrics *metrics,
                 struct health *health, volatile sig_atomic_t *stop);

#endif
