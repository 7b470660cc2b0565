/* uploader.h -- uploads finished files on worker threads, so consuming goes
 * on while the object store works.
 *
 * Contract
 * - Each worker owns its own object_store client (and connection). A job
 *   holds the column buffers of one flush (rows and/or refused messages);
 *   the worker encodes them as Parquet (the first time), stores the data file
 *   then the errors file, each with the metadata cdc-last-offset (the Kafka
 *   offset of the flush's last message), and sets ok, or err on failure. A retried job
 *   uploads the files it encoded before.
 * - With conditional_writes, a file is written only where its key is free;
 *   where it is taken, found_last tells what the file there holds.
 * - Jobs are taken in submission order; completed jobs come back through
 *   uploader_take() in completion order, which for different jobs may differ:
 *   the caller keeps at most one job per partition in flight.
 * - The caller owns a job again once uploader_take() returned it.
 */
#ifndef CDCW_UPLOADER_H
#define CDCW_UPLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error_batch.h"
#include "object_store.h"
#include "parquet.h"
#include "row_batch.h"

/* The metadata names under which each stored file carries its last offset
 * and how many rows it holds. */
#define UPLOAD_META_LAST_OFFSET "cdc-last-offset"
#define UPLOAD_META_ROWS "cdc-rows"

/* What a worker reads and writes; the caller's bookkeeping of a flush lives
 * elsewhere (ledger.h embeds the job in its struct flush). */
struct upload_job {
    char key[1024], error_key[1024]; /* "" when there is no such file */
    struct row_batch *rows;          /* encoded into data, then freed */
    struct error_batch *error_rows;  /* encoded into error_data, then freed */
    const struct pq_options *pq;
    int64_t last_offset; /* of the flush's last message: stored as cdc-last-offset metadata */
    size_t nrows, errors; /* stored as each file's cdc-rows metadata */
    /* With conditional writes: -1 when the files were written; else their key
     * was taken, nothing was written, and this is the last offset the file
     * there holds (ok is set: those offsets are stored). */
    int64_t found_last;
    int64_t found_rows; /* then: the rows of the data file there (-1: not recorded) */
    struct buf data, error_data;
    bool ok;
    bool encode_failed; /* a bug, not a store failure: never retried */
    double encode_seconds, upload_seconds; /* of the last attempt */
    char err[2048];
    struct upload_job *next; /* the uploader's queues */
};

struct uploader;

/* notify(ctx), when not NULL, is called from a worker thread after each job
 * completes (to wake a consumer blocked in poll). */
struct uploader *uploader_new(const struct object_store_config *cfg, int threads,
                              void (*notify)(void *ctx), void *ctx, char *err, size_t errlen);
/* Finishes the jobs already submitted, then stops the workers. Jobs done and
 * not taken back are freed with upload_job_free(): a caller whose jobs live
 * inside its own structs (the pipeline's) takes every job back first. */
void uploader_free(struct uploader *u);

void uploader_submit(struct uploader *u, struct upload_job *job);
/* A completed job, or NULL: waits up to timeout_ms (0: does not wait). */
struct upload_job *uploader_take(struct uploader *u, int timeout_ms);

/* Frees what the job holds (buffers, files), not the job itself. */
void upload_job_clear(struct upload_job *job);
/* upload_job_clear(), then frees a job allocated on its own. */
void upload_job_free(struct upload_job *job);

#endif
