/* ledger.c -- see ledger.h for the contract and the invariants L1 to L5. */
#include "ledger.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct ledger {
    const struct ledger_ops *ops;
    void *ctx;
    struct ledger_slot **slots;
    size_t nslots, slots_cap;
    struct flush **orphans; /* detached slots' flushes still with a worker */
    size_t norphans, orphans_cap;
    size_t buffered, unflushed;
    size_t in_workers, retries_waiting;
    size_t unsent;      /* slots committing whose request is not sent */
    double next_unsent; /* when the earliest of them is due (NEVER: none) */
};

#define NEVER 1e300

/* ---------- flushes ---------- */

struct flush *flush_new(const char *reason, double now)
{
    struct flush *f = xcalloc(1, sizeof *f);
    snprintf(f->reason, sizeof f->reason, "%s", reason);
    f->started = now;
    f->commit_next = -1;
    f->job.last_offset = -1;
    f->job.found_last = -1;
    f->job.found_rows = -1;
    return f;
}

void flush_free(struct flush *f)
{
    if (f == NULL)
        return;
    upload_job_clear(&f->job);
    free(f);
}

struct flush *flush_of(struct upload_job *job)
{
    return (struct flush *)(void *)((char *)job - offsetof(struct flush, job));
}

bool flush_has_files(const struct flush *f)
{
    return f->job.key[0] != '\0' || f->job.error_key[0] != '\0';
}

/* ---------- memory: one hold/release pair ---------- */

static void hold(struct ledger *l, size_t n)
{
    l->buffered += n;
}

static void release(struct ledger *l, size_t n)
{
    assert(l->buffered >= n); /* L5 */
    l->buffered -= n;
}

void ledger_charge(struct ledger *l, struct ledger_slot *s, size_t held)
{
    assert(l->unflushed >= s->held); /* L5 */
    release(l, s->held);
    l->unflushed -= s->held;
    hold(l, held);
    l->unflushed += held;
    s->held = held;
}

size_t ledger_buffered(const struct ledger *l)
{
    return l->buffered;
}

size_t ledger_unflushed(const struct ledger *l)
{
    return l->unflushed;
}

/* ---------- the ledger ---------- */

struct ledger *ledger_new(const struct ledger_ops *ops, void *ctx)
{
    struct ledger *l = xcalloc(1, sizeof *l);
    l->ops = ops;
    l->ctx = ctx;
    l->next_unsent = NEVER;
    return l;
}

void ledger_free(struct ledger *l)
{
    if (l == NULL)
        return;
    assert(l->in_workers == 0);
    while (l->nslots > 0)
        ledger_detach(l, l->slots[l->nslots - 1]);
    free(l->slots);
    free(l->orphans);
    free(l);
}

void ledger_attach(struct ledger *l, struct ledger_slot *s)
{
    memset(s, 0, sizeof *s);
    s->state = LEDGER_IDLE;
    s->commit_pending = -1;
    s->attached = true;
    if (l->nslots == l->slots_cap) {
        l->slots_cap = l->slots_cap ? l->slots_cap * 2 : 16;
        l->slots = xrealloc(l->slots, l->slots_cap * sizeof *l->slots);
    }
    s->index = l->nslots;
    l->slots[l->nslots++] = s;
}

bool ledger_busy(const struct ledger_slot *s)
{
    return s->state != LEDGER_IDLE || s->nsealed > 0;
}

/* The slot's commit of offset waits to be sent, at once. */
static void commit_pending(struct ledger *l, struct ledger_slot *s, int64_t offset)
{
    s->commit_pending = offset;
    s->commit_attempts = 0;
    s->commit_retry_at = 0;
    s->commit_sent = false;
    s->commit_fenced = false;
    s->state = LEDGER_COMMITTING;
    l->unsent++;
    l->next_unsent = 0;
}

/* Starts f on an idle slot: hands it to a worker, or, without files, commits
 * its offset at once (L4: nothing of the slot is in flight). */
static void start(struct ledger *l, struct ledger_slot *s, struct flush *f)
{
    assert(s->state == LEDGER_IDLE && s->inflight == NULL && s->commit_pending < 0); /* L1, L2 */
    if (!flush_has_files(f)) {
        int64_t next = f->commit_next;
        release(l, f->held);
        flush_free(f);
        if (next >= 0)
            commit_pending(l, s, next); /* sent by the caller, never from inside a commit answer */
        return;
    }
    f->slot = s;
    s->inflight = f;
    s->state = LEDGER_UPLOADING;
    l->in_workers++;
    l->ops->submit(l->ctx, &f->job);
}

/* Starts the oldest sealed flushes while the slot is idle (one with files
 * leaves it uploading; one without only commits). */
static void start_sealed(struct ledger *l, struct ledger_slot *s)
{
    while (s->nsealed > 0 && s->state == LEDGER_IDLE) {
        struct flush *f = s->sealed[0];
        memmove(s->sealed, s->sealed + 1, --s->nsealed * sizeof *s->sealed);
        start(l, s, f);
    }
}

void ledger_cut(struct ledger *l, struct ledger_slot *s, struct flush *f)
{
    assert(s->attached);
    f->held = s->held; /* the buffers' memory moves with them */
    l->unflushed -= s->held;
    s->held = 0;
    f->slot = s;
    if (!ledger_busy(s)) {
        start(l, s, f);
        ledger_send_commit(l, s); /* when it had no files */
        return;
    }
    if (s->nsealed == s->sealed_cap) {
        s->sealed_cap = s->sealed_cap ? s->sealed_cap * 2 : 4;
        s->sealed = xrealloc(s->sealed, s->sealed_cap * sizeof *s->sealed);
    }
    s->sealed[s->nsealed++] = f;
}

void ledger_drop_unsubmitted(struct ledger *l, struct ledger_slot *s)
{
    for (size_t i = 0; i < s->nsealed; i++) {
        release(l, s->sealed[i]->held);
        flush_free(s->sealed[i]);
    }
    s->nsealed = 0;
    ledger_charge(l, s, 0);
}

void ledger_reset(struct ledger *l, struct ledger_slot *s)
{
    ledger_drop_unsubmitted(l, s);
    struct flush *f = s->inflight;
    if (f != NULL && s->state == LEDGER_RETRY_WAIT) {
        l->retries_waiting--;
        release(l, f->held);
        flush_free(f);
    } else if (f != NULL) { /* with a worker: freed when it comes back */
        f->slot = NULL;
        if (l->norphans == l->orphans_cap) {
            l->orphans_cap = l->orphans_cap ? l->orphans_cap * 2 : 8;
            l->orphans = xrealloc(l->orphans, l->orphans_cap * sizeof *l->orphans);
        }
        l->orphans[l->norphans++] = f;
    }
    s->inflight = NULL;
    if (s->state == LEDGER_COMMITTING && !s->commit_sent)
        l->unsent--;
    s->commit_pending = -1; /* never acknowledged: the next owner reads it again */
    s->commit_sent = false;
    s->commit_fenced = false;
    s->state = LEDGER_IDLE;
}

void ledger_detach(struct ledger *l, struct ledger_slot *s)
{
    if (!s->attached)
        return;
    ledger_reset(l, s);
    free(s->sealed);
    s->sealed = NULL;
    s->sealed_cap = 0;
    l->slots[s->index] = l->slots[--l->nslots];
    l->slots[s->index]->index = s->index;
    s->attached = false;
}

/* ---------- what comes back from the workers ---------- */

/* f is no longer with a worker. */
static void returned(struct ledger *l, struct flush *f)
{
    assert(l->in_workers > 0);
    l->in_workers--;
    if (f->slot != NULL) {
        assert(f->slot->inflight == f && f->slot->state == LEDGER_UPLOADING); /* L1 */
        return;
    }
    for (size_t i = 0; i < l->norphans; i++) {
        if (l->orphans[i] == f) {
            l->orphans[i] = l->orphans[--l->norphans];
            return;
        }
    }
    assert(!"an orphaned flush the ledger does not know");
}

void ledger_stored(struct ledger *l, struct flush *f, int64_t commit_next)
{
    returned(l, f);
    struct ledger_slot *s = f->slot;
    assert(s != NULL); /* an orphan is dropped, never committed */
    for (size_t i = 0; i < s->nsealed; i++) /* L4 */
        assert(s->sealed[i]->commit_next < 0 || s->sealed[i]->commit_next > commit_next ||
               !flush_has_files(s->sealed[i]));
    s->inflight = NULL;
    release(l, f->held);
    flush_free(f);
    s->state = LEDGER_IDLE;
    if (commit_next >= 0) {
        commit_pending(l, s, commit_next);
    } else {
        start_sealed(l, s);
    }
}

double ledger_failed(struct ledger *l, struct flush *f, double now)
{
    returned(l, f);
    assert(f->slot != NULL);
    f->attempts++;
    double delay = f->attempts < 5 ? (double)(1 << f->attempts) : 30.0; /* 2, 4, 8, 16, 30 ... */
    f->retry_at = now + delay;
    f->slot->state = LEDGER_RETRY_WAIT;
    l->retries_waiting++;
    return delay;
}

void ledger_dropped(struct ledger *l, struct flush *f)
{
    returned(l, f);
    struct ledger_slot *s = f->slot;
    release(l, f->held);
    flush_free(f);
    if (s == NULL)
        return;
    s->inflight = NULL;
    s->state = LEDGER_IDLE; /* what came after it may not be committed past it: the caller stops */
}

/* ---------- retries ---------- */

static void resubmit(struct ledger *l, struct ledger_slot *s)
{
    assert(s->state == LEDGER_RETRY_WAIT && s->commit_pending < 0); /* L2 */
    s->inflight->retry_at = 0;
    s->state = LEDGER_UPLOADING;
    l->retries_waiting--;
    l->in_workers++;
    l->ops->submit(l->ctx, &s->inflight->job);
}

void ledger_retry_due(struct ledger *l, double now, bool force)
{
    for (size_t i = 0; i < l->nslots && l->retries_waiting > 0; i++) {
        struct ledger_slot *s = l->slots[i];
        if (s->state == LEDGER_RETRY_WAIT && (force || now >= s->inflight->retry_at))
            resubmit(l, s);
    }
}

bool ledger_retry_now(struct ledger *l, struct ledger_slot *s)
{
    if (s->state != LEDGER_RETRY_WAIT)
        return false;
    resubmit(l, s);
    return true;
}

size_t ledger_retries_waiting(const struct ledger *l)
{
    return l->retries_waiting;
}

/* ---------- commits ---------- */

static void send(struct ledger *l, struct ledger_slot **due, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert(due[i]->state == LEDGER_COMMITTING && !due[i]->commit_sent);
        due[i]->commit_sent = true;
        l->unsent--;
    }
    if (n > 0)
        l->ops->commit(l->ctx, due, n); /* answers may come back before it returns */
}

void ledger_send_commits(struct ledger *l, double now, bool force)
{
    if (l->unsent == 0 || (!force && now < l->next_unsent))
        return; /* the usual turn */
    l->next_unsent = NEVER;
    struct ledger_slot **due = xmalloc(l->unsent * sizeof *due); /* at most every unsent one */
    size_t n = 0;
    for (size_t i = 0; i < l->nslots; i++) {
        struct ledger_slot *s = l->slots[i];
        if (s->state != LEDGER_COMMITTING || s->commit_sent)
            continue;
        if (force || s->commit_retry_at == 0 || now >= s->commit_retry_at)
            due[n++] = s;
        else if (s->commit_retry_at < l->next_unsent)
            l->next_unsent = s->commit_retry_at; /* still backing off */
    }
    send(l, due, n);
    free(due);
}

void ledger_send_commit(struct ledger *l, struct ledger_slot *s)
{
    if (s->state == LEDGER_COMMITTING && !s->commit_sent)
        send(l, &s, 1);
}

/* Backoff of a failed commit: 0.5 s doubling to 16 s. */
static double commit_backoff(int attempts)
{
    return attempts >= 6 ? 16.0 : 0.25 * (double)(1 << attempts);
}

static double commit_failed(struct ledger *l, struct ledger_slot *s, enum commit_answer a, double now)
{
    s->commit_sent = false;
    s->commit_fenced = a == COMMIT_FENCED;
    double delay = commit_backoff(++s->commit_attempts);
    s->commit_retry_at = now + delay;
    l->unsent++;
    if (s->commit_retry_at < l->next_unsent)
        l->next_unsent = s->commit_retry_at;
    return delay;
}

double ledger_commit_done(struct ledger *l, struct ledger_slot *s, int64_t offset,
                          enum commit_answer a, double now)
{
    if (!s->attached || !s->commit_sent || s->commit_pending != offset)
        return 0; /* an answer to an older request */
    if (a != COMMIT_OK)
        return commit_failed(l, s, a, now);
    s->commit_sent = false;
    s->commit_pending = -1; /* L3: acknowledged */
    s->commit_attempts = 0;
    s->commit_fenced = false;
    s->state = LEDGER_IDLE;
    start_sealed(l, s);
    return 0;
}

void ledger_assume_committed(struct ledger *l, struct ledger_slot *s)
{
    if (s->state != LEDGER_COMMITTING || s->commit_sent)
        return;
    s->commit_sent = true;
    l->unsent--;
    ledger_commit_done(l, s, s->commit_pending, COMMIT_OK, 0);
}

void ledger_commits_failed(struct ledger *l, enum commit_answer a, double now)
{
    for (size_t i = 0; i < l->nslots; i++)
        if (l->slots[i]->commit_sent)
            commit_failed(l, l->slots[i], a, now);
}

size_t ledger_in_workers(const struct ledger *l)
{
    return l->in_workers;
}

/* ---------- the invariants ---------- */

bool ledger_check(const struct ledger *l)
{
    bool ok = true;
#define CHECK(c) ok = ok && (c)
    size_t held = 0, unflushed = 0, workers = l->norphans, retries = 0, unsent = 0;
    for (size_t i = 0; i < l->norphans; i++) {
        CHECK(l->orphans[i]->slot == NULL);
        held += l->orphans[i]->held;
    }
    for (size_t i = 0; i < l->nslots; i++) {
        const struct ledger_slot *s = l->slots[i];
        CHECK(s->attached && s->index == i);
        unflushed += s->held;
        held += s->held;
        /* L1: the state names what inflight holds. */
        bool flying = s->state == LEDGER_UPLOADING || s->state == LEDGER_RETRY_WAIT;
        CHECK(flying == (s->inflight != NULL));
        if (s->inflight != NULL) {
            CHECK(s->inflight->slot == s);
            held += s->inflight->held;
            workers += s->state == LEDGER_UPLOADING;
            retries += s->state == LEDGER_RETRY_WAIT;
        }
        /* L2: a pending commit and a flush in flight never go together. */
        CHECK((s->state == LEDGER_COMMITTING) == (s->commit_pending >= 0));
        CHECK(!s->commit_sent || s->state == LEDGER_COMMITTING);
        unsent += s->state == LEDGER_COMMITTING && !s->commit_sent;
        for (size_t k = 0; k < s->nsealed; k++) {
            const struct flush *f = s->sealed[k];
            CHECK(f != s->inflight && f->slot == s); /* L1 */
            held += f->held;
            /* L4: sealed offsets follow the pending commit and the flush in flight. */
            if (f->commit_next >= 0 && s->commit_pending >= 0)
                CHECK(f->commit_next > s->commit_pending);
            if (f->commit_next >= 0 && s->inflight != NULL && s->inflight->commit_next >= 0)
                CHECK(f->commit_next > s->inflight->commit_next);
        }
    }
    CHECK(held == l->buffered);       /* L5 */
    CHECK(unflushed == l->unflushed); /* L5 */
    CHECK(workers == l->in_workers);
    CHECK(retries == l->retries_waiting);
    CHECK(unsent == l->unsent);
#undef CHECK
    return ok;
}
