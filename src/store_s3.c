/* store_s3.c -- the S3 target of the object store: requests signed with
 * SigV4 and sent through one http_client. See object_store.h for the
 * contract and store_backend.h for the table. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "sigv4.h"
#include "store_backend.h"
#include "xalloc.h"

#define MIN_PART_SIZE ((size_t)5 << 20)

struct s3_store {
    struct object_store base; /* first: object_store.c holds this */
    char *endpoint, *bucket, *region, *access_key, *secret_key, *session_token;
    bool use_ssl;
    bool sign_body; /* the body's SHA-256 goes into the signature */
    size_t multipart_threshold, part_size;
    const struct log *log;
    struct http_client *http;
    long status; /* of the last request's last try (0: no answer) */
};

struct s3_upload {
    struct object_upload base; /* first */
    const struct object_meta *meta;
    size_t nmeta;
    struct buf pending; /* bytes not yet sent */
    char upload_id[1024];
    struct buf completion; /* <Part>...</Part> list */
    int parts;
    bool if_absent; /* on the PutObject or the CompleteMultipartUpload */
};

static struct s3_store *s3_of(struct object_store *os)
{
    return (struct s3_store *)os;
}

/* ---------- S3's answers ---------- */

/* The text of <tag>...</tag> in xml, XML entities decoded; false if absent. */
static bool xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *end = xml + len;
    const char *a = xml;
    size_t ol = strlen(open);
    for (; a + ol <= end; a++)
        if (memcmp(a, open, ol) == 0)
            break;
    if (a + ol > end)
        return false;
    a += ol;
    const char *b = a;
    size_t cl = strlen(close);
    for (; b + cl <= end; b++)
        if (memcmp(b, close, cl) == 0)
            break;
    if (b + cl > end)
        return false;
    size_t k = 0;
    for (const char *p = a; p < b && k + 1 < outlen; p++) {
        if (*p == '&') {
            static const struct {
                const char *entity;
                char ch;
            } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            bool done = false;
            for (size_t e = 0; e < 5 && !done; e++) {
                size_t el = strlen(ents[e].entity);
                if ((size_t)(b - p) >= el && memcmp(p, ents[e].entity, el) == 0) {
                    out[k++] = ents[e].ch;
                    p += el - 1;
                    done = true;
                }
            }
            if (!done && p + 2 < b && p[1] == '#') {
                char *semi;
                long cp = p[2] == 'x' ? strtol(p + 3, &semi, 16) : strtol(p + 2, &semi, 10);
                if (semi < b && *semi == ';' && cp > 0 && cp < 0x80) {
                    out[k++] = (char)cp;
                    p = semi;
                    done = true;
                }
            }
            if (!done)
                out[k++] = *p;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
    return true;
}

/* The http_client's describe_error: S3's <Error><Code> and <Message>. */
static void s3_error(const struct buf *body, char *code, size_t codelen, char *text, size_t textlen)
{
    xml_text((const char *)body->data, body->len, "Code", code, codelen);
    xml_text((const char *)body->data, body->len, "Message", text, textlen);
}

/* The http_client's retry_also: S3 also says "try again" with a 400. */
static bool s3_retry_also(long status, const char *code)
{
    return status == 400 && (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "SlowDown") == 0);
}

/* ---------- one request ---------- */

struct request {
    const char *method;
    const char *key; /* NULL: the bucket itself */
    const struct sigv4_param *params;
    size_t nparams;
    const void *body;
    size_t body_len;
    const char *content_type;
    const struct object_meta *meta; /* sent and signed as x-amz-meta-<name> */
    size_t nmeta;
    bool if_absent; /* If-None-Match: *: 412 when the key exists */
};

enum { MAX_META = 8, MAX_HEADERS = 9 + MAX_META };

static void build_url(const struct s3_store *s, const struct request *rq, struct buf *path,
                      struct buf *url)
{
    buf_reset(path);
    buf_push(path, '/');
    buf_append(path, s->bucket, strlen(s->bucket));
    if (rq->key != NULL) {
        buf_push(path, '/');
        buf_append(path, rq->key, strlen(rq->key));
    }
    buf_push(path, '\0');
    path->len--;
    buf_reset(url);
    const char *scheme = s->use_ssl ? "https://" : "http://";
    buf_append(url, scheme, strlen(scheme));
    buf_append(url, s->endpoint, strlen(s->endpoint));
    sigv4_uri_encode((const char *)path->data, path->len, 1, url);
    for (size_t i = 0; i < rq->nparams; i++) {
        buf_push(url, i == 0 ? '?' : '&');
        sigv4_uri_encode(rq->params[i].name, strlen(rq->params[i].name), 0, url);
        buf_push(url, '=');
        const char *v = rq->params[i].value ? rq->params[i].value : "";
        sigv4_uri_encode(v, strlen(v), 0, url);
    }
    buf_push(url, '\0');
}

/* What signing one try takes. headers[0..nsigned) are signed; the list's
 * x-amz-date and Authorization values point into this struct. */
struct signing {
    const struct s3_store *s;
    const struct request *rq;
    const char *path, *payload_hash;
    struct http_header *headers;
    size_t nsigned, auth_at;
    char amz_date[17];
    struct sigv4_result result;
};

/* The http_client's prepare hook: each try is signed at its own time. */
static void sign_try(void *ctx, int attempt)
{
    (void)attempt;
    struct signing *sg = ctx;
    const struct s3_store *s = sg->s;
    sigv4_amz_date((long long)time(NULL), sg->amz_date);
    struct sigv4_request sreq = {
        .method = sg->rq->method, .path = sg->path, .params = sg->rq->params,
        .nparams = sg->rq->nparams, .headers = sg->headers, .nheaders = sg->nsigned,
        .payload_sha256 = sg->payload_hash, .amz_date = sg->amz_date, .region = s->region,
        .service = "s3", .access_key = s->access_key ? s->access_key : "",
        .secret_key = s->secret_key ? s->secret_key : "",
    };
    sigv4_sign(&sreq, &sg->result);
    sg->headers[sg->auth_at].value = (const char *)sg->result.authorization.data;
}

/* One request with retries. On success the answer is in the http_client's
 * response, 2xx. `what` names the operation in errors. */
static bool perform(struct s3_store *s, const struct request *rq, const char *what, char *err,
                    size_t errlen)
{
    struct buf path = {0}, url = {0};
    build_url(s, rq, &path, &url);
    char payload_hash[65];
    if (rq->body_len > 0 && !s->sign_body)
        snprintf(payload_hash, sizeof payload_hash, "UNSIGNED-PAYLOAD");
    else
        sigv4_sha256_hex(rq->body ? rq->body : "", rq->body_len, payload_hash);

    /* The one header list: what is signed first, then what is not. */
    struct signing sg = {.s = s, .rq = rq, .path = (const char *)path.data, .payload_hash = payload_hash};
    struct http_header h[MAX_HEADERS];
    char meta_names[MAX_META][80];
    size_t n = 0;
    h[n++] = (struct http_header){"Host", s->endpoint};
    h[n++] = (struct http_header){"x-amz-content-sha256", payload_hash};
    h[n++] = (struct http_header){"x-amz-date", sg.amz_date};
    if (s->session_token)
        h[n++] = (struct http_header){"x-amz-security-token", s->session_token};
    for (size_t i = 0; i < rq->nmeta && i < MAX_META; i++) {
        snprintf(meta_names[i], sizeof meta_names[i], "x-amz-meta-%s", rq->meta[i].name);
        h[n++] = (struct http_header){meta_names[i], rq->meta[i].value};
    }
    sg.nsigned = n;
    sg.auth_at = n;
    h[n++] = (struct http_header){"Authorization", ""}; /* set by sign_try() */
    h[n++] = (struct http_header){"Content-Type",
                                  rq->content_type ? rq->content_type : "application/octet-stream"};
    h[n++] = (struct http_header){"Expect", ""}; /* no 100-continue round trip */
    if (rq->if_absent)
        h[n++] = (struct http_header){"If-None-Match", "*"};
    sg.headers = h;

    struct http_request hr = {
        .method = rq->method, .url = (const char *)url.data, .headers = h, .nheaders = n,
        .body = rq->body, .body_len = rq->body_len, .what = what, .prepare = sign_try, .ctx = &sg,
    };
    bool ok = http_perform(s->http, &hr, err, errlen);
    s->status = http_client_response(s->http)->status;
    const struct http_stats *st = http_client_stats(s->http);
    s->base.stats.requests = st->requests;
    s->base.stats.retries = st->retries;
    s->base.stats.failures = st->failures;
    s->base.stats.bytes_sent = st->bytes_sent;
    sigv4_result_free(&sg.result);
    buf_free(&path);
    buf_free(&url);
    return ok;
}

static const struct buf *answer(const struct s3_store *s)
{
    return &http_client_response(s->http)->body;
}

/* ---------- the bucket, and one object ---------- */

static bool s3_check_bucket(struct object_store *os, bool create, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(os);
    struct request rq = {.method = "HEAD"};
    char what[256];
    snprintf(what, sizeof what, "HeadBucket %s", s->bucket);
    if (perform(s, &rq, what, err, errlen))
        return true;
    if (s->status == 404 && create) {
        struct request mk = {.method = "PUT"};
        snprintf(what, sizeof what, "CreateBucket %s", s->bucket);
        return perform(s, &mk, what, err, errlen);
    }
    if (s->status == 404)
        store_set_err(err, errlen, "bucket '%s' does not exist at %s (HTTP 404; set MINIO_CREATE_BUCKET=true "
                             "to create it)",
                s->bucket, s->endpoint);
    else if (s->status == 403)
        store_set_err(err, errlen, "access to bucket '%s' at %s is denied (HTTP 403): check MINIO_ACCESS_KEY "
                             "and MINIO_SECRET_KEY, and the bucket policy",
                s->bucket, s->endpoint);
    else if (s->status == 400 || s->status == 301)
        store_set_err(err, errlen, "bucket '%s' at %s: HTTP %ld (check MINIO_REGION, now '%s')", s->bucket,
                s->endpoint, s->status, s->region);
    return false;
}

static bool s3_head(struct object_store *os, const char *key, const char *name, bool *found,
                    char *value, size_t vlen, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(os);
    struct request rq = {.method = "HEAD", .key = key};
    char what[1200];
    snprintf(what, sizeof what, "HeadObject %s", key);
    if (!perform(s, &rq, what, err, errlen))
        return s->status == 404; /* not there: an answer, not a failure */
    *found = true;
    char header[96];
    snprintf(header, sizeof header, "x-amz-meta-%s", name);
    http_response_header(http_client_response(s->http), header, value, vlen);
    return true;
}

static bool s3_remove(struct object_store *os, const char *key, char *err, size_t errlen)
{
    struct request rq = {.method = "DELETE", .key = key};
    char what[1200];
    snprintf(what, sizeof what, "DeleteObject %s", key);
    return perform(s3_of(os), &rq, what, err, errlen);
}

static bool s3_get(struct object_store *os, const char *key, struct buf *out, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(os);
    struct request rq = {.method = "GET", .key = key};
    char what[1200];
    snprintf(what, sizeof what, "GetObject %s", key);
    if (!perform(s, &rq, what, err, errlen))
        return false;
    buf_append(out, answer(s)->data, answer(s)->len);
    return true;
}

static bool s3_list(struct object_store *os, const char *prefix, int page_size, object_list_fn fn,
                    void *ctx, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(os);
    char token[2048] = "";
    char max_keys[16];
    snprintf(max_keys, sizeof max_keys, "%d", page_size);
    for (;;) {
        struct sigv4_param params[4];
        size_t np = 0;
        params[np++] = (struct sigv4_param){"list-type", "2"};
        params[np++] = (struct sigv4_param){"prefix", prefix};
        if (page_size > 0)
            params[np++] = (struct sigv4_param){"max-keys", max_keys};
        if (token[0])
            params[np++] = (struct sigv4_param){"continuation-token", token};
        struct request rq = {.method = "GET", .params = params, .nparams = np};
        char what[1200];
        snprintf(what, sizeof what, "ListObjectsV2 %s", prefix);
        if (!perform(s, &rq, what, err, errlen))
            return false;
        const char *xml = (const char *)answer(s)->data;
        size_t len = answer(s)->len;
        const char *p = xml, *end = xml + len;
        while (p < end) {
            const char *c = memmem(p, (size_t)(end - p), "<Contents>", 10);
            if (c == NULL)
                break;
            const char *ce = memmem(c, (size_t)(end - c), "</Contents>", 11);
            if (ce == NULL)
                break;
            char key[2048], size[32] = "0";
            if (xml_text(c, (size_t)(ce - c), "Key", key, sizeof key)) {
                xml_text(c, (size_t)(ce - c), "Size", size, sizeof size);
                if (!fn(ctx, key, strtoull(size, NULL, 10)))
                    return true;
            }
            p = ce + 11;
        }
        char truncated[16] = "";
        xml_text(xml, len, "IsTruncated", truncated, sizeof truncated);
        if (strcmp(truncated, "true") != 0 ||
            !xml_text(xml, len, "NextContinuationToken", token, sizeof token) || !token[0])
            return true;
    }
}

/* ---------- multipart uploads ---------- */

static struct s3_upload *upload_new(struct s3_store *s, const char *key, const struct object_meta *meta,
                                    size_t nmeta)
{
    struct s3_upload *u = xcalloc(1, sizeof *u);
    u->base.os = &s->base;
    u->base.key = xstrdup(key);
    u->meta = meta;
    u->nmeta = nmeta;
    return u;
}

static struct object_upload *s3_upload_begin(struct object_store *os, const char *key,
                                             const struct object_meta *meta, size_t nmeta)
{
    return &upload_new(s3_of(os), key, meta, nmeta)->base;
}

static bool upload_part(struct s3_upload *u, const void *data, size_t len, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(u->base.os);
    const char *key = u->base.key;
    char what[1200];
    if (u->upload_id[0] == '\0') {
        struct sigv4_param p[] = {{"uploads", ""}};
        struct request rq = {.method = "POST", .key = key, .params = p, .nparams = 1,
                             .meta = u->meta, .nmeta = u->nmeta};
        snprintf(what, sizeof what, "CreateMultipartUpload %s", key);
        if (!perform(s, &rq, what, err, errlen))
            return false;
        if (!xml_text((const char *)answer(s)->data, answer(s)->len, "UploadId", u->upload_id,
                      sizeof u->upload_id) ||
            !u->upload_id[0]) {
            store_set_err(err, errlen, "%s: no UploadId in the answer", what);
            return false;
        }
    }
    char number[16];
    snprintf(number, sizeof number, "%d", u->parts + 1);
    struct sigv4_param p[] = {{"partNumber", number}, {"uploadId", u->upload_id}};
    struct request rq = {.method = "PUT", .key = key, .params = p, .nparams = 2, .body = data,
                         .body_len = len};
    snprintf(what, sizeof what, "UploadPart %s part %s", key, number);
    if (!perform(s, &rq, what, err, errlen))
        return false;
    /* The ETag response header identifies the part in the completion. */
    char etag[401];
    if (!http_response_header(http_client_response(s->http), "etag", etag, sizeof etag)) {
        store_set_err(err, errlen, "%s: no ETag in the answer", what);
        return false;
    }
    char line[512];
    snprintf(line, sizeof line, "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>", number, etag);
    buf_append(&u->completion, line, strlen(line));
    u->parts++;
    return true;
}

static bool s3_upload_write(struct object_upload *base, const void *data, size_t len, char *err,
                            size_t errlen)
{
    struct s3_upload *u = (struct s3_upload *)base;
    struct s3_store *s = s3_of(base->os);
    buf_append(&u->pending, data, len);
    /* Send full parts once the object is known to exceed the threshold. */
    size_t part = s->part_size;
    if (u->parts > 0 || u->pending.len > s->multipart_threshold) {
        size_t sent = 0;
        while (u->pending.len - sent >= part + 1) { /* keep bytes for a non-empty last part */
            if (!upload_part(u, u->pending.data + sent, part, err, errlen))
                return false;
            sent += part;
        }
        memmove(u->pending.data, u->pending.data + sent, u->pending.len - sent);
        u->pending.len -= sent;
    }
    return true;
}

static void abort_multipart(struct s3_upload *u)
{
    if (u->upload_id[0] == '\0')
        return;
    struct s3_store *s = s3_of(u->base.os);
    char err[512];
    struct sigv4_param p[] = {{"uploadId", u->upload_id}};
    struct request rq = {.method = "DELETE", .key = u->base.key, .params = p, .nparams = 1};
    if (!perform(s, &rq, "AbortMultipartUpload", err, sizeof err) && s->log)
        log_warn(s->log, "%s (the incomplete upload of %s is left to the bucket's lifecycle rules)", err,
                 u->base.key);
    u->upload_id[0] = '\0';
}

static void upload_free(struct s3_upload *u)
{
    buf_free(&u->pending);
    buf_free(&u->completion);
    free(u->base.key);
    free(u);
}

static void s3_upload_abort(struct object_upload *base)
{
    struct s3_upload *u = (struct s3_upload *)base;
    abort_multipart(u);
    upload_free(u);
}

/* CompleteMultipartUpload over the parts sent so far. */
static bool complete_multipart(struct s3_upload *u, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(u->base.os);
    struct buf xml = {0};
    const char *head = "<CompleteMultipartUpload>";
    buf_append(&xml, head, strlen(head));
    buf_append(&xml, u->completion.data, u->completion.len);
    const char *tail = "</CompleteMultipartUpload>";
    buf_append(&xml, tail, strlen(tail));
    struct sigv4_param p[] = {{"uploadId", u->upload_id}};
    struct request rq = {.method = "POST", .key = u->base.key, .params = p, .nparams = 1,
                         .body = xml.data, .body_len = xml.len, .content_type = "application/xml",
                         .if_absent = u->if_absent};
    char what[1200];
    snprintf(what, sizeof what, "CompleteMultipartUpload %s", u->base.key);
    bool ok = perform(s, &rq, what, err, errlen);
    /* S3 can answer 200 with an error in the body. */
    char code[128];
    const struct buf *body = answer(s);
    if (ok && memmem(body->data, body->len, "<Error>", 7) != NULL &&
        xml_text((const char *)body->data, body->len, "Code", code, sizeof code)) {
        store_set_err(err, errlen, "%s: %s", what, code);
        ok = false;
    }
    buf_free(&xml);
    if (ok)
        u->upload_id[0] = '\0';
    return ok;
}

/* Sends data[0..len) in parts (the last may be small), then completes. */
static bool send_parts(struct s3_upload *u, const char *data, size_t len, char *err, size_t errlen)
{
    size_t part = s3_of(u->base.os)->part_size;
    bool ok = true;
    for (size_t sent = 0; ok && sent < len;) {
        size_t n = len - sent > part ? part : len - sent;
        ok = upload_part(u, data + sent, n, err, errlen);
        sent += n;
    }
    return ok && complete_multipart(u, err, errlen);
}

/* What a put's last request answered: the key is taken (HTTP 412), or not. */
static enum object_put_result put_result(const struct s3_store *s, bool ok)
{
    if (ok)
        return OBJECT_PUT_STORED;
    return s->status == 412 ? OBJECT_PUT_EXISTS : OBJECT_PUT_FAILED;
}

/* Ends an upload: a failed one is aborted (after its result is read: the
 * abort is a request of its own). Frees u. */
static enum object_put_result end_upload(struct s3_upload *u, bool ok)
{
    enum object_put_result r = put_result(s3_of(u->base.os), ok);
    if (!ok)
        abort_multipart(u);
    upload_free(u);
    return r;
}

static bool s3_upload_finish(struct object_upload *base, char *err, size_t errlen)
{
    struct s3_upload *u = (struct s3_upload *)base;
    struct s3_store *s = s3_of(base->os);
    bool ok;
    if (u->parts == 0 && u->pending.len <= s->multipart_threshold) {
        struct request rq = {.method = "PUT", .key = base->key, .body = u->pending.data,
                             .body_len = u->pending.len, .meta = u->meta, .nmeta = u->nmeta,
                             .if_absent = u->if_absent};
        char what[1200];
        snprintf(what, sizeof what, "PutObject %s", base->key);
        ok = perform(s, &rq, what, err, errlen);
    } else {
        ok = send_parts(u, (const char *)u->pending.data, u->pending.len, err, errlen); /* the rest */
    }
    return end_upload(u, ok) == OBJECT_PUT_STORED;
}

static enum object_put_result s3_put(struct object_store *os, const char *key, const void *data,
                                     size_t len, const struct object_meta *meta, size_t nmeta,
                                     bool if_absent, char *err, size_t errlen)
{
    struct s3_store *s = s3_of(os);
    if (len <= s->multipart_threshold) { /* one request, straight from the caller's bytes */
        struct request rq = {.method = "PUT", .key = key, .body = data, .body_len = len,
                             .meta = meta, .nmeta = nmeta, .if_absent = if_absent};
        char what[1200];
        snprintf(what, sizeof what, "PutObject %s", key);
        return put_result(s, perform(s, &rq, what, err, errlen));
    }
    /* Multipart, each part straight from the caller's bytes: no copy. */
    struct s3_upload *u = upload_new(s, key, meta, nmeta);
    u->if_absent = if_absent;
    return end_upload(u, send_parts(u, data, len, err, errlen));
}

/* ---------- the backend ---------- */

static void s3_free(struct object_store *os)
{
    struct s3_store *s = s3_of(os);
    http_client_free(s->http);
    secret_free(s->secret_key);
    free(s->endpoint);
    free(s->bucket);
    free(s->region);
    free(s->access_key);
    free(s->session_token);
    free(s);
}

static const struct store_ops s3_ops = {
    .free = s3_free,
    .check_bucket = s3_check_bucket,
    .put = s3_put,
    .head = s3_head,
    .remove = s3_remove,
    .get = s3_get,
    .list = s3_list,
    .upload_begin = s3_upload_begin,
    .upload_write = s3_upload_write,
    .upload_finish = s3_upload_finish,
    .upload_abort = s3_upload_abort,
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct object_store *store_s3_new(const struct object_store_config *cfg, char *err, size_t errlen)
{
    struct http_client_config hc = {
        .timeout_s = cfg->timeout_s,
        .connect_timeout_s = cfg->timeout_s < 10 ? cfg->timeout_s : 10,
        .tls_verify = cfg->tls_verify,
        .ca_bundle = cfg->use_ssl ? cfg->ca_bundle : NULL,
        .max_attempts = cfg->max_attempts,
        .retry_base_ms = cfg->retry_base_ms,
        .retry_cap_ms = cfg->retry_cap_ms,
        .describe_error = s3_error,
        .retry_also = s3_retry_also,
        .log = cfg->log,
        .metrics = {
            .requests = metrics_family(cfg->metrics, "cdcw_s3_requests_total",
                                       "Object store requests sent, retries included.", METRIC_COUNTER,
                                       "method", NULL, 0),
            .retries = metrics_family(cfg->metrics, "cdcw_s3_retries_total",
                                      "Object store requests retried after a retryable failure.",
                                      METRIC_COUNTER, "method", NULL, 0),
            .errors = metrics_family(cfg->metrics, "cdcw_s3_errors_total",
                                     "Failed object store request attempts by S3 error code, HTTP "
                                     "status, timeout or connection.",
                                     METRIC_COUNTER, "code", NULL, 0),
            .duration = metrics_family(cfg->metrics, "cdcw_s3_request_duration_seconds",
                                       "Duration of one object store request attempt.", METRIC_HISTOGRAM,
                                       "method", metrics_latency_buckets, metrics_latency_nbuckets),
        },
    };
    char why[256];
    struct http_client *http = http_client_new(&hc, why, sizeof why);
    if (http == NULL) {
        store_set_err(err, errlen, "object store: %s", why);
        return NULL;
    }
    struct s3_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &s3_ops;
    s->http = http;
    s->endpoint = xstrdup(cfg->endpoint);
    s->bucket = xstrdup(cfg->bucket);
    s->region = xstrdup(cfg->region ? cfg->region : "us-east-1");
    s->access_key = dup_or_null(cfg->access_key);
    s->secret_key = dup_or_null(cfg->secret_key);
    s->session_token = dup_or_null(cfg->session_token);
    s->use_ssl = cfg->use_ssl;
    s->sign_body = cfg->payload_signing == OBJECT_PAYLOAD_SIGNED ||
                   (cfg->payload_signing == OBJECT_PAYLOAD_AUTO && !cfg->use_ssl);
    s->part_size = cfg->part_size < MIN_PART_SIZE ? MIN_PART_SIZE : cfg->part_size;
    s->multipart_threshold =
        cfg->multipart_threshold < s->part_size ? s->part_size : cfg->multipart_threshold;
    s->log = cfg->log;
    if (cfg->use_ssl && !cfg->tls_verify && cfg->log != NULL)
        log_warn(cfg->log, "TLS certificate verification of the object store is OFF "
                           "(MINIO_TLS_VERIFY=false): connections can be intercepted");
    return &s->base;
}
