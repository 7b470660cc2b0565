/* partition.c -- see partition.h. */
#include "partition.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake_layout.h"
#include "xalloc.h"

struct registry {
    const regex_t *pattern;
    struct ledger *ledger;
    const struct pipeline_metrics *m;
    const struct pq_options *pq;
    unsigned meta_groups; /* of the column buffers */
    struct part **parts;
    size_t nparts, cap;
    struct part *last; /* messages come in runs of one partition */
    size_t restarts;   /* partitions with restart_at set */
};

struct registry *registry_new(const regex_t *pattern, struct ledger *ledger, const struct pipeline_metrics *m,
                              const struct pq_options *pq, unsigned meta_groups)
{
    struct registry *r = xcalloc(1, sizeof *r);
    r->pq = pq;
    r->meta_groups = meta_groups;
    r->pattern = pattern;
    r->ledger = ledger;
    r->m = m;
    return r;
}

void registry_free(struct registry *r)
{
    if (r == NULL)
        return;
    while (r->nparts > 0)
        registry_remove(r, r->parts[r->nparts - 1]);
    free(r->parts);
    free(r);
}

struct part *registry_find(struct registry *r, const char *topic, int32_t partition)
{
    struct part *last = r->last;
    if (last != NULL && last->partition == partition && strcmp(last->topic, topic) == 0)
        return last;
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i]->partition == partition && strcmp(r->parts[i]->topic, topic) == 0)
            return r->last = r->parts[i];
    return NULL;
}

struct part *registry_add(struct registry *r, const char *topic, int32_t partition)
{
    struct part *pt = registry_find(r, topic, partition);
    if (pt != NULL)
        return pt;
    pt = xcalloc(1, sizeof *pt);
    pt->topic = xstrdup(topic);
    pt->partition = partition;
    pt->table = lake_table_name(r->pattern, topic);
    pt->decoder = dbz_decoder_new();
    pt->rows = row_batch_new(topic, partition, r->meta_groups);
    pt->errors = error_batch_new(topic, partition);
    pt->commit_next = -1;
    pt->probing = true;
    pt->cut_at = -1;
    pt->restart_at = -1;
    pt->next_offset = -1;
    pt->committed = -1;
    pt->first_offset = -1;
    pt->lane = -1;
    ledger_attach(r->ledger, &pt->slot);
    snprintf(pt->partition_text, sizeof pt->partition_text, "%d", (int)partition);
    const char *labels[] = {pt->topic, pt->partition_text};
    pt->m_consumed = metric_series(r->m->consumed, labels);
    pt->m_consumed_bytes = metric_series(r->m->consumed_bytes, labels);
    pt->m_committed = metric_series(r->m->committed, labels);
    pt->m_lag = metric_series(r->m->lag, labels);
    if (r->nparts == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->parts = xrealloc(r->parts, r->cap * sizeof *r->parts);
    }
    r->parts[r->nparts++] = pt;
    return r->last = pt;
}

void registry_remove(struct registry *r, struct part *pt)
{
    ledger_detach(r->ledger, &pt->slot);
    part_set_restart(r, pt, -1); /* no longer this instance's to read */
    metric_unset(pt->m_committed); /* no longer this instance's to report */
    metric_unset(pt->m_lag);
    for (size_t i = 0; i < r->nparts; i++) {
        if (r->parts[i] == pt) {
            r->parts[i] = r->parts[--r->nparts];
            break;
        }
    }
    if (r->last == pt)
        r->last = NULL;
    assert(pt->nheld == 0); /* settled before it goes */
    free(pt->held);
    dbz_decoder_free(pt->decoder);
    row_batch_free(pt->rows);
    error_batch_free(pt->errors);
    free(pt->topic);
    free(pt->table);
    free(pt);
}

size_t registry_count(const struct registry *r)
{
    return r->nparts;
}

struct part *registry_at(const struct registry *r, size_t i)
{
    return r->parts[i];
}

struct part *part_of_slot(struct ledger_slot *s)
{
    return (struct part *)(void *)((char *)s - offsetof(struct part, slot));
}

void part_set_restart(struct registry *r, struct part *pt, int64_t offset)
{
    if (pt->restart_at >= 0)
        r->restarts--;
    pt->restart_at = offset;
    if (offset >= 0)
        r->restarts++;
}

size_t registry_restarts(const struct registry *r)
{
    return r->restarts;
}

bool part_has_rows(const struct part *pt)
{
    return row_batch_rows(pt->rows) + error_batch_rows(pt->errors) > 0;
}

void part_charge(struct registry *r, struct part *pt)
{
    size_t mem = row_batch_memory(pt->rows) + error_batch_memory(pt->errors);
    ledger_charge(r->ledger, &pt->slot, mem > pt->bytes ? mem : pt->bytes);
}

/* Moves the buffers into a new flush (keys named, offsets set) for
 * ledger_cut(); a cut of tombstones only has no files. */
static struct flush *part_take(struct registry *r, struct part *pt, const char *reason, double now)
{
    assert(pt->restart_at < 0); /* P2 */
    size_t rows = row_batch_rows(pt->rows), errors = error_batch_rows(pt->errors);
    if (rows + errors > 0) /* a cut of tombstones only commits, and is no flush */
        metric_count2(r->m->flushes, pt->topic, reason, 1);
    struct flush *f = flush_new(reason, now);
    struct upload_job *j = &f->job;
    j->pq = r->pq;
    if (rows > 0) { /* the buffers go to the worker, which encodes them */
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
    j->last_offset = pt->commit_next - 1;
    f->commit_next = pt->commit_next;
    f->message_bytes = pt->bytes;
    pt->commit_next = -1;
    pt->bytes = 0;
    pt->has_day = false;
    return f;
}

void part_cut(struct registry *r, struct part *pt, const char *reason, double now)
{
    if (!part_has_rows(pt) && pt->commit_next < 0)
        return; /* nothing taken since the last cut */
    ledger_cut(r->ledger, &pt->slot, part_take(r, pt, reason, now));
}

void part_flush(struct registry *r, struct part *pt, const char *reason, double now)
{
    if (!ledger_busy(&pt->slot))
        part_cut(r, pt, reason, now);
}

void part_cut_later(struct registry *r, struct part *pt, const char *reason, double now)
{
    if (!part_has_rows(pt) && pt->commit_next < 0)
        return; /* nothing taken since the last cut */
    if (pt->nheld == pt->held_cap) {
        pt->held_cap = pt->held_cap ? pt->held_cap * 2 : 4;
        pt->held = xrealloc(pt->held, pt->held_cap * sizeof *pt->held);
    }
    pt->held[pt->nheld++] = part_take(r, pt, reason, now);
}

void part_flush_later(struct registry *r, struct part *pt, const char *reason, double now)
{
    if (!ledger_busy(&pt->slot) && pt->nheld == 0)
        part_cut_later(r, pt, reason, now);
}

void part_settle(struct registry *r, struct part *pt)
{
    for (size_t i = 0; i < pt->nheld; i++)
        ledger_cut(r->ledger, &pt->slot, pt->held[i]);
    pt->nheld = 0;
    metric_add(pt->m_consumed, (double)pt->consumed);
    metric_add(pt->m_consumed_bytes, (double)pt->consumed_bytes);
    pt->consumed = pt->consumed_bytes = 0;
    pt->touched = false;
    part_charge(r, pt);
}

void part_clear(struct registry *r, struct part *pt)
{
    row_batch_clear(pt->rows);
    error_batch_clear(pt->errors);
    ledger_drop_unsubmitted(r->ledger, &pt->slot);
    pt->bytes = 0;
    pt->has_day = false;
    pt->commit_next = -1;
}
