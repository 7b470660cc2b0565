/* commit_round.h -- what happens once flushes come back from the upload
 * workers: metrics and log lines, one Prefect trigger per stored data file,
 * then one commit request for every partition stored; failed uploads wait
 * for their retry, failed commits are retried before the partition's next
 * file (the ledger's L2).
 *
 * Contract
 * - commit_round_new() makes the ledger (commit_round_ledger()) whose
 *   flushes go to `uploader` and whose commits go to the consumer `rk`,
 *   synchronously, or with KAFKA_COMMIT_ASYNCHRONOUS through a queue each
 *   round serves.
 * - commit_round_run() is one round: it takes every flush back that the
 *   workers finished (waiting up to timeout_ms for the first) and returns
 *   how many came back. A round that finds nothing allocates nothing.
 * - commit_round_drain() waits, commit rounds and all, until none of the
 *   given partitions is busy, or until the deadline; see its comment.
 * - An encoding failure (a bug, never retried) sets commit_round_fatal():
 *   nothing is ever committed past data that could not be written.
 * - Threads: the consumer thread only (the commit callbacks run inside
 *   rd_kafka calls made from it).
 */
#ifndef CDCW_COMMIT_ROUND_H
#define CDCW_COMMIT_ROUND_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "health.h"
#include "ledger.h"
#include "log.h"
#include "partition.h"
#include "pipeline_metrics.h"
#include "prefect.h"
#include "uploader.h"

struct commit_round_deps {
    const struct config *cfg;
    const struct log *log;
    rd_kafka_t *rk;
    struct uploader *uploader;
    struct prefect *prefect; /* NULL: no triggers */
    const struct pipeline_metrics *m;
    struct health *health;
    /* CDCW_FAILPOINT for the tests: "kill-before-commit" (SIGKILL once files
     * are stored), "skip-commits" (files count as committed, none is sent). */
    const char *failpoint;
};

struct commit_round;

struct commit_round *commit_round_new(const struct commit_round_deps *d);
/* The ledger must hold no flush with a worker (see ledger_free()). */
void commit_round_free(struct commit_round *cr);

struct ledger *commit_round_ledger(struct commit_round *cr);
/* The partitions, for the commit answers; set once, before the first round. */
void commit_round_set_registry(struct commit_round *cr, struct registry *r);

int commit_round_run(struct commit_round *cr, int timeout_ms);
bool commit_round_fatal(const struct commit_round *cr);

/* Waits until none of the n partitions has a flush in flight, a commit
 * pending or a sealed flush: their uploads run side by side on the workers,
 * so the wait is the longest flush, not the sum. A failed upload is retried
 * once at once, and so is a failed commit; a partition where either fails
 * again is given up, and so is every partition still busy at `deadline`
 * (clock_mono_s()). False when any was. */
bool commit_round_drain(struct commit_round *cr, struct part *const *parts, size_t n, double deadline);

/* Sets the committed offset gauge and the lag of the partition. */
void commit_round_update_lag(struct commit_round *cr, struct part *pt);

#endif
