/* health.h -- what /healthz and /readyz answer: is the main loop turning,
 * are partitions assigned, is the object store reachable.
 *
 * Contract
 * - The consumer loop calls health_beat() every time it turns (and while it
 *   waits on uploads), and health_set_assigned() after every rebalance.
 * - Upload outcomes are reported with health_store_result(); a probe thread
 *   started by health_start_store_probe() also checks the bucket (HeadBucket,
 *   one attempt, short time-out) every interval, so an idle writer notices an
 *   outage too. The newest outcome of either wins.
 * - health_live() and health_ready() are cheap, never block on I/O and are
 *   safe from any thread (the HTTP server's). They write a one-line reason.
 */
#ifndef CDCW_HEALTH_H
#define CDCW_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "object_store.h"

struct health;

/* live_timeout_ms: how long the loop may go without a beat and still be live. */
struct health *health_new(int live_timeout_ms);
void health_free(struct health *h); /* stops the probe thread first */

void health_beat(struct health *h);
void health_set_assigned(struct health *h, int partitions);
void health_store_result(struct health *h, bool ok, const char *error);

/* Starts the bucket probe; cfg is copied (its strings must outlive h). */
bool health_start_store_probe(struct health *h, const struct object_store_config *cfg,
                              int interval_ms, char *err, size_t errlen);

bool health_live(struct health *h, char *why, size_t whylen);
bool health_ready(struct health *h, char *why, size_t whylen);

#endif
