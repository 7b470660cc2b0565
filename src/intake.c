/* intake.c -- see intake.h for the contract. */
#include "intake.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "debezium.h"
#include "lake_layout.h"
#include "row_batch.h"
#include "uploader.h"
#include "xalloc.h"

struct intake {
    const struct config *cfg;
    const struct log *log;
    rd_kafka_t *rk;
    struct registry *parts;
    struct object_store *store; /* the probes' own, with a short time-out */
    const struct pipeline_metrics *m;
    struct dbz_row row;         /* the decoder's output, reused */
    struct kafka_header *headers; /* a message's, for _kafka_headers (reused) */
    size_t headers_cap;
    struct buf headers_json;
    double probes_resume_at;    /* after a failed probe, none until then */
    bool fatal;
};

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
 * The HEAD runs on this thread, so it is bounded (PROBE_ATTEMPTS of
 * PROBE_TIMEOUT_S), and after a failed one no partition probes for
 * PROBE_PAUSE_S: a store that does not answer never keeps the consumer from
 * polling. Files are then cut as usual; conditional writes still keep a
 * replay from overwriting a file that ends elsewhere. */
static void probe_replay(struct intake *in, struct part *pt, const char *area, int64_t ts, int64_t offset)
{
    if (clock_mono_s() < in->probes_resume_at) {
        pt->probing = false;
        return;
    }
    char key[1024], value[32] = "", err[1024];
    bool found = false;
    lake_object_key(key, sizeof key, area, pt->table, ts, pt->partition, offset);
    if (!object_store_head(in->store, key, UPLOAD_META_LAST_OFFSET, &found, value, sizeof value, err,
                           sizeof err)) {
        log_warn(in->log, "%s [%d]: could not check for an earlier owner's file at offset %lld (%s); "
                         "files are cut as usual from here, and no partition checks for %d s",
                 pt->topic, pt->partition, (long long)offset, err, PROBE_PAUSE_S);
        pt->probing = false;
        in->probes_resume_at = clock_mono_s() + PROBE_PAUSE_S;
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
 * in->headers_json; false when it has none. */
static bool headers_json(struct intake *in, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    size_t n = 0;
    const char *name;
    const void *value;
    size_t size;
    while (rd_kafka_header_get_all(hdrs, n, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (n == in->headers_cap) {
            in->headers_cap = in->headers_cap ? in->headers_cap * 2 : 8;
            in->headers = xrealloc(in->headers, in->headers_cap * sizeof *in->headers);
        }
        in->headers[n++] = (struct kafka_header){.name = name, .value = value, .len = size};
    }
    buf_reset(&in->headers_json);
    return kafka_headers_json(in->headers, n, &in->headers_json);
}

void intake_message(struct intake *in, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct part *pt = registry_add(in->parts, topic, m->partition);
    if (pt->restart_at >= 0) { /* fetched before the restart: read again (or skipped) after it */
        restart_part(in, pt);
        return;
    }
    if (m->offset < pt->next_offset) { /* P1 */
        log_warn(in->log, "%s [%d]: offset %lld delivered again (the next is %lld): already taken, skipped",
                 topic, m->partition, (long long)m->offset, (long long)pt->next_offset);
        return;
    }
    char err[1024], why[512];
    enum dbz_result r = dbz_decode(pt->decoder, m->payload, m->len, &in->row, err, sizeof err);
    rd_kafka_timestamp_type_t tstype;
    int64_t processed_at = wall_us();
    const struct dbz_row *row = &in->row;
    bool decoded = r == DBZ_ROW;
    struct kafka_record rec = {.offset = m->offset, .timestamp_ms = rd_kafka_message_timestamp(m, &tstype),
                               .key = m->key, .key_len = m->key_len};
    if (decoded && (in->cfg->cdc_metadata & CDC_META_HEADERS) && headers_json(in, m)) {
        rec.headers = (const char *)in->headers_json.data;
        rec.headers_len = in->headers_json.len;
    }
    struct lake_times times = {.kafka_ms = rec.timestamp_ms, .has_ts = decoded && row->has_ts,
                               .ts_ms = row->ts_ms, .has_source_ts = decoded && row->has_source_ts,
                               .source_ts_ms = row->source_ts_ms, .now_ms = processed_at / 1000};
    bool fell_back;
    int64_t ts = lake_message_time(in->cfg->partition_time, &times, &fell_back);
    if (pt->cut_at >= 0 && m->offset > pt->cut_at) {
        part_cut(in->parts, pt, "replay-cut", clock_mono_s());
        pt->cut_at = -1;
    }
    /* A tombstone is in no file, so its time neither cuts nor dates one. */
    bool filed = r != DBZ_TOMBSTONE;
    int64_t day = lake_day(ts);
    if (filed && pt->has_day && day != pt->day)
        part_cut(in->parts, pt, "day-change", clock_mono_s()); /* a file never spans two days */
    if (filed && fell_back)
        metric_count1(in->m->time_fallbacks, topic, 1);

    metric_add(pt->m_consumed, 1);
    metric_add(pt->m_consumed_bytes, (double)(m->len + m->key_len));
    if (pt->first_offset < 0)
        pt->first_offset = m->offset;
    assert(pt->cut_at < 0 || m->offset <= pt->cut_at); /* P3 */
    if (pt->probing && r != DBZ_TOMBSTONE && !part_has_rows(pt)) /* the first row or refused message of a file */
        probe_replay(in, pt, r == DBZ_ROW ? "cdc_events" : "cdc_errors", ts, m->offset);
    if (r == DBZ_ROW) {
        if (row_batch_add(pt->rows, &in->row, &rec, processed_at, why, sizeof why) ==
            BATCH_SCHEMA_CHANGED) {
            log_info(in->log, "%s [%d] at offset %lld: %s", topic, m->partition, (long long)m->offset, why);
            part_cut(in->parts, pt, "schema-change", clock_mono_s());
            if (pt->probing)
                probe_replay(in, pt, "cdc_events", ts, m->offset);
            row_batch_add(pt->rows, &in->row, &rec, processed_at, why, sizeof why);
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
    part_charge(in->parts, pt);
    if ((int64_t)row_batch_rows(pt->rows) + (int64_t)error_batch_rows(pt->errors) >= in->cfg->max_batch_size)
        part_flush(in->parts, pt, "rows", clock_mono_s());
    else if ((int64_t)pt->bytes >= in->cfg->max_batch_bytes)
        part_flush(in->parts, pt, "bytes", clock_mono_s());
}


struct intake *intake_new(const struct config *cfg, const struct log *lg, rd_kafka_t *rk, struct registry *parts,
                          struct object_store *store, const struct pipeline_metrics *m)
{
    struct intake *in = xcalloc(1, sizeof *in);
    in->cfg = cfg;
    in->log = lg;
    in->rk = rk;
    in->parts = parts;
    in->store = store;
    in->m = m;
    return in;
}

void intake_free(struct intake *in)
{
    if (in == NULL)
        return;
    object_store_free(in->store);
    dbz_row_free(&in->row);
    free(in->headers);
    buf_free(&in->headers_json);
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
