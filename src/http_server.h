/* http_server.h -- the operational HTTP endpoint: /metrics, /healthz, /readyz.
 *
 * Contract
 * - Served by libmicrohttpd on its own thread: a slow or stuck client never
 *   blocks the consumer loop, and answering reads only the metrics registry
 *   and the health state (both thread-safe, neither does I/O).
 * - GET /metrics: the registry in Prometheus' text format 0.0.4, with
 *   process_resident_memory_bytes read from /proc at scrape time.
 *   GET /healthz: 200 while the main loop turns, else 503.
 *   GET /readyz: 200 when partitions are assigned and the object store is
 *   reachable, else 503. Both bodies are one line saying why.
 *   HEAD is answered like GET; other methods get 405, other paths 404.
 */
#ifndef CDCW_HTTP_SERVER_H
#define CDCW_HTTP_SERVER_H

#include <stddef.h>

#include "health.h"
#include "metrics.h"

struct http_server;

/* Listens on bind_address:port (an IPv4 or IPv6 address text). */
struct http_server *http_server_start(const char *bind_address, int port, struct metrics *m,
                                      struct health *h, char *err, size_t errlen);
void http_server_stop(struct http_server *s);

#endif
