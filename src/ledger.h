/* ledger.h -- the flush ledger: each partition's flushes, from the cut of a
 * batch to the acknowledgement of its commit, and the memory they hold.
 *
 * Contract
 * - A partition's delivery state is a struct ledger_slot, embedded in the
 *   caller's partition and attached to the ledger. Its named states:
 *     LEDGER_IDLE        nothing in flight, no commit pending;
 *     LEDGER_UPLOADING   one flush is with the uploader's workers;
 *     LEDGER_RETRY_WAIT  that flush failed and waits for its retry;
 *     LEDGER_COMMITTING  the slot's last flush is stored, its commit not yet
 *                        acknowledged.
 *   Whatever the state, batches cut meanwhile wait, sealed, in the slot's
 *   queue, oldest first; each goes once the slot is idle again.
 *   A slot detached (its partition revoked or lost) while a worker holds its
 *   flush leaves that flush orphaned: when it comes back it is freed, and
 *   nothing is committed for it.
 * - Memory: ledger_charge() sets what a slot's partition buffers hold; a cut
 *   moves that into the flush, which holds it until it is stored or dropped.
 *   ledger_buffered() is the sum over slots and flushes (sealed, in flight,
 *   orphaned), ledger_unflushed() the part still in partition buffers.
 * - No I/O: flushes go to ops->submit, commit requests to ops->commit; the
 *   caller reports what comes back (ledger_stored(), ledger_failed(),
 *   ledger_dropped(), ledger_commit_done()).
 * - Threads: the consumer thread only.
 *
 * The invariants the delivery guarantee rests on; ledger_check() tells
 * whether they all hold (the sanitizer build asserts it after every commit
 * round), and the transitions assert the ones they touch:
 * L1. A slot has at most one flush in flight (inflight, uploading or waiting
 *     for its retry); every other flush of it is sealed, and none is both.
 * L2. No flush of a slot is handed to a worker while its commit is pending:
 *     at most one stored file of a partition is uncommitted at any time, and
 *     a failed commit is retried before anything newer of it is written.
 * L3. An offset counts as committed only in ledger_commit_done() with
 *     COMMIT_OK, once the broker acknowledged it.
 * L4. A slot's pending commit never passes data that is not stored: it is
 *     set only from a stored flush (or a cut without files while nothing is
 *     in flight), and every sealed flush's offsets come after it.
 * L5. ledger_buffered() == the sum of slot.held and of the held of every
 *     flush not freed; ledger_unflushed() == the sum of slot.held.
 */
#ifndef CDCW_LEDGER_H
#define CDCW_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uploader.h"

enum ledger_state { LEDGER_IDLE, LEDGER_UPLOADING, LEDGER_RETRY_WAIT, LEDGER_COMMITTING };

struct flush;

/* Fields are read-only outside ledger.c. */
struct ledger_slot {
    enum ledger_state state;
    struct flush *inflight;      /* uploading or waiting for a retry */
    struct flush **sealed;       /* cut meanwhile, oldest first */
    size_t nsealed, sealed_cap;
    size_t held;                 /* what the partition's buffers hold */
    int64_t commit_pending;      /* a stored flush's offset, not acknowledged (-1: none) */
    bool commit_sent;            /* its request awaits an answer */
    double commit_retry_at;      /* after a failure: when to send it again (0: at once) */
    int commit_attempts;
    bool commit_fenced;          /* its last refusal said the group moved on */
    bool attached;
    size_t index;                /* in the ledger's list while attached */
};

/* One flush: the upload a worker reads and writes, and the ledger's own
 * bookkeeping of it. */
struct flush {
    struct upload_job job;
    struct ledger_slot *slot; /* NULL once orphaned */
    char reason[32];
    size_t message_bytes, held;
    int64_t commit_next; /* committed once the flush is stored (-1: nothing to commit) */
    double started, retry_at;
    int attempts;
};

struct flush *flush_new(const char *reason, double now);
void flush_free(struct flush *f);
/* The flush a job returned by the uploader belongs to. */
struct flush *flush_of(struct upload_job *job);
/* Whether the flush has files to store (a cut of tombstones only has none). */
bool flush_has_files(const struct flush *f);

struct ledger_ops {
    void (*submit)(void *ctx, struct upload_job *job);
    /* Sends one commit request for the slots' commit_pending; each answer
     * comes back through ledger_commit_done(), before or after this returns. */
    void (*commit)(void *ctx, struct ledger_slot *const *slots, size_t n);
};

struct ledger;

struct ledger *ledger_new(const struct ledger_ops *ops, void *ctx);
/* Frees the sealed and waiting flushes; none may be with a worker. */
void ledger_free(struct ledger *l);

void ledger_attach(struct ledger *l, struct ledger_slot *s);
/* Drops everything of the slot not with a worker (sealed flushes, a flush
 * waiting for its retry, buffers, the pending commit: none of it committed)
 * and orphans a flush a worker holds; the slot is idle again. */
void ledger_reset(struct ledger *l, struct ledger_slot *s);
/* ledger_reset(), and the slot leaves the ledger. */
void ledger_detach(struct ledger *l, struct ledger_slot *s);

void ledger_charge(struct ledger *l, struct ledger_slot *s, size_t held);
size_t ledger_buffered(const struct ledger *l);
size_t ledger_unflushed(const struct ledger *l);

/* A flush in flight, a commit pending or a sealed batch. */
bool ledger_busy(const struct ledger_slot *s);

/* The slot's buffers went into f (the caller filled f->job, commit_next and
 * message_bytes): f takes over their memory. An idle slot starts it at once
 * (a flush without files only commits); a busy one seals it. */
void ledger_cut(struct ledger *l, struct ledger_slot *s, struct flush *f);
/* Drops the slot's sealed flushes and buffered memory (never committed). */
void ledger_drop_unsubmitted(struct ledger *l, struct ledger_slot *s);

/* A flush came back from its worker. For an orphaned one, only
 * ledger_dropped() applies. */
/* Stored: commit_next becomes the slot's pending commit (sent by
 * ledger_send_commits()); f is freed. */
void ledger_stored(struct ledger *l, struct flush *f, int64_t commit_next);
/* Not stored: f waits for its retry; returns the delay in seconds (2, 4, 8,
 * 16, then 30). */
double ledger_failed(struct ledger *l, struct flush *f, double now);
/* Given up (it can never be stored, or it is orphaned): f is freed. */
void ledger_dropped(struct ledger *l, struct flush *f);

/* Hands back to the workers the flushes whose retry is due (all of them
 * with force); ledger_retry_now() the one of a slot. */
void ledger_retry_due(struct ledger *l, double now, bool force);
bool ledger_retry_now(struct ledger *l, struct ledger_slot *s);
size_t ledger_retries_waiting(const struct ledger *l);

/* Sends, in one request, every pending commit not awaiting an answer whose
 * backoff is over (all of them with force). Without one due it returns at
 * once. ledger_send_commit() sends one slot's. */
void ledger_send_commits(struct ledger *l, double now, bool force);
void ledger_send_commit(struct ledger *l, struct ledger_slot *s);

enum commit_answer { COMMIT_OK, COMMIT_FAILED, COMMIT_FENCED };
/* The broker's answer to a commit of offset: ignored unless it answers the
 * slot's pending commit. On COMMIT_OK the slot's next sealed flush starts
 * (one without files leaves its commit for the next ledger_send_commits()).
 * Returns the backoff before the commit is sent again (0 when none). */
double ledger_commit_done(struct ledger *l, struct ledger_slot *s, int64_t offset,
                          enum commit_answer a, double now);
/* Counts the slot's pending commit as acknowledged, with no request: the
 * tests' "skip-commits" failpoint, an earlier owner whose commits were lost. */
void ledger_assume_committed(struct ledger *l, struct ledger_slot *s);
/* The slots whose commit request awaits an answer get `a` (a request
 * refused as a whole). */
void ledger_commits_failed(struct ledger *l, enum commit_answer a, double now);

/* Flushes with a worker (orphans included). */
size_t ledger_in_workers(const struct ledger *l);

/* Whether L1 to L5 hold over every slot and flush (a walk over all of
 * them: the sanitizer build asserts it after each commit round). */
bool ledger_check(const struct ledger *l);

#endif
