/* partition.h -- the partition registry: one struct part per assigned
 * topic-partition, holding its decoder, its column buffers and its place in
 * the stream, with its delivery state (a ledger slot) inside.
 *
 * Contract
 * - registry_add() makes a partition and attaches its slot to the ledger;
 *   registry_remove() detaches it (see ledger_detach(): what it held and is
 *   not with a worker is dropped, uncommitted) and frees it.
 * - part_charge() tells the ledger what the buffers hold after a message;
 *   part_cut() and part_flush() move the buffers into a new flush and the
 *   partition starts afresh; part_clear() drops them.
 * - A partition waiting to be read again after a key conflict (restart_at)
 *   buffers nothing and has no sealed flush (invariant P2 below); the
 *   registry counts them, so the loop's check costs nothing without one.
 * - Threads: the consumer thread, and the partition's decode lane (intake.c)
 *   while a burst of messages is being taken. During a burst the lane alone
 *   touches the partition's place in the stream and its buffers, and nothing
 *   changes the ledger, so the lane may read its slot (ledger_busy()); its
 *   cuts are held (part_cut_later()) until part_settle() hands them to the
 *   ledger on the consumer thread, once the lanes are idle. Every other
 *   function here is the consumer thread's, on a settled partition.
 *
 * P1. A partition's messages are taken in increasing offsets: one delivered
 *     again below next_offset (which only this instance's seeks lower) is
 *     already buffered or stored, and is skipped.
 * P2. While restart_at is set, the partition buffers nothing and has no
 *     sealed flush: what it held followed the conflicting file and may repeat
 *     the other writer's.
 * P3. While a replay cut is set (cut_at), no file of the partition holds a
 *     message past it: a new owner's file ends where the earlier owner's
 *     stored file with the same key ends.
 */
#ifndef CDCW_PARTITION_H
#define CDCW_PARTITION_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debezium.h"
#include "error_batch.h"
#include "ledger.h"
#include "parquet.h"
#include "pipeline_metrics.h"
#include "row_batch.h"

struct part {
    char *topic, *table;
    int32_t partition;
    struct ledger_slot slot; /* its flushes and commits */
    struct dbz_decoder *decoder;
    struct row_batch *rows;
    struct error_batch *errors;
    int64_t rows_first_ts, day;
    bool has_day;
    int64_t commit_next; /* last processed offset + 1, -1: nothing taken since the last cut */
    size_t bytes;        /* raw message bytes buffered (MAX_BATCH_BYTES) */
    /* Replay cuts: after an assignment, each new file first asks the store
     * whether an earlier owner stored a file under the same key, and if so
     * ends where that one ends (cut_at, -1: no cut; P3). */
    bool probing;
    int64_t cut_at;
    int64_t restart_at;  /* after a key conflict: read again from here (-1: none; P2) */
    int64_t next_offset; /* the lowest offset the next message may have (-1: any; P1) */
    int64_t committed, first_offset; /* -1: none yet */
    /* Of a burst (see Threads above): */
    int lane;              /* the decode lane that takes its messages (-1: none yet) */
    bool touched;          /* taken a message since the last part_settle() */
    struct flush **held;   /* cuts taken, for the ledger, in order */
    size_t nheld, held_cap;
    uint64_t consumed, consumed_bytes; /* not yet added to m_consumed, m_consumed_bytes */
    char partition_text[16];
    struct metric *m_consumed, *m_consumed_bytes, *m_committed, *m_lag;
};

struct registry;

/* pattern (may be NULL) names the tables (lake_table_name()); pq is how
 * flushes are encoded; meta_groups (CDC_META_*) the optional metadata
 * columns of the files. */
struct registry *registry_new(const regex_t *pattern, struct ledger *ledger, const struct pipeline_metrics *m,
                              const struct pq_options *pq, unsigned meta_groups);
/* Removes every partition first. */
void registry_free(struct registry *r);

struct part *registry_find(struct registry *r, const char *topic, int32_t partition);
struct part *registry_add(struct registry *r, const char *topic, int32_t partition);
void registry_remove(struct registry *r, struct part *pt);
size_t registry_count(const struct registry *r);
struct part *registry_at(const struct registry *r, size_t i);
struct part *part_of_slot(struct ledger_slot *s);

/* restart_at set or cleared: the registry keeps count. */
void part_set_restart(struct registry *r, struct part *pt, int64_t offset);
size_t registry_restarts(const struct registry *r);

/* Rows or refused messages buffered. */
bool part_has_rows(const struct part *pt);
/* Counts what the buffers hold against MAX_BUFFER_BYTES: the memory of the
 * rows' column buffers and refused messages, or the message bytes when
 * those are more (narrow rows take several times their JSON in cells). */
void part_charge(struct registry *r, struct part *pt);
/* A cut that must come before what follows (a replay cut, a day or schema
 * change before the message being handled, a revocation): a free partition
 * starts its flush, a busy one has its batch sealed, to go in turn, so the
 * consumer never waits for it. */
void part_cut(struct registry *r, struct part *pt, const char *reason, double now);
/* A flush that can wait (the interval, a size limit, memory, shutdown): a
 * busy partition is left for a later one. */
void part_flush(struct registry *r, struct part *pt, const char *reason, double now);
/* On the partition's lane during a burst: part_cut() and part_flush(), but
 * the flush is held for part_settle(); a size flush is taken only when the
 * slot is idle and holds no cut, as part_flush() would decide. */
void part_cut_later(struct registry *r, struct part *pt, const char *reason, double now);
void part_flush_later(struct registry *r, struct part *pt, const char *reason, double now);
/* On the consumer thread, the lanes idle: hands the held cuts to the ledger
 * in order, charges the buffers (part_charge()) and adds up the counters. */
void part_settle(struct registry *r, struct part *pt);
/* Drops the buffers and what the ledger holds for them unsubmitted. */
void part_clear(struct registry *r, struct part *pt);

#endif
