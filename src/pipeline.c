/* pipeline.c -- see pipeline.h for the contract: the loop, its set-up and
 * teardown, the rebalance glue and backpressure. Each message goes through
 * the decoder into its partition's column buffers (intake.h, partition.h); a
 * cut hands them to the flush ledger (ledger.h), whose flushes the upload
 * workers encode and store; commit rounds (commit_round.h) trigger Prefect
 * and commit what came back.
 *
 * Threads, what each owns, and how they talk:
 * - The consumer thread (this loop, main()'s thread) owns the partitions,
 *   the ledger and every flush not with a worker, and is the only one to
 *   poll librdkafka's consumer: rebalance, error and commit callbacks run
 *   inside rd_kafka_consumer_poll() and the commit calls made from it. It
 *   never waits for an upload while consuming: a cut of a busy partition is
 *   sealed (ledger.h), and a revocation waits for its partitions' uploads
 *   side by side, at most half of max.poll.interval.ms.
 * - Decode lanes (intake.c, DECODE_WORKERS threads): each turn of the loop
 *   is a burst of messages, which the consumer thread hands to the lanes,
 *   each partition to its own lane; while a lane holds a partition's
 *   messages it alone touches that partition's buffers and place, and the
 *   ledger changes on no thread. intake_settle() ends the burst: it waits for
 *   the lanes, and the turn goes on with every partition this thread's again
 *   (the rebalance callback settles first too).
 * - Upload workers (uploader.c, MINIO_UPLOAD_CONCURRENCY threads, each with
 *   its own object store client) own a flush's job from uploader_submit()
 *   until it is back in uploader_take(); they talk to this thread only
 *   through the uploader's two locked queues, and wake its poll with
 *   rd_kafka_queue_yield() (wake_consumer()).
 * - librdkafka's own threads (broker, main): fetch and send requests; of
 *   ours they call only on_log() (which counts handshake hang-ups,
 *   atomically, and writes a line).
 * - The fetch nudger (fetch_nudge.c, librdkafka 2.0 only) reads the paused
 *   flag and the count of messages polled (both atomic) and asks for
 *   watermarks.
 * - The store probe (health.c) and the HTTP server's thread (http_server.c):
 *   the probe writes the health state, the server reads it and the metrics.
 * - Shared by all of them, each locked: the metrics registry (every thread
 *   counts) and the health state inside their modules, and the log (one
 *   fwrite() per line, which stdio locks).
 * Nothing else is shared.
 *
 * The guarantee rests on the ledger's invariants L1 to L5 (ledger.h) and the
 * partitions' P1 to P3 (partition.h); each is asserted where it is relied on
 * and the sanitizer build keeps the asserts.
 */
#include "pipeline.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "commit_round.h"
#include "fetch_nudge.h"
#include "health.h"
#include "intake.h"
#include "kafka_conf.h"
#include "ledger.h"
#include "metrics.h"
#include "object_store.h"
#include "partition.h"
#include "pipeline_metrics.h"
#include "prefect.h"
#include "store_config.h"
#include "uploader.h"
#include "xalloc.h"

struct pipeline {
    const struct config *cfg;
    const struct log *log;
    volatile sig_atomic_t *stop;
    rd_kafka_t *rk;
    regex_t topic_re;
    bool have_re;
    struct registry *parts;
    struct ledger *ledger; /* the commit round's */
    struct commit_round *round;
    struct object_store *store;       /* the bucket check at start */
    struct intake *intake;
    struct uploader *uploader;
    rd_kafka_queue_t *consumer_queue; /* yielded by upload workers to end a poll early */
    struct prefect *prefect;
    struct pq_options pq;
    int64_t limit; /* MAX_BUFFER_BYTES less librdkafka's prefetch and the writing reserve */
    double revoke_wait_s; /* how long a revocation waits for its uploads */
    double next_memory_flush;
    atomic_bool paused; /* atomic: the fetch nudger's thread reads it too */
    atomic_ulong polled; /* messages and events polled; the fetch nudger reads it */
    struct fetch_nudge *nudge;
    double next_flush;
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
};

static double now_s(void)
{
    return clock_mono_s();
}

static bool fatal(const struct pipeline *p)
{
    return p->fatal || (p->round != NULL && commit_round_fatal(p->round)) ||
           (p->intake != NULL && intake_fatal(p->intake));
}

/* ---------- flushes ---------- */

static void flush_all(struct pipeline *p, const char *reason)
{
    for (size_t i = 0; i < registry_count(p->parts); i++)
        part_flush(p->parts, registry_at(p->parts, i), reason, now_s());
}

static struct part **all_parts(struct pipeline *p)
{
    size_t n = registry_count(p->parts);
    struct part **all = xmalloc(n * sizeof *all + 1);
    for (size_t i = 0; i < n; i++)
        all[i] = registry_at(p->parts, i);
    return all;
}

static int by_held_desc(const void *a, const void *b)
{
    size_t x = (*(struct part *const *)a)->slot.held, y = (*(struct part *const *)b)->slot.held;
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
    if (((int64_t)ledger_unflushed(p->ledger) < p->limit / 6 * 5 && !p->paused) || now < p->next_memory_flush)
        return;
    p->next_memory_flush = now + 0.05;
    size_t n = registry_count(p->parts);
    struct part **order = all_parts(p);
    qsort(order, n, sizeof *order, by_held_desc);
    for (size_t i = 0; i < n && (int64_t)ledger_unflushed(p->ledger) > p->limit / 2; i++)
        if (order[i]->slot.inflight == NULL && order[i]->slot.held > 0)
            part_flush(p->parts, order[i], "memory", now);
    free(order);
}

/* Waits for every upload in flight; false when some could not be stored. */
static bool wait_all(struct pipeline *p)
{
    struct part **all = all_parts(p);
    bool ok = commit_round_drain(p->round, all, registry_count(p->parts), 1e300);
    free(all);
    return ok;
}

/* Whether any partition still holds rows or refused messages not handed to
 * an upload (a flush skipped while the partition was busy). */
static bool any_buffered(const struct pipeline *p)
{
    for (size_t i = 0; i < registry_count(p->parts); i++)
        if (part_has_rows(registry_at(p->parts, i)))
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
    int n = (int)registry_count(p->parts);
    metric_set(p->m.assigned, n);
    metric_set(p->m.paused, p->paused ? n : 0);
    health_set_assigned(p->health, n);
}

/* Revoked partitions are cut at once and their uploads waited for side by
 * side, for at most revoke_wait_s (half of max.poll.interval.ms, so this
 * member is never evicted for it); a partition not stored and committed by
 * then is given up: dropped uncommitted, its flush left to its worker as an
 * orphan (a store that accepts and never answers). Lost partitions are
 * dropped at once. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct pipeline *p = opaque;
    p->kafka_reached = true;
    intake_settle(p->intake); /* the partitions are this thread's again */
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < list->cnt; i++) {
            log_info(p->log, "assigned %s [%d]", list->elems[i].topic, list->elems[i].partition);
            registry_add(p->parts, list->elems[i].topic, list->elems[i].partition);
        }
        if (p->cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, list));
        else
            rd_kafka_assign(rk, list);
        if (p->paused)
            rd_kafka_pause_partitions(rk, list);
        metric_count1(p->m.rebalances, "assigned", list->cnt);
        count_assignment(p);
        return;
    }
    bool lost = rd_kafka_assignment_lost(rk);
    metric_count1(p->m.rebalances, lost ? "lost" : "revoked", list->cnt);
    struct part **gone = xmalloc((size_t)list->cnt * sizeof *gone + 1);
    size_t ngone = 0;
    for (int i = 0; i < list->cnt; i++) {
        struct part *pt = registry_find(p->parts, list->elems[i].topic, list->elems[i].partition);
        if (pt == NULL)
            continue;
        gone[ngone++] = pt;
        if (!lost)
            part_cut(p->parts, pt, "revoke", now_s()); /* every revoked partition's upload starts now */
    }
    if (!lost && ngone > 0 && !commit_round_drain(p->round, gone, ngone, now_s() + p->revoke_wait_s))
        log_warn(p->log, "revocation: not every revoked partition was stored and committed within %.0f s "
                         "(half of max.poll.interval.ms)",
                 p->revoke_wait_s);
    for (size_t i = 0; i < ngone; i++) {
        struct part *pt = gone[i];
        if (lost) {
            log_warn(p->log, "lost %s [%d]: its buffers are dropped uncommitted (the new owner reads "
                             "them again)",
                     pt->topic, pt->partition);
        } else if (ledger_busy(&pt->slot)) {
            p->dropped_unstored = p->dropped_unstored || p->closing; /* earlier: the new owner reads them */
            log_error(p->log, "revoked %s [%d] could not be flushed: its buffers are dropped "
                              "uncommitted (the new owner reads them again)",
                      pt->topic, pt->partition);
        } else {
            log_info(p->log, "revoked %s [%d] after flushing it", pt->topic, pt->partition);
        }
        registry_remove(p->parts, pt); /* an upload still with a worker is orphaned */
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
                 ledger_buffered(p->ledger), (long long)p->cfg->max_buffer_bytes,
                 (long long)(p->cfg->max_buffer_bytes - p->limit));
    else
        log_info(p->log, "consumption resumed (%zu bytes buffered)", ledger_buffered(p->ledger));
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


/* Half of max.poll.interval.ms (librdkafka's default 300 s), as the
 * configuration sets it: how long a revocation may wait for its uploads. */
static double revoke_wait(const rd_kafka_conf_t *conf)
{
    char v[64];
    size_t n = sizeof v;
    long ms = 300000;
    if (rd_kafka_conf_get(conf, "max.poll.interval.ms", v, &n) == RD_KAFKA_CONF_OK)
        ms = strtol(v, NULL, 10);
    return ms > 0 ? (double)ms / 2000.0 : 150.0;
}

static bool setup(struct pipeline *p)
{
    char err[2048];
    if (regcomp(&p->topic_re, p->cfg->kafka_topic_pattern, REG_EXTENDED) == 0)
        p->have_re = true;
    pipeline_metrics_define(p->metrics, &p->m);
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
    p->revoke_wait_s = revoke_wait(conf);
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
    p->uploader = uploader_new(&oc, p->cfg->minio_upload_concurrency, wake_consumer, p, err, sizeof err);
    if (p->uploader == NULL) {
        log_error(p->log, "object store: %s", err);
        return false;
    }
    struct commit_round_deps deps = {
        .cfg = p->cfg, .log = p->log, .rk = p->rk, .uploader = p->uploader, .prefect = p->prefect,
        .m = &p->m, .health = p->health, .failpoint = getenv("CDCW_FAILPOINT"),
    };
    p->round = commit_round_new(&deps);
    p->ledger = commit_round_ledger(p->round);
    p->parts = registry_new(p->have_re ? &p->topic_re : NULL, p->ledger, &p->m, &p->pq, p->cfg->cdc_metadata);
    commit_round_set_registry(p->round, p->parts);
    struct object_store_config probe = oc;
    intake_probe_config(&probe);
    p->intake = intake_new(p->cfg, p->log, p->rk, p->parts, &probe, &p->m, err, sizeof err);
    if (p->intake == NULL) {
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
    p->nudge = fetch_nudge_start(p->rk, p->consumer_queue, &p->paused, &p->polled, 20);
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
    /* Take back every flush a worker still holds (orphans too) before
     * stopping the workers: the ledger owns them. */
    while (p->ledger != NULL && ledger_in_workers(p->ledger) > 0)
        commit_round_run(p->round, 200);
    uploader_free(p->uploader);
    p->uploader = NULL;
    fetch_nudge_stop(p->nudge);
    p->nudge = NULL;
    if (p->consumer_queue)
        rd_kafka_queue_destroy(p->consumer_queue);
    intake_free(p->intake);
    p->intake = NULL;
    registry_free(p->parts);
    p->parts = NULL;
    commit_round_free(p->round); /* its ledger, and its commit queue */
    p->round = NULL;
    p->ledger = NULL;
    /* Closed already: rd_kafka_destroy() would close it again, and after a
     * close whose revocation could not store its buffers, librdkafka 2.12's
     * second close waited forever. */
    if (p->rk && p->closing)
        rd_kafka_destroy_flags(p->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    else if (p->rk)
        rd_kafka_destroy(p->rk);
    object_store_free(p->store);
    prefect_free(p->prefect);
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
    for (size_t i = 0; i < registry_count(p->parts); i++) {
        struct part *pt = registry_at(p->parts, i);
        inflight += pt->slot.inflight != NULL;
        commit_round_update_lag(p->round, pt);
    }
    metric_set(p->m.buffered, (double)ledger_buffered(p->ledger));
    metric_set(p->m.inflight, (double)inflight);
}

/* At shutdown, after the flush rounds failed: says what is left and why;
 * returns the exit status that follows (1 when something is not in the lake
 * or not committed). */
static int report_unfinished(struct pipeline *p)
{
    size_t unstored = 0, uncommitted = 0, moved_on = 0;
    for (size_t i = 0; i < registry_count(p->parts); i++) {
        const struct part *pt = registry_at(p->parts, i);
        if (pt->slot.commit_pending >= 0 && pt->slot.commit_fenced)
            moved_on++; /* with what it buffered after: its next owner reads it all */
        else if (pt->slot.inflight != NULL || pt->slot.nsealed > 0 || part_has_rows(pt))
            unstored++;
        else if (pt->slot.commit_pending >= 0)
            uncommitted++;
    }
    if (moved_on > 0)
        log_warn(p->log, "shutdown: %zu partitions' files are stored but their commits were refused because "
                         "the group is rebalancing without this instance; their next owner reads them again "
                         "from the last commit and rewrites the same files",
                 moved_on);
    if (unstored > 0)
        log_error(p->log, "shutdown: the buffered data of %zu partitions could not be written; it stays "
                          "uncommitted in Kafka and is read again on restart",
                  unstored);
    if (uncommitted > 0)
        log_error(p->log, "shutdown: %zu partitions' files are stored but their offsets could not be "
                          "committed; a restart reads them again and rewrites the same files",
                  uncommitted);
    return unstored + uncommitted > 0 ? 1 : 0;
}

/* A burst is taken before the memory check, so it is small beside the
 * buffers' share: at most BURST_MESSAGES (a row of 120 columns may take 2 KB
 * of buffers however short its JSON), message bytes of 1/BURST_SHARE of the
 * buffers' limit, or BURST_S. */
enum { BURST_MESSAGES = 1024, BURST_SHARE = 64 };
static const double BURST_S = 0.01;

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
    while (!*stop && !fatal(&p)) {
        /* A burst: what the first poll waits for and what is there at once
         * after it (see BURST_MESSAGES) goes to the decode lanes;
         * intake_settle() waits for them before the rest of the turn. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p.rk, p.paused ? 100 : cfg->kafka_poll_timeout_ms);
        double burst_end = now_s() + BURST_S;
        size_t n = 0;
        int64_t bytes = 0;
        while (m != NULL) {
            n++;
            if (m->err) {
                handle_event(&p, m);
                rd_kafka_message_destroy(m);
            } else {
                bytes += (int64_t)(m->len + m->key_len);
                intake_message(p.intake, m); /* its own from here on */
            }
            if (n >= BURST_MESSAGES || bytes >= p.limit / BURST_SHARE || (n % 64 == 0 && now_s() >= burst_end) ||
                *stop || p.fatal)
                break;
            m = rd_kafka_consumer_poll(p.rk, 0);
        }
        if (n > 0)
            atomic_fetch_add(&p.polled, n);
        intake_settle(p.intake);
        double now = now_s();
        if (now >= next_beat) {
            health_beat(health);
            next_beat = now + 0.1;
        }
        sample_gauges(&p, now);
        commit_round_run(p.round, 0);
        intake_restart_due(p.intake);
        ledger_retry_due(p.ledger, now, false);
        ledger_send_commits(p.ledger, now, false);
        if (now >= p.next_flush) {
            flush_all(&p, "interval");
            p.next_flush = now_s() + cfg->write_interval_s;
        }
        /* Near the buffers' limit, flush the largest while consuming goes on;
         * at the limit, stop fetching until the uploads drain. */
        flush_for_memory(&p, now);
        int64_t buffered = (int64_t)ledger_buffered(p.ledger);
        if (!p.paused && buffered >= p.limit)
            pause_all(&p, true);
        else if (p.paused && buffered < p.limit / 4 * 3)
            pause_all(&p, false);
    }
    if (p.nudge != NULL)
        log_debug(lg, "librdkafka's fetcher was woken %lu times", fetch_nudge_count(p.nudge));
    fetch_nudge_stop(p.nudge); /* nothing more is consumed */
    p.nudge = NULL;
    int status = fatal(&p) ? 1 : 0;
    if (!fatal(&p)) {
        log_info(lg, "stopping: writing what is buffered, committing, leaving the group");
        /* Each round frees the busy partitions, flushes what they buffer and
         * waits; so no buffer is left for the revocation in
         * close_consumer(), whose failure could not change the exit
         * status any more. */
        bool ok = false;
        for (int round = 0; round < 3 && !ok; round++) {
            if (round > 0) {
                ledger_retry_due(p.ledger, now_s(), true);
                ledger_send_commits(p.ledger, now_s(), true);
            }
            wait_all(&p);
            flush_all(&p, "shutdown");
            ok = wait_all(&p) && !any_buffered(&p);
        }
        if (!ok) {
            status = report_unfinished(&p);
            /* What is left is dropped uncommitted: the next owner reads it. */
            for (size_t i = 0; i < registry_count(p.parts); i++) {
                struct part *pt = registry_at(p.parts, i);
                part_clear(p.parts, pt);
                ledger_reset(p.ledger, &pt->slot);
            }
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
