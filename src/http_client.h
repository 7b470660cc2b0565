/* http_client.h -- the HTTP client the object store (store_s3.c) and the
 * Prefect trigger (prefect.c) share: libcurl underneath, failed requests
 * retried.
 *
 * Contract
 * - A client owns one libcurl handle and reuses it for every request, so a
 *   connection is kept alive from one request to the next.
 * - http_perform() sends one request, trying it up to max_attempts times.
 *   Retried: what http_retryable() says (connection errors and time-outs, but
 *   not certificate, URL or protocol errors; HTTP 429, 500, 502, 503, 504),
 *   and the answers the config's retry_also hook adds (S3's 400
 *   RequestTimeout and SlowDown). Anything else fails at once. Between two
 *   tries the thread sleeps http_backoff_ms(): capped exponential backoff
 *   with equal jitter.
 * - Headers are the caller's one list, sent in its order as "name: value";
 *   an empty value ("Expect", "") stops libcurl from adding that header of
 *   its own. A request's prepare hook runs before each try and may change
 *   values in that list (S3 signs each try anew); the list is handed to
 *   libcurl after it.
 * - The answer to the last try (status, body, header lines) stays in the
 *   client until its next request: http_client_response().
 * - Every failure is one line in err: the request's `what` (operation and URL
 *   or key), then libcurl's error, or "HTTP <status>" with the server's error
 *   code and text when there is one, then "(attempt i of n)". With a log,
 *   each failure that is retried is also logged at WARNING, "...; retrying".
 * - With metric families (each may be NULL): each try counts in
 *   requests{method} and duration{method}, each retried try in
 *   retries{method}, each failed try in errors{code} (the server's error
 *   code, else HTTP_<status>, timeout or connection).
 * - TLS: peer and host names are verified unless tls_verify is false, against
 *   ca_bundle when set, else the system's CAs. timeout_s bounds one whole try,
 *   connect_timeout_s its connection.
 * - Ownership: the client copies what it keeps of the config; a request's
 *   strings, headers and body are borrowed for the call.
 * - Threads: not thread-safe; one client per thread. curl_global_init() must
 *   have run before the first client is made (main and the tools do it).
 *   Nothing here is global.
 */
#ifndef CDCW_HTTP_CLIENT_H
#define CDCW_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_header.h"
#include "log.h"
#include "metrics.h"

struct http_metrics {
    struct metric_family *requests, *retries, *errors, *duration;
};

struct http_client_config {
    long timeout_s;         /* one try, connection included */
    long connect_timeout_s; /* the connection */
    bool tls_verify;
    const char *ca_bundle;  /* NULL: the system's CAs */
    int max_attempts;       /* tries of one request, retries included (at least 1) */
    long retry_base_ms;     /* the first backoff; it doubles up to retry_cap_ms */
    long retry_cap_ms;
    /* Reads the server's error out of a failed answer's body (NUL-terminated):
     * a short code (S3's "NoSuchBucket"; "" for none) and a text. NULL: no
     * code, and the text is the body's first 300 bytes on one line. */
    void (*describe_error)(const struct buf *body, char *code, size_t codelen, char *text,
                           size_t textlen);
    /* Whether an answer that http_retryable() does not retry is retried all
     * the same (code: what describe_error found). NULL: none is. */
    bool (*retry_also)(long status, const char *code);
    const struct log *log; /* NULL: retries are not logged */
    struct http_metrics metrics;
};

struct http_request {
    const char *method;  /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;     /* already percent-encoded */
    const struct http_header *headers;
    size_t nheaders;
    const void *body;    /* sent with every method but GET and HEAD; NULL: empty */
    size_t body_len;
    const char *what;    /* names the request in errors: "PutObject <key>", "GET <url>" */
    /* Called before each try (1, 2, ...), e.g. to sign it; may change the
     * values of headers through its own pointer to the list. NULL: none. */
    void (*prepare)(void *ctx, int attempt);
    void *ctx;
};

struct http_response {
    long status;        /* 0: no answer */
    struct buf body;    /* NUL-terminated; the NUL is not counted in len */
    struct buf headers; /* the raw header lines received */
};

struct http_stats {
    uint64_t requests;   /* tries sent */
    uint64_t retries;    /* tries that were retried */
    uint64_t failures;   /* requests that failed after their last try */
    uint64_t bytes_sent; /* bodies of the requests that succeeded */
};

struct http_client;

/* NULL with the reason in err when libcurl cannot make a handle. */
struct http_client *http_client_new(const struct http_client_config *cfg, char *err, size_t errlen);
void http_client_free(struct http_client *c);

/* True on a 2xx answer; false with the one error line in err. Either way the
 * last answer is in http_client_response(). */
bool http_perform(struct http_client *c, const struct http_request *rq, char *err, size_t errlen);

const struct http_response *http_client_response(const struct http_client *c);
const struct http_stats *http_client_stats(const struct http_client *c);

/* The value of the response header `name` (any case) in out; false if absent. */
bool http_response_header(const struct http_response *r, const char *name, char *out, size_t outlen);

/* Appends s percent-encoded: every byte but A-Z a-z 0-9 - _ . ~ (a path
 * segment or query value). */
void http_escape(const char *s, struct buf *out);

/* The retry classification, without the retry_also hook: curl_code is the
 * try's CURLcode (CURLE_OK when the server answered with status). */
bool http_retryable(int curl_code, long status);

/* The sleep in ms before try attempt + 1: base_ms doubled for each try
 * after the first, at most cap_ms, of which the upper half is drawn from
 * draw (a uniformly random number), so the result is in [d / 2, d] for that
 * capped d. */
long http_backoff_ms(int attempt, long base_ms, long cap_ms, uint64_t draw);

#endif
