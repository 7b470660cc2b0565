/* sigv4.h -- AWS Signature Version 4, header form.
 *
 * Contract
 * - sigv4_sign() builds the canonical request, the string to sign and the
 *   Authorization header value of one request, exactly as AWS specifies:
 *   the path is percent-encoded segment by segment (every byte but the
 *   unreserved A-Z a-z 0-9 - _ . ~; '/' separates segments) and never
 *   normalized (S3's rule); query parameters are encoded the same way with
 *   '/' encoded too, sorted by name then value, written "name=value" (an
 *   empty value as "name="); header names are lower-cased, values trimmed
 *   and inner runs of spaces folded, sorted by name, all signed.
 * - The caller supplies every header to sign, including host, x-amz-date
 *   and (for S3) x-amz-content-sha256 and x-amz-security-token.
 * - Nothing here does I/O; secrets are only used for HMAC, never copied out.
 */
#ifndef CDCW_SIGV4_H
#define CDCW_SIGV4_H

#include <stddef.h>

#include "buf.h"
#include "http_header.h"

struct sigv4_param {
    const char *name, *value; /* raw, not encoded */
};

struct sigv4_request {
    const char *method;
    const char *path; /* raw path, e.g. "/bucket/cdc_events/t/year=2026/x.parquet" */
    const struct sigv4_param *params;
    size_t nparams;
    const struct http_header *headers; /* all of them are signed */
    size_t nheaders;
    const char *payload_sha256; /* lowercase hex, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;       /* "20150830T123600Z" */
    const char *region, *service;
    const char *access_key, *secret_key;
};

struct sigv4_result {
    struct buf canonical_request; /* NUL-terminated */
    struct buf string_to_sign;    /* NUL-terminated */
    struct buf authorization;     /* NUL-terminated */
    char signature[65];
};

/* Fills result (its buffers are reset first). */
void sigv4_sign(const struct sigv4_request *req, struct sigv4_result *result);
void sigv4_result_free(struct sigv4_result *result);

/* Appends s[0..len) percent-encoded; '/' kept when keep_slash. */
void sigv4_uri_encode(const char *s, size_t len, int keep_slash, struct buf *out);

/* Lowercase hex SHA-256 of data (65 bytes with the NUL). */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* "20150830T123600Z" for a Unix time. */
void sigv4_amz_date(long long unix_seconds, char out[17]);

#endif
