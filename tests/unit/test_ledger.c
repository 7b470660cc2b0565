/* Unit tests of ledger.c with a fake uploader and a fake broker: the test
 * plays both, deciding when each flush comes back and how each commit is
 * answered, and checks the invariants after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger.h"

enum { MAX_JOBS = 256, MAX_COMMITS = 1024, NSLOTS = 4 };

/* The fake: what was submitted and not yet returned, and every commit sent. */
struct fake {
    struct upload_job *jobs[MAX_JOBS];
    size_t njobs;
    struct { struct ledger_slot *slot; int64_t offset; } commits[MAX_COMMITS];
    size_t ncommits;
    size_t submitted;
};

static void fake_submit(void *ctx, struct upload_job *job)
{
    struct fake *f = ctx;
    assert_true(f->njobs < MAX_JOBS);
    f->jobs[f->njobs++] = job;
    f->submitted++;
}

static void fake_commit(void *ctx, struct ledger_slot *const *slots, size_t n)
{
    struct fake *f = ctx;
    for (size_t i = 0; i < n; i++) {
        assert_true(f->ncommits < MAX_COMMITS);
        f->commits[f->ncommits].slot = slots[i];
        f->commits[f->ncommits++].offset = slots[i]->commit_pending;
    }
}

static const struct ledger_ops fake_ops = {.submit = fake_submit, .commit = fake_commit};

/* Takes back the job of slot s (the fake's worker finished it). */
static struct flush *take(struct fake *fk, const struct ledger_slot *s)
{
    for (size_t i = 0; i < fk->njobs; i++) {
        struct flush *f = flush_of(fk->jobs[i]);
        if (f->slot == s) {
            fk->jobs[i] = fk->jobs[--fk->njobs];
            return f;
        }
    }
    return NULL;
}

static size_t jobs_of(const struct fake *fk, const struct ledger_slot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < fk->njobs; i++)
        n += flush_of(fk->jobs[i])->slot == s;
    return n;
}

/* A cut of the slot's buffers: offsets [first, next) and held bytes. */
static void cut(struct ledger *l, struct ledger_slot *s, int64_t first, int64_t next, size_t held)
{
    ledger_charge(l, s, held);
    struct flush *f = flush_new("test", 0);
    snprintf(f->job.key, sizeof f->job.key, "cdc_events/t/o%lld", (long long)first);
    f->job.last_offset = next - 1;
    f->commit_next = next;
    ledger_cut(l, s, f);
    assert_true(ledger_check(l));
}

static void one_upload_in_flight_per_partition(void **state)
{
    (void)state;
    struct fake fk = {0};
    struct ledger *l = ledger_new(&fake_ops, &fk);
    struct ledger_slot s;
    ledger_attach(l, &s);
    cut(l, &s, 0, 10, 100);
    cut(l, &s, 10, 20, 50); /* a day change while the first is uploading */
    cut(l, &s, 20, 30, 70);
    assert_int_equal(jobs_of(&fk, &s), 1);
    assert_int_equal(s.state, LEDGER_UPLOADING);
    assert_int_equal(s.nsealed, 2);
    assert_int_equal(ledger_buffered(l), 220);

    ledger_stored(l, take(&fk, &s), 10);
    ledger_send_commits(l, 0, false);
    assert_true(ledger_check(l));
    /* Stored, not acknowledged: nothing newer goes to a worker (L2). */
    assert_int_equal(jobs_of(&fk, &s), 0);
    assert_int_equal(fk.ncommits, 1);
    assert_int_equal(fk.commits[0].offset, 10);
    assert_int_equal(ledger_buffered(l), 120);

    ledger_commit_done(l, &s, 10, COMMIT_OK, 0);
    assert_true(ledger_check(l));
    assert_int_equal(jobs_of(&fk, &s), 1); /* the oldest sealed one, and only it */
    assert_int_equal(s.nsealed, 1);
    assert_int_equal(flush_of(fk.jobs[0])->commit_next, 20);
    ledger_detach(l, &s);
    ledger_dropped(l, take(&fk, NULL)); /* orphaned: freed, never committed */
    assert_int_equal(ledger_buffered(l), 0);
    assert_int_equal(fk.ncommits, 1);
    ledger_free(l);
}

static void a_failed_commit_is_retried_before_the_next_file(void **state)
{
    (void)state;
    struct fake fk = {0};
    struct ledger *l = ledger_new(&fake_ops, &fk);
    struct ledger_slot s;
    ledger_attach(l, &s);
    cut(l, &s, 0, 5, 10);
    ledger_stored(l, take(&fk, &s), 5);
    ledger_send_commits(l, 100, false);
    double delay = ledger_commit_done(l, &s, 5, COMMIT_FAILED, 100);
    assert_true(delay > 0);
    cut(l, &s, 5, 9, 10); /* newer data: sealed behind the failed commit */
    assert_int_equal(s.state, LEDGER_COMMITTING);
    assert_int_equal(s.nsealed, 1);
    ledger_send_commits(l, 100, false); /* still backing off: nothing sent */
    assert_int_equal(fk.ncommits, 1);
    ledger_retry_due(l, 1000, true);
    assert_int_equal(jobs_of(&fk, &s), 0); /* no file before the commit */
    ledger_send_commits(l, 100 + delay, false);
    assert_int_equal(fk.ncommits, 2);
    assert_int_equal(fk.commits[1].offset, 5); /* the same offset again */
    ledger_commit_done(l, &s, 5, COMMIT_OK, 101);
    assert_int_equal(jobs_of(&fk, &s), 1);
    ledger_stored(l, take(&fk, &s), 9);
    ledger_send_commits(l, 101, false);
    assert_int_equal(fk.commits[2].offset, 9);
    /* An answer to an older request changes nothing. */
    ledger_commit_done(l, &s, 5, COMMIT_OK, 101);
    assert_int_equal(s.commit_pending, 9);
    ledger_commit_done(l, &s, 9, COMMIT_OK, 101);
    assert_int_equal(s.state, LEDGER_IDLE);
    assert_true(ledger_check(l));
    ledger_free(l);
}

static void a_revoke_during_an_upload_commits_nothing(void **state)
{
    (void)state;
    struct fake fk = {0};
    struct ledger *l = ledger_new(&fake_ops, &fk);
    struct ledger_slot a, b;
    ledger_attach(l, &a);
    ledger_attach(l, &b);
    cut(l, &a, 0, 3, 30);
    cut(l, &a, 3, 6, 30); /* sealed */
    ledger_charge(l, &a, 40); /* and buffered */
    cut(l, &b, 0, 2, 5);
    ledger_detach(l, &a); /* revoked while its upload is with a worker */
    assert_true(ledger_check(l));
    assert_int_equal(ledger_buffered(l), 30 + 5); /* the orphan and b's flush */
    assert_int_equal(ledger_in_workers(l), 2);
    struct flush *orphan = take(&fk, NULL);
    assert_non_null(orphan);
    ledger_dropped(l, orphan);
    ledger_stored(l, take(&fk, &b), 2);
    ledger_send_commits(l, 0, false);
    assert_true(ledger_check(l));
    assert_int_equal(fk.ncommits, 1);
    assert_ptr_equal(fk.commits[0].slot, &b);
    assert_int_equal(ledger_buffered(l), 0);
    assert_int_equal(ledger_in_workers(l), 0);
    ledger_free(l);
}

static void a_shutdown_with_a_retry_pending_drops_it_uncommitted(void **state)
{
    (void)state;
    struct fake fk = {0};
    struct ledger *l = ledger_new(&fake_ops, &fk);
    struct ledger_slot s;
    ledger_attach(l, &s);
    cut(l, &s, 0, 4, 64);
    double delay = ledger_failed(l, take(&fk, &s), 10);
    assert_true(delay == 2.0);
    assert_int_equal(s.state, LEDGER_RETRY_WAIT);
    assert_int_equal(ledger_retries_waiting(l), 1);
    ledger_charge(l, &s, 32); /* newer rows meanwhile */
    assert_true(ledger_busy(&s));
    /* At shutdown the retry goes at once, and fails again. */
    ledger_retry_due(l, 10, true);
    assert_int_equal(jobs_of(&fk, &s), 1);
    assert_true(ledger_failed(l, take(&fk, &s), 10) == 4.0);
    ledger_reset(l, &s); /* given up: dropped, nothing committed */
    assert_true(ledger_check(l));
    assert_int_equal(fk.ncommits, 0);
    assert_int_equal(ledger_buffered(l), 0);
    assert_int_equal(ledger_retries_waiting(l), 0);
    assert_false(ledger_busy(&s));
    ledger_free(l);
}

static void retry_delays_are_capped_at_30_seconds(void **state)
{
    (void)state;
    struct fake fk = {0};
    struct ledger *l = ledger_new(&fake_ops, &fk);
    struct ledger_slot s;
    ledger_attach(l, &s);
    cut(l, &s, 0, 1, 1);
    const double want[] = {2, 4, 8, 16, 30, 30, 30};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(ledger_failed(l, take(&fk, &s), 0) == want[i]);
        assert_true(ledger_retry_now(l, &s));
    }
    ledger_stored(l, take(&fk, &s), 1);
    ledger_detach(l, &s);
    ledger_free(l);
}

/* A cut without files (tombstones only) commits at once on an idle slot,
 * and waits its turn behind a busy one. */
static void a_cut_without_files_only_commits(void **state)
{
    (void)state;
    struct fake fk = {0};
    struct ledger *l = ledger_new(&fake_ops, &fk);
    struct ledger_slot s;
    ledger_attach(l, &s);
    ledger_charge(l, &s, 8);
    struct flush *f = flush_new("interval", 0);
    f->commit_next = 3;
    ledger_cut(l, &s, f);
    assert_int_equal(fk.submitted, 0);
    assert_int_equal(fk.ncommits, 1);
    assert_int_equal(fk.commits[0].offset, 3);
    assert_int_equal(ledger_buffered(l), 0);
    ledger_commit_done(l, &s, 3, COMMIT_OK, 0);
    cut(l, &s, 3, 6, 10);
    f = flush_new("interval", 0);
    f->commit_next = 8;
    ledger_cut(l, &s, f); /* sealed behind the upload */
    ledger_stored(l, take(&fk, &s), 6);
    ledger_send_commits(l, 0, false);
    ledger_commit_done(l, &s, 6, COMMIT_OK, 0);
    ledger_send_commits(l, 0, false);
    assert_int_equal(fk.commits[fk.ncommits - 1].offset, 8);
    assert_true(ledger_check(l));
    ledger_commit_done(l, &s, 8, COMMIT_OK, 0);
    ledger_detach(l, &s);
    ledger_free(l);
}

/* Random runs over several slots: workers finish in any order, uploads and
 * commits fail, partitions are revoked and come back. After every step the
 * invariants hold, the memory the test charged equals the ledger's, and no
 * commit ever passes an offset whose file the fake did not store. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned draw(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void random_runs_keep_every_invariant(void **state)
{
    (void)state;
    for (int run = 0; run < 200; run++) {
        struct fake fk = {0};
        struct ledger *l = ledger_new(&fake_ops, &fk);
        struct ledger_slot s[NSLOTS];
        int64_t next[NSLOTS] = {0};   /* the next offset a cut takes */
        int64_t stored[NSLOTS] = {0}; /* every offset below is in a stored file */
        int64_t acked[NSLOTS] = {0};  /* the last acknowledged commit */
        size_t charged[NSLOTS] = {0};
        size_t commits_seen = 0;
        for (int i = 0; i < NSLOTS; i++)
            ledger_attach(l, &s[i]);
        double now = 0;
        for (int step = 0; step < 300; step++) {
            int i = (int)draw(NSLOTS);
            now += 0.5;
            switch (draw(9)) {
            case 0: /* a message: the buffers grow */
                charged[i] += 1 + draw(100);
                ledger_charge(l, &s[i], charged[i]);
                break;
            case 1: { /* a cut */
                int64_t n = 1 + draw(5);
                cut(l, &s[i], next[i], next[i] + n, charged[i]);
                next[i] += n;
                charged[i] = 0;
                break;
            }
            case 2:
            case 3: { /* a worker finishes some flush */
                if (fk.njobs == 0)
                    break;
                size_t k = draw((unsigned)fk.njobs);
                struct flush *f = flush_of(fk.jobs[k]);
                fk.jobs[k] = fk.jobs[--fk.njobs];
                if (f->slot == NULL) {
                    ledger_dropped(l, f);
                } else if (draw(3) == 0) {
                    ledger_failed(l, f, now);
                } else {
                    int j = (int)(f->slot - s);
                    /* The flush's file holds every offset up to commit_next. */
                    if (f->commit_next > stored[j])
                        stored[j] = f->commit_next;
                    ledger_stored(l, f, f->commit_next);
                }
                break;
            }
            case 4:
                ledger_send_commits(l, now, draw(4) == 0);
                break;
            case 5: { /* the broker answers the slot's commit */
                if (!s[i].commit_sent)
                    break;
                int64_t off = s[i].commit_pending;
                enum commit_answer a = draw(4) == 0 ? COMMIT_FAILED : COMMIT_OK;
                ledger_commit_done(l, &s[i], off, a, now);
                if (a == COMMIT_OK)
                    acked[i] = off;
                break;
            }
            case 6:
                ledger_retry_due(l, now, draw(3) == 0);
                break;
            case 7:
                if (draw(6) == 0) { /* revoked, and assigned again at the last ack */
                    ledger_detach(l, &s[i]);
                    ledger_attach(l, &s[i]);
                    next[i] = stored[i] = acked[i];
                    charged[i] = 0;
                }
                break;
            default:
                assert_true(ledger_check(l));
                break;
            }
            assert_true(ledger_check(l));
            /* No commit passes data that is not stored. */
            for (; commits_seen < fk.ncommits; commits_seen++) {
                int j = (int)(fk.commits[commits_seen].slot - s);
                assert_true(fk.commits[commits_seen].offset <= stored[j]);
            }
            /* At most one flush of a slot with the workers. */
            for (int j = 0; j < NSLOTS; j++)
                assert_true(jobs_of(&fk, &s[j]) <= 1);
            size_t want = 0;
            for (int j = 0; j < NSLOTS; j++)
                want += charged[j];
            assert_int_equal(ledger_unflushed(l), want);
        }
        /* The end: take back what the workers hold, then free. */
        while (fk.njobs > 0) {
            struct flush *f = flush_of(fk.jobs[--fk.njobs]);
            if (f->slot != NULL)
                ledger_failed(l, f, now);
            else
                ledger_dropped(l, f);
        }
        assert_true(ledger_check(l));
        ledger_free(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_upload_in_flight_per_partition),
        cmocka_unit_test(a_failed_commit_is_retried_before_the_next_file),
        cmocka_unit_test(a_revoke_during_an_upload_commits_nothing),
        cmocka_unit_test(a_shutdown_with_a_retry_pending_drops_it_uncommitted),
        cmocka_unit_test(retry_delays_are_capped_at_30_seconds),
        cmocka_unit_test(a_cut_without_files_only_commits),
        cmocka_unit_test(random_runs_keep_every_invariant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
