/* object_store.h -- the S3/MinIO client (or a local directory) cdc-writer
 * stores its files in.
 *
 * Contract
 * - Path-style requests (scheme://endpoint/bucket/key) signed with SigV4
 *   (sigv4.h), x-amz-content-sha256 always sent and signed, and
 *   x-amz-security-token when a session token is configured. The requests go
 *   through one http_client (http_client.h), whose libcurl handle is reused,
 *   so connections are kept alive between requests.
 * - Every failure is one line in err: the operation, the key, the HTTP status
 *   and S3's error Code and Message when the server sent them.
 * - Retried, with exponential backoff, jitter and a cap: connection errors,
 *   time-outs, HTTP 429, 500, 502, 503, 504, and 400 RequestTimeout or
 *   SlowDown. Never retried: anything else (403, 404, other 400s...).
 * - object_store_put() and the streaming upload use a multipart upload above
 *   multipart_threshold, in parts of part_size (at least 5 MiB) except the
 *   last; a failed multipart upload is aborted. A put sends each part
 *   straight from the caller's bytes (no copy of the object is made).
 * - An endpoint "file:///dir" stores objects as files under dir/bucket/key,
 *   each written to a temporary file and renamed into place. The target is
 *   chosen once, in object_store_new() (see store_backend.h).
 * - The settings come from the caller; store_config.h maps cdc-writer's
 *   MINIO_* configuration onto them.
 * - Not thread-safe: one object_store per thread.
 */
#ifndef CDCW_OBJECT_STORE_H
#define CDCW_OBJECT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"

/* Bodies are hashed into the signature (x-amz-content-sha256: <hex>) when
 * signed, or sent as UNSIGNED-PAYLOAD; AUTO signs over http only, as the
 * AWS SDKs do: over https TLS already protects the body. */
enum object_payload_signing {
    OBJECT_PAYLOAD_AUTO = 0,
    OBJECT_PAYLOAD_SIGNED,
    OBJECT_PAYLOAD_UNSIGNED,
};

struct object_store_config {
    const char *endpoint; /* host[:port], or file:///dir */
    bool use_ssl;
    bool conditional_writes; /* for the caller (the uploader): use object_store_put_new() */
    const char *ca_bundle; /* NULL: the system's */
    bool tls_verify;
    enum object_payload_signing payload_signing;
    const char *bucket, *region;
    const char *access_key, *secret_key, *session_token;
    int timeout_s;
    int max_attempts;   /* tries of one request, retries included */
    int retry_base_ms;  /* first backoff; doubles up to retry_cap_ms */
    int retry_cap_ms;
    size_t multipart_threshold;
    size_t part_size;
    const struct log *log;
    /* When set, for an S3 target: cdcw_s3_requests_total{method}, cdcw_s3_retries_total{method},
     * cdcw_s3_errors_total{code} (S3's error Code, HTTP_<status>, timeout or
     * connection; one per failed attempt) and cdcw_s3_request_duration_seconds{method}. */
    struct metrics *metrics;
};

/* Defaults: 6 attempts, 200 ms doubling to 10 s, multipart above 64 MiB in
 * 16 MiB parts, 30 s time-out, verification on. */
void object_store_config_default(struct object_store_config *cfg);

struct object_store_stats {
    uint64_t requests, retries, failures;
    uint64_t bytes_sent;
};

struct object_store;

struct object_store *object_store_new(const struct object_store_config *cfg, char *err,
                                      size_t errlen);
void object_store_free(struct object_store *os);

/* Checks that the bucket exists and the credentials work; with `create`,
 * creates a missing bucket. */
bool object_store_check_bucket(struct object_store *os, bool create, char *err, size_t errlen);

bool object_store_put(struct object_store *os, const char *key, const void *data, size_t len,
                      char *err, size_t errlen);

/* User metadata stored with an object: sent and signed as x-amz-meta-<name>
 * (name in lower case, value ASCII); a file:// target keeps it in
 * dir/.cdcw-meta/bucket/key. At most 8 pairs. */
struct object_meta {
    const char *name, *value;
};
bool object_store_put_meta(struct object_store *os, const char *key, const void *data, size_t len,
                           const struct object_meta *meta, size_t nmeta, char *err, size_t errlen);

/* Stores key only if no object has it yet: If-None-Match: * on the
 * PutObject, or on the CompleteMultipartUpload of a larger one (a file://
 * target refuses when the file is there). OBJECT_PUT_EXISTS when the store
 * said the key is taken (HTTP 412): nothing was written. Also the answer to a
 * retry whose first attempt was stored, so the caller looks at what is there. */
enum object_put_result { OBJECT_PUT_STORED, OBJECT_PUT_EXISTS, OBJECT_PUT_FAILED };
enum object_put_result object_store_put_new(struct object_store *os, const char *key, const void *data,
                                            size_t len, const struct object_meta *meta, size_t nmeta,
                                            char *err, size_t errlen);

/* Deletes key (a missing key is not an error). For --check's probe. */
bool object_store_delete(struct object_store *os, const char *key, char *err, size_t errlen);

/* Whether key exists (*found) and, if it does, the value of its metadata
 * `name` in value ("" when it has none). False only when the store could not
 * tell (the error in err); a missing key is an answer, not an error. */
bool object_store_head(struct object_store *os, const char *key, const char *name, bool *found,
                       char *value, size_t vlen, char *err, size_t errlen);

const struct object_store_stats *object_store_stats(const struct object_store *os);

/* ---------- For the test tools only ----------
 * Only tests/tools/s3_tool.c calls what follows: its get, list and fetch
 * commands read back what the daemon stored, for the tests and benchmarks,
 * and its stream command drives the streaming upload. The daemon never reads
 * an object's bytes (the uploader and the pipeline learn what a key holds
 * from object_store_head()), and stores whole files with
 * object_store_put_meta() and object_store_put_new(). */

/* Appends the object's bytes to out. */
bool object_store_get(struct object_store *os, const char *key, struct buf *out, char *err,
                      size_t errlen);

/* Calls fn for every key under prefix, in order, following pagination
 * (page_size keys per request, 0 for the server's default); fn returns
 * false to stop early (not an error). */
typedef bool (*object_list_fn)(void *ctx, const char *key, uint64_t size);
bool object_store_list(struct object_store *os, const char *prefix, int page_size,
                       object_list_fn fn, void *ctx, char *err, size_t errlen);

/* Streaming upload: bytes are written as they come, in parts once they
 * exceed the multipart threshold. finish() makes the object visible; abort()
 * (or a failed write/finish) leaves nothing behind. */
struct object_upload;
struct object_upload *object_upload_begin(struct object_store *os, const char *key);
/* The same with metadata; meta must stay valid until finish() or abort(). */
struct object_upload *object_upload_begin_meta(struct object_store *os, const char *key,
                                               const struct object_meta *meta, size_t nmeta);
bool object_upload_write(struct object_upload *u, const void *data, size_t len, char *err,
                         size_t errlen);
bool object_upload_finish(struct object_upload *u, char *err, size_t errlen);
void object_upload_abort(struct object_upload *u);

#endif
