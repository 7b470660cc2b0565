/* uploader.c -- see uploader.h. */
#include "uploader.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "thread_name.h"
#include "xalloc.h"

struct worker {
    struct uploader *u;
    struct object_store *store;
    pthread_t thread;
};

struct uploader {
    bool conditional; /* files are written only where their key is free */
    pthread_mutex_t lock;
    pthread_cond_t work, done_cond;
    struct upload_job *todo_head, *todo_tail, *done_head, *done_tail;
    bool stopping;
    struct worker *workers;
    int nworkers;
    void (*notify)(void *ctx);
    void *notify_ctx;
};

static void push(struct upload_job **head, struct upload_job **tail, struct upload_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static struct upload_job *pop(struct upload_job **head, struct upload_job **tail)
{
    struct upload_job *j = *head;
    if (j) {
        *head = j->next;
        if (*head == NULL)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static bool buf_sink(void *ctx, const void *data, size_t len)
{
    buf_append(ctx, data, len);
    return true;
}

/* Stores one file. Conditionally: when its key is taken, the file there is
 * read for the last offset it holds (*found_last), and nothing is written.
 * A file written before this one without that metadata cannot be placed: an
 * error, retried, so a person can look. */
static bool store_file(struct worker *w, struct upload_job *j, const char *key, const struct buf *data,
                       const struct object_meta *meta, size_t nmeta, int64_t *found_last)
{
    *found_last = -1;
    if (!w->u->conditional)
        return object_store_put_meta(w->store, key, data->data, data->len, meta, nmeta, j->err, sizeof j->err);
    enum object_put_result r =
        object_store_put_new(w->store, key, data->data, data->len, meta, nmeta, j->err, sizeof j->err);
    if (r != OBJECT_PUT_EXISTS)
        return r == OBJECT_PUT_STORED;
    bool found = false;
    char value[32];
    if (!object_store_head(w->store, key, UPLOAD_META_LAST_OFFSET, &found, value, sizeof value, j->err,
                           sizeof j->err))
        return false;
    char *end = NULL;
    long long last = found ? strtoll(value, &end, 10) : -1;
    if (!found || end == value || *end != '\0' || last < 0) {
        snprintf(j->err, sizeof j->err, "%s exists%s without %s metadata: cannot tell which offsets it "
                 "holds, so it is not overwritten", key, found ? "" : " (then vanished)", UPLOAD_META_LAST_OFFSET);
        return false;
    }
    *found_last = last;
    /* Its row count, for the Prefect run of that file (older files lack it). */
    j->found_rows = -1;
    if (object_store_head(w->store, key, UPLOAD_META_ROWS, &found, value, sizeof value, j->err,
                          sizeof j->err) && found) {
        long long rows = strtoll(value, &end, 10);
        if (end != value && *end == '\0' && rows >= 0)
            j->found_rows = rows;
    }
    j->err[0] = '\0';
    return true;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct uploader *u = w->u;
    thread_name_set("cdcw-upload");
    for (;;) {
        pthread_mutex_lock(&u->lock);
        while (u->todo_head == NULL && !u->stopping)
            pthread_cond_wait(&u->work, &u->lock);
        struct upload_job *j = pop(&u->todo_head, &u->todo_tail);
        pthread_mutex_unlock(&u->lock);
        if (j == NULL)
            return NULL; /* stopping, nothing left */
        j->err[0] = '\0';
        j->ok = true;
        char why[512];
        double t0 = clock_mono_s();
        bool encoding = j->rows != NULL || j->error_rows != NULL; /* not on a retry */
        if (j->rows != NULL) {
            j->ok = row_batch_write(j->rows, j->pq, buf_sink, &j->data, why, sizeof why);
            row_batch_free(j->rows);
            j->rows = NULL;
        }
        if (j->ok && j->error_rows != NULL) {
            j->ok = error_batch_write(j->error_rows, j->pq, buf_sink, &j->error_data, why, sizeof why);
            error_batch_free(j->error_rows);
            j->error_rows = NULL;
        }
        if (!j->ok) {
            snprintf(j->err, sizeof j->err, "encoding: %s", why);
            j->encode_failed = true;
        }
        double t1 = clock_mono_s();
        if (encoding)
            j->encode_seconds = t1 - t0;
        char last[24], nrows[24], nerrors[24];
        snprintf(last, sizeof last, "%lld", (long long)j->last_offset);
        snprintf(nrows, sizeof nrows, "%zu", j->nrows);
        snprintf(nerrors, sizeof nerrors, "%zu", j->errors);
        const struct object_meta meta[] = {{UPLOAD_META_LAST_OFFSET, last}, {UPLOAD_META_ROWS, nrows}};
        const struct object_meta error_meta[] = {{UPLOAD_META_LAST_OFFSET, last}, {UPLOAD_META_ROWS, nerrors}};
        j->found_last = -1;
        j->found_rows = -1;
        if (j->ok && j->key[0])
            j->ok = store_file(w, j, j->key, &j->data, meta, 2, &j->found_last);
        /* When the data file there ends elsewhere, the caller reads on from
         * its end, refused messages included: this errors file is not written. */
        int64_t errors_last = -1;
        bool data_as_is = j->found_last < 0 || j->found_last == j->last_offset;
        if (j->ok && j->error_key[0] && data_as_is)
            j->ok = store_file(w, j, j->error_key, &j->error_data, error_meta, 2, &errors_last);
        if (j->ok && !j->key[0])
            j->found_last = errors_last; /* an errors-only flush: its file decides */
        j->upload_seconds = clock_mono_s() - t1;
        pthread_mutex_lock(&u->lock);
        push(&u->done_head, &u->done_tail, j);
        pthread_cond_signal(&u->done_cond);
        pthread_mutex_unlock(&u->lock);
        if (u->notify != NULL)
            u->notify(u->notify_ctx);
    }
}

struct uploader *uploader_new(const struct object_store_config *cfg, int threads,
                              void (*notify)(void *ctx), void *ctx, char *err, size_t errlen)
{
    struct uploader *u = xcalloc(1, sizeof *u);
    u->notify = notify;
    u->notify_ctx = ctx;
    u->conditional = cfg->conditional_writes;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->work, NULL);
    pthread_cond_init(&u->done_cond, NULL);
    u->workers = xcalloc((size_t)threads, sizeof *u->workers);
    for (int i = 0; i < threads; i++) {
        struct worker *w = &u->workers[i];
        w->u = u;
        w->store = object_store_new(cfg, err, errlen);
        if (w->store == NULL || pthread_create(&w->thread, NULL, work, w) != 0) {
            object_store_free(w->store);
            w->store = NULL;
            uploader_free(u);
            return NULL;
        }
        u->nworkers++;
    }
    return u;
}

void uploader_free(struct uploader *u)
{
    if (u == NULL)
        return;
    pthread_mutex_lock(&u->lock);
    u->stopping = true;
    pthread_cond_broadcast(&u->work);
    pthread_mutex_unlock(&u->lock);
    for (int i = 0; i < u->nworkers; i++) {
        pthread_join(u->workers[i].thread, NULL);
        object_store_free(u->workers[i].store);
    }
    struct upload_job *j;
    while ((j = pop(&u->done_head, &u->done_tail)) != NULL)
        upload_job_free(j);
    free(u->workers);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->work);
    pthread_cond_destroy(&u->done_cond);
    free(u);
}

void uploader_submit(struct uploader *u, struct upload_job *job)
{
    pthread_mutex_lock(&u->lock);
    push(&u->todo_head, &u->todo_tail, job);
    pthread_cond_signal(&u->work);
    pthread_mutex_unlock(&u->lock);
}

struct upload_job *uploader_take(struct uploader *u, int timeout_ms)
{
    pthread_mutex_lock(&u->lock);
    if (u->done_head == NULL && timeout_ms > 0) {
        struct timespec until = clock_deadline(CLOCK_REALTIME, timeout_ms);
        while (u->done_head == NULL) {
            if (pthread_cond_timedwait(&u->done_cond, &u->lock, &until) == ETIMEDOUT)
                break;
        }
    }
    struct upload_job *j = pop(&u->done_head, &u->done_tail);
    pthread_mutex_unlock(&u->lock);
    return j;
}

void upload_job_clear(struct upload_job *job)
{
    row_batch_free(job->rows);
    error_batch_free(job->error_rows);
    job->rows = NULL;
    job->error_rows = NULL;
    buf_free(&job->data);
    buf_free(&job->error_data);
}

void upload_job_free(struct upload_job *job)
{
    if (job == NULL)
        return;
    upload_job_clear(job);
    free(job);
}
