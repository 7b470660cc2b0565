/* preflight.h -- the connectivity checks of `cdc-writer --check`.
 *
 * Contract
 * - Runs, in order and each independently of the others' outcome:
 *   kafka        the cluster's metadata can be fetched from
 *                KAFKA_BOOTSTRAP_SERVERS and at least one topic matches
 *                KAFKA_TOPIC_PATTERN;
 *   object store the bucket is reachable with the credentials (HeadBucket)
 *                and, with MINIO_CONDITIONAL_WRITES, the store refuses a
 *                second If-None-Match: * put of one key (a probe object
 *                under .cdc-writer-check/, deleted afterwards);
 *   prefect      the deployment PREFECT_FLOW_NAME/PREFECT_DEPLOYMENT_NAME is
 *                found (only when PREFECT_API_URL is set).
 * - Writes one line per check to out: "<check>: ok: ..." or
 *   "<check>: FAILED: <reason>". Each check gives up after timeout_s.
 * - Returns true when every check passed. Never joins the consumer group,
 *   writes nothing but that probe and creates no bucket.
 */
#ifndef CDCW_PREFLIGHT_H
#define CDCW_PREFLIGHT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "log.h"

bool preflight_run(const struct config *cfg, const struct log *lg, int timeout_s, FILE *out);

#endif
