/* fetch_nudge.h -- keeps librdkafka 2.0 and 2.1's fetcher from sleeping
 * while there is data to fetch.
 *
 * librdkafka stops fetching a partition whose local queue reached
 * queued.max.messages.kbytes (or queued.min.messages) and looks again a
 * second later, unless something else wakes the broker thread first. A
 * consumer that does work per message fills that queue, drains it in a
 * fraction of a second and then waits. 2.2 made the second
 * fetch.queue.backoff.ms, which kafka_conf.c sets; before 2.2 this nudges.
 *
 * A nudge is a request on the connection that fetches, so it is sent only
 * when the fetcher may have stopped, not whenever the queue is short:
 * fetches of one-message record batches keep the queue short while the
 * fetcher works, and a nudge at every look then held back each fetch's answer
 * until the next look (librdkafka 2.0.2 and its mock cluster: fetches 21 ms
 * apart, 30,000 messages in 36 s where 5 s without nudges).
 *
 * Contract
 * - fetch_nudge_start() starts a thread that looks every interval_ms. It
 *   nudges when the consumer queue is nearly empty (fewer than
 *   FETCH_NUDGE_LOW_WATER messages) and either it was not at an earlier look
 *   since the last nudge (it filled: the fetcher may have stopped) or the
 *   consumer took nothing for FETCH_NUDGE_QUIET_LOOKS looks in a row (*taken,
 *   the messages and events it polled, unchanged), and an assigned partition
 *   has data beyond its position (librdkafka's cached high watermark). A
 *   nudge asks that partition's leader for its watermarks, a small request
 *   whose answer wakes the broker thread, which then fetches again. Nothing
 *   is nudged while *paused is set.
 * - fetch_nudge_due() is that rule but the watermarks, without librdkafka:
 *   one call per look, w zeroed before the first.
 * - With librdkafka 2.2 or later (FETCH_QUEUE_BACKOFF_VERSION) it starts
 *   nothing and returns NULL.
 * - fetch_nudge_stop() stops and frees the thread (NULL is fine); call it
 *   before destroying rk or queue.
 */
#ifndef CDCW_FETCH_NUDGE_H
#define CDCW_FETCH_NUDGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

struct fetch_nudge;

struct fetch_nudge *fetch_nudge_start(rd_kafka_t *rk, rd_kafka_queue_t *consumer_queue,
                                      const atomic_bool *paused, const atomic_ulong *taken,
                                      int interval_ms);
enum { FETCH_NUDGE_LOW_WATER = 2000, FETCH_NUDGE_QUIET_LOOKS = 5 };

/* What the looks since the last nudge saw. */
struct fetch_nudge_watch {
    unsigned long taken; /* *taken at the last look */
    int quiet;           /* looks in a row that found nothing taken */
    bool filled;         /* the queue held FETCH_NUDGE_LOW_WATER or more */
};

/* One look: queued messages in the consumer queue, taken polled in all;
 * whether to nudge (if a partition lags). */
bool fetch_nudge_due(struct fetch_nudge_watch *w, size_t queued, unsigned long taken);
void fetch_nudge_stop(struct fetch_nudge *n);
/* Nudges sent so far (the pipeline logs it at shutdown). */
unsigned long fetch_nudge_count(struct fetch_nudge *n);

#endif
