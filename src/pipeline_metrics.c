/* pipeline_metrics.c -- see pipeline_metrics.h. */
#include "pipeline_metrics.h"

#include <stdbool.h>
#include <stddef.h>

#include "version.h"

enum { FAMILY, SERIES }; /* a family kept as is, or the one series of a family without labels */

/* One row per family: where its handle goes in struct pipeline_metrics. */
static const struct family_row {
    size_t at;
    int kind;
    const char *name, *help;
    enum metric_type type;
    const char *labels;
    bool latency; /* a histogram with the standard latency buckets */
} families[] = {
#define F(field, ...) {offsetof(struct pipeline_metrics, field), FAMILY, __VA_ARGS__}
#define S(field, ...) {offsetof(struct pipeline_metrics, field), SERIES, __VA_ARGS__}
    F(consumed, "cdcw_messages_consumed_total", "Kafka messages consumed.", METRIC_COUNTER,
      "topic,partition", false),
    F(consumed_bytes, "cdcw_message_bytes_consumed_total",
      "Bytes of Kafka message keys and values consumed.", METRIC_COUNTER, "topic,partition", false),
    F(tombstones, "cdcw_tombstones_total", "Tombstones consumed (no row; their offsets are committed).",
      METRIC_COUNTER, "topic", false),
    F(time_fallbacks, "cdcw_partition_time_fallbacks_total",
      "Messages placed in the lake by their Kafka timestamp (or a later fallback) because they lack "
      "PARTITION_TIME's field; refused messages included.",
      METRIC_COUNTER, "topic", false),
    F(rows, "cdcw_rows_written_total", "Rows stored in cdc_events/ files.", METRIC_COUNTER, "topic", false),
    F(error_rows, "cdcw_messages_routed_to_errors_total",
      "Messages the decoder refused, stored raw in cdc_errors/ files.", METRIC_COUNTER, "topic", false),
    F(raw_bytes, "cdcw_raw_bytes_written_total", "Kafka message bytes whose rows are stored.",
      METRIC_COUNTER, "topic", false),
    F(parquet_bytes, "cdcw_parquet_bytes_written_total", "Bytes of Parquet files stored.", METRIC_COUNTER,
      "topic", false),
    F(files, "cdcw_files_written_total",
      "Parquet files stored, kind events (cdc_events/) or errors (cdc_errors/).", METRIC_COUNTER,
      "topic,kind", false),
    F(flushes, "cdcw_flushes_total",
      "Flushes started, by reason (interval, rows, bytes, day-change, schema-change, memory, revoke, "
      "shutdown, replay-cut).",
      METRIC_COUNTER, "topic,reason", false),
    F(flush_seconds, "cdcw_flush_duration_seconds", "From the start of a flush until its files are stored.",
      METRIC_HISTOGRAM, "topic", true),
    F(encode_seconds, "cdcw_encode_duration_seconds", "Parquet encoding time of one flush.",
      METRIC_HISTOGRAM, "topic", true),
    F(upload_seconds, "cdcw_upload_duration_seconds", "Upload time of one flush's files, retries included.",
      METRIC_HISTOGRAM, "topic", true),
    F(upload_failures, "cdcw_upload_failures_total",
      "Flushes whose upload failed (kept uncommitted and retried).", METRIC_COUNTER, "topic", false),
    F(prefect, "cdcw_prefect_triggers_total", "Prefect flow run requests, by result (ok, failed, skipped).",
      METRIC_COUNTER, "table,result", false),
    F(commits, "cdcw_commits_total", "Offset commit requests, by their answer (ok, failed).",
      METRIC_COUNTER, "result", false),
    F(committed, "cdcw_committed_offset", "Offset last committed (the next offset to read).", METRIC_GAUGE,
      "topic,partition", false),
    F(lag, "cdcw_consumer_lag",
      "High watermark minus the committed offset (messages not yet in the lake).", METRIC_GAUGE,
      "topic,partition", false),
    F(replay_cuts, "cdcw_replay_cuts_total",
      "Files cut to end where an earlier owner's stored, uncommitted file ends.", METRIC_COUNTER, "topic",
      false),
    F(key_conflicts, "cdcw_key_conflicts_total",
      "Flushes whose key held another instance's file ending elsewhere (conditional writes): not "
      "overwritten, read again from its end.",
      METRIC_COUNTER, "topic", false),
    F(rebalances, "cdcw_rebalance_events_total", "Partitions assigned, revoked or lost.", METRIC_COUNTER,
      "event", false),
    S(buffered, "cdcw_buffered_bytes",
      "Bytes buffered and not yet stored, as counted against MAX_BUFFER_BYTES.", METRIC_GAUGE, "", false),
    S(inflight, "cdcw_uploads_in_flight", "Flushes being encoded or uploaded, or waiting for a retry.",
      METRIC_GAUGE, "", false),
    S(assigned, "cdcw_assigned_partitions", "Partitions assigned to this instance.", METRIC_GAUGE, "", false),
    S(paused, "cdcw_paused_partitions", "Partitions paused because MAX_BUFFER_BYTES was reached.",
      METRIC_GAUGE, "", false),
#undef F
#undef S
};

void pipeline_metrics_define(struct metrics *r, struct pipeline_metrics *m)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        const struct family_row *f = &families[i];
        struct metric_family *fam =
            metrics_family(r, f->name, f->help, f->type, f->labels, f->latency ? metrics_latency_buckets : NULL,
                           f->latency ? metrics_latency_nbuckets : 0);
        void *at = (char *)m + f->at;
        if (f->kind == FAMILY)
            *(struct metric_family **)at = fam;
        else
            *(struct metric **)at = metric_series(fam, NULL);
    }
    m->build_info = metric_series(metrics_family(r, "cdcw_build_info", "cdc-writer's version.", METRIC_GAUGE,
                                                 "version", NULL, 0),
                                  (const char *[]){version_string()});
    metric_set(m->build_info, 1);
    metric_set(m->assigned, 0);
    metric_set(m->paused, 0);
}

void metric_count1(struct metric_family *f, const char *label, double v)
{
    metric_add(metric_series(f, (const char *[]){label}), v);
}

void metric_count2(struct metric_family *f, const char *a, const char *b, double v)
{
    metric_add(metric_series(f, (const char *[]){a, b}), v);
}
