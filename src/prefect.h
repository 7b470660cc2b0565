/* prefect.h -- triggers a Prefect deployment run after files are written.
 *
 * Contract
 * - prefect_trigger() looks the deployment up once
 *   (GET {PREFECT_API_URL}/deployments/name/{flow}/{deployment}, id cached),
 *   then POSTs {PREFECT_API_URL}/deployments/{id}/create_flow_run for one
 *   written file, with an idempotency_key derived from its object key, so a
 *   replay of the same file never starts a second run; with
 *   PREFECT_SEND_PARAMETERS=true the body also carries parameters
 *   {bucket, table, keys: [key], rows} (rows null when not known).
 * - Authorization: Bearer PREFECT_API_KEY when a key is set (never logged).
 * - Requests go through an http_client (http_client.h): 3 tries, 0.5 s then
 *   1 s of backoff with jitter between them, retrying what it retries
 *   (connection errors and time-outs but not certificate, URL or protocol
 *   errors; 429, 500, 502, 503, 504) and 408; anything else fails at once
 *   with Prefect's answer in err, on one line. Each try gives up after
 *   PREFECT_TIMEOUT_SECONDS. The caller logs a failure and goes on: a
 *   trigger never blocks data or commits.
 * - When libcurl cannot make a handle, prefect_new() logs it and every
 *   trigger fails saying so.
 * - Not thread-safe: one struct prefect per thread (the pipeline's, or --check's).
 */
#ifndef CDCW_PREFECT_H
#define CDCW_PREFECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

struct prefect;

/* NULL when PREFECT_API_URL is not set (triggering disabled). */
struct prefect *prefect_new(const struct config *cfg, const struct log *lg);
void prefect_free(struct prefect *p);

/* rows < 0: not known (a file another writer stored without the count). */
bool prefect_trigger(struct prefect *p, const char *bucket, const char *table, const char *key,
                     int64_t rows, char *err, size_t errlen);

/* Looks the deployment up (once; the id is cached): its id, or NULL with
 * the reason in err. */
const char *prefect_find_deployment(struct prefect *p, char *err, size_t errlen);

/* The idempotency key of an object key: "cdc-writer-" + the SHA-256 hex of
 * the key and its terminating NUL. */
void prefect_idempotency_key(const char *key, char out[80]);

#endif
