/* health.c -- see health.h. */
#include "health.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "thread_name.h"
#include "xalloc.h"

struct health {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int live_timeout_ms;
    int64_t last_beat_ms;
    int assigned;
    bool store_known, store_ok;
    char store_error[2048];
    /* The probe thread. */
    bool probing, stopping;
    pthread_t probe;
    struct object_store_config probe_cfg;
    int probe_interval_ms;
};

static int64_t mono_ms(void)
{
    return (int64_t)(clock_mono_s() * 1000);
}

struct health *health_new(int live_timeout_ms)
{
    struct health *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &attr);
    pthread_condattr_destroy(&attr);
    h->live_timeout_ms = live_timeout_ms;
    h->last_beat_ms = mono_ms();
    return h;
}

void health_free(struct health *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->probing)
        pthread_join(h->probe, NULL);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void health_beat(struct health *h)
{
    if (h == NULL)
        return;
    int64_t now = mono_ms();
    pthread_mutex_lock(&h->lock);
    h->last_beat_ms = now;
    pthread_mutex_unlock(&h->lock);
}

void health_set_assigned(struct health *h, int partitions)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->assigned = partitions;
    pthread_mutex_unlock(&h->lock);
}

void health_store_result(struct health *h, bool ok, const char *error)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->store_known = true;
    h->store_ok = ok;
    snprintf(h->store_error, sizeof h->store_error, "%s", ok || error == NULL ? "" : error);
    pthread_mutex_unlock(&h->lock);
}

static void *probe_loop(void *arg)
{
    struct health *h = arg;
    thread_name_set("cdcw-probe");
    char err[1024];
    struct object_store *store = object_store_new(&h->probe_cfg, err, sizeof err);
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        pthread_mutex_unlock(&h->lock);
        bool ok = store != NULL && object_store_check_bucket(store, false, err, sizeof err);
        health_store_result(h, ok, err);
        pthread_mutex_lock(&h->lock);
        struct timespec until = clock_deadline(CLOCK_MONOTONIC, h->probe_interval_ms);
        while (!h->stopping && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&h->lock);
    object_store_free(store);
    return NULL;
}

bool health_start_store_probe(struct health *h, const struct object_store_config *cfg,
                              int interval_ms, char *err, size_t errlen)
{
    h->probe_cfg = *cfg;
    h->probe_cfg.max_attempts = 1; /* a probe reports, it does not insist */
    h->probe_cfg.log = NULL;       /* failures show in /readyz, not as log noise */
    h->probe_cfg.metrics = NULL;   /* probes are not the traffic cdcw_s3_* counts */
    if (h->probe_cfg.timeout_s > 5)
        h->probe_cfg.timeout_s = 5;
    h->probe_interval_ms = interval_ms;
    if (pthread_create(&h->probe, NULL, probe_loop, h) != 0) {
        snprintf(err, errlen, "cannot start the object store probe thread");
        return false;
    }
    h->probing = true;
    return true;
}

bool health_live(struct health *h, char *why, size_t whylen)
{
    pthread_mutex_lock(&h->lock);
    int64_t idle = mono_ms() - h->last_beat_ms;
    bool live = idle <= h->live_timeout_ms;
    pthread_mutex_unlock(&h->lock);
    if (live)
        snprintf(why, whylen, "ok: the main loop turned %lld ms ago", (long long)idle);
    else
        snprintf(why, whylen, "not live: the main loop has not turned for %lld ms (limit %d ms)",
                 (long long)idle, h->live_timeout_ms);
    return live;
}

bool health_ready(struct health *h, char *why, size_t whylen)
{
    pthread_mutex_lock(&h->lock);
    bool ready = false;
    if (h->assigned <= 0)
        snprintf(why, whylen, "not ready: no partitions assigned");
    else if (!h->store_known)
        snprintf(why, whylen, "not ready: object store not checked yet");
    else if (!h->store_ok)
        snprintf(why, whylen, "not ready: object store unreachable: %s", h->store_error);
    else {
        ready = true;
        snprintf(why, whylen, "ok: %d partitions assigned, object store reachable", h->assigned);
    }
    pthread_mutex_unlock(&h->lock);
    return ready;
}
