/* commit_round.c -- see commit_round.h for the contract. */
#include "commit_round.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "xalloc.h"

struct commit_round {
    struct commit_round_deps d;
    struct registry *parts;
    struct ledger *ledger;
    rd_kafka_queue_t *commit_queue; /* answers to asynchronous commits */
    struct flush **done;            /* a round's flushes, kept for the next */
    size_t done_cap;
    bool fatal;
    double prefect_resume_at; /* after a failed trigger, triggers wait until then */
    bool prefect_skip_logged; /* the skipping since the last failure is logged */
};

enum { PREFECT_PAUSE_S = 30 };

/* ---------- commits ---------- */

void commit_round_update_lag(struct commit_round *cr, struct part *pt)
{
    /* The high watermark as last fetched (no request), minus the committed
     * offset, or minus the first offset read when nothing was committed yet. */
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(cr->d.rk, pt->topic, pt->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
        return;
    int64_t base = pt->committed >= 0 ? pt->committed : pt->first_offset;
    if (base < 0)
        return;
    metric_set(pt->m_lag, (double)(hi > base ? hi - base : 0));
}

/* A commit refused because this member's generation is over: the group is
 * rebalancing or has moved on without it. The partition's next owner (this
 * instance after a rejoin, or another) reads from the last committed offset
 * and its replay cut rewrites the same file, so nothing is lost or doubled. */
static enum commit_answer answer_of(rd_kafka_resp_err_t e)
{
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return COMMIT_OK;
    if (e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
        e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ||
        (int)e == 113) /* STALE_MEMBER_EPOCH (KIP-848), not named before librdkafka 2.4 */
        return COMMIT_FENCED;
    return COMMIT_FAILED;
}

/* The answer to a commit request, synchronous or not: the ledger counts a
 * pending offset as committed only here (L3). */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque)
{
    (void)rk;
    struct commit_round *cr = opaque;
    double now = clock_mono_s();
    bool all_ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &offsets->elems[i];
        struct part *pt = registry_find(cr->parts, e->topic, e->partition);
        if (pt == NULL)
            continue; /* revoked meanwhile */
        rd_kafka_resp_err_t pe = e->err != RD_KAFKA_RESP_ERR_NO_ERROR ? e->err : err;
        bool answers = pt->slot.commit_sent && pt->slot.commit_pending == e->offset;
        double delay = ledger_commit_done(cr->ledger, &pt->slot, e->offset, answer_of(pe), now);
        if (!answers)
            continue; /* an answer to an older request */
        if (pe == RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_debug(cr->d.log, "committed %s [%d] at offset %lld", pt->topic, pt->partition,
                      (long long)e->offset);
            pt->committed = e->offset;
            metric_set(pt->m_committed, (double)e->offset);
            commit_round_update_lag(cr, pt);
            continue;
        }
        all_ok = false;
        log_error(cr->d.log, "commit of %s [%d] at offset %lld failed: %s (the data is stored; the "
                             "commit is retried in %.1f s before the partition's next file)",
                  pt->topic, pt->partition, (long long)e->offset, rd_kafka_err2str(pe), delay);
    }
    if (offsets == NULL && err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* No per-partition answer: every request outstanding failed. */
        ledger_commits_failed(cr->ledger, answer_of(err), now);
        log_error(cr->d.log, "commit failed: %s (the data is stored; the commit is retried)",
                  rd_kafka_err2str(err));
    }
    metric_count1(cr->d.m->commits, all_ok ? "ok" : "failed", 1);
}

/* The ledger's commit: one request for the slots' pending offsets. */
static void send_commits(void *ctx, struct ledger_slot *const *slots, size_t n)
{
    struct commit_round *cr = ctx;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        struct part *pt = part_of_slot(slots[i]);
        rd_kafka_topic_partition_list_add(list, pt->topic, pt->partition)->offset = slots[i]->commit_pending;
    }
    bool async = cr->commit_queue != NULL;
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(cr->d.rk, list, cr->commit_queue, on_commit, cr);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && async)
        on_commit(cr->d.rk, e, list, cr); /* refused before it was sent: no answer will come */
    rd_kafka_topic_partition_list_destroy(list);
}

static void submit(void *ctx, struct upload_job *job)
{
    struct commit_round *cr = ctx;
    uploader_submit(cr->d.uploader, job);
}

static const struct ledger_ops kafka_ledger_ops = {.submit = submit, .commit = send_commits};

/* Serves answers to asynchronous commits for up to timeout_ms. */
static void commit_round_serve(struct commit_round *cr, int timeout_ms)
{
    if (cr->commit_queue == NULL)
        return;
    while (rd_kafka_queue_poll_callback(cr->commit_queue, timeout_ms) > 0)
        timeout_ms = 0;
}

/* ---------- Prefect ---------- */

/* Asks Prefect for a run of the deployment over one stored data file. */
static void trigger(struct commit_round *cr, const char *table, const char *key, int64_t rows)
{
    if (cr->d.prefect == NULL)
        return;
    /* A trigger that just failed (after its own retries) says Prefect is down or
     * hanging: the next ones are skipped for a while, so a round never waits
     * on Prefect more than once and the consumer keeps turning. */
    if (clock_mono_s() < cr->prefect_resume_at) {
        metric_count2(cr->d.m->prefect, table, "skipped", 1);
        if (!cr->prefect_skip_logged) /* once per pause, not once per file */
            log_warn(cr->d.log, "Prefect triggers skipped for %d s, from %s: a trigger just failed "
                                "(data and commits are not affected)",
                     PREFECT_PAUSE_S, key);
        cr->prefect_skip_logged = true;
        return;
    }
    char err[1024];
    bool ok = prefect_trigger(cr->d.prefect, cr->d.cfg->minio_bucket, table, key, rows, err, sizeof err);
    metric_count2(cr->d.m->prefect, table, ok ? "ok" : "failed", 1);
    if (ok) {
        log_info(cr->d.log, "Prefect flow run requested for %s (%s)", table, key);
    } else {
        cr->prefect_resume_at = clock_mono_s() + PREFECT_PAUSE_S;
        cr->prefect_skip_logged = false;
        log_error(cr->d.log, "Prefect trigger for %s failed (data and commits are not affected): %s", table,
                  err);
    }
}

/* ---------- a round ---------- */

static bool failpoint(const struct commit_round *cr, const char *name)
{
    return cr->d.failpoint != NULL && strcmp(cr->d.failpoint, name) == 0;
}

/* The file at the flush's key is another writer's: it ends elsewhere. */
static bool theirs(const struct upload_job *j)
{
    return j->found_last >= 0 && j->found_last != j->last_offset;
}

/* A flush that came back not stored: given up (an encoding failure), or
 * kept for its retry. */
static void not_stored(struct commit_round *cr, struct flush *f, double now)
{
    struct part *pt = part_of_slot(f->slot);
    struct upload_job *j = &f->job;
    if (j->encode_failed) {
        log_error(cr->d.log, "%s [%d]: %s; its buffers are dropped uncommitted", pt->topic, pt->partition,
                  j->err);
        ledger_dropped(cr->ledger, f);
        cr->fatal = true; /* never commit past data that could not be written */
        return;
    }
    double delay = ledger_failed(cr->ledger, f, now);
    log_error(cr->d.log, "flush of %s [%d] (%s, %zu rows) failed, kept uncommitted, retrying in %.0f s: %s",
              pt->topic, pt->partition, f->reason, j->nrows, delay, j->err);
    metric_count1(cr->d.m->upload_failures, pt->topic, 1);
    health_store_result(cr->d.health, false, j->err);
}

static void count_stored(struct commit_round *cr, const struct flush *f, double now)
{
    const struct part *pt = part_of_slot(f->slot);
    const struct upload_job *j = &f->job;
    const struct pipeline_metrics *m = cr->d.m;
    health_store_result(cr->d.health, true, NULL);
    metric_count1(m->rows, pt->topic, (double)j->nrows);
    metric_count1(m->error_rows, pt->topic, (double)j->errors);
    metric_count1(m->raw_bytes, pt->topic, (double)f->message_bytes);
    metric_count1(m->parquet_bytes, pt->topic, (double)(j->data.len + j->error_data.len));
    if (j->key[0])
        metric_count2(m->files, pt->topic, "events", 1);
    if (j->error_key[0])
        metric_count2(m->files, pt->topic, "errors", 1);
    const char *topic_label[] = {pt->topic};
    double took = now - f->started;
    metric_observe(metric_series(m->flush_seconds, topic_label), took);
    metric_observe(metric_series(m->encode_seconds, topic_label), j->encode_seconds);
    metric_observe(metric_series(m->upload_seconds, topic_label), j->upload_seconds);
    log_info(cr->d.log, "flushed %s [%d] reason=%s rows=%zu refused=%zu message_bytes=%zu parquet_bytes=%zu "
                        "duration_ms=%.0f key=%s%s%s",
             pt->topic, pt->partition, f->reason, j->nrows, j->errors, f->message_bytes,
             j->data.len + j->error_data.len, took * 1000, j->key[0] ? j->key : "-",
             j->error_key[0] ? " errors_key=" : "", j->error_key);
    if (j->errors > 0)
        log_warn(cr->d.log, "%zu messages of %s [%d] were refused by the decoder and stored under %s",
                 j->errors, pt->topic, pt->partition, j->error_key);
}

/* A stored flush becomes its partition's pending commit. When the file at its
 * key is another writer's (a zombie's or an earlier owner's), that file holds
 * the offsets up to found_last: those are committed and the partition is read
 * again after them (P2: what it buffered or sealed after the flush follows
 * the wrong offset, so it goes now, before a commit answer or a flush could
 * store it; an earlier owner may have stored files after that one too, so the
 * probing starts again). */
static void stored(struct commit_round *cr, struct flush *f)
{
    struct part *pt = part_of_slot(f->slot);
    struct upload_job *j = &f->job;
    int64_t commit_next = f->commit_next;
    if (theirs(j)) {
        log_warn(cr->d.log, "%s [%d]: %s was already stored, up to offset %lld, by another writer: left as "
                            "it is; committing that and reading on from offset %lld",
                 pt->topic, pt->partition, j->key[0] ? j->key : j->error_key, (long long)j->found_last,
                 (long long)j->found_last + 1);
        metric_count1(cr->d.m->key_conflicts, pt->topic, 1);
        commit_next = j->found_last + 1;
        part_clear(cr->parts, pt);
        pt->cut_at = -1;
        pt->probing = true;
        part_set_restart(cr->parts, pt, j->found_last + 1);
    }
    ledger_stored(cr->ledger, f, commit_next);
}

/* A flush whose partition was revoked or lost while a worker held it came
 * back: it is never committed (the partition's new owner reads its offsets
 * again), but what became of it is said. */
static void orphan_back(struct commit_round *cr, const struct flush *f)
{
    const struct upload_job *j = &f->job;
    const char *key = j->key[0] ? j->key : j->error_key;
    if (!j->ok)
        log_warn(cr->d.log, "%s: not stored (%s); its partition was given up meanwhile, so it is dropped "
                            "uncommitted and the new owner reads it again",
                 key, j->err);
    else if (theirs(j))
        log_warn(cr->d.log, "%s was already stored, up to offset %lld, by another writer: left as it is "
                            "(its partition was given up meanwhile; nothing committed)",
                 key, (long long)j->found_last);
    else
        log_info(cr->d.log, "%s stored after its partition was given up: not committed (the new owner "
                            "finds it under its key)",
                 key);
}

int commit_round_run(struct commit_round *cr, int timeout_ms)
{
    size_t n = 0;
    for (struct upload_job *j = uploader_take(cr->d.uploader, timeout_ms); j != NULL;
         j = uploader_take(cr->d.uploader, 0)) {
        if (n == cr->done_cap) {
            cr->done_cap = cr->done_cap ? cr->done_cap * 2 : 64;
            cr->done = xrealloc(cr->done, cr->done_cap * sizeof *cr->done);
        }
        cr->done[n++] = flush_of(j);
    }
    if (n == 0) { /* the usual turn: nothing finished */
        commit_round_serve(cr, 0);
        return 0;
    }
    double now = clock_mono_s();
    size_t nstored = 0;
    for (size_t i = 0; i < n; i++) {
        struct flush *f = cr->done[i];
        if (f->slot == NULL) { /* its partition was given up meanwhile: nothing to commit */
            orphan_back(cr, f);
            ledger_dropped(cr->ledger, f);
        } else if (!f->job.ok) {
            not_stored(cr, f, now);
        } else {
            count_stored(cr, f, now);
            cr->done[nstored++] = f;
        }
    }
    /* One trigger per data file: its idempotency key comes from the file's
     * key alone, so a replay that rewrites the file, by this instance after
     * a crash or by a new owner, gets back the same run. A file another
     * writer stored under the key is triggered too (that writer may have died
     * before it could): it is the same run again, with that file's rows. */
    for (size_t i = 0; i < nstored; i++) {
        const struct upload_job *j = &cr->done[i]->job;
        if (j->key[0])
            trigger(cr, part_of_slot(cr->done[i]->slot)->table, j->key,
                    theirs(j) ? j->found_rows : (int64_t)j->nrows);
    }
    if (nstored > 0 && failpoint(cr, "kill-before-commit")) {
        log_warn(cr->d.log, "CDCW_FAILPOINT=kill-before-commit: killing the process after the upload");
        raise(SIGKILL);
    }
    for (size_t i = 0; i < nstored; i++) {
        struct ledger_slot *s = cr->done[i]->slot;
        stored(cr, cr->done[i]);
        if (failpoint(cr, "skip-commits") && s->commit_pending >= 0) {
            /* A test's stand-in for an earlier owner whose commits were lost:
             * each file counts as committed, and no request is sent. */
            ledger_assume_committed(cr->ledger, s);
        }
    }
    /* One commit request for every partition stored in this round. */
    ledger_send_commits(cr->ledger, now, false);
    commit_round_serve(cr, 0);
    assert(ledger_check(cr->ledger)); /* L1 to L5 */
    return (int)n;
}

bool commit_round_drain(struct commit_round *cr, struct part *const *parts, size_t n, double deadline)
{
    enum { WAITING, DONE, GIVEN_UP };
    struct { int state; bool retried, recommitted; } *w = xcalloc(n > 0 ? n : 1, sizeof *w);
    bool all_ok = true;
    for (size_t left = n; left > 0;) {
        bool uploading = false, committing = false, late = clock_mono_s() >= deadline;
        for (size_t i = 0; i < n; i++) {
            struct ledger_slot *s = &parts[i]->slot;
            if (w[i].state != WAITING)
                continue;
            bool retry = s->state == LEDGER_RETRY_WAIT;
            bool commit = s->state == LEDGER_COMMITTING && !s->commit_sent;
            if (!ledger_busy(s) || late || (retry && w[i].retried) || (commit && w[i].recommitted)) {
                w[i].state = ledger_busy(s) ? GIVEN_UP : DONE;
                all_ok = all_ok && w[i].state == DONE;
                left--;
                continue;
            }
            if (retry) {
                w[i].retried = true;
                ledger_retry_now(cr->ledger, s);
            } else if (commit) {
                w[i].recommitted = true;
                ledger_send_commit(cr->ledger, s); /* a synchronous one is answered here */
            }
            uploading = uploading || s->state == LEDGER_UPLOADING;
            committing = committing || s->commit_sent;
        }
        if (left == 0)
            break;
        commit_round_run(cr, uploading ? 200 : 0);
        if (committing)
            commit_round_serve(cr, 200);
        health_beat(cr->d.health); /* waiting on the store is progress, not a hang */
    }
    free(w);
    return all_ok;
}

/* ---------- set-up ---------- */

struct commit_round *commit_round_new(const struct commit_round_deps *d)
{
    struct commit_round *cr = xcalloc(1, sizeof *cr);
    cr->d = *d;
    cr->ledger = ledger_new(&kafka_ledger_ops, cr);
    if (d->cfg->kafka_commit_async)
        cr->commit_queue = rd_kafka_queue_new(d->rk);
    return cr;
}

void commit_round_free(struct commit_round *cr)
{
    if (cr == NULL)
        return;
    ledger_free(cr->ledger);
    if (cr->commit_queue != NULL)
        rd_kafka_queue_destroy(cr->commit_queue);
    free(cr->done);
    free(cr);
}

struct ledger *commit_round_ledger(struct commit_round *cr)
{
    return cr->ledger;
}

void commit_round_set_registry(struct commit_round *cr, struct registry *r)
{
    cr->parts = r;
}

bool commit_round_fatal(const struct commit_round *cr)
{
    return cr->fatal;
}
