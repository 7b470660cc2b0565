/* fetch_nudge.c -- see fetch_nudge.h. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "fetch_nudge.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "kafka_conf.h"
#include "thread_name.h"
#include "xalloc.h"

struct fetch_nudge {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    const atomic_bool *paused;
    const atomic_ulong *taken;
    int interval_ms;
    atomic_bool stop;
    atomic_ulong count;
    pthread_t thread;
};

/* The first assigned partition with data beyond its position, or -1. */
static int lagging(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list)
{
    if (rd_kafka_position(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    for (int i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        int64_t lo, hi;
        if (tp->offset < 0 ||
            rd_kafka_get_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        if (hi > tp->offset)
            return i;
    }
    return -1;
}

bool fetch_nudge_due(struct fetch_nudge_watch *w, size_t queued, unsigned long taken)
{
    w->quiet = taken == w->taken ? w->quiet + 1 : 0;
    w->taken = taken;
    if (queued >= FETCH_NUDGE_LOW_WATER) {
        w->filled = true;
        return false;
    }
    if (!w->filled && w->quiet < FETCH_NUDGE_QUIET_LOOKS)
        return false;
    w->filled = false;
    w->quiet = 0;
    return true;
}

static void *run(void *arg)
{
    struct fetch_nudge *n = arg;
    thread_name_set("cdcw-nudge");
    int idle = 0; /* checks in a row that found nothing to fetch */
    struct fetch_nudge_watch watch = {.taken = atomic_load(n->taken)};
    while (!atomic_load(&n->stop)) {
        /* Caught up: look ten times less often, so an idle consumer costs nothing. */
        int ms = idle >= 10 ? n->interval_ms * 10 : n->interval_ms;
        struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
        unsigned long taken = atomic_load(n->taken);
        if (taken != watch.taken)
            idle = 0; /* consuming: look often */
        if (!fetch_nudge_due(&watch, rd_kafka_queue_length(n->queue), taken) || atomic_load(n->paused))
            continue;
        rd_kafka_topic_partition_list_t *list = NULL;
        if (rd_kafka_assignment(n->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        int i = list->cnt > 0 ? lagging(n->rk, list) : -1;
        idle = i >= 0 ? 0 : idle + 1;
        if (i >= 0) {
            int64_t lo, hi;
            rd_kafka_query_watermark_offsets(n->rk, list->elems[i].topic, list->elems[i].partition,
                                             &lo, &hi, 1000);
            atomic_fetch_add(&n->count, 1);
        }
        rd_kafka_topic_partition_list_destroy(list);
    }
    return NULL;
}

struct fetch_nudge *fetch_nudge_start(rd_kafka_t *rk, rd_kafka_queue_t *consumer_queue,
                                      const atomic_bool *paused, const atomic_ulong *taken,
                                      int interval_ms)
{
    if (rd_kafka_version() >= FETCH_QUEUE_BACKOFF_VERSION)
        return NULL;
    struct fetch_nudge *n = xcalloc(1, sizeof *n);
    n->rk = rk;
    n->queue = consumer_queue;
    n->paused = paused;
    n->taken = taken;
    n->interval_ms = interval_ms > 0 ? interval_ms : 1;
    atomic_init(&n->stop, false);
    atomic_init(&n->count, 0);
    if (pthread_create(&n->thread, NULL, run, n) != 0) {
        free(n);
        return NULL;
    }
    pthread_setname_np(n->thread, "fetch-nudge");
    return n;
}

void fetch_nudge_stop(struct fetch_nudge *n)
{
    if (n == NULL)
        return;
    atomic_store(&n->stop, true);
    pthread_join(n->thread, NULL);
    free(n);
}

unsigned long fetch_nudge_count(struct fetch_nudge *n)
{
    return n == NULL ? 0 : atomic_load(&n->count);
}
