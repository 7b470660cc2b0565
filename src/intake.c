/* intake.c -- see intake.h for the contract. */
#include "intake.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "debezium.h"
#include "lake_layout.h"
#include "row_batch.h"
#include "thread_name.h"
#include "uploader.h"
#include "xalloc.h"

/* Threads, what each owns, and how they talk (see partition.h, Threads):
 * - The consumer thread calls every function of intake.h. It finds each
 *   message's partition, gives the partition a lane for good the first time,
 *   and stages the message for that lane; HANDOVER staged messages go to the
 *   lane's queue at once, the rest when the burst ends (intake_settle()).
 *   A burst that handed nothing over is taken inline, on this thread, with
 *   the lanes' resources (the lanes are idle then): a trickle of single
 *   messages pays no hand-over.
 * - Each lane (DECODE_WORKERS threads, "cdcw-decode") owns its queue's
 *   messages (it destroys them), its decoder output, header buffers and probe
 *   client, and, while it holds messages of a partition, that partition's
 *   buffers and place. It takes its queue in order, so a partition's messages
 *   are taken in the order fetched.
 * - They talk through each lane's locked queue and one locked count of
 *   messages handed over and not yet taken, on which intake_settle() waits.
 * With DECODE_WORKERS=0 there is one lane without a thread: every message is
 * taken inline at once. */
struct job {
    struct part *pt;
    rd_kafka_message_t *m;
};

struct jobs {
    struct job *v;
    size_t n, cap;
};

struct lane {
    struct intake *in;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* queue, stop */
    pthread_cond_t wake;
    struct jobs queue;    /* handed over, not yet taken */
    bool stop;
    struct jobs stage;    /* the consumer thread's: staged for this lane */
    /* The lane's own (the consumer thread's when it takes inline): */
    struct jobs work;
    struct object_store *store; /* the probes' client, with a short time-out */
    struct dbz_row row;
    struct kafka_header *headers;
    size_t headers_cap;
    struct buf headers_json;
};

struct intake {
    const struct config *cfg;
    const struct log *log;
    rd_kafka_t *rk;
    struct registry *parts;
    const struct pipeline_metrics *m;
    struct lane *lanes;
    size_t nlanes;  /* at least 1 */
    bool threaded;  /* DECODE_WORKERS > 0 */
    size_t next_lane;
    bool handed;    /* this burst handed messages over */
    pthread_mutex_t idle_lock;
    pthread_cond_t idle;
    size_t outstanding; /* handed over, not yet taken (idle_lock) */
    struct part **touched; /* partitions taken a message since the last settle */
    size_t ntouched, touched_cap;
    _Atomic double probes_resume_at; /* after a failed probe, none until then */
    bool fatal;
};

enum { HANDOVER = 64 };

static void push_job(struct jobs *q, struct job j)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : HANDOVER;
        q->v = xrealloc(q->v, q->cap * sizeof *q->v);
    }
    q->v[q->n++] = j;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Moves the partition's fetch position to offset: the next message taken is
 * fetched from there (P1). A failed seek is fatal. */
static void seek_part(struct intake *in, struct part *pt, int64_t offset)
{
    pt->next_offset = offset;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, pt->topic, pt->partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(in->rk, list, 5000);
    if (e != NULL) {
        log_error(in->log, "%s [%d]: seek to offset %lld failed: %s", pt->topic, pt->partition,
                  (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        in->fatal = true; /* never skip a message silently */
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Reads the partition again from restart_at, where the file that took the
 * flush's key ends: the consumer seeks back (or ahead) there. What the
 * partition held after that flush was dropped when the conflict was found
 * (P2). */
static void restart_part(struct intake *in, struct part *pt)
{
    if (pt->restart_at < 0)
        return;
    assert(pt->slot.nsealed == 0 && !part_has_rows(pt)); /* P2 */
    int64_t at = pt->restart_at;
    part_set_restart(in->parts, pt, -1);
    seek_part(in, pt, at);
}

/* Restarts the partitions a commit round marked; returns at once when none is. */
void intake_restart_due(struct intake *in)
{
    for (size_t i = 0; i < registry_count(in->parts) && registry_restarts(in->parts) > 0; i++)
        restart_part(in, registry_at(in->parts, i));
}
enum { PROBE_TIMEOUT_S = 5, PROBE_ATTEMPTS = 2, PROBE_PAUSE_S = 30 };

/* Before the first row or refused message of a file after an assignment:
 * did an earlier owner store a file under the same key without committing
 * it? Then this file ends where that one ends (its cdc-last-offset), so the
 * two owners' files cover the same offsets and the rewrite replaces it
 * exactly. The first key that is not there ends the probing.
 * The HEAD runs on the partition's lane while the consumer thread waits for
 * the burst, so it is bounded (PROBE_ATTEMPTS of PROBE_TIMEOUT_S), and after
 * a failed one no partition probes for PROBE_PAUSE_S: a store that does not
 * answer never keeps the consumer from polling for long. Files are then cut as usual; conditional writes still keep a
 * replay from overwriting a file that ends elsewhere. */
static void probe_replay(struct lane *ln, struct part *pt, const char *area, int64_t ts, int64_t offset)
{
    struct intake *in = ln->in;
    if (clock_mono_s() < atomic_load(&in->probes_resume_at)) {
        pt->probing = false;
        return;
    }
    char key[1024], value[32] = "", err[1024];
    bool found = false;
    lake_object_key(key, sizeof key, area, pt->table, ts, pt->partition, offset);
    if (!object_store_head(ln->store, key, UPLOAD_META_LAST_OFFSET, &found, value, sizeof value, err,
                           sizeof err)) {
        log_warn(in->log, "%s [%d]: could not check for an earlier owner's file at offset %lld (%s); "
                         "files are cut as usual from here, and no partition checks for %d s",
                 pt->topic, pt->partition, (long long)offset, err, PROBE_PAUSE_S);
        pt->probing = false;
        atomic_store(&in->probes_resume_at, clock_mono_s() + PROBE_PAUSE_S);
        return;
    }
    char *end = value;
    long long last = found ? strtoll(value, &end, 10) : -1;
    if (found && value[0] != '\0' && *end == '\0' && last >= offset) {
        if (last > pt->cut_at)
            pt->cut_at = last;
        metric_count1(in->m->replay_cuts, pt->topic, 1);
        log_info(in->log, "%s [%d]: offsets %lld to %lld are stored, not committed, in %s: this file "
                         "ends at %lld too",
                 pt->topic, pt->partition, (long long)offset, last, key, last);
    } else if (pt->cut_at < 0) {
        pt->probing = false; /* nothing stored from here on */
    }
}

/* The message's headers as kafka_headers_json() writes them, into
 * ln->headers_json; false when it has none. */
static bool headers_json(struct lane *ln, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    size_t n = 0;
    const char *name;
    const void *value;
    size_t size;
    while (rd_kafka_header_get_all(hdrs, n, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (n == ln->headers_cap) {
            ln->headers_cap = ln->headers_cap ? ln->headers_cap * 2 : 8;
            ln->headers = xrealloc(ln->headers, ln->headers_cap * sizeof *ln->headers);
        }
        ln->headers[n++] = (struct kafka_header){.name = name, .value = value, .len = size};
    }
    buf_reset(&ln->headers_json);
    return kafka_headers_json(ln->headers, n, &ln->headers_json);
}

/* One message of pt into its buffers, on pt's lane (or inline on the
 * consumer thread): decoded, cut before or after as it demands (the cuts
 * held for part_settle()), and destroyed. */
static void take(struct lane *ln, struct part *pt, rd_kafka_message_t *m)
{
    struct intake *in = ln->in;
    const char *topic = pt->topic;
    if (m->offset < pt->next_offset) { /* P1 */
        log_warn(in->log, "%s [%d]: offset %lld delivered again (the next is %lld): already taken, skipped",
                 topic, m->partition, (long long)m->offset, (long long)pt->next_offset);
        rd_kafka_message_destroy(m);
        return;
    }
    char err[1024], why[512];
    enum dbz_result r = dbz_decode(pt->decoder, m->payload, m->len, &ln->row, err, sizeof err);
    rd_kafka_timestamp_type_t tstype;
    int64_t processed_at = wall_us();
    const struct dbz_row *row = &ln->row;
    bool decoded = r == DBZ_ROW;
    struct kafka_record rec = {.offset = m->offset, .timestamp_ms = rd_kafka_message_timestamp(m, &tstype),
                               .key = m->key, .key_len = m->key_len};
    if (decoded && (in->cfg->cdc_metadata & CDC_META_HEADERS) && headers_json(ln, m)) {
        rec.headers = (const char *)ln->headers_json.data;
        rec.headers_len = ln->headers_json.len;
    }
    struct lake_times times = {.kafka_ms = rec.timestamp_ms, .has_ts = decoded && row->has_ts,
                               .ts_ms = row->ts_ms, .has_source_ts = decoded && row->has_source_ts,
                               .source_ts_ms = row->source_ts_ms, .now_ms = processed_at / 1000};
    bool fell_back;
    int64_t ts = lake_message_time(in->cfg->partition_time, &times, &fell_back);
    if (pt->cut_at >= 0 && m->offset > pt->cut_at) {
        part_cut_later(in->parts, pt, "replay-cut", clock_mono_s());
        pt->cut_at = -1;
    }
    /* A tombstone is in no file, so its time neither cuts nor dates one. */
    bool filed = r != DBZ_TOMBSTONE;
    int64_t day = lake_day(ts);
    if (filed && pt->has_day && day != pt->day)
        part_cut_later(in->parts, pt, "day-change", clock_mono_s()); /* a file never spans two days */
    if (filed && fell_back)
        metric_count1(in->m->time_fallbacks, topic, 1);

    pt->consumed++;
    pt->consumed_bytes += m->len + m->key_len;
    if (pt->first_offset < 0)
        pt->first_offset = m->offset;
    assert(pt->cut_at < 0 || m->offset <= pt->cut_at); /* P3 */
    if (pt->probing && r != DBZ_TOMBSTONE && !part_has_rows(pt)) /* the first row or refused message of a file */
        probe_replay(ln, pt, r == DBZ_ROW ? "cdc_events" : "cdc_errors", ts, m->offset);
    if (r == DBZ_ROW) {
        if (row_batch_add(pt->rows, &ln->row, &rec, processed_at, why, sizeof why) ==
            BATCH_SCHEMA_CHANGED) {
            log_info(in->log, "%s [%d] at offset %lld: %s", topic, m->partition, (long long)m->offset, why);
            part_cut_later(in->parts, pt, "schema-change", clock_mono_s());
            if (pt->probing)
                probe_replay(ln, pt, "cdc_events", ts, m->offset);
            row_batch_add(pt->rows, &ln->row, &rec, processed_at, why, sizeof why);
        }
        if (row_batch_rows(pt->rows) == 1)
            pt->rows_first_ts = ts;
    } else if (r == DBZ_ERROR) {
        log_warn(in->log, "%s [%d] at offset %lld refused: %s", topic, m->partition, (long long)m->offset,
                 err);
        error_batch_add(pt->errors, m->offset, ts, m->key, m->key_len, m->payload, m->len, err,
                        processed_at);
    } else {
        metric_count1(in->m->tombstones, topic, 1);
    }
    if (filed && !pt->has_day) {
        pt->has_day = true;
        pt->day = day;
    }
    pt->commit_next = m->offset + 1;
    pt->next_offset = m->offset + 1;
    pt->bytes += m->len + m->key_len;
    if ((int64_t)row_batch_rows(pt->rows) + (int64_t)error_batch_rows(pt->errors) >= in->cfg->max_batch_size)
        part_flush_later(in->parts, pt, "rows", clock_mono_s());
    else if ((int64_t)pt->bytes >= in->cfg->max_batch_bytes)
        part_flush_later(in->parts, pt, "bytes", clock_mono_s());
    rd_kafka_message_destroy(m);
}


/* Takes what the lane was handed, in order, until told to stop. */
static void *lane_loop(void *arg)
{
    struct lane *ln = arg;
    struct intake *in = ln->in;
    thread_name_set("cdcw-decode");
    pthread_mutex_lock(&ln->lock);
    for (;;) {
        while (ln->queue.n == 0 && !ln->stop)
            pthread_cond_wait(&ln->wake, &ln->lock);
        if (ln->queue.n == 0)
            break; /* stopping, and nothing is left */
        struct jobs t = ln->work;
        ln->work = ln->queue;
        ln->queue = t;
        ln->queue.n = 0;
        pthread_mutex_unlock(&ln->lock);
        for (size_t i = 0; i < ln->work.n; i++)
            take(ln, ln->work.v[i].pt, ln->work.v[i].m);
        pthread_mutex_lock(&in->idle_lock);
        in->outstanding -= ln->work.n;
        if (in->outstanding == 0)
            pthread_cond_broadcast(&in->idle);
        pthread_mutex_unlock(&in->idle_lock);
        ln->work.n = 0;
        pthread_mutex_lock(&ln->lock);
    }
    pthread_mutex_unlock(&ln->lock);
    return NULL;
}

/* Hands the lane what is staged for it. Counted first, so the count never
 * falls below what is handed over. */
static void hand_over(struct intake *in, struct lane *ln)
{
    if (ln->stage.n == 0)
        return;
    pthread_mutex_lock(&in->idle_lock);
    in->outstanding += ln->stage.n;
    pthread_mutex_unlock(&in->idle_lock);
    pthread_mutex_lock(&ln->lock);
    for (size_t i = 0; i < ln->stage.n; i++)
        push_job(&ln->queue, ln->stage.v[i]);
    pthread_cond_signal(&ln->wake);
    pthread_mutex_unlock(&ln->lock);
    ln->stage.n = 0;
    in->handed = true;
}

void intake_message(struct intake *in, rd_kafka_message_t *m)
{
    struct part *pt = registry_add(in->parts, rd_kafka_topic_name(m->rkt), m->partition);
    if (pt->restart_at >= 0) { /* fetched before the restart: read again (or skipped) after it */
        /* Safe here: since restart_at was set (settled), none of its messages
         * went to its lane. */
        restart_part(in, pt);
        rd_kafka_message_destroy(m);
        return;
    }
    if (!pt->touched) {
        pt->touched = true;
        if (in->ntouched == in->touched_cap) {
            in->touched_cap = in->touched_cap ? in->touched_cap * 2 : 64;
            in->touched = xrealloc(in->touched, in->touched_cap * sizeof *in->touched);
        }
        in->touched[in->ntouched++] = pt;
    }
    if (pt->lane < 0)
        pt->lane = (int)(in->next_lane++ % in->nlanes);
    struct lane *ln = &in->lanes[pt->lane];
    if (!in->threaded) {
        take(ln, pt, m);
        return;
    }
    push_job(&ln->stage, (struct job){.pt = pt, .m = m});
    if (ln->stage.n >= HANDOVER)
        hand_over(in, ln);
}

void intake_settle(struct intake *in)
{
    if (in == NULL)
        return;
    if (in->threaded && !in->handed) { /* a small burst: inline, the lanes being idle */
        for (size_t l = 0; l < in->nlanes; l++) {
            struct lane *ln = &in->lanes[l];
            for (size_t i = 0; i < ln->stage.n; i++)
                take(ln, ln->stage.v[i].pt, ln->stage.v[i].m);
            ln->stage.n = 0;
        }
    } else if (in->threaded) {
        for (size_t l = 0; l < in->nlanes; l++)
            hand_over(in, &in->lanes[l]);
        pthread_mutex_lock(&in->idle_lock);
        while (in->outstanding > 0)
            pthread_cond_wait(&in->idle, &in->idle_lock);
        pthread_mutex_unlock(&in->idle_lock);
    }
    in->handed = false;
    for (size_t i = 0; i < in->ntouched; i++)
        part_settle(in->parts, in->touched[i]);
    in->ntouched = 0;
}

static void lane_free(struct lane *ln)
{
    if (ln->started) {
        pthread_mutex_lock(&ln->lock);
        ln->stop = true;
        pthread_cond_signal(&ln->wake);
        pthread_mutex_unlock(&ln->lock);
        pthread_join(ln->thread, NULL);
    }
    pthread_mutex_destroy(&ln->lock);
    pthread_cond_destroy(&ln->wake);
    assert(ln->queue.n == 0 && ln->stage.n == 0); /* settled before */
    free(ln->queue.v);
    free(ln->stage.v);
    free(ln->work.v);
    object_store_free(ln->store);
    dbz_row_free(&ln->row);
    free(ln->headers);
    buf_free(&ln->headers_json);
}

struct intake *intake_new(const struct config *cfg, const struct log *lg, rd_kafka_t *rk, struct registry *parts,
                          const struct object_store_config *probe, const struct pipeline_metrics *m,
                          char *err, size_t errlen)
{
    struct intake *in = xcalloc(1, sizeof *in);
    in->cfg = cfg;
    in->log = lg;
    in->rk = rk;
    in->parts = parts;
    in->m = m;
    in->threaded = cfg->decode_workers > 0;
    in->nlanes = in->threaded ? (size_t)cfg->decode_workers : 1;
    atomic_init(&in->probes_resume_at, 0.0);
    pthread_mutex_init(&in->idle_lock, NULL);
    pthread_cond_init(&in->idle, NULL);
    in->lanes = xcalloc(in->nlanes, sizeof *in->lanes);
    for (size_t i = 0; i < in->nlanes; i++) {
        struct lane *ln = &in->lanes[i];
        ln->in = in;
        pthread_mutex_init(&ln->lock, NULL);
        pthread_cond_init(&ln->wake, NULL);
    }
    for (size_t i = 0; i < in->nlanes; i++) {
        struct lane *ln = &in->lanes[i];
        ln->store = object_store_new(probe, err, errlen);
        if (ln->store == NULL) {
            intake_free(in);
            return NULL;
        }
        if (in->threaded) {
            if (pthread_create(&ln->thread, NULL, lane_loop, ln) != 0) {
                snprintf(err, errlen, "cannot start decode worker %zu of %zu (DECODE_WORKERS)", i + 1,
                         in->nlanes);
                intake_free(in);
                return NULL;
            }
            ln->started = true;
        }
    }
    return in;
}

void intake_free(struct intake *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->nlanes; i++)
        lane_free(&in->lanes[i]);
    free(in->lanes);
    free(in->touched);
    pthread_mutex_destroy(&in->idle_lock);
    pthread_cond_destroy(&in->idle);
    free(in);
}

void intake_probe_config(struct object_store_config *cfg)
{
    if (cfg->timeout_s > PROBE_TIMEOUT_S)
        cfg->timeout_s = PROBE_TIMEOUT_S;
    cfg->max_attempts = PROBE_ATTEMPTS;
}

bool intake_fatal(const struct intake *in)
{
    return in->fatal;
}
