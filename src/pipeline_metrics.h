/* pipeline_metrics.h -- the metric families of the consume-write-commit
 * pipeline (the README's Metrics section lists them).
 *
 * Contract
 * - pipeline_metrics_define() registers every family in `r` from one table
 *   (name, help, type, labels) and fills m's handles; r may be NULL (no
 *   endpoint), and then every handle is NULL, which metrics.h accepts.
 * - The handles stay valid until the registry is freed; threads as metrics.h.
 */
#ifndef CDCW_PIPELINE_METRICS_H
#define CDCW_PIPELINE_METRICS_H

#include "metrics.h"

struct pipeline_metrics {
    struct metric_family *consumed, *consumed_bytes, *tombstones, *rows, *raw_bytes, *parquet_bytes,
        *files, *flushes, *flush_seconds, *encode_seconds, *upload_seconds, *upload_failures,
        *error_rows, *prefect, *commits, *committed, *lag, *rebalances, *replay_cuts, *key_conflicts,
        *time_fallbacks;
    /* Series of families without labels. */
    struct metric *buffered, *inflight, *assigned, *paused, *build_info;
};

void pipeline_metrics_define(struct metrics *r, struct pipeline_metrics *m);

/* Adds v to the family's series of one label value (a topic, mostly). */
void metric_count1(struct metric_family *f, const char *label, double v);
/* The same for a family of two labels. */
void metric_count2(struct metric_family *f, const char *a, const char *b, double v);

#endif
