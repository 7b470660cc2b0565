/* fetch_nudge.h -- keeps librdkafka 2.0's fetcher from sleeping while there
 * is data to fetch.
 *
 * librdkafka before 2.1 stops fetching a partition whose local queue reached
 * queued.max.messages.kbytes (or queued.min.messages) and, because no timer is
 * set for it, does not look again until something else wakes the broker
 * thread: up to a second later. A consumer that does work per message fills
 * that queue, drains it in a fraction of a second and then waits. (2.1 added
 * fetch.queue.backoff.ms for this.)
 *
 * Contract
 * - fetch_nudge_start() starts a thread that, every interval_ms, looks whether
 *   the consumer queue is nearly empty while an assigned partition has data
 *   beyond its position (librdkafka's cached high watermark); then it asks that
 *   partition's leader for its watermarks, a small request whose answer wakes
 *   the broker thread, which then fetches again. Nothing is nudged while the
 *   consumer is idle, caught up or *paused is set.
 * - With librdkafka 2.1 or later it starts nothing and returns NULL.
 * - fetch_nudge_stop() stops and frees the thread (NULL is fine); call it
 *   before destroying rk or queue.
 */
#ifndef CDCW_FETCH_NUDGE_H
#define CDCW_FETCH_NUDGE_H

#include <stdatomic.h>

#include <librdkafka/rdkafka.h>

struct fetch_nudge;

struct fetch_nudge *fetch_nudge_start(rd_kafka_t *rk, rd_kafka_queue_t *consumer_queue,
                                      const atomic_bool *paused, int interval_ms);
void fetch_nudge_stop(struct fetch_nudge *n);
/* Nudges sent so far (the pipeline logs it at shutdown). */
unsigned long fetch_nudge_count(struct fetch_nudge *n);

#endif
