/* pipeline.c -- see pipeline.h for the contract.
 *
 * One consumer thread: librdkafka's high-level consumer is polled in a loop;
 * each message goes through the decoder into its topic-partition's column
 * buffers. A flush hands those buffers to the uploader's worker threads,
 * which encode and store them; back on this thread, each stored flush
 * triggers Prefect and is committed. Rebalance callbacks run inside
 * rd_kafka_consumer_poll(), on this same thread, so they can wait for their
 * partitions' uploads and commit directly.
 *
 * The delivery guarantee rests on these invariants (asserted where they are
 * relied on; the sanitizer build keeps the asserts):
 * 1. A partition has at most one flush in flight (part.inflight).
 * 2. No flush of a partition is submitted while its inflight is set or its
 *    commit_pending is (batches cut meanwhile wait in part.sealed, oldest
 *    first, and go one at a time): so at
 *    most one stored file of a partition is ever uncommitted, and a failed
 *    commit is retried before anything newer of it is written.
 * 3. An offset counts as committed only in on_commit(), on the broker's
 *    acknowledgement, for synchronous and asynchronous commits alike.
 * 4. While a replay cut is set (part.cut_at), no file of the partition holds
 *    a message past it: a new owner's file ends where the earlier owner's
 *    stored file with the same key ends.
 * 5. A partition's messages are taken in increasing offsets: one delivered
 *    again below part.next_offset (which only this instance's seeks lower) is
 *    already buffered or stored, and is skipped.
 * 6. While a partition waits to be read again after a key conflict
 *    (part.restart_at), it buffers nothing and has no sealed batch: what it
 *    held followed the conflicting file and may repeat the other writer's.
 */
#include "pipeline.h"

#include <assert.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "debezium.h"
#include "error_batch.h"
#include "fetch_nudge.h"
#include "health.h"
#include "kafka_conf.h"
#include "lake_layout.h"
#include "metrics.h"
#include "object_store.h"
#include "prefect.h"
#include "row_batch.h"
#include "store_config.h"
#include "uploader.h"
#include "version.h"
#include "xalloc.h"

struct part {
    char *topic, *table;
    int32_t partition;
    struct dbz_decoder *decoder;
    struct row_batch *rows;
    struct error_batch *errors;
    int64_t rows_first_ts, day;
    bool has_day;
    int64_t commit_next; /* last processed offset + 1, -1: nothing pending */
    /* A stored flush's offset whose commit is not acknowledged yet (-1: none).
     * While it is set, no new flush of the partition starts (invariant 2). */
    int64_t commit_pending;
    bool commit_sent;        /* its request awaits an answer (asynchronous commits) */
    double commit_retry_at;  /* after a failure: when to send it again */
    int commit_attempts;
    bool commit_fenced;      /* its last refusal said the group moved on: see group_moved_on() */
    /* Replay cuts: after an assignment, each new file first asks the store
     * whether an earlier owner stored a file under the same key, and if so
     * ends where that one ends (cut_at, -1: no cut), so two owners' cuts
     * never overlap. */
    bool probing;
    int64_t cut_at;
    /* Conditional writes: a flush found its key taken by a file ending
     * elsewhere; the partition is read again from restart_at (-1: none). */
    int64_t restart_at;
    /* The lowest offset the next message may have (-1: any): one past the
     * last message taken, or where this instance sought (invariant 5). */
    int64_t next_offset;
    size_t bytes;        /* raw message bytes buffered (MAX_BATCH_BYTES) */
    size_t held;         /* what the buffers count against MAX_BUFFER_BYTES (charge()) */
    struct upload_job *inflight; /* the flush being stored, or waiting for a retry */
    /* Batches cut while the partition was busy (a replay cut, a day or schema
     * change, a revocation), oldest first: each is submitted once inflight is
     * done and its commit acknowledged. Their memory counts in buffered. */
    struct upload_job **sealed;
    size_t nsealed, sealed_cap;
    int64_t committed, first_offset; /* -1: none yet */
    char partition_text[16];
    struct metric *m_consumed, *m_consumed_bytes, *m_committed, *m_lag;
};

/* The pipeline's metric families (see the README's Metrics section). */
struct pipeline_metrics {
    struct metric_family *consumed, *consumed_bytes, *tombstones, *rows, *raw_bytes, *parquet_bytes,
        *files, *flushes, *flush_seconds, *encode_seconds, *upload_seconds, *upload_failures,
        *error_rows, *prefect, *commits, *committed, *lag, *rebalances, *replay_cuts, *key_conflicts;
    struct metric *buffered, *inflight, *assigned, *paused, *build_info;
};

struct pipeline {
    const struct config *cfg;
    const struct log *log;
    volatile sig_atomic_t *stop;
    rd_kafka_t *rk;
    regex_t topic_re;
    bool have_re;
    struct part **parts;
    size_t nparts, parts_cap;
    struct object_store *store;
    struct uploader *uploader;
    rd_kafka_queue_t *consumer_queue; /* yielded by upload workers to end a poll early */
    rd_kafka_queue_t *commit_queue;   /* answers to asynchronous commits, served by serve_commits() */
    struct prefect *prefect;
    struct pq_options pq;
    struct dbz_row row;
    size_t buffered;  /* bytes held and not yet stored: buffers and uploads in flight */
    size_t unflushed; /* of which still in partition buffers */
    int64_t limit;    /* MAX_BUFFER_BYTES less librdkafka's prefetch and the writing reserve */
    struct part *last_part; /* messages come in runs of one partition */
    size_t retries_waiting;
    size_t restarts_waiting; /* partitions with restart_at set */
    double next_commit_retry; /* when the earliest failed commit is due again, 0: none */
    double next_memory_flush;
    atomic_bool paused; /* atomic: the fetch nudger's thread reads it too */
    struct fetch_nudge *nudge;
    double next_flush;
    const char *failpoint;
    int fatal;
    bool closing;          /* leaving the group, at shutdown */
    bool cooperative;      /* partitions move cooperatively: see rebalance_is_cooperative() */
    bool dropped_unstored; /* meanwhile a revoked partition's buffers could not be written */
    bool kafka_reached; /* the cluster answered once: see on_error() */
    atomic_int handshake_hangups; /* counted by on_log() on librdkafka's threads */
    struct metrics *metrics;
    struct health *health;
    struct pipeline_metrics m;
    double next_gauges;
    double prefect_resume_at; /* after a failed trigger, triggers wait until then */
    bool prefect_skip_logged; /* the skipping since the last failure is logged */
};

static void define_metrics(struct pipeline *p)
{
    struct metrics *r = p->metrics;
    struct pipeline_metrics *m = &p->m;
    const double *lat = metrics_latency_buckets;
    size_t nlat = metrics_latency_nbuckets;
    m->consumed = metrics_family(r, "cdcw_messages_consumed_total", "Kafka messages consumed.",
                                 METRIC_COUNTER, "topic,partition", NULL, 0);
    m->consumed_bytes = metrics_family(r, "cdcw_message_bytes_consumed_total",
                                       "Bytes of Kafka message keys and values consumed.",
                                       METRIC_COUNTER, "topic,partition", NULL, 0);
    m->tombstones = metrics_family(r, "cdcw_tombstones_total",
                                   "Tombstones consumed (no row; their offsets are committed).",
                                   METRIC_COUNTER, "topic", NULL, 0);
    m->rows = metrics_family(r, "cdcw_rows_written_total", "Rows stored in cdc_events/ files.",
                             METRIC_COUNTER, "topic", NULL, 0);
    m->error_rows = metrics_family(r, "cdcw_messages_routed_to_errors_total",
                                   "Messages the decoder refused, stored raw in cdc_errors/ files.",
                                   METRIC_COUNTER, "topic", NULL, 0);
    m->raw_bytes = metrics_family(r, "cdcw_raw_bytes_written_total",
                                  "Kafka message bytes whose rows are stored.", METRIC_COUNTER,
                                  "topic", NULL, 0);
    m->parquet_bytes = metrics_family(r, "cdcw_parquet_bytes_written_total",
                                      "Bytes of Parquet files stored.", METRIC_COUNTER, "topic", NULL, 0);
    m->files = metrics_family(r, "cdcw_files_written_total",
                              "Parquet files stored, kind events (cdc_events/) or errors (cdc_errors/).",
                              METRIC_COUNTER, "topic,kind", NULL, 0);
    m->flushes = metrics_family(r, "cdcw_flushes_total",
                                "Flushes started, by reason (interval, rows, bytes, day-change, "
                                "schema-change, memory, revoke, shutdown, replay-cut).",
                                METRIC_COUNTER, "topic,reason", NULL, 0);
    m->flush_seconds = metrics_family(r, "cdcw_flush_duration_seconds",
                                      "From the start of a flush until its files are stored.",
                                      METRIC_HISTOGRAM, "topic", lat, nlat);
    m->encode_seconds = metrics_family(r, "cdcw_encode_duration_seconds",
                                       "Parquet encoding time of one flush.", METRIC_HISTOGRAM,
                                       "topic", lat, nlat);
    m->upload_seconds = metrics_family(r, "cdcw_upload_duration_seconds",
                                       "Upload time of one flush's files, retries included.",
                                       METRIC_HISTOGRAM, "topic", lat, nlat);
    m->upload_failures = metrics_family(r, "cdcw_upload_failures_total",
                                        "Flushes whose upload failed (kept uncommitted and retried).",
                                        METRIC_COUNTER, "topic", NULL, 0);
    m->prefect = metrics_family(r, "cdcw_prefect_triggers_total",
                                "Prefect flow run requests, by result (ok, failed, skipped).", METRIC_COUNTER,
                                "table,result", NULL, 0);
    m->commits = metrics_family(r, "cdcw_commits_total", "Offset commit requests, by their answer (ok, failed).",
                                METRIC_COUNTER, "result", NULL, 0);
    m->committed = metrics_family(r, "cdcw_committed_offset",
                                  "Offset last committed (the next offset to read).", METRIC_GAUGE,
                                  "topic,partition", NULL, 0);
    m->lag = metrics_family(r, "cdcw_consumer_lag",
                            "High watermark minus the committed offset (messages not yet in the lake).",
                            METRIC_GAUGE, "topic,partition", NULL, 0);
    m->replay_cuts = metrics_family(r, "cdcw_replay_cuts_total",
                                    "Files cut to end where an earlier owner's stored, uncommitted "
                                    "file ends.",
                                    METRIC_COUNTER, "topic", NULL, 0);
    m->key_conflicts = metrics_family(r, "cdcw_key_conflicts_total",
                                      "Flushes whose key held another instance's file ending elsewhere "
                                      "(conditional writes): not overwritten, read again from its end.",
                                      METRIC_COUNTER, "topic", NULL, 0);
    m->rebalances = metrics_family(r, "cdcw_rebalance_events_total",
                                   "Partitions assigned, revoked or lost.", METRIC_COUNTER, "event",
                                   NULL, 0);
    m->buffered = metric_series(metrics_family(r, "cdcw_buffered_bytes",
                                               "Bytes buffered and not yet stored, as counted against MAX_BUFFER_BYTES.",
                                               METRIC_GAUGE, "", NULL, 0),
                                NULL);
    m->inflight = metric_series(metrics_family(r, "cdcw_uploads_in_flight",
                                               "Flushes being encoded or uploaded, or waiting for a retry.",
                                               METRIC_GAUGE, "", NULL, 0),
                                NULL);
    m->assigned = metric_series(metrics_family(r, "cdcw_assigned_partitions",
                                               "Partitions assigned to this instance.", METRIC_GAUGE,
                                               "", NULL, 0),
                                NULL);
    m->paused = metric_series(metrics_family(r, "cdcw_paused_partitions",
                                             "Partitions paused because MAX_BUFFER_BYTES was reached.",
                                             METRIC_GAUGE, "", NULL, 0),
                              NULL);
    m->build_info = metric_series(metrics_family(r, "cdcw_build_info", "cdc-writer's version.",
                                                 METRIC_GAUGE, "version", NULL, 0),
                                  (const char *[]){version_string()});
    metric_set(m->build_info, 1);
    metric_set(m->assigned, 0);
    metric_set(m->paused, 0);
}

static void count_topic(struct metric_family *f, const char *topic, double v)
{
    metric_add(metric_series(f, (const char *[]){topic}), v);
}

static double now_s(void)
{
    return clock_mono_s();
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------- partitions ---------- */

static struct part *find_part(struct pipeline *p, const char *topic, int32_t partition, bool create)
{
    struct part *last = p->last_part;
    if (last != NULL && last->partition == partition && strcmp(last->topic, topic) == 0)
        return last;
    for (size_t i = 0; i < p->nparts; i++)
        if (p->parts[i]->partition == partition && strcmp(p->parts[i]->topic, topic) == 0)
            return p->last_part = p->parts[i];
    if (!create)
        return NULL;
    struct part *pt = xcalloc(1, sizeof *pt);
    pt->topic = xstrdup(topic);
    pt->partition = partition;
    pt->table = lake_table_name(p->have_re ? &p->topic_re : NULL, topic);
    pt->decoder = dbz_decoder_new();
    pt->rows = row_batch_new(topic, partition);
    pt->errors = error_batch_new(topic, partition);
    pt->commit_next = -1;
    pt->commit_pending = -1;
    pt->probing = true;
    pt->cut_at = -1;
    pt->restart_at = -1;
    pt->next_offset = -1;
    pt->committed = -1;
    pt->first_offset = -1;
    snprintf(pt->partition_text, sizeof pt->partition_text, "%d", (int)partition);
    const char *labels[] = {pt->topic, pt->partition_text};
    pt->m_consumed = metric_series(p->m.consumed, labels);
    pt->m_consumed_bytes = metric_series(p->m.consumed_bytes, labels);
    pt->m_committed = metric_series(p->m.committed, labels);
    pt->m_lag = metric_series(p->m.lag, labels);
    if (p->nparts == p->parts_cap) {
        p->parts_cap = p->parts_cap ? p->parts_cap * 2 : 16;
        p->parts = xrealloc(p->parts, p->parts_cap * sizeof *p->parts);
    }
    p->parts[p->nparts++] = pt;
    return p->last_part = pt;
}

/* Drops what the partition holds that no upload has: its sealed batch (never
 * submitted) and its buffers; none of it is stored or committed. */
static void clear_unsubmitted(struct pipeline *p, struct part *pt)
{
    for (size_t i = 0; i < pt->nsealed; i++) {
        p->buffered -= pt->sealed[i]->held;
        upload_job_free(pt->sealed[i]);
    }
    pt->nsealed = 0;
    row_batch_clear(pt->rows);
    error_batch_clear(pt->errors);
    p->buffered -= pt->held;
    p->unflushed -= pt->held;
    pt->bytes = 0;
    pt->held = 0;
    pt->has_day = false;
    pt->commit_next = -1;
}

static void drop_buffers(struct pipeline *p, struct part *pt)
{
    if (pt->inflight != NULL && pt->inflight->retry_at > 0) {
        /* A failed upload waiting for its retry: dropped, never committed. */
        p->retries_waiting--;
        p->buffered -= pt->inflight->held;
        upload_job_free(pt->inflight);
        pt->inflight = NULL;
    }
    clear_unsubmitted(p, pt);
    pt->commit_pending = -1; /* never acknowledged: the next owner reads it again */
    pt->commit_sent = false;
}

static void remove_part(struct pipeline *p, struct part *pt)
{
    drop_buffers(p, pt);
    if (pt->restart_at >= 0)
        p->restarts_waiting--; /* no longer this instance's to read */
    metric_unset(pt->m_committed); /* no longer this instance's to report */
    metric_unset(pt->m_lag);
    for (size_t i = 0; i < p->nparts; i++) {
        if (p->parts[i] == pt) {
            p->parts[i] = p->parts[--p->nparts];
            break;
        }
    }
    if (p->last_part == pt)
        p->last_part = NULL;
    free(pt->sealed);
    dbz_decoder_free(pt->decoder);
    row_batch_free(pt->rows);
    error_batch_free(pt->errors);
    free(pt->topic);
    free(pt->table);
    free(pt);
}

/* ---------- flushing ----------
 *
 * A flush encodes the partition's buffers into Parquet files in memory and
 * hands them to the uploader's threads; consuming goes on meanwhile. When
 * the files are stored, complete() triggers Prefect once per topic and
 * commits. One flush per partition is in flight, and none starts before the
 * previous one's commit is acknowledged, so commits follow the order of the
 * data; a failed upload or commit is retried with backoff, and the offsets
 * stay uncommitted until it succeeds.
 */

/* Lag: the high watermark (as last fetched, no request) minus the committed
 * offset, or minus the first offset read when nothing was committed yet. */
static void update_lag(struct pipeline *p, struct part *pt)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(p->rk, pt->topic, pt->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
        return;
    int64_t base = pt->committed >= 0 ? pt->committed : pt->first_offset;
    if (base < 0)
        return;
    metric_set(pt->m_lag, (double)(hi > base ? hi - base : 0));
}

static void committed(struct pipeline *p, struct part *pt, int64_t offset)
{
    pt->committed = offset;
    metric_set(pt->m_committed, (double)offset);
    update_lag(p, pt);
}

static void count_commit(struct pipeline *p, bool ok)
{
    metric_add(metric_series(p->m.commits, (const char *[]){ok ? "ok" : "failed"}), 1);
}

/* Backoff of a failed commit: 0.5 s doubling to 16 s. */
static double commit_backoff(int attempts)
{
    return attempts >= 6 ? 16.0 : 0.25 * (double)(1 << attempts);
}

/* A commit refused because this member's generation is over: the group is
 * rebalancing or has moved on without it. The partition's next owner (this
 * instance after a rejoin, or another) reads from the last committed offset
 * and its replay cut rewrites the same file, so nothing is lost or doubled. */
static bool group_moved_on(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
           e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ||
           (int)e == 113; /* STALE_MEMBER_EPOCH (KIP-848), not named before librdkafka 2.4 */
}

/* Submits the partition's oldest sealed batch once nothing of it is in
 * flight and its last commit is acknowledged (invariant 2). */
static void submit_sealed(struct pipeline *p, struct part *pt)
{
    if (pt->nsealed == 0 || pt->inflight != NULL || pt->commit_pending >= 0)
        return;
    assert(pt->restart_at < 0); /* invariant 6 */
    pt->inflight = pt->sealed[0];
    memmove(pt->sealed, pt->sealed + 1, --pt->nsealed * sizeof *pt->sealed);
    pt->inflight->started = now_s();
    uploader_submit(p->uploader, pt->inflight);
}

/* The answer to a commit request, synchronous or not: a partition's pending
 * offset counts as committed only here, once the broker acknowledged it. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque)
{
    (void)rk;
    struct pipeline *p = opaque;
    bool all_ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &offsets->elems[i];
        struct part *pt = find_part(p, e->topic, e->partition, false);
        if (pt == NULL || !pt->commit_sent || pt->commit_pending != e->offset)
            continue; /* revoked meanwhile, or an answer to an older request */
        pt->commit_sent = false;
        rd_kafka_resp_err_t pe = e->err != RD_KAFKA_RESP_ERR_NO_ERROR ? e->err : err;
        if (pe == RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_debug(p->log, "committed %s [%d] at offset %lld", pt->topic, pt->partition,
                      (long long)e->offset);
            pt->commit_pending = -1;
            pt->commit_attempts = 0;
            committed(p, pt, e->offset);
            submit_sealed(p, pt);
            continue;
        }
        all_ok = false;
        pt->commit_fenced = group_moved_on(pe);
        double delay = commit_backoff(pt->commit_attempts++);
        pt->commit_retry_at = now_s() + delay;
        if (p->next_commit_retry == 0 || pt->commit_retry_at < p->next_commit_retry)
            p->next_commit_retry = pt->commit_retry_at;
        log_error(p->log, "commit of %s [%d] at offset %lld failed: %s (the data is stored; the "
                          "commit is retried in %.1f s before the partition's next file)",
                  pt->topic, pt->partition, (long long)e->offset, rd_kafka_err2str(pe), delay);
    }
    if (offsets == NULL && err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* No per-partition answer: every request outstanding failed. */
        for (size_t i = 0; i < p->nparts; i++) {
            struct part *pt = p->parts[i];
            if (!pt->commit_sent)
                continue;
            pt->commit_sent = false;
            pt->commit_fenced = group_moved_on(err);
            pt->commit_retry_at = now_s() + commit_backoff(pt->commit_attempts++);
            if (p->next_commit_retry == 0 || pt->commit_retry_at < p->next_commit_retry)
                p->next_commit_retry = pt->commit_retry_at;
        }
        log_error(p->log, "commit failed: %s (the data is stored; the commit is retried)", rd_kafka_err2str(err));
    }
    count_commit(p, all_ok);
}

/* Sends the pending commits of the given partitions (those not already
 * awaiting an answer) in one request. Synchronous commits are answered
 * before this returns; asynchronous ones in serve_commits(). */
static void send_commits(struct pipeline *p, struct part **parts, size_t n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n > 0 ? (int)n : 1);
    for (size_t i = 0; i < n; i++) {
        struct part *pt = parts[i];
        if (pt->commit_pending < 0 || pt->commit_sent)
            continue;
        rd_kafka_topic_partition_list_add(list, pt->topic, pt->partition)->offset = pt->commit_pending;
        pt->commit_sent = true;
    }
    if (list->cnt > 0) {
        bool async = p->cfg->kafka_commit_async;
        /* Invariant 3: the offsets count as committed in on_commit(), not here. */
        rd_kafka_resp_err_t e = rd_kafka_commit_queue(p->rk, list, async ? p->commit_queue : NULL,
                                                      on_commit, p);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && async)
            on_commit(p->rk, e, list, p); /* refused before it was sent: no answer will come */
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void send_commit(struct pipeline *p, struct part *pt)
{
    send_commits(p, &pt, 1);
}

/* Serves the answers to asynchronous commits. */
static void serve_commits(struct pipeline *p, int timeout_ms)
{
    if (p->commit_queue == NULL)
        return;
    while (rd_kafka_queue_poll_callback(p->commit_queue, timeout_ms) > 0)
        timeout_ms = 0;
}

/* Sends again the failed commits whose backoff is over (all of them, with
 * force). Runs every loop turn: without a failed commit due it returns at once. */
static void commit_due(struct pipeline *p, bool force)
{
    double now = now_s();
    if (p->next_commit_retry == 0 || (!force && now < p->next_commit_retry))
        return;
    p->next_commit_retry = 0;
    size_t n = 0;
    struct part **due = xmalloc(p->nparts * sizeof *due + 1);
    for (size_t i = 0; i < p->nparts; i++) {
        struct part *pt = p->parts[i];
        if (pt->commit_pending < 0 || pt->commit_sent || pt->inflight != NULL)
            continue;
        if (force || now >= pt->commit_retry_at)
            due[n++] = pt;
        else if (p->next_commit_retry == 0 || pt->commit_retry_at < p->next_commit_retry)
            p->next_commit_retry = pt->commit_retry_at; /* still waiting: the next one due */
    }
    send_commits(p, due, n);
    free(due);
}

enum { PREFECT_PAUSE_S = 30 };

/* Asks Prefect for a run of the deployment over one stored data file. */
static void trigger(struct pipeline *p, const char *table, const char *key, int64_t rows)
{
    if (p->prefect == NULL)
        return;
    /* A trigger that just failed (after its own retries) says Prefect is down or
     * hanging: the next ones are skipped for a while, so a flush round never
     * waits on Prefect more than once and the consumer keeps turning. */
    if (now_s() < p->prefect_resume_at) {
        metric_add(metric_series(p->m.prefect, (const char *[]){table, "skipped"}), 1);
        if (!p->prefect_skip_logged) /* once per pause, not once per file */
            log_warn(p->log, "Prefect triggers skipped for %d s, from %s: a trigger just failed "
                             "(data and commits are not affected)",
                     PREFECT_PAUSE_S, key);
        p->prefect_skip_logged = true;
        return;
    }
    char err[1024];
    bool ok = prefect_trigger(p->prefect, p->cfg->minio_bucket, table, key, rows, err, sizeof err);
    metric_add(metric_series(p->m.prefect, (const char *[]){table, ok ? "ok" : "failed"}), 1);
    if (ok) {
        log_info(p->log, "Prefect flow run requested for %s (%s)", table, key);
    } else {
        p->prefect_resume_at = now_s() + PREFECT_PAUSE_S;
        p->prefect_skip_logged = false;
        log_error(p->log, "Prefect trigger for %s failed (data and commits are not affected): %s",
                  table, err);
    }
}

static void failpoint_before_commit(struct pipeline *p)
{
    if (p->failpoint != NULL && strcmp(p->failpoint, "kill-before-commit") == 0) {
        log_warn(p->log, "CDCW_FAILPOINT=kill-before-commit: killing the process after the upload");
        raise(SIGKILL);
    }
}

/* Handles finished uploads: for the stored ones, one Prefect trigger per
 * topic, then the commits; failed ones wait for a retry. Waits up to
 * timeout_ms for the first. Returns how many jobs came back. */
static int complete(struct pipeline *p, int timeout_ms)
{
    struct upload_job **done = NULL;
    int n = 0, cap = 0;
    for (struct upload_job *j = uploader_take(p->uploader, timeout_ms); j != NULL;
         j = uploader_take(p->uploader, 0)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            done = xrealloc(done, (size_t)cap * sizeof *done);
        }
        done[n++] = j;
    }
    if (n == 0) { /* the usual turn: nothing finished, nothing allocated */
        serve_commits(p, 0);
        return 0;
    }
    struct upload_job *j;
    for (int i = 0; i < n; i++) {
        j = done[i];
        struct part *pt = j->owner;
        if (!j->ok && j->encode_failed) {
            log_error(p->log, "%s [%d]: %s; its buffers are dropped uncommitted", pt->topic,
                      pt->partition, j->err);
            p->buffered -= j->held;
            pt->inflight = NULL;
            upload_job_free(j);
            done[i] = NULL;
            p->fatal = 1; /* never commit past data that could not be written */
            continue;
        }
        if (!j->ok) {
            j->attempts++;
            double delay = j->attempts < 5 ? (double)(1 << j->attempts) : 30.0; /* 2, 4, 8, 16, 30, 30 ... */
            j->retry_at = now_s() + delay;
            p->retries_waiting++;
            log_error(p->log, "flush of %s [%d] (%s, %zu rows) failed, kept uncommitted, retrying in "
                              "%.0f s: %s",
                      pt->topic, pt->partition, j->reason, j->nrows, delay, j->err);
            count_topic(p->m.upload_failures, pt->topic, 1);
            health_store_result(p->health, false, j->err);
            done[i] = NULL;
            continue;
        }
        health_store_result(p->health, true, NULL);
        const char *topic_label[] = {pt->topic};
        count_topic(p->m.rows, pt->topic, (double)j->nrows);
        count_topic(p->m.error_rows, pt->topic, (double)j->errors);
        count_topic(p->m.raw_bytes, pt->topic, (double)j->message_bytes);
        count_topic(p->m.parquet_bytes, pt->topic, (double)(j->data.len + j->error_data.len));
        if (j->key[0])
            metric_add(metric_series(p->m.files, (const char *[]){pt->topic, "events"}), 1);
        if (j->error_key[0])
            metric_add(metric_series(p->m.files, (const char *[]){pt->topic, "errors"}), 1);
        double took = now_s() - j->started;
        metric_observe(metric_series(p->m.flush_seconds, topic_label), took);
        metric_observe(metric_series(p->m.encode_seconds, topic_label), j->encode_seconds);
        metric_observe(metric_series(p->m.upload_seconds, topic_label), j->upload_seconds);
        log_info(p->log, "flushed %s [%d] reason=%s rows=%zu refused=%zu message_bytes=%zu "
                         "parquet_bytes=%zu duration_ms=%.0f key=%s%s%s",
                 pt->topic, pt->partition, j->reason, j->nrows, j->errors, j->message_bytes,
                 j->data.len + j->error_data.len, took * 1000,
                 j->key[0] ? j->key : "-", j->error_key[0] ? " errors_key=" : "", j->error_key);
        if (j->errors > 0)
            log_warn(p->log, "%zu messages of %s [%d] were refused by the decoder and stored under %s",
                     j->errors, pt->topic, pt->partition, j->error_key);
    }
    /* One trigger per data file: its idempotency key comes from the file's
     * key alone, so a replay that rewrites the file, by this instance after
     * a crash or by a new owner, gets back the same run. A file another
     * writer stored under the key is triggered too (that writer may have died
     * before it could): it is the same run again, with that file's rows. */
    for (int i = 0; i < n; i++) {
        if (done[i] == NULL || !done[i]->key[0])
            continue;
        bool theirs = done[i]->found_last >= 0 && done[i]->found_last != done[i]->last_offset;
        trigger(p, ((struct part *)done[i]->owner)->table, done[i]->key,
                theirs ? done[i]->found_rows : (int64_t)done[i]->nrows);
    }
    bool any = false;
    for (int i = 0; i < n; i++)
        any = any || done[i] != NULL;
    if (any)
        failpoint_before_commit(p);
    /* One commit request for every partition stored in this round. */
    struct part **stored = n > 0 ? xmalloc((size_t)n * sizeof *stored) : NULL;
    size_t nstored = 0;
    for (int i = 0; i < n; i++) {
        if (done[i] == NULL)
            continue;
        j = done[i];
        struct part *pt = j->owner;
        assert(pt->commit_pending < 0); /* invariant 2: no flush started over a pending commit */
        if (j->found_last >= 0 && j->found_last != j->last_offset) {
            /* The file at this key is another writer's (a zombie's or an earlier
             * owner's): it holds the offsets up to found_last, so those are
             * committed and the partition is read again after them. */
            log_warn(p->log, "%s [%d]: %s was already stored, up to offset %lld, by another writer: "
                             "left as it is; committing that and reading on from offset %lld",
                     pt->topic, pt->partition, j->key[0] ? j->key : j->error_key,
                     (long long)j->found_last, (long long)j->found_last + 1);
            count_topic(p->m.key_conflicts, pt->topic, 1);
            j->commit_next = j->found_last + 1;
            /* Invariant 6: what this instance buffered or sealed after the
             * flush follows the wrong offset, so it goes now, before a commit
             * answer or a flush could store it; an earlier owner may have
             * stored files after that one too, so the probing starts again. */
            clear_unsubmitted(p, pt);
            pt->cut_at = -1;
            pt->probing = true;
            if (pt->restart_at < 0)
                p->restarts_waiting++;
            pt->restart_at = j->found_last + 1;
        }
        pt->commit_pending = j->commit_next;
        pt->commit_attempts = 0;
        if (pt->commit_next == j->commit_next)
            pt->commit_next = -1;
        p->buffered -= j->held;
        pt->inflight = NULL;
        upload_job_free(j);
        stored[nstored++] = pt;
    }
    if (nstored > 0 && p->failpoint != NULL && strcmp(p->failpoint, "skip-commits") == 0) {
        /* A test's stand-in for an earlier owner whose commits were lost: each
         * file counts as committed, and no request is sent. */
        for (size_t i = 0; i < nstored; i++)
            stored[i]->commit_pending = -1;
        nstored = 0;
    }
    send_commits(p, stored, nstored);
    free(stored);
    free(done);
    serve_commits(p, 0);
    return n;
}

/* Resubmits failed uploads whose backoff is over (or all of them, with force). */
static void retry_due(struct pipeline *p, bool force)
{
    if (p->retries_waiting == 0)
        return;
    double now = now_s();
    for (size_t i = 0; i < p->nparts; i++) {
        struct upload_job *j = p->parts[i]->inflight;
        if (j != NULL && j->retry_at > 0 && (force || now >= j->retry_at)) {
            j->retry_at = 0;
            p->retries_waiting--;
            uploader_submit(p->uploader, j);
        }
    }
}

static bool busy(const struct part *pt)
{
    return pt->inflight != NULL || pt->commit_pending >= 0 || pt->nsealed > 0;
}

/* Waits until none of the n partitions has an upload in flight, a commit
 * pending or a sealed batch, all at once: their uploads run side by side on
 * the workers, so the wait is the longest flush, not the sum. A failed upload
 * is retried once at once, and so is a failed commit; a partition where
 * either fails again is given up. False when any was. */
static bool wait_parts(struct pipeline *p, struct part **parts, size_t n)
{
    enum { WAITING, DONE, GIVEN_UP };
    struct { int state; bool retried, recommitted; } *w = xcalloc(n > 0 ? n : 1, sizeof *w);
    bool all_ok = true;
    for (size_t left = n; left > 0;) {
        bool uploading = false, committing = false;
        for (size_t i = 0; i < n; i++) {
            struct part *pt = parts[i];
            if (w[i].state != WAITING)
                continue;
            submit_sealed(p, pt);
            bool retry = pt->inflight != NULL && pt->inflight->retry_at > 0;
            bool commit = pt->inflight == NULL && pt->commit_pending >= 0 && !pt->commit_sent;
            if (!busy(pt) || (retry && w[i].retried) || (commit && w[i].recommitted)) {
                w[i].state = busy(pt) ? GIVEN_UP : DONE;
                all_ok = all_ok && w[i].state == DONE;
                left--;
                continue;
            }
            if (retry) {
                w[i].retried = true;
                pt->inflight->retry_at = 0;
                p->retries_waiting--;
                uploader_submit(p->uploader, pt->inflight);
            } else if (commit) {
                w[i].recommitted = true;
                send_commit(p, pt); /* a synchronous one is answered here */
            }
            uploading = uploading || pt->inflight != NULL;
            committing = committing || (pt->inflight == NULL && pt->commit_sent);
        }
        if (left == 0)
            break;
        complete(p, uploading ? 200 : 0);
        if (committing)
            serve_commits(p, 200);
        health_beat(p->health); /* waiting on the store is progress, not a hang */
    }
    free(w);
    return all_ok;
}

/* Moves the partition's buffers into a new upload job; the partition starts
 * afresh. A batch of tombstones only gives a job without files, which only
 * commits. */
static struct upload_job *take_batch(struct pipeline *p, struct part *pt, const char *reason)
{
    size_t rows = row_batch_rows(pt->rows), errors = error_batch_rows(pt->errors);
    assert(pt->restart_at < 0); /* invariant 6 */
    metric_add(metric_series(p->m.flushes, (const char *[]){pt->topic, reason}), 1);
    struct upload_job *j = xcalloc(1, sizeof *j);
    j->owner = pt;
    j->started = now_s();
    j->pq = &p->pq;
    snprintf(j->reason, sizeof j->reason, "%s", reason);
    /* The buffers go to the worker, which encodes them. */
    if (rows > 0) {
        lake_object_key(j->key, sizeof j->key, "cdc_events", pt->table, pt->rows_first_ts, pt->partition,
                        row_batch_first_offset(pt->rows));
        j->rows = pt->rows;
        pt->rows = row_batch_successor(j->rows);
    }
    if (errors > 0) {
        lake_object_key(j->error_key, sizeof j->error_key, "cdc_errors", pt->table,
                        error_batch_first_timestamp(pt->errors), pt->partition,
                        error_batch_first_offset(pt->errors));
        j->error_rows = pt->errors;
        pt->errors = error_batch_new(pt->topic, pt->partition);
    }
    j->nrows = rows;
    j->errors = errors;
    j->commit_next = pt->commit_next;
    j->last_offset = pt->commit_next - 1;
    j->message_bytes = pt->bytes;
    j->held = pt->held; /* still counted in p->buffered until stored */
    p->unflushed -= pt->held;
    pt->bytes = 0;
    pt->held = 0;
    pt->has_day = false;
    return j;
}

/* Starts a flush of the partition: encodes its buffers and submits the
 * upload. A busy partition (an upload in flight, a commit pending or a sealed
 * batch) is left for a later flush; cut_part() seals it instead. */
static void flush_part(struct pipeline *p, struct part *pt, const char *reason)
{
    if (busy(pt))
        return;
    size_t rows = row_batch_rows(pt->rows), errors = error_batch_rows(pt->errors);
    if (rows == 0 && errors == 0) {
        if (pt->commit_next >= 0) { /* only tombstones since the last flush */
            pt->commit_pending = pt->commit_next;
            pt->commit_attempts = 0;
            pt->commit_next = -1;
            send_commit(p, pt);
        }
        p->buffered -= pt->held; /* their keys: nothing to store */
        p->unflushed -= pt->held;
        pt->bytes = 0;
        pt->held = 0;
        pt->has_day = false;
        return;
    }
    assert(pt->inflight == NULL && pt->commit_pending < 0); /* invariants 1 and 2 */
    pt->inflight = take_batch(p, pt, reason);
    uploader_submit(p->uploader, pt->inflight);
}

/* A cut that must come before what follows (a replay cut, a day or schema
 * change before the message being handled, a revocation). A free partition
 * is flushed; a busy one has its batch sealed, to be submitted in turn, so
 * the consumer never waits for it. */
static void cut_part(struct pipeline *p, struct part *pt, const char *reason)
{
    if (!busy(pt)) {
        flush_part(p, pt, reason);
        return;
    }
    if (row_batch_rows(pt->rows) + error_batch_rows(pt->errors) == 0 && pt->commit_next < 0)
        return; /* nothing taken since the last cut */
    if (pt->nsealed == pt->sealed_cap) {
        pt->sealed_cap = pt->sealed_cap ? pt->sealed_cap * 2 : 4;
        pt->sealed = xrealloc(pt->sealed, pt->sealed_cap * sizeof *pt->sealed);
    }
    pt->sealed[pt->nsealed++] = take_batch(p, pt, reason);
}

static void flush_all(struct pipeline *p, const char *reason)
{
    for (size_t i = 0; i < p->nparts; i++)
        flush_part(p, p->parts[i], reason);
}

static int by_held_desc(const void *a, const void *b)
{
    size_t x = (*(struct part *const *)a)->held, y = (*(struct part *const *)b)->held;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Past five sixths of the limit in partition buffers, or whenever consumption
 * is paused: flushes the largest buffers (those without an upload in flight)
 * until half is left, so memory drains in few, large files while consuming
 * goes on. While paused it must go on flushing below five sixths too, or
 * buffers left between three quarters (where consumption resumes) and five
 * sixths would wait for the interval. Looks at most every 50 ms. */
static void flush_for_memory(struct pipeline *p, double now)
{
    if (((int64_t)p->unflushed < p->limit / 6 * 5 && !p->paused) || now < p->next_memory_flush)
        return;
    p->next_memory_flush = now + 0.05;
    struct part **order = xmalloc(p->nparts * sizeof *order);
    memcpy(order, p->parts, p->nparts * sizeof *order);
    qsort(order, p->nparts, sizeof *order, by_held_desc);
    for (size_t i = 0; i < p->nparts && (int64_t)p->unflushed > p->limit / 2; i++)
        if (order[i]->inflight == NULL && order[i]->held > 0)
            flush_part(p, order[i], "memory");
    free(order);
}

/* Waits for every upload in flight; false when some could not be stored. */
static bool wait_all(struct pipeline *p)
{
    return wait_parts(p, p->parts, p->nparts);
}

/* Whether any partition still holds rows or refused messages not handed to
 * an upload (a flush skipped while the partition was busy). */
static bool any_buffered(const struct pipeline *p)
{
    for (size_t i = 0; i < p->nparts; i++)
        if (row_batch_rows(p->parts[i]->rows) + error_batch_rows(p->parts[i]->errors) > 0)
            return true;
    return false;
}

/* ---------- rebalances ---------- */

/* The assignment is this instance's partitions: one part each, made on
 * assignment and removed on revocation. Counted from them, not asked of
 * librdkafka: a request to its group thread from the revocation callback of
 * close_consumer() could wait forever (librdkafka issue #4041). */
static void count_assignment(struct pipeline *p)
{
    int n = (int)p->nparts;
    metric_set(p->m.assigned, n);
    metric_set(p->m.paused, p->paused ? n : 0);
    health_set_assigned(p->health, n);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct pipeline *p = opaque;
    p->kafka_reached = true;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < list->cnt; i++) {
            log_info(p->log, "assigned %s [%d]", list->elems[i].topic, list->elems[i].partition);
            find_part(p, list->elems[i].topic, list->elems[i].partition, true);
        }
        if (p->cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, list));
        else
            rd_kafka_assign(rk, list);
        if (p->paused)
            rd_kafka_pause_partitions(rk, list);
        metric_add(metric_series(p->m.rebalances, (const char *[]){"assigned"}), list->cnt);
        count_assignment(p);
        return;
    }
    bool lost = rd_kafka_assignment_lost(rk);
    metric_add(metric_series(p->m.rebalances, (const char *[]){lost ? "lost" : "revoked"}), list->cnt);
    struct part **gone = xmalloc((size_t)list->cnt * sizeof *gone + 1);
    size_t ngone = 0;
    for (int i = 0; i < list->cnt; i++) {
        struct part *pt = find_part(p, list->elems[i].topic, list->elems[i].partition, false);
        if (pt == NULL)
            continue;
        gone[ngone++] = pt;
        if (!lost)
            cut_part(p, pt, "revoke"); /* every revoked partition's upload starts now */
    }
    if (!lost)
        wait_parts(p, gone, ngone); /* side by side: the longest flush, not the sum */
    for (size_t i = 0; i < ngone; i++) {
        struct part *pt = gone[i];
        if (lost) {
            while (pt->inflight != NULL && pt->inflight->retry_at == 0)
                complete(p, 200); /* a worker may still hold it */
            log_warn(p->log, "lost %s [%d]: its buffers are dropped uncommitted (the new owner reads "
                             "them again)",
                     pt->topic, pt->partition);
        } else if (busy(pt)) {
            p->dropped_unstored = p->dropped_unstored || p->closing; /* earlier: the new owner reads them */
            log_error(p->log, "revoked %s [%d] could not be flushed: its buffers are dropped "
                              "uncommitted (the new owner reads them again)",
                      pt->topic, pt->partition);
        } else {
            log_info(p->log, "revoked %s [%d] after flushing it", pt->topic, pt->partition);
        }
        remove_part(p, pt);
    }
    free(gone);
    if (p->cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, list));
    else
        rd_kafka_assign(rk, NULL);
    count_assignment(p);
}

/* ---------- messages ---------- */

static void pause_all(struct pipeline *p, bool pause)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(p->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR || list == NULL)
        return;
    if (pause)
        rd_kafka_pause_partitions(p->rk, list);
    else
        rd_kafka_resume_partitions(p->rk, list);
    metric_set(p->m.paused, pause ? list->cnt : 0);
    rd_kafka_topic_partition_list_destroy(list);
    p->paused = pause;
    if (pause)
        log_warn(p->log, "buffers hold %zu bytes (MAX_BUFFER_BYTES=%lld less %lld for librdkafka's "
                         "prefetch and for writing): consumption paused until they are written",
                 p->buffered, (long long)p->cfg->max_buffer_bytes,
                 (long long)(p->cfg->max_buffer_bytes - p->limit));
    else
        log_info(p->log, "consumption resumed (%zu bytes buffered)", p->buffered);
}

/* Moves the partition's fetch position to offset: the next message taken is
 * fetched from there (invariant 5). A failed seek is fatal. */
static void seek_part(struct pipeline *p, struct part *pt, int64_t offset)
{
    pt->next_offset = offset;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, pt->topic, pt->partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(p->rk, list, 5000);
    if (e != NULL) {
        log_error(p->log, "%s [%d]: seek to offset %lld failed: %s", pt->topic, pt->partition,
                  (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        p->fatal = 1; /* never skip a message silently */
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Reads the partition again from restart_at, where the file that took the
 * flush's key ends: the consumer seeks back (or ahead) there. What the
 * partition held after that flush was dropped when the conflict was found
 * (invariant 6). */
static void restart_part(struct pipeline *p, struct part *pt)
{
    if (pt->restart_at < 0)
        return;
    assert(pt->nsealed == 0 && row_batch_rows(pt->rows) == 0 && error_batch_rows(pt->errors) == 0);
    seek_part(p, pt, pt->restart_at);
    pt->restart_at = -1;
    p->restarts_waiting--;
}

/* Restarts the partitions complete() marked; returns at once when none is. */
static void restart_due(struct pipeline *p)
{
    for (size_t i = 0; i < p->nparts && p->restarts_waiting > 0; i++)
        restart_part(p, p->parts[i]);
}

/* What a partition's buffers count against MAX_BUFFER_BYTES: the memory its
 * rows take in the column buffers plus its refused messages, or its message
 * bytes when those are more. Narrow rows take several times their JSON in
 * cells, so message bytes alone would not bound memory. */
static void charge(struct pipeline *p, struct part *pt)
{
    size_t mem = row_batch_memory(pt->rows) + error_batch_memory(pt->errors);
    size_t held = mem > pt->bytes ? mem : pt->bytes;
    p->buffered = p->buffered - pt->held + held;
    p->unflushed = p->unflushed - pt->held + held;
    pt->held = held;
}

/* Before the first row or refused message of a file after an assignment:
 * did an earlier owner store a file under the same key without committing
 * it? Then this file ends where that one ends (its cdc-last-offset), so the
 * two owners' files cover the same offsets and the rewrite replaces it
 * exactly. The first key that is not there ends the probing. */
static void probe_replay(struct pipeline *p, struct part *pt, const char *area, int64_t ts, int64_t offset)
{
    char key[1024], value[32] = "", err[1024];
    bool found = false;
    lake_object_key(key, sizeof key, area, pt->table, ts, pt->partition, offset);
    if (!object_store_head(p->store, key, UPLOAD_META_LAST_OFFSET, &found, value, sizeof value, err,
                           sizeof err)) {
        log_warn(p->log, "%s [%d]: could not check for an earlier owner's file at offset %lld (%s); "
                         "files are cut as usual from here",
                 pt->topic, pt->partition, (long long)offset, err);
        pt->probing = false;
        return;
    }
    char *end = value;
    long long last = found ? strtoll(value, &end, 10) : -1;
    if (found && value[0] != '\0' && *end == '\0' && last >= offset) {
        if (last > pt->cut_at)
            pt->cut_at = last;
        count_topic(p->m.replay_cuts, pt->topic, 1);
        log_info(p->log, "%s [%d]: offsets %lld to %lld are stored, not committed, in %s: this file "
                         "ends at %lld too",
                 pt->topic, pt->partition, (long long)offset, last, key, last);
    } else if (pt->cut_at < 0) {
        pt->probing = false; /* nothing stored from here on */
    }
}

static void handle_message(struct pipeline *p, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct part *pt = find_part(p, topic, m->partition, true);
    if (pt->restart_at >= 0) { /* fetched before the restart: read again (or skipped) after it */
        restart_part(p, pt);
        return;
    }
    if (m->offset < pt->next_offset) { /* invariant 5 */
        log_warn(p->log, "%s [%d]: offset %lld delivered again (the next is %lld): already taken, skipped",
                 topic, m->partition, (long long)m->offset, (long long)pt->next_offset);
        return;
    }
    char err[1024], why[512];
    enum dbz_result r = dbz_decode(pt->decoder, m->payload, m->len, &p->row, err, sizeof err);
    rd_kafka_timestamp_type_t tstype;
    int64_t processed_at = wall_us();
    const struct dbz_row *row = &p->row;
    bool decoded = r == DBZ_ROW;
    int64_t ts = lake_message_time(rd_kafka_message_timestamp(m, &tstype), decoded && row->has_ts, row->ts_ms,
                                   decoded && row->has_source_ts, row->source_ts_ms, processed_at / 1000);
    if (pt->cut_at >= 0 && m->offset > pt->cut_at) {
        cut_part(p, pt, "replay-cut");
        pt->cut_at = -1;
    }
    int64_t day = lake_day(ts);
    if (pt->has_day && day != pt->day)
        cut_part(p, pt, "day-change"); /* a file never spans two days */

    metric_add(pt->m_consumed, 1);
    metric_add(pt->m_consumed_bytes, (double)(m->len + m->key_len));
    if (pt->first_offset < 0)
        pt->first_offset = m->offset;
    assert(pt->cut_at < 0 || m->offset <= pt->cut_at); /* invariant 4 */
    if (pt->probing && r != DBZ_TOMBSTONE && row_batch_rows(pt->rows) == 0 &&
        error_batch_rows(pt->errors) == 0) /* the first row or refused message of a file */
        probe_replay(p, pt, r == DBZ_ROW ? "cdc_events" : "cdc_errors", ts, m->offset);
    if (r == DBZ_ROW) {
        if (row_batch_add(pt->rows, &p->row, m->offset, processed_at, why, sizeof why) ==
            BATCH_SCHEMA_CHANGED) {
            log_info(p->log, "%s [%d] at offset %lld: %s", topic, m->partition, (long long)m->offset, why);
            cut_part(p, pt, "schema-change");
            if (pt->probing)
                probe_replay(p, pt, "cdc_events", ts, m->offset);
            row_batch_add(pt->rows, &p->row, m->offset, processed_at, why, sizeof why);
        }
        if (row_batch_rows(pt->rows) == 1)
            pt->rows_first_ts = ts;
    } else if (r == DBZ_ERROR) {
        log_warn(p->log, "%s [%d] at offset %lld refused: %s", topic, m->partition, (long long)m->offset,
                 err);
        error_batch_add(pt->errors, m->offset, ts, m->key, m->key_len, m->payload, m->len, err,
                        processed_at);
    } else {
        count_topic(p->m.tombstones, topic, 1);
    }
    if (!pt->has_day) {
        pt->has_day = true;
        pt->day = day;
    }
    pt->commit_next = m->offset + 1;
    pt->next_offset = m->offset + 1;
    pt->bytes += m->len + m->key_len;
    charge(p, pt);
    if ((int64_t)row_batch_rows(pt->rows) + (int64_t)error_batch_rows(pt->errors) >= p->cfg->max_batch_size)
        flush_part(p, pt, "rows");
    else if ((int64_t)pt->bytes >= p->cfg->max_batch_bytes)
        flush_part(p, pt, "bytes");
}

static void handle_event(struct pipeline *p, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    char reason[512];
    if (m->err == RD_KAFKA_RESP_ERR__FATAL ||
        rd_kafka_fatal_error(p->rk, reason, sizeof reason) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_fatal_error(p->rk, reason, sizeof reason);
        log_error(p->log, "fatal Kafka error: %s", reason);
        p->fatal = 1;
        return;
    }
    log_warn(p->log, "Kafka: %s", rd_kafka_message_errstr(m));
}

/* ---------- the loop ---------- */

/* What a client error means while the cluster has never answered: a cause a
 * retry cannot mend (NULL for none). Once the cluster has answered, the same
 * errors (a broker restarting mid-handshake) are logged and retried. */
static const char *startup_fatal_cause(struct pipeline *p, int err, const char *reason)
{
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        return "authentication failed: check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and the password";
    if (err == RD_KAFKA_RESP_ERR__SSL)
        return "TLS handshake failed: check KAFKA_SSL_CA_LOCATION and the broker's certificate";
    /* A plaintext client on a TLS listener: the broker hangs up on the first
     * request (ApiVersion). librdkafka 2.0 says so in a transport error;
     * 2.12 only logs each hang-up (on_log() counts them) and then reports
     * every broker down. A TLS client on a plaintext listener: the handshake
     * ends, which 2.12 reports as a transport error. */
    const char *protocol = "the broker hung up in the handshake: check KAFKA_SECURITY_PROTOCOL against the listener";
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT &&
        (strstr(reason, "security.protocol") != NULL || strstr(reason, "PLAINTEXT broker listener") != NULL))
        return protocol;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && atomic_load(&p->handshake_hangups) >= 2)
        return protocol;
    return NULL;
}

/* Errors of the client as a whole (not of one partition), served by
 * rd_kafka_consumer_poll() on the loop's thread. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct pipeline *p = opaque;
    char why[512];
    if (p->fatal) { /* stopping already: the cause is logged */
        log_debug(p->log, "Kafka: %s", reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, why, sizeof why);
        log_error(p->log, "fatal Kafka error: %s", why);
        p->fatal = 1;
        return;
    }
    if (!p->kafka_reached && rd_kafka_controllerid(rk, 0) >= 0)
        p->kafka_reached = true;
    const char *cause = p->kafka_reached ? NULL : startup_fatal_cause(p, err, reason);
    if (cause != NULL) {
        log_error(p->log, "Kafka: cannot connect to %s: %s (%s); exiting, nothing consumed",
                  p->cfg->kafka_bootstrap_servers, cause, reason);
        p->fatal = 1;
        return;
    }
    bool lasting = err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL;
    log_write(p->log, lasting ? LOG_ERROR : LOG_WARNING, "Kafka: %s", reason);
}

/* librdkafka's own lines. Its connection failures (FAIL) come as warnings:
 * the same failure reaches on_error(), which decides whether it is an error. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct pipeline *p = rd_kafka_opaque(rk);
    if (strcmp(fac, "FAIL") == 0 && strstr(buf, "Disconnected") != NULL &&
        strstr(buf, "in state APIVERSION_QUERY") != NULL)
        atomic_fetch_add(&p->handshake_hangups, 1);
    enum log_level lv = level <= 3 ? LOG_ERROR : level <= 4 ? LOG_WARNING : level <= 6 ? LOG_INFO : LOG_DEBUG;
    if (lv == LOG_ERROR && strcmp(fac, "FAIL") == 0)
        lv = LOG_WARNING;
    log_write(p->log, lv, "librdkafka %s: %s", fac, buf);
}

/* From an upload worker: a finished upload ends the consumer's poll, so the
 * commit does not wait for the poll time-out. */
static void wake_consumer(void *ctx)
{
    struct pipeline *p = ctx;
    rd_kafka_queue_yield(p->consumer_queue);
}

/* Whether the group's partitions move cooperatively: so with the
 * cooperative-sticky assignor (the built-in default; librdkafka refuses it
 * mixed with an eager one) and with the KIP-848 group protocol. Read from
 * the configuration once, so the rebalance callback asks librdkafka nothing
 * it need not (see count_assignment()). */
static bool rebalance_is_cooperative(const rd_kafka_conf_t *conf)
{
    char v[256];
    size_t n = sizeof v;
    if (rd_kafka_conf_get(conf, "group.protocol", v, &n) == RD_KAFKA_CONF_OK && strcmp(v, "consumer") == 0)
        return true;
    n = sizeof v;
    return rd_kafka_conf_get(conf, "partition.assignment.strategy", v, &n) == RD_KAFKA_CONF_OK &&
           strstr(v, "cooperative-sticky") != NULL;
}

static bool setup(struct pipeline *p)
{
    char err[2048];
    if (regcomp(&p->topic_re, p->cfg->kafka_topic_pattern, REG_EXTENDED) == 0)
        p->have_re = true;
    define_metrics(p);
    /* An eighth stays free for what buffers turn into while they are written
     * (Parquet pages, compressed output) and for allocator slack. */
    p->limit = p->cfg->max_buffer_bytes - kafka_prefetch_bytes(p->cfg) - p->cfg->max_buffer_bytes / 8;
    if (p->limit < p->cfg->max_buffer_bytes / 4)
        p->limit = p->cfg->max_buffer_bytes / 4;
    struct object_store_config oc;
    object_store_config_from(&oc, p->cfg, p->log);
    oc.metrics = p->metrics;
    p->store = object_store_new(&oc, err, sizeof err);
    if (p->store == NULL || !object_store_check_bucket(p->store, p->cfg->minio_create_bucket, err, sizeof err)) {
        log_error(p->log, "object store: %s", err);
        return false;
    }
    health_store_result(p->health, true, NULL);
    if (p->health != NULL &&
        !health_start_store_probe(p->health, &oc, p->cfg->health_store_check_s * 1000, err, sizeof err)) {
        log_error(p->log, "%s", err);
        return false;
    }
    p->prefect = prefect_new(p->cfg, p->log);
    pq_options_default(&p->pq);
    static const enum pq_codec codecs[] = {PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD, PQ_CODEC_GZIP,
                                           PQ_CODEC_UNCOMPRESSED};
    p->pq.codec = codecs[p->cfg->parquet_compression];
    p->pq.row_group_bytes = (size_t)p->cfg->parquet_row_group_bytes;

    struct config_errors errs = {0};
    rd_kafka_conf_t *conf = kafka_conf_build(p->cfg, &errs);
    if (conf == NULL) {
        for (size_t i = 0; i < errs.count; i++)
            log_error(p->log, "configuration: %s", errs.lines[i]);
        config_errors_free(&errs);
        return false;
    }
    p->cooperative = rebalance_is_cooperative(conf);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    p->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (p->rk == NULL) {
        log_error(p->log, "Kafka consumer: %s", err);
        return false;
    }
    rd_kafka_poll_set_consumer(p->rk);
    p->consumer_queue = rd_kafka_queue_get_consumer(p->rk);
    if (p->cfg->kafka_commit_async)
        p->commit_queue = rd_kafka_queue_new(p->rk);
    p->uploader = uploader_new(&oc, p->cfg->minio_upload_concurrency, wake_consumer, p, err, sizeof err);
    if (p->uploader == NULL) {
        log_error(p->log, "object store: %s", err);
        return false;
    }
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, p->cfg->kafka_topic_pattern, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_error(p->log, "Kafka subscribe to %s: %s", p->cfg->kafka_topic_pattern, rd_kafka_err2str(e));
        return false;
    }
    p->nudge = fetch_nudge_start(p->rk, p->consumer_queue, &p->paused, 20);
    p->failpoint = getenv("CDCW_FAILPOINT");
    log_info(p->log, "consuming %s as group %s from %s; writing to bucket %s at %s",
             p->cfg->kafka_topic_pattern, p->cfg->consumer_group_id, p->cfg->kafka_bootstrap_servers,
             p->cfg->minio_bucket, p->cfg->minio_endpoint);
    return true;
}

enum { CLOSE_TIMEOUT_S = 30 };

/* Leaves the group; the revocation callback runs from here. Everything was
 * stored and committed before, so a close that does not finish loses
 * nothing, but it must not keep the process from exiting:
 * rd_kafka_consumer_close() waits without a limit for the group to wind up
 * (a coordinator that does not answer), so the close is driven here through
 * a queue, for at most CLOSE_TIMEOUT_S. */
static void close_consumer(struct pipeline *p)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(p->rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(p->rk, q);
    if (e != NULL) {
        log_error(p->log, "shutdown: leaving the group failed: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_queue_destroy(q);
        return;
    }
    double deadline = now_s() + CLOSE_TIMEOUT_S;
    while (!rd_kafka_consumer_closed(p->rk)) {
        if (now_s() >= deadline) {
            log_error(p->log, "shutdown: leaving the group did not finish within %d s; exiting "
                              "without it (the group moves the partitions on after "
                              "session.timeout.ms)",
                      CLOSE_TIMEOUT_S);
            break;
        }
        /* Serves the callbacks (the revocation) and hands back what the
         * group's queue, forwarded here, still holds: messages fetched after
         * the last commit, for the partitions' next owner to read again.
         * rd_kafka_queue_poll_callback() aborts on such a message. */
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
        if (m != NULL)
            rd_kafka_message_destroy(m);
        health_beat(p->health);
    }
    rd_kafka_queue_destroy(q);
}

static void teardown(struct pipeline *p)
{
    /* Take back every job a worker still holds before stopping the workers. */
    for (bool held = true; held && p->uploader != NULL;) {
        held = false;
        for (size_t i = 0; i < p->nparts; i++)
            held = held || (p->parts[i]->inflight != NULL && p->parts[i]->inflight->retry_at == 0);
        if (held)
            complete(p, 200);
    }
    uploader_free(p->uploader);
    p->uploader = NULL;
    fetch_nudge_stop(p->nudge);
    p->nudge = NULL;
    if (p->consumer_queue)
        rd_kafka_queue_destroy(p->consumer_queue);
    if (p->commit_queue)
        rd_kafka_queue_destroy(p->commit_queue);
    while (p->nparts > 0)
        remove_part(p, p->parts[p->nparts - 1]);
    free(p->parts);
    /* Closed already: rd_kafka_destroy() would close it again, and after a
     * close whose revocation could not store its buffers, librdkafka 2.12's
     * second close waited forever. */
    if (p->rk && p->closing)
        rd_kafka_destroy_flags(p->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    else if (p->rk)
        rd_kafka_destroy(p->rk);
    object_store_free(p->store);
    prefect_free(p->prefect);
    dbz_row_free(&p->row);
    if (p->have_re)
        regfree(&p->topic_re);
}

/* Gauges that are sampled rather than counted, about once a second. */
static void sample_gauges(struct pipeline *p, double now)
{
    if (now < p->next_gauges)
        return;
    p->next_gauges = now + 1;
    if (!p->kafka_reached && rd_kafka_controllerid(p->rk, 0) >= 0)
        p->kafka_reached = true; /* metadata came: the cluster took the credentials */
    size_t inflight = 0;
    for (size_t i = 0; i < p->nparts; i++) {
        inflight += p->parts[i]->inflight != NULL;
        update_lag(p, p->parts[i]);
    }
    metric_set(p->m.buffered, (double)p->buffered);
    metric_set(p->m.inflight, (double)inflight);
}

int pipeline_run(const struct config *cfg, const struct log *lg, struct metrics *metrics,
                 struct health *health, volatile sig_atomic_t *stop)
{
    struct pipeline p = {.cfg = cfg, .log = lg, .stop = stop, .metrics = metrics, .health = health};
    if (!setup(&p)) {
        teardown(&p);
        return 1;
    }
    p.next_flush = now_s() + cfg->write_interval_s;
    double next_beat = 0;
    while (!*stop && !p.fatal) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p.rk, p.paused ? 100 : cfg->kafka_poll_timeout_ms);
        double now = now_s(); /* one clock read per turn: a turn is often one message */
        if (now >= next_beat) {
            health_beat(health);
            next_beat = now + 0.1;
        }
        sample_gauges(&p, now);
        if (m != NULL) {
            if (m->err)
                handle_event(&p, m);
            else
                handle_message(&p, m);
            rd_kafka_message_destroy(m);
        }
        complete(&p, 0);
        restart_due(&p);
        retry_due(&p, false);
        commit_due(&p, false);
        if (now >= p.next_flush) {
            flush_all(&p, "interval");
            p.next_flush = now_s() + cfg->write_interval_s;
        }
        /* Near the buffers' limit, flush the largest while consuming goes on;
         * at the limit, stop fetching until the uploads drain. */
        flush_for_memory(&p, now);
        if (!p.paused && (int64_t)p.buffered >= p.limit)
            pause_all(&p, true);
        else if (p.paused && (int64_t)p.buffered < p.limit / 4 * 3)
            pause_all(&p, false);
    }
    if (p.nudge != NULL)
        log_debug(lg, "librdkafka's fetcher was woken %lu times", fetch_nudge_count(p.nudge));
    fetch_nudge_stop(p.nudge); /* nothing more is consumed */
    p.nudge = NULL;
    int status = p.fatal ? 1 : 0;
    if (!p.fatal) {
        log_info(lg, "stopping: writing what is buffered, committing, leaving the group");
        /* Each round frees the busy partitions, flushes what they buffer and
         * waits; so no buffer is left for the revocation in
         * close_consumer(), whose failure could not change the exit
         * status any more. */
        bool ok = false;
        for (int round = 0; round < 3 && !ok; round++) {
            if (round > 0) {
                retry_due(&p, true);
                commit_due(&p, true);
            }
            wait_all(&p);
            flush_all(&p, "shutdown");
            ok = wait_all(&p) && !any_buffered(&p);
        }
        if (!ok) {
            size_t unstored = 0, uncommitted = 0, moved_on = 0;
            for (size_t i = 0; i < p.nparts; i++) {
                const struct part *pt = p.parts[i];
                if (pt->commit_pending >= 0 && pt->commit_fenced)
                    moved_on++; /* with what it buffered after: its next owner reads it all */
                else if (pt->inflight != NULL || row_batch_rows(pt->rows) + error_batch_rows(pt->errors) > 0)
                    unstored++;
                else if (pt->commit_pending >= 0)
                    uncommitted++;
            }
            if (moved_on > 0)
                log_warn(lg, "shutdown: %zu partitions' files are stored but their commits were refused "
                             "because the group is rebalancing without this instance; their next owner "
                             "reads them again from the last commit and rewrites the same files",
                         moved_on);
            if (unstored > 0)
                log_error(lg, "shutdown: the buffered data of %zu partitions could not be written; "
                              "it stays uncommitted in Kafka and is read again on restart",
                          unstored);
            if (uncommitted > 0)
                log_error(lg, "shutdown: %zu partitions' files are stored but their offsets could not "
                              "be committed; a restart reads them again and rewrites the same files",
                          uncommitted);
            if (unstored + uncommitted > 0)
                status = 1;
            for (size_t i = 0; i < p.nparts; i++)
                drop_buffers(&p, p.parts[i]);
        }
        p.closing = true;
        close_consumer(&p);
        if (p.dropped_unstored) {
            log_error(lg, "shutdown: buffered data of a revoked partition could not be written; it "
                          "stays uncommitted in Kafka and is read again on restart");
            status = 1;
        }
    }
    teardown(&p);
    log_info(lg, "stopped");
    return status;
}
